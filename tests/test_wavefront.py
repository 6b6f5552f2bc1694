"""Wavefront periods (docs/design.md §4.7): loops that open no bundle, such as a row of
processing elements in one step, skip iterations that repeat moved along their locations
and unit instances and shifted in time, while the issue time stands still. Worked by
hand (a row of PEs, a skip stopping at a busy instance and at a late operand, a location
the loop only reads keeping its own time after the skip), then fast == full == the
reference on random programs of such loops, counting the examples that skip."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from analyzer.engine.evaluate import evaluate_program
from isa.program import Block, BlockRef, LayerProgram, Loop, Operand, Program, Template
from tests.builders import (
    SAMPLINGS,
    check_fast_equals_full,
    check_reaches_fast_path,
    examples,
    timeline,
)
from tests.reference import reference_cycles
from tests.test_exactness import SPACE, space_needed, units_needed


def pe(instance, coefs, latency=1, occupancy=1, reads=(), writes=(), bundle_start=False):
    return Template(
        "mac", "pe", instance, latency, occupancy, 1, reads, writes, bundle_start,
        instance_coefs=coefs,
    )  # fmt: skip


def row_program(
    prelude: tuple[Template, ...], trips: int = 12, after=(), steps: int = 1, width: int = 1
) -> Program:
    """A prelude bundle, then one bundle: a loop of `trips` PEs, PE c on instance c
    reading h[c] (h[c : c + width]) and s[c], writing h[c + 1] (latency 1: the
    wavefront), `steps` times, then `after`."""
    mac = pe(
        0, (0, 1),
        reads=(Operand("h", 0, width, (0, 1)), Operand("s", 0, 1, (0, 1))),
        writes=(Operand("h", 1, 1, (0, 1)),),
    )  # fmt: skip
    blocks = [Block("prelude", prelude), Block("row", (mac,) * steps)]
    body: list = [BlockRef(0), Loop("c", trips, (BlockRef(1),))]
    if after:
        blocks.append(Block("after", tuple(after)))
        body.append(BlockRef(2))
    layer = LayerProgram("L", "t", 0, {}, Loop("layer", 1, tuple(body)))
    return Program(
        "t", {}, 4, 8, 0, {"pe": trips, "x": 2}, {"h": trips + width, "s": trips, "o": 1},
        tuple(blocks), (layer,),
    )  # fmt: skip


def start(unit="x", instance=0, latency=0, reads=(), writes=()):
    return Template("start", unit, instance, latency, 1, 1, reads, writes, True)


@pytest.fixture
def every_boundary(monkeypatch):
    """Fast mode comparing at every boundary, and taking wavefront periods wherever they
    apply: the examples below check what a skip does, not whether it pays (the one-PE
    rows here do not, as shipped; test_wavefront_periods_are_taken_where_they_pay)."""
    from analyzer.engine import evaluate

    monkeypatch.setattr(evaluate, "COMPARE_BUDGET", SAMPLINGS["every-boundary"])


def check(prog: Program, cycles: int) -> None:
    full = evaluate_program(prog, "full")[0]
    fast = evaluate_program(prog, "fast")[0]
    assert full.cycles == fast.cycles == reference_cycles(prog, prog.layers[0]) == cycles
    assert fast.evaluated_iterations < full.evaluated_iterations  # it skipped


def test_a_row_of_pes_skips_its_wavefront(every_boundary):
    # One bundle issued at 0: PE c waits for h[c], which PE c - 1 writes at its end, so
    # PE c runs c..c+1 and the row ends at 12. Every iteration is the one before moved by
    # one location and one instance and shifted by one cycle.
    prog = row_program((start(),))
    assert [s for s, _ in timeline(prog)][1:] == list(range(12))
    check(prog, 12)


def test_wavefront_periods_are_taken_where_they_pay():
    # As shipped, a period (checking the locations and instance it reaches first and
    # restoring its windows: h 2 + 1 and s 1 + 1 locations, two times each, and the PE
    # 1 + 1, plus 4 items per region, 24 items) must cost less than an iteration (11 items
    # an instruction). A PE of one step (11) is evaluated in full; of three steps on the
    # same registers (33), its row skips. PE c's steps run at 3c..3c+2: 36 cycles. Reading
    # h[c : c + 8], h's window is 9 + 1 (the period restores all of it): 38 items, more
    # than the three steps.
    for steps, width, skips, cycles in ((1, 1, False, 12), (3, 1, True, 36), (3, 8, False, 36)):
        prog = row_program((start(),), steps=steps, width=width)
        full = evaluate_program(prog, "full")[0]
        fast = evaluate_program(prog, "fast")[0]
        assert full.cycles == fast.cycles == reference_cycles(prog, prog.layers[0]) == cycles
        assert (fast.evaluated_iterations < full.evaluated_iterations) == skips


def test_a_loop_whose_periods_do_not_pay_takes_none_after_one_that_does():
    # Three times, a row of three-step PEs on h (its periods pay) and then, at the same
    # loop depth, a row of one-step PEs on g (they do not), which a last instruction
    # waits on: from its second entry on, the second row is evaluated without asking,
    # and must not take the first row's periods (which would move h, not g).
    def mac(space: str) -> Template:
        return pe(
            0, (0, 0, 1),
            reads=(Operand(space, 0, 1, (0, 0, 1)), Operand("s", 0, 1, (0, 0, 1))),
            writes=(Operand(space, 1, 1, (0, 0, 1)),),
        )  # fmt: skip

    last = Template("last", "x", 1, 100, 1, 1, (Operand("g", 12),), (), True)
    blocks = (
        Block("prelude", (start(),)),
        Block("three steps", (mac("h"),) * 3),
        Block("one step", (mac("g"),)),
        Block("last", (last,)),
    )

    def rows_of(*rows: Loop) -> Program:
        root = Loop("layer", 1, (BlockRef(0), Loop("rows", 3, rows), BlockRef(3)))
        return Program(
            "t", {}, 4, 8, 0, {"pe": 12, "x": 2}, {"h": 13, "g": 13, "s": 12}, blocks,
            (LayerProgram("L", "t", 0, {}, root),),
        )  # fmt: skip

    three, one = Loop("three", 12, (BlockRef(1),)), Loop("one", 12, (BlockRef(2),))
    prog = rows_of(three, one)
    full = evaluate_program(prog, "full")[0]
    fast = evaluate_program(prog, "fast")[0]
    assert full.cycles == fast.cycles == reference_cycles(prog, prog.layers[0])
    # The second row, evaluated in full (3 x 12 iterations), leaves the first row's skips
    # as they are without it.
    alone = evaluate_program(rows_of(three), "fast")[0]
    assert fast.evaluated_iterations == alone.evaluated_iterations + 36 < full.evaluated_iterations


def test_a_wavefront_skip_stops_at_a_busy_instance(every_boundary):
    # The prelude keeps PE 7 busy until 30 (occupancy 30): PEs 0..6 run at 0..6, PE 7 at
    # 30, and PEs 8..11 follow at 31..34: the row ends at 35.
    prog = row_program((Template("hold", "pe", 7, 0, 30, 0, (), (), True),))
    assert [s for s, _ in timeline(prog)][1:] == [*range(7), 30, 31, 32, 33, 34]
    check(prog, 35)


def test_a_wavefront_skip_stops_at_a_late_operand_ahead(every_boundary):
    # s[5] is written at 20 (latency 20): PE 5 starts at 20, the rest follow: 26.
    prog = row_program((start(latency=20, writes=(Operand("s", 5),)),))
    assert [s for s, _ in timeline(prog)][1:] == [0, 1, 2, 3, 4, 20, 21, 22, 23, 24, 25, 26]
    check(prog, 27)


def test_a_location_the_loop_only_reads_keeps_its_time_after_a_skip(every_boundary):
    # s[8] is written at 3 (below the floors the skip compares at: PE 8 starts at 8), so
    # the skip passes over it; Z, after the loop, reads s[8] and starts at 3, and Y waits
    # 100 cycles on Z's result: 104. Restoring s[8] from its neighbour moved by the skip
    # (0 + 8 periods) would start Z at 8 and end at 109.
    z = Template("z", "x", 1, 1, 1, 1, (Operand("s", 8),), (Operand("o", 0),), True)
    y = Template("y", "x", 0, 100, 1, 1, (Operand("o", 0),), (), True)
    prog = row_program((start(latency=3, writes=(Operand("s", 8),)),), after=(z, y))
    check(prog, 104)


def test_an_issue_bound_row_skips_with_no_shift(every_boundary):
    # Every PE waits only for its issue (no dependence along the row): each starts at 0,
    # the iterations repeat without a shift, moved along the instances.
    mac = pe(0, (0, 1), occupancy=2, writes=(Operand("h", 0, 1, (0, 1)),))
    layer = LayerProgram(
        "L", "t", 0, {}, Loop("layer", 1, (BlockRef(0), Loop("c", 10, (BlockRef(1),))))
    )
    blocks = (Block("p", (start(),)), Block("r", (mac,)))
    prog = Program("t", {}, 4, 8, 0, {"pe": 10, "x": 1}, {"h": 10}, blocks, (layer,))
    check(prog, 1)


@st.composite
def wavefront_programs(draw, repeats: tuple[int, int] = (1, 1)):
    """Steps of one bundle each (an outer loop that repeats), each a loop of rows and in
    each row a loop of elements, opening no bundle below the step: random latencies,
    occupancies and read times, marks, and operands and unit instances that the element
    index moves by one step (or not at all), the row index by one or none, so that an
    element reads what the ones before it wrote, as along a row of PEs; a random front
    end and prelude."""
    n_units = draw(st.integers(1, 3))
    elements = draw(st.integers(3, 16))
    # One step per loop for every operand and instance below it (a row of PEs: element c
    # at c, row r at r x the row's length), so that all of them move together.
    element_step = draw(st.sampled_from((1, 2)))
    row_step = draw(st.sampled_from((0, 1, elements * element_step)))

    def template(depth: int, first: bool, fixed: bool = False) -> Template:
        def coefs() -> tuple[int, ...]:
            return () if fixed else (0, 0, row_step, element_step)[:depth]

        def operands(most: int) -> tuple[Operand, ...]:
            return tuple(
                Operand(SPACE, draw(st.integers(0, 4)), draw(st.sampled_from((1, 1, 2))), coefs())
                for _ in range(draw(st.integers(0, most)))
            )

        return Template(
            "op", "u", draw(st.integers(0, n_units - 1)),
            draw(st.integers(0, 4)), draw(st.integers(0, 2)), draw(st.integers(0, 2)),
            operands(3), operands(2), first,
            read_marks=operands(1), marks=operands(1), instance_coefs=coefs(),
        )  # fmt: skip

    def block(depth: int, first: bool = False, fixed: bool = False) -> Block:
        count = draw(st.integers(1, 2))
        return Block("b", tuple(template(depth, first and k == 0, fixed) for k in range(count)))

    def repeated(block: Block, times: int) -> Block:
        return Block(block.name, block.templates * times)

    blocks = [
        block(1, first=True),  # the prelude, a bundle of its own
        block(2, first=True),  # a step's first instructions: its bundle
        block(3),  # a row's own instructions
        # The elements, their instructions repeated `repeats` times on the same locations,
        # as a PE's several steps on its few registers.
        repeated(block(4), draw(st.integers(*repeats))),
        block(5, fixed=True),  # an inner loop of fixed locations (the memo's kind)
    ]
    # Sometimes an element runs an inner loop that repeats, which fast mode may skip or
    # restore from its memo of loop evolutions inside the wavefront.
    inner = (
        (Loop("inner", draw(st.integers(2, 12)), (BlockRef(4),)),) if draw(st.booleans()) else ()
    )
    steps = Loop("steps", draw(st.integers(1, 4)), (
        BlockRef(1),
        Loop("rows", draw(st.integers(1, 6)), (
            BlockRef(2), Loop("elements", elements, (BlockRef(3), *inner)),
        )),
    ))  # fmt: skip
    root = Loop("layer", 1, (BlockRef(0), steps))
    layer = LayerProgram("layer", "wavefront", 0, {}, root)
    return Program(
        accelerator="random",
        parameters={},
        bundles_per_cycle=draw(st.integers(1, 3)),
        window_bundles=draw(st.integers(1, 6)),
        frontend_delay=draw(st.integers(0, 2)),
        units={"u": units_needed(blocks, [root], n_units)},
        spaces={SPACE: space_needed(blocks, [root])},
        blocks=tuple(blocks),
        layers=(layer,),
    )


@settings(max_examples=examples(300), deadline=None)
@given(program=wavefront_programs(repeats=(1, 4)))
def _wavefront_programs_fast_equals_full(tally, program):
    tally.record(check_fast_equals_full(program))


# As shipped, a loop takes wavefront periods only where a period costs less than an
# iteration (analyzer/engine/loop_skips.py): elements of a few instructions each, on
# few locations, which the programs above hold too seldom to reach it a third of the time.
@settings(max_examples=examples(300), deadline=None)
@given(program=wavefront_programs(repeats=(3, 4)))
def _heavy_wavefront_programs_fast_equals_full(tally, program):
    tally.record(check_fast_equals_full(program))


@pytest.mark.parametrize("sampling", SAMPLINGS)
def test_wavefront_programs_fast_equals_full(sampling, monkeypatch):
    programs = {
        "as-shipped": _heavy_wavefront_programs_fast_equals_full,
        "every-boundary": _wavefront_programs_fast_equals_full,
    }
    check_reaches_fast_path(programs[sampling], sampling, monkeypatch)


@settings(max_examples=examples(200), deadline=None)
@given(program=wavefront_programs())
def test_wavefront_programs_full_equals_the_reference(program):
    assert evaluate_program(program, "full")[0].cycles == reference_cycles(
        program, program.layers[0]
    )


def test_an_element_restored_from_the_memo_gives_no_earliest_start(every_boundary):
    # Two steps, each a bundle issued at T (0, then 30: the window of one waits for the
    # last start of the step before) and a row of 6 elements: element c runs loop m (2
    # instructions on x, occupancy 1: T + 2c and T + 2c + 1), then a PE on instance c that
    # waits for h[c] (latency 5: T + 5c). The row's last start, T + 30, reads h[6]. After
    # the second row, an instruction on x (latency 100) starts when x is free, at 42: 142.
    # Everything of the first step lies at or below 30, so in the second every entry of
    # loop m equals the first step's and the memo restores it. Its instructions are not
    # run: taking the iteration's earliest start from the PE alone (30 + 5c, not 30 + 2c),
    # the wavefront would compare at a shift of 5 above x's time, match, and move x by 5
    # a period: the last instruction at 51, 151.
    mac = Template(
        "mac", "pe", 0, 5, 1, 1,
        (Operand("h", 0, 1, (0, 1)), Operand("s", 0, 1, (0, 1))),
        (Operand("h", 1, 1, (0, 1)),), False, instance_coefs=(0, 1),
    )  # fmt: skip
    blocks = (
        Block("step", (Template("step", "y", 0, 0, 0, 0, (), (), True),)),
        Block("m", (Template("m", "x", 0, 1, 1, 0, (), (), False),)),
        Block("pe", (mac,)),
        Block("trail", (Template("trail", "y", 0, 0, 0, 0, (Operand("h", 6, 1),), (), False),)),
        Block("after", (Template("after", "x", 0, 100, 1, 0, (), (), False),)),
    )
    row = Loop("c", 6, (Loop("m", 2, (BlockRef(1),)), BlockRef(2)))
    step = (BlockRef(0), row, BlockRef(3))
    layer = LayerProgram("L", "t", 0, {}, Loop("layer", 1, (*step, *step, BlockRef(4))))
    prog = Program(
        "t", {}, 1, 1, 0, {"pe": 6, "x": 1, "y": 1}, {"h": 7, "s": 6}, blocks, (layer,)
    )  # fmt: skip
    assert timeline(prog)[-1] == (42, 142)
    check(prog, 142)
