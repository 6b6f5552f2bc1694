"""Fast mode's workspace (analyzer/engine/workspace.py): one per evaluation, reused from
layer to layer, so nothing a layer leaves there may reach another layer's results."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings

from analyzer.engine.evaluate import Evaluation, run_kernel
from analyzer.engine.memo import LoopMemo
from analyzer.engine.packing import pack_blocks, pack_layer
from analyzer.engine.workspace import Workspace
from tests.builders import examples
from tests.test_exactness import random_programs
from tracer.lowering import lower_model

# What a layer might leave in the workspace: a time far from any the kernel computes,
# and one that looks like a signature's own items (0 and small).
LEFTOVERS = (np.iinfo(np.int64).max // 4, 0, 3)


def _soiled(workspace: Workspace, packed, value: int) -> Workspace:
    for array in workspace.for_layer(packed):
        array.fill(value)
    return workspace


@settings(max_examples=examples(60), deadline=None)
@given(program=random_programs(wide=None))
def test_what_a_workspace_holds_never_reaches_a_result(program):
    # Every item the kernel reads it wrote first in the same call: a workspace filled with
    # anything gives what a fresh one gives (cycles, instructions covered and evaluated,
    # iterations), with the memo off so that only the workspace carries over.
    blocks = pack_blocks(program)
    packed = pack_layer(program.layers[0], program, blocks)
    fresh = run_kernel(packed, blocks, fast=True, memo=LoopMemo(blocks))[:4]
    for value in LEFTOVERS:
        workspace = _soiled(Workspace(blocks), packed, value)
        soiled = run_kernel(packed, blocks, fast=True, memo=LoopMemo(blocks), workspace=workspace)
        assert soiled[:4] == fresh


def test_one_workspace_serves_every_layer_and_grows_to_the_deepest():
    # UltraTrail's TC-ResNet8 layers take signatures at two to four loop levels; the
    # evaluation's workspace ends with as many as the deepest layer needs, and its
    # results are those of evaluations that give each layer a workspace of its own.
    program = lower_model("ultratrail", {}, "tc_resnet8_ut", batch=1)
    blocks = pack_blocks(program)
    shared = Workspace(blocks)
    levels = []
    for layer in program.layers:
        packed = pack_layer(layer, program, blocks)
        alone = run_kernel(packed, blocks, fast=True, memo=LoopMemo(blocks))[:4]
        reused = run_kernel(packed, blocks, fast=True, memo=LoopMemo(blocks), workspace=shared)
        assert reused[:4] == alone
        levels.append(Workspace(blocks).for_layer(packed).history.shape[0])
    assert len(set(levels)) > 1
    assert shared.levels == max(levels) == shared.arrays.history.shape[0]
    evaluation = Evaluation(program, "fast", reuse_layers=False)
    evaluation.run()
    assert evaluation._workspace.levels >= max(levels)


def test_a_workspace_is_refused_for_another_program():
    program = lower_model("gemmini", {}, "resnet18", batch=1)
    blocks = pack_blocks(program)
    other = pack_blocks(program)  # equal contents, but a workspace belongs to one packing
    packed = pack_layer(program.layers[0], program, blocks)
    with pytest.raises(ValueError, match="belongs to another packed program"):
        run_kernel(packed, blocks, fast=True, workspace=Workspace(other))
