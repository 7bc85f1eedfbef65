"""Initial centres: greedy k-means++ and uniform random sampling, both in TensorFlow.

Randomness is stateless (``seed`` is a shape-``[2]`` integer tensor), so a fit is
reproducible from ``random_state`` alone and the same graph serves every seed.
"""

from __future__ import annotations

import math
from typing import Optional

import tensorflow as tf

from tfkmeans.ops.distances import matmul_squared_distances, squared_norms


def default_local_trials(n_clusters: int) -> int:
    """scikit-learn's choice: ``2 + floor(ln k)`` candidates per new centre."""
    return 2 + int(math.log(n_clusters))


def _sample_by_weight(cumulative: tf.Tensor, n_samples: int, seed: tf.Tensor) -> tf.Tensor:
    """Indices drawn with probability proportional to the increments of ``cumulative``."""
    targets = tf.random.stateless_uniform([n_samples], seed, dtype=cumulative.dtype) * cumulative[-1]
    indices = tf.searchsorted(cumulative, targets, side="left", out_type=tf.int32)
    return tf.minimum(indices, tf.size(cumulative) - 1)


def kmeans_plusplus(
    x: tf.Tensor,
    sample_weight: tf.Tensor,
    n_clusters: int,
    seed: tf.Tensor,
    n_local_trials: Optional[int] = None,
) -> tuple[tf.Tensor, tf.Tensor]:
    """Greedy k-means++ seeding (Arthur & Vassilvitskii, with scikit-learn's local trials).

    Each new centre is the best of ``n_local_trials`` candidates sampled with
    probability proportional to ``weight × D(x)²``: the one that lowers the total
    potential most. One pass over the data per centre.

    Returns
    -------
    centers : (n_clusters, n_features) tensor
    indices : (n_clusters,) int32 tensor, rows of ``x`` chosen as centres
    """
    n_local_trials = n_local_trials or default_local_trials(n_clusters)
    x_sq_norms = squared_norms(x)
    # Sampling works in float64 so cumulative sums over millions of points keep resolution.
    weight64 = tf.cast(sample_weight, tf.float64)

    def distances_to(rows: tf.Tensor) -> tf.Tensor:
        candidates = tf.gather(x, rows)
        return tf.maximum(matmul_squared_distances(x, candidates, x_sq_norms), 0.0)

    first = _sample_by_weight(tf.cumsum(weight64), 1, tf.random.experimental.stateless_fold_in(seed, 0))
    closest = distances_to(first)[:, 0]
    potential = tf.reduce_sum(tf.cast(closest, tf.float64) * weight64)
    chosen = tf.TensorArray(tf.int32, size=n_clusters).write(0, first[0])

    def add_center(c, chosen, closest, potential):
        del potential  # carried only to mirror the algorithm's state; recomputed below
        step_seed = tf.random.experimental.stateless_fold_in(seed, c)
        cumulative = tf.cumsum(weight64 * tf.cast(closest, tf.float64))
        candidates = _sample_by_weight(cumulative, n_local_trials, step_seed)
        trial = tf.minimum(closest[:, None], distances_to(candidates))  # (n, trials)
        trial_potential = tf.reduce_sum(tf.cast(trial, tf.float64) * weight64[:, None], axis=0)
        best = tf.argmin(trial_potential, output_type=tf.int32)
        return c + 1, chosen.write(c, candidates[best]), trial[:, best], trial_potential[best]

    _, chosen, _, _ = tf.while_loop(
        lambda c, *_: c < n_clusters, add_center, (tf.constant(1), chosen, closest, potential)
    )
    indices = chosen.stack()
    return tf.gather(x, indices), indices


def random_points(
    x: tf.Tensor, sample_weight: tf.Tensor, n_clusters: int, seed: tf.Tensor
) -> tuple[tf.Tensor, tf.Tensor]:
    """``n_clusters`` distinct rows of ``x``, sampled without replacement by weight.

    Efraimidis–Spirakis keys ``log(u) / w``: the top k are a weighted sample
    without replacement; zero-weight rows are never picked while others remain.
    """
    u = tf.random.stateless_uniform(tf.shape(sample_weight), seed, minval=1e-30, maxval=1.0, dtype=tf.float64)
    weight64 = tf.cast(sample_weight, tf.float64)
    keys = tf.where(weight64 > 0, tf.math.log(u) / weight64, tf.constant(-math.inf, tf.float64))
    _, indices = tf.math.top_k(keys, k=n_clusters)
    return tf.gather(x, indices), indices
