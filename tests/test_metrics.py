"""Tests for tfkmeans.metrics.

Hand-computed tables, scikit-learn parity, input types and input validation.
"""

import itertools
import math

import numpy as np
import pytest
import tensorflow as tf
from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score
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
A_MI = (
    math.log(9 / 12) / 9
    + 2 * math.log(2) / 9
    + 3 * math.log(27 / 12) / 9
    + 2 * math.log(3) / 9
)
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
    np.testing.assert_array_equal(
        metrics.majority_labels(B_TRUE, B_PRED), [0, -1, 1, 1]
    )
    np.testing.assert_array_equal(
        metrics.hungarian_mapping(B_TRUE, B_PRED), [0, -1, -1, 1]
    )
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
    cases += [
        pytest.param(np.array(t), np.array(p), id=f"edge{i}")
        for i, (t, p) in enumerate(EDGE_CASES)
    ]
    return cases


@pytest.mark.parametrize("y_true, y_pred", _random_labelings())
def test_matches_sklearn(y_true, y_pred):
    assert metrics.nmi(y_true, y_pred) == pytest.approx(
        normalized_mutual_info_score(y_true, y_pred), abs=1e-6
    )
    assert metrics.ari(y_true, y_pred) == pytest.approx(
        adjusted_rand_score(y_true, y_pred), abs=1e-6
    )
    # scikit-learn's table has only the labels that occur; ours is indexed by value.
    table = metrics.contingency_matrix(y_true, y_pred)
    assert table.shape == (y_true.max() + 1, y_pred.max() + 1)
    assert table.sum() == y_true.size
    compact = table[table.sum(axis=1) > 0][:, table.sum(axis=0) > 0]
    np.testing.assert_array_equal(compact, sk_contingency_matrix(y_true, y_pred))


@pytest.mark.parametrize("y_true, y_pred", _random_labelings())
def test_label_mapping_scores_match_their_definitions(y_true, y_pred):
    sk_table = sk_contingency_matrix(y_true, y_pred)
    assert metrics.purity(y_true, y_pred) == pytest.approx(
        sk_table.max(axis=0).sum() / y_true.size, abs=1e-12
    )
    assert metrics.mean_cluster_purity(y_true, y_pred) == pytest.approx(
        np.mean(sk_table.max(axis=0) / sk_table.sum(axis=0)), abs=1e-12
    )
    majority = metrics.majority_labels(y_true, y_pred)
    assert metrics.majority_accuracy(y_true, y_pred) == pytest.approx(
        np.mean(majority[y_pred] == y_true), abs=1e-12
    )
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
        np.array([], dtype=int), np.array([], dtype=int), ValueError, "empty",
        id="empty-int",
    ),
    pytest.param([0, -1, 2], [0, 1, 2], ValueError, "non-negative", id="negative-true"),
    pytest.param([0, 1, 2], [0, 1, -3], ValueError, "non-negative", id="negative-pred"),
    pytest.param([[0, 1], [1, 0]], [[0, 1], [1, 0]], ValueError, "1-D", id="2-D"),
    pytest.param(
        np.zeros((3, 1), int), np.zeros(3, int), ValueError, "1-D", id="column"
    ),
    pytest.param(3, 3, ValueError, "1-D", id="scalar"),
    pytest.param([0, 1.5, 2], [0, 1, 2], TypeError, "integer", id="fractional"),
    pytest.param([0, 1, 2], [0, np.nan, 2], TypeError, "integer", id="nan"),
    pytest.param([0, 1, 2], [0, np.inf, 2], TypeError, "integer", id="inf"),
    pytest.param(["a", "b"], [0, 1], TypeError, "integer", id="strings"),
    pytest.param(
        tf.constant(["a", "b"]), [0, 1], TypeError, "integer", id="tf-strings"
    ),
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
