"""Hand-worked programs where a skip, a restore or the memo must keep one detail of the
state: a read still pending, a unit the loop never uses, a bundle left open, write times
at the issue floor, reads the loop extends in chunked spaces. Each would let fast mode
differ from full mode (tests/test_exactness.py's properties) in a case random programs
meet rarely; the comments work the cycles out by hand."""

from __future__ import annotations

import numpy as np
import pytest

from analyzer.engine import evaluate, signatures
from analyzer.engine.evaluate import Evaluation, evaluate_program
from analyzer.engine.packing import pack_blocks
from isa.program import (
    Block,
    BlockRef,
    LayerProgram,
    Loop,
    Operand,
    Program,
    Template,
)
from tests.builders import (
    SAMPLINGS,
    timeline,
)
from tests.reference import reference_cycles


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
