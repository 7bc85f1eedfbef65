"""Data as the estimators compute with them: finite float tensors, sample weights, and an origin near the data.

Arrays, tensors and datasets read whole become ``(n_samples, n_features)``
tensors of the estimator's dtype; data far from the origin are moved next to
it, so that float32 keeps their distances.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import tensorflow as tf

from tfkmeans import _compiled
from tfkmeans._datasets import unpack_dataset


def as_float_matrix(
    data: Any, dtype: tf.DType, name: str = "X", shift: np.ndarray | tf.Tensor | None = None
) -> tf.Tensor:
    """Convert array-like, ``tf.Tensor`` or ``tf.data.Dataset`` data to a finite 2-D float tensor.

    Arrays of rank > 2 (e.g. ``(n, 28, 28)`` images) are flattened to
    ``(n, prod(rest))``. A dataset may yield feature batches or ``(x, y)``
    pairs; it is read once and held in memory. A numpy array is copied once,
    converted to ``dtype`` and moved by ``-shift`` (a ``(n_features,)``
    vector, if given) on the way.
    """
    data = numeric_matrix(data, name)
    return finite_tensor(data, dtype, name, shift)


def numeric_matrix(data: Any, name: str) -> np.ndarray | tf.Tensor:
    """``data`` as a numeric numpy array or tensor of shape ``(n_samples, n_features)``, both non-zero."""
    if isinstance(data, tf.data.Dataset):
        data = _concatenate_dataset(data, name)
    if isinstance(data, (tf.Tensor, tf.Variable)):
        if not (data.dtype.is_floating or data.dtype.is_integer or data.dtype.is_bool):
            raise TypeError(f"{name} must be numeric, got a tensor of dtype {data.dtype.name}.")
        shape = tuple(data.shape)
    else:
        if hasattr(data, "toarray") and hasattr(data, "nnz"):  # scipy.sparse, without importing scipy
            raise TypeError(f"{name} is a sparse matrix; tfkmeans needs dense data: pass {name}.toarray().")
        data = np.asarray(data)
        if data.dtype.kind == "O":
            try:
                data = data.astype(np.float64)
            except (TypeError, ValueError) as error:
                raise TypeError(
                    f"{name} must be numeric; could not convert its objects to numbers ({error})."
                ) from None
        if data.dtype.kind == "c":
            raise ValueError(f"Complex data not supported: {name} must hold real numbers.")
        if data.dtype.kind not in "biuf":
            raise TypeError(f"{name} must be numeric, got an array of dtype {data.dtype}.")
        shape = data.shape

    if len(shape) < 2:
        raise ValueError(
            f"{name} must be 2-D (n_samples, n_features), got an array of shape {shape}. "
            "Reshape your data: x.reshape(-1, 1) for a single feature, x.reshape(1, -1) for a single sample."
        )
    n_samples, n_features = shape[0], int(np.prod(shape[1:]))
    if n_samples == 0:
        raise ValueError(f"{name} is empty: it has 0 samples (shape {shape}).")
    if n_features == 0:
        raise ValueError(f"{name} has 0 feature(s) (shape={shape}) while a minimum of 1 is required.")
    if tf.is_tensor(data):
        return tf.reshape(data, [n_samples, n_features])
    return data.reshape(n_samples, n_features)


def finite_tensor(
    data: np.ndarray | tf.Tensor, dtype: tf.DType, name: str, shift: np.ndarray | tf.Tensor | None
) -> tf.Tensor:
    """``data - shift`` as a tensor of ``dtype``; a ValueError naming NaN or infinity if it is not finite."""
    if tf.is_tensor(data):
        tensor = tf.cast(data, dtype)
        if shift is not None:
            tensor = tensor - tf.cast(shift, dtype)
    else:
        tensor = _aligned_tensor(data, dtype, None if shift is None else np.asarray(shift))
    # One chunked pass reads the sum (a NaN or an infinity makes it non-finite) and the range
    # (float32's scale check); only an overflowing sum of finite values needs the element-wise check too.
    total, largest, smallest = _compiled.sum_and_range(tensor).numpy()
    if not math.isfinite(total) and not bool(tf.reduce_all(tf.math.is_finite(tensor))):
        # The input, not the shifted copy: an infinity minus the (infinite) mean is NaN.
        if bool(tf.reduce_any(tf.math.is_nan(tf.cast(data, tf.float64)))):
            raise ValueError(f"{name} contains NaN.")
        hint = " (use dtype='float64' for values beyond float32's 3.4e38)" if dtype == tf.float32 else ""
        raise ValueError(f"{name} contains infinity or a value too large for {dtype.name}{hint}.")
    if dtype == tf.float32:
        check_float32_scale(tensor, name, max(abs(float(largest)), abs(float(smallest))))
    return tensor


def check_float32_scale(tensor: tf.Tensor, name: str, largest: float) -> None:
    """A ValueError recommending float64 if float32 cannot cluster data of this magnitude.

    Too large, and squared norms or the inertia's sum overflow to infinity;
    too small, and the squared differences float32 resolves (2**-24 of the
    values) fall below its smallest normal number, which TensorFlow flushes to
    zero, collapsing the clustering. ``largest`` is the largest magnitude the
    reductions read (:func:`~tfkmeans.ops._statistics.sum_and_range`).
    """
    n_samples, n_features = (int(d) for d in tensor.shape)
    if largest == 0:
        # Reductions flush subnormal values to zero too: read the largest magnitude from the bits.
        bits = tf.reduce_max(tf.bitwise.bitwise_and(tf.bitcast(tensor, tf.int32), 0x7FFFFFFF))
        largest = float(np.array(int(bits), np.int32).view(np.float32))
    limits = np.finfo(np.float32)
    upper = math.sqrt(float(limits.max) / (16.0 * n_samples * n_features))
    lower = math.sqrt(float(limits.tiny)) * 2.0**20
    if largest > upper or 0 < largest < lower:
        raise ValueError(
            f"{name}'s largest magnitude, {largest:.3g}, is outside the range float32 clusters correctly here "
            f"([{lower:.3g}, {upper:.3g}] for {n_samples} x {n_features} data): use dtype='float64', or rescale {name}."
        )


# TensorFlow's CPU kernels assume buffers aligned to Eigen's 64 bytes (it aborts on a
# less-aligned DLPack buffer, such as numpy's usual 16-byte alignment).
_TF_ALIGNMENT = 64


def _aligned_tensor(array: np.ndarray, dtype: tf.DType, shift: np.ndarray | None = None) -> tf.Tensor:
    """A tensor sharing a fresh, aligned, C-ordered copy of ``array - shift`` in ``dtype``.

    ``tf.convert_to_tensor`` peaks at twice the array's size, and its allocator
    keeps the freed half; one numpy copy handed over by DLPack needs the array's
    size once and is freed with the tensor.
    """
    itemsize = dtype.size
    raw = np.empty(array.size * itemsize + _TF_ALIGNMENT, np.uint8)
    offset = -raw.ctypes.data % _TF_ALIGNMENT
    copy = raw[offset : offset + array.size * itemsize].view(dtype.as_numpy_dtype).reshape(array.shape)
    with np.errstate(over="ignore", invalid="ignore"):  # non-finite results are reported by the caller
        if shift is None:
            copy[...] = array
        else:
            # Default (same-kind) casting: "unsafe" takes numpy's buffered loop, twice as slow.
            np.subtract(array, shift.astype(copy.dtype), out=copy)
    return tf.experimental.dlpack.from_dlpack(copy.__dlpack__())


def _concatenate_dataset(dataset: tf.data.Dataset, name: str) -> tf.Tensor:
    """Every row of a dataset of features, ``(x, y)`` or ``(x, y, sample_weight)`` in one tensor; weights dropped."""
    return unpack_dataset(dataset, None, name)[0]


# Rows sampled to decide on and choose the origin: a negligible read.
_CENTERING_ROWS = 4096


def as_centered_float_matrix(data: Any, dtype: tf.DType, name: str = "X") -> tuple[tf.Tensor, tf.Tensor | None]:
    """:func:`as_float_matrix`, moved to an origin near its mean if it lies far from zero; that origin or None.

    Distances are the same about any origin, but float32 loses them on data
    far from it (``||x||²`` swamps ``2x·c``); scikit-learn centres X before
    Lloyd's iterations for the same reason. The origin is the mean of at most
    :data:`_CENTERING_ROWS` evenly spaced rows, and data whose squared mean
    norm is within their total variance (such as MNIST's pixels) stay as they
    are: moving them would gain under a bit of precision and cost a slower copy.
    """
    data = numeric_matrix(data, name)
    sample = data[:: max(1, -(-int(data.shape[0]) // _CENTERING_ROWS))]
    origin = mean_if_far_from_zero(tf.cast(sample, dtype))
    return finite_tensor(data, dtype, name, origin), origin


def far_from_zero(mean: tf.Tensor, total_variance: tf.Tensor) -> tf.Tensor:
    """Whether data of this mean and total (summed) variance are worth moving to their mean:
    ``||mean||²`` above the variance, where float32 distances start losing bits to ``||x||²``.

    A boolean scalar tensor: Python's ``if`` reads it eagerly, and a graph
    (a Keras layer's call) can decide with it at run time.
    """
    return tf.reduce_sum(tf.square(mean)) > tf.cast(total_variance, mean.dtype)


def _mean_and_far_from_zero(points: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
    mean = tf.reduce_mean(points, axis=0)
    return mean, far_from_zero(mean, tf.reduce_sum(tf.math.reduce_variance(points, axis=0)))


def mean_if_far_from_zero(points: tf.Tensor) -> tf.Tensor | None:
    """The mean of ``points`` if they are :func:`far_from_zero`, else None."""
    mean, far = _mean_and_far_from_zero(points)
    return mean if far else None


def mean_if_far_from_zero_else_zeros(points: tf.Tensor) -> tf.Tensor:
    """:func:`mean_if_far_from_zero` for graphs, which cannot choose None at run time: zeros
    instead, a move that changes no value."""
    mean, far = _mean_and_far_from_zero(points)
    return tf.where(far, mean, tf.zeros_like(mean))


def feature_names(data: Any) -> np.ndarray | None:
    """The column names of a data frame whose columns are all named by strings, else None (scikit-learn's rule).

    Data frames are recognised by their attributes, so that pandas (or polars,
    pyarrow) is never imported here: a pyarrow ``Table``'s ``column_names``, else
    ``columns``. Names that are not all strings (pandas' default integer
    columns, say) give None, as in scikit-learn; a mix of strings and other
    names is a TypeError, as there.
    """
    if isinstance(data, (np.ndarray, tf.Tensor, tf.Variable, tf.data.Dataset)):
        return None
    columns = getattr(data, "column_names", None)
    if columns is None:
        columns = getattr(data, "columns", None)
    if columns is None or isinstance(columns, str):
        return None
    try:
        names = np.asarray(list(columns), dtype=object)
    except TypeError:  # not an iterable of names
        return None
    if names.ndim != 1 or names.size == 0:
        return None
    types = sorted({type(name).__qualname__ for name in names})
    if len(types) > 1 and "str" in types:
        raise TypeError(
            "Feature names are only supported if all input features have string names, "
            f"but your input has {types} as feature name / column name types. "
            "If you want feature names to be stored and validated, you must convert "
            "them all to strings, by using X.columns = X.columns.astype(str) for "
            "example. Otherwise you can remove feature / column names from your input "
            "data, or convert them all to a non-string data type."
        )
    return names if types == ["str"] else None


def _float64_sample_weight(sample_weight: Any, n_samples: int) -> tf.Tensor:
    """``sample_weight`` as a float64 ``(n_samples,)`` tensor: finite, non-negative, positive somewhere."""
    weights = np.asarray(sample_weight, dtype=np.float64) if not tf.is_tensor(sample_weight) else sample_weight
    weights = tf.cast(weights, tf.float64)
    if weights.shape.rank == 0:
        weights = tf.fill([n_samples], weights)
    if tuple(weights.shape) != (n_samples,):
        raise ValueError(f"sample_weight must have shape ({n_samples},), got {tuple(weights.shape)}.")
    if not bool(tf.reduce_all(tf.math.is_finite(weights))):
        raise ValueError("sample_weight contains NaN or infinity.")
    if bool(tf.reduce_any(weights < 0)):
        raise ValueError("sample_weight must be non-negative.")
    if not bool(tf.reduce_any(weights > 0)):
        raise ValueError("sample_weight is zero everywhere: at least one sample needs positive weight.")
    return weights


def check_sample_weight(sample_weight: Any, n_samples: int, dtype: tf.DType) -> tf.Tensor:
    """Ones when ``None``; otherwise a finite, non-negative ``(n_samples,)`` vector that is not all zero.

    Weights used as they are (``partial_fit``'s counts add them up from call
    to call) must also fit ``dtype``: a ValueError says so if their sum would
    overflow it or a positive weight would round to zero in it.
    """
    if sample_weight is None:
        return tf.ones([n_samples], dtype)
    weights = _float64_sample_weight(sample_weight, n_samples)
    smallest = float(tf.reduce_min(tf.boolean_mask(weights, weights > 0)))
    check_weights_fit(smallest, float(tf.reduce_sum(weights)), dtype)
    return tf.cast(weights, dtype)


def check_weights_fit(smallest_positive: float | None, total: float, dtype: tf.DType) -> None:
    """A ValueError unless weights summing to ``total`` (smallest positive one, if known) are safe in ``dtype``."""
    limits = np.finfo(dtype.as_numpy_dtype)
    # A quarter of the maximum leaves room for the weighted sums of coordinates near 1.
    if total > float(limits.max) / 4 or (smallest_positive is not None and smallest_positive < float(limits.tiny)):
        raise ValueError(
            f"sample_weight (total {total:.3g}, smallest positive {smallest_positive}) is beyond what {dtype.name} "
            "holds: rescale the weights (their scale does not change the clustering) or use dtype='float64'."
        )


def scaled_sample_weight(sample_weight: Any, n_samples: int, dtype: tf.DType) -> tuple[tf.Tensor, float]:
    """Validated weights divided by a power of two that brings the largest into [1, 2), and that power.

    A clustering does not depend on the weights' scale, and dividing by a power
    of two is exact: weights of ordinary size give bit-identical fits (unit
    weights are left as they are), while 1e38 no longer overflows float32 sums
    and 1e-40 no longer rounds to zero. Multiply weighted sums (the inertia)
    by the returned scale to report them in the caller's units. Weights below
    ``dtype``'s smallest normal number relative to the largest count as zero.
    """
    if sample_weight is None:
        return tf.ones([n_samples], dtype), 1.0
    weights = _float64_sample_weight(sample_weight, n_samples)
    scale = 2.0 ** math.floor(math.log2(float(tf.reduce_max(weights))))
    return tf.cast(weights / scale, dtype), scale
