"""Hand-built programs for timing-rule tests (one block repeated `trips` times), and the
Gemmini machine the Gemmini tests build commands on."""

from __future__ import annotations

from hypothesis import settings
from hypothesis import strategies as st

from accelerators.catalog import find_accelerator
from analyzer.engine.evaluate import evaluate_one, evaluate_program, run_kernel
from analyzer.engine.packing import pack_blocks, pack_layer
from isa.gemmini.commands import GemminiCommands
from isa.gemmini.lowering import lower
from isa.program import Block, BlockRef, LayerProgram, Loop, Operand, Program, Template
from tracer.workloads.layers import Dense, Model


def op(space: str, base: int = 0, count: int = 1, coefs: tuple[int, ...] = ()) -> Operand:
    return Operand(space, base, count, coefs)


def instr(
    unit: str = "alu",
    instance: int = 0,
    latency: int = 1,
    occupancy: int = 1,
    read_time: int = 1,
    reads: tuple[Operand, ...] = (),
    writes: tuple[Operand, ...] = (),
    bundle_start: bool = True,
    opcode: str = "op",
) -> Template:
    return Template(
        opcode, unit, instance, latency, occupancy, read_time, reads, writes, bundle_start
    )


def program(
    templates: list[Template],
    trips: int = 1,
    units: dict[str, int] | None = None,
    spaces: dict[str, int] | None = None,
    width: int = 64,
    window: int = 1024,
    delay: int = 0,
) -> Program:
    layer = LayerProgram(
        "layer", "test", 0, {}, Loop("layer", 1, (Loop("loop", trips, (BlockRef(0),)),))
    )
    return Program(
        accelerator="test",
        parameters={},
        bundles_per_cycle=width,
        window_bundles=window,
        frontend_delay=delay,
        units=units or {"alu": 4},
        spaces=spaces or {"r": 16},
        blocks=(Block("body", tuple(templates)),),
        layers=(layer,),
    )


def cycles(prog: Program, mode: str = "full") -> int:
    blocks = pack_blocks(prog)
    return evaluate_one(prog.layers[0], prog, blocks, mode).cycles


def timeline(prog: Program) -> list[tuple[int, int]]:
    """(start, end) of every instruction, in program order (full mode)."""
    blocks = pack_blocks(prog)
    packed = pack_layer(prog.layers[0], prog, blocks)
    *_, line = run_kernel(
        packed, blocks, prog, fast=False, record_first=0, record_count=packed.instructions
    )
    return list(zip(line.start.tolist(), line.end.tolist(), strict=True))


def gemmini_machine(**params: str) -> tuple[GemminiCommands, Program]:
    """The default Gemmini (or with `params`), and an empty program around its machine."""
    accelerator = find_accelerator("gemmini").resolve(params)
    program = lower(accelerator, Model("empty", (Dense("fc", 16, 16),)))
    return GemminiCommands(accelerator), program


def run_block(program: Program, templates: list[Template]) -> list[tuple[int, int]]:
    """(start, end) of each instruction of a one-block program on `program`'s machine."""
    layer = LayerProgram("t", "test", 0, {}, Loop("layer", 1, (BlockRef(0),)))
    single = Program(
        accelerator=program.accelerator,
        parameters=program.parameters,
        bundles_per_cycle=program.bundles_per_cycle,
        window_bundles=program.window_bundles,
        frontend_delay=program.frontend_delay,
        units=program.units,
        spaces=program.spaces,
        blocks=(Block("test", tuple(templates)),),
        layers=(layer,),
        queues=program.queues,
    )
    return timeline(single)


def check_fast_equals_full(program: Program) -> None:
    fast = evaluate_program(program, "fast")
    full = evaluate_program(program, "full")
    assert [r.cycles for r in fast] == [r.cycles for r in full]
    assert [r.instructions for r in fast] == [r.instructions for r in full]
    # The resource and queue bounds are lower bounds (analyzer/engine/bounds.py).
    assert all(r.bound.busy_cycles <= r.cycles for r in full)


# The hypothesis profiles (tests/conftest.py) keep hypothesis's default of 100 examples,
# except the larger one for ACCPERF_FULL=1: a test states its example count for the
# default run and `examples` scales it by the profile.
DEFAULT_EXAMPLES = 100


def examples(count: int) -> int:
    return max(1, count * settings.default.max_examples // DEFAULT_EXAMPLES)


# Gemmini parameters the property tests draw (as --param strings): memories small enough
# that tiles split, DRAM from fast to the default.
GEMMINI_MEMORY_PARAMS = {
    "dim": st.sampled_from(["4", "8", "16"]),
    "scratchpad_kib": st.sampled_from(["16", "64", "256"]),
    "accumulator_kib": st.sampled_from(["4", "16", "64"]),
    "dram_latency": st.sampled_from(["1", "30", "100"]),
}
