"""K-means on the features of a LeNet-5 trained WITH LABELS, the elbow curve and 10x10 cluster grids (seed 002).

The blog "K-Means clustering of MNIST dataset" (seed 002) trains a LeNet
classifier on the digit labels, takes each image's vector from the layer before
the final softmax (10 values), reads k=10 off the elbow of the within-cluster
sum of squares for k = 1..14, clusters with K-means and scores "accuracy" as the
unweighted mean over clusters of (majority-digit count / cluster size): 89.04 %,
and 98.5 % with a simpler CNN. It shows 100 random images of every cluster as a
10x10 grid.

**These features are supervised**: the network learnt them from the true digits,
so K-means on them is not unsupervised clustering of MNIST; it shows how well a
classifier's feature space separates the classes. Raw-pixel K-means (no labels)
is run beside it for contrast.

This study trains :func:`experiments.networks.lenet5` (Adam, sparse categorical
cross-entropy on logits, ``--epochs`` epochs) on the 60,000 training images,
extracts its 84-d penultimate features and its 10-d logits (the layer the blog
clustered) for the training and test images, fits :class:`tfkmeans.KMeans` on
the training features of each (and on raw pixels) and assigns the test images to
those centres. It also sweeps k = 1..``--elbow_k_max`` on both feature sets and
circles the knee of each inertia curve with the rule of :mod:`experiments.select_k`
(:func:`experiments.plots.knee_point`).

Usage::

    python -m experiments.lenet                 # writes runs/lenet/
    python -m experiments.lenet --reuse         # load the trained weights, skip training
    python -m experiments.lenet --epochs=10
    python -m experiments.lenet --quick         # seconds-long smoke test

Outputs in ``--output_dir``: ``metrics.json``, ``summary.md``, ``elbow.png``
(inertia against k, knees circled), ``cluster_grids.png`` (100 random training
images of every cluster of the penultimate features, one 10x10 grid per cluster)
and the weights ``lenet5-<setup>.weights.h5`` that ``--reuse`` loads.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import keras
import numpy as np
from absl import flags, logging

from experiments import learned, networks, plots, runner
from tfkmeans import metrics

FLAGS = flags.FLAGS

#: Largest k of the elbow curve in ``--quick`` mode: every k costs a K-means trace of its own.
QUICK_ELBOW_K_MAX = 6

learned.define_flags(epochs=2, batch_size=128)
flags.DEFINE_integer(
    "elbow_k_max",
    14,
    f"The elbow curve runs k = 1..elbow_k_max (the blog's: 14; at most {QUICK_ELBOW_K_MAX} in --quick mode).",
    lower_bound=3,
)
flags.DEFINE_integer(
    "elbow_n_init", 3, "K-means restarts per k of the elbow curve (capped in --quick mode).", lower_bound=1
)
flags.DEFINE_integer(
    "grid_side", 10, "Cluster grids show grid_side x grid_side images (the blog's: 10 x 10).", lower_bound=1
)

SOURCE = runner.SEED_DOCUMENTS["lenet"]
#: The blog's "accuracy" (mean cluster purity) on its LeNet's 10-d pre-softmax vectors, and with a simpler CNN.
SEED_LENET = 0.8904
SEED_SIMPLER_CNN = 0.985
SEED_ELBOW_K = 10
LEARNING_RATE = 1e-3
#: Images per forward pass when extracting features (memory only; no effect on the numbers).
PREDICT_BATCH = 1024
#: The two learned feature spaces, by key: (layer name in networks.lenet5, description).
LAYERS = {
    "penultimate": ("penultimate", "LeNet-5 penultimate features (84-d, trained with labels)"),
    "logits": ("logits", "LeNet-5 logits (10-d, trained with labels)"),
}


def train_lenet(model: keras.Model, data: runner.MnistSplits, directory: Path) -> dict[str, Any]:
    """Train LeNet-5 on the training digits and their labels (or load it with ``--reuse``)."""
    epochs, batch_size = learned.training_budget(FLAGS.epochs, FLAGS.batch_size, FLAGS.quick)
    model.compile(
        optimizer=keras.optimizers.Adam(LEARNING_RATE),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    path = networks.weights_path(
        directory, "lenet5", n=len(data.x_train), seed=FLAGS.seed, epochs=epochs, batch=batch_size
    )
    return learned.train(
        model,
        path,
        FLAGS.reuse,
        networks.as_images(data.x_train),
        data.y_train,
        epochs=epochs,
        batch_size=batch_size,
        validation_data=(networks.as_images(data.x_test), data.y_test),
    )


def feature_spaces(model: keras.Model, data: runner.MnistSplits) -> list[learned.FeatureSpace]:
    """Raw pixels, then the penultimate features and logits of the training and test images."""
    extractor = keras.Model(model.inputs, [model.get_layer(layer).output for layer, _ in LAYERS.values()])
    train, test = (
        extractor.predict(networks.as_images(x), batch_size=PREDICT_BATCH, verbose=0)
        for x in (data.x_train, data.x_test)
    )
    return [learned.FeatureSpace("pixels", "raw pixels (784-d, no labels)", data.x_train, data.x_test)] + [
        learned.FeatureSpace(key, title, train[index], test[index])
        for index, (key, (_, title)) in enumerate(LAYERS.items())
    ]


def classifier_accuracy(spaces: Sequence[learned.FeatureSpace], data: runner.MnistSplits) -> dict[str, float]:
    """LeNet-5's own accuracy as a classifier (argmax of its logits), train and test: the supervised ceiling."""
    logits = next(space for space in spaces if space.key == "logits")
    return {
        "train": float(np.mean(logits.train.argmax(axis=1) == data.y_train)),
        "test": float(np.mean(logits.test.argmax(axis=1) == data.y_test)),
    }


def elbow_curves(spaces: Sequence[learned.FeatureSpace]) -> dict[str, dict[str, Any]]:
    """Inertia of K-means on the training features for k = 1..elbow_k_max, and the knee, per feature space."""
    n_init = runner.restart_budget(FLAGS.elbow_n_init, FLAGS.quick)
    ks = list(range(1, (min(FLAGS.elbow_k_max, QUICK_ELBOW_K_MAX) if FLAGS.quick else FLAGS.elbow_k_max) + 1))
    curves = {}
    for space in spaces:
        inertias = []
        for k in ks:
            # Lloyd's loop, traced once, serves every k (Elkan's bounds, the 'auto' choice, are traced anew
            # for each k); its passes are cheap on these narrow features, and both give the same partition.
            # One cluster: every start ends at the mean, so one run suffices.
            model = runner.estimator("kmeans", k, n_init=1 if k == 1 else n_init, algorithm="lloyd")
            inertias.append(model.fit(space.train).inertia_)
        knee = plots.knee_point(ks, inertias)
        logging.info("Elbow on %s: knee at k=%d", space.key, knee)
        curves[space.key] = {"k": ks, "inertia": inertias, "knee": knee, "n_init": n_init}
    return curves


def save_figures(
    spaces: Sequence[learned.FeatureSpace],
    results: dict[str, learned.Clustering],
    curves: dict[str, dict[str, Any]],
    data: runner.MnistSplits,
    directory: Path,
) -> dict[str, str]:
    """Write the elbow chart and the cluster grids of the penultimate features; return their file names."""
    titles = {space.key: space.title for space in spaces}
    ks = curves["penultimate"]["k"]
    plots.line_chart(
        ks,
        {titles[key]: np.asarray(curve["inertia"]) / curve["inertia"][0] for key, curve in curves.items()},
        directory / "elbow.png",
        title=f"Elbow method on features learnt WITH LABELS by LeNet-5, {len(data.x_train):,} training images\n"
        f"circled: the knee (point farthest from the chord k={ks[0]}..{ks[-1]}, axes scaled to [0, 1])",
        xlabel="number of clusters k",
        ylabel="inertia(k) / inertia(1)  (share of the total sum of squares)",
        marked={titles[key]: curve["knee"] for key, curve in curves.items()},
    )

    labels = results["penultimate"].model.labels_
    order = [int(c) for c in metrics.cluster_order(data.y_train, labels)]
    descriptions = plots.cluster_descriptions(labels, data.y_train, multiline=True)
    rng = np.random.default_rng(FLAGS.seed)
    per_cluster = FLAGS.grid_side**2
    mosaics = []
    for cluster in order:
        members = np.flatnonzero(labels == cluster)
        shown = rng.choice(members, size=min(per_cluster, len(members)), replace=False)
        mosaics.append(plots.tile_images(data.x_train[shown], FLAGS.grid_side))
    plots.image_grid(
        np.stack(mosaics),
        [descriptions[c] for c in order],
        directory / "cluster_grids.png",
        n_cols=5,
        cell_inches=3.2,
        suptitle=f"{per_cluster} random training images of each K-means cluster (k={FLAGS.k}) of "
        f"{titles['penultimate']}, sorted by majority digit",
    )
    return {"elbow": "elbow.png", "cluster_grids": "cluster_grids.png"}


def elbow_note(curve: dict[str, Any]) -> str:
    """How much the clusters just before and after the blog's k=10 remove, beside what the knee rule picked."""
    ks, inertia = curve["k"], curve["inertia"]
    if SEED_ELBOW_K - 1 not in ks or SEED_ELBOW_K + 1 not in ks:
        return ""
    at = ks.index(SEED_ELBOW_K)
    before, after = ((inertia[i - 1] - inertia[i]) / inertia[0] for i in (at, at + 1))
    verdict = (
        "the chord rule agrees."
        if curve["knee"] == SEED_ELBOW_K
        else f"the chord rule weighs the whole, smoothly bending curve and picks k={curve['knee']}."
    )
    return (
        f" Going from k={SEED_ELBOW_K - 1} to {SEED_ELBOW_K} removes {before:.1%} of the total sum of squares, "
        f"from {SEED_ELBOW_K} to {SEED_ELBOW_K + 1} {after:.1%}: "
        + ("the curve flattens after k=10 as the blog saw, and " if after < before / 2 else "")
        + verdict
    )


def seed_comparisons(
    results: dict[str, learned.Clustering],
    curves: dict[str, dict[str, Any]],
    training: dict[str, Any],
    accuracy: dict[str, float],
    figures: dict[str, str],
) -> list[dict[str, Any]]:
    """The blog's 89 % and 98.5 % and its elbow at k=10 beside ours, every entry saying the features are supervised."""
    ours = {key: results[key].scores["train"]["mean_cluster_purity"] for key in LAYERS}
    definition = (
        "the blog's 'accuracy': unweighted mean over clusters of (majority-digit count / cluster size), training images"
    )
    supervised = (
        f"Supervised features: LeNet-5 (6 and 16 5x5 filters, dense 120-84-10) trained WITH LABELS for "
        f"{training['epochs']} epochs (classification accuracy {accuracy['test']:.2%} on the test images), "
        f"K-means (k={FLAGS.k}) fitted on the {len(results['pixels'].model.labels_):,} training images. The blog "
        "trained its LeNet (20 and 50 5x5 filters, max pooling, two dense layers) WITH LABELS to 95.81 % and "
        "clustered the 10 values before the softmax on all 70,000 images."
    )
    return [
        runner.seed_comparison(
            source=SOURCE,
            quantity=f"K-means on {LAYERS['penultimate'][1]}: mean cluster purity (train)",
            seed_value=SEED_LENET,
            ours=ours["penultimate"],
            format="percent",
            definition=definition,
            note=supervised + " Its 'penultimate layer' is that 10-d output; our 84-d layer is one earlier.",
            figures=[figures["cluster_grids"]],
        ),
        runner.seed_comparison(
            source=SOURCE,
            quantity=f"K-means on {LAYERS['logits'][1]}: mean cluster purity (train)",
            seed_value=SEED_LENET,
            ours=ours["logits"],
            format="percent",
            definition=definition,
            note=supervised + " The logits are the layer the blog clustered.",
        ),
        runner.seed_comparison(
            source=SOURCE,
            quantity="K-means on a simpler CNN's pre-softmax outputs (trained with labels) against "
            "ours on LeNet-5 logits (trained with labels): mean cluster purity (train)",
            seed_value=SEED_SIMPLER_CNN,
            ours=ours["logits"],
            format="percent",
            definition=definition,
            note="The blog's update reached 98.5 % with the Keras example CNN trained WITH LABELS, clustering the "
            "layer before the final activation; we did not train that network: ours is the same layer of "
            "LeNet-5.",
            headline=False,
        ),
        *[
            runner.seed_comparison(
                source=SOURCE,
                quantity=f"k at the elbow of inertia on {LAYERS[key][1]}, "
                f"k={curves[key]['k'][0]}..{curves[key]['k'][-1]}",
                seed_value=SEED_ELBOW_K,
                ours=curves[key]["knee"],
                format="int",
                definition="knee = point farthest from the chord of the inertia curve, both axes scaled to [0, 1]",
                note="The blog read its elbow by eye on its LeNet's 10-d vectors (trained with labels)."
                + elbow_note(curves[key]),
                headline=key == "penultimate",
                figures=[figures["elbow"]],
            )
            for key in LAYERS
        ],
    ]


def summary_markdown(
    spaces: Sequence[learned.FeatureSpace],
    results: dict[str, learned.Clustering],
    curves: dict[str, dict[str, Any]],
    training: dict[str, Any],
    accuracy: dict[str, float],
    comparisons: Sequence[dict[str, Any]],
    data: runner.MnistSplits,
    command: str,
) -> str:
    """The summary.md text: setup, scores, elbow, comparison with the seed, figures."""
    elbow_rows = [
        {
            "k": k,
            **{
                f"inertia/image, {LAYERS[key][1]}": curve["inertia"][i] / len(data.x_train)
                for key, curve in curves.items()
            },
        }
        for i, k in enumerate(curves["penultimate"]["k"])
    ]
    return "\n".join(
        [
            "# K-means on LeNet-5 features trained WITH LABELS (seed 002)",
            "",
            f"`{command}`",
            "",
            "**The LeNet-5 features are supervised: the network was trained on the true digits.** K-means on them "
            "measures how well a classifier's feature space separates the digits, not unsupervised clustering; "
            "raw-pixel K-means (no labels) is shown for contrast.",
            "",
            f"LeNet-5, Adam {LEARNING_RATE:g}, sparse categorical cross-entropy, batch {training['batch_size']}, seed "
            f"{FLAGS.seed}, {len(data.x_train):,} labelled training images. {learned.training_sentence(training)} "
            f"Classification accuracy {accuracy['train']:.2%} (train), {accuracy['test']:.2%} (test). "
            + learned.kmeans_sentence(len(data.x_test)),
            "",
            *learned.scores_section(spaces, results),
            'Mean cluster purity is the blog\'s "accuracy".',
            "",
            f"## Elbow (features trained with labels; n_init={curves['penultimate']['n_init']} per k)",
            "",
            runner.format_table(elbow_rows, markdown=True),
            "",
            "Knee (point farthest from the chord, axes scaled to [0, 1]): "
            + ", ".join(f"{LAYERS[key][1]}: k={curve['knee']}" for key, curve in curves.items())
            + ".",
            *runner.closing_sections(
                comparisons,
                [
                    "- `elbow.png`: inertia against k on the penultimate features and on the logits (both trained with "
                    "labels), as a share of the inertia at k=1; knees circled.",
                    f"- `cluster_grids.png`: {FLAGS.grid_side**2} random training images of every cluster of the "
                    "penultimate features (trained with labels).",
                ],
            ),
        ]
    )


def write_outputs(
    spaces: Sequence[learned.FeatureSpace],
    results: dict[str, learned.Clustering],
    curves: dict[str, dict[str, Any]],
    training: dict[str, Any],
    data: runner.MnistSplits,
    stages: learned.Stages,
    figures: dict[str, str],
    directory: Path,
) -> None:
    """Print the table and write metrics.json and summary.md."""
    accuracy = classifier_accuracy(spaces, data)
    comparisons = seed_comparisons(results, curves, training, accuracy, figures)
    print(learned.scores_table(spaces, results))
    print("elbow knees:", {key: curve["knee"] for key, curve in curves.items()})
    head = runner.record_head(
        "lenet", "K-means on LeNet-5 features trained with labels (supervised), elbow and cluster grids"
    )
    command = head["command"]
    runner.write_metrics(
        {
            **head,
            "data": {"n_train": len(data.x_train), "n_test": len(data.x_test), "quick": FLAGS.quick},
            "network": {
                "name": "lenet5",
                "labels_used": True,
                "loss": "sparse categorical cross-entropy (logits)",
                "optimizer": "adam",
                "learning_rate": LEARNING_RATE,
                "batch_size": training["batch_size"],
            },
            "training": training,
            "classifier_accuracy": accuracy,
            "feature_spaces": {space.key: space.title for space in spaces},
            "results": {key: clustering.scores for key, clustering in results.items()},
            "cluster_sizes": {
                key: {
                    "train": np.bincount(c.model.labels_, minlength=FLAGS.k),
                    "test": np.bincount(c.test_clusters, minlength=FLAGS.k),
                }
                for key, c in results.items()
            },
            "elbow": curves,
            "timings_s": stages.seconds,
            "seed_comparisons": comparisons,
            "figures": figures,
        },
        directory,
    )
    runner.write_text(
        "summary.md",
        summary_markdown(spaces, results, curves, training, accuracy, comparisons, data, command),
        directory,
    )


def main(argv: Sequence[str]) -> None:
    del argv  # everything comes through flags
    directory = runner.output_dir()
    stages = learned.Stages()
    with stages("total"):
        data = learned.load_data(stages)
        model = networks.lenet5()
        with stages("train"):
            training = train_lenet(model, data, directory)
        with stages("features"):
            spaces = feature_spaces(model, data)
        with stages("kmeans"):
            results = learned.cluster_spaces(spaces, data)
        with stages("elbow"):
            curves = elbow_curves([space for space in spaces if space.key in LAYERS])
        with stages("figures"):
            figures = save_figures(spaces, results, curves, data, directory)
    write_outputs(spaces, results, curves, training, data, stages, figures, directory)


if __name__ == "__main__":
    runner.set_defaults(output_dir="runs/lenet")
    runner.run(main)
