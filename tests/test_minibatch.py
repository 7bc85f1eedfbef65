"""MiniBatchKMeans: scikit-learn's algorithm step for step, its results, and the estimator contract."""

from __future__ import annotations

import pickle
import warnings

import numpy as np
import pytest
import tensorflow as tf
from sklearn.base import clone
from sklearn.cluster import KMeans as SkKMeans
from sklearn.cluster import MiniBatchKMeans as SkMiniBatchKMeans
from sklearn.cluster import kmeans_plusplus
from sklearn.datasets import make_blobs

from tfkmeans import ConvergenceWarning, MiniBatchKMeans, NotFittedError, _compiled, ops
from tfkmeans.ops._minibatch import NO_PLATEAU_STOP, reassign_starved_centers

# Most fits share one batch size and dtype, so they reuse one compiled graph.
BATCH = 100


def _step_args(**overrides):
    """Arguments of ops.minibatch_step after the batch, with the plateau test off."""
    args = dict(
        seed=tf.constant([3, 4], tf.int64),
        n_samples=tf.constant(1000),
        reassignment_ratio=tf.constant(0.01, tf.float64),
        tol=tf.constant(0.0, tf.float64),
        max_no_improvement=tf.constant(NO_PLATEAU_STOP),
    )
    args.update(overrides)
    return args


# -- the step, exactly -------------------------------------------------------------------------


def test_one_step_matches_hand_computed_update_and_sklearn():
    """From known centres and counts, one step is scikit-learn's c ← (c·n + Σw·x) / (n + Σw)."""
    centers = np.array([[0.0, 0.0], [10.0, 10.0], [5.0, -5.0]])
    counts = np.array([4.0, 2.0, 3.0])
    batch = np.array([[1.0, 0.5], [-0.5, 1.0], [9.0, 11.0], [0.2, -0.3], [12.0, 9.5]])
    weights = np.array([1.0, 2.0, 0.5, 1.5, 1.0])

    labels = ((batch[:, None] - centers[None]) ** 2).sum(-1).argmin(1)
    expected_centers, expected_counts = centers.copy(), counts.copy()
    for j in range(3):
        members = labels == j
        if weights[members].sum() > 0:
            total = counts[j] + weights[members].sum()
            expected_centers[j] = (centers[j] * counts[j] + (weights[members, None] * batch[members]).sum(0)) / total
            expected_counts[j] = total
    assert (expected_centers[2] == centers[2]).all(), "cluster 2 gets no point: it must stay put"
    expected_inertia = (weights * ((batch - centers[labels]) ** 2).sum(1)).sum() / len(batch)

    state = ops.minibatch_initial_state(tf.constant(centers), tf.constant(counts))
    new = ops.minibatch_step(state, tf.constant(batch), tf.constant(weights), **_step_args())
    np.testing.assert_allclose(new.centers.numpy(), expected_centers, rtol=1e-13, atol=1e-13)
    np.testing.assert_allclose(new.counts.numpy(), expected_counts, rtol=1e-13)
    assert new.batch_inertia.numpy() == pytest.approx(expected_inertia, rel=1e-12)
    assert int(new.step) == 1 and int(new.n_reassigned) == 0 and not bool(new.converged)
    assert new.ewa_inertia.numpy() == pytest.approx(expected_inertia, rel=1e-12)  # the first step seeds the EWA

    # scikit-learn's own step (private API) from the same state agrees.
    from sklearn.cluster._kmeans import _mini_batch_step

    sk_centers, sk_counts = np.empty_like(centers), counts.copy()
    rng = np.random.RandomState(0)
    _mini_batch_step(batch, weights, centers.copy(), sk_centers, sk_counts, rng, random_reassign=False)
    np.testing.assert_allclose(new.centers.numpy(), sk_centers, rtol=1e-13, atol=1e-13)
    np.testing.assert_allclose(new.counts.numpy(), sk_counts, rtol=1e-13)


def test_convergence_monitor_follows_sklearn():
    """Constant batch inertia: step 1 is ignored, step 2 sets the minimum, then k steps without improvement stop."""
    batch = np.array([[0.0, 0.0], [0.0, 2.0], [10.0, 0.0], [10.0, 2.0]])
    centers = np.array([[0.0, 1.0], [10.0, 1.0]])  # already the batch means: nothing moves
    args = _step_args(max_no_improvement=tf.constant(3), reassignment_ratio=tf.constant(0.0, tf.float64))
    state = ops.minibatch_initial_state(tf.constant(centers), tf.constant([5.0, 5.0]))
    flags = []
    for _ in range(5):
        state = ops.minibatch_step(state, tf.constant(batch), tf.ones([4], tf.float64), **args)
        flags.append((bool(state.converged), int(state.no_improvement)))
    assert flags == [(False, 0), (False, 0), (False, 1), (False, 2), (True, 3)]
    np.testing.assert_array_equal(state.centers.numpy(), centers)

    # tol > 0 with a zero centre change stops at the second step (the first is ignored).
    state = ops.minibatch_initial_state(tf.constant(centers), tf.constant([5.0, 5.0]))
    args["tol"] = tf.constant(1e-9, tf.float64)
    converged = []
    for _ in range(2):
        state = ops.minibatch_step(state, tf.constant(batch), tf.ones([4], tf.float64), **args)
        converged.append(bool(state.converged))
    assert converged == [False, True]


# -- reassignment --------------------------------------------------------------------------------


def test_reassign_starved_centers_moves_lowest_counts_onto_distinct_rows():
    x = tf.constant(np.arange(12.0).reshape(6, 2))
    centers = tf.constant(np.full((4, 2), -100.0))
    counts = tf.constant([100.0, 0.5, 80.0, 0.0])
    ratio, seed = tf.constant(0.01, tf.float64), tf.constant([1, 1], tf.int64)
    weights = tf.ones([6], tf.float64)
    new_centers, new_counts, moved = reassign_starved_centers(x, weights, centers, counts, ratio, seed)
    new_centers = new_centers.numpy()
    assert int(moved) == 2
    np.testing.assert_array_equal(new_centers[[0, 2]], centers.numpy()[[0, 2]])
    rows = {tuple(r) for r in x.numpy()}
    assert {tuple(new_centers[1]), tuple(new_centers[3])} <= rows
    assert tuple(new_centers[1]) != tuple(new_centers[3])
    np.testing.assert_array_equal(new_counts.numpy(), [100.0, 80.0, 80.0, 80.0])  # the smallest untouched count

    # At most half the batch moves, lowest count first; zero-weight rows are avoided.
    weights = tf.constant([0.0, 1.0], tf.float64)
    new_centers, new_counts, moved = reassign_starved_centers(x[:2], weights, centers, counts, ratio, seed)
    assert int(moved) == 1
    np.testing.assert_array_equal(new_centers.numpy()[3], x.numpy()[1])
    np.testing.assert_array_equal(new_centers.numpy()[1], centers.numpy()[1])


def _blobs_with_a_lost_centre():
    x, _ = make_blobs(n_samples=1500, centers=4, n_features=3, cluster_std=0.5, center_box=(-10, 10), random_state=0)
    init = np.vstack([x[:3], np.full((1, 3), 1000.0)])  # the last centre is nobody's nearest
    return x, init


def test_starved_centre_is_reassigned_and_nothing_is_nan():
    x, init = _blobs_with_a_lost_centre()
    km = MiniBatchKMeans(4, init=init, batch_size=BATCH, random_state=0).fit(x)
    assert km.n_reassigned_ >= 1
    assert np.isfinite(km.cluster_centers_).all() and np.isfinite(km.counts_).all()
    assert np.abs(km.cluster_centers_).max() < 50, "the lost centre must have moved into the data"
    assert (km.counts_ > 0).all() and len(np.unique(km.labels_)) == 4
    assert km.inertia_ <= 1.05 * SkKMeans(4, n_init=10, random_state=0).fit(x).inertia_

    # Without reassignment the lost centre stays where it was, with count 0, and still no NaN: 3 clusters, as said.
    with pytest.warns(ConvergenceWarning, match=r"distinct clusters \(3\) found smaller than n_clusters \(4\)"):
        stuck = MiniBatchKMeans(4, init=init, batch_size=BATCH, reassignment_ratio=0.0, random_state=0).fit(x)
    np.testing.assert_array_equal(stuck.cluster_centers_[3], init[3])
    assert stuck.counts_[3] == 0 and stuck.n_reassigned_ == 0
    assert np.isfinite(stuck.cluster_centers_).all()
    assert stuck.inertia_ > km.inertia_


def test_partial_fit_reassigns_a_starved_centre():
    x, init = _blobs_with_a_lost_centre()
    km = MiniBatchKMeans(4, init=init, random_state=0)
    for start in range(0, 600, BATCH):
        km.partial_fit(x[start : start + BATCH])
    assert km.n_reassigned_ >= 1 and np.abs(km.cluster_centers_).max() < 50
    assert np.isfinite(km.cluster_centers_).all()


# -- results against scikit-learn ------------------------------------------------------------------


def test_blobs_inertia_close_to_sklearn_minibatch_and_full_kmeans(blobs):
    x, _ = blobs
    init, _ = kmeans_plusplus(x, 5, random_state=1)
    full = SkKMeans(5, init=init, n_init=1).fit(x).inertia_
    ours = [MiniBatchKMeans(5, init=init, batch_size=BATCH, random_state=s).fit(x).inertia_ for s in range(3)]
    theirs = [
        SkMiniBatchKMeans(5, init=init, batch_size=BATCH, n_init=1, random_state=s).fit(x).inertia_ for s in range(3)
    ]
    assert max(ours) <= 1.03 * full
    assert abs(np.median(ours) - np.median(theirs)) <= 0.03 * np.median(theirs)


def test_mnist_subset_inertia_within_3_percent_of_full_kmeans(mnist_subset):
    x, _ = mnist_subset
    init, _ = kmeans_plusplus(x, 10, random_state=0)
    full = SkKMeans(10, init=init, n_init=1).fit(x).inertia_
    for seed in range(2):
        km = MiniBatchKMeans(10, init=init, batch_size=512, random_state=seed).fit(x)
        assert km.inertia_ <= 1.03 * full, (seed, km.inertia_ / full)
        assert km.n_steps_ < 100 * len(x) // 512  # it stopped early
    # With k-means++ on its own init subset, as a user would call it.
    km = MiniBatchKMeans(10, batch_size=512, random_state=0).fit(x)
    assert km.inertia_ <= 1.03 * full


def test_partial_fit_over_batches_converges(blobs):
    x, _ = blobs
    rng = np.random.RandomState(0)
    km = MiniBatchKMeans(5, random_state=0)
    for epoch in range(4):
        order = rng.permutation(len(x))
        for start in range(0, len(x), BATCH):
            km.partial_fit(x[order[start : start + BATCH]])
        if epoch == 0:
            first_epoch = -km.score(x)
    assert km.n_steps_ == 4 * 15
    full = SkKMeans(5, n_init=10, random_state=0).fit(x).inertia_
    assert -km.score(x) <= 1.03 * full and -km.score(x) <= first_epoch * 1.001
    assert km.labels_.shape == (BATCH,)  # labels of the last batch, as scikit-learn
    assert km.counts_.sum() >= 4 * len(x) * 0.9


def test_partial_fit_continues_a_fit(blobs):
    x, _ = blobs
    km = MiniBatchKMeans(5, batch_size=BATCH, random_state=0).fit(x)
    counts, steps, reassigned = km.counts_.copy(), km.n_steps_, km.n_reassigned_
    km.partial_fit(x[:50])
    assert km.n_steps_ == steps + 1
    if km.n_reassigned_ == reassigned:  # otherwise reassigned centres had their counts reset
        assert km.counts_.sum() == pytest.approx(counts.sum() + 50)


# -- early stopping and determinism ------------------------------------------------------------------


def test_early_stopping_on_easy_data():
    x, _ = make_blobs(n_samples=3000, centers=4, n_features=2, cluster_std=0.3, random_state=1)
    budget = 100 * len(x) // BATCH
    km = MiniBatchKMeans(4, batch_size=BATCH, random_state=0).fit(x)
    assert km.n_steps_ < budget / 10 and km.n_iter_ < 100
    assert km.n_iter_ == int(np.ceil(km.n_steps_ * BATCH / len(x)))
    by_tol = MiniBatchKMeans(4, batch_size=BATCH, random_state=0, tol=1e-3, max_no_improvement=None).fit(x)
    assert by_tol.n_steps_ < budget
    no_stop = MiniBatchKMeans(4, batch_size=BATCH, max_iter=3, random_state=0, max_no_improvement=None).fit(x)
    assert no_stop.n_steps_ == 3 * len(x) // BATCH and no_stop.n_iter_ == 3


def test_deterministic_for_a_random_state(blobs):
    x, _ = blobs
    fits = [MiniBatchKMeans(5, batch_size=BATCH, random_state=7).fit(x) for _ in range(2)]
    np.testing.assert_array_equal(fits[0].cluster_centers_, fits[1].cluster_centers_)
    np.testing.assert_array_equal(fits[0].counts_, fits[1].counts_)
    assert fits[0].n_steps_ == fits[1].n_steps_
    other = MiniBatchKMeans(5, batch_size=BATCH, random_state=8).fit(x)
    assert not np.array_equal(other.cluster_centers_, fits[0].cluster_centers_)


# -- inputs ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "convert",
    [lambda x: x.tolist(), lambda x: tf.constant(x), lambda x: x.astype(np.float32)],
    ids=["list", "tensor", "float32"],
)
def test_in_memory_inputs_give_the_same_fit(blobs, convert):
    x, _ = blobs
    reference = MiniBatchKMeans(5, batch_size=BATCH, random_state=0).fit(x)
    other = MiniBatchKMeans(5, batch_size=BATCH, random_state=0).fit(convert(x))
    np.testing.assert_array_equal(other.cluster_centers_, reference.cluster_centers_)
    np.testing.assert_array_equal(other.labels_, reference.labels_)


def test_dataset_is_streamed_one_step_per_batch(blobs):
    x, _ = blobs
    # make_blobs rows come in random order; labels_ follow the order of a last pass over the dataset.
    km = MiniBatchKMeans(5, random_state=0, max_no_improvement=None, max_iter=2)
    km.fit(tf.data.Dataset.from_tensor_slices(x).batch(BATCH))
    assert km.n_steps_ == 2 * 15 and km.n_iter_ == 2  # 15 batches per epoch, 2 epochs
    assert km.labels_.shape == (1500,) and km.n_features_in_ == 6
    np.testing.assert_array_equal(km.predict(x), km.labels_)
    assert km.inertia_ == pytest.approx(-km.score(x), rel=1e-5)

    # A pipeline that reshuffles every epoch is stateful in TensorFlow (it would make fits
    # differ run to run); shuffling once keeps the comparison exact.
    init, _ = kmeans_plusplus(x, 5, random_state=1)
    shuffled = tf.data.Dataset.from_tensor_slices(x).shuffle(len(x), seed=0, reshuffle_each_iteration=False)
    batches = shuffled.batch(BATCH)
    early = MiniBatchKMeans(5, init=init, random_state=0).fit(batches)
    assert early.n_iter_ < 100
    assert early.inertia_ <= 1.03 * SkKMeans(5, init=init, n_init=1).fit(x).inertia_
    pairs = tf.data.Dataset.from_tensor_slices((x, np.zeros(len(x))))
    pairs = pairs.shuffle(len(x), seed=0, reshuffle_each_iteration=False).batch(BATCH)
    same = MiniBatchKMeans(5, init=init, random_state=0).fit(pairs)
    np.testing.assert_array_equal(same.cluster_centers_, early.cluster_centers_)
    same = MiniBatchKMeans(5, init=init, batch_size=BATCH, random_state=0).fit(shuffled)  # rows: batched by batch_size
    np.testing.assert_array_equal(same.cluster_centers_, early.cluster_centers_)


def test_streamed_sample_weights_weight_the_steps(blobs):
    x, _ = blobs
    weights = np.random.default_rng(0).uniform(0.0, 2.0, len(x))
    weights[::7] = 0.0
    triples = tf.data.Dataset.from_tensor_slices((x, np.zeros(len(x)), weights)).batch(BATCH)
    km = MiniBatchKMeans(5, init=x[:5], max_iter=2, max_no_improvement=None, reassignment_ratio=0.0).fit(triples)
    assert km.n_steps_ == 30 and km.n_iter_ == 2
    assert km.counts_.sum() == pytest.approx(2 * weights.sum(), rel=1e-5)  # each epoch adds every row's weight
    assert km.inertia_ == pytest.approx(-km.score(x, sample_weight=weights), rel=1e-5)


def test_partial_fit_accepts_tensor_and_dataset(blobs):
    x, _ = blobs
    a = MiniBatchKMeans(5, random_state=0).partial_fit(x[:300])
    b = MiniBatchKMeans(5, random_state=0).partial_fit(tf.constant(x[:300]))
    c = MiniBatchKMeans(5, random_state=0).partial_fit(tf.data.Dataset.from_tensor_slices(x[:300]).batch(70))
    np.testing.assert_array_equal(a.cluster_centers_, b.cluster_centers_)
    np.testing.assert_array_equal(a.cluster_centers_, c.cluster_centers_)  # a dataset is one batch
    assert a.n_steps_ == b.n_steps_ == c.n_steps_ == 1


def test_sample_weight_draws_batches_by_weight():
    x, _ = make_blobs(n_samples=1000, centers=[[0.0, 0.0], [20.0, 20.0]], cluster_std=1.0, random_state=0)
    weights = (x[:, 0] < 10).astype(float)  # only the first blob counts
    km = MiniBatchKMeans(1, batch_size=BATCH, random_state=0).fit(x, sample_weight=weights)
    np.testing.assert_allclose(km.cluster_centers_[0], x[weights > 0].mean(0), atol=0.3)
    assert km.inertia_ == pytest.approx(-km.score(x, sample_weight=weights), rel=1e-5)
    assert km.counts_[0] == km.n_steps_ * BATCH  # sampled rows carry unit weight


def test_compute_labels_false_estimates_inertia(blobs):
    x, _ = blobs
    km = MiniBatchKMeans(5, batch_size=BATCH, random_state=0, compute_labels=False).fit(x)
    assert not hasattr(km, "labels_")
    assert km.inertia_ == pytest.approx(-km.score(x), rel=0.15)


def test_uint8_images_and_float64():
    images = np.random.default_rng(0).integers(0, 256, size=(300, 8, 8), dtype=np.uint8)
    km = MiniBatchKMeans(3, batch_size=BATCH, random_state=0, dtype="float64").fit(images)
    assert km.cluster_centers_.shape == (3, 64) and km.cluster_centers_.dtype == np.float64
    assert km.counts_.dtype == np.float64


# -- validation -------------------------------------------------------------------------------------------

X = np.random.default_rng(0).normal(size=(40, 3))


@pytest.mark.parametrize(
    "params, error, message",
    [
        ({"batch_size": 0}, ValueError, "batch_size must be a positive integer"),
        ({"batch_size": 2.5}, TypeError, "batch_size must be a positive integer"),
        ({"init_size": 0}, ValueError, "init_size must be a positive integer"),
        ({"max_no_improvement": -1}, ValueError, "max_no_improvement must be a non-negative integer"),
        ({"reassignment_ratio": -0.1}, ValueError, "reassignment_ratio must be a non-negative number"),
        ({"tol": -1.0}, ValueError, "tol must be a non-negative number"),
        ({"max_iter": 0}, ValueError, "max_iter must be a positive integer"),
        ({"n_clusters": 41}, ValueError, r"n_clusters=41 must be <= n_samples \(40\)"),
        ({"n_init": 0}, ValueError, "n_init must be a positive integer"),
        ({"compute_labels": "yes"}, TypeError, "compute_labels must be a bool"),
        ({"init": "kmeans++"}, ValueError, "init must be 'k-means\\+\\+', 'random'"),
        ({"init": np.zeros((3, 3))}, ValueError, r"init must have shape"),
        ({"distance": "cosine"}, ValueError, "distance must be one of"),
        ({"chunk_size": -1}, ValueError, "chunk_size must be a positive integer"),
        ({"dtype": "float16"}, ValueError, "dtype must be 'float32' or 'float64'"),
    ],
)
def test_bad_parameters(params, error, message):
    with pytest.raises(error, match=message):
        MiniBatchKMeans(**{"n_clusters": 2, **params}).fit(X)


def test_bad_inputs_and_use_before_fit():
    with pytest.raises(ValueError, match="NaN"):
        MiniBatchKMeans(2).fit(np.array([[np.nan, 1.0], [0.0, 1.0]]))
    with pytest.raises(ValueError, match="NaN or infinity"):
        MiniBatchKMeans(2).fit(tf.data.Dataset.from_tensor_slices(np.array([[np.inf, 1.0], [0.0, 1.0]])).batch(2))
    with pytest.raises(ValueError, match="sample_weight with a tf.data.Dataset"):
        MiniBatchKMeans(2).fit(tf.data.Dataset.from_tensor_slices(X).batch(8), sample_weight=np.ones(40))
    with pytest.raises(ValueError, match="non-negative"):
        MiniBatchKMeans(2).fit(X, sample_weight=-np.ones(40))
    with pytest.raises(NotFittedError):
        MiniBatchKMeans(2).predict(X)
    km = MiniBatchKMeans(2, random_state=0).partial_fit(X)
    with pytest.raises(ValueError, match="X has 5 features"):
        km.partial_fit(np.zeros((4, 5)))
    with pytest.warns(RuntimeWarning, match="init_size=1 should be larger than n_clusters=2"):
        MiniBatchKMeans(2, init_size=1, random_state=0).fit(X)


def test_n_init_keeps_the_best_initialisation(blobs):
    x, _ = blobs
    good = SkKMeans(5, n_init=1, random_state=0).fit(x).cluster_centers_
    calls = []

    def alternate(data, n_clusters, random_state):
        calls.append(1)
        return good if len(calls) == 2 else np.full((n_clusters, data.shape[1]), 100.0) + np.arange(n_clusters)[:, None]

    km = MiniBatchKMeans(5, init=alternate, n_init=3, max_iter=1, batch_size=BATCH, reassignment_ratio=0.0)
    km.set_params(random_state=0).fit(x)
    assert len(calls) == 3
    assert km.inertia_ <= 1.02 * SkKMeans(5, init=good, n_init=1).fit(x).inertia_


# -- estimator contract -----------------------------------------------------------------------------------


def test_fitted_attributes(blobs):
    x, _ = blobs
    km = MiniBatchKMeans(5, batch_size=BATCH, random_state=0).fit(x)
    assert km.cluster_centers_.shape == (5, 6) and km.cluster_centers_.dtype == np.float32
    assert km.counts_.shape == (5,) and (km.counts_ > 0).all()
    np.testing.assert_array_equal(km._counts, km.counts_)  # scikit-learn's name
    assert km.labels_.shape == (1500,) and km.n_features_in_ == 6
    np.testing.assert_array_equal(km.predict(x), km.labels_)
    assert km.score(x) == pytest.approx(-km.inertia_, rel=1e-5)
    assert km.transform(x).shape == (1500, 5)
    np.testing.assert_array_equal(MiniBatchKMeans(5, batch_size=BATCH, random_state=0).fit_predict(x), km.labels_)
    params = km.get_params()
    assert params["batch_size"] == BATCH and params["reassignment_ratio"] == 0.01
    assert clone(km).get_params() == params
    assert repr(km) == "MiniBatchKMeans(n_clusters=5, batch_size=100, random_state=0)"


def test_saved_model_and_pickle_round_trip(blobs, tmp_path):
    x, _ = blobs
    km = MiniBatchKMeans(5, batch_size=BATCH, random_state=0).fit(x)
    tf.saved_model.save(km, str(tmp_path / "model"))
    restored = tf.saved_model.load(str(tmp_path / "model"))
    queries = tf.constant(x[:200], tf.float32)
    np.testing.assert_array_equal(restored.predict(queries).numpy(), km.predict(x[:200]))
    np.testing.assert_allclose(restored.transform(queries).numpy(), km.transform(x[:200]), rtol=1e-6)
    np.testing.assert_array_equal(restored.counts.numpy(), km.counts_)
    unpickled = pickle.loads(pickle.dumps(km))
    np.testing.assert_array_equal(unpickled.predict(x), km.labels_)
    unpickled.partial_fit(x[:BATCH])  # the state needed to continue survives
    assert unpickled.n_steps_ == km.n_steps_ + 1


def test_whole_fit_is_one_graph_call_whatever_max_iter(blobs, monkeypatch):
    """The step loop runs in the graph: one call per fit, no retracing when max_iter changes."""
    x, _ = blobs
    calls = []
    compiled = _compiled.minibatch_kmeans

    def counting(*args, **kwargs):
        calls.append(1)
        return compiled(*args, **kwargs)

    def no_python_steps(*args, **kwargs):
        raise AssertionError("fit must not call the single-step graph")

    monkeypatch.setattr(_compiled, "minibatch_kmeans", counting)
    monkeypatch.setattr(_compiled, "minibatch_step", no_python_steps)
    params = dict(init=x[:5], batch_size=BATCH, max_no_improvement=None, random_state=0)
    MiniBatchKMeans(5, max_iter=1, **params).fit(x)
    traces = compiled.experimental_get_tracing_count()
    steps = [MiniBatchKMeans(5, max_iter=max_iter, **params).fit(x).n_steps_ for max_iter in (1, 10)]
    assert steps == [15, 150]
    assert len(calls) == 3
    assert compiled.experimental_get_tracing_count() == traces


def logged_curves(log_dir) -> dict[str, list[tuple[int, float]]]:
    """The TensorBoard scalars in ``log_dir``: tag → ``[(step, value), ...]`` in step order."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(log_dir), size_guidance={"tensors": 0})  # 0: keep every point
    events.Reload()
    return {
        tag: [(event.step, float(tf.make_ndarray(event.tensor_proto))) for event in events.Tensors(tag)]
        for tag in events.Tags()["tensors"]
    }


def test_log_dir_records_both_inertias_at_every_step(blobs, tmp_path):
    x, _ = blobs
    km = MiniBatchKMeans(
        5,
        batch_size=BATCH,
        max_iter=3,
        max_no_improvement=None,
        compute_labels=False,
        random_state=0,
        log_dir=str(tmp_path),
    ).fit(x)
    curves = logged_curves(tmp_path / "fit-1")
    assert set(curves) == {"minibatch_kmeans/ewa_inertia", "minibatch_kmeans/batch_inertia"}
    steps, ewa = zip(*curves["minibatch_kmeans/ewa_inertia"])
    batch_steps, batch = zip(*curves["minibatch_kmeans/batch_inertia"])
    assert list(steps) == list(batch_steps) == list(range(1, km.n_steps_ + 1)) and km.n_steps_ == 45
    assert all(np.isfinite(batch)) and min(batch) > 0
    # The smoothing, value by value: seeded by the first two batches, then alpha = 2·batch/(n+1).
    assert ewa[0] == batch[0] and ewa[1] == batch[1]
    alpha = 2 * BATCH / (len(x) + 1)
    np.testing.assert_allclose(ewa[2:], [(1 - alpha) * e + alpha * b for e, b in zip(ewa[1:-1], batch[2:])], rtol=1e-6)
    assert km.inertia_ == pytest.approx(ewa[-1] * len(x), rel=1e-6)  # compute_labels=False: the EWA estimate
    # Mean squared distance per row: the centres settle, so late batches fit far better than the first.
    assert np.mean(batch[-15:]) < 0.8 * batch[0]
    assert np.mean(batch[-15:]) == pytest.approx(-km.score(x) / len(x), rel=0.3)


def test_log_dir_of_a_streamed_fit(blobs, tmp_path):
    x, _ = blobs
    batches = tf.data.Dataset.from_tensor_slices(x).batch(BATCH)
    km = MiniBatchKMeans(5, max_iter=2, max_no_improvement=None, random_state=0, log_dir=str(tmp_path)).fit(batches)
    curves = logged_curves(tmp_path / "fit-1")
    assert [step for step, _ in curves["minibatch_kmeans/batch_inertia"]] == list(range(1, km.n_steps_ + 1))
    assert km.n_steps_ == 30
    assert all(np.isfinite(value) and value > 0 for _, value in curves["minibatch_kmeans/ewa_inertia"])


def test_verbose_prints_steps(blobs, capfd):
    x, _ = blobs
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        MiniBatchKMeans(5, batch_size=BATCH, max_iter=1, max_no_improvement=None, verbose=1, random_state=0).fit(x)
    assert capfd.readouterr().err.count("tfkmeans: minibatch step") == 15
