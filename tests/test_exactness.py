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

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from accelerators.catalog import find_accelerator
from analyzer.engine import evaluate
from analyzer.engine.evaluate import evaluate_program, run_kernel
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
