"""Milliseconds per Lloyd iteration on MNIST train: tfkmeans against scikit-learn, FAISS and the blog.

Every method starts from the same k-means++ centres (``sklearn.cluster.kmeans_plusplus``
with ``--seed``) and runs a fixed number of Lloyd iterations with no early stop
(``tol=0``; a run that reports fewer iterations than asked is an error), so all of
them do the same work and should end at the same inertia.

Each method is timed as a user would call it (one whole ``fit``) at 1 iteration and
at ``n`` iterations, after one untimed warm-up fit (which also traces
tfkmeans's graph); within a repeat, each method's timed pair follows an untimed
1-iteration fit of its own, so memory the other methods left cold is touched
again before the clock starts. Two per-iteration figures come out of that:

* **slope** ``(T(n) - T(1)) / (n - 1)``: the cost of one more iteration, free of
  the fixed per-fit work (input validation and copies, norms, the final
  assignment and inertia passes). The honest per-iteration number. Computed
  between the medians of T(n) and T(1) over the repeats (and, as a best case,
  between their minima): a per-repeat slope is ruined by one stalled fit.
* **whole fit / n** ``T(n) / n``: what a user sees for an n-iteration fit.

and the fixed per-fit **overhead** ``T(1) - slope``. Medians are what the
machine gave most of the time; minima approach a quiet machine, as the noise
of a shared one (other processes' load, kernel stalls) only ever adds time.
Repeats are interleaved across methods (round-robin), so drift in the load hits
every method alike. The slow method (the blog's code, gigabytes of
temporaries) is timed after all the others.

Methods (``--methods``):

* ``tfkmeans``: :class:`tfkmeans.KMeans` with its defaults (``algorithm='auto'``,
  which for one run on in-memory data is ``'elkan'``; ``distance='matmul'``).
* ``tfkmeans_lloyd``: ``KMeans(algorithm='lloyd')``: every point measured
  against every centre each iteration, then summed into its cluster.
* ``tfkmeans_expand``: ``distance='expand'`` (the blog's tensor expansion, in
  chunks; 'auto' runs it with Lloyd's iterations).
* ``tfkmeans_elkan``: ``KMeans(algorithm='elkan')``, Lloyd's iterations with
  per-point distance bounds; an iteration re-measures only the points whose
  bounds overlap, so its cost falls as the fit settles (the slope over the
  first iterations from k-means++ understates the gain over a whole fit).
* ``sklearn``: ``sklearn.cluster.KMeans(algorithm='lloyd')``.
* ``sklearn_elkan``: ``sklearn.cluster.KMeans(algorithm='elkan')``.
* ``faiss``: ``faiss.Kmeans`` with ``max_points_per_centroid=10**7`` (no
  subsampling), FAISS's default number of OpenMP threads.
* ``faiss_1thread``: the same pinned to one OpenMP thread. FAISS's OpenMP barriers
  spin, and on a machine where another process holds a core its 2-thread run can
  be several times slower than its 1-thread run; both are shown.
* ``blog_float64``: the blog's eager float64 code (``expand_dims``, ``subtract``,
  ``square``, ``reduce_sum``, ``argmin``, then a ``tf.where``/``tf.gather``/
  ``reduce_mean`` per cluster) on the whole data at once: an ``n × k × d`` float64
  intermediate, 3.8 GB for MNIST with k=10. Slow, so timed over only
  ``--slow_iters`` iterations and ``--slow_repeats`` repeats.

Single passes over the data are timed too: the floor (one read of the float32
data; one ``X·Cᵀ`` product in TensorFlow), one tfkmeans Lloyd iteration body, and
the passes tfkmeans's ``fit`` makes besides its iterations (the copy of X into a
tensor, the finiteness check, the squared norms, and the fused final
labels-and-exact-inertia pass), which account for its fixed per-fit overhead.

Usage::

    python -m benchmarks.lloyd --markdown                      # all methods, 20 iterations, 5 repeats
    python -m benchmarks.lloyd --methods=tfkmeans,sklearn --repeats=9 --output=runs/bench/lloyd.json
"""

from __future__ import annotations

import datetime
import functools
import json
import sys
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Callable, NamedTuple, Optional

import numpy as np
from absl import app, flags, logging

from benchmarks._timing import machine_info, source_revision, summarize, timed

FLAGS = flags.FLAGS
flags.DEFINE_integer("k", 10, "Number of clusters.")
flags.DEFINE_integer("iters", 20, "Lloyd iterations per timed fit (at least 2).")
flags.DEFINE_integer("repeats", 5, "Timed repeats per method (each: one 1-iteration and one --iters fit).")
flags.DEFINE_list(
    "methods",
    "tfkmeans,tfkmeans_lloyd,tfkmeans_expand,sklearn,sklearn_elkan,faiss,faiss_1thread,blog_float64",
    "Methods to time, comma-separated; the first of sklearn/tfkmeans present is the reference.",
)
flags.DEFINE_string("data_dir", None, "MNIST directory; default: $TFKMEANS_DATA_DIR or tensorflow-datasets.")
flags.DEFINE_string("output", None, "Write all measurements and the machine record to this JSON file.")
flags.DEFINE_bool("markdown", False, "Print the results as a markdown table.")
flags.DEFINE_integer("seed", 0, "Seed of the shared k-means++ initial centres.")
flags.DEFINE_integer("slow_iters", 3, "Iterations per timed fit for slow methods (the blog's code).")
flags.DEFINE_integer("slow_repeats", 5, "Timed repeats for slow methods.")
flags.DEFINE_bool(
    "verify_slow", True,
    "Run each slow method once more for --iters iterations (untimed) so its final inertia is comparable.",
)


class Fit(NamedTuple):
    centers: np.ndarray  # (k, d) after the iterations
    n_iter: int  # iterations the method reports having run


# A method: (X float32 (n, d), initial centres float32 (k, d), iterations) -> Fit.
Runner = Callable[[np.ndarray, np.ndarray, int], Fit]


class Method(NamedTuple):
    run: Runner
    description: str
    slow: bool = False


def _tfkmeans(x: np.ndarray, init: np.ndarray, n_iter: int, distance: str, algorithm: str = "auto") -> Fit:
    import tfkmeans

    km = tfkmeans.KMeans(
        len(init), init=init, n_init=1, max_iter=n_iter, tol=0, distance=distance, algorithm=algorithm
    ).fit(x)
    return Fit(km.cluster_centers_, km.n_iter_)


def _sklearn(x: np.ndarray, init: np.ndarray, n_iter: int, algorithm: str = "lloyd") -> Fit:
    from sklearn.cluster import KMeans

    km = KMeans(len(init), init=init, n_init=1, max_iter=n_iter, tol=0, algorithm=algorithm).fit(x)
    return Fit(km.cluster_centers_, km.n_iter_)


def _faiss(x: np.ndarray, init: np.ndarray, n_iter: int, threads: Optional[int]) -> Fit:
    import faiss

    default_threads = faiss.omp_get_max_threads()
    # faiss and scikit-learn may share one OpenMP runtime: restore the thread count after.
    faiss.omp_set_num_threads(threads or default_threads)
    try:
        km = faiss.Kmeans(
            x.shape[1], len(init), niter=n_iter, max_points_per_centroid=10**7, seed=FLAGS.seed
        )
        km.train(x, init_centroids=init)
    finally:
        faiss.omp_set_num_threads(default_threads)
    # FAISS has no early stop: it records one statistics entry per iteration run.
    return Fit(km.centroids, len(km.iteration_stats))


def _blog_float64(x: np.ndarray, init: np.ndarray, n_iter: int) -> Fit:
    """The blog's eager K-means, step for step, with its loop bounded to ``n_iter`` iterations.

    The blog divides the uint8 pixels by 255.0 in float64; here the float32
    pixels are widened to float64 (values differ by < 3e-8). It stops when the
    centroids stop changing; ``n_iter`` reports where it would have stopped.
    """
    import tensorflow as tf

    clusters_n = len(init)
    flattened = tf.constant(x.astype(np.float64))
    points_expanded = tf.expand_dims(flattened, 0)

    def update_centroids(points_expanded, centroids):
        centroids_expanded = tf.expand_dims(centroids, 1)
        distances = tf.subtract(centroids_expanded, points_expanded)
        distances = tf.square(distances)
        distances = tf.reduce_sum(distances, 2)
        assignments = tf.argmin(distances, 0)
        means = []
        for c in range(clusters_n):
            eq_eq = tf.equal(assignments, c)
            where_eq = tf.where(eq_eq)
            ruc = tf.reshape(where_eq, [1, -1])
            ruc = tf.gather(flattened, ruc)
            ruc = tf.reduce_mean(ruc, axis=[1])
            means.append(ruc)
        new_centroids = tf.concat(means, 0)
        return new_centroids, assignments

    centroids = tf.constant(init.astype(np.float64))
    stopped_at = None
    for iteration in range(1, n_iter + 1):
        old_centroids = centroids
        centroids, _ = update_centroids(points_expanded, centroids)
        if stopped_at is None and bool(tf.reduce_all(centroids == old_centroids)):
            stopped_at = iteration
    return Fit(centroids.numpy(), stopped_at or n_iter)


METHODS: dict[str, Method] = {
    "tfkmeans": Method(functools.partial(_tfkmeans, distance="matmul"), "tfkmeans KMeans, defaults (algorithm='auto')"),
    "tfkmeans_lloyd": Method(
        functools.partial(_tfkmeans, distance="matmul", algorithm="lloyd"), "tfkmeans KMeans(algorithm='lloyd')"
    ),
    "tfkmeans_expand": Method(functools.partial(_tfkmeans, distance="expand"), "tfkmeans KMeans, distance='expand'"),
    "tfkmeans_elkan": Method(
        functools.partial(_tfkmeans, distance="matmul", algorithm="elkan"), "tfkmeans KMeans(algorithm='elkan')"
    ),
    "sklearn": Method(_sklearn, "scikit-learn KMeans(algorithm='lloyd')"),
    "sklearn_elkan": Method(functools.partial(_sklearn, algorithm="elkan"), "scikit-learn KMeans(algorithm='elkan')"),
    "faiss": Method(functools.partial(_faiss, threads=None), "FAISS Kmeans, default OpenMP threads"),
    "faiss_1thread": Method(functools.partial(_faiss, threads=1), "FAISS Kmeans, 1 OpenMP thread"),
    "blog_float64": Method(_blog_float64, "blog's eager float64 broadcasting code, unchunked", slow=True),
}


def exact_inertia(x64: np.ndarray, centers: np.ndarray) -> float:
    """Sum of squared distances to the nearest centre, in float64, the same for every method."""
    c = centers.astype(np.float64)
    d = (x64 * x64).sum(axis=1)[:, None] - 2.0 * (x64 @ c.T) + (c * c).sum(axis=1)[None, :]
    return float(np.maximum(d.min(axis=1), 0.0).sum())


def _checked(name: str, fit: Fit, expected_iter: int) -> Fit:
    if fit.n_iter != expected_iter:
        raise RuntimeError(
            f"{name} ran {fit.n_iter} iterations instead of {expected_iter} (it converged early), "
            "so its per-iteration time would be wrong; use fewer --iters."
        )
    if not np.all(np.isfinite(fit.centers)):
        raise RuntimeError(f"{name} returned non-finite centres.")
    return fit


def _round_robin(
    methods: dict[str, Method], x: np.ndarray, init: np.ndarray, n_iter: int, repeats: int
) -> dict[str, dict[str, Any]]:
    """Warm up each method, then time its 1- and ``n_iter``-iteration fits, one method after another per repeat.

    Each timed pair is preceded by an untimed 1-iteration fit of the same method,
    so both fits of the pair run in the same steady state: repeated fits of one
    method, as in a user's loop.
    """
    records: dict[str, dict[str, Any]] = {}
    for name, method in methods.items():
        logging.info("warm-up: %s", name)
        warmup_s, fit = timed(method.run, x, init, 1)
        _checked(name, fit, 1)
        records[name] = {"timed_iters": n_iter, "warmup_s": warmup_s, "t1_s": [], "tn_s": []}
    for repeat in range(repeats):
        for name, method in methods.items():
            # Untimed: re-touch this method's working memory, which the other methods' runs
            # left idle (on the benchmark VM, the first fit after such a pause spends ~0.3 s
            # in the kernel re-faulting freed memory; it would land in T(1) only).
            method.run(x, init, 1)
            t1, fit = timed(method.run, x, init, 1)
            _checked(name, fit, 1)
            tn, fit = timed(method.run, x, init, n_iter)
            records[name]["final"] = _checked(name, fit, n_iter)
            records[name]["t1_s"].append(t1)
            records[name]["tn_s"].append(tn)
            logging.info(
                "repeat %d %-16s T(1) %8.1f ms  T(%d) %8.1f ms", repeat + 1, name, 1e3 * t1, n_iter, 1e3 * tn
            )
    return records


def measure(
    methods: dict[str, Method], x: np.ndarray, init: np.ndarray, iters: int, repeats: int
) -> dict[str, dict[str, Any]]:
    """Time the fast methods, then the slow ones (whose gigabytes of temporaries would disturb the others)."""
    fast = {name: m for name, m in methods.items() if not m.slow}
    slow = {name: m for name, m in methods.items() if m.slow}
    records = _round_robin(fast, x, init, iters, repeats)
    if slow:
        slow_iters = min(iters, FLAGS.slow_iters)
        records.update(_round_robin(slow, x, init, slow_iters, min(repeats, FLAGS.slow_repeats)))
        if slow_iters != iters and FLAGS.verify_slow:
            for name, method in slow.items():
                logging.info("%s: one untimed %d-iteration run for the final inertia", name, iters)
                records[name]["final"] = _checked(name, method.run(x, init, iters), iters)
    return {name: records[name] for name in methods}


def summarize_record(record: dict[str, Any], x64: np.ndarray, iters: int) -> dict[str, Any]:
    """Per-iteration figures (ms) from the raw fit times, and the final inertia."""
    n = record["timed_iters"]
    t1, tn = summarize(record["t1_s"]), summarize(record["tn_s"])
    # Slopes between medians (and between minima), not medians of per-repeat slopes: one
    # stalled 1-iteration fit would otherwise make that repeat's slope meaningless.
    slope = {"median": (tn.median - t1.median) / (n - 1), "min": (tn.min - t1.min) / (n - 1)}
    final: Fit = record["final"]
    summary = {
        "timed_iters": n,
        "repeats": tn.n,
        "slope_ms": {stat: 1e3 * value for stat, value in slope.items()},
        "fit_per_iter_ms": {"median": 1e3 * tn.median / n, "min": 1e3 * tn.min / n},
        "overhead_ms": {"median": 1e3 * (t1.median - slope["median"]), "min": 1e3 * (t1.min - slope["min"])},
        "t1_ms": {key: 1e3 * value for key, value in t1._asdict().items() if key != "n"},
        "tn_ms": {key: 1e3 * value for key, value in tn._asdict().items() if key != "n"},
        "warmup_s": record["warmup_s"],
        "raw_t1_s": record["t1_s"],
        "raw_tn_s": record["tn_s"],
        "final_iters": final.n_iter,
        "inertia": exact_inertia(x64, final.centers) if final.n_iter == iters else None,
    }
    return summary


def single_passes(x: np.ndarray, init: np.ndarray, repeats: int) -> dict[str, dict[str, float]]:
    """Single passes over the data, each timed alone like the methods.

    The floor (one read of X; one X·Cᵀ product), one tfkmeans Lloyd pass, and
    the passes ``tfkmeans.KMeans.fit`` makes besides its Lloyd iterations, which
    make up most of its fixed per-fit overhead.
    """
    import tensorflow as tf

    from tfkmeans import ops
    from tfkmeans.ops._chunking import default_chunk_size
    from tfkmeans.ops._distances import data_squared_norms
    from tfkmeans.ops._lloyd import in_memory_pass

    chunk = default_chunk_size(len(init), x.shape[1], "matmul")
    xt, ct = tf.constant(x), tf.constant(init)
    weights = tf.ones([x.shape[0]], xt.dtype)
    norms = tf.function(data_squared_norms)
    x_norms = norms(xt)
    lloyd_pass = tf.function(lambda x, w, c, n: in_memory_pass(x, w, c, "matmul", chunk, n).sums)
    finish = tf.function(lambda x, c, w, n: ops.labels_and_inertia(x, c, w, "matmul", chunk, n))
    labels, _ = finish(xt, ct, weights, x_norms)
    exact_inertia = tf.function(lambda x, c, l, w: ops.inertia(x, c, l, w, chunk))
    passes = {
        "floor: numpy X.sum() (1 thread, one read of X)": lambda: x.sum(),
        "floor: tf.matmul(X, C, transpose_b=True) (one GEMM pass)": (
            lambda: tf.matmul(xt, ct, transpose_b=True).numpy()
        ),
        "tfkmeans Lloyd iteration body: ops.in_memory_pass": (
            lambda: lloyd_pass(xt, weights, ct, x_norms).numpy()
        ),
        "fit overhead: numpy → tensor copy of X": lambda: tf.convert_to_tensor(x),
        "fit overhead: finiteness check of X (is its sum finite?)": lambda: bool(tf.math.is_finite(tf.reduce_sum(xt))),
        "fit overhead: squared norms of X (ops.data_squared_norms)": lambda: norms(xt).numpy(),
        "fit overhead: final labels and exact inertia ('lloyd': ops.labels_and_inertia)": (
            lambda: finish(xt, ct, weights, x_norms)[1].numpy()
        ),
        "fit overhead: final exact inertia ('auto', 'elkan': ops.inertia, labels from the bounds)": (
            lambda: exact_inertia(xt, ct, labels, weights).numpy()
        ),
    }
    out = {}
    for name, fn in passes.items():
        fn()
        out[name] = summarize([1e3 * timed(fn)[0] for _ in range(max(repeats, 5))])._asdict()
    return out


def _fmt_ms(value: float) -> str:
    return f"{value:,.1f}" if value < 1000 else f"{value:,.0f}"


def markdown_table(results: dict[str, Any]) -> str:
    methods, reference = results["methods"], results["reference_method"]
    ref = methods[reference]
    iters = results["config"]["iters"]

    def ratio(m: dict[str, Any], figure: str, stat: str) -> str:
        return f"{m[figure][stat] / ref[figure][stat]:.2f}"

    lines = [
        f"| method | timed iters × repeats | ms/iter, slope of medians | × {reference} "
        f"| ms/iter, slope of minima | × {reference} | ms/iter, whole fit (median) | × {reference} "
        f"| fixed overhead, ms (medians / minima) | inertia after {iters} iters | rel. diff. vs {reference} |",
        "|" + "---|" * 11,
    ]
    for name, m in methods.items():
        if m["inertia"] is None:
            inertia = rel = "–"
        else:
            inertia = f"{m['inertia']:,.1f}"
            rel = f"{(m['inertia'] - ref['inertia']) / ref['inertia']:+.1e}" if ref["inertia"] else "–"
        lines.append(
            f"| {name} | {m['timed_iters']} × {m['repeats']} "
            f"| {_fmt_ms(m['slope_ms']['median'])} | {ratio(m, 'slope_ms', 'median')} "
            f"| {_fmt_ms(m['slope_ms']['min'])} | {ratio(m, 'slope_ms', 'min')} "
            f"| {_fmt_ms(m['fit_per_iter_ms']['median'])} | {ratio(m, 'fit_per_iter_ms', 'median')} "
            f"| {_fmt_ms(m['overhead_ms']['median'])} / {_fmt_ms(m['overhead_ms']['min'])} | {inertia} | {rel} |"
        )
    lines.append("")
    lines.append("| single pass over X | ms (median) | min |")
    lines.append("|---|---|---|")
    for name, s in results["single_passes"].items():
        lines.append(f"| {name} | {s['median']:.1f} | {s['min']:.1f} |")
    return "\n".join(lines)


def main(argv: Sequence[str]) -> None:
    del argv
    if FLAGS.iters < 2 or FLAGS.slow_iters < 2:
        raise app.UsageError("--iters and --slow_iters must be at least 2 (the slope needs two points).")
    unknown = [m for m in FLAGS.methods if m not in METHODS]
    if unknown:
        raise app.UsageError(f"unknown --methods {unknown}; choose from {sorted(METHODS)}")
    methods = {name: METHODS[name] for name in FLAGS.methods}
    if FLAGS.repeats < 3:
        logging.warning("--repeats=%d: medians of fewer than 3 repeats are not robust to stalls.", FLAGS.repeats)
    warnings.simplefilter("ignore")  # convergence warnings of deliberately short runs

    import tensorflow as tf
    from sklearn.cluster import kmeans_plusplus

    from tfkmeans.datasets import load_mnist

    x, _ = load_mnist("train", data_dir=FLAGS.data_dir)
    x = np.ascontiguousarray(x, dtype=np.float32)
    init, _ = kmeans_plusplus(x, FLAGS.k, random_state=FLAGS.seed)
    init = np.ascontiguousarray(init, dtype=np.float32)
    logging.info("MNIST train %s %s (%.0f MB), k=%d", x.shape, x.dtype, x.nbytes / 1e6, FLAGS.k)

    started = datetime.datetime.now(datetime.timezone.utc)
    machine = machine_info(["tensorflow", "numpy", "sklearn", "faiss", "tfkmeans"])
    machine["tfkmeans_source"] = source_revision("tfkmeans")
    machine["tf_intra_op_threads"] = tf.config.threading.get_intra_op_parallelism_threads() or "default (all cores)"
    records = measure(methods, x, init, FLAGS.iters, FLAGS.repeats)
    x64 = x.astype(np.float64)
    results = {
        "benchmark": "Lloyd iteration, MNIST train",
        "command": " ".join(["python -m benchmarks.lloyd", *sys.argv[1:]]),
        "started_utc": started.isoformat(timespec="seconds"),
        "config": {
            "k": FLAGS.k, "iters": FLAGS.iters, "repeats": FLAGS.repeats, "seed": FLAGS.seed,
            "slow_iters": FLAGS.slow_iters, "slow_repeats": FLAGS.slow_repeats,
            "n_samples": x.shape[0], "n_features": x.shape[1], "data_mb": x.nbytes / 1e6,
        },
        "machine": machine,
        "reference_method": next((m for m in ("sklearn", "tfkmeans") if m in methods), FLAGS.methods[0]),
        "descriptions": {name: m.description for name, m in methods.items()},
        "methods": {name: summarize_record(r, x64, FLAGS.iters) for name, r in records.items()},
        "single_passes": single_passes(x, init, FLAGS.repeats),
    }
    results["load_average_at_end"] = machine_info()["load_average_1_5_15min"]

    inertias = [m["inertia"] for m in results["methods"].values() if m["inertia"] is not None]
    if inertias and (max(inertias) - min(inertias)) > 1e-4 * min(inertias):
        logging.warning("final inertias differ by more than 1e-4 relative: %s", inertias)
    if FLAGS.output:
        Path(FLAGS.output).parent.mkdir(parents=True, exist_ok=True)
        Path(FLAGS.output).write_text(json.dumps(results, indent=2) + "\n")
        logging.info("wrote %s", FLAGS.output)
    table = markdown_table(results)
    if FLAGS.markdown:
        print(table)
    else:
        for name, m in results["methods"].items():
            print(
                f"{name:16s} slope {m['slope_ms']['median']:9.1f} ms/iter (min {m['slope_ms']['min']:.1f})  "
                f"whole fit {m['fit_per_iter_ms']['median']:9.1f} ms/iter  "
                f"overhead {m['overhead_ms']['median']:8.1f} ms  "
                f"inertia {m['inertia']}"
            )
        for name, s in results["single_passes"].items():
            print(f"{name:60s} {s['median']:7.1f} ms (min {s['min']:.1f})")


if __name__ == "__main__":
    app.run(main)
