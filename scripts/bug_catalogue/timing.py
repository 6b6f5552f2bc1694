"""Bugs in the kernel's timing rules (docs/design.md §3): RAW, WAW, WAR, units, the front end,
marks, queues and the location chunks."""

from __future__ import annotations

from scripts.bug_catalogue.common import (
    CHUNKS,
    KERNELS,
    LOOP_KERNELS,
    RULES,
    Bug,
)

# The hot paths' write operands up to their WAR check: the fixed or shifted path's and the
# moving path's, which differ in how they name the location.
_WRITE_CHECKS = (
    "\n                        v = write_end[loc]\n"
    "                        if v > start:\n"
    "                            start = v\n"
    "                        "
)
_SHIFTED_LOCATION = (
    "loc = np.uint64(o_location[a] + shift)\n"
    "                        if loc >= n_slots:\n"
    "                            raise IndexError(_ADDRESS_DRIFT)"
)
_SHIFTED_WRITE = _SHIFTED_LOCATION + _WRITE_CHECKS
_MOVING_WRITE = "loc = hot[k]" + _WRITE_CHECKS

# The hot paths run the systolic array's PE instructions (one-location operands that move
# with the loops: the shifted path where they move as the PE does, the moving path
# otherwise); the random programs keep runs, so take the general path.
MOVING_PATH = (*RULES, "tests/test_fidelity_scalesim.py::test_cycles_match_scalesim")

KERNEL_BUGS = (
    Bug(
        "kernel.issue-width",
        KERNELS,
        "earliest = issue_ring[ring_first + issue_head] + 1",
        "earliest = issue_ring[ring_first + issue_head]",
        "at most `width` bundles per cycle: the next one may issue in the same cycle",
        RULES,
    ),
    Bug(
        "kernel.window-records-issue",
        KERNELS,
        "window_ring[window_first + window_head] = bundle_max_start",
        "window_ring[window_first + window_head] = issue",
        "the window waits for a bundle's latest start, not its issue",
        RULES,
    ),
    Bug(
        "kernel.window-one-cycle-early",
        KERNELS,
        "if window_ring[window_first + window_head] > issue:\n"
        "                        issue = window_ring[window_first + window_head]",
        "if window_ring[window_first + window_head] - 1 > issue:\n"
        "                        issue = window_ring[window_first + window_head] - 1",
        "bundle b issues no earlier than the latest start in bundle b - window",
        RULES,
    ),
    Bug(
        "kernel.bundle-latest-start",
        KERNELS,
        "if start > bundle_max_start:",
        "if start < bundle_max_start:",
        "the window ring holds each bundle's latest start",
        RULES,
    ),
    Bug(
        "kernel.frontend-delay",
        KERNELS,
        "start = issue + frontend_delay",
        "start = issue",
        "start >= issue + front-end delay",
        RULES,
    ),
    Bug(
        "kernel.occupancy-is-latency",
        KERNELS,
        "unit_free[u] = start + templates[i, T_OCCUPANCY]",
        "unit_free[u] = start + templates[i, T_LATENCY]",
        "a unit instance starts one instruction per `occupancy` cycles",
        RULES,
    ),
    Bug(
        "kernel.unit-free-ties",
        KERNELS,
        "if unit_free[u] > start:",
        "if unit_free[u] >= start:",
        "none: raising start to a unit free time equal to it changes nothing",
        RULES,
        equivalent="`if x >= start: start = x` and `if x > start: start = x` leave the same start",
    ),
    Bug(
        "kernel.raw-one-cycle-early",
        KERNELS,
        _SHIFTED_LOCATION + "\n                        v = write_end[loc]\n"
        "                        if v > start:\n"
        "                            start = v\n"
        "                    for a in range(np.uint64(split), np.uint64(last)):",
        _SHIFTED_LOCATION + "\n                        v = write_end[loc] - 1\n"
        "                        if v > start:\n"
        "                            start = v\n"
        "                    for a in range(np.uint64(split), np.uint64(last)):",
        "RAW: a read starts no earlier than its writer's end (fixed or shifted hot path)",
        MOVING_PATH,
    ),
    Bug(
        "kernel.shifted-path-unshifted",
        KERNELS,
        "shift = moved_by if simple == SIMPLE_SHARED else 0",
        "shift = 0",
        "a PE's operands move with it: the shifted hot path adds the instance's offset",
        (
            "tests/test_timing_rules.py::test_a_pe_instruction_moves_its_operands_with_its_instance",
            *MOVING_PATH,
        ),
    ),
    Bug(
        "kernel.raw-one-cycle-early-moving",
        KERNELS,
        "v = write_end[hot[k]]",
        "v = write_end[hot[k]] - 1",
        "RAW: a read starts no earlier than its writer's end (moving one-location hot path)",
        MOVING_PATH,
    ),
    Bug(
        "kernel.range-first-location-only",
        KERNELS,
        "address[a - first] = lo\n                        hi = lo + o_count[a]",
        "address[a - first] = lo\n                        hi = lo + 1",
        "a range operand depends on every location it covers (general path)",
        RULES,
    ),
    Bug(
        "kernel.waw-ignored",
        KERNELS,
        _SHIFTED_WRITE + "v = read_until[loc] - latency",
        _SHIFTED_LOCATION + "\n                        v = read_until[loc] - latency",
        "WAW: a write starts no earlier than the previous writer's end (fixed or shifted hot path)",
        MOVING_PATH,
    ),
    Bug(
        "kernel.waw-ignored-moving",
        KERNELS,
        "loc = hot[k]\n"
        "                        v = write_end[loc]\n"
        "                        if v > start:\n"
        "                            start = v\n"
        "                        v = read_until[loc] - latency",
        "loc = hot[k]\n                        v = read_until[loc] - latency",
        "WAW: a write starts no earlier than the previous writer's end (moving hot path)",
        MOVING_PATH,
    ),
    Bug(
        "kernel.war-not-edge-triggered",
        KERNELS,
        _SHIFTED_WRITE + "v = read_until[loc] - latency",
        _SHIFTED_WRITE + "v = read_until[loc] - latency + 1",
        "WAR: a writer may end in the cycle after a reader's read (edge-triggered; fixed or "
        "shifted hot path)",
        MOVING_PATH,
    ),
    Bug(
        "kernel.war-not-edge-triggered-moving",
        KERNELS,
        _MOVING_WRITE + "v = read_until[loc] - latency",
        _MOVING_WRITE + "v = read_until[loc] - latency + 1",
        "WAR: a writer may end in the cycle after a reader's read (edge-triggered; moving "
        "hot path)",
        MOVING_PATH,
    ),
    Bug(
        "kernel.war-waits-for-start",
        KERNELS,
        "need = max(need, v - latency)",
        "need = max(need, v)",
        "WAR bounds a writer's end, not its start (general path)",
        RULES,
    ),
    Bug(
        "kernel.read-time-is-latency",
        KERNELS,
        "read_end = start + templates[i, T_READ_TIME]\n"
        "                    for a in range(np.uint64(first), np.uint64(split)):",
        "read_end = start + latency\n"
        "                    for a in range(np.uint64(first), np.uint64(split)):",
        "a read lasts `read_time` cycles (fixed or shifted hot path)",
        RULES,
    ),
    Bug(
        "kernel.read-time-is-latency-moving",
        KERNELS,
        "read_end = start + templates[i, T_READ_TIME]\n                    for k in range(reads):",
        "read_end = start + latency\n                    for k in range(reads):",
        "a read lasts `read_time` cycles (moving hot path)",
        (
            "tests/test_timing_rules.py::test_war_with_a_streamed_read_and_a_long_latency_writer",
            *MOVING_PATH,
        ),
    ),
    Bug(
        "kernel.read-time-ignored",
        KERNELS,
        "read_end = start + templates[i, T_READ_TIME]\n"
        "                    for a in range(first, split):",
        "read_end = start\n                    for a in range(first, split):",
        "a read lasts `read_time` cycles (general path, and its read marks)",
        RULES,
    ),
    Bug(
        "kernel.later-read-forgotten",
        KERNELS,
        "loc = np.uint64(o_location[a] + shift)\n"
        "                        if read_until[loc] < read_end:",
        "loc = np.uint64(o_location[a] + shift)\n                        if True:",
        "WAR waits for the latest read since the write, not the last one evaluated (fixed or "
        "shifted hot path)",
        MOVING_PATH,
    ),
    Bug(
        "kernel.later-read-forgotten-moving",
        KERNELS,
        "loc = hot[k]\n                        if read_until[loc] < read_end:",
        "loc = hot[k]\n                        if True:",
        "WAR waits for the latest read since the write, not the last one evaluated (moving "
        "hot path)",
        MOVING_PATH,
    ),
    Bug(
        "kernel.write-keeps-old-reads",
        KERNELS,
        "                        read_until[loc] = end\n"
        "                elif simple == SIMPLE_MOVING:",
        "                        read_until[loc] = read_until[loc]\n"
        "                elif simple == SIMPLE_MOVING:",
        "none in cycles: a write ends the WAR window of the reads before it",
        RULES,
        equivalent="in cycles: a later writer waits for this write's end (WAW), which came "
        "after every read before it (WAR); the stale read times change only the signature, "
        "so at most how many iterations fast mode evaluates",
    ),
    Bug(
        "kernel.write-leaves-reads-pending-past-its-end",
        KERNELS,
        "                                read_until[x] = end\n",
        "                                read_until[x] = end + 1\n",
        "a write leaves its range's read-until time at its own end, which holds no later "
        "writer back beyond WAW (docs/design.md §3.4)",
        RULES,
    ),
    Bug(
        "kernel.affine-offset-one-loop-only",
        LOOP_KERNELS,
        "if offset_coefs[k, d] != 0 and seen[k] != pc:",
        "if offset_coefs[k, d] != 0 and seen[k] < 0:",
        "an affine address adds every loop index it depends on, not only the outermost's",
        RULES,
    ),
    Bug(
        "kernel.affine-offset-kept-after-loop",
        KERNELS,
        "moved = 1 if index[d] < trips else 1 - index[d]",
        "moved = 1 if index[d] < trips else 0",
        "a loop's index adds nothing to an address once the loop has ended (its next "
        "instance starts again from index 0)",
        RULES,
    ),
    Bug(
        "kernel.affine-offset-reset-one-short",
        KERNELS,
        "moved = 1 if index[d] < trips else 1 - index[d]",
        "moved = 1 if index[d] < trips else -index[d]",
        "leaving a loop takes back exactly the steps its trips added",
        RULES,
    ),
    Bug(
        "kernel.marks-at-base-address",
        KERNELS,
        "lo = o_location[a] + offset[o_offset[a]]\n                            time",
        "lo = o_location[a]\n                            time",
        "a mark's address follows the loop indices like any operand's",
        RULES,
    ),
    Bug(
        "kernel.read-marks-at-end",
        KERNELS,
        "time = read_end if a < marks_split else end",
        "time = end",
        "read marks are set at start + read time, marks at the end (general path)",
        RULES,
    ),
    Bug(
        "kernel.read-marks-at-end-one-location",
        KERNELS,
        "mark = read_end if a < marks_split else end",
        "mark = end",
        "read marks are set at start + read time, marks at the end (hot path)",
        RULES,
    ),
    Bug(
        "kernel.mark-first-location-only",
        KERNELS,
        "time = read_end if a < marks_split else end\n                        hi = lo + o_count[a]",
        "time = read_end if a < marks_split else end\n                        hi = lo + 1",
        "a mark raises every location of its range",
        RULES,
    ),
    Bug(
        "kernel.queue-entry-freed-at-start",
        KERNELS,
        "slot = queue_first[q] + queue_head[q]\n                    queue_ring[slot] = end",
        "slot = queue_first[q] + queue_head[q]\n                    queue_ring[slot] = start",
        "a queue entry is held until the instruction's end",
        RULES,
    ),
    Bug(
        "kernel.queue-entry-one-cycle-early",
        KERNELS,
        "v = queue_ring[queue_first[q] + queue_head[q]]",
        "v = queue_ring[queue_first[q] + queue_head[q]] - 1",
        "an instruction of a full queue starts no earlier than the end freeing its entry",
        RULES,
    ),
    Bug(
        "kernel.queue-ring-one-short",
        KERNELS,
        "if queue_head[q] == queue_first[q + 1] - queue_first[q]:",
        "if queue_head[q] >= queue_first[q + 1] - queue_first[q] - 1:",
        "a queue of n entries lets n instructions hold one at once",
        RULES,
    ),
    Bug(
        "kernel.issue-queue-ring-one-short",
        KERNELS,
        "if queue_head[issue_q] == queue_first[issue_q + 1] - queue_first[issue_q]:",
        "if queue_head[issue_q] >= queue_first[issue_q + 1] - queue_first[issue_q] - 1:",
        "an issue queue of n entries lets n instructions hold one at once",
        RULES,
    ),
    Bug(
        "kernel.issue-queue-one-cycle-early",
        KERNELS,
        "v = queue_ring[queue_first[issue_q] + queue_head[issue_q]]",
        "v = queue_ring[queue_first[issue_q] + queue_head[issue_q]] - 1",
        "a bundle needing a full issue queue issues no earlier than its entry is free",
        RULES,
    ),
    Bug(
        "kernel.issue-queue-freed-at-start",
        KERNELS,
        "slot = queue_first[issue_q] + queue_head[issue_q]\n"
        "                    queue_ring[slot] = end",
        "slot = queue_first[issue_q] + queue_head[issue_q]\n"
        "                    queue_ring[slot] = start",
        "an issue queue's entry is held until the instruction's end",
        RULES,
    ),
    Bug(
        "kernel.cycles-last-end",
        KERNELS,
        "if end > max_end:",
        "if True:",
        "a layer's cycles are its latest end, not the end of its last instruction",
        RULES,
    ),
    Bug(
        "kernel.chunk-answers-from-floor",
        KERNELS,
        "v = chunk_max[c]",
        "v = chunk_floor[c]",
        "a whole chunk's latest write is its maximum, not its floor",
        CHUNKS,
    ),
    Bug(
        "kernel.chunk-floor-not-raised",
        KERNELS,
        "if chunk_floor[c] < time:\n                                        chunk_floor[c] = time",
        "if chunk_max[c] < time:\n                                        chunk_max[c] = time",
        "a write covering a whole chunk raises its floor",
        CHUNKS,
    ),
    Bug(
        "kernel.chunk-last-floor-ignored",
        KERNELS,
        "v = max(chunk_floor[c], chunk_floor[c_last])",
        "v = max(chunk_floor[c], chunk_floor[c])",
        "a short range across two chunks reads both chunks' floors",
        CHUNKS,
    ),
    Bug(
        "kernel.chunk-last-max-not-raised",
        KERNELS,
        "chunk_max[c_last] = max(chunk_max[c_last], time)",
        "chunk_max[c] = max(chunk_max[c], time)",
        "a short write across two chunks raises both chunks' maxima",
        CHUNKS,
    ),
    Bug(
        "kernel.chunk-last-max-not-set",
        KERNELS,
        "chunk_max[c] = time\n                                chunk_max[c_last] = time",
        "chunk_max[c] = time",
        "a short write across two chunks, later than both, sets both chunks' maxima",
        CHUNKS,
    ),
    Bug(
        "kernel.chunk-read-skipped-on-first-max",
        KERNELS,
        "if chunk_max[c] > start or chunk_max[c_last] > start:",
        "if chunk_max[c] > start:",
        "a short range across two chunks is skipped only when neither chunk's maximum is "
        "later than the start",
        CHUNKS,
    ),
    Bug(
        "kernel.chunk-write-overwrites-later",
        KERNELS,
        "if chunk_max[c] <= time and chunk_max[c_last] <= time:",
        "if chunk_max[c] <= time:",
        "a short write sets its locations outright only when no location of either chunk "
        "was written later",
        CHUNKS,
    ),
    Bug(
        "kernel.chunk-short-range-path",
        KERNELS,
        "if chunk_shift > 0 and hi - lo <= chunk_size:\n"
        "                            c = lo >> chunk_shift\n"
        "                            c_last = (hi - 1) >> chunk_shift\n"
        "                            # A chunk's",
        "if chunk_shift > 0 and hi - lo < chunk_size:\n"
        "                            c = lo >> chunk_shift\n"
        "                            c_last = (hi - 1) >> chunk_shift\n"
        "                            # A chunk's",
        "none: a range of exactly one chunk takes the chunked path instead of the short one",
        CHUNKS,
        equivalent="both paths give the same start: the short one reads every location and "
        "both floors (none when both chunks' maxima are no later than the start so far), the "
        "long one whole chunks' maxima",
    ),
)
