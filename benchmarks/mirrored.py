"""Milliseconds per Lloyd iteration under ``tf.distribute.MirroredStrategy`` on CPU, against no strategy.

The CPU is split into ``--replicas`` logical devices (before TensorFlow starts),
and ``KMeans(k, init=X[:k], max_iter=n, tol=0, algorithm='lloyd')`` is fitted on
MNIST train inside the strategy's scope and, in the same process, without
one. Per iteration: the slope ``(T(n) - T(1)) / (n - 1)`` of whole fits, median
over ``--repeats`` pairs, each method after one untimed warm-up pair (which
traces its graphs). Both fits must run all ``n`` iterations and reach the
same labels.

Usage::

    python -m benchmarks.mirrored --markdown
    python -m benchmarks.mirrored --iters=21 --repeats=5 --output=runs/bench/mirrored.json
"""

from __future__ import annotations

import datetime
from collections.abc import Sequence
from typing import Any

import numpy as np
from absl import app, flags

from benchmarks._timing import machine_info, source_revision, summarize, timed, write_results

FLAGS = flags.FLAGS
flags.DEFINE_integer("k", 10, "Number of clusters.")
flags.DEFINE_integer("iters", 21, "Lloyd iterations of the long timed fit (at least 2).")
flags.DEFINE_integer("repeats", 5, "Timed (1-iteration, n-iteration) pairs per setting.")
flags.DEFINE_integer("replicas", 2, "Logical CPU devices, one replica each.")
flags.DEFINE_string("data_dir", None, "MNIST directory; default: $TFKMEANS_DATA_DIR or tensorflow-datasets.")
flags.DEFINE_string("output", None, "Write the measurements and the machine record to this JSON file.")
flags.DEFINE_bool("markdown", False, "Print the results as a markdown table.")


def measure(x: np.ndarray, init: np.ndarray, strategy: Any, n_iter: int, repeats: int) -> dict[str, Any]:
    """Slope per iteration with the strategy's scope entered (``strategy``) or not (None)."""
    from tfkmeans import KMeans

    def fit(max_iter: int) -> KMeans:
        km = KMeans(len(init), init=init, max_iter=max_iter, tol=0, algorithm="lloyd")
        if strategy is None:
            return km.fit(x)
        with strategy.scope():
            return km.fit(x)

    fit(1), fit(n_iter)  # traces the graphs
    firsts, longs, slopes = [], [], []
    for _ in range(repeats):
        first, _ = timed(fit, 1)
        long, km = timed(fit, n_iter)
        if km.n_iter_ != n_iter:
            raise RuntimeError(f"the fit ran {km.n_iter_} iterations instead of {n_iter}")
        firsts.append(first), longs.append(long), slopes.append((long - first) / (n_iter - 1))
    return {
        "slope_ms": {"median": 1e3 * summarize(slopes).median, "min": 1e3 * min(slopes), "max": 1e3 * max(slopes)},
        "fit_1_ms": 1e3 * summarize(firsts).median,
        "fit_n_ms": 1e3 * summarize(longs).median,
        "labels": km.labels_,
        "inertia": km.inertia_,
    }


def markdown_table(results: dict[str, Any]) -> str:
    rows = [
        "| setting | ms/iter, median slope (min–max) | whole fit of n iterations, ms (median) | × no strategy | inertia |",
        "|---|---|---|---|---|",
    ]
    reference = results["settings"]["no strategy"]["slope_ms"]["median"]
    for name, m in results["settings"].items():
        slope = m["slope_ms"]
        rows.append(
            f"| {name} | {slope['median']:.1f} ({slope['min']:.1f}–{slope['max']:.1f}) | {m['fit_n_ms']:.0f} "
            f"| {slope['median'] / reference:.1f} | {m['inertia']:,.1f} |"
        )
    return "\n".join(rows)


def main(argv: Sequence[str]) -> None:
    del argv
    if FLAGS.iters < 2:
        raise app.UsageError("--iters must be at least 2 (the slope needs two points).")
    import tensorflow as tf

    # Logical devices must be configured before anything initialises the runtime.
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * FLAGS.replicas)
    from tfkmeans.datasets import load_mnist

    x, _ = load_mnist("train", data_dir=FLAGS.data_dir)
    init = x[: FLAGS.k].copy()
    strategy = tf.distribute.MirroredStrategy([device.name for device in tf.config.list_logical_devices("CPU")])
    started = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
    settings = {
        f"MirroredStrategy, {FLAGS.replicas} CPU replicas": measure(x, init, strategy, FLAGS.iters, FLAGS.repeats),
        "no strategy": measure(x, init, None, FLAGS.iters, FLAGS.repeats),
    }
    labels = [m.pop("labels") for m in settings.values()]
    if not np.array_equal(labels[0], labels[1]):
        raise RuntimeError("the fits under the strategy and without one ended with different labels")
    results = {
        "started": started,
        "config": {"k": FLAGS.k, "iters": FLAGS.iters, "repeats": FLAGS.repeats, "replicas": FLAGS.replicas},
        "machine": {**machine_info(["tensorflow", "numpy", "tfkmeans"]), "tfkmeans_source": source_revision("tfkmeans")},
        "settings": settings,
    }
    write_results(results, FLAGS.output, markdown_table(results) if FLAGS.markdown else None)


if __name__ == "__main__":
    app.run(main)
