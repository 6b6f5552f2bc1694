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

from analyzer.engine import compiled
from analyzer.engine.packing import PackedBlocks
from analyzer.engine.template_row import (
    T_BUNDLE_START,
    T_INSTANCE_OFFSET,
    T_LATENCY,
    T_OCCUPANCY,
    T_OPERANDS_FIRST,
    T_READ_TIME,
    T_READS_END,
    T_UNIT,
    T_WRITES_END,
)
from isa.program import MAX_DEPTH, BlockRef, Loop, count_per_block


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


def template_columns(blocks: PackedBlocks) -> np.ndarray:
    """What block_edges reads of every template of a packed program, a row per column
    (recurrence_kernels.block_edges): the unit, -1 where the unit instance moves with the
    loops (its edges are left out), latency, occupancy, read time, and its operands'
    first, end of reads and end of writes."""
    rows = blocks.arrays.templates
    moving = blocks.arrays.offset_coefs[rows[:, T_INSTANCE_OFFSET]].any(axis=1)
    return np.ascontiguousarray(
        np.stack(
            (
                np.where(moving, -1, rows[:, T_UNIT]),
                rows[:, T_LATENCY],
                rows[:, T_OCCUPANCY],
                rows[:, T_READ_TIME],
                rows[:, T_OPERANDS_FIRST],
                rows[:, T_READS_END],
                rows[:, T_WRITES_END],
            )
        ),
        dtype=np.int64,
    )


def block_dependency_edges(blocks: PackedBlocks, block: int) -> DependencyEdges:
    """The edges of block `block` of a packed program, from its templates' fixed-address
    reads and writes (each operand's locations one by one) and unit instances."""
    lo, hi = int(blocks.block_first[block]), int(blocks.block_first[block + 1])
    arrays = blocks.arrays
    source, target, weight, distance = compiled.block_edges(
        template_columns(blocks),
        arrays.operand_location,
        arrays.operand_count,
        arrays.operand_affine,
        lo,
        hi,
    )
    return DependencyEdges(hi - lo, source, target, weight, distance)


def cycle_found(weight: int, iterations: int) -> CriticalCycle | None:
    """A kernel's (W, K) as a cycle; None for its (0, 0), no cycle."""
    return None if iterations == 0 else CriticalCycle(int(weight), int(iterations))


def critical_cycle(edges: DependencyEdges) -> CriticalCycle | None:
    """A cycle of maximum weight/iterations ratio, or None if the graph has no cycle."""
    return cycle_found(
        *compiled.maximum_cycle_ratio(
            edges.nodes, edges.source, edges.target, edges.weight, edges.distance
        )
    )


# The largest step body whose recurrence is found, unrolled: a 512 x 512 array's stream
# step is 262,656 instructions.
STEP_INSTRUCTIONS = 1 << 20


def _executions(body: tuple[Loop | BlockRef, ...], depth: int) -> tuple[np.ndarray, np.ndarray]:
    """The block executions of one run of `body`, whose loops sit at `depth`, in program
    order: their blocks, and each one's loop indices (a row of MAX_DEPTH, 0 outside)."""
    blocks: list[np.ndarray] = []
    indices: list[np.ndarray] = []
    for child in body:
        if isinstance(child, BlockRef):
            blocks.append(np.array([child.block], dtype=np.int64))
            indices.append(np.zeros((1, MAX_DEPTH), dtype=np.int64))
            continue
        inner, at = _executions(child.body, depth + 1)
        blocks.append(np.tile(inner, child.trips))
        repeated = np.tile(at, (child.trips, 1))
        repeated[:, depth] = np.repeat(np.arange(child.trips, dtype=np.int64), len(inner))
        indices.append(repeated)
    if not blocks:
        return np.zeros(0, dtype=np.int64), np.zeros((0, MAX_DEPTH), dtype=np.int64)
    return np.concatenate(blocks), np.concatenate(indices)


class CriticalCycles:
    """The critical cycle of each block of one packed program, found on first use, and
    the recurrence bound of its loop trees."""

    def __init__(self, blocks: PackedBlocks) -> None:
        self.blocks = blocks
        self._columns = template_columns(blocks)
        self._found: dict[int, CriticalCycle | None] = {}
        # Per loop subtree, by id(): the subtree (held, so no other takes its id) and
        # the best of its loops as `bound` ranks them, relative to one visit of it.
        self._best: dict[tuple[int, int], tuple[Loop, int, str, Fraction | None]] = {}
        self._ranked_ids: set[int] = set()  # of loops in `_best`, at some depth
        self._block_bundles: list[int] | None = None  # per block, as `_bundles` says
        self._loop_bundles: dict[int, tuple[Loop, int]] = {}  # per loop (held), the same
        # Per step body (its children's ids, held) and depth: its critical cycle.
        self._steps: dict[tuple[tuple[int, ...], int], tuple[Loop, CriticalCycle | None]] = {}

    def of(self, block: int) -> CriticalCycle | None:
        if block not in self._found:
            self.find([block])
        return self._found[block]

    def find(self, blocks: list[int]) -> None:
        """Find the critical cycles of `blocks` not found yet, in one kernel call."""
        new = np.array([b for b in dict.fromkeys(blocks) if b not in self._found], np.int64)
        if not len(new):
            return
        weight = np.zeros(len(new), np.int64)
        iterations = np.zeros(len(new), np.int64)
        arrays = self.blocks.arrays
        compiled.block_critical_cycles(
            self._columns,
            arrays.operand_location,
            arrays.operand_count,
            arrays.operand_affine,
            self.blocks.block_first,
            new,
            weight,
            iterations,
        )
        for block, w, k in zip(new.tolist(), weight.tolist(), iterations.tolist(), strict=True):
            self._found[block] = cycle_found(w, k)

    def of_step(self, node: Loop, depth: int) -> CriticalCycle | None:
        """The critical cycle of loop `node` at loop depth `depth` whose body nests loops
        and opens one bundle, at its first instruction: a step of an array written as
        loops over its rows and columns (docs/design.md §6.2); None otherwise, or for a
        body of more than STEP_INSTRUCTIONS instructions. Its nested loops are unrolled:
        an address or unit instance they move is a fixed one in each of their iterations,
        while one that the loop itself or an outer loop moves is left out, as a block's
        affine operands are."""
        key = (tuple(map(id, node.body)), depth)
        if key not in self._steps:
            self._steps[key] = (node, self._step_cycle(node.body, depth))
        return self._steps[key][1]

    def _step_cycle(self, body: tuple[Loop | BlockRef, ...], depth: int) -> CriticalCycle | None:
        if self._bundles(body) != 1:
            return None
        lengths = np.diff(self.blocks.block_first).tolist()
        size = sum(count_per_block(child, lambda ref: lengths[ref.block]) for child in body)
        if size > STEP_INSTRUCTIONS:
            return None
        executed, index = _executions(body, depth + 1)
        arrays = self.blocks.arrays
        return cycle_found(
            *compiled.step_critical_cycle(
                arrays.templates,
                arrays.offset_coefs,
                arrays.operand_offset,
                arrays.operand_location,
                arrays.operand_count,
                self.blocks.block_first,
                executed,
                index,
                depth,
            )
        )

    def _bundles(self, body: tuple[Loop | BlockRef, ...]) -> int:
        """1 when one run of `body` opens one bundle, at its first instruction; 0 when it
        opens none; 2 otherwise (as packing_kernels.layer_ops composes them)."""
        if self._block_bundles is None:
            rows, first = self.blocks.arrays.templates, self.blocks.block_first
            opens = rows[:, T_BUNDLE_START] != 0
            counts = np.add.reduceat(opens.astype(np.int64), first[:-1]) if len(opens) else []
            self._block_bundles = [
                0 if first[b] == first[b + 1] or counts[b] == 0
                else 1 if counts[b] == 1 and opens[first[b]]
                else 2
                for b in range(len(first) - 1)
            ]  # fmt: skip
        bundles, seen = 0, False
        for child in body:
            if isinstance(child, BlockRef):
                own = self._block_bundles[child.block]  # a block is never empty (§2.5)
            elif child.trips == 0:
                continue
            else:
                known = self._loop_bundles.get(id(child))
                if known is None:
                    inner = self._bundles(child.body)
                    known = self._loop_bundles[id(child)] = (
                        child,
                        inner if child.trips == 1 or inner == 0 else 2,
                    )
                own = known[1]
            if not seen:
                bundles, seen = own, True
            elif own != 0:
                bundles = 2
        return bundles

    def bound(self, root: Loop) -> tuple[str, int, Fraction | None]:
        """The largest recurrence bound over the loops of `root` whose body is one block,
        with the loop's name and the cycle's ratio (("", 0, None): none). Each visit of n
        iterations contains floor((n - 1) / K) turns of the critical cycle, W cycles each;
        visits follow each other on the cycle's unit instances, which run in order. Of
        equal bounds the first in pre-order is named.

        A subtree's best loop is the same at every visit count (bounds scale with it), so
        it is ranked once per subtree object and the lowerings' shared subtrees cost once
        per program; the critical cycles of the blocks a tree repeats are found in one
        kernel call first."""
        self.find(self._repeated_blocks(root))
        _, value, name, ratio = self._ranked(root, 0)
        return name, value, ratio

    def _repeated_blocks(self, root: Loop) -> list[int]:
        """The blocks that loops of `root` repeat alone, in subtrees not ranked yet."""
        blocks: list[int] = []
        seen: set[int] = set()
        stack: list[Loop | BlockRef] = [root]
        while stack:
            node = stack.pop()
            if isinstance(node, BlockRef) or id(node) in self._ranked_ids or id(node) in seen:
                continue
            seen.add(id(node))
            if len(node.body) == 1 and isinstance(node.body[0], BlockRef):
                blocks.append(node.body[0].block)
            stack.extend(node.body)
        return blocks

    def _ranked(self, node: Loop, depth: int) -> tuple[Loop, int, str, Fraction | None]:
        known = self._best.get((id(node), depth))
        if known is not None:
            return known
        value, name, ratio = 0, "", None
        if len(node.body) == 1 and isinstance(node.body[0], BlockRef):
            cycle = self._found[node.body[0].block]
        elif node.trips > 1 and any(isinstance(child, Loop) for child in node.body):
            cycle = self.of_step(node, depth)
        else:
            cycle = None
        if cycle is not None and cycle.weight > 0:
            own = ((node.trips - 1) // cycle.iterations) * cycle.weight
            if own > value:
                value, name, ratio = own, node.name, cycle.ratio
        for child in node.body:
            if isinstance(child, Loop):
                _, child_value, child_name, child_ratio = self._ranked(child, depth + 1)
                if node.trips * child_value > value:
                    value, name, ratio = node.trips * child_value, child_name, child_ratio
        ranked = self._best[(id(node), depth)] = (node, value, name, ratio)
        self._ranked_ids.add(id(node))
        return ranked
