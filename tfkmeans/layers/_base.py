"""What the layers share: cluster centres as a weight, and inputs moved next to them as ``predict`` moves them."""

from __future__ import annotations

from typing import Any

import keras
import numpy as np
import tensorflow as tf

from tfkmeans._data import finite_tensor, mean_if_far_from_zero_else_zeros, numeric_matrix
from tfkmeans._params import check_positive_int
from tfkmeans.exceptions import NotFittedError


def fitted_centers(estimator: Any) -> np.ndarray:
    """``estimator.cluster_centers_`` (a tfkmeans or scikit-learn K-means); NotFittedError before ``fit``."""
    try:
        return np.asarray(estimator.cluster_centers_)
    except NotFittedError:
        raise
    except AttributeError:  # scikit-learn's estimators have no cluster_centers_ before fit
        raise NotFittedError(
            f"This {type(estimator).__name__} instance is not fitted yet (it has no cluster_centers_). "
            "Call 'fit' with appropriate arguments first."
        ) from None


class BaseCentersLayer(keras.layers.Layer):
    """A layer with cluster centres, a ``(n_clusters, n_features)`` weight created by ``build``.

    Not meant to be used directly: see :class:`~tfkmeans.layers.KMeansLayer`
    and :class:`~tfkmeans.layers.ClusteringLayer`.

    Inputs of rank > 2 (images) are flattened per row, as the estimators'
    ``predict`` flattens them. Under a mixed dtype policy (``mixed_float16``)
    the layers compute and return their variable dtype, float32: squared
    distances of raw features overflow float16 (an MNIST image at 0-255 has
    ``||x||²`` near 10⁷, float16 stops at 65504).
    """

    def __init__(
        self,
        centers: Any | None = None,
        *,
        n_clusters: int | None = None,
        centers_initializer: Any = "zeros",
        centers_trainable: bool = False,
        **kwargs: Any,
    ) -> None:
        # A mixed policy's variable dtype for everything (as Keras advises for a model's last
        # softmax), and no autocasting: a float64 input is moved next to the centres before
        # it is rounded (see _about_centers).
        kwargs["dtype"] = keras.dtype_policies.get(kwargs.get("dtype")).variable_dtype
        super().__init__(autocast=False, **kwargs)
        self._initial_centers = None if centers is None else _as_centers(centers, tf.as_dtype(self.variable_dtype))
        if self._initial_centers is None and n_clusters is None:
            raise ValueError(
                f"{type(self).__name__} needs centers (an array of shape (n_clusters, n_features)) or n_clusters."
            )
        if n_clusters is None:
            n_clusters = self._initial_centers.shape[0]
        check_positive_int(n_clusters, "n_clusters")
        if self._initial_centers is not None and n_clusters != self._initial_centers.shape[0]:
            raise ValueError(f"n_clusters={n_clusters} but centers has {self._initial_centers.shape[0]} rows.")
        self.n_clusters = int(n_clusters)
        self.centers_initializer = keras.initializers.get(centers_initializer)
        self._centers_trainable = centers_trainable
        if self._initial_centers is not None:
            # Built now, not at the first call: a first call inside tf.data's map (a graph)
            # would create the weight there and lose the centres (every label came out 0).
            self.build((None, self._initial_centers.shape[1]))

    def build(self, input_shape: tuple[int | None, ...]) -> None:
        initial = self._initial_centers
        n_features = self._n_features(input_shape, None if initial is None else initial.shape[1])
        self.centers = self.add_weight(
            shape=(self.n_clusters, n_features),
            initializer=self.centers_initializer if initial is None else lambda shape, dtype: initial,
            trainable=self._centers_trainable,
            name="centers",
        )
        self._initial_centers = None  # the weight holds them now

    def _n_features(self, input_shape: Any, expected: int | None) -> int:
        """Features per row of inputs of this shape, checked against ``expected`` (the centres' width)."""
        shape = tf.TensorShape(input_shape)
        if shape.rank is None or shape.rank < 2:
            raise ValueError(
                f"{self.name}: inputs must be batches of rows (batch, n_features) or of arrays such as images "
                f"(batch, 28, 28); got shape {tuple(shape.as_list()) if shape.rank is not None else shape}."
            )
        n_features = shape[1:].num_elements()
        if n_features is None:
            raise ValueError(
                f"{self.name}: the inputs' feature dimensions must be known, got shape {tuple(shape.as_list())}."
            )
        if expected is not None and n_features != expected:
            raise ValueError(
                f"{self.name} expects inputs with {expected} features (its centres' width), got shape "
                f"{tuple(shape.as_list())}: {n_features} features."
            )
        return n_features

    def _about_centers(self, inputs: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        """Flattened inputs and the centres, in the centres' dtype, both moved by the same origin.

        The origin is the one ``predict`` uses: the centres' mean if they lie
        far from zero (the matmul distances would drown in ``||x||²`` in
        float32), else zero; distances do not change. Inputs wider than the
        centres (float64 into a float32 layer) are moved before they are
        rounded, as the estimators move a float64 array.
        """
        centers = tf.convert_to_tensor(self.centers)
        n_features = self._n_features(inputs.shape, int(centers.shape[1]))
        origin = mean_if_far_from_zero_else_zeros(centers)
        dtype = centers.dtype
        wide = inputs.dtype if inputs.dtype.is_floating and inputs.dtype.size > dtype.size else dtype
        rows = tf.reshape(tf.cast(inputs, wide), [-1, n_features])
        return tf.cast(rows - tf.cast(origin, wide), dtype), centers - origin

    def get_config(self) -> dict[str, Any]:
        # The centres are weights, saved with them, not in the config (as a Dense layer's kernel).
        return {**super().get_config(), "n_clusters": self.n_clusters}


def _as_centers(centers: Any, dtype: tf.DType) -> np.ndarray:
    """Centres as a finite ``(n_clusters, n_features)`` array of ``dtype``."""
    shape = np.shape(centers)
    if len(shape) != 2:
        raise ValueError(f"centers must be 2-D (n_clusters, n_features), got an array of shape {shape}.")
    return finite_tensor(numeric_matrix(centers, "centers"), dtype, "centers", None).numpy()
