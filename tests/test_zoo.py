"""The model zoo: ResNet-50's structure, shapes and MAC count, and the lookup API."""

from __future__ import annotations

import pytest

from tracer.errors import WorkloadError
from tracer.workloads.layers import Conv2d, Dense, Layer
from tracer.workloads.zoo import MODELS, ModelEntry, build_model, resnet50

STAGE_BLOCKS = {1: 3, 2: 4, 3: 6, 4: 3}
STAGE_WIDTHS = {1: 64, 2: 128, 3: 256, 4: 512}


def _by_name(layers: tuple[Layer, ...]) -> dict[str, Layer]:
    return {layer.name: layer for layer in layers}


def _conv(layers: dict[str, Layer], name: str) -> Conv2d:
    layer = layers[name]
    assert isinstance(layer, Conv2d)
    return layer


def test_resnet50_counts_and_names() -> None:
    model = resnet50()
    assert model.name == "resnet50"
    # 53 convs, the stem maxpool, 16 residual adds, the global avgpool and fc.
    assert len(model.layers) == 72
    assert sum(isinstance(layer, Conv2d) for layer in model.layers) == 53
    kinds = [layer.kind for layer in model.layers]
    assert (kinds.count("maxpool"), kinds.count("add"), kinds.count("avgpool")) == (1, 16, 1)
    names = [layer.name for layer in model.layers]
    assert len(set(names)) == len(names)
    assert names[0] == "conv1"
    assert names[-1] == "fc"
    assert isinstance(model.layers[-1], Dense)
    # 3 convs per block plus one downsample per stage: 3 * 16 + 4 + stem = 53.
    assert sum(STAGE_BLOCKS.values()) == 16
    assert {name for name in names if name.endswith("downsample")} == {
        f"layer{stage}.0.downsample" for stage in STAGE_BLOCKS
    }


def test_resnet50_execution_order() -> None:
    expected = ["conv1", "maxpool"]
    for stage, blocks in STAGE_BLOCKS.items():
        for block in range(blocks):
            prefix = f"layer{stage}.{block}"
            expected += [f"{prefix}.conv1", f"{prefix}.conv2", f"{prefix}.conv3"]
            if block == 0:
                expected.append(f"{prefix}.downsample")
            expected.append(f"{prefix}.add")
    expected += ["avgpool", "fc"]
    assert [layer.name for layer in resnet50().layers] == expected


def test_resnet50_stem() -> None:
    stem = _conv(_by_name(resnet50().layers), "conv1")
    assert (stem.in_channels, stem.out_channels) == (3, 64)
    assert (stem.in_height, stem.in_width) == (224, 224)
    assert (stem.kernel_height, stem.kernel_width, stem.stride, stem.padding) == (
        7,
        7,
        (2, 2),
        (3, 3, 3, 3),
    )
    # (224 + 2*3 - 7) // 2 + 1 = 112
    assert (stem.out_height, stem.out_width) == (112, 112)


def test_resnet50_spot_shapes() -> None:
    layers = _by_name(resnet50().layers)
    # The maxpool (3x3/2, pad 1) halves the stem's 112 to 56 before layer1.
    first = _conv(layers, "layer1.0.conv1")
    assert (first.in_channels, first.out_channels, first.in_height) == (64, 64, 56)

    conv2 = _conv(layers, "layer2.0.conv2")
    assert (conv2.in_channels, conv2.out_channels) == (128, 128)
    assert (conv2.in_height, conv2.in_width) == (56, 56)
    assert (conv2.kernel_height, conv2.stride, conv2.padding) == (3, (2, 2), (1, 1, 1, 1))
    # (56 + 2 - 3) // 2 + 1 = 28
    assert (conv2.out_height, conv2.out_width) == (28, 28)

    # v1.5: the block's conv1 is not strided.
    conv1 = _conv(layers, "layer2.0.conv1")
    assert (conv1.in_channels, conv1.out_channels, conv1.stride, conv1.in_height) == (
        256,
        128,
        (1, 1),
        56,
    )

    down = _conv(layers, "layer2.0.downsample")
    assert (down.in_channels, down.out_channels, down.kernel_height) == (256, 512, 1)
    assert (down.stride, down.padding, down.in_height, down.out_height) == (
        (2, 2),
        (0, 0, 0, 0),
        56,
        28,
    )

    # layer1's downsample only widens channels: stride 1.
    down1 = _conv(layers, "layer1.0.downsample")
    assert (down1.in_channels, down1.out_channels, down1.stride) == (64, 256, (1, 1))

    last = _conv(layers, "layer4.2.conv3")
    assert (last.in_channels, last.out_channels, last.out_height, last.out_width) == (
        512,
        2048,
        7,
        7,
    )

    fc = layers["fc"]
    assert isinstance(fc, Dense)
    assert (fc.in_features, fc.out_features, fc.rows) == (2048, 1000, 1)


def test_resnet50_blocks_chain() -> None:
    """Each block consumes what the previous produced, and its residual add is well-shaped."""
    layers = _by_name(resnet50().layers)
    stem = _conv(layers, "conv1")
    channels, size = stem.out_channels, 56
    for stage, blocks in STAGE_BLOCKS.items():
        width = STAGE_WIDTHS[stage]
        for block in range(blocks):
            prefix = f"layer{stage}.{block}"
            c1 = _conv(layers, f"{prefix}.conv1")
            c2 = _conv(layers, f"{prefix}.conv2")
            c3 = _conv(layers, f"{prefix}.conv3")
            assert (c1.in_channels, c1.in_height, c1.in_width) == (channels, size, size)
            assert c1.out_channels == c2.in_channels == c2.out_channels == width
            assert (c2.in_height, c2.in_width) == (c1.out_height, c1.out_width)
            assert c2.stride == ((2, 2) if block == 0 and stage > 1 else (1, 1))
            assert c3.in_channels == width and c3.out_channels == 4 * width
            assert (c3.in_height, c3.in_width) == (c2.out_height, c2.out_width)
            out_shape = (c3.out_channels, c3.out_height, c3.out_width)
            identity = f"{prefix}.downsample"
            if identity in layers:
                down = _conv(layers, identity)
                assert (down.in_channels, down.in_height, down.in_width) == (
                    channels,
                    size,
                    size,
                )
                assert (down.out_channels, down.out_height, down.out_width) == out_shape
            else:
                assert (channels, size, size) == out_shape
            channels, size = out_shape[0], out_shape[1]
    assert (channels, size) == (2048, 7)


def test_resnet50_macs() -> None:
    model = resnet50()
    layers = _by_name(model.layers)
    # Hand-worked: 112*112 outputs x 64 filters x 7*7*3 window.
    assert layers["conv1"].macs == 112 * 112 * 64 * 147 == 118_013_952
    assert layers["fc"].macs == 2048 * 1000
    # Stride 2 on 56x56: 28*28 outputs x 128 filters x 3*3*128 window.
    assert layers["layer2.0.conv2"].macs == 28 * 28 * 128 * 9 * 128
    assert model.macs == sum(layer.macs for layer in model.layers)
    assert 4.08e9 <= model.macs <= 4.12e9
    assert model.macs == 4_089_184_256


@pytest.mark.parametrize("batch", [2, 3, 8])
def test_batch_scales_linearly(batch: int) -> None:
    single = resnet50()
    batched = resnet50(batch)
    assert batched.macs == batch * single.macs
    for one, many in zip(single.layers, batched.layers, strict=True):
        assert one.name == many.name
        assert many.macs == batch * one.macs
        assert many.output_shape[0] == batch * one.output_shape[0]


def test_build_model_matches_builder() -> None:
    assert build_model("resnet50") == resnet50()
    assert build_model("resnet50", batch=4) == resnet50(4)


def test_models_registry() -> None:
    assert "resnet50" in MODELS
    for key, entry in MODELS.items():
        assert isinstance(entry, ModelEntry)
        assert entry.name == key
        assert entry.description.strip()
        assert entry.builder(batch=1).name == key


def test_unknown_model() -> None:
    with pytest.raises(WorkloadError) as excinfo:
        build_model("resnet5")
    message = str(excinfo.value)
    assert "'resnet5'" in message
    assert (
        "available: bert_base, mobilenet_v2, resnet18, resnet50, tc_resnet8, tc_resnet8_ut, "
        "vgg16" in message
    )


@pytest.mark.parametrize("batch", [0, -1, 1.5, True, "2"])
def test_bad_batch(batch: object) -> None:
    with pytest.raises(WorkloadError, match="batch must be a positive integer"):
        build_model("resnet50", batch=batch)  # type: ignore[arg-type]
    with pytest.raises(WorkloadError, match="batch must be a positive integer"):
        resnet50(batch)  # type: ignore[arg-type]


def test_impossible_layer_shapes_are_refused():
    from tracer.errors import WorkloadError
    from tracer.workloads.layers import Conv2d, Dense

    for bad in (
        dict(padding=True),
        dict(padding=-1),
        dict(in_channels=0),
        dict(groups=3),  # does not divide 4 in / 8 out channels
        dict(kernel_height=9),  # larger than the padded 6x6 input
    ):
        shape = dict(
            name="c",
            in_channels=4,
            out_channels=8,
            in_height=6,
            in_width=6,
            kernel_height=3,
            kernel_width=3,
        )
        shape.update(bad)
        with pytest.raises(WorkloadError, match="layer 'c'"):
            Conv2d(**shape)
    with pytest.raises(WorkloadError, match="in_features"):
        Dense("d", in_features=0, out_features=3)
