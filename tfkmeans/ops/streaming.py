"""Passes over a ``tf.data.Dataset`` of ``(x, sample_weight)`` batches: out-of-core K-means.

Memory is bounded by one batch (and one chunk within it), never by the number
of rows: each pass folds batch totals into per-cluster sums, weights and a
k-slot buffer of relocation candidates with ``Dataset.reduce``, inside the graph.
"""

from __future__ import annotations

import math
from typing import NamedTuple, Optional

import tensorflow as tf

from tfkmeans.ops.assignment import labels_and_inertia
from tfkmeans.ops.lloyd_algorithm import Iterations, PassTotals, add_totals, in_memory_pass, lloyd_iterations, no_totals


class DatasetMoments(NamedTuple):
    """One pass of bookkeeping: what validation and ``tol`` scaling need."""

    rows: tf.Tensor  # int64
    batches: tf.Tensor  # int64, elements the dataset yields
    sums: tf.Tensor  # (d,) float64, unweighted
    squares: tf.Tensor  # (d,) float64, unweighted
    all_finite: tf.Tensor  # bool, features and weights
    min_weight: tf.Tensor  # float64
    total_weight: tf.Tensor  # float64


def dataset_moments(batches: tf.data.Dataset) -> DatasetMoments:
    """Row count, per-feature sums and sums of squares, finiteness and weight range."""
    n_features = batches.element_spec[0].shape[-1]

    def add(totals, element):
        x, w = element
        x64, w64 = tf.cast(x, tf.float64), tf.cast(w, tf.float64)
        return DatasetMoments(
            totals.rows + tf.cast(tf.shape(x)[0], tf.int64),
            totals.batches + 1,
            totals.sums + tf.reduce_sum(x64, axis=0),
            totals.squares + tf.reduce_sum(tf.square(x64), axis=0),
            totals.all_finite & tf.reduce_all(tf.math.is_finite(x)) & tf.reduce_all(tf.math.is_finite(w)),
            tf.minimum(totals.min_weight, tf.reduce_min(tf.concat([w64, [math.inf]], 0))),
            totals.total_weight + tf.reduce_sum(w64),
        )

    zeros = tf.zeros([n_features], tf.float64)
    initial = DatasetMoments(
        tf.constant(0, tf.int64), tf.constant(0, tf.int64), zeros, zeros, tf.constant(True), tf.constant(math.inf, tf.float64),
        tf.constant(0.0, tf.float64),
    )
    return batches.reduce(initial, add)


def mean_variance(moments: DatasetMoments) -> tf.Tensor:
    """Mean over features of the (population) variance, as scikit-learn scales ``tol``."""
    rows = tf.cast(moments.rows, tf.float64)
    mean = moments.sums / rows
    return tf.reduce_mean(tf.maximum(moments.squares / rows - tf.square(mean), 0.0))


def reservoir_sample(batches: tf.data.Dataset, size: int, seed: tf.Tensor) -> tf.Tensor:
    """A weighted random sample of ``size`` rows without replacement, in one pass.

    Efraimidis–Spirakis: every row gets the key ``log(u) / w`` and the ``size``
    largest keys win, kept in a running buffer. Rows of zero weight are never
    drawn, so fewer than ``size`` rows come back when fewer have positive weight.
    """
    n_features = batches.element_spec[0].shape[-1]
    dtype = batches.element_spec[0].dtype

    def add(state, element):
        index, keys, rows = state
        x, w = element
        u = tf.random.stateless_uniform(
            tf.shape(w), tf.random.experimental.stateless_fold_in(seed, index), minval=1e-30, maxval=1.0, dtype=tf.float64
        )
        w64 = tf.cast(w, tf.float64)
        new_keys = tf.where(w64 > 0, tf.math.log(u) / w64, -math.inf)
        all_keys = tf.concat([keys, new_keys], 0)
        _, best = tf.math.top_k(all_keys, k=size)
        return index + 1, tf.gather(all_keys, best), tf.gather(tf.concat([rows, x], 0), best)

    initial = (tf.constant(0, tf.int64), tf.fill([size], tf.constant(-math.inf, tf.float64)), tf.zeros([size, n_features], dtype))
    _, keys, rows = batches.reduce(initial, add)
    # Unfilled slots hold zero rows, not data: only the drawn rows are returned.
    return tf.boolean_mask(rows, keys > -math.inf)


def dataset_pass(
    batches: tf.data.Iterator, n_batches: tf.Tensor, centers: tf.Tensor, distance: str = "matmul", chunk_size: int = 4096
) -> PassTotals:
    """One Lloyd pass: the next ``n_batches`` elements of ``batches`` folded into cluster totals.

    The loop runs in the calling graph, not in a ``Dataset.reduce`` function:
    tf.data runs those on its own threads, which made the GEMMs 3x slower.
    """

    def add(index, totals):
        x, w = batches.get_next()
        return index + 1, add_totals(totals, in_memory_pass(x, w, centers, distance, chunk_size))

    _, totals = tf.while_loop(
        lambda index, _: index < n_batches, add, (tf.constant(0, n_batches.dtype), no_totals(centers))
    )
    return totals


def lloyd_stream(
    batches: tf.data.Dataset,
    n_batches: tf.Tensor,
    initial_centers: tf.Tensor,
    max_iter: tf.Tensor,
    tol: tf.Tensor,
    distance: str = "matmul",
    chunk_size: int = 4096,
    verbose: bool = False,
    progress: Optional[tf.Tensor] = None,
) -> Iterations:
    """Full-batch Lloyd over a dataset read once per iteration.

    ``batches`` must yield the same ``n_batches`` elements in the same order on
    every pass (no reshuffling); it is read as one repeated stream. The same
    iterations as :func:`tfkmeans.ops.lloyd` on the concatenated data.
    """
    stream = iter(batches.repeat())
    return lloyd_iterations(
        lambda centers: dataset_pass(stream, n_batches, centers, distance, chunk_size),
        initial_centers, max_iter, tol, verbose, progress,
    )


def dataset_labels_and_inertia(
    batches: tf.data.Dataset, centers: tf.Tensor, distance: str = "matmul", chunk_size: int = 4096
) -> tuple[tf.Tensor, tf.Tensor]:
    """Nearest centre of every row (concatenated in stream order) and the exact weighted inertia."""

    def add(state, element):
        index, labels, total = state
        x, w = element
        block_labels, block_inertia = labels_and_inertia(x, centers, w, distance, chunk_size)
        return index + 1, labels.write(index, block_labels), total + block_inertia

    labels = tf.TensorArray(tf.int32, size=0, dynamic_size=True, infer_shape=False, element_shape=[None])
    _, labels, total = batches.reduce((tf.constant(0), labels, tf.zeros([], centers.dtype)), add)
    return labels.concat(), total
