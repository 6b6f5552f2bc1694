"""Energy per action: a table per program, with a source for every default (docs/energy.md).

A layer's energy is the sum over its actions (analyzer/actions.py) of count x energy per
action: picojoules per MAC, and per byte read or written for each memory of the program.
The defaults come from one published table, so that they are comparable with each other:
Horowitz, "Computing's energy problem (and what we can do about it)", ISSCC 2014, its
table of energy per operation and per access at 45 nm and 0.9 V (the figures and how they
compare with Accelergy's, Timeloop's and ZigZag's defaults: docs/research/energy-sources.md).
A user's TOML file (`analyze --energy FILE`) replaces any of them.
"""

from __future__ import annotations

import math
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from analyzer.actions import LayerActions
from isa.program import ACCESSES, MAC_ACTION, Datapath, Program, memory_action
from tracer.errors import UserInputError

HOROWITZ = "Horowitz, ISSCC 2014, energy table (45 nm, 0.9 V)"
# Integer multiply and add, pJ per operation at 8 and 32 bits.
_MULTIPLY_PJ = {8: 0.2, 32: 3.1}
_ADD_PJ = {8: 0.03, 32: 0.1}
# On-chip SRAM (the figure's cache), pJ per 64-bit access by capacity in bytes.
_SRAM_64BIT_PJ = {8 * 1024: 10.0, 32 * 1024: 20.0, 1024 * 1024: 100.0}
# DRAM, pJ per 64-bit access: the figure gives 1.3 to 2.6 nJ; the low end is taken, so
# that a layer's DRAM share is, if anything, understated.
_DRAM_64BIT_PJ = 1300.0
# When a program names no widths (a hand-built one): the widths of an int8 array with
# int32 accumulators, which every built-in description but UltraTrail has.
_DEFAULT_DATAPATH = Datapath(8, 32)


@dataclass(frozen=True)
class Cost:
    """Picojoules per unit of an action (a MAC; a byte read or written), and where the
    figure comes from."""

    pj: float
    source: str


@dataclass(frozen=True)
class EnergyTable:
    """What every action of one program costs: `mac` per MAC issued, `memories[name]`
    per byte (read, write)."""

    mac: Cost
    memories: dict[str, tuple[Cost, Cost]]
    source: str  # "defaults", or the user's file

    def per_action(self, program: Program) -> dict[str, float]:
        """pJ per counted unit of each action: per MAC, per word of each memory."""
        table = {MAC_ACTION: self.mac.pj}
        for name, memory in program.memories.items():
            for access, cost in zip(ACCESSES, self.memories[name], strict=True):
                table[memory_action(name, access)] = cost.pj * memory.word_bytes
        return table


def _log_log(points: Mapping[int, float], x: float) -> float:
    """Piecewise power law through `points` (sorted by x), extended past either end by
    the nearest segment: energies of the figure's widths and sizes, between them."""
    xs = sorted(points)
    segment = 0
    while segment < len(xs) - 2 and x > xs[segment + 1]:
        segment += 1
    x0, x1 = xs[segment], xs[segment + 1]
    slope = math.log(points[x1] / points[x0]) / math.log(x1 / x0)
    return points[x0] * (x / x0) ** slope


def mac_cost(datapath: Datapath | None) -> Cost:
    """A multiply at the operand width plus an add at the accumulator width."""
    widths = datapath or _DEFAULT_DATAPATH
    pj = _log_log(_MULTIPLY_PJ, widths.operand_bits) + _log_log(_ADD_PJ, widths.accumulator_bits)
    assumed = "" if datapath else "; widths assumed: the program names none"
    return Cost(
        pj,
        f"{HOROWITZ}: int multiply at {widths.operand_bits} b + add at "
        f"{widths.accumulator_bits} b, power law between its 8- and 32-bit entries{assumed}",
    )


def memory_cost(kind: str, capacity_bytes: int) -> Cost:
    """pJ per byte of one access (read and write alike: the figure gives one number)."""
    if kind == "dram":
        return Cost(_DRAM_64BIT_PJ / 8, f"{HOROWITZ}: DRAM 1.3 nJ per 64-bit access (low end)")
    pj = _log_log(_SRAM_64BIT_PJ, max(capacity_bytes, 1)) / 8
    return Cost(
        pj,
        f"{HOROWITZ}: SRAM per 64-bit access at {capacity_bytes:,} B, power law between its "
        "8 KB, 32 KB and 1 MB entries",
    )


def default_energy_table(program: Program) -> EnergyTable:
    memories = {}
    for name, memory in program.memories.items():
        cost = memory_cost(memory.kind, memory.capacity_bytes)
        memories[name] = (cost, cost)
    return EnergyTable(mac_cost(program.datapath), memories, "defaults")


def read_energy_table(path: str | Path, program: Program) -> EnergyTable:
    """The defaults with what the user's TOML file gives in their place:

        mac = 0.25                      # pJ per MAC
        [memories.scratchpad]
        read = 1.2                      # pJ per byte
        write = 1.4

    Every key must name something the program has; one error names the file and the key.
    """
    path = Path(path)
    where = f"--energy {path}"
    try:
        raw = tomllib.loads(path.read_text())
    except OSError as exc:
        raise UserInputError(f"{where}: cannot be read ({exc.strerror or exc})") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise UserInputError(f"{where}: not valid TOML ({exc}); see docs/energy.md") from None
    table = default_energy_table(program)
    source = f"{path.name} (user)"
    mac = table.mac
    memories = dict(table.memories)
    for key, value in raw.items():
        if key == "mac":
            mac = Cost(_picojoules(value, f"{where}: key 'mac'"), source)
        elif key == "memories" and isinstance(value, dict):
            for name, costs in value.items():
                memories[name] = _memory_override(where, name, costs, memories, source)
        else:
            raise UserInputError(
                f"{where}: key {key!r} is neither 'mac' nor a [memories.NAME] table; "
                "see docs/energy.md"
            )
    return EnergyTable(mac, memories, str(path))


def _memory_override(
    where: str, name: str, costs: Any, memories: dict[str, tuple[Cost, Cost]], source: str
) -> tuple[Cost, Cost]:
    if name not in memories:
        known = ", ".join(memories) or "none"
        raise UserInputError(
            f"{where}: [memories.{name}]: the program has no memory {name!r} (its memories: "
            f"{known})"
        )
    if not isinstance(costs, dict) or not set(costs) <= set(ACCESSES) or not costs:
        raise UserInputError(
            f"{where}: [memories.{name}] takes 'read' and/or 'write' in pJ per byte"
        )
    read, write = memories[name]
    if "read" in costs:
        read = Cost(_picojoules(costs["read"], f"{where}: memories.{name}.read"), source)
    if "write" in costs:
        write = Cost(_picojoules(costs["write"], f"{where}: memories.{name}.write"), source)
    return read, write


def _picojoules(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not value >= 0:
        raise UserInputError(f"{where} is {value!r}; give picojoules as a number >= 0")
    if math.isinf(value):
        raise UserInputError(f"{where} is infinite; give picojoules as a finite number")
    return float(value)


def layer_energy(actions: LayerActions, per_action: Mapping[str, float]) -> dict[str, float]:
    """pJ per action of one layer (EnergyTable.per_action's prices)."""
    return {action: count * per_action[action] for action, count in actions.counts().items()}
