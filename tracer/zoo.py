"""Built-in model zoo: named networks the CLI can trace without a user-written description."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from tracer.errors import WorkloadError
from tracer.layers import Conv2d, Dense, Layer, Model

# ResNet-50 follows torchvision's definition (torchvision/models/resnet.py: the `Bottleneck`
# class and `ResNet._make_layer`), i.e. "v1.5": the stride sits on the 3x3 conv2 rather than on
# conv1 as in the original paper, and a block gets a 1x1 strided downsample conv when its stride
# is not 1 or its channel count changes (so every stage's first block, layer1.0 included).
# Batch norm, ReLU, the residual additions, maxpool and avgpool do no MACs on a systolic array
# and are not layers here; only their effect on tensor shapes is kept.

_RESNET50_INPUT = 224
_RESNET50_STEM_CHANNELS = 64
_RESNET50_EXPANSION = 4
# (bottleneck width, number of blocks, stride of the stage's first block)
_RESNET50_STAGES: tuple[tuple[int, int, int], ...] = (
    (64, 3, 1),
    (128, 4, 2),
    (256, 6, 2),
    (512, 3, 2),
)
_RESNET50_CLASSES = 1000

# torchvision's stem maxpool: kernel 3, stride 2, padding 1 (112x112 -> 56x56).
_MAXPOOL_KERNEL, _MAXPOOL_STRIDE, _MAXPOOL_PADDING = 3, 2, 1


def _check_batch(batch: int) -> None:
    # bool is an int subclass; accepting True as batch 1 would hide a caller's bug.
    if not isinstance(batch, int) or isinstance(batch, bool) or batch < 1:
        raise WorkloadError(f"batch must be a positive integer, got {batch!r}")


def _pooled(size: int) -> int:
    return (size + 2 * _MAXPOOL_PADDING - _MAXPOOL_KERNEL) // _MAXPOOL_STRIDE + 1


def _square_conv(
    name: str,
    in_channels: int,
    out_channels: int,
    size: int,
    kernel: int,
    batch: int,
    stride: int = 1,
    padding: int = 0,
) -> Conv2d:
    # Every ResNet-50 conv has a square kernel on a square input.
    return Conv2d(
        name=name,
        in_channels=in_channels,
        out_channels=out_channels,
        in_height=size,
        in_width=size,
        kernel_height=kernel,
        kernel_width=kernel,
        stride=stride,
        padding=padding,
        batch=batch,
    )


def _bottleneck(
    prefix: str, in_channels: int, width: int, size: int, stride: int, batch: int
) -> tuple[list[Layer], int, int]:
    """One torchvision Bottleneck; returns its layers, output channels and output size."""
    out_channels = width * _RESNET50_EXPANSION
    conv1 = _square_conv(f"{prefix}.conv1", in_channels, width, size, 1, batch)
    conv2 = _square_conv(f"{prefix}.conv2", width, width, size, 3, batch, stride=stride, padding=1)
    conv3 = _square_conv(f"{prefix}.conv3", width, out_channels, conv2.out_height, 1, batch)
    layers: list[Layer] = [conv1, conv2, conv3]
    if stride != 1 or in_channels != out_channels:
        # torchvision's module path is `<prefix>.downsample.0` (a Sequential of conv + BN);
        # the BN does no MACs, so the conv takes the Sequential's name.
        layers.append(
            _square_conv(
                f"{prefix}.downsample", in_channels, out_channels, size, 1, batch, stride=stride
            )
        )
    return layers, out_channels, conv3.out_height


def resnet50(batch: int = 1) -> Model:
    """torchvision ResNet-50 on 224x224x3 images: 53 convolutions and the final fc."""
    _check_batch(batch)
    stem = _square_conv(
        "conv1", 3, _RESNET50_STEM_CHANNELS, _RESNET50_INPUT, 7, batch, stride=2, padding=3
    )
    layers: list[Layer] = [stem]
    channels = _RESNET50_STEM_CHANNELS
    size = _pooled(stem.out_height)
    for stage, (width, blocks, first_stride) in enumerate(_RESNET50_STAGES, start=1):
        for block in range(blocks):
            block_layers, channels, size = _bottleneck(
                f"layer{stage}.{block}",
                channels,
                width,
                size,
                first_stride if block == 0 else 1,
                batch,
            )
            layers.extend(block_layers)
    # Global average pooling leaves one `channels`-long vector per image.
    layers.append(Dense("fc", channels, _RESNET50_CLASSES, rows=batch))
    return Model("resnet50", tuple(layers))


@dataclass(frozen=True)
class ModelEntry:
    """A zoo model: its name, a one-line description and a `builder(batch=...)`."""

    name: str
    description: str
    builder: Callable[..., Model]


MODELS: dict[str, ModelEntry] = {
    entry.name: entry
    for entry in (
        ModelEntry(
            "resnet50",
            "ResNet-50 (torchvision v1.5), 224x224x3 input, 53 convs + fc",
            resnet50,
        ),
    )
}


def build_model(name: str, batch: int = 1) -> Model:
    """Build zoo model `name` for `batch` images; WorkloadError if either is invalid."""
    entry = MODELS.get(name)
    if entry is None:
        available = ", ".join(sorted(MODELS))
        raise WorkloadError(f"unknown model {name!r}; available: {available}")
    _check_batch(batch)
    return entry.builder(batch=batch)
