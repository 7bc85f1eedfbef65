"""Weighted random draws, stateless: the same seed gives the same rows in any graph.

Two samplers serve every caller: :func:`sample_by_weight` draws with
replacement (k-means++ candidates, mini-batches drawn by weight) and
:func:`weighted_keys` ranks rows for a draw without replacement (random
initial centres, and :func:`reservoir_sample`, the seeding sample of a stream).
"""

from __future__ import annotations

import math

import tensorflow as tf


def sample_by_weight(cumulative: tf.Tensor, n_samples: int, seeds: tf.Tensor, step: tf.Tensor) -> tf.Tensor:
    """Per run, indices drawn with replacement with probability proportional to the increments of ``cumulative``.

    ``cumulative`` is ``(runs, n)``; run ``r`` draws ``n_samples`` indices from
    its own stream ``fold_in(seeds[r], step)``, so a run's draws do not depend
    on how many runs share the call.
    """
    # map_fn, not a Python loop over the runs: their number may be unknown when a
    # graph traced for one n_init is relaxed to serve another.
    uniforms = tf.map_fn(
        lambda seed: tf.random.stateless_uniform(
            [n_samples], tf.random.experimental.stateless_fold_in(seed, step), dtype=cumulative.dtype
        ),
        seeds,
        fn_output_signature=cumulative.dtype,
    )
    indices = tf.searchsorted(cumulative, uniforms * cumulative[:, -1:], side="left", out_type=tf.int32)
    return tf.minimum(indices, tf.shape(cumulative)[1] - 1)


def weighted_keys(weights: tf.Tensor, seed: tf.Tensor) -> tf.Tensor:
    """Efraimidis–Spirakis keys ``log(u) / w`` (float64): the ``m`` largest are a weighted sample without replacement.

    Rows of zero weight get ``-inf`` and so are never drawn while others remain.
    """
    u = tf.random.stateless_uniform(tf.shape(weights), seed, minval=1e-30, maxval=1.0, dtype=tf.float64)
    weight64 = tf.cast(weights, tf.float64)
    return tf.where(weight64 > 0, tf.math.log(u) / weight64, tf.constant(-math.inf, tf.float64))


def reservoir_sample(batches: tf.data.Dataset, size: int, seed: tf.Tensor) -> tf.Tensor:
    """A weighted random sample of ``size`` rows without replacement, in one pass.

    Every row gets its :func:`weighted_keys` key and the ``size`` largest keys
    win, kept in a running buffer. Rows of zero weight are never drawn, so
    fewer than ``size`` rows come back when fewer have positive weight.
    """
    n_features = batches.element_spec[0].shape[-1]
    dtype = batches.element_spec[1].dtype  # the weights': features may be integers, cast here

    def add(state, element):
        index, keys, rows = state
        x, w = element
        new_keys = weighted_keys(w, tf.random.experimental.stateless_fold_in(seed, index))
        all_keys = tf.concat([keys, new_keys], 0)
        _, best = tf.math.top_k(all_keys, k=size)
        return index + 1, tf.gather(all_keys, best), tf.gather(tf.concat([rows, tf.cast(x, dtype)], 0), best)

    initial = (
        tf.constant(0, tf.int64),
        tf.fill([size], tf.constant(-math.inf, tf.float64)),
        tf.zeros([size, n_features], dtype),
    )
    _, keys, rows = batches.reduce(initial, add)
    # Unfilled slots hold zero rows, not data: only the drawn rows are returned.
    return tf.boolean_mask(rows, keys > -math.inf)
