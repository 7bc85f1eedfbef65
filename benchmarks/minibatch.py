"""Mini-batch K-means on MNIST train: tfkmeans against scikit-learn, time and final inertia.

Both libraries are called as a user would: ``MiniBatchKMeans(k, batch_size=...,
max_iter=..., n_init=1, random_state=seed + repeat).fit(X)`` with their defaults
otherwise (k-means++ on ``3 * batch_size`` rows, reassignment_ratio 0.01, early
stopping after 10 steps without improvement of the smoothed batch inertia). A
timed fit is the whole ``fit``: input validation, initialisation, the steps and
the final labelling pass over all of X. scikit-learn runs twice: with its
default threads and limited to one thread (``threadpoolctl``), because its
OpenMP barriers spin and on a loaded machine its threaded run can be many
times slower. Repeats are interleaved (tfkmeans, sklearn, sklearn_1thread,
tfkmeans, ...) after one untimed warm-up fit each (tfkmeans traces its graphs
there; the warm-up time is reported).

Because each run stops early on its own, the number of steps differs between
fits and methods; the steps are reported, and a second mode with early stopping
off (``--fixed_epochs`` epochs, ``max_no_improvement=None``) gives the cost per
step, the slope between a 1-epoch and an n-epoch fit.

Quality is the inertia of the final centres on all 60,000 images, computed in
float64 the same way for both methods, and its gap to the best known full-batch
K-means inertia (``--best_inertia``: scikit-learn KMeans, best of 10 k-means++
runs, k=10).

Usage::

    python -m benchmarks.minibatch                           # k=10, batch 1024, 3 repeats
    python -m benchmarks.minibatch --repeats=5 --output=runs/bench/minibatch.json
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

from benchmarks._timing import machine_info, summarize, timed

FLAGS = flags.FLAGS
flags.DEFINE_integer("k", 10, "Number of clusters.")
flags.DEFINE_integer("batch_size", 1024, "Rows per mini-batch.")
flags.DEFINE_integer("max_iter", 100, "max_iter (epochs) of the early-stopping fits.")
flags.DEFINE_integer("repeats", 3, "Timed fits per method and mode.")
flags.DEFINE_integer("seed", 0, "random_state of the first repeat (repeat r uses seed + r).")
flags.DEFINE_integer("fixed_epochs", 5, "Epochs of the fixed-length fits (early stopping off); 0 skips that mode.")
flags.DEFINE_float("best_inertia", 2_352_825.0, "Best known full-batch K-means inertia on MNIST train for --k.")
flags.DEFINE_string("data_dir", None, "MNIST directory; default: $TFKMEANS_DATA_DIR or tensorflow-datasets.")
flags.DEFINE_string("output", None, "Write all measurements and the machine record to this JSON file.")


class Fit(NamedTuple):
    centers: np.ndarray
    n_steps: int


# A method: (X float32, seed, max_iter, max_no_improvement) -> Fit.
Runner = Callable[[np.ndarray, int, int, Any], Fit]


def _tfkmeans(x: np.ndarray, seed: int, max_iter: int, max_no_improvement: Any) -> Fit:
    import tfkmeans

    km = tfkmeans.MiniBatchKMeans(
        FLAGS.k, batch_size=FLAGS.batch_size, max_iter=max_iter, n_init=1, random_state=seed,
        max_no_improvement=max_no_improvement,
    ).fit(x)
    return Fit(km.cluster_centers_, km.n_steps_)


def _sklearn(x: np.ndarray, seed: int, max_iter: int, max_no_improvement: Any, threads: Optional[int] = None) -> Fit:
    from sklearn.cluster import MiniBatchKMeans
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=threads):
        km = MiniBatchKMeans(
            FLAGS.k, batch_size=FLAGS.batch_size, max_iter=max_iter, n_init=1, random_state=seed,
            max_no_improvement=max_no_improvement,
        ).fit(x)
    return Fit(km.cluster_centers_, km.n_steps_)


METHODS: dict[str, Runner] = {
    "tfkmeans": _tfkmeans,
    "sklearn": _sklearn,
    "sklearn_1thread": functools.partial(_sklearn, threads=1),
}
DESCRIPTIONS = {
    "tfkmeans": "tfkmeans.MiniBatchKMeans (whole step loop in one tf.while_loop), TensorFlow's default threads",
    "sklearn": "sklearn.cluster.MiniBatchKMeans, default OpenMP/BLAS threads",
    "sklearn_1thread": "the same under threadpoolctl.threadpool_limits(1): scikit-learn's OpenMP barriers spin, "
    "so on a machine where other processes hold the cores its multi-threaded run can be many times slower",
}


def exact_inertia(x64: np.ndarray, centers: np.ndarray) -> float:
    """Sum of squared distances to the nearest centre, in float64, the same for every method."""
    c = centers.astype(np.float64)
    d = (x64 * x64).sum(axis=1)[:, None] - 2.0 * (x64 @ c.T) + (c * c).sum(axis=1)[None, :]
    return float(np.maximum(d.min(axis=1), 0.0).sum())


def measure(x: np.ndarray, x64: np.ndarray) -> dict[str, dict[str, Any]]:
    """Warm-up, then interleaved repeats of the early-stopping fit (and the fixed-length pair)."""
    records: dict[str, dict[str, Any]] = {
        name: {"fit_s": [], "steps": [], "inertia": [], "t1_s": [], "tn_s": [], "steps_1": [], "steps_n": []}
        for name in METHODS
    }
    for name, run in METHODS.items():
        logging.info("warm-up: %s", name)
        records[name]["warmup_s"], _ = timed(run, x, FLAGS.seed, FLAGS.max_iter, 10)
        if FLAGS.fixed_epochs:
            run(x, FLAGS.seed, 1, None)  # the fixed-length graph, traced once (same graph for tfkmeans)
    for repeat in range(FLAGS.repeats):
        seed = FLAGS.seed + repeat
        for name, run in METHODS.items():
            record = records[name]
            seconds, fit = timed(run, x, seed, FLAGS.max_iter, 10)
            record["fit_s"].append(seconds)
            record["steps"].append(fit.n_steps)
            record["inertia"].append(exact_inertia(x64, fit.centers))
            logging.info(
                "repeat %d %-9s fit %7.3f s  %4d steps  inertia %.0f", repeat + 1, name, seconds, fit.n_steps,
                record["inertia"][-1],
            )
            if FLAGS.fixed_epochs:
                t1, fit1 = timed(run, x, seed, 1, None)
                tn, fitn = timed(run, x, seed, FLAGS.fixed_epochs, None)
                record["t1_s"].append(t1)
                record["tn_s"].append(tn)
                record["steps_1"].append(fit1.n_steps)
                record["steps_n"].append(fitn.n_steps)
    return records


def summarize_record(record: dict[str, Any]) -> dict[str, Any]:
    inertia = np.array(record["inertia"])
    summary = {
        "fit_s": summarize(record["fit_s"])._asdict(),
        "steps": summarize(record["steps"])._asdict(),
        "inertia": summarize(inertia)._asdict(),
        "gap_to_best_pct": summarize(100.0 * (inertia / FLAGS.best_inertia - 1.0))._asdict(),
        "warmup_s": record["warmup_s"],
        "raw": {key: record[key] for key in ("fit_s", "steps", "inertia")},
    }
    if record["tn_s"]:
        t1, tn = np.array(record["t1_s"]), np.array(record["tn_s"])
        extra = np.array(record["steps_n"]) - np.array(record["steps_1"])
        summary["ms_per_step"] = summarize(1e3 * (tn - t1) / extra)._asdict()
        summary["raw"].update(t1_s=t1.tolist(), tn_s=tn.tolist(), steps_1=record["steps_1"], steps_n=record["steps_n"])
    return summary


def markdown_table(results: dict[str, Any]) -> str:
    methods = results["methods"]
    ours = methods["tfkmeans"]
    config = results["config"]
    lines = [
        f"MNIST train (60,000 × 784, float32), k={config['k']}, batch_size={config['batch_size']}, "
        f"max_iter={config['max_iter']}, n_init=1, early stopping on (defaults); "
        f"{config['repeats']} interleaved repeats, medians [min–max].",
        "",
        "| method | whole fit, s | tfkmeans speed-up | steps | ms/step (early stop off) | warm-up fit, s "
        "| final inertia | gap to best K-means |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name, m in methods.items():
        fit, steps, inertia, gap = m["fit_s"], m["steps"], m["inertia"], m["gap_to_best_pct"]
        per_step = f"{m['ms_per_step']['median']:.2f}" if "ms_per_step" in m else "–"
        lines.append(
            f"| {name} | {fit['median']:.3f} [{fit['min']:.3f}–{fit['max']:.3f}] "
            f"| {fit['median'] / ours['fit_s']['median']:.2f}× "
            f"| {steps['median']:.0f} [{steps['min']:.0f}–{steps['max']:.0f}] "
            f"| {per_step} | {m['warmup_s']:.2f} | {inertia['median']:,.0f} "
            f"| {gap['median']:+.2f} % [{gap['min']:+.2f}–{gap['max']:+.2f}] |"
        )
    lines += [
        "",
        "tfkmeans speed-up: the method's median whole fit / tfkmeans's (> 1: tfkmeans faster). Best full-batch "
        f"inertia: {config['best_inertia']:,.0f}. ms/step: slope between the {config['fixed_epochs']}-epoch and "
        "1-epoch fits with max_no_improvement=None.",
    ]
    return "\n".join(lines)


def main(argv: Sequence[str]) -> None:
    del argv
    warnings.simplefilter("ignore")

    import tensorflow as tf

    from tfkmeans.datasets import load_mnist

    x, _ = load_mnist("train", data_dir=FLAGS.data_dir)
    x = np.ascontiguousarray(x, dtype=np.float32)
    x64 = x.astype(np.float64)
    logging.info("MNIST train %s %s, k=%d, batch_size=%d", x.shape, x.dtype, FLAGS.k, FLAGS.batch_size)

    started = datetime.datetime.now(datetime.timezone.utc)
    machine = machine_info(["tensorflow", "numpy", "scikit-learn", "tfkmeans"])
    machine["tf_intra_op_threads"] = tf.config.threading.get_intra_op_parallelism_threads() or "default (all cores)"
    records = measure(x, x64)
    results = {
        "benchmark": "MiniBatchKMeans, MNIST train",
        "command": " ".join(["python -m benchmarks.minibatch", *sys.argv[1:]]),
        "started_utc": started.isoformat(timespec="seconds"),
        "config": {
            "k": FLAGS.k, "batch_size": FLAGS.batch_size, "max_iter": FLAGS.max_iter, "repeats": FLAGS.repeats,
            "seed": FLAGS.seed, "fixed_epochs": FLAGS.fixed_epochs, "best_inertia": FLAGS.best_inertia,
            "n_samples": x.shape[0], "n_features": x.shape[1],
        },
        "machine": machine,
        "descriptions": DESCRIPTIONS,
        "methods": {name: summarize_record(record) for name, record in records.items()},
    }
    results["load_average_at_end"] = machine_info()["load_average_1_5_15min"]
    if FLAGS.output:
        Path(FLAGS.output).parent.mkdir(parents=True, exist_ok=True)
        Path(FLAGS.output).write_text(json.dumps(results, indent=2) + "\n")
        logging.info("wrote %s", FLAGS.output)
    print(markdown_table(results))
    start, end = machine["load_average_1_5_15min"], results["load_average_at_end"]
    print(f"\nload average (1/5/15 min): start {start}, end {end}")


if __name__ == "__main__":
    app.run(main)
