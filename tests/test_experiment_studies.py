"""Smoke tests of the seed studies (naive, restarts, confusion, tsne, select_k, minibatch), of
experiments.all and the report.

One ``python -m experiments.all --quick`` run (``conftest.quick_runs``) runs every
study in its own process, exactly as users do; the tests then check each study's
metrics.json, figures and the generated report. The data are the real MNIST
files when ``TFKMEANS_DATA_DIR`` is set (CI and ``make test`` set it), otherwise
the synthetic IDX "digits" of :mod:`test_experiments`.
"""

from __future__ import annotations

import json
from pathlib import Path

import matplotlib.image
import numpy as np
import pytest

# Helpers shared with the naive study's tests (tests/ is on sys.path under pytest).
from test_experiments import EPS, PNG_SIGNATURE, REPO_ROOT, check_outputs, error_lines

from experiments import report, runner
from experiments.plots import knee_point

#: The studies of the quick run: all of them.
STUDIES = report.STUDIES


def assert_png(path: Path, min_width: int = 500, min_height: int = 300) -> None:
    """``path`` is a decodable PNG of at least the given size with something drawn on it."""
    assert path.read_bytes()[:8] == PNG_SIGNATURE, path
    assert path.stat().st_size > 10_000, path  # more than a blank canvas
    height, width = matplotlib.image.imread(path).shape[:2]
    assert width >= min_width and height >= min_height, (path, width, height)


def study(quick_runs: dict, name: str) -> tuple[dict, Path]:
    """metrics.json of one study and its directory, with the study's log on failure."""
    directory = quick_runs["runs_dir"] / name
    path = directory / "metrics.json"
    if not path.is_file():
        log = directory / "run.log"
        tail = log.read_text()[-3000:] if log.is_file() else quick_runs["completed"].stderr[-3000:]
        pytest.fail(f"{name} wrote no metrics.json:\n{tail}")
    metrics = json.loads(path.read_text())
    assert metrics["experiment"] == name
    assert metrics["data"]["quick"] is True
    assert metrics["timings_s"]["total"] > 0
    check_seed_comparisons(metrics, directory)
    for figure in metrics["figures"].values():
        assert_png(directory / figure)
    assert (directory / "summary.md").read_text().startswith("# ")
    return metrics, directory


def check_seed_comparisons(metrics: dict, directory: Path) -> None:
    """Every study states its seed comparisons in the common shape, figures existing."""
    comparisons = metrics["seed_comparisons"]
    assert comparisons
    for entry in comparisons:
        assert tuple(entry) == runner.SEED_COMPARISON_KEYS
        assert entry["source"] in runner.SEED_DOCUMENTS.values() or entry["source"].startswith("beyond the seeds")
        assert entry["quantity"] and entry["definition"]
        assert entry["seed_value"] is not None and entry["ours"] is not None
        assert entry["format"] in ("number", "percent", "int")
        for figure in entry["figures"]:
            assert (directory / figure).is_file(), figure


# -- the run as a whole ------------------------------------------------------------------------


def test_all_quick_runs_every_study_and_writes_the_report(quick_runs):
    completed = quick_runs["completed"]
    assert completed.returncode == 0, completed.stderr[-3000:]
    index = json.loads((quick_runs["runs_dir"] / report.RUNS_INDEX).read_text())
    assert index["quick"] is True
    assert list(index["experiments"]) == list(STUDIES)
    assert all(entry["returncode"] == 0 and entry["seconds"] > 0 for entry in index["experiments"].values())
    text = quick_runs["report"].read_text()
    assert text.startswith("# Reproducing the seed studies")
    assert "Quick mode" in text and "## Headline" in text and "## Timings" in text
    for name in STUDIES:
        assert f"## {name}" in text
    # Every link of the report points at an existing file (relative to the report).
    links = [part.split(")")[0] for part in text.split("](")[1:]]
    files = [link for link in links if not link.startswith("#")]
    assert any(link.endswith(".png") for link in files)
    for link in files:
        assert (quick_runs["report"].parent / link).is_file(), link


def test_the_studies_are_listed_once_in_run_order():
    assert report.STUDIES[:6] == ("naive", "restarts", "confusion", "tsne", "select_k", "minibatch")
    assert len(set(report.STUDIES)) == len(report.STUDIES)
    for name in report.STUDIES:  # each is a runnable experiment module
        source = (REPO_ROOT / "experiments" / f"{name}.py").read_text()
        assert 'if __name__ == "__main__":' in source and "runner.run(main)" in source, name
    assert report.experiment_order(["zeta", "deep", "naive"]) == ["naive", "deep", "zeta"]


# -- each study ----------------------------------------------------------------------------------


def test_naive_quick(quick_runs, data_dir):
    metrics, directory = study(quick_runs, "naive")
    real = data_dir[1]
    check_outputs(metrics, directory, *((runner.QUICK_N_TRAIN, runner.QUICK_N_TEST) if real else (400, 100)))
    log = (directory / "run.log").read_text()
    assert "mean cluster purity (blog)" in log and not error_lines(log)
    if real:  # raw-pixel K-means is far from perfect but far above chance (0.1) on digits
        assert 0.3 < metrics["train"]["purity"] < 0.9
    else:  # ten well-separated patterns: the clusters should be (nearly) the classes
        assert metrics["train"]["purity"] > 0.8 and metrics["test"]["purity"] > 0.8


def test_restarts_quick(quick_runs, data_dir):
    metrics, _ = study(quick_runs, "restarts")
    reps, n_init = metrics["repetitions_used"], metrics["n_init_used"]
    assert 1 <= reps <= 2 and 1 <= n_init <= 2  # quick caps
    rows = metrics["repetitions"]
    assert [row["k"] for row in rows] == [k for k in (5, 7, 10, 12) for _ in range(reps)]
    for row in rows:
        assert len(row["inertias"]) == n_init
        assert 0 < row["min inertia"] <= row["max inertia"]
        assert row["min inertia"] == min(row["inertias"]) and row["max inertia"] == max(row["inertias"])
        assert 0.0 < row["train accuracy"] <= 1.0 and 0.0 <= row["test accuracy"] <= 1.0
        assert len(row["mapping"]) <= row["k"] and all(-1 <= d <= 9 for d in row["mapping"])
    assert set(metrics["per_k"]) == {"5", "7", "10", "12"}
    if data_dir[1]:  # raw-pixel K-means on MNIST: far from perfect, far above chance
        assert 0.35 < metrics["per_k"]["10"]["train_accuracy_mean"] < 0.85
        # Inertia per image of MNIST pixels in [0, 1] at k=10 is about 39 (seed 003: 39.19).
        assert 30 < metrics["per_k"]["10"]["min_inertia_per_image"] < 50


def test_confusion_quick(quick_runs, data_dir):
    metrics, _ = study(quick_runs, "confusion")
    train = np.array(metrics["train_confusion_sorted"])
    test = np.array(metrics["test_confusion_sorted"])
    assert train.sum() == metrics["data"]["n_train"] and test.sum() == metrics["data"]["n_test"]
    assert train.shape == test.shape == (10, 10)
    # Sorted: the majority digits of the columns never decrease.
    majority = [m for m in np.array(metrics["cluster_majority_digit"])[metrics["cluster_order"]] if m >= 0]
    assert majority == sorted(majority)
    assert metrics["train"]["purity"] == pytest.approx(train.max(axis=0).sum() / train.sum())
    assert 0.0 < metrics["test"]["accuracy_with_training_map"] <= 1.0
    if not data_dir[1]:  # ten well-separated synthetic patterns
        assert metrics["train"]["purity"] > 0.8


def test_tsne_quick(quick_runs):
    metrics, _ = study(quick_runs, "tsne")
    n = metrics["data"]["n_samples"]
    assert n == min(300, metrics["data"]["n_train"]) and len(set(metrics["sample_indices"])) == n
    assert set(metrics["results"]) == {"kmeans", "minibatch"}
    for result in [*metrics["results"].values(), *metrics["label_column_results"].values()]:
        correct, totals = np.array(result["correct_per_digit"]), np.array(result["sample_per_digit"])
        assert totals.sum() == n and np.all(correct <= totals)
        assert result["accuracy_sample"] == pytest.approx(correct.sum() / n)
        assert -EPS <= result["accuracy_all"] <= 1.0 + EPS
    percent = [c for c in metrics["seed_comparisons"] if c["format"] == "percent"]
    assert {c["seed_value"] for c in percent} == {0.8333, 0.8767}


def test_select_k_quick(quick_runs):
    metrics, _ = study(quick_runs, "select_k")
    for algorithm in ("kmeans", "minibatch"):
        rows = metrics["sweeps"][algorithm]
        assert [row["k"] for row in rows] == list(range(1, 15))
        inertias = [row["inertia"] for row in rows]
        assert inertias[0] == max(inertias)  # one cluster: the total sum of squares
        assert all(row["calinski_harabasz"] > 0 for row in rows if 2 <= row["k"] <= 10)
        assert all(row["calinski_harabasz"] is None for row in rows if not 2 <= row["k"] <= 10)
        assert 1 <= metrics["elbow_k"][algorithm] <= 14
        assert 2 <= metrics["calinski_harabasz_k"][algorithm] <= 10


# -- pieces ----------------------------------------------------------------------------------------


def test_knee_point_on_hand_made_curves():
    ks = list(range(1, 11))
    # Falls steeply to k=4, then flattens: the elbow is at 4.
    elbow = [100, 70, 45, 25, 22, 20, 18.5, 17, 16, 15]
    assert knee_point(ks, elbow) == 4
    # Invariant to the units of either axis.
    assert knee_point([10 * k for k in ks], [1e6 * v for v in elbow]) == 40
    # A rising, saturating curve (e.g. explained variance) has its knee where it levels off.
    assert knee_point(ks, [0, 40, 70, 85, 88, 90, 91, 92, 93, 94]) == 4
    # 1/k: the farthest point from the chord of 1..10 lies at k=3 (by hand: x-scaled distance).
    assert knee_point(ks, [1 / k for k in ks]) == 3
    # Degenerate curves: a straight line or a flat one has no knee; the first k is returned.
    assert knee_point(ks, [10 - k for k in ks]) in ks
    assert knee_point(ks, [5.0] * 10) == 1
    assert knee_point([2, 3], [9.0, 4.0]) == 2
    with pytest.raises(ValueError):
        knee_point([1, 2, 3], [1.0, 2.0])


def test_mapped_accuracy_uses_the_given_map():
    mapping = np.array([3, 5, -1])  # cluster 2 was empty when the map was learnt
    y_true = np.array([3, 5, 5, 0, 7])
    clusters = np.array([0, 1, 0, 2, 4])  # cluster 4 is unknown to the map
    assert runner.mapped_accuracy(y_true, clusters, mapping) == pytest.approx(2 / 5)


def test_report_shows_comparisons_and_copies_figures(tmp_path):
    runs = tmp_path / "runs"
    (runs / "naive").mkdir(parents=True)
    (runs / "naive" / "centroids.png").write_bytes(PNG_SIGNATURE)
    (runs / "naive" / "metrics.json").write_text(
        json.dumps(
            {
                "experiment": "naive",
                "data": {"quick": False},
                "seed_comparisons": [
                    runner.seed_comparison(
                        source="blog",
                        quantity="mean cluster purity (train)",
                        seed_value=0.6,
                        ours=0.6237,
                        definition="unweighted mean",
                        note="",
                        approximate=True,
                    ),
                ],
                "figures": {"centroids": "/somewhere/else/centroids.png"},
            }
        )
    )
    (runs / "newer").mkdir()
    (runs / "newer" / "metrics.json").write_text(
        json.dumps(
            {
                "experiment": "newer",
                "data": {"quick": False},
                "figures": {},
                "seed_comparisons": [
                    runner.seed_comparison(
                        source="paper",
                        quantity="accuracy",
                        seed_value=0.8333,
                        ours=0.58,
                        definition="majority map",
                        note="Different data.",
                        format="percent",
                    ),
                    runner.seed_comparison(
                        source="paper",
                        quantity="side figure",
                        seed_value=2,
                        ours=2,
                        definition="argmax",
                        note="Same.",
                        format="int",
                        headline=False,
                    ),
                ],
            }
        )
    )
    stale = tmp_path / "docs" / "report" / "naive" / "old.png"
    stale.parent.mkdir(parents=True)
    stale.write_bytes(PNG_SIGNATURE)
    index = {"seed": 0, "experiments": {"naive": {"returncode": 0, "seconds": 5.0, "commit": "abc1234"}}}
    text = report.build_report(runs, tmp_path / "REPORT.md", index=index)
    headline = text.split("## Headline")[1].split("## Timings")[0]
    assert "| blog | mean cluster purity (train) | ≈ 0.6000 | 0.6237 |" in headline
    assert "| paper | accuracy | 83.33 % | 58.00 % |" in headline
    assert "side figure" not in headline and "side figure" in text
    assert "unweighted mean" in text and "Different data." in text
    assert "at commit `abc1234`" in text
    # The figure is copied beside the report and shown from there; a figure of an older run is gone.
    assert "![centroids](docs/report/naive/centroids.png)" in text
    assert (tmp_path / "docs" / "report" / "naive" / "centroids.png").read_bytes() == PNG_SIGNATURE
    assert not stale.exists()
    assert text.index("## naive") < text.index("## newer")  # known experiments first


# -- MiniBatchKMeans beside K-means (experiments.minibatch) -----------------------------------------


def test_minibatch_quick(quick_runs, data_dir):
    metrics, directory = study(quick_runs, "minibatch")
    n_train, n_test, n_sample = (metrics["data"][key] for key in ("n_train", "n_test", "n_sample"))
    assert n_sample == min(1000, n_train) and len(set(metrics["sample_indices"])) == n_sample
    assert set(metrics["results"]) == {"minibatch", "kmeans"}
    for name, result in metrics["results"].items():
        train, test = result["train"], result["test"]
        assert sum(result["train_cluster_sizes"]) == n_train and sum(result["test_cluster_sizes"]) == n_test
        assert train["seconds"] > 0 and 1 <= train["n_iter"] <= runner.QUICK_MAX_ITER
        assert (train["n_steps"] is None) == (name == "kmeans")
        assert train["inertia"] > 0 and test["inertia"] > 0
        for split in (train, test):
            for key in ("purity", "majority_accuracy", "hungarian_accuracy", "nmi"):
                assert -EPS <= split[key] <= 1.0 + EPS, (name, key)
            assert split["hungarian_accuracy"] <= split["purity"] + EPS  # one-to-one map never beats many-to-one
        assert 0.0 <= train["accuracy_sample"] <= 1.0 and 0.0 <= test["accuracy_with_training_map"] <= 1.0
        if data_dir[1]:  # raw-pixel clustering of MNIST: far from perfect, far above chance
            assert 0.35 < train["purity"] < 0.85, name
    minibatch = metrics["results"]["minibatch"]["train"]
    # Mini-batches settle for a worse (or equal) optimum than full Lloyd iterations, but not a much worse one.
    assert minibatch["inertia"] < 1.2 * metrics["results"]["kmeans"]["train"]["inertia"]
    assert minibatch["n_steps"] >= 1
    assert set(metrics["figures"]) == {"centroids", "examples"}
    assert [c["seed_value"] for c in metrics["seed_comparisons"]] == [0.8767, 0.8767]
    assert metrics["seed_comparisons"][0]["ours"] == minibatch["accuracy_sample"]
    assert metrics["seed_comparisons"][1]["ours"] == minibatch["purity"]
    summary = (directory / "summary.md").read_text()
    assert "87.67%" in summary and "MiniBatchKMeans train" in summary and "K-means test" in summary
    text = quick_runs["report"].read_text()
    assert "## minibatch" in text and "MiniBatchKMeans accuracy" in text
