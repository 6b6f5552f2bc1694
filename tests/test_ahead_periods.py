"""Ahead periods (docs/design.md §4.11): a loop whose front end runs ahead of it (several
bundles a cycle, a window not yet full) repeats shifted in its starts while its issue
times do not, so it is compared at its iterations' earliest starts, and the front end is
stepped over the periods skipped. Worked by hand (a skip that must stop where the issue
starts to bind), the systolic array's fill, then fast == full == the reference on random
programs of such loops, counting the examples that ahead periods themselves shortened."""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from accelerators.catalog import find_accelerator
from analyzer.engine import evaluate
from analyzer.engine.evaluate import Evaluation, evaluate_program, run_kernel
from analyzer.engine.packing import pack_blocks, pack_layer
from isa.program import Block, BlockRef, LayerProgram, Loop, Operand, Program, Template
from isa.systolic.lowering import lower
from tests.builders import (
    SAMPLINGS,
    FastPathTally,
    check_fast_equals_full,
    examples,
    instr,
    machine_program,
    op,
    program,
    timeline,
    without_memo,
)
from tests.reference import reference_cycles
from tests.test_exactness import SPACE
from tracer.workloads.layers import Dense, Model


def evaluated_iterations(prog: Program, ahead: bool, monkeypatch) -> list[int]:
    """Per layer, the iterations fast mode evaluates without its memo, with ahead periods
    on or off (nothing else changes between the two)."""
    monkeypatch.setattr(evaluate, "AHEAD_PERIODS", ahead)
    blocks = pack_blocks(prog)
    memo = without_memo(blocks)
    counts = []
    for layer in prog.layers:
        _, _, _, iterations, _ = run_kernel(
            pack_layer(layer, prog, blocks), blocks, fast=True, memo=memo
        )
        counts.append(iterations)
    monkeypatch.setattr(evaluate, "AHEAD_PERIODS", True)
    return counts


def test_a_skip_stops_where_the_issue_starts_to_bind(monkeypatch):
    # One instruction a bundle, on one unit of occupancy 2; the front end issues one
    # bundle a cycle, 8 ahead, 20 cycles before a start. Bundle b issues at b and starts
    # at 2b + 20 (the unit) until the window closes: from b = 8 it issues at the start of
    # b - 8 and starts 20 later (bundle 8 at 40, 4 cycles after the unit). Starts 20, ...,
    # 34, then 40, 42, ..., 54, 60, ..., 66 (b = 19), which ends at 67. A skip that went
    # on past b = 7 at a shift of 2 would put bundle 19's start at 62. Boundaries are
    # compared at every iteration, so the skip comes before the window closes.
    monkeypatch.setattr(evaluate, "COMPARE_BUDGET", SAMPLINGS["every-boundary"])
    body = instr(unit="alu", latency=1, occupancy=2, writes=(op("r", 0),))
    prog = program([body], trips=20, width=1, window=8, delay=20)
    starts = [start for start, _ in timeline(prog)]
    assert starts[:8] == [20 + 2 * b for b in range(8)]
    assert starts[8:16] == [40 + 2 * b for b in range(8)]
    assert starts[16:] == [60, 62, 64, 66]
    full = evaluate_program(prog, "full")[0]
    fast = evaluate_program(prog, "fast")[0]
    assert fast.cycles == full.cycles == reference_cycles(prog, prog.layers[0]) == 67
    on = evaluated_iterations(prog, True, monkeypatch)
    off = evaluated_iterations(prog, False, monkeypatch)
    assert on[0] < off[0]  # the unit-bound stretch was skipped


def test_what_follows_a_skip_sees_the_times_and_rings_it_left(monkeypatch):
    # 40 bundles of one instruction on alu 0 (occupancy 1, latency 1), issued up to four
    # a cycle and at most six ahead: bundle b starts at b, the unit's pace, and from
    # b = 8 issues at the start of b - 6. Then one bundle on alu 1 (latency 100): it
    # issues at the start of bundle 34 (the window) and starts there, as alu 1 has been
    # free since 0: it ends at 134. The skip covers bundles 2 to 38, so this needs the
    # window ring stepped over them with shifted latest starts, and alu 1 left alone.
    monkeypatch.setattr(evaluate, "COMPARE_BUDGET", SAMPLINGS["every-boundary"])
    loop = instr(unit="alu", latency=1, occupancy=1, writes=(op("r", 0),))
    tail = instr(unit="alu", instance=1, latency=100, writes=(op("r", 1),))
    layer = LayerProgram(
        "layer", "test", 0, {},
        Loop("layer", 1, (Loop("loop", 40, (BlockRef(0),)), BlockRef(1))),
    )  # fmt: skip
    prog = dataclasses.replace(
        program([loop], width=4, window=6),
        blocks=(Block("body", (loop,)), Block("tail", (tail,))),
        layers=(layer,),
    )
    full = evaluate_program(prog, "full")[0]
    fast = evaluate_program(prog, "fast")[0]
    assert fast.cycles == full.cycles == reference_cycles(prog, layer) == 134
    assert timeline(prog)[40] == (34, 134)
    on = evaluated_iterations(prog, True, monkeypatch)
    assert on[0] <= 6


def test_a_loop_whose_issue_binds_takes_no_ahead_period(monkeypatch):
    # Delay above what the unit needs from the start: every instruction starts at its
    # issue bound, so no boundary may be compared at its earliest start.
    body = instr(unit="alu", latency=1, occupancy=1, writes=(op("r", 0),))
    prog = program([body], trips=30, width=1, window=1, delay=3)
    assert evaluated_iterations(prog, True, monkeypatch) == evaluated_iterations(
        prog, False, monkeypatch
    )
    assert evaluate_program(prog, "fast")[0].cycles == reference_cycles(prog, prog.layers[0])


@pytest.mark.parametrize("dataflow", ["ws", "os", "is"])
def test_the_systolic_fill_takes_ahead_periods(dataflow, monkeypatch):
    # The array's front end issues four step bundles a cycle, R + C + 2 ahead: the first
    # R + C steps of a fold issue ever earlier relative to their starts, which repeat a
    # cycle apart. Ahead periods skip them; the cycles stay those of full evaluation.
    accelerator = find_accelerator("systolic").resolve(
        {"rows": "12", "cols": "10", "dataflow": dataflow}
    )
    prog = lower(accelerator, Model("net", (Dense("fc", 40, 30, rows=300),)))
    full = evaluate_program(prog, "full")[0]
    fast = Evaluation(prog, "fast", reuse_layers=False).run()[0]
    assert fast.cycles == full.cycles
    on = evaluated_iterations(prog, True, monkeypatch)[0]
    off = evaluated_iterations(prog, False, monkeypatch)[0]
    assert on * 2 < off


@st.composite
def ahead_programs(draw, nested: bool = False):
    """A prelude, then loops of one block each (one bundle opened by its first template),
    nested in a loop of a few trips, then a bundle on a unit of its own whose long
    latency makes the layer's end show when it could start (after a skip, it reads the
    times the loop left and the front end's rings): fixed locations read, written and
    marked by templates of random latencies, occupancies and read times on a few units,
    and a front end that may run ahead (several bundles a cycle, a window, a delay).
    Sometimes a template takes a queue, which keeps its loop out of ahead periods, or
    marks a range wide enough to turn location chunks on, which keeps every loop out.
    Some iterations nest a loop after their block (`nested_block`); with `nested`, every
    one does, and no queue or chunk keeps it out."""
    n_units = draw(st.integers(1, 3))
    # What keeps loops out of ahead periods, drawn only where nesting is not forced.
    queues = not nested and draw(st.integers(0, 3)) == 0
    wide = not nested and draw(st.integers(0, 7)) == 0

    def operands(most: int) -> tuple[Operand, ...]:
        return tuple(
            Operand(SPACE, draw(st.integers(0, 6)), draw(st.sampled_from((1, 1, 2))))
            for _ in range(draw(st.integers(0, most)))
        )

    def template(first: bool, unit: str = "u", latencies=(0, 1, 2, 4)) -> Template:
        marks = operands(1)
        if wide and draw(st.integers(0, 3)) == 0:
            marks = (Operand(SPACE, 0, 300),)
        return Template(
            "op", unit, draw(st.integers(0, n_units - 1)) if unit == "u" else 0,
            draw(st.sampled_from(latencies)), draw(st.integers(0, 3)), draw(st.integers(0, 2)),
            operands(3), operands(2), first,
            read_marks=marks, marks=operands(1),
            queue="q" if queues and unit == "u" and draw(st.integers(0, 5)) == 0 else None,
        )  # fmt: skip

    def block(name: str) -> Block:
        count = draw(st.integers(1, 4))
        return Block(name, tuple(template(k == 0) for k in range(count)))

    def moved(operand: Operand) -> Operand:
        # Moved by the nested loop's index (depth 3), staying inside the space.
        return Operand(SPACE, min(operand.base, 1), 1, (0, 0, 0, 1))

    def nested_block() -> Block:
        """The body of a loop nested in an iteration: opening no bundle (rarely one, which
        keeps the iteration out of ahead periods; never with `nested`), its operands
        fixed (a loop the memo may restore) or moving with the nested index (one that
        may translate)."""
        moving = draw(st.booleans())
        templates = []
        for _ in range(draw(st.integers(1, 2))):
            t = template(not nested and draw(st.integers(0, 9)) == 0)
            if moving:
                t = dataclasses.replace(
                    t, reads=tuple(map(moved, t.reads)), writes=tuple(map(moved, t.writes))
                )
            templates.append(t)
        return Block("nested", tuple(templates))

    after = Block("after", (template(True, "v", (0, 1, 60)), template(False, "v", (0, 60))))
    blocks = [block("prelude"), block("a"), block("b"), after, nested_block()]
    # One draw in two from 25-60 trips, long enough to show a period after the first
    # boundaries; the other keeps 3-60, so short loops stay covered. Drawn from 3-60
    # alone, most loops were too short to skip, and some seeds reached the fast path in
    # fewer than FAST_PATH_SHARE of the examples.
    trips = st.integers(3, 60) | st.integers(25, 60)
    # A loop's iteration is its block, or (one draw in three) its block and then a loop
    # nested in it: an iteration of several blocks and loops that still opens one bundle.
    inner = [
        Loop(
            f"loop{k}",
            draw(trips),
            (BlockRef(draw(st.sampled_from((1, 2)))),)
            + ((Loop("nested", draw(st.integers(1, 6)), (BlockRef(4),)),) if nest else ()),
        )
        for k, nest in enumerate(
            draw(
                st.lists(
                    st.just(True) if nested else st.integers(0, 2).map(lambda n: n == 0),
                    min_size=1,
                    max_size=3,
                )
            )
        )
    ]
    outer = Loop("outer", draw(st.integers(1, 3)), tuple(inner))
    root = Loop("layer", 1, (BlockRef(0), outer, BlockRef(3)))
    return Program(
        accelerator="random",
        parameters={},
        bundles_per_cycle=draw(st.integers(1, 4)),
        window_bundles=draw(st.integers(1, 10)),
        frontend_delay=draw(st.sampled_from((0, 1, 2, 3, 8, 20))),
        units={"u": n_units, "v": 1},
        spaces={SPACE: 300 if wide else 8},
        blocks=tuple(blocks),
        layers=(LayerProgram("layer", "ahead", 0, {}, root),),
        queues={"q": 2} if queues else {},
    )


def _fast_equals_full_counting_ahead(tally, monkeypatch, prog):
    """fast == full == the reference on `prog`, and whether ahead periods shortened its
    evaluation (fewer iterations evaluated with them than without, the memo off in both)."""
    check_fast_equals_full(prog)
    on = evaluated_iterations(prog, True, monkeypatch)
    off = evaluated_iterations(prog, False, monkeypatch)
    tally.record(on[0] < off[0])


_ahead_programs_fast_equals_full = settings(max_examples=examples(300), deadline=None)(
    given(prog=ahead_programs())(_fast_equals_full_counting_ahead)
)
_nested_ahead_programs_fast_equals_full = settings(max_examples=examples(200), deadline=None)(
    given(prog=ahead_programs(nested=True))(_fast_equals_full_counting_ahead)
)


@pytest.mark.parametrize("sampling", SAMPLINGS)
@pytest.mark.parametrize(
    "nested",
    [
        False,
        # An iteration of a block and a loop after it is one bundle all the same (a
        # systolic step written as loops over its rows and columns).
        True,
    ],
)
def test_ahead_programs_fast_equals_full(sampling, nested, monkeypatch):
    # Counted: the examples whose evaluation ahead periods shortened.
    monkeypatch.setattr(evaluate, "COMPARE_BUDGET", SAMPLINGS[sampling])
    tally = FastPathTally()
    if nested:
        _nested_ahead_programs_fast_equals_full(tally, monkeypatch)
    else:
        _ahead_programs_fast_equals_full(tally, monkeypatch)
    tally.check_share()


@settings(max_examples=examples(200), deadline=None)
@given(prog=ahead_programs())
def test_ahead_programs_full_equals_the_reference(prog):
    assert evaluate_program(prog, "full")[0].cycles == reference_cycles(prog, prog.layers[0])


def test_a_queue_keeps_a_loop_out_of_ahead_periods():
    body = dataclasses.replace(instr(unit="alu", writes=(op("r", 0),)), queue="q")
    prog = dataclasses.replace(program([body], trips=10, width=4, window=8), queues={"q": 2})
    packed = pack_layer(prog.layers[0], prog, pack_blocks(prog))
    assert not packed.arrays.ahead.any()
    plain = program([instr(unit="alu", writes=(op("r", 0),))], trips=10, width=4, window=8)
    assert pack_layer(plain.layers[0], plain, pack_blocks(plain)).arrays.ahead.any()


def _opens(first: bool, rest: bool = False) -> Block:
    """A block of two instructions; whether each opens a bundle."""
    return Block(
        "b",
        (
            instr(writes=(op("r", 0),), bundle_start=first),
            instr(instance=1, writes=(op("r", 1),), bundle_start=rest),
        ),
    )


@pytest.mark.parametrize(
    ("blocks", "body", "ahead"),
    [
        # one block: its bundle opened by its first instruction, or later, or twice
        ((_opens(True),), (BlockRef(0),), True),
        ((_opens(False, True),), (BlockRef(0),), False),
        ((_opens(True, True),), (BlockRef(0),), False),
        # a block, then a loop nested in the iteration that opens no bundle, or one
        ((_opens(True), _opens(False)), (BlockRef(0), Loop("n", 3, (BlockRef(1),))), True),
        ((_opens(True), _opens(True)), (BlockRef(0), Loop("n", 1, (BlockRef(1),))), False),
        ((_opens(True), _opens(True)), (BlockRef(0), BlockRef(1)), False),
        # the bundle opened inside a first loop: of one trip, or one per trip of several
        ((_opens(True), _opens(False)), (Loop("n", 1, (BlockRef(0),)), BlockRef(1)), True),
        ((_opens(True),), (Loop("n", 3, (BlockRef(0),)),), False),
        # an empty loop first: the bundle still opens at the first instruction run
        ((_opens(True),), (Loop("n", 0, (BlockRef(0),)), BlockRef(0)), True),
    ],
)
def test_an_iteration_takes_ahead_periods_when_it_is_one_bundle_opened_first(blocks, body, ahead):
    # Ahead periods step the front end one bundle a period, and compare an iteration from
    # its first start: an iteration, whatever blocks and loops it holds, must open exactly
    # one bundle, at its first instruction (docs/design.md §4.11).
    prog = machine_program(
        blocks,
        Loop("layer", 1, (Loop("loop", 10, body),)),
        units={"alu": 2},
        spaces={"r": 2},
        width=4,
        window=8,
        delay=0,
    )
    packed = pack_layer(prog.layers[0], prog, pack_blocks(prog))
    assert bool(packed.arrays.ahead[1]) is ahead  # op 1: the loop's LOOP_BEGIN


def test_a_later_folds_preload_takes_ahead_periods(monkeypatch):
    # A fully connected layer of one row: 5 x 3 folds, each a preload of 24 steps and one
    # stream step. Every PE of a preload step waits for its fold's start, so every step of
    # every fold's preload starts a cycle after the one before, and ahead periods skip
    # all but a few of them (lowering.py, preload_step).
    accelerator = find_accelerator("systolic").resolve({"rows": "24", "cols": "10"})
    prog = lower(accelerator, Model("net", (Dense("fc", 120, 30, rows=1),)))
    full = evaluate_program(prog, "full")[0]
    assert Evaluation(prog, "fast", reuse_layers=False).run()[0].cycles == full.cycles
    on = evaluated_iterations(prog, True, monkeypatch)[0]
    off = evaluated_iterations(prog, False, monkeypatch)[0]
    assert on * 2 < off


def test_no_level_takes_ahead_periods_when_none_may():
    # With ahead periods off (or a chunked program) the kernel asks _ahead_arrays for no
    # level, while level_of still numbers the loops' skip levels: a systolic array's
    # stream loops sit at levels 1 and deeper, beyond the one entry `row` then has. Run as
    # Python, an index past it raises where the compiled kernel would write out of bounds.
    from analyzer.engine.ahead import _ahead_arrays
    from analyzer.engine.loop_skips import _skip_levels

    accelerator = find_accelerator("systolic").resolve({"rows": "16", "cols": "16"})
    program = lower(accelerator, Model("net", (Dense("a", 64, 64, rows=300),)))
    packed = pack_layer(program.layers[0], program, pack_blocks(program))
    level_of, levels = _skip_levels(packed.arrays, True)
    deep = [
        level_of[depth]
        for depth, ahead in zip(packed.arrays.depth, packed.arrays.ahead, strict=True)
        if ahead
    ]
    assert max(deep) >= 1  # the case: an ahead loop below the first level
    row, kept, _, _ = _ahead_arrays.py_func(packed.arrays, level_of, 0, 8)
    assert list(row) == [-1] and kept.shape == (0, 8)
    row, kept, _, _ = _ahead_arrays.py_func(packed.arrays, level_of, levels, 8)
    assert sorted(set(row) - {-1}) == list(range(kept.shape[0])) and kept.shape[0] > 0
