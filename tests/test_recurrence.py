"""The recurrence bound: Howard's policy iteration against brute force over all simple
cycles, and the dependency graph of the systolic stream step worked by hand."""

from __future__ import annotations

import itertools
from fractions import Fraction

import networkx as nx
from hypothesis import given, settings
from hypothesis import strategies as st

from accelerators.catalog import find_accelerator
from analyzer.engine.evaluate import evaluate_program
from analyzer.engine.recurrence import CriticalCycle, critical_cycle, dependency_graph
from isa.program import Block
from isa.systolic.lowering import lower
from tests.builders import instr, op
from tests.test_exactness import random_programs
from tracer.workloads.layers import Dense, Model


def brute_force(graph: nx.MultiDiGraph) -> Fraction | None:
    best = None
    for cycle in nx.simple_cycles(nx.DiGraph(graph)):
        pairs = list(zip(cycle, cycle[1:] + cycle[:1], strict=True))
        choices = [list(graph.get_edge_data(u, v).values()) for u, v in pairs]
        for combo in itertools.product(*choices):
            distance = sum(e["distance"] for e in combo)
            ratio = Fraction(sum(e["weight"] for e in combo), distance)
            best = ratio if best is None or ratio > best else best
    return best


@st.composite
def graphs(draw):
    n = draw(st.integers(1, 6))
    graph = nx.MultiDiGraph()
    graph.add_nodes_from(range(n))
    for _ in range(draw(st.integers(0, 12))):
        u, v = draw(st.integers(0, n - 1)), draw(st.integers(0, n - 1))
        # distance-0 edges only go forward, as program order guarantees
        distance = 1 if u >= v else draw(st.integers(0, 1))
        graph.add_edge(u, v, weight=draw(st.integers(-3, 9)), distance=distance)
    return graph


@settings(max_examples=300, deadline=None)
@given(graph=graphs())
def test_howard_equals_brute_force(graph):
    cycle = critical_cycle(graph)
    expected = brute_force(graph)
    assert (cycle.ratio if cycle else None) == expected


def test_howard_follows_a_better_ratio_to_a_cycle_its_first_policy_misses():
    # Node 0 loops on itself (5 per iteration) or goes to node 1 (4, same iteration);
    # node 1 loops on itself (3) or returns to node 0 (2, next iteration). The first policy
    # takes each node's heaviest edge, the two self-loops (5 and 3); node 1 then improves
    # its ratio by switching to node 0, and only re-evaluating that policy finds the cycle
    # 0 -> 1 -> 0: (4 + 2) / (0 + 1) = 6 per iteration, above both self-loops.
    graph = nx.MultiDiGraph()
    for u, v, weight, distance in ((0, 0, 5, 1), (0, 1, 4, 0), (1, 1, 3, 1), (1, 0, 2, 1)):
        graph.add_edge(u, v, weight=weight, distance=distance)
    assert critical_cycle(graph) == CriticalCycle(6, 1)


def test_accumulator_chain():
    # acc[0] += x with latency 3: each iteration waits for the previous one -> 3 / iteration.
    block = Block("b", (instr(latency=3, reads=(op("r", 0), op("r", 1)), writes=(op("r", 0),)),))
    assert critical_cycle(dependency_graph(block)).ratio == 3


def test_occupancy_bounds_an_independent_unit():
    block = Block("b", (instr(occupancy=4, latency=1, reads=(op("r", 1),)),))
    assert critical_cycle(dependency_graph(block)).ratio == 4


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
    expected = [
        # r0: W0 R1 W2 R3. The first write follows the last (C, next iteration: WAW lat 4)
        # and D, which reads after it (WAR rt 3 - lat 3 = 0); B reads A's value (RAW 3);
        # C follows A (WAW 3) and B's read (WAR 2 - 4 = -2); D reads C's value (RAW 4).
        (2, 0, 4, 1, "waw"),
        (3, 0, 0, 1, "war"),
        (0, 1, 3, 0, "raw"),
        (0, 2, 3, 0, "waw"),
        (1, 2, -2, 0, "war"),
        (2, 3, 4, 0, "raw"),
        # r1: R0 W1. A reads B's value of the previous iteration (RAW 2, distance 1); B
        # follows itself (WAW 2) and A's read (WAR 1 - 2 = -1). No reader follows B.
        (1, 0, 2, 1, "raw"),
        (1, 1, 2, 1, "waw"),
        (0, 1, -1, 0, "war"),
        # r2: R3 W3. D reads its own previous value and rewrites it; its read before its
        # write in one iteration constrains nothing.
        (3, 3, 1, 1, "raw"),
        (3, 3, 1, 1, "waw"),
        # Units in order: alu[0] runs A then C (occupancy 1), C then the next A; alu[1]
        # runs B then D (occupancy 2), D then the next B (1).
        (0, 2, 1, 0, "unit"),
        (2, 0, 1, 1, "unit"),
        (1, 3, 2, 0, "unit"),
        (3, 1, 1, 1, "unit"),
    ]
    graph = dependency_graph(block)
    edges = [(u, v, e["weight"], e["distance"], e["kind"]) for u, v, e in graph.edges(data=True)]
    assert sorted(edges) == sorted(expected)
    # The heaviest cycle per iteration: A -> C (WAW 3) -> next A (WAW 4), 7 in 1 iteration.
    assert critical_cycle(graph) == CriticalCycle(7, 1)


def test_systolic_stream_step_has_one_cycle_per_iteration():
    # Each PE starts one MAC per cycle (occupancy 1) and rewrites its own registers
    # (latency 1): one step per cycle in steady state, with pe_latency 1.
    acc = find_accelerator("systolic").resolve({"rows": "3", "cols": "4"})
    program = lower(acc, Model("m", (Dense("fc", 5, 5, 9),)))
    stream = next(b for b in program.blocks if b.name == "stream")
    assert critical_cycle(dependency_graph(stream)).ratio == 1
    slow = find_accelerator("systolic").resolve({"rows": "3", "cols": "4", "pe_latency": "2"})
    stream = next(
        b for b in lower(slow, Model("m", (Dense("fc", 5, 5, 9),))).blocks if b.name == "stream"
    )
    assert critical_cycle(dependency_graph(stream)).ratio == 2


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
