"""The Gemmini family (accelerators/gemmini.toml): commands as gemmini.h's library and the
RTL's loop unrollers issue them, on the library's own tiling."""

from isa.family import Family, choice, integer
from isa.gemmini.commands import RS_ENTRIES
from isa.gemmini.hierarchy import CACHE_AT_START
from isa.gemmini.lowering import lower
from isa.gemmini.mapping import read_mapping

FAMILY = Family(
    name="gemmini",
    lower=lower,
    # What commands.py (memories, DMA timing) and lowering.py (queues, dataflow) read; the
    # mesh and accumulator pipeline depths enter only through the units' latencies.
    parameters=(
        integer("dim"),
        choice("dataflow", ("ws", "os")),  # lowering.py: "os", otherwise weight-stationary
        # library.py's LibraryCalls: how the program calls gemmini.h
        choice("conv_1x1", ("matmul", "conv")),
        choice("first_layer_optimizations", ("true", "false")),
        choice("bias", ("true", "false")),
        integer("scratchpad_kib"),
        integer("accumulator_kib"),
        *(integer(entries) for entries in RS_ENTRIES.values()),
        integer("load_inflight"),
        integer("mesh_tags"),
        integer("dma_maxbytes"),
        integer("bus_bytes"),
        integer("max_in_flight_reqs"),
        # hierarchy.py: the SoC's L2, FASED's LLC and DRAM, and what is cached when a
        # layer starts
        choice("cache_at_start", CACHE_AT_START),
        integer("system_bus_bytes"),
        integer("system_bus_latency"),
        integer("l2_kib"),
        integer("l2_line_bytes"),
        integer("l2_mshrs"),
        integer("l2_hit_latency"),
        integer("memory_bus_bytes"),
        integer("memory_bus_latency"),
        integer("llc_kib"),
        integer("llc_block_bytes"),
        integer("llc_mshrs"),
        integer("llc_lookup_latency"),
        integer("dram_latency"),
    ),
    units=("load", "execute", "store", "rocc"),
    read_mapping=read_mapping,
)
