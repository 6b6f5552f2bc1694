"""Design-space sweeps (tracer/sweep.py, `accperf-trace sweep`): every configuration's
rows equal a direct analysis, bad configurations are recorded and the sweep goes on, a
second run resumes, workers in parallel give what one process gives."""

from __future__ import annotations

import itertools

import polars as pl
import pytest

import tracer.api as accperf
from tests.test_cli import run
from tracer.sweep import (
    Configuration,
    _write_results,
    configurations,
    run_configuration,
    sweep,
)

GRID = {"rows": ["4", "8"], "cols": ["4", "0"]}  # cols=0 is out of range


def test_configurations_are_the_product_of_grids_models_and_batches():
    found = configurations(["a", "b"], {"x": ["1", "2"], "y": ["3"]}, [None, 4])
    assert len(found) == 2 * 2 * 2
    assert found[0] == Configuration("a", None, {"x": "1", "y": "3"})
    assert found[-1] == Configuration("b", 4, {"x": "2", "y": "3"})
    assert len({c.key for c in found}) == len(found)


def test_a_sweep_equals_direct_analyses_and_records_what_cannot_run(tmp_path):
    out = tmp_path / "sweep.parquet"
    seen = []
    frame = sweep("systolic", ["tc_resnet8"], GRID, out, workers=1, on_progress=seen.append)
    totals = frame.filter(pl.col("row") == "total").sort("param.rows", "param.cols")
    assert totals.height == 4 and seen[-1].done == 4 and seen[-1].failed == 2
    for rows in (4, 8):
        good = totals.filter((pl.col("param.rows") == rows) & pl.col("error").is_null())
        direct = accperf.analyze(accperf.lower("tc_resnet8", "systolic", {"rows": rows, "cols": 4}))
        assert good["cycles"].to_list() == [direct.total_cycles]
        layers = frame.filter(
            (pl.col("row") == "layer") & (pl.col("configuration") == good["configuration"][0])
        )
        assert layers["layer"].to_list() == [r["name"] for r in direct.to_dict()["layers"]]
        assert layers["cycles"].drop_nulls().sum() == direct.total_cycles
    bad = totals.filter(pl.col("error").is_not_null())
    assert bad["param.cols"].to_list() == [0, 0]  # integer parameters are integers
    assert frame["param.dataflow"].dtype == pl.String
    assert all("cols" in message for message in bad["error"])
    # polars alone reads the file; it holds what the call returned.
    assert pl.read_parquet(out).equals(frame)


def test_a_second_run_resumes_and_a_larger_grid_adds_only_the_new(tmp_path):
    out = tmp_path / "sweep.parquet"
    sweep("systolic", ["tc_resnet8"], {"rows": ["4"]}, out, workers=1)
    seen = []
    again = sweep(
        "systolic", ["tc_resnet8"], {"rows": ["4"]}, out, workers=1, on_progress=seen.append
    )
    assert seen == [] and again.filter(pl.col("row") == "total").height == 1
    sweep("systolic", ["tc_resnet8"], {"rows": ["4", "8"]}, out, workers=1, on_progress=seen.append)
    assert [(p.done, p.total, p.skipped) for p in seen] == [(1, 1, 1)]
    assert pl.read_parquet(out).filter(pl.col("row") == "total").height == 2


def test_a_value_given_twice_is_run_once():
    found = configurations(["a", "a"], {"x": ["1", "2", "1"]}, [None, None])
    assert [c.params["x"] for c in found] == ["1", "2"]


def test_another_accelerator_in_the_same_file_is_not_taken_as_done(tmp_path):
    # The key names the model, batch and grid values, not the accelerator: a gemmini sweep
    # over dataflow=ws into a file holding systolic's dataflow=ws must still run.
    out = tmp_path / "sweep.parquet"
    sweep("systolic", ["tc_resnet8"], {"dataflow": ["ws"]}, out, workers=1)
    both = sweep("gemmini", ["tc_resnet8"], {"dataflow": ["ws"]}, out, workers=1)
    totals = both.filter(pl.col("row") == "total").sort("accelerator")
    assert totals["accelerator"].to_list() == ["gemmini", "systolic"]
    direct = accperf.analyze(accperf.lower("tc_resnet8", "gemmini", {"dataflow": "ws"}))
    assert totals["cycles"][0] == direct.total_cycles


@pytest.mark.parametrize("workers", [1, 2])
def test_an_interrupted_sweep_keeps_what_finished_and_resumes_after_it(tmp_path, workers):
    out = tmp_path / "sweep.parquet"

    def interrupt(progress):
        if progress.done == 1:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        sweep("systolic", ["tc_resnet8"], GRID, out, workers=workers, on_progress=interrupt)
    kept = pl.read_parquet(out).filter(pl.col("row") == "total")
    assert kept.height == 1
    seen = []
    sweep("systolic", ["tc_resnet8"], GRID, out, workers=workers, on_progress=seen.append)
    assert (seen[-1].done, seen[-1].skipped) == (3, 1)
    assert pl.read_parquet(out)["configuration"].n_unique() == 4


def test_workers_in_parallel_give_what_one_process_gives(tmp_path):
    serial = sweep("systolic", ["tc_resnet8"], GRID, tmp_path / "one.parquet", workers=1)
    parallel = sweep("systolic", ["tc_resnet8"], GRID, tmp_path / "two.parquet", workers=2)
    assert serial.equals(parallel)  # the grid's order, whichever worker finished first


def test_rows_come_in_the_grids_order_whatever_order_configurations_finish_in(tmp_path):
    # A sweep run with workers reports configurations as they finish; the file keeps a
    # configuration's rows together, in the order of the grid, after another sweep's.
    out = tmp_path / "sweep.parquet"
    sweep("gemmini", ["tc_resnet8"], {"dim": ["8"]}, out, workers=1)
    todo = configurations(["tc_resnet8"], {"rows": ["4", "8"], "cols": ["4", "8"]}, [None])
    finished = [run_configuration("systolic", c) for c in reversed(todo)]
    order = {c.key: position for position, c in enumerate(todo)}
    frame = _write_results(
        out, pl.read_parquet(out), [r for rows in finished for r in rows], "systolic", order
    )
    totals = frame.filter(pl.col("row") == "total")
    assert totals["accelerator"].to_list() == ["gemmini", *["systolic"] * 4]
    assert totals["configuration"].to_list()[1:] == [c.key for c in todo]
    runs = [key for key, _ in itertools.groupby(frame["configuration"].to_list())]
    assert len(runs) == len(set(runs))  # each configuration's rows together


@pytest.mark.parametrize(
    "args, message",
    [
        (["--grid", "rows"], "expected NAME=V1,V2"),
        (["--grid", "nope=1,2"], "has no parameter 'nope'"),
        (["--grid", "rows=4", "--grid", "rows=8"], "given twice"),
        (["--workers", "0"], "at least 1"),
        (["--model", "resnet5"], "--model resnet5: unknown model 'resnet5'"),
        (["--model", "gone.onnx"], "--model gone.onnx: gone.onnx: no such ONNX model file"),
    ],
)
def test_bad_sweeps_are_refused_before_anything_is_written(tmp_path, capsys, args, message):
    out = tmp_path / "sweep.parquet"
    base = ["sweep", "--accelerator", "systolic", "--model", "tc_resnet8", "-o", str(out)]
    code, _, err = run([*base, *args], capsys)
    assert code == 2 and message in err and "Traceback" not in err
    assert not out.exists()


def test_a_file_that_is_not_a_sweep_is_left_alone(tmp_path, capsys):
    out = tmp_path / "sweep.parquet"
    out.write_bytes(b"not parquet")
    args = ["sweep", "--accelerator", "systolic", "--model", "tc_resnet8", "-o", str(out)]
    code, _, err = run([*args, "--grid", "rows=4"], capsys)
    assert code == 2 and "not a readable sweep results file" in err
    assert out.read_bytes() == b"not parquet"


def test_readme_sweep_table_is_what_the_code_computes():
    from tests.doc_tables import markdown_tables, read_doc

    rows = [
        row
        for _, table in markdown_tables(read_doc("README.md"))
        for row in table
        if "param.scratchpad_kib" in row
    ]
    assert len(rows) == 8
    for row in rows:
        params = {"dim": row["param.dim"], "scratchpad_kib": row["param.scratchpad_kib"]}
        result = accperf.analyze(accperf.lower(row["model"], "gemmini", params))
        assert int(row["cycles"].replace(",", "")) == result.total_cycles, row


def test_a_local_ray_cluster_gives_what_one_process_gives(tmp_path):
    # `--ray` alone: a local Ray cluster of two workers started for the run (the CI runs
    # this; Ray comes with the test install, scripts/test.sh).
    serial = sweep("systolic", ["tc_resnet8"], GRID, tmp_path / "one.parquet", workers=1)
    on_ray = sweep("systolic", ["tc_resnet8"], GRID, tmp_path / "r.parquet", workers=2, ray="local")
    assert serial.equals(on_ray)


def test_a_ray_address_nobody_answers_at_is_refused_at_once(tmp_path, capsys):
    out = tmp_path / "sweep.parquet"
    args = ["sweep", "--accelerator", "systolic", "--model", "tc_resnet8", "-o", str(out)]
    code, _, err = run([*args, "--grid", "rows=4", "--ray", "127.0.0.1:1"], capsys)
    assert code == 2 and "no Ray cluster answers there" in err
    assert not out.exists()


def test_a_value_spelled_two_ways_is_one_configuration(tmp_path):
    out = tmp_path / "sweep.parquet"
    sweep("systolic", ["tc_resnet8"], {"rows": ["04"]}, out, workers=1)
    seen = []
    frame = sweep(
        "systolic", ["tc_resnet8"], {"rows": ["4"]}, out, workers=1, on_progress=seen.append
    )
    assert seen == [] and frame.filter(pl.col("row") == "total")["param.rows"].to_list() == [4]
