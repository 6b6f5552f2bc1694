"""Turn a `Program` into the flat NumPy arrays the Numba kernels take.

Unit instances and storage locations get global integer ids (kind offset + instance,
space offset + address). A unit kind keeps only the instances its templates can name
(unit_layout): the rest never change, so the state and its signatures leave them out.
A layer's loop tree becomes a small op list: LOOP_BEGIN / BLOCK / LOOP_END with jump
targets, interpreted by analyzer/engine/kernels.py.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from dataclasses import dataclass
from functools import reduce
from itertools import chain
from operator import attrgetter, or_
from typing import NamedTuple

import numpy as np

from analyzer.engine.arrays import LayerArrays, ProgramArrays
from analyzer.engine.kernels import (
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
)
from analyzer.engine.packing_kernels import finish_layer_ops
from analyzer.engine.signatures import (
    BLOCK,
    FRONTEND_ITEMS,
    LOOP_BEGIN,
    LOOP_END,
    SIG_CHUNK_SHIFT,
)
from analyzer.engine.template_row import template_rows
from isa.program import (
    MAX_DEPTH,
    BlockRef,
    LayerProgram,
    Loop,
    Operand,
    Program,
    Template,
)
from isa.validation import check_program

# Locations come in chunks of 2**CHUNK_SHIFT when operands spanning at least CHUNKED_SPAN
# of them dominate (Gemmini's multi-block mvins span thousands of rows): a range then costs
# a few chunks plus its ragged ends instead of one step per location (analyzer/engine/kernels.py).
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


@dataclass(frozen=True)
class PackedLayer:
    arrays: LayerArrays
    instructions: int
    block_executions: int
    # int64 per op: how many times one execution of the layer runs it (a BLOCK: its
    # block's executions there; a LOOP_BEGIN: how often the loop is entered).
    op_runs: np.ndarray
    # int64 per block of the program: how many times one execution of the layer runs it
    # (the resource bound weighs each block's usage by it, the action counts its actions).
    block_runs: np.ndarray


def _keeps_runs(chunk_shift: int, counts: np.ndarray) -> bool:
    """Whether fast mode keeps the locations' runs (analyzer/engine/signatures.py,
    `_run_end`): one run per operand rather than per location pays where operands of
    several locations carry most of the locations named (Gemmini's rows); a systolic
    array's one-location operands would only pay for the marking. The tests force either."""
    return chunk_shift > 0 or 2 * int(counts[counts > 1].sum()) >= int(counts.sum()) > 0


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
    wide = int(counts[counts >= CHUNKED_SPAN].sum())
    # Chunks cost the one-location hot path a little: only where wide operands carry most
    # of the locations the templates name (Gemmini, not a systolic array's one drain).
    chunk_shift = CHUNK_SHIFT if 2 * wide >= int(counts.sum()) > 0 else 0
    runs = _keeps_runs(chunk_shift, counts)
    if not runs:
        # The hot path reads locations and the unit alone: a template whose instance is
        # fixed and whose every operand is one fixed location. (It keeps no runs: a
        # program that does takes the general path throughout, so the hot path, which
        # full mode runs too, has no test for them.)
        moving = np.concatenate(([0], np.cumsum((counts != 1) | (operand_offsets != 0))))
        ends, starts = templates[:, T_MARKS_END], templates[:, T_OPERANDS_FIRST]
        templates[:, T_SIMPLE] = (instance_offsets == 0) & (moving[ends] == moving[starts])
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
    """`layer`'s op list. `subtrees`: the op lists of subtrees packed before, for this
    `blocks` (an Evaluation keeps one for all its layers); None: a new one."""
    if subtrees is None:
        subtrees = SubtreeOps(blocks)
    elif subtrees.blocks is not blocks:
        raise ValueError("the subtree ops belong to another packed program; make a new one")
    try:
        root = subtrees.of(layer.root, 0)
    except _TooDeep:
        raise ValueError(f"layer {layer.name!r}: loops nest deeper than {MAX_DEPTH}") from None
    # A row per field, the layer's own (writable) copy of the fragment's bytes.
    ops = np.ascontiguousarray(np.frombuffer(root.ops, dtype=np.int64).reshape(-1, _ROWS).T)
    op_runs = np.empty(ops.shape[1], dtype=np.int64)
    block_runs = np.zeros(len(blocks.block_first) - 1, dtype=np.int64)
    issuing = finish_layer_ops(
        ops[_KIND],
        ops[_ARG],
        ops[_JUMP],
        subtrees.block_of_template,
        subtrees.block_frontends,
        op_runs,
        block_runs,
        ops[_LIVE],
    )
    one_frontend = True
    if blocks.arrays.frontends.shape[0] > 1:
        one_frontend = issuing & (issuing - 1) == 0
    else:
        ops[_LIVE] = 1
    return PackedLayer(
        arrays=LayerArrays(
            kind=ops[_KIND],
            arg=ops[_ARG],
            arg2=ops[_ARG2],
            jump=ops[_JUMP],
            depth=ops[_DEPTH],
            skippable=ops[_SKIPPABLE].astype(np.bool_),
            work=ops[_WORK],
            memo=ops[_MEMO],
            # Translated and wavefront periods compare one issue time; where several front
            # ends issue in a layer only whole-state signatures skip (docs/design.md §4.6).
            translate=ops[_TRANSLATE].astype(np.bool_) & one_frontend,
            ahead=ops[_AHEAD].astype(np.bool_),
            live=ops[_LIVE],
        ),
        instructions=root.instructions,
        block_executions=root.block_executions,
        op_runs=op_runs,
        block_runs=block_runs,
    )


# Fields of a fragment's op: LayerArrays' fields.
_ROW = {name: row for row, name in enumerate(LayerArrays._fields)}
_KIND, _ARG, _ARG2, _JUMP, _DEPTH = (_ROW[n] for n in ("kind", "arg", "arg2", "jump", "depth"))
_SKIPPABLE, _WORK, _MEMO, _TRANSLATE = (_ROW[n] for n in ("skippable", "work", "memo", "translate"))
_AHEAD, _LIVE = _ROW["ahead"], _ROW["live"]
_ROWS = len(_ROW)
# One op as a fragment's bytes hold it. Jumps are kept relative to their op, so a
# fragment reads the same wherever it lands (finish_layer_ops makes them absolute).
_OP = struct.Struct(f"={_ROWS}q")


# What SubtreeOps keys a node's fragments by: its identity (see there).
_identity = id


class _TooDeep(Exception):
    """A loop at depth MAX_DEPTH; pack_layer names the layer in its error."""


class _Fragment(NamedTuple):
    """The ops of one subtree at one loop depth, and what one execution of it does."""

    node: Loop | BlockRef  # held, so no other node can take its id() while this lives
    # The ops, _OP after _OP: bytes, so that a loop joins its children's in one copy
    # (a NumPy concatenation per fragment cost more than the rest of packing).
    ops: bytes
    size: int  # how many ops
    instructions: int
    work: int  # instructions plus one per extra location of a wide operand
    mask: int  # bit d: some address below uses the index of loop depth d
    block_executions: int


class SubtreeOps:
    """The op lists of loop subtrees of one packed program, each built once per subtree
    object and loop depth. Lowerings share equal subtrees as one object (Gemmini's tiles
    repeat the same row loops hundreds of times: isa/sharing.py), so a layer costs its
    distinct subtrees, not its nodes, and a later layer takes the subtrees an earlier
    one packed. Keyed by identity, never by value or name: two subtrees that differ in a
    trip count or a block (an operand's coefficient) never share ops; an entry holds its
    node, so a key cannot be taken by another object while the entry lives."""

    def __init__(self, blocks: PackedBlocks) -> None:
        self.blocks = blocks
        # Per loop depth of the parent + 1 (a node's `level`): fragments by node identity.
        self._fragments: list[dict[int, _Fragment]] = [{} for _ in range(MAX_DEPTH + 1)]
        self._block_facts = _block_facts(blocks)
        self._one_bundle = _one_bundle_blocks(blocks)
        # Per block: the front ends opening bundles in it (bit f), for LayerArrays.live.
        templates = blocks.arrays.templates
        opening = np.where(
            templates[:, T_BUNDLE_START] != 0, np.left_shift(1, templates[:, T_FRONTEND]), 0
        )
        self.block_frontends = _per_block(
            np.bitwise_or, opening, blocks.block_first[:-1], blocks.block_first[1:]
        )
        # A BLOCK op names its block by the block's first template (a whole block, never
        # an empty one: isa/validation.py refuses it).
        self.block_of_template = np.repeat(
            np.arange(len(blocks.block_first) - 1, dtype=np.int64), np.diff(blocks.block_first)
        )

    def of(self, node: Loop | BlockRef, level: int) -> _Fragment:
        """The fragment of `node` whose parent loop is at depth `level` - 1."""
        built = self._fragments[level]
        fragment = built.get(_identity(node))
        if fragment is None:
            if isinstance(node, BlockRef):
                fragment = self._block_fragment(node, level)
            else:
                fragment = self._loop_fragment(node, level)
            built[_identity(node)] = fragment
        return fragment

    def _block_fragment(self, node: BlockRef, level: int) -> _Fragment:
        ops = [0] * _ROWS
        ops[_KIND], ops[_DEPTH] = BLOCK, level - 1
        ops[_ARG], ops[_ARG2], instructions, work, mask, _ = self._block_facts[node.block]
        return _Fragment(node, _OP.pack(*ops), 1, instructions, work, mask, 1)

    def _loop_fragment(self, node: Loop, level: int) -> _Fragment:
        if level >= MAX_DEPTH:
            raise _TooDeep
        # The loop's children, then their fields (a program's loops have thousands of
        # child edges in all, most of them to fragments built already).
        built = self._fragments[level + 1]
        children = [built.get(_identity(child)) or self.of(child, level + 1) for child in node.body]
        _, child_ops, sizes, child_instructions, works, masks, child_executions = zip(
            *children, strict=True
        )
        size, instructions, executions = sum(sizes), sum(child_instructions), sum(child_executions)
        body_work, mask = sum(works), reduce(or_, masks)
        # A single trip has nothing to skip; a body that depends on the index repeats only
        # translated, moved along its locations (docs/design.md §4.6).
        index_dependent = bool((mask >> level) & 1)
        skippable = node.trips > 1 and not index_dependent
        translate = node.trips > 1 and index_dependent
        begin = [0] * _ROWS
        begin[_KIND], begin[_ARG], begin[_ARG2] = LOOP_BEGIN, node.trips, instructions
        begin[_JUMP], begin[_DEPTH] = size + 1, level
        begin[_SKIPPABLE], begin[_WORK], begin[_TRANSLATE] = skippable, body_work, translate
        begin[_MEMO] = self._memo_identity(node) if skippable else 0
        begin[_AHEAD] = (
            skippable
            and node.trips > 2
            and len(node.body) == 1
            and isinstance(node.body[0], BlockRef)
            and self._one_bundle[node.body[0].block]
        )
        end = [0] * _ROWS
        end[_KIND], end[_ARG], end[_JUMP], end[_DEPTH] = LOOP_END, node.trips, -(size + 1), level
        ops = b"".join((_OP.pack(*begin), *child_ops, _OP.pack(*end)))
        return _Fragment(
            node,
            ops,
            size + 2,
            node.trips * instructions,
            node.trips * body_work,
            mask,
            node.trips * executions,
        )

    def _memo_identity(self, node: Loop) -> int:
        if len(node.body) != 1 or not isinstance(node.body[0], BlockRef):
            return 0
        first, end, _, _, _, affine = self._block_facts[node.body[0].block]
        if first == end or affine:
            return 0
        return first + 1


def _one_bundle_blocks(blocks: PackedBlocks) -> list[bool]:
    """Per block: whether it is one bundle, opened by its first template, and takes no
    queue (the body an ahead period may repeat, docs/design.md §4.11)."""
    templates = blocks.arrays.templates
    # Running counts, so a block's are two lookups (blocks may be empty).
    opens = np.concatenate(([0], np.cumsum(templates[:, T_BUNDLE_START] != 0)))
    queued = (templates[:, T_QUEUE] >= 0) | (templates[:, T_ISSUE_QUEUE] >= 0)
    queues = np.concatenate(([0], np.cumsum(queued)))
    bounds = blocks.block_first.tolist()
    return [
        bool(
            end > first
            and templates[first, T_BUNDLE_START]
            and opens[end] - opens[first] == 1
            and queues[end] == queues[first]
        )
        for first, end in zip(bounds[:-1], bounds[1:], strict=True)
    ]


def _block_facts(blocks: PackedBlocks) -> list[tuple[int, int, int, int, int, bool]]:
    """Per block: (first template, end template, instructions, work, bit mask of the
    loop depths its addresses or unit instances use, whether some address or instance
    moves)."""
    arrays = blocks.arrays
    first, end = blocks.block_first[:-1], blocks.block_first[1:]
    # Operands of block b: from its first template's first to its last template's end.
    operands_first = np.zeros(len(first), dtype=np.int64)
    operands_end = np.zeros(len(first), dtype=np.int64)
    nonempty = end > first
    operands_first[nonempty] = arrays.templates[first[nonempty], T_OPERANDS_FIRST]
    operands_end[nonempty] = arrays.templates[end[nonempty] - 1, T_MARKS_END]
    extra = _per_block(
        np.add, np.maximum(arrays.operand_count - 1, 0), operands_first, operands_end
    )
    bits = 1 << np.arange(MAX_DEPTH, dtype=np.int64)
    depth_bits = ((arrays.offset_coefs != 0) @ bits)[arrays.operand_offset]
    mask = _per_block(np.bitwise_or, depth_bits, operands_first, operands_end)
    affine = _per_block(np.logical_or, arrays.operand_affine > 0, operands_first, operands_end)
    # The depths the templates' unit instances move with count as the addresses' do.
    instance_bits = (arrays.offset_coefs[arrays.templates[:, T_INSTANCE_OFFSET]] != 0) @ bits
    mask |= _per_block(np.bitwise_or, instance_bits, first, end)
    affine |= _per_block(np.logical_or, instance_bits != 0, first, end)
    instructions = end - first
    return list(
        zip(
            first.tolist(),
            end.tolist(),
            instructions.tolist(),
            (instructions + extra).tolist(),
            mask.tolist(),
            affine.tolist(),
            strict=True,
        )
    )


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
