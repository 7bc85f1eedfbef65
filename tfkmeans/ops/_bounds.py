"""Lloyd's iterations with Elkan's distance bounds: the same labels, most points never re-measured.

Each point keeps an upper bound on the distance to its own centre and a lower
bound on its distance to every centre (``n × k`` floats). When the centres
move, the upper bound grows by its centre's move and each lower bound shrinks
by that centre's move (triangle inequality). A point whose upper bound stays
below every other centre's lower bound keeps its label without a distance
computation. The others are re-measured with the GEMM,
which also makes their bounds exact again: gathered a chunk at a time when they
are few, in one chunked pass over all the data when they are many. Cluster sums
are updated from the points that changed cluster only, so a re-measuring
pass skips Lloyd's second product with the data (only the first pass, and a
rebuild after an empty cluster, sums every point).

The labels are those Lloyd's matmul assignment computes: a point is skipped
only when its margin exceeds a bound on the float32 rounding error of the
squared distances, so a near-tie is always re-measured with a GEMM (on a
different block of rows, so its last bits, like those of the running sums,
may differ from Lloyd's: float32 fits can part ways at a near-tie).
"""

from __future__ import annotations

from typing import NamedTuple

import tensorflow as tf

from tfkmeans.ops._assignment import inertia
from tfkmeans.ops._chunking import map_chunks, row_slice
from tfkmeans.ops._distances import data_squared_norms, matmul_squared_distances
from tfkmeans.ops._lloyd import (
    ONE_HOT_MAX_CLUSTERS,
    LloydResult,
    cluster_sums,
    empty_history,
    in_memory_pass,
    print_iteration,
    relocate_empty_clusters,
    stacked_history,
    update_centers,
)

# Rounding error allowed for a float32 squared distance ``||x||² - 2x·c + ||c||²``,
# relative to ``(||x|| + ||c||)²``: about sqrt(d)·2⁻²⁴ ≈ 2e-6 for d = 784. 1e-4
# is a wide safety factor that re-measures only a small share more points than 0. It
# also absorbs the rounding of the bounds' own updates (half an ulp, ≈ 1.2e-7
# of the squared margin per iteration a point goes unmeasured while centres
# move): several hundred such iterations.
ROUNDING_MARGIN = 1e-4

# Above this share of unsettled points, one chunked pass over all of them beats
# gathering them: a gathered point costs about twice a point of the full pass
# (copy, then GEMM), so the two break even near half the points.
DENSE_SHARE = 0.45


class Totals(NamedTuple):
    """Per cluster: running totals of its points, or their change.

    Not :class:`PassTotals`: the bounds keep float64 totals across iterations and
    update them by the points that change cluster, which needs exact member
    counts rather than an inertia and relocation candidates.
    """

    sums: tf.Tensor  # (k, d) float64, weighted sums of the points
    weights: tf.Tensor  # (k,) float64, their total weight
    # (k,) int32, points of positive weight: exact, so a cluster emptied by moves is
    # seen as empty even when the rounding of the running sums leaves a residue.
    members: tf.Tensor


class Bounds(NamedTuple):
    """Per point: its label and bounds on its distances (not squared) to the centres; per cluster, totals."""

    labels: tf.Tensor  # (n,) int32
    upper: tf.Tensor  # (n,) ≥ distance to centre ``labels``
    lower: tf.Tensor  # (n, k) ≤ distance to each centre
    totals: Totals


def _measure(block: tf.Tensor, centers: tf.Tensor, block_sq_norms: tf.Tensor) -> Measured:
    """Labels as Lloyd's matmul assignment computes them, and the exact distances."""
    d = matmul_squared_distances(block, centers, block_sq_norms)
    distances = tf.sqrt(tf.maximum(d, 0.0))
    return Measured(tf.argmin(d, axis=1, output_type=tf.int32), tf.reduce_min(distances, axis=1), distances)


def _with_static_shapes(bounds: Bounds, x: tf.Tensor, centers: tf.Tensor) -> Bounds:
    """Restore the static shapes that dynamic-size ops forget; a ``tf.while_loop`` needs them fixed."""
    rows, clusters = x.shape[:1], centers.shape[:1]
    shapes = (rows, rows, rows.concatenate(clusters))
    totals = Totals(
        *(tf.ensure_shape(t, shape) for t, shape in zip(bounds.totals, (centers.shape, clusters, clusters)))
    )
    return Bounds(*(tf.ensure_shape(t, shape) for t, shape in zip(bounds[:3], shapes)), totals)


def counted(weights: tf.Tensor, labels: tf.Tensor, n_clusters: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
    """Total weight (float64) and number of positive-weight points (int32) per cluster."""
    return (
        tf.math.unsorted_segment_sum(tf.cast(weights, tf.float64), labels, n_clusters),
        tf.math.unsorted_segment_sum(tf.cast(weights > 0, tf.int32), labels, n_clusters),
    )


class Measured(NamedTuple):
    """Labels and exact distances (not squared) of some points under the current centres."""

    labels: tf.Tensor  # (m,) int32
    nearest: tf.Tensor  # (m,) distance to centre ``labels``
    distances: tf.Tensor  # (m, k) distance to each centre


def moved_totals(
    rows: tf.Tensor, weights: tf.Tensor, old_labels: tf.Tensor, new_labels: tf.Tensor, n_clusters: tf.Tensor
) -> Totals:
    """Change in the cluster totals when the rows that changed label move.

    The sums are taken in the data's dtype (a float64 copy of the moved rows
    costs a third more per early iteration) and returned as float64; weights
    and member counts are exact.
    """
    changed = tf.where(tf.not_equal(old_labels, new_labels))[:, 0]
    moved = tf.gather(rows, changed)
    moved_weights = tf.gather(weights, changed)
    to, source = tf.gather(new_labels, changed), tf.gather(old_labels, changed)

    def by_matmul():
        direction = tf.one_hot(to, n_clusters, dtype=rows.dtype) - tf.one_hot(source, n_clusters, dtype=rows.dtype)
        direction *= moved_weights[:, None]
        return tf.matmul(direction, moved, transpose_a=True)

    def by_scatter():
        # TensorFlow's own kernel, not the XLA one: the number of moved rows changes
        # every iteration and XLA would compile each new shape.
        signed = tf.concat([moved_weights, -moved_weights], axis=0)
        labels = tf.concat([to, source], axis=0)
        return tf.math.unsorted_segment_sum(tf.concat([moved, moved], axis=0) * signed[:, None], labels, n_clusters)

    sums = tf.cast(tf.cond(n_clusters <= ONE_HOT_MAX_CLUSTERS, by_matmul, by_scatter), tf.float64)
    gained, lost = counted(moved_weights, to, n_clusters), counted(moved_weights, source, n_clusters)
    return Totals(sums, gained[0] - lost[0], gained[1] - lost[1])


def _measure_pass(
    x: tf.Tensor,
    sample_weight: tf.Tensor,
    centers: tf.Tensor,
    x_sq_norms: tf.Tensor,
    chunk_size: int,
    previous_labels: tf.Tensor | None = None,
    rows: tf.Tensor | None = None,
) -> tuple[Measured, Totals]:
    """Every point (or those at indices ``rows``) measured chunk by chunk, with the cluster totals.

    The totals are those of the measured points, or, given ``previous_labels``,
    only their change from the points that changed cluster: a pass then skips
    the second product with the data. Chosen rows are gathered a chunk at a
    time, so the copies stay small.

    Each chunk is summed in the data's dtype while it is in cache, like Lloyd's
    pass; only the totals across chunks are float64. Running sums therefore
    differ from a fresh pass in the last float32 bits: a fit resumed from a
    checkpoint (which starts with a fresh pass) ends where an uninterrupted one
    does up to that rounding. Float64 copies of the chunks would make them
    agree, but made the first pass twice as long and early iterations a third
    longer.
    """
    n_clusters = tf.shape(centers)[0]
    outputs = [tf.TensorSpec([None], tf.int32), tf.TensorSpec([None], x.dtype), tf.TensorSpec([None, None], x.dtype)]

    def part(values, start, size):
        if rows is None:
            return row_slice(values, start, size)
        return tf.gather(values, row_slice(rows, start, size))

    def body(start, size, *totals):
        block = part(x, start, size)
        block_weights = part(sample_weight, start, size)
        measured = _measure(block, centers, part(x_sq_norms, start, size))
        if previous_labels is None:
            block_sums, _ = cluster_sums(block, block_weights, measured.labels, n_clusters)
            block_totals = Totals(tf.cast(block_sums, tf.float64), *counted(block_weights, measured.labels, n_clusters))
        else:
            block_totals = moved_totals(
                block, block_weights, part(previous_labels, start, size), measured.labels, n_clusters
            )
        # tf.cond in the sums forgets static shapes; the loop needs them fixed.
        added = [tf.ensure_shape(total + more, total.shape) for total, more in zip(totals, block_totals)]
        return measured, added

    n_measured = tf.shape(x)[0] if rows is None else tf.shape(rows)[0]
    pieces, totals = map_chunks(n_measured, chunk_size, body, outputs, empty_totals(centers))
    return Measured(*pieces), Totals(*totals)


def empty_totals(centers: tf.Tensor) -> Totals:
    """Totals of no points: zeros of the right shapes."""
    n_clusters = tf.shape(centers)[0]
    zeros = Totals(
        tf.zeros(tf.shape(centers), tf.float64), tf.zeros([n_clusters], tf.float64), tf.zeros([n_clusters], tf.int32)
    )
    return Totals(
        *(tf.ensure_shape(t, shape) for t, shape in zip(zeros, (centers.shape, centers.shape[:1], centers.shape[:1])))
    )


def full_bounds(
    x: tf.Tensor, sample_weight: tf.Tensor, centers: tf.Tensor, x_sq_norms: tf.Tensor, chunk_size: int
) -> Bounds:
    """Exact labels and distances for every point, and the cluster sums: one chunked pass."""
    measured, totals = _measure_pass(x, sample_weight, centers, x_sq_norms, chunk_size)
    return _with_static_shapes(Bounds(*measured, totals), x, centers)


@tf.function(jit_compile=True, autograph=False)
def loosen_bounds(
    labels: tf.Tensor,
    upper: tf.Tensor,
    lower: tf.Tensor,
    x_norms: tf.Tensor,
    old_centers: tf.Tensor,
    centers: tf.Tensor,
) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor]:
    """Bounds under the moved ``centers``, and which points they no longer settle.

    Returns the upper bounds ``(n,)``, lower bounds ``(n, k)`` and a boolean
    ``(n,)`` mask of the points to re-measure. Compiled by XLA, the element-wise
    ``n × k`` steps fuse into one loop instead of several passes over ``n × k``
    temporaries, at the price of one compilation per new data shape.
    """
    shift = tf.norm(centers - old_centers, axis=1)
    upper = upper + tf.gather(shift, labels)
    lower = tf.maximum(lower - shift, 0.0)
    own = tf.one_hot(labels, tf.shape(centers)[0], on_value=True, off_value=False)
    nearest_other = tf.reduce_min(tf.where(own, tf.constant(float("inf"), lower.dtype), lower), axis=1)
    # Skip a point only if its margin beats the rounding of the squared distances.
    scale = tf.square(x_norms + tf.reduce_max(tf.norm(centers, axis=1)))
    return upper, lower, tf.square(nearest_other) - tf.square(upper) <= ROUNDING_MARGIN * scale


def refresh_bounds(
    x: tf.Tensor,
    sample_weight: tf.Tensor,
    x_sq_norms: tf.Tensor,
    x_norms: tf.Tensor,
    bounds: Bounds,
    old_centers: tf.Tensor,
    centers: tf.Tensor,
    chunk_size: int,
    dense_share: float = DENSE_SHARE,
) -> tuple[Bounds, tf.Tensor]:
    """Labels under the new ``centers``, re-measuring only the points the bounds cannot settle.

    When more than ``dense_share`` of the points are unsettled, a chunked
    pass measures them all (cheaper than gathering them). Either way the sums
    are updated from the points that changed cluster alone, so no pass pays
    for a second product with the data.

    Returns the new bounds and how many points were re-measured.
    """
    upper, lower, unsettled_mask = loosen_bounds(
        bounds.labels, bounds.upper, bounds.lower, x_norms, old_centers, centers
    )
    unsettled = tf.where(unsettled_mask)[:, 0]
    n_unsettled = tf.size(unsettled, out_type=tf.int32)
    n_rows = tf.shape(x)[0]

    def measure_all():
        measured, moved = _measure_pass(x, sample_weight, centers, x_sq_norms, chunk_size, bounds.labels)
        return measured, moved, n_rows

    def measure_unsettled():
        measured, moved = _measure_pass(x, sample_weight, centers, x_sq_norms, chunk_size, bounds.labels, unsettled)
        index = unsettled[:, None]
        measured = Measured(
            *(tf.tensor_scatter_nd_update(old, index, new) for old, new in zip((bounds.labels, upper, lower), measured))
        )
        return measured, moved, n_unsettled

    def measure_none():
        return Measured(bounds.labels, upper, lower), empty_totals(centers), 0

    dense = tf.cast(n_unsettled, tf.float32) > dense_share * tf.cast(n_rows, tf.float32)
    measured, moved, n_measured = tf.cond(
        dense, measure_all, lambda: tf.cond(n_unsettled > 0, measure_unsettled, measure_none)
    )
    totals = Totals(*(total + change for total, change in zip(bounds.totals, moved)))
    return _with_static_shapes(Bounds(*measured, totals), x, centers), n_measured


def assignment_inertia(x_sq_total: tf.Tensor, bounds: Bounds, centers: tf.Tensor) -> tf.Tensor:
    """``Σ w ||x - c_label||²`` from the cluster sums alone: ``Σ w||x||² - 2 Σ c·S + Σ W ||c||²`` (float64)."""
    c = tf.cast(centers, tf.float64)
    sums, weights = bounds.totals.sums, bounds.totals.weights
    return x_sq_total - 2.0 * tf.reduce_sum(c * sums) + tf.reduce_sum(weights * tf.reduce_sum(c * c, axis=1))


def next_centers(
    x: tf.Tensor, sample_weight: tf.Tensor, x_sq_norms: tf.Tensor, centers: tf.Tensor, totals: Totals, chunk_size: int
) -> tuple[tf.Tensor, tf.Tensor]:
    """The centres after a bounded assignment, and whether a cluster was left empty.

    The means of ``totals``; if a cluster has no member, a full Lloyd pass
    re-seeds it exactly as :func:`~tfkmeans.ops.lloyd` does (the caller then
    rebuilds its bounds).
    """

    def relocated() -> tf.Tensor:
        passed = in_memory_pass(x, sample_weight, centers, "matmul", chunk_size, x_sq_norms)
        sums, weights = relocate_empty_clusters(passed.sums, passed.weights, passed.candidates)
        return update_centers(sums, weights, centers)

    def means() -> tf.Tensor:
        return tf.cast(update_centers(totals.sums, totals.weights, tf.cast(centers, tf.float64)), centers.dtype)

    empty = tf.reduce_any(totals.members == 0)
    return tf.cond(empty, relocated, means), empty


def lloyd_bounded(
    x: tf.Tensor,
    sample_weight: tf.Tensor,
    initial_centers: tf.Tensor,
    max_iter: tf.Tensor,
    tol: tf.Tensor,
    chunk_size: int = 4096,
    verbose: bool = False,
    progress: tf.Tensor | None = None,
) -> LloydResult:
    """Lloyd's algorithm with Elkan's bounds, as one graph; same contract as :func:`tfkmeans.ops.lloyd`.

    The first assignment measures every point; later ones only those whose
    bounds overlap. An iteration that leaves a cluster empty falls back to a
    full Lloyd pass (the farthest points are needed to re-seed it) and the
    bounds are rebuilt after it. The final labels come from the bounds too;
    only the exact inertia reads all the data once more. ``history`` holds, per
    iteration, the assignment inertia (from the cluster sums) and the centre shift.
    """
    tol = tf.cast(tol, initial_centers.dtype)
    x_sq_norms = data_squared_norms(x)
    x_norms = tf.sqrt(x_sq_norms)
    x_sq_total = tf.reduce_sum(tf.cast(x_sq_norms, tf.float64) * tf.cast(sample_weight, tf.float64))
    n_rows = tf.cast(tf.shape(x)[0], initial_centers.dtype)
    history = empty_history(initial_centers.dtype)

    def assign(centers, previous_centers, bounds, rebuild):
        return tf.cond(
            rebuild,
            lambda: (full_bounds(x, sample_weight, centers, x_sq_norms, chunk_size), tf.shape(x)[0]),
            lambda: refresh_bounds(
                x, sample_weight, x_sq_norms, x_norms, bounds, previous_centers, centers, chunk_size
            ),
        )

    def body(iteration, centers, previous_centers, bounds, rebuild, _done, history):
        bounds, measured = assign(centers, previous_centers, bounds, rebuild)
        new_centers, empty = next_centers(x, sample_weight, x_sq_norms, centers, bounds.totals, chunk_size)
        shift = tf.reduce_sum(tf.square(new_centers - centers))
        assigned_inertia = tf.cast(assignment_inertia(x_sq_total, bounds, centers), centers.dtype)
        if verbose:
            print_iteration(
                progress,
                iteration,
                "inertia",
                assigned_inertia,
                "centre shift",
                shift,
                "share of points measured",
                tf.cast(measured, centers.dtype) / n_rows,
            )
        history = history.write(iteration, tf.stack([assigned_inertia, shift]))
        return iteration + 1, new_centers, centers, bounds, empty, shift <= tol, history

    n, k = tf.shape(x)[0], tf.shape(initial_centers)[0]
    no_bounds = Bounds(
        tf.zeros([n], tf.int32), tf.zeros([n], x.dtype), tf.zeros([n, k], x.dtype), empty_totals(initial_centers)
    )
    n_iter, centers, previous_centers, bounds, rebuild, converged, history = tf.while_loop(
        lambda iteration, _c, _p, _b, _r, done, _h: tf.logical_and(iteration < max_iter, tf.logical_not(done)),
        body,
        (tf.constant(0), initial_centers, initial_centers, no_bounds, tf.constant(True), tf.constant(False), history),
    )
    # labels_ must agree with the final centres (scikit-learn's last E-step).
    labels = assign(centers, previous_centers, bounds, rebuild)[0].labels
    total = inertia(x, centers, labels, sample_weight, chunk_size)
    return LloydResult(centers, labels, total, n_iter, converged, stacked_history(history))
