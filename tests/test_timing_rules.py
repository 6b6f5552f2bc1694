"""Each timing rule of docs/design.md §3, pinned on a hand-built program small enough to work
out by hand. The expected times are derived in the comments, not copied from a run."""

from __future__ import annotations

from dataclasses import replace

import pytest

from isa.program import Program
from tests.builders import instr, op, program, timeline


def test_raw_waits_for_the_writers_end():
    # A writes r0 with latency 3 (start 0, end 3); B reads r0, so it starts at 3.
    prog = program(
        [
            instr(latency=3, writes=(op("r", 0),)),
            instr(instance=1, reads=(op("r", 0),), bundle_start=False),
        ]
    )
    assert timeline(prog) == [(0, 3), (3, 4)]


def test_waw_waits_for_the_previous_writers_end():
    prog = program(
        [
            instr(latency=5, writes=(op("r", 0),)),
            instr(instance=1, latency=1, writes=(op("r", 0),), bundle_start=False),
        ]
    )
    assert timeline(prog) == [(0, 5), (5, 6)]


def test_war_is_edge_triggered():
    # Reader B starts at 3 (RAW on A) and reads r0 for one cycle. C overwrites r0 with
    # latency 1: end(C) >= start(B) + 1 = 4, so C may start at 3, the cycle B reads.
    prog = program(
        [
            instr(latency=3, writes=(op("r", 0),)),
            instr(instance=1, reads=(op("r", 0),), bundle_start=False),
            instr(instance=2, latency=1, writes=(op("r", 0),), bundle_start=False),
        ]
    )
    # C also waits for A's write (WAW): start >= 3.
    assert timeline(prog)[2] == (3, 4)


def test_a_pe_instruction_moves_its_operands_with_its_instance():
    # Trip i: X on alu[i] writes r[i] (latency 3), Y on alu[4 + i] reads r[i]; the
    # operands move as the instances do (the kernel's shifted hot path). Every bundle
    # issues at 0 (width 64): the X start at 0 on their own units and locations, each Y at
    # its X's end, 3. Were the locations not moved, X_1 would write r[0] after X_0 (WAW)
    # and after Y_0's read, and the trips would queue.
    x = replace(instr(latency=3, writes=(op("r", 0, coefs=(0, 1)),)), instance_coefs=(0, 1))
    y = replace(
        instr(instance=4, reads=(op("r", 0, coefs=(0, 1)),), bundle_start=False),
        instance_coefs=(0, 1),
    )
    prog = program([x, y], trips=3, units={"alu": 8})
    assert timeline(prog) == [(0, 3), (3, 4)] * 3


@pytest.mark.parametrize("coefs", [(), (0, 1)], ids=["fixed", "moving"])
def test_war_with_a_streamed_read_and_a_long_latency_writer(coefs):
    # B reads r1 for 6 cycles from 0 (read_time 6). C writes r1 with latency 4 and has no
    # other constraint: end(C) >= 0 + 6, so start(C) = 2. With r1 moving with the loop's
    # index (one trip: the same location), the kernel's moving hot path runs.
    r1 = op("r", 1, coefs=coefs)
    prog = program(
        [
            instr(instance=1, read_time=6, reads=(r1,)),
            instr(instance=2, latency=4, writes=(r1,), bundle_start=False),
        ]
    )
    assert timeline(prog) == [(0, 1), (2, 6)]


def test_war_on_a_range_operand():
    # As above through the general path (a range operand, not one location): B reads
    # r[0:2] for 6 cycles from 0; C writes r[1] with latency 4: end(C) >= 6, start(C) = 2.
    prog = program(
        [
            instr(instance=1, read_time=6, reads=(op("r", 0, count=2),)),
            instr(instance=2, latency=4, writes=(op("r", 1),), bundle_start=False),
        ]
    )
    assert timeline(prog) == [(0, 1), (2, 6)]


def test_war_on_a_space_written_only_after_reading_another():
    # Through the general path (ranges): A reads s[0:2] and writes r[0:2] (latency 1, ends
    # at 1); B reads r[0:2] for 10 cycles from 1 (RAW); C reads s[0:2] and overwrites
    # r[0:2] with latency 1: end(C) >= 11, so C starts at 10. B's read of r is kept (r is
    # written), though every operand just before a write of r reads s, which nothing
    # writes (packing finds the written spaces from the writes' own positions).
    prog = program(
        [
            instr(reads=(op("s", 0, count=2),), writes=(op("r", 0, count=2),)),
            instr(instance=1, read_time=10, reads=(op("r", 0, count=2),), bundle_start=False),
            instr(
                instance=2,
                reads=(op("s", 0, count=2),),
                writes=(op("r", 0, count=2),),
                bundle_start=False,
            ),
        ],
        spaces={"r": 2, "s": 2},
    )
    assert timeline(prog) == [(0, 1), (1, 2), (10, 11)]


def test_structural_occupancy_on_one_instance():
    # Three independent instructions on alu[0] with occupancy 2 start 2 cycles apart;
    # on different instances they would all start at 0.
    same = program([instr(occupancy=2, bundle_start=(i == 0)) for i in range(3)])
    apart = program([instr(instance=i, occupancy=2, bundle_start=(i == 0)) for i in range(3)])
    assert [s for s, _ in timeline(same)] == [0, 2, 4]
    assert [s for s, _ in timeline(apart)] == [0, 0, 0]


def test_issue_width_limits_bundles_per_cycle():
    # Five independent one-instruction bundles, two per cycle: issue 0, 0, 1, 1, 2.
    prog = program([instr(instance=i % 4) for i in range(5)], width=2, units={"alu": 4})
    assert [s for s, _ in timeline(prog)] == [0, 0, 1, 1, 2]


def test_window_back_pressure():
    # A chain through r0 of 1-cycle instructions on one unit, occupancy 1, window 2:
    # bundle b cannot issue before bundle b-2 started. With a front-end delay of 3,
    # bundle 0 starts at 3, bundle 2 issues at >= 3 and starts at >= 6.
    prog = program(
        [instr(reads=(op("r", 0),), writes=(op("r", 0),)) for _ in range(4)],
        width=8,
        window=2,
        delay=3,
    )
    starts = [s for s, _ in timeline(prog)]
    assert starts[0] == 3
    assert starts[2] >= 6


def test_frontend_delay_offsets_the_first_start():
    prog = program([instr()], delay=7)
    assert timeline(prog) == [(7, 8)]


def test_range_operands_touch_every_location():
    # A writes r[4] (latency 9); B reads r[0:8]: RAW through one of the eight locations.
    prog = program(
        [
            instr(latency=9, writes=(op("r", 4),)),
            instr(instance=1, reads=(op("r", 0, count=8),), bundle_start=False),
        ]
    )
    assert timeline(prog)[1][0] == 9


def test_a_one_location_read_sees_a_write_of_whole_chunks():
    # A writes r[0:256] (latency 10); B reads r[5] alone. A 256-location operand carries
    # most of the locations named, so the kernel keeps locations in chunks of 64 and A's
    # write raises four whole chunks at once (analyzer/engine/packing.py): B's read of one
    # location must still see it, RAW, and start at 10.
    prog = program(
        [
            instr(latency=10, writes=(op("r", 0, count=256),)),
            instr(instance=1, reads=(op("r", 5),), bundle_start=False),
        ],
        spaces={"r": 256},
    )
    assert timeline(prog) == [(0, 10), (10, 11)]


def test_a_write_across_two_chunks_is_seen_in_both():
    # W's 256-location read turns chunks of 64 on, as above. A writes r[10] (chunk 0,
    # latency 20); B writes r[60:70] across chunks 0 and 1 (start 0, end 5), earlier than
    # A's write in chunk 0 but the latest in chunk 1; C reads r[65] in chunk 1: RAW on B,
    # start 5. (The kernel skips a short read when neither chunk holds a write later than
    # the start so far, so B must leave chunk 1's maximum at 5 too.)
    prog = program(
        [
            instr(instance=3, reads=(op("r", 256, count=256),)),
            instr(latency=20, writes=(op("r", 10),), bundle_start=False),
            instr(instance=1, latency=5, writes=(op("r", 60, count=10),), bundle_start=False),
            instr(instance=2, reads=(op("r", 65),), bundle_start=False),
        ],
        spaces={"r": 512},
    )
    assert timeline(prog) == [(0, 1), (0, 20), (0, 5), (5, 6)]


def test_a_read_across_two_chunks_sees_a_write_in_the_second():
    # A writes r[70] (chunk 1, latency 20); C reads r[60:72] across chunks 0 and 1: RAW
    # through r[70], start 20, though chunk 0 holds no write at all.
    prog = program(
        [
            instr(instance=3, reads=(op("r", 256, count=256),)),
            instr(latency=20, writes=(op("r", 70),), bundle_start=False),
            instr(instance=1, reads=(op("r", 60, count=12),), bundle_start=False),
        ],
        spaces={"r": 512},
    )
    assert timeline(prog) == [(0, 1), (0, 20), (20, 21)]


def test_a_read_across_two_chunks_sees_the_second_chunks_floor():
    # A writes r[64:320] (latency 20): whole chunks 1-4, raised through their floors alone
    # (their locations' own write times stay unset). B reads r[60:68], across chunks 0 and
    # 1: RAW through chunk 1's floor, start 20, though chunk 0 holds no write at all.
    prog = program(
        [
            instr(latency=20, writes=(op("r", 64, count=256),)),
            instr(instance=1, reads=(op("r", 60, count=8),), bundle_start=False),
        ],
        spaces={"r": 512},
    )
    assert timeline(prog) == [(0, 20), (20, 21)]


def test_a_write_across_two_chunks_keeps_a_later_write_of_the_second():
    # As above, but A's later write is r[100], in chunk 1 outside B's range. B (alu[1],
    # occupancy 5) writes r[60:70], end 5; C, next on alu[1], starts no earlier than 5 and
    # reads r[100]: RAW on A, start 20. B's write must leave chunk 1's maximum at 20, or C,
    # whose start so far (5) is no earlier than that maximum, would skip its read.
    prog = program(
        [
            instr(instance=3, reads=(op("r", 256, count=256),)),
            instr(latency=20, writes=(op("r", 100),), bundle_start=False),
            instr(
                instance=1,
                latency=5,
                occupancy=5,
                writes=(op("r", 60, count=10),),
                bundle_start=False,
            ),
            instr(instance=1, reads=(op("r", 100),), bundle_start=False),
        ],
        spaces={"r": 512},
    )
    assert timeline(prog) == [(0, 1), (0, 20), (0, 5), (20, 21)]


def test_affine_addresses_follow_the_loop_index():
    # Iteration k reads r[2k] and writes r[2k+2] (latency 4): each iteration waits for
    # the previous one's result, so starts are 0, 4, 8.
    chained = program(
        [instr(latency=4, reads=(op("r", 0, coefs=(0, 2)),), writes=(op("r", 2, coefs=(0, 2)),))],
        trips=3,
    )
    assert [s for s, _ in timeline(chained)] == [0, 4, 8]
    # Reading r[2k+8] instead never meets a write: only alu[0]'s occupancy of 1 orders them.
    independent = program(
        [instr(latency=4, reads=(op("r", 8, coefs=(0, 2)),), writes=(op("r", 2, coefs=(0, 2)),))],
        trips=3,
    )
    assert [s for s, _ in timeline(independent)] == [0, 1, 2]


def test_a_full_queue_delays_its_own_kind_and_a_full_issue_queue_everything_behind():
    # Queue q has one entry, freed at the end of the instruction holding it. A (latency 5)
    # holds it from 0 to 5, so B, also of q, starts at 5.
    def three(field: str) -> Program:
        a = replace(instr(latency=5), **{field: "q"})
        b = replace(instr(instance=1), **{field: "q"})
        c = instr(instance=2)
        return replace(program([a, b, c]), queues={"q": 1})

    # A plain queue delays only B: C, behind it in program order, starts at 0.
    assert timeline(three("queue")) == [(0, 5), (5, 6), (0, 1)]
    # An issue queue stalls the in-order front end: B cannot issue before 5, and C, which
    # issues after B, neither.
    assert timeline(three("issue_queue")) == [(0, 5), (5, 6), (5, 6)]


@pytest.mark.parametrize("coefs", [(), (0, 1)], ids=["fixed", "moving"])
def test_war_waits_for_the_latest_read_not_the_last_evaluated(coefs):
    # A keeps alu[0] busy until 3 (occupancy 3). B reads r0 on alu[0]: start 3, reading
    # until 4. C reads r0 on alu[1]: start 0, reading until 1, evaluated after B but an
    # earlier read. D writes r0 with latency 1 on alu[2]: end(D) >= 4, the latest read, so
    # D starts at 3, not at 0 as it would if C's read replaced B's. With r0 moving with
    # the loop's index (one trip: the same location), the kernel's moving hot path runs.
    r0 = op("r", 0, coefs=coefs)
    prog = program(
        [
            instr(occupancy=3),
            instr(reads=(r0,), bundle_start=False),
            instr(instance=1, reads=(r0,), bundle_start=False),
            instr(instance=2, latency=1, writes=(r0,), bundle_start=False),
        ]
    )
    assert timeline(prog) == [(0, 1), (3, 4), (0, 1), (3, 4)]


@pytest.mark.parametrize("locations", [1, 2], ids=["one-location", "a-range"])
def test_a_read_mark_is_set_at_the_read_time_and_a_mark_at_the_end(locations):
    # A (latency 10, read time 2) read-marks m[0..locations) and marks n[0]: the read
    # mark holds start + read time = 2, the mark the end, 10. B reads the last read-marked
    # location, so it starts at 2; C reads n[0], so it starts at 10. One location each
    # takes the kernel's path for single fixed locations, a range the general one.
    a = replace(
        instr(latency=10, read_time=2),
        read_marks=(op("m", 0, locations),),
        marks=(op("n", 0),),
    )
    b = instr(instance=1, reads=(op("m", locations - 1),), bundle_start=False)
    c = instr(instance=2, reads=(op("n", 0),), bundle_start=False)
    prog = program([a, b, c], spaces={"m": 2, "n": 1})
    assert timeline(prog) == [(0, 10), (2, 3), (10, 11)]
