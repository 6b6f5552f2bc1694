"""Turn a `Program` into the flat NumPy arrays the Numba kernels take.

Unit instances and storage locations get global integer ids (kind offset + instance,
space offset + address). A layer's loop tree becomes a small op list: LOOP_BEGIN /
BLOCK / LOOP_END with jump targets, interpreted by analyzer/engine/kernels.py.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from analyzer.engine.arrays import LayerArrays, ProgramArrays
from analyzer.engine.kernels import (
    T_INSTANCE_OFFSET,
    T_LATENCY,
    T_MARKS_END,
    T_OPERANDS_FIRST,
)
from analyzer.engine.signatures import BLOCK, LOOP_BEGIN, LOOP_END
from analyzer.engine.template_row import TEMPLATE_COLUMNS, template_row
from isa.program import (
    MAX_DEPTH,
    BlockRef,
    LayerProgram,
    Loop,
    Program,
    count_block_executions,
)
from isa.validation import check_program

# Locations come in chunks of 2**CHUNK_SHIFT when operands spanning at least CHUNKED_SPAN
# of them dominate (Gemmini's multi-block mvins span thousands of rows): a range then costs
# a few chunks plus its ragged ends instead of one step per location (analyzer/engine/kernels.py).
CHUNK_SHIFT = 6
CHUNKED_SPAN = 4 << CHUNK_SHIFT


@dataclass(frozen=True)
class PackedBlocks:
    """All templates of a program, blocks concatenated, operands in one CSR table: what
    the kernel takes (`arrays`), never changed by it. Fast mode's memory of loops is apart
    from it (analyzer/engine/memo.py)."""

    block_first: np.ndarray  # int64[n_blocks + 1]: each block's first template
    arrays: ProgramArrays
    # Length of a state signature (analyzer/engine/kernels.py, _signature): units, two
    # times per location, the front end's rings, two times, the queues' entries.
    signature_length: int


@dataclass(frozen=True)
class PackedLayer:
    arrays: LayerArrays
    instructions: int
    block_executions: int


def pack_blocks(program: Program, checked: bool = False) -> PackedBlocks:
    """Raises isa.validation.ProgramError for a program the kernels must not see.
    `checked`: the caller has just run isa.validation.check_program on `program` (as
    tracer.trace_io.read_trace does), so it is not walked a second time."""
    if not checked:
        check_program(program)
    unit_first: dict[str, int] = {}
    total = 0
    for name, instances in program.units.items():
        unit_first[name] = total
        total += instances
    space_first: dict[str, int] = {}
    locations = 0
    for name, size in program.spaces.items():
        space_first[name] = locations
        locations += size

    queue_index = {name: k for k, name in enumerate(program.queues)}
    queue_first = [0]
    for entries in program.queues.values():
        queue_first.append(queue_first[-1] + entries)
    written = {o.space for block in program.blocks for t in block.templates for o in t.writes}
    counts = [o.count for block in program.blocks for t in block.templates for o in t.operands()]
    wide = sum(count for count in counts if count >= CHUNKED_SPAN)
    # Chunks cost the one-location hot path a little: only where wide operands carry most
    # of the locations the templates name (Gemmini, not a systolic array's one drain).
    chunk_shift = CHUNK_SHIFT if 2 * wide >= sum(counts) > 0 else 0
    block_first = [0]
    rows: list[list[int]] = []
    track: list[bool] = []
    loc, count, coefs, space_lo, space_hi = [], [], [], [], []
    instance_coefs = []
    for block in program.blocks:
        for t in block.templates:
            operands = t.operands()  # every list in field order: the kernel's order
            # The hot path reads locations and the unit alone: no chunks, no offsets.
            fixed = not any(t.instance_coefs) and all(
                o.count == 1 and not any(o.coefs) for o in operands
            )
            # The instance's offset is filled in once the offsets are known (below).
            rows.append(
                template_row(t, unit_first, queue_index, len(loc), 0, fixed and chunk_shift == 0)
            )
            instance_coefs.append(_padded(t.instance_coefs))
            for operand in operands:
                track.append(operand.space in written)
                loc.append(space_first[operand.space] + operand.base)
                space_lo.append(space_first[operand.space])
                space_hi.append(space_first[operand.space] + program.spaces[operand.space])
                count.append(operand.count)
                coefs.append(_padded(operand.coefs))
        block_first.append(len(rows))
    coef_array = np.array(coefs, dtype=np.int64).reshape(-1, MAX_DEPTH)
    templates = np.array(rows, dtype=np.int64).reshape(-1, TEMPLATE_COLUMNS)
    location = np.array(loc, dtype=np.int64)
    # Operands and instances with equal coefficients share one offset (Gemmini's shadow
    # spaces of a row); a fixed instance takes the zero one, always present.
    offset_coefs, inverse = np.unique(
        np.concatenate(
            [
                coef_array,
                np.array(instance_coefs, dtype=np.int64).reshape(-1, MAX_DEPTH),
                np.zeros((1, MAX_DEPTH), dtype=np.int64),
            ]
        ),
        axis=0,
        return_inverse=True,
    )
    inverse = inverse.reshape(-1).astype(np.int64)
    operand_offset = inverse[: len(coefs)]
    templates[:, T_INSTANCE_OFFSET] = inverse[len(coefs) : len(coefs) + len(rows)]
    arrays = ProgramArrays(
        templates=templates,
        operand_location=location,
        operand_slot=location.astype(np.uint64),
        operand_count=np.array(count, dtype=np.int64),
        operand_coefs=coef_array,
        operand_affine=_address_depths(coef_array),
        operand_track=np.array(track, dtype=np.bool_),
        queue_first=np.array(queue_first, dtype=np.int64),
        n_units=total,
        n_locations=locations,
        min_latency=int(templates[:, T_LATENCY].min()) if len(rows) else 0,
        chunk_shift=chunk_shift,
        bundles_per_cycle=program.bundles_per_cycle,
        window_bundles=program.window_bundles,
        frontend_delay=program.frontend_delay,
        operand_space_lo=np.array(space_lo, dtype=np.int64),
        operand_space_hi=np.array(space_hi, dtype=np.int64),
        operand_offset=operand_offset,
        offset_coefs=offset_coefs,
    )
    signature_length = (
        total
        + 2 * locations
        + program.bundles_per_cycle
        + program.window_bundles
        + 2
        + queue_first[-1]
    )
    return PackedBlocks(np.array(block_first, dtype=np.int64), arrays, signature_length)


def _padded(coefs: tuple[int, ...]) -> list[int]:
    return list(coefs) + [0] * (MAX_DEPTH - len(coefs))


def _address_depths(coefs: np.ndarray) -> np.ndarray:
    nonzero = coefs != 0
    last = MAX_DEPTH - np.argmax(nonzero[:, ::-1], axis=1)
    return np.where(nonzero.any(axis=1), last, 0).astype(np.int64)


def pack_layer(layer: LayerProgram, program: Program, blocks: PackedBlocks) -> PackedLayer:
    kind: list[int] = []
    arg: list[int] = []
    arg2: list[int] = []
    jump: list[int] = []
    depth: list[int] = []
    skippable: list[bool] = []
    work: list[int] = []
    memo: list[int] = []
    translate: list[bool] = []
    arrays = blocks.arrays
    extra = np.maximum(arrays.operand_count - 1, 0)
    block_facts: dict[int, tuple[int, int, int]] = {}

    def facts_of_block(block: int) -> tuple[int, int, int]:
        """(instructions, work, bit mask of the loop depths its addresses use)."""
        if block not in block_facts:
            lo, hi = blocks.block_first[block], blocks.block_first[block + 1]
            if lo == hi:
                block_facts[block] = (0, 0, 0)
            else:
                first = arrays.templates[lo, T_OPERANDS_FIRST]
                last = arrays.templates[hi - 1, T_MARKS_END]
                # The loop depths its addresses move with, and its unit instances.
                used = arrays.operand_coefs[first:last].any(axis=0)
                used |= arrays.offset_coefs[arrays.templates[lo:hi, T_INSTANCE_OFFSET]].any(axis=0)
                mask = sum(1 << d for d in range(MAX_DEPTH) if used[d])
                block_facts[block] = (
                    int(hi - lo),
                    int(hi - lo) + int(extra[first:last].sum()),
                    mask,
                )
        return block_facts[block]

    def memo_identity(node: Loop) -> int:
        if len(node.body) != 1 or not isinstance(node.body[0], BlockRef):
            return 0
        lo, hi = blocks.block_first[node.body[0].block], blocks.block_first[node.body[0].block + 1]
        if lo == hi:
            return 0
        first = arrays.templates[lo, T_OPERANDS_FIRST]
        last = arrays.templates[hi - 1, T_MARKS_END]
        if arrays.operand_affine[first:last].any():
            return 0
        if arrays.offset_coefs[arrays.templates[lo:hi, T_INSTANCE_OFFSET]].any():
            return 0
        return int(lo) + 1

    def emit(node: Loop | BlockRef, level: int) -> tuple[int, int, int]:
        """Append `node`'s ops; return its (instructions, work, depth mask), bottom-up so
        every node is visited once."""
        if isinstance(node, BlockRef):
            kind.append(BLOCK)
            arg.append(int(blocks.block_first[node.block]))
            arg2.append(int(blocks.block_first[node.block + 1]))
            jump.append(-1)
            depth.append(level - 1)
            skippable.append(False)
            work.append(0)
            memo.append(0)
            translate.append(False)
            return facts_of_block(node.block)
        if level >= MAX_DEPTH:
            raise ValueError(f"layer {layer.name!r}: loops nest deeper than {MAX_DEPTH}")
        begin = len(kind)
        kind.append(LOOP_BEGIN)
        arg.append(node.trips)
        arg2.append(0)  # instructions per iteration, filled in below
        jump.append(-1)
        depth.append(level)
        skippable.append(False)
        work.append(0)
        memo.append(0)
        translate.append(False)
        instructions = body_work = mask = 0
        for child in node.body:
            child_instructions, child_work, child_mask = emit(child, level + 1)
            instructions += child_instructions
            body_work += child_work
            mask |= child_mask
        arg2[begin] = instructions
        work[begin] = body_work
        # A single trip has nothing to skip; a body that depends on the index repeats only
        # translated, moved along its locations (docs/design.md §4.6).
        index_dependent = bool((mask >> level) & 1)
        skippable[begin] = node.trips > 1 and not index_dependent
        translate[begin] = node.trips > 1 and index_dependent
        memo[begin] = memo_identity(node) if skippable[begin] else 0
        end = len(kind)
        kind.append(LOOP_END)
        arg.append(node.trips)
        arg2.append(0)
        jump.append(begin)
        depth.append(level)
        skippable.append(False)
        work.append(0)
        memo.append(0)
        translate.append(False)
        jump[begin] = end
        return node.trips * instructions, node.trips * body_work, mask

    instructions, _, _ = emit(layer.root, 0)

    return PackedLayer(
        arrays=LayerArrays(
            kind=np.array(kind, dtype=np.int64),
            arg=np.array(arg, dtype=np.int64),
            arg2=np.array(arg2, dtype=np.int64),
            jump=np.array(jump, dtype=np.int64),
            depth=np.array(depth, dtype=np.int64),
            skippable=np.array(skippable, dtype=np.bool_),
            work=np.array(work, dtype=np.int64),
            memo=np.array(memo, dtype=np.int64),
            translate=np.array(translate, dtype=np.bool_),
        ),
        instructions=instructions,
        block_executions=count_block_executions(layer.root),
    )
