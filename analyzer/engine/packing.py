"""Turn a `Program` into the flat NumPy arrays the Numba kernels take.

Unit instances and storage locations get global integer ids (kind offset + instance,
space offset + address). A unit kind keeps only the instances its templates can name
(unit_layout): the rest never change, so the state and its signatures leave them out.
A layer's loop tree becomes a small op list: LOOP_BEGIN / BLOCK / LOOP_END with jump
targets, interpreted by analyzer/engine/kernels.py.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from itertools import chain
from operator import attrgetter

import numpy as np

from analyzer.engine import compiled
from analyzer.engine.arrays import LayerArrays, ProgramArrays
from analyzer.engine.layout import (
    BUNDLES_NONE,
    BUNDLES_ONE_AT_FIRST,
    BUNDLES_OTHER,
    FRONTEND_ITEMS,
    SIG_CHUNK_SHIFT,
    SIMPLE_FIXED,
    SIMPLE_MOVING,
    SIMPLE_SHARED,
)
from analyzer.engine.template_row import (
    T_BUNDLE_START,
    T_FRONTEND,
    T_INSTANCE_OFFSET,
    T_ISSUE_QUEUE,
    T_LATENCY,
    T_MARKS_END,
    T_OPERANDS_FIRST,
    T_QUEUE,
    T_READS_END,
    T_SIMPLE,
    T_WRITES_END,
    template_rows,
)
from isa.program import (
    MAX_DEPTH,
    BlockRef,
    LayerProgram,
    Loop,
    Operand,
    Program,
    Template,
    block_runs,
)
from isa.validation import check_program

# Locations come in chunks of 2**CHUNK_SHIFT where wide operands, of at least CHUNKED_SPAN
# of them, call for it (the rule: docs/design.md §3.7; Gemmini's multi-block mvins span
# thousands of rows): a range then costs a few chunks plus its ragged ends instead of one
# step per location (analyzer/engine/kernels.py).
# The same size as the signature's chunks, so that a chunk's bounds can pass over a
# signature chunk and a restore rewrite whole state chunks (signatures.py).
CHUNK_SHIFT = SIG_CHUNK_SHIFT
CHUNKED_SPAN = 4 << CHUNK_SHIFT

_SPACE, _BASE, _COUNT, _COEFS = (attrgetter(f) for f in ("space", "base", "count", "coefs"))
_INSTANCE_COEFS = attrgetter("instance_coefs")


@dataclass(frozen=True)
class PackedBlocks:
    """All templates of a program, blocks concatenated, operands in one CSR table: what
    the kernel takes (`arrays`), never changed by it. Fast mode's memory of loops is apart
    from it (analyzer/engine/memo.py)."""

    block_first: np.ndarray  # int64[n_blocks + 1]: each block's first template
    arrays: ProgramArrays
    # Per unit kind (Program.units' order): its first global id and how many of its
    # instances the state holds (unit_layout).
    unit_first: dict[str, int]
    unit_count: dict[str, int]
    # Width of a state signature's buffer (analyzer/engine/signatures.py, _signature):
    # units, the front ends' items and rings, the queues' entries, two times per location,
    # a chunk index per signature chunk and the length of the sparse layout used.
    signature_width: int
    # Subtrees and loop bodies numbered by value for every SubtreeOps of this program
    # (its own numbers are its own): a loop body's number names it in the memo, which
    # outlives a SubtreeOps (analyzer/engine/memo.py).
    subtree_ids: dict[object, int] = field(default_factory=dict, compare=False)
    body_ids: dict[tuple[int, ...], int] = field(default_factory=dict, compare=False)


@dataclass(frozen=True)
class PackedLayer:
    arrays: LayerArrays
    instructions: int
    block_executions: int
    # int64 per block of the program: how many times one execution of the layer runs it
    # (the resource bound weighs each block's usage by it, the action counts its actions).
    block_runs: np.ndarray


def _keeps_runs(chunk_shift: int, counts: np.ndarray, named: np.ndarray) -> bool:
    """Whether fast mode keeps the locations' runs (analyzer/engine/signatures.py,
    `_run_end`): one run per operand rather than per location pays where operands of
    several locations carry most of the locations the layers name (Gemmini's rows); a
    systolic array's one-location operands would only pay for the marking. `named`: the
    locations each operand names over the layers (_named_locations). The tests force
    either."""
    return chunk_shift > 0 or _mostly_ranges(counts, named)


def _mostly_ranges(counts: np.ndarray, named: np.ndarray) -> bool:
    """Whether operands of several locations name at least half of the locations the layers
    name."""
    return 2 * float(named[counts > 1].sum()) >= float(named.sum()) > 0


def _named_locations(
    program: Program, block_first: list[int], templates: np.ndarray, counts: np.ndarray
) -> np.ndarray:
    """float64 per operand: the locations it names over one execution of every layer (its
    count times its block's runs), or its count alone where the layers run no block. A
    systolic step is a loop over its PEs, so a PE's one-location operands are named
    R x C times for a fold's one wide read: weighing templates once would chunk a
    32x32 os program and send every PE instruction down the general path.
    `templates`: the template rows (template_rows)."""
    runs = np.array(block_runs(program.layers, len(program.blocks)), dtype=np.float64)
    if not runs.any():
        runs[:] = 1.0
    per_template = np.repeat(runs, np.diff(np.array(block_first, dtype=np.int64)))
    operands = templates[:, T_MARKS_END] - templates[:, T_OPERANDS_FIRST]
    return counts * np.repeat(per_template, operands)


def pack_blocks(program: Program, checked: bool = False) -> PackedBlocks:
    """Raises isa.validation.ProgramError for a program the kernels must not see.
    `checked`: the caller has just run isa.validation.check_program on `program` (as
    tracer.trace_read.read_trace does), so it is not walked a second time."""
    if not checked:
        check_program(program)
    space_first: dict[str, int] = {}
    locations = 0
    for name, size in program.spaces.items():
        space_first[name] = locations
        locations += size

    queue_index = {name: k for k, name in enumerate(program.queues)}
    frontends = program.frontend_list()
    frontend_index = {name: k + 1 for k, name in enumerate(program.frontends)}
    queue_first = [0]
    for entries in program.queues.values():
        queue_first.append(queue_first[-1] + entries)
    # Operands and instances with equal coefficients share one offset (Gemmini's shadow
    # spaces of a row): each distinct coefficient row is numbered at its first sight; a
    # fixed instance takes the zero one, always present.
    offset_of_coefs: dict[tuple[int, ...], int] = {}
    offset_of_row: dict[tuple[int, ...], int] = {}

    def offset_of(coefs: tuple[int, ...]) -> int:
        offset = offset_of_coefs.get(coefs)
        if offset is None:
            row = coefs + (0,) * (MAX_DEPTH - len(coefs))
            offset = offset_of_coefs[coefs] = offset_of_row.setdefault(row, len(offset_of_row))
        return offset

    offset_of(())  # offset 0: no coefficients, a fixed instance or address
    block_first = [0]
    every: list[Template] = []
    for block in program.blocks:
        every.extend(block.templates)
        block_first.append(len(every))
    unit_first, unit_count = unit_layout(program, every)
    total = sum(unit_count.values())
    # Every template's lists in field order: the kernel's order.
    operands: list[Operand] = list(chain.from_iterable(map(Template.operands, every)))
    instance_offsets = _numbered(list(map(_INSTANCE_COEFS, every)), offset_of, offset_of_coefs)
    templates = template_rows(every, unit_first, queue_index, frontend_index, instance_offsets)
    n = len(operands)
    space_index = {name: k for k, name in enumerate(program.spaces)}
    space_of = np.fromiter(map(space_index.__getitem__, map(_SPACE, operands)), np.int64, n)
    first_of_space = np.array(list(space_first.values()), dtype=np.int64)[space_of]
    location = first_of_space + np.fromiter(map(_BASE, operands), dtype=np.int64, count=n)
    counts = np.fromiter(map(_COUNT, operands), dtype=np.int64, count=n)
    operand_offsets = _numbered(list(map(_COEFS, operands)), offset_of, offset_of_coefs)
    named = _named_locations(program, block_first, templates, counts)
    # Chunks would keep a one-location program off the hot paths (docs/design.md §3.7):
    # only where ranges name most locations (Gemmini's rows) and some are wide; not for a
    # systolic array's fold reads.
    any_wide = bool((counts >= CHUNKED_SPAN).any())
    chunk_shift = CHUNK_SHIFT if any_wide and _mostly_ranges(counts, named) else 0
    runs = _keeps_runs(chunk_shift, counts, named)
    if not runs and chunk_shift == 0:
        # The hot paths read locations and the unit alone: a template whose every operand
        # is one location, never chunked. (It keeps no runs: a program that does takes
        # the general path throughout, so the hot paths, which full mode runs too, have no
        # test for them.) Counts before each operand, so that a template's are its ends'
        # difference:
        ranges = np.concatenate(([0], np.cumsum(counts != 1)))
        moving = np.concatenate(([0], np.cumsum(operand_offsets != 0)))
        ends, starts = templates[:, T_MARKS_END], templates[:, T_OPERANDS_FIRST]
        instance_offset = np.repeat(templates[:, T_INSTANCE_OFFSET], ends - starts)
        apart = np.concatenate(([0], np.cumsum(operand_offsets != instance_offset)))
        fixed = moving[ends] == moving[starts]  # (an instance moves on either path)
        # Every operand moving as the instance does (where the instance is fixed, so are
        # they, and `fixed` decides first).
        shared = apart[ends] == apart[starts]
        kind = np.where(fixed, SIMPLE_FIXED, np.where(shared, SIMPLE_SHARED, SIMPLE_MOVING))
        templates[:, T_SIMPLE] = np.where(ranges[ends] == ranges[starts], kind, 0)
    offset_coefs = np.array(list(offset_of_row), dtype=np.int64).reshape(-1, MAX_DEPTH)
    # Reads of a space some template writes keep their read times (WAR).
    in_writes = np.zeros(n + 1, dtype=np.int64)
    np.add.at(in_writes, templates[:, T_READS_END], 1)
    np.add.at(in_writes, templates[:, T_WRITES_END], -1)
    written = np.unique(first_of_space[np.cumsum(in_writes)[:n] > 0])
    track = np.isin(first_of_space, written)
    space_lo = first_of_space
    space_hi = first_of_space + np.array(list(program.spaces.values()), dtype=np.int64)[space_of]
    arrays = ProgramArrays(
        templates=templates,
        operand_location=location,
        operand_count=counts,
        operand_affine=_address_depths(offset_coefs)[operand_offsets],
        operand_track=track,
        queue_first=np.array(queue_first, dtype=np.int64),
        n_units=total,
        n_locations=locations,
        min_latency=int(templates[:, T_LATENCY].min()) if len(every) else 0,
        chunk_shift=chunk_shift,
        keeps_runs=runs,
        frontends=np.array(
            [(f.bundles_per_cycle, f.window_bundles, f.delay) for f in frontends], dtype=np.int64
        ),
        operand_space_lo=space_lo,
        operand_space_hi=space_hi,
        operand_offset=operand_offsets,
        offset_coefs=offset_coefs,
    )
    # signatures._signature_width, for the memo's rows: the dense items, a chunk index
    # per signature chunk and the length used.
    signature_width = (
        total
        + 2 * locations
        + sum(f.bundles_per_cycle + f.window_bundles + FRONTEND_ITEMS for f in frontends)
        + 3
        + queue_first[-1]
        + -(-locations >> SIG_CHUNK_SHIFT)
        + 1
    )
    return PackedBlocks(
        np.array(block_first, dtype=np.int64), arrays, unit_first, unit_count, signature_width
    )


def unit_layout(
    program: Program, templates: list[Template]
) -> tuple[dict[str, int], dict[str, int]]:
    """Each unit kind's first global id and its instance count in the state: up to the
    highest instance a template names, or every declared instance if some template's
    instance moves with the loops (its reach depends on each layer's trips). An instance
    no template names is never busy: leaving it out of the state changes no time, and a
    systolic array's ws and is dataflows use one drain per column of the R x C declared."""
    highest = dict.fromkeys(program.units, -1)
    moving: set[str] = set()
    for template in templates:
        if any(template.instance_coefs):
            moving.add(template.unit)
        elif template.instance > highest[template.unit]:
            highest[template.unit] = template.instance
    unit_first: dict[str, int] = {}
    unit_count: dict[str, int] = {}
    total = 0
    for name, declared in program.units.items():
        unit_first[name] = total
        unit_count[name] = declared if name in moving else highest[name] + 1
        total += unit_count[name]
    return unit_first, unit_count


def _numbered(
    coefs: list[tuple[int, ...]],
    offset_of: Callable[[tuple[int, ...]], int],
    numbers: dict[tuple[int, ...], int],
) -> np.ndarray:
    """The offset of each coefficient tuple, `offset_of` called once per distinct one
    (most operands and instances share the empty tuple), then read from `numbers`."""
    for distinct in dict.fromkeys(coefs):  # first sight first: the numbering's order
        offset_of(distinct)
    return np.fromiter(map(numbers.__getitem__, coefs), dtype=np.int64, count=len(coefs))


def _address_depths(coefs: np.ndarray) -> np.ndarray:
    nonzero = coefs != 0
    last = MAX_DEPTH - np.argmax(nonzero[:, ::-1], axis=1)
    return np.where(nonzero.any(axis=1), last, 0).astype(np.int64)


def pack_layer(
    layer: LayerProgram,
    program: Program,
    blocks: PackedBlocks,
    subtrees: SubtreeOps | None = None,
) -> PackedLayer:
    """`layer`'s op list. `subtrees`: the subtrees numbered before, for this `blocks` (an
    Evaluation keeps one for all its layers); None: a new one."""
    if subtrees is None:
        subtrees = SubtreeOps(blocks)
    elif subtrees.blocks is not blocks:
        raise ValueError("the subtree ops belong to another packed program; make a new one")
    if not isinstance(layer.root, Loop):  # layer_ops writes a loop's two ops around it
        raise ValueError(f"layer {layer.name!r}: the root must be a loop")
    root = subtrees.number(layer.root)
    nodes, node_facts, children = subtrees.tables()
    block_runs = np.zeros(len(blocks.block_first) - 1, dtype=np.int64)
    issuing, fields = compiled.layer_ops(
        root, subtrees.counted, nodes, subtrees.block_facts, node_facts, children, block_runs
    )
    subtrees.counted = nodes.shape[0]
    if issuing < 0:
        raise ValueError(f"layer {layer.name!r}: loops nest deeper than {MAX_DEPTH}")
    arrays = LayerArrays(*fields)
    if blocks.arrays.frontends.shape[0] > 1:
        # Translated and wavefront periods compare one issue time; where several front ends
        # issue in a layer only whole-state signatures skip (docs/design.md §4.6).
        if issuing & (issuing - 1) != 0:
            arrays.translate[:] = False
    else:
        arrays.live[:] = 1
    return PackedLayer(
        arrays=arrays,
        instructions=int(node_facts[root, _INSTRUCTIONS]),
        block_executions=int(node_facts[root, _EXECUTIONS]),
        block_runs=block_runs,
    )


# Columns of SubtreeOps' facts per subtree that pack_layer reads, and how many there are
# (packing_kernels.layer_ops says what each holds).
_INSTRUCTIONS, _EXECUTIONS = 1, 4
_NODE_FACTS = 10
_NODE_COLUMNS = 5  # of the node table


class SubtreeOps:
    """The subtrees of one packed program's layers, each distinct one numbered once, and
    the table `layer_ops` (analyzer/engine/packing_kernels.py) writes a layer's op list
    from. Subtrees are numbered by value: a block by its index, a loop by its name, trips
    and its children's numbers, so equal subtrees get one number and two that differ in
    a trip count, a block (an operand's coefficient) or a name never share one. Each node
    object is numbered once and held, so its id() stays its own: lowerings share equal
    subtrees as one object (Gemmini's tiles repeat the same row loops hundreds of times:
    isa/sharing.py), so a layer costs its new subtree objects, not its nodes, and a later
    layer takes the subtrees an earlier one numbered. A layer's number is what its cycles
    depend on besides the machine: Evaluation reuses results by it."""

    def __init__(self, blocks: PackedBlocks) -> None:
        self.blocks = blocks
        self._number_of_node: dict[int, int] = {}
        self._held: list[Loop | BlockRef] = []
        self._number_of_value: dict[object, int] = {}
        # Per number, the subtree's number in blocks.subtree_ids.
        self._shared_id: list[int] = []
        # The subtrees numbered since `tables` last made arrays of them: their rows of
        # the node table (block or -1, trips, first and end child, the body's number in
        # blocks.body_ids from 1 or 0 for a block), and their children.
        self._new_nodes: list[tuple[int, int, int, int, int]] = []
        self._new_children: list[int] = []
        self._nodes = np.zeros((0, _NODE_COLUMNS), dtype=np.int64)
        self._children = np.zeros(0, dtype=np.int64)
        self._facts = np.zeros((0, _NODE_FACTS), dtype=np.int64)
        # How many subtrees layer_ops has counted (their `_facts` rows are written).
        self.counted = 0
        self.block_facts = _block_facts(blocks)

    def number(self, node: Loop | BlockRef) -> int:
        """`node`'s number: equal subtrees have equal numbers."""
        known = self._number_of_node.get(id(node))
        if known is not None:
            return known
        value: object
        if isinstance(node, BlockRef):
            value = node.block
        else:
            body = [self.number(child) for child in node.body]
            value = (node.name, node.trips, *body)
        number = self._number_of_value.get(value)
        if number is None:
            number = self._number_of_value[value] = len(self._number_of_value)
            shared = self.blocks.subtree_ids
            if isinstance(node, BlockRef):
                self._shared_id.append(shared.setdefault(value, len(shared)))
                self._new_nodes.append((node.block, 0, 0, 0, 0))
            else:
                children = tuple(self._shared_id[child] for child in body)
                key = (node.name, node.trips, children)
                self._shared_id.append(shared.setdefault(key, len(shared)))
                bodies = self.blocks.body_ids
                body_id = bodies.setdefault(children, len(bodies) + 1)
                first = len(self._children) + len(self._new_children)
                self._new_children.extend(body)
                self._new_nodes.append((-1, node.trips, first, first + len(body), body_id))
        self._number_of_node[id(node)] = number
        self._held.append(node)
        return number

    def tables(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The node table, its facts (rows from `counted` on not yet written) and the
        children, with the subtrees numbered so far."""
        if self._new_nodes:
            new = np.array(self._new_nodes, dtype=np.int64).reshape(-1, _NODE_COLUMNS)
            self._nodes = np.concatenate((self._nodes, new))
            added = np.array(self._new_children, dtype=np.int64)
            self._children = np.concatenate((self._children, added))
            facts = np.zeros((len(self._nodes), _NODE_FACTS), dtype=np.int64)
            facts[: len(self._facts)] = self._facts
            self._facts = facts
            self._new_nodes, self._new_children = [], []
        return self._nodes, self._facts, self._children


def _block_facts(blocks: PackedBlocks) -> np.ndarray:
    """Per block, the row `layer_ops` takes (analyzer/engine/packing_kernels.py): first
    template, end template, instructions, work, bit mask of the loop depths its addresses
    or unit instances use, the bundles it opens (`BUNDLES_*`: an ahead period repeats a
    body of one bundle opened by its first instruction, taking no queue, docs/design.md
    §4.11), and the front ends opening bundles in it (bit f)."""
    arrays = blocks.arrays
    templates = arrays.templates
    first, end = blocks.block_first[:-1], blocks.block_first[1:]
    # Operands of block b: from its first template's first to its last template's end.
    operands_first = np.zeros(len(first), dtype=np.int64)
    operands_end = np.zeros(len(first), dtype=np.int64)
    nonempty = end > first
    operands_first[nonempty] = templates[first[nonempty], T_OPERANDS_FIRST]
    operands_end[nonempty] = templates[end[nonempty] - 1, T_MARKS_END]
    extra = _per_block(
        np.add, np.maximum(arrays.operand_count - 1, 0), operands_first, operands_end
    )
    bits = 1 << np.arange(MAX_DEPTH, dtype=np.int64)
    depth_bits = ((arrays.offset_coefs != 0) @ bits)[arrays.operand_offset]
    mask = _per_block(np.bitwise_or, depth_bits, operands_first, operands_end)
    # The depths the templates' unit instances move with count as the addresses' do.
    instance_bits = (arrays.offset_coefs[templates[:, T_INSTANCE_OFFSET]] != 0) @ bits
    mask |= _per_block(np.bitwise_or, instance_bits, first, end)
    opens = templates[:, T_BUNDLE_START] != 0
    queued = (templates[:, T_QUEUE] >= 0) | (templates[:, T_ISSUE_QUEUE] >= 0)
    bundles = np.zeros(len(first), dtype=np.int64)
    opened = _per_block(np.add, opens.astype(np.int64), first, end)
    bundles[nonempty] = np.where(
        _per_block(np.logical_or, queued, first, end)[nonempty]
        | (opened[nonempty] > 1)
        | ((opened[nonempty] == 1) & ~opens[first[nonempty]]),
        BUNDLES_OTHER,
        np.where(opened[nonempty] == 1, BUNDLES_ONE_AT_FIRST, BUNDLES_NONE),
    )
    opening = np.where(opens, np.left_shift(1, templates[:, T_FRONTEND]), 0)
    instructions = end - first
    return np.stack(
        (
            first,
            end,
            instructions,
            instructions + extra,
            mask,
            bundles,
            _per_block(np.bitwise_or, opening, first, end),
        ),
        axis=1,
    ).astype(np.int64)


def _per_block(
    reduce: np.ufunc, values: np.ndarray, first: np.ndarray, end: np.ndarray
) -> np.ndarray:
    """`reduce` over values[first[b] : end[b]] for each block b (its identity for an empty
    one). The blocks' ranges lie end to end (a block's templates, and their operands,
    follow the previous block's), so each nonempty one ends where the next one starts."""
    out = np.full(len(first), reduce.identity, dtype=values.dtype)
    nonempty = end > first
    if nonempty.any():
        out[nonempty] = reduce.reduceat(values[: end[nonempty][-1]], first[nonempty])
    return out
