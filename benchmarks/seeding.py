"""k-means++ seeding on MNIST train: ``tfkmeans.kmeans_plusplus`` against scikit-learn's ``kmeans_plusplus``.

Both run greedy k-means++ with ``2 + ln k`` local trials per centre, one pass
over the data per centre, so for large k seeding costs as much as many Lloyd
iterations. Each k in ``--ks`` is timed round-robin over ``--repeats`` seeds
(the same ``random_state`` for both, though their random streams differ), after
an untimed warm-up at that k (tfkmeans traces its graph there, once per k and
data shape). The potential of the chosen centres (float64 inertia) shows both
pick equally good centres. ``sklearn_1thread`` is scikit-learn pinned to one
OpenMP thread: its default threads spin at barriers when another process
holds a core.

Usage::

    python -m benchmarks.seeding --targets=seeding_k1000
    python -m benchmarks.seeding --ks=1000 --repeats=3 --bench_file=
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from absl import flags, logging

from benchmarks import _harness as harness
from benchmarks._peers import exact_inertia

FLAGS = harness.new_flags("seeding", repeats=3)
flags.DEFINE_list("ks", ["10", "100", "1000"], "Numbers of centres to seed.", flag_values=FLAGS)
flags.DEFINE_list("methods", ["tfkmeans", "sklearn", "sklearn_1thread"], "Methods to time.", flag_values=FLAGS)

# seed(x, k, random_state) -> centres
SeedFn = Callable[[np.ndarray, int, int], np.ndarray]


def _tfkmeans(x: np.ndarray, k: int, seed: int) -> np.ndarray:
    from tfkmeans import kmeans_plusplus

    return kmeans_plusplus(x, k, random_state=seed)[0]


def _sklearn(x: np.ndarray, k: int, seed: int, threads: int | None = None) -> np.ndarray:
    from sklearn.cluster import kmeans_plusplus
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=threads):
        return kmeans_plusplus(x, k, random_state=seed)[0]


METHODS: dict[str, SeedFn] = {
    "tfkmeans": _tfkmeans,
    "sklearn": _sklearn,
    "sklearn_1thread": lambda x, k, seed: _sklearn(x, k, seed, threads=1),
}


def measure(methods: dict[str, SeedFn], x: np.ndarray, ks: list[int], repeats: int) -> dict[int, Any]:
    records: dict[int, Any] = {}
    for k in ks:
        for seed_fn in methods.values():
            seed_fn(x, k, repeats)  # warm-up: thread pools, and tfkmeans's graph for this k
        raw = {name: {"seconds": [], "potential": []} for name in methods}
        for repeat in range(repeats):
            for name, seed_fn in methods.items():
                seconds, centers = harness.timed(seed_fn, x, k, repeat)
                raw[name]["seconds"].append(seconds)
                raw[name]["potential"].append(exact_inertia(x, centers))
                logging.info("k=%d repeat %d %s: %.2f s", k, repeat, name, seconds)
        records[k] = {
            name: {"seconds": harness.summarize(r["seconds"]), "potential": harness.summarize(r["potential"])}
            for name, r in raw.items()
        }
    return records


def reference_method(names: Sequence[str]) -> str | None:
    return next((m for m in ("sklearn_1thread", "sklearn") if m in names), None)


def results_table(records: dict[int, Any], reference: str | None) -> str:
    """One row per k: each method's seconds (median / minimum, and × the reference) and median potential."""
    names = list(next(iter(records.values())))
    rows = []
    for k, by_method in records.items():
        ref = by_method.get(reference)
        cells = []
        for m in by_method.values():
            times = f"{m['seconds'].median:.2f} / {m['seconds'].min:.2f}"
            cells.append(f"{times} ({harness.ratio(m['seconds'].median, ref['seconds'].median)}×)" if ref else times)
        rows.append([f"{k:,}", *cells, *(f"{m['potential'].median:,.0f}" for m in by_method.values())])
    header = [f"{name}, s median / min (× {reference})" for name in names]
    header += [f"{name} potential" for name in names]
    return harness.markdown_table(["k", *header], rows)


def main(values: flags.FlagValues, argv: list[str]) -> None:
    harness.check_methods(values.methods, METHODS)
    ks = sorted({min(int(k), 20) if values.quick else int(k) for k in values.ks})
    reference = reference_method(values.methods)
    for target in values.targets:
        if target != "seeding_k1000":
            raise harness.UsageError(f"benchmarks.seeding reports none of the target {target!r}")
        if "tfkmeans" not in values.methods or reference is None:
            raise harness.UsageError("target 'seeding_k1000' needs tfkmeans and sklearn or sklearn_1thread")
    machine = harness.machine_info()
    x = harness.load_train(values)
    repeats = harness.repeats(values)
    records = measure({name: METHODS[name] for name in values.methods}, x, ks, repeats)
    rows = []
    if values.targets:
        largest = records[max(ks)]
        ours, ref = largest["tfkmeans"]["seconds"].median, largest[reference]["seconds"].median
        figure = f"k={max(ks):,}: tfkmeans {ours:.2f} s, {reference} {ref:.2f} s (medians)"
        rows.append(harness.TargetRow("seeding_k1000", figure, f"{ours / ref:.2f}× {reference}", ours <= ref))
    method = (
        f"{x.shape[0]:,} × {x.shape[1]} float32; greedy k-means++ (`2 + ln k` trials per centre) by both, "
        f"{repeats} repeats round-robin (repeat r: `random_state=r`) after a warm-up per k; potential = float64 "
        "inertia of the seeds."
    )
    harness.publish(
        values,
        "benchmarks.seeding",
        argv,
        machine,
        method,
        results_table(records, reference),
        rows,
        {str(k): v for k, v in records.items()},
    )


def cli(argv: Sequence[str] | None = None) -> None:
    """Run with ``argv`` (default: the command line)."""
    harness.run(main, FLAGS, argv)


if __name__ == "__main__":
    cli()
