"""Gemmini (default config) on zoo models: lower + fast analyze vs full, in one run.

    .venv/bin/python benchmarks/bench_gemmini.py [--models resnet50 mobilenet_v2]
                                                 [--batches 1 4] [--param NAME=VALUE ...]
                                                 [--split] [--json FILE]

Per (model, batch) it prints, measured in this run: lowering time, instruction count,
layers on Gemmini / on the host, the fast analysis time after JIT warm-up as
`accperf-trace analyze` does it (layers with the same loop program share one evaluation),
the instructions and kernel iterations it evaluated, the full evaluation time (every
instruction, one core), the fast/full speedup, and total cycles; fast == full is checked
on every layer. --split also times each mode's evaluation once more, by its parts as
Evaluation.layer spends them: packing each layer's loop tree, the kernel, the bound, and
the rest (layer reuse, action counts, the results).
--json FILE also writes the figures, as bench_core.py does.
"""

from __future__ import annotations

import argparse
import gc
import json
import time
from collections.abc import Callable
from pathlib import Path

from bench_core import evaluate, machine

from analyzer.engine import evaluate as evaluate_module
from analyzer.engine.evaluate import Evaluation
from isa.program import Program, count_instructions
from tracer.lowering import lower_model


def split(program: Program, mode: str) -> dict[str, float]:
    """Seconds an evaluation of every layer spends packing the loop trees, in the kernel,
    on the bounds, and on the rest of Evaluation.layer (layer reuse, action counts,
    results), as `analyze` runs it in fast mode (layers reused) and as full mode does;
    packing the blocks, once per program, is not timed, as in evaluate."""
    evaluation = Evaluation(program, mode)
    spent = dict.fromkeys(("packing", "kernel", "bounds"), 0.0)

    def timed(part: str, call: Callable) -> Callable:
        def run(*args, **kwargs):
            started = time.perf_counter()
            try:
                return call(*args, **kwargs)
            finally:
                spent[part] += time.perf_counter() - started

        return run

    evaluation.pack = timed("packing", evaluation.pack)
    evaluation.bound = timed("bounds", evaluation.bound)
    kernel = evaluate_module.run_kernel
    evaluate_module.run_kernel = timed("kernel", kernel)
    try:
        gc.collect()
        started = time.perf_counter()
        for layer in program.layers:
            evaluation.layer(layer)
        total = time.perf_counter() - started
    finally:
        evaluate_module.run_kernel = kernel
    return {**spent, "rest": total - sum(spent.values())}


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
                for mode in ("fast", "full"):
                    parts = split(program, mode)
                    print(
                        f"  {mode}, split: packing {parts['packing']:.3f} s, kernel "
                        f"{parts['kernel']:.3f} s, bounds {parts['bounds']:.3f} s, the rest "
                        f"(reuse, actions, results) {parts['rest']:.3f} s",
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
