"""What bounds a layer: lower bounds compared with the cycles measured.

Resource bound: the total occupancy of the busiest unit instance, the front end's
bundles / bundles_per_cycle, or a queue's total latency over its entries (each instruction
holds an entry from its start to its end, so entries x cycles >= the sum of latencies);
no schedule finishes sooner. Recurrence bound (when a CriticalCycles is given,
analyzer/engine/recurrence.py): the critical loop-carried dependency cycle of a repeated
block, W cycles every K iterations, over each visit of its loop. When the measured cycles are
well above both, the layer is latency bound (fill and drain), and the report says so.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from fractions import Fraction

import numpy as np

from analyzer.engine.packing import PackedBlocks, PackedLayer
from analyzer.engine.recurrence import CriticalCycles
from analyzer.engine.signatures import BLOCK
from analyzer.engine.template_row import COLUMN
from isa.program import BlockRef, LayerProgram, Loop, Program

RESOURCE_BOUND_SHARE = 0.9  # at or above this share of the cycles, the unit is the bound
_UNIT, _LATENCY, _OCCUPANCY = COLUMN["unit"], COLUMN["latency"], COLUMN["occupancy"]
_INSTANCE_OFFSET = COLUMN["instance_offset"]
_BUNDLE_START, _QUEUE, _ISSUE_QUEUE = COLUMN["bundle_start"], COLUMN["queue"], COLUMN["issue_queue"]
_FRONTEND = COLUMN["frontend"]


@dataclass(frozen=True)
class LayerBound:
    # kind of the busiest unit instance, "frontend" (the default one), "<name> frontend"
    # or "<name> queue"
    unit: str
    busy_cycles: int  # its total occupancy
    cycles: int  # the layer's measured cycles
    recurrence_cycles: int | None = None  # None: not computed
    recurrence_loop: str = ""
    recurrence_ratio: Fraction | None = None  # cycles per iteration of that loop
    instance: int | None = None  # the busiest instance of `unit` (the first of equals)
    instances: int = 1  # how many instances of `unit` the machine has
    unused: int = 0  # of those, how many run no instruction in the layer

    @property
    def busy_share(self) -> float:
        return self.busy_cycles / self.cycles if self.cycles else 0.0

    @property
    def busiest(self) -> str:
        """The busiest resource as the report names it: `pe[3]` where a kind has several
        instances, else the kind (`store`, `frontend`, `load queue`)."""
        if self.instance is None or self.instances == 1:
            return self.unit
        return f"{self.unit}[{self.instance}]"

    def describe(self, idle: int | None = None) -> str:
        """The verdict. `idle`: instances of the busiest kind that do no useful work in the
        layer, which explains a busy unit beside a low utilisation; None: those that run
        no instruction (a mapping may know more: a systolic array steps every PE)."""
        idle = self.unused if idle is None else idle
        busy = f"busiest {self.busiest} {100 * self.busy_share:.0f}%"
        if idle:
            busy += f"; {idle:,} of {self.instances:,} {self.unit} idle"
        recurrence = self.recurrence_cycles or 0
        if recurrence > self.busy_cycles:
            share = recurrence / self.cycles if self.cycles else 0.0
            what = (
                f"{self.recurrence_loop} recurrence {self.recurrence_ratio} cycles/iteration "
                f"{100 * share:.0f}%"
            )
            kind = "recurrence-bound" if share >= RESOURCE_BOUND_SHARE else "latency-bound"
            return f"{kind} ({what})"
        if self.busy_share >= RESOURCE_BOUND_SHARE:
            return f"{self.unit}-bound ({busy})"
        return f"latency-bound ({busy})"


def _unit_offsets(program: Program) -> dict[str, int]:
    offsets, total = {}, 0
    for name, instances in program.units.items():
        offsets[name] = total
        total += instances
    return offsets


def range_runs(packed: PackedLayer) -> dict[tuple[int, int], int]:
    """How many times one execution of the layer runs each template range [first, end)
    its BLOCK ops name (ranges it never runs left out)."""
    ops = packed.arrays
    is_block = ops.kind == BLOCK
    ranges: dict[tuple[int, int], int] = {}
    for first, end, runs in zip(
        ops.arg[is_block].tolist(),
        ops.arg2[is_block].tolist(),
        packed.op_runs[is_block].tolist(),
        strict=True,
    ):
        if runs:
            ranges[(first, end)] = ranges.get((first, end), 0) + runs
    return ranges


@dataclass(frozen=True)
class RangeUsage:
    """What one run of a template range asks of the machine: the terms of the resource
    bound, which a layer adds up by how often it runs each range. Templates whose unit
    instance moves with the loops are left out of `units` (_add_moving_usage places
    them)."""

    units: np.ndarray  # distinct fixed unit instances (global ids), ascending
    busy: np.ndarray  # occupancy one run puts on each of `units`
    overhang: np.ndarray  # per unit of `units`: largest occupancy - latency of a template
    bundles: np.ndarray  # bundle starts per front end (Program.frontend_list's order)
    hold: np.ndarray  # queue entry cycles per queue (an instruction holds one its latency)
    min_latency: int
    moving: bool  # some template's unit instance moves with the loops


class ResourceUsage:
    """The RangeUsage of each template range of one packed program, found on first use,
    so a layer's resource bound sums over its few ranges, not over every template it runs
    (524,288 a step at 512x512, again for every layer)."""

    def __init__(self, program: Program, blocks: PackedBlocks) -> None:
        self.blocks = blocks
        self.frontends = len(program.frontends) + 1
        self.queues = len(program.queues)
        self._moving = blocks.arrays.offset_coefs.any(axis=1)  # per offset: few rows
        self._found: dict[tuple[int, int], RangeUsage] = {}

    def of(self, first: int, end: int) -> RangeUsage:
        usage = self._found.get((first, end))
        if usage is None:
            usage = self._found[(first, end)] = self._usage(first, end)
        return usage

    def _usage(self, first: int, end: int) -> RangeUsage:
        rows = self.blocks.arrays.templates[first:end]
        latency, occupancy = rows[:, _LATENCY], rows[:, _OCCUPANCY]
        fixed = ~self._moving[rows[:, _INSTANCE_OFFSET]]
        units, where = np.unique(rows[fixed, _UNIT], return_inverse=True)
        busy = np.zeros(units.shape[0], dtype=np.int64)
        np.add.at(busy, where, occupancy[fixed])
        # The last instruction on an instance ends `latency` after it starts, which may be
        # before its occupancy runs out: the bound subtracts the largest such overhang.
        overhang = np.full(units.shape[0], np.iinfo(np.int64).min, dtype=np.int64)
        np.maximum.at(overhang, where, occupancy[fixed] - latency[fixed])
        bundles = np.zeros(self.frontends, dtype=np.int64)
        np.add.at(bundles, rows[:, _FRONTEND], rows[:, _BUNDLE_START])
        hold = np.zeros(self.queues, dtype=np.int64)
        for column in (_QUEUE, _ISSUE_QUEUE):
            queue = rows[:, column]
            has = queue >= 0
            np.add.at(hold, queue[has], latency[has])
        return RangeUsage(units, busy, overhang, bundles, hold, int(latency.min()), not fixed.all())


def layer_bound(
    layer: LayerProgram,
    program: Program,
    cycles: int,
    packed: PackedLayer,
    usage: ResourceUsage,
    critical: CriticalCycles | None = None,
) -> LayerBound:
    """Resource bound always; the recurrence bound when `critical` is given. `usage` and
    `critical` are per-program caches, filled on first use of each range and block;
    `packed`: the layer packed with their blocks, whose op runs say what each template
    range costs the layer."""
    ranges = range_runs(packed)
    if not ranges:
        return LayerBound("-", 0, cycles)
    size = sum(program.units.values())
    busy = np.zeros(size, dtype=np.int64)
    overhang = np.zeros(size, dtype=np.int64)
    used = np.zeros(size, dtype=np.bool_)
    bundles = np.zeros(usage.frontends, dtype=np.int64)
    hold = np.zeros(usage.queues, dtype=np.int64)
    min_latency, moving = np.iinfo(np.int64).max, False
    for (first, end), times in ranges.items():
        run = usage.of(first, end)
        busy[run.units] += times * run.busy
        overhang[run.units] = np.maximum(overhang[run.units], run.overhang)
        used[run.units] = True
        bundles += times * run.bundles
        hold += times * run.hold
        min_latency = min(min_latency, run.min_latency)
        moving |= run.moving
    if moving:
        _add_moving_usage(layer, program, busy, overhang, used)
    net = np.where(used, busy - overhang, np.iinfo(np.int64).min)
    busiest = int(np.argmax(net))
    busy_cycles = int(net[busiest])
    unit_name, first = next(
        (name, first)
        for name, first in reversed(_unit_offsets(program).items())
        if busiest >= first
    )
    instance: int | None = busiest - first
    # A front end's last bundle issues no earlier than ceil(bundles / width) - 1, and its
    # instructions end at least `delay + latency` later.
    names = ("frontend", *(f"{name} frontend" for name in program.frontends))
    for name, count, spec in zip(names, bundles.tolist(), program.frontend_list(), strict=True):
        frontend = -(-count // spec.bundles_per_cycle) - 1 + spec.delay + min_latency
        if count and frontend > busy_cycles:
            unit_name, busy_cycles, instance = name, frontend, None
    for (name, entries), held in zip(program.queues.items(), hold.tolist(), strict=True):
        if held // entries > busy_cycles:
            unit_name, busy_cycles, instance = f"{name} queue", held // entries, None
    instances = program.units.get(unit_name, 1)
    which = {
        "instance": instance,
        "instances": instances,
        "unused": 0 if instance is None else int(instances - used[first : first + instances].sum()),
    }
    if critical is None:
        return LayerBound(unit_name, busy_cycles, cycles, **which)
    loop, recurrence, ratio = _recurrence(layer, critical)
    return LayerBound(unit_name, busy_cycles, cycles, recurrence, loop, ratio, **which)


def _add_moving_usage(
    layer: LayerProgram,
    program: Program,
    busy: np.ndarray,
    overhang: np.ndarray,
    used: np.ndarray,
) -> None:
    """Add the templates whose unit instance moves with the loops, placement by placement:
    each instance it reaches, as often as the indices reach it."""
    moving = [
        tuple(t for t in block.templates if any(t.instance_coefs)) for block in program.blocks
    ]
    offsets = _unit_offsets(program)
    placements: Counter[tuple[int, tuple[int, ...]]] = Counter()

    def walk(node: Loop | BlockRef, trips: tuple[int, ...]) -> None:
        if isinstance(node, BlockRef):
            if moving[node.block]:
                placements[(node.block, trips)] += 1
            return
        for child in node.body:
            walk(child, (*trips, node.trips))

    walk(layer.root, ())
    for (block, trips), times in placements.items():
        for t in moving[block]:
            instances, counts = _instance_counts(t.instance, t.instance_coefs, trips)
            if counts.size == 0:
                continue
            index = offsets[t.unit] + instances
            busy[index] += times * counts * t.occupancy
            overhang[index] = np.maximum(overhang[index], t.occupancy - t.latency)
            used[index] = True


def _instance_counts(
    base: int, coefs: tuple[int, ...], trips: tuple[int, ...]
) -> tuple[np.ndarray, np.ndarray]:
    """The instances base + coefs . index reaches under loops of `trips`, and how many
    times each (distinct instances, ascending)."""
    instances = np.array([base], dtype=np.int64)
    counts = np.ones(1, dtype=np.int64)
    for depth, n in enumerate(trips):
        coef = coefs[depth] if depth < len(coefs) else 0
        if n == 0:
            return instances[:0], counts[:0]
        if coef == 0:
            counts = counts * n
            continue
        reached = (instances[:, None] + coef * np.arange(n, dtype=np.int64)[None, :]).ravel()
        instances, where = np.unique(reached, return_inverse=True)
        summed = np.zeros(instances.shape[0], dtype=np.int64)
        np.add.at(summed, where.reshape(-1), np.repeat(counts, n))  # exact, in integers
        counts = summed
    return instances, counts


def _recurrence(layer: LayerProgram, critical: CriticalCycles) -> tuple[str, int, Fraction | None]:
    """Largest recurrence bound over loops whose body is one block. Each visit of n
    iterations contains floor((n-1)/K) turns of the critical cycle, W cycles each; visits
    follow each other on the cycle's unit instances, which run in order."""
    best: tuple[str, int, Fraction | None] = ("", 0, None)

    def walk(node: Loop | BlockRef, visits: int) -> None:
        nonlocal best
        if isinstance(node, BlockRef):
            return
        if len(node.body) == 1 and isinstance(node.body[0], BlockRef):
            cycle = critical.of(node.body[0].block)
            if cycle is not None and cycle.weight > 0:
                bound = visits * ((node.trips - 1) // cycle.iterations) * cycle.weight
                if bound > best[1]:
                    best = (node.name, bound, cycle.ratio)
        for child in node.body:
            walk(child, visits * node.trips)

    walk(layer.root, 1)
    return best
