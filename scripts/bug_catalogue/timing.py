"""Bugs in the kernel's timing rules (docs/design.md §3): RAW, WAW, WAR, units, the front end,
marks, queues and the location chunks."""

from __future__ import annotations

from scripts.bug_catalogue.common import (
    CHUNKS,
    KERNELS,
    RULES,
    Bug,
)

KERNEL_BUGS = (
    Bug(
        "kernel.issue-width",
        KERNELS,
        "earliest = issue_ring[issue_head] + 1",
        "earliest = issue_ring[issue_head]",
        "at most `width` bundles per cycle: the next one may issue in the same cycle",
        RULES,
    ),
    Bug(
        "kernel.window-records-issue",
        KERNELS,
        "window_ring[window_head] = bundle_max_start",
        "window_ring[window_head] = issue",
        "the window waits for a bundle's latest start, not its issue",
        RULES,
    ),
    Bug(
        "kernel.window-one-cycle-early",
        KERNELS,
        "if window_ring[window_head] > issue:\n"
        "                        issue = window_ring[window_head]",
        "if window_ring[window_head] - 1 > issue:\n"
        "                        issue = window_ring[window_head] - 1",
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
        "v = write_end[o_slot[a]]",
        "v = write_end[o_slot[a]] - 1",
        "RAW: a read starts no earlier than its writer's end (one-location hot path)",
        RULES,
    ),
    Bug(
        "kernel.range-first-location-only",
        KERNELS,
        "hi = loc + o_count[a]",
        "hi = loc + 1",
        "a range operand depends on every location it covers (general path)",
        RULES,
    ),
    Bug(
        "kernel.waw-ignored",
        KERNELS,
        "                        v = write_end[loc]\n"
        "                        if v > start:\n"
        "                            start = v\n"
        "                        v = read_until[loc] - latency",
        "                        v = read_until[loc] - latency",
        "WAW: a write starts no earlier than the previous writer's end",
        RULES,
    ),
    Bug(
        "kernel.war-not-edge-triggered",
        KERNELS,
        "v = read_until[loc] - latency",
        "v = read_until[loc] - latency + 1",
        "WAR: a writer may end in the cycle after a reader's read (edge-triggered)",
        RULES,
    ),
    Bug(
        "kernel.war-waits-for-start",
        KERNELS,
        "start = max(start, read_until[x] - latency)",
        "start = max(start, read_until[x])",
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
        "a read lasts `read_time` cycles (hot path)",
        RULES,
    ),
    Bug(
        "kernel.read-time-ignored",
        KERNELS,
        "read_end = start + templates[i, T_READ_TIME]\n"
        "                    for a in range(first, last):",
        "read_end = start\n                    for a in range(first, last):",
        "a read lasts `read_time` cycles (general path, and the read marks)",
        RULES,
    ),
    Bug(
        "kernel.later-read-forgotten",
        KERNELS,
        "if read_until[loc] < read_end:",
        "if True:",
        "WAR waits for the latest read since the write, not the last one evaluated",
        RULES,
    ),
    Bug(
        "kernel.write-keeps-old-reads",
        KERNELS,
        "read_until[loc] = NEVER",
        "read_until[loc] = read_until[loc]",
        "none in cycles: a write ends the WAR window of the reads before it",
        RULES,
        equivalent="in cycles: a later writer waits for this write's end (WAW), which came "
        "after every read before it (WAR); the stale read times change only the signature, "
        "so at most how many iterations fast mode evaluates",
    ),
    Bug(
        "kernel.affine-deepest-loop-ignored",
        KERNELS,
        "for d in range(o_affine[a]):\n"
        "                            loc += o_coefs[a, d] * index[d]\n"
        "                        address[a - first] = loc",
        "for d in range(o_affine[a] - 1):\n"
        "                            loc += o_coefs[a, d] * index[d]\n"
        "                        address[a - first] = loc",
        "an affine address adds every loop index it depends on",
        RULES,
    ),
    Bug(
        "kernel.marks-at-base-address",
        KERNELS,
        "                        for d in range(o_affine[a]):\n"
        "                            loc += o_coefs[a, d] * index[d]\n"
        "                        mark = read_end if a < split else end",
        "                        mark = read_end if a < split else end",
        "a mark's address follows the loop indices like any operand's",
        RULES,
    ),
    Bug(
        "kernel.read-marks-at-end",
        KERNELS,
        "mark = read_end if a < split else end",
        "mark = end",
        "read marks are set at start + read time, marks at the end",
        RULES,
    ),
    Bug(
        "kernel.mark-first-location-only",
        KERNELS,
        "loc + o_count[a],",
        "loc + 1,",
        "a mark raises every location of its range",
        RULES,
    ),
    Bug(
        "kernel.queue-entry-freed-at-start",
        KERNELS,
        "    _take_entry(queue_ring, queue_first, queue_head, q, end)",
        "    _take_entry(queue_ring, queue_first, queue_head, q, start)",
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
        "_take_entry(queue_ring, queue_first, queue_head, issue_q, end)",
        "_take_entry(queue_ring, queue_first, queue_head, issue_q, start)",
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
        "latest = max(latest, chunk_max[c])",
        "latest = max(latest, chunk_floor[c])",
        "a whole chunk's latest write is its maximum, not its floor",
        CHUNKS,
    ),
    Bug(
        "kernel.chunk-floor-not-raised",
        KERNELS,
        "chunk_floor[c] = max(chunk_floor[c], time)",
        "chunk_max[c] = max(chunk_max[c], time)",
        "a write covering a whole chunk raises its floor",
        CHUNKS,
    ),
    Bug(
        "kernel.chunk-last-floor-ignored",
        KERNELS,
        "latest, chunk_floor[lo >> chunk_shift], chunk_floor[(hi - 1) >> chunk_shift]",
        "latest, chunk_floor[lo >> chunk_shift], chunk_floor[lo >> chunk_shift]",
        "a short range across two chunks reads both chunks' floors",
        CHUNKS,
    ),
    Bug(
        "kernel.chunk-last-max-not-raised",
        KERNELS,
        "chunk_max[last] = max(chunk_max[last], time)",
        "chunk_max[first] = max(chunk_max[first], time)",
        "a short write across two chunks raises both chunks' maxima",
        CHUNKS,
    ),
    Bug(
        "kernel.chunk-short-range-path",
        KERNELS,
        'answers from its maximum, a partial one from its locations and its floor."""\n'
        "    if chunk_shift == 0 or hi - lo <= 1 << chunk_shift:",
        'answers from its maximum, a partial one from its locations and its floor."""\n'
        "    if chunk_shift == 0 or hi - lo < 1 << chunk_shift:",
        "none: a range of exactly one chunk takes the chunked path instead of the short one",
        CHUNKS,
        equivalent="both paths return the latest write of the range: the short one reads "
        "every location and both floors, the long one whole chunks' maxima",
    ),
)
