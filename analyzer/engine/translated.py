"""Numba kernels for translated periods (docs/design.md §4.6): a loop whose addresses are
affine in its index compared and skipped relative to its iteration's locations, moved by
the step per iteration. The machine's items are signatures.py's; windows are read run by
run where the state keeps runs (analyzer/engine/runs.py)."""

from __future__ import annotations

import numpy as np
from numba import njit

from analyzer.engine.layout import BLOCK, LOOP_BEGIN, NEVER
from analyzer.engine.runs import _mark_runs, _run_end
from analyzer.engine.signatures import (
    _FNV_OFFSET,
    _FNV_PRIME,
    _hash_items,
    _write_time,
)
from analyzer.engine.template_row import T_INSTANCE_OFFSET, T_MARKS_END, T_OPERANDS_FIRST

# A loop whose addresses are affine in its index: its regions are the operands below it of
# one address space that its index moves by one step. Per loop execution `regions`,
# int64[n, 5], holds each region's first and end location over iteration 0, the step per
# iteration and the space's bounds. Iterations first..last of region r cover
# _span(regions[r], first, last).

REGION_LO, REGION_HI, REGION_STEP, REGION_SPACE_LO, REGION_SPACE_HI = 0, 1, 2, 3, 4
REGION_FIELDS = 5
MAX_REGIONS = 16  # a loop with more (space, step) pairs below it does not translate


@njit(cache=True, inline="always")
def _span(region, first, last):
    """[start, end) of the locations iterations first..last of `region` cover."""
    a = region[REGION_STEP] * first
    b = region[REGION_STEP] * last
    return region[REGION_LO] + min(a, b), region[REGION_HI] + max(a, b)


# Not cached on its own: it compiles in the template table's column numbers, which only
# evaluate_layer's cache key follows (analyzer/engine/kernels.py); it is compiled into
# evaluate_layer and cached there.
@njit
def _region_bounds(layer, program, begin, index, regions):
    """Fill `regions` for the loop whose LOOP_BEGIN is op `begin`, as the enclosing indices
    place it, from the operands of every block below it (an inner loop's index spans its
    trips); return how many, or -1 when there are more than MAX_REGIONS or two regions of
    one space can meet while it runs (their locations would move by different steps: no
    translation describes both), or when a unit instance below moves with the loop's index
    (the machine's items are compared in place, unit by unit)."""
    depth = layer.depth[begin]
    inner_trips = np.ones(index.shape[0], dtype=np.int64)
    n = 0
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
                if program.offset_coefs[program.templates[i, T_INSTANCE_OFFSET], depth] != 0:
                    return -1
            first = program.templates[layer.arg[pc], T_OPERANDS_FIRST]
            last = program.templates[layer.arg2[pc] - 1, T_MARKS_END]
            for a in range(first, last):
                address = program.operand_location[a]
                low = 0
                high = program.operand_count[a]
                step = 0
                for d in range(program.operand_affine[a]):
                    c = program.offset_coefs[program.operand_offset[a], d]
                    if d < depth:
                        address += c * index[d]
                    elif d == depth:
                        step = c
                    elif d <= block_depth:
                        span = c * (inner_trips[d] - 1)
                        if span < 0:
                            low += span
                        else:
                            high += span
                r = 0
                while r < n and (
                    regions[r, REGION_SPACE_LO] != program.operand_space_lo[a]
                    or regions[r, REGION_STEP] != step
                ):
                    r += 1
                if r == n:
                    if n == regions.shape[0]:
                        return -1
                    regions[r, REGION_LO] = address + low
                    regions[r, REGION_HI] = address + high
                    regions[r, REGION_STEP] = step
                    regions[r, REGION_SPACE_LO] = program.operand_space_lo[a]
                    regions[r, REGION_SPACE_HI] = program.operand_space_hi[a]
                    n += 1
                else:
                    regions[r, REGION_LO] = min(regions[r, REGION_LO], address + low)
                    regions[r, REGION_HI] = max(regions[r, REGION_HI], address + high)
        pc += 1
    trips = layer.arg[begin]
    for r in range(n):
        start, end = _span(regions[r], 0, trips - 1)
        for s in range(r + 1, n):
            if regions[s, REGION_SPACE_LO] != regions[r, REGION_SPACE_LO]:
                continue
            other_start, other_end = _span(regions[s], 0, trips - 1)
            if start < other_end and other_start < end:
                return -1
    return n


@njit(cache=True, inline="always")
def _clamped_times(write_end, read_until, chunk_floor, chunk_shift, x, base, read_floor):
    """Location x's write and read-until times, clamped (at base and read_floor), minus base."""
    v = _write_time(write_end, chunk_floor, chunk_shift, x)
    w = read_until[x]
    return (v if v > base else base) - base, (w if w > read_floor else read_floor) - base


# Locations at each end of a region's window that _translated_hash reads: a hash only
# filters (_translated_match decides), so a few suffice and it costs little.
HASHED_ENDS = 4


@njit(cache=True)
def _translated_hash(sig, n_machine, state, base, min_latency, chunk_shift, regions, n, i):
    """Hash of the machine's items (sig[:n_machine]) and of up to HASHED_ENDS locations at
    each end of what iteration i covers, clamped and minus `base`: equal at two
    boundaries whenever their states match (`_translated_match`)."""
    _, write_end, read_until, _, _, _, chunk_floor, _, _, _ = state
    h = _hash_items(_FNV_OFFSET, sig, 0, n_machine)
    read_floor = base + min_latency
    for r in range(n):
        start, end = _span(regions[r], i, i)
        for k in range(min(end - start, 2 * HASHED_ENDS)):
            # The first HASHED_ENDS locations, then the last (fewer when they meet).
            y = start + k if k < HASHED_ENDS else max(start + k, end - 2 * HASHED_ENDS + k)
            w, v = _clamped_times(
                write_end, read_until, chunk_floor, chunk_shift, y, base, read_floor
            )
            h = (h ^ np.uint64(w & 0xFFFFFFFFFFFF)) * _FNV_PRIME
            h = (h ^ np.uint64(v & 0xFFFFFFFFFFFF)) * _FNV_PRIME
    return h


# A translated record keeps a region's window as runs of locations with equal clamped
# times: a run of one location as its two items, a longer one as (-length, write, read).
# The items are at least 0, so the sign tells them apart; at most two items a location.


@njit(cache=True, inline="always")
def _put_run(record, pos, length, written, read):
    """Append a run to `record` at pos; return the position after it."""
    if length > 1:
        record[pos] = -length
        pos += 1
    record[pos] = written
    record[pos + 1] = read
    return pos + 2


@njit(cache=True, inline="always")
def _get_run(record, pos):
    """The run kept at pos: (length, write, read, position after it)."""
    if record[pos] < 0:
        return -record[pos], record[pos + 1], record[pos + 2], pos + 3
    return 1, record[pos], record[pos + 1], pos + 2


@njit(cache=True)
def _translated_record(
    record, offsets, sig, n_machine, state, base, min_latency, chunk_shift, regions, n, i
):
    """Keep the state at boundary i of a translating loop in `record`: the machine's items
    (already in sig[:n_machine]), then per region the locations iteration i covers, clamped
    and minus `base`, as runs (above); offsets[r] is where region r's first run is kept."""
    _, write_end, read_until, _, _, _, chunk_floor, _, _, run_start = state
    record[:n_machine] = sig[:n_machine]
    pos = n_machine
    read_floor = base + min_latency
    for r in range(n):
        start, end = _span(regions[r], i, i)
        offsets[r] = pos
        length, written, read = 0, 0, 0
        y = start
        while y < end:
            y_end = _run_end(run_start, y, end)
            w, v = _clamped_times(
                write_end, read_until, chunk_floor, chunk_shift, y, base, read_floor
            )
            if length > 0 and (w != written or v != read):
                pos = _put_run(record, pos, length, written, read)
                length = 0
            written, read = w, v
            length += y_end - y
            y = y_end
        if length > 0:
            pos = _put_run(record, pos, length, written, read)


@njit(cache=True)
def _translated_match(
    record, offsets, sig, n_machine, state, base, min_latency, chunk_shift, regions, n, i
):
    """Whether the state now (boundary i, issue time `base`, machine items in sig) equals
    the one kept at boundary i - 1 moved by one iteration: the machine's items, and every
    location iteration i - 1 covers against the location one step further on."""
    for k in range(n_machine):
        if record[k] != sig[k]:
            return False
    _, write_end, read_until, _, _, _, chunk_floor, _, _, run_start = state
    read_floor = base + min_latency
    for r in range(n):
        start, end = _span(regions[r], i - 1, i - 1)
        step = regions[r, REGION_STEP]
        pos = offsets[r]
        left, kept_written, kept_read = 0, 0, 0  # what remains of the kept run
        y = start + step
        while y < end + step:
            y_end = _run_end(run_start, y, end + step)
            w, v = _clamped_times(
                write_end, read_until, chunk_floor, chunk_shift, y, base, read_floor
            )
            length = y_end - y
            while length > 0:
                if left == 0:
                    left, kept_written, kept_read, pos = _get_run(record, pos)
                if kept_written != w or kept_read != v:
                    return False
                taken = min(left, length)
                left -= taken
                length -= taken
            y = y_end
    return True


@njit(cache=True)
def _translated_periods(state, base, shift, periods, p, min_latency, chunk_shift, regions, n, i):
    """How many of `periods` periods of p iterations from boundary i repeat the one before
    (at most `periods`, at least 1): period q + 1 does if every location it covers first
    (none before it did) holds, at its start, what the location one period back held at
    period q's start; both untouched until then, so both are read now, clamped at the
    issue times they will be met with (base + (q + 1) x shift, base + q x shift). Both
    sides are read run by run."""
    _, write_end, read_until, _, _, _, chunk_floor, _, _, run_start = state
    for q in range(periods - 1):
        now = base + q * shift
        later = now + shift
        for r in range(n):
            step = regions[r, REGION_STEP] * p
            if step == 0:
                continue
            start, end = _span(regions[r], i + q * p, i + q * p + p - 1)
            before_start, before_end = _span(regions[r], i + (q - 1) * p, i + q * p - 1)
            if step > 0:
                start = max(start, before_end)
            else:
                end = min(end, before_start)
            y = start
            while y < end:
                y_end = min(
                    _run_end(run_start, y, end),
                    _run_end(run_start, y + step, end + step) - step,
                )
                behind = _clamped_times(
                    write_end, read_until, chunk_floor, chunk_shift, y, now, now + min_latency
                )
                ahead = _clamped_times(
                    write_end, read_until, chunk_floor, chunk_shift, y + step, later,
                    later + min_latency,
                )  # fmt: skip
                if ahead[0] != behind[0] or ahead[1] != behind[1]:
                    return q + 1
                y = y_end
    return periods


@njit(cache=True)
def _translated_restore(state, scratch, shift, periods, p, chunk_shift, regions, n, i):
    """The locations after `periods` periods of p iterations from boundary i: a location
    the last of them to cover is period q holds what the location (q + 1) periods back
    holds now, plus (q + 1) x shift; every other location keeps its time. The window
    behind is copied run by run (scratch: per run its end, relative to the window's
    start, and its two times), so each run is filled, its run starts and its chunks'
    bounds set once."""
    _, write_end, read_until, _, _, _, floor, top, reads, run_start = state
    n_locations = write_end.shape[0]
    for r in range(n):
        step = regions[r, REGION_STEP] * p
        known_start, known_end = _span(regions[r], i - p, i - 1)
        union_start, union_end = _span(regions[r], i - p, i + periods * p - 1)
        if chunk_shift > 0:  # fold the floors of the chunks written below into locations
            for c in range(union_start >> chunk_shift, ((union_end - 1) >> chunk_shift) + 1):
                if floor[c] > NEVER:
                    for x in range(c << chunk_shift, (c + 1) << chunk_shift):
                        if x < n_locations and write_end[x] < floor[c]:
                            write_end[x] = floor[c]
                    floor[c] = NEVER
        runs = 0
        y = known_start
        while y < known_end:
            y_end = _run_end(run_start, y, known_end)
            if (
                runs > 0
                and write_end[y] == scratch[3 * runs - 2]
                and read_until[y] == scratch[3 * runs - 1]
            ):
                scratch[3 * runs - 3] = y_end - known_start  # the run before goes on
            else:
                scratch[3 * runs] = y_end - known_start
                scratch[3 * runs + 1] = write_end[y]
                scratch[3 * runs + 2] = read_until[y]
                runs += 1
            y = y_end
        for q in range(periods):
            start, end = _span(regions[r], i + q * p, i + q * p + p - 1)
            if q < periods - 1:
                if step == 0:
                    continue
                next_start, next_end = _span(regions[r], i + (q + 1) * p, i + (q + 2) * p - 1)
                if step > 0:
                    end = min(end, next_start)
                else:
                    start = max(start, next_end)
            back = (q + 1) * step
            add = (q + 1) * shift
            # Locations start..end - 1 copy known_start + x for x in [first, last).
            x, last = start - back - known_start, end - back - known_start
            k = 0
            while x < last:
                while scratch[3 * k] <= x:
                    k += 1
                x_end = min(scratch[3 * k], last)
                lo, hi = x + known_start + back, x_end + known_start + back
                written = scratch[3 * k + 1] + add
                read = scratch[3 * k + 2] + add
                for z in range(lo, hi):
                    write_end[z] = written
                    read_until[z] = read
                if run_start.shape[0] > 0:
                    _mark_runs(run_start, lo, hi, n_locations, True)
                if chunk_shift > 0:  # the chunks' bounds (§3.7): no location is later
                    for c in range(lo >> chunk_shift, ((hi - 1) >> chunk_shift) + 1):
                        top[c] = max(top[c], written)
                        reads[c] = max(reads[c], read)
                x = x_end
