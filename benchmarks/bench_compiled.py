"""The kernels compiled ahead of time against Numba's JIT, in one process, in one run.

    PYTHONPATH=. .venv/bin/python benchmarks/bench_compiled.py [--rounds 5]
        [--cases systolic:resnet50:1 gemmini:resnet50:1 gemmini:resnet50:4]
        [--full-below 1e8]

`accperf-trace analyze` runs the kernels compiled ahead of time (analyzer/engine/
compiled.py) to spare a one-shot process importing Numba; the API keeps the JIT. This
prints what that choice costs per analysis: for each case (accelerator:model:batch, the
accelerator's defaults), the in-process fast and full evaluation times (packing and
kernels, layers reused in fast mode as `analyze` does; full mode only below
--full-below instructions), each the median of --rounds rounds that alternate JIT and
ahead-of-time runs, after a warm-up of both; and the ratio ahead-of-time / JIT. Cycles
and evaluated instructions must be equal in every run. The module is built first if it
is not (tens of seconds).
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
import time

from bench_core import evaluate, machine

from analyzer.engine import compiled
from isa.program import count_instructions
from tracer.lowering import lower_model


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument(
        "--cases",
        nargs="+",
        default=["systolic:resnet50:1", "gemmini:resnet50:1", "gemmini:resnet50:4"],
    )
    parser.add_argument("--full-below", type=float, default=1e8)
    args = parser.parse_args()
    print(f"machine: {machine()}")
    started = time.perf_counter()
    with compiled.ahead_of_time() as status:
        assert status == "ahead-of-time", status
    print(f"kernels compiled ahead of time: ready in {time.perf_counter() - started:.1f} s")
    print("case | mode | JIT s | ahead-of-time s | ahead-of-time / JIT")
    for case in args.cases:
        accelerator, model, batch = case.split(":")
        program = lower_model(accelerator, {}, model, batch=int(batch))
        instructions = sum(count_instructions(x.root, program.blocks) for x in program.layers)
        for mode in ("fast", "full") if instructions < args.full_below else ("fast",):
            times: dict[str, list[float]] = {"jit": [], "aot": []}
            seen = set()
            for round_ in range(args.rounds + 1):  # round 0 warms both up
                order = ("jit", "aot") if round_ % 2 else ("aot", "jit")
                for kernels in order:
                    context = (
                        compiled.ahead_of_time() if kernels == "aot" else contextlib.nullcontext()
                    )
                    with context:
                        results, seconds = evaluate(program, None, mode, reuse=mode == "fast")
                    seen.add(
                        (
                            sum(r.cycles for r in results),
                            sum(r.evaluated_instructions for r in results),
                        )
                    )
                    if round_:
                        times[kernels].append(seconds)
            assert len(seen) == 1, f"{case} {mode}: the kernels disagree: {seen}"
            jit, aot = statistics.median(times["jit"]), statistics.median(times["aot"])
            print(f"{case} | {mode} | {jit:.4f} | {aot:.4f} | {aot / jit:.2f}", flush=True)


if __name__ == "__main__":
    main()
