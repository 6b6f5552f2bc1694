"""The flat arrays the kernels take: a layer's op list, a program's templates and machine,
and fast mode's memo of loop evolutions (built by analyzer/engine/packing.py and
analyzer/engine/memo.py, read by analyzer/engine/kernels.py)."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

MEMO_META_COLUMNS = 6  # of MemoArrays.meta: what _remember stores besides the signatures
# The item type of the memo's stored signatures (analyzer/engine/memo.py says why), and its
# range as plain integers, which the kernels take as constants.
MEMO_ITEM = np.int32
MEMO_ITEM_LOW, MEMO_ITEM_HIGH = int(np.iinfo(MEMO_ITEM).min), int(np.iinfo(MEMO_ITEM).max)


class LayerArrays(NamedTuple):
    """One layer's loop tree as an op list (analyzer/engine/packing.py, pack_layer)."""

    kind: np.ndarray  # int64: LOOP_BEGIN, BLOCK or LOOP_END
    arg: np.ndarray  # LOOP_BEGIN, LOOP_END: trips; BLOCK: first template
    arg2: np.ndarray  # LOOP_BEGIN: instructions per iteration; BLOCK: end template
    jump: np.ndarray  # the matching LOOP_END / LOOP_BEGIN
    depth: np.ndarray
    skippable: np.ndarray  # bool: no operand below depends on this loop's index
    # LOOP_BEGIN: work of one iteration, what a state comparison is weighed against:
    # instructions plus one per extra location of a multi-location operand.
    work: np.ndarray
    # LOOP_BEGIN: 1 + first template of its only block when that block's operands are all
    # fixed locations (its evolution depends on the entry state alone), else 0.
    memo: np.ndarray
    # LOOP_BEGIN of a loop of several trips whose body depends on its index: it may skip
    # translated periods (docs/design.md §4.6).
    translate: np.ndarray
    # LOOP_BEGIN of a skippable loop of more than two trips whose body is one block that
    # opens one bundle, at its first template, and takes no queue: it may skip periods
    # while its front end runs ahead of it (docs/design.md §4.11).
    ahead: np.ndarray
    # LOOP_BEGIN: bit f set when front end f may open a bundle after one of the loop's
    # iteration boundaries (docs/design.md §4.3); every bit with one front end.
    live: np.ndarray


class ProgramArrays(NamedTuple):
    """A program's templates, operands and machine (analyzer/engine/packing.py,
    pack_blocks), shared by all its layers."""

    templates: np.ndarray  # int64[n_templates, TEMPLATE_COLUMNS], columns T_*
    # Operands of every template, in template order: the global id of the base address,
    # locations, and the loop depths the address depends on (1 + the deepest nonzero
    # coefficient; 0: a fixed address); the coefficients per loop depth are its offset's
    # (offset_coefs[operand_offset]).
    operand_location: np.ndarray
    operand_count: np.ndarray
    operand_affine: np.ndarray
    # bool: a read of a space some instruction writes, so its read times matter (WAR);
    # reads of spaces nobody writes (marks only) skip them.
    operand_track: np.ndarray
    queue_first: np.ndarray  # int64[n_queues + 1]: each queue's entries, as offsets
    n_units: int
    n_locations: int
    min_latency: int  # of all templates: reads older than start + this are never seen
    chunk_shift: int  # 0: locations one by one; else log2 of the chunk size
    # Whether fast mode keeps the locations' runs (analyzer/engine/signatures.py,
    # `_run_end`): where operands of several locations carry most of the locations named.
    keeps_runs: bool
    # int64[n_frontends, 3]: each front end's bundles per cycle, window and delay, the
    # default one first (isa.program.Program.frontend_list).
    frontends: np.ndarray
    # Each operand's address space, as global bounds [lo, hi): a translated period's
    # windows never leave their space (docs/design.md §4.6).
    operand_space_lo: np.ndarray
    operand_space_hi: np.ndarray
    # The general path's affine offsets (coefficients . loop indices), one per distinct
    # coefficient vector, which the kernel keeps up to date as the loops advance: each
    # operand's offset and each offset's coefficients per loop depth.
    operand_offset: np.ndarray
    offset_coefs: np.ndarray  # int64[n_offsets, MAX_DEPTH]


class MemoArrays(NamedTuple):
    """Fast mode's memo of loop evolutions (see evaluate_layer), one row per entry,
    filled round robin; owned by analyzer/engine/memo.py's LoopMemo."""

    keys: np.ndarray  # int32[capacity, signature length]: entry signatures (memo.py)
    vals: np.ndarray  # int32[capacity, signature length]: signatures after the loop
    meta: np.ndarray  # int64[capacity, MEMO_META_COLUMNS]: see _remember
    hashes: np.ndarray  # uint64[capacity]: of the keys
    count: np.ndarray  # int64[1]: entries ever stored


class WorkspaceArrays(NamedTuple):
    """Fast mode's scratch arrays (see evaluate_layer), owned by analyzer/engine/
    workspace.py's Workspace; every item is written before it is read."""

    signature: np.ndarray  # int64[signature width]: the signature being taken
    history: np.ndarray  # int64[levels, HISTORY, signature width]: kept per loop level
    entries: np.ndarray  # int64[levels, signature width]: each level's entry, for the memo
    scratch: np.ndarray  # int64[3 x (locations + units)]: a restore's copy of a window
