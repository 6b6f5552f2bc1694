"""Bugs in the bounds and their labels (analyzer/engine/bounds.py) and the recurrence."""

from __future__ import annotations

from scripts.bug_catalogue.common import (
    BOUND_TESTS,
    BOUNDS,
    PACKING_KERNELS,
    RECURRENCE_KERNELS,
    Bug,
)

_VERDICTS = "tests/test_verdicts.py::"
_LABELS = _VERDICTS + "test_bound_labels_worked_by_hand"
_SHARED = "tests/test_subtree_sharing.py"
# A kind after others in the packed layout (packing.unit_layout), whose first id is not 0.
_LAYOUT = (
    "tests/test_moving_instances.py::test_the_state_holds_only_the_instances_templates_can_name"
)
BOUND_BUGS = (
    Bug(
        "bounds.resource-halved",
        BOUNDS,
        "busy_cycles = int(net[busiest])",
        "busy_cycles = int(net[busiest]) // 2",
        "the resource bound is the busiest instance's whole occupancy",
        BOUND_TESTS,
    ),
    Bug(
        "bounds.overhang-not-subtracted",
        BOUNDS,
        "net = np.where(used, busy - overhang, np.iinfo(np.int64).min)",
        "net = np.where(used, busy, np.iinfo(np.int64).min)",
        "the last instruction may end before its occupancy runs out",
        (
            "tests/test_moving_instances.py::"
            "test_the_resource_bound_counts_each_instance_a_moving_template_reaches",
            *BOUND_TESTS,
        ),
    ),
    Bug(
        "bounds.executions-not-multiplied",
        PACKING_KERNELS,
        "current_runs *= trips[i]",
        "current_runs *= 1",
        "a block's usage counts once per execution",
        BOUND_TESTS,
    ),
    Bug(
        "bounds.frontend-floor",
        BOUNDS,
        "frontend = -(-count // spec.bundles_per_cycle) - 1 + spec.delay + min_latency",
        "frontend = count // spec.bundles_per_cycle - 1 + spec.delay + min_latency",
        "the front-end bound issues ceil(bundles / width) cycles",
        BOUND_TESTS,
    ),
    Bug(
        "bounds.issue-queues-not-counted",
        BOUNDS,
        "for column in (_QUEUE, _ISSUE_QUEUE):",
        "for column in (_QUEUE,):",
        "the queue bound counts issue queues (Gemmini OS's rs_* queues) too",
        BOUND_TESTS + ("tests/test_gemmini_os.py",),
    ),
    Bug(
        "bounds.unit-name-off-by-one",
        BOUNDS,
        "        if busiest >= first\n",
        "        if busiest > first\n",
        "the busiest instance is named by the unit kind it belongs to",
        BOUND_TESTS,
    ),
    Bug(
        "bounds.recurrence-counts-every-trip",
        BOUNDS,
        "bound = visits * ((node.trips - 1) // cycle.iterations) * cycle.weight",
        "bound = visits * (node.trips // cycle.iterations) * cycle.weight",
        "n iterations hold floor((n - 1) / K) turns of the critical cycle",
        BOUND_TESTS,
    ),
    Bug(
        "bounds.label-threshold-half",
        BOUNDS,
        "RESOURCE_BOUND_SHARE = 0.9",
        "RESOURCE_BOUND_SHARE = 0.5",
        "a layer is unit-bound at 90% of its cycles or more, else latency-bound",
        BOUND_TESTS,
    ),
    Bug(
        "bounds.carried-war-one-late",
        RECURRENCE_KERNELS,
        "                            weight[count] = read_time[reader] - latency[position]\n",
        "                            weight[count] = read_time[reader] - latency[position] + 1\n",
        "a carried WAR edge weighs the reader's read time minus the writer's latency",
        BOUND_TESTS,
    ),
    Bug(
        "bounds.unit-wraps-from-first",
        RECURRENCE_KERNELS,
        "weight[count], distance[count] = occupancy[last], 1",
        "weight[count], distance[count] = occupancy[by_unit[first]], 1",
        "a unit's carried edge runs from its last instruction, weighing that one's occupancy",
        BOUND_TESTS,
    ),
    Bug(
        "bounds.howard-ratio-switch-not-reevaluated",
        RECURRENCE_KERNELS,
        "                policy[v] = best\n                changed = True\n        if changed:",
        "                policy[v] = best\n                changed = False\n        if changed:",
        "a policy that switches to a better ratio is evaluated again (Howard)",
        (
            "tests/test_recurrence.py::"
            "test_howard_follows_a_better_ratio_to_a_cycle_its_first_policy_misses",
            *BOUND_TESTS,
        ),
    ),
    Bug(
        "bounds.howard-stops-at-equal-ratios",
        RECURRENCE_KERNELS,
        "        if changed:\n            continue\n",
        "        if changed or True:\n            return cycle_weight, cycle_distance\n",
        "policy iteration improves values among successors of equal ratio before it stops",
        BOUND_TESTS,
    ),
    Bug(
        "bounds.recurrence-never-named",
        BOUNDS,
        "if recurrence > self.busy_cycles:",
        "if recurrence > self.cycles:",
        "the recurrence names the bound when it exceeds the resource bound",
        BOUND_TESTS,
    ),
    Bug(
        "bounds.one-instance-kind-indexed",
        BOUNDS,
        "if self.instance is None or self.instances == 1:",
        "if self.instance is None and self.instances == 1:",
        "a kind of one instance is named without an index",
        (_LABELS, *BOUND_TESTS),
    ),
    Bug(
        "bounds.instance-numbered-across-kinds",
        BOUNDS,
        "instance: int | None = busiest - first",
        "instance: int | None = busiest + first",
        "the busiest instance is numbered within its kind",
        (_LABELS, _LAYOUT, *BOUND_TESTS),
    ),
    Bug(
        "bounds.queue-wins-ties",
        BOUNDS,
        "if held // entries > busy_cycles:",
        "if held // entries >= busy_cycles:",
        "a queue bound names the bound only when it exceeds the unit's",
        (_LABELS, *BOUND_TESTS),
    ),
    Bug(
        "bounds.frontend-delay-subtracted",
        BOUNDS,
        "- 1 + spec.delay + min_latency",
        "- 1 - spec.delay + min_latency",
        "the front-end bound adds the front-end delay",
        (_LABELS, *BOUND_TESTS),
    ),
    Bug(
        "bounds.frontend-latency-zero-as-one",
        BOUNDS,
        "+ spec.delay + min_latency\n",
        "+ spec.delay + (min_latency or 1)\n",
        "the front-end bound ends with the shortest latency, which may be 0",
        (_LABELS, *BOUND_TESTS),
    ),
    Bug(
        "bounds.frontend-longest-latency",
        BOUNDS,
        "np.minimum.at(self.min_latency, block, latency)",
        "np.maximum.at(self.min_latency, block, latency)",
        "the front-end bound ends with the shortest latency of every block in the layer",
        (_VERDICTS + "test_the_front_end_bound_ends_with_the_shortest_latency_of_the_layer",),
    ),
    Bug(
        "bounds.empty-layer-has-an-idle-instance",
        BOUNDS,
        "unused: int = 0  #",
        "unused: int = 1  #",
        "a layer that runs nothing names no idle instance",
        (_LABELS, *BOUND_TESTS),
    ),
    Bug(
        "bounds.recurrence-share-strict",
        BOUNDS,
        'kind = "recurrence-bound" if share >= RESOURCE_BOUND_SHARE',
        'kind = "recurrence-bound" if share > RESOURCE_BOUND_SHARE',
        "a recurrence of 90% of the cycles or more names the layer recurrence-bound",
        (_VERDICTS + "test_recurrence_labels_worked_by_hand", *BOUND_TESTS),
    ),
    Bug(
        "bounds.recurrence-wins-ties",
        BOUNDS,
        "if recurrence > self.busy_cycles:",
        "if recurrence >= self.busy_cycles:",
        "a recurrence that only ties the resource bound leaves the resource named",
        (
            _VERDICTS + "test_recurrence_ties_and_loops_without_a_turn_leave_the_resource_bound",
            _LABELS,
        ),
    ),
    Bug(
        "bounds.no-recurrence-counts-one",
        BOUNDS,
        "recurrence = self.recurrence_cycles or 0",
        "recurrence = self.recurrence_cycles or 1",
        "a layer without a recurrence bound (not computed) is labelled by its resources",
        (_LABELS, *BOUND_TESTS),
    ),
    Bug(
        "bounds.recurrence-loop-without-turns-named",
        BOUNDS,
        "if bound > best[1]:",
        "if bound >= best[1]:",
        "a loop whose visits hold no turn of its cycle is not named the recurrence",
        (
            _VERDICTS + "test_recurrence_ties_and_loops_without_a_turn_leave_the_resource_bound",
            *BOUND_TESTS,
        ),
    ),
    Bug(
        "bounds.templates-not-run-counted",
        BOUNDS,
        "    run = pair_runs > 0\n",
        "    run = pair_runs >= 0\n",
        "only the instructions a layer runs add an overhang or use an instance",
        (_SHARED + "::test_bounds_count_only_what_the_layer_runs", *BOUND_TESTS),
    ),
    Bug(
        "bounds.block-runs-shifted",
        PACKING_KERNELS,
        "block_runs[block_of_template[trips[i]]] += current_runs",
        "block_runs[block_of_template[trips[i] - 1]] += current_runs",
        "a BLOCK op runs its own block, not the one before it",
        (
            _SHARED + "::test_bounds_count_only_what_the_layer_runs",
            "tests/test_actions.py",
            *BOUND_TESTS,
        ),
    ),
)
