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


class ResourceUsage:
    """What one run of each block of a packed program asks of the machine, the terms of
    the resource bound, worked out once for the program: a layer's bound then weighs them
    by how often it runs each block, not template by template again (524,288 templates a
    step at 512x512, for every layer). Templates whose unit instance moves with the loops
    are left out of the per-unit terms (_add_moving_usage places them)."""

    def __init__(self, program: Program, blocks: PackedBlocks) -> None:
        self.blocks = blocks
        rows = blocks.arrays.templates
        n_blocks = len(blocks.block_first) - 1
        block = np.repeat(np.arange(n_blocks), np.diff(blocks.block_first))
        latency, occupancy = rows[:, _LATENCY], rows[:, _OCCUPANCY]
        fixed = ~blocks.arrays.offset_coefs.any(axis=1)[rows[:, _INSTANCE_OFFSET]]
        # Per (block, fixed unit instance) pair: the occupancy one run of the block puts
        # on the instance, and its largest occupancy - latency (the last instruction on
        # an instance ends `latency` after it starts, maybe before its occupancy runs out).
        size = blocks.arrays.n_units
        pairs, where = np.unique(block[fixed] * size + rows[fixed, _UNIT], return_inverse=True)
        self.pair_block, self.pair_unit = pairs // size, pairs % size
        self.pair_busy = np.zeros(len(pairs), dtype=np.int64)
        np.add.at(self.pair_busy, where, occupancy[fixed])
        self.pair_overhang = np.full(len(pairs), np.iinfo(np.int64).min, dtype=np.int64)
        np.maximum.at(self.pair_overhang, where, occupancy[fixed] - latency[fixed])
        # Per block: bundle starts per front end (Program.frontend_list's order), queue
        # entry cycles per queue (an instruction holds one for its latency), the shortest
        # latency, and whether some template's instance moves.
        self.bundles = np.zeros((n_blocks, len(program.frontends) + 1), dtype=np.int64)
        np.add.at(self.bundles, (block, rows[:, _FRONTEND]), rows[:, _BUNDLE_START])
        self.hold = np.zeros((n_blocks, len(program.queues)), dtype=np.int64)
        for column in (_QUEUE, _ISSUE_QUEUE):
            has = rows[:, column] >= 0
            np.add.at(self.hold, (block[has], rows[has, column]), latency[has])
        self.min_latency = np.full(n_blocks, np.iinfo(np.int64).max, dtype=np.int64)
        np.minimum.at(self.min_latency, block, latency)
        self.moving = np.zeros(n_blocks, dtype=np.bool_)
        self.moving[block[~fixed]] = True
        # Per block: its templates whose instance moves (_add_moving_usage places them).
        self.moving_templates = [
            tuple(t for t in block.templates if any(t.instance_coefs)) for block in program.blocks
        ]
        # _instance_counts from base 0 per (coefficients, trips), never written to: layers
        # place the same moving templates under the same trips (Plasticine's ResNet-50:
        # 134 placements, 25 distinct), and a systolic step's PEs differ in their base
        # alone (928 templates placed, a few dozen keys, on the default ResNet-50).
        self.instance_counts: dict[
            tuple[tuple[int, ...], tuple[int, ...]], tuple[np.ndarray, np.ndarray]
        ] = {}


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
    runs = packed.block_runs
    ran = runs > 0
    if not ran.any():
        return LayerBound("-", 0, cycles)
    pair_runs = runs[usage.pair_block]
    run = pair_runs > 0
    units = usage.pair_unit[run]
    size = usage.blocks.arrays.n_units
    busy = np.zeros(size, dtype=np.int64)
    np.add.at(busy, units, pair_runs[run] * usage.pair_busy[run])
    overhang = np.zeros(size, dtype=np.int64)
    np.maximum.at(overhang, units, usage.pair_overhang[run])
    used = np.zeros(size, dtype=np.bool_)
    used[units] = True
    bundles = runs @ usage.bundles
    hold = runs @ usage.hold
    min_latency = int(usage.min_latency[ran].min())
    moving = bool(usage.moving[ran].any())
    if moving:
        _add_moving_usage(layer, usage, busy, overhang, used)
    net = np.where(used, busy - overhang, np.iinfo(np.int64).min)
    busiest = int(np.argmax(net))
    busy_cycles = int(net[busiest])
    unit_name, first = next(
        (name, first)
        for name, first in reversed(usage.blocks.unit_first.items())
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
    held = usage.blocks.unit_count.get(unit_name, 0)  # the rest are never used
    which = {
        "instance": instance,
        "instances": instances,
        "unused": 0 if instance is None else int(instances - used[first : first + held].sum()),
    }
    if critical is None:
        return LayerBound(unit_name, busy_cycles, cycles, **which)
    loop, recurrence, ratio = critical.bound(layer.root)
    return LayerBound(unit_name, busy_cycles, cycles, recurrence, loop, ratio, **which)


def _add_moving_usage(
    layer: LayerProgram,
    usage: ResourceUsage,
    busy: np.ndarray,
    overhang: np.ndarray,
    used: np.ndarray,
) -> None:
    """Add the templates whose unit instance moves with the loops, placement by placement:
    each instance it reaches, as often as the indices reach it."""
    moving = usage.moving_templates
    unit_first = usage.blocks.unit_first
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
            key = (t.instance_coefs, trips)
            reach = usage.instance_counts.get(key)
            if reach is None:
                reach = usage.instance_counts[key] = _instance_counts(0, *key)
            offsets, counts = reach
            if counts.size == 0:
                continue
            index = unit_first[t.unit] + t.instance + offsets
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
