"""The public Python API (`import accperf`): the README's example, equality with the CLI,
and one exception type carrying the CLI's message."""

from __future__ import annotations

import json
import re
from pathlib import Path

import polars as pl
import pytest

import accperf
from analyzer.engine.evaluate import Evaluation, evaluate_program
from tracer.cli import main

SMALL = {"rows": 8, "cols": 8}
LAYERS = ["layer4.0.conv1", "layer4.0.conv2", "layer4.1.conv2", "fc"]
README = Path(__file__).resolve().parents[1] / "README.md"


def test_readme_example_runs_as_written(tmp_path, monkeypatch):
    text = README.read_text()
    section = text[text.index("## The Python API") :]
    code = re.search(r"```python\n(.*?)```", section, re.S)
    assert code is not None, "README's Python API section lost its example"
    monkeypatch.chdir(tmp_path)
    exec(compile(code.group(1), "README.md", "exec"), {})
    written = json.loads((tmp_path / "out.json").read_text())
    assert written["total_cycles"] == 6_349_260  # the figure the README's comment states
    assert (tmp_path / "traces" / "resnet50__systolic" / "manifest.json").is_file()


def test_api_and_cli_give_the_same_report(tmp_path, capsys):
    trace = accperf.lower("resnet50", "systolic", SMALL, layers=LAYERS)
    folder = trace.save(tmp_path / "api")
    result = accperf.analyze(trace)
    args = [f"--param={k}={v}" for k, v in SMALL.items()]
    code = main(
        ["lower", "--accelerator", "systolic", *args, "--model", "resnet50"]
        + ["--layers", ",".join(LAYERS), "-o", str(tmp_path / "cli")]
    )
    assert code == 0
    cli_folder = Path(capsys.readouterr().out.strip())
    assert (cli_folder / "manifest.json").read_text() == (folder / "manifest.json").read_text()
    assert main(["analyze", str(cli_folder), "--json", str(tmp_path / "cli.json")]) == 0
    cli = json.loads((tmp_path / "cli.json").read_text())
    api = json.loads(result.to_json(tmp_path / "api.json").read_text())
    for report in (cli, api):
        report.pop("analysis_seconds")
    assert api == cli
    assert result.total_cycles == cli["total_cycles"] == sum(r.cycles for r in result.results)


def test_layers_frame_has_the_json_columns_one_row_per_layer():
    trace = accperf.lower("resnet50", "systolic", SMALL, layers=["maxpool", *LAYERS])
    result = accperf.analyze(trace)
    frame = result.layers
    entries = result.to_dict()["layers"]
    assert isinstance(frame, pl.DataFrame)
    assert frame.height == len(entries) == len(LAYERS) + 1
    # The JSON's fields, its nested traffic and energy breakdown as flat columns.
    nested = {"traffic", "energy_breakdown_pj"}
    flat = {key for entry in entries for key in entry} - nested
    flat |= {
        f"{memory}.{field}"
        for memory in trace.program.memories
        for field in ("read_words", "write_words", "read_bytes", "write_bytes")
    }
    flat |= {f"energy.{action}_pj" for action in entries[1]["energy_breakdown_pj"]}
    assert set(frame.columns) == flat
    assert frame["ifmap_sram.read_words"].to_list()[1:] == [
        entry["traffic"]["ifmap_sram"]["read_words"] for entry in entries[1:]
    ]
    assert frame["name"].to_list() == ["maxpool", *LAYERS]
    assert frame["placement"].to_list() == ["host"] + ["accelerator"] * len(LAYERS)
    assert frame["cycles"].to_list()[1:] == [r.cycles for r in result.results]
    assert frame["cycles"].sum() == result.total_cycles


def test_full_and_fast_agree_and_a_loaded_trace_is_the_same(tmp_path):
    chosen = ["features.1.depthwise", "features.1.project", "classifier"]
    trace = accperf.lower("mobilenet_v2", "gemmini", layers=chosen)
    folder = trace.save(tmp_path)
    loaded = accperf.load_trace(folder)
    assert loaded.program == trace.program and loaded.folder == folder
    fast, full = accperf.analyze(loaded), accperf.analyze(loaded, mode="full")
    assert [r.cycles for r in fast.results] == [r.cycles for r in full.results]
    assert fast.total_cycles > 0


def test_lower_takes_files_and_descriptions(tmp_path):
    onnx_path = tmp_path / "net.onnx"
    assert main(["export-onnx", "resnet18", "-o", str(onnx_path)]) == 0
    from_onnx = accperf.lower(onnx_path, "systolic", SMALL)
    from_zoo = accperf.lower("resnet18", "systolic", SMALL)
    assert accperf.analyze(from_onnx).total_cycles == accperf.analyze(from_zoo).total_cycles
    csv = tmp_path / "topo.csv"
    csv.write_text(
        "Layer name, IFMAP Height, IFMAP Width, Filter Height, Filter Width, Channels, "
        "Num Filter, Strides,\nconv, 16, 16, 3, 3, 8, 16, 1,\n"
    )
    assert accperf.analyze(accperf.lower(csv, "systolic", SMALL)).total_cycles > 0
    description = Path(accperf.accelerator_spec("systolic").source)
    own = tmp_path / "mine.toml"
    own.write_text(description.read_text().replace('name = "systolic"', 'name = "mine"'))
    mine = accperf.lower("resnet18", own, SMALL)
    assert mine.accelerator == "mine"
    assert accperf.analyze(mine).total_cycles == accperf.analyze(from_zoo).total_cycles


@pytest.mark.parametrize(
    ("call", "cli"),
    [
        (
            lambda: accperf.lower("resnet50", "systolic", {"rows": 0}),
            ["lower", "--model", "resnet50", "--accelerator", "systolic", "--param", "rows=0"],
        ),
        (
            lambda: accperf.lower("no_such_net"),
            ["lower", "--model", "no_such_net", "--accelerator", "systolic"],
        ),
        (lambda: accperf.load_trace("/nonexistent/trace"), ["analyze", "/nonexistent/trace"]),
    ],
)
def test_errors_raise_one_type_with_the_cli_message(call, cli, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(accperf.AccperfError) as raised:
        call()
    assert main(cli) == 2
    assert capsys.readouterr().err == f"error: {raised.value}\n"


def test_evaluate_program_reuses_equal_layers_as_the_cli_does():
    program = accperf.lower("resnet50", "systolic", SMALL).program
    fast = evaluate_program(program, "fast")
    assert any(r.reused_from for r in fast)
    every = Evaluation(program, "fast", reuse_layers=False).run()
    assert not any(r.reused_from for r in every)
    assert [r.cycles for r in fast] == [r.cycles for r in every]
    assert sum(r.evaluated_instructions for r in fast) < sum(
        r.evaluated_instructions for r in every
    )
