"""A layer as UltraTrail's configuration register sees it: a 1-D convolution over time.

UltraTrail runs 1-D convolutions (T = apache/tvm @8c4f0654, python/tvm/relay/backend/
contrib/uma/ultra_trail/strategies.py:11-69, a plain NCW conv1d) and fully connected
layers as the kernel-1 case of one position (Ha = ekut-es/hannah @066ba2b7,
speech_recognition/callbacks/backends.py:276-283). Each layer is one entry of the layer
configuration registers (T passes.py:89-110), whose field widths bound what it can run:
ch_in_len / ch_out_len 7 bit, ch_in_blk / ch_out_blk 4 bit, kernel_shape 4 bit, stride 3
bit, avg_pool_exp 3 bit, and a single `pad` bit (padding is all or nothing: kernel // 2
on both sides, T strategies.py:48-51 refuses asymmetric padding). T writes the raw values
(passes.py:35-43, 71-72; "{:0{}b}" does not truncate, passes.py:116), so a value must fit
its field as written: lengths <= 127, channel blocks <= 15, kernel <= 15, stride <= 7.

Anything else is refused here with one line naming the layer, the limit and the value.
"""

from __future__ import annotations

from dataclasses import dataclass

from isa.arithmetic import ceil_div
from tracer.errors import MappingError
from tracer.workloads.layers import Conv2d, Dense

MAX_LENGTH = 2**7 - 1  # ch_in_len / ch_out_len: 7 bits
MAX_BLOCKS = 2**4 - 1  # ch_in_blk / ch_out_blk: 4 bits
MAX_KERNEL = 2**4 - 1  # kernel_shape: 4 bits
MAX_STRIDE = 2**3 - 1  # stride: 3 bits
MAX_POOL_EXPONENT = 2**3 - 1  # avg_pool_exp: 3 bits, the pool divides by 2**exp


class UltraTrailLimitError(MappingError):
    """A layer UltraTrail's configuration registers or memories cannot hold."""


def refuse(layer: str, what: str, fix: str) -> UltraTrailLimitError:
    return UltraTrailLimitError(f"layer {layer!r} on ultratrail: {what}; {fix}")


@dataclass(frozen=True)
class TemporalConv:
    """One layer's configuration: channels, lengths over time, kernel, stride, padding
    (per side: 0 or kernel // 2). `dense` marks a fully connected layer (rows positions)."""

    name: str
    in_channels: int
    out_channels: int
    in_length: int
    kernel: int
    stride: int
    padding: int
    relu: bool
    dense: bool = False

    @property
    def out_length(self) -> int:
        return (self.in_length + 2 * self.padding - self.kernel) // self.stride + 1

    def taps(self, position: int) -> tuple[int, int]:
        """The in-bounds kernel taps [first, end) of an output position: taps that fall on
        the zero padding are not issued (Ha:294-305 leaves them out of the count)."""
        start = position * self.stride - self.padding
        return max(0, -start), min(self.kernel, self.in_length - start)

    @property
    def in_bounds_taps(self) -> int:
        """(position, tap) pairs off the padding."""
        return sum(end - first for first, end in map(self.taps, range(self.out_length)))

    @property
    def useful_macs(self) -> int:
        """The MACs the array does: taps on the padding are skipped, not multiplied by 0."""
        return self.in_channels * self.out_channels * self.in_bounds_taps

    def array_steps(self, rows: int, cols: int) -> int:
        """(input block, output block, position, in-bounds tap) steps of the layer."""
        blocks = ceil_div(self.in_channels, rows) * ceil_div(self.out_channels, cols)
        return blocks * self.in_bounds_taps


def temporal_conv(layer: Conv2d | Dense, rows: int, cols: int) -> TemporalConv:
    """The layer as a 1-D convolution, or UltraTrailLimitError naming what does not fit."""
    if isinstance(layer, Dense):
        conv = TemporalConv(
            layer.name,
            layer.in_features,
            layer.out_features,
            layer.rows,
            kernel=1,
            stride=1,
            padding=0,
            relu=layer.activation == "relu",
            dense=True,
        )
    else:
        conv = _conv1d(layer)
    if layer.activation not in (None, "relu"):
        raise refuse(
            layer.name,
            f"activation {layer.activation}: the output path applies ReLU only (Hd:40-67)",
            "replace it with ReLU or run the model elsewhere",
        )
    _check_fields(conv, rows, cols)
    return conv


def _conv1d(layer: Conv2d) -> TemporalConv:
    name = layer.name
    if layer.groups != 1:
        raise refuse(
            name,
            f"a grouped convolution (groups {layer.groups}): the array sums over every input "
            "channel (T strategies.py:11-69 is a plain conv1d)",
            "UltraTrail runs ungrouped 1-D convolutions only",
        )
    if layer.batch != 1:
        raise refuse(
            name,
            f"batch {layer.batch}: UltraTrail runs one input at a time",
            "lower with --batch 1",
        )
    time = _time_axis(layer)
    if time is None:
        raise refuse(
            name,
            f"a 2-D convolution ({layer.kernel_height}x{layer.kernel_width} kernel over "
            f"{layer.in_height}x{layer.in_width}): UltraTrail runs 1-D convolutions over time",
            "give a k x 1 (or 1 x k) kernel over an input of width (or height) 1",
        )
    length = (layer.in_height, layer.in_width)[time]
    kernel = (layer.kernel_height, layer.kernel_width)[time]
    stride, dilation = layer.stride[time], layer.dilation[time]
    # padding is (top, left, bottom, right): before and after along the time axis
    before, after = layer.padding[time], layer.padding[time + 2]
    if dilation != 1:
        raise refuse(
            name,
            f"dilation {dilation}: the configuration register has no dilation field "
            "(T passes.py:89-110)",
            "UltraTrail runs undilated convolutions only",
        )
    if before != after or before not in (0, kernel // 2):
        raise refuse(
            name,
            f"padding ({before}, {after}) over time: the one `pad` bit of the configuration "
            f"means none or kernel // 2 = {kernel // 2} on both sides (T strategies.py:48-51, "
            "passes.py:39)",
            "pad symmetrically by kernel // 2, or not at all",
        )
    return TemporalConv(
        name,
        layer.in_channels,
        layer.out_channels,
        length,
        kernel,
        stride,
        before,
        relu=layer.activation == "relu",
    )


def _time_axis(layer: Conv2d) -> int | None:
    """0 when time runs along the height (a k x 1 kernel over [N, C, time, 1], as the zoo's
    TC-ResNets), 1 along the width (an ONNX Conv1d, height 1); None when the other axis is
    not trivial (no kernel, no padding, size 1): a 2-D convolution."""
    # Width first: only a length-1 input has both axes trivial, and an ONNX Conv1d gives
    # its input height 1.
    for time in (1, 0):
        other = 1 - time
        trivial = (
            (layer.in_height, layer.in_width)[other] == 1
            and (layer.kernel_height, layer.kernel_width)[other] == 1
            and layer.padding[other] == layer.padding[other + 2] == 0
        )
        if trivial:
            return time
    return None


def _check_fields(conv: TemporalConv, rows: int, cols: int) -> None:
    name = conv.name
    for what, value in (("input length", conv.in_length), ("output length", conv.out_length)):
        if value > MAX_LENGTH:
            raise refuse(
                name,
                f"{what} {value} exceeds the 7-bit length field of the configuration register "
                f"(at most {MAX_LENGTH}; T passes.py:35-43)",
                "shorten the sequence",
            )
    for what, channels, width, parameter in (
        ("input", conv.in_channels, rows, "rows"),
        ("output", conv.out_channels, cols, "cols"),
    ):
        blocks = ceil_div(channels, width)
        if blocks > MAX_BLOCKS:
            raise refuse(
                name,
                f"{channels} {what} channels are {blocks} blocks of {width}, beyond the 4-bit "
                f"block field (at most {MAX_BLOCKS}; T passes.py:36,72)",
                f"use at most {MAX_BLOCKS * width} {what} channels or raise --param {parameter}",
            )
    if conv.kernel > MAX_KERNEL:
        raise refuse(
            name,
            f"kernel {conv.kernel} exceeds the 4-bit kernel_shape field (at most {MAX_KERNEL}; "
            "T passes.py:89-110)",
            "use a smaller kernel",
        )
    if conv.stride > MAX_STRIDE:
        raise refuse(
            name,
            f"stride {conv.stride} exceeds the 3-bit stride field (at most {MAX_STRIDE}; "
            "T passes.py:89-110)",
            "use a smaller stride",
        )


def pool_exponent(name: str, length: int) -> int:
    """The shift of an average pool over `length` positions: the pool divides by the next
    power of two (hannah's ApproximateGlobalAveragePooling1D, H hannah/models/factory/
    pooling.py:25-62), whose exponent must fit the 3-bit avg_pool_exp field."""
    exponent = max(0, (length - 1).bit_length())
    if exponent > MAX_POOL_EXPONENT:
        raise refuse(
            name,
            f"average pooling over {length} positions divides by 2**{exponent}, beyond the "
            f"3-bit avg_pool_exp field (at most 2**{MAX_POOL_EXPONENT})",
            "pool over at most 128 positions",
        )
    return exponent
