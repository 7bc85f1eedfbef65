"""Lloyd's iterations with Elkan's distance bounds: the same labels, most points never re-measured.

Each point keeps an upper bound on the distance to its own centre and a lower
bound on its distance to every centre (``n × k`` floats: 2.4 MB for MNIST with
k = 10). When the centres move, the upper bound grows by its centre's move and
each lower bound shrinks by that centre's move (triangle inequality). A point
whose upper bound stays below every other centre's lower bound keeps its label
without a distance computation; only the others are gathered and re-assigned
with one GEMM, which also makes their bounds exact again. Cluster sums are
updated from the points that changed cluster only, in float64 so the running
sums do not drift.

The labels are those Lloyd's matmul assignment computes: a point is skipped
only when its margin exceeds a bound on the float32 rounding error of the
squared distances, so a near-tie is always re-measured with the same GEMM.
"""

from __future__ import annotations

from typing import NamedTuple

import tensorflow as tf

from tfkmeans.ops.assignment import labels_and_inertia
from tfkmeans.ops.chunking import fold_chunks, row_slice
from tfkmeans.ops.distances import matmul_squared_distances, squared_norms
from tfkmeans.ops.lloyd_algorithm import (
    LloydResult,
    in_memory_pass,
    relocate_empty_clusters,
    update_centers,
)

# Rounding error allowed for a float32 squared distance ``||x||² - 2x·c + ||c||²``,
# relative to ``(||x|| + ||c||)²``: about sqrt(d)·2⁻²⁴ ≈ 2e-6 for d = 784. 1e-4
# is a wide safety factor; on MNIST it re-measures 0.15% more points than 0.
ROUNDING_MARGIN = 1e-4


class Bounds(NamedTuple):
    """Per point: its label and bounds on its distances (not squared) to the centres."""

    labels: tf.Tensor  # (n,) int32
    upper: tf.Tensor  # (n,) ≥ distance to centre ``labels``
    lower: tf.Tensor  # (n, k) ≤ distance to each centre
    sums: tf.Tensor  # (k, d) float64, weighted sums of each cluster's points
    weights: tf.Tensor  # (k,) float64


def _measure(block: tf.Tensor, centers: tf.Tensor, block_sq_norms: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor]:
    """Labels as Lloyd's matmul assignment computes them, and exact distances: nearest ``(rows,)``, all ``(rows, k)``."""
    d = matmul_squared_distances(block, centers, block_sq_norms)
    distances = tf.sqrt(tf.maximum(d, 0.0))
    return tf.argmin(d, axis=1, output_type=tf.int32), tf.reduce_min(distances, axis=1), distances


def _with_static_shapes(bounds: Bounds, x: tf.Tensor, centers: tf.Tensor) -> Bounds:
    """Restore the static shapes that dynamic-size ops forget; a ``tf.while_loop`` needs them fixed."""
    rows, clusters = x.shape[:1], centers.shape[:1]
    shapes = (rows, rows, rows.concatenate(clusters), centers.shape, clusters)
    return Bounds(*(tf.ensure_shape(t, shape) for t, shape in zip(bounds, shapes)))


def full_bounds(
    x: tf.Tensor, sample_weight: tf.Tensor, centers: tf.Tensor, x_sq_norms: tf.Tensor, chunk_size: int
) -> Bounds:
    """Exact labels and distances for every point, and the cluster sums: one chunked pass."""
    n_clusters = tf.shape(centers)[0]
    arrays = [
        tf.TensorArray(tf.int32, size=0, dynamic_size=True, infer_shape=False, element_shape=[None]),
        tf.TensorArray(x.dtype, size=0, dynamic_size=True, infer_shape=False, element_shape=[None]),
        tf.TensorArray(x.dtype, size=0, dynamic_size=True, infer_shape=False, element_shape=[None, None]),
    ]

    def body(start, size, index, labels, upper, lower, sums, weights):
        block = row_slice(x, start, size)
        block_weights = tf.cast(row_slice(sample_weight, start, size), tf.float64)
        block_labels, nearest, distances = _measure(block, centers, row_slice(x_sq_norms, start, size))
        membership = tf.one_hot(block_labels, n_clusters, dtype=tf.float64) * block_weights[:, None]
        return (
            index + 1,
            labels.write(index, block_labels),
            upper.write(index, nearest),
            lower.write(index, distances),
            sums + tf.matmul(membership, tf.cast(block, tf.float64), transpose_a=True),
            weights + tf.reduce_sum(membership, axis=0),
        )

    initial = (tf.constant(0), *arrays, tf.zeros(tf.shape(centers), tf.float64), tf.zeros([n_clusters], tf.float64))
    _, labels, upper, lower, sums, weights = fold_chunks(tf.shape(x)[0], chunk_size, body, initial)
    return _with_static_shapes(Bounds(labels.concat(), upper.concat(), lower.concat(), sums, weights), x, centers)


def refresh_bounds(
    x: tf.Tensor,
    sample_weight: tf.Tensor,
    x_sq_norms: tf.Tensor,
    x_norms: tf.Tensor,
    bounds: Bounds,
    old_centers: tf.Tensor,
    centers: tf.Tensor,
) -> tuple[Bounds, tf.Tensor]:
    """Labels under the new ``centers``, re-measuring only the points the bounds cannot settle.

    Returns the new bounds and how many points were re-measured.
    """
    shift = tf.norm(centers - old_centers, axis=1)
    n_clusters = tf.shape(centers)[0]
    upper = bounds.upper + tf.gather(shift, bounds.labels)
    lower = tf.maximum(bounds.lower - shift, 0.0)
    own = tf.one_hot(bounds.labels, n_clusters, on_value=True, off_value=False)
    nearest_other = tf.reduce_min(tf.where(own, tf.constant(float("inf"), lower.dtype), lower), axis=1)
    # Skip a point only if its margin beats the rounding of the squared distances.
    scale = tf.square(x_norms + tf.reduce_max(tf.norm(centers, axis=1)))
    unsettled = tf.where(tf.square(nearest_other) - tf.square(upper) <= ROUNDING_MARGIN * scale)[:, 0]

    rows = tf.gather(x, unsettled)
    new_labels, nearest, distances = _measure(rows, centers, tf.gather(x_sq_norms, unsettled))
    old_labels = tf.gather(bounds.labels, unsettled)
    index = unsettled[:, None]

    # Move the points that changed cluster between the running sums (float64: no drift).
    changed = tf.where(tf.not_equal(new_labels, old_labels))[:, 0]
    moved_from, moved_to = tf.gather(old_labels, changed), tf.gather(new_labels, changed)
    moved_weight = tf.cast(tf.gather(sample_weight, tf.gather(unsettled, changed)), tf.float64)
    moved_rows = tf.cast(tf.gather(rows, changed), tf.float64) * moved_weight[:, None]
    sums = (bounds.sums
            + tf.math.unsorted_segment_sum(moved_rows, moved_to, n_clusters)
            - tf.math.unsorted_segment_sum(moved_rows, moved_from, n_clusters))
    weights = (bounds.weights
               + tf.math.unsorted_segment_sum(moved_weight, moved_to, n_clusters)
               - tf.math.unsorted_segment_sum(moved_weight, moved_from, n_clusters))
    refreshed = Bounds(
        tf.tensor_scatter_nd_update(bounds.labels, index, new_labels),
        tf.tensor_scatter_nd_update(upper, index, nearest),
        tf.tensor_scatter_nd_update(lower, index, distances),
        sums,
        weights,
    )
    return _with_static_shapes(refreshed, x, centers), tf.size(unsettled, out_type=tf.int32)


def assignment_inertia(x_sq_total: tf.Tensor, bounds: Bounds, centers: tf.Tensor) -> tf.Tensor:
    """``Σ w ||x - c_label||²`` from the cluster sums alone: ``Σ w||x||² - 2 Σ c·S + Σ W ||c||²`` (float64)."""
    c = tf.cast(centers, tf.float64)
    return x_sq_total - 2.0 * tf.reduce_sum(c * bounds.sums) + tf.reduce_sum(bounds.weights * tf.reduce_sum(c * c, axis=1))


def lloyd_bounded(
    x: tf.Tensor,
    sample_weight: tf.Tensor,
    initial_centers: tf.Tensor,
    max_iter: tf.Tensor,
    tol: tf.Tensor,
    chunk_size: int = 4096,
    verbose: bool = False,
) -> LloydResult:
    """Lloyd's algorithm with Hamerly's bounds, as one graph; same contract as :func:`tfkmeans.ops.lloyd`.

    The first assignment measures every point; later ones only those whose
    bounds overlap. An iteration that leaves a cluster empty falls back to a
    full Lloyd pass (the farthest points are needed to re-seed it) and the
    bounds are rebuilt after it. ``history`` holds, per iteration, the
    assignment inertia (from the cluster sums) and the centre shift.
    """
    tol = tf.cast(tol, initial_centers.dtype)
    x_sq_norms = squared_norms(x)
    x_norms = tf.sqrt(x_sq_norms)
    x_sq_total = tf.reduce_sum(tf.cast(x_sq_norms, tf.float64) * tf.cast(sample_weight, tf.float64))
    n_rows = tf.cast(tf.shape(x)[0], initial_centers.dtype)
    history = tf.TensorArray(initial_centers.dtype, size=0, dynamic_size=True, element_shape=[2])

    def relocated_centers(centers):
        totals = in_memory_pass(x, sample_weight, centers, "matmul", chunk_size, x_sq_norms)
        sums, weights = relocate_empty_clusters(totals.sums, totals.weights, totals.candidates)
        return update_centers(sums, weights, centers)

    def body(iteration, centers, previous_centers, bounds, rebuild, _done, history):
        bounds, measured = tf.cond(
            rebuild,
            lambda: (full_bounds(x, sample_weight, centers, x_sq_norms, chunk_size), tf.shape(x)[0]),
            lambda: refresh_bounds(x, sample_weight, x_sq_norms, x_norms, bounds, previous_centers, centers),
        )
        empty = tf.reduce_any(bounds.weights <= 0)
        new_centers = tf.cond(
            empty,
            lambda: relocated_centers(centers),
            lambda: tf.cast(update_centers(bounds.sums, bounds.weights, tf.cast(centers, tf.float64)), centers.dtype),
        )
        shift = tf.reduce_sum(tf.square(new_centers - centers))
        inertia = tf.cast(assignment_inertia(x_sq_total, bounds, centers), centers.dtype)
        if verbose:
            tf.print("tfkmeans: iteration", iteration + 1, "inertia", inertia, "centre shift", shift,
                     "share of points measured", tf.cast(measured, centers.dtype) / n_rows)
        history = history.write(iteration, tf.stack([inertia, shift]))
        return iteration + 1, new_centers, centers, bounds, empty, shift <= tol, history

    n, k = tf.shape(x)[0], tf.shape(initial_centers)[0]
    no_bounds = Bounds(
        tf.zeros([n], tf.int32), tf.zeros([n], x.dtype), tf.zeros([n, k], x.dtype),
        tf.zeros(tf.shape(initial_centers), tf.float64), tf.zeros(tf.shape(initial_centers)[:1], tf.float64),
    )
    n_iter, centers, _, _, _, converged, history = tf.while_loop(
        lambda iteration, _c, _p, _b, _r, done, _h: tf.logical_and(iteration < max_iter, tf.logical_not(done)),
        body,
        (tf.constant(0), initial_centers, initial_centers, no_bounds, tf.constant(True), tf.constant(False), history),
    )
    labels, total = labels_and_inertia(x, centers, sample_weight, "matmul", chunk_size, x_sq_norms)
    return LloydResult(centers, labels, total, n_iter, converged, tf.reshape(history.stack(), [-1, 2]))
