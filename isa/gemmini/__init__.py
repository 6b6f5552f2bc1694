"""The Gemmini family (accelerators/gemmini.toml): commands as gemmini.h's library and the
RTL's loop unrollers issue them, on the library's own tiling."""

from isa.family import Family
from isa.gemmini.lowering import lower

FAMILY = Family(
    name="gemmini",
    lower=lower,
    parameters=(
        "dim",
        "dataflow",
        "scratchpad_kib",
        "accumulator_kib",
        "rs_ld_entries",
        "rs_ex_entries",
        "rs_st_entries",
        "load_inflight",
        "mesh_tags",
        "acc_latency",
        "mesh_output_delay",
        "dma_maxbytes",
        "bus_bytes",
        "max_in_flight_reqs",
        "dram_latency",
    ),
    units=("load", "execute", "store", "rocc"),
)
