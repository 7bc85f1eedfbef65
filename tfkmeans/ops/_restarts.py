"""Several Lloyd runs at once (``n_init`` restarts): every pass over the data serves all of them.

Restarts are independent, so their centres stack into one ``(runs·k, d)``
matrix: per chunk, one matrix product gives every run's distances and one
one-hot product every run's cluster sums. A run that has converged drops out
of the products while the others go on, and run ``r`` ends exactly where
:func:`tfkmeans.ops.lloyd` would end it from the same initial centres.
"""

from __future__ import annotations

from typing import NamedTuple

import tensorflow as tf

from tfkmeans.ops._chunking import fold_chunks, optional_row_slice, row_slice
from tfkmeans.ops._distances import data_squared_norms, get_distance
from tfkmeans.ops._lloyd import (
    ONE_HOT_MAX_CLUSTERS,
    Candidates,
    PassTotals,
    relocate_empty_clusters,
    segment_sum,
    update_centers,
)


class RunsResult(NamedTuple):
    """Where each run ended; every field has a leading runs axis except ``history``."""

    centers: tf.Tensor  # (runs, k, d)
    inertia: tf.Tensor  # (runs,) under the final centres, from the matmul distances
    n_iter: tf.Tensor  # (runs,) int32
    converged: tf.Tensor  # (runs,) bool
    history: tf.Tensor  # (iterations, runs, 2): inertia and centre shift; zeros past a run's n_iter


class FarthestRows(NamedTuple):
    """Per run, the rows farthest from their centres so far: candidates to re-seed empty clusters."""

    distances: tf.Tensor  # (runs, m), -inf for unused slots
    rows: tf.Tensor  # (runs, m) int32, row indices into the data
    labels: tf.Tensor  # (runs, m) int32, the cluster each row was assigned to


def assign_runs(
    block: tf.Tensor, centers: tf.Tensor, distance: str, block_sq_norms: tf.Tensor | None
) -> tuple[tf.Tensor, tf.Tensor]:
    """Nearest centre of each row for every run: labels and clipped squared distances, ``(rows, runs)``."""
    n_runs, n_clusters = tf.shape(centers)[0], tf.shape(centers)[1]
    flat = tf.reshape(centers, [n_runs * n_clusters, -1])
    d = get_distance(distance)(block, flat, block_sq_norms)
    d = tf.reshape(d, [tf.shape(block)[0], n_runs, n_clusters])
    return tf.argmin(d, axis=2, output_type=tf.int32), tf.maximum(tf.reduce_min(d, axis=2), 0.0)


def runs_cluster_sums(
    block: tf.Tensor, block_weights: tf.Tensor, labels: tf.Tensor, n_clusters: tf.Tensor
) -> tuple[tf.Tensor, tf.Tensor]:
    """Every run's weighted cluster sums ``(runs, k, d)`` and weights ``(runs, k)`` for one chunk."""
    n_runs = tf.shape(labels)[1]

    def by_matmul():
        # Run r's one-hot occupies columns r·k .. r·k+k-1: one product sums every run.
        membership = tf.one_hot(labels, n_clusters, dtype=block.dtype) * block_weights[:, None, None]
        membership = tf.reshape(membership, [-1, n_runs * n_clusters])
        sums = tf.matmul(membership, block, transpose_a=True)
        return tf.reshape(sums, [n_runs, n_clusters, -1]), tf.reshape(tf.reduce_sum(membership, axis=0), [n_runs, -1])

    def by_scatter():
        weighted = block * block_weights[:, None]
        # Map over run indices, not transposed labels: oneDNN has no integer transpose.
        runs = tf.range(n_runs)
        return (
            tf.map_fn(
                lambda run: segment_sum(weighted, labels[:, run], n_clusters), runs, fn_output_signature=block.dtype
            ),
            tf.map_fn(
                lambda run: segment_sum(block_weights, labels[:, run], n_clusters),
                runs,
                fn_output_signature=block.dtype,
            ),
        )

    return tf.cond(n_clusters <= ONE_HOT_MAX_CLUSTERS, by_matmul, by_scatter)


def keep_farthest_rows(current: FarthestRows, new: FarthestRows) -> FarthestRows:
    """Per run, the ``m`` farthest rows of both sets (``m`` = slots of ``current``)."""
    merged = [tf.concat(parts, axis=1) for parts in zip(current, new)]
    _, best = tf.math.top_k(merged[0], k=tf.shape(current.distances)[1])
    return FarthestRows(*(tf.gather(part, best, batch_dims=1) for part in merged))


def no_runs_totals(centers: tf.Tensor) -> PassTotals:
    """The totals of every run before any data: :class:`PassTotals` with a leading runs axis."""
    n_runs, n_clusters = tf.shape(centers)[0], tf.shape(centers)[1]
    return PassTotals(
        tf.zeros_like(centers),
        tf.zeros([n_runs, n_clusters], centers.dtype),
        tf.zeros([n_runs], centers.dtype),
        FarthestRows(
            tf.fill([n_runs, n_clusters], tf.constant(-float("inf"), centers.dtype)),
            tf.zeros([n_runs, n_clusters], tf.int32),
            tf.zeros([n_runs, n_clusters], tf.int32),
        ),
    )


def runs_pass(
    x: tf.Tensor,
    sample_weight: tf.Tensor,
    centers: tf.Tensor,
    distance: str = "matmul",
    chunk_size: int = 4096,
    x_sq_norms: tf.Tensor | None = None,
) -> PassTotals:
    """One fused pass over ``x`` for every run: cluster sums, weights, inertia, farthest rows.

    The :class:`PassTotals` of every run stacked on a leading axis; the
    candidates are :class:`FarthestRows` (row indices, not copies of the rows).
    """
    n_clusters = tf.shape(centers)[1]

    def body(start, size, totals):
        block = row_slice(x, start, size)
        block_weights = row_slice(sample_weight, start, size)
        norms = optional_row_slice(x_sq_norms, start, size)
        labels, mins = assign_runs(block, centers, distance, norms)
        sums, weights = runs_cluster_sums(block, block_weights, labels, n_clusters)
        # The scatter branch of the sums loses the static number of clusters; the loop needs the
        # totals' shape to stay what it entered with (a known k=1 failed the while_loop's check).
        sums = tf.ensure_shape(sums, centers.shape)
        weights = tf.ensure_shape(weights, centers.shape[:2])
        by_run = tf.transpose(mins)  # (runs, rows)
        distances, rows = tf.math.top_k(by_run, k=tf.minimum(n_clusters, size))
        run_of_row = tf.broadcast_to(tf.range(tf.shape(rows)[0])[:, None], tf.shape(rows))
        farthest = FarthestRows(distances, rows + start, tf.gather_nd(labels, tf.stack([rows, run_of_row], axis=-1)))
        return (
            PassTotals(
                totals.sums + sums,
                totals.weights + weights,
                totals.inertia + tf.reduce_sum(by_run * block_weights, axis=1),
                keep_farthest_rows(totals.candidates, farthest),
            ),
        )

    (totals,) = fold_chunks(tf.shape(x)[0], chunk_size, body, (no_runs_totals(centers),))
    return totals


def runs_inertia(
    x: tf.Tensor,
    sample_weight: tf.Tensor,
    centers: tf.Tensor,
    distance: str = "matmul",
    chunk_size: int = 4096,
    x_sq_norms: tf.Tensor | None = None,
) -> tf.Tensor:
    """Every run's inertia ``(runs,)`` under its centres: assignment only, no sums."""

    def body(start, size, total):
        norms = optional_row_slice(x_sq_norms, start, size)
        _, mins = assign_runs(row_slice(x, start, size), centers, distance, norms)
        return (total + tf.reduce_sum(mins * row_slice(sample_weight, start, size)[:, None], axis=0),)

    (total,) = fold_chunks(tf.shape(x)[0], chunk_size, body, (tf.zeros([tf.shape(centers)[0]], x.dtype),))
    return total


def relocate_runs_empty_clusters(
    x: tf.Tensor, sample_weight: tf.Tensor, totals: PassTotals
) -> tuple[tf.Tensor, tf.Tensor]:
    """Each run's empty clusters re-seeded from its farthest rows (see ``relocate_empty_clusters``)."""

    def relocate_run(run):
        sums, weights, farthest = run
        candidates = Candidates(
            tf.gather(x, farthest.rows), tf.gather(sample_weight, farthest.rows), farthest.labels, farthest.distances
        )
        return relocate_empty_clusters(sums, weights, candidates)

    def relocate_all():
        return tf.map_fn(
            relocate_run,
            (totals.sums, totals.weights, totals.candidates),
            fn_output_signature=(totals.sums.dtype, totals.weights.dtype),
        )

    # Empty clusters are rare: skip the per-run work (and its gathers) unless one exists.
    return tf.cond(tf.reduce_any(totals.weights <= 0), relocate_all, lambda: (totals.sums, totals.weights))


def lloyd_runs(
    x: tf.Tensor,
    sample_weight: tf.Tensor,
    initial_centers: tf.Tensor,
    max_iter: tf.Tensor,
    tol: tf.Tensor,
    distance: str = "matmul",
    chunk_size: int = 4096,
    verbose: bool = False,
) -> RunsResult:
    """Lloyd's algorithm from each of ``initial_centers`` (shape ``(runs, k, d)``), all runs in one loop.

    A run stops, as in :func:`tfkmeans.ops.lloyd`, after ``max_iter``
    iterations or once its squared centre shift is at most ``tol`` (absolute);
    the loop ends when every run has stopped. ``inertia`` (from the matmul
    distances) is meant for choosing the best run; recompute the chosen run's
    labels and exact inertia with :func:`tfkmeans.ops.labels_and_inertia`.
    """
    tol = tf.cast(tol, initial_centers.dtype)
    x_sq_norms = data_squared_norms(x) if distance == "matmul" else None
    n_runs = tf.shape(initial_centers)[0]
    history = tf.TensorArray(initial_centers.dtype, size=0, dynamic_size=True, element_shape=None)

    def body(iteration, centers, n_iter, done, history):
        # Only runs still going are computed: finished ones cost nothing more.
        running = tf.where(tf.logical_not(done))
        active = tf.gather_nd(centers, running)
        totals = runs_pass(x, sample_weight, active, distance, chunk_size, x_sq_norms)
        sums, weights = relocate_runs_empty_clusters(x, sample_weight, totals)
        updated = update_centers(sums, weights, active)
        shift = tf.reduce_sum(tf.square(updated - active), axis=[1, 2])
        if verbose:
            tf.print(
                "tfkmeans: iteration",
                iteration + 1,
                "runs still running",
                tf.shape(running)[0],
                "inertia",
                totals.inertia,
                "centre shift",
                shift,
                summarize=-1,
            )
        progress = tf.scatter_nd(running, tf.stack([totals.inertia, shift], axis=1), [n_runs, 2])
        return (
            iteration + 1,
            tf.tensor_scatter_nd_update(centers, running, updated),
            tf.tensor_scatter_nd_add(n_iter, running, tf.ones_like(shift, tf.int32)),
            tf.tensor_scatter_nd_update(done, running, shift <= tol),
            history.write(iteration, progress),
        )

    _, centers, n_iter, done, history = tf.while_loop(
        lambda iteration, _c, _n, done, _h: tf.logical_and(iteration < max_iter, tf.logical_not(tf.reduce_all(done))),
        body,
        (tf.constant(0), initial_centers, tf.zeros([n_runs], tf.int32), tf.zeros([n_runs], tf.bool), history),
    )
    inertia = runs_inertia(x, sample_weight, centers, distance, chunk_size, x_sq_norms)
    return RunsResult(centers, inertia, n_iter, done, tf.reshape(history.stack(), [-1, n_runs, 2]))
