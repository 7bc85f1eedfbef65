"""Geometric metrics of :mod:`tfkmeans.metrics`: ``(X, labels)``, computed in TensorFlow in float64.

Their rules for ``X`` and ``labels`` are those of the package docstring; the
chunked distance sums reuse the kernels of :mod:`tfkmeans.ops`.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf
from numpy.typing import ArrayLike

from tfkmeans import _compiled
from tfkmeans._data import as_float_matrix, check_sample_weight
from tfkmeans._params import RandomState, check_positive_int, check_random_state
from tfkmeans.metrics._labels import Labels, as_labels
from tfkmeans.ops._assignment import assigned_squared_distances
from tfkmeans.ops._chunking import fold_chunks, row_slice
from tfkmeans.ops._distances import matmul_squared_distances, squared_norms

Points = ArrayLike | tf.Tensor

# Silhouette distances are computed in blocks of at most (n_samples, chunk_size); by
# default chunk_size keeps a block near this many float64 elements whatever
# n_samples is, so memory never grows like n_samples².
_SILHOUETTE_BLOCK_ELEMENTS = 2**22


def _as_matrix(data: Points, name: str) -> tf.Tensor:
    """Validate a 2-D numeric, finite, non-empty array; return it as float64."""
    shape = data.shape if tf.is_tensor(data) else np.shape(data)
    if len(shape) != 2:
        raise ValueError(f"{name} must be 2-D (n_samples, n_features), got shape {tuple(shape)}")
    return as_float_matrix(data, tf.float64, name)


def _as_points(X: Points, n_samples: int) -> tf.Tensor:
    """``X`` as a float64 matrix with one row per label."""
    x = _as_matrix(X, "X")
    if x.shape[0] != n_samples:
        raise ValueError(f"Found input variables with inconsistent numbers of samples: [{x.shape[0]}, {n_samples}]")
    return x


def _cluster_codes(labels: np.ndarray, *, check_count: bool = True) -> tuple[tf.Tensor, int]:
    """Cluster ids re-indexed to ``0..k-1`` in sorted order (int32), and ``k``.

    With ``check_count``, ``k`` must be between 2 and ``n_samples - 1``, as
    scikit-learn requires for its internal scores.
    """
    uniques, codes = np.unique(labels, return_inverse=True)
    n_clusters = int(uniques.size)
    if check_count and not 1 < n_clusters < labels.size:
        raise ValueError(f"Number of labels is {n_clusters}. Valid values are 2 to n_samples - 1 (inclusive)")
    return tf.constant(codes.reshape(-1), tf.int32), n_clusters


def _clustering(X: Points, labels: Labels) -> tuple[tf.Tensor, tf.Tensor, int]:
    """Validated ``(x, codes, n_clusters)`` for the scores that need 2..n-1 clusters."""
    labels = as_labels(labels, "labels")
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


@_compiled.AnySizeFunction
def _center_distance_sums(x: tf.Tensor, centers: tf.Tensor, codes: tf.Tensor, chunk_size: int = 4096) -> tf.Tensor:
    """Per cluster, the sum of Euclidean distances of its rows to its centre."""
    n_clusters = tf.shape(centers)[0]

    def body(start, size, totals):
        block_codes = row_slice(codes, start, size)
        distances = tf.sqrt(assigned_squared_distances(row_slice(x, start, size), centers, block_codes))
        totals += tf.math.unsorted_segment_sum(distances, block_codes, n_clusters)
        return (totals,)

    initial = (tf.zeros([n_clusters], x.dtype),)
    return fold_chunks(tf.shape(x)[0], chunk_size, body, initial)[0]


def _all_near_zero(values: tf.Tensor) -> bool:
    """``numpy.allclose(values, 0)``, the zero test of scikit-learn's Davies-Bouldin."""
    return bool(tf.reduce_all(tf.abs(values) <= 1e-8))


@_compiled.AnySizeFunction
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
    sq_norms = squared_norms(x)

    def body(start, size, sums):
        rest = n_samples - start
        rest_codes = row_slice(codes, start, rest)
        block_codes = row_slice(codes, start, size)
        squared = matmul_squared_distances(
            row_slice(x, start, rest),
            row_slice(x, start, size),
            row_slice(sq_norms, start, rest),
        )
        distances = tf.sqrt(tf.maximum(squared, 0.0))  # row r is sample start + r
        to_chunk = tf.transpose(tf.math.unsorted_segment_sum(distances, rest_codes, n_clusters))
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
    labels = as_labels(labels, "labels")
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
            raise ValueError(f"centers has {centers.shape[1]} features, but X has {x.shape[1]}")
        if labels.max() >= centers.shape[0]:
            raise ValueError(
                f"labels must index the rows of centers: got label {labels.max()} for {centers.shape[0]} centers"
            )
        codes = tf.constant(labels)
    return float(_compiled.inertia(x, centers, codes, weights))


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
    within = _compiled.inertia(x, means, codes, None)
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
    squared = matmul_squared_distances(shifted, shifted)
    separations = tf.linalg.set_diag(tf.sqrt(tf.maximum(squared, 0.0)), tf.zeros([n_clusters], tf.float64))
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
    labels = as_labels(labels, "labels")
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
    sums = _distance_sums_by_cluster(x, codes, tf.constant(n_clusters), tf.constant(chunk_size, tf.int32))
    return float(tf.reduce_mean(_silhouette_values(sums, codes)))
