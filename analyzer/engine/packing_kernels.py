"""The Numba kernel that finishes a layer's op list once its subtrees' ops are joined
(analyzer/engine/packing.py, pack_layer): one walk in place of the few dozen small NumPy
calls per layer it replaced, which cost more than the walk on Gemmini's layers."""

from __future__ import annotations

import numpy as np
from numba import njit

from analyzer.engine.jit_cache import CompiledCodeCache, load_compiled_code_directly
from analyzer.engine.signatures import BLOCK, LOOP_BEGIN, LOOP_END
from isa.program import MAX_DEPTH


@njit(cache=True)
def finish_layer_ops(kind, trips, jump, block_of_template, block_opening, runs, block_runs, live):
    """For the ops of one layer (`trips`: LayerArrays.arg, a loop's trips and a BLOCK's
    first template), in one walk with a stack of the enclosing loops:

    - `jump`, relative to its op in a fragment, becomes the index it names (-1 for a BLOCK);
    - `runs` (written): per op, how many times one execution of the layer runs it (the
      product of the trips of the loops around it); `block_runs` (zeros, added to): per
      block, the sum over its BLOCK ops;
    - `live` (LayerArrays.live, written in place): per LOOP_BEGIN, the front ends whose
      bundles open anywhere from the outermost enclosing loop of several trips (the loop
      itself if none: what runs after its boundaries, again or for the first time) to the
      layer's end, from `block_opening` (per block, bit f: front end f opens a bundle in
      it). Returns the bitmask of the front ends that issue in the layer.

    The caller allocates the outputs: an array Numba allocates carries its own int64
    dtype object, equal to NumPy's but not the same one, and NumPy's `ufunc.at` then takes
    its slow path on everything computed from it (30x on the bounds' `np.add.at`).
    """
    n_ops = kind.shape[0]
    after = np.zeros(n_ops + 1, dtype=np.int64)  # the bundles opened from op i on
    for i in range(n_ops - 1, -1, -1):
        after[i] = after[i + 1]
        if kind[i] == BLOCK:
            after[i] |= block_opening[block_of_template[trips[i]]]
    saved_runs = np.empty(MAX_DEPTH + 1, dtype=np.int64)
    saved_outer = np.empty(MAX_DEPTH + 1, dtype=np.int64)
    enclosing = 0
    current_runs = 1
    outer = -1  # the outermost enclosing loop of several trips, -1: none
    for i in range(n_ops):
        runs[i] = current_runs
        if kind[i] == LOOP_BEGIN:
            jump[i] += i
            saved_runs[enclosing] = current_runs
            saved_outer[enclosing] = outer
            enclosing += 1
            if outer < 0 and trips[i] > 1:
                outer = i
            live[i] = after[outer] if outer >= 0 else after[i]
            current_runs *= trips[i]
        elif kind[i] == LOOP_END:
            jump[i] += i
            enclosing -= 1
            current_runs = saved_runs[enclosing]
            outer = saved_outer[enclosing]
            runs[i] = current_runs
        else:
            jump[i] = -1
            block_runs[block_of_template[trips[i]]] += current_runs
    return after[0]


class _KindCodesCache(CompiledCodeCache):
    """Keyed also by the op kinds' codes and MAX_DEPTH, which Numba compiles in as
    constants from other modules without noticing when they change."""

    def _index_key(self, sig, codegen):
        return (*super()._index_key(sig, codegen), BLOCK, LOOP_BEGIN, LOOP_END, MAX_DEPTH)


load_compiled_code_directly(finish_layer_ops, _KindCodesCache)
