"""Long fits checkpoint their progress and resume to the same result; bad directories are refused."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import tensorflow as tf
from conftest import Interrupted, interrupt_after
from sklearn.datasets import make_blobs

from tfkmeans import KMeans, _checkpoint, _compiled
from tfkmeans._checkpoint import fit_fingerprint

# The compiled function each algorithm runs a checkpointed fit with ('auto' picks
# Lloyd there, whose resumed fits are bit-exact).
RUN_FUNCTIONS = [("lloyd", "lloyd"), ("auto", "lloyd"), ("elkan", "lloyd_bounded")]


@pytest.mark.parametrize("algorithm, compiled_name", RUN_FUNCTIONS)
@pytest.mark.parametrize("n_init", [1, 3])
def test_resumed_fit_reaches_the_uninterrupted_result(
    mnist_subset, tmp_path, monkeypatch, n_init, algorithm, compiled_name
):
    x, _ = mnist_subset
    x = x[:3000]
    # tol=0 stops when the centres repeat bit for bit; Elkan's resumed running sums
    # round differently from the uninterrupted ones, so it gets a small tol instead.
    tol = 1e-5 if algorithm == "elkan" else 0.0
    params = dict(
        n_clusters=10, init="random", n_init=n_init, random_state=5, tol=tol, max_iter=60, algorithm=algorithm
    )
    reference = KMeans(**params, checkpoint_dir=str(tmp_path / "uninterrupted"), checkpoint_every=1000).fit(x)
    assert reference.n_iter_ > 8, "the fit must span several checkpoints"

    restore = interrupt_after(monkeypatch, _compiled, compiled_name, calls=2 * n_init)
    with pytest.raises(Interrupted):
        KMeans(**params, checkpoint_dir=str(tmp_path), checkpoint_every=3).fit(x)
    restore()
    assert tf.train.latest_checkpoint(str(tmp_path)) is not None

    resumed = KMeans(**params, checkpoint_dir=str(tmp_path), checkpoint_every=3).fit(x)
    np.testing.assert_array_equal(resumed.labels_, reference.labels_)
    assert resumed.n_iter_ == reference.n_iter_
    if algorithm == "elkan":  # running float64 totals of float32 chunk sums: equal to their rounding
        np.testing.assert_allclose(resumed.cluster_centers_, reference.cluster_centers_, rtol=0, atol=1e-6)
        assert resumed.inertia_ == pytest.approx(reference.inertia_, rel=1e-6)
    else:
        np.testing.assert_array_equal(resumed.cluster_centers_, reference.cluster_centers_)
        assert resumed.inertia_ == reference.inertia_


@pytest.mark.parametrize("algorithm, compiled_name", RUN_FUNCTIONS)
def test_finished_checkpoint_returns_the_fit_without_iterating(blobs, tmp_path, monkeypatch, algorithm, compiled_name):
    x, _ = blobs
    options = dict(random_state=0, checkpoint_dir=str(tmp_path), checkpoint_every=2, algorithm=algorithm)
    first = KMeans(5, **options).fit(x)
    calls = []
    compiled = getattr(_compiled, compiled_name)
    monkeypatch.setattr(_compiled, compiled_name, lambda *a, **k: calls.append(k) or compiled(*a, **k))
    again = KMeans(5, **options).fit(x)
    np.testing.assert_array_equal(again.cluster_centers_, first.cluster_centers_)
    assert again.n_iter_ == first.n_iter_ and again.inertia_ == pytest.approx(first.inertia_)
    assert len(calls) == 1  # only the labels pass (max_iter=0)


@pytest.mark.parametrize(
    "other, message",
    [
        (dict(n_clusters=4), r"n_clusters=5 \(this fit: 4\)"),
        (dict(n_init=2), r"n_init=1 \(this fit: 2\)"),
        (dict(dtype="float64"), r"dtype=float32 \(this fit: float64\)"),
    ],
)
def test_checkpoint_from_another_fit_is_refused(blobs, tmp_path, other, message):
    x, _ = blobs
    KMeans(5, random_state=0, checkpoint_dir=str(tmp_path)).fit(x)
    with pytest.raises(ValueError, match=message):
        KMeans(**{"n_clusters": 5, "random_state": 0, "checkpoint_dir": str(tmp_path), **other}).fit(x)
    with pytest.raises(ValueError, match=r"n_features=6 \(this fit: 3\)"):
        KMeans(5, random_state=0, checkpoint_dir=str(tmp_path)).fit(x[:, :3])


def test_corrupt_checkpoint_is_refused(blobs, tmp_path):
    x, _ = blobs
    KMeans(5, random_state=0, checkpoint_dir=str(tmp_path)).fit(x)
    for path in tmp_path.glob("ckpt-*"):
        path.write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError, match="corrupt"):
        KMeans(5, random_state=0, checkpoint_dir=str(tmp_path)).fit(x)


def test_checkpoint_every_is_validated(blobs, tmp_path):
    x, _ = blobs
    with pytest.raises(ValueError, match="checkpoint_every must be a positive integer"):
        KMeans(5, checkpoint_dir=str(tmp_path), checkpoint_every=0).fit(x)


def test_streamed_fit_resumes_too(blobs, tmp_path, monkeypatch):
    x, _ = blobs
    dataset = tf.data.Dataset.from_tensor_slices(x).batch(256)
    params = dict(n_clusters=5, init=x[:5], tol=0.0, dtype="float64")
    reference = KMeans(**params).fit(dataset)
    assert reference.n_iter_ > 4
    restore = interrupt_after(monkeypatch, _compiled, "lloyd_stream_fit", calls=2)
    with pytest.raises(Interrupted):
        KMeans(**params, checkpoint_dir=str(tmp_path), checkpoint_every=2).fit(dataset)
    restore()
    resumed = KMeans(**params, checkpoint_dir=str(tmp_path), checkpoint_every=2).fit(dataset)
    np.testing.assert_array_equal(resumed.cluster_centers_, reference.cluster_centers_)
    np.testing.assert_array_equal(resumed.labels_, reference.labels_)
    assert resumed.n_iter_ == reference.n_iter_


# Which parts of the fingerprint an error names: one of each kind of change.
FINGERPRINT_NAMES = ("n_samples=", "X checksum=", "sample_weight checksum=", "seed from random_state=")


def _changed_fit(x, change):
    """``(X, fit options)`` of a fit that differs from ``(x, random_state=0)`` by ``change`` only."""
    changed = x.copy()
    if change == "shifted":  # the reported case: the same shapes, X + 100
        return x + 100, {}
    if change == "rows permuted":
        return x[np.random.default_rng(0).permutation(len(x))], {}
    if change == "features permuted":
        return x[:, ::-1], {}
    if change == "one value":
        changed[700, 2] += 0.5
        return changed, {}
    if change == "sample_weight":
        return x, dict(sample_weight=np.r_[2.0, np.ones(len(x) - 1)])
    return x, dict(random_state=1)


CHANGES = [
    ("shifted", "X checksum="),
    ("rows permuted", "X checksum="),
    ("features permuted", "X checksum="),
    ("one value", "X checksum="),
    ("sample_weight", "sample_weight checksum="),
    ("random_state", "seed from random_state="),
]


@pytest.mark.parametrize("change, named", CHANGES)
def test_checkpoint_of_other_data_or_seed_is_refused(blobs, tmp_path, change, named):
    x, _ = blobs
    KMeans(5, random_state=0, checkpoint_dir=str(tmp_path)).fit(x)
    other_x, options = _changed_fit(x, change)
    random_state = options.pop("random_state", 0)
    with pytest.raises(ValueError, match="belongs to another fit") as refused:
        KMeans(5, random_state=random_state, checkpoint_dir=str(tmp_path)).fit(other_x, **options)
    assert [name for name in FINGERPRINT_NAMES if name in str(refused.value)] == [named]


def test_reported_case_fits_the_new_data_in_a_fresh_directory(tmp_path):
    """X + 100 in the first fit's directory was answered with the first fit's centres; now it is refused."""
    x, _ = make_blobs(300, centers=3, random_state=0)
    first = KMeans(3, random_state=0, checkpoint_dir=str(tmp_path / "a")).fit(x)
    with pytest.raises(ValueError, match=r"X checksum=\(919\.3\d*, "):
        KMeans(3, random_state=0, checkpoint_dir=str(tmp_path / "a")).fit(x + 100)
    moved = KMeans(3, random_state=0, checkpoint_dir=str(tmp_path / "b")).fit(x + 100)
    np.testing.assert_allclose(moved.cluster_centers_, first.cluster_centers_ + 100, rtol=1e-5)
    assert moved.inertia_ == pytest.approx(first.inertia_, rel=1e-3)


@pytest.mark.parametrize(
    "as_given",
    [
        lambda x: x.astype(np.float32),  # the fit's dtype: the checksums are of X converted to it
        np.asfortranarray,
        lambda x: x.tolist(),
        tf.constant,
        lambda x: x.reshape(len(x), 2, 3),  # flattened per sample, as fit does
    ],
    ids=["float32", "fortran", "list", "tensor", "rank-3"],
)
def test_same_data_in_another_form_resumes(blobs, tmp_path, monkeypatch, as_given):
    x, _ = blobs
    first = KMeans(5, random_state=0, checkpoint_dir=str(tmp_path)).fit(x)
    calls = []
    compiled = _compiled.lloyd
    monkeypatch.setattr(_compiled, "lloyd", lambda *a, **k: calls.append(a[3]) or compiled(*a, **k))
    again = KMeans(5, random_state=0, checkpoint_dir=str(tmp_path)).fit(as_given(x))
    assert [int(max_iter) for max_iter in calls] == [0]  # the finished fit was resumed, not refitted
    # Equal up to the float32 rounding of whatever fit computes from X itself (e.g. its mean).
    np.testing.assert_allclose(again.cluster_centers_, first.cluster_centers_, rtol=1e-5, atol=1e-5)


def test_unseeded_fit_resumes_with_the_stored_seeds(blobs, tmp_path):
    x, _ = blobs
    params = dict(n_clusters=5, init="random", n_init=3, max_iter=2, checkpoint_dir=str(tmp_path))
    first = KMeans(**params).fit(x)
    stored = tf.train.load_checkpoint(str(tmp_path)).get_tensor("run_seeds/.ATTRIBUTES/VARIABLE_VALUE")
    again = KMeans(**params).fit(x)  # random_state=None draws other seeds, yet resumes the finished fit
    np.testing.assert_array_equal(again.cluster_centers_, first.cluster_centers_)
    np.testing.assert_array_equal(
        tf.train.load_checkpoint(str(tmp_path)).get_tensor("run_seeds/.ATTRIBUTES/VARIABLE_VALUE"), stored
    )
    with pytest.raises(ValueError, match=r"seed from random_state=None \(this fit: \d+\)"):
        KMeans(**params, random_state=0).fit(x)


def test_checkpoint_without_a_fingerprint_is_refused(blobs, tmp_path):
    """A checkpoint of an earlier version cannot be checked against the data, so it is not resumed."""
    x, _ = blobs
    variables = dict(
        run_seeds=tf.Variable(tf.zeros([1], tf.int64)),
        run_index=tf.Variable(0, dtype=tf.int64),
        iterations=tf.Variable(0, dtype=tf.int64),
        centers=tf.Variable(tf.zeros([5, 6])),
        best_centers=tf.Variable(tf.zeros([5, 6])),
        best_inertia=tf.Variable(np.inf, dtype=tf.float64),
        best_n_iter=tf.Variable(0, dtype=tf.int64),
    )
    tf.train.CheckpointManager(tf.train.Checkpoint(**variables), str(tmp_path), max_to_keep=2).save()
    with pytest.raises(ValueError, match="no fingerprint of the data"):
        KMeans(5, random_state=0, checkpoint_dir=str(tmp_path)).fit(x)


def test_fingerprint_checksums(blobs, monkeypatch):
    x, _ = blobs
    weights = np.random.default_rng(1).uniform(0.5, 2.0, len(x))
    monkeypatch.setattr(_checkpoint, "_CHECKSUM_CHUNK", 6 * 64)  # 64 rows a chunk: 24 chunks
    fingerprint = fit_fingerprint(x, weights, tf.float64, 0)
    rows, columns = np.arange(1, len(x) + 1), np.arange(1, 7)
    assert fingerprint.n_samples == 1500
    np.testing.assert_allclose(
        fingerprint.x_checksum, [x.sum(), (x**2).sum(), (x.sum(1) * rows).sum(), (x.sum(0) * columns).sum()], rtol=1e-12
    )
    np.testing.assert_allclose(
        fingerprint.weight_checksum, [weights.sum(), (weights**2).sum(), (weights * rows).sum()], rtol=1e-12
    )
    assert fingerprint.seed == np.random.RandomState(0).randint(0, 2**31 - 1)
    # A dataset of the same rows and weights, read in batches of 100, gives the same checksums.
    dataset = tf.data.Dataset.from_tensor_slices((x, np.zeros(len(x)), weights)).batch(100)
    streamed = fit_fingerprint(dataset, None, tf.float64, 0)
    assert streamed.n_samples == 1500 and streamed.seed == fingerprint.seed
    np.testing.assert_allclose(streamed.x_checksum, fingerprint.x_checksum, rtol=1e-12)
    np.testing.assert_allclose(streamed.weight_checksum, fingerprint.weight_checksum, rtol=1e-12)


@pytest.mark.parametrize(
    "random_state", [np.random.RandomState(3), np.random.default_rng(3)], ids=["RandomState", "Generator"]
)
def test_fingerprint_leaves_the_random_state_alone(blobs, random_state):
    x, _ = blobs
    before = copy.deepcopy(random_state)
    seeds = {fit_fingerprint(x, None, tf.float32, random_state).seed for _ in range(2)}
    assert len(seeds) == 1 and None not in seeds
    draw = "randint" if isinstance(random_state, np.random.RandomState) else "integers"
    assert getattr(random_state, draw)(2**31 - 1) == getattr(before, draw)(2**31 - 1)
    assert fit_fingerprint(x, None, tf.float32, None).seed is None
