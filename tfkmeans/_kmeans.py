"""Full-batch K-means (Lloyd) with scikit-learn's API, compiled with TensorFlow."""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import tensorflow as tf
from absl import logging

from tfkmeans import _compiled, ops
from tfkmeans._base import BaseKMeans
from tfkmeans._checkpoint import FitCheckpoint, describe_init, fit_fingerprint
from tfkmeans._data import scaled_sample_weight
from tfkmeans._fit_plan import (
    FitPlan,
    LoopOptions,
    RunFn,
    in_memory_plan,
    progress,
    stream_plan,
    stream_seed_sample_size,
)
from tfkmeans._params import RandomState, check_random_state, draw_seed
from tfkmeans.ops._chunking import compute_device_type
from tfkmeans.ops._statistics import mean_variance
from tfkmeans.ops._yinyang import default_n_groups

_ALGORITHMS = ("auto", "lloyd", "elkan", "yinyang")

# algorithm='auto' keeps bounds (Elkan's n × k floats, else Yinyang's n × k/50) up to the
# size of the data or this many bytes, whichever is larger.
_AUTO_MAX_BOUNDS_BYTES = 2**30
# From this many clusters on, 'auto' prefers Yinyang's group bounds to Elkan's even when
# Elkan's fit: on MNIST Elkan's iterations were the faster at k = 100, Yinyang's by far at
# k = 1000; the crossover lies between.
_AUTO_YINYANG_MIN_CLUSTERS = 300


def _active_strategy() -> tf.distribute.Strategy | None:
    """The ``tf.distribute`` strategy whose scope we are in, if it has several replicas."""
    if not tf.distribute.has_strategy():
        return None
    strategy = tf.distribute.get_strategy()
    return strategy if strategy.num_replicas_in_sync > 1 else None


class KMeans(BaseKMeans):
    """K-means clustering (Lloyd's algorithm) running as a TensorFlow graph.

    A drop-in for :class:`sklearn.cluster.KMeans`: same parameters, methods and
    fitted attributes. Each fit runs the whole Lloyd loop — assignment, centre
    update and convergence test — inside one ``tf.while_loop``, over row chunks
    of the data. By default, distance bounds spare it most distance
    computations once the fit settles (``algorithm``).

    Parameters
    ----------
    n_clusters : int, default=8
        Number of clusters; at most the number of samples.
    init : {'k-means++', 'random'}, callable or array of shape (n_clusters, n_features), default='k-means++'
        'k-means++': greedy k-means++ with ``2 + ln(k)`` local trials per centre.
        'random': ``n_clusters`` distinct samples drawn by weight. A callable is
        called as ``init(X, n_clusters, random_state)`` with ``X`` a numpy array
        and must return the initial centres. An array gives them directly.
    n_init : 'auto' or int, default='auto'
        Runs from different initial centres; the run with the lowest inertia is
        kept. 'auto' means 1 for 'k-means++' or an array, 10 for 'random' or a
        callable. Runs on in-memory data are seeded together (k-means++ in
        shared passes). With Lloyd's iterations ('lloyd', or 'auto' when the
        bounds do not fit) they are also iterated together: each pass over
        the data serves every run (one matrix product against all runs'
        centres), and each run ends exactly where it would alone; with Elkan's
        bounds they are iterated one by one, as their iterations get cheap
        once the bounds settle. With ``checkpoint_dir``, a dataset or a
        ``tf.distribute`` strategy, they run one after the other.
    max_iter : int, default=300
        Maximum Lloyd iterations per run.
    tol : float, default=1e-4
        Convergence threshold on the total squared centre shift, relative to
        the mean per-feature variance of ``X``. With ``tol=0`` a run stops only
        when no label changes.
    verbose : int, default=0
        If non-zero, print inertia and centre shift at every iteration (from
        inside the graph), as ``tfkmeans: run r iteration i ...`` with the run
        number and the iteration counted from the run's start, across
        checkpoint segments and resumes (runs iterated together print one line
        per iteration for all of them), and log each run.
    random_state : int, RandomState instance or None, default=None
        Seeds the initialisation; an int makes fits reproducible.
    copy_x : bool, default=True
        Accepted for scikit-learn compatibility. ``X`` is never modified
        either way: a fit always converts it once into a buffer of its own
        (``dtype``, aligned for TensorFlow), so ``copy_x=False`` saves nothing.
    algorithm : {'auto', 'lloyd', 'elkan', 'yinyang'}, default='auto'
        All four reach the same labels and iterations (tested against
        scikit-learn's Lloyd); in float32 the order of summation differs, so
        over a long fit a near-tie can fall the other way. 'lloyd' measures every point against every
        centre at each iteration. 'elkan' keeps per-point distance bounds
        (``n_samples × n_clusters`` floats) and re-measures only the points
        whose bounds overlap, so iterations get cheaper as the fit settles.
        'yinyang' keeps one bound per point and group of about 50 centres
        (Yinyang K-means, Ding et al. 2015: ``n_samples × n_clusters / 50``
        floats) and measures a point only against the groups its bounds do
        not rule out: the bounds for many clusters. Both bounded algorithms
        need the data in memory and ``distance='matmul'``, and restarts
        run one after the other (seeded together). Their running cluster sums
        round differently from Lloyd's in the last float32 bits, so a resumed
        checkpointed fit matches an uninterrupted one to that rounding, not
        bit for bit. 'auto' uses 'elkan' on in-memory data with fewer than
        300 clusters when its bounds take no more memory than the data (or
        than 1 GiB; an iteration that re-measures many points briefly holds
        about three such arrays), 'yinyang' with more clusters or when
        Elkan's bounds do not fit but the group bounds do, and 'lloyd'
        otherwise and for checkpointed fits, datasets and
        ``tf.distribute`` strategies.
    distance : {'matmul', 'expand'}, default='matmul'
        'matmul' computes ``||x||² - 2x·cᵀ + ||c||²`` with one matrix product per
        chunk (fast). 'expand' is the tensor-expansion form
        (``expand_dims``/``subtract``/``square``/``reduce_sum``), exact but slow,
        in chunks small enough to bound its ``rows × k × d`` intermediate.
    dtype : {'float32', 'float64'}, default='float32'
        Precision of the computation and of the fitted centres. Data far
        from the origin (squared mean norm above their total variance) are
        moved to their mean on a copy before Lloyd's iterations, as
        scikit-learn centres them; the fit keeps that mean in ``origin`` and
        predict/transform/score (and the exported SavedModel) move queries
        by it, so float32 keeps the distances of, e.g., points at 10,000 ± 0.1.
    chunk_size : int or None, default=None
        Rows processed at once; None picks a size that bounds the per-chunk
        intermediate (``rows × n_clusters`` distances for 'matmul', at most
        2,048 rows; ``rows × n_clusters × n_features`` differences for 'expand').
    checkpoint_dir : str or None, default=None
        Created if missing; ``fit`` refuses an unwritable directory or an
        empty string with a ``ValueError`` before any work (as for ``log_dir``).
        If set, the fit saves its progress there (``tf.train.Checkpoint``)
        every ``checkpoint_every`` iterations and after every run, and a fit
        started with the same directory resumes from the latest checkpoint,
        reaching the same centres as an uninterrupted fit. A directory from
        another fit (another k, n_features, n_init, dtype, init, max_iter or
        tol, other data or sample weights by checksum, or another
        ``random_state``) is refused with a ``ValueError`` naming what
        differs, and so is an unreadable or truncated one. With
        ``algorithm='auto'`` a checkpointed fit runs Lloyd's iterations, so in
        float32 its result can differ in the last bits (and, over a long fit,
        a near-tie) from the same fit without a checkpoint.
    checkpoint_every : int, default=10
        Iterations between checkpoints; each one costs a return to Python and
        one extra pass over the data.
    log_dir : str or None, default=None
        If set, TensorBoard scalars ``kmeans/run_<i>/inertia`` (the inertia of
        each assignment step, from the matmul distances) and
        ``kmeans/run_<i>/centre_shift`` are written there, one point per
        iteration. They are recorded inside the graph and written after each
        run (or checkpoint segment), so logging never slows the loop. Each
        fit writes into a folder of its own, ``log_dir/fit-<n>`` with ``n``
        one more than the largest already there (TensorBoard shows each as a
        run; two fits never mix their points), and a resumed checkpointed fit
        goes on in the folder of the fit it resumes (recorded beside the
        checkpoint), if ``log_dir`` is the same.

    Attributes
    ----------
    cluster_centers_ : ndarray of shape (n_clusters, n_features)
        Centres (a copy of the ``centers`` ``tf.Variable``), in the coordinates of ``X``.
    origin : tf.Variable of shape (n_features,)
        Where the fit moved data far from zero (their mean), zeros if it moved
        nothing; queries are moved by it before distances are measured.
    labels_ : ndarray of shape (n_samples,)
        Nearest centre of each training sample under ``cluster_centers_``.
    inertia_ : float
        Sum of (weighted) squared distances of samples to their centre.
    n_iter_ : int
        Iterations run by the kept run.
    distance_shares_ : ndarray of shape (n_iter_,) or None
        With Yinyang's bounds, the share of the ``n × k`` point-centre distances
        each iteration of the kept run computed (Lloyd's pass computes all: 1;
        the upper bounds' tightening counts too, so a full pass can show up to
        ``1 + 1/k``); None for the other algorithms.
    n_features_in_ : int
        Number of features seen in ``fit``.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Column names of ``X`` in ``fit``, set only when ``X`` was a data frame
        whose columns are all named by strings. Data predicted, transformed or
        scored afterwards must have the same names in the same order (else a
        ValueError), and data with names on one side only give a UserWarning,
        as in scikit-learn. :meth:`get_feature_names_out` names
        ``transform``'s columns.

    Notes
    -----
    Threads: once fitted, ``predict``, ``transform`` and ``score`` may be
    called from many threads at once (they only read the centres); ``fit``
    and ``set_params``/``set_output`` change the estimator and must not run
    while another thread uses it. The ``predict`` and ``transform`` of a
    reloaded SavedModel (``tf.saved_model.load``) serve any number of threads:
    they take ``x`` of shape ``(n_samples, n_features)`` in float16, bfloat16,
    float32, float64, uint8, int32 or int64 (numpy arrays and lists too) and
    convert it in the graph; a call of another rank, width or dtype fails with
    an ``InvalidArgumentError`` or ``ValueError`` in the calling thread only.

    Examples
    --------
    >>> import numpy as np
    >>> from tfkmeans import KMeans
    >>> X = np.array([[1, 2], [1, 4], [1, 0], [10, 2], [10, 4], [10, 0]])
    >>> km = KMeans(n_clusters=2, random_state=0).fit(X)
    >>> sorted(km.cluster_centers_.tolist())
    [[1.0, 2.0], [10.0, 2.0]]
    >>> km.predict([[0, 0], [12, 3]]).tolist() == [km.labels_[0], km.labels_[3]]
    True
    >>> round(km.inertia_, 3)
    16.0
    """

    def __init__(
        self,
        n_clusters: int = 8,
        *,
        init: str | np.ndarray | Callable = "k-means++",
        n_init: str | int = "auto",
        max_iter: int = 300,
        tol: float = 1e-4,
        verbose: int = 0,
        random_state: RandomState = None,
        copy_x: bool = True,
        algorithm: str = "auto",
        distance: str = "matmul",
        dtype: str = "float32",
        chunk_size: int | None = None,
        checkpoint_dir: str | None = None,
        checkpoint_every: int = 10,
        log_dir: str | None = None,
    ):
        super().__init__(name="kmeans")
        self.n_clusters = n_clusters
        self.init = init
        self.n_init = n_init
        self.max_iter = max_iter
        self.tol = tol
        self.verbose = verbose
        self.random_state = random_state
        self.copy_x = copy_x
        self.algorithm = algorithm
        self.distance = distance
        self.dtype = dtype
        self.chunk_size = chunk_size
        self.checkpoint_dir = checkpoint_dir
        self.checkpoint_every = checkpoint_every
        self.log_dir = log_dir

    def _check_algorithm(self, X: Any) -> None:
        if self.algorithm not in _ALGORITHMS:
            raise ValueError(f"algorithm must be one of {_ALGORITHMS}, got {self.algorithm!r}.")
        if self.algorithm in ("auto", "lloyd"):
            return
        if self.distance != "matmul":
            raise ValueError(
                f"algorithm={self.algorithm!r} measures distances with distance='matmul', got distance={self.distance!r}."
            )
        if isinstance(X, tf.data.Dataset) or _active_strategy() is not None:
            raise ValueError(
                f"algorithm={self.algorithm!r} keeps per-point bounds and needs the data in memory on one device; "
                "use algorithm='lloyd' for a tf.data.Dataset or under a tf.distribute strategy."
            )

    def _single_run_algorithm(self, n_samples: int, n_features: int) -> str:
        """The iterations of an in-memory run: ``algorithm``, or what 'auto' picks by k and memory.

        Elkan's bounds (``n × k``) for few clusters when they fit the budget
        (the data's size or :data:`_AUTO_MAX_BOUNDS_BYTES`), Yinyang's group
        bounds (``n × k/50``) for many clusters or when Elkan's do not fit,
        Lloyd's pass when neither fits, and always on a GPU.
        """
        if self.algorithm != "auto":
            return self.algorithm
        if self.distance != "matmul" or self.checkpoint_dir is not None:
            return "lloyd"
        if compute_device_type() == "GPU":
            # The dense pass is one long GEMM, what a GPU does best; the bounds trade it for
            # row gathers and scattered updates, which it does worst.
            return "lloyd"
        budget = max(n_samples * n_features, _AUTO_MAX_BOUNDS_BYTES // self._tf_dtype.size)
        if self._n_clusters < _AUTO_YINYANG_MIN_CLUSTERS and n_samples * self._n_clusters <= budget:
            return "elkan"
        if n_samples * default_n_groups(self._n_clusters) <= budget:
            return "yinyang"
        return "lloyd"

    def _loop_options(self, n_features: int) -> LoopOptions:
        return LoopOptions(self.distance, self._chunk_size(n_features), bool(self.verbose))

    def _in_memory_fit_plan(self, X: Any, sample_weight: Any | None) -> FitPlan:
        x, origin = self._fit_matrix(X)
        n_samples, n_features = (int(d) for d in x.shape)
        self._check_common_params(n_samples)
        self._check_tol()
        weights, weight_scale = scaled_sample_weight(sample_weight, n_samples, x.dtype)
        return in_memory_plan(
            x,
            weights,
            self._absolute_tol(x),
            self._loop_options(n_features),
            algorithm=self._single_run_algorithm(n_samples, n_features),
            n_groups=default_n_groups(self._n_clusters),
            runs_chunk_size=functools.partial(self._chunk_size, n_features),
            origin=origin,
            weight_scale=weight_scale,
        )

    def _stream_fit_plan(self, dataset: tf.data.Dataset, sample_weight: Any | None) -> FitPlan:
        """Out-of-core fit: the dataset is read once per iteration, never held in memory.

        Initial centres are chosen (k-means++ or random) from a random sample
        of :func:`~tfkmeans._fit_plan.stream_seed_sample_size` rows, drawn by
        weight in one pass (rows of zero weight are never drawn). The dataset
        must yield the same rows in the same order on every pass (shuffle once,
        not on each iteration): a dataset that never ends, a reshuffling
        ``shuffle`` or a ``deterministic=False`` transformation is refused
        before any pass; random ops inside ``map`` cannot be detected and
        remain the caller's care.
        """
        batches, moments, origin = self._fit_batches(dataset, sample_weight)
        n_samples = int(moments.rows)
        self._check_common_params(n_samples)
        self._check_tol()
        tol = tf.cast(mean_variance(moments) * self._tol, self._tf_dtype)
        seed_size = min(n_samples, stream_seed_sample_size(self._n_clusters))
        rows = _compiled.reservoir_sample(batches, seed_size, draw_seed(check_random_state(self.random_state)))
        self._check_seed_rows(int(rows.shape[0]))
        return stream_plan(batches, moments.batches, rows, tol, self._loop_options(self.n_features_in_), origin)

    def _open_checkpoint(
        self,
        n_init: int,
        run_seeds: np.ndarray,
        dtype: tf.DType,
        X: Any,
        sample_weight: Any | None,
        origin: tf.Tensor | None,
    ) -> FitCheckpoint | None:
        """The fit's checkpoint, restored if the directory holds one of this fit (``X`` as fit received it), else started."""
        if self.checkpoint_dir is None:
            return None
        fingerprint = fit_fingerprint(X, sample_weight, dtype, self.random_state, origin)
        settings = {"init": describe_init(self.init, dtype), "max_iter": self._max_iter, "tol": self._tol}
        checkpoint = FitCheckpoint(
            self.checkpoint_dir, self._n_clusters, self.n_features_in_, n_init, dtype, fingerprint, settings
        )
        resumed = checkpoint.restore()
        if resumed:
            logging.info(
                "KMeans: resuming from %s at run %d, iteration %d",
                self.checkpoint_dir,
                int(checkpoint.run_index.numpy()) + 1,
                int(checkpoint.iterations.numpy()),
            )
        else:
            checkpoint.start(run_seeds)
        self._log_folder = checkpoint.log_folder(self._log_dir, resumed)
        return checkpoint

    def _run_lloyd(
        self,
        run: RunFn,
        centers: tf.Tensor,
        tol: tf.Tensor,
        done: int,
        checkpoint: FitCheckpoint | None,
        run_index: int,
    ) -> ops.LloydResult:
        """One run to convergence; with a checkpoint, in segments of ``checkpoint_every`` iterations."""
        if checkpoint is None:
            result = run(centers, tol, self._max_iter, progress(run_index))
            self._log_history(run_index, result.history, first_iteration=1)
            return result
        while True:
            result = run(centers, tol, min(self._checkpoint_every, self._max_iter - done), progress(run_index, done))
            self._log_history(run_index, result.history, first_iteration=done + 1)
            done += int(result.n_iter)
            centers = result.centers
            checkpoint.save_progress(run_index, done, centers)
            if bool(result.converged) or done >= self._max_iter:
                return result._replace(n_iter=tf.constant(done))

    def _run_seeded_together(self, plan: FitPlan, run_seeds: np.ndarray) -> ops.LloydResult:
        """Every run seeded together, then iterated in one compiled loop (or one by one with bounds); the best run."""
        started = time.perf_counter()
        rngs = [np.random.RandomState(seed) for seed in run_seeds]
        initial_centers = self._initial_centers_of_runs(plan.seed_points, plan.seed_weights, rngs)
        if plan.run_all is None:
            n_iter, inertia, histories, best_result = [], [], [], None
            for run_index, centers in enumerate(tf.unstack(initial_centers)):
                result = plan.run(centers, plan.tol, self._max_iter, progress(run_index))
                n_iter.append(int(result.n_iter))
                inertia.append(float(result.inertia))
                histories.append(result.history)
                if best_result is None or inertia[-1] < float(best_result.inertia):
                    best_result = result  # only the best run's labels are kept
        else:
            runs = plan.run_all(initial_centers, plan.tol, self._max_iter)
            n_iter, inertia = runs.n_iter.numpy(), runs.inertia.numpy()
            histories = [runs.history[: n_iter[r], r] for r in range(len(run_seeds))]
        for run_index, history in enumerate(histories):
            self._log_history(run_index, history, first_iteration=1)
            logging.info(
                "KMeans run %d/%d: %d iterations, inertia %.6g",
                run_index + 1,
                len(run_seeds),
                n_iter[run_index],
                inertia[run_index],
            )
        logging.info("KMeans: %d runs in %.2f s", len(run_seeds), time.perf_counter() - started)
        if plan.run_all is None:
            return best_result
        best = int(np.argmin(inertia))
        # Labels and exact inertia of the best run: one more pass, as a single run ends.
        result = plan.run(runs.centers[best], plan.tol, 0, progress(best))
        return result._replace(n_iter=runs.n_iter[best], converged=runs.converged[best], history=histories[best])

    def _log_history(self, run_index: int, history: tf.Tensor, first_iteration: int) -> None:
        """TensorBoard curves of one run (or segment) from the history the graph recorded."""
        tags = (f"kmeans/run_{run_index}/inertia", f"kmeans/run_{run_index}/centre_shift")
        self._log_scalars(tags, history, first_iteration)

    def fit(self, X: Any, y: Any = None, sample_weight: Any | None = None) -> KMeans:
        """Compute the clustering.

        Parameters
        ----------
        X : array-like, tf.Tensor or tf.data.Dataset of shape (n_samples, n_features)
            Training data; arrays of higher rank (images) are flattened per sample.
        y : ignored
        sample_weight : array-like of shape (n_samples,), optional
            Non-negative weight of each sample in centres and inertia.

        Returns
        -------
        self
        """
        del y
        self._check_eager("fit")
        if not isinstance(self.copy_x, (bool, np.bool_)):
            raise TypeError(f"copy_x must be a bool, got {self.copy_x!r}.")
        self._check_destinations()
        self._check_algorithm(X)
        if isinstance(X, tf.data.Dataset):
            plan = self._stream_fit_plan(X, sample_weight)
        else:
            plan = self._in_memory_fit_plan(X, sample_weight)
        strategy = _active_strategy()
        run = plan.run if strategy is None else plan.distributed_run(strategy)
        n_init = self._resolved_n_init()
        # One seed per run, drawn up front, so a resumed fit replays the same runs.
        run_seeds = check_random_state(self.random_state).randint(0, 2**31 - 1, size=n_init)
        checkpoint = self._open_checkpoint(n_init, run_seeds, plan.seed_points.dtype, X, sample_weight, plan.origin)
        first_run, best = 0, None
        if checkpoint is None and strategy is None and plan.in_memory and n_init > 1:
            first_run, best = n_init, self._run_seeded_together(plan, run_seeds)
        if checkpoint is not None:
            # .numpy(), not int(variable): under a MirroredStrategy the checkpoint's variables are mirrored.
            first_run, run_seeds = int(checkpoint.run_index.numpy()), checkpoint.run_seeds.numpy()
            if np.isfinite(checkpoint.best_inertia.numpy()):  # a finished run to beat
                best = run(tf.identity(checkpoint.best_centers), plan.tol, 0, progress(first_run))._replace(
                    n_iter=checkpoint.best_n_iter.numpy()
                )

        for run_index in range(first_run, n_init):
            started = time.perf_counter()
            if checkpoint is not None and int(checkpoint.iterations.numpy()) > 0:
                centers, done = tf.identity(checkpoint.centers), int(checkpoint.iterations.numpy())
            else:
                run_rng = np.random.RandomState(run_seeds[run_index])
                centers, done = self._initial_centers(plan.seed_points, plan.seed_weights, run_rng, plan.origin), 0
            result = self._run_lloyd(run, centers, plan.tol, done, checkpoint, run_index)
            logging.log_if(
                logging.INFO,
                "KMeans run %d/%d: %d iterations, inertia %.6g, %.2f s",
                self.verbose or n_init > 1,
                run_index + 1,
                n_init,
                int(result.n_iter),
                float(result.inertia),
                time.perf_counter() - started,
            )
            if best is None or float(result.inertia) < float(best.inertia):
                best = result
            if checkpoint is not None:
                checkpoint.save_finished_run(run_index, best.centers, float(best.inertia), int(best.n_iter))

        self._store_centers(best.centers, plan.origin)
        self.labels_ = best.labels.numpy()
        self.inertia_ = float(best.inertia) * plan.weight_scale
        self.n_iter_ = int(best.n_iter)
        history = np.asarray(best.history)
        # Yinyang's loop records, per iteration, the share of the n × k distances it computed.
        self.distance_shares_ = history[:, 2].copy() if history.ndim == 2 and history.shape[1] > 2 else None
        self._warn_if_fewer_distinct_clusters()
        return self
