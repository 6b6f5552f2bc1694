"""Gemmini's software tiling (isa/gemmini/tiling.py) on cases worked by hand from
gemmini.h's rules (docs/gemmini/tiling.md shows each step)."""

from __future__ import annotations

import pytest

from isa.gemmini.tiling import ConvProblem, GemminiMemory, conv_tiles, matmul_tiles
from tracer.errors import MappingError

# The default config: DIM 16, 4 banks x 4096 scratchpad rows, 1024 accumulator rows
# (gemmini Configs.scala defaultConfig; gemmini_params.h BANK_NUM, BANK_ROWS, ACC_ROWS).
DEFAULT = GemminiMemory(dim=16, scratchpad_rows=4 * 4096, accumulator_rows=1024)


def test_512_cube_matmul_tiles_are_5_6_32() -> None:
    # Double-buffered (ws) caps: floor(sqrt(512 / 16)) = 5 blocks for I and J, K = 32
    # blocks (all of it). J grows first: 5x6 blocks use 480 of 512 accumulator rows;
    # 6x6 would need 576, and K is already whole.
    assert matmul_tiles(512, 512, 512, DEFAULT) == (5, 6, 32)


def test_output_stationary_matmul_is_not_double_buffered() -> None:
    # Full budgets: caps floor(sqrt(1024 / 16)) = 8 and 512 / 8 = 64; 8x8 blocks fill the
    # accumulator (1024 rows) and (8*32 + 32*8) * 16 = 8192 scratchpad rows.
    assert matmul_tiles(512, 512, 512, DEFAULT, weight_stationary=False) == (8, 8, 32)


def test_small_matmul_takes_the_whole_problem() -> None:
    # 40 x 20 x 70 elements round up to 3 x 2 x 5 blocks, all within the caps.
    assert matmul_tiles(40, 20, 70, DEFAULT) == (3, 2, 5)


def test_resnet50_layer1_conv2_tiles() -> None:
    # 3x3, 64 -> 64 channels, 56x56 outputs: shrinking takes output channels and kernel
    # channels to 16 and the output to 22x23 pixels (22 * 23 = 506 <= 512 accumulator
    # rows); growing then restores the 64 kernel channels (the scratchpad has room).
    problem = ConvProblem(
        batch=1, in_size=56, in_channels=64, out_channels=64, out_size=56,
        stride=1, padding=1, kernel=3,
    )  # fmt: skip
    assert conv_tiles(problem, DEFAULT).as_tuple() == (1, 22, 23, 16, 3, 3, 64)


def test_resnet50_conv1_tiles_with_and_without_the_fused_pool() -> None:
    conv1 = ConvProblem(
        batch=1, in_size=224, in_channels=3, out_channels=64, out_size=112,
        stride=2, padding=3, kernel=7,
    )  # fmt: skip
    assert conv_tiles(conv1, DEFAULT).as_tuple() == (1, 22, 23, 16, 7, 7, 3)
    # With the 3x3 stride-2 max pool fused, tiles count pooled pixels: 6 x 17 of them
    # need (2*6+2) x (2*17+2) = 14 x 36 = 504 accumulator rows.
    pooled = ConvProblem(
        batch=1, in_size=224, in_channels=3, out_channels=64, out_size=112,
        stride=2, padding=3, kernel=7, pool_size=3, pool_stride=2, pool_padding=1,
    )  # fmt: skip
    assert conv_tiles(pooled, DEFAULT).as_tuple() == (1, 6, 17, 16, 7, 7, 3)


def test_depthwise_tiles_keep_one_channel() -> None:
    problem = ConvProblem(
        batch=1, in_size=112, in_channels=32, out_channels=32, out_size=112,
        stride=1, padding=1, kernel=3, depthwise=True,
    )  # fmt: skip
    tiles = conv_tiles(problem, DEFAULT)
    assert tiles.pochs == tiles.kchs == 1
    assert tiles.porows * tiles.pocols <= 512  # one accumulator row per output pixel


def test_a_strided_depthwise_1x1_conv_counts_its_whole_input() -> None:
    # tiled_conv_dw_auto never downsamples (gemmini.h L2962-2967 pass downsample = false),
    # unlike tiled_conv_auto. 24x24 input, 12x12 output, 1x1 kernel, stride 2, on a 16 KiB
    # scratchpad (1024 rows of DIM 16, 512 per half): the whole layer needs input rows
    # (12 * 2 + 1 - 1)^2 = 576, plus 1 weight row, too many; the largest size is porows
    # (pocols stays at 12 <= DIM): 11 rows need 22 * 24 + 1 = 529, 10 rows 20 * 24 + 1 =
    # 481, which fits; nothing grows back. Halving the input would keep all 12 rows, a
    # tile the lowering then cannot place.
    small = GemminiMemory(dim=16, scratchpad_rows=1024, accumulator_rows=1024)
    problem = ConvProblem(
        batch=1, in_size=24, in_channels=64, out_channels=64, out_size=12,
        stride=2, padding=0, kernel=1, depthwise=True,
    )  # fmt: skip
    assert conv_tiles(problem, small).as_tuple() == (1, 10, 12, 1, 1, 1, 1)


def test_impossible_budget_is_a_clear_error() -> None:
    tiny = GemminiMemory(dim=16, scratchpad_rows=2, accumulator_rows=2)
    problem = ConvProblem(
        batch=1, in_size=8, in_channels=16, out_channels=16, out_size=8,
        stride=1, padding=1, kernel=3,
    )  # fmt: skip
    with pytest.raises(MappingError, match="scratchpad"):
        conv_tiles(problem, tiny)
