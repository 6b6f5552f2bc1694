"""The UltraTrail family (accelerators/ultratrail.toml): the TC-ResNet keyword-spotting
accelerator of Palomero Bernardo et al. (TCAD 2020), its layer FSM written as instructions."""

from isa.family import Family, integer
from isa.ultratrail.lowering import lower

FAMILY = Family(
    name="ultratrail",
    lower=lower,
    # What plan.py (limits, memories) and lowering.py read; latencies enter through the
    # units, the clock through the report.
    parameters=(
        integer("rows"),
        integer("cols"),
        integer("bw_w"),
        integer("bw_f"),
        integer("bw_b"),
        integer("bw_acc"),
        integer("config_entries"),
        integer("fmem_count"),
        integer("fmem_kib"),
        integer("wmem_kib"),
        integer("bmem_kib"),
        integer("lmem_kib"),
    ),
    units=("ctrl", "fmem", "wmem", "bmem", "lmem", "array", "opu"),
)
