"""Deterministic to the bit: the same commands run twice, in two processes, write
byte-identical trace folders and JSON reports, but for the timing fields, which
docs/report-json.md names.

Separate processes, so that nothing cached in one process (remembered loops, reused
layers, compiled kernels' state) can hide a difference, and different hash seeds, so
that an order taken from a set or a hash cannot either.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from analyzer.crosscheck import scalesim_env
from tests.doc_tables import ROOT, read_doc

TRACE_FILES = ("manifest.json", "templates.arrow", "loops.arrow", "instructions.arrow")
# The fields that hold wall times: analyze --json's and validate --json's.
TIMING_FIELDS = ("analysis_seconds", "accperf_seconds", "scalesim_seconds")

TOPOLOGY = (
    "Layer name, IFMAP Height, IFMAP Width, Filter Height, Filter Width, Channels, Num Filter, "
    "Strides,\nconv, 9, 9, 3, 3, 4, 5, 2,\nDP_dw, 6, 6, 3, 3, 3, 2, 1,\n"
)

# One run: every command that writes a trace or a JSON file, on inputs of each kind (zoo,
# ONNX, topology CSV; both families; with a memory side, baselines and the recurrence
# bound, in both modes).
RUN = """
import sys
from pathlib import Path
from tracer.cli import main

out, topology = Path(sys.argv[1]), sys.argv[2]
small = ["--param", "rows=8", "--param", "cols=8"]
commands = [
    ["export-onnx", "tc_resnet8", "-o", str(out / "tc_resnet8.onnx")],
    ["layers", str(out / "tc_resnet8.onnx"), "--json", str(out / "layers.json")],
    ["lower", "--accelerator", "systolic", *small, "--param", "bandwidth=10",
     "--model", str(out / "tc_resnet8.onnx"), "-o", str(out / "traces")],
    ["lower", "--accelerator", "systolic", *small, "--param", "dataflow=os",
     "--model", topology, "-o", str(out / "traces")],
    ["lower", "--accelerator", "gemmini", "--model", "resnet18",
     "--layers", "conv1,maxpool,layer1.0.conv1,layer1.0.add,fc", "-o", str(out / "traces")],
]
for trace in ("tc_resnet8__systolic", "topology__systolic", "resnet18__gemmini"):
    folder = str(out / "traces" / trace)
    commands.append(["analyze", folder, "--baselines",
                     "--json", str(out / f"{trace}.fast.json")])
    commands.append(["analyze", folder, "--mode", "full",
                     "--json", str(out / f"{trace}.full.json")])
for argv in commands:
    assert main(argv) == 0, argv
"""


def _run(folder: Path, topology: Path, hash_seed: str) -> None:
    folder.mkdir()
    env = {**os.environ, "PYTHONHASHSEED": hash_seed}
    subprocess.run(
        [sys.executable, "-c", RUN, str(folder), str(topology)],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
        timeout=900,
    )


def _without_timing(text: str) -> str:
    """The JSON text with the timing fields' values blanked, all else kept byte for byte."""
    pattern = rf'("(?:{"|".join(TIMING_FIELDS)})": )[-+0-9.eE]+'
    return re.sub(pattern, r"\1<timing>", text)


def test_the_timing_fields_are_documented_as_such():
    text = " ".join(read_doc("docs/report-json.md").split())
    assert "Timing fields" in text
    for field in TIMING_FIELDS:
        assert f"`{field}`" in text, field


def test_two_runs_write_the_same_bytes(tmp_path: Path):
    topology = tmp_path / "topology.csv"
    topology.write_text(TOPOLOGY)
    first, second = tmp_path / "first", tmp_path / "second"
    _run(first, topology, "1")
    _run(second, topology, "2")
    traces = sorted(path.name for path in (first / "traces").iterdir())
    assert traces == ["resnet18__gemmini", "tc_resnet8__systolic", "topology__systolic"]
    assert sorted(path.name for path in (second / "traces").iterdir()) == traces
    for trace in traces:
        for name in TRACE_FILES:
            a, b = (run / "traces" / trace / name for run in (first, second))
            assert a.read_bytes() == b.read_bytes(), (trace, name)
    assert (first / "tc_resnet8.onnx").read_bytes() == (second / "tc_resnet8.onnx").read_bytes()
    reports = sorted(path.name for path in first.glob("*.json"))
    assert len(reports) == 7  # the layer table and six reports
    timed = 0
    for name in reports:
        a, b = ((run / name).read_text() for run in (first, second))
        assert _without_timing(a) == _without_timing(b), name
        timed += a != b
    # The timing fields are what differs (they are wall times); blanking them is needed.
    assert timed > 0


@pytest.mark.scalesim
def test_two_validations_write_the_same_bytes(tmp_path: Path):
    python = scalesim_env.scalesim_python()
    if python is None:
        pytest.skip("no SCALE-Sim interpreter (scripts/test.sh creates .venv-scalesim)")
    topology = tmp_path / "topology.csv"
    topology.write_text(TOPOLOGY)
    reports = []
    for seed in ("1", "2"):
        report = tmp_path / f"validate{seed}.json"
        argv = ["validate", "--against", "scalesim", "--param", "rows=4", "--param", "cols=4"]
        argv += ["--param", "bandwidth=2", "--model", str(topology), "--json", str(report)]
        env = {**os.environ, "PYTHONHASHSEED": seed, scalesim_env.ENV_VAR: python}
        script = f"import sys; from tracer.cli import main; sys.exit(main({argv!r}))"
        subprocess.run(
            [sys.executable, "-c", script], cwd=ROOT, env=env, check=True, capture_output=True
        )
        reports.append(report.read_text())
    assert _without_timing(reports[0]) == _without_timing(reports[1])
    assert reports[0] != reports[1]  # SCALE-Sim's and accperf's wall times
