"""Bad input fails early with an error that names the problem."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from tfkmeans import KMeans, NotFittedError

X = np.random.default_rng(0).normal(size=(40, 3))


@pytest.mark.parametrize(
    "data, error, message",
    [
        (np.array([[1.0, np.nan], [0.0, 1.0]]), ValueError, "NaN"),
        (np.array([[1.0, np.inf], [0.0, 1.0]]), ValueError, "infinity"),
        (np.array([[1.0, np.inf], [-np.inf, 1.0]]), ValueError, "infinity"),  # the sum is NaN, not inf
        (np.array([[1e300, 1.0], [0.0, 1.0]]), ValueError, "too large for float32"),
        (np.arange(5.0), ValueError, "must be 2-D"),
        (np.float64(3.0), ValueError, "must be 2-D"),
        (np.empty((0, 3)), ValueError, "0 samples"),
        (np.empty((4, 0)), ValueError, "0 feature"),
        (np.ones((4, 2), np.complex64), ValueError, "Complex data not supported"),
        (np.array([["a", "b"], ["c", "d"]]), TypeError, "numeric"),
        (np.array([[1, object()], [2, 3]], dtype=object), TypeError, "numeric"),
        (tf.constant([["a", "b"]]), TypeError, "numeric"),
        (tf.data.Dataset.from_tensor_slices(np.zeros((0, 3))).batch(2), ValueError, "dataset yielded no rows"),
        (tf.data.Dataset.from_tensor_slices(np.array([[1.0, np.nan]])).batch(2), ValueError, "NaN or infinity"),
        (tf.data.Dataset.from_tensor_slices({"x": np.zeros((3, 2))}), TypeError, "must yield features"),
    ],
    ids=[
        "nan",
        "inf",
        "inf_and_minus_inf",
        "overflow",
        "1d",
        "scalar",
        "no_samples",
        "no_features",
        "complex",
        "strings",
        "objects",
        "string_tensor",
        "empty_dataset",
        "nan_dataset",
        "dict_dataset",
    ],
)
def test_bad_training_data(data, error, message):
    with pytest.raises(error, match=message):
        KMeans(2).fit(data)


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.uint8, np.int64, bool])
@pytest.mark.parametrize("target", [tf.float32, tf.float64])
def test_arrays_are_copied_once_into_aligned_tensors(dtype, target):
    """Values converted exactly, images flattened, the tensor independent of the caller's array."""
    from tfkmeans._data import as_float_matrix

    data = (np.random.default_rng(0).random((9, 4, 3)) * 200).astype(dtype)
    tensor = as_float_matrix(data[:, :, ::-1], target)  # a non-contiguous view
    expected = data[:, :, ::-1].reshape(9, 12).astype(target.as_numpy_dtype)
    data[...] = 0
    assert tensor.dtype == target and tensor.shape == (9, 12)
    np.testing.assert_array_equal(tensor.numpy(), expected)
    np.testing.assert_array_equal(tf.reduce_sum(tensor, axis=0).numpy(), expected.sum(axis=0))


def test_sum_and_range_reads_every_chunk():
    """The data checks' one pass: the sum, maximum and minimum of all values, a short last chunk included."""
    from tfkmeans.ops._statistics import sum_and_range

    data = np.random.default_rng(1).normal(size=(11, 3))
    data[10, 2], data[0, 0] = 9.5, -7.25  # the extremes in the last (short) chunk and the first
    total, largest, smallest = sum_and_range(tf.constant(data), chunk_size=4).numpy()
    np.testing.assert_allclose(total, data.sum(), rtol=1e-12)
    assert (largest, smallest) == (9.5, -7.25)
    data[5, 1] = np.nan
    assert np.isnan(sum_and_range(tf.constant(data), chunk_size=4)[0].numpy())


def test_finite_data_whose_sum_overflows_is_accepted():
    """The finiteness check sums the data first; an overflowing sum of finite values is not an error."""
    from tfkmeans._data import as_float_matrix

    # float64: float32 data this large are refused for their scale (check_float32_scale), not for infinity.
    data = np.full((4, 3), 1e308, np.float64)
    with np.errstate(over="ignore"):
        assert not np.isfinite(data.sum())
    np.testing.assert_array_equal(as_float_matrix(data, tf.float64).numpy(), data)


@pytest.mark.parametrize(
    "params, error, message",
    [
        ({"n_clusters": 0}, ValueError, "n_clusters must be a positive integer"),
        ({"n_clusters": -3}, ValueError, "n_clusters must be a positive integer"),
        ({"n_clusters": 2.5}, TypeError, "n_clusters must be a positive integer"),
        ({"n_clusters": True}, TypeError, "n_clusters must be a positive integer"),
        ({"n_clusters": 41}, ValueError, r"n_clusters=41 must be <= n_samples \(40\)"),
        ({"max_iter": 0}, ValueError, "max_iter must be a positive integer"),
        ({"tol": -1.0}, ValueError, "tol must be a non-negative number"),
        ({"n_init": 0}, ValueError, "n_init must be a positive integer"),
        ({"init": "kmeans++"}, ValueError, "init must be 'k-means\\+\\+', 'random'"),
        ({"init": np.zeros((3, 3))}, ValueError, r"init must have shape \(n_clusters, n_features\) = \(2, 3\)"),
        ({"init": np.zeros((2, 4))}, ValueError, r"init must have shape"),
        ({"init": np.array([[0.0, np.nan, 0.0], [1, 1, 1]])}, ValueError, "init contains NaN"),
        ({"distance": "cosine"}, ValueError, "distance must be one of"),
        ({"dtype": "float16"}, ValueError, "dtype must be 'float32' or 'float64'"),
        ({"chunk_size": 0}, ValueError, "chunk_size must be a positive integer"),
        ({"random_state": "seed"}, ValueError, "random_state must be"),
    ],
)
def test_bad_parameters(params, error, message):
    with pytest.raises(error, match=message):
        KMeans(**{"n_clusters": 2, **params}).fit(X)


@pytest.mark.parametrize(
    "weights, message",
    [
        (np.ones(39), r"sample_weight must have shape \(40,\)"),
        (-np.ones(40), "non-negative"),
        (np.zeros(40), "zero everywhere"),
        (np.full(40, np.nan), "NaN or infinity"),
    ],
)
def test_bad_sample_weight(weights, message):
    with pytest.raises(ValueError, match=message):
        KMeans(2).fit(X, sample_weight=weights)


@pytest.mark.parametrize("method", ["predict", "transform", "score"])
def test_use_before_fit(method):
    with pytest.raises(NotFittedError, match="not fitted yet"):
        getattr(KMeans(2), method)(X)
    with pytest.raises(AttributeError):
        _ = KMeans(2).cluster_centers_


@pytest.mark.parametrize("method", ["predict", "transform", "score"])
def test_wrong_feature_count_after_fit(method):
    km = KMeans(2, random_state=0).fit(X)
    with pytest.raises(ValueError, match="X has 5 features, but KMeans is expecting 3 features as input"):
        getattr(km, method)(np.zeros((4, 5)))


def test_explicit_init_with_n_init_warns_and_runs_once():
    with pytest.warns(RuntimeWarning, match="one initialisation"):
        km = KMeans(2, init=X[:2], n_init=3).fit(X)
    assert np.isfinite(km.inertia_)


def test_callable_init_receives_numpy_and_rng():
    seen = {}

    def first_rows(data, n_clusters, random_state):
        seen.update(kind=type(data), k=n_clusters, rng=type(random_state))
        return data[:n_clusters]

    km = KMeans(2, init=first_rows, n_init=1, max_iter=1).fit(X)
    assert seen == {"kind": np.ndarray, "k": 2, "rng": np.random.RandomState}
    assert km.cluster_centers_.shape == (2, 3)


@pytest.mark.parametrize("method", ["predict", "transform", "score"])
def test_bad_chunk_size_set_after_fit_is_named(method):
    km = KMeans(2, random_state=0).fit(X)
    km.set_params(chunk_size=-3)
    with pytest.raises(ValueError, match="chunk_size must be a positive integer"):
        getattr(km, method)(X)


def test_bad_chunk_size_set_between_partial_fits_is_named():
    from tfkmeans import MiniBatchKMeans

    km = MiniBatchKMeans(2, random_state=0, batch_size=8).partial_fit(X)
    km.set_params(chunk_size=-3)
    with pytest.raises(ValueError, match="chunk_size must be a positive integer"):
        km.partial_fit(X)
