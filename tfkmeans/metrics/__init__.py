"""Clustering metrics computed in TensorFlow: label-based and geometric.

Label metrics live in :mod:`tfkmeans.metrics._labels`, geometric ones in
:mod:`tfkmeans.metrics._geometry`; every public name is importable from here.

Label-based metrics (:func:`purity`, :func:`nmi`, :func:`ari`, ...) take
``(y_true, y_pred)``: two 1-D array-likes (NumPy arrays, lists, eager
``tf.Tensor``) of equal, non-zero length holding non-negative integer labels --
the true classes and the cluster ids. Floats are accepted when every value is a
whole number; booleans, strings and fractional values are not.

Scores are computed over the label values that occur (encoded to ``0..k-1``
first), so their cost never depends on how large the ids are:
``purity([0, 10**12], [0, 1])`` is instant. The outputs indexed by label value
(:func:`contingency_matrix`, :func:`confusion_matrix`, :func:`majority_labels`,
:func:`cluster_order`, :func:`hungarian_mapping`) have a slot for every value up
to the largest (``max(y_true) + 1`` rows, ``max(y_pred) + 1`` columns), so a value
that never occurs gives an all-zero row or column; beyond 2**28 entries they
are refused with a ValueError that says to encode the labels first.

Geometric metrics (:func:`inertia`, :func:`calinski_harabasz`,
:func:`davies_bouldin`, :func:`silhouette`) take ``(X, labels)``: a finite 2-D
numeric ``(n_samples, n_features)`` array-like or ``tf.Tensor`` and one cluster id
per row, with the same rules for labels as above. They compute in float64 and
equal scikit-learn's Euclidean scores; cluster ids are re-indexed internally, so
gaps are fine. The Calinski-Harabasz, Davies-Bouldin and silhouette scores need
between 2 and ``n_samples - 1`` distinct labels.

Scores are returned as Python floats; tables and per-cluster labels as NumPy arrays.
"""

from tfkmeans.metrics._geometry import calinski_harabasz, davies_bouldin, inertia, silhouette
from tfkmeans.metrics._labels import (
    ari,
    cluster_order,
    confusion_matrix,
    contingency_matrix,
    hungarian_accuracy,
    hungarian_mapping,
    majority_accuracy,
    majority_labels,
    mean_cluster_purity,
    nmi,
    purity,
)

__all__ = [
    "ari",
    "calinski_harabasz",
    "cluster_order",
    "confusion_matrix",
    "contingency_matrix",
    "davies_bouldin",
    "hungarian_accuracy",
    "hungarian_mapping",
    "inertia",
    "majority_accuracy",
    "majority_labels",
    "mean_cluster_purity",
    "nmi",
    "purity",
    "silhouette",
]
