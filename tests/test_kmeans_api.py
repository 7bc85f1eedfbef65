"""The estimator contract: inputs, parameters, seeding, determinism, degenerate data, export."""

from __future__ import annotations

import pickle
import warnings

import numpy as np
import pytest
import tensorflow as tf
from sklearn.base import clone

from tfkmeans import ConvergenceWarning, KMeans, _compiled, ops


def test_fitted_attributes_and_methods(blobs):
    x, _ = blobs
    km = KMeans(5, random_state=0).fit(x)
    assert km.cluster_centers_.shape == (5, 6) and km.cluster_centers_.dtype == np.float32
    assert km.labels_.shape == (1500,) and km.n_features_in_ == 6
    assert 1 <= km.n_iter_ <= 300
    np.testing.assert_array_equal(km.predict(x), km.labels_)
    distances = km.transform(x)
    np.testing.assert_array_equal(distances.argmin(axis=1), km.labels_)
    assert km.score(x) == pytest.approx(-km.inertia_, rel=1e-5)
    assert km.inertia_ == pytest.approx(float(np.sum(distances.min(axis=1) ** 2)), rel=1e-4)


def test_fit_predict_and_fit_transform(blobs):
    x, _ = blobs
    labels = KMeans(5, random_state=0).fit_predict(x)
    np.testing.assert_array_equal(labels, KMeans(5, random_state=0).fit(x).labels_)
    assert KMeans(5, random_state=0).fit_transform(x).shape == (1500, 5)


def test_same_random_state_same_result_and_different_seeds_differ(blobs):
    x, _ = blobs
    first = KMeans(5, init="random", n_init=1, random_state=7).fit(x)
    again = KMeans(5, init="random", n_init=1, random_state=7).fit(x)
    np.testing.assert_array_equal(first.cluster_centers_, again.cluster_centers_)
    starts = {
        tuple(KMeans(5, init="random", n_init=1, max_iter=1, random_state=s).fit(x).cluster_centers_[0])
        for s in range(4)
    }
    assert len(starts) > 1


def test_n_init_keeps_the_lowest_inertia(mnist_subset):
    x, _ = mnist_subset
    x = x[:2000]
    best = KMeans(10, init="random", n_init=4, random_state=0).fit(x)
    rng = np.random.RandomState(0)
    singles = []
    for _ in range(4):  # replay the same four seeds the multi-start fit drew
        km = KMeans(10, init="random", n_init=1, random_state=rng)
        singles.append(km.fit(x).inertia_)
    assert best.inertia_ == pytest.approx(min(singles), rel=1e-6)
    assert len(set(np.round(singles, 2))) > 1


def test_kmeans_plusplus_finds_every_separated_blob():
    from sklearn.datasets import make_blobs

    x, y = make_blobs(n_samples=2000, centers=8, n_features=4, cluster_std=0.3, center_box=(-50, 50), random_state=0)
    for seed in range(5):
        km = KMeans(8, max_iter=1, random_state=seed).fit(x)
        assert len(set(y[km.labels_ == c][0] for c in range(8))) == 8


def test_random_init_picks_distinct_rows_and_skips_zero_weight(blobs):
    x, _ = blobs
    weights = np.zeros(len(x))
    weights[:50] = 1.0
    centers, indices = ops.random_points(tf.constant(x), tf.constant(weights), 20, tf.constant([1, 2], tf.int64))
    indices = indices.numpy()
    assert len(set(indices)) == 20 and indices.max() < 50
    np.testing.assert_array_equal(centers.numpy(), x[indices])


@pytest.mark.parametrize(
    "convert",
    [
        lambda x: x.tolist(),
        lambda x: tf.constant(x),
        lambda x: tf.data.Dataset.from_tensor_slices(x).batch(128),
        lambda x: tf.data.Dataset.from_tensor_slices((x, np.zeros(len(x)))).batch(100),
        lambda x: x.astype(np.float32),
    ],
    ids=["list", "tensor", "dataset", "dataset_xy", "float32"],
)
def test_input_types_give_the_same_fit(blobs, convert):
    x, _ = blobs
    init = x[:5]
    reference = KMeans(5, init=init).fit(x)
    other = KMeans(5, init=init).fit(convert(x))
    np.testing.assert_array_equal(other.labels_, reference.labels_)
    np.testing.assert_allclose(other.cluster_centers_, reference.cluster_centers_, rtol=1e-6)


def test_uint8_images_are_flattened():
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, size=(300, 28, 28), dtype=np.uint8)
    km = KMeans(3, random_state=0).fit(images)
    assert km.cluster_centers_.shape == (3, 784) and km.n_features_in_ == 784
    np.testing.assert_array_equal(km.predict(images), km.predict(images.reshape(300, -1)))


def test_float64_on_request(blobs):
    x, _ = blobs
    km = KMeans(5, dtype="float64", random_state=0).fit(x.astype(np.float32))
    assert km.cluster_centers_.dtype == np.float64


def test_duplicate_points_warn_and_stay_finite():
    x = np.repeat(np.array([[0.0, 0.0], [1.0, 1.0], [5.0, 5.0]]), 20, axis=0)
    for init in ("k-means++", "random"):
        with pytest.warns(ConvergenceWarning, match="distinct clusters"):
            km = KMeans(5, init=init, random_state=0).fit(x)
        assert np.isfinite(km.cluster_centers_).all()
        assert km.inertia_ == pytest.approx(0.0, abs=1e-6)


def test_all_points_identical_never_nan():
    x = np.ones((10, 3))
    with pytest.warns(ConvergenceWarning):
        km = KMeans(4, init="random", random_state=0, max_iter=50).fit(x)
    assert np.isfinite(km.cluster_centers_).all() and km.inertia_ == 0.0
    assert km.n_iter_ <= 50


def test_get_set_params_and_sklearn_clone():
    km = KMeans(3, tol=0.0, random_state=4)
    params = km.get_params()
    assert params["n_clusters"] == 3 and params["tol"] == 0.0 and params["distance"] == "matmul"
    assert km.set_params(n_clusters=5) is km and km.n_clusters == 5
    with pytest.raises(ValueError, match="Invalid parameter"):
        km.set_params(clusters=5)
    copy = clone(km)
    assert copy is not km and copy.get_params() == km.get_params()
    assert repr(km) == "KMeans(n_clusters=5, tol=0.0, random_state=4)"


def test_refit_with_other_shape(blobs):
    x, _ = blobs
    km = KMeans(5, random_state=0).fit(x)
    km.set_params(n_clusters=3).fit(x[:, :4])
    assert km.cluster_centers_.shape == (3, 4)
    assert km.predict(x[:10, :4]).max() < 3


def test_saved_model_round_trip(blobs, tmp_path):
    x, _ = blobs
    km = KMeans(5, random_state=0).fit(x)
    tf.saved_model.save(km, str(tmp_path / "model"))
    restored = tf.saved_model.load(str(tmp_path / "model"))
    queries = tf.constant(x[:200], tf.float32)
    np.testing.assert_array_equal(restored.predict(queries).numpy(), km.predict(x[:200]))
    np.testing.assert_allclose(restored.transform(queries).numpy(), km.transform(x[:200]), rtol=1e-6)
    np.testing.assert_array_equal(restored.centers.numpy(), km.cluster_centers_)


def test_pickle_round_trip(blobs):
    x, _ = blobs
    km = KMeans(5, random_state=0).fit(x)
    restored = pickle.loads(pickle.dumps(km))
    np.testing.assert_array_equal(restored.predict(x), km.labels_)
    assert restored.inertia_ == km.inertia_ and restored.get_params() == km.get_params()


@pytest.mark.parametrize("algorithm, compiled_name", [("lloyd", "lloyd"), ("auto", "lloyd_bounded")])
def test_whole_fit_is_one_graph_call_whatever_max_iter(blobs, monkeypatch, algorithm, compiled_name):
    """The Lloyd loop runs in the graph: one call per run, no retracing when max_iter changes."""
    x, _ = blobs
    calls = []
    compiled = getattr(_compiled, compiled_name)

    def counting(*args, **kwargs):
        calls.append(1)
        return compiled(*args, **kwargs)

    monkeypatch.setattr(_compiled, compiled_name, counting)
    KMeans(5, init=x[:5], max_iter=3, tol=0.0, algorithm=algorithm).fit(x)
    traces = compiled.experimental_get_tracing_count()
    for max_iter in (10, 100):
        km = KMeans(5, init=x[:5], max_iter=max_iter, tol=0.0, algorithm=algorithm).fit(x)
        assert km.n_iter_ > 3
    assert len(calls) == 3
    assert compiled.experimental_get_tracing_count() == traces


def test_fits_on_data_of_other_sizes_reuse_the_traced_graph(blobs):
    """Graphs are traced with every dimension unknown: other rows, features or clusters trace nothing new."""
    from sklearn.cluster import KMeans as SklearnKMeans

    x, _ = blobs
    KMeans(5, init=x[:5]).fit(x)
    traces = _compiled.lloyd_bounded.experimental_get_tracing_count()
    for data, k in ((x[:1000], 5), (x[:, :4], 5), (x, 8)):
        km = KMeans(k, init=data[:k]).fit(data)
        reference = SklearnKMeans(k, init=data[:k], n_init=1, algorithm="lloyd").fit(data)
        np.testing.assert_array_equal(km.labels_, reference.labels_)
        assert km.inertia_ == pytest.approx(reference.inertia_, rel=1e-6)
    assert _compiled.lloyd_bounded.experimental_get_tracing_count() == traces


def test_verbose_prints_iterations(blobs, capfd):
    x, _ = blobs
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        KMeans(5, init=x[:5], max_iter=3, tol=0.0, verbose=1).fit(x)
    printed = capfd.readouterr().err
    assert [line for line in printed.splitlines() if line.startswith("tfkmeans:")] == [
        line for i in (1, 2, 3) for line in printed.splitlines() if line.startswith(f"tfkmeans: run 1 iteration {i} ")
    ] and printed.count("tfkmeans: run 1 iteration") == 3


def test_single_cluster_is_the_weighted_mean(blobs):
    x, _ = blobs
    weights = np.random.default_rng(2).uniform(size=len(x))
    km = KMeans(1, dtype="float64").fit(x, sample_weight=weights)
    np.testing.assert_allclose(km.cluster_centers_[0], np.average(x, axis=0, weights=weights), rtol=1e-10)
    assert km.inertia_ == pytest.approx(float(weights @ ((x - km.cluster_centers_[0]) ** 2).sum(1)), rel=1e-10)


def test_tensorboard_curves_follow_the_iterations(blobs, tmp_path):
    x, _ = blobs
    km = KMeans(5, init=x[:5], tol=0.0, log_dir=str(tmp_path)).fit(x)
    inertia, shift = [], []
    for path in (tmp_path / "fit-1").glob("events.out.tfevents.*"):
        for record in tf.data.TFRecordDataset(str(path)):
            event = tf.compat.v1.Event.FromString(record.numpy())
            for value in event.summary.value:
                number = float(tf.make_ndarray(value.tensor))
                target = inertia if value.tag == "kmeans/run_0/inertia" else shift
                target.append((event.step, number))
    assert [step for step, _ in sorted(inertia)] == list(range(1, km.n_iter_ + 1))
    values = [v for _, v in sorted(inertia)]
    assert all(b <= a * (1 + 1e-6) for a, b in zip(values, values[1:]))  # Lloyd never increases inertia
    assert values[-1] == pytest.approx(km.inertia_, rel=1e-4)
    assert sorted(shift)[-1][1] == 0.0  # tol=0: the last update moved nothing


def test_saved_model_of_data_far_from_the_origin(tmp_path):
    """The exported predict moves queries next to the centres as KMeans.predict does (float32 at 1e4)."""
    rng = np.random.default_rng(0)
    x = np.concatenate([rng.normal(0, 0.05, (100, 2)), rng.normal(0, 0.05, (100, 2)) + [0.5, 0]]) + 1e4
    km = KMeans(2, init=x[[0, 199]]).fit(x)
    np.testing.assert_array_equal(np.bincount(km.predict(x)), [100, 100])
    tf.saved_model.save(km, str(tmp_path / "model"))
    restored = tf.saved_model.load(str(tmp_path / "model"))
    np.testing.assert_array_equal(restored.predict(tf.constant(x, tf.float32)).numpy(), km.labels_)
