"""Scaling study: time per Lloyd iteration and peak memory against N and k, for tfkmeans, scikit-learn and FAISS.

Data: MNIST train (float32, 784 features). N=60,000 is the training set, smaller
N its first rows, and a multiple j × 60,000 (up to 600,000) the training images
shifted by each of the first j pixel shifts of :mod:`benchmarks._mnist10x`
(``SHIFTS``): the same 600,000 images as the out-of-core shards, held in memory here.

For every (N, k) all methods start from the same centres: k distinct rows of
the data drawn with ``--seed`` (k-means++ for k=1000 on 600,000 points would
take longer than the study). They run with ``tol=0``: a fit stops before
``max_iter`` only once the assignment is stable (scikit-learn, tfkmeans) or the
objective unchanged (FAISS, one iteration later), which happens at k=1000 and
N=10,000. The slope then uses the iterations each fit reports (``n_iter_``,
FAISS's statistics entries), which must be the same in every repeat.

**Time per iteration** is the slope ``(T(m) - T(1)) / (m - 1)`` between whole
fits of 1 and ``m`` iterations (:func:`benchmarks._harness.slope_per_iteration`),
free of each fit's fixed work (copies, norms, the final labels pass). Methods
are timed round-robin within each repeat, after one untimed warm-up fit each.
The slowest method's next 1-iteration fit (calibration, an upper bound on
its iteration) sets ``m`` so its long fit takes about ``--fit_seconds`` (between
``--iters_min`` and ``--iters_max``) and the repeats so they add up to about
``--cell_seconds`` (between ``--min_repeats`` and ``--repeats``): the study
adapts to the load of a shared machine. Each timed pair follows an untimed
1-iteration fit of the same method, so both timed fits find its memory
already faulted in: at large N a fit after another method's pays first-touch
page faults for its copies of X, which would land in T(1) only and bias the
slope low.

**Peak memory** of a fit is measured in a fresh subprocess per (method, N, k):
after loading the data and importing every library the process's resident
set is read (``VmRSS``), its high-water mark reset (``/proc/self/clear_refs``,
Linux), one ``--probe_iters``-iteration fit run, and the extra memory is the
high-water mark (``VmHWM``) minus that baseline: what the fit needs beyond the
data, runtime start-up included, shown in copies of X.

The table goes into BENCHMARKS.md (``--bench_file``, section ``scaling``), the
figure to ``--figure``: time per iteration, time per point × centre, and the
extra peak memory in copies of X (N × D × 4 bytes), the unit the text uses. A
``--quick`` run measures no memory (the probes start fresh processes).

Usage::

    python -m benchmarks.scaling --figure=docs/images/scaling.png     # the whole study (long: N=600,000, k=1000)
    python -m benchmarks.scaling --sizes=10000,60000 --ks=10,100 --repeats=3 --bench_file=
"""

from __future__ import annotations

import gc
import json
import os
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from absl import flags, logging

from benchmarks import _harness as harness
from benchmarks._mnist10x import load_points
from benchmarks._peers import methods
from benchmarks._scaling_parts import copies_of_data, initial_centres, iters_run, markdown_table, within

FLAGS = harness.new_flags("scaling", repeats=5)
flags.DEFINE_list(
    "sizes",
    "10000,60000,600000",
    "Numbers of points N (≤ 60,000, or multiples of it up to 600,000).",
    flag_values=FLAGS,
)
flags.DEFINE_list("ks", "10,100,1000", "Numbers of clusters k.", flag_values=FLAGS)
flags.DEFINE_list(
    "methods",
    "tfkmeans_lloyd,sklearn,faiss",
    "Methods (benchmarks._peers), Lloyd's iterations for all by default.",
    flag_values=FLAGS,
)
flags.DEFINE_integer("min_repeats", 3, "Fewest timed repeats per method and (N, k).", flag_values=FLAGS)
flags.DEFINE_float(
    "cell_seconds", 20.0, "Rough time of one method's long fits in one (N, k); chooses the repeats.", flag_values=FLAGS
)
flags.DEFINE_float(
    "fit_seconds", 6.0, "Rough duration of the long timed fit; chooses its iterations m.", flag_values=FLAGS
)
flags.DEFINE_integer("iters_min", 3, "Fewest iterations m of the long timed fit (at least 2).", flag_values=FLAGS)
flags.DEFINE_integer("iters_max", 20, "Most iterations m of the long timed fit.", flag_values=FLAGS)
flags.DEFINE_integer("probe_iters", 2, "Iterations of the fit whose peak memory is measured.", flag_values=FLAGS)
flags.DEFINE_string("figure", None, "Write the figure (PNG) here.", flag_values=FLAGS)
flags.DEFINE_string("from_json", None, "Measure nothing: redraw the figure of this --output JSON.", flag_values=FLAGS)
flags.DEFINE_string(
    "probe", None, "Internal: 'method:N:k' runs one memory probe and prints its JSON record.", flag_values=FLAGS
)


def run_fit(name: str, x: np.ndarray, init: np.ndarray, iters: int) -> int:
    """A fit of ``iters`` iterations from ``init`` by the named method; the iterations it reports."""
    return methods([name])[name].fit(x, len(init), init, max_iter=iters, tol=0.0).n_iter


def probe(method: str, n: int, k: int, values: flags.FlagValues) -> dict[str, Any]:
    """Peak memory of one fit in this (fresh) process, above its resident set after loading and importing."""
    import faiss  # noqa: F401  every library loaded before the baseline, whichever method runs
    import sklearn.cluster  # noqa: F401
    import tensorflow  # noqa: F401

    import tfkmeans  # noqa: F401

    x = load_points(n, values.data_dir)
    init = initial_centres(x, k, values.seed)
    gc.collect()
    baseline = harness.own_status_kib("VmRSS")
    # Forget the high-water mark of loading (np.roll's temporaries): only the fit's peak counts.
    Path("/proc/self/clear_refs").write_text("5")
    iters = run_fit(method, x, init, values.probe_iters)
    peak = harness.own_status_kib("VmHWM")
    return {
        "method": method,
        "n": n,
        "k": k,
        "iters": iters,
        "baseline_rss_mb": baseline / 1024,
        "peak_rss_mb": peak / 1024,
        "extra_mb": (peak - baseline) / 1024,
    }


def run_probe(method: str, n: int, k: int, values: flags.FlagValues) -> dict[str, Any]:
    """Runs :func:`probe` in a fresh Python process and returns its record."""
    args = [f"--probe={method}:{n}:{k}", f"--seed={values.seed}", f"--probe_iters={values.probe_iters}"]
    if values.data_dir:
        args.append(f"--data_dir={values.data_dir}")
    record = harness.fresh_process_record("benchmarks.scaling", args)
    logging.info(
        "memory %-8s N=%-7d k=%-5d extra %8.1f MB (baseline %.0f MB)",
        method,
        n,
        k,
        record["extra_mb"],
        record["baseline_rss_mb"],
    )
    return record


def time_cell(x: np.ndarray, init: np.ndarray, names: Sequence[str], values: flags.FlagValues) -> dict[str, Any]:
    """T(1) and T(m) of every method, interleaved round-robin, with m and the repeats set by the slowest T(1)."""
    records: dict[str, dict[str, Any]] = {}
    for name in names:
        warmup_s, _ = harness.timed(run_fit, name, x, init, 1)  # traces tfkmeans's graph: too slow to calibrate
        calibration_s, _ = harness.timed(run_fit, name, x, init, 1)
        records[name] = {
            "warmup_s": warmup_s,
            "calibration_s": calibration_s,
            "t1_s": [],
            "tn_s": [],
            "reported_iters": [],
        }
    slowest = max(record["calibration_s"] for record in records.values())
    iters = 2 if values.quick else within(values.fit_seconds / slowest, values.iters_min, values.iters_max)
    most = harness.repeats(values)
    repeats = within(values.cell_seconds / (iters * slowest), min(values.min_repeats, most), most)
    logging.info("N=%d k=%d: slowest T(1) %.2f s: m=%d, %d repeats", len(x), len(init), slowest, iters, repeats)
    for repeat in range(repeats):
        for name in names:
            run_fit(name, x, init, 1)  # untimed re-touch, see the module docstring
            t1, done1 = harness.timed(run_fit, name, x, init, 1)
            tn, done = harness.timed(run_fit, name, x, init, iters)
            record = records[name]
            record["t1_s"].append(t1)
            record["tn_s"].append(tn)
            record["reported_iters"].append([done1, done])
            logging.info(
                "N=%d k=%d repeat %d %-8s T(1) %9.1f ms  T(%d) %9.1f ms",
                len(x),
                len(init),
                repeat + 1,
                name,
                1e3 * t1,
                iters,
                1e3 * tn,
            )
    for name, record in records.items():
        record["iters_run"] = iters_run(record["reported_iters"])
        if record["iters_run"] is None:
            logging.warning(
                "%s N=%d k=%d: iterations differ between repeats: %s", name, len(x), len(init), record["reported_iters"]
            )
            record["ms_per_iter"] = None
        else:
            slope = harness.slope_per_iteration(record["t1_s"], record["tn_s"], record["iters_run"])
            record["ms_per_iter"] = {stat: 1e3 * value for stat, value in slope.items()}
    return {"iters": iters, "repeats": repeats, "methods": records}


def plot(results: dict[str, Any], title: str, path: Path) -> None:
    """Three log-scale panels against N: ms per iteration, ns per point × centre, extra peak memory in copies of X."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names, ks = results["config"]["methods"], results["config"]["ks"]
    d = results["config"]["n_features"]
    colours = {name: f"C{index}" for index, name in enumerate(names)}
    styles = dict(zip(ks, [("o", "-"), ("s", "--"), ("^", ":")] * len(ks)))
    fig, (time_ax, unit_ax, memory_ax) = plt.subplots(1, 3, figsize=(17, 5.6))
    for name in names:
        for k in ks:
            cells = [c for c in results["cells"] if c["k"] == k and c["timing"][name]["ms_per_iter"]]
            ns = np.array([c["n"] for c in cells], float)
            ms = np.array([c["timing"][name]["ms_per_iter"]["median"] for c in cells])
            marker, line = styles[k]
            style = dict(color=colours[name], marker=marker, linestyle=line, label=f"{name}, k={k}")
            time_ax.plot(ns, ms, **style)
            unit_ax.plot(ns, 1e6 * ms / (ns * k), **style)
            probed = [c for c in cells if c["memory"].get(name)]
            copies = [copies_of_data(c["memory"][name]["extra_mb"], c["n"], d) for c in probed]
            # Log axis: an extra below 1 % of X (none, or the process shrank) is drawn at 1 %.
            memory_ax.plot([c["n"] for c in probed], np.maximum(copies, 0.01), **style)
    sizes = np.array(sorted({c["n"] for c in results["cells"]}), float)
    memory_ax.axhline(1.0, color="black", linewidth=1, linestyle=(0, (1, 3)))
    memory_ax.annotate("one copy of X", (sizes[-1], 1.0), fontsize=8, ha="right", va="top")
    for k in ks:
        # An unchunked N × k × D distance tensor is k copies of X, at every N.
        memory_ax.axhline(k, color="0.6", linewidth=1, linestyle=styles[k][1])
        memory_ax.annotate(f"N×k×D tensor, k={k}", (sizes[-1], k), fontsize=8, color="0.4", ha="right", va="bottom")
    # A guide of slope 1 (cost ∝ N) through the middle of the smallest N's times.
    lines = time_ax.get_lines()
    start = float(np.exp(np.mean([np.log(line.get_ydata()[0]) for line in lines if len(line.get_ydata())])))
    time_ax.plot(sizes, start * sizes / sizes[0], color="0.6", linewidth=1, label="∝ N")
    time_ax.set(
        xscale="log",
        yscale="log",
        xlabel="N (points)",
        ylabel="ms per Lloyd iteration (slope of medians)",
        title="Time per iteration",
    )
    unit_ax.set(
        xscale="log",
        yscale="log",
        xlabel="N (points)",
        ylabel="ns per point × centre",
        title="Time / (N·k): flat = linear in N, k",
    )
    memory_ax.set(
        xscale="log",
        yscale="log",
        xlabel="N (points)",
        ylabel="copies of X (N × D × 4 bytes)",
        title="Extra peak memory of a fit beyond the data",
    )
    for ax in (time_ax, unit_ax, memory_ax):
        ax.grid(True, which="both", alpha=0.3)
        ax.set_xticks(sizes, [f"{n / 1000:,.0f}k" for n in sizes])
        ax.minorticks_off()
    fig.suptitle(title, fontsize=11)
    fig.legend(*time_ax.get_legend_handles_labels(), loc="lower center", ncol=len(ks) + 2, fontsize=8)
    fig.tight_layout(rect=(0, 0.1, 1, 1))
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=90)
    plt.close(fig)


def figure_title(d: int, machine: dict[str, Any]) -> str:
    cores, commit = machine["usable_cpus"], harness.short_commit(machine)
    return f"K-means scaling on MNIST (D={d}, float32), {cores} cores, commit {commit}"


def main(values: flags.FlagValues, argv: list[str]) -> None:
    warnings.simplefilter("ignore")  # convergence and small-N warnings of deliberately short runs
    if values.probe:
        method, n, k = values.probe.split(":")
        print(json.dumps(probe(method, int(n), int(k), values)))
        return
    if values.from_json:
        record = json.loads(Path(values.from_json).read_text())
        results = record["results"]
        plot(results, figure_title(results["config"]["n_features"], record["machine"]), Path(values.figure))
        return
    if values.targets:
        raise harness.UsageError("benchmarks.scaling reports no target")
    chosen = list(methods(values.methods))
    if values.iters_min < 2:
        raise harness.UsageError("--iters_min must be at least 2 (the slope needs two points).")
    machine = harness.machine_info()
    quick = values.quick
    sizes = [harness.QUICK_ROWS] if quick else sorted(int(n) for n in values.sizes)
    ks = [10] if quick else sorted(int(k) for k in values.ks)
    cells = []
    n_features = 0
    for n in sizes:
        # Memory first, while this process holds no copy of the data beside the probe's.
        memory = {} if quick else {(name, k): run_probe(name, n, k, values) for k in ks for name in chosen}
        x = load_points(n, values.data_dir)
        n_features = x.shape[1]
        for k in ks:
            cell = time_cell(x, initial_centres(x, k, values.seed), chosen, values)
            cells.append(
                {
                    "n": n,
                    "k": k,
                    "iters": cell["iters"],
                    "repeats": cell["repeats"],
                    "timing": cell["methods"],
                    "memory": {name: memory[name, k] for name in chosen if (name, k) in memory},
                }
            )
        del x
    results = {"config": {"sizes": sizes, "ks": ks, "methods": chosen, "n_features": n_features}, "cells": cells}
    if values.figure:
        plot(results, figure_title(n_features, machine), Path(values.figure))
    method = (
        f"Lloyd's iterations for every method from the same k random rows (`--seed={values.seed}`), `tol=0`; "
        "ms per iteration as the slope between fits of 1 and m iterations (medians / minima), m and the repeats "
        "chosen from the slowest method's time; N ≤ 60,000 are MNIST train's first rows, larger N its shifted "
        "copies; extra peak memory of one "
        f"{values.probe_iters}-iteration fit in a fresh process beyond the loaded data (VmHWM − VmRSS before), "
        "in MB and in copies of X. Methods: "
        + "; ".join(f"`{name}`: {m.description}" for name, m in methods(chosen).items())
        + "."
    )
    table = markdown_table(results)
    if values.figure and values.bench_file:
        # The figure is linked from the section its run writes, so the two always come from one run.
        link = os.path.relpath(values.figure, Path(values.bench_file).resolve().parent)
        alt = "Time per iteration, per point × centre, and extra peak memory in copies of X, against N"
        table += f"\n\n![{alt}]({link})"
    harness.publish(values, "benchmarks.scaling", argv, machine, method, table, (), results)


def cli(argv: Sequence[str] | None = None) -> None:
    """Run with ``argv`` (default: the command line)."""
    harness.run(main, FLAGS, argv)


if __name__ == "__main__":
    cli()
