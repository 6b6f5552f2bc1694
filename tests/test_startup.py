"""What a fresh `accperf-trace` process loads (docs/benchmarks.md §1.4).

Not timed (a speed is a benchmark, benchmarks/bench_startup.py): these pin the means.
Each command runs in a new interpreter, which reports the heavy modules it imported: the
help imports none of them, `lower` not Numba nor polars, `analyze` neither (and neither
imports a family the description or trace does not name): `analyze` runs the kernels
compiled ahead of time (analyzer/engine/compiled.py; tests/test_compiled.py
builds them), with the cycles of an in-process analysis. With the JIT kept
(ACCPERF_KERNELS=jit) it loads them from Numba's disk cache without Numba's compiler
(analyzer/engine/jit_cache.py). A command
runs with the garbage collector's raised threshold (tracer/cli.py), restored after it, and
the console script's process exits with the collector left out.
"""

from __future__ import annotations

import gc
import json
import os
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

import accperf
from analyzer.engine import compiled
from tracer import cli
from tracer.cli import main
from tracer.collector import GC_THRESHOLD

ROOT = Path(__file__).resolve().parent.parent
HEAVY = ("numba", "polars", "pyarrow", "rich", "rich.progress", "numpy", "onnx")
# Imported by Numba only to compile (its target context's refresh, numba/core/base.py).
COMPILER_ONLY = "numba.np.linalg"
# The families a systolic trace does not name: isa/registry.py imports a family on first use.
OTHER_FAMILIES = ("isa.gemmini", "isa.plasticine", "isa.ultratrail")
# Imported by pyarrow on a first compute call (take, flatten): 30-50 ms that reading a
# trace does without (tracer/trace_read.py).
ARROW_COMPUTE = "pyarrow.compute"
SMALL = ["--accelerator", "systolic", "--model", "resnet50", "--layers", "conv1,layer1.0.conv2"]
SMALL += ["--param", "rows=8", "--param", "cols=8"]

# Runs the CLI with argv[2:], then prints which of the modules named in argv[1] it
# imported and how the kernels it used were loaded (disk-cache hits, misses).
PROBE = """
import json, sys
watched, argv = json.loads(sys.argv[1]), sys.argv[2:]
from tracer.cli import main
from tracer.collector import GC_THRESHOLD
try:
    code = main(argv)
except SystemExit as exit:
    code = exit.code
modules = sorted(m for m in watched if m in sys.modules)
kernels = {}
if "numba" in sys.modules:
    from analyzer.engine.kernels import evaluate_layer
    from analyzer.engine.packing_kernels import layer_ops
    from analyzer.engine.recurrence_kernels import (
        block_critical_cycles, block_edges, maximum_cycle_ratio, step_critical_cycle,
    )
    watched_kernels = (
        evaluate_layer, layer_ops, block_critical_cycles, block_edges, maximum_cycle_ratio,
        step_critical_cycle,
    )
    for kernel in watched_kernels:
        stats = kernel.stats
        kernels[kernel.py_func.__name__] = [
            sum(stats.cache_hits.values()), sum(stats.cache_misses.values())
        ]
print(json.dumps({"code": code, "modules": modules, "kernels": kernels}))
"""


def _fresh_process(*argv: str, kernels: str = "") -> dict:
    env = {**os.environ, "PYTHONPATH": str(ROOT), compiled.MODE_VARIABLE: kernels}
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            PROBE,
            json.dumps([*HEAVY, COMPILER_ONLY, *OTHER_FAMILIES, ARROW_COMPUTE]),
            *argv,
        ],
        cwd=ROOT,
        env=env,
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
    assert not set(OTHER_FAMILIES) & set(modules)
    assert "pyarrow" in modules  # it does write a trace


def test_analyze_runs_kernels_compiled_ahead_of_time_without_numba(small_trace, tmp_path):
    _fresh_process("analyze", str(small_trace))  # builds the kernels if none are built
    out = tmp_path / "report.json"
    report = _fresh_process("analyze", str(small_trace), "--json", str(out))
    assert "numba" not in report["modules"] and report["kernels"] == {}
    assert "polars" not in report["modules"]
    assert not set(OTHER_FAMILIES) & set(report["modules"])
    assert ARROW_COMPUTE not in report["modules"]
    assert "rich.progress" not in report["modules"]  # output piped: no progress bar
    in_process = accperf.analyze(accperf.load_trace(small_trace))
    assert json.loads(out.read_text())["total_cycles"] == in_process.total_cycles > 0


def test_analyze_with_the_jit_loads_kernels_without_numbas_compiler(small_trace, tmp_path):
    _fresh_process("analyze", str(small_trace), kernels="jit")  # compiles if the cache is cold
    out = tmp_path / "report.json"
    report = _fresh_process("analyze", str(small_trace), "--json", str(out), kernels="jit")
    assert "numba" in report["modules"]
    assert "polars" not in report["modules"]
    assert "rich.progress" not in report["modules"]  # output piped: no progress bar
    assert COMPILER_ONLY not in report["modules"]
    # The systolic array's steps nest loops: their recurrence takes the step kernel
    # (analyzer/engine/recurrence.py, CriticalCycles.of_step). The kernels for loops of
    # one block, and those the step kernel calls inside compiled code, are not called.
    kernels = ("evaluate_layer", "layer_ops", "step_critical_cycle")
    uncalled = ("block_critical_cycles", "block_edges", "maximum_cycle_ratio")
    assert report["kernels"] == {
        **{name: [1, 0] for name in kernels},
        **{name: [0, 0] for name in uncalled},
    }
    in_process = accperf.analyze(accperf.load_trace(small_trace))
    assert json.loads(out.read_text())["total_cycles"] == in_process.total_cycles > 0


def test_a_command_runs_with_the_raised_collector_threshold(small_trace, monkeypatch, capsys):
    seen = []
    analyze = cli._analyze

    def watched(args, console):
        seen.append(gc.get_threshold()[0])
        return analyze(args, console)

    monkeypatch.setattr(cli, "_analyze", watched)
    before = gc.get_threshold()
    assert main(["analyze", str(small_trace)]) == 0
    assert seen == [GC_THRESHOLD] != [before[0]]
    assert gc.get_threshold() == before  # main() also runs in-process, as here
    assert "cycles" in capsys.readouterr().out


# What the console script's last exit handler sees: whether every object is frozen and
# the collector off, OpenBLAS's thread setting and how many threads the process runs
# (Linux lists them in /proc; pyarrow's pool starts some too).
EXIT_PROBE = (
    "import atexit, gc, os, runpy\n"
    "def report():\n"
    "    threads = len(os.listdir('/proc/self/task')) if os.path.isdir('/proc/self/task') else 0\n"
    "    blas = os.environ.get('OPENBLAS_NUM_THREADS')\n"
    "    print('frozen', gc.get_freeze_count() > 0, gc.isenabled(), blas, threads)\n"
    "atexit.register(report)\n"
    "runpy.run_module('tracer.cli', run_name='__main__')\n"
)


def _console_exit(*argv: str, **env: str) -> list[str]:
    environment = {**os.environ, "PYTHONPATH": str(ROOT)}
    environment.pop("OPENBLAS_NUM_THREADS", None)  # the test's own, not the caller's
    done = subprocess.run(
        [sys.executable, "-c", EXIT_PROBE, *argv],
        cwd=ROOT,
        env={**environment, **env},
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    assert "cycles" in done.stdout
    return done.stdout.strip().splitlines()[-1].split()


def test_the_console_script_exits_with_the_collector_left_out(small_trace):
    assert _console_exit("analyze", str(small_trace))[:3] == ["frozen", "True", "False"]
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    assert scripts["accperf-trace"] == "tracer.cli:console_main"


def test_the_console_script_starts_no_blas_threads(small_trace):
    # OpenBLAS would start a spinning thread per core (tracer/cli.py, console_main); on a
    # machine of one core it starts none either way. A user's own setting still wins.
    *_, blas, threads = _console_exit("analyze", str(small_trace))
    *_, blas_chosen, threads_chosen = _console_exit(
        "analyze", str(small_trace), OPENBLAS_NUM_THREADS="2"
    )
    assert (blas, blas_chosen) == ("1", "2")
    if len(os.sched_getaffinity(0)) > 1 and os.path.isdir("/proc/self/task"):
        assert int(threads) < int(threads_chosen)


def test_the_kernels_import_without_numbas_compiler_too():
    # NUMBA_DISABLE_JIT runs the kernels as Python (for profiling): nothing to cache.
    done = subprocess.run(
        [sys.executable, "-c", "import analyzer.engine.evaluate"],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT), "NUMBA_DISABLE_JIT": "1"},
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
