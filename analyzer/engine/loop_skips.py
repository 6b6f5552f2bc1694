"""Numba kernels for fast mode at a loop's boundaries (analyzer/engine/kernels.py,
evaluate_layer's LOOP_BEGIN and LOOP_END): whole-state periods (docs/design.md §4.1-4.5),
translated periods (§4.6), wavefront periods (§4.7) and the loop memo (§4.8).

Each kernel takes evaluate_layer's arrays, which it changes in place, and its scalars, and
returns the new values of the scalars it changes. The per-level arrays come grouped:
  history      (hist_sig, hist_hash, hist_time, hist_iter, hist_count): the signatures kept
               per loop level, HISTORY of them;
  translation  (regions, n_regions, compare_every, kept_at, wave_gate): translating loops'
               regions, and per op whether its wavefront periods do not pay;
  wavefronts   (wave, wave_regions, wave_flags, track_min, min_before, min_before2, tracked):
               wavefront loops' regions and their iterations' earliest starts;
  entries      (entry_sig, entry_hash, entry_issue, entry_covered, entry_open, memo_pending):
               what a loop the memo may remember looked like at its entry.
These run once per loop instance or per sampled boundary, where passing arrays (reference
counting per call) costs little next to a signature; the per-instruction path stays in
evaluate_layer.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from analyzer.engine.layout import HISTORY, LOOP_BEGIN, NEVER
from analyzer.engine.loop_kernels import _remember
from analyzer.engine.signatures import (
    _copy_signature,
    _equal,
    _issue_floor,
    _machine_signature,
    _restore,
    _restore_machine,
    _save_frontend,
    _signature,
)
from analyzer.engine.translated import (
    MAX_REGIONS,
    REGION_FIELDS,
    REGION_HI,
    REGION_LO,
    _region_bounds,
    _translated_hash,
    _translated_match,
    _translated_periods,
    _translated_record,
    _translated_restore,
)
from analyzer.engine.wavefront import (
    MAX_WAVE_REGIONS,
    REGION_COLUMNS,
    _wavefront_match,
    _wavefront_period_items,
    _wavefront_periods,
    _wavefront_record,
    _wavefront_regions,
    _wavefront_restore,
)
from isa.program import MAX_DEPTH

# What evaluating an iteration costs, in the items of a translated comparison (each item
# is written, hashed and later compared or restored): an instruction INSTRUCTION_ITEMS
# items (measured by benchmarks/calibrate_translated_cost.py: 10-12), and
# LOCATIONS_PER_ITEM of its operands' extra locations (or chunk steps) 1 (docs/design.md
# §4.6, "Cost").
INSTRUCTION_ITEMS = 11
LOCATIONS_PER_ITEM = 20
WAVE_REJECTED = 1  # wave_gate: a loop op whose wavefront periods do not pay
NO_START = np.int64(1) << 62  # no instruction started yet (an iteration's earliest start)


@njit(cache=True)
def _boundary_signature(sig, state, frontend, active, front, live, max_end, machine):
    """Save the issuing front end's locals (`front`: issue, issue head, window head, bundle
    open, bundle's latest start) into `frontend`, then fill `sig` with the state relative
    to the issue floor of the front ends in `live`. `machine`: (min_latency, queue_first,
    queue_head, chunk_shift). Returns (issue floor, signature hash)."""
    issue, issue_head, window_head, bundle_open, bundle_max_start = front
    min_latency, queue_first, queue_head, chunk_shift = machine
    _save_frontend(frontend, active, issue, issue_head, window_head, bundle_open, bundle_max_start)
    base = _issue_floor(frontend, active, live)
    h = _signature(
        sig, base, state, min_latency, frontend, active, live, max_end, queue_first, queue_head,
        chunk_shift,
    )  # fmt: skip
    return base, h


@njit(cache=True)
def _enter_translating_loop(
    layer, program, pc, index, lv, n_machine, compare_budget, chunk_shift, history,
    translation, wavefronts, n_tracked,
):  # fmt: skip
    """At the entry of a loop that may translate (op pc, level lv): take wavefront periods
    when it opens no bundle (and has more than two trips, unchunked) and a period costs
    less than an iteration, else translated periods when a comparison can come before its
    last iteration. Returns n_tracked (the wavefront levels whose earliest starts the
    instructions update)."""
    regions, n_regions, compare_every, _, wave_gate = translation
    wave, wave_regions, wave_flags, track_min, min_before, min_before2, tracked = wavefronts
    op_arg, op_arg2, op_work = layer.arg, layer.arg2, layer.work
    _no_periods_yet(lv, history, translation, wavefronts)
    # An iteration's cost: its instructions, and its operands' extra locations, which cost
    # a chunk step per chunk when chunked.
    cost = INSTRUCTION_ITEMS * op_arg2[pc] + (
        ((op_work[pc] - op_arg2[pc]) >> chunk_shift) // LOCATIONS_PER_ITEM
    )
    if chunk_shift == 0 and op_arg[pc] > 2:
        n = _wavefront_regions(layer, program, pc, index, wave_regions[lv], wave_flags[lv])
        if n >= 0 and 2 * _wavefront_period_items(wave_regions[lv], n) >= compare_budget * cost:
            # A period costs more to check and restore than its iteration to evaluate
            # (translated periods, which compare the machine too, no less): the loop is
            # evaluated, and its later entries in this layer skip the question
            # (evaluate_layer reads wave_gate).
            wave_gate[pc] = WAVE_REJECTED
            return n_tracked
        if n >= 0:
            wave[lv] = True
            n_regions[lv] = n
            track_min[lv] = NO_START
            min_before[lv] = NO_START
            min_before2[lv] = NO_START
            tracked[n_tracked] = lv
            n_tracked += 1
            return n_tracked
    n = -1
    if 2 * n_machine // (compare_budget * max(1, cost)) < op_arg[pc] - 1:
        # A comparison (at a LOOP_END) can come before the last iteration.
        n = _region_bounds(layer, program, pc, index, regions[lv])
    n_regions[lv] = n
    if n >= 0:
        # A kept boundary and a comparison, each the machine and one iteration's windows,
        # every compare_every iterations.
        items = n_machine
        for r in range(n):
            # Two items per location, runs or not: counted per run (three items each, at
            # most two per range named), loops compared more often than it paid
            # (docs/benchmarks.md §5, "Runs of locations").
            items += 2 * (regions[lv, r, REGION_HI] - regions[lv, r, REGION_LO])
        compare_every[lv] = max(1, 2 * items // (compare_budget * max(1, cost)))
    return n_tracked


@njit(cache=True, inline="always")
def _no_periods_yet(lv, history, translation, wavefronts):
    """Level lv's loop has kept no boundary and takes no periods (until its entry says
    which): what a loop before it at this level left is not its own."""
    history[3][lv, 0] = -1
    translation[1][lv] = -1
    wavefronts[0][lv] = False


@njit(cache=True)
def _keep_boundary(history, lv, slot, sig, h, base, iteration):
    """Keep signature `sig` (hash h, issue floor `base`) of boundary `iteration` in row
    `slot` of level lv's history."""
    hist_sig, hist_hash, hist_time, hist_iter, _ = history
    _copy_signature(hist_sig[lv, slot], sig)
    hist_hash[lv, slot] = h
    hist_time[lv, slot] = base
    hist_iter[lv, slot] = iteration


@njit(cache=True)
def _recall_from_memo(
    memo, capacity, identity, trips, sig, h, base, covered, bundle_open, state, frontend,
    machine, history, lv, entries, wavefronts, n_tracked, active, max_end,
):  # fmt: skip
    """At the entry of a loop of block `identity` with `trips` trips whose entry signature
    is `sig` (hash h, issue floor `base`): restore the state a stored evolution from an
    equal signature reached, or note this entry for _remember_loop / _skip_periods.
    Returns (the loop's index after it, -1 when nothing was restored; instructions
    covered by it; active front end; max_end).

    The memo (`memo`: MemoArrays; fast mode, across evaluate_layer's calls for one
    program): a loop whose body no index of it or around it moves (layer.memo != 0 names
    the body, docs/design.md §4.8) evolves the same way from the same entry signature, whatever
    layer it is in. The first time such a loop finds its period, the entry signature, the
    signature at that boundary, the iterations done, the issue time gained and the
    instructions covered are stored (round robin over memo.keys' rows); a later loop
    instance entering with an equal signature and no fewer trips restores the stored
    state at once. Exact for the same reason as a skip: equal signatures, equal future up
    to a shift. A memo only means something for the program it was filled with
    (analyzer/engine/memo.py)."""
    entry_sig, entry_hash, entry_issue, entry_covered, entry_open, memo_pending = entries
    _, queue_first, queue_head, chunk_shift = machine
    for e in range(min(memo.count[0], capacity)):
        if (
            memo.meta[e, 0] != identity
            or memo.hashes[e] != h
            or memo.meta[e, 1] > trips
            or memo.meta[e, 5] != np.int64(bundle_open)
        ):
            continue
        if not _equal(memo.keys[e], sig):
            continue
        base += memo.meta[e, 2]
        active, max_end = _restore(
            memo.vals[e], base, state, frontend, queue_first, queue_head, chunk_shift
        )
        # Instructions restored, not run: the iterations around them no longer know their
        # earliest start (no shifted wavefront match).
        track_min, tracked = wavefronts[3], wavefronts[6]
        for t in range(n_tracked):
            track_min[tracked[t]] = NEVER
        _keep_boundary(
            history, lv, 0, memo.vals[e], np.uint64(memo.meta[e, 4]), base, memo.meta[e, 1]
        )
        memo_pending[lv] = False
        return memo.meta[e, 1], memo.meta[e, 3], active, max_end
    memo_pending[lv] = True
    _copy_signature(entry_sig[lv], sig)
    entry_hash[lv] = h
    entry_issue[lv] = base
    entry_covered[lv] = covered
    entry_open[lv] = bundle_open
    return -1, 0, active, max_end


@njit(cache=True)
def _remember_loop(memo, identity, iterations, sig, h, base, covered, entries, lv):
    """Store the evolution of level lv's loop from its entry to now (signature `sig`, hash
    h, issue floor `base`, after `iterations` trips) in the memo."""
    entry_sig, entry_hash, entry_issue, entry_covered, entry_open, memo_pending = entries
    _remember(
        memo, entry_sig[lv], entry_hash[lv], sig, h, identity, iterations,
        base - entry_issue[lv], covered - entry_covered[lv], entry_open[lv],
    )  # fmt: skip
    memo_pending[lv] = False


@njit(cache=True)
def _skip_periods(
    sig, h, base, i, trips, covered, identity, memo, state, frontend, machine, history,
    entries, lv, active, max_end,
):  # fmt: skip
    """Whole-state periods at sampled boundary i of level lv's loop (signature `sig`, hash
    h, issue floor `base`): when it equals a kept one, the loop repeats from there, so
    restore the state after every whole period left (and remember the loop's evolution up
    to here if the memo waits for it); else keep it. Returns (the period in iterations, 0
    when none matched; whole periods skipped; active front end; max_end)."""
    hist_sig, hist_hash, hist_time, hist_iter, hist_count = history
    match = -1
    for j in range(min(hist_count[lv], HISTORY)):
        # The latest matching boundary gives the shortest period.
        if match >= 0 and hist_iter[lv, j] < hist_iter[lv, match]:
            continue
        if hist_hash[lv, j] == h:
            if _equal(hist_sig[lv, j], sig):
                match = j
    if match < 0:
        slot = hist_count[lv] % HISTORY
        _keep_boundary(history, lv, slot, sig, h, base, i)
        hist_count[lv] += 1
        return 0, 0, active, max_end
    if entries[5][lv]:  # memo_pending
        _remember_loop(memo, identity, i, sig, h, base, covered, entries, lv)
    period = i - hist_iter[lv, match]
    periods = (trips - i) // period
    if periods > 0:
        base += periods * (base - hist_time[lv, match])
        _, queue_first, queue_head, chunk_shift = machine
        active, max_end = _restore(sig, base, state, frontend, queue_first, queue_head, chunk_shift)
    hist_count[lv] = 0
    return period, periods, active, max_end


@njit(cache=True)
def _translated_boundary(
    sig, i, trips, compare_now, keep_now, live, n_machine, state, scratch, frontend, active,
    front, max_end, machine, history, translation, lv,
):  # fmt: skip
    """Translated periods of one iteration (docs/design.md §4.6) at boundary i of level lv's
    loop, one that evaluate_layer found due: compared with the kept boundary i - 1
    (`compare_now`), skipping every period that repeats on a match, or else kept
    (`keep_now`). Returns (periods skipped, -1 when none matched; active front end;
    max_end)."""
    hist_sig, hist_hash, hist_time, hist_iter, _ = history
    regions, n_regions, _, kept_at, _ = translation
    min_latency, queue_first, queue_head, chunk_shift = machine
    n = n_regions[lv]
    issue, issue_head, window_head, bundle_open, bundle_max_start = front
    _save_frontend(frontend, active, issue, issue_head, window_head, bundle_open, bundle_max_start)
    base = _issue_floor(frontend, active, live)
    _machine_signature(sig, base, state, frontend, active, live, max_end, queue_first, queue_head)
    h = _translated_hash(sig, n_machine, state, base, min_latency, chunk_shift, regions[lv], n, i)
    if (
        compare_now
        and hist_hash[lv, 0] == h
        and _translated_match(
            hist_sig[lv, 0],
            kept_at[lv],
            sig,
            n_machine,
            state,
            base,
            min_latency,
            chunk_shift,
            regions[lv],
            n,
            i,
        )  # fmt: skip
    ):
        shift = base - hist_time[lv, 0]
        periods = _translated_periods(
            state, base, shift, trips - i, 1, min_latency, chunk_shift, regions[lv], n, i
        )
        _translated_restore(state, scratch, shift, periods, 1, chunk_shift, regions[lv], n, i)
        base += periods * shift
        active, max_end = _restore_machine(sig, base, state, frontend, queue_first, queue_head)
        hist_iter[lv, 0] = -1
        return periods, active, max_end
    if keep_now:
        _translated_record(
            hist_sig[lv, 0], kept_at[lv], sig, n_machine, state, base, min_latency,
            chunk_shift, regions[lv], n, i,
        )  # fmt: skip
        hist_hash[lv, 0] = h
        hist_time[lv, 0] = base
        hist_iter[lv, 0] = i
    return -1, active, max_end


@njit(cache=True)
def _wavefront_boundary(
    i, trips, issue, frontend_delay, min_latency, state, scratch, history, translation,
    wavefronts, lv,
):  # fmt: skip
    """Wavefront periods (docs/design.md §4.7) at boundary i of level lv's loop: every
    boundary is kept and compared with the one before, at the issue time (a shift of 0)
    or, when iteration i - 1 started nothing at its issue, at floors below the earliest
    starts of the last two iterations, that many cycles apart. Returns the iterations
    skipped."""
    hist_sig, _, _, hist_iter, _ = history
    n_regions, kept_at = translation[1], translation[3]
    wave, wave_regions, wave_flags, track_min, min_before, min_before2, _ = wavefronts
    min_before2[lv] = min_before[lv]
    min_before[lv] = track_min[lv]
    track_min[lv] = NO_START
    skipped = 0
    if hist_iter[lv, 0] == i - 1:
        then = issue
        shift = 0
        matched = _wavefront_match(
            hist_sig[lv, 0], kept_at[lv], state, wave_regions[lv], n_regions[lv], i, then,
            then, min_latency,
        )  # fmt: skip
        if (
            not matched
            and min_before2[lv] != NO_START
            and min_before[lv] != NO_START
            and min_before[lv] > issue + frontend_delay
            and min_before[lv] >= min_before2[lv]
        ):
            then = min_before[lv] - 1
            shift = min_before[lv] - min_before2[lv]
            matched = _wavefront_match(
                hist_sig[lv, 0], kept_at[lv], state, wave_regions[lv], n_regions[lv], i, then,
                then + shift, min_latency,
            )  # fmt: skip
        if matched:
            periods = _wavefront_periods(
                state, wave_regions[lv], n_regions[lv], i, then + shift, shift, trips - i,
                min_latency,
            )  # fmt: skip
            # The last period is evaluated: it leaves the latest start and end, which the
            # skipped ones (no later) never pass.
            skipped = periods - 1
    if skipped > 0:
        _wavefront_restore(
            state, scratch, wave_regions[lv], n_regions[lv], wave_flags[lv], i, shift, skipped
        )
        hist_iter[lv, 0] = -1
        min_before[lv] = NO_START
    else:
        _wavefront_record(
            hist_sig[lv, 0], kept_at[lv], state, wave_regions[lv], n_regions[lv],
            wave_flags[lv], i,
        )  # fmt: skip
        hist_iter[lv, 0] = i
    return skipped


@njit(cache=True)
def _step_offsets(offset, steps, begin, moved):
    """Move the affine offsets the loop opened at op `begin` steps by `moved` trips
    (`steps`: _offset_steps' (step_first, step_offset, step_size))."""
    step_first, step_offset, step_size = steps
    for u in range(step_first[begin], step_first[begin + 1]):
        offset[step_offset[u]] += step_size[u] * moved


@njit(cache=True)
def _skip_levels(layer, fast):
    """The loop depths where fast mode may skip (a loop there is skippable or may
    translate), numbered: returns (level_of: int64[MAX_DEPTH], -1 where none; levels).
    Full mode has none, so it keeps no history at all."""
    level_of = np.full(MAX_DEPTH, -1, dtype=np.int64)
    levels = 0
    if fast:
        op_kind, op_depth = layer.kind, layer.depth
        for pc in range(op_kind.shape[0]):
            if (
                op_kind[pc] == LOOP_BEGIN
                and (layer.skippable[pc] or layer.translate[pc])
                and level_of[op_depth[pc]] < 0
            ):
                level_of[op_depth[pc]] = levels
                levels += 1
    return level_of, levels


@njit(cache=True)
def _level_arrays(levels, workspace, n_locations, n_units, n_ops):
    """The per-level arrays of fast mode, grouped as this module's kernels take them
    (module docstring): (history, translation, wavefronts, entries, scratch). The
    signatures kept and the scratch are the workspace's (analyzer/engine/workspace.py),
    which may hold more levels than `levels`: only rows below it are used, each written
    before read (hist_count, hist_iter; the memo's entry at the loop's entry)."""
    hist_sig = workspace.history
    hist_hash = np.zeros((levels, HISTORY), dtype=np.uint64)
    hist_time = np.zeros((levels, HISTORY), dtype=np.int64)
    hist_iter = np.zeros((levels, HISTORY), dtype=np.int64)
    hist_count = np.zeros(max(levels, 1), dtype=np.int64)
    # Translating loops (docs/design.md §4.6), per level: their regions in this execution
    # (n_regions -1: none may translate), how often boundaries are compared, and for the
    # kept boundary (hist_*[lv, 0]; hist_iter -1: none) where its regions' locations are.
    regions = np.zeros((max(levels, 1), MAX_REGIONS, REGION_FIELDS), dtype=np.int64)
    n_regions = np.full(max(levels, 1), -1, dtype=np.int64)
    compare_every = np.ones(max(levels, 1), dtype=np.int64)
    kept_at = np.zeros((max(levels, 1), MAX_REGIONS), dtype=np.int64)
    # Three items per run of a window a translated restore copies (at most one run per
    # location); two per location and unit elsewhere.
    scratch = workspace.scratch
    # Loops that open no bundle take wavefront periods instead (docs/design.md §4.7), per
    # level: whether, their regions and per-offset flags, and the earliest start of the
    # iteration running (track_min, for the levels in `tracked`) and of the two before.
    wave = np.zeros(max(levels, 1), dtype=np.bool_)
    wave_regions = np.zeros((max(levels, 1), MAX_WAVE_REGIONS, REGION_COLUMNS), dtype=np.int64)
    wave_flags = np.zeros((levels, n_locations + n_units), dtype=np.uint8)
    track_min = np.zeros(max(levels, 1), dtype=np.int64)
    min_before = np.full(max(levels, 1), NO_START, dtype=np.int64)
    min_before2 = np.full(max(levels, 1), NO_START, dtype=np.int64)
    tracked = np.zeros(max(levels, 1), dtype=np.int64)
    entry_sig = workspace.entries
    entry_hash = np.zeros(max(levels, 1), dtype=np.uint64)
    entry_issue = np.zeros(max(levels, 1), dtype=np.int64)
    entry_covered = np.zeros(max(levels, 1), dtype=np.int64)
    memo_pending = np.zeros(max(levels, 1), dtype=np.bool_)
    # Whether a bundle was open at the loop's entry decides whether the next bundle start
    # records one in the window ring. The signature implies it (once a bundle has issued,
    # the issue ring holds the base; before, every entry is -1), so keying it is a guard
    # (docs/testing.md, equivalent mutants).
    entry_open = np.zeros(max(levels, 1), dtype=np.bool_)
    # Per op: WAVE_REJECTED once a LOOP_BEGIN's wavefront periods were found not to pay.
    wave_gate = np.zeros(n_ops, dtype=np.int8)
    return (
        (hist_sig, hist_hash, hist_time, hist_iter, hist_count),
        (regions, n_regions, compare_every, kept_at, wave_gate),
        (wave, wave_regions, wave_flags, track_min, min_before, min_before2, tracked),
        (entry_sig, entry_hash, entry_issue, entry_covered, entry_open, memo_pending),
        scratch,
    )
