"""Regression tests for hostile and unusual inputs (issue 13): a correct answer or a clear, early error."""

import numpy as np
import pytest
import tensorflow as tf

from tfkmeans import KMeans, ops
from tfkmeans._base import _kmeans_plusplus_runs


def test_kmeans_plusplus_runs_graph_serves_another_number_of_runs(blobs):
    """One compiled graph is relaxed to seed 2, then 3 runs; each run still picks what it picks alone."""
    x = tf.constant(blobs[0][:400], tf.float32)
    weights = tf.ones([400], tf.float32)
    for seeds in ([[1, 2], [3, 4]], [[5, 6], [7, 8], [9, 10]], [[11, 12], [13, 14], [15, 16], [17, 18]]):
        seeds = tf.constant(seeds, tf.int64)
        centers, indices = _kmeans_plusplus_runs(x, weights, 5, seeds)
        for r in range(len(seeds)):
            _, single = ops.kmeans_plusplus(x, weights, 5, seeds[r])
            np.testing.assert_array_equal(indices[r].numpy(), single.numpy())
            np.testing.assert_array_equal(centers[r].numpy(), tf.gather(x, single).numpy())


def test_fits_with_another_n_init_in_the_same_process(blobs):
    x = blobs[0]
    for n_init in (2, 3, 5):
        km = KMeans(4, n_init=n_init, random_state=0).fit(x)
        assert np.isfinite(km.cluster_centers_).all() and km.inertia_ > 0
