"""Numba kernels of the recurrence bound: a block's loop-carried dependency edges, and the
maximum cycle ratio of the graph they make, in integer arithmetic.

An edge u -> v of weight w and distance d says start(v in iteration k + d) >=
start(u in iteration k) + w (docs/design.md §6.2). Edges come as four int64 arrays
(source, target, weight, distance) over the block's templates 0..n-1.

The maximum cycle ratio, max over cycles of (total weight W) / (total distance K), is
settled where it can be by a bound from longest-path potentials that a cycle of one
iteration attains (_one_iteration_bound), else found by Howard's policy iteration for
the cycle ratio problem: Cochet-Terrasson, Cohen,
Gaubert, McGettrick, Quadrat, "Numerical computation of spectral elements in max-plus
algebra", IFAC Conference on System Structure and Control, 1998; in the form Dasdan
gives for cycle ratios ("Experimental analysis of the fastest optimum cycle ratio and
mean algorithms", ACM TODAES 9(4), 2004, §3.4). Every cycle has K >= 1, as distance-0
edges follow program order. A policy picks one out-edge per node; its graph's cycles give
each node a ratio, and a value relative to its cycle. Ratios are reduced integer pairs
p/q (q > 0), and a node's value is kept multiplied by its ratio's q, so the value of
u -> v is q*w - p*d + value(v): every comparison is exact, in int64 (weights and
distances are cycles and iterations of one block, far from overflow).
"""

from __future__ import annotations

import numpy as np
from numba import njit

from analyzer.engine.jit_cache import load_compiled_code_directly
from analyzer.engine.template_row import (
    T_INSTANCE_OFFSET,
    T_LATENCY,
    T_OCCUPANCY,
    T_OPERANDS_FIRST,
    T_READ_TIME,
    T_READS_END,
    T_UNIT,
    T_WRITES_END,
)


@njit(cache=True)
def dependency_edges(
    unit, latency, occupancy, read_time, access_template, access_location, access_write
):
    """The dependency edges of one iteration of a block of templates 0..n-1 (`unit`, the
    global unit instance id, and the three times are indexed by template), from its
    accesses to fixed locations in program order: template order, each template's reads
    before its writes. Per location: RAW and WAW from the previous write in the block,
    or from the block's last write with distance 1; WAR from each read since the previous
    write, or, for the block's first write, from the reads after its last write with
    distance 1. Per unit instance: program order with weight occupancy, and the last to
    the first with distance 1; a template of unit -1 has no unit edges. An edge from a
    template to itself with distance 0 says nothing and is left out. Returns (source,
    target, weight, distance)."""
    accesses = access_template.shape[0]
    templates = unit.shape[0]
    # A read adds one edge; a write one, plus one per read it follows: at most two edges
    # per access (the carried WAR edges are the block's last reads, at most once each).
    capacity = 2 * accesses + templates + 1
    source = np.empty(capacity, np.int64)
    target = np.empty(capacity, np.int64)
    weight = np.empty(capacity, np.int64)
    distance = np.empty(capacity, np.int64)
    count = 0
    # Stable: each location's accesses stay in program order.
    order = _stable_order(access_location)
    readers = np.empty(accesses, np.int64)
    first = 0
    while first < accesses:
        location = access_location[order[first]]
        end = first + 1
        while end < accesses and access_location[order[end]] == location:
            end += 1
        last_write_at = -1
        for k in range(end - 1, first - 1, -1):
            if access_write[order[k]]:
                last_write_at = k
                break
        if last_write_at >= 0:
            last_write = access_template[order[last_write_at]]
            previous_write = -1
            n_readers = 0
            for k in range(first, end):
                position = access_template[order[k]]
                if not access_write[order[k]]:
                    if previous_write >= 0:
                        writer, carried = previous_write, 0
                    else:
                        writer, carried = last_write, 1
                    if writer != position or carried:
                        source[count], target[count] = writer, position
                        weight[count], distance[count] = latency[writer], carried
                        count += 1
                    readers[n_readers] = position
                    n_readers += 1
                    continue
                if previous_write < 0:
                    source[count], target[count] = last_write, position
                    weight[count], distance[count] = latency[last_write], 1
                    count += 1
                    # Reads after the block's last write are pending at the next iteration.
                    for j in range(last_write_at + 1, end):
                        if not access_write[order[j]]:
                            reader = access_template[order[j]]
                            source[count], target[count] = reader, position
                            weight[count] = read_time[reader] - latency[position]
                            distance[count] = 1
                            count += 1
                elif previous_write != position:
                    source[count], target[count] = previous_write, position
                    weight[count], distance[count] = latency[previous_write], 0
                    count += 1
                for j in range(n_readers):
                    reader = readers[j]
                    if reader != position:
                        source[count], target[count] = reader, position
                        weight[count] = read_time[reader] - latency[position]
                        distance[count] = 0
                        count += 1
                previous_write = position
                n_readers = 0
        first = end
    by_unit = _stable_order(unit)
    first = 0
    while first < templates and unit[by_unit[first]] < 0:
        first += 1
    while first < templates:
        end = first + 1
        while end < templates and unit[by_unit[end]] == unit[by_unit[first]]:
            end += 1
        for k in range(first, end - 1):
            source[count], target[count] = by_unit[k], by_unit[k + 1]
            weight[count], distance[count] = occupancy[by_unit[k]], 0
            count += 1
        last = by_unit[end - 1]
        source[count], target[count] = last, by_unit[first]
        weight[count], distance[count] = occupancy[last], 1
        count += 1
        first = end
    return source[:count], target[:count], weight[:count], distance[:count]


@njit(cache=True)
def _stable_order(keys):
    """The permutation that sorts `keys` stably (np.argsort's kind="mergesort"): counting
    sort when they span at most a few times their number (template and unit ids, a
    block's nearby locations), which takes a fraction of a comparison sort's time on the
    hundred thousand edges of a 128x128 array's block; else the comparison sort."""
    n = keys.shape[0]
    if n == 0:
        return np.empty(0, np.int64)
    # A loop, not keys.min(): cached code calling NumPy's reductions makes loading it
    # import numba.np.arraymath and its linear algebra (tests/test_startup.py).
    low = high = keys[0]
    for k in range(1, n):
        if keys[k] < low:
            low = keys[k]
        elif keys[k] > high:
            high = keys[k]
    span = high - low + 1
    if span > 4 * n + 64:
        return np.argsort(keys, kind="mergesort")
    first = np.zeros(span + 1, np.int64)
    for k in range(n):
        first[keys[k] - low + 1] += 1
    for v in range(span):
        first[v + 1] += first[v]
    order = np.empty(n, np.int64)
    for k in range(n):
        slot = keys[k] - low
        order[first[slot]] = k
        first[slot] += 1
    return order


@njit(cache=True)
def block_edges(columns, operand_location, operand_count, operand_affine, lo, hi):
    """dependency_edges of the block of templates lo..hi-1: its templates' reads and writes
    of fixed locations, each location one access, in program order. `columns`: per template
    of the program, (unit, -1 for a unit instance that moves with the loops; latency;
    occupancy; read time; first operand; end of its reads; end of its writes), a row each
    (CriticalCycles' template_columns)."""
    unit, latency, occupancy, read_time = columns[0], columns[1], columns[2], columns[3]
    operands_first, reads_end, writes_end = columns[4], columns[5], columns[6]
    accesses = 0
    for t in range(lo, hi):
        for o in range(operands_first[t], writes_end[t]):
            if operand_affine[o] == 0:
                accesses += operand_count[o]
    access_template = np.empty(accesses, np.int64)
    access_location = np.empty(accesses, np.int64)
    access_write = np.empty(accesses, np.bool_)
    k = 0
    for t in range(lo, hi):
        for o in range(operands_first[t], writes_end[t]):
            if operand_affine[o] != 0:
                continue
            for j in range(operand_count[o]):
                access_template[k] = t - lo
                access_location[k] = operand_location[o] + j
                access_write[k] = o >= reads_end[t]
                k += 1
    return dependency_edges(
        unit[lo:hi], latency[lo:hi], occupancy[lo:hi], read_time[lo:hi],
        access_template, access_location, access_write,
    )  # fmt: skip


@njit(cache=True)
def step_critical_cycle(
    templates, offset_coefs, operand_offset, operand_location, operand_count,
    block_first, executed, index, depth,
):  # fmt: skip
    """(W, K) of maximum_cycle_ratio on the dependency edges of one run of a loop body
    that nests loops, unrolled (docs/design.md §6.2): `executed` are its block executions
    in program order, `index` each one's loop indices (a row of offset_coefs' width). A
    unit instance or operand address moved by an index at `depth` or outside is left
    out, as block_edges leaves out affine operands; one moved only by deeper indices is
    fixed in each execution, at its base plus the coefficients times those indices.
    `templates` are the packed template rows (analyzer/engine/template_row.py)."""
    outer = np.zeros(offset_coefs.shape[0], np.bool_)
    # One past the deepest level whose index moves anything: _shift reads no further.
    levels = 0
    for offset in range(offset_coefs.shape[0]):
        for level in range(offset_coefs.shape[1]):
            if offset_coefs[offset, level] != 0:
                levels = max(levels, level + 1)
                if level <= depth:
                    outer[offset] = True
    nodes = 0
    accesses = 0
    for e in range(executed.shape[0]):
        for t in range(block_first[executed[e]], block_first[executed[e] + 1]):
            nodes += 1
            for o in range(templates[t, T_OPERANDS_FIRST], templates[t, T_WRITES_END]):
                if not outer[operand_offset[o]]:
                    accesses += operand_count[o]
    unit = np.empty(nodes, np.int64)
    latency = np.empty(nodes, np.int64)
    occupancy = np.empty(nodes, np.int64)
    read_time = np.empty(nodes, np.int64)
    access_template = np.empty(accesses, np.int64)
    access_location = np.empty(accesses, np.int64)
    access_write = np.empty(accesses, np.bool_)
    node = 0
    k = 0
    for e in range(executed.shape[0]):
        for t in range(block_first[executed[e]], block_first[executed[e] + 1]):
            instance = templates[t, T_INSTANCE_OFFSET]
            unit[node] = templates[t, T_UNIT]
            if outer[instance]:
                unit[node] = -1
            else:
                unit[node] += _shift(offset_coefs, instance, index, e, depth, levels)
            latency[node] = templates[t, T_LATENCY]
            occupancy[node] = templates[t, T_OCCUPANCY]
            read_time[node] = templates[t, T_READ_TIME]
            for o in range(templates[t, T_OPERANDS_FIRST], templates[t, T_WRITES_END]):
                offset = operand_offset[o]
                if outer[offset]:
                    continue
                base = operand_location[o] + _shift(offset_coefs, offset, index, e, depth, levels)
                for j in range(operand_count[o]):
                    access_template[k] = node
                    access_location[k] = base + j
                    access_write[k] = o >= templates[t, T_READS_END]
                    k += 1
            node += 1
    source, target, weight, distance = dependency_edges(
        unit, latency, occupancy, read_time, access_template, access_location, access_write
    )
    return maximum_cycle_ratio(nodes, source, target, weight, distance)


@njit(cache=True, inline="always")
def _shift(offset_coefs, offset, index, execution, depth, levels):
    """What the loop indices deeper than `depth` (and above `levels`) add to affine
    offset `offset`."""
    total = 0
    for level in range(depth + 1, levels):
        total += offset_coefs[offset, level] * index[execution, level]
    return total


@njit(cache=True)
def block_critical_cycles(
    columns,
    operand_location,
    operand_count,
    operand_affine,
    block_first,
    blocks,
    weight,
    iterations,
):
    """Per block of `blocks`, (W, K) of maximum_cycle_ratio on its block_edges, written to
    `weight` and `iterations` ((0, 0): no cycle): the blocks of a layer in one call, where
    a call per block cost more than its few dozen edges (the caller allocates the outputs,
    as analyzer/engine/packing_kernels.py says why)."""
    for i in range(blocks.shape[0]):
        lo, hi = block_first[blocks[i]], block_first[blocks[i] + 1]
        source, target, edge_weight, distance = block_edges(
            columns, operand_location, operand_count, operand_affine, lo, hi
        )
        weight[i], iterations[i] = maximum_cycle_ratio(
            hi - lo, source, target, edge_weight, distance
        )


@njit(cache=True)
def maximum_cycle_ratio(nodes, source, target, weight, distance):
    """(W, K) of a cycle of maximum ratio W/K; (0, 0) when the graph has no cycle. Every
    cycle must have a total distance of at least 1. Where _one_iteration_bound finds a
    cycle of one iteration that no cycle's ratio can exceed, that cycle; else, by
    Howard's policy iteration, of the final policy's cycles of maximum ratio, the one of
    smallest K."""
    found, bound = _one_iteration_bound(nodes, source, target, weight, distance)
    if found:
        return bound, 1
    return policy_iteration(nodes, source, target, weight, distance)


@njit(cache=True)
def policy_iteration(nodes, source, target, weight, distance):
    """maximum_cycle_ratio by Howard's policy iteration alone: (W, K) of the final
    policy's cycles of maximum ratio, the one of smallest K; (0, 0) without a cycle."""
    component = _strong_components(nodes, source, target)
    inside = component[source] == component[target]
    kept = np.nonzero(inside)[0]
    order = kept[_stable_order(source[kept])]
    out_first = np.zeros(nodes + 1, np.int64)
    for e in order:
        out_first[source[e] + 1] += 1
    for v in range(nodes):
        out_first[v + 1] += out_first[v]
    active = np.nonzero(out_first[1:] > out_first[:-1])[0]
    if active.shape[0] == 0:
        return 0, 0
    policy = np.full(nodes, -1, np.int64)
    for v in active:
        best = order[out_first[v]]
        for k in range(out_first[v] + 1, out_first[v + 1]):
            if weight[order[k]] > weight[best]:
                best = order[k]
        policy[v] = best
    ratio_p = np.zeros(nodes, np.int64)
    ratio_q = np.ones(nodes, np.int64)
    value = np.zeros(nodes, np.int64)
    state = np.zeros(nodes, np.int64)
    position = np.zeros(nodes, np.int64)
    path = np.empty(nodes, np.int64)
    while True:
        cycle_weight, cycle_distance = _evaluate_policy(
            active, policy, target, weight, distance, ratio_p, ratio_q, value, state, position, path
        )
        changed = False
        # First move to a successor whose cycle has a larger ratio ...
        for v in active:
            best, best_p, best_q = -1, 0, 1
            for k in range(out_first[v], out_first[v + 1]):
                e = order[k]
                if best < 0 or _greater(ratio_p[target[e]], ratio_q[target[e]], best_p, best_q):
                    best, best_p, best_q = e, ratio_p[target[e]], ratio_q[target[e]]
            if _greater(best_p, best_q, ratio_p[v], ratio_q[v]):
                policy[v] = best
                changed = True
        if changed:
            continue
        # ... then, among successors of the same ratio, to a larger value.
        for v in active:
            p, q = ratio_p[v], ratio_q[v]
            best = -1
            best_value = 0
            for k in range(out_first[v], out_first[v + 1]):
                e = order[k]
                u = target[e]
                if ratio_p[u] != p or ratio_q[u] != q:
                    continue
                candidate = q * weight[e] - p * distance[e] + value[u]
                if best < 0 or candidate > best_value:
                    best, best_value = e, candidate
            if best >= 0 and best_value > value[v]:
                policy[v] = best
                changed = True
        if not changed:
            return cycle_weight, cycle_distance


@njit(cache=True)
def _one_iteration_bound(nodes, source, target, weight, distance):
    """(True, M) when M bounds every cycle's ratio and a cycle of one iteration attains
    it, found without Howard's iterations; (False, 0) when this test cannot tell.

    Distance-0 edges run forward in program order (source < target; else the test gives
    up), so a potential p, each node's longest path over them from any node (0 where
    none ends), satisfies p(v) >= p(u) + w on each of them. Then M, the largest
    (w + p(u) - p(v)) / d over the other edges, bounds every cycle's ratio: around a
    cycle the potentials cancel, so W <= M x K. A distance-1 edge u -> v attaining M
    whose v lies on u's longest path (followed back from u, through at most `nodes`
    steps over all the edges tried) closes a cycle of weight M in one iteration. A
    systolic step's graph, where each PE's accumulator, unit instance or neighbour's
    register carries a one-cycle recurrence, is settled here in a pass over its edges,
    where Howard's iterations took most of its bound's time."""
    potential = np.zeros(nodes, np.int64)
    # The node before each on a longest path (p(v) = p(u) + w), -1 where none does.
    behind = np.full(nodes, -1, np.int64)
    order = _stable_order(source)
    for k in range(order.shape[0]):
        e = order[k]
        if distance[e] != 0:
            continue
        u, v = source[e], target[e]
        if u >= v:
            return False, 0
        reach = potential[u] + weight[e]
        if reach > potential[v] or reach == potential[v] and behind[v] < 0:
            potential[v] = reach
            behind[v] = u
    best_w, best_d = 0, 0
    for e in range(source.shape[0]):
        if distance[e] == 0:
            continue
        slack = weight[e] + potential[source[e]] - potential[target[e]]
        if best_d == 0 or slack * best_d > best_w * distance[e]:
            best_w, best_d = slack, distance[e]
    if best_d == 0 or best_w % best_d != 0:
        return False, 0  # no cycle, or none of one iteration can attain M
    best_w //= best_d
    budget = nodes
    for e in range(source.shape[0]):
        if distance[e] != 1:
            continue
        u, v = source[e], target[e]
        if weight[e] + potential[u] - potential[v] != best_w:
            continue
        while u > v and budget > 0:  # behind[u] < u, and -1 where a path starts
            u = behind[u]
            budget -= 1
        if u == v:
            return True, best_w
        if budget <= 0:
            return False, 0
    return False, 0


@njit(cache=True, inline="always")
def _greater(p1, q1, p2, q2):
    """p1/q1 > p2/q2 for q1, q2 > 0."""
    return p1 * q2 > p2 * q1


@njit(cache=True)
def _gcd(a, b):
    a, b = abs(a), abs(b)
    while b:
        a, b = b, a % b
    return a


@njit(cache=True)
def _evaluate_policy(
    active, policy, target, weight, distance, ratio_p, ratio_q, value, state, position, path
):
    """Ratio and value of every active node under `policy`; returns (W, K) of the best
    cycle of the policy graph (largest ratio, then smallest K)."""
    for v in active:
        state[v] = 0  # 0: not reached, 1: on the current path, 2: done
    best_weight, best_distance = 0, 0
    for start in active:
        if state[start] == 2:
            continue
        length = 0
        v = start
        while state[v] == 0:
            state[v] = 1
            position[v] = length
            path[length] = v
            length += 1
            v = target[policy[v]]
        if state[v] == 1:  # a new cycle of the policy graph, from v back to v
            cycle_weight = 0
            cycle_distance = 0
            for k in range(position[v], length):
                cycle_weight += weight[policy[path[k]]]
                cycle_distance += distance[policy[path[k]]]
            divisor = _gcd(cycle_weight, cycle_distance)
            p, q = cycle_weight // divisor, cycle_distance // divisor
            if (
                best_distance == 0
                or _greater(p, q, best_weight, best_distance)
                or (p * best_distance == q * best_weight and cycle_distance < best_distance)
            ):
                best_weight, best_distance = cycle_weight, cycle_distance
            # The cycle's value is taken relative to its smallest node, not to where the
            # search entered it: a cycle the last policy had keeps its values, which
            # Howard's termination needs (with the entry point, a graph of 18 nodes
            # made the iterations cycle forever).
            first = position[v]
            root = first
            for k in range(first + 1, length):
                if path[k] < path[root]:
                    root = k
            ratio_p[path[root]], ratio_q[path[root]], value[path[root]] = p, q, 0
            state[path[root]] = 2
            for k in range(root - 1, first - 1, -1):
                _settle(path[k], policy, target, weight, distance, ratio_p, ratio_q, value, state)
            for k in range(length - 1, root, -1):
                _settle(path[k], policy, target, weight, distance, ratio_p, ratio_q, value, state)
            length = first
        for k in range(length - 1, -1, -1):
            _settle(path[k], policy, target, weight, distance, ratio_p, ratio_q, value, state)
    return best_weight, best_distance


@njit(cache=True, inline="always")
def _settle(v, policy, target, weight, distance, ratio_p, ratio_q, value, state):
    """v takes its policy successor's ratio, and value w - ratio * d + the successor's."""
    e = policy[v]
    u = target[e]
    p, q = ratio_p[u], ratio_q[u]
    ratio_p[v], ratio_q[v] = p, q
    value[v] = q * weight[e] - p * distance[e] + value[u]
    state[v] = 2


@njit(cache=True)
def _strong_components(nodes, source, target):
    """Component number of every node (Tarjan's algorithm, iteratively)."""
    order = _stable_order(source)
    out_first = np.zeros(nodes + 1, np.int64)
    for e in range(source.shape[0]):
        out_first[source[e] + 1] += 1
    for v in range(nodes):
        out_first[v + 1] += out_first[v]
    index = np.full(nodes, -1, np.int64)
    low = np.zeros(nodes, np.int64)
    on_stack = np.zeros(nodes, np.bool_)
    stack = np.empty(nodes, np.int64)
    call_node = np.empty(nodes, np.int64)
    call_edge = np.empty(nodes, np.int64)
    component = np.full(nodes, -1, np.int64)
    components = 0
    counter = 0
    depth = 0
    for root in range(nodes):
        if index[root] >= 0:
            continue
        index[root] = low[root] = counter
        counter += 1
        stack[depth] = root
        depth += 1
        on_stack[root] = True
        top = 0
        call_node[0], call_edge[0] = root, out_first[root]
        while top >= 0:
            v = call_node[top]
            k = call_edge[top]
            if k < out_first[v + 1]:
                call_edge[top] = k + 1
                u = target[order[k]]
                if index[u] < 0:
                    index[u] = low[u] = counter
                    counter += 1
                    stack[depth] = u
                    depth += 1
                    on_stack[u] = True
                    top += 1
                    call_node[top], call_edge[top] = u, out_first[u]
                elif on_stack[u] and index[u] < low[v]:
                    low[v] = index[u]
                continue
            if low[v] == index[v]:
                while True:
                    depth -= 1
                    u = stack[depth]
                    on_stack[u] = False
                    component[u] = components
                    if u == v:
                        break
                components += 1
            top -= 1
            if top >= 0 and low[v] < low[call_node[top]]:
                low[call_node[top]] = low[v]
    return component


# The ones called from Python (analyzer/engine/recurrence.py, and tests).
load_compiled_code_directly(block_edges)
load_compiled_code_directly(block_critical_cycles)
load_compiled_code_directly(maximum_cycle_ratio)
load_compiled_code_directly(step_critical_cycle)
