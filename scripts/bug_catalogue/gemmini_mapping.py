"""Bugs in reading a user's Gemmini mapping (isa/gemmini/mapping.py) and applying it
(isa/gemmini/library.py): the loop order's direction, the budgets a tile must fit, the
layer's own dataflow."""

from __future__ import annotations

from scripts.bug_catalogue.common import GEMMINI_LIBRARY, Bug

GEMMINI_MAPPING = "isa/gemmini/mapping.py"
MAPPING = "tests/test_gemmini_mapping.py"
REFUSALS = MAPPING + "::test_every_refusal_is_one_line_naming_the_file_and_nothing_is_written"

MAPPING_BUGS = (
    Bug(
        "gemmini.mapping-loop-order-earlier-is-outer",
        GEMMINI_MAPPING,
        "return tuple(letters.index(c) for c in reversed(order) if c in letters)",
        "return tuple(letters.index(c) for c in order if c in letters)",
        "gemmini.h's perm lists the loops inner first (D gemmini.h L2369: earlier is inner)",
        (MAPPING + "::test_a_small_conv_mapping_worked_by_hand", MAPPING),
    ),
    Bug(
        "gemmini.mapping-conv-tile-gets-the-whole-memories",
        GEMMINI_LIBRARY,
        "(memory.scratchpad_rows // 2, memory.accumulator_rows // 2),",
        "(memory.scratchpad_rows, memory.accumulator_rows),",
        "a tiled_conv tile gets half the scratchpad and accumulator (T gemmini.h L2254-2261)",
        (REFUSALS, MAPPING),
    ),
    Bug(
        "gemmini.mapping-ws-matmul-not-double-buffered",
        GEMMINI_LIBRARY,
        "halves = 1 if output_stationary else 2",
        "halves = 1",
        "a WS tiled_matmul tile gets half of each memory, an OS one all (T gemmini.h L1145-1149)",
        (REFUSALS, MAPPING),
    ),
    Bug(
        "gemmini.mapping-dataflow-ignored",
        GEMMINI_LIBRARY,
        'os_ = entry.dataflow == "os" if mapped_dataflow and entry else output_stationary',
        "os_ = output_stationary",
        "a layer's dataflow in the mapping overrides the description's",
        (MAPPING + "::test_a_layers_dataflow_overrides_the_descriptions", MAPPING),
    ),
)
