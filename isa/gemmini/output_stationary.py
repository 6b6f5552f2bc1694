"""Output stationary: the commands the CPU issues for tiled_matmul_auto's OS path.

T = ucb-bar/gemmini-rocc-tests @180c468 include/gemmini.h. tiled_matmul_outer (L692-826)
configures once per call (config_ex with the dataflow, config_st, three config_ld) and
calls sp_tiled_matmul_os (L380-504) per (i0, j0, k0) tile. There is no loop unroller and
no double buffering: every tile uses the same rows (A from scratchpad row 0, B ending at
the scratchpad's end, C/D from accumulator row 0), so a tile's loads wait for the previous
tile's computes to read those rows (the RS's hazards), and the CPU issues the commands in
program order, stalling while the RS queue of the next one is full
(isa/gemmini/commands.py: issued_by_cpu).

A tile, in blocks of DIM (I x J outputs, K deep; the last block of each may be short by
pad_I / pad_J / pad_K elements):
    k0 == 0 only, with a bias: config_ld, D mvins: i, j in groups of MAX_BLOCK_LEN_ACC (L399-420)
    config_ld, B mvins: j in groups of MAX_BLOCK_LEN, k (L422-434)
    config_ld, A mvins: i, k in groups of MAX_BLOCK_LEN (L436-447)
    i, j, k: preload (C address at k == K-1, GARBAGE before), compute (L449-481)
    last k0 only: mvout per (i, j) (L483-503)
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

from isa.gemmini.commands import Affine, GemminiCommands, Loops, issued_by_cpu
from isa.gemmini.hierarchy import Where
from isa.gemmini.library import Tile
from isa.gemmini.streams import ROOT_DEPTH, nest, pieces_of, segments
from isa.program import BlockRef, Loop, layer_of_steps
from tracer.errors import MappingError

# gemmini_params.h's MAX_BYTES: the software's largest mvin is 64 bytes whatever the
# DMA's dma_maxbytes (G GemminiConfigs.scala:350-362 writes the header).
HEADER_MAX_BYTES = 64


class Piece(NamedTuple):
    """A run of equal mvins along one dimension: `trips` of them from block `first`,
    `step` blocks apart. A row piece (block_rows) sets `rows`; a column piece
    (block_groups) sets the `blocks` and `cols` of each mvin."""

    trips: int
    first: int
    step: int
    rows: int = 0
    blocks: int = 0
    cols: int = 0


def block_rows(elements: int, dim: int) -> list[Piece]:
    """`elements` rows in DIM-blocks, one mvin each, the full blocks first."""
    return [Piece(trips, first, 1, rows=rows) for trips, first, rows in segments(elements, dim)]


def block_groups(elements: int, per_mvin: int, dim: int) -> list[Piece]:
    """`elements` columns in DIM-blocks, moved in groups of up to `per_mvin` blocks (one
    mvin each); the last group on its own when it is shorter or ends short of its last
    block (its bytes differ)."""
    blocks = -(-elements // dim)
    pad = blocks * dim - elements
    pieces = [
        Piece(trips, first * per_mvin, per_mvin, blocks=each, cols=each * dim)
        for trips, first, each in segments(blocks, per_mvin)
    ]
    if pad:
        last = pieces.pop()
        if last.trips > 1:
            pieces.append(last._replace(trips=last.trips - 1))
        first = last.first + (last.trips - 1) * last.step
        pieces.append(last._replace(trips=1, first=first, cols=last.cols - pad))
    return pieces


def runs(n: int, properties: Callable[[int], tuple]) -> list[tuple[int, int, tuple]]:
    """0 .. n-1 as runs of consecutive indices with equal `properties`: (first, count,
    properties)."""
    out: list[tuple[int, int, tuple]] = []
    for index in range(n):
        value = properties(index)
        if out and out[-1][2] == value:
            first, count, _ = out[-1]
            out[-1] = (first, count + 1, value)
        else:
            out.append((index, 1, value))
    return out


class OutputStationaryTiles:
    """Builds the commands of sp_tiled_matmul_os calls from `commands`."""

    def __init__(self, commands: GemminiCommands) -> None:
        self.commands = commands
        self.dim = commands.dim
        self.per_mvin = max(1, HEADER_MAX_BYTES // self.dim)  # MAX_BLOCK_LEN
        self.per_mvin_acc = max(1, HEADER_MAX_BYTES // (4 * self.dim))  # MAX_BLOCK_LEN_ACC

    def _block(self, name: str, template) -> BlockRef:
        return self.commands.block(name, [issued_by_cpu(template)])

    def call_configs(self) -> list:
        """tiled_matmul_outer's configs (T gemmini.h L734-738), once per call."""
        c = self.commands
        return [
            self._block("config_ex", c.config("execute")),
            self._block("config_st", c.config("store")),
            *(self._block("config_ld", c.config("load")) for _ in range(3)),
        ]

    def _blocks(self, tile: Tile) -> tuple[int, int, int]:
        """(I, J, K) of the tile in DIM-blocks."""
        return (-(-tile.ocols // self.dim), -(-tile.ochs // self.dim), -(-tile.kchs // self.dim))

    def tile_commands(self, tile: Tile, root_depth: int = ROOT_DEPTH) -> list:
        """The tile's commands, their outermost loops at depth `root_depth`."""
        c = self.commands
        dim = self.dim
        blocks_i, blocks_j, blocks_k = self._blocks(tile)
        a_rows = blocks_i * blocks_k * dim
        b_first = c.memory.scratchpad_rows - blocks_k * blocks_j * dim
        c_rows = blocks_i * blocks_j * dim
        if a_rows > b_first or c_rows > c.memory.accumulator_rows:
            raise MappingError(
                f"the OS tile gemmini.h picks needs {a_rows + blocks_k * blocks_j * dim} "
                f"scratchpad and {c_rows} accumulator rows, more than there are "
                f"({c.memory.scratchpad_rows} / {c.memory.accumulator_rows} rows of "
                f"DIM={dim}); use a larger --param scratchpad_kib / accumulator_kib"
            )
        a_at = Affine(0, i=blocks_k * dim, k=dim)
        b_at = Affine(b_first, k=blocks_j * dim, j=dim)
        c_at = Affine(0, i=blocks_j * dim, j=dim)
        rows_i = block_rows(tile.ocols, dim)  # I: A and C rows
        rows_k = block_rows(tile.kchs, dim)  # K: B rows
        config_ld = self._block("config_ld", c.config("load"))
        nodes: list = self.call_configs() if tile.call_start else []

        # bias D: a repeated row (repeating_bias, DRAM stride 0); none without a bias, the
        # last k's preload then overwrites the accumulator (T gemmini.h L400, L460-463)
        if tile.first and tile.bias:
            d_groups = block_groups(tile.ochs, self.per_mvin_acc, dim)
            bias = self._mvins(
                "mvin bias",
                c_at,
                ("i", rows_i),
                ("j", d_groups),
                tile.memory.bias,
                root_depth,
                to_acc=True,
            )
            nodes += [config_ld, *bias]
        b_groups = block_groups(tile.ochs, self.per_mvin, dim)
        b_mvins = self._mvins(
            "mvin B", b_at, ("j", b_groups), ("k", rows_k), tile.memory.weight, root_depth
        )
        nodes += [config_ld, *b_mvins]
        a_groups = block_groups(tile.kchs, self.per_mvin, dim)
        a_mvins = self._mvins(
            "mvin A", a_at, ("i", rows_i), ("k", a_groups), tile.memory.input, root_depth
        )
        nodes += [config_ld, *a_mvins]
        nodes += self._execute(tile, a_at, b_at, c_at, root_depth)
        if tile.last:
            # C_cols: the last j block moves only its columns (T gemmini.h L490-494)
            j_segments = segments(tile.ochs, dim)
            j_runs = [(blocks, first, 1) for blocks, first, _ in j_segments]
            for piece in rows_i:

                def mvout(loops, depth, index, rows=piece.rows):
                    cols = j_segments[index][2]
                    t = c.mvout(c_at, rows, loops, rows, cols, where=tile.memory.output)
                    return [self._block("mvout", t)]

                dims = [("i", piece.trips, piece.first, 1)]
                nodes += nest(dims, root_depth, pieces_of("j", j_runs, mvout), {})
        return nodes

    def _mvins(
        self,
        name: str,
        at: Affine,
        outer: tuple[str, list[Piece]],
        inner: tuple[str, list[Piece]],
        where: Where,
        root_depth: int,
        to_acc: bool = False,
    ) -> list:
        """mvins over `outer`, then `inner` (variable, pieces): one of them gives each
        mvin's rows, the other its blocks and columns."""
        c = self.commands
        outer_var, outer_pieces = outer
        inner_var, inner_pieces = inner

        def inner_nodes(loops: Loops, depth: int, o: Piece) -> list:
            nodes: list = []
            for i in inner_pieces:
                rows, blocks, cols = o.rows or i.rows, o.blocks or i.blocks, o.cols or i.cols

                def leaf(lp, d, rows=rows, blocks=blocks, cols=cols):
                    count = (blocks - 1) * self.dim + rows
                    row_bytes = cols * (4 if to_acc else 1)
                    t = c.mvin("mvin", rows, row_bytes, to_acc, at, count, lp, None, where=where)
                    return [self._block(name, t)]

                nodes += nest([(inner_var, i.trips, i.first, i.step)], depth, leaf, loops)
            return nodes

        nodes: list = []
        for o in outer_pieces:

            def leaf(loops, depth, o=o):
                return inner_nodes(loops, depth, o)

            nodes += nest([(outer_var, o.trips, o.first, o.step)], root_depth, leaf, {})
        return nodes

    def _execute(
        self, tile: Tile, a_at: Affine, b_at: Affine, c_at: Affine, root_depth: int
    ) -> list:
        """i, j, k pairs. Rows: A's last i block and B's last k block may be short; the
        preload at k == K-1 sends results to C; the tile's first preload fires alone."""
        c = self.commands
        dim = self.dim
        blocks_i, blocks_j, blocks_k = self._blocks(tile)

        def rows(index: int, blocks: int, elements: int) -> int:
            return elements - index * dim if index == blocks - 1 else dim

        # The results add to the bias or to an earlier k0 tile's sums, unless the tile
        # starts the sums without a bias (T gemmini.h L458-463).
        accumulate = tile.bias or not tile.first

        def k_nodes(loops: Loops, depth: int, a_rows: int, first: bool, out_cols: int) -> list:
            nodes: list = []
            for k0, count, (b_rows, k_first, k_last) in runs(
                blocks_k, lambda k: (rows(k, blocks_k, tile.kchs), k == 0, k == blocks_k - 1)
            ):
                out = c_at if k_last else None
                fires_alone = first and k_first

                def leaf(lp, d, b_rows=b_rows, k_first=k_first, out=out, alone=fires_alone):
                    pre = c.os_preload(
                        out, a_rows, a_at, a_rows, b_at, b_rows, lp, alone, out_cols, accumulate
                    )
                    opcode = "compute_preloaded" if k_first else "compute_accumulated"
                    com = c.os_compute(opcode, a_at, a_rows, b_at, b_rows, lp)
                    return [c.block("preload+compute" if k_first else "pair", [pre, com])]

                nodes += nest([("k", count, k0, 1)], depth, leaf, loops)
            return nodes

        nodes: list = []
        for i0, i_count, (a_rows, i_first) in runs(
            blocks_i, lambda i: (rows(i, blocks_i, tile.ocols), i == 0)
        ):

            def j_nodes(loops, depth, a_rows=a_rows, i_first=i_first):
                out: list = []
                for j0, j_count, (first, out_cols) in runs(
                    blocks_j, lambda j: (i_first and j == 0, rows(j, blocks_j, tile.ochs))
                ):

                    def leaf(lp, d, first=first, out_cols=out_cols):
                        return k_nodes(lp, d, a_rows, first, out_cols)

                    out += nest([("j", j_count, j0, 1)], depth, leaf, loops)
                return out

            nodes += nest([("i", i_count, i0, 1)], root_depth, j_nodes, {})
        return nodes

    def layer_root(self, tiles: list[Tile]) -> Loop:
        """The tiles in call order, in loops over repeating groups of up to `MAX_PERIOD`
        tiles (equal tiles, or groups such as the k0 tiles of each (i0, j0); streams.py,
        isa/program.py, layer_of_steps)."""
        cache: dict[tuple[Tile, int], list] = {}

        def commands(t: int, depth: int) -> list:
            key = (tiles[t], depth)
            if key not in cache:
                cache[key] = self.tile_commands(*key)
            return cache[key]

        return layer_of_steps(tiles, MAX_PERIOD, commands, [], ("tile", "tiles"))


MAX_PERIOD = 64  # longest repeating group of tiles looked for
