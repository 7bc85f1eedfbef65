"""Regression tests for hostile and unusual inputs (issue 13): a correct answer or a clear, early error."""

import numpy as np
import pytest
import tensorflow as tf

from tfkmeans import KMeans, MiniBatchKMeans, _compiled, kmeans_plusplus, ops


def test_kmeans_plusplus_runs_graph_serves_another_number_of_runs(blobs):
    """One compiled graph is relaxed to seed 2, then 3 runs; each run still picks what it picks alone."""
    x = tf.constant(blobs[0][:400], tf.float32)
    weights = tf.ones([400], tf.float32)
    for seeds in ([[1, 2], [3, 4]], [[5, 6], [7, 8], [9, 10]], [[11, 12], [13, 14], [15, 16], [17, 18]]):
        seeds = tf.constant(seeds, tf.int64)
        centers, indices = _compiled.kmeans_plusplus_runs(x, weights, 5, seeds)
        for r in range(len(seeds)):
            _, single = ops.kmeans_plusplus(x, weights, 5, seeds[r])
            np.testing.assert_array_equal(indices[r].numpy(), single.numpy())
            np.testing.assert_array_equal(centers[r].numpy(), tf.gather(x, single).numpy())


def test_fits_with_another_n_init_in_the_same_process(blobs):
    x = blobs[0]
    for n_init in (2, 3, 5):
        km = KMeans(4, n_init=n_init, random_state=0).fit(x)
        assert np.isfinite(km.cluster_centers_).all() and km.inertia_ > 0


NUMPY_INTEGERS = (np.int8, np.int16, np.int32, np.int64, np.uint8, np.uint64)


@pytest.mark.parametrize("integer", NUMPY_INTEGERS)
def test_numpy_integer_parameters_give_the_python_int_fit(blobs, integer):
    x = blobs[0][:300]
    params = dict(n_clusters=4, max_iter=50, chunk_size=64, random_state=0)
    numpy_params = {name: integer(value) for name, value in params.items()}
    expected = KMeans(**params).fit(x)
    for estimator in (KMeans(**numpy_params, n_init=integer(2)), KMeans(**numpy_params, tol=np.float32(1e-4))):
        got = estimator.fit(x)
        assert np.isfinite(got.inertia_)
    got = KMeans(**numpy_params).fit(x)
    np.testing.assert_array_equal(got.cluster_centers_, expected.cluster_centers_)
    assert got.n_iter_ == expected.n_iter_

    mb_params = dict(n_clusters=4, max_iter=5, batch_size=64, init_size=100, max_no_improvement=3, random_state=0)
    expected = MiniBatchKMeans(**mb_params).fit(x)
    got = MiniBatchKMeans(
        **{name: integer(value) for name, value in mb_params.items()}, reassignment_ratio=np.float64(0.01)
    ).fit(x)
    np.testing.assert_array_equal(got.cluster_centers_, expected.cluster_centers_)

    centers, indices = kmeans_plusplus(x, integer(4), random_state=0, n_local_trials=integer(3))
    expected_centers, expected_indices = kmeans_plusplus(x, 4, random_state=0, n_local_trials=3)
    np.testing.assert_array_equal(indices, expected_indices)


def test_numpy_integer_n_clusters_in_a_loop(blobs):
    """The issue's reproduction: ``for k in np.arange(2, 4): KMeans(k).fit(X)``."""
    x = blobs[0][:300]
    for k in np.arange(2, 4):
        assert KMeans(k, random_state=0).fit(x).cluster_centers_.shape == (k, x.shape[1])
        assert MiniBatchKMeans(k, random_state=0).fit(x).cluster_centers_.shape == (k, x.shape[1])
        assert kmeans_plusplus(x, k, random_state=0)[0].shape == (k, x.shape[1])


@pytest.mark.parametrize(
    "estimator, name",
    [(KMeans, name) for name in ("max_iter", "chunk_size", "n_init", "checkpoint_every")]
    + [(MiniBatchKMeans, name) for name in ("max_iter", "batch_size", "init_size", "max_no_improvement", "chunk_size")],
)
def test_integer_parameters_beyond_int32_are_refused_by_name(blobs, tmp_path, estimator, name):
    extra = {"checkpoint_dir": str(tmp_path / "ckpt")} if name == "checkpoint_every" else {}
    with pytest.raises(ValueError, match=rf"{name}=2147483648 is too large.*2\*\*31 - 1"):
        estimator(3, **{name: 2**31}, **extra).fit(blobs[0][:100])
    assert not (tmp_path / "ckpt").exists()


def test_largest_int32_parameters_work(blobs):
    """2**31 - 1 is accepted where it means 'no limit' or 'everything at once', and changes nothing else."""
    x = blobs[0][:300]
    expected = KMeans(3, random_state=0, max_iter=300).fit(x)
    got = KMeans(3, random_state=0, max_iter=2**31 - 1, chunk_size=2**31 - 1).fit(x)
    np.testing.assert_allclose(got.cluster_centers_, expected.cluster_centers_, rtol=1e-5)
    assert got.n_iter_ == expected.n_iter_
    mb = MiniBatchKMeans(
        3,
        random_state=0,
        max_iter=2**31 - 1,
        batch_size=2**31 - 1,
        init_size=2**31 - 1,
        max_no_improvement=2**31 - 1,
        chunk_size=2**31 - 1,
        tol=1e-3,
    ).fit(x)
    np.testing.assert_array_equal(mb.predict(x), mb.labels_)
    assert np.isfinite(mb.cluster_centers_).all()


@pytest.mark.parametrize(
    "change, named",
    [
        (dict(max_iter=300), r"max_iter=3 \(this fit: 300\)"),
        (dict(tol=1e-2), r"tol=0.0001 \(this fit: 0.01\)"),
        (dict(init="random"), r"init=k-means\+\+ \(this fit: random\)"),
        (dict(init="array"), r"init=k-means\+\+ \(this fit: array with checksum"),
    ],
)
def test_kmeans_checkpoint_with_another_setting_is_refused_by_name(blobs, tmp_path, change, named):
    """The issue's case: max_iter=3, then max_iter=300 on the same directory returned n_iter_=3."""
    x = blobs[0]
    KMeans(5, max_iter=3, random_state=0, checkpoint_dir=str(tmp_path)).fit(x)
    params = {"max_iter": 3, "random_state": 0, **change}
    if isinstance(params.get("init"), str) and params["init"] == "array":
        params["init"] = x[:5]
    with pytest.raises(ValueError, match=named):
        KMeans(5, **params, checkpoint_dir=str(tmp_path)).fit(x)
    # The same settings resume the finished fit.
    assert KMeans(5, max_iter=3, random_state=0, checkpoint_dir=str(tmp_path)).fit(x).n_iter_ == 3


@pytest.mark.parametrize(
    "change, named",
    [
        (dict(max_iter=50), r"max_iter=2 \(this fit: 50\)"),
        (dict(init="random"), r"init=k-means\+\+ \(this fit: random\)"),
        (dict(n_init=2), r"n_init=1 \(this fit: 2\)"),
        (dict(init_size=200), r"init_size=300 \(this fit: 200\)"),
        (dict(tol=0.5), r"tol=0.0 \(this fit: 0.5\)"),
        (dict(max_no_improvement=None), r"max_no_improvement=10 \(this fit: None\)"),
        (dict(reassignment_ratio=0.5), r"reassignment_ratio=0.01 \(this fit: 0.5\)"),
    ],
)
def test_minibatch_checkpoint_with_another_setting_is_refused_by_name(blobs, tmp_path, change, named):
    x = blobs[0]
    params = dict(n_clusters=5, max_iter=2, batch_size=100, random_state=0, checkpoint_dir=str(tmp_path))
    MiniBatchKMeans(**params).fit(x)
    with pytest.raises(ValueError, match=named):
        MiniBatchKMeans(**{**params, **change}).fit(x)


@pytest.mark.parametrize("estimator", [KMeans, MiniBatchKMeans])
@pytest.mark.parametrize("damage", ["truncated", "emptied"])
def test_truncated_checkpoint_data_is_a_value_error(blobs, tmp_path, estimator, damage):
    x = blobs[0][:500]
    estimator(4, max_iter=3, random_state=0, checkpoint_dir=str(tmp_path)).fit(x)
    for data in tmp_path.glob("*.data-*"):
        with open(data, "r+b") as file:
            file.truncate(data.stat().st_size // 2 if damage == "truncated" else 0)
    with pytest.raises(ValueError, match="corrupt or unreadable"):
        estimator(4, max_iter=3, random_state=0, checkpoint_dir=str(tmp_path)).fit(x)


@pytest.mark.parametrize("estimator", [KMeans, MiniBatchKMeans])
@pytest.mark.parametrize("weight", [1e38, 1e-40, 3e-30, 7.0])
def test_weight_scale_changes_nothing_but_the_inertia_units(blobs, estimator, weight):
    """1e38 gave NaN centres; 1e-40 was 'zero everywhere'. Only the weights' scale differs from unit weights."""
    x = blobs[0][:600]
    unit = estimator(4, random_state=0).fit(x, sample_weight=np.ones(len(x)))
    scaled = estimator(4, random_state=0).fit(x, sample_weight=np.full(len(x), weight))
    assert np.isfinite(scaled.cluster_centers_).all()
    np.testing.assert_allclose(scaled.cluster_centers_, unit.cluster_centers_, rtol=1e-5, atol=1e-5)
    np.testing.assert_array_equal(scaled.labels_, unit.labels_)
    assert scaled.inertia_ == pytest.approx(unit.inertia_ * weight, rel=1e-5)
    assert scaled.score(x, sample_weight=np.full(len(x), weight)) == pytest.approx(-unit.inertia_ * weight, rel=1e-5)


def test_power_of_two_weights_give_the_bit_identical_fit(blobs):
    x, weights = blobs[0][:600], np.random.RandomState(0).uniform(0.5, 3, 600)
    base = KMeans(4, random_state=0).fit(x, sample_weight=weights)
    doubled = KMeans(4, random_state=0).fit(x, sample_weight=weights * 2.0**100)
    np.testing.assert_array_equal(doubled.cluster_centers_, base.cluster_centers_)
    assert doubled.inertia_ == base.inertia_ * 2.0**100


def test_kmeans_plusplus_huge_weights_pick_what_unit_weights_pick(blobs):
    x = blobs[0][:600]
    centers, indices = kmeans_plusplus(x, 5, sample_weight=np.full(600, 2.0**120), random_state=0)
    np.testing.assert_array_equal(indices, kmeans_plusplus(x, 5, sample_weight=np.ones(600), random_state=0)[1])


def test_partial_fit_weights_beyond_float32_are_refused_clearly(blobs):
    x = blobs[0][:200]
    for weight in (1e38, 1e-40):
        with pytest.raises(ValueError, match="beyond what float32 holds.*dtype='float64'"):
            MiniBatchKMeans(3, random_state=0).partial_fit(x, sample_weight=np.full(200, weight))
        km = MiniBatchKMeans(3, random_state=0, dtype="float64").partial_fit(x, sample_weight=np.full(200, weight))
        assert np.isfinite(km.cluster_centers_).all()


@pytest.mark.parametrize("estimator", [KMeans, MiniBatchKMeans])
def test_dataset_weights_overflowing_float32_are_refused_clearly(blobs, estimator):
    x = blobs[0][:200].astype(np.float32)
    dataset = tf.data.Dataset.from_tensor_slices((x, np.zeros(200), np.full(200, 1e37, np.float32))).batch(50)
    with pytest.raises(ValueError, match="beyond what float32 holds"):
        estimator(3, random_state=0).fit(dataset)


def _refuse_before_any_work(monkeypatch):
    """Make reading X fail loudly: an error raised before it proves the check ran before any work."""
    import tfkmeans._base

    def no_work(*args, **kwargs):
        raise AssertionError("the data were read before the destination was checked")

    monkeypatch.setattr(tfkmeans._base, "as_centered_float_matrix", no_work)
    monkeypatch.setattr(tfkmeans._base, "numeric_matrix", no_work)


@pytest.mark.parametrize("estimator", [KMeans, MiniBatchKMeans])
@pytest.mark.parametrize("name", ["log_dir", "checkpoint_dir"])
def test_destinations_are_checked_before_any_work(blobs, tmp_path, monkeypatch, estimator, name):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    _refuse_before_any_work(monkeypatch)
    with pytest.raises(ValueError, match=rf"{name}='.*a-file/runs' is not a writable directory"):
        estimator(3, **{name: str(blocker / "runs")}).fit(blobs[0])
    with pytest.raises(ValueError, match=rf"{name} is an empty string"):
        estimator(3, **{name: ""}).fit(blobs[0])
    with pytest.raises(TypeError, match=rf"{name} must be a path"):
        estimator(3, **{name: 3}).fit(blobs[0])


def test_destinations_are_created_and_written(blobs, tmp_path):
    log_dir, checkpoint_dir = tmp_path / "logs" / "deep", tmp_path / "ckpt" / "deep"
    KMeans(3, max_iter=2, log_dir=log_dir, checkpoint_dir=checkpoint_dir).fit(blobs[0][:200])
    assert any(log_dir.iterdir()) and any(checkpoint_dir.iterdir())
    assert not [p for p in tmp_path.rglob("*probe*")]


LABEL_SCORES = ["purity", "mean_cluster_purity", "majority_accuracy", "hungarian_accuracy", "nmi", "ari"]


@pytest.mark.parametrize("score", LABEL_SCORES)
def test_label_scores_do_not_depend_on_the_size_of_the_ids(score):
    """purity([0, 10**8], [0, 1]) took 17 s and 7-10 GB; 10**12 exhausted memory."""
    from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score

    from tfkmeans import metrics

    rng = np.random.RandomState(0)
    y_true, y_pred = rng.randint(0, 4, 500), rng.randint(0, 6, 500)
    huge_true, huge_pred = y_true * 10**12 + 7, (5 - y_pred) * 3**30  # same partitions, ids up to 5e14
    expected = getattr(metrics, score)(y_true, y_pred)
    assert getattr(metrics, score)(huge_true, huge_pred) == pytest.approx(expected, rel=1e-12)
    oracle = {"nmi": normalized_mutual_info_score, "ari": adjusted_rand_score}.get(score)
    if oracle is not None:
        assert expected == pytest.approx(oracle(y_true, y_pred), rel=1e-12)
    assert getattr(metrics, score)([0, 10**12], [0, 1]) == pytest.approx(getattr(metrics, score)([0, 1], [0, 1]))


def test_outputs_indexed_by_label_value_are_exact_with_gaps_and_refused_when_huge():
    from tfkmeans import metrics

    y_true, y_pred = [0, 0, 5, 5, 5], [9, 2, 2, 2, 9]
    table = np.zeros((6, 10), np.int64)
    np.add.at(table, (y_true, y_pred), 1)
    np.testing.assert_array_equal(metrics.contingency_matrix(y_true, y_pred), table)
    np.testing.assert_array_equal(metrics.majority_labels(y_true, y_pred), [-1, -1, 5] + [-1] * 6 + [0])
    np.testing.assert_array_equal(metrics.cluster_order(y_true, y_pred), [9, 2, 0, 1, 3, 4, 5, 6, 7, 8])
    np.testing.assert_array_equal(metrics.hungarian_mapping(y_true, y_pred), [-1, -1, 5] + [-1] * 6 + [0])
    for table_of in (
        metrics.contingency_matrix,
        metrics.majority_labels,
        metrics.cluster_order,
        metrics.hungarian_mapping,
        metrics.confusion_matrix,
    ):
        with pytest.raises(ValueError, match="Encode the labels first"):
            table_of([0, 10**12], [0, 10**12])


def _count_decompressed_bytes(monkeypatch):
    """Record every byte gzip hands out: read_idx must stop where the header says."""
    import gzip

    handed_out = []
    read = gzip.GzipFile.read

    def counting_read(self, size=-1):
        data = read(self, size)
        handed_out.append(len(data))
        return data

    monkeypatch.setattr(gzip.GzipFile, "read", counting_read)
    return handed_out


def test_idx_reader_checks_the_header_before_decompressing(tmp_path, monkeypatch):
    """A 9 MB gzip of 2 GiB of zeros took 18 s and 4.8 GB before its error; this is its 64 MiB cousin."""
    import gzip

    from tfkmeans.datasets import read_idx

    zeros = tmp_path / "train-images-idx3-ubyte.gz"
    with gzip.open(zeros, "wb", compresslevel=1) as file:
        for _ in range(64):
            file.write(bytes(1 << 20))
    handed_out = _count_decompressed_bytes(monkeypatch)
    with pytest.raises(ValueError, match="bad IDX magic number 0"):
        read_idx(zeros)
    assert sum(handed_out) == 4


def test_idx_reader_reads_the_payload_plus_one_byte_at_most(tmp_path, monkeypatch):
    import gzip
    import struct

    from tfkmeans.datasets import read_idx

    trailing = tmp_path / "labels-idx1-ubyte.gz"
    with gzip.open(trailing, "wb", compresslevel=1) as file:
        file.write(struct.pack(">II", 0x0801, 10) + bytes(range(10)))
        for _ in range(64):
            file.write(bytes(1 << 20))
    handed_out = _count_decompressed_bytes(monkeypatch)
    with pytest.raises(ValueError, match="unexpected trailing bytes after the IDX payload of shape \\(10,\\)"):
        read_idx(trailing)
    assert sum(handed_out) == 8 + 10 + 1


def test_mnist_files_holding_no_images_are_named(tmp_path):
    import struct

    from tfkmeans.datasets import load_mnist

    (tmp_path / "t10k-images-idx3-ubyte").write_bytes(struct.pack(">IIII", 0x0803, 0, 28, 28))
    (tmp_path / "t10k-labels-idx1-ubyte").write_bytes(struct.pack(">II", 0x0801, 0))
    with pytest.raises(ValueError, match="t10k-images-idx3-ubyte: a valid IDX file holding 0 images"):
        load_mnist("test", tmp_path)


def _batches(x, batch=100):
    return tf.data.Dataset.from_tensor_slices(x.astype(np.float32)).batch(batch)


@pytest.mark.parametrize(
    "use",
    [
        lambda ds, x: KMeans(3).fit(ds),
        lambda ds, x: MiniBatchKMeans(3).fit(ds),
        lambda ds, x: KMeans(3, random_state=0).fit(x).score(ds),
        lambda ds, x: KMeans(3, random_state=0).fit(x).predict(ds),
        lambda ds, x: MiniBatchKMeans(3).partial_fit(ds),
    ],
    ids=["KMeans.fit", "MiniBatchKMeans.fit", "score", "predict", "partial_fit"],
)
def test_dataset_that_never_ends_is_refused(blobs, use):
    """fit(dataset.repeat()) ran forever."""
    with pytest.raises(ValueError, match="the dataset never ends"):
        use(_batches(blobs[0]).repeat(), blobs[0])


@pytest.mark.parametrize(
    "pipeline, named",
    [
        (lambda ds: ds.shuffle(20), "ShuffleDatasetV3 with reshuffle_each_iteration=True"),
        (lambda ds: ds.map(lambda x: x, num_parallel_calls=2, deterministic=False), "with deterministic=False"),
        (lambda ds: tf.data.Dataset.range(2).interleave(lambda _: ds.shuffle(5)), "reshuffle_each_iteration=True"),
    ],
    ids=["reshuffle", "nondeterministic-map", "nested"],
)
def test_kmeans_refuses_a_dataset_that_reorders_between_passes(blobs, pipeline, named):
    with pytest.raises(ValueError, match=f"another order on every pass.*{named}"):
        KMeans(3).fit(pipeline(_batches(blobs[0])))


def test_datasets_shuffled_once_are_accepted_and_fit_as_in_memory(blobs):
    x = blobs[0][:600].astype(np.float32)
    dataset = _batches(x, 50).shuffle(12, seed=3, reshuffle_each_iteration=False)
    order = np.concatenate(list(dataset.as_numpy_iterator()))
    init = x[:4]
    streamed = KMeans(4, init=init, dtype="float64").fit(dataset)
    in_memory = KMeans(4, init=init, dtype="float64").fit(order)
    np.testing.assert_allclose(streamed.cluster_centers_, in_memory.cluster_centers_, rtol=1e-10)
    np.testing.assert_array_equal(streamed.labels_, in_memory.labels_)
    # MiniBatchKMeans draws its batches from the epochs: a reshuffling pipeline is fine there.
    km = MiniBatchKMeans(4, random_state=0).fit(_batches(x, 50).shuffle(12))
    assert np.isfinite(km.cluster_centers_).all()


@pytest.fixture(scope="module")
def fitted_kmeans():
    from sklearn.datasets import make_blobs

    x, _ = make_blobs(300, centers=3, n_features=4, random_state=0)
    return KMeans(3, random_state=0).fit(x), x.astype(np.float32)


@pytest.mark.parametrize("method", ["predict", "transform", "score", "fit"])
@pytest.mark.parametrize("context", ["tf.function", "Dataset.map", "keras"])
def test_graph_code_gets_a_clear_error_pointing_to_graph_friendly_apis(fitted_kmeans, method, context):
    km, x = fitted_kmeans

    def call(batch):
        return getattr(km, method)(batch)

    with pytest.raises(
        TypeError,
        match=rf"KMeans.{method} .*cannot run inside a tf.function.*tfkmeans.ops.nearest_centers"
        r".*tf.saved_model.save.*tfkmeans.layers.KMeansLayer",
    ):
        if context == "tf.function":
            tf.function(call)(tf.constant(x))
        elif context == "Dataset.map":
            tf.data.Dataset.from_tensor_slices(x).batch(10).map(call)
        else:

            class EstimatorLayer(tf.keras.layers.Layer):
                def call(self, batch):
                    return call(batch)

            tf.keras.Sequential([EstimatorLayer()]).predict(x, verbose=0)


def test_the_graph_friendly_apis_named_in_that_error_agree_with_predict(fitted_kmeans):
    km, x = fitted_kmeans
    labels = tf.function(lambda batch: ops.nearest_centers(batch, km.centers).labels)(tf.constant(x))
    np.testing.assert_array_equal(labels.numpy(), km.predict(x))


_CHECKPOINT_UNDER_MIRRORED = """
import tensorflow as tf
cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
from sklearn.datasets import make_blobs
from tfkmeans import KMeans
import tfkmeans._compiled as _compiled
x, _ = make_blobs(n_samples=1000, centers=5, n_features=4, cluster_std=3.0, random_state=1)
params = dict(n_clusters=5, init=x[:5], dtype="float64", tol=0.0, max_iter=12)
reference = KMeans(**params).fit(x)
strategy = tf.distribute.MirroredStrategy([d.name for d in tf.config.list_logical_devices("CPU")])
compiled, calls = _compiled.lloyd_distributed, []
def interrupted(*args, **kwargs):
    if len(calls) == 1:
        raise KeyboardInterrupt
    calls.append(1)
    return compiled(*args, **kwargs)
with strategy.scope():
    _compiled.lloyd_distributed = interrupted
    try:
        KMeans(**params, checkpoint_dir=f"{scratch}/ckpt", checkpoint_every=2).fit(x)
    except KeyboardInterrupt:
        pass
    _compiled.lloyd_distributed = compiled
    resumed = KMeans(**params, checkpoint_dir=f"{scratch}/ckpt", checkpoint_every=2).fit(x)
print(json.dumps({"reference": reference.cluster_centers_.tolist(), "resumed": resumed.cluster_centers_.tolist(),
                  "n_iter": [reference.n_iter_, resumed.n_iter_], "segments": len(calls)}))
"""


@pytest.mark.slow
@pytest.mark.fresh_process(_CHECKPOINT_UNDER_MIRRORED)
def test_checkpointed_fit_under_a_mirrored_strategy_resumes(script_report):
    """It crashed with "int() argument must be ... not 'MirroredVariable'"."""
    assert script_report["segments"] == 1 and script_report["n_iter"][0] == script_report["n_iter"][1] > 2
    np.testing.assert_allclose(script_report["resumed"], script_report["reference"], rtol=1e-10)


def test_checkpoint_dir_across_several_workers_is_refused_before_any_work(blobs, tmp_path, monkeypatch):
    """Every worker would write the same directory; a stand-in strategy reports a two-worker cluster."""
    cluster = tf.train.ClusterSpec({"worker": ["host-a:1", "host-b:1"]})

    class TwoWorkers:
        cluster_resolver = tf.distribute.cluster_resolver.SimpleClusterResolver(cluster)

    monkeypatch.setattr(tf.distribute, "has_strategy", lambda: True)
    monkeypatch.setattr(tf.distribute, "get_strategy", lambda: TwoWorkers())
    _refuse_before_any_work(monkeypatch)
    for estimator in (KMeans, MiniBatchKMeans):
        with pytest.raises(ValueError, match="checkpoint_dir is not supported under TwoWorkers across several workers"):
            estimator(3, checkpoint_dir=str(tmp_path)).fit(blobs[0])


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_transform_is_exact_for_equal_and_near_points(dtype):
    """transform(cluster_centers_) had 0.00195 on its diagonal in float32."""
    from sklearn.datasets import make_blobs

    x, _ = make_blobs(2000, centers=4, n_features=8, center_box=(50, 150), random_state=0)
    km = KMeans(4, random_state=0, dtype=dtype).fit(x)
    centers = km.cluster_centers_
    np.testing.assert_array_equal(np.diag(km.transform(centers)), 0.0)
    near = np.repeat(centers, 3, axis=0).astype(np.float64)
    near += np.random.RandomState(0).normal(scale=1e-3, size=near.shape)
    near = near.astype(centers.dtype)  # the queries as the model sees them
    exact = np.sqrt(((near.astype(np.float64)[:, None] - centers.astype(np.float64)[None]) ** 2).sum(-1))
    np.testing.assert_allclose(km.transform(near), exact, rtol=1e-4 if dtype == "float32" else 1e-10)
    np.testing.assert_allclose(
        km.fit_transform(x)[:5],
        np.sqrt(((x[:5, None] - km.cluster_centers_[None]) ** 2).sum(-1)),
        rtol=1e-4 if dtype == "float32" else 1e-10,
    )


@pytest.mark.parametrize("estimator", [KMeans, MiniBatchKMeans])
def test_unit_weights_change_nothing(blobs, estimator):
    x = blobs[0][:800]
    plain = estimator(4, random_state=0).fit(x)
    unit = estimator(4, random_state=0).fit(x, sample_weight=np.ones(len(x)))
    np.testing.assert_array_equal(unit.cluster_centers_, plain.cluster_centers_)
    np.testing.assert_array_equal(unit.labels_, plain.labels_)


@pytest.mark.parametrize("estimator", [KMeans, MiniBatchKMeans])
def test_cluster_centers_can_be_set_before_predict(blobs, estimator):
    from sklearn.cluster import KMeans as SklearnKMeans

    x = blobs[0][:500]
    centers = x[[0, 100, 200, 300]]
    km = estimator(4)
    km.cluster_centers_ = centers
    oracle = SklearnKMeans(4, init=centers, n_init=1, max_iter=1).fit(centers)  # keeps the given centres
    np.testing.assert_array_equal(km.predict(x), oracle.predict(x))
    np.testing.assert_allclose(km.cluster_centers_, centers.astype(np.float32))
    assert km.n_features_in_ == 6
    if estimator is MiniBatchKMeans:
        km.partial_fit(x)
        assert np.isfinite(km.cluster_centers_).all() and km.n_steps_ == 1
    with pytest.raises(ValueError, match="cluster_centers_ contains NaN"):
        km.cluster_centers_ = np.full((4, 6), np.nan)


def test_explicit_init_with_several_runs_warns_on_every_fit(blobs):
    x = blobs[0][:300]
    for estimator in (KMeans, MiniBatchKMeans):
        for _ in range(2):
            with pytest.warns(RuntimeWarning, match="Explicit initial centres given: running one initialisation"):
                estimator(3, init=x[:3], n_init=3).fit(x)


def test_copy_x_and_x_squared_norms_are_accepted(blobs):
    from tfkmeans import kmeans_plusplus

    x = blobs[0][:300].copy()
    before = x.copy()
    km = KMeans(3, random_state=0, copy_x=False).fit(x)
    np.testing.assert_array_equal(x, before)
    np.testing.assert_array_equal(km.cluster_centers_, KMeans(3, random_state=0).fit(x).cluster_centers_)
    with pytest.raises(TypeError, match="copy_x must be a bool"):
        KMeans(3, copy_x="no").fit(x)
    norms = (x**2).sum(1)
    np.testing.assert_array_equal(
        kmeans_plusplus(x, 3, x_squared_norms=norms, random_state=0)[1], kmeans_plusplus(x, 3, random_state=0)[1]
    )
    with pytest.raises(ValueError, match=r"x_squared_norms must have shape \(300,\)"):
        kmeans_plusplus(x, 3, x_squared_norms=norms[:5])


@pytest.mark.parametrize("estimator", [KMeans, MiniBatchKMeans])
@pytest.mark.parametrize("scale", [1e-19, 1e-40, 1e19, 3e37])
def test_float32_out_of_range_scales_are_refused_recommending_float64(blobs, estimator, scale):
    """1e-19 collapsed into one cluster with inertia 0; 1e19 gave inf inertia; 3e38 an inf centre."""
    x = blobs[0][:500] * scale
    with pytest.raises(
        ValueError, match="(outside the range float32 clusters correctly|too large for float32).*dtype='float64'"
    ):
        estimator(3, random_state=0).fit(x)
    km = estimator(3, random_state=0, dtype="float64").fit(x)
    unscaled = estimator(3, random_state=0, dtype="float64").fit(blobs[0][:500])
    np.testing.assert_array_equal(km.labels_, unscaled.labels_)
    assert km.inertia_ == pytest.approx(unscaled.inertia_ * scale**2, rel=1e-9)


@pytest.mark.parametrize("scale", [1e-12, 1e-6, 1e6, 1e14])
def test_float32_within_range_matches_float64_labels(blobs, scale):
    x = blobs[0][:500] * scale
    km32 = KMeans(3, init=x[:3], dtype="float32").fit(x)
    km64 = KMeans(3, init=x[:3], dtype="float64").fit(x)
    np.testing.assert_array_equal(km32.labels_, km64.labels_)
    assert km32.inertia_ == pytest.approx(km64.inertia_, rel=1e-4)


# -- feature names (issue 13, item 14): scikit-learn's own estimators are the oracle ----------------------


def _frame(x, columns):
    import pandas as pd  # in the test extra

    return pd.DataFrame(x, columns=columns)


def _sklearn_twin(estimator):
    """The scikit-learn estimator of the same name: its messages are the ones to match."""
    import sklearn.cluster

    return getattr(sklearn.cluster, estimator.__name__)


def _outcome(call, *args):
    """What ``call(*args)`` did: ('error', type, message), or ('warnings', [(category, message), ...])."""
    import warnings

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            call(*args)
        except (ValueError, TypeError) as error:
            return ("error", type(error), str(error))
    return (
        "warnings",
        sorted((w.category.__name__, str(w.message)) for w in caught if "feature names" in str(w.message)),
    )


@pytest.mark.parametrize("estimator", [KMeans, MiniBatchKMeans])
def test_feature_names_in_are_remembered_and_forgotten_as_scikit_learn_does(blobs, estimator):
    """A DataFrame fitted with columns a..f was predicted silently with its columns in another order."""
    x = blobs[0][:300]
    twin = _sklearn_twin(estimator)
    for columns in (list("abcdef"), list(range(6))):  # string names are kept, integer ones are not
        ours, theirs = (
            estimator(3, random_state=0).fit(_frame(x, columns)),
            twin(3, random_state=0).fit(_frame(x, columns)),
        )
        assert hasattr(ours, "feature_names_in_") == hasattr(theirs, "feature_names_in_")
        if hasattr(theirs, "feature_names_in_"):
            assert ours.feature_names_in_.dtype == object
            np.testing.assert_array_equal(ours.feature_names_in_, theirs.feature_names_in_)
    ours = estimator(3, random_state=0).fit(_frame(x, list("abcdef")))
    ours.fit(x)  # a refit without names forgets the former ones
    assert not hasattr(ours, "feature_names_in_")
    ours.fit(_frame(x, list("abcdef")))
    ours.fit(tf.data.Dataset.from_tensor_slices(x).batch(100))
    assert not hasattr(ours, "feature_names_in_")


@pytest.mark.parametrize("estimator", [KMeans, MiniBatchKMeans])
@pytest.mark.parametrize("method", ["predict", "transform", "score"])
def test_other_columns_give_scikit_learns_errors_and_warnings(blobs, estimator, method):
    x = blobs[0][:300]
    names = list("abcdef")
    fitted_on = {"named": _frame(x, names), "unnamed": x}
    queries = {
        "same": _frame(x[:20], names),
        "reordered": _frame(x[:20], names)[list("fedcba")],
        "renamed": _frame(x[:20], list("abcdeg")),
        "many renamed": _frame(x[:20], [f"z{i}" for i in range(6)]),
        "fewer": _frame(x[:20, :5], names[:5]),
        "numpy": x[:20],
        "mixed names": _frame(x[:20], ["a", "b", "c", "d", "e", 5]),
        "integer names": _frame(x[:20], list(range(6))),
    }
    for fit_name, data in fitted_on.items():
        ours = estimator(3, random_state=0).fit(data)
        theirs = _sklearn_twin(estimator)(3, random_state=0, n_init=1).fit(data)
        for query_name, query in queries.items():
            expected = _outcome(getattr(theirs, method), query)
            got = _outcome(getattr(ours, method), query)
            if expected[0] == "error" and got[0] == "error" and "feature names" not in expected[2]:
                # Errors past the names (the feature count) are worded by each library.
                assert got[1] is expected[1] and "features" in got[2], (fit_name, query_name, got)
                continue
            assert got == expected, (fit_name, query_name)
    assert _outcome(lambda: getattr(ours, method)(queries["fewer"]))[0] == "error"


def test_pyarrow_tables_have_feature_names_as_in_scikit_learn(blobs):
    import pyarrow as pa  # installed with tensorflow-datasets
    from sklearn.cluster import KMeans as SklearnKMeans

    x = blobs[0][:200]
    table = pa.table({name: x[:, i] for i, name in enumerate("abcdef")})
    reordered = table.select(list("bacdef"))
    ours, theirs = KMeans(3, random_state=0).fit(table), SklearnKMeans(3, random_state=0, n_init=1).fit(table)
    np.testing.assert_array_equal(ours.feature_names_in_, theirs.feature_names_in_)
    assert _outcome(lambda: ours.predict(reordered)) == _outcome(lambda: theirs.predict(reordered))
    assert _outcome(lambda: ours.predict(reordered))[0] == "error"


def test_feature_name_warnings_point_at_the_caller(blobs):
    km = KMeans(3, random_state=0).fit(_frame(blobs[0][:100], list("abcdef")))
    with pytest.warns(UserWarning, match="X does not have valid feature names") as record:
        km.predict(blobs[0][:5])
    assert record[0].filename == __file__


def test_partial_fit_remembers_the_first_calls_names(blobs):
    x = blobs[0][:300]
    km = MiniBatchKMeans(3, random_state=0).partial_fit(_frame(x[:100], list("abcdef")))
    np.testing.assert_array_equal(km.feature_names_in_, list("abcdef"))
    km.partial_fit(_frame(x[100:200], list("abcdef")))
    with pytest.raises(ValueError, match="Feature names must be in the same order as they were in fit"):
        km.partial_fit(_frame(x[100:200], list("abcdef"))[list("bacdef")])


@pytest.mark.parametrize("estimator", [KMeans, MiniBatchKMeans])
def test_get_feature_names_out_is_scikit_learns(blobs, estimator):
    x = blobs[0][:300]
    twin = _sklearn_twin(estimator)
    for data in (x, _frame(x, list("abcdef"))):
        ours, theirs = estimator(4, random_state=0).fit(data), twin(4, random_state=0, n_init=1).fit(data)
        expected = theirs.get_feature_names_out()
        got = ours.get_feature_names_out()
        assert got.dtype == object and got.tolist() == expected.tolist()
        assert got.tolist() == [f"{estimator.__name__.lower()}{i}" for i in range(4)]
        for input_features in (list("abcdef"), list("abcdeg"), list("abc"), [f"x{i}" for i in range(6)]):
            assert _outcome(ours.get_feature_names_out, input_features) == _outcome(
                theirs.get_feature_names_out, input_features
            ), input_features
    with pytest.raises(tfkmeans_not_fitted()):
        estimator(4).get_feature_names_out()


def tfkmeans_not_fitted():
    from tfkmeans import NotFittedError

    return NotFittedError


@pytest.mark.parametrize("estimator", [KMeans, MiniBatchKMeans])
def test_set_output_pandas_gives_scikit_learns_frame(blobs, estimator):
    import pandas as pd
    from sklearn import config_context

    x = blobs[0][:300]
    frame = pd.DataFrame(x, columns=list("abcdef"), index=np.arange(1000, 1300))
    km = estimator(4, init=x[:4], n_init=1).fit(frame)
    plain = km.transform(frame)
    assert isinstance(plain, np.ndarray)
    assert km.set_output(transform="pandas") is km
    out = km.transform(frame.iloc[10:20])
    expected = pd.DataFrame(plain[10:20], index=frame.index[10:20], columns=km.get_feature_names_out())
    pd.testing.assert_frame_equal(out, expected)
    with pytest.warns(UserWarning, match="X does not have valid feature names"):
        assert km.transform(x[:3]).index.tolist() == [0, 1, 2]  # numpy input: a fresh index, as scikit-learn
    assert isinstance(km.fit_transform(frame), pd.DataFrame)
    assert isinstance(km.set_output(transform="default").transform(frame), np.ndarray)
    with config_context(transform_output="pandas"):  # scikit-learn's global setting, when none was chosen
        assert isinstance(estimator(4, init=x[:4], n_init=1).fit(frame).transform(frame), pd.DataFrame)
        assert isinstance(km.transform(frame), np.ndarray)  # the estimator's own choice wins
    with pytest.raises(ValueError, match=r"must be one of \['default', 'pandas'\] or None, got 'arrow'"):
        km.set_output(transform="arrow")


def test_column_transformer_names_and_values_match_scikit_learns(blobs):
    import pandas as pd
    from sklearn.cluster import KMeans as SklearnKMeans
    from sklearn.compose import ColumnTransformer
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    x = blobs[0][:300]
    frame = pd.DataFrame(x, columns=list("abcdef"))
    init = StandardScaler().fit_transform(x[:, :4])[:3]

    def pipeline(estimator):
        columns = ColumnTransformer(
            [
                ("km", make_pipeline(StandardScaler(), estimator(3, init=init, n_init=1)), list("abcd")),
                ("rest", "passthrough", ["e", "f"]),
            ]
        )
        return columns.set_output(transform="pandas").fit(frame)

    ours, theirs = pipeline(KMeans), pipeline(SklearnKMeans)
    assert (
        ours.get_feature_names_out().tolist()
        == theirs.get_feature_names_out().tolist()
        == ["km__kmeans0", "km__kmeans1", "km__kmeans2", "rest__e", "rest__f"]
    )
    got, expected = ours.transform(frame), theirs.transform(frame)
    assert list(got.columns) == list(expected.columns)
    np.testing.assert_allclose(got.to_numpy(), expected.to_numpy(), rtol=1e-5, atol=1e-5)


# -- verbose lines, TensorBoard runs, distinct clusters (issue 13, item 13) -------------------------------


def _verbose_lines(capfd) -> list[tuple[int, int, str]]:
    """(run, iteration, figures) of each 'tfkmeans: run r iteration i ...' line printed from a graph."""
    import re

    lines = []
    for line in capfd.readouterr().err.splitlines():
        match = re.match(r"tfkmeans: run (\d+) iteration (\d+) (.*)", line)
        if match:
            lines.append((int(match[1]), int(match[2]), match[3]))
        else:
            assert not line.startswith("tfkmeans: iteration"), line  # every Lloyd line carries its run
    return lines


def test_verbose_lines_carry_the_run_and_the_iteration_across_checkpoint_segments(tmp_path, capfd, monkeypatch):
    """Lines restarted their count at every checkpoint segment ('iteration 1' every 3 iterations) and named no run."""
    from conftest import Interrupted, interrupt_after
    from sklearn.datasets import make_blobs

    from tfkmeans import _compiled

    x, _ = make_blobs(600, centers=5, n_features=4, cluster_std=3, random_state=0)  # 11 and 13 iterations
    params = dict(n_clusters=5, tol=0, max_iter=50, verbose=1, random_state=0, algorithm="lloyd")
    capfd.readouterr()
    whole = KMeans(**params).fit(x)
    expected = _verbose_lines(capfd)
    assert [(r, i) for r, i, _ in expected] == [(1, i) for i in range(1, whole.n_iter_ + 1)] and whole.n_iter_ > 6
    # The same fit in segments of 3 iterations, killed after two and resumed: the same lines, once each.
    restore = interrupt_after(monkeypatch, _compiled, "lloyd", calls=2)
    with pytest.raises(Interrupted):
        KMeans(**params, checkpoint_dir=str(tmp_path / "ckpt"), checkpoint_every=3).fit(x)
    restore()
    before = _verbose_lines(capfd)
    KMeans(**params, checkpoint_dir=str(tmp_path / "ckpt"), checkpoint_every=3).fit(x)
    after = _verbose_lines(capfd)
    assert [i for _, i, _ in before] == [1, 2, 3, 4, 5, 6] and after[0][1] == 7
    assert before + after == expected

    # Several runs, one after another (checkpointed) or with Elkan's bounds: numbered 1 and 2, each from iteration 1.
    runs = {}
    for name, extra in (("segments", dict(checkpoint_dir=str(tmp_path / "two"), checkpoint_every=4)), ("elkan", {})):
        KMeans(**{**params, "algorithm": "elkan" if name == "elkan" else "lloyd", "n_init": 2}, **extra).fit(x)
        runs[name] = [(r, i) for r, i, _ in _verbose_lines(capfd)]
    first = sum(1 for r, _ in runs["elkan"] if r == 1)
    assert (
        runs["segments"]
        == runs["elkan"]
        == [(1, i) for i in range(1, first + 1)] + [(2, i) for i in range(1, len(runs["elkan"]) - first + 1)]
    )


def test_two_fits_into_one_log_dir_keep_their_curves_apart(blobs, tmp_path, monkeypatch):
    """Both fits wrote steps 1, 2, ... under the same tags of one folder: TensorBoard showed them interleaved."""
    from conftest import Interrupted, interrupt_after
    from test_minibatch import logged_curves

    from tfkmeans import _compiled

    x = blobs[0][:600]
    logs = tmp_path / "logs"
    first = KMeans(4, init=x[:4], tol=0, log_dir=str(logs)).fit(x)
    second = KMeans(4, init=x[100:104], tol=0, log_dir=logs).fit(x)  # an os.PathLike too
    for folder, fit in (("fit-1", first), ("fit-2", second)):
        curve = logged_curves(logs / folder)["kmeans/run_0/inertia"]
        assert [step for step, _ in curve] == list(range(1, fit.n_iter_ + 1))
        assert curve[-1][1] == pytest.approx(fit.inertia_, rel=1e-4)
    assert first.n_iter_ != second.n_iter_ or first.inertia_ != second.inertia_

    # A killed checkpointed fit, another fit, then the resume: it goes on in its own folder, each step once.
    params = dict(n_clusters=4, init=x[:4], tol=0, algorithm="lloyd", log_dir=str(logs))
    restore = interrupt_after(monkeypatch, _compiled, "lloyd", calls=1)
    with pytest.raises(Interrupted):
        KMeans(**params, checkpoint_dir=str(tmp_path / "ckpt"), checkpoint_every=2).fit(x)
    restore()
    KMeans(4, init=x[:4], log_dir=str(logs)).fit(x)
    resumed = KMeans(**params, checkpoint_dir=str(tmp_path / "ckpt"), checkpoint_every=2).fit(x)
    assert sorted(path.name for path in logs.iterdir()) == ["fit-1", "fit-2", "fit-3", "fit-4"]
    curve = logged_curves(logs / "fit-3")["kmeans/run_0/inertia"]
    assert [step for step, _ in curve] == list(range(1, resumed.n_iter_ + 1)) and resumed.n_iter_ > 2
    np.testing.assert_allclose(
        [v for _, v in curve], [v for _, v in logged_curves(logs / "fit-1")["kmeans/run_0/inertia"]], rtol=1e-5
    )  # the same fit as the first one
    # Another log_dir for the resume: a new folder there, not the old one.
    KMeans(**params | {"log_dir": str(tmp_path / "elsewhere")}, checkpoint_dir=str(tmp_path / "ckpt")).fit(x)
    assert [path.name for path in (tmp_path / "elsewhere").iterdir()] == ["fit-1"]


@pytest.mark.parametrize(
    "estimator, options",
    [
        (KMeans, {}),
        (MiniBatchKMeans, {}),
        (MiniBatchKMeans, {"compute_labels": False}),
    ],
)
@pytest.mark.parametrize("as_dataset", [False, True])
def test_fewer_distinct_points_than_clusters_warn_as_scikit_learns_kmeans(estimator, options, as_dataset):
    """MiniBatchKMeans said nothing where KMeans (and scikit-learn's) give a ConvergenceWarning."""
    import warnings

    from sklearn.cluster import KMeans as SklearnKMeans
    from sklearn.exceptions import ConvergenceWarning as SklearnConvergenceWarning

    from tfkmeans import ConvergenceWarning

    x = np.repeat(np.array([[0.0, 0.0], [5.0, 5.0]]), 50, axis=0)
    with pytest.warns(SklearnConvergenceWarning) as expected:
        SklearnKMeans(3, random_state=0).fit(x)
    data = tf.data.Dataset.from_tensor_slices(x).batch(10) if as_dataset else x
    with pytest.warns(ConvergenceWarning) as got:
        estimator(3, random_state=0, **options).fit(data)
    assert [str(w.message) for w in got] == [str(w.message) for w in expected]
    assert got[0].filename == __file__
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # as many distinct points as clusters: no warning
        estimator(2, random_state=0, **options).fit(data)


# -- SavedModel functions and threads (issue 13, item 10) ---------------------------------------------------

_SAVED_MODEL_THREADS = r"""
import threading
import numpy as np, tensorflow as tf
from tfkmeans import KMeans, MiniBatchKMeans


def check(estimator, directory):
    x = np.random.RandomState(0).normal(size=(300, 4)) * 10
    km = estimator(3, random_state=0).fit(x)
    tf.saved_model.save(km, directory)
    restored = tf.saved_model.load(directory)
    labels, distances = km.predict(x), km.transform(x)

    # Any float or integer dtype, numpy arrays and lists are converted in the graph.
    for queries in (x, x.astype(np.float32), x.tolist(), tf.constant(x, tf.float16)):
        rounded = np.asarray(tf.cast(tf.cast(queries, tf.float16), tf.float64)) if tf.is_tensor(queries) else x
        assert (restored.predict(queries).numpy() == km.predict(rounded)).all()
    np.testing.assert_allclose(restored.transform(x=x).numpy(), distances, rtol=1e-5, atol=1e-5)
    integers = np.round(x).astype(np.int32)
    assert (restored.predict(tf.constant(integers)).numpy() == km.predict(integers)).all()

    # Badly typed calls: each a clear error, in the calling thread only.
    bad_calls = {
        "rank 1": (lambda: restored.predict(tf.constant(x[0])), "x must be 2-D"),
        "rank 3": (lambda: restored.transform(tf.constant(x[None])), "x must be 2-D"),
        "width": (lambda: restored.predict(x[:, :3]), "x must have n_features=4 columns"),
        "string dtype": (lambda: restored.predict(tf.constant([["a"]])), "Could not find matching concrete function"),
        "int8 dtype": (lambda: restored.transform(tf.constant(integers, tf.int8)), "Could not find matching concrete function"),
        "no argument": (lambda: restored.predict(), "Could not find matching concrete function"),
        "two arguments": (lambda: restored.predict(x, x), "Could not find matching concrete function"),
        "unknown keyword": (lambda: restored.transform(y=x), "Could not find matching concrete function"),
    }
    for name, (call, message) in bad_calls.items():
        try:
            call()
        except (ValueError, TypeError, tf.errors.InvalidArgumentError) as error:
            assert message in str(error), (name, str(error)[:300])
        else:
            raise AssertionError(f"{name}: no error")

    # Then many threads at once, on both functions: each gets the estimator's answer.
    failures = []
    def serve(index):
        try:
            for _ in range(5):
                if index % 2:
                    assert (restored.predict(tf.constant(x, tf.float32)).numpy() == labels).all()
                else:
                    np.testing.assert_allclose(restored.transform(x).numpy(), distances, rtol=1e-5, atol=1e-5)
        except Exception as error:  # reported by the main thread
            failures.append(repr(error))
    threads = [threading.Thread(target=serve, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not failures, failures


# One process for both estimators (a process's start is most of this test's time).
for estimator in (KMeans, MiniBatchKMeans):
    check(estimator, f"{scratch}/{estimator.__name__}")
print(json.dumps("served"))
"""


@pytest.mark.slow
@pytest.mark.fresh_process(_SAVED_MODEL_THREADS, timeout=240)
def test_reloaded_saved_model_serves_every_thread_after_bad_calls(script_report):
    """One badly typed call to a reloaded model left TensorFlow's lock held: every other thread then hung
    (the script has a time limit: a hang fails this test instead of stopping the suite)."""
    assert script_report == "served"
