"""Restarts run together (ops.lloyd_runs, kmeans_plusplus_runs) end exactly where single runs do."""

import numpy as np
import pytest
import tensorflow as tf

from tfkmeans import KMeans, ops
from tfkmeans.ops._chunking import default_chunk_size
from tfkmeans.ops._seeding import kmeans_plusplus_runs


def _single_and_batched(x, initial_centers, tol, max_iter=100):
    x = tf.constant(x)
    weights = tf.ones([x.shape[0]], x.dtype)
    k = initial_centers.shape[1]
    batched = ops.lloyd_runs(
        x,
        weights,
        tf.constant(initial_centers),
        tf.constant(max_iter),
        tf.constant(tol, x.dtype),
        chunk_size=default_chunk_size(k * len(initial_centers), x.shape[1], "matmul"),
    )
    singles = [
        ops.lloyd(
            x,
            weights,
            tf.constant(c),
            tf.constant(max_iter),
            tf.constant(tol, x.dtype),
            chunk_size=default_chunk_size(k, x.shape[1], "matmul"),
        )
        for c in initial_centers
    ]
    return batched, singles


@pytest.mark.parametrize("k", [10, 40])  # one-hot sums (k <= 32) and scatter sums
def test_each_run_ends_where_a_single_run_ends(mnist_subset, k):
    x, _ = mnist_subset
    x = x[:3000]
    rng = np.random.RandomState(k)
    initial = np.stack([x[rng.choice(len(x), k, replace=False)] for _ in range(3)])
    tol = 1e-4 * float(np.var(x, axis=0).mean())
    batched, singles = _single_and_batched(x, initial, tol)
    n_iter = [int(s.n_iter) for s in singles]
    assert len(set(n_iter)) > 1, "runs must stop at different iterations to test freezing"
    np.testing.assert_array_equal(batched.n_iter.numpy(), n_iter)
    np.testing.assert_array_equal(batched.converged.numpy(), [bool(s.converged) for s in singles])
    for r, single in enumerate(singles):
        np.testing.assert_array_equal(batched.centers[r].numpy(), single.centers.numpy())
        np.testing.assert_allclose(batched.inertia[r].numpy(), single.inertia.numpy(), rtol=1e-5)
        np.testing.assert_allclose(batched.history[: n_iter[r], r].numpy(), single.history.numpy(), rtol=1e-6)


def test_an_empty_cluster_in_one_run_is_relocated_as_alone(blobs):
    x, _ = blobs
    x = x.astype(np.float32)
    normal = x[:4].copy()
    with_empty = normal.copy()
    with_empty[3] = x.max(axis=0) + 1e3  # nobody's nearest centre
    batched, singles = _single_and_batched(x, np.stack([normal, with_empty]), tol=0.0, max_iter=30)
    assert np.isfinite(batched.centers.numpy()).all()
    for r, single in enumerate(singles):
        np.testing.assert_array_equal(batched.centers[r].numpy(), single.centers.numpy())
        assert int(batched.n_iter[r]) == int(single.n_iter)
    # The relocated centre lands on the data, not on the far-away start.
    assert np.abs(batched.centers[1, 3].numpy()).max() < np.abs(x).max() + 1


def test_max_iter_stops_every_run(mnist_subset):
    x, _ = mnist_subset
    initial = np.stack([x[:10], x[10:20]])
    batched, singles = _single_and_batched(x[:2000], initial, tol=0.0, max_iter=2)
    np.testing.assert_array_equal(batched.n_iter.numpy(), [2, 2])
    assert not batched.converged.numpy().any()
    assert batched.history.shape == (2, 2, 2)


def test_kmeans_plusplus_runs_pick_what_single_runs_pick(mnist_subset):
    x, _ = mnist_subset
    x = tf.constant(x[:4000])
    weights = tf.constant(np.random.RandomState(0).uniform(0.5, 2.0, 4000).astype(np.float32))
    seeds = tf.constant([[3, 1], [8, 2], [13, 5]], tf.int64)
    centers, indices = kmeans_plusplus_runs(x, weights, 12, seeds)
    assert centers.shape == (3, 12, 784) and indices.shape == (3, 12)
    for r in range(3):
        single_centers, single_indices = ops.kmeans_plusplus(x, weights, 12, seeds[r])
        np.testing.assert_array_equal(indices[r].numpy(), single_indices.numpy())
        np.testing.assert_array_equal(centers[r].numpy(), single_centers.numpy())
    assert len({tuple(i) for i in indices.numpy()}) == 3


@pytest.mark.parametrize("algorithm", ["lloyd", "elkan"])
@pytest.mark.parametrize("init", ["k-means++", "random"])
def test_kmeans_n_init_together_equals_one_run_at_a_time(mnist_subset, tmp_path, init, algorithm):
    """A checkpointed fit seeds and runs restarts one by one; without, seeded (and for Lloyd, run) together: the same model."""
    x, _ = mnist_subset
    x = x[:3000]
    params = dict(n_clusters=10, init=init, n_init=4, random_state=3, algorithm=algorithm)
    together = KMeans(**params).fit(x)
    one_by_one = KMeans(**params, checkpoint_dir=str(tmp_path), checkpoint_every=1000).fit(x)
    np.testing.assert_array_equal(together.cluster_centers_, one_by_one.cluster_centers_)
    np.testing.assert_array_equal(together.labels_, one_by_one.labels_)
    assert together.inertia_ == one_by_one.inertia_ and together.n_iter_ == one_by_one.n_iter_


def test_kmeans_n_init_logs_a_curve_per_run(mnist_subset, tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    x, _ = mnist_subset
    km = KMeans(8, n_init=3, random_state=0, log_dir=str(tmp_path)).fit(x[:2000])
    events = EventAccumulator(str(tmp_path / "fit-1"), size_guidance={"tensors": 0})
    events.Reload()
    tags = set(events.Tags()["tensors"])
    assert {f"kmeans/run_{r}/inertia" for r in range(3)} <= tags
    lengths = [len(events.Tensors(f"kmeans/run_{r}/inertia")) for r in range(3)]
    assert km.n_iter_ in lengths and min(lengths) >= 1
    for r in range(3):
        values = [float(tf.make_ndarray(e.tensor_proto)) for e in events.Tensors(f"kmeans/run_{r}/inertia")]
        assert all(b <= a * (1 + 1e-6) for a, b in zip(values, values[1:])), "Lloyd never raises the inertia"


def test_restarts_of_a_single_cluster_find_the_mean():
    # A k known to be 1 in the graph once failed tf.while_loop's shape check in runs_pass.
    x = np.random.default_rng(0).random((50, 3))
    km = KMeans(1, n_init=2, algorithm="lloyd", random_state=0, dtype="float64").fit(x)
    np.testing.assert_allclose(km.cluster_centers_[0], x.mean(axis=0), rtol=1e-12)
    assert km.inertia_ == pytest.approx(((x - x.mean(axis=0)) ** 2).sum(), rel=1e-12)
