"""What a fresh `accperf-trace` process loads (docs/benchmarks.md, start-up).

Not timed (a speed is a benchmark, benchmarks/bench_startup.py): these pin the means.
Each command runs in a new interpreter, which reports the heavy modules it imported: the
help imports none of them, `lower` not Numba nor polars, `analyze` not polars, with
the cycles of an in-process analysis.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import accperf
from tracer.cli import main

ROOT = Path(__file__).resolve().parent.parent
HEAVY = ("numba", "polars", "pyarrow", "rich", "rich.progress", "numpy", "onnx")
SMALL = ["--accelerator", "systolic", "--model", "resnet50", "--layers", "conv1,layer1.0.conv2"]
SMALL += ["--param", "rows=8", "--param", "cols=8"]

# Runs the CLI with argv[2:], then prints which of the modules named in argv[1] it
# imported.
PROBE = """
import json, sys
watched, argv = json.loads(sys.argv[1]), sys.argv[2:]
from tracer.cli import main
try:
    code = main(argv)
except SystemExit as exit:
    code = exit.code
print(json.dumps({"code": code, "modules": sorted(m for m in watched if m in sys.modules)}))
"""


def _fresh_process(*argv: str) -> dict:
    done = subprocess.run(
        [sys.executable, "-c", PROBE, json.dumps(HEAVY), *argv],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["code"] == 0, done.stderr
    return report


@pytest.fixture(scope="module")
def small_trace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("startup")
    assert main(["lower", *SMALL, "-o", str(out)]) == 0
    return out / "resnet50__systolic"


def test_help_imports_none_of_the_heavy_modules():
    assert _fresh_process("--help")["modules"] == []


def test_lower_imports_neither_numba_nor_polars(tmp_path):
    modules = _fresh_process("lower", *SMALL, "-o", str(tmp_path))["modules"]
    assert "numba" not in modules and "polars" not in modules
    assert "pyarrow" in modules  # it does write a trace


def test_analyze_imports_neither_polars_nor_a_progress_bar(small_trace, tmp_path):
    out = tmp_path / "report.json"
    report = _fresh_process("analyze", str(small_trace), "--json", str(out))
    assert "numba" in report["modules"]
    assert "polars" not in report["modules"]
    assert "rich.progress" not in report["modules"]  # output piped: no progress bar
    in_process = accperf.analyze(accperf.load_trace(small_trace))
    assert json.loads(out.read_text())["total_cycles"] == in_process.total_cycles > 0
