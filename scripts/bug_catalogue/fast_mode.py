"""Bugs in fast mode (docs/design.md §4): the state signature, the skip, the loop memo,
layer reuse and the packing that decides what may be skipped."""

from __future__ import annotations

from scripts.bug_catalogue.common import (
    CHUNKS,
    EVALUATE,
    EXACT,
    FAST,
    GEMMINI,
    KERNELS,
    LOOP_KERNELS,
    LOOP_SKIPS,
    PACKING,
    PACKING_KERNELS,
    PROGRAM,
    RULES,
    RUNS,
    SHARING,
    SIGNATURES,
    SKIP_CASES,
    TEMPLATE_ROW,
    TRANSLATED_PERIODS,
    Bug,
)

PACKING_CHOICES = "tests/test_packing_choices.py"

# The sparse layout, as a property of the encoding and end to end on a chunked program.
_SHARING_TESTS = "tests/test_subtree_sharing.py"
_SHARED = _SHARING_TESTS + "::"
SPARSE = (
    "tests/test_signatures.py",
    SKIP_CASES + "test_signatures_are_compared_in_full",
    SKIP_CASES + "test_a_skip_keeps_a_read_still_pending",
    SKIP_CASES + "test_a_skip_restores_reads_the_loop_leaves_pending_in_every_chunk",
    SKIP_CASES + "test_a_skip_sees_a_read_before_the_loop_that_the_loop_extends",
    SKIP_CASES + "test_a_restore_writes_the_reads_a_later_loop_extends",
)

SIGNATURE_BUGS = (
    Bug(
        "signature.unit-free-times-left-out",
        SIGNATURES,
        "v = unit_free[u]",
        "v = base",
        "the signature folds in every unit's free time",
        FAST,
    ),
    Bug(
        "signature.unit-free-clamped-late",
        SIGNATURES,
        "v = unit_free[u]\n        sig[pos] = (v if v > base else base) - base",
        "v = unit_free[u]\n        sig[pos] = (v if v > base + 1 else base + 1) - base",
        "a unit free time is clamped at the last issue time, the earliest a start can be",
        FAST,
    ),
    Bug(
        "signature.write-times-clamped-late",
        SIGNATURES,
        "written = (v if v > base else base) - base",
        "written = (v if v > base + 1 else base + 1) - base",
        "write times are clamped at the last issue time, the earliest a read can start",
        (
            SKIP_CASES + "test_a_skip_restores_write_times_no_later_than_the_last_issue",
            *FAST,
        ),
    ),
    Bug(
        "signature.chunk-floors-not-folded",
        SIGNATURES,
        "if chunk_shift > 0 and chunk_floor[x >> chunk_shift] > v:",
        "if chunk_shift < 0 and chunk_floor[x >> chunk_shift] > v:",
        "a location's write time in the signature is its own or its chunk's floor",
        FAST,
    ),
    Bug(
        "signature.read-times-left-out",
        SIGNATURES,
        "v = read_until[x]",
        "v = NEVER",
        "the signature folds in every location's pending reads (WAR)",
        (
            SKIP_CASES + "test_a_skip_restores_the_read_times_its_iterations_set",
            SKIP_CASES + "test_a_skip_keeps_a_read_still_pending",
            *FAST,
        ),
    ),
    Bug(
        "signature.read-floor-too-late",
        SIGNATURES,
        "floor_read = base + min_latency",
        "floor_read = base + min_latency + 1",
        "read times are clamped where no writer (start >= base, latency >= min) can see them",
        FAST,
    ),
    Bug(
        "signature.issue-ring-clamped-late",
        SIGNATURES,
        "sig[pos] = (v if v > own - 1 else own - 1) - base",
        "sig[pos] = (v if v > own else own) - base",
        "issue times are clamped at the front end's issue time - 1: a bundle issued then "
        "still limits the width",
        FAST,
    ),
    Bug(
        "signature.window-left-out",
        SIGNATURES,
        "v = window_ring[first + (head + k) % window]",
        "v = own",
        "the signature folds in the window's latest starts",
        FAST,
    ),
    Bug(
        "signature.bundle-start-left-out",
        SIGNATURES,
        "sig[pos + 2] = (v if v > own else own) - base",
        "sig[pos + 2] = 0",
        "the signature folds in the open bundle's latest start",
        FAST,
    ),
    Bug(
        "signature.max-end-left-out",
        SIGNATURES,
        "sig[pos] = (max_end if max_end > base else base) - base",
        "sig[pos] = 0",
        "the signature folds in the latest end so far",
        FAST,
    ),
    Bug(
        "signature.queues-left-out",
        SIGNATURES,
        "v = queue_ring[queue_first[q] + (queue_head[q] + k) % size]",
        "v = base",
        "the signature folds in every queue entry's release time",
        FAST,
    ),
    Bug(
        "signature.compare-skips-last",
        SIGNATURES,
        "    for k in range(n):\n        if a[k] != b[k]:",
        "    for k in range(n - 1):\n        if a[k] != b[k]:",
        "equal signatures are compared in full",
        (SKIP_CASES + "test_signatures_are_compared_in_full", *FAST),
    ),
    Bug(
        "signature.hash-constant",
        SIGNATURES,
        "return (((h0 * _FNV_PRIME) ^ h1) * _FNV_PRIME ^ h2) * _FNV_PRIME ^ h3",
        "return _FNV_OFFSET",
        "none: every signature hashes alike, and the full comparison decides",
        FAST,
        equivalent="the hash only filters candidates; _equal compares every signature in full",
    ),
    Bug(
        "signature.restore-chunk-maxima",
        SIGNATURES,
        "            top[c] = latest_write\n",
        "            top[c] = NEVER\n",
        "a restore sets each chunk it rewrites a maximum from the restored locations",
        CHUNKS + FAST,
    ),
    Bug(
        "signature.sparse-lengths-not-compared",
        SIGNATURES,
        "if _signature_used(b) != n:",
        "if _signature_used(b) < n:",
        "two sparse signatures are equal only with the same chunks kept: a longer one holds "
        "a chunk the other leaves at its clamps",
        SPARSE + CHUNKS + FAST,
    ),
    Bug(
        "signature.chunk-passed-over-late",
        SIGNATURES,
        "chunk_max[c] <= base and chunk_read[c]",
        "chunk_max[c] <= base + 1 and chunk_read[c]",
        "a chunk is left out only when no write time in it is above the issue floor",
        SPARSE + CHUNKS + FAST,
    ),
    Bug(
        "signature.chunk-reads-not-checked",
        SIGNATURES,
        " and chunk_read[c] <= floor_read:",
        ":",
        "a chunk whose write times are clamped is kept while a read in it is still pending",
        SPARSE + CHUNKS + FAST,
    ),
    Bug(
        "signature.chunk-kept-by-writes-only",
        SIGNATURES,
        "kept |= (written != 0) | (read != min_latency)",
        "kept |= written != 0",
        "a chunk is kept when any of its items, write or read-until, is above its clamp",
        SPARSE + CHUNKS + FAST,
    ),
    Bug(
        "signature.copy-one-short",
        SIGNATURES,
        "    for k in range(n):\n        target[k] = sig[k]",
        "    for k in range(n - 1):\n        target[k] = sig[k]",
        "a kept signature (history, memo) holds every item its layout uses",
        SPARSE + CHUNKS + FAST,
    ),
    Bug(
        "signature.read-bound-not-raised",
        KERNELS,
        "chunk_read[c] = read_end",
        "chunk_read[c] = chunk_read[c]",
        "a tracked read raises its chunks' read bounds, which the signature trusts to pass "
        "over a chunk with no pending read above its clamp",
        SPARSE + CHUNKS + FAST,
    ),
    Bug(
        "signature.read-bound-first-chunk-only",
        KERNELS,
        (
            "for c in range(lo >> chunk_shift, ((hi - 1) >> chunk_shift) + 1):\n"
            "                                    if chunk_read[c] < read_end"
        ),
        (
            "for c in range(lo >> chunk_shift, (lo >> chunk_shift) + 1):\n"
            "                                    if chunk_read[c] < read_end"
        ),
        "a read across chunks raises every chunk's read bound, not only the first",
        SPARSE + CHUNKS + FAST,
    ),
    Bug(
        "signature.translated-restore-read-bound",
        TRANSLATED_PERIODS,
        "reads[c] = max(reads[c], read)",
        "pass",
        "a translated restore raises the read bounds of the chunks it rewrites to their "
        "restored reads",
        (
            "tests/test_translated_periods.py::test_a_translated_restore_keeps_the_chunk_bounds",
            *SPARSE,
            *CHUNKS,
        ),
    ),
    Bug(
        "signature.restore-read-bound-lost",
        SIGNATURES,
        "            reads[c] = latest_read\n",
        "            reads[c] = NEVER\n",
        "a chunk a restore rewrites keeps a read bound no lower than its restored reads, "
        "so a later signature does not pass over a pending read there",
        SPARSE + CHUNKS + FAST,
    ),
    Bug(
        "signature.restore-reads-not-written",
        SIGNATURES,
        "            read_until[x] = sig[pos + 1] + base\n",
        "            read_until[x] = read_until[x]\n",
        "a restore writes the read-until times of the chunks the signature keeps, moved",
        SPARSE + CHUNKS + FAST,
    ),
    Bug(
        "signature.restore-rewrites-nothing",
        SIGNATURES,
        "            write_end[x] = sig[pos] + base\n",
        "            write_end[x] = write_end[x]\n",
        "a restore writes every location of the chunks the signature keeps, shifted",
        SPARSE + CHUNKS + FAST,
    ),
    Bug(
        "signature.restore-keeps-floors",
        SIGNATURES,
        "            floor[c] = NEVER\n            top[c] = latest_write",
        "            top[c] = latest_write",
        "none: floors left from before a skip stay below every restored time of their chunk",
        CHUNKS + FAST,
        equivalent="the signature folded each floor into its chunk's locations and a skip "
        "only moves times forward, so an old floor never exceeds a restored write time",
    ),
)

SKIP_BUGS = (
    Bug(
        "skip.periods-overshoot",
        LOOP_SKIPS,
        "periods = (trips - i) // period",
        "periods = (trips - i + period - 1) // period",
        "only whole periods that fit in the remaining trips are skipped",
        FAST,
    ),
    Bug(
        "skip.shift-one-period-short",
        LOOP_SKIPS,
        "base += periods * (base - hist_time[lv, match])",
        "base += (periods - 1) * (base - hist_time[lv, match])",
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
        LOOP_SKIPS,
        "    hist_count[lv] = 0\n",
        "",
        "none in cycles: signatures taken before a skip are forgotten",
        FAST,
        equivalent="in cycles: a skip is exact, so a signature kept from before it is still "
        "the true state at its iteration and time, and a match with it a true period",
    ),
    Bug(
        "skip.earliest-match",
        LOOP_SKIPS,
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
    Bug(
        "skip.entry-signed-always",
        KERNELS,
        "and sig_len < compare_budget * op_arg[pc] * max(1, op_work[pc])",
        "and True",
        "none in cycles: a loop that reaches no sampled boundary takes no entry signature, "
        "so the memo neither recalls nor stores it (docs/design.md §4.4)",
        ("tests/test_loop_memo.py::test_a_loop_cheaper_than_a_signature_is_evaluated_without_one",),
    ),
    Bug(
        "skip.entry-signed-at-the-boundary",
        KERNELS,
        "and sig_len < compare_budget * op_arg[pc] * max(1, op_work[pc])",
        "and sig_len <= compare_budget * op_arg[pc] * max(1, op_work[pc])",
        "none in cycles: the entry is signed exactly when a sampled boundary (every < trips) "
        "lies inside the loop",
        ("tests/test_loop_memo.py::test_a_loop_cheaper_than_a_signature_is_evaluated_without_one",),
    ),
)

WORKSPACE_BUGS = (
    Bug(
        "workspace.kept-signature-short",
        SIGNATURES,
        "    for k in range(n):\n        target[k] = sig[k]\n    target[target.shape[0] - 1]",
        "    for k in range(n - 1):\n        target[k] = sig[k]\n    target[target.shape[0] - 1]",
        "a kept signature is written whole: the workspace's rows hold what an earlier call "
        "left (analyzer/engine/workspace.py)",
        ("tests/test_workspace.py",),
    ),
)

MEMO_BUGS = (
    Bug(
        "memo.longer-loop-restored",
        LOOP_SKIPS,
        "            or memo.meta[e, 1] > trips\n",
        "",
        "a remembered evolution applies only to a loop with at least as many trips",
        FAST,
    ),
    Bug(
        "memo.open-bundle-not-keyed",
        LOOP_SKIPS,
        "            or memo.meta[e, 5] != np.int64(bundle_open)\n",
        "",
        "a loop's memo key includes whether a bundle was open at its entry",
        FAST,
        equivalent="the signature already tells: once a bundle has issued in a layer, the issue "
        "ring holds its issue time, the signature's base (0 after clamping at base - 1); before "
        "any, every entry is -1. Skips and restores keep this, so the key's flag never decides",
    ),
    Bug(
        "memo.open-bundle-not-restored",
        SIGNATURES,
        "frontend[f, FE_OPEN] = sig[pos + 1]",
        "frontend[f, FE_OPEN] = 1",
        "a restore sets whether each front end has a bundle open after the loop",
        FAST,
        equivalent="a front end opens its first bundle once and never closes it, so the flag "
        "is 0 only for one that has issued nothing, whose restored latest start is its initial "
        "0: the mutant's extra window entry is a 0 before the first real one, which shifts the "
        "ring and the slot the window reads alike (survived the whole suite, 2026-12-04)",
    ),
    Bug(
        "memo.items-out-of-range-stored",
        LOOP_KERNELS,
        "    if not (_fits_memo(entry) and _fits_memo(state)):\n",
        "    if False:\n",
        "an evolution whose items do not fit the memo's int32 items is not stored",
        ("tests/test_loop_memo.py", *FAST),
    ),
    Bug(
        "memo.other-block-restored",
        LOOP_SKIPS,
        "memo.meta[e, 0] != identity",
        "memo.meta[e, 0] < 0",
        "a remembered evolution applies only to a loop of the same block",
        FAST,
    ),
    Bug(
        "memo.affine-blocks-remembered",
        PACKING_KERNELS,
        "node_facts[n, 6] > 0 and node_facts[n, 3] & outer_depths == 0:",
        "node_facts[n, 6] > 0:",
        "only loops whose body no index of theirs or around them moves are remembered",
        (
            SKIP_CASES + "test_memo_never_restores_a_loop_whose_addresses_an_outer_index_moves",
            *FAST,
        ),
    ),
    Bug(
        "memo.identity-shared-by-blocks",
        PACKING_KERNELS,
        "memo[at] = nodes[n, 4] * (MAX_DEPTH + 1) + (level + 1 if moved else 0)",
        "memo[at] = 1",
        "a memo identity names one loop body",
        (_SHARED + "test_packing_shared_random_trees_gives_the_plain_walks_ops", *FAST),
    ),
    Bug(
        "memo.moved-body-shared-across-depths",
        PACKING_KERNELS,
        "memo[at] = nodes[n, 4] * (MAX_DEPTH + 1) + (level + 1 if moved else 0)",
        "memo[at] = nodes[n, 4] * (MAX_DEPTH + 1)",
        "a body whose nested loops move its addresses means something at one depth only "
        "(its coefficients name loops by depth)",
        (
            "tests/test_loop_memo.py::"
            "test_a_body_nested_loops_move_is_remembered_at_its_own_depth_only",
            _SHARED + "test_packing_shared_random_trees_gives_the_plain_walks_ops",
            *FAST,
        ),
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
        "return root, ()",
        "return layer.root.trips, ()",
        "layers reuse a result only with equal loop programs",
        ("tests/test_cli.py", "tests/test_api.py", *FAST),
    ),
    Bug(
        "reuse.loop-number-ignores-the-body",
        PACKING,
        "value = (node.name, node.trips, *body)",
        "value = (node.name, node.trips, len(body))",
        "equal numbers only for equal loop trees, bodies compared node by node",
        ("tests/test_golden.py", "tests/test_api.py", *FAST),
    ),
)

PACKING_BUGS = (
    Bug(
        "packing.index-dependent-loops-skippable",
        PACKING_KERNELS,
        "skippable[at] = trips > 1 and not index_dependent",
        "skippable[at] = trips > 1",
        "a loop whose body's addresses depend on its index is never skipped",
        (SKIP_CASES + "test_a_loop_sweeping_across_fixed_operands_is_never_skipped", *FAST),
    ),
    Bug(
        "packing.skippable-checks-inner-depth",
        PACKING_KERNELS,
        "index_dependent = (node_facts[n, 3] >> level) & 1 != 0",
        "index_dependent = (node_facts[n, 3] >> (level + 1)) & 1 != 0",
        "skippability checks the loop's own depth among the addresses' depths",
        (SKIP_CASES + "test_a_loop_sweeping_across_fixed_operands_is_never_skipped", *FAST),
    ),
    Bug(
        "packing.op-work-ignores-wide-operands",
        PACKING,
        "            instructions + extra,\n",
        "            instructions + 0 * extra,\n",
        "an iteration's work counts one per extra location of a wide operand (no cycle "
        "changes, but Gemmini's sampling then finds too few periods: its skip share fails)",
        (
            _SHARED + "test_packing_shared_random_trees_gives_the_plain_walks_ops",
            "tests/test_gemmini.py::test_random_convs_and_matmuls_fast_equals_full",
            *FAST,
        ),
    ),
    Bug(
        "packing.hot-path-with-chunks",
        PACKING,
        "    if not runs and chunk_shift == 0:\n        # The hot paths read locations",
        "    if True:\n        # The hot paths read locations",
        "the one-location hot path never runs with chunked locations (it ignores floors), "
        "nor where runs are kept (it marks none)",
        ("tests/test_timing_rules.py", *CHUNKS, *RUNS, *FAST),
    ),
    Bug(
        "packing.chunks-where-any-operand-is-wide",
        PACKING,
        "chunk_shift = CHUNK_SHIFT if any_wide and _mostly_ranges(counts, named) else 0",
        "chunk_shift = CHUNK_SHIFT if any_wide else 0",
        "chunks only where ranges name most locations the layers name (cycles are the same "
        "either way; the packing-choice tests pin a systolic os array unchunked)",
        (PACKING_CHOICES, *CHUNKS, *FAST),
    ),
    Bug(
        "packing.chunks-where-nothing-is-wide",
        PACKING,
        "chunk_shift = CHUNK_SHIFT if any_wide and _mostly_ranges(counts, named) else 0",
        "chunk_shift = CHUNK_SHIFT if _mostly_ranges(counts, named) else 0",
        "chunks only where some operand is wide",
        (PACKING_CHOICES, *CHUNKS, *FAST),
    ),
    Bug(
        "packing.shifted-with-fixed-operands",
        PACKING,
        "shared = apart[ends] == apart[starts]",
        "shared = apart[ends] >= apart[starts]",
        "the shifted hot path takes a template only where every operand moves as its unit "
        "instance does (a systolic preload's fold token does not)",
        (PACKING_CHOICES, "tests/test_fidelity_scalesim.py::test_cycles_match_scalesim"),
    ),
    Bug(
        "packing.operands-weighed-once",
        PACKING,
        "    if not runs.any():\n        runs[:] = 1.0",
        "    if True:\n        runs[:] = 1.0",
        "packing's choices weigh each operand by how often the layers run its block",
        (PACKING_CHOICES,),
    ),
    Bug(
        "packing.block-runs-without-trips",
        PROGRAM,
        "trips = executions.get(id(loop), 0) * loop.trips",
        "trips = executions.get(id(loop), 0)",
        "a block's runs multiply the trips of every loop around it",
        (
            _SHARED + "test_packing_shared_random_trees_gives_the_plain_walks_ops",
            PACKING_CHOICES,
        ),
    ),
    Bug(
        "packing.reads-never-tracked",
        PACKING,
        "track = np.isin(first_of_space, written)",
        "track = np.zeros(n, dtype=np.bool_)",
        "reads of written spaces record their read times (WAR, general path)",
        RULES,
    ),
    Bug(
        "packing.written-spaces-shifted",
        PACKING,
        "written = np.unique(first_of_space[np.cumsum(in_writes)[:n] > 0])",
        "written = np.unique(first_of_space[np.cumsum(in_writes)[1 : n + 1] > 0])",
        "the spaces some template writes are those of the write operands themselves",
        ("tests/test_timing_rules.py::test_war_on_a_space_written_only_after_reading_another",),
    ),
    Bug(
        "packing.address-depth-one-short",
        PACKING,
        "last = MAX_DEPTH - np.argmax(nonzero[:, ::-1], axis=1)",
        "last = MAX_DEPTH - np.argmax(nonzero[:, ::-1], axis=1) - 1",
        "an operand's address uses every loop depth up to its deepest coefficient",
        (*RULES, EXACT + "test_sweeping_programs_fast_equals_full"),
    ),
    Bug(
        "packing.instances-share-a-unit",
        TEMPLATE_ROW,
        "rows[:, column] = [unit_first[v] + i for v, i in zip(values, instances, strict=True)]",
        "rows[:, column] = [unit_first[v] + 0 * i for v, i in zip(values, instances, strict=True)]",
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
    Bug(
        "packing.loop-depth-not-its-own",
        PACKING_KERNELS,
        "    arg2[at] = node_facts[n, 6]\n    depth[at] = level\n",
        "    arg2[at] = node_facts[n, 6]\n    depth[at] = 0\n",
        "a subtree's ops hold the depth where it lands, which one subtree's landings differ in",
        (
            _SHARED
            + "test_subtrees_equal_but_for_a_trip_count_a_coefficient_or_a_depth_never_share_ops",
            *FAST,
        ),
    ),
    Bug(
        "packing.subtree-number-ignores-trips",
        PACKING,
        "value = (node.name, node.trips, *body)",
        "value = (node.name, *body)",
        "subtrees share a number only when equal: names, trips and children's numbers",
        (
            _SHARED
            + "test_subtrees_equal_but_for_a_trip_count_a_coefficient_or_a_depth_never_share_ops",
            *FAST,
        ),
    ),
    Bug(
        "packing.loop-end-jumps-short",
        PACKING_KERNELS,
        "            jump[at] = begin\n",
        "            jump[at] = begin + 1\n",
        "a LOOP_END jumps back to its own LOOP_BEGIN, past the subtree's ops",
        (
            _SHARED
            + "test_subtrees_equal_but_for_a_trip_count_a_coefficient_or_a_depth_never_share_ops",
            *RULES,
        ),
    ),
    Bug(
        "packing.runs-with-a-foreign-dtype",
        PACKING,
        "block_runs = np.zeros(len(blocks.block_first) - 1, dtype=np.int64)",
        "block_runs = np.zeros(len(blocks.block_first) - 1, "
        'dtype=np.dtype("=i8").newbyteorder("="))',
        "the block runs carry NumPy's own int64 dtype object (np.add.at is 30x slower on another)",
        (_SHARED + "test_packing_shared_random_trees_gives_the_plain_walks_ops",),
    ),
    Bug(
        "sharing.key-ignores-trips",
        SHARING,
        "key = (node.name, node.trips, *map(id, body))",
        "key = (node.name, *map(id, body))",
        "subtrees are one object only when equal: trips included",
        (_SHARING_TESTS, *GEMMINI),
    ),
    Bug(
        "sharing.copies-keep-unshared-children",
        SHARING,
        "node if same else Loop(node.name, node.trips, body)",
        "node",
        "a shared loop's children are the shared ones (else equal subtrees stay apart)",
        (_SHARING_TESTS,),
    ),
)
