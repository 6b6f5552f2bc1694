"""The Plasticine-derived family (accelerators/plasticine.toml): a checkerboard grid of
Pattern Compute and Pattern Memory Units (Prabhakar et al., ISCA 2017), with layers
mapped as spatially parallel, double-buffered tile pipelines."""

from isa.family import Family, integer
from isa.plasticine.lowering import lower

FAMILY = Family(
    name="plasticine",
    lower=lower,
    # What plan.py and lowering.py read (plan.Machine.of); the clock only the reports.
    parameters=(
        integer("grid_rows"),
        integer("grid_cols"),
        integer("lanes"),
        integer("pcu_stages"),
        integer("pmu_kib"),
        integer("pmu_banks"),
        integer("pmu_latency"),
        integer("dram_bytes_per_cycle"),
        integer("dram_latency"),
        integer("burst_bytes"),
        integer("hop_latency"),
        integer("par"),
    ),
    units=("pcu", "pmu", "switch", "dram"),
)
