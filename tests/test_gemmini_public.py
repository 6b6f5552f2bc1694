"""docs/accuracy.md's Gemmini section states what benchmarks/gemmini_public.py computes now:
accperf, the roofline and the regression against the MOCA FireSim measurements, layer by
layer, their MAPEs, and the dram_latency sensitivity. A change that moves a figure fails
here until the docs say the new one."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.doc_tables import ROOT, markdown_tables, read_doc, table_under

ACCURACY = "docs/accuracy.md"
SUMMARY = "Gemmini"
PER_LAYER = "Gemmini per layer"


def _run(*arguments: str) -> str:
    return subprocess.run(
        [sys.executable, "benchmarks/gemmini_public.py", *arguments],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        check=True,
    ).stdout


def _prose(text: str) -> str:
    return " ".join(text.split())


@pytest.fixture(scope="module")
def default_run() -> str:
    return _run("--pr69")


def test_tables_are_the_scripts(default_run):
    text = read_doc(ACCURACY)
    summary, per_layer = (rows for _, rows in markdown_tables(default_run))
    assert table_under(text, PER_LAYER) == per_layer
    assert len(per_layer) == 70  # 53 convolutions, fc, 16 residual additions
    # The section's first table is the summary; the second its sensitivity table.
    stated = [rows for heading, rows in markdown_tables(text) if heading == SUMMARY]
    assert stated[0] == summary


def test_prose_figures_are_the_scripts(default_run):
    text = _prose(read_doc(ACCURACY))
    lines = {line.split(":")[0]: line for line in default_run.splitlines()}
    summed = lines["convolutions and fc summed"].split()
    measured, ours, error = summed[5].rstrip(","), summed[7], summed[8].strip("()")
    assert f"FireSim measured {measured} cycles and accperf predicts {ours} ({error})" in text
    without = lines["without the 3 strided 1x1 downsampling convolutions"].split()
    mapes = [word.rstrip(",") for word in without if word.endswith("%") or word.endswith("%,")]
    assert (
        f"accperf's MAPE is {mapes[0]}, the roofline's {mapes[1]}, the regression's {mapes[2]}"
        in text
    )
    pr69 = lines["ucb-bar/gemmini PR 69"]
    accperf_total = pr69.split("Gemmini layers only: ")[1].split()[0]
    assert f"on the default description: {accperf_total}" in text


@pytest.mark.parametrize("latency", [50, 20])
def test_dram_latency_sensitivity_rows(latency):
    stated = [rows for heading, rows in markdown_tables(read_doc(ACCURACY)) if heading == SUMMARY]
    sensitivity = {row["dram_latency"].split()[0]: row for row in stated[1]}
    output = _run("--param", f"dram_latency={latency}")
    summary = next(rows for _, rows in markdown_tables(output))
    by_kind = {row["layers"]: row for row in summary}
    summed = next(line for line in output.splitlines() if line.startswith("convolutions and fc"))
    row = sensitivity[str(latency)]
    assert (
        row["convolutions and fc: accperf MAPE"] == by_kind["convolutions and fc"]["accperf MAPE"]
    )
    assert row["residual additions: accperf MAPE"] == by_kind["residual additions"]["accperf MAPE"]
    assert row["summed"] == summed.split()[-1].strip("()")


def test_default_row_of_the_sensitivity_table_is_the_summary(default_run):
    stated = [rows for heading, rows in markdown_tables(read_doc(ACCURACY)) if heading == SUMMARY]
    default = next(row for row in stated[1] if row["dram_latency"].startswith("100"))
    summary = {row["layers"]: row for row in stated[0]}
    assert (
        default["convolutions and fc: accperf MAPE"]
        == summary["convolutions and fc"]["accperf MAPE"]
    )
    assert (
        default["residual additions: accperf MAPE"] == summary["residual additions"]["accperf MAPE"]
    )
    summed = next(line for line in default_run.splitlines() if line.startswith("convolutions"))
    assert default["summed"] == summed.split()[-1].strip("()")
