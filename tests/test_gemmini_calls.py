"""Gemmini: how the program calls gemmini.h (accelerators/gemmini.toml's
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
    # latency. From DRAM the same bias (one row, repeated) waits for its read: 100 + 4 + ...
    lowering, program = gemmini_machine()
    zeros = lowering.mvin("mvin3", DIM, 4 * DIM, True, Affine(0), DIM, FIXED, 0, zeros=True)
    assert run_block(program, [zeros]) == [(0, DIM + ZERO_FILL_LATENCY)]
    assert ZERO_FILL_LATENCY == 2
    bias = lowering.mvin("mvin3", DIM, 4 * DIM, True, Affine(0), DIM, FIXED, 0)
    [(_, bias_end)] = run_block(program, [bias])
    assert bias_end > 100 + DIM
    # A row twice as wide (two accumulator blocks) takes two cycles.
    wide = lowering.mvin("mvin3", DIM, 8 * DIM, True, Affine(0), DIM, FIXED, 0, zeros=True)
    assert run_block(program, [wide]) == [(0, 2 * DIM + ZERO_FILL_LATENCY)]


def test_without_bias_a_conv_tile_zero_fills_and_a_matmul_tile_loads_nothing():
    conv = Conv2d("conv", 32, 32, 10, 10, 3, 3, padding=1)
    fc = Dense("fc", 64, 48, rows=40)
    for layer in (conv, fc):
        with_bias, without = _program({}, layer), _program({"bias": "false"}, layer)
        bias_loads = _templates(with_bias, "mvin3")
        assert bias_loads and all(t.latency > 100 for t in bias_loads)  # from DRAM
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


@pytest.mark.parametrize(
    ("param", "value"),
    [("first_layer_optimizations", "yes"), ("bias", "0")],
)
def test_a_bad_library_call_value_is_one_clear_error(param, value, tmp_path, capsys):
    from tracer.cli import main

    argv = ["lower", "--accelerator", "gemmini", "--model", "resnet18", "-o", str(tmp_path)]
    assert main([*argv, "--param", f"{param}={value}"]) == 2
    err = capsys.readouterr().err
    assert f"--param {param}" in err and "choose one of" in err and "Traceback" not in err
    assert not any(tmp_path.iterdir())
