"""t-SNE pictures and per-digit correct counts of K-means and MiniBatchKMeans (seed 000).

The paper "Cluster analysis of MNIST data set" (Pei & Ye 2022) clusters the MNIST
training matrix with K-means and MiniBatchKMeans (k=10), embeds 1,000 random
training images in 2-D with t-SNE to draw them coloured by true digit and by
cluster, counts per digit the images of the 1,000 that are "correctly classified"
(their cluster's majority digit is theirs) and reports accuracies of 83.33 %
(K-means) and 87.67 % (MiniBatchKMeans).

This study does the same with :class:`tfkmeans.KMeans` and
:class:`tfkmeans.MiniBatchKMeans` fitted on all 60,000 training images and
scikit-learn's :class:`~sklearn.manifold.TSNE` for the embedding (only for the
picture; the clustering never sees it). A cluster's digit is its majority digit
among all 60,000 training images; accuracy is reported on the 1,000 drawn images
(the paper's count) and on all 60,000 (= purity).

The paper describes its input as a "60000 x 785" matrix, "one of which is the
real value of the image": the label as a 785th column next to 784 pixels in
[0, 1]. ``--label_column_check`` (on by default) also fits both estimators on that
matrix; it is *not* a valid clustering (the answer is in the input) but it tells
whether the paper's numbers come from it. Because a single fit's accuracy depends
on its initialisation (local optima), both inputs are fitted with ``--spread_seeds``
seeds and the spread is reported.

Usage::

    python -m experiments.tsne                     # writes runs/tsne/
    python -m experiments.tsne --n_samples=2000 --perplexity=50
    python -m experiments.tsne --quick             # smoke test (300 samples, 2 seeds)

Needs scikit-learn (``pip install -e '.[experiments]'``).

Outputs in ``--output_dir``: ``metrics.json``, ``summary.md``, ``tsne.png``
(true digits, K-means clusters, MiniBatchKMeans clusters) and
``correct_per_digit.png`` and ``accuracy_spread.png``.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
from absl import flags, logging

from experiments import plots, runner
from tfkmeans import metrics

FLAGS = flags.FLAGS

runner.define_flags("k", "algorithms", "max_iter", "minibatch_max_iter", "batch_size")
flags.DEFINE_integer("n_samples", 1000, "Random training images embedded with t-SNE and counted.", lower_bound=10)
flags.DEFINE_float("perplexity", 30.0, "t-SNE perplexity (scikit-learn's default).")
flags.DEFINE_bool(
    "label_column_check", True, "Also fit on the paper's 785-column matrix (pixels + the label as a column)."
)
flags.DEFINE_integer(
    "spread_seeds",
    20,
    "Initialisations (random_state = seed, seed+1, ...) over which the accuracies' spread is "
    "measured, on pixels and with the label column.",
    lower_bound=1,
)

#: In --quick mode at most this many images are embedded and this many seeds tried.
QUICK_N_SAMPLES = 300
QUICK_SPREAD_SEEDS = 2

SOURCE = runner.SEED_DOCUMENTS["paper"]
SEED_ACCURACY = {"kmeans": 0.8333, "minibatch": 0.8767}
#: The paper's accuracy within this of the label-column range counts as consistent with it
#: (the binomial standard error of an accuracy near 0.85 on 1,000 images is about 0.011).
LEAK_MATCH = 0.02


class Fits(NamedTuple):
    """Every fit of the study, per estimator (see :func:`fit`)."""

    #: The fit with ``--seed`` on raw pixels.
    results: dict[str, dict[str, Any]]
    #: ``{"pixels": [...], "label_column": [...]}``: one fit per seed of ``seeds``.
    spread: dict[str, dict[str, list[dict[str, Any]]]]
    #: The fit with ``--seed`` on pixels plus the label column (with ``--label_column_check``).
    leaked: dict[str, dict[str, Any]]
    seeds: list[int]


def fit(algorithm: str, x: np.ndarray, y: np.ndarray, sample: np.ndarray, seed: int) -> dict[str, Any]:
    """Fit one estimator on ``x`` (``random_state=seed``) and score it on all rows and on the ``sample`` rows.

    Returns
    -------
    dict
        ``labels`` (every row's cluster), ``mapping`` (cluster -> majority digit
        over all rows), ``accuracy_all``, ``accuracy_sample`` (the mapping applied
        to the sample), ``purity_sample`` (mapping learnt on the sample alone),
        ``correct_per_digit`` / ``sample_per_digit`` and ``seconds``.
    """
    model = runner.estimator(algorithm, random_state=seed)
    with runner.timed(f"fit {algorithm} on {x.shape[1]} columns, seed {seed}") as fit_time:
        model.fit(x)
    labels = model.labels_
    mapping = metrics.majority_labels(y, labels)
    correct = mapping[labels[sample]] == y[sample]
    n_digits = int(y.max()) + 1
    return {
        "seed": seed,
        "labels": labels,
        "mapping": mapping,
        "inertia": model.inertia_,
        "n_iter": model.n_iter_,
        "accuracy_all": metrics.majority_accuracy(y, labels),
        "accuracy_sample": float(correct.mean()),
        "purity_sample": metrics.purity(y[sample], labels[sample]),
        "correct_per_digit": np.bincount(y[sample][correct], minlength=n_digits),
        "sample_per_digit": np.bincount(y[sample], minlength=n_digits),
        "hungarian_accuracy_all": metrics.hungarian_accuracy(y, labels),
        "seconds": fit_time.seconds,
    }


def draw_sample(n_rows: int) -> np.ndarray:
    """The sorted indices of the ``--n_samples`` random training images that are embedded and counted."""
    n_samples = min(FLAGS.n_samples, QUICK_N_SAMPLES if FLAGS.quick else FLAGS.n_samples, n_rows)
    return np.sort(np.random.default_rng(FLAGS.seed).choice(n_rows, size=n_samples, replace=False))


def fit_all(algorithms: Sequence[str], x: np.ndarray, y: np.ndarray, sample: np.ndarray) -> Fits:
    """Every estimator with ``--seed``, then over ``--spread_seeds`` seeds on pixels and with the label column.

    The accuracy of one fit depends on its initialisation (local optima): the
    spread over seeds shows how much.
    """
    results = {a: fit(a, x, y, sample, FLAGS.seed) for a in algorithms}
    n_seeds = min(FLAGS.spread_seeds, QUICK_SPREAD_SEEDS) if FLAGS.quick else FLAGS.spread_seeds
    seeds = [FLAGS.seed + i for i in range(n_seeds)]
    spread = {a: {"pixels": [results[a]] + [fit(a, x, y, sample, s) for s in seeds[1:]]} for a in algorithms}
    leaked = {}
    if FLAGS.label_column_check:
        with_label = np.hstack([x, y[:, None].astype(x.dtype)])
        for a in algorithms:
            spread[a]["label_column"] = [fit(a, with_label, y, sample, s) for s in seeds]
            leaked[a] = spread[a]["label_column"][0]
    return Fits(results, spread, leaked, seeds)


def embed(images: np.ndarray, perplexity: float, seed: int) -> np.ndarray:
    """2-D t-SNE embedding of ``images`` with scikit-learn (PCA initialisation)."""
    try:
        from sklearn.manifold import TSNE
    except ImportError as error:  # pragma: no cover - depends on the environment
        raise SystemExit("experiments.tsne needs scikit-learn for t-SNE: pip install -e '.[experiments]'") from error
    perplexity = min(perplexity, (len(images) - 1) / 3)  # TSNE requires perplexity < n_samples
    return TSNE(
        n_components=2, perplexity=perplexity, init="pca", learning_rate="auto", random_state=seed
    ).fit_transform(images)


def cluster_colouring(title: str, labels: np.ndarray, mapping: np.ndarray) -> plots.Colouring:
    """Panel colouring of clusters: each in its majority digit's colour, named ``c<id>→<digit>``."""
    present = sorted({int(c) for c in labels}, key=lambda c: (mapping[c], c))
    return plots.Colouring(
        title,
        labels,
        {c: f"c{c}→{mapping[c]}" for c in present},
        {c: int(mapping[c]) for c in present},
    )


def names_of(algorithms: Sequence[str]) -> dict[str, str]:
    """The estimators' titles, by short name."""
    return {a: runner.ALGORITHM_TITLES[a] for a in algorithms}


def save_tsne(embedding: np.ndarray, fits: Fits, y: np.ndarray, sample: np.ndarray, path: Path) -> None:
    """tsne.png: the embedding coloured by true digit and by each estimator's clusters."""
    names = names_of(list(fits.results))
    digits = list(range(int(y.max()) + 1))
    colourings = [
        plots.Colouring(f"true digit ({len(sample):,} random training images)", y[sample], {d: str(d) for d in digits})
    ]
    colourings += [
        cluster_colouring(
            f"{names[a]} clusters (k={FLAGS.k}), coloured by majority digit\n"
            f"accuracy on these images {r['accuracy_sample']:.1%}",
            r["labels"][sample],
            r["mapping"],
        )
        for a, r in fits.results.items()
    ]
    plots.embedding_panels(
        embedding,
        colourings,
        path,
        suptitle=f"t-SNE of {len(sample):,} random training images; clusters fitted on all {len(y):,} raw-pixel images",
    )


def save_correct_per_digit(fits: Fits, y: np.ndarray, sample: np.ndarray, path: Path) -> None:
    """correct_per_digit.png: correctly clustered images per digit, one bar per estimator."""
    names = names_of(list(fits.results))
    digits = list(range(int(y.max()) + 1))
    plots.grouped_bars(
        [str(d) for d in digits],
        {f"{names[a]} ({r['accuracy_sample']:.1%})": r["correct_per_digit"].tolist() for a, r in fits.results.items()},
        path,
        totals=np.bincount(y[sample], minlength=len(digits)).tolist(),
        totals_label="images of the digit in the sample",
        title=f"Correctly clustered images per digit among {len(sample):,} random training images\n"
        f"(correct: the image's cluster has it as majority digit over all {len(y):,}; k={FLAGS.k})",
        xlabel="true digit",
        ylabel="images",
    )


def save_accuracy_spread(fits: Fits, n_samples: int, path: Path) -> None:
    """accuracy_spread.png: the accuracy of every initialisation, beside the paper's line per estimator."""
    names = names_of(list(fits.results))
    groups, colours = {}, {}
    for index, a in enumerate(fits.results):  # one colour per estimator: its dots and the paper's line
        for key, label in (("pixels", "raw pixels"), ("label_column", "+ label column")):
            if key in fits.spread[a]:
                groups[f"{names[a]}\n{label}"] = [100 * r["accuracy_sample"] for r in fits.spread[a][key]]
                colours[f"{names[a]}\n{label}"] = index
        colours[f"paper: {names[a]} {100 * SEED_ACCURACY[a]:.2f} %"] = index
    plots.strip_chart(
        groups,
        path,
        title=f"Accuracy on the {n_samples:,} drawn images, one dot per initialisation "
        f"({len(fits.seeds)} seeds, k={FLAGS.k})",
        ylabel="accuracy (%), cluster → majority digit",
        references={f"paper: {names[a]} {100 * SEED_ACCURACY[a]:.2f} %": 100 * SEED_ACCURACY[a] for a in fits.results},
        colours=colours,
    )


def save_figures(
    embedding: np.ndarray, fits: Fits, y: np.ndarray, sample: np.ndarray, directory: Path
) -> dict[str, str]:
    """Write the three figures; return their file names."""
    figures = {
        "tsne": "tsne.png",
        "correct_per_digit": "correct_per_digit.png",
        "accuracy_spread": "accuracy_spread.png",
    }
    save_tsne(embedding, fits, y, sample, directory / figures["tsne"])
    save_correct_per_digit(fits, y, sample, directory / figures["correct_per_digit"])
    save_accuracy_spread(fits, len(sample), directory / figures["accuracy_spread"])
    return figures


def span(runs: list[dict[str, Any]], key: str) -> str:
    """The range of ``key`` over ``runs`` as percentages, ``"58.1%-60.2%"``."""
    values = [run[key] for run in runs]
    return f"{min(values):.1%}-{max(values):.1%}"


def leak_comparison(
    a: str, runs: list[dict[str, Any]], n_samples: int, n_train: int, figures: dict[str, str]
) -> dict[str, Any]:
    """The paper's accuracy beside our fits on the 785-column matrix (pixels and the label)."""
    name = runner.ALGORITHM_TITLES[a]
    values = [run["accuracy_sample"] for run in runs]
    inside = min(values) - LEAK_MATCH <= SEED_ACCURACY[a] <= max(values) + LEAK_MATCH
    return runner.seed_comparison(
        source=SOURCE,
        quantity=f"{name} accuracy with the label as 785th column ({n_samples:,} images, median of "
        f"{len(runs)} initialisations)",
        seed_value=SEED_ACCURACY[a],
        ours=float(np.median(values)),
        format="percent",
        definition=(
            'as above, but fitted on [784 pixels in [0, 1], digit label], the paper\'s "60000 x 785" '
            'matrix "one of which is the real value of the image": not a valid clustering, the labels '
            "leak into the fit"
        ),
        note=(
            f"Range over initialisations {span(runs, 'accuracy_sample')} ({span(runs, 'accuracy_all')} on "
            f"all {n_train:,}): the fit lands in different local optima. "
            + (
                f"The paper's {SEED_ACCURACY[a]:.2%} lies within (or within {LEAK_MATCH:.0%} of) that range, "
                "while no raw-pixel fit comes near it: its figure most likely comes from a clustering that "
                "saw the labels."
                if inside
                else f"The paper's {SEED_ACCURACY[a]:.2%} lies outside that range; the label column explains "
                "most of the gap to raw pixels but not all of it (the paper gives no seed or settings)."
            )
        ),
        headline=True,
        figures=[figures["accuracy_spread"]],
    )


def seed_comparisons(fits: Fits, n_samples: int, n_train: int, figures: dict[str, str]) -> list[dict[str, Any]]:
    """Per estimator: the paper's accuracy beside ours on its sample, on all images and with the label column."""
    comparisons = []
    for a, ours in fits.results.items():
        name = runner.ALGORITHM_TITLES[a]
        pixels = fits.spread[a]["pixels"]
        note = (
            f"Raw pixels give {span(pixels, 'accuracy_sample')} on our {n_samples:,} images over {len(pixels)} "
            f"initialisations ({span(pixels, 'accuracy_all')} on all {n_train:,}), far below the paper"
            + ("; the label-column row shows an input that comes much closer." if a in fits.leaked else ".")
        )
        comparisons.append(
            runner.seed_comparison(
                source=SOURCE,
                quantity=f"{name} accuracy, k={FLAGS.k}, {n_samples:,} random training images",
                seed_value=SEED_ACCURACY[a],
                ours=ours["accuracy_sample"],
                format="percent",
                definition=(
                    f"fit on all {n_train:,} training images (raw pixels in [0, 1], random_state={FLAGS.seed}); a "
                    f"cluster's digit is its majority digit over all of them; share of the {n_samples:,} drawn images "
                    "whose cluster's digit is theirs"
                ),
                note=note,
                figures=[figures["correct_per_digit"], figures["tsne"], figures["accuracy_spread"]],
            )
        )
        comparisons.append(
            runner.seed_comparison(
                source=SOURCE,
                quantity=f"{name} accuracy, k={FLAGS.k}, all {n_train:,} training images",
                seed_value=SEED_ACCURACY[a],
                ours=ours["accuracy_all"],
                format="percent",
                definition="majority-mapping accuracy (= purity) over all training images",
                note=f"The paper counts only its 1,000 drawn images; on all {n_train:,} there is no sampling noise.",
                headline=False,
                figures=[figures["correct_per_digit"]],
            )
        )
        if a in fits.leaked:
            comparisons.append(leak_comparison(a, fits.spread[a]["label_column"], n_samples, n_train, figures))
    return comparisons


def results_rows(fits: Fits, n_samples: int) -> list[dict[str, Any]]:
    """One row per estimator and input (pixels, then with the label column): accuracies, iterations, time."""
    return [
        {
            "estimator": runner.ALGORITHM_TITLES[a] + (" + label column" if leak else ""),
            f"accuracy ({n_samples:,} sample)": r["accuracy_sample"],
            "accuracy (all)": r["accuracy_all"],
            "seed": SEED_ACCURACY[a],
            "Hungarian (all)": r["hungarian_accuracy_all"],
            "iterations": r["n_iter"],
            "fit s": r["seconds"],
        }
        for leak, group in ((False, fits.results), (True, fits.leaked))
        for a, r in group.items()
    ]


def summary_markdown(fits: Fits, comparisons: list[dict[str, Any]], y: np.ndarray, n_samples: int, command: str) -> str:
    """The summary.md text: setup, results, spread over seeds, per-digit counts, comparison, figures."""
    names = names_of(list(fits.results))
    first = fits.results[next(iter(fits.results))]
    per_digit = [
        {
            "digit": d,
            "in sample": int(first["sample_per_digit"][d]),
            **{f"{names[a]} correct": int(r["correct_per_digit"][d]) for a, r in fits.results.items()},
        }
        for d in range(int(y.max()) + 1)
    ]
    seeds = fits.seeds
    return "\n".join(
        [
            "# t-SNE and per-digit correct counts, K-means and MiniBatchKMeans (seed 000)",
            "",
            f"`{command}`",
            "",
            f"k={FLAGS.k}; both estimators fitted on all {len(y):,} training images (raw pixels), seed {FLAGS.seed}; "
            f"{n_samples:,} random training images embedded with scikit-learn's t-SNE (perplexity "
            f"{FLAGS.perplexity:g}, PCA init)." + (" **Quick mode: subsets only.**" if FLAGS.quick else ""),
            "",
            runner.format_table(results_rows(fits, n_samples), markdown=True),
            "",
            f"## Spread over {len(seeds)} initialisations (random_state {seeds[0]}..{seeds[-1]})",
            "",
            runner.format_table(
                [
                    {
                        "estimator": names[a],
                        "input": inp,
                        "seed": run["seed"],
                        f"accuracy ({n_samples:,} sample)": run["accuracy_sample"],
                        "accuracy (all)": run["accuracy_all"],
                        "inertia": run["inertia"],
                    }
                    for a, by_input in fits.spread.items()
                    for inp, runs in by_input.items()
                    for run in runs
                ],
                markdown=True,
            ),
            "",
            "## Correctly clustered images per digit",
            "",
            runner.format_table(per_digit, markdown=True),
            *runner.closing_sections(
                comparisons,
                [
                    "- `tsne.png`: the embedding coloured by true digit and by each estimator's clusters.",
                    "- `correct_per_digit.png`: correctly clustered images per digit, both estimators.",
                    "- `accuracy_spread.png`: accuracy of every initialisation, raw pixels and with the label column.",
                ],
            ),
        ]
    )


def write_outputs(
    fits: Fits, y: np.ndarray, sample: np.ndarray, figures: dict[str, str], timings: dict[str, float], directory: Path
) -> None:
    """Print the results table; write metrics.json and summary.md."""
    n_samples = len(sample)
    comparisons = seed_comparisons(fits, n_samples, len(y), figures)
    print(runner.format_table(results_rows(fits, n_samples)))
    head = runner.record_head("tsne", "t-SNE pictures and per-digit correct counts, K-means and MiniBatchKMeans")
    command = head["command"]

    def jsonable(result: dict[str, Any]) -> dict[str, Any]:
        return {key: value for key, value in result.items() if key != "labels"}

    runner.write_metrics(
        {
            **head,
            "data": {"n_train": len(y), "n_samples": n_samples, "quick": FLAGS.quick},
            "estimator_params": {a: runner.estimator_params(a) for a in fits.results},
            "results": {a: jsonable(r) for a, r in fits.results.items()},
            "label_column_results": {a: jsonable(r) for a, r in fits.leaked.items()},
            "spread": {
                a: {
                    inp: [
                        {key: run[key] for key in ("seed", "accuracy_sample", "accuracy_all", "inertia")}
                        for run in runs
                    ]
                    for inp, runs in by_input.items()
                }
                for a, by_input in fits.spread.items()
            },
            "sample_indices": sample,
            "timings_s": timings,
            "seed_comparisons": comparisons,
            "figures": figures,
        },
        directory,
    )
    runner.write_text("summary.md", summary_markdown(fits, comparisons, y, n_samples, command), directory)


def main(argv: Sequence[str]) -> None:
    del argv
    directory = runner.output_dir()
    algorithms = runner.algorithms_flag()
    with runner.timed("total") as total_time:
        with runner.timed("load") as load_time:
            data = runner.load_data_from_flags()
        x, y = data.x_train, data.y_train
        sample = draw_sample(len(x))
        with runner.timed("fits") as fit_time:
            fits = fit_all(algorithms, x, y, sample)
        with runner.timed("t-SNE") as tsne_time:
            embedding = embed(x[sample], FLAGS.perplexity, FLAGS.seed)
        with runner.timed("figures") as plot_time:
            figures = save_figures(embedding, fits, y, sample, directory)
    timings = {
        "load": load_time.seconds,
        "fits": fit_time.seconds,
        "tsne": tsne_time.seconds,
        "figures": plot_time.seconds,
        "total": total_time.seconds,
    }
    write_outputs(fits, y, sample, figures, timings, directory)
    logging.info(
        "Done: %s",
        ", ".join(f"{runner.ALGORITHM_TITLES[a]} {r['accuracy_sample']:.2%}" for a, r in fits.results.items()),
    )


if __name__ == "__main__":
    runner.set_defaults(output_dir="runs/tsne")
    runner.run(main)
