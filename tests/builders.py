"""Hand-built programs for timing-rule tests (one block repeated `trips` times), the
Gemmini machine the Gemmini tests build commands on, and the fast == full check the
property tests share, which also counts how often fast mode skips a period."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from dataclasses import dataclass, replace
from fractions import Fraction

import pytest
from hypothesis import event, settings
from hypothesis import strategies as st

from accelerators.catalog import find_accelerator
from analyzer.engine import evaluate
from analyzer.engine.evaluate import Evaluation, evaluate_program, run_kernel
from analyzer.engine.memo import LoopMemo
from analyzer.engine.packing import PackedBlocks, pack_blocks, pack_layer
from isa.gemmini.commands import GemminiCommands
from isa.gemmini.lowering import lower
from isa.program import (
    Block,
    BlockRef,
    Frontend,
    LayerProgram,
    Loop,
    Operand,
    Program,
    Template,
    count_instructions,
)
from tracer.trace_io import iterate_blocks, resolve_address
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
    return machine_program(
        (Block("body", tuple(templates)),),
        Loop("layer", 1, (Loop("loop", trips, (BlockRef(0),)),)),
        units=units or {"alu": 4},
        spaces=spaces or {"r": 16},
        width=width,
        window=window,
        delay=delay,
    )


def machine_program(
    blocks: tuple[Block, ...],
    root: Loop,
    units: dict[str, int],
    spaces: dict[str, int],
    frontends: dict[str, Frontend] | None = None,
    width: int = 1,
    window: int = 2,
    delay: int = 0,
) -> Program:
    """A one-layer program of `blocks` under `root`, on the given machine: front ends
    besides the default one (`width` bundles a cycle, a window of `window`, `delay`)."""
    return Program(
        accelerator="test",
        parameters={},
        bundles_per_cycle=width,
        window_bundles=window,
        frontend_delay=delay,
        units=units,
        spaces=spaces,
        blocks=blocks,
        layers=(LayerProgram("layer", "test", 0, {}, root),),
        frontends=frontends or {},
    )


def cycles(prog: Program, mode: str = "full") -> int:
    return Evaluation(prog, mode).layer(prog.layers[0]).cycles


def timeline(prog: Program) -> list[tuple[int, int]]:
    """(start, end) of every instruction, in program order (full mode)."""
    layer = prog.layers[0]
    line = Evaluation(prog, "full").timeline(layer, 0, count_instructions(layer.root, prog.blocks))
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
        frontends=program.frontends,
        memories=program.memories,  # the memories the templates' actions name
        datapath=program.datapath,
    )
    return timeline(single)


def without_memo(blocks: PackedBlocks) -> LoopMemo:
    """A memo of no entries for `blocks` (the kernel keeps as many loop evolutions as the
    memo has rows, analyzer/engine/kernels.py): fast mode then skips iterations only where
    it finds a period."""
    memo = LoopMemo(blocks)
    arrays = memo.arrays
    memo.arrays = arrays._replace(keys=arrays.keys[:0], vals=arrays.vals[:0])
    return memo


def check_fast_equals_full(program: Program) -> bool:
    """Fast mode equals full mode on every layer, with its memo of loop evolutions and
    without it. Returns whether fast mode without the memo skipped at least one period:
    evaluated fewer iterations than some layer has (nothing else skips there: no memo,
    no layer reuse)."""
    fast = Evaluation(program, "fast", reuse_layers=False).run()  # every layer evaluated
    full = evaluate_program(program, "full")
    assert [r.cycles for r in fast] == [r.cycles for r in full]
    assert [r.instructions for r in fast] == [r.instructions for r in full]
    # The resource and queue bounds are lower bounds (analyzer/engine/bounds.py).
    assert all(r.bound.busy_cycles <= r.cycles for r in full)
    blocks = pack_blocks(program)
    memo = without_memo(blocks)
    skipped = False
    for layer, reference in zip(program.layers, full, strict=True):
        packed = pack_layer(layer, program, blocks)
        cycles, _, _, evaluated_iterations, _ = run_kernel(packed, blocks, fast=True, memo=memo)
        assert cycles == reference.cycles - reference.stall_cycles
        skipped |= evaluated_iterations < packed.block_executions
    return skipped


# A property over random programs must reach what it checks: each fast == full property
# counts its examples whose fast evaluation skipped a period, and asserts at least this
# share did (a strategy whose programs never repeat would test full mode twice).
FAST_PATH_SHARE = Fraction(1, 3)
# Where FastPathTally appends each property's count, when set (scripts/fast_path_shares.py).
SHARE_LOG = "ACCPERF_SHARE_LOG"


@dataclass
class FastPathTally:
    """Examples a property ran, and how many skipped at least one period in fast mode."""

    examples: int = 0
    skipped: int = 0

    def record(self, skipped: bool) -> None:
        self.examples += 1
        self.skipped += skipped
        # Shown by pytest --hypothesis-show-statistics.
        event("fast mode skipped a period" if skipped else "fast mode skipped no period")

    def check_share(self) -> None:
        log = os.environ.get(SHARE_LOG)
        if log:  # scripts/fast_path_shares.py: how far above the bar each property sits
            test = os.environ.get("PYTEST_CURRENT_TEST", "?").rsplit(" (", 1)[0]
            with open(log, "a") as lines:
                lines.write(f"{test}\t{self.skipped}\t{self.examples}\n")
        assert self.examples > 0
        assert self.skipped >= FAST_PATH_SHARE * self.examples, (
            f"only {self.skipped} of {self.examples} examples skipped a period in fast "
            f"mode; the strategy must reach the fast path in at least {FAST_PATH_SHARE}"
        )


# Fast mode takes a signature every k-th iteration boundary of a loop, k = signature
# length // (COMPARE_BUDGET x work per iteration) (analyzer/engine/evaluate.py): as shipped,
# and with a budget so large that k = 1 for any program a test builds, so the detection
# also meets every period where it is shortest.
SAMPLINGS = {"as-shipped": evaluate.COMPARE_BUDGET, "every-boundary": 1 << 30}


def check_reaches_fast_path(
    fast_equals_full: Callable[[FastPathTally], None],
    sampling: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Run a hypothesis property that records each example in a FastPathTally, with fast
    mode comparing states at the iteration boundaries `sampling` names; then check the
    share of examples that skipped a period."""
    monkeypatch.setattr(evaluate, "COMPARE_BUDGET", SAMPLINGS[sampling])
    tally = FastPathTally()
    fast_equals_full(tally)
    tally.check_share()


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
    # the L2 (none, small, the default), FASED's LLC model (none, small, the default) and
    # what they hold when a layer starts
    "l2_kib": st.sampled_from(["0", "16", "512"]),
    "llc_kib": st.sampled_from(["0", "64", "4096"]),
    "cache_at_start": st.sampled_from(["empty", "previous_layer", "same_layer"]),
}
# How the program calls gemmini.h (isa/gemmini/library.py LibraryCalls), drawn alike.
GEMMINI_CALL_PARAMS = {
    "conv_1x1": st.sampled_from(["matmul", "conv"]),
    "first_layer_optimizations": st.sampled_from(["true", "false"]),
    "bias": st.sampled_from(["true", "false"]),
}


def tile_loop_shapes(root: Loop) -> list[str]:
    """Each loop of a layer's root as its "tiles" loops' trips, inner ones in parentheses:
    "2(3,3)" is a loop of 2 trips around two loops of 3; a tile alone is ""."""

    def shape(node: Loop) -> str:
        inner = [text for child in node.body if isinstance(child, Loop) if (text := shape(child))]
        if node.name != "tiles":
            return ",".join(inner)
        return f"{node.trips}" + (f"({','.join(inner)})" if inner else "")

    return [shape(node) for node in root.body if isinstance(node, Loop)]


def concrete_instructions(program: Program, layer: LayerProgram) -> tuple[int, str]:
    """How many instructions `layer` runs and a digest of them in program order: each
    template's fields with every operand's address resolved at its loop indices and its
    unit instance at them. Two loop trees run the same instructions if and only if (up to
    a digest collision) the two are equal, however their loops nest."""
    lists = ("reads", "writes", "marks", "read_marks")
    unresolved = dict.fromkeys(lists, ())
    digest = hashlib.sha256()
    count = 0
    described: dict[int, list] = {}  # per block: its templates' other fields, once
    for block, index in iterate_blocks(layer.root):
        if block not in described:
            described[block] = [
                (repr(replace(t, instance_coefs=(), **unresolved)), t)
                for t in program.blocks[block].templates
            ]
        for fields, template in described[block]:
            at = [
                [(o.space, resolve_address(o, index), o.count) for o in getattr(template, name)]
                for name in lists
            ]
            digest.update(f"{fields}|{at}|{template.instance_at(index)}".encode())
            count += 1
    return count, digest.hexdigest()
