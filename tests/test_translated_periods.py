"""Translated periods (docs/design.md §4.6): loops whose addresses move with their index
skip iterations that repeat moved along their locations. Worked by hand (a streaming
loop's trail, chunk floors, a skip stopping at locations or reads ahead that differ, the
machine compared, the match decided in full), then fast == full on random programs whose
every loop moves its addresses, counting the examples that skip."""

from __future__ import annotations

from dataclasses import replace
from unittest import mock

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from analyzer.engine import evaluate, layout, packing, translated
from analyzer.engine.evaluate import Evaluation
from analyzer.engine.packing import pack_blocks
from isa.program import Block, BlockRef, Frontend, LayerProgram, Loop, Operand, Program, Template
from tests.builders import (
    SAMPLINGS,
    check_fast_equals_full,
    check_reaches_fast_path,
    examples,
    timeline,
)
from tests.test_exactness import _random_front_end, space_needed, templates
from tests.test_signatures import assert_runs_hold
from tests.test_wavefront import wavefront_programs


def _streaming_program(
    before: tuple[Template, ...], after: tuple[Template, ...], latency: int, span: int = 1
) -> Program:
    """Width 1, window 1, no front-end delay. Loop l, 50 trips: W on u writes `span`
    locations from m[span x k] with `latency`, one bundle each; `before` and `after` run
    around it on unit v."""
    written = Operand("m", 0, span, (0, span))
    w = Template("w", "u", 0, latency, 1, 0, (), (written,), True)
    body: list = []
    blocks = [Block("w", (w,))]
    if before:
        blocks.append(Block("before", before))
        body.append(BlockRef(len(blocks) - 1))
    body.append(Loop("l", 50, (BlockRef(0),)))
    if after:
        blocks.append(Block("after", after))
        body.append(BlockRef(len(blocks) - 1))
    layer = LayerProgram("L", "t", 0, {}, Loop("layer", 1, tuple(body)))
    units = {"u": 1, "v": 1}
    return Program("t", {}, 1, 1, 0, units, {"m": 50 * span}, tuple(blocks), (layer,))


def _fast(program: Program) -> tuple[int, int]:
    """(cycles, evaluated iterations) of fast mode on the program's one layer."""
    result = Evaluation(program, "fast", reuse_layers=False).run()[0]
    return result.cycles, result.evaluated_iterations


@pytest.mark.parametrize("sampling", SAMPLINGS)
def test_a_streaming_loop_skips_translated_periods_and_restores_its_trail(sampling, monkeypatch):
    # W_k issues and starts at k and writes m[k] at k + 40. Relative to the issue time,
    # every boundary from k = 1 on looks the same once each location is moved back by k:
    # a period of one iteration, 1 cycle, along one location. After the loop, X (latency
    # 100) reads m[20]: written at 60, so X starts at 60 although it issues at 50, and the
    # layer ends at 160. A skip must leave every location it passed with the time its
    # iteration wrote there (a trail left at 0 would end at 150).
    monkeypatch.setattr(evaluate, "COMPARE_BUDGET", SAMPLINGS[sampling])
    x = Template("x", "v", 0, 100, 1, 0, (Operand("m", 20, 1),), (), True)
    program = _streaming_program((), (x,), latency=40)
    assert timeline(program) == [*((k, k + 40) for k in range(50)), (60, 160)]
    cycles, evaluated = _fast(program)
    assert cycles == 160
    # Of 51 iterations: the loop was skipped, translated; as shipped, comparisons of its
    # small state against its one-instruction body come every 35th boundary.
    assert evaluated < (10 if sampling == "every-boundary" else 50)


@pytest.mark.parametrize("sampling", SAMPLINGS)
def test_a_translated_skip_restores_a_trail_written_through_chunk_floors(sampling, monkeypatch):
    # As above, but W_k writes 256 locations from m[256 k]: whole chunks of 64, so the
    # kernel keeps their times in the chunks' floors (docs/design.md §3.7), and the trail
    # must be copied with the floors folded in. X reads m[5125], in W_20's range: 160.
    monkeypatch.setattr(evaluate, "COMPARE_BUDGET", SAMPLINGS[sampling])
    x = Template("x", "v", 0, 100, 1, 0, (Operand("m", 256 * 20 + 5, 1),), (), True)
    program = _streaming_program((), (x,), latency=40, span=256)
    assert pack_blocks(program).arrays.chunk_shift > 0
    assert timeline(program) == [*((k, k + 40) for k in range(50)), (60, 160)]
    cycles, evaluated = _fast(program)
    assert cycles == 160
    # As shipped too, the loop skips: a comparison of its machine and 256 locations a
    # boundary costs less than evaluating the iterations between comparisons.
    assert evaluated < (10 if sampling == "every-boundary" else 51)


@pytest.mark.parametrize("sampling", SAMPLINGS)
def test_a_translated_skip_stops_where_the_locations_ahead_differ(sampling, monkeypatch):
    # P on v writes m[30] from 0 to 200 (latency 200). W_k (bundle k + 1, latency 300)
    # starts at k + 1 for k < 30; W_30 waits for P's write (WAW) until 200, and the window
    # holds every later bundle behind it: W_k starts at 200 + (k - 30), W_49 ends at 519.
    # From k = 1 (W's ends are the latest) every boundary up to 30 looks like the one
    # before, moved by one location, except ahead at m[30]: a skip over all 49 remaining
    # iterations would end at 350.
    monkeypatch.setattr(evaluate, "COMPARE_BUDGET", SAMPLINGS[sampling])
    p = Template("p", "v", 0, 200, 1, 0, (), (Operand("m", 30, 1),), True)
    program = _streaming_program((p,), (), latency=300)
    starts = [0, *(k + 1 for k in range(30)), *(200 + k for k in range(20))]
    assert [start for start, _ in timeline(program)] == starts
    cycles, evaluated = _fast(program)
    assert cycles == 519
    # Skips up to m[30] and from a little after it (as shipped, the first comparison is at
    # the 35th boundary, past m[30], and from there the state repeats to the end).
    assert evaluated < (12 if sampling == "every-boundary" else 50)


@pytest.mark.parametrize("sampling", SAMPLINGS)
def test_a_translated_skip_stops_at_a_read_pending_ahead(sampling, monkeypatch):
    # P on v reads m[30] from 0 for 200 cycles (latency 0). W_k (bundle k + 1, latency 40)
    # starts at k + 1 for k < 30; W_30 overwrites m[30] and may end no earlier than P's read
    # (WAR): it starts at 160, and the window holds every later bundle behind it: W_k
    # starts at 160 + (k - 30), W_49 ends at 219. The boundaries before 30 repeat, moved by
    # one location, except for the read pending ahead at m[30]: a skip over all remaining
    # iterations would end at 90.
    monkeypatch.setattr(evaluate, "COMPARE_BUDGET", SAMPLINGS[sampling])
    p = Template("p", "v", 0, 0, 1, 200, (Operand("m", 30, 1),), (), True)
    program = _streaming_program((p,), (), latency=40)
    starts = [0, *(k + 1 for k in range(30)), *(160 + k for k in range(20))]
    assert [start for start, _ in timeline(program)] == starts
    cycles, evaluated = _fast(program)
    assert cycles == 219
    assert evaluated < (12 if sampling == "every-boundary" else 50)


@pytest.mark.parametrize("sampling", SAMPLINGS)
def test_a_translated_match_compares_the_machine(sampling, monkeypatch):
    # Width 1, window 1. P on u holds it for 50 cycles (occupancy 50, latency 0); then W_k
    # on u (occupancy 2, latency 0) writes m[k]: W_k starts at 50 + 2k, W_19 at 88, and
    # the layer ends at 88. At boundaries 0 and 1 every location the loop meets is unwritten
    # alike, but the machine differs (the window's latest start: P's at 0, W_0's at 50, 1
    # cycle after its issue): a match there would repeat a 1-cycle period and end at 69.
    monkeypatch.setattr(evaluate, "COMPARE_BUDGET", SAMPLINGS[sampling])
    p = Template("p", "u", 0, 0, 50, 0, (), (), True)
    w = Template("w", "u", 0, 0, 2, 0, (), (Operand("m", 0, 1, (0, 1)),), True)
    root = Loop("layer", 1, (BlockRef(0), Loop("l", 20, (BlockRef(1),))))
    layer = LayerProgram("L", "t", 0, {}, root)
    blocks = (Block("p", (p,)), Block("w", (w,)))
    program = Program("t", {}, 1, 1, 0, {"u": 1}, {"m": 20}, blocks, (layer,))
    assert timeline(program) == [(0, 0), *((50 + 2 * k, 50 + 2 * k) for k in range(20))]
    cycles, evaluated = _fast(program)
    assert cycles == 88
    assert evaluated < (8 if sampling == "every-boundary" else 21)


def test_a_translated_match_is_decided_in_full():
    # The hash of the machine and of a few locations only filters (analyzer/engine/
    # signatures.py): _translated_match itself must see a difference in any machine item and
    # in any location of the window. One region: iteration k covers m[2k], m[2k + 1].
    n_machine = 3
    machine = np.array([5, 0, 7], dtype=np.int64)
    write_end = np.zeros(6, dtype=np.int64)
    read_until = np.full(6, layout.NEVER, dtype=np.int64)
    read_until[2] = 4  # m[2] read until 4
    unused = np.zeros(1, dtype=np.int64)
    no_runs = np.zeros(0, dtype=np.uint64)  # no runs kept: every location is one
    state = (unused, write_end, read_until, unused, unused, unused, unused, unused, unused, no_runs)
    regions = np.array([[0, 2, 2, 0, 6]], dtype=np.int64)
    offsets = np.zeros(1, dtype=np.int64)
    # Kept at boundary 1 (issue time 3): iteration 1's m[2], m[3]; now, at boundary 2 (issue
    # time 3 as well), iteration 2's m[4], m[5] must hold the same, and the machine too.
    record = np.zeros(n_machine + 4, dtype=np.int64)
    translated._translated_record(
        record, offsets, machine, n_machine, state, 3, 0, 0, regions, 1, 1
    )
    assert list(record[n_machine:]) == [0, 1, 0, 0]  # m[2]: unwritten, read until 3 + 1
    read_until[4] = 4
    assert translated._translated_match(
        record, offsets, machine, n_machine, state, 3, 0, 0, regions, 1, 2
    )
    for k in range(n_machine + 4):
        other = record.copy()
        other[k] += 1
        assert not translated._translated_match(
            other, offsets, machine, n_machine, state, 3, 0, 0, regions, 1, 2
        )


def test_a_translated_restore_keeps_the_chunk_bounds():
    # Chunks of 64 (docs/design.md §3.7); iteration k covers chunk k. Restoring two periods
    # from boundary 1 copies chunk 0's times into chunks 1 and 2, 10 and 20 cycles later:
    # every chunk's maximum and read bound must still bound its locations, or a later
    # signature would pass over a pending read there (§4.3).
    shift = layout.SIG_CHUNK_SHIFT
    n = 4 << shift
    write_end = np.zeros(n, dtype=np.int64)
    read_until = np.full(n, layout.NEVER, dtype=np.int64)
    write_end[:64] = np.arange(64)
    read_until[:64] = 100 + np.arange(64)
    chunk_floor = np.full(5, layout.NEVER, dtype=np.int64)
    chunk_floor[0] = 70  # chunk 0 written whole at 70 since
    chunk_max = np.array([70, 0, 0, 0, 0], dtype=np.int64)
    chunk_read = np.array([163, layout.NEVER, 5, layout.NEVER, layout.NEVER])
    unused = np.zeros(1, dtype=np.int64)
    run_start = np.zeros(5, dtype=np.uint64)
    run_start[0] = ~np.uint64(1)  # chunk 0's locations all differ
    state = (
        unused, write_end, read_until, unused, unused, unused, chunk_floor, chunk_max,
        chunk_read, run_start,
    )  # fmt: skip
    regions = np.array([[0, 64, 64, 0, n]], dtype=np.int64)
    scratch = np.zeros(2 * n, dtype=np.int64)
    translated._translated_restore(state, scratch, 10, 2, 1, shift, regions, 1, 1)
    assert list(write_end[64:192:64]) == [80, 90]  # the floor folded in, moved
    assert list(read_until[64:192:64]) == [110, 120]
    for c in range(4):
        own = slice(c << shift, (c + 1) << shift)
        assert chunk_max[c] >= max(write_end[own].max(), chunk_floor[c])
        assert chunk_read[c] >= read_until[own].max()
    assert chunk_read[1] == 173 and chunk_read[2] == 183
    assert_runs_hold(state, shift)


@st.composite
def translating_programs(draw, wide: bool):
    """One layer whose every loop moves its body's addresses: a loop draws one step and
    every operand below it moves by that step per iteration, so its iterations repeat
    only translated (docs/design.md §4.6). Operands at different offsets read what earlier
    iterations wrote (a pipeline along the locations); marks, queues and wide operands
    (ranges across chunks) as in random_programs."""
    n_units = draw(st.integers(1, 3))
    blocks: list[Block] = []

    def node(depth: int, steps: tuple[int, ...]):
        if depth >= 3 or (depth > 1 and draw(st.booleans())):
            body = []
            for _ in range(draw(st.integers(1, 3))):
                t = draw(templates(depth, n_units, wide, frozenset()))
                moved = {
                    kind: tuple(Operand(o.space, o.base, o.count, steps) for o in operands)
                    for kind, operands in (
                        ("reads", t.reads),
                        ("writes", t.writes),
                        ("read_marks", t.read_marks),
                        ("marks", t.marks),
                    )
                }
                body.append(replace(t, **moved))
            blocks.append(Block(f"b{len(blocks)}", tuple(body)))
            return BlockRef(len(blocks) - 1)
        trips = draw(st.integers(2, 30))
        step = draw(st.sampled_from([1, 2, 3, 64] if wide else [1, 2, 3]))
        inner = (*steps, step)
        children = tuple(node(depth + 1, inner) for _ in range(draw(st.integers(1, 2))))
        return Loop(f"l{depth}", trips, children)

    root = Loop("layer", 1, (node(1, (0,)),))
    layer = LayerProgram("layer", "translating", 0, {}, root)
    space = space_needed(blocks, [root])
    return draw(_random_front_end(n_units, space, tuple(blocks), (layer,)))


@settings(max_examples=examples(300))
@given(program=st.booleans().flatmap(lambda wide: translating_programs(wide)))
def _translating_programs_fast_equals_full(tally, program):
    # No loop here repeats untranslated: every skip counted is a translated one.
    tally.record(check_fast_equals_full(program))


# Whether the state keeps runs of locations (analyzer/engine/signatures.py, `_run_end`):
# as packing decides it per program, or forced either way, so that every program's
# translated periods are compared and restored both run by run and location by location.
RUNS = {
    "as-packed": packing._keeps_runs,
    "kept": lambda chunk_shift, counts, named: True,
    "not-kept": lambda chunk_shift, counts, named: False,
}


@pytest.mark.parametrize("runs", RUNS)
@pytest.mark.parametrize("sampling", SAMPLINGS)
def test_translating_programs_fast_equals_full(sampling, runs, monkeypatch):
    monkeypatch.setattr(packing, "_keeps_runs", RUNS[runs])
    check_reaches_fast_path(_translating_programs_fast_equals_full, sampling, monkeypatch)


@st.composite
def one_of_several_front_ends(draw, wide: bool):
    """A translating program whose every bundle comes from one front end (the default one
    or "f1") of a program that declares two more: as Gemmini's output-stationary layers,
    all issued by the CPU in a program that also declares the unrollers' streams. Such a
    layer has one issue time, so it translates (analyzer/engine/packing.pack_layer)."""
    program = draw(translating_programs(wide))
    issuing = draw(st.sampled_from([None, "f1"]))
    blocks = tuple(
        Block(
            b.name,
            tuple(replace(t, frontend=issuing) if t.bundle_start else t for t in b.templates),
        )
        for b in program.blocks
    )
    frontends = {name: Frontend(1, draw(st.integers(1, 4)), 0) for name in ("f1", "f2")}
    return replace(program, blocks=blocks, frontends=frontends)


@settings(max_examples=examples(150))
@given(program=st.booleans().flatmap(lambda wide: one_of_several_front_ends(wide)))
def _one_of_several_front_ends_fast_equals_full(tally, program):
    tally.record(check_fast_equals_full(program))


@pytest.mark.parametrize("runs", RUNS)
@pytest.mark.parametrize("sampling", SAMPLINGS)
def test_a_layer_issued_by_one_of_several_front_ends_translates(sampling, runs, monkeypatch):
    monkeypatch.setattr(packing, "_keeps_runs", RUNS[runs])
    check_reaches_fast_path(_one_of_several_front_ends_fast_equals_full, sampling, monkeypatch)


def _fast_with_runs(program: Program, kept: bool) -> list[tuple[int, int]]:
    """(cycles, evaluated iterations) per layer in fast mode comparing every boundary, with
    the state's runs kept or not."""
    with (
        mock.patch.object(packing, "_keeps_runs", RUNS["kept" if kept else "not-kept"]),
        mock.patch.object(evaluate, "COMPARE_BUDGET", SAMPLINGS["every-boundary"]),
    ):
        results = Evaluation(program, "fast", reuse_layers=False).run()
    return [(r.cycles, r.evaluated_iterations) for r in results]


@settings(max_examples=examples(200))
@given(
    program=st.one_of(
        st.booleans().flatmap(lambda wide: translating_programs(wide)),
        wavefront_programs(repeats=(1, 4)),
    )
)
def test_runs_change_no_decision(program):
    # Runs only say which neighbouring locations hold equal times: where every boundary is
    # compared (so how often does not depend on what a window costs), the translated
    # kernels find the same matches and periods run by run as location by location. A run
    # start the kernel failed to set joins locations that differ, and a match or a skip
    # changes, even where the cycles do not.
    assert _fast_with_runs(program, kept=True) == _fast_with_runs(program, kept=False)


def test_a_wavefront_restore_keeps_the_runs():
    # Found by test_runs_change_no_decision: an element loop that opens no bundle takes
    # wavefront periods (docs/design.md §4.7) and its restore writes the marks it moves;
    # unless it sets their run starts, the next translated comparison reads the marks of
    # three iterations as one run, and finds a match that is not one.
    op = Template("op", "u", 0, 0, 1, 0, (), (), True)
    marking = replace(op, bundle_start=False, marks=(Operand("m", 0, 1, (0, 1, 2)),))
    body = (Loop("l2", 2, (BlockRef(0),)), Loop("l2", 4, (BlockRef(1),)))
    layer = LayerProgram("layer", "t", 0, {}, Loop("layer", 1, (Loop("l1", 4, body),)))
    program = Program(
        "t", {}, 1, 1, 0, {"u": 1}, {"m": 10}, (Block("b0", (op,)), Block("b1", (marking,))),
        (layer,),
    )  # fmt: skip
    assert _fast_with_runs(program, kept=True) == _fast_with_runs(program, kept=False)


@pytest.mark.parametrize("sampling", SAMPLINGS)
def test_a_translated_skip_restores_what_an_inner_loop_wrote(sampling, monkeypatch):
    # Loop k (8 trips) runs loop j (2 trips) of W, which writes m[4k + j] in 5 cycles, one
    # bundle a cycle; R then reads m[0..31]. A region spans what the inner index reaches:
    # iteration k covers m[4k] and m[4k + 1], so the skip restores both. The last W issues
    # at 15 and writes m[29] at 20, when R starts: 21 cycles. A window of m[4k] alone would
    # leave m[29] unwritten, and R would start at 19 (m[28]).
    monkeypatch.setattr(evaluate, "COMPARE_BUDGET", SAMPLINGS[sampling])
    w = Template("w", "u", 0, 5, 1, 0, (), (Operand("m", 0, 1, (0, 4, 1)),), True)
    r = Template("r", "v", 0, 1, 1, 0, (Operand("m", 0, 32, (0,)),), (), True)
    inner = Loop("j", 2, (BlockRef(0),))
    root = Loop("layer", 1, (Loop("k", 8, (inner,)), BlockRef(1)))
    layer = LayerProgram("L", "t", 0, {}, root)
    blocks = (Block("w", (w,)), Block("r", (r,)))
    program = Program("t", {}, 1, 1, 0, {"u": 1, "v": 1}, {"m": 40}, blocks, (layer,))
    cycles, evaluated = _fast(program)
    assert cycles == 21
    assert evaluated < 8 * 2 + 1  # it skipped
