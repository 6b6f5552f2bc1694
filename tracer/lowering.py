"""The lowering driver: accelerator + model -> Program -> trace folder."""

from __future__ import annotations

from accelerators.catalog import find_accelerator
from isa.program import Program
from isa.registry import lowering_for
from isa.validation import ProgramError, check_program
from tracer.errors import MappingError, WorkloadError
from tracer.layers import Model
from tracer.zoo import build_model


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
    return Model(model.name, tuple(layer for layer in model.layers if layer.name in wanted))


def lower_model(
    accelerator: str,
    params: dict[str, str],
    model: str,
    batch: int = 1,
    layers: list[str] | None = None,
) -> Program:
    """Validate everything the user gave, then lower. Raises UserInputError subclasses."""
    resolved = find_accelerator(accelerator).resolve(params)
    workload = select_layers(build_model(model, batch=batch), layers)
    program = lowering_for(resolved)(resolved, workload)
    try:
        check_program(program)
    except ProgramError as exc:
        raise MappingError(f"{workload.name} on {resolved.name}: {exc}") from None
    return program
