"""Nearest-centre assignment, chunked: labels, distances and exact inertia."""

from __future__ import annotations

from typing import NamedTuple, Optional

import tensorflow as tf

from tfkmeans.ops.chunking import fold_chunks, row_slice
from tfkmeans.ops.distances import DistanceFn, get_distance, matmul_squared_distances, refine_near_distances


class Assignment(NamedTuple):
    """Nearest centre of every point and its squared distance (clipped at 0)."""

    labels: tf.Tensor  # (n,) int32
    min_sq_distances: tf.Tensor  # (n,) dtype of x


def assign_block(
    x: tf.Tensor,
    centers: tf.Tensor,
    distance_fn: DistanceFn,
    x_sq_norms: Optional[tf.Tensor] = None,
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
    x_sq_norms: Optional[tf.Tensor] = None,
) -> Assignment:
    """Assign each row of ``x`` to its nearest centre, ``chunk_size`` rows at a time."""
    distance_fn = get_distance(distance)
    labels = tf.TensorArray(tf.int32, size=0, dynamic_size=True, infer_shape=False, element_shape=[None])
    mins = tf.TensorArray(x.dtype, size=0, dynamic_size=True, infer_shape=False, element_shape=[None])

    def body(start, size, index, labels, mins):
        norms = None if x_sq_norms is None else row_slice(x_sq_norms, start, size)
        block = assign_block(row_slice(x, start, size), centers, distance_fn, norms)
        return index + 1, labels.write(index, block.labels), mins.write(index, block.min_sq_distances)

    _, labels, mins = fold_chunks(tf.shape(x)[0], chunk_size, body, (tf.constant(0), labels, mins))
    rows = x.shape[:1]
    return Assignment(tf.ensure_shape(labels.concat(), rows), tf.ensure_shape(mins.concat(), rows))


def squared_distances(
    x: tf.Tensor, centers: tf.Tensor, distance: str = "matmul", chunk_size: int = 4096
) -> tf.Tensor:
    """All squared distances ``(n, k)``, built chunk by chunk, accurate for near and equal points too.

    These are the distances users see (``transform``): with ``distance='matmul'``
    the entries small next to the norms are recomputed directly
    (:func:`refine_near_distances`), so a point on a centre is at exactly 0.
    """
    distance_fn = get_distance(distance)
    blocks = tf.TensorArray(x.dtype, size=0, dynamic_size=True, infer_shape=False, element_shape=tf.TensorShape([None, centers.shape[0]]))

    def body(start, size, index, blocks):
        rows = row_slice(x, start, size)
        d = distance_fn(rows, centers, None)
        d = refine_near_distances(rows, centers, d) if distance_fn is matmul_squared_distances else tf.maximum(d, 0.0)
        return index + 1, blocks.write(index, d)

    _, blocks = fold_chunks(tf.shape(x)[0], chunk_size, body, (tf.constant(0), blocks))
    return tf.reshape(blocks.concat(), [-1, tf.shape(centers)[0]])


def inertia(
    x: tf.Tensor,
    centers: tf.Tensor,
    labels: tf.Tensor,
    sample_weight: Optional[tf.Tensor] = None,
    chunk_size: int = 4096,
) -> tf.Tensor:
    """Exact ``sum_i w_i ||x_i - c_{label_i}||²`` by direct differences.

    Used for the reported inertia: free of the cancellation error of the
    matmul expansion, at the price of one extra pass over the data.
    """

    def body(start, size, total):
        diff = row_slice(x, start, size) - tf.gather(centers, row_slice(labels, start, size))
        per_point = tf.reduce_sum(tf.square(diff), axis=1)
        if sample_weight is not None:
            per_point *= row_slice(sample_weight, start, size)
        return (total + tf.reduce_sum(per_point),)

    (total,) = fold_chunks(tf.shape(x)[0], chunk_size, body, (tf.zeros([], x.dtype),))
    return total


def labels_and_inertia(
    x: tf.Tensor,
    centers: tf.Tensor,
    sample_weight: Optional[tf.Tensor] = None,
    distance: str = "matmul",
    chunk_size: int = 4096,
    x_sq_norms: Optional[tf.Tensor] = None,
) -> tuple[tf.Tensor, tf.Tensor]:
    """Nearest centre of every row and the exact (weighted) inertia, in one chunked pass.

    Each chunk is assigned and, while in cache, its exact squared distances to
    the chosen centres are summed by direct differences (no cancellation error).
    """
    distance_fn = get_distance(distance)
    labels = tf.TensorArray(tf.int32, size=0, dynamic_size=True, infer_shape=False, element_shape=[None])

    def body(start, size, index, labels, total):
        block = row_slice(x, start, size)
        norms = None if x_sq_norms is None else row_slice(x_sq_norms, start, size)
        block_labels = assign_block(block, centers, distance_fn, norms).labels
        per_point = tf.reduce_sum(tf.square(block - tf.gather(centers, block_labels)), axis=1)
        if sample_weight is not None:
            per_point *= row_slice(sample_weight, start, size)
        return index + 1, labels.write(index, block_labels), total + tf.reduce_sum(per_point)

    _, labels, total = fold_chunks(
        tf.shape(x)[0], chunk_size, body, (tf.constant(0), labels, tf.zeros([], x.dtype))
    )
    return tf.ensure_shape(labels.concat(), x.shape[:1]), total
