"""Whole-process start-up: `accperf-trace analyze`, `lower` and `--help` as a user runs them.

    PYTHONPATH=. .venv/bin/python benchmarks/bench_startup.py [--runs 15]
        [--tree PATH ...] [--model resnet50] [--accelerator systolic]
        [--param NAME=VALUE ...] [--phases]

Each command runs as a fresh process (`python -m tracer.cli ...` from the tree, its output
piped as when a script reads it), first once to warm up (Numba's disk cache, compiled
on a cold tree in tens of seconds; the interpreter's bytecode cache; the OS's file
cache), then --runs times. Printed per command: the median wall-clock time with the
fastest and slowest run, and the median CPU time (user + system) of the process, which
other jobs on a shared machine disturb less than the wall clock.

Several --tree (checkouts of the code, e.g. `git worktree add --detach /tmp/main main`)
are measured in the same rounds, each round running every tree's commands with the
trees' order reversed from one round to the next, so a drift in the machine's speed
reaches all alike; each tree lowers its own trace for `analyze`, and the analyzed cycles
must be the same in every run of every tree.

The floor lines time what any such process pays before accperf's own code: the bare
interpreter, `import numpy`, and `import numba` (which the analyzer's kernels need under
the JIT; `analyze` runs them compiled ahead of time instead, analyzer/engine/compiled.py), the
last also with the exit `accperf-trace` takes (tracer/cli.py, console_main), since
Python's own exit after importing Numba costs about as much again.

--phases also splits a fresh `analyze` of the first tree into its steps, timed inside the
process (the same calls the command makes, in its order; "start-up and exit" is the
rest of the process's wall-clock time: the interpreter, its site packages, the exit).

PYTHONDONTWRITEBYTECODE is removed from the commands' environment: with it, every run
would compile accperf's modules from source, which an installed package never does.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from bench_core import machine

ROOT = Path(__file__).resolve().parent.parent
TOTAL_CYCLES = re.compile(r"; ([\d,]+) cycles; evaluated")
FROZEN_EXIT = "import gc; gc.disable(); gc.freeze()"
FLOOR = {
    "python -c pass": ["-c", "pass"],
    "python -c 'import numpy'": ["-c", "import numpy"],
    "python -c 'import numba'": ["-c", "import numba"],
    "the same, exiting as accperf-trace does": ["-c", f"import numba; {FROZEN_EXIT}"],
}

# `accperf-trace analyze TRACE` step by step (tracer/cli.py, _analyze), printing each step's
# seconds as JSON; with the tree's collector threshold and exit, or Python's where it has
# none.
PHASES = f"""
import time
started = time.perf_counter()
steps = []

def step(name):
    steps.append((name, time.perf_counter()))

import gc, io, sys
from tracer import cli
try:
    from tracer.collector import GC_THRESHOLD
except ImportError:  # a revision from before tracer/collector.py
    GC_THRESHOLD = getattr(cli, "GC_THRESHOLD", gc.get_threshold()[0])
gc.set_threshold(GC_THRESHOLD)
step("import tracer.cli")
from rich.console import Console
from analyzer.report import print_table
step("import rich and the report")
from tracer import api
step("import the API (numpy, pyarrow, the descriptions)")
from analyzer.engine.evaluate import Evaluation
step("import the engine (Numba, unless compiled ahead of time)")
try:  # the kernels compiled ahead of time, as `analyze` runs them (analyzer/engine/compiled.py)
    from analyzer.engine import compiled
    kernels = compiled.ahead_of_time()  # held: a dropped generator would restore the JIT
    kernels.__enter__()
except ImportError:  # a revision from before them
    pass
step("load the kernels compiled ahead of time")
trace = api.load_trace(sys.argv[1])
step("read and check the trace")
evaluation = Evaluation(trace.program, "fast", recurrence=True, checked=True)
step("pack the program")
layers = trace.program.layers
results = [evaluation.layer(layers[0])]
step("first layer (with the JIT: Numba loads the three kernels)")
results += [evaluation.layer(layer) for layer in layers[1:]]
step("the other layers")
print_table(Console(file=io.StringIO(), width=1000), trace.program, results, "fast", 0.0)
step("print the report (rich)")
times = [start for _, start in steps]
print(__import__("json").dumps(
    [(name, end - start) for (name, end), start in zip(steps, [started] + times)]
))
if hasattr(cli, "console_main"):  # the exit accperf-trace takes
    {FROZEN_EXIT}
"""


@dataclass
class Timings:
    wall: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)

    def summary(self) -> str:
        wall = statistics.median(self.wall)
        return (
            f"median {wall:.3f} s (min {min(self.wall):.3f}, max {max(self.wall):.3f}), "
            f"CPU {statistics.median(self.cpu):.3f} s"
        )


@dataclass
class Tree:
    path: Path
    commit: str
    trace: Path = Path()
    commands: dict[str, list[str]] = field(default_factory=dict)
    timings: dict[str, Timings] = field(default_factory=dict)


def _environment(tree: Path) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if key != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPATH"] = str(tree)
    return env


def _run(python: str, args: list[str], cwd: Path) -> tuple[float, float, str]:
    """(wall s, CPU s, stdout) of one fresh process; a failure stops the benchmark."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done = subprocess.run(
        [python, *args], cwd=cwd, env=_environment(cwd), capture_output=True, text=True
    )
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(args)} in {cwd} failed:\n{done.stderr.strip()}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, done.stdout


def _commit(tree: Path) -> str:
    done = subprocess.run(
        ["git", "-C", str(tree), "describe", "--always", "--dirty"],
        capture_output=True,
        text=True,
    )
    return done.stdout.strip() or "unknown"


def _phases(python: str, tree: Tree, runs: int) -> None:
    """Each step's fastest and median time over `runs` fresh processes (after a warm-up)."""
    steps: dict[str, list[float]] = {}
    _run(python, ["-c", PHASES, str(tree.trace)], tree.path)
    for _ in range(runs):
        wall, _, printed = _run(python, ["-c", PHASES, str(tree.trace)], tree.path)
        measured = json.loads(printed)
        for name, seconds in measured:
            steps.setdefault(name, []).append(seconds)
        steps.setdefault("start-up and exit", []).append(wall - sum(s for _, s in measured))
        steps.setdefault("whole process", []).append(wall)
    print(f"analyze step by step ({tree.path}), fastest / median of {runs} runs:")
    for name, seconds in steps.items():
        fastest, median = 1e3 * min(seconds), 1e3 * statistics.median(seconds)
        print(f"  {name}: {fastest:.0f} / {median:.0f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15, help="timed runs of each command")
    parser.add_argument(
        "--tree",
        type=Path,
        action="append",
        help="a checkout of accperf to measure (repeatable; default this one)",
    )
    parser.add_argument("--model", default="resnet50")
    parser.add_argument("--accelerator", default="systolic")
    parser.add_argument(
        "--param",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="an accelerator parameter for `lower` (repeatable), e.g. bandwidth=10",
    )
    parser.add_argument("--phases", action="store_true", help="also time analyze's steps")
    args = parser.parse_args()
    python = sys.executable
    trees = [Tree(path.resolve(), _commit(path)) for path in (args.tree or [ROOT])]
    print(f"machine: {machine()}")
    print(f"load average at the start: {', '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print(
        f"config: {args.model} on {args.accelerator} ({', '.join(args.param) or 'defaults'}), "
        f"{args.runs} runs per command "
        "after one warm-up, fresh processes, output piped"
    )
    floor = {name: Timings() for name in FLOOR}
    with tempfile.TemporaryDirectory() as tmp:
        for index, tree in enumerate(trees):
            out = Path(tmp) / str(index)
            lower = ["lower", "--accelerator", args.accelerator, "--model", args.model]
            lower += [f"--param={param}" for param in args.param] + ["-o", str(out)]
            _, _, printed = _run(python, ["-m", "tracer.cli", *lower], tree.path)
            tree.trace = Path(printed.strip().splitlines()[-1])
            tree.commands = {
                "analyze": ["-m", "tracer.cli", "analyze", str(tree.trace)],
                "lower": ["-m", "tracer.cli", *lower],
                "--help": ["-m", "tracer.cli", "--help"],
            }
            tree.timings = {name: Timings() for name in tree.commands}
        cycles: set[str] = set()
        for tree in trees:  # warm-up
            for command in tree.commands.values():
                _run(python, command, tree.path)
        for command in FLOOR.values():
            _run(python, command, ROOT)
        for round_index in range(args.runs):
            order = trees if round_index % 2 == 0 else trees[::-1]
            for tree in order:
                for name, command in tree.commands.items():
                    wall, cpu, printed = _run(python, command, tree.path)
                    tree.timings[name].wall.append(wall)
                    tree.timings[name].cpu.append(cpu)
                    if name == "analyze":
                        found = TOTAL_CYCLES.search(printed)
                        if found is None:
                            raise SystemExit(f"analyze in {tree.path} printed no total")
                        cycles.add(found[1])
            for name, command in FLOOR.items():
                wall, cpu, _ = _run(python, command, ROOT)
                floor[name].wall.append(wall)
                floor[name].cpu.append(cpu)
        if len(cycles) != 1:
            raise SystemExit(f"analyze gave different totals: {sorted(cycles)}")
        print(f"analyze: {cycles.pop()} cycles in every run")
        for tree in trees:
            print(f"tree {tree.path} at {tree.commit}:")
            for name, timings in tree.timings.items():
                print(f"  {name}: {timings.summary()}")
        print("floor:")
        for name, timings in floor.items():
            print(f"  {name}: {timings.summary()}")
        if args.phases:
            _phases(python, trees[0], args.runs)
    print(f"load average at the end: {', '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
