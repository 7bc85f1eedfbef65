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
from typing import Any

import numpy as np
from absl import flags, logging

from experiments import plots, runner
from tfkmeans import metrics

FLAGS = flags.FLAGS

flags.DEFINE_integer("k", 10, "Number of clusters.", lower_bound=1)
flags.DEFINE_integer("n_samples", 1000, "Random training images embedded with t-SNE and counted.", lower_bound=10)
flags.DEFINE_float("perplexity", 30.0, "t-SNE perplexity (scikit-learn's default).")
flags.DEFINE_list("algorithms", list(runner.ALGORITHMS), "Estimators to compare: kmeans, minibatch.")
flags.DEFINE_integer("max_iter", 300, "K-means: maximum Lloyd iterations (capped in --quick mode).", lower_bound=1)
flags.DEFINE_integer("minibatch_max_iter", 100, "MiniBatchKMeans: maximum epochs (capped in --quick mode).",
                     lower_bound=1)
flags.DEFINE_integer("batch_size", 1024, "MiniBatchKMeans: images per mini-batch.", lower_bound=1)
flags.DEFINE_bool("label_column_check", True,
                  "Also fit on the paper's 785-column matrix (pixels + the label as a column).")
flags.DEFINE_integer("spread_seeds", 20,
                     "Initialisations (random_state = seed, seed+1, ...) over which the accuracies' spread is "
                     "measured, on pixels and with the label column.", lower_bound=1)

#: In --quick mode at most this many images are embedded and this many seeds tried.
QUICK_N_SAMPLES = 300
QUICK_SPREAD_SEEDS = 2

SOURCE = runner.SEED_DOCUMENTS["paper"]
SEED_ACCURACY = {"kmeans": 0.8333, "minibatch": 0.8767}
#: The paper's accuracy within this of the label-column range counts as consistent with it
#: (the binomial standard error of an accuracy near 0.85 on 1,000 images is about 0.011).
LEAK_MATCH = 0.02


def estimator_params(algorithm: str, quick: bool, seed: int | None = None) -> dict[str, Any]:
    """Constructor arguments of one estimator under the flags (``random_state`` = ``seed`` or ``--seed``)."""
    seed = FLAGS.seed if seed is None else seed
    if algorithm == "minibatch":
        return {"max_iter": runner.iteration_budget(FLAGS.minibatch_max_iter, quick),
                "batch_size": FLAGS.batch_size, "random_state": seed}
    return {"max_iter": runner.iteration_budget(FLAGS.max_iter, quick), "random_state": seed}


def fit(algorithm: str, x: np.ndarray, y: np.ndarray, sample: np.ndarray, quick: bool,
        seed: int | None = None) -> dict[str, Any]:
    """Fit one estimator on ``x`` (``random_state=seed``) and score it on all rows and on the ``sample`` rows.

    Returns
    -------
    dict
        ``labels`` (every row's cluster), ``mapping`` (cluster -> majority digit
        over all rows), ``accuracy_all``, ``accuracy_sample`` (the mapping applied
        to the sample), ``purity_sample`` (mapping learnt on the sample alone),
        ``correct_per_digit`` / ``sample_per_digit`` and ``seconds``.
    """
    model = runner.make_estimator(algorithm, FLAGS.k, **estimator_params(algorithm, quick, seed))
    with runner.timed(f"fit {algorithm} on {x.shape[1]} columns, seed {seed}") as fit_time:
        model.fit(x)
    labels = model.labels_
    mapping = metrics.majority_labels(y, labels)
    correct = mapping[labels[sample]] == y[sample]
    n_digits = int(y.max()) + 1
    return {
        "seed": FLAGS.seed if seed is None else seed,
        "labels": labels, "mapping": mapping, "inertia": model.inertia_, "n_iter": model.n_iter_,
        "accuracy_all": metrics.majority_accuracy(y, labels),
        "accuracy_sample": float(correct.mean()),
        "purity_sample": metrics.purity(y[sample], labels[sample]),
        "correct_per_digit": np.bincount(y[sample][correct], minlength=n_digits),
        "sample_per_digit": np.bincount(y[sample], minlength=n_digits),
        "hungarian_accuracy_all": metrics.hungarian_accuracy(y, labels),
        "seconds": fit_time.seconds,
    }


def embed(images: np.ndarray, perplexity: float, seed: int) -> np.ndarray:
    """2-D t-SNE embedding of ``images`` with scikit-learn (PCA initialisation)."""
    try:
        from sklearn.manifold import TSNE
    except ImportError as error:  # pragma: no cover - depends on the environment
        raise SystemExit(
            "experiments.tsne needs scikit-learn for t-SNE: pip install -e '.[experiments]'"
        ) from error
    perplexity = min(perplexity, (len(images) - 1) / 3)  # TSNE requires perplexity < n_samples
    return TSNE(n_components=2, perplexity=perplexity, init="pca", learning_rate="auto",
                random_state=seed).fit_transform(images)


def cluster_colouring(title: str, labels: np.ndarray, mapping: np.ndarray) -> plots.Colouring:
    """Panel colouring of clusters: each in its majority digit's colour, named ``c<id>→<digit>``."""
    present = sorted({int(c) for c in labels}, key=lambda c: (mapping[c], c))
    return plots.Colouring(
        title, labels, {c: f"c{c}→{mapping[c]}" for c in present}, {c: int(mapping[c]) for c in present},
    )


def main(argv: Sequence[str]) -> None:
    del argv
    directory = runner.output_dir()
    algorithms = [a for a in runner.ALGORITHMS if a in FLAGS.algorithms]
    unknown = set(FLAGS.algorithms) - set(runner.ALGORITHMS)
    if unknown:
        raise SystemExit(f"unknown --algorithms {sorted(unknown)}; expected {runner.ALGORITHMS}")
    with runner.timed("total") as total_time:
        with runner.timed("load") as load_time:
            data = runner.load_data(FLAGS.quick, FLAGS.data_dir, FLAGS.seed)
        x, y = data.x_train, data.y_train
        n_samples = min(FLAGS.n_samples, QUICK_N_SAMPLES if FLAGS.quick else FLAGS.n_samples, len(x))
        sample = np.sort(np.random.default_rng(FLAGS.seed).choice(len(x), size=n_samples, replace=False))

        with runner.timed("fits") as fit_time:
            results = {a: fit(a, x, y, sample, FLAGS.quick) for a in algorithms}
            # The accuracy of one fit depends on its initialisation (local optima): measure the spread.
            n_seeds = min(FLAGS.spread_seeds, QUICK_SPREAD_SEEDS) if FLAGS.quick else FLAGS.spread_seeds
            seeds = [FLAGS.seed + i for i in range(n_seeds)]
            spread = {a: {"pixels": [results[a]] + [fit(a, x, y, sample, FLAGS.quick, s) for s in seeds[1:]]}
                      for a in algorithms}
            leaked = {}
            if FLAGS.label_column_check:
                with_label = np.hstack([x, y[:, None].astype(x.dtype)])
                for a in algorithms:
                    spread[a]["label_column"] = [fit(a, with_label, y, sample, FLAGS.quick, s) for s in seeds]
                    leaked[a] = spread[a]["label_column"][0]
        with runner.timed("t-SNE") as tsne_time:
            embedding = embed(x[sample], FLAGS.perplexity, FLAGS.seed)

        with runner.timed("figures") as plot_time:
            names = {a: runner.ALGORITHM_TITLES[a] for a in algorithms}
            digits = list(range(int(y.max()) + 1))
            colourings = [plots.Colouring(f"true digit ({n_samples:,} random training images)", y[sample],
                                          {d: str(d) for d in digits})]
            colourings += [
                cluster_colouring(
                    f"{names[a]} clusters (k={FLAGS.k}), coloured by majority digit\n"
                    f"accuracy on these images {results[a]['accuracy_sample']:.1%}",
                    results[a]["labels"][sample], results[a]["mapping"],
                )
                for a in algorithms
            ]
            plots.embedding_panels(
                embedding, colourings, directory / "tsne.png",
                suptitle=f"t-SNE of {n_samples:,} random training images; clusters fitted on all "
                         f"{len(x):,} raw-pixel images",
            )
            plots.grouped_bars(
                [str(d) for d in digits],
                {f"{names[a]} ({results[a]['accuracy_sample']:.1%})": results[a]["correct_per_digit"].tolist()
                 for a in algorithms},
                directory / "correct_per_digit.png",
                totals=np.bincount(y[sample], minlength=len(digits)).tolist(),
                totals_label="images of the digit in the sample",
                title=f"Correctly clustered images per digit among {n_samples:,} random training images\n"
                      f"(correct: the image's cluster has it as majority digit over all {len(x):,}; k={FLAGS.k})",
                xlabel="true digit", ylabel="images",
            )
            groups, colours = {}, {}
            for index, a in enumerate(algorithms):  # one colour per estimator: its dots and the paper's line
                groups[f"{names[a]}\nraw pixels"] = [100 * r["accuracy_sample"] for r in spread[a]["pixels"]]
                colours[f"{names[a]}\nraw pixels"] = index
                if "label_column" in spread[a]:
                    groups[f"{names[a]}\n+ label column"] = [
                        100 * r["accuracy_sample"] for r in spread[a]["label_column"]]
                    colours[f"{names[a]}\n+ label column"] = index
                colours[f"paper: {names[a]} {100 * SEED_ACCURACY[a]:.2f} %"] = index
            plots.strip_chart(
                groups, directory / "accuracy_spread.png",
                title=f"Accuracy on the {n_samples:,} drawn images, one dot per initialisation "
                      f"({len(seeds)} seeds, k={FLAGS.k})",
                ylabel="accuracy (%), cluster → majority digit",
                references={f"paper: {names[a]} {100 * SEED_ACCURACY[a]:.2f} %": 100 * SEED_ACCURACY[a]
                            for a in algorithms},
                colours=colours,
            )
        figures = {"tsne": "tsne.png", "correct_per_digit": "correct_per_digit.png",
                   "accuracy_spread": "accuracy_spread.png"}

    def span(runs: list[dict[str, Any]], key: str) -> str:
        values = [run[key] for run in runs]
        return f"{min(values):.1%}-{max(values):.1%}"

    comparisons = []
    for a in algorithms:
        ours = results[a]
        pixels = spread[a]["pixels"]
        note = (
            f"Raw pixels give {span(pixels, 'accuracy_sample')} on our {n_samples:,} images over {len(pixels)} "
            f"initialisations ({span(pixels, 'accuracy_all')} on all {len(x):,}), far below the paper"
            + ("; the label-column row shows an input that comes much closer." if a in leaked else ".")
        )
        comparisons.append(runner.seed_comparison(
            source=SOURCE, quantity=f"{names[a]} accuracy, k={FLAGS.k}, {n_samples:,} random training images",
            seed_value=SEED_ACCURACY[a], ours=ours["accuracy_sample"], format="percent",
            definition=(
                f"fit on all {len(x):,} training images (raw pixels in [0, 1], random_state={FLAGS.seed}); a "
                f"cluster's digit is its majority digit over all of them; share of the {n_samples:,} drawn images "
                "whose cluster's digit is theirs"
            ),
            note=note, figures=[figures["correct_per_digit"], figures["tsne"], figures["accuracy_spread"]],
        ))
        comparisons.append(runner.seed_comparison(
            source=SOURCE, quantity=f"{names[a]} accuracy, k={FLAGS.k}, all {len(x):,} training images",
            seed_value=SEED_ACCURACY[a], ours=ours["accuracy_all"], format="percent",
            definition="majority-mapping accuracy (= purity) over all training images",
            note=f"The paper counts only its 1,000 drawn images; on all {len(x):,} there is no sampling noise.",
            headline=False, figures=[figures["correct_per_digit"]],
        ))
        if a in leaked:
            runs = spread[a]["label_column"]
            values = [run["accuracy_sample"] for run in runs]
            inside = min(values) - LEAK_MATCH <= SEED_ACCURACY[a] <= max(values) + LEAK_MATCH
            comparisons.append(runner.seed_comparison(
                source=SOURCE,
                quantity=f"{names[a]} accuracy with the label as 785th column ({n_samples:,} images, median of "
                         f"{len(runs)} initialisations)",
                seed_value=SEED_ACCURACY[a], ours=float(np.median(values)), format="percent",
                definition=(
                    "as above, but fitted on [784 pixels in [0, 1], digit label], the paper's \"60000 x 785\" "
                    "matrix \"one of which is the real value of the image\": not a valid clustering, the labels "
                    "leak into the fit"
                ),
                note=(
                    f"Range over initialisations {span(runs, 'accuracy_sample')} ({span(runs, 'accuracy_all')} on "
                    f"all {len(x):,}): the fit lands in different local optima. "
                    + (f"The paper's {SEED_ACCURACY[a]:.2%} lies within (or within {LEAK_MATCH:.0%} of) that range, "
                       "while no raw-pixel fit comes near it: its figure most likely comes from a clustering that "
                       "saw the labels."
                       if inside else
                       f"The paper's {SEED_ACCURACY[a]:.2%} lies outside that range; the label column explains "
                       "most of the gap to raw pixels but not all of it (the paper gives no seed or settings).")
                ),
                headline=True, figures=[figures["accuracy_spread"]],
            ))

    rows = [
        {"estimator": names[a] + (" + label column" if leak else ""),
         f"accuracy ({n_samples:,} sample)": r["accuracy_sample"], "accuracy (all)": r["accuracy_all"],
         "seed": SEED_ACCURACY[a], "Hungarian (all)": r["hungarian_accuracy_all"],
         "iterations": r["n_iter"], "fit s": r["seconds"]}
        for leak, group in ((False, results), (True, leaked)) for a, r in group.items()
    ]
    print(runner.format_table(rows))
    per_digit = [
        {"digit": d, "in sample": int(results[algorithms[0]]["sample_per_digit"][d]),
         **{f"{names[a]} correct": int(results[a]["correct_per_digit"][d]) for a in algorithms}}
        for d in digits
    ]
    command = runner.command_line("experiments.tsne")

    def jsonable(result: dict[str, Any]) -> dict[str, Any]:
        return {key: value for key, value in result.items() if key != "labels"}

    runner.write_metrics({
        "experiment": "tsne",
        "title": "t-SNE pictures and per-digit correct counts, K-means and MiniBatchKMeans",
        "command": command,
        "flags": runner.experiment_flags(),
        "data": {"n_train": len(x), "n_samples": n_samples, "quick": FLAGS.quick},
        "estimator_params": {a: estimator_params(a, FLAGS.quick) for a in algorithms},
        "results": {a: jsonable(r) for a, r in results.items()},
        "label_column_results": {a: jsonable(r) for a, r in leaked.items()},
        "spread": {a: {inp: [{key: run[key] for key in ("seed", "accuracy_sample", "accuracy_all", "inertia")}
                             for run in runs] for inp, runs in by_input.items()}
                   for a, by_input in spread.items()},
        "sample_indices": sample,
        "timings_s": {"load": load_time.seconds, "fits": fit_time.seconds, "tsne": tsne_time.seconds,
                      "figures": plot_time.seconds, "total": total_time.seconds},
        "seed_comparisons": comparisons,
        "figures": figures,
    }, directory)
    runner.write_text("summary.md", "\n".join([
        "# t-SNE and per-digit correct counts, K-means and MiniBatchKMeans (seed 000)",
        "",
        f"`{command}`",
        "",
        f"k={FLAGS.k}; both estimators fitted on all {len(x):,} training images (raw pixels), seed {FLAGS.seed}; "
        f"{n_samples:,} random training images embedded with scikit-learn's t-SNE (perplexity "
        f"{FLAGS.perplexity:g}, PCA init)." + (" **Quick mode: subsets only.**" if FLAGS.quick else ""),
        "",
        runner.format_table(rows, markdown=True),
        "",
        f"## Spread over {len(seeds)} initialisations (random_state {seeds[0]}..{seeds[-1]})",
        "",
        runner.format_table([
            {"estimator": names[a], "input": inp, "seed": run["seed"],
             f"accuracy ({n_samples:,} sample)": run["accuracy_sample"], "accuracy (all)": run["accuracy_all"],
             "inertia": run["inertia"]}
            for a in algorithms for inp, runs in spread[a].items() for run in runs
        ], markdown=True),
        "",
        "## Correctly clustered images per digit",
        "",
        runner.format_table(per_digit, markdown=True),
        "",
        "## Comparison with the seed",
        "",
        *[f"- **{c['quantity']}**: seed {runner.format_value(c['seed_value'], 'percent')}, ours "
          f"{runner.format_value(c['ours'], 'percent')}. {c['note']}" for c in comparisons],
        "",
        "## Figures",
        "",
        "- `tsne.png`: the embedding coloured by true digit and by each estimator's clusters.",
        "- `correct_per_digit.png`: correctly clustered images per digit, both estimators.",
        "- `accuracy_spread.png`: accuracy of every initialisation, raw pixels and with the label column.",
    ]), directory)
    logging.info("Done: %s", ", ".join(f"{names[a]} {results[a]['accuracy_sample']:.2%}" for a in algorithms))


if __name__ == "__main__":
    runner.set_defaults(output_dir="runs/tsne")
    runner.run(main)
