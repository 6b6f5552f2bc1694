"""Which gemmini.h call runs a layer, and the tiles it hands to the hardware unrollers.

Follows how the library's own ImageNet networks call it (T = ucb-bar/gemmini-rocc-tests
@180c468: imagenet/resnet50.c, include/gemmini.h; G = ucb-bar/gemmini @8c3f992): a conv
through tiled_conv_auto (a following max pool fused into its mvouts), a depthwise conv
through tiled_conv_dw_auto, a 1x1 conv as a matmul (tiled_matmul_nn_auto), a stride-2 1x1
conv through tiled_conv_downsample, fully connected layers and matmuls through
tiled_matmul_auto, residual additions through tiled_resadd_auto and global average pooling
through tiled_global_average_auto. Tile sizes come from isa/gemmini/tiling.py; here are
the loops over tiles. isa/gemmini/streams.py turns each Tile into commands. Programs that
call the library otherwise (every conv through tiled_conv_auto, no first-layer packing, no
bias) are described by LibraryCalls (accelerators/gemmini.toml documents each choice).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field, replace
from itertools import product
from math import prod

from isa.gemmini.commands import ACC_BYTES, INPUT_BYTES
from isa.gemmini.hierarchy import Region, TileMemory, Where, cache_levels
from isa.gemmini.mapping import (
    CONV_LETTERS,
    MATMUL_LETTERS,
    LayerMapping,
    conv_sizes,
    matmul_sizes,
)
from isa.gemmini.tiling import (
    ConvProblem,
    GemminiMemory,
    conv_tile_rows,
    conv_tiles,
    matmul_tiles,
)
from tracer.errors import MappingError
from tracer.workloads.layers import (
    Conv2d,
    Dense,
    Elementwise,
    Layer,
    MatMul,
    Pool,
    operand_elements,
)


@dataclass(frozen=True)
class LibraryCalls:
    """How the program calls gemmini.h: the description's conv_1x1, first_layer_optimizations
    and bias (accelerators/gemmini.toml has the source of each)."""

    conv_1x1: str = "matmul"  # "matmul" (as imagenet/resnet50.c) or "conv" (tiled_conv_auto)
    first_layer_optimizations: bool = True  # HAS_FIRST_LAYER_OPTIMIZATIONS
    bias: bool = True  # False: built with NO_BIAS, a NULL bias

    @classmethod
    def from_parameters(cls, params: dict[str, int | str]) -> LibraryCalls:
        return cls(
            conv_1x1=str(params["conv_1x1"]),
            first_layer_optimizations=params["first_layer_optimizations"] == "true",
            bias=params["bias"] == "true",
        )


@dataclass(frozen=True)
class Tile:
    """One unroller loop: a conv tile (a matmul is a 1x1 conv over one row of pixels), a
    residual-add tile (`kind` "resadd": ocols rows of ochs channels) or a global-average
    tile ("average": ocols pixels of ochs channels); or, with `kind` "matmul_os", one
    sp_tiled_matmul_os call (I = ocols, J = ochs, K = kchs), which the CPU issues itself.

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
    loop_conv_ws: (
        bool  # True: LOOP_CONV_WS (ex order och, krow, kcol, kch); False: LOOP_WS (k, then j)
    )
    kind: str = "conv"
    pool_size: int = 1
    pool_stride: int = 1
    porows: int = 0
    pocols: int = 0
    pixels_per_row: int = 1  # first-layer packing: kernel columns per scratchpad row
    call_start: bool = False  # the first tile of a library call (its config commands first)
    bias: bool = True  # False: a NULL bias (NO_BIAS); `first` tiles then load none
    # tiled_conv_auto's downsample (a stride-2 1x1 conv, T gemmini.h L2236-2237): the
    # unroller loads every other input pixel, so the tile's inputs are orows x ocols.
    downsample: bool = False
    # Where its operands are in the SoC's memory (level and DRAM row stride): the grids
    # set the strides, tag_levels the levels (isa/gemmini/hierarchy.py).
    memory: TileMemory = TileMemory()
    # The tile's start in its call's loops (tile_regions names its data by it); not part
    # of what the tile is, so tiles at different starts still share their commands.
    at: tuple[int, ...] = field(default=(), compare=False)


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
    layer: Conv2d,
    memory: GemminiMemory,
    pool: Pool | None = None,
    calls: LibraryCalls = LibraryCalls(),
    entry: LayerMapping | None = None,
) -> tuple[list[Tile], tuple[int, ...]] | None:
    """The tiles tiled_conv_auto (or tiled_conv_dw_auto) runs, in its loop order
    b, porow, pocol, poch, krow, kcol, kch (T gemmini.h tiled_conv), with max pooling
    `pool` fused into the mvouts if given; None if the library cannot run the layer.
    With a user's `entry`, the tiles tiled_conv (tiled_conv_dw) runs with its sizes, in
    its loop order (isa/gemmini/mapping.py)."""
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
    size, step = (pool_size, pool_stride) if pool else (1, 1)
    out = layer.out_height
    pooled = (out + 2 * pool_padding - size) // step + 1
    channel_groups = layer.in_channels if depthwise else 1
    out_ch = 1 if depthwise else layer.out_channels
    in_ch = 1 if depthwise else layer.in_channels
    k = layer.kernel_height
    limits = (layer.batch, pooled, pooled, out_ch, k, k, in_ch)
    if entry is None:
        sizes = conv_tiles(problem, memory).as_tuple()
        outer_to_inner = tuple(range(len(CONV_LETTERS)))
    else:
        sizes = conv_sizes(
            entry,
            limits,
            depthwise,
            lambda tile: conv_tile_rows(problem, tile, memory.dim),
            (memory.scratchpad_rows // 2, memory.accumulator_rows // 2),
        )
        outer_to_inner = entry.outer_to_inner(CONV_LETTERS)
    count = channel_groups * prod(-(-lim // size) for lim, size in zip(limits, sizes, strict=True))
    _refuse_too_many_tiles(entry, count)
    batches, porows, pocols, pochs, krows, kcols, kchs = sizes
    # tiled_conv (T gemmini.h L2236-2237); tiled_conv_dw passes false (L2625).
    downsample = (
        not depthwise
        and layer.stride[0] == 2
        and k == 1
        and layer.in_height % 2 == 0
        and top == 0
        and pool is None
    )
    # sp_tiled_conv packs no pixels for a downsampled conv (T gemmini.h L1408).
    packing = calls.first_layer_optimizations and not downsample
    starts = [range(0, limit, tile) for limit, tile in zip(limits, sizes, strict=True)]
    # DRAM rows (NHWC pixels of all channels; weights krow, kcol, kch x och; outputs NHWC):
    # a downsampled conv loads every other pixel.
    memory_rows = TileMemory(
        input=Where(stride=layer.in_channels * (2 if downsample else 1)),
        weight=Where(stride=layer.out_channels),
        output=Where(stride=layer.out_channels),
    )
    tiles = []
    for group in range(channel_groups):
        # tiled_conv's seven loops in the given order (D gemmini.h L2386-2400), each tile's
        # start as (b, row, col, och, krow, kcol, kch).
        for values in product(*(starts[index] for index in outer_to_inner)):
            at = dict(zip(outer_to_inner, values, strict=True))
            b, row, col, och, krow, kcol, kch = (at[index] for index in range(len(limits)))
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
                    last=krow + krows >= k and kcol + kcols >= k and kch + kchs >= in_ch,
                    loop_conv_ws=True,
                    pool_size=size,
                    pool_stride=step,
                    porows=rows,
                    pocols=cols,
                    pixels_per_row=pixels_per_row(tile_kchs, tile_kcols, memory.dim)
                    if packing
                    else 1,
                    bias=calls.bias,
                    downsample=downsample,
                    memory=memory_rows,
                    at=(group, b, row, col, och, krow, kcol, kch),
                )
            )
    return tiles, sizes


def pixels_per_row(kchs: int, kcols: int, dim: int) -> int:
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

    half = memory.accumulator_rows // 2
    while acc_rows(tile_i, tile_j) > half:
        if tile_i >= tile_j or tile_j <= dim:
            tile_i //= 2
        else:
            # Every DIM the loop would take off J before I >= J, J <= DIM or the tile
            # fits, in one step: one at a time, a very wide tensor took minutes.
            fitting_blocks = half // (-(-tile_i // dim) * dim)
            steps = min(
                -(-(tile_j - fitting_blocks * dim) // dim),
                -(-(tile_j - tile_i) // dim),
                -(-(tile_j - dim) // dim),
            )
            tile_j -= steps * dim
        if tile_i == 0:
            raise MappingError(
                "Gemmini residual add: not even one row fits half the accumulator; use a "
                "larger --param accumulator_kib"
            )
    _refuse_too_many_tiles(None, -(-rows // tile_i) * -(-cols // tile_j))
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
            memory=TileMemory(*(Where(stride=cols),) * 2, output=Where(stride=cols)),
            at=(i, j),
        )
        for i in range(0, rows, tile_i)
        for j in range(0, cols, tile_j)
    ]


def average_tile_grid(batch: int, pixels: int, channels: int, memory: GemminiMemory) -> list[Tile]:
    """tiled_global_average_auto (T gemmini.h L3397-3414): the channel tile shrinks until
    its DIM-blocks fit the accumulator; one tile per (batch, channel tile) (L3373-3394)."""
    # The largest tile of at most half the accumulator's rows in DIM-blocks.
    tile = min(channels, memory.accumulator_rows // 2 * memory.dim)
    _refuse_too_many_tiles(None, batch * -(-channels // max(tile, 1)))
    return [
        Tile(
            *(1, 1, pixels, min(tile, channels - c), 1, 1, 1, 1, True, True, False),
            kind="average",
            memory=TileMemory(input=Where(stride=channels)),
            at=(b, c),
        )
        for b in range(batch)
        for c in range(0, channels, tile)
    ]


def matmul_tile_grid(
    batch: int,
    dim_i: int,
    dim_j: int,
    dim_k: int,
    memory: GemminiMemory,
    output_stationary: bool = False,
    bias: bool = True,
    entry: LayerMapping | None = None,
    call: str = "tiled_matmul_auto",
    a_stride: int = 0,
    shared_weights: bool = False,
) -> tuple[list[Tile], tuple[int, ...]]:
    """The tiles tiled_matmul_auto runs, i, j, k order (T gemmini.h tiled_matmul_outer
    L790-826), one call for each of `batch` matmuls: LOOP_WS tiles (each a 1x1 conv over a
    row of dim_i pixels) or, output-stationary, sp_tiled_matmul_os calls. With a user's
    `entry`, tiled_matmul's with its tile sizes, in its loop order (D gemmini.h L811-845).
    A's rows are `a_stride` bytes apart in DRAM (default dim_k); with `shared_weights` the
    calls multiply by the same B (tiled_conv_downsample's per-row calls)."""
    dims = (dim_i, dim_j, dim_k)
    if entry is None:
        tiles_ijk = matmul_tiles(
            dim_i, dim_j, dim_k, memory, weight_stationary=not output_stationary
        )
        outer_to_inner: tuple[int, ...] = (0, 1, 2)
    else:
        halves = 1 if output_stationary else 2  # only WS is double-buffered (T L1145-1149)
        budgets = (memory.scratchpad_rows // halves, memory.accumulator_rows // halves)
        tiles_ijk = matmul_sizes(entry, dims, memory.dim, budgets, call, not output_stationary)
        outer_to_inner = entry.outer_to_inner(MATMUL_LETTERS)
    blocks = (-(-size // (tile * memory.dim)) for size, tile in zip(dims, tiles_ijk, strict=True))
    _refuse_too_many_tiles(entry, batch * prod(blocks))
    tile_i, tile_j, tile_k = tiles_ijk
    steps = tuple(t * memory.dim for t in tiles_ijk)
    step_k = steps[2]
    starts = [range(0, size, step) for size, step in zip(dims, steps, strict=True)]

    # (i, j, k) of each tile of a call, in the loop order.
    order = []
    for values in product(*(starts[index] for index in outer_to_inner)):
        at = dict(zip(outer_to_inner, values, strict=True))
        order.append((at[0], at[1], at[2]))

    memory_rows = TileMemory(
        input=Where(stride=a_stride or dim_k),
        weight=Where(stride=dim_j),
        output=Where(stride=dim_j),
    )
    tiles = [
        Tile(
            batches=1,
            orows=1,
            ocols=min(steps[0], dim_i - i),
            ochs=min(steps[1], dim_j - j),
            krows=1,
            kcols=1,
            kchs=min(step_k, dim_k - k),
            stride=1,
            first=k == 0,
            last=k + step_k >= dim_k,
            loop_conv_ws=False,
            kind="matmul_os" if output_stationary else "conv",
            call_start=i == j == k == 0,
            bias=bias,
            memory=memory_rows,
            at=(0 if shared_weights else matmul, matmul, i, j, k),
        )
        for matmul in range(batch)
        for i, j, k in order
    ]
    return tiles, (tile_i, tile_j, tile_k)


# The most tiles a layer may have: a tile list is built whole. A mapping's tiles far below
# the auto tiler's would take minutes and gigabytes for nothing; the library's own tiling
# reaches 299,520 on MobileNetV2's largest layer at batch 256 (42 s and 1.4 GB to lower
# the network), and its limit only stops sizes no machine holds from hanging.
MAX_MAPPED_TILES = 200_000
MAX_TILES = 2_000_000


def _refuse_too_many_tiles(entry: LayerMapping | None, count: int) -> None:
    """Before a layer's tiles are built: `entry` the user's mapping, None the library's
    own tiling."""
    if entry is not None:
        if count > MAX_MAPPED_TILES:
            raise entry.error(
                f"these sizes make {count:,} tiles; accperf lowers at most "
                f"{MAX_MAPPED_TILES:,} tiles a mapped layer; give larger tile sizes"
            )
    elif count > MAX_TILES:
        raise MappingError(
            f"gemmini.h's tiling makes {count:,} tiles of this layer; accperf lowers at most "
            f"{MAX_TILES:,} tiles a layer; give a smaller batch or model size"
        )


def fusable_pool(layer: Layer, following: Layer | None, consumers: Counter[str]) -> bool:
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


OS_CONV_ERROR = (
    'gemmini.h runs convolutions weight-stationary only: tiled_conv exits with "Gemmini '
    'convs do not currently support OS" (gemmini-rocc-tests include/gemmini.h L2216-2218), '
    "so a program like imagenet/resnet50.c run with os stops here; use --param "
    "dataflow=ws, or a model whose layers are matmuls (1x1 convs, fully connected, "
    "attention; e.g. --model bert_base)"
)
OS_CONV_1X1_HINT = (
    "; with --param conv_1x1=conv even a 1x1 conv goes through tiled_conv: use "
    "--param conv_1x1=matmul to run it as tiled_matmul_nn_auto"
)


def compulsory_bytes(layer: Layer, pool: Pool | None, bias: bool) -> int:
    """The DRAM bytes a layer cannot avoid moving: its int8 inputs, weights and output
    (the pooled output where a pool is fused into it) and, with `bias`, a conv's or fully
    connected layer's int32 bias. The roofline's memory side (analyzer/crosscheck/
    baselines.py; docs/accuracy.md, Gemmini)."""
    inputs, weights, outputs = operand_elements(layer)
    if pool is not None:
        outputs = prod(pool.output_shape)
    if isinstance(layer, Conv2d):
        channels = layer.out_channels
    else:
        channels = layer.out_features if isinstance(layer, Dense) else 0
    return INPUT_BYTES * (inputs + weights + outputs) + (ACC_BYTES * channels if bias else 0)


def plan_layer(
    layer: Layer,
    pool: Pool | None,
    memory: GemminiMemory,
    output_stationary: bool = False,
    calls: LibraryCalls = LibraryCalls(),
    entry: LayerMapping | None = None,
) -> Plan | str:
    """The library call that runs `layer` on Gemmini and its tiles, or why none does.
    Output stationary applies to matmuls (tiled_matmul_auto); residual additions stay
    weight-stationary, as imagenet/resnet50.c passes WS to tiled_resadd_auto (L277).
    A user's `entry` (isa/gemmini/mapping.py) sets the tiles, dataflow and loop order of
    the tiled_conv / tiled_matmul call instead of the auto tiler."""
    plan = _plan(layer, pool, memory, output_stationary, calls, entry)
    if not isinstance(plan, str):
        # For the baselines (analyzer/crosscheck/baselines.py): the tensors' sizes and the
        # bytes the roofline's bus moves (in the roofline's DRAM words, bytes here).
        inputs, weights, outputs = operand_elements(layer)
        plan[1].update(
            input_words=inputs,
            weight_words=weights,
            output_words=outputs,
            dram_words=compulsory_bytes(layer, pool, calls.bias),
        )
    if entry is not None:
        if isinstance(plan, str):
            raise entry.error(f"the layer does not run on Gemmini ({plan})")
        tiles, mapping = plan
        if tiles[0].kind not in ("conv", "matmul_os"):
            raise entry.error(
                f"the layer runs as {mapping['library']}; a mapping sets the tiles of "
                "tiled_conv and tiled_matmul calls only"
            )
        mapping["library"] = str(mapping["library"]).replace("_auto", "")
        mapping["tiles_from"] = entry.source
        if entry.loop_order is not None:
            mapping["loop_order"] = entry.loop_order
    return plan


def _plan(
    layer: Layer,
    pool: Pool | None,
    memory: GemminiMemory,
    output_stationary: bool,
    calls: LibraryCalls,
    entry: LayerMapping | None,
) -> Plan | str:
    mapped_dataflow = entry is not None and entry.dataflow is not None
    os_ = entry.dataflow == "os" if mapped_dataflow and entry else output_stationary
    bias = calls.bias
    if isinstance(layer, Conv2d):
        pointwise = (
            layer.kernel_height == layer.kernel_width == 1
            and layer.groups == 1
            and layer.padding == (0, 0, 0, 0)
            and layer.dilation == (1, 1)
            and pool is None
        )
        as_matmul = pointwise and calls.conv_1x1 == "matmul"
        if as_matmul and layer.stride == (1, 1):
            # imagenet/resnet50.c runs its 1x1 convs as matmuls (tiled_matmul_nn_auto, L152).
            rows = layer.batch * layer.out_height * layer.out_width
            call = "tiled_matmul_nn_auto (1x1 conv as a matmul)"
            tiles, sizes = matmul_tile_grid(
                1, rows, layer.out_channels, layer.in_channels, memory, os_, bias, entry, call
            )
            return tiles, _matmul_mapping(call, sizes, os_)
        if as_matmul and layer.stride == (2, 2) and layer.in_height % 2 == 0:
            # tiled_conv_downsample (T gemmini.h L2870-2920): one tiled_matmul_auto per
            # output row, every other input pixel (resnet50.c L619).
            call = "tiled_conv_downsample (a matmul per output row)"
            tiles, sizes = matmul_tile_grid(
                layer.batch * layer.out_height,
                layer.out_width,
                layer.out_channels,
                layer.in_channels,
                memory,
                os_,
                bias,
                entry,
                call,
                a_stride=2 * layer.in_channels,
                shared_weights=True,
            )
            return tiles, _matmul_mapping(call, sizes, os_)
        if os_ and not mapped_dataflow:
            raise MappingError(OS_CONV_ERROR + (OS_CONV_1X1_HINT if pointwise else ""))
        grid = conv_tile_grid(layer, memory, pool, calls, entry)
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
        tiles, sizes = matmul_tile_grid(batch, *dims, memory, os_, bias, entry)
        return tiles, _matmul_mapping("tiled_matmul_auto", sizes, os_)
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
    # An add is of two tensors (ONNX import folds an add of a constant into the layer
    # before), from layers or from the model's inputs (`--layers` turns a dropped
    # producer's output into one).
    if isinstance(layer, Elementwise) and layer.op == "add":
        shape = layer.shape
        if len(shape) == 4:  # NCHW here; Gemmini keeps NHWC: rows of channels
            rows, cols = shape[0] * shape[2] * shape[3], shape[1]
        else:
            rows, cols = prod(shape[:-1]), shape[-1]
        tiles = resadd_tile_grid(rows, cols, memory)
        return tiles, {"library": "tiled_resadd_auto", "tile": f"{tiles[0].ocols}x{tiles[0].ochs}"}
    return ELEMENTWISE_REASON


def _matmul_mapping(
    library: str, sizes: tuple[int, ...], output_stationary: bool
) -> dict[str, int | str]:
    return {
        "library": library + (", OS: sp_tiled_matmul_os" if output_stationary else ""),
        "tile": "x".join(str(v) for v in sizes),
        "tile_fields": "tile_I x tile_J x tile_K (DIM blocks)",
    }


def tile_regions(tile: Tile) -> list[Region]:
    """The DRAM data `tile` moves, in its order (bias, weights, inputs, then outputs), each
    as (operand, which data, bytes): data is named by the tile's start in its call's loops,
    so two tiles touch the same data when they start alike in the loops it depends on (a
    conv's inputs do not depend on the output channel, its weights not on the pixels; the
    overlap of neighbouring tiles' input windows is not counted as shared)."""
    if tile.kind == "resadd":
        size = tile.ocols * tile.ochs
        return [("input", tile.at, size), ("weight", tile.at, size), ("output", tile.at, size)]
    if tile.kind == "average":
        return [("input", tile.at, tile.ocols * tile.ochs)]
    regions: list[Region] = []
    if tile.loop_conv_ws:
        group, b, row, col, och, krow, kcol, kch = tile.at
        if tile.downsample:
            in_rows, in_cols = tile.orows, tile.ocols
        else:
            in_rows = (tile.orows - 1) * tile.stride + tile.krows
            in_cols = (tile.ocols - 1) * tile.stride + tile.kcols
        bias_key, weight_key = (group, och), (group, och, krow, kcol, kch)
        input_key = (group, b, row, col, kch)
        input_bytes = tile.batches * in_rows * in_cols * tile.kchs
        output_key = (group, b, row, col, och)
        output_bytes = tile.batches * tile.porows * tile.pocols * tile.ochs
    else:  # a matmul tile: (the call whose B it reads, its call, i, j, k)
        weights_call, call, i, j, k = tile.at
        bias_key, weight_key = j, (weights_call, k, j)
        input_key, input_bytes = (call, i, k), tile.ocols * tile.kchs
        output_key, output_bytes = (call, i, j), tile.ocols * tile.ochs
    if tile.first and tile.bias:
        regions.append(("bias", bias_key, tile.ochs * 4))
    regions.append(("weight", weight_key, tile.ochs * tile.krows * tile.kcols * tile.kchs))
    regions.append(("input", input_key, input_bytes))
    if tile.last:
        regions.append(("output", output_key, output_bytes))
    return regions


def tag_levels(
    tiles: list[Tile], l2_bytes: int, llc_bytes: int, cache_at_start: str, warm: dict[str, int]
) -> list[Tile]:
    """`tiles` with the level holding each operand (isa/gemmini/hierarchy.py's
    cache_levels); `warm` maps the operands that read the tensor the layer before wrote to
    its bytes."""
    touches = [tile_regions(tile) for tile in tiles]
    levels = cache_levels(touches, l2_bytes, cache_at_start, warm, llc_bytes)
    memories: dict[tuple, TileMemory] = {}  # most tiles of a layer share one
    tagged = []
    for tile, level in zip(tiles, levels, strict=True):
        m = tile.memory
        # Bytes of each DRAM row the tile reads or writes over its commands: a command
        # moves up to 4 DIM-blocks of a row (a residual addition's loads one), the tile's
        # next commands the rest (streams.py).
        input_width = tile.ochs if tile.kind in ("resadd", "average") else tile.kchs
        key = (m, tuple(sorted(level.items())), input_width, tile.ochs)
        if key not in memories:
            memories[key] = TileMemory(
                *(
                    replace(where, level=level.get(operand, where.level), row_width=width)
                    for operand, where, width in (
                        ("input", m.input, input_width),
                        ("weight", m.weight, tile.ochs),
                        ("bias", m.bias, 0),
                        ("output", m.output, tile.ochs),
                    )
                )
            )
        tagged.append(replace(tile, memory=memories[key]))
    return tagged
