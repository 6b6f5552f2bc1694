"""The loop memo's owner (analyzer/engine/memo.py): whoever holds a LoopMemo decides which
evaluations share remembered loops; without one, a layer is evaluated as if alone."""

from __future__ import annotations

import pytest

from accelerators.catalog import find_accelerator
from analyzer.engine.evaluate import evaluate_one, run_kernel
from analyzer.engine.memo import LoopMemo
from analyzer.engine.packing import pack_blocks, pack_layer
from isa.systolic.lowering import lower
from tracer.workloads.layers import Dense, Model


@pytest.fixture(scope="module")
def program():
    # Two layers with long streams that meet the same preload and stream loops.
    accelerator = find_accelerator("systolic").resolve({"rows": "16", "cols": "16"})
    layers = (Dense("a", 64, 64, rows=3000), Dense("b", 64, 64, rows=2000))
    return lower(accelerator, Model("net", layers))


def test_one_memo_carries_loops_from_layer_to_layer(program):
    blocks = pack_blocks(program)
    memo = LoopMemo(blocks)
    assert memo.entries == 0
    first, second = (
        evaluate_one(layer, program, blocks, "fast", memo=memo) for layer in program.layers
    )
    assert memo.entries > 0
    alone = evaluate_one(program.layers[1], program, blocks, "fast")
    full = evaluate_one(program.layers[1], program, blocks, "full")
    assert second.cycles == alone.cycles == full.cycles
    assert second.evaluated_iterations * 4 < alone.evaluated_iterations
    # Without a memo nothing is carried over, even with the same packed blocks.
    again = evaluate_one(program.layers[1], program, blocks, "fast")
    assert again.evaluated_iterations == alone.evaluated_iterations
    assert first.evaluated_iterations > second.evaluated_iterations


def test_a_memo_is_refused_for_another_program(program):
    blocks = pack_blocks(program)
    other = pack_blocks(program)  # equal contents, but a memo belongs to one packing
    packed = pack_layer(program.layers[0], program, blocks)
    with pytest.raises(ValueError, match="belongs to another packed program"):
        run_kernel(packed, blocks, fast=True, memo=LoopMemo(other))
