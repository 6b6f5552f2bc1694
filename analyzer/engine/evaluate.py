"""Evaluate a program layer by layer, in full or fast mode, with the same kernel."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np

from analyzer.engine.bounds import BlockUsage, LayerBound, layer_bound
from analyzer.engine.kernels import evaluate_layer
from analyzer.engine.memo import NO_MEMO, LoopMemo
from analyzer.engine.packing import PackedBlocks, PackedLayer, pack_blocks, pack_layer
from analyzer.engine.recurrence import CriticalCycle
from isa.program import LayerProgram, Loop, Program
from isa.registry import FAMILIES

MODES = ("fast", "full")
# How often fast mode compares states (analyzer/engine/kernels.py, evaluate_layer): a loop takes a
# signature every k-th iteration boundary, k = signature length // (COMPARE_BUDGET x work
# per iteration, analyzer/engine/packing.py), so comparing costs at most about COMPARE_BUDGET
# times the evaluation it checks; loops with large bodies (folds) compare at every boundary.
COMPARE_BUDGET = 2


@dataclass(frozen=True)
class LayerResult:
    name: str
    kind: str
    cycles: int
    macs: int
    instructions: int
    evaluated_instructions: int
    evaluated_iterations: int
    iterations: int
    mapping: dict[str, int | str]
    bound: LayerBound
    # The earlier layer with the same loop program whose result this one reuses, if any.
    reused_from: str | None = None
    # Cycles the DRAM side adds (isa/systolic/memory_side.py); already included in `cycles`.
    stall_cycles: int = 0


@dataclass(frozen=True)
class Timeline:
    """Start and end cycle of a run of consecutive instructions of one layer."""

    first: int
    start: np.ndarray
    end: np.ndarray


def run_kernel(
    packed: PackedLayer,
    blocks: PackedBlocks,
    fast: bool,
    record_first: int = 0,
    record_count: int = 0,
    memo: LoopMemo | None = None,
) -> tuple[int, int, int, int, Timeline]:
    """Evaluate one packed layer. Fast mode remembers loops in `memo` (one of `blocks`;
    a new one when None, so nothing from an earlier evaluation is seen)."""
    if record_count and fast:
        raise ValueError("a timeline needs full mode: fast mode skips instructions")
    if memo is not None and memo.blocks is not blocks:
        raise ValueError("the loop memo belongs to another packed program; make a new one")
    if not fast:
        memo_arrays = NO_MEMO
    else:
        memo_arrays = (LoopMemo(blocks) if memo is None else memo).arrays
    record_start = np.zeros(record_count, dtype=np.int64)
    record_end = np.zeros(record_count, dtype=np.int64)
    cycles, covered, evaluated, iterations = evaluate_layer(
        packed.arrays,
        blocks.arrays,
        memo_arrays,
        fast,
        COMPARE_BUDGET,
        record_first,
        record_start,
        record_end,
    )
    if record_count == 0 and covered != packed.instructions:
        raise AssertionError(
            f"kernel covered {covered} instructions, the program has {packed.instructions}"
        )
    return (
        int(cycles),
        int(covered),
        int(evaluated),
        int(iterations),
        Timeline(record_first, record_start, record_end),
    )


def evaluate_program(
    program: Program,
    mode: str = "fast",
    on_layer: Callable[[LayerResult], None] | None = None,
    recurrence: bool = False,
) -> list[LayerResult]:
    """Cycles of every layer. Layers are independent: each starts from an idle machine."""
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
    blocks = pack_blocks(program)
    memo = LoopMemo(blocks)  # later layers meet the loops of earlier ones
    critical: dict[int, CriticalCycle | None] | None = {} if recurrence else None
    usage: dict[int, BlockUsage] = {}
    results = []
    for layer in program.layers:
        result = evaluate_one(layer, program, blocks, mode, usage, critical, memo=memo)
        results.append(result)
        if on_layer is not None:
            on_layer(result)
    return results


def evaluate_one(
    layer: LayerProgram,
    program: Program,
    blocks: PackedBlocks,
    mode: str,
    usage: dict[int, BlockUsage] | None = None,
    critical: dict[int, CriticalCycle | None] | None = None,
    reuse: dict[tuple[Loop, tuple[object, ...]], LayerResult] | None = None,
    memo: LoopMemo | None = None,
) -> LayerResult:
    """`usage` and `critical` are per-program caches (pass the same dicts for every layer
    of a program); give `critical` to compute the recurrence bound too.

    `memo`, a LoopMemo of `blocks`, lets fast mode take loops an earlier evaluation with
    the same memo remembered (pass one for every layer of a program, as evaluate_program
    does); without it the layer is evaluated as if it were alone.

    `reuse`, a per-program dict, lets a layer whose loop program equals an earlier one's
    take that layer's cycles without evaluating anything: every layer starts from an idle
    machine and its timing depends only on its loop program and the program's blocks, so
    this is exact (ResNet-50's 54 GEMM layers have 15 distinct programs at 32x32, ws).
    Fast mode only: full mode is the reference that evaluates every instruction."""
    if reuse is not None and mode != "fast":
        raise ValueError("reuse is for fast mode; full mode evaluates every layer")
    key = _reuse_key(layer)
    if reuse is not None and key in reuse:
        earlier = reuse[key]
        return replace(
            earlier,
            name=layer.name,
            kind=layer.kind,
            macs=layer.macs,
            evaluated_instructions=0,
            evaluated_iterations=0,
            mapping=layer.mapping,
            bound=layer_bound(
                layer, program, earlier.cycles, {} if usage is None else usage, critical
            ),
            reused_from=earlier.reused_from or earlier.name,
        )
    packed = pack_layer(layer, program, blocks)
    compute_cycles, covered, evaluated, iterations, _ = run_kernel(
        packed, blocks, fast=(mode == "fast"), memo=memo
    )
    stalls = _memory_stalls(layer, program)
    cycles = compute_cycles + stalls
    result = LayerResult(
        name=layer.name,
        kind=layer.kind,
        cycles=cycles,
        stall_cycles=stalls,
        macs=layer.macs,
        instructions=covered,
        evaluated_instructions=evaluated,
        evaluated_iterations=iterations,
        iterations=packed.block_executions,
        mapping=layer.mapping,
        bound=layer_bound(layer, program, cycles, {} if usage is None else usage, critical),
    )
    if reuse is not None:
        reuse[key] = result
    return result


def _memory_stalls(layer: LayerProgram, program: Program) -> int:
    family = FAMILIES.get(program.isa)
    if family is None or family.memory_stalls is None:
        return 0
    return family.memory_stalls(layer.mapping, program.parameters)


def _reuse_key(layer: LayerProgram) -> tuple[Loop, tuple[object, ...]]:
    """What a layer's cycles depend on: its loop program and, with a memory side, the GEMM
    shape the SRAMs see (two shapes can share a loop program: 64x128 and 128x64 on 32x32)."""
    if "memory_side" not in layer.mapping:
        return layer.root, ()
    return layer.root, tuple(sorted((k, str(v)) for k, v in layer.mapping.items()))
