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
and, last, column `simple`: 1 when every operand is one fixed location, the instance is
fixed and locations are not chunked (the kernel's hot path, analyzer/engine/kernels.py).

analyzer/engine/kernels.py reads the indices as plain int globals (T_<COLUMN>), which
Numba compiles in as constants.
"""

from __future__ import annotations

from operator import attrgetter

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


# Per field template_row fills: (name, kind, column), worked out once, not per template.
_ROW_FIELDS = tuple(
    (spec.name, spec.kind, COLUMN[spec.name if spec.kind in _VALUE_KINDS else f"{spec.name}_end"])
    for spec in TEMPLATE_FIELDS
    if spec.kind in _VALUE_KINDS or spec.kind is FieldKind.OPERANDS
)
# All those fields of a template in one call, and (kind, column) beside each.
_ROW_VALUES = attrgetter(*(name for name, _, _ in _ROW_FIELDS))
_ROW_KINDS = tuple((kind, column) for _, kind, column in _ROW_FIELDS)
_OPERANDS_FIRST = COLUMN["operands_first"]
_INSTANCE_OFFSET = COLUMN["instance_offset"]
_SIMPLE = COLUMN["simple"]


def template_row(
    template: Template,
    unit_first: dict[str, int],
    queue_index: dict[str, int],
    frontend_index: dict[str, int],
    operands_first: int,
    instance_offset: int,
    simple: bool,
) -> list[int]:
    """The kernel's row for `template`, whose operands start at `operands_first` of the
    operand table (every list of it, in field order) and whose instance moves with offset
    `instance_offset` of ProgramArrays.offset_coefs."""
    row = [0] * TEMPLATE_COLUMNS
    end = operands_first
    row[_OPERANDS_FIRST] = operands_first
    row[_INSTANCE_OFFSET] = instance_offset
    for (kind, column), value in zip(_ROW_KINDS, _ROW_VALUES(template), strict=True):
        if kind is FieldKind.UNIT:
            row[column] = unit_first[value] + template.instance
        elif kind is FieldKind.OPERANDS:
            end += len(value)
            row[column] = end
        elif kind is FieldKind.QUEUE:
            row[column] = -1 if value is None else queue_index[value]
        elif kind is FieldKind.FRONTEND:
            row[column] = 0 if value is None else frontend_index[value]
        else:  # CYCLES, FLAG
            row[column] = int(value)
    row[_SIMPLE] = int(simple)
    return row
