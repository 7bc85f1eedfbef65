"""Sample weights carried by (x, y, sample_weight) datasets, zero-weight rows in seeding, ambiguous element shapes."""

from __future__ import annotations

import contextlib
import warnings

import numpy as np
import pytest
import tensorflow as tf

from tfkmeans import KMeans, MiniBatchKMeans
from tfkmeans.exceptions import ConvergenceWarning
from tfkmeans.ops._sampling import reservoir_sample

BLOB_CENTERS = np.array([[100.0, 100.0], [110.0, 100.0], [100.0, 110.0]])


def _blobs_after_zero_weight_rows():
    """40 zero-weight rows, then 12 weight-1 rows in three tight blobs far from the origin."""
    rng = np.random.default_rng(0)
    blobs = np.repeat(BLOB_CENTERS, 4, axis=0) + rng.normal(0, 0.1, (12, 2))
    x = np.vstack([rng.normal(100, 5, (40, 2)), blobs])
    return x, np.r_[np.zeros(40), np.ones(12)]


def _triples(x, weights, batch):
    return tf.data.Dataset.from_tensor_slices((x, np.zeros(len(x)), weights)).batch(batch)


def _assert_on_the_blobs(centers):
    nearest = np.sort(np.linalg.norm(centers[:, None] - BLOB_CENTERS[None], axis=2).min(axis=0))
    np.testing.assert_array_less(nearest, 0.5)


# -- seeding a streamed fit ---------------------------------------------------------------------------


def test_reservoir_sample_returns_only_rows_of_positive_weight():
    x, weights = _blobs_after_zero_weight_rows()
    batches = tf.data.Dataset.from_tensor_slices((x, weights)).batch(10)
    rows = reservoir_sample(batches, 30, tf.constant([1, 2], tf.int64)).numpy()
    # 30 slots, 12 rows of positive weight: just those 12, no zero filler rows.
    np.testing.assert_array_equal(np.sort(rows, axis=0), np.sort(x[40:], axis=0))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_streamed_kmeans_seeds_from_positive_weight_rows_only(seed):
    x, weights = _blobs_after_zero_weight_rows()
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)  # a centre seeded at a fake zero row stays empty
        km = KMeans(3, random_state=seed).fit(_triples(x, weights, 10))
    _assert_on_the_blobs(km.cluster_centers_)
    assert km.inertia_ < 1.0


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_streamed_minibatch_seeds_from_positive_weight_rows_only(seed):
    x, weights = _blobs_after_zero_weight_rows()
    km = MiniBatchKMeans(3, batch_size=10, init_size=30, random_state=seed).fit(_triples(x, weights, 10))
    _assert_on_the_blobs(km.cluster_centers_)
    assert km.inertia_ < 1.0


@pytest.mark.parametrize("estimator", [KMeans, MiniBatchKMeans])
def test_streamed_fit_needs_n_clusters_rows_of_positive_weight(estimator):
    x = np.arange(20.0).reshape(10, 2)
    weights = np.r_[np.zeros(8), np.ones(2)]
    with pytest.raises(ValueError, match="Only 2 rows of the dataset have a positive sample weight.*n_clusters=3"):
        estimator(3, random_state=0).fit(_triples(x, weights, 4))
    # Explicit centres need no seed rows. MiniBatchKMeans moves the centre no weighted row reaches onto a
    # weighted row: two distinct clusters are left, and it says so as KMeans would.
    minibatch = estimator is MiniBatchKMeans
    with pytest.warns(ConvergenceWarning, match=r"distinct clusters \(2\)") if minibatch else contextlib.nullcontext():
        km = estimator(3, init=x[[0, 8, 9]]).fit(_triples(x, weights, 4))
    assert km.cluster_centers_.shape == (3, 2)


# -- weights of a dataset in score and partial_fit ------------------------------------------------------


def _two_blobs_half_weighted():
    rng = np.random.default_rng(1)
    x = np.vstack([rng.normal(0, 1, (20, 2)), rng.normal(10, 1, (20, 2))])
    return x, np.tile([0.0, 1.0], 20)


def test_score_uses_the_weights_of_a_dataset():
    x, weights = _two_blobs_half_weighted()
    km = KMeans(2, random_state=0).fit(x)
    expected = km.score(x, sample_weight=weights)
    assert expected > 1.5 * km.score(x)  # the weights matter: half the rows count for nothing
    assert km.score(_triples(x, weights, 10)) == pytest.approx(expected, rel=1e-6)
    # (x, y) pairs and bare features are unweighted.
    pairs = tf.data.Dataset.from_tensor_slices((x, np.zeros(len(x)))).batch(10)
    assert km.score(pairs) == pytest.approx(km.score(x), rel=1e-6)


def test_partial_fit_uses_the_weights_of_a_dataset():
    x, weights = _two_blobs_half_weighted()
    expected = MiniBatchKMeans(2, random_state=0).partial_fit(x, sample_weight=weights)
    km = MiniBatchKMeans(2, random_state=0).partial_fit(_triples(x, weights, 10))
    np.testing.assert_array_equal(km.cluster_centers_, expected.cluster_centers_)
    np.testing.assert_array_equal(km.counts_, expected.counts_)
    assert km.counts_.sum() == pytest.approx(20.0)
    assert km.inertia_ == pytest.approx(expected.inertia_, rel=1e-6)


def test_weights_given_twice_are_refused():
    x, weights = _two_blobs_half_weighted()
    km = MiniBatchKMeans(2, random_state=0).fit(x)
    with pytest.raises(ValueError, match="pass the weights one way, not both"):
        km.score(_triples(x, weights, 10), sample_weight=weights)
    with pytest.raises(ValueError, match="pass the weights one way, not both"):
        km.partial_fit(_triples(x, weights, 10), sample_weight=weights)


def test_predict_and_transform_ignore_the_weights_of_a_dataset():
    x, weights = _two_blobs_half_weighted()
    km = KMeans(2, random_state=0).fit(x)
    triples = _triples(x, weights, 10)
    rows = tf.constant(x)  # a dataset is read into a tensor: the same conversion
    np.testing.assert_array_equal(km.predict(triples), km.predict(rows))
    np.testing.assert_array_equal(km.transform(triples), km.transform(rows))


# -- initialisation subsets of an in-memory MiniBatchKMeans --------------------------------------------


def _blobs_among_zero_weight_rows():
    """30 weight-1 rows in three blobs, then 970 weight-0 rows at (50, 50)."""
    rng = np.random.default_rng(2)
    x = np.vstack([np.repeat(BLOB_CENTERS - 100, 10, axis=0) + rng.normal(0, 0.1, (30, 2)), np.full((970, 2), 50.0)])
    return x, np.r_[np.ones(30), np.zeros(970)]


@pytest.mark.parametrize("n_init", [1, 3])
def test_minibatch_init_rows_are_drawn_among_positive_weights(n_init):
    x, weights = _blobs_among_zero_weight_rows()
    km = MiniBatchKMeans(3, batch_size=10, n_init=n_init, random_state=2).fit(x, sample_weight=weights)
    _assert_on_the_blobs(km.cluster_centers_ + 100)
    assert km.inertia_ < 2.0


def test_partial_fit_init_rows_are_drawn_among_positive_weights():
    x, weights = _blobs_among_zero_weight_rows()
    km = MiniBatchKMeans(3, init_size=20, random_state=0).partial_fit(x, sample_weight=weights)
    assert km.inertia_ < 2.0


def test_positive_weights_keep_the_unweighted_draws():
    x, _ = _blobs_among_zero_weight_rows()
    unweighted = MiniBatchKMeans(3, init_size=20, init="random", random_state=0).partial_fit(x)
    weighted = MiniBatchKMeans(3, init_size=20, init="random", random_state=0)
    weighted.partial_fit(x, sample_weight=np.ones(len(x)))
    np.testing.assert_array_equal(weighted.cluster_centers_, unweighted.cluster_centers_)


# -- elements that may be single samples or batches -----------------------------------------------------


def test_elements_of_fixed_leading_size_are_read_as_batches_with_a_warning():
    images = np.random.default_rng(0).random((60, 28, 28))
    message = r"elements of shape \(28, 28\) are read as batches of 28 rows.*\.batch\(n\)"
    with pytest.warns(UserWarning, match=message) as record:
        km = KMeans(3, random_state=0, max_iter=5).fit(tf.data.Dataset.from_tensor_slices(images))
    assert km.labels_.shape == (60 * 28,)
    assert record[0].filename == __file__  # points at the caller, not at tfkmeans
    with pytest.warns(UserWarning, match=r"elements of shape \(3, 28\) are read as batches of 3 rows"):
        km.predict(tf.data.Dataset.from_tensor_slices(images[:, :3]))
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)  # batches of unknown size and single rows are unambiguous
        assert KMeans(3, random_state=0).fit(tf.data.Dataset.from_tensor_slices(images).batch(8)).labels_.shape == (60,)
        KMeans(3, random_state=0).fit(tf.data.Dataset.from_tensor_slices(images.reshape(60, -1)))
        km.predict(tf.data.Dataset.from_tensor_slices(images[0]).batch(8))
