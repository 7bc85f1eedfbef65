"""What every tfkmeans estimator shares: parameters, data preparation, predict/transform/score, export.

An estimator is a ``tf.Module``: once fitted, its centres live in the
``centers`` ``tf.Variable`` and ``tf.saved_model.save(model, path)`` exports
compiled ``predict`` and ``transform`` functions of a rank-2 ``x`` in any float
or common integer dtype (see ``BaseKMeans._trackable_children``).

Data far from zero lose their distances in float32 (``||x||²`` swamps
``2x·c``), so every fit moves its data to an origin near them (their mean) and
keeps that origin in the ``origin`` ``tf.Variable`` (zeros when the data were
not moved); predict, transform, score, later ``partial_fit`` steps and the
exported functions move their queries by the same origin. ``cluster_centers_``
and ``centers`` are always in the caller's coordinates. The methods under
"data preparation" are the only place this happens.
"""

from __future__ import annotations

import functools
import inspect
import sys
import warnings
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import tensorflow as tf

from tfkmeans import _compiled
from tfkmeans._data import (
    as_centered_float_matrix,
    check_weights_fit,
    far_from_zero,
    feature_names,
    finite_tensor,
    mean_if_far_from_zero,
    numeric_matrix,
    scaled_sample_weight,
)
from tfkmeans._datasets import as_weighted_batches, check_same_order_every_pass, unpack_dataset
from tfkmeans._params import (
    check_destination,
    check_non_negative_number,
    check_positive_int,
    draw_seed,
    new_log_folder,
    stacklevel_outside_package,
)
from tfkmeans.exceptions import ConvergenceWarning, NotFittedError
from tfkmeans.ops._chunking import compute_device_type, default_chunk_size
from tfkmeans.ops._distances import get_distance
from tfkmeans.ops._statistics import DatasetMoments, mean_variance

if TYPE_CHECKING:  # scikit-learn is optional: __sklearn_tags__ imports it when called
    from sklearn.utils import Tags

    from tfkmeans.layers import KMeansLayer

_DTYPES = {"float32": tf.float32, "float64": tf.float64}

# Containers transform can return (set_output): scikit-learn's "default" (numpy) and "pandas".
_OUTPUTS = ("default", "pandas")

# Query dtypes the exported predict and transform take (converted to the centres' dtype).
_EXPORTED_DTYPES = (tf.float16, tf.bfloat16, tf.float32, tf.float64, tf.uint8, tf.int32, tf.int64)


def _exported_queries(x: tf.Tensor, dtype: tf.DType, n_features: int, origin: tf.Variable | None) -> tf.Tensor:
    """``x`` of the exported functions as ``(n_samples, n_features)`` in ``dtype``, moved by ``-origin`` if given;
    an InvalidArgumentError if it has another rank or width.

    The move is made in float64 before rounding to ``dtype``, as
    :meth:`BaseKMeans._query_matrix` moves numpy queries, so that float64
    queries far from zero keep the bits float32 would drop.

    The checks are graph ops (the exported graphs take any shape), so a bad
    call fails in the call and leaves the function usable by every thread.
    """
    checks = [
        tf.debugging.assert_rank(x, 2, message=f"x must be 2-D (n_samples, n_features={n_features})"),
        tf.debugging.assert_equal(
            tf.shape(x)[-1], n_features, message=f"x must have n_features={n_features} columns (the fitted centres')"
        ),
    ]
    with tf.control_dependencies(checks):
        rows = tf.reshape(x, [-1, n_features])
    if origin is None:
        return tf.cast(rows, dtype)
    return tf.cast(tf.cast(rows, tf.float64) - tf.cast(origin, tf.float64), dtype)


# The writers of the latest fits; an evicted one is closed when collected (each write is flushed).
@functools.lru_cache(maxsize=16)
def _summary_writer(folder: str) -> tf.summary.SummaryWriter:
    """One events file per fit's folder and process, however many segments write there.

    TensorBoard reads a directory's files in name order (creation second, then
    a per-process counter compared as text, so ``.10`` before ``.9``): with a
    writer per call, the points of later segments could be read first.
    """
    return tf.summary.create_file_writer(folder)


def _worker_count(strategy: tf.distribute.Strategy) -> int:
    """Tasks (machines or processes) in the strategy's cluster: 1 for a single-machine strategy."""
    resolver = strategy.cluster_resolver
    if resolver is None:
        return 1
    spec = resolver.cluster_spec()
    return max(1, sum(spec.num_tasks(job) for job in spec.jobs))


class BaseKMeans(tf.Module):
    """Base class of the K-means estimators; not meant to be used directly."""

    # Runs that n_init='auto' means for a 'random' or callable init (scikit-learn: 10 for
    # KMeans, 3 for MiniBatchKMeans); 'k-means++' and explicit centres always mean 1.
    _default_n_init = 10

    # -- parameters (scikit-learn's BaseEstimator protocol) ----------------------------------

    @classmethod
    def _param_names(cls) -> list[str]:
        signature = inspect.signature(cls.__init__)
        return sorted(p.name for p in signature.parameters.values() if p.name != "self")

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        """Parameters of this estimator, as passed to the constructor."""
        del deep  # no nested estimators
        return {name: getattr(self, name) for name in self._param_names()}

    def set_params(self, **params: Any) -> BaseKMeans:
        """Set constructor parameters; they take effect at the next ``fit``."""
        valid = self._param_names()
        for key, value in params.items():
            if key not in valid:
                raise ValueError(f"Invalid parameter {key!r} for {type(self).__name__}; valid parameters: {valid}.")
            setattr(self, key, value)
        return self

    def __repr__(self) -> str:
        """``Class(name=value, ...)`` with the parameters that differ from their defaults, in signature order.

        As scikit-learn's: a parameter has changed when its repr differs from
        its default's (arrays are never compared element-wise), and an array
        shows as numpy's ``array([...])``.
        """
        parameters = inspect.signature(type(self).__init__).parameters.values()
        changed = [
            f"{p.name}={getattr(self, p.name)!r}"
            for p in parameters
            if p.name != "self" and repr(getattr(self, p.name)) != repr(p.default)
        ]
        return f"{type(self).__name__}({', '.join(changed)})"

    # -- validation ------------------------------------------------------------------------

    @property
    def _tf_dtype(self) -> tf.DType:
        try:
            return _DTYPES[str(self.dtype)]
        except KeyError:
            raise ValueError(f"dtype must be 'float32' or 'float64', got {self.dtype!r}.") from None

    def _check_pass_params(self) -> None:
        """Parameters of every pass over data (fit, partial_fit, predict): set_params may change them."""
        if self.chunk_size is not None:
            check_positive_int(self.chunk_size, "chunk_size")
        get_distance(self.distance)

    def _check_common_params(self, n_samples: int) -> None:
        """Validate the parameters every fit has; keep ``n_clusters`` and ``max_iter`` as Python ints for the graphs."""
        self._n_clusters = check_positive_int(self.n_clusters, "n_clusters", upper=n_samples, upper_name="n_samples")
        self._max_iter = check_positive_int(self.max_iter, "max_iter")
        self._check_pass_params()
        if not isinstance(self.init, str) and not callable(self.init):
            return
        if isinstance(self.init, str) and self.init not in ("k-means++", "random"):
            raise ValueError(
                f"init must be 'k-means++', 'random', a callable or an array of shape (n_clusters, n_features); got {self.init!r}."
            )

    def _check_eager(self, method: str) -> None:
        """A clear error for a call from graph code (``tf.function``, ``Dataset.map``, a Keras layer).

        The estimator's methods validate in Python and return numpy arrays, so
        they need eager tensors; graph code has graph-friendly equivalents.
        """
        if not tf.executing_eagerly():
            raise TypeError(
                f"{type(self).__name__}.{method} validates its input in Python and returns numpy arrays, so it "
                "cannot run inside a tf.function, a tf.data map or a Keras layer. In graph code use "
                "tfkmeans.ops.nearest_centers(x, model.centers).labels and tfkmeans.ops.squared_distances(x, "
                "model.centers), the predict/transform functions of the model saved with tf.saved_model.save, "
                "or the Keras layer tfkmeans.layers.KMeansLayer."
            )

    def _check_destinations(self) -> None:
        """Before any work: ``checkpoint_every``, writable ``checkpoint_dir``/``log_dir`` (or None), one writing machine.

        Starts the fit without a TensorBoard folder: the first write makes one
        (:func:`new_log_folder`), unless a checkpoint has chosen it.
        """
        if self.checkpoint_dir is not None:  # its parameter first: a refused fit creates no directory
            self._checkpoint_every = check_positive_int(self.checkpoint_every, "checkpoint_every")
        check_destination(self.checkpoint_dir, "checkpoint_dir")
        self._log_dir, self._log_folder = check_destination(self.log_dir, "log_dir"), None
        strategy = tf.distribute.get_strategy() if tf.distribute.has_strategy() else None
        if self.checkpoint_dir is not None and strategy is not None and _worker_count(strategy) > 1:
            raise ValueError(
                f"checkpoint_dir is not supported under {type(strategy).__name__} across several workers: each would "
                "write the same directory. Checkpoint under a single-machine strategy, or set checkpoint_dir=None."
            )

    def _check_seed_rows(self, n_rows: int) -> None:
        """A streamed fit seeds from rows drawn by weight: enough of them for an init that picks rows?"""
        if n_rows < self._n_clusters and (isinstance(self.init, str) or callable(self.init)):
            raise ValueError(
                f"Only {n_rows} rows of the dataset have a positive sample weight: "
                f"too few to choose n_clusters={self.n_clusters} initial centres from."
            )

    def _check_tol(self) -> None:
        self._tol = check_non_negative_number(self.tol, "tol")

    def _absolute_tol(self, x: tf.Tensor) -> tf.Tensor:
        """scikit-learn's tolerance: ``tol`` times the mean per-feature variance of ``x``."""
        return _compiled.data_mean_variance(x) * self._tol if self._tol > 0 else tf.zeros([], x.dtype)

    def _resolved_n_init(self) -> int:
        if self.n_init == "auto":
            random_or_callable = (isinstance(self.init, str) and self.init == "random") or callable(self.init)
            return self._default_n_init if random_or_callable else 1
        n_init = check_positive_int(self.n_init, "n_init")
        if not isinstance(self.init, str) and not callable(self.init) and n_init != 1:
            warnings.warn(
                f"Explicit initial centres given: running one initialisation instead of n_init={n_init}.",
                RuntimeWarning,
                stacklevel=3,
            )
            return 1
        return n_init

    def _initial_centers(
        self, x: tf.Tensor, sample_weight: tf.Tensor, rng: np.random.RandomState, origin: tf.Tensor | None = None
    ) -> tf.Tensor:
        """Centres to start from, as ``init`` asks, computed on ``x``.

        ``x`` may have been moved by ``-origin`` (centred); an explicit init
        array is moved with it. A callable init sees ``x`` as it is, as
        scikit-learn's sees its centred X.
        """
        if isinstance(self.init, str) and self.init == "k-means++":
            return _compiled.kmeans_plusplus(x, sample_weight, self._n_clusters, draw_seed(rng))[0]
        if isinstance(self.init, str):
            return _compiled.random_points(x, sample_weight, self._n_clusters, draw_seed(rng))[0]
        chosen = numeric_matrix(
            self.init(x.numpy(), self._n_clusters, rng) if callable(self.init) else self.init, "init"
        )
        expected = (self._n_clusters, int(x.shape[1]))
        if tuple(chosen.shape) != expected:
            raise ValueError(f"init must have shape (n_clusters, n_features) = {expected}, got {tuple(chosen.shape)}.")
        return finite_tensor(chosen, x.dtype, "init", None if callable(self.init) else origin)

    def _initial_centers_of_runs(
        self, x: tf.Tensor, sample_weight: tf.Tensor, rngs: list[np.random.RandomState]
    ) -> tf.Tensor:
        """Initial centres of several runs, ``(runs, n_clusters, n_features)``; run ``r`` uses ``rngs[r]``.

        k-means++ seeds every run in the same passes over ``x``; each run gets
        the centres :meth:`_initial_centers` would give it alone.
        """
        if isinstance(self.init, str) and self.init == "k-means++":
            seeds = tf.stack([draw_seed(rng) for rng in rngs])
            return _compiled.kmeans_plusplus_runs(x, sample_weight, self._n_clusters, seeds)[0]
        return tf.stack([self._initial_centers(x, sample_weight, rng) for rng in rngs])

    def _check_feature_names(self, X: Any, *, reset: bool) -> None:
        """Remember (``reset``) or check ``X``'s column names, as scikit-learn's ``_check_feature_names``.

        On ``reset``, a data frame with string column names sets
        ``feature_names_in_`` and other data remove it. Otherwise names that
        differ from the fit's, or come in another order, are a ValueError
        listing them, and names on one side only a UserWarning: scikit-learn's
        messages, so that code checking them behaves alike.
        """
        names = feature_names(X)
        if reset:
            if names is not None:
                self.feature_names_in_ = names
            elif hasattr(self, "feature_names_in_"):
                del self.feature_names_in_  # a fit without names must not keep another fit's
            return
        fitted = getattr(self, "feature_names_in_", None)
        if fitted is None and names is None:
            return
        estimator = type(self).__name__
        if fitted is None or names is None:
            message = (
                f"X has feature names, but {estimator} was fitted without feature names"
                if fitted is None
                else f"X does not have valid feature names, but {estimator} was fitted with feature names"
            )
            warnings.warn(message, UserWarning, stacklevel=stacklevel_outside_package())
            return
        if len(fitted) == len(names) and np.all(fitted == names):
            return
        unseen, missing = sorted(set(names) - set(fitted)), sorted(set(fitted) - set(names))

        def listed(heading: str, values: list[str]) -> str:
            shown = "".join(f"- {value}\n" for value in values[:5])
            return f"{heading}:\n{shown}" + ("- ...\n" if len(values) > 5 else "") if values else ""

        raise ValueError(
            "The feature names should match those that were passed during fit.\n"
            + listed("Feature names unseen at fit time", unseen)
            + listed("Feature names seen at fit time, yet now missing", missing)
            + ("" if unseen or missing else "Feature names must be in the same order as they were in fit.\n")
        )

    # -- data preparation: convert, move data far from zero to an origin near them, move queries alike --

    def _fit_matrix(self, X: Any) -> tuple[tf.Tensor, tf.Tensor | None]:
        """Training data in memory, in the fit's dtype and moved by ``-origin``; that origin, or None if not moved.

        The origin is the data's mean when they lie far from zero
        (:func:`~tfkmeans._data.as_centered_float_matrix`). Remembers ``X``'s
        width and column names.
        """
        self._check_feature_names(X, reset=True)
        x, origin = as_centered_float_matrix(X, self._tf_dtype)
        self.n_features_in_ = int(x.shape[1])
        return x, origin

    def _query_matrix(self, X: Any) -> tf.Tensor:
        """Data for a fitted estimator (predict, transform, score, a later ``partial_fit`` step), moved by its origin.

        ``X``'s width and column names are checked against the fit's.
        """
        self._check_feature_names(X, reset=False)
        matrix = numeric_matrix(X, "X")
        if matrix.shape[1] != self.n_features_in_:
            raise ValueError(
                f"X has {matrix.shape[1]} features, but {type(self).__name__} is expecting {self.n_features_in_} features "
                "as input (the number it was fitted with)."
            )
        return finite_tensor(matrix, self.centers.dtype, "X", self._shift())

    def _shift(self) -> tf.Tensor | None:
        """The origin the fitted estimator moves data to, or None where it moves nothing (a zero origin)."""
        origin = getattr(self, "origin", None)
        if origin is None:
            return None
        origin = tf.convert_to_tensor(origin)
        return origin if bool(tf.reduce_any(origin != 0)) else None

    def _centers_about_origin(self) -> tf.Tensor:
        """The centres in the coordinates the fit computed them in: moved by the origin's opposite.

        A tensor, never the variable itself: a graph traced for the variable of one
        fit was reused for another fit's of a different shape.
        """
        centers, shift = tf.convert_to_tensor(self.centers), self._shift()
        return centers if shift is None else centers - shift

    def _store_centers(self, centers: tf.Tensor, origin: tf.Tensor | None) -> None:
        """Keep centres computed about ``origin`` (None: not moved) in the caller's coordinates, and the origin."""
        self._set_centers(centers if origin is None else centers + origin)
        self._set_origin(origin)

    def _set_origin(self, origin: tf.Tensor | None) -> None:
        """Store the origin queries are moved by (None: zeros, no move) in the ``origin`` variable."""
        origin = (
            tf.zeros(self.centers.shape[1:], self.centers.dtype)
            if origin is None
            else tf.cast(origin, self.centers.dtype)
        )
        existing = getattr(self, "origin", None)
        if existing is not None and existing.shape == origin.shape and existing.dtype == origin.dtype:
            existing.assign(origin)
        else:
            self.origin = tf.Variable(origin, trainable=False, name="origin")

    def _fit_batches(
        self, dataset: tf.data.Dataset, sample_weight: Any, batch_size: int = 4096, same_order_every_pass: bool = True
    ) -> tuple[tf.data.Dataset, DatasetMoments, tf.Tensor | None]:
        """A dataset as validated ``(x, sample_weight)`` batches moved by ``-origin``, its moments (one pass), the origin.

        Integer features stay integers (the passes cast them chunk by chunk, to
        the dtype of the weights) unless the batches are moved, in float.

        The origin is the data's mean when they lie far from zero, as for
        :meth:`_fit_matrix`, and None otherwise (the batches are not moved).
        Sets ``n_features_in_``; rank-1 elements (single rows) are batched by ``batch_size``.
        A dataset that never ends is refused, and with ``same_order_every_pass``
        one that reshuffles between passes (:func:`check_same_order_every_pass`).
        """
        if sample_weight is not None:
            raise ValueError("sample_weight with a tf.data.Dataset: yield (x, y, sample_weight) elements instead.")
        if same_order_every_pass:
            check_same_order_every_pass(dataset, "X")
        batches = as_weighted_batches(dataset, self._tf_dtype, batch_size, cast_features=False)
        moments = _compiled.dataset_moments(batches)
        n_samples, n_features = int(moments.rows), int(batches.element_spec[0].shape[-1])
        if n_samples == 0:
            raise ValueError("X is empty: the dataset yielded no rows.")
        if n_features == 0:
            raise ValueError("X has 0 features.")
        if not bool(moments.all_finite):
            raise ValueError("X or its sample weights contain NaN or infinity.")
        if float(moments.min_weight) < 0 or float(moments.total_weight) <= 0:
            raise ValueError("sample_weight must be non-negative and positive somewhere.")
        check_weights_fit(None, float(moments.total_weight), self._tf_dtype)
        self.n_features_in_ = n_features
        self._check_feature_names(dataset, reset=True)  # a dataset has no column names: forget a former fit's
        mean = moments.sums / tf.cast(moments.rows, tf.float64)
        if not far_from_zero(mean, mean_variance(moments) * n_features):
            return batches, moments, None
        origin = tf.cast(mean, self._tf_dtype)
        return batches.map(lambda x, w: (tf.cast(x, w.dtype) - origin, w)), moments, origin

    def _check_is_fitted(self) -> None:
        if getattr(self, "centers", None) is None:
            raise NotFittedError(
                f"This {type(self).__name__} instance is not fitted yet. Call 'fit' with appropriate arguments first."
            )

    def __sklearn_is_fitted__(self) -> bool:
        """Whether ``fit`` has run; what scikit-learn's ``check_is_fitted`` asks."""
        return getattr(self, "centers", None) is not None

    def __sklearn_tags__(self) -> Tags:
        """scikit-learn's estimator tags: a clusterer and a transformer of finite, dense data.

        scikit-learn is imported here, so that only code asking for tags (its
        pipelines, model selection and checks) needs it.
        """
        from sklearn.utils import InputTags, Tags, TargetTags, TransformerTags

        return Tags(
            estimator_type="clusterer",
            target_tags=TargetTags(required=False),
            # Whatever X's dtype, transform returns the estimator's dtype.
            transformer_tags=TransformerTags(preserves_dtype=[str(self.dtype)]),
            input_tags=InputTags(allow_nan=False),
        )

    def _chunk_size(self, n_features: int, n_columns: int | None = None) -> int:
        """Rows per chunk: ``chunk_size``, else a size for distance blocks ``n_columns`` wide (default: the clusters)."""
        if self.chunk_size is not None:
            return check_positive_int(self.chunk_size, "chunk_size")
        return default_chunk_size(n_columns or self._n_clusters, n_features, self.distance, compute_device_type())

    def _log_scalars(self, tags: Sequence[str], history: tf.Tensor, first_step: int) -> None:
        """Write a history the fit's graph recorded to the fit's folder in ``log_dir`` as TensorBoard scalars.

        Row ``i`` of ``history`` (shape ``(steps, len(tags))``) is logged at step
        ``first_step + i``, its column ``j`` under ``tags[j]``. Nothing is written
        without a ``log_dir``. Writing after the graph returns, not from inside
        it, keeps summary ops out of the compiled loop.
        """
        if self._log_dir is None:
            return
        if self._log_folder is None:
            self._log_folder = new_log_folder(self._log_dir)
        writer = _summary_writer(self._log_folder)
        with writer.as_default():
            for offset, row in enumerate(history.numpy()):
                for tag, value in zip(tags, row):
                    tf.summary.scalar(tag, value, step=first_step + offset)
        writer.flush()

    # -- fitted state ----------------------------------------------------------------------

    @property
    def cluster_centers_(self) -> np.ndarray:
        """Coordinates of the cluster centres, shape ``(n_clusters, n_features)``."""
        self._check_is_fitted()
        return self.centers.numpy()

    @cluster_centers_.setter
    def cluster_centers_(self, centers: Any) -> None:
        """Set the centres directly (as scikit-learn allows, e.g. before ``predict``), in the estimator's dtype."""
        matrix = numeric_matrix(centers, "cluster_centers_")
        centers = finite_tensor(matrix, self._tf_dtype, "cluster_centers_", None)
        self._set_centers(centers)
        self._set_origin(mean_if_far_from_zero(centers))  # no data to take it from: the centres' mean
        if int(matrix.shape[1]) != getattr(self, "n_features_in_", None) and hasattr(self, "feature_names_in_"):
            del self.feature_names_in_  # names of another width no longer describe the centres' features
        self.n_features_in_ = int(matrix.shape[1])

    def _warn_if_fewer_distinct_clusters(self) -> None:
        """scikit-learn's ConvergenceWarning after a fit that found fewer distinct clusters than ``n_clusters``.

        Clusters are counted by the distinct values of ``labels_``, or without
        labels (``MiniBatchKMeans(compute_labels=False)``) by the distinct
        centres: with fewer distinct points than clusters, centres coincide.
        """
        labels = getattr(self, "labels_", None)
        distinct = np.unique(labels).size if labels is not None else np.unique(self.centers.numpy(), axis=0).shape[0]
        if distinct < self._n_clusters:
            warnings.warn(
                f"Number of distinct clusters ({distinct}) found smaller than n_clusters ({self._n_clusters}). "
                "Possibly due to duplicate points in X.",
                ConvergenceWarning,
                stacklevel=stacklevel_outside_package(),
            )

    def _set_centers(self, centers: tf.Tensor) -> None:
        """Store centres in a variable (created on first fit or when the shape changes)."""
        self._n_clusters = int(centers.shape[0])
        existing = getattr(self, "centers", None)
        if existing is not None and existing.shape == centers.shape and existing.dtype == centers.dtype:
            existing.assign(centers)
        else:
            self.centers = tf.Variable(centers, trainable=False, name="cluster_centers")

    def _inference_options(self) -> dict[str, Any]:
        k, n_features = self.centers.shape
        return {"distance": self.distance, "chunk_size": self._chunk_size(n_features, k)}

    def _trackable_children(self, save_type="checkpoint", **kwargs):
        """For SavedModel, add ``predict`` and ``transform`` bound to ``centers``, one graph per query dtype.

        No input signature: a reloaded ``tf.function`` with one leaves its
        lock held when a call's arguments do not bind (another dtype, a wrong
        shape, a missing argument), and every other thread that calls it then
        waits forever. Instead the functions accept ``x`` of any rank in each
        of :data:`_EXPORTED_DTYPES` (converted to the centres' dtype in the
        graph, its shape checked there) and any other arguments: a call that
        matches no graph is a ValueError raised outside the lock. Queries are
        moved by ``origin`` as :meth:`predict` moves them.
        """
        children = super()._trackable_children(save_type, **kwargs)
        if save_type == "savedmodel" and getattr(self, "centers", None) is not None:
            centers, options = self.centers, self._inference_options()
            n_features = int(centers.shape[1])
            # The variable, read at every call, where _query_matrix moves queries; None where it moves nothing.
            origin = self.origin if self._shift() is not None else None

            def about_centers(function: Callable[..., tf.Tensor]) -> Callable[..., tf.Tensor]:
                def exported(x: tf.Tensor | None = None, *args: Any, **kwargs: Any) -> tf.Tensor:
                    del args, kwargs  # never traced with them: calls that pass them match no graph
                    x = _exported_queries(x, centers.dtype, n_features, origin)
                    return function(x, centers if origin is None else centers - origin, **options)

                compiled = tf.function(exported, autograph=False)
                for dtype in _EXPORTED_DTYPES:
                    compiled.get_concrete_function(tf.TensorSpec(None, dtype, name="x"))
                return compiled

            children["predict"] = about_centers(_compiled.predict.python_function)
            children["transform"] = about_centers(_compiled.transform.python_function)
        return children

    def _inference_inputs(self, X: Any) -> tuple[tf.Tensor, tf.Tensor]:
        """Validated ``X`` and the centres, both moved by the fit's origin: distances as the fit measured them."""
        self._check_is_fitted()
        self._check_pass_params()
        return self._query_matrix(X), self._centers_about_origin()

    # -- inference -------------------------------------------------------------------------

    def predict(self, X: Any) -> np.ndarray:
        """Index of the nearest centre for each sample, shape ``(n_samples,)``."""
        self._check_eager("predict")
        return _compiled.predict(*self._inference_inputs(X), **self._inference_options()).numpy()

    def transform(self, X: Any) -> Any:
        """Euclidean distance from each sample to every centre, shape ``(n_samples, n_clusters)``.

        A numpy array, or a pandas DataFrame with columns
        :meth:`get_feature_names_out` (and ``X``'s index, if ``X`` is one) after
        ``set_output(transform="pandas")`` or scikit-learn's
        ``set_config(transform_output="pandas")``.
        """
        self._check_eager("transform")
        distances = _compiled.transform(*self._inference_inputs(X), **self._inference_options()).numpy()
        return self._output_container(distances, X)

    def get_feature_names_out(self, input_features: Any | None = None) -> np.ndarray:
        """Names of the columns ``transform`` returns: the lower-case class name and the centre's index.

        As scikit-learn's ``ClassNamePrefixFeaturesOutMixin``: ``kmeans0`` ...
        ``kmeans{n_clusters - 1}`` for :class:`KMeans`, which is what
        ``set_output`` and ``ColumnTransformer`` name the distances by.

        Parameters
        ----------
        input_features : array-like of str or None, default=None
            Only checked: it must equal ``feature_names_in_`` if the fit had
            column names, and have ``n_features_in_`` entries.

        Returns
        -------
        ndarray of str objects, shape (n_clusters,)
        """
        self._check_is_fitted()
        if input_features is not None:
            input_features = np.asarray(input_features, dtype=object)
            fitted = getattr(self, "feature_names_in_", None)
            if fitted is not None and not np.array_equal(fitted, input_features):
                raise ValueError("input_features is not equal to feature_names_in_")
            if len(input_features) != self.n_features_in_:
                raise ValueError(
                    f"input_features should have length equal to number of features ({self.n_features_in_}), "
                    f"got {len(input_features)}"
                )
        prefix = type(self).__name__.lower()
        return np.asarray([f"{prefix}{i}" for i in range(int(self.centers.shape[0]))], dtype=object)

    def set_output(self, *, transform: str | None = None) -> BaseKMeans:
        """Choose the container ``transform`` and ``fit_transform`` return, as scikit-learn's transformers.

        Parameters
        ----------
        transform : {"default", "pandas"} or None, default=None
            "default": numpy arrays; "pandas": DataFrames (pandas must be
            installed). None leaves the choice as it is; without a choice,
            scikit-learn's global ``transform_output`` applies.

        Returns
        -------
        self
        """
        if transform is None:
            return self
        if transform not in _OUTPUTS:
            raise ValueError(f"set_output(transform=...) must be one of {list(_OUTPUTS)} or None, got {transform!r}.")
        # scikit-learn's attribute: clone and its meta-estimators read and copy it.
        self._sklearn_output_config = {"transform": transform}
        return self

    def _output_container(self, distances: np.ndarray, X: Any) -> Any:
        """``distances`` in the container :meth:`set_output` (or scikit-learn's global configuration) chose."""
        output = getattr(self, "_sklearn_output_config", {}).get("transform")
        if output is None:
            # Only code that imported scikit-learn can have configured it: no import here.
            sklearn = sys.modules.get("sklearn")
            output = sklearn.get_config().get("transform_output", "default") if sklearn is not None else "default"
        if output == "default":
            return distances
        if output != "pandas":
            raise ValueError(f"{type(self).__name__} can return {list(_OUTPUTS)} containers, not {output!r}.")
        import pandas as pd  # only for code that asked for DataFrames

        index = X.index if isinstance(X, (pd.DataFrame, pd.Series)) else None
        return pd.DataFrame(distances, index=index, columns=self.get_feature_names_out())

    def score(self, X: Any, y: Any = None, sample_weight: Any | None = None) -> float:
        """Opposite of the inertia of ``X`` under the fitted centres (higher is better).

        Parameters
        ----------
        X : array-like, tf.Tensor or tf.data.Dataset of shape (n_samples, n_features)
            Data to score. A dataset is read whole, and the weights of its
            ``(x, y, sample_weight)`` elements are used.
        y : ignored
        sample_weight : array-like of shape (n_samples,), optional
            Weight of each sample; not for a dataset that yields its own.

        Returns
        -------
        float
            Minus the (weighted) sum of squared distances to the nearest centre.
        """
        del y
        self._check_eager("score")
        X, sample_weight = unpack_dataset(X, sample_weight)
        x, centers = self._inference_inputs(X)
        weights, weight_scale = scaled_sample_weight(sample_weight, int(x.shape[0]), x.dtype)
        return float(_compiled.score(x, weights, centers, **self._inference_options())) * weight_scale

    def to_layer(self, output_mode: str = "labels", **kwargs: Any) -> KMeansLayer:
        """This fitted estimator's ``predict`` (or ``transform``, by ``output_mode``) as a Keras layer.

        ``KMeansLayer.from_estimator(self, output_mode, **kwargs)``: see :class:`tfkmeans.layers.KMeansLayer`.
        """
        from tfkmeans.layers import KMeansLayer  # Keras layers only for code that asks for one

        return KMeansLayer.from_estimator(self, output_mode, **kwargs)

    def fit(self, X: Any, y: Any = None, sample_weight: Any | None = None) -> BaseKMeans:
        raise NotImplementedError

    def fit_predict(self, X: Any, y: Any = None, sample_weight: Any | None = None) -> np.ndarray:
        """Fit, then return ``labels_``."""
        return self.fit(X, sample_weight=sample_weight).labels_

    def fit_transform(self, X: Any, y: Any = None, sample_weight: Any | None = None) -> np.ndarray:
        """Fit, then return the distances of ``X`` to the centres."""
        return self.fit(X, sample_weight=sample_weight).transform(X)
