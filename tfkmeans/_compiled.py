"""The compiled graphs the estimators and metrics call: one ``tf.function`` per op, one trace cache.

Every wrapper is shared by all estimator instances (centres and data are
arguments), so many models in one process trace each graph once per input
signature, not once per model or per module. The signature leaves every tensor
dimension unknown from the first trace on: tracing a Lloyd graph costs seconds,
and a fit on data of another size reuses the graphs instead of tracing them
again (so does one with another number of clusters, but for the graphs that take
it, or Yinyang's number of groups, as a Python int: the seeding, Yinyang's
loop). ``autograph=False``: the ops' control flow is explicit
(``tf.while_loop``, ``tf.cond``) and converting their source would cost more
than tracing it.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import numpy as np
import tensorflow as tf

from tfkmeans import ops
from tfkmeans.ops import _lloyd, _minibatch, _sampling, _seeding, _statistics


def _any_size(value: Any) -> Any:
    """The signature a tensor or array argument is traced with: its dtype and rank, every dimension unknown."""
    if isinstance(value, (tf.Tensor, np.ndarray)) and value.ndim:
        return tf.TensorSpec([None] * value.ndim, tf.as_dtype(value.dtype))
    return value


#: Arguments that are part of a graph's signature by value.
_PLAIN_VALUES = (bool, int, float, str, type(None))


def _signature_key(args: tuple, kwargs: dict) -> tuple | None:
    """What the any-size signature of a call depends on: each tensor's dtype and rank, each plain value.

    None where an argument is neither (a dataset, a variable): such calls ask TensorFlow every time.
    """
    key: list = [tuple(sorted(kwargs))]
    for value in tf.nest.flatten((args, kwargs)):
        if isinstance(value, (tf.Tensor, np.ndarray, np.generic)):
            key.append((value.dtype, value.ndim))
        elif isinstance(value, _PLAIN_VALUES):
            key.append((type(value), value))  # True == 1 == 1.0, yet each traces its own graph
        else:
            return None
    return tuple(key)


class AnySizeFunction:
    """A ``tf.function`` whose traces serve tensors of any size.

    The first call of each signature (dtypes, ranks and the other arguments)
    traces the graph with every dimension unknown; every call then dispatches
    to that graph, since it accepts the call's shapes. Asking TensorFlow for the
    graph on every call would cost more than the call itself for small inputs.
    """

    def __init__(self, fn: Callable):
        self._function = tf.function(fn, autograph=False)
        self._traced: set[tuple] = set()
        functools.update_wrapper(self, fn)

    @property
    def python_function(self) -> Callable:
        return self._function.python_function

    def experimental_get_tracing_count(self) -> int:
        return self._function.experimental_get_tracing_count()

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        key = _signature_key(args, kwargs)
        if key is None or key not in self._traced:
            self._function.get_concrete_function(
                *tf.nest.map_structure(_any_size, args), **tf.nest.map_structure(_any_size, kwargs)
            )
            if key is not None:
                self._traced.add(key)
        return self._function(*args, **kwargs)


# Seeding and the data statistics a fit needs.
kmeans_plusplus = AnySizeFunction(ops.kmeans_plusplus)
kmeans_plusplus_runs = AnySizeFunction(_seeding.kmeans_plusplus_runs)
random_points = AnySizeFunction(ops.random_points)
data_mean_variance = AnySizeFunction(_statistics.data_mean_variance)
sum_and_range = AnySizeFunction(_statistics.sum_and_range)
dataset_moments = AnySizeFunction(_statistics.dataset_moments)
reservoir_sample = AnySizeFunction(_sampling.reservoir_sample)

# Lloyd fits.
lloyd = AnySizeFunction(ops.lloyd)
lloyd_runs = AnySizeFunction(ops.lloyd_runs)
lloyd_bounded = AnySizeFunction(ops.lloyd_bounded)
lloyd_yinyang = AnySizeFunction(ops.lloyd_yinyang)
lloyd_distributed = AnySizeFunction(ops.lloyd_distributed)

# Mini-batch fits.
minibatch_kmeans = AnySizeFunction(ops.minibatch_kmeans)
minibatch_kmeans_resume = AnySizeFunction(_minibatch.minibatch_kmeans_resume)
minibatch_step = AnySizeFunction(ops.minibatch_step)

# The last step of a fit whose iterations ran in another graph: labels and exact inertia.
lloyd_result = AnySizeFunction(_lloyd.lloyd_result)
minibatch_result = AnySizeFunction(_minibatch.minibatch_result)

# Labels, distances and inertia under given centres.
labels_and_inertia = AnySizeFunction(ops.labels_and_inertia)
inertia = AnySizeFunction(ops.inertia)


@AnySizeFunction
def predict(x: tf.Tensor, centers: tf.Tensor, distance: str, chunk_size: int) -> tf.Tensor:
    """Nearest centre of every row."""
    return ops.nearest_centers(x, centers, distance, chunk_size).labels


@AnySizeFunction
def transform(x: tf.Tensor, centers: tf.Tensor, distance: str, chunk_size: int) -> tf.Tensor:
    """Euclidean distance of every row to every centre."""
    return tf.sqrt(ops.squared_distances(x, centers, distance, chunk_size))


@AnySizeFunction
def score(x: tf.Tensor, sample_weight: tf.Tensor, centers: tf.Tensor, distance: str, chunk_size: int) -> tf.Tensor:
    """Minus the exact weighted inertia, as scikit-learn's ``score``."""
    return -ops.labels_and_inertia(x, centers, sample_weight, distance, chunk_size)[1]


@tf.function(autograph=False)
def lloyd_stream_fit(
    batches: tf.data.Dataset,
    n_batches: tf.Tensor,
    initial_centers: tf.Tensor,
    max_iter: tf.Tensor,
    tol: tf.Tensor,
    progress: tf.Tensor,
    distance: str,
    chunk_size: int,
    verbose: bool,
) -> ops.LloydResult:
    """Streamed Lloyd iterations, then a last pass for labels and exact inertia: one graph call."""
    run = ops.lloyd_stream(batches, n_batches, initial_centers, max_iter, tol, distance, chunk_size, verbose, progress)
    return _lloyd.lloyd_result(run, batches, None, distance, chunk_size)


@tf.function(autograph=False)
def minibatch_stream_fit(
    train: tf.data.Dataset,
    once: tf.data.Dataset,
    initial_centers: tf.Tensor,
    n_samples: tf.Tensor,
    total_weight: tf.Tensor,
    seed: tf.Tensor,
    reassignment_ratio: tf.Tensor,
    tol: tf.Tensor,
    max_no_improvement: tf.Tensor,
    distance: str,
    chunk_size: int,
    compute_labels: bool,
    verbose: bool,
) -> ops.MiniBatchResult:
    """Steps over ``train`` (the epochs, one step per batch), then labels over ``once``: one call."""
    state, history = ops.minibatch_kmeans_stream(
        train,
        initial_centers,
        n_samples,
        seed,
        reassignment_ratio,
        tol,
        max_no_improvement,
        distance,
        chunk_size,
        verbose,
    )
    return _minibatch.minibatch_result(state, history, once, total_weight, compute_labels, distance, chunk_size)
