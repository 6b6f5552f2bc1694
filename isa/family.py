"""What an accelerator family provides: the plug-in interface of isa/<family>/.

A description names its family with `isa = "<name>"`; isa/registry.py maps the name to
the family's `FAMILY`. Everything a family knows (instruction templates and timing, its
own tiling or mapping, a memory side evaluated apart from the instructions) lives in its
subpackage; the engine and the CLI reach it only through this record.
docs/adding-an-accelerator.md walks through one.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from accelerators.description import Accelerator
from isa.program import Program
from tracer.workloads.layers import Model

Lowering = Callable[[Accelerator, Model], Program]
# (layer mapping, resolved parameters) -> stall cycles the memory side adds to the layer.
MemoryStalls = Callable[[Mapping[str, int | str], Mapping[str, int | str]], int]


@dataclass(frozen=True)
class Family:
    name: str  # the `isa` a description names
    lower: Lowering
    # Parameters and unit kinds the lowering reads: a description of this family must
    # declare every one (checked when it is loaded, isa/registry.py).
    parameters: tuple[str, ...]
    units: tuple[str, ...]
    # Cycles a layer waits on a memory side that is evaluated apart from the instructions
    # (the systolic array's SCALE-Sim SRAMs); None when every cycle comes from the
    # instructions. Fast and full evaluation add the same stalls.
    memory_stalls: MemoryStalls | None = None
