"""Shared fixtures: small synthetic data and a cached MNIST subset."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

_SHARED_MNIST = Path(__file__).resolve().parents[2] / "shared" / "datasets" / "mnist"


def mnist_dir() -> str | None:
    """TFKMEANS_DATA_DIR (set by the Makefile and CI), else the shared copy beside the repo."""
    configured = os.environ.get("TFKMEANS_DATA_DIR")
    if configured:
        return configured
    return str(_SHARED_MNIST) if (_SHARED_MNIST / "train-images-idx3-ubyte.gz").exists() else None


@pytest.fixture(scope="session")
def mnist_train():
    """(images float32 (60000, 784) in [0, 1], labels) of MNIST train."""
    from tfkmeans.datasets import load_mnist

    directory = mnist_dir()
    if directory is None:
        pytest.skip("MNIST not available: set TFKMEANS_DATA_DIR (CI always does)")
    return load_mnist("train", directory)


@pytest.fixture(scope="session")
def mnist_subset(mnist_train):
    """The first 5,000 training images: enough for real-data oracle tests, quick to fit."""
    images, labels = mnist_train
    return images[:5000], labels[:5000]


@pytest.fixture(scope="session")
def blobs():
    """Five Gaussian blobs in 6-D, 1,500 points, with overlap so Lloyd needs several iterations."""
    from sklearn.datasets import make_blobs

    x, y = make_blobs(n_samples=1500, centers=5, n_features=6, cluster_std=2.5, random_state=3)
    return x.astype(np.float64), y


class Interrupted(Exception):
    """Raised by :func:`interrupt_after` in place of a killed job."""


def interrupt_after(monkeypatch, module, name: str, calls: int):
    """Make ``module.name`` (a compiled graph) fail on its (calls+1)-th call; returns a restore function."""
    compiled = getattr(module, name)
    seen = []

    def flaky(*args, **kwargs):
        if len(seen) == calls:
            raise Interrupted
        seen.append(1)
        return compiled(*args, **kwargs)

    monkeypatch.setattr(module, name, flaky)
    return lambda: monkeypatch.setattr(module, name, compiled)
