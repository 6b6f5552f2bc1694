"""The loop memo's owner (analyzer/engine/memo.py): whoever holds a LoopMemo decides which
evaluations share remembered loops; without one, a layer is evaluated as if alone."""

from __future__ import annotations

import pytest

from accelerators.catalog import find_accelerator
from analyzer.engine import evaluate
from analyzer.engine.evaluate import Evaluation, run_kernel
from analyzer.engine.memo import LoopMemo
from analyzer.engine.packing import pack_blocks, pack_layer
from analyzer.engine.signatures import _frontend_table, _idle_state, _signature_length
from isa.systolic.lowering import lower
from tests.builders import instr, op
from tests.builders import program as tiny_program
from tracer.workloads.layers import Dense, Model


@pytest.fixture(autouse=True)
def _memo_alone(monkeypatch):
    # Ahead periods (docs/design.md §4.11) cut the warm-up the memo spares to a few
    # iterations; off, what the memo does shows on its own.
    monkeypatch.setattr(evaluate, "AHEAD_PERIODS", False)


@pytest.fixture(scope="module")
def program():
    # Two layers with long streams that meet the same preload and stream loops.
    accelerator = find_accelerator("systolic").resolve({"rows": "16", "cols": "16"})
    layers = (Dense("a", 64, 64, rows=3000), Dense("b", 64, 64, rows=2000))
    return lower(accelerator, Model("net", layers))


def test_one_memo_carries_loops_from_layer_to_layer(program):
    # An Evaluation holds one memo for all its layers (equal layers not reused here, so
    # the second layer is evaluated and can only be faster through the memo).
    shared = Evaluation(program, "fast", reuse_layers=False)
    first, second = shared.run()
    # remember_loops=False: each layer gets a fresh memo, as if it were the first.
    alone = Evaluation(program, "fast", reuse_layers=False, remember_loops=False).run()
    full = Evaluation(program, "full").run()
    assert second.cycles == alone[1].cycles == full[1].cycles
    assert second.evaluated_iterations * 4 < alone[1].evaluated_iterations
    assert first.evaluated_iterations == alone[0].evaluated_iterations
    assert first.evaluated_iterations > second.evaluated_iterations
    # A new Evaluation starts with an empty memo: nothing outlives the one that filled it.
    again = Evaluation(program, "fast", reuse_layers=False)
    assert again.layer(program.layers[1]).evaluated_iterations == alone[1].evaluated_iterations


def test_a_memo_fills_as_loops_are_remembered(program):
    blocks = pack_blocks(program)
    memo = LoopMemo(blocks)
    assert memo.entries == 0
    run_kernel(pack_layer(program.layers[0], program, blocks), blocks, fast=True, memo=memo)
    assert memo.entries > 0


def test_a_memo_is_refused_for_another_program(program):
    blocks = pack_blocks(program)
    other = pack_blocks(program)  # equal contents, but a memo belongs to one packing
    packed = pack_layer(program.layers[0], program, blocks)
    with pytest.raises(ValueError, match="belongs to another packed program"):
        run_kernel(packed, blocks, fast=True, memo=LoopMemo(other))


@pytest.mark.parametrize(("window", "stored"), [(1024, True), (4096, False)])
def test_an_evolution_whose_times_overflow_the_memo_items_is_not_stored(window, stored):
    # One instruction a trip on alu[0], reading and writing r0 with latency 2^20: each
    # starts when the one before ends, and the front end runs `window` bundles ahead, so
    # once the window fills, r0's write time is (window + 1) x 2^20 past the issue floor:
    # 1.07e9 with 1,024 bundles fits the memo's int32 items (analyzer/engine/memo.py),
    # 4.3e9 with 4,096 does not, and that evolution is not stored; both stay exact.
    body = instr(latency=1 << 20, reads=(op("r", 0),), writes=(op("r", 0),))
    prog = tiny_program([body], trips=3 * window, width=1, window=window)
    blocks = pack_blocks(prog)
    memo = LoopMemo(blocks)
    packed = pack_layer(prog.layers[0], prog, blocks)
    fast, *_ = run_kernel(packed, blocks, fast=True, memo=memo)
    full, *_ = run_kernel(packed, blocks, fast=False)
    assert fast == full == (3 * window) << 20
    assert (memo.entries > 0) == stored


@pytest.mark.parametrize("budget", [1, 2])
def test_a_loop_cheaper_than_a_signature_is_evaluated_without_one(budget, monkeypatch):
    # The entry signature serves the boundaries the loop samples and the memo (docs/
    # design.md §4.4): a loop whose trips x work do not reach its first sampled boundary,
    # dense signature length // (COMPARE_BUDGET x work), takes none, so the memo neither
    # recalls nor stores it; one trip more and it does. A wide space makes the signature
    # long next to the one-instruction body (work 1: one location read and written).
    # With a budget of 1 the loop of as many trips as the signature has items is the
    # last that takes none.
    monkeypatch.setattr(evaluate, "COMPARE_BUDGET", budget)
    body = instr(reads=(op("r", 0),), writes=(op("r", 0),))
    probe = tiny_program([body], trips=2, spaces={"r": 512})
    arrays = pack_blocks(probe).arrays
    frontend = _frontend_table(arrays.frontends)
    state, _ = _idle_state(arrays, frontend, False)
    first_sampled = _signature_length(state, frontend) // evaluate.COMPARE_BUDGET + 1
    assert first_sampled > 100  # the threshold lies far from the smallest loops
    for trips, signed in ((first_sampled - 1, False), (first_sampled, True)):
        prog = tiny_program([body], trips=trips, spaces={"r": 512})
        blocks = pack_blocks(prog)
        memo = LoopMemo(blocks)
        packed = pack_layer(prog.layers[0], prog, blocks)
        fast, *_ = run_kernel(packed, blocks, fast=True, memo=memo)
        full, *_ = run_kernel(packed, blocks, fast=False)
        assert fast == full
        assert (memo.entries > 0) == signed, trips


def test_a_body_nested_loops_move_is_remembered_at_its_own_depth_only(monkeypatch):
    # One body, two nested loops over a block whose address moves with loop depth 3: under
    # a loop at depth 1 the address follows the inner of the two (r[0], r[1], r[2], r[0],
    # ...); one level deeper, the outer (r[0] three times, then r[1] three times), a
    # different stream. Both loops enter an idle machine (two layers), so the second
    # would find the first's evolution under one identity: it must not (docs/design.md
    # §4.8), and fast mode gives full mode's cycles on both.
    from dataclasses import replace

    from isa.program import Block, BlockRef, LayerProgram, Loop

    monkeypatch.setattr(evaluate, "COMPARE_BUDGET", 1 << 30)  # every boundary compared
    chain = instr(latency=5, reads=(op("r", 0, coefs=(0, 0, 0, 1)),))
    chain = replace(chain, writes=(op("r", 0, coefs=(0, 0, 0, 1)),))
    body = (Loop("inner", 2, (Loop("innermost", 3, (BlockRef(0),)),)),)
    shallow = Loop("layer", 1, (Loop("m", 12, body),))
    deep = Loop("layer", 1, (Loop("wrap", 1, (Loop("m", 12, body),)),))
    prog = replace(
        tiny_program([chain], spaces={"r": 4}),
        blocks=(Block("chain", (chain,)),),
        layers=(
            LayerProgram("shallow", "test", 0, {}, shallow),
            LayerProgram("deep", "test", 0, {}, deep),
        ),
    )
    full = [r.cycles for r in Evaluation(prog, "full").run()]
    fast = [r.cycles for r in Evaluation(prog, "fast", reuse_layers=False).run()]
    assert fast == full
    assert full[0] != full[1]  # the two streams differ in time
