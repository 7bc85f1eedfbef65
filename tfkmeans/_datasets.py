"""``tf.data`` adapters: what a dataset given to an estimator may yield, and how it is read."""

from __future__ import annotations

import warnings
from typing import Any

import tensorflow as tf

from tfkmeans._params import stacklevel_outside_package


def check_dataset_ends(dataset: tf.data.Dataset, name: str) -> None:
    """A ValueError for a dataset TensorFlow knows never ends: reading it would never return."""
    if int(dataset.cardinality()) == int(tf.data.INFINITE_CARDINALITY):
        raise ValueError(
            f"{name}: the dataset never ends (infinite cardinality, e.g. .repeat() without a count); "
            "pass one pass over the data: every fit reads it as many times as it needs."
        )


def check_same_order_every_pass(dataset: tf.data.Dataset, name: str) -> None:
    """A ValueError for a dataset whose pipeline changes its order from one pass to the next.

    What is detected: ``shuffle`` with ``reshuffle_each_iteration=True`` (its
    default) and parallel transformations with ``deterministic=False``, anywhere
    in the pipeline (nested functions included). Random ops inside ``map`` are
    not: the caller remains responsible for them.
    """
    graph = tf.compat.v1.GraphDef()
    try:
        graph.ParseFromString(
            dataset._as_serialized_graph(external_state_policy=tf.data.experimental.ExternalStatePolicy.IGNORE).numpy()
        )
    except (tf.errors.OpError, TypeError, ValueError):  # e.g. a pipeline that cannot be serialised: nothing to inspect
        return
    nodes = [*graph.node, *(node for function in graph.library.function for node in function.node_def)]
    reasons = sorted(
        {
            f"{node.op} with reshuffle_each_iteration=True"
            if "reshuffle_each_iteration" in node.attr
            else f"{node.op} with deterministic=False"
            for node in nodes
            if ("reshuffle_each_iteration" in node.attr and node.attr["reshuffle_each_iteration"].b)
            or ("deterministic" in node.attr and node.attr["deterministic"].s == b"false")
        }
    )
    if reasons:
        raise ValueError(
            f"{name}: the dataset yields its rows in another order on every pass ({', '.join(reasons)}), "
            "but the fit reads it once per iteration and labels the rows in one more pass. Shuffle once, "
            "e.g. shuffle(buffer, seed=s, reshuffle_each_iteration=False), and keep transformations deterministic."
        )


def unpack_dataset(data: Any, sample_weight: Any, name: str = "X") -> tuple[Any, Any]:
    """Read a dataset whole: its rows, and the weights of ``(x, y, sample_weight)`` elements.

    Parameters
    ----------
    data : array-like, tf.Tensor or tf.data.Dataset
        Returned unchanged unless it is a dataset of features, ``(x,)``,
        ``(x, y)`` or ``(x, y, sample_weight)`` (Keras' convention; ``y`` is
        ignored). Rank-1 elements are single rows, others batches of rows.
    sample_weight : array-like or None
        Weights passed alongside ``data``; must be None if the dataset yields its own.
    name : str, default="X"
        Name of ``data`` in messages.

    Returns
    -------
    rows : tf.Tensor or ``data``
        The dataset's features, concatenated in the order it yields them.
    sample_weight : tf.Tensor, array-like or None
        The weights the dataset yields, one per row, else ``sample_weight``.
    """
    if not isinstance(data, tf.data.Dataset):
        return data, sample_weight
    check_dataset_ends(data, name)
    spec = data.element_spec
    weighted = isinstance(spec, tuple) and len(spec) == 3
    if weighted and sample_weight is not None:
        raise ValueError(
            "sample_weight given for a dataset of (x, y, sample_weight) elements: pass the weights one way, not both."
        )
    features = spec[0] if isinstance(spec, tuple) else spec
    if isinstance(features, dict):
        raise TypeError(f"{name}: a dataset of dicts is not supported; map it to feature tensors first.")
    _warn_if_fixed_size_batches(features.shape, name)
    rows, weights = [], []
    for element in data:
        x = element[0] if isinstance(element, (tuple, list)) else element
        rows.append(x if x.shape.rank >= 2 else x[None])
        if weighted:
            weights.append(tf.reshape(element[2], [-1]))
    if not rows:
        raise ValueError(f"{name} is empty: the dataset yielded no elements.")
    return tf.concat(rows, axis=0), tf.concat(weights, axis=0) if weighted else sample_weight


def as_weighted_batches(
    dataset: tf.data.Dataset, dtype: tf.DType, batch_size: int = 4096, cast_features: bool = True
) -> tf.data.Dataset:
    """A dataset as ``(x, sample_weight)`` batches: ``x`` of shape ``(rows, n_features)`` in ``dtype``.

    With ``cast_features=False``, integer and boolean features keep their
    dtype (``sample_weight`` is in ``dtype`` either way): the passes cast them
    chunk by chunk, so a pipeline of uint8 pixels never writes a float32 copy
    of each batch, four times its size, on tf.data's threads.

    Elements may be feature tensors, ``(x,)``, ``(x, y)`` or ``(x, y, sample_weight)``
    (Keras' convention; ``y`` is ignored). Rank-1 elements are single rows (batched
    here by ``batch_size``), rank-2 elements are batches of rows, and higher-rank
    elements are batches of images, flattened per row: batch a dataset of single
    images before fitting (a UserWarning says so when the elements' leading size
    is fixed, as for ``from_tensor_slices(images)``).
    """
    check_dataset_ends(dataset, "X")
    spec = dataset.element_spec
    parts = len(spec) if isinstance(spec, tuple) else 0
    if isinstance(spec, dict) or (isinstance(spec, tuple) and not 1 <= parts <= 3):
        raise TypeError("X: a dataset must yield features, (x, y) or (x, y, sample_weight); map it to tensors first.")
    features = spec[0] if parts else spec
    if not isinstance(features, tf.TensorSpec) or not (
        features.dtype.is_floating or features.dtype.is_integer or features.dtype.is_bool
    ):
        raise TypeError(f"X must be numeric, got a dataset yielding {features}.")
    if features.shape.rank is None or features.shape.rank == 0:
        raise ValueError(f"X: the dataset's elements must be rows or batches of rows, got shape {features.shape}.")
    _warn_if_fixed_size_batches(features.shape, "X")
    if features.shape.rank == 1:
        dataset = dataset.batch(batch_size)
    n_features = features.shape[-1] if features.shape.rank == 1 else features.shape[1:].num_elements()
    if n_features is None:
        raise ValueError(f"X: the dataset's feature shape must be known, got element shape {features.shape}.")

    features_dtype = dtype if cast_features or features.dtype.is_floating else features.dtype

    def to_pair(*element):
        x = tf.reshape(tf.cast(element[0], features_dtype), [-1, n_features])
        w = tf.cast(element[2], dtype) if len(element) == 3 else tf.ones(tf.shape(x)[:1], dtype)
        return x, tf.reshape(w, [-1])

    return dataset.map(to_pair)


def _warn_if_fixed_size_batches(shape: tf.TensorShape, name: str) -> None:
    """Say that dataset elements of rank >= 2 with a known leading size are read as batches of rows.

    ``from_tensor_slices(images)`` and ``.batch(n, drop_remainder=True)`` yield
    the same element spec, so which was meant cannot be told from the data.
    """
    if shape.rank is not None and shape.rank >= 2 and shape[0] is not None:
        warnings.warn(
            f"{name}: the dataset's elements of shape {tuple(shape)} are read as batches of {shape[0]} rows each. "
            "If each element is one sample (an image, say), batch the dataset first: dataset.batch(n).",
            UserWarning,
            stacklevel=stacklevel_outside_package(),
        )
