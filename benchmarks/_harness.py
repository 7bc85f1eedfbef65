"""What every benchmark shares: its flags, timing, the machine record, markdown, and BENCHMARKS.md.

A benchmark script builds its flags with :func:`new_flags` (the common ones
defined here, its own added with ``flag_values=``), measures, and hands its
tables to :func:`publish`, which writes them into ``BENCHMARKS.md`` between the
script's marker comments (``<!-- bench:NAME -->`` ... ``<!-- /bench:NAME -->``)
with the machine, the method and the command beside them, and its target rows
into the summary table (``<!-- bench:summary -->``). Everything outside the
markers is hand-written prose and is left as it is.

Each script has its own :class:`absl.flags.FlagValues`, so every script can be
imported and run in one process (the tests do) without flag-name clashes.
"""

from __future__ import annotations

import gc
import importlib
import importlib.metadata
import importlib.util
import json
import os
import platform
import re
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
from absl import flags, logging

#: Rows of MNIST train a ``--quick`` run uses.
QUICK_ROWS = 2000
#: The packages whose versions the machine record lists.
VERSIONED = ("tensorflow", "numpy", "sklearn", "faiss", "tfkmeans")


class UsageError(ValueError):
    """A bad command line: printed without a traceback, exit status 2."""


# ---------------------------------------------------------------- flags


def new_flags(name: str, repeats: int) -> flags.FlagValues:
    """A script's own flag set holding the flags every benchmark has; add the script's own with ``flag_values=``."""
    values = flags.FlagValues()
    flags.DEFINE_string(
        "data_dir", None, "MNIST directory; default: $TFKMEANS_DATA_DIR or tensorflow-datasets.", flag_values=values
    )
    flags.DEFINE_integer("repeats", repeats, "Timed repeats (the tables show their medians).", flag_values=values)
    flags.DEFINE_integer("seed", 0, "Seed of the initial centres or of the first repeat.", flag_values=values)
    flags.DEFINE_string(
        "output", None, "Also write every measurement and the machine record to this JSON file.", flag_values=values
    )
    flags.DEFINE_string(
        "bench_file",
        "BENCHMARKS.md",
        "Markdown file whose marked section receives the table; empty: print only.",
        flag_values=values,
    )
    flags.DEFINE_string(
        "section", name, "Name in the file's markers: <!-- bench:NAME --> ... <!-- /bench:NAME -->.", flag_values=values
    )
    flags.DEFINE_list(
        "targets", [], "Performance targets this run reports in the summary table (see TARGETS).", flag_values=values
    )
    flags.DEFINE_bool(
        "quick", False, f"Smoke run: the first {QUICK_ROWS:,} MNIST rows, small sizes, 1 repeat.", flag_values=values
    )
    return values


def run(
    main: Callable[[flags.FlagValues, list[str]], None], values: flags.FlagValues, argv: Sequence[str] | None = None
) -> None:
    """Parse ``argv`` (default: the command line) into ``values`` and call ``main(values, argv)``.

    Flags left out of ``argv`` take their defaults even when ``values`` was parsed before.
    Usage errors exit with status 2 after one line on standard error. Progress (the scripts'
    ``logging.info`` lines) goes to standard error: a benchmark runs for minutes.
    """
    argv = list(sys.argv if argv is None else argv)
    logging.set_verbosity(logging.INFO)
    try:
        values.unparse_flags()
        values(argv)
        unknown = [t for t in values.targets if t not in TARGETS]
        if unknown:
            raise UsageError(f"unknown --targets {unknown}; choose from {sorted(TARGETS)}")
        main(values, argv)
    except (flags.Error, UsageError) as error:
        print(f"{argv[0]}: {error}", file=sys.stderr)
        raise SystemExit(2) from error


def repeats(values: flags.FlagValues) -> int:
    """The timed repeats: 1 in a quick run."""
    return 1 if values.quick else values.repeats


def check_methods(requested: Sequence[str], available: Iterable[str]) -> None:
    """A usage error naming the unknown ones, if any of ``requested`` is not ``available``."""
    unknown = [m for m in requested if m not in available]
    if unknown:
        raise UsageError(f"unknown methods {unknown}; choose from {sorted(available)}")


def command(script: str, argv: Sequence[str]) -> str:
    """The command that reproduces a run: the script and its flags, less where the results were written."""
    kept = [a for a in argv[1:] if not a.startswith(("--output", "--bench_file"))]
    return " ".join(["python -m", script, *kept])


# ---------------------------------------------------------------- data


def load_train(values: flags.FlagValues, n_samples: int = 0) -> np.ndarray:
    """MNIST train as float32 (n, 784) rows in [0, 1]; ``n_samples`` > 0 picks N rows or shifted copies.

    A quick run takes the first :data:`QUICK_ROWS` rows whatever ``n_samples`` asks.
    """
    from benchmarks._mnist10x import load_points

    return load_points(QUICK_ROWS if values.quick else n_samples or 60_000, values.data_dir)


# ---------------------------------------------------------------- timing


def timed(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> tuple[float, Any]:
    """Seconds of wall-clock time ``fn(*args, **kwargs)`` takes, and its result.

    Garbage from earlier calls is collected first and the collector is paused
    during the call, so a collection triggered by someone else's garbage does
    not land in this measurement.
    """
    gc.collect()
    gc.disable()
    try:
        start = time.perf_counter()
        result = fn(*args, **kwargs)
        elapsed = time.perf_counter() - start
    finally:
        gc.enable()
    return elapsed, result


class Summary(NamedTuple):
    median: float
    min: float
    max: float
    n: int


def summarize(values: Sequence[float]) -> Summary:
    """Median, minimum and maximum of repeated measurements."""
    if not len(values):
        raise ValueError("no measurements to summarise")
    ordered = sorted(values)
    n = len(ordered)
    middle = n // 2
    median = ordered[middle] if n % 2 else 0.5 * (ordered[middle - 1] + ordered[middle])
    return Summary(median, ordered[0], ordered[-1], n)


def slope_per_iteration(t1: Sequence[float], tn: Sequence[float], n: int) -> dict[str, float]:
    """Seconds one more iteration costs: ``(T(n) - T(1)) / (n - 1)`` from repeated 1- and n-iteration fits.

    Taken between the medians of the two series (and, as a best case, between
    their minima), not as a median of per-repeat slopes: one stalled
    1-iteration fit would make its repeat's slope meaningless.
    """
    if n < 2:
        raise ValueError(f"the slope needs fits of 1 and of at least 2 iterations, got n={n}")
    short, long = summarize(t1), summarize(tn)
    return {"median": (long.median - short.median) / (n - 1), "min": (long.min - short.min) / (n - 1)}


def status_kib(status: str, field: str) -> int:
    """A ``kB`` field (``VmRSS``, ``VmHWM``) of a ``/proc/<pid>/status`` text, in KiB."""
    for line in status.splitlines():
        name, _, value = line.partition(":")
        if name == field:
            number, unit = value.split()
            if unit != "kB":
                raise ValueError(f"{field}: unexpected unit {unit!r}")
            return int(number)
    raise KeyError(f"no {field} in the status text")


def own_status_kib(field: str) -> int:
    """A ``kB`` field of this process's ``/proc/self/status`` (``VmRSS``: resident now; ``VmHWM``: its peak)."""
    return status_kib(Path("/proc/self/status").read_text(), field)


def fresh_process_record(module: str, args: Sequence[str]) -> dict[str, Any]:
    """Run ``python -m module *args`` from the repository's root in a new process; the JSON its last line prints.

    For measurements a long-lived benchmark process would distort, such as the peak memory of one fit.
    """
    command = [sys.executable, "-m", module, *args]
    root = Path(__file__).resolve().parents[1]
    done = subprocess.run(command, cwd=root, capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


# ---------------------------------------------------------------- machine record


def _cpu() -> dict[str, Any]:
    """Model name, family/model numbers (virtual machines often hide the name) and vector extensions."""
    fields: dict[str, str] = {}
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                key, _, value = line.partition(":")
                key = key.strip()
                if not key:
                    break  # end of the first processor's block
                fields[key] = value.strip()
    except OSError:
        pass
    flags_ = set(fields.get("flags", "").split())
    return {
        "model": fields.get("model name") or platform.processor() or platform.machine(),
        "vector_extensions": [x for x in ("avx2", "fma", "avx512f", "avx512_bf16", "amx_tile") if x in flags_],
        "hypervisor": "hypervisor" in flags_,
    }


def _memory_gib() -> float | None:
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemTotal:"):
                    return round(int(line.split()[1]) / 2**20, 1)
    except OSError:
        pass
    return None


def _version(name: str) -> str | None:
    """Version of an installed module (``sklearn``) or distribution, None when absent."""
    try:
        return importlib.metadata.version({"sklearn": "scikit-learn", "faiss": "faiss-cpu"}.get(name, name))
    except importlib.metadata.PackageNotFoundError:
        return None


#: What a benchmark measures: edits elsewhere (BENCHMARKS.md, which the benchmarks themselves rewrite) do
#: not make a measurement "dirty".
MEASURED_PATHS = ("tfkmeans", "benchmarks")


def source_revision(module: str = "tfkmeans") -> dict[str, Any]:
    """:func:`checkout_state` of the checkout ``module`` was imported from."""
    spec = importlib.util.find_spec(module)
    return checkout_state(Path(spec.origin).parent if spec and spec.origin else Path.cwd())


def checkout_state(directory: Path) -> dict[str, Any]:
    """The git commit of the checkout holding ``directory``, and whether :data:`MEASURED_PATHS` have
    uncommitted edits there; empty outside git."""

    def git(*args: str) -> str:
        return subprocess.run(["git", "-C", str(directory), *args], capture_output=True, text=True, check=True).stdout

    try:
        measured = [f":(top){path}" for path in MEASURED_PATHS]
        return {
            "commit": git("rev-parse", "HEAD").strip(),
            "dirty": bool(git("status", "--porcelain", "--untracked-files=no", "--", *measured).strip()),
        }
    except (OSError, subprocess.CalledProcessError):
        return {}


def machine_info() -> dict[str, Any]:
    """CPU, cores, memory, load, threading environment, versions and the commit measured."""
    return {
        "cpu": _cpu(),
        "usable_cpus": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
        "memory_gib": _memory_gib(),
        "load_average_1_5_15min": [round(x, 2) for x in os.getloadavg()],
        "python": platform.python_version(),
        "thread_env": {
            name: os.environ[name]
            for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
            if name in os.environ
        },
        "versions": {name: _version(name) for name in VERSIONED},
        "source": source_revision(),
    }


def short_commit(machine: dict[str, Any]) -> str:
    """The measured commit, abbreviated, with ``+edits`` when the checkout had uncommitted changes."""
    source = machine.get("source", {})
    if "commit" not in source:
        return "unknown"
    return source["commit"][:7] + ("+edits" if source["dirty"] else "")


def machine_line(machine: dict[str, Any]) -> str:
    """The machine record as one markdown sentence."""
    cpu = machine["cpu"]
    extensions = "/".join(cpu["vector_extensions"]) or "no AVX2"
    versions = ", ".join(f"{name} {version}" for name, version in machine["versions"].items() if version)
    load = "/".join(f"{x:.1f}" for x in machine["load_average_1_5_15min"])
    threads = ", ".join(f"{k}={v}" for k, v in machine["thread_env"].items()) or "default threads"
    return (
        f"{cpu['model']} ({extensions}{', virtual' if cpu['hypervisor'] else ''}), {machine['usable_cpus']} cores, "
        f"{machine['memory_gib']} GiB, no GPU used; load {load} at the start; {threads}; Python {machine['python']}, "
        f"{versions}; commit `{short_commit(machine)}`"
    )


# ---------------------------------------------------------------- markdown


def markdown_table(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    """A GitHub markdown table; cells are written with ``str``."""
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def ms(seconds: float) -> str:
    """Seconds as milliseconds, one decimal below a second."""
    value = 1e3 * seconds
    return f"{value:,.1f}" if value < 1000 else f"{value:,.0f}"


def ratio(numerator: float, denominator: float) -> str:
    return f"{numerator / denominator:.2f}" if denominator else "–"


def markers(section: str) -> tuple[str, str]:
    return f"<!-- bench:{section} -->", f"<!-- /bench:{section} -->"


def replace_section(text: str, section: str, body: str) -> str:
    """``text`` with what lies between the section's markers replaced by ``body``; the rest unchanged."""
    begin, end = markers(section)
    pattern = re.compile(re.escape(begin) + r"\n.*?" + re.escape(end), re.DOTALL)
    if len(pattern.findall(text)) != 1:
        raise ValueError(f"expected exactly one {begin} ... {end} pair, each marker on its own line")
    return pattern.sub(lambda _: f"{begin}\n{body.strip()}\n{end}", text)


def section_body(text: str, section: str) -> str:
    """What lies between the section's markers."""
    begin, end = markers(section)
    match = re.search(re.escape(begin) + r"\n(.*?)" + re.escape(end), text, re.DOTALL)
    if match is None:
        raise ValueError(f"no {begin} ... {end} pair")
    return match.group(1)


def report(
    values: flags.FlagValues, script: str, argv: Sequence[str], machine: dict[str, Any], method: str, table: str
) -> str:
    """A section's generated text: the machine, the method and the command, then the table."""
    quick = " **Quick run (`--quick`): smoke-test sizes, not a measurement.**" if values.quick else ""
    return f"Machine: {machine_line(machine)}.{quick}\nMethod: {method}\nCommand: `{command(script, argv)}`\n\n{table}"


# ---------------------------------------------------------------- targets


class Target(NamedTuple):
    """A performance target: what is asked, and the issue that asked it."""

    text: str
    issue: int


#: Every target of the summary table, in its order; scripts report rows by these names (``--targets``).
TARGETS: dict[str, Target] = {
    "k1000_50": Target(
        "MNIST k=1,000, 50 iterations from the same centres (`tol=0`): default ≤ 0.25× FAISS and ≤ 0.25× scikit-learn",
        14,
    ),
    "k100_convergence": Target("MNIST k=100, one fit to convergence ≤ 0.15× scikit-learn", 14),
    "large_per_iter": Target("600,000 × 1,000 in memory ≤ 0.3× FAISS per iteration over 30 iterations", 14),
    "restarts": Target("`KMeans(10, n_init=10)` end to end ≤ 0.15× scikit-learn, same or lower inertia", 14),
    "fixed_cost": Target("a 5-iteration k=10 fit ≤ 1.5× its iterations alone", 14),
    "streamed_pass": Target("streamed `tf.data` pass ≤ 2× the in-memory pass on the same rows", 14),
    "streamed_memory": Target("streamed fit of 600,000 × 784: peak RSS < 1 GB", 14),
    "k10_per_iter": Target("MNIST k=10, default's time per iteration ≤ 0.4× scikit-learn", 5),
    "seeding_k1000": Target("k-means++ at k=1,000 no slower than scikit-learn", 5),
    "minibatch_quality": Target("`MiniBatchKMeans` final inertia within 2 % of the best full-batch K-means", 5),
}
SUMMARY_HEADER = ("target (issue)", "measured", "ratio", "status", "commit", "command")


class TargetRow(NamedTuple):
    """One measured target: the figures, the ratio compared with the bound, and whether it is met."""

    name: str
    figure: str
    ratio: str
    met: bool


def target_cells(row: TargetRow, machine: dict[str, Any], cmd: str, quick: bool) -> list[str]:
    target = TARGETS[row.name]
    status = "quick run" if quick else ("met" if row.met else "not met")
    return [f"{target.text} ({target.issue})", row.figure, row.ratio, status, f"`{short_commit(machine)}`", f"`{cmd}`"]


def update_summary(summary: str, cells_by_target: dict[str, list[str]]) -> str:
    """The summary table with the rows of ``cells_by_target`` replaced, in :data:`TARGETS` order.

    A target with no row yet shows "not measured"; rows of the other targets are kept as they are.
    """
    known: dict[str, list[str]] = {}
    for line in summary.splitlines()[2:]:
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        for name, target in TARGETS.items():
            if cells and cells[0] == f"{target.text} ({target.issue})":
                known[name] = cells
    known.update(cells_by_target)
    rows = [
        known.get(name, [f"{t.text} ({t.issue})", "not measured", "–", "–", "–", "`make bench`"])
        for name, t in TARGETS.items()
    ]
    return markdown_table(SUMMARY_HEADER, rows)


def publish(
    values: flags.FlagValues,
    script: str,
    argv: Sequence[str],
    machine: dict[str, Any],
    method: str,
    table: str,
    targets: Sequence[TargetRow] = (),
    results: dict[str, Any] | None = None,
) -> str:
    """Print the section, write it (and the target rows) into ``--bench_file``, the results into ``--output``."""
    text = report(values, script, argv, machine, method, table)
    print(text)
    if values.output:
        Path(values.output).parent.mkdir(parents=True, exist_ok=True)
        record = {"command": command(script, argv), "machine": machine, "results": results or {}}
        Path(values.output).write_text(json.dumps(record, indent=2, default=_jsonable) + "\n")
    if values.bench_file:
        path = Path(values.bench_file)
        document = replace_section(path.read_text(), values.section, text)
        if targets:
            cmd = command(script, argv)
            rows = {row.name: target_cells(row, machine, cmd, values.quick) for row in targets}
            document = replace_section(document, "summary", update_summary(section_body(document, "summary"), rows))
        path.write_text(document)
    return text


def _jsonable(value: Any) -> Any:
    if hasattr(value, "_asdict"):
        return value._asdict()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")
