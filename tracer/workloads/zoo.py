"""Built-in model zoo: named networks the CLI can trace without a user-written description.

Each model is the inference graph as published: convolutions and GEMMs with their shapes,
the pooling and residual additions between them, and ReLU/ReLU6 recorded as the
activation of the layer they follow. Batch norm is folded into the preceding convolution
at inference and dropout is the identity, so neither is a layer. `PUBLISHED_MACS` holds
each model's MAC count as its authors published it; tests check ours against it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

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
    as_padding,
    as_pair,
    check_positive,
    same_padding,
)

Source = Layer | ModelInput
AnyLayer = TypeVar("AnyLayer", Conv2d, Dense, MatMul, Pool, Elementwise)


def _shape(source: Source) -> tuple[int, ...]:
    return source.shape if isinstance(source, ModelInput) else source.output_shape


class _Graph:
    """Appends layers in execution order, each reading the named sources' tensors."""

    def __init__(self, input_name: str, input_shape: tuple[int, ...]) -> None:
        _check_batch(input_shape[0])
        self.input = ModelInput(input_name, input_shape)
        self.layers: list[Layer] = []

    def _add(self, layer: AnyLayer) -> AnyLayer:
        self.layers.append(layer)
        return layer

    def conv(
        self,
        name: str,
        source: Source,
        out_channels: int,
        kernel: int | tuple[int, int],
        stride: int | tuple[int, int] = 1,
        padding: int | tuple[int, int, int, int] = 0,
        groups: int = 1,
        activation: str | None = None,
    ) -> Conv2d:
        batch, channels, height, width = _shape(source)
        kh, kw = (kernel, kernel) if isinstance(kernel, int) else kernel
        return self._add(
            Conv2d(
                name,
                channels,
                out_channels,
                height,
                width,
                kh,
                kw,
                stride=as_pair(name, "stride", stride),
                padding=as_padding(name, padding),
                groups=groups,
                batch=batch,
                activation=activation,
                inputs=(source.name,),
            )
        )

    def pool(
        self,
        name: str,
        source: Source,
        pool: str,
        kernel: int | None = None,
        stride: int = 1,
        padding: int = 0,
    ) -> Pool:
        """kernel None: global pooling over the whole input."""
        batch, channels, height, width = _shape(source)
        kh, kw = (height, width) if kernel is None else (kernel, kernel)
        return self._add(
            Pool(
                name,
                pool,
                channels,
                height,
                width,
                kh,
                kw,
                stride=as_pair(name, "stride", stride),
                padding=as_padding(name, padding),
                batch=batch,
                inputs=(source.name,),
            )
        )

    def add(self, name: str, left: Source, right: Source, activation: str | None) -> Elementwise:
        return self._add(
            Elementwise(
                name,
                "add",
                _shape(left),
                activation=activation,
                inputs=(left.name, right.name),
            )
        )

    def dense(
        self,
        name: str,
        source: Source,
        out_features: int,
        rows: int,
        activation: str | None = None,
    ) -> Dense:
        elements = 1
        for size in _shape(source):
            elements *= size
        return self._add(
            Dense(
                name,
                elements // rows,
                out_features,
                rows=rows,
                activation=activation,
                inputs=(source.name,),
            )
        )

    def matmul(
        self, name: str, left: Source, right: Source, batch: int, m: int, k: int, n: int
    ) -> MatMul:
        return self._add(MatMul(name, batch, m, k, n, inputs=(left.name, right.name)))

    def model(self, name: str) -> Model:
        return Model(name, tuple(self.layers), (self.input,))


def _image_graph(batch: int, size: int = 224) -> _Graph:
    return _Graph("image", (batch, 3, size, size))


# --- ResNet ---------------------------------------------------------------------------------
# torchvision/models/resnet.py: `BasicBlock` (resnet18), `Bottleneck` (resnet50, "v1.5": the
# stride sits on the 3x3 conv2), `ResNet._make_layer` (a 1x1 strided downsample conv when a
# block's stride is not 1 or its channel count changes) and `ResNet.__init__` (7x7/2 stem,
# 3x3/2 maxpool with padding 1, global average pool, fc to 1000 classes).

_RESNET_WIDTHS = (64, 128, 256, 512)


def _resnet(name: str, blocks: tuple[int, ...], bottleneck: bool, batch: int) -> Model:
    graph = _image_graph(batch)
    x: Source = graph.conv("conv1", graph.input, 64, 7, stride=2, padding=3, activation="relu")
    x = graph.pool("maxpool", x, "maxpool", kernel=3, stride=2, padding=1)
    expansion = 4 if bottleneck else 1
    for stage, (width, count) in enumerate(zip(_RESNET_WIDTHS, blocks, strict=True), start=1):
        for block in range(count):
            prefix = f"layer{stage}.{block}"
            stride = 2 if block == 0 and stage > 1 else 1
            in_channels = _shape(x)[1]
            if bottleneck:
                y: Source = graph.conv(f"{prefix}.conv1", x, width, 1, activation="relu")
                y = graph.conv(
                    f"{prefix}.conv2", y, width, 3, stride=stride, padding=1, activation="relu"
                )
                y = graph.conv(f"{prefix}.conv3", y, width * expansion, 1)
            else:
                y = graph.conv(
                    f"{prefix}.conv1", x, width, 3, stride=stride, padding=1, activation="relu"
                )
                y = graph.conv(f"{prefix}.conv2", y, width, 3, padding=1)
            identity: Source = x
            if stride != 1 or in_channels != width * expansion:
                # torchvision's path is `<prefix>.downsample.0` (conv + BN); the BN folds away.
                identity = graph.conv(
                    f"{prefix}.downsample", x, width * expansion, 1, stride=stride
                )
            x = graph.add(f"{prefix}.add", y, identity, activation="relu")
    x = graph.pool("avgpool", x, "avgpool")
    graph.dense("fc", x, 1000, rows=batch)
    return graph.model(name)


def resnet18(batch: int = 1) -> Model:
    return _resnet("resnet18", (2, 2, 2, 2), bottleneck=False, batch=batch)


def resnet50(batch: int = 1) -> Model:
    return _resnet("resnet50", (3, 4, 6, 3), bottleneck=True, batch=batch)


# --- VGG-16 ---------------------------------------------------------------------------------
# torchvision/models/vgg.py, configuration "D": 3x3 convs with padding 1, 2x2/2 maxpools.
# Its AdaptiveAvgPool2d((7, 7)) is the identity on a 224x224 input and is left out.
_VGG16_CONFIG = (
    64,
    64,
    "M",
    128,
    128,
    "M",
    256,
    256,
    256,
    "M",
    512,
    512,
    512,
    "M",
    512,
    512,
    512,
    "M",
)


def vgg16(batch: int = 1) -> Model:
    graph = _image_graph(batch)
    x: Source = graph.input
    conv_index = pool_index = 0
    for entry in _VGG16_CONFIG:
        if entry == "M":
            pool_index += 1
            x = graph.pool(f"pool{pool_index}", x, "maxpool", kernel=2, stride=2)
        else:
            conv_index += 1
            x = graph.conv(f"conv{conv_index}", x, int(entry), 3, padding=1, activation="relu")
    x = graph.dense("fc1", x, 4096, rows=batch, activation="relu")
    x = graph.dense("fc2", x, 4096, rows=batch, activation="relu")
    graph.dense("fc3", x, 1000, rows=batch)
    return graph.model("vgg16")


# --- MobileNetV2 ----------------------------------------------------------------------------
# torchvision/models/mobilenetv2.py: `MobileNetV2.__init__` (inverted_residual_setting t, c, n,
# s; a 3x3/2 stem of 32 channels; a final 1x1 conv to 1280) and `InvertedResidual` (1x1 expand
# unless t == 1, 3x3 depthwise with the stride, linear 1x1 projection, residual add when the
# stride is 1 and channels are kept). Activations are ReLU6, i.e. Clip(0, 6).
_MOBILENET_V2_SETTING = (
    (1, 16, 1, 1),
    (6, 24, 2, 2),
    (6, 32, 3, 2),
    (6, 64, 4, 2),
    (6, 96, 3, 1),
    (6, 160, 3, 2),
    (6, 320, 1, 1),
)


def mobilenet_v2(batch: int = 1) -> Model:
    graph = _image_graph(batch)
    x: Source = graph.conv("features.0", graph.input, 32, 3, stride=2, padding=1, activation="clip")
    index = 1
    for expand, channels, repeats, first_stride in _MOBILENET_V2_SETTING:
        for repeat in range(repeats):
            prefix = f"features.{index}"
            stride = first_stride if repeat == 0 else 1
            in_channels = _shape(x)[1]
            hidden = in_channels * expand
            y: Source = x
            if expand != 1:
                y = graph.conv(f"{prefix}.expand", y, hidden, 1, activation="clip")
            y = graph.conv(
                f"{prefix}.depthwise",
                y,
                hidden,
                3,
                stride=stride,
                padding=1,
                groups=hidden,
                activation="clip",
            )
            y = graph.conv(f"{prefix}.project", y, channels, 1)
            if stride == 1 and in_channels == channels:
                y = graph.add(f"{prefix}.add", y, x, activation=None)
            x = y
            index += 1
    x = graph.conv(f"features.{index}", x, 1280, 1, activation="clip")
    x = graph.pool("avgpool", x, "avgpool")
    graph.dense("classifier", x, 1000, rows=batch)
    return graph.model("mobilenet_v2")


# --- TC-ResNet8 -----------------------------------------------------------------------------
# Choi et al., "Temporal Convolution for Real-time Keyword Spotting on Mobile Devices",
# Interspeech 2019, and its code (hyperconnect/TC-ResNet, audio_nets/tc_resnet.py): 40 MFCCs
# of a 1 s, 16 kHz clip (30 ms window, 10 ms stride, no end padding: 98 frames) laid out as
# [N, time, 1, MFCC], i.e. MFCCs are channels and time is the height. A 3x1 conv to 16
# channels, then three residual blocks of two 9x1 convs (the first with stride 2) and a 1x1
# stride-2 shortcut conv (every block changes channels: 16->24->32->48), SAME padding, global
# average pooling and an fc to 12 keywords. SAME puts an odd padding's extra row at the end.
_TC_RESNET8_FRAMES = 98
_TC_RESNET8_MFCC = 40
_TC_RESNET8_CLASSES = 12


def _temporal_conv(
    graph: _Graph,
    name: str,
    source: Source,
    channels: int,
    kernel: int,
    stride: int,
    activation: str | None,
) -> Conv2d:
    before, after = same_padding(_shape(source)[2], kernel, stride)
    return graph.conv(
        name,
        source,
        channels,
        (kernel, 1),
        stride=(stride, 1),
        padding=(before, 0, after, 0),
        activation=activation,
    )


def tc_resnet8(batch: int = 1) -> Model:
    graph = _Graph("mfcc", (batch, _TC_RESNET8_MFCC, _TC_RESNET8_FRAMES, 1))
    x: Source = _temporal_conv(graph, "conv0", graph.input, 16, 3, 1, "relu")
    for block, channels in enumerate((24, 32, 48), start=1):
        prefix = f"block{block}"
        y = _temporal_conv(graph, f"{prefix}.conv1", x, channels, 9, 2, "relu")
        y = _temporal_conv(graph, f"{prefix}.conv2", y, channels, 9, 1, None)
        shortcut = _temporal_conv(graph, f"{prefix}.shortcut", x, channels, 1, 2, "relu")
        x = graph.add(f"{prefix}.add", y, shortcut, activation="relu")
    x = graph.pool("avgpool", x, "avgpool")
    graph.dense("fc", x, _TC_RESNET8_CLASSES, rows=batch)
    return graph.model("tc_resnet8")


# --- TC-ResNet8 as UltraTrail's authors train and deploy it ------------------------------------
# ekut-es/hannah @af3320e7 (H): conf/model/conv-net-trax.yaml, the model of the UltraTrail
# back end (conf/backend/trax_ut.yaml). 40 MFCCs (conf/features/mfcc.yaml:25) of 16,000
# samples at hop 160 (mfcc.yaml:29, conf/dataset/kws.yaml:40-41), frames centred as
# torchaudio does: 1 + 16000/160 = 101 frames, laid out as channels x time x 1 like
# `tc_resnet8`. conv0: kernel 3, 16 channels, no padding and no activation (yaml:39-42);
# three residual blocks of 24, 32, 48 channels, two kernel-9 convs padded by 4 (hannah's
# default padding ((k-1)*d+1)//2, hannah/models/factory/factory.py:101,1238) and a 1x1
# shortcut with ReLU (yaml:53-57), the first conv and the shortcut at stride 2, the second
# conv without activation and the add followed by ReLU (factory.py:929-995, reduction.py:
# 31,47); global average pooling and a bias-free fully connected layer to 12 classes
# (factory.py:1097-1104, 1160, 1178). Shortcuts run before each block's second conv, so
# the add is done in the second conv's output path.
_TC_RESNET8_UT_FRAMES = 101


def tc_resnet8_ut(batch: int = 1) -> Model:
    graph = _Graph("mfcc", (batch, _TC_RESNET8_MFCC, _TC_RESNET8_UT_FRAMES, 1))
    x: Source = graph.conv("conv0", graph.input, 16, (3, 1))
    for block, channels in enumerate((24, 32, 48), start=1):
        prefix = f"block{block}"
        y = graph.conv(
            f"{prefix}.conv1", x, channels, (9, 1), (2, 1), (4, 0, 4, 0), activation="relu"
        )
        shortcut = graph.conv(f"{prefix}.shortcut", x, channels, 1, (2, 1), activation="relu")
        y = graph.conv(f"{prefix}.conv2", y, channels, (9, 1), padding=(4, 0, 4, 0))
        x = graph.add(f"{prefix}.add", y, shortcut, activation="relu")
    x = graph.pool("avgpool", x, "avgpool")
    graph.dense("fc", x, _TC_RESNET8_CLASSES, rows=batch)
    return graph.model("tc_resnet8_ut")


# --- BERT-base, one encoder layer -----------------------------------------------------------
# Devlin et al. 2019: hidden 768, 12 heads of 64, feed-forward 3072. The layer's GEMMs in the
# order HuggingFace's BertLayer runs them (modeling_bert.py: BertSelfAttention query/key/value,
# the two attention matmuls, BertSelfOutput.dense, BertIntermediate.dense, BertOutput.dense).
# Softmax, GELU, layer norms and residual adds are not GEMMs and are left out.
_BERT_HIDDEN, _BERT_HEADS, _BERT_FFN = 768, 12, 3072


def bert_base(batch: int = 1, seq_len: int = 128) -> Model:
    check_positive("seq_len", seq_len)
    rows = batch * seq_len
    head = _BERT_HIDDEN // _BERT_HEADS
    graph = _Graph("hidden_states", (batch, seq_len, _BERT_HIDDEN))
    query = graph.dense("attention.query", graph.input, _BERT_HIDDEN, rows=rows)
    key = graph.dense("attention.key", graph.input, _BERT_HIDDEN, rows=rows)
    value = graph.dense("attention.value", graph.input, _BERT_HIDDEN, rows=rows)
    heads = batch * _BERT_HEADS
    scores = graph.matmul("attention.scores", query, key, heads, seq_len, head, seq_len)
    context = graph.matmul("attention.context", scores, value, heads, seq_len, seq_len, head)
    x = graph.dense("attention.output", context, _BERT_HIDDEN, rows=rows)
    x = graph.dense("intermediate", x, _BERT_FFN, rows=rows)
    graph.dense("output", x, _BERT_HIDDEN, rows=rows)
    return graph.model("bert_base")


# --- The registry ---------------------------------------------------------------------------


def _check_batch(batch: int) -> None:
    check_positive("batch", batch)


@dataclass(frozen=True)
class PublishedMacs:
    """A model's MAC count as published, and where (batch 1, default options)."""

    macs: float
    source: str


@dataclass(frozen=True)
class ModelEntry:
    """A zoo model: its name, a one-line description, a `builder(batch=..., **options)`,
    the options it takes with their defaults, and its published MAC count."""

    name: str
    description: str
    builder: Callable[..., Model]
    published: PublishedMacs
    options: dict[str, int] = field(default_factory=dict)


MODELS: dict[str, ModelEntry] = {
    entry.name: entry
    for entry in (
        ModelEntry(
            "resnet18",
            "ResNet-18 (torchvision), 224x224x3 image",
            resnet18,
            PublishedMacs(1.8e9, "He et al. 2016, Table 1: 1.8 x 10^9 FLOPs (multiply-adds)"),
        ),
        ModelEntry(
            "resnet50",
            "ResNet-50 (torchvision v1.5), 224x224x3 image",
            resnet50,
            PublishedMacs(4.09e9, "torchvision ResNet50_Weights.IMAGENET1K_V1: 4.09 GFLOPS"),
        ),
        ModelEntry(
            "mobilenet_v2",
            "MobileNetV2 (torchvision, width 1.0), 224x224x3 image, ReLU6 = Clip",
            mobilenet_v2,
            PublishedMacs(300e6, "Sandler et al. 2018, Table 4: 300M multiply-adds"),
        ),
        ModelEntry(
            "vgg16",
            "VGG-16 (torchvision, configuration D), 224x224x3 image",
            vgg16,
            PublishedMacs(15.47e9, "torchvision VGG16_Weights.IMAGENET1K_V1: 15.47 GFLOPS"),
        ),
        ModelEntry(
            "tc_resnet8",
            "TC-ResNet8 keyword spotting, 40 MFCCs x 98 frames, 1-D convs over time",
            tc_resnet8,
            PublishedMacs(1.5e6, "Choi et al. 2019, Table 1: 3.0M FLOPs = 1.5M multiply-adds"),
        ),
        ModelEntry(
            "tc_resnet8_ut",
            "TC-ResNet8 as UltraTrail's authors deploy it (hannah conv-net-trax), 40 MFCCs x "
            "101 frames",
            tc_resnet8_ut,
            PublishedMacs(
                1.53e6,
                "derived from ekut-es/hannah conf/model/conv-net-trax.yaml (no published "
                "figure): 1,533,504 MACs, within 2% of TC-ResNet8's 1.5M (Choi et al. 2019)",
            ),
        ),
        ModelEntry(
            "bert_base",
            "BERT-base, one encoder layer's GEMMs (hidden 768, 12 heads), seq_len tokens",
            bert_base,
            PublishedMacs(
                931_135_488,
                "Narayanan et al. 2021 (Megatron-LM), forward FLOPs per layer 24sh^2 + 4s^2h "
                "= 2 x (12sh^2 + 2s^2h) MACs at s = 128, h = 768",
            ),
            options={"seq_len": 128},
        ),
    )
}


def build_model(name: str, batch: int = 1, options: dict[str, int] | None = None) -> Model:
    """Build zoo model `name` for `batch` inputs; WorkloadError if anything is invalid."""
    entry = MODELS.get(name)
    if entry is None:
        available = ", ".join(sorted(MODELS))
        raise WorkloadError(
            f"unknown model {name!r}; available: {available} (or an .onnx or SCALE-Sim .csv file)"
        )
    _check_batch(batch)
    options = dict(options or {})
    unknown = sorted(set(options) - set(entry.options))
    if unknown:
        takes = ", ".join(f"{k} (default {v})" for k, v in entry.options.items()) or "none"
        raise WorkloadError(
            f"model {name!r} has no option {', '.join(unknown)}; its options: {takes}"
        )
    for option, value in options.items():
        check_positive(option, value)
    return entry.builder(batch=batch, **options)
