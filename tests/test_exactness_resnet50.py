"""Fast == full on whole-network ResNet-50 layers, at 8x8 and 32x32.

Full evaluation walks every instruction (billions on ResNet-50), so this is slow. In its
reduced form (default, and in CI) it checks each distinct layer program once: layers
with identical programs (repeated bottleneck blocks) are the same computation, and ws
and is lower to the same instruction shape. ACCPERF_FULL=1 runs every layer and every
dataflow.
"""

from __future__ import annotations

import os

import pytest

from analyzer.engine.evaluate import evaluate_one
from analyzer.engine.memo import LoopMemo
from analyzer.engine.packing import pack_blocks
from tracer.lowering import lower_model

FULL = os.environ.get("ACCPERF_FULL") == "1"
CASES = [
    (size, dataflow)
    for size in (8, 32)
    for dataflow in (("ws", "os", "is") if FULL else ("ws", "os"))
]


@pytest.mark.slow
@pytest.mark.parametrize(("size", "dataflow"), CASES)
def test_every_resnet50_layer_fast_equals_full(size, dataflow):
    program = lower_model(
        "systolic", {"rows": str(size), "cols": str(size), "dataflow": dataflow}, "resnet50"
    )
    blocks = pack_blocks(program)
    memo = LoopMemo(blocks)  # as analyze does: loops remembered across layers
    checked: dict[object, int] = {}
    for layer in program.layers:
        fast = evaluate_one(layer, program, blocks, "fast", memo=memo)
        if not FULL and layer.root in checked:
            assert fast.cycles == checked[layer.root]
            continue
        full = evaluate_one(layer, program, blocks, "full")
        assert fast.cycles == full.cycles, layer.name
        assert fast.evaluated_instructions < 0.05 * full.instructions, layer.name
        checked[layer.root] = full.cycles
