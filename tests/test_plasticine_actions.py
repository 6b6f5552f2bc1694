"""Plasticine's actions (analyzer/actions.py over isa/plasticine/): the MACs its PCUs issue
(every lane of every vector, padding rows included) and the words its PMUs and DRAM read
and write, worked by hand on small layers; on every layer of every zoo model useful <=
issued (equal where lanes, pairs and tiles are filled) and DRAM words at least the words
the layer touches; the same in fast and full analysis."""

from __future__ import annotations

from math import prod

import pytest

from accelerators.catalog import find_accelerator
from analyzer.actions import ActionCounter, LayerActions
from isa.plasticine.lowering import lower
from isa.program import Datapath, Memory, Program
from tracer import api
from tracer.workloads.layers import Conv2d, Dense, Elementwise, Layer, MatMul, Model, Pool
from tracer.workloads.zoo import MODELS, build_model

LANES = 16  # accelerators/plasticine.toml's default


def _lower(layers: tuple[Layer, ...], **params: int) -> Program:
    accelerator = find_accelerator("plasticine").resolve({k: str(v) for k, v in params.items()})
    return lower(accelerator, Model("m", layers))  # type: ignore[arg-type]


def _words(actions: LayerActions) -> dict[str, tuple[int, int]]:
    return {m.memory: (m.read_words, m.write_words) for m in actions.traffic}


def test_a_dense_layer_worked_by_hand():
    """A 4 x 20 by 20 x 3 dense layer: M = 4 >= N = 3, so the 4 rows spread over 4 pairs
    (one row each, one step) and the 3 weight columns are the shared tile. Each pair runs
    3 dot products of K = 20, 2 vectors of 16 lanes: 4 x 3 x 2 x 16 = 384 MACs issued,
    4 x 20 x 3 = 240 useful (the second vector's 12 idle lanes).
    DRAM: 4 private tiles of 20 words and 1 shared tile of 3 x 20 read (140), 4 output
    tiles of 3 written (12). PMU: those 140 written by the loads, 12 results by the dot
    products; read: the shared column of 20 once per element (3 x 20), each pair's row
    per element (4 x 3 x 20), and the 12 results by the stores: 60 + 240 + 12 = 312."""
    program = _lower((Dense("fc", 20, 3, rows=4),))
    actions = ActionCounter(program).layer(program.layers[0])
    assert (actions.macs_issued, actions.macs_useful) == (384, 240)
    assert _words(actions) == {"pmu": (312, 152), "dram": (140, 12)}
    traffic = {m.memory: m for m in actions.traffic}
    assert (traffic["dram"].read_bytes, traffic["dram"].write_bytes) == (560, 48)
    # 64 PMUs of 256 KiB; 32-bit words (TopParam.scala:9).
    assert program.memories == {
        "pmu": Memory("sram", 4, 64 * 256 * 1024),
        "dram": Memory("dram", 4, 0),
    }
    assert program.datapath == Datapath(32, 32)


def test_a_filled_layer_issues_only_useful_macs():
    """K = 32 is two whole vectors and the 4 rows one per pair: 4 x 3 x 2 x 16 = 384 MACs
    issued, all useful (4 x 32 x 3)."""
    program = _lower((Dense("fc", 32, 3, rows=4),))
    actions = ActionCounter(program).layer(program.layers[0])
    assert (actions.macs_issued, actions.macs_useful) == (384, 384)


def test_padding_rows_are_issued_and_moved():
    """The same layer with 5 rows on par = 2 pairs: tiles of ceil(5 / 2) = 3 rows, so the
    second pair's third row is padding. Each pair: 3 x 3 = 9 dot products of 2 vectors:
    2 x 9 x 32 = 576 MACs issued, 5 x 20 x 3 = 300 useful. DRAM reads 2 private tiles of
    3 x 20 and the shared 60: 180; writes 2 output tiles of 9: 18 (3 of them padding).
    PMU writes 180 + 18; reads 9 x 20 shared, 2 x 9 x 20 private and 18 stored: 558."""
    program = _lower((Dense("fc", 20, 3, rows=5),), par=2)
    actions = ActionCounter(program).layer(program.layers[0])
    assert (actions.macs_issued, actions.macs_useful) == (576, 300)
    assert _words(actions) == {"pmu": (558, 198), "dram": (180, 18)}


def test_an_add_worked_by_hand():
    """An add of two 40-element tensors: 3 output vectors of 16 lanes, one per pair.
    Each pair's private tile is its share of the 80 input words, ceil(80 / 3) = 27, read
    from DRAM (81); each writes one output vector (3 x 16 = 48 words, 8 of them past the
    tensor's end). Each pair's map reads its 2 input vectors whole (2 x 16 words) and
    writes 16: PMU reads 3 x 32 + 48 stored = 144, writes 81 + 48 = 129. No MACs."""
    program = _lower((Elementwise("add", "add", (1, 40)),))
    actions = ActionCounter(program).layer(program.layers[0])
    assert (actions.macs_issued, actions.macs_useful) == (0, 0)
    assert _words(actions) == {"pmu": (144, 129), "dram": (81, 48)}


def _touched(length: int, kernel: int, stride: int, pad: int, dilation: int, out: int) -> int:
    """Input positions along one axis that some output's window reads (not padding)."""
    return len(
        {
            o * stride - pad + k * dilation
            for o in range(out)
            for k in range(kernel)
            if 0 <= o * stride - pad + k * dilation < length
        }
    )


def _unique_words(layer: Layer) -> tuple[int, int]:
    """(input and weight words the layer reads, output words it writes), each once."""
    if isinstance(layer, Conv2d):
        top, left, _, _ = layer.padding
        rows = _touched(
            layer.in_height,
            layer.kernel_height,
            layer.stride[0],
            top,
            layer.dilation[0],
            layer.out_height,
        )
        cols = _touched(
            layer.in_width,
            layer.kernel_width,
            layer.stride[1],
            left,
            layer.dilation[1],
            layer.out_width,
        )
        inputs = layer.batch * layer.in_channels * rows * cols
        weights = (
            layer.out_channels
            * (layer.in_channels // layer.groups)
            * layer.kernel_height
            * layer.kernel_width
        )
        return inputs + weights, prod(layer.output_shape)
    if isinstance(layer, Dense):
        return layer.rows * layer.in_features + layer.in_features * layer.out_features, (
            layer.rows * layer.out_features
        )
    if isinstance(layer, MatMul):
        return layer.batch * (layer.m * layer.k + layer.k * layer.n), layer.batch * layer.m * (
            layer.n
        )
    assert isinstance(layer, (Pool, Elementwise))
    return sum(prod(shape) for shape in layer.input_shapes), prod(layer.output_shape)


@pytest.mark.parametrize("model", sorted(MODELS))
def test_every_zoo_layer_issues_at_least_its_macs_and_moves_its_words(model: str):
    workload = build_model(model)
    accelerator = find_accelerator("plasticine").resolve({})
    program = lower(accelerator, workload)  # type: ignore[arg-type]
    counter = ActionCounter(program)
    layers = {layer.name: layer for layer in workload.layers}
    filled_layers = 0
    for layer in program.layers:
        actions = counter.layer(layer)
        mapping = layer.mapping
        dram = {m.memory: m for m in actions.traffic}["dram"]
        assert actions.macs_useful == layers[layer.name].macs
        assert actions.macs_useful <= actions.macs_issued, layer.name
        if mapping["pattern"] == "dot":
            # Lanes, pairs and both tiles filled: no lane and no row idle.
            filled = (
                mapping["k"] % LANES == 0
                and mapping["pairs"] * mapping["rounds"] * mapping["x_tile"] == mapping["x"]
                and mapping["y_steps"] * mapping["y_tile"] == mapping["y"]
            )
            assert (actions.macs_useful == actions.macs_issued) == filled, layer.name
            filled_layers += filled
        else:
            assert actions.macs_issued == 0
        reads, writes = _unique_words(layers[layer.name])
        assert dram.read_words >= reads, layer.name
        assert dram.write_words >= writes, layer.name
        # And exactly the words the mapping's loads and stores move.
        assert dram.read_words + dram.write_words == mapping["dram_words"], layer.name
        # Everything loaded is written to a PMU, everything stored read from one.
        pmu = {m.memory: m for m in actions.traffic}["pmu"]
        assert pmu.write_words >= dram.read_words and pmu.read_words >= dram.write_words
    # Both sides of the equivalence are met: MobileNetV2 and the TC-ResNets fill some.
    if model in ("mobilenet_v2", "tc_resnet8", "tc_resnet8_ut"):
        assert filled_layers > 0


@pytest.mark.parametrize("model", ["tc_resnet8", "mobilenet_v2"])
def test_fast_and_full_analysis_count_the_same_actions(model: str):
    layers = (
        None
        if model == "tc_resnet8"
        else ["features.0", "features.1.depthwise", "features.1.project"]
    )
    trace = api.lower(model, "plasticine", layers=layers)
    fast, full = api.analyze(trace, mode="fast"), api.analyze(trace, mode="full")
    assert [r.cycles for r in fast.results] == [r.cycles for r in full.results]
    assert [r.actions for r in fast.results] == [r.actions for r in full.results]
    counter = ActionCounter(trace.program)
    assert [r.actions for r in fast.results] == [counter.layer(x) for x in trace.program.layers]
    assert any(r.actions is not None and r.actions.macs_issued > 0 for r in fast.results)
