"""Plasticine's instructions and the lowering of a layer's steps (plan.py) onto them.

A step of every pair is one bundle per *element* (a dot product, or a map or fold output
vector), the pairs in lockstep as the unrolled copies of one pattern:

- GEMM element: `shared_rd`, the shared PMU streaming the element's column of the shared
  tile (ceil(K / lanes) vectors, one per ceil(lanes / pmu_banks) cycles); `broadcast`,
  the switch multicasting it to every pair (grid_rows + grid_cols - 2 hops); per pair,
  `private_rd`, its PMU streaming its row (one hop to its PCU), and `dot`, its PCU taking
  both streams through the lanes, the reduction tree and the accumulating stage.
- Map / fold element: per pair `private_rd` (the inputs of one output vector) and `map` or
  `fold` on its PCU.

Streams: a read's end is its first vector arriving (latency = the PMU's pipeline, plus the
hops), its reads last as long as its vectors flow (read_time); the PCU starts on the first
vector of both inputs and ends pcu_stages + log2(lanes) cycles (a dot product, the
reduction tree and its accumulating stage, PlastisimConfigGen.scala:157,163) after the
last. A stream's head is a *mark* on a register (`svec`, `bvec`, `pvec`), not a write: the
routes are pipelines, so the next element's stream enters while the last one is still in
flight (a write would wait for the previous write to end, WAW), and the consumer reads the
mark its own element left. So elements pipeline at the rate of their slowest unit, by the
dependency rules (docs/design.md §3), with no cycle formula. Assumed: the vector FIFOs
(TopParam.scala:190) absorb a stall of the PCUs, so a stream is not held back by its
consumer.

Double buffering with credits: each private, shared and output tile has two slots; a read
of a slot *read-marks* its credit location when its vectors are through, and the DRAM load
that refills the slot reads that credit (the consumer hands the slot back to the
producer); a `dot` *marks* its output slot at its end, the `store` reads the mark and
read-marks the slot's credit, which the elements two steps later read. The next step's
shared tile and the next round's private tiles are loaded in program order before the
current step's elements, so they overlap them; the DRAM interface serves its transfers in
program order, each busy for its bursts at dram_bytes_per_cycle and done dram_latency
later. (With one in-order DRAM interface the stores of the step that last read a slot
come before its refill and already keep the refill after the reads; the credits state the
rule itself, for a DRAM that would not.)

The loop tree: root > loops over the repeating runs of steps (isa/program.py,
layer_of_steps: the slot pattern repeats every 2 x y_steps steps, and within a tile
every 2 steps; runs within runs nest) > steps > an element loop > a pair loop whose unit
instances and slots move with the pair index; a step whose key does not repeat (such as
a tile's first, which prefetches the next private tiles, or the layer's last, with
nothing to prefetch) stands alone in a one-trip loop. Every loop but the pair loops is
index-independent, so fast evaluation skips them (docs/design.md §4.2).
"""

from __future__ import annotations

from accelerators.description import Accelerator
from isa.family import program_of
from isa.plasticine.plan import WORD_BYTES, Machine, StepPlan, log2_ceil, plan_layer
from isa.program import (
    MAC_ACTION,
    BlockRef,
    BlockTable,
    Datapath,
    LayerProgram,
    Loop,
    Memory,
    Operand,
    Program,
    Template,
    layer_of_steps,
    memory_action,
)
from tracer.workloads.layers import Layer, Model, operand_elements

Node = Loop | BlockRef
SLOTS = 2  # double buffering: two slots per tile
# Longest repeating group of steps looked for: the slot pattern repeats every 2 x y_steps
# steps (at most 154 in the zoo: y_steps 77), runs within it more often.
MAX_STEP_PERIOD = 256
# The memories the actions count, in 32-bit words (TopParam.scala:9, wordWidth 32): every
# PMU's scratchpad as one memory, and the DRAM behind the fringe.
PMU, DRAM = "pmu", "dram"
Actions = tuple[tuple[str, int], ...]


def _moves(source: str, target: str, words: int) -> Actions:
    """`words` read from memory `source` and written to memory `target`."""
    return ((memory_action(source, "read"), words), (memory_action(target, "write"), words))


def _at(depth: int, coef: int) -> tuple[int, ...]:
    """Coefficients moving with the loop at `depth` only."""
    return (0,) * depth + (coef,)


def _slot(space: str, slot: int, pair_depth: int | None) -> Operand:
    """A pair's slot (2 per pair, moving with the pair loop), or the shared tile's."""
    if pair_depth is None:
        return Operand(space, slot)
    return Operand(space, slot, coefs=_at(pair_depth, SLOTS))


class _LayerLowering:
    def __init__(self, blocks: BlockTable, machine: Machine, plan: StepPlan) -> None:
        self.b = blocks
        self.m = machine
        self.plan = plan
        self.stream = plan.vectors * machine.vector_cycles  # cycles one element's vectors flow
        self.shared_pmu = machine.pmus - 1

    # -- instructions ---------------------------------------------------------------

    def _dram(
        self, opcode: str, words: int, reads, writes, actions: Actions, read_marks=()
    ) -> Template:
        busy = self.m.dram_cycles(words)
        return Template(
            opcode,
            "dram",
            instance=0,
            latency=self.m.dram_latency + busy,
            occupancy=busy,
            read_time=busy,
            reads=tuple(reads),
            writes=tuple(writes),
            bundle_start=True,
            read_marks=tuple(read_marks),
            actions=actions,
        )

    def _pair_loop(self, block: BlockRef) -> Loop:
        return Loop("pair", self.plan.pairs, (block,))

    def load_shared(self, slot: int) -> BlockRef:
        template = self._dram(
            "load_shared",
            self.plan.shared_words,
            reads=(Operand("shared_free", slot),),
            writes=(Operand("shared", slot),),
            actions=_moves(DRAM, PMU, self.plan.shared_words),
        )
        return self.b.ref("load_shared", template)

    def load_private(self, slot: int, depth: int) -> Loop:
        template = self._dram(
            "load_private",
            self.plan.private_words,
            reads=(_slot("private_free", slot, depth),),
            writes=(_slot("private", slot, depth),),
            actions=_moves(DRAM, PMU, self.plan.private_words),
        )
        return self._pair_loop(self.b.ref("load_private", template))

    def stores(self, slot: int, depth: int) -> Loop:
        template = self._dram(
            "store",
            self.plan.output_words,
            reads=(_slot("out", slot, depth),),
            writes=(),
            actions=_moves(PMU, DRAM, self.plan.output_words),
            read_marks=(_slot("out_free", slot, depth),),
        )
        return self._pair_loop(self.b.ref("store", template))

    def _pair_templates(
        self, private_slot: int, out_slot: int, depth: int | None, first: int, bundle: bool
    ) -> tuple[Template, Template]:
        """A pair's private read and PCU instruction; the pair index at `depth` moves the
        instances and slots (from pair `first`), or pair `first` alone when depth is None."""
        m, plan, stream = self.m, self.plan, self.stream
        moving = () if depth is None else _at(depth, 1)
        step = () if depth is None else _at(depth, SLOTS)
        pvec = Operand("pvec", first, coefs=moving)
        private = Operand("private", SLOTS * first + private_slot, coefs=step)
        free = Operand("private_free", SLOTS * first + private_slot, coefs=step)
        out = Operand("out", SLOTS * first + out_slot, coefs=step)
        out_free = Operand("out_free", SLOTS * first + out_slot, coefs=step)
        read = Template(
            "private_rd",
            "pmu",
            instance=first,
            instance_coefs=moving,
            latency=m.pmu_latency + m.hop_latency,
            occupancy=stream,
            read_time=stream,
            reads=(private,),
            writes=(),
            read_marks=(free,),
            marks=(pvec,),
            bundle_start=bundle,
            actions=((memory_action(PMU, "read"), self._stream_words()),),
        )
        if plan.kind == "dot":
            opcode, reads, depth_cycles, busy = (
                "dot",
                (pvec, Operand("bvec", 0), out_free),
                m.stages + log2_ceil(m.lanes),
                plan.vectors,
            )
            # Every lane multiplies in every vector, the last one's idle lanes too; the dot
            # product's one result goes to the output tile in the pair's PMU.
            actions: Actions = (
                (MAC_ACTION, plan.vectors * m.lanes),
                (memory_action(PMU, "write"), 1),
            )
        else:
            # A map takes all its inputs' vectors in one cycle; a fold one per cycle.
            opcode, reads, depth_cycles = plan.kind, (pvec, out_free), m.stages
            busy = plan.vectors if plan.kind == "fold" else 1
            # Adds or compares, no multiply-accumulate: one output vector to the PMU.
            actions = ((memory_action(PMU, "write"), m.lanes),)
        compute = Template(
            opcode,
            "pcu",
            instance=first,
            instance_coefs=moving,
            latency=stream - 1 + depth_cycles,
            occupancy=busy,
            read_time=stream,
            reads=reads,
            writes=(),
            bundle_start=False,
            marks=(out,),
            actions=actions,
        )
        return read, compute

    def _stream_words(self) -> int:
        """Words one element's stream reads from a PMU: a dot product's K operands (the
        last vector's idle lanes read nothing), a map's or fold's input vectors whole."""
        plan = self.plan
        return plan.k if plan.kind == "dot" else plan.vectors * self.m.lanes

    def elements(self, private_slot: int, step_slot: int, depth: int) -> Loop:
        """The step's elements (a loop at `depth`), its pair loop one deeper."""
        plan, m, stream = self.plan, self.m, self.stream
        inner = depth + 1
        body: list[Node] = []
        if plan.kind == "dot":
            shared_rd = Template(
                "shared_rd",
                "pmu",
                instance=self.shared_pmu,
                latency=m.pmu_latency,
                occupancy=stream,
                read_time=stream,
                reads=(Operand("shared", step_slot),),
                writes=(),
                read_marks=(Operand("shared_free", step_slot),),
                marks=(Operand("svec", 0),),
                bundle_start=True,
                actions=((memory_action(PMU, "read"), self._stream_words()),),
            )
            broadcast = Template(
                "broadcast",
                "switch",
                instance=0,
                latency=m.broadcast_hops * m.hop_latency,
                occupancy=plan.vectors,
                read_time=stream,
                reads=(Operand("svec", 0),),
                writes=(),
                bundle_start=False,
                marks=(Operand("bvec", 0),),
            )
            body.append(self.b.ref("element", shared_rd, broadcast))
            pair = self._pair_templates(private_slot, step_slot, inner, 0, bundle=False)
            body.append(Loop("pair", plan.pairs, (self.b.ref("element_pair", *pair),)))
        else:
            # The first pair opens the element's bundle; the others ride in it.
            head = self._pair_templates(private_slot, step_slot, None, 0, bundle=True)
            body.append(self.b.ref("element", *head))
            if plan.pairs > 1:
                rest = self._pair_templates(private_slot, step_slot, inner, 1, bundle=False)
                body.append(Loop("pair", plan.pairs - 1, (self.b.ref("element_pair", *rest),)))
        return Loop("element", plan.elements, tuple(body))

    # -- steps ----------------------------------------------------------------------

    def step(self, index: int, depth: int) -> list[Node]:
        """Step `index` of the layer, its loops at `depth`."""
        plan = self.plan
        tile, y_step = divmod(index, plan.y_steps)
        nodes: list[Node] = []
        if plan.shared and index + 1 < plan.steps:
            nodes.append(self.load_shared((index + 1) % SLOTS))
        if y_step == 0 and tile + 1 < plan.groups * plan.rounds:
            nodes.append(self.load_private((tile + 1) % SLOTS, depth))
        nodes.append(self.elements(tile % SLOTS, index % SLOTS, depth))
        nodes.append(self.stores(index % SLOTS, depth))
        return nodes

    def step_key(self, index: int) -> tuple[int, int, bool, bool]:
        """What step `index`'s nodes depend on (step): its slot, its tile's slot, and
        whether it prefetches the next step's shared tile and the next tile's private
        ones. Steps with equal keys are equal nodes at the same depth."""
        plan = self.plan
        tile, y_step = divmod(index, plan.y_steps)
        prefetch_shared = plan.shared and index + 1 < plan.steps
        prefetch_private = y_step == 0 and tile + 1 < plan.groups * plan.rounds
        return index % SLOTS, tile % SLOTS, prefetch_shared, prefetch_private

    def root(self) -> Loop:
        """The first tiles' loads, then the steps in loops over their repeating runs
        (isa/program.py, layer_of_steps)."""
        plan = self.plan
        head: list[Node] = [self.load_shared(0)] if plan.shared else []
        head.append(self.load_private(0, 1))
        keys = [self.step_key(index) for index in range(plan.steps)]
        return layer_of_steps(keys, MAX_STEP_PERIOD, self.step, head)


def _mapping(layer: Layer, plan: StepPlan) -> dict[str, int | str]:
    input_words, weight_words, output_words = operand_elements(layer)
    return {
        "pattern": plan.kind,
        "parallel": plan.parallel,
        "groups": plan.groups,
        "x": plan.x,
        "y": plan.y,
        "k": plan.k,
        "pairs": plan.pairs,
        "rounds": plan.rounds,
        "x_tile": plan.x_tile,
        "y_tile": plan.y_tile,
        "y_steps": plan.y_steps,
        "steps": plan.steps,
        "elements_per_step": plan.elements,
        "vectors_per_element": plan.vectors,
        "private_tile_words": plan.private_words,
        "shared_tile_words": plan.shared_words,
        "output_tile_words": plan.output_words,
        # For the baselines (analyzer/crosscheck/baselines.py): tensor sizes and the words
        # the layer's loads and stores move.
        "input_words": input_words,
        "weight_words": weight_words,
        "output_words": output_words,
        "dram_words": plan.dram_words,
    }


def lower(accelerator: Accelerator, model: Model) -> Program:
    machine = Machine.of(accelerator)
    blocks = BlockTable()
    layers = []
    for layer in model.layers:
        plan = plan_layer(machine, layer)
        root = _LayerLowering(blocks, machine, plan).root()
        layers.append(LayerProgram(layer.name, layer.kind, layer.macs, _mapping(layer, plan), root))
    per_pair = SLOTS * machine.pmus
    spaces = {
        "private": per_pair,
        "private_free": per_pair,
        "out": per_pair,
        "out_free": per_pair,
        "pvec": machine.pmus,
        "shared": SLOTS,
        "shared_free": SLOTS,
        "svec": 1,
        "bvec": 1,
    }
    return program_of(
        accelerator,
        model,
        spaces=spaces,
        blocks=tuple(blocks.blocks),
        layers=tuple(layers),
        memories={
            PMU: Memory("sram", WORD_BYTES, machine.pmus * machine.pmu_words * WORD_BYTES),
            DRAM: Memory("dram", WORD_BYTES, 0),
        },
        # 32-bit operands and accumulators (TopParam.scala:9, wordWidth 32).
        datapath=Datapath(8 * WORD_BYTES, 8 * WORD_BYTES),
        notes=(
            "mapping and stream timing are assumptions from Plasticine's published "
            "parameters (accelerators/plasticine.toml, docs/models.md)",
        ),
    )
