"""Label-based metrics of :mod:`tfkmeans.metrics`: ``(y_true, y_pred)``, computed in TensorFlow.

The rules for labels (types, encoding, the size limit of id-indexed outputs)
are those of the package docstring.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import tensorflow as tf
from numpy.typing import ArrayLike
from scipy.optimize import linear_sum_assignment

Labels = ArrayLike | tf.Tensor


def as_labels(y: Labels, name: str) -> np.ndarray:
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
    y_true = as_labels(y_true, "y_true")
    y_pred = as_labels(y_pred, "y_pred")
    if y_true.shape != y_pred.shape:
        raise ValueError(f"y_true and y_pred differ in length: {y_true.size} != {y_pred.size}")
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


def confusion_matrix(y_true: Labels, y_pred: Labels, *, sort_clusters: bool = False) -> np.ndarray:
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
    if tf.math.count_nonzero(class_sizes) == 1 and tf.math.count_nonzero(cluster_sizes) == 1:
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
