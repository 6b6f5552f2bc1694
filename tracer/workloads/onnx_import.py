"""Import an ONNX model into our layers: parse -> infer shapes -> classify nodes -> layers.

What each operator becomes:
  Conv (1-D or 2-D; groups, strides, pads, auto_pad, dilations)  -> Conv2d (1-D: height 1)
  Gemm; MatMul with a constant 2-D operand on either side         -> Dense
  MatMul of two computed tensors (attention), with batch dims;
  Gemm whose right operand a layer computes                      -> MatMul
  MaxPool, AveragePool, GlobalMaxPool, GlobalAveragePool          -> Pool
  Add, Mul of two computed tensors (residuals)                    -> Elementwise
  Relu, Clip                                                      -> the activation of the
        layer it follows, when that layer has none and nothing else reads its output;
        otherwise a standalone Elementwise
Free, because they change no data or fold into the layer before them at inference:
  Identity, Dropout, Flatten, Reshape, Squeeze, Unsqueeze, Transpose (a layout change an
  accelerator does by addressing), BatchNormalization (folded into the conv's weights),
  Add/Sub/Mul/Div with a constant operand (a bias or scale folded likewise), and any node
  that reads only constants or a Shape (shape arithmetic, folded at load time).
Anything else is listed in one error (op type, count, node names) unless the caller asks
to skip it, in which case its output stands for its first input, nothing fuses across it,
and the model's notes say what was skipped. Nothing is dropped silently.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import replace
from math import prod
from pathlib import Path
from typing import Any, cast

import onnx
from google.protobuf.message import DecodeError
from onnx import helper

from tracer.errors import WorkloadError
from tracer.workloads.layers import (
    SKIPPED_NOTE,
    Conv2d,
    Dense,
    Elementwise,
    Layer,
    MatMul,
    Model,
    ModelInput,
    Pool,
    check_positive,
    same_padding,
)

FREE_OPS = frozenset(
    {
        "Identity",
        "Dropout",
        "Flatten",
        "Reshape",
        "Squeeze",
        "Unsqueeze",
        "Transpose",
        "BatchNormalization",
    }
)
FOLDABLE_WITH_CONSTANT = frozenset({"Add", "Sub", "Mul", "Div"})
COMPUTED_BINARY = {"Add": "add", "Mul": "mul"}
ACTIVATION_OPS = {"Relu": "relu", "Clip": "clip"}
POOL_OPS = {
    "MaxPool": "maxpool",
    "AveragePool": "avgpool",
    "GlobalMaxPool": "maxpool",
    "GlobalAveragePool": "avgpool",
}
SUPPORTED = (
    {"Conv", "Gemm", "MatMul"}
    | FREE_OPS
    | FOLDABLE_WITH_CONSTANT
    | set(ACTIVATION_OPS)
    | set(POOL_OPS)
)
# The inputs each handled operator must have (ONNX's required ones): shape inference lets
# a node without them through, and the handlers read them by position.
REQUIRED_INPUTS = {
    "Conv": 2,
    "Gemm": 2,
    "MatMul": 2,
    **dict.fromkeys(POOL_OPS, 1),
    **dict.fromkeys(ACTIVATION_OPS, 1),
    **dict.fromkeys(FOLDABLE_WITH_CONSTANT, 2),
}
_SHOWN_NODES = 4
ONNX_MAX_DIM = 2**63 - 1  # ONNX keeps tensor sizes as int64


def _attributes(node: onnx.NodeProto) -> dict[str, Any]:
    return {a.name: helper.get_attribute_value(a) for a in node.attribute}


class _Importer:
    def __init__(self, path: Path, graph: onnx.GraphProto) -> None:
        self.path = path
        self.graph = graph
        self.shapes: dict[str, tuple[int | None, ...] | None] = {}
        for value in [*graph.input, *graph.value_info, *graph.output]:
            self.shapes[value.name] = _value_shape(value)
        # Weights: initializers, and graph inputs read only where an operator takes its
        # parameters (as an export without parameters leaves them).
        data = _data_inputs(graph)
        self.constants = {init.name for init in graph.initializer} | {
            value.name for value in graph.input if value.name not in data
        }
        for init in graph.initializer:
            self.shapes[init.name] = tuple(init.dims)
        # Shape reads only metadata, so it never keeps an activation from fusing.
        self.consumers: Counter[str] = Counter(
            name for node in graph.node if node.op_type != "Shape" for name in node.input if name
        )
        self.consumers.update(output.name for output in graph.output)
        self.source: dict[str, str] = {}  # tensor -> layer or model input producing its data
        self.exclusive: set[str] = set()  # tensors only their producing layer's output reaches
        # Outputs of skipped operators that changed the tensor's size: whoever reads them
        # is free-standing, as the graph between them is unknown.
        self.detached: set[str] = set()
        self.folded: set[int] = set()  # positions of nodes folded at load time
        self.not_modelled: set[int] = set()  # positions of nodes classify() listed
        self.layers: list[Layer] = []
        self.index: dict[str, int] = {}
        self.used_inputs: list[str] = []
        self.unsupported: dict[str, list[str]] = {}
        self.names: set[str] = {value.name for value in graph.input}

    # -- helpers ---------------------------------------------------------------------------

    def fail(self, node: onnx.NodeProto | None, message: str) -> WorkloadError:
        where = f" node {node.name or '(unnamed)'!r} ({node.op_type})" if node else ""
        return WorkloadError(f"{self.path}:{where} {message}")

    def shape(self, node: onnx.NodeProto, tensor: str) -> tuple[int, ...]:
        shape = self.shapes.get(tensor)
        if shape is None or any(d is None for d in shape):
            raise self.fail(
                node,
                f"tensor {tensor!r} has no known shape after shape inference; give the model's "
                "inputs fixed shapes (only the batch dimension may be symbolic) and re-export",
            )
        return shape  # type: ignore[return-value]

    def data_source(self, node: onnx.NodeProto, tensor: str) -> str:
        if tensor in self.source:
            return self.source[tensor]
        if tensor in self.constants:
            raise self.fail(node, f"reads the constant {tensor!r} where it needs computed data")
        raise self.fail(node, f"reads {tensor!r}, which no node or graph input provides")

    def layer_name(self, node: onnx.NodeProto, position: int) -> str:
        base = node.name or f"{node.op_type.lower()}_{position}"
        name, suffix = base, 2
        while name in self.names:
            name, suffix = f"{base}_{suffix}", suffix + 1
        self.names.add(name)
        return name

    def emit(self, node: onnx.NodeProto, layer: Layer) -> None:
        inferred = self.shapes.get(node.output[0])
        if (
            inferred is not None
            and None not in inferred
            and prod(cast(tuple[int, ...], inferred)) != prod(layer.output_shape)
        ):
            raise self.fail(
                node,
                f"our reading of it gives an output of shape {layer.output_shape}, ONNX shape "
                f"inference {inferred}; this attribute combination is not supported",
            )
        self.index[layer.name] = len(self.layers)
        self.layers.append(layer)
        self.source[node.output[0]] = layer.name
        self.exclusive.add(node.output[0])

    # -- the walk --------------------------------------------------------------------------

    def classify(self) -> dict[str, list[str]]:
        """Fold constants and list the operators we do not model, before any shape is
        needed: {op type: [node names]}."""
        for position, node in enumerate(self.graph.node):
            if node.op_type == "Shape" or all(
                name in self.constants for name in node.input if name
            ):
                # Shape arithmetic (Shape -> Gather -> Concat -> Reshape, as PyTorch exports
                # x.view(n, -1)) and anything else on constants folds away at load time.
                self.constants.update(node.output)
                self.folded.add(position)
                continue
            label = node.name or f"#{position}"
            if node.op_type not in SUPPORTED or node.domain not in ("", "ai.onnx"):
                self.unsupported.setdefault(node.op_type, []).append(label)
                self.not_modelled.add(position)
            elif (
                node.op_type in FOLDABLE_WITH_CONSTANT
                and node.op_type not in COMPUTED_BINARY
                and not any(name in self.constants for name in node.input)
            ):
                kind = f"{node.op_type} of two computed tensors"
                self.unsupported.setdefault(kind, []).append(label)
                self.not_modelled.add(position)
        return self.unsupported

    def run(self) -> list[Layer]:
        for value in self.graph.input:
            if value.name not in self.constants:
                self.source[value.name] = value.name
        for position, node in enumerate(self.graph.node):
            if position in self.folded:
                continue
            if position in self.not_modelled:
                self.skip(node)
                continue
            self.handle(node, position)
        return self.layers

    def skip(self, node: onnx.NodeProto) -> None:
        """A skipped operator: its output stands for its first data input when it keeps
        the size; otherwise its readers become free-standing. Nothing fuses across it."""
        inputs = [name for name in node.input if name and name not in self.constants]
        if not inputs:
            self.constants.update(node.output)
            return
        before = self.shapes.get(inputs[0])
        for output in node.output:
            after = self.shapes.get(output)
            if after is None or None in after:
                self.shapes[output] = after = before  # e.g. a custom-domain op ONNX cannot infer
            same_size = (
                before is not None
                and after is not None
                and None not in before
                and None not in after
                and prod(cast(tuple[int, ...], before)) == prod(cast(tuple[int, ...], after))
            )
            if same_size and inputs[0] in self.source and inputs[0] not in self.detached:
                self.source[output] = self.source[inputs[0]]
            else:
                self.detached.add(output)

    def alias(self, node: onnx.NodeProto) -> None:
        """The node's outputs carry its first data input's data (free operators)."""
        inputs = [name for name in node.input if name and name not in self.constants]
        if not inputs:
            self.constants.update(node.output)
            return
        for output in node.output:
            if inputs[0] in self.detached:
                self.detached.add(output)
                continue
            self.source[output] = self.data_source(node, inputs[0])
            if inputs[0] in self.exclusive and self.consumers[inputs[0]] == 1:
                self.exclusive.add(output)

    def handle(self, node: onnx.NodeProto, position: int) -> None:
        op = node.op_type
        required = REQUIRED_INPUTS.get(op, 0)
        given = sum(1 for name in node.input[:required] if name)
        if given < required or not node.output:
            what = f"{given} of the {required} inputs {op} requires" if given < required else ""
            raise self.fail(
                node,
                f"has {what or 'no output'}; the file is not a valid ONNX model (check it with "
                "onnx.checker.check_model)",
            )
        if op == "Conv":
            self._conv(node, position)
        elif op == "Gemm":
            self._gemm(node, position)
        elif op == "MatMul":
            self._matmul(node, position)
        elif op in FREE_OPS:
            self.alias(node)
        elif node.op_type in POOL_OPS:
            self._pool(node, position)
        elif node.op_type in ACTIVATION_OPS:
            self._activation(node, position)
        elif node.op_type in FOLDABLE_WITH_CONSTANT:
            self._binary(node, position)
        else:  # pragma: no cover - SUPPORTED and the handlers agree
            raise AssertionError(node.op_type)

    def _sources(self, node: onnx.NodeProto, tensors: list[str]) -> tuple[str, ...]:
        if any(tensor in self.detached for tensor in tensors):
            return ()  # behind a skipped operator that changed the size: free-standing
        sources = tuple(self.data_source(node, tensor) for tensor in tensors)
        for source in sources:
            if source not in self.index and source not in self.used_inputs:
                self.used_inputs.append(source)  # a graph input read as data
        return sources

    def _conv(self, node: onnx.NodeProto, position: int) -> None:
        attrs = _attributes(node)
        x_shape = self.shape(node, node.input[0])
        w_shape = self.shape(node, node.input[1])
        spatial = len(x_shape) - 2
        if spatial not in (1, 2):
            raise self.fail(node, f"a {spatial}-D convolution; only 1-D and 2-D are modelled")
        kernel = list(attrs.get("kernel_shape", w_shape[2:]))
        group = int(attrs.get("group", 1))
        # What ONNX requires of a Conv (its operator spec); a model that breaks it would be
        # lowered with shapes no framework runs.
        if len(w_shape) != spatial + 2 or list(w_shape[2:]) != kernel:
            raise self.fail(
                node, f"weights of shape {tuple(w_shape)} do not match kernel_shape {kernel}"
            )
        if group >= 1 and (x_shape[1] != w_shape[1] * group or w_shape[0] % group):
            raise self.fail(
                node,
                f"weights of shape {tuple(w_shape)} in {group} group(s) do not fit an input "
                f"of {x_shape[1]} channels",
            )
        strides = list(attrs.get("strides", [1] * spatial))
        dilations = list(attrs.get("dilations", [1] * spatial))
        pads = self.pads(node, attrs, x_shape[2:], kernel, strides, dilations)
        if spatial == 1:
            x_shape, kernel, strides, pads, dilations = _as_2d(
                x_shape, kernel, strides, pads, dilations
            )
        batch, channels, height, width = x_shape
        layer = Conv2d(
            self.layer_name(node, position),
            channels,
            w_shape[0],
            height,
            width,
            kernel[0],
            kernel[1],
            stride=(strides[0], strides[1]),
            padding=(pads[0], pads[1], pads[2], pads[3]),
            dilation=(dilations[0], dilations[1]),
            groups=group,
            batch=batch,
            inputs=self._sources(node, [node.input[0]]),
        )
        self.emit(node, layer)

    def pads(self, node, attrs, sizes, kernel, strides, dilations) -> list[int]:
        """Explicit pads in ONNX order (begins, then ends), auto_pad resolved."""
        auto_pad = attrs.get("auto_pad", b"NOTSET")
        auto_pad = auto_pad.decode() if isinstance(auto_pad, bytes) else str(auto_pad)
        if auto_pad == "NOTSET":
            return list(attrs.get("pads", [0] * (2 * len(sizes))))
        if auto_pad == "VALID":
            return [0] * (2 * len(sizes))
        if auto_pad not in ("SAME_UPPER", "SAME_LOWER"):
            raise self.fail(node, f"auto_pad {auto_pad!r} is not an ONNX value")
        begins, ends = [], []
        for size, k, s, d in zip(sizes, kernel, strides, dilations, strict=True):
            small, large = same_padding(size, k, s, d)
            begins.append(small if auto_pad == "SAME_UPPER" else large)
            ends.append(large if auto_pad == "SAME_UPPER" else small)
        return begins + ends

    def _gemm(self, node: onnx.NodeProto, position: int) -> None:
        attrs = _attributes(node)
        a_shape = self.shape(node, node.input[0])
        b_shape = self.shape(node, node.input[1])
        rows, k = reversed(a_shape) if attrs.get("transA", 0) else a_shape
        n = b_shape[0] if attrs.get("transB", 0) else b_shape[1]
        name = self.layer_name(node, position)
        if node.input[0] in self.constants and node.input[1] not in self.constants:
            # W @ x: a dense layer over x's columns (n of them), k inputs, `rows` outputs.
            self.emit(
                node, Dense(name, k, rows, rows=n, inputs=self._sources(node, [node.input[1]]))
            )
            return
        if self.source.get(node.input[1]) in self.index:
            # B is computed by a layer: a product of two computed tensors, not a weight.
            sources = self._sources(node, [node.input[0], node.input[1]])
            self.emit(node, MatMul(name, 1, rows, k, n, inputs=sources))
            return
        self.emit(node, Dense(name, k, n, rows=rows, inputs=self._sources(node, [node.input[0]])))

    def _matmul(self, node: onnx.NodeProto, position: int) -> None:
        a, b = node.input[0], node.input[1]
        a_shape = self.shape(node, a)
        b_shape = self.shape(node, b)
        name = self.layer_name(node, position)
        if a in self.constants and b not in self.constants and len(a_shape) == 2:
            # W @ x is (x^T @ W^T): a dense layer over x's columns.
            out_features, k = a_shape
            rows = prod(b_shape) // k
            self.emit(
                node, Dense(name, k, out_features, rows=rows, inputs=self._sources(node, [b]))
            )
            return
        if b in self.constants:
            if len(b_shape) != 2:
                raise self.fail(
                    node,
                    f"a constant right operand of shape {b_shape}; only 2-D weights are modelled",
                )
            rows = prod(a_shape[:-1])
            self.emit(
                node,
                Dense(name, b_shape[0], b_shape[1], rows=rows, inputs=self._sources(node, [a])),
            )
            return
        m = 1 if len(a_shape) == 1 else a_shape[-2]
        n = 1 if len(b_shape) == 1 else b_shape[-1]
        k = a_shape[-1]
        out_shape = self.shape(node, node.output[0])
        batch = prod(out_shape) // (m * n)
        if prod(a_shape) != batch * m * k or prod(b_shape) != batch * k * n:
            raise self.fail(
                node,
                f"broadcasts {a_shape} @ {b_shape}; only matmuls whose "
                "operands share their batch dimensions are modelled",
            )
        self.emit(node, MatMul(name, batch, m, k, n, inputs=self._sources(node, [a, b])))

    def _pool(self, node: onnx.NodeProto, position: int) -> None:
        attrs = _attributes(node)
        x_shape = self.shape(node, node.input[0])
        spatial = len(x_shape) - 2
        if spatial not in (1, 2):
            raise self.fail(node, f"a {spatial}-D pooling; only 1-D and 2-D are modelled")
        if attrs.get("ceil_mode", 0):
            raise self.fail(node, "ceil_mode=1 is not modelled; export with ceil_mode=0")
        if any(d != 1 for d in attrs.get("dilations", [1] * spatial)):
            raise self.fail(node, "dilated pooling is not modelled")
        if node.op_type.startswith("Global"):
            kernel, strides, pads = list(x_shape[2:]), [1] * spatial, [0] * (2 * spatial)
        else:
            kernel = list(attrs["kernel_shape"])
            strides = list(attrs.get("strides", [1] * spatial))
            pads = self.pads(node, attrs, x_shape[2:], kernel, strides, [1] * spatial)
        if spatial == 1:
            x_shape, kernel, strides, pads, _ = _as_2d(x_shape, kernel, strides, pads, [1])
        batch, channels, height, width = x_shape
        layer = Pool(
            self.layer_name(node, position),
            POOL_OPS[node.op_type],
            channels,
            height,
            width,
            kernel[0],
            kernel[1],
            stride=(strides[0], strides[1]),
            padding=(pads[0], pads[1], pads[2], pads[3]),
            batch=batch,
            inputs=self._sources(node, [node.input[0]]),
        )
        self.emit(node, layer)

    def _binary(self, node: onnx.NodeProto, position: int) -> None:
        left, right = node.input[0], node.input[1]
        if left in self.constants or right in self.constants:
            self.alias(node)  # a bias or a scale: folded into the producer
            return
        if node.op_type not in COMPUTED_BINARY:  # listed by classify(), skipped on request
            self.skip(node)
            return
        shapes = (self.shape(node, left), self.shape(node, right))
        if shapes[0] != shapes[1]:
            raise self.fail(
                node,
                f"broadcasts {shapes[0]} with {shapes[1]}; only operands of one shape are modelled",
            )
        layer = Elementwise(
            self.layer_name(node, position),
            COMPUTED_BINARY[node.op_type],
            shapes[0],
            inputs=self._sources(node, [left, right]),
        )
        self.emit(node, layer)

    def _activation(self, node: onnx.NodeProto, position: int) -> None:
        tensor = node.input[0]
        function = ACTIVATION_OPS[node.op_type]
        producer = self.source.get(tensor)
        if (
            producer in self.index
            and tensor in self.exclusive
            and self.consumers[tensor] == 1
            and _can_take_activation(self.layers[self.index[producer]])  # type: ignore[index]
        ):
            at = self.index[producer]  # type: ignore[index]
            self.layers[at] = replace(self.layers[at], activation=function)
            self.alias(node)
            return
        shape = self.shape(node, tensor)
        layer = Elementwise(
            self.layer_name(node, position), function, shape, inputs=self._sources(node, [tensor])
        )
        self.emit(node, layer)


def _as_2d(x_shape, kernel, strides, pads, dilations):
    """A 1-D window over (N, C, L) as the 2-D window of height 1 our layers use."""
    return (
        (*x_shape[:2], 1, x_shape[2]),
        [1, *kernel],
        [1, *strides],
        [0, pads[0], 0, pads[1]],
        [1, *dilations],
    )


def _can_take_activation(layer: Layer) -> bool:
    standalone = isinstance(layer, Elementwise) and layer.op in ACTIVATION_OPS.values()
    return layer.activation is None and not standalone


def _value_shape(value: onnx.ValueInfoProto) -> tuple[int | None, ...] | None:
    tensor_type = value.type.tensor_type
    if not tensor_type.HasField("shape"):
        return None
    return tuple(
        d.dim_value if d.HasField("dim_value") and d.dim_value > 0 else None
        for d in tensor_type.shape.dim
    )


# Inputs that carry parameters, not data, per operator: a graph input read only there is a
# weight given as an input (as `export-onnx` writes them), which has no batch dimension.
PARAMETER_POSITIONS = {
    "Conv": {1, 2},
    "Gemm": {1, 2},
    "BatchNormalization": {1, 2, 3, 4},
    "Clip": {1, 2},
    "Reshape": {1},
    # A graph input multiplied from the right is a weight; computed operands (attention)
    # are never graph inputs.
    "MatMul": {1},
}


def _data_inputs(graph: onnx.GraphProto) -> set[str]:
    """Tensors some operator reads as data (not only as its weights or parameters)."""
    initializers = {init.name for init in graph.initializer}
    data: set[str] = set()
    for node in graph.node:
        parameters = PARAMETER_POSITIONS.get(node.op_type, set())
        if node.op_type in ("MatMul", "Gemm") and node.input[:1] and node.input[0] in initializers:
            parameters = parameters - {1}  # W @ x: the right operand is the data
        data.update(name for i, name in enumerate(node.input) if i not in parameters)
    return data


def _set_dimensions(
    path: Path, graph: onnx.GraphProto, batch: int | None, dims: dict[str, int]
) -> None:
    """Fix the data inputs' symbolic dimensions: those named in `dims` (--dim NAME=VALUE),
    and a symbolic batch (axis 0) to `batch` (1 if not given)."""
    constants = {init.name for init in graph.initializer}
    data = _data_inputs(graph)
    unused = set(dims)
    for value in graph.input:
        if value.name in constants or value.name not in data:
            continue  # a weight: its shape is whatever the file says
        tensor_type = value.type.tensor_type
        if not tensor_type.HasField("shape"):
            raise WorkloadError(
                f"{path}: input {value.name!r} has no shape; export the model with input "
                "shapes (e.g. torch.onnx.export with a sample input), then import it again"
            )
        for axis, dim in enumerate(tensor_type.shape.dim):
            if dim.HasField("dim_value") and dim.dim_value > 0:
                if axis == 0 and batch is not None and dim.dim_value != batch:
                    raise WorkloadError(
                        f"{path}: input {value.name!r} has a fixed batch of {dim.dim_value}; "
                        "--batch only sets a symbolic batch dimension, so leave it out or "
                        "re-export with a dynamic batch"
                    )
                continue
            label = dim.dim_param
            if label in dims:
                size = dims[label]
                unused.discard(label)
            elif axis == 0:
                size = batch or 1
            else:
                raise WorkloadError(
                    f"{path}: input {value.name!r} dimension {axis} ({label or '?'!r}) is "
                    f"symbolic; give its size with --dim {label or 'NAME'}=VALUE"
                    + ("" if label else " after naming it in the model, or fix it there")
                )
            if size > ONNX_MAX_DIM:
                raise WorkloadError(
                    f"{path}: input {value.name!r} dimension {axis} = {size} does not fit "
                    f"ONNX's 64-bit sizes (at most {ONNX_MAX_DIM}); give a smaller one"
                )
            dim.Clear()
            dim.dim_value = size
    if unused:
        raise WorkloadError(
            f"{path}: --dim {', '.join(sorted(unused))}: no input of the model has a symbolic "
            "dimension of that name"
        )


def _undecodable_text(message: Any, where: str = "graph") -> str:
    """Where a text field holds bytes that are not UTF-8 (protobuf then hands them over as
    bytes, not str), e.g. "graph.node[3].name"; "" if nowhere. Weights' raw bytes are not
    text and are not looked at."""
    for field, value in message.ListFields():
        if field.type not in (field.TYPE_STRING, field.TYPE_MESSAGE):
            continue
        items = value if field.is_repeated else [value]
        for index, item in enumerate(items):
            place = f"{where}.{field.name}" + (f"[{index}]" if field.is_repeated else "")
            if field.type == field.TYPE_MESSAGE:
                found = _undecodable_text(item, place)
                if found:
                    return found
            elif not isinstance(item, str):
                return place
    return ""


def _is_plain_name(name: str) -> bool:
    """A graph name that can be a model's name, hence part of a trace folder's name."""
    return (
        bool(name)
        and name not in (".", "..")
        and name.isprintable()
        and not any(separator in name for separator in ("/", "\\"))
    )


def import_onnx(
    path: Path,
    batch: int | None = None,
    skip_unsupported: bool = False,
    dims: dict[str, int] | None = None,
) -> Model:
    """Read an .onnx file into a Model; every defect is one WorkloadError naming the file.
    `dims` sizes symbolic input dimensions by name (e.g. a sequence length)."""
    if batch is not None:
        check_positive("batch", batch)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise WorkloadError(f"{path}: cannot be read ({exc.strerror or exc})") from None
    try:
        proto = onnx.load_from_string(data)
    except (DecodeError, ValueError, RuntimeError) as exc:
        raise WorkloadError(
            f"{path}: not a readable ONNX model ({type(exc).__name__}); the file may be "
            "truncated or of another format"
        ) from None
    if not proto.graph.node:
        raise WorkloadError(f"{path}: the ONNX graph has no nodes (truncated or not a model)")
    undecodable = _undecodable_text(proto.graph)
    if undecodable:
        raise WorkloadError(
            f"{path}: {undecodable} is not valid UTF-8 text; the file is damaged or not an "
            "ONNX model"
        )
    for name, size in (dims or {}).items():
        check_positive(f"--dim {name}: the size", size)
    _set_dimensions(path, proto.graph, batch, dict(dims or {}))
    try:
        proto = onnx.shape_inference.infer_shapes(proto, strict_mode=True, data_prop=True)
    except (onnx.shape_inference.InferenceError, onnx.checker.ValidationError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise WorkloadError(
            f"{path}: ONNX shape inference failed ({first}); check the model with "
            "onnx.checker.check_model"
        ) from None
    importer = _Importer(path, proto.graph)
    unsupported = importer.classify()
    notes: tuple[str, ...] = ()
    if unsupported:
        listing = "; ".join(
            f"{op} x{len(names)} ({', '.join(names[:_SHOWN_NODES])}"
            f"{', ...' if len(names) > _SHOWN_NODES else ''})"
            for op, names in sorted(unsupported.items())
        )
        if not skip_unsupported:
            raise WorkloadError(
                f"{path}: operators not modelled: {listing}. Pass --skip-unsupported to leave "
                "them out (they then take no time), or remove them from the model"
            )
        notes = (f"{SKIPPED_NOTE}: {listing}",)
    try:
        layers = importer.run()
    except WorkloadError as exc:
        if str(path) in str(exc):
            raise
        raise WorkloadError(f"{path}: {exc}") from None
    if not layers:
        raise WorkloadError(f"{path}: no layer we model (conv, gemm, matmul, pooling, add/mul)")
    inputs = tuple(
        ModelInput(name, importer.shape(proto.graph.node[0], name)) for name in importer.used_inputs
    )
    name = proto.graph.name if _is_plain_name(proto.graph.name) else path.stem
    try:
        return Model(name, tuple(layers), inputs, notes)
    except WorkloadError as exc:
        hint = " (a skipped operator changed the tensor's shape)" if notes else ""
        raise WorkloadError(f"{path}: {exc}{hint}") from None
