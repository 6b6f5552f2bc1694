"""DNN layers as frozen dataclasses, and models as graphs of them.

Shapes are validated on construction, so an impossible layer never reaches a mapping.
Tensors are NCHW. A one-dimensional convolution (as in keyword spotting) is a Conv2d of
height 1. Every layer names its data inputs: earlier layers or the model's inputs; an
empty `inputs` means a free-standing layer that reads a tensor of its own (as a SCALE-Sim
topology row does).

`activation` records an element-wise function applied to the layer's output on its way
out (ReLU, or Clip as in ReLU6). Whether it costs time is the accelerator's business: the
systolic array applies it in its output path, at no cost.
"""

from __future__ import annotations

from dataclasses import dataclass
from math import prod
from typing import Any, cast

from tracer.errors import WorkloadError

ACTIVATIONS = ("relu", "clip")
ELEMENTWISE_OPS = ("add", "mul", "relu", "clip")
POOL_KINDS = ("maxpool", "avgpool")


def _is_int(value: object) -> bool:
    # bool is an int subclass; accepting True as 1 would hide a caller's bug.
    return isinstance(value, int) and not isinstance(value, bool)


def check_positive(what: str, value: object) -> None:
    """WorkloadError unless `value` is an int >= 1 (a bool is not accepted as one)."""
    if not _is_int(value) or value < 1:  # type: ignore[operator]
        raise WorkloadError(f"{what} must be a positive integer, got {value!r}")


def _require_positive(layer: str, **fields: int) -> None:
    for field, value in fields.items():
        check_positive(f"layer {layer!r}: {field}", value)


def same_padding(size: int, kernel: int, stride: int, dilation: int = 1) -> tuple[int, int]:
    """SAME padding (output = ceil(size / stride)) as (smaller half, larger half); SAME_UPPER
    and TensorFlow put the larger half at the end."""
    out = -(-size // stride)
    total = max((out - 1) * stride + (kernel - 1) * dilation + 1 - size, 0)
    return total // 2, total - total // 2


Pair = tuple[int, int]
Padding = tuple[int, int, int, int]


def as_pair(layer: str, field: str, value: int | Pair, minimum: int = 1) -> Pair:
    """An int (both axes) or an (height, width) pair, each at least `minimum`."""
    pair: Any = (value, value) if _is_int(value) else value
    if (
        not isinstance(pair, tuple)
        or len(pair) != 2
        or not all(_is_int(v) and v >= minimum for v in pair)
    ):
        raise WorkloadError(
            f"layer {layer!r}: {field} must be an integer >= {minimum} or a (height, width) "
            f"pair of them, got {value!r}"
        )
    return cast(Pair, pair)


def as_padding(layer: str, value: int | Padding) -> Padding:
    """An int (all sides) or (top, left, bottom, right), ONNX's `pads` order for 2-D."""
    pads: Any = (value,) * 4 if _is_int(value) else value
    if (
        not isinstance(pads, tuple)
        or len(pads) != 4
        or not all(_is_int(v) and v >= 0 for v in pads)
    ):
        raise WorkloadError(
            f"layer {layer!r}: padding must be a non-negative integer or a (top, left, bottom, "
            f"right) tuple of them, got {value!r}"
        )
    return cast(Padding, pads)


def _check_common(layer: str, inputs: object, activation: object) -> None:
    if not isinstance(layer, str) or not layer:
        raise WorkloadError(f"a layer needs a non-empty name, got {layer!r}")
    if not isinstance(inputs, tuple) or not all(isinstance(i, str) and i for i in inputs):
        raise WorkloadError(f"layer {layer!r}: inputs must be a tuple of names, got {inputs!r}")
    if activation is not None and activation not in ACTIVATIONS:
        raise WorkloadError(
            f"layer {layer!r}: activation {activation!r} is not one of "
            f"{', '.join(ACTIVATIONS)} (or None)"
        )


def _window_output(size: int, kernel: int, stride: int, pad_total: int, dilation: int) -> int:
    return (size + pad_total - ((kernel - 1) * dilation + 1)) // stride + 1


def _check_window_fits(layer: str, what: str, sizes, kernels, pads, dilations) -> None:
    for axis, size, kernel, pad_total, dilation in zip(
        ("height", "width"),
        sizes,
        kernels,
        (pads[0] + pads[2], pads[1] + pads[3]),
        dilations,
        strict=True,
    ):
        reach = (kernel - 1) * dilation + 1
        if size + pad_total < reach:
            raise WorkloadError(
                f"layer {layer!r}: the {what} reaches {reach} along the {axis} but the input "
                f"is {size} (+{pad_total} padding); shrink the kernel or grow the input"
            )


@dataclass(frozen=True)
class Conv2d:
    """A 2-D convolution over an NCHW input; `groups` splits channels (depthwise: all).

    stride and dilation are (height, width), padding (top, left, bottom, right); an int
    given for any of them means the same on every side."""

    name: str
    in_channels: int
    out_channels: int
    in_height: int
    in_width: int
    kernel_height: int
    kernel_width: int
    stride: Pair = (1, 1)
    padding: Padding = (0, 0, 0, 0)
    dilation: Pair = (1, 1)
    groups: int = 1
    batch: int = 1
    activation: str | None = None
    inputs: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        _check_common(self.name, self.inputs, self.activation)
        _require_positive(
            self.name,
            in_channels=self.in_channels,
            out_channels=self.out_channels,
            in_height=self.in_height,
            in_width=self.in_width,
            kernel_height=self.kernel_height,
            kernel_width=self.kernel_width,
            groups=self.groups,
            batch=self.batch,
        )
        # An int is accepted for all axes; frozen, so normalise through object.__setattr__.
        object.__setattr__(self, "stride", as_pair(self.name, "stride", self.stride))
        object.__setattr__(self, "dilation", as_pair(self.name, "dilation", self.dilation))
        object.__setattr__(self, "padding", as_padding(self.name, self.padding))
        if self.in_channels % self.groups or self.out_channels % self.groups:
            raise WorkloadError(
                f"layer {self.name!r}: groups={self.groups} must divide in_channels="
                f"{self.in_channels} and out_channels={self.out_channels}"
            )
        _check_window_fits(
            self.name,
            f"{self.kernel_height}x{self.kernel_width} kernel",
            (self.in_height, self.in_width),
            (self.kernel_height, self.kernel_width),
            self.padding,
            self.dilation,
        )

    @property
    def kind(self) -> str:
        return "conv2d"

    @property
    def out_height(self) -> int:
        top, _, bottom, _ = self.padding
        return _window_output(
            self.in_height,
            self.kernel_height,
            self.stride[0],
            top + bottom,
            self.dilation[0],
        )

    @property
    def out_width(self) -> int:
        _, left, _, right = self.padding
        return _window_output(
            self.in_width,
            self.kernel_width,
            self.stride[1],
            left + right,
            self.dilation[1],
        )

    @property
    def input_shapes(self) -> tuple[tuple[int, ...], ...]:
        return ((self.batch, self.in_channels, self.in_height, self.in_width),)

    @property
    def output_shape(self) -> tuple[int, ...]:
        return (self.batch, self.out_channels, self.out_height, self.out_width)

    @property
    def macs(self) -> int:
        per_output = self.kernel_height * self.kernel_width * (self.in_channels // self.groups)
        return prod(self.output_shape) * per_output


@dataclass(frozen=True)
class Dense:
    """A fully connected layer: (rows x in_features) @ a weight (in_features x out_features)."""

    name: str
    in_features: int
    out_features: int
    rows: int = 1
    activation: str | None = None
    inputs: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        _check_common(self.name, self.inputs, self.activation)
        _require_positive(
            self.name,
            in_features=self.in_features,
            out_features=self.out_features,
            rows=self.rows,
        )

    @property
    def kind(self) -> str:
        return "dense"

    @property
    def input_shapes(self) -> tuple[tuple[int, ...], ...]:
        return ((self.rows, self.in_features),)

    @property
    def output_shape(self) -> tuple[int, ...]:
        return (self.rows, self.out_features)

    @property
    def macs(self) -> int:
        return self.rows * self.in_features * self.out_features


@dataclass(frozen=True)
class MatMul:
    """`batch` independent (m x k) @ (k x n) products of two computed tensors (attention)."""

    name: str
    batch: int
    m: int
    k: int
    n: int
    activation: str | None = None
    inputs: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        _check_common(self.name, self.inputs, self.activation)
        _require_positive(self.name, batch=self.batch, m=self.m, k=self.k, n=self.n)

    @property
    def kind(self) -> str:
        return "matmul"

    @property
    def input_shapes(self) -> tuple[tuple[int, ...], ...]:
        return ((self.batch, self.m, self.k), (self.batch, self.k, self.n))

    @property
    def output_shape(self) -> tuple[int, ...]:
        return (self.batch, self.m, self.n)

    @property
    def macs(self) -> int:
        return self.batch * self.m * self.k * self.n


@dataclass(frozen=True)
class Pool:
    """Max or average pooling over each channel of an NCHW input (global: kernel = input)."""

    name: str
    pool: str
    channels: int
    in_height: int
    in_width: int
    kernel_height: int
    kernel_width: int
    stride: Pair = (1, 1)
    padding: Padding = (0, 0, 0, 0)
    batch: int = 1
    activation: str | None = None
    inputs: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        _check_common(self.name, self.inputs, self.activation)
        if self.pool not in POOL_KINDS:
            raise WorkloadError(
                f"layer {self.name!r}: pool {self.pool!r} is not one of {', '.join(POOL_KINDS)}"
            )
        _require_positive(
            self.name,
            channels=self.channels,
            in_height=self.in_height,
            in_width=self.in_width,
            kernel_height=self.kernel_height,
            kernel_width=self.kernel_width,
            batch=self.batch,
        )
        object.__setattr__(self, "stride", as_pair(self.name, "stride", self.stride))
        object.__setattr__(self, "padding", as_padding(self.name, self.padding))
        _check_window_fits(
            self.name,
            f"{self.kernel_height}x{self.kernel_width} window",
            (self.in_height, self.in_width),
            (self.kernel_height, self.kernel_width),
            self.padding,
            (1, 1),
        )

    @property
    def kind(self) -> str:
        return self.pool

    @property
    def out_height(self) -> int:
        top, _, bottom, _ = self.padding
        return _window_output(self.in_height, self.kernel_height, self.stride[0], top + bottom, 1)

    @property
    def out_width(self) -> int:
        _, left, _, right = self.padding
        return _window_output(self.in_width, self.kernel_width, self.stride[1], left + right, 1)

    @property
    def input_shapes(self) -> tuple[tuple[int, ...], ...]:
        return ((self.batch, self.channels, self.in_height, self.in_width),)

    @property
    def output_shape(self) -> tuple[int, ...]:
        return (self.batch, self.channels, self.out_height, self.out_width)

    @property
    def macs(self) -> int:
        return 0

    @property
    def operations(self) -> int:
        """Comparisons (max) or additions (avg): one per window element per output."""
        return prod(self.output_shape) * self.kernel_height * self.kernel_width


@dataclass(frozen=True)
class Elementwise:
    """An element-wise operation on tensors of `shape`: add/mul of two, relu/clip of one."""

    name: str
    op: str
    shape: tuple[int, ...]
    activation: str | None = None
    inputs: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        _check_common(self.name, self.inputs, self.activation)
        if self.op not in ELEMENTWISE_OPS:
            raise WorkloadError(
                f"layer {self.name!r}: op {self.op!r} is not one of {', '.join(ELEMENTWISE_OPS)}"
            )
        if not isinstance(self.shape, tuple) or not self.shape:
            raise WorkloadError(f"layer {self.name!r}: shape must be a non-empty tuple")
        for axis, size in enumerate(self.shape):
            _require_positive(self.name, **{f"shape[{axis}]": size})
        if self.op in ACTIVATIONS and self.activation is not None:
            raise WorkloadError(
                f"layer {self.name!r}: a standalone {self.op} takes no further activation"
            )

    @property
    def kind(self) -> str:
        return self.op

    @property
    def arity(self) -> int:
        return 1 if self.op in ACTIVATIONS else 2

    @property
    def input_shapes(self) -> tuple[tuple[int, ...], ...]:
        return (self.shape,) * self.arity

    @property
    def output_shape(self) -> tuple[int, ...]:
        return self.shape

    @property
    def macs(self) -> int:
        return 0

    @property
    def operations(self) -> int:
        return prod(self.shape)


Layer = Conv2d | Dense | MatMul | Pool | Elementwise
GEMM_LAYERS = (Conv2d, Dense, MatMul)


def gemm_operands(layer: Conv2d | Dense | MatMul) -> tuple[int, int, int]:
    """Elements of a GEMM-like layer's input, weight (second operand) and output tensors."""
    if isinstance(layer, Conv2d):
        per_group = layer.in_channels // layer.groups
        weights = layer.out_channels * per_group * layer.kernel_height * layer.kernel_width
    elif isinstance(layer, Dense):
        weights = layer.in_features * layer.out_features
    else:
        weights = prod(layer.input_shapes[1])
    return prod(layer.input_shapes[0]), weights, prod(layer.output_shape)


def operand_elements(layer: Layer) -> tuple[int, int, int]:
    """Elements of a layer's inputs, weights and output: gemm_operands for a GEMM-like
    layer; every input and no weights otherwise (the baselines' sizes,
    analyzer/crosscheck/baselines.py)."""
    if isinstance(layer, GEMM_LAYERS):
        return gemm_operands(layer)
    return sum(prod(shape) for shape in layer.input_shapes), 0, prod(layer.output_shape)


def operations(layer: Layer) -> int:
    """Arithmetic operations of a layer: MACs for GEMM-like layers, element ops otherwise."""
    return layer.macs if isinstance(layer, GEMM_LAYERS) else layer.operations


@dataclass(frozen=True)
class ModelInput:
    """A tensor the model reads from outside: a name and its shape."""

    name: str
    shape: tuple[int, ...]

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise WorkloadError(f"a model input needs a non-empty name, got {self.name!r}")
        if not isinstance(self.shape, tuple) or not self.shape:
            raise WorkloadError(f"model input {self.name!r}: shape must be a non-empty tuple")
        for axis, size in enumerate(self.shape):
            if not _is_int(size) or size < 1:
                raise WorkloadError(
                    f"model input {self.name!r}: dimension {axis} must be a positive integer, "
                    f"got {size!r}"
                )


# Model notes the user must see wherever the model is used (`lower`, `analyze`, `layers`
# print them as warnings), as against the families' notes on how they lower. Each such
# note starts with one of these.
SKIPPED_NOTE = "skipped operators (--skip-unsupported), taking no time"
DEPTHWISE_NOTE = "DP rows read as SCALE-Sim runs them"
WARNING_NOTES = (SKIPPED_NOTE, DEPTHWISE_NOTE)


def warnings_in(notes: tuple[str, ...]) -> list[str]:
    """The notes (of a model or a trace) a user must be warned of."""
    return [note for note in notes if note.startswith(WARNING_NOTES)]


@dataclass(frozen=True)
class Model:
    """A named graph of layers in execution order, the tensors it reads, and notes on how
    it was obtained (e.g. operators an import skipped)."""

    name: str
    layers: tuple[Layer, ...]
    inputs: tuple[ModelInput, ...] = ()
    notes: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        sizes: dict[str, int] = {}
        for model_input in self.inputs:
            if model_input.name in sizes:
                raise WorkloadError(f"model {self.name!r}: input {model_input.name!r} twice")
            sizes[model_input.name] = prod(model_input.shape)
        for layer in self.layers:
            if layer.name in sizes:
                raise WorkloadError(
                    f"model {self.name!r}: the name {layer.name!r} is used twice; "
                    "layer and input names must be unique"
                )
            expected = layer.input_shapes
            if layer.inputs and len(layer.inputs) != len(expected):
                raise WorkloadError(
                    f"model {self.name!r}: layer {layer.name!r} ({layer.kind}) takes "
                    f"{len(expected)} input(s), got {len(layer.inputs)}"
                )
            for source, shape in zip(layer.inputs, expected, strict=False):
                if source not in sizes:
                    raise WorkloadError(
                        f"model {self.name!r}: layer {layer.name!r} reads {source!r}, which is "
                        "neither a model input nor an earlier layer"
                    )
                # Reshapes between layers cost nothing and are not layers, so only the
                # element count must agree.
                if sizes[source] != prod(shape):
                    raise WorkloadError(
                        f"model {self.name!r}: layer {layer.name!r} expects {prod(shape):,} "
                        f"elements {shape} from {source!r}, which has {sizes[source]:,}"
                    )
            sizes[layer.name] = prod(layer.output_shape)

    @property
    def macs(self) -> int:
        return sum(layer.macs for layer in self.layers)
