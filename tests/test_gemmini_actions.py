"""Gemmini's actions (docs/gemmini/actions.md): what each command moves and computes,
counted per layer by analyzer/actions.py, against layers worked out by hand from the RTL
and gemmini.h (G = ucb-bar/gemmini src/main/scala/gemmini/, T = gemmini-rocc-tests
include/gemmini.h), never from the lowering's own formulas.

Units: DRAM and the scratchpad count bytes (one int8 element a word), the accumulator
int32 elements. A scratchpad or accumulator read reads a whole row of DIM elements (the
SRAMs have no read mask); a write writes the columns it moves (masked writes); an
accumulating write reads its row first. Every row the mesh fires is DIM x DIM MACs.
"""

from __future__ import annotations

from math import prod

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from accelerators.catalog import find_accelerator
from analyzer.actions import ActionCounter, LayerActions
from isa.gemmini.lowering import lower
from tests.builders import GEMMINI_CALL_PARAMS, GEMMINI_MEMORY_PARAMS, examples
from tracer import api
from tracer.workloads.layers import Conv2d, Dense, Elementwise, Model, ModelInput, Pool
from tracer.workloads.zoo import build_model

DIM = 16
BIAS_BYTES = 4  # an int32 bias element


# Two tensors a residual addition reads.
ADD_INPUTS = (ModelInput("a", (1, 40, 5, 5)), ModelInput("b", (1, 40, 5, 5)))


def _lower(layers, **params: str):
    model = Model("m", tuple(layers), inputs=ADD_INPUTS)
    return lower(find_accelerator("gemmini").resolve(params), model)


def _actions(layer, **params: str) -> LayerActions:
    program = _lower([layer], **params)
    return ActionCounter(program).layer(program.layers[0])


def _traffic(actions: LayerActions) -> dict[str, tuple[int, int]]:
    """memory -> (words read, words written)."""
    return {t.memory: (t.read_words, t.write_words) for t in actions.traffic}


# ------------------------------------------------------------------ worked by hand


def test_a_32_cube_matmul_at_dim_16():
    """One LOOP_WS tile of 2 x 2 x 2 blocks (I, J, K). Loads: A 32 x 32 and B 32 x 32
    bytes; a bias mvin3 per (i, j) block fetches one 16-element int32 row (DRAM stride 0,
    G LoadController.scala:76) and writes it to 16 accumulator rows. Execute: a weight
    step per (k, j) with two 16-row computes, every output accumulating onto the bias (T
    gemmini.h L687: ex_accumulate); stores: a 16-row mvout per (i, j) block."""
    actions = _actions(Dense("fc", 32, 32, rows=32))
    a_bytes = b_bytes = c_bytes = 32 * 32
    bias_mvins = 2 * 2
    bias_bytes = bias_mvins * DIM * BIAS_BYTES
    computes = 2 * 2 * 2  # i, j, k blocks
    traffic = _traffic(actions)
    assert traffic["dram"] == (a_bytes + b_bytes + bias_bytes, c_bytes)
    # A rows read whole by every compute, B rows by every weight preload (k, j)
    assert traffic["scratchpad"] == (computes * DIM * DIM + 2 * 2 * DIM * DIM, a_bytes + b_bytes)
    acc_reads = computes * DIM * DIM + bias_mvins * DIM * DIM  # accumulating + mvouts
    acc_writes = bias_mvins * DIM * DIM + computes * DIM * DIM
    assert traffic["accumulator"] == (acc_reads, acc_writes)
    assert actions.macs_issued == computes * DIM * DIM * DIM == 32**3
    assert actions.macs_useful == 32**3
    bytes_ = {t.memory: (t.read_bytes, t.write_bytes) for t in actions.traffic}
    assert bytes_["accumulator"] == (4 * acc_reads, 4 * acc_writes)
    assert bytes_["dram"] == traffic["dram"]


def test_a_partial_matmul_moves_only_its_rows_and_columns_but_fires_full_passes():
    """20 x 24 x 40 at DIM 16: blocks I 16 + 4, K 16 + 8, J 16 + 16 + 8. Every mvin and
    mvout moves its own rows and columns (T gemmini.h L1135-1180; G LoopMatmul.scala:
    69-70,286-287,554-555); every compute writes its output block's columns. The mesh
    fires max(rows, 4) rows for a compute and DIM for the one paired with new weights (G
    ExecuteController.scala:285-302): per (k, j) weight step 16 + DIM = 32 rows."""
    actions = _actions(Dense("fc", 24, 40, rows=20))
    i_rows, j_cols, k_rows = (16, 4), (16, 16, 8), (16, 8)
    bias_bytes = len(i_rows) * sum(j_cols) * BIAS_BYTES  # one bias row per (i, j) mvin3
    traffic = _traffic(actions)
    assert traffic["dram"] == (20 * 24 + 24 * 40 + bias_bytes, 20 * 40)
    steps = len(k_rows) * len(j_cols)
    assert actions.macs_issued == steps * (16 + DIM) * DIM * DIM
    assert actions.macs_useful == 20 * 24 * 40
    a_reads = steps * sum(i_rows) * DIM
    b_reads = len(j_cols) * sum(k_rows) * DIM
    assert traffic["scratchpad"] == (a_reads + b_reads, 20 * 24 + 24 * 40)
    outputs = sum(i_rows) * sum(j_cols)  # elements of C
    out_rows = sum(i_rows) * len(j_cols)  # accumulator rows of C
    acc_writes = outputs + len(k_rows) * outputs  # bias, then every k's computes
    acc_reads = len(k_rows) * out_rows * DIM + out_rows * DIM  # accumulating, mvouts
    assert traffic["accumulator"] == (acc_reads, acc_writes)


def test_a_3x3_conv_at_dim_16():
    """10 x 10 x 16 -> 8 x 8 x 16, no padding: one LOOP_CONV_WS tile. Inputs 100 pixels of
    16 bytes, weights 3 x 3 x 16 x 16; a bias mvin3 per output row (8 pixels, one int32
    row fetched). Nine weight steps (krow, kcol; one kch block), each 8 computes of 8
    rows: 7 x max(8, 4) + DIM = 72 mesh rows. Every output row accumulates (G
    LoopConv.scala:757); 8 mvouts of 8 rows."""
    actions = _actions(Conv2d("conv", 16, 16, 10, 10, 3, 3))
    weights = 3 * 3 * 16 * 16
    bias_bytes = 8 * DIM * BIAS_BYTES
    traffic = _traffic(actions)
    assert traffic["dram"] == (100 * 16 + weights + bias_bytes, 64 * 16)
    assert actions.macs_issued == 9 * (7 * 8 + DIM) * DIM * DIM
    assert actions.macs_useful == 64 * 9 * 16 * 16
    assert traffic["scratchpad"] == (9 * 64 * DIM + 9 * 16 * DIM, 100 * 16 + weights)
    assert traffic["accumulator"] == (9 * 64 * DIM + 64 * DIM, 64 * 16 + 9 * 64 * 16)


def test_short_channel_blocks_move_only_their_channels():
    """120 -> 72 channels, 3 x 3 over 6 x 6 (4 x 4 outputs): input channels in 8 blocks,
    two mvins of 4 blocks, the second 56 wide (G LoopConv.scala:302-304); output
    channels in 5 blocks, the last 8 wide, in its bias mvin3, weight mvin2, computes and
    mvouts (LoopConv.scala:128-129,479-481,657). 360 weight steps (5 och x 9 taps x 8
    kch blocks) of four 4-row computes: 3 x 4 + DIM mesh rows each."""
    actions = _actions(Conv2d("conv", 120, 72, 6, 6, 3, 3))
    inputs, weights, outputs = 36 * 120, 9 * 120 * 72, 16 * 72
    bias_bytes = 4 * 72 * BIAS_BYTES  # one bias row per output row and channel block
    traffic = _traffic(actions)
    assert traffic["dram"] == (inputs + weights + bias_bytes, outputs)
    assert traffic["scratchpad"][1] == inputs + weights
    assert traffic["accumulator"][1] == outputs + 9 * 8 * outputs  # bias, every step
    assert actions.macs_issued == 360 * (3 * 4 + DIM) * DIM * DIM


def test_output_stationary_fires_dim_rows_per_command():
    """The 32-cube matmul output-stationary (T gemmini.h L380-504): I x J x K = 8 computes
    of DIM rows each (G ExecuteController.scala:285-302) plus the first preload, fired
    alone with DIM zero rows (:585-597): 9 x DIM^3 MACs. Each compute reads its A and B
    blocks; the last k's preload writes C onto the bias rows (accumulating)."""
    actions = _actions(Dense("fc", 32, 32, rows=32), dataflow="os")
    traffic = _traffic(actions)
    assert actions.macs_issued == 9 * DIM**3
    assert actions.macs_useful == 32**3
    bias_bytes = 2 * 2 * DIM * BIAS_BYTES  # a repeated bias row per (i, j) D mvin
    assert traffic["dram"] == (32 * 32 * 2 + bias_bytes, 32 * 32)
    assert traffic["scratchpad"] == (8 * 2 * DIM * DIM, 2 * 32 * 32)
    blocks = 2 * 2  # C blocks: bias written, results read-modify-written, stored
    assert traffic["accumulator"] == (2 * blocks * DIM * DIM, 2 * blocks * DIM * DIM)


def test_a_partial_output_stationary_matmul_moves_its_rows_and_columns():
    """20 x 24 x 40 output-stationary: blocks I 16 + 4, J 16 + 16 + 8, K 16 + 8. D, B and
    A mvins and the mvouts move their rows and columns (T gemmini.h L399-447, L483-503);
    each compute reads its A and B rows (A_rows, B_rows, L470-473); the last k's preload
    writes C_rows x C_cols onto the bias (L466-468). 12 computes and the lone first
    preload, DIM rows each."""
    actions = _actions(Dense("fc", 24, 40, rows=20), dataflow="os")
    i_rows, j_cols, k_rows = (16, 4), (16, 16, 8), (16, 8)
    traffic = _traffic(actions)
    bias_bytes = len(i_rows) * sum(j_cols) * BIAS_BYTES
    assert traffic["dram"] == (20 * 24 + 24 * 40 + bias_bytes, 20 * 40)
    assert actions.macs_issued == (2 * 3 * 2 + 1) * DIM**3
    a_reads = len(j_cols) * len(k_rows) * sum(i_rows)
    b_reads = len(i_rows) * len(j_cols) * sum(k_rows)
    assert traffic["scratchpad"] == ((a_reads + b_reads) * DIM, 20 * 24 + 24 * 40)
    c_rows = sum(i_rows) * len(j_cols)  # accumulator rows of C, read when adding, stored
    assert traffic["accumulator"] == (2 * c_rows * DIM, 2 * 20 * 40)


def test_a_residual_add_reads_both_tensors_and_adds_the_second_in_the_accumulator():
    """tiled_resadd (T gemmini.h L3135-3147, L3217-3218): A and B shrunk (int8) into the
    accumulator, B accumulating (G LoopMatmul.scala:85,200), C stored."""
    add = Elementwise("add", "add", (1, 40, 5, 5), inputs=("a", "b"))
    actions = _actions(add)
    elements = 40 * 25
    rows = 25 * 3  # 25 pixel rows x 3 channel blocks (16, 16, 8)
    traffic = _traffic(actions)
    assert traffic["dram"] == (2 * elements, elements)
    assert traffic["accumulator"] == (rows * DIM + rows * DIM, 2 * elements)
    assert traffic["scratchpad"] == (0, 0)
    assert actions.macs_issued == actions.macs_useful == 0


def test_global_average_pooling_adds_every_pixel_but_the_first():
    """sp_tiled_global_average (T gemmini.h L3332-3368): one shrunk mvin per pixel and
    channel group, the first pixel overwriting, the others accumulating (L3345-3346);
    an mvout of one row per channel block."""
    pool = Pool("avg", "avgpool", 40, 4, 4, 4, 4)
    actions = _actions(pool)
    traffic = _traffic(actions)
    assert traffic["dram"] == (16 * 40, 40)
    acc_rows_per_pixel = 3  # 40 channels: blocks of 16, 16, 8
    assert traffic["accumulator"] == (
        15 * acc_rows_per_pixel * DIM + acc_rows_per_pixel * DIM,
        16 * 40,
    )


def test_no_bias_removes_the_bias_reads_and_nothing_else_from_dram():
    """bias=false (NO_BIAS): a LOOP_WS tile loads no bias and its first k block overwrites
    the accumulator (T gemmini.h L684-687; G LoopMatmul.scala:427); a LOOP_CONV_WS tile
    writes zero rows from the ZeroWriter, without DRAM (G LoadController.scala:72-76)."""
    fc = Dense("fc", 32, 32, rows=32)
    with_bias, without = _traffic(_actions(fc)), _traffic(_actions(fc, bias="false"))
    bias_bytes = 2 * 2 * DIM * BIAS_BYTES
    assert without["dram"] == (with_bias["dram"][0] - bias_bytes, with_bias["dram"][1])
    # no bias rows written; the k = 0 computes write without reading
    assert without["accumulator"] == (
        with_bias["accumulator"][0] - 4 * DIM * DIM,
        with_bias["accumulator"][1] - 4 * DIM * DIM,
    )
    conv = Conv2d("conv", 16, 16, 10, 10, 3, 3)
    with_bias, without = _traffic(_actions(conv)), _traffic(_actions(conv, bias="false"))
    assert without["dram"] == (with_bias["dram"][0] - 8 * DIM * BIAS_BYTES, with_bias["dram"][1])
    assert without["accumulator"] == with_bias["accumulator"]  # zero rows still written


def test_the_program_declares_its_memories_and_datapath():
    program = _lower([Dense("fc", 32, 32, rows=32)], scratchpad_kib="128", accumulator_kib="32")
    memories = {
        name: (m.kind, m.word_bytes, m.capacity_bytes) for name, m in program.memories.items()
    }
    assert memories == {
        "dram": ("dram", 1, 0),
        "scratchpad": ("sram", 1, 128 * 1024),
        "accumulator": ("sram", 4, 32 * 1024),
    }
    assert (program.datapath.operand_bits, program.datapath.accumulator_bits) == (8, 32)


def test_configs_flushes_and_fences_do_nothing():
    program = _lower([Dense("fc", 32, 32, rows=32)])
    for block in program.blocks:
        for template in block.templates:
            if template.opcode.startswith("config") or template.opcode == "flush":
                assert template.actions == ()


# ------------------------------------------------------------------ ResNet-50


@pytest.fixture(scope="module")
def resnet50():
    model = build_model("resnet50")
    program = lower(find_accelerator("gemmini").resolve({}), model)
    counter = ActionCounter(program)
    by_name = {layer.name: layer for layer in model.layers}
    fused = {host.position for host in program.host_layers if host.placement == "fused"}
    return model, program, counter, by_name, fused


def _fills_the_array(layer) -> bool:
    """A 1x1 stride-1 conv (a matmul, tiled_matmul_nn_auto) whose pixels and channels are
    whole DIM blocks: every compute has DIM rows and every block DIM columns."""
    return (
        isinstance(layer, Conv2d)
        and layer.kernel_height == layer.kernel_width == 1
        and layer.stride == (1, 1)
        and layer.batch * layer.out_height * layer.out_width % DIM == 0
        and layer.in_channels % DIM == 0
        and layer.out_channels % DIM == 0
    )


def test_resnet50_useful_macs_never_exceed_the_issued_ones(resnet50):
    model, program, counter, by_name, _ = resnet50
    full = 0
    for layer in program.layers:
        actions = counter.layer(layer)
        source = by_name[layer.name]
        assert actions.macs_useful == source.macs
        if _fills_the_array(source):
            assert actions.macs_issued == actions.macs_useful, layer.name
            full += 1
        elif source.macs:
            assert actions.macs_issued > actions.macs_useful, layer.name
        else:
            assert actions.macs_issued == 0, layer.name
    # layer1's 7 and layer2's 8 1x1 stride-1 convs (56 x 56 or 28 x 28 pixels) and
    # layer3.0.conv1 (28 x 28 in); layer3's others see 14 x 14 = 196 pixels, 12.25 blocks
    assert full == 16


def _weight_bytes(layer) -> int:
    if isinstance(layer, Conv2d):
        per_output = layer.kernel_height * layer.kernel_width * layer.in_channels // layer.groups
        return per_output * layer.out_channels
    if isinstance(layer, Dense):
        return layer.in_features * layer.out_features
    return 0


def test_resnet50_dram_traffic_is_at_least_each_layers_unique_bytes(resnet50):
    """Every input, weight and output byte crosses the DMA at least once (a max pool fused
    into conv1's mvouts writes the pooled output)."""
    model, program, counter, by_name, fused = resnet50
    positions = {layer.name: index for index, layer in enumerate(model.layers)}
    for layer in program.layers:
        source = by_name[layer.name]
        dram = _traffic(counter.layer(layer))["dram"]
        inputs = sum(prod(shape) for shape in source.input_shapes)
        following = positions[layer.name] + 1
        stored = model.layers[following] if following in fused else source
        assert dram[0] >= inputs + _weight_bytes(source), layer.name
        assert dram[1] >= prod(stored.output_shape), layer.name


def test_fast_and_full_analysis_report_the_counts_the_loop_tree_gives(tmp_path):
    model = Model(
        "m",
        (
            Conv2d("conv", 16, 40, 10, 10, 3, 3, padding=1),
            Dense("fc", 24, 40, rows=20),
            Elementwise("add", "add", (1, 40, 5, 5), inputs=("a", "b")),
        ),
        inputs=ADD_INPUTS,
    )
    trace = api.lower(model, "gemmini")
    counter = ActionCounter(trace.program)
    expected = [counter.layer(layer) for layer in trace.program.layers]
    for mode in ("fast", "full"):
        results = api.analyze(trace, mode).results
        assert [result.actions for result in results] == expected
    # the trace folder keeps every template's actions and the memories
    saved = api.load_trace(trace.save(tmp_path))
    assert saved.program.memories == trace.program.memories
    assert [result.actions for result in api.analyze(saved, "fast").results] == expected
    assert all(actions.macs_issued or actions.traffic[0].read_words for actions in expected)


def _used_span(size: int, out: int, kernel: int, stride: int, pad: int) -> int:
    """Input rows (or columns) some window of a conv reads: the windows tile without
    gaps when kernel >= stride, from the first unpadded row to the last window's end."""
    if kernel < stride:
        return out  # a 1 x 1 window per output, stride apart
    return min(size, (out - 1) * stride - pad + kernel) - max(0, -pad)


@settings(max_examples=examples(60), deadline=None)
@given(
    size=st.integers(3, 20),
    channels=st.integers(1, 70),
    out_channels=st.integers(1, 70),
    kernel=st.sampled_from([1, 2, 3]),
    stride=st.integers(1, 2),
    padded=st.booleans(),
    batch=st.integers(1, 3),
    depthwise=st.booleans(),
    os_matmul=st.booleans(),
    params=st.fixed_dictionaries({**GEMMINI_MEMORY_PARAMS, **GEMMINI_CALL_PARAMS}),
)
def test_random_layers_store_each_output_once_and_issue_whole_array_passes(
    size, channels, out_channels, kernel, stride, padded, batch, depthwise, os_matmul, params
):
    """On random convs and matmuls, whatever the tiles: every output byte is written to
    DRAM exactly once, every input and weight byte some window needs is read at least
    once, MACs are issued in whole DIM x DIM passes and never fewer than the layer's, and
    the SRAMs are read in whole rows."""
    dim = int(params["dim"])
    pad = kernel // 2 if padded else 0
    conv = Conv2d(
        "conv",
        channels,
        channels if depthwise else out_channels,
        size,
        size,
        kernel,
        kernel,
        stride=stride,
        padding=pad,
        groups=channels if depthwise else 1,
        batch=batch,
    )
    fc = Dense("fc", channels, out_channels, rows=size * batch)
    layers = [fc] if os_matmul else [conv, fc]
    program = _lower(layers, **params, **({"dataflow": "os"} if os_matmul else {}))
    counter = ActionCounter(program)
    for lowered in program.layers:
        layer = next(layer for layer in layers if layer.name == lowered.name)
        actions = counter.layer(lowered)
        traffic = _traffic(actions)
        assert traffic["dram"][1] == prod(layer.output_shape), lowered.name
        if isinstance(layer, Conv2d):
            rows = _used_span(size, layer.out_height, kernel, stride, pad)
            inputs = batch * rows * rows * channels
        else:
            inputs = layer.rows * layer.in_features
        assert traffic["dram"][0] >= inputs + _weight_bytes(layer), lowered.name
        assert actions.macs_issued >= actions.macs_useful == layer.macs
        assert actions.macs_issued % (dim * dim) == 0
        assert traffic["scratchpad"][0] % dim == 0 and traffic["accumulator"][0] % dim == 0
