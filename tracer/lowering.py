"""The lowering driver: accelerator + model -> Program -> trace folder."""

from __future__ import annotations

from pathlib import Path

from accelerators.catalog import find_accelerator
from isa.program import Program
from isa.registry import lowering_for
from tracer.errors import WorkloadError
from tracer.layers import Model
from tracer.trace_io import write_trace
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
    return lowering_for(resolved)(resolved, workload)


def lower_to_trace(
    accelerator: str,
    params: dict[str, str],
    model: str,
    out_dir: Path,
    batch: int = 1,
    materialize_iterations: int | None = 4,
    layers: list[str] | None = None,
) -> tuple[Program, Path]:
    program = lower_model(accelerator, params, model, batch, layers)
    return program, write_trace(program, out_dir, materialize_iterations)
