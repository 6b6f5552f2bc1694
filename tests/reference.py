"""A reference evaluator: docs/design.md §3's timing rules, one instruction at a time, in plain
Python with dictionaries. It shares no code with the analyzer (analyzer/engine/kernels.py
and packing.py) nor with tracer/trace_io.py's walk of a loop tree and its address
arithmetic: it walks the loops and computes every address itself, so the property tests
check the kernel's full mode (and through it, fast mode) against an independent reading
of the program and the rules, and a slip in either reading cannot hide in both. Slow: for
small programs only."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator

from isa.program import LayerProgram, Loop, Operand, Program, Template

NEVER = float("-inf")


def block_executions(root: Loop) -> Iterator[tuple[int, list[int]]]:
    """(block id, the trip of every enclosing loop, outermost first) of each block
    execution in program order, walked with an explicit stack of loop frames."""
    frames = [[root, 0, 0]]  # loop, its current trip, its next child
    while frames:
        frame = frames[-1]
        loop, trip, child = frame
        if trip == loop.trips:
            frames.pop()
        elif child == len(loop.body):
            frame[1], frame[2] = trip + 1, 0
        else:
            frame[2] = child + 1
            node = loop.body[child]
            if isinstance(node, Loop):
                frames.append([node, 0, 0])
            else:
                yield node.block, [f[1] for f in frames]


def first_location(operand: Operand, trips: list[int]) -> int:
    """The operand's first location: its base plus each coefficient times the trip of the
    loop at that depth (an operand never names a loop it is not in)."""
    location = operand.base
    for depth, coef in enumerate(operand.coefs):
        if coef:
            location += coef * trips[depth]
    return location


def operand_locations(operand: Operand, trips: list[int]) -> list[tuple[str, int]]:
    """Every (space, address) the operand names at loop trips `trips`."""
    first = first_location(operand, trips)
    return [(operand.space, x) for x in range(first, first + operand.count)]


def reference_cycles(program: Program, layer: LayerProgram) -> int:
    """The layer's latency: the last end, every layer starting from an idle machine at 0."""
    machine = ReferenceMachine(program)
    for block_id, index in block_executions(layer.root):
        for template in program.blocks[block_id].templates:
            machine.step(template, index)
    return machine.max_end


class ReferenceMachine:
    """The machine state of docs/design.md §3, advanced one instruction at a time."""

    def __init__(self, program: Program) -> None:
        self.program = program
        self.unit_free: dict[tuple[str, int], int] = defaultdict(int)
        self.write_end: dict[tuple[str, int], int] = defaultdict(int)
        self.read_until: dict[tuple[str, int], float] = defaultdict(lambda: NEVER)
        self.queue_ends: dict[str, list[int]] = {name: [] for name in program.queues}
        # Per front end (None: the program's default one), its bundles' issue times and
        # latest starts, and its issue time; then the front end of the open bundle and its
        # latest start so far.
        self.frontends = {None: program.frontend_list()[0], **program.frontends}
        self.bundle_issues: dict[str | None, list[int]] = {name: [] for name in self.frontends}
        self.bundle_starts: dict[str | None, list[int]] = {name: [] for name in self.frontends}
        self.issue_time = dict.fromkeys(self.frontends, 0)
        self.open_frontend: str | None = None
        self.bundle_open = False
        self.latest_start = 0  # in the open bundle
        self.max_end = 0

    def entry_free(self, queue: str) -> int:
        """When an entry of `queue` is free: the end of the instruction `entries` back."""
        ends, entries = self.queue_ends[queue], self.program.queues[queue]
        return ends[-entries] if len(ends) >= entries else 0

    def step(self, t: Template, index: list[int]) -> None:
        """Issue, start and end `t` at loop trips `index` (every enclosing loop's,
        outermost first)."""
        write_end, read_until = self.write_end, self.read_until

        def rows(operand: Operand) -> list[tuple[str, int]]:
            return operand_locations(operand, index)

        # The unit instance moves with the loops as an address does.
        unit = (t.unit, t.instance + sum(c * index[d] for d, c in enumerate(t.instance_coefs)))
        if t.bundle_start:
            if self.bundle_open:  # the previous bundle is complete: its latest start is final
                self.bundle_starts[self.open_frontend].append(self.latest_start)
            name = t.frontend  # its own bundles only: front ends do not wait on others
            issues, starts = self.bundle_issues[name], self.bundle_starts[name]
            spec = self.frontends[name]
            b = len(issues)
            issue = self.issue_time[name]
            if b >= spec.bundles_per_cycle:  # at most `width` bundles per cycle
                issue = max(issue, issues[b - spec.bundles_per_cycle] + 1)
            if b >= spec.window_bundles:  # not before the latest start of bundle b - window
                issue = max(issue, starts[b - spec.window_bundles])
            if t.issue_queue is not None:  # an in-order front end waits for an entry
                issue = max(issue, self.entry_free(t.issue_queue))
            issues.append(issue)
            self.issue_time[name] = issue
            self.open_frontend, self.bundle_open = name, True
            self.latest_start = issue
        issue = self.issue_time[self.open_frontend]
        start = max(issue + self.frontends[self.open_frontend].delay, self.unit_free[unit])
        if t.queue is not None:
            start = max(start, self.entry_free(t.queue))
        for operand in t.reads:  # RAW
            start = max([start, *(write_end[x] for x in rows(operand))])
        for operand in t.writes:  # WAW, and WAR: end >= every read since the last write
            for x in rows(operand):
                start = max(start, write_end[x], read_until[x] - t.latency)
        start = int(start)
        end, read_end = start + t.latency, start + t.read_time
        for operand in t.reads:
            for x in rows(operand):
                read_until[x] = max(read_until[x], read_end)
        for operand in t.writes:
            for x in rows(operand):
                write_end[x] = end
                read_until[x] = NEVER
        for operands, mark in ((t.read_marks, read_end), (t.marks, end)):
            for operand in operands:
                for x in rows(operand):
                    write_end[x] = max(write_end[x], mark)
        for queue in (t.queue, t.issue_queue):
            if queue is not None:
                self.queue_ends[queue].append(end)
        self.unit_free[unit] = start + t.occupancy
        self.latest_start = max(self.latest_start, start)
        self.max_end = max(self.max_end, end)
