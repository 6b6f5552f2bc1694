"""Numba kernels for what evaluate_layer does at loop boundaries besides comparing states
(analyzer/engine/kernels.py): the affine offsets each loop steps (docs/design.md §3.7) and
the memo's stored loop evolutions (§4.8)."""

from __future__ import annotations

import numpy as np
from numba import njit

from analyzer.engine.arrays import MEMO_ITEM_HIGH, MEMO_ITEM_LOW
from analyzer.engine.layout import BLOCK, LOOP_BEGIN
from analyzer.engine.signatures import _copy_signature
from analyzer.engine.template_row import T_INSTANCE_OFFSET, T_MARKS_END, T_OPERANDS_FIRST


@njit(cache=True)
def _remember(
    memo,
    entry,
    entry_hash,
    state,
    state_hash,
    identity,
    iterations,
    issue_gain,
    covered_gain,
    opened_before,
):
    """Store one loop evolution in `memo` (MemoArrays): from signature `entry` (with a
    bundle open or not, `opened_before`), `iterations` trips later the state is `state`
    (each front end's open bundle in it), the issue floor has moved `issue_gain` and
    `covered_gain` instructions ran. Not stored when an item does not fit the memo's
    item type (analyzer/engine/memo.py, MEMO_ITEM): the memo only ever saves work."""
    if not (_fits_memo(entry) and _fits_memo(state)):
        return
    slot = memo.count[0] % memo.keys.shape[0]
    _copy_signature(memo.keys[slot], entry)
    _copy_signature(memo.vals[slot], state)
    memo.hashes[slot] = entry_hash
    memo.meta[slot, 0] = identity
    memo.meta[slot, 1] = iterations
    memo.meta[slot, 2] = issue_gain
    memo.meta[slot, 3] = covered_gain
    memo.meta[slot, 4] = np.int64(state_hash)
    memo.meta[slot, 5] = np.int64(opened_before)
    memo.count[0] += 1


@njit(cache=True)
def _fits_memo(sig):
    """Whether every item `sig` uses (and its length) is within the range of the memo's
    item type."""
    if sig[sig.shape[0] - 1] > MEMO_ITEM_HIGH:
        return False
    for k in range(sig[sig.shape[0] - 1]):
        if sig[k] < MEMO_ITEM_LOW or sig[k] > MEMO_ITEM_HIGH:
            return False
    return True


@njit(cache=True)
def _offset_steps(layer, templates, program):
    """How a layer's loops move the affine offsets (ProgramArrays.offset_coefs): a trip of
    the loop opened at op pc adds step_size[u] to offset step_offset[u], for u in
    [step_first[pc], step_first[pc + 1]): the offsets of the operands and unit instances
    inside the loop with a nonzero coefficient at its depth. Returns (step_first,
    step_offset, step_size).

    A loop with steps is one whose body depends on its index, so fast mode never skips its
    trips or restores it from the memo (LayerArrays.skippable): its index only ever moves
    one trip at a time, at its LOOP_END, where the offsets follow it."""
    kind, first_template, end_template = layer.kind, layer.arg, layer.arg2
    operand_offset, offset_coefs = program.operand_offset, program.offset_coefs
    n_ops = kind.shape[0]
    step_first = np.zeros(n_ops + 1, dtype=np.int64)
    seen = np.full(offset_coefs.shape[0], -1, dtype=np.int64)  # the last loop that took it
    total = 0
    for fill in range(2):  # count, then fill
        step_offset = np.zeros(total, dtype=np.int64)
        step_size = np.zeros(total, dtype=np.int64)
        seen[:] = -1
        n = 0
        for pc in range(n_ops):
            step_first[pc] = n
            if kind[pc] != LOOP_BEGIN:
                continue
            d = layer.depth[pc]
            for inner in range(pc + 1, layer.jump[pc]):
                if kind[inner] != BLOCK:
                    continue
                for i in range(first_template[inner], end_template[inner]):
                    # Its operands' offsets, then its instance's (-1 stands for it).
                    for a in range(templates[i, T_OPERANDS_FIRST] - 1, templates[i, T_MARKS_END]):
                        if a < templates[i, T_OPERANDS_FIRST]:
                            k = templates[i, T_INSTANCE_OFFSET]
                        else:
                            k = operand_offset[a]
                        if offset_coefs[k, d] != 0 and seen[k] != pc:
                            seen[k] = pc
                            if fill:
                                step_offset[n] = k
                                step_size[n] = offset_coefs[k, d]
                            n += 1
        step_first[n_ops] = n
        total = n
    return step_first, step_offset, step_size
