"""The public k-means++ (tfkmeans.kmeans_plusplus): scikit-learn's contract and quality."""

import numpy as np
import pytest
from sklearn.cluster import kmeans_plusplus as sk_kmeans_plusplus
from threadpoolctl import threadpool_limits

from tfkmeans import kmeans_plusplus


def _potential(x, centers):
    from scipy.spatial.distance import cdist

    return (cdist(x.astype(np.float64), centers.astype(np.float64), "sqeuclidean")).min(axis=1).sum()


def test_centres_are_rows_of_x_and_reproducible(blobs):
    x, _ = blobs
    centers, indices = kmeans_plusplus(x, 7, random_state=3)
    assert centers.shape == (7, x.shape[1]) and centers.dtype == np.float64
    assert len(set(indices.tolist())) == 7
    np.testing.assert_array_equal(centers, x[indices])
    again, _ = kmeans_plusplus(x, 7, random_state=3)
    np.testing.assert_array_equal(centers, again)
    other, _ = kmeans_plusplus(x, 7, random_state=4)
    assert not np.array_equal(centers, other)


def test_potential_matches_scikit_learn_on_average(mnist_subset):
    """Same algorithm (greedy, 2 + ln k trials): the same expected potential, seed for seed noise aside."""
    x, _ = mnist_subset
    x = x[:3000]
    ours = [_potential(x, kmeans_plusplus(x, 20, random_state=s)[0]) for s in range(8)]
    with threadpool_limits(1):  # scikit-learn's OpenMP threads crawl on a busy 2-core machine
        theirs = [_potential(x, sk_kmeans_plusplus(x, 20, random_state=s)[0]) for s in range(8)]
    assert np.mean(ours) == pytest.approx(np.mean(theirs), rel=0.03)
    # Greedy trials matter: a single trial per centre (plain k-means++) is measurably worse.
    plain = [_potential(x, kmeans_plusplus(x, 20, random_state=s, n_local_trials=1)[0]) for s in range(8)]
    assert np.mean(plain) > np.mean(ours)


def test_sample_weight_zero_rows_are_never_chosen(blobs):
    x, _ = blobs
    weights = np.zeros(len(x))
    weights[100:400] = 1.0
    _, indices = kmeans_plusplus(x, 5, sample_weight=weights, random_state=0)
    assert ((indices >= 100) & (indices < 400)).all()


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(n_clusters=0), "n_clusters"),
        (dict(n_clusters=10_000), "n_clusters"),
        (dict(n_clusters=3, n_local_trials=0), "n_local_trials"),
        (dict(n_clusters=3, sample_weight=np.ones(3)), "sample_weight"),
    ],
)
def test_bad_arguments_are_named(blobs, kwargs, message):
    x, _ = blobs
    with pytest.raises(ValueError, match=message):
        kmeans_plusplus(x, **kwargs)


def test_nan_is_refused():
    x = np.ones((10, 2))
    x[3, 1] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        kmeans_plusplus(x, 2)
