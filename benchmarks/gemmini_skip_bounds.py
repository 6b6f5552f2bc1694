"""Gemmini: the fewest instructions kinds of exact skipping could evaluate, against fast mode.

Issue 14 asks fast mode to evaluate at most 2% of ResNet-50's instructions at batch 4; this
measures which kinds of skipping could get there.

    .venv/bin/python benchmarks/gemmini_skip_bounds.py [--models resnet50] [--batches 1 4]
                                                       [--memo LAYER ...] [--periods]

A Gemmini layer's loop tree (isa/program.py, layer_of_steps) is a run of tiles
(loops of repeating ones, nested where a run repeats inside a longer one), each a list of
stream nests: the next tile's loads, this tile's execute, its stores, each a
loop nest of one front end. Per (model, batch) it prints the instructions, the ones fast
mode evaluates today (measured in this run), and three shares that bound, from below,
what a kind of skipping must evaluate (static counts over the loop trees):

  periods <= 2 iterations  every loop, at every depth, evaluates at most two iterations of
                           each of its instances, the fewest a period found by comparing
                           two iteration boundaries can take (docs/design.md §4);
  each nest once           a memo that evaluates each distinct stream nest (equal
                           templates and trips, operand bases aside) once and replays
                           it everywhere else, whatever the state it starts from;
  both                     each distinct nest once, with its loops at most two iterations.

--memo LAYER (or all) replays the layer instruction by instruction with the reference evaluator
(tests/reference.py, docs/design.md §3's rules; slow, about a minute per 300,000
instructions) and counts what a memo of stream nests would skip if it were exact: a nest
is skipped when the same nest (the same templates at the same addresses) was met before
with an equal footprint state: the units, queues and locations it names and its front
end's rings, each time taken relative to the front end's issue time and clamped there
(nothing the nest does starts earlier), and a skipped nest must end as the first one with
its key did. The replay's cycles must equal the engine's. A layer whose evaluation fast
mode reuses from an equal earlier one (docs/design.md §4.9) is not replayed: both
evaluate none of it.

--periods also skips, inside the nests the memo evaluates, every loop iteration whose
footprint state (what the iteration names, relative to the front end's issue time)
equals its predecessor's at the predecessor's start, address for address in order (a
period of one iteration, translated by the loop's stride), with everything inside it;
each such iteration must end as its predecessor did, relative to its start, and the
script counts those that do not. --largest-iteration N compares only loops whose
iterations run at most N instructions (their footprints are small), to see what skipping
is left when comparing must cost little. --periods-alone skips no nest by the memo: every
nest is replayed with its iterations compared, which is what translated periods of one
iteration (docs/design.md §4.6), compared at every boundary on the footprint alone,
could skip without any memo.

--runs-touched LAYER (or all) evaluates the layer with the reference evaluator and counts,
before each instruction, how many runs of adjacent locations holding equal write and
read-until times each of its operands' ranges overlaps (what a state kept as runs would
visit for it, against the locations a state kept location by location does), and the
runs the whole state holds at the layer's end and at most during it (sampled every
10,000 instructions); also the runs visited if each were cut where a 64-row chunk starts
(runs kept per chunk).
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace
from functools import cache
from pathlib import Path

from bench_core import machine

from analyzer.engine.evaluate import Evaluation
from isa.program import BlockRef, Loop, Operand, Program, Template, count_instructions
from tracer.lowering import lower_model

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from reference import (  # noqa: E402
    NEVER,
    ReferenceMachine,
    block_executions,
    operand_locations,
)

Node = Loop | BlockRef


def _capped(program: Program, node: Node, cap: int) -> int:
    """Instructions `node` runs with each loop counted at most `cap` iterations
    (isa.program.count_instructions counts them all)."""
    if isinstance(node, BlockRef):
        return len(program.blocks[node.block].templates)
    return min(node.trips, cap) * sum(_capped(program, child, cap) for child in node.body)


def _nests(layer_root: Loop) -> Iterator[tuple[Node, int]]:
    """The stream nests of the layer's tiles, a loop of repeating tiles' once (and a run
    nested in it, isa/program.py layer_of_steps, once), each with the loop
    depth of its outermost loop."""

    def within(body: tuple[Node, ...], depth: int) -> Iterator[tuple[Node, int]]:
        for node in body:
            if isinstance(node, Loop) and node.name == "tiles":
                yield from within(node.body, depth + 1)
            else:
                yield node, depth

    for item in layer_root.body:
        yield from within(item.body, 2) if isinstance(item, Loop) else ((item, 1),)


def _from_depth(coefs: tuple[int, ...], depth: int) -> tuple[int, ...]:
    """Coefficients of the loops from `depth` down, trailing zeros dropped: what names the
    same addresses relative to a nest's own loops at whatever depth the nest lies."""
    relative = list(coefs[depth:])
    while relative and relative[-1] == 0:
        relative.pop()
    return tuple(relative)


def _nests_in_order(layer_root: Loop) -> Iterator[tuple[Node, list[int]]]:
    """Every stream nest the layer runs, in program order, with the loop indices above it
    (the root's, then one per loop of tiles around it, nested runs included)."""

    def within(body: tuple[Node, ...], index: list[int]) -> Iterator[tuple[Node, list[int]]]:
        for node in body:
            if isinstance(node, Loop) and node.name == "tiles":
                for trip in range(node.trips):
                    yield from within(node.body, [*index, trip])
            else:
                yield node, index

    for item in layer_root.body:
        if isinstance(item, Loop):
            for trip in range(item.trips):
                yield from within(item.body, [0, trip])
        else:
            yield item, [0]


def static_bounds(program: Program) -> dict[str, int]:
    """Instructions each kind of skipping evaluates at least (see the module doc)."""

    @cache
    def block_shape(block: int, depth: int) -> tuple[Template, ...]:
        def unbased(operands: tuple[Operand, ...]) -> tuple[Operand, ...]:
            return tuple(replace(o, base=0, coefs=_from_depth(o.coefs, depth)) for o in operands)

        return tuple(
            replace(
                t,
                reads=unbased(t.reads),
                writes=unbased(t.writes),
                marks=unbased(t.marks),
                read_marks=unbased(t.read_marks),
                instance_coefs=_from_depth(t.instance_coefs, depth),
            )
            for t in program.blocks[block].templates
        )

    def shape(node: Node, depth: int) -> object:
        """The nest at `depth` relative to its own loops (depth: its outermost loop's)."""
        if isinstance(node, BlockRef):
            return block_shape(node.block, depth)
        return (node.trips, tuple(shape(child, depth) for child in node.body))

    once: dict[object, tuple[int, int]] = {}
    for layer in program.layers:
        for nest, depth in _nests(layer.root):
            once.setdefault(shape(nest, depth), (_count(program, nest), _capped(program, nest, 2)))
    return {
        "instructions": sum(_count(program, layer.root) for layer in program.layers),
        "periods <= 2 iterations": sum(_capped(program, layer.root, 2) for layer in program.layers),
        "each nest once": sum(full for full, _ in once.values()),
        "both": sum(two for _, two in once.values()),
    }


def _count(program: Program, node: Node) -> int:
    return count_instructions(node, program.blocks)


def _executions(
    program: Program, node: Node, index: list[int]
) -> Iterator[tuple[Template, list[int]]]:
    """Every instruction of `node` in program order, with the trips of its enclosing
    loops, `index` being those above `node` (tests/reference.py walks the loops)."""
    if isinstance(node, BlockRef):
        for template in program.blocks[node.block].templates:
            yield template, index
        return
    for block, trips in block_executions(node):
        for template in program.blocks[block].templates:
            yield template, [*index, *trips]


def _iteration(
    program: Program, loop: Loop, index: list[int], trip: int
) -> Iterator[tuple[Template, list[int]]]:
    for child in loop.body:
        yield from _executions(program, child, [*index, trip])


class Footprint:
    """What a nest (or one iteration of a loop in it) names: unit instances, locations,
    queues and its one front end."""

    def __init__(self, executions: Iterable[tuple[Template, list[int]]]) -> None:
        units, locations, queues, frontends = set(), set(), set(), set()
        for t, at in executions:
            units.add((t.unit, t.instance_at(tuple(at))))
            for operand in t.operands():
                locations.update(operand_locations(operand, at))
            queues.update(q for q in (t.queue, t.issue_queue) if q is not None)
            if t.bundle_start:
                frontends.add(t.frontend)
        self.units, self.locations = sorted(units), sorted(locations)
        self.queues = sorted(queues)
        self.frontend = next(iter(frontends)) if len(frontends) == 1 else ...


def _state_key(
    machine_state: ReferenceMachine, footprint: Footprint, floor: int | None = None
) -> tuple | None:
    """The footprint's state relative to `floor` (default: its front end's issue time
    T), every time clamped there: a nest whose instructions all issue at or after T
    cannot tell the clamped times apart. None: a nest of several front ends (no one T)."""
    if footprint.frontend is ...:
        return None
    m, f = machine_state, footprint.frontend
    floor = m.issue_time[f] if floor is None else floor

    def rel(time: float) -> float:
        return max(time, floor) - floor

    spec, locations = m.frontends[f], footprint.locations
    issues, starts = m.bundle_issues[f], m.bundle_starts[f]
    return (
        tuple(rel(m.unit_free[u]) for u in footprint.units),
        tuple(rel(m.write_end[x]) for x in locations),
        tuple(-1 if m.read_until[x] == NEVER else rel(m.read_until[x]) for x in locations),
        tuple(
            (
                min(len(m.queue_ends[q]), m.program.queues[q]),
                *(rel(e) for e in m.queue_ends[q][-m.program.queues[q] :]),
            )
            for q in footprint.queues
        ),
        min(len(issues), spec.bundles_per_cycle),
        tuple(rel(i + 1) for i in issues[-spec.bundles_per_cycle :]),
        min(len(starts), spec.window_bundles),
        tuple(rel(s) for s in starts[-spec.window_bundles :]),
        m.bundle_open and m.open_frontend == f,
        rel(m.latest_start) if m.open_frontend == f else None,
    )


KEY_PARTS = (
    "units",
    "location writes",
    "location reads",
    "queues",
    "bundles issued",
    "issue ring",
    "bundles started",
    "window",
    "bundle open",
    "open bundle's latest start",
)


@dataclass
class MemoReplay:
    cycles: int = 0
    instructions: int = 0
    evaluated: int = 0  # in the nests a memo would evaluate
    nests: int = 0
    skipped: int = 0
    # With --periods: what the nests the memo evaluates leave to evaluate when, inside
    # them, an iteration that starts from its predecessor's state (translated) is also
    # skipped; and how often such an iteration ended otherwise than its predecessor.
    evaluated_with_periods: int = 0
    period_misses: int = 0
    # The footprint times the iteration keys gather (what a kernel would read to compare),
    # and those of them above the issue time (the rest clamp to it: a kernel that keeps
    # each chunk's latest time, docs/design.md §3.7, can pass over them a chunk at a time).
    key_items: int = 0
    live_items: int = 0
    key_runs: int = 0  # the keys' runs of adjacent locations with equal times (below)
    live_runs: int = 0
    # What the nests' memo keys read (every nest met, evaluated or skipped): footprint
    # times (a unit's, and a location's write and read-until times), the locations among
    # them with a time above the issue time, and the runs of adjacent locations holding
    # equal times once clamped (what a key would read if the state kept a space as runs of
    # equal times, as one instruction leaves its rows), all and those above the issue time.
    memo_key_items: int = 0
    memo_key_live: int = 0
    memo_key_runs: int = 0
    memo_key_live_runs: int = 0
    # Per part of the key (KEY_PARTS): how many of the nests' keys beyond the first of
    # their nest differ from that first one there, which says what keeps a memo missing.
    differing: Counter[str] = field(default_factory=Counter)


def _run_with_periods(
    machine_state: ReferenceMachine,
    program: Program,
    node: Node,
    index: list[int],
    counting: bool,
    replay: MemoReplay,
    largest: int | None = None,
) -> int:
    """Replay `node`, returning the instructions a skipping of iterations would evaluate:
    an iteration of a loop is skipped (with everything inside it) when the state of what
    it names, relative to the front end's issue time, equals its predecessor's at the
    predecessor's start, address for address in order (a period of one iteration,
    translated by the loop's stride). Each such iteration must end, relative to its
    start, as its predecessor did; `replay.period_misses` counts those that do not.
    `largest`: compare only loops whose iterations run at most this many instructions."""
    if isinstance(node, BlockRef):
        for template in program.blocks[node.block].templates:
            machine_state.step(template, index)
        return len(program.blocks[node.block].templates) if counting else 0
    evaluated = 0
    previous: tuple[tuple, tuple] | None = None
    compared = largest is None or _count(program, node) <= largest * node.trips
    for trip in range(node.trips):
        footprint = Footprint(_iteration(program, node, index, trip)) if compared else None
        key = None if footprint is None else _state_key(machine_state, footprint)
        if footprint is None or key is None:  # not compared, or no one front end
            for child in node.body:
                evaluated += _run_with_periods(
                    machine_state, program, child, [*index, trip], counting, replay, largest
                )
            previous = None
            continue
        floor = machine_state.issue_time[footprint.frontend]
        replay.key_items += 2 * len(footprint.locations) + len(footprint.units)
        replay.live_items += sum(t > 0 for part in key[:3] for t in part)
        _, runs, live_runs = _runs(footprint, key)
        replay.key_runs += runs
        replay.live_runs += live_runs
        skipped = previous is not None and previous[0] == key
        latest_end, machine_state.max_end = machine_state.max_end, 0
        for child in node.body:
            evaluated += _run_with_periods(
                machine_state,
                program,
                child,
                [*index, trip],
                counting and not skipped,
                replay,
                largest,
            )
        after = (_state_key(machine_state, footprint, floor), machine_state.max_end - floor)
        machine_state.max_end = max(machine_state.max_end, latest_end)
        if skipped and previous is not None and previous[1] != after:
            replay.period_misses += 1
        previous = (key, after)
    return evaluated


def _runs(footprint: Footprint, key: tuple) -> tuple[int, int, int]:
    """The key's locations with a time above the issue time, its runs of adjacent
    locations holding equal clamped times, and those of the runs above the issue time."""
    live = runs = live_runs = 0
    previous: tuple | None = None
    for (space, address), written, read in zip(footprint.locations, key[1], key[2], strict=True):
        above = written > 0 or read > 0
        live += above
        if previous != (space, address - 1, written, read):
            runs += 1
            live_runs += above
        previous = (space, address, written, read)
    return live, runs, live_runs


def _count_key_reads(replay: MemoReplay, footprint: Footprint, key: tuple) -> None:
    """Adds what the nest's memo key reads to `replay`'s memo_key_* counts."""
    live, runs, live_runs = _runs(footprint, key)
    replay.memo_key_items += 2 * len(footprint.locations) + len(footprint.units)
    replay.memo_key_live += live
    replay.memo_key_runs += runs
    replay.memo_key_live_runs += live_runs


def memo_replay(
    program: Program,
    layer_name: str,
    periods: bool = False,
    largest: int | None = None,
    memo_hits: bool = True,
) -> MemoReplay:
    """One layer replayed by the reference evaluator, counting what a memo of nests would
    skip. A nest it would skip must leave its footprint (and the latest end) as the first
    one with its key did, relative to the issue time it started at: what a memo restores.
    `memo_hits=False` (with `periods`): every nest's iterations are compared, none is
    skipped whole, so evaluated_with_periods counts periods alone."""
    layer = next((x for x in program.layers if x.name == layer_name), None)
    if layer is None:
        raise SystemExit(f"--memo {layer_name}: no such Gemmini layer in {program.model}")
    machine_state = ReferenceMachine(program)
    footprints: dict[int, Footprint] = {}
    first_key: dict[int, tuple] = {}
    seen: dict[tuple, tuple] = {}
    replay = MemoReplay()
    for nest, index in _nests_in_order(layer.root):
        if id(nest) not in footprints:
            footprints[id(nest)] = Footprint(_executions(program, nest, index))
        footprint = footprints[id(nest)]
        key = _state_key(machine_state, footprint)
        floor = machine_state.issue_time[footprint.frontend] if key is not None else 0
        ran, latest_end = _count(program, nest), machine_state.max_end
        machine_state.max_end = 0  # the nest's own latest end, for the check below
        hit = memo_hits and key is not None and (id(nest), key) in seen
        if key is not None:
            _count_key_reads(replay, footprint, key)
        if periods and not hit:
            replay.evaluated_with_periods += _run_with_periods(
                machine_state, program, nest, index, True, replay, largest
            )
        else:
            for template, at in _executions(program, nest, index):
                machine_state.step(template, at)
        nest_end = machine_state.max_end - floor
        machine_state.max_end = max(machine_state.max_end, latest_end)
        replay.instructions += ran
        replay.nests += 1
        after = key and (_state_key(machine_state, footprint, floor), nest_end)
        if key is not None and (id(nest), key) in seen:
            if seen[id(nest), key] != after:
                raise SystemExit(f"{layer_name}: a nest with an equal key ended otherwise")
            replay.skipped += 1
            continue
        replay.evaluated += ran
        if key is not None:
            seen[id(nest), key] = after
            first = first_key.setdefault(id(nest), key)
            replay.differing.update(
                part for part, a, b in zip(KEY_PARTS, first, key, strict=True) if a != b
            )
    replay.cycles = machine_state.max_end
    return replay


CHUNK_ROWS = 64  # analyzer/engine/packing.py's chunks (2**CHUNK_SHIFT locations)


@dataclass
class RunsTouched:
    operands: int = 0
    locations: int = 0
    runs: int = 0  # of the state, overlapped by the operands' ranges
    chunk_runs: int = 0  # the same with every run cut where a 64-row chunk starts
    state_runs_end: int = 0
    state_runs_most: int = 0


def _state_runs(machine_state: ReferenceMachine, program: Program) -> int:
    """Runs of adjacent locations with equal (write, read-until) times, over every space."""
    write_end, read_until = machine_state.write_end, machine_state.read_until
    runs = 0
    for space, size in program.spaces.items():
        previous = None
        for x in range(size):
            key = (space, x)
            pair = (write_end.get(key, 0), read_until.get(key, NEVER))
            runs += pair != previous
            previous = pair
    return runs


def runs_touched(program: Program, layer_name: str) -> RunsTouched:
    """One layer evaluated by the reference evaluator, counting what each operand's range
    would visit with the state kept as runs (see the module doc)."""
    layer = next((x for x in program.layers if x.name == layer_name), None)
    if layer is None:
        raise SystemExit(f"--runs-touched {layer_name}: no such layer in {program.model}")
    machine_state = ReferenceMachine(program)
    write_end, read_until = machine_state.write_end, machine_state.read_until
    counts = RunsTouched()
    for step, (template, index) in enumerate(_executions(program, layer.root, [])):
        for operand in template.operands():
            rows = operand_locations(operand, index)
            counts.operands += 1
            counts.locations += len(rows)
            previous = None
            for x in rows:
                pair = (write_end.get(x, 0), read_until.get(x, NEVER))
                counts.runs += pair != previous
                counts.chunk_runs += pair != previous or x[1] % CHUNK_ROWS == 0
                previous = pair
        machine_state.step(template, index)
        if step % 10_000 == 0:
            counts.state_runs_most = max(
                counts.state_runs_most, _state_runs(machine_state, program)
            )
    counts.state_runs_end = _state_runs(machine_state, program)
    counts.state_runs_most = max(counts.state_runs_most, counts.state_runs_end)
    return counts


def _parts(differing: Counter[str]) -> str:
    return ", ".join(f"{part} {n:,}" for part, n in differing.most_common()) or "-"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=["resnet50"])
    parser.add_argument("--batches", nargs="+", type=int, default=[1, 4])
    parser.add_argument("--memo", nargs="*", default=[], metavar="LAYER", help="or 'all'")
    parser.add_argument(
        "--periods", action="store_true", help="also skip iterations inside the nests replayed"
    )
    parser.add_argument(
        "--periods-alone",
        action="store_true",
        help="with --periods, skip no nest by the memo: iterations compared only",
    )
    parser.add_argument(
        "--largest-iteration",
        type=int,
        metavar="N",
        help="with --periods, compare only loops whose iterations run at most N instructions",
    )
    parser.add_argument("--runs-touched", nargs="*", default=[], metavar="LAYER", help="or 'all'")
    args = parser.parse_args()
    if args.periods_alone and not args.periods:
        parser.error("--periods-alone needs --periods")
    print(f"machine: {machine()}")
    for model in args.models:
        for batch in args.batches:
            program = lower_model("gemmini", {}, model, batch=batch)
            fast = Evaluation(program, "fast").run()
            bounds = static_bounds(program)
            total = bounds["instructions"]
            evaluated = sum(r.evaluated_instructions for r in fast)
            print(f"{model} batch {batch}: {total:,} instructions")
            print(f"  fast mode evaluates      {evaluated:>10,}  {evaluated / total:6.2%}")
            for name in ("periods <= 2 iterations", "each nest once", "both"):
                print(f"  {name:24} {bounds[name]:>10,}  {bounds[name] / total:6.2%}")
            by_name = {r.name: r for r in fast}
            full = Evaluation(program, "full")
            memo = [x.name for x in program.layers] if args.memo == ["all"] else args.memo
            replayed = [0] * 9
            differing: Counter[str] = Counter()
            key_reads = MemoReplay()  # the memo keys' counts, summed over the layers
            for name in memo:
                if by_name[name].reused_from:  # fast mode evaluates none of it either
                    replayed[0] += by_name[name].instructions
                    continue
                started = time.perf_counter()
                replay = memo_replay(
                    program, name, args.periods, args.largest_iteration, not args.periods_alone
                )
                cycles, instructions, would = replay.cycles, replay.instructions, replay.evaluated
                replayed[0] += instructions
                replayed[1] += would
                replayed[2] += by_name[name].evaluated_instructions
                replayed[3] += replay.evaluated_with_periods
                replayed[4] += replay.period_misses
                replayed[5] += replay.key_items
                replayed[6] += replay.live_items
                replayed[7] += replay.key_runs
                replayed[8] += replay.live_runs
                differing.update(replay.differing)
                for part in KEY_READS:
                    setattr(key_reads, part, getattr(key_reads, part) + getattr(replay, part))
                engine = full.layer(next(x for x in program.layers if x.name == name)).cycles
                if cycles != engine:
                    raise SystemExit(
                        f"{name}: the replay gives {cycles:,} cycles, the engine {engine:,}"
                    )
                print(
                    f"  memo of nests, {name}: evaluates {would:,} of {instructions:,} "
                    f"({would / instructions:.1%}; fast mode today "
                    f"{by_name[name].evaluated_instructions / instructions:.1%}), "
                    f"skips {replay.skipped:,} of {replay.nests:,} nests; {cycles:,} cycles as "
                    f"the engine; keys a nest met again differed in: {_parts(replay.differing)}; "
                    f"{time.perf_counter() - started:.0f} s"
                )
                print(f"    {_key_reads(replay)}")
                if args.periods:
                    counts = (replay.evaluated_with_periods, instructions, replay.period_misses)
                    print(
                        f"    {_with_periods(*counts, args.periods_alone)}; "
                        f"{replay.key_items:,} footprint times "
                        f"read, {replay.live_items:,} of them above the issue time; "
                        f"{replay.key_runs:,} runs, {replay.live_runs:,} above it"
                    )
            if len(memo) > 1:
                total_replayed, would, today, with_periods, misses, read, live, runs, live_runs = (
                    replayed
                )
                print(
                    f"  memo of nests, {len(memo)} layers: evaluates {would:,} of "
                    f"{total_replayed:,} ({would / total_replayed:.2%}; fast mode today "
                    f"{today / total_replayed:.2%}); keys a nest met again differed in: "
                    f"{_parts(differing)}"
                )
                print(f"    {_key_reads(key_reads)}")
                if args.periods:
                    alone = args.periods_alone
                    print(
                        f"    {_with_periods(with_periods, total_replayed, misses, alone)}; "
                        f"{read:,} footprint times read, {live:,} of them above the issue time; "
                        f"{runs:,} runs, {live_runs:,} above it"
                    )

            touched = (
                [x.name for x in program.layers]
                if args.runs_touched == ["all"]
                else args.runs_touched
            )
            touched_total = RunsTouched()
            for name in touched:
                counts = runs_touched(program, name)
                for part in ("operands", "locations", "runs", "chunk_runs"):
                    setattr(
                        touched_total, part, getattr(touched_total, part) + getattr(counts, part)
                    )
                for part in ("state_runs_end", "state_runs_most"):
                    setattr(
                        touched_total,
                        part,
                        max(getattr(touched_total, part), getattr(counts, part)),
                    )
                print(f"  runs touched, {name}: {_runs_touched(counts)}")
            if len(touched) > 1:
                summed = _runs_touched(touched_total, "of them ")
                print(f"  runs touched, {len(touched)} layers: {summed}")


def _runs_touched(counts: RunsTouched, which: str = "") -> str:
    """`which`: "of them " for a sum over layers, whose state runs are the largest one's."""
    return (
        f"{counts.operands:,} operands name {counts.locations:,} locations "
        f"({counts.locations / max(1, counts.operands):.1f} each) and overlap {counts.runs:,} "
        f"runs ({counts.runs / max(1, counts.operands):.2f} each; cut at {CHUNK_ROWS}-row "
        f"chunks {counts.chunk_runs / max(1, counts.operands):.2f}); the state held, {which}"
        f"{counts.state_runs_end:,} runs at the end, at most {counts.state_runs_most:,}"
    )


KEY_READS = ("memo_key_items", "memo_key_live", "memo_key_runs", "memo_key_live_runs")


def _key_reads(replay: MemoReplay) -> str:
    return (
        f"the nests' keys read {replay.memo_key_items:,} footprint times, "
        f"{replay.memo_key_live:,} locations above the issue time; as runs of adjacent "
        f"locations with equal clamped times: {replay.memo_key_runs:,} runs, "
        f"{replay.memo_key_live_runs:,} above the issue time"
    )


def _with_periods(evaluated: int, instructions: int, misses: int, alone: bool) -> str:
    how = (
        "with iterations skipped alone, no nest skipped whole"
        if alone
        else "with iterations inside them skipped too"
    )
    return (
        f"{how}: evaluates {evaluated:,} "
        f"({evaluated / instructions:.2%}); skipped iterations that ended otherwise than "
        f"their predecessor: {misses:,}"
    )


if __name__ == "__main__":
    main()
