"""Tests of the learned-feature studies (experiments.autoencoder, experiments.lenet) and their helpers.

Each study runs with ``--quick`` in its own process, as users run it, in the session's
``python -m experiments.all --quick`` run (``conftest.quick_runs``); the autoencoder's
runs once more with ``--reuse`` in a copy of that directory (must load the saved
weights and reproduce every score), started by ``conftest.RERUNS`` beside the other
tests: LeNet's loads its weights the same way (``experiments.learned.train``). A
same-seed run from scratch is deep's (tests/test_deep_study.py), which trains with the
same experiments.networks code. The data are the real MNIST files when
there are any (``conftest.data_dir``), otherwise synthetic IDX "digits"; checks that
need real digits are skipped on the synthetic ones.
"""

from __future__ import annotations

from pathlib import Path

import keras
import numpy as np
import pytest

# Helpers shared with the other studies' tests (tests/ is on sys.path under pytest; data_dir is in conftest).
from conftest import RERUNS
from test_experiment_studies import assert_png, check_seed_comparisons
from test_experiment_studies import study as quick_study
from test_experiments import EPS, error_lines

from experiments import learned, networks, plots, runner
from tfkmeans import KMeans

STUDIES = ("autoencoder", "lenet")
#: The studies rerun with ``--reuse`` (``conftest.RERUNS``).
REUSED = tuple(study for study in STUDIES if (study, "reuse") in RERUNS)
#: Error-level log lines that are not errors: TensorFlow's CUDA probe (fails on every machine without a GPU),
#: and tf.data's rewrite of Keras's parallel map into a sequential one under op determinism
#: (networks.seed_everything), which keeps an attribute the sequential op lacks and is ignored.
BENIGN_ERRORS = ("cuda", "use_unbounded_threadpool")
SCORES = ("purity", "mean_cluster_purity", "accuracy_with_training_map", "hungarian_accuracy", "nmi")


# -- running the studies --------------------------------------------------------------------------


def checked_run(metrics: dict, stdout: str, stderr: str, output_dir: Path) -> dict:
    """A run's record after checking its log: the scores table printed, no error-level lines."""
    assert "split" in stdout and "purity" in stdout  # the scores table was printed
    errors = error_lines(stderr, BENIGN_ERRORS)
    assert not errors, errors
    return {"metrics": metrics, "stderr": stderr, "stdout": stdout, "directory": output_dir}


@pytest.fixture(scope="module")
def runs(quick_runs, reruns) -> dict:
    """``{(study, run): record}`` for the runs "first" (the session's quick run) and "reuse" (the
    :data:`REUSED` studies' rerun)."""
    results = {}
    for name in STUDIES:
        metrics, directory = quick_study(quick_runs, name)
        log = (directory / "run.log").read_text()  # all.py keeps stdout and stderr there, interleaved
        results[name, "first"] = checked_run(metrics, log, log, directory)
        if name in REUSED:
            reuse = reruns[name, "reuse"]
            stdout, stderr = reuse.finish(timeout=300)
            results[name, "reuse"] = checked_run(reuse.metrics(), stdout, stderr, reuse.output_dir)
    return results


def without_seconds(value):
    """``value`` without its wall times (every ``*seconds`` entry): they differ from run to run."""
    if isinstance(value, dict):
        return {key: without_seconds(item) for key, item in value.items() if not key.endswith("seconds")}
    if isinstance(value, list):
        return [without_seconds(item) for item in value]
    return value


def check_common(run: dict, study: str, stages: set[str]) -> dict:
    """What both studies must write: metadata, training record, scores in range, timings, comparisons, PNGs."""
    metrics, directory = run["metrics"], run["directory"]
    assert metrics["experiment"] == study and metrics["title"]
    assert metrics["command"].startswith(f"python -m experiments.{study} ") and "--quick" in metrics["command"]
    assert metrics["data"]["quick"] is True and metrics["flags"]["quick"] is True
    n_train, n_test = metrics["data"]["n_train"], metrics["data"]["n_test"]
    assert 0 < n_train <= runner.QUICK_N_TRAIN and 0 < n_test <= runner.QUICK_N_TEST

    training = metrics["training"]
    assert training["epochs"] == learned.QUICK_EPOCHS and (directory / training["weights"]).is_file()
    assert training["batch_size"] == learned.QUICK_BATCH_SIZE < metrics["flags"]["batch_size"]  # the quick cap
    assert training["weights"].endswith(f"-n{n_train}-seed0-epochs1-batch{learned.QUICK_BATCH_SIZE}.weights.h5")
    assert learned.history_path(directory / training["weights"]).is_file()
    assert [row["epoch"] for row in training["history"]] == [1] and training["fit_seconds"] > 0
    assert training["history"][0]["loss"] > 0 and training["history"][0]["val_loss"] > 0

    for space, result in metrics["results"].items():
        for split in ("train", "test"):
            scores = result[split]
            for key in SCORES:
                assert -EPS <= scores[key] <= 1.0 + EPS, (space, split, key)
            assert scores["hungarian_accuracy"] <= scores["purity"] + EPS  # one-to-one never beats many-to-one
            assert scores["inertia_per_image"] > 0
        assert result["train"]["accuracy_with_training_map"] == pytest.approx(result["train"]["purity"])
        assert 1 <= result["train"]["n_iter"] <= runner.QUICK_MAX_ITER
        sizes = metrics["cluster_sizes"][space]
        assert sum(sizes["train"]) == n_train and sum(sizes["test"]) == n_test and len(sizes["train"]) == 10

    assert set(metrics["timings_s"]) == stages | {"load", "train", "kmeans", "figures", "total"}
    assert all(seconds > 0 for seconds in metrics["timings_s"].values())
    assert metrics["timings_s"]["total"] >= sum(s for name, s in metrics["timings_s"].items() if name != "total")
    check_seed_comparisons(metrics, directory)
    assert {entry["source"] for entry in metrics["seed_comparisons"]} == {runner.SEED_DOCUMENTS[study]}
    for figure in metrics["figures"].values():
        assert_png(directory / figure)
    assert (directory / "summary.md").read_text().startswith("# ")
    return metrics


# -- the autoencoder study (seed 004) ---------------------------------------------------------------


def test_autoencoder_quick(runs, data_dir):
    run = runs["autoencoder", "first"]
    metrics = check_common(run, "autoencoder", {"encode"})
    assert set(metrics["results"]) == {"pixels", "codes"}
    assert metrics["network"]["labels_used"] is False
    assert set(metrics["figures"]) == {"confusion_matrix", "reconstructions", "centres"}
    n_train = metrics["data"]["n_train"]
    for space, table in metrics["train_confusion_sorted"].items():
        table = np.array(table)
        assert table.shape == (10, 10) and table.sum() == n_train
        # Sorted by majority digit, and the purity is the column maxima's share.
        assert list(table.argmax(axis=0)) == sorted(table.argmax(axis=0))
        assert metrics["results"][space]["train"]["purity"] == pytest.approx(table.max(axis=0).sum() / n_train)
    comparisons = metrics["seed_comparisons"]
    assert [c["seed_value"] for c in comparisons] == [0.59, 0.66, 0.07, 0.66]
    assert comparisons[0]["ours"] == metrics["results"]["pixels"]["train"]["purity"]
    assert comparisons[1]["ours"] == metrics["results"]["codes"]["train"]["purity"]
    assert comparisons[2]["ours"] == pytest.approx(comparisons[1]["ours"] - comparisons[0]["ours"])
    summary = (run["directory"] / "summary.md").read_text()
    assert "autoencoder codes (10-d, trained without labels)" in summary and "Quick mode" in summary
    mse = metrics["training"]["reconstruction_mse"]
    assert 0 < mse["train"] < 1 and 0 < mse["test"] < 1
    if data_dir[1]:
        # One epoch of 63 steps already reconstructs better than the mean training image does.
        assert mse["test"] < 0.9 * mse["test_mean_image"]
        assert 0.35 < metrics["results"]["pixels"]["train"]["purity"] < 0.85


# -- the LeNet study (seed 002) ------------------------------------------------------------------------


def test_lenet_quick(runs, data_dir):
    run = runs["lenet", "first"]
    metrics = check_common(run, "lenet", {"features", "elbow"})
    results = metrics["results"]
    assert set(results) == {"pixels", "penultimate", "logits"}
    assert metrics["network"]["labels_used"] is True
    assert set(metrics["figures"]) == {"elbow", "cluster_grids"}

    # The logits K-means clustered are the trained network's: their argmax scores what Keras reported.
    accuracy = metrics["classifier_accuracy"]
    assert accuracy["test"] == pytest.approx(metrics["training"]["history"][-1]["val_accuracy"], abs=1e-6)

    for key, curve in metrics["elbow"].items():
        assert key in ("penultimate", "logits")
        assert curve["k"] == [1, 2, 3, 4, 5, 6] and curve["knee"] in curve["k"]  # --quick: k_max 14 capped at 6
        assert curve["inertia"][0] == max(curve["inertia"]) > 0  # one cluster: the total sum of squares
        assert curve["knee"] == plots.knee_point(curve["k"], curve["inertia"])

    # Every mention of the LeNet features says they were learnt with labels.
    for key, title in metrics["feature_spaces"].items():
        assert ("trained with labels" in title) == (key != "pixels"), title
    comparisons = metrics["seed_comparisons"]
    assert all("labels" in c["quantity"] for c in comparisons)
    assert [c["seed_value"] for c in comparisons] == [0.8904, 0.8904, 0.985, 10, 10]
    assert comparisons[0]["ours"] == results["penultimate"]["train"]["mean_cluster_purity"]
    assert comparisons[1]["ours"] == results["logits"]["train"]["mean_cluster_purity"]
    summary = (run["directory"] / "summary.md").read_text()
    assert "trained WITH LABELS" in summary.splitlines()[0]
    table_rows = [line for line in summary.splitlines() if line.startswith("| LeNet")]
    assert len(table_rows) == 4 and all("trained with labels" in line for line in table_rows)
    assert "trained with labels" in run["stdout"]

    if data_dir[1]:
        # Supervised features separate the digits better than raw pixels, even after one short epoch.
        assert accuracy["test"] > 0.7
        hungarian = {key: result["train"]["hungarian_accuracy"] for key, result in results.items()}
        assert hungarian["logits"] > hungarian["pixels"] + 0.05


# -- reuse and determinism --------------------------------------------------------------------------------


@pytest.mark.parametrize("study", REUSED)
def test_reuse_loads_the_weights_and_reproduces_the_scores(runs, study):
    first, reused = runs[study, "first"]["metrics"], runs[study, "reuse"]
    training = reused["metrics"]["training"]
    assert training["reused"] is True and "(--reuse)" in reused["stderr"]
    # The first run's training, reported again from the file kept beside the weights.
    for key in ("weights", "epochs", "history", "fit_seconds"):
        assert training[key] == first["training"][key], key
    assert without_seconds(reused["metrics"]["results"]) == without_seconds(first["results"])
    assert reused["metrics"]["seed_comparisons"] == first["seed_comparisons"]
    assert "train" in first["timings_s"] and reused["metrics"]["timings_s"]["train"] < first["timings_s"]["train"]


# -- helpers ----------------------------------------------------------------------------------------------


def test_weights_path_names_the_training_setup(tmp_path):
    path = networks.weights_path(tmp_path, "lenet5", n=60000, seed=3, epochs=2, batch=128)
    assert path == tmp_path / "lenet5-n60000-seed3-epochs2-batch128.weights.h5"
    # Another setup, another file: --reuse never loads weights trained differently.
    assert networks.weights_path(tmp_path, "lenet5", n=2000, seed=3, epochs=1, batch=128) != path
    assert networks.weights_path(tmp_path, "net").name == "net.weights.h5"


def test_train_keeps_the_history_beside_the_weights_for_reuse(tmp_path):
    def compiled_model():
        networks.seed_everything(0)
        model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)], name="tiny")
        model.compile(optimizer="sgd", loss="mse")
        return model

    rng = np.random.default_rng(0)
    x, y = rng.random((64, 3), dtype=np.float32), rng.random((64, 1), dtype=np.float32)
    path = networks.weights_path(tmp_path, "tiny", epochs=2)
    options = {"epochs": 2, "batch_size": 16, "validation_data": (x[:8], y[:8])}
    trained = learned.train(compiled_model(), path, True, x, y, **options)  # nothing to reuse yet: trains
    assert trained["reused"] is False and [row["epoch"] for row in trained["history"]] == [1, 2]
    assert path.is_file() and learned.history_path(path) == tmp_path / "tiny-epochs2.history.json"

    model = compiled_model()
    loaded = learned.train(model, path, True, x, y, **options)
    assert loaded["reused"] is True and loaded["epochs"] == 2
    assert loaded["history"] == trained["history"] and loaded["fit_seconds"] == trained["fit_seconds"]
    assert float(model.evaluate(x[:8], y[:8], verbose=0)) == pytest.approx(trained["history"][-1]["val_loss"])
    assert "final loss" in learned.training_sentence(loaded) and "`--reuse`" in learned.training_sentence(loaded)
    assert "`--reuse`" not in learned.training_sentence(trained)

    learned.history_path(path).unlink()  # weights from before histories were kept
    orphan = learned.train(compiled_model(), path, True, x, y, **options)
    assert orphan["reused"] is True and orphan["history"] is None and orphan["fit_seconds"] is None
    assert "history was not kept" in learned.training_sentence(orphan)


def test_training_budget_caps_only_quick_runs():
    assert learned.training_budget(10, 256, quick=False) == (10, 256)
    assert learned.training_budget(10, 256, quick=True) == (learned.QUICK_EPOCHS, learned.QUICK_BATCH_SIZE) == (1, 32)
    assert learned.training_budget(10, 16, quick=True) == (1, 16)  # smaller batches are kept


def test_cluster_space_scores_train_and_held_out_points():
    rng = np.random.default_rng(0)
    centres = np.array([[0.0, 0.0], [10.0, 0.0], [0.0, 10.0]])
    y_train, y_test = rng.integers(0, 3, 300), np.array([2, 0, 1, 1])
    x_train = centres[y_train] + rng.normal(0.0, 0.5, (300, 2))
    x_test = centres[y_test] + np.array([[0.1, 0.0], [0.0, -0.1], [0.2, 0.2], [-0.3, 0.0]])
    space = learned.FeatureSpace("toy", "toy points (2-d)", x_train, x_test)
    model = KMeans(3, n_init=2, max_iter=50, random_state=0)
    clustering = learned.cluster_space(space, y_train, y_test, model)
    assert clustering.model is model
    for split in ("train", "test"):
        scores = clustering.scores[split]
        for key in SCORES:
            assert scores[key] == pytest.approx(1.0), (split, key)
    # The test points get the clusters of their centres, and the map learnt on train names them right.
    np.testing.assert_array_equal(clustering.mapping[clustering.test_clusters], y_test)
    assert clustering.scores["train"]["inertia_per_image"] == pytest.approx(0.5, rel=0.2)  # 2 x 0.5^2
    assigned = clustering.model.cluster_centers_[clustering.test_clusters]
    assert clustering.scores["test"]["inertia_per_image"] == pytest.approx(np.mean(np.sum((x_test - assigned) ** 2, 1)))

    table = learned.scores_table([space], {"toy": clustering}).splitlines()
    assert table[0].split()[:3] == ["features", "split", "purity"]
    assert [line.split()[3] for line in table[2:]] == ["train", "test"]


def test_stages_record_every_timed_block():
    stages = learned.Stages()
    with stages("outer"), stages("inner"):
        pass
    assert list(stages.seconds) == ["inner", "outer"]
    assert 0 <= stages.seconds["inner"] <= stages.seconds["outer"]


def test_tile_images_places_images_row_by_row():
    images = np.arange(3 * 4, dtype=np.float32).reshape(3, 4) + 1.0  # three 2x2 images of values 1..12
    mosaic = plots.tile_images(images, side=2, gap=1, gap_value=-1.0)
    assert mosaic.shape == (5, 5)
    np.testing.assert_array_equal(mosaic[:2, :2], [[1, 2], [3, 4]])  # first image top left
    np.testing.assert_array_equal(mosaic[:2, 3:], [[5, 6], [7, 8]])  # second top right
    np.testing.assert_array_equal(mosaic[3:, :2], [[9, 10], [11, 12]])  # third bottom left
    np.testing.assert_array_equal(mosaic[3:, 3:], 0.0)  # no fourth image: blank
    assert np.all(mosaic[2] == -1.0) and np.all(mosaic[:, 2] == -1.0)  # the separating lines
    assert plots.tile_images(np.ones((100, 784)), side=10).shape == (289, 289)
    with pytest.raises(ValueError, match="do not fit"):
        plots.tile_images(np.ones((5, 4)), side=2)


def test_image_grid_refuses_what_it_cannot_draw(tmp_path):
    with pytest.raises(ValueError, match="no images to show"):
        plots.image_grid(np.zeros((0, 784)), [], tmp_path / "none.png")
    with pytest.raises(ValueError, match="2 titles for 1 images"):
        plots.image_grid(np.zeros((1, 784)), ["a", "b"], tmp_path / "mismatch.png")
    assert not list(tmp_path.iterdir())
