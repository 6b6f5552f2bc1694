"""Numba kernels: the dependency evaluation of a layer's loop program.

One interpreter serves both modes. Full mode executes every instruction. Fast mode also
takes, at every iteration boundary of a loop whose body does not depend on its index, a
signature of the state relative to the last issue time T (every time clamped at the
earliest value a future instruction can still observe). When the signature equals one
taken p iterations earlier, the system is max-plus shift invariant, so each further
p iterations advance every time by the same d: the kernel adds m*d and skips m*p
iterations, then evaluates the rest. Equal signatures are compared in full, never by
hash alone, so a skip is always exact.

Wide operands (Gemmini's mvins span thousands of rows): when they dominate a program,
locations are grouped in chunks with a floor (every location of the chunk was written no
earlier) and a maximum, so a range costs its chunks plus its ragged ends; the signature
folds floors into locations, so fast mode sees the same state either way.

Timing rules (docs/design.md §3):
  issue: bundles issue in order, at most `width` per cycle, and bundle b not before the
         latest start in bundle b - window (the front end's bounded lookahead); a bundle
         whose first instruction needs an entry of a full issue queue waits for it, and so
         does everything behind it (an in-order front end stalled by a full queue);
  start >= issue + front-end delay, and >= the unit's free time (previous start + occupancy);
  RAW and WAW: start >= end of the last writer of a location read or written;
  WAR: end >= start + read_time of every reader of a written location since its last write.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from numba import njit

from analyzer.engine import loop_kernels, signatures, wavefront
from analyzer.engine.jit_cache import CompiledCodeCache, load_compiled_code_directly
from analyzer.engine.loop_kernels import _offset_steps, _remember
from analyzer.engine.signatures import (
    BLOCK,
    FE_RING_FIRST,
    FE_WIDTH,
    FE_WINDOW,
    FE_WINDOW_FIRST,
    FRONTEND_ITEMS,
    LOOP_BEGIN,
    MAX_REGIONS,
    NEVER,
    _equal,
    _frontend_table,
    _issue_floor,
    _load_frontend,
    _machine_signature,
    _region_bounds,
    _restore,
    _restore_machine,
    _save_frontend,
    _signature,
    _translated_hash,
    _translated_match,
    _translated_periods,
    _translated_record,
    _translated_restore,
)
from analyzer.engine.template_row import COLUMN, COLUMN_NAMES
from analyzer.engine.wavefront import (
    MAX_WAVE_REGIONS,
    REGION_COLUMNS,
    _wavefront_match,
    _wavefront_periods,
    _wavefront_record,
    _wavefront_regions,
    _wavefront_restore,
)
from isa.program import MAX_DEPTH

# Columns of the template row (analyzer/engine/template_row.py, from the template table),
# as plain ints so Numba compiles them in as constants. Operands of a template: reads
# [T_OPERANDS_FIRST, T_READS_END), writes up to T_WRITES_END, then marks set at start +
# read time up to T_READ_MARKS_END and marks set at the end up to T_MARKS_END. T_QUEUE is
# the queue or -1; T_ISSUE_QUEUE the queue whose full state holds up issue (of this and
# every later bundle), or -1.
T_UNIT = COLUMN["unit"]
T_LATENCY = COLUMN["latency"]
T_OCCUPANCY = COLUMN["occupancy"]
T_READ_TIME = COLUMN["read_time"]
T_BUNDLE_START = COLUMN["bundle_start"]
T_QUEUE = COLUMN["queue"]
T_ISSUE_QUEUE = COLUMN["issue_queue"]
T_FRONTEND = COLUMN["frontend"]
T_OPERANDS_FIRST = COLUMN["operands_first"]
T_READS_END = COLUMN["reads_end"]
T_WRITES_END = COLUMN["writes_end"]
T_READ_MARKS_END = COLUMN["read_marks_end"]
T_MARKS_END = COLUMN["marks_end"]
T_INSTANCE_OFFSET = COLUMN["instance_offset"]
T_SIMPLE = COLUMN["simple"]
HISTORY = 4  # signatures kept per loop level: periods up to this many iterations are found
# Validation keeps every address of a program within its space (and every unit instance
# within its kind), so one outside the state arrays means the kernel's affine offsets no
# longer match the loop indices: stop rather than read or write outside them (their
# indexing is unchecked).
_ADDRESS_DRIFT = "an address or unit instance left the machine: the affine offsets drifted"
_NO_START = np.int64(1) << 62  # no instruction started yet (an iteration's earliest start)


@njit(cache=True)
def evaluate_layer(layer, program, memo, fast, compare_budget, record_first, record):
    """Evaluate one layer (`layer`: LayerArrays) of a program (`program`: ProgramArrays).
    Returns (cycles, instructions covered, evaluated instructions, evaluated iterations).

    With a non-empty `record` (int64[n, 3]), the issue, start and end cycles of
    instructions record_first, record_first + 1, ... (index in program order; use full
    mode) are written to its rows and evaluation stops after the last of them.

    Memo (`memo`: MemoArrays; fast mode, across calls for one program): a loop whose body
    is one block of fixed-location instructions (layer.memo != 0 names the block) evolves
    the same way from the same entry signature, whatever layer it is in. The first time
    such a loop finds its period, the entry signature, the signature at that boundary, the
    iterations done, the issue time gained and the instructions covered are stored (round
    robin over memo.keys' rows); a later loop instance entering with an equal signature and
    more trips restores the stored state at once. Exact for the same reason as a skip:
    equal signatures, equal future up to a shift. A memo only means something for the
    program it was filled with (analyzer/engine/memo.py).

    Queues (program.queue_first: int64[n_queues + 1], ring offsets): an instruction of queue q
    does not start before the end of the instruction of q `size` entries earlier, whose
    entry it takes (a reservation station or controller with `size` entries, freed at
    completion). Only that queue waits: instructions of other queues behind it go on.
    An issue queue (T_ISSUE_QUEUE) holds up issue instead, so everything behind waits too.

    Fast mode takes a signature at every k-th iteration boundary of each loop instance,
    k = max(1, signature length // (compare_budget * layer.work)), layer.work being the
    work of one iteration (LayerArrays): loops with small bodies compare states less
    often, so comparing never costs much more than evaluating. Which boundaries are
    sampled only decides how early a repetition is found, never whether a skip is exact.
    """
    op_kind, op_arg, op_arg2, op_jump = layer.kind, layer.arg, layer.arg2, layer.jump
    op_depth, op_skippable, op_work, op_memo = layer.depth, layer.skippable, layer.work, layer.memo
    op_translate = layer.translate
    templates = program.templates
    o_location, o_slot = program.operand_location, program.operand_slot
    o_count, o_track = program.operand_count, program.operand_track
    o_offset = program.operand_offset
    queue_first, chunk_shift = program.queue_first, program.chunk_shift
    n_units, n_locations, min_latency = program.n_units, program.n_locations, program.min_latency
    # Front ends (docs/design.md §3.2): their state in `frontend`; the one issuing now
    # (`active`) in the locals below, written back (_save_frontend) before fast mode reads
    # or restores the state, and read again after.
    frontend = _frontend_table(program.frontends)
    active = 0
    (
        issue,
        issue_head,
        window_head,
        bundle_open,
        bundle_max_start,
        width,
        window,
        frontend_delay,
        ring_first,
        window_first,
    ) = _load_frontend(frontend, active)

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
    # The arrays fast mode saves and restores, as one tuple (they are mutated in place).
    state = (
        unit_free,
        write_end,
        read_until,
        issue_ring,
        window_ring,
        queue_ring,
        chunk_floor,
        chunk_max,
    )
    max_end = 0
    covered = 0
    evaluated = 0
    iterations = 0
    n_record = record.shape[0]

    index = np.zeros(MAX_DEPTH, dtype=np.int64)
    max_operands = 1
    for i in range(templates.shape[0]):
        if templates[i, T_WRITES_END] - templates[i, T_OPERANDS_FIRST] > max_operands:
            max_operands = templates[i, T_WRITES_END] - templates[i, T_OPERANDS_FIRST]
    address = np.zeros(max_operands, dtype=np.int64)
    chunk_size = 1 << chunk_shift
    # The general path's affine offsets (program.offset_coefs . index), kept up to date at
    # LOOP_END rather than summed per operand (see _offset_steps).
    offset = np.zeros(program.offset_coefs.shape[0], dtype=np.int64)
    step_first, step_offset, step_size = _offset_steps(layer, templates, program)

    # History is kept only for the loop depths where a skip can happen.
    level_of = np.full(MAX_DEPTH, -1, dtype=np.int64)
    levels = 0
    if fast:
        for pc in range(op_kind.shape[0]):
            if (
                op_kind[pc] == LOOP_BEGIN
                and (op_skippable[pc] or op_translate[pc])
                and level_of[op_depth[pc]] < 0
            ):
                level_of[op_depth[pc]] = levels
                levels += 1
    sig_len = (
        n_units
        + 2 * n_locations
        + issue_ring.shape[0]
        + window_ring.shape[0]
        + FRONTEND_ITEMS * frontend.shape[0]
        + 3
        + queue_ring.shape[0]
    )
    if levels == 0:
        sig_len = 0
    sig = np.zeros(sig_len, dtype=np.int64)
    # Written before read (hist_count, hist_iter): np.empty leaves unused rows untouched.
    hist_sig = np.empty((levels, HISTORY, sig_len), dtype=np.int64)
    hist_hash = np.zeros((levels, HISTORY), dtype=np.uint64)
    hist_time = np.zeros((levels, HISTORY), dtype=np.int64)
    hist_iter = np.zeros((levels, HISTORY), dtype=np.int64)
    hist_count = np.zeros(max(levels, 1), dtype=np.int64)
    memo_capacity = memo.keys.shape[0] if memo.keys.shape[1] == sig_len else 0
    # Translating loops (docs/design.md §4.6), per level: their regions in this execution
    # (n_regions -1: none may translate), how often boundaries are compared, and for the
    # kept boundary (hist_*[lv, 0]; hist_iter -1: none) where its regions' locations are.
    n_machine = sig_len - 2 * n_locations
    regions = np.zeros((max(levels, 1), MAX_REGIONS, 5), dtype=np.int64)
    n_regions = np.full(max(levels, 1), -1, dtype=np.int64)
    compare_every = np.ones(max(levels, 1), dtype=np.int64)
    kept_at = np.zeros((max(levels, 1), MAX_REGIONS), dtype=np.int64)
    scratch = np.empty(2 * (n_locations + n_units) if levels > 0 else 0, dtype=np.int64)
    # Loops that open no bundle take wavefront periods instead (docs/design.md §4.7), per
    # level: whether, their regions and per-offset flags, and the earliest start of the
    # iteration running (track_min, for the levels in `tracked`) and of the two before.
    wave = np.zeros(max(levels, 1), dtype=np.bool_)
    wave_regions = np.zeros((max(levels, 1), MAX_WAVE_REGIONS, REGION_COLUMNS), dtype=np.int64)
    wave_flags = np.zeros((levels, n_locations + n_units), dtype=np.uint8)
    track_min = np.zeros(max(levels, 1), dtype=np.int64)
    min_before = np.full(max(levels, 1), _NO_START, dtype=np.int64)
    min_before2 = np.full(max(levels, 1), _NO_START, dtype=np.int64)
    tracked = np.zeros(max(levels, 1), dtype=np.int64)
    n_tracked = 0
    entry_sig = np.zeros((levels if memo_capacity > 0 else 0, sig_len), dtype=np.int64)
    entry_hash = np.zeros(max(levels, 1), dtype=np.uint64)
    entry_issue = np.zeros(max(levels, 1), dtype=np.int64)
    entry_covered = np.zeros(max(levels, 1), dtype=np.int64)
    memo_pending = np.zeros(max(levels, 1), dtype=np.bool_)
    # Whether a bundle was open at the loop's entry decides whether the next bundle start
    # records one in the window ring. The signature implies it (once a bundle has issued,
    # the issue ring holds the base; before, every entry is -1), so keying it is a guard
    # (docs/testing.md, equivalent mutants).
    entry_open = np.zeros(max(levels, 1), dtype=np.bool_)

    pc = 0
    n_ops = op_kind.shape[0]
    while pc < n_ops:
        kind = op_kind[pc]
        if kind == BLOCK:
            for i_signed in range(op_arg[pc], op_arg2[pc]):
                i = np.uint64(i_signed)  # unsigned indices skip numba's wraparound checks
                issue_q = -1
                if templates[i, T_BUNDLE_START]:
                    f = templates[i, T_FRONTEND]
                    if f != active:
                        _save_frontend(
                            frontend, active, issue, issue_head, window_head, bundle_open,
                            bundle_max_start,
                        )  # fmt: skip
                        active = f
                        (
                            issue, issue_head, window_head, bundle_open, bundle_max_start,
                            width, window, frontend_delay, ring_first, window_first,
                        ) = _load_frontend(frontend, active)  # fmt: skip
                    if bundle_open:
                        window_ring[window_first + window_head] = bundle_max_start
                        window_head += 1
                        if window_head == window:
                            window_head = 0
                    earliest = issue_ring[ring_first + issue_head] + 1
                    if earliest > issue:
                        issue = earliest
                    if window_ring[window_first + window_head] > issue:
                        issue = window_ring[window_first + window_head]
                    issue_q = templates[i, T_ISSUE_QUEUE]  # only ever on a bundle start
                    if issue_q >= 0:
                        v = queue_ring[queue_first[issue_q] + queue_head[issue_q]]
                        if v > issue:
                            issue = v
                    issue_ring[ring_first + issue_head] = issue
                    issue_head += 1
                    if issue_head == width:
                        issue_head = 0
                    bundle_open = True
                    bundle_max_start = issue
                start = issue + frontend_delay
                unit = templates[i, T_UNIT]
                if not templates[i, T_SIMPLE]:
                    unit += offset[templates[i, T_INSTANCE_OFFSET]]
                    if unit < 0 or unit >= n_units:
                        raise IndexError(_ADDRESS_DRIFT)
                u = np.uint64(unit)
                if unit_free[u] > start:
                    start = unit_free[u]
                q = templates[i, T_QUEUE]
                if q >= 0:
                    v = queue_ring[queue_first[q] + queue_head[q]]
                    if v > start:
                        start = v
                latency = templates[i, T_LATENCY]
                first = templates[i, T_OPERANDS_FIRST]
                split = templates[i, T_READS_END]
                last = templates[i, T_WRITES_END]
                if templates[i, T_SIMPLE]:
                    # Hot path: single fixed locations (every systolic PE instruction); never
                    # with chunked locations (analyzer/engine/packing.py).
                    for a in range(np.uint64(first), np.uint64(split)):
                        v = write_end[o_slot[a]]
                        if v > start:
                            start = v
                    for a in range(np.uint64(split), np.uint64(last)):
                        loc = o_slot[a]
                        v = write_end[loc]
                        if v > start:
                            start = v
                        v = read_until[loc] - latency
                        if v > start:
                            start = v
                    end = start + latency
                    read_end = start + templates[i, T_READ_TIME]
                    for a in range(np.uint64(first), np.uint64(split)):
                        loc = o_slot[a]
                        if read_until[loc] < read_end:
                            read_until[loc] = read_end
                    for a in range(np.uint64(split), np.uint64(last)):
                        loc = o_slot[a]
                        write_end[loc] = end
                        read_until[loc] = NEVER
                else:
                    # The general path. The chunk bookkeeping is written out here rather
                    # than in helpers: an inlined helper taking the arrays costs reference
                    # counting on every operand (measured: a third of the time).
                    # `need`: the latest time the operands impose, kept apart from `start`
                    # so the loads of different operands do not wait on one another.
                    need = start
                    for a in range(first, last):
                        lo = o_location[a] + offset[o_offset[a]]
                        address[a - first] = lo
                        hi = lo + o_count[a]
                        if lo < 0 or hi > n_locations:
                            raise IndexError(_ADDRESS_DRIFT)
                        if chunk_shift > 0 and hi - lo <= chunk_size:
                            c = lo >> chunk_shift
                            c_last = (hi - 1) >> chunk_shift
                            # A chunk's maximum bounds its floor and every location: when
                            # both are no later than the start so far, the range is too.
                            if chunk_max[c] > start or chunk_max[c_last] > start:
                                v = max(chunk_floor[c], chunk_floor[c_last])
                                for x in range(np.uint64(lo), np.uint64(hi)):
                                    v = max(v, write_end[x])
                                need = max(need, v)
                        elif chunk_shift == 0:
                            v = NEVER
                            for x in range(np.uint64(lo), np.uint64(hi)):
                                v = max(v, write_end[x])
                            need = max(need, v)
                        else:
                            c = lo >> chunk_shift
                            x0 = lo
                            while x0 < hi:
                                chunk_end = (c + 1) << chunk_shift
                                stop = min(hi, chunk_end)
                                if x0 == c << chunk_shift and stop == chunk_end:
                                    v = chunk_max[c]
                                else:
                                    v = chunk_floor[c]
                                    for x in range(np.uint64(x0), np.uint64(stop)):
                                        v = max(v, write_end[x])
                                need = max(need, v)
                                x0 = stop
                                c += 1
                        if a >= split:
                            v = NEVER
                            for x in range(np.uint64(lo), np.uint64(hi)):
                                v = max(v, read_until[x])
                            need = max(need, v - latency)
                    start = need
                    end = start + latency
                    read_end = start + templates[i, T_READ_TIME]
                    for a in range(first, split):
                        if o_track[a]:  # only where some instruction writes (WAR)
                            lo = address[a - first]
                            for x in range(np.uint64(lo), np.uint64(lo + o_count[a])):
                                if read_until[x] < read_end:
                                    read_until[x] = read_end
                    # Writes (raised to their end, which is every write time checked above:
                    # WAW), then marks (completion times later instructions wait for, as
                    # reads; the latest of all marks so far; they never delay this one).
                    marks_split = templates[i, T_READ_MARKS_END]
                    for a in range(split, templates[i, T_MARKS_END]):
                        if a < last:
                            lo = address[a - first]
                            time = end
                        else:
                            lo = o_location[a] + offset[o_offset[a]]
                            time = read_end if a < marks_split else end
                        hi = lo + o_count[a]
                        if lo < 0 or hi > n_locations:
                            raise IndexError(_ADDRESS_DRIFT)
                        if chunk_shift > 0 and hi - lo <= chunk_size:
                            c = lo >> chunk_shift
                            c_last = (hi - 1) >> chunk_shift
                            if chunk_max[c] <= time and chunk_max[c_last] <= time:
                                # Every location of the range is written no later.
                                for x in range(np.uint64(lo), np.uint64(hi)):
                                    write_end[x] = time
                                chunk_max[c] = time
                                chunk_max[c_last] = time
                            else:
                                for x in range(np.uint64(lo), np.uint64(hi)):
                                    write_end[x] = max(write_end[x], time)
                                chunk_max[c] = max(chunk_max[c], time)
                                chunk_max[c_last] = max(chunk_max[c_last], time)
                        elif chunk_shift == 0:
                            for x in range(np.uint64(lo), np.uint64(hi)):
                                write_end[x] = max(write_end[x], time)
                        else:
                            c = lo >> chunk_shift
                            x0 = lo
                            while x0 < hi:
                                chunk_end = (c + 1) << chunk_shift
                                stop = min(hi, chunk_end)
                                if x0 == c << chunk_shift and stop == chunk_end:
                                    if chunk_floor[c] < time:
                                        chunk_floor[c] = time
                                else:
                                    for x in range(np.uint64(x0), np.uint64(stop)):
                                        if write_end[x] < time:
                                            write_end[x] = time
                                if chunk_max[c] < time:
                                    chunk_max[c] = time
                                x0 = stop
                                c += 1
                        if a < last:
                            for x in range(np.uint64(lo), np.uint64(hi)):
                                read_until[x] = NEVER
                if templates[i, T_SIMPLE] and last < templates[i, T_MARKS_END]:
                    # Marks of a simple template, one fixed location each (here, not in its
                    # branch above: the systolic array's full evaluation, which has none,
                    # measured 6-9% slower with them there).
                    marks_split = templates[i, T_READ_MARKS_END]
                    for a in range(np.uint64(last), np.uint64(templates[i, T_MARKS_END])):
                        loc = o_slot[a]
                        mark = read_end if a < marks_split else end
                        if write_end[loc] < mark:
                            write_end[loc] = mark
                if q >= 0:  # q: this instruction's queue, read above; it takes its entry
                    slot = queue_first[q] + queue_head[q]
                    queue_ring[slot] = end
                    queue_head[q] += 1
                    if queue_head[q] == queue_first[q + 1] - queue_first[q]:
                        queue_head[q] = 0
                if issue_q >= 0:
                    slot = queue_first[issue_q] + queue_head[issue_q]
                    queue_ring[slot] = end
                    queue_head[issue_q] += 1
                    if queue_head[issue_q] == queue_first[issue_q + 1] - queue_first[issue_q]:
                        queue_head[issue_q] = 0
                unit_free[u] = start + templates[i, T_OCCUPANCY]
                for t in range(n_tracked):
                    if start < track_min[tracked[t]]:
                        track_min[tracked[t]] = start
                if start > bundle_max_start:
                    bundle_max_start = start
                if end > max_end:
                    max_end = end
                if n_record > 0:
                    slot = covered - record_first
                    if slot >= 0 and slot < n_record:
                        record[slot, 0] = issue
                        record[slot, 1] = start
                        record[slot, 2] = end
                covered += 1
            evaluated += op_arg2[pc] - op_arg[pc]
            iterations += 1
            pc += 1
            if n_record > 0 and covered >= record_first + n_record:
                break  # a timeline request needs nothing beyond its last instruction
        elif kind == LOOP_BEGIN:
            if op_arg[pc] == 0:
                pc = op_jump[pc] + 1
                continue
            d = op_depth[pc]
            index[d] = 0
            if levels > 0 and op_translate[pc]:
                lv = level_of[d]
                hist_iter[lv, 0] = -1
                wave[lv] = False
                if chunk_shift == 0 and op_arg[pc] > 2:
                    n = _wavefront_regions(
                        layer, program, pc, index, wave_regions[lv], wave_flags[lv]
                    )
                    if n >= 0:
                        wave[lv] = True
                        n_regions[lv] = n
                        track_min[lv] = _NO_START
                        min_before[lv] = _NO_START
                        min_before2[lv] = _NO_START
                        tracked[n_tracked] = lv
                        n_tracked += 1
            if levels > 0 and op_translate[pc] and not wave[level_of[d]]:
                lv = level_of[d]
                # An iteration's cost: its instructions, and its operands' extra locations,
                # which cost a chunk step per chunk when chunked.
                cost = op_arg2[pc] + ((op_work[pc] - op_arg2[pc]) >> chunk_shift)
                n = -1
                if 2 * n_machine // (compare_budget * max(1, cost)) < op_arg[pc] - 1:
                    # A comparison (below) can come before the last iteration.
                    n = _region_bounds(layer, program, pc, index, regions[lv])
                n_regions[lv] = n
                if n >= 0:
                    # A kept boundary and a comparison, each the machine and one iteration's
                    # windows, every compare_every iterations.
                    items = n_machine
                    for r in range(n):
                        items += 2 * (regions[lv, r, 1] - regions[lv, r, 0])
                    compare_every[lv] = max(1, 2 * items // (compare_budget * max(1, cost)))
            if levels > 0 and op_skippable[pc]:
                lv = level_of[d]
                _save_frontend(
                    frontend, active, issue, issue_head, window_head, bundle_open, bundle_max_start
                )
                base = _issue_floor(frontend, active, layer.live[pc])
                h = _signature(
                    sig,
                    base,
                    state,
                    min_latency,
                    frontend,
                    active,
                    layer.live[pc],
                    max_end,
                    queue_first,
                    queue_head,
                    chunk_shift,
                )
                hist_sig[lv, 0, :] = sig
                hist_hash[lv, 0] = h
                hist_time[lv, 0] = base
                hist_iter[lv, 0] = 0
                hist_count[lv] = 1
                memo_pending[lv] = False
                if memo_capacity > 0 and op_memo[pc] != 0:
                    memo_pending[lv] = True
                    for e in range(min(memo.count[0], memo_capacity)):
                        if (
                            memo.meta[e, 0] != op_memo[pc]
                            or memo.hashes[e] != h
                            or memo.meta[e, 1] > op_arg[pc]
                            or memo.meta[e, 5] != np.int64(bundle_open)
                        ):
                            continue
                        if not _equal(memo.keys[e], sig):
                            continue
                        base += memo.meta[e, 2]
                        active, max_end = _restore(
                            memo.vals[e], base, state, frontend, queue_first, queue_head,
                            chunk_shift,
                        )  # fmt: skip
                        (
                            issue, issue_head, window_head, bundle_open, bundle_max_start,
                            width, window, frontend_delay, ring_first, window_first,
                        ) = _load_frontend(frontend, active)  # fmt: skip
                        index[d] = memo.meta[e, 1]
                        # Instructions restored, not run: the iterations around them no
                        # longer know their earliest start (no shifted wavefront match).
                        for t in range(n_tracked):
                            track_min[tracked[t]] = NEVER
                        covered += memo.meta[e, 3]
                        hist_sig[lv, 0, :] = memo.vals[e]
                        hist_hash[lv, 0] = np.uint64(memo.meta[e, 4])
                        hist_time[lv, 0] = base
                        hist_iter[lv, 0] = index[d]
                        memo_pending[lv] = False
                        break
                    if memo_pending[lv]:
                        entry_sig[lv, :] = sig
                        entry_hash[lv] = h
                        entry_issue[lv] = base
                        entry_covered[lv] = covered
                        entry_open[lv] = bundle_open
                    elif index[d] >= op_arg[pc]:
                        pc = op_jump[pc] + 1  # the memo covered every trip
                        continue
            pc += 1
        else:
            begin = op_jump[pc]
            d = op_depth[pc]
            trips = op_arg[pc]
            index[d] += 1
            # The affine offsets follow the index (_offset_steps): a step per trip, and
            # back to their value outside the loop when it ends.
            if step_first[begin] < step_first[begin + 1]:
                moved = 1 if index[d] < trips else 1 - index[d]
                for u in range(step_first[begin], step_first[begin + 1]):
                    offset[step_offset[u]] += step_size[u] * moved
            if levels > 0 and op_translate[begin] and wave[level_of[d]] and index[d] < trips:
                # Wavefront periods (docs/design.md §4.7): every boundary is kept and
                # compared with the one before, at the issue time (a shift of 0) or, when
                # iteration i - 1 started nothing at its issue, at floors below the earliest
                # starts of the last two iterations, that many cycles apart.
                lv = level_of[d]
                i = index[d]
                min_before2[lv] = min_before[lv]
                min_before[lv] = track_min[lv]
                track_min[lv] = _NO_START
                skipped = 0
                if hist_iter[lv, 0] == i - 1:
                    then = issue
                    shift = 0
                    matched = _wavefront_match(
                        hist_sig[lv, 0], kept_at[lv], state, wave_regions[lv], n_regions[lv],
                        i, then, then, min_latency,
                    )  # fmt: skip
                    if (
                        not matched
                        and min_before2[lv] != _NO_START
                        and min_before[lv] != _NO_START
                        and min_before[lv] > issue + frontend_delay
                        and min_before[lv] >= min_before2[lv]
                    ):
                        then = min_before[lv] - 1
                        shift = min_before[lv] - min_before2[lv]
                        matched = _wavefront_match(
                            hist_sig[lv, 0], kept_at[lv], state, wave_regions[lv],
                            n_regions[lv], i, then, then + shift, min_latency,
                        )  # fmt: skip
                    if matched:
                        periods = _wavefront_periods(
                            state, wave_regions[lv], n_regions[lv], i, then + shift, shift,
                            trips - i, min_latency,
                        )  # fmt: skip
                        # The last period is evaluated: it leaves the latest start and end,
                        # which the skipped ones (no later) never pass.
                        skipped = periods - 1
                if skipped > 0:
                    _wavefront_restore(
                        state, scratch, wave_regions[lv], n_regions[lv], wave_flags[lv], i,
                        shift, skipped,
                    )  # fmt: skip
                    index[d] += skipped
                    for u in range(step_first[begin], step_first[begin + 1]):
                        offset[step_offset[u]] += step_size[u] * skipped
                    covered += op_arg2[begin] * skipped
                    hist_iter[lv, 0] = -1
                    min_before[lv] = _NO_START
                else:
                    _wavefront_record(
                        hist_sig[lv, 0], kept_at[lv], state, wave_regions[lv], n_regions[lv],
                        wave_flags[lv], i,
                    )  # fmt: skip
                    hist_iter[lv, 0] = i
            elif levels > 0 and op_translate[begin] and index[d] < trips:
                # Translated periods of one iteration (docs/design.md §4.6): the boundary
                # before every compare_every-th is kept, and that one compared with it.
                lv = level_of[d]
                n = n_regions[lv]
                i = index[d]
                every = compare_every[lv]
                compare_now = i % every == 0 and hist_iter[lv, 0] == i - 1
                keep_now = (i + 1) % every == 0 and i + 1 < trips
                if n >= 0 and (compare_now or keep_now):
                    _save_frontend(
                        frontend, active, issue, issue_head, window_head, bundle_open,
                        bundle_max_start,
                    )  # fmt: skip
                    base = _issue_floor(frontend, active, layer.live[begin])
                    _machine_signature(
                        sig,
                        base,
                        state,
                        frontend,
                        active,
                        layer.live[begin],
                        max_end,
                        queue_first,
                        queue_head,
                    )
                    h = _translated_hash(
                        sig, n_machine, state, base, min_latency, chunk_shift, regions[lv], n, i
                    )
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
                        )
                    ):
                        shift = base - hist_time[lv, 0]
                        periods = _translated_periods(
                            state,
                            base,
                            shift,
                            trips - i,
                            1,
                            min_latency,
                            chunk_shift,
                            regions[lv],
                            n,
                            i,
                        )
                        _translated_restore(
                            state, scratch, shift, periods, 1, chunk_shift, regions[lv], n, i
                        )
                        base += periods * shift
                        active, max_end = _restore_machine(
                            sig, base, state, frontend, queue_first, queue_head
                        )
                        (
                            issue, issue_head, window_head, bundle_open, bundle_max_start,
                            width, window, frontend_delay, ring_first, window_first,
                        ) = _load_frontend(frontend, active)  # fmt: skip
                        index[d] += periods
                        # The affine offsets follow the index: moved with it, and back to
                        # their value outside the loop if the skip ends it.
                        moved = periods - (index[d] if index[d] >= trips else 0)
                        for u in range(step_first[begin], step_first[begin + 1]):
                            offset[step_offset[u]] += step_size[u] * moved
                        covered += op_arg2[begin] * periods
                        hist_iter[lv, 0] = -1
                        if index[d] >= trips:
                            pc += 1
                            continue
                    elif keep_now:
                        _translated_record(
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
                        )
                        hist_hash[lv, 0] = h
                        hist_time[lv, 0] = base
                        hist_iter[lv, 0] = i
            if index[d] >= trips:
                if levels > 0 and op_translate[begin] and wave[level_of[d]]:
                    n_tracked -= 1  # loops nest: it is the latest tracked
                if levels > 0 and op_skippable[begin] and memo_pending[level_of[d]]:
                    # No period within the loop: remember its whole evolution instead.
                    lv = level_of[d]
                    _save_frontend(
                        frontend, active, issue, issue_head, window_head, bundle_open,
                        bundle_max_start,
                    )  # fmt: skip
                    base = _issue_floor(frontend, active, layer.live[begin])
                    h = _signature(
                        sig,
                        base,
                        state,
                        min_latency,
                        frontend,
                        active,
                        layer.live[begin],
                        max_end,
                        queue_first,
                        queue_head,
                        chunk_shift,
                    )
                    _remember(
                        memo,
                        entry_sig[lv],
                        entry_hash[lv],
                        sig,
                        h,
                        op_memo[begin],
                        index[d],
                        base - entry_issue[lv],
                        covered - entry_covered[lv],
                        entry_open[lv],
                    )
                    memo_pending[lv] = False
                pc += 1
                continue
            if (
                levels > 0
                and op_skippable[begin]
                and index[d] % max(1, sig_len // (compare_budget * max(1, op_work[begin]))) == 0
            ):
                lv = level_of[d]
                _save_frontend(
                    frontend, active, issue, issue_head, window_head, bundle_open, bundle_max_start
                )
                base = _issue_floor(frontend, active, layer.live[begin])
                h = _signature(
                    sig,
                    base,
                    state,
                    min_latency,
                    frontend,
                    active,
                    layer.live[begin],
                    max_end,
                    queue_first,
                    queue_head,
                    chunk_shift,
                )
                match = -1
                for j in range(min(hist_count[lv], HISTORY)):
                    # The latest matching boundary gives the shortest period.
                    if match >= 0 and hist_iter[lv, j] < hist_iter[lv, match]:
                        continue
                    if hist_hash[lv, j] == h:
                        if _equal(hist_sig[lv, j], sig):
                            match = j
                if match >= 0:
                    if memo_pending[lv]:
                        _remember(
                            memo,
                            entry_sig[lv],
                            entry_hash[lv],
                            sig,
                            h,
                            op_memo[begin],
                            index[d],
                            base - entry_issue[lv],
                            covered - entry_covered[lv],
                            entry_open[lv],
                        )
                        memo_pending[lv] = False
                    period = index[d] - hist_iter[lv, match]
                    periods = (trips - index[d]) // period
                    if periods > 0:
                        base += periods * (base - hist_time[lv, match])
                        active, max_end = _restore(
                            sig, base, state, frontend, queue_first, queue_head, chunk_shift
                        )
                        (
                            issue, issue_head, window_head, bundle_open, bundle_max_start,
                            width, window, frontend_delay, ring_first, window_first,
                        ) = _load_frontend(frontend, active)  # fmt: skip
                        index[d] += periods * period
                        covered += periods * period * op_arg2[begin]
                    hist_count[lv] = 0
                    if index[d] >= trips:
                        pc += 1
                        continue
                else:
                    slot = hist_count[lv] % HISTORY
                    hist_sig[lv, slot, :] = sig
                    hist_hash[lv, slot] = h
                    hist_time[lv, slot] = base
                    hist_iter[lv, slot] = index[d]
                    hist_count[lv] += 1
            pc = begin + 1
    return max_end, covered, evaluated, iterations


# evaluate_layer compiles the kernels of signatures.py, wavefront.py and loop_kernels.py
# into itself, but Numba keys its cache by this file alone: their source goes into the key.
_SIGNATURES_SOURCE = "".join(
    Path(module.__file__).read_text() for module in (signatures, wavefront, loop_kernels)
)


class _ImportedConstantsCache(CompiledCodeCache):
    """Numba's disk cache, keyed also by the constants evaluate_layer takes from other
    modules: Numba compiles globals in as constants but notices changes to this file
    only, so a field added to the template table (shifting the T_* columns) would
    otherwise load machine code built for the old row."""

    def _index_key(self, sig, codegen):
        return (*super()._index_key(sig, codegen), COLUMN_NAMES, MAX_DEPTH, _SIGNATURES_SOURCE)


load_compiled_code_directly(evaluate_layer, _ImportedConstantsCache)
