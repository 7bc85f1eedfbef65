"""algorithm='elkan' (ops.lloyd_bounded): Lloyd's labels and iterations while skipping settled points."""

import numpy as np
import pytest
import tensorflow as tf
from sklearn.cluster import kmeans_plusplus
from test_kmeans_oracle import assert_same_clustering, fit_both

from tfkmeans import KMeans, ops
from tfkmeans.ops import _bounds


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("tol", [1e-4, 0.0])
def test_mnist_subset_matches_sklearn(mnist_subset, dtype, tol):
    x, _ = mnist_subset
    init, _ = kmeans_plusplus(x, 10, random_state=0)
    ours, reference = fit_both(x, init, dtype=dtype, tol=tol, algorithm="elkan")
    assert reference.n_iter_ > 10
    assert_same_clustering(ours, reference, dtype)


@pytest.mark.parametrize("algorithm", ["elkan", "yinyang"])
@pytest.mark.parametrize("case", ["weights", "empty_cluster", "max_iter"])
def test_blobs_match_sklearn(blobs, case, algorithm):
    x, _ = blobs
    init, _ = kmeans_plusplus(x, 5, random_state=4)
    options = {}
    if case == "weights":
        options["sample_weight"] = np.random.default_rng(0).uniform(0.1, 3.0, size=len(x))
        options["sample_weight"][::17] = 0.0
    elif case == "empty_cluster":
        init[2] = 1e3  # nobody's nearest centre: re-seeded from the farthest point
    else:
        options.update(max_iter=2, tol=0.0)
    ours, reference = fit_both(x, init, dtype="float64", algorithm=algorithm, **options)
    assert_same_clustering(ours, reference, "float64")
    assert np.isfinite(ours.cluster_centers_).all()


def test_cluster_emptied_by_moves_is_re_seeded_in_float32():
    """A cluster whose last points move away mid-fit is re-seeded as Lloyd does: emptiness is an exact
    member count, whatever rounding residue the running totals keep (fractional weights do not add up
    exactly in float32)."""
    rng = np.random.default_rng(0)
    # Centre 1 starts with the points 2.9 and 9.0 only; their weighted mean, 7.22, is nearer to neither
    # of them than the other centres (0 and 10) are after the first update, so both leave in iteration 2.
    x = np.concatenate([rng.uniform(-0.5, 0.5, 50), [2.9, 9.0], rng.uniform(9.5, 10.5, 50)])[:, None]
    weights = rng.uniform(0.1, 0.9, len(x))
    weights[50:52] = 0.35, 0.85
    init = np.array([[-2.0], [5.8], [13.0]])
    fits = {
        algorithm: KMeans(3, init=init, algorithm=algorithm, tol=0.0).fit(x.astype(np.float32), sample_weight=weights)
        for algorithm in ("lloyd", "elkan")
    }
    lloyd, elkan = fits["lloyd"], fits["elkan"]
    np.testing.assert_array_equal(np.bincount(lloyd.labels_, minlength=3), [50, 1, 51])  # re-seeded at 2.9
    np.testing.assert_array_equal(elkan.labels_, lloyd.labels_)
    # Centres are updated about the data's mean (≈ 5) and moved back: a few float32 ulps of 5, absolute.
    np.testing.assert_allclose(
        elkan.cluster_centers_, lloyd.cluster_centers_, rtol=1e-6, atol=4 * np.spacing(np.float32(5))
    )
    assert elkan.inertia_ == pytest.approx(lloyd.inertia_, rel=1e-6)
    # After a re-seeding the bounded loop rebuilds its float64 totals from a fresh pass, and with tol=0
    # the last-bit difference from the re-seeded centres can cost it one more iteration.
    assert lloyd.n_iter_ <= elkan.n_iter_ <= lloyd.n_iter_ + 1


@pytest.mark.parametrize("k", [10, 40])
def test_same_iterations_as_lloyd(mnist_subset, k):
    """In float64; in float32 the running float64 sums and Lloyd's float32 chunk sums
    round the centres differently in the last bit, which can flip a near-tie a few
    iterations later (the float32 runs are held to scikit-learn's result above)."""
    x, _ = mnist_subset
    x = x.astype(np.float64)
    init = tf.constant(x[:: len(x) // k][:k])
    x, weights = tf.constant(x), tf.ones([len(x)], tf.float64)
    lloyd = ops.lloyd(x, weights, init, tf.constant(300), tf.constant(0.0, tf.float64), chunk_size=1024)
    bounded = ops.lloyd_bounded(x, weights, init, tf.constant(300), tf.constant(0.0, tf.float64), chunk_size=1024)
    assert int(bounded.n_iter) == int(lloyd.n_iter) > 10
    np.testing.assert_array_equal(bounded.labels.numpy(), lloyd.labels.numpy())
    np.testing.assert_allclose(bounded.centers.numpy(), lloyd.centers.numpy(), atol=1e-12)
    # The per-iteration inertia comes from the cluster sums, not from every distance.
    np.testing.assert_allclose(bounded.history.numpy()[:, 0], lloyd.history.numpy()[:, 0], rtol=1e-4)


@pytest.mark.parametrize("path", ["gathered", "full pass"])
def test_refresh_re_measures_only_unsettled_points(mnist_subset, path):
    x, _ = mnist_subset
    x = tf.constant(x.astype(np.float64))  # float64: the reference distances must be exact near 0 too
    weights = tf.constant(np.random.default_rng(0).uniform(0.5, 2.0, size=x.shape[0]))
    norms = ops.squared_norms(x)
    centers = tf.constant(x[:10])
    bounds = _bounds.full_bounds(x, weights, centers, norms, 1024)
    # A small move in random directions (0.03 per centre, pixel norms are about 9):
    # the bounds settle all but a few percent of the points, and a few change cluster.
    directions = np.random.default_rng(1).normal(size=centers.shape)
    moved = centers + 0.03 * directions / np.linalg.norm(directions, axis=1, keepdims=True)
    # dense_share 0 measures every point in one chunked pass; 1 never does.
    refreshed, measured = _bounds.refresh_bounds(
        x, weights, norms, tf.sqrt(norms), bounds, centers, moved, 1024, dense_share=1.0 if path == "gathered" else 0.0
    )
    exact = _bounds.full_bounds(x, weights, moved, norms, 1024)
    if path == "gathered":
        assert 0 < int(measured) < 0.1 * x.shape[0]
    else:
        assert int(measured) == x.shape[0]
        np.testing.assert_allclose(refreshed.lower.numpy(), exact.lower.numpy(), rtol=1e-12)
    assert (refreshed.labels.numpy() != bounds.labels.numpy()).any(), "the move must change some labels"
    np.testing.assert_array_equal(refreshed.labels.numpy(), exact.labels.numpy())
    np.testing.assert_allclose(refreshed.totals.sums.numpy(), exact.totals.sums.numpy(), rtol=1e-9, atol=1e-6)
    np.testing.assert_allclose(refreshed.totals.weights.numpy(), exact.totals.weights.numpy(), rtol=1e-12)
    np.testing.assert_array_equal(refreshed.totals.members.numpy(), np.bincount(exact.labels.numpy(), minlength=10))
    # Bounds stay bounds: upper ≥ true distance to the own centre, lower ≤ every true distance.
    assert (refreshed.upper.numpy() >= exact.upper.numpy() - 1e-6).all()
    assert (refreshed.lower.numpy() <= exact.lower.numpy() + 1e-6).all()


def test_auto_is_the_default_and_keeps_bounds_for_one_run_in_memory(mnist_subset, capfd):
    x, _ = mnist_subset
    init, _ = kmeans_plusplus(x, 10, random_state=0)
    assert KMeans().algorithm == "auto"
    ours, reference = fit_both(x, init, dtype="float32", algorithm="auto")
    assert_same_clustering(ours, reference, "float32")
    KMeans(10, init=init, max_iter=3, verbose=1).fit(x)
    assert "share of points measured" in capfd.readouterr().err  # only the bounded loop reports it


@pytest.mark.parametrize("case", ["expand", "dataset", "bounds larger than data and budget", "checkpointed"])
def test_auto_falls_back_to_lloyd(blobs, capfd, monkeypatch, tmp_path, case):
    x, _ = blobs
    x = x.astype(np.float32)
    options = dict(n_clusters=8, max_iter=3, verbose=1, random_state=0)  # 8 clusters > 6 features
    data = x
    if case == "expand":
        options["distance"] = "expand"
    elif case == "dataset":
        data = tf.data.Dataset.from_tensor_slices(x).batch(256)
    elif case == "bounds larger than data and budget":
        # Even Yinyang's group bounds (one per 50 centres) exceed the 6 features.
        options["n_clusters"] = 350
        monkeypatch.setattr("tfkmeans._kmeans._AUTO_MAX_BOUNDS_BYTES", 1000)
    else:
        options.update(checkpoint_dir=str(tmp_path), checkpoint_every=1000)
    reference = KMeans(**{**options, "algorithm": "lloyd"}).fit(data)
    if case == "checkpointed":
        options["checkpoint_dir"] = str(tmp_path / "auto")
    capfd.readouterr()
    auto = KMeans(**options).fit(data)
    assert "share of points measured" not in capfd.readouterr().err
    np.testing.assert_array_equal(auto.labels_, reference.labels_)
    np.testing.assert_array_equal(auto.cluster_centers_, reference.cluster_centers_)


def test_auto_keeps_bounds_within_budget(blobs, capfd):
    """Bounds larger than the data (8 clusters, 6 features) are still kept under the 1 GiB budget."""
    x, _ = blobs
    KMeans(8, max_iter=3, verbose=1, random_state=0).fit(x)
    assert "share of points measured" in capfd.readouterr().err


@pytest.mark.parametrize("algorithm", ["elkan", "auto"])
def test_n_init_runs_one_after_the_other(mnist_subset, capfd, algorithm):
    x, _ = mnist_subset
    x = x[:2000]
    bounded = KMeans(6, n_init=3, random_state=0, algorithm=algorithm, verbose=1).fit(x)
    printed = capfd.readouterr().err
    # Bounded, one by one: each run counts its own iterations from 1.
    assert "share of points measured" in printed and all(
        f"tfkmeans: run {r} iteration 1 " in printed for r in (1, 2, 3)
    )
    lloyd = KMeans(6, n_init=3, random_state=0, algorithm="lloyd").fit(x)
    np.testing.assert_array_equal(bounded.labels_, lloyd.labels_)
    assert bounded.inertia_ == pytest.approx(lloyd.inertia_, rel=1e-6)
    assert bounded.n_iter_ == lloyd.n_iter_


@pytest.mark.parametrize(
    "params, data, message",
    [
        (dict(algorithm="hamerly"), "array", "algorithm must be one of"),
        (dict(algorithm="elkan", distance="expand"), "array", "distance='matmul'"),
        (dict(algorithm="elkan"), "dataset", "needs the data in memory"),
        (dict(algorithm="yinyang", distance="expand"), "array", "distance='matmul'"),
        (dict(algorithm="yinyang"), "dataset", "needs the data in memory"),
    ],
)
def test_bad_algorithm_settings_are_named(blobs, params, data, message):
    x, _ = blobs
    X = tf.data.Dataset.from_tensor_slices(x.astype(np.float32)).batch(100) if data == "dataset" else x
    with pytest.raises(ValueError, match=message):
        KMeans(3, **params).fit(X)
