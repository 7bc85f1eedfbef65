"""Run every experiment with its default flags, then write REPORT.md.

The experiments are the modules named in :data:`experiments.report.STUDIES`, run
in that order, each in its own process (``python -m experiments.<name>``; absl
flags are per process). A failing experiment is logged and the others still
run; the exit status is then non-zero.

Each writes to ``<output_dir>/<name>/`` (its console output to ``run.log``
there); wall times, exit statuses and the commit each ran at go to ``<output_dir>/all.json``;
then :func:`experiments.report.build_report` writes the report.

Usage::

    python -m experiments.all                    # runs/<name>/, REPORT.md   (make experiments)
    python -m experiments.all --quick            # runs/quick/<name>/, runs/quick/REPORT.md
    python -m experiments.all --only=confusion,tsne --report=runs/REPORT-partial.md
    python -m experiments.all --skip=restarts

``--quick``, ``--seed`` and ``--data_dir`` are passed through to every experiment.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from absl import flags, logging

from experiments import report, runner

FLAGS = flags.FLAGS

flags.DEFINE_list("only", [], "Run only these experiments (default: all of them).")
flags.DEFINE_list("skip", [], "Experiments not to run.")

#: Where quick runs go unless --output_dir is given (keeps the full runs intact).
QUICK_OUTPUT_DIR = "runs/quick"


def source_commit() -> str | None:
    """The checkout's commit (``<hash>-dirty`` with uncommitted changes), or None outside git."""
    repository = Path(__file__).resolve().parents[1]
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=repository, capture_output=True, text=True, check=True
        ).stdout.strip()
        changes = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=repository,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None
    return f"{commit}-dirty" if changes else commit


def experiment_command(name: str, output_dir: Path) -> list[str]:
    """The command line of one experiment, with the shared flags passed through."""
    command = [sys.executable, "-m", f"experiments.{name}", f"--output_dir={output_dir}", f"--seed={FLAGS.seed}"]
    if FLAGS.quick:
        command.append("--quick")
    if FLAGS.data_dir:
        command.append(f"--data_dir={FLAGS.data_dir}")
    return command


def run_experiment(name: str, runs_dir: Path) -> dict[str, object]:
    """Run one experiment in its own process; return its wall time, exit status and command."""
    output_dir = runs_dir / name
    output_dir.mkdir(parents=True, exist_ok=True)
    command = experiment_command(name, output_dir)
    log_path = output_dir / "run.log"
    logging.info("Running %s (log: %s)", " ".join(command[1:]), log_path)
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": os.environ.get("TF_CPP_MIN_LOG_LEVEL", "2")}
    started = time.perf_counter()
    with open(log_path, "w") as log:
        completed = subprocess.run(command, stdout=log, stderr=subprocess.STDOUT, env=env, check=False)
    seconds = time.perf_counter() - started
    if completed.returncode == 0:
        logging.info("%s finished in %.1f s", name, seconds)
    else:
        tail = "".join(log_path.read_text(errors="replace").splitlines(keepends=True)[-25:])
        logging.error(
            "%s FAILED (exit %d) after %.1f s; end of %s:\n%s", name, completed.returncode, seconds, log_path, tail
        )
    return {
        "seconds": seconds,
        "returncode": completed.returncode,
        "command": " ".join(["python", *command[1:]]),
        "log": str(log_path),
    }


def selected_studies() -> list[str]:
    """The studies of :data:`experiments.report.STUDIES` that ``--only`` and ``--skip`` leave, in order."""
    unknown = (set(FLAGS.only) | set(FLAGS.skip)) - set(report.STUDIES)
    if unknown:
        raise SystemExit(f"unknown experiments {sorted(unknown)}; the experiments are {list(report.STUDIES)}")
    return [name for name in report.STUDIES if (not FLAGS.only or name in FLAGS.only) and name not in FLAGS.skip]


def write_index(index_path: Path, statuses: dict[str, dict[str, object]]) -> dict[str, object]:
    """Write all.json (the runs' wall times, exit statuses and commits) and return its content."""
    index = {
        "quick": FLAGS.quick,
        "seed": FLAGS.seed,
        "cpu_count": os.cpu_count(),
        "experiments": {name: statuses[name] for name in report.experiment_order(list(statuses))},
    }
    index_path.write_text(json.dumps(runner.to_jsonable(index), indent=2) + "\n")
    return index


def print_outcome(index: dict[str, object], names: Sequence[str], seconds: float, report_path: Path) -> int:
    """Print each run's status and the total time; return the exit status (1 if any run failed)."""
    rows = [
        {
            "experiment": n,
            "status": "ok" if s["returncode"] == 0 else f"FAILED ({s['returncode']})",
            "seconds": s["seconds"],
        }
        for n, s in index["experiments"].items()
        if n in names
    ]
    print(runner.format_table(rows))
    print(f"total {seconds:.0f} s; report: {report_path}")
    failed = [row["experiment"] for row in rows if row["status"] != "ok"]
    if failed:
        logging.error("Failed: %s", ", ".join(failed))
        return 1
    return 0


def main(argv: Sequence[str]) -> int:
    del argv
    runs_dir = Path(FLAGS.output_dir if FLAGS["output_dir"].present or not FLAGS.quick else QUICK_OUTPUT_DIR)
    report_path = Path(FLAGS.report) if FLAGS.report else report.default_report_path(runs_dir, FLAGS.quick)
    names = selected_studies()
    logging.info("Experiments: %s -> %s", ", ".join(names), runs_dir)

    runs_dir.mkdir(parents=True, exist_ok=True)
    commit = source_commit()
    index_path = runs_dir / report.RUNS_INDEX
    # Keep the entries of experiments not re-run this time (e.g. with --only).
    previous = json.loads(index_path.read_text()).get("experiments", {}) if index_path.is_file() else {}
    statuses = {name: previous[name] for name in previous if name in report.STUDIES and name not in names}
    with runner.timed("all experiments") as total:
        for name in names:
            statuses[name] = {**run_experiment(name, runs_dir), "commit": commit}
            write_index(index_path, statuses)  # after every experiment, so an interrupted run keeps what finished
    index = write_index(index_path, statuses)
    report.build_report(runs_dir, report_path, index=index)
    return print_outcome(index, names, total.seconds, report_path)


if __name__ == "__main__":
    runner.set_defaults(output_dir="runs")
    runner.run(main)
