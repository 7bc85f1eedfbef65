"""Tests of experiments.networks: shapes, augmentation only in training, seeded and cached training."""

from __future__ import annotations

import keras
import numpy as np

from experiments import networks


def test_autoencoder_views_share_their_weights():
    model = networks.dense_autoencoder(code_dim=3, hidden=(8, 4), input_dim=12)
    x = np.random.default_rng(0).random((5, 12)).astype(np.float32)
    codes = model.encoder.predict(x, verbose=0)
    assert codes.shape == (5, 3)
    np.testing.assert_allclose(
        model.autoencoder.predict(x, verbose=0), model.decoder.predict(codes, verbose=0), rtol=1e-5, atol=1e-6
    )


def test_lenet_exposes_penultimate_features_and_logits():
    model = networks.lenet5()
    assert model.get_layer("penultimate").output.shape[-1] == 84
    assert model.output_shape == (None, 10)


def test_augmentation_acts_in_training_only():
    images = networks.as_images(np.random.default_rng(1).random((4, 784)))
    assert images.shape == (4, 28, 28, 1)
    networks.seed_everything(0)
    augmented = networks.small_cnn(augment=True)
    plain = networks.small_cnn()
    plain.set_weights(augmented.get_weights())  # the augmentation layers have no weights
    np.testing.assert_allclose(augmented.predict(images, verbose=0), plain.predict(images, verbose=0), rtol=1e-5)
    trained_view = augmented(images, training=True)
    assert not np.allclose(keras.ops.convert_to_numpy(trained_view), plain.predict(images, verbose=0))


def _train_tiny(seed: int, path, reuse: bool):
    networks.seed_everything(seed)
    model = networks.dense_autoencoder(code_dim=2, hidden=(6,), input_dim=8)
    model.autoencoder.compile(optimizer="adam", loss="mse")
    x = np.random.default_rng(0).random((64, 8)).astype(np.float32)
    history = networks.fit_or_load(model.autoencoder, path, reuse, x, x, epochs=2, batch_size=16, verbose=0)
    return model.autoencoder.get_weights(), history


def test_fit_or_load_is_seeded_and_reuses_saved_weights(tmp_path):
    path = tmp_path / "tiny.weights.h5"
    first, history = _train_tiny(3, path, reuse=False)
    assert history is not None and path.is_file()
    again, _ = _train_tiny(3, tmp_path / "again.weights.h5", reuse=False)
    for a, b in zip(first, again):  # the same seed trains the same weights
        np.testing.assert_array_equal(a, b)
    other, _ = _train_tiny(4, tmp_path / "other.weights.h5", reuse=False)
    assert not all(np.array_equal(a, b) for a, b in zip(first, other))
    loaded, history = _train_tiny(4, path, reuse=True)  # another seed, but the saved weights are loaded
    assert history is None
    for a, b in zip(first, loaded):
        np.testing.assert_array_equal(a, b)
