"""Nothing lost, nothing silently replaced: what `lower` refuses before it starts, traces of
other configurations, concurrent writers and the leftovers of killed runs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import accperf
from tracer import trace_io
from tracer.cli import main

ROOT = Path(__file__).resolve().parents[1]
SMALL = {"rows": 8, "cols": 8}
LAYERS = ["layer4.0.conv1", "fc"]


@pytest.fixture(scope="module")
def small() -> accperf.Trace:
    return accperf.lower("resnet50", "systolic", SMALL, layers=LAYERS)


def _manifest(folder: Path) -> dict:
    return json.loads((folder / "manifest.json").read_text())


@settings(max_examples=25, deadline=None, derandomize=True)
@given(iterations=st.integers(0, 300))
def test_the_row_count_is_known_before_writing(small, tmp_path_factory, iterations):
    # materialized_rows counts without walking the trips; the file must agree.
    expected = trace_io.materialized_rows(small.program, iterations)
    folder = small.save(tmp_path_factory.mktemp("m"), iterations)
    assert _manifest(folder)["materialized"]["rows"] == expected
    assert pl.read_ipc(folder / "instructions.arrow").height == expected


def test_rows_are_written_in_bounded_batches(small, tmp_path, monkeypatch):
    whole = pl.read_ipc(small.save(tmp_path / "whole", 2000) / "instructions.arrow")
    monkeypatch.setattr(trace_io, "ROWS_PER_BATCH", 100)
    batched = pl.read_ipc(small.save(tmp_path / "batched", 2000) / "instructions.arrow")
    assert whole.height > 1000 and batched.equals(whole)


def test_too_many_rows_are_refused_before_anything_is_written(small, tmp_path, monkeypatch):
    limit = trace_io.materialized_rows(small.program, 2)
    assert limit < trace_io.materialized_rows(small.program, 3)
    monkeypatch.setattr(trace_io, "MATERIALIZE_LIMIT", limit)
    rows = trace_io.materialized_rows(small.program, 100)
    with pytest.raises(accperf.AccperfError, match=f"--materialize 100 would write {rows:,}"):
        small.save(tmp_path, 100)
    assert not tmp_path.exists() or not any(tmp_path.iterdir())


def test_the_default_materializes_fewer_iterations_down_to_none(small, tmp_path, monkeypatch):
    two, three = (trace_io.materialized_rows(small.program, n) for n in (2, 3))
    assert two < three
    monkeypatch.setattr(trace_io, "DEFAULT_MATERIALIZE_ROWS", two)
    # Fewer iterations (2 instead of 4) where 4 would pass the default's rows...
    kept = _manifest(small.save(tmp_path / "default"))["materialized"]
    assert kept == {"iterations_per_layer": 2, "rows": two}
    # ...while a number asked for goes up to the limit,
    asked = _manifest(small.save(tmp_path / "asked", 3))["materialized"]
    assert asked == {"iterations_per_layer": 3, "rows": three}
    # and none where even one iteration a layer would pass them.
    monkeypatch.setattr(trace_io, "DEFAULT_MATERIALIZE_ROWS", 0)
    folder = small.save(tmp_path / "none")
    assert _manifest(folder)["materialized"] == {"iterations_per_layer": 0, "rows": 0}
    assert pl.read_ipc(folder / "instructions.arrow").height == 0


def test_a_configuration_too_large_for_the_machine_is_refused_at_once(tmp_path, capsys):
    description = (ROOT / "accelerators" / "systolic.toml").read_text()
    big = tmp_path / "big.toml"
    big.write_text(description.replace("max = 512", "max = 65536"))
    args = ["--param", "rows=65536", "--param", "cols=65536", "-o", str(tmp_path / "out")]
    code = main(["lower", "--accelerator", str(big), "--model", "resnet50", *args])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1
    assert "4,294,967,296 PEs" in err and "GiB available; choose a smaller" in err
    assert not (tmp_path / "out").exists()


def test_another_configuration_is_kept_unless_forced(tmp_path):
    first = accperf.lower("resnet50", "systolic", SMALL, layers=LAYERS).save(tmp_path)
    before = (first / "manifest.json").read_text()
    other = accperf.lower("resnet50", "systolic", {"rows": 16, "cols": 8}, layers=LAYERS)
    with pytest.raises(accperf.AccperfError, match=r"another configuration \(parameters rows=8"):
        other.save(tmp_path)
    assert (first / "manifest.json").read_text() == before
    fewer = accperf.lower("resnet50", "systolic", SMALL, layers=["fc"])
    with pytest.raises(accperf.AccperfError, match="another configuration.*--force"):
        fewer.save(tmp_path)
    assert other.save(tmp_path, force=True) == first
    assert _manifest(first)["parameters"]["rows"] == 16
    # The same configuration again (other materialization) replaces it without a word.
    assert other.save(tmp_path, 1) == first
    assert not [p.name for p in tmp_path.iterdir() if p.name.startswith(".") and "-" in p.name]


def test_a_selection_with_nothing_to_time_is_an_error(tmp_path, capsys):
    code = main(
        ["lower", "--accelerator", "systolic", "--model", "resnet50"]
        + ["--layers", "maxpool", "-o", str(tmp_path)]
    )
    err = capsys.readouterr().err
    assert code == 2 and "none of the chosen layers runs on systolic" in err
    assert "maxpool runs elsewhere" in err
    assert not any(tmp_path.iterdir())


def test_leftovers_of_killed_runs_are_removed_and_live_ones_kept(small, tmp_path):
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    )
    dead_pid = int(dead.stdout)
    stale = tmp_path / f".resnet50__systolic.tmp-{dead_pid}"
    retired = tmp_path / f".resnet50__systolic.old-{dead_pid}"
    live = tmp_path / f".resnet50__systolic.tmp-{os.getppid()}"
    for folder in (stale, retired, live):
        folder.mkdir(parents=True)
        (folder / "manifest.json").write_text("{}")
    small.save(tmp_path)
    assert not stale.exists() and not retired.exists() and live.exists()


def _lower_process(out: Path, rows: int) -> subprocess.Popen:
    args = ["--param", f"rows={rows}", "--param", "cols=8", "--layers", ",".join(LAYERS)]
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tracer.cli",
            "lower",
            "--accelerator",
            "systolic",
            "--model",
            "resnet50",
            *args,
            "-o",
            str(out),
        ],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_concurrent_writers_of_one_configuration_all_succeed(tmp_path):
    # Real processes, started together, into one folder (each swap used to be able to
    # lose a race: "cannot write a trace there (No such file or directory)").
    processes = [_lower_process(tmp_path, 8) for _ in range(5)]
    outcomes = [(p.communicate()[1], p.returncode) for p in processes]
    assert [code for _, code in outcomes] == [0] * 5, outcomes
    trace = accperf.load_trace(tmp_path / "resnet50__systolic")
    assert accperf.analyze(trace).total_cycles > 0
    assert [p.name for p in tmp_path.iterdir()] == ["resnet50__systolic"]


def test_concurrent_writers_of_two_configurations_never_both_win(tmp_path):
    configurations = (8, 16, 8, 16)
    processes = [_lower_process(tmp_path, rows) for rows in configurations]
    outcomes = [
        (rows, p.communicate()[1], p.returncode)
        for rows, p in zip(configurations, processes, strict=True)
    ]
    winners = {rows for rows, _, code in outcomes if code == 0}
    assert len(winners) == 1, outcomes
    for rows, err, code in outcomes:
        if rows not in winners:
            assert code == 2 and "another configuration" in err
    (kept,) = winners
    assert _manifest(tmp_path / "resnet50__systolic")["parameters"]["rows"] == kept
