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
from typing import Any

from accelerators.description import (
    CLOCK_PARAMETER,
    Accelerator,
    AcceleratorSpec,
    did_you_mean,
)
from isa.program import LayerProgram, Program
from tracer.errors import DescriptionError, TraceError
from tracer.workloads.layers import Model

# (accelerator, model[, mapping]) -> Program; the mapping only for a family with read_mapping.
Lowering = Callable[..., Program]
# (a parsed JSON/TOML document, its name for errors) -> the family's checked mapping, an
# object with check_layer_names(names) and only(names) (e.g. isa/gemmini/mapping.py).
MappingReader = Callable[[object, str], Any]
# (layer mapping, resolved parameters) -> stall cycles the memory side adds to the layer.
MemoryStalls = Callable[[Mapping[str, int | str], Mapping[str, int | str]], int]
# (layer mapping, resolved parameters) -> counts of actions done apart from the
# instructions (analyzer/actions.py), e.g. {"dram.read": words}.
LayerActionCounts = Callable[[Mapping[str, int | str], Mapping[str, int | str]], Mapping[str, int]]
# accelerator -> (bytes its lowering and analysis need at least, what they grow with)
Footprint = Callable[[Accelerator], tuple[int, str]]


@dataclass(frozen=True)
class ParameterRead:
    """A parameter a family's code reads: an integer, or a choice among the values the code
    handles (a description may offer fewer of them, not others)."""

    name: str
    handled: tuple[str, ...] = ()  # empty: an integer

    def describe(self) -> str:
        if not self.handled:
            return 'type = "int"'
        return f'type = "choice" with choices among {", ".join(self.handled)}'


def integer(name: str) -> ParameterRead:
    return ParameterRead(name)


def choice(name: str, handled: tuple[str, ...]) -> ParameterRead:
    return ParameterRead(name, handled)


@dataclass(frozen=True)
class Family:
    name: str  # the `isa` a description names
    lower: Lowering
    # Parameters the family's code reads (lowering, memory side) and the unit kinds its
    # instructions run on: a description of this family declares exactly these units, and
    # these parameters plus any its expressions use (checked at load: `check`).
    parameters: tuple[ParameterRead, ...]
    units: tuple[str, ...]
    # Cycles a layer waits on a memory side that is evaluated apart from the instructions
    # (the systolic array's SCALE-Sim SRAMs); None when every cycle comes from the
    # instructions. Fast and full evaluation add the same stalls.
    memory_stalls: MemoryStalls | None = None
    # The memory a configuration needs before anything is built, where it can outgrow a
    # machine (the systolic array's per-PE templates and state): checked by the lowering
    # driver, so an impossible size is refused at once instead of being killed later.
    footprint: Footprint | None = None
    # A user's per-layer mapping (`lower --mapping FILE`) in place of the family's own
    # tiling; None: the family takes none.
    read_mapping: MappingReader | None = None
    # The actions of a memory side evaluated apart from the instructions (the systolic
    # array's DRAM traffic), added to the instructions' own counts; None: there is none.
    layer_actions: LayerActionCounts | None = None

    def check(self, spec: AcceleratorSpec) -> None:
        """Refuse a description this family cannot run, in one line naming file and key;
        otherwise the lowering would fail later with a KeyError, or ignore a value."""
        source, family = spec.source, f"the {self.name} family"
        declared = {p.name: p for p in spec.parameters}
        missing = [read.name for read in self.parameters if read.name not in declared]
        if missing:
            raise DescriptionError(
                f"{source}: {family} reads parameter(s) {', '.join(missing)}, which the "
                f"description does not declare; add [parameters.{missing[0]}]"
                + (" and the others" if len(missing) > 1 else "")
            )
        for read in self.parameters:
            parameter = declared[read.name]
            unhandled = [value for value in parameter.choices if value not in read.handled]
            if (parameter.kind == "choice") != bool(read.handled) or unhandled:
                raise DescriptionError(
                    f"{source}: field 'parameters.{read.name}': {family} reads it as "
                    f"{read.describe()}"
                    + (f"; it does not handle {', '.join(unhandled)}" if read.handled else "")
                )
        unit_names = [unit.name for unit in spec.units]
        for name in unit_names:
            if name not in self.units:
                raise DescriptionError(
                    f"{source}: key 'units.{name}' is not a unit kind of {family}"
                    f"{did_you_mean(name, self.units)}; its units: {', '.join(self.units)}"
                )
        missing = [name for name in self.units if name not in unit_names]
        if missing:
            raise DescriptionError(
                f"{source}: {family} runs instructions on unit kind(s) {', '.join(missing)}, "
                f"which the description does not declare; add [units.{missing[0]}]"
                + (" and the others" if len(missing) > 1 else "")
            )
        clock = declared.get(CLOCK_PARAMETER)
        if clock is not None and clock.kind != "int":
            raise DescriptionError(
                f"{source}: field 'parameters.{CLOCK_PARAMETER}': the clock in kHz that "
                'reports give milliseconds at must be type = "int"'
            )
        used = (
            {read.name for read in self.parameters}
            | {CLOCK_PARAMETER}
            | spec.parameters_in_expressions()
        )
        unused = [name for name in declared if name not in used]
        if unused:
            raise DescriptionError(
                f"{source}: parameter(s) {', '.join(unused)}: read by neither {family} nor "
                "any expression of the description; remove, or use in a size"
            )


def program_of(accelerator: Accelerator, model: Model, **fields: object) -> Program:
    """The Program a family's lowering returns: what every family takes from its
    description (name, ISA, resolved parameters, the default front end, the units, the
    roofline) and the model's name, with the family's own `fields` (spaces, blocks,
    layers, host layers, queues, other front ends, notes)."""
    return Program(
        accelerator=accelerator.name,
        isa=accelerator.isa,
        parameters=dict(accelerator.parameters),
        bundles_per_cycle=accelerator.frontend.bundles_per_cycle,
        window_bundles=accelerator.frontend.window_bundles,
        frontend_delay=accelerator.frontend.delay,
        units={name: unit.instances for name, unit in accelerator.units.items()},
        roofline=accelerator.roofline_table(),
        model=model.name,
        **fields,  # type: ignore[arg-type]
    )


def from_mapping(hook: Callable[..., Any], layer: LayerProgram, program: Program) -> Any:
    """`hook(layer.mapping, program.parameters)`: what a family's memory side makes of a
    layer's mapping (Family.memory_stalls, Family.layer_actions). A trace's mapping is its
    lowering's; one without what the hook reads was damaged or written by another accperf,
    which is one error naming the layer, not a traceback."""
    try:
        return hook(layer.mapping, program.parameters)
    except (KeyError, ValueError, TypeError) as exc:
        raise TraceError(
            f"layer {layer.name!r}: its mapping {mapping_problem(exc)}, which the "
            f"{program.isa} memory side reads; re-create the trace with `accperf-trace lower`"
        ) from None


def mapping_problem(exc: Exception) -> str:
    """What a reader of a layer's mapping found wrong with it, from what it raised."""
    if isinstance(exc, KeyError):
        return f"lacks {exc}"
    return f"has a value it cannot read ({exc})"
