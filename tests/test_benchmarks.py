"""The benchmark harness and peers, and one quick run of every benchmark script into a copy of BENCHMARKS.md
(all of them in one process of their own, in the background while the other tests run).

The quick runs are marked ``slow`` (``pytest -m "not slow"`` leaves them out).
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import numpy as np
import pytest

from benchmarks import _harness as harness
from benchmarks._peers import exact_inertia, methods
from tests.conftest import REPO_ROOT, mnist_dir

DOCUMENT = REPO_ROOT / "BENCHMARKS.md"


def test_replace_section_rewrites_only_between_its_markers():
    text = "intro\n<!-- bench:a -->\nold a\n<!-- /bench:a -->\nmiddle\n<!-- bench:b -->\nold b\n<!-- /bench:b -->\n"
    replaced = harness.replace_section(text, "a", "new\ntable\n")
    assert replaced == text.replace("old a", "new\ntable")
    assert harness.section_body(replaced, "b") == "old b\n"


@pytest.mark.parametrize("text", ["no markers\n", "<!-- bench:a -->\nx\n<!-- /bench:a -->\n" * 2])
def test_replace_section_needs_exactly_one_marker_pair(text):
    with pytest.raises(ValueError, match="bench:a"):
        harness.replace_section(text, "a", "new")


def test_summary_rows_keep_the_targets_order_and_the_rows_not_rewritten():
    first, second = list(harness.TARGETS)[:2]
    machine = {"source": {"commit": "0123456789abcdef", "dirty": False}}
    old = harness.update_summary(
        "",
        {
            second: harness.target_cells(
                harness.TargetRow(second, "old figure", "0.50×", False), machine, "cmd", False
            ),
        },
    )
    new = harness.update_summary(
        old,
        {
            first: harness.target_cells(harness.TargetRow(first, "fig", "0.20×", True), machine, "python -m x", False),
        },
    )
    rows = new.splitlines()[2:]
    assert len(rows) == len(harness.TARGETS)
    assert rows[0].endswith("| fig | 0.20× | met | `0123456` | `python -m x` |")
    assert "| old figure | 0.50× | not met |" in rows[1]
    assert all("not measured" in row for row in rows[2:])


def test_command_leaves_out_where_the_results_went():
    argv = ["lloyd.py", "--k=10", "--output=x.json", "--bench_file=B.md", "--quick"]
    assert harness.command("benchmarks.lloyd", argv) == "python -m benchmarks.lloyd --k=10 --quick"


def test_summaries_take_medians():
    assert harness.summarize([3.0, 1.0, 2.0]) == harness.Summary(2.0, 1.0, 3.0, 3)
    assert harness.summarize([4.0, 1.0, 2.0, 3.0]).median == 2.5
    with pytest.raises(ValueError):
        harness.summarize([])


def test_machine_line_names_cpu_cores_versions_and_commit():
    line = harness.machine_line(harness.machine_info())
    assert re.search(r"\d+ cores", line) and "numpy " in line and "commit `" in line


def test_checkout_is_dirty_only_when_the_measured_code_has_edits(tmp_path):
    def git(*args: str) -> None:
        subprocess.run(["git", "-C", str(tmp_path), *args], check=True, capture_output=True)

    (tmp_path / "tfkmeans").mkdir()
    (tmp_path / "tfkmeans" / "ops.py").write_text("x = 1\n")
    (tmp_path / "BENCHMARKS.md").write_text("# tables\n")
    git("init", "-q")
    git("add", ".")
    git("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "start")
    state = harness.checkout_state(tmp_path / "tfkmeans")
    assert len(state["commit"]) == 40 and state["dirty"] is False
    (tmp_path / "BENCHMARKS.md").write_text("# tables, rewritten by a benchmark\n")
    assert harness.checkout_state(tmp_path / "tfkmeans")["dirty"] is False
    (tmp_path / "tfkmeans" / "ops.py").write_text("x = 2\n")
    assert harness.checkout_state(tmp_path / "tfkmeans")["dirty"] is True
    assert harness.checkout_state(tmp_path.parent / "nowhere") == {}


def test_methods_name_any_tfkmeans_algorithm_and_reject_unknown_peers():
    chosen = methods(["sklearn"], ["auto", "yinyang"])
    assert list(chosen) == ["tfkmeans", "tfkmeans_yinyang", "sklearn"]
    assert "algorithm='yinyang'" in chosen["tfkmeans_yinyang"].description
    with pytest.raises(harness.UsageError, match="nope"):
        methods(["nope"])


def test_profile_row_shows_seconds_and_shares_of_the_op_time():
    from benchmarks.profile import CASES, row

    record = {
        "wall_s": 2.0,
        "plain_s": 1.5,
        "op_s": {"MatMul": 1.0, "Cast": 0.1, "GatherV2": 0.3, "Sum": 0.02},
        "fit": {"distance_share": 0.134},
    }
    cells = row("k1000_50", CASES["k1000_50"], record, top=2)
    assert cells[0] == "`k1000_50`: 60,000 × 784, k=1,000, from fixed k-means++ centres, 50 iterations"
    # 1.42 s of op time: MatMul 1.0 s (70 %), GatherV2 0.3 s (21 %), Cast 0.1 s (7 %).
    assert cells[1:] == ["1.50 / 2.00", "1.42", "1.00 (70 %)", "GatherV2 0.30 (21 %), Cast 0.10 (7 %)", "13.4 %"]
    record["fit"]["distance_share"] = None
    assert row("restarts", CASES["restarts"], record, top=1)[-1] == "–"


def test_exact_inertia_matches_hand_computed_value():
    x = np.array([[0.0, 0.0], [1.0, 0.0], [10.0, 10.0]], np.float32)
    centers = np.array([[0.5, 0.0], [10.0, 11.0]], np.float32)
    assert exact_inertia(x, centers, chunk=2) == pytest.approx(0.25 + 0.25 + 1.0)


def make_bench_runs() -> list[tuple[str, str, list[str]]]:
    """(script, section, flags) of every command of the Makefile's bench target."""
    runs = []
    for line in (REPO_ROOT / "Makefile").read_text().splitlines():
        match = re.match(r"\t\$\(BENCH\)\.(\w+)(.*)", line)
        if match:
            flags = match.group(2).split()
            section = next((f.split("=", 1)[1] for f in flags if f.startswith("--section=")), match.group(1))
            runs.append((match.group(1), section, flags))
    return runs


def test_make_bench_fills_every_section_and_every_target_of_benchmarks_md():
    text = DOCUMENT.read_text()
    runs = make_bench_runs()
    assert {script for script, _, _ in runs} == {
        "lloyd",
        "restarts",
        "seeding",
        "kernels",
        "minibatch",
        "out_of_core",
        "scaling",
        "mirrored",
        "profile",
    }
    sections = {section for _, section, _ in runs}
    assert sections | {"summary"} == set(re.findall(r"^<!-- bench:(\w+) -->$", text, re.MULTILINE))
    reported = {t for _, _, flags in runs for f in flags if f.startswith("--targets=") for t in f[10:].split(",")}
    assert reported == set(harness.TARGETS)
    assert 150 <= len(text.splitlines()) <= 300


# Flags that keep each quick run to the cheap methods (no FAISS: it is an optional extra).
QUICK_RUNS = {
    "lloyd": ["--algorithms=auto", "--peers=sklearn", "--single_passes=false", "--targets=k10_per_iter,fixed_cost"],
    "restarts": ["--n_init=2", "--algorithms=auto", "--peers=sklearn", "--targets=restarts"],
    "seeding": ["--ks=10", "--methods=tfkmeans,sklearn_1thread", "--targets=seeding_k1000"],
    "kernels": ["--variants=fp32_tf,fp32_gemm_xla"],
    "minibatch": ["--methods=tfkmeans,sklearn_1thread", "--fixed_epochs=2", "--targets=minibatch_quality"],
    "out_of_core": ["--targets=streamed_pass,streamed_memory"],
    "scaling": ["--methods=tfkmeans_lloyd,sklearn"],
    "mirrored": [],
    "profile": ["--cases=fixed_cost,streamed_pass"],
}


def quick_run_flags(script: str, directory: Path) -> list[str]:
    """The command-line flags of ``script``'s quick run, its outputs in ``directory``."""
    extra = {
        "out_of_core": [f"--work_dir={directory}"],
        "profile": [f"--work_dir={directory}"],
        "scaling": [f"--figure={directory / 'scaling.png'}"],
    }
    return [
        "--quick",
        f"--bench_file={directory / 'BENCHMARKS.md'}",
        f"--data_dir={mnist_dir()}",
        *QUICK_RUNS[script],
        *extra.get(script, []),
        f"--output={directory / 'out.json'}",
    ]


#: Every quick run, one after the other in one process (the scripts define distinct absl flags, so one
#: process serves them all), each into a copy of BENCHMARKS.md in a directory of its own. A run that
#: fails is reported, so that it fails its own test only.
QUICK_RUNS_SCRIPT = """
import importlib, shutil, traceback
from pathlib import Path
from tests.test_benchmarks import DOCUMENT, QUICK_RUNS, quick_run_flags
from tests.conftest import mnist_dir
runs = {}
for script in sorted(QUICK_RUNS) if mnist_dir() else []:
    directory = Path(scratch) / script
    directory.mkdir()
    shutil.copy(DOCUMENT, directory / "BENCHMARKS.md")
    runs[script] = {"directory": str(directory)}
    try:
        importlib.import_module(f"benchmarks.{script}").cli([script, *quick_run_flags(script, directory)])
    except (Exception, SystemExit):
        runs[script]["error"] = traceback.format_exc()
print(json.dumps(runs))
"""


@pytest.mark.slow
@pytest.mark.fresh_process(QUICK_RUNS_SCRIPT)
@pytest.mark.parametrize("script", sorted(QUICK_RUNS))
def test_quick_run_rewrites_only_its_section_and_target_rows(script, script_report):
    if mnist_dir() is None:
        pytest.skip("MNIST not available: set TFKMEANS_DATA_DIR (CI always does)")
    run = script_report[script]
    assert "error" not in run, run["error"]
    directory = Path(run["directory"])
    before = DOCUMENT.read_text()
    after = (directory / "BENCHMARKS.md").read_text()
    section = harness.section_body(after, script)
    assert section != harness.section_body(before, script)
    assert "Quick run (`--quick`)" in section and f"Command: `python -m benchmarks.{script} --quick" in section
    assert re.search(r"^\|---", section, re.MULTILINE)

    # Everything outside the section and the summary is byte for byte what it was.
    def outside(text: str) -> str:
        return harness.replace_section(harness.replace_section(text, script, "X"), "summary", "X")

    assert outside(after) == outside(before)
    targets = [f.split("=", 1)[1].split(",") for f in QUICK_RUNS[script] if f.startswith("--targets=")]
    summary = harness.section_body(after, "summary")
    for name in targets[0] if targets else []:
        text = harness.TARGETS[name].text
        assert any(text in row and "| quick run |" in row for row in summary.splitlines())
    if not targets:
        assert summary == harness.section_body(before, "summary")
    assert (directory / "out.json").exists()
    if script == "scaling":
        assert (directory / "scaling.png").stat().st_size > 0
        assert section.rstrip().endswith("(scaling.png)")
