"""The systolic array family (accelerators/systolic.toml): one unit per PE, SCALE-Sim's
dataflows, and SCALE-Sim's double-buffered SRAMs as a memory side."""

from isa.family import Family, choice, integer
from isa.systolic.lowering import footprint, lower
from isa.systolic.mapping import DATAFLOWS
from isa.systolic.memory_side import dram_actions, stall_cycles

FAMILY = Family(
    name="systolic",
    lower=lower,
    parameters=(
        integer("rows"),
        integer("cols"),
        choice("dataflow", DATAFLOWS),
        # The memory side (and the SCALE-Sim cross-check) read these.
        integer("bandwidth"),
        integer("ifmap_sram_kib"),
        integer("filter_sram_kib"),
        integer("ofmap_sram_kib"),
    ),
    units=("pe", "drain", "sequencer"),
    memory_stalls=stall_cycles,
    layer_actions=dram_actions,
    footprint=footprint,
)
