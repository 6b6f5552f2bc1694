"""The lowering target shared by every ISA: loop programs over instruction templates.

A layer lowers to a loop tree whose leaves are blocks of instruction templates. Operand
addresses are affine in the loop indices (``base + sum(coef[d] * index[d])``, depth 0 being
the layer's root loop), so the program's size does not grow with the instruction count.
Blocks are shared between layers: every layer on one systolic array runs the same
step, only the trip counts differ.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, fields
from enum import Enum
from operator import attrgetter
from typing import Any

MAX_DEPTH = 12  # loop nesting depth, root included; enough for any mapping we lower
MAC_ACTION = "mac"  # the action a multiply-accumulate unit performs, once per MAC issued
ACCESSES = ("read", "write")  # what an action does to a memory: "<memory>.read", ...


def memory_action(memory: str, access: str) -> str:
    """The action name of `access` ("read" or "write") of `memory`."""
    return f"{memory}.{access}"


@dataclass(frozen=True, slots=True)
class Operand:
    """`count` consecutive locations of address space `space`, starting at an affine address."""

    space: str
    base: int
    count: int = 1
    coefs: tuple[int, ...] = ()  # one per loop depth, outermost first; missing = 0

    def render(self) -> str:
        text = self.space + "[" + str(self.base)
        for depth, coef in enumerate(self.coefs):
            if coef:
                text += f"{coef:+d}*i{depth}"
        if self.count != 1:
            text += f":+{self.count}"
        return text + "]"


class FieldKind(Enum):
    """What a template field holds. The kind alone decides how a trace stores the field
    (tracer/trace_io.py), how isa/validation.py checks it and how the kernel's template
    row holds it (analyzer/engine/template_row.py)."""

    TEXT = "text"  # a name for people (reports, traces); the kernel never sees it
    UNIT = "unit"  # a unit kind of Program.units; packed with the instance as one id
    INSTANCE = "instance"  # which instance of the template's unit kind
    # coefficients per loop depth (outermost first) moving the instance with the loop
    # indices, as an operand's coefs move its address
    INSTANCE_COEFS = "instance_coefs"
    CYCLES = "cycles"  # a duration in cycles, an integer >= 0
    FLAG = "flag"  # true or false
    OPERANDS = "operands"  # a list of operands; the kernel keeps the lists in field order
    QUEUE = "queue"  # a queue of Program.queues, or None for none
    FRONTEND = "frontend"  # a front end of Program.frontends, or None for the default one
    # (action, amount) pairs the reports count (analyzer/actions.py); the kernel never sees it
    ACTIONS = "actions"


@dataclass(frozen=True)
class TemplateField:
    name: str
    kind: FieldKind
    doc: str
    # Also a column of the trace's instructions.arrow (the materialized instructions).
    materialized: bool


def _field(kind: FieldKind, doc: str, materialized: bool = True, **default: Any) -> Any:
    return field(metadata={"kind": kind, "doc": doc, "materialized": materialized}, **default)


@dataclass(frozen=True, slots=True)
class Template:
    """One instruction of a block. Its fields are the template table (TEMPLATE_FIELDS):
    each field's kind and doc, given here once, decide the trace's columns, the checks
    and the kernel's template row; a new timing primitive is a new field here plus its
    rule in the kernel (analyzer/engine/kernels.py)."""

    opcode: str = _field(FieldKind.TEXT, "the instruction's name in reports and traces")
    unit: str = _field(FieldKind.UNIT, "the unit kind that executes it")
    instance: int = _field(FieldKind.INSTANCE, "which instance of that unit kind")
    latency: int = _field(FieldKind.CYCLES, "cycles from its start to its end")
    occupancy: int = _field(FieldKind.CYCLES, "cycles its unit instance is busy from its start")
    read_time: int = _field(
        FieldKind.CYCLES,
        "cycles from its start until its reads are done; a later write ends no earlier (WAR)",
        materialized=False,
    )
    reads: tuple[Operand, ...] = _field(
        FieldKind.OPERANDS, "locations it reads: it starts after their last write ends (RAW)"
    )
    writes: tuple[Operand, ...] = _field(
        FieldKind.OPERANDS,
        "locations it writes at its end: after their last write (WAW) and reads (WAR)",
    )
    bundle_start: bool = _field(
        FieldKind.FLAG, "the first instruction of a front-end bundle", materialized=False
    )
    # Completion times for later instructions to wait on (by reading these locations),
    # never a constraint on this one: `read_marks` are set to start + read_time, `marks`
    # to the end, each location keeping the latest mark. This is how a reservation station
    # that tracks only some hazards (e.g. Gemmini's: across its queues) is written down.
    read_marks: tuple[Operand, ...] = _field(
        FieldKind.OPERANDS, "locations marked at start + read_time", default=()
    )
    marks: tuple[Operand, ...] = _field(
        FieldKind.OPERANDS, "locations marked at its end", default=()
    )
    queue: str | None = _field(
        FieldKind.QUEUE,
        "the queue whose entry it takes from its start to its end (a reservation station "
        "with that many entries): it waits for a free one",
        materialized=False,
        default=None,
    )
    issue_queue: str | None = _field(
        FieldKind.QUEUE,
        "a queue whose entry it needs to issue: while the queue is full, this and every "
        "later bundle wait (an in-order front end, e.g. a CPU issuing commands into a "
        "reservation station); a bundle's first instruction only, never its `queue`",
        materialized=False,
        default=None,
    )

    instance_coefs: tuple[int, ...] = _field(
        FieldKind.INSTANCE_COEFS,
        "coefficients per loop depth, outermost first, added times the loop indices to "
        "`instance`: one template for a row of processing elements",
        materialized=False,
        default=(),
    )
    frontend: str | None = _field(
        FieldKind.FRONTEND,
        "the front end that issues its bundle, in its own order and at its own rate (e.g. "
        "one of Gemmini's load, execute and store streams); None: the program's default "
        "one; a bundle's first instruction only (the rest of the bundle shares it)",
        materialized=False,
        default=None,
    )

    actions: tuple[tuple[str, int], ...] = _field(
        FieldKind.ACTIONS,
        "what one execution does besides taking time, as (action, amount) pairs: "
        f"{MAC_ACTION!r} for multiply-accumulates issued, '<memory>.read' and "
        "'<memory>.write' for words of a memory of Program.memories (docs/design.md §10)",
        materialized=False,
        default=(),
    )

    def instance_at(self, index: tuple[int, ...]) -> int:
        """The unit instance at loop indices `index` (outermost first)."""
        return self.instance + sum(c * i for c, i in zip(self.instance_coefs, index, strict=False))

    def operands(self) -> tuple[Operand, ...]:
        """Every operand list, in field order (the kernel's order)."""
        return sum(_operand_lists(self), ())


TEMPLATE_FIELDS: tuple[TemplateField, ...] = tuple(
    TemplateField(f.name, f.metadata["kind"], f.metadata["doc"], f.metadata["materialized"])
    for f in fields(Template)
)
OPERAND_LISTS = tuple(f.name for f in TEMPLATE_FIELDS if f.kind is FieldKind.OPERANDS)
_operand_lists = attrgetter(*OPERAND_LISTS)  # validation calls operands() per loop nest


@dataclass(frozen=True)
class Block:
    name: str
    templates: tuple[Template, ...]


@dataclass(frozen=True)
class BlockRef:
    block: int  # index into Program.blocks


class BlockTable:
    """A lowering's Program.blocks, each distinct block once: a block met again (the same
    name and templates) is referred to by its first index, so the trace stores it once."""

    def __init__(self) -> None:
        self.blocks: list[Block] = []
        self.index: dict[Block, int] = {}

    def ref(self, name: str, *templates: Template) -> BlockRef:
        block = Block(name, templates)
        if block not in self.index:
            self.index[block] = len(self.blocks)
            self.blocks.append(block)
        return BlockRef(self.index[block])


@dataclass(frozen=True)
class Loop:
    name: str
    trips: int
    body: tuple[Loop | BlockRef, ...]


@dataclass(frozen=True)
class LayerProgram:
    """One layer: its root loop (one trip) and what the report needs alongside."""

    name: str
    kind: str
    macs: int
    mapping: dict[str, int | str]  # how the layer was mapped, for the report and manifest
    root: Loop


@dataclass(frozen=True)
class HostLayer:
    """A layer without instructions of its own: one the accelerator does not execute (e.g.
    pooling on an array without a vector unit), or one fused into another layer. Reports
    list it in its place with the reason, never with made-up cycles."""

    name: str
    kind: str
    operations: int  # element operations (comparisons, additions) it would need
    position: int  # index among all the model's layers, lowered or not
    reason: str
    # "host": run elsewhere, not timed; "fused": done inside another layer's instructions
    # (e.g. max pooling in a conv's mvout on Gemmini), whose cycles include it.
    placement: str = "host"


@dataclass(frozen=True)
class Frontend:
    """A front end: issues its bundles in program order, at most `bundles_per_cycle` a
    cycle, bundle b not before the latest start of its bundle b - `window_bundles`, and
    each instruction starts at least `delay` cycles after its bundle issues
    (docs/design.md §3.2)."""

    bundles_per_cycle: int
    window_bundles: int
    delay: int


@dataclass(frozen=True)
class Memory:
    """A memory or buffer of the description whose reads and writes the reports count (and
    price: analyzer/energy.py), in words of `word_bytes` bytes each."""

    kind: str  # "dram" (off chip) or "sram" (on chip: SRAMs, scratchpads, register files)
    word_bytes: int
    capacity_bytes: int  # what it holds; 0 for DRAM, whose energy per byte is size-free


MEMORY_KINDS = ("dram", "sram")


@dataclass(frozen=True)
class Datapath:
    """The widths a multiply-accumulate works at, which price it (analyzer/energy.py)."""

    operand_bits: int
    accumulator_bits: int


@dataclass(frozen=True)
class Program:
    """Everything the analyzer needs; the trace folder stores exactly this."""

    accelerator: str
    parameters: dict[str, int | str]
    bundles_per_cycle: int
    window_bundles: int
    frontend_delay: int
    units: dict[str, int]  # unit kind -> instances
    spaces: dict[str, int]  # address space -> locations
    blocks: tuple[Block, ...]
    layers: tuple[LayerProgram, ...]
    model: str = ""
    notes: tuple[str, ...] = field(default=())
    host_layers: tuple[HostLayer, ...] = field(default=())
    # peak_macs_per_cycle and dram_words_per_cycle of the description, for the roofline.
    roofline: dict[str, int] | None = None
    # Queues with their entries (a reservation station's per-kind capacity).
    queues: dict[str, int] = field(default_factory=dict)
    # The family that lowered it (isa/registry.py); "" for a hand-built program, which
    # has no memory side.
    isa: str = ""
    # Front ends besides the default one (the three fields above), each issuing the
    # bundles whose first template names it, independently of the others.
    frontends: dict[str, Frontend] = field(default_factory=dict)
    # The memories the templates' actions name, and the MAC widths; a hand-built program
    # may have neither (its reports then count MACs and nothing else).
    memories: dict[str, Memory] = field(default_factory=dict)
    datapath: Datapath | None = None

    def frontend_list(self) -> tuple[Frontend, ...]:
        """Every front end, the default one first, then `frontends` in their order (the
        kernel's front-end indices)."""
        default = Frontend(self.bundles_per_cycle, self.window_bundles, self.frontend_delay)
        return (default, *self.frontends.values())


def placement_counts(host_layers: tuple[HostLayer, ...]) -> tuple[int, int]:
    """(layers run on the host, layers fused into another layer)."""
    on_host = sum(host.placement == "host" for host in host_layers)
    return on_host, len(host_layers) - on_host


def count_instructions(
    node: Loop | BlockRef, blocks: tuple[Block, ...], counted: dict[int, int] | None = None
) -> int:
    """Instructions one execution of `node` issues (a loop counts all its trips).
    `counted`: the counts of loops by id(), filled as they are counted, for a caller
    counting trees that share subtrees; it must hold no id of a node no longer alive."""
    return count_per_block(node, lambda ref: len(blocks[ref.block].templates), counted)


def count_block_executions(node: Loop | BlockRef, counted: dict[int, int] | None = None) -> int:
    """Kernel iterations (block executions) one execution of `node` performs. `counted`:
    as count_instructions takes it."""
    return count_per_block(node, lambda ref: 1, counted)


def count_per_block(
    node: Loop | BlockRef,
    per_block: Callable[[BlockRef], int],
    counted: dict[int, int] | None = None,
) -> int:
    """The sum of `per_block` over the block executions of one execution of `node`,
    without unrolling it. `counted`: as count_instructions takes it (one per `per_block`)."""
    if isinstance(node, BlockRef):
        return per_block(node)
    if counted is None:
        return node.trips * sum(count_per_block(child, per_block, None) for child in node.body)
    key = id(node)
    count = counted.get(key)
    if count is None:
        count = counted[key] = node.trips * sum(
            count_per_block(child, per_block, counted) for child in node.body
        )
    return count


def block_runs(layers: tuple[LayerProgram, ...], n_blocks: int) -> list[int]:
    """How many times each block runs over one execution of every layer in `layers`.
    Shared subtrees (isa/sharing.py) are walked once: each distinct loop's executions
    are summed over its parents, parents first (the reverse of a depth-first post-order)."""
    order: list[Loop] = []
    seen: set[int] = set()

    def visit(loop: Loop) -> None:
        seen.add(id(loop))
        for child in loop.body:
            if isinstance(child, Loop) and id(child) not in seen:
                visit(child)
        order.append(loop)

    executions: dict[int, int] = {}
    for layer in layers:
        if id(layer.root) not in seen:
            visit(layer.root)
        executions[id(layer.root)] = executions.get(id(layer.root), 0) + 1
    runs = [0] * n_blocks
    for loop in reversed(order):
        trips = executions.get(id(loop), 0) * loop.trips
        for child in loop.body:
            if isinstance(child, BlockRef):
                runs[child.block] += trips
            else:
                executions[id(child)] = executions.get(id(child), 0) + trips
    return runs


class SubtreeCounts:
    """Instructions and block executions of a program's subtrees, each shared subtree
    (isa/sharing.py) counted once: Gemmini's ResNet-50 at batch 4 has 2,101 distinct
    loops, and 37,323 nodes where each is walked wherever it occurs. Keep one only while
    the program it counts is alive (it keys the subtrees by id()), and give it no node
    built for the occasion."""

    def __init__(self, blocks: tuple[Block, ...]) -> None:
        self._blocks = blocks
        self._instructions: dict[int, int] = {}
        self._executions: dict[int, int] = {}

    def instructions(self, node: Loop | BlockRef) -> int:
        return count_instructions(node, self._blocks, self._instructions)

    def executions(self, node: Loop | BlockRef) -> int:
        return count_block_executions(node, self._executions)


def loop_depth(node: Loop | BlockRef, known: dict[int, int] | None = None) -> int:
    """Loops on the deepest path down from `node`, itself included (a block has none): at
    most MAX_DEPTH for a layer's root. Shared subtrees are measured once."""
    if isinstance(node, BlockRef):
        return 0
    known = {} if known is None else known
    depth = known.get(id(node))
    if depth is None:
        depth = known[id(node)] = 1 + max((loop_depth(c, known) for c in node.body), default=0)
    return depth


def periodic_runs(keys: list, max_period: int) -> list[tuple[int, int, int]]:
    """Cover `keys` left to right with runs (start, period, repeats): keys[start :
    start + period] repeated `repeats` times. At each start the run covering the most keys
    is taken (the shortest period on a tie); a key that starts no repetition of any period
    up to `max_period` is a run of its own (period 1, one repeat). A lowering makes each
    run one loop whose body is the group, so a body that does not depend on the index can
    be skipped whole by fast evaluation (docs/design.md §4.2)."""
    ids: dict = {}
    seq = [ids.setdefault(key, len(ids)) for key in keys]
    runs = []
    start = 0
    while start < len(seq):
        best_period, best_repeats = 1, 1
        for period in range(1, min(max_period, (len(seq) - start) // 2) + 1):
            if seq[start + period] != seq[start]:
                continue  # no repeat of this period starts here
            group = seq[start : start + period]
            repeats = 1
            while seq[start + repeats * period : start + (repeats + 1) * period] == group:
                repeats += 1
            if repeats >= 2 and repeats * period > best_repeats * best_period:
                best_period, best_repeats = period, repeats
        runs.append((start, best_period, best_repeats))
        start += best_period * best_repeats
    return runs


# A key standing alone (its position), or a run: (repeats, the items of its first period).
PeriodicItem = int | tuple[int, list["PeriodicItem"]]


def periodic_tree(keys: list, max_period: int) -> list[PeriodicItem]:
    """`periodic_runs` of `keys`, and again of every repeated group's first period, down
    to groups with no repetition inside: a position alone is its index, a run is (repeats,
    items). A lowering makes each run a loop whose body is its items, so repetition nested
    in a longer group (the input-channel blocks of each of a layer's rows of tiles, the
    rows repeating) becomes nested loops, each of which fast evaluation can skip."""
    return _periodic_items(keys, 0, len(keys), max_period)


def periodic_level(keys: list, max_period: int) -> list[PeriodicItem]:
    """`periodic_runs` of `keys` in periodic_tree's form, one level: no run nested."""
    return [
        start if repeats == 1 else (repeats, list(range(start, start + period)))
        for start, period, repeats in periodic_runs(keys, max_period)
    ]


def _periodic_items(keys: list, first: int, end: int, max_period: int) -> list[PeriodicItem]:
    items: list[PeriodicItem] = []
    for start, period, repeats in periodic_runs(keys[first:end], max_period):
        at = first + start
        if repeats == 1:
            items.append(at)
        elif period == 1:
            items.append((repeats, [at]))
        else:
            items.append((repeats, _periodic_items(keys, at, at + period, max_period)))
    return items


STEP_DEPTH = 2  # depth of a step's outermost loops at the root: the root is 0, its loop 1


def layer_of_steps(
    keys: list,
    max_period: int,
    step_nodes: Callable[[int, int], list],
    head: list,
    names: tuple[str, str] = ("step", "steps"),
) -> Loop:
    """A layer's root: `head`, then its steps in order (step t's key keys[t], equal keys
    meaning equal nodes; step_nodes(t, depth) gives its nodes, their outermost loops at
    `depth`). A run of repeating groups of steps becomes a loop, and runs repeating within
    a group loops inside it (periodic_tree): their bodies do not depend on the indices,
    so fast evaluation can skip whole groups (docs/design.md §4.2). Loops are named
    names[1]; a step alone at the root is a one-trip loop names[0], within a group its
    nodes stand in the group's body. A layer whose nested loops would be deeper than
    MAX_DEPTH keeps one level of loops (the blocks built for the deeper attempt stay in
    the program's block table, unused)."""
    alone, repeated = names

    def nodes(items: list[PeriodicItem], depth: int) -> list:
        out: list = []
        for item in items:
            if isinstance(item, int):
                out += step_nodes(item, depth)
            else:
                repeats, inner = item
                out.append(Loop(repeated, repeats, tuple(nodes(inner, depth + 1))))
        return out

    def root(items: list[PeriodicItem]) -> Loop:
        body = list(head)
        for item in items:
            if isinstance(item, int):
                body.append(Loop(alone, 1, tuple(step_nodes(item, STEP_DEPTH))))
            else:
                body.append(Loop(repeated, item[0], tuple(nodes(item[1], STEP_DEPTH))))
        return Loop("layer", 1, tuple(body))

    nested = root(periodic_tree(keys, max_period))
    if loop_depth(nested) <= MAX_DEPTH:
        return nested
    return root(periodic_level(keys, max_period))
