"""Gemmini: how the program calls gemmini.h (accelerators/gemmini.toml's conv_1x1,
first_layer_optimizations and bias; isa/gemmini/library.py LibraryCalls), each pinned to
the library code and RTL it follows (G = ucb-bar/gemmini src/main/scala/gemmini/, T =
gemmini-rocc-tests include/gemmini.h). fast == full and the reference evaluator over
these parameters are in tests/test_gemmini.py and tests/test_gemmini_os.py.
"""

from __future__ import annotations

from collections import Counter

import pytest

from accelerators.catalog import find_accelerator
from analyzer.engine.evaluate import evaluate_program
from isa.gemmini.commands import ZERO_FILL_LATENCY, Affine
from isa.gemmini.library import LibraryCalls, conv_tile_grid
from isa.gemmini.lowering import lower
from isa.gemmini.tiling import GemminiMemory
from tests.builders import gemmini_machine, run_block
from tracer.errors import MappingError
from tracer.lowering import lower_model
from tracer.trace_io import iterate_blocks
from tracer.workloads.layers import Conv2d, Dense, Model

DIM = 16
FIXED: dict[str, tuple[int, int, int]] = {}
MEMORY = GemminiMemory(dim=16, scratchpad_rows=16384, accumulator_rows=1024)


def _program(params: dict[str, str], *layers):
    return lower(find_accelerator("gemmini").resolve(params), Model("m", layers))


def _commands(program) -> Counter:
    """(block name, opcode) of every instruction the first layer runs."""
    counts: Counter = Counter()
    for block_id, _ in iterate_blocks(program.layers[0].root):
        block = program.blocks[block_id]
        counts.update((block.name, t.opcode) for t in block.templates)
    return counts


def _templates(program, opcode: str) -> list:
    return [
        t
        for block_id, _ in iterate_blocks(program.layers[0].root)
        for t in program.blocks[block_id].templates
        if t.opcode == opcode
    ]


def _cycles(program) -> list[int]:
    return [result.cycles for result in evaluate_program(program, "full")]


# ---------------------------------------------------------------- bias


def test_a_zero_fill_mvin_takes_a_row_a_cycle_without_dram():
    # NO_BIAS: LOOP_CONV_WS's mvin3s come from DRAM address 0 (G LoopConv.scala:124); the
    # load controller then sends every row to the ZeroWriter (LoadController.scala:72-76,
    # 105-109), which writes DIM columns a cycle (ZeroWriter.scala:41-65): 16 rows of 16
    # int32 channels take 16 cycles and land ZERO_FILL_LATENCY (2) later, whatever the DRAM
    # latency. From DRAM the same bias (one row, repeated) waits for its read: 37 cycles to
    # the first beat (system bus 4, L2 5, DRAM 20, the line on the memory bus 8), + 4 + ...
    lowering, program = gemmini_machine()
    zeros = lowering.mvin("mvin3", DIM, 4 * DIM, True, Affine(0), DIM, FIXED, 0, zeros=True)
    assert run_block(program, [zeros]) == [(0, DIM + ZERO_FILL_LATENCY)]
    assert ZERO_FILL_LATENCY == 2
    bias = lowering.mvin("mvin3", DIM, 4 * DIM, True, Affine(0), DIM, FIXED, 0)
    [(_, bias_end)] = run_block(program, [bias])
    assert bias_end > 37 + 4 + DIM
    # A row twice as wide (two accumulator blocks) takes two cycles.
    wide = lowering.mvin("mvin3", DIM, 8 * DIM, True, Affine(0), DIM, FIXED, 0, zeros=True)
    assert run_block(program, [wide]) == [(0, 2 * DIM + ZERO_FILL_LATENCY)]


def test_without_bias_a_conv_tile_zero_fills_and_a_matmul_tile_loads_nothing():
    conv = Conv2d("conv", 32, 32, 10, 10, 3, 3, padding=1)
    fc = Dense("fc", 64, 48, rows=40)
    for layer in (conv, fc):
        with_bias, without = _program({}, layer), _program({"bias": "false"}, layer)
        bias_loads = _templates(with_bias, "mvin3")
        # from the L2 or DRAM: at least the L2's 4 + 5 cycles and the load unit's 4
        assert bias_loads and all(t.latency > 4 + 5 + 4 for t in bias_loads)
        zero_loads = _templates(without, "mvin3")
        if layer is conv:
            # LOOP_CONV_WS issues the same mvin3s (b, orow, ocol block, och block: 10 rows
            # x 1 column block x 2 channel blocks), each a zero fill of its pixels.
            assert len(zero_loads) == len(bias_loads) == 10 * 2
            assert {(t.occupancy, t.latency) for t in zero_loads} == {(10, 10 + 2)}
        else:
            # LOOP_WS loads no D when it is NULL (G LoopMatmul.scala:311-312; T gemmini.h
            # L684) and its first compute overwrites (LoopMatmul.scala:427): no mvin3, nor
            # the config_ld opening them.
            assert zero_loads == []
            configs = _commands(with_bias)[("config_ld", "config_ld")]
            assert _commands(without)[("config_ld", "config_ld")] == configs - 1
        # Everything else is the same, and no bias from DRAM: fewer cycles.
        others = {k: v for k, v in _commands(with_bias).items() if k[1] not in ("mvin3",)}
        rest = {k: v for k, v in _commands(without).items() if k[1] not in ("mvin3",)}
        if layer is conv:
            assert rest == others
        assert _cycles(without)[0] < _cycles(with_bias)[0]


def test_without_bias_an_os_tile_loads_no_bias():
    # T gemmini.h L400: sp_tiled_matmul_os moves D in only with a bias; the last k's
    # preload then overwrites the accumulator (L460-463).
    layer = Dense("fc", 64, 48, rows=40)
    with_bias = _program({"dataflow": "os"}, layer)
    without = _program({"dataflow": "os", "bias": "false"}, layer)
    to_acc = [t for t in _templates(with_bias, "mvin") if t.marks[0].space == "acc_loaded"]
    assert to_acc
    assert not [t for t in _templates(without, "mvin") if t.marks[0].space == "acc_loaded"]
    assert _cycles(without)[0] < _cycles(with_bias)[0]


# ---------------------------------------------------------------- first_layer_optimizations


def test_without_first_layer_optimizations_every_kernel_column_is_a_weight_step():
    # T gemmini.h L1405-1413: with HAS_FIRST_LAYER_OPTIMIZATIONS a 3-channel 7x7 conv packs
    # 16 // 3 = 5 kernel columns per weight step (2 steps a kernel row); without it one
    # (7 steps a kernel row; G LoopConv.scala:1351-1353 forces 1 in such a build).
    conv = Conv2d("first", 3, 16, 16, 16, 7, 7, padding=3)
    [packed] = conv_tile_grid(conv, MEMORY)[0]
    off = LibraryCalls(first_layer_optimizations=False)
    [unpacked] = conv_tile_grid(conv, MEMORY, calls=off)[0]
    assert (packed.pixels_per_row, unpacked.pixels_per_row) == (5, 1)
    with_packing = _program({}, conv)
    without = _program({"first_layer_optimizations": "false"}, conv)
    assert len(_templates(with_packing, "compute_preloaded")) == 7 * 2
    assert len(_templates(without, "compute_preloaded")) == 7 * 7
    # Each weight step brings DIM rows of weights into the mesh: more steps, more cycles.
    assert _cycles(without)[0] > _cycles(with_packing)[0]
    # Convs of more than DIM channels never pack: the parameter changes nothing there.
    wide = Conv2d("wide", 32, 16, 10, 10, 3, 3, padding=1)
    assert _cycles(_program({"first_layer_optimizations": "false"}, wide)) == _cycles(
        _program({}, wide)
    )


# ---------------------------------------------------------------- conv_1x1


def test_tiled_conv_auto_tiles_a_1x1_conv_as_gemmini_h():
    # tiled_conv_stride_auto (T gemmini.h L2638-2832, budgets 8192 / 512 rows) on a 1x1
    # conv, 128 -> 128 channels, 28x28: start [1,28,28,128,1,1,128]: spad = 8 * 784 +
    # 8 * 128 = 7296 fits, acc = 8 * 784 = 6272 does not. Shrinking takes the largest
    # (lowest index on a tie): pochs and kchs take turns losing DIM, 128 -> ... -> 16
    # (acc 784 still > 512); then porows and pocols take turns losing 1 down to 22 x 23
    # (acc 506). Growing: pocols 24 (528), porows 23 (529), pochs 17 (2 blocks, 1012) all
    # exceed 512; kchs grows back one per pass to 128 (spad 8 * 506 + 128 = 4176).
    conv = Conv2d("pointwise", 128, 128, 28, 28, 1, 1)
    tiles, sizes = conv_tile_grid(conv, MEMORY, calls=LibraryCalls(conv_1x1="conv"))
    assert sizes == (1, 22, 23, 16, 1, 1, 128)
    assert len(tiles) == 2 * 2 * 8  # rows 22 + 6, columns 23 + 5, 8 output-channel blocks
    program = _program({"conv_1x1": "conv"}, conv)
    assert program.layers[0].mapping["library"] == "tiled_conv_auto"
    assert program.layers[0].mapping["tile"] == "1x22x23x16x1x1x128"
    # The default runs it as imagenet/resnet50.c does, as a matmul.
    default = _program({}, conv).layers[0].mapping["library"]
    assert default.startswith("tiled_matmul_nn_auto")


def test_a_1x1_conv_lowers_to_the_loop_conv_ws_commands():
    # A 1x1 conv, 32 -> 16 channels, 6x6: one tile (G LoopConv.scala, streams as for a 3x3):
    # bias mvin3 per (orow, ocol block, och block) = 6; weights: 1 och group x krow x kcol
    # x 2 kch blocks = 2 mvin2; inputs per (irow, icol block, ich group of 4 blocks) = 6 mvin
    # of 6 pixels; execute: och, krow, kcol, kch (2 weight steps), then 6 rows of one
    # 6-pixel block each: 12 preload/compute pairs, 2 of them with weights; 6 mvouts.
    program = _program({"conv_1x1": "conv"}, Conv2d("pointwise", 32, 16, 6, 6, 1, 1))
    assert program.layers[0].mapping["tile"] == "1x6x6x16x1x1x32"
    assert _commands(program) == Counter(
        {
            ("flush", "flush"): 1,
            ("config_ld", "config_ld"): 3,
            ("mvin3 bias", "mvin3"): 6,
            ("mvin2 weights", "mvin2"): 2,
            ("mvin inputs", "mvin"): 6,
            ("config_ex", "config_ex"): 1,
            ("preload+compute", "preload"): 2,
            ("preload+compute", "compute_preloaded"): 2,
            ("pair", "preload"): 10,
            ("pair", "compute_accumulated"): 10,
            ("config_st", "config_st"): 1,
            ("mvout", "mvout"): 6,
            # Bookkeeping, not RS commands: the loop's streams have issued their last.
            ("ld done", "ld_stream_done"): 1,
            ("ex done", "ex_stream_done"): 1,
            ("st done", "st_stream_done"): 1,
        }
    )
    # Each input mvin moves both channel blocks of its 6 pixels: the blocks
    # 36 rows apart (6 x 6 pixels per block), so it spans 36 + 6 rows.
    assert {t.marks[0].count for t in _templates(program, "mvin")} == {36 + 6}
    # As a matmul (the default) it is LOOP_WS over 36 pixel rows: 3 mvins of 16, 16, 4.
    matmul = _program({}, Conv2d("pointwise", 32, 16, 6, 6, 1, 1))
    assert _commands(matmul)[("mvin inputs", "mvin")] == 3


def test_a_stride_2_1x1_conv_through_tiled_conv_auto_is_downsampled():
    # T gemmini.h L2236-2237: stride 2, a 1x1 kernel, no padding or pool and an even input:
    # downsample. The unroller loads input rows and columns 0, 2, 4, ... only (G
    # LoopConv.scala:289-296,357,376), so a 12x12 input gives 6 mvins of 6 pixels (the
    # 6x6 outputs' own pixels); an odd 13x13 input is not downsampled: 13 rows of 13
    # pixels, every one between the outputs' too. sp_tiled_conv packs no pixels (L1408).
    params = {"conv_1x1": "conv"}
    even = _program(params, Conv2d("even", 16, 16, 12, 12, 1, 1, stride=2))
    [tile] = conv_tile_grid(
        Conv2d("even", 16, 16, 12, 12, 1, 1, stride=2), MEMORY, calls=LibraryCalls("conv")
    )[0]
    assert tile.downsample and tile.pixels_per_row == 1
    assert [t.marks[0].count for t in _templates(even, "mvin")] == [6] * 6
    odd = _program(params, Conv2d("odd", 16, 16, 13, 13, 1, 1, stride=2))
    assert [t.marks[0].count for t in _templates(odd, "mvin")] == [13] * 13
    # The computes read the compacted rows one after the other: each reads 6 rows.
    assert {t.reads[0].count for t in _templates(even, "compute_preloaded")} == {6}
    # imagenet/resnet50.c's own choice (the default) is tiled_conv_downsample.
    default = _program({}, Conv2d("even", 16, 16, 12, 12, 1, 1, stride=2))
    assert default.layers[0].mapping["library"].startswith("tiled_conv_downsample")


def test_resnet50_with_conv_1x1_conv_runs_every_conv_through_tiled_conv_auto():
    program = lower_model(
        "gemmini",
        {"conv_1x1": "conv"},
        "resnet50",
        layers=["layer1.0.conv1", "layer2.0.downsample", "layer2.0.conv2"],
    )
    assert {layer.mapping["library"] for layer in program.layers} == {"tiled_conv_auto"}


def test_output_stationary_refuses_1x1_convs_through_tiled_conv():
    # tiled_conv exits for OS (T gemmini.h L2216-2218), whatever the kernel.
    layer = Conv2d("pointwise", 32, 16, 6, 6, 1, 1)
    with pytest.raises(MappingError, match="conv_1x1=matmul"):
        _program({"dataflow": "os", "conv_1x1": "conv"}, layer)
    assert _program({"dataflow": "os"}, layer).layers


@pytest.mark.parametrize(
    ("param", "value"),
    [("conv_1x1", "im2col"), ("first_layer_optimizations", "yes"), ("bias", "0")],
)
def test_a_bad_library_call_value_is_one_clear_error(param, value, tmp_path, capsys):
    from tracer.cli import main

    argv = ["lower", "--accelerator", "gemmini", "--model", "resnet18", "-o", str(tmp_path)]
    assert main([*argv, "--param", f"{param}={value}"]) == 2
    err = capsys.readouterr().err
    assert f"--param {param}" in err and "choose one of" in err and "Traceback" not in err
    assert not any(tmp_path.iterdir())
