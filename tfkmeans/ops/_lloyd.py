"""Lloyd's algorithm as one TensorFlow graph: the iteration loop never returns to Python.

Each iteration is a single pass over the data: a chunk is assigned to its
nearest centres and, while it is still in cache, its weighted rows are summed
into per-cluster totals with a one-hot matmul. Convergence follows
scikit-learn: stop when the labels do not change ("strict" convergence) or
when the total squared centre shift is at most ``tol``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import tensorflow as tf

from tfkmeans.ops._assignment import assign_block, final_assignment
from tfkmeans.ops._chunking import fold_chunks, optional_row_slice, row_slice
from tfkmeans.ops._distances import data_squared_norms, get_distance


class LloydResult(NamedTuple):
    centers: tf.Tensor  # (k, d)
    labels: tf.Tensor  # (n,) int32, nearest centre under the final centres
    inertia: tf.Tensor  # scalar, exact
    n_iter: tf.Tensor  # scalar int32, iterations run (scikit-learn's n_iter_)
    converged: tf.Tensor  # scalar bool, stopped by tol rather than max_iter
    history: tf.Tensor  # (n_iter, 2): per iteration, the assignment inertia and the centre shift


class Iterations(NamedTuple):
    """Where a run of Lloyd iterations ended, and how it got there."""

    centers: tf.Tensor
    n_iter: tf.Tensor
    converged: tf.Tensor
    history: tf.Tensor  # (n_iter, 2): inertia of each assignment, squared centre shift after it


# Up to this many clusters a one-hot matmul (2·rows·k·d flops, at GEMM speed) sums a
# chunk faster than TF's scatter-add (rows·d flops, poorly vectorised); the two
# break even somewhat above it, and beyond that the one-hot product would double
# the GEMM work.
ONE_HOT_MAX_CLUSTERS = 32

# TF's own scatter-add kernel is slow on CPU; the same op compiled by XLA makes the
# whole Lloyd pass markedly shorter at large k (benchmarks/kernels.py). Summation
# order differs, so sums may differ in the last bits; precision is the same.
segment_sum = tf.function(tf.math.unsorted_segment_sum, jit_compile=True, autograph=False)


def cluster_sums(
    block: tf.Tensor, block_weights: tf.Tensor, labels: tf.Tensor, n_clusters: tf.Tensor
) -> tuple[tf.Tensor, tf.Tensor]:
    """Weighted sum of the rows and total weight of each cluster within one chunk."""

    def by_matmul():
        membership = tf.one_hot(labels, n_clusters, dtype=block.dtype) * block_weights[:, None]
        return tf.matmul(membership, block, transpose_a=True), tf.reduce_sum(membership, axis=0)

    def by_scatter():
        return (
            segment_sum(block * block_weights[:, None], labels, n_clusters),
            segment_sum(block_weights, labels, n_clusters),
        )

    return tf.cond(n_clusters <= ONE_HOT_MAX_CLUSTERS, by_matmul, by_scatter)


class Candidates(NamedTuple):
    """Points that may re-seed empty clusters: the farthest from their centres seen so far."""

    points: tf.Tensor  # (m, d)
    weights: tf.Tensor  # (m,)
    labels: tf.Tensor  # (m,) int32, the cluster each point was assigned to
    distances: tf.Tensor  # (m,) squared distance to that cluster's centre


def no_candidates(n_clusters: int | tf.Tensor, n_features: int | tf.Tensor, dtype: tf.DType) -> Candidates:
    """An empty candidate buffer of ``n_clusters`` slots (distance -inf: never chosen)."""
    return Candidates(
        tf.zeros([n_clusters, n_features], dtype),
        tf.zeros([n_clusters], dtype),
        tf.zeros([n_clusters], tf.int32),
        tf.fill([n_clusters], tf.constant(-float("inf"), dtype)),
    )


def keep_farthest(current: Candidates, new: Candidates) -> Candidates:
    """The ``len(current)`` farthest of both sets, earlier ones first among ties.

    With a buffer of k slots this finds, over a whole stream, the same points
    as a top-k over every point's distance: at most k clusters can be empty.
    """
    slots = tf.shape(current.distances)[0]
    _, best_new = tf.math.top_k(new.distances, k=tf.minimum(slots, tf.shape(new.distances)[0]))
    merged = [tf.concat([old, tf.gather(fresh, best_new)], axis=0) for old, fresh in zip(current, new)]
    _, best = tf.math.top_k(merged[3], k=slots)
    return Candidates(*(tf.gather(part, best) for part in merged))


def relocate_empty_clusters(sums: tf.Tensor, weights: tf.Tensor, candidates: Candidates) -> tuple[tf.Tensor, tf.Tensor]:
    """Re-seed each empty cluster with one of the points farthest from its centre.

    As scikit-learn does: the farthest point moves (with its weight) from its
    cluster's totals into the empty cluster's, so no centre is left undefined.
    ``candidates`` holds every point (in memory) or the k farthest (streaming).
    """
    empty = tf.where(weights <= 0)[:, 0]
    n_empty = tf.size(empty)

    def relocate():
        _, farthest = tf.math.top_k(candidates.distances, k=n_empty)
        weight = tf.gather(candidates.weights, farthest)
        weighted_points = tf.gather(candidates.points, farthest) * weight[:, None]
        donors = tf.gather(candidates.labels, farthest)[:, None]
        new_sums = tf.tensor_scatter_nd_sub(sums, donors, weighted_points)
        new_sums = tf.tensor_scatter_nd_update(new_sums, empty[:, None], weighted_points)
        new_weights = tf.tensor_scatter_nd_sub(weights, donors, weight)
        new_weights = tf.tensor_scatter_nd_update(new_weights, empty[:, None], weight)
        return new_sums, new_weights

    return tf.cond(n_empty > 0, relocate, lambda: (sums, weights))


def update_centers(sums: tf.Tensor, weights: tf.Tensor, centers: tf.Tensor) -> tf.Tensor:
    """Weighted means; a cluster that is still weightless keeps its centre (never NaN).

    Shapes ``(..., k, d)``, ``(..., k)``, ``(..., k, d)``: leading axes (runs) broadcast.
    """
    has_weight = weights > 0
    safe_weights = tf.where(has_weight, weights, tf.ones_like(weights))
    return tf.where(has_weight[..., None], sums / safe_weights[..., None], centers)


class PassTotals(NamedTuple):
    """What one Lloyd pass over all the data must yield, however the data is stored.

    Lloyd's loops fold their passes into these: in memory, streamed,
    distributed, and several runs at once (then each field has a leading runs
    axis and ``candidates`` names rows: ``_restarts.FarthestRows``). Elkan's
    bounds keep running totals of another kind (``_bounds.Totals``).
    """

    sums: tf.Tensor  # (k, d)
    weights: tf.Tensor  # (k,)
    inertia: tf.Tensor  # scalar, from the assignment distances (for progress reports)
    candidates: Candidates


def no_totals(centers: tf.Tensor) -> PassTotals:
    """The totals of a pass that has seen no data yet."""
    n_clusters, n_features = tf.unstack(tf.shape(centers))  # static shapes may be unknown after retracing
    return PassTotals(
        tf.zeros_like(centers),
        tf.zeros([n_clusters], centers.dtype),
        tf.zeros([], centers.dtype),
        no_candidates(n_clusters, n_features, centers.dtype),
    )


def add_totals(totals: PassTotals, more: PassTotals) -> PassTotals:
    """Totals of two disjoint parts of the data (batches, replicas, workers)."""
    return PassTotals(
        totals.sums + more.sums,
        totals.weights + more.weights,
        totals.inertia + more.inertia,
        keep_farthest(totals.candidates, more.candidates),
    )


def print_iteration(progress: tf.Tensor | None, iteration: tf.Tensor, *figures: Any) -> None:
    """One verbose line from inside a Lloyd loop: ``tfkmeans: run r iteration i`` and ``figures``.

    ``progress`` is ``(run number, iterations done before this graph call)``
    (int32, shape ``(2,)``): a fit that runs in checkpoint segments, or one run
    after another, numbers every line by its run and its iteration since the
    run's start. Without it the line shows the loop's own count.
    """
    if progress is None:
        tf.print("tfkmeans: iteration", iteration + 1, *figures)
    else:
        tf.print("tfkmeans: run", progress[0], "iteration", progress[1] + iteration + 1, *figures)


def empty_history(dtype: tf.DType) -> tf.TensorArray:
    """Room for two scalars per iteration (or step) of a loop: cheap beside a pass, and curves without leaving the graph."""
    return tf.TensorArray(dtype, size=0, dynamic_size=True, element_shape=[2])


def stacked_history(history: tf.TensorArray) -> tf.Tensor:
    """The ``(iterations, 2)`` rows of an :func:`empty_history` once filled: ``(0, 2)``, not ``(0,)``, when none ran."""
    return tf.reshape(history.stack(), [-1, 2])


def lloyd_iterations(
    data_pass: Callable[[tf.Tensor], PassTotals],
    initial_centers: tf.Tensor,
    max_iter: tf.Tensor,
    tol: tf.Tensor,
    verbose: bool = False,
    progress: tf.Tensor | None = None,
) -> Iterations:
    """Lloyd updates inside one ``tf.while_loop``.

    ``data_pass(centers)`` makes one pass over the data (in memory, streamed,
    or on every replica). Stops after ``max_iter`` iterations or when the total
    squared centre shift is at most ``tol``: with ``tol=0`` that is exactly
    scikit-learn's "labels unchanged", since unchanged labels reproduce the
    same sums bit for bit. The per-iteration history costs two scalars per
    iteration and lets the caller log curves without leaving the graph.
    """
    tol = tf.cast(tol, initial_centers.dtype)
    history = empty_history(initial_centers.dtype)

    def body(iteration, centers, _done, history):
        totals = data_pass(centers)
        sums, weights = relocate_empty_clusters(totals.sums, totals.weights, totals.candidates)
        new_centers = update_centers(sums, weights, centers)
        shift = tf.reduce_sum(tf.square(new_centers - centers))
        if verbose:
            print_iteration(progress, iteration, "inertia", totals.inertia, "centre shift", shift)
        history = history.write(iteration, tf.stack([totals.inertia, shift]))
        return iteration + 1, new_centers, shift <= tol, history

    n_iter, centers, converged, history = tf.while_loop(
        lambda iteration, _centers, done, _history: tf.logical_and(iteration < max_iter, tf.logical_not(done)),
        body,
        (tf.constant(0), initial_centers, tf.constant(False), history),
    )
    return Iterations(centers, n_iter, converged, stacked_history(history))


def in_memory_pass(
    x: tf.Tensor,
    sample_weight: tf.Tensor,
    centers: tf.Tensor,
    distance: str = "matmul",
    chunk_size: int = 4096,
    x_sq_norms: tf.Tensor | None = None,
) -> PassTotals:
    """One fused pass over an in-memory matrix, chunk by chunk.

    Nothing of size ``n`` is written: each chunk adds its cluster sums and
    offers its k farthest points as relocation candidates, which is cheaper
    than keeping every label and distance. ``inertia`` is the weighted sum of
    the assignment's (clipped, matmul) squared distances. ``x`` may hold
    integers (a streamed batch of pixels, say): each chunk is cast to the
    centres' dtype, so only a chunk-sized float block is ever written.
    """
    distance_fn = get_distance(distance)
    n_clusters, n_features = tf.unstack(tf.shape(centers))

    def body(start, size, totals):
        block = tf.cast(row_slice(x, start, size), centers.dtype)
        block_weights = row_slice(sample_weight, start, size)
        norms = optional_row_slice(x_sq_norms, start, size)
        assigned = assign_block(block, centers, distance_fn, norms)
        sums, weights = cluster_sums(block, block_weights, assigned.labels, tf.shape(centers)[0])
        farthest = keep_farthest(
            no_candidates(n_clusters, n_features, centers.dtype),
            Candidates(block, block_weights, assigned.labels, assigned.min_sq_distances),
        )
        block_totals = PassTotals(
            tf.ensure_shape(sums, centers.shape),  # tf.cond in cluster_sums forgets static shapes
            tf.ensure_shape(weights, centers.shape[:1]),
            tf.reduce_sum(assigned.min_sq_distances * block_weights),
            farthest,
        )
        return (add_totals(totals, block_totals),)

    (totals,) = fold_chunks(tf.shape(x)[0], chunk_size, body, (no_totals(centers),))
    return totals


def lloyd(
    x: tf.Tensor,
    sample_weight: tf.Tensor,
    initial_centers: tf.Tensor,
    max_iter: tf.Tensor,
    tol: tf.Tensor,
    distance: str = "matmul",
    chunk_size: int = 4096,
    verbose: bool = False,
    progress: tf.Tensor | None = None,
) -> LloydResult:
    """Lloyd's algorithm on an in-memory matrix, as one graph.

    ``tol`` is absolute (scikit-learn scales the user's ``tol`` by the mean
    feature variance before it gets here). ``max_iter`` and ``tol`` are tensors
    so that changing them does not retrace the graph; so is ``progress``, the
    run number and iterations already done that ``verbose`` lines show
    (:func:`print_iteration`).
    """
    x_sq_norms = data_squared_norms(x) if distance == "matmul" else None
    run = lloyd_iterations(
        lambda c: in_memory_pass(x, sample_weight, c, distance, chunk_size, x_sq_norms),
        initial_centers,
        max_iter,
        tol,
        verbose,
        progress,
    )
    return lloyd_result(run, x, sample_weight, distance, chunk_size, x_sq_norms)


def lloyd_result(
    iterations: Iterations,
    data: tf.Tensor | tf.data.Dataset,
    sample_weight: tf.Tensor | None = None,
    distance: str = "matmul",
    chunk_size: int = 4096,
    x_sq_norms: tf.Tensor | None = None,
) -> LloydResult:
    """Lloyd iterations completed with the labels and exact inertia of ``data`` under their final centres.

    ``labels_`` must agree with the final centres (scikit-learn's last E-step);
    ``data`` is as for :func:`tfkmeans.ops._assignment.final_assignment`.
    """
    labels, total = final_assignment(data, iterations.centers, sample_weight, distance, chunk_size, x_sq_norms)
    return LloydResult(iterations.centers, labels, total, iterations.n_iter, iterations.converged, iterations.history)
