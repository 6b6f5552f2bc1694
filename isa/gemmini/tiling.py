"""Gemmini's own software tiling: the tile sizes its C library picks for a matmul or a conv.

Re-implemented from the behaviour of ucb-bar/gemmini-rocc-tests include/gemmini.h at commit
180c468 (line numbers below are that file's; docs/gemmini/tiling.md has the prose and the
worked examples). Our numbers describe what a user's program would run only if we tile as
the library does, hence the library's quirks are kept on purpose.

Units, as in the library: a scratchpad row holds DIM input elements, an accumulator row
DIM accumulator elements; matmul tile factors count DIM x DIM blocks, conv tile sizes count
elements (pixels, channels). The hardware loop unrollers run two loops at once, each in
half of each memory (gemmini LoopMatmul.scala/LoopConv.scala), so tiles get half budgets.
"""

from __future__ import annotations

from dataclasses import dataclass
from math import isqrt

from isa.arithmetic import ceil_div
from tracer.errors import MappingError


@dataclass(frozen=True)
class GemminiMemory:
    """The sizes the tiling heuristics read (gemmini_params.h: DIM, BANK_NUM, BANK_ROWS,
    ACC_ROWS), in rows."""

    dim: int
    scratchpad_rows: int  # BANK_NUM * BANK_ROWS
    accumulator_rows: int  # ACC_ROWS

    def __post_init__(self) -> None:
        for name in ("dim", "scratchpad_rows", "accumulator_rows"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise MappingError(f"Gemmini memory: {name} must be a positive integer")


def matmul_tiles(
    dim_i: int, dim_j: int, dim_k: int, memory: GemminiMemory, weight_stationary: bool = True
) -> tuple[int, int, int]:
    """(tile_I, tile_J, tile_K) in DIM-blocks, as tiled_matmul_auto picks them (L1231-1346).

    Only weight-stationary runs are double-buffered (L1260): their budgets are half the
    scratchpad and accumulator (L1262-1264), and their starting caps come from a quarter
    of the scratchpad and half the accumulator (the db_ macros, L1243-1254). Growth tries
    J, then I, then K, until a round changes nothing; K is checked against the scratchpad
    only (L1282-1308)."""
    for name, value in (("I", dim_i), ("J", dim_j), ("K", dim_k)):
        if value < 1:
            raise MappingError(f"matmul dimension {name} must be positive, got {value}")
    dim = memory.dim
    blocks_i, blocks_j, blocks_k = (ceil_div(d, dim) for d in (dim_i, dim_j, dim_k))
    halves = 2 if weight_stationary else 1
    max_spad = memory.scratchpad_rows // halves
    max_acc = memory.accumulator_rows // halves
    # Starting caps: the accumulator as a square of blocks, K filling the rest of a partition.
    partition_mats = memory.scratchpad_rows // 2 // halves // dim
    acc_mats = memory.accumulator_rows // halves // dim
    cap_ij = max(1, isqrt(acc_mats))
    cap_k = max(1, partition_mats // cap_ij)
    tile_i, tile_j, tile_k = min(blocks_i, cap_ij), min(blocks_j, cap_ij), min(blocks_k, cap_k)

    def spad(i: int, j: int, k: int) -> int:
        return (i * k + k * j) * dim  # A and B tiles (L1220-1222)

    def acc(i: int, j: int) -> int:
        return i * j * dim  # C tile (L1225-1227)

    changed = True
    while changed:
        changed = False
        if (
            tile_j < blocks_j
            and spad(tile_i, tile_j + 1, tile_k) <= max_spad
            and acc(tile_i, tile_j + 1) <= max_acc
        ):
            tile_j += 1
            changed = True
        if (
            tile_i < blocks_i
            and spad(tile_i + 1, tile_j, tile_k) <= max_spad
            and acc(tile_i + 1, tile_j) <= max_acc
        ):
            tile_i += 1
            changed = True
        if tile_k < blocks_k and spad(tile_i, tile_j, tile_k + 1) <= max_spad:
            tile_k += 1
            changed = True
    return tile_i, tile_j, tile_k


@dataclass(frozen=True)
class ConvTiles:
    """One tile of tiled_conv: output pixels after pooling, channels, kernel window."""

    batches: int
    porows: int
    pocols: int
    pochs: int
    krows: int
    kcols: int
    kchs: int

    def as_tuple(self) -> tuple[int, ...]:
        return (
            self.batches,
            self.porows,
            self.pocols,
            self.pochs,
            self.krows,
            self.kcols,
            self.kchs,
        )


@dataclass(frozen=True)
class ConvProblem:
    """A conv as tiled_conv_auto sees it (NHWC, square kernel, one stride, optional max pool).
    pool_size = pool_stride = 0 means no pooling."""

    batch: int
    in_size: int  # input rows = cols
    in_channels: int
    out_channels: int
    out_size: int  # output rows = cols, before pooling
    stride: int
    padding: int
    kernel: int
    pool_size: int = 0
    pool_stride: int = 0
    pool_padding: int = 0
    depthwise: bool = False


def conv_tile_rows(problem: ConvProblem, tiles: tuple[int, ...], dim: int) -> tuple[int, int]:
    """(scratchpad rows, accumulator rows) of one tile: tiled_conv_total_spad_rows
    (L1791-1831). Padding is ignored (an overestimate) and so is the first layer's pixel
    packing, as the library does."""
    batches, porows, pocols, pochs, krows, kcols, kchs = tiles
    pool_size = problem.pool_size if problem.pool_stride else 1
    pool_stride = problem.pool_stride if problem.pool_stride else 1
    orows = porows * pool_stride + pool_size - 1
    ocols = pocols * pool_stride + pool_size - 1
    irows = orows * problem.stride + krows - 1
    icols = ocols * problem.stride + kcols - 1
    # tiled_conv_auto halves a strided 1x1 conv's input (L2666); tiled_conv_dw_auto passes
    # downsample = false (L2962-2967).
    downsample = (
        not problem.depthwise
        and problem.stride == 2
        and problem.kernel == 1
        and problem.padding == 0
        and not problem.pool_stride
        and problem.in_size % 2 == 0
    )
    if downsample:
        irows, icols = irows >> 1, icols >> 1
    ich_blocks = ceil_div(kchs, dim)
    och_blocks = ceil_div(pochs, dim)
    a_rows = ich_blocks * batches * irows * icols
    b_rows = och_blocks * kcols * krows * kchs
    c_rows = och_blocks * batches * orows * ocols
    return a_rows + b_rows, c_rows


def conv_tiles(problem: ConvProblem, memory: GemminiMemory) -> ConvTiles:
    """The tile tiled_conv_auto (or tiled_conv_dw_auto) picks (L2638-2832, L2923-3103):
    start from the whole layer, shrink the largest size until both budgets hold, grow
    pocols, then grow every size in turn while they hold."""
    dim = memory.dim
    max_spad = memory.scratchpad_rows // 2  # always halved for double buffering (L2680-2681)
    max_acc = memory.accumulator_rows // 2
    pool_size = problem.pool_size if problem.pool_stride else 1
    pool_stride = problem.pool_stride if problem.pool_stride else 1
    pool_padding = problem.pool_padding if problem.pool_stride else 0
    pooled = (problem.out_size + 2 * pool_padding - pool_size) // pool_stride + 1
    channels_out = 1 if problem.depthwise else problem.out_channels
    channels_in = 1 if problem.depthwise else problem.in_channels
    limits = [problem.batch, pooled, pooled, channels_out, problem.kernel, problem.kernel]
    limits.append(channels_in)
    sizes = list(limits)
    channel_fields = (3, 6)  # pochs, kchs: shrink to a multiple of DIM (L2703-2710)

    def fits(candidate: list[int]) -> bool:
        spad, acc = conv_tile_rows(problem, tuple(candidate), dim)
        return spad <= max_spad and acc <= max_acc

    while not fits(sizes):
        largest = -1
        for index, value in enumerate(sizes):  # strict '>': the lowest index wins a tie
            if index == 2 and value <= dim and sizes[1] > 1:
                continue  # keep full array rows: pocols is not shrunk below DIM (L2695-2696)
            if largest < 0 or value > sizes[largest]:
                largest = index
        if largest < 0 or sizes[largest] == 1 and all(v == 1 for v in sizes):
            raise MappingError(
                "Gemmini conv tiling: even a 1-element tile exceeds the scratchpad or "
                "accumulator budget; use a larger scratchpad_kib / accumulator_kib"
            )
        if largest in channel_fields and not problem.depthwise:
            value = sizes[largest]
            value = value - value % dim if value % dim else value - dim
            sizes[largest] = max(value, 1)
        else:
            sizes[largest] -= 1
    while sizes[2] < limits[2]:  # grow pocols first (L2723-2745)
        sizes[2] += 1
        if not fits(sizes):
            sizes[2] -= 1
            break
    changed = True
    while changed:  # then anything, in index order (L2747-2771)
        changed = False
        for index in range(len(sizes)):
            if sizes[index] < limits[index]:
                sizes[index] += 1
                if fits(sizes):
                    changed = True
                else:
                    sizes[index] -= 1
    return ConvTiles(*sizes)
