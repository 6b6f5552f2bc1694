"""Structural checks on a Program, the preconditions of the analyzer's kernels.

The kernels index their state arrays without bounds checks, so every program that
reaches them (lowered here, read from a trace, or built by hand) passes through
`check_program` first. A ProgramError names the first defect found.
"""

from __future__ import annotations

from itertools import chain
from operator import attrgetter

import numpy as np

from isa.program import (
    ACCESSES,
    MAC_ACTION,
    MAX_DEPTH,
    MEMORY_KINDS,
    TEMPLATE_FIELDS,
    BlockRef,
    Datapath,
    FieldKind,
    Frontend,
    LayerProgram,
    Loop,
    Memory,
    Operand,
    Program,
    Template,
    memory_action,
)

# Limits that keep every time, count and allocation well inside int64 and memory.
MAX_INSTRUCTIONS = 1 << 56  # per layer
MAX_SIZE = 1 << 26  # instances of a unit kind, locations of a space
MAX_CYCLES_PER_INSTRUCTION = 1 << 20  # latency, occupancy, read time
MAX_FRONTEND = 1 << 20  # bundles per cycle, window, front-end delay, queue entries


class ProgramError(ValueError):
    """A program the analyzer must not evaluate."""


def _is_count(value: object, low: int, high: int) -> bool:
    # `type(...) is int` first: the common case, and much cheaper than two isinstance calls
    # (check_program calls this millions of times at 512x512).
    is_int = type(value) is int or (isinstance(value, int) and not isinstance(value, bool))
    return is_int and low <= value <= high


def _require_counts(where: str, checks: tuple[tuple[str, object, int], ...], high: int) -> None:
    """Each (name, value, low) must be an integer in low..high."""
    for name, value, low in checks:
        if not _is_count(value, low, high):
            raise ProgramError(f"{where}{name} is {value!r}; need {low}..{high}")


def check_program(program: Program) -> None:
    if not isinstance(program.queues, dict):
        raise ProgramError("queues must be a mapping of name to entries")
    for name, entries in program.queues.items():
        if not _is_count(entries, 1, MAX_FRONTEND):
            raise ProgramError(f"queue {name!r} has {entries!r} entries; need 1..{MAX_FRONTEND}")
    for kind, sizes in (("unit", program.units), ("address space", program.spaces)):
        if not isinstance(sizes, dict) or not sizes:
            raise ProgramError(f"{kind} sizes must be a non-empty mapping")
        for name, size in sizes.items():
            if not _is_count(size, 1, MAX_SIZE):
                raise ProgramError(f"{kind} {name!r} has size {size!r}; need 1..{MAX_SIZE}")
    if not isinstance(program.frontends, dict):
        raise ProgramError("frontends must be a mapping of name to front end")
    for name, frontend in (("", None), *program.frontends.items()):
        if frontend is None:  # the default front end, the program's own fields
            frontend = program.frontend_list()[0]
        elif not isinstance(frontend, Frontend):
            raise ProgramError(f"front end {name!r} is {frontend!r}, not a Frontend")
        _require_counts(
            f"front end {name!r}: " if name else "",
            (
                ("bundles_per_cycle", frontend.bundles_per_cycle, 1),
                ("window_bundles", frontend.window_bundles, 1),
                ("frontend delay", frontend.delay, 0),
            ),
            MAX_FRONTEND,
        )
    _check_memories(program)
    actions = _action_names(program)
    templates = [t for block in program.blocks for t in block.templates]
    if not _templates_certainly_valid(templates, program, actions):
        # Template by template, to name the first defect (or to accept what the column
        # pass could not vouch for, such as an int subclass).
        operands_checked: set[int] = set()
        for block_id, block in enumerate(program.blocks):
            for position, template in enumerate(block.templates):
                where = _Where(block.name, block_id, position)
                _check_template(template, program, where, operands_checked)
                _check_actions(template.actions, actions, where)
    # A block's operands whose address moves with the loops, and its templates whose unit
    # instance does, checked per enclosing trips.
    affine = [
        (
            tuple(o for t in block.templates for o in t.operands() if any(o.coefs)),
            tuple(t for t in block.templates if any(t.instance_coefs)),
        )
        for block in program.blocks
    ]
    # Shared by the layers: lowerings make equal subtrees one object (isa/sharing.py),
    # and a subtree under the same enclosing trips checks the same wherever it recurs.
    walked: dict[tuple[int, tuple[int, ...]], int] = {}
    for layer in program.layers:
        _check_layer(layer, program, affine, walked)
    _check_host_layers(program)


def _check_host_layers(program: Program) -> None:
    total = len(program.layers) + len(program.host_layers)
    positions = set()
    names = {layer.name for layer in program.layers}
    for host in program.host_layers:
        where = f"host layer {host.name!r}: "
        _require_counts(where, (("position", host.position, 0),), total - 1)
        _require_counts(where, (("operations", host.operations, 0),), MAX_INSTRUCTIONS)
        if host.placement not in ("host", "fused"):
            raise ProgramError(f"{where}placement {host.placement!r} is not host or fused")
        if host.position in positions or host.name in names:
            raise ProgramError(f"{where}its position or name is taken by another layer")
        positions.add(host.position)
        names.add(host.name)


def _fields_of(kind: FieldKind) -> tuple[str, ...]:
    return tuple(spec.name for spec in TEMPLATE_FIELDS if spec.kind is kind)


# Template fields by kind, which decides their check (operands: below, per operand).
_UNITS, _CYCLES, _FLAGS, _QUEUES, _FRONTENDS = (
    _fields_of(kind)
    for kind in (
        FieldKind.UNIT,
        FieldKind.CYCLES,
        FieldKind.FLAG,
        FieldKind.QUEUE,
        FieldKind.FRONTEND,
    )
)


class _Where:
    """A template's place, rendered only when an error names it (check_program visits
    every template, and formatting each place up front costs more than checking it)."""

    __slots__ = ("block", "block_id", "position")

    def __init__(self, block: str, block_id: int, position: int) -> None:
        self.block, self.block_id, self.position = block, block_id, position

    def __str__(self) -> str:
        return f"block {self.block!r} ({self.block_id}) #{self.position}"


_UNIT_OF, _INSTANCE_OF = attrgetter("unit"), attrgetter("instance")
_INSTANCE_COEFS_OF, _ACTIONS_OF = attrgetter("instance_coefs"), attrgetter("actions")
_SPACE_OF, _COEFS_OF = attrgetter("space"), attrgetter("coefs")
_COUNT_OF, _BASE_OF = attrgetter("count"), attrgetter("base")


def _check_template(
    t: Template, program: Program, where: _Where, operands_checked: set[int]
) -> None:
    """Every field by its kind (isa.program.FieldKind), then the rules between fields;
    operands whose id is in `operands_checked` passed before (it gains the others)."""
    for name in _UNITS:
        unit = getattr(t, name)
        if unit not in program.units:
            raise ProgramError(f"{where}: unit {unit!r} does not exist")
        coefs = t.instance_coefs
        if not isinstance(coefs, tuple) or len(coefs) > MAX_DEPTH:
            raise ProgramError(f"{where}: instance_coefs must be a tuple of at most {MAX_DEPTH}")
        if coefs and not all(_is_count(c, -MAX_SIZE, MAX_SIZE) for c in coefs):
            raise ProgramError(f"{where}: instance_coefs {coefs!r} has a bad one")
        # A moving instance is checked under its loops' trips (_check_affine).
        high = program.units[unit] - 1 if not (coefs and any(coefs)) else MAX_SIZE
        if not _is_count(t.instance, 0, high):
            raise ProgramError(f"{where}: unit {unit}[{t.instance}] does not exist")
    for name in _CYCLES:
        value = getattr(t, name)
        if not _is_count(value, 0, MAX_CYCLES_PER_INSTRUCTION):
            raise ProgramError(
                f"{where}: {name} is {value!r}; need 0..{MAX_CYCLES_PER_INSTRUCTION}"
            )
    for name in _FLAGS:
        if not isinstance(getattr(t, name), bool):
            raise ProgramError(f"{where}: {name} must be true or false")
    for name in _FRONTENDS:
        frontend = getattr(t, name)
        if frontend is not None and frontend not in program.frontends:
            raise ProgramError(f"{where}: front end {frontend!r} does not exist")
    for name in _QUEUES:
        queue = getattr(t, name)
        if queue is not None and queue not in program.queues:
            raise ProgramError(f"{where}: {name.replace('_', ' ')} {queue!r} does not exist")
    if t.frontend is not None and not t.bundle_start:
        raise ProgramError(f"{where}: a front end is named by the bundle's first instruction")
    if t.issue_queue is not None:
        if t.issue_queue == t.queue:
            raise ProgramError(f"{where}: queue {t.queue!r} cannot also be its issue queue")
        if not t.bundle_start:
            raise ProgramError(f"{where}: an issue queue needs the bundle's first instruction")
    for operand in t.operands():
        if id(operand) not in operands_checked:
            _check_operand(operand, program, where)
            operands_checked.add(id(operand))


def _check_operand(operand: Operand, program: Program, where: object) -> None:
    if operand.space not in program.spaces:
        raise ProgramError(f"{where}: address space {operand.space!r} does not exist")
    if not _is_count(operand.count, 1, MAX_SIZE) or len(operand.coefs) > MAX_DEPTH:
        raise ProgramError(f"{where}: operand {operand.render()} is malformed")
    if not all(_is_count(c, -MAX_SIZE, MAX_SIZE) for c in operand.coefs):
        raise ProgramError(f"{where}: operand {operand.render()} has a bad coefficient")
    if not any(operand.coefs) and (
        not _is_count(operand.base, 0, MAX_SIZE)
        or operand.base + operand.count > program.spaces[operand.space]
    ):
        raise ProgramError(
            f"{where}: operand {operand.render()} leaves space {operand.space!r} of "
            f"{program.spaces[operand.space]} locations"
        )


def _moving(coefs: list[tuple[int, ...]]) -> np.ndarray | None:
    """Per coefficient tuple (an operand's or a unit instance's), whether it moves with
    the loops; None when some tuple is malformed (not a tuple, too long, an item out of
    range or not an exact int). Each distinct tuple is checked once."""
    # Exact ints only: a set keeps one of (1,) and (True,), which compare equal.
    if not set(map(type, chain.from_iterable(coefs))) <= {int}:
        return None
    moves: dict[object, bool] = {}
    for c in set(coefs):
        if not isinstance(c, tuple) or len(c) > MAX_DEPTH:
            return None
        if not all(_is_count(x, -MAX_SIZE, MAX_SIZE) for x in c):
            return None
        moves[c] = any(c)
    return np.fromiter(map(moves.__getitem__, coefs), dtype=np.bool_, count=len(coefs))


def _operands_certainly_valid(operands: list[Operand], program: Program) -> bool:
    """True when every operand passes _check_operand, found column by column (raises
    TypeError or ValueError on some malformed ones: the caller takes those as False)."""
    spaces = list(map(_SPACE_OF, operands))
    if not set(spaces) <= program.spaces.keys():
        return False
    moving = _moving(list(map(_COEFS_OF, operands)))
    if moving is None:
        return False
    counts, bases = list(map(_COUNT_OF, operands)), list(map(_BASE_OF, operands))
    if not set(map(type, counts)) | set(map(type, bases)) <= {int}:
        return False
    count = np.array(counts, dtype=np.int64)
    base = np.array(bases, dtype=np.int64)
    size = np.fromiter(map(program.spaces.__getitem__, spaces), dtype=np.int64, count=len(spaces))
    fixed = ~moving
    if ((count < 1) | (count > MAX_SIZE)).any():
        return False
    base, count, size = base[fixed], count[fixed], size[fixed]
    return not ((base < 0) | (base > MAX_SIZE) | (base + count > size)).any()


def _templates_certainly_valid(
    templates: list[Template], program: Program, known_actions: frozenset[str]
) -> bool:
    """True when every template passes _check_template and _check_actions, found column by
    column: each field's distinct values checked once, the instances and cycles as
    integer arrays, each distinct operand and action tuple object once. False when some
    template may fail: check_program then walks them one by one, which also names the
    defect. (At 512x512 the one-by-one walk of 524,801 templates took 2 of the 5 seconds
    of lowering.)"""
    try:
        units = list(map(_UNIT_OF, templates))
        if not set(units) <= program.units.keys():
            return False
        moving = _moving(list(map(_INSTANCE_COEFS_OF, templates)))
        if moving is None:
            return False
        instances = list(map(_INSTANCE_OF, templates))
        if not set(map(type, instances)) <= {int}:
            return False
        unit_ids = {name: k for k, name in enumerate(program.units)}
        sizes = np.array(list(program.units.values()), dtype=np.int64)
        instance = np.array(instances, dtype=np.int64)
        unit = np.fromiter(map(unit_ids.__getitem__, units), dtype=np.int64, count=len(units))
        # A moving instance is checked under its loops' trips (_check_affine).
        high = np.where(moving, MAX_SIZE, sizes[unit] - 1)
        if instance.size and ((instance < 0).any() or (instance > high).any()):
            return False
        for name in _CYCLES:
            values = list(map(attrgetter(name), templates))
            if not set(map(type, values)) <= {int}:
                return False
            if not 0 <= min(values) <= max(values) <= MAX_CYCLES_PER_INSTRUCTION:
                return False
        for name in _FLAGS:
            if not set(map(type, map(attrgetter(name), templates))) <= {bool}:
                return False
        for names, known in ((_FRONTENDS, program.frontends), (_QUEUES, program.queues)):
            for name in names:
                if not set(map(attrgetter(name), templates)) <= {None, *known}:
                    return False
        for t in templates:
            if (t.frontend is not None or t.issue_queue is not None) and not t.bundle_start:
                return False
            if t.issue_queue is not None and t.issue_queue == t.queue:
                return False
        # Each distinct object once: a register is named by its writer and its readers.
        operands = list(chain.from_iterable(map(Template.operands, templates)))
        distinct = list(dict(zip(map(id, operands), operands, strict=True)).values())
        if not _operands_certainly_valid(distinct, program):
            return False
        actions = {id(a): a for a in map(_ACTIONS_OF, templates)}
        for pairs in actions.values():
            _check_actions(pairs, known_actions, "")
    except (ProgramError, LookupError, TypeError, ValueError, OverflowError):
        return False
    return True


def _check_memories(program: Program) -> None:
    if not isinstance(program.memories, dict):
        raise ProgramError("memories must be a mapping of name to Memory")
    for name, memory in program.memories.items():
        if not isinstance(memory, Memory) or memory.kind not in MEMORY_KINDS:
            raise ProgramError(f"memory {name!r} must be a Memory of kind {MEMORY_KINDS}")
        if not isinstance(name, str) or not name or "." in name:
            raise ProgramError(f"memory name {name!r} must be a non-empty name without '.'")
        _require_counts(
            f"memory {name!r}: ",
            (("word_bytes", memory.word_bytes, 1), ("capacity_bytes", memory.capacity_bytes, 0)),
            MAX_INSTRUCTIONS,
        )
    datapath = program.datapath
    if datapath is not None:
        if not isinstance(datapath, Datapath):
            raise ProgramError(f"datapath {datapath!r} is not a Datapath")
        _require_counts(
            "datapath: ",
            (
                ("operand_bits", datapath.operand_bits, 1),
                ("accumulator_bits", datapath.accumulator_bits, 1),
            ),
            1024,
        )


def _action_names(program: Program) -> frozenset[str]:
    """The actions a template of `program` may name: MACs, and access to its memories."""
    return frozenset(
        [MAC_ACTION]
        + [memory_action(memory, access) for memory in program.memories for access in ACCESSES]
    )


def _check_actions(actions: object, known: frozenset[str], where: object) -> None:
    if not isinstance(actions, tuple):
        raise ProgramError(f"{where}: actions must be a tuple of (action, amount) pairs")
    seen = set()
    for pair in actions:
        if not isinstance(pair, tuple) or len(pair) != 2:
            raise ProgramError(f"{where}: action {pair!r} is not an (action, amount) pair")
        action, amount = pair
        if action not in known:
            raise ProgramError(
                f"{where}: action {action!r} is none of the program's ({', '.join(sorted(known))})"
            )
        if action in seen:
            raise ProgramError(f"{where}: action {action!r} is given twice")
        seen.add(action)
        _require_counts(f"{where}: action {action!r} ", (("amount", amount, 0),), MAX_SIZE)


def _check_layer(
    layer: LayerProgram,
    program: Program,
    affine: list[tuple[tuple[Operand, ...], tuple[Template, ...]]],
    walked: dict[tuple[int, tuple[int, ...]], int],
) -> None:
    """Loop structure, instruction count, and every address an affine operand can form.
    `walked`: the instructions of each (loop's id, enclosing trips) checked already, in
    this layer or an earlier one of the program; the program holds every node it names,
    so no id is taken by another node while the check runs."""
    where = f"layer {layer.name!r}"
    blocks = program.blocks

    # A block recurs under the same loops many times (e.g. in every Gemmini tile of a
    # shape): check its addresses once per enclosing trips.
    checked: set[tuple[int, tuple[int, ...]]] = set()

    def walk(node: Loop | BlockRef, trips: tuple[int, ...]) -> int:
        """Instructions one execution of `node` issues."""
        if isinstance(node, BlockRef):
            if not _is_count(node.block, 0, len(blocks) - 1):
                raise ProgramError(f"{where}: block {node.block!r} does not exist")
            block = blocks[node.block]
            if not block.templates:
                raise ProgramError(f"{where}: block {block.name!r} has no instructions")
            if (node.block, trips) not in checked:
                _check_affine(*affine[node.block], trips, program, where)
                checked.add((node.block, trips))
            return len(block.templates)
        key = (id(node), trips)
        total = walked.get(key)
        if total is not None:
            return total
        if len(trips) >= MAX_DEPTH:
            raise ProgramError(f"{where}: loops nest deeper than {MAX_DEPTH}")
        if not node.body:
            raise ProgramError(f"{where}: loop {node.name!r} has an empty body")
        if not _is_count(node.trips, 0, MAX_INSTRUCTIONS):
            raise ProgramError(
                f"{where}: loop {node.name!r} has {node.trips!r} trips; the analyzer takes "
                f"0..{MAX_INSTRUCTIONS:,} (more instructions than it can count)"
            )
        total = node.trips * sum(walk(child, trips + (node.trips,)) for child in node.body)
        if total > MAX_INSTRUCTIONS:
            raise ProgramError(f"{where}: more than {MAX_INSTRUCTIONS:,} instructions")
        walked[key] = total
        return total

    if not isinstance(layer.root, Loop):
        raise ProgramError(f"{where}: the root must be a loop")
    walk(layer.root, ())


def _affine_range(base: int, coefs: tuple[int, ...], trips: tuple[int, ...]) -> tuple[int, int]:
    """The lowest and highest of base + coefs . index over the loops of `trips`."""
    low = high = base
    for coef, n in zip(coefs, trips, strict=False):
        span = coef * max(n - 1, 0)
        low += min(0, span)
        high += max(0, span)
    return low, high


def _check_affine(
    operands: tuple[Operand, ...],
    moving: tuple[Template, ...],
    trips: tuple[int, ...],
    program: Program,
    where: str,
) -> None:
    """Every address the affine `operands` and every unit instance the `moving` templates
    form under loops of `trips` (the fixed ones are checked once per block in
    _check_template)."""
    for t in moving:
        if any(t.instance_coefs[len(trips) :]):
            raise ProgramError(f"{where}: unit {t.unit}'s instance uses a loop it is not in")
        low, high = _affine_range(t.instance, t.instance_coefs, trips)
        if low < 0 or high >= program.units[t.unit]:
            raise ProgramError(
                f"{where}: unit {t.unit}'s instance runs over {low}..{high}; the unit has "
                f"{program.units[t.unit]} instances"
            )
    for operand in operands:
        if any(operand.coefs[len(trips) :]):
            raise ProgramError(f"{where}: operand {operand.render()} uses a loop it is not in")
        low, high = _affine_range(operand.base, operand.coefs, trips)
        if low < 0 or high + operand.count > program.spaces[operand.space]:
            raise ProgramError(
                f"{where}: operand {operand.render()} leaves space {operand.space!r} of "
                f"{program.spaces[operand.space]} locations"
            )
