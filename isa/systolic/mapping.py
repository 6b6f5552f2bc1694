"""Conv/dense-to-GEMM mapping onto a systolic array, per dataflow, as SCALE-Sim defines it.

Conventions verified against SCALE-Sim 3.0.0 (package `scalesim`):

* `compute/operand_matrix.py`, `operand_matrix.set_params` / `create_ifmap_matrix`: the ifmap
  operand is an (ofmap_px x window) matrix and the filter operand a (window x filters) matrix,
  where window = filter_h * filter_w * channels and ofmap_px = ofmap_h * ofmap_w * batch_size.
* `compute/systolic_compute_ws.py`, `systolic_compute_ws.set_params`:
  Sr = ifmap cols (window), Sc = filter cols (filters), T = ifmap rows (ofmap_px).
* `compute/systolic_compute_os.py`, `systolic_compute_os.set_params`:
  Sr = ifmap rows (ofmap_px), Sc = filter cols (filters), T = ifmap cols (window).
* `compute/systolic_compute_is.py`, `systolic_compute_is.set_params`:
  Sr = ifmap cols (window), Sc = ifmap rows (ofmap_px), T = filter cols (filters).
* All three fold the same way: row_fold = ceil(Sr / arr_row), col_fold = ceil(Sc / arr_col).
* `topology_utils.py`, `topologies.calc_spatio_temporal_params` states the same table directly
  from the topology, and `get_spatiotemporal_dims(layer_id, df)` returns it.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from math import gcd
from typing import TypedDict

from isa.arithmetic import ceil_div
from tracer.errors import MappingError
from tracer.workloads.layers import GEMM_LAYERS, Conv2d, Dense, Layer, MatMul

DATAFLOWS = ("ws", "os", "is")


@dataclass(frozen=True)
class GemmShape:
    """A layer's GEMM as laid out on a systolic array for one dataflow.

    `spatial_rows` (SCALE-Sim's Sr) is spread over the array's rows, `spatial_cols` (Sc) over
    its columns, and `temporal` (T) is streamed through it in time. `repeats` is how many
    independent identical GEMMs of this shape the layer needs (its conv `groups`).
    """

    spatial_rows: int
    spatial_cols: int
    temporal: int
    repeats: int

    def folds(self, rows: int, cols: int) -> int:
        """Number of array-sized tiles (folds) on a rows x cols array, over all repeats."""
        for label, value in (("rows", rows), ("cols", cols)):
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise MappingError(
                    f"systolic array {label} must be a positive integer, got {value!r}"
                )
        return self.repeats * ceil_div(self.spatial_rows, rows) * ceil_div(self.spatial_cols, cols)


def dram_words(shape: GemmShape, rows: int, cols: int, dataflow: str) -> int:
    """DRAM words a layer moves under its mapping when nothing is reused across folds.

    Each fold loads its stationary tile once, streams its moving operands through the
    array and writes its outputs (partial sums included) once, as SCALE-Sim's operand
    matrices lay a fold out (compute/systolic_compute_{ws,os,is}.py). For ws and is the
    stationary Sr x Sc operand is read once overall, the streamed T x Sr operand once per
    column fold and the T x Sc outputs once per row fold; for os the two streams (Sr x T
    per column fold, Sc x T per row fold) are read and the Sr x Sc outputs written once.
    This is the roofline baseline's traffic, not the timing model's.
    """
    sr, sc, t = shape.spatial_rows, shape.spatial_cols, shape.temporal
    row_folds, col_folds = ceil_div(sr, rows), ceil_div(sc, cols)
    if dataflow == "os":
        per_gemm = sr * t * col_folds + sc * t * row_folds + sr * sc
    else:
        per_gemm = sr * sc + t * sr * col_folds + t * sc * row_folds
    return shape.repeats * per_gemm


def reached_positions(out: int, kernel: int, stride: int, dilation: int) -> int:
    """How many distinct input positions o * stride + k * dilation (0 <= o < out,
    0 <= k < kernel) a conv's windows reach along one axis, counted without listing them
    (a hand-written topology may give sizes no set could hold).

    With g = gcd(stride, dilation), s = stride / g and d = dilation / g coprime, the
    positions of taps k = r, r + s, r + 2s, ... are r * d plus s times the union of the
    intervals [j * d, j * d + out), one per tap: (taps - 1) * min(d, out) + out of them;
    different residues r = k mod s give disjoint positions (r * d mod s differ)."""
    if out <= 0 or kernel <= 0:
        return 0
    g = gcd(stride, dilation)
    s, d = stride // g, dilation // g

    def union(taps: int) -> int:
        return 0 if taps == 0 else (taps - 1) * min(d, out) + out

    full, rest = divmod(kernel, s)  # residues below `rest` have one tap more
    return rest * union(full + 1) + (min(s, kernel) - rest) * union(full)


def distinct_input_words(layer: Layer) -> int:
    """Input elements one of the layer's GEMMs reads at least once (per conv group or
    matmul product): a conv's windows reach only some rows and columns of the input where
    the stride exceeds the kernel's reach (a 1x1 conv of stride 2 reads a quarter)."""
    if isinstance(layer, Conv2d):
        (stride_h, stride_w), (dilation_h, dilation_w) = layer.stride, layer.dilation
        rows = reached_positions(layer.out_height, layer.kernel_height, stride_h, dilation_h)
        cols = reached_positions(layer.out_width, layer.kernel_width, stride_w, dilation_w)
        return layer.batch * rows * cols * (layer.in_channels // layer.groups)
    dims = _gemm_dims(layer)
    return dims.ofmap_px * dims.window  # a dense layer's or a product's rows, each once


@dataclass(frozen=True)
class _GemmDims:
    window: int
    filters: int
    ofmap_px: int
    repeats: int


def _gemm_dims(layer: Layer) -> _GemmDims:
    if isinstance(layer, Conv2d):
        # SCALE-Sim has no grouped convolution (its only special case, a 'DP' in the layer name,
        # splits a layer per channel in topologies.load_arrays_conv), so a grouped conv is
        # `groups` independent GEMMs, each seeing in/groups channels and out/groups filters.
        return _GemmDims(
            window=layer.kernel_height * layer.kernel_width * (layer.in_channels // layer.groups),
            filters=layer.out_channels // layer.groups,
            # SCALE-Sim sizes the ifmap operand as ofmap_px_per_filt * batch_size rows
            # (operand_matrix.set_params), so batch extends the ofmap-pixel dimension.
            ofmap_px=layer.batch * layer.out_height * layer.out_width,
            repeats=layer.groups,
        )
    if isinstance(layer, Dense):
        # A dense layer is a 1x1 conv over `rows` pixels with in_features channels.
        return _GemmDims(
            window=layer.in_features,
            filters=layer.out_features,
            ofmap_px=layer.rows,
            repeats=1,
        )
    if isinstance(layer, MatMul):
        # Each of the `batch` products is a dense layer of m rows whose "weight" (k x n) is
        # the second computed operand; the products share nothing, like conv groups.
        return _GemmDims(window=layer.k, filters=layer.n, ofmap_px=layer.m, repeats=layer.batch)
    raise TypeError(f"cannot map {type(layer).__name__}; expected one of {_GEMM_NAMES}")


_GEMM_NAMES = ", ".join(kind.__name__ for kind in GEMM_LAYERS)


def is_gemm(layer: Layer) -> bool:
    """Whether a systolic array runs `layer` (as a GEMM); pooling and element-wise do not."""
    return isinstance(layer, GEMM_LAYERS)


def gemm_shape(layer: Layer, dataflow: str) -> GemmShape:
    """The (Sr, Sc, T) GEMM of `layer` under `dataflow` ("ws", "os" or "is")."""
    if dataflow not in DATAFLOWS:
        raise MappingError(
            f"unknown dataflow {dataflow!r}; expected one of: {', '.join(DATAFLOWS)}"
        )
    dims = _gemm_dims(layer)
    if dataflow == "ws":
        sr, sc, t = dims.window, dims.filters, dims.ofmap_px
    elif dataflow == "os":
        sr, sc, t = dims.ofmap_px, dims.filters, dims.window
    else:
        sr, sc, t = dims.window, dims.ofmap_px, dims.filters
    return GemmShape(spatial_rows=sr, spatial_cols=sc, temporal=t, repeats=dims.repeats)


class ScaleSimTopologyRow(TypedDict):
    """One row of a SCALE-Sim conv topology CSV (its columns, in order)."""

    name: str
    ifmap_h: int
    ifmap_w: int
    filter_h: int
    filter_w: int
    channels: int
    num_filters: int
    stride: int


def _check_topology_name(name: str) -> None:
    # topologies.load_arrays_conv splits rows on ',' and treats any name containing 'DP' as a
    # depthwise layer it expands per channel; either would silently change the layer.
    if "," in name or "\n" in name or "\r" in name:
        raise MappingError(
            f"layer {name!r}: SCALE-Sim topology files are CSV; rename the layer so it has "
            "no comma or line break"
        )
    if "DP" in name:
        raise MappingError(
            f"layer {name!r}: SCALE-Sim treats a layer whose name contains 'DP' as depthwise; "
            "rename the layer"
        )


def scalesim_topology_row(layer: Layer) -> ScaleSimTopologyRow:
    """SCALE-Sim conv-topology fields that reproduce `layer`'s GEMM.

    SCALE-Sim has no padding, so the ifmap is the zero-padded input. It is also cropped to the
    rows/cols the kernel windows actually reach, (out - 1) * stride + kernel: SCALE-Sim computes
    ofmap = ceil((ifmap - filter + stride) / stride) (topologies.topo_calc_hyperparams), which
    rounds up where PyTorch rounds down, so feeding it the full padded size would invent an
    extra, partly out-of-bounds output row and column whenever (padded - kernel) % stride != 0
    (e.g. ResNet-50's conv1: 230 -> 113 instead of 112). The crop drops only never-read padding.
    """
    _check_topology_name(layer.name)
    if isinstance(layer, Conv2d):
        if layer.batch != 1:
            # operand_matrix.set_params hard-codes batch_size = 1 ("TODO: Add an option for
            # batching") and the topology file has no batch column.
            raise MappingError(
                f"layer {layer.name!r}: batch={layer.batch}, but SCALE-Sim's topology cannot "
                "express a batch; use batch 1"
            )
        if layer.groups != 1:
            raise MappingError(
                f"layer {layer.name!r}: groups={layer.groups}, but SCALE-Sim's topology cannot "
                "express grouped convolutions"
            )
        if layer.dilation != (1, 1):
            raise MappingError(
                f"layer {layer.name!r}: dilation={layer.dilation}, but SCALE-Sim's topology "
                "cannot express dilated convolutions"
            )
        stride_h, stride_w = layer.stride  # type: ignore[misc]
        # One Strides column serves both axes; an axis with a single output never strides.
        if layer.out_height == 1:
            stride_h = stride_w
        if layer.out_width == 1:
            stride_w = stride_h
        if stride_h != stride_w:
            raise MappingError(
                f"layer {layer.name!r}: stride={layer.stride}, but SCALE-Sim's topology has one "
                "stride for both axes"
            )
        return {
            "name": layer.name,
            "ifmap_h": (layer.out_height - 1) * stride_h + layer.kernel_height,
            "ifmap_w": (layer.out_width - 1) * stride_w + layer.kernel_width,
            "filter_h": layer.kernel_height,
            "filter_w": layer.kernel_width,
            "channels": layer.in_channels,
            "num_filters": layer.out_channels,
            "stride": stride_h,
        }
    if isinstance(layer, MatMul):
        if layer.batch != 1:
            raise MappingError(
                f"layer {layer.name!r}: a batch of {layer.batch} matmuls, but a SCALE-Sim "
                "topology row is one GEMM; give one row per product"
            )
        layer = Dense(layer.name, layer.k, layer.n, rows=layer.m)
    if isinstance(layer, Dense):
        # The same row SCALE-Sim itself builds for an M,N,K GEMM (topologies.load_arrays_gemm):
        # ifmap M x K, filter 1 x K, 1 channel, N filters, stride 1, giving ofmap_px = M,
        # window = K, filters = N. Batch is already in `rows`, so any batch is expressible.
        return {
            "name": layer.name,
            "ifmap_h": layer.rows,
            "ifmap_w": layer.in_features,
            "filter_h": 1,
            "filter_w": layer.in_features,
            "channels": 1,
            "num_filters": layer.out_features,
            "stride": 1,
        }
    raise TypeError(f"cannot map {type(layer).__name__}; expected one of {_GEMM_NAMES}")


IM2COL_FIELDS = (
    "in_height",
    "in_width",
    "channels",
    "kernel_height",
    "kernel_width",
    "stride_height",
    "stride_width",
    "dilation_height",
    "dilation_width",
    "out_height",
    "out_width",
    "images",
)


def im2col_geometry(layer: Layer) -> dict[str, int]:
    """Where a conv's im2col ifmap reads its input, per group: the input cropped to the rows
    and columns the windows reach (as scalesim_topology_row sends it), kernel, stride,
    dilation, output size and images. Empty for a dense layer or matmul, whose ifmap
    addresses never repeat. The memory side (isa/systolic/memory_side.py) needs it because an
    SRAM holding one copy of a repeated address serves every demand for it."""
    if not isinstance(layer, Conv2d):
        return {}
    (stride_h, stride_w), (dilation_h, dilation_w) = layer.stride, layer.dilation
    values = (
        (layer.out_height - 1) * stride_h + (layer.kernel_height - 1) * dilation_h + 1,
        (layer.out_width - 1) * stride_w + (layer.kernel_width - 1) * dilation_w + 1,
        layer.in_channels // layer.groups,
        layer.kernel_height,
        layer.kernel_width,
        stride_h,
        stride_w,
        dilation_h,
        dilation_w,
        layer.out_height,
        layer.out_width,
        layer.batch,
    )
    return {f"im2col_{name}": value for name, value in zip(IM2COL_FIELDS, values, strict=True)}


def scalesim_rows(layer: Layer) -> list[ScaleSimTopologyRow]:
    """The SCALE-Sim topology rows whose cycles add up to `layer`'s: one per conv group or
    matmul product (SCALE-Sim has neither). Names are only labels here, so any 'DP' or comma
    in the layer's name is defused rather than refused."""
    label = layer.name.replace("DP", "Dp").replace(",", ";").replace("\n", " ")
    if isinstance(layer, Conv2d) and layer.groups > 1:
        group = replace(
            layer,
            in_channels=layer.in_channels // layer.groups,
            out_channels=layer.out_channels // layer.groups,
            groups=1,
        )
        return [
            scalesim_topology_row(replace(group, name=f"{label}.{index}"))
            for index in range(layer.groups)
        ]
    if isinstance(layer, MatMul) and layer.batch > 1:
        product = Dense(label, layer.k, layer.n, rows=layer.m)
        return [
            scalesim_topology_row(replace(product, name=f"{label}.{index}"))
            for index in range(layer.batch)
        ]
    return [scalesim_topology_row(replace(layer, name=label))]
