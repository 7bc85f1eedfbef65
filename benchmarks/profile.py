"""Where a fit's time goes: one fit per performance target under TensorFlow's profiler, its op time by op type.

Each case is the fit a target of the summary table times (the same data, k,
initial centres or seeding, iterations and tolerance; the streamed pass's over
one of :mod:`benchmarks.out_of_core`'s shards, whose 600,000 rows would make the
profiler's record outgrow memory), run three times in one
process: a first fit that traces the graphs, a second timed without the
profiler, and a third under ``tf.profiler``. The third's trace is turned into
TensorFlow's per-op table (the ``framework_op_stats`` tool behind TensorBoard's
profile plugin) and its self time summed by op type.

TensorFlow runs one op at a time here (``inter_op_parallelism_threads=1``;
each op still uses every core): concurrent ops slow each other down, so their
self times would not add up to the wall time they take together. The profiler
adds a few microseconds to every op, which a loop of many small ops feels
(the profiled wall time beside the plain one shows how much); an op's own time
is what it measures best, so the table gives each op type's share of the op
time, and the seconds.

Usage::

    python -m benchmarks.profile
    python -m benchmarks.profile --cases=k1000_50 --top=6 --bench_file=
"""

from __future__ import annotations

import collections
import json
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
from absl import flags, logging

from benchmarks import _harness as harness
from benchmarks import out_of_core
from benchmarks._peers import fit_tfkmeans

FLAGS = harness.new_flags("profile", repeats=1)
flags.DEFINE_list(
    "cases",
    "k1000_50,k100_convergence,large_per_iter,restarts,fixed_cost,k10_per_iter,streamed_pass",
    "Targets whose fits are profiled (names of the summary table's targets).",
    flag_values=FLAGS,
)
flags.DEFINE_integer(
    "large_iters",
    3,
    "Iterations of the profiled 600,000 x 1,000 fit (its target's run has 30; the profiler keeps every op event).",
    flag_values=FLAGS,
)
flags.DEFINE_integer("top", 4, "Op types shown after MatMul, by time.", flag_values=FLAGS)
flags.DEFINE_string(
    "work_dir", out_of_core.SHARDS_DIR, "Where the streamed case's shard is written.", flag_values=FLAGS
)


class Case(NamedTuple):
    """A target's fit: ``n_samples`` rows, ``k`` clusters, fixed k-means++ centres or the estimator's seeding.

    ``streamed``: the rows are uint8 pixels read by ``tf.data`` from a shard on disk, and the fit starts
    from the out-of-core benchmark's centres (k random rows of the shard).
    """

    n_samples: int
    k: int
    fixed_init: bool
    n_init: int = 1
    max_iter: int = 300
    tol: float = 1e-4
    streamed: bool = False

    def describe(self) -> str:
        if self.streamed:
            start = "from k random rows"
        elif self.fixed_init:
            start = "from fixed k-means++ centres"
        else:
            start = f"n_init={self.n_init}, its own k-means++"
        stop = f"{self.max_iter} iterations" if self.tol == 0 else "to convergence"
        data = " uint8 streamed from a shard by `tf.data`" if self.streamed else ""
        return f"{self.n_samples:,} × 784{data}, k={self.k:,}, {start}, {stop}"


CASES: dict[str, Case] = {
    "k1000_50": Case(60_000, 1000, True, max_iter=50, tol=0.0),
    "k100_convergence": Case(60_000, 100, False),
    "large_per_iter": Case(600_000, 1000, True, tol=0.0),  # max_iter from --large_iters
    "restarts": Case(60_000, 10, False, n_init=10),
    "fixed_cost": Case(60_000, 10, True, max_iter=5, tol=0.0),
    "k10_per_iter": Case(60_000, 10, True, max_iter=30, tol=0.0),
    "streamed_pass": Case(60_000, 10, True, max_iter=10, tol=0.0, streamed=True),
}
#: Op types whose time is the distance computation's matrix product.
GEMM_TYPES = ("MatMul", "BatchMatMulV2", "_MklMatMul", "_FusedMatMul")


def op_seconds_by_type(xplane: Path) -> dict[str, float]:
    """Self time (seconds) of every op type in a profiler trace, the profiler's idle time left out."""
    from tensorflow.python.profiler.internal import _pywrap_profiler_plugin

    data, _ = _pywrap_profiler_plugin.xspace_to_tools_data([str(xplane)], "framework_op_stats", {})
    tables = json.loads(data)
    table = tables[0] if isinstance(tables, list) else tables
    columns = [column["id"] for column in table["cols"]]
    seconds: collections.Counter[str] = collections.Counter()
    for row in table["rows"]:
        cells = dict(zip(columns, (cell.get("v") if cell else None for cell in row["c"])))
        if cells["type"] != "IDLE":
            seconds[cells["type"]] += cells["total_self_time"] / 1e6
    return dict(seconds)


def one_op_at_a_time() -> None:
    """Run TensorFlow's ops one after another, so that their self times add up (see the module's docstring).

    Only possible before TensorFlow starts its runtime; a process that has already run ops (a test) keeps
    its threads, and its ops' times may overlap.
    """
    import tensorflow as tf

    try:
        tf.config.threading.set_inter_op_parallelism_threads(1)
    except RuntimeError:
        logging.warning("TensorFlow is already running: its ops may run concurrently in this profile.")


def profiled(fit: Any) -> tuple[float, Any, dict[str, float]]:
    """Wall seconds of ``fit()`` under the profiler, its result, and its op seconds by type."""
    import tensorflow as tf

    with tempfile.TemporaryDirectory() as logdir:
        tf.profiler.experimental.start(logdir)
        try:
            started = time.perf_counter()
            result = fit()
            wall = time.perf_counter() - started
        finally:
            tf.profiler.experimental.stop()
        (xplane,) = Path(logdir).rglob("*.xplane.pb")
        return wall, result, op_seconds_by_type(xplane)


#: k-means++ centres of MNIST train by (k, seed, quick, data_dir): two cases share them.
_FIXED_CENTRES: dict[tuple[Any, ...], np.ndarray] = {}


def fixed_centres(values: flags.FlagValues, k: int) -> np.ndarray:
    """scikit-learn's k-means++ centres of MNIST train (the 600,000-row set is its shifted copies)."""
    from sklearn.cluster import kmeans_plusplus

    key = (k, values.seed, values.quick, values.data_dir)
    if key not in _FIXED_CENTRES:
        x = harness.load_train(values)
        _FIXED_CENTRES[key] = np.ascontiguousarray(kmeans_plusplus(x, k, random_state=values.seed)[0], np.float32)
    return _FIXED_CENTRES[key]


def streamed_data(case: Case, values: flags.FlagValues) -> tuple[Any, np.ndarray]:
    """The streamed case's ``tf.data`` batches (one shard of ``case.n_samples`` rows) and starting centres."""
    paths = out_of_core.write_shards(Path(values.work_dir), values.data_dir, case.n_samples, 1)
    return out_of_core.shard_dataset(paths, out_of_core.BATCH_SIZE), out_of_core.initial_centres(
        paths, case.k, values.seed
    )


def measure(case: Case, values: flags.FlagValues) -> dict[str, Any]:
    """The case's fit: traced once, timed once, then profiled."""
    if case.streamed:
        x, init = streamed_data(case, values)
        k = case.k
    else:
        x = harness.load_train(values, case.n_samples)
        k = min(case.k, len(x) // 2)
        init = fixed_centres(values, k) if case.fixed_init else None

    def fit() -> Any:
        return fit_tfkmeans(x, k, init, max_iter=case.max_iter, tol=case.tol, n_init=case.n_init, seed=values.seed)

    fit()
    plain, _ = harness.timed(fit)
    wall, result, op_seconds = profiled(fit)
    logging.info("profiled %s: %.2f s (%.2f s without the profiler)", case.describe(), wall, plain)
    return {"case": case._asdict(), "wall_s": wall, "plain_s": plain, "op_s": op_seconds, "fit": result._asdict()}


def row(name: str, case: Case, record: dict[str, Any], top: int) -> list[str]:
    """A table row: the target's fit, its wall times, and its op time by type (seconds, share of the op time)."""
    op_seconds = record["op_s"]
    total = sum(op_seconds.values())
    gemm = sum(seconds for op, seconds in op_seconds.items() if op in GEMM_TYPES)
    others = sorted(((s, op) for op, s in op_seconds.items() if op not in GEMM_TYPES), reverse=True)
    share = record["fit"]["distance_share"]
    return [
        f"`{name}`: {case.describe()}",
        f"{record['plain_s']:.2f} / {record['wall_s']:.2f}",
        f"{total:.2f}",
        f"{gemm:.2f} ({100 * gemm / total:.0f} %)",
        ", ".join(f"{op} {s:.2f} ({100 * s / total:.0f} %)" for s, op in others[:top]),
        "–" if share is None else f"{100 * share:.1f} %",
    ]


def main(values: flags.FlagValues, argv: list[str]) -> None:
    harness.check_methods(values.cases, CASES)
    one_op_at_a_time()
    machine = harness.machine_info()
    cases = {name: CASES[name] for name in values.cases}
    if "large_per_iter" in cases:
        cases["large_per_iter"] = cases["large_per_iter"]._replace(max_iter=values.large_iters)
    if values.quick:
        cases = {name: case._replace(n_samples=harness.QUICK_ROWS) for name, case in cases.items()}
    records = {name: measure(case, values) for name, case in cases.items()}
    table = harness.markdown_table(
        [
            "fit (target)",
            "wall s: plain / profiled",
            "op time, s",
            "MatMul, s (share)",
            "next op types, s (share)",
            "distances computed",
        ],
        [row(name, cases[name], records[name], values.top) for name in cases],
    )
    method = (
        "each target's fit (its data, k, start, iterations and tolerance; `algorithm='auto'`) traced once, timed once "
        "and run once under `tf.profiler`, one op at a time (`inter_op_parallelism_threads=1`, every core per op); "
        "op self time summed by op type (TensorFlow's `framework_op_stats`), in seconds and as a share of all op "
        "time; the distance share is the mean of `distance_shares_` where the estimator records it."
    )
    harness.publish(values, "benchmarks.profile", argv, machine, method, table, (), records)


def cli(argv: Sequence[str] | None = None) -> None:
    """Run with ``argv`` (default: the command line)."""
    harness.run(main, FLAGS, argv)


if __name__ == "__main__":
    cli()
