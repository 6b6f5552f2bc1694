"""Every zoo model, full size, on every built-in accelerator: lower + fast analyze, in one run.

    .venv/bin/python benchmarks/bench_zoo.py [--size 32] [--dataflow ws] [--full-below 2e9]
                                             [--bandwidth 0] [--param NAME=VALUE]

Per model it prints, measured in this run: lowering time, instruction count, layers timed
on the accelerator and layers it leaves to the host, the fast analysis time after JIT
warm-up as `accperf-trace analyze` does it (layers with the same loop program share one
evaluation) with the share of instructions evaluated, and total cycles. Models with fewer
instructions than --full-below are also evaluated in full (one core), checked equal to
the fast result, and the fast/full speedup printed. With --bandwidth N > 0 the times
include the memory side (isa/systolic/memory_side.py), which both modes add alike.
"""

from __future__ import annotations

import argparse
import time

from bench_core import evaluate, machine

from isa.program import count_instructions
from tracer.lowering import lower_model
from tracer.workloads.zoo import MODELS


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=32)
    parser.add_argument("--dataflow", default="ws", choices=("ws", "os", "is"))
    parser.add_argument("--full-below", type=float, default=2e9, metavar="INSTRUCTIONS")
    parser.add_argument("--bandwidth", type=int, default=0, help="DRAM words/cycle; 0 = unlimited")
    parser.add_argument(
        "--param",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="another systolic parameter (repeatable), e.g. filter_sram_kib=64",
    )
    args = parser.parse_args()
    params = {"rows": str(args.size), "cols": str(args.size), "dataflow": args.dataflow}
    params["bandwidth"] = str(args.bandwidth)
    for given in args.param:
        name, _, value = given.partition("=")
        params[name] = value
    print(f"machine: {machine()}")
    extra = "".join(f", {given}" for given in args.param)
    print(
        f"config: systolic {args.size}x{args.size} {args.dataflow}, bandwidth {args.bandwidth}"
        f"{extra}, batch 1, zoo defaults"
    )
    header = (
        "model",
        "lower s",
        "instructions",
        "timed/host",
        "fast s",
        "evaluated",
        "cycles",
        "full s",
        "full M instr/s",
        "fast/full",
        *(["stalls", "fast s at bw 0"] if args.bandwidth else []),
    )
    print(" | ".join(header))
    warmed = False
    for name in MODELS:
        started = time.perf_counter()
        program = lower_model("systolic", params, name)
        lower_s = time.perf_counter() - started
        if not warmed:
            evaluate(program, None, "fast")  # JIT warm-up (compiled code is cached on disk too)
            warmed = True
        fast, fast_s = evaluate(program, None, "fast", reuse=True)
        instructions = sum(count_instructions(lay.root, program.blocks) for lay in program.layers)
        evaluated = sum(r.evaluated_instructions for r in fast)
        cycles = sum(r.cycles for r in fast)
        row = [
            name,
            f"{lower_s:.2f}",
            f"{instructions:,}",
            f"{len(program.layers)}/{len(program.host_layers)}",
            f"{fast_s:.3f}",
            f"{100 * evaluated / instructions:.3f}%",
            f"{cycles:,}",
        ]
        if instructions < args.full_below:
            full, full_s = evaluate(program, None, "full")
            assert [r.cycles for r in full] == [r.cycles for r in fast], f"{name}: fast != full"
            row += [
                f"{full_s:.2f}",
                f"{instructions / full_s / 1e6:.1f}",
                f"{full_s / fast_s:,.0f}x",
            ]
        else:
            row += ["-", "-", "-"]
        if args.bandwidth:
            # The memory side's cost: the same model without it, measured in this run.
            unlimited = lower_model("systolic", {**params, "bandwidth": "0"}, name)
            _, unlimited_s = evaluate(unlimited, None, "fast", reuse=True)
            row += [f"{sum(r.stall_cycles for r in fast):,}", f"{unlimited_s:.3f}"]
        print(" | ".join(row), flush=True)


if __name__ == "__main__":
    main()
