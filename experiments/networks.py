"""The Keras networks of the learned-feature studies, and their seeded, cached training.

:func:`dense_autoencoder` is the 784-500-500-2000-10 autoencoder of DEC and N2D
(seed 004 used a smaller one of the same kind), :func:`lenet5` the classic
convolutional network whose penultimate features seed 002 clusters, and
:func:`small_cnn` the classifier that the unsupervised study trains on cluster
labels. :func:`fit_or_load` trains a model once and keeps its weights under the
run's output directory, so that ``--reuse`` skips training on a rerun.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, NamedTuple

import keras
import numpy as np
import tensorflow as tf
from absl import logging

__all__ = [
    "Autoencoder",
    "augmentation",
    "dense_autoencoder",
    "fit_or_load",
    "lenet5",
    "seed_everything",
    "small_cnn",
    "weights_path",
]

IMAGE_SHAPE = (28, 28, 1)
N_PIXELS = 784


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and TensorFlow, and make TensorFlow's kernels deterministic.

    With op determinism on, a rerun with the same seed on the same machine and
    library versions trains the same weights (TensorFlow's documented guarantee).
    """
    keras.utils.set_random_seed(seed)
    tf.config.experimental.enable_op_determinism()


class Autoencoder(NamedTuple):
    """The three views of one autoencoder; they share their layers (and so their weights)."""

    autoencoder: keras.Model
    encoder: keras.Model
    decoder: keras.Model


def dense_autoencoder(
    code_dim: int = 10, hidden: tuple[int, ...] = (500, 500, 2000), input_dim: int = N_PIXELS
) -> Autoencoder:
    """A symmetric dense autoencoder with ReLU layers and a linear code and output.

    Parameters
    ----------
    code_dim : int, default 10
        Width of the code the studies cluster.
    hidden : tuple of int, default (500, 500, 2000)
        Encoder widths; the decoder mirrors them (DEC's layout).
    input_dim : int, default 784
        Pixels per image.

    Returns
    -------
    Autoencoder
        ``autoencoder`` maps images to reconstructions (train it with MSE),
        ``encoder`` images to codes, ``decoder`` codes to images.
    """
    images = keras.Input((input_dim,), name="pixels")
    hidden_layer = images
    for index, width in enumerate(hidden):
        hidden_layer = keras.layers.Dense(width, activation="relu", name=f"encoder_{index}")(hidden_layer)
    code = keras.layers.Dense(code_dim, name="code")(hidden_layer)
    encoder = keras.Model(images, code, name="encoder")

    codes = keras.Input((code_dim,), name="code_in")
    hidden_layer = codes
    for index, width in enumerate(reversed(hidden)):
        hidden_layer = keras.layers.Dense(width, activation="relu", name=f"decoder_{index}")(hidden_layer)
    reconstruction = keras.layers.Dense(input_dim, name="reconstruction")(hidden_layer)
    decoder = keras.Model(codes, reconstruction, name="decoder")

    autoencoder = keras.Model(images, decoder(encoder(images)), name="autoencoder")
    return Autoencoder(autoencoder, encoder, decoder)


def lenet5(n_classes: int = 10) -> keras.Model:
    """LeNet-5 for 28x28 images: two convolution/pooling stages, then 120 -> 84 -> classes.

    The 84-wide layer is named ``"penultimate"`` (the features seed 002 clusters)
    and the model outputs logits.
    """
    return keras.Sequential(
        [
            keras.Input(IMAGE_SHAPE, name="image"),
            keras.layers.Conv2D(6, 5, padding="same", activation="relu"),
            keras.layers.AveragePooling2D(2),
            keras.layers.Conv2D(16, 5, activation="relu"),
            keras.layers.AveragePooling2D(2),
            keras.layers.Flatten(),
            keras.layers.Dense(120, activation="relu"),
            keras.layers.Dense(84, activation="relu", name="penultimate"),
            keras.layers.Dense(n_classes, name="logits"),
        ],
        name="lenet5",
    )


def augmentation(shift: float = 0.1, rotation: float = 0.05) -> list[keras.layers.Layer]:
    """Random shifts (a fraction of the side) and rotations (a fraction of a turn), active in training only."""
    return [keras.layers.RandomTranslation(shift, shift), keras.layers.RandomRotation(rotation)]


def small_cnn(n_classes: int = 10, *, augment: bool = False) -> keras.Model:
    """A small convolutional classifier (two 3x3 convolution/pooling stages, dropout) that outputs logits.

    With ``augment`` its training batches are randomly shifted by up to 10 % and
    rotated by up to 18 degrees (:func:`augmentation`); prediction sees the images as they are.
    """
    return keras.Sequential(
        [
            keras.Input(IMAGE_SHAPE, name="image"),
            *(augmentation() if augment else []),
            keras.layers.Conv2D(32, 3, activation="relu"),
            keras.layers.MaxPooling2D(2),
            keras.layers.Conv2D(64, 3, activation="relu"),
            keras.layers.MaxPooling2D(2),
            keras.layers.Flatten(),
            keras.layers.Dropout(0.3),
            keras.layers.Dense(128, activation="relu"),
            keras.layers.Dense(n_classes, name="logits"),
        ],
        name="small_cnn",
    )


def weights_path(directory: str | Path, name: str, **setup: Any) -> Path:
    """Where a network's weights are kept: ``<directory>/<name>-<key><value>-....weights.h5``.

    The training setup is part of the file name so that ``--reuse`` loads only
    weights trained the same way (a quick run's weights are never taken for a
    full run's, nor one seed's for another's).

    Examples
    --------
    >>> weights_path("runs/lenet", "lenet5", n=60000, seed=0, epochs=2).as_posix()
    'runs/lenet/lenet5-n60000-seed0-epochs2.weights.h5'
    """
    tag = "-".join(f"{key}{value}" for key, value in setup.items())
    return Path(directory) / (f"{name}-{tag}.weights.h5" if tag else f"{name}.weights.h5")


def fit_or_load(
    model: keras.Model, weights_path: str | Path, reuse: bool, *fit_args: Any, **fit_kwargs: Any
) -> keras.callbacks.History | None:
    """Train ``model`` and save its weights, or load them when ``reuse`` and they exist.

    Parameters
    ----------
    model : keras.Model
        Compiled model.
    weights_path : str or Path
        Where the weights are kept; must end in ``.weights.h5`` (Keras 3).
    reuse : bool
        Load existing weights instead of training.
    *fit_args, **fit_kwargs
        Passed to ``model.fit``.

    Returns
    -------
    keras.callbacks.History or None
        The training history, or None when the weights were loaded.
    """
    weights_path = Path(weights_path)
    if reuse and weights_path.is_file():
        model.load_weights(weights_path)
        logging.info("Loaded %s weights from %s (--reuse)", model.name, weights_path)
        return None
    history = model.fit(*fit_args, **fit_kwargs)
    weights_path.parent.mkdir(parents=True, exist_ok=True)
    model.save_weights(weights_path)
    logging.info("Saved %s weights to %s", model.name, weights_path)
    return history


def as_images(pixels: np.ndarray) -> np.ndarray:
    """Flat 784-pixel rows as (n, 28, 28, 1) images for the convolutional networks."""
    return np.asarray(pixels, np.float32).reshape((-1, *IMAGE_SHAPE))
