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
from analyzer.engine.recurrence import critical_cycle, dependency_graph
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


def test_accumulator_chain():
    # acc[0] += x with latency 3: each iteration waits for the previous one -> 3 / iteration.
    block = Block("b", (instr(latency=3, reads=(op("r", 0), op("r", 1)), writes=(op("r", 0),)),))
    assert critical_cycle(dependency_graph(block)).ratio == 3


def test_occupancy_bounds_an_independent_unit():
    block = Block("b", (instr(occupancy=4, latency=1, reads=(op("r", 1),)),))
    assert critical_cycle(dependency_graph(block)).ratio == 4


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
