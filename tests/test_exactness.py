"""The core promise: fast evaluation equals full evaluation, cycle for cycle.

Two families of random programs: systolic layers (random shapes, arrays, dataflows,
PE latencies) and arbitrary loop programs (random units, latencies, occupancies,
operands, affine addresses, nesting, front ends), which exercise the periodicity
detection on structures no ISA lowering produces today.
"""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from accelerators.catalog import find_accelerator
from analyzer.engine.evaluate import evaluate_program
from isa.program import Block, BlockRef, LayerProgram, Loop, Operand, Program, Template
from isa.systolic.lowering import lower
from isa.systolic.mapping import gemm_shape
from tests.builders import examples
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
def test_systolic_fast_equals_full(layer, rows, cols, dataflow, pe_latency):
    program = lower(_systolic(rows, cols, dataflow, pe_latency), Model("m", (layer,)))
    full = evaluate_program(program, "full")[0]
    fast = evaluate_program(program, "fast")[0]
    assert fast.cycles == full.cycles
    assert fast.instructions == full.instructions == full.evaluated_instructions
    assert fast.evaluated_instructions <= full.evaluated_instructions


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


# Wide operands: ranges around and across the kernel's location chunks (64 locations,
# analyzer/engine/packing.py), which it uses once some operand spans 256 or more.
WIDE_BASE = 150
WIDE_COUNTS = [1, 2, 63, 64, 65, 127, 128, 129, 300]
WIDE_COEFS = [0, 0, 1, 64]


@st.composite
def templates(draw, depth: int, n_units: int, wide: bool = False):
    def operand():
        base = draw(st.integers(0, WIDE_BASE if wide else 5))
        count = draw(st.sampled_from(WIDE_COUNTS) if wide else st.integers(1, 2))
        coefs = tuple(
            draw(st.sampled_from(WIDE_COEFS if wide else [0, 0, 0, 1])) for _ in range(depth)
        )
        return Operand(SPACE, base, count, coefs)

    bundle_start = draw(st.booleans())
    queue = draw(st.sampled_from([None, "q0", "q1"]))
    return Template(
        opcode="op",
        unit="u",
        instance=draw(st.integers(0, n_units - 1)),
        latency=draw(st.integers(0, 4)),
        occupancy=draw(st.integers(1, 3)),
        read_time=draw(st.integers(0, 3)),
        reads=tuple(operand() for _ in range(draw(st.integers(0, 3)))),
        writes=tuple(operand() for _ in range(draw(st.integers(0, 2)))),
        bundle_start=bundle_start,
        # Marks (reservation-station style completion times) and queues.
        read_marks=tuple(operand() for _ in range(draw(st.integers(0, 1)))),
        marks=tuple(operand() for _ in range(draw(st.integers(0, 1)))),
        queue=queue,
        # An issue queue (in-order front end stalled while it is full): a bundle's first
        # instruction only, and another queue than `queue`.
        issue_queue=draw(st.sampled_from([None, *(q for q in ("q0", "q1") if q != queue)]))
        if bundle_start
        else None,
    )


@st.composite
def random_programs(draw, max_trips: int = 40, wide: bool | None = False):
    """`wide`: operands over ranges (see WIDE_COUNTS); None draws it."""
    if wide is None:
        wide = draw(st.booleans())
    n_units = draw(st.integers(1, 3))
    blocks: list[Block] = []

    def node(depth: int):
        if depth >= 3 or draw(st.booleans()):
            count = draw(st.integers(1, 4))
            body = tuple(draw(templates(depth, n_units, wide)) for _ in range(count))
            blocks.append(Block(f"b{len(blocks)}", body))
            return BlockRef(len(blocks) - 1)
        children = tuple(node(depth + 1) for _ in range(draw(st.integers(1, 2))))
        return Loop(f"l{depth}", draw(st.integers(0, max_trips)), children)

    body = tuple(node(1) for _ in range(draw(st.integers(1, 2))))
    root = Loop("layer", 1, body)
    # Large enough for every affine address: base <= 5, count <= 2, each of up to 3
    # loop indices adds at most max_trips - 1 (times 64 for wide operands).
    if wide:
        space = WIDE_BASE + max(WIDE_COUNTS) + 3 * (max_trips - 1) * max(WIDE_COEFS) + 1
    else:
        space = 5 + 2 + 3 * (max_trips - 1) + 1
    layer = LayerProgram("layer", "random", 0, {}, root)
    return draw(_random_front_end(n_units, space, tuple(blocks), (layer,)))


@st.composite
def _random_front_end(draw, n_units, space, blocks, layers):
    """A program around the given blocks and layers, with a random front end."""
    return Program(
        accelerator="random",
        parameters={},
        bundles_per_cycle=draw(st.integers(1, 3)),
        window_bundles=draw(st.integers(1, 6)),
        frontend_delay=draw(st.integers(0, 2)),
        units={"u": n_units},
        spaces={SPACE: space},
        blocks=blocks,
        layers=layers,
        queues={"q0": draw(st.integers(1, 3)), "q1": draw(st.integers(1, 5))},
    )


@settings(max_examples=examples(450))
@given(program=random_programs(wide=None))
def test_random_programs_fast_equals_full(program):
    # Narrow operands, and wide ones (ranges across the kernel's location chunks).
    full = evaluate_program(program, "full")[0]
    fast = evaluate_program(program, "fast")[0]
    assert fast.cycles == full.cycles
    assert fast.instructions == full.instructions


@settings(max_examples=examples(300))
@given(program=random_programs(max_trips=6, wide=None))
def test_random_programs_full_equals_an_independent_reference(program):
    # tests/reference.py reads DESIGN.md's rules afresh, in plain Python: the kernel's full
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
def test_memo_across_layers_keeps_fast_equal_to_full(shapes, rows, cols, dataflow):
    # Layers of one program share their blocks, so fast mode's memo carries loop
    # evolutions from one layer into the next (analyzer/engine/kernels.py, evaluate_layer).
    layers = tuple(
        Dense(f"fc{i}", in_features=k, out_features=n, rows=m) for i, (k, n, m) in enumerate(shapes)
    )
    program = lower(_systolic(rows, cols, dataflow), Model("net", layers))
    fast = evaluate_program(program, "fast")
    full = evaluate_program(program, "full")
    assert [r.cycles for r in fast] == [r.cycles for r in full]


def test_memo_spares_a_later_layer_the_warm_up():
    # Two layers with long streams on one array: the second starts where the first did
    # (idle machine) and meets the same preload and stream loops, so it evaluates far
    # fewer iterations than the first, with cycles still equal to full evaluation.
    layers = (Dense("a", 64, 64, rows=3000), Dense("b", 64, 64, rows=2000))
    program = lower(_systolic(16, 16, "ws"), Model("net", layers))
    fast = evaluate_program(program, "fast")
    full = evaluate_program(program, "full")
    assert [r.cycles for r in fast] == [r.cycles for r in full]
    assert fast[1].evaluated_iterations * 4 < fast[0].evaluated_iterations


@st.composite
def random_multilayer_programs(draw):
    """Several layers over a shared pool of fixed-location blocks, wrapped in loops of
    random trips, so fast mode's memo meets the same loops in different layers, entered
    from different states."""
    n_units = draw(st.integers(1, 3))
    shared = [
        Block(f"s{i}", tuple(draw(templates(0, n_units)) for _ in range(draw(st.integers(1, 3)))))
        for i in range(draw(st.integers(1, 3)))
    ]

    def node(depth: int):
        if depth >= 3 or draw(st.integers(0, 2)) == 0:
            return BlockRef(draw(st.integers(0, len(shared) - 1)))
        children = tuple(node(depth + 1) for _ in range(draw(st.integers(1, 2))))
        return Loop(f"l{depth}", draw(st.integers(1, 30)), children)

    layers = tuple(
        LayerProgram(f"L{i}", "random", 0, {}, Loop("layer", 1, (node(1), node(1))))
        for i in range(draw(st.integers(2, 4)))
    )
    return draw(_random_front_end(n_units, 8, tuple(shared), layers))


@settings(max_examples=examples(300))
@given(program=random_multilayer_programs())
def test_random_multilayer_programs_fast_equals_full(program):
    fast = evaluate_program(program, "fast")
    full = evaluate_program(program, "full")
    assert [r.cycles for r in fast] == [r.cycles for r in full]


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
