"""k-means++ seeding on MNIST train: ``tfkmeans.kmeans_plusplus`` against scikit-learn's ``kmeans_plusplus``.

Both run greedy k-means++ with ``2 + ln k`` local trials per centre, one pass
over the data per centre, so for large k seeding costs as much as many Lloyd
iterations. Each k in ``--ks`` is timed round-robin over ``--repeats`` seeds
(the same ``random_state`` for both, though their random streams differ), after
an untimed warm-up at that k (tfkmeans traces its graph there, about a second
once per k and data shape). The potential of the
chosen centres (sum of squared distances to the nearest, float64) shows both
pick equally good centres. ``sklearn_1thread`` is scikit-learn pinned to one
OpenMP thread: on a busy machine its default threads can crawl.

Usage::

    python -m benchmarks.seeding --markdown
    python -m benchmarks.seeding --ks=1000 --repeats=3 --output=runs/bench/seeding.json
"""

from __future__ import annotations

import datetime
from collections.abc import Sequence
from typing import Any, Callable

import numpy as np
from absl import app, flags, logging

from benchmarks._timing import check_methods, machine_info, source_revision, summarize_series, timed, write_results

FLAGS = flags.FLAGS
flags.DEFINE_list("ks", ["10", "100", "1000"], "Numbers of centres to seed.")
flags.DEFINE_integer("repeats", 3, "Timed seedings per method and k (round-robin).")
flags.DEFINE_list("methods", ["tfkmeans", "sklearn", "sklearn_1thread"], "Methods to time.")
flags.DEFINE_string("data_dir", None, "MNIST directory; default: $TFKMEANS_DATA_DIR or tensorflow-datasets.")
flags.DEFINE_string("output", None, "Write all measurements and the machine record to this JSON file.")
flags.DEFINE_bool("markdown", False, "Print the results as a markdown table.")

# seed(x, k, random_state) -> centres
SeedFn = Callable[[np.ndarray, int, int], np.ndarray]


def _tfkmeans(x: np.ndarray, k: int, seed: int) -> np.ndarray:
    from tfkmeans import kmeans_plusplus

    return kmeans_plusplus(x, k, random_state=seed)[0]


def _sklearn(x: np.ndarray, k: int, seed: int) -> np.ndarray:
    from sklearn.cluster import kmeans_plusplus

    return kmeans_plusplus(x, k, random_state=seed)[0]


def _sklearn_1thread(x: np.ndarray, k: int, seed: int) -> np.ndarray:
    from threadpoolctl import threadpool_limits

    with threadpool_limits(1):
        return _sklearn(x, k, seed)


METHODS: dict[str, SeedFn] = {"tfkmeans": _tfkmeans, "sklearn": _sklearn, "sklearn_1thread": _sklearn_1thread}


def potential(x: np.ndarray, centers: np.ndarray, chunk: int = 10_000) -> float:
    """Sum over ``x`` of the squared distance to the nearest centre, float64, in row chunks."""
    from scipy.spatial.distance import cdist

    centers64 = centers.astype(np.float64)
    return float(sum(
        cdist(x[i : i + chunk].astype(np.float64), centers64, "sqeuclidean").min(axis=1).sum()
        for i in range(0, len(x), chunk)
    ))


def measure(methods: dict[str, SeedFn], x: np.ndarray, ks: list[int], repeats: int) -> dict[str, Any]:
    records: dict[str, Any] = {}
    for k in ks:
        for name, seed_fn in methods.items():
            # Warm-up: imports, thread pools, and tfkmeans's graph for this k (k is static in it).
            seed_fn(x, k, repeats)
        records[str(k)] = {name: {"seconds": [], "potential": []} for name in methods}
        for repeat in range(repeats):
            for name, seed_fn in methods.items():
                seconds, centers = timed(seed_fn, x, k, repeat)
                records[str(k)][name]["seconds"].append(seconds)
                records[str(k)][name]["potential"].append(potential(x, centers))
                logging.info("k=%d repeat %d %s: %.2f s", k, repeat, name, seconds)
    return records


def markdown_table(results: dict[str, Any]) -> str:
    reference = next((m for m in ("sklearn", "sklearn_1thread") if m in FLAGS.methods), None)
    lines = [
        f"| k | method | seconds, median | min | × {reference} (medians) | × {reference} (minima) | potential, median |",
        "|---|---|---|---|---|---|---|",
    ]
    for k, by_method in results["ks"].items():
        ref = by_method.get(reference)
        for name, m in by_method.items():
            ratio = (
                f"{m['seconds'].median / ref['seconds'].median:.2f} | {m['seconds'].min / ref['seconds'].min:.2f}"
                if ref else "– | –"
            )
            lines.append(
                f"| {k} | {name} | {m['seconds'].median:.2f} | {m['seconds'].min:.2f} | {ratio} | {m['potential'].median:,.0f} |"
            )
    return "\n".join(lines)


def main(argv: Sequence[str]) -> None:
    del argv
    check_methods(FLAGS.methods, METHODS)
    from tfkmeans.datasets import load_mnist

    x, _ = load_mnist("train", data_dir=FLAGS.data_dir)
    started = datetime.datetime.now(datetime.timezone.utc)
    ks = [int(k) for k in FLAGS.ks]
    records = measure({name: METHODS[name] for name in FLAGS.methods}, x, ks, FLAGS.repeats)
    results = {
        "started_utc": started.isoformat(timespec="seconds"),
        "config": {"ks": ks, "repeats": FLAGS.repeats},
        "ks": {
            k: {name: summarize_series(r) for name, r in by_method.items()}
            for k, by_method in records.items()
        },
        "machine": machine_info(["tensorflow", "numpy", "sklearn"]),
        "tfkmeans": source_revision("tfkmeans"),
    }
    write_results(results, FLAGS.output, markdown_table(results) if FLAGS.markdown else None)


if __name__ == "__main__":
    app.run(main)
