"""Milliseconds per Lloyd iteration under ``tf.distribute.MirroredStrategy`` on CPU, against no strategy.

The CPU is split into ``--replicas`` logical devices (before TensorFlow's
runtime starts; in a process where it has already started, the devices it
has are used and the table says how many), and ``KMeans(k, init=X[:k],
max_iter=n, tol=0, algorithm='lloyd')`` is fitted on MNIST train inside the
strategy's scope and, in the same process, without one. Per iteration: the
slope ``(T(n) - T(1)) / (n - 1)`` between medians of whole fits over
``--repeats`` pairs, after one untimed warm-up pair (which traces the graphs).
Both fits must run all n iterations and reach the same labels.

Usage::

    python -m benchmarks.mirrored
    python -m benchmarks.mirrored --iters=21 --repeats=5 --bench_file=
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from absl import flags, logging

from benchmarks import _harness as harness

FLAGS = harness.new_flags("mirrored", repeats=5)
flags.DEFINE_integer("k", 10, "Number of clusters.", flag_values=FLAGS)
flags.DEFINE_integer("iters", 21, "Lloyd iterations of the long timed fit (at least 2).", flag_values=FLAGS)
flags.DEFINE_integer("replicas", 2, "Logical CPU devices, one replica each.", flag_values=FLAGS)


def logical_cpus(replicas: int) -> list[str]:
    """Names of ``replicas`` logical CPU devices, or of those the already started runtime has."""
    import tensorflow as tf

    cpu = tf.config.list_physical_devices("CPU")[0]
    try:
        tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * replicas)
    except RuntimeError:
        logging.warning(
            "TensorFlow's runtime had started: using its %d logical CPU devices",
            len(tf.config.list_logical_devices("CPU")),
        )
    return [device.name for device in tf.config.list_logical_devices("CPU")]


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
    firsts, longs = [], []
    for _ in range(repeats):
        first, _ = harness.timed(fit, 1)
        long, km = harness.timed(fit, n_iter)
        if km.n_iter_ != n_iter:
            raise RuntimeError(f"the fit ran {km.n_iter_} iterations instead of {n_iter}")
        firsts.append(first), longs.append(long)
    return {
        "slope_s": harness.slope_per_iteration(firsts, longs, n_iter),
        "fit_n_s": harness.summarize(longs).median,
        "labels": km.labels_,
        "inertia": km.inertia_,
    }


def results_table(settings: dict[str, Any], n_iter: int) -> str:
    reference = settings["no strategy"]["slope_s"]["median"]
    rows = [
        [
            name,
            f"{harness.ms(m['slope_s']['median'])} / {harness.ms(m['slope_s']['min'])}",
            harness.ms(m["fit_n_s"]),
            harness.ratio(m["slope_s"]["median"], reference),
            f"{m['inertia']:,.1f}",
        ]
        for name, m in settings.items()
    ]
    return harness.markdown_table(
        [
            "setting",
            "ms/iter, slope (medians / minima)",
            f"whole {n_iter}-iteration fit, ms (median)",
            "× no strategy",
            "inertia",
        ],
        rows,
    )


def main(values: flags.FlagValues, argv: list[str]) -> None:
    iters = min(values.iters, 3) if values.quick else values.iters
    if iters < 2:
        raise harness.UsageError("--iters must be at least 2 (the slope needs two points).")
    if values.targets:
        raise harness.UsageError("benchmarks.mirrored reports no target")
    devices = logical_cpus(values.replicas)
    import tensorflow as tf

    machine = harness.machine_info()
    x = harness.load_train(values)
    init = x[: values.k].copy()
    repeats = harness.repeats(values)
    strategy = tf.distribute.MirroredStrategy(devices)
    settings = {
        f"MirroredStrategy, {len(devices)} CPU replicas": measure(x, init, strategy, iters, repeats),
        "no strategy": measure(x, init, None, iters, repeats),
    }
    labels = [m.pop("labels") for m in settings.values()]
    if not np.array_equal(labels[0], labels[1]):
        raise RuntimeError("the fits under the strategy and without one ended with different labels")
    method = (
        f"{x.shape[0]:,} × {x.shape[1]} float32, `KMeans({values.k}, init=X[:{values.k}], tol=0, "
        f"algorithm='lloyd')` under `MirroredStrategy` over {len(devices)} logical CPU devices and without a "
        f"strategy, in one process; slope between the medians of fits of 1 and {iters} iterations, {repeats} "
        "pairs after a warm-up; labels checked equal."
    )
    harness.publish(values, "benchmarks.mirrored", argv, machine, method, results_table(settings, iters), (), settings)


def cli(argv: Sequence[str] | None = None) -> None:
    """Run with ``argv`` (default: the command line)."""
    harness.run(main, FLAGS, argv)


if __name__ == "__main__":
    cli()
