"""Shared fixtures: small synthetic data, MNIST (or synthetic digits), and one quick run of every study."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

REPO_ROOT = Path(__file__).resolve().parents[1]
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


@pytest.fixture(scope="session")
def data_dir(tmp_path_factory) -> tuple[str, bool]:
    """(directory of the four IDX files, whether they are the real MNIST); synthetic digits without MNIST."""
    from test_experiments import synthetic_digits, write_idx_gz

    directory = mnist_dir()
    if directory is not None:
        return directory, True
    directory = tmp_path_factory.mktemp("synthetic_mnist")
    rng = np.random.default_rng(0)
    for prefix, n in (("train", 400), ("t10k", 100)):
        images, labels = synthetic_digits(n, rng)
        write_idx_gz(directory / f"{prefix}-images-idx3-ubyte.gz", images)
        write_idx_gz(directory / f"{prefix}-labels-idx1-ubyte.gz", labels)
    return str(directory), False


@pytest.fixture(scope="session")
def quick_runs(data_dir, tmp_path_factory) -> dict:
    """Run ``python -m experiments.all --quick --skip=naive`` once per session; paths and process result.

    Every study runs in its own process, as users run them; the studies' test modules then read
    their outputs (test_experiments runs the naive study itself).
    """
    directory, _ = data_dir
    runs_dir = tmp_path_factory.mktemp("runs")
    report_path = runs_dir / "REPORT.md"
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "CUDA_VISIBLE_DEVICES": ""}
    command = [
        sys.executable,
        "-m",
        "experiments.all",
        "--quick",
        "--skip=naive",
        f"--data_dir={directory}",
        f"--output_dir={runs_dir}",
        f"--report={report_path}",
    ]
    completed = subprocess.run(command, cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=1500)
    return {"runs_dir": runs_dir, "report": report_path, "completed": completed}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every test that needs a quick run of the studies (``quick_runs``, the learned-feature
    studies' ``runs``) is slow: ``pytest -m "not slow"`` skips them."""
    for item in items:
        if {"quick_runs", "runs"} & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.slow)
