"""The zoo beyond ResNet-50's details: published MAC counts, each model's structure worked
by hand, graph consistency, options, and the ONNX round trip of every model."""

from __future__ import annotations

from math import prod
from pathlib import Path

import pytest

from tracer.errors import WorkloadError
from tracer.workloads.layers import Conv2d, Dense, Elementwise, Layer, MatMul, Model, Pool
from tracer.workloads.onnx_export import to_onnx, write_onnx
from tracer.workloads.onnx_import import import_onnx
from tracer.workloads.zoo import (
    MODELS,
    bert_base,
    build_model,
    mobilenet_v2,
    resnet18,
    tc_resnet8,
    tc_resnet8_ut,
    vgg16,
)

# Published figures are rounded (e.g. "300M", "3.0M FLOPs"); 2% covers their rounding and
# nothing else: a missing layer of any of these models moves the count by more.
PUBLISHED_TOLERANCE = 0.02


def _by_name(model: Model) -> dict[str, Layer]:
    return {layer.name: layer for layer in model.layers}


def _kinds(model: Model) -> list[str]:
    return [layer.kind for layer in model.layers]


@pytest.mark.parametrize("name", sorted(MODELS))
def test_macs_match_the_published_figure(name: str) -> None:
    entry = MODELS[name]
    macs = build_model(name).macs
    assert abs(macs - entry.published.macs) / entry.published.macs < PUBLISHED_TOLERANCE, (
        f"{name}: {macs:,} vs published {entry.published.macs:,.0f} ({entry.published.source})"
    )


@pytest.mark.parametrize("name", sorted(MODELS))
@pytest.mark.parametrize("batch", [1, 3])
def test_graph_is_connected_and_batch_scales(name: str, batch: int) -> None:
    model = build_model(name, batch=batch)
    # Model() checks every read against its producer's element count on construction; here:
    # every layer but the free-standing none reads something, and only the last is unread.
    assert all(layer.inputs for layer in model.layers)
    read = {source for layer in model.layers for source in layer.inputs}
    unread = [layer.name for layer in model.layers if layer.name not in read]
    assert unread == [model.layers[-1].name]
    assert model.macs == batch * build_model(name).macs


def test_resnet18_structure() -> None:
    model = resnet18()
    layers = _by_name(model)
    convs = [layer for layer in model.layers if isinstance(layer, Conv2d)]
    # stem + 8 basic blocks of 2 convs + 3 downsamples (stages 2-4; stage 1 keeps 64 channels)
    assert len(convs) == 1 + 16 + 3
    assert "layer1.0.downsample" not in layers
    assert _kinds(model).count("add") == 8
    last = layers["layer4.1.conv2"]
    assert isinstance(last, Conv2d) and last.output_shape == (1, 512, 7, 7)
    fc = layers["fc"]
    assert isinstance(fc, Dense) and (fc.in_features, fc.out_features) == (512, 1000)


def test_vgg16_structure() -> None:
    model = vgg16()
    convs = [layer for layer in model.layers if isinstance(layer, Conv2d)]
    assert len(convs) == 13
    assert [layer.kind for layer in model.layers].count("maxpool") == 5
    assert all(c.activation == "relu" and c.kernel_height == 3 for c in convs)
    fc1 = _by_name(model)["fc1"]
    # 512 channels x 7 x 7 after the fifth pool.
    assert isinstance(fc1, Dense) and (fc1.in_features, fc1.out_features) == (25088, 4096)
    # Hand-worked: conv1_2 is 224*224 outputs x 64 filters x 3*3*64 window.
    assert _by_name(model)["conv2"].macs == 224 * 224 * 64 * 576


def test_mobilenet_v2_structure() -> None:
    model = mobilenet_v2()
    layers = _by_name(model)
    depthwise = [c for c in model.layers if isinstance(c, Conv2d) and c.groups > 1]
    assert len(depthwise) == 17  # one per inverted residual block
    assert all(c.groups == c.in_channels == c.out_channels for c in depthwise)
    # t = 1 in the first block: no expansion conv there.
    assert "features.1.expand" not in layers and "features.2.expand" in layers
    # Residual adds where stride is 1 and channels stay: 1 + 2 + 3 + 2 + 2 of the repeats.
    assert _kinds(model).count("add") == 10
    # Projections are linear; everything else ReLU6.
    assert layers["features.2.project"].activation is None
    assert layers["features.2.expand"].activation == "clip"
    head = layers["features.18"]
    assert isinstance(head, Conv2d) and head.output_shape == (1, 1280, 7, 7)
    # features.2 depthwise: 112 -> 56 at stride 2, 96 channels, 9 MACs per output.
    dw = layers["features.2.depthwise"]
    assert dw.output_shape == (1, 96, 56, 56) and dw.macs == 96 * 56 * 56 * 9


def test_tc_resnet8_structure() -> None:
    model = tc_resnet8()
    layers = _by_name(model)
    # Time (height) shrinks 98 -> 49 -> 25 -> 13 through the stride-2 blocks (SAME padding).
    lengths = [layers[f"block{b}.conv2"].output_shape[2] for b in (1, 2, 3)]
    assert lengths == [49, 25, 13]
    conv0 = layers["conv0"]
    assert isinstance(conv0, Conv2d)
    assert conv0.input_shapes[0] == (1, 40, 98, 1) and conv0.padding == (1, 0, 1, 0)
    # SAME with an even total pad of 7 for 98 -> 49 at kernel 9: 3 before, 4 after.
    assert layers["block1.conv1"].padding == (3, 0, 4, 0)
    fc = layers["fc"]
    assert isinstance(fc, Dense) and (fc.in_features, fc.out_features) == (48, 12)
    # The paper's parameter count (66K with batch norm statistics) pins the weights: 64,512.
    weights = sum(
        c.out_channels * c.in_channels * c.kernel_height * c.kernel_width
        for c in model.layers
        if isinstance(c, Conv2d)
    )
    assert weights + 48 * 12 == 64_512


@pytest.mark.parametrize("seq_len", [16, 128, 384])
def test_bert_base_follows_the_closed_form(seq_len: int) -> None:
    model = bert_base(seq_len=seq_len)
    hidden = 768
    # Narayanan et al. 2021: forward MACs per layer 12 s h^2 + 2 s^2 h.
    assert model.macs == 12 * seq_len * hidden**2 + 2 * seq_len**2 * hidden
    scores = _by_name(model)["attention.scores"]
    assert isinstance(scores, MatMul)
    assert (scores.batch, scores.m, scores.k, scores.n) == (12, seq_len, 64, seq_len)
    assert scores.inputs == ("attention.query", "attention.key")


def test_model_options_are_checked() -> None:
    assert build_model("bert_base", options={"seq_len": 64}).macs == bert_base(seq_len=64).macs
    with pytest.raises(WorkloadError, match="no option seq_len.*options: none"):
        build_model("resnet50", options={"seq_len": 64})
    with pytest.raises(WorkloadError, match="seq_len must be a positive integer"):
        build_model("bert_base", options={"seq_len": 0})


@pytest.mark.parametrize("name", sorted(MODELS))
def test_onnx_round_trip_gives_the_same_layers(name: str, tmp_path: Path) -> None:
    model = build_model(name, batch=2)
    path = tmp_path / f"{name}.onnx"
    write_onnx(model, path)
    assert import_onnx(path) == model


@pytest.mark.parametrize("name", ["resnet50", "tc_resnet8"])
def test_exported_graph_declares_every_shape(name: str) -> None:
    proto = to_onnx(build_model(name))
    # Only Conv/Gemm/MatMul/pool/Add/Relu/Clip and layout Reshapes appear.
    ops = {node.op_type for node in proto.graph.node}
    assert ops <= {
        "Conv",
        "Gemm",
        "MatMul",
        "MaxPool",
        "AveragePool",
        "Add",
        "Mul",
        "Relu",
        "Clip",
        "Reshape",
    }
    known = {value.name for value in [*proto.graph.value_info, *proto.graph.output]}
    assert all(output in known for node in proto.graph.node for output in node.output)


def test_model_graph_errors_name_the_layer() -> None:
    conv = Conv2d("c", 3, 8, 8, 8, 3, 3, inputs=("x",))
    with pytest.raises(WorkloadError, match="'c' reads 'x', which is neither"):
        Model("m", (conv,))
    add = Elementwise("a", "add", (1, 8, 6, 6), inputs=("c",))
    with pytest.raises(WorkloadError, match="takes 2 input"):
        Model("m", (Conv2d("c", 3, 8, 8, 8, 3, 3), add))
    pool = Pool("p", "maxpool", 8, 5, 5, 2, 2, inputs=("c",))
    with pytest.raises(WorkloadError, match=f"expects {prod((1, 8, 5, 5))} elements"):
        Model("m", (Conv2d("c", 3, 8, 8, 8, 3, 3), pool))


def test_tc_resnet8_ut_structure() -> None:
    # hannah's conv-net-trax.yaml: 101 frames, conv0 kernel 3 unpadded without ReLU, blocks
    # of kernel-9 convs padded by 4 (the first at stride 2) and a 1x1 stride-2 shortcut run
    # before the second conv, so the add reads conv2 last.
    model = tc_resnet8_ut()
    layers = _by_name(model)
    conv0 = layers["conv0"]
    assert isinstance(conv0, Conv2d) and conv0.input_shapes[0] == (1, 40, 101, 1)
    assert conv0.padding == (0, 0, 0, 0) and conv0.activation is None
    lengths = [layers[f"block{b}.conv2"].output_shape[2] for b in (1, 2, 3)]
    assert lengths == [50, 25, 13]  # 99 -> 50 -> 25 -> 13 at stride 2, padding 4
    order = [layer.name for layer in model.layers]
    assert order.index("block1.shortcut") < order.index("block1.conv2") < order.index("block1.add")
    assert layers["block1.conv2"].activation is None and layers["block1.add"].activation == "relu"
    # MACs by hand: conv0 99 x 16 x 3 x 40; block1 50 x 24 x (9 x 16 + 1 x 16 + 9 x 24);
    # block2 25 x 32 x (9 x 24 + 24 + 9 x 32); block3 13 x 48 x (9 x 32 + 32 + 9 x 48); fc.
    by_hand = (
        99 * 16 * 3 * 40
        + 50 * 24 * (9 * 16 + 16 + 9 * 24)
        + 25 * 32 * (9 * 24 + 24 + 9 * 32)
        + 13 * 48 * (9 * 32 + 32 + 9 * 48)
        + 48 * 12
    )
    assert model.macs == by_hand == 1_533_504
