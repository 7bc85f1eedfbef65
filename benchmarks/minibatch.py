"""Mini-batch K-means on MNIST train: tfkmeans against scikit-learn, time and final inertia.

Both libraries are called as a user would: ``MiniBatchKMeans(k, batch_size=...,
max_iter=..., n_init=1, random_state=seed + repeat).fit(X)`` with their defaults
otherwise (k-means++ on ``3 * batch_size`` rows, reassignment_ratio 0.01, early
stopping after 10 steps without improvement of the smoothed batch inertia). A
timed fit is the whole ``fit``. scikit-learn runs with its default threads and
limited to one thread (``threadpoolctl``): its OpenMP barriers spin, and on a
loaded machine its threaded run can be many times slower. Repeats are
interleaved after one untimed warm-up fit each.

Each run stops early on its own, so the number of steps differs between fits
and methods; a second mode with early stopping off (``--fixed_epochs`` epochs)
gives the cost per step, the slope between a 1-epoch and an n-epoch fit.

Quality is the float64 inertia of the final centres on all of X, and its gap to
the best known full-batch K-means inertia (``--best_inertia``: scikit-learn
KMeans, best of 10 k-means++ runs, k=10).

Usage::

    python -m benchmarks.minibatch --targets=minibatch_quality
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
from absl import flags, logging

from benchmarks import _harness as harness
from benchmarks._peers import MINIBATCH, exact_inertia

FLAGS = harness.new_flags("minibatch", repeats=3)
flags.DEFINE_integer("k", 10, "Number of clusters.", flag_values=FLAGS)
flags.DEFINE_integer("batch_size", 1024, "Rows per mini-batch.", flag_values=FLAGS)
flags.DEFINE_integer("max_iter", 100, "max_iter (epochs) of the early-stopping fits.", flag_values=FLAGS)
flags.DEFINE_integer(
    "fixed_epochs", 5, "Epochs of the fixed-length fits (early stopping off); 0 skips that mode.", flag_values=FLAGS
)
flags.DEFINE_float(
    "best_inertia", 2_352_825.0, "Best known full-batch K-means inertia of the data for --k.", flag_values=FLAGS
)
flags.DEFINE_list("methods", list(MINIBATCH), "Methods to time.", flag_values=FLAGS)

#: Largest gap to the best full-batch inertia the target allows, in percent.
QUALITY_BOUND_PCT = 2.0


def measure(values: flags.FlagValues, x: np.ndarray, repeats: int) -> dict[str, dict[str, Any]]:
    """Warm-up, then interleaved repeats of the early-stopping fit (and the fixed-length pair)."""
    chosen = {name: MINIBATCH[name] for name in values.methods}
    k, batch = values.k, values.batch_size

    def run(name: str, seed: int, max_iter: int, max_no_improvement: Any):
        return chosen[name].fit(x, k, batch, max_iter, seed, max_no_improvement)

    records: dict[str, dict[str, list]] = {
        name: {"fit_s": [], "steps": [], "inertia": [], "ms_per_step": []} for name in chosen
    }
    for name in chosen:
        run(name, values.seed, values.max_iter, 10)
        if values.fixed_epochs:
            run(name, values.seed, 1, None)
    for repeat in range(repeats):
        seed = values.seed + repeat
        for name in chosen:
            seconds, fit = harness.timed(run, name, seed, values.max_iter, 10)
            records[name]["fit_s"].append(seconds)
            records[name]["steps"].append(fit.n_steps)
            records[name]["inertia"].append(exact_inertia(x, fit.centers))
            logging.info("repeat %d %-16s %.3f s, %d steps", repeat + 1, name, seconds, fit.n_steps)
            if values.fixed_epochs:
                t1, fit1 = harness.timed(run, name, seed, 1, None)
                tn, fitn = harness.timed(run, name, seed, values.fixed_epochs, None)
                records[name]["ms_per_step"].append(1e3 * (tn - t1) / max(fitn.n_steps - fit1.n_steps, 1))
    return {
        name: {key: harness.summarize(series) if series else None for key, series in record.items()}
        for name, record in records.items()
    }


def results_table(summaries: dict[str, Any], best: float) -> str:
    reference = next(iter(summaries))
    rows = []
    for name, m in summaries.items():
        fit, steps, inertia = m["fit_s"], m["steps"], m["inertia"]
        per_step = f"{m['ms_per_step'].median:.2f}" if m["ms_per_step"] else "–"
        rows.append(
            [
                name,
                f"{fit.median:.3f} [{fit.min:.3f}–{fit.max:.3f}]",
                harness.ratio(fit.median, summaries[reference]["fit_s"].median),
                f"{steps.median:.0f} [{steps.min:.0f}–{steps.max:.0f}]",
                per_step,
                f"{inertia.median:,.0f}",
                f"{100 * (inertia.median / best - 1):+.2f} %",
            ]
        )
    return harness.markdown_table(
        [
            "method",
            "whole fit, s, median [min–max]",
            f"× {reference}",
            "steps",
            "ms/step (early stop off)",
            "final inertia, median",
            "gap to best K-means",
        ],
        rows,
    )


def main(values: flags.FlagValues, argv: list[str]) -> None:
    harness.check_methods(values.methods, MINIBATCH)
    for target in values.targets:
        if target != "minibatch_quality" or "tfkmeans" not in values.methods:
            raise harness.UsageError("benchmarks.minibatch reports only 'minibatch_quality' (with tfkmeans)")
    warnings.simplefilter("ignore")
    machine = harness.machine_info()
    x = harness.load_train(values)
    repeats = harness.repeats(values)
    summaries = measure(values, x, repeats)
    rows = []
    if values.targets:
        median = summaries["tfkmeans"]["inertia"].median
        gap = 100 * (median / values.best_inertia - 1)
        figure = f"median final inertia {median:,.0f} against {values.best_inertia:,.0f}"
        rows.append(harness.TargetRow("minibatch_quality", figure, f"{gap:+.2f} %", gap <= QUALITY_BOUND_PCT))
    method = (
        f"{x.shape[0]:,} × {x.shape[1]} float32, k={values.k}, `batch_size={values.batch_size}`, "
        f"`max_iter={values.max_iter}`, `n_init=1`, each library's defaults (early stopping on); {repeats} interleaved "
        f"repeats after a warm-up, medians [min–max]; ms/step from fits of 1 and {values.fixed_epochs} epochs with "
        f"early stopping off; gap to the best full-batch inertia ({values.best_inertia:,.0f}). Methods: "
        + "; ".join(f"`{name}`: {MINIBATCH[name].description}" for name in values.methods)
        + "."
    )
    harness.publish(
        values,
        "benchmarks.minibatch",
        argv,
        machine,
        method,
        results_table(summaries, values.best_inertia),
        rows,
        summaries,
    )


def cli(argv: Sequence[str] | None = None) -> None:
    """Run with ``argv`` (default: the command line)."""
    harness.run(main, FLAGS, argv)


if __name__ == "__main__":
    cli()
