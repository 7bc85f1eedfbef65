"""What the learned-feature studies share: their flags, seeded cached training, K-means per feature space.

:mod:`experiments.autoencoder` (seed 004) and :mod:`experiments.lenet` (seed 002)
train a Keras network on MNIST, take features from it and cluster them with
:class:`tfkmeans.KMeans` beside raw pixels. This module holds the pieces both do
the same way; it defines no flags at import (:func:`define_flags` does, when a
study calls it), so tests can import it beside other experiment modules.

- :func:`define_flags`: ``--epochs`` and the shared ``--batch_size``, ``--reuse``,
  ``--k``, ``--n_init``, ``--max_iter`` (:func:`experiments.runner.define_flags`);
  :func:`load_data` loads MNIST and seeds everything.
- :func:`train`: :func:`experiments.networks.fit_or_load` with one progress line
  per epoch, weights kept under a name that records the training setup
  (:func:`experiments.networks.weights_path`), so ``--reuse`` never loads another setup's weights.
- :func:`cluster_space` (:func:`cluster_spaces` for several, K-means built from the
  flags): K-means fitted on the training features of one :class:`FeatureSpace`,
  test features assigned to its centres, both scored.
- :func:`scores_table`, :func:`training_sentence`, :func:`kmeans_sentence`,
  :func:`scores_section`: pieces of summary.md (closed by :func:`experiments.runner.closing_sections`).
- :class:`Stages`: the wall time of every stage, for metrics.json.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, NamedTuple

import keras
import numpy as np
from absl import flags

from experiments import networks, runner
from tfkmeans import KMeans, metrics

__all__ = [
    "QUICK_BATCH_SIZE",
    "QUICK_EPOCHS",
    "Clustering",
    "FeatureSpace",
    "Stages",
    "cluster_space",
    "cluster_spaces",
    "define_flags",
    "history_path",
    "kmeans_sentence",
    "load_data",
    "scores_section",
    "scores_table",
    "train",
    "training_budget",
    "training_sentence",
]

#: Training epochs in ``--quick`` mode (at most).
QUICK_EPOCHS = 1
#: Largest training batch in ``--quick`` mode: the one epoch over the quick subset then takes enough
#: steps (63 for 2,000 images) for the networks to learn what the smoke test checks.
QUICK_BATCH_SIZE = 32

FLAGS = flags.FLAGS


def define_flags(*, epochs: int, batch_size: int) -> None:
    """Define the flags every learned-feature study has, with the study's training defaults.

    Call it once, at the import of the study's module (absl flags are process-wide).
    """
    flags.DEFINE_integer("epochs", epochs, f"Training epochs (at most {QUICK_EPOCHS} in --quick mode).", lower_bound=1)
    runner.define_flags("batch_size", "reuse", "k", "n_init", "max_iter", batch_size=batch_size, n_init=10)


def training_budget(epochs: int, batch_size: int, quick: bool) -> tuple[int, int]:
    """Epochs and batch size to train with: as given, capped at :data:`QUICK_EPOCHS` and
    :data:`QUICK_BATCH_SIZE` in quick mode."""
    if quick:
        return min(epochs, QUICK_EPOCHS), min(batch_size, QUICK_BATCH_SIZE)
    return epochs, batch_size


# -- timing and data -------------------------------------------------------------------------


class Stages:
    """Wall times of a study's named stages, gathered for ``metrics.json["timings_s"]``.

    Examples
    --------
    >>> stages = Stages()
    >>> with stages("load"):
    ...     pass
    >>> list(stages.seconds)
    ['load']
    """

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}

    @contextlib.contextmanager
    def __call__(self, label: str) -> Iterator[runner.Timer]:
        """Time a ``with`` block as :func:`runner.timed` does and record it under ``label``."""
        with runner.timed(label) as timer:
            yield timer
        self.seconds[label] = timer.seconds


def load_data(stages: Stages) -> runner.MnistSplits:
    """The study's MNIST splits (timed as stage "load"); then every generator seeded for the network to come."""
    with stages("load"):
        data = runner.load_data_from_flags()
    networks.seed_everything(FLAGS.seed)
    return data


# -- training ----------------------------------------------------------------------------------


def train(
    model: keras.Model,
    path: Path,
    reuse: bool,
    x: np.ndarray,
    y: np.ndarray,
    *,
    epochs: int,
    batch_size: int,
    validation_data: tuple[np.ndarray, np.ndarray],
) -> dict[str, Any]:
    """Train a compiled ``model`` (one progress line per epoch) and save its weights, or load them.

    Parameters
    ----------
    model : keras.Model
        Compiled.
    path : Path
        Weights file (see :func:`experiments.networks.weights_path`).
    reuse : bool
        Load ``path`` instead of training when it exists.
    x, y : ndarray
        Training inputs and targets.
    epochs, batch_size : int
        Passed to ``model.fit``.
    validation_data : (ndarray, ndarray)
        Scored after every epoch (shown in the progress line).

    Returns
    -------
    dict
        ``weights`` (file name), ``reused``, ``epochs``, ``batch_size``, ``seconds`` (this run's
        training or loading), and of the training that produced the weights: ``history``, one
        ``{"epoch": ..., "loss": ..., "val_loss": ..., ...}`` per epoch, and
        ``fit_seconds``. Both are kept beside the weights (:func:`history_path`),
        so a ``--reuse`` run reports them too; None if that file is missing.
    """
    with runner.timed(f"train {model.name}") as timer:
        history = networks.fit_or_load(
            model,
            path,
            reuse,
            x,
            y,
            epochs=epochs,
            batch_size=batch_size,
            validation_data=validation_data,
            shuffle=True,
            verbose=2,
        )
    if history is not None:
        fit = {
            "history": [
                {"epoch": epoch + 1, **{key: float(values[epoch]) for key, values in history.history.items()}}
                for epoch in range(len(history.epoch))
            ],
            "fit_seconds": timer.seconds,
        }
        history_path(path).write_text(json.dumps(fit, indent=2) + "\n")
    elif history_path(path).is_file():
        fit = json.loads(history_path(path).read_text())
    else:
        fit = {"history": None, "fit_seconds": None}
    return {
        "weights": path.name,
        "reused": history is None,
        "epochs": epochs,
        "batch_size": batch_size,
        "seconds": timer.seconds,
        **fit,
    }


def training_sentence(training: dict[str, Any]) -> str:
    """summary.md's account of :func:`train`'s record: epochs, time and final losses, and whether it was loaded."""
    if training["history"] is None:
        return f"Weights loaded from `{training['weights']}` (`--reuse`); their training history was not kept."
    last = training["history"][-1]
    text = (
        f"Trained for {training['epochs']} epochs in {training['fit_seconds']:.0f} s; final loss "
        f"{last['loss']:.4f} on the training images, {last['val_loss']:.4f} on the test images"
    )
    return text + (f" (weights loaded from `{training['weights']}` with `--reuse`)." if training["reused"] else ".")


def history_path(weights: Path) -> Path:
    """The JSON file beside ``weights`` that keeps the history of the training that produced them."""
    return weights.with_name(weights.name.removesuffix(".weights.h5") + ".history.json")


# -- K-means on feature spaces -------------------------------------------------------------------


class FeatureSpace(NamedTuple):
    """One representation of the images, clustered in its own right.

    Attributes
    ----------
    key : str
        Short name used in metrics.json (``"pixels"``, ``"codes"``, ...).
    title : str
        What tables and figures call it; says how the features were learnt
        (e.g. ``"LeNet-5 logits (10-d, trained with labels)"``).
    train, test : ndarray of shape (n_samples, n_features)
        Features of the training and of the test images.
    """

    key: str
    title: str
    train: np.ndarray
    test: np.ndarray


class Clustering(NamedTuple):
    """K-means fitted on one feature space (see :func:`cluster_space`)."""

    model: KMeans
    test_clusters: np.ndarray
    #: Cluster -> majority training digit (-1: empty), the map held-out images are scored with.
    mapping: np.ndarray
    #: ``{"train": {...}, "test": {...}}``, for metrics.json.
    scores: dict[str, dict[str, Any]]


def cluster_space(space: FeatureSpace, y_train: np.ndarray, y_test: np.ndarray, model: KMeans) -> Clustering:
    """Fit K-means on the training features, assign the test features, score both.

    Parameters
    ----------
    space : FeatureSpace
        The features.
    y_train, y_test : ndarray
        True digits (for scoring only).
    model : KMeans
        Unfitted; fitted here on ``space.train``.

    Returns
    -------
    Clustering
        Scores per split: :func:`runner.evaluate`'s, ``inertia_per_image``,
        ``accuracy_with_training_map`` (every cluster labelled with its majority
        *training* digit; on the training split it equals purity), seconds (fit for
        train, predict for test) and the iterations of the fit.
    """
    with runner.timed(f"K-means on {space.key}") as fit_time:
        model.fit(space.train)
    with runner.timed() as predict_time:
        test_clusters = model.predict(space.test)
    mapping = metrics.majority_labels(y_train, model.labels_)
    # score() is minus the inertia of the given points under the fitted centres.
    test_inertia = -model.score(space.test)
    scores = {
        "train": {
            **runner.evaluate(y_train, model.labels_),
            "accuracy_with_training_map": runner.mapped_accuracy(y_train, model.labels_, mapping),
            "inertia_per_image": model.inertia_ / len(space.train),
            "n_iter": model.n_iter_,
            "seconds": fit_time.seconds,
        },
        "test": {
            **runner.evaluate(y_test, test_clusters),
            "accuracy_with_training_map": runner.mapped_accuracy(y_test, test_clusters, mapping),
            "inertia_per_image": test_inertia / len(space.test),
            "n_iter": None,
            "seconds": predict_time.seconds,
        },
    }
    return Clustering(model, test_clusters, mapping, scores)


def cluster_spaces(spaces: Sequence[FeatureSpace], data: runner.MnistSplits) -> dict[str, Clustering]:
    """:func:`cluster_space` on every feature space with K-means built from the flags, by key."""
    return {space.key: cluster_space(space, data.y_train, data.y_test, runner.estimator("kmeans")) for space in spaces}


def kmeans_sentence(n_test: int) -> str:
    """The summary.md sentence on the K-means setup, with the quick-mode warning."""
    return (
        f"K-means: k={FLAGS.k}, n_init={runner.estimator_params()['n_init']}, fitted on the training features; "
        "test images "
        f"({n_test:,}) assigned to the nearest centre."
        + (" **Quick mode: subsets only, not comparable with the seed.**" if FLAGS.quick else "")
    )


def scores_section(spaces: Sequence[FeatureSpace], results: Mapping[str, Clustering]) -> list[str]:
    """summary.md's lines of :func:`scores_table` (Markdown) and what its accuracies mean."""
    return [
        scores_table(spaces, results, markdown=True),
        "",
        'Purity and mean cluster purity score each split with its own majority map; "accuracy, training map" '
        "labels the test clusters with their majority training digit.",
    ]


#: Columns of :func:`scores_table`: (header, key in the per-split scores).
TABLE_COLUMNS = (
    ("purity", "purity"),
    ("mean cluster purity", "mean_cluster_purity"),
    ("accuracy, training map", "accuracy_with_training_map"),
    ("Hungarian accuracy", "hungarian_accuracy"),
    ("NMI", "nmi"),
    ("ARI", "ari"),
    ("inertia / image", "inertia_per_image"),
)


def scores_table(spaces: Sequence[FeatureSpace], results: Mapping[str, Clustering], *, markdown: bool = False) -> str:
    """One row per feature space and split (train, then test), one column per score of :data:`TABLE_COLUMNS`."""
    rows = [
        {
            "features": space.title,
            "split": split,
            **{header: results[space.key].scores[split][key] for header, key in TABLE_COLUMNS},
        }
        for space in spaces
        for split in ("train", "test")
    ]
    return runner.format_table(rows, markdown=markdown)
