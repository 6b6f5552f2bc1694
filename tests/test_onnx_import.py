"""ONNX import on hand-built graphs: each operator (and attribute) becomes the exact layer we
expect, free ops vanish, activations fuse only when safe, unsupported ops are listed or
skipped, the batch dimension is set, and malformed files give one clear CLI error."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from tracer.cli import main
from tracer.errors import WorkloadError
from tracer.workloads.layers import (
    Conv2d,
    Dense,
    Elementwise,
    Layer,
    MatMul,
    Model,
    ModelInput,
    Pool,
)
from tracer.workloads.onnx_import import SKIPPED_NOTE, import_onnx

OPSET = 17


# -- building graphs ------------------------------------------------------------------------


def const(name: str, shape: tuple[int, ...], dtype=np.float32) -> TensorProto:
    return numpy_helper.from_array(np.zeros(shape, dtype), name)


def ints(name: str, values: list[int]) -> TensorProto:
    return numpy_helper.from_array(np.array(values, np.int64), name)


def node(op: str, inputs: list[str], outputs: list[str], name: str, **attrs) -> onnx.NodeProto:
    return helper.make_node(op, inputs, outputs, name=name, **attrs)


def save(
    tmp_path: Path,
    nodes: list[onnx.NodeProto],
    inputs: dict[str, list | None],
    outputs: tuple[str, ...] = ("y",),
    initializers: tuple[TensorProto, ...] = (),
    name: str = "net",
) -> Path:
    """An opset-17 model file; `inputs` maps each graph input to its shape (None: no shape).
    Outputs are declared without shapes: shape inference fills them in."""
    graph = helper.make_graph(
        nodes,
        name,
        [helper.make_tensor_value_info(n, TensorProto.FLOAT, s) for n, s in inputs.items()],
        [helper.make_tensor_value_info(n, TensorProto.FLOAT, None) for n in outputs],
        initializer=list(initializers),
    )
    proto = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)])
    path = tmp_path / f"{name}.onnx"
    onnx.save(proto, str(path))
    return path


def load(tmp_path: Path, nodes, inputs, outputs=("y",), initializers=(), **options) -> Model:
    return import_onnx(save(tmp_path, nodes, inputs, outputs, initializers), **options)


def conv_layer(tmp_path: Path, x_shape, w_shape, bias: bool = False, **attrs) -> Layer:
    """The one layer a lone Conv node (weights as initializers) imports to."""
    inits = (const("w", w_shape), *([const("b", w_shape[:1])] if bias else []))
    conv = node("Conv", ["x", "w", *(["b"] if bias else [])], ["y"], "conv", **attrs)
    (layer,) = load(tmp_path, [conv], {"x": x_shape}, initializers=inits).layers
    return layer


# -- Conv -----------------------------------------------------------------------------------


def test_plain_conv_becomes_conv2d_reading_the_graph_input(tmp_path):
    model = load(
        tmp_path,
        [node("Conv", ["x", "w"], ["y"], "conv")],
        {"x": [1, 3, 8, 8]},
        initializers=(const("w", (16, 3, 3, 3)),),
    )
    assert model.name == "net"
    assert model.layers == (Conv2d("conv", 3, 16, 8, 8, 3, 3, inputs=("x",)),)
    assert model.inputs == (ModelInput("x", (1, 3, 8, 8)),)


@pytest.mark.parametrize(
    ("channels", "out_channels", "groups"),
    [(4, 8, 2), (8, 8, 8)],
    ids=["grouped", "depthwise"],
)
def test_conv_groups(tmp_path, channels, out_channels, groups):
    w_shape = (out_channels, channels // groups, 3, 3)
    layer = conv_layer(tmp_path, [1, channels, 6, 6], w_shape, group=groups, pads=[1, 1, 1, 1])
    assert layer == Conv2d(
        "conv", channels, out_channels, 6, 6, 3, 3, padding=1, groups=groups, inputs=("x",)
    )


@pytest.mark.parametrize(
    ("x_shape", "w_shape", "attrs", "fragment"),
    [
        ([1, 3, 8, 8], (8, 4, 3, 3), {}, "do not fit an input of 3 channels"),
        ([1, 3, 8, 8], (10, 1, 3, 3), {"group": 5}, "in 5 group(s)"),
        ([1, 4, 8, 8], (6, 1, 3, 3), {"group": 4}, "in 4 group(s)"),  # 6 filters, 4 groups
        ([1, 3, 8, 8], (8, 3, 3, 3), {"kernel_shape": [5, 5]}, "do not match kernel_shape"),
    ],
    ids=["channels", "groups", "filters-per-group", "kernel"],
)
def test_a_conv_its_weights_do_not_fit_is_refused(tmp_path, x_shape, w_shape, attrs, fragment):
    # ONNX's Conv requires these; a model breaking them was lowered with made-up shapes.
    with pytest.raises(WorkloadError) as caught:
        conv_layer(tmp_path, x_shape, w_shape, **attrs)
    assert fragment in str(caught.value)


def test_conv_strides_differ_per_axis(tmp_path):
    layer = conv_layer(tmp_path, [1, 3, 9, 10], (4, 3, 3, 3), strides=[2, 1])
    assert layer == Conv2d("conv", 3, 4, 9, 10, 3, 3, stride=(2, 1), inputs=("x",))
    assert layer.output_shape == (1, 4, 4, 8)


def test_conv_asymmetric_explicit_pads_keep_onnx_order(tmp_path):
    # ONNX pads are (top, left, bottom, right): begins of each axis, then ends.
    layer = conv_layer(tmp_path, [1, 3, 8, 8], (4, 3, 3, 3), pads=[1, 2, 0, 3])
    assert layer == Conv2d("conv", 3, 4, 8, 8, 3, 3, padding=(1, 2, 0, 3), inputs=("x",))
    assert layer.output_shape == (1, 4, 7, 11)


def test_conv_dilations(tmp_path):
    layer = conv_layer(tmp_path, [1, 3, 12, 12], (4, 3, 3, 3), dilations=[2, 3], pads=[2, 3, 2, 3])
    assert layer == Conv2d(
        "conv", 3, 4, 12, 12, 3, 3, padding=(2, 3, 2, 3), dilation=(2, 3), inputs=("x",)
    )
    assert layer.output_shape == (1, 4, 12, 12)


# Input 8x7, 3x3 kernel, stride 2: SAME keeps out = ceil(in/2) = 4 both ways with a total pad
# of (4-1)*2 + (3-1)*d + 1 - in: along the height 1 (3 with dilation 2), along the width 2.
# UPPER puts the odd one at the end (bottom), LOWER at the beginning (top).
@pytest.mark.parametrize(
    ("auto_pad", "dilation", "padding"),
    [
        ("SAME_UPPER", 1, (0, 1, 1, 1)),
        ("SAME_LOWER", 1, (1, 1, 0, 1)),
        ("SAME_UPPER", 2, (1, 1, 2, 1)),
        ("SAME_LOWER", 2, (2, 1, 1, 1)),
        ("VALID", 1, (0, 0, 0, 0)),
    ],
)
def test_conv_auto_pad_resolved(tmp_path, auto_pad, dilation, padding):
    attrs = {"auto_pad": auto_pad, "strides": [2, 2], "dilations": [dilation, 1]}
    layer = conv_layer(tmp_path, [1, 3, 8, 7], (4, 3, 3, 3), **attrs)
    assert layer == Conv2d(
        "conv", 3, 4, 8, 7, 3, 3, stride=2, padding=padding, dilation=(dilation, 1), inputs=("x",)
    )
    assert layer.output_shape[2:] == ((3, 3) if auto_pad == "VALID" else (4, 4))


def test_conv_bias_input_changes_nothing(tmp_path):
    layer = conv_layer(tmp_path, [1, 3, 8, 8], (16, 3, 3, 3), bias=True)
    assert layer == Conv2d("conv", 3, 16, 8, 8, 3, 3, inputs=("x",))


def test_conv_1d_is_conv2d_of_height_1(tmp_path):
    layer = conv_layer(tmp_path, [1, 4, 20], (8, 4, 5), strides=[2], pads=[1, 2])
    assert layer == Conv2d(
        "conv", 4, 8, 1, 20, 1, 5, stride=(1, 2), padding=(0, 1, 0, 2), inputs=("x",)
    )
    assert layer.output_shape == (1, 8, 1, 10)


# -- Gemm and MatMul ------------------------------------------------------------------------


@pytest.mark.parametrize("trans_a", [0, 1])
@pytest.mark.parametrize("trans_b", [0, 1])
def test_gemm_becomes_dense(tmp_path, trans_a, trans_b):
    # 5 rows of 3 features into 4; a transposed operand is stored the other way round.
    a_shape = [3, 5] if trans_a else [5, 3]
    b_shape = (4, 3) if trans_b else (3, 4)
    gemm = node("Gemm", ["x", "w", "c"], ["y"], "fc", transA=trans_a, transB=trans_b)
    model = load(
        tmp_path, [gemm], {"x": a_shape}, initializers=(const("w", b_shape), const("c", (4,)))
    )
    assert model.layers == (Dense("fc", 3, 4, rows=5, inputs=("x",)),)


def test_matmul_with_constant_weight_is_dense_over_all_leading_dims(tmp_path):
    matmul = node("MatMul", ["x", "w"], ["y"], "proj")
    model = load(tmp_path, [matmul], {"x": [2, 7, 16]}, initializers=(const("w", (16, 32)),))
    assert model.layers == (Dense("proj", 16, 32, rows=2 * 7, inputs=("x",)),)


def test_batched_matmul_of_two_computed_tensors(tmp_path):
    # Attention-style: keys arrive transposed; the Transpose is free and the MatMul reads
    # both tensors, its batch the product of the leading dims (2 x 3 heads).
    nodes = [
        node("Transpose", ["k"], ["kt"], "kt", perm=[0, 1, 3, 2]),
        node("MatMul", ["q", "kt"], ["y"], "scores"),
    ]
    model = load(tmp_path, nodes, {"q": [2, 3, 4, 5], "k": [2, 3, 6, 5]})
    assert model.layers == (MatMul("scores", 6, 4, 5, 6, inputs=("q", "k")),)
    assert [i.name for i in model.inputs] == ["q", "k"]


# -- pooling --------------------------------------------------------------------------------


def test_maxpool(tmp_path):
    pool = node("MaxPool", ["x"], ["y"], "pool", kernel_shape=[3, 3], strides=[2, 2])
    model = load(tmp_path, [pool], {"x": [1, 4, 9, 9]})
    assert model.layers == (Pool("pool", "maxpool", 4, 9, 9, 3, 3, stride=2, inputs=("x",)),)


def test_average_pool_with_pads_and_strides(tmp_path):
    pool = node(
        "AveragePool", ["x"], ["y"], "pool", kernel_shape=[3, 2], strides=[2, 3], pads=[1, 0, 1, 2]
    )
    (layer,) = load(tmp_path, [pool], {"x": [1, 4, 9, 10]}).layers
    assert layer == Pool(
        "pool", "avgpool", 4, 9, 10, 3, 2, stride=(2, 3), padding=(1, 0, 1, 2), inputs=("x",)
    )
    assert layer.output_shape == (1, 4, 5, 4)


@pytest.mark.parametrize(
    ("op", "kind"), [("GlobalAveragePool", "avgpool"), ("GlobalMaxPool", "maxpool")]
)
def test_global_pool_window_is_the_whole_input(tmp_path, op, kind):
    model = load(tmp_path, [node(op, ["x"], ["y"], "gap")], {"x": [1, 8, 7, 5]})
    assert model.layers == (Pool("gap", kind, 8, 7, 5, 7, 5, inputs=("x",)),)


def test_pool_ceil_mode_is_refused(tmp_path):
    pool = node("MaxPool", ["x"], ["y"], "pool", kernel_shape=[3, 3], strides=[2, 2], ceil_mode=1)
    with pytest.raises(WorkloadError, match="ceil_mode"):
        load(tmp_path, [pool], {"x": [1, 4, 8, 8]})


# -- element-wise ---------------------------------------------------------------------------


@pytest.mark.parametrize(("op", "kind"), [("Add", "add"), ("Mul", "mul")])
def test_binary_of_two_computed_tensors_reads_both(tmp_path, op, kind):
    # A residual: the conv's output combined with the graph input it read.
    nodes = [
        node("Conv", ["x", "w"], ["c"], "conv", pads=[1, 1, 1, 1]),
        node(op, ["c", "x"], ["y"], "res"),
    ]
    model = load(tmp_path, nodes, {"x": [1, 4, 6, 6]}, initializers=(const("w", (4, 4, 3, 3)),))
    assert model.layers == (
        Conv2d("conv", 4, 4, 6, 6, 3, 3, padding=1, inputs=("x",)),
        Elementwise("res", kind, (1, 4, 6, 6), inputs=("conv", "x")),
    )


def test_add_of_a_constant_bias_is_folded(tmp_path):
    nodes = [
        node("Conv", ["x", "w1"], ["c1"], "c1"),
        node("Add", ["c1", "bias"], ["biased"], "bias_add"),
        node("Conv", ["biased", "w2"], ["y"], "c2"),
    ]
    inits = (const("w1", (4, 3, 3, 3)), const("bias", (1, 4, 1, 1)), const("w2", (2, 4, 1, 1)))
    model = load(tmp_path, nodes, {"x": [1, 3, 8, 8]}, initializers=inits)
    assert model.layers == (
        Conv2d("c1", 3, 4, 8, 8, 3, 3, inputs=("x",)),
        Conv2d("c2", 4, 2, 6, 6, 1, 1, inputs=("c1",)),
    )


# -- activations ----------------------------------------------------------------------------

CLIP_BOUNDS = (
    numpy_helper.from_array(np.array(0.0, np.float32), "lo"),
    numpy_helper.from_array(np.array(6.0, np.float32), "hi"),
)


@pytest.mark.parametrize(("op", "extra"), [("Relu", []), ("Clip", ["lo", "hi"])])
def test_activation_fuses_into_the_conv_before_it(tmp_path, op, extra):
    nodes = [node("Conv", ["x", "w"], ["c"], "conv"), node(op, ["c", *extra], ["y"], "act")]
    model = load(
        tmp_path, nodes, {"x": [1, 3, 8, 8]}, initializers=(const("w", (4, 3, 3, 3)), *CLIP_BOUNDS)
    )
    assert model.layers == (Conv2d("conv", 3, 4, 8, 8, 3, 3, activation=op.lower(), inputs=("x",)),)


def test_relu_not_fused_when_the_conv_output_has_another_reader(tmp_path):
    # The Add reads the conv's output before the ReLU, so it cannot be applied on the way out.
    nodes = [
        node("Conv", ["x", "w"], ["c"], "conv"),
        node("Relu", ["c"], ["r"], "relu"),
        node("Add", ["r", "c"], ["y"], "add"),
    ]
    model = load(tmp_path, nodes, {"x": [1, 3, 8, 8]}, initializers=(const("w", (4, 3, 3, 3)),))
    assert model.layers == (
        Conv2d("conv", 3, 4, 8, 8, 3, 3, inputs=("x",)),
        Elementwise("relu", "relu", (1, 4, 6, 6), inputs=("conv",)),
        Elementwise("add", "add", (1, 4, 6, 6), inputs=("relu", "conv")),
    )


def test_relu_on_a_graph_input_is_standalone(tmp_path):
    model = load(tmp_path, [node("Relu", ["x"], ["y"], "relu")], {"x": [2, 16]})
    assert model.layers == (Elementwise("relu", "relu", (2, 16), inputs=("x",)),)


def test_clip_after_a_standalone_relu_is_a_layer_of_its_own(tmp_path):
    # A standalone relu layer cannot carry an activation, so the Clip must not fuse into it.
    nodes = [node("Relu", ["x"], ["r"], "relu"), node("Clip", ["r", "lo", "hi"], ["y"], "clip")]
    model = load(tmp_path, nodes, {"x": [2, 16]}, initializers=CLIP_BOUNDS)
    assert model.layers == (
        Elementwise("relu", "relu", (2, 16), inputs=("x",)),
        Elementwise("clip", "clip", (2, 16), inputs=("relu",)),
    )


# -- free ops -------------------------------------------------------------------------------


def test_free_ops_vanish_and_the_next_layer_reads_the_one_before(tmp_path):
    nodes = [
        node("Conv", ["x", "w1"], ["c1"], "c1", pads=[1, 1, 1, 1]),
        node("BatchNormalization", ["c1", "s", "b", "m", "v"], ["bn"], "bn"),
        node("Relu", ["bn"], ["r"], "relu"),  # fuses through the folded batch norm
        node("Dropout", ["r"], ["d"], "drop"),
        node("Identity", ["d"], ["i"], "id"),
        node("Transpose", ["i"], ["t"], "tr", perm=[0, 1, 3, 2]),
        node("Conv", ["t", "w2"], ["c2"], "c2", strides=[2, 2], pads=[1, 1, 1, 1]),
        node("Flatten", ["c2"], ["f"], "flat"),
        node("Reshape", ["f", "shape"], ["rs"], "reshape"),
        node("Gemm", ["rs", "w3"], ["y"], "fc"),
    ]
    weights = (const("w1", (4, 3, 3, 3)), const("w2", (6, 4, 3, 3)), const("w3", (96, 10)))
    inits = (*weights, ints("shape", [1, -1]), *(const(name, (4,)) for name in "sbmv"))
    model = load(tmp_path, nodes, {"x": [1, 3, 8, 8]}, initializers=inits)
    assert model.layers == (
        Conv2d("c1", 3, 4, 8, 8, 3, 3, padding=1, activation="relu", inputs=("x",)),
        Conv2d("c2", 4, 6, 8, 8, 3, 3, stride=2, padding=1, inputs=("c1",)),
        Dense("fc", 96, 10, inputs=("c2",)),
    )


# -- unsupported operators ------------------------------------------------------------------


def unsupported_graph(tmp_path: Path) -> Path:
    """Three 1x1 convs with Softmax, LayerNormalization, Softmax and Tanh between them."""
    nodes = [
        node("Conv", ["x", "w"], ["c1"], "c1"),
        node("Softmax", ["c1"], ["s1"], "sm1", axis=1),
        node("Conv", ["s1", "w"], ["c2"], "c2"),
        node("LayerNormalization", ["c2", "scale"], ["n"], "ln"),
        node("Softmax", ["n"], ["s2"], "sm2", axis=1),
        node("Tanh", ["s2"], ["t"], "tanh"),
        node("Conv", ["t", "w"], ["y"], "c3"),
    ]
    inits = (const("w", (4, 4, 1, 1)), const("scale", (8,)))
    return save(tmp_path, nodes, {"x": [1, 4, 8, 8]}, initializers=inits)


def test_unsupported_ops_are_listed_in_one_error(tmp_path):
    with pytest.raises(WorkloadError) as caught:
        import_onnx(unsupported_graph(tmp_path))
    message = str(caught.value)
    for part in ("Softmax x2 (sm1, sm2)", "LayerNormalization x1 (ln)", "Tanh x1 (tanh)"):
        assert part in message
    assert "--skip-unsupported" in message


def test_skip_unsupported_bridges_the_skipped_ops_and_notes_them(tmp_path):
    model = import_onnx(unsupported_graph(tmp_path), skip_unsupported=True)
    conv = Conv2d("c1", 4, 4, 8, 8, 1, 1, inputs=("x",))
    assert model.layers == (
        conv,
        replace(conv, name="c2", inputs=("c1",)),
        replace(conv, name="c3", inputs=("c2",)),
    )
    (note,) = model.notes
    for part in ("skipped", "Softmax x2", "LayerNormalization x1", "Tanh x1"):
        assert part in note


def test_a_skipped_op_keeps_activations_from_fusing_across_it(tmp_path):
    nodes = [
        node("Conv", ["x", "w"], ["c"], "conv"),
        node("Tanh", ["c"], ["t"], "tanh"),
        node("Relu", ["t"], ["y"], "relu"),
    ]
    model = load(
        tmp_path,
        nodes,
        {"x": [1, 4, 6, 6]},
        initializers=(const("w", (4, 4, 1, 1)),),
        skip_unsupported=True,
    )
    # The Relu acts on tanh(conv), not on the conv's output: it stays a layer of its own.
    assert model.layers == (
        Conv2d("conv", 4, 4, 6, 6, 1, 1, inputs=("x",)),
        Elementwise("relu", "relu", (1, 4, 6, 6), inputs=("conv",)),
    )


def test_a_skipped_op_that_changes_shape_leaves_its_reader_free_standing(tmp_path):
    nodes = [
        node("Conv", ["x", "w1"], ["c1"], "c1"),
        node("Concat", ["c1", "c1"], ["cat"], "cat", axis=1),
        node("Conv", ["cat", "w2"], ["y"], "c2"),
    ]
    path = save(
        tmp_path,
        nodes,
        {"x": [1, 3, 6, 6]},
        initializers=(const("w1", (8, 3, 1, 1)), const("w2", (4, 16, 1, 1))),
    )
    with pytest.raises(WorkloadError, match="Concat x1 \\(cat\\)"):
        import_onnx(path)
    model = import_onnx(path, skip_unsupported=True)
    # The concat doubles the channels, so c2 cannot read c1: it reads a tensor of its own.
    assert model.layers == (
        Conv2d("c1", 3, 8, 6, 6, 1, 1, inputs=("x",)),
        Conv2d("c2", 16, 4, 6, 6, 1, 1),
    )
    assert "Concat x1" in model.notes[0]


def test_a_custom_domain_op_is_listed_and_skippable(tmp_path):
    gelu = helper.make_node("Gelu", ["c"], ["g"], name="gelu", domain="com.microsoft")
    nodes = [node("Conv", ["x", "w"], ["c"], "conv"), gelu, node("Conv", ["g", "w"], ["y"], "c2")]
    graph = helper.make_graph(
        nodes,
        "net",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4, 5, 5])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
        initializer=[const("w", (4, 4, 1, 1))],
    )
    proto = helper.make_model(
        graph,
        opset_imports=[helper.make_opsetid("", OPSET), helper.make_opsetid("com.microsoft", 1)],
    )
    path = tmp_path / "custom.onnx"
    onnx.save(proto, str(path))
    with pytest.raises(WorkloadError, match="Gelu x1 \\(gelu\\)"):
        import_onnx(path)
    model = import_onnx(path, skip_unsupported=True)
    # ONNX cannot infer a custom op's shape; the skipped op keeps its input's.
    assert [layer.inputs for layer in model.layers] == [("x",), ("conv",)]


def test_gemm_with_a_constant_left_operand_is_dense(tmp_path):
    nodes = [node("Gemm", ["w", "x"], ["y"], "left")]
    model = load(tmp_path, nodes, {"x": [5, 3]}, initializers=(const("w", (8, 5)),))
    assert model.layers == (Dense("left", 5, 8, rows=3, inputs=("x",)),)


def test_weights_given_as_graph_inputs_are_weights_for_matmul(tmp_path):
    nodes = [node("MatMul", ["x", "w"], ["y"], "proj")]
    path = save(tmp_path, nodes, {"x": ["N", 7, 16], "w": [16, 4]})
    model = import_onnx(path, batch=3)
    assert model.layers == (Dense("proj", 16, 4, rows=21, inputs=("x",)),)
    assert [i.name for i in model.inputs] == ["x"]


def test_pytorch_style_flatten_through_shape_arithmetic_folds_away(tmp_path):
    # x.view(x.size(0), -1) exports as Shape -> Gather -> Unsqueeze -> Concat -> Reshape.
    nodes = [
        node("Conv", ["x", "w"], ["c"], "conv"),
        node("Relu", ["c"], ["r"], "relu"),
        node("Shape", ["r"], ["shape"], "shape"),
        node("Gather", ["shape", "zero"], ["n"], "gather", axis=0),
        node("Unsqueeze", ["n", "axes"], ["n1"], "unsqueeze"),
        node("Concat", ["n1", "minus_one"], ["target"], "concat", axis=0),
        node("Reshape", ["r", "target"], ["flat"], "reshape"),
        node("Gemm", ["flat", "fc_w"], ["y"], "fc", transB=1),
    ]
    inits = (
        const("w", (4, 3, 1, 1)),
        numpy_helper.from_array(np.array(0, np.int64), "zero"),
        ints("axes", [0]),
        ints("minus_one", [-1]),
        const("fc_w", (10, 64)),
    )
    model = load(tmp_path, nodes, {"x": [2, 3, 4, 4]}, initializers=inits)
    # The Shape read does not count as a second reader: the Relu still fuses.
    assert model.layers == (
        Conv2d("conv", 3, 4, 4, 4, 1, 1, batch=2, activation="relu", inputs=("x",)),
        Dense("fc", 64, 10, rows=2, inputs=("conv",)),
    )


def test_gemm_with_a_computed_right_operand_is_a_matmul(tmp_path):
    nodes = [
        node("Gemm", ["a", "wa"], ["p"], "proj"),
        node("Gemm", ["a", "p"], ["y"], "product"),
    ]
    model = load(tmp_path, nodes, {"a": [6, 6]}, initializers=(const("wa", (6, 5)),))
    assert model.layers == (
        Dense("proj", 6, 5, rows=6, inputs=("a",)),
        MatMul("product", 1, 6, 6, 5, inputs=("a", "proj")),
    )


def test_matmul_with_a_constant_left_operand_is_dense(tmp_path):
    # W (8 x 5) @ x (5 x 3) = (x^T W^T)^T: 3 rows of 5 inputs, 8 outputs each.
    nodes = [node("MatMul", ["w", "x"], ["y"], "left")]
    model = load(tmp_path, nodes, {"x": [5, 3]}, initializers=(const("w", (8, 5)),))
    assert model.layers == (Dense("left", 5, 8, rows=3, inputs=("x",)),)
    assert model.macs == 8 * 5 * 3


# -- the batch dimension --------------------------------------------------------------------


def conv_file(tmp_path: Path, x_shape: list, weights_as_inputs: bool = False) -> Path:
    conv = node("Conv", ["x", "w"], ["y"], "conv")
    if weights_as_inputs:
        return save(tmp_path, [conv], {"x": x_shape, "w": [8, 3, 3, 3]})
    return save(tmp_path, [conv], {"x": x_shape}, initializers=(const("w", (8, 3, 3, 3)),))


def test_symbolic_batch_takes_batch_or_defaults_to_1(tmp_path):
    path = conv_file(tmp_path, ["N", 3, 8, 8])
    one, four = import_onnx(path), import_onnx(path, batch=4)
    assert one.layers == (Conv2d("conv", 3, 8, 8, 8, 3, 3, inputs=("x",)),)
    assert four.layers == (replace(one.layers[0], batch=4),)
    assert four.inputs == (ModelInput("x", (4, 3, 8, 8)),)
    assert four.layers[0].output_shape == (4, 8, 6, 6)
    assert four.macs == 4 * one.macs


def test_batch_cannot_override_a_fixed_batch(tmp_path):
    path = conv_file(tmp_path, [2, 3, 8, 8])
    assert import_onnx(path).layers[0].batch == 2
    with pytest.raises(WorkloadError, match="fixed batch of 2"):
        import_onnx(path, batch=4)


def test_symbolic_non_batch_dimension_is_refused(tmp_path):
    matmul = node("MatMul", ["x", "w"], ["y"], "proj")
    path = save(tmp_path, [matmul], {"x": [1, "seq", 16]}, initializers=(const("w", (16, 8)),))
    with pytest.raises(WorkloadError) as caught:
        import_onnx(path)
    assert "'x'" in str(caught.value) and "dimension 1 ('seq')" in str(caught.value)
    assert "--dim seq=VALUE" in str(caught.value)


def test_a_size_beyond_onnx_int64_is_refused(tmp_path):
    matmul = node("MatMul", ["x", "w"], ["y"], "proj")
    path = save(tmp_path, [matmul], {"x": ["N", "seq", 16]}, initializers=(const("w", (16, 8)),))
    with pytest.raises(WorkloadError, match="64-bit sizes"):
        import_onnx(path, dims={"seq": 10**22})
    with pytest.raises(WorkloadError, match="64-bit sizes"):
        import_onnx(path, batch=2**63, dims={"seq": 4})


def test_named_symbolic_dimensions_take_dim_values(tmp_path):
    matmul = node("MatMul", ["x", "w"], ["y"], "proj")
    path = save(tmp_path, [matmul], {"x": ["N", "seq", 16]}, initializers=(const("w", (16, 8)),))
    model = import_onnx(path, batch=2, dims={"seq": 12})
    assert model.layers == (Dense("proj", 16, 8, rows=24, inputs=("x",)),)
    with pytest.raises(WorkloadError, match="--dim length: no input"):
        import_onnx(path, dims={"seq": 12, "length": 3})
    with pytest.raises(WorkloadError, match="positive integer"):
        import_onnx(path, dims={"seq": 0})


def test_batch_leaves_weights_given_as_graph_inputs_alone(tmp_path):
    # Our exporter writes weights as shape-only graph inputs; their dim 0 is the output
    # channels, not a batch, so setting the data input's batch must not trip over them.
    path = conv_file(tmp_path, ["N", 3, 8, 8], weights_as_inputs=True)
    model = import_onnx(path, batch=4)
    assert model.layers == (Conv2d("conv", 3, 8, 8, 8, 3, 3, batch=4, inputs=("x",)),)


@pytest.mark.parametrize("batch", [0, -1])
def test_batch_must_be_positive(tmp_path, batch):
    # The zoo refuses --batch 0 ("batch must be a positive integer"); an ONNX file must
    # too, rather than run batch 1 (0) or blame the model's shapes (-1).
    with pytest.raises(WorkloadError, match="positive integer"):
        import_onnx(conv_file(tmp_path, ["N", 3, 8, 8]), batch=batch)


# -- the command line -----------------------------------------------------------------------


def malformed(kind: str, tmp_path: Path) -> Path:
    path = tmp_path / f"{kind}.onnx"
    if kind == "truncated":
        data = conv_file(tmp_path, [1, 3, 8, 8]).read_bytes()
        path.write_bytes(data[: len(data) // 2])
    elif kind == "text":
        path.write_text("this is a shopping list, not an ONNX model\n" * 10)
    elif kind == "no_shape":
        save(tmp_path, [node("Relu", ["x"], ["y"], "relu")], {"x": None}, name=kind)
    return path  # "missing": never written


@pytest.mark.parametrize("kind", ["truncated", "text", "no_shape", "missing"])
def test_malformed_onnx_is_one_error_line_naming_the_file(tmp_path, capsys, kind):
    path = malformed(kind, tmp_path)
    code = main(["layers", str(path)])
    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith("error:") and err.count("\n") == 1, err
    assert str(path) in err
    assert "Traceback" not in err


def test_layers_command_writes_json(tmp_path, capsys):
    nodes = [
        node("Conv", ["x", "w"], ["c"], "conv", pads=[1, 1, 1, 1]),
        node("Relu", ["c"], ["r"], "relu"),
        node("GlobalAveragePool", ["r"], ["g"], "gap"),
        node("Flatten", ["g"], ["f"], "flat"),
        node("Gemm", ["f", "fw"], ["y"], "fc"),
    ]
    inits = (const("w", (8, 3, 3, 3)), const("fw", (8, 10)))
    path = save(tmp_path, nodes, {"x": [1, 3, 8, 8]}, initializers=inits, name="tiny")
    out = tmp_path / "out.json"
    assert main(["layers", str(path), "--json", str(out)]) == 0
    assert "conv" in capsys.readouterr().out
    record = json.loads(out.read_text())
    assert record["model"] == "tiny"
    # conv: 8x8x8 outputs x 27 MACs each; pooling costs none; fc: 8 x 10.
    assert [(r["name"], r["op"], r["macs"]) for r in record["layers"]] == [
        ("conv", "conv2d", 8 * 8 * 8 * 27),
        ("gap", "avgpool", 0),
        ("fc", "dense", 80),
    ]


def test_lower_and_analyze_both_warn_of_skipped_operators(tmp_path, capsys):
    # The trace's notes keep what --skip-unsupported left out; whoever analyzes the trace
    # later is told as well as whoever lowered it.
    model = unsupported_graph(tmp_path)
    argv = ["lower", "--accelerator", "systolic", "--model", str(model), "--skip-unsupported"]
    assert main([*argv, "-o", str(tmp_path / "traces")]) == 0
    lowered = capsys.readouterr()
    assert main(["analyze", lowered.out.strip()]) == 0
    analyzed = capsys.readouterr()
    for err in (lowered.err, analyzed.err):
        [warning] = [line for line in err.splitlines() if line.startswith("warning: ")]
        assert warning.startswith(f"warning: {SKIPPED_NOTE}: ")
        assert "Softmax x2 (sm1, sm2)" in warning and "Tanh x1 (tanh)" in warning


def test_selecting_layers_keeps_the_skipped_operator_note(tmp_path):
    from tracer.lowering import select_layers

    model = import_onnx(unsupported_graph(tmp_path), skip_unsupported=True)
    subset = select_layers(model, ["c2"])
    assert subset.notes == model.notes
    # c2 still reads what it read, its dropped producer's output now a model input.
    (c2,) = subset.layers
    assert c2.inputs == ("c1",)
    assert subset.inputs == (*model.inputs, ModelInput("c1", model.layers[0].output_shape))
