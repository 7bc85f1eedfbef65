"""Scaling study: time per Lloyd iteration and peak memory against N and k, for tfkmeans, scikit-learn and FAISS.

Data: MNIST train (float32, 784 features). N=60,000 is the training set, smaller
N its first rows, and a multiple j × 60,000 (up to 600,000) the training images
shifted by each of the first j pixel shifts of :mod:`benchmarks.out_of_core`
(``SHIFTS``): the same 600,000 images as its shards, held in memory here.

For every (N, k) all methods start from the same centres: k distinct rows of
the data drawn with ``--seed`` (k-means++ for k=1000 on 600,000 points would
take longer than the study). They run with ``tol=0``: a fit stops before
``max_iter`` only once the assignment is stable (scikit-learn, tfkmeans) or the
objective unchanged (FAISS, one iteration later), which happens at k=1000 and
N=10,000. The slope then uses the iterations each fit reports (``n_iter_``,
FAISS's statistics entries), which must be the same in every repeat.

**Time per iteration** is the slope ``(T(m) - T(1)) / (m - 1)`` between whole
fits of 1 and ``m`` iterations (:func:`benchmarks._timing.slope_per_iteration`),
free of each fit's fixed work (copies, norms, the final labels pass). Methods
are timed round-robin within each repeat, after one untimed warm-up fit each.
The slowest method's next 1-iteration fit (calibration, an upper bound on
its iteration) sets ``m`` so its long fit takes about ``--fit_seconds`` (between
``--iters_min`` and ``--iters_max``) and the repeats so they add up to about
``--cell_seconds`` (between ``--min_repeats`` and ``--repeats``): the study
adapts to the load of a shared machine. Each timed pair follows an untimed
1-iteration fit of the same method, so both timed fits find its memory
already faulted in: at N=600,000 a fit after another method's pays seconds
of first-touch page faults for its copies of X, which would land in T(1)
only and bias the slope low.

**Peak memory** of a fit is measured in a fresh subprocess per (method, N, k):
after loading the data and importing every library the process's resident
set is read (``VmRSS``), its high-water mark reset (``/proc/self/clear_refs``,
Linux), one ``--probe_iters``-iteration fit run, and the extra memory is the
high-water mark (``VmHWM``) minus that baseline: what the fit needs beyond the
data, runtime start-up included.

Outputs in ``--output_dir``: ``scaling.json`` (every measurement and the
machine record), ``scaling.md`` (the table) and ``scaling.png`` (the figure).

Usage::

    python -m benchmarks.scaling              # the whole study: 25-45 min on 2 cores, most of it N=600,000, k=1000
    python -m benchmarks.scaling --sizes=10000,60000 --ks=10,100 --repeats=3
"""

from __future__ import annotations

import datetime
import gc
import json
import subprocess
import sys
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Callable

import numpy as np
from absl import app, flags, logging

from benchmarks._mnist10x import load_points
from benchmarks._scaling_parts import initial_centres, iters_run, markdown_table, status_kib, within
from benchmarks._timing import machine_info, slope_per_iteration, source_revision, timed

FLAGS = flags.FLAGS
flags.DEFINE_string("data_dir", None, "MNIST IDX directory (default: $TFKMEANS_DATA_DIR, then tfds).")
flags.DEFINE_list("sizes", "10000,60000,600000", "Numbers of points N (≤ 60,000, or multiples of it up to 600,000).")
flags.DEFINE_list("ks", "10,100,1000", "Numbers of clusters k.")
flags.DEFINE_list("methods", "tfkmeans,sklearn,faiss", "Methods to measure, comma-separated.")
flags.DEFINE_integer("repeats", 5, "Most timed repeats per method and (N, k).")
flags.DEFINE_integer("min_repeats", 3, "Fewest timed repeats per method and (N, k).")
flags.DEFINE_float("cell_seconds", 20.0, "Rough time of one method's long fits in one (N, k); chooses the repeats.")
flags.DEFINE_float("fit_seconds", 6.0, "Rough duration of the long timed fit; chooses its iterations m.")
flags.DEFINE_integer("iters_min", 3, "Fewest iterations m of the long timed fit (at least 2).")
flags.DEFINE_integer("iters_max", 20, "Most iterations m of the long timed fit.")
flags.DEFINE_integer("probe_iters", 2, "Iterations of the fit whose peak memory is measured.")
flags.DEFINE_integer("seed", 0, "Seed of the rows drawn as initial centres.")
flags.DEFINE_string("output_dir", "runs/bench/scaling", "Where scaling.json, scaling.md and scaling.png go.")
flags.DEFINE_string("from_json", None, "Measure nothing: redraw the table and figure of this scaling.json.")
flags.DEFINE_string("probe", None, "Internal: 'method:N:k' runs one memory probe and prints its JSON record.")


def _fit_tfkmeans(x: np.ndarray, init: np.ndarray, iters: int) -> int:
    import tfkmeans

    # Lloyd's iterations, as the peers run them: the default's bounds would make the
    # cost of an iteration depend on how far the fit has settled, and switch on or
    # off with the size of the bounds across the cells.
    return tfkmeans.KMeans(len(init), init=init, n_init=1, max_iter=iters, tol=0, algorithm="lloyd").fit(x).n_iter_


def _fit_sklearn(x: np.ndarray, init: np.ndarray, iters: int) -> int:
    from sklearn.cluster import KMeans

    return KMeans(len(init), init=init, n_init=1, max_iter=iters, tol=0, algorithm="lloyd").fit(x).n_iter_


def _fit_faiss(x: np.ndarray, init: np.ndarray, iters: int) -> int:
    import faiss

    # k × max_points_per_centroid ≥ N: FAISS trains on every point instead of a sample.
    km = faiss.Kmeans(x.shape[1], len(init), niter=iters, max_points_per_centroid=len(x))
    km.train(x, init_centroids=init)
    return len(km.iteration_stats)  # one entry per iteration run


#: Each runs a fit of ``iters`` Lloyd iterations from ``init`` and returns the iterations it reports.
METHODS: dict[str, Callable[[np.ndarray, np.ndarray, int], int]] = {
    "tfkmeans": _fit_tfkmeans,
    "sklearn": _fit_sklearn,
    "faiss": _fit_faiss,
}
DESCRIPTIONS = {
    "tfkmeans": "tfkmeans.KMeans(algorithm='lloyd'), default distance='matmul'",
    "sklearn": "sklearn.cluster.KMeans(algorithm='lloyd')",
    "faiss": "faiss.Kmeans, max_points_per_centroid=N (no subsampling), default OpenMP threads",
}


def _own_status() -> str:
    """This process's ``/proc/self/status`` text."""
    return Path("/proc/self/status").read_text()


def probe(method: str, n: int, k: int) -> dict[str, Any]:
    """Peak memory of one fit in this (fresh) process, above its resident set after loading and importing."""
    import faiss  # noqa: F401  every library loaded before the baseline, whichever method runs
    import sklearn.cluster  # noqa: F401
    import tensorflow  # noqa: F401

    import tfkmeans  # noqa: F401

    x = load_points(n, FLAGS.data_dir)
    init = initial_centres(x, k, FLAGS.seed)
    gc.collect()
    baseline = status_kib(_own_status(), "VmRSS")
    # Forget the high-water mark of loading (np.roll's temporaries): only the fit's peak counts.
    Path("/proc/self/clear_refs").write_text("5")
    iters = METHODS[method](x, init, FLAGS.probe_iters)
    peak = status_kib(_own_status(), "VmHWM")
    return {
        "method": method, "n": n, "k": k, "iters": iters,
        "baseline_rss_mb": baseline / 1024, "peak_rss_mb": peak / 1024, "extra_mb": (peak - baseline) / 1024,
    }


def run_probe(method: str, n: int, k: int) -> dict[str, Any]:
    """Runs :func:`probe` in a fresh Python process and returns its record."""
    command = [
        sys.executable, "-m", "benchmarks.scaling", f"--probe={method}:{n}:{k}",
        f"--seed={FLAGS.seed}", f"--probe_iters={FLAGS.probe_iters}",
    ]
    if FLAGS.data_dir:
        command.append(f"--data_dir={FLAGS.data_dir}")
    done = subprocess.run(
        command, cwd=Path(__file__).resolve().parents[1], capture_output=True, text=True, check=True
    )
    record = json.loads(done.stdout.strip().splitlines()[-1])
    logging.info("memory %-8s N=%-7d k=%-5d extra %8.1f MB (baseline %.0f MB)",
                 method, n, k, record["extra_mb"], record["baseline_rss_mb"])
    return record


def time_cell(x: np.ndarray, init: np.ndarray, methods: Sequence[str]) -> dict[str, Any]:
    """T(1) and T(m) of every method, interleaved round-robin, with m and the repeats set by the slowest T(1)."""
    records: dict[str, dict[str, Any]] = {}
    for name in methods:
        warmup_s, _ = timed(METHODS[name], x, init, 1)  # traces tfkmeans's graph: too slow to calibrate
        calibration_s, _ = timed(METHODS[name], x, init, 1)
        records[name] = {
            "warmup_s": warmup_s, "calibration_s": calibration_s, "t1_s": [], "tn_s": [], "reported_iters": []
        }
    slowest = max(record["calibration_s"] for record in records.values())
    iters = within(FLAGS.fit_seconds / slowest, FLAGS.iters_min, FLAGS.iters_max)
    repeats = within(FLAGS.cell_seconds / (iters * slowest), FLAGS.min_repeats, FLAGS.repeats)
    logging.info("N=%d k=%d: slowest T(1) %.2f s: m=%d, %d repeats", len(x), len(init), slowest, iters, repeats)
    for repeat in range(repeats):
        for name in methods:
            run = METHODS[name]
            run(x, init, 1)  # untimed re-touch, see the module docstring
            t1, done1 = timed(run, x, init, 1)
            tn, done = timed(run, x, init, iters)
            record = records[name]
            record["t1_s"].append(t1)
            record["tn_s"].append(tn)
            record["reported_iters"].append([done1, done])
            logging.info("N=%d k=%d repeat %d %-8s T(1) %9.1f ms  T(%d) %9.1f ms",
                         len(x), len(init), repeat + 1, name, 1e3 * t1, iters, 1e3 * tn)
    for name, record in records.items():
        record["iters_run"] = iters_run(record["reported_iters"])
        if record["iters_run"] is None:
            logging.warning("%s N=%d k=%d: iterations differ between repeats: %s",
                            name, len(x), len(init), record["reported_iters"])
            record["ms_per_iter"] = None
        else:
            slope = slope_per_iteration(record["t1_s"], record["tn_s"], record["iters_run"])
            record["ms_per_iter"] = {stat: 1e3 * value for stat, value in slope.items()}
    return {"iters": iters, "repeats": repeats, "methods": records}


def plot(results: dict[str, Any], path: Path) -> None:
    """Three log-scale panels against N: ms per iteration, ns per point × centre, extra peak memory."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    methods, ks = results["config"]["methods"], results["config"]["ks"]
    d = results["config"]["n_features"]
    colours = {name: f"C{index}" for index, name in enumerate(methods)}
    styles = dict(zip(ks, [("o", "-"), ("s", "--"), ("^", ":")] * len(ks)))
    fig, (time_ax, unit_ax, memory_ax) = plt.subplots(1, 3, figsize=(17, 5.6))
    for name in methods:
        for k in ks:
            cells = [c for c in results["cells"] if c["k"] == k and c["timing"][name]["ms_per_iter"]]
            ns = np.array([c["n"] for c in cells], float)
            ms = np.array([c["timing"][name]["ms_per_iter"]["median"] for c in cells])
            mb = np.array([c["memory"][name]["extra_mb"] for c in cells])
            marker, line = styles[k]
            style = dict(color=colours[name], marker=marker, linestyle=line, label=f"{name}, k={k}")
            time_ax.plot(ns, ms, **style)
            unit_ax.plot(ns, 1e6 * ms / (ns * k), **style)
            # Log axis: an extra below 1 MB (none, or the process shrank) is drawn at 1 MB.
            memory_ax.plot(ns, np.maximum(mb, 1.0), **style)
    sizes = np.array(sorted({c["n"] for c in results["cells"]}), float)
    for k in ks:
        memory_ax.plot(sizes, sizes * k * d * 4 / 2**20, color="0.6", linewidth=1, linestyle=styles[k][1])
        memory_ax.annotate(f"N×k×D×4, k={k}", (sizes[-1], sizes[-1] * k * d * 4 / 2**20), fontsize=8,
                           color="0.4", ha="right", va="bottom")
    memory_ax.plot(sizes, sizes * d * 4 / 2**20, color="black", linewidth=1, linestyle=(0, (1, 3)))
    middle = float(np.sqrt(sizes[0] * sizes[-1]))
    memory_ax.annotate("data, N×D×4", (middle, middle * d * 4 / 2**20), fontsize=8, ha="left", va="top")
    # A guide of slope 1 (cost ∝ N) through the middle of the smallest N's times.
    lines = time_ax.get_lines()
    start = float(np.exp(np.mean([np.log(line.get_ydata()[0]) for line in lines if len(line.get_ydata())])))
    time_ax.plot(sizes, start * sizes / sizes[0], color="0.6", linewidth=1, label="∝ N")
    time_ax.set(xscale="log", yscale="log", xlabel="N (points)", ylabel="ms per Lloyd iteration (slope of medians)",
                title="Time per iteration")
    unit_ax.set(xscale="log", yscale="log", xlabel="N (points)", ylabel="ns per point × centre",
                title="Time / (N·k): flat = linear in N, k")
    memory_ax.set(xscale="log", yscale="log", xlabel="N (points)", ylabel="MB",
                  title="Extra peak memory of a fit (fresh process)")
    for ax in (time_ax, unit_ax, memory_ax):
        ax.grid(True, which="both", alpha=0.3)
        ax.set_xticks(sizes, [f"{n / 1000:,.0f}k" for n in sizes])
        ax.minorticks_off()
    fig.suptitle(f"K-means scaling on MNIST (D={d}, float32), {results['started_utc'][:16]} UTC, "
                 f"{results['machine']['usable_cpus']} cores", fontsize=11)
    fig.legend(*time_ax.get_legend_handles_labels(), loc="lower center", ncol=len(ks) + 2, fontsize=8)
    fig.tight_layout(rect=(0, 0.1, 1, 1))
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv: Sequence[str]) -> None:
    del argv
    warnings.simplefilter("ignore")  # convergence and small-N warnings of deliberately short runs
    if FLAGS.probe:
        method, n, k = FLAGS.probe.split(":")
        print(json.dumps(probe(method, int(n), int(k))))
        return
    if FLAGS.from_json:
        results = json.loads(Path(FLAGS.from_json).read_text())
        write_outputs(Path(FLAGS.output_dir), results)
        print(markdown_table(results))
        return
    unknown = [m for m in FLAGS.methods if m not in METHODS]
    if unknown:
        raise app.UsageError(f"unknown --methods {unknown}; choose from {sorted(METHODS)}")
    if FLAGS.iters_min < 2:
        raise app.UsageError("--iters_min must be at least 2 (the slope needs two points).")
    import tensorflow as tf

    sizes, ks = sorted(int(n) for n in FLAGS.sizes), sorted(int(k) for k in FLAGS.ks)
    started = datetime.datetime.now(datetime.timezone.utc)
    machine = machine_info(["tensorflow", "numpy", "sklearn", "faiss", "tfkmeans"])
    machine["tfkmeans_source"] = source_revision("tfkmeans")
    machine["tf_intra_op_threads"] = tf.config.threading.get_intra_op_parallelism_threads() or "default (all cores)"
    cells = []
    n_features = 0
    for n in sizes:
        # Memory first, while this process holds no copy of the data beside the probe's.
        memory = {(name, k): run_probe(name, n, k) for k in ks for name in FLAGS.methods}
        x = load_points(n, FLAGS.data_dir)
        n_features = x.shape[1]
        for k in ks:
            cell = time_cell(x, initial_centres(x, k, FLAGS.seed), FLAGS.methods)
            cells.append({
                "n": n, "k": k, "iters": cell["iters"], "repeats": cell["repeats"],
                "timing": cell["methods"], "memory": {name: memory[name, k] for name in FLAGS.methods},
            })
            # Written after every cell: a long study stopped early keeps what it measured.
            write_outputs(Path(FLAGS.output_dir), results_record(started, machine, n_features, cells))
        del x
    print((Path(FLAGS.output_dir) / "scaling.md").read_text())


def results_record(
    started: datetime.datetime, machine: dict[str, Any], n_features: int, cells: list[dict[str, Any]]
) -> dict[str, Any]:
    """The measurements so far, with the configuration, command and machine record."""
    return {
        "benchmark": "Lloyd iteration scaling with N and k, MNIST (shifted copies above 60,000)",
        "command": " ".join(["python -m benchmarks.scaling", *sys.argv[1:]]),
        "started_utc": started.isoformat(timespec="seconds"),
        "written_utc": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "config": {
            "sizes": sorted(int(n) for n in FLAGS.sizes), "ks": sorted(int(k) for k in FLAGS.ks),
            "methods": FLAGS.methods, "n_features": n_features, "seed": FLAGS.seed,
            "repeats": FLAGS.repeats, "min_repeats": FLAGS.min_repeats, "fit_seconds": FLAGS.fit_seconds,
            "cell_seconds": FLAGS.cell_seconds,
            "iters_min": FLAGS.iters_min, "iters_max": FLAGS.iters_max, "probe_iters": FLAGS.probe_iters,
        },
        "descriptions": {name: DESCRIPTIONS[name] for name in FLAGS.methods},
        "machine": machine,
        "load_average_at_end": machine_info()["load_average_1_5_15min"],
        "cells": cells,
    }


def write_outputs(output: Path, results: dict[str, Any]) -> None:
    """scaling.json (all measurements), scaling.md (the table) and scaling.png (the figure) in ``output``."""
    output.mkdir(parents=True, exist_ok=True)
    (output / "scaling.json").write_text(json.dumps(results, indent=2) + "\n")
    table = markdown_table(results)
    (output / "scaling.md").write_text(table + "\n")
    plot(results, output / "scaling.png")
    logging.info("wrote scaling.json, scaling.md and scaling.png in %s", output)


if __name__ == "__main__":
    app.run(main)
