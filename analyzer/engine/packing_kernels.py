"""The Numba kernel that writes a layer's op list from the table of numbered subtrees
(analyzer/engine/packing.py, SubtreeOps and pack_layer): Python numbers each distinct
subtree once, and this kernel does the rest, where building each subtree's ops in Python
and joining them level by level cost most of fast mode's time outside the kernel on
Gemmini (docs/benchmarks.md §5)."""

from __future__ import annotations

import numpy as np
from numba import njit
from numba.core.registry import CPUDispatcher as Dispatcher

from analyzer.engine.jit_cache import CompiledCodeCache, load_compiled_code_directly
from analyzer.engine.layout import (
    BLOCK,
    BUNDLES_NONE,
    BUNDLES_ONE_AT_FIRST,
    BUNDLES_OTHER,
    LOOP_BEGIN,
    LOOP_END,
)
from isa.program import MAX_DEPTH


@njit(cache=True)
def layer_ops(root, counted, nodes, block_facts, node_facts, children, block_runs):
    """Counts the subtrees numbered since the last call, then writes the ops of subtree
    `root` as a layer (the root loop at depth 0). Returns the bitmask of the front ends
    that open a bundle in the layer (-1, and no ops, when its loops nest deeper than
    MAX_DEPTH) and LayerArrays' fields; adds to `block_runs` how many times one execution of
    the layer runs each block.

    Per subtree number (children before their parent, from `counted` on new):
    `nodes[n]` = (block index or -1 for a loop, trips, first child, end of children into
    `children` (their numbers), its body's number from 1, program-wide); `node_facts[n]`
    (written for the new ones) = (ops, instructions, work, bit mask of the loop depths its
    addresses or unit instances use, block executions, loop nesting, instructions per
    iteration, work per iteration, the bundles one execution opens and those one
    iteration opens, as `BUNDLES_*`). Per block,
    `block_facts[b]` = (first template, end template, instructions, work, mask, the
    bundles it opens, the front ends opening bundles in it as bits). Work counts one per
    extra location of a wide operand besides the instructions.

    Per op: a loop's trips, instructions per iteration, the index of its matching op, its
    depth, whether it may skip as is (its body does not use its index) or translated (it
    does), its work per iteration, its memo identity and whether ahead periods apply
    (docs/design.md §4.1-§4.2, §4.11). `live` per LOOP_BEGIN: the front ends opening
    bundles anywhere from the outermost enclosing loop of several trips (the loop itself
    if none: what runs after its boundaries, again or for the first time) to the layer's
    end.

    `block_runs` is the caller's: an array Numba allocates carries its own int64 dtype
    object, equal to NumPy's but not the same one, and NumPy's `ufunc.at` then takes its
    slow path on everything computed from it (30x on the bounds' `np.add.at`).
    """
    for n in range(counted, nodes.shape[0]):
        block = nodes[n, 0]
        if block >= 0:
            node_facts[n, 0] = 1
            node_facts[n, 1] = block_facts[block, 2]
            node_facts[n, 2] = block_facts[block, 3]
            node_facts[n, 3] = block_facts[block, 4]
            node_facts[n, 4] = 1
            node_facts[n, 5] = 0
            node_facts[n, 8] = block_facts[block, 5]
            continue
        size = 2
        instructions = 0
        work = 0
        mask = 0
        executions = 0
        nesting = 0
        bundles = np.int64(BUNDLES_NONE)
        for c in range(nodes[n, 2], nodes[n, 3]):
            child = children[c]
            size += node_facts[child, 0]
            if node_facts[child, 1] > 0:
                # A bundle opened by the body's first instruction: the first child's own;
                # any a later child opens is one more, or one not opened first.
                if instructions == 0:
                    bundles = node_facts[child, 8]
                elif node_facts[child, 8] != BUNDLES_NONE:
                    bundles = np.int64(BUNDLES_OTHER)
            instructions += node_facts[child, 1]
            work += node_facts[child, 2]
            mask |= node_facts[child, 3]
            executions += node_facts[child, 4]
            nesting = max(nesting, node_facts[child, 5])
        trips = nodes[n, 1]
        node_facts[n, 9] = bundles
        if trips == 0 or instructions == 0:
            node_facts[n, 8] = BUNDLES_NONE
        elif trips == 1 or bundles == BUNDLES_NONE:
            node_facts[n, 8] = bundles
        else:
            node_facts[n, 8] = BUNDLES_OTHER
        node_facts[n, 0] = size
        node_facts[n, 1] = trips * instructions
        node_facts[n, 2] = trips * work
        node_facts[n, 3] = mask
        node_facts[n, 4] = trips * executions
        node_facts[n, 5] = nesting + 1
        node_facts[n, 6] = instructions
        node_facts[n, 7] = work
    n_ops = node_facts[root, 0] if node_facts[root, 5] <= MAX_DEPTH else 0
    kind = np.zeros(n_ops, dtype=np.int64)
    arg = np.zeros(n_ops, dtype=np.int64)
    arg2 = np.zeros(n_ops, dtype=np.int64)
    jump = np.zeros(n_ops, dtype=np.int64)
    depth = np.zeros(n_ops, dtype=np.int64)
    skippable = np.zeros(n_ops, dtype=np.bool_)
    work = np.zeros(n_ops, dtype=np.int64)
    memo = np.zeros(n_ops, dtype=np.int64)
    translate = np.zeros(n_ops, dtype=np.bool_)
    ahead = np.zeros(n_ops, dtype=np.bool_)
    live = np.zeros(n_ops, dtype=np.int64)
    layer_arrays = (kind, arg, arg2, jump, depth, skippable, work, memo, translate, ahead, live)
    if n_ops == 0:
        return -1, layer_arrays
    op_block = np.full(n_ops, -1, dtype=np.int64)
    # The walk: per enclosing loop, its subtree number, next child, LOOP_BEGIN op, how
    # often one execution of the layer runs its body, and the outermost loop of several
    # trips around or at it (-1: none).
    stack_node = np.empty(MAX_DEPTH, dtype=np.int64)
    stack_child = np.empty(MAX_DEPTH, dtype=np.int64)
    stack_begin = np.empty(MAX_DEPTH, dtype=np.int64)
    stack_runs = np.empty(MAX_DEPTH, dtype=np.int64)
    stack_outer = np.empty(MAX_DEPTH, dtype=np.int64)
    level = -1
    at = 0
    entering = root
    while True:
        if entering >= 0:
            # `entering`'s LOOP_BEGIN at op `at`, one level down; its jump is written at
            # its LOOP_END.
            outer_runs = 1 if level < 0 else stack_runs[level]
            outer = -1 if level < 0 else stack_outer[level]
            level += 1
            trips = nodes[entering, 1]
            if outer < 0 and trips > 1:
                outer = at
            stack_node[level] = entering
            stack_child[level] = nodes[entering, 2]
            stack_begin[level] = at
            stack_runs[level] = outer_runs * trips
            stack_outer[level] = outer
            _begin_loop(entering, at, level, nodes, block_facts, node_facts, children, layer_arrays)
            live[at] = outer if outer >= 0 else at  # an op index, made bits below
            at += 1
            entering = -1
        n = stack_node[level]
        c = stack_child[level]
        if c < nodes[n, 3]:
            stack_child[level] = c + 1
            child = children[c]
            block = nodes[child, 0]
            if block < 0:
                entering = child
                continue
            kind[at] = BLOCK
            arg[at] = block_facts[block, 0]
            arg2[at] = block_facts[block, 1]
            jump[at] = -1
            depth[at] = level
            op_block[at] = block
            block_runs[block] += stack_runs[level]
            at += 1
        else:
            begin = stack_begin[level]
            kind[at] = LOOP_END
            arg[at] = nodes[n, 1]
            jump[at] = begin
            jump[begin] = at
            depth[at] = level
            at += 1
            level -= 1
            if level < 0:
                break
    # The front ends opening bundles from each op on, for `live`.
    after = np.zeros(n_ops + 1, dtype=np.int64)
    for i in range(n_ops - 1, -1, -1):
        after[i] = after[i + 1]
        if op_block[i] >= 0:
            after[i] |= block_facts[op_block[i], 6]
    for i in range(n_ops):
        if kind[i] == LOOP_BEGIN:
            live[i] = after[live[i]]
    return after[0], layer_arrays


@njit(cache=True)
def _begin_loop(n, at, level, nodes, block_facts, node_facts, children, layer_arrays):
    """The LOOP_BEGIN op of subtree `n` at op `at` and loop depth `level` (its jump is
    written at its LOOP_END)."""
    (kind, arg, arg2, jump, depth, skippable, work, memo, translate, ahead, live) = layer_arrays
    trips = nodes[n, 1]
    # A single trip has nothing to skip; a body that depends on the index repeats only
    # translated, moved along its locations (docs/design.md §4.6).
    index_dependent = (node_facts[n, 3] >> level) & 1 != 0
    kind[at] = LOOP_BEGIN
    arg[at] = trips
    arg2[at] = node_facts[n, 6]
    depth[at] = level
    skippable[at] = trips > 1 and not index_dependent
    translate[at] = trips > 1 and index_dependent
    work[at] = node_facts[n, 7]
    memo[at] = 0
    # Ahead periods: an iteration is exactly one bundle, opened by its first instruction,
    # and leaves every queue's ring as it was (docs/design.md §4.11).
    ahead[at] = skippable[at] and trips > 2 and node_facts[n, 9] == BUNDLES_ONE_AT_FIRST
    # Remembered evolutions apply to a loop whose body no index of it or around it moves:
    # its entry state alone decides them (docs/design.md §4.8). The body's number names
    # it; one that nested loops move means something at this depth only.
    outer_depths = (np.int64(2) << level) - 1
    if skippable[at] and node_facts[n, 6] > 0 and node_facts[n, 3] & outer_depths == 0:
        moved = node_facts[n, 3] != 0
        memo[at] = nodes[n, 4] * (MAX_DEPTH + 1) + (level + 1 if moved else 0)


class _KindCodesCache(CompiledCodeCache):
    """Keyed also by the op kinds' and bundle facts' codes and MAX_DEPTH, which Numba
    compiles in as constants from other modules without noticing when they change."""

    def _index_key(self, sig, codegen):
        codes = (BLOCK, LOOP_BEGIN, LOOP_END, BUNDLES_NONE, BUNDLES_ONE_AT_FIRST, BUNDLES_OTHER)
        return (*super()._index_key(sig, codegen), *codes, MAX_DEPTH)


# Every kernel of this module, not only the one Python calls: layer_ops links the cached
# code of the helpers it calls (_begin_loop writes LOOP_BEGIN), each keyed by its own cache.
for _kernel in list(vars().values()):
    if isinstance(_kernel, Dispatcher) and _kernel.py_func.__module__ == __name__:
        load_compiled_code_directly(_kernel, _KindCodesCache)
