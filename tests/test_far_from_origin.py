"""Data far from the origin: both estimators move them next to it, as scikit-learn centres X, and queries alike.

In float32, ``||x||²`` of points at 1e4 (2e8) swamps the differences of their
distances to centres 0.1 apart, so without the move every point goes to one
cluster. The oracle is scikit-learn's MiniBatchKMeans and KMeans on the same
data in float64, and the clusters the data were drawn from.
"""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf
from sklearn.cluster import KMeans as SkKMeans
from sklearn.cluster import MiniBatchKMeans as SkMiniBatchKMeans

from tfkmeans import KMeans, MiniBatchKMeans

BATCH = 100
FAR = 1e4


def two_far_clusters(n=1000, seed=0):
    """Two clusters at 1e4 - 0.05 and 1e4 + 0.05 in both coordinates (spread 0.01), float64; the true labels."""
    rng = np.random.default_rng(seed)
    truth = np.repeat([0, 1], n // 2)
    x = FAR + np.where(truth[:, None] == 0, -0.05, 0.05) + rng.normal(0, 0.01, (n, 2))
    return x, truth


def agreement(labels, truth):
    """Share of points labelled as in ``truth``, up to the clusters' numbering (two clusters)."""
    same = float(np.mean(labels == truth))
    return max(same, 1.0 - same)


def assert_same_centres(ours, reference, atol):
    """Centres equal up to their order (two clusters: sorted by the first coordinate)."""
    order = lambda c: c[np.argsort(c[:, 0])]  # noqa: E731
    np.testing.assert_allclose(order(np.asarray(ours)), order(np.asarray(reference)), rtol=0, atol=atol)


@pytest.fixture(scope="module")
def reference():
    x, truth = two_far_clusters()
    sk = SkMiniBatchKMeans(2, batch_size=BATCH, random_state=0, n_init=1).fit(x)
    assert agreement(sk.labels_, truth) == 1.0  # the oracle clusters them exactly
    return x, truth, sk


def test_minibatch_in_memory_matches_sklearn(reference):
    x, truth, sk = reference
    km = MiniBatchKMeans(2, batch_size=BATCH, random_state=0).fit(x)
    assert agreement(km.labels_, truth) == 1.0
    np.testing.assert_array_equal(km.predict(x), km.labels_)
    np.testing.assert_array_equal(km.transform(x).argmin(axis=1), km.labels_)
    # Reported in the caller's coordinates; equal to scikit-learn's up to the mini-batches' noise.
    assert_same_centres(km.cluster_centers_, sk.cluster_centers_, atol=5e-3)
    assert km.inertia_ == pytest.approx(sk.inertia_, rel=0.02)
    assert km.score(x) == pytest.approx(-km.inertia_, rel=1e-3)
    np.testing.assert_allclose(km.origin.numpy(), x.mean(axis=0), rtol=1e-6)


def test_minibatch_dataset_matches_sklearn(reference):
    x, truth, sk = reference
    dataset = tf.data.Dataset.from_tensor_slices(x).shuffle(len(x), seed=0, reshuffle_each_iteration=False).batch(BATCH)
    km = MiniBatchKMeans(2, batch_size=BATCH, random_state=0).fit(dataset)
    # labels_ follow the dataset's order: compare predictions of x with the truth.
    assert agreement(km.predict(x), truth) == 1.0
    assert_same_centres(km.cluster_centers_, sk.cluster_centers_, atol=5e-3)
    assert km.inertia_ == pytest.approx(sk.inertia_, rel=0.02)
    np.testing.assert_allclose(km.origin.numpy(), x.mean(axis=0), rtol=1e-6)  # the moments' mean


def test_minibatch_partial_fit_matches_sklearn_and_keeps_the_first_origin(reference):
    x, truth, _ = reference
    batches = np.array_split(np.random.default_rng(1).permutation(len(x)), 10)
    ours = MiniBatchKMeans(2, random_state=0)
    sk = SkMiniBatchKMeans(2, random_state=0, n_init=1)
    ours.partial_fit(x[batches[0]])
    sk.partial_fit(x[batches[0]])
    first_origin = ours.origin.numpy()
    np.testing.assert_allclose(first_origin, x[batches[0]].mean(axis=0), rtol=1e-6)
    for rows in batches[1:]:
        ours.partial_fit(x[rows])
        sk.partial_fit(x[rows])
        np.testing.assert_array_equal(ours.origin.numpy(), first_origin)  # fixed on the first call
        # labels_ of each step describe its batch under the updated centres, as predict does.
        np.testing.assert_array_equal(ours.labels_, ours.predict(x[rows]))
    assert agreement(ours.predict(x), truth) == 1.0
    assert agreement(sk.predict(x), truth) == 1.0
    assert_same_centres(ours.cluster_centers_, sk.cluster_centers_, atol=5e-3)
    assert ours.counts_.sum() == len(x)


def test_explicit_init_is_moved_with_the_data(reference):
    """An init array is in the caller's coordinates: from the true centres, the fit stays at them."""
    x, truth, _ = reference
    centres = np.array([[FAR - 0.05, FAR - 0.05], [FAR + 0.05, FAR + 0.05]])
    km = MiniBatchKMeans(2, init=centres, batch_size=BATCH, random_state=0).fit(x)
    np.testing.assert_array_equal(km.labels_, truth)
    assert_same_centres(km.cluster_centers_, centres, atol=5e-3)
    first = MiniBatchKMeans(2, init=centres, random_state=0).partial_fit(x)
    np.testing.assert_array_equal(first.labels_, truth)


def test_kmeans_keeps_its_origin_and_moves_nothing_near_zero(reference):
    x, truth, _ = reference
    km = KMeans(2, random_state=0).fit(x)
    assert agreement(km.labels_, truth) == 1.0
    sk = SkKMeans(2, init=km.cluster_centers_.astype(np.float64), n_init=1).fit(x)
    np.testing.assert_array_equal(km.labels_, sk.labels_)
    assert_same_centres(km.cluster_centers_, sk.cluster_centers_, atol=2e-3)
    np.testing.assert_allclose(km.origin.numpy(), x.mean(axis=0), rtol=1e-6)
    near = KMeans(2, random_state=0).fit(x - FAR)
    np.testing.assert_array_equal(near.origin.numpy(), [0.0, 0.0])  # not far from zero: not moved


def test_centres_set_directly_move_queries_by_their_mean(reference):
    x, truth, _ = reference
    km = MiniBatchKMeans(2)
    km.cluster_centers_ = [[FAR - 0.05, FAR - 0.05], [FAR + 0.05, FAR + 0.05]]
    np.testing.assert_allclose(km.origin.numpy(), [FAR, FAR])
    np.testing.assert_array_equal(km.predict(x), truth)
    km.partial_fit(x)  # continues from them, about the same origin
    np.testing.assert_allclose(km.origin.numpy(), [FAR, FAR])
    np.testing.assert_array_equal(km.labels_, truth)


def test_saved_model_and_checkpoint_keep_the_origin(reference, tmp_path):
    x, truth, _ = reference
    km = MiniBatchKMeans(2, batch_size=BATCH, random_state=0, checkpoint_dir=str(tmp_path / "ckpt")).fit(x)
    assert agreement(km.labels_, truth) == 1.0
    stored = tf.train.load_checkpoint(str(tmp_path / "ckpt")).get_tensor("origin/.ATTRIBUTES/VARIABLE_VALUE")
    np.testing.assert_array_equal(stored, km.origin.numpy())
    # Refitting into the same directory resumes at the saved final state: the same centres.
    again = MiniBatchKMeans(2, batch_size=BATCH, random_state=0, checkpoint_dir=str(tmp_path / "ckpt")).fit(x)
    np.testing.assert_array_equal(again.cluster_centers_, km.cluster_centers_)

    tf.saved_model.save(km, str(tmp_path / "model"))
    restored = tf.saved_model.load(str(tmp_path / "model"))
    np.testing.assert_array_equal(restored.origin.numpy(), km.origin.numpy())
    np.testing.assert_array_equal(restored.predict(x).numpy(), km.labels_)
    np.testing.assert_allclose(restored.transform(x).numpy(), km.transform(x), rtol=1e-5, atol=1e-6)
