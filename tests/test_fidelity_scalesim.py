"""Fidelity: accperf's systolic model against the real SCALE-Sim 3.0.0, cycle for cycle.

For each dataflow, both layers below are lowered for a 4 x 6 array (rows != cols on purpose,
so a swapped rows/cols anywhere shows up), evaluated by our analyzer in fast and full mode,
and simulated by SCALE-Sim on the same topology (scalesim_topology_row), array and dataflow.
Our cycles must equal SCALE-Sim's demand_rows (its demand matrices have one row per cycle)
and its reported "Total Cycles" + 1: that field is the 0-based index of the last cycle
(scalesim/memory/double_buffered_scratchpad_mem.py, service_memory_requests, line 307 in
scalesim 3.0.0: `self.total_cycles = int(max(ofmap_serviced_cycles))`), see
analyzer/crosscheck/scalesim_runner.py.

Skipped only when no SCALE-Sim interpreter is configured; a configured but broken one fails.
"""

from __future__ import annotations

from typing import Any

import pytest

from accelerators.catalog import find_accelerator
from analyzer.actions import ActionCounter
from analyzer.crosscheck.scalesim_bridge import run_scalesim
from analyzer.crosscheck.scalesim_env import scalesim_python
from analyzer.crosscheck.validate import base_request, scalesim_rows
from analyzer.engine.evaluate import evaluate_program
from isa.systolic.lowering import lower
from isa.systolic.mapping import scalesim_topology_row
from tracer.workloads.layers import Conv2d, Dense, Layer, Model

pytestmark = [
    pytest.mark.scalesim,
    pytest.mark.skipif(
        scalesim_python() is None,
        reason="no SCALE-Sim interpreter (set ACCPERF_SCALESIM_PYTHON or create .venv-scalesim)",
    ),
]

ROWS = 4
COLS = 6
DATAFLOWS = ("ws", "os", "is")

# conv: 3x3, padding 1, stride 2. The padded height 12 leaves (12 - 3) % 2 != 0, where
# SCALE-Sim's ceil((H - R + S) / S) ofmap size would be one larger than ours if it got the
# whole padded input (the topology row crops it); the padded width 11 divides evenly. The
# ofmap is 5 x 5, window 36, 12 filters.
# fc: M=5, K=10, N=9 -- partial row and column folds on the 4 x 6 array in every dataflow.
LAYERS: tuple[Layer, ...] = (
    Conv2d(
        "conv",
        in_channels=4,
        out_channels=12,
        in_height=10,
        in_width=9,
        kernel_height=3,
        kernel_width=3,
        stride=2,
        padding=1,
    ),
    Dense("fc", in_features=10, out_features=9, rows=5),
)
MODEL = Model("fidelity", LAYERS)


@pytest.fixture(scope="module")
def scalesim_results() -> dict[str, list[dict[str, Any]]]:
    # One SCALE-Sim run per dataflow (both layers), shared by every test in this module.
    results = {}
    for dataflow in DATAFLOWS:
        result = run_scalesim(
            {
                "rows": ROWS,
                "cols": COLS,
                "dataflow": dataflow,
                # Large SRAMs and bandwidth 0 (CALC mode, our bandwidth=0): stall-free.
                "ifmap_sram_kib": 256,
                "filter_sram_kib": 256,
                "ofmap_sram_kib": 256,
                "bandwidth": 0,
                "layers": [dict(scalesim_topology_row(layer)) for layer in LAYERS],
            },
            timeout_s=120,
        )
        assert result["scalesim_version"] == "3.0.0"
        assert result["bandwidth_mode"] == "CALC"
        assert [got["name"] for got in result["layers"]] == [layer.name for layer in LAYERS]
        results[dataflow] = result["layers"]
    return results


def _our_cycles(dataflow: str, mode: str) -> list[int]:
    accelerator = find_accelerator("systolic").resolve(
        {"rows": str(ROWS), "cols": str(COLS), "dataflow": dataflow}
    )
    program = lower(accelerator, MODEL)
    results = evaluate_program(program, mode=mode)
    assert [r.name for r in results] == [layer.name for layer in LAYERS]
    return [r.cycles for r in results]


def test_the_conv_exercises_scalesim_ceil() -> None:
    # Guard for the comment above: without the crop SCALE-Sim would see one more ofmap row.
    conv = LAYERS[0]
    assert isinstance(conv, Conv2d)
    padded = conv.in_height + 2 * conv.padding[0]
    assert (padded - conv.kernel_height) % conv.stride[0] != 0
    assert (
        -(-(padded - conv.kernel_height + conv.stride[0]) // conv.stride[0]) == conv.out_height + 1
    )


@pytest.mark.parametrize("mode", ["fast", "full"])
@pytest.mark.parametrize("dataflow", DATAFLOWS)
def test_cycles_match_scalesim(
    dataflow: str, mode: str, scalesim_results: dict[str, list[dict[str, Any]]]
) -> None:
    ours = _our_cycles(dataflow, mode)
    mismatches = []
    for layer, cycles, got in zip(LAYERS, ours, scalesim_results[dataflow], strict=True):
        # Stall-free, so "Total Cycles" + 1 is the demand-matrix row count (see docstring).
        assert got["stall_cycles"] == 0, got
        if not cycles == got["demand_rows"] == got["total_cycles"] + 1:
            mismatches.append(
                f"{dataflow}/{mode} {layer.name}: accperf {cycles} cycles, SCALE-Sim "
                f"demand_rows {got['demand_rows']}, total_cycles + 1 {got['total_cycles'] + 1}"
            )
    # Collected so one failure shows every layer, not just the first.
    assert not mismatches, "; ".join(mismatches)


@pytest.mark.scalesim
@pytest.mark.parametrize("dataflow", ["ws", "is"])
def test_sram_reads_and_writes_equal_scalesims_where_folds_fill_the_array(dataflow):
    # Where every fold fills the array (here 8 x 4: K = 3 x 3 x 8 = 72 rows in 9 folds of
    # 8, N = 16 in 4 of 4), the SRAM words accperf counts (analyzer/actions.py) are
    # SCALE-Sim's SRAM ifmap and filter reads and ofmap writes (the valid entries of its
    # demand matrices), under `is` too, where the west edge carries the filters. On a
    # partial fold accperf's idle rows still read their edge register (issued reads);
    # docs/accuracy.md explains the difference.
    conv = Conv2d("c", 8, 16, 6, 6, kernel_height=3, kernel_width=3)
    program = lower(
        find_accelerator("systolic").resolve({"rows": "8", "cols": "4", "dataflow": dataflow}),
        Model("m", (conv,)),
    )
    result = run_scalesim(
        {**base_request(program.parameters, "systolic"), "layers": scalesim_rows(conv)}
    )
    expected = result["layers"][0]["traffic"]
    actions = ActionCounter(program).layer(program.layers[0])
    counted = {memory.memory: memory for memory in actions.traffic}
    assert counted["ifmap_sram"].read_words == expected["ifmap_sram_reads"] > 0
    assert counted["filter_sram"].read_words == expected["filter_sram_reads"] > 0
    assert counted["ofmap_sram"].write_words == expected["ofmap_sram_writes"] > 0


@pytest.mark.scalesim
@pytest.mark.parametrize("dataflow", ["ws", "os"])
@pytest.mark.parametrize(
    "conv, ifmap_kib, regime",
    [
        # 1x1: no two windows share an input, so a too-small SRAM reuses nothing.
        (Conv2d("pointwise", 16, 8, 8, 8, kernel_height=1, kernel_width=1), 1, "no reuse"),
        (Conv2d("pointwise", 16, 8, 8, 8, kernel_height=1, kernel_width=1), 64, "fits"),
        # 3x3 whose 1,296 input words fit in the active half of 64 KiB.
        (Conv2d("window", 16, 8, 9, 9, kernel_height=3, kernel_width=3), 64, "fits"),
    ],
)
def test_dram_counts_equal_scalesims_where_an_operand_fits_or_nothing_is_reused(
    dataflow, conv, ifmap_kib, regime
):
    # isa/systolic/memory_side.py dram_actions against SCALE-Sim's buffers (CALC mode):
    # reads equal; SCALE-Sim's ofmap count adds bw - 1 = cols - 1 empty slots of a line
    # once its writes pass the drain threshold (docs/research/scalesim-counts.md §2).
    params = {
        "rows": "8",
        "cols": "4",
        "dataflow": dataflow,
        "ifmap_sram_kib": str(ifmap_kib),
        "filter_sram_kib": "64",
        "ofmap_sram_kib": "1",
    }
    program = lower(find_accelerator("systolic").resolve(params), Model("m", (conv,)))
    result = run_scalesim(
        {**base_request(program.parameters, "systolic"), "layers": scalesim_rows(conv)}
    )
    expected = result["layers"][0]["traffic"]
    layer = program.layers[0]
    counted = {m.memory: m for m in ActionCounter(program).layer(layer).traffic}
    distinct = int(layer.mapping["distinct_input_words"])
    if regime == "fits":
        assert expected["ifmap_dram_reads"] == distinct
    else:
        assert expected["ifmap_dram_reads"] > distinct
    reads = expected["ifmap_dram_reads"] + expected["filter_dram_reads"]
    assert counted["dram"].read_words == reads
    assert counted["ifmap_sram"].write_words == expected["ifmap_dram_reads"]
    drain_threshold = 1024 - 512  # 1 KiB of one-byte words, less its first half
    overcount = 4 - 1 if counted["dram"].write_words > drain_threshold else 0
    assert counted["dram"].write_words + overcount == expected["ofmap_dram_writes"]
    assert counted["ofmap_sram"].read_words == counted["dram"].write_words


@pytest.mark.scalesim
def test_os_filters_of_a_column_fold_are_read_about_once_as_scalesim_reads_them():
    # 1,024 weights against a 1 KiB filter SRAM (active half 500 words): too many to keep,
    # but one column fold's K x cols = 64 x 4 = 256 fit, and SCALE-Sim runs that column
    # fold's row folds back to back. accperf reads each weight once; SCALE-Sim's buffer
    # restarts empty every 500 new words, re-reading at most one column fold's group per
    # restart (docs/research/scalesim-counts.md §2).
    conv = Conv2d("pointwise", 64, 16, 8, 8, kernel_height=1, kernel_width=1)
    params = {"rows": "8", "cols": "4", "dataflow": "os", "filter_sram_kib": "1"}
    program = lower(find_accelerator("systolic").resolve(params), Model("m", (conv,)))
    result = run_scalesim(
        {**base_request(program.parameters, "systolic"), "layers": scalesim_rows(conv)}
    )
    theirs = result["layers"][0]["traffic"]["filter_dram_reads"]
    ours = {m.memory: m for m in ActionCounter(program).layer(program.layers[0]).traffic}
    counted = ours["filter_sram"].write_words
    assert counted == 64 * 16
    restarts = -(-theirs // 500)
    assert counted <= theirs <= counted + restarts * 64 * 4
    assert theirs < 8 * counted  # far below once per use (8 row folds)
