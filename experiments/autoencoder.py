"""K-means on the 10-d codes of a dense autoencoder beside K-means on raw pixels (seed 004).

The notebook write-up on K-means of MNIST autoencoder codes (seed 004) clusters
MNIST with K-means on the pixels (purity about 0.59), then trains a Keras
autoencoder with a 10-d code, clusters the codes instead (purity about 0.66) and
shows sorted confusion matrices of both.

This study trains :func:`experiments.networks.dense_autoencoder` (DEC's
784-500-500-2000-10 layout; MSE loss, Adam with learning rate 1e-3, no labels)
on the 60,000 training images, fits :class:`tfkmeans.KMeans` (k=10, 10 k-means++
restarts) on the training pixels and on the training codes, assigns the 10,000
test images (pixels, or codes from the same encoder) to the centres fitted on
the training set, and scores both splits: purity, accuracy with the training
cluster -> digit map, Hungarian accuracy, NMI, ARI. The K-means centres found in
code space are decoded into images, beside the centres found in pixel space.

Usage::

    python -m experiments.autoencoder                # writes runs/autoencoder/
    python -m experiments.autoencoder --reuse        # load the trained weights, skip training
    python -m experiments.autoencoder --epochs=30
    python -m experiments.autoencoder --quick        # seconds-long smoke test

Outputs in ``--output_dir``: ``metrics.json``, ``summary.md``,
``confusion_matrix.png`` (training images: pixels and codes side by side),
``reconstructions.png`` (test images above their reconstructions),
``centres.png`` (pixel-space centres above the decoded code-space centres) and
the weights ``autoencoder-<setup>.weights.h5`` that ``--reuse`` loads.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import keras
import numpy as np
from absl import flags

from experiments import learned, networks, plots, runner
from tfkmeans import metrics

FLAGS = flags.FLAGS

learned.define_flags(epochs=10, batch_size=256)
flags.DEFINE_integer("code_dim", 10, "Width of the autoencoder's code (the seed's: 10).", lower_bound=1)

SOURCE = runner.SEED_DOCUMENTS["autoencoder"]
#: The notebook's purities: K-means on pixels, then on the autoencoder's codes ("about" both).
SEED_PURITY = {"pixels": 0.59, "codes": 0.66}
LEARNING_RATE = 1e-3
#: Images per forward pass when encoding and scoring (memory only; no effect on the numbers).
PREDICT_BATCH = 1024


def train_autoencoder(views: networks.Autoencoder, data: runner.MnistSplits, directory: Path) -> dict[str, Any]:
    """Train the autoencoder to reconstruct the training images (or load it with ``--reuse``); score it.

    Returns
    -------
    dict
        :func:`experiments.learned.train`'s record plus the reconstruction MSE of
        the training and test images under the final weights, and that of the
        mean training image on the test images (the no-learning baseline).
    """
    epochs, batch_size = learned.training_budget(FLAGS.epochs, FLAGS.batch_size, FLAGS.quick)
    views.autoencoder.compile(optimizer=keras.optimizers.Adam(LEARNING_RATE), loss="mse")
    path = networks.weights_path(
        directory,
        "autoencoder",
        code=FLAGS.code_dim,
        n=len(data.x_train),
        seed=FLAGS.seed,
        epochs=epochs,
        batch=batch_size,
    )
    record = learned.train(
        views.autoencoder,
        path,
        FLAGS.reuse,
        data.x_train,
        data.x_train,
        epochs=epochs,
        batch_size=batch_size,
        validation_data=(data.x_test, data.x_test),
    )
    mse = {
        split: float(views.autoencoder.evaluate(x, x, batch_size=PREDICT_BATCH, verbose=0))
        for split, x in (("train", data.x_train), ("test", data.x_test))
    }
    # What a network that learnt nothing but the mean training image would score on the test images.
    mse["test_mean_image"] = float(np.mean((data.x_test - data.x_train.mean(axis=0)) ** 2))
    return {**record, "reconstruction_mse": mse}


def feature_spaces(encoder: keras.Model, data: runner.MnistSplits) -> list[learned.FeatureSpace]:
    """Raw pixels and the encoder's codes of the training and test images."""
    codes = [encoder.predict(x, batch_size=PREDICT_BATCH, verbose=0) for x in (data.x_train, data.x_test)]
    return [
        learned.FeatureSpace("pixels", "raw pixels (784-d)", data.x_train, data.x_test),
        learned.FeatureSpace("codes", f"autoencoder codes ({FLAGS.code_dim}-d, trained without labels)", *codes),
    ]


def sorted_columns(y_true: np.ndarray, clustering: learned.Clustering) -> tuple[np.ndarray, list[int], list[str]]:
    """Training confusion matrix with clusters sorted by majority digit, the order, and tick labels ``c3\\n→ 0``."""
    labels = clustering.model.labels_
    table = metrics.confusion_matrix(y_true, labels, sort_clusters=True)
    order = [int(c) for c in metrics.cluster_order(y_true, labels)]
    return table, order, [f"c{c}\n→ {clustering.mapping[c]}" for c in order]


def centre_titles(name: str, y_true: np.ndarray, labels: np.ndarray, order: Sequence[int]) -> list[str]:
    """Short titles of centre images: ``"<name> c3 → 0\\n92% of 5,871"`` (majority digit, its share, size)."""
    table = metrics.contingency_matrix(y_true, labels)
    sizes = table.sum(axis=0)
    return [f"{name} c{c} → {table[:, c].argmax()}\n{table[:, c].max() / sizes[c]:.0%} of {sizes[c]:,}" for c in order]


def save_figures(
    views: networks.Autoencoder,
    data: runner.MnistSplits,
    spaces: Sequence[learned.FeatureSpace],
    results: dict[str, learned.Clustering],
    directory: Path,
) -> dict[str, str]:
    """Write the confusion matrices, the reconstructions and the centres; return their file names."""
    n_train = len(data.x_train)
    columns = {space.key: sorted_columns(data.y_train, results[space.key]) for space in spaces}
    plots.confusion_heatmaps(
        [columns[space.key][0] for space in spaces],
        [columns[space.key][2] for space in spaces],
        [f"K-means on {space.title}\npurity {results[space.key].scores['train']['purity']:.3f}" for space in spaces],
        directory / "confusion_matrix.png",
        suptitle=f"True digit × cluster, {n_train:,} training images, clusters sorted by majority digit (k={FLAGS.k})",
    )

    # One test image of each digit present, above its reconstruction.
    rng = np.random.default_rng(FLAGS.seed)
    shown = [int(rng.choice(np.flatnonzero(data.y_test == d))) for d in np.unique(data.y_test)]
    originals = data.x_test[shown]
    rebuilt = views.autoencoder.predict(originals, verbose=0)
    errors = np.mean((rebuilt - originals) ** 2, axis=1)
    plots.image_grid(
        # Clipped to the pixel range for display only: the linear output layer can overshoot slightly.
        np.concatenate([originals, np.clip(rebuilt, 0.0, 1.0)]),
        [f"test digit {data.y_test[i]}" for i in shown] + [f"reconstruction\nMSE {e:.4f}" for e in errors],
        directory / "reconstructions.png",
        n_cols=len(shown),
        cell_inches=1.4,
        suptitle=f"Test images (top) and their reconstructions through the {FLAGS.code_dim}-d code (bottom)",
    )

    pixel_model, code_model = results["pixels"].model, results["codes"].model
    pixel_order, code_order = columns["pixels"][1], columns["codes"][1]
    decoded = views.decoder.predict(code_model.cluster_centers_[code_order], verbose=0)
    plots.image_grid(
        np.concatenate([pixel_model.cluster_centers_[pixel_order], np.clip(decoded, 0.0, 1.0)]),
        centre_titles("pixels", data.y_train, pixel_model.labels_, pixel_order)
        + centre_titles("codes", data.y_train, code_model.labels_, code_order),
        directory / "centres.png",
        n_cols=min(FLAGS.k, 10),
        cell_inches=1.5,
        suptitle=f"K-means centres: in pixel space (top) and in code space, decoded (bottom); "
        f"majority digit, its share, cluster size ({n_train:,} training images)",
    )
    return {
        "confusion_matrix": "confusion_matrix.png",
        "reconstructions": "reconstructions.png",
        "centres": "centres.png",
    }


def seed_comparisons(
    results: dict[str, learned.Clustering], training: dict[str, Any], figures: dict[str, str]
) -> list[dict[str, Any]]:
    """The notebook's two purities, and its gain from the codes, beside ours."""
    purity = {key: results[key].scores["train"]["purity"] for key in SEED_PURITY}
    definition = "size-weighted purity: the fraction of training images in their cluster's majority digit"
    n_train = len(results["pixels"].model.labels_)
    setup = (
        f"Ours: k={FLAGS.k}, {runner.estimator_params()['n_init']} k-means++ restarts, fitted on "
        f"{n_train:,} MNIST training images{' (quick subset)' if FLAGS.quick else ''}; the notebook does not "
        "say which images it scored."
    )
    network = (
        f"Our autoencoder is DEC's dense 784-500-500-2000-{FLAGS.code_dim} network trained without labels "
        f"for {training['epochs']} epochs (MSE, Adam {LEARNING_RATE:g}, batch {training['batch_size']}); the "
        "notebook's was a 'convolutional and dense network' with a 10-d code, size and training unstated."
    )
    gain = purity["codes"] - purity["pixels"]
    orphans = {
        key: ", ".join(str(d) for d in range(10) if d not in results[key].mapping) or "none" for key in SEED_PURITY
    }
    coverage = (
        f"Digits that are the majority of no cluster: {orphans['pixels']} on pixels, {orphans['codes']} on "
        "codes (the notebook: with codes every digit has a cluster)."
    )
    return [
        runner.seed_comparison(
            source=SOURCE,
            quantity=f"purity of k={FLAGS.k} K-means on raw pixels (train)",
            seed_value=SEED_PURITY["pixels"],
            ours=purity["pixels"],
            approximate=True,
            definition=definition,
            note=setup,
            figures=[figures["confusion_matrix"]],
        ),
        runner.seed_comparison(
            source=SOURCE,
            quantity=f"purity of k={FLAGS.k} K-means on {FLAGS.code_dim}-d autoencoder codes (train)",
            seed_value=SEED_PURITY["codes"],
            ours=purity["codes"],
            approximate=True,
            definition=definition,
            note=f"{network} {setup} {coverage}",
            figures=[figures["confusion_matrix"], figures["centres"]],
        ),
        runner.seed_comparison(
            source=SOURCE,
            quantity="purity gained by clustering codes instead of pixels (train)",
            seed_value=round(SEED_PURITY["codes"] - SEED_PURITY["pixels"], 2),
            ours=gain,
            approximate=True,
            definition="purity on codes minus purity on pixels, same k and K-means settings",
            note="The codes "
            + ("help here, as in the notebook." if gain > 0 else "do not help here, unlike in the notebook."),
            headline=False,
            figures=[figures["confusion_matrix"]],
        ),
        runner.seed_comparison(
            source=SOURCE,
            quantity="accuracy of K-means on autoencoder codes (test, training map)",
            seed_value=SEED_PURITY["codes"],
            ours=results["codes"].scores["test"]["accuracy_with_training_map"],
            approximate=True,
            definition="test codes assigned to the centres fitted on the training codes, each cluster labelled "
            "with its majority training digit",
            note="The notebook reports one purity; this is the held-out figure.",
            headline=False,
        ),
    ]


def summary_markdown(
    spaces: Sequence[learned.FeatureSpace],
    results: dict[str, learned.Clustering],
    training: dict[str, Any],
    comparisons: Sequence[dict[str, Any]],
    data: runner.MnistSplits,
    command: str,
) -> str:
    """The summary.md text: setup, training, scores, comparison with the seed, figures."""
    mse = training["reconstruction_mse"]
    return "\n".join(
        [
            "# K-means on autoencoder codes and on raw pixels (seed 004)",
            "",
            f"`{command}`",
            "",
            f"Autoencoder 784-500-500-2000-{FLAGS.code_dim} (ReLU, linear code and output), MSE, Adam "
            f"{LEARNING_RATE:g}, batch {training['batch_size']}, seed {FLAGS.seed}, trained without labels on "
            f"{len(data.x_train):,} training images. {learned.training_sentence(training)} Reconstruction MSE: "
            f"train {mse['train']:.4f}, test {mse['test']:.4f} (the mean training image scores "
            f"{mse['test_mean_image']:.4f} on the test images). " + learned.kmeans_sentence(len(data.x_test)),
            "",
            *learned.scores_section(spaces, results),
            *runner.closing_sections(
                comparisons,
                [
                    "- `confusion_matrix.png`: true digit × cluster on the training images, pixels and codes side by side.",
                    "- `reconstructions.png`: one test image of each digit above its reconstruction.",
                    "- `centres.png`: the centres of K-means on pixels (top) and on codes, decoded to images (bottom).",
                ],
            ),
        ]
    )


def write_outputs(
    spaces: Sequence[learned.FeatureSpace],
    results: dict[str, learned.Clustering],
    training: dict[str, Any],
    data: runner.MnistSplits,
    stages: learned.Stages,
    figures: dict[str, str],
    directory: Path,
) -> None:
    """Print the table and write metrics.json and summary.md."""
    comparisons = seed_comparisons(results, training, figures)
    print(learned.scores_table(spaces, results))
    head = runner.record_head("autoencoder", "K-means on autoencoder codes and on raw pixels")
    command = head["command"]
    runner.write_metrics(
        {
            **head,
            "data": {"n_train": len(data.x_train), "n_test": len(data.x_test), "quick": FLAGS.quick},
            "network": {
                "layout": f"784-500-500-2000-{FLAGS.code_dim}",
                "loss": "mse",
                "optimizer": "adam",
                "learning_rate": LEARNING_RATE,
                "batch_size": training["batch_size"],
                "labels_used": False,
            },
            "training": training,
            "results": {key: clustering.scores for key, clustering in results.items()},
            "cluster_sizes": {
                key: {
                    "train": np.bincount(c.model.labels_, minlength=FLAGS.k),
                    "test": np.bincount(c.test_clusters, minlength=FLAGS.k),
                }
                for key, c in results.items()
            },
            "train_confusion_sorted": {key: sorted_columns(data.y_train, c)[0] for key, c in results.items()},
            "timings_s": stages.seconds,
            "seed_comparisons": comparisons,
            "figures": figures,
        },
        directory,
    )
    runner.write_text("summary.md", summary_markdown(spaces, results, training, comparisons, data, command), directory)


def main(argv: Sequence[str]) -> None:
    del argv  # everything comes through flags
    directory = runner.output_dir()
    stages = learned.Stages()
    with stages("total"):
        data = learned.load_data(stages)
        views = networks.dense_autoencoder(code_dim=FLAGS.code_dim)
        with stages("train"):
            training = train_autoencoder(views, data, directory)
        with stages("encode"):
            spaces = feature_spaces(views.encoder, data)
        with stages("kmeans"):
            results = learned.cluster_spaces(spaces, data)
        with stages("figures"):
            figures = save_figures(views, data, spaces, results, directory)
    write_outputs(spaces, results, training, data, stages, figures, directory)


if __name__ == "__main__":
    runner.set_defaults(output_dir="runs/autoencoder")
    runner.run(main)
