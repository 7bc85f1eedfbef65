"""Fit progress in a ``tf.train.Checkpoint``, so a long fit can stop and resume.

What is saved is all a fit needs to continue exactly where it stopped: the
seeds drawn for every run (the RNG state that matters), which run and
iteration it reached, the current centres and the best finished run so far.
A directory written for another shape of problem is refused, never half-used.

:class:`FitCheckpoint` holds a :class:`tfkmeans.KMeans` fit and
:class:`MiniBatchCheckpoint` a :class:`tfkmeans.MiniBatchKMeans` one; both
share the compatibility check of :class:`_CompatibleCheckpoint`.
"""

from __future__ import annotations

import math
import os
from typing import Any, Union

import numpy as np
import tensorflow as tf

from tfkmeans.ops.minibatch import MiniBatchState, minibatch_initial_state

_CENTERS_KEY = "centers/.ATTRIBUTES/VARIABLE_VALUE"
_SEEDS_KEY = "run_seeds/.ATTRIBUTES/VARIABLE_VALUE"


class _CompatibleCheckpoint:
    """A ``tf.train.Checkpoint`` of ``variables`` in ``directory`` that refuses another fit's checkpoint.

    Subclasses name the fit (``kind``), the checkpoint keys a checkpoint of
    theirs always has (``_required_keys``), and read the shape of the fit that
    wrote a checkpoint (:meth:`_describe`); :meth:`restore` compares it with
    ``expected`` before loading anything.
    """

    kind = "tfkmeans"
    _required_keys: tuple[str, ...] = ()

    def __init__(self, directory: Union[str, os.PathLike], expected: dict[str, Any], variables: dict[str, tf.Variable]):
        self.directory = os.fspath(directory)
        self._expected = expected
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
        except (tf.errors.OpError, ValueError, AssertionError) as error:
            raise ValueError(f"The checkpoint {latest} could not be restored (corrupt or incomplete): {error}") from None
        return True

    def _describe(
        self, reader: tf.train.CheckpointReader, shapes: dict[str, list[int]], dtypes: dict[str, tf.DType]
    ) -> dict[str, Any]:
        """The values of ``expected``'s keys for the fit that wrote the checkpoint."""
        raise NotImplementedError

    def _check_compatible(self, path: str) -> None:
        try:
            reader = tf.train.load_checkpoint(path)
            shapes = reader.get_variable_to_shape_map()
            dtypes = reader.get_variable_to_dtype_map()
        except (tf.errors.OpError, ValueError) as error:
            raise ValueError(f"The checkpoint {path} is corrupt or unreadable: {error}") from None
        if any(key not in shapes for key in self._required_keys):
            raise ValueError(f"{path} is not a tfkmeans {self.kind} checkpoint; use another checkpoint_dir.")
        try:
            found = self._describe(reader, shapes, dtypes)
        except (tf.errors.OpError, ValueError) as error:
            raise ValueError(f"The checkpoint {path} is corrupt or unreadable: {error}") from None
        if found != self._expected:
            differences = ", ".join(
                f"{name}={found[name]} (this fit: {self._expected[name]})" for name in found if found[name] != self._expected[name]
            )
            raise ValueError(
                f"The checkpoint in {self.directory} belongs to another fit: {differences}. "
                "Use another checkpoint_dir, or remove it to start afresh."
            )


class FitCheckpoint(_CompatibleCheckpoint):
    """Checkpointed state of a K-means fit with ``n_init`` runs."""

    kind = "KMeans"
    _required_keys = (_CENTERS_KEY, _SEEDS_KEY)

    def __init__(
        self, directory: Union[str, os.PathLike], n_clusters: int, n_features: int, n_init: int, dtype: tf.DType
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
                run_seeds=self.run_seeds, run_index=self.run_index, iterations=self.iterations, centers=self.centers,
                best_centers=self.best_centers, best_inertia=self.best_inertia, best_n_iter=self.best_n_iter,
            ),
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


def _key(name: str) -> str:
    return f"{name}/.ATTRIBUTES/VARIABLE_VALUE"


class MiniBatchCheckpoint(_CompatibleCheckpoint):
    """Checkpointed state of an in-memory ``MiniBatchKMeans`` fit.

    Holds the stateless seed the batches and reassignments are drawn from, the
    initial centres, and every field of the step loop's :class:`MiniBatchState`
    (centres, counts, step, smoothed inertia, no-improvement counter, ...):
    with the seed folded by the step index, the state at step ``i`` determines
    every later step. A checkpoint is refused unless ``n_clusters``,
    ``n_features``, ``dtype``, ``n_samples`` and ``batch_size`` match.
    """

    kind = "MiniBatchKMeans"
    _required_keys = tuple(
        _key(name) for name in ("state_centers", "state_counts", "batch_seed", "n_samples", "batch_size")
    )

    def __init__(
        self, directory: Union[str, os.PathLike], n_clusters: int, n_features: int, dtype: tf.DType,
        n_samples: int, batch_size: int,
    ):
        template = minibatch_initial_state(tf.zeros([n_clusters, n_features], dtype))
        self.state_variables = {
            name: tf.Variable(value, trainable=False, shape=value.shape) for name, value in template._asdict().items()
        }
        self.batch_seed = tf.Variable(tf.zeros([2], tf.int64), trainable=False)
        self.initial_centers = tf.Variable(tf.zeros([n_clusters, n_features], dtype), trainable=False)
        self.n_samples = tf.Variable(n_samples, dtype=tf.int64, trainable=False)
        self.batch_size = tf.Variable(batch_size, dtype=tf.int64, trainable=False)
        variables = {f"state_{name}": variable for name, variable in self.state_variables.items()}
        variables.update(
            batch_seed=self.batch_seed, initial_centers=self.initial_centers,
            n_samples=self.n_samples, batch_size=self.batch_size,
        )
        super().__init__(
            directory,
            {"n_clusters": n_clusters, "n_features": n_features, "dtype": dtype.name, "n_samples": n_samples,
             "batch_size": batch_size},
            variables,
        )

    def _describe(self, reader, shapes, dtypes) -> dict[str, Any]:
        centers = _key("state_centers")
        return {
            "n_clusters": shapes[centers][0],
            "n_features": shapes[centers][1],
            "dtype": dtypes[centers].name,
            "n_samples": int(reader.get_tensor(_key("n_samples"))),
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
