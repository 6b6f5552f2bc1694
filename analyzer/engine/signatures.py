"""Numba kernels for fast mode's state signatures (docs/design.md §4.3-§4.6).

A signature is the evaluation state relative to the last issue time T, every time clamped
at the earliest value a future instruction can still observe. `_signature` and `_restore`
take the whole state (loops whose bodies do not depend on their index, and the loop memo);
the `_translated_*` kernels take the machine (units, front end, queues) and windows of
locations that move with a loop's index, for loops whose addresses are affine in it
(docs/design.md §4.6 gives the condition under which their skips are exact and why).

The state is the tuple evaluate_layer keeps (analyzer/engine/kernels.py): unit free times,
write times, read-until times, the issue ring, the window ring, the queues' entries, and
the chunks' floors, maxima and read bounds (no location of the chunk has a later
read-until time), and the chunks' run starts (`_run_end`).

A whole-state signature is stored sparsely (docs/design.md §4.3): the machine's items,
then each signature chunk of 2^SIG_CHUNK_SHIFT locations with an item above its clamp, as
its index and its locations' two items; the buffer's last item holds how many are used.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from analyzer.engine.template_row import COLUMN

# The op list's kinds (analyzer/engine/packing.py, pack_layer; the kernels' interpreter).
LOOP_BEGIN, BLOCK, LOOP_END = 0, 1, 2
T_OPERANDS_FIRST = COLUMN["operands_first"]
T_INSTANCE_OFFSET = COLUMN["instance_offset"]
T_MARKS_END = COLUMN["marks_end"]

NEVER = -(1 << 60)  # "no reader since the last write": smaller than any real time
# A whole-state signature keeps locations in chunks of this many (a power of two), only
# the chunks with an item above its clamp (_signature). It equals the state's chunks
# (packing.CHUNK_SHIFT) so a chunk's maximum write time can pass over a chunk.
SIG_CHUNK_SHIFT = 6
_FNV_PRIME = np.uint64(1099511628211)
_FNV_OFFSET = np.uint64(14695981039346656037)


# The front ends' state (evaluate_layer keeps it in `frontend`, int64[n_frontends,
# FRONTEND_COLUMNS], the one issuing now also in locals, written back before a signature):
# the issue time of its last bundle, where its issue ring and window ring start, whether a
# bundle of it has opened and the latest start in its open one; then its constants:
# bundles per cycle, window, delay, and where its rings lie in the shared ring arrays.
(FE_ISSUE, FE_ISSUE_HEAD, FE_WINDOW_HEAD, FE_OPEN, FE_MAX_START) = range(5)
(FE_WIDTH, FE_WINDOW, FE_DELAY, FE_RING_FIRST, FE_WINDOW_FIRST) = range(5, 10)
FRONTEND_COLUMNS = 10
# A signature's items per front end besides its rings: issue time, open flag, latest start.
FRONTEND_ITEMS = 3


@njit(cache=True)
def _issue_floor(frontend, active, live):
    """T: the earliest issue time of the front ends that may still issue (bit f of
    `live`: f may open a bundle; `active`: its open bundle may take more instructions),
    below which no future instruction issues (each at or after its own front end's)."""
    floor = frontend[active, FE_ISSUE]
    for f in range(frontend.shape[0]):
        if (live >> f) & 1:
            floor = min(floor, frontend[f, FE_ISSUE])
    return floor


@njit(cache=True)
def _machine_signature(sig, base, state, frontend, active, live, max_end, queue_first, queue_head):
    """Write the machine's items (units, front ends, queues), clamped and minus `base`, at
    the start of `sig`; return how many. A front end's ring entries are clamped at its own
    issue time (minus one for the issue ring): it issues no earlier, so lower ones are
    never seen. A front end that issues no more (neither `active` nor in `live`) has
    zeros: nothing will read it."""
    unit_free, _, _, issue_ring, window_ring, queue_ring, _, _, _, _ = state
    pos = 0
    for u in range(unit_free.shape[0]):
        v = unit_free[u]
        sig[pos] = (v if v > base else base) - base
        pos += 1
    sig[pos] = active
    sig[pos + 1] = live
    pos += 2
    for f in range(frontend.shape[0]):
        if f != active and not (live >> f) & 1:
            size = FRONTEND_ITEMS + frontend[f, FE_WIDTH] + frontend[f, FE_WINDOW]
            sig[pos : pos + size] = 0
            pos += size
            continue
        own = frontend[f, FE_ISSUE]
        sig[pos] = own - base
        sig[pos + 1] = frontend[f, FE_OPEN]
        v = frontend[f, FE_MAX_START]
        sig[pos + 2] = (v if v > own else own) - base
        pos += FRONTEND_ITEMS
        width, first = frontend[f, FE_WIDTH], frontend[f, FE_RING_FIRST]
        head = frontend[f, FE_ISSUE_HEAD]
        for k in range(width):
            v = issue_ring[first + (head + k) % width]
            sig[pos] = (v if v > own - 1 else own - 1) - base
            pos += 1
        window, first = frontend[f, FE_WINDOW], frontend[f, FE_WINDOW_FIRST]
        head = frontend[f, FE_WINDOW_HEAD]
        for k in range(window):
            v = window_ring[first + (head + k) % window]
            sig[pos] = (v if v > own else own) - base
            pos += 1
    sig[pos] = (max_end if max_end > base else base) - base
    pos += 1
    for q in range(queue_head.shape[0]):
        size = queue_first[q + 1] - queue_first[q]
        for k in range(size):
            v = queue_ring[queue_first[q] + (queue_head[q] + k) % size]
            sig[pos] = (v if v > base else base) - base
            pos += 1
    return pos


@njit(cache=True)
def _restore_machine(sig, base, state, frontend, queue_first, queue_head):
    """Write the machine's items of a signature back as absolute times with origin `base`
    (the state of the front ends that may issue included); return (the front end
    issuing, the latest end)."""
    unit_free, _, _, issue_ring, window_ring, queue_ring, _, _, _, _ = state
    pos = 0
    for u in range(unit_free.shape[0]):
        unit_free[u] = sig[pos] + base
        pos += 1
    active, live = sig[pos], sig[pos + 1]
    pos += 2
    for f in range(frontend.shape[0]):
        if f != active and not (live >> f) & 1:
            pos += FRONTEND_ITEMS + frontend[f, FE_WIDTH] + frontend[f, FE_WINDOW]
            continue
        frontend[f, FE_ISSUE] = sig[pos] + base
        frontend[f, FE_OPEN] = sig[pos + 1]
        frontend[f, FE_MAX_START] = sig[pos + 2] + base
        pos += FRONTEND_ITEMS
        width, first = frontend[f, FE_WIDTH], frontend[f, FE_RING_FIRST]
        head = frontend[f, FE_ISSUE_HEAD]
        for k in range(width):
            issue_ring[first + (head + k) % width] = sig[pos] + base
            pos += 1
        window, first = frontend[f, FE_WINDOW], frontend[f, FE_WINDOW_FIRST]
        head = frontend[f, FE_WINDOW_HEAD]
        for k in range(window):
            window_ring[first + (head + k) % window] = sig[pos] + base
            pos += 1
    result = (active, sig[pos] + base)
    pos += 1
    for q in range(queue_head.shape[0]):
        size = queue_first[q + 1] - queue_first[q]
        for k in range(size):
            queue_ring[queue_first[q] + (queue_head[q] + k) % size] = sig[pos] + base
            pos += 1
    return result


@njit(cache=True, inline="always")
def _hash_items(h, sig, first, last):
    for item in range(first, last):
        h = (h ^ np.uint64(sig[item] & 0xFFFFFFFFFFFF)) * _FNV_PRIME
    return h


# Runs (docs/design.md §3.7): bit x mod 64 of run_start[x >> 6] is set wherever location x
# may hold other times than location x - 1 (its write time, its chunk's floor folded in,
# or its read-until time); a clear bit promises equal ones, so the translated kernels below
# read one location per run. Every word starts a run of its own (a chunk's floor is its
# own), so its bit 0 means nothing. A state that keeps no runs (ProgramArrays.keeps_runs,
# full mode) has no words: each location is a run.
RUN_SHIFT = SIG_CHUNK_SHIFT  # a word per chunk: the state's chunks are 64 locations wide


_LOW_BITS = tuple(np.uint64((1 << width) - 1) for width in (32, 16, 8, 4, 2, 1))


@njit(cache=True, inline="always")
def _trailing_zeros(word):
    """How many low bits of a nonzero uint64 word are clear (a binary search: Numba's
    intrinsic for it has no pure-Python form, which the Python-mode checks need)."""
    n = 0
    width = 32
    for mask in _LOW_BITS:
        if word & mask == 0:
            n += width
            word >>= np.uint64(width)
        width >>= 1
    return n


@njit(cache=True, inline="always")
def _run_end(run_start, x, end):
    """The end of the run that holds location x, at most `end`: locations x up to it hold
    x's times."""
    if run_start.shape[0] == 0:
        return x + 1
    limit = ((x >> RUN_SHIFT) + 1) << RUN_SHIFT
    if end < limit:
        limit = end
    bit = x & 63
    if bit == 63:
        return limit
    later = run_start[x >> RUN_SHIFT] >> np.uint64(bit + 1)
    if later == 0:
        return limit
    y = x + 1 + _trailing_zeros(later)
    return y if y < limit else limit


@njit(cache=True, inline="always")
def _bits(first, last):
    """The bits first..last - 1 of a run_start word (0 <= first < last <= 64)."""
    if last - first == 64:
        return ~np.uint64(0)
    return ((np.uint64(1) << np.uint64(last - first)) - np.uint64(1)) << np.uint64(first)


@njit(cache=True, inline="always")
def _mark_runs(run_start, lo, hi, n_locations, uniform):
    """After [lo, hi) was updated by one time (a write, a mark or a read): runs may start at
    lo and at hi; with `uniform` (every location of the range now holds the same times),
    none starts inside it."""
    if uniform:
        for w in range(lo >> RUN_SHIFT, ((hi - 1) >> RUN_SHIFT) + 1):
            first = max(lo + 1, w << RUN_SHIFT) - (w << RUN_SHIFT)
            last = min(hi, (w + 1) << RUN_SHIFT) - (w << RUN_SHIFT)
            if first < last:
                run_start[w] &= ~_bits(first, last)
    run_start[lo >> RUN_SHIFT] |= np.uint64(1) << np.uint64(lo & 63)
    if hi < n_locations:
        run_start[hi >> RUN_SHIFT] |= np.uint64(1) << np.uint64(hi & 63)


@njit(cache=True, inline="always")
def _remark_chunk(run_start, write_end, read_until, c):
    """Chunk c's run starts, from its locations' times (after a restore wrote them)."""
    lo = c << RUN_SHIFT
    word = np.uint64(0)
    for x in range(lo + 1, min(lo + 64, write_end.shape[0])):
        if write_end[x] != write_end[x - 1] or read_until[x] != read_until[x - 1]:
            word |= np.uint64(1) << np.uint64(x - lo)
    run_start[c] = word


@njit(cache=True, inline="always")
def _write_time(write_end, chunk_floor, chunk_shift, location):
    """A location's write time: its own or its chunk's floor, whichever is later."""
    return max(write_end[location], chunk_floor[location >> chunk_shift] if chunk_shift else NEVER)


@njit(cache=True)
def _signature(
    sig,
    base,
    state,
    min_latency,
    frontend,
    active,
    live,
    max_end,
    queue_first,
    queue_head,
    chunk_shift,
):
    """Fill `sig` with the clamped state minus `base` in the sparse layout of the module
    docstring: the machine, then each signature chunk holding a location whose write time
    (its chunk's floor folded in) or read-until time is above its clamp, as its index and
    two items per location; its length in the last item. Return its hash.

    Whether a chunk is kept depends on its items alone, so two signatures are equal if and
    only if the dense ones (every location's two items) are: a chunk left out holds
    (0, min_latency) at every location."""
    _, write_end, read_until, _, _, _, chunk_floor, chunk_max, chunk_read, _ = state
    machine = (frontend, active, live, max_end, queue_first, queue_head)
    pos = _machine_signature(sig, base, state, *machine)
    floor_read = base + min_latency
    n_locations = write_end.shape[0]
    # With chunks of the signature's size, the chunk's maximum write time and read bound
    # say whether any item can be above its clamp (docs/design.md §3.7: no location is
    # later), without reading its locations.
    by_bounds = chunk_shift == SIG_CHUNK_SHIFT
    for c in range(_signature_chunks(n_locations)):
        lo = c << SIG_CHUNK_SHIFT
        hi = min(lo + (1 << SIG_CHUNK_SHIFT), n_locations)
        if by_bounds and chunk_max[c] <= base and chunk_read[c] <= floor_read:
            continue  # every item clamped
        start = pos
        sig[pos] = c
        pos += 1
        kept = False
        for x in range(lo, hi):
            v = write_end[x]
            if chunk_shift > 0 and chunk_floor[x >> chunk_shift] > v:
                v = chunk_floor[x >> chunk_shift]
            written = (v if v > base else base) - base
            v = read_until[x]
            read = (v if v > floor_read else floor_read) - base
            sig[pos] = written
            sig[pos + 1] = read
            pos += 2
            kept |= (written != 0) | (read != min_latency)
        if not kept:
            pos = start
    sig[sig.shape[0] - 1] = pos
    return _hash_signature(sig, pos)


@njit(cache=True, inline="always")
def _signature_chunks(n_locations):
    """How many signature chunks `n_locations` locations make (the last may be short)."""
    return (n_locations + (1 << SIG_CHUNK_SHIFT) - 1) >> SIG_CHUNK_SHIFT


@njit(cache=True, inline="always")
def _signature_used(sig):
    """How many items of `sig` its sparse layout uses (its last item says)."""
    return sig[sig.shape[0] - 1]


@njit(cache=True)
def _hash_signature(sig, n):
    """FNV-1a over four interleaved lanes of sig[:n], combined at the end. One lane is a
    chain of dependent multiplies (a dense signature of Gemmini's 73,807 items took about
    0.1 ms of its 0.14 ms there); four run side by side. Equal signatures hash equal,
    which is all a hash is trusted for: a match is always confirmed item by item
    (_equal)."""
    h0 = h1 = h2 = h3 = _FNV_OFFSET
    whole = n - n % 4
    for k in range(0, whole, 4):
        h0 = (h0 ^ np.uint64(sig[k] & 0xFFFFFFFFFFFF)) * _FNV_PRIME
        h1 = (h1 ^ np.uint64(sig[k + 1] & 0xFFFFFFFFFFFF)) * _FNV_PRIME
        h2 = (h2 ^ np.uint64(sig[k + 2] & 0xFFFFFFFFFFFF)) * _FNV_PRIME
        h3 = (h3 ^ np.uint64(sig[k + 3] & 0xFFFFFFFFFFFF)) * _FNV_PRIME
    for k in range(whole, n):
        h0 = (h0 ^ np.uint64(sig[k] & 0xFFFFFFFFFFFF)) * _FNV_PRIME
    return (((h0 * _FNV_PRIME) ^ h1) * _FNV_PRIME ^ h2) * _FNV_PRIME ^ h3


@njit(cache=True)
def _restore(sig, base, state, frontend, queue_first, queue_head, chunk_shift):
    """Write a `_signature` back as absolute times with origin `base`; return (the front
    end issuing, the latest end). Only the chunks it keeps are written (their floors folded
    into their locations, so they start over); every other location keeps its times.

    That is exact only on the path to the signature: the state now is one whose evolution
    reaches the signature's state (a skip restores the state it has just signed, moved
    ahead; the memo an exit from an entry equal to now). A location of a chunk left out
    then holds nothing above the signature's clamps now either (docs/design.md §4.5: write
    times only rise, and a write that clears a read ends after it), so keeping its times is
    as good as setting its clamps."""
    _, write_end, read_until, _, _, _, floor, top, reads, run_start = state
    result = _restore_machine(sig, base, state, frontend, queue_first, queue_head)
    n_locations = write_end.shape[0]
    # The machine's items come first, as many as the widest layout leaves room for.
    pos = sig.shape[0] - 1 - _signature_chunks(n_locations) - 2 * n_locations
    used = _signature_used(sig)
    while pos < used:
        c = sig[pos]
        lo = c << SIG_CHUNK_SHIFT
        pos += 1
        latest_write = NEVER
        latest_read = NEVER
        for x in range(lo, min(lo + (1 << SIG_CHUNK_SHIFT), n_locations)):
            write_end[x] = sig[pos] + base
            read_until[x] = sig[pos + 1] + base
            latest_write = max(latest_write, write_end[x])
            latest_read = max(latest_read, read_until[x])
            pos += 2
        if chunk_shift > 0:  # the state's chunks are the signature's (packing.py)
            floor[c] = NEVER
            top[c] = latest_write
            reads[c] = latest_read
        if run_start.shape[0] > 0:
            _remark_chunk(run_start, write_end, read_until, c)
    return result


@njit(cache=True)
def _equal(a, b):
    """Full comparison of two signatures (a hash match alone never decides): the items
    their sparse layouts use."""
    n = _signature_used(a)
    if _signature_used(b) != n:
        return False
    for k in range(n):
        if a[k] != b[k]:
            return False
    return True


@njit(cache=True)
def _copy_signature(target, sig):
    """Copy the items `sig` uses, and its length, into `target` (a row of equal width,
    possibly of a narrower item type: the caller checked the range)."""
    n = _signature_used(sig)
    for k in range(n):
        target[k] = sig[k]
    target[target.shape[0] - 1] = n


# ------------------------------------------------------------- translated periods
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


# Locations at each end of a region's window that _translated_hash reads: a hash only
# filters (_translated_match decides), so a few suffice and it costs little.
HASHED_ENDS = 4


@njit(cache=True)
def _translated_hash(sig, n_machine, state, base, min_latency, chunk_shift, regions, n, i):
    """Hash of the machine's items (sig[:n_machine]) and of up to HASHED_ENDS locations at
    each end of what iteration i covers, clamped and minus `base`: equal at two
    boundaries whenever their states match (`_translated_match`)."""
    _, write_end, read_until, _, _, _, chunk_floor, _, _, run_start = state
    h = _hash_items(_FNV_OFFSET, sig, 0, n_machine)
    read_floor = base + min_latency
    for r in range(n):
        start, end = _span(regions[r], i, i)
        for k in range(min(end - start, 2 * HASHED_ENDS)):
            # The first HASHED_ENDS locations, then the last (fewer when they meet).
            y = start + k if k < HASHED_ENDS else max(start + k, end - 2 * HASHED_ENDS + k)
            v = _write_time(write_end, chunk_floor, chunk_shift, y)
            h = (h ^ np.uint64(((v if v > base else base) - base) & 0xFFFFFFFFFFFF)) * _FNV_PRIME
            v = read_until[y]
            v = (v if v > read_floor else read_floor) - base
            h = (h ^ np.uint64(v & 0xFFFFFFFFFFFF)) * _FNV_PRIME
    return h


@njit(cache=True, inline="always")
def _clamped_times(write_end, read_until, chunk_floor, chunk_shift, x, base, read_floor):
    """Location x's write and read-until times, clamped (at base and read_floor), minus base."""
    v = _write_time(write_end, chunk_floor, chunk_shift, x)
    w = read_until[x]
    return (v if v > base else base) - base, (w if w > read_floor else read_floor) - base


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


@njit(cache=True, inline="always")
def _save_frontend(frontend, f, issue, issue_head, window_head, bundle_open, bundle_max_start):
    """Write front end f's state, kept in evaluate_layer's locals while it issues, back."""
    frontend[f, FE_ISSUE] = issue
    frontend[f, FE_ISSUE_HEAD] = issue_head
    frontend[f, FE_WINDOW_HEAD] = window_head
    frontend[f, FE_OPEN] = 1 if bundle_open else 0
    frontend[f, FE_MAX_START] = bundle_max_start


@njit(cache=True, inline="always")
def _load_frontend(frontend, f):
    """Front end f's state and constants for evaluate_layer's locals: (issue, issue head,
    window head, open, latest start, width, window, delay, issue ring's first entry,
    window ring's first entry)."""
    return (
        frontend[f, FE_ISSUE],
        frontend[f, FE_ISSUE_HEAD],
        frontend[f, FE_WINDOW_HEAD],
        frontend[f, FE_OPEN] != 0,
        frontend[f, FE_MAX_START],
        frontend[f, FE_WIDTH],
        frontend[f, FE_WINDOW],
        frontend[f, FE_DELAY],
        frontend[f, FE_RING_FIRST],
        frontend[f, FE_WINDOW_FIRST],
    )


@njit(cache=True)
def _frontend_table(frontends):
    """evaluate_layer's `frontend` array for an idle machine, from ProgramArrays.frontends
    (bundles per cycle, window, delay per front end): rings back to back."""
    table = np.zeros((frontends.shape[0], FRONTEND_COLUMNS), dtype=np.int64)
    ring, window = 0, 0
    for f in range(frontends.shape[0]):
        table[f, FE_WIDTH] = frontends[f, 0]
        table[f, FE_WINDOW] = frontends[f, 1]
        table[f, FE_DELAY] = frontends[f, 2]
        table[f, FE_RING_FIRST] = ring
        table[f, FE_WINDOW_FIRST] = window
        ring += frontends[f, 0]
        window += frontends[f, 1]
    return table


@njit(cache=True)
def _idle_state(program, frontend, keep_runs):
    """evaluate_layer's state (the tuple of the module docstring) for an idle machine, and
    the queues' heads: returns (state, queue_head). `frontend`: _frontend_table's;
    `keep_runs`: whether the state holds runs (`_run_end`)."""
    n_units, n_locations, chunk_shift = program.n_units, program.n_locations, program.chunk_shift
    queue_first = program.queue_first
    unit_free = np.zeros(n_units, dtype=np.int64)
    write_end = np.zeros(n_locations, dtype=np.int64)
    read_until = np.full(n_locations, NEVER, dtype=np.int64)
    last = frontend.shape[0] - 1  # the rings lie back to back, in front-end order
    issue_ring = np.full(frontend[last, FE_RING_FIRST] + frontend[last, FE_WIDTH], -1, np.int64)
    window_ring = np.zeros(frontend[last, FE_WINDOW_FIRST] + frontend[last, FE_WINDOW], np.int64)
    queue_ring = np.zeros(queue_first[-1], dtype=np.int64)
    queue_head = np.zeros(queue_first.shape[0] - 1, dtype=np.int64)
    n_chunks = (n_locations >> chunk_shift) + 1 if chunk_shift > 0 else 1
    chunk_floor = np.full(n_chunks, NEVER, dtype=np.int64)
    chunk_max = np.zeros(n_chunks, dtype=np.int64)
    chunk_read = np.full(n_chunks, NEVER, dtype=np.int64)
    # Every location of an idle machine holds the same times: no run starts anywhere.
    run_start = np.zeros((n_locations >> RUN_SHIFT) + 1 if keep_runs else 0, dtype=np.uint64)
    state = (
        unit_free, write_end, read_until, issue_ring, window_ring, queue_ring, chunk_floor,
        chunk_max, chunk_read, run_start,
    )  # fmt: skip
    return state, queue_head


@njit(cache=True)
def _signature_length(state, frontend):
    """How many items a `_signature` of `state` has: the units, the active front end, the
    live set, each front end's FRONTEND_ITEMS and rings, the latest end, the queues'
    entries (_machine_signature), then two per location."""
    unit_free, write_end, _, issue_ring, window_ring, queue_ring, _, _, _, _ = state
    return (
        unit_free.shape[0]
        + 2 * write_end.shape[0]
        + issue_ring.shape[0]
        + window_ring.shape[0]
        + FRONTEND_ITEMS * frontend.shape[0]
        + 3
        + queue_ring.shape[0]
    )


@njit(cache=True)
def _signature_width(state, frontend):
    """The items a signature buffer holds: the dense length's (_signature_length), a
    chunk index per signature chunk (a state with every chunk above its clamps) and the
    length of the layout used, last."""
    n_locations = state[1].shape[0]
    return _signature_length(state, frontend) + _signature_chunks(n_locations) + 1
