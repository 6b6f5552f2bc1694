"""What counting actions and pricing them costs beside the analysis, in one run.

    .venv/bin/python benchmarks/bench_actions.py

For ResNet-50 on each built-in accelerator but UltraTrail (which runs TC-ResNets), after
JIT warm-up: the fast analysis as `analyze` runs it (counting included), the counting of
every layer's actions alone as an evaluation does it (from how often packing says the
layer runs each block, analyzer/actions.py; the layers packed beforehand, untimed), its
share of the analysis, the same counts by walking every layer's loop tree, and the
pricing and report fields (Result.to_dict); each the best of five.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from analyzer.actions import ActionCounter
from analyzer.engine.evaluate import Evaluation
from tracer.api import analyze, lower

ACCELERATORS = ("systolic", "gemmini", "plasticine")
ROUNDS = 5


def best(run: Callable[[], object]) -> float:
    times = []
    for _ in range(ROUNDS):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    print(
        "| accelerator | fast analysis | counting | counting / analysis | walking the trees "
        "| report fields |"
    )
    print("|---|---|---|---|---|---|")
    for accelerator in ACCELERATORS:
        trace = lower("resnet50", accelerator)
        program = trace.program
        analyze(trace)  # JIT warm-up
        analysis = best(lambda trace=trace: analyze(trace))

        evaluation = Evaluation(program, "fast")
        packed = [(layer, evaluation.pack(layer)) for layer in program.layers]

        def count(program=program, packed=packed) -> None:
            counter = ActionCounter(program)
            for layer, layer_ops in packed:
                counter.of(layer, counter.loop_counts_from_runs(layer_ops.block_runs))

        def walk(program=program) -> None:
            counter = ActionCounter(program)
            for layer in program.layers:
                counter.layer(layer)

        counting, walking = best(count), best(walk)
        result = analyze(trace)
        report = best(result.to_dict)
        print(
            f"| {accelerator} | {analysis:.3f} s | {1e3 * counting:.1f} ms | "
            f"{counting / analysis:.2%} | {1e3 * walking:.1f} ms | {1e3 * report:.1f} ms |",
            flush=True,
        )


if __name__ == "__main__":
    main()
