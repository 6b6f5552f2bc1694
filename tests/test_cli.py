"""End to end through the command line: the README's workflow on a small array, and one
clear error (exit code 2, no traceback) for each kind of bad input."""

from __future__ import annotations

import json
import shlex
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest

from accelerators.catalog import find_accelerator
from analyzer.engine.evaluate import evaluate_program
from tests.doc_tables import printed_rows
from tracer.cli import _parser, main
from tracer.errors import DescriptionError
from tracer.lowering import lower_workload
from tracer.trace_io import SCHEMA_VERSION, write_trace
from tracer.workloads.layers import Dense, Model

SMALL = [
    "--accelerator",
    "systolic",
    "--param",
    "rows=8",
    "--param",
    "cols=8",
    "--model",
    "resnet50",
    "--layers",
    "layer4.0.conv1,layer4.0.conv2,fc",
]


def run(args: list[str], capsys) -> tuple[int, str, str]:
    code = main(args)
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture()
def trace(tmp_path, capsys) -> Path:
    code, out, _ = run(["lower", *SMALL, "-o", str(tmp_path / "traces")], capsys)
    assert code == 0
    folder = Path(out.strip())
    assert folder == tmp_path / "traces" / "resnet50__systolic"
    return folder


def test_list_shows_parameters_and_models(capsys):
    code, out, _ = run(["list"], capsys)
    assert code == 0
    for word in (
        "systolic",
        "rows",
        "dataflow",
        "ws|os|is",
        "bandwidth",
        "resnet50",
        "72",
        "4,089,184,256",
    ):
        assert word in out


def test_lower_and_analyze_count_layers_alike(tmp_path, capsys):
    # resnet18's first three layers: conv1, maxpool (on the host), layer1.0.conv1.
    argv = ["lower", *SMALL[:6], "--model", "resnet18", "--layers", "conv1,maxpool,layer1.0.conv1"]
    code, out, err = run([*argv, "-o", str(tmp_path)], capsys)
    assert code == 0
    counts = "3 layers: 2 on the accelerator, 1 on the host (not timed)"
    assert f"; {counts}; " in err
    code, out, _ = run(["analyze", out.strip()], capsys)
    assert code == 0 and f"\n{counts}; " in out


def test_piped_report_lines_are_never_wrapped(trace, capsys):
    # capsys is not a terminal: the title, each row and the summary stay one line each.
    code, out, _ = run(["analyze", str(trace)], capsys)
    assert code == 0
    lines = out.splitlines()
    assert lines[0].startswith("resnet50 on systolic (rows=8, cols=8, dataflow=ws, ")
    assert lines[0].endswith(", pe_latency=1) - fast evaluation")
    assert sum(line.startswith("│") for line in lines) == 4  # 3 layers and the total
    assert lines[-1].startswith("3 layers: 3 on the accelerator; ")


def test_lower_then_analyze_fast_and_full_agree(trace, tmp_path, capsys):
    code, out, _ = run(["analyze", str(trace), "--json", str(tmp_path / "fast.json")], capsys)
    assert code == 0
    assert "layer4.0.conv2" in out and "total" in out
    full_json = str(tmp_path / "full.json")
    code, _, _ = run(
        ["analyze", str(trace), "--mode", "full", "--no-recurrence", "--json", full_json], capsys
    )
    assert code == 0
    fast = json.loads((tmp_path / "fast.json").read_text())
    full = json.loads((tmp_path / "full.json").read_text())
    assert fast["mode"] == "fast" and full["mode"] == "full"
    assert fast["model"] == "resnet50" and fast["accelerator"] == "systolic"
    assert fast["parameters"]["rows"] == 8
    assert [layer["cycles"] for layer in fast["layers"]] == [
        layer["cycles"] for layer in full["layers"]
    ]
    assert fast["total_cycles"] == sum(layer["cycles"] for layer in fast["layers"])
    for layer in fast["layers"]:
        assert set(layer) >= {
            "name",
            "cycles",
            "instructions",
            "evaluated_instructions",
            "evaluated_iterations",
            "bound",
        }
        assert layer["evaluated_instructions"] < layer["instructions"]
    for layer in full["layers"]:
        assert layer["evaluated_instructions"] == layer["instructions"]
        assert layer["recurrence_cycles"] is None  # not with --no-recurrence
    for layer in fast["layers"]:  # the recurrence bound is on by default
        # The stream step of a 1-cycle PE array repeats once per cycle.
        assert layer["recurrence_cycles_per_iteration"] == "1"
        assert 0 < layer["recurrence_cycles"] <= layer["cycles"]


def test_show_prints_timed_instructions(trace, capsys):
    code, out, _ = run(["show", str(trace), "--layer", "fc", "--iterations", "0:2"], capsys)
    assert code == 0
    assert "fold_sync" in out and "preload" in out
    assert "sequencer[0]" in out


def test_trace_rows_load_in_polars(trace):
    frame = pl.scan_ipc(trace / "instructions.arrow").head().collect()
    assert frame.columns[:3] == ["layer", "layer_index", "iteration"]


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["lower", "--accelerator", "tpu", "--model", "resnet50"], "unknown accelerator 'tpu'"),
        (["lower", "--accelerator", "systolic", "--model", "alexnet"], "unknown model 'alexnet'"),
        (
            ["lower", "--accelerator", "systolic", "--param", "depth=3", "--model", "resnet50"],
            "has no parameter 'depth'",
        ),
        (
            ["lower", "--accelerator", "systolic", "--param", "rows", "--model", "resnet50"],
            "expected NAME=VALUE",
        ),
        (
            ["lower", "--accelerator", "systolic", "--param", "dataflow=rs", "--model", "resnet50"],
            "choose one of ws, os, is",
        ),
        (
            ["lower", "--accelerator", "systolic", "--model", "resnet50", "--batch", "0"],
            "--batch must be a positive integer, got 0",
        ),
        (
            ["lower", "--accelerator", "systolic", "--param", "rows=8", "--param", "cols=8"]
            + ["--param", "rows=16", "--model", "resnet50"],
            "--param rows given twice (rows=8 and rows=16); give it once",
        ),
        (
            ["lower", "--accelerator", "systolic", "--model", "bert_base"]
            + ["--model-param", "seq_len=8", "--model-param", "seq_len=8"],
            "--model-param seq_len given twice",
        ),
        (["layers", "m.onnx", "--dim", "s=4", "--dim", "s=8"], "--dim s given twice (s=4 and s=8)"),
        (
            ["lower", "--accelerator", "systolic", "--model", "resnet50", "--layers", "conv9"],
            "conv9 not in model",
        ),
        (
            [
                "lower",
                "--accelerator",
                "systolic",
                "--param",
                "bandwidth=10",
                "--param",
                "dataflow=is",
                "--model",
                "resnet50",
            ],
            "memory-side model covers dataflows ws, os",
        ),
        (["analyze", "no/such/trace"], "no such trace folder"),
        (
            ["lower", "--accelerator", "systolic", "--model", "bert_base", "--model-param", "x"],
            "expected NAME=VALUE",
        ),
        (
            ["lower", "--accelerator", "systolic", "--model", "bert_base"]
            + ["--model-param", "seq_len=big"],
            "expected an integer",
        ),
        (
            ["lower", "--accelerator", "systolic", "--model", "vgg16"]
            + ["--model-param", "seq_len=8"],
            "no option seq_len",
        ),
        (["layers", "missing.onnx"], "no such ONNX model file"),
        (["layers", "resnet50", "--skip-unsupported"], "ONNX models only"),
        (["layers", "resnet50", "--dim", "seq=4"], "--dim apply to ONNX models only"),
        (["layers", "resnet50", "--dim", "seq=four"], "expected an integer"),
        (["export-onnx", "resnet50", "-o", "out.txt"], "ending in .onnx"),
    ],
)
def test_bad_input_is_one_clear_error(args, fragment, capsys, tmp_path):
    code, out, err = run([*args, *(["-o", str(tmp_path)] if args[0] == "lower" else [])], capsys)
    assert code == 2
    assert fragment in " ".join(err.split())
    assert "Traceback" not in err
    assert not list(tmp_path.iterdir())  # nothing written


def test_batch_zero_names_the_flag_for_every_kind_of_model(tmp_path, capsys):
    # Not a layer of the model: the option. A topology CSV used to blame its first row.
    topology = tmp_path / "t.csv"
    topology.write_text("Layer, M, N, K,\nQK, 8, 8, 8,\n")
    for model in ("resnet50", str(topology), str(tmp_path / "absent.onnx")):
        code, _, err = run(["layers", model, "--batch", "0"], capsys)
        assert (code, err) == (2, "error: --batch must be a positive integer, got 0\n"), model


def test_analyze_of_a_folder_of_traces_lists_them(trace, capsys):
    # `lower -o traces/` prints traces/<model>__<accelerator>; `analyze traces/` is the
    # natural slip. Hidden folders (a run's staging) are not offered.
    parent = trace.parent
    (parent / ".resnet50__systolic.tmp-1").mkdir()
    (parent / "notes").mkdir()
    for command in (["analyze", str(parent)], ["show", str(parent), "--layer", "fc"]):
        code, _, err = run(command, capsys)
        assert code == 2 and err.count("\n") == 1
        assert err == (
            f"error: {parent}: a folder of trace folders, not a trace; give one of them: {trace}\n"
        )


def test_damaged_and_foreign_traces_from_the_command_line(trace, capsys):
    manifest = json.loads((trace / "manifest.json").read_text())
    manifest["schema_version"] = SCHEMA_VERSION + 1
    (trace / "manifest.json").write_text(json.dumps(manifest))
    code, _, err = run(["analyze", str(trace)], capsys)
    assert code == 2 and f"schema version {SCHEMA_VERSION + 1}" in err
    manifest["schema_version"] = SCHEMA_VERSION
    (trace / "manifest.json").write_text(json.dumps(manifest))
    data = (trace / "loops.arrow").read_bytes()
    (trace / "loops.arrow").write_bytes(data[:40])
    code, _, err = run(["analyze", str(trace)], capsys)
    assert code == 2 and "truncated" in err


def test_show_and_json_errors(trace, capsys, tmp_path):
    code, _, err = run(["show", str(trace), "--layer", "nope"], capsys)
    assert code == 2 and "no such layer" in err
    code, _, err = run(["show", str(trace), "--layer", "fc", "--iterations", "4:2"], capsys)
    assert code == 2 and "0 <= A < B" in err
    code, _, err = run(["analyze", str(trace), "--json", str(tmp_path / "no" / "x.json")], capsys)
    assert code == 2 and "does not exist" in err


def test_console_script_exit_code_and_no_traceback(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "tracer.cli", "analyze", str(tmp_path / "missing")],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 2
    assert "no such trace folder" in result.stderr
    assert "Traceback" not in result.stderr


def test_output_and_json_destinations_that_cannot_be_written(trace, tmp_path, capsys):
    blocker = tmp_path / "a_file"
    blocker.write_text("x")
    code, _, err = run(["lower", *SMALL, "-o", str(blocker)], capsys)
    assert code == 2 and "cannot write a trace there" in err
    assert blocker.read_text() == "x"
    code, _, err = run(["analyze", str(trace), "--json", str(blocker / "out.json")], capsys)
    assert code == 2 and "does not exist (or is a file)" in err
    code, _, err = run(["analyze", str(trace), "--json", str(tmp_path)], capsys)
    assert code == 2 and "is a folder" in err
    code, _, err = run(["show", str(trace), "--layer", "fc", "--max-rows", "0"], capsys)
    assert code == 2 and "--max-rows 0" in err


def test_a_batch_too_large_to_evaluate_is_refused(capsys, tmp_path):
    code, _, err = run(
        [
            "lower",
            "--accelerator",
            "systolic",
            "--model",
            "resnet50",
            "--layers",
            "conv1",
            "--batch",
            str(10**16),
            "-o",
            str(tmp_path),
        ],
        capsys,
    )
    assert code == 2 and "instructions" in err
    assert not list(tmp_path.iterdir())


def test_layers_and_export_round_trip(tmp_path, capsys):
    zoo_json, file_json = tmp_path / "zoo.json", tmp_path / "file.json"
    code, out, _ = run(["layers", "mobilenet_v2", "--batch", "2", "--json", str(zoo_json)], capsys)
    assert code == 0 and "features.17.depthwise" in out and "g960" in out
    onnx_path = tmp_path / "mobilenet_v2.onnx"
    code, out, _ = run(
        ["export-onnx", "mobilenet_v2", "--batch", "2", "-o", str(onnx_path)], capsys
    )
    assert code == 0 and out.strip() == str(onnx_path)
    code, _, _ = run(["layers", str(onnx_path), "--json", str(file_json)], capsys)
    assert code == 0
    zoo, imported = json.loads(zoo_json.read_text()), json.loads(file_json.read_text())
    assert zoo == imported
    assert zoo["model"] == "mobilenet_v2" and zoo["total_macs"] == 2 * 300_774_272
    first = zoo["layers"][0]
    assert (first["name"], first["op"], first["activation"]) == ("features.0", "conv2d", "clip")
    assert first["macs"] == 2 * 112 * 112 * 32 * 27


def test_an_onnx_model_lowers_like_the_zoo_model(tmp_path, capsys):
    onnx_path = tmp_path / "tc.onnx"
    assert run(["export-onnx", "tc_resnet8", "-o", str(onnx_path)], capsys)[0] == 0
    reports = []
    for model in ("tc_resnet8", str(onnx_path)):
        out_dir = tmp_path / Path(model).stem
        code, out, _ = run(
            ["lower", "--accelerator", "systolic", "--model", model, "-o", str(out_dir)], capsys
        )
        assert code == 0
        report = tmp_path / f"{Path(model).stem}.json"
        assert run(["analyze", out.strip(), "--json", str(report)], capsys)[0] == 0
        reports.append(json.loads(report.read_text()))
    zoo, imported = reports
    assert [(e["name"], e["cycles"]) for e in zoo["layers"]] == [
        (e["name"], e["cycles"]) for e in imported["layers"]
    ]
    assert zoo["total_cycles"] == imported["total_cycles"] > 0


def test_fast_analyze_reuses_identical_layer_programs(tmp_path, capsys):
    from analyzer.engine.evaluate import evaluate_program
    from tracer.lowering import lower_model

    layers = "layer1.0.conv3,layer1.0.downsample,layer1.1.conv1,layer1.1.conv2"
    argv = ["lower", "--accelerator", "systolic", "--param", "rows=8", "--param", "cols=8"]
    code, out, _ = run(
        [*argv, "--model", "resnet50", "--layers", layers, "-o", str(tmp_path)], capsys
    )
    assert code == 0
    report = tmp_path / "r.json"
    assert run(["analyze", out.strip(), "--json", str(report)], capsys)[0] == 0
    entries = json.loads(report.read_text())["layers"]
    # conv3, downsample and the next block's conv1 are all 1x1, 64 <-> 256 on 56x56.
    assert [e["reused_from"] for e in entries] == [None, "layer1.0.conv3", "layer1.0.conv3", None]
    assert [e["evaluated_iterations"] == 0 for e in entries] == [False, True, True, False]
    # Reuse is exact: every layer evaluated on its own gives the same cycles.
    program = lower_model(
        "systolic", {"rows": "8", "cols": "8"}, "resnet50", layers=layers.split(",")
    )
    assert [e["cycles"] for e in entries] == [r.cycles for r in evaluate_program(program, "full")]


def test_a_model_of_host_layers_only_is_refused(tmp_path, capsys):
    # Nothing to time is an error, not an empty trace (which used to replace a full one).
    argv = ["lower", "--accelerator", "systolic", "--model", "resnet18", "--layers", "maxpool"]
    code, out, err = run([*argv, "-o", str(tmp_path)], capsys)
    assert code == 2 and out == "" and err.count("\n") == 1
    assert "none of the chosen layers runs on systolic (maxpool runs elsewhere)" in err
    assert not any(tmp_path.iterdir())


def test_show_prints_each_instructions_start_and_end(tmp_path, capsys):
    # A 2 x 1 array, ws, a dense layer of 2 inputs, 1 output, 2 rows: one fold of
    # fold_sync, 2 preload steps and 2 stream steps, 5 bundles. The front end issues 4
    # bundles per cycle (0, 0, 0, 0, then 1), never later than the array needs them. PE
    # latency 1, occupancy 1; the sequencer and drain capture have latency 0.
    # it 0  fold_sync reads the (idle) outputs: 0-0, writes fold_token.
    # it 1  preload, bottom row first: pe[1] reads s[0] (unwritten): 0-1; pe[0] takes the
    #       north port after the fold token (0) and overwrites s[0], which pe[1] reads at 0:
    #       it may end at 0 + 1 (edge-triggered), 0-1.
    # it 2  pe[1] reads s[0] (ready at 1): 1-2; pe[0] rewrites s[0], read by pe[1] at 1: 1-2.
    # it 3  mac pe[0] waits for its weight s[0] (2): 2-3; pe[1] for v[0] (3): 3-4; the drain
    #       reads v[1] (4): 4-4.
    # it 4  mac pe[0]: pe[0] free at 3, and its v[0] write may end no earlier than pe[1]'s
    #       read at 3 + 1: 3-4; pe[1] waits for v[0] (4): 4-5; the drain for v[1] (5): 5-5.
    # The layer: 5 cycles, 2R + C + T - 2.
    program = lower_workload(
        find_accelerator("systolic").resolve({"rows": "2", "cols": "1"}),
        Model("m", (Dense("fc", 2, 1, rows=2),)),
    )
    folder = write_trace(program, tmp_path, materialize_iterations=1)
    code, out, _ = run(["show", str(folder), "--layer", "fc", "--iterations", "0:11"], capsys)
    assert code == 0
    # Issue: four bundles a cycle, so the first four issue at 0 and the fifth at 1. An
    # iteration is a block execution: a step's rows are blocks of their own (each row's
    # first PE, then a loop over its other columns; here one column), the drains one.
    rows = [(c[0], c[3], c[4], c[7], c[8], c[9]) for c in printed_rows(out)]
    assert rows == [
        ("0", "fold_sync", "sequencer[0]", "0", "0", "0"),
        ("1", "preload", "pe[1]", "0", "0", "1"),
        ("2", "preload", "pe[0]", "0", "0", "1"),
        ("3", "preload", "pe[1]", "0", "1", "2"),
        ("4", "preload", "pe[0]", "0", "1", "2"),
        ("5", "mac", "pe[0]", "0", "2", "3"),
        ("6", "mac", "pe[1]", "0", "3", "4"),
        ("7", "drain", "drain[0]", "0", "4", "4"),
        ("8", "mac", "pe[0]", "1", "3", "4"),
        ("9", "mac", "pe[1]", "1", "4", "5"),
        ("10", "drain", "drain[0]", "1", "5", "5"),
    ]
    # The operands as the trace renders them, e.g. pe[1]'s MAC and the drain.
    mac = printed_rows(out)[6]
    assert (mac[5], mac[6]) == ("west[1], s[1], v[0]", "h[1], v[1]")
    assert evaluate_program(program, "full")[0].cycles == 5
    # --max-rows cuts the table and says how many are left.
    code, out, _ = run(
        ["show", str(folder), "--layer", "fc", "--iterations", "5:11", "--max-rows", "4"], capsys
    )
    assert [cells[8:] for cells in printed_rows(out)] == [
        ["2", "3"],
        ["3", "4"],
        ["4", "4"],
        ["3", "4"],
    ]
    assert "2 more instructions; raise --max-rows to see them" in out


def test_lower_timing_fills_the_materialized_rows_as_show_times_them(tmp_path, capsys):
    # `lower --timing` writes each materialized instruction's issue, start and end: the
    # first rows of a layer equal what `show` prints for its first iterations.
    args = ["lower", "--accelerator", "systolic", "--model", "resnet50", "--layers", "fc"]
    args += ["--param", "rows=4", "--param", "cols=4", "--materialize", "2"]
    code, out, _ = run([*args, "--timing", "-o", str(tmp_path)], capsys)
    assert code == 0
    folder = tmp_path / "resnet50__systolic"
    rows = pl.read_ipc(folder / "instructions.arrow")
    code, out, _ = run(["show", str(folder), "--layer", "fc", "--iterations", "0:2"], capsys)
    shown = [tuple(int(v) for v in cells[7:10]) for cells in printed_rows(out)]
    assert shown == list(zip(rows["issue"], rows["start"], rows["end"], strict=True))
    assert len(shown) == rows.height > 1


def documented_lowers() -> list[tuple[str, list[str]]]:
    """(doc, arguments) of every `accperf-trace lower` command in the README and docs/
    (research records aside), continuation lines joined and comments cut."""
    root = Path(__file__).resolve().parents[1]
    docs = [root / "README.md", *sorted((root / "docs").rglob("*.md"))]
    found = []
    for doc in docs:
        if "research" in doc.relative_to(root).parts:
            continue
        text = doc.read_text().replace("\\\n", " ")
        for line in text.splitlines():
            command = line.split(" #")[0]
            if "accperf-trace lower " in command:
                words = shlex.split(command.split("accperf-trace ", 1)[1])
                found.append((doc.name, words))
    return found


def accelerator_defaults(name: str) -> dict[str, str]:
    """A built-in accelerator's parameter defaults as `--param` spells them; none for the
    one docs/adding-an-accelerator.md builds."""
    try:
        spec = find_accelerator(name)
    except DescriptionError:
        return {}
    return {p.name: str(p.default) for p in spec.parameters}


def test_documented_lowers_never_meet_another_configuration_in_their_folder():
    # Followed in order, the docs' commands must run: `lower` refuses to replace a trace of
    # another configuration without --force, so two commands writing the same folder
    # (output directory, model, accelerator) must lower the same configuration.
    lowers = documented_lowers()
    assert len(lowers) >= 10, "the docs' lower commands were not found"
    seen: dict[tuple[str, str, str], tuple[str, dict]] = {}
    for doc, words in lowers:
        args = vars(_parser().parse_args(words))
        defaults = accelerator_defaults(args["accelerator"])
        params = dict(item.split("=", 1) for item in args["param"])
        configuration = {
            **{
                k: v
                for k, v in args.items()
                if k not in ("out", "force", "materialize", "timing", "param", "handler")
            },
            "param": {k: v for k, v in params.items() if defaults.get(k) != v},
        }
        folder = (str(args["out"]), args["model"], args["accelerator"])
        if folder in seen and not args["force"]:
            first_doc, first = seen[folder]
            assert configuration == first, (
                f"{doc}: `accperf-trace {' '.join(words)}` writes {folder} as {first_doc} "
                "does, with another configuration: give it its own -o"
            )
        seen.setdefault(folder, (doc, configuration))


def test_the_cli_states_the_apis_default_materialization(capsys):
    # tracer/cli.py repeats the numbers so that `--help` need not import the API.
    from tracer import api, cli, trace_io

    assert cli.DEFAULT_MATERIALIZE == api.DEFAULT_MATERIALIZE
    with pytest.raises(SystemExit):
        main(["lower", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    for rows in (trace_io.DEFAULT_MATERIALIZE_ROWS, trace_io.MATERIALIZE_LIMIT):
        assert f"{rows:,} rows" in text
