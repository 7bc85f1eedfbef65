"""Exact Lloyd passes over bfloat16 integer codes: labels and sums equal to float64."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from benchmarks import bf16_kernel as low_precision

RNG = np.random.default_rng(0)


def float64_labels(codes: np.ndarray, centers: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Nearest centres by direct float64 differences (lowest index among exact ties)."""
    distances = ((codes[:, None, :] - centers[None, :, :].astype(np.float64)) ** 2).sum(axis=2)
    return distances.argmin(axis=1), distances.min(axis=1)


def assign(codes: np.ndarray, centers: np.ndarray, parts: int = 2, **options) -> low_precision.BlockAssignment:
    """``assign_block`` on a whole array under XLA (bfloat16 → float32 products need it)."""

    @tf.function(jit_compile=True)
    def run(block, norms, valid, centers):
        return low_precision.assign_block(block, norms, valid, low_precision.split_centers(centers, parts), **options)

    block = tf.constant(codes, tf.bfloat16)
    norms = tf.constant((codes.astype(np.float64) ** 2).sum(axis=1), tf.float32)
    return run(block, norms, tf.ones([len(codes)], tf.bool), tf.constant(centers, tf.float32))


def mnist_codes(mnist_subset, n: int) -> np.ndarray:
    return np.round(mnist_subset[0][:n].astype(np.float64) * 255.0)


def test_integer_codes_recognise_mnist_and_reject_other_data(mnist_subset):
    codes, exact = low_precision.integer_codes(mnist_subset[0])
    assert bool(exact)
    np.testing.assert_array_equal(codes.numpy().astype(np.float64), mnist_codes(mnist_subset, 5000))
    assert not bool(low_precision.integer_codes(mnist_subset[0][:10] + 1e-3)[1])
    assert not bool(low_precision.integer_codes(np.full((2, 3), 2.0, np.float32))[1])  # codes up to 256 only


@pytest.mark.parametrize("parts", [1, 2])
@pytest.mark.parametrize("k", [10, 100])
def test_labels_equal_float64_on_mnist(mnist_subset, k, parts):
    codes = mnist_codes(mnist_subset, 2000)
    # Centres as Lloyd produces them (not integers): one Lloyd step from k random images.
    groups, _ = float64_labels(codes, codes[RNG.choice(len(codes), k, replace=False)])
    centers = np.stack([codes[groups == j].mean(axis=0) for j in range(k)]).astype(np.float32)
    expected, distances = float64_labels(codes, centers)
    got = assign(codes, centers, parts, max_recheck=256)
    np.testing.assert_array_equal(got.labels.numpy(), expected)
    # Distances of certified rows come from the bf16 scores: within the bound.
    split = low_precision.split_centers(tf.constant(centers), parts)
    bound = low_precision.score_error_bound(tf.constant((codes**2).sum(axis=1), tf.float32), split, 784).numpy()
    assert np.all(np.abs(got.min_sq_distances.numpy() - distances) <= bound + 1e-6 * distances)
    assert not bool(got.fallback)


def near_tie_problem(n_rows: int, n_features: int = 784) -> tuple[np.ndarray, np.ndarray]:
    """Rows whose two nearest centres differ by ~1e-10 of the distance, plus an exact tie.

    Centres 0 and 1 differ only in coordinate 0 (119.75 and 120.25 + 2**-10);
    centre 2 is a copy of centre 0. Even rows (coordinate 0 = 120) are closer to
    centres 0 and 2 (an exact tie) by 5e-4, odd rows (121) closer to centre 1 by
    ~1: both far below the float32 resolution of distances near 10**7.
    """
    base = RNG.integers(0, 256, n_features) + 0.25
    centers = np.stack([base, base, base])
    centers[[0, 2], 0], centers[1, 0] = 119.75, 120.25 + 2.0**-10
    points = RNG.integers(0, 256, (n_rows, n_features)).astype(np.float64)
    points[:, 0] = 120.0 + np.arange(n_rows) % 2
    return points, centers.astype(np.float32)


def test_exact_ties_go_to_the_lowest_index_and_near_ties_are_resolved():
    points, centers = near_tie_problem(40)
    expected, _ = float64_labels(points, centers)
    assert set(expected[::2]) == {0} and set(expected[1::2]) == {1}
    got = assign(points, centers)
    np.testing.assert_array_equal(got.labels.numpy(), expected)
    assert int(got.n_near_ties) == 40 and not bool(got.fallback)


def test_too_many_near_ties_fall_back_to_float64():
    points, centers = near_tie_problem(40)
    got = assign(points, centers, max_recheck=8)
    assert bool(got.fallback)
    np.testing.assert_array_equal(got.labels.numpy(), float64_labels(points, centers)[0])


def test_too_many_candidate_centres_fall_back_to_float64():
    points, centers = near_tie_problem(6)
    centers = np.concatenate([centers] * 2)  # six centres inside every row's bound
    got = assign(points, centers, max_candidates=4)
    assert bool(got.fallback)
    np.testing.assert_array_equal(got.labels.numpy(), float64_labels(points, centers)[0])
    wide = assign(points, centers, max_candidates=6)
    assert not bool(wide.fallback)
    np.testing.assert_array_equal(wide.labels.numpy(), got.labels.numpy())


@pytest.mark.parametrize("one_hot_sums", [True, False])
def test_lloyd_pass_sums_are_exact_with_padding(mnist_subset, one_hot_sums):
    n, k, chunk = 3000, 12, 1024  # 3000 rows: the last chunk is padded
    codes = mnist_codes(mnist_subset, n)
    centers = codes[RNG.choice(n, k, replace=False)] + RNG.uniform(-0.5, 0.5, (k, codes.shape[1]))
    centers = centers.astype(np.float32)
    padded = low_precision.pad_rows(tf.constant(codes, tf.bfloat16), chunk)
    norms = tf.reduce_sum(tf.square(tf.cast(padded, tf.float32)), axis=1)
    run = tf.function(
        lambda c: low_precision.lloyd_pass(padded, norms, tf.constant(n), c, chunk, one_hot_sums=one_hot_sums),
        jit_compile=True,
    )
    totals = run(tf.constant(centers))
    labels, distances = float64_labels(codes, centers)
    expected_sums = np.zeros((k, codes.shape[1]))
    np.add.at(expected_sums, labels, codes)
    np.testing.assert_array_equal(totals.counts.numpy(), np.bincount(labels, minlength=k))
    np.testing.assert_array_equal(totals.sums.numpy(), expected_sums)
    np.testing.assert_allclose(totals.inertia.numpy(), distances.sum(), rtol=1e-6)
    # Relocation candidates: the k real rows farthest from their centres.
    order = np.argsort(-distances, kind="stable")[:k]
    np.testing.assert_array_equal(np.sort(totals.farthest_rows.numpy()), np.sort(order))
    np.testing.assert_array_equal(totals.farthest_labels.numpy(), labels[totals.farthest_rows.numpy()])
    assert int(totals.n_fallback_chunks) == 0


def test_lloyd_pass_rejects_chunks_whose_sums_could_round():
    codes = tf.zeros([2**17, 2], tf.bfloat16)
    with pytest.raises(ValueError, match="inexact"):
        low_precision.lloyd_pass(codes, tf.zeros([2**17]), tf.constant(1), tf.zeros([2, 2]), chunk_size=2**17)
