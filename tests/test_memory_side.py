"""The systolic array's memory side (isa/systolic/memory_side.py, isa/systolic/memory_kernels.py):
SCALE-Sim's double-buffered SRAMs at a finite DRAM bandwidth."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from accelerators.catalog import find_accelerator
from analyzer.crosscheck import scalesim_env
from analyzer.engine.evaluate import Evaluation, evaluate_program
from isa.program import Program
from isa.systolic.memory_kernels import _diagonal_position, _stacked_position, gemm_stalls
from isa.systolic.memory_side import NO_IM2COL
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
    layers = _validate_with_scalesim(tmp_path, capsys, TOPOLOGY, {**params, **SMALL_SRAMS})
    # The SRAMs are small enough for the memory side to matter.
    assert any(layer["scalesim_stall_cycles"] > 0 for layer in layers)
    for layer in layers:
        assert layer["accperf_cycles"] == layer["scalesim_total_cycles"], layer["name"]


def _validate_with_scalesim(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    topology: str,
    params: dict[str, int | str],
) -> list[dict]:
    """`accperf-trace validate --against scalesim` on a topology CSV; its JSON layers."""
    if scalesim_env.scalesim_python() is None:
        pytest.skip("no SCALE-Sim interpreter (scripts/test.sh creates .venv-scalesim)")
    path = tmp_path / "topology.csv"
    path.write_text(topology)
    report = tmp_path / "validate.json"
    argv = ["validate", "--against", "scalesim", "--model", str(path), "--json", str(report)]
    for name, value in params.items():
        argv += ["--param", f"{name}={value}"]
    assert main(argv) == 0
    capsys.readouterr()
    return list(json.loads(report.read_text())["layers"])


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
    (layer,) = _validate_with_scalesim(tmp_path, capsys, topology, params)
    assert layer["accperf_cycles"] == layer["scalesim_total_cycles"]
