"""Numba kernels for fast mode's state signatures (docs/design.md §4.3-§4.6).

A signature is the evaluation state relative to the last issue time T, every time clamped
at the earliest value a future instruction can still observe. `_signature` and `_restore`
take the whole state (loops whose bodies do not depend on their index, and the loop memo);
the machine's items (`_machine_signature`) are also what analyzer/engine/translated.py's
kernels compare, beside windows of locations that move with a loop's index.

The state is the tuple evaluate_layer keeps (analyzer/engine/kernels.py): unit free times,
write times, read-until times, the issue ring, the window ring, the queues' entries, and
the chunks' floors, maxima and read bounds (no location of the chunk has a later
read-until time), and the chunks' run starts (analyzer/engine/runs.py).

A whole-state signature is stored sparsely (docs/design.md §4.3): the machine's items,
then each signature chunk of 2^SIG_CHUNK_SHIFT locations with an item above its clamp, as
its index and its locations' two items; the buffer's last item holds how many are used.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from analyzer.engine.layout import FRONTEND_ITEMS, NEVER, RUN_SHIFT, SIG_CHUNK_SHIFT
from analyzer.engine.runs import _remark_chunk

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
