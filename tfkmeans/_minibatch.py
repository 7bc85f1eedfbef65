"""Mini-batch K-means with scikit-learn's API; the whole step loop runs as one TensorFlow graph."""

from __future__ import annotations

import math
import time
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import tensorflow as tf
from absl import logging

from tfkmeans import _compiled, ops
from tfkmeans._base import BaseKMeans
from tfkmeans._checkpoint import MiniBatchCheckpoint, describe_init, fit_fingerprint
from tfkmeans._data import check_sample_weight, scaled_sample_weight
from tfkmeans._datasets import unpack_dataset
from tfkmeans._params import (
    INT32_MAX,
    RandomState,
    check_int,
    check_non_negative_number,
    check_positive_int,
    check_random_state,
    draw_seed,
)
from tfkmeans.ops._minibatch import NO_PLATEAU_STOP
from tfkmeans.ops._statistics import mean_variance


def _draw_rows(
    x: tf.Tensor, weights: tf.Tensor, positive: np.ndarray, size: int, rng: np.random.RandomState
) -> tuple[tf.Tensor, tf.Tensor]:
    """``size`` rows of ``x`` and their weights, drawn uniformly with replacement among ``positive``.

    ``positive`` indexes the rows of positive weight: the others take no part
    in the fit, and drawing them would waste the subset. When every weight is
    positive these are scikit-learn's draws, ``rng.randint(0, n, size)``. If
    ``size`` covers every such row, all of ``x`` is returned, without a draw.
    """
    if size >= positive.size:
        return x, weights
    drawn = positive[rng.randint(0, positive.size, size)]
    return tf.gather(x, drawn), tf.gather(weights, drawn)


class MiniBatchKMeans(BaseKMeans):
    """Mini-batch K-means (Sculley, 2010) running as a TensorFlow graph.

    A drop-in for :class:`sklearn.cluster.MiniBatchKMeans`: same parameters,
    methods and fitted attributes, same algorithm — per-centre learning rates
    from accumulated counts, random reassignment of starved centres, early
    stopping on the smoothed batch inertia. The mini-batch step is one compiled
    graph (:func:`tfkmeans.ops.minibatch_step`), and a ``fit`` runs every step
    inside one ``tf.while_loop`` (:func:`tfkmeans.ops.minibatch_kmeans`): no
    Python between steps.

    **Batches.** On in-memory data (numpy, lists, tensors), step ``i`` draws
    ``batch_size`` rows *with replacement* using stateless random integers
    seeded from ``random_state`` and ``i`` — scikit-learn's
    ``random_state.choice(n, batch_size, p=w/sum(w))`` — with probability
    proportional to ``sample_weight`` if one is given (the batch rows then have
    unit weight). There are ``max_iter * n_samples // batch_size`` steps unless
    early stopping fires. A ``tf.data.Dataset`` is instead *streamed*: each of
    its elements — a batch of rows, ``(x, y)`` or ``(x, y, sample_weight)``
    (Keras' convention) — is one step, its rows weighted by their
    ``sample_weight`` in the step as in ``partial_fit``, and the dataset is
    read ``max_iter`` times (epochs) in its own order: shuffle it in the
    pipeline if that order is not random. A dataset of single rows is batched
    by ``batch_size``. Besides the epochs, it is read once for its size and
    variance, once to sample the ``init_size`` initialisation rows (by weight,
    without replacement) and, with ``compute_labels``, once for the labels.
    The fit is as reproducible as the pipeline: ``shuffle(..., seed=s)``
    reshuffling every epoch keeps TensorFlow-side state between iterations,
    so two fits on such a pipeline can differ.

    Parameters
    ----------
    n_clusters : int, default=8
        Number of clusters.
    init : {'k-means++', 'random'}, callable or array of shape (n_clusters, n_features), default='k-means++'
        As for :class:`tfkmeans.KMeans`, but computed on ``init_size`` rows
        drawn at random (with replacement) from the rows of positive weight.
    max_iter : int, default=100
        Maximum passes over the data (epochs); ``max_iter * n_samples // batch_size`` steps.
    batch_size : int, default=1024
        Rows per mini-batch (capped at ``n_samples``).
    verbose : int, default=0
        If non-zero, print every step's mean batch inertia, smoothed inertia,
        centre change and reassignments from inside the graph, and log each
        initialisation.
    compute_labels : bool, default=True
        Compute ``labels_`` and the exact ``inertia_`` on the full data once the
        steps are done (chunked assignment). If False, ``inertia_`` is estimated
        from the smoothed batch inertia and ``labels_`` is not set. A fit
        that ends with fewer distinct clusters (labels, or else centres) than
        ``n_clusters`` gives a ``ConvergenceWarning``, as :class:`KMeans` does.
    random_state : int, RandomState instance or None, default=None
        Seeds the initialisation, the batches and the reassignments; an int
        makes fits reproducible.
    tol : float, default=0.0
        Stop when the total squared change of the centres in one step is at
        most ``tol`` times the mean per-feature variance of the data; 0 disables it.
    max_no_improvement : int or None, default=10
        Stop after this many consecutive steps without a new minimum of the
        smoothed batch inertia; None disables it.
    init_size : int or None, default=None
        Rows used to compute (and score) the initial centres; default
        ``3 * batch_size``, or ``3 * n_clusters`` if ``3 * batch_size`` is less
        than ``n_clusters``; capped at ``n_samples``. A value below
        ``n_clusters`` is replaced by ``3 * n_clusters`` with a warning.
    n_init : 'auto' or int, default='auto'
        Initialisations tried, each on its own random subset of ``init_size``
        rows; the one with the lowest inertia on a common validation subset of
        ``init_size`` rows is kept. 'auto' means 1 for 'k-means++' or an array,
        3 for 'random' or a callable. Only the best initialisation is run
        (unlike :class:`KMeans`, which runs every one). For a streamed
        dataset, every candidate is computed and scored on the same
        ``init_size`` sampled rows.
    reassignment_ratio : float, default=0.01
        A centre whose count is below ``reassignment_ratio`` times the largest
        count is moved to a random row of the batch, whenever a reassignment is
        due (while a centre has count 0, and every ``10 * n_clusters`` samples).
        Higher values reassign more and converge later, often to a better
        clustering.
    distance : {'matmul', 'expand'}, default='matmul'
        Distance formulation, as for :class:`tfkmeans.KMeans`.
    dtype : {'float32', 'float64'}, default='float32'
        Precision of the computation and of the fitted centres and counts.
        Data far from the origin are moved to their mean as in
        :class:`tfkmeans.KMeans` (for a dataset, the mean of the pass that
        measures it; for ``partial_fit``, of the first call's rows, kept for
        every later call).
    chunk_size : int or None, default=None
        Rows assigned at once (in a batch and in the final labelling pass).
    checkpoint_dir : str or None, default=None
        Created if missing; ``fit`` refuses an unwritable directory or an
        empty string with a ``ValueError`` before any work (as for ``log_dir``).
        If set, an in-memory ``fit`` saves its progress there
        (``tf.train.Checkpoint``) every ``checkpoint_every`` steps: the seed the
        batches are drawn from, the initial centres and the whole step state
        (centres, counts, step, smoothed inertia and its minimum, the
        no-improvement counter, the reassignment counters). A fit started with
        the same directory resumes from the latest checkpoint and reaches the
        same centres, ``n_steps_`` and ``inertia_`` as an uninterrupted fit
        (the batch of step ``i`` depends only on the seed and ``i``), without
        recomputing the initialisation. A directory from another fit (another
        n_clusters, n_features, dtype, n_samples, batch_size, init, n_init,
        init_size, max_iter, tol, max_no_improvement or reassignment_ratio,
        other data or sample weights by checksum, or another ``random_state``)
        is refused with a ``ValueError`` naming what differs, and so is an
        unreadable or truncated one. Not supported when
        fitting a ``tf.data.Dataset``; ``partial_fit`` ignores it.
    checkpoint_every : int, default=10
        Steps between checkpoints. The steps run in segments of this many, one
        graph call each, so each checkpoint costs a return to Python and a
        write of the state (``O(n_clusters × n_features)``).
    log_dir : str or None, default=None
        If set, ``fit`` writes two TensorBoard scalars there, one point per
        step (the first step is 1): ``minibatch_kmeans/ewa_inertia``, the
        smoothed mean batch inertia that early stopping watches, and
        ``minibatch_kmeans/batch_inertia``, each batch's mean (weighted)
        squared distance to the centres before its update. The step loop
        records them inside the graph and they are written when it returns
        (after every segment with ``checkpoint_dir``, so a resumed fit
        continues the same curves): logging costs the loop nothing. Each fit
        writes into its own ``log_dir/fit-<n>``, as for :class:`tfkmeans.KMeans`.
        ``partial_fit`` does not log.

    Attributes
    ----------
    cluster_centers_ : ndarray of shape (n_clusters, n_features)
        Centres (a copy of the ``centers`` ``tf.Variable``), in the coordinates of ``X``.
    origin : tf.Variable of shape (n_features,)
        Where the fit moved data far from zero (their mean), zeros if it moved
        nothing; queries are moved by it before distances are measured.
    counts_ : ndarray of shape (n_clusters,)
        Total sample weight each centre has absorbed (a copy of the ``counts``
        ``tf.Variable``; also available as scikit-learn's private name ``_counts``).
    labels_ : ndarray of shape (n_samples,)
        Nearest centre of each training sample, if ``compute_labels``; after
        ``partial_fit``, of the rows of the last batch. For a dataset, in the
        order of one more pass over it (a pipeline that reshuffles every
        iteration yields a new order then).
    inertia_ : float
        Sum of (weighted) squared distances of the training samples to their
        centre if ``compute_labels`` (of the last batch after ``partial_fit``),
        otherwise the smoothed estimate.
    n_iter_ : int
        Epochs started: ``ceil(n_steps_ * batch_size / n_samples)``.
    n_steps_ : int
        Mini-batch steps run (``partial_fit`` adds one per call).
    n_features_in_ : int
        Number of features seen in ``fit``.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Column names of a data frame given to ``fit`` (or the first
        ``partial_fit``), checked as for :class:`tfkmeans.KMeans`.

    Notes
    -----
    Threads and SavedModel export as for :class:`tfkmeans.KMeans`;
    ``partial_fit`` changes the estimator like ``fit``, so it must not run
    while another thread uses it.

    Examples
    --------
    >>> import numpy as np
    >>> from tfkmeans import MiniBatchKMeans
    >>> rng = np.random.default_rng(0)
    >>> X = np.vstack([rng.normal(1, 0.1, (500, 2)), rng.normal(5, 0.1, (500, 2))])
    >>> km = MiniBatchKMeans(n_clusters=2, batch_size=64, random_state=0).fit(X)
    >>> sorted(np.round(km.cluster_centers_).tolist())
    [[1.0, 1.0], [5.0, 5.0]]
    >>> int(km.counts_.sum()) == km.n_steps_ * 64  # every sampled row was absorbed
    True
    >>> km = MiniBatchKMeans(n_clusters=2, random_state=0)
    >>> for batch in np.array_split(rng.permutation(X), 10):
    ...     km = km.partial_fit(batch)
    >>> km.n_steps_
    10
    """

    _default_n_init = 3

    def __init__(
        self,
        n_clusters: int = 8,
        *,
        init: str | np.ndarray | Callable = "k-means++",
        max_iter: int = 100,
        batch_size: int = 1024,
        verbose: int = 0,
        compute_labels: bool = True,
        random_state: RandomState = None,
        tol: float = 0.0,
        max_no_improvement: int | None = 10,
        init_size: int | None = None,
        n_init: str | int = "auto",
        reassignment_ratio: float = 0.01,
        distance: str = "matmul",
        dtype: str = "float32",
        chunk_size: int | None = None,
        checkpoint_dir: str | None = None,
        checkpoint_every: int = 10,
        log_dir: str | None = None,
    ):
        super().__init__(name="minibatch_kmeans")
        self.n_clusters = n_clusters
        self.init = init
        self.max_iter = max_iter
        self.batch_size = batch_size
        self.verbose = verbose
        self.compute_labels = compute_labels
        self.random_state = random_state
        self.tol = tol
        self.max_no_improvement = max_no_improvement
        self.init_size = init_size
        self.n_init = n_init
        self.reassignment_ratio = reassignment_ratio
        self.distance = distance
        self.dtype = dtype
        self.chunk_size = chunk_size
        self.checkpoint_dir = checkpoint_dir
        self.checkpoint_every = checkpoint_every
        self.log_dir = log_dir

    # -- parameters --------------------------------------------------------------------------

    def _check_step_params(self) -> None:
        """Parameters every step needs (checked again by each partial_fit)."""
        check_positive_int(self.batch_size, "batch_size")
        self._reassignment_ratio = check_non_negative_number(self.reassignment_ratio, "reassignment_ratio")
        if not isinstance(self.compute_labels, (bool, np.bool_)):
            raise TypeError(f"compute_labels must be a bool, got {self.compute_labels!r}.")

    def _check_params(self, n_samples: int) -> tuple[int, int]:
        """Validate everything against the data size; return the effective batch and init sizes."""
        self._check_common_params(n_samples)
        self._check_tol()
        self._check_step_params()
        self._max_no_improvement = (
            None
            if self.max_no_improvement is None
            else check_int(self.max_no_improvement, "max_no_improvement", minimum=0)
        )
        batch_size = min(check_positive_int(self.batch_size, "batch_size"), n_samples)
        if self.init_size is None:
            init_size = 3 * batch_size
            if init_size < self._n_clusters:
                init_size = 3 * self._n_clusters
        else:
            init_size = check_positive_int(self.init_size, "init_size")
            if init_size < self._n_clusters:
                warnings.warn(
                    f"init_size={init_size} should be larger than n_clusters={self._n_clusters}. "
                    "Setting it to min(3*n_clusters, n_samples)",
                    RuntimeWarning,
                    stacklevel=3,
                )
                init_size = 3 * self._n_clusters
        return batch_size, min(init_size, n_samples)

    def _log_steps(self, history: tf.Tensor, first_step: int) -> None:
        """TensorBoard curves of the steps from ``first_step`` on, from the history the step loop recorded."""
        self._log_scalars(("minibatch_kmeans/ewa_inertia", "minibatch_kmeans/batch_inertia"), history, first_step)

    def _graph_params(self, dtype: tf.DType) -> tuple[tf.Tensor, tf.Tensor]:
        """reassignment_ratio and max_no_improvement as tensors (changing them does not retrace)."""
        mni = NO_PLATEAU_STOP if self._max_no_improvement is None else self._max_no_improvement
        return tf.constant(self._reassignment_ratio, dtype), tf.constant(mni, tf.int32)

    # -- fitted state ----------------------------------------------------------------------------

    @property
    def counts_(self) -> np.ndarray:
        """Total sample weight absorbed by each centre, shape ``(n_clusters,)``."""
        self._check_is_fitted()
        return self.counts.numpy()

    @property
    def _counts(self) -> np.ndarray:
        """scikit-learn's name for :attr:`counts_`."""
        return self.counts_

    def _set_centers(self, centers: tf.Tensor) -> None:
        """Store centres; centres set directly (``cluster_centers_ = C``) start with zero counts."""
        counts = getattr(self, "counts", None)
        if counts is None or counts.shape[0] != centers.shape[0] or counts.dtype != centers.dtype:
            self._set_state(centers, tf.zeros([centers.shape[0]], centers.dtype), 0, None)
            self.n_steps_, self.n_reassigned_ = getattr(self, "n_steps_", 0), getattr(self, "n_reassigned_", 0)
        else:
            super()._set_centers(centers)

    def _set_state(
        self, centers: tf.Tensor, counts: tf.Tensor, samples_since_reassign: int, origin: tf.Tensor | None
    ) -> None:
        """Keep the step state: centres computed about ``origin`` (None: not moved), counts, reassignment counter."""
        existing = getattr(self, "counts", None)
        if existing is not None and existing.shape == counts.shape and existing.dtype == counts.dtype:
            existing.assign(counts)
        else:
            self.counts = tf.Variable(counts, trainable=False, name="cluster_counts")
        self._samples_since_reassign = int(samples_since_reassign)
        self._store_centers(centers, origin)  # after the counts, which _set_centers compares the centres with

    def _best_initial_centers(
        self,
        x: tf.Tensor,
        weights: tf.Tensor,
        rng: np.random.RandomState,
        init_size: int,
        n_init: int,
        origin: tf.Tensor | None,
        same_subset: bool = False,
    ) -> tf.Tensor:
        """scikit-learn's scheme: each candidate on its own random subset, scored on a common one.

        ``x`` has been moved by ``-origin`` (None: not moved), and the centres
        are about it. With ``same_subset`` (a streamed dataset, where ``x`` is
        already the subset), every candidate is computed and scored on ``x`` itself.
        """
        distance, chunk_size = self.distance, self._chunk_size(int(x.shape[1]))
        positive = np.flatnonzero(weights.numpy() > 0)
        x_valid, w_valid = x, weights  # (unused when n_init == 1)
        if not same_subset and n_init > 1:
            x_valid, w_valid = _draw_rows(x, weights, positive, init_size, rng)
        best, best_inertia = None, None
        for run in range(n_init):
            started = time.perf_counter()
            x_init, w_init = (x, weights) if same_subset else _draw_rows(x, weights, positive, init_size, rng)
            centers = self._initial_centers(x_init, w_init, rng, origin)
            if n_init == 1:
                return centers
            inertia = float(_compiled.labels_and_inertia(x_valid, centers, w_valid, distance, chunk_size)[1])
            logging.log_if(
                logging.INFO,
                "MiniBatchKMeans init %d/%d: inertia %.6g on %d validation rows, %.2f s",
                bool(self.verbose),
                run + 1,
                n_init,
                inertia,
                int(x_valid.shape[0]),
                time.perf_counter() - started,
            )
            if best_inertia is None or inertia < best_inertia:
                best, best_inertia = centers, inertia
        return best

    # -- fitting -------------------------------------------------------------------------------

    def fit(self, X: Any, y: Any = None, sample_weight: Any | None = None) -> MiniBatchKMeans:
        """Compute the centres from mini-batches of ``X``.

        Parameters
        ----------
        X : array-like, tf.Tensor or tf.data.Dataset
            In-memory data of shape (n_samples, n_features) (higher ranks are
            flattened per sample), or a dataset of batches or ``(x, y)`` pairs,
            streamed once per epoch (see the class docstring).
        y : ignored
        sample_weight : array-like of shape (n_samples,), optional
            Batches are drawn with probability proportional to it, and the
            initialisation rows among the rows of positive weight. Not used by
            an explicit or callable ``init``. For a dataset, yield
            ``(x, y, sample_weight)`` elements instead.

        Returns
        -------
        self
        """
        del y
        self._check_eager("fit")
        if isinstance(X, tf.data.Dataset) and self.checkpoint_dir is not None:
            raise ValueError(
                "checkpoint_dir is supported for in-memory data only, not for a tf.data.Dataset; set checkpoint_dir=None."
            )
        self._check_destinations()
        if isinstance(X, tf.data.Dataset):
            return self._fit_dataset(X, sample_weight)
        x, origin = self._fit_matrix(X)
        n_samples, n_features = (int(d) for d in x.shape)
        batch_size, init_size = self._check_params(n_samples)
        weights, weight_scale = scaled_sample_weight(sample_weight, n_samples, x.dtype)
        n_init = self._resolved_n_init()
        rng = check_random_state(self.random_state)
        checkpoint = self._open_checkpoint(n_features, x.dtype, batch_size, init_size, n_init, X, sample_weight, origin)
        resumed = checkpoint is not None and checkpoint.restore()
        if checkpoint is not None:
            self._log_folder = checkpoint.log_folder(self._log_dir, resumed)
        if resumed:
            logging.info(
                "MiniBatchKMeans: resuming from %s at step %d",
                self.checkpoint_dir,
                int(checkpoint.state_variables["step"].numpy()),
            )
            # The seed and initial centres come from the checkpoint: no initialisation is recomputed.
            centers, seed = tf.identity(checkpoint.initial_centers), tf.identity(checkpoint.batch_seed)
        else:
            centers = self._best_initial_centers(x, weights, rng, init_size, n_init, origin)
            seed = draw_seed(rng)
        ratio, max_no_improvement = self._graph_params(x.dtype)
        started = time.perf_counter()
        # The step counter is int32; 2**31 - 1 steps are beyond any fit's lifetime.
        n_steps = min(self._max_iter * n_samples // batch_size, INT32_MAX)
        options = dict(
            # Equal weights draw batches as no weights do: unit weights change nothing.
            batch_size=batch_size,
            weighted=bool(tf.reduce_any(weights != weights[0])),
            distance=self.distance,
            chunk_size=self._chunk_size(n_features),
            verbose=bool(self.verbose),
        )
        if checkpoint is None:
            result = _compiled.minibatch_kmeans(
                x,
                weights,
                centers,
                tf.constant(n_steps),
                seed,
                ratio,
                self._absolute_tol(x),
                max_no_improvement,
                compute_labels=bool(self.compute_labels),
                **options,
            )
            self._log_steps(result.history, first_step=1)
        else:
            result = self._fit_in_segments(
                checkpoint,
                resumed,
                x,
                weights,
                centers,
                n_steps,
                seed,
                ratio,
                self._absolute_tol(x),
                max_no_improvement,
                options,
            )
        self._store_fit(result, math.ceil(int(result.state.rows_seen) / n_samples), origin, weight_scale)
        logging.log_if(
            logging.INFO,
            "MiniBatchKMeans: %d steps (%d epochs), inertia %.6g, %.2f s",
            bool(self.verbose),
            self.n_steps_,
            self.n_iter_,
            self.inertia_,
            time.perf_counter() - started,
        )
        return self

    def _open_checkpoint(
        self,
        n_features: int,
        dtype: tf.DType,
        batch_size: int,
        init_size: int,
        n_init: int,
        X: Any,
        sample_weight: Any | None,
        origin: tf.Tensor | None,
    ) -> MiniBatchCheckpoint | None:
        """The checkpoint of this fit (``X`` as fit received it) in ``checkpoint_dir``, not yet restored; None without one."""
        if self.checkpoint_dir is None:
            return None
        fingerprint = fit_fingerprint(X, sample_weight, dtype, self.random_state, origin)
        # A resume reuses the stored initial centres and step state: every parameter they came from must match.
        settings = {
            "init": describe_init(self.init, dtype),
            "n_init": n_init,
            "init_size": init_size,
            "max_iter": self._max_iter,
            "tol": self._tol,
            "max_no_improvement": self._max_no_improvement,
            "reassignment_ratio": self._reassignment_ratio,
        }
        return MiniBatchCheckpoint(
            self.checkpoint_dir, self._n_clusters, n_features, dtype, batch_size, fingerprint, settings
        )

    def _fit_in_segments(
        self,
        checkpoint: MiniBatchCheckpoint,
        resumed: bool,
        x: tf.Tensor,
        weights: tf.Tensor,
        centers: tf.Tensor,
        n_steps: int,
        seed: tf.Tensor,
        ratio: tf.Tensor,
        tol: tf.Tensor,
        max_no_improvement: tf.Tensor,
        options: dict[str, Any],
    ) -> ops.MiniBatchResult:
        """The step loop in graph calls of ``checkpoint_every`` steps, saving (and logging) after each.

        A fresh fit first saves its seed, initial centres and step-0 state; a
        resumed one continues from the restored state. The result's history
        covers the steps this call ran.
        """
        if resumed:
            state = checkpoint.state()
        else:
            checkpoint.start(seed, centers)
            state = ops.minibatch_initial_state(centers)
        histories = [tf.zeros([0, 2], x.dtype)]
        while int(state.step) < n_steps and not bool(state.converged):
            first_step, limit = int(state.step) + 1, min(n_steps, int(state.step) + self._checkpoint_every)
            segment = _compiled.minibatch_kmeans_resume(
                x,
                weights,
                state,
                tf.constant(limit),
                seed,
                ratio,
                tol,
                max_no_improvement,
                compute_labels=False,
                **options,
            )
            state = segment.state
            checkpoint.save(state)
            self._log_steps(segment.history, first_step)
            histories.append(segment.history)
        return _compiled.minibatch_result(
            state,
            tf.concat(histories, 0),
            x,
            tf.reduce_sum(weights),
            self.compute_labels,
            options["distance"],
            options["chunk_size"],
            weights,
        )

    def _store_fit(
        self, result: ops.MiniBatchResult, n_iter: int, origin: tf.Tensor | None, weight_scale: float = 1.0
    ) -> None:
        """Keep a fit's outcome: its centres are about ``origin`` (None: not moved), and its inertia was computed
        with the sample weights divided by ``weight_scale``."""
        state = result.state
        self._set_state(state.centers, state.counts, int(state.samples_since_reassign), origin)
        self.n_steps_ = int(state.step)
        self.n_iter_ = int(n_iter)
        self.inertia_ = float(result.inertia) * weight_scale
        self.n_reassigned_ = int(state.n_reassigned)
        if self.compute_labels:
            self.labels_ = result.labels.numpy()
        elif hasattr(self, "labels_"):
            del self.labels_  # labels of an earlier fit would not match these centres
        self._partial_fit_rng = None  # a later partial_fit starts its own stream from random_state
        self._warn_if_fewer_distinct_clusters()

    def _fit_dataset(self, dataset: tf.data.Dataset, sample_weight: Any) -> MiniBatchKMeans:
        # Epochs may come in a new order each (a reshuffling pipeline is the usual way to draw batches).
        batches, moments, origin = self._fit_batches(
            dataset, sample_weight, check_positive_int(self.batch_size, "batch_size"), same_order_every_pass=False
        )
        n_samples = int(moments.rows)
        _, init_size = self._check_params(n_samples)
        dtype = self._tf_dtype
        n_init = self._resolved_n_init()
        rng = check_random_state(self.random_state)

        # The initial centres come from init_size rows sampled by weight in one pass.
        pool = _compiled.reservoir_sample(batches, init_size, draw_seed(rng))
        self._check_seed_rows(int(pool.shape[0]))
        pool_weights = tf.ones(tf.shape(pool)[:1], dtype)  # sampled by weight already
        centers = self._best_initial_centers(pool, pool_weights, rng, init_size, n_init, origin, same_subset=True)
        tol = tf.cast(mean_variance(moments) * self._tol, dtype)
        ratio, max_no_improvement = self._graph_params(dtype)
        result = _compiled.minibatch_stream_fit(
            batches.repeat(self._max_iter),
            batches,
            centers,
            tf.constant(n_samples, tf.int64),
            moments.total_weight,
            draw_seed(rng),
            ratio,
            tol,
            max_no_improvement,
            self.distance,
            self._chunk_size(self.n_features_in_),
            bool(self.compute_labels),
            bool(self.verbose),
        )
        self._log_steps(result.history, first_step=1)
        self._store_fit(result, math.ceil(int(result.state.rows_seen) / n_samples), origin)
        return self

    def partial_fit(self, X: Any, y: Any = None, sample_weight: Any | None = None) -> MiniBatchKMeans:
        """One mini-batch step on ``X`` (initialising the centres from ``X`` on the first call).

        Counts, and with them every centre's learning rate, carry over from
        call to call (and from a previous ``fit``). A ``tf.data.Dataset`` is
        read whole and used as one batch, weighted by the weights of its
        ``(x, y, sample_weight)`` elements. With ``compute_labels``, ``labels_``
        and ``inertia_`` describe ``X`` under the updated centres.

        Parameters
        ----------
        X : array-like, tf.Tensor or tf.data.Dataset of shape (n_samples, n_features)
        y : ignored
        sample_weight : array-like of shape (n_samples,), optional
            Weights of the rows in this step (and in the first call's init,
            unless ``init`` is explicit or callable); not for a dataset that
            yields its own.

        Returns
        -------
        self
        """
        del y
        self._check_eager("partial_fit")
        fitted = getattr(self, "centers", None) is not None
        X, sample_weight = unpack_dataset(X, sample_weight)
        # The first call fixes the origin (and the estimator keeps it); later calls move their rows by it.
        x, origin = self._fit_matrix(X) if not fitted else (self._query_matrix(X), self._shift())
        rows = int(x.shape[0])
        weights = check_sample_weight(sample_weight, rows, x.dtype)
        if getattr(self, "_partial_fit_rng", None) is None:
            self._partial_fit_rng = check_random_state(self.random_state)
        rng = self._partial_fit_rng
        if not fitted:
            _, init_size = self._check_params(rows)
            positive = np.flatnonzero(weights.numpy() > 0)
            centers = self._initial_centers(*_draw_rows(x, weights, positive, init_size, rng), rng, origin)
            self._set_state(centers, tf.zeros([self._n_clusters], x.dtype), 0, origin)
            self.n_steps_ = 0
            self.n_reassigned_ = 0
        else:
            self._check_pass_params()
            self._check_step_params()
        ratio = tf.constant(self._reassignment_ratio, x.dtype)
        state = ops.minibatch_initial_state(
            self._centers_about_origin(), self.counts.value(), self._samples_since_reassign, self.n_steps_
        )
        state = _compiled.minibatch_step(
            state,
            x,
            weights,
            draw_seed(rng),
            tf.constant(rows),
            ratio,
            tf.zeros([], x.dtype),
            tf.constant(NO_PLATEAU_STOP, tf.int32),
            distance=self.distance,
            chunk_size=self._chunk_size(int(x.shape[1])),
            verbose=bool(self.verbose),
        )
        self._set_state(state.centers, state.counts, int(state.samples_since_reassign), origin)
        self.n_steps_ += 1
        self.n_reassigned_ += int(state.n_reassigned)
        if self.compute_labels:
            labels, inertia = _compiled.labels_and_inertia(
                x, self._centers_about_origin(), weights, self.distance, self._chunk_size(int(x.shape[1]))
            )
            self.labels_, self.inertia_ = labels.numpy(), float(inertia)
        return self
