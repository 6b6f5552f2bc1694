"""Unit instances that move with the loop indices (Template.instance_coefs): one template
for a row of processing elements, as an operand's coefficients move its address
(docs/design.md §2.2). Hand-worked timings, the checks, the trace, the bounds, and the
fast-mode guards (a skip, a translated period or the memo must never carry one
instance's state over to another)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import polars as pl
import pytest

from analyzer.engine.bounds import _instance_counts
from analyzer.engine.evaluate import Evaluation, evaluate_program
from analyzer.engine.packing import pack_blocks
from analyzer.engine.recurrence import block_dependency_edges, critical_cycle
from isa.program import Block, BlockRef, LayerProgram, Loop, Operand, Program, Template
from isa.validation import ProgramError, check_program
from tests.builders import SAMPLINGS, cycles, instr, op, program, timeline
from tests.reference import reference_cycles
from tracer.trace_io import write_trace
from tracer.trace_read import read_trace


def moving(instance: int = 0, coefs: tuple[int, ...] = (0, 1), **fields) -> Template:
    return replace(instr(instance=instance, **fields), instance_coefs=coefs)


def test_a_moving_instance_runs_each_trip_on_its_own_unit():
    # Four trips of one instruction (occupancy 5, latency 1), all issued at 0 (64 bundles
    # a cycle): on one instance they queue behind each other (starts 0, 5, 10, 15; the
    # last ends at 16); on instances 0..3 they all start at 0 and the layer takes 1 cycle.
    fixed = program([instr(occupancy=5)], trips=4)
    spread = program([moving(occupancy=5)], trips=4)
    assert [s for s, _ in timeline(fixed)] == [0, 5, 10, 15]
    assert [s for s, _ in timeline(spread)] == [0, 0, 0, 0]
    assert cycles(fixed) == 16 and cycles(spread) == 1
    assert reference_cycles(spread, spread.layers[0]) == 1
    # A coefficient of 2 from instance 1: instances 1, 3, 1, 3 for trips 0..3 would need
    # 7 instances; on 8 of them, trip k runs on 1 + 2k, still side by side.
    strided = program([moving(instance=1, coefs=(0, 2), occupancy=5)], trips=4, units={"alu": 8})
    assert [s for s, _ in timeline(strided)] == [0, 0, 0, 0]


def test_a_moving_instance_shares_its_unit_with_a_fixed_one():
    # Trip k's first instruction runs on instance k (occupancy 4), its second always on
    # instance 2 (occupancy 1). Trip 2's first instruction meets the fixed one's earlier
    # uses of instance 2: the fixed one of trips 0 and 1 started at 0 and 1, so instance
    # 2 is free at 2, and trip 2's moving instruction starts there; trip 2's fixed one
    # follows it on instance 2 at 2 + 4 = 6, and trip 3's fixed one at 7.
    prog = program(
        [moving(occupancy=4), instr(instance=2, bundle_start=False)], trips=4, units={"alu": 4}
    )
    starts = [s for s, _ in timeline(prog)]
    assert starts == [0, 0, 0, 1, 2, 6, 0, 7]
    assert cycles(prog) == 8 == reference_cycles(prog, prog.layers[0])


@pytest.mark.parametrize("sampling", SAMPLINGS)
@pytest.mark.parametrize("writes", [False, True], ids=["instances-only", "with-addresses"])
@pytest.mark.parametrize("bundles", [False, True], ids=["one-bundle", "a-bundle-each"])
def test_a_loop_moving_its_instances_skips_nothing_past_a_busy_one(
    bundles, writes, sampling, monkeypatch
):
    # P occupies instance 10 until 100. Loop i (20 trips, all issued at 0: one bundle, or
    # a bundle each at 64 a cycle) runs on instance i with occupancy 0 and latency 1 (and
    # writes m[i]), so every trip starts at 0 and ends at 1, except trip 10, which waits
    # for instance 10: 100..101. Between boundaries the machine, compared in place, is the
    # same (instance i's free time 0 is at the floor; m[i] holds what m[i-1] held): only
    # the moving instance tells trip 10 apart. With a bundle each, translated periods
    # (which compare the machine in place) must not be taken at all; in one bundle,
    # wavefront periods compare the instances as a region and must stop before trip 10.
    from analyzer.engine import evaluate

    monkeypatch.setattr(evaluate, "COMPARE_BUDGET", SAMPLINGS[sampling])
    prelude = Block("p", (instr(instance=10, occupancy=100),))
    moved = (op("m", 0, coefs=(0, 1)),) if writes else ()
    body = Block("w", (moving(occupancy=0, writes=moved, bundle_start=bundles),))
    root = Loop("layer", 1, (BlockRef(0), Loop("i", 20, (BlockRef(1),))))
    prog = Program(
        "t", {}, 64, 1024, 0, {"alu": 20}, {"m": 20}, (prelude, body),
        (LayerProgram("L", "t", 0, {}, root),),
    )  # fmt: skip
    full = evaluate_program(prog, "full")[0]
    fast = evaluate_program(prog, "fast")[0]
    assert full.cycles == fast.cycles == reference_cycles(prog, prog.layers[0]) == 101
    if bundles:
        assert fast.evaluated_iterations == full.evaluated_iterations
    elif writes and sampling == "as-shipped":
        # A wavefront period (the instance, 1 + 1, and m's window, 1 + 1 locations two
        # times each, with 4 items a region: 14) costs more than an iteration's one
        # instruction (11): as shipped the loop is evaluated (analyzer/engine/loop_skips.py).
        assert fast.evaluated_iterations == full.evaluated_iterations
    else:
        assert fast.evaluated_iterations < full.evaluated_iterations


@pytest.mark.parametrize("sampling", SAMPLINGS)
def test_a_translated_period_never_carries_a_moving_instance_past_a_busy_one(sampling, monkeypatch):
    # Trip i is two bundles, issued one a cycle through a window of 4: M on instance i
    # (occupancy 0, latency 40, writes m[i]), then F on instance 10 (occupancy 3), which
    # paces the loop at a trip every 3 cycles. After the loop, R reads m[10] (latency
    # 100). M's instance is free again by the next issue, so the machine, compared in
    # place, repeats from boundary to boundary moved by 3 cycles, and m's window by one
    # location, as translated periods need. Trip 10's M lands on F's instance and waits
    # for trip 9's F, so m[10] is written later and R ends later: only the moving
    # instance tells trip 10 apart, and the loop must not translate. With M on a fixed
    # instance the loop does translate (the path is reached) and R ends 8 cycles sooner.
    from analyzer.engine import evaluate

    monkeypatch.setattr(evaluate, "COMPARE_BUDGET", SAMPLINGS[sampling])
    writes = (op("m", 0, coefs=(0, 1)),)
    paced = instr(instance=10, occupancy=3)
    reader = instr(instance=11, latency=100, reads=(op("m", 10),))

    def run(m: Template) -> tuple[int, int, int]:
        root = Loop("layer", 1, (Loop("i", 20, (BlockRef(0),)), BlockRef(1)))
        prog = Program(
            "t", {}, 1, 4, 0, {"alu": 20}, {"m": 20},
            (Block("w", (m, paced)), Block("r", (reader,))),
            (LayerProgram("L", "t", 0, {}, root),),
        )  # fmt: skip
        full = evaluate_program(prog, "full")[0]
        fast = evaluate_program(prog, "fast")[0]
        assert full.cycles == fast.cycles == reference_cycles(prog, prog.layers[0])
        return fast.cycles, fast.evaluated_iterations, full.evaluated_iterations

    spread, evaluated, every = run(moving(occupancy=0, latency=40, writes=writes))
    assert evaluated == every
    fixed, evaluated_fixed, every_fixed = run(
        instr(instance=0, occupancy=0, latency=40, writes=writes)
    )
    assert evaluated_fixed < every_fixed
    assert spread == fixed + 8


def test_the_memo_never_restores_a_loop_whose_instance_an_outer_index_moves():
    # Outer loop o (2 trips): sync S (reads m[0] and z[0]: waits for the last write and
    # the last mark) and a barrier B behind it (width 1, window 1: B issues when S
    # starts), then loop l of 50 writes to m[0] (latency 5, occupancy 7, marking z[0]
    # when the instance is free again) on instance o. o=0: B issues at 1, the writes start
    # at 2, 9, ..., 345 (each waits for the instance); o=1: S starts at 352 (the mark),
    # B issues there, and the writes start at 353, ..., 696 on instance 1, free at 703.
    # C (instance 1, latency 10) issues at 696 and starts at 703: the layer ends at 713.
    # Loop l is entered at o=1 from the state it was entered at o=0 (everything at the
    # floor) but runs on another instance: restoring o=0's first iterations would leave
    # instance 1 free, start the next write 2 cycles early, and end at 711.
    def template(opcode, instance, latency, occupancy=0, read_time=0, coefs=(), **operands):
        return Template(
            opcode, "u", instance, latency, occupancy, read_time,
            operands.get("reads", ()), operands.get("writes", ()), True,
            read_marks=operands.get("read_marks", ()), instance_coefs=coefs,
        )  # fmt: skip

    sync = Block(
        "sync",
        (
            template("sync", 3, 0, reads=(Operand("m", 0), Operand("z", 0))),
            template("barrier", 2, 0),
        ),
    )
    write = Block(
        "write",
        (
            template(
                "w", 0, 5, 7, 7, coefs=(0, 1),
                writes=(Operand("m", 0),), read_marks=(Operand("z", 0),),
            ),
        ),
    )  # fmt: skip
    last = Block("last", (template("c", 1, 10, 1),))
    outer = Loop("o", 2, (BlockRef(0), Loop("l", 50, (BlockRef(1),))))
    layer = LayerProgram("L", "t", 0, {}, Loop("layer", 1, (outer, BlockRef(2))))
    prog = Program("t", {}, 1, 1, 0, {"u": 4}, {"m": 1, "z": 1}, (sync, write, last), (layer,))
    full = evaluate_program(prog, "full")[0]
    fast = evaluate_program(prog, "fast")[0]
    assert full.cycles == fast.cycles == reference_cycles(prog, layer) == 713
    assert fast.evaluated_iterations < full.evaluated_iterations  # loop l skipped periods


@pytest.mark.parametrize(
    ("base", "coefs", "trips", "fragment"),
    [
        (0, (0, 1), 5, r"instance runs over 0\.\.4; the unit has 4 instances"),
        (3, (0, -1), 5, r"instance runs over -1\.\.3"),
        (0, (0, 0, 1), 2, "instance uses a loop it is not in"),
        (4, (0, 0), 2, r"unit alu\[4\] does not exist"),
        (0, (0, True), 2, "instance_coefs .* has a bad one"),
        (0, [0, 1], 2, "instance_coefs must be a tuple"),
    ],
)
def test_moving_instances_are_checked_over_every_trip(base, coefs, trips, fragment):
    prog = program([moving(instance=base, coefs=coefs)], trips=trips)
    with pytest.raises(ProgramError, match=fragment):
        check_program(prog)
    check_program(program([moving(instance=0, coefs=(0, 1))], trips=4))  # 0..3 of 4: fine


def test_a_trace_keeps_moving_instances_and_lists_each_trips_instance(tmp_path):
    prog = program([moving(instance=1, coefs=(0, 1)), instr(instance=0)], trips=3)
    prog = Program(**{**prog.__dict__, "model": "m"})
    folder = write_trace(prog, tmp_path, materialize_iterations=None)
    assert read_trace(folder).blocks == prog.blocks
    instances = pl.read_ipc(folder / "instructions.arrow")["instance"].to_list()
    assert instances == [1, 0, 2, 0, 3, 0]


def test_the_resource_bound_counts_each_instance_a_moving_template_reaches():
    # Instances base + 2a + b over a < 2, b < 3: 1, 2, 3, 3, 4, 5.
    instances, counts = _instance_counts(1, (2, 1), (2, 3))
    assert instances.tolist() == [1, 2, 3, 4, 5] and counts.tolist() == [1, 1, 2, 1, 1]
    instances, counts = _instance_counts(0, (0, 1), (3, 4))  # depth 0 repeats 3 times
    assert instances.tolist() == [0, 1, 2, 3] and counts.tolist() == [3, 3, 3, 3]
    assert _instance_counts(0, (1,), (0,))[0].size == 0
    # Four trips of occupancy 5, latency 1: on one instance it is busy 20 cycles less the
    # last one's overhang of 4 (= the 16 cycles); spread over four, 5 - 4 each.
    fixed, spread = (
        Evaluation(p, "full").layer(p.layers[0]).bound
        for p in (
            program([instr(occupancy=5)], trips=4),
            program([moving(occupancy=5)], trips=4),
        )
    )
    assert (fixed.busy_cycles, fixed.instance, fixed.unused) == (16, 0, 3)
    assert (spread.busy_cycles, spread.unused) == (1, 0)
    # Two moving templates in one block, occupancy 5 and 3 (latency 1) on instance k of
    # trip k: each instance busy 8 cycles less the larger overhang, 4.
    both = program([moving(occupancy=5), moving(occupancy=3, bundle_start=False)], trips=4)
    assert Evaluation(both, "full").layer(both.layers[0]).bound.busy_cycles == 4
    # From base instance 2 (of alu[0..8)), trips reach 2..5: the busiest is the first of
    # them, and four are never used. (Instances are counted from base 0 and shifted.)
    shifted = program([moving(instance=2, occupancy=5)], trips=4, units={"alu": 8})
    bound = Evaluation(shifted, "full").layer(shifted.layers[0]).bound
    assert (bound.busy_cycles, bound.instance, bound.unused) == (1, 2, 4)


def test_the_recurrence_leaves_out_a_moving_instance():
    # One instruction of occupancy 5 repeated: on a fixed instance, 5 cycles an iteration
    # (the unit's own cycle); moving, each iteration has its own instance and no cycle.
    fixed = pack_blocks(program([instr(occupancy=5)], trips=4))
    spread = pack_blocks(program([moving(occupancy=5)], trips=4))
    found = critical_cycle(block_dependency_edges(fixed, 0))
    assert found is not None and (found.weight, found.iterations) == (5, 1)
    edges = block_dependency_edges(spread, 0)
    assert critical_cycle(edges) is None and edges.source.size == 0
    assert np.array_equal(spread.arrays.offset_coefs.any(axis=1), [False, True])


def test_the_state_holds_only_the_instances_templates_can_name():
    # alu: fixed instances 0 and 2 of 8 declared, so 3 in the state; mul: one template
    # moves (its reach depends on each layer's trips), so all 4; fpu: named by nothing.
    templates = [
        instr(occupancy=3),
        instr(instance=2, occupancy=7, bundle_start=False),
        moving(unit="mul", bundle_start=False),
    ]
    prog = program(templates, trips=4, units={"alu": 8, "mul": 4, "fpu": 5})
    blocks = pack_blocks(prog)
    assert blocks.unit_count == {"alu": 3, "mul": 4, "fpu": 0}
    assert blocks.unit_first == {"alu": 0, "mul": 3, "fpu": 7}
    assert blocks.arrays.n_units == 7
    # Left out, they change no time: instance 2 runs 4 x 7 cycles back to back (its last
    # start 21, end 22), and the bound still names it among alu's 8 declared instances.
    assert cycles(prog) == cycles(prog, "fast") == 22 == reference_cycles(prog, prog.layers[0])
    bound = Evaluation(prog, "full").layer(prog.layers[0]).bound
    assert (bound.unit, bound.instance, bound.instances, bound.unused) == ("alu", 2, 8, 6)
    # A busiest instance of a later kind is numbered within its kind: mul[1], global id 4.
    templates[2] = instr(unit="mul", instance=1, occupancy=9, bundle_start=False)
    bound = (
        Evaluation(replace(prog, blocks=(Block("b", tuple(templates)),)), "full")
        .layer(prog.layers[0])
        .bound
    )
    assert (bound.unit, bound.instance, bound.instances, bound.unused) == ("mul", 1, 4, 3)


def listed_step(rows: int, cols: int, dataflow: str, step: str) -> list[tuple]:
    """One step of an R x C array as the systolic lowering's module docstring describes it,
    PE by PE (row-major; the preload's rows bottom-up): (opcode, unit, instance, reads,
    writes, opens the bundle), each operand a (space, location) pair."""
    pe = [[r * cols + c for c in range(cols)] for r in range(rows)]
    listed = []
    order = range(rows - 1, -1, -1) if step == "preload" else range(rows)
    for r in order:
        for c in range(cols):
            p = pe[r][c]
            west = ("west", r) if c == 0 else ("h", p - 1)
            north = ("north", c) if r == 0 else ("v", p - cols)
            if step == "preload":
                above = ("north", c) if r == 0 else ("s", p - cols)
                entry = ("preload", "pe", p, [above, ("fold_token", 0)], [("s", p)])
            elif step == "drain":
                entry = ("drain", "drain", p, [("s", p)], [("out", p)])
            elif dataflow == "os":
                token = [("fold_token", 0)] if (r, c) == (0, 0) else []
                reads = [west, north, ("s", p), *token]
                entry = ("mac", "pe", p, reads, [("h", p), ("v", p), ("s", p)])
            else:
                reads = [west, ("s", p)] + ([north] if r > 0 else [])
                entry = ("mac", "pe", p, reads, [("h", p), ("v", p)])
            listed.append((*entry, not listed))
    if step == "stream" and dataflow != "os":
        bottom = (rows - 1) * cols
        listed += [
            ("drain", "drain", c, [("v", bottom + c)], [("out", c)], False) for c in range(cols)
        ]
    return listed


@pytest.mark.parametrize("dataflow", ["ws", "os", "is"])
@pytest.mark.parametrize(("rows", "cols"), [(1, 1), (1, 10), (7, 1), (3, 9), (5, 17), (4, 20)])
def test_a_systolic_step_written_as_loops_unrolls_to_one_instruction_per_pe(rows, cols, dataflow):
    # The lowering writes a step as a row's first PE and loops over its other columns and
    # over the middle rows (isa/systolic/lowering.py, _ArrayBuilder): unrolled, each step
    # is the instruction of every PE, in order, moved to its instance and registers.
    from accelerators.catalog import find_accelerator
    from isa.systolic.lowering import lower
    from tests.reference import block_executions, first_location
    from tracer.workloads.layers import Dense, Model

    params = {"rows": str(rows), "cols": str(cols), "dataflow": dataflow}
    prog = lower(find_accelerator("systolic").resolve(params), Model("m", (Dense("fc", 3, 4, 2),)))
    fold = prog.layers[0].root.body[0]
    steps = [node for node in fold.body if isinstance(node, Loop)]
    assert [s.name for s in steps] == (
        ["stream", "drain"] if dataflow == "os" else ["preload", "stream"]
    )
    for step in steps:
        around = Loop("layer", 1, (Loop("fold", 1, (Loop(step.name, 1, step.body),)),))
        unrolled = []
        for block, index in block_executions(around):
            for t in prog.blocks[block].templates:

                def located(operands, index=index):
                    return [(o.space, first_location(o, index)) for o in operands]

                instance = t.instance_at(tuple(index))
                unrolled.append(
                    (
                        t.opcode,
                        t.unit,
                        instance,
                        located(t.reads),
                        located(t.writes),
                        t.bundle_start,
                    )
                )
        assert unrolled == listed_step(rows, cols, dataflow, step.name)
    # A few dozen templates whatever the size (the ws drains aside, one per column).
    per_pe = sum(len(b.templates) for b in prog.blocks if b.name != "drain" or dataflow == "os")
    assert per_pe <= 3 * 2 * (1 + 8 + 7) + 1
