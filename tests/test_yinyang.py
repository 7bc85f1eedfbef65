"""algorithm='yinyang' (Yinyang's group bounds): Lloyd's labels and iterations in n × k/50 memory."""

import numpy as np
import pytest
import tensorflow as tf
from sklearn.cluster import KMeans as SkKMeans
from sklearn.cluster import kmeans_plusplus
from test_kmeans_oracle import assert_same_clustering, fit_both

from tfkmeans import KMeans, _compiled, ops
from tfkmeans.ops import _chunking
from tfkmeans.ops._yinyang import full_group_bounds, group_centers, refresh_group_bounds


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_mnist_subset_matches_sklearn(mnist_subset, dtype):
    x, _ = mnist_subset
    init, _ = kmeans_plusplus(x, 40, random_state=0)
    ours, reference = fit_both(x, init, dtype=dtype, tol=0.0, algorithm="yinyang")
    assert reference.n_iter_ > 10
    assert_same_clustering(ours, reference, dtype)


def test_float32_sample_weights_match_sklearn(blobs):
    """Weighted, zero weights included, in float32 (tests/test_bounds.py covers the other cases for both bounds)."""
    x, _ = blobs
    weights = np.random.default_rng(0).uniform(0.1, 3.0, size=len(x))
    weights[::17] = 0.0
    init, _ = kmeans_plusplus(x, 5, random_state=2)
    ours, reference = fit_both(x, init, dtype="float32", sample_weight=weights, algorithm="yinyang")
    assert reference.n_iter_ > 2
    assert_same_clustering(ours, reference, "float32")


@pytest.mark.parametrize("n_clusters", [1, "n"])
def test_one_cluster_and_one_cluster_per_point(blobs, n_clusters):
    x, _ = blobs
    x = x[:60]
    k = len(x) if n_clusters == "n" else 1
    init = x[:k]
    ours, reference = fit_both(x, init, dtype="float64", algorithm="yinyang")
    assert_same_clustering(ours, reference, "float64")
    if k == len(x):
        np.testing.assert_array_equal(ours.labels_, np.arange(len(x)))
        assert ours.inertia_ == pytest.approx(0.0, abs=1e-9)


def test_duplicate_points_and_centres(blobs):
    """Equal distances go to the lower centre index, as Lloyd's argmin; the twin centre empties and is re-seeded.

    Held to this package's Lloyd: with duplicate points the farthest point that re-seeds a cluster is a
    tie, which scikit-learn breaks in another order.
    """
    x, _ = blobs
    x = np.concatenate([x[:200], x[:200], x[:50]])
    init = np.concatenate([x[:10], x[:1]])  # centre 10 duplicates centre 0
    lloyd = KMeans(11, init=init, dtype="float64", algorithm="lloyd").fit(x)
    yinyang = KMeans(11, init=init, dtype="float64", algorithm="yinyang").fit(x)
    np.testing.assert_array_equal(yinyang.labels_, lloyd.labels_)
    assert yinyang.n_iter_ == lloyd.n_iter_ > 2
    np.testing.assert_allclose(yinyang.cluster_centers_, lloyd.cluster_centers_, rtol=0, atol=1e-12)
    assert yinyang.inertia_ == pytest.approx(lloyd.inertia_, rel=1e-12)


@pytest.mark.parametrize(("n_groups", "dtype"), [(1, tf.float64), (7, tf.float32), (100, tf.float64)])
def test_same_labels_and_iterations_as_lloyd_on_mnist(mnist_subset, dtype, n_groups):
    """k = 100 from evenly spaced points; any grouping (1 group: Hamerly's single bound; 100: one centre
    per group) gives Lloyd's run, in either precision."""
    x, _ = mnist_subset
    x = tf.constant(x[:3000], dtype)
    init = x[::30]
    weights = tf.ones([x.shape[0]], dtype)
    tol = tf.constant(0.0, dtype)
    # Compiled as the estimators run them (eagerly, every group's loop would run in Python).
    lloyd = _compiled.lloyd(x, weights, init, tf.constant(300), tol, chunk_size=1024)
    yinyang = _compiled.lloyd_yinyang(x, weights, init, tf.constant(300), tol, chunk_size=1024, n_groups=n_groups)
    assert int(yinyang.n_iter) == int(lloyd.n_iter) > 10
    np.testing.assert_array_equal(yinyang.labels.numpy(), lloyd.labels.numpy())
    atol = 1e-5 if dtype == tf.float32 else 1e-12
    np.testing.assert_allclose(yinyang.centers.numpy(), lloyd.centers.numpy(), atol=atol)
    np.testing.assert_allclose(yinyang.history.numpy()[:, :2], lloyd.history.numpy(), rtol=1e-4, atol=atol)
    share = yinyang.history.numpy()[:, 2]
    assert share[0] == 1.0  # the first assignment measures every distance
    assert 0.0 < share[-1] < 0.5  # the last ones few


def test_refresh_keeps_exact_labels_and_valid_bounds(mnist_subset):
    x, _ = mnist_subset
    x = tf.constant(x.astype(np.float64))
    weights = tf.constant(np.random.default_rng(0).uniform(0.5, 2.0, size=x.shape[0]))
    norms = ops.squared_norms(x)
    centers = tf.constant(x[:50])
    groups = group_centers(centers, 5)
    bounds, totals = full_group_bounds(x, weights, centers, norms, groups, 1024)
    bounds = bounds._replace(totals=totals)
    directions = np.random.default_rng(1).normal(size=centers.shape)
    moved = centers + 0.3 * directions / np.linalg.norm(directions, axis=1, keepdims=True)
    refreshed, computed = refresh_group_bounds(x, weights, norms, tf.sqrt(norms), groups, bounds, centers, moved, 1024)
    exact, exact_totals = full_group_bounds(x, weights, moved, norms, groups, 1024)
    assert 0 < int(computed) < 0.3 * x.shape[0] * 50
    assert (refreshed.labels.numpy() != bounds.labels.numpy()).any(), "the move must change some labels"
    np.testing.assert_array_equal(refreshed.labels.numpy(), exact.labels.numpy())
    np.testing.assert_allclose(refreshed.totals.sums.numpy(), exact_totals.sums.numpy(), rtol=1e-9, atol=1e-6)
    np.testing.assert_array_equal(refreshed.totals.members.numpy(), exact_totals.members.numpy())
    assert (refreshed.upper.numpy() >= exact.upper.numpy() - 1e-9).all()
    assert (refreshed.lower.numpy() <= exact.lower.numpy() + 1e-9).all()


def test_groups_partition_the_centres():
    centers = tf.constant(np.random.default_rng(0).normal(size=(37, 3)))
    groups = group_centers(centers, 5)
    members, splits = groups.members.numpy(), groups.splits.numpy()
    np.testing.assert_array_equal(np.sort(members), np.arange(37))
    assert splits[0] == 0 and splits[-1] == 37 and len(splits) == 6
    for group in range(5):
        inside = members[splits[group] : splits[group + 1]]
        assert (np.diff(inside) > 0).all()
        assert (groups.of_center.numpy()[inside] == group).all()


@pytest.mark.parametrize(
    "n_samples, n_features, n_clusters, expected",
    [
        (60_000, 784, 10, "elkan"),  # Elkan's n × k bounds are smaller than the data
        (60_000, 784, 100, "elkan"),  # few clusters
        (60_000, 784, 1000, "yinyang"),  # many clusters: group bounds, though Elkan's would fit
        (600_000, 784, 1000, "yinyang"),  # Elkan's 2.4 GB would exceed the data and the budget
        (600_000, 784, 50, "elkan"),
        (10_000_000, 2, 10_000, "lloyd"),  # even the group bounds exceed the budget
    ],
)
def test_auto_chooses_by_clusters_and_memory(n_samples, n_features, n_clusters, expected):
    estimator = KMeans(n_clusters)
    estimator._check_common_params(n_samples)  # validates n_clusters, as fit does first
    assert estimator._single_run_algorithm(n_samples, n_features) == expected


def test_auto_runs_yinyang_when_elkan_bounds_do_not_fit(blobs, capfd, monkeypatch):
    x, _ = blobs
    monkeypatch.setattr("tfkmeans._kmeans._AUTO_MAX_BOUNDS_BYTES", 1000)
    init, _ = kmeans_plusplus(x, 20, random_state=0)  # 20 clusters > 6 features: Elkan's bounds exceed the data
    auto = KMeans(20, init=init, dtype="float64", verbose=1).fit(x)
    assert "share of distances computed" in capfd.readouterr().err
    assert auto.distance_shares_.shape == (auto.n_iter_,) and auto.distance_shares_[0] == 1.0
    # The upper bounds' tightening adds at most one distance per point to a full pass.
    assert np.all((auto.distance_shares_ > 0) & (auto.distance_shares_ <= 1 + 1 / 20))
    assert np.min(auto.distance_shares_) < 0.5  # the bounds spare distances once the fit settles
    assert KMeans(20, init=init, algorithm="elkan").fit(x).distance_shares_ is None
    reference = SkKMeans(20, init=init, n_init=1, algorithm="lloyd").fit(x)
    assert_same_clustering(auto, reference, "float64")


@pytest.mark.parametrize("n_clusters", [10, 1000])
def test_auto_chooses_lloyd_and_large_chunks_on_a_gpu(monkeypatch, n_clusters):
    """On a GPU the dense pass is one long GEMM: 'auto' keeps it at every k, with chunks far above the CPU's."""
    estimator = KMeans(n_clusters)
    estimator._check_common_params(60_000)
    cpu_chunk = estimator._chunk_size(784)
    assert estimator._single_run_algorithm(60_000, 784) != "lloyd"
    monkeypatch.setattr("tfkmeans._kmeans.compute_device_type", lambda: "GPU")
    monkeypatch.setattr("tfkmeans._base.compute_device_type", lambda: "GPU")
    assert estimator._single_run_algorithm(60_000, 784) == "lloyd"
    assert estimator._chunk_size(784) == 2**26 // n_clusters > cpu_chunk


def test_compute_device_type_follows_tf_device_scopes():
    assert _chunking.compute_device_type() == ("GPU" if tf.config.list_logical_devices("GPU") else "CPU")
    with tf.device("/CPU:0"):
        assert _chunking.compute_device_type() == "CPU"
