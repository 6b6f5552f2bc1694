"""A model's layer table: one record per layer, printed with rich or written as JSON."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table

from tracer.workloads.layers import (
    Conv2d,
    Dense,
    Elementwise,
    Layer,
    MatMul,
    Model,
    Pool,
    operations,
)


def _shape(shape: tuple[int, ...]) -> str:
    return "x".join(str(size) for size in shape)


def _attributes(layer: Layer) -> dict[str, Any]:
    """The attributes that shape the layer's work, beyond its tensor shapes."""
    if isinstance(layer, Conv2d):
        return {
            "kernel": [layer.kernel_height, layer.kernel_width],
            "stride": list(layer.stride),
            "padding": list(layer.padding),
            "dilation": list(layer.dilation),
            "groups": layer.groups,
        }
    if isinstance(layer, Pool):
        return {
            "kernel": [layer.kernel_height, layer.kernel_width],
            "stride": list(layer.stride),
            "padding": list(layer.padding),
        }
    if isinstance(layer, Dense):
        return {
            "rows": layer.rows,
            "in_features": layer.in_features,
            "out_features": layer.out_features,
        }
    if isinstance(layer, MatMul):
        return {"batch": layer.batch, "m": layer.m, "k": layer.k, "n": layer.n}
    assert isinstance(layer, Elementwise)
    return {}


def layer_record(layer: Layer) -> dict[str, Any]:
    return {
        "name": layer.name,
        "op": layer.kind,
        "inputs": list(layer.inputs),
        "input_shapes": [list(shape) for shape in layer.input_shapes],
        "output_shape": list(layer.output_shape),
        "activation": layer.activation,
        "attributes": _attributes(layer),
        "macs": layer.macs,
        "operations": operations(layer),
    }


def model_record(model: Model) -> dict[str, Any]:
    return {
        "model": model.name,
        "inputs": [{"name": i.name, "shape": list(i.shape)} for i in model.inputs],
        "total_macs": model.macs,
        "notes": list(model.notes),
        "layers": [layer_record(layer) for layer in model.layers],
    }


def _details(record: dict[str, Any]) -> str:
    attributes = record["attributes"]
    if "kernel" in attributes:
        text = (
            f"k{_shape(attributes['kernel'])} s{_shape(attributes['stride'])} "
            f"p{','.join(map(str, attributes['padding']))}"
        )
        if attributes.get("dilation", [1, 1]) != [1, 1]:
            text += f" d{_shape(attributes['dilation'])}"
        if attributes.get("groups", 1) != 1:
            text += f" g{attributes['groups']}"
        return text
    if "m" in attributes:
        return (
            f"{attributes['batch']} x ({attributes['m']}x{attributes['k']} @ "
            f"{attributes['k']}x{attributes['n']})"
        )
    return ""


def print_layers(console: Console, model: Model) -> None:
    table = Table(title=f"{model.name}: {len(model.layers)} layers", title_justify="left")
    for column, justify in (
        ("layer", "left"),
        ("op", "left"),
        ("input", "right"),
        ("output", "right"),
        ("kernel/stride/pad", "left"),
        ("act", "left"),
        ("MACs", "right"),
        ("reads", "left"),
    ):
        table.add_column(column, justify=justify)  # type: ignore[arg-type]
    for layer in model.layers:
        record = layer_record(layer)
        table.add_row(
            layer.name,
            layer.kind,
            " + ".join(_shape(shape) for shape in layer.input_shapes),
            _shape(layer.output_shape),
            _details(record),
            layer.activation or "",
            f"{layer.macs:,}",
            ", ".join(layer.inputs),
        )
    table.add_section()
    table.add_row("total", "", "", "", "", "", f"{model.macs:,}", "")
    console.print(table)
    for note in model.notes:
        console.print(f"note: {note}")
