"""Numba helpers for runs of locations (docs/design.md §3.7): where, in evaluate_layer's
state, a run of locations with equal times may start, kept by the kernel and the restores
and read by the translated kernels (analyzer/engine/translated.py)."""

from __future__ import annotations

import numpy as np
from numba import njit

from analyzer.engine.layout import RUN_SHIFT

# Runs (docs/design.md §3.7): bit x mod 64 of run_start[x >> 6] is set wherever location x
# may hold other times than location x - 1 (its write time, its chunk's floor folded in,
# or its read-until time); a clear bit promises equal ones, so the translated kernels
# (analyzer/engine/translated.py) read one location per run. Every word starts a run of
# its own (a chunk's floor is its own), so its bit 0 means nothing. A state that keeps no
# runs (ProgramArrays.keeps_runs, full mode) has no words: each location is a run.


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
