"""Shared fixtures: small synthetic data, MNIST (or synthetic digits), and one quick run of every study."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
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


#: Defined in every memory probe: ``status_mb(field)`` reads a ``/proc/self/status`` field in MiB (VmHWM is
#: the process's own high-water mark; ru_maxrss would also count the RSS of the forking pytest), and
#: ``reset_peak()`` sets VmHWM back to the current RSS (clear_refs), so a peak can be measured per step.
_PROBE_PREAMBLE = """
import json
def status_mb(field):
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith(field + ":")) / 1024
def reset_peak():
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")
"""


def run_memory_probe(script: str) -> dict:
    """Run ``script`` (with ``status_mb`` and ``reset_peak`` defined) in a fresh Python process, where
    the peak memory is its own; return the JSON object its last output line prints."""
    source = _PROBE_PREAMBLE + textwrap.dedent(script)
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    completed = subprocess.run(
        [sys.executable, "-c", source], cwd=REPO_ROOT, capture_output=True, text=True, env=env, check=False
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    report = json.loads(completed.stdout.strip().splitlines()[-1])
    print(report)
    return report


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


#: The studies' second runs, compared with the quick run by the tests of deep and of the learned-feature
#: studies: "reuse" runs with ``--reuse`` in a copy of the quick run's directory (must load what that run
#: saved and reproduce its scores), "again" from scratch with the same seed (must reproduce its numbers;
#: without the early snapshot and with one self-training round, for time). deep's "again" trains an
#: autoencoder and a CNN with experiments.networks, as the other two studies do, and clusters their
#: features: it stands for them (tests/test_networks.py checks the seeded training itself).
RERUNS = {
    ("deep", "reuse"): ("--n_seeds=1", "--reuse"),
    ("deep", "again"): ("--n_seeds=1", "--early_epochs=0", "--self_training_rounds=1"),
    ("autoencoder", "reuse"): ("--reuse",),
    ("lenet", "reuse"): ("--reuse",),
}


#: Added to the environment of the studies in the background: one compute thread each (TensorFlow,
#: OpenMP, numba). The unit tests beside them use TensorFlow's default pools, one thread per core, and
#: threads that outnumber the cores spin while they wait, which slows everything on a two-core machine.
SINGLE_THREADED = {"TF_NUM_INTRAOP_THREADS": "1", "OMP_NUM_THREADS": "1", "NUMBA_NUM_THREADS": "1"}


class StudiesInBackground:
    """``python -m experiments.all --quick`` (every study), then the :data:`RERUNS`, beside the other tests.

    They take minutes; the tests that read them run near the end (:func:`pytest_collection_modifyitems`),
    and the reruns start as soon as the quick run is done (:func:`pytest_runtest_logfinish` looks after
    every test), so they too use the core the unit tests leave idle.
    """

    def __init__(self, data_dir: str, root: Path) -> None:
        from test_experiments import launch_study

        self.data_dir, self.runs_dir, self.reruns_dir = data_dir, root / "runs", root / "reruns"
        report = f"--report={self.runs_dir / 'REPORT.md'}"
        self.quick = launch_study("all", data_dir, self.runs_dir, report, env=SINGLE_THREADED)
        self.reruns: dict | None = None

    def start_reruns(self) -> None:
        """Start the reruns (once) of every study the quick run left a metrics.json for."""
        from test_experiments import launch_study

        if self.reruns is not None:
            return
        self.reruns = {}
        for (study, run), flags in RERUNS.items():
            first = self.runs_dir / study
            if not (first / "metrics.json").is_file():
                continue  # the study failed: its tests say so, with its log
            output_dir = self.reruns_dir / study / run
            if run == "reuse":
                shutil.copytree(first, output_dir)
            self.reruns[study, run] = launch_study(study, self.data_dir, output_dir, *flags, env=SINGLE_THREADED)

    def stop(self) -> None:
        """Stop whatever still runs, with the processes it started (each run has its own process group)."""
        for process in [run.process for run in [self.quick, *(self.reruns or {}).values()]]:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()


_BACKGROUND: list[StudiesInBackground] = []


@pytest.fixture(scope="session", autouse=True)
def _studies_in_background(request, data_dir, tmp_path_factory):
    """Start :class:`StudiesInBackground` at the start of the session if a selected test needs it."""
    if not any("quick_runs" in getattr(item, "fixturenames", ()) for item in request.session.items):
        yield None
        return
    background = StudiesInBackground(data_dir[0], tmp_path_factory.mktemp("studies"))
    _BACKGROUND.append(background)
    yield background
    _BACKGROUND.remove(background)
    background.stop()


def pytest_runtest_logfinish(nodeid: str, location: tuple) -> None:
    """After every test: start the reruns once the quick run of the studies is done."""
    for background in _BACKGROUND:
        if background.reruns is None and background.quick.process.poll() is not None:
            background.start_reruns()


@pytest.fixture(scope="session")
def quick_runs(_studies_in_background) -> dict:
    """The session's quick run of the studies, finished: its directory, REPORT.md and process result.

    Every study runs in its own process, as users run them; the studies' test modules then read
    their outputs.
    """
    quick, runs_dir = _studies_in_background.quick, _studies_in_background.runs_dir
    returncode = quick.process.wait(timeout=1500)
    outputs = (Path(f"{runs_dir}.{name}").read_text() for name in ("stdout", "stderr"))
    completed = subprocess.CompletedProcess(quick.process.args, returncode, *outputs)
    return {"runs_dir": runs_dir, "report": runs_dir / "REPORT.md", "completed": completed}


@pytest.fixture(scope="session")
def reruns(quick_runs, _studies_in_background) -> dict:
    """``{(study, run): test_experiments.StudyRun}`` of the :data:`RERUNS`, started (not necessarily done)."""
    _studies_in_background.start_reruns()
    return _studies_in_background.reruns


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Tests that need the studies' runs (``quick_runs`` and what builds on it) are slow (``pytest -m "not
    slow"`` skips them) and go near the end: the other tests run while :class:`StudiesInBackground` works.
    The memory probes (marked ``memory``) go after them, when the background is done: a peak measured
    beside busy processes is less reliable, and multi-threaded work beside them takes twice as long."""
    studies = [item for item in items if "quick_runs" in getattr(item, "fixturenames", ())]
    for item in studies:
        item.add_marker(pytest.mark.slow)
    probes = [item for item in items if item.get_closest_marker("memory") and item not in studies]
    last = set(studies) | set(probes)
    items[:] = [item for item in items if item not in last] + studies + probes
