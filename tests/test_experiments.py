"""Tests for the experiments' shared runner, and the helpers the studies' tests share: synthetic
"digits" written as IDX files (whose clusters are known, so no test depends on a download), the
launcher that runs a study in its own process, and the checks of a naive-study run.
"""

from __future__ import annotations

import gzip
import json
import math
import os
import re
import struct
import subprocess
import sys
from pathlib import Path
from typing import NamedTuple

import matplotlib.image
import numpy as np
import pytest

from experiments import runner

REPO_ROOT = Path(__file__).resolve().parents[1]
N_CLASSES = 10
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
EPS = 1e-9


# -- synthetic data ------------------------------------------------------------------------


def write_idx_gz(path: Path, array: np.ndarray) -> None:
    """Write a uint8 array as a gzip-compressed IDX file (magic 0x0000 08 <ndim>)."""
    array = np.ascontiguousarray(array, dtype=np.uint8)
    header = struct.pack(f">I{array.ndim}I", 0x0800 | array.ndim, *array.shape)
    path.write_bytes(gzip.compress(header + array.tobytes()))


def synthetic_digits(n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """``n`` noisy 28x28 uint8 images of 10 well-separated stroke patterns, with their classes.

    Class ``c`` is a thick bar whose position and orientation depend on ``c``, so K-means
    with k=10 should recover the classes almost perfectly.
    """
    prototypes = np.zeros((N_CLASSES, 28, 28), np.float32)
    for c in range(N_CLASSES):
        offset = 3 + 4 * (c % 5)
        if c < 5:
            prototypes[c, 4:24, offset : offset + 4] = 1.0  # vertical bars
        else:
            prototypes[c, offset : offset + 4, 4:24] = 1.0  # horizontal bars
    labels = np.arange(n) % N_CLASSES
    rng.shuffle(labels)
    noisy = prototypes[labels] + rng.normal(0.0, 0.15, size=(n, 28, 28))
    return (np.clip(noisy, 0.0, 1.0) * 255).astype(np.uint8), labels.astype(np.uint8)


@pytest.fixture
def synthetic_mnist_dir(tmp_path: Path) -> Path:
    """A directory laid out like MNIST's (the four IDX files) holding synthetic digits."""
    directory = tmp_path / "synthetic_mnist"
    directory.mkdir()
    rng = np.random.default_rng(0)
    for prefix, n in (("train", 400), ("t10k", 100)):
        images, labels = synthetic_digits(n, rng)
        write_idx_gz(directory / f"{prefix}-images-idx3-ubyte.gz", images)
        write_idx_gz(directory / f"{prefix}-labels-idx1-ubyte.gz", labels)
    return directory


# -- runner helpers ------------------------------------------------------------------------


def test_evaluate_perfect_and_permuted_clusterings():
    y = np.repeat(np.arange(4), 5)
    permuted = (y + 1) % 4  # cluster ids need not match the digits
    scores = runner.evaluate(y, permuted)
    assert set(scores) == {"purity", "mean_cluster_purity", "majority_accuracy", "hungarian_accuracy", "nmi", "ari"}
    assert all(value == pytest.approx(1.0) for value in scores.values())
    assert all(isinstance(value, float) for value in scores.values())


SHARED_FLAGS_SCRIPT = """
from absl import flags
from experiments import runner
runner.define_flags("k", "init", "n_init", "max_iter", "minibatch_max_iter", "batch_size", n_init=5)
flags.FLAGS(["study", "--quick", "--k=7", "--max_iter=500", "--seed=3", "--init=random"])
model = runner.estimator("minibatch", random_state=9)
lloyd = runner.estimator("kmeans", 3, algorithm="lloyd")
print(json.dumps({
    "params": {a: runner.estimator_params(a) for a in runner.ALGORITHMS},
    "model": [type(model).__name__, model.n_clusters, model.random_state, model.init],
    "lloyd": [lloyd.n_clusters, lloyd.algorithm, lloyd.max_iter],
}))
"""


@pytest.mark.fresh_process(SHARED_FLAGS_SCRIPT)
def test_shared_flags_build_both_estimators_with_quick_caps(script_report):
    """The flags a study picks set the estimators; --quick caps iterations and restarts (own process: absl flags)."""
    assert script_report["params"] == {
        "kmeans": {
            "init": "random",
            "n_init": runner.QUICK_N_INIT,
            "max_iter": runner.QUICK_MAX_ITER,
            "random_state": 3,
        },
        "minibatch": {
            "init": "random",
            "n_init": runner.QUICK_N_INIT,
            "max_iter": runner.QUICK_MAX_ITER,
            "batch_size": 1024,
            "random_state": 3,
        },
    }
    assert script_report["model"] == ["MiniBatchKMeans", 7, 9, "random"]
    assert script_report["lloyd"] == [3, "lloyd", runner.QUICK_MAX_ITER]  # KMeans's own `algorithm` passes through


def test_define_flags_refuses_unknown_names_before_defining_any():
    with pytest.raises(ValueError, match="unknown shared flags"):
        runner.define_flags("k", "no_such_flag")
    with pytest.raises(ValueError, match="not defined"):
        runner.define_flags(k=3)
    assert "k" not in runner.FLAGS


def test_budgets_cap_only_quick_runs():
    assert runner.iteration_budget(500, quick=False) == 500 and runner.iteration_budget(500, quick=True) == 30
    assert runner.restart_budget(10, quick=False) == 10 and runner.restart_budget(10, quick=True) == 2
    assert runner.restart_budget(1, quick=True) == 1


def test_cluster_order_puts_every_id_in_majority_order_empty_ones_last():
    y_true = np.array([1, 1, 0, 0, 2])
    labels = np.array([0, 0, 2, 2, 1])  # cluster 3 and 4 never occur
    assert runner.cluster_order(y_true, labels, 5) == [2, 0, 1, 3, 4]


def test_evaluate_distinguishes_weighted_and_mean_purity():
    # Cluster 0 holds 8 samples (6 of class 0), cluster 1 holds 2 (both class 1).
    y_true = np.array([0] * 6 + [1] * 2 + [1] * 2)
    y_pred = np.array([0] * 8 + [1] * 2)
    scores = runner.evaluate(y_true, y_pred)
    assert scores["purity"] == pytest.approx(0.8)
    assert scores["mean_cluster_purity"] == pytest.approx((6 / 8 + 1.0) / 2)
    assert scores["majority_accuracy"] == scores["purity"]


def test_to_jsonable_converts_numpy_paths_and_non_finite_values():
    value = {
        1: np.float32(0.5),
        "a": np.arange(3),
        "b": (np.int64(2), Path("x/y")),
        "nan": float("nan"),
        "inf": np.float64("inf"),
        "none": None,
        "flag": np.bool_(True),
    }
    converted = runner.to_jsonable(value)
    assert converted == {
        "1": 0.5,
        "a": [0, 1, 2],
        "b": [2, "x/y"],
        "nan": None,
        "inf": None,
        "none": None,
        "flag": True,
    }
    json.dumps(converted, allow_nan=False)  # strict JSON


def test_write_metrics_and_output_dir(tmp_path):
    path = runner.write_metrics({"inertia": np.float32(2.5), "sizes": np.array([1, 2])}, tmp_path / "new" / "dir")
    assert path == tmp_path / "new" / "dir" / "metrics.json"
    assert json.loads(path.read_text()) == {"inertia": 2.5, "sizes": [1, 2]}


def test_format_table_text_and_markdown():
    rows = [
        {"split": "train", "inertia": 2_345_678.9, "n_iter": 42, "purity": 0.59123},
        {"split": "test", "inertia": 390_000.0, "n_iter": None, "purity": 0.6},
    ]
    text = runner.format_table(rows).splitlines()
    assert text[0].split() == ["split", "inertia", "n_iter", "purity"]
    assert text[2].split() == ["train", "2,345,679", "42", "0.5912"]
    assert text[3].split() == ["test", "390,000", "-", "0.6000"]
    # Numbers are right-aligned: their last characters line up with the header's.
    assert len({len(line) for line in text}) == 1
    markdown = runner.format_table(rows, markdown=True).splitlines()
    assert markdown[0].startswith("| split") and markdown[1].startswith("| ---")
    assert markdown[1].rstrip(" |").endswith(":")  # numeric column right-aligned
    assert len(markdown) == 4


def test_timed_measures_and_survives_exceptions():
    with runner.timed() as timer:
        assert math.isnan(timer.seconds)
    assert timer.seconds >= 0
    with pytest.raises(RuntimeError), runner.timed("failing") as failing:
        raise RuntimeError
    assert failing.seconds >= 0


def test_load_data_quick_subsets_keep_images_and_labels_together(synthetic_mnist_dir, monkeypatch):
    monkeypatch.setattr(runner, "QUICK_N_TRAIN", 50)
    monkeypatch.setattr(runner, "QUICK_N_TEST", 20)
    full = runner.load_data(quick=False, data_dir=str(synthetic_mnist_dir))
    quick = runner.load_data(quick=True, data_dir=str(synthetic_mnist_dir), seed=1)
    assert [len(a) for a in full] == [400, 400, 100, 100]
    assert [len(a) for a in quick] == [50, 50, 20, 20]
    assert quick.x_train.dtype == np.float32 and quick.x_train.shape[1] == 784
    # Each kept image must still carry its own label: find it in the full split.
    for image, label in zip(quick.x_train[:5], quick.y_train[:5]):
        match = np.flatnonzero((full.x_train == image).all(axis=1))
        assert label in full.y_train[match]
    again = runner.load_data(quick=True, data_dir=str(synthetic_mnist_dir), seed=1)
    np.testing.assert_array_equal(again.y_train, quick.y_train)  # the seed fixes the subset
    assert runner.iteration_budget(300, quick=True) == runner.QUICK_MAX_ITER
    assert runner.iteration_budget(300, quick=False) == 300


# -- running a study, checking its outputs -----------------------------------------------


class StudyRun(NamedTuple):
    """A study started in its own process by :func:`launch_study`."""

    process: subprocess.Popen
    output_dir: Path

    def finish(self, timeout: float = 600) -> tuple[str, str]:
        """Wait for the run; check its exit status; return its stdout and stderr."""
        self.process.wait(timeout=timeout)
        stdout, stderr = (Path(f"{self.output_dir}.{name}").read_text() for name in ("stdout", "stderr"))
        assert self.process.returncode == 0, stderr[-3000:]
        return stdout, stderr

    def metrics(self) -> dict:
        """The metrics.json the run wrote."""
        return json.loads((Path(self.output_dir) / "metrics.json").read_text())


def launch_study(
    study: str, data_dir: Path | str, output_dir: Path, *flags: str, env: dict[str, str] | None = None
) -> StudyRun:
    """Start ``python -m experiments.<study> --quick`` in its own process (and process group, so that it
    can be stopped with what it starts), as users run it (absl parses flags once per process), with
    ``env`` added to the environment. Its output goes to ``<output_dir>.stdout`` and ``.stderr``: pipes
    left unread while another run is awaited could fill and stall it."""
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "CUDA_VISIBLE_DEVICES": "", **(env or {})}
    command = [
        sys.executable,
        "-m",
        f"experiments.{study}",
        "--quick",
        *flags,
        f"--data_dir={data_dir}",
        f"--output_dir={output_dir}",
    ]
    Path(output_dir).parent.mkdir(parents=True, exist_ok=True)
    with open(f"{output_dir}.stdout", "w") as stdout, open(f"{output_dir}.stderr", "w") as stderr:
        process = subprocess.Popen(
            command, cwd=REPO_ROOT, env=env, stdout=stdout, stderr=stderr, start_new_session=True
        )
    return StudyRun(process, output_dir)


def error_lines(log: str, benign: tuple[str, ...] = ("cuda",)) -> list[str]:
    """The error-level lines of a run's log (absl's or TensorFlow's "E0000 ...", e.g. oneDNN's on integer
    transposes) but those naming a ``benign`` word: by default TensorFlow's CUDA probe, which fails on
    every machine without a GPU."""
    return [line for line in log.splitlines() if re.match(r"E\d{4} ", line) and not any(b in line for b in benign)]


def check_outputs(metrics: dict, output_dir: Path, n_train: int, n_test: int) -> None:
    """The checks every smoke run must pass, whatever the data."""
    assert metrics["experiment"] == "naive"
    assert metrics["flags"]["k"] == 10 and metrics["flags"]["quick"] is True
    assert metrics["data"] == {"n_train": n_train, "n_test": n_test, "quick": True}
    for split, n in (("train", n_train), ("test", n_test)):
        scores = metrics[split]
        for key in ("purity", "mean_cluster_purity", "majority_accuracy", "hungarian_accuracy", "nmi"):
            # EPS: NMI of a perfect clustering can come out as 1 + 2e-16 in floating point.
            assert -EPS <= scores[key] <= 1.0 + EPS, (split, key, scores[key])
        assert -1.0 <= scores["ari"] <= 1.0 + EPS
        assert scores["inertia"] > 0
        assert scores["seconds"] >= 0
        assert sum(metrics[f"{split}_cluster_sizes"]) == n
    assert 1 <= metrics["train"]["n_iter"] <= runner.QUICK_MAX_ITER
    (comparison,) = metrics["seed_comparisons"]
    assert comparison["seed_value"] == 0.6 and comparison["approximate"] is True
    assert comparison["ours"] == metrics["train"]["mean_cluster_purity"]
    assert comparison["figures"] == ["centroids.png", "examples.png"]
    assert set(metrics["timings_s"]) >= {"load", "fit", "predict", "figures", "total"}

    for name in ("centroids.png", "examples.png"):
        path = output_dir / name
        assert path.read_bytes()[:8] == PNG_SIGNATURE, name
        assert path.stat().st_size > 10_000, name  # more than a blank canvas
        height, width = matplotlib.image.imread(path).shape[:2]  # decodes the whole file
        assert width >= 500 and height >= 400, (name, width, height)
    summary = (output_dir / "summary.md").read_text()
    assert "| purity (size-weighted)" in summary and "0.6" in summary
