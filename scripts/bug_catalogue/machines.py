"""Bugs in an accelerator family's own rules: Gemmini's queues and the systolic memory side."""

from __future__ import annotations

from scripts.bug_catalogue.common import (
    GEMMINI,
    GEMMINI_CALLS,
    GEMMINI_COMMANDS,
    GEMMINI_HIERARCHY,
    GEMMINI_LIBRARY,
    GEMMINI_LOWERING,
    GEMMINI_OS,
    GEMMINI_STREAMS,
    MEMORY,
    MEMORY_BY_HAND,
    MEMORY_KERNELS,
    MEMORY_SIDE,
    OS_QUEUES,
    Bug,
)

PROGRAM = "isa/program.py"
COMPILED = "analyzer/engine/compiled.py"
HAND_DOWN = (
    "tests/test_compiled.py::"
    "test_isa_kernels_run_the_built_module_inside_the_block_and_the_jit_after"
)
NO_NUMBA = "tests/test_compiled.py::test_a_one_shot_command_in_a_fresh_process_never_imports_numba"
# The memory side's shortcuts (quiet runs of demand rows, im2col words remembered): the
# walk without them is the reference; the counts see a shortcut refused where it holds.
QUIET_RUNS = (
    "tests/test_memory_side.py::test_gemms_take_shortcuts_exactly",
    "tests/test_memory_side.py::test_convs_take_shortcuts_exactly",
    "tests/test_memory_side.py::test_most_rows_of_a_stalling_gemm_are_passed",
)
MOVES_AT_ONCE = (
    "tests/test_memory_side.py::test_the_moves_to_a_line_made_at_once_equal_them_one_by_one",
    "tests/test_memory_side.py::test_gemms_take_shortcuts_exactly",
)
NESTED_TILES = (
    "tests/test_gemmini_lowering.py::"
    "test_tile_groups_repeating_inside_a_longer_group_are_nested_loops"
)
NESTED_TOO_DEEP = (
    "tests/test_gemmini_lowering.py::"
    "test_nested_tile_loops_deeper_than_a_program_may_be_keep_one_level"
)
NESTED_OS_TILES = (
    "tests/test_gemmini_os.py::test_os_tile_runs_repeating_inside_a_repeated_group_are_nested_loops"
)

GEMMINI_BUGS = (
    Bug(
        "gemmini.computes-ignore-their-loads-issue",
        GEMMINI_COMMANDS,
        'marks=(Operand(TOKEN_SPACE if unit == "load" else RETIRED_SPACE, half),),',
        "marks=(Operand(RETIRED_SPACE, half),),",
        "a tile's computes start once its loads are all issued",
        (
            "tests/test_gemmini.py::test_a_tiles_computes_wait_for_its_loads_to_be_issued_not_done",
            *GEMMINI,
        ),
    ),
    Bug(
        "gemmini.third-loop-not-held",
        GEMMINI_COMMANDS,
        "+ (() if half is None else (Operand(RETIRED_SPACE, half),)),",
        "+ (),",
        "the unrollers hold two loops: a tile's loads wait for the loop two before to retire",
        ("tests/test_gemmini.py::test_a_third_loop_waits_for_the_first_to_retire", *GEMMINI),
    ),
    Bug(
        "gemmini.loop-retires-a-cycle-late",
        GEMMINI_COMMANDS,
        'opcode=f"{STREAMS[unit]}_stream_done",\n'
        '            unit="rocc",\n            instance=0,\n            latency=0,',
        'opcode=f"{STREAMS[unit]}_stream_done",\n'
        '            unit="rocc",\n            instance=0,\n            latency=1,',
        "a loop retires when its streams have issued their last command, not a cycle later",
        ("tests/test_gemmini.py::test_a_third_loop_waits_for_the_first_to_retire", *GEMMINI),
    ),
    Bug(
        "gemmini.mesh-queue-one-tag-larger",
        GEMMINI_LOWERING,
        '"mesh": int(params["mesh_tags"]),',
        '"mesh": int(params["mesh_tags"]) + 1,',
        "the mesh holds `mesh_tags` matmuls in flight",
        ("tests/test_gemmini.py::test_the_mesh_holds_six_matmuls_at_once", *GEMMINI),
    ),
    Bug(
        "gemmini.tree-key-without-warm",
        GEMMINI_LOWERING,
        "tuple(tile.at for tile in tiles), tuple(sorted(warm.items()))",
        "tuple(tile.at for tile in tiles)",
        "a layer's tree depends on which operands its predecessor left warm in the L2",
        (
            "tests/test_gemmini_lowering.py::test_layers_of_one_key_take_one_tree_equal_to_their_own",
            *GEMMINI,
        ),
    ),
    Bug(
        "gemmini.tree-key-without-starts",
        GEMMINI_LOWERING,
        "tuple(tiles), tuple(tile.at for tile in tiles), tuple(sorted",
        "tuple(tiles), tuple(sorted",
        "tile equality leaves out where a tile starts, which its data's level depends on",
        (
            "tests/test_gemmini_lowering.py::test_equal_layers_mapped_in_other_loop_orders_keep_their_own_trees",
            *GEMMINI,
        ),
    ),
    Bug(
        "gemmini.roofline-bias-as-int8",
        GEMMINI_LIBRARY,
        "(ACC_BYTES * channels if bias else 0)",
        "(INPUT_BYTES * channels if bias else 0)",
        "Gemmini's bias is int32: four bytes a channel on the roofline's bus",
        (
            "tests/test_baselines.py::test_gemminis_roofline_moves_the_compulsory_bytes_over_the_bus",
        ),
    ),
    Bug(
        "gemmini.roofline-output-unpooled",
        GEMMINI_LIBRARY,
        "    if pool is not None:\n        outputs = prod(pool.output_shape)\n",
        "",
        "a conv with a pool fused writes the pooled output to DRAM",
        (
            "tests/test_baselines.py::test_gemminis_roofline_moves_the_compulsory_bytes_over_the_bus",
        ),
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
    Bug(
        "gemmini.depthwise-downsampled",
        "isa/gemmini/tiling.py",
        "        not problem.depthwise\n        and problem.stride == 2",
        "        problem.stride == 2",
        "tiled_conv_dw_auto never halves a strided 1x1 conv's input (gemmini.h L2962-2967)",
        (
            "tests/test_gemmini_tiling.py::"
            "test_a_strided_depthwise_1x1_conv_counts_its_whole_input",
            *GEMMINI,
        ),
    ),
    # How the program calls gemmini.h (accelerators/gemmini.toml: bias,
    # first_layer_optimizations, conv_1x1).
    Bug(
        "gemmini.no-bias-reads-dram",
        GEMMINI_STREAMS,
        "zeros=zeros,",
        "zeros=False,",
        "NO_BIAS: LOOP_CONV_WS's mvin3s come from address 0, zero rows without DRAM traffic",
        GEMMINI_CALLS,
    ),
    Bug(
        "gemmini.no-bias-matmul-zero-fills",
        GEMMINI_STREAMS,
        "if tile.first and (tile.bias or tile.loop_conv_ws):",
        "if tile.first:",
        "NO_BIAS: LOOP_WS loads no D; its first compute overwrites the accumulator",
        GEMMINI_CALLS,
    ),
    Bug(
        "gemmini.no-bias-os-loads-bias",
        GEMMINI_OS,
        "if tile.first and tile.bias:",
        "if tile.first:",
        "NO_BIAS: sp_tiled_matmul_os moves no D in",
        GEMMINI_CALLS,
    ),
    Bug(
        "gemmini.zero-fill-one-cycle-per-row",
        GEMMINI_COMMANDS,
        "cycles = rows * -(-row_bytes // (element_bytes * self.dim))",
        "cycles = rows",
        "the ZeroWriter writes DIM columns a cycle",
        GEMMINI_CALLS,
    ),
    Bug(
        "gemmini.first-layer-packing-always-on",
        GEMMINI_LIBRARY,
        "packing = calls.first_layer_optimizations",
        "packing = True",
        "without HAS_FIRST_LAYER_OPTIMIZATIONS one kernel column per weight step",
        GEMMINI_CALLS,
    ),
    Bug(
        "gemmini.conv-1x1-always-matmul",
        GEMMINI_LIBRARY,
        'as_matmul = pointwise and calls.conv_1x1 == "matmul"',
        "as_matmul = pointwise",
        "conv_1x1=conv: tiled_conv_auto runs every convolution",
        GEMMINI_CALLS,
    ),
    Bug(
        "gemmini.downsample-loads-every-pixel",
        GEMMINI_STREAMS,
        "        if tile.downsample:\n",
        "        if False:\n",
        "a downsampled 1x1 conv loads every other input pixel",
        GEMMINI_CALLS,
    ),
    Bug(
        "gemmini.nested-tile-loop-streams-one-level-up",
        PROGRAM,
        "out.append(Loop(repeated, repeats, tuple(nodes(inner, depth + 1))))",
        "out.append(Loop(repeated, repeats, tuple(nodes(inner, depth))))",
        "a tile's operands name its own loops' indices, one deeper in a nested run of tiles",
        (NESTED_TILES, NESTED_OS_TILES, "tests/test_gemmini.py"),
    ),
    Bug(
        "gemmini.nested-tile-loops-past-max-depth",
        PROGRAM,
        "    if loop_depth(nested) <= MAX_DEPTH:\n",
        "    if loop_depth(nested) <= MAX_DEPTH + 1:\n",
        "a layer whose nested tile loops would pass MAX_DEPTH keeps one level of loops",
        (NESTED_TOO_DEEP, NESTED_OS_TILES, "tests/test_gemmini.py"),
    ),
    Bug(
        "gemmini.nested-resadd-stores-at-the-root-depth",
        GEMMINI_STREAMS,
        'stores += nest(dims, root_depth, pieces_of("col", runs, store), {})',
        'stores += nest(dims, ROOT_DEPTH, pieces_of("col", runs, store), {})',
        "a residual addition's stores loop at the depth of the tile loop around them",
        (NESTED_TILES, "tests/test_gemmini.py"),
    ),
    Bug(
        "gemmini.nested-conv-bias-loads-at-the-root-depth",
        GEMMINI_STREAMS,
        "loads += nest(layout.pixel_rows, layout.root_depth, leaf, {})",
        "loads += nest(layout.pixel_rows, ROOT_DEPTH, leaf, {})",
        "a conv tile's bias loads loop at the depth of the tile loop around them",
        (NESTED_TILES, "tests/test_gemmini.py"),
    ),
    Bug(
        "gemmini.nested-os-mvins-at-the-root-depth",
        GEMMINI_OS,
        "nodes += nest([(outer_var, o.trips, o.first, o.step)], root_depth, leaf, {})",
        "nodes += nest([(outer_var, o.trips, o.first, o.step)], ROOT_DEPTH, leaf, {})",
        "an OS tile's mvins loop at the depth of the tile loop around them",
        (NESTED_OS_TILES, "tests/test_gemmini_os.py"),
    ),
)

MEMORY_BUGS = (
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
    Bug(
        "memory.quiet-run-past-a-drains-end",
        MEMORY_KERNELS,
        "cycle + x1 - x0 >= write_state[4]",
        "cycle >= write_state[4]",
        "a run stores into a draining SRAM only while the drain is in flight at its last row",
        QUIET_RUNS,
    ),
    Bug(
        "memory.quiet-run-fills-the-output-sram",
        MEMORY_KERNELS,
        "(free < 1 or",
        "(free < 0 or",
        "a write that would leave no word free waits for the drain in flight",
        QUIET_RUNS,
    ),
    Bug(
        "memory.quiet-run-span-ignored",
        MEMORY_KERNELS,
        "% state[1] + last // state[0] - line < state[2]",
        "% state[1] < state[2]",
        "a run's demand is resident only if its last line is in the window too",
        QUIET_RUNS,
    ),
    Bug(
        "memory.quiet-run-stores-a-row-less",
        MEMORY_KERNELS,
        "def _store_rows(fold, x0, x1, write_state):\n    words = _writes_before(fold, x1 + 1)",
        "def _store_rows(fold, x0, x1, write_state):\n    words = _writes_before(fold, x1)",
        "a passed run stores the words of all its rows",
        QUIET_RUNS,
    ),
    Bug(
        "memory.quiet-runs-refused-while-draining",
        MEMORY_KERNELS,
        "and (free < 1 or cycle + x1 - x0 >= write_state[4]):",
        ":",
        "rows that store while a drain is in flight are passed too (no result changes)",
        ("tests/test_memory_side.py::test_most_rows_of_a_stalling_gemm_are_passed",),
    ),
    Bug(
        "memory.quiet-ws-filter-rows-one",
        MEMORY_KERNELS,
        "first = _ws_filter_row(base - xb,",
        "first = _ws_filter_row(base - xa,",
        "a run's ws filter demand spans every filter row it reads",
        QUIET_RUNS,
    ),
    Bug(
        "memory.quiet-ifmap-last-diagonal-short",
        MEMORY_KERNELS,
        "last + min(valid_rows - 1, yb) - lo",
        "last",
        "a run's ifmap demand ends at its last diagonal's last column",
        QUIET_RUNS,
    ),
    Bug(
        "memory.quiet-writes-summed-wrong",
        MEMORY_KERNELS,
        "return n * (n + 1) // 2",
        "return n * (n - 1) // 2",
        "the words of a run of rows are the sum of each row's",
        QUIET_RUNS,
    ),
    Bug(
        "memory.moves-at-once-parity-flipped",
        MEMORY_KERNELS,
        "        if moves % 2:\n",
        "        if moves % 2 == 0:\n",
        "after the first move the lag alternates; an odd count ends on P - d_2",
        MOVES_AT_ONCE,
    ),
    Bug(
        "memory.moves-at-once-lag-of-the-first",
        MEMORY_KERNELS,
        "lag = max(0, state[5] - lag)  # d_2",
        "lag = max(0, lag)  # d_2",
        "each move after the first lags by what the move before left of its cycles",
        MOVES_AT_ONCE,
    ),
    Bug(
        "memory.moves-at-once-one-short",
        MEMORY_KERNELS,
        "moves = -(-(distance - state[2] + 1) // state[3])",
        "moves = (distance - state[2] + 1) // state[3]",
        "the window moves until the line is in it",
        MOVES_AT_ONCE,
    ),
    Bug(
        "memory.found-survives-a-move",
        MEMORY_KERNELS,
        "if found[0, slot] == word and found[1, slot] == state[6]:",
        "if found[0, slot] == word:",
        "a word found resident is remembered only until the window moves",
        QUIET_RUNS,
    ),
    Bug(
        "memory.found-slot-taken-for-the-word",
        MEMORY_KERNELS,
        "if found[0, slot] == word and found[1, slot] == state[6]:",
        "if found[1, slot] == state[6]:",
        "a slot recalls only the word it holds, not another that falls in it",
        QUIET_RUNS,
    ),
    Bug(
        "memory.found-never-recalled",
        MEMORY_KERNELS,
        "if found[0, slot] == word and found[1, slot] == state[6]:",
        "if found[0, slot] == word and found[1, slot] == state[6] + 1:",
        "a word found resident is not looked up again in the same window (no result changes)",
        ("tests/test_memory_side.py::test_a_conv_remembers_the_words_it_found_resident",),
    ),
    Bug(
        "memory.input-word-without-its-channel",
        MEMORY_KERNELS,
        "return ((image * geometry[0] + y) * geometry[1] + x) * channels + channel",
        "return ((image * geometry[0] + y) * geometry[1] + x) * channels",
        "each channel of an input pixel is a word of its own",
        (
            *QUIET_RUNS,
            "tests/test_memory_side.py::test_a_conv_remembers_the_words_it_found_resident",
        ),
    ),
    Bug(
        "memory.ws-remembers-across-folds",
        MEMORY_KERNELS,
        "(output_stationary or geometry[2] < rows)",
        "(output_stationary or geometry[2] < 0)",
        "ws remembers words where a fold's kernel elements span more than a pixel's channels",
        ("tests/test_memory_side.py::test_a_conv_remembers_the_words_it_found_resident",),
    ),
    # The memory side's kernel compiled ahead of time (isa/kernel_door.py). These build
    # the module in the copy (about a minute) unless ACCPERF_KERNEL_DIR names a folder
    # holding it.
    Bug(
        "memory.kernel-not-handed-down",
        COMPILED,
        "handed_down_before = kernel_door.hand_down(built_for_isa)",
        "handed_down_before = kernel_door.hand_down({})",
        "`analyze` runs the memory side's kernel compiled ahead of time, without Numba",
        (HAND_DOWN, NO_NUMBA),
    ),
    Bug(
        "memory.kernel-not-handed-back",
        COMPILED,
        "kernel_door.hand_down(handed_down_before)",
        "kernel_door.hand_down(built_for_isa)",
        "the JIT's kernel runs again once the ahead-of-time block ends",
        (HAND_DOWN,),
    ),
    Bug(
        "memory.engine-kernels-handed-down-instead",
        COMPILED,
        'if s.module.startswith("isa.")',
        'if s.module.startswith("analyzer.")',
        "isa/ is handed its own kernels",
        (HAND_DOWN, NO_NUMBA),
    ),
)

GEMMINI_REACH_TESTS = (
    "tests/test_gemmini_memory.py::test_a_re_read_hits_while_what_came_between_fits_the_l2",
    "tests/test_gemmini_memory.py::test_reaches_equal_the_lru_stack_walked_back",
    "tests/test_gemmini_memory.py::test_reaches_on_a_networks_tiles_equal_the_lru_stack_walked_back",
)
GEMMINI_REACH_BUGS = (
    Bug(
        "gemmini.reach-counts-its-own-previous-touch",
        GEMMINI_HIERARCHY,
        "between = prefix[before] - prefix[after + 1]",
        "between = prefix[before] - prefix[after]",
        "a touch's reach counts the regions touched since its previous touch, not that touch",
        GEMMINI_REACH_TESTS,
    ),
    Bug(
        "gemmini.reach-counts-a-region-at-every-touch",
        GEMMINI_HIERARCHY,
        "since[queries] = between - nested",
        "since[queries] = between",
        "a region touched several times since counts once, at its latest size",
        GEMMINI_REACH_TESTS,
    ),
    Bug(
        "gemmini.reach-tree-misses-its-largest-blocks",
        GEMMINI_HIERARCHY,
        "for level in range(levels):",
        "for level in range(levels - 1):",
        "the merge-sort tree's blocks cover every touch after the previous one",
        GEMMINI_REACH_TESTS,
    ),
    Bug(
        "gemmini.reach-tree-takes-the-wrong-blocks",
        GEMMINI_HIERARCHY,
        "take = ((low >> level) & 1).astype(bool) & (low < n)",
        "take = ~((low >> level) & 1).astype(bool) & (low < n)",
        "the suffix after the previous touch splits into the aligned blocks its bits name",
        GEMMINI_REACH_TESTS,
    ),
    Bug(
        "gemmini.reach-brought-in-counts-warm-tensors",
        GEMMINI_HIERARCHY,
        "fetched = np.where(first & ~in_warm, sizes, 0)",
        "fetched = np.where(first, sizes, 0)",
        "only what this layer fetches from DRAM adds to the warm tensor's reach",
        GEMMINI_REACH_TESTS,
    ),
    Bug(
        "gemmini.reach-empty-warm-tensor-not-warm",
        GEMMINI_HIERARCHY,
        "finds_tensor = first & in_warm",
        "finds_tensor = first & (tensor > 0)",
        "an operand named warm finds the tensor at its first touch, whatever its size",
        GEMMINI_REACH_TESTS,
    ),
    Bug(
        "gemmini.reach-same-layer-reports-the-replay",
        GEMMINI_HIERARCHY,
        "since = since[(passes - 1) * n :]",
        "since = since[:n]",
        "same_layer reports the touches after the replayed pass",
        GEMMINI_REACH_TESTS,
    ),
)
GEMMINI_LLC_BUGS = (
    Bug(
        "gemmini.llc-second-line-does-not-wait-for-the-refill",
        GEMMINI_HIERARCHY,
        "lookup + self.dram_latency + refill + self.line_beats",
        "lookup + refill + self.line_beats",
        "a block's second line waits at the LLC model's queue head for the first one's refill",
        (
            "tests/test_gemmini_memory.py::test_a_first_touch_through_the_llc_model_waits_for_each_block_in_turn",
        ),
    ),
    Bug(
        "gemmini.llc-mshrs-unlimited",
        GEMMINI_HIERARCHY,
        "// self.llc_mshrs)",
        "// (self.llc_mshrs * 1000))",
        "the LLC model keeps at most llc_mshrs misses outstanding",
        (
            "tests/test_gemmini_memory.py::test_a_first_touch_through_the_llc_model_waits_for_each_block_in_turn",
        ),
    ),
    Bug(
        "gemmini.llc-lookup-not-in-reach",
        GEMMINI_HIERARCHY,
        "hit + self.memory_bus_latency + self.llc_lookup_latency + self.line_beats",
        "hit + self.memory_bus_latency + self.line_beats",
        "a request past the L2 waits for the LLC model's lookup",
        (
            "tests/test_gemmini_memory.py::test_a_line_the_llc_holds_costs_the_memory_bus_but_no_dram",
        ),
    ),
    Bug(
        "gemmini.llc-never-hits",
        GEMMINI_HIERARCHY,
        "return LLC if reach <= llc_bytes else DRAM",
        "return DRAM",
        "a re-read beyond the L2 but within the LLC's capacity hits the LLC",
        (
            "tests/test_gemmini_memory.py::test_a_re_read_beyond_the_l2_but_within_the_llc_hits_there",
        ),
    ),
    Bug(
        "gemmini.llc-refill-holds-no-time",
        GEMMINI_HIERARCHY,
        "in_order = (lines.blocks - paired) * (lookup + refill)",
        "in_order = (lines.blocks - paired) * lookup",
        "a miss's refill holds the LLC model for the block's beats",
        (
            "tests/test_gemmini_memory.py::test_a_first_touch_through_the_llc_model_waits_for_each_block_in_turn",
        ),
    ),
    Bug(
        "gemmini.l2-queued-requests-at-hit-latency",
        GEMMINI_HIERARCHY,
        "return max(serving, hit + busy - 1)",
        "return max(serving, busy * hit)",
        "the L2 serves a line's queued requests back to back, one a cycle after the first",
        (
            "tests/test_gemmini.py::test_rows_narrower_than_a_line_serialise_on_its_l2_set",
            "tests/test_gemmini_memory.py::test_a_three_channel_input_serialises_on_the_l2_set",
        ),
    ),
    Bug(
        "gemmini.dma-rows-always-aligned",
        GEMMINI_COMMANDS,
        "step = gcd(stride, dma_maxbytes) if stride else dma_maxbytes",
        "step = dma_maxbytes",
        "a command's rows start at every offset their stride reaches in an aligned block",
        (
            "tests/test_gemmini.py::test_the_reader_splits_a_row_as_the_dma_does",
            "tests/test_gemmini.py::test_rows_narrower_than_a_line_serialise_on_its_l2_set",
        ),
    ),
    Bug(
        "gemmini.dma-get-tie-takes-the-larger",
        GEMMINI_COMMANDS,
        "key=lambda choice: (choice[1], -choice[0]),",
        "key=lambda choice: (choice[1], choice[0]),",
        "of two Gets covering as much of a row, the reader takes the smaller",
        ("tests/test_gemmini.py::test_the_reader_splits_a_row_as_the_dma_does",),
    ),
)
