"""Tests of experiments.deep: its pure helpers, and a quick run of the whole pipeline.

The quick run itself is part of the session's ``python -m experiments.all --quick`` run
(``conftest.quick_runs``); here its metrics.json is checked in detail, and compared with the
reruns of ``conftest.RERUNS``.
"""

from __future__ import annotations

import numpy as np
from test_experiment_studies import study

from experiments import deep, runner


def test_stage_records_keep_the_reference_off_the_pipeline_clock():
    y = np.array([0, 0, 1, 1])
    perfect, swapped, wrong = np.array([0, 0, 1, 1]), np.array([1, 1, 0, 0]), np.array([0, 1, 0, 1])
    data = deep.runner.MnistSplits(None, y, None, y)
    stages = [
        deep.Stage("autoencoder codes", 1.0, 10.0, wrong, wrong, reference=True),
        deep.Stage("UMAP embedding after 5 epochs", 4.0, 8.0, wrong, swapped),
        deep.Stage("UMAP embedding", 3.0, 30.0, swapped, swapped),
        deep.Stage("self-training 1", 5.0, 35.0, perfect, perfect),
    ]
    records = deep.stage_records(data, stages)
    assert [r["test"]["hungarian_accuracy"] for r in records] == [0.5, 1.0, 1.0, 1.0]
    assert [r["stage"] for r in deep.pipeline(records)] == [
        "UMAP embedding after 5 epochs",
        "UMAP embedding",
        "self-training 1",
    ]
    assert deep.best_within(records, 9.0) == 1.0
    assert deep.best_within(records, 5.0) is None  # the reference does not count


# -- the quick run ---------------------------------------------------------------------------------


def test_deep_quick_run_scores_every_stage_of_every_seed(quick_runs, data_dir):
    metrics, directory = study(quick_runs, "deep")
    assert (
        metrics["data"] == {"n_train": runner.QUICK_N_TRAIN, "n_test": runner.QUICK_N_TEST, "quick": True}
        or not data_dir[1]
    )
    assert list(metrics["seeds"]) == ["0"]  # --quick caps the default three seeds at one
    finals = []
    for seed, records in metrics["seeds"].items():
        names = [record["stage"] for record in records]
        early = ["UMAP embedding after 5 epochs"] if seed == "0" else []  # the first seed only
        assert names == ["autoencoder codes", *early, "UMAP embedding", "self-training 1", "self-training 2"]
        elapsed = [record["elapsed_s"] for record in records[1 + len(early) :]]
        assert elapsed == sorted(elapsed) and elapsed[0] > 0
        for record in records:
            for split in ("train", "test"):
                assert 0.0 <= record[split]["hungarian_accuracy"] <= record[split]["purity"] + 1e-9
        finals.append(records[-1]["test"]["hungarian_accuracy"])
        if data_dir[1]:  # learned features beat raw pixels even on 2,000 images
            assert records[-1]["train"]["hungarian_accuracy"] > 0.6
    assert metrics["headline"]["median_test_accuracy"] == float(np.median(finals))
    assert metrics["headline"]["n_seeds"] == 1
    # Synthetic digits can be clustered without an error: then there is no errors figure.
    assert set(metrics["figures"]) - {"errors"} == {"progress", "confusion", "embedding"}
    assert "errors" in metrics["figures"] or not data_dir[1]
    (comparison,) = metrics["seed_comparisons"]
    assert comparison["seed_value"] == "0.843 / 0.881 / 0.979" and comparison["headline"] is True
    assert comparison["ours"] == metrics["headline"]["median_test_accuracy"]
    assert "labels are used only to score" in (directory / "summary.md").read_text().lower()


def assert_same_scores(first: list[dict], again: list[dict]) -> None:
    assert [r["stage"] for r in first] == [r["stage"] for r in again]
    for before, after in zip(first, again):
        assert before["train"] == after["train"] and before["test"] == after["test"], before["stage"]


def test_deep_reuse_loads_weights_and_embeddings(quick_runs, reruns):
    metrics, _ = study(quick_runs, "deep")
    _, stderr = reruns["deep", "reuse"].finish()
    assert "Saved" not in stderr  # nothing was trained again
    assert "Loaded umap-n" in stderr and "Loaded view-n" in stderr  # no UMAP fitted again
    reused = reruns["deep", "reuse"].metrics()
    assert reused["reused"] is True
    assert_same_scores(metrics["seeds"]["0"], reused["seeds"]["0"])


def test_deep_rerun_with_the_same_seed_reproduces_every_score(quick_runs, reruns):
    """Trained again from scratch with the same seed, every score is the same. Equal scores without
    the early snapshot also show that the snapshot leaves the training and the random streams as
    they were."""
    metrics, _ = study(quick_runs, "deep")
    reruns["deep", "again"].finish()
    again = reruns["deep", "again"].metrics()
    assert again["reused"] is False
    stages = ["autoencoder codes", "UMAP embedding", "self-training 1"]
    assert_same_scores([record for record in metrics["seeds"]["0"] if record["stage"] in stages], again["seeds"]["0"])
