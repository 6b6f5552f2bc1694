"""The recurrence bound: the compiled kernels (analyzer/engine/recurrence_kernels.py)
against the networkx/Fraction oracle (tests/recurrence_oracle.py) and brute force over
all simple cycles, on random graphs, random blocks and the lowerings' blocks; and the
dependency graph of the systolic stream step worked by hand."""

from __future__ import annotations

import itertools
import multiprocessing
from collections import Counter
from dataclasses import astuple, replace
from fractions import Fraction

import networkx as nx
import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from accelerators.catalog import find_accelerator
from analyzer.engine import recurrence, recurrence_kernels
from analyzer.engine.evaluate import evaluate_program
from analyzer.engine.packing import pack_blocks
from analyzer.engine.recurrence import (
    CriticalCycle,
    CriticalCycles,
    DependencyEdges,
    block_dependency_edges,
    critical_cycle,
    cycle_found,
)
from isa.program import (
    Block,
    BlockRef,
    LayerProgram,
    Loop,
    Operand,
    Program,
    count_block_executions,
    count_instructions,
)
from isa.systolic.lowering import lower
from tests import recurrence_oracle as oracle
from tests.builders import examples, instr, op, program
from tests.reference import block_executions, first_location
from tests.test_exactness import SPACE, random_programs, space_needed, templates, units_needed
from tracer.lowering import lower_workload
from tracer.workloads.layers import Conv2d, Dense, Model


def simple_cycles(graph: nx.MultiDiGraph) -> set[tuple[int, int]]:
    """(W, K) of every simple cycle, each choice of parallel edges apart."""
    found = set()
    for cycle in nx.simple_cycles(nx.DiGraph(graph)):
        pairs = list(zip(cycle, cycle[1:] + cycle[:1], strict=True))
        choices = [list(graph.get_edge_data(u, v).values()) for u, v in pairs]
        for combo in itertools.product(*choices):
            found.add((sum(e["weight"] for e in combo), sum(e["distance"] for e in combo)))
    return found


def brute_force(graph: nx.MultiDiGraph) -> Fraction | None:
    return max((Fraction(w, k) for w, k in simple_cycles(graph)), default=None)


def as_edges(graph: nx.MultiDiGraph) -> DependencyEdges:
    rows = [(u, v, d["weight"], d["distance"]) for u, v, d in graph.edges(data=True)]
    columns = np.array(rows, dtype=np.int64).reshape(-1, 4).T.copy()
    return DependencyEdges(graph.number_of_nodes(), *columns)


def edge_multiset(edges: DependencyEdges) -> Counter:
    return Counter(
        zip(
            edges.source.tolist(),
            edges.target.tolist(),
            edges.weight.tolist(),
            edges.distance.tolist(),
            strict=True,
        )
    )


def oracle_multiset(graph: nx.MultiDiGraph) -> Counter:
    return Counter((u, v, d["weight"], d["distance"]) for u, v, d in graph.edges(data=True))


def ratio(cycle: CriticalCycle | None) -> Fraction | None:
    return None if cycle is None else cycle.ratio


@st.composite
def graphs(draw):
    """Up to 7 nodes and 14 edges: weights from -3 to 9 (zero among them), distances up to
    3, parallel edges, self-loops (distance >= 1), or no cycle at all."""
    n = draw(st.integers(1, 7))
    graph = nx.MultiDiGraph()
    graph.add_nodes_from(range(n))
    for _ in range(draw(st.integers(0, 14))):
        u, v = draw(st.integers(0, n - 1)), draw(st.integers(0, n - 1))
        # Distance-0 edges only go forward, as program order guarantees.
        distance = draw(st.integers(1 if u >= v else 0, 3))
        graph.add_edge(u, v, weight=draw(st.integers(-3, 9)), distance=distance)
    return graph


def howard(edges: DependencyEdges) -> CriticalCycle | None:
    """critical_cycle by policy iteration alone, past the one-iteration test."""
    return cycle_found(
        *recurrence_kernels.policy_iteration(
            edges.nodes, edges.source, edges.target, edges.weight, edges.distance
        )
    )


def one_iteration(edges: DependencyEdges) -> tuple[bool, int]:
    """The one-iteration test's (settled, bound) on `edges`."""
    found, bound = recurrence_kernels._one_iteration_bound(
        edges.nodes, edges.source, edges.target, edges.weight, edges.distance
    )
    return bool(found), int(bound)


def graph_of(edges: tuple[tuple[int, int, int, int], ...], nodes: int = 0) -> nx.MultiDiGraph:
    """A graph of (source, target, weight, distance) edges, on at least `nodes` nodes."""
    graph = nx.MultiDiGraph()
    graph.add_nodes_from(range(nodes))
    for u, v, weight, distance in edges:
        graph.add_edge(u, v, weight=weight, distance=distance)
    return graph


@settings(max_examples=examples(400), deadline=None)
@given(graph=graphs())
def test_compiled_ratio_equals_brute_force_and_the_oracle(graph):
    cycle = critical_cycle(as_edges(graph))
    assert ratio(cycle) == brute_force(graph) == ratio(oracle.critical_cycle(graph))
    assert ratio(howard(as_edges(graph))) == ratio(cycle)
    if cycle is not None:
        # W and K (which the bound uses, not only their ratio) are those of a real cycle.
        assert (cycle.weight, cycle.iterations) in simple_cycles(graph)
        assert astuple(howard(as_edges(graph))) in simple_cycles(graph)


def test_the_one_iteration_test_settles_only_cycles_it_proves_maximal():
    settled = []

    @settings(max_examples=examples(400), deadline=None)
    @given(graph=graphs())
    def one_iteration_cycles_are_maximal(graph):
        edges = as_edges(graph)
        found, bound = one_iteration(edges)
        settled.append(found)
        if found:
            # The ratio of every cycle at most the bound, and a cycle of one iteration
            # weighing the bound: the fewest iterations a cycle of that ratio can span.
            assert brute_force(graph) == bound
            assert (bound, 1) in simple_cycles(graph)
            assert critical_cycle(edges) == CriticalCycle(int(bound), 1)

    one_iteration_cycles_are_maximal()
    # Reached often enough to test, and declined often enough for Howard to be tested.
    assert len(settled) / 5 <= sum(settled) <= len(settled) * 4 / 5, (sum(settled), len(settled))


def test_the_one_iteration_test_follows_a_chain_of_the_same_iteration():
    # As in a systolic step: register 1 is written from register 0 in the same iteration
    # (1 cycle), register 0 waits for register 1's read of it in the iteration before
    # (WAR, 0 cycles). The bound (1 per iteration) needs the potential p(1) = 1 to see the
    # chain: the back edge alone weighs 0. No self-loop attains it.
    edges = as_edges(graph_of(((0, 1, 1, 0), (1, 0, 0, 1), (0, 0, 0, 1))))
    assert one_iteration(edges) == (True, 1)
    assert critical_cycle(edges) == howard(edges) == CriticalCycle(1, 1)


def test_the_one_iteration_test_follows_a_path_of_no_weight():
    # Node 1's longest path is 0 whether or not it starts at node 0; the edge 0 -> 1 is
    # tight all the same, so the back edge (0 cycles) closes a cycle of 0 per iteration.
    assert one_iteration(as_edges(graph_of(((0, 1, 0, 0), (1, 0, 0, 1))))) == (True, 0)


# Howard's iterations cycled forever on this graph (found by a review's fuzzing) while
# each new policy cycle's values were taken relative to the node the search entered it
# at: the one-iteration test declines it (edges on no cycle bound the ratio at 14).
# Brute force: 10, the cycle 7 -> 16 -> 7 (3 + 7 in one iteration).
HOWARD_CYCLED = (
    (7, 16, 3, 0), (2, 15, 0, 0), (10, 1, 7, 1), (7, 0, 8, 1), (1, 8, 4, 2), (5, 13, 3, 0),
    (16, 7, 7, 1), (13, 16, -1, 0), (9, 5, 5, 1), (0, 12, 3, 0), (8, 14, -2, 0),
    (11, 2, 3, 1), (17, 4, -5, 2), (4, 11, 8, 0), (3, 10, 7, 0), (6, 4, 6, 1), (14, 0, 1, 2),
    (12, 17, 7, 0), (11, 3, 4, 2), (12, 9, 2, 1), (11, 15, 4, 0), (15, 6, 2, 1),
)  # fmt: skip


def _cycles_of_howard_cycled() -> tuple[CriticalCycle | None, CriticalCycle | None]:
    graph = graph_of(HOWARD_CYCLED, nodes=18)
    return howard(as_edges(graph)), oracle.critical_cycle(graph)


def test_howard_terminates_where_the_entry_point_made_it_cycle():
    # In a child process, so that a relapse fails here instead of hanging the suite.
    with multiprocessing.get_context("fork").Pool(1) as pool:
        compiled_cycle, oracle_cycle = pool.apply_async(_cycles_of_howard_cycled).get(120)
    assert compiled_cycle is not None and compiled_cycle.ratio == 10
    assert oracle_cycle is not None and oracle_cycle.ratio == 10


def test_the_one_iteration_test_declines_a_bound_no_cycle_attains():
    # Two edges of the next iteration between two nodes: their cycle takes 1 + 2 cycles
    # in 2 iterations. Each edge alone bounds a ratio (2 at most), which no cycle of one
    # iteration attains, so Howard's iterations find 3/2.
    edges = as_edges(graph_of(((0, 1, 1, 1), (1, 0, 2, 1))))
    assert not one_iteration(edges)[0]
    assert critical_cycle(edges) == CriticalCycle(3, 2)


def one_block_program(block: Block, units: int = 1) -> Program:
    layer = LayerProgram("layer", "test", 0, {}, Loop("layer", 1, (Loop("l", 3, (BlockRef(0),)),)))
    return Program(
        accelerator="random",
        parameters={},
        bundles_per_cycle=1,
        window_bundles=1,
        frontend_delay=0,
        # With the instances the moving templates reach (random_blocks moves some).
        units={"u": units_needed([block], [layer.root], units)},
        spaces={SPACE: space_needed([block], [layer.root])},
        blocks=(block,),
        layers=(layer,),
        queues={"q0": 1, "q1": 1},
    )


@st.composite
def random_blocks(draw):
    """A block of up to 12 random templates on a few locations: reads and writes of one or
    two locations, or of ranges (wide), some moving with the loop index (left out of the
    graph), with marks and queues (never in it)."""
    units = draw(st.integers(1, 3))
    wide = draw(st.booleans())
    strided = frozenset({1}) if draw(st.booleans()) else frozenset()
    bases = draw(st.sampled_from([2, 6] if not wide else [150]))
    body = tuple(
        draw(templates(2, units, wide, strided, bases)) for _ in range(draw(st.integers(1, 12)))
    )
    return one_block_program(Block("b", body), units)


@settings(max_examples=examples(300), deadline=None)
@given(prog=random_blocks())
def test_compiled_edges_and_ratio_equal_the_oracle_on_random_blocks(prog):
    edges = block_dependency_edges(pack_blocks(prog), 0)
    graph = oracle.dependency_graph(prog.blocks[0])
    assert edge_multiset(edges) == oracle_multiset(graph)
    cycle = critical_cycle(edges)
    assert ratio(cycle) == ratio(oracle.critical_cycle(graph))
    if cycle is not None and graph.number_of_edges() <= 40:
        assert ratio(cycle) == brute_force(graph)
        assert (cycle.weight, cycle.iterations) in simple_cycles(graph)


@settings(max_examples=examples(100), deadline=None)
@given(prog=random_programs(wide=None))
def test_compiled_equals_the_oracle_on_every_block_of_random_programs(prog):
    blocks = pack_blocks(prog)
    for index, block in enumerate(prog.blocks):
        edges = block_dependency_edges(blocks, index)
        graph = oracle.dependency_graph(block)
        assert edge_multiset(edges) == oracle_multiset(graph)
        assert ratio(critical_cycle(edges)) == ratio(oracle.critical_cycle(graph))


def lowered_programs() -> list[Program]:
    model = Model("m", (Conv2d("conv", 3, 8, 6, 6, 3, 3), Dense("fc", 7, 9, 5)))
    programs = [
        lower_workload(
            find_accelerator("systolic").resolve(
                {"rows": "4", "cols": "3", "dataflow": dataflow, "pe_latency": latency}
            ),
            model,
        )
        for dataflow in ("ws", "os", "is")
        for latency in ("1", "2")
    ]
    programs.append(lower_workload(find_accelerator("gemmini").resolve({"dim": "4"}), model))
    return programs


def test_compiled_equals_the_oracle_on_the_lowerings_blocks():
    for prog in lowered_programs():
        blocks = pack_blocks(prog)
        for index, block in enumerate(prog.blocks):
            edges = block_dependency_edges(blocks, index)
            graph = oracle.dependency_graph(block)
            assert edge_multiset(edges) == oracle_multiset(graph)
            cycle, expected = critical_cycle(edges), oracle.critical_cycle(graph)
            assert ratio(cycle) == ratio(expected)


def critical_of(templates: list) -> CriticalCycle | None:
    return critical_cycle(block_dependency_edges(pack_blocks(program(templates)), 0))


def test_accumulator_chain():
    # acc[0] += x with latency 3: each iteration waits for the previous one -> 3 / iteration.
    block = [instr(latency=3, reads=(op("r", 0), op("r", 1)), writes=(op("r", 0),))]
    assert critical_of(block) == CriticalCycle(3, 1)


def test_occupancy_bounds_an_independent_unit():
    assert critical_of([instr(occupancy=4, latency=1, reads=(op("r", 1),))]) == CriticalCycle(4, 1)


def test_affine_operands_are_left_out():
    # The chain through r[0 + i] moves with the loop index: only the unit's occupancy binds.
    block = [
        instr(latency=5, reads=(op("r", 0, coefs=(0, 1)),), writes=(op("r", 0, coefs=(0, 1)),))
    ]
    assert critical_of(block) == CriticalCycle(1, 1)


def step_loops(prog: Program) -> dict[str, Loop]:
    """The first layer's step loops (preload, stream, drain) by name; they sit at depth 2."""
    fold = prog.layers[0].root.body[0]
    return {node.name: node for node in fold.body if isinstance(node, Loop)}


def unrolled_step(prog: Program, step: Loop) -> Program:
    """`prog` with one more block: one iteration of `step` (at depth 2) unrolled, each
    instruction at its nested loops' indices, its operands and instance fixed there, as
    the lowering listed a step before it wrote one as loops over rows and columns."""
    around = Loop("layer", 1, (Loop("fold", 1, (Loop(step.name, 1, step.body),)),))
    templates = []
    for block, index in block_executions(around):
        for t in prog.blocks[block].templates:
            fixed = [
                tuple(Operand(o.space, first_location(o, index), o.count) for o in operands)
                for operands in (t.reads, t.writes)
            ]
            templates.append(
                replace(
                    t,
                    instance=t.instance_at(tuple(index)),
                    instance_coefs=(),
                    reads=fixed[0],
                    writes=fixed[1],
                )
            )
    return replace(prog, blocks=(*prog.blocks, Block("unrolled", tuple(templates))))


def stream_cycle(**params: str) -> CriticalCycle | None:
    accelerator = find_accelerator("systolic").resolve({"rows": "3", "cols": "4", **params})
    prog = lower(accelerator, Model("m", (Dense("fc", 5, 5, 9),)))
    return CriticalCycles(pack_blocks(prog)).of_step(step_loops(prog)["stream"], 2)


def test_systolic_stream_step_has_one_cycle_per_iteration():
    # Each PE starts one MAC per cycle (occupancy 1) and rewrites its own registers
    # (latency 1): one step per cycle in steady state, with pe_latency 1.
    assert stream_cycle().ratio == 1
    assert stream_cycle(pe_latency="2").ratio == 2


@settings(max_examples=examples(40), deadline=None)
@given(
    rows=st.integers(1, 5),
    cols=st.integers(1, 5),
    dataflow=st.sampled_from(["ws", "os", "is"]),
    pe_latency=st.integers(1, 3),
)
def test_a_step_written_as_loops_has_the_critical_cycle_of_its_unrolled_block(
    rows, cols, dataflow, pe_latency
):
    # A systolic step is one bundle written as loops over rows and columns: its critical
    # cycle, its nested loops unrolled by CriticalCycles.of_step, is that of the same step
    # listed as one block, PE by PE, which the oracle checks.
    params = {"rows": str(rows), "cols": str(cols), "dataflow": dataflow}
    accelerator = find_accelerator("systolic").resolve({**params, "pe_latency": str(pe_latency)})
    prog = lower(accelerator, Model("m", (Dense("fc", 7, 9, 11),)))
    for step in step_loops(prog).values():
        unrolled = unrolled_step(prog, step)
        block = len(unrolled.blocks) - 1
        expected = critical_cycle(block_dependency_edges(pack_blocks(unrolled), block))
        oracle_ratio = oracle.critical_cycle(oracle.dependency_graph(unrolled.blocks[block]))
        assert ratio(expected) == ratio(oracle_ratio)
        assert CriticalCycles(pack_blocks(prog)).of_step(step, 2) == expected


def test_a_step_is_unrolled_only_up_to_step_instructions(monkeypatch):
    # The cap is on the instructions the unrolled step holds, not on its block executions
    # (a row's columns come in blocks of up to eight): here 8 x 8 PEs, 64 instructions a
    # stream step in 16 block executions.
    accelerator = find_accelerator("systolic").resolve({"rows": "8", "cols": "8"})
    prog = lower(accelerator, Model("m", (Dense("fc", 9, 9, 9),)))
    step = step_loops(prog)["stream"]
    size = count_instructions(Loop("one run", 1, step.body), prog.blocks)
    assert count_block_executions(Loop("one run", 1, step.body)) < size
    monkeypatch.setattr(recurrence, "STEP_INSTRUCTIONS", size)
    assert CriticalCycles(pack_blocks(prog)).of_step(step, 2) is not None
    monkeypatch.setattr(recurrence, "STEP_INSTRUCTIONS", size - 1)
    assert CriticalCycles(pack_blocks(prog)).of_step(step, 2) is None


def test_only_a_body_of_one_bundle_opened_first_is_a_step():
    # A loop whose body opens a bundle after its first instruction, or one per nested
    # trip, is no step: no critical cycle is taken from it.
    opening, plain = instr(writes=(op("r", 0),)), instr(writes=(op("r", 1),), bundle_start=False)
    blocks = (Block("a", (opening,)), Block("b", (plain,)))
    prog = replace(program([opening]), blocks=blocks)
    cycles = CriticalCycles(pack_blocks(prog))
    nested = Loop("n", 3, (BlockRef(1),))
    assert cycles.of_step(Loop("s", 5, (BlockRef(0), nested)), 1) is not None
    assert cycles.of_step(Loop("s", 5, (nested, BlockRef(0))), 1) is None
    assert cycles.of_step(Loop("s", 5, (Loop("n", 2, (BlockRef(0),)),)), 1) is None


def test_a_step_leaves_out_what_its_own_index_moves():
    # The step's first instruction writes r[s] (5 cycles), a new register each
    # iteration: no recurrence, as a loop's affine operands are left out. Taken as
    # fixed, r[0] would carry a 5-cycle WAW cycle per iteration. What remains: the
    # nested loop's two writes of r[8] on instance 1, one cycle each, twice per
    # iteration.
    opening = instr(latency=5, writes=(op("r", 0, coefs=(0, 1)),))
    nested = instr(instance=1, writes=(op("r", 8),), bundle_start=False)
    blocks = (Block("a", (opening,)), Block("b", (nested,)))
    prog = replace(program([opening]), blocks=blocks)
    step = Loop("s", 5, (BlockRef(0), Loop("n", 2, (BlockRef(1),))))
    assert CriticalCycles(pack_blocks(prog)).of_step(step, 1) == CriticalCycle(2, 1)


def test_a_step_leaves_out_a_unit_instance_its_own_index_moves():
    # The step's first instruction takes instance s for 5 cycles, a new instance each
    # iteration: no recurrence. Kept at instance 0 it would carry 5 cycles per
    # iteration. What remains: the nested loop's two runs on instance 7, and their
    # writes of r[8], one cycle each, twice per iteration.
    opening = replace(instr(occupancy=5), instance_coefs=(0, 1))
    nested = instr(instance=7, writes=(op("r", 8),), bundle_start=False)
    blocks = (Block("a", (opening,)), Block("b", (nested,)))
    prog = replace(program([opening], units={"alu": 8}), blocks=blocks)
    step = Loop("s", 5, (BlockRef(0), Loop("n", 2, (BlockRef(1),))))
    assert CriticalCycles(pack_blocks(prog)).of_step(step, 1) == CriticalCycle(2, 1)


@settings(max_examples=200, deadline=None)
@given(program=random_programs())
def test_bounds_never_exceed_the_measured_cycles(program):
    """Both bounds claim no schedule can be shorter; the full evaluation is a schedule."""
    result = evaluate_program(program, "full", recurrence=True)[0]
    assert result.bound.busy_cycles <= result.cycles
    assert (result.bound.recurrence_cycles or 0) <= result.cycles


@settings(max_examples=40, deadline=None)
@given(
    rows=st.integers(1, 6),
    cols=st.integers(1, 6),
    dataflow=st.sampled_from(["ws", "os", "is"]),
    pe_latency=st.integers(1, 3),
    temporal=st.integers(1, 30),
)
def test_systolic_bounds_never_exceed_the_measured_cycles(
    rows, cols, dataflow, pe_latency, temporal
):
    acc = find_accelerator("systolic").resolve(
        {"rows": str(rows), "cols": str(cols), "dataflow": dataflow, "pe_latency": str(pe_latency)}
    )
    program = lower(acc, Model("m", (Dense("fc", 7, 9, temporal),)))
    result = evaluate_program(program, "fast", recurrence=True)[0]
    assert 0 < result.bound.busy_cycles <= result.cycles
    assert 0 <= result.bound.recurrence_cycles <= result.cycles


def test_dependency_graph_edges_worked_by_hand():
    # Program order, then each location's accesses (reads before writes in an instruction):
    #   0 A alu[0] lat 3 occ 1 rt 1: reads r1, writes r0
    #   1 B alu[1] lat 2 occ 2 rt 2: reads r0, writes r1
    #   2 C alu[0] lat 4 occ 1 rt 1: writes r0
    #   3 D alu[1] lat 1 occ 1 rt 3: reads r0 r2, writes r2 and an affine r8 (left out)
    block = Block(
        "b",
        (
            instr(latency=3, reads=(op("r", 1),), writes=(op("r", 0),)),
            instr(
                instance=1,
                latency=2,
                occupancy=2,
                read_time=2,
                reads=(op("r", 0),),
                writes=(op("r", 1),),
            ),
            instr(latency=4, writes=(op("r", 0),)),
            instr(
                instance=1,
                read_time=3,
                reads=(op("r", 0), op("r", 2)),
                writes=(op("r", 2), op("r", 8, 1, (1,))),
            ),
        ),
    )
    expected = [  # (from, to, weight, distance)
        # r0: W0 R1 W2 R3. The first write follows the last (C, next iteration: WAW lat 4)
        # and D, which reads after it (WAR rt 3 - lat 3 = 0); B reads A's value (RAW 3);
        # C follows A (WAW 3) and B's read (WAR 2 - 4 = -2); D reads C's value (RAW 4).
        (2, 0, 4, 1),
        (3, 0, 0, 1),
        (0, 1, 3, 0),
        (0, 2, 3, 0),
        (1, 2, -2, 0),
        (2, 3, 4, 0),
        # r1: R0 W1. A reads B's value of the previous iteration (RAW 2, distance 1); B
        # follows itself (WAW 2) and A's read (WAR 1 - 2 = -1). No reader follows B.
        (1, 0, 2, 1),
        (1, 1, 2, 1),
        (0, 1, -1, 0),
        # r2: R3 W3. D reads its own previous value and rewrites it (RAW and WAW 1); its
        # read before its write in one iteration constrains nothing.
        (3, 3, 1, 1),
        (3, 3, 1, 1),
        # Units in order: alu[0] runs A then C (occupancy 1), C then the next A; alu[1]
        # runs B then D (occupancy 2), D then the next B (1).
        (0, 2, 1, 0),
        (2, 0, 1, 1),
        (1, 3, 2, 0),
        (3, 1, 1, 1),
    ]
    layer = LayerProgram("layer", "test", 0, {}, Loop("layer", 1, (Loop("l", 3, (BlockRef(0),)),)))
    prog = Program("t", {}, 1, 1, 0, {"alu": 2}, {"r": 9}, (block,), (layer,))
    edges = block_dependency_edges(pack_blocks(prog), 0)
    assert edge_multiset(edges) == Counter(expected)
    assert oracle_multiset(oracle.dependency_graph(block)) == Counter(expected)
    # The heaviest cycle per iteration: A -> C (WAW 3) -> next A (WAW 4), 7 in 1 iteration.
    assert critical_cycle(edges) == CriticalCycle(7, 1)


def test_howard_follows_a_better_ratio_to_a_cycle_its_first_policy_misses():
    # Node 0 loops on itself (5 per iteration) or goes to node 1 (4, same iteration);
    # node 1 loops on itself (3) or returns to node 0 (2, next iteration). A first policy
    # of each node's heaviest edge takes the two self-loops (5 and 3); node 1 then improves
    # its ratio by switching to node 0, and only re-evaluating that policy finds the cycle
    # 0 -> 1 -> 0: (4 + 2) / (0 + 1) = 6 per iteration, above both self-loops.
    graph = nx.MultiDiGraph()
    for u, v, weight, distance in ((0, 0, 5, 1), (0, 1, 4, 0), (1, 1, 3, 1), (1, 0, 2, 1)):
        graph.add_edge(u, v, weight=weight, distance=distance)
    assert howard(as_edges(graph)) == CriticalCycle(6, 1)  # past the one-iteration test
    assert critical_cycle(as_edges(graph)) == CriticalCycle(6, 1)
    assert oracle.critical_cycle(graph) == CriticalCycle(6, 1)
