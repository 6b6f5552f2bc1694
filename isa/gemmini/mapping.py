"""A user's mapping: per layer, the tile sizes, dataflow and tile-loop order that gemmini.h's
tiled_conv / tiled_matmul take when a program calls them with its own tiles instead of
tiled_conv_auto / tiled_matmul_auto (`lower --mapping FILE`; docs/gemmini/tiling.md has the
format and an example).

T = ucb-bar/gemmini-rocc-tests @180c468 include/gemmini.h (the calls and their checks);
D = the same repository's `dosa` branch @959b23f include/gemmini.h, whose tiled_conv and
tiled_matmul also take the order of the tile loops as a string `perm`: a permutation of
the letters N Q P K S R C (batch, pooled output rows, pooled output columns, output
channels, kernel rows, kernel columns, input channels; for a matmul P is I, K is J and C
is K), the earlier a letter the inner its loop (D L2354-2371, L811-824).

Reading is in two steps: `read_mapping` checks the file's form (fields, types, loop
orders) without a model; `resolve` then checks each entry against its layer and the
memories (the call the layer runs, sizes within the layer, the tile fits), all before
anything is lowered.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from accelerators.description import did_you_mean
from tracer.errors import MappingError

# gemmini.h's letters for the seven tile loops, in tiled_conv's own loop order, outermost
# first (T L2320-2336; D L2353 idx_to_dim).
CONV_LETTERS = "NQPKSRC"
CONV_FIELDS = ("batches", "porows", "pocols", "pochs", "krows", "kcols", "kchs")
# tiled_conv_dw (T L2455-2470; D L2530-2546 takes no perm): one channel at a time.
DEPTHWISE_FIELDS = ("batches", "porows", "pocols", "krows", "kcols")
MATMUL_FIELDS = ("tile_I", "tile_J", "tile_K")
# The matmul loops i0, j0, k0 are the letters P, K, C of the same string (D L843-845).
MATMUL_LETTERS = "PKC"
OTHER_FIELDS = ("dataflow", "loop_order")
DATAFLOWS = ("ws", "os")
# The orders the auto calls pass (D L2898 "CRSKPQN", L1399 "CKPQRSN"): gemmini.h's own
# loops, the input channels (k) innermost.
DEFAULT_CONV_ORDER = "CRSKPQN"
DEFAULT_MATMUL_ORDER = "CKPQRSN"


@dataclass(frozen=True)
class LayerMapping:
    """One layer's entry: `tiles` maps gemmini.h's argument names to sizes (conv fields in
    elements, tile_I/J/K in DIM blocks); `dataflow` None keeps the description's;
    `loop_order` None keeps gemmini.h's order, otherwise as given (perm, earlier is inner)."""

    source: str  # the mapping's file, named in errors
    layer: str
    tiles: tuple[tuple[str, int], ...]
    dataflow: str | None = None
    loop_order: str | None = None

    def error(self, what: str) -> MappingError:
        return MappingError(f"{self.source}: layer {self.layer!r}: {what}")

    @property
    def sizes(self) -> dict[str, int]:
        return dict(self.tiles)

    def is_matmul(self) -> bool:
        return any(name in MATMUL_FIELDS for name, _ in self.tiles)

    def outer_to_inner(self, letters: str) -> tuple[int, ...]:
        """Indices into `letters` (gemmini.h's own order) of the tile loops, outermost
        first: the loop order read backwards, letters not in `letters` dropped."""
        order = self.loop_order or (
            DEFAULT_MATMUL_ORDER if letters == MATMUL_LETTERS else DEFAULT_CONV_ORDER
        )
        return tuple(letters.index(c) for c in reversed(order) if c in letters)


@dataclass(frozen=True)
class GemminiMapping:
    """A mapping file read and checked for form: its entries by layer name."""

    source: str  # what error messages call it: the file's path, or "mapping" for a dict
    layers: dict[str, LayerMapping]

    def only(self, names: list[str]) -> GemminiMapping:
        """The entries of the layers `names` (a model's chosen layers)."""
        return GemminiMapping(self.source, {k: v for k, v in self.layers.items() if k in names})

    def check_layer_names(self, names: list[str]) -> None:
        """Refuse an entry naming no layer of the model."""
        for name in self.layers:
            if name not in names:
                sample = ", ".join(names[:6])
                raise MappingError(
                    f"{self.source}: layer {name!r} is not in the model"
                    f"{did_you_mean(name, names)} (its layers: {sample}, ...)"
                )


def read_mapping(data: object, source: str) -> GemminiMapping:
    """`data` (a parsed JSON or TOML document, or a dict given to the API) as a mapping:
    {"layers": {name: {field: value}}}; refused in one line naming `source`, the layer and
    the field."""
    if not isinstance(data, Mapping):
        raise MappingError(f"{source}: a mapping is a table with a 'layers' table in it")
    unknown = [key for key in data if key != "layers"]
    if unknown:
        raise MappingError(
            f"{source}: unknown key {unknown[0]!r}{did_you_mean(str(unknown[0]), ['layers'])}; "
            'a mapping holds one table, "layers", of layer names'
        )
    layers = data.get("layers")
    if not isinstance(layers, Mapping) or not layers:
        raise MappingError(
            f"{source}: no layers: give a 'layers' table with a table per layer name "
            '(TOML: [layers."layer1.0.conv1"])'
        )
    return GemminiMapping(
        source, {str(name): _entry(source, str(name), fields) for name, fields in layers.items()}
    )


def _entry(source: str, layer: str, fields: object) -> LayerMapping:
    where = f"{source}: layer {layer!r}"
    if not isinstance(fields, Mapping):
        raise MappingError(f"{where}: give a table of fields (tile sizes, dataflow, loop_order)")
    known = (*CONV_FIELDS, *MATMUL_FIELDS, *OTHER_FIELDS)
    for name in fields:
        if name not in known:
            raise MappingError(
                f"{where}: unknown field {name!r}{did_you_mean(str(name), known)}; a conv "
                f"takes {', '.join(CONV_FIELDS)}, a matmul {', '.join(MATMUL_FIELDS)}, both "
                "dataflow and loop_order"
            )
    conv = [name for name in CONV_FIELDS if name in fields]
    matmul = [name for name in MATMUL_FIELDS if name in fields]
    if conv and matmul:
        raise MappingError(
            f"{where}: {conv[0]} (a tiled_conv size) and {matmul[0]} (a tiled_matmul size) "
            "together; a layer runs one call: give the sizes of its call"
        )
    if not conv and not matmul:
        raise MappingError(
            f"{where}: no tile sizes; give {', '.join(CONV_FIELDS)} for a conv or "
            f"{', '.join(MATMUL_FIELDS)} for a matmul"
        )
    tiles = []
    for name in conv or matmul:
        value = fields[name]
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise MappingError(f"{where}: {name} = {value!r}: give a positive integer")
        tiles.append((name, value))
    dataflow = fields.get("dataflow")
    if dataflow is not None and dataflow not in DATAFLOWS:
        raise MappingError(f"{where}: dataflow = {dataflow!r}: give ws or os")
    loop_order = fields.get("loop_order")
    if loop_order is not None:
        _check_loop_order(where, loop_order, bool(matmul))
    return LayerMapping(source, layer, tuple(tiles), dataflow, loop_order)


def _check_loop_order(where: str, order: object, matmul: bool) -> None:
    """gemmini.h's perm: every letter of N Q P K S R C once (a matmul may give only P K C,
    its only loops with more than one trip, D L813)."""
    allowed = (CONV_LETTERS, MATMUL_LETTERS) if matmul else (CONV_LETTERS,)
    if isinstance(order, str) and any(sorted(order) == sorted(a) for a in allowed):
        return
    meaning = (
        "N batch, Q pooled output rows, P pooled output columns, K output channels, S kernel "
        "rows, R kernel columns, C input channels"
    )
    if matmul:
        meaning = "P the I tiles, K the J tiles, C the K tiles (N, Q, S, R one trip each)"
    shape = "a permutation of NQPKSRC" + (" or of PKC" if matmul else "")
    raise MappingError(
        f"{where}: loop_order = {order!r} is not {shape}, as the dosa branch of gemmini.h "
        f"takes it (earlier is inner; {meaning}), e.g. "
        f"{DEFAULT_MATMUL_ORDER if matmul else DEFAULT_CONV_ORDER!r} for gemmini.h's own order"
    )


def conv_sizes(
    entry: LayerMapping,
    limits: tuple[int, ...],
    depthwise: bool,
    rows_of: Callable[[tuple[int, ...]], tuple[int, int]],
    budgets: tuple[int, int],
) -> tuple[int, ...]:
    """The entry's tiled_conv (or tiled_conv_dw) sizes in CONV_FIELDS order, checked
    against the layer's `limits` (same order) and the halves of scratchpad and accumulator
    a tile gets, as tiled_conv's assertions check them (T L2246-2261, L2512-2527):
    `rows_of(sizes)` = (scratchpad rows, accumulator rows)."""
    call = "tiled_conv_dw (a depthwise conv)" if depthwise else "tiled_conv"
    if entry.is_matmul():
        raise entry.error(f"the layer runs through {call}: give {', '.join(_fields(depthwise))}")
    sizes = entry.sizes
    fields = _fields(depthwise)
    extra = [name for name in sizes if name not in fields]
    if extra:
        raise entry.error(
            f"{extra[0]}: {call} takes {', '.join(fields)} (one channel at a time; "
            "T gemmini.h L2455-2470)",
        )
    missing = [name for name in fields if name not in sizes]
    if missing:
        raise entry.error(f"{call} needs {', '.join(missing)} too")
    if depthwise and entry.loop_order is not None:
        raise entry.error(
            "tiled_conv_dw takes no loop order (the dosa branch's takes no perm, D L2530)"
        )
    if entry.dataflow == "os":
        raise entry.error(
            'dataflow = "os": gemmini.h runs convolutions weight-stationary only (tiled_conv '
            'exits with "Gemmini convs do not currently support OS", T L2216-2218); give ws',
        )
    values = tuple(sizes.get(name, 1) for name in CONV_FIELDS)
    for name, value, limit in zip(CONV_FIELDS, values, limits, strict=True):
        if value > limit:
            raise entry.error(
                f"{name} = {value} is more than the layer's {limit}; give at most {limit}"
            )
    spad, acc = rows_of(values)
    _refuse_unfit(entry, spad, acc, budgets, True)
    return values


def matmul_sizes(
    entry: LayerMapping,
    dims: tuple[int, int, int],
    dim: int,
    budgets: tuple[int, int],
    call: str,
    double_buffered: bool,
) -> tuple[int, int, int]:
    """The entry's (tile_I, tile_J, tile_K) in DIM blocks, checked as tiled_matmul checks
    them (T L1117-1166): positive, at most the padded dimension, A and B within the
    scratchpad and C within the accumulator `budgets` (halves when double-buffered: WS)."""
    if not entry.is_matmul():
        raise entry.error(f"the layer runs as {call}: give {', '.join(MATMUL_FIELDS)} (DIM blocks)")
    sizes = entry.sizes
    missing = [name for name in MATMUL_FIELDS if name not in sizes]
    if missing:
        raise entry.error(f"tiled_matmul needs {', '.join(missing)} too")
    tiles = tuple(sizes[name] for name in MATMUL_FIELDS)
    for name, tile, size in zip(MATMUL_FIELDS, tiles, dims, strict=True):
        blocks = -(-size // dim)
        if tile > blocks:
            raise entry.error(
                f"{name} = {tile} blocks of DIM={dim} is more than the layer's "
                f"{name[-1]} = {size} ({blocks} blocks); give at most {blocks} (T L1134-1142)",
            )
    tile_i, tile_j, tile_k = tiles
    spad = (tile_i * tile_k + tile_k * tile_j) * dim
    acc = tile_i * tile_j * dim
    _refuse_unfit(entry, spad, acc, budgets, double_buffered)
    return tile_i, tile_j, tile_k


def _fields(depthwise: bool) -> tuple[str, ...]:
    return DEPTHWISE_FIELDS if depthwise else CONV_FIELDS


def _refuse_unfit(
    entry: LayerMapping,
    spad: int,
    acc: int,
    budgets: tuple[int, int],
    double_buffered: bool,
) -> None:
    max_spad, max_acc = budgets
    if spad <= max_spad and acc <= max_acc:
        return
    shown = " ".join(f"{name}={value}" for name, value in entry.tiles)
    share = "half of each (double-buffered)" if double_buffered else "all of each"
    raise entry.error(
        f"the tile {shown} needs {spad} scratchpad and {acc} accumulator rows, but a tile "
        f"gets {share}: {max_spad} / {max_acc} rows; give smaller sizes"
    )
