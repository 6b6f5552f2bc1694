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
from numba.core.registry import CPUDispatcher as Dispatcher

from analyzer.engine import (
    ahead,
    arrays,
    layout,
    loop_kernels,
    loop_skips,
    runs,
    signatures,
    translated,
    wavefront,
)
from analyzer.engine.ahead import _ahead_arrays, _ahead_boundary
from analyzer.engine.jit_cache import CompiledCodeCache, load_compiled_code_directly
from analyzer.engine.layout import (
    BLOCK,
    LOOP_BEGIN,
    NEVER,
    SIMPLE_FIXED,
    SIMPLE_MOVING,
    SIMPLE_SHARED,
)
from analyzer.engine.loop_kernels import _offset_steps
from analyzer.engine.loop_skips import (
    NO_START,
    WAVE_REJECTED,
    _boundary_signature,
    _enter_translating_loop,
    _keep_boundary,
    _level_arrays,
    _no_periods_yet,
    _recall_from_memo,
    _remember_loop,
    _skip_levels,
    _skip_periods,
    _step_offsets,
    _translated_boundary,
    _wavefront_boundary,
)
from analyzer.engine.runs import _mark_runs
from analyzer.engine.signatures import (
    _frontend_table,
    _idle_state,
    _load_frontend,
    _save_frontend,
    _signature_length,
    _signature_width,
)
from analyzer.engine.template_row import (
    COLUMN_NAMES,
    T_BUNDLE_START,
    T_FRONTEND,
    T_INSTANCE_OFFSET,
    T_ISSUE_QUEUE,
    T_LATENCY,
    T_MARKS_END,
    T_OCCUPANCY,
    T_OPERANDS_FIRST,
    T_QUEUE,
    T_READ_MARKS_END,
    T_READ_TIME,
    T_READS_END,
    T_SIMPLE,
    T_UNIT,
    T_WRITES_END,
)
from isa.program import MAX_DEPTH

# Validation keeps every address of a program within its space (and every unit instance
# within its kind), so one outside the state arrays means the kernel's affine offsets no
# longer match the loop indices: stop rather than read or write outside them (their
# indexing is unchecked).
_ADDRESS_DRIFT = "an address or unit instance left the machine: the affine offsets drifted"


@njit(cache=True)
def evaluate_layer(
    layer, program, memo, workspace, fast, compare_budget, ahead_periods, record_first, record
):
    """Evaluate one layer (`layer`: LayerArrays) of a program (`program`: ProgramArrays).
    Returns (cycles, instructions covered, evaluated instructions, evaluated iterations).

    With a non-empty `record` (int64[n, 3]), the issue, start and end cycles of
    instructions record_first, record_first + 1, ... (index in program order; use full
    mode) are written to its rows and evaluation stops after the last of them.

    Memo (`memo`: MemoArrays; fast mode, across calls for one program): stored evolutions
    of loops whose body no index of theirs or around them moves (loop_skips.py,
    _recall_from_memo).

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
    With `ahead_periods`, loops their front end runs ahead of also compare boundaries at
    their iterations' earliest starts (ahead.py, docs/design.md §4.11).
    """
    op_kind, op_arg, op_arg2, op_jump = layer.kind, layer.arg, layer.arg2, layer.jump
    op_depth, op_skippable, op_work, op_memo = layer.depth, layer.skippable, layer.work, layer.memo
    op_translate, op_ahead = layer.translate, layer.ahead
    templates = program.templates
    o_location = program.operand_location
    o_count, o_track = program.operand_count, program.operand_track
    o_offset = program.operand_offset
    queue_first, chunk_shift = program.queue_first, program.chunk_shift
    n_units, n_locations, min_latency = program.n_units, program.n_locations, program.min_latency
    # The hot path indexes with uint64, so Numba leaves out the wraparound check, and a
    # location that drifted below zero wraps above every slot: one comparison checks both.
    n_slots = np.uint64(n_locations)
    # Front ends (docs/design.md §3.2): their state in `frontend`; the one issuing now
    # (`active`) in the locals below, written back (_save_frontend) before fast mode reads
    # or restores the state, and read again after.
    frontend = _frontend_table(program.frontends)
    active = 0
    (
        issue, issue_head, window_head, bundle_open, bundle_max_start,
        width, window, frontend_delay, ring_first, window_first,
    ) = _load_frontend(frontend, active)  # fmt: skip

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
    hot = np.zeros(max_operands, dtype=np.uint64)  # the hot path's locations
    chunk_size = 1 << chunk_shift
    # The general path's affine offsets (program.offset_coefs . index), kept up to date at
    # LOOP_END rather than summed per operand (see _offset_steps).
    offset = np.zeros(program.offset_coefs.shape[0], dtype=np.int64)
    step_first, step_offset, step_size = _offset_steps(layer, templates, program)

    level_of, levels = _skip_levels(layer, fast)
    # Only translated periods read runs (translated.py): in fast mode, in a layer with a
    # loop that may translate.
    keep_runs = False
    if levels > 0 and program.keeps_runs:
        for pc in range(layer.kind.shape[0]):  # not .any(): its code imports numba's linalg
            keep_runs |= layer.translate[pc]
    # The arrays fast mode saves and restores, as one tuple (they are mutated in place).
    state, queue_head = _idle_state(program, frontend, keep_runs)
    unit_free, write_end, read_until, issue_ring, window_ring, queue_ring = state[:6]
    chunk_floor, chunk_max, chunk_read, run_start = state[6], state[7], state[8], state[9]
    # A signature's dense length (its cost, which decides how often loops compare) and
    # the width of its sparse layout's buffers (signatures.py).
    sig_len = _signature_length(state, frontend) if levels > 0 else 0
    sig_width = _signature_width(state, frontend) if levels > 0 else 0
    # Fast mode's signatures and scratch: rows for `levels` levels, as wide as the
    # program's signature (analyzer/engine/workspace.py makes them so).
    sig = workspace.signature
    memo_capacity = memo.keys.shape[0] if memo.keys.shape[1] == sig_width else 0
    n_machine = sig_len - 2 * n_locations  # a signature's items before its locations'
    history, translation, wavefronts, entries, scratch = _level_arrays(
        levels, workspace, n_locations, n_units, layer.kind.shape[0]
    )
    hist_iter, hist_count, memo_pending = history[3], history[4], entries[5]
    n_regions, compare_every, wave_gate = translation[1], translation[2], translation[4]
    wave, track_min, tracked = wavefronts[0], wavefronts[3], wavefronts[6]
    # Ahead periods compare locations one by one: not with chunk floors (§3.7).
    levels_ahead = levels if ahead_periods and chunk_shift == 0 else 0
    ahead_levels = _ahead_arrays(layer, level_of, levels_ahead, n_units + 2 * n_locations)
    n_tracked = 0  # the wavefront levels open, tracked[:n_tracked], innermost last
    machine = (min_latency, queue_first, queue_head, chunk_shift)
    steps = (step_first, step_offset, step_size)

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
                    # The issue rule (§3.2); ahead._ahead_frontend steps it over skipped
                    # periods: a change here is a change there.
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
                moves = templates[i, T_INSTANCE_OFFSET]
                moved_by = 0
                if moves != 0:
                    moved_by = offset[np.uint64(moves)]
                    unit += moved_by
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
                simple = templates[i, T_SIMPLE]
                if simple == SIMPLE_FIXED or simple == SIMPLE_SHARED:
                    # Hot path: single locations, fixed or all moved by the unit instance's
                    # offset (each systolic MAC), one add and no lookup per operand; never
                    # with chunked locations (analyzer/engine/packing.py).
                    shift = moved_by if simple == SIMPLE_SHARED else 0
                    for a in range(np.uint64(first), np.uint64(split)):
                        loc = np.uint64(o_location[a] + shift)
                        if loc >= n_slots:
                            raise IndexError(_ADDRESS_DRIFT)
                        v = write_end[loc]
                        if v > start:
                            start = v
                    for a in range(np.uint64(split), np.uint64(last)):
                        loc = np.uint64(o_location[a] + shift)
                        if loc >= n_slots:
                            raise IndexError(_ADDRESS_DRIFT)
                        v = write_end[loc]
                        if v > start:
                            start = v
                        v = read_until[loc] - latency
                        if v > start:
                            start = v
                    end = start + latency
                    read_end = start + templates[i, T_READ_TIME]
                    for a in range(np.uint64(first), np.uint64(split)):
                        loc = np.uint64(o_location[a] + shift)
                        if read_until[loc] < read_end:
                            read_until[loc] = read_end
                    for a in range(np.uint64(split), np.uint64(last)):
                        loc = np.uint64(o_location[a] + shift)
                        write_end[loc] = end
                        read_until[loc] = end
                elif simple == SIMPLE_MOVING:
                    # The same for single locations that move otherwise (a systolic
                    # preload, which also reads the fixed fold token): each operand's own
                    # offset looked up once, the location kept in `hot`. (One set of loops
                    # for both paths, choosing the shift per operand, ran the systolic
                    # array's full evaluation 9% slower.)
                    k = np.uint64(0)
                    for a in range(np.uint64(first), np.uint64(last)):
                        loc = o_location[a] + offset[np.uint64(o_offset[a])]
                        if loc < 0 or loc >= n_locations:
                            raise IndexError(_ADDRESS_DRIFT)
                        hot[k] = np.uint64(loc)
                        k += np.uint64(1)
                    reads, operands = np.uint64(split - first), np.uint64(last - first)
                    for k in range(reads):
                        v = write_end[hot[k]]
                        if v > start:
                            start = v
                    for k in range(reads, operands):
                        loc = hot[k]
                        v = write_end[loc]
                        if v > start:
                            start = v
                        v = read_until[loc] - latency
                        if v > start:
                            start = v
                    end = start + latency
                    read_end = start + templates[i, T_READ_TIME]
                    for k in range(reads):
                        loc = hot[k]
                        if read_until[loc] < read_end:
                            read_until[loc] = read_end
                    for k in range(reads, operands):
                        loc = hot[k]
                        write_end[loc] = end
                        read_until[loc] = end
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
                            hi = lo + o_count[a]
                            for x in range(np.uint64(lo), np.uint64(hi)):
                                if read_until[x] < read_end:
                                    read_until[x] = read_end
                            if chunk_shift > 0:  # the chunks' read bounds (§3.7)
                                for c in range(lo >> chunk_shift, ((hi - 1) >> chunk_shift) + 1):
                                    if chunk_read[c] < read_end:
                                        chunk_read[c] = read_end
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
                                read_until[x] = end
                            if chunk_shift > 0:
                                for c in range(lo >> chunk_shift, ((hi - 1) >> chunk_shift) + 1):
                                    if chunk_read[c] < end:
                                        chunk_read[c] = end
                    if keep_runs:
                        # Runs (§3.7), apart from the loops above, which full mode runs: a
                        # range updated may start a run at either end. A write's range now
                        # holds one write time in every branch (its end is after every write
                        # time there, WAW; a whole chunk's floor rises to it) and no read:
                        # one run. A read's or a mark's keeps the times above the one it
                        # raises to.
                        for a in range(first, templates[i, T_MARKS_END]):
                            if a < split and not o_track[a]:
                                continue  # a read whose times are not kept changes none
                            if a < last:
                                lo = address[a - first]
                            else:
                                lo = o_location[a] + offset[o_offset[a]]
                            uniform = a >= split and a < last
                            _mark_runs(run_start, lo, lo + o_count[a], n_locations, uniform)
                if templates[i, T_SIMPLE] and last < templates[i, T_MARKS_END]:
                    # Marks of a simple template, one location each, fixed or moving (here,
                    # not in its branch above: the systolic array's full evaluation, which
                    # has none, measured 6-9% slower with them there).
                    marks_split = templates[i, T_READ_MARKS_END]
                    for a in range(last, templates[i, T_MARKS_END]):
                        loc = o_location[a] + offset[o_offset[a]]
                        if loc < 0 or loc >= n_locations:
                            raise IndexError(_ADDRESS_DRIFT)
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
            # Fast mode's loop entry (loop_skips.py): which periods a translating loop may
            # take; a skippable loop's first signature, and the memo's stored evolutions.
            if levels > 0 and op_translate[pc]:
                if wave_gate[pc] == WAVE_REJECTED:
                    _no_periods_yet(level_of[d], history, translation, wavefronts)
                else:
                    n_tracked = _enter_translating_loop(
                        layer, program, pc, index, level_of[d], n_machine, compare_budget,
                        chunk_shift, history, translation, wavefronts, n_tracked,
                    )  # fmt: skip
            # A skippable loop's entry signature serves the boundaries sampled in the
            # loop (§4.4) and the memo (§4.8): it is taken only where the loop reaches a
            # sampled boundary, so a loop whose evaluation costs less than a signature is
            # just evaluated, and reads neither (nor the history it would have reset).
            if (
                levels > 0
                and op_skippable[pc]
                and sig_len < compare_budget * op_arg[pc] * max(1, op_work[pc])
            ):
                lv = level_of[d]
                front = (issue, issue_head, window_head, bundle_open, bundle_max_start)
                base, h = _boundary_signature(
                    sig, state, frontend, active, front, layer.live[pc], max_end, machine
                )
                _keep_boundary(history, lv, 0, sig, h, base, 0)
                hist_count[lv] = 1
                memo_pending[lv] = False
                if memo_capacity > 0 and op_memo[pc] != 0:
                    recalled, recalled_covered, active, max_end = _recall_from_memo(
                        memo, memo_capacity, op_memo[pc], op_arg[pc], sig, h, base, covered,
                        bundle_open, state, frontend, machine, history, lv, entries,
                        wavefronts, n_tracked, active, max_end,
                    )  # fmt: skip
                    if recalled >= 0:
                        (
                            issue, issue_head, window_head, bundle_open, bundle_max_start,
                            width, window, frontend_delay, ring_first, window_first,
                        ) = _load_frontend(frontend, active)  # fmt: skip
                        index[d] = recalled
                        covered += recalled_covered
                        if recalled >= op_arg[pc]:
                            pc = op_jump[pc] + 1  # the memo covered every trip
                            continue
            if levels_ahead > 0 and op_ahead[pc]:
                # Its iterations' earliest starts are tracked from here (ahead.py).
                lv = level_of[d]
                ahead_levels[2][lv] = -1
                track_min[lv] = NO_START
                tracked[n_tracked] = lv
                n_tracked += 1
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
            # Fast mode's boundaries (loop_skips.py): wavefront periods (docs/design.md
            # §4.7), translated periods (§4.6), then at the loop's end the memo (§4.8) or,
            # at a sampled boundary, whole-state periods (§4.4-4.5).
            if levels > 0 and op_translate[begin] and wave[level_of[d]] and index[d] < trips:
                skipped = _wavefront_boundary(
                    index[d], trips, issue, frontend_delay, min_latency, state, scratch,
                    history, translation, wavefronts, level_of[d],
                )  # fmt: skip
                if skipped > 0:
                    index[d] += skipped
                    _step_offsets(offset, steps, begin, skipped)
                    covered += op_arg2[begin] * skipped
            elif levels > 0 and op_translate[begin] and index[d] < trips:
                # Decided here, the kernel called only when due (most boundaries are not):
                # the boundary before every compare_every-th is kept, that one compared.
                lv = level_of[d]
                i = index[d]
                every = compare_every[lv]
                compare_now = i % every == 0 and hist_iter[lv, 0] == i - 1
                keep_now = (i + 1) % every == 0 and i + 1 < trips
                if n_regions[lv] >= 0 and (compare_now or keep_now):
                    front = (issue, issue_head, window_head, bundle_open, bundle_max_start)
                    periods, active, max_end = _translated_boundary(
                        sig, i, trips, compare_now, keep_now, layer.live[begin], n_machine,
                        state, scratch, frontend, active, front, max_end, machine, history,
                        translation, lv,
                    )  # fmt: skip
                    if periods >= 0:
                        (
                            issue, issue_head, window_head, bundle_open, bundle_max_start,
                            width, window, frontend_delay, ring_first, window_first,
                        ) = _load_frontend(frontend, active)  # fmt: skip
                        index[d] += periods
                        # The affine offsets follow the index: moved with it, and back to
                        # their value outside the loop if the skip ends it.
                        moved = periods - (index[d] if index[d] >= trips else 0)
                        _step_offsets(offset, steps, begin, moved)
                        covered += op_arg2[begin] * periods
                        if index[d] >= trips:
                            pc += 1
                            continue
            if levels_ahead > 0 and op_ahead[begin]:
                # Ahead periods (docs/design.md §4.11), compared as often as whole states.
                lv = level_of[d]
                earliest = track_min[lv]
                track_min[lv] = NO_START
                if index[d] < trips:
                    every = max(1, sig_len // (compare_budget * max(1, op_work[begin])))
                    skipped, issue, issue_head, window_head, bundle_max_start = _ahead_boundary(
                        index[d], trips, every, earliest, state, ahead_levels, lv,
                        (issue, issue_head, window_head, bundle_max_start),
                        (frontend_delay, width, window, ring_first, window_first),
                    )  # fmt: skip
                    if skipped > 0:
                        index[d] += skipped
                        covered += op_arg2[begin] * skipped
                else:
                    n_tracked -= 1  # loops nest: it is the latest tracked
            if index[d] >= trips:
                if levels > 0 and op_translate[begin] and wave[level_of[d]]:
                    n_tracked -= 1  # loops nest: it is the latest tracked
                if levels > 0 and op_skippable[begin] and memo_pending[level_of[d]]:
                    # No period within the loop: remember its whole evolution instead.
                    front = (issue, issue_head, window_head, bundle_open, bundle_max_start)
                    base, h = _boundary_signature(
                        sig, state, frontend, active, front, layer.live[begin], max_end, machine
                    )
                    _remember_loop(
                        memo, op_memo[begin], index[d], sig, h, base, covered, entries,
                        level_of[d],
                    )  # fmt: skip
                pc += 1
                continue
            if (
                levels > 0
                and op_skippable[begin]
                and index[d] % max(1, sig_len // (compare_budget * max(1, op_work[begin]))) == 0
            ):
                front = (issue, issue_head, window_head, bundle_open, bundle_max_start)
                base, h = _boundary_signature(
                    sig, state, frontend, active, front, layer.live[begin], max_end, machine
                )
                period, periods, active, max_end = _skip_periods(
                    sig, h, base, index[d], trips, covered, op_memo[begin], memo, state,
                    frontend, machine, history, entries, level_of[d], active, max_end,
                )  # fmt: skip
                if periods > 0:
                    (
                        issue, issue_head, window_head, bundle_open, bundle_max_start,
                        width, window, frontend_delay, ring_first, window_first,
                    ) = _load_frontend(frontend, active)  # fmt: skip
                    index[d] += periods * period
                    covered += periods * period * op_arg2[begin]
                if period > 0 and index[d] >= trips:
                    if levels_ahead > 0 and op_ahead[begin]:
                        n_tracked -= 1
                    pc += 1
                    continue
            pc = begin + 1
    return max_end, covered, evaluated, iterations


# evaluate_layer compiles the kernels of signatures.py, runs.py, translated.py,
# wavefront.py, loop_kernels.py, loop_skips.py and ahead.py into itself, and the constants
# of layout.py and arrays.py, but Numba keys its cache by this file alone: their source
# goes into the key.
_SIGNATURES_SOURCE = "".join(
    Path(module.__file__).read_text()
    for module in (
        signatures,
        runs,
        translated,
        wavefront,
        loop_kernels,
        loop_skips,
        ahead,
        layout,
        arrays,
    )  # fmt: skip
)


class _ImportedConstantsCache(CompiledCodeCache):
    """Numba's disk cache, keyed also by the constants evaluate_layer takes from other
    modules: Numba compiles globals in as constants but notices changes to this file
    only, so a field added to the template table (shifting the T_* columns) would
    otherwise load machine code built for the old row."""

    def _index_key(self, sig, codegen):
        return (*super()._index_key(sig, codegen), COLUMN_NAMES, MAX_DEPTH, _SIGNATURES_SOURCE)


load_compiled_code_directly(evaluate_layer, _ImportedConstantsCache)
# The kernels evaluate_layer calls keep disk caches of their own, keyed by their own file:
# when evaluate_layer recompiles after an edit to a module one of them calls into (say
# signatures.py, which loop_skips.py's kernels call), Numba would link that kernel's
# cached code, built from the old source. Found when a seeded bug in signatures.py
# "survived" because loop_skips.py's cached _boundary_signature still held the unmutated
# _signature. Each of them is keyed by every engine module's source too.
for _module in (signatures, runs, translated, wavefront, loop_kernels, loop_skips, ahead):
    for _kernel in vars(_module).values():
        if isinstance(_kernel, Dispatcher) and _kernel.py_func.__module__ == _module.__name__:
            load_compiled_code_directly(_kernel, _ImportedConstantsCache)
