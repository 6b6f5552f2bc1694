"""Recurrence bound: the loop-carried dependency cycles of a kernel iteration.

For a block repeated by a loop, the dependency graph of one iteration has an edge u -> v
of weight w and distance d when start(v in iteration k + d) >= start(u in iteration k) + w.
The rules are those of docs/design.md §3: RAW and WAW (w = latency of the earlier writer),
WAR (w = read time of the reader - latency of the writer), and in-order unit instances
(w = occupancy). Operands whose address depends on a loop index, and the unit edges of
templates whose unit instance does, are left out, which can only lower the bound; so are
marks, queues and the front end.

Every cycle needs a loop-carried edge (distance-0 edges follow program order), so a cycle
of total weight W over K iterations forces W cycles per K iterations. The edges are built
from the packed templates (analyzer/engine/packing.py) and the maximum ratio W/K found by
the compiled kernels of analyzer/engine/recurrence_kernels.py, exactly, in integers.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

import numpy as np

from analyzer.engine.kernels import (
    T_INSTANCE_OFFSET,
    T_LATENCY,
    T_MARKS_END,
    T_OCCUPANCY,
    T_OPERANDS_FIRST,
    T_READ_TIME,
    T_READS_END,
    T_UNIT,
    T_WRITES_END,
)
from analyzer.engine.packing import PackedBlocks
from analyzer.engine.recurrence_kernels import dependency_edges, maximum_cycle_ratio


@dataclass(frozen=True)
class CriticalCycle:
    weight: int  # W: cycles the cycle forces
    iterations: int  # K: loop iterations it spans

    @property
    def ratio(self) -> Fraction:
        return Fraction(self.weight, self.iterations)


@dataclass(frozen=True)
class DependencyEdges:
    """The dependency graph of one iteration of a block: nodes are its templates in
    program order, edge k goes source[k] -> target[k] (int64 arrays)."""

    nodes: int
    source: np.ndarray
    target: np.ndarray
    weight: np.ndarray
    distance: np.ndarray


def block_dependency_edges(blocks: PackedBlocks, block: int) -> DependencyEdges:
    """The edges of block `block` of a packed program, from its templates' fixed-address
    reads and writes (each operand's locations one by one) and unit instances."""
    lo, hi = int(blocks.block_first[block]), int(blocks.block_first[block + 1])
    arrays = blocks.arrays
    rows = arrays.templates[lo:hi]
    if hi == lo:
        empty = np.zeros(0, np.int64)
        return DependencyEdges(0, empty, empty, empty, empty)
    # The block's operands are consecutive in the operand table, template by template:
    # reads, writes, then marks (analyzer/engine/template_row.py).
    first_operand, end_operand = int(rows[0, T_OPERANDS_FIRST]), int(rows[-1, T_MARKS_END])
    operand = np.arange(first_operand, end_operand)
    template = np.repeat(np.arange(hi - lo), rows[:, T_MARKS_END] - rows[:, T_OPERANDS_FIRST])
    is_read = operand < rows[template, T_READS_END]
    is_write = ~is_read & (operand < rows[template, T_WRITES_END])
    kept = np.nonzero((is_read | is_write) & (arrays.operand_affine[operand] == 0))[0]
    counts = arrays.operand_count[operand[kept]]
    # One access per location of each kept operand, in operand order.
    access = np.repeat(kept, counts)
    within = np.arange(access.shape[0]) - np.repeat(np.cumsum(counts) - counts, counts)
    moving = arrays.offset_coefs[rows[:, T_INSTANCE_OFFSET]].any(axis=1)
    source, target, weight, distance = dependency_edges(
        np.where(moving, -1, rows[:, T_UNIT]),
        rows[:, T_LATENCY].copy(),
        rows[:, T_OCCUPANCY].copy(),
        rows[:, T_READ_TIME].copy(),
        template[access],
        arrays.operand_location[operand[access]] + within,
        is_write[access],
    )
    return DependencyEdges(hi - lo, source, target, weight, distance)


def critical_cycle(edges: DependencyEdges) -> CriticalCycle | None:
    """A cycle of maximum weight/iterations ratio, or None if the graph has no cycle."""
    weight, iterations = maximum_cycle_ratio(
        edges.nodes, edges.source, edges.target, edges.weight, edges.distance
    )
    return None if iterations == 0 else CriticalCycle(int(weight), int(iterations))


class CriticalCycles:
    """The critical cycle of each block of one packed program, found on first use."""

    def __init__(self, blocks: PackedBlocks) -> None:
        self.blocks = blocks
        self._found: dict[int, CriticalCycle | None] = {}

    def of(self, block: int) -> CriticalCycle | None:
        if block not in self._found:
            self._found[block] = critical_cycle(block_dependency_edges(self.blocks, block))
        return self._found[block]
