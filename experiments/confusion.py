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
from typing import Any

import numpy as np
from absl import flags, logging

from experiments import plots, runner
from tfkmeans import KMeans, metrics

FLAGS = flags.FLAGS

flags.DEFINE_integer("k", 10, "Number of clusters.", lower_bound=1)
flags.DEFINE_enum("init", "k-means++", ["k-means++", "random"], "Initial centres.")
flags.DEFINE_integer("n_init", 1, "Runs from different initial centres; the lowest inertia wins.", lower_bound=1)
flags.DEFINE_integer("max_iter", 300, "Maximum Lloyd iterations per run (capped in --quick mode).", lower_bound=1)

SOURCE = runner.SEED_DOCUMENTS["autoencoder"]
SEED_PURITY = 0.59


def sorted_confusion(y_true: np.ndarray, clusters: np.ndarray, order: np.ndarray, n_classes: int) -> np.ndarray:
    """Counts of true digit (rows) × cluster (columns in ``order``); clusters absent from the data count 0."""
    n_ids = max(int(clusters.max()) + 1, int(np.max(order)) + 1)
    table = np.zeros((n_classes, n_ids), dtype=np.int64)
    np.add.at(table, (np.asarray(y_true), np.asarray(clusters)), 1)
    return table[:, order]


def digit_summary(table: np.ndarray, majority: np.ndarray) -> dict[str, Any]:
    """Per digit: how many of its images land in clusters whose majority it is (its recall under the map)."""
    per_digit = {}
    for digit in range(table.shape[0]):
        own = np.flatnonzero(majority == digit)
        total = int(table[digit].sum())
        per_digit[digit] = {
            "images": total, "clusters": own.tolist(),
            "recall": float(table[digit, own].sum() / total) if total else None,
        }
    return per_digit


def main(argv: Sequence[str]) -> None:
    del argv
    directory = runner.output_dir()
    with runner.timed("total") as total_time:
        with runner.timed("load") as load_time:
            data = runner.load_data(FLAGS.quick, FLAGS.data_dir, FLAGS.seed)
        max_iter = runner.iteration_budget(FLAGS.max_iter, FLAGS.quick)
        model = KMeans(FLAGS.k, init=FLAGS.init, n_init=FLAGS.n_init, max_iter=max_iter, random_state=FLAGS.seed)
        with runner.timed("fit") as fit_time:
            model.fit(data.x_train)
        test_clusters = model.predict(data.x_test)
        train_clusters = model.labels_
        n_classes = int(max(data.y_train.max(), data.y_test.max())) + 1

        # Column order and labels come from the training clustering, for both panels.
        order = np.asarray([int(c) for c in metrics.cluster_order(data.y_train, train_clusters)], dtype=np.int64)
        order = np.concatenate([order, [c for c in range(FLAGS.k) if c not in set(order.tolist())]]).astype(np.int64)
        majority = np.full(FLAGS.k, -1, dtype=np.int64)
        learnt = metrics.majority_labels(data.y_train, train_clusters)
        majority[: len(learnt)] = learnt
        labels = [f"c{c}\n→ {majority[c] if majority[c] >= 0 else '-'}" for c in order]  # figure ticks
        text_labels = [label.replace("\n→ ", "→") for label in labels]  # tables
        train_table = sorted_confusion(data.y_train, train_clusters, order, n_classes)
        test_table = sorted_confusion(data.y_test, test_clusters, order, n_classes)

        results = {
            "train": {
                "inertia": model.inertia_, "n_iter": model.n_iter_,
                **runner.evaluate(data.y_train, train_clusters),
            },
            "test": {
                "inertia": -model.score(data.x_test),
                **runner.evaluate(data.y_test, test_clusters),
                "accuracy_with_training_map": runner.mapped_accuracy(data.y_test, test_clusters, majority),
            },
        }
        digits = digit_summary(train_table, majority[order])
        unmapped = [d for d, s in digits.items() if not s["clusters"]]
        on_diagonal = sum(1 for d, s in digits.items() if s["clusters"] and s["recall"] >= 0.5)

        with runner.timed("figures") as plot_time:
            setup = f"k={FLAGS.k}, {FLAGS.init}, fitted on {len(data.x_train):,} training images"
            plots.confusion_heatmaps(
                [train_table, test_table], [labels, labels],
                [f"training images (n={len(data.x_train):,}), purity {results['train']['purity']:.3f}",
                 f"test images (n={len(data.x_test):,}), accuracy with training map "
                 f"{results['test']['accuracy_with_training_map']:.3f}"],
                directory / "confusion_matrix.png",
                suptitle=f"K-means on raw pixels: true digit × cluster, clusters sorted by majority training digit "
                         f"({setup})",
            )
        figures = {"confusion_matrix": "confusion_matrix.png"}

    purity = results["train"]["purity"]
    note = (
        f"Same definition as the notebook (size-weighted purity); it reports about {SEED_PURITY}, on data it does "
        f"not specify. Digits that are the majority of no cluster here: "
        f"{', '.join(map(str, unmapped)) or 'none'}; {on_diagonal} of {n_classes} digits have at least half of "
        f"their training images in clusters they dominate."
    )
    comparisons = [
        runner.seed_comparison(
            source=SOURCE, quantity=f"purity of k={FLAGS.k} K-means on pixels (train)", seed_value=SEED_PURITY,
            ours=purity, approximate=True,
            definition="size-weighted purity: the fraction of images in their cluster's majority digit",
            note=note, figures=[figures["confusion_matrix"]],
        ),
        runner.seed_comparison(
            source=SOURCE, quantity=f"purity of k={FLAGS.k} K-means on pixels (test, training map)",
            seed_value=SEED_PURITY, ours=results["test"]["accuracy_with_training_map"], approximate=True,
            definition="test images assigned to the nearest centre, labelled with the training majority digit",
            note="The notebook reports one purity; we give the held-out figure too.",
            headline=False, figures=[figures["confusion_matrix"]],
        ),
    ]
    logging.info("Purity: train %.4f, test %.4f", purity, results["test"]["purity"])

    table_md = runner.format_table(
        [{"digit": d, **{label: int(v) for label, v in zip(text_labels, train_table[d])}} for d in range(n_classes)],
        markdown=True,
    )
    print(runner.format_table(
        [{"digit": d, **{label: int(v) for label, v in zip(text_labels, train_table[d])}} for d in range(n_classes)]
    ))
    command = runner.command_line("experiments.confusion")
    runner.write_metrics({
        "experiment": "confusion",
        "title": "Sorted confusion matrix of K-means on raw pixels",
        "command": command,
        "flags": runner.experiment_flags(),
        "data": {"n_train": len(data.x_train), "n_test": len(data.x_test), "quick": FLAGS.quick},
        "max_iter_used": max_iter,
        "train": results["train"], "test": results["test"],
        "cluster_order": order, "cluster_majority_digit": majority, "column_labels": text_labels,
        "train_confusion_sorted": train_table, "test_confusion_sorted": test_table,
        "per_digit": digits, "digits_without_cluster": unmapped,
        "timings_s": {"load": load_time.seconds, "fit": fit_time.seconds, "figures": plot_time.seconds,
                      "total": total_time.seconds},
        "seed_comparisons": comparisons,
        "figures": figures,
    }, directory)
    runner.write_text("summary.md", "\n".join([
        "# Sorted confusion matrix of K-means on raw pixels (seed 004)",
        "",
        f"`{command}`",
        "",
        f"k={FLAGS.k}, init={FLAGS.init}, n_init={FLAGS.n_init}, max_iter={max_iter}, seed={FLAGS.seed}; "
        f"fitted on {len(data.x_train):,} training images, {len(data.x_test):,} test images assigned to the "
        "nearest centre." + (" **Quick mode: subsets only, not comparable with the seed.**" if FLAGS.quick else ""),
        "",
        runner.format_table([
            {"": "purity", "train": results["train"]["purity"], "test": results["test"]["purity"]},
            {"": "accuracy with the training map", "train": purity,
             "test": results["test"]["accuracy_with_training_map"]},
            {"": "Hungarian accuracy", "train": results["train"]["hungarian_accuracy"],
             "test": results["test"]["hungarian_accuracy"]},
            {"": "NMI", "train": results["train"]["nmi"], "test": results["test"]["nmi"]},
        ], markdown=True),
        "",
        "## Training confusion matrix (rows: true digit; columns: cluster → majority digit)",
        "",
        table_md,
        "",
        "## Comparison with the seed",
        "",
        *[f"- **{c['quantity']}**: seed about {c['seed_value']}, ours {c['ours']:.4f}. {c['note']}"
          for c in comparisons],
        "",
        "## Figures",
        "",
        "- `confusion_matrix.png`: training and test confusion matrices, counts in every cell.",
    ]), directory)


if __name__ == "__main__":
    runner.set_defaults(output_dir="runs/confusion")
    runner.run(main)
