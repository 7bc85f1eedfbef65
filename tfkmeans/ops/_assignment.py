"""Nearest-centre assignment, chunked: labels, distances and exact inertia."""

from __future__ import annotations

from typing import NamedTuple

import tensorflow as tf

from tfkmeans.ops._chunking import fold_chunks, map_chunks, optional_row_slice, row_slice
from tfkmeans.ops._distances import (
    DistanceFn,
    get_distance,
    matmul_squared_distances,
    refine_near_distances,
    squared_norms,
)


class Assignment(NamedTuple):
    """Nearest centre of every point and its squared distance (clipped at 0)."""

    labels: tf.Tensor  # (n,) int32
    min_sq_distances: tf.Tensor  # (n,) dtype of x


def assign_block(
    x: tf.Tensor,
    centers: tf.Tensor,
    distance_fn: DistanceFn,
    x_sq_norms: tf.Tensor | None = None,
) -> Assignment:
    """Nearest centre for one block of rows that fits in memory."""
    d = distance_fn(x, centers, x_sq_norms)
    # argmin on the unclipped values so near-ties resolve as the GEMM computed them.
    return Assignment(
        tf.argmin(d, axis=1, output_type=tf.int32),
        tf.maximum(tf.reduce_min(d, axis=1), 0.0),
    )


def nearest_centers(
    x: tf.Tensor,
    centers: tf.Tensor,
    distance: str = "matmul",
    chunk_size: int = 4096,
    x_sq_norms: tf.Tensor | None = None,
) -> Assignment:
    """Assign each row of ``x`` to its nearest centre, ``chunk_size`` rows at a time."""
    distance_fn = get_distance(distance)

    def body(start, size):
        norms = optional_row_slice(x_sq_norms, start, size)
        return assign_block(row_slice(x, start, size), centers, distance_fn, norms), ()

    pieces, _ = map_chunks(
        tf.shape(x)[0], chunk_size, body, [tf.TensorSpec([None], tf.int32), tf.TensorSpec([None], x.dtype)]
    )
    return Assignment(*(tf.ensure_shape(piece, x.shape[:1]) for piece in pieces))


def squared_distances(x: tf.Tensor, centers: tf.Tensor, distance: str = "matmul", chunk_size: int = 4096) -> tf.Tensor:
    """All squared distances ``(n, k)``, built chunk by chunk, accurate for near and equal points too.

    These are the distances users see (``transform``): with ``distance='matmul'``
    the entries small next to the norms are recomputed directly
    (:func:`refine_near_distances`), so a point on a centre is at exactly 0.
    """
    distance_fn = get_distance(distance)

    def body(start, size):
        rows = row_slice(x, start, size)
        d = distance_fn(rows, centers, None)
        d = refine_near_distances(rows, centers, d) if distance_fn is matmul_squared_distances else tf.maximum(d, 0.0)
        return (d,), ()

    (blocks,), _ = map_chunks(tf.shape(x)[0], chunk_size, body, [tf.TensorSpec([None, centers.shape[0]], x.dtype)])
    return tf.reshape(blocks, [-1, tf.shape(centers)[0]])


def assigned_squared_distances(x: tf.Tensor, centers: tf.Tensor, labels: tf.Tensor) -> tf.Tensor:
    """``||x_i - c_{label_i}||²`` of every row by direct differences: no cancellation error."""
    return squared_norms(x - tf.gather(centers, labels))


def _weighted_sum(values: tf.Tensor, weights: tf.Tensor | None) -> tf.Tensor:
    return tf.reduce_sum(values if weights is None else values * weights)


def inertia(
    x: tf.Tensor,
    centers: tf.Tensor,
    labels: tf.Tensor,
    sample_weight: tf.Tensor | None = None,
    chunk_size: int = 4096,
) -> tf.Tensor:
    """Exact ``sum_i w_i ||x_i - c_{label_i}||²`` by direct differences.

    Used for the reported inertia: free of the cancellation error of the
    matmul expansion, at the price of one extra pass over the data.
    """

    def body(start, size, total):
        per_point = assigned_squared_distances(row_slice(x, start, size), centers, row_slice(labels, start, size))
        weights = optional_row_slice(sample_weight, start, size)
        return (total + _weighted_sum(per_point, weights),)

    (total,) = fold_chunks(tf.shape(x)[0], chunk_size, body, (tf.zeros([], x.dtype),))
    return total


def labels_and_inertia(
    x: tf.Tensor,
    centers: tf.Tensor,
    sample_weight: tf.Tensor | None = None,
    distance: str = "matmul",
    chunk_size: int = 4096,
    x_sq_norms: tf.Tensor | None = None,
) -> tuple[tf.Tensor, tf.Tensor]:
    """Nearest centre of every row and the exact (weighted) inertia, in one chunked pass.

    Each chunk is assigned and, while in cache, its exact squared distances to
    the chosen centres are summed by direct differences (no cancellation error).
    This is the final step of every fit: ``labels_`` and ``inertia_`` under the
    final centres.
    """
    distance_fn = get_distance(distance)

    def body(start, size, total):
        block = row_slice(x, start, size)
        norms = optional_row_slice(x_sq_norms, start, size)
        block_labels = assign_block(block, centers, distance_fn, norms).labels
        weights = optional_row_slice(sample_weight, start, size)
        return (block_labels,), (
            total + _weighted_sum(assigned_squared_distances(block, centers, block_labels), weights),
        )

    (labels,), (total,) = map_chunks(
        tf.shape(x)[0], chunk_size, body, [tf.TensorSpec([None], tf.int32)], (tf.zeros([], x.dtype),)
    )
    return tf.ensure_shape(labels, x.shape[:1]), total


def dataset_labels_and_inertia(
    batches: tf.data.Dataset, centers: tf.Tensor, distance: str = "matmul", chunk_size: int = 4096
) -> tuple[tf.Tensor, tf.Tensor]:
    """Nearest centre of every row (concatenated in stream order) and the exact weighted inertia."""

    def add(state, element):
        index, labels, total = state
        x, w = element
        block_labels, block_inertia = labels_and_inertia(tf.cast(x, centers.dtype), centers, w, distance, chunk_size)
        return index + 1, labels.write(index, block_labels), total + block_inertia

    labels = tf.TensorArray(tf.int32, size=0, dynamic_size=True, infer_shape=False, element_shape=[None])
    _, labels, total = batches.reduce((tf.constant(0), labels, tf.zeros([], centers.dtype)), add)
    return labels.concat(), total


def final_assignment(
    data: tf.Tensor | tf.data.Dataset,
    centers: tf.Tensor,
    sample_weight: tf.Tensor | None = None,
    distance: str = "matmul",
    chunk_size: int = 4096,
    x_sq_norms: tf.Tensor | None = None,
) -> tuple[tf.Tensor, tf.Tensor]:
    """The last step of every fit: labels under the final centres and the exact inertia.

    ``data`` is an in-memory matrix (:func:`labels_and_inertia`, with
    ``sample_weight``) or a dataset of ``(x, sample_weight)`` batches
    (:func:`dataset_labels_and_inertia`; ``sample_weight`` and ``x_sq_norms``
    must then be None).
    """
    if isinstance(data, tf.data.Dataset):
        if sample_weight is not None or x_sq_norms is not None:
            raise ValueError("A dataset carries its own sample weights; sample_weight and x_sq_norms must be None.")
        return dataset_labels_and_inertia(data, centers, distance, chunk_size)
    return labels_and_inertia(data, centers, sample_weight, distance, chunk_size, x_sq_norms)
