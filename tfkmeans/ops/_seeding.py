"""Initial centres: greedy k-means++ and uniform random sampling, both in TensorFlow.

Randomness is stateless (``seed`` is a shape-``[2]`` integer tensor), so a fit is
reproducible from ``random_state`` alone and the same graph serves every seed.
"""

from __future__ import annotations

import math

import tensorflow as tf

from tfkmeans.ops._distances import data_squared_norms, matmul_squared_distances
from tfkmeans.ops._sampling import sample_by_weight, weighted_keys


def default_local_trials(n_clusters: int) -> int:
    """scikit-learn's choice: ``2 + floor(ln k)`` candidates per new centre."""
    return 2 + int(math.log(n_clusters))


def kmeans_plusplus_runs(
    x: tf.Tensor,
    sample_weight: tf.Tensor,
    n_clusters: int,
    seeds: tf.Tensor,
    n_local_trials: int | None = None,
) -> tuple[tf.Tensor, tf.Tensor]:
    """Greedy k-means++ for several independent runs at once, one seed per run.

    Every pass over the data serves all runs: the candidates of every run are
    compared with every point in one matrix product. Run ``r`` chooses exactly
    the centres :func:`kmeans_plusplus` chooses with ``seeds[r]``.

    Returns
    -------
    centers : (runs, n_clusters, n_features) tensor
    indices : (runs, n_clusters) int32 tensor, rows of ``x`` chosen as centres
    """
    n_local_trials = n_local_trials or default_local_trials(n_clusters)
    # Static when known (the loop keeps its shapes); a graph relaxed to serve
    # several n_init values sees an unknown number of runs.
    n_runs = seeds.shape[0] if seeds.shape[0] is not None else tf.shape(seeds)[0]
    x_sq_norms = data_squared_norms(x)
    # Sampling works in float64 so cumulative sums over millions of points keep resolution.
    weight64 = tf.cast(sample_weight, tf.float64)

    def distances_to(rows: tf.Tensor) -> tf.Tensor:
        """``(runs, n, candidates)`` squared distances from every point to each run's candidates."""
        candidates = tf.gather(x, tf.reshape(rows, [-1]))
        d = tf.maximum(matmul_squared_distances(x, candidates, x_sq_norms), 0.0)
        return tf.transpose(tf.reshape(d, [-1, n_runs, tf.shape(rows)[1]]), [1, 0, 2])

    def potentials(distances: tf.Tensor) -> tf.Tensor:
        """Cumulative ``weight × D²`` over the points, per run: ``(runs, n)``."""
        return tf.cumsum(tf.cast(distances, tf.float64) * weight64, axis=1)

    first = sample_by_weight(tf.tile(tf.cumsum(weight64)[None], [n_runs, 1]), 1, seeds, 0)
    closest = distances_to(first)[:, :, 0]
    # (runs, k) filled one column per step: transposing a stacked integer TensorArray would
    # make oneDNN log an error line (it has no integer transpose) and fall back to Eigen.
    run_index = tf.range(n_runs)
    chosen = tf.zeros([n_runs, n_clusters], tf.int32)

    def put_column(chosen, c, rows):
        return tf.tensor_scatter_nd_update(chosen, tf.stack([run_index, tf.fill([n_runs], c)], axis=1), rows)

    chosen = put_column(chosen, 0, first[:, 0])

    def add_center(c, chosen, closest):
        cumulative = potentials(closest)
        candidates = sample_by_weight(cumulative, n_local_trials, seeds, c)  # (runs, trials)
        trial = tf.minimum(closest[:, :, None], distances_to(candidates))  # (runs, n, trials)
        trial_potential = tf.reduce_sum(tf.cast(trial, tf.float64) * weight64[:, None], axis=1)
        best = tf.argmin(trial_potential, axis=1, output_type=tf.int32)  # (runs,)
        closest = tf.gather(tf.transpose(trial, [0, 2, 1]), best, batch_dims=1)
        return c + 1, put_column(chosen, c, tf.gather(candidates, best, batch_dims=1)), closest

    _, indices, _ = tf.while_loop(lambda c, *_: c < n_clusters, add_center, (tf.constant(1), chosen, closest))
    return tf.gather(x, indices), indices


def kmeans_plusplus(
    x: tf.Tensor,
    sample_weight: tf.Tensor,
    n_clusters: int,
    seed: tf.Tensor,
    n_local_trials: int | None = None,
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
    centers, indices = kmeans_plusplus_runs(x, sample_weight, n_clusters, seed[None], n_local_trials)
    return centers[0], indices[0]


def random_points(
    x: tf.Tensor, sample_weight: tf.Tensor, n_clusters: int, seed: tf.Tensor
) -> tuple[tf.Tensor, tf.Tensor]:
    """``n_clusters`` distinct rows of ``x``, sampled without replacement by weight.

    Efraimidis–Spirakis keys ``log(u) / w``: the top k are a weighted sample
    without replacement; zero-weight rows are never picked while others remain.
    """
    _, indices = tf.math.top_k(weighted_keys(sample_weight, seed), k=n_clusters)
    return tf.gather(x, indices), indices
