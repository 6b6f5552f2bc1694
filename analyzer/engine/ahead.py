"""Numba kernels for ahead periods (docs/design.md §4.11): whole-state periods of a loop
its front end runs ahead of.

A front end that may issue several bundles a cycle (the systolic array's, four) runs
ahead of the array until its window of bundles in flight fills: the issue time gains on
the starts every step, so no two boundaries have equal states relative to the issue time
(§4.3), although every step starts exactly a cycle after the one before. Here boundaries
are compared relative to the earliest start of the iteration instead, which needs every
instruction of the compared iteration to have started above its issue bound; the front
end, which the comparison leaves out, is then stepped bundle by bundle over the periods
skipped, and the skip stops before the first whose issue could bind.

The per-level arrays come as `ahead` = (row, kept, kept_at, kept_min): the row of `kept`
a level's loop keeps its boundary in (-1: none of its loops takes ahead periods), the
machine at the kept boundary (unit free times, write times, read-until times), the
iteration it was kept at (-1: none) and the earliest start of the iteration before it
(NO_START: it started nothing). Where the memo restored a loop nested in an iteration,
its starts are unknown and its earliest start is NEVER (layout.py): compared, it fails
`earliest > issue + delay`; kept, it matches nothing (docs/design.md §4.11).
"""

from __future__ import annotations

import numpy as np
from numba import njit

from analyzer.engine.layout import LOOP_BEGIN
from analyzer.engine.loop_skips import NO_START


@njit(cache=True)
def _ahead_arrays(layer, level_of, levels, n_items):
    """The per-level arrays of ahead periods (module docstring), with a row of `kept`
    (n_items: units + 2 x locations) only for the levels that hold a loop taking them.
    `levels` 0 (ahead periods off, or a chunked program) gives none: `level_of` still
    numbers the skip levels then, and `row` has one entry."""
    n_levels = max(levels, 1)
    row = np.full(n_levels, -1, dtype=np.int64)
    rows = 0
    for pc in range(layer.kind.shape[0]):
        if layer.kind[pc] == LOOP_BEGIN and layer.ahead[pc]:
            lv = level_of[layer.depth[pc]]
            if lv >= 0 and lv < levels and row[lv] < 0:
                row[lv] = rows
                rows += 1
    kept = np.empty((rows, n_items), dtype=np.int64)
    kept_at = np.full(n_levels, -1, dtype=np.int64)
    kept_min = np.full(n_levels, NO_START, dtype=np.int64)
    return row, kept, kept_at, kept_min


@njit(cache=True)
def _ahead_keep(kept, unit_free, write_end, read_until):
    units, locations = unit_free.shape[0], write_end.shape[0]
    kept[:units] = unit_free
    kept[units : units + locations] = write_end
    kept[units + locations :] = read_until


@njit(cache=True)
def _moved_equal(kept, now, first, floor, shift):
    """Whether kept[first + x] clamped at `floor`, moved by `shift`, equals now[x] clamped
    at floor + shift, for every x."""
    later = floor + shift
    for x in range(now.shape[0]):
        a = kept[first + x]
        b = now[x]
        if (a if a > floor else floor) + shift != (b if b > later else later):
            return False
    return True


@njit(cache=True)
def _ahead_match(kept, unit_free, write_end, read_until, floor, shift):
    """Whether the machine kept at boundary i - 1, clamped at `floor`, moved by `shift`,
    is the machine now clamped at floor + shift (§4.11, the match)."""
    units, locations = unit_free.shape[0], write_end.shape[0]
    return (
        _moved_equal(kept, unit_free, 0, floor, shift)
        and _moved_equal(kept, write_end, units, floor, shift)
        and _moved_equal(kept, read_until, units + locations, floor, shift)
    )


@njit(cache=True)
def _ahead_restore(unit_free, write_end, read_until, floor, move):
    """The machine after the skipped periods: what the loop sets (every time above the
    floor) moved by `move`; the rest (at or below it) the loop never touches."""
    for times in (unit_free, write_end, read_until):
        for x in range(times.shape[0]):
            if times[x] > floor:
                times[x] += move


@njit(cache=True)
def _ahead_frontend(
    issue_ring, window_ring, ring_first, window_first, width, window, issue, issue_head,
    window_head, latest, delay, earliest, shift, most,
):  # fmt: skip
    """Step the front end over at most `most` periods of one bundle each, the first
    after an iteration whose latest start is `latest` and earliest start `earliest`:
    period q's bundle issues by the rules of §3.2 (its own latest start being q + 1
    shifts later), and is skipped only while its issue bound stays below the earliest
    start of its iteration (earliest + (q + 1) shift). Returns (periods skipped, issue,
    issue head, window head, the last skipped bundle's latest start). The issue rule is
    evaluate_layer's at a bundle start (kernels.py), without the issue queue (no ahead
    loop takes one): a change to one is a change to the other."""
    periods = 0
    while periods < most:
        slot = window_first + window_head
        before = window_ring[slot]
        window_ring[slot] = latest  # the bundle before closes
        head = window_head + 1
        if head == window:
            head = 0
        t = issue
        v = issue_ring[ring_first + issue_head] + 1
        if v > t:
            t = v
        v = window_ring[window_first + head]
        if v > t:
            t = v
        if t + delay >= earliest + (periods + 1) * shift:
            window_ring[slot] = before  # this bundle's issue could bind: not skipped
            break
        issue = t
        issue_ring[ring_first + issue_head] = t
        issue_head += 1
        if issue_head == width:
            issue_head = 0
        window_head = head
        periods += 1
        latest += shift
    return periods, issue, issue_head, window_head, latest


@njit(cache=True)
def _ahead_boundary(i, trips, every, earliest, state, ahead, lv, front, front_rules):
    """Ahead periods at boundary i of level lv's loop (iteration i - 1, whose earliest
    start was `earliest`, has just ended): compared with the boundary kept at i - 1, every
    period that repeats is skipped but the last; otherwise boundary i is kept when the
    next is due (every `every`-th). `front`: the issuing front end's (issue, issue head,
    window head, latest start of its open bundle); `front_rules`: its (delay, width,
    window, ring first, window first). Returns (periods skipped, and `front` after them)."""
    row, kept, kept_at, kept_min = ahead
    unit_free, write_end, read_until, issue_ring, window_ring = state[:5]
    issue, issue_head, window_head, latest = front
    delay, width, window, ring_first, window_first = front_rules
    skipped = 0
    if (
        kept_at[lv] == i - 1
        and kept_min[lv] != NO_START
        and earliest != NO_START
        and earliest >= kept_min[lv]
        and earliest > issue + delay
    ):
        floor = earliest - 1
        shift = earliest - kept_min[lv]
        if _ahead_match(kept[row[lv]], unit_free, write_end, read_until, floor, shift):
            # The last period is evaluated: it leaves the latest end, which no skipped
            # period (each earlier by the shift) passes.
            skipped, issue, issue_head, window_head, latest = _ahead_frontend(
                issue_ring, window_ring, ring_first, window_first, width, window, issue,
                issue_head, window_head, latest, delay, earliest, shift, trips - i - 1,
            )  # fmt: skip
            if skipped > 0:
                _ahead_restore(unit_free, write_end, read_until, floor, skipped * shift)
    if skipped > 0:
        kept_at[lv] = -1
    elif (i + 1) % every == 0 and i + 1 < trips:
        _ahead_keep(kept[row[lv]], unit_free, write_end, read_until)
        kept_at[lv] = i
        kept_min[lv] = earliest
    return skipped, issue, issue_head, window_head, latest
