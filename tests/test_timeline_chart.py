"""`show --timeline` (analyzer/timeline_chart.py): what each unit held, cycle by cycle."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from accelerators.catalog import find_accelerator
from analyzer.timeline_chart import MAX_LINES, chart
from tests.test_cli import run
from tracer.lowering import lower_workload
from tracer.trace_io import write_trace
from tracer.workloads.layers import Dense, Model


@dataclass(frozen=True)
class Row:
    unit: str
    issue: int
    start: int
    end: int


def test_running_waiting_and_idle_cycles():
    # a: issued at 0, waits to 2, runs 2-5; b: issued at 1, runs at once 1-2, then a
    # zero-length capture at 6 still shows where it ran.
    drawing = chart([Row("u[0]", 0, 2, 5), Row("u[1]", 1, 1, 2), Row("u[1]", 6, 6, 6)])
    assert drawing.first_cycle == 0 and drawing.cycles_per_char == 1
    assert drawing.lines == [("u[0]", "..===  "), ("u[1]", " =    =")]


def test_instances_in_number_order_and_kinds_in_order_of_appearance():
    rows = [Row("pe[10]", 0, 0, 1), Row("pe[2]", 0, 0, 1), Row("drain[0]", 0, 0, 1)]
    assert [name for name, _ in chart(rows).lines] == ["pe[2]", "pe[10]", "drain[0]"]


def test_a_wide_span_shares_characters_and_running_wins():
    # 0-1000 in 100 characters: 10 cycles each; a character with any running cycle runs.
    drawing = chart([Row("u[0]", 0, 995, 1000), Row("u[1]", 0, 0, 5)], width=100)
    assert drawing.cycles_per_char == 10
    assert drawing.lines[0][1] == "." * 99 + "="
    assert drawing.lines[1][1] == "=" + " " * 99


def test_many_instances_draw_a_line_per_kind():
    rows = [Row(f"pe[{k}]", k, k, k + 1) for k in range(MAX_LINES + 1)]
    rows.append(Row("drain[0]", 0, 40, 41))
    drawing = chart(rows)
    assert drawing.lines == [
        ("pe", "=" * (MAX_LINES + 1) + " " * (41 - MAX_LINES - 1)),
        ("drain", "." * 40 + "="),
    ]


def test_no_rows_is_an_error():
    with pytest.raises(ValueError, match="at least one"):
        chart([])


def test_show_timeline_draws_the_evaluated_wavefront(tmp_path, capsys):
    # The 2x1 array of tests/test_cli.py's show test, whose times are derived there:
    # pe[0] runs 0-1, 1-2, 2-3, 3-4; pe[1] 0-1, 1-2, then waits from its issue (0, then 1)
    # for v[0]: 3-4, 4-5; the drain waits from 0 and 1 for its zero-length captures at 4
    # and 5, which still take a character each. Cycles 0-5: six characters.
    program = lower_workload(
        find_accelerator("systolic").resolve({"rows": "2", "cols": "1"}),
        Model("m", (Dense("fc", 2, 1, rows=2),)),
    )
    folder = write_trace(program, tmp_path, materialize_iterations=1)
    picture = tmp_path / "timeline.svg"
    args = ["show", str(folder), "--layer", "fc", "--iterations", "0:11", "--timeline"]
    code, out, _ = run([*args, "-o", str(picture)], capsys)
    assert code == 0
    lines = {
        line.split("|")[0].strip(): line.split("|")[1] for line in out.splitlines() if "|" in line
    }
    assert lines["sequencer[0]"] == "=     "
    assert lines["pe[0]"] == "====  "
    assert lines["pe[1]"] == "==.== "
    assert lines["drain[0]"] == "....=="
    svg = picture.read_text()
    assert svg.startswith("<svg") and "sequencer[0]" in svg and "drain[0]" in svg


@pytest.mark.parametrize(
    "extra, message",
    [(["-o", "t.png", "--timeline"], "written as SVG"), (["-o", "t.svg"], "add it")],
)
def test_show_refuses_a_picture_it_cannot_draw(tmp_path, capsys, extra, message):
    program = lower_workload(
        find_accelerator("systolic").resolve({"rows": "2", "cols": "1"}),
        Model("m", (Dense("fc", 2, 1, rows=2),)),
    )
    folder = write_trace(program, tmp_path, materialize_iterations=1)
    extra = [str(tmp_path / e) if e.startswith("t.") else e for e in extra]
    code, _, err = run(["show", str(folder), "--layer", "fc", *extra], capsys)
    assert code == 2 and message in err
    assert not list(tmp_path.glob("t.*"))


def test_readme_timeline_is_what_show_draws(tmp_path, capsys):
    # README's `show --timeline` example, drawn again by the code as it is.
    import tracer.api as accperf
    from tests.doc_tables import read_doc

    trace = accperf.lower("resnet50", "systolic", {"rows": 4, "cols": 4}, layers=["fc"])
    folder = trace.save(tmp_path, materialize=1)
    code, out, _ = run(
        ["show", str(folder), "--layer", "fc", "--iterations", "0:84", "--timeline"], capsys
    )
    assert code == 0
    drawn = [line for line in out.splitlines() if "|" in line]
    readme = [line.strip() for line in read_doc("README.md").splitlines() if " |" in line]
    start = readme.index(drawn[0].strip())
    assert readme[start : start + len(drawn)] == [line.strip() for line in drawn]
