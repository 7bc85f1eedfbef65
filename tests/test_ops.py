"""The numeric core on its own: distances, chunking, seeding, bounded memory."""

from __future__ import annotations

import ast
import pathlib

import numpy as np
import pytest
import tensorflow as tf
from conftest import mnist_dir

from tfkmeans import ops
from tfkmeans.ops import _assignment, _chunking, _distances, _lloyd, _statistics

RNG = np.random.default_rng(0)


@pytest.mark.parametrize("name", sorted(_distances.DISTANCES))
def test_distance_forms_match_numpy(name):
    x = RNG.normal(size=(37, 9))
    c = RNG.normal(size=(5, 9))
    expected = ((x[:, None, :] - c[None, :, :]) ** 2).sum(-1)
    got = _distances.get_distance(name)(tf.constant(x), tf.constant(c), None).numpy()
    np.testing.assert_allclose(got, expected, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("chunk_size", [1, 7, 64, 1000])
def test_results_do_not_depend_on_chunk_size(chunk_size):
    x = tf.constant(RNG.normal(size=(257, 4)))
    c = tf.constant(RNG.normal(size=(6, 4)))
    w = tf.ones([257], tf.float64)
    whole = _lloyd.in_memory_pass(x, w, c, chunk_size=10_000)
    chunked = _lloyd.in_memory_pass(x, w, c, chunk_size=chunk_size)
    labels = ops.nearest_centers(x, c, chunk_size=chunk_size).labels.numpy()
    np.testing.assert_array_equal(labels, ops.nearest_centers(x, c, chunk_size=10_000).labels.numpy())
    np.testing.assert_allclose(float(chunked.inertia), float(whole.inertia), rtol=1e-12)
    np.testing.assert_allclose(chunked.sums.numpy(), whole.sums.numpy(), rtol=1e-12)
    np.testing.assert_array_equal(chunked.weights.numpy(), whole.weights.numpy())
    assert int(tf.reduce_sum(chunked.weights)) == 257
    dense = ops.squared_distances(x, c, chunk_size=chunk_size).numpy()
    assert dense.shape == (257, 6)
    np.testing.assert_array_equal(dense.argmin(1), labels)


def test_fold_chunks_visits_every_row_once():
    def body(start, size, total, count):
        return total + tf.reduce_sum(tf.range(start, start + size)), count + 1

    total, count = _chunking.fold_chunks(tf.constant(103), 10, body, (tf.constant(0), tf.constant(0)))
    assert int(total) == sum(range(103)) and int(count) == 11


def test_map_chunks_concatenates_pieces_in_row_order_and_folds_the_state():
    def body(start, size, count):
        rows = tf.range(start, start + size)
        return (rows * 2, tf.fill([size], size)), (count + 1,)

    (doubled, sizes), (count,) = _chunking.map_chunks(
        tf.constant(23), 10, body, [tf.TensorSpec([None], tf.int32)] * 2, (tf.constant(0),)
    )
    assert doubled.numpy().tolist() == [2 * i for i in range(23)]
    assert sizes.numpy().tolist() == [10] * 20 + [3] * 3 and int(count) == 3


def test_final_assignment_of_a_dataset_equals_that_of_the_matrix():
    x = tf.constant(RNG.normal(size=(103, 3)))
    w = tf.constant(RNG.uniform(0.5, 2.0, size=103))
    centers = x[:4]
    labels, total = _assignment.final_assignment(x, centers, w, chunk_size=16)
    batches = tf.data.Dataset.from_tensor_slices((x, w)).batch(25)
    # Dataset.reduce over a TensorArray runs in a graph, as the estimators call it.
    in_graph = tf.function(_assignment.final_assignment, autograph=False)
    streamed_labels, streamed_total = in_graph(batches, centers, chunk_size=16)
    np.testing.assert_array_equal(streamed_labels.numpy(), labels.numpy())
    assert float(streamed_total) == pytest.approx(float(total), rel=1e-12)
    expected = np.sum(w.numpy() * np.min(((x.numpy()[:, None] - centers.numpy()[None]) ** 2).sum(-1), axis=1))
    assert float(total) == pytest.approx(expected, rel=1e-12)
    with pytest.raises(ValueError, match="carries its own sample weights"):
        _assignment.final_assignment(batches, centers, w)


def test_public_ops_are_sorted_and_no_module_imports_a_private_name_from_another():
    assert ops.__all__ == sorted(ops.__all__) and all(hasattr(ops, name) for name in ops.__all__)
    package = pathlib.Path(ops.__file__).parents[1]
    private_imports = [
        f"{path.relative_to(package.parent)}: {node.module}.{alias.name}"
        for path in package.rglob("*.py")
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("tfkmeans")
        for alias in node.names
        if alias.name.startswith("_")
        and not alias.name.startswith("__")
        and not (node.module == "tfkmeans" or node.module.endswith(".ops"))  # private modules, not names
    ]
    assert private_imports == []


def test_points_on_centres_are_at_zero_in_a_graph_of_unknown_width():
    """The near pairs are recomputed in chunks sized from the run-time width: here three chunks of 2,048 pairs."""
    rng = np.random.default_rng(0)
    centers = (100 * rng.normal(size=(4, 2048))).astype(np.float32)
    owner = np.repeat(np.arange(4), 1250)
    x = centers[owner]
    unknown = tf.TensorSpec([None, None], tf.float32)

    @tf.function(input_signature=[unknown, unknown], autograph=False)
    def refined_distances(points, centres):
        rough = _distances.matmul_squared_distances(points, centres)
        return _distances.refine_near_distances(points, centres, rough)

    got = refined_distances(x, centers).numpy()
    between_centers = np.sum((centers[:, None].astype(np.float64) - centers[None]) ** 2, axis=-1)
    assert np.all(got[np.arange(len(x)), owner] == 0.0)
    np.testing.assert_allclose(got, between_centers[owner], rtol=1e-5)


@pytest.mark.parametrize("chunk_size", [1, 7, 64, 1000])
def test_data_mean_variance_matches_numpy(chunk_size):
    x = np.random.default_rng(0).normal(size=(150, 6)) * [1, 2, 3, 4, 5, 6] + 1000.0
    expected = np.var(x, axis=0).mean()
    assert float(_statistics.data_mean_variance(tf.constant(x), chunk_size)) == pytest.approx(expected, rel=1e-12)
    # float32 with a large offset: two passes keep the deviations, not a difference of huge squares.
    assert float(_statistics.data_mean_variance(tf.constant(x, tf.float32), chunk_size)) == pytest.approx(
        expected, rel=1e-4
    )


def test_exact_inertia_uses_weights():
    x = tf.constant([[0.0, 0.0], [2.0, 0.0], [10.0, 0.0]], tf.float64)
    centers = tf.constant([[1.0, 0.0], [10.0, 0.0]], tf.float64)
    labels = tf.constant([0, 0, 1])
    assert float(ops.inertia(x, centers, labels)) == 2.0
    assert float(ops.inertia(x, centers, labels, tf.constant([3.0, 1.0, 5.0], tf.float64))) == 4.0


def test_relocation_moves_the_farthest_point_and_keeps_totals():
    x = tf.constant([[0.0], [1.0], [9.0]], tf.float64)
    w = tf.ones([3], tf.float64)
    centers = tf.constant([[0.0], [100.0]], tf.float64)
    totals = _lloyd.in_memory_pass(x, w, centers)
    assert totals.weights.numpy().tolist() == [3.0, 0.0]
    sums, weights = _lloyd.relocate_empty_clusters(totals.sums, totals.weights, totals.candidates)
    assert weights.numpy().tolist() == [2.0, 1.0]
    np.testing.assert_array_equal(sums.numpy(), [[1.0], [9.0]])
    np.testing.assert_array_equal(ops.update_centers(sums, weights, centers).numpy(), [[0.5], [9.0]])


def test_keep_farthest_over_a_stream_equals_global_top_k():
    points = RNG.normal(size=(100, 2))
    distances = RNG.uniform(size=100)
    labels = RNG.integers(0, 5, size=100).astype(np.int32)
    buffer = _lloyd.no_candidates(5, 2, tf.float64)
    for start in range(0, 100, 13):  # uneven batches, the last one short
        block = slice(start, start + 13)
        buffer = _lloyd.keep_farthest(
            buffer,
            _lloyd.Candidates(
                tf.constant(points[block]),
                tf.ones([len(points[block])], tf.float64),
                tf.constant(labels[block]),
                tf.constant(distances[block]),
            ),
        )
    top = np.argsort(-distances)[:5]
    np.testing.assert_array_equal(buffer.distances.numpy(), distances[top])
    np.testing.assert_array_equal(buffer.points.numpy(), points[top])
    np.testing.assert_array_equal(buffer.labels.numpy(), labels[top])


def test_kmeans_plusplus_is_deterministic_and_picks_data_rows():
    x = tf.constant(RNG.normal(size=(500, 3)))
    w = tf.ones([500], tf.float64)
    seed = tf.constant([3, 4], tf.int64)
    centers, indices = ops.kmeans_plusplus(x, w, 12, seed)
    again, _ = ops.kmeans_plusplus(x, w, 12, seed)
    np.testing.assert_array_equal(centers.numpy(), again.numpy())
    np.testing.assert_array_equal(centers.numpy(), x.numpy()[indices.numpy()])
    assert len(set(indices.numpy().tolist())) == 12


def test_kmeans_plusplus_potential_close_to_sklearn():
    """Same algorithm, different random streams: mean seeding inertia agrees within a few percent."""
    from sklearn.cluster import kmeans_plusplus
    from sklearn.datasets import make_blobs

    x, _ = make_blobs(n_samples=3000, centers=30, n_features=5, cluster_std=1.5, random_state=0)

    def potential(centers):
        return ((x[:, None, :] - centers[None]) ** 2).sum(-1).min(1).sum()

    ours = [
        potential(
            ops.kmeans_plusplus(tf.constant(x), tf.ones([3000], tf.float64), 30, tf.constant([s, 0], tf.int64))[
                0
            ].numpy()
        )
        for s in range(20)
    ]
    theirs = [potential(kmeans_plusplus(x, 30, random_state=s)[0]) for s in range(20)]
    assert np.mean(ours) == pytest.approx(np.mean(theirs), rel=0.1)
    uniform = [potential(x[np.random.default_rng(s).choice(3000, 30, replace=False)]) for s in range(20)]
    assert np.mean(ours) < 0.8 * np.mean(uniform)


K1000_PROBE = f"""
from tfkmeans import KMeans
from tfkmeans.datasets import load_mnist
x, _ = load_mnist("train", {mnist_dir()!r})
before = status_mb("VmRSS")
km = KMeans(1000, init="random", n_init=2, max_iter=2, random_state=0).fit(x)
print(json.dumps({{"before": before, "peak": status_mb("VmHWM"), "centers": list(km.cluster_centers_.shape)}}))
"""


@pytest.mark.slow
@pytest.mark.memory
@pytest.mark.fresh_process(K1000_PROBE)
def test_k1000_fit_on_mnist_stays_within_memory_budget(mnist_train, script_report):
    """k=1000 on all of MNIST, two restarts: peak memory beyond the loaded data stays under 2 GB (never
    N×K×D). Two restarts take the restarts' path as ten would (``n_init='auto'`` means ten with random
    initial centres), at a fifth of the time."""
    assert script_report["centers"] == [1000, 784]
    assert script_report["peak"] - script_report["before"] < 2048, script_report


ONE_COPY_PROBE = """
import gc
import numpy as np
from tfkmeans import KMeans
x = np.random.default_rng(0).random((200_000, 256), dtype=np.float32)
report = {"x_mb": x.nbytes / 2**20}
for algorithm in ("lloyd", "elkan"):
    KMeans(10, algorithm=algorithm, max_iter=2, random_state=0).fit(x[:5000])
    gc.collect()
    before = status_mb("VmRSS")
    reset_peak()
    KMeans(10, algorithm=algorithm, max_iter=3, random_state=0).fit(x)
    report[algorithm] = status_mb("VmHWM") - before
print(json.dumps(report))
"""


@pytest.mark.slow
@pytest.mark.memory
@pytest.mark.fresh_process(ONE_COPY_PROBE)
def test_in_memory_fit_holds_one_copy_of_the_data(script_report):
    """A fit's extra peak memory is about one copy of X (sklearn's copy_x), not two.

    Guards against a numpy→tensor conversion that holds two copies and a
    variance that holds an ``n × d`` temporary. Graphs are traced on a slice
    first, and the high-water mark is reset before each measured fit.
    """
    for algorithm in ("lloyd", "elkan"):  # 1.2-1.45 copies measured: allocator slack, never two copies
        assert script_report[algorithm] < 1.6 * script_report["x_mb"], script_report


def test_lloyd_pass_compiles_with_xla_to_the_same_labels_and_totals(mnist_subset):
    """GPU readiness checked on the CPU: the chunked pass (a dynamic last chunk included) compiles with
    ``jit_compile=True``; the labels and cluster weights are exact, the sums equal up to summation order."""
    x = tf.constant(mnist_subset[0][:3000])
    weights = tf.ones([3000])
    centers = tf.constant(mnist_subset[0][3000:3010])

    def labels_and_totals() -> tuple[tf.Tensor, tf.Tensor, tf.Tensor]:
        labels = _assignment.assign_block(x, centers, _distances.get_distance("matmul")).labels
        totals = _lloyd.in_memory_pass(x, weights, centers, "matmul", chunk_size=512)  # 3000 = 5 x 512 + 440
        return labels, totals.weights, totals.sums

    plain = tf.function(labels_and_totals, autograph=False)()
    jitted = tf.function(labels_and_totals, autograph=False, jit_compile=True)()
    np.testing.assert_array_equal(jitted[0].numpy(), plain[0].numpy())
    np.testing.assert_array_equal(jitted[1].numpy(), plain[1].numpy())
    np.testing.assert_allclose(jitted[2].numpy(), plain[2].numpy(), rtol=1e-5, atol=1e-3)
    expected = ops.nearest_centers(x, centers).labels.numpy()
    np.testing.assert_array_equal(plain[0].numpy(), expected)
