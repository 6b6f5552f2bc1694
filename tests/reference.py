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

from isa.program import LayerProgram, Loop, Operand, Program

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


def reference_cycles(program: Program, layer: LayerProgram) -> int:
    """The layer's latency: the last end, every layer starting from an idle machine at 0."""
    unit_free: dict[tuple[str, int], int] = defaultdict(int)
    write_end: dict[tuple[str, int], int] = defaultdict(int)
    read_until: dict[tuple[str, int], float] = defaultdict(lambda: NEVER)
    queue_ends: dict[str, list[int]] = {name: [] for name in program.queues}
    # Per front end (None: the program's default one), its bundles' issue times and latest
    # starts, and its issue time; then the front end of the open bundle and its latest
    # start so far.
    frontends = {None: program.frontend_list()[0], **program.frontends}
    bundle_issues: dict[str | None, list[int]] = {name: [] for name in frontends}
    bundle_starts: dict[str | None, list[int]] = {name: [] for name in frontends}
    issue_time = dict.fromkeys(frontends, 0)
    open_frontend: str | None = None
    bundle_open = False
    latest_start = 0  # in the open bundle
    max_end = 0

    def entry_free(queue: str) -> int:
        """When an entry of `queue` is free: the end of the instruction `entries` back."""
        ends, entries = queue_ends[queue], program.queues[queue]
        return ends[-entries] if len(ends) >= entries else 0

    def rows(operand, index) -> list[tuple[str, int]]:
        first = first_location(operand, index)
        return [(operand.space, x) for x in range(first, first + operand.count)]

    for block_id, index in block_executions(layer.root):
        for t in program.blocks[block_id].templates:
            # The unit instance moves with the loops as an address does.
            unit = (t.unit, t.instance + sum(c * index[d] for d, c in enumerate(t.instance_coefs)))
            if t.bundle_start:
                if bundle_open:  # the previous bundle is complete: its latest start is final
                    bundle_starts[open_frontend].append(latest_start)
                name = t.frontend  # its own bundles only: front ends do not wait on others
                issues, starts, spec = bundle_issues[name], bundle_starts[name], frontends[name]
                b = len(issues)
                issue = issue_time[name]
                if b >= spec.bundles_per_cycle:  # at most `width` bundles per cycle
                    issue = max(issue, issues[b - spec.bundles_per_cycle] + 1)
                if b >= spec.window_bundles:  # not before the latest start of bundle b - window
                    issue = max(issue, starts[b - spec.window_bundles])
                if t.issue_queue is not None:  # an in-order front end waits for an entry
                    issue = max(issue, entry_free(t.issue_queue))
                issues.append(issue)
                issue_time[name] = issue
                open_frontend, bundle_open = name, True
                latest_start = issue
            issue = issue_time[open_frontend]
            start = max(issue + frontends[open_frontend].delay, unit_free[unit])
            if t.queue is not None:
                start = max(start, entry_free(t.queue))
            for operand in t.reads:  # RAW
                start = max([start, *(write_end[x] for x in rows(operand, index))])
            for operand in t.writes:  # WAW, and WAR: end >= every read since the last write
                for x in rows(operand, index):
                    start = max(start, write_end[x], read_until[x] - t.latency)
            start = int(start)
            end, read_end = start + t.latency, start + t.read_time
            for operand in t.reads:
                for x in rows(operand, index):
                    read_until[x] = max(read_until[x], read_end)
            for operand in t.writes:
                for x in rows(operand, index):
                    write_end[x] = end
                    read_until[x] = NEVER
            for operands, mark in ((t.read_marks, read_end), (t.marks, end)):
                for operand in operands:
                    for x in rows(operand, index):
                        write_end[x] = max(write_end[x], mark)
            for queue in (t.queue, t.issue_queue):
                if queue is not None:
                    queue_ends[queue].append(end)
            unit_free[unit] = start + t.occupancy
            latest_start = max(latest_start, start)
            max_end = max(max_end, end)
    return max_end
