"""The kernel's template row: one int64 row per instruction template, its columns derived
from the template table (isa.program.TEMPLATE_FIELDS) by each field's kind.

    UNIT       column <name>: the unit instance's global id (unit kind's offset + instance)
    INSTANCE   none: folded into the unit's column
    INSTANCE_COEFS  column instance_offset: the affine offset (ProgramArrays.offset_coefs)
               the kernel adds to the unit's column, a zero one for a fixed instance
    TEXT       none: the kernel never reads names
    CYCLES     column <name>: the value
    FLAG       column <name>: 0 or 1
    OPERANDS   column <name>_end: where the list ends in the operand table; the lists are
               consecutive in field order, so the first one also opens column
               operands_first
    QUEUE      column <name>: the queue's index, -1 for none
    FRONTEND   column <name>: the front end's index (Program.frontend_list), 0 the default
and, last, column `simple`: 1 when every operand is one location (fixed or moving with
the loops) and the program keeps no runs, so no chunks (the kernel's hot path,
analyzer/engine/kernels.py).

analyzer/engine/kernels.py reads the indices as plain int globals (T_<COLUMN>), which
Numba compiles in as constants.
"""

from __future__ import annotations

from collections.abc import Sequence
from operator import attrgetter

import numpy as np

from isa.program import TEMPLATE_FIELDS, FieldKind, Template

_VALUE_KINDS = (
    FieldKind.UNIT,
    FieldKind.CYCLES,
    FieldKind.FLAG,
    FieldKind.QUEUE,
    FieldKind.FRONTEND,
)


def _column_names() -> tuple[str, ...]:
    names: list[str] = []
    for spec in TEMPLATE_FIELDS:
        if spec.kind in _VALUE_KINDS:
            names.append(spec.name)
        elif spec.kind is FieldKind.OPERANDS:
            if "operands_first" not in names:
                names.append("operands_first")
            names.append(f"{spec.name}_end")
        elif spec.kind is FieldKind.INSTANCE_COEFS:
            names.append("instance_offset")
    names.append("simple")
    return tuple(names)


COLUMN_NAMES = _column_names()
COLUMN = {name: index for index, name in enumerate(COLUMN_NAMES)}
# Row width: a power of two makes the row offset a shift (measured faster), so the row is
# padded past the columns it uses.
TEMPLATE_COLUMNS = 1 << (len(COLUMN_NAMES) - 1).bit_length()

# The columns as plain ints, so Numba compiles them in as constants. Operands of a template: reads
# [T_OPERANDS_FIRST, T_READS_END), writes up to T_WRITES_END, then marks set at start +
# read time up to T_READ_MARKS_END and marks set at the end up to T_MARKS_END. T_QUEUE is
# the queue or -1; T_ISSUE_QUEUE the queue whose full state holds up issue (of this and
# every later bundle), or -1.
T_UNIT = COLUMN["unit"]
T_LATENCY = COLUMN["latency"]
T_OCCUPANCY = COLUMN["occupancy"]
T_READ_TIME = COLUMN["read_time"]
T_BUNDLE_START = COLUMN["bundle_start"]
T_QUEUE = COLUMN["queue"]
T_ISSUE_QUEUE = COLUMN["issue_queue"]
T_FRONTEND = COLUMN["frontend"]
T_OPERANDS_FIRST = COLUMN["operands_first"]
T_READS_END = COLUMN["reads_end"]
T_WRITES_END = COLUMN["writes_end"]
T_READ_MARKS_END = COLUMN["read_marks_end"]
T_MARKS_END = COLUMN["marks_end"]
T_INSTANCE_OFFSET = COLUMN["instance_offset"]
T_SIMPLE = COLUMN["simple"]


# Per field template_rows fills: (name, kind, column), worked out once.
_ROW_FIELDS = tuple(
    (spec.name, spec.kind, COLUMN[spec.name if spec.kind in _VALUE_KINDS else f"{spec.name}_end"])
    for spec in TEMPLATE_FIELDS
    if spec.kind in _VALUE_KINDS or spec.kind is FieldKind.OPERANDS
)
_INSTANCES = attrgetter("instance")
_OPERANDS_FIRST = COLUMN["operands_first"]
_INSTANCE_OFFSET = COLUMN["instance_offset"]


def template_rows(
    templates: Sequence[Template],
    unit_first: dict[str, int],
    queue_index: dict[str, int],
    frontend_index: dict[str, int],
    instance_offsets: Sequence[int],
) -> np.ndarray:
    """The kernel's rows for `templates`, a column at a time: their operands one after
    another in the operand table (every list of a template, in field order), template k's
    instance moving with offset `instance_offsets[k]` of ProgramArrays.offset_coefs. The
    `simple` column is left 0 for the caller, which knows whether locations are chunked."""
    n = len(templates)
    rows = np.zeros((n, TEMPLATE_COLUMNS), dtype=np.int64)
    rows[:, _INSTANCE_OFFSET] = instance_offsets
    ends = np.zeros(n, dtype=np.int64)  # each template's operands so far, then all of them
    for name, kind, column in _ROW_FIELDS:
        values = list(map(attrgetter(name), templates))
        if kind is FieldKind.UNIT:
            instances = map(_INSTANCES, templates)
            rows[:, column] = [unit_first[v] + i for v, i in zip(values, instances, strict=True)]
        elif kind is FieldKind.OPERANDS:
            ends += np.fromiter(map(len, values), dtype=np.int64, count=n)
            rows[:, column] = ends  # relative to the template's first operand, below
        elif kind is FieldKind.QUEUE:
            rows[:, column] = [-1 if v is None else queue_index[v] for v in values]
        elif kind is FieldKind.FRONTEND:
            rows[:, column] = [0 if v is None else frontend_index[v] for v in values]
        else:  # CYCLES, FLAG
            rows[:, column] = np.fromiter(values, dtype=np.int64, count=n)
    first = np.cumsum(ends) - ends
    rows[:, _OPERANDS_FIRST] = first
    for _, kind, column in _ROW_FIELDS:
        if kind is FieldKind.OPERANDS:
            rows[:, column] += first
    return rows
