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

from isa.gemmini.commands import INPUT_BYTES, STREAMS, Affine, GemminiCommands, Loops
from isa.gemmini.library import Tile
from isa.program import STEP_DEPTH, Loop, layer_of_steps
from tracer.errors import MappingError

MIN_GROUP_ROWS = 4  # G ExecuteController.scala:293-299
# Longest repeating group of tiles looked for: ResNet-50's tile sequences repeat every 2
# to 16 tiles (input-channel blocks times the halves' alternation), and groups of those
# every 48 (two rows of tiles; 256 finds nothing more on ResNet-50 at batch 4).
MAX_TILE_PERIOD = 128
ROOT_DEPTH = STEP_DEPTH  # depth of a tile's outermost loop: the root is 0, its tile loop 1

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


Run = tuple[int, int, int]  # a run of one loop: (trips, first value, step per trip)


def pieces_of(var: str, pieces: list[Run], make: Callable[[Loops, int, int], list]) -> Leaf:
    """A leaf that runs `make(loops, depth, index)` in a loop over `var` for each piece, one
    after the other: a loop whose trips differ (a short last block) split where it runs."""

    def leaf(loops, depth):
        nodes: list = []
        for index, (trips, first, step) in enumerate(pieces):
            run = [(var, trips, first, step)]
            nodes += nest(run, depth, lambda lp, d, i=index: make(lp, d, i), loops)
        return nodes

    return leaf


Group = tuple[int, int, int, int, int]


def column_groups(total: int, per_mvin: int, dim: int) -> list[list[Group]]:
    """`total` columns in DIM-blocks moved `per_mvin` blocks at a time, per segment of
    segments(blocks, per_mvin): its pieces (mvins, first group, blocks per mvin, row bytes
    the timing takes, columns each mvin moves). The mvin holding a short last block
    moves only what is left (G LoopConv.scala:302-304,479-481; LoopMatmul.scala:69-70),
    so it is a piece of its own when it shares its segment with full ones."""
    out = []
    for groups, first, each in segments(-(-total // dim), per_mvin):
        timed = min(each * dim, total - first * per_mvin * dim)
        last = min(each * dim, total - (first + groups - 1) * per_mvin * dim)
        if groups > 1 and last != each * dim:
            pieces = [(groups - 1, first, each, timed, each * dim)]
            pieces.append((1, first + groups - 1, each, timed, last))
        else:
            pieces = [(groups, first, each, timed, last)]
        out.append(pieces)
    return out


def over_columns_and_channels(dim: int, column_segments, channel_segments, make) -> Leaf:
    """A leaf that runs `make(loops, depth, pixels, cols)` over the column segments and,
    inside each, the output-channel blocks ("och"; `channel_segments` as segments()
    gives them, a short last block of `cols` columns on its own)."""
    runs = [(blocks, first, 1) for blocks, first, _ in channel_segments]

    def leaf(loops, depth):
        nodes: list = []
        for blocks, first_block, pixels in column_segments:

            def channels(lp, d, index, pixels=pixels):
                return make(lp, d, pixels, channel_segments[index][2])

            dims = [("col", blocks, first_block * dim, dim)]
            nodes += nest(dims, depth, pieces_of("och", runs, channels), loops)
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
    och_segments: list  # output channels in blocks of DIM: (blocks, first block, columns)
    pixel_rows: Dims  # the batch and output-row loops
    root_depth: int  # depth of the tile's outermost loops


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

    def tile_streams(
        self, tile: Tile, half: int, acc_half: int, root_depth: int = ROOT_DEPTH
    ) -> tuple[list, list, list]:
        """(loads, execute, stores) of one tile in scratchpad half `half` and accumulator
        half `acc_half`, their outermost loops at depth `root_depth`; each stream ends by
        marking the tile done with it (GemminiCommands.stream_done): its computes wait for
        its loads' mark, the tile after next, in this half, for the execute and store
        streams'."""
        loads, execute, stores = self._streams(tile, half, acc_half, root_depth)

        def done(stream: list, unit: str) -> list:
            if not stream:  # a tile that stores nothing has no store stream to finish
                return stream
            marker = self.commands.stream_done(unit, half)
            return [*stream, self.commands.block(f"{STREAMS[unit]} done", [marker])]

        return done(loads, "load"), done(execute, "execute"), done(stores, "store")

    def _streams(
        self, tile: Tile, half: int, acc_half: int, root_depth: int
    ) -> tuple[list, list, list]:
        if tile.kind == "resadd":
            return self._resadd_streams(tile, half, acc_half, root_depth)
        if tile.kind == "average":
            return self._average_streams(tile, half, acc_half, root_depth)
        return self._conv_streams(tile, half, acc_half, root_depth)

    def _resadd_streams(
        self, tile: Tile, half: int, acc_half: int, root_depth: int
    ) -> tuple[list, list, list]:
        """sp_tiled_resadd: one LOOP_WS with K = 0 (T gemmini.h L3135-3147): A moved into
        the accumulator (mvin), B added to it (mvin2, accumulating), C stored (mvout, up to
        4 blocks per row). Accumulator layout (i block, j block) -> (i * J + j) * DIM."""
        dim = self.dim
        j_blocks = -(-tile.ochs // dim)
        acc = acc_half * self.acc_half
        at = Affine(acc, row=j_blocks, col=1)  # row: i in elements; col: j in elements
        # Both loads are shrunk, input elements (T gemmini.h L3217-3218); mvin2 adds B to
        # A (accumulate, G LoopMatmul.scala:85,200). A block moves its own columns.
        j_segments = segments(tile.ochs, dim)
        j_runs = [(blocks, first * dim, dim) for blocks, first, _ in j_segments]
        loads: list = [self.commands.block("config_ld", [self.commands.config("load")])]
        for opcode in ("mvin", "mvin2"):
            for blocks, first_block, rows in segments(tile.ocols, dim):

                def load(loops, depth, index, rows=rows, opcode=opcode):
                    t = self.commands.mvin(
                        opcode,
                        rows,
                        dim,
                        True,
                        at,
                        rows,
                        loops,
                        half,
                        one_row=False,
                        cols=j_segments[index][2],
                        element_bytes=INPUT_BYTES,
                        accumulate=opcode == "mvin2",
                        where=tile.memory.weight if opcode == "mvin2" else tile.memory.input,
                    )
                    return [self.commands.block(f"{opcode} resadd", [t])]

                dims = [("row", blocks, first_block * dim, dim)]
                loads += nest(dims, root_depth, pieces_of("col", j_runs, load), {})
        stores: list = [self.commands.block("config_st", [self.commands.config("store")])]
        step = self.blocks_per_mvin * dim
        for blocks, first_block, rows in segments(tile.ocols, dim):
            for pieces in column_groups(tile.ochs, self.blocks_per_mvin, dim):
                runs = [(groups, first * step, step) for groups, first, *_ in pieces]

                def store(loops, depth, index, rows=rows, pieces=pieces):
                    _, _, per_group, _, cols = pieces[index]
                    count = (per_group - 1) * dim + rows
                    t = self.commands.mvout(
                        at, count, loops, rows, cols, blocks=per_group, where=tile.memory.output
                    )
                    return [self.commands.block("mvout resadd", [t])]

                dims = [("row", blocks, first_block * dim, dim)]
                stores += nest(dims, root_depth, pieces_of("col", runs, store), {})
        return loads, [], stores

    def _average_streams(
        self, tile: Tile, half: int, acc_half: int, root_depth: int
    ) -> tuple[list, list, list]:
        """sp_tiled_global_average (T gemmini.h L3318-3368): every pixel's channels are
        moved into the same accumulator rows, accumulating (one row, up to 4 blocks per
        mvin), then one mvout per channel block, scaled by 1 / pixels."""
        dim = self.dim
        acc = acc_half * self.acc_half
        # The first pixel's mvins overwrite the rows, the others add to them (T gemmini.h
        # L3345-3346); shrunk loads, input elements.
        at = Affine(acc, col=1)
        step = self.blocks_per_mvin
        loads: list = [self.commands.block("config_ld", [self.commands.config("load")])]
        for pieces in column_groups(tile.ochs, self.blocks_per_mvin, dim):
            runs = [(groups, first * step, step) for groups, first, *_ in pieces]
            for first_pixel, pixels in ((0, 1), (1, tile.ocols - 1)):

                def load(loops, depth, index, pieces=pieces, accumulate=first_pixel > 0):
                    _, _, per_group, _, cols = pieces[index]
                    t = self.commands.mvin(
                        "mvin",
                        1,
                        per_group * dim,
                        True,
                        at,
                        per_group,
                        loops,
                        half,
                        one_row=False,
                        cols=cols,
                        element_bytes=INPUT_BYTES,
                        accumulate=accumulate,
                        where=tile.memory.input,
                    )
                    return [self.commands.block("mvin average", [t])]

                dims = [("pixel", pixels, first_pixel, 1)]
                loads += nest(dims, root_depth, pieces_of("col", runs, load), {})
        stores: list = [self.commands.block("config_st", [self.commands.config("store")])]
        c_segments = segments(tile.ochs, dim)

        def store(loops, depth, index):
            cols = c_segments[index][2]
            t = self.commands.mvout(Affine(acc, col=1), 1, loops, 1, cols)
            return [self.commands.block("mvout average", [t])]

        runs = [(blocks, first, 1) for blocks, first, _ in c_segments]
        stores += pieces_of("col", runs, store)({}, root_depth)
        return loads, [self.commands.block("config_ex", [self.commands.config("execute")])], stores

    def _conv_streams(
        self, tile: Tile, half: int, acc_half: int, root_depth: int
    ) -> tuple[list, list, list]:
        """The LOOP_CONV_WS (or LOOP_WS) streams of one tile, in the RTL's loop orders and
        scratchpad layout (G LoopConv.scala:440-460,640-700): inputs from the start of the
        half, weights at its end, outputs in accumulator half `acc_half`."""
        layout = self._conv_layout(tile, half, acc_half, root_depth)
        return self._conv_loads(layout), self._conv_execute(layout), self._conv_stores(layout)

    def _conv_layout(self, tile: Tile, half: int, acc_half: int, root_depth: int) -> ConvLayout:
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
            och_segments=segments(tile.ochs, dim),
            pixel_rows=[("b", tile.batches, 0, 1), ("row", tile.orows, 0, 1)],
            root_depth=root_depth,
        )

    def _conv_loads(self, layout: ConvLayout) -> list:
        """Bias (when the tile starts an accumulation), weights, inputs. Without a bias
        (NO_BIAS), LOOP_CONV_WS still issues its mvin3s, from DRAM address 0: zero rows
        written into the accumulator (G LoopConv.scala:124; LoadController.scala:72-76),
        where LOOP_WS issues none (G LoopMatmul.scala:311-312) and its first compute
        overwrites the accumulator (LoopMatmul.scala:427)."""
        dim, tile, half = self.dim, layout.tile, layout.half
        out_at, w_at, a_at = layout.out_at, layout.w_at, layout.a_at
        loads: list = []
        config_ld = self.commands.block("config_ld", [self.commands.config("load")])
        # Bias: one accumulator row repeated per pixel (DRAM stride 0); b, orow, ocol, och
        # (G LoopConv.scala:112-207).
        zeros = not tile.bias
        if tile.first and (tile.bias or tile.loop_conv_ws):
            loads.append(config_ld)

            def bias(loops, depth, pixels, cols):
                row_bytes = min(dim, tile.ochs) * 4
                t = self.commands.mvin(
                    "mvin3",
                    pixels,
                    row_bytes,
                    True,
                    out_at,
                    pixels,
                    loops,
                    half,
                    zeros=zeros,
                    cols=cols,
                    where=tile.memory.bias,
                )
                return [self.commands.block("mvin3 zeros" if zeros else "mvin3 bias", [t])]

            leaf = over_columns_and_channels(dim, layout.col_segments, layout.och_segments, bias)
            loads += nest(layout.pixel_rows, layout.root_depth, leaf, {})
        # Weights: och (up to 4 blocks per mvin), krow, kcol, kch (G LoopConv.scala:549-566).
        loads.append(config_ld)
        och_groups = column_groups(tile.ochs, self.blocks_per_mvin, dim)
        for groups, first_group, per_group, row_bytes, cols in sum(och_groups, []):

            def channel_blocks(loops, depth, per_group=per_group, row_bytes=row_bytes, cols=cols):
                nodes: list = []
                for blocks, first_block, rows in layout.kch_segments:

                    def weight(lp, d, rows=rows):
                        count = (per_group - 1) * layout.w_block + rows
                        t = self.commands.mvin(
                            *("mvin2", rows, row_bytes, False, w_at, count, lp, half),
                            cols=cols,
                            where=tile.memory.weight,
                        )
                        return [self.commands.block("mvin2 weights", [t])]

                    nodes += nest([("kch", blocks, first_block, 1)], depth, weight, loops)
                return nodes

            dims = [
                ("och", groups, first_group * self.blocks_per_mvin, self.blocks_per_mvin),
                ("krow", tile.krows, 0, 1),
                ("kcol", tile.kcols, 0, 1),
            ]
            loads += nest(dims, layout.root_depth, channel_blocks, {})
        # Inputs: b, irow, icol (up to DIM pixels), ich (up to 4 blocks) innermost
        # (G LoopConv.scala:366-388).
        loads.append(config_ld)
        input_rows = [("b", tile.batches, 0, 1), ("row", layout.irows, 0, 1)]
        step = self.blocks_per_mvin
        for pieces in column_groups(tile.kchs, step, dim):
            runs = [(groups, first * step, step) for groups, first, *_ in pieces]

            def inputs(loops, depth, pixels, pieces=pieces, runs=runs):
                def mvin(lp, d, index):
                    _, _, per_group, row_bytes, cols = pieces[index]
                    count = (per_group - 1) * layout.a_block + pixels
                    t = self.commands.mvin(
                        *("mvin", pixels, row_bytes, False, a_at, count, lp, half),
                        cols=cols,
                        where=tile.memory.input,
                    )
                    return [self.commands.block("mvin inputs", [t])]

                return pieces_of("kch", runs, mvin)(loops, depth)

            pixels = over_columns(dim, segments(layout.icols, dim), inputs, [])
            loads += nest(input_rows, layout.root_depth, pixels, {})
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

        def pair(loops, pixels, weight_rows, out_cols, accumulate):
            with_weights = weight_rows > 0
            group = weights_group if with_weights else max(pixels, MIN_GROUP_ROWS)
            weights = w_at if with_weights else None
            pre = self.commands.preload(weights, weight_rows, out_at, pixels, group, loops, half)
            opcode = "compute_preloaded" if with_weights else "compute_accumulated"
            a_span = (pixels - 1) * s + 1
            com = self.commands.compute(
                opcode, a_exec, a_span, out_at, pixels, group, loops, out_cols, accumulate
            )
            return self.commands.block("preload+compute" if with_weights else "pair", [pre, com])

        def step(loops, depth, weight_rows, out_cols, accumulate):
            """One weight step: its first pixel block (peeled: its preload brings the
            weights), the rest of pixel row (b=0, row=0), rows 1.. of b=0, then b = 1..;
            its outputs are `out_cols` wide and `accumulate` into the accumulator."""

            def plain(lp, d, pixels):
                return [pair(lp, pixels, 0, out_cols, accumulate)]

            first_blocks, _, first_pixels = col_segments[0]
            fixed = dict(loops)
            fixed.update({"b": (-1, 0, 1), "row": (-1, 0, 1), "col": (-1, 0, dim)})
            nodes = [pair(fixed, first_pixels, weight_rows, out_cols, accumulate)]
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

        def kernel_steps(loops, depth, out_cols):
            """kcol groups of pixels_per_row (first-layer packing), then kch blocks: a
            weight step's B tile has pixels x channel rows (G LoopConv.scala:649,659).
            LOOP_CONV_WS always accumulates onto its bias or zero rows (G
            LoopConv.scala:757)."""
            nodes: list = []
            packed = tile.pixels_per_row
            for groups, first_group, pixels in segments(tile.kcols, packed):
                for blocks, first_block, rows in kch_segments:

                    def weight_step(lp, d, rows=pixels * rows):
                        return step(lp, d, rows, out_cols, True)

                    dims = [
                        ("kcol", groups, first_group * packed, packed),
                        ("kch", blocks, first_block, 1),
                    ]
                    nodes += nest(dims, depth, weight_step, loops)
            return nodes

        och_runs = [(blocks, first, 1) for blocks, first, _ in layout.och_segments]

        def och_cols(index: int) -> int:
            return layout.och_segments[index][2]

        if tile.loop_conv_ws:
            execute_nodes = []
            for blocks, first, out_cols in layout.och_segments:

                def krows(lp, d, out_cols=out_cols):
                    return kernel_steps(lp, d, out_cols)

                dims = [("och", blocks, first, 1), ("krow", tile.krows, 0, 1)]
                execute_nodes += nest(dims, layout.root_depth, krows, {})
        else:  # LOOP_WS: k outermost, then j, then i (G LoopMatmul.scala:393-492)
            # Its outputs accumulate unless the tile starts the sums without a bias, and
            # then from its second k block on (G LoopMatmul.scala:427; T gemmini.h
            # L684-687, L725-729): the first k block overwrites, on its own.
            k_runs = []
            for blocks, first_block, rows in kch_segments:
                if first_block == 0 and tile.first and not tile.bias:
                    k_runs.append((1, 0, rows, False))
                    blocks, first_block = blocks - 1, 1
                if blocks:
                    k_runs.append((blocks, first_block, rows, True))
            execute_nodes = []
            for blocks, first_block, rows, accumulate in k_runs:

                def matmul_step(lp, d, index, rows=rows, accumulate=accumulate):
                    return step(lp, d, rows, och_cols(index), accumulate)

                execute_nodes += nest(
                    [("kch", blocks, first_block, 1)],
                    layout.root_depth,
                    pieces_of("och", och_runs, matmul_step),
                    {},
                )
        return [
            self.commands.block("config_ex", [self.commands.config("execute")]),
            *execute_nodes,
        ]

    def _conv_stores(self, layout: ConvLayout) -> list:
        """The tile that ends an accumulation stores its outputs (max-pooled if fused)."""
        dim, tile, acc = self.dim, layout.tile, layout.acc
        out_at, o_rows = layout.out_at, layout.o_rows
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

            runs = [(blocks, first, 1) for blocks, first, _ in layout.och_segments]

            def pooled(loops, depth, index):
                cols = layout.och_segments[index][2]
                t = self.commands.mvout(
                    region, o_rows, loops, outputs, cols, reads=reads, where=tile.memory.output
                )
                return [self.commands.block("mvout pooled", [t])]

            stores += nest(
                [("b", tile.batches, 0, 1)], layout.root_depth, pieces_of("och", runs, pooled), {}
            )
        elif tile.last:
            stores.append(self.commands.block("config_st", [self.commands.config("store")]))

            def store(loops, depth, pixels, cols):
                t = self.commands.mvout(
                    out_at, pixels, loops, pixels, cols, where=tile.memory.output
                )
                return [self.commands.block("mvout", [t])]

            leaf = over_columns_and_channels(dim, layout.col_segments, layout.och_segments, store)
            stores += nest(layout.pixel_rows, layout.root_depth, leaf, {})
        return stores

    def layer_root(self, tiles: list[Tile]) -> Loop:
        """Loads of tile 0, then per tile t: loads of t + 1, execute and stores of t, in
        loops over repeating groups of tiles (isa/program.py, layer_of_steps). A tile's
        key includes its scratchpad half and the tile after it, so a group keeps the
        halves' alternation."""
        # Scratchpad halves alternate per loop. LoopConv moves to the other accumulator half
        # on every loop too; LoopMatmul only after a loop that stores C, so tiles that
        # accumulate over K share one (G LoopMatmul.scala:1185,1208,1249).
        acc_halves = [0] * len(tiles)
        for t in range(1, len(tiles)):
            previous = tiles[t - 1]
            flips = previous.loop_conv_ws or previous.last
            acc_halves[t] = acc_halves[t - 1] ^ int(flips)
        cache: dict[tuple[Tile, int, int, int], tuple[list, list, list]] = {}

        def streams(t: int, depth: int) -> tuple[list, list, list]:
            key = (tiles[t], t % 2, acc_halves[t], depth)
            if key not in cache:
                cache[key] = self.tile_streams(*key)
            return cache[key]

        def step(t: int, depth: int) -> list:
            loads = streams(t + 1, depth)[0] if t + 1 < len(tiles) else []
            _, execute, stores = streams(t, depth)
            return loads + execute + stores

        def key(t: int) -> tuple[object, ...]:
            following = (tiles[t + 1], acc_halves[t + 1]) if t + 1 < len(tiles) else None
            return (following, tiles[t], t % 2, acc_halves[t])

        first_loads = Loop("first loads", 1, tuple(streams(0, ROOT_DEPTH)[0]))
        keys = [key(t) for t in range(len(tiles))]
        return layer_of_steps(keys, MAX_TILE_PERIOD, step, [first_loads], ("tile", "tiles"))
