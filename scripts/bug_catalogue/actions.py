"""Bugs in counting actions (analyzer/actions.py), pricing them (analyzer/energy.py) and
the systolic array's actions (isa/systolic/lowering.py): each a plausible slip that would
leave every cycle unchanged, so only the counting and energy tests can see it."""

from __future__ import annotations

from scripts.bug_catalogue.common import Bug

ACTIONS = "analyzer/actions.py"
ENERGY = "analyzer/energy.py"
SYSTOLIC_LOWERING = "isa/systolic/lowering.py"
COUNTS = "tests/test_actions.py"
ONE_BY_ONE = COUNTS + "::test_counts_equal_the_instructions_counted_one_by_one"
BY_HAND = COUNTS + "::test_systolic_counts_from_first_principles"
PRICES = "tests/test_energy.py"
MEMORY_SIDE = "isa/systolic/memory_side.py"
SCALESIM = "tests/test_fidelity_scalesim.py"

SYSTOLIC_BOTH_MODES = COUNTS + "::test_systolic_counts_equal_the_instructions_and_both_modes"

ACTION_BUGS = (
    Bug(
        "actions.from-runs-counts-each-block-once",
        ACTIONS,
        "totals = block_runs @ self._per_block",
        "totals = (block_runs > 0) @ self._per_block",
        "an evaluation counts each block as often as the layer runs it",
        (ONE_BY_ONE, SYSTOLIC_BOTH_MODES, COUNTS),
    ),
    Bug(
        "actions.reused-layer-counts-nothing",
        "analyzer/engine/evaluate.py",
        "actions=self._actions.of(layer, self._loop_actions[key]),",
        "actions=self._actions.of(layer, Counter()),",
        "a layer fast mode reuses counts what the layer it reuses ran",
        (SYSTOLIC_BOTH_MODES, COUNTS),
    ),
    Bug(
        "actions.loop-trips-ignored",
        ACTIONS,
        "known = Counter({action: node.trips * amount for action, amount in body.items()})",
        "known = Counter(body)",
        "a loop's body runs once per trip",
        (ONE_BY_ONE, BY_HAND, COUNTS),
    ),
    Bug(
        "actions.subtree-cached-by-name-and-trips",
        ACTIONS,
        "key = id(node)",
        "key = hash((node.name, node.trips))",
        "a subtree's counts are reused only for that subtree (shared objects, not equal trips)",
        (ONE_BY_ONE, COUNTS),
    ),
    Bug(
        "actions.systolic-west-edge-first-row-only",
        SYSTOLIC_LOWERING,
        "actions=_MAC + (self.west_read if left else ()),",
        "actions=_MAC + (self.west_read if left and top else ()),",
        "every row of the array reads its own west edge word per step",
        (BY_HAND, "tests/test_fidelity_scalesim.py", COUNTS),
    ),
    Bug(
        "actions.systolic-drain-not-counted",
        SYSTOLIC_LOWERING,
        "                bundle_start=False,\n                actions=self.output_write,",
        "                bundle_start=False,",
        "each output captured at the array's edge is one ofmap SRAM write",
        (BY_HAND, "tests/test_fidelity_scalesim.py", COUNTS),
    ),
    Bug(
        "actions.systolic-dram-never-reuses",
        MEMORY_SIDE,
        "active = _ACTIVE_SETS * (int(parameters[kib_parameter]) * _WORDS_PER_KIB // _SETS)",
        "active = 0",
        "an operand that fits its SRAM's active half is read from DRAM once",
        (BY_HAND, SCALESIM, COUNTS),
    ),
    Bug(
        "actions.systolic-os-filter-groups-not-reused",
        MEMORY_SIDE,
        "return distinct if distinct <= active or 0 < group <= active else uses",
        "return distinct if distinct <= active else uses",
        "under os a column fold's filters serve its row folds back to back",
        (
            SCALESIM
            + "::test_os_filters_of_a_column_fold_are_read_about_once_as_scalesim_reads_them",
        ),
    ),
    Bug(
        "actions.systolic-partial-sums-written-once",
        MEMORY_SIDE,
        "ifmap_uses, filter_uses, outputs = col_folds * t * sr, sr * sc, row_folds * t * sc",
        "ifmap_uses, filter_uses, outputs = col_folds * t * sr, sr * sc, t * sc",
        "under ws every row fold writes its partial sums of the outputs",
        (BY_HAND, SCALESIM, COUNTS),
    ),
    Bug(
        "energy.interpolation-skips-a-segment",
        ENERGY,
        "while segment < len(xs) - 2 and x > xs[segment + 1]:",
        "while segment < len(xs) - 2 and x > xs[segment + 2]:",
        "a size between two of the figure's entries follows the segment between them",
        (PRICES + "::test_sram_energy_is_horowitz_at_his_sizes", PRICES),
    ),
    Bug(
        "energy.price-per-word-as-per-byte",
        ENERGY,
        "table[memory_action(name, access)] = cost.pj * memory.word_bytes",
        "table[memory_action(name, access)] = cost.pj",
        "prices are per byte; a word of several bytes costs that many",
        (PRICES + "::test_prices_per_word_are_per_byte_times_the_words_bytes", PRICES),
    ),
)
