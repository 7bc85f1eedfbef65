"""A fitted K-means' nearest-centre assignment as a Keras layer."""

from __future__ import annotations

from typing import Any

import keras
import tensorflow as tf

from tfkmeans import ops
from tfkmeans.layers._base import BaseCentersLayer, fitted_centers

_OUTPUT_MODES = ("distances", "labels", "squared_distances")


@keras.saving.register_keras_serializable(package="tfkmeans")
class KMeansLayer(BaseCentersLayer):
    """Nearest-centre assignment: each input's cluster label, or its distances to every centre.

    The layer computes what a fitted estimator's ``predict`` (labels) and
    ``transform`` (distances) return, inside a Keras model, a ``tf.data``
    pipeline or an exported SavedModel. The centres are a non-trainable
    weight, saved with the model.

    Parameters
    ----------
    centers : array-like of shape (n_clusters, n_features), optional
        The cluster centres, e.g. a fitted estimator's ``cluster_centers_``
        (:meth:`from_estimator` takes them from it). Without them, give
        ``n_clusters``: the centres start at zero until weights are loaded
        (as ``from_config`` and ``keras.models.load_model`` do).
    output_mode : {"labels", "distances", "squared_distances"}, default="labels"
        ``"labels"``: index of the nearest centre, int32, shape ``(batch,)``.
        ``"distances"``: Euclidean distance to every centre, shape
        ``(batch, n_clusters)``; ``"squared_distances"``: their squares.
    n_clusters : int, optional
        Number of centres; needed only without ``centers``.
    **kwargs
        Keras layer arguments (``name``, ``dtype``, ...). The dtype is the
        centres' and the distances': ``from_estimator`` uses the estimator's.

    Notes
    -----
    Inputs of shape ``(batch, ...)`` are flattened to ``(batch, n_features)``,
    as ``predict`` flattens images. Data and centres are moved to the
    centres' mean when that lies far from the origin, as ``predict`` moves
    them (float32 would lose the distances to ``||x||²`` otherwise).

    Distances use the matmul expansion ``||x||² - 2x·c + ||c||²`` on the
    whole batch, clipped at zero; the distance to the nearest centre is then
    recomputed from the difference ``x - c``, so it is exact (a centre is at
    distance 0 from itself), where the expansion would leave a cancellation
    error of about ``sqrt(eps)·||c||``. The other distances, and the labels,
    are the estimator's.

    Examples
    --------
    >>> import numpy as np, keras
    >>> from tfkmeans import KMeans
    >>> from tfkmeans.layers import KMeansLayer
    >>> X = np.array([[1, 2], [1, 4], [1, 0], [10, 2], [10, 4], [10, 0]], dtype="float32")
    >>> km = KMeans(n_clusters=2, random_state=0).fit(X)
    >>> model = keras.Sequential([keras.Input((2,)), km.to_layer()])
    >>> bool((model.predict(X, verbose=0) == km.predict(X)).all())
    True
    >>> distances = KMeansLayer(np.array([[0.0, 0.0], [3.0, 4.0]]), output_mode="distances")
    >>> distances(np.array([[0.0, 0.0], [3.0, 0.0]], dtype="float32")).numpy().tolist()
    [[0.0, 5.0], [3.0, 4.0]]
    """

    def __init__(
        self, centers: Any | None = None, output_mode: str = "labels", *, n_clusters: int | None = None, **kwargs: Any
    ) -> None:
        if output_mode not in _OUTPUT_MODES:
            raise ValueError(f"output_mode must be one of {list(_OUTPUT_MODES)}, got {output_mode!r}.")
        super().__init__(centers, n_clusters=n_clusters, **kwargs)
        self.output_mode = output_mode

    @classmethod
    def from_estimator(cls, estimator: Any, output_mode: str = "labels", **kwargs: Any) -> KMeansLayer:
        """The layer of a fitted ``KMeans`` or ``MiniBatchKMeans``, in its dtype unless ``dtype`` is given.

        Raises :class:`~tfkmeans.NotFittedError` if the estimator is not fitted.
        """
        centers = fitted_centers(estimator)
        kwargs.setdefault("dtype", centers.dtype.name if centers.dtype.name in ("float32", "float64") else None)
        return cls(centers, output_mode, **kwargs)

    def call(self, inputs: tf.Tensor) -> tf.Tensor:
        # The batch is the chunk: ops.nearest_centers and ops.squared_distances loop over row
        # chunks with dynamic slices, which XLA cannot compile (and Keras compiles a model's
        # steps with XLA by default on GPUs), so the per-block distance op sees the whole batch.
        x, centers = self._about_centers(inputs)
        squared = ops.matmul_squared_distances(x, centers)
        # argmin on the unclipped values, as the estimator's assignment.
        labels = tf.argmin(squared, axis=1, output_type=tf.int32)
        if self.output_mode == "labels":
            return labels
        nearest = ops.squared_norms(x - tf.gather(centers, labels))
        is_nearest = tf.one_hot(labels, self.n_clusters, on_value=True, off_value=False)
        squared = tf.where(is_nearest, nearest[:, None], tf.maximum(squared, 0.0))
        return squared if self.output_mode == "squared_distances" else tf.sqrt(squared)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "output_mode": self.output_mode}
