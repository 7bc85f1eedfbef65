"""With the same initial centres, tfkmeans reaches scikit-learn's Lloyd result."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf
from sklearn.cluster import KMeans as SkKMeans
from sklearn.cluster import kmeans_plusplus

from tfkmeans import KMeans

# Relative inertia tolerance per precision, as promised in the README.
RTOL = {"float32": 1e-4, "float64": 1e-6}


def fit_both(x, init, *, dtype, distance="matmul", tol=1e-4, max_iter=300, sample_weight=None, algorithm="lloyd"):
    x = x.astype(dtype)
    ours = KMeans(len(init), init=init, tol=tol, max_iter=max_iter, dtype=dtype, distance=distance, algorithm=algorithm)
    ours.fit(x, sample_weight=sample_weight)
    reference = SkKMeans(len(init), init=init, n_init=1, tol=tol, max_iter=max_iter, algorithm="lloyd")
    reference.fit(x, sample_weight=sample_weight)
    return ours, reference


def assert_same_clustering(ours, reference, dtype):
    np.testing.assert_array_equal(ours.labels_, reference.labels_)
    assert ours.n_iter_ == reference.n_iter_
    assert abs(ours.inertia_ - reference.inertia_) <= RTOL[dtype] * reference.inertia_
    atol = 1e-4 if dtype == "float32" else 1e-9
    np.testing.assert_allclose(ours.cluster_centers_, reference.cluster_centers_, atol=atol, rtol=0)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("distance", ["matmul", "expand"])
@pytest.mark.parametrize("tol", [1e-4, 0.0])
def test_blobs_match_sklearn(blobs, dtype, distance, tol):
    x, _ = blobs
    init, _ = kmeans_plusplus(x, 5, random_state=1)
    ours, reference = fit_both(x, init, dtype=dtype, distance=distance, tol=tol)
    assert reference.n_iter_ > 2, "the case should need several iterations to be a real test"
    assert_same_clustering(ours, reference, dtype)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("distance", ["matmul", "expand"])
def test_mnist_subset_matches_sklearn(mnist_subset, dtype, distance):
    """Both distance forms reach scikit-learn's clustering, so each other's too; predict as well."""
    x, _ = mnist_subset
    init, _ = kmeans_plusplus(x, 10, random_state=0)
    ours, reference = fit_both(x, init, dtype=dtype, distance=distance)
    assert reference.n_iter_ > 10
    assert_same_clustering(ours, reference, dtype)
    queries = x[:500].astype(dtype) + 0.01
    np.testing.assert_array_equal(ours.predict(queries), reference.predict(queries))


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_sample_weights_match_sklearn(blobs, dtype):
    x, _ = blobs
    weights = np.random.default_rng(0).uniform(0.1, 3.0, size=len(x))
    weights[::17] = 0.0  # zero weights must neither move centres nor count in inertia
    init, _ = kmeans_plusplus(x, 5, random_state=2)
    ours, reference = fit_both(x, init, dtype=dtype, sample_weight=weights)
    assert_same_clustering(ours, reference, dtype)


def test_integer_weights_equal_repeated_points(blobs):
    x, _ = blobs
    x = x[:300]
    counts = np.random.default_rng(1).integers(1, 4, size=len(x))
    init = x[:4]
    weighted = KMeans(4, init=init, dtype="float64").fit(x, sample_weight=counts)
    repeated = KMeans(4, init=init, dtype="float64").fit(np.repeat(x, counts, axis=0))
    np.testing.assert_allclose(weighted.cluster_centers_, repeated.cluster_centers_, rtol=1e-10)
    assert weighted.inertia_ == pytest.approx(repeated.inertia_, rel=1e-10)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_empty_cluster_is_relocated_like_sklearn(blobs, dtype):
    x, _ = blobs
    init, _ = kmeans_plusplus(x, 5, random_state=4)
    init[2] = 1e3  # far from every point: empty after the first assignment
    ours, reference = fit_both(x, init, dtype=dtype)
    assert_same_clustering(ours, reference, dtype)
    assert np.isfinite(ours.cluster_centers_).all()
    assert np.bincount(ours.labels_, minlength=5).min() > 0


def test_transform_and_predict_match_sklearn(blobs):
    x, _ = blobs
    init, _ = kmeans_plusplus(x, 5, random_state=5)
    ours, reference = fit_both(x, init, dtype="float64")
    queries = x[::7] + 0.5
    np.testing.assert_array_equal(ours.predict(queries), reference.predict(queries))
    np.testing.assert_allclose(ours.transform(queries), reference.transform(queries), rtol=1e-7, atol=1e-9)
    assert ours.score(queries) == pytest.approx(reference.score(queries), rel=1e-9)


def test_max_iter_caps_iterations_and_labels_follow_final_centres(blobs):
    x, _ = blobs
    init, _ = kmeans_plusplus(x, 5, random_state=6)
    ours, reference = fit_both(x, init, dtype="float64", max_iter=2, tol=0.0)
    assert ours.n_iter_ == 2
    assert_same_clustering(ours, reference, "float64")
    np.testing.assert_array_equal(ours.labels_, ours.predict(x))


@pytest.mark.parametrize("algorithm", ["lloyd", "elkan"])
def test_float32_data_far_from_the_origin_match_sklearn(algorithm):
    """Two blobs 0.5 apart at 10,000 from the origin: in float32, ||x||² (2e8) would swallow the
    distance differences (0.25) unless the data are centred in fit and moved near the centres to predict."""
    rng = np.random.default_rng(0)
    x = np.concatenate([rng.normal(0, 0.05, (500, 2)), rng.normal(0, 0.05, (500, 2)) + [0.5, 0]]) + 1e4
    init = x[[0, 999]]
    ours = KMeans(2, init=init, algorithm=algorithm).fit(x)
    reference = SkKMeans(2, init=init, n_init=1, algorithm="lloyd").fit(x)
    np.testing.assert_array_equal(ours.labels_, reference.labels_)
    np.testing.assert_array_equal(np.bincount(ours.labels_), [500, 500])
    assert ours.inertia_ == pytest.approx(reference.inertia_, rel=1e-4)
    np.testing.assert_allclose(ours.cluster_centers_, reference.cluster_centers_, rtol=1e-6)
    np.testing.assert_array_equal(ours.predict(x), ours.labels_)
    np.testing.assert_array_equal(ours.transform(x).argmin(axis=1), ours.labels_)
    assert ours.score(x) == pytest.approx(-ours.inertia_, rel=1e-4)
    if algorithm == "lloyd":  # streamed from a dataset: moved by the mean of its moments
        streamed = KMeans(2, init=init).fit(tf.data.Dataset.from_tensor_slices(x).batch(128))
        np.testing.assert_array_equal(streamed.labels_, reference.labels_)
        np.testing.assert_allclose(streamed.cluster_centers_, reference.cluster_centers_, rtol=1e-6)
