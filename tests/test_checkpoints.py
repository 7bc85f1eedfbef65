"""Long fits checkpoint their progress and resume to the same result; bad directories are refused."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf
from conftest import Interrupted, interrupt_after

from tfkmeans import KMeans
from tfkmeans import _kmeans


# The compiled function each algorithm runs a checkpointed fit with ('auto' picks
# Lloyd there, whose resumed fits are bit-exact).
RUN_FUNCTIONS = [("lloyd", "_lloyd"), ("auto", "_lloyd"), ("elkan", "_lloyd_bounded")]


@pytest.mark.parametrize("algorithm, compiled_name", RUN_FUNCTIONS)
@pytest.mark.parametrize("n_init", [1, 3])
def test_resumed_fit_reaches_the_uninterrupted_result(mnist_subset, tmp_path, monkeypatch, n_init, algorithm, compiled_name):
    x, _ = mnist_subset
    x = x[:3000]
    # tol=0 stops when the centres repeat bit for bit; Elkan's resumed running sums
    # round differently from the uninterrupted ones, so it gets a small tol instead.
    tol = 1e-5 if algorithm == "elkan" else 0.0
    params = dict(n_clusters=10, init="random", n_init=n_init, random_state=5, tol=tol, max_iter=60, algorithm=algorithm)
    reference = KMeans(**params, checkpoint_dir=str(tmp_path / "uninterrupted"), checkpoint_every=1000).fit(x)
    assert reference.n_iter_ > 8, "the fit must span several checkpoints"

    restore = interrupt_after(monkeypatch, _kmeans, compiled_name, calls=2 * n_init)
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
    compiled = getattr(_kmeans, compiled_name)
    monkeypatch.setattr(_kmeans, compiled_name, lambda *a, **k: calls.append(k) or compiled(*a, **k))
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
    restore = interrupt_after(monkeypatch, _kmeans, "_lloyd_stream_fit", calls=2)
    with pytest.raises(Interrupted):
        KMeans(**params, checkpoint_dir=str(tmp_path), checkpoint_every=2).fit(dataset)
    restore()
    resumed = KMeans(**params, checkpoint_dir=str(tmp_path), checkpoint_every=2).fit(dataset)
    np.testing.assert_array_equal(resumed.cluster_centers_, reference.cluster_centers_)
    np.testing.assert_array_equal(resumed.labels_, reference.labels_)
    assert resumed.n_iter_ == reference.n_iter_
