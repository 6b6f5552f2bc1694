"""Evaluate a program layer by layer, in full or fast mode, with the same kernel."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np

from analyzer.actions import ActionCounter, LayerActions
from analyzer.engine import compiled
from analyzer.engine.bounds import LayerBound, ResourceUsage, layer_bound
from analyzer.engine.memo import NO_MEMO, LoopMemo
from analyzer.engine.packing import (
    PackedBlocks,
    PackedLayer,
    SubtreeOps,
    pack_blocks,
    pack_layer,
)
from analyzer.engine.recurrence import CriticalCycles
from analyzer.engine.workspace import NO_WORKSPACE, Workspace
from isa.family import from_mapping
from isa.program import LayerProgram, Program
from isa.registry import FAMILIES

MODES = ("fast", "full")
# How often fast mode compares states (analyzer/engine/kernels.py, evaluate_layer): a loop takes a
# signature every k-th iteration boundary, k = signature length // (COMPARE_BUDGET x work
# per iteration, analyzer/engine/packing.py), so comparing costs at most about COMPARE_BUDGET
# times the evaluation it checks; loops with large bodies (folds) compare at every boundary.
COMPARE_BUDGET = 2
# Whether fast mode also skips periods of loops their front end runs ahead of, compared at
# the iterations' earliest starts (docs/design.md §4.11); tests turn it off to count what
# it skips.
AHEAD_PERIODS = True


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
    # MACs issued and memory traffic, counted over the loop tree (the same in both modes).
    actions: LayerActions | None = None


@dataclass(frozen=True)
class Timeline:
    """Issue, start and end cycle of a run of consecutive instructions of one layer (its
    first at index `first` in program order)."""

    first: int
    issue: np.ndarray
    start: np.ndarray
    end: np.ndarray


def run_kernel(
    packed: PackedLayer,
    blocks: PackedBlocks,
    fast: bool,
    record_first: int = 0,
    record_count: int = 0,
    memo: LoopMemo | None = None,
    workspace: Workspace | None = None,
) -> tuple[int, int, int, int, Timeline]:
    """Evaluate one packed layer. Fast mode remembers loops in `memo` (one of `blocks`;
    a new one when None, so nothing from an earlier evaluation is seen) and keeps its
    signatures in `workspace` (one of `blocks`; a new one when None)."""
    if record_count and fast:
        raise ValueError("a timeline needs full mode: fast mode skips instructions")
    if memo is not None and memo.blocks is not blocks:
        raise ValueError("the loop memo belongs to another packed program; make a new one")
    if workspace is not None and workspace.blocks is not blocks:
        raise ValueError("the workspace belongs to another packed program; make a new one")
    if not fast:
        memo_arrays, workspace_arrays = NO_MEMO, NO_WORKSPACE
    else:
        memo_arrays = (LoopMemo(blocks) if memo is None else memo).arrays
        workspace_arrays = (Workspace(blocks) if workspace is None else workspace).for_layer(packed)
    record = np.zeros((record_count, 3), dtype=np.int64)
    cycles, covered, evaluated, iterations = compiled.evaluate_layer(
        packed.arrays,
        blocks.arrays,
        memo_arrays,
        workspace_arrays,
        fast,
        COMPARE_BUDGET,
        fast and AHEAD_PERIODS,
        record_first,
        record,
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
        Timeline(record_first, record[:, 0], record[:, 1], record[:, 2]),
    )


class Evaluation:
    """One evaluation of a program, layer by layer: the one loop the CLI, the API, the
    cross-checks, the benchmarks and the tests all use.

    It owns everything whose lifetime is one program's evaluation: the packed blocks, the
    per-block caches of the bounds, and in fast mode the layer reuse (a layer whose loop
    program equals an earlier one's takes its result) and the loop memo (a loop entered in
    a state an earlier loop of the same block entered evolves the same way), both exact
    because every layer starts from an idle machine (docs/design.md). A new Evaluation
    starts with none of them; nothing outlives it.

    `reuse_layers=False` evaluates every layer, also one equal to an earlier layer (the
    exactness tests check each); `remember_loops=False` gives each layer a fresh memo, so
    with both off every layer is evaluated as if it were the first and per-layer times
    compare like for like (validate). Full mode is the reference that walks every
    instruction: it never reuses a layer, and the memo is a fast-mode device."""

    def __init__(
        self,
        program: Program,
        mode: str = "fast",
        *,
        recurrence: bool = False,
        reuse_layers: bool = True,
        remember_loops: bool = True,
        checked: bool = False,
    ) -> None:
        if mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
        self.program = program
        self.mode = mode
        self.reuse_layers = reuse_layers and mode == "fast"
        self.remember_loops = remember_loops
        # `checked`: the caller validated the program already (read_trace does).
        self.blocks = pack_blocks(program, checked=checked)
        self._subtrees = SubtreeOps(self.blocks)
        self._usage = ResourceUsage(program, self.blocks)
        self._critical = CriticalCycles(self.blocks) if recurrence else None
        self._reuse: dict[tuple[int, tuple[object, ...]], LayerResult] = {}
        # A layer's actions over its loop tree, per reuse key (what a reused layer shares
        # with the earlier one; its memory side's own are added per layer).
        self._loop_actions: dict[tuple[int, tuple[object, ...]], Counter[str]] = {}
        self._memo = LoopMemo(self.blocks)
        self._workspace = Workspace(self.blocks)
        self._actions = ActionCounter(program)

    def layer(self, layer: LayerProgram) -> LayerResult:
        """The result of one layer of the program."""
        key = self._reuse_key(layer) if self.reuse_layers else None
        earlier = self._reuse.get(key) if key is not None else None
        if earlier is not None:
            return replace(
                earlier,
                name=layer.name,
                kind=layer.kind,
                macs=layer.macs,
                evaluated_instructions=0,
                evaluated_iterations=0,
                mapping=layer.mapping,
                # The bound depends on the loop program and the cycles alone: both equal.
                bound=earlier.bound,
                reused_from=earlier.reused_from or earlier.name,
                # Not reused: a memory side's traffic depends on the GEMM shape as well.
                actions=self._actions.of(layer, self._loop_actions[key]),
            )
        packed = self.pack(layer)
        compute_cycles, covered, evaluated, iterations, _ = run_kernel(
            packed,
            self.blocks,
            fast=(self.mode == "fast"),
            # None: a fresh memo, as if this layer were the first.
            memo=self._memo if self.remember_loops else None,
            workspace=self._workspace,
        )
        stalls = _memory_stalls(layer, self.program)
        cycles = compute_cycles + stalls
        loop_actions = self._actions.loop_counts_from_runs(packed.block_runs)
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
            bound=self.bound(layer, packed, cycles),
            actions=self._actions.of(layer, loop_actions),
        )
        if key is not None:
            self._reuse[key] = result
            self._loop_actions[key] = loop_actions
        return result

    def run(self, on_layer: Callable[[LayerResult], None] | None = None) -> list[LayerResult]:
        """Every layer, in program order; `on_layer` is called after each (progress)."""
        results = []
        for layer in self.program.layers:
            results.append(self.layer(layer))
            if on_layer is not None:
                on_layer(results[-1])
        return results

    def timeline(self, layer: LayerProgram, first: int, count: int) -> Timeline:
        """Start and end cycles of `count` instructions of `layer` from index `first` in
        program order, by full evaluation (fast mode skips instructions)."""
        packed = self.pack(layer)
        *_, timeline = run_kernel(
            packed, self.blocks, fast=False, record_first=first, record_count=count
        )
        return timeline

    def _reuse_key(self, layer: LayerProgram) -> tuple[int, tuple[object, ...]]:
        """What a layer's cycles depend on: its loop program and, with a memory side, the
        GEMM shape the SRAMs see (two shapes can share a loop program: 64x128 and 128x64
        on 32x32)."""
        root = self._subtrees.number(layer.root)
        if "memory_side" not in layer.mapping:
            return root, ()
        return root, tuple(sorted((k, str(v)) for k, v in layer.mapping.items()))

    def pack(self, layer: LayerProgram) -> PackedLayer:
        """`layer`'s op list, sharing the subtrees earlier layers packed."""
        return pack_layer(layer, self.program, self.blocks, self._subtrees)

    def bound(self, layer: LayerProgram, packed: PackedLayer, cycles: int) -> LayerBound:
        """What bounds `layer` (`packed` by pack), which took `cycles`."""
        return layer_bound(layer, self.program, cycles, packed, self._usage, self._critical)


def evaluate_program(
    program: Program,
    mode: str = "fast",
    on_layer: Callable[[LayerResult], None] | None = None,
    recurrence: bool = False,
) -> list[LayerResult]:
    """Cycles of every layer (an Evaluation run once)."""
    return Evaluation(program, mode, recurrence=recurrence).run(on_layer)


def _memory_stalls(layer: LayerProgram, program: Program) -> int:
    family = FAMILIES.get(program.isa)
    if family is None or family.memory_stalls is None:
        return 0
    return from_mapping(family.memory_stalls, layer, program)
