"""Test oracle of the recurrence bound: the dependency graph of a block's iteration as a
networkx MultiDiGraph, and its critical cycle by Howard's policy iteration in Fractions.

This was the product's implementation before analyzer/engine/recurrence.py moved to
compiled kernels (analyzer/engine/recurrence_kernels.py); it is kept, written
independently of them (from Block templates, not the packed arrays; per strongly connected
component; rationals, not integer pairs), to check them. An edge u -> v of weight w and
distance d says start(v in iteration k + d) >= start(u in iteration k) + w, for RAW and WAW
(w = latency of the earlier writer), WAR (w = read time of the reader - latency of the
writer) and in-order unit instances (w = occupancy). Operands whose address depends on a
loop index are left out. The maximum ratio W/K over all cycles is found with Howard's
policy iteration in exact rational arithmetic (Cochet-Terrasson, Cohen, Gaubert,
McGettrick, Quadrat, "Numerical computation of spectral elements in max-plus algebra",
IFAC 1998).
"""

from __future__ import annotations

from fractions import Fraction

import networkx as nx

from analyzer.engine.recurrence import CriticalCycle
from isa.program import Block


def dependency_graph(block: Block) -> nx.MultiDiGraph:
    graph = nx.MultiDiGraph()
    templates = block.templates
    graph.add_nodes_from(range(len(templates)))

    def add(u: int, v: int, weight: int, distance: int, kind: str) -> None:
        if u == v and distance == 0:
            return  # an instruction reading and writing one location: no constraint on itself
        graph.add_edge(u, v, weight=weight, distance=distance, kind=kind)

    # Accesses to each constant location, in program order.
    accesses: dict[tuple[str, int], list[tuple[int, bool]]] = {}
    for position, t in enumerate(templates):
        for operands, is_write in ((t.reads, False), (t.writes, True)):
            for operand in operands:
                if any(operand.coefs):
                    continue
                for address in range(operand.base, operand.base + operand.count):
                    accesses.setdefault((operand.space, address), []).append((position, is_write))
    for sequence in accesses.values():
        writes = [p for p, is_write in sequence if is_write]
        if not writes:
            continue
        last_write = writes[-1]
        # Readers after the block's last write are pending when the next iteration starts.
        after_last = sequence[sequence.index((last_write, True)) + 1 :]
        carried_readers = [p for p, is_write in after_last if not is_write]
        previous_write: int | None = None
        readers: list[int] = []
        for position, is_write in sequence:
            if not is_write:
                writer, distance = (
                    (previous_write, 0) if previous_write is not None else (last_write, 1)
                )
                add(writer, position, templates[writer].latency, distance, "raw")
                readers.append(position)
                continue
            latency = templates[position].latency
            if previous_write is None:
                add(last_write, position, templates[last_write].latency, 1, "waw")
                for reader in carried_readers:
                    add(reader, position, templates[reader].read_time - latency, 1, "war")
            else:
                add(previous_write, position, templates[previous_write].latency, 0, "waw")
            for reader in readers:
                add(reader, position, templates[reader].read_time - latency, 0, "war")
            previous_write = position
            readers = []
    by_unit: dict[tuple[str, int], list[int]] = {}
    for position, t in enumerate(templates):
        if not any(t.instance_coefs):  # a moving instance is left out, as an operand is
            by_unit.setdefault((t.unit, t.instance), []).append(position)
    for positions in by_unit.values():
        for u, v in zip(positions, positions[1:], strict=False):
            add(u, v, templates[u].occupancy, 0, "unit")
        add(positions[-1], positions[0], templates[positions[-1]].occupancy, 1, "unit")
    return graph


def critical_cycle(graph: nx.MultiDiGraph) -> CriticalCycle | None:
    """The cycle of maximum weight/iterations ratio, or None if the graph has no cycle."""
    best: CriticalCycle | None = None
    for component in nx.strongly_connected_components(graph):
        edges = [
            (u, v, data["weight"], data["distance"])
            for u, v, data in graph.subgraph(component).edges(data=True)
        ]
        if not edges:
            continue
        cycle = _howard(component, edges)
        if best is None or cycle.ratio > best.ratio:
            best = cycle
    return best


Edge = tuple[int, int, int, int]  # (from, to, weight, distance)


def _howard(nodes: set[int], edges: list[Edge]) -> CriticalCycle:
    out: dict[int, list[Edge]] = {node: [] for node in nodes}
    for edge in edges:
        out[edge[0]].append(edge)
    policy = {node: max(out[node], key=lambda e: e[2]) for node in nodes}
    while True:
        ratio, value, cycles = _evaluate_policy(nodes, policy)
        changed = False
        for node in nodes:  # first improve the cycle ratio a node can reach
            best = max(out[node], key=lambda e: ratio[e[1]])
            if ratio[best[1]] > ratio[node]:
                policy[node] = best
                changed = True
        if not changed:  # then the potential, among edges keeping the same ratio
            for node in nodes:
                r = ratio[node]
                candidates = [e for e in out[node] if ratio[e[1]] == r]
                best = max(candidates, key=lambda e: e[2] - r * e[3] + value[e[1]])
                if best[2] - r * best[3] + value[best[1]] > value[node]:
                    policy[node] = best
                    changed = True
        if not changed:
            return max(cycles, key=lambda c: c.ratio)


def _evaluate_policy(
    nodes: set[int], policy: dict[int, Edge]
) -> tuple[dict[int, Fraction], dict[int, Fraction], list[CriticalCycle]]:
    ratio: dict[int, Fraction] = {}
    value: dict[int, Fraction] = {}
    cycles: list[CriticalCycle] = []
    for start in nodes:
        if start in ratio:
            continue
        path: list[int] = []
        on_path: dict[int, int] = {}
        node = start
        while node not in ratio and node not in on_path:
            on_path[node] = len(path)
            path.append(node)
            node = policy[node][1]
        if node in on_path:  # a new cycle of the policy graph
            loop = path[on_path[node] :]
            weight = sum(policy[n][2] for n in loop)
            iterations = sum(policy[n][3] for n in loop)
            cycles.append(CriticalCycle(weight, iterations))
            r = Fraction(weight, iterations)
            # Values relative to the cycle's smallest node, so that a cycle the last
            # policy had keeps them: Howard terminates only so.
            root = loop.index(min(loop))
            ratio[loop[root]] = r
            value[loop[root]] = Fraction(0)
            for n in reversed(loop[root + 1 :] + loop[:root]):
                _, successor, w, d = policy[n]
                ratio[n] = r
                value[n] = w - r * d + value[successor]
            path = path[: on_path[node]]
        for n in reversed(path):
            _, successor, w, d = policy[n]
            ratio[n] = ratio[successor]
            value[n] = w - ratio[n] * d + value[successor]
    return ratio, value, cycles
