"""Cross-check: SCALE-Sim's compute cycles against the closed-form fold formula.

SCALE-Sim runs in its own interpreter (see analyzer/crosscheck/scalesim_bridge.py); the
cross-checks are skipped only when no such interpreter is configured. The
missing-interpreter test needs no SCALE-Sim and always runs.
"""

from __future__ import annotations

import functools
import math
from typing import Any

import pytest

from analyzer.crosscheck import scalesim_bridge
from analyzer.crosscheck.scalesim_bridge import (
    ScaleSimError,
    ScaleSimOutgrown,
    ScaleSimUnavailable,
    run_scalesim,
)
from analyzer.crosscheck.scalesim_env import scalesim_python
from isa.systolic.mapping import scalesim_topology_row
from tracer.errors import UserInputError
from tracer.workloads.layers import Conv2d

ROWS = 8
COLS = 8
DATAFLOWS = ["ws", "os", "is"]

# Layer A: a real 3x3 conv whose window (36) spans several array rows.
# Layer B: a GEMM-like 1x1 conv (M=16 pixels, K=16 channels, N=20 filters) with a partial
# column fold (20 filters on 8 columns).
# Layer C: a stride-2, padding-1 3x3 conv whose padded input (12) leaves (12 - 3) % 2 != 0,
# i.e. where SCALE-Sim's ceil((H - R + S) / S) ofmap size (6) would exceed PyTorch's
# (H - R) // S + 1 (5) if it were fed the whole padded input; scalesim_topology_row crops the
# ifmap so both agree (5x5 ofmap px, window 27 on 4 row folds, 10 filters on 2 column folds).
LAYERS: tuple[Conv2d, ...] = (
    Conv2d(
        "A", in_channels=4, out_channels=8, in_height=8, in_width=8, kernel_height=3, kernel_width=3
    ),
    Conv2d(
        "B",
        in_channels=16,
        out_channels=20,
        in_height=4,
        in_width=4,
        kernel_height=1,
        kernel_width=1,
    ),
    Conv2d(
        "C",
        in_channels=3,
        out_channels=10,
        in_height=10,
        in_width=10,
        kernel_height=3,
        kernel_width=3,
        stride=2,
        padding=1,
    ),
)
# What SCALE-Sim is asked to simulate: one conv-topology row per layer.
TOPOLOGY: list[dict[str, Any]] = [dict(scalesim_topology_row(layer)) for layer in LAYERS]

# Skip only when no interpreter is configured: a configured but broken one must fail loudly.
requires_scalesim = pytest.mark.skipif(
    scalesim_python() is None,
    reason="no SCALE-Sim interpreter (set ACCPERF_SCALESIM_PYTHON or create .venv-scalesim)",
)


def _request(dataflow: str, layers: list[dict[str, Any]]) -> dict[str, Any]:
    # Large SRAMs and bandwidth 0 (CALC mode) so no stalls: compute cycles are then the whole
    # story and the formula below applies.
    return {
        "rows": ROWS,
        "cols": COLS,
        "dataflow": dataflow,
        "ifmap_sram_kib": 256,
        "filter_sram_kib": 256,
        "ofmap_sram_kib": 256,
        "bandwidth": 0,
        "layers": layers,
    }


@functools.cache
def _result(dataflow: str) -> dict[str, Any]:
    # One SCALE-Sim run per dataflow (both layers), shared by the tests below to stay fast.
    return run_scalesim(_request(dataflow, TOPOLOGY), timeout_s=120)


def fold_formula_cycles(layer: Conv2d, dataflow: str, rows: int, cols: int) -> int:
    """Stall-free cycles from the SCALE-Sim paper's fold model.

    Sr/Sc/T as in scalesim/topology_utils.py calc_spatio_temporal_params, but computed from the
    layer itself (PyTorch semantics: padded input, ofmap (H + 2P - R) // S + 1), not from the
    topology row SCALE-Sim gets. SCALE-Sim sizes the ofmap as ceil((H - R + S) / S)
    (topology_utils.topo_calc_hyperparams), so this agrees with it only because
    scalesim_topology_row crops the ifmap to (out - 1) * S + R -- layer C checks that.
    """
    ofmap_px = layer.out_height * layer.out_width
    window = layer.kernel_height * layer.kernel_width * layer.in_channels
    filters = layer.out_channels
    sr, sc, t = {
        "ws": (window, filters, ofmap_px),
        "os": (ofmap_px, filters, window),
        "is": (window, ofmap_px, filters),
    }[dataflow]
    folds = math.ceil(sr / rows) * math.ceil(sc / cols)
    per_fold = t + rows + cols - 2 if dataflow == "os" else 2 * rows + cols + t - 2
    return int(folds * per_fold)


def test_layer_c_exercises_scalesim_ceil() -> None:
    # Guard for the stride-2 case above: the uncropped padded input would give SCALE-Sim one
    # ofmap row/col more than PyTorch, so the cross-checks below would catch a missing crop.
    layer = LAYERS[2]
    padded = layer.in_height + 2 * layer.padding[0]
    assert (padded - layer.kernel_height) % layer.stride[0] != 0
    assert math.ceil((padded - layer.kernel_height + layer.stride[0]) / layer.stride[0]) == (
        layer.out_height + 1
    )
    row = TOPOLOGY[2]
    assert math.ceil((row["ifmap_h"] - row["filter_h"] + row["stride"]) / row["stride"]) == (
        layer.out_height
    )


@pytest.mark.scalesim
@requires_scalesim
@pytest.mark.parametrize("dataflow", DATAFLOWS)
def test_total_cycles_match_fold_formula(dataflow: str) -> None:
    result = _result(dataflow)

    assert result["scalesim_version"] == "3.0.0"
    assert result["bandwidth_mode"] == "CALC"
    assert [layer["name"] for layer in result["layers"]] == [layer.name for layer in LAYERS]
    mismatches = []
    for layer, got in zip(LAYERS, result["layers"], strict=True):
        # CALC mode with big SRAMs is stall-free, so total == compute here, and the + 1 below
        # is the whole difference between SCALE-Sim's report and the formula.
        assert got["stall_cycles"] == 0, got
        assert got["compute_cycles"] == got["total_cycles"] - got["stall_cycles"]
        assert got["wall_seconds"] is not None and got["wall_seconds"] >= 0
        expected = fold_formula_cycles(layer, dataflow, ROWS, COLS)
        # SCALE-Sim's "Total Cycles" is the 0-based index of the cycle in which the last OFMAP
        # demand row is serviced, not a count of cycles:
        # scalesim/memory/double_buffered_scratchpad_mem.py, service_memory_requests,
        # line 307 in scalesim 3.0.0: `self.total_cycles = int(max(ofmap_serviced_cycles))`
        # (the v2-era service_memory_requests_old, line 424, still added the + 1). Stall-free,
        # the cycle count the fold formula gives is therefore total_cycles + 1.
        if got["total_cycles"] + 1 != expected:
            mismatches.append(
                f"{dataflow} layer {layer.name}: SCALE-Sim total cycles + 1 = "
                f"{got['total_cycles'] + 1} != fold formula {expected}"
            )
    # Collected so one failure shows every layer, not just the first.
    assert not mismatches, "; ".join(mismatches)


@pytest.mark.scalesim
@requires_scalesim
@pytest.mark.parametrize("dataflow", DATAFLOWS)
def test_demand_rows_match_fold_formula(dataflow: str) -> None:
    # SCALE-Sim's compute model (the demand matrices, one row per cycle) against the formula,
    # and how its reported cycles relate to it: "Total Cycles" is the 0-based index of the
    # last demand row's service cycle (double_buffered_scratchpad_mem.service_memory_requests,
    # int(max(ofmap_serviced_cycles))), so stall-free it is one less than the row count.
    for layer, got in zip(LAYERS, _result(dataflow)["layers"], strict=True):
        assert got["demand_rows"] == fold_formula_cycles(layer, dataflow, ROWS, COLS), got
        assert got["total_cycles"] == got["demand_rows"] - 1 + got["stall_cycles"], got


@pytest.mark.scalesim
@requires_scalesim
def test_runner_failure_reports_its_stderr() -> None:
    # filter larger than the ifmap: the runner rejects it (exit 2) with a one-line reason,
    # which the bridge must pass on rather than a bare exit code.
    bad = dict(TOPOLOGY[0], filter_h=9)
    with pytest.raises(ScaleSimError) as info:
        run_scalesim(_request("ws", [bad]), timeout_s=60)
    message = str(info.value)
    assert "rejected the request" in message
    assert "filter is larger than the ifmap" in message


def test_missing_interpreter_gives_install_instructions(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(scalesim_bridge, "scalesim_python", lambda: None)
    with pytest.raises(ScaleSimUnavailable) as info:
        run_scalesim(_request("ws", TOPOLOGY))
    message = str(info.value)
    assert isinstance(info.value, UserInputError)
    assert "python -m venv .venv-scalesim" in message
    assert ".venv-scalesim/bin/pip install 'numpy<2.4' scalesim==3.0.0" in message
    assert "numpy >= 2.4" in message and "#160" in message
    assert "ACCPERF_SCALESIM_PYTHON" in message


@pytest.mark.parametrize("how", ["killed", "too-slow"])
def test_a_model_too_large_for_scalesim_is_the_inputs_error(tmp_path, monkeypatch, how) -> None:
    # The OOM killer's SIGKILL, or no answer in time: one error (exit 2 from the CLI)
    # saying what to change, not a traceback.
    fake = tmp_path / "python"
    fake.write_text("#!/bin/sh\n" + ("kill -9 $$\n" if how == "killed" else "sleep 5\n"))
    fake.chmod(0o755)
    monkeypatch.setattr(scalesim_bridge, "scalesim_python", lambda: str(fake))
    with pytest.raises(ScaleSimOutgrown) as info:
        run_scalesim(_request("ws", TOPOLOGY), timeout_s=0.5)
    assert isinstance(info.value, UserInputError)
    assert "validate a smaller model (or its smaller layers, --layers)" in str(info.value)
