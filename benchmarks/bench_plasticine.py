"""ResNet-50, bert_base and MobileNetV2 on the default Plasticine: lower + analyze, fast
and full, in one run.

    .venv/bin/python benchmarks/bench_plasticine.py [--param NAME=VALUE ...]

Per model: lowering time, instructions, the fast analysis time after JIT warm-up as
`accperf-trace analyze` does it, the share of instructions it evaluated, the full
analysis time (checked equal, cycle for cycle) and the total cycles.
"""

from __future__ import annotations

import argparse
import time

from analyzer.engine.evaluate import Evaluation, evaluate_program
from isa.program import count_instructions
from tracer.lowering import lower_model

MODELS = ("resnet50", "bert_base", "mobilenet_v2")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--param", action="append", default=[], metavar="NAME=VALUE")
    args = parser.parse_args()
    params = dict(item.split("=", 1) for item in args.param)
    Evaluation(lower_model("plasticine", params, "bert_base"), "fast").run()  # JIT warm-up
    print("| model | lower | instructions | fast analyze | evaluated | full analyze | cycles |")
    print("|---|---|---|---|---|---|---|")
    for model in MODELS:
        start = time.perf_counter()
        program = lower_model("plasticine", params, model)
        lowered = time.perf_counter() - start
        instructions = sum(
            count_instructions(layer.root, program.blocks) for layer in program.layers
        )
        start = time.perf_counter()
        fast = Evaluation(program, "fast").run()
        fast_time = time.perf_counter() - start
        start = time.perf_counter()
        full = evaluate_program(program, "full")
        full_time = time.perf_counter() - start
        assert [r.cycles for r in fast] == [r.cycles for r in full]
        evaluated = sum(r.evaluated_instructions for r in fast)
        print(
            f"| {model} | {lowered:.2f} s | {instructions:,} | {fast_time:.3f} s | "
            f"{evaluated / instructions:.1%} | {full_time:.2f} s | "
            f"{sum(r.cycles for r in fast):,} |"
        )


if __name__ == "__main__":
    main()
