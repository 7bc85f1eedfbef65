"""Whole fits on MNIST train, end to end: ``KMeans(k, n_init=10).fit(X)`` and fits to convergence, against peers.

Each library is called the way a user would, with its defaults (its own
k-means++ seeding, ``tol=1e-4`` where it has one), and timed end to end.
tfkmeans's default (``algorithm='auto'``) seeds its restarts together and
iterates them with bounds; ``tfkmeans_<algorithm>`` forces an algorithm
(``tfkmeans_lloyd`` iterates every run in shared passes), and
``tfkmeans_one_by_one`` fits the same runs as separate ``KMeans(n_init=1)``
fits replaying the same seeds. FAISS runs its defaults (random initial
centres, 25 iterations, ``nredo=n_init``). With ``--n_init=1`` the table
compares single fits to convergence; fits then differ in length between
libraries, since each seeds itself.

Methods are timed round-robin, ``--repeats`` times, each repeat with a new
``random_state`` shared by all of them, after one untimed warm-up fit each
(tfkmeans traces its graphs there). The final inertia of each fit is
recomputed the same way for all (float64, exact differences).

Usage::

    python -m benchmarks.restarts --section=restarts --targets=restarts
    python -m benchmarks.restarts --k=100 --n_init=1 --peers=sklearn --section=k100 --targets=k100_convergence
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
from absl import flags, logging

from benchmarks import _harness as harness
from benchmarks._peers import Method, exact_inertia, methods

FLAGS = harness.new_flags("restarts", repeats=3)
flags.DEFINE_integer("k", 10, "Number of clusters.", flag_values=FLAGS)
flags.DEFINE_integer("n_init", 10, "Restarts per fit.", flag_values=FLAGS)
flags.DEFINE_list(
    "algorithms", ["auto", "lloyd"], "tfkmeans KMeans algorithms to time ('auto': the default).", flag_values=FLAGS
)
flags.DEFINE_list(
    "peers",
    ["tfkmeans_one_by_one", "sklearn", "faiss"],
    "Other methods to time (benchmarks._peers).",
    flag_values=FLAGS,
)

#: Targets this script reports, with the bound on tfkmeans ÷ scikit-learn (median seconds per fit).
TARGET_BOUNDS = {"restarts": 0.15, "k100_convergence": 0.15}


def measure(methods_: dict[str, Method], x: np.ndarray, k: int, n_init: int, repeats: int) -> dict[str, Any]:
    """Seconds and final inertia of every method's fits, round-robin, one ``random_state`` per repeat."""
    for name, method in methods_.items():
        logging.info("warm-up: %s", name)
        method.fit(x, k, n_init=n_init, seed=repeats)  # same shapes as the timed fits: nothing left to trace
    records: dict[str, dict[str, list]] = {name: {"seconds": [], "inertia": []} for name in methods_}
    for repeat in range(repeats):
        for name, method in methods_.items():
            seconds, fit = harness.timed(method.fit, x, k, n_init=n_init, seed=repeat)
            records[name]["seconds"].append(seconds)
            records[name]["inertia"].append(exact_inertia(x, fit.centers))
            logging.info("repeat %d %s: %.2f s, inertia %.1f", repeat, name, seconds, records[name]["inertia"][-1])
    return {
        name: {"seconds": harness.summarize(r["seconds"]), "inertia": harness.summarize(r["inertia"]), "raw": r}
        for name, r in records.items()
    }


def results_table(summaries: dict[str, Any], reference: str) -> str:
    ref = summaries[reference]["seconds"]
    rows = [
        [
            name,
            f"{m['seconds'].median:.2f}",
            f"{m['seconds'].min:.2f}",
            harness.ratio(m["seconds"].median, ref.median),
            harness.ratio(m["seconds"].min, ref.min),
            f"{m['inertia'].min:,.1f}",
            f"{m['inertia'].median:,.1f}",
        ]
        for name, m in summaries.items()
    ]
    return harness.markdown_table(
        [
            "method",
            "s per fit, median",
            "min",
            f"× {reference} (medians)",
            f"× {reference} (minima)",
            "best inertia",
            "median inertia",
        ],
        rows,
    )


def target_rows(names: Sequence[str], summaries: dict[str, Any], n_init: int) -> list[harness.TargetRow]:
    rows = []
    for name in names:
        ours, sklearn = summaries["tfkmeans"], summaries["sklearn"]
        value = ours["seconds"].median / sklearn["seconds"].median
        same_or_lower = ours["inertia"].median <= sklearn["inertia"].median * (1 + 1e-6)
        figure = (
            f"s per fit (median): default {ours['seconds'].median:.2f}, scikit-learn "
            f"{sklearn['seconds'].median:.2f}; median inertia {ours['inertia'].median:,.0f} against "
            f"{sklearn['inertia'].median:,.0f}"
        )
        met = value <= TARGET_BOUNDS[name] and (same_or_lower or n_init == 1)
        rows.append(harness.TargetRow(name, figure, f"{value:.2f}× scikit-learn", met))
    return rows


def main(values: flags.FlagValues, argv: list[str]) -> None:
    chosen = methods(values.peers, values.algorithms)
    for target in values.targets:
        if target not in TARGET_BOUNDS:
            raise harness.UsageError(f"benchmarks.restarts reports none of the target {target!r}")
        if not {"tfkmeans", "sklearn"} <= chosen.keys():
            raise harness.UsageError(f"target {target!r} needs the methods tfkmeans and sklearn")
    warnings.simplefilter("ignore")
    machine = harness.machine_info()
    x = harness.load_train(values)
    repeats = harness.repeats(values)
    summaries = measure(chosen, x, values.k, values.n_init, repeats)
    reference = "sklearn" if "sklearn" in summaries else next(iter(summaries))
    method = (
        f"{x.shape[0]:,} × {x.shape[1]} float32, k={values.k}, `n_init={values.n_init}`, each library's defaults "
        f"and own seeding; whole `fit` timed, {repeats} repeats round-robin (repeat r: `random_state=r`) after a "
        "warm-up; inertia recomputed in float64. Methods: "
        + "; ".join(f"`{name}`: {m.description}" for name, m in chosen.items())
        + "."
    )
    harness.publish(
        values,
        "benchmarks.restarts",
        argv,
        machine,
        method,
        results_table(summaries, reference),
        target_rows(values.targets, summaries, values.n_init),
        summaries,
    )


def cli(argv: Sequence[str] | None = None) -> None:
    """Run with ``argv`` (default: the command line)."""
    harness.run(main, FLAGS, argv)


if __name__ == "__main__":
    cli()
