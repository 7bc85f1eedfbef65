"""Fit progress in a ``tf.train.Checkpoint``, so a long fit can stop and resume.

What is saved is all a fit needs to continue exactly where it stopped: the
seeds drawn for every run (the RNG state that matters), which run and
iteration it reached, the current centres and the best finished run so far.
A directory written for another shape of problem is refused, never half-used.
"""

from __future__ import annotations

import math
import os
from typing import Union

import numpy as np
import tensorflow as tf

_CENTERS_KEY = "centers/.ATTRIBUTES/VARIABLE_VALUE"
_SEEDS_KEY = "run_seeds/.ATTRIBUTES/VARIABLE_VALUE"


class FitCheckpoint:
    """Checkpointed state of a K-means fit with ``n_init`` runs."""

    def __init__(
        self, directory: Union[str, os.PathLike], n_clusters: int, n_features: int, n_init: int, dtype: tf.DType
    ):
        self.directory = os.fspath(directory)
        self._expected = {"n_clusters": n_clusters, "n_features": n_features, "n_init": n_init, "dtype": dtype.name}
        self.run_seeds = tf.Variable(tf.zeros([n_init], tf.int64), trainable=False)
        self.run_index = tf.Variable(0, dtype=tf.int64, trainable=False)
        self.iterations = tf.Variable(0, dtype=tf.int64, trainable=False)
        self.centers = tf.Variable(tf.zeros([n_clusters, n_features], dtype), trainable=False)
        self.best_centers = tf.Variable(tf.zeros([n_clusters, n_features], dtype), trainable=False)
        self.best_inertia = tf.Variable(math.inf, dtype=tf.float64, trainable=False)
        self.best_n_iter = tf.Variable(0, dtype=tf.int64, trainable=False)
        self._checkpoint = tf.train.Checkpoint(
            run_seeds=self.run_seeds, run_index=self.run_index, iterations=self.iterations, centers=self.centers,
            best_centers=self.best_centers, best_inertia=self.best_inertia, best_n_iter=self.best_n_iter,
        )
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

    def _check_compatible(self, path: str) -> None:
        try:
            reader = tf.train.load_checkpoint(path)
            shapes = reader.get_variable_to_shape_map()
            dtypes = reader.get_variable_to_dtype_map()
        except (tf.errors.OpError, ValueError) as error:
            raise ValueError(f"The checkpoint {path} is corrupt or unreadable: {error}") from None
        if _CENTERS_KEY not in shapes or _SEEDS_KEY not in shapes:
            raise ValueError(f"{path} is not a tfkmeans KMeans checkpoint; use another checkpoint_dir.")
        found = {
            "n_clusters": shapes[_CENTERS_KEY][0],
            "n_features": shapes[_CENTERS_KEY][1],
            "n_init": shapes[_SEEDS_KEY][0],
            "dtype": dtypes[_CENTERS_KEY].name,
        }
        if found != self._expected:
            differences = ", ".join(
                f"{name}={found[name]} (this fit: {self._expected[name]})" for name in found if found[name] != self._expected[name]
            )
            raise ValueError(
                f"The checkpoint in {self.directory} belongs to another fit: {differences}. "
                "Use another checkpoint_dir, or remove it to start afresh."
            )

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
