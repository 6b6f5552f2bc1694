"""A tile's command streams (loads, execute, stores) and a layer's sequence of tiles.

A hardware loop unroller (LOOP_CONV_WS / LOOP_WS; G = ucb-bar/gemmini @8c3f992) expands a
tile into three streams in its own loop orders and scratchpad layout (G LoopConv.scala,
LoopMatmul.scala). Two tiles are resident at once, in the two halves of the scratchpad and
the accumulator, so a layer is: loads of tile 0, then per tile t: loads of t + 1, execute
of t, stores of t. Addresses are affine in named loop variables (`Affine`), so a tile's
program does not grow with its trip counts.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from isa.gemmini.commands import Affine, GemminiCommands, Loops
from isa.gemmini.library import Tile
from isa.program import Loop, periodic_runs
from tracer.errors import MappingError

MIN_GROUP_ROWS = 4  # G ExecuteController.scala:293-299
# Longest repeating group of tiles looked for: ResNet-50's tile sequences repeat every 2
# to 16 tiles (input-channel blocks times the halves' alternation).
MAX_TILE_PERIOD = 32
ROOT_DEPTH = 2  # depth of a tile's outermost loop: the layer root is 0, the run of tiles 1

Dims = list[tuple[str, int, int, int]]  # (variable, trips, first value, step per trip)
Leaf = Callable[[Loops, int], list]


def nest(dims: Dims, depth: int, leaf: Leaf, fixed: Loops) -> list:
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


def segments(total: int, dim: int) -> list[tuple[int, int, int]]:
    """`total` items in pieces of `dim` (pixels in column blocks, channel blocks in mvins):
    (pieces, first piece, items per piece), the full pieces first."""
    full, rest = divmod(total, dim)
    parts = []
    if full:
        parts.append((full, 0, dim))
    if rest:
        parts.append((1, full, rest))
    return parts


def over_columns(dim: int, column_segments, make, inner: Dims) -> Leaf:
    """A leaf that runs `make(loops, depth, pixels)` over the column segments, with
    `inner` loops inside each (so columns stay inside rows, as in the RTL)."""

    def leaf(loops, depth):
        nodes: list = []
        for blocks, first_block, pixels in column_segments:
            dims = [("col", blocks, first_block * dim, dim), *inner]
            nodes += nest(dims, depth, lambda lp, d, p=pixels: make(lp, d, p), loops)
        return nodes

    return leaf


@dataclass(frozen=True)
class ConvLayout:
    """Where one conv (or LOOP_WS matmul) tile lives, and the pieces its loops run over."""

    tile: Tile
    half: int  # scratchpad half
    spad: int  # first row of the half
    acc: int  # first row of the accumulator half
    irows: int  # input rows and columns the tile loads (every other one if downsampled)
    icols: int
    pixel_stride: int  # loaded input pixels between neighbouring output pixels
    ich_blocks: int
    och_blocks: int
    a_block: int  # rows between input-channel blocks
    w_block: int  # rows between output-channel blocks
    o_rows: int  # accumulator rows of the outputs
    a_at: Affine  # inputs as loaded
    w_at: Affine  # weights, at the end of the half
    out_at: Affine  # outputs
    col_segments: list  # output columns in blocks of DIM: (blocks, first block, pixels)
    kch_segments: list  # input channels in blocks of DIM: (blocks, first block, rows)
    pixel_rows: Dims  # the batch and output-row loops


class TileStreams:
    """Builds tiles' streams from `commands`, sharing blocks between equal tiles."""

    def __init__(self, commands: GemminiCommands) -> None:
        self.commands = commands
        self.dim = commands.dim
        self.spad_half = commands.spad_half
        self.acc_half = commands.acc_half
        # max_block_len: an int8 mvin spans up to dma_maxbytes / DIM column blocks, 4 on
        # the default config (G LoopMatmul.scala:898, LoopConv.scala:266).
        self.blocks_per_mvin = max(1, commands.timing.dma_maxbytes // self.dim)

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
        at = Affine(acc, row=j_blocks, col=1)  # row: i in elements; col: j in elements
        loads: list = [self.commands.block("config_ld", [self.commands.config("load")])]
        for opcode in ("mvin", "mvin2"):
            for blocks, first_block, rows in segments(tile.ocols, dim):

                def load(loops, depth, rows=rows, opcode=opcode):
                    t = self.commands.mvin(
                        opcode, rows, dim, True, at, rows, loops, half, one_row=False
                    )
                    return [self.commands.block(f"{opcode} resadd", [t])]

                dims = [("row", blocks, first_block * dim, dim), ("col", j_blocks, 0, dim)]
                loads += nest(dims, ROOT_DEPTH, load, {})
        stores: list = [self.commands.block("config_st", [self.commands.config("store")])]
        for blocks, first_block, rows in segments(tile.ocols, dim):
            per_mvout = self.blocks_per_mvin
            for groups, first_group, per_group in segments(j_blocks, per_mvout):

                def store(loops, depth, rows=rows, per_group=per_group):
                    count = (per_group - 1) * dim + rows
                    t = self.commands.mvout(at, count, loops, rows, blocks=per_group)
                    return [self.commands.block("mvout resadd", [t])]

                dims = [
                    ("row", blocks, first_block * dim, dim),
                    (
                        "col",
                        groups,
                        first_group * self.blocks_per_mvin * dim,
                        self.blocks_per_mvin * dim,
                    ),
                ]
                stores += nest(dims, ROOT_DEPTH, store, {})
        return loads, [], stores

    def _average_streams(self, tile: Tile, half: int, acc_half: int) -> tuple[list, list, list]:
        """sp_tiled_global_average (T gemmini.h L3318-3368): every pixel's channels are
        moved into the same accumulator rows, accumulating (one row, up to 4 blocks per
        mvin), then one mvout per channel block, scaled by 1 / pixels."""
        dim = self.dim
        c_blocks = -(-tile.ochs // dim)
        acc = acc_half * self.acc_half
        loads: list = [self.commands.block("config_ld", [self.commands.config("load")])]
        for groups, first_group, per_group in segments(c_blocks, self.blocks_per_mvin):
            at = Affine(acc, col=1)

            def load(loops, depth, per_group=per_group, at=at):
                t = self.commands.mvin(
                    "mvin", 1, per_group * dim, True, at, per_group, loops, half, one_row=False
                )
                return [self.commands.block("mvin average", [t])]

            dims = [
                ("pixel", tile.ocols, 0, 1),
                ("col", groups, first_group * self.blocks_per_mvin, self.blocks_per_mvin),
            ]
            loads += nest(dims, ROOT_DEPTH, load, {})
        stores: list = [self.commands.block("config_st", [self.commands.config("store")])]

        def store(loops, depth):
            return [
                self.commands.block(
                    "mvout average", [self.commands.mvout(Affine(acc, col=1), 1, loops, 1)]
                )
            ]

        stores += nest([("col", c_blocks, 0, 1)], ROOT_DEPTH, store, {})
        return loads, [self.commands.block("config_ex", [self.commands.config("execute")])], stores

    def _conv_streams(self, tile: Tile, half: int, acc_half: int) -> tuple[list, list, list]:
        """The LOOP_CONV_WS (or LOOP_WS) streams of one tile, in the RTL's loop orders and
        scratchpad layout (G LoopConv.scala:440-460,640-700): inputs from the start of the
        half, weights at its end, outputs in accumulator half `acc_half`."""
        layout = self._conv_layout(tile, half, acc_half)
        return self._conv_loads(layout), self._conv_execute(layout), self._conv_stores(layout)

    def _conv_layout(self, tile: Tile, half: int, acc_half: int) -> ConvLayout:
        dim = self.dim
        s = tile.stride
        irows = (tile.orows - 1) * s + tile.krows
        icols = (tile.ocols - 1) * s + tile.kcols
        if tile.downsample:
            # A stride-2 1x1 conv: the unroller loads input rows and columns 0, 2, 4, ...
            # (irow steps by 2, an mvin spans 2 * DIM columns and moves half of them) into
            # (irows >> 1) x (icols >> 1) rows, read one after the other by the computes
            # (G LoopConv.scala:289-296,357,376,662-663).
            irows, icols, s = tile.orows, tile.ocols, 1
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
        w_at = Affine(spad + self.spad_half - w_rows, och=w_block, krow=tile.kcols * tile.kchs)
        w_at.coefs.update({"kcol": tile.kchs, "kch": dim})
        o_rows_b = tile.orows * tile.ocols
        return ConvLayout(
            tile=tile,
            half=half,
            spad=spad,
            acc=acc,
            irows=irows,
            icols=icols,
            pixel_stride=s,
            ich_blocks=ich_blocks,
            och_blocks=och_blocks,
            a_block=a_block,
            w_block=w_block,
            o_rows=o_rows,
            a_at=Affine(spad, kch=a_block, b=irows * icols, row=icols, col=1),
            w_at=w_at,
            out_at=Affine(acc, och=tile.batches * o_rows_b, b=o_rows_b, row=tile.ocols, col=1),
            col_segments=segments(tile.ocols, dim),
            kch_segments=segments(tile.kchs, dim),
            pixel_rows=[("b", tile.batches, 0, 1), ("row", tile.orows, 0, 1)],
        )

    def _conv_loads(self, layout: ConvLayout) -> list:
        """Bias (when the tile starts an accumulation), weights, inputs. Without a bias
        (NO_BIAS), LOOP_CONV_WS still issues its mvin3s, from DRAM address 0: zero rows
        written into the accumulator (G LoopConv.scala:124; LoadController.scala:72-76),
        where LOOP_WS issues none (G LoopMatmul.scala:311-312) and its first compute
        overwrites the accumulator (LoopMatmul.scala:427)."""
        dim, tile, half = self.dim, layout.tile, layout.half
        out_at, w_at, a_at = layout.out_at, layout.w_at, layout.a_at
        och_blocks, ich_blocks = layout.och_blocks, layout.ich_blocks
        loads: list = []
        config_ld = self.commands.block("config_ld", [self.commands.config("load")])
        # Bias: one accumulator row repeated per pixel (DRAM stride 0); b, orow, ocol, och
        # (G LoopConv.scala:112-207).
        zeros = not tile.bias
        if tile.first and (tile.bias or tile.loop_conv_ws):
            loads.append(config_ld)

            def bias(loops, depth, pixels):
                row_bytes = min(dim, tile.ochs) * 4
                t = self.commands.mvin(
                    "mvin3", pixels, row_bytes, True, out_at, pixels, loops, half, zeros=zeros
                )
                return [self.commands.block("mvin3 zeros" if zeros else "mvin3 bias", [t])]

            leaf = over_columns(dim, layout.col_segments, bias, [("och", och_blocks, 0, 1)])
            loads += nest(layout.pixel_rows, ROOT_DEPTH, leaf, {})
        # Weights: och (up to 4 blocks per mvin), krow, kcol, kch (G LoopConv.scala:549-566).
        loads.append(config_ld)
        for groups, first_group, per_group in segments(och_blocks, self.blocks_per_mvin):
            row_bytes = min(per_group * dim, tile.ochs - first_group * self.blocks_per_mvin * dim)

            def channel_blocks(loops, depth, per_group=per_group, row_bytes=row_bytes):
                nodes: list = []
                for blocks, first_block, rows in layout.kch_segments:

                    def weight(lp, d, rows=rows):
                        count = (per_group - 1) * layout.w_block + rows
                        t = self.commands.mvin(
                            "mvin2", rows, row_bytes, False, w_at, count, lp, half
                        )
                        return [self.commands.block("mvin2 weights", [t])]

                    nodes += nest([("kch", blocks, first_block, 1)], depth, weight, loops)
                return nodes

            dims = [
                ("och", groups, first_group * self.blocks_per_mvin, self.blocks_per_mvin),
                ("krow", tile.krows, 0, 1),
                ("kcol", tile.kcols, 0, 1),
            ]
            loads += nest(dims, ROOT_DEPTH, channel_blocks, {})
        # Inputs: b, irow, icol (up to DIM pixels), ich (up to 4 blocks) innermost
        # (G LoopConv.scala:366-388).
        loads.append(config_ld)
        input_rows = [("b", tile.batches, 0, 1), ("row", layout.irows, 0, 1)]
        for groups, first_group, per_group in segments(ich_blocks, self.blocks_per_mvin):
            row_bytes = min(per_group * dim, tile.kchs - first_group * self.blocks_per_mvin * dim)

            def inputs(loops, depth, pixels, per_group=per_group, row_bytes=row_bytes):
                count = (per_group - 1) * layout.a_block + pixels
                t = self.commands.mvin("mvin", pixels, row_bytes, False, a_at, count, loops, half)
                return [self.commands.block("mvin inputs", [t])]

            group = [("kch", groups, first_group * self.blocks_per_mvin, self.blocks_per_mvin)]
            loads += nest(
                input_rows,
                ROOT_DEPTH,
                over_columns(dim, segments(layout.icols, dim), inputs, group),
                {},
            )
        return loads

    def _conv_execute(self, layout: ConvLayout) -> list:
        """config_ex, then per weight step a preload with weights and a pair per pixel block."""
        dim, tile, half, s = self.dim, layout.tile, layout.half, layout.pixel_stride
        w_at, out_at = layout.w_at, layout.out_at
        col_segments, kch_segments = layout.col_segments, layout.kch_segments
        irows, icols = layout.irows, layout.icols
        # Execute: per weight step, a preload with weights then one pair per pixel block
        # (G LoopConv.scala:791-820; LoopMatmul.scala:393-492 for k, j, i). The A operand
        # of output pixel (row, col) at kernel offset (krow, kcol) is input row
        # row*s + krow, column col*s + kcol, spanning pixels*s rows (the RS's A_stride).
        a_exec = Affine(layout.spad, kch=layout.a_block, b=irows * icols, row=s * icols, col=s)
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
            pre = self.commands.preload(weights, weight_rows, out_at, pixels, group, loops, half)
            opcode = "compute_preloaded" if with_weights else "compute_accumulated"
            a_span = (pixels - 1) * s + 1
            com = self.commands.compute(opcode, a_exec, a_span, out_at, pixels, group, loops)
            return self.commands.block("preload+compute" if with_weights else "pair", [pre, com])

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
            nodes += nest(
                [("b", 1, 0, 1), ("row", 1, 0, 1)], depth, over_columns(dim, rest, plain, []), loops
            )
            nodes += nest(
                [("b", 1, 0, 1), ("row", tile.orows - 1, 1, 1)],
                depth,
                over_columns(dim, col_segments, plain, []),
                loops,
            )
            nodes += nest(
                [("b", tile.batches - 1, 1, 1), ("row", tile.orows, 0, 1)],
                depth,
                over_columns(dim, col_segments, plain, []),
                loops,
            )
            return nodes

        def kernel_steps(loops, depth):
            """kcol groups of pixels_per_row (first-layer packing), then kch blocks: a
            weight step's B tile has pixels x channel rows (G LoopConv.scala:649,659)."""
            nodes: list = []
            packed = tile.pixels_per_row
            for groups, first_group, pixels in segments(tile.kcols, packed):
                for blocks, first_block, rows in kch_segments:

                    def weight_step(lp, d, rows=pixels * rows):
                        return step(lp, d, rows)

                    dims = [
                        ("kcol", groups, first_group * packed, packed),
                        ("kch", blocks, first_block, 1),
                    ]
                    nodes += nest(dims, depth, weight_step, loops)
            return nodes

        if tile.loop_conv_ws:
            outer = [("och", layout.och_blocks, 0, 1), ("krow", tile.krows, 0, 1)]
            execute_nodes = nest(outer, ROOT_DEPTH, kernel_steps, {})
        else:  # LOOP_WS: k outermost, then j, then i (G LoopMatmul.scala:393-492)
            execute_nodes = []
            for blocks, first_block, rows in kch_segments:

                def matmul_step(lp, d, rows=rows):
                    return step(lp, d, rows)

                dims = [("kch", blocks, first_block, 1), ("och", layout.och_blocks, 0, 1)]
                execute_nodes += nest(dims, ROOT_DEPTH, matmul_step, {})
        return [
            self.commands.block("config_ex", [self.commands.config("execute")]),
            *execute_nodes,
        ]

    def _conv_stores(self, layout: ConvLayout) -> list:
        """The tile that ends an accumulation stores its outputs (max-pooled if fused)."""
        dim, tile, acc = self.dim, layout.tile, layout.acc
        out_at, och_blocks, o_rows = layout.out_at, layout.och_blocks, layout.o_rows
        stores: list = []
        if tile.last and (tile.pool_size > 1 or tile.pool_stride > 1):
            # Max pooling on the way out: one mvout per (b, och block) walks every window
            # element of its porows x pocols outputs, one accumulator read each; the RS
            # takes its source to be the rest of the accumulator bank (G
            # StoreController.scala:57-82,131-136; ReservationStation.scala:242-252),
            # here the tile's whole output region.
            stores.append(self.commands.block("config_st", [self.commands.config("store")]))
            outputs = tile.porows * tile.pocols
            reads = outputs * tile.pool_size * tile.pool_size
            region = Affine(acc)

            def pooled(loops, depth):
                t = self.commands.mvout(region, o_rows, loops, outputs, reads=reads)
                return [self.commands.block("mvout pooled", [t])]

            dims = [("b", tile.batches, 0, 1), ("och", och_blocks, 0, 1)]
            stores += nest(dims, ROOT_DEPTH, pooled, {})
        elif tile.last:
            stores.append(self.commands.block("config_st", [self.commands.config("store")]))

            def store(loops, depth, pixels):
                return [
                    self.commands.block(
                        "mvout", [self.commands.mvout(out_at, pixels, loops, pixels)]
                    )
                ]

            leaf = over_columns(dim, layout.col_segments, store, [("och", och_blocks, 0, 1)])
            stores += nest(layout.pixel_rows, ROOT_DEPTH, leaf, {})
        return stores

    def layer_root(self, tiles: list[Tile]) -> Loop:
        """Loads of tile 0, then per tile t: loads of t + 1, execute and stores of t; runs
        of repeating groups of tiles (a tile's key includes its scratchpad half and the
        tile after it, so a group keeps the halves' alternation) become loops: their
        bodies do not depend on the index, so fast evaluation can skip whole groups."""
        # Scratchpad halves alternate per loop. LoopConv moves to the other accumulator half
        # on every loop too; LoopMatmul only after a loop that stores C, so tiles that
        # accumulate over K share one (G LoopMatmul.scala:1185,1208,1249).
        acc_halves = [0] * len(tiles)
        for t in range(1, len(tiles)):
            previous = tiles[t - 1]
            flips = previous.loop_conv_ws or previous.last
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
        for start, period, repeats in periodic_runs(
            [key(t) for t in range(len(tiles))], MAX_TILE_PERIOD
        ):
            group = [node for t in range(start, start + period) for node in step(t)]
            body.append(Loop("tiles" if repeats > 1 else "tile", repeats, tuple(group)))
        return Loop("layer", 1, tuple(body))
