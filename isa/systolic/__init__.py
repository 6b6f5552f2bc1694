"""The systolic array family (accelerators/systolic.toml): one unit per PE, SCALE-Sim's
dataflows, and SCALE-Sim's double-buffered SRAMs as a memory side."""

from isa.family import Family
from isa.systolic.lowering import lower
from isa.systolic.memory_side import stall_cycles

FAMILY = Family(
    name="systolic",
    lower=lower,
    parameters=(
        "rows",
        "cols",
        "dataflow",
        "bandwidth",
        "ifmap_sram_kib",
        "filter_sram_kib",
        "ofmap_sram_kib",
    ),
    units=("pe", "drain", "sequencer"),
    memory_stalls=stall_cycles,
)
