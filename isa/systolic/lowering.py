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

from accelerators.description import Accelerator
from isa.family import program_of
from isa.program import (
    MAC_ACTION,
    Block,
    BlockRef,
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


# Peak memory per PE of lowering and analyzing a layer: one PE's templates (a MAC, a
# preload, a drain per block), its register locations in every state array and in the
# fast mode's signatures. Measured after the layout move: resnet50's fc at 512x512
# (262,144 PEs) peaked at 1.54 GB, about 5.3 KiB per PE above the interpreter's 0.15 GB.
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
        blocks = (
            builder.sync_block(rows * cols),
            builder.os_stream_block(),
            builder.os_drain_block(),
        )
    else:
        blocks = (builder.sync_block(cols), builder.preload_block(), builder.ws_stream_block())
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
        if dataflow == "os":
            fold_body = (BlockRef(0), Loop("stream", shape.temporal, (BlockRef(1),)), BlockRef(2))
        else:
            fold_body = (
                BlockRef(0),
                Loop("preload", rows, (BlockRef(1),)),
                Loop("stream", shape.temporal, (BlockRef(2),)),
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
        blocks=blocks,
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


class _ArrayBuilder:
    """Builds the per-step blocks of one R x C array."""

    def __init__(self, accelerator: Accelerator, rows: int, cols: int, dataflow: str) -> None:
        self.rows = rows
        self.cols = cols
        # The SRAM word each edge read takes, and each drained output writes.
        tensors = PORT_TENSORS[dataflow]
        self.west_read = ((memory_action(sram_of(tensors["west"]), "read"), 1),)
        self.north_read = ((memory_action(sram_of(tensors["north"]), "read"), 1),)
        self.output_write = ((memory_action(sram_of("ofmap"), "write"), 1),)
        self.units = accelerator.units
        self._registers: dict[str, list[Operand]] = {}
        self._space_sizes = spaces(rows, cols, dataflow)
        if rows * cols > self.units["pe"].instances or self.units["drain"].instances < rows * cols:
            raise DescriptionError(
                f"accelerator {accelerator.name!r}: units pe and drain need rows*cols = "
                f"{rows * cols} instances"
            )

    def _template(
        self,
        opcode: str,
        unit: str,
        instance: int,
        reads: list[Operand],
        writes: list[Operand],
        bundle_start: bool,
        actions: tuple[tuple[str, int], ...] = (),
    ) -> Template:
        kind = self.units[unit]
        return Template(
            opcode=opcode,
            unit=unit,
            instance=instance,
            latency=kind.latency,
            occupancy=kind.occupancy,
            read_time=1,  # register operands are read in the start cycle
            reads=tuple(reads),
            writes=tuple(writes),
            bundle_start=bundle_start,
            actions=actions,
        )

    def _pe(self, r: int, c: int) -> int:
        return r * self.cols + c

    def _at(self, space: str, location: int) -> Operand:
        """The one-location operand of `space` at `location`, one object per location: a
        register is named by several templates (a PE writing it, its neighbours and the
        next step reading it), and at 512x512 an object per naming costs hundreds of MB
        and seconds of lowering."""
        return self._register_file(space)[location]

    def _register_file(self, space: str) -> list[Operand]:
        """Every location of `space` as its one operand object, made on first use."""
        registers = self._registers.get(space)
        if registers is None:
            size = self._space_sizes[space]
            registers = self._registers[space] = [Operand(space, k) for k in range(size)]
        return registers

    def sync_block(self, outputs: int) -> Block:
        # Waiting for every output port's last capture is what makes folds sequential.
        sync = self._template(
            "fold_sync",
            "sequencer",
            0,
            reads=[Operand("out", 0, outputs)],
            writes=[self._at("fold_token", 0)],
            bundle_start=True,
        )
        return Block("fold_sync", (sync,))

    def preload_block(self) -> Block:
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
        templates = []
        for r in range(self.rows - 1, -1, -1):
            for c in range(self.cols):
                if r == 0:
                    reads = [self._at("north", c), self._at("fold_token", 0)]
                else:
                    reads = [self._at("s", self._pe(r - 1, c)), self._at("fold_token", 0)]
                templates.append(
                    self._template(
                        "preload",
                        "pe",
                        self._pe(r, c),
                        reads,
                        [self._at("s", self._pe(r, c))],
                        bundle_start=not templates,
                        actions=self.north_read if r == 0 else (),
                    )
                )
        return Block("preload", tuple(templates))

    def ws_stream_block(self) -> Block:
        """One data item through the array: a MAC per PE, then the bottom row's outputs."""
        templates = []
        for r in range(self.rows):
            for c in range(self.cols):
                pe = self._pe(r, c)
                reads = [
                    self._at("west", r) if c == 0 else self._at("h", self._pe(r, c - 1)),
                    self._at("s", pe),
                ]
                if r > 0:
                    reads.append(self._at("v", self._pe(r - 1, c)))
                templates.append(
                    self._template(
                        "mac",
                        "pe",
                        pe,
                        reads,
                        [self._at("h", pe), self._at("v", pe)],
                        bundle_start=not templates,
                        actions=_MAC + (self.west_read if c == 0 else ()),
                    )
                )
        for c in range(self.cols):
            templates.append(
                self._template(
                    "drain",
                    "drain",
                    c,
                    [self._at("v", self._pe(self.rows - 1, c))],
                    [self._at("out", c)],
                    bundle_start=False,
                    actions=self.output_write,
                )
            )
        return Block("stream", tuple(templates))

    def os_stream_block(self) -> Block:
        """One reduction step: every PE accumulates one product into its own output."""
        templates = []
        for r in range(self.rows):
            for c in range(self.cols):
                pe = self._pe(r, c)
                reads = [
                    self._at("west", r) if c == 0 else self._at("h", self._pe(r, c - 1)),
                    self._at("north", c) if r == 0 else self._at("v", self._pe(r - 1, c)),
                    self._at("s", pe),
                ]
                if r == 0 and c == 0:
                    # The corner PE starts the fold; every other PE follows it through h/v.
                    reads.append(self._at("fold_token", 0))
                templates.append(
                    self._template(
                        "mac",
                        "pe",
                        pe,
                        reads,
                        [self._at("h", pe), self._at("v", pe), self._at("s", pe)],
                        bundle_start=not templates,
                        actions=_MAC
                        + (self.west_read if c == 0 else ())
                        + (self.north_read if r == 0 else ()),
                    )
                )
        return Block("stream", tuple(templates))

    def os_drain_block(self) -> Block:
        templates = [
            self._template(
                "drain",
                "drain",
                self._pe(r, c),
                [self._at("s", self._pe(r, c))],
                [self._at("out", self._pe(r, c))],
                bundle_start=(r == 0 and c == 0),
                actions=self.output_write,
            )
            for r in range(self.rows)
            for c in range(self.cols)
        ]
        return Block("drain", tuple(templates))
