"""The systolic array's ISA: PE-level instructions and the lowering of a mapped GEMM.

Each PE (r, c) is one instance of unit `pe`, index r*C + c. It owns three registers:
`h` (the operand moving right), `v` (the operand moving down) and `s` (the stationary
one). The left edge reads the `west` SRAM port of its row, the top edge the `north`
port of its column; outputs are captured by `drain` instructions into `out`.

Which tensor travels where depends on the dataflow, as in SCALE-Sim's
compute/systolic_compute_{ws,os,is}.py:
  ws: weights stationary (preloaded down the columns), inputs move right, psums down;
  is: inputs stationary, weights move right, psums down (same instruction shape as ws);
  os: outputs stationary (accumulated in `s`), inputs move right, weights move down.

Nothing here encodes a cycle count. A fold is: a `fold_sync` that waits for the previous
fold's outputs, R preload steps (ws/is), T streaming steps, and the drain (per step at the
bottom row for ws/is, once per fold for os). The wavefront, fill and drain times follow
from the dependency rules in the analyzer.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from accelerators.description import Accelerator
from isa.family import program_of
from isa.program import (
    MAC_ACTION,
    BlockRef,
    BlockTable,
    Datapath,
    HostLayer,
    LayerProgram,
    Loop,
    Memory,
    Operand,
    Program,
    Template,
    memory_action,
)
from isa.systolic.mapping import (
    distinct_input_words,
    dram_words,
    gemm_shape,
    im2col_geometry,
    is_gemm,
)
from tracer.errors import DescriptionError
from tracer.workloads.layers import Model, gemm_operands, operations

# SCALE-Sim's array, which this description follows, has no vector unit: pooling and
# element-wise layers run elsewhere and SCALE-Sim does not time them either.
HOST_REASON = "on the host: the array has no vector unit; not timed"

# With a DRAM bandwidth, the double-buffered SRAMs' stalls come from isa/systolic/memory_side.py,
# which follows SCALE-Sim's ws and os demand orders (its is order is not followed yet).
MEMORY_SIDE = "scalesim-double-buffered"
MEMORY_SIDE_DATAFLOWS = ("ws", "os")

# SCALE-Sim's word is one byte (single_layer_sim.py, word_size=1): its SRAM sizes and
# access counts are in such words. It names no accumulator width; 32 bits is assumed, as
# int8 arrays (Gemmini's, the TPU's) accumulate.
WORD_BYTES = 1
DATAPATH = Datapath(operand_bits=8 * WORD_BYTES, accumulator_bits=32)
_MAC = ((MAC_ACTION, 1),)  # every PE step issues one MAC, idle or not
SRAM_PARAMETERS = {tensor: f"{tensor}_sram_kib" for tensor in ("ifmap", "filter", "ofmap")}


def sram_of(tensor: str) -> str:
    """The memory that holds `tensor` ("ifmap", "filter" or "ofmap") on chip."""
    return f"{tensor}_sram"


def memories(params: dict[str, int | str]) -> dict[str, Memory]:
    """SCALE-Sim's three SRAMs (each double-buffered, the size counting both halves) and
    the DRAM behind them."""
    srams = {
        sram_of(tensor): Memory("sram", WORD_BYTES, int(params[key]) * 1024)
        for tensor, key in SRAM_PARAMETERS.items()
    }
    return {**srams, "dram": Memory("dram", WORD_BYTES, 0)}


# Which tensor each edge port carries, per dataflow (SCALE-Sim's operand matrices).
PORT_TENSORS = {
    "ws": {"west": "ifmap", "north": "filter", "stationary": "filter"},
    "is": {"west": "filter", "north": "ifmap", "stationary": "ifmap"},
    "os": {"west": "ifmap", "north": "filter", "stationary": "ofmap"},
}


# Peak memory per PE of lowering and analyzing a layer: its register locations in every
# state array and in the fast mode's signatures, and (until ad54f1c) its templates.
# Measured when every PE had its templates: resnet50's fc at 512x512 (262,144 PEs)
# peaked at 1.54 GB, about 5.3 KiB per PE above the interpreter's 0.15 GB. Since the
# steps are loops, the whole of ResNet-50 there peaks at 0.45 GB through `analyze`
# (docs/benchmarks.md §2.7): this over-estimates, and is kept until measured again.
BYTES_PER_PE = 6 * 1024


def spaces(rows: int, cols: int, dataflow: str) -> dict[str, int]:
    """The array's address spaces and their sizes (locations)."""
    return {
        "h": rows * cols,
        "v": rows * cols,
        "s": rows * cols,
        "west": rows,
        "north": cols,
        # Where outputs are captured: a PE's own (os), a column's bottom PE (ws, is). No
        # more locations than captures: fast mode compares every location (§4.3).
        "out": rows * cols if dataflow == "os" else cols,
        "fold_token": 1,
    }


def footprint(accelerator: Accelerator) -> tuple[int, str]:
    pes = int(accelerator.parameters["rows"]) * int(accelerator.parameters["cols"])
    return pes * BYTES_PER_PE, f"{pes:,} PEs at about {BYTES_PER_PE // 1024} KiB each"


def lower(accelerator: Accelerator, model: Model) -> Program:
    params = accelerator.parameters
    rows, cols = int(params["rows"]), int(params["cols"])
    dataflow = str(params["dataflow"])
    bandwidth = int(params["bandwidth"])
    if bandwidth != 0 and dataflow not in MEMORY_SIDE_DATAFLOWS:
        raise DescriptionError(
            f"--param bandwidth={bandwidth} with dataflow={dataflow}: the memory-side model "
            f"covers dataflows {', '.join(MEMORY_SIDE_DATAFLOWS)}; use one of them, or "
            "bandwidth=0 (unlimited, SCALE-Sim's CALC mode)"
        )
    builder = _ArrayBuilder(accelerator, rows, cols, dataflow)
    if dataflow == "os":
        sync = builder.sync_block(rows * cols)
        stream, drain = builder.os_stream_step(), builder.os_drain_step()
    else:
        sync = builder.sync_block(cols)
        preload, stream = builder.preload_step(), builder.ws_stream_step()
    layers = []
    host_layers = []
    for position, layer in enumerate(model.layers):
        if not is_gemm(layer):
            host_layers.append(
                HostLayer(layer.name, layer.kind, operations(layer), position, HOST_REASON)
            )
            continue
        shape = gemm_shape(layer, dataflow)
        folds = shape.folds(rows, cols)
        # The drain runs once a fold, not a step: its rows and columns sit where the
        # steps' do, in a loop of one trip at the steps' depth.
        if dataflow == "os":
            fold_body = (
                sync,
                Loop("stream", shape.temporal, stream),
                Loop("drain", 1, drain),
            )
        else:
            fold_body = (
                sync,
                Loop("preload", rows, preload),
                Loop("stream", shape.temporal, stream),
            )
        input_words, weight_words, output_words = gemm_operands(layer)  # type: ignore[arg-type]
        mapping: dict[str, int | str] = {
            "dataflow": dataflow,
            "spatial_rows": shape.spatial_rows,
            "spatial_cols": shape.spatial_cols,
            "temporal": shape.temporal,
            "repeats": shape.repeats,
            "folds": folds,
            "input_words": input_words,
            "weight_words": weight_words,
            "output_words": output_words,
            "distinct_input_words": distinct_input_words(layer),
            "dram_words": dram_words(shape, rows, cols, dataflow),
        }
        if bandwidth != 0:
            # isa/systolic/memory_side.py adds the SRAMs' stalls to the evaluated cycles.
            mapping["memory_side"] = MEMORY_SIDE
            mapping.update(im2col_geometry(layer))
        root = Loop("layer", 1, (Loop("fold", folds, fold_body),))
        layers.append(LayerProgram(layer.name, layer.kind, layer.macs, mapping, root))
    return program_of(
        accelerator,
        model,
        spaces=spaces(rows, cols, dataflow),
        memories=memories(params),
        datapath=DATAPATH,
        blocks=tuple(builder.blocks.blocks),
        layers=tuple(layers),
        host_layers=tuple(host_layers),
        notes=(
            f"dataflow {dataflow}: west port carries {PORT_TENSORS[dataflow]['west']}, "
            f"north port {PORT_TENSORS[dataflow]['north']}, "
            f"stationary operand {PORT_TENSORS[dataflow]['stationary']}",
            "every PE executes every step, also in edge folds (as SCALE-Sim pads them)",
            "activations (ReLU, ReLU6) are applied in the output path at no cost",
        )
        + (
            (
                f"DRAM at {bandwidth} words/cycle: stalls of the double-buffered SRAMs "
                "added as SCALE-Sim 3.0.0 models them (isa/systolic/memory_side.py)",
            )
            if bandwidth
            else ()
        ),
    )


# The PEs of a row after its first go in blocks of this many, a loop over the blocks
# (the columns left over in one more block): each loop iteration costs the kernel its op,
# its index and the offsets it steps. Full evaluation of ResNet-50's layer1.0.conv2 at
# 32x32 measured 27 M instructions/s with one PE a block and 31 M/s with eight, on a
# kernel since made faster; sixteen were no faster than eight.
COLUMNS_PER_BLOCK = 8

# Loop depths of a step's body: the layer's loop (0), the fold loop (1), the step loop
# (preload, stream or drain, 2); then the rows between a step's first and last (3), and
# the columns of a row: inside those rows (4), or of the first and last rows (3).
STEP_DEPTH = 2


@dataclass(frozen=True)
class _Affine:
    """base + sum(coefs[d] * index[d]): a PE coordinate or location over the loop
    indices, outermost depth first (Operand's and Template's coefficients)."""

    base: int
    coefs: tuple[int, ...] = ()

    def __add__(self, other: _Affine | int) -> _Affine:
        if isinstance(other, int):
            return _Affine(self.base + other, self.coefs)
        width = max(len(self.coefs), len(other.coefs))
        a = self.coefs + (0,) * (width - len(self.coefs))
        b = other.coefs + (0,) * (width - len(other.coefs))
        coefs = tuple(x + y for x, y in zip(a, b, strict=True))
        return _Affine(self.base + other.base, _trimmed(coefs))

    def __mul__(self, factor: int) -> _Affine:
        return _Affine(self.base * factor, _trimmed(tuple(c * factor for c in self.coefs)))


def _trimmed(coefs: tuple[int, ...]) -> tuple[int, ...]:
    while coefs and coefs[-1] == 0:
        coefs = coefs[:-1]
    return coefs


def _index(depth: int) -> _Affine:
    """The index of the loop at `depth`."""
    return _Affine(0, (0,) * depth + (1,))


class _ArrayBuilder:
    """Builds the per-step bodies of one R x C array: a step is one bundle, every PE an
    instruction of it, in row-major order (preload: rows bottom-up). The PEs of a row
    after its first, and the rows after the first, run one template shifted by a PE: a
    loop over columns nested in a loop over rows (docs/design.md §2.2), so the program
    holds a few templates a step, not R x C, whatever the array's size; the instruction
    stream it unrolls to is the same."""

    def __init__(self, accelerator: Accelerator, rows: int, cols: int, dataflow: str) -> None:
        self.rows = rows
        self.cols = cols
        # The SRAM word each edge read takes, and each drained output writes.
        tensors = PORT_TENSORS[dataflow]
        self.west_read = ((memory_action(sram_of(tensors["west"]), "read"), 1),)
        self.north_read = ((memory_action(sram_of(tensors["north"]), "read"), 1),)
        self.output_write = ((memory_action(sram_of("ofmap"), "write"), 1),)
        self.units = accelerator.units
        self.blocks = BlockTable()
        if rows * cols > self.units["pe"].instances or self.units["drain"].instances < rows * cols:
            raise DescriptionError(
                f"accelerator {accelerator.name!r}: units pe and drain need rows*cols = "
                f"{rows * cols} instances"
            )

    def _template(
        self,
        opcode: str,
        unit: str,
        instance: _Affine,
        reads: list[Operand],
        writes: list[Operand],
        bundle_start: bool,
        actions: tuple[tuple[str, int], ...] = (),
    ) -> Template:
        kind = self.units[unit]
        return Template(
            opcode=opcode,
            unit=unit,
            instance=instance.base,
            instance_coefs=instance.coefs,
            latency=kind.latency,
            occupancy=kind.occupancy,
            read_time=1,  # register operands are read in the start cycle
            reads=tuple(reads),
            writes=tuple(writes),
            bundle_start=bundle_start,
            actions=actions,
        )

    def _pe(self, r: _Affine, c: _Affine) -> _Affine:
        return r * self.cols + c

    @staticmethod
    def _at(space: str, location: _Affine) -> Operand:
        return Operand(space, location.base, 1, location.coefs)

    def _step(
        self,
        name: str,
        rows: list[int | None],
        pe_template: Callable[[_Affine, _Affine, bool, bool, bool], Template],
    ) -> tuple[Loop | BlockRef, ...]:
        """One step's body: the rows in the order `rows` gives them, each a row number or
        None for a loop over the rows between its neighbours (the loop's index counting
        away from the row before). `pe_template(r, c, top, left, opens)`: the instruction
        of PE (r, c) on the top row / left column or not, opening the step's bundle."""
        body: list[Loop | BlockRef] = []
        for k, row in enumerate(rows):
            if row is None:
                before, after = rows[k - 1], rows[k + 1]
                assert before is not None and after is not None
                step = 1 if after > before else -1
                r = _index(STEP_DEPTH + 1) * step + (before + step)
                inner = self._row(name, r, False, False, STEP_DEPTH + 2, pe_template)
                trips = abs(after - before) - 1
                if trips > 0:
                    body.append(Loop(f"{name}_rows", trips, inner))
            else:
                top = row == 0
                body.extend(
                    self._row(name, _Affine(row), top, not body, STEP_DEPTH + 1, pe_template)
                )
        return tuple(body)

    def _row(
        self,
        name: str,
        r: _Affine,
        top: bool,
        opens: bool,
        depth: int,
        pe_template: Callable[[_Affine, _Affine, bool, bool, bool], Template],
    ) -> tuple[Loop | BlockRef, ...]:
        """A row's first PE, then its other columns: a loop at `depth` over groups of
        COLUMNS_PER_BLOCK, then the columns left over, one block each."""
        edge = self.blocks.ref(name, pe_template(r, _Affine(0), top, True, opens))
        groups, left = divmod(self.cols - 1, COLUMNS_PER_BLOCK)
        body: list[Loop | BlockRef] = [edge]
        if groups:
            c = _index(depth) * COLUMNS_PER_BLOCK + 1
            group = [pe_template(r, c + k, top, False, False) for k in range(COLUMNS_PER_BLOCK)]
            body.append(Loop(f"{name}_cols", groups, (self.blocks.ref(name, *group),)))
        if left:
            done = groups * COLUMNS_PER_BLOCK + 1
            rest = [pe_template(r, _Affine(done + k), top, False, False) for k in range(left)]
            body.append(self.blocks.ref(name, *rest))
        return tuple(body)

    def sync_block(self, outputs: int) -> BlockRef:
        # Waiting for every output port's last capture is what makes folds sequential.
        sync = self._template(
            "fold_sync",
            "sequencer",
            _Affine(0),
            reads=[Operand("out", 0, outputs)],
            writes=[Operand("fold_token", 0)],
            bundle_start=True,
        )
        return self.blocks.ref("fold_sync", sync)

    def _rows(self, bottom_up: bool) -> list[int | None]:
        """The rows of a step: the first, a loop over the middle ones, the last."""
        first, last = (self.rows - 1, 0) if bottom_up else (0, self.rows - 1)
        if self.rows == 1:
            return [first]
        return [first, None, last]

    def preload_step(self) -> tuple[Loop | BlockRef, ...]:
        """One weight-shift step down every column (ws; inputs for is).

        Rows go bottom-up so each PE reads its upper neighbour's value from the previous
        step, as a shift register does; the top row takes the north port. Every PE shifts
        only once the fold has started: what a lower row would shift before the fold's
        first weights reach it is the previous fold's, which it overwrites before the
        stream reads it (the cycles are those without the wait; tests/test_exactness.py),
        and a step that starts as a whole repeats shifted from the first step on
        (docs/design.md §4.11), where rows shifting early made every step of a later
        fold's preload differ.
        """

        def preload(r: _Affine, c: _Affine, top: bool, left: bool, opens: bool) -> Template:
            token = Operand("fold_token", 0)
            above = self._at("north", c) if top else self._at("s", self._pe(r + -1, c))
            return self._template(
                "preload",
                "pe",
                self._pe(r, c),
                [above, token],
                [self._at("s", self._pe(r, c))],
                bundle_start=opens,
                actions=self.north_read if top else (),
            )

        return self._step("preload", self._rows(bottom_up=True), preload)

    def ws_stream_step(self) -> tuple[Loop | BlockRef, ...]:
        """One data item through the array: a MAC per PE, then the bottom row's outputs."""

        def mac(r: _Affine, c: _Affine, top: bool, left: bool, opens: bool) -> Template:
            pe = self._pe(r, c)
            reads = [
                self._at("west", r) if left else self._at("h", pe + -1),
                self._at("s", pe),
            ]
            if not top:
                reads.append(self._at("v", pe + -self.cols))
            return self._template(
                "mac",
                "pe",
                pe,
                reads,
                [self._at("h", pe), self._at("v", pe)],
                bundle_start=opens,
                actions=_MAC + (self.west_read if left else ()),
            )

        # The drains stay one template per column: a drain instance moving with an index
        # would make the state hold every declared drain, R x C of them, not the C used.
        bottom = (self.rows - 1) * self.cols
        drains = [
            self._template(
                "drain",
                "drain",
                _Affine(c),
                [Operand("v", bottom + c)],
                [Operand("out", c)],
                bundle_start=False,
                actions=self.output_write,
            )
            for c in range(self.cols)
        ]
        body = self._step("stream", self._rows(bottom_up=False), mac)
        return (*body, self.blocks.ref("drain", *drains))

    def os_stream_step(self) -> tuple[Loop | BlockRef, ...]:
        """One reduction step: every PE accumulates one product into its own output."""

        def mac(r: _Affine, c: _Affine, top: bool, left: bool, opens: bool) -> Template:
            pe = self._pe(r, c)
            reads = [
                self._at("west", r) if left else self._at("h", pe + -1),
                self._at("north", c) if top else self._at("v", pe + -self.cols),
                self._at("s", pe),
            ]
            if opens:
                # The corner PE starts the fold; every other PE follows it through h/v.
                reads.append(Operand("fold_token", 0))
            return self._template(
                "mac",
                "pe",
                pe,
                reads,
                [self._at("h", pe), self._at("v", pe), self._at("s", pe)],
                bundle_start=opens,
                actions=_MAC + (self.west_read if left else ()) + (self.north_read if top else ()),
            )

        return self._step("stream", self._rows(bottom_up=False), mac)

    def os_drain_step(self) -> tuple[Loop | BlockRef, ...]:
        def drain(r: _Affine, c: _Affine, top: bool, left: bool, opens: bool) -> Template:
            pe = self._pe(r, c)
            return self._template(
                "drain",
                "drain",
                pe,
                [self._at("s", pe)],
                [self._at("out", pe)],
                bundle_start=opens,
                actions=self.output_write,
            )

        return self._step("drain", self._rows(bottom_up=False), drain)
