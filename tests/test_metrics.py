"""Tests for tfkmeans.metrics.

Label metrics: hand-computed tables, scikit-learn parity, input types and input
validation. Geometric metrics (inertia, Calinski-Harabasz, Davies-Bouldin,
silhouette): scikit-learn parity on blobs and digits, chunking, sampling,
validation and bounded memory.
"""

import itertools
import math

import numpy as np
import pytest
import tensorflow as tf
from sklearn.cluster import KMeans as SkKMeans
from sklearn.datasets import load_digits, make_blobs
from sklearn.metrics import (
    adjusted_rand_score,
    calinski_harabasz_score,
    davies_bouldin_score,
    normalized_mutual_info_score,
    silhouette_score,
)
from sklearn.metrics.cluster import contingency_matrix as sk_contingency_matrix

from tfkmeans import metrics

SCORES = [
    metrics.purity,
    metrics.mean_cluster_purity,
    metrics.majority_accuracy,
    metrics.hungarian_accuracy,
    metrics.nmi,
    metrics.ari,
]
ARRAYS = [
    metrics.contingency_matrix,
    metrics.confusion_matrix,
    metrics.majority_labels,
    metrics.cluster_order,
    metrics.hungarian_mapping,
]
ALL_FUNCTIONS = SCORES + ARRAYS


def _entropy(*probs):
    return -sum(p * math.log(p) for p in probs)


# --- Hand-computed cases -----------------------------------------------------------

# Case A: 3 classes, 3 clusters.
#                 cluster 0  1  2   class size
#   class 0              1  2  0   3
#   class 1              3  0  0   3
#   class 2              0  1  2   3
#   cluster size         4  3  2   N = 9
# majority classes: 1, 0, 2 (one-to-one, so Hungarian = majority map)
# purity = (3 + 2 + 2) / 9 = 7/9; mean cluster purity = (3/4 + 2/3 + 2/2) / 3 = 29/36
# ARI: sum C(n_ij, 2) = 0+1+3+0+1 = 5; rows: 3*C(3,2) = 9; cols: 6+3+1 = 10; C(9,2) = 36
#   expected = 9*10/36 = 2.5, max = (9+10)/2 = 9.5, ARI = (5-2.5)/(9.5-2.5) = 5/14
# MI = sum n_ij/N ln(N n_ij / (a_i b_j)) = 1/9 ln(9/12) + 2/9 ln(18/9) + 3/9 ln(27/12)
#      + 1/9 ln(9/9) + 2/9 ln(18/6); H(true) = ln 3; H(pred) = H(4/9, 3/9, 2/9)
A_TRUE = [0, 0, 0, 1, 1, 1, 2, 2, 2]
A_PRED = [1, 1, 0, 0, 0, 0, 2, 2, 1]
A_TABLE = [[1, 2, 0], [3, 0, 0], [0, 1, 2]]
A_MI = math.log(9 / 12) / 9 + 2 * math.log(2) / 9 + 3 * math.log(27 / 12) / 9 + 2 * math.log(3) / 9
A_NMI = A_MI / ((math.log(3) + _entropy(4 / 9, 3 / 9, 2 / 9)) / 2)

# Case B: more clusters than classes, and cluster id 1 never used.
#                 cluster 0  1  2  3   class size
#   class 0              4  0  1  0   5
#   class 1              0  0  2  3   5
#   cluster size         4  0  3  3   N = 10
# majority classes: 0, -1 (empty), 1, 1  ->  purity = (4 + 2 + 3) / 10 = 9/10
# mean cluster purity over the 3 non-empty clusters = (4/4 + 2/3 + 3/3) / 3 = 8/9
# Hungarian: class 0 -> cluster 0 (4), class 1 -> cluster 3 (3) = 7/10;
#   cluster 2 is left unmatched
# ARI: sum C(n_ij, 2) = 6+0+1+3 = 10; rows 10+10 = 20; cols 6+0+3+3 = 12; C(10,2) = 45
#   expected = 20*12/45 = 16/3, max = 16, ARI = (10-16/3)/(16-16/3) = 7/16
# MI = 4/10 ln(40/20) + 1/10 ln(10/15) + 2/10 ln(20/15) + 3/10 ln(30/15)
#   H(true) = ln 2; H(pred) = H(0.4, 0.3, 0.3)
B_TRUE = [0, 0, 0, 0, 0, 1, 1, 1, 1, 1]
B_PRED = [0, 0, 0, 0, 2, 2, 2, 3, 3, 3]
B_TABLE = [[4, 0, 1, 0], [0, 0, 2, 3]]
B_MI = 0.7 * math.log(2) + 0.1 * math.log(2 / 3) + 0.2 * math.log(4 / 3)
B_NMI = B_MI / ((math.log(2) + _entropy(0.4, 0.3, 0.3)) / 2)

# Case C: clusters sharing a majority class, sorted largest first.
#                 cluster 0  1  2
#   class 0              0  1  3
#   class 1              1  2  0
# majority: cluster 0 -> 1 (size 1), cluster 1 -> 1 (size 3), cluster 2 -> 0 (size 3)
# sorted column order: 2 (class 0), then 1 before 0 (class 1, larger first)
C_TRUE = [0, 0, 0, 0, 1, 1, 1]
C_PRED = [2, 2, 2, 1, 1, 1, 0]

# Case D: a perfect labelling with permuted, gappy cluster ids: every score is 1.
D_TRUE = [0, 0, 1, 1, 2, 2, 2]
D_PRED = [5, 5, 3, 3, 0, 0, 0]


def test_case_a_tables():
    np.testing.assert_array_equal(metrics.contingency_matrix(A_TRUE, A_PRED), A_TABLE)
    np.testing.assert_array_equal(metrics.confusion_matrix(A_TRUE, A_PRED), A_TABLE)
    np.testing.assert_array_equal(metrics.majority_labels(A_TRUE, A_PRED), [1, 0, 2])
    np.testing.assert_array_equal(metrics.hungarian_mapping(A_TRUE, A_PRED), [1, 0, 2])
    np.testing.assert_array_equal(metrics.cluster_order(A_TRUE, A_PRED), [1, 0, 2])
    np.testing.assert_array_equal(
        metrics.confusion_matrix(A_TRUE, A_PRED, sort_clusters=True),
        [[2, 1, 0], [0, 3, 0], [1, 0, 2]],
    )


def test_case_a_scores():
    assert metrics.purity(A_TRUE, A_PRED) == pytest.approx(7 / 9)
    assert metrics.majority_accuracy(A_TRUE, A_PRED) == pytest.approx(7 / 9)
    assert metrics.mean_cluster_purity(A_TRUE, A_PRED) == pytest.approx(29 / 36)
    assert metrics.hungarian_accuracy(A_TRUE, A_PRED) == pytest.approx(7 / 9)
    assert metrics.ari(A_TRUE, A_PRED) == pytest.approx(5 / 14)
    assert metrics.nmi(A_TRUE, A_PRED) == pytest.approx(A_NMI)


def test_case_b_more_clusters_than_classes_with_gap():
    np.testing.assert_array_equal(metrics.contingency_matrix(B_TRUE, B_PRED), B_TABLE)
    np.testing.assert_array_equal(metrics.majority_labels(B_TRUE, B_PRED), [0, -1, 1, 1])
    np.testing.assert_array_equal(metrics.hungarian_mapping(B_TRUE, B_PRED), [0, -1, -1, 1])
    # Clusters 2 and 3 tie on class and size, so id order; empty cluster 1 last.
    np.testing.assert_array_equal(metrics.cluster_order(B_TRUE, B_PRED), [0, 2, 3, 1])
    assert metrics.purity(B_TRUE, B_PRED) == pytest.approx(9 / 10)
    assert metrics.majority_accuracy(B_TRUE, B_PRED) == pytest.approx(9 / 10)
    assert metrics.mean_cluster_purity(B_TRUE, B_PRED) == pytest.approx(8 / 9)
    assert metrics.hungarian_accuracy(B_TRUE, B_PRED) == pytest.approx(7 / 10)
    assert metrics.ari(B_TRUE, B_PRED) == pytest.approx(7 / 16)
    assert metrics.nmi(B_TRUE, B_PRED) == pytest.approx(B_NMI)


def test_case_c_sorted_confusion_matrix_puts_larger_cluster_first():
    np.testing.assert_array_equal(metrics.cluster_order(C_TRUE, C_PRED), [2, 1, 0])
    np.testing.assert_array_equal(
        metrics.confusion_matrix(C_TRUE, C_PRED, sort_clusters=True),
        [[3, 1, 0], [0, 2, 1]],
    )


@pytest.mark.parametrize("score", SCORES, ids=lambda f: f.__name__)
def test_case_d_perfect_permuted_labelling_scores_one(score):
    assert score(D_TRUE, D_PRED) == pytest.approx(1.0)


def test_case_d_hungarian_mapping_recovers_permutation():
    mapping = metrics.hungarian_mapping(D_TRUE, D_PRED)
    np.testing.assert_array_equal(mapping, [2, -1, -1, 1, -1, 0])
    np.testing.assert_array_equal(mapping[D_PRED], D_TRUE)


def test_fewer_clusters_than_classes():
    # Table [[1, 0], [1, 0], [0, 2]]: cluster 1 -> class 2 (2), cluster 0 -> class 0
    # or 1 (1); one of classes 0 and 1 is never predicted.
    y_true, y_pred = [0, 1, 2, 2], [0, 0, 1, 1]
    assert metrics.hungarian_accuracy(y_true, y_pred) == pytest.approx(3 / 4)
    assert metrics.hungarian_mapping(y_true, y_pred)[1] == 2
    assert metrics.purity(y_true, y_pred) == pytest.approx(3 / 4)


def test_hungarian_below_majority_when_majority_map_is_many_to_one():
    # Table [[1, 0, 2], [2, 1, 0]]: majority map 0->1, 1->1, 2->0 gives 5/6;
    # one-to-one best is 2->0, 0->1 with 4/6.
    y_true, y_pred = [0, 0, 0, 1, 1, 1], [2, 2, 0, 0, 0, 1]
    assert metrics.majority_accuracy(y_true, y_pred) == pytest.approx(5 / 6)
    assert metrics.hungarian_accuracy(y_true, y_pred) == pytest.approx(4 / 6)
    np.testing.assert_array_equal(metrics.hungarian_mapping(y_true, y_pred), [1, -1, 0])


def test_majority_tie_picks_smallest_class():
    np.testing.assert_array_equal(metrics.majority_labels([1, 0, 2], [0, 0, 0]), [0])


# --- Against scikit-learn and brute force on random labelings ----------------------

EDGE_CASES = [
    ([0], [0]),  # one sample
    ([0, 0, 0], [4, 4, 4]),  # one group each
    ([0, 0, 0], [0, 1, 2]),  # one class, all singletons
    ([0, 1, 2], [2, 0, 1]),  # singletons both sides
    ([0, 1, 2, 3], [0, 0, 0, 0]),
]


def _random_labelings():
    cases = []
    for seed in range(5):
        for n in (2, 10, 100, 1000, 10_000):
            rng = np.random.default_rng(seed * 100_003 + n)
            k_true, k_pred = rng.integers(2, 21, size=2)
            y_true = rng.integers(0, k_true, size=n)
            # Half the cases: predictions correlated with the truth, so scores vary.
            if seed % 2:
                y_pred = rng.integers(0, k_pred, size=n)
            else:
                noise = (rng.random(n) < 0.3) * rng.integers(0, 20, n)
                y_pred = (y_true + noise) % k_pred
            cases.append(pytest.param(y_true, y_pred, id=f"seed{seed}-n{n}"))
    rng = np.random.default_rng(20)
    y_true = rng.integers(0, 20, size=10_000)
    permuted = (y_true * 7) % 20
    y_pred = np.where(rng.random(10_000) < 0.5, permuted, rng.integers(0, 20, 10_000))
    cases.append(pytest.param(y_true, y_pred, id="k20-n10000"))
    cases += [pytest.param(np.array(t), np.array(p), id=f"edge{i}") for i, (t, p) in enumerate(EDGE_CASES)]
    return cases


@pytest.mark.parametrize("y_true, y_pred", _random_labelings())
def test_matches_sklearn(y_true, y_pred):
    assert metrics.nmi(y_true, y_pred) == pytest.approx(normalized_mutual_info_score(y_true, y_pred), abs=1e-6)
    assert metrics.ari(y_true, y_pred) == pytest.approx(adjusted_rand_score(y_true, y_pred), abs=1e-6)
    # scikit-learn's table has only the labels that occur; ours is indexed by value.
    table = metrics.contingency_matrix(y_true, y_pred)
    assert table.shape == (y_true.max() + 1, y_pred.max() + 1)
    assert table.sum() == y_true.size
    compact = table[table.sum(axis=1) > 0][:, table.sum(axis=0) > 0]
    np.testing.assert_array_equal(compact, sk_contingency_matrix(y_true, y_pred))


@pytest.mark.parametrize("y_true, y_pred", _random_labelings())
def test_label_mapping_scores_match_their_definitions(y_true, y_pred):
    sk_table = sk_contingency_matrix(y_true, y_pred)
    assert metrics.purity(y_true, y_pred) == pytest.approx(sk_table.max(axis=0).sum() / y_true.size, abs=1e-12)
    assert metrics.mean_cluster_purity(y_true, y_pred) == pytest.approx(
        np.mean(sk_table.max(axis=0) / sk_table.sum(axis=0)), abs=1e-12
    )
    majority = metrics.majority_labels(y_true, y_pred)
    assert metrics.majority_accuracy(y_true, y_pred) == pytest.approx(np.mean(majority[y_pred] == y_true), abs=1e-12)
    mapping = metrics.hungarian_mapping(y_true, y_pred)
    matched = mapping[mapping >= 0]
    assert len(set(matched)) == matched.size  # one-to-one
    hungarian = metrics.hungarian_accuracy(y_true, y_pred)
    assert hungarian == pytest.approx(np.mean(mapping[y_pred] == y_true), abs=1e-12)
    assert hungarian <= metrics.purity(y_true, y_pred) + 1e-12
    order = metrics.cluster_order(y_true, y_pred)
    np.testing.assert_array_equal(np.sort(order), np.arange(y_pred.max() + 1))
    np.testing.assert_array_equal(
        metrics.confusion_matrix(y_true, y_pred, sort_clusters=True),
        metrics.contingency_matrix(y_true, y_pred)[:, order],
    )


@pytest.mark.parametrize("seed", range(10))
def test_hungarian_accuracy_matches_brute_force(seed):
    rng = np.random.default_rng(seed)
    k_true, k_pred = rng.integers(1, 6, size=2)
    y_true = rng.integers(0, k_true, size=50)
    y_pred = rng.integers(0, k_pred, size=50)
    table = metrics.contingency_matrix(y_true, y_pred)
    n_classes, n_clusters = table.shape
    if n_classes <= n_clusters:
        best = max(
            table[np.arange(n_classes), list(cols)].sum()
            for cols in itertools.permutations(range(n_clusters), n_classes)
        )
    else:
        best = max(
            table[list(rows), np.arange(n_clusters)].sum()
            for rows in itertools.permutations(range(n_classes), n_clusters)
        )
    assert metrics.hungarian_accuracy(y_true, y_pred) == pytest.approx(best / 50)


# --- Input types --------------------------------------------------------------------

INPUT_TYPES = {
    "list": lambda y: list(y),
    "tuple": lambda y: tuple(y),
    "int32": lambda y: np.asarray(y, dtype=np.int32),
    "uint8": lambda y: np.asarray(y, dtype=np.uint8),
    "whole floats": lambda y: np.asarray(y, dtype=np.float32),
    "tf int32": lambda y: tf.constant(y, dtype=tf.int32),
    "tf int64": lambda y: tf.constant(y, dtype=tf.int64),
    "tf float64": lambda y: tf.constant(y, dtype=tf.float64),
}


@pytest.mark.parametrize("convert", INPUT_TYPES.values(), ids=INPUT_TYPES.keys())
@pytest.mark.parametrize("function", ALL_FUNCTIONS, ids=lambda f: f.__name__)
def test_input_types_give_identical_results(function, convert):
    expected = function(np.array(B_TRUE), np.array(B_PRED))
    got = function(convert(B_TRUE), convert(B_PRED))
    assert type(got) is type(expected)
    np.testing.assert_array_equal(got, expected)


@pytest.mark.parametrize("function", SCORES, ids=lambda f: f.__name__)
def test_scores_are_python_floats(function):
    assert type(function(A_TRUE, A_PRED)) is float


# --- Validation ---------------------------------------------------------------------

BAD_INPUTS = [
    pytest.param([0, 1, 2], [0, 1], ValueError, "differ in length", id="length"),
    pytest.param([], [], ValueError, "empty", id="empty"),
    pytest.param(
        np.array([], dtype=int),
        np.array([], dtype=int),
        ValueError,
        "empty",
        id="empty-int",
    ),
    pytest.param([0, -1, 2], [0, 1, 2], ValueError, "non-negative", id="negative-true"),
    pytest.param([0, 1, 2], [0, 1, -3], ValueError, "non-negative", id="negative-pred"),
    pytest.param([[0, 1], [1, 0]], [[0, 1], [1, 0]], ValueError, "1-D", id="2-D"),
    pytest.param(np.zeros((3, 1), int), np.zeros(3, int), ValueError, "1-D", id="column"),
    pytest.param(3, 3, ValueError, "1-D", id="scalar"),
    pytest.param([0, 1.5, 2], [0, 1, 2], TypeError, "integer", id="fractional"),
    pytest.param([0, 1, 2], [0, np.nan, 2], TypeError, "integer", id="nan"),
    pytest.param([0, 1, 2], [0, np.inf, 2], TypeError, "integer", id="inf"),
    pytest.param(["a", "b"], [0, 1], TypeError, "integer", id="strings"),
    pytest.param(tf.constant(["a", "b"]), [0, 1], TypeError, "integer", id="tf-strings"),
    pytest.param([0, 1], [True, False], TypeError, "integer", id="bool"),
    pytest.param([0, None], [0, 1], TypeError, "integer", id="object"),
    pytest.param([0, 1], [0, 1 + 1j], TypeError, "integer", id="complex"),
]


@pytest.mark.parametrize("y_true, y_pred, error, match", BAD_INPUTS)
@pytest.mark.parametrize("function", ALL_FUNCTIONS, ids=lambda f: f.__name__)
def test_invalid_inputs_raise(function, y_true, y_pred, error, match):
    with pytest.raises(error, match=match):
        function(y_true, y_pred)


def test_error_names_the_offending_argument():
    with pytest.raises(ValueError, match="y_pred"):
        metrics.purity([0, 1], [0, -1])
    with pytest.raises(TypeError, match="y_true"):
        metrics.purity([0.5, 1], [0, 1])


# --- Geometric metrics: against scikit-learn ----------------------------------------

GEOMETRIC_SCORES = {
    metrics.silhouette: silhouette_score,
    metrics.calinski_harabasz: calinski_harabasz_score,
    metrics.davies_bouldin: davies_bouldin_score,
}
GEOMETRIC_FUNCTIONS = [metrics.inertia, *GEOMETRIC_SCORES]
REL = 1e-4  # the required agreement with scikit-learn


def _blob_cases():
    """(seed, k, d, n): the corners of k 2..12, d 2..50, n up to 3,000, then random."""
    cases = [(0, 2, 2, 60), (1, 12, 50, 3000), (2, 12, 2, 1000), (3, 2, 50, 500)]
    for seed in range(4, 10):
        rng = np.random.default_rng(seed)
        k = int(rng.integers(2, 13))
        d, n = int(rng.integers(2, 51)), int(rng.integers(20 * k, 3001))
        cases.append((seed, k, d, n))
    return [pytest.param(*case, id="seed{}-k{}-d{}-n{}".format(*case)) for case in cases]


def _blobs(seed, k, d, n):
    rng = np.random.default_rng(seed)
    x, y = make_blobs(n, n_features=d, centers=k, cluster_std=rng.uniform(0.5, 4.0), random_state=seed)
    # Gappy, unsorted ids, and a labelling unrelated to the geometry.
    return x, y * 3 + 7, rng.integers(0, k, n) * 5 + 2


@pytest.mark.parametrize("seed, k, d, n", _blob_cases())
def test_scores_match_sklearn_on_blobs(seed, k, d, n):
    x, blob_labels, random_labels = _blobs(seed, k, d, n)
    for labels in (blob_labels, random_labels):
        for ours, theirs in GEOMETRIC_SCORES.items():
            assert ours(x, labels) == pytest.approx(theirs(x, labels), rel=REL)


@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
@pytest.mark.parametrize("seed, k, d, n", _blob_cases()[:6])
def test_inertia_matches_sklearn_kmeans(seed, k, d, n, weighted):
    x, _, _ = _blobs(seed, k, d, n)
    w = np.random.default_rng(seed).uniform(0.1, 3.0, n) if weighted else None
    km = SkKMeans(k, n_init=1, random_state=seed).fit(x, sample_weight=w)
    got = metrics.inertia(x, km.labels_, km.cluster_centers_, sample_weight=w)
    assert got == pytest.approx(km.inertia_, rel=REL)


@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
def test_inertia_to_cluster_means_matches_numpy(weighted):
    x, blob_labels, random_labels = _blobs(5, 6, 9, 700)
    w = np.random.default_rng(1).uniform(0.0, 2.0, 700) if weighted else np.ones(700)
    for labels in (blob_labels, random_labels):
        expected = 0.0
        for c in np.unique(labels):
            members, weights = x[labels == c], w[labels == c]
            mean = np.average(members, axis=0, weights=weights)
            expected += np.sum(weights * np.sum((members - mean) ** 2, axis=1))
        got = metrics.inertia(x, labels, sample_weight=w if weighted else None)
        assert got == pytest.approx(expected, rel=1e-10)


def test_inertia_of_one_cluster_is_the_total_sum_of_squares():
    x = np.random.default_rng(0).normal(size=(50, 3))
    expected = np.sum((x - x.mean(axis=0)) ** 2)
    assert metrics.inertia(x, np.zeros(50, int)) == pytest.approx(expected, rel=1e-12)
    assert metrics.inertia(x, np.zeros(50, int), centers=np.zeros((1, 3))) == (pytest.approx(np.sum(x**2), rel=1e-12))


@pytest.fixture(scope="module")
def digits():
    """load_digits (1,797 × 64) with its classes and a scikit-learn KMeans(10) fit."""
    x, y = load_digits(return_X_y=True)
    return x, y, SkKMeans(10, n_init=1, random_state=0).fit(x)


def test_scores_match_sklearn_on_digits(digits):
    x, classes, km = digits
    for labels in (km.labels_, classes):
        for ours, theirs in GEOMETRIC_SCORES.items():
            assert ours(x, labels) == pytest.approx(theirs(x, labels), rel=REL)
    assert metrics.inertia(x, km.labels_, km.cluster_centers_) == pytest.approx(km.inertia_, rel=REL)
    # At a Lloyd fixed point the centres are the cluster means.
    assert metrics.inertia(x, km.labels_) == pytest.approx(km.inertia_, rel=REL)


def test_hand_computed_scores():
    # Two clusters of two points: means (0, 1) and (4, 1), every point 1 from its
    # mean; B = 2*4 + 2*4 = 16, W = 4, CH = (16/1) / (4/2) = 8; DB = (1+1)/4.
    # Silhouette of every point: a = 2, b = (4 + sqrt(20)) / 2.
    x = [[0, 0], [0, 2], [4, 0], [4, 2]]
    labels = [0, 0, 1, 1]
    b = (4 + math.sqrt(20)) / 2
    assert metrics.inertia(x, labels) == pytest.approx(4.0)
    assert metrics.calinski_harabasz(x, labels) == pytest.approx(8.0)
    assert metrics.davies_bouldin(x, labels) == pytest.approx(0.5)
    assert metrics.silhouette(x, labels) == pytest.approx((b - 2) / b)


DEGENERATE = {
    # A singleton cluster (its silhouette is 0) next to duplicated points.
    "singleton": ([[0, 0], [0, 0], [1, 0], [5, 5], [5, 6], [9, 9]], [0, 0, 0, 1, 1, 2]),
    # Coincident clusters: a == b == 0 for every point; W == 0 (CH is 1).
    "coincident": ([[1, 1]] * 4 + [[3, 3]] * 2, [0, 0, 1, 1, 2, 2]),
    # Every cluster is a single repeated point: zero spread (DB is 0).
    "zero spread": (
        [[0, 0]] * 3 + [[2, 0]] * 3 + [[0, 5]] * 2,
        [4, 4, 4, 1, 1, 1, 0, 0],
    ),
}


@pytest.mark.parametrize("x, labels", DEGENERATE.values(), ids=DEGENERATE.keys())
def test_degenerate_cases_match_sklearn(x, labels):
    x = np.array(x, dtype=float)
    for ours, theirs in GEOMETRIC_SCORES.items():
        assert ours(x, labels) == pytest.approx(theirs(x, labels), rel=REL, abs=1e-12)


# --- Silhouette: chunking and sampling ---------------------------------------------


@pytest.mark.parametrize("chunk_size", [1, 2, 7, 64, 300, 10_000])
def test_silhouette_chunked_equals_unchunked(chunk_size):
    x, labels, _ = _blobs(11, 4, 5, 301)
    unchunked = metrics.silhouette(x, labels, chunk_size=301)
    assert metrics.silhouette(x, labels, chunk_size=chunk_size) == pytest.approx(unchunked, rel=1e-12)
    assert unchunked == pytest.approx(silhouette_score(x, labels), rel=1e-10)


def test_silhouette_sample_size_is_reproducible_and_close_to_the_full_score(blobs):
    x, labels = blobs  # 1,500 points
    full = metrics.silhouette(x, labels)
    sampled = metrics.silhouette(x, labels, sample_size=500, random_state=3)
    assert metrics.silhouette(x, labels, sample_size=500, random_state=3) == sampled
    # An int seed draws the same subset as scikit-learn.
    assert sampled == pytest.approx(silhouette_score(x, labels, sample_size=500, random_state=3), rel=1e-10)
    assert sampled != metrics.silhouette(x, labels, sample_size=500, random_state=4)
    assert abs(sampled - full) < 0.05
    rng = np.random.RandomState(3)
    assert metrics.silhouette(x, labels, sample_size=500, random_state=rng) == sampled
    generator_score = metrics.silhouette(x, labels, sample_size=500, random_state=np.random.default_rng(0))
    assert abs(generator_score - full) < 0.05
    # As in scikit-learn, a sample at least as large as the data is all of it.
    assert metrics.silhouette(x, labels, sample_size=5000, random_state=0) == pytest.approx(full, rel=1e-12)


# --- Geometric metrics: input types and validation ---------------------------------

_GRID = np.random.default_rng(0).integers(0, 10, size=(40, 3))  # exact in every dtype
_GRID_LABELS = np.repeat([3, 0, 8, 5], 10)

POINT_TYPES = {
    "int64": lambda x: x,
    "list": lambda x: x.tolist(),
    "float32": lambda x: x.astype(np.float32),
    "uint8": lambda x: x.astype(np.uint8),
    "tf float32": lambda x: tf.constant(x, tf.float32),
    "tf float64": lambda x: tf.constant(x, tf.float64),
    "tf int32": lambda x: tf.constant(x, tf.int32),
}


@pytest.mark.parametrize("convert", POINT_TYPES.values(), ids=POINT_TYPES.keys())
@pytest.mark.parametrize("function", GEOMETRIC_FUNCTIONS, ids=lambda f: f.__name__)
def test_geometric_input_types_give_identical_results(function, convert):
    expected = function(_GRID.astype(float), _GRID_LABELS)
    got = function(convert(_GRID), tf.constant(_GRID_LABELS))
    assert type(got) is float
    assert got == pytest.approx(expected, rel=1e-12)


_X4 = np.arange(8.0).reshape(4, 2)

BAD_GEOMETRIC_INPUTS = [
    pytest.param(np.arange(4.0), [0, 0, 1, 1], ValueError, "2-D", id="X-1-D"),
    pytest.param(np.zeros((4, 2, 2)), [0, 0, 1, 1], ValueError, "2-D", id="X-3-D"),
    pytest.param(5.0, [0], ValueError, "2-D", id="X-scalar"),
    pytest.param(np.zeros((4, 0)), [0, 0, 1, 1], ValueError, "0 feature", id="X-no-features"),
    pytest.param(np.where(_X4 == 3, np.nan, _X4), [0, 0, 1, 1], ValueError, "NaN", id="X-nan"),
    pytest.param(
        np.where(_X4 == 3, np.inf, _X4),
        [0, 0, 1, 1],
        ValueError,
        "infinity",
        id="X-inf",
    ),
    pytest.param([["a", "b"]] * 4, [0, 0, 1, 1], TypeError, "numeric", id="X-strings"),
    pytest.param(
        _X4,
        [0, 0, 1],
        ValueError,
        "inconsistent numbers of samples: \\[4, 3\\]",
        id="length",
    ),
    pytest.param(np.zeros((0, 2)), [], ValueError, "empty", id="empty"),
    pytest.param(_X4, [0, 0, -1, 1], ValueError, "non-negative", id="negative-label"),
    pytest.param(_X4, [0, 0.5, 1, 1], TypeError, "integer", id="fractional-label"),
    pytest.param(_X4, ["a", "a", "b", "b"], TypeError, "integer", id="string-labels"),
    pytest.param(_X4, [[0, 0, 1, 1]], ValueError, "1-D", id="2-D-labels"),
]


@pytest.mark.parametrize("X, labels, error, match", BAD_GEOMETRIC_INPUTS)
@pytest.mark.parametrize("function", GEOMETRIC_FUNCTIONS, ids=lambda f: f.__name__)
def test_geometric_invalid_inputs_raise(function, X, labels, error, match):
    with pytest.raises(error, match=match):
        function(X, labels)


@pytest.mark.parametrize(
    "labels, count",
    [([2, 2, 2, 2], 1), ([0, 1, 2, 3], 4), ([9, 0, 5, 7], 4)],
    ids=["one-label", "all-distinct", "all-distinct-gappy"],
)
@pytest.mark.parametrize("function", list(GEOMETRIC_SCORES), ids=lambda f: f.__name__)
def test_scores_need_2_to_n_minus_1_labels(function, labels, count):
    message = f"Number of labels is {count}. Valid values are 2"
    with pytest.raises(ValueError, match=message):
        function(_X4, labels)
    # scikit-learn refuses the same labelings.
    with pytest.raises(ValueError, match=f"Number of labels is {count}"):
        GEOMETRIC_SCORES[function](_X4, labels)


def test_silhouette_sample_must_hold_two_to_n_minus_1_labels():
    with pytest.raises(ValueError, match="Number of labels is 1"):
        metrics.silhouette(_X4, [0, 0, 1, 1], sample_size=1, random_state=0)


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"sample_size": 0}, ValueError, "sample_size"),
        ({"sample_size": 2.5}, TypeError, "sample_size"),
        ({"chunk_size": 0}, ValueError, "chunk_size"),
        ({"chunk_size": True}, TypeError, "chunk_size"),
        ({"sample_size": 3, "random_state": "seed"}, ValueError, "random_state"),
    ],
)
def test_silhouette_invalid_options_raise(kwargs, error, match):
    with pytest.raises(error, match=match):
        metrics.silhouette(_X4, [0, 0, 1, 1], **kwargs)


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"centers": np.zeros((2, 3))}, ValueError, "centers has 3 features, but X"),
        ({"centers": np.zeros((1, 2))}, ValueError, "index the rows of centers"),
        ({"centers": np.zeros(2)}, ValueError, "centers must be 2-D"),
        ({"centers": [[0, np.nan], [1, 1]]}, ValueError, "centers contains NaN"),
        ({"sample_weight": [1, 1, 1]}, ValueError, "sample_weight must have shape"),
        ({"sample_weight": [1, -1, 1, 1]}, ValueError, "non-negative"),
        ({"sample_weight": [0, 0, 0, 0]}, ValueError, "zero everywhere"),
    ],
)
def test_inertia_invalid_centers_and_weights_raise(kwargs, error, match):
    with pytest.raises(error, match=match):
        metrics.inertia(_X4, [0, 0, 1, 1], **kwargs)


# --- Silhouette at scale: bounded memory --------------------------------------------


SILHOUETTE_PROBE = """
import numpy as np
from sklearn.metrics import silhouette_score
from tfkmeans import metrics
rng = np.random.default_rng(0)
x = rng.random((20_000, 64), dtype=np.float32)
labels = rng.integers(0, 10, 20_000) * 2
before = status_mb("VmRSS")
full = metrics.silhouette(x, labels)
peak = status_mb("VmHWM")
print(json.dumps({
    "before": before, "peak": peak, "full": full,
    "slice": metrics.silhouette(x[:2000], labels[:2000]),
    "slice_sklearn": float(silhouette_score(x[:2000], labels[:2000])),
}))
"""


@pytest.mark.slow
@pytest.mark.memory
@pytest.mark.fresh_process(SILHOUETTE_PROBE)
def test_silhouette_on_20000_points_never_builds_the_n_by_n_matrix(script_report):
    """20,000 points: an n × n float64 matrix would be 3.2 GB; peak growth is < 1 GB.

    Few features (64) keep it quick: the n × n matrix does not depend on them. The
    same data's first 2,000 rows check the value against scikit-learn.
    """
    assert script_report["peak"] - script_report["before"] < 1024, script_report
    assert -1.0 <= script_report["full"] <= 1.0
    assert script_report["slice"] == pytest.approx(script_report["slice_sklearn"], rel=REL)
