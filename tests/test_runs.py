"""Runs of locations (analyzer/engine/runs.py; docs/design.md §3.7): the
state's run starts stay a superset of where a location's times differ from the one before
it, under the updates evaluation makes; a run ends at the next run start or chunk; and the
translated kernels read a state run by run exactly as they read it location by location.
Fast == full with runs kept and not kept is tests/test_translated_periods.py's."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from analyzer.engine import runs, translated
from analyzer.engine.layout import NEVER
from analyzer.engine.translated import REGION_FIELDS
from tests.test_signatures import _run_starts, assert_runs_hold

BASE = 100
MIN_LATENCY = 2


@settings(max_examples=200, deadline=None)
@given(st.data())
def test_a_run_ends_at_the_next_run_start_or_chunk(data):
    n_words = data.draw(st.integers(1, 3))
    words = data.draw(st.lists(st.integers(0, (1 << 64) - 1), min_size=n_words, max_size=n_words))
    run_start = np.array(words, dtype=np.uint64)
    x = data.draw(st.integers(0, 64 * n_words - 1))
    end = data.draw(st.integers(x + 1, 64 * n_words))
    expected = x + 1
    while expected < end and expected % 64 and not (words[expected >> 6] >> (expected % 64)) & 1:
        expected += 1
    assert runs._run_end(run_start, x, end) == expected
    assert runs._run_end(np.zeros(0, dtype=np.uint64), x, end) == x + 1  # none kept


@st.composite
def updates(draw):
    """Updates as evaluation makes them: a write sets its range's write times to one time
    at least theirs and clears its reads; a read raises its range's read-until times; a
    mark raises write times. Ranges may cross words."""
    n = draw(st.integers(1, 200))
    steps = []
    for _ in range(draw(st.integers(1, 12))):
        lo = draw(st.integers(0, n - 1))
        hi = draw(st.integers(lo + 1, min(n, lo + 80)))
        steps.append(
            (draw(st.sampled_from(("write", "read", "mark"))), lo, hi, draw(st.integers(0, 60)))
        )
    return n, steps


@settings(max_examples=300, deadline=None)
@given(updates())
def test_run_starts_hold_under_evaluations_updates(drawn):
    n, steps = drawn
    write_end = np.zeros(n, dtype=np.int64)
    read_until = np.full(n, NEVER, dtype=np.int64)
    run_start = np.zeros((n >> 6) + 1, dtype=np.uint64)
    for kind, lo, hi, time in steps:
        if kind == "write":
            # Its end is after every write time in its range (WAW): one time.
            write_end[lo:hi] = max(time, int(write_end[lo:hi].max()))
            read_until[lo:hi] = NEVER
        elif kind == "read":
            read_until[lo:hi] = np.maximum(read_until[lo:hi], time)
        else:
            write_end[lo:hi] = np.maximum(write_end[lo:hi], time)
        runs._mark_runs(run_start, lo, hi, n, kind == "write")
        state = (None, write_end, read_until, None, None, None, None, None, None, run_start)
        assert_runs_hold(state, 0)


@st.composite
def windows(draw):
    """A state whose locations come in runs of equal times near BASE (the run starts
    exact, or with extra starts), and one region's window at iteration 1, stepping by
    `step`: (state, regions)."""
    n = draw(st.integers(8, 260))
    write_end = np.empty(n, dtype=np.int64)
    read_until = np.empty(n, dtype=np.int64)
    x = 0
    while x < n:
        length = draw(st.integers(1, 20))
        write_end[x : x + length] = draw(st.integers(BASE - 3, BASE + 3))
        read_until[x : x + length] = draw(st.sampled_from((NEVER, BASE, BASE + 2, BASE + 5)))
        x += length
    run_start = _run_starts(write_end, read_until, (n >> 6) + 1)
    for extra in draw(st.lists(st.integers(0, n - 1), max_size=5)):
        run_start[extra >> 6] |= np.uint64(1) << np.uint64(extra % 64)
    width = draw(st.integers(1, n // 4))
    step = draw(st.integers(1, width)) * draw(st.sampled_from((1, -1)))
    regions = np.zeros((1, REGION_FIELDS), dtype=np.int64)
    first = 0 if step > 0 else n - width  # iterations move up or down from there
    regions[0, :5] = (first, first + width, step, 0, n)
    unused = np.zeros(1, dtype=np.int64)
    floors = np.full((n >> 6) + 1, NEVER, dtype=np.int64)
    state = (
        unused,
        write_end,
        read_until,
        unused,
        unused,
        unused,
        floors,
        unused,
        unused,
        run_start,
    )
    return state, regions


def _without_runs(state):
    return (*state[:9], np.zeros(0, dtype=np.uint64))


def _kept_items(record, n_machine, locations):
    """A record's window, run by run, as two items per location."""
    items, pos = [], n_machine
    while len(items) < 2 * locations:
        length, written, read, pos = translated._get_run(record, pos)
        items += [written, read] * int(length)
    assert len(items) == 2 * locations
    return items


@settings(max_examples=300, deadline=None)
@given(windows(), st.integers(-2, 2))
def test_translated_kernels_read_runs_as_they_read_locations(drawn, moved_base):
    # A record kept run by run stands for every location's clamped items; a match and the
    # periods that repeat come out as they do location by location.
    state, regions = drawn
    chunk_shift = 6
    n_machine = 1
    machine = np.zeros(1, dtype=np.int64)
    width = int(regions[0, 1] - regions[0, 0])
    kept, plain = np.zeros(3 * width + 2, np.int64), np.zeros(3 * width + 2, np.int64)
    offsets = np.zeros(1, dtype=np.int64)
    args = (machine, n_machine)
    translated._translated_record(
        kept, offsets, *args, state, BASE, MIN_LATENCY, chunk_shift, regions, 1, 1
    )
    translated._translated_record(
        plain, offsets, *args, _without_runs(state), BASE, MIN_LATENCY, chunk_shift, regions, 1, 1
    )  # fmt: skip
    assert _kept_items(kept, n_machine, width) == _kept_items(plain, n_machine, width)
    now = BASE + moved_base
    for record in (kept, plain):
        match = [
            translated._translated_match(
                record, offsets, *args, s, now, MIN_LATENCY, chunk_shift, regions, 1, 2
            )
            for s in (state, _without_runs(state))
        ]
        assert match[0] == match[1]
    n = len(state[1])
    periods = max(1, (n - width) // abs(int(regions[0, 2])) - 2)
    repeat = [
        translated._translated_periods(
            s, BASE, 3, periods, 1, MIN_LATENCY, chunk_shift, regions, 1, 1
        )
        for s in (state, _without_runs(state))
    ]
    assert repeat[0] == repeat[1]


def _restored_by_rule(state, shift, periods, regions, i):
    """docs/design.md §4.6's restore, location by location: a location that period q
    covers last (and no later period does) holds what the location (q + 1) steps back
    holds now, plus (q + 1) shifts; every other location keeps its times."""
    write_end, read_until = state[1].copy(), state[2].copy()
    lo, hi, step = (int(v) for v in regions[0, :3])
    for q in range(periods):
        start, end = lo + step * (i + q), hi + step * (i + q)
        if q < periods - 1 and step > 0:
            end = min(end, lo + step * (i + q + 1))
        elif q < periods - 1:
            start = max(start, hi + step * (i + q + 1))
        for z in range(start, end):
            write_end[z] = state[1][z - (q + 1) * step] + (q + 1) * shift
            read_until[z] = state[2][z - (q + 1) * step] + (q + 1) * shift
    return write_end, read_until


@settings(max_examples=300, deadline=None)
@given(windows(), st.integers(0, 9), st.data())
def test_a_translated_restore_copies_runs_as_the_rule_copies_locations(drawn, shift, data):
    state, regions = drawn
    n = len(state[1])
    width, step = int(regions[0, 1] - regions[0, 0]), int(regions[0, 2])
    periods = data.draw(st.integers(1, max(1, (n - width) // abs(step) - 1)))
    expected = _restored_by_rule(state, shift, periods, regions, 1)
    for s in (state, _without_runs(state)):
        restored = tuple(part.copy() for part in s)
        scratch = np.zeros(3 * n, dtype=np.int64)
        translated._translated_restore(restored, scratch, shift, periods, 1, 0, regions, 1, 1)
        assert np.array_equal(restored[1], expected[0])
        assert np.array_equal(restored[2], expected[1])
        assert_runs_hold(restored, 0)
