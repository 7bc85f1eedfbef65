"""Whole fits with restarts on MNIST train: ``KMeans(k, n_init=10).fit(X)`` against scikit-learn and FAISS.

Each library is called the way a user would, with its defaults (k-means++
seeding, ``tol=1e-4`` where it has one), and timed end to end. Restarts are
independent; tfkmeans's default (``algorithm='auto'``) seeds them together
(k-means++ in shared passes) and iterates them one by one with Elkan's
bounds. ``tfkmeans_lloyd`` forces ``algorithm='lloyd'``, which also iterates
them together, so each pass over the data serves every run.
``tfkmeans_one_by_one`` fits the same runs as ``n_init`` separate
``KMeans(n_init=1)`` fits replaying the same seeds (each seeded alone).
``tfkmeans_elkan`` and ``sklearn_elkan`` use each library's
``algorithm='elkan'``. With ``--n_init=1`` the table
compares single fits to convergence.

Methods are timed round-robin, ``--repeats`` times, each repeat with a new
``random_state`` shared by all of them; every method also gets one untimed
warm-up fit first (tfkmeans traces its graphs there). The final inertia of
each fit is recomputed the same way for all (float64, exact differences), so
the table compares the quality reached as well as the time.

Usage::

    python -m benchmarks.restarts --markdown
    python -m benchmarks.restarts --k=10 --n_init=10 --repeats=3 --output=runs/bench/restarts.json
"""

from __future__ import annotations

import datetime
import functools
from collections.abc import Sequence
from typing import Any, Callable

import numpy as np
from absl import app, flags, logging

from benchmarks._timing import check_methods, machine_info, source_revision, summarize_series, timed, write_results

FLAGS = flags.FLAGS
flags.DEFINE_integer("k", 10, "Number of clusters.")
flags.DEFINE_integer("n_init", 10, "Restarts per fit.")
flags.DEFINE_integer("repeats", 3, "Timed fits per method (round-robin, one random_state per repeat).")
flags.DEFINE_list("methods", ["tfkmeans", "tfkmeans_one_by_one", "sklearn", "faiss"], "Methods to time.")
flags.DEFINE_string("data_dir", None, "MNIST directory; default: $TFKMEANS_DATA_DIR or tensorflow-datasets.")
flags.DEFINE_string("output", None, "Write all measurements and the machine record to this JSON file.")
flags.DEFINE_bool("markdown", False, "Print the results as a markdown table.")

# fit(x, k, n_init, seed) -> centres
FitFn = Callable[[np.ndarray, int, int, int], np.ndarray]


def _tfkmeans(x: np.ndarray, k: int, n_init: int, seed: int, algorithm: str = "auto") -> np.ndarray:
    from tfkmeans import KMeans

    return KMeans(k, n_init=n_init, random_state=seed, algorithm=algorithm).fit(x).cluster_centers_


def _tfkmeans_one_by_one(x: np.ndarray, k: int, n_init: int, seed: int) -> np.ndarray:
    from tfkmeans import KMeans

    rng = np.random.RandomState(seed)  # the seeds KMeans(n_init=n_init, random_state=seed) draws
    fits = [KMeans(k, n_init=1, random_state=rng).fit(x) for _ in range(n_init)]
    return min(fits, key=lambda km: km.inertia_).cluster_centers_


def _sklearn(x: np.ndarray, k: int, n_init: int, seed: int, algorithm: str = "lloyd") -> np.ndarray:
    from sklearn.cluster import KMeans

    return KMeans(k, n_init=n_init, random_state=seed, algorithm=algorithm).fit(x).cluster_centers_


def _faiss(x: np.ndarray, k: int, n_init: int, seed: int) -> np.ndarray:
    import faiss

    # FAISS's defaults: random initial centres, 25 iterations, no tolerance; all points used.
    km = faiss.Kmeans(x.shape[1], k, nredo=n_init, seed=seed, max_points_per_centroid=10**7)
    km.train(x)
    return km.centroids


METHODS: dict[str, FitFn] = {
    "tfkmeans": _tfkmeans,
    "tfkmeans_one_by_one": _tfkmeans_one_by_one,
    "tfkmeans_lloyd": functools.partial(_tfkmeans, algorithm="lloyd"),
    "tfkmeans_elkan": functools.partial(_tfkmeans, algorithm="elkan"),
    "sklearn": _sklearn,
    "sklearn_elkan": functools.partial(_sklearn, algorithm="elkan"),
    "faiss": _faiss,
}


def exact_inertia(x: np.ndarray, centers: np.ndarray) -> float:
    """Inertia of ``x`` under its nearest of ``centers``, in float64 from exact differences."""
    from tfkmeans import metrics

    centers64 = centers.astype(np.float64)
    labels = np.argmin(
        (x.astype(np.float64) ** 2).sum(1)[:, None] - 2 * x @ centers64.T + (centers64**2).sum(1)[None], axis=1
    )
    return metrics.inertia(x.astype(np.float64), labels, centers64)


def measure(methods: dict[str, FitFn], x: np.ndarray, k: int, n_init: int, repeats: int) -> dict[str, Any]:
    for name, fit in methods.items():
        logging.info("warm-up: %s", name)
        fit(x[:5000], k, n_init, 0)
    records: dict[str, dict[str, list]] = {name: {"seconds": [], "inertia": []} for name in methods}
    for repeat in range(repeats):
        for name, fit in methods.items():
            seconds, centers = timed(fit, x, k, n_init, repeat)
            records[name]["seconds"].append(seconds)
            records[name]["inertia"].append(exact_inertia(x, centers))
            logging.info("repeat %d %s: %.2f s, inertia %.1f", repeat, name, seconds, records[name]["inertia"][-1])
    return records


def markdown_table(results: dict[str, Any]) -> str:
    methods, reference = results["methods"], results["reference_method"]
    ref = methods[reference]
    lines = [
        f"| method | seconds per fit, median | min | × {reference} (medians) | × {reference} (minima) | best inertia | median inertia |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, m in methods.items():
        lines.append(
            f"| {name} | {m['seconds'].median:.2f} | {m['seconds'].min:.2f} | {m['seconds'].median / ref['seconds'].median:.2f} "
            f"| {m['seconds'].min / ref['seconds'].min:.2f} | {min(m['inertia_all']):,.1f} | {m['inertia'].median:,.1f} |"
        )
    return "\n".join(lines)


def main(argv: Sequence[str]) -> None:
    del argv
    check_methods(FLAGS.methods, METHODS)
    from tfkmeans.datasets import load_mnist

    x, _ = load_mnist("train", data_dir=FLAGS.data_dir)
    started = datetime.datetime.now(datetime.timezone.utc)
    records = measure({name: METHODS[name] for name in FLAGS.methods}, x, FLAGS.k, FLAGS.n_init, FLAGS.repeats)
    results = {
        "started_utc": started.isoformat(timespec="seconds"),
        "config": {"k": FLAGS.k, "n_init": FLAGS.n_init, "repeats": FLAGS.repeats},
        "reference_method": "sklearn" if "sklearn" in records else FLAGS.methods[0],
        "methods": {name: summarize_series(r) for name, r in records.items()},
        "machine": machine_info(["tensorflow", "numpy", "sklearn", "faiss"]),
        "tfkmeans": source_revision("tfkmeans"),
    }
    write_results(results, FLAGS.output, markdown_table(results) if FLAGS.markdown else None)


if __name__ == "__main__":
    app.run(main)
