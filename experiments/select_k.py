"""Choosing k: the elbow of the inertia curve (seed 002) and the Calinski-Harabasz index (seed 000).

The blog "K-Means clustering of MNIST dataset" plots
the within-cluster sum of squares (WCSS = inertia) for k = 1..14 and reads the
elbow at k = 10 by eye -- on 10-d features of a trained LeNet, not on pixels.
The paper "Cluster analysis of MNIST data set" (Pei & Ye 2022) computes the
Calinski-Harabasz (CH) index for k = 2..10 with K-means and MiniBatchKMeans and
finds it falling with k: best at k = 2 (K-means) and at 2 or 3 (MiniBatchKMeans).

This study fits :class:`tfkmeans.KMeans` and :class:`tfkmeans.MiniBatchKMeans` on
the 60,000 training images (raw pixels) for every k in both ranges, records the
inertia and, for k >= 2, :func:`tfkmeans.metrics.calinski_harabasz`, and reports
the k each criterion picks:

- **elbow** (:func:`knee_point`): the "maximum distance to the chord" rule, a
  one-line form of Kneedle (Satopaa et al., 2011). Both axes are scaled to
  [0, 1], the chord joins the first and last points of the curve, and the knee is
  the point farthest from that chord. It depends on the range of k: a longer tail
  moves the chord and can move the knee.
- **CH**: the k with the largest index.

Usage::

    python -m experiments.select_k                 # writes runs/select_k/
    python -m experiments.select_k --algorithms=kmeans --k_max=20
    python -m experiments.select_k --quick         # smoke test

Outputs in ``--output_dir``: ``metrics.json``, ``summary.md``, ``elbow.png``
and ``calinski_harabasz.png``.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
from absl import flags, logging

from experiments import plots, runner
from experiments.plots import knee_point
from tfkmeans import metrics

FLAGS = flags.FLAGS

flags.DEFINE_integer("k_min", 1, "Smallest k of the elbow curve.", lower_bound=1)
flags.DEFINE_integer("k_max", 14, "Largest k of the elbow curve.", lower_bound=2)
flags.DEFINE_integer("ch_k_min", 2, "Smallest k of the Calinski-Harabasz sweep.", lower_bound=2)
flags.DEFINE_integer("ch_k_max", 10, "Largest k of the Calinski-Harabasz sweep.", lower_bound=2)
runner.define_flags("algorithms", "n_init", "max_iter", "minibatch_max_iter", "batch_size")

SOURCE_ELBOW = runner.SEED_DOCUMENTS["lenet"]
SOURCE_CH = runner.SEED_DOCUMENTS["paper"]
SEED_ELBOW_K = 10
#: The paper: K-means best at 2 (CH falls with k); MiniBatchKMeans "2 or 3" (and "6 is also better").
SEED_CH_K = {"kmeans": 2, "minibatch": "2 or 3"}


class Choices(NamedTuple):
    """The k each criterion picks, per estimator, from the sweeps."""

    elbow_ks: list[int]
    ch_ks: list[int]
    #: The knee of the inertia curve over ``elbow_ks``.
    elbow: dict[str, int]
    #: The CH index at every k of ``ch_ks``.
    ch_values: dict[str, list[float]]
    #: The k of ``ch_ks`` with the largest CH index.
    ch_best: dict[str, int]
    #: Whether the CH index falls at every step of ``ch_ks``.
    ch_falling: dict[str, bool]


def calinski_harabasz(x: np.ndarray, labels: np.ndarray) -> float:
    """CH index of a clustering; NaN when it is undefined (one cluster, or one per sample)."""
    distinct = np.unique(labels).size
    if distinct < 2 or distinct >= len(labels):
        return float("nan")
    return metrics.calinski_harabasz(x, labels)


def sweep(algorithm: str, data: runner.MnistSplits, ks: Sequence[int], ch_ks: set[int]) -> list[dict[str, Any]]:
    """Fit ``algorithm`` for every k; inertia, CH (for k in ``ch_ks``), accuracy and time per k."""
    rows = []
    for k in ks:
        model = runner.estimator(algorithm, k)
        with runner.timed() as fit_time:
            model.fit(data.x_train)
        with runner.timed() as ch_time:
            ch = calinski_harabasz(data.x_train, model.labels_) if k in ch_ks else None
        rows.append(
            {
                "k": k,
                "inertia": model.inertia_,
                "inertia_per_image": model.inertia_ / len(data.x_train),
                "calinski_harabasz": ch,
                "n_iter": model.n_iter_,
                "majority_accuracy": metrics.majority_accuracy(data.y_train, model.labels_),
                "fit_seconds": fit_time.seconds,
                "ch_seconds": ch_time.seconds if ch is not None else None,
            }
        )
        logging.info(
            "%s k=%d: inertia %.6g, CH %s, %.1f s",
            algorithm,
            k,
            model.inertia_,
            "-" if ch is None else f"{ch:.1f}",
            fit_time.seconds,
        )
    return rows


def column(rows: list[dict[str, Any]], key: str, ks: Sequence[int]) -> list[Any]:
    """``key`` of the sweep's rows at every k of ``ks``."""
    by_k = {row["k"]: row for row in rows}
    return [by_k[k][key] for k in ks]


def choose(sweeps: dict[str, list[dict[str, Any]]], elbow_ks: list[int], ch_ks: list[int]) -> Choices:
    """The knee of each inertia curve and the k of the largest CH index."""
    ch_values = {a: column(rows, "calinski_harabasz", ch_ks) for a, rows in sweeps.items()}
    return Choices(
        elbow_ks,
        ch_ks,
        elbow={a: knee_point(elbow_ks, column(rows, "inertia", elbow_ks)) for a, rows in sweeps.items()},
        ch_values=ch_values,
        ch_best={a: ch_ks[int(np.nanargmax(values))] for a, values in ch_values.items()},
        ch_falling={a: bool(np.all(np.diff(values) < 0)) for a, values in ch_values.items()},
    )


def save_figures(
    sweeps: dict[str, list[dict[str, Any]]], chosen: Choices, n_train: int, directory: Path
) -> dict[str, str]:
    """Write elbow.png and calinski_harabasz.png; return their file names."""
    names = {a: runner.ALGORITHM_TITLES[a] for a in sweeps}
    elbow_ks, ch_ks = chosen.elbow_ks, chosen.ch_ks
    plots.line_chart(
        elbow_ks,
        {names[a]: column(rows, "inertia_per_image", elbow_ks) for a, rows in sweeps.items()},
        directory / "elbow.png",
        title=f"Elbow method: inertia (WCSS) per image against k, {n_train:,} raw-pixel training images\n"
        f"circled: the knee (point farthest from the chord k={elbow_ks[0]}..{elbow_ks[-1]}, "
        "axes scaled to [0, 1])",
        xlabel="number of clusters k",
        ylabel="inertia / number of images",
        marked={names[a]: knee for a, knee in chosen.elbow.items()},
    )
    plots.line_chart(
        ch_ks,
        {names[a]: values for a, values in chosen.ch_values.items()},
        directory / "calinski_harabasz.png",
        title=f"Calinski-Harabasz index against k, {n_train:,} raw-pixel training images\n"
        "(higher is better; circled: the largest)",
        xlabel="number of clusters k",
        ylabel="Calinski-Harabasz index",
        marked={names[a]: best for a, best in chosen.ch_best.items()},
    )
    return {"elbow": "elbow.png", "calinski_harabasz": "calinski_harabasz.png"}


def seed_comparisons(chosen: Choices, figures: dict[str, str]) -> list[dict[str, Any]]:
    """Per estimator: the blog's elbow at k=10 and the paper's best CH k beside ours."""
    elbow_ks, ch_ks = chosen.elbow_ks, chosen.ch_ks
    comparisons = []
    for a, elbow in chosen.elbow.items():
        name, values = runner.ALGORITHM_TITLES[a], chosen.ch_values[a]
        comparisons.append(
            runner.seed_comparison(
                source=SOURCE_ELBOW,
                quantity=f"k at the elbow of inertia, k={elbow_ks[0]}..{elbow_ks[-1]} ({name})",
                seed_value=SEED_ELBOW_K,
                ours=elbow,
                format="int",
                definition="knee = point farthest from the chord of the inertia curve, both axes scaled to [0, 1]",
                note=(
                    "The blog read its elbow by eye on 10-d LeNet features, where the ten digits are well separated; "
                    + (
                        "on raw pixels the knee rule agrees."
                        if elbow == SEED_ELBOW_K
                        else f"on raw pixels the inertia curve bends smoothly with no sharp elbow, and the knee rule picks "
                        f"k={elbow}."
                    )
                ),
                headline=a == "kmeans",
                figures=[figures["elbow"]],
            )
        )
        comparisons.append(
            runner.seed_comparison(
                source=SOURCE_CH,
                quantity=f"k with the largest Calinski-Harabasz index, k={ch_ks[0]}..{ch_ks[-1]} ({name})",
                seed_value=SEED_CH_K[a],
                ours=chosen.ch_best[a],
                format="int",
                definition="argmax over k of tfkmeans.metrics.calinski_harabasz on the training images",
                note=(
                    f"Our index {'falls at every step' if chosen.ch_falling[a] else 'does not fall at every step'} from "
                    f"k={ch_ks[0]} to {ch_ks[-1]} ({values[0]:,.0f} to {values[-1]:,.0f}); "
                    + (
                        "the paper's K-means curve fell with k too, best at 2."
                        if a == "kmeans"
                        else "the paper found MiniBatchKMeans best at 2 or 3 clusters, with 6 also good. Mini-batch fits "
                        "vary from seed to seed, so the argmax of one sweep is noisy."
                    )
                    + " Neither seed nor we find k=10, the number of digits: on raw pixels CH prefers few clusters."
                ),
                figures=[figures["calinski_harabasz"]],
            )
        )
    return comparisons


#: Columns of the sweep table per estimator: (header, key of the sweep's rows).
SWEEP_COLUMNS = (("inertia/image", "inertia_per_image"), ("CH", "calinski_harabasz"), ("accuracy", "majority_accuracy"))


def sweep_table(sweeps: dict[str, list[dict[str, Any]]], ks: Sequence[int]) -> list[dict[str, Any]]:
    """One row per k: inertia per image, CH index and accuracy of every estimator."""
    names = {a: runner.ALGORITHM_TITLES[a] for a in sweeps}
    return [
        {
            "k": k,
            **{
                f"{names[a]} {header}": column(rows, key, [k])[0]
                for header, key in SWEEP_COLUMNS
                for a, rows in sweeps.items()
            },
        }
        for k in ks
    ]


def summary_markdown(
    table: list[dict[str, Any]], chosen: Choices, comparisons: list[dict[str, Any]], n_train: int, command: str
) -> str:
    """The summary.md text: setup, the sweep, the k each criterion picks, comparison with the seeds, figures."""
    names = [runner.ALGORITHM_TITLES[a] for a in chosen.elbow]
    elbow_ks, ch_ks = chosen.elbow_ks, chosen.ch_ks
    return "\n".join(
        [
            "# Choosing k: elbow and Calinski-Harabasz (seeds 002 and 000)",
            "",
            f"`{command}`",
            "",
            f"Estimators fitted on {n_train:,} training images (raw pixels) for k = {table[0]['k']}..{table[-1]['k']}, "
            f"seed {FLAGS.seed}; K-means n_init={FLAGS.n_init}, MiniBatchKMeans batch_size={FLAGS.batch_size}."
            + (" **Quick mode: subsets only.**" if FLAGS.quick else ""),
            "",
            runner.format_table(table, markdown=True),
            "",
            "| criterion | " + " | ".join(names) + " |",
            "| --- | " + " | ".join("---:" for _ in names) + " |",
            f"| elbow (knee of inertia, k={elbow_ks[0]}..{elbow_ks[-1]}) | "
            + " | ".join(str(k) for k in chosen.elbow.values())
            + " |",
            f"| largest CH (k={ch_ks[0]}..{ch_ks[-1]}) | " + " | ".join(str(k) for k in chosen.ch_best.values()) + " |",
            "",
            "The knee rule: scale k and inertia to [0, 1], draw the chord from the first to the last point, take "
            "the point farthest from it (see `knee_point`).",
            "",
            "## Comparison with the seeds",
            "",
            *runner.comparison_lines(comparisons),
            "",
            "## Figures",
            "",
            "- `elbow.png`: inertia per image against k, knee circled.",
            "- `calinski_harabasz.png`: CH index against k, maximum circled.",
        ]
    )


def write_outputs(
    sweeps: dict[str, list[dict[str, Any]]],
    chosen: Choices,
    n_train: int,
    figures: dict[str, str],
    timings: dict[str, float],
    directory: Path,
) -> None:
    """Print the sweep and the choices; write metrics.json and summary.md."""
    comparisons = seed_comparisons(chosen, figures)
    table = sweep_table(sweeps, sorted(set(chosen.elbow_ks) | set(chosen.ch_ks)))
    print(runner.format_table(table))
    print("elbow:", chosen.elbow, " CH argmax:", chosen.ch_best)
    head = runner.record_head("select_k", "Choosing k: elbow of the inertia curve and the Calinski-Harabasz index")
    command = head["command"]
    runner.write_metrics(
        {
            **head,
            "data": {"n_train": n_train, "quick": FLAGS.quick},
            "sweeps": sweeps,
            "elbow_k": chosen.elbow,
            "calinski_harabasz_k": chosen.ch_best,
            "calinski_harabasz_falling": chosen.ch_falling,
            "timings_s": timings,
            "seed_comparisons": comparisons,
            "figures": figures,
        },
        directory,
    )
    runner.write_text("summary.md", summary_markdown(table, chosen, comparisons, n_train, command), directory)


def main(argv: Sequence[str]) -> None:
    del argv
    directory = runner.output_dir()
    algorithms = runner.algorithms_flag()
    elbow_ks = list(range(FLAGS.k_min, FLAGS.k_max + 1))
    ch_ks = list(range(FLAGS.ch_k_min, FLAGS.ch_k_max + 1))
    with runner.timed("total") as total_time:
        with runner.timed("load") as load_time:
            data = runner.load_data_from_flags()
        with runner.timed("fits") as fit_time:
            sweeps = {a: sweep(a, data, sorted(set(elbow_ks) | set(ch_ks)), set(ch_ks)) for a in algorithms}
        chosen = choose(sweeps, elbow_ks, ch_ks)
        with runner.timed("figures") as plot_time:
            figures = save_figures(sweeps, chosen, len(data.x_train), directory)
    timings = {
        "load": load_time.seconds,
        "fits": fit_time.seconds,
        "figures": plot_time.seconds,
        "total": total_time.seconds,
    }
    write_outputs(sweeps, chosen, len(data.x_train), figures, timings, directory)


if __name__ == "__main__":
    runner.set_defaults(output_dir="runs/select_k")
    runner.run(main)
