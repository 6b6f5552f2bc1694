"""The recurrence bound's cost against the analysis it belongs to, measured in one run.

    PYTHONPATH=. .venv/bin/python benchmarks/bench_recurrence.py [--size 128] [--dataflow ws]
                                                   [--rounds 5] [--no-old] [--no-process]
                                                   [--accelerator gemmini]

On ResNet-50 (batch 1) on a size x size systolic array (or, with --accelerator gemmini,
the default Gemmini; --size and --dataflow then do not apply), all measured in this run:
  - analysis, in-process after JIT warm-up: an Evaluation built (packing) and run in fast
    mode over the whole network, as `accperf-trace analyze` does once the trace is read,
    with the recurrence bound and without; the median of --rounds runs each, alternated,
    and the median of the rounds' (with - without) / without;
  - the recurrence bound alone, as the analysis computes it (every layer's bound: the
    critical cycle once per repeated block, a layer's blocks in one kernel call):
    the compiled kernels (analyzer/engine/recurrence.py) and the networkx/Fraction
    implementation they replaced (tests/recurrence_oracle.py; its ratios checked equal),
    each over the analysis without it; with --no-old the old one is not run (it takes
    seconds at 128x128);
  - whole processes: `accperf-trace analyze` of the network's trace folder with the bound
    and without (interpreter start, imports, Numba's cache loading, reading the trace and
    the table included), the median of --rounds runs each, alternated, and the median of
    the rounds' (with - without) / without.
Numba runs single-threaded here, so every figure is one core; on a shared machine the
rounds' spread is printed beside each median.
"""

from __future__ import annotations

import argparse
import importlib
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench_core import machine

from analyzer.engine.evaluate import Evaluation
from analyzer.engine.packing import pack_blocks
from analyzer.engine.recurrence import CriticalCycles
from isa.program import BlockRef, Loop, Program
from tracer.lowering import lower_model
from tracer.trace_io import write_trace

ROOT = Path(__file__).resolve().parent.parent


def analysis_seconds(program: Program, recurrence: bool) -> float:
    started = time.perf_counter()
    Evaluation(program, "fast", recurrence=recurrence).run()
    return time.perf_counter() - started


def repeated_blocks(program: Program) -> list[int]:
    """Blocks that are the whole body of a loop: those the recurrence bound looks at."""
    found: set[int] = set()

    def walk(node: Loop | BlockRef) -> None:
        if isinstance(node, BlockRef):
            return
        if len(node.body) == 1 and isinstance(node.body[0], BlockRef):
            found.add(node.body[0].block)
        for child in node.body:
            walk(child)

    for layer in program.layers:
        walk(layer.root)
    return sorted(found)


def new_recurrence(program: Program, blocks: list[int]) -> tuple[float, list]:
    """Seconds the bound of every layer takes as the analysis computes it (each layer's
    repeated blocks in one kernel call, each loop subtree ranked once), and the critical
    cycle of each of `blocks`."""
    packed = pack_blocks(program)  # the analysis packs once for the evaluation as well
    started = time.perf_counter()
    critical = CriticalCycles(packed)
    for layer in program.layers:
        critical.bound(layer.root)
    seconds = time.perf_counter() - started
    return seconds, [critical.of(block) for block in blocks]


def old_recurrence(program: Program, blocks: list[int]) -> tuple[float, list]:
    oracle = importlib.import_module("tests.recurrence_oracle")
    started = time.perf_counter()
    cycles = [oracle.critical_cycle(oracle.dependency_graph(program.blocks[b])) for b in blocks]
    return time.perf_counter() - started, cycles


def paired(with_bound: list[float], without: list[float]) -> str:
    """The bound's share of the time without it, from each round's own pair: the median,
    and the range, which on a busy machine spans more than the share itself."""
    shares = [100 * (w - o) / o for w, o in zip(with_bound, without, strict=True)]
    return (
        f"{statistics.median(shares):.1f}% (median of the rounds' pairs; range "
        f"{min(shares):.1f}% to {max(shares):.1f}%)"
    )


def spread(samples: list[float]) -> str:
    return f"{statistics.median(samples):.3f} s (range {min(samples):.3f}-{max(samples):.3f})"


def process_seconds(folder: Path, extra: list[str]) -> float:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    command = [sys.executable, "-m", "tracer.cli", "analyze", str(folder), *extra]
    started = time.perf_counter()
    subprocess.run(command, env=env, check=True, capture_output=True)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=128)
    parser.add_argument("--dataflow", default="ws", choices=("ws", "os", "is"))
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--no-old", action="store_true", help="skip the networkx version")
    parser.add_argument("--no-process", action="store_true", help="skip the CLI processes")
    parser.add_argument("--accelerator", default="systolic", choices=("systolic", "gemmini"))
    args = parser.parse_args()
    imported = Path(sys.modules["analyzer"].__file__).resolve()
    if not imported.is_relative_to(ROOT):
        sys.exit(f"this imports {imported.parent}, not {ROOT}: run with PYTHONPATH={ROOT}")
    print(f"machine: {machine()}; load average {os.getloadavg()[0]:.1f} at the start")
    if args.accelerator == "gemmini":
        params: dict[str, str] = {}
        print("config: gemmini defaults, ResNet-50 batch 1")
    else:
        params = {"rows": str(args.size), "cols": str(args.size), "dataflow": args.dataflow}
        print(f"config: systolic {args.size}x{args.size} {args.dataflow}, ResNet-50 batch 1")
    program = lower_model(args.accelerator, params, "resnet50")
    blocks = repeated_blocks(program)

    analysis_seconds(program, True)  # JIT warm-up of both (compiled code is cached on disk)
    times: dict[bool, list[float]] = {False: [], True: []}
    alone: list[float] = []
    for round_ in range(args.rounds):
        for recurrence in (False, True) if round_ % 2 == 0 else (True, False):
            times[recurrence].append(analysis_seconds(program, recurrence))
        new_s, new_cycles = new_recurrence(program, blocks)
        alone.append(new_s)
    base = statistics.median(times[False])
    print(f"analysis without the recurrence bound: {spread(times[False])}")
    print(f"analysis with it (compiled):           {spread(times[True])}")
    print(f"  recurrence / analysis: {paired(times[True], times[False])}")
    new_s = statistics.median(alone)
    print(
        f"recurrence alone, {len(blocks)} repeated blocks: compiled {spread(alone)} = "
        f"{100 * new_s / base:.1f}% of the analysis without it"
    )
    if not args.no_old:
        old_s, old_cycles = old_recurrence(program, blocks)
        same = [None if c is None else c.ratio for c in new_cycles] == [
            None if c is None else c.ratio for c in old_cycles
        ]
        assert same, "the compiled ratios differ from the networkx version's"
        print(
            f"recurrence alone, networkx/Fraction (before): {old_s:.3f} s = "
            f"{100 * old_s / base:.1f}% of the analysis; compiled {old_s / new_s:,.0f}x "
            "faster; ratios identical"
        )
    if args.no_process:
        return
    with tempfile.TemporaryDirectory() as tmp:
        folder = write_trace(program, Path(tmp), materialize_iterations=0)
        help_text = subprocess.run(
            [sys.executable, "-m", "tracer.cli", "analyze", "--help"],
            env=dict(os.environ, PYTHONPATH=str(ROOT)),
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        if "--no-recurrence" in help_text:  # on by default
            flags = {"without": ["--no-recurrence"], "with": []}
        else:
            flags = {"without": [], "with": ["--recurrence"]}
        process_seconds(folder, flags["with"])  # warm the file cache
        runs: dict[str, list[float]] = {"without": [], "with": []}
        for round_ in range(args.rounds):
            for key in ("without", "with") if round_ % 2 == 0 else ("with", "without"):
                runs[key].append(process_seconds(folder, flags[key]))
    print(f"accperf-trace analyze, whole process, without: {spread(runs['without'])}")
    print(f"accperf-trace analyze, whole process, with:    {spread(runs['with'])}")
    print(f"  recurrence / whole process: {paired(runs['with'], runs['without'])}")


if __name__ == "__main__":
    main()
