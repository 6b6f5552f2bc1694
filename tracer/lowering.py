"""The lowering driver: accelerator + model -> Program -> trace folder."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

from accelerators.description import Accelerator
from isa.program import Program
from isa.registry import family_of, load_accelerator
from isa.validation import ProgramError, check_program
from tracer.errors import DescriptionError, MappingError, WorkloadError
from tracer.mapping_file import read_mapping_document
from tracer.workloads.layers import Model, ModelInput
from tracer.workloads.loading import load_model


def select_layers(model: Model, names: list[str] | None) -> Model:
    """Keep only the named layers (in the model's order); None keeps all."""
    if not names:
        return model
    known = {layer.name for layer in model.layers}
    unknown = [name for name in names if name not in known]
    if unknown:
        sample = ", ".join(layer.name for layer in model.layers[:6])
        raise WorkloadError(
            f"--layers: {', '.join(unknown)} not in model {model.name!r} "
            f"(its layers: {sample}, ...)"
        )
    wanted = set(names)
    kept = tuple(layer for layer in model.layers if layer.name in wanted)
    # A dropped producer's output becomes a model input, so a kept layer still reads the
    # tensor it read before, from memory, and keeps its place in the graph: UltraTrail
    # fuses an add into the conv that writes one of its operands only while the add still
    # names both (isa/ultratrail/plan.py).
    outputs = {layer.name: layer.output_shape for layer in model.layers}
    read = {name for layer in kept for name in layer.inputs}
    produced = [layer.name for layer in model.layers if layer.name in read - wanted]
    inputs = model.inputs + tuple(ModelInput(name, outputs[name]) for name in produced)
    return Model(model.name, kept, inputs, model.notes)


def lower_model(
    accelerator: str,
    params: dict[str, str],
    model: str,
    batch: int | None = None,
    layers: list[str] | None = None,
    options: dict[str, int] | None = None,
    skip_unsupported: bool = False,
    dims: dict[str, int] | None = None,
    mapping: str | Path | Mapping | None = None,
) -> Program:
    """Validate everything the user gave, then lower. Raises UserInputError subclasses.

    `model` is a zoo name, an .onnx file or a SCALE-Sim .csv (see tracer.workloads.loading);
    `mapping` a user's per-layer mapping file or dict (read_layer_mapping).
    """
    resolved = load_accelerator(accelerator).resolve(params)
    loaded = load_model(model, batch, options, skip_unsupported, dims)
    parsed = read_layer_mapping(resolved, mapping, loaded) if mapping is not None else None
    return lower_workload(resolved, select_layers(loaded, layers), parsed)


def read_layer_mapping(accelerator: Accelerator, source: str | Path | Mapping, model: Model) -> Any:
    """A user's mapping (a .json / .toml path or a dict) read by the accelerator's family,
    every entry naming a layer of `model` (the whole model, so one file serves any
    --layers); refused in one line if the family takes none or the file is wrong."""
    family = family_of(accelerator)
    if family.read_mapping is None:
        raise MappingError(
            f"--mapping: the {family.name} family ({accelerator.name}) has its own mapping "
            "and takes none from a file; only gemmini takes --mapping"
        )
    data, name = read_mapping_document(source)
    mapping = family.read_mapping(data, name)
    mapping.check_layer_names([layer.name for layer in model.layers])
    return mapping


def available_memory() -> int:
    """Bytes this machine can still give a process (MemAvailable, else physical memory)."""
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")


def _check_footprint(accelerator: Accelerator, needed: int, why: str) -> None:
    available = available_memory()
    if needed > available:
        shown = ", ".join(f"{k}={v}" for k, v in accelerator.parameters.items())
        raise MappingError(
            f"{accelerator.name} ({shown}): lowering and analyzing it needs about "
            f"{needed / 2**30:.1f} GiB ({why}), and this machine has "
            f"{available / 2**30:.1f} GiB available; choose a smaller configuration"
        )


def _check_opcodes(accelerator: Accelerator, program: Program) -> None:
    """A description's `opcodes` say what each unit runs: an instruction the family issues
    on a unit whose opcodes omit it is the description's mistake (a copy edited for a
    variant, say), named before anything is evaluated."""
    issued = {(t.unit, t.opcode, block.name) for block in program.blocks for t in block.templates}
    for unit, opcode, block in sorted(issued):
        declared = accelerator.units.get(unit)
        if declared is None or opcode not in declared.opcodes:
            raise DescriptionError(
                f"accelerator {accelerator.name!r}: the {accelerator.isa} lowering issues "
                f"{opcode!r} on unit {unit!r} (block {block!r}), which the description's "
                f"[units.{unit}] opcodes do not list; add it there"
            )


def lower_workload(accelerator: Accelerator, workload: Model, mapping: Any = None) -> Program:
    """Lower an already loaded model onto a resolved accelerator, and check the result;
    `mapping` from read_layer_mapping (its entries of layers not in `workload` ignored)."""
    family = family_of(accelerator)
    if family.footprint is not None:
        _check_footprint(accelerator, *family.footprint(accelerator))
    if mapping is not None:
        chosen = mapping.only([layer.name for layer in workload.layers])
        program = family.lower(accelerator, workload, chosen)
    else:
        program = family.lower(accelerator, workload)
    program = replace(program, notes=program.notes + workload.notes)
    _check_opcodes(accelerator, program)
    try:
        check_program(program)
    except ProgramError as exc:
        raise MappingError(f"{workload.name} on {accelerator.name}: {exc}") from None
    return program
