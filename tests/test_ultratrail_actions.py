"""UltraTrail's actions (analyzer/actions.py over isa/ultratrail/): the MACs its array
issues (every cell of every array step, idle ones included) and the words its FMEMs,
WMEM, BMEM and LMEM read and write, worked by hand on small layers, derived per layer of
TC-ResNet8 from a brute-force walk of its (block, block, position, tap) steps at three
array sizes, and the same in fast and full analysis."""

from __future__ import annotations

from collections import Counter

import pytest

from accelerators.catalog import find_accelerator
from analyzer.actions import ActionCounter, LayerActions
from isa.program import Datapath, Memory, Program
from isa.ultratrail.lowering import lower
from tracer import api
from tracer.workloads.layers import Conv2d, Model
from tracer.workloads.zoo import build_model

ARRAYS = ((4, 4), (8, 8), (16, 16), (8, 4), (4, 8))


def _lower(model: Model, **params: int) -> Program:
    accelerator = find_accelerator("ultratrail").resolve({k: str(v) for k, v in params.items()})
    return lower(accelerator, model)  # type: ignore[arg-type]


def _temporal(name, channels, filters, length, kernel, pad=0, **kw) -> Conv2d:
    """A 1-D conv over time: a k x 1 kernel over [1, C, L, 1]."""
    return Conv2d(name, channels, filters, length, 1, kernel, 1, (1, 1), (pad, 0, pad, 0), **kw)


def _words(actions: LayerActions) -> dict[str, tuple[int, int]]:
    return {m.memory: (m.read_words, m.write_words) for m in actions.traffic}


def test_a_padded_conv_worked_by_hand():
    """6 channels to 5 on a 4x4 array, 5 positions, kernel 3 padded by 1 each side.

    Input blocks ceil(6/4) = 2, output blocks ceil(5/4) = 2. In-bounds taps: position 0
    has taps 1-2 (tap 0 is on the padding), positions 1-3 all 3, position 4 taps 0-1: 13.
    Array steps 2 x 2 x 13 = 52, each running all 16 cells: 832 MACs issued, of which
    6 x 5 x 13 = 390 are the layer's (the rest are the 2 idle rows of the second input
    block and the 3 idle columns of the second output block).
    Each step reads one input vector (4 features: one FMEM word) and one 4x4 weight block
    (one WMEM word): 52 each. One bias word per output block: 2. Per output block the
    first input block writes 5 positions of partial sums to LMEM, the last reads them
    back: 10 writes, 10 reads. The output path writes 5 positions per output block to the
    destination FMEM: 10 words."""
    program = _lower(Model("m", (_temporal("conv", 6, 5, 5, 3, pad=1),)), rows=4, cols=4)
    layer = program.layers[0]
    actions = ActionCounter(program).layer(layer)
    assert (actions.macs_issued, actions.macs_useful, actions.macs_idle) == (832, 390, 442)
    source = f"fmem{layer.mapping['fmem_in']}"
    output = f"fmem{layer.mapping['fmem_out']}"
    assert source != output
    expected = {name: (0, 0) for name in program.memories}
    expected.update(
        {source: (52, 0), output: (0, 10), "wmem": (52, 0), "bmem": (2, 0), "lmem": (10, 10)}
    )
    assert _words(actions) == expected
    # Words: an FMEM word 4 features x 8 bits = 4 bytes, a WMEM word 16 weights x 6 bits
    # = 12 bytes, a BMEM word 4 biases x 8 bits = 4, an LMEM word 4 sums x 20 bits = 10.
    traffic = {m.memory: m for m in actions.traffic}
    assert traffic["wmem"].read_bytes == 52 * 12
    assert traffic["lmem"].write_bytes == 10 * 10
    assert traffic[source].read_bytes == 52 * 4
    assert program.memories == {
        "fmem0": Memory("sram", 4, 8 * 1024),
        "fmem1": Memory("sram", 4, 8 * 1024),
        "fmem2": Memory("sram", 4, 8 * 1024),
        "wmem": Memory("sram", 12, 64 * 1024),
        "bmem": Memory("sram", 4, 1024),
        "lmem": Memory("sram", 10, 4 * 1024),
    }
    # 8-bit features times 6-bit weights into 20-bit sums (accelerators/ultratrail.toml).
    assert program.datapath == Datapath(8, 20)


def test_a_tall_array_reads_two_fmem_words_per_input_vector():
    """8 channels to 4 on an 8x4 array, 3 positions, kernel 1: an FMEM word holds
    min(8, 4) = 4 features, so each of the 3 array steps reads 8 features as 2 words (all
    24 input features once) and each output position writes 1 word of 4. One input block:
    no partial sums. The array is filled: 3 x 32 = 96 MACs issued, 8 x 4 x 3 useful."""
    program = _lower(Model("m", (_temporal("conv", 8, 4, 3, 1),)), rows=8, cols=4)
    layer = program.layers[0]
    actions = ActionCounter(program).layer(layer)
    assert (actions.macs_issued, actions.macs_useful) == (96, 96)
    words = _words(actions)
    assert words[f"fmem{layer.mapping['fmem_in']}"] == (6, 0)
    assert words[f"fmem{layer.mapping['fmem_out']}"] == (0, 3)
    assert words["wmem"] == (3, 0)
    assert words["lmem"] == (0, 0)
    # An FMEM word is 4 features x 8 bits; a WMEM word 32 weights x 6 bits = 24 bytes.
    assert program.memories["fmem0"].word_bytes == 4
    assert program.memories["wmem"].word_bytes == 24


def _in_bounds_taps(length: int, kernel: int, stride: int, padding: int) -> tuple[int, int]:
    """(output positions, (position, tap) pairs whose input is not padding), by walking
    every tap of every position."""
    positions = (length + 2 * padding - kernel) // stride + 1
    taps = sum(
        1
        for position in range(positions)
        for tap in range(kernel)
        if 0 <= position * stride - padding + tap < length
    )
    return positions, taps


def _expected(mapping: dict, rows: int, cols: int) -> tuple[int, int, Counter[str]]:
    """(MACs issued, useful MACs, word counts) of one layer from its shape, by hand."""
    ceil = lambda a, b: -(-a // b)  # noqa: E731
    c_in, c_out = mapping["in_channels"], mapping["out_channels"]
    positions, taps = _in_bounds_taps(
        mapping["in_length"], mapping["kernel"], mapping["stride"], mapping["padding"]
    )
    in_blocks, out_blocks = ceil(c_in, rows), ceil(c_out, cols)
    steps = in_blocks * out_blocks * taps
    lanes = min(rows, cols)
    counts: Counter[str] = Counter()
    counts[f"fmem{mapping['fmem_in']}.read"] += steps * ceil(rows, lanes)
    counts["wmem.read"] = steps
    counts["bmem.read"] = out_blocks
    # Partial sums: every input block but the last writes a row, every one but the first
    # reads one.
    counts["lmem.write"] = counts["lmem.read"] = out_blocks * positions * (in_blocks - 1)
    outputs = 1 if "pool_shift" in mapping else positions
    counts[f"fmem{mapping['fmem_out']}.write"] += out_blocks * outputs * ceil(cols, lanes)
    if "fmem_residual" in mapping:
        counts[f"fmem{mapping['fmem_residual']}.read"] += out_blocks * positions * ceil(cols, lanes)
    return steps * rows * cols, c_in * c_out * taps, counts


@pytest.mark.parametrize(("rows", "cols"), ARRAYS)
def test_tc_resnet8_layers_against_their_steps(rows: int, cols: int):
    """Every layer of TC-ResNet8 (residuals, a pooled last conv, the FC) at five array
    shapes: MACs and every memory's words against a walk of its steps; useful <= issued,
    equal exactly where both channel counts fill whole blocks."""
    program = _lower(build_model("tc_resnet8_ut"), rows=rows, cols=cols)
    counter = ActionCounter(program)
    assert len(program.layers) == 11
    kinds = Counter()
    for layer in program.layers:
        actions = counter.layer(layer)
        issued, useful, counts = _expected(layer.mapping, rows, cols)
        assert (actions.macs_issued, actions.macs_useful) == (issued, useful), layer.name
        observed = {name: n for name, n in actions.counts().items() if n and name != "mac"}
        assert observed == {name: n for name, n in counts.items() if n}, layer.name
        filled = (
            layer.mapping["in_channels"] % rows == 0 and layer.mapping["out_channels"] % cols == 0
        )
        assert actions.macs_useful <= actions.macs_issued
        assert (actions.macs_useful == actions.macs_issued) == filled, layer.name
        kinds.update(
            ["residual"] * ("fmem_residual" in layer.mapping)
            + ["pool"] * ("pool_shift" in layer.mapping)
            + ["psums"] * bool(actions.counts()["lmem.read"])
        )
    # The walk covered every kind of output path.
    assert kinds["residual"] == 3 and kinds["pool"] == 1 and kinds["psums"] > 0


def test_tc_resnet8_totals_at_8x8():
    """The whole network at the default 8x8: every layer's channels are multiples of 8 but
    the FC's 12 outputs, whose second output block runs 4 idle columns (192 MACs)."""
    program = _lower(build_model("tc_resnet8_ut"))
    counter = ActionCounter(program)
    layers = [counter.layer(layer) for layer in program.layers]
    assert sum(a.macs_issued - a.macs_useful for a in layers) == 192
    # Weights are read once per array step and every step reads one input vector.
    total = Counter()
    for actions in layers:
        total.update(actions.counts())
    assert total["wmem.read"] == sum(layer.mapping["array_steps"] for layer in program.layers)
    assert total["fmem0.read"] + total["fmem1.read"] + total["fmem2.read"] == total[
        "wmem.read"
    ] + sum(
        layer.mapping["output_blocks"] * layer.mapping["out_length"]
        for layer in program.layers
        if "fmem_residual" in layer.mapping
    )
    assert total["wmem.write"] == 0 and total["bmem.write"] == 0


@pytest.mark.parametrize(("rows", "cols"), [(8, 8), (4, 8)])
def test_fast_and_full_analysis_count_the_same_actions(rows: int, cols: int):
    trace = api.lower("tc_resnet8_ut", "ultratrail", {"rows": rows, "cols": cols})
    fast, full = api.analyze(trace, mode="fast"), api.analyze(trace, mode="full")
    assert [r.cycles for r in fast.results] == [r.cycles for r in full.results]
    assert [r.actions for r in fast.results] == [r.actions for r in full.results]
    counter = ActionCounter(trace.program)
    assert [r.actions for r in fast.results] == [counter.layer(x) for x in trace.program.layers]
    assert all(r.actions is not None and r.actions.macs_issued > 0 for r in fast.results)


def test_actions_survive_the_trace_folder(tmp_path):
    trace = api.lower("tc_resnet8_ut", "ultratrail")
    folder = trace.save(tmp_path / "trace")
    read = api.load_trace(folder)
    assert read.program.memories == trace.program.memories
    assert read.program.datapath == trace.program.datapath
    counted, reread = ActionCounter(trace.program), ActionCounter(read.program)
    for mine, theirs in zip(trace.program.layers, read.program.layers, strict=True):
        assert counted.layer(mine) == reread.layer(theirs)
