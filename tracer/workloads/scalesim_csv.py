"""Import SCALE-Sim topology CSV files, both of its formats, as SCALE-Sim 3.0.0 reads them.

Followed: scalesim/topology_utils.py, `topologies.load_arrays_conv` and `load_arrays_gemm`.
  conv:  Layer name, IFMAP Height, IFMAP Width, Filter Height, Filter Width, Channels,
         Num Filter, Strides[, sparsity N:M]
  gemm:  Layer, M, N, K[, sparsity N:M]   (an M x K input times a K x N weight)
The first line is a header. SCALE-Sim skips the first line whatever it holds, so a file
without a header loses its first layer there; we refuse such a file instead (a first line
whose size columns are all integers is a layer row, not a header). SCALE-Sim drops each
row's last field (its files end rows with a comma); we accept rows with or without that
trailing comma.

A conv row whose name contains 'DP' (case-sensitive, anywhere in the name) is depthwise:
`load_arrays_conv` replaces it by one layer per channel, each with Channels = 1 and the
row's Num Filter filters. So Num Filter counts filters per channel (a depth multiplier)
and the row is a conv with groups = Channels and Channels x Num Filter output channels.
A DP row with Num Filter > 1 is read that way too, and the model's notes say so, since
"Num Filter 128" on a 128-channel DP row means 16,384 output channels there.

The ifmap is taken as given (SCALE-Sim has no padding) and the output size is SCALE-Sim's
ceil((ifmap - filter + stride) / stride): where that rounds up, its last window reaches
past the ifmap, which we express as padding at the bottom/right, so the layer keeps
SCALE-Sim's output size and MAC count.
"""

from __future__ import annotations

import csv
from pathlib import Path

from tracer.errors import WorkloadError
from tracer.workloads.layers import DEPTHWISE_NOTE, Conv2d, Dense, Layer, Model

CONV_COLUMNS = (
    "Layer name",
    "IFMAP Height",
    "IFMAP Width",
    "Filter Height",
    "Filter Width",
    "Channels",
    "Num Filter",
    "Strides",
)
GEMM_COLUMNS = ("Layer", "M", "N", "K")


def _fields(row: list[str]) -> list[str]:
    fields = [field.strip() for field in row]
    if fields and fields[-1] == "":
        fields.pop()  # the trailing comma SCALE-Sim's files carry
    return fields


def _is_gemm_header(header: list[str]) -> bool:
    return [cell.upper() for cell in header[1:4]] == ["M", "N", "K"]


def _is_integer(cell: str) -> bool:
    try:
        int(cell)
    except ValueError:
        return False
    return True


def _is_layer_row(fields: list[str]) -> bool:
    """A row whose size columns (at least GEMM's M, N, K) are all integers is a layer row;
    a header names its columns."""
    sizes = fields[1:8]
    return len(sizes) >= len(GEMM_COLUMNS) - 1 and all(_is_integer(cell) for cell in sizes)


def _is_depthwise(name: str) -> bool:
    return "DP" in name  # topologies.load_arrays_conv: `if 'DP' in elems[0].strip()`


def import_topology(path: Path, batch: int = 1) -> Model:
    """Read a SCALE-Sim topology; every defect is one WorkloadError naming file and line."""
    try:
        text = path.read_text()
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else "not a text file"
        raise WorkloadError(f"{path}: cannot be read ({reason})") from None
    try:
        rows = [
            (number, _fields(row)) for number, row in enumerate(csv.reader(text.splitlines()), 1)
        ]
    except csv.Error as exc:
        raise WorkloadError(f"{path}: not a readable CSV file ({exc})") from None
    rows = [(number, fields) for number, fields in rows if any(fields)]
    if not rows:
        raise WorkloadError(
            f"{path}: empty; a SCALE-Sim topology has a header and one row per layer"
        )
    header = rows[0][1]
    if _is_layer_row(header):
        raise WorkloadError(
            f"{path}:{rows[0][0]}: the first line is layer {header[0]!r}, not the header; "
            "SCALE-Sim skips a topology's first line whatever it holds, so it would lose "
            f"this layer. Add the header line ({', '.join(CONV_COLUMNS)} for convolutions; "
            f"{', '.join(GEMM_COLUMNS)} for GEMMs)"
        )
    gemm = _is_gemm_header(header)
    columns = GEMM_COLUMNS if gemm else CONV_COLUMNS
    if not gemm and len(header) < len(CONV_COLUMNS):
        raise WorkloadError(
            f"{path}:1: header has {len(header)} columns; a SCALE-Sim conv topology has "
            f"{', '.join(CONV_COLUMNS)} and a GEMM topology has {', '.join(GEMM_COLUMNS)}"
        )
    if gemm and batch != 1:
        raise WorkloadError(
            f"{path}: --batch {batch}, but a GEMM topology has no batch dimension; fold it into M"
        )
    layers: list[Layer] = []
    multiplied: list[str] = []  # DP rows with more than one filter per channel
    names: set[str] = set()
    for number, fields in rows[1:]:
        where = f"{path}:{number}"
        if len(fields) < len(columns):
            missing = ", ".join(columns[len(fields) :])
            raise WorkloadError(f"{where}: {len(fields)} fields; missing {missing}")
        if len(fields) > len(columns) + 1:
            raise WorkloadError(
                f"{where}: {len(fields)} fields; expected {', '.join(columns)} and an optional "
                "sparsity N:M"
            )
        name = fields[0]
        if not name or name in names:
            raise WorkloadError(f"{where}: layer name {name!r} is empty or used twice")
        names.add(name)
        if len(fields) == len(columns) + 1 and fields[-1] not in ("1:1", ""):
            raise WorkloadError(
                f"{where}: sparsity {fields[-1]!r}; only dense layers (1:1) are modelled"
            )
        values = []
        for column, raw in zip(columns[1:], fields[1 : len(columns)], strict=True):
            try:
                value = int(raw)
            except ValueError:
                raise WorkloadError(f"{where}: {column} {raw!r} is not an integer") from None
            if value < 1:
                raise WorkloadError(f"{where}: {column} is {value}; sizes must be positive")
            values.append(value)
        try:
            layers.append(_layer(name, values, gemm, batch))
        except WorkloadError as exc:
            raise WorkloadError(f"{where}: {exc}") from None
        if not gemm and _is_depthwise(name) and values[5] > 1:
            channels, filters = values[4], values[5]
            multiplied.append(f"{name} {channels} x {filters} = {channels * filters:,}")
    if not layers:
        raise WorkloadError(f"{path}: a header but no layers")
    notes = ()
    if multiplied:
        notes = (
            f"{DEPTHWISE_NOTE}: Num Filter counts filters per channel (SCALE-Sim runs "
            "one single-channel layer per channel), so output channels are Channels x "
            f"Num Filter: {'; '.join(multiplied)}. A depthwise conv with one filter per "
            "channel has Num Filter 1",
        )
    return Model(path.stem, tuple(layers), notes=notes)


def _layer(name: str, values: list[int], gemm: bool, batch: int) -> Layer:
    if gemm:
        m, n, k = values
        return Dense(name, in_features=k, out_features=n, rows=m)
    height, width, filter_h, filter_w, channels, filters, stride = values
    for axis, size, kernel in (("height", height, filter_h), ("width", width, filter_w)):
        if kernel > size:
            raise WorkloadError(f"filter {axis} {kernel} exceeds the IFMAP {axis} {size}")
    # topologies.topo_calc_hyperparams: ofmap = ceil((ifmap - filter + stride) / stride).
    out_h = -(-(height - filter_h + stride) // stride)
    out_w = -(-(width - filter_w + stride) // stride)
    depthwise = _is_depthwise(name)
    return Conv2d(
        name,
        in_channels=channels,
        out_channels=channels * filters if depthwise else filters,
        in_height=height,
        in_width=width,
        kernel_height=filter_h,
        kernel_width=filter_w,
        stride=(stride, stride),
        padding=(
            0,
            0,
            (out_h - 1) * stride + filter_h - height,
            (out_w - 1) * stride + filter_w - width,
        ),
        groups=channels if depthwise else 1,
        batch=batch,
    )
