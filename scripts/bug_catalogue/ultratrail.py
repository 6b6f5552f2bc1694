"""Bugs in the UltraTrail family's lowering (isa/ultratrail/) and its analytical baseline:
each a plausible slip in the instructions, the padding-tap skip, the addresses, the FMEM
placement or the authors' formula."""

from __future__ import annotations

from scripts.bug_catalogue.common import Bug

ULTRATRAIL_LOWERING = "isa/ultratrail/lowering.py"
ULTRATRAIL_GEOMETRY = "isa/ultratrail/geometry.py"
ULTRATRAIL_PLAN = "isa/ultratrail/plan.py"
BASELINES = "analyzer/crosscheck/baselines.py"
ULTRATRAIL = "tests/test_ultratrail.py"
BY_HAND = ULTRATRAIL + "::test_a_tiny_conv_worked_by_hand"
TWO_CYCLE_MAC = ULTRATRAIL + "::test_a_two_cycle_mac_worked_by_hand"
PSUMS_BY_HAND = ULTRATRAIL + "::test_partial_sums_across_input_blocks_worked_by_hand"
STEPS = ULTRATRAIL + "::test_array_steps_are_the_in_bounds_block_position_tap_steps"
TIME_AXIS = ULTRATRAIL + "::test_time_runs_along_either_trivial_axis_and_nowhere_else"
TC_RESNET8 = (
    ULTRATRAIL + "::test_tc_resnet8_fast_equals_full_and_differs_from_the_formula_as_explained"
)
ACTIONS = "tests/test_ultratrail_actions.py"
TALL_ARRAY = ACTIONS + "::test_a_tall_array_reads_two_fmem_words_per_input_vector"
ACTIONS_PER_LAYER = ACTIONS + "::test_tc_resnet8_layers_against_their_steps"

ULTRATRAIL_BUGS = (
    Bug(
        "ultratrail.unit-latency-ignored",
        ULTRATRAIL_LOWERING,
        "latency=spec.latency,",
        "latency=1,",
        "each instruction takes its unit's latency from the description (mac_latency, ...)",
        (TWO_CYCLE_MAC, ULTRATRAIL),
    ),
    Bug(
        "ultratrail.padding-taps-issued",
        ULTRATRAIL_GEOMETRY,
        "return max(0, -start), min(self.kernel, self.in_length - start)",
        "return 0, self.kernel",
        "taps that fall on the zero padding are not issued",
        (STEPS, TC_RESNET8, ULTRATRAIL),
    ),
    Bug(
        "ultratrail.padding-across-time-ignored",
        ULTRATRAIL_GEOMETRY,
        "and layer.padding[other] == layer.padding[other + 2] == 0",
        "",
        "a conv padded across the time axis is a 2-D convolution",
        (TIME_AXIS, ULTRATRAIL),
    ),
    Bug(
        "ultratrail.weights-ignore-the-input-block",
        ULTRATRAIL_LOWERING,
        "coefs=(0, self.in_blocks * conv.kernel, conv.kernel, 0, *inner),",
        "coefs=(0, self.in_blocks * conv.kernel, 0, 0, *inner),",
        "each input block reads its own weight blocks (timing alone cannot see it)",
        (STEPS, ULTRATRAIL),
    ),
    Bug(
        "ultratrail.residual-through-the-input-port",
        ULTRATRAIL_LOWERING,
        "instance=plan.residual.fmem,",
        "instance=self.source.fmem,",
        "the residual is read through the port of the FMEM that holds it",
        (
            TC_RESNET8,
            ULTRATRAIL + "::test_two_fmems_make_the_residual_share_a_port_and_the_bound_says_so",
            ULTRATRAIL,
        ),
    ),
    Bug(
        "ultratrail.last-block-skips-the-partial-sums",
        ULTRATRAIL_LOWERING,
        'if role == "last":',
        "if False:",
        "the last input block reads the partial sums through the LMEM port",
        (PSUMS_BY_HAND, TC_RESNET8, ULTRATRAIL),
    ),
    Bug(
        "ultratrail.formula-without-right-padding",
        BASELINES,
        "right = pad * math.floor((overhang - 1) / stride + 1)",
        "right = 0",
        "the analytical model leaves out the taps on the right padding too",
        (TC_RESNET8, ULTRATRAIL),
    ),
    Bug(
        "ultratrail.actions-macs-of-a-square-array",
        ULTRATRAIL_LOWERING,
        "self.macs_per_step = rows * cols",
        "self.macs_per_step = rows * rows",
        "an array step issues one MAC per cell: rows x cols, idle ones included",
        (ACTIONS_PER_LAYER, ACTIONS),
    ),
    Bug(
        "ultratrail.actions-one-fmem-word-per-input-vector",
        ULTRATRAIL_PLAN,
        "input_vector_words=ceil_div(sizes.rows, sizes.lanes),",
        "input_vector_words=1,",
        "an input vector of rows features spans ceil(rows / lanes) FMEM words",
        (TALL_ARRAY, ACTIONS),
    ),
    Bug(
        "ultratrail.actions-psum-add-without-its-read",
        ULTRATRAIL_LOWERING,
        "# Read, add, write back: one word each way.\n"
        "                    actions=(\n"
        '                        (memory_action("lmem", "read"), 1),\n',
        "actions=(\n",
        "a middle input block reads its partial sum from LMEM before writing the sum back",
        (ACTIONS_PER_LAYER, ACTIONS),
    ),
)
