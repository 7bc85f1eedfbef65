"""Confusion matrix of K-means on raw pixels, clusters sorted by majority digit (seed 004).

The notebook write-up on K-means of autoencoder codes builds a K-means baseline
on MNIST pixels, scores it with purity (about 0.59) and shows a confusion matrix of
true digit against cluster whose columns are sorted by each cluster's majority
digit, so that a good clustering reads as a diagonal. Its autoencoder part is not
reproduced here.

This study fits :class:`tfkmeans.KMeans` (k=10 by default) on the 60,000 training
images and draws the sorted confusion matrix of the training images and of the
10,000 test images (assigned to the nearest centre; columns in the training order,
clusters labelled with their majority *training* digit). Every cell shows its
count and is shaded by its share of the cluster.

Usage::

    python -m experiments.confusion                 # writes runs/confusion/
    python -m experiments.confusion --quick         # smoke test

Outputs in ``--output_dir``: ``metrics.json``, ``summary.md`` and
``confusion_matrix.png`` (train and test side by side).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
from absl import flags, logging

from experiments import plots, runner
from tfkmeans import KMeans, metrics

FLAGS = flags.FLAGS

runner.define_flags("k", "init", "n_init", "max_iter")

SOURCE = runner.SEED_DOCUMENTS["autoencoder"]
SEED_PURITY = 0.59


class SortedConfusion(NamedTuple):
    """Confusion matrices of true digit (rows) × cluster (columns in the training order)."""

    #: Every cluster id, by majority training digit (:func:`runner.cluster_order`).
    order: list[int]
    #: Majority training digit of every cluster id (-1: empty).
    majority: np.ndarray
    train: np.ndarray
    test: np.ndarray

    def tick_labels(self) -> list[str]:
        """Column labels of the figure: ``"c3\n→ 0"`` (cluster, its majority training digit)."""
        return [f"c{c}\n→ {self.majority[c] if self.majority[c] >= 0 else '-'}" for c in self.order]

    def text_labels(self) -> list[str]:
        """Column labels of the tables: ``"c3→0"``."""
        return [label.replace("\n→ ", "→") for label in self.tick_labels()]


def sorted_confusion(
    data: runner.MnistSplits, train_clusters: np.ndarray, test_clusters: np.ndarray, n_clusters: int
) -> SortedConfusion:
    """Both splits' confusion matrices with the columns sorted by majority *training* digit."""
    n_classes = int(max(data.y_train.max(), data.y_test.max())) + 1
    shape = (n_classes, n_clusters)
    majority = runner.padded(metrics.majority_labels(data.y_train, train_clusters), (n_clusters,), -1)
    order = runner.cluster_order(data.y_train, train_clusters, n_clusters)
    return SortedConfusion(
        order,
        majority,
        train=runner.padded(metrics.confusion_matrix(data.y_train, train_clusters, sort_clusters=True), shape, 0),
        test=runner.padded(metrics.contingency_matrix(data.y_test, test_clusters), shape, 0)[:, order],
    )


def digit_summary(table: np.ndarray, majority: np.ndarray) -> dict[int, dict[str, Any]]:
    """Per digit: how many of its images land in clusters whose majority it is (its recall under the map)."""
    per_digit = {}
    for digit in range(table.shape[0]):
        own = np.flatnonzero(majority == digit)
        total = int(table[digit].sum())
        per_digit[digit] = {
            "images": total,
            "clusters": own.tolist(),
            "recall": float(table[digit, own].sum() / total) if total else None,
        }
    return per_digit


def score(
    model: KMeans, data: runner.MnistSplits, test_clusters: np.ndarray, majority: np.ndarray
) -> dict[str, dict[str, Any]]:
    """Scores of the training and test clusterings; the test images also under the training map."""
    return {
        "train": {
            "inertia": model.inertia_,
            "n_iter": model.n_iter_,
            **runner.evaluate(data.y_train, model.labels_),
        },
        "test": {
            "inertia": -model.score(data.x_test),
            **runner.evaluate(data.y_test, test_clusters),
            "accuracy_with_training_map": runner.mapped_accuracy(data.y_test, test_clusters, majority),
        },
    }


def save_figure(
    tables: SortedConfusion, results: dict[str, dict[str, Any]], data: runner.MnistSplits, directory: Path
) -> dict[str, str]:
    """Write confusion_matrix.png: the training and test matrices side by side."""
    setup = f"k={FLAGS.k}, {FLAGS.init}, fitted on {len(data.x_train):,} training images"
    labels = tables.tick_labels()
    plots.confusion_heatmaps(
        [tables.train, tables.test],
        [labels, labels],
        [
            f"training images (n={len(data.x_train):,}), purity {results['train']['purity']:.3f}",
            f"test images (n={len(data.x_test):,}), accuracy with training map "
            f"{results['test']['accuracy_with_training_map']:.3f}",
        ],
        directory / "confusion_matrix.png",
        suptitle=f"K-means on raw pixels: true digit × cluster, clusters sorted by majority training digit ({setup})",
    )
    return {"confusion_matrix": "confusion_matrix.png"}


def seed_comparisons(
    results: dict[str, dict[str, Any]], digits: dict[int, dict[str, Any]], figures: dict[str, str]
) -> list[dict[str, Any]]:
    """The notebook's purity beside ours, on the training images and held out."""
    unmapped = [d for d, s in digits.items() if not s["clusters"]]
    on_diagonal = sum(1 for s in digits.values() if s["clusters"] and s["recall"] >= 0.5)
    note = (
        f"Same definition as the notebook (size-weighted purity); it reports about {SEED_PURITY}, on data it does "
        f"not specify. Digits that are the majority of no cluster here: "
        f"{', '.join(map(str, unmapped)) or 'none'}; {on_diagonal} of {len(digits)} digits have at least half of "
        f"their training images in clusters they dominate."
    )
    return [
        runner.seed_comparison(
            source=SOURCE,
            quantity=f"purity of k={FLAGS.k} K-means on pixels (train)",
            seed_value=SEED_PURITY,
            ours=results["train"]["purity"],
            approximate=True,
            definition="size-weighted purity: the fraction of images in their cluster's majority digit",
            note=note,
            figures=[figures["confusion_matrix"]],
        ),
        runner.seed_comparison(
            source=SOURCE,
            quantity=f"purity of k={FLAGS.k} K-means on pixels (test, training map)",
            seed_value=SEED_PURITY,
            ours=results["test"]["accuracy_with_training_map"],
            approximate=True,
            definition="test images assigned to the nearest centre, labelled with the training majority digit",
            note="The notebook reports one purity; we give the held-out figure too.",
            headline=False,
            figures=[figures["confusion_matrix"]],
        ),
    ]


def training_table(tables: SortedConfusion, *, markdown: bool = False) -> str:
    """The training confusion matrix as a table: one row per digit, one column per cluster."""
    return runner.format_table(
        [
            {"digit": d, **{label: int(v) for label, v in zip(tables.text_labels(), row)}}
            for d, row in enumerate(tables.train)
        ],
        markdown=markdown,
    )


def summary_markdown(
    results: dict[str, dict[str, Any]],
    tables: SortedConfusion,
    comparisons: list[dict[str, Any]],
    data: runner.MnistSplits,
    max_iter: int,
    command: str,
) -> str:
    """The summary.md text: setup, scores, the training matrix, comparison with the seed, figure."""
    train, test = results["train"], results["test"]
    return "\n".join(
        [
            "# Sorted confusion matrix of K-means on raw pixels (seed 004)",
            "",
            f"`{command}`",
            "",
            f"k={FLAGS.k}, init={FLAGS.init}, n_init={FLAGS.n_init}, max_iter={max_iter}, seed={FLAGS.seed}; "
            f"fitted on {len(data.x_train):,} training images, {len(data.x_test):,} test images assigned to the "
            "nearest centre." + (" **Quick mode: subsets only, not comparable with the seed.**" if FLAGS.quick else ""),
            "",
            runner.format_table(
                [
                    {"": "purity", "train": train["purity"], "test": test["purity"]},
                    {
                        "": "accuracy with the training map",
                        "train": train["purity"],
                        "test": test["accuracy_with_training_map"],
                    },
                    {
                        "": "Hungarian accuracy",
                        "train": train["hungarian_accuracy"],
                        "test": test["hungarian_accuracy"],
                    },
                    {"": "NMI", "train": train["nmi"], "test": test["nmi"]},
                ],
                markdown=True,
            ),
            "",
            "## Training confusion matrix (rows: true digit; columns: cluster → majority digit)",
            "",
            training_table(tables, markdown=True),
            "",
            "## Comparison with the seed",
            "",
            *[
                f"- **{c['quantity']}**: seed about {c['seed_value']}, ours {c['ours']:.4f}. {c['note']}"
                for c in comparisons
            ],
            "",
            "## Figures",
            "",
            "- `confusion_matrix.png`: training and test confusion matrices, counts in every cell.",
        ]
    )


def write_outputs(
    model: KMeans,
    results: dict[str, dict[str, Any]],
    tables: SortedConfusion,
    data: runner.MnistSplits,
    figures: dict[str, str],
    timings: dict[str, float],
    directory: Path,
) -> None:
    """Print the training matrix; write metrics.json and summary.md."""
    digits = digit_summary(tables.train, tables.majority[tables.order])
    comparisons = seed_comparisons(results, digits, figures)
    logging.info("Purity: train %.4f, test %.4f", results["train"]["purity"], results["test"]["purity"])
    print(training_table(tables))
    head = runner.record_head("confusion", "Sorted confusion matrix of K-means on raw pixels")
    command = head["command"]
    runner.write_metrics(
        {
            **head,
            "data": {"n_train": len(data.x_train), "n_test": len(data.x_test), "quick": FLAGS.quick},
            "max_iter_used": model.max_iter,
            "train": results["train"],
            "test": results["test"],
            "cluster_order": tables.order,
            "cluster_majority_digit": tables.majority,
            "column_labels": tables.text_labels(),
            "train_confusion_sorted": tables.train,
            "test_confusion_sorted": tables.test,
            "per_digit": digits,
            "digits_without_cluster": [d for d, s in digits.items() if not s["clusters"]],
            "timings_s": timings,
            "seed_comparisons": comparisons,
            "figures": figures,
        },
        directory,
    )
    runner.write_text(
        "summary.md", summary_markdown(results, tables, comparisons, data, model.max_iter, command), directory
    )


def main(argv: Sequence[str]) -> None:
    del argv
    directory = runner.output_dir()
    with runner.timed("total") as total_time:
        with runner.timed("load") as load_time:
            data = runner.load_data_from_flags()
        model = runner.estimator("kmeans")
        with runner.timed("fit") as fit_time:
            model.fit(data.x_train)
        test_clusters = model.predict(data.x_test)
        tables = sorted_confusion(data, model.labels_, test_clusters, FLAGS.k)
        results = score(model, data, test_clusters, tables.majority)
        with runner.timed("figures") as plot_time:
            figures = save_figure(tables, results, data, directory)
    timings = {
        "load": load_time.seconds,
        "fit": fit_time.seconds,
        "figures": plot_time.seconds,
        "total": total_time.seconds,
    }
    write_outputs(model, results, tables, data, figures, timings, directory)


if __name__ == "__main__":
    runner.set_defaults(output_dir="runs/confusion")
    runner.run(main)
