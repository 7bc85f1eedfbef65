"""Public k-means++ seeding, a drop-in for :func:`sklearn.cluster.kmeans_plusplus`."""

from __future__ import annotations

from typing import Any

import numpy as np
import tensorflow as tf

from tfkmeans import _compiled
from tfkmeans._data import as_float_matrix, scaled_sample_weight
from tfkmeans._params import RandomState, check_positive_int, check_random_state, draw_seed


def kmeans_plusplus(
    X: Any,
    n_clusters: int,
    *,
    x_squared_norms: Any | None = None,
    sample_weight: Any | None = None,
    random_state: RandomState = None,
    n_local_trials: int | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Initial centres by greedy k-means++, compiled: one pass over ``X`` per centre.

    Same algorithm and signature as scikit-learn's ``kmeans_plusplus``: each new
    centre is the best of ``n_local_trials`` candidates drawn with probability
    proportional to ``sample_weight × D(x)²``. The random streams differ from
    scikit-learn's, so the same ``random_state`` picks other points.

    Parameters
    ----------
    X : array-like or tf.Tensor of shape (n_samples, n_features)
        Points to choose the centres from (kept in float32 unless float64).
    n_clusters : int
        Number of centres, at most ``n_samples``.
    x_squared_norms : array-like of shape (n_samples,), optional
        Accepted for scikit-learn compatibility and checked for shape; the
        compiled graph computes the norms itself (one pass over ``X``).
    sample_weight : array-like of shape (n_samples,), optional
        Non-negative weight of each point.
    random_state : int, RandomState instance or None, default=None
        Seeds the choice; an int makes it reproducible.
    n_local_trials : int, optional
        Candidates per centre; default ``2 + int(ln(n_clusters))``.

    Returns
    -------
    centers : ndarray of shape (n_clusters, n_features)
    indices : ndarray of shape (n_clusters,)
        Row of ``X`` each centre was taken from.

    Examples
    --------
    >>> import numpy as np
    >>> from tfkmeans import kmeans_plusplus
    >>> X = np.array([[1, 2], [1, 4], [1, 0], [10, 2], [10, 4], [10, 0]])
    >>> centers, indices = kmeans_plusplus(X, n_clusters=2, random_state=0)
    >>> sorted(float(c) for c in centers[:, 0])  # one centre from each group
    [1.0, 10.0]
    >>> bool((X[indices] == centers).all())
    True
    """
    dtype = tf.float64 if getattr(X, "dtype", None) in (np.float64, tf.float64) else tf.float32
    x = as_float_matrix(X, dtype)
    n_samples = int(x.shape[0])
    n_clusters = check_positive_int(n_clusters, "n_clusters", upper=n_samples, upper_name="n_samples")
    if n_local_trials is not None:
        n_local_trials = check_positive_int(n_local_trials, "n_local_trials")
    if x_squared_norms is not None and np.shape(x_squared_norms) != (n_samples,):
        raise ValueError(f"x_squared_norms must have shape ({n_samples},), got {np.shape(x_squared_norms)}.")
    weights, _ = scaled_sample_weight(sample_weight, n_samples, x.dtype)
    seed = draw_seed(check_random_state(random_state))
    centers, indices = _compiled.kmeans_plusplus(x, weights, n_clusters, seed, n_local_trials)
    return centers.numpy(), indices.numpy()
