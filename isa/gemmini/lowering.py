"""Gemmini's ISA: mvin/mvout/preload/compute commands, lowered from its own tiling.

Sources: G = ucb-bar/gemmini @8c3f992 (src/main/scala/gemmini/), T = gemmini-rocc-tests
@180c468 include/gemmini.h; docs/gemmini/timing.md and tiling.md hold the reading notes
with file and line for every rule used here.

What a layer becomes: the library call the library's ImageNet networks make for it (or,
with the parameters conv_1x1, first_layer_optimizations and bias, the call other programs
make: LibraryCalls) and its tiles (isa/gemmini/library.py, tile sizes from
isa/gemmini/tiling.py); each tile goes to a hardware loop unroller (LOOP_CONV_WS /
LOOP_WS), which expands it into three command streams: loads (bias mvin3, weight mvin2,
input mvin), execute (a preload then a compute per step) and stores (mvout)
(isa/gemmini/streams.py). Each stream is issued by its own state machine and stalls only on
its own class of RS entries (G LoopConv.scala:1220-1270, LoopMatmul.scala:959-1003): a
front end each (`ld`, `ex`, `st`, docs/design.md §3.2), one command a cycle, at most the
class's RS entries ahead, so a tile's executes never wait behind the next tile's loads in
issue order (docs/research/gemmini-streams.md). Two tiles are resident at once, in the two
halves of the scratchpad and the accumulator (G LoopConv.scala:1194, LoopMatmul.scala:912);
the program order is loads of tile 0, then per tile t: loads of tile t + 1, execute of t,
stores of t, which orders each stream and leaves the streams' order between one another to
their data (the marks below). Each stream starts with its config command (config_ld before
each kind of load, config_ex, config_st); config_ex waits for the mesh to drain. The first
layer opens with the program's flush (gemmini_flush: the TLB flush, taken by the RoCC front
end in one cycle, G Controller.scala:488-494), issued by the CPU (the default front end);
the streams' configs wait for it to be taken (the RoCC queue's order). The commands'
templates and timing are in isa/gemmini/commands.py, with what each counts (MACs, DRAM,
scratchpad and accumulator words: docs/gemmini/actions.md).

Timing, as the RTL does it (every rule below is a dependency rule of docs/design.md §3):
- three controllers, each in order: units `load`, `execute`, `store`;
- the reservation station's cross-controller hazards by address-range overlap (G
  ReservationStation.scala:327-379): each controller marks the rows it writes and the rows
  it reads in its own shadow space (`*_loaded`, `spad_read`, `acc_computed`, `acc_stored`)
  at its completion, and an instruction waits (reads) only on the other controllers'
  marks. Within a controller there is no address check, as in the RS (ld and ex issue in
  order, pipelined; st waits for every older st to complete: store occupancy = latency);
- back-pressure: `execute` queue (RS ex entries, one per preload+compute pair), `mesh`
  queue (matmuls in flight, G MeshWithDelays.scala:48-56) and `load` queue (mvins the load
  controller runs at once, G LoadController.scala:84) delay an instruction's start until an
  older one of its kind completes. The unroller counts its outstanding commands per kind
  (G LoopConv.scala:1228-1270), so a full load queue does not stall the execute stream;
- the mesh fires one row per cycle; a preload with weights costs DIM rows, one without
  max(rows_A, rows_B, 4) (G ExecuteController.scala:285-302); rows land in the
  accumulator `execute` latency later (derived, docs/gemmini/timing.md 4.4);
- DMA: one request per row part of at most dma_maxbytes, one issued per cycle, at most
  max_in_flight_reqs outstanding, data one bus beat per cycle (G DMA.scala:180-289), each
  request served by the L2 or, behind it, FASED's LLC model or DRAM, as the lowering tags
  the tile's operands (isa/gemmini/hierarchy.py: the level's reach, the L2's MSHRs, one
  request per L2 set at a time, the memory bus for misses, the LLC model's in-order
  queue and block refills); an mvin from address 0 (NO_BIAS's bias loads) writes zero
  rows, one a cycle, without DRAM (G LoadController.scala:72-76, ZeroWriter.scala).

Output stationary (--param dataflow=os; isa/gemmini/output_stationary.py):
tiled_matmul_auto's OS path has no unroller. The CPU issues sp_tiled_matmul_os's commands
one by one (T gemmini.h
L380-504), every tile in the same rows (no double buffering), and waits in order whenever
the RS queue of the next command is full (ld 8 / ex 16 / st 4, G Configs.scala:56-58): an
issue queue per controller. Every OS group is DIM rows; a tile's first preload fires
alone, and results leave the mesh during the next group (G ExecuteController.scala:285-302,
585-610). Convolutions are refused as gemmini.h refuses them (tiled_conv exits for OS).
Not modelled for OS: the mesh flush when the execute queue runs dry (the last results of a
tile are taken to leave as if another group followed), the 6 mesh tags (with DIM-row
groups they do not bind, docs/gemmini/timing.md 4.5), and the CPU's own cost per command.

Modelling choices (the RTL decides these dynamically; a max-plus model cannot):
- a preload and its compute fire as one group, where the RTL pairs a compute with the
  *next* preload (mul_pre); the group with new weights is sized so that every weight step
  takes the RTL's rows, but rows may shift by a group within a step;
- the unrollers' arbiter passes one command a cycle from the streams by fixed priority (G
  LoopConv.scala:1220-1226); here each stream issues one a cycle of its own, so the
  streams together may issue up to three (an execute stream of 4-row groups alone uses
  half the port);
- two loops are resident (G LoopConv.scala:1194): a tile's loads wait for the loop two
  before it, in the same halves, to retire, which it does once each of its streams has
  issued its last command (G LoopConv.scala:1253,1501-1519). A bookkeeping template
  after the last command of each of a tile's streams (`ld_stream_done`, `ex_stream_done`,
  `st_stream_done`: no time, no unit's capacity) marks the moment it issues: the load
  stream's lets the tile's computes start (the execute machine waits for its loop's
  loads to be issued, G LoopConv.scala:723), the other two retire the loop;
- padding pixels are loaded like the others (the RTL skips them); conv tiles that
  accumulate over input channels each take the next accumulator half (partial sums are
  not carried between them), as every LOOP_CONV_WS does;
- first-layer packing changes the execute stream (kernel columns per weight step) but
  the input mvins stay one pixel per row (the pixel repeater's writes are not modelled).
"""

from __future__ import annotations

from collections import Counter
from math import prod

from accelerators.description import Accelerator
from isa.family import program_of
from isa.gemmini.commands import (
    ACC_BYTES,
    ACC_SPACES,
    ACCUMULATOR,
    DRAM,
    INPUT_BYTES,
    MESH_SPACE,
    RETIRED_SPACE,
    ROCC_SPACE,
    RS_ENTRIES,
    SCRATCHPAD,
    SPAD_SPACES,
    STREAMS,
    TOKEN_SPACE,
    GemminiCommands,
)
from isa.gemmini.library import LibraryCalls, Tile, fusable_pool, plan_layer, tag_levels
from isa.gemmini.mapping import GemminiMapping
from isa.gemmini.output_stationary import OutputStationaryTiles
from isa.gemmini.streams import TileStreams
from isa.program import Datapath, Frontend, HostLayer, LayerProgram, Loop, Memory, Program
from isa.sharing import SubtreeSharing
from tracer.errors import MappingError
from tracer.workloads.layers import Model, operations


def _tree_key(tiles: list[Tile], warm: dict[str, int]) -> tuple[object, ...]:
    """What a layer's tree is a function of, besides the program's parameters: its tiles,
    where each starts in its call's loops (`Tile.at`, which tile equality leaves out and
    tag_levels names the tiles' data by: a mapping's loop order moves it), and the
    operands the layer before left warm."""
    return tuple(tiles), tuple(tile.at for tile in tiles), tuple(sorted(warm.items()))


def lower(accelerator: Accelerator, model: Model, mapping: GemminiMapping | None = None) -> Program:
    """`model` on Gemmini; `mapping` (a user's tiles for some layers, isa/gemmini/mapping.py)
    replaces the auto tiler for the layers it names, every entry checked before any layer
    is lowered."""
    commands = GemminiCommands(accelerator)
    tiles_to_program = TileStreams(commands)
    os_tiles = OutputStationaryTiles(commands)
    # Tiles repeat the same row loops: one object each, so analysis packs each once.
    sharing = SubtreeSharing()
    output_stationary = accelerator.parameters["dataflow"] == "os"
    calls = LibraryCalls.from_parameters(accelerator.parameters)
    memory = commands.memory
    mapped = mapping.layers if mapping is not None else {}
    if mapping is not None:
        mapping.check_layer_names([layer.name for layer in model.layers])
    layers = []
    host_layers = []
    consumers = Counter(name for layer in model.layers for name in layer.inputs)
    fused_into: dict[int, str] = {}
    # First every layer's call and tiles (a mapping's errors surface before any lowering).
    plans = []
    for position, layer in enumerate(model.layers):
        if position in fused_into:
            host_layers.append(
                HostLayer(
                    layer.name,
                    layer.kind,
                    operations(layer),
                    position,
                    f"max pooling fused into {fused_into[position]}'s mvouts (tiled_conv_auto "
                    "with pool_size/pool_stride, as imagenet/resnet50.c runs conv1); its "
                    "cycles are that layer's",
                    placement="fused",
                )
            )
            if layer.name in mapped:
                raise mapped[layer.name].error(
                    f"the layer is fused into {fused_into[position]}'s mvouts; map that layer"
                )
            continue
        following = model.layers[position + 1] if position + 1 < len(model.layers) else None
        pool = following if fusable_pool(layer, following, consumers) else None
        entry = mapped.get(layer.name)
        try:
            plan = plan_layer(layer, pool, memory, output_stationary, calls, entry)
        except MappingError as exc:
            if entry is not None and str(exc).startswith(entry.source):
                raise
            raise MappingError(f"layer {layer.name!r} on {accelerator.name}: {exc}") from None
        if isinstance(plan, str):
            host_layers.append(HostLayer(layer.name, layer.kind, operations(layer), position, plan))
            continue
        if pool is not None:
            fused_into[position + 1] = layer.name
            plan[1]["fused_pool"] = pool.name
        plans.append((position, layer, plan))
    params = accelerator.parameters
    l2_bytes = int(params["l2_kib"]) * 1024
    llc_bytes = int(params["llc_kib"]) * 1024
    cache_at_start = str(params["cache_at_start"])
    # Layers of one _tree_key tag their tiles alike and build equal trees: ResNet-50 has
    # 34 such classes among its 71 layers on the array, each built once.
    built: dict[tuple[object, ...], Loop] = {}
    for position, layer, (tiles, mapping_shown) in plans:
        # The tensor the layer before wrote (in model order; a fused pool is the conv's),
        # int8, and which operands read it (a residual addition's B is its second input).
        previous = model.layers[position - 1] if position > 0 else None
        operands = ("input", "weight") if tiles[0].kind == "resadd" else ("input",)
        warm = {
            operand: prod(previous.output_shape) * INPUT_BYTES
            for operand, name in zip(operands, layer.inputs, strict=False)
            if previous is not None and name == previous.name
        }
        mapping_shown["tiles"] = len(tiles)
        mapping_shown["dim"] = commands.dim
        key = _tree_key(tiles, warm)
        if key not in built:
            tagged = tag_levels(tiles, l2_bytes, llc_bytes, cache_at_start, warm)
            try:
                if tagged[0].kind == "matmul_os":
                    built[key] = os_tiles.layer_root(tagged)
                else:
                    built[key] = tiles_to_program.layer_root(tagged)
            except MappingError as exc:
                raise MappingError(f"layer {layer.name!r} on {accelerator.name}: {exc}") from None
        root = built[key]
        if not layers:  # the program's gemmini_flush(0) comes before its first layer
            flush = commands.block("flush", [commands.flush()])
            root = Loop(root.name, root.trips, (flush, *root.body))
        root = sharing.share(root)
        macs = getattr(layer, "macs", 0)
        layers.append(LayerProgram(layer.name, layer.kind, macs, mapping_shown, root))
    any_os = any(tiles[0].kind == "matmul_os" for _, _, (tiles, _) in plans)
    queues = {
        "load": int(params["load_inflight"]),
        "execute": max(1, int(params["rs_ex_entries"]) // 2),
        "mesh": int(params["mesh_tags"]),
    }
    notes = [
        "weight-stationary tiles as gemmini.h's tiled_conv_auto / tiled_matmul_auto pick "
        "them, two resident (double-buffered halves of scratchpad and accumulator)",
        "a preload fires with its own compute (the RTL pairs a compute with the next "
        "preload); the unrollers' load, execute and store streams issue independently, "
        "each at one command a cycle (their shared arbiter port is not modelled)",
    ]
    if calls != LibraryCalls():
        notes.append(
            f"library calls: conv_1x1={params['conv_1x1']}, first_layer_optimizations="
            f"{params['first_layer_optimizations']}, bias={params['bias']} (imagenet/resnet50.c "
            "calls them matmul / true / true)"
        )
    if output_stationary or any_os:  # the CPU's issue queues, for the layers it issues
        queues.update({queue: int(params[entries]) for queue, entries in RS_ENTRIES.items()})
    if mapping is not None and mapped:
        notes.append(f"tiles of {', '.join(mapped)} from {mapping.source}")
    if output_stationary:
        notes = [
            "output stationary: matmuls as tiled_matmul_auto's sp_tiled_matmul_os calls, "
            "issued by the CPU at one command per cycle (an assumption: a core spends a few "
            "instructions per command); residual additions stay weight-stationary, as "
            "imagenet/resnet50.c runs them",
            *notes,
        ]
    # The unrollers' streams: one command a cycle each (the arbiter's rate, which they
    # share in the RTL: not modelled), at most their class's RS entries ahead.
    entries = {"ld": "rs_ld_entries", "ex": "rs_ex_entries", "st": "rs_st_entries"}
    frontends = {
        stream: Frontend(1, int(params[entries[stream]]), 0) for stream in STREAMS.values()
    }
    spaces = {name: memory.scratchpad_rows for name in SPAD_SPACES}
    spaces.update({name: memory.accumulator_rows for name in ACC_SPACES})
    spaces[TOKEN_SPACE] = 2
    spaces[RETIRED_SPACE] = 2
    spaces[MESH_SPACE] = 1
    spaces[ROCC_SPACE] = 1
    # What the commands' actions count, in elements (docs/gemmini/actions.md): main memory
    # in bytes (issue 22 splits it into L2 and DRAM), the scratchpad in input elements,
    # the accumulator in accumulator elements (G Configs.scala:23-25,41-42).
    memories = {
        DRAM: Memory("dram", INPUT_BYTES, 0),
        SCRATCHPAD: Memory("sram", INPUT_BYTES, int(params["scratchpad_kib"]) * 1024),
        ACCUMULATOR: Memory("sram", ACC_BYTES, int(params["accumulator_kib"]) * 1024),
    }
    return program_of(
        accelerator,
        model,
        spaces=spaces,
        blocks=tuple(commands.blocks),
        layers=tuple(layers),
        host_layers=tuple(host_layers),
        queues=queues,
        frontends=frontends,
        memories=memories,
        datapath=Datapath(operand_bits=8 * INPUT_BYTES, accumulator_bits=8 * ACC_BYTES),
        notes=(
            *notes,
            f"memory: L2 {params['l2_kib']} KiB (hit {params['l2_hit_latency']} + system "
            f"bus {params['system_bus_latency']} cycles), "
            + (
                f"LLC {params['llc_kib']} KiB ({params['llc_block_bytes']}-byte blocks), "
                if int(params["llc_kib"])
                else ""
            )
            + f"DRAM {params['dram_latency']} cycles behind it; cache at a layer's start: "
            f"{cache_at_start} "
            "(accelerators/gemmini.toml sources each figure)",
        ),
    )
