"""Core engine benchmark: fast vs full evaluation, and accperf vs SCALE-Sim, in one run.

    .venv/bin/python benchmarks/bench_core.py [--size 32] [--dataflow ws] [--full-network]
                                              [--scalesim-network] [--no-scalesim]
                                              [--json FILE]

Prints, all measured in this run on this machine:
  - lowering time and compact trace size for ResNet-50;
  - fast evaluation of the whole network (after JIT warm-up), with evaluated iterations,
    every layer evaluated (no layer reuse: equal layers each pay their evaluation);
  - full evaluation of a set of layers (every layer with --full-network), in
    instructions per second on one core, and the fast/full speedup on the same layers;
  - SCALE-Sim's own run time on one layer shared with accperf, the same cycles from both,
    and the ratio; with --scalesim-network, on the whole network instead: accperf as
    `accperf-trace analyze` runs it (fast, identical layers once) against SCALE-Sim on
    every layer (minutes to half an hour), the cycles checked equal layer by layer.
Numba runs single-threaded here, so every figure is one core. --json FILE also writes the
engine's figures (not SCALE-Sim's; benchmarks/compare_revisions.py reads them): "metrics",
times in s and rates in /s, and "exact", counts no change of speed may change.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import tempfile
import time
from pathlib import Path

from analyzer.crosscheck.scalesim_env import scalesim_python
from analyzer.crosscheck.validate import base_request
from analyzer.engine.evaluate import Evaluation
from isa.program import Program, count_instructions
from isa.systolic.mapping import scalesim_topology_row
from tracer.lowering import lower_model
from tracer.trace_io import write_trace
from tracer.workloads.zoo import resnet50

# Layers evaluated in full unless --full-network: one of each stage's shapes.
FULL_SET = ["conv1", "layer1.0.conv2", "layer2.0.conv2", "layer3.1.conv2", "layer4.2.conv3", "fc"]
# The layer both tools simulate (small enough for SCALE-Sim to finish in seconds).
SHARED_LAYER = "layer4.0.conv1"


def machine() -> str:
    cpu = platform.processor() or "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{cpu}, {os.cpu_count()} cores, Python {platform.python_version()}"


def evaluate(program: Program, names: list[str] | None, mode: str, reuse: bool = False):
    """Evaluate (a subset of) the layers; `reuse` shares results between layers with the
    same loop program, as `accperf-trace analyze` does in fast mode."""
    layers = [layer for layer in program.layers if names is None or layer.name in names]
    evaluation = Evaluation(program, mode, reuse_layers=reuse)  # packing is not timed
    # A collection of the garbage made before (lowering, packing) would otherwise land in
    # whichever short timed run crosses the collector's threshold.
    gc.collect()
    started = time.perf_counter()
    results = [evaluation.layer(layer) for layer in layers]
    return results, time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=32)
    parser.add_argument("--dataflow", default="ws", choices=("ws", "os", "is"))
    parser.add_argument("--full-network", action="store_true")
    parser.add_argument("--scalesim-network", action="store_true")
    parser.add_argument("--no-scalesim", action="store_true", help="skip SCALE-Sim")
    parser.add_argument("--json", type=Path, metavar="FILE", help="also write the figures here")
    args = parser.parse_args()
    params = {"rows": str(args.size), "cols": str(args.size), "dataflow": args.dataflow}
    config = f"systolic {args.size}x{args.size} {args.dataflow}, ResNet-50 batch 1"
    print(f"machine: {machine()}")
    print(f"config: {config}")
    metrics: dict[str, float] = {}
    exact: dict[str, int] = {}

    started = time.perf_counter()
    program = lower_model("systolic", params, "resnet50")
    with tempfile.TemporaryDirectory() as tmp:
        folder = write_trace(program, Path(tmp), materialize_iterations=0)
        lower_seconds = time.perf_counter() - started
        compact = sum(f.stat().st_size for f in folder.iterdir())
    instructions = sum(count_instructions(layer.root, program.blocks) for layer in program.layers)
    print(
        f"lower: {lower_seconds:.2f} s, {instructions:,} instructions, "
        f"compact trace {compact / 1e6:.2f} MB"
    )
    metrics["lower s"] = lower_seconds
    exact["instructions"] = instructions

    evaluate(program, None, "fast")  # JIT warm-up (compiled code is cached on disk too)
    fast_all, fast_all_s = evaluate(program, None, "fast")
    evaluated = sum(r.evaluated_instructions for r in fast_all)
    print(
        f"fast, whole network, every layer evaluated: {fast_all_s:.3f} s, "
        f"{sum(r.cycles for r in fast_all):,} cycles, "
        f"{sum(r.evaluated_iterations for r in fast_all):,} iterations evaluated "
        f"({evaluated:,} of {instructions:,} instructions, {100 * evaluated / instructions:.3f}%)"
    )
    metrics["fast network s"] = fast_all_s
    exact["cycles"] = sum(r.cycles for r in fast_all)
    exact["fast network evaluated iterations"] = sum(r.evaluated_iterations for r in fast_all)
    exact["fast network evaluated instructions"] = evaluated

    names = None if args.full_network else FULL_SET
    full, full_s = evaluate(program, names, "full")
    fast, fast_s = evaluate(program, names, "fast")
    assert [r.cycles for r in full] == [r.cycles for r in fast], "fast != full"
    n = sum(r.instructions for r in full)
    label = "whole network" if names is None else f"{len(full)} layers ({', '.join(FULL_SET)})"
    print(
        f"full, {label}: {full_s:.2f} s for {n:,} instructions = {n / full_s / 1e6:.1f} M "
        f"instructions/s; fast on the same layers {fast_s:.4f} s; "
        f"fast/full speedup {full_s / fast_s:,.0f}x; cycles identical"
    )
    scope = "network" if names is None else "set"
    metrics[f"full {scope} s"] = full_s
    metrics[f"full {scope} M instr/s"] = n / full_s / 1e6
    metrics[f"fast {scope} s"] = fast_s
    exact[f"full {scope} instructions"] = n
    if args.json is not None:
        figures = {"machine": machine(), "config": config, "metrics": metrics, "exact": exact}
        args.json.write_text(json.dumps(figures, indent=2) + "\n")
    if args.no_scalesim:
        return
    if args.scalesim_network:
        scalesim_network_comparison(params, program)
    else:
        scalesim_comparison(params)


def scalesim_network_comparison(params: dict[str, str], program: Program) -> None:
    if scalesim_python() is None:
        print("SCALE-Sim: not installed (see README); comparison skipped")
        return
    from analyzer.crosscheck.scalesim_bridge import run_scalesim
    from isa.systolic.mapping import scalesim_rows

    evaluate(program, None, "fast", reuse=True)  # warm-up, as everywhere else
    ours, ours_s = evaluate(program, None, "fast", reuse=True)
    by_name = {layer.name: layer for layer in resnet50().layers}
    rows = [scalesim_rows(by_name[layer.name]) for layer in program.layers]
    request = {
        **base_request(program.parameters),
        "layers": [dict(row) for layer_rows in rows for row in layer_rows],
    }
    result = run_scalesim(request, timeout_s=4 * 3600)
    theirs = iter(result["layers"])
    for layer, layer_rows, mine in zip(program.layers, rows, ours, strict=True):
        demand = sum(int(next(theirs)["demand_rows"]) for _ in layer_rows)
        assert demand == mine.cycles, f"{layer.name}: accperf {mine.cycles}, SCALE-Sim {demand}"
    seconds = sum(float(r["wall_seconds"] or 0.0) for r in result["layers"])
    print(
        f"SCALE-Sim {result['scalesim_version']} on the whole network: {seconds:.1f} s "
        f"(its per-layer simulations; {result['wall_seconds']:.1f} s with set-up); accperf "
        f"fast analyze {ours_s:.3f} s; accperf is {seconds / ours_s:,.0f}x faster; cycles "
        f"identical on all {len(ours)} layers"
    )


def scalesim_comparison(params: dict[str, str]) -> None:
    if scalesim_python() is None:
        print("SCALE-Sim: not installed (see README); comparison skipped")
        return
    from analyzer.crosscheck.scalesim_bridge import run_scalesim

    layer = next(lay for lay in resnet50().layers if lay.name == SHARED_LAYER)
    program = lower_model("systolic", params, "resnet50", layers=[SHARED_LAYER])
    evaluate(program, None, "fast")
    best = min(evaluate(program, None, "fast")[1] for _ in range(5))
    ours = evaluate(program, None, "fast")[0][0].cycles
    request = {**base_request(program.parameters), "layers": [dict(scalesim_topology_row(layer))]}
    result = run_scalesim(request)
    theirs = result["layers"][0]
    seconds = theirs.get("wall_seconds") or result["wall_seconds"]
    print(
        f"SCALE-Sim {result['scalesim_version']} on {SHARED_LAYER}: {seconds:.2f} s, "
        f"{theirs['demand_rows']:,} compute cycles (reported total {theirs['total_cycles']:,} "
        f"= last cycle index); accperf fast {best * 1e3:.2f} ms, {ours:,} cycles; "
        f"accperf is {seconds / best:,.0f}x faster; cycles "
        f"{'identical' if ours == theirs['demand_rows'] else 'DIFFER'}"
    )


if __name__ == "__main__":
    main()
