"""Gemmini's ISA: mvin/mvout/preload/compute commands, lowered from its own tiling.

Sources: G = ucb-bar/gemmini @8c3f992 (src/main/scala/gemmini/), T = gemmini-rocc-tests
@180c468 include/gemmini.h; docs/gemmini/timing.md and tiling.md hold the reading notes
with file and line for every rule used here.

What a layer becomes: the library call the library's ImageNet networks make for it
(T imagenet/resnet50.c; `_plan`): tiled_conv_auto (a following max pool fused into its
mvouts), tiled_conv_dw_auto, tiled_matmul_nn_auto for 1x1 convs, tiled_conv_downsample
for stride-2 1x1 convs, tiled_matmul_auto, tiled_resadd_auto, tiled_global_average_auto.
Each picks tiles (tracer/gemmini_tiling.py, and the grids below) and hands each tile to a
hardware loop unroller (LOOP_CONV_WS / LOOP_WS), which expands it into three command
streams: loads (bias mvin3, weight mvin2, input mvin), execute (a preload then a compute
per step) and stores (mvout). Two tiles are resident at once, in the two halves of the
scratchpad and the accumulator (G LoopConv.scala:1194, LoopMatmul.scala:912), so the
program of a layer is:
loads of tile 0, then per tile t: loads of tile t + 1, execute of t, stores of t. Each
stream starts with its config command (config_ld before each kind of load, config_ex,
config_st); config_ex waits for the mesh to drain.

Timing, as the RTL does it (every rule below is a dependency rule of DESIGN.md):
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
  max_in_flight_reqs outstanding, data one bus beat per cycle, dram_latency to the first
  beat (G DMA.scala:180-289).

Modelling choices (the RTL decides these dynamically; a max-plus model cannot):
- a preload and its compute fire as one group, where the RTL pairs a compute with the
  *next* preload (mul_pre); the group with new weights is sized so that every weight step
  takes the RTL's rows, but rows may shift by a group within a step;
- the unrollers' priority arbiter is replaced by the stream order above; the execute
  stream of a tile waits until every load of the tile has started (G LoopConv.scala:723);
- padding pixels are loaded like the others (the RTL skips them); conv tiles that
  accumulate over input channels each take the next accumulator half (partial sums are
  not carried between them), as every LOOP_CONV_WS does;
- first-layer packing changes the execute stream (kernel columns per weight step) but
  the input mvins stay one pixel per row (the pixel repeater's writes are not modelled).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from math import prod

from accelerators.description import Accelerator
from isa.program import (
    Block,
    BlockRef,
    HostLayer,
    LayerProgram,
    Loop,
    Operand,
    Program,
    Template,
)
from isa.validation import MAX_CYCLES_PER_INSTRUCTION
from tracer.errors import DescriptionError, MappingError
from tracer.gemmini_tiling import ConvProblem, GemminiMemory, conv_tiles, matmul_tiles
from tracer.layers import Conv2d, Dense, Elementwise, Layer, MatMul, Model, Pool, operations

BLOCKS_PER_MVIN = (
    4  # max_block_len: an int8 mvin spans up to 4 DIM-column blocks (G LoopMatmul.scala:898)
)
MIN_GROUP_ROWS = 4  # G ExecuteController.scala:293-299
ROOT_DEPTH = 2  # depth of a tile's outermost loop: the layer root is 0, the run of tiles 1

# Shadow spaces of the reservation station's hazard checks (see the module docstring).
SPAD_SPACES = ("spad_loaded", "spad_read")
ACC_SPACES = ("acc_loaded", "acc_computed", "acc_stored")
TOKEN_SPACE = "loads_started"  # per half: the start of the tile's last load
MESH_SPACE = "mesh_drained"  # when the last row of every compute so far has left the mesh


@dataclass(frozen=True)
class Tile:
    """One unroller loop: a conv tile (a matmul is a 1x1 conv over one row of pixels), a
    residual-add tile (`kind` "resadd": ocols rows of ochs channels) or a global-average
    tile ("average": ocols pixels of ochs channels).

    Sizes in elements; `first`/`last`: the tile starts/ends an accumulation over input
    channels (loads bias / stores the output). A conv with max pooling fused keeps
    porows x pocols pooled outputs of its orows x ocols."""

    batches: int
    orows: int
    ocols: int
    ochs: int
    krows: int
    kcols: int
    kchs: int
    stride: int
    first: bool
    last: bool
    weights_outer: bool  # conv: och, krow, kcol, kch; matmul (LOOP_WS): k, then j
    kind: str = "conv"
    pool_size: int = 1
    pool_stride: int = 1
    porows: int = 0
    pocols: int = 0
    pixels_per_row: int = 1  # first-layer packing: kernel columns per scratchpad row


@dataclass(frozen=True)
class _Timing:
    dim: int
    dram_latency: int
    bus_bytes: int
    dma_maxbytes: int
    inflight: int
    load_latency: int
    execute_latency: int
    store_latency: int
    store_row_cycles: int

    def mvin(self, rows: int, row_bytes: int, one_row: bool) -> tuple[int, int]:
        """(occupancy of the reader, latency) of an mvin: requests are issued one per cycle,
        at most `inflight` outstanding, data one beat per cycle (G DMA.scala:180-289). A
        zero DRAM stride reads one row and repeats it (G LoadController.scala:76,105)."""
        fetched = 1 if one_row else rows
        gets_per_row = -(-row_bytes // self.dma_maxbytes)
        beats_per_get = -(-min(row_bytes, self.dma_maxbytes) // self.bus_bytes)
        gets = fetched * gets_per_row
        issue = max(
            gets,
            gets * beats_per_get,
            -(-gets * (self.dram_latency + beats_per_get) // self.inflight),
        )
        return issue, issue + self.load_latency + beats_per_get + (rows - fetched)

    def mvout(self, rows: int, blocks: int = 1, reads: int = 0) -> int:
        """Cycles of an mvout writing `rows` rows of `blocks` DIM-column blocks, reading
        `reads` accumulator rows (default rows x blocks; a pooled mvout reads every window
        element, G StoreController.scala:59-82): the scale pipeline's rate, or the writer's
        `inflight` outstanding writes when DRAM is slower (G DMA.scala:383-407), plus the
        read and scale latency."""
        beats = -(-blocks * self.dim // self.bus_bytes)
        rate = max(
            (reads or rows * blocks) * self.store_row_cycles,
            -(-rows * (self.dram_latency + beats) // self.inflight),
        )
        return rate + self.store_latency


class _Affine:
    """An address `base + sum(coef[v] * index[v])` over named loop variables."""

    def __init__(self, base: int, **coefs: int) -> None:
        self.base = base
        self.coefs = coefs

    def operand(self, space: str, count: int, loops: Loops) -> Operand:
        """`loops` maps a variable to (depth of its loop or -1 when fixed, first value,
        step per trip); a variable not in `loops` is 0."""
        base = self.base
        coefs: dict[int, int] = {}
        for var, coef in self.coefs.items():
            depth, first, step = loops.get(var, (-1, 0, 0))
            base += coef * first
            if depth >= 0 and coef:
                coefs[depth] = coefs.get(depth, 0) + coef * step
        width = max(coefs) + 1 if coefs else 0
        return Operand(space, base, count, tuple(coefs.get(d, 0) for d in range(width)))


Loops = dict[str, tuple[int, int, int]]  # variable -> (loop depth or -1, first value, step)
Dims = list[tuple[str, int, int, int]]  # (variable, trips, first value, step per trip)
Leaf = Callable[[Loops, int], list]


def _nest(dims: Dims, depth: int, leaf: Leaf, fixed: Loops) -> list:
    """Loops over `dims` (outermost first; one-trip loops are folded into the base
    address), at `depth`, around the nodes `leaf` makes."""
    loops = dict(fixed)
    live = []
    for var, trips, first, step in dims:
        if trips <= 0:
            return []
        if trips == 1:
            loops[var] = (-1, first, step)
        else:
            loops[var] = (depth + len(live), first, step)
            live.append((var, trips))
    nodes = leaf(loops, depth + len(live))
    for var, trips in reversed(live):
        nodes = [Loop(var, trips, tuple(nodes))]
    return nodes


def _segments(total: int, dim: int) -> list[tuple[int, int, int]]:
    """`total` items in pieces of `dim` (pixels in column blocks, channel blocks in mvins):
    (pieces, first piece, items per piece), the full pieces first."""
    full, rest = divmod(total, dim)
    parts = []
    if full:
        parts.append((full, 0, dim))
    if rest:
        parts.append((1, full, rest))
    return parts


class _Lowering:
    def __init__(self, accelerator: Accelerator) -> None:
        p = accelerator.parameters
        units = accelerator.units
        self.dim = int(p["dim"])
        self.memory = GemminiMemory(
            dim=self.dim,
            scratchpad_rows=int(p["scratchpad_kib"]) * 1024 // self.dim,
            accumulator_rows=int(p["accumulator_kib"]) * 1024 // (4 * self.dim),
        )
        self.timing = _Timing(
            dim=self.dim,
            dram_latency=int(p["dram_latency"]),
            bus_bytes=int(p["bus_bytes"]),
            dma_maxbytes=int(p["dma_maxbytes"]),
            inflight=int(p["max_in_flight_reqs"]),
            load_latency=units["load"].latency,
            execute_latency=units["execute"].latency,
            store_latency=units["store"].latency,
            store_row_cycles=units["store"].occupancy,
        )
        self.spad_half = self.memory.scratchpad_rows // 2
        self.acc_half = self.memory.accumulator_rows // 2
        self.blocks: list[Block] = []
        self._block_ids: dict[tuple[Template, ...], int] = {}

    # ------------------------------------------------------------------ instructions

    def _check_cycles(self, cycles: int, opcode: str) -> None:
        if cycles > MAX_CYCLES_PER_INSTRUCTION:
            raise DescriptionError(
                f"accelerator gemmini: with dram_latency={self.timing.dram_latency} and "
                f"max_in_flight_reqs={self.timing.inflight} one {opcode} takes {cycles:,} "
                f"cycles, more than the {MAX_CYCLES_PER_INSTRUCTION:,} an instruction may "
                "take; lower --param dram_latency or raise --param max_in_flight_reqs"
            )

    def block(self, name: str, templates: list[Template]) -> BlockRef:
        key = tuple(templates)
        if key not in self._block_ids:
            self._block_ids[key] = len(self.blocks)
            self.blocks.append(Block(name, key))
        return BlockRef(self._block_ids[key])

    def mvin(
        self,
        opcode: str,
        rows: int,
        row_bytes: int,
        to_acc: bool,
        dst: _Affine,
        count: int,
        loops: Loops,
        half: int,
        one_row: bool | None = None,
    ) -> Template:
        """`one_row`: a zero DRAM stride (a bias row repeated); by default, for the
        accumulator (bias) loads."""
        occupancy, latency = self.timing.mvin(
            rows, row_bytes, one_row=to_acc if one_row is None else one_row
        )
        self._check_cycles(latency, opcode)
        if to_acc:  # bias: waits for the execute and store controllers' use of its rows
            waits = ("acc_computed", "acc_stored")
            marks = ("acc_loaded",)
        else:  # waits for computes that still read the rows it overwrites (WAR)
            waits = ("spad_read",)
            marks = ("spad_loaded",)
        return Template(
            opcode=opcode,
            unit="load",
            instance=0,
            latency=latency,
            occupancy=occupancy,
            read_time=0,
            reads=tuple(dst.operand(s, count, loops) for s in waits),
            writes=(),
            bundle_start=True,
            read_marks=(Operand(TOKEN_SPACE, half),),  # marked at its start
            marks=tuple(dst.operand(s, count, loops) for s in marks),
            queue="load",
        )

    def preload(
        self,
        weights: _Affine | None,
        weight_rows: int,
        out: _Affine,
        out_rows: int,
        group_rows: int,
        loops: Loops,
        half: int,
    ) -> Template:
        reads = [out.operand(s, out_rows, loops) for s in ("acc_loaded", "acc_stored")]
        read_marks: tuple[Operand, ...] = ()
        if weights is not None:
            reads.append(weights.operand("spad_loaded", weight_rows, loops))
            reads.append(Operand(TOKEN_SPACE, half))
            read_marks = (weights.operand("spad_read", weight_rows, loops),)
        return Template(
            opcode="preload",
            unit="execute",
            instance=0,
            # Its RS entry is freed when the outputs of its compute leave the mesh.
            latency=group_rows - 1 + self.timing.execute_latency,
            occupancy=0,  # it fires with its compute, which carries the group's rows
            read_time=self.dim,
            reads=tuple(reads),
            writes=(),
            bundle_start=True,
            read_marks=read_marks,
            queue="execute",
        )

    def compute(
        self,
        opcode: str,
        a: _Affine,
        a_rows: int,
        out: _Affine,
        out_rows: int,
        group_rows: int,
        loops: Loops,
    ) -> Template:
        return Template(
            opcode=opcode,
            unit="execute",
            instance=0,
            latency=group_rows - 1 + self.timing.execute_latency,
            occupancy=group_rows,
            read_time=group_rows,  # its A rows are read as the rows fire
            reads=(a.operand("spad_loaded", a_rows, loops),),
            writes=(),
            bundle_start=True,
            read_marks=(a.operand("spad_read", a_rows, loops),),
            marks=(out.operand("acc_computed", out_rows, loops), Operand(MESH_SPACE, 0)),
            queue="mesh",
        )

    def config(self, unit: str) -> Template:
        """config_ld / config_ex / config_st, one per stream of a tile (G LoopConv.scala:1207).
        config_ex runs only with no matmul in the mesh (G ExecuteController.scala:541,579):
        it waits for every earlier compute's last row. The others take their controller
        one cycle (they complete on issue, G ReservationStation.scala:383)."""
        opcode = {"load": "config_ld", "execute": "config_ex", "store": "config_st"}[unit]
        return Template(
            opcode=opcode,
            unit=unit,
            instance=0,
            latency=1,
            occupancy=1,
            read_time=1,
            reads=(Operand(MESH_SPACE, 0),) if unit == "execute" else (),
            writes=(),
            bundle_start=True,
        )

    def mvout(
        self,
        src: _Affine,
        count: int,
        loops: Loops,
        rows: int,
        blocks: int = 1,
        reads: int = 0,
    ) -> Template:
        """An mvout of `rows` x `blocks` blocks over accumulator rows [src, src + count)."""
        cycles = self.timing.mvout(rows, blocks, reads)
        self._check_cycles(cycles, "mvout")
        return Template(
            opcode="mvout",
            unit="store",
            instance=0,
            latency=cycles,
            occupancy=cycles,  # the RS releases an mvout's successor only at its completion
            read_time=cycles,
            reads=tuple(src.operand(s, count, loops) for s in ("acc_loaded", "acc_computed")),
            writes=(),
            bundle_start=True,
            marks=(src.operand("acc_stored", count, loops),),
        )

    # ------------------------------------------------------------------ one tile

    def tile_streams(self, tile: Tile, half: int, acc_half: int) -> tuple[list, list, list]:
        """(loads, execute, stores) of one tile in scratchpad half `half` and accumulator
        half `acc_half`."""
        if tile.kind == "resadd":
            return self._resadd_streams(tile, half, acc_half)
        if tile.kind == "average":
            return self._average_streams(tile, half, acc_half)
        return self._conv_streams(tile, half, acc_half)

    def _resadd_streams(self, tile: Tile, half: int, acc_half: int) -> tuple[list, list, list]:
        """sp_tiled_resadd: one LOOP_WS with K = 0 (T gemmini.h L3135-3147): A moved into
        the accumulator (mvin), B added to it (mvin2, accumulating), C stored (mvout, up to
        4 blocks per row). Accumulator layout (i block, j block) -> (i * J + j) * DIM."""
        dim = self.dim
        j_blocks = -(-tile.ochs // dim)
        acc = acc_half * self.acc_half
        at = _Affine(acc, row=j_blocks, col=1)  # row: i in elements; col: j in elements
        loads: list = [self.block("config_ld", [self.config("load")])]
        for opcode in ("mvin", "mvin2"):
            for blocks, first_block, rows in _segments(tile.ocols, dim):

                def load(loops, depth, rows=rows, opcode=opcode):
                    t = self.mvin(opcode, rows, dim, True, at, rows, loops, half, one_row=False)
                    return [self.block(f"{opcode} resadd", [t])]

                dims = [("row", blocks, first_block * dim, dim), ("col", j_blocks, 0, dim)]
                loads += _nest(dims, ROOT_DEPTH, load, {})
        stores: list = [self.block("config_st", [self.config("store")])]
        for blocks, first_block, rows in _segments(tile.ocols, dim):
            for groups, first_group, per_group in _segments(j_blocks, BLOCKS_PER_MVIN):

                def store(loops, depth, rows=rows, per_group=per_group):
                    count = (per_group - 1) * dim + rows
                    t = self.mvout(at, count, loops, rows, blocks=per_group)
                    return [self.block("mvout resadd", [t])]

                dims = [
                    ("row", blocks, first_block * dim, dim),
                    ("col", groups, first_group * BLOCKS_PER_MVIN * dim, BLOCKS_PER_MVIN * dim),
                ]
                stores += _nest(dims, ROOT_DEPTH, store, {})
        return loads, [], stores

    def _average_streams(self, tile: Tile, half: int, acc_half: int) -> tuple[list, list, list]:
        """sp_tiled_global_average (T gemmini.h L3318-3368): every pixel's channels are
        moved into the same accumulator rows, accumulating (one row, up to 4 blocks per
        mvin), then one mvout per channel block, scaled by 1 / pixels."""
        dim = self.dim
        c_blocks = -(-tile.ochs // dim)
        acc = acc_half * self.acc_half
        loads: list = [self.block("config_ld", [self.config("load")])]
        for groups, first_group, per_group in _segments(c_blocks, BLOCKS_PER_MVIN):
            at = _Affine(acc, col=1)

            def load(loops, depth, per_group=per_group, at=at):
                t = self.mvin(
                    "mvin", 1, per_group * dim, True, at, per_group, loops, half, one_row=False
                )
                return [self.block("mvin average", [t])]

            dims = [
                ("pixel", tile.ocols, 0, 1),
                ("col", groups, first_group * BLOCKS_PER_MVIN, BLOCKS_PER_MVIN),
            ]
            loads += _nest(dims, ROOT_DEPTH, load, {})
        stores: list = [self.block("config_st", [self.config("store")])]

        def store(loops, depth):
            return [self.block("mvout average", [self.mvout(_Affine(acc, col=1), 1, loops, 1)])]

        stores += _nest([("col", c_blocks, 0, 1)], ROOT_DEPTH, store, {})
        return loads, [self.block("config_ex", [self.config("execute")])], stores

    def _conv_streams(self, tile: Tile, half: int, acc_half: int) -> tuple[list, list, list]:
        """The LOOP_CONV_WS (or LOOP_WS) streams of one tile, in the RTL's loop orders and
        scratchpad layout (G LoopConv.scala:440-460,640-700): inputs from the start of the
        half, weights at its end, outputs in accumulator half `acc_half`."""
        dim = self.dim
        s = tile.stride
        irows = (tile.orows - 1) * s + tile.krows
        icols = (tile.ocols - 1) * s + tile.kcols
        ich_blocks = -(-tile.kchs // dim)
        och_blocks = -(-tile.ochs // dim)
        spad = half * self.spad_half
        acc = acc_half * self.acc_half
        a_rows = ich_blocks * tile.batches * irows * icols
        w_rows = och_blocks * tile.krows * tile.kcols * tile.kchs
        o_rows = och_blocks * tile.batches * tile.orows * tile.ocols
        if a_rows + w_rows > self.spad_half or o_rows > self.acc_half:
            raise MappingError(
                f"the tile gemmini.h picks needs {a_rows + w_rows} scratchpad and {o_rows} "
                f"accumulator rows, but a tile gets half of each ({self.spad_half} / "
                f"{self.acc_half} rows of DIM={dim}); use a larger --param scratchpad_kib / "
                "accumulator_kib or a smaller dim"
            )
        a_block = tile.batches * irows * icols  # rows between input-channel blocks
        w_block = tile.krows * tile.kcols * tile.kchs  # rows between output-channel blocks
        a_at = _Affine(spad, kch=a_block, b=irows * icols, row=icols, col=1)
        w_at = _Affine(spad + self.spad_half - w_rows, och=w_block, krow=tile.kcols * tile.kchs)
        w_at.coefs.update({"kcol": tile.kchs, "kch": dim})
        o_rows_b = tile.orows * tile.ocols
        out_at = _Affine(acc, och=tile.batches * o_rows_b, b=o_rows_b, row=tile.ocols, col=1)
        col_segments = _segments(tile.ocols, dim)
        kch_segments = _segments(tile.kchs, dim)  # (blocks, first block, rows each)
        loads: list = []
        config_ld = self.block("config_ld", [self.config("load")])
        pixel_rows = [("b", tile.batches, 0, 1), ("row", tile.orows, 0, 1)]

        def over_columns(segments, make, inner: Dims):
            """A leaf that runs `make(loops, depth, pixels)` over the column segments, with
            `inner` loops inside each (so columns stay inside rows, as in the RTL)."""

            def leaf(loops, depth):
                nodes: list = []
                for blocks, first_block, pixels in segments:
                    dims = [("col", blocks, first_block * dim, dim), *inner]
                    nodes += _nest(dims, depth, lambda lp, d, p=pixels: make(lp, d, p), loops)
                return nodes

            return leaf

        # Bias: one accumulator row repeated per pixel (DRAM stride 0); b, orow, ocol, och
        # (G LoopConv.scala:112-207).
        if tile.first:
            loads.append(config_ld)

            def bias(loops, depth, pixels):
                row_bytes = min(dim, tile.ochs) * 4
                t = self.mvin("mvin3", pixels, row_bytes, True, out_at, pixels, loops, half)
                return [self.block("mvin3 bias", [t])]

            leaf = over_columns(col_segments, bias, [("och", och_blocks, 0, 1)])
            loads += _nest(pixel_rows, ROOT_DEPTH, leaf, {})
        # Weights: och (up to 4 blocks per mvin), krow, kcol, kch (G LoopConv.scala:549-566).
        loads.append(config_ld)
        for groups, first_group, per_group in _segments(och_blocks, BLOCKS_PER_MVIN):
            row_bytes = min(per_group * dim, tile.ochs - first_group * BLOCKS_PER_MVIN * dim)

            def channel_blocks(loops, depth, per_group=per_group, row_bytes=row_bytes):
                nodes: list = []
                for blocks, first_block, rows in kch_segments:

                    def weight(lp, d, rows=rows):
                        count = (per_group - 1) * w_block + rows
                        t = self.mvin("mvin2", rows, row_bytes, False, w_at, count, lp, half)
                        return [self.block("mvin2 weights", [t])]

                    nodes += _nest([("kch", blocks, first_block, 1)], depth, weight, loops)
                return nodes

            dims = [
                ("och", groups, first_group * BLOCKS_PER_MVIN, BLOCKS_PER_MVIN),
                ("krow", tile.krows, 0, 1),
                ("kcol", tile.kcols, 0, 1),
            ]
            loads += _nest(dims, ROOT_DEPTH, channel_blocks, {})
        # Inputs: b, irow, icol (up to DIM pixels), ich (up to 4 blocks) innermost
        # (G LoopConv.scala:366-388).
        loads.append(config_ld)
        input_rows = [("b", tile.batches, 0, 1), ("row", irows, 0, 1)]
        for groups, first_group, per_group in _segments(ich_blocks, BLOCKS_PER_MVIN):
            row_bytes = min(per_group * dim, tile.kchs - first_group * BLOCKS_PER_MVIN * dim)

            def inputs(loops, depth, pixels, per_group=per_group, row_bytes=row_bytes):
                count = (per_group - 1) * a_block + pixels
                t = self.mvin("mvin", pixels, row_bytes, False, a_at, count, loops, half)
                return [self.block("mvin inputs", [t])]

            group = [("kch", groups, first_group * BLOCKS_PER_MVIN, BLOCKS_PER_MVIN)]
            loads += _nest(
                input_rows, ROOT_DEPTH, over_columns(_segments(icols, dim), inputs, group), {}
            )

        # Execute: per weight step, a preload with weights then one pair per pixel block
        # (G LoopConv.scala:791-820; LoopMatmul.scala:393-492 for k, j, i). The A operand
        # of output pixel (row, col) at kernel offset (krow, kcol) is input row
        # row*s + krow, column col*s + kcol, spanning pixels*s rows (the RS's A_stride).
        a_exec = _Affine(spad, kch=a_block, b=irows * icols, row=s * icols, col=s)
        a_exec.coefs.update({"krow": icols, "kcol": 1})

        # The RTL fires a compute with the *next* preload (mul_pre): a weight step costs
        # DIM rows for its last compute + the next step's weights, plus max(rows, 4) for
        # every other compute. Pairing each preload with its own compute instead, the
        # first group takes DIM + (its compute's rows - the step's last compute's rows),
        # so every step costs what the RTL's does (G ExecuteController.scala:285-302,600).
        first_rows = max(col_segments[0][2], MIN_GROUP_ROWS)
        last_rows = max(col_segments[-1][2], MIN_GROUP_ROWS)
        weights_group = dim + first_rows - last_rows

        def pair(loops, pixels, weight_rows):
            with_weights = weight_rows > 0
            group = weights_group if with_weights else max(pixels, MIN_GROUP_ROWS)
            weights = w_at if with_weights else None
            pre = self.preload(weights, weight_rows, out_at, pixels, group, loops, half)
            opcode = "compute_preloaded" if with_weights else "compute_accumulated"
            a_span = (pixels - 1) * s + 1
            com = self.compute(opcode, a_exec, a_span, out_at, pixels, group, loops)
            return self.block("preload+compute" if with_weights else "pair", [pre, com])

        def plain(loops, depth, pixels):
            return [pair(loops, pixels, 0)]

        def step(loops, depth, weight_rows):
            """One weight step: its first pixel block (peeled: its preload brings the
            weights), the rest of pixel row (b=0, row=0), rows 1.. of b=0, then b = 1.."""
            first_blocks, _, first_pixels = col_segments[0]
            fixed = dict(loops)
            fixed.update({"b": (-1, 0, 1), "row": (-1, 0, 1), "col": (-1, 0, dim)})
            nodes = [pair(fixed, first_pixels, weight_rows)]
            rest = [(first_blocks - 1, 1, first_pixels), *col_segments[1:]]
            rest = [segment for segment in rest if segment[0] > 0]
            nodes += _nest(
                [("b", 1, 0, 1), ("row", 1, 0, 1)], depth, over_columns(rest, plain, []), loops
            )
            nodes += _nest(
                [("b", 1, 0, 1), ("row", tile.orows - 1, 1, 1)],
                depth,
                over_columns(col_segments, plain, []),
                loops,
            )
            nodes += _nest(
                [("b", tile.batches - 1, 1, 1), ("row", tile.orows, 0, 1)],
                depth,
                over_columns(col_segments, plain, []),
                loops,
            )
            return nodes

        def kernel_steps(loops, depth):
            """kcol groups of pixels_per_row (first-layer packing), then kch blocks: a
            weight step's B tile has pixels x channel rows (G LoopConv.scala:649,659)."""
            nodes: list = []
            packed = tile.pixels_per_row if tile.weights_outer else 1
            kcols = tile.kcols if tile.weights_outer else 1
            for groups, first_group, pixels in _segments(kcols, packed):
                for blocks, first_block, rows in kch_segments:

                    def weight_step(lp, d, rows=pixels * rows):
                        return step(lp, d, rows)

                    dims = [
                        ("kcol", groups, first_group * packed, packed),
                        ("kch", blocks, first_block, 1),
                    ]
                    nodes += _nest(dims, depth, weight_step, loops)
            return nodes

        if tile.weights_outer:
            outer = [("och", och_blocks, 0, 1), ("krow", tile.krows, 0, 1)]
            execute_nodes = _nest(outer, ROOT_DEPTH, kernel_steps, {})
        else:  # LOOP_WS: k outermost, then j, then i (G LoopMatmul.scala:393-492)
            execute_nodes = []
            for blocks, first_block, rows in kch_segments:

                def matmul_step(lp, d, rows=rows):
                    return step(lp, d, rows)

                dims = [("kch", blocks, first_block, 1), ("och", och_blocks, 0, 1)]
                execute_nodes += _nest(dims, ROOT_DEPTH, matmul_step, {})
        execute = [self.block("config_ex", [self.config("execute")]), *execute_nodes]

        stores: list = []
        if tile.last and (tile.pool_size > 1 or tile.pool_stride > 1):
            # Max pooling on the way out: one mvout per (b, och block) walks every window
            # element of its porows x pocols outputs, one accumulator read each; the RS
            # takes its source to be the rest of the accumulator bank (G
            # StoreController.scala:57-82,131-136; ReservationStation.scala:242-252),
            # here the tile's whole output region.
            stores.append(self.block("config_st", [self.config("store")]))
            outputs = tile.porows * tile.pocols
            reads = outputs * tile.pool_size * tile.pool_size
            region = _Affine(acc)

            def pooled(loops, depth):
                t = self.mvout(region, o_rows, loops, outputs, reads=reads)
                return [self.block("mvout pooled", [t])]

            dims = [("b", tile.batches, 0, 1), ("och", och_blocks, 0, 1)]
            stores += _nest(dims, ROOT_DEPTH, pooled, {})
        elif tile.last:
            stores.append(self.block("config_st", [self.config("store")]))

            def store(loops, depth, pixels):
                return [self.block("mvout", [self.mvout(out_at, pixels, loops, pixels)])]

            leaf = over_columns(col_segments, store, [("och", och_blocks, 0, 1)])
            stores += _nest(pixel_rows, ROOT_DEPTH, leaf, {})
        return loads, execute, stores

    def layer_root(self, tiles: list[Tile]) -> Loop:
        """Loads of tile 0, then per tile t: loads of t + 1, execute and stores of t; runs
        of repeating tile pairs become loops (their bodies do not depend on the index, so
        fast evaluation can skip whole pairs)."""
        # Scratchpad halves alternate per loop. LoopConv moves to the other accumulator half
        # on every loop too; LoopMatmul only after a loop that stores C, so tiles that
        # accumulate over K share one (G LoopMatmul.scala:1185,1208,1249).
        acc_halves = [0] * len(tiles)
        for t in range(1, len(tiles)):
            previous = tiles[t - 1]
            flips = previous.weights_outer or previous.last
            acc_halves[t] = acc_halves[t - 1] ^ int(flips)
        cache: dict[tuple[Tile, int, int], tuple[list, list, list]] = {}

        def streams(t: int) -> tuple[list, list, list]:
            key = (tiles[t], t % 2, acc_halves[t])
            if key not in cache:
                cache[key] = self.tile_streams(*key)
            return cache[key]

        def step(t: int) -> list:
            loads = streams(t + 1)[0] if t + 1 < len(tiles) else []
            _, execute, stores = streams(t)
            return loads + execute + stores

        def key(t: int) -> tuple[object, ...]:
            following = (tiles[t + 1], acc_halves[t + 1]) if t + 1 < len(tiles) else None
            return (following, tiles[t], t % 2, acc_halves[t])

        body: list = [Loop("first loads", 1, tuple(streams(0)[0]))]
        t = 0
        while t < len(tiles):
            pairs = 0
            while (
                t + 2 * pairs + 1 < len(tiles)
                and key(t + 2 * pairs) == key(t)
                and key(t + 2 * pairs + 1) == key(t + 1)
            ):
                pairs += 1
            if pairs >= 2:
                body.append(Loop("tile pairs", pairs, tuple(step(t) + step(t + 1))))
                t += 2 * pairs
            else:
                body.append(Loop("tile", 1, tuple(step(t))))
                t += 1
        return Loop("layer", 1, tuple(body))


# Why a layer is not run on Gemmini by this model; reports list it in its place.
POOL_REASON = (
    "pooling: gemmini.h runs max pooling fused into the conv before it and global average "
    "pooling (tiled_global_average); this pool is neither; not timed"
)
ELEMENTWISE_REASON = (
    "element-wise: only residual additions of two tensors run on Gemmini (tiled_resadd); not timed"
)
SHAPE_REASON = (
    "gemmini.h's tiled_conv takes square images, kernels, strides and padding, no "
    "dilation, and groups of 1 or depthwise only; the library cannot run this layer "
    "on Gemmini; not timed"
)


def conv_tile_grid(
    layer: Conv2d, memory: GemminiMemory, pool: Pool | None = None
) -> tuple[list[Tile], tuple[int, ...]] | None:
    """The tiles tiled_conv_auto (or tiled_conv_dw_auto) runs, in its loop order
    b, porow, pocol, poch, krow, kcol, kch (T gemmini.h tiled_conv), with max pooling
    `pool` fused into the mvouts if given; None if the library cannot run the layer."""
    top, left, bottom, right = layer.padding
    depthwise = layer.groups > 1 and layer.groups == layer.in_channels == layer.out_channels
    if (
        layer.in_height != layer.in_width
        or layer.kernel_height != layer.kernel_width
        or layer.stride[0] != layer.stride[1]
        or layer.dilation != (1, 1)
        or len({top, left, bottom, right}) != 1
        or layer.out_height != layer.out_width
        or (layer.groups != 1 and not depthwise)
    ):
        return None
    pool_size, pool_stride, pool_padding = (
        (pool.kernel_height, pool.stride[0], pool.padding[0]) if pool else (0, 0, 0)
    )
    problem = ConvProblem(
        batch=layer.batch,
        in_size=layer.in_height,
        in_channels=layer.in_channels,
        out_channels=layer.out_channels,
        out_size=layer.out_height,
        stride=layer.stride[0],
        padding=top,
        kernel=layer.kernel_height,
        pool_size=pool_size,
        pool_stride=pool_stride,
        pool_padding=pool_padding,
        depthwise=depthwise,
    )
    sizes = conv_tiles(problem, memory).as_tuple()
    batches, porows, pocols, pochs, krows, kcols, kchs = sizes
    size, step = (pool_size, pool_stride) if pool else (1, 1)
    out = layer.out_height
    pooled = (out + 2 * pool_padding - size) // step + 1
    channel_groups = layer.in_channels if depthwise else 1
    out_ch = 1 if depthwise else layer.out_channels
    in_ch = 1 if depthwise else layer.in_channels
    k = layer.kernel_height
    tiles = []
    for _ in range(channel_groups):
        for b in range(0, layer.batch, batches):
            for row in range(0, pooled, porows):
                for col in range(0, pooled, pocols):
                    for och in range(0, out_ch, pochs):
                        for krow in range(0, k, krows):
                            for kcol in range(0, k, kcols):
                                for kch in range(0, in_ch, kchs):
                                    rows = min(porows, pooled - row)
                                    cols = min(pocols, pooled - col)
                                    tile_kchs = min(kchs, in_ch - kch)
                                    tile_kcols = min(kcols, k - kcol)
                                    tiles.append(
                                        Tile(
                                            batches=min(batches, layer.batch - b),
                                            orows=min((rows - 1) * step + size, out),
                                            ocols=min((cols - 1) * step + size, out),
                                            ochs=min(pochs, out_ch - och),
                                            krows=min(krows, k - krow),
                                            kcols=tile_kcols,
                                            kchs=tile_kchs,
                                            stride=layer.stride[0],
                                            first=krow == 0 and kcol == 0 and kch == 0,
                                            last=krow + krows >= k
                                            and kcol + kcols >= k
                                            and kch + kchs >= in_ch,
                                            weights_outer=True,
                                            pool_size=size,
                                            pool_stride=step,
                                            porows=rows,
                                            pocols=cols,
                                            pixels_per_row=_pixels_per_row(
                                                tile_kchs, tile_kcols, memory.dim
                                            ),
                                        )
                                    )
    return tiles, sizes


def _pixels_per_row(kchs: int, kcols: int, dim: int) -> int:
    """First-layer packing (gemmini_params.h defines HAS_FIRST_LAYER_OPTIMIZATIONS): with
    few input channels, one scratchpad row holds DIM // kchs kernel columns' pixels, at
    most kcols (T gemmini.h L1405-1411; G LoopConv.scala:1349-1353)."""
    return 1 if kchs > dim else min(dim // kchs, kcols)


def resadd_tile_grid(rows: int, cols: int, memory: GemminiMemory) -> list[Tile]:
    """tiled_resadd_stride_auto (T gemmini.h L3240-3283): start from the whole I x J and,
    while a tile's accumulator rows exceed half the accumulator, halve I (when I >= J or
    J <= DIM) or take DIM off J; then tiled_resadd's i, j loops (L3202-3238)."""
    dim = memory.dim
    tile_i, tile_j = rows, cols

    def acc_rows(i: int, j: int) -> int:
        return -(-i // dim) * dim * -(-j // dim)

    while acc_rows(tile_i, tile_j) > memory.accumulator_rows // 2:
        if tile_i >= tile_j or tile_j <= dim:
            tile_i //= 2
        else:
            tile_j -= dim
        if tile_i == 0:
            raise MappingError(
                "Gemmini residual add: not even one row fits half the accumulator; use a "
                "larger --param accumulator_kib"
            )
    return [
        Tile(
            1,
            1,
            min(tile_i, rows - i),
            min(tile_j, cols - j),
            1,
            1,
            1,
            1,
            True,
            True,
            False,
            kind="resadd",
        )
        for i in range(0, rows, tile_i)
        for j in range(0, cols, tile_j)
    ]


def average_tile_grid(batch: int, pixels: int, channels: int, memory: GemminiMemory) -> list[Tile]:
    """tiled_global_average_auto (T gemmini.h L3397-3414): the channel tile shrinks until
    its DIM-blocks fit the accumulator; one tile per (batch, channel tile) (L3373-3394)."""
    dim = memory.dim
    tile = channels
    while -(-tile // dim) > memory.accumulator_rows // 2:
        tile -= 1
    return [
        Tile(1, 1, pixels, min(tile, channels - c), 1, 1, 1, 1, True, True, False, kind="average")
        for _ in range(batch)
        for c in range(0, channels, tile)
    ]


def matmul_tile_grid(
    batch: int, dim_i: int, dim_j: int, dim_k: int, memory: GemminiMemory
) -> tuple[list[Tile], tuple[int, ...]]:
    """The LOOP_WS tiles tiled_matmul_auto runs, i, j, k order (T gemmini.h tiled_matmul),
    each a 1x1 conv over a row of dim_i pixels; repeated for each of `batch` matmuls."""
    tile_i, tile_j, tile_k = matmul_tiles(dim_i, dim_j, dim_k, memory)
    step_i, step_j, step_k = (t * memory.dim for t in (tile_i, tile_j, tile_k))
    tiles = [
        Tile(
            batches=1,
            orows=1,
            ocols=min(step_i, dim_i - i),
            ochs=min(step_j, dim_j - j),
            krows=1,
            kcols=1,
            kchs=min(step_k, dim_k - k),
            stride=1,
            first=k == 0,
            last=k + step_k >= dim_k,
            weights_outer=False,
        )
        for _ in range(batch)
        for i in range(0, dim_i, step_i)
        for j in range(0, dim_j, step_j)
        for k in range(0, dim_k, step_k)
    ]
    return tiles, (tile_i, tile_j, tile_k)


def _fusable_pool(layer: Layer, following: Layer | None, consumers: Counter[str]) -> bool:
    """A max pool that only reads this conv's output, square and evenly padded, as
    tiled_conv_auto's pool_size / pool_stride / pool_padding can express it."""
    return (
        isinstance(layer, Conv2d)
        and isinstance(following, Pool)
        and following.pool == "maxpool"
        and following.inputs == (layer.name,)
        and consumers[layer.name] == 1
        and following.kernel_height == following.kernel_width
        and following.stride[0] == following.stride[1]
        and len(set(following.padding)) == 1
    )


Plan = tuple[list[Tile], dict[str, int | str]]


def _plan(layer: Layer, pool: Pool | None, memory: GemminiMemory) -> Plan | str:
    """The library call that runs `layer` on Gemmini and its tiles, or why none does."""
    if isinstance(layer, Conv2d):
        pointwise = (
            layer.kernel_height == layer.kernel_width == 1
            and layer.groups == 1
            and layer.padding == (0, 0, 0, 0)
            and layer.dilation == (1, 1)
            and pool is None
        )
        if pointwise and layer.stride == (1, 1):
            # imagenet/resnet50.c runs its 1x1 convs as matmuls (tiled_matmul_nn_auto, L152).
            rows = layer.batch * layer.out_height * layer.out_width
            tiles, sizes = matmul_tile_grid(1, rows, layer.out_channels, layer.in_channels, memory)
            return tiles, _matmul_mapping("tiled_matmul_nn_auto (1x1 conv as a matmul)", sizes)
        if pointwise and layer.stride == (2, 2) and layer.in_height % 2 == 0:
            # tiled_conv_downsample (T gemmini.h L2870-2920): one tiled_matmul_auto per
            # output row, every other input pixel (resnet50.c L619).
            tiles, sizes = matmul_tile_grid(
                layer.batch * layer.out_height,
                layer.out_width,
                layer.out_channels,
                layer.in_channels,
                memory,
            )
            return tiles, _matmul_mapping("tiled_conv_downsample (a matmul per output row)", sizes)
        grid = conv_tile_grid(layer, memory, pool)
        if grid is None:
            return SHAPE_REASON
        tiles, sizes = grid
        return tiles, {
            "library": "tiled_conv_dw_auto" if layer.groups > 1 else "tiled_conv_auto",
            "tile": "x".join(str(v) for v in sizes),
            "tile_fields": "batches x porows x pocols x pochs x krows x kcols x kchs",
        }
    if isinstance(layer, (Dense, MatMul)):
        if isinstance(layer, Dense):
            batch, dims = 1, (layer.rows, layer.out_features, layer.in_features)
        else:
            batch, dims = layer.batch, (layer.m, layer.n, layer.k)
        tiles, sizes = matmul_tile_grid(batch, *dims, memory)
        return tiles, _matmul_mapping("tiled_matmul_auto", sizes)
    if isinstance(layer, Pool):
        is_global = (
            layer.pool == "avgpool"
            and layer.kernel_height == layer.in_height
            and layer.kernel_width == layer.in_width
            and layer.in_height == layer.in_width
            and layer.padding == (0, 0, 0, 0)
        )
        if not is_global:
            return POOL_REASON
        pixels = layer.in_height * layer.in_width
        tiles = average_tile_grid(layer.batch, pixels, layer.channels, memory)
        return tiles, {"library": "tiled_global_average_auto", "tile": f"{tiles[0].ochs}"}
    if isinstance(layer, Elementwise) and layer.op == "add" and len(layer.inputs) == 2:
        shape = layer.shape
        if len(shape) == 4:  # NCHW here; Gemmini keeps NHWC: rows of channels
            rows, cols = shape[0] * shape[2] * shape[3], shape[1]
        else:
            rows, cols = prod(shape[:-1]), shape[-1]
        tiles = resadd_tile_grid(rows, cols, memory)
        return tiles, {"library": "tiled_resadd_auto", "tile": f"{tiles[0].ocols}x{tiles[0].ochs}"}
    return ELEMENTWISE_REASON


def _matmul_mapping(library: str, sizes: tuple[int, ...]) -> dict[str, int | str]:
    return {
        "library": library,
        "tile": "x".join(str(v) for v in sizes),
        "tile_fields": "tile_I x tile_J x tile_K (DIM blocks)",
    }


def lower(accelerator: Accelerator, model: Model) -> Program:
    lowering = _Lowering(accelerator)
    memory = lowering.memory
    layers = []
    host_layers = []
    consumers = Counter(name for layer in model.layers for name in layer.inputs)
    fused_into: dict[int, str] = {}
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
            continue
        following = model.layers[position + 1] if position + 1 < len(model.layers) else None
        pool = following if _fusable_pool(layer, following, consumers) else None
        try:
            plan = _plan(layer, pool, memory)
        except MappingError as exc:
            raise MappingError(f"layer {layer.name!r} on {accelerator.name}: {exc}") from None
        if isinstance(plan, str):
            host_layers.append(HostLayer(layer.name, layer.kind, operations(layer), position, plan))
            continue
        tiles, mapping = plan
        if pool is not None:
            fused_into[position + 1] = layer.name
            mapping["fused_pool"] = pool.name
        mapping["tiles"] = len(tiles)
        mapping["dim"] = lowering.dim
        try:
            root = lowering.layer_root(tiles)
        except MappingError as exc:
            raise MappingError(f"layer {layer.name!r} on {accelerator.name}: {exc}") from None
        macs = getattr(layer, "macs", 0)
        layers.append(LayerProgram(layer.name, layer.kind, macs, mapping, root))
    params = accelerator.parameters
    pad = 2 * lowering.dim  # the last weight block's preload range may run past its region
    spaces = {name: memory.scratchpad_rows + pad for name in SPAD_SPACES}
    spaces.update({name: memory.accumulator_rows for name in ACC_SPACES})
    spaces[TOKEN_SPACE] = 2
    spaces[MESH_SPACE] = 1
    return Program(
        accelerator=accelerator.name,
        parameters=dict(params),
        bundles_per_cycle=accelerator.frontend.bundles_per_cycle,
        window_bundles=accelerator.frontend.window_bundles,
        frontend_delay=accelerator.frontend.delay,
        units={name: unit.instances for name, unit in accelerator.units.items()},
        spaces=spaces,
        blocks=tuple(lowering.blocks),
        layers=tuple(layers),
        host_layers=tuple(host_layers),
        queues={
            "load": int(params["load_inflight"]),
            "execute": max(1, int(params["rs_ex_entries"]) // 2),
            "mesh": int(params["mesh_tags"]),
        },
        roofline=None
        if accelerator.roofline is None
        else {
            "peak_macs_per_cycle": accelerator.roofline.peak_macs_per_cycle,
            "dram_words_per_cycle": accelerator.roofline.dram_words_per_cycle,
        },
        model=model.name,
        notes=(
            "tiles as gemmini.h's tiled_conv_auto / tiled_matmul_auto pick them, two tiles "
            "resident (double-buffered halves of scratchpad and accumulator)",
            "a preload fires with its own compute (the RTL pairs a compute with the next "
            "preload); the unrollers' arbiter is replaced by a fixed stream order",
            f"DRAM latency {params['dram_latency']} cycles (an assumption: set "
            "--param dram_latency to your memory system's)",
        ),
    )
