"""REPORT.md from the experiments' ``metrics.json`` files: every seed figure beside ours.

The report is self-contained: the figures it shows are copied next to it under
``docs/report/<experiment>/`` (commit them with the report), and it names the
command and commit that produced it.

Each experiment writes ``<runs>/<name>/metrics.json`` with a list
``"seed_comparisons"`` (entries made by :func:`experiments.runner.seed_comparison`:
source, quantity, seed value, ours, definition, note, figures). This module only
reads those files: a new experiment needs only its name in :data:`STUDIES`.

:func:`build_report` is called by ``python -m experiments.all`` after the runs;
to rebuild the report from existing runs::

    python -m experiments.report                             # runs/ -> REPORT.md
    python -m experiments.report --output_dir=runs/quick --report=runs/quick/REPORT.md
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from absl import flags, logging

from experiments import runner

FLAGS = flags.FLAGS

flags.DEFINE_string(
    "report", None,
    "Markdown file to write. Default: REPORT.md, or <output_dir>/REPORT.md with --quick.",
)

#: File written by experiments.all beside the runs: wall time and exit status of each.
RUNS_INDEX = "all.json"

#: The experiments, in the order they run and are reported (``python -m experiments.<name>``).
STUDIES = (
    "naive", "restarts", "confusion", "tsne", "select_k", "minibatch", "autoencoder", "lenet", "deep",
)
#: Where the report's figures are copied, relative to the report.
FIGURES_DIR = Path("docs") / "report"

def experiment_order(names: Sequence[str]) -> list[str]:
    """``names`` in :data:`STUDIES` order, any others after them alphabetically."""
    known = [name for name in STUDIES if name in names]
    return known + sorted(name for name in names if name not in STUDIES)


def load_runs(runs_dir: str | Path) -> dict[str, tuple[Path, dict[str, Any]]]:
    """Every ``<runs_dir>/<name>/metrics.json``: name -> (its directory, its content)."""
    runs = {}
    for path in sorted(Path(runs_dir).glob("*/metrics.json")):
        try:
            runs[path.parent.name] = (path.parent, json.loads(path.read_text()))
        except json.JSONDecodeError as error:
            logging.warning("Skipping unreadable %s: %s", path, error)
    return {name: runs[name] for name in experiment_order(list(runs))}


def comparisons_of(metrics: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The experiment's seed comparisons (entries of :func:`experiments.runner.seed_comparison`)."""
    return [dict(entry) for entry in metrics.get("seed_comparisons", ())]


def _figure_paths(run_dir: Path, metrics: Mapping[str, Any]) -> dict[str, Path]:
    """The experiment's figures (name -> existing file), wherever metrics.json says they are."""
    found = {}
    for key, value in (metrics.get("figures") or {}).items():
        recorded = Path(str(value))
        for candidate in (run_dir / recorded, run_dir / recorded.name, recorded):
            if candidate.is_file():
                found[key] = candidate
                break
    return found


def _link(path: Path, report_dir: Path) -> str:
    """A Markdown-friendly path of ``path`` relative to the report (forward slashes)."""
    return Path(os.path.relpath(path.resolve(), report_dir.resolve())).as_posix()


def _shown(entry: Mapping[str, Any], key: str) -> str:
    value = entry.get(key)
    text = runner.format_value(value, entry.get("format", "number")) if value is not None else "-"
    if key == "seed_value" and entry.get("approximate"):
        text = "≈ " + text
    return text


def _seconds(value: Any) -> str | None:
    """Seconds to one decimal (the table's default of four would be noise)."""
    return None if value is None else f"{float(value):,.1f}"


def _cell(text: Any) -> str:
    """Text safe inside a Markdown table cell."""
    return str(text).replace("|", "\\|").replace("\n", " ")


def build_report(
    runs_dir: str | Path,
    report_path: str | Path,
    *,
    index: Mapping[str, Any] | None = None,
) -> str:
    """Write the report for the runs under ``runs_dir`` to ``report_path`` and return its text.

    Parameters
    ----------
    runs_dir : str or Path
        Directory holding one sub-directory per experiment (``<name>/metrics.json``).
    report_path : str or Path
        Markdown file to write; figure links are made relative to it.
    index : mapping, optional
        The content of ``<runs_dir>/all.json`` (per experiment ``seconds``,
        ``returncode``, ``command``); read from the file if not given.

    Returns
    -------
    str
        The Markdown text written.
    """
    runs_dir, report_path = Path(runs_dir), Path(report_path)
    report_dir = report_path.parent if str(report_path.parent) else Path(".")
    if index is None and (runs_dir / RUNS_INDEX).is_file():
        index = json.loads((runs_dir / RUNS_INDEX).read_text())
    index = index or {}
    statuses = index.get("experiments", {})
    runs = load_runs(runs_dir)
    quick = any(m.get("data", {}).get("quick") for _, m in runs.values()) or index.get("quick", False)

    commits = sorted({str(status["commit"]) for status in statuses.values() if status.get("commit")})
    lines = [
        "# Reproducing the seed studies of MNIST clustering",
        "",
        f"Generated by `python -m experiments.all{' --quick' if quick else ''}` (`make experiments`)"
        + (f" at commit `{commits[0]}`" if len(commits) == 1 else " at the commits in the timings table" if commits else "")
        + f", seed {index.get('seed', 0)}. Each experiment also writes a `summary.md` with its full tables "
        "and a `metrics.json` with every number to its output directory (`runs/<experiment>/`).",
        "",
    ]
    if quick:
        lines += ["**Quick mode: small random subsets and few iterations; the numbers are smoke-test output, "
                  "not comparable with the seeds.**", ""]

    headline = [
        (name, entry) for name, (_, metrics) in runs.items()
        for entry in comparisons_of(metrics) if entry.get("headline", True)
    ]
    lines += [
        "## Headline: the seeds' figures and ours",
        "",
        "| seed | quantity | seed's figure | ours | experiment |",
        "| --- | --- | ---: | ---: | --- |",
        *[f"| {_cell(e['source'])} | {_cell(e['quantity'])} | {_shown(e, 'seed_value')} | "
          f"{_shown(e, 'ours')} | [{name}](#{name}) |" for name, e in headline],
        "",
        "Definitions and the reasons for differences are in each experiment's section below.",
        "",
    ]

    # Timings: wall time of each experiment's process (from all.json) and its own total.
    timing_rows = []
    for name in experiment_order(list(set(runs) | set(statuses))):
        status = statuses.get(name, {})
        metrics = runs.get(name, (None, {}))[1]
        timing_rows.append({
            "experiment": name,
            "status": ("ok" if status.get("returncode") == 0 else f"failed ({status.get('returncode')})")
            if status else ("ok" if metrics else "-"),
            "commit": status.get("commit"),
            "wall s (process)": _seconds(status.get("seconds")),
            "in-script total s": _seconds((metrics.get("timings_s") or {}).get("total")),
        })
    total = sum(float(status.get("seconds") or 0) for status in statuses.values())
    lines += [
        "## Timings",
        "",
        runner.format_table(timing_rows, markdown=True),
        "",
        f"Total wall time {total:,.0f} s ({total / 60:.1f} min)"
        + (f" on {index['cpu_count']} CPU cores" if index.get("cpu_count") else "")
        + "; the process time includes starting Python and TensorFlow and loading MNIST.",
        "",
    ]

    for name, (run_dir, metrics) in runs.items():
        lines += [f"## {name}", ""]
        if metrics.get("title"):
            lines += [f"{metrics['title']}.", ""]
        if metrics.get("command"):
            lines += [f"`{metrics['command']}`", ""]
        entries = comparisons_of(metrics)
        if entries:
            lines += [
                "| seed | quantity | seed's figure | ours | our definition | difference |",
                "| --- | --- | ---: | ---: | --- | --- |",
                *[f"| {_cell(e['source'])} | {_cell(e['quantity'])} | {_shown(e, 'seed_value')} | "
                  f"{_shown(e, 'ours')} | {_cell(e['definition'])} | {_cell(e['note'])} |" for e in entries],
                "",
            ]
        figures = copy_figures(_figure_paths(run_dir, metrics), report_dir / FIGURES_DIR / name)
        lines += [f"![{path.stem}]({_link(path, report_dir)})" for path in figures] + ([""] if figures else [])

    text = "\n".join(lines).rstrip() + "\n"
    report_path.parent.mkdir(parents=True, exist_ok=True)
    report_path.write_text(text)
    logging.info("Wrote %s (%d experiments, %d headline figures)", report_path, len(runs), len(headline))
    return text


def copy_figures(figures: Mapping[str, Path], destination: Path) -> list[Path]:
    """Copy an experiment's figures into ``destination`` (emptied first, so no stale figure stays)."""
    if destination.is_dir():
        shutil.rmtree(destination)
    destination.mkdir(parents=True, exist_ok=True)
    return [Path(shutil.copy2(path, destination / path.name)) for path in figures.values()]


def default_report_path(runs_dir: str | Path, quick: bool) -> Path:
    """REPORT.md in the working directory, or inside ``runs_dir`` for a quick run (never clobber the real one)."""
    return Path(runs_dir) / "REPORT.md" if quick else Path("REPORT.md")


def main(argv: Sequence[str]) -> None:
    del argv
    runs_dir = Path(FLAGS.output_dir)
    report = Path(FLAGS.report) if FLAGS.report else default_report_path(runs_dir, FLAGS.quick)
    build_report(runs_dir, report)
    print(f"Wrote {report}")


if __name__ == "__main__":
    runner.set_defaults(output_dir="runs")
    runner.run(main)
