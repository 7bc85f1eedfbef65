"""K-means directly on the 784 raw pixels of MNIST: the "Clustering MNIST – naive" blog study.

Fits :class:`tfkmeans.KMeans` on the 60,000 training images, assigns the 10,000
test images to the learnt centres, and scores both splits against the true digits.
The blog "Clustering MNIST – naive" reports a purity of about 0.6 with
its unweighted mean-per-cluster definition, so both that and the usual
size-weighted purity are reported.

Differences from the blog, on purpose: the default ``--init`` is 'k-means++'
(the blog picks k random images, i.e. ``--init=random``), and the loop stops when
the centres move less than ``--tol`` (the blog: when they stop moving exactly,
i.e. ``--tol=0``).

Usage::

    python -m experiments.naive --k=10                 # writes runs/naive/
    python -m experiments.naive --init=random --tol=0  # closest to the blog
    python -m experiments.naive --quick                # seconds-long smoke test

Outputs in ``--output_dir``: ``metrics.json``, ``summary.md``, ``centroids.png``
(the k centres as images) and ``examples.png`` (random members of each cluster).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from absl import flags, logging

from experiments import plots, runner
from tfkmeans import KMeans

FLAGS = flags.FLAGS

runner.define_flags("k", "init", "n_init", "max_iter", "tol")
flags.DEFINE_enum(
    "distance",
    "matmul",
    ["matmul", "expand"],
    "'matmul': one matrix product per chunk (fast); 'expand': the blog's expand_dims/subtract/square form (slow).",
)
flags.DEFINE_integer("examples_per_cluster", 10, "Images per row of examples.png.", lower_bound=1)

SOURCE = runner.SEED_DOCUMENTS["naive"]
#: The blog's purity (its unweighted mean-per-cluster definition), "about 0.6".
SEED_PURITY = 0.6
SEED_SETUP = "K-means in TensorFlow on 60,000 x 784 pixels, k=10, k random images as initial centres, one run"

# Rows of the results table: (label, key in the per-split results).
TABLE_ROWS = (
    ("inertia", "inertia"),
    ("iterations", "n_iter"),
    ("seconds (fit / predict)", "seconds"),
    ("purity (size-weighted)", "purity"),
    ("mean cluster purity (blog)", "mean_cluster_purity"),
    ("majority accuracy", "majority_accuracy"),
    ("Hungarian accuracy", "hungarian_accuracy"),
    ("NMI", "nmi"),
    ("ARI", "ari"),
)


def fit_and_evaluate(data: runner.MnistSplits) -> tuple[KMeans, dict[str, dict[str, Any]]]:
    """Fit K-means on the training images and score the training and test assignments.

    Parameters
    ----------
    data : runner.MnistSplits
        Images and true digits.

    Returns
    -------
    model : KMeans
        The fitted estimator.
    results : dict
        ``{"train": {...}, "test": {...}}``: inertia, iterations (train only),
        seconds (fit for train, predict for test) and :func:`runner.evaluate`'s
        scores, plus the cluster id of every test image under ``"test_labels"``.
    """
    model = runner.estimator("kmeans", distance=FLAGS.distance)
    logging.info("Fitting %r on %d images", model, len(data.x_train))
    with runner.timed("fit") as fit_time:
        model.fit(data.x_train)
    if model.n_iter_ >= model.max_iter:
        logging.warning("Stopped at max_iter=%d before converging; inertia %.6g", model.max_iter, model.inertia_)
    else:
        logging.info("Converged after %d iterations, inertia %.6g", model.n_iter_, model.inertia_)
    with runner.timed("predict") as predict_time:
        test_labels = model.predict(data.x_test)
    # score() is minus the inertia of X under the fitted centres.
    test_inertia = -model.score(data.x_test)

    results = {
        "train": {
            "inertia": model.inertia_,
            "n_iter": model.n_iter_,
            "seconds": fit_time.seconds,
            **runner.evaluate(data.y_train, model.labels_),
        },
        "test": {
            "inertia": test_inertia,
            "n_iter": None,
            "seconds": predict_time.seconds,
            **runner.evaluate(data.y_test, test_labels),
        },
        "test_labels": test_labels,
    }
    return model, results


def results_table(results: dict[str, dict[str, Any]], *, markdown: bool = False) -> str:
    """The train/test table of :data:`TABLE_ROWS` (one row per quantity)."""
    rows = [{"": label, "train": results["train"][key], "test": results["test"][key]} for label, key in TABLE_ROWS]
    return runner.format_table(rows, markdown=markdown)


def comparison_paragraph(results: dict[str, dict[str, Any]]) -> str:
    """One paragraph setting our purities beside the seed's figure."""
    ours = results["train"]["mean_cluster_purity"]
    return (
        f"The blog reports a purity of about {SEED_PURITY} on the training images, "
        f"with purity defined as the unweighted mean over clusters of (majority-digit count / "
        f"cluster size). The same definition gives {ours:.4f} here "
        f"({ours - SEED_PURITY:+.2f}); the usual size-weighted purity is "
        f"{results['train']['purity']:.4f} (train) and {results['test']['purity']:.4f} (test). "
        f"Majority accuracy equals size-weighted purity by definition."
    )


def save_figures(model: KMeans, data: runner.MnistSplits, directory: Path) -> dict[str, str]:
    """Write ``centroids.png`` and ``examples.png`` (training images) and return their paths."""
    order = runner.cluster_order(data.y_train, model.labels_, FLAGS.k)
    setup = f"k={FLAGS.k}, init={FLAGS.init}, {len(data.x_train):,} training images"
    centroids = plots.centre_images(
        model.cluster_centers_,
        model.labels_,
        data.y_train,
        order,
        directory / "centroids.png",
        suptitle=f"K-means centres on raw MNIST pixels ({setup})",
    )
    examples = plots.cluster_examples(
        data.x_train,
        model.labels_,
        directory / "examples.png",
        FLAGS.examples_per_cluster,
        true_labels=data.y_train,
        order=order,
        seed=FLAGS.seed,
        title=f"Random training images of each cluster ({setup})",
    )
    return {"centroids": str(centroids), "examples": str(examples)}


def summary_markdown(results: dict[str, dict[str, Any]], n_train: int, n_test: int, command: str) -> str:
    """The summary.md text: setup, results table, comparison with the seed, figures."""
    return "\n".join(
        [
            "# Naive K-means on raw MNIST pixels",
            "",
            f"`{command}`",
            "",
            f"k={FLAGS.k}, init={FLAGS.init}, n_init={FLAGS.n_init}, max_iter={FLAGS.max_iter}, "
            f"tol={FLAGS.tol:g}, distance={FLAGS.distance}, seed={FLAGS.seed}; fitted on {n_train:,} "
            f"training images, test images ({n_test:,}) assigned to the nearest centre."
            + (" **Quick mode: subsets only, not comparable with the seed.**" if FLAGS.quick else ""),
            "",
            results_table(results, markdown=True),
            "",
            "## Comparison with the seed",
            "",
            comparison_paragraph(results),
            "",
            "## Figures",
            "",
            "- `centroids.png`: the centres as 28x28 images, ordered by majority digit.",
            "- `examples.png`: random training images of each cluster, one row per cluster.",
        ]
    )


def seed_comparisons(results: dict[str, dict[str, Any]], figures: dict[str, str]) -> list[dict[str, Any]]:
    """The blog's purity beside ours under its definition, for metrics.json and the report."""
    return [
        runner.seed_comparison(
            source=SOURCE,
            quantity="mean cluster purity (train)",
            seed_value=SEED_PURITY,
            ours=results["train"]["mean_cluster_purity"],
            definition="unweighted mean over clusters of (majority-digit count / cluster size), train images",
            note=f"Seed setup: {SEED_SETUP}.",
            approximate=True,
            figures=[Path(path).name for path in figures.values()],
        )
    ]


def write_outputs(
    model: KMeans,
    results: dict[str, Any],
    data: runner.MnistSplits,
    figures: dict[str, str],
    timings: dict[str, float],
    directory: Path,
) -> None:
    """Print the table and the comparison; write metrics.json and summary.md."""
    print(results_table(results))
    print()
    print(comparison_paragraph(results))
    head = runner.record_head("naive")
    command = head["command"]
    runner.write_metrics(
        {
            **head,
            "data": {"n_train": len(data.x_train), "n_test": len(data.x_test), "quick": FLAGS.quick},
            "max_iter_used": model.max_iter,
            "train": results["train"],
            "test": results["test"],
            "train_cluster_sizes": np.bincount(model.labels_, minlength=FLAGS.k),
            "test_cluster_sizes": np.bincount(results["test_labels"], minlength=FLAGS.k),
            "timings_s": timings,
            "seed_comparisons": seed_comparisons(results, figures),
            "figures": figures,
        },
        directory,
    )
    runner.write_text("summary.md", summary_markdown(results, len(data.x_train), len(data.x_test), command), directory)


def main(argv: Sequence[str]) -> None:
    del argv  # everything comes through flags
    directory = runner.output_dir()
    with runner.timed("total") as total_time:
        with runner.timed("load") as load_time:
            data = runner.load_data_from_flags()
        model, results = fit_and_evaluate(data)
        with runner.timed("figures") as plot_time:
            figures = save_figures(model, data, directory)
    timings = {
        "load": load_time.seconds,
        "fit": results["train"]["seconds"],
        "predict": results["test"]["seconds"],
        "figures": plot_time.seconds,
        "total": total_time.seconds,
    }
    write_outputs(model, results, data, figures, timings, directory)


if __name__ == "__main__":
    runner.set_defaults(output_dir="runs/naive")
    runner.run(main)
