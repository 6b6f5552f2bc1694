"""The bugs scripts/seed_bugs.py seeds, one plausible mistake each.

Every entry names a file, a source text that must occur in it exactly once (so a refactor
that moves the code makes the entry stale, and `seed_bugs.py --check` and
tests/test_seed_bugs.py say which), its replacement, the rule the replacement breaks, and
the tests expected to notice, fastest and most targeted first (pytest runs them with -x;
a bug that survives them is run on the whole default suite before it counts as a
survivor). `equivalent` says why a mutant cannot change any result (docs/testing.md);
`awaiting` names the test work that is to catch a bug the suite misses today.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Bug:
    name: str  # area.what, e.g. kernel.war-not-edge-triggered
    path: str  # relative to the repository root
    find: str  # exact source text, present exactly once
    replace: str
    breaks: str  # the rule or check it breaks
    tests: tuple[str, ...]  # pytest ids: files or file::function
    equivalent: str = ""  # why no test can catch it: the program's results cannot change
    awaiting: str = ""  # the planned tests expected to catch it (issue 21)


KERNELS = "analyzer/engine/kernels.py"
PACKING = "analyzer/engine/packing.py"
TEMPLATE_ROW = "analyzer/engine/template_row.py"
BOUNDS = "analyzer/engine/bounds.py"
RECURRENCE_KERNELS = "analyzer/engine/recurrence_kernels.py"
EVALUATE = "analyzer/engine/evaluate.py"
VALIDATION = "isa/validation.py"
TRACE_IO = "tracer/trace_io.py"
GEMMINI_LOWERING = "isa/gemmini/lowering.py"
GEMMINI_COMMANDS = "isa/gemmini/commands.py"
MEMORY_KERNELS = "isa/systolic/memory_kernels.py"
MEMORY_SIDE = "isa/systolic/memory_side.py"
OS_QUEUES = "int(params[entries]) for queue, entries in RS_ENTRIES.items()"

_EXACT = "tests/test_exactness.py::"
# Hand-worked timing rules, then the independent reference and fast == full on random programs.
RULES = (
    "tests/test_timing_rules.py",
    _EXACT + "test_random_programs_full_equals_an_independent_reference",
    "tests/test_gemmini.py::test_small_layers_agree_with_the_reference_evaluator",
    "tests/test_gemmini_os.py::test_small_os_layers_agree_with_the_reference_evaluator",
    _EXACT + "test_random_programs_fast_equals_full",
)
# Fast == full wherever fast mode skips: random programs, the memo, systolic and Gemmini.
FAST = (
    _EXACT + "test_memo_restores_whether_a_bundle_is_open",
    _EXACT + "test_memo_spares_a_later_layer_the_warm_up",
    _EXACT + "test_random_programs_fast_equals_full",
    _EXACT + "test_random_multilayer_programs_fast_equals_full",
    _EXACT + "test_memo_across_layers_keeps_fast_equal_to_full",
    _EXACT + "test_systolic_fast_equals_full",
    "tests/test_zoo_end_to_end.py::test_fast_equals_full_on_depthwise_and_pointwise",
    "tests/test_gemmini.py::test_random_convs_and_matmuls_fast_equals_full",
    "tests/test_gemmini_os.py::test_random_os_matmuls_fast_equals_full",
    "tests/test_exactness_resnet50.py",
)
# Wide operands (the kernel's location chunks) appear in the random programs and in Gemmini.
CHUNKS = (
    _EXACT + "test_random_programs_full_equals_an_independent_reference",
    _EXACT + "test_random_programs_fast_equals_full",
    "tests/test_gemmini.py::test_small_layers_agree_with_the_reference_evaluator",
    "tests/test_gemmini.py::test_random_convs_and_matmuls_fast_equals_full",
)
# Every bound label worked by hand first, then the bounds as lower bounds and the reports.
BOUND_TESTS = (
    "tests/test_verdicts.py::test_bound_labels_worked_by_hand",
    "tests/test_verdicts.py::test_recurrence_labels_worked_by_hand",
    "tests/test_recurrence.py",
    "tests/test_cli.py",
    "tests/test_api.py",
    "tests/test_adding_an_accelerator.py",
    "tests/test_gemmini.py::test_lower_and_analyze_gemmini_from_the_command_line",
    "tests/test_baselines.py",
)
CHECKS = (
    "tests/test_validation.py",
    "tests/test_trace_io.py",
    "tests/test_cli.py",
    "tests/test_api.py",
    _EXACT + "test_random_programs_full_equals_an_independent_reference",
)
TRACE_TESTS = ("tests/test_trace_io.py", "tests/test_cli.py", "tests/test_api.py")
GEMMINI = ("tests/test_gemmini.py", "tests/test_gemmini_os.py")
MEMORY = (
    "tests/test_memory_side.py",
    "tests/test_validate.py",
    "tests/test_api.py",
    "tests/test_cli.py",
)
# Stall cycles worked by hand (no SCALE-Sim needed) first.
MEMORY_BY_HAND = ("tests/test_memory_side.py::test_stall_cycles_worked_by_hand", *MEMORY)

_KERNEL_BUGS = (
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

_SIGNATURE_BUGS = (
    Bug(
        "signature.unit-free-times-left-out",
        KERNELS,
        "v = unit_free[u]",
        "v = base",
        "the signature folds in every unit's free time",
        FAST,
    ),
    Bug(
        "signature.unit-free-clamped-late",
        KERNELS,
        "v = unit_free[u]\n        sig[pos] = (v if v > base else base) - base",
        "v = unit_free[u]\n        sig[pos] = (v if v > base + 1 else base + 1) - base",
        "a unit free time is clamped at the last issue time, the earliest a start can be",
        FAST,
    ),
    Bug(
        "signature.write-times-clamped-late",
        KERNELS,
        "v = chunk_floor[x >> chunk_shift]\n        sig[pos] = (v if v > base else base) - base",
        "v = chunk_floor[x >> chunk_shift]\n"
        "        sig[pos] = (v if v > base + 1 else base + 1) - base",
        "write times are clamped at the last issue time, the earliest a read can start",
        (
            _EXACT + "test_a_skip_restores_write_times_no_later_than_the_last_issue",
            *FAST,
        ),
    ),
    Bug(
        "signature.chunk-floors-not-folded",
        KERNELS,
        "if chunk_shift > 0 and chunk_floor[x >> chunk_shift] > v:",
        "if chunk_shift < 0 and chunk_floor[x >> chunk_shift] > v:",
        "a location's write time in the signature is its own or its chunk's floor",
        FAST,
    ),
    Bug(
        "signature.read-times-left-out",
        KERNELS,
        "v = read_until[x]",
        "v = NEVER",
        "the signature folds in every location's pending reads (WAR)",
        (_EXACT + "test_a_skip_keeps_a_read_still_pending", *FAST),
    ),
    Bug(
        "signature.read-floor-too-late",
        KERNELS,
        "floor_read = base + min_latency",
        "floor_read = base + min_latency + 1",
        "read times are clamped where no writer (start >= base, latency >= min) can see them",
        FAST,
    ),
    Bug(
        "signature.issue-ring-clamped-late",
        KERNELS,
        "sig[pos] = (v if v > base - 1 else base - 1) - base",
        "sig[pos] = (v if v > base else base) - base",
        "issue times are clamped at base - 1: a bundle issued at base still limits the width",
        FAST,
    ),
    Bug(
        "signature.window-left-out",
        KERNELS,
        "v = window_ring[(window_head + k) % window]",
        "v = base",
        "the signature folds in the window's latest starts",
        FAST,
    ),
    Bug(
        "signature.bundle-start-left-out",
        KERNELS,
        "sig[pos] = (bundle_max_start if bundle_max_start > base else base) - base",
        "sig[pos] = 0",
        "the signature folds in the open bundle's latest start",
        FAST,
    ),
    Bug(
        "signature.max-end-left-out",
        KERNELS,
        "sig[pos + 1] = (max_end if max_end > base else base) - base",
        "sig[pos + 1] = 0",
        "the signature folds in the latest end so far",
        FAST,
    ),
    Bug(
        "signature.queues-left-out",
        KERNELS,
        "v = queue_ring[queue_first[q] + (queue_head[q] + k) % size]",
        "v = base",
        "the signature folds in every queue entry's release time",
        FAST,
    ),
    Bug(
        "signature.compare-skips-last",
        KERNELS,
        "for k in range(a.shape[0]):",
        "for k in range(a.shape[0] - 1):",
        "equal signatures are compared in full",
        (_EXACT + "test_signatures_are_compared_in_full", *FAST),
    ),
    Bug(
        "signature.hash-constant",
        KERNELS,
        "h = (h ^ np.uint64(sig[k] & 0xFFFFFFFFFFFF)) * _FNV_PRIME",
        "h = h",
        "none: every signature hashes alike, and the full comparison decides",
        FAST,
        equivalent="the hash only filters candidates; _equal compares every signature in full",
    ),
    Bug(
        "signature.restore-chunk-maxima",
        KERNELS,
        "if write_end[x] > top[x >> chunk_shift]:",
        "if False:",
        "a restore recomputes each chunk's maximum from the restored locations",
        CHUNKS + FAST,
    ),
    Bug(
        "signature.restore-keeps-floors",
        KERNELS,
        "        floor[:] = NEVER\n",
        "",
        "none: floors left from before a skip stay below every restored time of their chunk",
        CHUNKS + FAST,
        equivalent="the signature folded each floor into its chunk's locations and a skip "
        "only moves times forward, so an old floor never exceeds a restored write time",
    ),
)

_SKIP_BUGS = (
    Bug(
        "skip.periods-overshoot",
        KERNELS,
        "periods = (trips - index[d]) // period",
        "periods = (trips - index[d] + period - 1) // period",
        "only whole periods that fit in the remaining trips are skipped",
        FAST,
    ),
    Bug(
        "skip.shift-one-period-short",
        KERNELS,
        "shift = periods * (issue - hist_time[lv, match])",
        "shift = (periods - 1) * (issue - hist_time[lv, match])",
        "skipping m periods advances every time by m times the period's gain",
        FAST,
    ),
    Bug(
        "skip.covered-per-iteration",
        KERNELS,
        "covered += periods * period * op_arg2[begin]",
        "covered += periods * op_arg2[begin]",
        "a skip covers period x periods iterations of instructions",
        FAST,
    ),
    Bug(
        "skip.history-kept-after-skip",
        KERNELS,
        "                    hist_count[lv] = 0\n",
        "",
        "none in cycles: signatures taken before a skip are forgotten",
        FAST,
        equivalent="in cycles: a skip is exact, so a signature kept from before it is still "
        "the true state at its iteration and time, and a match with it a true period",
    ),
    Bug(
        "skip.earliest-match",
        KERNELS,
        "if match >= 0 and hist_iter[lv, j] < hist_iter[lv, match]:",
        "if match >= 0 and hist_iter[lv, j] > hist_iter[lv, match]:",
        "none in cycles: the latest matching boundary gives the shortest period",
        FAST,
        equivalent="in cycles: an earlier matching boundary gives a multiple of the period, "
        "as exact to skip; only how many iterations are evaluated can change",
    ),
    Bug(
        "skip.sample-every-boundary",
        KERNELS,
        "and index[d] % max(1, sig_len // (compare_budget * max(1, op_work[begin]))) == 0",
        "and index[d] % 1 == 0",
        "none in cycles: signatures are sampled so comparing costs at most "
        "COMPARE_BUDGET x evaluating",
        FAST,
        equivalent="in cycles: which boundaries are sampled decides how early a period is "
        "found, never whether a skip is exact (kernels.py, evaluate_layer)",
    ),
)

_MEMO_BUGS = (
    Bug(
        "memo.longer-loop-restored",
        KERNELS,
        "                            or memo.meta[e, 1] > op_arg[pc]\n",
        "",
        "a remembered evolution applies only to a loop with at least as many trips",
        FAST,
    ),
    Bug(
        "memo.open-bundle-not-keyed",
        KERNELS,
        "                            or memo.meta[e, 5] != np.int64(bundle_open)\n",
        "",
        "a loop's memo key includes whether a bundle was open at its entry",
        FAST,
        equivalent="the signature already tells: once a bundle has issued in a layer, the issue "
        "ring holds its issue time, the signature's base (0 after clamping at base - 1); before "
        "any, every entry is -1. Skips and restores keep this, so the key's flag never decides",
    ),
    Bug(
        "memo.open-bundle-not-restored",
        KERNELS,
        "bundle_open = memo.meta[e, 6] != 0",
        "bundle_open = bundle_open",
        "a restore sets whether a bundle is open after the loop",
        FAST,
    ),
    Bug(
        "memo.other-block-restored",
        KERNELS,
        "memo.meta[e, 0] != op_memo[pc]",
        "memo.meta[e, 0] < 0",
        "a remembered evolution applies only to a loop of the same block",
        FAST,
    ),
    Bug(
        "memo.affine-blocks-remembered",
        PACKING,
        "        if arrays.operand_affine[first:last].any():\n            return 0\n",
        "",
        "only loops of fixed-location blocks are remembered (outer indices move affine ones)",
        (_EXACT + "test_memo_never_restores_a_loop_whose_addresses_an_outer_index_moves", *FAST),
    ),
    Bug(
        "memo.identity-shared-by-blocks",
        PACKING,
        "return int(lo) + 1",
        "return 1",
        "a memo identity names one block",
        FAST,
    ),
    Bug(
        "reuse.key-ignores-memory-side",
        EVALUATE,
        'if "memory_side" not in layer.mapping:',
        "if True:",
        "layers reuse a result only with equal loop programs and equal SRAM traffic",
        ("tests/test_memory_side.py", *FAST),
    ),
    Bug(
        "reuse.key-is-trip-count",
        EVALUATE,
        "return layer.root, ()",
        "return layer.root.trips, ()",
        "layers reuse a result only with equal loop programs",
        ("tests/test_cli.py", "tests/test_api.py", *FAST),
    ),
)

_PACKING_BUGS = (
    Bug(
        "packing.index-dependent-loops-skippable",
        PACKING,
        "skippable[begin] = node.trips > 1 and not (mask >> level) & 1",
        "skippable[begin] = node.trips > 1",
        "a loop whose body's addresses depend on its index is never skipped",
        (_EXACT + "test_a_loop_whose_addresses_follow_its_index_is_never_skipped", *FAST),
    ),
    Bug(
        "packing.skippable-checks-inner-depth",
        PACKING,
        "skippable[begin] = node.trips > 1 and not (mask >> level) & 1",
        "skippable[begin] = node.trips > 1 and not (mask >> (level + 1)) & 1",
        "skippability checks the loop's own depth among the addresses' depths",
        (_EXACT + "test_a_loop_whose_addresses_follow_its_index_is_never_skipped", *FAST),
    ),
    Bug(
        "packing.op-work-ignores-wide-operands",
        PACKING,
        "int(hi - lo) + int(extra[first:last].sum()),",
        "int(hi - lo),",
        "an iteration's work counts one per extra location of a wide operand (no cycle "
        "changes, but Gemmini's sampling then finds too few periods: its skip share fails)",
        ("tests/test_gemmini.py::test_random_convs_and_matmuls_fast_equals_full", *FAST),
    ),
    Bug(
        "packing.hot-path-with-chunks",
        PACKING,
        "template_row(t, unit_first, queue_index, len(loc), fixed and chunk_shift == 0)",
        "template_row(t, unit_first, queue_index, len(loc), fixed)",
        "the one-location hot path never runs with chunked locations (it ignores floors)",
        ("tests/test_timing_rules.py", *CHUNKS, *FAST),
    ),
    Bug(
        "packing.chunks-when-wide-is-most",
        PACKING,
        "chunk_shift = CHUNK_SHIFT if 2 * wide >= sum(counts) > 0 else 0",
        "chunk_shift = CHUNK_SHIFT if wide >= sum(counts) > 0 else 0",
        "none in cycles: chunking is chosen for speed",
        CHUNKS + FAST,
        equivalent="in cycles: chunked and plain locations answer every read with the same "
        "latest write; only which read times are recorded for spaces nobody writes differs "
        "(hot path or general path), and that reaches only the signature",
    ),
    Bug(
        "packing.reads-never-tracked",
        PACKING,
        "track.append(operand.space in written)",
        "track.append(False)",
        "reads of written spaces record their read times (WAR, general path)",
        RULES,
    ),
    Bug(
        "packing.address-depth-one-short",
        PACKING,
        "last = MAX_DEPTH - np.argmax(nonzero[:, ::-1], axis=1)",
        "last = MAX_DEPTH - np.argmax(nonzero[:, ::-1], axis=1) - 1",
        "an operand's address uses every loop depth up to its deepest coefficient",
        RULES,
    ),
    Bug(
        "packing.instances-share-a-unit",
        TEMPLATE_ROW,
        "row[COLUMN[spec.name]] = unit_first[value] + template.instance",
        "row[COLUMN[spec.name]] = unit_first[value]",
        "each unit instance has its own free time",
        RULES,
    ),
    Bug(
        "packing.min-latency-is-max",
        PACKING,
        "min_latency=int(templates[:, T_LATENCY].min())",
        "min_latency=int(templates[:, T_LATENCY].max())",
        "read times are clamped by the smallest latency (signature)",
        FAST,
    ),
    Bug(
        "packing.queues-one-entry-larger",
        PACKING,
        "queue_first.append(queue_first[-1] + entries)",
        "queue_first.append(queue_first[-1] + entries + 1)",
        "a queue has the entries the program gives it",
        RULES + GEMMINI,
    ),
)

_VERDICTS = "tests/test_verdicts.py::"
_LABELS = _VERDICTS + "test_bound_labels_worked_by_hand"
_BOUND_BUGS = (
    Bug(
        "bounds.resource-halved",
        BOUNDS,
        "busy_cycles = int(net[busiest])",
        "busy_cycles = int(net[busiest]) // 2",
        "the resource bound is the busiest instance's whole occupancy",
        BOUND_TESTS,
    ),
    Bug(
        "bounds.overhang-not-subtracted",
        BOUNDS,
        "net = np.where(used, busy - overhang, np.iinfo(np.int64).min)",
        "net = np.where(used, busy, np.iinfo(np.int64).min)",
        "the last instruction may end before its occupancy runs out",
        BOUND_TESTS,
    ),
    Bug(
        "bounds.executions-not-multiplied",
        BOUNDS,
        "walk(child, multiplier * node.trips)",
        "walk(child, multiplier)",
        "a block's usage counts once per execution",
        BOUND_TESTS,
    ),
    Bug(
        "bounds.frontend-floor",
        BOUNDS,
        "frontend = -(-bundles // program.bundles_per_cycle) - 1 + program.frontend_delay",
        "frontend = bundles // program.bundles_per_cycle - 1 + program.frontend_delay",
        "the front-end bound issues ceil(bundles / width) cycles",
        BOUND_TESTS,
    ),
    Bug(
        "bounds.issue-queues-not-counted",
        BOUNDS,
        "for queue in (t.queue, t.issue_queue):",
        "for queue in (t.queue,):",
        "the queue bound counts issue queues (Gemmini OS's rs_* queues) too",
        BOUND_TESTS + ("tests/test_gemmini_os.py",),
    ),
    Bug(
        "bounds.unit-name-off-by-one",
        BOUNDS,
        "        if busiest >= first\n",
        "        if busiest > first\n",
        "the busiest instance is named by the unit kind it belongs to",
        BOUND_TESTS,
    ),
    Bug(
        "bounds.recurrence-counts-every-trip",
        BOUNDS,
        "bound = visits * ((node.trips - 1) // cycle.iterations) * cycle.weight",
        "bound = visits * (node.trips // cycle.iterations) * cycle.weight",
        "n iterations hold floor((n - 1) / K) turns of the critical cycle",
        BOUND_TESTS,
    ),
    Bug(
        "bounds.label-threshold-half",
        BOUNDS,
        "RESOURCE_BOUND_SHARE = 0.9",
        "RESOURCE_BOUND_SHARE = 0.5",
        "a layer is unit-bound at 90% of its cycles or more, else latency-bound",
        BOUND_TESTS,
    ),
    Bug(
        "bounds.carried-war-one-late",
        RECURRENCE_KERNELS,
        "                            weight[count] = read_time[reader] - latency[position]\n",
        "                            weight[count] = read_time[reader] - latency[position] + 1\n",
        "a carried WAR edge weighs the reader's read time minus the writer's latency",
        BOUND_TESTS,
    ),
    Bug(
        "bounds.unit-wraps-from-first",
        RECURRENCE_KERNELS,
        "weight[count], distance[count] = occupancy[last], 1",
        "weight[count], distance[count] = occupancy[by_unit[first]], 1",
        "a unit's carried edge runs from its last instruction, weighing that one's occupancy",
        BOUND_TESTS,
    ),
    Bug(
        "bounds.howard-ratio-switch-not-reevaluated",
        RECURRENCE_KERNELS,
        "                policy[v] = best\n                changed = True\n        if changed:",
        "                policy[v] = best\n                changed = False\n        if changed:",
        "a policy that switches to a better ratio is evaluated again (Howard)",
        (
            "tests/test_recurrence.py::"
            "test_howard_follows_a_better_ratio_to_a_cycle_its_first_policy_misses",
            *BOUND_TESTS,
        ),
    ),
    Bug(
        "bounds.howard-stops-at-equal-ratios",
        RECURRENCE_KERNELS,
        "        if changed:\n            continue\n",
        "        if changed or True:\n            return cycle_weight, cycle_distance\n",
        "policy iteration improves values among successors of equal ratio before it stops",
        BOUND_TESTS,
    ),
    Bug(
        "bounds.recurrence-never-named",
        BOUNDS,
        "if recurrence > self.busy_cycles:",
        "if recurrence > self.cycles:",
        "the recurrence names the bound when it exceeds the resource bound",
        BOUND_TESTS,
    ),
    Bug(
        "bounds.one-instance-kind-indexed",
        BOUNDS,
        "if self.instance is None or self.instances == 1:",
        "if self.instance is None and self.instances == 1:",
        "a kind of one instance is named without an index",
        (_LABELS, *BOUND_TESTS),
    ),
    Bug(
        "bounds.instance-numbered-across-kinds",
        BOUNDS,
        "instance: int | None = busiest - first",
        "instance: int | None = busiest + first",
        "the busiest instance is numbered within its kind",
        (_LABELS, *BOUND_TESTS),
    ),
    Bug(
        "bounds.queue-wins-ties",
        BOUNDS,
        "if held // entries > busy_cycles:",
        "if held // entries >= busy_cycles:",
        "a queue bound names the bound only when it exceeds the unit's",
        (_LABELS, *BOUND_TESTS),
    ),
    Bug(
        "bounds.frontend-delay-subtracted",
        BOUNDS,
        "- 1 + program.frontend_delay",
        "- 1 - program.frontend_delay",
        "the front-end bound adds the front-end delay",
        (_LABELS, *BOUND_TESTS),
    ),
    Bug(
        "bounds.frontend-latency-zero-as-one",
        BOUNDS,
        "frontend += min_latency or 0",
        "frontend += min_latency or 1",
        "the front-end bound ends with the shortest latency, which may be 0",
        (_LABELS, *BOUND_TESTS),
    ),
    Bug(
        "bounds.frontend-longest-latency",
        BOUNDS,
        "block.min_latency < min_latency",
        "block.min_latency > min_latency",
        "the front-end bound ends with the shortest latency of every block in the layer",
        (_VERDICTS + "test_the_front_end_bound_ends_with_the_shortest_latency_of_the_layer",),
    ),
    Bug(
        "bounds.empty-layer-has-an-idle-instance",
        BOUNDS,
        "unused: int = 0  #",
        "unused: int = 1  #",
        "a layer that runs nothing names no idle instance",
        (_LABELS, *BOUND_TESTS),
    ),
    Bug(
        "bounds.recurrence-share-strict",
        BOUNDS,
        'kind = "recurrence-bound" if share >= RESOURCE_BOUND_SHARE',
        'kind = "recurrence-bound" if share > RESOURCE_BOUND_SHARE',
        "a recurrence of 90% of the cycles or more names the layer recurrence-bound",
        (_VERDICTS + "test_recurrence_labels_worked_by_hand", *BOUND_TESTS),
    ),
    Bug(
        "bounds.recurrence-wins-ties",
        BOUNDS,
        "if recurrence > self.busy_cycles:",
        "if recurrence >= self.busy_cycles:",
        "a recurrence that only ties the resource bound leaves the resource named",
        (
            _VERDICTS + "test_recurrence_ties_and_loops_without_a_turn_leave_the_resource_bound",
            _LABELS,
        ),
    ),
    Bug(
        "bounds.no-recurrence-counts-one",
        BOUNDS,
        "recurrence = self.recurrence_cycles or 0",
        "recurrence = self.recurrence_cycles or 1",
        "a layer without a recurrence bound (not computed) is labelled by its resources",
        (_LABELS, *BOUND_TESTS),
    ),
    Bug(
        "bounds.recurrence-loop-without-turns-named",
        BOUNDS,
        "if bound > best[1]:",
        "if bound >= best[1]:",
        "a loop whose visits hold no turn of its cycle is not named the recurrence",
        (
            _VERDICTS + "test_recurrence_ties_and_loops_without_a_turn_leave_the_resource_bound",
            *BOUND_TESTS,
        ),
    ),
)

_VALID = "tests/test_validation.py::"
_LIMITS = _VALID + "test_every_limit_accepts_its_edge_and_refuses_one_past"
_ADDRESS = "tests/test_address_bounds.py::"
# The last location of a space accepted, one past it (or before 0) refused.
_EDGE = _ADDRESS + "test_the_last_location_is_accepted_and_one_past_refused"

_VALIDATION_BUGS = (
    Bug(
        "validation.affine-one-past-the-end",
        VALIDATION,
        "if low < 0 or high + operand.count > program.spaces[operand.space]:",
        "if low < 0 or high + operand.count - 1 > program.spaces[operand.space]:",
        "an affine operand's last address stays inside its space",
        (_EDGE, *CHECKS),
    ),
    Bug(
        "validation.fixed-one-past-the-end",
        VALIDATION,
        "or operand.base + operand.count > program.spaces[operand.space]",
        "or operand.base + operand.count - 1 > program.spaces[operand.space]",
        "a fixed operand's last address stays inside its space",
        CHECKS,
    ),
    Bug(
        "validation.affine-span-one-trip-short",
        VALIDATION,
        "span = coef * max(n - 1, 0)",
        "span = coef * max(n - 2, 0)",
        "an affine operand reaches base + coef x (trips - 1)",
        (_EDGE, *CHECKS),
    ),
    Bug(
        "validation.negative-addresses-accepted",
        VALIDATION,
        "if low < 0 or high + operand.count",
        "if high + operand.count",
        "a negative coefficient must not take an address below 0",
        (_EDGE, *CHECKS),
    ),
    Bug(
        "validation.loop-outside-accepted",
        VALIDATION,
        "if any(operand.coefs[len(trips) :]):",
        "if any(operand.coefs[len(trips) + 1 :]):",
        "an operand uses only the loops it is inside",
        (_ADDRESS + "test_a_coefficient_for_a_loop_the_operand_is_not_in_is_refused", *CHECKS),
    ),
    Bug(
        "validation.empty-queue-accepted",
        VALIDATION,
        "if not _is_count(entries, 1, MAX_FRONTEND):",
        "if not _is_count(entries, 0, MAX_FRONTEND):",
        "a queue has at least one entry",
        (_VALID + "test_a_queue_needs_at_least_one_entry", *CHECKS),
    ),
    Bug(
        "validation.negative-cycles-accepted",
        VALIDATION,
        "tuple((name, getattr(t, name), 0) for name in _CYCLES)",
        "tuple((name, getattr(t, name), -1) for name in _CYCLES)",
        "latency, occupancy and read time are 0 or more",
        CHECKS,
    ),
    Bug(
        "validation.instance-one-past-the-end",
        VALIDATION,
        "not _is_count(t.instance, 0, program.units[unit] - 1)",
        "not _is_count(t.instance, 0, program.units[unit])",
        "a template's unit instance exists",
        CHECKS,
    ),
    Bug(
        "validation.issue-queue-mid-bundle",
        VALIDATION,
        "        if not t.bundle_start:\n",
        "        if False:\n",
        "an issue queue is only on a bundle's first instruction",
        CHECKS,
    ),
    Bug(
        "validation.block-one-past-the-end",
        VALIDATION,
        "if not _is_count(node.block, 0, len(blocks) - 1):",
        "if not _is_count(node.block, 0, len(blocks)):",
        "a loop refers to an existing block",
        (_VALID + "test_a_loop_refers_to_an_existing_block", *CHECKS),
    ),
    Bug(
        "validation.host-layer-name-clash",
        VALIDATION,
        "if host.position in positions or host.name in names:",
        "if host.position in positions:",
        "a host layer's name is not another layer's",
        (_VALID + "test_a_host_layer_takes_a_free_position_and_a_name_no_other_layer_has", *CHECKS),
    ),
    Bug(
        "validation.affine-low-end-raised",
        VALIDATION,
        "low += min(0, span)",
        "low += min(1, span)",
        "an affine operand's lowest address adds only the loops that step it down",
        (_ADDRESS + "test_affine_bounds_add_up_every_enclosing_loop", *CHECKS),
    ),
    Bug(
        "validation.coefficients-must-match-depth",
        VALIDATION,
        "for coef, n in zip(operand.coefs, trips, strict=False):",
        "for coef, n in zip(operand.coefs, trips, strict=True):",
        "an operand may give fewer coefficients than its loops, or zeros beyond them",
        (_ADDRESS + "test_affine_bounds_add_up_every_enclosing_loop", *CHECKS),
    ),
    Bug(
        "validation.counts-exclude-the-limit",
        VALIDATION,
        "low <= value <= high",
        "low <= value < high",
        "every limit's largest value is accepted",
        (_LIMITS, *CHECKS),
    ),
    Bug(
        "validation.size-limit-doubled",
        VALIDATION,
        "MAX_SIZE = 1 << 26",
        "MAX_SIZE = 1 << 27",
        "sizes, operand counts and coefficients are at most 2^26 (docs/design.md 2.5)",
        (_LIMITS, *CHECKS),
    ),
    Bug(
        "validation.cycle-limit-doubled",
        VALIDATION,
        "MAX_CYCLES_PER_INSTRUCTION = 1 << 20",
        "MAX_CYCLES_PER_INSTRUCTION = 1 << 21",
        "latency, occupancy and read time are at most 2^20",
        (_LIMITS, *CHECKS),
    ),
    Bug(
        "validation.frontend-limit-doubled",
        VALIDATION,
        "MAX_FRONTEND = 1 << 20",
        "MAX_FRONTEND = 1 << 21",
        "front-end sizes and queue entries are at most 2^20",
        (_LIMITS, *CHECKS),
    ),
    Bug(
        "validation.instruction-limit-doubled",
        VALIDATION,
        "MAX_INSTRUCTIONS = 1 << 56",
        "MAX_INSTRUCTIONS = 1 << 57",
        "a layer has at most 2^56 instructions",
        (_LIMITS, *CHECKS),
    ),
    Bug(
        "validation.instruction-limit-exclusive",
        VALIDATION,
        "if total > MAX_INSTRUCTIONS:",
        "if total >= MAX_INSTRUCTIONS:",
        "a layer of exactly 2^56 instructions is accepted",
        (_LIMITS, *CHECKS),
    ),
    Bug(
        "validation.loops-one-deeper",
        VALIDATION,
        "if len(trips) >= MAX_DEPTH:",
        "if len(trips) > MAX_DEPTH:",
        "loops nest at most MAX_DEPTH deep, the root included",
        (_LIMITS, *CHECKS),
    ),
    Bug(
        "validation.coefficients-one-short",
        VALIDATION,
        "len(operand.coefs) > MAX_DEPTH",
        "len(operand.coefs) >= MAX_DEPTH",
        "an operand has a coefficient for each of up to MAX_DEPTH loops",
        (_LIMITS, *CHECKS),
    ),
    Bug(
        "validation.host-position-past-the-end",
        VALIDATION,
        '(("position", host.position, 0),), total - 1)',
        '(("position", host.position, 0),), total)',
        "a host layer sits among the model's layers",
        (_LIMITS, *CHECKS),
    ),
)

_TRACE_BUGS = (
    Bug(
        "trace_io.positions-unchecked",
        TRACE_IO,
        'if templates["position"][row] != len(blocks_rows.get(block, [])):',
        'if templates["position"][row] < 0:',
        "a block's templates are stored at positions 0..n-1 in order",
        TRACE_TESTS,
    ),
    Bug(
        "trace_io.block-ids-unchecked",
        TRACE_IO,
        "if sorted(blocks_rows) != list(range(len(blocks_rows))):",
        "if min(blocks_rows, default=0) != 0:",
        "block ids are 0..n-1",
        TRACE_TESTS,
    ),
    Bug(
        "trace_io.layers-unchecked",
        TRACE_IO,
        "if sorted(by_layer) != list(range(len(entries))):",
        "if len(by_layer) < len(entries):",
        "loops.arrow holds exactly the manifest's layers",
        TRACE_TESTS,
    ),
    Bug(
        "trace_io.several-roots",
        TRACE_IO,
        "len(children.get(-1, [])) != 1",
        "len(children.get(-1, [])) < 1",
        "a layer's loop tree has exactly one root",
        TRACE_TESTS,
    ),
    Bug(
        "trace_io.node-ids-not-unique",
        TRACE_IO,
        "if len(by_node) != len(rows) or len(children",
        "if len(children",
        "a layer's loop tree nodes have unique ids",
        TRACE_TESTS,
    ),
    Bug(
        "trace_io.unknown-kind-is-a-loop",
        TRACE_IO,
        'if loops["kind"][row] != "loop" or loops["trips"][row] < 0:',
        'if loops["trips"][row] < 0:',
        "a loop-tree node is a loop or a block",
        TRACE_TESTS,
    ),
    Bug(
        "trace_io.schema-unchecked",
        TRACE_IO,
        "if len(found) != len(table.schema) or found != {field.name: field for field in schema}:",
        "if len(found) != len(table.schema):",
        "each Arrow file has exactly this schema version's columns and types",
        TRACE_TESTS,
    ),
    Bug(
        "trace_io.older-versions-accepted",
        TRACE_IO,
        "if version != SCHEMA_VERSION:",
        "if version > SCHEMA_VERSION:",
        "a trace of another schema version is refused",
        TRACE_TESTS,
    ),
    Bug(
        "trace_io.counts-unchecked",
        TRACE_IO,
        'if count_instructions(layer.root, program.blocks) != entry["instructions"]:',
        "if False:",
        "each layer's instruction count equals the manifest's",
        TRACE_TESTS,
    ),
)

_GEMMINI_BUGS = (
    Bug(
        "gemmini.mesh-queue-one-tag-larger",
        GEMMINI_LOWERING,
        '"mesh": int(params["mesh_tags"]),',
        '"mesh": int(params["mesh_tags"]) + 1,',
        "the mesh holds `mesh_tags` matmuls in flight",
        ("tests/test_gemmini.py::test_the_mesh_holds_six_matmuls_at_once", *GEMMINI),
    ),
    # The OS queue sizes are seeded where they are read, not in RS_ENTRIES: the family
    # declares its parameters from RS_ENTRIES, so a bug there is refused by the
    # description check, not by a timing test.
    Bug(
        "gemmini.os-store-queue-sized-by-execute",
        GEMMINI_LOWERING,
        OS_QUEUES,
        OS_QUEUES.replace(
            "params[entries]", 'params["rs_ex_entries" if queue == "rs_store" else entries]'
        ),
        "the OS store queue has rs_st_entries entries",
        ("tests/test_gemmini_os.py::test_the_cpu_stalls_on_a_full_store_queue", *GEMMINI),
    ),
    Bug(
        "gemmini.os-execute-queue-sized-by-load",
        GEMMINI_LOWERING,
        OS_QUEUES,
        OS_QUEUES.replace(
            "params[entries]", 'params["rs_ld_entries" if queue == "rs_execute" else entries]'
        ),
        "the OS execute queue has rs_ex_entries entries",
        ("tests/test_gemmini_os.py::test_the_cpu_stalls_on_a_full_execute_queue", *GEMMINI),
    ),
    Bug(
        "gemmini.os-load-queue-sized-by-execute",
        GEMMINI_LOWERING,
        OS_QUEUES,
        OS_QUEUES.replace(
            "params[entries]", 'params["rs_ex_entries" if queue == "rs_load" else entries]'
        ),
        "the OS load queue has rs_ld_entries entries",
        GEMMINI,
    ),
    Bug(
        "gemmini.execute-queue-not-halved",
        GEMMINI_LOWERING,
        '"execute": max(1, int(params["rs_ex_entries"]) // 2),',
        '"execute": int(params["rs_ex_entries"]),',
        "a preload + compute pair takes two RS execute entries",
        GEMMINI,
    ),
    Bug(
        "gemmini.load-queue-one-larger",
        GEMMINI_LOWERING,
        '"load": int(params["load_inflight"]),',
        '"load": int(params["load_inflight"]) + 1,',
        "the load controller has `load_inflight` mvins in flight",
        GEMMINI,
    ),
    Bug(
        "gemmini.compute-outside-mesh-queue",
        GEMMINI_COMMANDS,
        'queue="mesh",',
        "queue=None,",
        "every WS compute holds a mesh tag",
        ("tests/test_gemmini.py::test_the_mesh_holds_six_matmuls_at_once", *GEMMINI),
    ),
)

_MEMORY_BUGS = (
    Bug(
        "memory.line-words-floor",
        MEMORY_KERNELS,
        "line_words = -(-size // 100)",
        "line_words = max(1, size // 100)",
        "the prefetch order is cut into lines of ceil(S / 100) words",
        MEMORY,
    ),
    Bug(
        "memory.lines-ceil",
        MEMORY_KERNELS,
        "lines = total // line_words + 1",
        "lines = -(-total // line_words)",
        "SCALE-Sim's hashed buffer has floor + 1 lines, one more than ceil on a multiple",
        MEMORY_BY_HAND,
    ),
    Bug(
        "memory.move-without-port-cycle",
        MEMORY_KERNELS,
        "state[5] = -(-prefetch_words // bandwidth) + 1",
        "state[5] = -(-prefetch_words // bandwidth)",
        "a window move takes its bus lines plus the read port's cycle",
        MEMORY,
    ),
    Bug(
        "memory.lateness-counted-once",
        MEMORY_KERNELS,
        "    if late > 0:\n        offset += late\n",
        "",
        "a late demand's lateness counts twice (SCALE-Sim's read buffer)",
        MEMORY,
    ),
    Bug(
        "memory.drain-one-cycle-longer",
        MEMORY_KERNELS,
        "state[4] = current + lines - 1",
        "state[4] = current + lines",
        "a drain ends ceil(D / bw) - 1 cycles after it starts",
        MEMORY,
    ),
    Bug(
        "memory.ws-ifmap-without-preload",
        MEMORY_KERNELS,
        "fold_rows, ifmap_delay = 2 * rows + cols + t - 2, rows",
        "fold_rows, ifmap_delay = 2 * rows + cols + t - 2, 0",
        "under ws the ifmap streams in after the weight preload",
        MEMORY,
    ),
    Bug(
        "memory.im2col-window-one-line-larger",
        MEMORY_KERNELS,
        "if (position // state[0] - state[4]) % state[1] < state[2]:",
        "if (position // state[0] - state[4]) % state[1] <= state[2]:",
        "a repeated im2col word is found only at a resident copy",
        MEMORY,
    ),
    Bug(
        "memory.drain-half-rounded-down",
        MEMORY_KERNELS,
        "drain = size - (-(-size // 2))",
        "drain = size // 2",
        "none within the parameters: a drain frees S - ceil(S / 2) words",
        MEMORY,
        equivalent="SRAM sizes are KiB x 1024 words, always even, where S - ceil(S/2) = S // 2",
    ),
    Bug(
        "memory.groups-stall-once",
        MEMORY_SIDE,
        "return int(rows) * repeats, int(stalls) * repeats",
        "return int(rows) * repeats, int(stalls)",
        "each of a layer's `repeats` GEMMs starts with empty SRAMs and stalls alike",
        MEMORY_BY_HAND,
    ),
    Bug(
        "memory.kib-is-1000-words",
        MEMORY_SIDE,
        "_WORDS_PER_KIB = 1024",
        "_WORDS_PER_KIB = 1000",
        "SCALE-Sim's SRAM sizes are KiB of one-byte words",
        MEMORY,
    ),
)

BUGS: tuple[Bug, ...] = (
    *_KERNEL_BUGS,
    *_SIGNATURE_BUGS,
    *_SKIP_BUGS,
    *_MEMO_BUGS,
    *_PACKING_BUGS,
    *_BOUND_BUGS,
    *_VALIDATION_BUGS,
    *_TRACE_BUGS,
    *_GEMMINI_BUGS,
    *_MEMORY_BUGS,
)
