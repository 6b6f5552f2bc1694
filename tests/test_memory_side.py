"""The systolic array's memory side (isa/systolic/memory_side.py, isa/systolic/memory_kernels.py):
SCALE-Sim's double-buffered SRAMs at a finite DRAM bandwidth."""

from __future__ import annotations

import json
import random
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from accelerators.catalog import find_accelerator
from analyzer.crosscheck import scalesim_env
from analyzer.engine.evaluate import Evaluation, evaluate_program
from isa.program import Program
from isa.systolic.mapping import IM2COL_FIELDS, reached_positions
from isa.systolic.memory_kernels import (
    _diagonal_position,
    _move_window,
    _moves_to,
    _resident_copy,
    _stacked_position,
    gemm_stalls,
    gemm_walk,
)
from isa.systolic.memory_side import NO_IM2COL, memory_stalls
from tests.builders import FastPathTally, examples
from tracer.cli import main
from tracer.lowering import lower_workload
from tracer.workloads.layers import Conv2d, Dense, Model

KIB = 1024
SMALL_SRAMS = {"ifmap_sram_kib": "1", "filter_sram_kib": "1", "ofmap_sram_kib": "1"}


def _program(layers: list[Conv2d | Dense], **params: str) -> Program:
    accelerator = find_accelerator("systolic").resolve(params)
    return lower_workload(accelerator, Model("m", tuple(layers)))


def test_unlimited_bandwidth_has_no_memory_side() -> None:
    dense = Dense("fc", 40, 24, rows=9)
    program = _program([dense], rows="8", cols="8")
    assert "memory_side" not in program.layers[0].mapping
    result = evaluate_program(program, "fast")[0]
    assert result.stall_cycles == 0


@given(
    sr=st.integers(1, 40),
    sc=st.integers(1, 40),
    t=st.integers(1, 60),
    size=st.integers(2, 9),
    output_stationary=st.booleans(),
    bandwidth=st.integers(1, 16),
)
@settings(max_examples=60, deadline=None)
def test_no_stalls_when_operands_fit_and_outputs_never_drain(
    sr: int, sc: int, t: int, size: int, output_stationary: bool, bandwidth: int
) -> None:
    # Worked from SCALE-Sim's rules: an operand whose whole prefetch order fits the active
    # half is loaded by the free first fill and never moves its window; an output SRAM
    # that never holds more than half its size never drains. Nothing can stall then.
    operand_words = 4 * max(sr, t) * max(sc, t) * size
    ofmap = 4 * (sr * sc * (t + 1) * size + 1)
    rows, stalls = gemm_stalls(
        output_stationary,
        sr,
        sc,
        t,
        size,
        size,
        bandwidth,
        operand_words,
        operand_words,
        ofmap,
        NO_IM2COL,
    )
    assert stalls == 0
    folds = -(-sr // size) * -(-sc // size)
    per_fold = t + 2 * size - 2 if output_stationary else 2 * size + size + t - 2
    assert rows == folds * per_fold


def test_write_bound_layer_stalls_by_the_drain_rate() -> None:
    # A 1x1 conv whose operands fit (no read stalls) but whose outputs overflow a 1 KiB
    # output SRAM: every drain of 512 words takes ceil(512 / bw) - 1 cycles, so at 2 words
    # per cycle the layer cannot finish before its writes have drained at that rate.
    rows, stalls = gemm_stalls(False, 8, 8, 4096, 8, 8, 2, 64 * KIB, 64 * KIB, KIB, NO_IM2COL)
    writes = 8 * 4096
    drains = (writes - KIB) // 512  # what is still buffered at the end is never waited for
    assert rows + stalls >= drains * (512 // 2 - 1)
    assert stalls > 0


# The walk's shortcuts: quiet runs of demand rows (memory_kernels._quiet_rows) passed in a
# few searches, and im2col words found resident remembered until the window moves
# (_read_im2col). The walk without them is the reference. Counted: the examples that
# passed rows in a GEMM that stalls, so that the shortcuts are met where the buffers move
# and drain, not only where nothing happens; the words remembered are counted on convs
# below.
def _walks(output_stationary, sr, sc, t, rows, cols, bandwidth, srams, geometry):
    shortcut = gemm_walk(
        output_stationary, sr, sc, t, rows, cols, bandwidth, *srams, geometry, True
    )
    walking = gemm_walk(
        output_stationary, sr, sc, t, rows, cols, bandwidth, *srams, geometry, False
    )
    assert shortcut[:2] == walking[:2] and walking[2:] == (0, 0)
    return shortcut


SRAM_WORDS = st.sampled_from([8, 31, 64, 100, 257, 1000, 4096])


@settings(max_examples=examples(200), deadline=None)
@given(
    sr=st.integers(1, 90),
    sc=st.integers(1, 90),
    t=st.integers(1, 200),
    rows=st.integers(1, 12),
    cols=st.integers(1, 12),
    bandwidth=st.integers(1, 16),
    srams=st.tuples(SRAM_WORDS, SRAM_WORDS, SRAM_WORDS),
    output_stationary=st.booleans(),
)
def _gemms_take_shortcuts_exactly(
    tally, sr, sc, t, rows, cols, bandwidth, srams, output_stationary
) -> None:
    _, stalls, passed, _ = _walks(
        output_stationary, sr, sc, t, rows, cols, bandwidth, srams, NO_IM2COL
    )
    tally.record(passed > 0 and stalls > 0)


def test_gemms_take_shortcuts_exactly() -> None:
    tally = FastPathTally()
    _gemms_take_shortcuts_exactly(tally)
    tally.check_share()


@settings(max_examples=examples(100), deadline=None)
@given(
    channels=st.integers(1, 4),
    filters=st.integers(1, 24),
    size=st.integers(5, 16),
    # mostly windows that overlap, so that words repeat and copies are looked up
    kernel=st.sampled_from([1, 2, 3, 3, 3]),
    stride=st.sampled_from([1, 1, 2]),
    dilation=st.integers(1, 2),
    padding=st.integers(0, 1),
    array=st.tuples(st.integers(2, 8), st.integers(2, 8)),
    # one draw in two from 1-3 words a cycle, so that these small layers stall; the other
    # keeps 1-16, so fast DRAMs stay covered. Drawn from 1-16 alone, some seeds met a
    # stall in barely FAST_PATH_SHARE of the examples
    bandwidth=st.integers(1, 3) | st.integers(1, 16),
    # an ifmap SRAM smaller than most inputs, so that its window moves
    srams=st.tuples(st.sampled_from([31, 64, 100, 257, 1000]), SRAM_WORDS, SRAM_WORDS),
    dataflow=st.sampled_from(["ws", "os"]),
)
def _convs_take_shortcuts_exactly(
    tally,
    channels,
    filters,
    size,
    kernel,
    stride,
    dilation,
    padding,
    array,
    bandwidth,
    srams,
    dataflow,
) -> None:
    # An im2col ifmap: a demand whose own line is not resident may be served by a copy of
    # its word elsewhere in the window, which a quiet run never relies on.
    if (kernel - 1) * dilation + 1 > size + 2 * padding:
        return
    conv = Conv2d("c", channels, filters, size, size, kernel, kernel, stride, padding, dilation)
    rows, cols = array
    program = _program(
        [conv], rows=str(rows), cols=str(cols), dataflow=dataflow, bandwidth="1", **SMALL_SRAMS
    )
    mapping = program.layers[0].mapping
    geometry = np.array([int(mapping[f"im2col_{name}"]) for name in IM2COL_FIELDS], np.int64)
    sr, sc, t = (int(mapping[key]) for key in ("spatial_rows", "spatial_cols", "temporal"))
    _, stalls, passed, _ = _walks(
        dataflow == "os", sr, sc, t, rows, cols, bandwidth, srams, geometry
    )
    tally.record(passed > 0 and stalls > 0)


def test_convs_take_shortcuts_exactly() -> None:
    tally = FastPathTally()
    _convs_take_shortcuts_exactly(tally)
    tally.check_share()


@pytest.mark.parametrize(
    ("dataflow", "channels", "ifmap_words"), [("os", 4, 257), ("os", 16, 1000), ("ws", 2, 257)]
)
def test_a_conv_remembers_the_words_it_found_resident(dataflow, channels, ifmap_words) -> None:
    # A 3x3 conv over a 16x16 input (padding 1) on an 8x8 array, at 2 words a cycle: its
    # ifmap window moves, and between moves a word's copies are demanded again in one
    # window (os: a fold is a block of pixels; ws: a fold's 8 kernel elements span more
    # than a pixel's channels), so some are recalled rather than looked up.
    conv = Conv2d("c", channels, 8, 16, 16, 3, 3, padding=1)
    program = _program([conv], rows="8", cols="8", dataflow=dataflow, bandwidth="1", **SMALL_SRAMS)
    mapping = program.layers[0].mapping
    geometry = np.array([int(mapping[f"im2col_{name}"]) for name in IM2COL_FIELDS], np.int64)
    sr, sc, t = (int(mapping[key]) for key in ("spatial_rows", "spatial_cols", "temporal"))
    srams = (ifmap_words, 1000, 1000)
    _, stalls, _, recalled = _walks(dataflow == "os", sr, sc, t, 8, 8, 2, srams, geometry)
    assert stalls > 0 and recalled > 100


@pytest.mark.parametrize(
    ("shape", "srams", "share"),
    [
        # write-bound: the output SRAM drains at 2 words a cycle; the rows between the
        # drains' starts store while a drain is in flight
        ((False, 8, 8, 4096, 8, 8, 2), (64 * KIB, 64 * KIB, KIB), 0.95),
        ((True, 1024, 64, 64, 8, 8, 1), (64 * KIB, 64 * KIB, 256), 0.95),
        # read-bound: a fully connected layer's filters stream through a 4 KiB SRAM
        ((False, 4096, 1024, 1, 32, 32, 10), (4 * KIB, 4 * KIB, 4 * KIB), 0.5),
        ((True, 1, 1024, 4096, 32, 32, 10), (4 * KIB, 4 * KIB, 4 * KIB), 0.95),
    ],
)
def test_most_rows_of_a_stalling_gemm_are_passed(shape, srams, share) -> None:
    # Equal results alone would not notice a quiet run refused where it holds.
    rows, stalls, passed, _ = _walks(*shape, srams, NO_IM2COL)
    assert stalls > 0 and passed >= share * rows


@settings(max_examples=examples(300), deadline=None)
@given(
    # lines, active lines, move lines: a move no larger than the active part (SCALE-Sim's
    # prefetch half is no larger than its active half) nor than what lies beyond it
    geometry=st.tuples(st.integers(2, 400), st.integers(1, 200), st.integers(1, 8)).filter(
        lambda g: g[1] < g[0] and g[2] <= min(g[1], g[0] - g[1])
    ),
    start=st.integers(0, 399),
    beyond=st.integers(-20, 399),  # the line's distance past the window's last line
    move_cycles=st.integers(1, 50),
    completion=st.integers(-1, 5000),
    cycle=st.integers(0, 5000),
    offset=st.integers(-100, 100),
)
def _moves_at_once(tally, geometry, start, beyond, move_cycles, completion, cycle, offset):
    lines, active, move = geometry
    state = np.array([7, lines, active, move, start % lines, move_cycles, completion], np.int64)
    line = (start + active + beyond) % lines
    one_by_one, at_once = state.copy(), state.copy()
    expected, moves = offset, 0
    while (line - one_by_one[4]) % lines >= active:
        expected = _move_window(one_by_one, cycle, expected)
        moves += 1
    assert _moves_to(at_once, line, cycle, offset) == expected
    assert list(at_once) == list(one_by_one)
    tally.record(moves >= 3)


def test_the_moves_to_a_line_made_at_once_equal_them_one_by_one() -> None:
    # A window's wrap around a long operand stream is thousands of moves; _moves_to makes
    # them in one step, with the lateness each would add (counted: 3 moves or more).
    tally = FastPathTally()
    _moves_at_once(tally)
    tally.check_share()


# Stall cycles worked by hand from SCALE-Sim's rules (docs/scalesim_memory_model.md, the
# line references in isa/systolic/memory_kernels.py), without SCALE-Sim: they pin the
# memory side where the SCALE-Sim cross-checks below are skipped. Input stationary has no
# memory side: a bandwidth with dataflow=is is refused
# (test_input_stationary_with_a_bandwidth_is_refused).
#
# Every layer runs on an 11 x 1 array with 1 KiB SRAMs, so every SRAM has lines of
# ceil(1024 / 100) = 11 words, an active half of 512 words = ceil(512 / 11) = 47 resident
# lines, and a window move of 47 lines that takes ceil(512 / bw) + 1 cycles of a DRAM
# timeline running back to back from the free first fill: move k completes at
# k * (ceil(512 / bw) + 1) - 1. A demand of a line outside the window moves it; if the
# move completes p > 0 cycles after the demand's cycle + 1 (the hit latency), the row is
# late by 2p (the read buffer counts the lag twice). The ws and os layers' ifmap is
# 100 x 11 = 1,100 words, 1100 // 11 + 1 = 101 lines, read once along the anti-diagonals
# of the 100 x 11 operand block: diagonals 0..9 hold 1..10 words (positions 0..54, lines
# 0..4, resident from the start), and diagonal d of 10..99 holds 11 words from position
# 11(d - 5) on: exactly line d - 5. So line 47 is first needed with diagonal 52 and line
# 94 with diagonal 99; after that second move the window holds lines 94..100 and 0..39,
# every line still to come. Nothing else stalls: the filter fits its window (ws: 11 or 22
# words, os: 100 words, 10 lines), and at most 188 outputs are written, never the half of
# the 1,024-word output SRAM that starts a drain.
HAND_WORKED = {
    # ws: Sr = 11 (the window), Sc = 1, T = 100 rows: one fold of 2*11 + 1 + 100 - 2 = 121
    # demand rows; row x reads diagonal x - 11 (after the preload). 4 words/cycle: moves
    # of 129 cycles. Line 47 at row 63, cycle 63: move 1 completes at 128, late by
    # 128 - 64 = 64, twice: 128. Line 94 at row 110, cycle 110 + 128 = 238: move 2
    # completes at 257, late 257 - 239 = 18, twice: 36. Stalls 164, cycles 285.
    "ws": ("ws", Dense("fc", 11, 1, rows=100), "4", 121, 164),
    # os: Sr = 11 rows (pixels), Sc = 1, T = 100 (the window): 100 + 11 + 1 - 2 = 110 rows;
    # row x reads diagonal x. 8 words/cycle: moves of 65 cycles. Line 47 at row 52, cycle
    # 52: move 1 completes at 64, late 64 - 53 = 11, twice: 22. Line 94 at row 99, cycle
    # 99 + 22 = 121: move 2 completes at 129, late 129 - 122 = 7, twice: 14. Stalls 36.
    "os": ("os", Dense("fc", 100, 1, rows=11), "8", 110, 36),
    # A conv of 2 groups, each the ws layer above (1x1 kernel over 11 of the 22 channels,
    # 1 filter, 10 x 10 = 100 output pixels: Sr = 11, Sc = 1, T = 100; the 1x1 window
    # repeats no input word, so im2col finds each word at its own position only). Each
    # group is a SCALE-Sim layer of its own starting with empty SRAMs: 2 x 121 rows and
    # 2 x 164 stalls, 570 cycles.
    "ws, 2 groups": ("ws", Conv2d("g", 22, 2, 10, 10, 1, 1, groups=2), "4", 242, 328),
    # ws, Sr = 11, Sc = 2 on the one column: two column folds of 2*11 + 1 + 94 - 2 = 115
    # rows, each reading the whole 94 x 11 ifmap again. 94 x 11 = 1,034 words, exactly 94
    # lines: the buffer has 94 + 1 = 95 (the empty open line counts), so the window wraps
    # modulo 95; moves of 47 lines (95 - 47 = 48 lines outside the window, more than 47).
    # Diagonal d of 10..93 is line d - 5; diagonals 94..103 hold 10, 9, ..., 1 words from
    # position 979, so line 93 (positions 1023..1033) first comes with diagonal 99.
    # Moves of 129 cycles (4 words/cycle) complete at 129k - 1.
    # Fold 1 as the ws case: line 47 at row 63 (diagonal 52), late 64, twice: stalls 128;
    #   the window 47..93 then holds every line still to come.
    # Fold 2 (rows 115..229), row 115 + d + 11 reads diagonal d:
    #   line 0 at row 126, cycle 254: (0 - 47) % 95 = 48 is outside the window; move 2 to
    #   94, 0..45 completes at 257, late 257 - 255 = 2, twice: stalls 132.
    #   line 46 (diagonal 51) at row 177, cycle 309: move 3 to 46..92 completes at 386,
    #   late 386 - 310 = 76, twice: stalls 284.
    #   line 93 (diagonal 99) at row 225, cycle 509: move 4 to 93, 94, 0..44 completes at
    #   515, late 515 - 510 = 5, twice: stalls 294; lines 89..93 to the end are resident.
    # With 94 lines (ceil instead of floor + 1) move 2 would bring 0..46 back, move 3 at
    # line 47 (row 178) would cover the rest, and the stalls would be 282.
    "ws, the ifmap a whole number of lines, read twice": (
        "ws",
        Dense("fc", 11, 2, rows=94),
        "4",
        230,
        294,
    ),
}


@pytest.mark.parametrize(
    ("dataflow", "layer", "bandwidth", "rows", "stalls"),
    HAND_WORKED.values(),
    ids=list(HAND_WORKED),
)
def test_stall_cycles_worked_by_hand(dataflow, layer, bandwidth, rows, stalls) -> None:
    program = _program(
        [layer], rows="11", cols="1", dataflow=dataflow, bandwidth=bandwidth, **SMALL_SRAMS
    )
    mapping = program.layers[0].mapping
    assert memory_stalls(mapping, program.parameters) == (rows, stalls)
    for mode in ("fast", "full"):
        result = evaluate_program(program, mode)[0]
        # The demand rows are the array's compute cycles, which the instructions give.
        assert (result.cycles, result.stall_cycles) == (rows + stalls, stalls)


def test_a_full_output_sram_waits_for_its_drain() -> None:
    # ws on a 1 x 4 array, Sr = 1, Sc = 4, T = 4: 2 + 4 + 4 - 2 = 8 demand rows; row x
    # writes the outputs of diagonal x - 1: 1, 2, 3, 4, 3, 2, 1 words in rows 1..7. The
    # operands (4 words each) fit 1,000-word SRAMs. The output SRAM holds 8 words at 1 word
    # per cycle: a drain takes D = 8 - ceil(8 / 2) = 4 words (4 bus lines); it starts when
    # the free space falls below half (4) with no drain in flight, frees its words at once
    # and is in flight until 4 - 1 = 3 cycles later (write port latency 0); a write that
    # finds no free word while a drain is in flight waits for its end (write_buffer.py).
    # row 1: 1 word, free 7. row 2: 2 words, free 5.
    # row 3 (cycle 3): after 2 words free is 3 < 4: drain 1 starts at 3 (free 7, in flight
    #   until 6); the 3rd word: free 6.
    # row 4 (cycle 4): 4 words, free 2.
    # row 5 (cycle 5): 2 words fill the buffer (free 0); the 3rd waits for drain 1's end, 6,
    #   then starts drain 2 (free -1 + 4 = 3, in flight until 9). Late 1.
    # row 6 (cycle 6 + 1): 2 words, free 1.
    # row 7 (cycle 8): 1 word finds free 1, which it would fill: it waits until 9. Late 1.
    assert gemm_stalls(False, 1, 4, 4, 1, 4, 1, 1000, 1000, 8, NO_IM2COL) == (8, 2)


def test_dilated_conv_im2col_geometry() -> None:
    # 2 channels, 3 x 2 kernel, stride (2, 1), dilation (2, 3) on a 10 x 11 input: the
    # kernel reaches (3 - 1) * 2 + 1 = 5 rows and (2 - 1) * 3 + 1 = 4 columns, so
    # (10 - 5) // 2 + 1 = 3 output rows and (11 - 4) // 1 + 1 = 8 columns. The windows read
    # input rows up to (3 - 1) * 2 + 4 = 8: the input SCALE-Sim is given is cropped to
    # 9 rows; all 11 columns are read ((8 - 1) * 1 + 3 + 1 = 11).
    conv = Conv2d("dilated", 2, 4, 10, 11, 3, 2, stride=(2, 1), dilation=(2, 3))
    assert (conv.out_height, conv.out_width) == (3, 8)
    program = _program([conv], rows="8", cols="8", bandwidth="2", **SMALL_SRAMS)
    mapping = program.layers[0].mapping
    geometry = {name: mapping[f"im2col_{name}"] for name in IM2COL_FIELDS}
    assert geometry == {
        "in_height": 9,
        "in_width": 11,
        "channels": 2,
        "kernel_height": 3,
        "kernel_width": 2,
        "stride_height": 2,
        "stride_width": 1,
        "dilation_height": 2,
        "dilation_width": 3,
        "out_height": 3,
        "out_width": 8,
        "images": 1,
    }
    # The GEMM does not see the dilation: a window of 3 * 2 * 2 = 12 elements (Sr under
    # ws), 4 filters, 3 * 8 = 24 output pixels.
    assert (mapping["spatial_rows"], mapping["spatial_cols"], mapping["temporal"]) == (12, 4, 24)


@pytest.mark.parametrize(("output_stationary", "rows"), [(False, 12), (False, 5), (True, 7)])
def test_a_dilated_inputs_copies_are_found_wherever_resident(output_stationary, rows) -> None:
    # The conv above (one group): element (pixel, kernel element) reads input word (y, x,
    # channel), y = out_row * 2 + k_row * 2, x = out_col + k_col * 3. With a window of one
    # position p resident, a demand is served without a move exactly when it reads the
    # same word as the element at p (SCALE-Sim looks addresses up in its line sets).
    # Checked for every demand against every position, ws with one and with three row
    # folds (12 window elements over 12 or 5 rows), os with 24 pixels over 7 rows.
    kernel_w, channels, out_w = 2, 2, 8
    geometry = np.array([9, 11, channels, 3, kernel_w, 2, 1, 2, 3, 3, out_w, 1])
    pixels, elements = 24, 12
    spread, t = (pixels, elements) if output_stationary else (elements, pixels)
    folds = -(-spread // rows)
    stacked, last_rows = folds * t, spread - (folds - 1) * rows

    def word(pixel: int, element: int) -> tuple[int, int, int]:
        out_row, out_col = divmod(pixel, out_w)
        k_row, rest = divmod(element, kernel_w * channels)
        k_col, channel = divmod(rest, channels)
        return out_row * 2 + k_row * 2, out_col + k_col * 3, channel

    at = {
        _stacked_position(pixel, element, output_stationary, t, rows, stacked, last_rows): (
            pixel,
            element,
        )
        for pixel in range(pixels)
        for element in range(elements)
    }
    assert sorted(at) == list(range(pixels * elements))  # every position once
    state = np.zeros(7, dtype=np.int64)
    state[:3] = (1, len(at) + 1, 1)  # one-word lines, one resident line
    for position, resident in at.items():
        state[4] = position
        found = [
            _resident_copy(
                state, pixel, element, geometry, output_stationary, t, rows, stacked, last_rows
            )
            for pixel in range(pixels)
            for element in range(elements)
        ]
        expected = [
            word(pixel, element) == word(*resident)
            for pixel in range(pixels)
            for element in range(elements)
        ]
        assert found == expected, position


def test_transposed_shapes_with_one_loop_program_are_not_shared() -> None:
    # 8x16 and 16x8 GEMMs on an 8x8 array have the same folds and steps, hence the same
    # loop program, but the SRAMs see different operands: reuse must not mix them up.
    first = Dense("a", 8, 16, rows=100)
    second = Dense("b", 16, 8, rows=100)
    program = _program(
        [first, second],
        rows="8",
        cols="8",
        bandwidth="2",
        **SMALL_SRAMS,
    )
    assert program.layers[0].root == program.layers[1].root
    alone = Evaluation(program, "fast", reuse_layers=False).run()
    shared = Evaluation(program, "fast").run()
    assert shared[1].reused_from is None  # same loop program, other SRAM traffic
    assert [r.cycles for r in shared] == [r.cycles for r in alone]
    assert alone[0].stall_cycles != alone[1].stall_cycles


def test_memory_side_is_the_same_in_fast_and_full_mode() -> None:
    conv = Conv2d("c", 6, 10, 9, 9, 3, 3, padding=(1, 1, 1, 1))
    program = _program(
        [conv],
        rows="4",
        cols="4",
        bandwidth="3",
        **SMALL_SRAMS,
    )
    fast, full = (evaluate_program(program, mode)[0] for mode in ("fast", "full"))
    assert fast.cycles == full.cycles and fast.stall_cycles == full.stall_cycles > 0


def test_input_stationary_with_a_bandwidth_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["lower", "--accelerator", "systolic", "--model", "tc_resnet8"]
    argv += ["--param", "dataflow=is", "--param", "bandwidth=10"]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "dataflow=is" in err and "bandwidth=0" in err and "Traceback" not in err


def test_ifmap_prefetch_order_worked_by_hand() -> None:
    # A 3x3 one-channel input under a 2x2 kernel, stride 1: 4 output pixels (T) x 4 kernel
    # elements (Sr) on a 4-row array, one fold. Element (pixel t, kernel element r) reads
    # input word (out_row + k_row) * 3 + out_col + k_col; the prefetch order walks
    # anti-diagonals t + r = 0, 1, ..., columns ascending
    # (systolic_compute_ws.create_ifmap_prefetch_mat).
    order = [0] * 16
    for pixel in range(4):
        for element in range(4):
            position = _stacked_position(pixel, element, False, 4, 4, 4, 4)
            out_row, out_col = divmod(pixel, 2)
            k_row, k_col = divmod(element, 2)
            order[position] = (out_row + k_row) * 3 + out_col + k_col
    assert order == [0, 1, 1, 3, 2, 3, 4, 4, 4, 4, 5, 6, 5, 7, 7, 8]


@given(
    width=st.integers(1, 9),
    t=st.integers(1, 12),
    folds=st.integers(1, 6),
    data=st.data(),
)
@settings(max_examples=80, deadline=None)
def test_diagonal_positions_skip_the_last_folds_padding(
    width: int, t: int, folds: int, data: st.DataObject
) -> None:
    # The read buffer numbers the stacked matrix's real elements diagonal by diagonal,
    # columns ascending, skipping the last fold's padding columns: count them directly.
    valid = data.draw(st.integers(1, width))
    height, pad_row = folds * t, (folds - 1) * t
    expected = {}
    for d in range(height + width - 1):
        for c in range(max(0, d - height + 1), min(d, width - 1) + 1):
            if not (d - c >= pad_row and c >= valid):
                expected[(d - c, c)] = len(expected)
    for (m, c), position in expected.items():
        assert _diagonal_position(m + c, c, height, width, pad_row, valid) == position


# Convolutions (3x3: im2col repeats addresses; strided; a pointwise one with edge folds)
# with SRAMs small enough for every mechanism to matter: window moves and wrap-arounds,
# hits on a repeated address, the DRAM timeline, drains. accperf must equal SCALE-Sim's
# total cycles, stalls included, to the cycle.
TOPOLOGY = (
    "Layer name, IFMAP Height, IFMAP Width, Filter Height, Filter Width, Channels, "
    "Num Filter, Strides,\n"
    "conv3x3, 10, 10, 3, 3, 8, 12, 1,\n"
    "strided, 15, 15, 3, 3, 12, 30, 2,\n"
    "pointwise, 12, 12, 1, 1, 20, 13, 1,\n"
)


@pytest.mark.scalesim
@pytest.mark.parametrize(("dataflow", "bandwidth"), [("ws", 2), ("ws", 10), ("os", 2), ("os", 10)])
def test_layers_match_scalesim_with_stalls(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], dataflow: str, bandwidth: int
) -> None:
    params = {"rows": 8, "cols": 8, "dataflow": dataflow, "bandwidth": bandwidth}
    report = _validate_with_scalesim(tmp_path, capsys, TOPOLOGY, {**params, **SMALL_SRAMS})
    layers = report["layers"]
    # The SRAMs are small enough for the memory side to matter.
    assert any(layer["scalesim_stall_cycles"] > 0 for layer in layers)
    for layer in layers:
        assert layer["accperf_cycles"] == layer["scalesim_total_cycles"], layer["name"]
        # Like with like: the stalls, and so the compute cycles without them, agree too.
        assert layer["accperf_stall_cycles"] == layer["scalesim_stall_cycles"], layer["name"]
    assert report["mape_percent"] == report["mape_compute_percent"] == 0.0
    assert "of the compute cycles (stalls left out on both sides): 0.00%" in report["printed"]


def _validate_with_scalesim(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    topology: str,
    params: dict[str, int | str],
) -> dict:
    """`accperf-trace validate --against scalesim` on a topology CSV: its JSON report and,
    under "printed", what it printed."""
    if scalesim_env.scalesim_python() is None:
        pytest.skip("no SCALE-Sim interpreter (scripts/test.sh creates .venv-scalesim)")
    path = tmp_path / "topology.csv"
    path.write_text(topology)
    report = tmp_path / "validate.json"
    argv = ["validate", "--against", "scalesim", "--model", str(path), "--json", str(report)]
    for name, value in params.items():
        argv += ["--param", f"{name}={value}"]
    assert main(argv) == 0
    return {**json.loads(report.read_text()), "printed": capsys.readouterr().out}


def _random_cases(count: int, seed: int) -> list[dict[str, int | str]]:
    """Seeded random convs and configurations, SCALE-Sim-expressible (every window inside
    the input), with SRAMs small enough for window moves, wraps and drains."""
    generator = random.Random(seed)
    cases = []
    for _ in range(count):
        kernel, stride = generator.choice([1, 2, 3]), generator.choice([1, 2])
        out = generator.randint(2, 9)
        cases.append(
            {
                "rows": generator.choice([4, 8]),
                "cols": generator.choice([4, 8]),
                "dataflow": generator.choice(["ws", "os"]),
                "bandwidth": generator.choice([1, 3, 5, 10]),
                "sram": generator.randint(1, 2),
                "size": (out - 1) * stride + kernel,
                "kernel": kernel,
                "stride": stride,
                "channels": generator.randint(1, 16),
                "filters": generator.randint(1, 30),
            }
        )
    return cases


@pytest.mark.scalesim
@pytest.mark.parametrize("case", _random_cases(6, seed=2026), ids=lambda case: str(case))
def test_random_convs_match_scalesim_with_stalls(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], case: dict[str, int | str]
) -> None:
    row = (
        f"random, {case['size']}, {case['size']}, {case['kernel']}, {case['kernel']}, "
        f"{case['channels']}, {case['filters']}, {case['stride']},\n"
    )
    params = {name: case[name] for name in ("rows", "cols", "dataflow", "bandwidth")}
    params.update({name: case["sram"] for name in SMALL_SRAMS})
    topology = TOPOLOGY.splitlines()[0] + "\n" + row
    (layer,) = _validate_with_scalesim(tmp_path, capsys, topology, params)["layers"]
    assert layer["accperf_cycles"] == layer["scalesim_total_cycles"]


@settings(max_examples=300, deadline=None)
@given(
    out=st.integers(0, 40),
    kernel=st.integers(0, 12),
    stride=st.integers(1, 12),
    dilation=st.integers(1, 12),
)
def test_reached_positions_count_the_positions_a_conv_reads(out, kernel, stride, dilation):
    # The ifmap's distinct words (distinct_input_words, which sizes the DRAM traffic) along
    # one axis, counted by formula; here, by listing them.
    listed = {o * stride + k * dilation for o in range(out) for k in range(kernel)}
    assert reached_positions(out, kernel, stride, dilation) == len(listed)
