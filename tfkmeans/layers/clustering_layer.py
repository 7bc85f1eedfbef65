"""DEC's soft cluster assignment (Xie et al., 2016) as a Keras layer, and its target distribution."""

from __future__ import annotations

import numbers
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from tfkmeans import ops
from tfkmeans.layers._base import BaseCentersLayer, fitted_centers


@keras.saving.register_keras_serializable(package="tfkmeans")
class ClusteringLayer(BaseCentersLayer):
    """Soft assignment of each input to trainable cluster centres, with a Student's t kernel.

    For an input ``z_i`` and centres ``μ_j``, the layer returns
    ``q_ij ∝ (1 + ||z_i - μ_j||² / α) ** (-(α + 1) / 2)``, normalised so that
    each row sums to 1: Deep Embedded Clustering's soft assignment (Xie,
    Girshick and Farhadi, "Unsupervised Deep Embedding for Clustering
    Analysis", ICML 2016). Trained with a KL divergence to
    :func:`target_distribution` of its own output, it moves the centres (and
    the encoder beneath it) towards confident assignments.

    Parameters
    ----------
    centers : array-like of shape (n_clusters, n_features), optional
        Initial centres, e.g. the ``cluster_centers_`` of K-means fitted on the
        embeddings (:meth:`from_estimator` takes them from the estimator).
    alpha : float, default=1.0
        Degrees of freedom of the Student's t kernel; DEC uses 1.
    n_clusters : int, optional
        Number of centres; needed only without ``centers``.
    centers_initializer : str or keras.initializers.Initializer, default="glorot_uniform"
        Initialiser of the centres when ``centers`` is not given (DEC's).
    **kwargs
        Keras layer arguments (``name``, ``dtype``, ``trainable``, ...).

    Notes
    -----
    ``q`` is computed as a softmax of ``-(α + 1)/2 · log1p(||z - μ||²/α)``:
    the same values, but no row of zeros (and 0/0) when every kernel value
    underflows, as happens with a large ``α`` far from all centres.

    Examples
    --------
    >>> import numpy as np, keras
    >>> from tfkmeans.layers import ClusteringLayer, target_distribution
    >>> layer = ClusteringLayer(np.array([[0.0, 0.0], [2.0, 0.0]]))
    >>> q = layer(np.array([[0.0, 0.0], [1.0, 0.0]], dtype="float32"))
    >>> np.round(q.numpy().astype(float), 3).tolist()  # 1/(1+0) : 1/(1+4), then 1/(1+1) twice
    [[0.833, 0.167], [0.5, 0.5]]
    >>> p = target_distribution(q)
    >>> bool(p[0, 0] > q[0, 0])  # sharper than q
    True

    DEC, given an ``encoder`` model and K-means fitted on its embeddings:

    >>> encoder = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)])
    >>> X = np.random.default_rng(0).normal(size=(64, 4)).astype("float32")
    >>> from tfkmeans import KMeans
    >>> km = KMeans(n_clusters=2, random_state=0).fit(encoder.predict(X, verbose=0))
    >>> model = keras.Model(encoder.inputs, ClusteringLayer.from_estimator(km)(encoder.outputs[0]))
    >>> model.compile(optimizer="adam", loss=keras.losses.KLDivergence())
    >>> for _ in range(3):
    ...     history = model.fit(X, target_distribution(model.predict(X, verbose=0)), epochs=1, verbose=0)
    """

    def __init__(
        self,
        centers: Any | None = None,
        alpha: float = 1.0,
        *,
        n_clusters: int | None = None,
        centers_initializer: Any = "glorot_uniform",
        **kwargs: Any,
    ) -> None:
        if isinstance(alpha, bool) or not isinstance(alpha, numbers.Real):
            raise TypeError(f"alpha must be a positive number, got {alpha!r} of type {type(alpha).__name__}.")
        if not (np.isfinite(alpha) and alpha > 0):
            raise ValueError(f"alpha (the degrees of freedom) must be positive and finite, got {alpha}.")
        super().__init__(
            centers, n_clusters=n_clusters, centers_initializer=centers_initializer, centers_trainable=True, **kwargs
        )
        self.alpha = float(alpha)

    @classmethod
    def from_estimator(cls, estimator: Any, alpha: float = 1.0, **kwargs: Any) -> ClusteringLayer:
        """A layer whose centres start at a fitted ``KMeans``/``MiniBatchKMeans``'s ``cluster_centers_``.

        The layer takes the dtype policy of the model it joins (``dtype``
        in ``kwargs``), not the estimator's: a float64 fit initialises a float32
        network's layer. Raises :class:`~tfkmeans.NotFittedError` if the
        estimator is not fitted.
        """
        return cls(fitted_centers(estimator), alpha, **kwargs)

    def call(self, inputs: tf.Tensor) -> tf.Tensor:
        # One matmul expansion over the batch (see KMeansLayer.call on why not the chunked ops);
        # its cancellation error is far below what moves q, and its gradient is exact.
        z, centers = self._about_centers(inputs)
        squared = tf.maximum(ops.matmul_squared_distances(z, centers), 0.0)
        return tf.nn.softmax(-(self.alpha + 1.0) / 2.0 * tf.math.log1p(squared / self.alpha), axis=1)

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "alpha": self.alpha,
            "centers_initializer": keras.initializers.serialize(self.centers_initializer),
        }


def target_distribution(q: Any) -> tf.Tensor:
    """DEC's auxiliary target: soft assignments squared and divided by cluster frequency, renormalised.

    ``p_ij = (q_ij² / f_j) / Σ_j' (q_ij'² / f_j')`` with ``f_j = Σ_i q_ij``:
    it sharpens confident assignments and keeps large clusters from absorbing
    the others. Train a :class:`ClusteringLayer` model towards it with a KL
    divergence loss, recomputing it every few steps.

    Parameters
    ----------
    q : array-like or tf.Tensor of shape (n_samples, n_clusters)
        Soft assignments, rows summing to 1 (a :class:`ClusteringLayer`'s output).

    Returns
    -------
    tf.Tensor of shape (n_samples, n_clusters)
        Rows summing to 1, in ``q``'s float dtype (float32 for other input).
        A cluster with no weight at all (``f_j = 0``) gets ``p_ij = 0``, not NaN;
        so does a row of zeros.

    Examples
    --------
    >>> import numpy as np
    >>> from tfkmeans.layers import target_distribution
    >>> target_distribution(np.array([[0.75, 0.25], [0.25, 0.75]])).numpy().tolist()
    [[0.9, 0.1], [0.1, 0.9]]
    """
    q = tf.convert_to_tensor(q)
    if not q.dtype.is_floating:
        q = tf.cast(q, tf.float32)
    if q.shape.rank != 2:
        raise ValueError(f"q must be 2-D (n_samples, n_clusters), got shape {tuple(q.shape)}.")
    weight = tf.math.divide_no_nan(tf.square(q), tf.reduce_sum(q, axis=0))
    return tf.math.divide_no_nan(weight, tf.reduce_sum(weight, axis=1, keepdims=True))
