"""Checks of the estimators' parameters and arguments: clear errors before any graph runs.

Integers and numbers, ``random_state`` and the seeds drawn from it, the
directories a fit writes to, and where a warning points in the caller's code.
"""

from __future__ import annotations

import numbers
import os
import re
import sys
from typing import Any

import numpy as np
import tensorflow as tf

RandomState = None | int | np.random.RandomState | np.random.Generator


# TensorFlow counts iterations, steps, rows and chunks in int32.
INT32_MAX = 2**31 - 1


def check_int(value: Any, name: str, *, minimum: int, upper: int | None = None, upper_name: str = "") -> int:
    """``value`` as a Python ``int`` in ``[minimum, min(upper, 2**31 - 1)]``; numpy integers are accepted, bools are not.

    The Python ``int`` matters: a numpy integer given to a ``tf.function``
    becomes a tensor, and ``tf.constant`` makes an int64 of it.
    """
    expected = {0: "a non-negative integer", 1: "a positive integer"}.get(minimum, f"an integer >= {minimum}")
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be {expected}, got {value!r} of type {type(value).__name__}.")
    value = int(value)
    if value < minimum:
        raise ValueError(f"{name} must be {expected}, got {value}.")
    if upper is not None and value > upper:
        raise ValueError(f"{name}={value} must be <= {upper_name} ({upper}).")
    if value > INT32_MAX:
        raise ValueError(
            f"{name}={value} is too large: TensorFlow counts it in int32, so at most 2**31 - 1 ({INT32_MAX})."
        )
    return value


def check_positive_int(value: Any, name: str, upper: int | None = None, upper_name: str = "") -> int:
    """:func:`check_int` with a minimum of 1."""
    return check_int(value, name, minimum=1, upper=upper, upper_name=upper_name)


def check_non_negative_number(value: Any, name: str) -> float:
    """``value`` as a Python ``float`` >= 0 (numpy scalars accepted; bools, NaN and non-numbers refused)."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real) or not value >= 0:
        raise ValueError(f"{name} must be a non-negative number, got {value!r}.")
    return float(value)


def check_random_state(random_state: RandomState) -> np.random.RandomState:
    """scikit-learn's convention: None → fresh entropy, int → seeded, RandomState → itself."""
    if random_state is None:
        return np.random.RandomState()
    if isinstance(random_state, np.random.RandomState):
        return random_state
    if isinstance(random_state, np.random.Generator):
        return np.random.RandomState(random_state.integers(2**31 - 1))
    if isinstance(random_state, numbers.Integral) and not isinstance(random_state, bool):
        return np.random.RandomState(int(random_state))
    raise ValueError(f"random_state must be None, an int or a numpy RandomState/Generator, got {random_state!r}.")


def draw_seed(rng: np.random.RandomState) -> tf.Tensor:
    """A seed for TensorFlow's stateless random ops, drawn from ``rng``."""
    return tf.constant(rng.randint(0, 2**31 - 1, size=2), dtype=tf.int64)


def check_destination(path: Any, name: str) -> str | None:
    """``path`` as a writable directory (created if missing), or None; a ValueError naming ``name`` otherwise.

    Run before any work, so that a fit cannot end in an error about where to
    write its checkpoints or logs; an empty string (which TensorFlow would take
    as the current directory) is refused rather than guessed at.
    """
    if path is None:
        return None
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"{name} must be a path (str or os.PathLike) or None, got {path!r}.")
    directory = os.fspath(path)
    if not directory:
        raise ValueError(f"{name} is an empty string: give a directory, or None to write nothing.")
    probe = f"{directory.rstrip('/')}/.tfkmeans-write-probe-{os.getpid()}"
    try:  # tf.io.gfile, as the checkpoint and summary writers: local paths and gs://, s3://, ... alike
        tf.io.gfile.makedirs(directory)
        with tf.io.gfile.GFile(probe, "w") as file:
            file.write("")
        tf.io.gfile.remove(probe)
    except (OSError, tf.errors.OpError) as error:
        raise ValueError(
            f"{name}={directory!r} is not a writable directory: {getattr(error, 'message', error)}"
        ) from None
    return directory


def new_log_folder(log_dir: str) -> str:
    """A new folder ``log_dir/fit-<n>`` for one fit's TensorBoard events: ``n`` is 1 + the largest one there.

    Each fit writing its own run keeps two fits into one ``log_dir`` from
    interleaving points under the same tags. On a local file system the folder
    is created atomically (``os.mkdir``), so fits starting together in several
    threads or processes get different numbers; ``tf.io.gfile`` has no such
    operation for object stores (gs://, s3://), where two fits starting at the
    same instant could share a folder.
    """
    taken = [int(match[1]) for name in tf.io.gfile.listdir(log_dir) if (match := re.fullmatch(r"fit-(\d+)/?", name))]
    number = max(taken, default=0) + 1
    while True:
        folder = f"{log_dir.rstrip('/')}/fit-{number}"
        if "://" in log_dir:
            if not tf.io.gfile.exists(folder):
                tf.io.gfile.makedirs(folder)
                return folder
        else:
            try:
                os.mkdir(folder)
                return folder
            except FileExistsError:  # taken since the listing, by another fit
                pass
        number += 1


def stacklevel_outside_package() -> int:
    """The ``stacklevel`` at which the caller's warning points at the first frame outside tfkmeans."""
    frame, level = sys._getframe(1), 1
    while frame is not None and (frame.f_globals.get("__name__", "") + ".").startswith("tfkmeans."):
        frame, level = frame.f_back, level + 1
    return level
