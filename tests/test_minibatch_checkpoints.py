"""MiniBatchKMeans checkpoints: a killed fit resumes to the uninterrupted result; bad directories are refused."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf
from conftest import Interrupted, interrupt_after
from test_minibatch import logged_curves

from tfkmeans import KMeans, MiniBatchKMeans, _compiled


def assert_same_fit(fit, reference):
    np.testing.assert_array_equal(fit.cluster_centers_, reference.cluster_centers_)
    np.testing.assert_array_equal(fit.counts_, reference.counts_)
    assert fit.n_steps_ == reference.n_steps_ and fit.n_iter_ == reference.n_iter_
    assert fit.inertia_ == reference.inertia_
    assert fit.n_reassigned_ == reference.n_reassigned_


@pytest.mark.parametrize(
    "params, weighted, every",
    [
        # Early stopping on the smoothed inertia, killed one step before it fires: the EWA, its
        # minimum and the no-improvement counter must survive the restart for it to fire in time.
        (dict(init="k-means++", max_no_improvement=3, compute_labels=True), False, 1),
        # Weighted batches, the random init with n_init candidates, the EWA estimate of inertia.
        (dict(init="random", n_init=3, max_no_improvement=None, compute_labels=False, reassignment_ratio=0.2), True, 4),
    ],
)
def test_resumed_fit_reaches_the_uninterrupted_result(blobs, tmp_path, monkeypatch, params, weighted, every):
    x, _ = blobs
    weights = np.random.default_rng(0).uniform(0.5, 2.0, len(x)) if weighted else None
    params = dict(n_clusters=5, batch_size=50, max_iter=2, random_state=7, **params)
    reference = MiniBatchKMeans(**params).fit(x, sample_weight=weights)
    assert reference.n_steps_ > 12, "the fit must span several checkpoints"
    if params.get("compute_labels"):
        assert reference.n_steps_ < 2 * len(x) // 50, "early stopping must fire"

    # The segmented fit alone already gives the one-graph result.
    direct = MiniBatchKMeans(**params, checkpoint_dir=str(tmp_path / "direct"), checkpoint_every=every)
    assert_same_fit(direct.fit(x, sample_weight=weights), reference)

    segments = 2 if every > 1 else reference.n_steps_ - 1
    restore = interrupt_after(monkeypatch, _compiled, "minibatch_kmeans_resume", calls=segments)
    run = str(tmp_path / "run")
    with pytest.raises(Interrupted):
        MiniBatchKMeans(**params, checkpoint_dir=run, checkpoint_every=every).fit(x, sample_weight=weights)
    restore()
    saved = tf.train.load_checkpoint(tf.train.latest_checkpoint(run))
    assert saved.get_tensor("state_step/.ATTRIBUTES/VARIABLE_VALUE") == segments * every

    # The resumed fit does not re-run the initialisation.
    resumed = MiniBatchKMeans(**params, checkpoint_dir=run, checkpoint_every=every)
    monkeypatch.setattr(resumed, "_best_initial_centers", lambda *a, **k: pytest.fail("initialisation recomputed"))
    assert_same_fit(resumed.fit(x, sample_weight=weights), reference)
    if params.get("compute_labels"):
        np.testing.assert_array_equal(resumed.labels_, reference.labels_)


def test_resumed_fit_continues_the_tensorboard_curves(blobs, tmp_path, monkeypatch):
    """Segments are logged as they finish: a killed and resumed fit logs every step once, as one fit would."""
    x, _ = blobs
    params = dict(n_clusters=5, batch_size=100, max_iter=2, max_no_improvement=None, random_state=0)
    reference = MiniBatchKMeans(**params, log_dir=str(tmp_path / "reference")).fit(x)
    resumable = dict(
        params, checkpoint_dir=str(tmp_path / "run"), checkpoint_every=7, log_dir=str(tmp_path / "run_log")
    )
    restore = interrupt_after(monkeypatch, _compiled, "minibatch_kmeans_resume", calls=2)
    with pytest.raises(Interrupted):
        MiniBatchKMeans(**resumable).fit(x)
    restore()
    assert [step for step, _ in logged_curves(tmp_path / "run_log" / "fit-1")["minibatch_kmeans/ewa_inertia"]] == list(
        range(1, 15)
    )
    MiniBatchKMeans(**params, log_dir=str(tmp_path / "run_log")).fit(x)  # another fit in between: its own folder
    resumed = MiniBatchKMeans(**resumable).fit(x)
    assert_same_fit(resumed, reference)
    expected, logged = logged_curves(tmp_path / "reference" / "fit-1"), logged_curves(tmp_path / "run_log" / "fit-1")
    assert sorted(path.name for path in (tmp_path / "run_log").iterdir()) == ["fit-1", "fit-2"]
    assert len(expected["minibatch_kmeans/batch_inertia"]) == reference.n_steps_ == 30
    for tag, curve in expected.items():
        assert [step for step, _ in logged[tag]] == [step for step, _ in curve]
        # The centres match exactly, but a graph traced for other shapes may sum a batch in another order.
        np.testing.assert_allclose([v for _, v in logged[tag]], [v for _, v in curve], rtol=1e-6)


def test_finished_checkpoint_runs_no_step(blobs, tmp_path, monkeypatch):
    x, _ = blobs
    params = dict(n_clusters=5, batch_size=100, max_iter=1, random_state=0, checkpoint_dir=str(tmp_path))
    first = MiniBatchKMeans(**params).fit(x)
    monkeypatch.setattr(_compiled, "minibatch_kmeans_resume", lambda *a, **k: pytest.fail("a step ran again"))
    again = MiniBatchKMeans(**params).fit(x)
    assert_same_fit(again, first)


@pytest.mark.parametrize(
    "other, message",
    [
        (dict(n_clusters=4), r"n_clusters=5 \(this fit: 4\)"),
        (dict(batch_size=64), r"batch_size=100 \(this fit: 64\)"),
        (dict(dtype="float64"), r"dtype=float32 \(this fit: float64\)"),
    ],
)
def test_checkpoint_from_another_fit_is_refused(blobs, tmp_path, other, message):
    x, _ = blobs
    params = dict(n_clusters=5, batch_size=100, max_iter=1, random_state=0, checkpoint_dir=str(tmp_path))
    MiniBatchKMeans(**params).fit(x)
    with pytest.raises(ValueError, match=message):
        MiniBatchKMeans(**{**params, **other}).fit(x)
    with pytest.raises(ValueError, match=r"n_features=6 \(this fit: 3\)"):
        MiniBatchKMeans(**params).fit(x[:, :3])
    with pytest.raises(ValueError, match=r"n_samples=1500 \(this fit: 1000\)"):
        MiniBatchKMeans(**params).fit(x[:1000])


def test_checkpoint_of_the_other_estimator_is_refused(blobs, tmp_path):
    x, _ = blobs
    KMeans(5, random_state=0, max_iter=3, checkpoint_dir=str(tmp_path / "kmeans")).fit(x)
    with pytest.raises(ValueError, match="not a tfkmeans MiniBatchKMeans checkpoint"):
        MiniBatchKMeans(5, batch_size=100, max_iter=1, checkpoint_dir=str(tmp_path / "kmeans")).fit(x)
    MiniBatchKMeans(5, batch_size=100, max_iter=1, checkpoint_dir=str(tmp_path / "minibatch")).fit(x)
    with pytest.raises(ValueError, match="not a tfkmeans KMeans checkpoint"):
        KMeans(5, checkpoint_dir=str(tmp_path / "minibatch")).fit(x)


def test_corrupt_checkpoint_is_refused(blobs, tmp_path):
    x, _ = blobs
    params = dict(n_clusters=5, batch_size=100, max_iter=1, random_state=0, checkpoint_dir=str(tmp_path))
    MiniBatchKMeans(**params).fit(x)
    for path in tmp_path.glob("ckpt-*"):
        path.write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError, match="corrupt"):
        MiniBatchKMeans(**params).fit(x)


def test_checkpoint_parameters_are_validated(blobs, tmp_path):
    x, _ = blobs
    with pytest.raises(ValueError, match="checkpoint_every must be a positive integer"):
        MiniBatchKMeans(5, checkpoint_dir=str(tmp_path), checkpoint_every=0).fit(x)
    dataset = tf.data.Dataset.from_tensor_slices(x.astype(np.float32)).batch(100)
    with pytest.raises(ValueError, match="in-memory data only"):
        MiniBatchKMeans(5, checkpoint_dir=str(tmp_path)).fit(dataset)
    assert MiniBatchKMeans(5, checkpoint_dir="d", checkpoint_every=3).get_params()["checkpoint_every"] == 3


@pytest.mark.parametrize(
    "change, named",
    [
        ("shifted", "X checksum="),  # the reported case: the same shapes, X + 100
        ("rows permuted", "X checksum="),
        ("sample_weight", "sample_weight checksum="),
        ("random_state", "seed from random_state="),
    ],
)
def test_checkpoint_of_other_data_or_seed_is_refused(blobs, tmp_path, change, named):
    x, _ = blobs
    params = dict(n_clusters=5, batch_size=100, max_iter=1, random_state=0, checkpoint_dir=str(tmp_path))
    MiniBatchKMeans(**params).fit(x)
    other, fit_options = dict(params), {}
    if change == "shifted":
        x = x + 100
    elif change == "rows permuted":
        x = x[::-1]
    elif change == "sample_weight":
        fit_options["sample_weight"] = np.linspace(0.5, 1.5, len(x))
    else:
        other["random_state"] = 1
    with pytest.raises(ValueError, match="belongs to another fit") as refused:
        MiniBatchKMeans(**other).fit(x, **fit_options)
    names = ("n_samples=", "X checksum=", "sample_weight checksum=", "seed from random_state=")
    assert [name for name in names if name in str(refused.value)] == [named]


def test_unseeded_fit_resumes(blobs, tmp_path, monkeypatch):
    """random_state=None cannot be replayed: a fit without one resumes whichever seed the checkpoint holds."""
    x, _ = blobs
    params = dict(n_clusters=5, batch_size=100, max_iter=1, checkpoint_dir=str(tmp_path))
    first = MiniBatchKMeans(**params).fit(x)
    monkeypatch.setattr(_compiled, "minibatch_kmeans_resume", lambda *a, **k: pytest.fail("a step ran again"))
    assert_same_fit(MiniBatchKMeans(**params).fit(x), first)
    with pytest.raises(ValueError, match=r"seed from random_state=None \(this fit: \d+\)"):
        MiniBatchKMeans(**params, random_state=0).fit(x)
