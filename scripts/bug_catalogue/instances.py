"""Seeded bugs in moving unit instances (Template.instance_coefs, docs/design.md §2.2):
the kernel's unit id, the offsets that move it, the packing decisions that keep fast mode
away from a loop moving its instances, the checks, the bounds and the trace."""

from __future__ import annotations

from scripts.bug_catalogue.common import (
    BOUNDS,
    EXACT,
    KERNELS,
    LOOP_KERNELS,
    PACKING,
    RECURRENCE_KERNELS,
    TRACE_IO,
    TRANSLATED_PERIODS,
    VALIDATION,
    Bug,
)

MOVING = "tests/test_moving_instances.py"
# Hand-worked first, then the random programs (which move instances with strided loops).
MOVING_RULES = (
    MOVING,
    EXACT + "test_random_programs_full_equals_an_independent_reference",
    EXACT + "test_random_programs_fast_equals_full",
)

INSTANCE_BUGS = (
    Bug(
        "instances.kernel-ignores-the-offset",
        KERNELS,
        "unit += moved_by",
        "unit += 0",
        "a moving template runs on its base instance plus its coefficients times the indices",
        MOVING_RULES,
    ),
    Bug(
        "instances.offsets-not-stepped",
        LOOP_KERNELS,
        "k = templates[i, T_INSTANCE_OFFSET]",
        "k = 0",
        "the loops step the offsets of the instances below them, as of the operands",
        MOVING_RULES,
    ),
    Bug(
        "instances.hot-path-without-the-moving-operands",
        KERNELS,
        "loc = o_location[a] + offset[np.uint64(o_offset[a])]",
        "loc = o_location[a]",
        "an operand of one location moves with the loop indices on the hot path too",
        MOVING_RULES,
    ),
    Bug(
        "instances.hot-path-for-a-wide-operand",
        PACKING,
        "templates[:, T_SIMPLE] = np.where(ranges[ends] == ranges[starts], kind, 0)",
        "templates[:, T_SIMPLE] = kind",
        "the hot paths take one location per operand: only for operands of one location",
        (*MOVING_RULES, "tests/test_fidelity_scalesim.py::test_cycles_match_scalesim"),
    ),
    Bug(
        "instances.loop-moving-its-instances-skippable",
        PACKING,
        "mask |= _per_block(np.bitwise_or, instance_bits, first, end)",
        "pass",
        "a loop whose index moves an instance below it is index-dependent: never skipped whole",
        MOVING_RULES,
    ),
    Bug(
        "instances.translated-despite-moving-instances",
        TRANSLATED_PERIODS,
        "if program.offset_coefs[program.templates[i, T_INSTANCE_OFFSET], depth] != 0:",
        "if False:",
        "a loop moving its instances compares its machine in place: it must not translate",
        (MOVING, EXACT + "test_random_programs_fast_equals_full"),
    ),
    Bug(
        "instances.range-one-past-the-end",
        VALIDATION,
        "if low < 0 or high >= program.units[t.unit]:",
        "if low < 0 or high > program.units[t.unit]:",
        "every instance a moving template reaches exists",
        (MOVING,),
    ),
    Bug(
        "instances.range-ignores-a-loop-not-around-it",
        VALIDATION,
        "if any(t.instance_coefs[len(trips) :]):",
        "if False:",
        "a moving instance names only loops it is in",
        (MOVING,),
    ),
    Bug(
        "instances.layout-one-short",
        PACKING,
        "unit_count[name] = declared if name in moving else highest[name] + 1",
        "unit_count[name] = declared if name in moving else highest[name]",
        "a kind's state holds every instance up to the highest fixed one its templates name",
        MOVING_RULES,
    ),
    Bug(
        "instances.layout-truncates-a-moving-kind",
        PACKING,
        "            moving.add(template.unit)\n",
        "            pass\n",
        "a kind some template moves keeps every declared instance: its reach depends on trips",
        MOVING_RULES,
    ),
    Bug(
        "instances.bound-unused-counts-the-next-kind",
        BOUNDS,
        "int(instances - used[first : first + held].sum())",
        "int(instances - used[first : first + instances].sum())",
        "a kind's unused instances are counted within the instances its state holds",
        (MOVING,),
    ),
    Bug(
        "instances.bound-counts-the-base-instance",
        BOUNDS,
        "fixed = ~blocks.arrays.offset_coefs.any(axis=1)[rows[:, _INSTANCE_OFFSET]]",
        "fixed = np.ones(len(rows), dtype=np.bool_)",
        "a moving template's occupancy is spread over the instances it reaches",
        (MOVING, EXACT + "test_random_programs_fast_equals_full"),
    ),
    Bug(
        "instances.bound-places-only-a-block-s-first-mover",
        BOUNDS,
        "tuple(t for t in block.templates if any(t.instance_coefs)) for block in program.blocks",
        "tuple(t for t in block.templates[:1] if any(t.instance_coefs))"
        " for block in program.blocks",
        "every template of a block whose instance moves is placed on the instances it reaches",
        (MOVING + "::test_the_resource_bound_counts_each_instance_a_moving_template_reaches",),
    ),
    Bug(
        "instances.recurrence-keeps-moving-unit-edges",
        RECURRENCE_KERNELS,
        "while first < templates and unit[by_unit[first]] < 0:",
        "while False:",
        "a moving instance has no unit cycle in the recurrence",
        (MOVING, "tests/test_recurrence.py"),
    ),
    Bug(
        "instances.trace-lists-the-base-instance",
        TRACE_IO,
        'moving["instance"] = [t.instance_at(index) for t in block.templates]',
        'moving["instance"] = [t.instance for t in block.templates]',
        "instructions.arrow lists the instance each execution runs on",
        (MOVING,),
    ),
)
