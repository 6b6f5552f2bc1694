"""Gemmini against public cycle measurements: the table of docs/accuracy.md's Gemmini section.

    .venv/bin/python benchmarks/gemmini_public.py

No network access: the measurements are in this file, each with its source. Per layer it
prints the measured cycles, accperf's (evaluated now, by the code as it is), the roofline
and the regression, each with its signed error against the measurement, and the MAPE per
column, as docs/accuracy.md does for the systolic array against SCALE-Sim:
  roofline    the larger of MACs / DIM^2 and the layer's compulsory DRAM bytes (int8 input,
              weight and output, int32 bias; for a residual addition its two inputs and its
              output) over the DMA bus's bytes per cycle (the description's bus_bytes);
  regression  least squares of log(cycles) on log(MACs, input, weight and output
              elements), each layer predicted from a fit to the measured cycles of the
              other layers of its table (leave one out, analyzer/crosscheck/baselines.py).

The one usable public set found (docs/accuracy.md says what else was looked at and why it
was not used): one Gemmini of the MOCA paper's 8-core FireSim SoC (Kim et al., HPCA 2023),
measured with read_cycles() around each layer's gemmini.h call in Linux, 7 repeats;
ResNet-50 and AlexNet at batch 1 are compared here (AlexNet's sources are given with its
table below). ResNet-50's sources (ucb-bar/gemmini-rocc-tests, branch MOCA):
  R  moca-data/data/resnet_1.csv @eff2d7bf (per layer: the 7 repeats, min, max, mean;
     built from moca-data/data/uartlog by moca-data/make_csv_from_uartlog.py)
  P  imagenet/resnet_params_1.h, imagenet/funct_resnet_1.h, imagenet/resnet_batch1_1.c
     @80b7b9ac (the layers' shapes, the calls timed, the repeats)
and the hardware (ucb-bar/gemmini, branch MOCA @3200b4a9, src/main/scala/gemmini/
Configs.scala): MOCAGemminiConfig builds dummyConfig, DIM 16 (16x16 mesh, WS), 128 KiB
scratchpad, 64 KiB accumulator, 16 in-flight DMA requests, default RS and bus widths; the
program calls the convolutions without the first-layer optimizations (MOCA_PARAMS).
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass

import numpy as np

from analyzer.crosscheck.baselines import feature_row, leave_one_out, roofline
from isa.gemmini.library import compulsory_bytes
from tracer import api as accperf
from tracer.workloads.layers import Conv2d, Dense, Elementwise, Model, operand_elements
from tracer.workloads.zoo import resnet50

# MOCA's program runs without the first-layer optimizations: its gemmini.h (gemmini-rocc-
# tests@80b7b9ac include/gemmini.h:320-335, gemmini_loop_conv_ws) never sets LOOP_CONV_WS's
# max_pixels_per_row (rs1 bits 15:8), and the RTL takes 0 as one pixel per row (ucb-bar/
# gemmini@3200b4a9 LoopConv.scala:1336-1339), so no kernel-column packing on the 3-channel
# first layers (docs/research/gemmini-conv1.md).
# And its SoC ran without FASED's LLC model: its measured fc6 streamed 37.7 MB of weights in
# 3.78 M cycles, about 10 bytes a cycle, where the LLC model serves a stream of first touches
# at about 3.5 (a block's second line waits at its queue's head for the first one's refill,
# isa/gemmini/hierarchy.py; accperf with llc_kib=4096 gives fc6 10.8 M cycles).
MOCA_PARAMS = {
    "dim": 16,
    "scratchpad_kib": 128,
    "accumulator_kib": 64,
    "max_in_flight_reqs": 16,
    "llc_kib": 0,
    "first_layer_optimizations": "false",
}
SOURCE = "MOCA FireSim (gemmini-rocc-tests@MOCA moca-data/data/{resnet,alexnet}_1.csv)"

# --moca-first-layer-tiles (a sensitivity check): the tiles MOCA's own tiler gives the two
# first layers, in the order MOCA's program runs them, for `lower --mapping`. Tiles:
# tiling_factor_calculate (gemmini-rocc-tests@80b7b9ac include/gemmini.h:1831-2013, one
# Gemmini: OROW_DIVIDE = 1, imagenet/resnet_batch1_1.c:18,27) run for each shape; their
# tile counts rounded as gemmini.h:2239 does (4 x 9 x 4 = 144; 2 x 4 x 3 x 6 x 4 = 576)
# are the "number of tile" that moca-data/pre_compile/{resnet,alexnet}.txt print. Loop
# order: tiled_conv_A_stride_cid, gemmini.h:2956-2969, output channels outermost, then
# batch, pooled rows, pooled columns, kernel rows, kernel columns, input channels.
MOCA_LOOP_ORDER = "CRSPQNK"
MOCA_FIRST_LAYER_TILES = {
    "resnet50": {
        "conv1": {
            "batches": 1,
            "porows": 6,
            "pocols": 16,
            "pochs": 16,
            "krows": 7,
            "kcols": 7,
            "kchs": 3,
            "loop_order": MOCA_LOOP_ORDER,
        }
    },
    "alexnet": {
        "conv1": {
            "batches": 1,
            "porows": 15,
            "pocols": 16,
            "pochs": 32,
            "krows": 2,
            "kcols": 3,
            "kchs": 3,
            "loop_order": MOCA_LOOP_ORDER,
        }
    },
}


@dataclass(frozen=True)
class Measurement:
    kind: str  # "conv" (convolutions and the fc layer, R's "conv" rows) or "resadd"
    index: int  # R's layer index within its kind
    shape: tuple[int, ...]  # P: (in_dim, in_channels, out_channels, kernel, stride); fc: (K, J)
    low: int  # fewest cycles of the 7 repeats
    high: int  # most
    mean: int  # R's last column: the mean of the 7 repeats, rounded down


# R's rows, in P's call order; shapes from P's conv_N_params_res1 (N = index + 1) and
# fc_54_params_res1 (its 1,024 outputs are the 1,000 classes padded to 64 DIM blocks).
MOCA_RESNET50 = (
    Measurement("conv", 0, (224, 3, 64, 7, 2), 3476285, 3564969, 3517005),
    Measurement("conv", 1, (56, 64, 64, 1, 1), 59925, 61805, 60710),
    Measurement("conv", 2, (56, 64, 64, 3, 1), 472345, 494660, 476435),
    Measurement("conv", 3, (56, 64, 256, 1, 1), 233345, 260184, 238649),
    Measurement("conv", 4, (56, 64, 256, 1, 1), 232815, 237345, 234195),
    Measurement("conv", 5, (56, 256, 64, 1, 1), 209949, 247347, 215372),
    Measurement("conv", 6, (56, 64, 64, 3, 1), 473037, 503544, 478900),
    Measurement("conv", 7, (56, 64, 256, 1, 1), 235194, 238915, 236254),
    Measurement("conv", 8, (56, 256, 64, 1, 1), 209935, 211474, 210349),
    Measurement("conv", 9, (56, 64, 64, 3, 1), 472216, 532364, 482107),
    Measurement("conv", 10, (56, 64, 256, 1, 1), 230943, 237613, 232680),
    Measurement("conv", 11, (56, 256, 128, 1, 1), 434573, 436498, 435372),
    Measurement("conv", 12, (56, 128, 128, 3, 2), 498871, 561228, 508940),
    Measurement("conv", 13, (28, 128, 512, 1, 1), 217799, 276086, 226521),
    Measurement("conv", 14, (56, 256, 512, 1, 2), 598187, 645630, 606125),
    Measurement("conv", 15, (28, 512, 128, 1, 1), 232230, 289770, 241424),
    Measurement("conv", 16, (28, 128, 128, 3, 1), 474850, 479743, 476177),
    Measurement("conv", 17, (28, 128, 512, 1, 1), 217601, 273352, 226027),
    Measurement("conv", 18, (28, 512, 128, 1, 1), 232059, 235045, 232749),
    Measurement("conv", 19, (28, 128, 128, 3, 1), 475084, 509242, 481128),
    Measurement("conv", 20, (28, 128, 512, 1, 1), 217491, 249141, 222772),
    Measurement("conv", 21, (28, 512, 128, 1, 1), 232160, 235287, 232761),
    Measurement("conv", 22, (28, 128, 128, 3, 1), 474691, 507179, 480256),
    Measurement("conv", 23, (28, 128, 512, 1, 1), 217538, 240192, 221283),
    Measurement("conv", 24, (28, 512, 256, 1, 1), 461510, 493794, 466408),
    Measurement("conv", 25, (28, 256, 256, 3, 2), 491735, 516637, 497763),
    Measurement("conv", 26, (14, 256, 1024, 1, 1), 221725, 223816, 222295),
    Measurement("conv", 27, (28, 512, 1024, 1, 2), 572349, 603997, 581478),
    Measurement("conv", 28, (14, 1024, 256, 1, 1), 230309, 285601, 239379),
    Measurement("conv", 29, (14, 256, 256, 3, 1), 465450, 468329, 466572),
    Measurement("conv", 30, (14, 256, 1024, 1, 1), 221499, 277161, 229898),
    Measurement("conv", 31, (14, 1024, 256, 1, 1), 230143, 237642, 231500),
    Measurement("conv", 32, (14, 256, 256, 3, 1), 465114, 521187, 474047),
    Measurement("conv", 33, (14, 256, 1024, 1, 1), 221871, 249080, 226032),
    Measurement("conv", 34, (14, 1024, 256, 1, 1), 230729, 237664, 232011),
    Measurement("conv", 35, (14, 256, 256, 3, 1), 465609, 489262, 470180),
    Measurement("conv", 36, (14, 256, 1024, 1, 1), 221890, 224167, 222451),
    Measurement("conv", 37, (14, 1024, 256, 1, 1), 230134, 234035, 231051),
    Measurement("conv", 38, (14, 256, 256, 3, 1), 466215, 493457, 471451),
    Measurement("conv", 39, (14, 256, 1024, 1, 1), 221615, 223282, 222222),
    Measurement("conv", 40, (14, 1024, 256, 1, 1), 230927, 251499, 234998),
    Measurement("conv", 41, (14, 256, 256, 3, 1), 466091, 491389, 470791),
    Measurement("conv", 42, (14, 256, 1024, 1, 1), 221664, 223750, 222388),
    Measurement("conv", 43, (14, 1024, 512, 1, 1), 444198, 469237, 448467),
    Measurement("conv", 44, (14, 512, 512, 3, 2), 595069, 623358, 600126),
    Measurement("conv", 45, (7, 512, 2048, 1, 1), 289782, 320395, 294547),
    Measurement("conv", 46, (14, 1024, 2048, 1, 2), 541236, 572886, 547657),
    Measurement("conv", 47, (7, 2048, 512, 1, 1), 288893, 290543, 289683),
    Measurement("conv", 48, (7, 512, 512, 3, 1), 593713, 624939, 598847),
    Measurement("conv", 49, (7, 512, 2048, 1, 1), 290052, 323689, 295430),
    Measurement("conv", 50, (7, 2048, 512, 1, 1), 288453, 289290, 288747),
    Measurement("conv", 51, (7, 512, 512, 3, 1), 593863, 633590, 600626),
    Measurement("conv", 52, (7, 512, 2048, 1, 1), 288324, 325891, 294357),
    Measurement("conv", 53, (2048, 1024), 191250, 216134, 195480),
    # tiled_resadd_auto_cid over conv_N's I x J output (P: N = 4, 8, 11, 14, 18, ..., 53).
    Measurement("resadd", 0, (3136, 256), 301119, 301994, 301322),
    Measurement("resadd", 1, (3136, 256), 152991, 184602, 157688),
    Measurement("resadd", 2, (3136, 256), 300775, 358126, 309054),
    Measurement("resadd", 3, (784, 512), 155727, 156035, 155877),
    Measurement("resadd", 4, (784, 512), 155488, 155747, 155588),
    Measurement("resadd", 5, (784, 512), 154960, 155214, 155079),
    Measurement("resadd", 6, (784, 512), 155099, 155413, 155216),
    Measurement("resadd", 7, (196, 1024), 87557, 88157, 87858),
    Measurement("resadd", 8, (196, 1024), 50939, 51348, 51097),
    Measurement("resadd", 9, (196, 1024), 87696, 88188, 87890),
    Measurement("resadd", 10, (196, 1024), 87705, 112741, 91457),
    Measurement("resadd", 11, (196, 1024), 87383, 87889, 87582),
    Measurement("resadd", 12, (196, 1024), 87822, 88361, 87981),
    Measurement("resadd", 13, (49, 2048), 66480, 66929, 66701),
    Measurement("resadd", 14, (49, 2048), 66461, 66823, 66602),
    Measurement("resadd", 15, (49, 2048), 66541, 67267, 66840),
)

# ucb-bar/gemmini pull request 69 (hngenc, 2021-02-22, "Fix conv FSM freeze"): "ResNet50:
# 153709356 cycles (40% utilization)". Listed apart: docs/accuracy.md says why.
PR69_RESNET50_CYCLES = 153_709_356

# AlexNet, batch 1, the same SoC and run (ucb-bar/gemmini-rocc-tests, branch MOCA):
#   RA moca-data/data/alexnet_1.csv @eff2d7bf (the 7 repeats, min, max, mean per layer)
#   PA imagenet/alexnet_params_1.h and imagenet/funct_alexnet_1.h @80b7b9ac
# Each convolution is one tiled_conv_A_stride_auto_cid call without pooling (PA passes
# pool size 1 and pools in separate tiled_pool_auto_cid calls, not timed here); fc6 and
# fc7 are two tiled_matmul_nn_auto_cid calls of J / 2 columns each, timed together; fc8
# one call (1,000 classes padded to 1,024 outputs). Shapes: a convolution's (in_dim,
# in_channels, out_channels, kernel, stride, padding); a matmul's (K, J, calls).
MOCA_ALEXNET = (
    Measurement("alexnet conv", 0, (224, 3, 64, 11, 4, 2), 3894619, 4065446, 3925738),
    Measurement("alexnet conv", 1, (27, 64, 192, 5, 1, 2), 830734, 861656, 840125),
    Measurement("alexnet conv", 2, (13, 192, 384, 3, 1, 1), 470359, 495502, 475871),
    Measurement("alexnet conv", 3, (13, 384, 256, 3, 1, 1), 613042, 631741, 616320),
    Measurement("alexnet conv", 4, (13, 256, 256, 3, 1, 1), 409430, 411697, 409972),
    Measurement("alexnet matmul", 0, (9216, 4096, 2), 3674968, 4371531, 3784272),
    Measurement("alexnet matmul", 1, (4096, 4096, 2), 1594971, 1639440, 1608383),
    Measurement("alexnet matmul", 2, (4096, 1024, 1), 387146, 426994, 393446),
)
ALEXNET_NAMES = ("conv1", "conv2", "conv3", "conv4", "conv5", "fc6", "fc7", "fc8")


@dataclass(frozen=True)
class Row:
    name: str
    measurement: Measurement
    accperf: int
    roofline: float
    regression: float = float("nan")


def _shape_of(layer: Conv2d | Dense | Elementwise) -> tuple[int, ...]:
    if isinstance(layer, Conv2d):
        stride = layer.stride[0] if isinstance(layer.stride, tuple) else layer.stride
        return (layer.in_height, layer.in_channels, layer.out_channels, layer.kernel_height, stride)
    if isinstance(layer, Dense):
        return (layer.in_features, layer.out_features)
    channels, height, width = layer.shape[-3:]
    return (height * width, channels)


def _same_workload(measured: tuple[int, ...], ours: tuple[int, ...]) -> bool:
    if len(measured) == 2 and len(ours) == 2 and measured[0] == ours[0]:
        # The fc layer: P pads the 1,000 classes to 1,024 outputs.
        return -(-ours[1] // 64) * 64 == measured[1]
    return measured == ours


def _compulsory_bytes(layer: Conv2d | Dense | Elementwise) -> int:
    # MOCA's programs load a bias (bias=true); the layers here are measured alone, no
    # pool fused.
    return compulsory_bytes(layer, None, bias=True)


def _features(layer: Conv2d | Dense | Elementwise) -> np.ndarray:
    inputs, weights, outputs = operand_elements(layer)
    sizes = {
        "macs": getattr(layer, "macs", 0),
        "input_words": inputs,
        "weight_words": weights,
        "output_words": outputs,
    }
    return feature_row(sizes)


def moca_rows(overrides: dict[str, str] | None = None, tiles: dict | None = None) -> list[Row]:
    """accperf and the baselines beside each MOCA measurement, the regression fitted within
    each kind (convolutions and fc; residual additions). `overrides` change accperf's
    parameters beyond MOCA's configuration, `tiles` gives layers their tiles (`lower
    --mapping`'s layers); both sensitivity checks, not the comparison."""
    model = resnet50(batch=1)
    params = {**MOCA_PARAMS, **(overrides or {})}
    mapping = {"layers": tiles} if tiles else None
    result = accperf.analyze(
        accperf.lower(model, accelerator="gemmini", params=params, mapping=mapping)
    )
    cycles = dict(zip(result.layers["name"], result.layers["cycles"], strict=True))
    by_kind = {
        "conv": [layer for layer in model.layers if isinstance(layer, Conv2d | Dense)],
        "resadd": [layer for layer in model.layers if isinstance(layer, Elementwise)],
    }
    dim = MOCA_PARAMS["dim"]
    bus_bytes = int(accperf.accelerator_spec("gemmini").parameter("bus_bytes").default)
    rows: list[Row] = []
    for kind, layers in by_kind.items():
        measured = [m for m in MOCA_RESNET50 if m.kind == kind]
        if len(layers) != len(measured):
            raise SystemExit(f"{kind}: {len(layers)} layers in the zoo, {len(measured)} measured")
        features = np.array([_features(layer) for layer in layers])
        regression = leave_one_out(features, np.array([m.mean for m in measured], dtype=float))
        for layer, measurement, predicted in zip(layers, measured, regression, strict=True):
            if not _same_workload(measurement.shape, _shape_of(layer)):
                raise SystemExit(
                    f"{layer.name}: zoo shape {_shape_of(layer)} is not the measured "
                    f"{kind} {measurement.index}'s {measurement.shape}"
                )
            macs = getattr(layer, "macs", 0)
            roof = roofline(macs, _compulsory_bytes(layer), dim * dim, bus_bytes).cycles
            rows.append(Row(layer.name, measurement, int(cycles[layer.name]), roof, predicted))
    return rows


def _alexnet_calls(name: str, shape: tuple[int, ...]) -> tuple[Conv2d | Dense, ...]:
    """The layers PA's calls compute, each lowered alone (a call of its own)."""
    if len(shape) == 6:
        size, channels, filters, kernel, stride, padding = shape
        conv = Conv2d(name, channels, filters, size, size, kernel, kernel, stride, padding)
        return (conv,)
    features, outputs, calls = shape
    return tuple(Dense(f"{name}.{part}", features, outputs // calls) for part in range(calls))


def alexnet_rows(overrides: dict[str, str] | None = None, tiles: dict | None = None) -> list[Row]:
    """AlexNet's MOCA measurements beside accperf (the sum over a layer's calls, each
    lowered as a one-layer model) and the baselines (of the whole layer; the regression
    fitted to the other AlexNet layers). `tiles`: per call name, its tiles."""
    tiles = tiles or {}
    params = {**MOCA_PARAMS, **(overrides or {})}
    dim = MOCA_PARAMS["dim"]
    bus_bytes = int(accperf.accelerator_spec("gemmini").parameter("bus_bytes").default)
    wholes, predicted_cycles = [], []
    for name, measurement in zip(ALEXNET_NAMES, MOCA_ALEXNET, strict=True):
        calls = _alexnet_calls(name, measurement.shape)
        total = 0
        for call in calls:
            model = Model(f"alexnet.{call.name}", (call,))
            mapping = {"layers": {call.name: tiles[call.name]}} if call.name in tiles else None
            total += accperf.analyze(
                accperf.lower(model, accelerator="gemmini", params=params, mapping=mapping)
            ).total_cycles
        predicted_cycles.append(total)
        first = calls[0]
        wholes.append(
            first
            if isinstance(first, Conv2d)
            else Dense(name, first.in_features, first.out_features * len(calls))
        )
    features = np.array([_features(layer) for layer in wholes])
    measured = np.array([m.mean for m in MOCA_ALEXNET], dtype=float)
    regression = leave_one_out(features, measured)
    rows = []
    for layer, measurement, ours, predicted in zip(
        wholes, MOCA_ALEXNET, predicted_cycles, regression, strict=True
    ):
        roof = roofline(layer.macs, _compulsory_bytes(layer), dim * dim, bus_bytes).cycles
        rows.append(Row(f"alexnet.{layer.name}", measurement, ours, roof, predicted))
    return rows


def _strided_pointwise(row: Row) -> bool:
    shape = row.measurement.shape
    return len(shape) == 5 and shape[3] == 1 and shape[4] > 1


def _error(predicted: float, measured: int) -> float:
    return 100 * (predicted - measured) / measured


def _mape(rows: list[Row], column: str) -> float:
    return float(np.mean([abs(_error(getattr(r, column), r.measurement.mean)) for r in rows]))


def print_table(rows: list[Row]) -> None:
    print(
        "| layer | shape | measured mean (min-max of 7) | accperf | error | roofline | error "
        "| regression | error |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for row in rows:
        m = row.measurement
        shape = "x".join(str(v) for v in m.shape)
        print(
            f"| {row.name} | {m.kind} {m.index}: {shape} | {m.mean:,} ({m.low:,}-{m.high:,}) "
            f"| {row.accperf:,} | {_error(row.accperf, m.mean):+.1f}% "
            f"| {row.roofline:,.0f} | {_error(row.roofline, m.mean):+.1f}% "
            f"| {row.regression:,.0f} | {_error(row.regression, m.mean):+.1f}% |"
        )


def print_summary(rows: list[Row]) -> None:
    print("| layers | count | accperf MAPE | roofline MAPE | regression MAPE | spread of repeats |")
    print("|---|---|---|---|---|---|")
    groups = {
        "ResNet-50 convolutions and fc": [r for r in rows if r.measurement.kind == "conv"],
        "ResNet-50 residual additions": [r for r in rows if r.measurement.kind == "resadd"],
        "AlexNet convolutions and fc": [
            r for r in rows if r.measurement.kind.startswith("alexnet")
        ],
    }
    for label, group in groups.items():
        spread = np.mean(
            [(r.measurement.high - r.measurement.low) / r.measurement.mean for r in group]
        )
        print(
            f"| {label} | {len(group)} | {_mape(group, 'accperf'):.1f}% "
            f"| {_mape(group, 'roofline'):.1f}% | {_mape(group, 'regression'):.1f}% "
            f"| {100 * spread:.1f}% |"
        )
    print()
    for label in ("ResNet-50 convolutions and fc", "AlexNet convolutions and fc"):
        measured = sum(r.measurement.mean for r in groups[label])
        ours = sum(r.accperf for r in groups[label])
        print(
            f"{label} summed: measured {measured:,}, accperf {ours:,} "
            f"({_error(ours, measured):+.1f}%)"
        )
    # The layers whose call accperf lowers as P makes it: not the strided 1x1 downsampling
    # convolutions, which P runs through tiled_conv_A_stride_auto_cid while accperf follows
    # master's resnet50.c (a matmul per output row).
    resnet = groups["ResNet-50 convolutions and fc"]
    same_call = [r for r in resnet if not _strided_pointwise(r)]
    print(
        f"ResNet-50 without the {len(resnet) - len(same_call)} strided 1x1 "
        f"downsampling convolutions: accperf MAPE {_mape(same_call, 'accperf'):.1f}%, roofline "
        f"{_mape(same_call, 'roofline'):.1f}%, regression {_mape(same_call, 'regression'):.1f}%"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--pr69",
        action="store_true",
        help="also print accperf's ResNet-50 "
        "batch 4 total on the default description beside PR 69's figure",
    )
    parser.add_argument(
        "--param",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="change an accperf parameter beyond MOCA's configuration (sensitivity only)",
    )
    parser.add_argument(
        "--moca-first-layer-tiles",
        action="store_true",
        help="give ResNet-50's and AlexNet's conv1 the tiles MOCA's tiler picks, in MOCA's "
        "loop order, in place of accperf's auto tiler (sensitivity only)",
    )
    args = parser.parse_args()
    overrides = dict(p.split("=", 1) for p in args.param)
    tiles = MOCA_FIRST_LAYER_TILES if args.moca_first_layer_tiles else {}
    print(
        f"ResNet-50 and AlexNet, batch 1, on Gemmini {MOCA_PARAMS | overrides}; "
        + ("conv1 with MOCA's tiles; " if tiles else "")
        + f"measured: {SOURCE}\n"
    )
    rows = moca_rows(overrides, tiles.get("resnet50")) + alexnet_rows(
        overrides, tiles.get("alexnet")
    )
    print_summary(rows)
    print()
    print_table(rows)
    if args.pr69:
        total = accperf.analyze(accperf.lower("resnet50", accelerator="gemmini", batch=4))
        print(
            f"\nucb-bar/gemmini PR 69: ResNet-50 {PR69_RESNET50_CYCLES:,} cycles (whole "
            f"program); accperf, default description, batch 4, Gemmini layers only: "
            f"{total.total_cycles:,} (not a like-for-like comparison)"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
