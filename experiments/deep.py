"""Unsupervised MNIST clustering beyond the seeds: autoencoder, manifold, tfkmeans, self-training.

Labels are used only to score. Every model is fitted on the 60,000 training
images alone; the 10,000 test images are scored with the models fitted on train.
For each seed the pipeline runs these stages, each timed and scored:

1. ``autoencoder``: a dense 784-500-500-2000-10 autoencoder (DEC's layout) is
   trained on the pixels; K-means on its 10-d codes is scored as a reference.
2. ``umap``: UMAP (umap-learn) maps the codes to ``--umap_dims`` dimensions with
   ``min_dist=0``, which packs each digit's manifold tightly (the N2D recipe);
   test codes are mapped with the fitted transform.
3. ``kmeans``: :class:`tfkmeans.KMeans` clusters the embedding (k=10).
4. ``self-training`` rounds: a small CNN, trained on randomly shifted and rotated
   images, learns to predict the current cluster of every training image, and its
   predictions become the next round's clusters (the same network trains on).
   The CNN sees the pixels and learns shapes that survive the augmentation, so it
   moves images that the embedding put on the wrong side of a boundary. Training
   on every image works better than on the most confident members only: those
   cover a cluster's core but not its varied edges, which the CNN then gets wrong.

Accuracy is the Hungarian (one-to-one cluster -> digit) accuracy used by DEC, IDEC
and N2D. The study runs ``--n_seeds`` seeds and reports their median.

Usage::

    python -m experiments.deep                   # writes runs/deep/ (three seeds)
    python -m experiments.deep --n_seeds=1 --ae_epochs=5
    python -m experiments.deep --reuse           # loads cached weights and embeddings
    python -m experiments.deep --quick           # smoke test

Needs umap-learn (``pip install -e '.[experiments]'``). UMAP with a fixed
``random_state`` runs single-threaded and is then deterministic; TensorFlow runs
with op determinism, so a rerun with the same seed reproduces the numbers on the
same machine and library versions.

Outputs in ``--output_dir``: ``metrics.json``, ``summary.md``, ``progress.png``
(test accuracy against elapsed time, every seed), ``embedding.png`` (a 2-d UMAP
of test codes coloured by cluster and by digit), ``confusion.png`` and
``errors.png`` (misclustered test images), and what ``--reuse`` loads: the
weights and the UMAP embeddings (the clustered one and the 2-d view, as .npz).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, NamedTuple

import keras
import numpy as np
from absl import flags, logging

from experiments import networks, plots, runner
from tfkmeans import metrics

FLAGS = flags.FLAGS

flags.DEFINE_integer("n_seeds", 3, "Seeds to run: --seed, --seed + 1, ...; the median is reported.", lower_bound=1)
flags.DEFINE_integer("ae_epochs", 20, "Autoencoder training epochs.", lower_bound=1)
flags.DEFINE_integer("umap_dims", 10, "Dimensions of the UMAP embedding that K-means clusters.", lower_bound=2)
flags.DEFINE_integer("umap_neighbors", 20, "UMAP n_neighbors.", lower_bound=2)
flags.DEFINE_integer("self_training_rounds", 2, "Self-training rounds of the CNN.", lower_bound=0)
flags.DEFINE_integer("self_training_epochs", 4, "CNN epochs per self-training round.", lower_bound=1)
flags.DEFINE_integer(
    "early_epochs",
    5,
    "Also cluster the codes the autoencoder has after this many epochs (first seed only; 0: never), "
    "for the best result within a few minutes.",
    lower_bound=0,
)
flags.DEFINE_integer("view_samples", 5000, "Test images drawn in embedding.png.", lower_bound=10)
runner.define_flags("batch_size", "n_init", "reuse", batch_size=256, n_init=10)

K = 10
#: The unsupervised references (Hungarian accuracy on MNIST) the study is set beside.
REFERENCES = (
    ("DEC (Xie et al., ICML 2016)", 0.843),
    ("IDEC (Guo et al., IJCAI 2017)", 0.881),
    ("N2D (McConville et al., ICPR 2020)", 0.979),
)
#: Time budget in which the issue asks for the best result, besides the full run.
SHORT_BUDGET_S = 180.0
#: --quick runs one seed: a smoke test of every stage (the early snapshot included, on the first
#: seed). Epochs are not capped: on the quick subset an epoch is a few steps, and fewer leave the
#: autoencoder untrained.
QUICK_SEEDS = 1


class Stage(NamedTuple):
    """The clustering after one stage of the pipeline.

    ``seconds`` is the stage's own time; ``elapsed_s`` the pipeline's time from the
    start of training until this clustering was available. A ``reference`` stage
    (K-means on the autoencoder codes) is a side result, off the pipeline's clock.
    """

    name: str
    seconds: float
    elapsed_s: float
    train_clusters: np.ndarray
    test_clusters: np.ndarray
    reference: bool = False


class CodesSnapshot(keras.callbacks.Callback):
    """Keep the encoder's codes, and the training time spent so far, at the end of one epoch.

    The snapshot's own predictions are left out of the training time; they do not
    touch the weights or the random streams, so training continues as without it.
    """

    def __init__(self, encoder: keras.Model, data: runner.MnistSplits, epoch: int) -> None:
        super().__init__()
        self.encoder, self.data, self.epoch = encoder, data, epoch
        self.codes: tuple[np.ndarray, np.ndarray] | None = None
        self.seconds = 0.0

    def on_train_begin(self, logs: dict | None = None) -> None:
        self._started = time.perf_counter()

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        if epoch + 1 == self.epoch:
            self.seconds = time.perf_counter() - self._started
            self.codes = (
                self.encoder.predict(self.data.x_train, batch_size=1024, verbose=0),
                self.encoder.predict(self.data.x_test, batch_size=1024, verbose=0),
            )


def autoencoder_weights(directory: Path, n_train: int, seed: int, epochs: int) -> Path:
    """Where the autoencoder's weights are cached; the name records the training setup."""
    return networks.weights_path(directory, "autoencoder", n=n_train, seed=seed, epochs=epochs, batch=FLAGS.batch_size)


def pretrain_autoencoder(
    data: runner.MnistSplits, directory: Path, seed: int, epochs: int, early_epochs: int
) -> tuple[networks.Autoencoder, tuple[np.ndarray, np.ndarray, float] | None]:
    """Train (or with ``--reuse`` load) the dense autoencoder on the training pixels.

    Returns the autoencoder and, if ``0 < early_epochs < epochs``, the train and test
    codes after ``early_epochs`` epochs with the training time until then (cached
    beside the weights, so ``--reuse`` has them too).
    """
    model = networks.dense_autoencoder()
    model.autoencoder.compile(optimizer=keras.optimizers.Adam(1e-3), loss="mse")
    weights = autoencoder_weights(directory, len(data.x_train), seed, epochs)
    snapshot = CodesSnapshot(model.encoder, data, early_epochs) if 0 < early_epochs < epochs else None
    early_path = weights.with_name(weights.name.replace(".weights.h5", f"-codes-at-epoch{early_epochs}.npz"))
    networks.fit_or_load(
        model.autoencoder,
        weights,
        FLAGS.reuse and (snapshot is None or early_path.is_file()),
        data.x_train,
        data.x_train,
        batch_size=FLAGS.batch_size,
        epochs=epochs,
        shuffle=True,
        verbose=2,
        callbacks=[snapshot] if snapshot else [],
    )
    if snapshot is None:
        return model, None
    if snapshot.codes is not None:
        np.savez(early_path, train=snapshot.codes[0], test=snapshot.codes[1], seconds=snapshot.seconds)
    with np.load(early_path) as stored:
        return model, (stored["train"], stored["test"], float(stored["seconds"]))


def cached_arrays(path: Path, compute: Callable[[], dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    """The arrays ``compute()`` returns, saved to ``path`` (.npz); with ``--reuse``, loaded from there instead."""
    if FLAGS.reuse and path.is_file():
        with np.load(path) as stored:
            logging.info("Loaded %s (--reuse)", path.name)
            return dict(stored)
    arrays = compute()
    np.savez(path, **arrays)
    return arrays


def umap_embedding(
    codes_train: np.ndarray, codes_test: np.ndarray, directory: Path, seed: int, ae_epochs: int
) -> tuple[np.ndarray, np.ndarray]:
    """UMAP of the training codes, and the test codes mapped by the same fit (cached as .npz)."""
    n_neighbors = min(FLAGS.umap_neighbors, len(codes_train) - 1)
    cache = directory / (
        f"umap-n{len(codes_train)}-seed{seed}-ae_epochs{ae_epochs}-dims{FLAGS.umap_dims}-neighbors{n_neighbors}.npz"
    )

    def fit() -> dict[str, np.ndarray]:
        import umap  # the experiments extra; imported here so the other stages' help works without it

        reducer = umap.UMAP(
            n_components=FLAGS.umap_dims,
            n_neighbors=n_neighbors,
            min_dist=0.0,
            random_state=seed,
            verbose=True,
        )
        return {
            "train": reducer.fit_transform(codes_train).astype(np.float32),
            "test": reducer.transform(codes_test).astype(np.float32),
        }

    embedded = cached_arrays(cache, fit)
    return embedded["train"], embedded["test"]


def kmeans_stage(
    name: str,
    train: np.ndarray,
    test: np.ndarray,
    seed: int,
    start_s: float,
    prepare_s: float = 0.0,
    *,
    reference: bool = False,
) -> Stage:
    """K-means on ``train`` (tfkmeans), ``test`` assigned to its centres.

    The stage started ``start_s`` into the pipeline and spent ``prepare_s`` on its
    features (UMAP) before K-means.
    """
    with runner.timed(f"seed {seed}: K-means on {name}") as timer:
        model = runner.estimator("kmeans", K, random_state=seed).fit(train)
        test_clusters = model.predict(test)
    seconds = prepare_s + timer.seconds
    return Stage(name, seconds, start_s + seconds, model.labels_, test_clusters, reference)


def self_train(
    images: np.ndarray, images_test: np.ndarray, start: Stage, rounds: int, epochs: int, directory: Path, seed: int
) -> list[Stage]:
    """Rounds of training one CNN (with augmentation) on the current clusters of every training image."""
    cnn = networks.small_cnn(K, augment=True)
    cnn.compile(
        optimizer=keras.optimizers.Adam(1e-3),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    stages, clusters, elapsed = [], start.train_clusters, start.elapsed_s
    for index in range(rounds):
        with runner.timed(f"seed {seed}: self-training round {index + 1}") as timer:
            networks.fit_or_load(
                cnn,
                networks.weights_path(
                    directory,
                    "cnn",
                    n=len(images),
                    seed=seed,
                    ae_epochs=FLAGS.ae_epochs,
                    round=index + 1,
                    epochs=epochs,
                ),
                FLAGS.reuse,
                images,
                clusters,
                batch_size=128,
                epochs=epochs,
                shuffle=True,
                verbose=2,
            )
            clusters = cnn.predict(images, batch_size=1024, verbose=0).argmax(axis=1)
            test_clusters = cnn.predict(images_test, batch_size=1024, verbose=0).argmax(axis=1)
        elapsed += timer.seconds
        stages.append(Stage(f"self-training {index + 1}", timer.seconds, elapsed, clusters, test_clusters))
    return stages


def run_seed(data: runner.MnistSplits, directory: Path, seed: int, early_epochs: int) -> list[Stage]:
    """Every stage of the pipeline for one seed (and the early clustering, if asked)."""
    networks.seed_everything(seed)
    with runner.timed(f"seed {seed}: autoencoder") as ae_time:
        autoencoder, early = pretrain_autoencoder(data, directory, seed, FLAGS.ae_epochs, early_epochs)
        codes_train = autoencoder.encoder.predict(data.x_train, batch_size=1024, verbose=0)
        codes_test = autoencoder.encoder.predict(data.x_test, batch_size=1024, verbose=0)
    stages = [kmeans_stage("autoencoder codes", codes_train, codes_test, seed, ae_time.seconds, reference=True)]
    if early is not None:
        with runner.timed(f"seed {seed}: UMAP of the codes after {early_epochs} epochs") as early_umap:
            early_train, early_test = umap_embedding(early[0], early[1], directory, seed, early_epochs)
        stages.append(
            kmeans_stage(
                f"UMAP embedding after {early_epochs} epochs",
                early_train,
                early_test,
                seed,
                early[2],
                early_umap.seconds,
            )
        )
    with runner.timed(f"seed {seed}: UMAP") as umap_time:
        embedded_train, embedded_test = umap_embedding(codes_train, codes_test, directory, seed, FLAGS.ae_epochs)
    embedded = kmeans_stage("UMAP embedding", embedded_train, embedded_test, seed, ae_time.seconds, umap_time.seconds)
    images, images_test = networks.as_images(data.x_train), networks.as_images(data.x_test)
    rounds = self_train(
        images, images_test, embedded, FLAGS.self_training_rounds, FLAGS.self_training_epochs, directory, seed
    )
    return [*stages, embedded, *rounds]


def stage_records(data: runner.MnistSplits, stages: Sequence[Stage]) -> list[dict[str, Any]]:
    """Scores and times of every stage, for metrics.json."""
    return [
        {
            "stage": stage.name,
            "seconds": stage.seconds,
            "elapsed_s": stage.elapsed_s,
            "reference": stage.reference,
            "train": runner.evaluate(data.y_train, stage.train_clusters),
            "test": runner.evaluate(data.y_test, stage.test_clusters),
        }
        for stage in stages
    ]


def pipeline(records: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """The stages on the pipeline's clock (not the reference), in the order they finished."""
    return sorted((r for r in records if not r["reference"]), key=lambda r: r["elapsed_s"])


def best_within(records: Sequence[dict[str, Any]], budget_s: float) -> float | None:
    """Best test Hungarian accuracy of the pipeline's stages done within ``budget_s`` seconds (None if none)."""
    scores = [r["test"]["hungarian_accuracy"] for r in pipeline(records) if r["elapsed_s"] <= budget_s]
    return max(scores) if scores else None


def save_figures(
    data: runner.MnistSplits, runs: dict[int, list[dict[str, Any]]], final: Stage, directory: Path, seed: int
) -> dict[str, str]:
    """progress.png (every seed), and for the first seed embedding.png, confusion.png, errors.png."""
    figures = {}
    series = {
        f"seed {s}": (
            [r["elapsed_s"] for r in pipeline(records)],
            [r["test"]["hungarian_accuracy"] for r in pipeline(records)],
        )
        for s, records in runs.items()
    }
    figures["progress"] = plots.progress_chart(
        series,
        directory / "progress.png",
        xlabel="elapsed seconds (autoencoder + UMAP + K-means, then each self-training round)",
        ylabel="test Hungarian accuracy",
        title="Unsupervised MNIST: test accuracy after each stage",
        references=dict(REFERENCES[1:]),
    )
    mapping = metrics.hungarian_mapping(data.y_test, final.test_clusters)
    predicted_digit = mapping[final.test_clusters]
    order = np.argsort(mapping, kind="stable")
    table = metrics.confusion_matrix(data.y_test, final.test_clusters)[:, order]
    figures["confusion"] = plots.confusion_heatmaps(
        [table],
        [[f"c{c}\n→ {mapping[c]}" for c in order]],
        [f"{final.name}, seed {seed}"],
        directory / "confusion.png",
        suptitle="Test images: true digit × cluster (Hungarian map)",
    )
    wrong = np.flatnonzero(predicted_digit != data.y_test)
    shown = np.random.default_rng(seed).permutation(wrong)[:40]
    if len(shown):  # a perfect clustering has no errors to show
        figures["errors"] = plots.image_grid(
            data.x_test[shown],
            [f"{data.y_test[i]} as {predicted_digit[i]}" for i in shown],
            directory / "errors.png",
            n_cols=10,
            cell_inches=1.1,
            suptitle=f"{len(wrong)} misclustered test images of {len(data.y_test):,}: {len(shown)} at random (digit as cluster's digit)",
        )
    figures["embedding"] = embedding_figure(data, final, predicted_digit, directory, seed)
    return {name: str(path) for name, path in figures.items()}


def embedding_figure(
    data: runner.MnistSplits, final: Stage, predicted_digit: np.ndarray, directory: Path, seed: int
) -> Path:
    """A 2-d UMAP of test images' autoencoder codes, coloured by final cluster and by true digit.

    Only for the picture: the clustering never sees this 2-d map. The codes come from
    the cached autoencoder of ``seed``; the map is cached beside it for ``--reuse``.
    """
    shown = np.sort(np.random.default_rng(seed).permutation(len(data.x_test))[: FLAGS.view_samples])
    n_neighbors = min(FLAGS.umap_neighbors, len(shown) - 1)
    cache = directory / (
        f"view-n{len(data.x_train)}-seed{seed}-ae_epochs{FLAGS.ae_epochs}-shown{len(shown)}-neighbors{n_neighbors}.npz"
    )

    def fit() -> dict[str, np.ndarray]:
        import umap

        autoencoder = networks.dense_autoencoder()
        autoencoder.autoencoder.load_weights(autoencoder_weights(directory, len(data.x_train), seed, FLAGS.ae_epochs))
        codes = autoencoder.encoder.predict(data.x_test[shown], batch_size=1024, verbose=0)
        view = umap.UMAP(n_components=2, n_neighbors=n_neighbors, min_dist=0.0, random_state=seed)
        return {"view": view.fit_transform(codes)}

    view = cached_arrays(cache, fit)["view"]
    digits = {d: str(d) for d in range(K)}
    return plots.embedding_panels(
        view,
        [
            plots.Colouring("clusters (each coloured as its matched digit)", predicted_digit[shown], digits),
            plots.Colouring("true digits", data.y_test[shown], digits),
        ],
        directory / "embedding.png",
        axis_name="UMAP",
        suptitle=(f"{len(shown):,} test images: 2-d UMAP of the autoencoder codes (for the picture only), seed {seed}"),
    )


def results_table(records: Sequence[dict[str, Any]], *, markdown: bool = False) -> str:
    """One row per stage: time, train and test Hungarian accuracy, NMI and ARI."""
    rows = [
        {
            "stage": r["stage"],
            "seconds": r["seconds"],
            "elapsed s": r["elapsed_s"],
            "train acc": r["train"]["hungarian_accuracy"],
            "test acc": r["test"]["hungarian_accuracy"],
            "test NMI": r["test"]["nmi"],
            "test ARI": r["test"]["ari"],
        }
        for r in records
    ]
    return runner.format_table(rows, markdown=markdown)


def summary(runs: dict[int, list[dict[str, Any]]], headline: dict[str, Any], command: str) -> str:
    """summary.md: the setup, one table per seed, the median beside the references."""
    lines = [
        "# Unsupervised MNIST clustering: autoencoder, UMAP, tfkmeans, self-training",
        "",
        f"`{command}`",
        "",
        "Labels are used only to score; every model is fitted on the training images and the test "
        "images are scored with the models fitted on train. Accuracy: Hungarian (one-to-one cluster → digit)."
        + (" **Quick mode: subsets only, not comparable with published results.**" if FLAGS.quick else ""),
        "",
        f"Median test accuracy over {len(runs)} seed(s): **{headline['median_test_accuracy']:.4f}**; "
        f"median wall time of one seed's pipeline {headline['median_seconds']:.0f} s; best within "
        f"{SHORT_BUDGET_S:.0f} s: {format_score(headline['best_within_short_budget'])}.",
        "",
        "| method | test accuracy |",
        "| --- | ---: |",
        *[f"| {name} | {value:.3f} |" for name, value in REFERENCES],
        f"| this pipeline (median) | {headline['median_test_accuracy']:.3f} |",
        "",
    ]
    for seed, records in runs.items():
        lines += [f"## Seed {seed}", "", results_table(records, markdown=True), ""]
    lines += [
        "The autoencoder-codes row is K-means on the codes alone, a reference off the pipeline's clock. "
        f"The first seed also clusters the codes the autoencoder had after {FLAGS.early_epochs} epochs "
        "(UMAP and K-means on them, timed from the start of training): the result available early.",
        "",
        "## Figures",
        "",
        "- `progress.png`: test accuracy after each stage against elapsed time, every seed.",
        "- `embedding.png`: 2-d UMAP of test codes, coloured by cluster and by digit (first seed).",
        "- `confusion.png`: test confusion matrix of the final stage (first seed).",
        "- `errors.png`: misclustered test images (first seed).",
    ]
    return "\n".join(lines)


def format_score(score: float | None) -> str:
    """An accuracy to 4 decimals, or a note that no stage finished in time."""
    return "no stage finished" if score is None else f"{score:.4f}"


def seed_comparisons(headline: dict[str, Any], figures: dict[str, str]) -> list[dict[str, Any]]:
    """One REPORT.md row: our median beside DEC, IDEC and N2D."""
    best_short = headline["best_within_short_budget"]
    return [
        runner.seed_comparison(
            source="beyond the seeds: " + ", ".join(name for name, _ in REFERENCES),
            quantity="unsupervised clustering accuracy (Hungarian), DEC / IDEC / N2D",
            seed_value=" / ".join(f"{value:.3f}" for _, value in REFERENCES),
            ours=headline["median_test_accuracy"],
            definition=(
                f"median over {headline['n_seeds']} seeds of the test accuracy under the best one-to-one "
                "cluster → digit map (10,000 test images; every model fitted on the 60,000 training images; "
                "labels used only to score)"
            ),
            note=(
                f"{headline['median_seconds']:.0f} s per seed (median) on 2 CPU cores: autoencoder, UMAP, tfkmeans, "
                f"self-training; best within {SHORT_BUDGET_S:.0f} s: "
                + format_score(best_short)
                + ". The published figures are on all 70,000 images, after far longer training on a GPU."
            ),
            figures=[Path(path).name for path in figures.values()],
        )
    ]


def main(argv: Sequence[str]) -> None:
    del argv
    directory = runner.output_dir()
    n_seeds = min(FLAGS.n_seeds, QUICK_SEEDS) if FLAGS.quick else FLAGS.n_seeds
    with runner.timed("total") as total_time:
        with runner.timed("load") as load_time:
            data = runner.load_data_from_flags()
        seeds = [FLAGS.seed + offset for offset in range(n_seeds)]
        stages = {
            seed: run_seed(data, directory, seed, FLAGS.early_epochs if seed == seeds[0] else 0) for seed in seeds
        }
        runs = {seed: stage_records(data, seed_stages) for seed, seed_stages in stages.items()}
        with runner.timed("figures") as figure_time:
            figures = save_figures(data, runs, stages[seeds[0]][-1], directory, seeds[0])
    finals = [records[-1] for records in runs.values()]
    shorts = [score for records in runs.values() if (score := best_within(records, SHORT_BUDGET_S)) is not None]
    headline = {
        "n_seeds": len(seeds),
        "median_test_accuracy": float(np.median([r["test"]["hungarian_accuracy"] for r in finals])),
        "median_seconds": float(np.median([r["elapsed_s"] for r in finals])),
        "best_within_short_budget": max(shorts, default=None),
    }
    for seed, records in runs.items():
        print(f"seed {seed}\n{results_table(records)}\n")
    head = runner.record_head("deep", "Unsupervised MNIST clustering beyond the seeds")
    command = head["command"]
    runner.write_metrics(
        {
            **head,
            "data": {"n_train": len(data.x_train), "n_test": len(data.x_test), "quick": FLAGS.quick},
            "reused": FLAGS.reuse,
            "headline": headline,
            "seeds": {str(seed): records for seed, records in runs.items()},
            "timings_s": {"load": load_time.seconds, "figures": figure_time.seconds, "total": total_time.seconds},
            "figures": figures,
            "seed_comparisons": seed_comparisons(headline, figures),
        },
        directory,
    )
    runner.write_text("summary.md", summary(runs, headline, command), directory)


if __name__ == "__main__":
    runner.set_defaults(output_dir="runs/deep")
    runner.run(main)
