"""docs/accuracy.md's Gemmini section states what benchmarks/gemmini_public.py computes now:
accperf, the roofline and the regression against the MOCA FireSim measurements, layer by
layer, their MAPEs, and what cache_at_start changes. A change that moves a figure fails
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
    # ResNet-50: 53 convolutions, fc, 16 residual additions; AlexNet: 5 convolutions, 3 fc.
    assert len(per_layer) == 78
    # The section's first table is the summary; the second its sensitivity table.
    stated = [rows for heading, rows in markdown_tables(text) if heading == SUMMARY]
    assert stated[0] == summary


def _lines(output: str) -> dict[str, str]:
    return {line.split(":")[0]: line for line in output.splitlines() if ":" in line}


def _summed_error(lines: dict[str, str], network: str) -> str:
    return lines[f"{network} convolutions and fc summed"].split()[-1].strip("()")


def test_prose_figures_are_the_scripts(default_run):
    text = _prose(read_doc(ACCURACY))
    lines = _lines(default_run)
    summed = lines["ResNet-50 convolutions and fc summed"].split()
    measured, ours, error = summed[6].rstrip(","), summed[8], summed[9].strip("()")
    assert f"FireSim measured {measured} cycles and accperf predicts {ours} ({error})" in text
    alexnet = lines["AlexNet convolutions and fc summed"].split()
    measured, ours, error = alexnet[6].rstrip(","), alexnet[8], alexnet[9].strip("()")
    assert f"over AlexNet's, {measured} and {ours} ({error})" in text
    without = lines["ResNet-50 without the 3 strided 1x1 downsampling convolutions"].split()
    mapes = [word.rstrip(",") for word in without if word.endswith("%") or word.endswith("%,")]
    assert (
        f"accperf's MAPE is {mapes[0]}, the roofline's {mapes[1]}, the regression's {mapes[2]}"
        in text
    )
    pr69 = lines["ucb-bar/gemmini PR 69"]
    accperf_total = pr69.split("Gemmini layers only: ")[1].split()[0]
    assert f"on the default description: {accperf_total}" in text


def _sensitivity_row(output: str) -> dict[str, str]:
    """A row of the docs' cache_at_start table, as computed from one run of the script."""
    summary = {row["layers"]: row for row in next(rows for _, rows in markdown_tables(output))}
    lines = _lines(output)
    return {
        "ResNet-50 convolutions and fc: accperf MAPE": summary["ResNet-50 convolutions and fc"][
            "accperf MAPE"
        ],
        "ResNet-50 summed": _summed_error(lines, "ResNet-50"),
        "ResNet-50 residual additions: accperf MAPE": summary["ResNet-50 residual additions"][
            "accperf MAPE"
        ],
        "AlexNet: accperf MAPE": summary["AlexNet convolutions and fc"]["accperf MAPE"],
        "AlexNet summed": _summed_error(lines, "AlexNet"),
    }


def _stated_sensitivity() -> dict[str, dict[str, str]]:
    stated = [rows for heading, rows in markdown_tables(read_doc(ACCURACY)) if heading == SUMMARY]
    return {row.pop("cache_at_start").split()[0]: row for row in stated[1]}


@pytest.mark.parametrize("start", ["same_layer", "empty"])
def test_cache_at_start_rows(start):
    output = _run("--param", f"cache_at_start={start}")
    assert _stated_sensitivity()[start] == _sensitivity_row(output)


def test_default_row_of_the_cache_table_is_the_summary(default_run):
    assert _stated_sensitivity()["previous_layer"] == _sensitivity_row(default_run)


def test_moca_first_layer_tiles_figures():
    # The conv1 bullet's figures with MOCA's own tiles for the two first layers
    # (docs/research/gemmini-conv1.md): the script's conv1 rows with the flag.
    output = _run("--moca-first-layer-tiles")
    # A per-layer row's cells: layer, shape, measured, accperf, its error, ...
    errors = {
        cells[0]: cells[4]
        for cells in (
            [cell.strip() for cell in line.strip("|").split("|")]
            for line in output.splitlines()
            if line.startswith("| ")
        )
        if len(cells) == 9
    }
    resnet, alexnet = errors["conv1"], errors["alexnet.conv1"]
    assert f"come out {resnet} (ResNet-50) and {alexnet} (AlexNet)" in _prose(read_doc(ACCURACY))
