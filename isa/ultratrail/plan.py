"""Which layers run on UltraTrail's array, which are fused into its output path, and where
every tensor and weight sits in its memories.

Fusion. The output processing unit behind the array adds a bias, a residual and averages
over time before its ReLU (Hd = ekut-es/hannah @a9a94b5a, hannah/nas/hardware_description/
devices/ultratrail.py:40-67), so an `add` is done by the output path of whichever of its two
producers runs later (the other one's output is read from its FMEM as the residual), and
a global average pool by the output path of the layer that produces its input. Both become
fused host layers; anything else the array cannot run (max pooling, matmuls, an add or a
pool that cannot fuse) runs on the host, untimed.

Memories. Every operand is loaded before the run (T = apache/tvm @8c4f0654, python/tvm/
relay/backend/contrib/uma/ultra_trail/passes.py:169-181), so WMEM holds every layer's
weights at once (rows x cols blocks, a partial block padded) and BMEM every layer's biases
(a word of cols per output-channel block; the layers do not record whether they have a
bias, so each is given one, as hannah folds batch norm into one for every conv). LMEM holds
one row of partial sums (a word of cols accumulators per output position). Feature maps
live in the FMEMs (T passes.py:57-65 alternates two): each tensor in one FMEM, blocks of
min(rows, cols) channels by positions, from its producer until its last reader has run. A
layer's output goes to an FMEM that holds none of the tensors it reads, the emptiest such;
when every FMEM holds one (fewer FMEMs than the layer reads, plus one), it shares one and
the evaluation shows the port conflict. A size that does not fit is refused, naming the
layer, the memory and the figures.

Actions (analyzer/actions.py) count each memory in its own word, the width it is sized in
above and an access reads or writes whole: an FMEM word is min(rows, cols) features, a WMEM
word a rows x cols weight block, a BMEM word cols biases, an LMEM word cols partial sums.
A word of a width that is not whole bytes is priced as the bytes it occupies, rounded up.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from math import prod

from accelerators.description import Accelerator
from isa.arithmetic import ceil_div
from isa.program import Datapath, HostLayer, Memory
from isa.ultratrail.geometry import (
    TemporalConv,
    UltraTrailLimitError,
    pool_exponent,
    refuse,
    temporal_conv,
)
from tracer.workloads.layers import Conv2d, Dense, Elementwise, Layer, Model, Pool, operations

KIB_BITS = 1024 * 8
ON_HOST = (
    "on the host: UltraTrail runs 1-D convolutions and fully connected layers, "
    "with adds and global average pools fused into them; not timed"
)


@dataclass(frozen=True)
class Placement:
    """A tensor's place: which FMEM, from which word."""

    fmem: int
    base: int


@dataclass
class LayerPlan:
    """One layer on the array: its configuration and where its operands are."""

    position: int
    conv: TemporalConv
    config_entry: int
    weight_base: int = 0
    bias_base: int = 0
    relu: bool = False
    residual_from: str | None = None  # the tensor the output path adds
    fused: list[str] = field(default_factory=list)  # layers its output path does
    pool_exponent: int | None = None  # the average pool's shift, when it pools
    source: Placement | None = None
    residual: Placement | None = None
    output: Placement | None = None

    @property
    def out_positions(self) -> int:
        """Positions of the tensor it writes: one after pooling."""
        return 1 if self.pool_exponent is not None else self.conv.out_length


@dataclass(frozen=True)
class MemoryPlan:
    layers: tuple[LayerPlan, ...]
    host_layers: tuple[HostLayer, ...]
    fmem_words: tuple[int, ...]  # the highest word used in each FMEM, plus one
    weight_words: int
    bias_words: int
    lmem_words: int
    # The memories as the actions count them (fmem0.., wmem, bmem, lmem), the MAC widths,
    # and the FMEM words an input vector (rows features) and an output vector (cols) span.
    memories: dict[str, Memory]
    datapath: Datapath
    input_vector_words: int
    output_vector_words: int


class _Sizes:
    """The memories' word sizes and capacities from the description's parameters."""

    def __init__(self, accelerator: Accelerator) -> None:
        p = accelerator.parameters
        self.rows, self.cols = int(p["rows"]), int(p["cols"])
        self.lanes = min(self.rows, self.cols)  # features per FMEM word
        self.fmem_count = int(p["fmem_count"])
        self.fmem_bits = self.lanes * int(p["bw_f"])
        self.fmem_kib = int(p["fmem_kib"])
        self.fmem_words = self.fmem_kib * KIB_BITS // self.fmem_bits
        self.weight_bits = self.rows * self.cols * int(p["bw_w"])
        self.wmem_kib = int(p["wmem_kib"])
        self.wmem_words = self.wmem_kib * KIB_BITS // self.weight_bits
        self.bias_bits = self.cols * int(p["bw_b"])
        self.bmem_kib = int(p["bmem_kib"])
        self.bmem_words = self.bmem_kib * KIB_BITS // self.bias_bits
        self.psum_bits = self.cols * int(p["bw_acc"])
        self.lmem_kib = int(p["lmem_kib"])
        self.lmem_words = self.lmem_kib * KIB_BITS // self.psum_bits
        self.config_entries = int(p["config_entries"])
        self.operand_bits = max(int(p["bw_w"]), int(p["bw_f"]))
        self.accumulator_bits = int(p["bw_acc"])

    def memories(self) -> dict[str, Memory]:
        def sram(bits: int, kib: int) -> Memory:
            return Memory("sram", ceil_div(bits, 8), kib * 1024)

        fmems = {fmem_space(i): sram(self.fmem_bits, self.fmem_kib) for i in range(self.fmem_count)}
        return {
            **fmems,
            "wmem": sram(self.weight_bits, self.wmem_kib),
            "bmem": sram(self.bias_bits, self.bmem_kib),
            "lmem": sram(self.psum_bits, self.lmem_kib),
        }

    def tensor_words(self, channels: int, length: int) -> int:
        return ceil_div(channels, self.lanes) * length


def fmem_space(index: int) -> str:
    """The name of FMEM `index`: its address space and its memory in the actions."""
    return f"fmem{index}"


def _kib(words: int, bits: int) -> str:
    return f"{words * bits / KIB_BITS:.1f} KiB"


def plan_model(accelerator: Accelerator, model: Model) -> MemoryPlan:
    sizes = _Sizes(accelerator)
    planner = _Fusion(model, sizes)
    plans, host_layers = planner.run()
    _place_parameters(plans, sizes)
    fmem_words = _Allocation(model, planner, sizes).run(plans)
    return MemoryPlan(
        layers=tuple(plans),
        host_layers=tuple(host_layers),
        fmem_words=fmem_words,
        weight_words=sum(_weight_blocks(plan.conv, sizes) for plan in plans),
        bias_words=sum(ceil_div(plan.conv.out_channels, sizes.cols) for plan in plans),
        lmem_words=max((plan.conv.out_length for plan in plans), default=1),
        memories=sizes.memories(),
        # The wider operand sizes the multipliers: 8-bit features times 6-bit weights.
        datapath=Datapath(sizes.operand_bits, sizes.accumulator_bits),
        input_vector_words=ceil_div(sizes.rows, sizes.lanes),
        output_vector_words=ceil_div(sizes.cols, sizes.lanes),
    )


def _weight_blocks(conv: TemporalConv, sizes: _Sizes) -> int:
    return (
        ceil_div(conv.in_channels, sizes.rows)
        * ceil_div(conv.out_channels, sizes.cols)
        * conv.kernel
    )


class _Fusion:
    """Walks the model in order: layers for the array, fused layers, host layers."""

    def __init__(self, model: Model, sizes: _Sizes) -> None:
        self.model = model
        self.sizes = sizes
        self.consumers = Counter(name for layer in model.layers for name in layer.inputs)
        self.position = {layer.name: index for index, layer in enumerate(model.layers)}
        # tensor name -> the layer plan whose output path writes it (through fused layers)
        self.writer: dict[str, LayerPlan] = {}
        # tensor name -> the name of the tensor it is in memory (a fused layer's output is
        # its host layer's)
        self.physical: dict[str, str] = {i.name: i.name for i in model.inputs}

    def run(self) -> tuple[list[LayerPlan], list[HostLayer]]:
        plans: list[LayerPlan] = []
        hosts: list[HostLayer] = []
        for position, layer in enumerate(self.model.layers):
            if isinstance(layer, (Conv2d, Dense)):
                conv = temporal_conv(layer, self.sizes.rows, self.sizes.cols)
                if len(plans) == self.sizes.config_entries:
                    raise refuse(
                        layer.name,
                        f"it is layer {len(plans) + 1} for the array, beyond its "
                        f"{self.sizes.config_entries} layer configuration registers "
                        "(config_entries; T passes.py:91 conf_reg_layers)",
                        "run at most that many layers on UltraTrail",
                    )
                plan = LayerPlan(position, conv, config_entry=len(plans), relu=conv.relu)
                plans.append(plan)
                self.writer[layer.name] = plan
                self.physical[layer.name] = layer.name
                continue
            fused_into = self._fuse(layer)
            if fused_into is None:
                self.physical[layer.name] = layer.name
                reason, placement = ON_HOST, "host"
            else:
                reason = f"fused into {fused_into.conv.name}'s output path (the OPU)"
                placement = "fused"
            hosts.append(
                HostLayer(layer.name, layer.kind, operations(layer), position, reason, placement)
            )
        return plans, hosts

    def _sole_writer(self, tensor: str) -> LayerPlan | None:
        """The plan writing `tensor` when this layer is its only reader."""
        if self.consumers[tensor] != 1:
            return None
        return self.writer.get(tensor)

    def _fuse(self, layer: Layer) -> LayerPlan | None:
        if isinstance(layer, Elementwise) and layer.op == "add" and len(layer.inputs) == 2:
            # The producer that runs later adds; a model input (no producer) runs first.
            first, second = sorted(layer.inputs, key=lambda name: self.position.get(name, -1))
            plan = self._sole_writer(second)
            # The output path adds before its ReLU and pooling (Hd:40-67): a layer that
            # already applies either cannot add after it.
            if (
                plan is None
                or plan.relu
                or plan.pool_exponent is not None
                or plan.residual_from is not None
                or first not in self.physical
            ):
                return None
            plan.residual_from = self.physical[first]
        elif (
            isinstance(layer, Pool)
            and layer.pool == "avgpool"
            and len(layer.inputs) == 1
            and (layer.kernel_height, layer.kernel_width) == (layer.in_height, layer.in_width)
            and layer.padding == (0, 0, 0, 0)
        ):
            plan = self._sole_writer(layer.inputs[0])
            if plan is None or plan.pool_exponent is not None:
                return None
            plan.pool_exponent = pool_exponent(layer.name, plan.conv.out_length)
        else:
            return None
        plan.relu = plan.relu or layer.activation == "relu"
        plan.fused.append(layer.name)
        self.writer[layer.name] = plan
        self.physical[layer.name] = plan.conv.name
        return plan


def _place_parameters(plans: list[LayerPlan], sizes: _Sizes) -> None:
    """Weights and biases of every layer, one after the other, loaded before the run."""
    weights = biases = 0
    for plan in plans:
        conv = plan.conv
        plan.weight_base, plan.bias_base = weights, biases
        weights += _weight_blocks(conv, sizes)
        biases += ceil_div(conv.out_channels, sizes.cols)
        if weights > sizes.wmem_words:
            raise refuse(
                conv.name,
                f"the weights of the layers up to it take {_kib(weights, sizes.weight_bits)} "
                f"as {sizes.rows}x{sizes.cols} blocks of bw_w bits, beyond WMEM's "
                f"{sizes.wmem_kib} KiB (wmem_kib)",
                "raise --param wmem_kib",
            )
        if biases > sizes.bmem_words:
            raise refuse(
                conv.name,
                f"the biases of the layers up to it take {_kib(biases, sizes.bias_bits)}, "
                f"beyond BMEM's {sizes.bmem_kib} KiB (bmem_kib)",
                "raise --param bmem_kib",
            )
        if ceil_div(conv.in_channels, sizes.rows) > 1 and conv.out_length > sizes.lmem_words:
            raise refuse(
                conv.name,
                f"its {conv.out_length} output positions of partial sums take "
                f"{_kib(conv.out_length, sizes.psum_bits)} ({sizes.cols} x bw_acc bits each), "
                f"beyond LMEM's {sizes.lmem_kib} KiB (lmem_kib)",
                "raise --param lmem_kib",
            )


class _Allocation:
    """First-fit placement of the feature maps in the FMEMs, freed after their last reader."""

    def __init__(self, model: Model, fusion: _Fusion, sizes: _Sizes) -> None:
        self.model = model
        self.fusion = fusion
        self.sizes = sizes
        self.live: list[dict[str, tuple[int, int]]] = [{} for _ in range(sizes.fmem_count)]
        self.placed: dict[str, Placement] = {}
        self.high = [1] * sizes.fmem_count
        self.words: dict[str, int] = {}
        self.last_reader: dict[str, int] = {}

    def run(self, plans: list[LayerPlan]) -> tuple[int, ...]:
        physical = self.fusion.physical
        by_position = {plan.position: plan for plan in plans}
        for position, layer in enumerate(self.model.layers):
            for name in layer.inputs:
                self.last_reader[physical[name]] = position
        for model_input in self.model.inputs:
            self._grow(model_input.name, self._elements_words(prod(model_input.shape)))
        for plan in plans:
            conv = plan.conv
            source = (
                physical[self.model.layers[plan.position].inputs[0]] if self._reads(plan) else None
            )
            if source is not None:
                self._grow(source, self.sizes.tensor_words(conv.in_channels, conv.in_length))
            if plan.residual_from is not None:
                self._grow(
                    plan.residual_from,
                    self.sizes.tensor_words(conv.out_channels, conv.out_length),
                )
            self._grow(conv.name, self.sizes.tensor_words(conv.out_channels, plan.out_positions))
        for model_input in self.model.inputs:
            self._place(model_input.name, -1, reads=())
        for position, layer in enumerate(self.model.layers):
            if physical.get(layer.name) != layer.name:
                continue  # fused: its output is its host layer's
            plan = by_position.get(position)
            reads = tuple(physical[name] for name in layer.inputs)
            if plan is not None and not self._reads(plan):
                # A free-standing layer (its producer left out) reads a tensor of its own,
                # loaded with the model's inputs.
                own = f"{layer.name}:input"
                self.words[own] = self.sizes.tensor_words(
                    plan.conv.in_channels, plan.conv.in_length
                )
                self.last_reader[own] = position
                self._place(own, position, reads=())
                reads = (own,)
            self._free_before(position)
            if layer.name not in self.words:
                self.words[layer.name] = self._elements_words(prod(layer.output_shape))
            self._place(layer.name, position, reads)
            if plan is not None:
                plan.source = self.placed[reads[0]]
                if plan.residual_from is not None:
                    plan.residual = self.placed[plan.residual_from]
                plan.output = self.placed[layer.name]
        return tuple(self.high)

    def _reads(self, plan: LayerPlan) -> bool:
        return bool(self.model.layers[plan.position].inputs)

    def _grow(self, tensor: str, words: int) -> None:
        self.words[tensor] = max(self.words.get(tensor, 0), words)

    def _elements_words(self, elements: int) -> int:
        return ceil_div(elements, self.sizes.lanes)

    def _free_before(self, position: int) -> None:
        for live in self.live:
            for name in [n for n in live if self.last_reader.get(n, -1) < position]:
                if name not in self.protected:
                    del live[name]

    @property
    def protected(self) -> set[str]:
        """Tensors no layer reads: the model's outputs, kept to the end."""
        return {name for live in self.live for name in live if name not in self.last_reader}

    def _place(self, tensor: str, position: int, reads: tuple[str, ...]) -> None:
        words = self.words[tensor]
        held = {
            index for index, live in enumerate(self.live) if any(name in live for name in reads)
        }

        def preference(index: int) -> tuple[bool, bool, int, int]:
            """The emptiest FMEM holding nothing the layer reads first; else one holding
            its residual before one holding its input (read at every step)."""
            holds_input = bool(reads) and reads[0] in self.live[index]
            return index in held, holds_input, len(self.live[index]), index

        order = sorted(range(self.sizes.fmem_count), key=preference)
        for index in order:
            base = self._gap(self.live[index], words)
            if base is not None:
                self.live[index][tensor] = (base, words)
                self.placed[tensor] = Placement(index, base)
                self.high[index] = max(self.high[index], base + words)
                return
        what = (
            f"layer {self.model.layers[position].name!r} on ultratrail: its output takes"
            if position >= 0
            else f"model input {tensor!r} on ultratrail: it takes"
        )
        raise UltraTrailLimitError(
            f"{what} {_kib(words, self.sizes.fmem_bits)} ({words} words of {self.sizes.lanes} "
            f"features), more than any of the {self.sizes.fmem_count} FMEMs of "
            f"{self.sizes.fmem_kib} KiB (fmem_kib) has free beside the tensors still to be "
            "read; raise --param fmem_kib or fmem_count"
        )

    def _gap(self, live: dict[str, tuple[int, int]], words: int) -> int | None:
        start = 0
        for base, size in sorted(live.values()):
            if base - start >= words:
                return start
            start = max(start, base + size)
        return start if self.sizes.fmem_words - start >= words else None
