"""What the benchmarks share: one wall-clock timer, summaries of repeats, the machine record."""

from __future__ import annotations

import gc
import importlib
import importlib.metadata
import json
import os
import platform
import subprocess
import time
from pathlib import Path
from typing import Any, Callable, Iterable, NamedTuple, Sequence


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
    ordered = sorted(values)
    n = len(ordered)
    middle = n // 2
    median = ordered[middle] if n % 2 else 0.5 * (ordered[middle - 1] + ordered[middle])
    return Summary(median, ordered[0], ordered[-1], n)


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
    flags = set(fields.get("flags", "").split())
    return {
        "model": fields.get("model name") or platform.processor() or platform.machine(),
        "family": fields.get("cpu family"),
        "model_number": fields.get("model"),
        "vector_extensions": [x for x in ("avx2", "fma", "avx512f", "avx512_bf16", "amx_tile") if x in flags],
        "hypervisor": "hypervisor" in flags,
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
    """Version of a module (``sklearn``) or, failing that, of a distribution (``scikit-learn``)."""
    try:
        return str(importlib.import_module(name).__version__)
    except (ImportError, AttributeError):
        pass
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return None


def source_revision(module: str) -> dict[str, Any]:
    """Where ``module`` was imported from, and the git commit of that checkout (dirty if it has local edits)."""
    directory = Path(importlib.import_module(module).__file__).parent
    record: dict[str, Any] = {"path": str(directory)}
    try:
        def git(*args: str) -> str:
            return subprocess.run(
                ["git", "-C", str(directory), *args], capture_output=True, text=True, check=True
            ).stdout.strip()

        record["commit"] = git("rev-parse", "HEAD")
        record["dirty"] = bool(git("status", "--porcelain", "--", "."))
    except (OSError, subprocess.CalledProcessError):
        pass
    return record


def machine_info(modules: Iterable[str] = ()) -> dict[str, Any]:
    """CPU, cores, memory, load, threading environment and versions (module or distribution names)."""
    return {
        "cpu": _cpu(),
        "logical_cpus": os.cpu_count(),
        "usable_cpus": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
        "memory_gib": _memory_gib(),
        "load_average_1_5_15min": [round(x, 2) for x in os.getloadavg()],
        "platform": platform.platform(),
        "python": platform.python_version(),
        "thread_env": {
            name: os.environ[name]
            for name in ("OMP_NUM_THREADS", "OMP_WAIT_POLICY", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
            if name in os.environ
        },
        "versions": {name: _version(name) for name in modules},
    }


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


def check_methods(requested: Sequence[str], available: Iterable[str]) -> None:
    """A usage error naming the unknown ones, if any of ``requested`` is not ``available``."""
    from absl import app

    unknown = [m for m in requested if m not in available]
    if unknown:
        raise app.UsageError(f"unknown methods {unknown}; choose from {sorted(available)}")


def summarize_series(series: dict[str, list[float]]) -> dict[str, Any]:
    """Each named series of repeats summarised, and kept whole under ``<name>_all``."""
    return {
        **{name: summarize(values) for name, values in series.items()},
        **{f"{name}_all": values for name, values in series.items()},
    }


def write_results(results: dict[str, Any], output: str | None, table: str | None) -> None:
    """Write ``results`` as JSON to ``output`` (if given) and print ``table`` (if given)."""
    if output:
        Path(output).parent.mkdir(parents=True, exist_ok=True)
        Path(output).write_text(json.dumps(results, indent=2, default=lambda s: s._asdict()) + "\n")
    if table:
        print(table)
