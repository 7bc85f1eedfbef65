"""Milliseconds per Lloyd iteration on MNIST: tfkmeans's algorithms against scikit-learn, FAISS and the blog.

Every method starts from the same k-means++ centres (``sklearn.cluster.kmeans_plusplus``
with ``--seed``) and runs exactly ``--iters`` iterations (``tol=0``; a run that
reports fewer is an error), so all do the same work and end at the same inertia.

Each method is timed as a user calls it (one whole ``fit``) at 1 and at n
iterations, after one untimed warm-up fit (which also traces tfkmeans's
graph); within a repeat each method's timed pair follows an untimed
1-iteration fit of its own, so memory the other methods left cold is touched
again before the clock starts. Repeats go round-robin across methods, so drift
in the load hits all alike; slow methods (the blog's code) run after the others.

* **slope** ``(T(n) - T(1)) / (n - 1)``: the cost of one more iteration, free of
  the fixed per-fit work, between the medians (and the minima) of the repeats.
* **whole fit / n**: what a user sees for an n-iteration fit.
* **fixed overhead** ``T(1) - slope``: conversion, norms, the final labels pass.
* **distances computed**: for bounded algorithms that record it, the mean share
  of the n × k point-centre distances an iteration computes.

``--algorithms`` lists tfkmeans's algorithms (``auto`` is the default
estimator), ``--peers`` the other methods (:mod:`benchmarks._peers`).
``--n_samples`` above 60,000 uses shifted copies of the images
(:mod:`benchmarks._mnist10x`). Single passes over the data are timed too: the
floors (one read of X, one X·Cᵀ product) and the passes a fit makes besides
its iterations.

Usage::

    python -m benchmarks.lloyd --bench_file=                         # print only
    python -m benchmarks.lloyd --k=1000 --iters=50 --algorithms=auto,lloyd,elkan --peers=sklearn,faiss
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
from absl import flags, logging

from benchmarks import _harness as harness
from benchmarks._peers import Fit, Method, exact_inertia, methods

FLAGS = harness.new_flags("lloyd", repeats=5)
flags.DEFINE_integer("k", 10, "Number of clusters.", flag_values=FLAGS)
flags.DEFINE_integer("iters", 20, "Iterations of the long timed fit (at least 2).", flag_values=FLAGS)
flags.DEFINE_integer(
    "n_samples", 0, "Rows: 0 for MNIST train, above 60,000 a multiple of it (shifted copies).", flag_values=FLAGS
)
flags.DEFINE_list(
    "algorithms", ["auto", "lloyd"], "tfkmeans KMeans algorithms to time ('auto': the default).", flag_values=FLAGS
)
flags.DEFINE_list(
    "peers",
    ["tfkmeans_expand", "sklearn", "sklearn_elkan", "faiss", "faiss_1thread", "blog_float64"],
    "Other methods to time (benchmarks._peers).",
    flag_values=FLAGS,
)
flags.DEFINE_integer(
    "slow_iters", 3, "Iterations of the long timed fit for slow methods (the blog's code).", flag_values=FLAGS
)
flags.DEFINE_integer("slow_repeats", 3, "Timed repeats for slow methods.", flag_values=FLAGS)
flags.DEFINE_bool(
    "single_passes", True, "Also time single passes over the data (floors and fixed costs).", flag_values=FLAGS
)

#: The methods each target compares.
TARGET_METHODS = {
    "k1000_50": ("tfkmeans", "faiss", "sklearn"),
    "large_per_iter": ("tfkmeans", "faiss"),
    "fixed_cost": ("tfkmeans",),
    "k10_per_iter": ("tfkmeans", "sklearn"),
}


#: Targets on the time per iteration: the peer, its name in the summary, and the bound on the ratio.
PER_ITERATION_BOUNDS = {"large_per_iter": ("faiss", "FAISS", 0.3), "k10_per_iter": ("sklearn", "scikit-learn", 0.4)}


def checked(name: str, fit: Fit, expected_iter: int) -> Fit:
    if fit.n_iter != expected_iter:
        raise RuntimeError(
            f"{name} ran {fit.n_iter} iterations instead of {expected_iter} (it converged early), "
            "so its per-iteration time would be wrong; use fewer --iters."
        )
    if not np.all(np.isfinite(fit.centers)):
        raise RuntimeError(f"{name} returned non-finite centres.")
    return fit


def round_robin(
    methods_: dict[str, Method], x: np.ndarray, init: np.ndarray, n_iter: int, repeats: int
) -> dict[str, dict[str, Any]]:
    """Warm up each method, then time its 1- and ``n_iter``-iteration fits, one method after another per repeat."""

    def fit(method: Method, iters: int) -> Fit:
        return method.fit(x, len(init), init, max_iter=iters, tol=0.0)

    records: dict[str, dict[str, Any]] = {}
    for name, method in methods_.items():
        logging.info("warm-up: %s", name)
        checked(name, fit(method, 1), 1)
        records[name] = {"timed_iters": n_iter, "t1_s": [], "tn_s": []}
    for repeat in range(repeats):
        for name, method in methods_.items():
            fit(method, 1)  # untimed: re-touch this method's memory, idle while the others ran
            t1, _ = harness.timed(fit, method, 1)
            tn, done = harness.timed(fit, method, n_iter)
            records[name]["final"] = checked(name, done, n_iter)
            records[name]["t1_s"].append(t1)
            records[name]["tn_s"].append(tn)
            logging.info("repeat %d %-16s T(1) %8.1f ms  T(%d) %8.1f ms", repeat + 1, name, 1e3 * t1, n_iter, 1e3 * tn)
    return records


def summarize_record(record: dict[str, Any], x: np.ndarray) -> dict[str, Any]:
    """Seconds per iteration (slope, whole fit), fixed overhead, the final inertia and share of distances."""
    n = record["timed_iters"]
    t1, tn = harness.summarize(record["t1_s"]), harness.summarize(record["tn_s"])
    slope = harness.slope_per_iteration(record["t1_s"], record["tn_s"], n)
    final: Fit = record["final"]
    return {
        "timed_iters": n,
        "repeats": tn.n,
        "slope_s": slope,
        "fit_s": tn._asdict(),
        "fit_per_iter_s": {"median": tn.median / n, "min": tn.min / n},
        "overhead_s": {"median": t1.median - slope["median"], "min": t1.min - slope["min"]},
        "raw_t1_s": record["t1_s"],
        "raw_tn_s": record["tn_s"],
        "inertia": exact_inertia(x, final.centers),
        "distance_share": final.distance_share,
    }


def single_passes(x: np.ndarray, init: np.ndarray, repeats: int) -> dict[str, harness.Summary]:
    """The floors of a pass (one read of X, one X·Cᵀ product) and the passes a fit makes besides its iterations."""
    import tensorflow as tf

    from tfkmeans import ops

    xt, ct = tf.constant(x), tf.constant(init)
    final_pass = tf.function(lambda x, c: ops.labels_and_inertia(x, c))
    passes = {
        "floor: numpy X.sum() (one read of X)": lambda: x.sum(),
        "floor: tf.matmul(X, C, transpose_b=True) (one GEMM pass)": lambda: tf.matmul(xt, ct, transpose_b=True).numpy(),
        "fixed cost: numpy → tensor copy of X": lambda: tf.convert_to_tensor(x),
        "fixed cost: final labels and exact inertia (ops.labels_and_inertia)": lambda: final_pass(xt, ct)[1].numpy(),
    }
    out = {}
    for name, fn in passes.items():
        fn()
        out[name] = harness.summarize([harness.timed(fn)[0] for _ in range(max(repeats, 3))])
    return out


def results_table(results: dict[str, Any]) -> str:
    summaries, reference = results["methods"], results["reference"]
    ref = summaries[reference]
    rows = []
    for name, m in summaries.items():
        share = "–" if m["distance_share"] is None else f"{100 * m['distance_share']:.1f} %"
        rel = (m["inertia"] - ref["inertia"]) / ref["inertia"]
        rows.append(
            [
                name,
                f"{m['timed_iters']} × {m['repeats']}",
                f"{harness.ms(m['slope_s']['median'])} / {harness.ms(m['slope_s']['min'])}",
                harness.ratio(m["slope_s"]["median"], ref["slope_s"]["median"]),
                harness.ms(m["fit_per_iter_s"]["median"]),
                harness.ratio(m["fit_s"]["median"], ref["fit_s"]["median"]),
                f"{harness.ms(m['overhead_s']['median'])} / {harness.ms(m['overhead_s']['min'])}",
                share,
                f"{m['inertia']:,.1f}",
                f"{rel:+.1e}",
            ]
        )
    table = harness.markdown_table(
        [
            "method",
            "timed iters × repeats",
            "ms/iter, slope (medians / minima)",
            f"× {reference}",
            "ms/iter, whole fit (median)",
            f"× {reference}",
            "fixed overhead, ms (medians / minima)",
            "distances computed per iteration",
            "inertia (float64)",
            f"vs {reference}",
        ],
        rows,
    )
    if results["single_passes"]:
        passes = [[name, harness.ms(s.median), harness.ms(s.min)] for name, s in results["single_passes"].items()]
        table += "\n\n" + harness.markdown_table(["single pass over X", "ms, median", "min"], passes)
    return table


def target_rows(names: Sequence[str], summaries: dict[str, Any]) -> list[harness.TargetRow]:
    """The summary table's rows for the targets asked of this run."""
    rows = []
    for name in names:
        ours = summaries["tfkmeans"]
        if name == "k1000_50":
            faiss, sklearn = summaries["faiss"], summaries["sklearn"]
            to_faiss = ours["fit_s"]["median"] / faiss["fit_s"]["median"]
            to_sklearn = ours["fit_s"]["median"] / sklearn["fit_s"]["median"]
            figure = (
                f"whole {ours['timed_iters']}-iteration fit: default {ours['fit_s']['median']:.2f} s, "
                f"FAISS {faiss['fit_s']['median']:.2f} s, scikit-learn {sklearn['fit_s']['median']:.2f} s"
            )
            rows.append(
                harness.TargetRow(
                    name,
                    figure,
                    f"{to_faiss:.2f}× FAISS, {to_sklearn:.2f}× scikit-learn",
                    to_faiss <= 0.25 and to_sklearn <= 0.25,
                )
            )
        elif name in PER_ITERATION_BOUNDS:
            peer, label, bound = PER_ITERATION_BOUNDS[name]
            value = ours["slope_s"]["median"] / summaries[peer]["slope_s"]["median"]
            figure = (
                f"ms/iter (slope of medians): default {harness.ms(ours['slope_s']['median'])}, "
                f"{label} {harness.ms(summaries[peer]['slope_s']['median'])}"
            )
            rows.append(harness.TargetRow(name, figure, f"{value:.2f}× {label}", value <= bound))
        elif name == "fixed_cost":
            n, slope = ours["timed_iters"], ours["slope_s"]["median"]
            value = ours["fit_s"]["median"] / (n * slope)
            figure = (
                f"{n}-iteration fit {harness.ms(ours['fit_s']['median'])} ms, "
                f"iterations alone {harness.ms(n * slope)} ms"
            )
            rows.append(harness.TargetRow(name, figure, f"{value:.2f}× its iterations", value <= 1.5))
    return rows


def main(values: flags.FlagValues, argv: list[str]) -> None:
    quick = values.quick
    k = min(values.k, 10) if quick else values.k
    iters = min(values.iters, 3) if quick else values.iters
    slow_iters = min(iters, values.slow_iters)
    if iters < 2 or slow_iters < 2:
        raise harness.UsageError("--iters and --slow_iters must be at least 2 (the slope needs two points).")
    chosen = methods(values.peers, values.algorithms)
    for target in values.targets:
        needed = TARGET_METHODS.get(target)
        if needed is None:
            raise harness.UsageError(f"benchmarks.lloyd reports none of the target {target!r}")
        missing = [m for m in needed if m not in chosen]
        if missing:
            raise harness.UsageError(f"target {target!r} needs the methods {missing}")
    warnings.simplefilter("ignore")  # convergence warnings of deliberately short runs
    from sklearn.cluster import kmeans_plusplus

    machine = harness.machine_info()
    x = harness.load_train(values, values.n_samples)
    init = np.ascontiguousarray(kmeans_plusplus(x, k, random_state=values.seed)[0], dtype=np.float32)
    logging.info("MNIST %s (%.0f MB), k=%d", x.shape, x.nbytes / 1e6, k)

    repeats = harness.repeats(values)
    fast = {name: m for name, m in chosen.items() if not m.slow}
    slow = {name: m for name, m in chosen.items() if m.slow}
    records = round_robin(fast, x, init, iters, repeats)
    records.update(round_robin(slow, x, init, slow_iters, min(repeats, values.slow_repeats)))
    summaries = {name: summarize_record(records[name], x) for name in chosen}
    results = {
        "methods": summaries,
        "reference": next((m for m in ("sklearn", "tfkmeans") if m in summaries), next(iter(summaries))),
        "single_passes": single_passes(x, init, repeats) if values.single_passes else {},
    }
    method = (
        f"{x.shape[0]:,} × {x.shape[1]} float32, k={k}, the same k-means++ centres (`random_state={values.seed}`), "
        f"exactly {iters} iterations (`tol=0`; slow methods {slow_iters}), fits of 1 and n iterations after a warm-up, "
        f"{repeats} repeats round-robin; ms as medians / minima. Methods: "
        + "; ".join(f"`{name}`: {m.description}" for name, m in chosen.items())
        + "."
    )
    harness.publish(
        values,
        "benchmarks.lloyd",
        argv,
        machine,
        method,
        results_table(results),
        target_rows(values.targets, summaries),
        results,
    )


def cli(argv: Sequence[str] | None = None) -> None:
    """Run with ``argv`` (default: the command line)."""
    harness.run(main, FLAGS, argv)


if __name__ == "__main__":
    cli()
