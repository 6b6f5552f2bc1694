"""Gemmini (default config) on zoo models: lower + fast analyze vs full, in one run.

    .venv/bin/python benchmarks/bench_gemmini.py [--models resnet50 mobilenet_v2]
                                                 [--batches 1 4] [--param NAME=VALUE ...]
                                                 [--split] [--json FILE]

Per (model, batch) it prints, measured in this run: lowering time, instruction count,
layers on Gemmini / on the host, the fast analysis time after JIT warm-up as
`accperf-trace analyze` does it (layers with the same loop program share one evaluation),
the instructions and kernel iterations it evaluated, the full evaluation time (every
instruction, one core), the fast/full speedup, and total cycles; fast == full is checked
on every layer. --split also times the full evaluation's parts once more, layer by layer
as the evaluation spends it: packing each layer's loop tree, the kernel, and the bound.
--json FILE also writes the figures, as bench_core.py does.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from bench_core import evaluate, machine

from analyzer.engine.evaluate import Evaluation, run_kernel
from isa.program import Program, count_instructions
from tracer.lowering import lower_model


def full_split(program: Program) -> tuple[float, float, float]:
    """Seconds the full evaluation of every layer spends packing the loop trees, in the
    kernel, and on the bounds (the parts of Evaluation.layer; packing the blocks, once per
    program, is not timed, as in evaluate)."""
    evaluation = Evaluation(program, "full")
    packing = kernel = bounds = 0.0
    for layer in program.layers:
        started = time.perf_counter()
        packed = evaluation.pack(layer)
        packed_at = time.perf_counter()
        cycles, *_ = run_kernel(packed, evaluation.blocks, fast=False)
        ran_at = time.perf_counter()
        evaluation.bound(layer, packed, cycles)
        packing += packed_at - started
        kernel += ran_at - packed_at
        bounds += time.perf_counter() - ran_at
    return packing, kernel, bounds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=["resnet50", "mobilenet_v2"])
    parser.add_argument("--batches", nargs="+", type=int, default=[1, 4])
    parser.add_argument("--param", action="append", default=[], metavar="NAME=VALUE")
    parser.add_argument("--split", action="store_true", help="also time the full run's parts")
    parser.add_argument("--json", type=Path, metavar="FILE", help="also write the figures here")
    args = parser.parse_args()
    params = dict(p.split("=", 1) for p in args.param)
    config = f"gemmini defaults {params or ''}"
    print(f"machine: {machine()}")
    print(f"config: {config}")
    metrics: dict[str, float] = {}
    exact: dict[str, int] = {}
    header = (
        "model",
        "batch",
        "lower s",
        "instructions",
        "gemmini/host",
        "fast s",
        "evaluated instr",
        "evaluated iter",
        "full s",
        "full M instr/s",
        "fast/full",
        "cycles",
    )
    print(" | ".join(header))
    warm = lower_model("gemmini", params, args.models[0], batch=1)
    evaluate(warm, None, "fast")  # JIT warm-up (compiled code is cached on disk too)
    evaluate(warm, None, "full")
    for name in args.models:
        for batch in args.batches:
            started = time.perf_counter()
            program = lower_model("gemmini", params, name, batch=batch)
            lower_s = time.perf_counter() - started
            fast, fast_s = evaluate(program, None, "fast", reuse=True)
            full, full_s = evaluate(program, None, "full")
            assert [r.cycles for r in fast] == [r.cycles for r in full], f"{name}: fast != full"
            instructions = sum(count_instructions(x.root, program.blocks) for x in program.layers)
            row = [
                name,
                str(batch),
                f"{lower_s:.2f}",
                f"{instructions:,}",
                f"{len(program.layers)}/{len(program.host_layers)}",
                f"{fast_s:.3f}",
                f"{sum(r.evaluated_instructions for r in fast):,}",
                f"{sum(r.evaluated_iterations for r in fast):,}",
                f"{full_s:.3f}",
                f"{instructions / full_s / 1e6:.1f}",
                f"{full_s / fast_s:.1f}x",
                f"{sum(r.cycles for r in fast):,}",
            ]
            print(" | ".join(row), flush=True)
            if args.split:
                packing, kernel, bounds = full_split(program)
                print(
                    f"  full, split: packing {packing:.3f} s, kernel {kernel:.3f} s "
                    f"({instructions / kernel / 1e6:.1f} M instr/s), bounds {bounds:.3f} s",
                    flush=True,
                )
            case = f"{name} batch {batch}"
            metrics[f"{case} lower s"] = lower_s
            metrics[f"{case} fast s"] = fast_s
            metrics[f"{case} full s"] = full_s
            metrics[f"{case} full M instr/s"] = instructions / full_s / 1e6
            exact[f"{case} cycles"] = sum(r.cycles for r in fast)
            exact[f"{case} evaluated iterations"] = sum(r.evaluated_iterations for r in fast)
    if args.json is not None:
        figures = {"machine": machine(), "config": config, "metrics": metrics, "exact": exact}
        args.json.write_text(json.dumps(figures, indent=2) + "\n")


if __name__ == "__main__":
    main()
