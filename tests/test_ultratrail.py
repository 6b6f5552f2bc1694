"""UltraTrail (isa/ultratrail/): timing worked by hand, the array steps against a brute-force
walk of (block, block, position, tap), fast == full over random 1-D layers and array sizes
and on TC-ResNet8 at 4x4, 8x8 and 16x16, the reference evaluator, the analytical baseline
and every difference from it, fusion, FMEM port conflicts, the clock, and each refusal
through the command line."""

from __future__ import annotations

from collections import Counter

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from accelerators.catalog import find_accelerator
from analyzer.crosscheck.baselines import ultratrail_analytical
from analyzer.engine.evaluate import Evaluation, evaluate_program
from analyzer.report import bound_text
from isa.program import Program, count_instructions
from isa.ultratrail.geometry import TemporalConv
from isa.ultratrail.lowering import lower
from tests.builders import SAMPLINGS, check_fast_equals_full, check_reaches_fast_path, examples
from tests.reference import reference_cycles
from tracer.cli import main
from tracer.lowering import lower_model
from tracer.trace_io import iterate_blocks, resolve_address
from tracer.workloads.layers import Conv2d, Dense, Elementwise, Model, ModelInput, Pool

TC_RESNET8_LAYERS = (
    "conv0",
    "block1.conv1",
    "block1.shortcut",
    "block1.conv2",
    "block2.conv1",
    "block2.shortcut",
    "block2.conv2",
    "block3.conv1",
    "block3.shortcut",
    "block3.conv2",
    "fc",
)


def _ultratrail(**params: int) -> object:
    return find_accelerator("ultratrail").resolve({k: str(v) for k, v in params.items()})


def _temporal(name, channels, filters, length, kernel, stride=1, pad=0, along_width=False, **kw):
    """A 1-D conv over time: a k x 1 kernel over [1, C, L, 1], or 1 x k over [1, C, 1, L]."""
    if along_width:
        return Conv2d(
            name, channels, filters, 1, length, 1, kernel, (1, stride), (0, pad, 0, pad), **kw
        )
    return Conv2d(
        name, channels, filters, length, 1, kernel, 1, (stride, 1), (pad, 0, pad, 0), **kw
    )


def _lower(layers, **params: int) -> Program:
    return lower(_ultratrail(**params), Model("m", tuple(layers)))  # type: ignore[arg-type]


def _cycles(program: Program, mode: str = "full") -> list[int]:
    return [r.cycles for r in evaluate_program(program, mode)]


def test_a_tiny_conv_worked_by_hand():
    """4 channels to 4 on a 4x4 array, 5 positions, kernel 3, no padding: 3 positions of
    3 taps, one input and one output block, so 9 array steps.

    cycle 0: cfg_load (ends 1); bias_rd rides in its bundle and reads creg at 1 (ends 2).
    Step k (k = 0..8) issues at 1 + k (one bundle per cycle): fmem_rd at 1 + k (its
    input vector lands in xreg at 2 + k), the MAC at 2 + k, ending 3 + k. The first step
    of each position starts a fresh sum and so never waits for the previous position's
    output path. The last position's last MAC (k = 8) ends at 11; its OPU runs 11-12 and
    the write into the output FMEM 12-13. So 13 cycles: the analytical model's 1 + 9 = 10
    plus 3 of fill and drain (the input read, the OPU, the output write)."""
    program = _lower([_temporal("conv", 4, 4, 5, 3)], rows=4, cols=4)
    assert _cycles(program) == [13]
    assert ultratrail_analytical(program.layers[0].mapping, 4, 4) == 10


def test_a_two_cycle_mac_worked_by_hand():
    """The tiny conv above with a two-cycle MAC: the steps chain through the accumulator.

    Position 0's MACs run 2-4, 4-6 and 6-8, each waiting for the sum before it. Position
    1's first step has its input at 7 but writes the accumulator, whose last write ends
    at 8 (WAW), so it runs 8-10 (starting a fresh sum, it need not read it; a write waits
    for the previous write all the same), then 10-12 and 12-14; position 2 14-16, 16-18
    and 18-20. The last OPU runs 20-21 and the write 21-22: 22 cycles, the nine MACs'
    18 plus the configuration, the first input read, the OPU and the output write."""
    program = _lower([_temporal("conv", 4, 4, 5, 3)], rows=4, cols=4, mac_latency=2)
    assert _cycles(program) == [22]


def test_partial_sums_across_input_blocks_worked_by_hand():
    """8 channels to 4 on 4x4, 3 positions, kernel 1: two input blocks, 6 array steps.

    Steps issue at 1..6. The first input block's steps (issued 1, 2, 3) MAC at 2, 3, 4 and
    write their partial sums to LMEM at 3, 4, 5 (each busy one cycle). The second block's
    first step issues at 4 and MACs at 5 (ends 6); its partial-sum read from LMEM issues
    with it but the single LMEM port is busy with position 2's write until 6: read 6-7,
    OPU 7-8, write 8-9. From there each position takes a cycle (the OPU reads the
    accumulator at 7 and 8, so the next fresh sums end at 8 and 9): the last OPU runs
    9-10 and the last write 10-11. 11 cycles: the formula's 1 + 6 plus 3 of fill and
    drain and the LMEM port's one turn from writing to reading."""
    program = _lower([_temporal("conv", 8, 4, 3, 1)], rows=4, cols=4)
    assert _cycles(program) == [11]
    assert ultratrail_analytical(program.layers[0].mapping, 4, 4) == 7


def _steps(program: Program) -> Counter:
    """(input FMEM word, WMEM word) of every array step, walking the loop tree."""
    steps: Counter = Counter()
    layer = program.layers[0]
    for block_id, index in iterate_blocks(layer.root):
        for template in program.blocks[block_id].templates:
            if template.opcode == "fmem_rd":
                source = next(o for o in template.reads if o.space.startswith("fmem"))
                word = resolve_address(source, index)
            if template.opcode == "wmem_rd":
                steps[(word, resolve_address(template.reads[0], index))] += 1
    return steps


@settings(max_examples=examples(40))
@given(
    channels=st.integers(1, 20),
    filters=st.integers(1, 20),
    length=st.integers(1, 30),
    kernel=st.integers(1, 9),
    stride=st.integers(1, 4),
    padded=st.booleans(),
    rows=st.sampled_from([2, 4, 8]),
    cols=st.sampled_from([2, 4, 8]),
)
def test_array_steps_are_the_in_bounds_block_position_tap_steps(
    channels, filters, length, kernel, stride, padded, rows, cols
):
    pad = kernel // 2 if padded else 0
    assume(length + 2 * pad >= kernel)
    conv = _temporal("conv", channels, filters, length, kernel, stride, pad)
    program = _lower([conv], rows=rows, cols=cols)
    in_blocks, out_blocks = -(-channels // rows), -(-filters // cols)
    out_length = conv.out_height
    # Brute force: every (output block, input block, position, tap) whose input position is
    # off the padding, reading input word (block, position) and weight block (o, i, tap).
    expected = Counter(
        (i * length + x * stride + f - pad, (o * in_blocks + i) * kernel + f)
        for o in range(out_blocks)
        for i in range(in_blocks)
        for x in range(out_length)
        for f in range(kernel)
        if 0 <= x * stride + f - pad < length
    )
    assert _steps(program) == expected
    mapping = program.layers[0].mapping
    assert mapping["array_steps"] == sum(expected.values())
    # The useful MACs leave out the taps on padding, which the array does not issue.
    in_bounds = sum(
        1 for x in range(out_length) for f in range(kernel) if 0 <= x * stride + f - pad < length
    )
    assert program.layers[0].macs == channels * filters * in_bounds


def _random_model(draw_layers, residual, pool, along_width):
    channels, filters, length, kernel, stride, padded = draw_layers
    pad = kernel // 2 if padded else 0
    x = ModelInput("x", (1, channels, 1, length) if along_width else (1, channels, length, 1))
    first = _temporal(
        "conv1", channels, filters, length, kernel, stride, pad, along_width, inputs=("x",)
    )
    layers: list = [first]
    out_length = first.out_width if along_width else first.out_height
    last = "conv1"
    if residual:
        layers.append(
            _temporal(
                "shortcut", channels, filters, length, 1, stride, 0, along_width, inputs=("x",)
            )
        )
        layers.append(
            _temporal(
                "conv2",
                filters,
                filters,
                out_length,
                kernel,
                1,
                pad,
                along_width,
                inputs=("conv1",),
            )
        )
        shape = layers[-1].output_shape
        layers.append(
            Elementwise("add", "add", shape, activation="relu", inputs=("conv2", "shortcut"))
        )
        last = "add"
    if pool:
        h, w = (1, out_length) if along_width else (out_length, 1)
        layers.append(Pool("pool", "avgpool", filters, h, w, h, w, inputs=(last,)))
        layers.append(Dense("fc", filters, 5, inputs=("pool",)))
    return Model("random", tuple(layers), (x,))


@settings(max_examples=examples(50))
@given(
    shape=st.tuples(
        st.integers(1, 20),
        st.integers(1, 20),
        st.integers(2, 60),
        st.integers(1, 9),
        st.integers(1, 3),
        st.booleans(),
    ),
    residual=st.booleans(),
    pool=st.booleans(),
    along_width=st.booleans(),
    params=st.fixed_dictionaries(
        {
            "rows": st.sampled_from(["2", "4", "8"]),
            "cols": st.sampled_from(["2", "4", "8", "16"]),
            "fmem_count": st.sampled_from(["2", "3"]),
            "mac_latency": st.sampled_from(["1", "2"]),
            "memory_latency": st.sampled_from(["1", "2"]),
            "opu_latency": st.sampled_from(["1", "3"]),
            "opu_occupancy": st.sampled_from(["1", "2"]),
        }
    ),
)
def _random_layers_fast_equals_full(tally, shape, residual, pool, along_width, params):
    channels, filters, length, kernel, stride, padded = shape
    if residual:  # the shortcut's length matches the padded conv's for odd kernels only
        kernel, padded = kernel | 1, True
        shape = (channels, filters, length, kernel, stride, padded)
    assume(length + 2 * (kernel // 2 if padded else 0) >= kernel)
    model = _random_model(shape, residual, pool, along_width)
    program = lower(find_accelerator("ultratrail").resolve(params), model)
    tally.record(check_fast_equals_full(program))


@pytest.mark.parametrize("sampling", SAMPLINGS)
def test_random_layers_fast_equals_full(sampling, monkeypatch):
    check_reaches_fast_path(_random_layers_fast_equals_full, sampling, monkeypatch)


@pytest.mark.parametrize(
    "layers, params",
    [
        ([_temporal("conv", 6, 5, 11, 5, 2, 2)], {"rows": 4, "cols": 2}),
        ([_temporal("conv", 9, 3, 7, 3, 1, 1, along_width=True)], {"rows": 2, "cols": 4}),
        ([Dense("fc", 10, 6)], {"rows": 4, "cols": 4, "memory_latency": 2}),
    ],
)
def test_small_layers_agree_with_the_reference_evaluator(layers, params):
    program = _lower(layers, **params)
    assert _cycles(program) == [reference_cycles(program, layer) for layer in program.layers]


def test_a_residual_block_agrees_with_the_reference_evaluator():
    model = _random_model((5, 6, 9, 3, 2, True), residual=True, pool=True, along_width=False)
    program = lower(_ultratrail(rows=4, cols=4, fmem_count=2, opu_occupancy=2), model)  # type: ignore[arg-type]
    assert _cycles(program) == [reference_cycles(program, layer) for layer in program.layers]


# The authors' formula per layer (docs/research/ultratrail.md §3, evaluated there by hand
# from hannah's backends.py, independently of this code).
ANALYTICAL_8X8 = (2971, 2629, 301, 3871, 2581, 301, 3281, 2521, 313, 3493, 13)
ANALYTICAL_TOTALS = {4: 89_055, 8: 22_275, 16: 6_962}


@pytest.mark.parametrize("dim", [4, 8, 16])
def test_tc_resnet8_fast_equals_full_and_differs_from_the_formula_as_explained(dim):
    program = lower_model("ultratrail", {"rows": str(dim), "cols": str(dim)}, "tc_resnet8_ut")
    assert [layer.name for layer in program.layers] == list(TC_RESNET8_LAYERS)
    fast = Evaluation(program, "fast", reuse_layers=False).run()
    full = evaluate_program(program, "full")
    assert [r.cycles for r in fast] == [r.cycles for r in full]
    assert sum(r.evaluated_iterations for r in fast) < sum(r.iterations for r in fast)
    formula = [ultratrail_analytical(layer.mapping, dim, dim) for layer in program.layers]
    assert sum(formula) == ANALYTICAL_TOTALS[dim]
    if dim == 8:
        assert tuple(formula) == ANALYTICAL_8X8
    for layer, result, predicted in zip(program.layers, full, formula, strict=True):
        mapping = layer.mapping
        # The formula counts exactly the array steps, plus one cycle for the configuration.
        assert predicted == 1 + mapping["array_steps"]
        # accperf adds the fill and drain the formula leaves out (the first input read, the
        # last OPU operation and output write: 3 cycles), and on layers of one tap per
        # position with several input blocks one LMEM port turn per output block: the
        # partial-sum read of the last input block waits for the previous block's write.
        turns = (
            mapping["output_blocks"]
            if mapping["kernel"] == 1 and mapping["input_blocks"] > 1
            else 0
        )
        assert result.cycles - predicted == 3 + turns, layer.name


def test_the_formula_miscounts_only_windows_that_overhang_both_edges():
    # The formula sums the taps on the left and on the right padding separately, so an input
    # no longer than kernel // 2 (windows overhanging both edges) is miscounted, even to a
    # negative count; everywhere else it counts exactly the in-bounds taps.
    for length in range(1, 24):
        for kernel in range(1, 16):
            for stride in range(1, 8):
                for pad in {0, kernel // 2}:
                    if length + 2 * pad < kernel:
                        continue
                    conv = TemporalConv("c", 8, 8, length, kernel, stride, pad, relu=False)
                    mapping = {
                        "op": "conv1d",
                        "in_channels": 8,
                        "out_channels": 8,
                        "in_length": length,
                        "kernel": kernel,
                        "stride": stride,
                        "padding": pad,
                    }
                    exact = ultratrail_analytical(mapping, 8, 8) - 1 == conv.in_bounds_taps
                    assert exact or (pad and length <= kernel // 2), (length, kernel, stride)


def test_tc_resnet8_fuses_its_adds_and_pool_and_rotates_three_fmems():
    program = lower_model("ultratrail", {}, "tc_resnet8_ut")
    fused = {host.name: host.reason for host in program.host_layers}
    assert set(fused) == {"block1.add", "block2.add", "block3.add", "avgpool"}
    assert all(host.placement == "fused" for host in program.host_layers)
    assert "fused into block3.conv2's output path" in fused["avgpool"]
    mappings = {layer.name: layer.mapping for layer in program.layers}
    last = mappings["block3.conv2"]
    assert last["fused"] == "block3.add, avgpool" and last["pool_shift"] == 4  # 13 -> /16
    for block in (1, 2, 3):
        conv2 = mappings[f"block{block}.conv2"]
        # Input, residual and output in three different FMEMs: no port shared.
        assert len({conv2["fmem_in"], conv2["fmem_residual"], conv2["fmem_out"]}) == 3
    assert [layer.macs for layer in program.layers][:2] == [190_080, 168_192]


@pytest.mark.parametrize(
    ("kept", "placement"),
    [(["block1.conv2", "block1.add"], "fused"), (["block2.add"], "host")],
)
def test_layers_left_out_by_name_leave_the_add_fused_as_in_the_network(kept, placement):
    # `--layers` turns a dropped producer's output into a model input: the add still
    # names both operands, so it stays fused into the conv that writes one of them as
    # the whole network runs it (it used to go to the host), and that conv lowers to the
    # same instructions and cycles. Without that conv, nothing can take the add.
    whole = lower_model("ultratrail", {}, "tc_resnet8_ut")
    subset = lower_model("ultratrail", {}, "tc_resnet8_ut", layers=kept)
    (add,) = subset.host_layers
    assert (add.name, add.placement) == (kept[-1], placement)
    by_name = dict(zip([layer.name for layer in whole.layers], _cycles(whole), strict=True))
    for layer, cycles in zip(subset.layers, _cycles(subset), strict=True):
        assert cycles == by_name[layer.name]
        (same,) = [other for other in whole.layers if other.name == layer.name]
        instructions = count_instructions(layer.root, subset.blocks)
        assert instructions == count_instructions(same.root, whole.blocks)


def test_two_fmems_make_the_residual_share_a_port_and_the_bound_says_so():
    three = lower_model(
        "ultratrail",
        {},
        "tc_resnet8_ut",
        layers=["block1.conv1", "block1.shortcut", "block1.conv2", "block1.add"],
    )
    two = lower_model(
        "ultratrail",
        {"fmem_count": "2"},
        "tc_resnet8_ut",
        layers=["block1.conv1", "block1.shortcut", "block1.conv2", "block1.add"],
    )
    conv2 = two.layers[2].mapping
    assert conv2["fmem_in"] == conv2["fmem_residual"]
    fast_three = Evaluation(three, "fast").run()
    fast_two = Evaluation(two, "fast").run()
    # 50 positions x 3 output blocks read their residual through the input's port: the
    # last input block's 9 taps and the residual read share it, 10 reads per 9 steps.
    assert fast_two[2].cycles > fast_three[2].cycles
    assert bound_text(fast_two[2], two).startswith("fmem-bound (busiest fmem[")
    assert bound_text(fast_three[2], three).startswith("frontend-bound")


def test_a_slow_output_path_bounds_a_one_tap_layer():
    # One tap per position and one input block: every step ends a position, so an OPU busy
    # two cycles per position sets the pace: 40 positions x 2.
    program = _lower([_temporal("conv", 8, 8, 40, 1)], opu_occupancy=2)
    [result] = Evaluation(program, "full").run()
    assert 80 <= result.cycles <= 80 + 4
    assert bound_text(result, program).startswith("opu-bound")


def test_lower_and_analyze_from_the_command_line_with_milliseconds(tmp_path, capsys):
    argv = ["lower", "--accelerator", "ultratrail", "--model", "tc_resnet8_ut", "-o", str(tmp_path)]
    assert main(argv) == 0
    trace = capsys.readouterr().out.strip().splitlines()[-1]
    assert main(["analyze", trace, "--baselines"]) == 0
    out = capsys.readouterr().out
    assert "22,323 cycles (89.292 ms at 250 kHz)" in out
    assert "analytical" in out and "fused" in out


def _onnx_model(path, layers, inputs):
    from tracer.workloads.onnx_export import write_onnx

    write_onnx(Model(path.stem, tuple(layers), inputs), path)
    return str(path)


def _refusal(tmp_path, capsys, model, *params):
    argv = ["lower", "--accelerator", "ultratrail", "--model", model, "-o", str(tmp_path / "t")]
    assert main([*argv, *(arg for p in params for arg in ("--param", p))]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "Traceback" not in err
    return err


def _chain(count: int, length: int = 20, kernel: int = 3, stride: int = 1, channels: int = 8):
    x = ModelInput("x", (1, channels, length, 1))
    layers, source = [], "x"
    for index in range(count):
        layer = _temporal(
            f"c{index}", channels, channels, length, kernel, stride, kernel // 2, inputs=(source,)
        )
        layers.append(layer)
        source, length = layer.name, layer.out_height
    return layers, (x,)


@pytest.mark.parametrize(
    "case, params, expected",
    [
        ("layers", (), "layer 'c16' on ultratrail: it is layer 17 for the array, beyond its 16"),
        ("length", (), "input length 130 exceeds the 7-bit length field"),
        ("kernel", (), "kernel 17 exceeds the 4-bit kernel_shape field (at most 15"),
        ("stride", (), "stride 8 exceeds the 3-bit stride field (at most 7"),
        ("blocks", (), "200 input channels are 25 blocks of 8, beyond the 4-bit block field"),
        (
            "weights",
            ("wmem_kib=1",),
            "take 1.7 KiB as 8x8 blocks of bw_w bits, beyond WMEM's 1 KiB",
        ),
        ("features", ("fmem_kib=1",), "model input 'x' on ultratrail: it takes 4.0 KiB"),
        ("2d", (), "a 2-D convolution (3x3 kernel over 10x10)"),
        ("padding", (), "padding (1, 2) over time"),
    ],
)
def test_each_refusal_is_one_line_naming_the_layer_the_limit_and_the_value(
    tmp_path, capsys, case, params, expected
):
    path = tmp_path / f"{case}.onnx"
    if case == "layers":
        layers, inputs = _chain(17)
    elif case == "length":
        layers, inputs = _chain(1, length=130)
    elif case == "kernel":
        layers, inputs = _chain(1, kernel=17)
    elif case == "stride":
        layers, inputs = _chain(1, stride=8)
    elif case == "blocks":
        layers, inputs = _chain(1, channels=200)
    elif case == "weights":
        layers, inputs = _chain(3, kernel=9, channels=16)
    elif case == "features":
        layers, inputs = _chain(1, length=127, channels=32)
    elif case == "2d":
        inputs = (ModelInput("x", (1, 4, 10, 10)),)
        layers = [Conv2d("conv", 4, 4, 10, 10, 3, 3, inputs=("x",))]
    else:
        inputs = (ModelInput("x", (1, 4, 10, 1)),)
        layers = [Conv2d("conv", 4, 4, 10, 1, 4, 1, padding=(1, 0, 2, 0), inputs=("x",))]
    err = _refusal(tmp_path, capsys, _onnx_model(path, layers, inputs), *params)
    assert expected in err, err


def test_the_zoos_other_tc_resnet8_is_refused_for_its_same_padding(tmp_path, capsys):
    err = _refusal(tmp_path, capsys, "tc_resnet8")
    assert "layer 'block1.conv1' on ultratrail: padding (3, 4) over time" in err


def _onnx_tcn(path, along_width: bool) -> str:
    """A small TCN as an exporter writes it: Conv (kernel k over time) + Relu, a 1x1
    shortcut, a second Conv, Add + Relu, GlobalAveragePool, Flatten, Gemm."""
    import onnx
    from onnx import TensorProto, helper

    channels, filters, length = 8, 12, 24
    kernel = [3, 1] if not along_width else [3]
    unit = [1, 1] if not along_width else [1]
    if along_width:
        shape, pads, one_pads, strides = [1, channels, length], [1, 1], [0, 0], [2]
    else:
        shape, pads, one_pads, strides = (
            [1, channels, length, 1],
            [1, 0, 1, 0],
            [0, 0, 0, 0],
            [2, 1],
        )
    rank = len(kernel)
    nodes = [
        helper.make_node(
            "Conv", ["x", "w1"], ["c1"], kernel_shape=kernel, pads=pads, strides=strides
        ),
        helper.make_node("Relu", ["c1"], ["r1"]),
        helper.make_node(
            "Conv", ["x", "ws"], ["s"], kernel_shape=unit, pads=one_pads, strides=strides
        ),
        helper.make_node("Conv", ["r1", "w2"], ["c2"], kernel_shape=kernel, pads=pads),
        helper.make_node("Add", ["c2", "s"], ["a"]),
        helper.make_node("Relu", ["a"], ["r2"]),
        helper.make_node("GlobalAveragePool", ["r2"], ["p"]),
        helper.make_node("Flatten", ["p"], ["f"]),
        helper.make_node("Gemm", ["f", "wf"], ["y"], transB=1),
    ]
    initializers = [
        helper.make_tensor(
            "w1", TensorProto.FLOAT, [filters, channels, *kernel], [0.0] * (filters * channels * 3)
        ),
        helper.make_tensor(
            "ws", TensorProto.FLOAT, [filters, channels, *unit], [0.0] * (filters * channels)
        ),
        helper.make_tensor(
            "w2", TensorProto.FLOAT, [filters, filters, *kernel], [0.0] * (filters * filters * 3)
        ),
        helper.make_tensor("wf", TensorProto.FLOAT, [5, filters], [0.0] * (5 * filters)),
    ]
    graph = helper.make_graph(
        nodes,
        "tcn",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, shape)],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 5])],
        initializers,
    )
    assert rank in (1, 2)
    onnx.save(helper.make_model(graph), path)
    return str(path)


@pytest.mark.parametrize("along_width", [False, True], ids=["k x 1", "1-D"])
def test_an_onnx_tcn_runs_like_the_zoo_model(tmp_path, along_width):
    model = _onnx_tcn(tmp_path / "tcn.onnx", along_width)
    program = lower_model("ultratrail", {"rows": "4", "cols": "4"}, model)
    kinds = [(layer.kind, layer.mapping["op"]) for layer in program.layers]
    assert kinds == [("conv2d", "conv1d")] * 3 + [("dense", "fully_connected")]
    assert {host.placement for host in program.host_layers} == {"fused"}
    conv2 = program.layers[2].mapping
    assert conv2["fused"].count(",") == 1 and conv2["pool_shift"] == 4  # 12 positions -> /16
    assert (conv2["in_length"], conv2["kernel"], conv2["padding"]) == (12, 3, 1)
    fast = Evaluation(program, "fast", reuse_layers=False).run()
    assert [r.cycles for r in fast] == _cycles(program)


def test_every_parameter_names_its_source_or_says_assumed():
    sources = ("T passes.py", "T strategies.py", "H conf/", "H hannah/", "Ha:", "Hd:")
    for parameter in find_accelerator("ultratrail").parameters:
        assert "Assumed" in parameter.doc or any(s in parameter.doc for s in sources), (
            parameter.name
        )


def test_the_python_api_gives_milliseconds_and_the_analytical_column():
    import accperf

    trace = accperf.lower("tc_resnet8_ut", "ultratrail", {"rows": 16, "cols": 16})
    result = accperf.analyze(trace, baselines=True)
    assert result.total_cycles == 7_001
    report = result.to_dict()
    assert report["total_milliseconds"] == 7_001 / 250
    timed = [entry for entry in report["layers"] if entry["placement"] == "accelerator"]
    assert sum(entry["baselines"]["analytical_cycles"] for entry in timed) == 6_962
    frame = result.layers
    assert frame.filter(frame["placement"] == "fused").height == 4


@pytest.mark.parametrize("along_width", [False, True], ids=["k x 1", "1 x k"])
def test_time_runs_along_either_trivial_axis_and_nowhere_else(along_width):
    from isa.ultratrail.geometry import UltraTrailLimitError, temporal_conv

    conv = temporal_conv(_temporal("c", 8, 4, 21, 5, 2, 2, along_width), 4, 4)
    assert conv == TemporalConv("c", 8, 4, 21, 5, 2, 2, relu=False)
    # Padding on the other axis makes it a 2-D convolution, even with a trivial kernel there.
    padding = (0, 2, 1, 2) if along_width else (2, 0, 2, 1)
    shape = (21, 1) if not along_width else (1, 21)
    kernel = (5, 1) if not along_width else (1, 5)
    padded = Conv2d("c", 8, 4, *shape, *kernel, padding=padding)
    with pytest.raises(UltraTrailLimitError, match="'c' on ultratrail: a 2-D convolution"):
        temporal_conv(padded, 4, 4)
    dilated = Conv2d("c", 8, 4, *shape, *kernel, dilation=(2, 2))
    with pytest.raises(UltraTrailLimitError, match="dilation 2: the configuration register"):
        temporal_conv(dilated, 4, 4)


@pytest.mark.parametrize(
    "param, total, shortcuts, fc",
    [
        # The accumulator chains a position's steps mac_latency apart.
        ("mac_latency=2", 44_572, (604, 604, 628), 28),
        # One input and one weight register: a read waits for the previous one to land.
        ("memory_latency=2", 44_589, (606, 606, 630), 32),
        # The OPU paces the shortcuts' last input block (one tap per position); the fully
        # connected layer's single position per output block leaves it idle enough.
        ("opu_occupancy=2", 22_638, (454, 404, 394), 18),
    ],
)
def test_the_documented_latency_variants_of_tc_resnet8(param, total, shortcuts, fc):
    """docs/accuracy.md ("With other latencies") and accelerators/ultratrail.toml state
    these figures."""
    name, value = param.split("=")
    program = lower_model("ultratrail", {name: value}, "tc_resnet8_ut")
    cycles = {r.name: r.cycles for r in Evaluation(program, "fast").run()}
    assert sum(cycles.values()) == total
    assert tuple(cycles[f"block{b}.shortcut"] for b in (1, 2, 3)) == shortcuts
    assert cycles["fc"] == fc
