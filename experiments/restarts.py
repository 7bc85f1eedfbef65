"""Repeated K-means with several re-initialisations per repetition: the course-report study (seed 003).

For every k in ``--ks`` (default 5, 7, 10, 12) the study runs ``--repetitions``
repetitions. A repetition fits :class:`tfkmeans.KMeans` ``--n_init`` times on the
60,000 training images, each fit from its own initial centres (``n_init=1`` with a
seed drawn from the repetition's random generator, so that both the lowest and the
highest final inertia are known), at most ``--max_iter`` Lloyd iterations each, and
keeps the lowest-inertia fit -- what ``KMeans(n_init=R)`` would return. That fit is
then scored:

- cluster -> digit map: every cluster is labelled with its majority training digit
  (the report's ``rearrange_labels``);
- train accuracy: fraction of training images whose cluster's digit is theirs
  (= majority accuracy = purity);
- test accuracy: the 10,000 test images are assigned to the nearest centre and
  labelled with the *training* map.

The course report "KMeans Clustering MNIST digits Dataset" used the 42,000-image Kaggle training
set and a held-out part of it; inertia is a sum over images, so to compare it we
divide by the number of images (inertia per image).

Usage::

    python -m experiments.restarts                    # writes runs/restarts/
    python -m experiments.restarts --n_init=5 --repetitions=5 --ks=10
    python -m experiments.restarts --quick            # smoke test

In ``--quick`` mode at most 2 repetitions of at most 2 fits each run per k.

Outputs in ``--output_dir``: ``metrics.json``, ``summary.md``,
``mean_images_k10.png`` (the centres of the best k=10 fit as images),
``accuracy_vs_k.png`` and ``inertia_per_image.png``.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from absl import flags, logging

from experiments import plots, runner
from tfkmeans import metrics

FLAGS = flags.FLAGS

flags.DEFINE_list("ks", ["5", "7", "10", "12"], "Numbers of clusters to study.")
flags.DEFINE_integer("repetitions", 5, "Repetitions per k (the report's Run1..Run5).", lower_bound=1)
runner.define_flags("n_init", "max_iter", "init", "tol", n_init=5)
flags.DEFINE_integer("mean_image_k", 10, "k whose centres are drawn as mean images.", lower_bound=1)

#: In --quick mode: at most this many repetitions (and runner.QUICK_N_INIT re-initialisations).
QUICK_REPETITIONS = 2

SOURCE = runner.SEED_DOCUMENTS["course"]
SEED_N_TRAIN = 42_000
#: The report's figures: per k the (max, min) inertia of Run1..Run5 and the accuracies.
SEED_RESULTS = {
    5: {
        "runs": [
            (2005877.525, 1824012.219),
            (1985790.222, 1824030.471),
            (2058536.885, 1824011.109),
            (2017129.383, 1824011.315),
            (1957515.944, 1824012.14),
        ],
        "train": 0.4511,
        "test": 0.4537,
    },
    7: {
        "runs": [
            (1867412.635848724, 1735097.3918885968),
            (1834291.6736012741, 1735097.9146356802),
            (1792639.742930492, 1735097.4671158127),
            (1804453.0941065643, 1735097.9146356802),
            (1834414.5604952567, 1750063.3164397313),
        ],
        "train": 0.5083,
        "test": 0.5064,
    },
    10: {
        "runs": [
            (1842558.399211303, 1651141.5429655006),
            (1868784.6883395873, 1646039.2485595671),
            (1850150.4099327181, 1645926.690151455),
            (1848641.2613696465, 1646031.9300724927),
            (1824945.3455359973, 1665512.9291154451),
        ],
        "train": 0.5920,
        "test": 0.5883,
    },
    12: {
        "runs": [
            (1810431.295040314, 1598411.390134471),
            (1806245.0786733285, 1597737.9590808046),
            (1774087.2499047131, 1597737.9511413954),
            (1777668.7371507126, 1597737.4860982485),
            (1779308.8004898103, 1598417.5902334058),
        ],
        "train": 0.6065,
        "test": 0.6035,
    },
}

TABLE_COLUMNS = (
    "k",
    "repetition",
    "min inertia",
    "max inertia",
    "min inertia / image",
    "max inertia / image",
    "iterations",
    "train accuracy",
    "test accuracy",
    "majority digits of the clusters",
)


def fit_repetition(data: runner.MnistSplits, k: int, repetition: int, n_init: int) -> dict[str, Any]:
    """Fit one repetition (``n_init`` single-start fits) and score its lowest-inertia fit.

    Returns
    -------
    dict
        The row of the results table plus ``model`` (the kept :class:`KMeans`),
        ``inertias`` and ``n_iters`` of every fit and ``mapping`` (cluster -> digit).
    """
    rng = np.random.default_rng([FLAGS.seed, k, repetition])
    seeds = rng.integers(0, 2**31 - 1, size=n_init)
    best, inertias, n_iters = None, [], []
    with runner.timed() as fit_time:
        for seed in seeds:
            model = runner.estimator("kmeans", k, n_init=1, random_state=int(seed)).fit(data.x_train)
            inertias.append(model.inertia_)
            n_iters.append(model.n_iter_)
            if best is None or model.inertia_ < best.inertia_:
                best = model
    mapping = metrics.majority_labels(data.y_train, best.labels_)
    test_clusters = best.predict(data.x_test)
    n_train = len(data.x_train)
    row = {
        "k": k,
        "repetition": repetition + 1,
        "min inertia": min(inertias),
        "max inertia": max(inertias),
        "min inertia / image": min(inertias) / n_train,
        "max inertia / image": max(inertias) / n_train,
        "iterations": best.n_iter_,
        "train accuracy": metrics.majority_accuracy(data.y_train, best.labels_),
        "test accuracy": runner.mapped_accuracy(data.y_test, test_clusters, mapping),
        "majority digits of the clusters": " ".join(str(d) for d in sorted(mapping.tolist()) if d >= 0),
    }
    logging.info(
        "k=%d repetition %d: inertia %.6g..%.6g over %d fits, train %.4f, test %.4f, %.1f s",
        k,
        repetition + 1,
        row["min inertia"],
        row["max inertia"],
        n_init,
        row["train accuracy"],
        row["test accuracy"],
        fit_time.seconds,
    )
    return {
        **row,
        "model": best,
        "inertias": inertias,
        "n_iters": n_iters,
        "mapping": mapping,
        "test_purity": metrics.purity(data.y_test, test_clusters),
        "seconds": fit_time.seconds,
    }


def summarise(rows: list[dict[str, Any]], ks: Sequence[int]) -> dict[int, dict[str, Any]]:
    """Per k: mean, min and max of the accuracies over repetitions, and the best fit's figures."""
    summary = {}
    for k in ks:
        mine = [row for row in rows if row["k"] == k]
        best = min(mine, key=lambda row: row["min inertia"])
        summary[k] = {
            **{
                f"{split}_accuracy_{stat}": fn([row[f"{split} accuracy"] for row in mine])
                for split in ("train", "test")
                for stat, fn in (("mean", np.mean), ("min", np.min), ("max", np.max))
            },
            "min_inertia": best["min inertia"],
            "min_inertia_per_image": best["min inertia / image"],
            "max_inertia_per_image": max(row["max inertia / image"] for row in mine),
            "best_repetition": best["repetition"],
            "best_train_accuracy": best["train accuracy"],
            "best_test_accuracy": best["test accuracy"],
            "best_mapping": runner.mapping_text(best["mapping"]),
        }
    return summary


def save_mean_images(rows: list[dict[str, Any]], data: runner.MnistSplits, setup: str, path: Path) -> bool:
    """The centres of the lowest-inertia ``--mean_image_k`` fit as images; False if no fit had that k."""
    candidates = [row for row in rows if row["k"] == FLAGS.mean_image_k]
    if not candidates:
        return False
    model = min(candidates, key=lambda row: row["min inertia"])["model"]
    plots.centre_images(
        model.cluster_centers_,
        model.labels_,
        data.y_train,
        runner.cluster_order(data.y_train, model.labels_, model.n_clusters),
        path,
        n_cols=min(6, FLAGS.mean_image_k) if FLAGS.mean_image_k > 10 else 5,
        suptitle=f"Mean image of each cluster, k={FLAGS.mean_image_k} (lowest-inertia fit; {setup})",
    )
    return True


def per_k(summary: dict[int, dict[str, Any]], key: str) -> list[float]:
    """``key`` of the summary at every k, in increasing k."""
    return [summary[k][key] for k in sorted(summary)]


def save_accuracy_chart(summary: dict[int, dict[str, Any]], setup: str, path: Path) -> None:
    """Train and test accuracy against k (band: min-max over repetitions), with the report's values."""
    seed_ks = [k for k in sorted(summary) if k in SEED_RESULTS]
    plots.line_chart(
        sorted(summary),
        {
            "train (mean of repetitions)": per_k(summary, "train_accuracy_mean"),
            "test (mean of repetitions)": per_k(summary, "test_accuracy_mean"),
        },
        path,
        title=f"Majority-mapping accuracy against k ({setup});\nband: min-max over repetitions",
        xlabel="number of clusters k",
        ylabel="accuracy (cluster → majority training digit)",
        errors={
            "train (mean of repetitions)": (per_k(summary, "train_accuracy_min"), per_k(summary, "train_accuracy_max")),
            "test (mean of repetitions)": (per_k(summary, "test_accuracy_min"), per_k(summary, "test_accuracy_max")),
        },
        references={
            "seed 003 train (42,000 Kaggle images)": (seed_ks, [SEED_RESULTS[k]["train"] for k in seed_ks]),
            "seed 003 test": (seed_ks, [SEED_RESULTS[k]["test"] for k in seed_ks]),
        },
    )


def save_inertia_chart(summary: dict[int, dict[str, Any]], setup: str, path: Path) -> None:
    """Lowest and highest final inertia per image against k, with the report's (per its 42,000 images)."""
    seed_ks = [k for k in sorted(summary) if k in SEED_RESULTS]
    plots.line_chart(
        sorted(summary),
        {
            "ours: lowest final inertia": per_k(summary, "min_inertia_per_image"),
            "ours: highest final inertia": per_k(summary, "max_inertia_per_image"),
        },
        path,
        title=f"Inertia per image over all fits of each k ({setup})",
        xlabel="number of clusters k",
        ylabel="inertia / number of images (pixels in [0, 1])",
        references={
            "seed 003 min (÷ 42,000)": (
                seed_ks,
                [min(r[1] for r in SEED_RESULTS[k]["runs"]) / SEED_N_TRAIN for k in seed_ks],
            ),
            "seed 003 max (÷ 42,000)": (
                seed_ks,
                [max(r[0] for r in SEED_RESULTS[k]["runs"]) / SEED_N_TRAIN for k in seed_ks],
            ),
        },
    )


def save_figures(
    rows: list[dict[str, Any]], summary: dict[int, dict[str, Any]], data: runner.MnistSplits, directory: Path
) -> dict[str, str]:
    """Write the mean images of the best ``--mean_image_k`` fit, accuracy and inertia against k."""
    setup = (
        f"{FLAGS.init}, best of {len(rows[0]['inertias'])} fits per repetition, {len(data.x_train):,} training images"
    )
    figures = {}
    mean_images = f"mean_images_k{FLAGS.mean_image_k}.png"
    if save_mean_images(rows, data, setup, directory / mean_images):
        figures["mean_images"] = mean_images
    figures["accuracy_vs_k"] = "accuracy_vs_k.png"
    save_accuracy_chart(summary, setup, directory / figures["accuracy_vs_k"])
    figures["inertia_per_image"] = "inertia_per_image.png"
    save_inertia_chart(summary, setup, directory / figures["inertia_per_image"])
    return figures


def seed_comparisons(summary: dict[int, dict[str, Any]], figures: dict[str, str]) -> list[dict[str, Any]]:
    """Our figures beside the report's, for every k both studied."""
    comparisons = []
    accuracy_definition = (
        "lowest-inertia fit of each repetition; cluster → majority training digit; test images mapped with the "
        "training map; mean over the repetitions"
    )
    data_note = (
        "The report used the 42,000-image Kaggle training set (and a held-out part of it as test set), "
        "we the 60,000 MNIST training and 10,000 test images."
    )
    for k in sorted(set(summary) & set(SEED_RESULTS)):
        ours = summary[k]
        for split in ("train", "test"):
            value = ours[f"{split}_accuracy_mean"]
            comparisons.append(
                runner.seed_comparison(
                    source=SOURCE,
                    quantity=f"k={k} {split} accuracy",
                    seed_value=SEED_RESULTS[k][split],
                    ours=value,
                    definition=accuracy_definition,
                    note=(
                        (f"{data_note} " if k == 10 else "")
                        + f"Our repetitions range {ours[f'{split}_accuracy_min']:.4f}-"
                        f"{ours[f'{split}_accuracy_max']:.4f}; difference {value - SEED_RESULTS[k][split]:+.4f}."
                    ),
                    headline=k == 10,
                    figures=[figures["accuracy_vs_k"]],
                )
            )
        seed_min = min(run[1] for run in SEED_RESULTS[k]["runs"]) / SEED_N_TRAIN
        seed_max = max(run[0] for run in SEED_RESULTS[k]["runs"]) / SEED_N_TRAIN
        comparisons.append(
            runner.seed_comparison(
                source=SOURCE,
                quantity=f"k={k} lowest inertia per image",
                seed_value=seed_min,
                ours=ours["min_inertia_per_image"],
                definition="lowest final inertia over all fits of this k, divided by the number of training images",
                note=(
                    (
                        f"Inertia is a sum over images, so only per-image values compare ({SEED_N_TRAIN:,} vs 60,000 "
                        "images). "
                        if k == 10
                        else ""
                    )
                    + f"The report's highest value ({seed_max:.2f} per image) is far above any converged fit of ours "
                    f"(highest {ours['max_inertia_per_image']:.2f})"
                    + ("; it may be an inertia before convergence (the report does not say)." if k == 10 else ".")
                ),
                headline=k == 10,
                figures=[figures["inertia_per_image"]],
            )
        )
    return comparisons


def summary_markdown(rows, summary, comparisons, n_train, n_test, n_init, repetitions, max_iter, command) -> str:
    per_k = [
        {
            "k": k,
            "train acc. (mean)": s["train_accuracy_mean"],
            "train min-max": f"{s['train_accuracy_min']:.4f}-{s['train_accuracy_max']:.4f}",
            "test acc. (mean)": s["test_accuracy_mean"],
            "test min-max": f"{s['test_accuracy_min']:.4f}-{s['test_accuracy_max']:.4f}",
            "lowest inertia / image": s["min_inertia_per_image"],
            "seed train": SEED_RESULTS.get(k, {}).get("train"),
            "seed test": SEED_RESULTS.get(k, {}).get("test"),
        }
        for k, s in summary.items()
    ]
    mappings = [
        {"k": k, "best repetition": s["best_repetition"], "cluster → digit": s["best_mapping"]}
        for k, s in summary.items()
    ]
    return "\n".join(
        [
            "# K-means with restarts: inertia, cluster → digit maps and accuracy (seed 003)",
            "",
            f"`{command}`",
            "",
            f"k in {sorted(summary)}; {repetitions} repetitions per k, each the best of {n_init} fits "
            f"(init={FLAGS.init}, max_iter={max_iter}, tol={FLAGS.tol:g}); fitted on {n_train:,} training images, "
            f"{n_test:,} test images assigned to the nearest centre and labelled with the training map."
            + (" **Quick mode: subsets only, not comparable with the seed.**" if FLAGS.quick else ""),
            "",
            "## Per repetition",
            "",
            runner.format_table([{c: row[c] for c in TABLE_COLUMNS} for row in rows], TABLE_COLUMNS, markdown=True),
            "",
            "## Per k",
            "",
            runner.format_table(per_k, markdown=True),
            "",
            "## Cluster → digit map of the lowest-inertia fit",
            "",
            runner.format_table(mappings, markdown=True),
            *runner.closing_sections(
                comparisons,
                [
                    f"- `mean_images_k{FLAGS.mean_image_k}.png`: the centres of the lowest-inertia k={FLAGS.mean_image_k} fit.",
                    "- `accuracy_vs_k.png`: train and test accuracy against k, with the report's values.",
                    "- `inertia_per_image.png`: lowest and highest final inertia per image against k, with the report's.",
                ],
            ),
        ]
    )


def write_outputs(
    rows: list[dict[str, Any]],
    summary: dict[int, dict[str, Any]],
    data: runner.MnistSplits,
    budgets: dict[str, int],
    figures: dict[str, str],
    timings: dict[str, float],
    directory: Path,
) -> None:
    """Print the repetitions; write metrics.json and summary.md.

    ``budgets`` holds the ``max_iter``, ``repetitions`` and ``n_init`` used (capped in ``--quick`` mode).
    """
    comparisons = seed_comparisons(summary, figures)
    print(runner.format_table([{c: row[c] for c in TABLE_COLUMNS[:-1]} for row in rows], TABLE_COLUMNS[:-1]))
    head = runner.record_head("restarts", "K-means restarts: inertia, cluster → digit maps, train/test accuracy")
    command = head["command"]
    runner.write_metrics(
        {
            **head,
            "data": {"n_train": len(data.x_train), "n_test": len(data.x_test), "quick": FLAGS.quick},
            "max_iter_used": budgets["max_iter"],
            "repetitions_used": budgets["repetitions"],
            "n_init_used": budgets["n_init"],
            "repetitions": [
                {
                    **{key: value for key, value in row.items() if key != "model"},
                    "mapping": row["mapping"],
                    "test_purity": row["test_purity"],
                }
                for row in rows
            ],
            "per_k": summary,
            "timings_s": timings,
            "seed_comparisons": comparisons,
            "figures": figures,
        },
        directory,
    )
    runner.write_text(
        "summary.md",
        summary_markdown(
            rows,
            summary,
            comparisons,
            len(data.x_train),
            len(data.x_test),
            budgets["n_init"],
            budgets["repetitions"],
            budgets["max_iter"],
            command,
        ),
        directory,
    )


def main(argv: Sequence[str]) -> None:
    del argv
    directory = runner.output_dir()
    ks = sorted({int(k) for k in FLAGS.ks})
    budgets = {
        "max_iter": runner.iteration_budget(FLAGS.max_iter, FLAGS.quick),
        "repetitions": min(FLAGS.repetitions, QUICK_REPETITIONS) if FLAGS.quick else FLAGS.repetitions,
        "n_init": runner.restart_budget(FLAGS.n_init, FLAGS.quick),
    }
    with runner.timed("total") as total_time:
        with runner.timed("load") as load_time:
            data = runner.load_data_from_flags()
        with runner.timed("fits") as fit_time:
            rows = [fit_repetition(data, k, r, budgets["n_init"]) for k in ks for r in range(budgets["repetitions"])]
        summary = summarise(rows, ks)
        with runner.timed("figures") as plot_time:
            figures = save_figures(rows, summary, data, directory)
    timings = {
        "load": load_time.seconds,
        "fits": fit_time.seconds,
        "figures": plot_time.seconds,
        "total": total_time.seconds,
    }
    write_outputs(rows, summary, data, budgets, figures, timings, directory)


if __name__ == "__main__":
    runner.set_defaults(output_dir="runs/restarts")
    runner.run(main)
