"""UltraTrail's instructions and the lowering of a TC-ResNet onto them.

UltraTrail is driven by a finite-state machine, not an instruction stream: per layer it
loads the layer's configuration register and walks output-channel blocks (cols channels),
input-channel blocks (rows channels), output positions and kernel taps. Each array step
is one bundle: the input vector read from the source FMEM (rows channels at one input
position), the rows x cols weight block read from WMEM, and the MAC step into the cols
accumulators. The position's partial sums then go to LMEM (first and middle input
blocks), or, in the last input block, through the output processing unit (OPU) into the
destination FMEM: the partial sum from LMEM, the bias, the residual from its FMEM, the
average pool's accumulator, ReLU. Those operations ride in the bundle of the position's
last step and overlap the next position's steps.

Sources: T = apache/tvm @8c4f0654 (python/tvm/relay/backend/contrib/uma/ultra_trail/),
Ha = ekut-es/hannah @066ba2b7 (speech_recognition/callbacks/backends.py:266-310, the
authors' analytical model), Hd = ekut-es/hannah @a9a94b5a (hannah/nas/hardware_description/
devices/ultratrail.py); accelerators/ultratrail.toml cites each parameter.

Timing comes from the dependency rules alone (docs/design.md §3): the accumulator `acc`
chains a position's steps; a position's first step starts a fresh sum, and may overwrite
`acc` in the cycle the output path reads the previous position's (WAR, edge-triggered
registers), so positions follow one another without a gap unless the OPU is busy
(occupancy) or slower than the steps; each memory and the OPU is one unit instance, so
two users of one FMEM or LMEM port in a cycle serialise.

Assumptions (no public source states them; docs/research/ultratrail.md §1-2):
- the loop order output block > input block > position > tap (the one LMEM, a row of
  partial sums, implies it); taps on zero padding are not issued (the analytical model
  leaves them out), so a layer's positions are split into runs of equal in-bounds taps;
- channel counts that are not multiples of rows or cols are padded to whole blocks (the
  analytical model's ceil; T floor-divides);
- every layer's output path adds a bias, read once per output block;
- layers run one after another, each from an idle machine; the bias of the next output
  block is read while the last positions of the current one drain.
"""

from __future__ import annotations

from accelerators.description import Accelerator, Unit
from isa.arithmetic import ceil_div
from isa.family import program_of
from isa.program import (
    MAC_ACTION,
    BlockRef,
    BlockTable,
    LayerProgram,
    Loop,
    Operand,
    Program,
    Template,
    memory_action,
)
from isa.ultratrail.geometry import TemporalConv
from isa.ultratrail.plan import LayerPlan, MemoryPlan, fmem_space, plan_model
from tracer.workloads.layers import Model

# One-location registers between the units.
REGISTERS = ("creg", "xreg", "wreg", "acc", "breg", "preg", "rreg", "oreg", "pool")


def _reg(name: str) -> Operand:
    return Operand(name, 0)


class _Blocks(BlockTable):
    """Program.blocks, each distinct block once, and templates timed by their unit."""

    def __init__(self, accelerator: Accelerator) -> None:
        super().__init__()
        self.units = accelerator.units

    def template(
        self,
        opcode: str,
        unit: str,
        reads: tuple[Operand, ...],
        writes: tuple[Operand, ...],
        instance: int = 0,
        bundle_start: bool = False,
        actions: tuple[tuple[str, int], ...] = (),
    ) -> Template:
        spec: Unit = self.units[unit]
        return Template(
            opcode,
            unit,
            instance=instance,
            latency=spec.latency,
            occupancy=spec.occupancy,
            read_time=1,
            reads=reads,
            writes=writes,
            bundle_start=bundle_start,
            actions=actions,
        )


def _cblock_runs(blocks: int) -> list[tuple[str, int, int]]:
    """(role, first input block, blocks) of the input-block loop: the first block writes
    the partial sums, the middle ones add to them, the last one reads them into the OPU."""
    if blocks == 1:
        return [("only", 0, 1)]
    runs = [("first", 0, 1)]
    if blocks > 2:
        runs.append(("middle", 1, blocks - 2))
    return [*runs, ("last", blocks - 1, 1)]


def position_runs(conv: TemporalConv) -> list[tuple[int, int, int, int]]:
    """(first position, positions, first tap, taps) of consecutive output positions with
    the same in-bounds taps: the edges, where taps fall on padding, and the middle."""
    runs: list[tuple[int, int, int, int]] = []
    for position in range(conv.out_length):
        first, end = conv.taps(position)
        if runs and runs[-1][2:] == (first, end - first) and runs[-1][0] + runs[-1][1] == position:
            start, count, _, _ = runs[-1]
            runs[-1] = (start, count + 1, first, end - first)
        else:
            runs.append((position, 1, first, end - first))
    return runs


class _LayerLowering:
    """One layer's loop tree. Loop depths: 0 layer, 1 output block, 2 input block,
    3 position, 4 tap; operand coefficients follow them."""

    def __init__(
        self, blocks: _Blocks, plan: LayerPlan, memory: MemoryPlan, rows: int, cols: int
    ) -> None:
        self.b = blocks
        self.plan = plan
        # Every array step runs all rows x cols cells, however few channels the block has.
        self.macs_per_step = rows * cols
        self.input_words = memory.input_vector_words
        self.output_words = memory.output_vector_words
        conv = plan.conv
        self.conv = conv
        self.in_blocks = ceil_div(conv.in_channels, rows)
        self.out_blocks = ceil_div(conv.out_channels, cols)
        assert plan.source is not None and plan.output is not None
        self.source, self.output = plan.source, plan.output

    def root(self) -> Loop:
        plan = self.plan
        cfg = self.b.ref(
            "config",
            self.b.template(
                "cfg_load",
                "ctrl",
                reads=(Operand("cfg", plan.config_entry),),
                writes=(_reg("creg"),),
                bundle_start=True,
            ),
        )
        bias = self.b.ref(
            "bias",
            self.b.template(
                "bias_rd",
                "bmem",
                reads=(_reg("creg"), Operand("bmem", plan.bias_base, coefs=(0, 1))),
                writes=(_reg("breg"),),
                actions=((memory_action("bmem", "read"), 1),),
            ),
        )
        body: list[Loop | BlockRef] = [bias]
        for role, first, count in _cblock_runs(self.in_blocks):
            body.append(Loop(f"cblock_{role}", count, tuple(self._positions(role, first))))
        if plan.pool_exponent is not None:
            body.append(
                self.b.ref(
                    "pool_out",
                    self.b.template(
                        "pool_wr",
                        "fmem",
                        instance=self.output.fmem,
                        reads=(_reg("pool"),),
                        # Written out, the pool's accumulator starts over for the next block.
                        writes=(
                            Operand(fmem_space(self.output.fmem), self.output.base, coefs=(0, 1)),
                            _reg("pool"),
                        ),
                        actions=self._fmem(self.output.fmem, "write", self.output_words),
                    ),
                )
            )
        return Loop("layer", 1, (cfg, Loop("oblock", self.out_blocks, tuple(body))))

    def _positions(self, role: str, cblock: int) -> list[Loop]:
        loops = []
        for start, count, tap, taps in position_runs(self.conv):
            body: list[Loop | BlockRef] = [self._step(cblock, start, tap, first=True)]
            if taps > 1:
                body.append(Loop("tap", taps - 1, (self._step(cblock, start, tap + 1),)))
            body.append(self._position_end(role, start))
            loops.append(Loop("position", count, tuple(body)))
        return loops

    def _step(self, cblock: int, position: int, tap: int, first: bool = False) -> BlockRef:
        conv, plan = self.conv, self.plan
        inner = () if first else (1,)
        source = Operand(
            fmem_space(self.source.fmem),
            self.source.base
            + cblock * conv.in_length
            + position * conv.stride
            + tap
            - conv.padding,
            coefs=(0, 0, conv.in_length, conv.stride, *inner),
        )
        weights = Operand(
            "wmem",
            plan.weight_base + cblock * conv.kernel + tap,
            coefs=(0, self.in_blocks * conv.kernel, conv.kernel, 0, *inner),
        )
        fmem_rd = self.b.template(
            "fmem_rd",
            "fmem",
            instance=self.source.fmem,
            reads=(_reg("creg"), source) if first else (source,),
            writes=(_reg("xreg"),),
            bundle_start=True,
            actions=self._fmem(self.source.fmem, "read", self.input_words),
        )
        wmem_rd = self.b.template(
            "wmem_rd",
            "wmem",
            reads=(weights,),
            writes=(_reg("wreg"),),
            actions=((memory_action("wmem", "read"), 1),),
        )
        # The first step of a position starts a fresh sum: it does not read the accumulator.
        operands = (_reg("xreg"), _reg("wreg"))
        mac = self.b.template(
            "mac_first" if first else "mac",
            "array",
            reads=operands if first else (*operands, _reg("acc")),
            writes=(_reg("acc"),),
            actions=((MAC_ACTION, self.macs_per_step),),
        )
        return self.b.ref("first_step" if first else "step", fmem_rd, wmem_rd, mac)

    def _position_end(self, role: str, position: int) -> BlockRef:
        conv, plan = self.conv, self.plan
        partial = Operand("lmem", position, coefs=(0, 0, 0, 1))
        if role == "first":
            return self.b.ref(
                "psum_out",
                self.b.template(
                    "psum_wr",
                    "lmem",
                    reads=(_reg("acc"),),
                    writes=(partial,),
                    actions=((memory_action("lmem", "write"), 1),),
                ),
            )
        if role == "middle":
            return self.b.ref(
                "psum_add",
                self.b.template(
                    "psum_acc",
                    "lmem",
                    reads=(_reg("acc"), partial),
                    writes=(partial,),
                    # Read, add, write back: one word each way.
                    actions=(
                        (memory_action("lmem", "read"), 1),
                        (memory_action("lmem", "write"), 1),
                    ),
                ),
            )
        templates = []
        opu_reads = [_reg("acc"), _reg("breg")]
        if role == "last":
            templates.append(
                self.b.template(
                    "psum_rd",
                    "lmem",
                    reads=(partial,),
                    writes=(_reg("preg"),),
                    actions=((memory_action("lmem", "read"), 1),),
                )
            )
            opu_reads.append(_reg("preg"))
        if plan.residual is not None:
            residual = Operand(
                fmem_space(plan.residual.fmem),
                plan.residual.base + position,
                coefs=(0, conv.out_length, 0, 1),
            )
            templates.append(
                self.b.template(
                    "res_rd",
                    "fmem",
                    instance=plan.residual.fmem,
                    reads=(residual,),
                    writes=(_reg("rreg"),),
                    actions=self._fmem(plan.residual.fmem, "read", self.output_words),
                )
            )
            opu_reads.append(_reg("rreg"))
        if plan.pool_exponent is not None:
            opu_reads.append(_reg("pool"))
            templates.append(
                self.b.template("opu", "opu", reads=tuple(opu_reads), writes=(_reg("pool"),))
            )
        else:
            templates.append(
                self.b.template("opu", "opu", reads=tuple(opu_reads), writes=(_reg("oreg"),))
            )
            out = Operand(
                fmem_space(self.output.fmem),
                self.output.base + position,
                coefs=(0, conv.out_length, 0, 1),
            )
            templates.append(
                self.b.template(
                    "fmem_wr",
                    "fmem",
                    instance=self.output.fmem,
                    reads=(_reg("oreg"),),
                    writes=(out,),
                    actions=self._fmem(self.output.fmem, "write", self.output_words),
                )
            )
        return self.b.ref("output_path", *templates)

    @staticmethod
    def _fmem(fmem: int, access: str, words: int) -> tuple[tuple[str, int], ...]:
        return ((memory_action(fmem_space(fmem), access), words),)


def _mapping(plan: LayerPlan, lowering: _LayerLowering, rows: int, cols: int) -> dict:
    conv = plan.conv
    assert plan.source is not None and plan.output is not None
    mapping: dict[str, int | str] = {
        "op": "fully_connected" if conv.dense else "conv1d",
        "in_channels": conv.in_channels,
        "out_channels": conv.out_channels,
        "in_length": conv.in_length,
        "out_length": conv.out_length,
        "kernel": conv.kernel,
        "stride": conv.stride,
        "padding": conv.padding,
        "input_blocks": lowering.in_blocks,
        "output_blocks": lowering.out_blocks,
        "array_steps": conv.array_steps(rows, cols),
        # For the baselines (analyzer/crosscheck/baselines.py): tensor sizes, and no DRAM
        # traffic during the run (every operand is loaded before it, T passes.py:169-181).
        "input_words": conv.in_channels * conv.in_length,
        "weight_words": conv.in_channels * conv.out_channels * conv.kernel,
        "output_words": conv.out_channels * plan.out_positions,
        "dram_words": 0,
        "config_entry": plan.config_entry,
        "fmem_in": plan.source.fmem,
        "fmem_out": plan.output.fmem,
    }
    if plan.residual is not None:
        mapping["fmem_residual"] = plan.residual.fmem
    if plan.fused:
        mapping["fused"] = ", ".join(plan.fused)
    if plan.pool_exponent is not None:
        mapping["pool_shift"] = plan.pool_exponent
    return mapping


def lower(accelerator: Accelerator, model: Model) -> Program:
    params = accelerator.parameters
    rows, cols = int(params["rows"]), int(params["cols"])
    memory: MemoryPlan = plan_model(accelerator, model)
    blocks = _Blocks(accelerator)
    layers = []
    for plan in memory.layers:
        lowering = _LayerLowering(blocks, plan, memory, rows, cols)
        layer = model.layers[plan.position]
        layers.append(
            LayerProgram(
                layer.name,
                layer.kind,
                plan.conv.useful_macs,
                _mapping(plan, lowering, rows, cols),
                lowering.root(),
            )
        )
    spaces = {fmem_space(i): words for i, words in enumerate(memory.fmem_words)}
    spaces.update(
        {
            "wmem": max(memory.weight_words, 1),
            "bmem": max(memory.bias_words, 1),
            "lmem": memory.lmem_words,
            "cfg": max(len(memory.layers), 1),
        }
    )
    spaces.update({name: 1 for name in REGISTERS})
    return program_of(
        accelerator,
        model,
        spaces=spaces,
        blocks=tuple(blocks.blocks),
        layers=tuple(layers),
        host_layers=memory.host_layers,
        memories=memory.memories,
        datapath=memory.datapath,
        notes=(
            "loop order output block > input block > position > tap, padding taps not "
            "issued, one array step per cycle (assumed: the paper's dataflow is not public)",
            "memory and output-path latencies are assumptions (accelerators/ultratrail.toml)",
        ),
    )
