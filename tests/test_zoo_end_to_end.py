"""Every accelerator runs every zoo model end to end (lower + analyze), on reduced sizes; and
the fast evaluation equals the full one on the new kinds of layers (depthwise, 1-D temporal
convs, batched attention matmuls)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from accelerators.catalog import builtin_names
from analyzer.engine.evaluate import evaluate_program
from isa.systolic.mapping import DATAFLOWS
from tracer.cli import main
from tracer.lowering import lower_model
from tracer.workloads.zoo import MODELS, build_model

# Per accelerator, parameters that keep every model small enough for the unit-test budget.
REDUCED_PARAMETERS = {
    "gemmini": ["dim=32"],
    "plasticine": [],
    "systolic": ["rows=8", "cols=8"],
    "ultratrail": [],
}
# Accelerators that run only some of the zoo, and those models; the others they refuse.
RUNS_ONLY = {"ultratrail": {"tc_resnet8_ut"}}
# Accelerators whose useful MACs leave out the taps on zero padding (they skip them).
SKIPS_PADDING = {"ultratrail"}
# Per model, options that shrink it without changing its layer structure.
REDUCED_OPTIONS = {"bert_base": ["seq_len=32"]}


def test_every_accelerator_has_reduced_parameters() -> None:
    assert set(builtin_names()) == set(REDUCED_PARAMETERS)


@pytest.mark.parametrize("accelerator", sorted(REDUCED_PARAMETERS))
@pytest.mark.parametrize("model", sorted(MODELS))
def test_lower_and_analyze_every_zoo_model(
    accelerator: str, model: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    params = [arg for p in REDUCED_PARAMETERS[accelerator] for arg in ("--param", p)]
    options = [arg for o in REDUCED_OPTIONS.get(model, []) for arg in ("--model-param", o)]
    argv = ["lower", "--accelerator", accelerator, *params, "--model", model, *options]
    if model not in RUNS_ONLY.get(accelerator, {model}):
        # A model the accelerator cannot run: one line naming the layer, exit 2.
        assert main([*argv, "-o", str(tmp_path)]) == 2
        error = capsys.readouterr().err.strip()
        assert len(error.splitlines()) == 1 and f"on {accelerator}" in error, error
        return
    assert main([*argv, "-o", str(tmp_path)]) == 0
    trace = Path(capsys.readouterr().out.strip())
    report_path = tmp_path / "report.json"
    assert main(["analyze", str(trace), "--json", str(report_path)]) == 0
    report = json.loads(report_path.read_text())

    expected = build_model(
        model,
        options={k: int(v) for k, v in (o.split("=") for o in REDUCED_OPTIONS.get(model, []))},
    )
    # Every layer of the model is in the report, in order, timed or marked as not run here.
    assert [entry["name"] for entry in report["layers"]] == [
        layer.name for layer in expected.layers
    ]
    timed = [entry for entry in report["layers"] if entry["placement"] == "accelerator"]
    assert timed and all(entry["cycles"] > 0 for entry in timed)
    assert all(
        entry["cycles"] is None and entry["reason"]
        for entry in report["layers"]
        if entry["placement"] != "accelerator"
    )
    assert report["total_cycles"] == sum(entry["cycles"] for entry in timed)
    # MACs of the layers run on the accelerator (a conv the library cannot run on Gemmini
    # is a host layer, as pooling is).
    timed_names = {entry["name"] for entry in timed}
    timed_macs = sum(
        getattr(layer, "macs", 0) for layer in expected.layers if layer.name in timed_names
    )
    if accelerator in SKIPS_PADDING:
        assert 0 < report["total_macs"] < timed_macs
        return
    assert report["total_macs"] == timed_macs
    if all(
        entry["placement"] == "accelerator" or entry["kind"] not in ("conv2d", "dense", "matmul")
        for entry in report["layers"]
    ):
        assert report["total_macs"] == expected.macs


def _fast_equals_full(params: dict[str, str], model: str, **kwargs: object) -> None:
    program = lower_model("systolic", params, model, **kwargs)  # type: ignore[arg-type]
    fast = evaluate_program(program, "fast")
    full = evaluate_program(program, "full")
    assert [r.cycles for r in fast] == [r.cycles for r in full]


@pytest.mark.parametrize("dataflow", DATAFLOWS)
def test_fast_equals_full_on_temporal_convs(dataflow: str) -> None:
    _fast_equals_full({"rows": "8", "cols": "8", "dataflow": dataflow}, "tc_resnet8")


@pytest.mark.parametrize("dataflow", DATAFLOWS)
def test_fast_equals_full_on_attention(dataflow: str) -> None:
    _fast_equals_full(
        {"rows": "8", "cols": "4", "dataflow": dataflow}, "bert_base", options={"seq_len": 12}
    )


@pytest.mark.parametrize("dataflow", DATAFLOWS)
def test_fast_equals_full_on_depthwise_and_pointwise(dataflow: str) -> None:
    # The last block: 7x7 depthwise over 960 channels (960 repeated GEMMs), its projection.
    _fast_equals_full(
        {"rows": "4", "cols": "4", "dataflow": dataflow},
        "mobilenet_v2",
        layers=["features.17.depthwise", "features.17.project"],
    )
