"""Numba kernels for wavefront periods: translated periods of loops that open no bundle
(docs/design.md §4.7).

A loop whose body issues in the bundle already open (a step of a processing-element
array: one bundle, one instruction per element) keeps its issue time while it runs, so
its iterations cannot be compared relative to the issue time as §4.6 does: one element
starts a cycle after its neighbour. Its regions are the locations *and unit instances*
that the body's operands and templates cover, grouped by what the loop's index moves
them by; two boundaries match when every location and instance one iteration covers
holds, relative to a floor, what the one a step back held relative to the floor before,
the floors `shift` cycles apart. Only what the loop touches is compared: it reads and
changes nothing else (no bundle, no queue).

Each region is a row of `regions` (int64[n, REGION_COLUMNS]): its first and end location
(or instance) over iteration 0, the step per iteration, its space's bounds, its kind and
where its per-offset flags start in `flags` (TOUCHED: some operand or template covers the
offset; WRITTEN: a write or mark does, or an instruction runs there).
"""

from __future__ import annotations

import numpy as np
from numba import njit

from analyzer.engine.layout import BLOCK, LOOP_BEGIN, NEVER, RUN_SHIFT
from analyzer.engine.runs import _remark_chunk
from analyzer.engine.template_row import (
    T_BUNDLE_START,
    T_INSTANCE_OFFSET,
    T_ISSUE_QUEUE,
    T_MARKS_END,
    T_OPERANDS_FIRST,
    T_QUEUE,
    T_READS_END,
    T_UNIT,
)
from analyzer.engine.translated import REGION_HI, REGION_LO, REGION_STEP, _span

# The first three columns are §4.6's (signatures._span reads them).
LO, HI, STEP = REGION_LO, REGION_HI, REGION_STEP
SPACE_LO, SPACE_HI, KIND, FLAGS_AT = 3, 4, 5, 6
REGION_COLUMNS = 7
LOCATIONS, UNITS = 0, 1
TOUCHED, WRITTEN = 1, 2
MAX_WAVE_REGIONS = 16
_FOOTPRINT_COLUMNS = 7  # kind, space lo, space hi, step, lo, hi, written


@njit
def _footprints(layer, program, begin, index, out):
    """What iteration 0 of the loop at op `begin` covers, one row per operand and per
    template's unit instance below it (kind, space bounds, step, [lo, hi) with inner
    loops' spans, written); with `out` too small, only counted. Returns the count, or -1
    when the body opens a bundle or takes a queue (its issue time or queues would
    change: §4.6's comparison covers those)."""
    depth = layer.depth[begin]
    inner_trips = np.ones(index.shape[0], dtype=np.int64)
    templates = program.templates
    count = 0
    pc = begin + 1
    while pc < layer.jump[begin]:
        kind = layer.kind[pc]
        if kind == LOOP_BEGIN:
            if layer.arg[pc] == 0:  # never runs: its operands are never met
                pc = layer.jump[pc] + 1
                continue
            inner_trips[layer.depth[pc]] = layer.arg[pc]
        elif kind == BLOCK:
            block_depth = layer.depth[pc]
            for i in range(layer.arg[pc], layer.arg2[pc]):
                if (
                    templates[i, T_BUNDLE_START]
                    or templates[i, T_QUEUE] >= 0
                    or templates[i, T_ISSUE_QUEUE] >= 0
                ):
                    return -1
                # The template's unit instance, then its operands (a = -1: the instance).
                for a in range(templates[i, T_OPERANDS_FIRST] - 1, templates[i, T_MARKS_END]):
                    if a < templates[i, T_OPERANDS_FIRST]:
                        coefs = program.offset_coefs[templates[i, T_INSTANCE_OFFSET]]
                        address = templates[i, T_UNIT]
                        low, high = 0, 1
                        region_kind, space_lo, space_hi = UNITS, 0, program.n_units
                        written = True
                    else:
                        coefs = program.offset_coefs[program.operand_offset[a]]
                        address = program.operand_location[a]
                        low, high = 0, program.operand_count[a]
                        region_kind = LOCATIONS
                        space_lo = program.operand_space_lo[a]
                        space_hi = program.operand_space_hi[a]
                        written = a >= templates[i, T_READS_END]  # writes and marks
                    step = 0
                    for d in range(block_depth + 1):
                        c = coefs[d]
                        if d < depth:
                            address += c * index[d]
                        elif d == depth:
                            step = c
                        else:
                            span = c * (inner_trips[d] - 1)
                            if span < 0:
                                low += span
                            else:
                                high += span
                    if count < out.shape[0]:
                        out[count, 0] = region_kind
                        out[count, 1] = space_lo
                        out[count, 2] = space_hi
                        out[count, 3] = step
                        out[count, 4] = address + low
                        out[count, 5] = address + high
                        out[count, 6] = written
                    count += 1
        pc += 1
    return count


@njit(cache=True, inline="always")
def _spans_overlap(a_lo, a_hi, b_lo, b_hi, step, trips):
    """Whether two windows moving by `step` ever cover a common location."""
    reach = step * (trips - 1)
    return a_lo + min(0, reach) < b_hi + max(0, reach) and b_lo + min(0, reach) < a_hi + max(
        0, reach
    )


@njit
def _wavefront_regions(layer, program, begin, index, regions, flags):
    """Fill `regions` and `flags` for the loop at op `begin` as the enclosing indices
    place it; return how many regions, or -1 when the loop cannot take wavefront periods
    (a bundle or queue below, more than MAX_WAVE_REGIONS, regions of one space moving by
    different steps that meet, or more flags than `flags` holds)."""
    n_footprints = _footprints(layer, program, begin, index, np.zeros((0, 7), np.int64))
    if n_footprints < 0:
        return -1
    footprints = np.zeros((n_footprints, _FOOTPRINT_COLUMNS), dtype=np.int64)
    _footprints(layer, program, begin, index, footprints)
    trips = layer.arg[begin]
    # Footprints of one kind, space and step whose windows ever share a location are one
    # region (what one iteration leaves there, a later one finds): merged until none meet.
    owner = np.arange(n_footprints)
    changed = True
    while changed:
        changed = False
        for f in range(n_footprints):
            for g in range(f + 1, n_footprints):
                if owner[f] == owner[g]:
                    continue
                same = True
                for col in range(4):
                    if footprints[f, col] != footprints[g, col]:
                        same = False
                if not same:
                    continue
                # Compare the hulls of the groups f and g belong to.
                f_lo, f_hi = _group_hull(footprints, owner, owner[f])
                g_lo, g_hi = _group_hull(footprints, owner, owner[g])
                if _spans_overlap(f_lo, f_hi, g_lo, g_hi, footprints[f, 3], trips):
                    old = owner[g]
                    for h in range(n_footprints):
                        if owner[h] == old:
                            owner[h] = owner[f]
                    changed = True
    n = 0
    flags_used = 0
    for f in range(n_footprints):
        if owner[f] != f:
            continue
        if n == regions.shape[0]:
            return -1
        lo, hi = _group_hull(footprints, owner, f)
        regions[n, LO] = lo
        regions[n, HI] = hi
        regions[n, STEP] = footprints[f, 3]
        regions[n, SPACE_LO] = footprints[f, 1]
        regions[n, SPACE_HI] = footprints[f, 2]
        regions[n, KIND] = footprints[f, 0]
        regions[n, FLAGS_AT] = flags_used
        if flags_used + hi - lo > flags.shape[0]:
            return -1
        flags[flags_used : flags_used + hi - lo] = 0
        for g in range(n_footprints):
            if owner[g] == f:
                mark = TOUCHED | (WRITTEN if footprints[g, 6] else 0)
                for k in range(footprints[g, 4] - lo, footprints[g, 5] - lo):
                    flags[flags_used + k] |= mark
        flags_used += hi - lo
        n += 1
    for r in range(n):
        start, end = _span(regions[r], 0, trips - 1)
        if start < regions[r, SPACE_LO] or end > regions[r, SPACE_HI]:
            return -1
        for s in range(r + 1, n):
            if regions[s, KIND] != regions[r, KIND] or regions[s, SPACE_LO] != regions[r, SPACE_LO]:
                continue
            other_start, other_end = _span(regions[s], 0, trips - 1)
            if start < other_end and other_start < end:
                return -1
    return n


# What a region adds to a wavefront period's cost besides its locations, in the items of
# docs/design.md §4.6's "Cost": its spans and loop bounds, per period checked and restored.
# An estimate, not measured; what the gate decides is not fine-tuned by it: with every
# period's items counted at half, Plasticine's loops decide as in full, and at a quarter
# every loop takes wavefront periods again (docs/benchmarks.md §4.2).
REGION_ITEMS = 4


@njit(cache=True)
def _wavefront_period_items(regions, n):
    """What one period of a skip costs, in items: per region that moves, the locations
    (instances) a period reaches first, checked, and its window, restored, two times
    each (an instance's one), and REGION_ITEMS. A region that does not move is neither
    checked per period nor restored but once (_wavefront_periods, _wavefront_restore)."""
    items = 0
    for r in range(n):
        if regions[r, STEP] == 0:
            continue
        times = 1 if regions[r, KIND] == UNITS else 2
        items += (regions[r, HI] - regions[r, LO] + abs(regions[r, STEP])) * times
        items += REGION_ITEMS
    return items


@njit(cache=True, inline="always")
def _group_hull(footprints, owner, group):
    lo = np.int64(1) << 62
    hi = -lo
    for g in range(footprints.shape[0]):
        if owner[g] == group:
            lo = min(lo, footprints[g, 4])
            hi = max(hi, footprints[g, 5])
    return lo, hi


@njit(cache=True)
def _wavefront_record(record, kept_at, state, regions, n, flags, i):
    """Keep, raw, what iteration i of each region covers: a location's write and
    read-until times, an instance's free time; kept_at[r] is where region r starts."""
    unit_free, write_end, read_until, _, _, _, _, _, _, _ = state
    pos = 0
    for r in range(n):
        start, end = _span(regions[r], i, i)
        kept_at[r] = pos
        for y in range(start, end):
            if regions[r, KIND] == UNITS:
                record[pos] = unit_free[y]
                pos += 1
            else:
                record[pos] = write_end[y]
                record[pos + 1] = read_until[y]
                pos += 2


@njit(cache=True, inline="always")
def _clamped(v, floor):
    return (v if v > floor else floor) - floor


@njit(cache=True)
def _wavefront_match(record, kept_at, state, regions, n, i, then, now, min_latency):
    """Whether every offset of iteration i - 1's windows held at boundary i - 1 (kept in
    `record`), clamped at floor `then`, what the same offset of iteration i holds now,
    clamped at floor `now` (read-until times at the floors plus min_latency). Offsets
    the iteration itself leaves alone count too: another iteration may meet them."""
    unit_free, write_end, read_until, _, _, _, _, _, _, _ = state
    for r in range(n):
        start, end = _span(regions[r], i - 1, i - 1)
        step = regions[r, STEP]
        pos = kept_at[r]
        for y in range(start, end):
            if regions[r, KIND] == UNITS:
                if _clamped(record[pos], then) != _clamped(unit_free[y + step], now):
                    return False
                pos += 1
            else:
                if _clamped(record[pos], then) != _clamped(write_end[y + step], now):
                    return False
                read_then = _clamped(record[pos + 1], then + min_latency)
                if read_then != _clamped(read_until[y + step], now + min_latency):
                    return False
                pos += 2
    return True


@njit(cache=True)
def _wavefront_periods(state, regions, n, i, base, shift, periods, min_latency):
    """How many of `periods` one-iteration periods from boundary i (floor `base`, each
    `shift` later) repeat the one before (at least 1): period q + 1 does if every location
    (or instance) its windows reach first (no earlier period's did) holds what the one a
    step back held, clamped at the floors the two periods start with."""
    unit_free, write_end, read_until, _, _, _, _, _, _, _ = state
    for q in range(periods - 1):
        floor = base + q * shift
        later = floor + shift
        for r in range(n):
            step = regions[r, STEP]
            if step == 0:
                continue
            start, end = _span(regions[r], i + q, i + q)
            before_start, before_end = _span(regions[r], i + q - 1, i + q - 1)
            if step > 0:
                start = max(start, before_end)
            else:
                end = min(end, before_start)
            for y in range(start, end):
                if regions[r, KIND] == UNITS:
                    if _clamped(unit_free[y], floor) != _clamped(unit_free[y + step], later):
                        return q + 1
                elif _clamped(write_end[y], floor) != _clamped(
                    write_end[y + step], later
                ) or _clamped(read_until[y], floor + min_latency) != _clamped(
                    read_until[y + step], later + min_latency
                ):
                    return q + 1
    return periods


@njit(cache=True)
def _wavefront_restore(state, scratch, regions, n, flags, i, shift, periods):
    """The state after `periods` periods from boundary i: every offset a period touches
    takes what the same offset of iteration i - 1 holds now, plus (q + 1) x shift for
    period q, the last period touching it deciding; a location's write time only where
    the period writes it (a location it only reads keeps its own). Nothing else moves."""
    unit_free, write_end, read_until, _, _, _, _, _, _, run_start = state
    for r in range(n):
        known_start, known_end = _span(regions[r], i - 1, i - 1)
        units = regions[r, KIND] == UNITS
        for x in range(known_end - known_start):
            if units:
                scratch[2 * x] = unit_free[known_start + x]
            else:
                scratch[2 * x] = write_end[known_start + x]
                scratch[2 * x + 1] = read_until[known_start + x]
        step = regions[r, STEP]
        at = regions[r, FLAGS_AT]
        first_q = periods - 1 if step == 0 else 0  # a fixed window: the last period decides
        for q in range(first_q, periods):
            start, end = _span(regions[r], i + q, i + q)
            add = (q + 1) * shift
            for z in range(start, end):
                k = z - start
                flag = flags[at + k]
                if flag == 0:
                    continue
                if units:
                    unit_free[z] = scratch[2 * k] + add
                    continue
                if flag & WRITTEN:
                    write_end[z] = scratch[2 * k] + add
                v = scratch[2 * k + 1]
                read_until[z] = v + add if v > NEVER else NEVER
        if run_start.shape[0] > 0 and not units:  # the runs of the locations written
            start, end = _span(regions[r], i + first_q, i + periods - 1)
            for c in range(start >> RUN_SHIFT, ((end - 1) >> RUN_SHIFT) + 1):
                _remark_chunk(run_start, write_end, read_until, c)
