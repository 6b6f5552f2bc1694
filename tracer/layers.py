"""DNN layers as frozen dataclasses.

Shapes are validated on construction, so an impossible layer never reaches a mapping.
"""

from __future__ import annotations

from dataclasses import dataclass

from tracer.errors import WorkloadError


def _require_positive(layer: str, **fields: int) -> None:
    for field, value in fields.items():
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise WorkloadError(
                f"layer {layer!r}: {field} must be a positive integer, got {value!r}"
            )


@dataclass(frozen=True)
class Conv2d:
    """A 2-D convolution over an NCHW input (square or rectangular kernels)."""

    name: str
    in_channels: int
    out_channels: int
    in_height: int
    in_width: int
    kernel_height: int
    kernel_width: int
    stride: int = 1
    padding: int = 0
    groups: int = 1
    batch: int = 1

    def __post_init__(self) -> None:
        _require_positive(
            self.name,
            in_channels=self.in_channels,
            out_channels=self.out_channels,
            in_height=self.in_height,
            in_width=self.in_width,
            kernel_height=self.kernel_height,
            kernel_width=self.kernel_width,
            stride=self.stride,
            groups=self.groups,
            batch=self.batch,
        )
        if not isinstance(self.padding, int) or isinstance(self.padding, bool) or self.padding < 0:
            raise WorkloadError(
                f"layer {self.name!r}: padding must be a non-negative integer, got {self.padding!r}"
            )
        if self.in_channels % self.groups or self.out_channels % self.groups:
            raise WorkloadError(
                f"layer {self.name!r}: groups={self.groups} must divide in_channels="
                f"{self.in_channels} and out_channels={self.out_channels}"
            )
        if (
            self.in_height + 2 * self.padding < self.kernel_height
            or self.in_width + 2 * self.padding < self.kernel_width
        ):
            raise WorkloadError(
                f"layer {self.name!r}: the {self.kernel_height}x{self.kernel_width} kernel "
                f"does not fit the {self.in_height}x{self.in_width} input with padding "
                f"{self.padding}"
            )

    @property
    def kind(self) -> str:
        return "conv2d"

    @property
    def out_height(self) -> int:
        return (self.in_height + 2 * self.padding - self.kernel_height) // self.stride + 1

    @property
    def out_width(self) -> int:
        return (self.in_width + 2 * self.padding - self.kernel_width) // self.stride + 1

    @property
    def macs(self) -> int:
        per_output = self.kernel_height * self.kernel_width * (self.in_channels // self.groups)
        return self.batch * self.out_channels * self.out_height * self.out_width * per_output


@dataclass(frozen=True)
class Dense:
    """A fully connected layer / GEMM: (rows x in_features) @ (in_features x out_features)."""

    name: str
    in_features: int
    out_features: int
    rows: int = 1

    def __post_init__(self) -> None:
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
    def macs(self) -> int:
        return self.rows * self.in_features * self.out_features


Layer = Conv2d | Dense


@dataclass(frozen=True)
class Model:
    """A named, ordered list of layers."""

    name: str
    layers: tuple[Layer, ...]

    @property
    def macs(self) -> int:
        return sum(layer.macs for layer in self.layers)
