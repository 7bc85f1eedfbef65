"""KMeans.fit on a tf.data.Dataset streams the data once per iteration and reaches the in-memory result."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf
from sklearn.cluster import KMeans as SkKMeans
from sklearn.cluster import kmeans_plusplus

from tfkmeans import KMeans, MiniBatchKMeans


def assert_same_fit(streamed, in_memory):
    np.testing.assert_array_equal(streamed.labels_, in_memory.labels_)
    assert streamed.n_iter_ == in_memory.n_iter_
    assert streamed.inertia_ == pytest.approx(in_memory.inertia_, rel=1e-10)
    np.testing.assert_allclose(streamed.cluster_centers_, in_memory.cluster_centers_, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("batch", [64, 1000, 5000])
def test_streamed_fit_equals_in_memory_fit(blobs, batch):
    x, _ = blobs
    init, _ = kmeans_plusplus(x, 5, random_state=1)
    in_memory = KMeans(5, init=init, dtype="float64").fit(x)
    streamed = KMeans(5, init=init, dtype="float64").fit(tf.data.Dataset.from_tensor_slices(x).batch(batch))
    assert in_memory.n_iter_ > 2
    assert_same_fit(streamed, in_memory)


def test_streamed_mnist_subset_equals_in_memory(mnist_subset):
    x, y = mnist_subset
    init = x[:10]
    in_memory = KMeans(10, init=init, dtype="float64").fit(x)
    dataset = tf.data.Dataset.from_tensor_slices((x, y)).batch(700)  # (x, y) pairs: y is ignored
    assert_same_fit(KMeans(10, init=init, dtype="float64").fit(dataset), in_memory)


def test_streamed_weights_from_keras_style_triples(blobs):
    x, _ = blobs
    weights = np.random.default_rng(0).uniform(0.0, 2.0, size=len(x))
    init = x[:5]
    in_memory = KMeans(5, init=init, dtype="float64").fit(x, sample_weight=weights)
    dataset = tf.data.Dataset.from_tensor_slices((x, np.zeros(len(x)), weights)).batch(256)
    assert_same_fit(KMeans(5, init=init, dtype="float64").fit(dataset), in_memory)


def test_streamed_empty_cluster_relocation_matches_in_memory(blobs):
    x, _ = blobs
    init, _ = kmeans_plusplus(x, 5, random_state=4)
    init[2] = 1e3
    in_memory = KMeans(5, init=init, dtype="float64").fit(x)
    streamed = KMeans(5, init=init, dtype="float64").fit(tf.data.Dataset.from_tensor_slices(x).batch(100))
    assert_same_fit(streamed, in_memory)


def test_uint8_stream_equals_float32_in_memory_and_scikit_learn(mnist_subset):
    pixels = np.round(mnist_subset[0] * 255).astype(np.uint8)
    rows = pixels.astype(np.float32)
    init = rows[:10]
    in_memory = KMeans(10, init=init, tol=0, algorithm="lloyd").fit(rows)
    streamed = KMeans(10, init=init, tol=0, algorithm="lloyd").fit(
        tf.data.Dataset.from_tensor_slices(pixels).batch(700)
    )
    oracle = SkKMeans(10, init=init.astype(np.float64), n_init=1, tol=0, algorithm="lloyd").fit(rows.astype(np.float64))
    assert in_memory.n_iter_ > 5
    np.testing.assert_array_equal(streamed.labels_, in_memory.labels_)
    np.testing.assert_array_equal(streamed.labels_, oracle.labels_)
    assert streamed.n_iter_ == in_memory.n_iter_ == oracle.n_iter_
    np.testing.assert_array_equal(streamed.cluster_centers_, in_memory.cluster_centers_)
    assert streamed.inertia_ == pytest.approx(in_memory.inertia_, rel=1e-6)
    assert streamed.inertia_ == pytest.approx(oracle.inertia_, rel=1e-5)


@pytest.mark.parametrize("offset", [-100, 60_000])  # 60,000: far from the origin, so the batches are moved in float
def test_integer_batches_fit_as_their_float_values(offset):
    values = np.random.default_rng(5).integers(0, 200, size=(900, 7)) + offset
    as_floats = tf.data.Dataset.from_tensor_slices(values.astype(np.float64)).batch(128)
    for integers in (values.astype(np.int32), values.astype(np.uint16 if offset > 0 else np.int8)):
        dataset = tf.data.Dataset.from_tensor_slices(integers).batch(128)
        for make in (
            lambda: KMeans(4, random_state=2, dtype="float64"),
            lambda: MiniBatchKMeans(4, random_state=2, batch_size=100, max_iter=3, dtype="float64"),
        ):
            fit, reference = make().fit(dataset), make().fit(as_floats)
            assert np.any(fit.origin.numpy() != 0) == (offset > 0)
            np.testing.assert_array_equal(fit.cluster_centers_, reference.cluster_centers_)
            np.testing.assert_array_equal(fit.labels_, reference.labels_)
            assert fit.inertia_ == reference.inertia_ and fit.n_iter_ == reference.n_iter_


def test_image_batches_and_single_rows_are_accepted():
    images = np.random.default_rng(0).integers(0, 256, size=(500, 8, 8)).astype(np.uint8)
    km = KMeans(4, random_state=0).fit(tf.data.Dataset.from_tensor_slices(images).batch(64))  # (64, 8, 8) batches
    assert km.cluster_centers_.shape == (4, 64) and km.labels_.shape == (500,)
    np.testing.assert_array_equal(km.predict(images), km.labels_)
    rows = KMeans(4, init=km.cluster_centers_).fit(tf.data.Dataset.from_tensor_slices(images.reshape(500, 64)))
    np.testing.assert_array_equal(rows.labels_, KMeans(4, init=km.cluster_centers_).fit(images).labels_)


def test_streamed_seeding_is_deterministic_and_sound(blobs):
    x, _ = blobs
    dataset = tf.data.Dataset.from_tensor_slices(x).batch(200)
    first = KMeans(5, random_state=3, n_init=4).fit(dataset)
    again = KMeans(5, random_state=3, n_init=4).fit(dataset)
    np.testing.assert_array_equal(first.cluster_centers_, again.cluster_centers_)
    # Seeding from a one-pass reservoir sample is as good as seeding from the array.
    in_memory = KMeans(5, random_state=3, n_init=4).fit(x)
    assert first.inertia_ <= 1.02 * in_memory.inertia_


def test_streamed_fit_checks_cluster_count_and_weights():
    dataset = tf.data.Dataset.from_tensor_slices(np.zeros((3, 2))).batch(2)
    with pytest.raises(ValueError, match=r"n_clusters=4 must be <= n_samples \(3\)"):
        KMeans(4).fit(dataset)
    with pytest.raises(ValueError, match="yield \\(x, y, sample_weight\\)"):
        KMeans(2).fit(dataset, sample_weight=np.ones(3))
    negative = tf.data.Dataset.from_tensor_slices((np.zeros((3, 2)), np.zeros(3), -np.ones(3))).batch(2)
    with pytest.raises(ValueError, match="non-negative"):
        KMeans(2).fit(negative)
