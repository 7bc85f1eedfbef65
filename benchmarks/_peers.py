"""Every method the benchmarks time, called the way a user calls it: tfkmeans, scikit-learn, FAISS, the blog.

Each adapter fits ``k`` clusters and returns a :class:`Fit`. ``init`` is
either an array of initial centres (the same start for every method) or
``None`` for the library's own seeding. Methods are looked up by name with
:func:`method`: ``tfkmeans`` is :class:`tfkmeans.KMeans` with its defaults,
``tfkmeans_<algorithm>`` forces ``algorithm=<algorithm>`` (any algorithm the
estimator accepts, so a new one is benchmarked by adding its name to
``--algorithms``), and the peers are listed in :data:`PEERS`.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, NamedTuple

import numpy as np

#: Iterations FAISS runs when not told (it has no tolerance).
FAISS_DEFAULT_ITERS = 25


class Fit(NamedTuple):
    centers: np.ndarray  # (k, d)
    n_iter: int  # iterations the method reports having run
    #: Mean share of the n × k point-centre distances computed per iteration, for methods that report it.
    distance_share: float | None = None


# fit(x, k, init, max_iter, tol, n_init, seed) -> Fit
FitFn = Callable[..., Fit]


class Method(NamedTuple):
    fit: FitFn
    description: str
    slow: bool = False


def _distance_share(km: Any) -> float | None:
    """Mean over the iterations of the estimator's ``distance_shares_``, if it records them."""
    shares = getattr(km, "distance_shares_", None)
    return None if shares is None or not len(shares) else float(np.mean(shares))


def fit_tfkmeans(
    x: np.ndarray,
    k: int,
    init: np.ndarray | None = None,
    max_iter: int = 300,
    tol: float = 1e-4,
    n_init: int = 1,
    seed: Any = None,
    algorithm: str = "auto",
    distance: str = "matmul",
) -> Fit:
    from tfkmeans import KMeans

    km = KMeans(
        k,
        init="k-means++" if init is None else init,
        n_init=n_init,
        max_iter=max_iter,
        tol=tol,
        random_state=seed,
        algorithm=algorithm,
        distance=distance,
    ).fit(x)
    return Fit(km.cluster_centers_, km.n_iter_, _distance_share(km))


def fit_tfkmeans_one_by_one(
    x: np.ndarray,
    k: int,
    init: np.ndarray | None = None,
    max_iter: int = 300,
    tol: float = 1e-4,
    n_init: int = 1,
    seed: Any = None,
) -> Fit:
    """``n_init`` separate one-run fits replaying the seeds ``KMeans(n_init=n_init, random_state=seed)`` draws."""
    rng = np.random.RandomState(seed)
    fits = [fit_tfkmeans(x, k, init, max_iter, tol, 1, rng) for _ in range(n_init)]
    return min(fits, key=lambda fit: exact_inertia(x, fit.centers))


def fit_sklearn(
    x: np.ndarray,
    k: int,
    init: np.ndarray | None = None,
    max_iter: int = 300,
    tol: float = 1e-4,
    n_init: int = 1,
    seed: Any = None,
    algorithm: str = "lloyd",
    threads: int | None = None,
) -> Fit:
    from sklearn.cluster import KMeans
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=threads):
        km = KMeans(
            k,
            init="k-means++" if init is None else init,
            n_init=n_init,
            max_iter=max_iter,
            tol=tol,
            random_state=seed,
            algorithm=algorithm,
        ).fit(x)
    return Fit(km.cluster_centers_, km.n_iter_)


def fit_faiss(
    x: np.ndarray,
    k: int,
    init: np.ndarray | None = None,
    max_iter: int = FAISS_DEFAULT_ITERS,
    tol: float = 0.0,
    n_init: int = 1,
    seed: Any = None,
    threads: int | None = None,
) -> Fit:
    """``faiss.Kmeans`` on every point (no subsampling); FAISS has no tolerance and always runs ``max_iter``."""
    import faiss

    default_threads = faiss.omp_get_max_threads()
    # faiss and scikit-learn may share one OpenMP runtime: restore the thread count after.
    faiss.omp_set_num_threads(threads or default_threads)
    try:
        km = faiss.Kmeans(
            x.shape[1],
            k,
            niter=max_iter,
            nredo=n_init,
            seed=1234 if seed is None else int(seed) % 2**31,
            max_points_per_centroid=max(len(x) // k + 1, 256),
        )
        km.train(np.ascontiguousarray(x, dtype=np.float32), init_centroids=init)
    finally:
        faiss.omp_set_num_threads(default_threads)
    # One statistics entry per iteration run, over all restarts.
    return Fit(km.centroids, len(km.iteration_stats) // n_init)


def fit_blog_float64(
    x: np.ndarray,
    k: int,
    init: np.ndarray | None = None,
    max_iter: int = 300,
    tol: float = 0.0,
    n_init: int = 1,
    seed: Any = None,
) -> Fit:
    """The blog's eager K-means, step for step, with its loop bounded to ``max_iter`` iterations.

    The blog divides the uint8 pixels by 255.0 in float64; here the float32
    pixels are widened to float64. It stops when the centroids stop changing;
    ``n_iter`` reports where it would have stopped.
    """
    import tensorflow as tf

    if init is None:
        raise ValueError("the blog's code needs initial centres")
    flattened = tf.constant(x.astype(np.float64))
    points_expanded = tf.expand_dims(flattened, 0)

    def update_centroids(centroids):
        distances = tf.reduce_sum(tf.square(tf.subtract(tf.expand_dims(centroids, 1), points_expanded)), 2)
        assignments = tf.argmin(distances, 0)
        means = []
        for c in range(k):
            members = tf.reshape(tf.where(tf.equal(assignments, c)), [1, -1])
            means.append(tf.reduce_mean(tf.gather(flattened, members), axis=[1]))
        return tf.concat(means, 0)

    centroids = tf.constant(init.astype(np.float64))
    stopped_at = None
    for iteration in range(1, max_iter + 1):
        old_centroids = centroids
        centroids = update_centroids(centroids)
        if stopped_at is None and bool(tf.reduce_all(centroids == old_centroids)):
            stopped_at = iteration
    return Fit(centroids.numpy(), stopped_at or max_iter)


#: The methods that are not tfkmeans's estimator with one algorithm.
PEERS: dict[str, Method] = {
    "tfkmeans_expand": Method(
        functools.partial(fit_tfkmeans, distance="expand"),
        "tfkmeans KMeans(distance='expand'): the blog's tensor expansion, in chunks",
    ),
    "tfkmeans_one_by_one": Method(
        fit_tfkmeans_one_by_one, "tfkmeans: the restarts as separate KMeans(n_init=1) fits, same seeds"
    ),
    "sklearn": Method(fit_sklearn, "scikit-learn KMeans(algorithm='lloyd')"),
    "sklearn_elkan": Method(
        functools.partial(fit_sklearn, algorithm="elkan"), "scikit-learn KMeans(algorithm='elkan')"
    ),
    "sklearn_1thread": Method(
        functools.partial(fit_sklearn, threads=1), "scikit-learn KMeans(algorithm='lloyd') under threadpool_limits(1)"
    ),
    "faiss": Method(fit_faiss, "FAISS Kmeans on every point, default OpenMP threads"),
    "faiss_1thread": Method(functools.partial(fit_faiss, threads=1), "FAISS Kmeans on every point, 1 OpenMP thread"),
    "blog_float64": Method(fit_blog_float64, "the blog's eager float64 broadcasting code, unchunked", slow=True),
}


def method(name: str) -> Method:
    """The method called ``name``: ``tfkmeans``, ``tfkmeans_<algorithm>`` or one of :data:`PEERS`."""
    if name in PEERS:
        return PEERS[name]
    if name == "tfkmeans":
        return Method(fit_tfkmeans, "tfkmeans KMeans with its defaults (algorithm='auto')")
    if name.startswith("tfkmeans_"):
        algorithm = name.removeprefix("tfkmeans_")
        return Method(functools.partial(fit_tfkmeans, algorithm=algorithm), f"tfkmeans KMeans(algorithm='{algorithm}')")
    raise ValueError(f"unknown method {name!r}: 'tfkmeans', 'tfkmeans_<algorithm>' or one of {sorted(PEERS)}")


def methods(names: list[str], algorithms: list[str] = ()) -> dict[str, Method]:
    """The named methods, after one ``tfkmeans`` method per algorithm (``auto`` is plain ``tfkmeans``)."""
    from benchmarks._harness import UsageError

    tfkmeans_names = ["tfkmeans" if a == "auto" else f"tfkmeans_{a}" for a in algorithms]
    try:
        return {name: method(name) for name in [*tfkmeans_names, *names]}
    except ValueError as error:
        raise UsageError(str(error)) from error


def exact_inertia(x: np.ndarray, centers: np.ndarray, chunk: int = 8192) -> float:
    """Sum over ``x`` of the squared distance to the nearest centre, in float64, the same for every method.

    Nearest by the expanded form, then each point's distance by exact differences (no cancellation).
    """
    c = centers.astype(np.float64)
    c_norms = (c * c).sum(axis=1)
    total = 0.0
    for start in range(0, len(x), chunk):
        block = x[start : start + chunk].astype(np.float64)
        nearest = (c_norms[None, :] - 2.0 * block @ c.T).argmin(axis=1)
        total += float(((block - c[nearest]) ** 2).sum())
    return total


class MiniBatchFit(NamedTuple):
    centers: np.ndarray
    n_steps: int


def fit_minibatch_tfkmeans(
    x: np.ndarray, k: int, batch_size: int, max_iter: int, seed: int, max_no_improvement: int | None
) -> MiniBatchFit:
    from tfkmeans import MiniBatchKMeans

    km = MiniBatchKMeans(
        k,
        batch_size=batch_size,
        max_iter=max_iter,
        n_init=1,
        random_state=seed,
        max_no_improvement=max_no_improvement,
    ).fit(x)
    return MiniBatchFit(km.cluster_centers_, km.n_steps_)


def fit_minibatch_sklearn(
    x: np.ndarray,
    k: int,
    batch_size: int,
    max_iter: int,
    seed: int,
    max_no_improvement: int | None,
    threads: int | None = None,
) -> MiniBatchFit:
    from sklearn.cluster import MiniBatchKMeans
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=threads):
        km = MiniBatchKMeans(
            k,
            batch_size=batch_size,
            max_iter=max_iter,
            n_init=1,
            random_state=seed,
            max_no_improvement=max_no_improvement,
        ).fit(x)
    return MiniBatchFit(km.cluster_centers_, km.n_steps_)


#: Mini-batch K-means: (x, k, batch_size, max_iter, seed, max_no_improvement) -> MiniBatchFit.
MINIBATCH: dict[str, Method] = {
    "tfkmeans": Method(fit_minibatch_tfkmeans, "tfkmeans.MiniBatchKMeans, TensorFlow's default threads"),
    "sklearn": Method(fit_minibatch_sklearn, "sklearn.cluster.MiniBatchKMeans, default OpenMP threads"),
    "sklearn_1thread": Method(
        functools.partial(fit_minibatch_sklearn, threads=1),
        "sklearn.cluster.MiniBatchKMeans under threadpool_limits(1)",
    ),
}
