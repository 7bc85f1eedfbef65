"""Statistics of an in-memory data matrix, computed without an ``n × d`` temporary."""

from __future__ import annotations

import tensorflow as tf

from tfkmeans.ops.chunking import fold_chunks, row_slice


def data_mean_variance(x: tf.Tensor, chunk_size: int = 2048) -> tf.Tensor:
    """Mean over features of each feature's (population) variance, as scikit-learn scales ``tol``.

    Two chunked passes, the column means then the squared deviations from them:
    ``tf.math.reduce_variance`` holds all ``n × d`` deviations at once (a second
    copy of the data), and a column sum of the whole matrix is 3× slower than
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
