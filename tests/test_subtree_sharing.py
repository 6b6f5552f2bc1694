"""Shared loop subtrees: the lowering makes equal subtrees one object (isa/sharing.py) and
packing numbers each distinct subtree once and writes a layer's ops from the numbers
(analyzer/engine/packing.py, SubtreeOps, pack_layer). Neither may ever hand one subtree's
ops or value to another: subtrees equal but for one trip count, one operand coefficient
(their blocks differ) or one name, and one subtree at two depths, are checked against an
independent walk of the tree and the reference evaluator."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from analyzer.engine.evaluate import Evaluation, evaluate_program
from analyzer.engine.layout import BLOCK, LOOP_BEGIN, LOOP_END
from analyzer.engine.packing import SubtreeOps, pack_blocks, pack_layer
from isa.program import (
    Block,
    BlockRef,
    LayerProgram,
    Loop,
    Program,
    SubtreeCounts,
    block_runs,
    count_instructions,
)
from isa.sharing import SubtreeSharing
from tests.builders import instr, op
from tests.reference import reference_cycles
from tracer.lowering import lower_model
from tracer.trace_io import iterate_blocks, write_trace
from tracer.trace_read import read_trace

# Blocks 0 and 1 differ in one coefficient only: the index of loop depth 1 moves block 0's
# write by one location, block 1's by two.
BLOCKS = (
    Block("step", (instr(latency=3, occupancy=2, writes=(op("r", 0, 1, (0, 1)),)),)),
    Block("step", (instr(latency=3, occupancy=2, writes=(op("r", 0, 1, (0, 2)),)),)),
    # Three locations read: an iteration's work counts two more than its instructions.
    Block("fixed", (instr(latency=2, reads=(op("r", 1, 3),), writes=(op("r", 0),)),)),
)
ROW = Loop("row", 3, (BlockRef(0),))
ROW_MORE_TRIPS = Loop("row", 4, (BlockRef(0),))
ROW_OTHER_COEF = Loop("row", 3, (BlockRef(1),))


def program_of(*roots: Loop) -> Program:
    return Program(
        accelerator="test",
        parameters={},
        bundles_per_cycle=1,
        window_bundles=4,
        frontend_delay=0,
        units={"alu": 1},
        spaces={"r": 16},
        blocks=BLOCKS,
        layers=tuple(
            LayerProgram(f"layer{k}", "test", 0, {}, root) for k, root in enumerate(roots)
        ),
    )


# ROW sits at depth 2 in `tile` (there its block moves with tile's index, so ROW repeats
# as is) and at depth 1 right under the root (there it moves with its own index), next to
# subtrees equal to it but for one trip count or one coefficient.
NEAR_TWINS = Loop(
    "layer",
    1,
    (
        Loop("tile", 2, (ROW, ROW_MORE_TRIPS, ROW_OTHER_COEF, BlockRef(2))),
        ROW,
        ROW_OTHER_COEF,
        Loop("tile", 2, (Loop("row", 3, (BlockRef(2),)), ROW)),
    ),
)


def expected_ops(program: Program, root: Loop) -> dict[str, list[int]]:
    """The op list's columns by a plain pre-order walk: each op's kind, trips or first
    template, instructions per iteration or end template, jump, depth, whether a loop may
    skip as is or translated, its work per iteration, its memo identity and whether ahead
    periods apply (docs/design.md §4.1-§4.2, §4.8, §4.11), and how often one execution of
    the layer runs the op."""
    firsts = np.cumsum([0] + [len(b.templates) for b in program.blocks]).tolist()
    rows: list[list[int]] = []

    def operands(block: int) -> list:
        return [o for t in program.blocks[block].templates for o in t.operands()]

    def depths_used(node: Loop | BlockRef) -> set[int]:
        if isinstance(node, BlockRef):
            return {d for o in operands(node.block) for d, coef in enumerate(o.coefs) if coef}
        return set().union(*(depths_used(child) for child in node.body))

    def work(node: Loop | BlockRef) -> int:
        if isinstance(node, BlockRef):
            extra = sum(o.count - 1 for o in operands(node.block))
            return len(program.blocks[node.block].templates) + extra
        return node.trips * sum(map(work, node.body))

    def canonical(node: Loop | BlockRef) -> tuple:
        if isinstance(node, BlockRef):
            return ("block", node.block)
        return (node.name, node.trips, tuple(map(canonical, node.body)))

    def unrolled(node: Loop | BlockRef) -> list:
        if isinstance(node, BlockRef):
            return list(program.blocks[node.block].templates)
        return [t for _ in range(node.trips) for child in node.body for t in unrolled(child)]

    def walk(node: Loop | BlockRef, level: int, runs: int) -> None:
        if isinstance(node, BlockRef):
            rows.append([BLOCK, firsts[node.block], firsts[node.block + 1], -1, level - 1])
            rows[-1] += [0, 0, 0, 0, 0, runs]
            return
        begin = len(rows)
        rows.append([])
        for child in node.body:
            walk(child, level + 1, runs * node.trips)
        moves = level in depths_used(node)
        skippable = node.trips > 1 and not moves
        per_trip = count_instructions(Loop(node.name, 1, node.body), program.blocks)
        # The memo's identity: the body's value (and its depth, if nested loops move its
        # addresses), for a loop whose body no index of it or around it moves.
        used = depths_used(node)
        memo_key = (
            (tuple(map(canonical, node.body)), level if used else None)
            if skippable and per_trip > 0 and all(d > level for d in used)
            else 0
        )
        # Ahead periods: one iteration, unrolled, is one bundle opened by its first
        # instruction and takes no queue, whatever loops it nests.
        body = [t for child in node.body for t in unrolled(child)]
        one_bundle = (
            node.trips > 1
            and not moves
            and body
            and body[0].bundle_start
            and sum(t.bundle_start for t in body) == 1
            and all(t.queue is None and t.issue_queue is None for t in body)
        )
        rows[begin] = [LOOP_BEGIN, node.trips, per_trip, len(rows), level]
        rows[begin] += [skippable, node.trips > 1 and moves, work(Loop("", 1, node.body))]
        rows[begin] += [memo_key, node.trips > 2 and bool(one_bundle)]
        rows[begin] += [runs]
        rows.append([LOOP_END, node.trips, 0, begin, level, 0, 0, 0, 0, 0, runs])

    walk(root, 0, 1)
    names = ("kind", "arg", "arg2", "jump", "depth", "skippable", "translate", "work", "memo")
    names += ("ahead", "runs")
    return {
        name: [row[k] if name == "memo" else int(row[k]) for row in rows]
        for k, name in enumerate(names)
    }


def packed_ops(packed, expected: dict[str, list]) -> dict[str, list]:
    """The packed op list's columns as `expected_ops` gives them: a memo identity as the
    key the plain walk gives, where the identities name the keys one to one."""
    columns = packed.arrays._asdict()
    names = ("kind", "arg", "arg2", "jump", "depth", "skippable", "translate", "work", "memo")
    ops = {n: columns[n].astype(int).tolist() for n in (*names, "ahead")}
    key_of: dict[int, object] = {0: 0}
    for identity, key in zip(ops["memo"], expected["memo"], strict=False):
        key_of.setdefault(identity, key)
    assert len(set(map(repr, key_of.values()))) == len(key_of)  # one to one
    ops["memo"] = [key_of[identity] for identity in ops["memo"]]
    return ops


def expected_block_runs(program: Program, expected: dict[str, list[int]]) -> list[int]:
    """How often one execution of the layer runs each block, from the plain walk's ops."""
    block_runs = [0] * len(program.blocks)
    firsts = np.cumsum([0] + [len(b.templates) for b in program.blocks]).tolist()
    for kind, first, runs in zip(expected["kind"], expected["arg"], expected["runs"], strict=True):
        if kind == BLOCK:
            block_runs[firsts.index(first)] += runs
    return block_runs


def test_subtrees_equal_but_for_a_trip_count_a_coefficient_or_a_depth_never_share_ops():
    # Each layer is packed after the others, with one SubtreeOps, in both orders: a
    # layer's ops never depend on what was packed before.
    roots = [NEAR_TWINS, Loop("layer", 1, (ROW_OTHER_COEF, ROW_MORE_TRIPS, ROW))]
    for order in (roots, roots[::-1]):
        program = program_of(*order)
        blocks = pack_blocks(program)
        subtrees = SubtreeOps(blocks)
        for layer in program.layers:
            packed = pack_layer(layer, program, blocks, subtrees)
            expected = expected_ops(program, layer.root)
            assert packed_ops(packed, expected) == {
                k: v for k, v in expected.items() if k != "runs"
            }
            assert packed.block_runs.tolist() == expected_block_runs(program, expected)


def test_shared_subtrees_evaluate_as_the_reference_does():
    program = program_of(NEAR_TWINS, Loop("layer", 1, (ROW_OTHER_COEF, ROW_MORE_TRIPS, ROW)))
    full = evaluate_program(program, "full")
    fast = Evaluation(program, "fast", reuse_layers=False).run()
    expected = [reference_cycles(program, layer) for layer in program.layers]
    assert [r.cycles for r in full] == expected
    assert [r.cycles for r in fast] == expected
    assert [r.instructions for r in full] == [
        count_instructions(layer.root, program.blocks) for layer in program.layers
    ]


def test_subtree_ops_belong_to_one_packed_program():
    program = program_of(NEAR_TWINS)
    with pytest.raises(ValueError, match="another packed program"):
        pack_layer(
            program.layers[0], program, pack_blocks(program), SubtreeOps(pack_blocks(program))
        )


def test_a_root_that_is_no_loop_is_refused_even_unvalidated():
    # Validation refuses it first; a caller that skips validation gets the same words
    # instead of a kernel writing a loop's two ops into a one-op list.
    program = program_of(NEAR_TWINS)
    bare = replace(program.layers[0], root=BlockRef(2))
    with pytest.raises(ValueError, match="the root must be a loop"):
        pack_layer(bare, program, pack_blocks(program, checked=True))


def test_sharing_makes_equal_subtrees_one_object_and_keeps_the_tree():
    twin = Loop("row", 3, (BlockRef(0),))  # equal to ROW, another object
    root = Loop(
        "layer", 1, (ROW, twin, ROW_MORE_TRIPS, ROW_OTHER_COEF, Loop("col", 3, (BlockRef(0),)))
    )
    shared = SubtreeSharing().share(root)
    assert shared == root
    assert shared.body[0] is shared.body[1]
    # Equal but for the trips, the block or the name: kept apart.
    assert len({id(node) for node in shared.body}) == 4
    assert shared.body[4].name == "col"


def loop_trees(max_leaves: int = 12) -> st.SearchStrategy[Loop]:
    """Small loop trees over blocks 0..2, names a/b, trips 1..3: near twins abound."""
    leaves = st.builds(BlockRef, st.integers(0, 2))
    nodes = st.recursive(
        leaves,
        lambda children: st.builds(
            Loop,
            st.sampled_from("ab"),
            st.integers(1, 3),
            st.lists(children, min_size=1, max_size=3).map(tuple),
        ),
        max_leaves=max_leaves,
    )
    return st.lists(nodes, min_size=1, max_size=3).map(lambda body: Loop("layer", 1, tuple(body)))


@settings(max_examples=60, deadline=None)
@given(loop_trees())
def test_sharing_keeps_every_tree_and_leaves_one_object_per_value(root):
    sharing = SubtreeSharing()
    shared = sharing.share(root)
    assert shared == root
    assert sharing.share(root) is shared  # a tree seen before: the same objects

    objects: dict[int, Loop | BlockRef] = {}

    def walk(node):
        objects[id(node)] = node
        for child in getattr(node, "body", ()):
            walk(child)

    walk(shared)
    assert len(objects) == len(set(objects.values()))


# Blocks of 1, 2 and 3 instructions, so that counting instructions and counting block
# executions give different numbers.
COUNTED_BLOCKS = tuple(Block(f"b{k}", (instr(),) * (k + 1)) for k in range(3))


@settings(max_examples=60, deadline=None)
@given(st.lists(loop_trees(), min_size=1, max_size=3))
def test_subtree_counts_equal_a_walk_of_every_block_execution(roots):
    # One SubtreeCounts for trees that share subtrees (as a trace's manifest counts its
    # layers), asked of every node, against each node's executions walked one by one.
    sharing = SubtreeSharing()
    counts = SubtreeCounts(COUNTED_BLOCKS)

    def check(node):
        executed = [block for block, _ in iterate_blocks(node)]
        assert counts.executions(node) == len(executed)
        assert counts.instructions(node) == sum(block + 1 for block in executed)
        for child in getattr(node, "body", ()):
            check(child)

    for root in roots:
        check(sharing.share(root))


def _valid(node: Loop | BlockRef, level: int = 0) -> Loop | BlockRef:
    """`node` with blocks 0 and 1, which move with the index of loop depth 1, replaced by
    block 2 where no loop of depth 1 is around them."""
    if isinstance(node, BlockRef):
        return node if level >= 2 else BlockRef(2)
    return Loop(node.name, node.trips, tuple(_valid(child, level + 1) for child in node.body))


@settings(max_examples=60, deadline=None)
@given(st.lists(loop_trees(), min_size=1, max_size=3))
def test_packing_shared_random_trees_gives_the_plain_walks_ops(roots):
    # Shared trees, packed one after another with one SubtreeOps: each layer's ops (kinds,
    # trips, jumps, depths, what may skip, work, memo, ahead) and its block runs are those
    # of a plain walk of its own tree.
    sharing = SubtreeSharing()  # one for all layers: they share subtrees too
    program = program_of(*(sharing.share(_valid(root)) for root in roots))
    blocks = pack_blocks(program)
    subtrees = SubtreeOps(blocks)
    total = np.zeros(len(program.blocks), dtype=np.int64)
    for layer in program.layers:
        packed = pack_layer(layer, program, blocks, subtrees)
        expected = expected_ops(program, layer.root)
        assert packed_ops(packed, expected) == {k: v for k, v in expected.items() if k != "runs"}
        assert packed.block_runs.tolist() == expected_block_runs(program, expected)
        # NumPy's own int64 dtype object: the bounds' np.add.at runs 30x slower on an
        # array whose dtype object Numba made (analyzer/engine/packing_kernels.py).
        assert packed.block_runs.dtype is np.dtype(np.int64)
        total += packed.block_runs
    # Packing's choices weigh operands by the runs over all layers, walked once per
    # shared subtree (isa.program.block_runs).
    assert block_runs(program.layers, len(program.blocks)) == total.tolist()


def test_the_gemmini_lowering_shares_its_equal_subtrees():
    program = lower_model("gemmini", {}, "resnet18", layers=["layer1.0.conv1", "layer2.0.conv1"])
    objects: dict[int, Loop | BlockRef] = {}
    nodes = 0

    def walk(node):
        nonlocal nodes
        nodes += 1
        objects[id(node)] = node
        for child in getattr(node, "body", ()):
            walk(child)

    for layer in program.layers:
        walk(layer.root)
    assert len(objects) == len(set(objects.values()))
    assert len(objects) < nodes / 2  # tiles repeat their row loops


def test_a_trace_read_back_shares_its_equal_subtrees(tmp_path):
    # A trace stores every node; reading it makes equal subtrees one object again, so an
    # analysis from the files packs as few subtrees as one in the lowering's process.
    program = lower_model("gemmini", {}, "resnet18", layers=["layer1.0.conv1", "layer2.0.conv1"])
    read = read_trace(write_trace(program, tmp_path, materialize_iterations=0))
    assert read.layers == program.layers

    def objects(prog) -> int:
        seen: dict[int, Loop | BlockRef] = {}

        def walk(node):
            seen[id(node)] = node
            for child in getattr(node, "body", ()):
                walk(child)

        for layer in prog.layers:
            walk(layer.root)
        return len(seen)

    assert objects(read) == objects(program)


def test_bounds_count_only_what_the_layer_runs():
    # The layer runs block 0 (alu 0: occupancy 2, latency 3) 2 x 3 times. Block 2 (alu 0
    # busy 9 cycles of a latency of 1, and alu 1) sits in a loop of no trips and block 1
    # in another layer: neither adds occupancy, an overhang or a used instance.
    unrun = Block(
        "unrun",
        (
            instr(latency=1, occupancy=9, writes=(op("r", 5),)),
            instr(instance=1, writes=(op("r", 6),)),
        ),
    )
    blocks = (*BLOCKS[:2], unrun)
    layers = (
        Loop("layer", 1, (Loop("tile", 2, (ROW,)), Loop("never", 0, (BlockRef(2),)))),
        Loop("layer", 1, (ROW_OTHER_COEF,)),
    )
    program = replace(program_of(*layers), blocks=blocks, units={"alu": 2})
    bound = evaluate_program(program, "full")[0].bound
    assert (bound.unit, bound.busy_cycles, bound.instance) == ("alu", 12, 0)
    assert (bound.instances, bound.unused) == (2, 1)
