"""What a layer does besides taking time: exact counts of its actions (docs/design.md §10).

Every instruction of a layer runs exactly once, whatever its timing, so a layer's count of
an action is a sum over its loop tree: a block's executions are the product of the trips
above it, each template adds its `actions` per execution. Fast mode skips evaluating
instructions, never running them, so these counts are the same in both modes by
construction; tests/test_actions.py checks the counting against the instructions one by
one. A family whose memory side works apart from the instructions (the systolic array's
DRAM) adds that side's counts through Family.layer_actions.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import numpy as np

from isa.family import from_mapping
from isa.program import (
    ACCESSES,
    MAC_ACTION,
    Block,
    BlockRef,
    LayerProgram,
    Loop,
    Program,
    memory_action,
)
from isa.registry import FAMILIES


@dataclass(frozen=True)
class MemoryTraffic:
    """Reads and writes of one memory in a layer, in its words and in bytes."""

    memory: str
    kind: str  # the Memory's kind: "dram" or "sram"
    read_words: int
    write_words: int
    word_bytes: int

    @property
    def read_bytes(self) -> int:
        return self.read_words * self.word_bytes

    @property
    def write_bytes(self) -> int:
        return self.write_words * self.word_bytes


@dataclass(frozen=True)
class LayerActions:
    """A layer's actions: the MACs its instructions issue (`useful` of them are the
    layer's own MACs, the rest run on idle or padded lanes) and its memories' traffic, in
    the order of Program.memories."""

    macs_issued: int
    macs_useful: int
    traffic: tuple[MemoryTraffic, ...]

    @property
    def macs_idle(self) -> int:
        return self.macs_issued - self.macs_useful

    def counts(self) -> dict[str, int]:
        """Every action with its count, named as templates name them."""
        counts = {MAC_ACTION: self.macs_issued}
        for memory in self.traffic:
            counts[memory_action(memory.memory, "read")] = memory.read_words
            counts[memory_action(memory.memory, "write")] = memory.write_words
        return counts


class ActionCounter:
    """Counts per layer of one program. Subtrees shared between layers (isa/sharing.py)
    are counted once: ResNet-50's 54 layers on the systolic array share one block."""

    def __init__(self, program: Program) -> None:
        self.program = program
        self._blocks = [_block_actions(block) for block in program.blocks]
        self._nodes: dict[int, Counter[str]] = {}
        # The same per block as a matrix (block x action, in _names' order), for counting
        # from how often a layer runs each block.
        self._names = sorted({action for counts in self._blocks for action in counts})
        self._per_block = np.array(
            [[counts[action] for action in self._names] for counts in self._blocks],
            dtype=np.int64,
        ).reshape(len(self._blocks), len(self._names))
        family = FAMILIES.get(program.isa)
        self._outside = None if family is None else family.layer_actions

    def layer(self, layer: LayerProgram) -> LayerActions:
        return self.of(layer, self.loop_counts(layer.root))

    def loop_counts(self, root: Loop) -> Counter[str]:
        """Each action's count over the loop tree `root`, walking it (each distinct node
        once per counter)."""
        return Counter(self._node(root))

    def loop_counts_from_runs(self, block_runs: np.ndarray) -> Counter[str]:
        """The same counts from how often the layer runs each block (int64 per block,
        PackedLayer.block_runs, which packing gives without a walk)."""
        totals = block_runs @ self._per_block
        return Counter(dict(zip(self._names, totals.tolist(), strict=True)))

    def of(self, layer: LayerProgram, loop_counts: Counter[str]) -> LayerActions:
        """`layer`'s actions: its loop tree's counts (`loop_counts`) and those its
        family's memory side adds."""
        counts = Counter(loop_counts)
        if self._outside is not None:
            counts.update(from_mapping(self._outside, layer, self.program))
        traffic = tuple(
            MemoryTraffic(
                name,
                memory.kind,
                *(counts[memory_action(name, access)] for access in ACCESSES),
                memory.word_bytes,
            )
            for name, memory in self.program.memories.items()
        )
        return LayerActions(counts[MAC_ACTION], layer.macs, traffic)

    def _node(self, node: Loop | BlockRef) -> Counter[str]:
        if isinstance(node, BlockRef):
            return self._blocks[node.block]
        # id() is safe: the program holds every node for the counter's lifetime. Equal
        # names and trips are not enough: bodies differ (a conv's edge tiles).
        key = id(node)
        known = self._nodes.get(key)
        if known is None:
            body: Counter[str] = Counter()
            for child in node.body:
                body.update(self._node(child))
            known = Counter({action: node.trips * amount for action, amount in body.items()})
            self._nodes[key] = known
        return known


def _block_actions(block: Block) -> Counter[str]:
    counts: Counter[str] = Counter()
    for template in block.templates:
        for action, amount in template.actions:
            counts[action] += amount
    return counts
