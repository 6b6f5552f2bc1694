"""Several front ends (docs/design.md §3.2): each issues only its own bundles, in its own
order and at its own rate, so independent command streams (Gemmini's load, execute and
store unrollers) do not wait behind one another's bundles."""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import given, settings

from analyzer.engine.evaluate import Evaluation, evaluate_program
from analyzer.engine.layout import LOOP_BEGIN
from analyzer.engine.packing import pack_blocks, pack_layer
from isa.program import Block, BlockRef, Frontend, LayerProgram, Loop, Program, Template
from isa.validation import ProgramError, check_program
from tests.builders import (
    SAMPLINGS,
    check_fast_equals_full,
    check_reaches_fast_path,
    examples,
    machine_program,
    op,
    timeline,
)
from tests.reference import reference_cycles
from tests.test_exactness import random_programs
from tracer.trace_io import write_trace
from tracer.trace_read import read_trace

STREAMS = ("ld", "ex", "st")


def _two_tiles(streams: bool) -> Program:
    """docs/research/gemmini-streams.md §3.4: two tiles of two loads (latency = occupancy
    = 10, each writing a scratchpad row), four computes reading the tile's rows (latency
    7, occupancy 6; the last marks the tile's accumulator) and a store reading it
    (latency = occupancy = 3), in the program order the Gemmini lowering uses: loads(0),
    then per tile loads(t + 1), execute(t), stores(t). `streams`: loads, computes and
    stores issue from front ends of their own, else all from the default one. Every
    front end issues one bundle a cycle with a window of 2 bundles."""
    stream = dict.fromkeys(STREAMS) if not streams else {s: s for s in STREAMS}

    def load(tile: int, row: int) -> Template:
        return Template(
            "mvin", "load", 0, 10, 10, 0, (), (op("spad", 2 * tile + row),), True,
            frontend=stream["ld"],
        )  # fmt: skip

    def compute(tile: int, last: bool) -> Template:
        return Template(
            "compute", "execute", 0, 7, 6, 0, (op("spad", 2 * tile, 2),), (), True,
            marks=(op("acc", tile),) if last else (), frontend=stream["ex"],
        )  # fmt: skip

    def store(tile: int) -> Template:
        return Template(
            "mvout", "store", 0, 3, 3, 0, (op("acc", tile),), (), True, frontend=stream["st"]
        )

    order = [load(0, 0), load(0, 1)]
    for tile in (0, 1):
        if tile == 0:
            order += [load(1, 0), load(1, 1)]
        order += [compute(tile, last=k == 3) for k in range(4)]
        order.append(store(tile))
    return machine_program(
        (Block("tiles", tuple(order)),),
        Loop("layer", 1, (BlockRef(0),)),
        units={"load": 1, "execute": 1, "store": 1},
        spaces={"spad": 4, "acc": 2},
        frontends={s: Frontend(1, 2, 0) for s in STREAMS} if streams else {},
    )


# Order: L0a L0b L1a L1b E0a E0b E0c E0d S0 E1a E1b E1c E1d S1 (the note's tables).
ONE_FRONT_END_STARTS = [0, 10, 20, 30, 20, 30, 36, 42, 49, 48, 54, 60, 66, 73]
STREAM_STARTS = [0, 10, 20, 30, 20, 26, 32, 38, 45, 44, 50, 56, 62, 69]


def test_one_front_end_holds_a_tiles_computes_behind_the_next_tiles_loads():
    # E0b is ready at 26 (E0a frees the execute unit), but issues only when L1b, two
    # bundles back, starts at 30: everything after it is 4 cycles late, 76 in all.
    program = _two_tiles(streams=False)
    assert [start for start, _ in timeline(program)] == ONE_FRONT_END_STARTS
    assert (
        evaluate_program(program, "full")[0].cycles
        == 76
        == reference_cycles(program, program.layers[0])
    )


def test_separate_front_ends_let_the_computes_run_back_to_back():
    # The execute stream's window holds only computes: E0b starts when the unit frees
    # at 26, each compute 6 after the one before, E1a after L1b's end (40) and E0d's
    # occupancy (44); the stores follow their tile's last compute. 72 in all.
    program = _two_tiles(streams=True)
    assert [start for start, _ in timeline(program)] == STREAM_STARTS
    assert (
        evaluate_program(program, "full")[0].cycles
        == 72
        == reference_cycles(program, program.layers[0])
    )


def test_a_front_end_waits_only_for_its_own_window():
    # The loads' window of one bundle: each load issues after the previous load starts,
    # while the computes, from their own front end, issue as before.
    program = _two_tiles(streams=True)
    narrow = dataclasses.replace(program, frontends={**program.frontends, "ld": Frontend(1, 1, 0)})
    starts = [start for start, _ in timeline(narrow)]
    assert starts[:4] == [0, 10, 20, 30] and starts == STREAM_STARTS
    delayed = dataclasses.replace(program, frontends={**program.frontends, "st": Frontend(1, 2, 5)})
    starts = [start for start, _ in timeline(delayed)]
    # The first store issues at 0 and starts no earlier than its delay; its tile's
    # accumulator is written at 45 anyway: the stores' starts are unchanged, the others too.
    assert starts == STREAM_STARTS


def test_the_bound_names_the_front_end_that_limits_a_layer():
    # Sixty one-cycle instructions, a bundle each, on a front end issuing one a cycle with
    # a delay of 5: bundle b issues at b and ends at b + 6, 65 in all; the unit is busy 60.
    # The bound is that front end's: ceil(60 / 1) - 1 + delay 5 + latency 1 = 65; the
    # default front end, 4 bundles a cycle, issues none.
    block = Block("b", (Template("x", "u", 0, 1, 1, 0, (), (), True, frontend="slow"),))
    program = machine_program(
        (block,),
        Loop("layer", 1, (Loop("i", 60, (BlockRef(0),)),)),
        units={"u": 1},
        spaces={"r": 1},
        frontends={"slow": Frontend(1, 8, 5)},
        width=4,
        window=8,
    )
    result = evaluate_program(program, "full")[0]
    assert result.cycles == 65 == reference_cycles(program, program.layers[0])
    assert (result.bound.unit, result.bound.busy_cycles) == ("slow frontend", 65)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda p: dataclasses.replace(p, frontends={"ld": Frontend(0, 2, 0)}), "need 1"),
        (lambda p: dataclasses.replace(p, frontends={"ld": (1, 2, 0)}), "not a Frontend"),
        (lambda p: dataclasses.replace(p, frontends={}), "front end 'ld' does not exist"),
    ],
)
def test_malformed_front_ends_are_refused(change, message):
    with pytest.raises(ProgramError, match=message):
        check_program(change(_two_tiles(streams=True)))


def test_only_a_bundles_first_instruction_names_a_front_end():
    program = _two_tiles(streams=True)
    block = program.blocks[0]
    inside = dataclasses.replace(block.templates[1], bundle_start=False)
    broken = dataclasses.replace(
        program, blocks=(Block(block.name, (block.templates[0], inside, *block.templates[2:])),)
    )
    with pytest.raises(ProgramError, match="named by the bundle's first instruction"):
        check_program(broken)


def test_a_trace_keeps_the_front_ends(tmp_path):
    program = dataclasses.replace(_two_tiles(streams=True), isa="gemmini")
    assert read_trace(write_trace(program, tmp_path, materialize_iterations=1)) == program


SEVERAL = ("f1", "f2")


@settings(max_examples=examples(200))
@given(program=random_programs(wide=None, frontends=SEVERAL))
def _several_front_ends_fast_equals_full(tally, program):
    tally.record(check_fast_equals_full(program))


@pytest.mark.parametrize("sampling", SAMPLINGS)
def test_several_front_ends_fast_equals_full(sampling, monkeypatch):
    check_reaches_fast_path(_several_front_ends_fast_equals_full, sampling, monkeypatch)


@settings(max_examples=examples(200))
@given(program=random_programs(max_trips=6, wide=None, frontends=SEVERAL))
def test_several_front_ends_full_equals_an_independent_reference(program):
    assert evaluate_program(program, "full")[0].cycles == reference_cycles(
        program, program.layers[0]
    )


def test_a_loops_live_front_ends_include_those_an_enclosing_loop_issues_again():
    # Outer loop (3 trips): a load from front end `ld`, then an inner loop (4 trips) of
    # computes from `ex`. Within the inner loop only `ex` issues, but the outer loop's next
    # trip issues `ld` again after the inner loop's boundaries, so the inner loop's live
    # front ends (what its signatures must compare) hold both; the outer loop's too.
    load = Template(
        "mvin", "load", 0, 10, 10, 0, (), (op("spad", 0),), True, frontend="ld"
    )  # fmt: skip
    compute = Template(
        "compute", "execute", 0, 7, 6, 0, (op("spad", 0),), (), True, frontend="ex"
    )  # fmt: skip
    inner = Loop("inner", 4, (BlockRef(1),))
    program = machine_program(
        (Block("load", (load,)), Block("compute", (compute,))),
        Loop("outer", 3, (BlockRef(0), inner)),
        units={"load": 1, "execute": 1},
        spaces={"spad": 2},
        frontends={"ld": Frontend(1, 2, 0), "ex": Frontend(1, 2, 0)},
    )
    packed = pack_layer(program.layers[0], program, pack_blocks(program))
    begins = packed.arrays.kind == LOOP_BEGIN
    ld, ex = 1 << 1, 1 << 2  # front end k + 1's bit (the default one is 0)
    assert packed.arrays.live[begins].tolist() == [ld | ex, ld | ex]


def test_the_issue_floor_holds_the_front_end_whose_bundle_a_loop_continues():
    # Found by the property above (shrunk): two trips of one instruction on u (occupancy
    # 1, latency 0) that opens no bundle: both join the default front end's one bundle,
    # issued at 0, which stays open and is the only front end that issues (f1 and f2
    # never do, so none is live). The second waits for u: (0, 0), (1, 1), 1 cycle. The
    # issue floor of a boundary is that open bundle's issue time: without it, no front
    # end bounds the floor, every time is clamped away and the two boundaries look equal.
    body = Template(
        "op", "u", 0, 0, 1, 0, (op("m", 0, count=63),), (), False, instance_coefs=(0, 0)
    )
    program = machine_program(
        (Block("b0", (body,)),),
        Loop("layer", 1, (Loop("l1", 2, (BlockRef(0),)),)),
        units={"u": 1},
        spaces={"m": 63},
        frontends={f: Frontend(1, 1, 0) for f in SEVERAL},
        window=1,
    )
    assert timeline(program) == [(0, 0), (1, 1)]
    assert [r.cycles for r in evaluate_program(program, "fast")] == [1]


def _loop_continuing_a_bundle_behind_another_front_end(pick: int) -> LayerProgram:
    """P (block `pick`; front end b) takes the one entry of issue queue q; X (b) holds w
    for 1000 cycles; Y opens the default front end's bundle behind q and w; loop l's 1,100
    Z on z join that bundle; last, b issues once more."""
    body = (BlockRef(pick), BlockRef(2), BlockRef(0), Loop("l", 1100, (BlockRef(1),)), BlockRef(3))
    return LayerProgram(f"L{pick}", "t", 0, {}, Loop("layer", 1, body))


def test_the_memo_tells_apart_entries_whose_open_bundle_issued_at_other_times():
    # By hand, per layer: P issues at 0 and ends at `latency`; X issues at 1 and holds w
    # until 1001; Y waits for q and issues at `latency`, starts at 1001 and ends at 1002.
    # Z_k joins Y's bundle (issue `latency`) and starts at latency + k: the layer ends at
    # latency + 1100, 1110 and 1120. At loop l's entry both layers hold the same times
    # relative to the issue floor (b's 1) except the open bundle's issue time, 9 or 19
    # above it; the default front end issues no later bundle, but its open one is the
    # active front end's. A memo key without it recalls the first layer's loop in the
    # second: 1110 twice.
    def pick(latency: int) -> Template:
        return Template(
            "p", "p", 0, latency, 1, 0, (), (), True, frontend="b", issue_queue="q"
        )  # fmt: skip

    blocks = (
        Block("y", (Template("y", "w", 0, 1, 1, 0, (), (), True, issue_queue="q"),)),
        Block("z", (Template("z", "z", 0, 1, 1, 0, (), (), False),)),
        Block("x", (Template("x", "w", 0, 1, 1000, 0, (), (), True, frontend="b"),)),
        Block("after", (Template("after", "p", 0, 1, 1, 0, (), (), True, frontend="b"),)),
        Block("p10", (pick(10),)),  # 4
        Block("p20", (pick(20),)),  # 5
    )
    layers = tuple(_loop_continuing_a_bundle_behind_another_front_end(b) for b in (4, 5))
    program = Program(
        "t", {}, 1, 1, 0, {"p": 1, "w": 1, "z": 1}, {"m": 1}, blocks, layers,
        queues={"q": 1}, frontends={"b": Frontend(1, 1, 0)},
    )  # fmt: skip
    assert [reference_cycles(program, layer) for layer in layers] == [1110, 1120]
    assert [r.cycles for r in evaluate_program(program, "full")] == [1110, 1120]
    fast = Evaluation(program, "fast", reuse_layers=False).run()
    assert [r.cycles for r in fast] == [1110, 1120]
    # The second layer's loop is evaluated again: no memo entry of the first fits it.
    assert fast[1].evaluated_iterations == fast[0].evaluated_iterations
