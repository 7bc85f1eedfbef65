"""The scaling study's pure parts: centres, clipping, iteration counts, the table.

Kept apart from ``benchmarks/scaling.py`` and its absl flags so that tests can
import them next to the experiments' flags.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np


def initial_centres(x: np.ndarray, k: int, seed: int) -> np.ndarray:
    """k distinct rows of ``x`` drawn at random: the same start for every method."""
    rows = np.random.default_rng(seed).choice(len(x), size=k, replace=False)
    return np.ascontiguousarray(x[np.sort(rows)])


def within(value: float, lowest: int, highest: int) -> int:
    """``value`` rounded down, then clipped to ``[lowest, highest]``."""
    return min(max(int(value), lowest), highest)


def iters_run(reported: Sequence[Sequence[int]]) -> int | None:
    """Iterations of the long fit if every repeat's pair of fits reported (1, the same m ≥ 2), else None.

    A fit that converged before ``max_iter`` did fewer iterations; the slope is
    still right with its own count, as long as the count does not vary.
    """
    counts = {tuple(pair) for pair in reported}
    if len(counts) != 1:
        return None
    ((short, long),) = counts
    return long if short == 1 and long >= 2 else None


def copies_of_data(extra_mb: float, n: int, n_features: int) -> float:
    """Extra peak memory in copies of the float32 data (N × D × 4 bytes): what the figure and the table show."""
    return extra_mb * 2**20 / (n * n_features * 4)


def markdown_table(results: dict[str, Any]) -> str:
    """One row per (N, k): ms per iteration and extra peak memory of each method.

    Times are the slope between medians / between minima. ``m`` is the asked
    iterations of the long fit; a method that converged sooner shows its own
    after its times. Memory is the fit's extra peak in MB and in copies of X;
    "–" where it was not measured.
    """
    methods = results["config"]["methods"]
    d = results["config"]["n_features"]
    header = (
        ["N", "k", "m × repeats"]
        + [f"{name} ms/iter (medians / minima)" for name in methods]
        + [f"{name} extra peak MB (copies of X)" for name in methods]
        + ["data MB (N×D×4)", "N×k×D×4 MB"]
    )
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for cell in results["cells"]:
        n, k = cell["n"], cell["k"]
        times = []
        for name in methods:
            timing = cell["timing"][name]
            if timing["ms_per_iter"] is None:
                times.append("m varied")
                continue
            # m of a fit that converged before the asked iterations.
            converged = f" (m={timing['iters_run']})" if timing["iters_run"] != cell["iters"] else ""
            per_iter = timing["ms_per_iter"]
            times.append(f"{per_iter['median']:,.1f} / {per_iter['min']:,.1f}{converged}")
        memory = []
        for name in methods:
            probe = cell["memory"].get(name)
            memory.append(
                "–" if probe is None else f"{probe['extra_mb']:,.0f} ({copies_of_data(probe['extra_mb'], n, d):.2f})"
            )
        lines.append(
            f"| {n:,} | {k:,} | {cell['iters']} × {cell['repeats']} | "
            + " | ".join(times + memory)
            + f" | {n * d * 4 / 2**20:,.0f} | {n * k * d * 4 / 2**20:,.0f} |"
        )
    return "\n".join(lines)
