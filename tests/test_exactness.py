"""The core promise: fast evaluation equals full evaluation, cycle for cycle.

Two families of random programs: systolic layers (random shapes, arrays, dataflows,
PE latencies) and arbitrary loop programs (random units, latencies, occupancies, narrow
and wide operands, queues and marks, nesting, front ends), which exercise the periodicity
detection on structures no ISA lowering produces today: loops whose bodies repeat inside
loops that stride addresses, multi-layer programs over shared fixed-location blocks (fast
mode's memo), and loops whose state repeats while their body does not.

Each fast == full property checks fast mode with its memo and without it, counts the
examples in which fast mode skipped a period and asserts a share did
(tests/builders.py, check_reaches_fast_path), and runs twice: with the signature sampling
as shipped and with a signature at every iteration boundary.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from accelerators.catalog import find_accelerator
from analyzer.engine import evaluate, signatures
from analyzer.engine.evaluate import Evaluation, evaluate_program, run_kernel
from analyzer.engine.packing import pack_blocks, pack_layer
from isa.program import (
    Block,
    BlockRef,
    Frontend,
    LayerProgram,
    Loop,
    Operand,
    Program,
    Template,
)
from isa.systolic.lowering import lower
from isa.systolic.mapping import gemm_shape
from tests.builders import (
    SAMPLINGS,
    check_fast_equals_full,
    check_reaches_fast_path,
    examples,
    timeline,
    without_memo,
)
from tests.reference import reference_cycles
from tracer.workloads.layers import Conv2d, Dense, Model

SETTINGS = settings(max_examples=examples(60))


@st.composite
def conv_layers(draw):
    kernel = draw(st.integers(1, 4))
    padding = draw(st.integers(0, kernel // 2))
    size = draw(st.integers(max(1, kernel - 2 * padding), 9))
    groups = draw(st.sampled_from([1, 1, 2]))
    return Conv2d(
        "conv",
        in_channels=groups * draw(st.integers(1, 5)),
        out_channels=groups * draw(st.integers(1, 6)),
        in_height=size,
        in_width=draw(st.integers(max(1, kernel - 2 * padding), 9)),
        kernel_height=kernel,
        kernel_width=kernel,
        stride=draw(st.integers(1, 3)),
        padding=padding,
        groups=groups,
        batch=draw(st.integers(1, 2)),
    )


@st.composite
def dense_layers(draw):
    return Dense(
        "fc",
        in_features=draw(st.integers(1, 40)),
        out_features=draw(st.integers(1, 40)),
        rows=draw(st.integers(1, 12)),
    )


def _systolic(rows: int, cols: int, dataflow: str, pe_latency: int = 1):
    params = {"rows": rows, "cols": cols, "dataflow": dataflow, "pe_latency": pe_latency}
    return find_accelerator("systolic").resolve({k: str(v) for k, v in params.items()})


@SETTINGS
@given(
    layer=st.one_of(conv_layers(), dense_layers()),
    rows=st.integers(1, 9),
    cols=st.integers(1, 9),
    dataflow=st.sampled_from(["ws", "os", "is"]),
    pe_latency=st.integers(1, 3),
)
def _systolic_fast_equals_full(tally, layer, rows, cols, dataflow, pe_latency):
    program = lower(_systolic(rows, cols, dataflow, pe_latency), Model("m", (layer,)))
    tally.record(check_fast_equals_full(program))
    full = evaluate_program(program, "full")[0]
    assert full.instructions == full.evaluated_instructions


@pytest.mark.parametrize("sampling", SAMPLINGS)
def test_systolic_fast_equals_full(sampling, monkeypatch):
    check_reaches_fast_path(_systolic_fast_equals_full, sampling, monkeypatch)


def test_systolic_fast_equals_full_with_whole_state_periods_alone(monkeypatch):
    # Ahead periods (docs/design.md §4.11) take the array's fill before whole-state
    # periods (§4.5) get to it; loops they do not take (several bundles, queues) rely on
    # §4.5 alone, so it must stay exact on its own where the front end still runs ahead.
    from analyzer.engine import evaluate

    monkeypatch.setattr(evaluate, "AHEAD_PERIODS", False)
    check_reaches_fast_path(_systolic_fast_equals_full, "every-boundary", monkeypatch)


@SETTINGS
@given(
    layer=st.one_of(conv_layers(), dense_layers()),
    rows=st.integers(1, 9),
    cols=st.integers(1, 9),
    dataflow=st.sampled_from(["ws", "os", "is"]),
)
def test_systolic_cycles_follow_scalesim_fold_formula(layer, rows, cols, dataflow):
    """Compute cycles per fold as SCALE-Sim counts them. The formula lives only here: the
    model gets its cycles from the dependency rules."""
    program = lower(_systolic(rows, cols, dataflow), Model("m", (layer,)))
    shape = gemm_shape(layer, dataflow)
    folds = shape.folds(rows, cols)
    if dataflow == "os":
        expected = folds * (shape.temporal + rows + cols - 2)
    else:
        expected = folds * (2 * rows + cols + shape.temporal - 2)
    assert evaluate_program(program, "fast")[0].cycles == expected


# ----------------------------------------------------------------- arbitrary programs

SPACE = "m"
# Narrow operands: one or two locations near the start of the space.
NARROW_BASE = 5
NARROW_COUNTS = [1, 2]
# Wide operands: ranges around and across the kernel's location chunks (64 locations,
# analyzer/engine/packing.py), which it uses once operands spanning 256 or more carry
# most of the locations the templates name.
WIDE_BASE = 150
CHUNK = 64
WIDE_COUNTS = [1, 2, 63, 64, 65, 128, 129, 256, 300, 320]
# How far one step of a strided loop's index moves an address (0: not at all): a location
# or two, or for wide operands also a whole chunk.
NARROW_STRIDES = [0, 1, 2]
WIDE_STRIDES = [0, 1, 64]


@st.composite
def operands(draw, depth: int, strided: frozenset[int], wide: bool, bases: int | None = None):
    """An operand of a block `depth` loops deep, its address moved only by the indices of
    the `strided` loop depths: the other loops' bodies repeat, so fast mode can skip them.
    `bases`: the largest base (default: WIDE_BASE or NARROW_BASE)."""
    if bases is None:
        bases = WIDE_BASE if wide else NARROW_BASE
    if wide and draw(st.booleans()):
        # On a chunk boundary: a range of whole chunks is written through the chunks'
        # floors alone, with no ragged ends beside them.
        base = CHUNK * draw(st.integers(0, bases // CHUNK))
    else:
        base = draw(st.integers(0, bases))
    count = draw(st.sampled_from(WIDE_COUNTS if wide else NARROW_COUNTS))
    strides = WIDE_STRIDES if wide else NARROW_STRIDES
    coefs = tuple(draw(st.sampled_from(strides)) if d in strided else 0 for d in range(depth))
    return Operand(SPACE, base, count, coefs)


@st.composite
def templates(
    draw,
    depth: int,
    n_units: int,
    wide: bool,
    strided: frozenset[int],
    bases: int | None = None,
    frontends: tuple[str, ...] = (),
):
    """A random template; a bundle start names one of `frontends` or the default one."""

    def operand_list(most: int):
        return tuple(
            draw(operands(depth, strided, wide, bases)) for _ in range(draw(st.integers(0, most)))
        )

    # Mostly a new bundle: a loop of instructions that never start one never advances
    # the front end, and its state drifts instead of repeating.
    bundle_start = draw(st.integers(0, 2)) != 1
    queue = draw(st.sampled_from([None, "q0", "q1"]))
    # A third of the templates run on an instance the strided loops move, as a row of
    # processing elements does (random_programs adds the instances they reach).
    moves = bool(strided) and draw(st.integers(0, 2)) == 0
    return Template(
        opcode="op",
        unit="u",
        instance=draw(st.integers(0, n_units - 1)),
        instance_coefs=tuple(
            draw(st.sampled_from((0, 1, 2))) if moves and d in strided else 0 for d in range(depth)
        ),
        # Latencies beyond the occupancies, so results are still pending at loop
        # boundaries where fast mode takes signatures.
        latency=draw(st.integers(0, 12)),
        occupancy=draw(st.integers(1, 3)),
        read_time=draw(st.integers(0, 3)),
        reads=operand_list(3),
        writes=operand_list(2),
        bundle_start=bundle_start,
        # Marks (reservation-station style completion times) and queues.
        read_marks=operand_list(1),
        marks=operand_list(1),
        queue=queue,
        # An issue queue (in-order front end stalled while it is full): a bundle's first
        # instruction only, and another queue than `queue`.
        issue_queue=draw(st.sampled_from([None, *(q for q in ("q0", "q1") if q != queue)]))
        if bundle_start
        else None,
        frontend=draw(st.sampled_from([None, *frontends])) if bundle_start else None,
    )


def space_needed(program_blocks: list[Block], roots: list[Loop]) -> int:
    """Locations the operands reach (strides are >= 0): no more, so that signatures stay
    short and fast mode compares states often (analyzer/engine/evaluate.py)."""

    def reach(node: Loop | BlockRef, trips: tuple[int, ...]) -> int:
        if isinstance(node, Loop):
            return max(reach(child, (*trips, node.trips)) for child in node.body)
        return max(
            (
                o.base
                + o.count
                + sum(c * max(n - 1, 0) for c, n in zip(o.coefs, trips, strict=False))
                for t in program_blocks[node.block].templates
                for o in t.operands()
            ),
            default=1,
        )

    # Every block counts, referenced or not: validation checks them all.
    unplaced = max(reach(BlockRef(b), ()) for b in range(len(program_blocks)))
    return max(unplaced, *(reach(root, ()) for root in roots))


def units_needed(program_blocks: list[Block], roots: list[Loop], n_units: int) -> int:
    """Instances the templates reach (coefficients are >= 0), at least `n_units`."""

    def reach(node: Loop | BlockRef, trips: tuple[int, ...]) -> int:
        if isinstance(node, Loop):
            return max(reach(child, (*trips, node.trips)) for child in node.body)
        return max(
            1
            + t.instance
            + sum(c * max(n - 1, 0) for c, n in zip(t.instance_coefs, trips, strict=False))
            for t in program_blocks[node.block].templates
        )

    return max(n_units, *(reach(root, ()) for root in roots))


@st.composite
def random_programs(
    draw, max_trips: int = 40, wide: bool | None = False, frontends: tuple[str, ...] = ()
):
    """One layer: loops up to three deep over blocks of random templates. Each loop is
    strided (its index moves addresses below it) or not (its body repeats: fast mode's
    periods); `wide`: operands over ranges (see WIDE_COUNTS), None draws it; `frontends`:
    names of front ends besides the default one, which bundles issue from at random."""
    if wide is None:
        wide = draw(st.booleans())
    n_units = draw(st.integers(1, 3))
    blocks: list[Block] = []

    def node(depth: int, strided: frozenset[int]):
        # Mostly a loop at the top: a block right under the root has nothing to repeat.
        if depth >= 3 or draw(st.integers(0, 7 if depth == 1 else 1)) == 1:
            count = draw(st.integers(1, 4))
            body = tuple(
                draw(templates(depth, n_units, wide, strided, frontends=frontends))
                for _ in range(count)
            )
            blocks.append(Block(f"b{len(blocks)}", body))
            return BlockRef(len(blocks) - 1)
        trips = draw(st.integers(0, max_trips))
        # A quarter of the loops stride: most bodies repeat, as in the lowerings.
        inner = strided | {depth} if draw(st.integers(0, 3)) == 1 else strided
        children = tuple(node(depth + 1, inner) for _ in range(draw(st.integers(1, 2))))
        return Loop(f"l{depth}", trips, children)

    root = Loop("layer", 1, tuple(node(1, frozenset()) for _ in range(draw(st.integers(1, 2)))))
    layer = LayerProgram("layer", "random", 0, {}, root)
    space = space_needed(blocks, [root])
    units = units_needed(blocks, [root], n_units)
    return draw(_random_front_end(units, space, tuple(blocks), (layer,), frontends=frontends))


@st.composite
def _random_front_end(draw, n_units, space, blocks, layers, width=3, window=6, frontends=()):
    """A program around the given blocks and layers, with random front ends (the default
    one and `frontends`) of at most `width` bundles per cycle and a window of at most
    `window` bundles."""
    return Program(
        accelerator="random",
        parameters={},
        bundles_per_cycle=draw(st.integers(1, width)),
        window_bundles=draw(st.integers(1, window)),
        frontend_delay=draw(st.integers(0, 2)),
        units={"u": n_units},
        spaces={SPACE: space},
        blocks=blocks,
        layers=layers,
        queues={"q0": draw(st.integers(1, 3)), "q1": draw(st.integers(1, 5))},
        frontends={
            name: Frontend(
                draw(st.integers(1, width)), draw(st.integers(1, window)), draw(st.integers(0, 2))
            )
            for name in frontends
        },
    )


@settings(max_examples=examples(300))
@given(program=random_programs(wide=None))
def _random_programs_fast_equals_full(tally, program):
    # Narrow operands, and wide ones (ranges across the kernel's location chunks).
    tally.record(check_fast_equals_full(program))


@pytest.mark.parametrize("sampling", SAMPLINGS)
def test_random_programs_fast_equals_full(sampling, monkeypatch):
    check_reaches_fast_path(_random_programs_fast_equals_full, sampling, monkeypatch)


@st.composite
def sweeping_programs(draw):
    """A loop whose body depends on its index although its state repeats: one instruction's
    operand sweeps with the index along locations that the body's fixed operands keep
    busy, so iterations differ only where the sweep meets them. Its effects are short
    (latency and read time 0 or 1) and the front end narrow, so signatures at its
    boundaries often repeat: fast mode must not take that for a repeating future. An outer
    loop, whose body does not depend on its index, repeats it all."""
    n_units = draw(st.integers(1, 2))
    trips = draw(st.integers(3, 12))
    stride = draw(st.integers(1, 2))
    count = draw(st.integers(1, 2))
    kind = draw(st.sampled_from(["reads", "writes", "read_marks", "marks"]))
    swept = (Operand(SPACE, 0, count, (0, 0, stride)),)  # depth 2: the sweep loop's index
    sweep = Template(
        opcode="sweep",
        unit="u",
        instance=draw(st.integers(0, n_units - 1)),
        latency=draw(st.integers(0, 1)),
        occupancy=1,
        read_time=draw(st.integers(0, 1)),
        reads=swept if kind == "reads" else (),
        writes=swept if kind == "writes" else (),
        bundle_start=draw(st.booleans()),
        read_marks=swept if kind == "read_marks" else (),
        marks=swept if kind == "marks" else (),
    )
    path = count + stride * (trips - 1)  # the locations the sweep covers
    body = [
        draw(templates(3, n_units, False, frozenset(), bases=path - 1))
        for _ in range(draw(st.integers(1, 3)))
    ]
    body.insert(draw(st.integers(0, len(body))), sweep)
    blocks = [Block("sweep body", tuple(body))]
    outer_body: list[Loop | BlockRef] = [Loop("sweep", trips, (BlockRef(0),))]
    if draw(st.booleans()):  # something after the sweep, which its last state reaches
        after = tuple(
            draw(templates(2, n_units, False, frozenset(), bases=path - 1))
            for _ in range(draw(st.integers(1, 2)))
        )
        blocks.append(Block("after", after))
        outer_body.append(BlockRef(1))
    root = Loop("layer", 1, (Loop("outer", draw(st.integers(2, 8)), tuple(outer_body)),))
    layer = LayerProgram("layer", "sweep", 0, {}, root)
    space = space_needed(blocks, [root])
    return draw(_random_front_end(n_units, space, tuple(blocks), (layer,), width=1, window=2))


@settings(max_examples=examples(200))
@given(program=sweeping_programs())
def _sweeping_programs_fast_equals_full(tally, program):
    tally.record(check_fast_equals_full(program))


@pytest.mark.parametrize("sampling", SAMPLINGS)
def test_sweeping_programs_fast_equals_full(sampling, monkeypatch):
    check_reaches_fast_path(_sweeping_programs_fast_equals_full, sampling, monkeypatch)


@settings(max_examples=examples(300))
@given(program=random_programs(max_trips=6, wide=None))
def test_random_programs_full_equals_an_independent_reference(program):
    # tests/reference.py reads docs/design.md §3's rules afresh, in plain Python: the kernel's full
    # mode must agree with it cycle for cycle (and fast mode with full, above).
    assert evaluate_program(program, "full")[0].cycles == reference_cycles(
        program, program.layers[0]
    )


@SETTINGS
@given(
    shapes=st.lists(
        st.tuples(st.integers(1, 30), st.integers(1, 30), st.integers(1, 60)),
        min_size=2,
        max_size=4,
    ),
    rows=st.integers(1, 6),
    cols=st.integers(1, 6),
    dataflow=st.sampled_from(["ws", "os", "is"]),
)
def _memo_across_layers_keeps_fast_equal_to_full(tally, shapes, rows, cols, dataflow):
    # Layers of one program share their blocks, so fast mode's memo carries loop
    # evolutions from one layer into the next (analyzer/engine/kernels.py, evaluate_layer).
    layers = tuple(
        Dense(f"fc{i}", in_features=k, out_features=n, rows=m) for i, (k, n, m) in enumerate(shapes)
    )
    program = lower(_systolic(rows, cols, dataflow), Model("net", layers))
    tally.record(check_fast_equals_full(program))


@pytest.mark.parametrize("sampling", SAMPLINGS)
def test_memo_across_layers_keeps_fast_equal_to_full(sampling, monkeypatch):
    check_reaches_fast_path(_memo_across_layers_keeps_fast_equal_to_full, sampling, monkeypatch)


def test_memo_spares_a_later_layer_the_warm_up(monkeypatch):
    # Two layers with long streams on one array: the second starts where the first did
    # (idle machine) and meets the same preload and stream loops, so it evaluates far
    # fewer iterations than the first, with cycles still equal to full evaluation. Ahead
    # periods (docs/design.md §4.11) shorten the warm-up itself; off, the memo's share shows.
    from analyzer.engine import evaluate

    monkeypatch.setattr(evaluate, "AHEAD_PERIODS", False)
    layers = (Dense("a", 64, 64, rows=3000), Dense("b", 64, 64, rows=2000))
    program = lower(_systolic(16, 16, "ws"), Model("net", layers))
    fast = evaluate_program(program, "fast")
    full = evaluate_program(program, "full")
    assert [r.cycles for r in fast] == [r.cycles for r in full]
    assert fast[1].evaluated_iterations * 4 < fast[0].evaluated_iterations
    # Without the memo (as the fast == full properties count skips) the second layer
    # finds its periods itself, after a warm-up like the first's (not always the same
    # count: a loop evaluates its last trips that do not fill a compared stride, which
    # differ with the layers' lengths), and evaluates over 4 times what the memo leaves.
    blocks = pack_blocks(program)
    memo = without_memo(blocks)
    alone = [
        run_kernel(pack_layer(layer, program, blocks), blocks, fast=True, memo=memo)
        for layer in program.layers
    ]
    assert [cycles for cycles, *_ in alone] == [r.cycles for r in full]
    assert alone[1][3] > 4 * fast[1].evaluated_iterations  # [3]: evaluated iterations
    assert abs(alone[1][3] - alone[0][3]) * 10 < alone[0][3]
    assert all(evaluated < r.iterations for (*_, evaluated, _), r in zip(alone, full, strict=True))


@st.composite
def random_multilayer_programs(draw, wide: bool | None = False):
    """Several layers over a shared pool of fixed-location blocks, wrapped in loops of
    random trips, so fast mode's memo meets the same loops in different layers, entered
    from different states. `wide`: operands over ranges (see WIDE_COUNTS), None draws it."""
    if wide is None:
        wide = draw(st.booleans())
    n_units = draw(st.integers(1, 3))
    shared = [
        Block(
            f"s{i}",
            tuple(
                draw(templates(0, n_units, wide, frozenset()))
                for _ in range(draw(st.integers(1, 3)))
            ),
        )
        for i in range(draw(st.integers(1, 3)))
    ]

    def node(depth: int):
        if depth >= 3 or draw(st.integers(0, 2)) == 0:
            return BlockRef(draw(st.integers(0, len(shared) - 1)))
        children = tuple(node(depth + 1) for _ in range(draw(st.integers(1, 2))))
        return Loop(f"l{depth}", draw(st.integers(1, 30)), children)

    layers = tuple(
        LayerProgram(
            f"L{i}",
            "random",
            0,
            {},
            Loop("layer", 1, tuple(node(1) for _ in range(draw(st.integers(2, 3))))),
        )
        for i in range(draw(st.integers(2, 4)))
    )
    space = space_needed(shared, [layer.root for layer in layers])
    return draw(_random_front_end(n_units, space, tuple(shared), layers))


@settings(max_examples=examples(300))
@given(program=random_multilayer_programs(wide=None))
def _random_multilayer_programs_fast_equals_full(tally, program):
    tally.record(check_fast_equals_full(program))


@pytest.mark.parametrize("sampling", SAMPLINGS)
def test_random_multilayer_programs_fast_equals_full(sampling, monkeypatch):
    check_reaches_fast_path(_random_multilayer_programs_fast_equals_full, sampling, monkeypatch)


def test_memo_restores_whether_a_bundle_is_open():
    # Layer B begins with the loop layer A consisted of, from the same idle state; after
    # restoring it, the next bundle must still find a bundle open, or the front end's
    # window loses one entry and B's last instruction issues a cycle early.
    x = Template("x", "u", 0, 0, 5, 0, (), (), True)
    y = Template("y", "u", 1, 1, 1, 0, (), (), True)
    a = LayerProgram("A", "t", 0, {}, Loop("layer", 1, (Loop("l", 2, (BlockRef(0),)),)))
    b = LayerProgram("B", "t", 0, {}, Loop("layer", 1, (Loop("l", 2, (BlockRef(0),)), BlockRef(1))))
    program = Program(
        "t", {}, 1, 1, 0, {"u": 2}, {"m": 1}, (Block("X", (x,)), Block("Y", (y,))), (a, b)
    )
    full = [r.cycles for r in evaluate_program(program, "full")]
    assert full == [5, 6]
    assert [r.cycles for r in evaluate_program(program, "fast")] == full


def test_memo_never_restores_a_loop_whose_addresses_an_outer_index_moves():
    # Outer loop o (3 trips): a sync block (reads m[0..3) and waits for every write; a
    # barrier bundle behind it, issued when the sync starts: window of one bundle), then
    # loop l of 60 writes to m[o] (latency 5, each waiting for the previous: WAW).
    # Width 1, window 1: o=0 syncs at 0, the barrier issues at 1, the writes start at
    # 2, 7, ..., the last ends at 7 + 5 * 59 = 302; o=1 syncs at 302 and writes m[1] from
    # 303 to 603; o=2 syncs at 603 and writes m[2] from 604 to 904; C reads m[2] at 904
    # and ends at 905. Loop l is entered at o=1 and o=2 from equal signatures, but its
    # writes go to other locations: restoring o=1's evolution at o=2 would leave m[2]
    # unwritten and C early, so such a loop is never remembered.
    def template(opcode, instance, latency, reads=(), writes=()):
        return Template(opcode, "u", instance, latency, 1, 0, reads, writes, True)

    sync = Block(
        "sync", (template("sync", 1, 0, reads=(Operand("m", 0, 3),)), template("barrier", 2, 0))
    )
    write = Block("write", (template("w", 0, 5, writes=(Operand("m", 0, 1, (0, 1, 0)),)),))
    last = Block("last", (template("c", 3, 1, reads=(Operand("m", 2, 1),)),))
    outer = Loop("o", 3, (BlockRef(0), Loop("l", 60, (BlockRef(1),))))
    layer = LayerProgram("L", "t", 0, {}, Loop("layer", 1, (outer, BlockRef(2))))
    program = Program("t", {}, 1, 1, 0, {"u": 4}, {"m": 3}, (sync, write, last), (layer,))
    full = evaluate_program(program, "full")[0]
    fast = evaluate_program(program, "fast")[0]
    assert full.cycles == fast.cycles == 905
    assert fast.evaluated_iterations < full.evaluated_iterations  # loop l skipped periods


@pytest.mark.parametrize("sampling", SAMPLINGS)
def test_two_bundles_a_cycle_repeat_every_two_iterations(sampling, monkeypatch):
    # Two bundles a cycle, six ahead (never the bound: bundle k - 6 started three cycles
    # before bundle k), no delay; 41 bundles of one
    # instruction (occupancy 0, latency 1): bundle k issues and starts at k // 2, so the
    # last ends at 21. After an even bundle the issue ring's older entry is the issue
    # time itself (the cycle is full), after an odd one a cycle earlier: the two
    # boundaries differ, and the period is two iterations a cycle. Clamping the ring at
    # the issue time would call them equal and skip a cycle per iteration.
    monkeypatch.setattr(evaluate, "COMPARE_BUDGET", SAMPLINGS[sampling])
    body = Template("b", "u", 0, 1, 0, 0, (), (), True)
    root = Loop("layer", 1, (Loop("l", 41, (BlockRef(0),)),))
    program = Program(
        "t", {}, 2, 6, 0, {"u": 1}, {"m": 1}, (Block("b", (body,)),),
        (LayerProgram("L", "t", 0, {}, root),),
    )  # fmt: skip
    assert timeline(program) == [(k // 2, k // 2 + 1) for k in range(41)]
    fast = Evaluation(program, "fast", reuse_layers=False).run()[0]
    assert fast.cycles == 21 == reference_cycles(program, program.layers[0])
    assert fast.evaluated_iterations < 41  # the loop skipped periods


def test_a_skip_keeps_a_read_time_at_the_floor_a_writer_beside_it_sees(monkeypatch):
    # As above, two bundles a cycle, six ahead: 41 bundles of one instruction on u[0]
    # (occupancy 0, latency 1) reading m[0] for a cycle, bundle k at k // 2; then W on
    # u[1] (latency 1, the program's shortest) writes m[0], issued beside bundle 40 at 20.
    # m[0]'s pending read lasts until 21, the last issue time plus the shortest latency:
    # W's end may not come before it, so W starts at 20 and ends at 21. A skip clamping
    # read times a cycle later than that would restore 22 there and end W at 22.
    monkeypatch.setattr(evaluate, "COMPARE_BUDGET", SAMPLINGS["every-boundary"])
    body = Template("b", "u", 0, 1, 0, 1, (Operand("m", 0),), (), True)
    w = Template("w", "u", 1, 1, 1, 1, (), (Operand("m", 0),), True)
    root = Loop("layer", 1, (Loop("l", 41, (BlockRef(0),)), BlockRef(1)))
    program = Program(
        "t", {}, 2, 6, 0, {"u": 2}, {"m": 1}, (Block("b", (body,)), Block("w", (w,))),
        (LayerProgram("L", "t", 0, {}, root),),
    )  # fmt: skip
    assert timeline(program)[-2:] == [(20, 21), (20, 21)]
    fast = Evaluation(program, "fast", reuse_layers=False).run()[0]
    assert fast.cycles == 21 == reference_cycles(program, program.layers[0])
    assert fast.evaluated_iterations < 41  # the loop skipped periods


@pytest.mark.parametrize("sampling", SAMPLINGS)
def test_a_skip_keeps_a_unit_the_loop_never_uses_busy(sampling, monkeypatch):
    # One bundle a cycle, one ahead, no delay. P on u[1] (latency 0, occupancy 1000) keeps
    # u[1] busy until 1000. Loop l: 50 instructions on u[0] (latency 1), each issued a
    # cycle after the one before and starting at its issue. Q on u[1] (latency 10) after
    # the loop waits for u[1] until 1000 and ends at 1010. The loop's boundaries differ
    # only in u[1]'s free time relative to the issue time, which no instruction of the
    # loop touches: a signature without it would match at once and the restore would free
    # u[1] at the loop's end, so that Q ended at 61.
    monkeypatch.setattr(evaluate, "COMPARE_BUDGET", SAMPLINGS[sampling])
    p = Block("p", (Template("p", "u", 1, 0, 1000, 0, (), (), True),))
    body = Block("l", (Template("l", "u", 0, 1, 1, 0, (), (), True),))
    q = Block("q", (Template("q", "u", 1, 10, 1, 0, (), (), True),))
    root = Loop("layer", 1, (BlockRef(0), Loop("l", 50, (BlockRef(1),)), BlockRef(2)))
    program = Program(
        "t", {}, 1, 1, 0, {"u": 2}, {"m": 1}, (p, body, q), (LayerProgram("L", "t", 0, {}, root),)
    )
    assert timeline(program)[-1] == (1000, 1010)
    fast = Evaluation(program, "fast", reuse_layers=False).run()[0]
    assert fast.cycles == 1010 == reference_cycles(program, program.layers[0])


@pytest.mark.parametrize("sampling", SAMPLINGS)
def test_a_skip_restores_write_times_no_later_than_the_last_issue(sampling, monkeypatch):
    # Width 2, window 8, no front-end delay. W0 writes m[0] at 0 (latency 0). Loop l: 40
    # instructions B on u[0] (latency 2), each taking an entry of issue queue q0 (2
    # entries) until its end: B0 issues at 0, B1 at 1 (two bundles a cycle, W0 and B0 at
    # 0), then B_k waits for B_(k-2)'s end and issues and starts at k, ending at k + 2.
    # W1 on u[1] (latency 5) overwrites m[0]: it issues at 39 beside B39 (width 2), its unit
    # is idle and m[0] was written at 0, so it starts at 39 and the layer ends at 44.
    # Fast mode skips l's periods; the state it restores must keep m[0]'s write at or
    # before the last issue time (39), since W1 starts there: clamping it at 40 would end
    # the layer at 45.
    monkeypatch.setattr(evaluate, "COMPARE_BUDGET", SAMPLINGS[sampling])
    w0 = Block("w0", (Template("w0", "u", 1, 0, 1, 0, (), (Operand("m", 0, 1),), True),))
    b = Block("b", (Template("b", "u", 0, 2, 1, 0, (), (), True, issue_queue="q0"),))
    w1 = Block("w1", (Template("w1", "u", 1, 5, 1, 0, (), (Operand("m", 0, 1),), True),))
    root = Loop("layer", 1, (BlockRef(0), Loop("l", 40, (BlockRef(1),)), BlockRef(2)))
    program = Program(
        "t",
        {},
        2,
        8,
        0,
        {"u": 2},
        {"m": 1},
        (w0, b, w1),
        (LayerProgram("L", "t", 0, {}, root),),
        queues={"q0": 2},
    )
    expected = [(0, 0), (0, 2), *((k, k + 2) for k in range(1, 40)), (39, 44)]
    assert timeline(program) == expected
    fast = Evaluation(program, "fast", reuse_layers=False).run()[0]
    assert fast.cycles == 44
    assert fast.evaluated_iterations < 40  # loop l skipped periods


def test_signatures_are_compared_in_full():
    # A hash match alone never decides a period (analyzer/engine/signatures.py): the full
    # comparison must see a difference in any item the sparse layout uses, the first and
    # the last included, and in how many it uses (the buffer's last item); the items past
    # them are leftovers of wider signatures, which no comparison may read.
    same = np.array([3, 1, 4, 1, 5, -1, -1, 5], dtype=np.int64)
    assert signatures._equal(same, same.copy())
    for k in range(5):
        other = same.copy()
        other[k] += 1
        assert not signatures._equal(same, other)
    longer = same.copy()
    longer[-1] = 6
    assert not signatures._equal(same, longer)
    leftover = same.copy()
    leftover[5:7] = (9, 2)
    assert signatures._equal(same, leftover)


@pytest.mark.parametrize("sampling", SAMPLINGS)
def test_a_loop_sweeping_across_fixed_operands_is_never_skipped(sampling, monkeypatch):
    # Width 1, window 1, no front-end delay; loop l, 8 trips: F on u[0] reads m[3] for 10
    # cycles (latency 0), then W on u[1] writes m[k] (latency 0). F_k and W_k issue at 2k
    # and 2k + 1 and start there, for k < 3. W_3 overwrites m[3] while F_3 (start 6) reads
    # it until 16: WAR, W_3 starts at 16. F_4 issues once W_3 started (window) and waits
    # for its write (RAW): 16; W_4 17, ..., F_7 22, W_7 23: the layer ends at 23.
    # The state at each boundary before k = 3 repeats (m[k-1]'s write is already past),
    # but the iterations differ where W reaches m[3]: skipping there would end at 15. Nor
    # may the loop skip translated periods (docs/design.md §4.6): W's locations move with
    # the index, F's do not, and they meet.
    monkeypatch.setattr(evaluate, "COMPARE_BUDGET", SAMPLINGS[sampling])
    f = Template("f", "u", 0, 0, 1, 10, (Operand("m", 3, 1),), (), True)
    w = Template("w", "u", 1, 0, 1, 0, (), (Operand("m", 0, 1, (0, 1)),), True)
    root = Loop("layer", 1, (Loop("l", 8, (BlockRef(0),)),))
    layer = LayerProgram("L", "t", 0, {}, root)
    program = Program("t", {}, 1, 1, 0, {"u": 2}, {"m": 8}, (Block("b", (f, w)),), (layer,))
    before = [(t, t) for t in range(7)]
    after = [(16, 16), *((t, t) for t in range(16, 24))]
    assert timeline(program) == before + after
    assert Evaluation(program, "fast", reuse_layers=False).run()[0].cycles == 23


@pytest.mark.parametrize("width", (1, 300))
@pytest.mark.parametrize("sampling", SAMPLINGS)
def test_a_skip_keeps_a_read_still_pending(sampling, width, monkeypatch):
    # Width 1, window 1, no front-end delay. P on u[2] reads m[0] for 60 cycles from 0.
    # Loop l, 40 trips: A on u[0] (latency 1), one a cycle from 1 to 40 (ending at 41).
    # Then W on u[1] overwrites m[0] (latency 0): WAR, it ends no earlier than P's read,
    # so at 60, and the layer ends at 60. Loop l's iterations repeat in everything but
    # how far off P's read still is. (A signature without pending reads would skip them,
    # but W would still wait for P: a skip leaves alone the locations its loop does not
    # touch. The next test is the case where the read times decide.) With P reading and W
    # writing 300 locations the state is
    # chunked (docs/design.md §3.7): P's read leaves chunks whose write times are all at
    # or below the issue floor but whose reads are pending, which a whole-state signature
    # must keep (§4.3).
    monkeypatch.setattr(evaluate, "COMPARE_BUDGET", SAMPLINGS[sampling])
    p = Template("p", "u", 2, 0, 1, 60, (Operand("m", 0, width),), (), True)
    a = Template("a", "u", 0, 1, 1, 0, (), (), True)
    w = Template("w", "u", 1, 0, 1, 0, (), (Operand("m", 0, width),), True)
    root = Loop("layer", 1, (BlockRef(0), Loop("l", 40, (BlockRef(1),)), BlockRef(2)))
    layer = LayerProgram("L", "t", 0, {}, root)
    blocks = (Block("p", (p,)), Block("a", (a,)), Block("w", (w,)))
    program = Program("t", {}, 1, 1, 0, {"u": 3}, {"m": width}, blocks, (layer,))
    assert (pack_blocks(program).arrays.chunk_shift > 0) == (width > 1)
    assert timeline(program) == [(0, 0), *((k, k + 1) for k in range(1, 41)), (60, 60)]
    fast = Evaluation(program, "fast", reuse_layers=False).run()[0]
    # The read is pending until after the loop, so no two boundaries of l are equal states.
    assert fast.cycles == 60


@pytest.mark.parametrize("width", (1, 300))
@pytest.mark.parametrize("sampling", SAMPLINGS)
def test_a_skip_restores_the_read_times_its_iterations_set(sampling, width, monkeypatch):
    # As above, but each A also reads m[0] (for 50 cycles from its start): A k starts at
    # k + 1 and reads until k + 51, the last one until 90, so W ends at 90, past P's 60.
    # Loop l's boundaries repeat moved by one cycle, its reads included, and fast mode
    # skips; the skip must restore m[0]'s read time as the last iteration sets it. A
    # signature without read times would match too, and its restore would leave m[0]
    # holding an earlier iteration's read (W at 60).
    monkeypatch.setattr(evaluate, "COMPARE_BUDGET", SAMPLINGS[sampling])
    p = Template("p", "u", 2, 0, 1, 60, (Operand("m", 0, width),), (), True)
    a = Template("a", "u", 0, 1, 1, 50, (Operand("m", 0, width),), (), True)
    w = Template("w", "u", 1, 0, 1, 0, (), (Operand("m", 0, width),), True)
    root = Loop("layer", 1, (BlockRef(0), Loop("l", 40, (BlockRef(1),)), BlockRef(2)))
    layer = LayerProgram("L", "t", 0, {}, root)
    blocks = (Block("p", (p,)), Block("a", (a,)), Block("w", (w,)))
    program = Program("t", {}, 1, 1, 0, {"u": 3}, {"m": width}, blocks, (layer,))
    assert timeline(program) == [(0, 0), *((k, k + 1) for k in range(1, 41)), (90, 90)]
    fast = Evaluation(program, "fast", reuse_layers=False).run()[0]
    assert fast.cycles == 90
    assert fast.evaluated_iterations < 42  # the loop skipped: the restore was reached


def _chunked_reads_program(blocks: tuple[Block, ...], body: tuple, units: int) -> Program:
    """One layer running `body` over space m of 300 locations, read and written by operands
    wide enough that the state is chunked (docs/design.md §3.7)."""
    layer = LayerProgram("L", "t", 0, {}, Loop("layer", 1, body))
    program = Program("t", {}, 1, 1, 0, {"u": units}, {"m": 300}, blocks, (layer,))
    assert pack_blocks(program).arrays.chunk_shift > 0
    return program


@pytest.mark.parametrize("sampling", SAMPLINGS)
def test_a_skip_restores_reads_the_loop_leaves_pending_in_every_chunk(sampling, monkeypatch):
    # Width 1, window 1, no front-end delay. Loop l, 40 trips: A on u[0] (latency 1) reads
    # m[0..300) for 10 cycles, one a cycle from 0 to 39, so the last read lasts until 49.
    # Then W on u[1] overwrites m[64..300) (latency 0): WAR, it ends no earlier, so at 49.
    # The state is chunked and its write times are all at the issue floor: the reads
    # pending in chunks 1-4, which only the chunks' read bounds show a signature, must be
    # kept and restored moved, or W would find the reads of the first iterations (ending
    # at 10-12) and start at 40 (a restore leaves untouched what a signature leaves out,
    # §4.5).
    monkeypatch.setattr(evaluate, "COMPARE_BUDGET", SAMPLINGS[sampling])
    a = Template("a", "u", 0, 1, 1, 10, (Operand("m", 0, 300),), (), True)
    w = Template("w", "u", 1, 0, 1, 0, (), (Operand("m", 64, 236),), True)
    blocks = (Block("a", (a,)), Block("w", (w,)))
    program = _chunked_reads_program(blocks, (Loop("l", 40, (BlockRef(0),)), BlockRef(1)), 2)
    assert timeline(program) == [*((k, k + 1) for k in range(40)), (49, 49)]
    fast = Evaluation(program, "fast", reuse_layers=False).run()[0]
    assert fast.evaluated_instructions < 41  # the loop skipped
    assert fast.cycles == 49


@pytest.mark.parametrize("sampling", SAMPLINGS)
def test_a_skip_sees_a_read_before_the_loop_that_the_loop_extends(sampling, monkeypatch):
    # Width 1, window 1, no front-end delay. P on u[2] reads m[0..300) for 30 cycles from
    # 0. Loop l, 40 trips: A on u[0] (latency 1) reads m[0..300) for 10 cycles, one a cycle
    # from 1 to 40, so P's read is the latest until A_21 (ending 31) and A_40's lasts until
    # 50. Then W on u[1] overwrites m[0..300) (latency 0): WAR, it ends at 50. Until A_21
    # the boundaries differ only in how far off P's read is, in chunks whose write times
    # are at the issue floor: a signature that missed it (a read bound not raised) would
    # skip from the start and leave P's read, 30, for W, which would start at 41.
    monkeypatch.setattr(evaluate, "COMPARE_BUDGET", SAMPLINGS[sampling])
    p = Template("p", "u", 2, 0, 1, 30, (Operand("m", 0, 300),), (), True)
    a = Template("a", "u", 0, 1, 1, 10, (Operand("m", 0, 300),), (), True)
    w = Template("w", "u", 1, 0, 1, 0, (), (Operand("m", 0, 300),), True)
    blocks = (Block("p", (p,)), Block("a", (a,)), Block("w", (w,)))
    body = (BlockRef(0), Loop("l", 40, (BlockRef(1),)), BlockRef(2))
    program = _chunked_reads_program(blocks, body, 3)
    assert timeline(program) == [(0, 0), *((k, k + 1) for k in range(1, 41)), (50, 50)]
    assert Evaluation(program, "fast", reuse_layers=False).run()[0].cycles == 50


@pytest.mark.parametrize("sampling", SAMPLINGS)
def test_a_restore_writes_the_reads_a_later_loop_extends(sampling, monkeypatch):
    # Width 1, window 1, no front-end delay. Loop l1, 10 trips: B on u[0] (latency 1) reads
    # m[0..300) for 30 cycles, one a cycle from 0, so B_9's read lasts until 39; l1 skips.
    # Loop l2, 40 trips: A on u[1] (latency 1) reads m[0..300) for 10 cycles, one a cycle
    # from 10 to 49; B_9's read is the latest until A_30's, and A_49's lasts until 59.
    # Then W on u[2] overwrites m[0..300) (latency 0): WAR, it ends at 59. l1's skip must
    # write B_9's pending reads into the chunks it restores, moved: left as they were when
    # l1 skipped, l2's boundaries would repeat early, l2 would skip, and W would start at 50.
    # (A read bound set too low by that restore is not seen here: A's own reads raise it.)
    monkeypatch.setattr(evaluate, "COMPARE_BUDGET", SAMPLINGS[sampling])
    b = Template("b", "u", 0, 1, 1, 30, (Operand("m", 0, 300),), (), True)
    a = Template("a", "u", 1, 1, 1, 10, (Operand("m", 0, 300),), (), True)
    w = Template("w", "u", 2, 0, 1, 0, (), (Operand("m", 0, 300),), True)
    blocks = (Block("b", (b,)), Block("a", (a,)), Block("w", (w,)))
    body = (Loop("l1", 10, (BlockRef(0),)), Loop("l2", 40, (BlockRef(1),)), BlockRef(2))
    program = _chunked_reads_program(blocks, body, 3)
    assert timeline(program) == [*((k, k + 1) for k in range(50)), (59, 59)]
    fast = Evaluation(program, "fast", reuse_layers=False).run()[0]
    assert fast.evaluated_instructions < 51  # some loop skipped
    assert fast.cycles == 59
