"""Hand-built programs for timing-rule tests: one block repeated `trips` times."""

from __future__ import annotations

from analyzer.evaluate import evaluate_one, run_kernel
from analyzer.packing import pack_blocks, pack_layer
from isa.program import Block, BlockRef, LayerProgram, Loop, Operand, Program, Template


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
