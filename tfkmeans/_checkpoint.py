"""Fit progress in a ``tf.train.Checkpoint``, so a long fit can stop and resume.

What is saved is all a fit needs to continue exactly where it stopped: the
seeds drawn for every run (the RNG state that matters), which run and
iteration it reached, the current centres and the best finished run so far.
Beside it is a :class:`FitFingerprint` of the fit's inputs (checksums of the
data and sample weights, the origin the data were moved to, and a seed drawn
from ``random_state``): the saved centres are about that origin, and a directory
written by a fit of another shape, other data or another seed is refused,
never half-used.

:class:`FitCheckpoint` holds a :class:`tfkmeans.KMeans` fit and
:class:`MiniBatchCheckpoint` a :class:`tfkmeans.MiniBatchKMeans` one; both
share the compatibility check of :class:`_CompatibleCheckpoint`.
"""

from __future__ import annotations

import copy
import json
import math
import os
from typing import Any, NamedTuple

import numpy as np
import tensorflow as tf

from tfkmeans._data import numeric_matrix, scaled_sample_weight
from tfkmeans._datasets import as_weighted_batches
from tfkmeans._params import RandomState, check_random_state, new_log_folder
from tfkmeans.ops._minibatch import MiniBatchState, minibatch_initial_state

_CENTERS_KEY = "centers/.ATTRIBUTES/VARIABLE_VALUE"
_SEEDS_KEY = "run_seeds/.ATTRIBUTES/VARIABLE_VALUE"

# Elements (not rows) converted to float64 at once: the checksums never hold an
# n x d temporary, and a chunk stays in cache between its passes.
_CHECKSUM_CHUNK = 1 << 18
# Stored for random_state=None, whose seed is not reproducible.
_NO_SEED = -1
# Beside the checkpoint: the fit's TensorBoard folder, where a resumed fit goes on logging.
_LOG_FOLDER_FILE = "tensorboard_folder"


class FitFingerprint(NamedTuple):
    """What identifies a fit's inputs beyond their shapes; see :func:`fit_fingerprint`."""

    n_samples: int
    x_checksum: tuple[float, float, float, float]
    weight_checksum: tuple[float, float, float]
    seed: int | None
    origin: tuple[float, ...]  # where the fit moved the data (the centres saved are about it); () if not moved


def fit_fingerprint(
    X: Any, sample_weight: Any, dtype: tf.DType, random_state: RandomState, origin: tf.Tensor | None = None
) -> FitFingerprint:
    """Fingerprint of a fit's inputs, as the estimator receives them, for :class:`_CompatibleCheckpoint`.

    Parameters
    ----------
    X : array-like, tf.Tensor or tf.data.Dataset
        The (already validated) training data. A dataset is read once, as
        ``(x, sample_weight)`` batches; other data are read in row chunks.
    sample_weight : array-like or None
        The weights passed with in-memory ``X`` (a dataset yields its own).
    dtype : tf.DType
        Precision of the fit: the checksums are of ``X`` converted to it, so
        the same data given in another dtype or container fingerprint alike.
    random_state : None, int, numpy RandomState or Generator
        The estimator's ``random_state``; it is not advanced.
    origin : tf.Tensor of shape (n_features,) or None
        Where the fit moved ``X`` (None: not moved); the checkpoint's centres are about it.

    Returns
    -------
    FitFingerprint
        ``n_samples``; float64 checksums of ``X`` (sum, sum of squares, and
        sums weighted by row and by column position, so that reordered rows
        or features differ) and of the sample weights (sum, sum of squares,
        row-position-weighted sum); a seed drawn from a copy of
        ``random_state``, or None for ``random_state=None``; and the origin's
        coordinates (empty if the data were not moved).
    """
    checksum = _Checksum()
    if isinstance(X, tf.data.Dataset):
        for x, weights in as_weighted_batches(X, dtype):
            checksum.add(x, weights.numpy())
    else:
        x = numeric_matrix(X, "X")
        # The weights as the fit sees them: scaled, so that 1e38 (or 2x the weights: the same fit) checksums safely.
        checksum.add(x, scaled_sample_weight(sample_weight, int(x.shape[0]), dtype)[0].numpy(), dtype)
    seed = None
    if random_state is not None:
        # A copy: drawing from the estimator's own RandomState or Generator would change the fit.
        seed = int(check_random_state(copy.deepcopy(random_state)).randint(0, 2**31 - 1))
    moved_to = () if origin is None else tuple(float(value) for value in tf.reshape(origin, [-1]).numpy())
    return FitFingerprint(checksum.rows, checksum.x_checksum(), checksum.weight_checksum(), seed, moved_to)


def describe_init(init: Any, dtype: tf.DType) -> str:
    """``init`` as a checkpoint records it: its name, a callable's qualified name, or an array's checksums."""
    if isinstance(init, str):
        return init
    if callable(init):
        return f"callable {getattr(init, '__module__', '?')}.{getattr(init, '__qualname__', type(init).__name__)}"
    checksum = _Checksum()
    array = numeric_matrix(init, "init")
    checksum.add(array, np.ones(int(array.shape[0])), dtype)
    return f"array with checksum {checksum.x_checksum()}"


class _Checksum:
    """Float64 checksums of rows and their weights, accumulated chunk by chunk in a fixed order.

    Only numpy's own reductions on C-ordered chunks are used (no BLAS, no
    threads), so the same data give bit-identical checksums in every fit.
    """

    def __init__(self):
        self.rows = 0
        self.x_sum = self.x_squares = self.x_by_row = 0.0
        self.column_sums: np.ndarray | None = None
        self.w_sum = self.w_squares = self.w_by_row = 0.0

    def add(self, x: np.ndarray | tf.Tensor, weights: np.ndarray, dtype: tf.DType | None = None) -> None:
        """Add the rows of ``x`` (cast to ``dtype`` first, if given) and their weights."""
        n_samples, n_features = (int(d) for d in x.shape)
        w, w_rows = weights.astype(np.float64), self._positions(n_samples)
        self.w_sum += float(w.sum())
        self.w_squares += float((w * w).sum())
        self.w_by_row += float((w * w_rows).sum())
        step = max(1, _CHECKSUM_CHUNK // n_features)
        for start in range(0, n_samples, step):
            chunk = x[start : start + step]
            if dtype is not None:
                chunk = tf.cast(chunk, dtype) if tf.is_tensor(chunk) else chunk.astype(dtype.as_numpy_dtype, copy=False)
            if tf.is_tensor(chunk):
                chunk = chunk.numpy()
            self._add_chunk(chunk.astype(np.float64, order="C"))  # always a copy of our own

    def _positions(self, n_rows: int) -> np.ndarray:
        """1-based positions of the next ``n_rows`` rows."""
        return np.arange(self.rows + 1, self.rows + n_rows + 1, dtype=np.float64)

    def _add_chunk(self, chunk: np.ndarray) -> None:
        row_sums, column_sums = chunk.sum(axis=1), chunk.sum(axis=0)
        self.x_sum += float(row_sums.sum())
        self.x_by_row += float((row_sums * self._positions(len(chunk))).sum())
        self.column_sums = column_sums if self.column_sums is None else self.column_sums + column_sums
        np.square(chunk, out=chunk)
        self.x_squares += float(chunk.sum())
        self.rows += len(chunk)

    def x_checksum(self) -> tuple[float, float, float, float]:
        """Sum, sum of squares, and the sums weighted by row and by column position."""
        columns = np.arange(1, len(self.column_sums) + 1, dtype=np.float64)
        return self.x_sum, self.x_squares, self.x_by_row, float((self.column_sums * columns).sum())

    def weight_checksum(self) -> tuple[float, float, float]:
        """Sum, sum of squares and row-position-weighted sum of the weights."""
        return self.w_sum, self.w_squares, self.w_by_row


def _key(name: str) -> str:
    return f"{name}/.ATTRIBUTES/VARIABLE_VALUE"


_FINGERPRINT_KEYS = tuple(
    _key(name) for name in ("n_samples", "x_checksum", "weight_checksum", "random_seed", "settings", "origin")
)


class _CompatibleCheckpoint:
    """A ``tf.train.Checkpoint`` of ``variables`` in ``directory`` that refuses another fit's checkpoint.

    Subclasses name the fit (``kind``), the checkpoint keys a checkpoint of
    theirs always has (``_required_keys``), and read the shape of the fit that
    wrote a checkpoint (:meth:`_describe`); :meth:`restore` compares it, the
    stored :class:`FitFingerprint` and the stored ``settings`` (the parameters
    that shape the result, such as ``max_iter``, ``tol`` and ``init``) with
    this fit's before loading anything: a resume never ignores a changed setting.
    """

    kind = "tfkmeans"
    _required_keys: tuple[str, ...] = ()

    def __init__(
        self,
        directory: str | os.PathLike,
        expected: dict[str, Any],
        variables: dict[str, tf.Variable],
        fingerprint: FitFingerprint,
        settings: dict[str, str | int | float | None],
    ):
        self.directory = os.fspath(directory)
        settings_json = json.dumps(settings, sort_keys=True)
        self._expected = {
            **expected,
            **json.loads(settings_json),  # as they read back
            "n_samples": fingerprint.n_samples,
            "X checksum": fingerprint.x_checksum,
            "sample_weight checksum": fingerprint.weight_checksum,
            "origin": fingerprint.origin,
        }
        if fingerprint.seed is not None:  # random_state=None takes the seeds of whichever fit it resumes
            self._expected["seed from random_state"] = fingerprint.seed
        seed = _NO_SEED if fingerprint.seed is None else fingerprint.seed
        variables = dict(
            variables,
            n_samples=tf.Variable(fingerprint.n_samples, dtype=tf.int64, trainable=False),
            x_checksum=tf.Variable(fingerprint.x_checksum, dtype=tf.float64, trainable=False),
            weight_checksum=tf.Variable(fingerprint.weight_checksum, dtype=tf.float64, trainable=False),
            random_seed=tf.Variable(seed, dtype=tf.int64, trainable=False),
            settings=tf.Variable(settings_json, dtype=tf.string, trainable=False),
            origin=tf.Variable(fingerprint.origin, dtype=tf.float64, shape=[len(fingerprint.origin)], trainable=False),
        )
        self._checkpoint = tf.train.Checkpoint(**variables)
        self._manager = tf.train.CheckpointManager(self._checkpoint, self.directory, max_to_keep=2)

    def restore(self) -> bool:
        """Load the latest checkpoint if there is one; ``False`` for a fresh directory."""
        latest = self._manager.latest_checkpoint
        if latest is None:
            return False
        self._check_compatible(latest)
        try:
            self._checkpoint.restore(latest).assert_existing_objects_matched()
        except (tf.errors.OpError, ValueError, AssertionError, IndexError) as error:
            raise ValueError(
                f"The checkpoint {latest} could not be restored (corrupt or incomplete): {error}"
            ) from None
        return True

    def log_folder(self, log_dir: str | None, resumed: bool) -> str | None:
        """The fit's TensorBoard folder in ``log_dir`` (None without one), recorded beside the checkpoint.

        A resumed fit continues in the folder of the fit it resumes, if that
        was in the same ``log_dir``, so its curves go on where they stopped;
        otherwise the fit gets a new folder (:func:`new_log_folder`).
        """
        if log_dir is None:
            return None
        record = f"{self.directory.rstrip('/')}/{_LOG_FOLDER_FILE}"
        if resumed and tf.io.gfile.exists(record):
            with tf.io.gfile.GFile(record) as file:
                folder = file.read()
            if folder.rsplit("/", 1)[0] == log_dir.rstrip("/") and tf.io.gfile.isdir(folder):
                return folder
        folder = new_log_folder(log_dir)
        with tf.io.gfile.GFile(record, "w") as file:
            file.write(folder)
        return folder

    def _describe(
        self, reader: tf.train.CheckpointReader, shapes: dict[str, list[int]], dtypes: dict[str, tf.DType]
    ) -> dict[str, Any]:
        """The values of ``expected``'s keys for the fit that wrote the checkpoint."""
        raise NotImplementedError

    @staticmethod
    def _describe_fingerprint(reader: tf.train.CheckpointReader) -> dict[str, Any]:
        """The stored :class:`FitFingerprint`, under the names the expected values have."""
        seed = int(reader.get_tensor(_key("random_seed")))
        return {
            "n_samples": int(reader.get_tensor(_key("n_samples"))),
            "X checksum": tuple(reader.get_tensor(_key("x_checksum")).tolist()),
            "sample_weight checksum": tuple(reader.get_tensor(_key("weight_checksum")).tolist()),
            "seed from random_state": None if seed == _NO_SEED else seed,
            "origin": tuple(reader.get_tensor(_key("origin")).tolist()),
            **json.loads(reader.get_tensor(_key("settings")).decode()),
        }

    def _check_compatible(self, path: str) -> None:
        try:
            reader = tf.train.load_checkpoint(path)
            shapes = reader.get_variable_to_shape_map()
            dtypes = reader.get_variable_to_dtype_map()
            for key in shapes:  # a truncated data file fails here (an IndexError), not half-way through a restore
                reader.get_tensor(key)
        except (tf.errors.OpError, ValueError, IndexError) as error:
            raise ValueError(f"The checkpoint {path} is corrupt or unreadable: {error}") from None
        if any(key not in shapes for key in self._required_keys):
            raise ValueError(f"{path} is not a tfkmeans {self.kind} checkpoint; use another checkpoint_dir.")
        if any(key not in shapes for key in _FINGERPRINT_KEYS):
            raise ValueError(
                f"The checkpoint in {self.directory} has no fingerprint of the data and settings it was fitted with "
                "(an older tfkmeans wrote it), so it cannot be told from another fit's. "
                "Use another checkpoint_dir, or remove it to start afresh."
            )
        try:
            found = {**self._describe(reader, shapes, dtypes), **self._describe_fingerprint(reader)}
        except (tf.errors.OpError, ValueError) as error:
            raise ValueError(f"The checkpoint {path} is corrupt or unreadable: {error}") from None
        differences = ", ".join(
            f"{name}={found.get(name)} (this fit: {expected})"
            for name, expected in self._expected.items()
            if found.get(name) != expected
        )
        if differences:
            raise ValueError(
                f"The checkpoint in {self.directory} belongs to another fit: {differences}. "
                "Use another checkpoint_dir, or remove it to start afresh."
            )


class FitCheckpoint(_CompatibleCheckpoint):
    """Checkpointed state of a K-means fit with ``n_init`` runs."""

    kind = "KMeans"
    _required_keys = (_CENTERS_KEY, _SEEDS_KEY)

    def __init__(
        self,
        directory: str | os.PathLike,
        n_clusters: int,
        n_features: int,
        n_init: int,
        dtype: tf.DType,
        fingerprint: FitFingerprint,
        settings: dict[str, str | int | float | None],
    ):
        self.run_seeds = tf.Variable(tf.zeros([n_init], tf.int64), trainable=False)
        self.run_index = tf.Variable(0, dtype=tf.int64, trainable=False)
        self.iterations = tf.Variable(0, dtype=tf.int64, trainable=False)
        self.centers = tf.Variable(tf.zeros([n_clusters, n_features], dtype), trainable=False)
        self.best_centers = tf.Variable(tf.zeros([n_clusters, n_features], dtype), trainable=False)
        self.best_inertia = tf.Variable(math.inf, dtype=tf.float64, trainable=False)
        self.best_n_iter = tf.Variable(0, dtype=tf.int64, trainable=False)
        super().__init__(
            directory,
            {"n_clusters": n_clusters, "n_features": n_features, "n_init": n_init, "dtype": dtype.name},
            dict(
                run_seeds=self.run_seeds,
                run_index=self.run_index,
                iterations=self.iterations,
                centers=self.centers,
                best_centers=self.best_centers,
                best_inertia=self.best_inertia,
                best_n_iter=self.best_n_iter,
            ),
            fingerprint,
            settings,
        )

    def _describe(self, reader, shapes, dtypes) -> dict[str, Any]:
        return {
            "n_clusters": shapes[_CENTERS_KEY][0],
            "n_features": shapes[_CENTERS_KEY][1],
            "n_init": shapes[_SEEDS_KEY][0],
            "dtype": dtypes[_CENTERS_KEY].name,
        }

    def start(self, run_seeds: np.ndarray) -> None:
        """Record a fresh fit's run seeds and save the starting point."""
        self.run_seeds.assign(run_seeds)
        self._manager.save()

    def save_progress(self, run_index: int, iterations: int, centers: tf.Tensor) -> None:
        self.run_index.assign(run_index)
        self.iterations.assign(iterations)
        self.centers.assign(centers)
        self._manager.save()

    def save_finished_run(self, run_index: int, best_centers: tf.Tensor, best_inertia: float, best_n_iter: int) -> None:
        """A run ended: the best so far is kept, and the next run starts from iteration 0."""
        self.best_centers.assign(best_centers)
        self.best_inertia.assign(best_inertia)
        self.best_n_iter.assign(best_n_iter)
        self.save_progress(run_index + 1, 0, self.centers)


class MiniBatchCheckpoint(_CompatibleCheckpoint):
    """Checkpointed state of an in-memory ``MiniBatchKMeans`` fit.

    Holds the stateless seed the batches and reassignments are drawn from, the
    initial centres, and every field of the step loop's :class:`MiniBatchState`
    (centres, counts, step, smoothed inertia, no-improvement counter, ...):
    with the seed folded by the step index, the state at step ``i`` determines
    every later step. A checkpoint is refused unless ``n_clusters``,
    ``n_features``, ``dtype``, ``batch_size`` and the ``fingerprint`` match.
    """

    kind = "MiniBatchKMeans"
    _required_keys = tuple(_key(name) for name in ("state_centers", "state_counts", "batch_seed", "batch_size"))

    def __init__(
        self,
        directory: str | os.PathLike,
        n_clusters: int,
        n_features: int,
        dtype: tf.DType,
        batch_size: int,
        fingerprint: FitFingerprint,
        settings: dict[str, str | int | float | None],
    ):
        template = minibatch_initial_state(tf.zeros([n_clusters, n_features], dtype))
        self.state_variables = {
            name: tf.Variable(value, trainable=False, shape=value.shape) for name, value in template._asdict().items()
        }
        self.batch_seed = tf.Variable(tf.zeros([2], tf.int64), trainable=False)
        self.initial_centers = tf.Variable(tf.zeros([n_clusters, n_features], dtype), trainable=False)
        self.batch_size = tf.Variable(batch_size, dtype=tf.int64, trainable=False)
        variables = {f"state_{name}": variable for name, variable in self.state_variables.items()}
        variables.update(batch_seed=self.batch_seed, initial_centers=self.initial_centers, batch_size=self.batch_size)
        super().__init__(
            directory,
            {"n_clusters": n_clusters, "n_features": n_features, "dtype": dtype.name, "batch_size": batch_size},
            variables,
            fingerprint,
            settings,
        )

    def _describe(self, reader, shapes, dtypes) -> dict[str, Any]:
        centers = _key("state_centers")
        return {
            "n_clusters": shapes[centers][0],
            "n_features": shapes[centers][1],
            "dtype": dtypes[centers].name,
            "batch_size": int(reader.get_tensor(_key("batch_size"))),
        }

    def start(self, seed: tf.Tensor, initial_centers: tf.Tensor) -> None:
        """Record a fresh fit's seed and initial centres, and save its step-0 state."""
        self.batch_seed.assign(tf.cast(seed, tf.int64))
        self.initial_centers.assign(initial_centers)
        self.save(minibatch_initial_state(initial_centers))

    def save(self, state: MiniBatchState) -> None:
        for name, value in state._asdict().items():
            self.state_variables[name].assign(value)
        self._manager.save()

    def state(self) -> MiniBatchState:
        """The saved state (copies, not the variables)."""
        return MiniBatchState(**{name: tf.identity(variable) for name, variable in self.state_variables.items()})
