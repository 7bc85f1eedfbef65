"""Shared fixtures: small synthetic data, MNIST (or synthetic digits), and what runs beside the tests in
processes of its own: one quick run of every study, its reruns, and the scripts of the fresh-process tests."""

from __future__ import annotations

import contextlib
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


#: Defined in every fresh-process script: ``json``; ``status_mb(field)``, a ``/proc/self/status`` field in MiB
#: (VmHWM is the process's own high-water mark; ru_maxrss would also count the RSS of the forking pytest);
#: ``reset_peak()``, which sets VmHWM back to the current RSS, so a peak can be measured per step; and
#: ``scratch``, an empty directory of the process's own.
_PREAMBLE = """
import json, sys
from benchmarks._harness import own_status_kib
def status_mb(field):
    return own_status_kib(field) / 1024
def reset_peak():
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")
scratch = sys.argv[1]
"""


class FreshProcess:
    """The script of a ``fresh_process`` test, run in a fresh Python process (its own flags, thread
    pools and peak memory). Its output goes to files, not pipes, so that it can run in the background
    while the tests go on (:class:`BackgroundRuns`); ``memory`` says it must wait for the studies."""

    def __init__(self, script: str, output: Path, memory: bool) -> None:
        self.script, self.output, self.memory = script, output, memory
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        self.output.mkdir(parents=True)
        source = _PREAMBLE + textwrap.dedent(self.script)
        # A probe measures memory alone, with TensorFlow's default threads; the other scripts run beside
        # the unit tests, one compute thread each (as the studies, see SINGLE_THREADED).
        threads = {} if self.memory else SINGLE_THREADED
        env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", **threads}
        with open(f"{self.output}.stdout", "w") as stdout, open(f"{self.output}.stderr", "w") as stderr:
            self.process = subprocess.Popen(
                [sys.executable, "-c", source, str(self.output)], cwd=REPO_ROOT, env=env, stdout=stdout, stderr=stderr
            )

    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def output_tail(self) -> str:
        return "\n".join(Path(f"{self.output}.{name}").read_text()[-3000:] for name in ("stdout", "stderr"))

    def report(self, timeout: float) -> dict:
        """Start the script unless it was, wait for it (failing if it has not ended ``timeout`` seconds
        from now: a hang fails its test instead of stopping the suite), check its exit status; the JSON
        object its last output line prints."""
        if self.process is None:
            self.start()
        try:
            self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            pytest.fail(f"still running after {timeout} s:\n{self.output_tail()}")
        assert self.process.returncode == 0, self.output_tail()
        stdout = Path(f"{self.output}.stdout").read_text()
        report = json.loads(stdout.strip().splitlines()[-1])
        print(report)
        return report


def fresh_process_scripts(items: list[pytest.Item]) -> dict[str, bool]:
    """``{script: whether it is a memory probe}`` of the ``fresh_process`` tests among ``items``."""
    return {
        marker.args[0]: item.get_closest_marker("memory") is not None
        for item in items
        for marker in item.iter_markers("fresh_process")
    }


#: The scripts run in the foreground (a session without :class:`BackgroundRuns`): once each, though
#: several tests (a parametrized one) may read the same script's report.
_FOREGROUND: dict[str, FreshProcess] = {}


@pytest.fixture
def script_report(request, tmp_path_factory) -> dict:
    """The report of the script that the test's marker names (``@pytest.mark.fresh_process(script,
    timeout=600)``): run by :class:`BackgroundRuns` if the session has them, else now (once a session)."""
    marker = request.node.get_closest_marker("fresh_process")
    script, timeout = marker.args[0], marker.kwargs.get("timeout", 600)
    for background in _BACKGROUND:
        return background.script_report(script, timeout)
    if script not in _FOREGROUND:
        _FOREGROUND[script] = FreshProcess(script, tmp_path_factory.mktemp("script") / "run", memory=False)
    return _FOREGROUND[script].report(timeout)


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
#: features: it stands for them (tests/test_networks.py checks the seeded training itself). The
#: autoencoder's "reuse" stands for LeNet's: both studies load their weights through
#: ``experiments.learned.train``.
RERUNS = {
    ("deep", "reuse"): ("--n_seeds=1", "--reuse"),
    ("deep", "again"): ("--n_seeds=1", "--early_epochs=0", "--self_training_rounds=1"),
    ("autoencoder", "reuse"): ("--reuse",),
}


#: Added to the environment of the studies in the background: one compute thread each (TensorFlow,
#: OpenMP, numba). The unit tests beside them use TensorFlow's default pools, one thread per core, and
#: threads that outnumber the cores spin while they wait, which slows everything on a two-core machine.
SINGLE_THREADED = {"TF_NUM_INTRAOP_THREADS": "1", "OMP_NUM_THREADS": "1", "NUMBA_NUM_THREADS": "1"}
#: Processes the background runs at once, the quick run included: with the unit tests (mostly one busy
#: thread, tracing) that keeps about one runnable thread per core; more only slow the unit tests down.
BACKGROUND_SLOTS = 2


class BackgroundRuns:
    """What runs beside the unit tests, each in its own process: ``python -m experiments.all --quick``
    (every study), the :data:`RERUNS`, and the scripts of the ``fresh_process`` tests.

    At most :data:`BACKGROUND_SLOTS` at once: the scripts first, then each rerun as soon as what it needs is
    there (an "again" run at once, a "reuse" run when the quick run's all.json records its study as done);
    a memory probe runs alone, once everything else is done (a peak measured beside busy processes is
    less reliable; the unit tests' tail leaves a core for it).
    :func:`pytest_runtest_logfinish` moves them on after every test; the tests that read the studies run
    near the end, the memory tests last (:func:`pytest_collection_modifyitems`).
    """

    def __init__(self, data_dir: str, root: Path, scripts: dict[str, bool]) -> None:
        from test_experiments import launch_study

        self.data_dir, self.runs_dir, self.reruns_dir = data_dir, root / "runs", root / "reruns"
        report = f"--report={self.runs_dir / 'REPORT.md'}"
        self.quick = launch_study("all", data_dir, self.runs_dir, report, env=SINGLE_THREADED)
        self.reruns: dict = {}
        # The probes last: the other scripts need not wait for the studies.
        ordered = sorted(scripts.items(), key=lambda item: item[1])
        self.scripts = {
            script: FreshProcess(script, root / f"script{i}", memory) for i, (script, memory) in enumerate(ordered)
        }
        self.advance()

    def studies_done(self) -> list[str]:
        """The studies the quick run has finished successfully so far (all.json is written after each)."""
        try:
            index = json.loads((self.runs_dir / "all.json").read_text())
        except (OSError, ValueError):  # not written yet, or being written
            return []
        return [name for name, status in index["experiments"].items() if status["returncode"] == 0]

    def running(self) -> list[subprocess.Popen]:
        """The background's processes still running."""
        processes = [self.quick.process, *(rerun.process for rerun in self.reruns.values())]
        return [process for process in processes if process.poll() is None] + [
            run.process for run in self.scripts.values() if run.running()
        ]

    def start_reruns(self, slots: int) -> int:
        """Start up to ``slots`` of the reruns whose inputs are ready; return the slots left."""
        from test_experiments import launch_study

        done = self.studies_done()
        for (study, run), flags in RERUNS.items():
            if slots <= 0 or (study, run) in self.reruns or (run == "reuse" and study not in done):
                continue
            output_dir = self.reruns_dir / study / run
            if run == "reuse":
                shutil.copytree(self.runs_dir / study, output_dir)
            self.reruns[study, run] = launch_study(study, self.data_dir, output_dir, *flags, env=SINGLE_THREADED)
            slots -= 1
        return slots

    def advance(self) -> None:
        """Fill the :data:`BACKGROUND_SLOTS`: the scripts first (their tests come before the studies'), then
        the reruns whose inputs are ready; a memory probe only once nothing else runs, and then alone."""
        if any(run.memory and run.running() for run in self.scripts.values()):
            return
        slots = BACKGROUND_SLOTS - len(self.running())
        for run in self.scripts.values():
            if slots > 0 and run.process is None and not run.memory:
                run.start()
                slots -= 1
        if self.start_reruns(slots) < BACKGROUND_SLOTS:
            return
        waiting = [run for run in self.scripts.values() if run.process is None]
        if waiting:
            waiting[0].start()

    def script_report(self, script: str, timeout: float) -> dict:
        """The report of ``script``'s run, started now unless it was; a memory probe first waits (at most
        ``timeout`` seconds) for the script still running, as it would in the background."""
        run = self.scripts[script]
        if run.process is None and run.memory:
            for other in self.scripts.values():
                if other.running():
                    with contextlib.suppress(subprocess.TimeoutExpired):
                        other.process.wait(timeout=timeout)
        return run.report(timeout)

    def stop(self) -> None:
        """Stop whatever still runs, with the processes it started (each study has its own process group)."""
        for process in [run.process for run in [self.quick, *self.reruns.values()]]:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        for run in self.scripts.values():
            if run.running():
                run.process.kill()
                run.process.wait()


_BACKGROUND: list[BackgroundRuns] = []


@pytest.fixture(scope="session", autouse=True)
def _background_runs(request, data_dir, tmp_path_factory):
    """Start :class:`BackgroundRuns` at the start of the session if a selected test reads the studies."""
    if not any("quick_runs" in getattr(item, "fixturenames", ()) for item in request.session.items):
        yield None
        return
    scripts = fresh_process_scripts(request.session.items)
    background = BackgroundRuns(data_dir[0], tmp_path_factory.mktemp("background"), scripts)
    _BACKGROUND.append(background)
    yield background
    _BACKGROUND.remove(background)
    background.stop()


def pytest_runtest_logfinish(nodeid: str, location: tuple) -> None:
    """After every test: start what in the background has become ready."""
    for background in _BACKGROUND:
        background.advance()


@pytest.fixture(scope="session")
def quick_runs(_background_runs) -> dict:
    """The session's quick run of the studies, finished: its directory, REPORT.md and process result.

    Every study runs in its own process, as users run them; the studies' test modules then read
    their outputs.
    """
    quick, runs_dir = _background_runs.quick, _background_runs.runs_dir
    returncode = quick.process.wait(timeout=1500)
    outputs = (Path(f"{runs_dir}.{name}").read_text() for name in ("stdout", "stderr"))
    completed = subprocess.CompletedProcess(quick.process.args, returncode, *outputs)
    return {"runs_dir": runs_dir, "report": runs_dir / "REPORT.md", "completed": completed}


@pytest.fixture(scope="session")
def reruns(quick_runs, _background_runs) -> dict:
    """``{(study, run): test_experiments.StudyRun}`` of the :data:`RERUNS` that could start (a "reuse" run
    needs its study's quick run to have succeeded), not necessarily done."""
    _background_runs.start_reruns(len(RERUNS))
    return _background_runs.reruns


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The tests that read what :class:`BackgroundRuns` runs go last, so that the other tests run while it
    works: first those of the other fresh-process scripts, then those that need the studies' runs
    (``quick_runs`` and what builds on it; slow: ``pytest -m "not slow"`` skips them), then the memory
    tests, whose probes run once the studies are done."""
    studies = [item for item in items if "quick_runs" in getattr(item, "fixturenames", ())]
    for item in studies:
        item.add_marker(pytest.mark.slow)
    probes = [item for item in items if item.get_closest_marker("memory") and item not in studies]
    scripts = [item for item in items if item.get_closest_marker("fresh_process") and item not in probes]
    last = set(scripts) | set(studies) | set(probes)
    items[:] = [item for item in items if item not in last] + scripts + studies + probes
