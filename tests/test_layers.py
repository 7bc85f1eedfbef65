"""Keras layers: KMeansLayer against the estimators and numpy, ClusteringLayer against DEC's formulas."""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf

import tfkmeans
from tfkmeans import KMeans, MiniBatchKMeans, NotFittedError
from tfkmeans.layers import ClusteringLayer, KMeansLayer, target_distribution


def numpy_distances(x: np.ndarray, centers: np.ndarray) -> np.ndarray:
    """Euclidean distances by direct differences in float64: the oracle."""
    x = np.asarray(x, np.float64).reshape(len(x), -1)
    return np.linalg.norm(x[:, None, :] - np.asarray(centers, np.float64)[None], axis=2)


def numpy_soft_assignment(z: np.ndarray, centers: np.ndarray, alpha: float) -> np.ndarray:
    """DEC's q_ij, straight from the paper's formula, in float64."""
    kernel = (1.0 + numpy_distances(z, centers) ** 2 / alpha) ** (-(alpha + 1.0) / 2.0)
    return kernel / kernel.sum(axis=1, keepdims=True)


@pytest.fixture(scope="module")
def three_blobs():
    """Three separated blobs in 5-D, float32 (so the layer and the estimator see the same values)."""
    rng = np.random.default_rng(0)
    means = np.array([[0, 0, 0, 0, 0], [6, 6, 0, 0, 0], [0, 6, 6, 6, 0]], np.float32)
    x = np.concatenate([mean + rng.normal(size=(40, 5)) for mean in means]).astype(np.float32)
    return x[rng.permutation(len(x))]


@pytest.fixture(scope="module")
def fitted(three_blobs):
    return KMeans(3, random_state=0).fit(three_blobs)


# -- KMeansLayer ------------------------------------------------------------------------------


def test_hand_computed_labels_and_distances():
    centers = np.array([[0.0, 0.0], [3.0, 4.0]])
    x = np.array([[0.0, 0.0], [3.0, 0.0], [3.0, 5.0], [-6.0, -8.0]], np.float32)
    np.testing.assert_array_equal(KMeansLayer(centers)(x), [0, 0, 1, 0])
    np.testing.assert_allclose(
        KMeansLayer(centers, "distances")(x), [[0, 5], [3, 4], [np.sqrt(34), 1], [10, 15]], rtol=1e-6
    )
    np.testing.assert_allclose(
        KMeansLayer(centers, "squared_distances")(x), [[0, 25], [9, 16], [34, 1], [100, 225]], rtol=1e-6
    )


@pytest.mark.parametrize("estimator_class", [KMeans, MiniBatchKMeans])
def test_equals_the_estimators_predict_and_transform(three_blobs, estimator_class):
    km = estimator_class(3, random_state=0).fit(three_blobs)
    labels = km.to_layer()(three_blobs).numpy()
    distances = KMeansLayer.from_estimator(km, "distances")(three_blobs).numpy()
    np.testing.assert_array_equal(labels, km.predict(three_blobs))
    np.testing.assert_allclose(distances, km.transform(three_blobs), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(distances, numpy_distances(three_blobs, km.cluster_centers_), rtol=1e-5, atol=1e-5)
    np.testing.assert_array_equal(labels, numpy_distances(three_blobs, km.cluster_centers_).argmin(axis=1))
    assert labels.dtype == np.int32 and distances.dtype == np.float32


def test_a_centre_is_at_distance_zero_from_itself():
    # Wide centres near the origin (not moved): the matmul expansion alone leaves ~1e-2 on the diagonal.
    centers = (np.random.default_rng(1).normal(size=(8, 64)) * 10).astype(np.float32)
    distances = KMeansLayer(centers, "distances")(centers).numpy()
    np.testing.assert_array_equal(np.diag(distances), np.zeros(8))
    np.testing.assert_allclose(distances, numpy_distances(centers, centers), rtol=1e-5)
    np.testing.assert_array_equal(KMeansLayer(centers)(centers), np.arange(8))


def test_images_are_flattened_as_predict_flattens_them():
    rng = np.random.default_rng(2)
    images = rng.uniform(0, 1, size=(60, 28, 28)).astype(np.float32)
    images[30:, :14] += 1.0  # two kinds of image
    km = KMeans(2, random_state=0).fit(images)
    model = keras.Sequential([keras.Input((28, 28)), km.to_layer("distances")])
    distances = model.predict(images, verbose=0)
    np.testing.assert_allclose(distances, km.transform(images), rtol=1e-5, atol=1e-4)
    np.testing.assert_allclose(distances, numpy_distances(images, km.cluster_centers_), rtol=1e-5, atol=1e-4)
    np.testing.assert_array_equal(km.to_layer()(images), km.predict(images))


def test_far_from_the_origin_equals_predict():
    # Two blobs at 1e4 +- 0.05: float32 distances about the origin would put every point in one cluster.
    rng = np.random.default_rng(3)
    truth = np.repeat([0, 1], 50)
    x = (1e4 + np.where(truth[:, None] == 0, -0.05, 0.05) + rng.normal(scale=0.005, size=(100, 2))).astype(np.float32)
    km = KMeans(2, random_state=0).fit(x)
    labels = km.to_layer()(x).numpy()
    np.testing.assert_array_equal(labels, km.predict(x))
    assert set(zip(truth, labels)) in ({(0, 0), (1, 1)}, {(0, 1), (1, 0)})
    distances = km.to_layer("distances")(x).numpy()
    np.testing.assert_allclose(distances, km.transform(x), atol=1e-5)
    np.testing.assert_allclose(distances, numpy_distances(x, km.cluster_centers_), atol=1e-5)
    # float64 input is moved before it is rounded to float32, as predict moves a float64 array.
    x64 = x.astype(np.float64) + rng.normal(scale=1e-4, size=x.shape)
    np.testing.assert_array_equal(km.to_layer()(x64), km.predict(x64))
    np.testing.assert_allclose(km.to_layer("distances")(x64), km.transform(x64), atol=1e-6)


def test_float64_estimator_gives_a_float64_layer(three_blobs):
    km = KMeans(3, random_state=0, dtype="float64").fit(three_blobs.astype(np.float64))
    layer = km.to_layer("distances")
    assert layer.dtype_policy.name == "float64"
    distances = layer(three_blobs.astype(np.float64)).numpy()
    assert distances.dtype == np.float64 and layer.centers.dtype == "float64"
    np.testing.assert_allclose(distances, km.transform(three_blobs), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(distances, numpy_distances(three_blobs, km.cluster_centers_), rtol=1e-12, atol=1e-12)
    np.testing.assert_array_equal(km.to_layer()(three_blobs), km.predict(three_blobs))
    # A float32 layer of the same fit, when asked for; a ClusteringLayer joins a float32 network.
    assert km.to_layer(dtype="float32")(three_blobs).numpy().tolist() == km.predict(three_blobs).tolist()
    assert ClusteringLayer.from_estimator(km).centers.dtype == "float32"


def test_scikit_learn_kmeans_too(three_blobs):
    from sklearn.cluster import KMeans as SklearnKMeans

    km = SklearnKMeans(3, n_init=1, random_state=0).fit(three_blobs)
    np.testing.assert_array_equal(KMeansLayer.from_estimator(km)(three_blobs), km.predict(three_blobs))
    with pytest.raises(NotFittedError, match="not fitted"):
        KMeansLayer.from_estimator(SklearnKMeans(3))


def test_in_functional_and_sequential_models(fitted, three_blobs):
    inputs = keras.Input((5,))
    outputs = {"labels": fitted.to_layer()(inputs), "distances": fitted.to_layer("distances")(inputs)}
    predicted = keras.Model(inputs, outputs).predict(three_blobs, batch_size=16, verbose=0)
    np.testing.assert_array_equal(predicted["labels"], fitted.predict(three_blobs))
    np.testing.assert_allclose(predicted["distances"], fitted.transform(three_blobs), rtol=1e-5, atol=1e-5)
    # After a trainable layer: the assignment of its (fixed, identity) output.
    dense = keras.layers.Dense(5, kernel_initializer="identity", bias_initializer="zeros")
    sequential = keras.Sequential([keras.Input((5,)), dense, fitted.to_layer()])
    np.testing.assert_array_equal(sequential.predict(three_blobs, verbose=0), fitted.predict(three_blobs))


def test_in_tf_data_map(fitted, three_blobs):
    dataset = tf.data.Dataset.from_tensor_slices(three_blobs).batch(7).map(fitted.to_layer())
    np.testing.assert_array_equal(np.concatenate(list(dataset.as_numpy_iterator())), fitted.predict(three_blobs))


def test_saved_model_round_trips(fitted, three_blobs, tmp_path):
    model = keras.Sequential([keras.Input((5,)), fitted.to_layer("distances")])
    model.export(str(tmp_path / "exported"), verbose=False)
    exported = tf.saved_model.load(str(tmp_path / "exported"))  # kept: its functions need its variables
    np.testing.assert_allclose(
        exported.serve(tf.constant(three_blobs)), fitted.transform(three_blobs), rtol=1e-5, atol=1e-5
    )

    module = tf.Module()
    module.layer = fitted.to_layer()
    module.predict = tf.function(module.layer.__call__, input_signature=[tf.TensorSpec([None, 5], tf.float32)])
    tf.saved_model.save(module, str(tmp_path / "module"))
    reloaded = tf.saved_model.load(str(tmp_path / "module"))
    np.testing.assert_array_equal(reloaded.predict(tf.constant(three_blobs)), fitted.predict(three_blobs))


@pytest.mark.parametrize("output_mode", ["labels", "distances"])
def test_keras_file_round_trip(fitted, three_blobs, tmp_path, output_mode):
    model = keras.Sequential([keras.Input((5,)), fitted.to_layer(output_mode)])
    model.save(tmp_path / "model.keras")
    loaded = keras.models.load_model(tmp_path / "model.keras")
    assert isinstance(loaded.layers[-1], KMeansLayer) and loaded.layers[-1].output_mode == output_mode
    np.testing.assert_array_equal(loaded.layers[-1].centers.numpy(), fitted.cluster_centers_)
    np.testing.assert_array_equal(loaded.predict(three_blobs, verbose=0), model.predict(three_blobs, verbose=0))


def test_get_config_round_trip(fitted, three_blobs):
    layer = fitted.to_layer("squared_distances", name="assign")
    layer(three_blobs[:2])
    clone = KMeansLayer.from_config(layer.get_config())
    assert clone.get_config() == layer.get_config()
    assert clone.get_config()["n_clusters"] == 3 and clone.get_config()["output_mode"] == "squared_distances"
    clone.build((None, 5))
    assert not clone.centers.trainable and clone.trainable_weights == []
    clone.set_weights(layer.get_weights())
    np.testing.assert_array_equal(clone(three_blobs), layer(three_blobs))


# -- ClusteringLayer and target_distribution ----------------------------------------------------


@pytest.mark.parametrize("alpha", [1.0, 2.0])
def test_soft_assignment_hand_computed(alpha):
    centers = np.array([[0.0, 0.0], [2.0, 0.0]])
    z = np.array([[0.0, 0.0], [1.0, 0.0], [2.0, 3.0]], np.float32)
    q = ClusteringLayer(centers, alpha)(z).numpy()
    if alpha == 1.0:  # 1 / (1 + d²): (1, 1/5), (1/2, 1/2), (1/14, 1/10)
        np.testing.assert_allclose(q, [[5 / 6, 1 / 6], [0.5, 0.5], [10 / 24, 14 / 24]], rtol=1e-6)
    np.testing.assert_allclose(q, numpy_soft_assignment(z, centers, alpha), rtol=1e-6)
    np.testing.assert_allclose(q.sum(axis=1), 1.0, rtol=1e-6)


def test_soft_assignment_rows_sum_to_one_and_never_nan():
    rng = np.random.default_rng(4)
    centers = rng.normal(size=(6, 3))
    z = np.concatenate([rng.normal(size=(20, 3)), rng.normal(size=(5, 3)) * 1e4]).astype(np.float32)
    for alpha in (0.5, 1.0, 100.0):
        q = ClusteringLayer(centers, alpha)(z).numpy()
        assert np.isfinite(q).all()
        np.testing.assert_allclose(q.sum(axis=1), 1.0, rtol=1e-6)
        # Where the paper's formula does not underflow, the same values.
        np.testing.assert_allclose(q[:20], numpy_soft_assignment(z[:20], centers, alpha), rtol=1e-4, atol=1e-7)


def test_gradients_reach_centres_and_inputs():
    rng = np.random.default_rng(5)
    centers = rng.normal(size=(3, 4)).astype(np.float32)
    layer = ClusteringLayer(centers, alpha=1.5)
    z = tf.Variable(rng.normal(size=(8, 4)).astype(np.float32))
    weights = tf.constant(rng.normal(size=(8, 3)).astype(np.float32))
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(layer(z) * weights)
    grad_z, grad_centers = tape.gradient(loss, [z, layer.centers])

    # Oracle: the paper's formula by direct differences, differentiated by TensorFlow in float64.
    z64, c64 = tf.Variable(tf.cast(z, tf.float64)), tf.Variable(centers.astype(np.float64))
    with tf.GradientTape() as tape:
        squared = tf.reduce_sum(tf.square(z64[:, None, :] - c64[None]), axis=2)
        kernel = (1.0 + squared / 1.5) ** (-2.5 / 2.0)
        reference = tf.reduce_sum(kernel / tf.reduce_sum(kernel, axis=1, keepdims=True) * tf.cast(weights, tf.float64))
    expected_z, expected_centers = tape.gradient(reference, [z64, c64])
    assert float(tf.reduce_max(tf.abs(grad_centers))) > 1e-3 and float(tf.reduce_max(tf.abs(grad_z))) > 1e-3
    np.testing.assert_allclose(grad_z, expected_z, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(grad_centers, expected_centers, rtol=1e-4, atol=1e-6)


def test_target_distribution_hand_computed():
    q = np.array([[0.75, 0.25], [0.25, 0.75], [0.5, 0.5]])
    # f = (1.5, 1.5); q²/f row-normalised: (.9, .1), (.1, .9), (.5, .5).
    np.testing.assert_allclose(target_distribution(q), [[0.9, 0.1], [0.1, 0.9], [0.5, 0.5]], rtol=1e-12)
    q = np.array([[0.6, 0.3, 0.1], [0.2, 0.7, 0.1], [0.5, 0.4, 0.1]], np.float32)
    frequency = q.sum(axis=0)
    expected = (q**2 / frequency) / (q**2 / frequency).sum(axis=1, keepdims=True)
    np.testing.assert_allclose(target_distribution(q), expected, rtol=1e-6)
    # A cluster nobody belongs to: zeros, not NaN.
    np.testing.assert_allclose(target_distribution(np.array([[1.0, 0.0], [1.0, 0.0]])), [[1.0, 0.0], [1.0, 0.0]])


def test_from_estimator_starts_at_the_fitted_centres(fitted, three_blobs):
    layer = ClusteringLayer.from_estimator(fitted, alpha=2.0)
    q = layer(three_blobs).numpy()
    assert layer.centers.trainable and layer.alpha == 2.0
    np.testing.assert_array_equal(layer.centers.numpy(), fitted.cluster_centers_)
    np.testing.assert_allclose(
        q, numpy_soft_assignment(three_blobs, fitted.cluster_centers_, 2.0), rtol=1e-4, atol=1e-7
    )
    np.testing.assert_array_equal(q.argmax(axis=1), fitted.predict(three_blobs))


def _dec_model(fitted, seed=0):
    """An identity-initialised encoder under a ClusteringLayer started at the fitted centres."""
    keras.utils.set_random_seed(seed)
    inputs = keras.Input((5,))
    embedded = keras.layers.Dense(5, kernel_initializer="identity")(inputs)
    return keras.Model(inputs, ClusteringLayer.from_estimator(fitted, name="clustering")(embedded))


def test_dec_training_decreases_the_kl_loss_and_saves_trained_centres(fitted, three_blobs, tmp_path):
    model = _dec_model(fitted)
    model.compile(optimizer=keras.optimizers.Adam(0.01), loss=keras.losses.KLDivergence())
    target = target_distribution(model.predict(three_blobs, verbose=0))
    losses = model.fit(three_blobs, target, epochs=5, batch_size=len(three_blobs), verbose=0).history["loss"]
    assert losses[-1] < 0.95 * losses[0] and all(np.diff(losses) < 0), losses
    trained = model.get_layer("clustering").centers.numpy()
    assert np.abs(trained - fitted.cluster_centers_).max() > 1e-3  # the centres moved

    model.save(tmp_path / "dec.keras")
    loaded = keras.models.load_model(tmp_path / "dec.keras")
    layer = loaded.get_layer("clustering")
    assert isinstance(layer, ClusteringLayer) and layer.alpha == 1.0
    np.testing.assert_array_equal(layer.centers.numpy(), trained)
    np.testing.assert_allclose(loaded.predict(three_blobs, verbose=0), model.predict(three_blobs, verbose=0), rtol=1e-6)


def test_clustering_get_config_round_trip():
    layer = ClusteringLayer(n_clusters=4, alpha=0.5, centers_initializer="zeros", name="q")
    clone = ClusteringLayer.from_config(layer.get_config())
    assert clone.get_config() == layer.get_config()
    clone.build((None, 3))
    assert clone.centers.shape == (4, 3) and clone.centers.trainable and not clone.centers.numpy().any()


def test_mixed_precision_computes_in_float32(fitted, three_blobs):
    keras.mixed_precision.set_global_policy("mixed_float16")
    try:
        kmeans, clustering = KMeansLayer(fitted.cluster_centers_), ClusteringLayer(fitted.cluster_centers_)
        half = tf.constant(three_blobs, tf.float16)
        labels, q = kmeans(half).numpy(), clustering(half)
        # Under a float16 layer (identity, so exact) inside a model.
        identity = keras.layers.Dense(5, kernel_initializer="identity")
        model = keras.Sequential([keras.Input((5,)), identity, ClusteringLayer(fitted.cluster_centers_)])
        model_q = model.predict(three_blobs, verbose=0)
    finally:
        keras.mixed_precision.set_global_policy("float32")
    assert identity.compute_dtype == "float16" and model_q.dtype == np.float32
    assert clustering.dtype_policy.name == "float32" and q.dtype == tf.float32
    rounded = three_blobs.astype(np.float16)
    np.testing.assert_array_equal(labels, fitted.predict(rounded))
    np.testing.assert_allclose(q, numpy_soft_assignment(rounded, fitted.cluster_centers_, 1.0), rtol=1e-4, atol=1e-7)
    np.testing.assert_allclose(model_q, q, rtol=1e-6)


# -- errors -----------------------------------------------------------------------------------


@pytest.mark.parametrize("estimator_class", [KMeans, MiniBatchKMeans])
def test_unfitted_estimator(estimator_class):
    with pytest.raises(NotFittedError, match="not fitted"):
        estimator_class(3).to_layer()
    with pytest.raises(NotFittedError, match="not fitted"):
        ClusteringLayer.from_estimator(estimator_class(3))


def test_bad_arguments():
    centers = np.zeros((2, 3))
    with pytest.raises(ValueError, match="output_mode must be one of"):
        KMeansLayer(centers, "probabilities")
    for shape in [(3,), (2, 3, 1)]:
        with pytest.raises(ValueError, match="centers must be 2-D"):
            KMeansLayer(np.zeros(shape))
    with pytest.raises(ValueError, match="centers contains NaN"):
        ClusteringLayer(np.full((2, 3), np.nan))
    with pytest.raises(ValueError, match="needs centers .* or n_clusters"):
        KMeansLayer()
    with pytest.raises(ValueError, match="n_clusters=3 but centers has 2 rows"):
        KMeansLayer(centers, n_clusters=3)
    with pytest.raises(ValueError, match="n_clusters must be a positive integer"):
        ClusteringLayer(n_clusters=0)
    for alpha in (0.0, -1.0, float("nan"), float("inf")):
        with pytest.raises(ValueError, match="alpha"):
            ClusteringLayer(centers, alpha)
    with pytest.raises(TypeError, match="alpha must be a positive number"):
        ClusteringLayer(centers, "1")
    with pytest.raises(ValueError, match="q must be 2-D"):
        target_distribution(np.ones(3))


def test_input_feature_mismatch_is_named():
    with pytest.raises(ValueError, match="expects inputs with 3 features .* 4 features"):
        KMeansLayer(np.zeros((2, 3)))(keras.Input((4,)))
    built = ClusteringLayer(np.zeros((2, 3)))
    built(np.zeros((1, 3), np.float32))
    with pytest.raises(ValueError, match="expects inputs with 3 features .* 6 features"):
        built(np.zeros((1, 2, 3), np.float32))  # would reshape silently to 2 rows of 3
    with pytest.raises(ValueError, match="batches of rows"):
        KMeansLayer(np.zeros((2, 3)))(np.zeros(3, np.float32))


def test_layers_are_importable_from_the_package():
    assert tfkmeans.layers.KMeansLayer is KMeansLayer and "layers" in tfkmeans.__all__
