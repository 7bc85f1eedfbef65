"""The data statistics a fit needs: the variance that scales ``tol``, the sum and range its checks read, and a
dataset's moments.

One place for the variance, computed two ways only because the data comes two
ways: an in-memory matrix in two chunked passes (exact deviations, no ``n × d``
temporary), a dataset from the sums and sums of squares of one pass.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import tensorflow as tf

from tfkmeans.ops._chunking import fold_chunks, row_slice


def data_mean_variance(x: tf.Tensor, chunk_size: int = 2048) -> tf.Tensor:
    """Mean over features of each feature's (population) variance, as scikit-learn scales ``tol``.

    Two chunked passes, the column means then the squared deviations from them:
    ``tf.math.reduce_variance`` holds all ``n × d`` deviations at once (a second
    copy of the data), and a column sum of the whole matrix is slower than
    summing chunks that stay in cache. :func:`mean_variance` is the same
    statistic for a dataset, from its moments.
    """
    n_rows = tf.shape(x)[0]

    def add_column_sums(start, size, sums):
        return (sums + tf.reduce_sum(row_slice(x, start, size), axis=0),)

    (sums,) = fold_chunks(n_rows, chunk_size, add_column_sums, (tf.zeros(tf.shape(x)[1:], x.dtype),))
    mean = sums / tf.cast(n_rows, x.dtype)

    def add_squared_deviations(start, size, total):
        return (total + tf.reduce_sum(tf.math.squared_difference(row_slice(x, start, size), mean)),)

    (total,) = fold_chunks(n_rows, chunk_size, add_squared_deviations, (tf.zeros([], x.dtype),))
    return total / tf.cast(tf.size(x), x.dtype)


def sum_and_range(x: tf.Tensor, chunk_size: int = 2048) -> tf.Tensor:
    """``[sum, max, min]`` of all the values of ``x`` in one chunked pass: what the checks of a fit's data read.

    Three whole-matrix reductions would read the data three times; a chunk
    summed and ranged while it is in cache reads it once, and one small tensor
    comes back to the host. A NaN or an infinity anywhere makes the sum
    non-finite (so does an overflowing sum of finite values).
    """

    def add_chunk(start, size, total, largest, smallest):
        chunk = row_slice(x, start, size)
        return (
            total + tf.reduce_sum(chunk),
            tf.maximum(largest, tf.reduce_max(chunk)),
            tf.minimum(smallest, tf.reduce_min(chunk)),
        )

    infinity = tf.constant(float("inf"), x.dtype)
    total, largest, smallest = fold_chunks(
        tf.shape(x)[0], chunk_size, add_chunk, (tf.zeros([], x.dtype), -infinity, infinity)
    )
    return tf.stack([total, largest, smallest])


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
            totals.all_finite
            & tf.reduce_all(tf.math.is_finite(w))
            & (tf.reduce_all(tf.math.is_finite(x)) if x.dtype.is_floating else True),
            tf.minimum(totals.min_weight, tf.reduce_min(tf.concat([w64, [math.inf]], 0))),
            totals.total_weight + tf.reduce_sum(w64),
        )

    zeros = tf.zeros([n_features], tf.float64)
    initial = DatasetMoments(
        tf.constant(0, tf.int64),
        tf.constant(0, tf.int64),
        zeros,
        zeros,
        tf.constant(True),
        tf.constant(math.inf, tf.float64),
        tf.constant(0.0, tf.float64),
    )
    return batches.reduce(initial, add)


def mean_variance(moments: DatasetMoments) -> tf.Tensor:
    """:func:`data_mean_variance` of a dataset, from its moments (one pass, float64)."""
    rows = tf.cast(moments.rows, tf.float64)
    mean = moments.sums / rows
    return tf.reduce_mean(tf.maximum(moments.squares / rows - tf.square(mean), 0.0))
