"""What every catalogue module shares: the Bug record, the files bugs are seeded into and
the test selections that catch them, fastest first."""

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
LOOP_KERNELS = "analyzer/engine/loop_kernels.py"
LOOP_SKIPS = "analyzer/engine/loop_skips.py"
SIGNATURES = "analyzer/engine/signatures.py"
TRANSLATED_PERIODS = "analyzer/engine/translated.py"
RUNS_FILE = "analyzer/engine/runs.py"
PACKING = "analyzer/engine/packing.py"
PACKING_KERNELS = "analyzer/engine/packing_kernels.py"
TEMPLATE_ROW = "analyzer/engine/template_row.py"
BOUNDS = "analyzer/engine/bounds.py"
RECURRENCE = "analyzer/engine/recurrence.py"
RECURRENCE_KERNELS = "analyzer/engine/recurrence_kernels.py"
EVALUATE = "analyzer/engine/evaluate.py"
SHARING = "isa/sharing.py"
PROGRAM = "isa/program.py"
VALIDATION = "isa/validation.py"
TRACE_IO = "tracer/trace_io.py"
TRACE_READ = "tracer/trace_read.py"
GEMMINI_LOWERING = "isa/gemmini/lowering.py"
GEMMINI_COMMANDS = "isa/gemmini/commands.py"
GEMMINI_HIERARCHY = "isa/gemmini/hierarchy.py"
GEMMINI_LIBRARY = "isa/gemmini/library.py"
GEMMINI_STREAMS = "isa/gemmini/streams.py"
GEMMINI_OS = "isa/gemmini/output_stationary.py"
MEMORY_KERNELS = "isa/systolic/memory_kernels.py"
MEMORY_SIDE = "isa/systolic/memory_side.py"
OS_QUEUES = "int(params[entries]) for queue, entries in RS_ENTRIES.items()"

EXACT = "tests/test_exactness.py::"
SKIP_CASES = "tests/test_skip_cases.py::"
TRANSLATED_TESTS = "tests/test_translated_periods.py::"
# Hand-worked timing rules, then the independent reference and fast == full on random programs.
RULES = (
    "tests/test_timing_rules.py",
    EXACT + "test_random_programs_full_equals_an_independent_reference",
    "tests/test_gemmini.py::test_small_layers_agree_with_the_reference_evaluator",
    "tests/test_gemmini_os.py::test_small_os_layers_agree_with_the_reference_evaluator",
    EXACT + "test_random_programs_fast_equals_full",
)
# Fast == full wherever fast mode skips: random programs, the memo, systolic and Gemmini.
FAST = (
    SKIP_CASES + "test_memo_restores_whether_a_bundle_is_open",
    EXACT + "test_memo_spares_a_later_layer_the_warm_up",
    EXACT + "test_random_programs_fast_equals_full",
    EXACT + "test_random_multilayer_programs_fast_equals_full",
    TRANSLATED_TESTS + "test_translating_programs_fast_equals_full",
    EXACT + "test_memo_across_layers_keeps_fast_equal_to_full",
    EXACT + "test_systolic_fast_equals_full",
    EXACT + "test_systolic_fast_equals_full_with_whole_state_periods_alone",
    SKIP_CASES + "test_a_skip_keeps_a_unit_the_loop_never_uses_busy",
    SKIP_CASES + "test_two_bundles_a_cycle_repeat_every_two_iterations",
    SKIP_CASES + "test_a_skip_keeps_a_read_time_at_the_floor_a_writer_beside_it_sees",
    "tests/test_zoo_end_to_end.py::test_fast_equals_full_on_depthwise_and_pointwise",
    "tests/test_gemmini.py::test_random_convs_and_matmuls_fast_equals_full",
    "tests/test_gemmini_os.py::test_random_os_matmuls_fast_equals_full",
    "tests/test_exactness_resnet50.py",
)
# Translated periods (docs/design.md §4.6): worked by hand, then random programs whose
# every loop moves its addresses, then fast == full at large.
TRANSLATED = (
    TRANSLATED_TESTS + "test_a_streaming_loop_skips_translated_periods_and_restores_its_trail",
    TRANSLATED_TESTS + "test_a_translated_skip_restores_a_trail_written_through_chunk_floors",
    TRANSLATED_TESTS + "test_a_translated_skip_stops_where_the_locations_ahead_differ",
    TRANSLATED_TESTS + "test_a_translated_skip_stops_at_a_read_pending_ahead",
    TRANSLATED_TESTS + "test_a_translated_match_compares_the_machine",
    TRANSLATED_TESTS + "test_a_translated_match_is_decided_in_full",
    SKIP_CASES + "test_a_loop_sweeping_across_fixed_operands_is_never_skipped",
    TRANSLATED_TESTS + "test_translating_programs_fast_equals_full",
    *FAST,
)
# Runs of locations: their invariant and the kernels that read them, then fast == full.
RUNS = (
    "tests/test_runs.py",
    "tests/test_signatures.py::test_a_memo_restore_sets_the_run_starts_of_a_chunk_it_writes",
    "tests/test_signatures.py::test_a_restore_onto_another_state_sets_its_runs",
    TRANSLATED_TESTS + "test_a_wavefront_restore_keeps_the_runs",
    TRANSLATED_TESTS + "test_runs_change_no_decision",
)
# Wide operands (the kernel's location chunks): hand-worked cases, the random programs, Gemmini.
CHUNKS = (
    "tests/test_timing_rules.py",
    EXACT + "test_random_programs_full_equals_an_independent_reference",
    EXACT + "test_random_programs_fast_equals_full",
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
    EXACT + "test_random_programs_full_equals_an_independent_reference",
)
TRACE_TESTS = ("tests/test_trace_io.py", "tests/test_cli.py", "tests/test_api.py")
GEMMINI = ("tests/test_gemmini.py", "tests/test_gemmini_lowering.py", "tests/test_gemmini_os.py")
# How the program calls gemmini.h (conv_1x1, first_layer_optimizations, bias).
GEMMINI_CALLS = ("tests/test_gemmini_calls.py", *GEMMINI)
MEMORY = (
    "tests/test_memory_side.py",
    "tests/test_validate.py",
    "tests/test_api.py",
    "tests/test_cli.py",
)
# Stall cycles worked by hand (no SCALE-Sim needed) first.
MEMORY_BY_HAND = ("tests/test_memory_side.py::test_stall_cycles_worked_by_hand", *MEMORY)
