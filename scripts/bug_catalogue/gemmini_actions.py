"""Bugs in Gemmini's action counts (isa/gemmini/commands.py; docs/gemmini/actions.md): what
a command moves or computes, each a plausible slip against the RTL it follows."""

from __future__ import annotations

from scripts.bug_catalogue.common import GEMMINI_COMMANDS, GEMMINI_STREAMS, Bug

ACTIONS = "tests/test_gemmini_actions.py"

GEMMINI_ACTION_BUGS = (
    Bug(
        "gemmini.actions-mvout-writes-whole-blocks",
        GEMMINI_COMMANDS,
        "dram_write=rows * cols * INPUT_BYTES,",
        "dram_write=rows * blocks * self.dim * INPUT_BYTES,",
        "an mvout writes the columns it moves, not DIM per block (G StoreController.scala; "
        "T gemmini.h L490-494)",
        (
            ACTIONS
            + "::test_a_partial_matmul_moves_only_its_rows_and_columns_but_fires_full_passes",
            ACTIONS,
        ),
    ),
    Bug(
        "gemmini.actions-compute-counts-only-its-a-rows",
        GEMMINI_COMMANDS,
        "mac=group_rows * dim * dim,",
        "mac=out_rows * dim * dim,",
        "the mesh fires every row of a group, the padded ones too (G "
        "ExecuteController.scala:285-302), each DIM x DIM MACs",
        (ACTIONS + "::test_a_3x3_conv_at_dim_16", ACTIONS),
    ),
    Bug(
        "gemmini.actions-accumulating-mvin-reads-nothing",
        GEMMINI_COMMANDS,
        "acc_rows_read = rows * -(-cols // self.dim) if accumulate else 0",
        "acc_rows_read = 0",
        "an accumulating write reads its accumulator row first (G AccumulatorMem.scala:183-184)",
        (
            ACTIONS
            + "::test_a_residual_add_reads_both_tensors_and_adds_the_second_in_the_accumulator",
            ACTIONS,
        ),
    ),
    Bug(
        "gemmini.actions-repeated-bias-fetched-per-row",
        GEMMINI_COMMANDS,
        "fetched = 0 if zeros else 1 if one_row else rows",
        "fetched = 0 if zeros else rows",
        "a zero DRAM stride fetches one row and repeats it (G LoadController.scala:76,105)",
        (ACTIONS + "::test_a_32_cube_matmul_at_dim_16", ACTIONS),
    ),
    Bug(
        "gemmini.actions-short-block-shares-its-groups-columns",
        GEMMINI_STREAMS,
        "if groups > 1 and last != each * dim:",
        "if False:",
        "the mvin holding a short last channel block moves only what is left (G "
        "LoopConv.scala:302-304,479-481)",
        (ACTIONS + "::test_short_channel_blocks_move_only_their_channels", ACTIONS),
    ),
)
