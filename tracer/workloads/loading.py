"""Resolve a `--model` argument: a zoo name, an .onnx file or a SCALE-Sim topology .csv."""

from __future__ import annotations

from pathlib import Path

from tracer.errors import WorkloadError
from tracer.workloads.layers import Model, check_positive
from tracer.workloads.zoo import MODELS, build_model

FILE_KINDS = {".onnx": "ONNX model", ".csv": "SCALE-Sim topology"}


def load_model(
    spec: str,
    batch: int | None = None,
    options: dict[str, int] | None = None,
    skip_unsupported: bool = False,
    dims: dict[str, int] | None = None,
) -> Model:
    """The model `spec` names. `batch` None keeps a file's own batch (1 for the zoo)."""
    if batch is not None:
        # Checked here, once for every kind of model, so the error names the option rather
        # than the first layer that would have taken it.
        check_positive("--batch", batch)
    suffix = Path(spec).suffix.lower()
    onnx_only = [
        flag for flag, given in (("--skip-unsupported", skip_unsupported), ("--dim", dims)) if given
    ]
    if onnx_only and suffix != ".onnx":
        raise WorkloadError(f"{' and '.join(onnx_only)} apply to ONNX models only")
    if spec in MODELS or suffix not in FILE_KINDS:
        return build_model(spec, batch=1 if batch is None else batch, options=options)
    path = Path(spec)
    if options:
        raise WorkloadError(
            f"--model-param applies to zoo models; {path} is a {FILE_KINDS[suffix]} whose "
            "shapes are in the file"
        )
    if not path.is_file():
        raise WorkloadError(f"{spec}: no such {FILE_KINDS[suffix]} file")
    if suffix == ".onnx":
        from tracer.workloads.onnx_import import import_onnx  # onnx loads slowly; only when needed

        return import_onnx(path, batch=batch, skip_unsupported=skip_unsupported, dims=dims)
    from tracer.workloads.scalesim_csv import import_topology

    return import_topology(path, batch=1 if batch is None else batch)
