"""Clustering metrics computed in TensorFlow: label-based and geometric.

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

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import tensorflow as tf
from numpy.typing import ArrayLike
from scipy.optimize import linear_sum_assignment

from tfkmeans import ops
from tfkmeans._data import as_float_matrix, check_sample_weight
from tfkmeans._params import RandomState, check_positive_int, check_random_state
from tfkmeans.ops.chunking import fold_chunks, row_slice

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

Labels = ArrayLike | tf.Tensor


def _as_labels(y: Labels, name: str) -> np.ndarray:
    """Validate one label vector and return it as a 1-D int64 array."""
    y = np.asarray(y)
    if y.ndim != 1:
        raise ValueError(f"{name} must be 1-D, got shape {y.shape}")
    if y.size == 0:
        raise ValueError(f"{name} is empty")
    if np.issubdtype(y.dtype, np.floating):
        if not (np.all(np.isfinite(y)) and np.all(y == np.floor(y))):
            raise TypeError(f"{name} must hold integer labels, got non-integral floats")
    elif not np.issubdtype(y.dtype, np.integer):
        raise TypeError(f"{name} must hold integer labels, got dtype {y.dtype}")
    y = y.astype(np.int64)
    if y.min() < 0:
        raise ValueError(f"{name} must hold non-negative labels, got {y.min()}")
    return y


# Entries above which an output indexed by label value (a table or mapping with a
# slot for every id up to the largest) is refused: 2**28 int64 entries are 2 GiB.
_MAX_ID_INDEXED_ENTRIES = 1 << 28


class _Counts(NamedTuple):
    """Contingency counts over the labels that occur: ``table[i, j]`` counts class ``classes[i]`` in cluster ``clusters[j]``."""

    table: tf.Tensor  # int64 (classes.size, clusters.size), no all-zero row or column
    classes: np.ndarray  # sorted distinct values of y_true
    clusters: np.ndarray  # sorted distinct values of y_pred


def _counts(y_true: Labels, y_pred: Labels) -> _Counts:
    """Validate the inputs and count them over their distinct values: the memory never depends on the ids' size."""
    y_true = _as_labels(y_true, "y_true")
    y_pred = _as_labels(y_pred, "y_pred")
    if y_true.shape != y_pred.shape:
        raise ValueError(
            f"y_true and y_pred differ in length: {y_true.size} != {y_pred.size}"
        )
    classes, class_codes = np.unique(y_true, return_inverse=True)
    clusters, cluster_codes = np.unique(y_pred, return_inverse=True)
    cells = classes.size * clusters.size
    # One bincount over the row-major (class, cluster) index fills the whole table.
    flat = tf.constant(class_codes.reshape(-1) * clusters.size + cluster_codes.reshape(-1))
    table = tf.math.bincount(flat, minlength=cells, maxlength=cells, dtype=tf.int64)
    return _Counts(tf.reshape(table, (classes.size, clusters.size)), classes, clusters)


def _check_id_indexed_size(entries: int, what: str) -> None:
    """A ValueError if an output with a slot per label value up to the largest would be too large."""
    if entries > _MAX_ID_INDEXED_ENTRIES:
        raise ValueError(
            f"{what} would need {entries} entries: it has one for every label value up to the largest. "
            "Encode the labels first (np.unique(y, return_inverse=True)[1]); the scores (purity, nmi, ari, ...) "
            "need no such step."
        )


def _contingency(y_true: Labels, y_pred: Labels) -> tf.Tensor:
    """The int64 ``(max(y_true) + 1, max(y_pred) + 1)`` table of :func:`contingency_matrix`."""
    counts = _counts(y_true, y_pred)
    shape = (int(counts.classes[-1]) + 1, int(counts.clusters[-1]) + 1)
    _check_id_indexed_size(shape[0] * shape[1], f"A contingency table of shape {shape}")
    rows, columns = np.meshgrid(counts.classes, counts.clusters, indexing="ij")
    indices = np.stack([rows.reshape(-1), columns.reshape(-1)], axis=1)
    return tf.scatter_nd(indices, tf.reshape(counts.table, [-1]), tf.constant(shape, tf.int64))


def _by_cluster_id(counts: _Counts, values: np.ndarray, what: str) -> np.ndarray:
    """``values`` (one per cluster of ``counts``) at their cluster ids in an int64 vector, -1 elsewhere."""
    size = int(counts.clusters[-1]) + 1
    _check_id_indexed_size(size, what)
    by_id = np.full(size, -1, dtype=np.int64)
    by_id[counts.clusters] = values
    return by_id


def _majority(counts: _Counts) -> np.ndarray:
    """Majority class of each cluster of ``counts`` (smallest on ties)."""
    return counts.classes[tf.argmax(counts.table, axis=0).numpy()]


def _cluster_order(counts: _Counts) -> np.ndarray:
    """Cluster ids ordered by majority class, then largest first, then id; ids that never occur last."""
    sizes = tf.reduce_sum(counts.table, axis=0).numpy()
    # np.lexsort sorts by the last key first and is stable, so ids break ties.
    occurring = counts.clusters[np.lexsort((-sizes, _majority(counts)))]
    size = int(counts.clusters[-1]) + 1
    _check_id_indexed_size(size, "The cluster order")
    return np.concatenate([occurring, np.setdiff1d(np.arange(size), counts.clusters)])


def _hungarian_pairs(table: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Matched (rows, columns) of ``table`` in a maximum-count one-to-one assignment."""
    return linear_sum_assignment(table, maximize=True)


def _entropy(counts: tf.Tensor) -> tf.Tensor:
    """Shannon entropy (nats) of a float64 count vector; zero counts contribute 0."""
    p = counts / tf.reduce_sum(counts)
    return -tf.reduce_sum(tf.math.multiply_no_nan(tf.math.log(p), p))


def contingency_matrix(y_true: Labels, y_pred: Labels) -> np.ndarray:
    """Count how many samples of each true class fall in each cluster.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        True class labels, non-negative integers.
    y_pred : array-like of shape (n_samples,)
        Cluster ids, non-negative integers.

    Returns
    -------
    np.ndarray of int64, shape (max(y_true) + 1, max(y_pred) + 1)
        ``table[i, j]`` is the number of samples of class ``i`` in cluster ``j``.
        Label values that never occur give all-zero rows or columns.

    Raises
    ------
    ValueError
        If an input is not 1-D, is empty or has negative labels, or if the lengths
        differ.
    TypeError
        If an input holds non-integer labels (fractional floats, strings, booleans).

    Examples
    --------
    >>> contingency_matrix([0, 0, 1, 1, 1], [0, 2, 2, 2, 0])
    array([[1, 0, 1],
           [1, 0, 2]])
    """
    return _contingency(y_true, y_pred).numpy()


def majority_labels(y_true: Labels, y_pred: Labels) -> np.ndarray:
    """Majority true class of every cluster id.

    Parameters
    ----------
    y_true, y_pred : array-like of shape (n_samples,)
        True class labels and cluster ids, non-negative integers.

    Returns
    -------
    np.ndarray of int64, shape (max(y_pred) + 1,)
        Entry ``j`` is the most frequent class in cluster ``j`` (the smallest class
        on ties) or -1 if no sample has cluster id ``j``. ``labels[y_pred]`` maps
        every sample to its cluster's majority class.

    Examples
    --------
    >>> majority_labels([0, 0, 1, 1, 1], [0, 2, 2, 2, 0])
    array([ 0, -1,  1])
    """
    counts = _counts(y_true, y_pred)
    return _by_cluster_id(counts, _majority(counts), "The majority labels")


def cluster_order(y_true: Labels, y_pred: Labels) -> np.ndarray:
    """Cluster ids in the column order of ``confusion_matrix(..., sort_clusters=True)``.

    Clusters are sorted by majority class (see :func:`majority_labels`); clusters
    sharing a majority class are sorted largest first, then by id. Empty cluster
    ids come last.

    Parameters
    ----------
    y_true, y_pred : array-like of shape (n_samples,)
        True class labels and cluster ids, non-negative integers.

    Returns
    -------
    np.ndarray of int64, shape (max(y_pred) + 1,)
        A permutation of ``range(max(y_pred) + 1)``; use it as the column tick
        labels of a sorted confusion-matrix plot.

    Examples
    --------
    >>> cluster_order([0, 0, 0, 1, 1, 1], [2, 2, 0, 0, 0, 1])
    array([2, 0, 1])
    """
    return _cluster_order(_counts(y_true, y_pred))


def confusion_matrix(
    y_true: Labels, y_pred: Labels, *, sort_clusters: bool = False
) -> np.ndarray:
    """Confusion matrix of true classes (rows) against clusters (columns).

    Parameters
    ----------
    y_true, y_pred : array-like of shape (n_samples,)
        True class labels and cluster ids, non-negative integers.
    sort_clusters : bool, default False
        If False, column ``j`` is cluster ``j`` (the same as
        :func:`contingency_matrix`). If True, columns are reordered by each
        cluster's majority class, larger clusters first on ties, so that a good
        clustering shows a near-diagonal matrix; the column order is
        ``cluster_order(y_true, y_pred)``.

    Returns
    -------
    np.ndarray of int64, shape (max(y_true) + 1, max(y_pred) + 1)
        Sample counts.

    Examples
    --------
    >>> y_true = [0, 0, 0, 1, 1, 1]
    >>> y_pred = [2, 2, 0, 0, 0, 1]
    >>> confusion_matrix(y_true, y_pred, sort_clusters=True)
    array([[2, 1, 0],
           [0, 2, 1]])
    >>> cluster_order(y_true, y_pred)
    array([2, 0, 1])
    """
    table = _contingency(y_true, y_pred)
    if sort_clusters:
        table = tf.gather(table, _cluster_order(_counts(y_true, y_pred)), axis=1)
    return table.numpy()


def purity(y_true: Labels, y_pred: Labels) -> float:
    """Purity: the fraction of samples that belong to their cluster's majority class.

    ``sum_j max_i table[i, j] / n_samples``. It is 1.0 for any clustering whose
    clusters each hold a single class, including one cluster per sample, so compare
    purities only at equal numbers of clusters. It equals
    :func:`majority_accuracy`.

    Parameters
    ----------
    y_true, y_pred : array-like of shape (n_samples,)
        True class labels and cluster ids, non-negative integers.

    Returns
    -------
    float
        In (0, 1].

    See Also
    --------
    mean_cluster_purity : unweighted mean of the per-cluster purities.

    Examples
    --------
    >>> purity([0, 0, 0, 1, 1, 1], [0, 0, 1, 1, 1, 1])
    0.8333333333333334
    """
    table = _counts(y_true, y_pred).table
    return float(tf.reduce_sum(tf.reduce_max(table, axis=0)) / tf.reduce_sum(table))


def mean_cluster_purity(y_true: Labels, y_pred: Labels) -> float:
    """Mean over non-empty clusters of (majority-class count / cluster size).

    This is the "purity" of the naive TensorFlow K-means blog post: every cluster
    weighs the same whatever its size, unlike :func:`purity`, which weighs clusters
    by their sizes. Cluster ids with no samples are skipped (the blog's version
    would divide by zero).

    Parameters
    ----------
    y_true, y_pred : array-like of shape (n_samples,)
        True class labels and cluster ids, non-negative integers.

    Returns
    -------
    float
        In (0, 1].

    Examples
    --------
    >>> mean_cluster_purity([0, 0, 0, 1, 1, 1], [0, 0, 1, 1, 1, 1])
    0.875
    """
    table = tf.cast(_counts(y_true, y_pred).table, tf.float64)  # every cluster in it is non-empty
    return float(tf.reduce_mean(tf.reduce_max(table, axis=0) / tf.reduce_sum(table, axis=0)))


def majority_accuracy(y_true: Labels, y_pred: Labels) -> float:
    """Accuracy after mapping every cluster to its majority class (many-to-one).

    Several clusters may map to the same class. The samples predicted correctly
    are exactly the majority-class samples of each cluster, so this is the same
    number as :func:`purity` and is computed by it; the two names are kept because
    papers use both. ``majority_labels(y_true, y_pred)`` gives the mapping.

    Parameters
    ----------
    y_true, y_pred : array-like of shape (n_samples,)
        True class labels and cluster ids, non-negative integers.

    Returns
    -------
    float
        In (0, 1].

    Examples
    --------
    >>> majority_accuracy([0, 0, 0, 1, 1, 1], [0, 0, 1, 1, 1, 1])
    0.8333333333333334
    """
    return purity(y_true, y_pred)


def hungarian_mapping(y_true: Labels, y_pred: Labels) -> np.ndarray:
    """Best one-to-one cluster -> class map (Hungarian algorithm on the counts).

    Maximises the number of samples whose cluster maps to their class, with
    ``scipy.optimize.linear_sum_assignment`` on the contingency table. Only labels
    that occur are matched, so with more clusters than classes some clusters stay
    unmatched, and with fewer some classes are never predicted.

    Parameters
    ----------
    y_true, y_pred : array-like of shape (n_samples,)
        True class labels and cluster ids, non-negative integers.

    Returns
    -------
    np.ndarray of int64, shape (max(y_pred) + 1,)
        Entry ``j`` is the class matched to cluster ``j``, or -1 if the cluster is
        unmatched or empty. ``mapping[y_pred]`` relabels the predictions.

    Examples
    --------
    >>> hungarian_mapping([0, 0, 0, 1, 1, 1], [2, 2, 0, 0, 0, 1])
    array([ 1, -1,  0])
    """
    counts = _counts(y_true, y_pred)
    rows, columns = _hungarian_pairs(counts.table.numpy())
    matched = np.full(counts.clusters.size, -1, dtype=np.int64)
    matched[columns] = counts.classes[rows]
    return _by_cluster_id(counts, matched, "The Hungarian mapping")


def hungarian_accuracy(y_true: Labels, y_pred: Labels) -> float:
    """Accuracy under the best one-to-one cluster -> class map.

    Samples in clusters left unmatched (when there are more clusters than
    classes) count as wrong; see :func:`hungarian_mapping`. Never higher than
    :func:`majority_accuracy`, and equal to it when the majority map happens to be
    one-to-one.

    Parameters
    ----------
    y_true, y_pred : array-like of shape (n_samples,)
        True class labels and cluster ids, non-negative integers.

    Returns
    -------
    float
        In (0, 1].

    Examples
    --------
    >>> hungarian_accuracy([0, 0, 0, 1, 1, 1], [2, 2, 0, 0, 0, 1])
    0.6666666666666666
    """
    table = _counts(y_true, y_pred).table.numpy()
    rows, columns = _hungarian_pairs(table)
    return float(table[rows, columns].sum() / table.sum())


def nmi(y_true: Labels, y_pred: Labels) -> float:
    """Normalized mutual information with arithmetic-mean normalisation.

    ``I(Y_true; Y_pred) / ((H(Y_true) + H(Y_pred)) / 2)``, computed in float64 from
    the contingency table; the same definition and special cases as scikit-learn's
    ``normalized_mutual_info_score`` default: 1.0 when both labelings put all
    samples in one group, 0.0 when the mutual information is zero.

    Parameters
    ----------
    y_true, y_pred : array-like of shape (n_samples,)
        True class labels and cluster ids, non-negative integers.

    Returns
    -------
    float
        In [0, 1]; invariant to permutations of the labels.

    Examples
    --------
    >>> nmi([0, 0, 1, 1], [1, 1, 0, 0])
    1.0
    >>> round(nmi([0, 0, 0, 1, 1, 1], [0, 0, 1, 1, 1, 1]), 4)
    0.4787
    """
    table = tf.cast(_counts(y_true, y_pred).table, tf.float64)
    class_sizes = tf.reduce_sum(table, axis=1)
    cluster_sizes = tf.reduce_sum(table, axis=0)
    if (
        tf.math.count_nonzero(class_sizes) == 1
        and tf.math.count_nonzero(cluster_sizes) == 1
    ):
        return 1.0
    n = tf.reduce_sum(table)
    expected = class_sizes[:, None] * cluster_sizes[None, :]
    # Empty cells give log(0/0) = nan; multiply_no_nan zeroes them.
    terms = tf.math.multiply_no_nan(tf.math.log(n * table / expected), table / n)
    mutual_info = tf.maximum(tf.reduce_sum(terms), 0.0)  # clip round-off below 0
    if mutual_info == 0.0:
        return 0.0
    mean_entropy = (_entropy(class_sizes) + _entropy(cluster_sizes)) / 2.0
    # Round-off can put a perfect match a hair above 1.
    return min(float(mutual_info / mean_entropy), 1.0)


def ari(y_true: Labels, y_pred: Labels) -> float:
    """Adjusted Rand index (Hubert & Arabie), computed from the contingency table.

    Pair counts are formed exactly in int64 and the final ratio in float64,
    matching scikit-learn's ``adjusted_rand_score``, including its special case:
    1.0 when the two labelings agree on every pair of samples.

    Parameters
    ----------
    y_true, y_pred : array-like of shape (n_samples,)
        True class labels and cluster ids, non-negative integers.

    Returns
    -------
    float
        At most 1.0; about 0.0 for random labelings, possibly negative.

    Examples
    --------
    >>> ari([0, 0, 1, 1], [1, 1, 0, 0])
    1.0
    >>> round(ari([0, 0, 0, 1, 1, 1], [0, 0, 1, 1, 1, 1]), 4)
    0.3243
    """
    table = _counts(y_true, y_pred).table
    n = tf.reduce_sum(table)
    sum_squares = tf.reduce_sum(table**2)
    # Ordered pairs of distinct samples: same class / same cluster, yes or no.
    same_both = sum_squares - n
    same_cluster_only = tf.reduce_sum(tf.reduce_sum(table, axis=0) ** 2) - sum_squares
    same_class_only = tf.reduce_sum(tf.reduce_sum(table, axis=1) ** 2) - sum_squares
    if same_cluster_only == 0 and same_class_only == 0:
        return 1.0
    tp = tf.cast(same_both, tf.float64)
    fp = tf.cast(same_cluster_only, tf.float64)
    fn = tf.cast(same_class_only, tf.float64)
    tn = tf.cast(n * n - sum_squares, tf.float64) - fp - fn
    numerator = 2.0 * (tp * tn - fn * fp)
    return float(numerator / ((tp + fn) * (fn + tn) + (tp + fp) * (fp + tn)))


# --- Geometric metrics: (X, labels) ---------------------------------------------------

Points = ArrayLike | tf.Tensor

# Silhouette distances are computed in blocks of at most (n_samples, chunk_size); by
# default chunk_size keeps a block near this many float64 elements (32 MiB) whatever
# n_samples is, so memory never grows like n_samples².
_SILHOUETTE_BLOCK_ELEMENTS = 2**22

# Exact sum of squared distances to the assigned centres, in row chunks.
_inertia = tf.function(ops.inertia, reduce_retracing=True, autograph=False)


def _as_matrix(data: Points, name: str) -> tf.Tensor:
    """Validate a 2-D numeric, finite, non-empty array; return it as float64."""
    shape = data.shape if tf.is_tensor(data) else np.shape(data)
    if len(shape) != 2:
        raise ValueError(
            f"{name} must be 2-D (n_samples, n_features), got shape {tuple(shape)}"
        )
    return as_float_matrix(data, tf.float64, name)


def _as_points(X: Points, n_samples: int) -> tf.Tensor:
    """``X`` as a float64 matrix with one row per label."""
    x = _as_matrix(X, "X")
    if x.shape[0] != n_samples:
        raise ValueError(
            "Found input variables with inconsistent numbers of samples: "
            f"[{x.shape[0]}, {n_samples}]"
        )
    return x


def _cluster_codes(
    labels: np.ndarray, *, check_count: bool = True
) -> tuple[tf.Tensor, int]:
    """Cluster ids re-indexed to ``0..k-1`` in sorted order (int32), and ``k``.

    With ``check_count``, ``k`` must be between 2 and ``n_samples - 1``, as
    scikit-learn requires for its internal scores.
    """
    uniques, codes = np.unique(labels, return_inverse=True)
    n_clusters = int(uniques.size)
    if check_count and not 1 < n_clusters < labels.size:
        raise ValueError(
            f"Number of labels is {n_clusters}. "
            "Valid values are 2 to n_samples - 1 (inclusive)"
        )
    return tf.constant(codes.reshape(-1), tf.int32), n_clusters


def _clustering(X: Points, labels: Labels) -> tuple[tf.Tensor, tf.Tensor, int]:
    """Validated ``(x, codes, n_clusters)`` for the scores that need 2..n-1 clusters."""
    labels = _as_labels(labels, "labels")
    x = _as_points(X, labels.size)
    codes, n_clusters = _cluster_codes(labels)
    return x, codes, n_clusters


def _cluster_means(
    x: tf.Tensor,
    codes: tf.Tensor,
    n_clusters: int,
    weights: tf.Tensor | None = None,
) -> tuple[tf.Tensor, tf.Tensor]:
    """(Weighted) mean of every cluster ``(k, d)`` and its total weight ``(k,)``.

    A cluster whose weights are all zero gets a zero mean; it contributes nothing
    to any weighted sum.
    """
    if weights is None:
        weights, weighted = tf.ones_like(codes, x.dtype), x
    else:
        weighted = x * weights[:, None]
    mass = tf.math.unsorted_segment_sum(weights, codes, n_clusters)
    totals = tf.math.unsorted_segment_sum(weighted, codes, n_clusters)
    return tf.math.divide_no_nan(totals, mass[:, None]), mass


@tf.function(reduce_retracing=True, autograph=False)
def _center_distance_sums(
    x: tf.Tensor, centers: tf.Tensor, codes: tf.Tensor, chunk_size: int = 4096
) -> tf.Tensor:
    """Per cluster, the sum of Euclidean distances of its rows to its centre."""
    n_clusters = tf.shape(centers)[0]

    def body(start, size, totals):
        block_codes = row_slice(codes, start, size)
        diff = row_slice(x, start, size) - tf.gather(centers, block_codes)
        distances = tf.sqrt(tf.reduce_sum(tf.square(diff), axis=1))
        totals += tf.math.unsorted_segment_sum(distances, block_codes, n_clusters)
        return (totals,)

    initial = (tf.zeros([n_clusters], x.dtype),)
    return fold_chunks(tf.shape(x)[0], chunk_size, body, initial)[0]


def _all_near_zero(values: tf.Tensor) -> bool:
    """``numpy.allclose(values, 0)``, the zero test of scikit-learn's Davies-Bouldin."""
    return bool(tf.reduce_all(tf.abs(values) <= 1e-8))


@tf.function(reduce_retracing=True, autograph=False)
def _distance_sums_by_cluster(
    x: tf.Tensor, codes: tf.Tensor, n_clusters: tf.Tensor, chunk_size: tf.Tensor
) -> tf.Tensor:
    """``sums[i, c]``: total distance from sample ``i`` to the others in cluster ``c``.

    Distances are symmetric, so the chunk of samples ``start:start+size`` only
    meets the samples from ``start`` on, in one ``(n - start, size)`` block: a
    segment sum gives the chunk's sums over those samples and a one-hot matmul
    gives the later samples' sums over the chunk (earlier samples met it in
    earlier chunks). Half the work of all pairs; the ``n × n`` matrix never exists.
    """
    n_samples = tf.shape(x)[0]
    sq_norms = ops.squared_norms(x)

    def body(start, size, sums):
        rest = n_samples - start
        rest_codes = row_slice(codes, start, rest)
        block_codes = row_slice(codes, start, size)
        squared = ops.matmul_squared_distances(
            row_slice(x, start, rest),
            row_slice(x, start, size),
            row_slice(sq_norms, start, rest),
        )
        distances = tf.sqrt(tf.maximum(squared, 0.0))  # row r is sample start + r
        to_chunk = tf.transpose(
            tf.math.unsorted_segment_sum(distances, rest_codes, n_clusters)
        )
        # The expansion leaves round-off on self-distances; remove it (scikit-learn
        # zeroes the diagonal).
        local = tf.range(size)
        to_chunk = tf.tensor_scatter_nd_sub(
            to_chunk,
            tf.stack([local, block_codes], axis=1),
            tf.gather_nd(distances, tf.stack([local, local], axis=1)),
        )
        chunk_one_hot = tf.one_hot(block_codes, n_clusters, dtype=x.dtype)
        # Rows after the chunk; the chunk's own rows are already in to_chunk.
        from_chunk = tf.matmul(distances, chunk_one_hot)[size:]
        update = tf.concat([to_chunk, from_chunk], axis=0)
        return (sums + tf.pad(update, [[start, 0], [0, 0]]),)

    initial = (tf.zeros(tf.stack([n_samples, n_clusters]), x.dtype),)
    return fold_chunks(n_samples, chunk_size, body, initial)[0]


def _silhouette_values(sums: tf.Tensor, codes: tf.Tensor) -> tf.Tensor:
    """Silhouette coefficient of every sample from its per-cluster distance sums."""
    n_clusters = tf.shape(sums)[1]
    ones = tf.ones_like(codes, sums.dtype)
    sizes = tf.math.unsorted_segment_sum(ones, codes, n_clusters)
    own_sizes = tf.gather(sizes, codes)
    a = tf.math.divide_no_nan(tf.gather(sums, codes, batch_dims=1), own_sizes - 1.0)
    own = tf.equal(tf.range(n_clusters)[None, :], codes[:, None])
    inf = tf.constant(np.inf, sums.dtype)
    b = tf.reduce_min(tf.where(own, inf, sums / sizes), axis=1)
    # 0 for singleton clusters and for a == b == 0, like scikit-learn's nan_to_num.
    s = tf.math.divide_no_nan(b - a, tf.maximum(a, b))
    return tf.where(own_sizes > 1.0, s, tf.zeros_like(s))


def inertia(
    X: Points,
    labels: Labels,
    centers: Points | None = None,
    sample_weight: ArrayLike | tf.Tensor | None = None,
) -> float:
    """Sum of squared Euclidean distances of the samples to their cluster centres.

    With ``centers``, this is scikit-learn's ``KMeans.inertia_`` for those
    centres and labels; without, the centres are the (weighted) cluster means,
    i.e. the within-cluster sum of squares. Distances are computed from exact
    differences in float64, in row chunks.

    Parameters
    ----------
    X : array-like or tf.Tensor of shape (n_samples, n_features)
        The samples.
    labels : array-like of shape (n_samples,)
        Cluster id of every sample, non-negative integers. With ``centers``,
        ``labels[i]`` is the row of ``centers`` that sample ``i`` belongs to.
    centers : array-like or tf.Tensor of shape (n_clusters, n_features), optional
        The cluster centres, e.g. ``KMeans.cluster_centers_``. Default: the mean
        of each cluster (weighted by ``sample_weight``).
    sample_weight : array-like of shape (n_samples,) or scalar, optional
        Non-negative weight of each sample's squared distance. Default: all 1.

    Returns
    -------
    float
        Non-negative.

    Raises
    ------
    ValueError
        If ``X`` is not 2-D, empty or non-finite, if the lengths differ, if the
        labels are invalid or do not index ``centers``, or if ``centers`` has a
        different number of features.
    TypeError
        If ``X`` is not numeric or ``labels`` are not integers.

    Examples
    --------
    >>> X = [[0, 0], [0, 2], [4, 0], [4, 2]]
    >>> inertia(X, [0, 0, 1, 1])
    4.0
    >>> inertia(X, [0, 0, 1, 1], centers=[[0, 0], [4, 0]])
    8.0
    """
    labels = _as_labels(labels, "labels")
    x = _as_points(X, labels.size)
    weights = None
    if sample_weight is not None:
        weights = check_sample_weight(sample_weight, labels.size, tf.float64)
    if centers is None:
        codes, n_clusters = _cluster_codes(labels, check_count=False)
        centers, _ = _cluster_means(x, codes, n_clusters, weights)
    else:
        centers = _as_matrix(centers, "centers")
        if centers.shape[1] != x.shape[1]:
            raise ValueError(
                f"centers has {centers.shape[1]} features, but X has {x.shape[1]}"
            )
        if labels.max() >= centers.shape[0]:
            raise ValueError(
                f"labels must index the rows of centers: got label {labels.max()} "
                f"for {centers.shape[0]} centers"
            )
        codes = tf.constant(labels)
    return float(_inertia(x, centers, codes, weights))


def calinski_harabasz(X: Points, labels: Labels) -> float:
    """Calinski-Harabasz score: between- over within-cluster dispersion.

    ``[B / (k - 1)] / [W / (n - k)]`` with ``B = sum_c n_c ||mean_c - mean||²``
    and ``W`` the within-cluster sum of squares (:func:`inertia` to the cluster
    means); 1.0 if ``W`` is zero. Equals
    ``sklearn.metrics.calinski_harabasz_score``. Higher is better.

    Parameters
    ----------
    X : array-like or tf.Tensor of shape (n_samples, n_features)
        The samples.
    labels : array-like of shape (n_samples,)
        Cluster id of every sample, non-negative integers; between 2 and
        ``n_samples - 1`` distinct values.

    Returns
    -------
    float
        Non-negative.

    Raises
    ------
    ValueError
        If ``X`` is not 2-D, empty or non-finite, if the lengths differ, or if
        the labels are invalid or their number of distinct values is out of range.
    TypeError
        If ``X`` is not numeric or ``labels`` are not integers.

    Examples
    --------
    >>> calinski_harabasz([[0, 0], [0, 2], [4, 0], [4, 2]], [0, 0, 1, 1])
    8.0
    """
    x, codes, n_clusters = _clustering(X, labels)
    means, sizes = _cluster_means(x, codes, n_clusters)
    within = _inertia(x, means, codes, None)
    if within == 0.0:
        return 1.0
    offsets = tf.reduce_sum(tf.square(means - tf.reduce_mean(x, axis=0)), axis=1)
    between = tf.reduce_sum(sizes * offsets)
    n_samples = x.shape[0]
    return float(between * (n_samples - n_clusters) / (within * (n_clusters - 1)))


def davies_bouldin(X: Points, labels: Labels) -> float:
    """Davies-Bouldin score: mean over clusters of the worst similarity ratio.

    For clusters ``i`` and ``j``, ``(s_i + s_j) / d_ij`` with ``s`` the mean
    distance of a cluster's samples to its centroid and ``d_ij`` the distance
    between centroids; each cluster takes its largest ratio. 0.0 when every
    ``s_i`` or every ``d_ij`` is (numerically) zero. Equals
    ``sklearn.metrics.davies_bouldin_score``. Lower is better.

    Parameters
    ----------
    X : array-like or tf.Tensor of shape (n_samples, n_features)
        The samples.
    labels : array-like of shape (n_samples,)
        Cluster id of every sample, non-negative integers; between 2 and
        ``n_samples - 1`` distinct values.

    Returns
    -------
    float
        Non-negative.

    Raises
    ------
    ValueError
        If ``X`` is not 2-D, empty or non-finite, if the lengths differ, or if
        the labels are invalid or their number of distinct values is out of range.
    TypeError
        If ``X`` is not numeric or ``labels`` are not integers.

    Examples
    --------
    >>> davies_bouldin([[0, 0], [0, 2], [4, 0], [4, 2]], [0, 0, 1, 1])
    0.5
    """
    x, codes, n_clusters = _clustering(X, labels)
    centroids, sizes = _cluster_means(x, codes, n_clusters)
    spreads = _center_distance_sums(x, centroids, codes) / sizes
    # Shifting by the data mean leaves distances unchanged and shrinks the
    # cancellation error of the ||a||² - 2ab + ||b||² expansion.
    shifted = centroids - tf.reduce_mean(x, axis=0)
    squared = ops.matmul_squared_distances(shifted, shifted)
    separations = tf.linalg.set_diag(
        tf.sqrt(tf.maximum(squared, 0.0)), tf.zeros([n_clusters], tf.float64)
    )
    if _all_near_zero(spreads) or _all_near_zero(separations):
        return 0.0
    inf = tf.constant(np.inf, tf.float64)
    separations = tf.where(separations == 0.0, inf, separations)
    ratios = (spreads[:, None] + spreads[None, :]) / separations
    return float(tf.reduce_mean(tf.reduce_max(ratios, axis=1)))


def silhouette(
    X: Points,
    labels: Labels,
    *,
    sample_size: int | None = None,
    random_state: RandomState = None,
    chunk_size: int | None = None,
) -> float:
    """Mean silhouette coefficient over the samples (Euclidean distance).

    For sample ``i`` with mean distance ``a`` to the other members of its cluster
    and smallest mean distance ``b`` to the members of another cluster, the
    coefficient is ``(b - a) / max(a, b)``; 0 for members of singleton clusters.
    Equals ``sklearn.metrics.silhouette_score`` with the default Euclidean metric.

    The pairwise distances are computed ``chunk_size`` samples at a time, as a
    block of at most ``(n_samples, chunk_size)`` reduced at once to per-cluster
    sums, so the ``n_samples × n_samples`` matrix is never built: all 60,000
    MNIST images fit in memory. Each pair's distance is computed once (the
    matrix is symmetric), yet the cost is still ``O(n_samples² × n_features)``
    and the per-cluster sums take ``n_samples × n_clusters`` floats; use
    ``sample_size`` for a cheaper estimate.

    Parameters
    ----------
    X : array-like or tf.Tensor of shape (n_samples, n_features)
        The samples.
    labels : array-like of shape (n_samples,)
        Cluster id of every sample, non-negative integers; between 2 and
        ``n_samples - 1`` distinct values (within the subset if ``sample_size``
        is given).
    sample_size : int, optional
        If given, the score of a random subset of this many samples, computed
        within the subset, as in scikit-learn (``random_state.permutation(n)
        [:sample_size]``; sizes above ``n_samples`` use every sample). Default:
        every sample.
    random_state : int, numpy RandomState or Generator, or None, default None
        Seeds the subset when ``sample_size`` is given; an int draws the same
        subset as scikit-learn's ``silhouette_score`` with that int.
    chunk_size : int, optional
        Samples per block of distances. Default: about ``2**22 / n_samples``
        (32 MiB blocks). The result does not depend on it beyond round-off.

    Returns
    -------
    float
        In [-1, 1]; higher is better.

    Raises
    ------
    ValueError
        If ``X`` is not 2-D, empty or non-finite, if the lengths differ, if the
        labels are invalid or their number of distinct values is out of range, or
        if ``sample_size`` or ``chunk_size`` is not a positive integer.
    TypeError
        If ``X`` is not numeric, ``labels`` are not integers, or ``sample_size``
        or ``chunk_size`` is not an integer.

    Examples
    --------
    >>> X = [[0, 0], [0, 2], [4, 0], [4, 2]]
    >>> round(silhouette(X, [0, 0, 1, 1]), 4)
    0.5279
    >>> round(silhouette(X, [0, 0, 1, 1], chunk_size=1), 4)
    0.5279
    """
    if sample_size is not None:
        sample_size = check_positive_int(sample_size, "sample_size")
    if chunk_size is not None:
        chunk_size = check_positive_int(chunk_size, "chunk_size")
    labels = _as_labels(labels, "labels")
    x = _as_points(X, labels.size)
    if sample_size is not None:
        rng = check_random_state(random_state)
        indices = rng.permutation(labels.size)[:sample_size]
        x, labels = tf.gather(x, indices), labels[indices]
    codes, n_clusters = _cluster_codes(labels)
    n_samples = labels.size
    if chunk_size is None:
        chunk_size = max(1, _SILHOUETTE_BLOCK_ELEMENTS // n_samples)
    chunk_size = min(chunk_size, n_samples)
    # Distances do not change under a shift; centring reduces cancellation error.
    x = x - tf.reduce_mean(x, axis=0)
    sums = _distance_sums_by_cluster(
        x, codes, tf.constant(n_clusters), tf.constant(chunk_size, tf.int32)
    )
    return float(tf.reduce_mean(_silhouette_values(sums, codes)))
