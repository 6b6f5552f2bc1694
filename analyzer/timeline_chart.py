"""A timeline of a run of instructions, as llvm-mca's -timeline draws one for a CPU: per
unit instance (per unit kind when there are more instances than lines), what each cycle
held: an instruction running (from its start to its end), one waiting for it (issued,
not started), or nothing. `accperf-trace show --timeline` prints it; with `-o FILE.svg`
rich records it as a picture. The times are the full evaluation's (tracer/api.py,
instruction_timeline), so a stall, a wavefront or a queue filling up is what the
dependency rules computed."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from rich.text import Text

RUNNING, WAITING, IDLE = "=", ".", " "
STYLE = {RUNNING: "green", WAITING: "yellow"}
MAX_LINES = 32  # more unit instances than this are drawn per unit kind
MAX_WIDTH = 120  # cycles wider than this share a character (the scale says how many)


class TimedRow(Protocol):
    """What a timeline needs of an instruction (tracer/api.py's TimedInstruction)."""

    unit: str  # "kind[instance]"
    issue: int
    start: int
    end: int


@dataclass(frozen=True)
class Chart:
    first_cycle: int  # the cycle of the first character
    cycles_per_char: int
    lines: list[tuple[str, str]]  # (unit instance or kind, one character per step)

    def legend(self) -> str:
        scale = "one cycle" if self.cycles_per_char == 1 else f"{self.cycles_per_char} cycles"
        return (
            f"from cycle {self.first_cycle}, a character is {scale}: '{RUNNING}' running "
            f"(start to end), '{WAITING}' issued and waiting, blank idle"
        )

    def rendered(self) -> list[Text]:
        """The lines with their unit's name, running and waiting in colour."""
        label = max(len(name) for name, _ in self.lines)
        out = []
        for name, cells in self.lines:
            text = Text(name.ljust(label) + " |")
            for cell in cells:
                text.append(cell, style=STYLE.get(cell, ""))
            text.append("|")
            out.append(text)
        return out


def chart(rows: Sequence[TimedRow], width: int = MAX_WIDTH) -> Chart:
    """The timeline of `rows`: a line per unit instance (kinds in the order they first
    appear, instances by number), or per unit kind when there are more than MAX_LINES
    instances; a character per cycle, or per `cycles_per_char` cycles when the span is
    wider than `width` (a character shows running if any of its cycles runs, else
    waiting if any waits)."""
    if not rows:
        raise ValueError("a timeline needs at least one instruction")
    first = min(row.issue for row in rows)
    last = max(max(row.end, row.start + 1) for row in rows)
    per_char = max(1, -(-(last - first) // width))
    steps = -(-(last - first) // per_char)
    kinds = list(dict.fromkeys(_kind(row.unit) for row in rows))  # in order of appearance
    instances = sorted({row.unit for row in rows}, key=lambda u: (kinds.index(_kind(u)), _at(u)))
    by_kind = len(instances) > MAX_LINES
    names = kinds if by_kind else instances
    cells = {name: [IDLE] * steps for name in names}
    for row in rows:
        line = cells[_kind(row.unit) if by_kind else row.unit]
        # A zero-length instruction (a capture) still shows where it ran.
        run_end = max(row.end, row.start + 1)
        if row.start > row.issue:
            for step in range(
                (row.issue - first) // per_char, (row.start - 1 - first) // per_char + 1
            ):
                if line[step] == IDLE:
                    line[step] = WAITING
        for step in range((row.start - first) // per_char, (run_end - 1 - first) // per_char + 1):
            line[step] = RUNNING
    return Chart(first, per_char, [(name, "".join(cells[name])) for name in names])


def _kind(unit: str) -> str:
    return unit.split("[", 1)[0]


def _at(unit: str) -> int:
    """The instance number of "kind[n]" (0 without one)."""
    _, _, rest = unit.partition("[")
    return int(rest.rstrip("]")) if rest.rstrip("]").isdigit() else 0
