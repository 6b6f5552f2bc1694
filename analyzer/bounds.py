"""What bounds a layer: the busiest unit instance, compared with the cycles measured.

The resource bound is the total occupancy of the busiest unit instance: no schedule can
finish sooner. When the measured cycles are well above it, the layer is latency bound
(pipeline fill and drain, dependencies), and the report says so.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from isa.program import BlockRef, LayerProgram, Loop, Program

RESOURCE_BOUND_SHARE = 0.9  # at or above this share of the cycles, the unit is the bound


@dataclass(frozen=True)
class LayerBound:
    unit: str  # kind of the busiest unit instance
    busy_cycles: int  # its total occupancy
    busy_share: float  # busy_cycles / layer cycles

    def describe(self) -> str:
        share = f"{100 * self.busy_share:.0f}%"
        if self.busy_share >= RESOURCE_BOUND_SHARE:
            return f"{self.unit}-bound (busiest {self.unit} {share})"
        return f"latency-bound (busiest {self.unit} {share})"


def block_executions(layer: LayerProgram) -> Counter[int]:
    """How many times each block runs in one execution of the layer."""
    counts: Counter[int] = Counter()

    def walk(node: Loop | BlockRef, multiplier: int) -> None:
        if isinstance(node, BlockRef):
            counts[node.block] += multiplier
            return
        for child in node.body:
            walk(child, multiplier * node.trips)

    walk(layer.root, 1)
    return counts


def resource_bound(layer: LayerProgram, program: Program, cycles: int) -> LayerBound:
    busy: Counter[tuple[str, int]] = Counter()
    for block_id, executions in block_executions(layer).items():
        for template in program.blocks[block_id].templates:
            busy[(template.unit, template.instance)] += executions * template.occupancy
    (unit, _), busy_cycles = busy.most_common(1)[0]
    return LayerBound(unit, busy_cycles, busy_cycles / cycles if cycles else 0.0)
