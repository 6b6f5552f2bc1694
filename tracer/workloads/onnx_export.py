"""Export a Model to an ONNX graph (built with onnx.helper), so any model can be round-tripped.

The graph has the model's layers as ONNX operators (Conv, Gemm, MatMul, MaxPool/AveragePool,
Add/Mul, Relu/Clip) with every tensor's shape declared. Weights are graph inputs carrying
only their shapes, not initializers: a ResNet-50 file is kilobytes, not 100 MB, and still
a valid ONNX model for any tool that feeds its inputs. Where a layer reads a tensor of a
different shape than its producer makes (an fc after global pooling, attention heads split
from a projection), a Reshape stands in for the free layout change. `tracer.workloads.onnx_import`
reads such a file back into the same layers.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from tracer.errors import UserInputError
from tracer.workloads.layers import Conv2d, Dense, Elementwise, Layer, MatMul, Model, Pool
from tracer.workloads.onnx_import import ONNX_MAX_DIM

OPSET = 17
# ReLU6, the only Clip the zoo uses; the bounds do not change timing.
CLIP_BOUNDS = (0.0, 6.0)


class _Exporter:
    def __init__(self, model: Model) -> None:
        self.model = model
        self.nodes: list[onnx.NodeProto] = []
        self.inputs: list[onnx.ValueInfoProto] = []
        self.initializers: list[onnx.TensorProto] = []
        self.shapes: dict[str, tuple[int, ...]] = {}
        self.consumed: set[str] = set()
        for model_input in model.inputs:
            self._graph_input(model_input.name, model_input.shape)

    def _graph_input(self, name: str, shape: tuple[int, ...]) -> str:
        self.inputs.append(helper.make_tensor_value_info(name, TensorProto.FLOAT, list(shape)))
        self.shapes[name] = shape
        return name

    def _constant(self, name: str, values: np.ndarray) -> str:
        self.initializers.append(numpy_helper.from_array(values, name))
        return name

    def _data_inputs(self, layer: Layer) -> list[str]:
        """One tensor per input, of the shape the layer reads, reshaped where needed."""
        names = []
        for index, shape in enumerate(layer.input_shapes):
            if not layer.inputs:
                names.append(self._graph_input(f"{layer.name}.input{index}", shape))
                continue
            source = layer.inputs[index]
            self.consumed.add(source)
            if self.shapes[source] == shape:
                names.append(source)
                continue
            target = f"{layer.name}.input{index}"
            shape_name = self._constant(f"{target}.shape", np.array(shape, dtype=np.int64))
            self.nodes.append(
                helper.make_node(
                    "Reshape", [source, shape_name], [target], name=f"{target}.reshape"
                )
            )
            self.shapes[target] = shape
            names.append(target)
        return names

    def add(self, layer: Layer) -> None:
        data = self._data_inputs(layer)
        output = layer.name if layer.activation is None else f"{layer.name}.preactivation"
        if isinstance(layer, Conv2d):
            weight = self._graph_input(
                f"{layer.name}.weight",
                (
                    layer.out_channels,
                    layer.in_channels // layer.groups,
                    layer.kernel_height,
                    layer.kernel_width,
                ),
            )
            self.nodes.append(
                helper.make_node(
                    "Conv",
                    [data[0], weight],
                    [output],
                    name=layer.name,
                    kernel_shape=[layer.kernel_height, layer.kernel_width],
                    strides=list(layer.stride),
                    pads=list(layer.padding),
                    dilations=list(layer.dilation),
                    group=layer.groups,
                )
            )
        elif isinstance(layer, Dense):
            weight = self._graph_input(
                f"{layer.name}.weight", (layer.in_features, layer.out_features)
            )
            self.nodes.append(
                helper.make_node("Gemm", [data[0], weight], [output], name=layer.name)
            )
        elif isinstance(layer, MatMul):
            self.nodes.append(helper.make_node("MatMul", data, [output], name=layer.name))
        elif isinstance(layer, Pool):
            op = "MaxPool" if layer.pool == "maxpool" else "AveragePool"
            self.nodes.append(
                helper.make_node(
                    op,
                    data,
                    [output],
                    name=layer.name,
                    kernel_shape=[layer.kernel_height, layer.kernel_width],
                    strides=list(layer.stride),
                    pads=list(layer.padding),
                )
            )
        elif isinstance(layer, Elementwise):
            self._elementwise(layer.op, data, output, layer.name)
        else:  # pragma: no cover - Layer is a closed union
            raise TypeError(type(layer).__name__)
        if layer.activation is not None:
            self._elementwise(
                layer.activation, [output], layer.name, f"{layer.name}.{layer.activation}"
            )
        self.shapes[layer.name] = layer.output_shape

    def _elementwise(self, op: str, data: list[str], output: str, name: str) -> None:
        if op == "clip":
            low = self._constant(f"{name}.min", np.array(CLIP_BOUNDS[0], dtype=np.float32))
            high = self._constant(f"{name}.max", np.array(CLIP_BOUNDS[1], dtype=np.float32))
            data = [*data, low, high]
        onnx_op = {"add": "Add", "mul": "Mul", "relu": "Relu", "clip": "Clip"}[op]
        self.nodes.append(helper.make_node(onnx_op, data, [output], name=name))

    def graph(self) -> onnx.GraphProto:
        outputs = [
            helper.make_tensor_value_info(layer.name, TensorProto.FLOAT, list(layer.output_shape))
            for layer in self.model.layers
            if layer.name not in self.consumed
        ]
        return helper.make_graph(
            self.nodes, self.model.name, self.inputs, outputs, initializer=self.initializers
        )


def to_onnx(model: Model) -> onnx.ModelProto:
    """The model as an ONNX ModelProto (opset 17), shapes inferred and checked."""
    exporter = _Exporter(model)
    for layer in model.layers:
        exporter.add(layer)
    proto = helper.make_model(
        exporter.graph(),
        producer_name="accperf",
        opset_imports=[helper.make_opsetid("", OPSET)],
    )
    proto = onnx.shape_inference.infer_shapes(proto, check_type=True, strict_mode=True)
    onnx.checker.check_model(proto)
    return proto


def write_onnx(model: Model, path: Path) -> None:
    """Write `model` to `path` atomically: a failed write leaves what was there."""
    for layer in model.layers:
        for shape in (*layer.input_shapes, layer.output_shape):
            if any(size > ONNX_MAX_DIM for size in shape):
                raise UserInputError(
                    f"-o {path}: layer {layer.name!r} has a tensor of shape {shape}, beyond "
                    f"ONNX's 64-bit sizes (at most {ONNX_MAX_DIM}); give a smaller batch or size"
                )
    proto = to_onnx(model)
    staging = path.with_name(f".{path.name}.tmp")
    try:
        onnx.save(proto, str(staging))
        staging.replace(path)
    except OSError as exc:
        staging.unlink(missing_ok=True)
        raise UserInputError(
            f"-o {path}: cannot write the ONNX file ({exc.strerror or exc}); "
            "give a path in a folder you can write to"
        ) from None
