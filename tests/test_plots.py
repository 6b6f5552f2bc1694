"""`accperf-trace plot` (tracer/plots.py): what each picture shows, computed without
matplotlib and checked by hand, and the files the command writes or refuses to."""

from __future__ import annotations

import json

import polars as pl
import pytest

import tracer.api as accperf
from tests.test_cli import run
from tracer.plots import layer_bars, parameter_lines, pareto_front, swept_parameters
from tracer.sweep import sweep


def test_layer_bars_are_the_accelerators_layers_with_their_bound_kind():
    report = {
        "layers": [
            {"name": "a", "placement": "accelerator", "cycles": 10, "bound": "pe-bound (x)"},
            {"name": "p", "placement": "host", "cycles": None, "reason": "no vector unit"},
            {"name": "f", "placement": "fused", "cycles": None},
            {"name": "b", "placement": "accelerator", "cycles": 7, "bound": "load queue-bound"},
            {"name": "c", "placement": "accelerator", "cycles": 3, "bound": "latency-bound (y)"},
        ]
    }
    assert [(b.layer, b.cycles, b.bound) for b in layer_bars(report)] == [
        ("a", 10, "pe"),
        ("b", 7, "load queue"),
        ("c", 3, "latency"),
    ]


def test_pareto_front_keeps_what_no_point_beats_on_both_axes():
    points = [(64, 100), (64, 90), (128, 95), (128, 60), (256, 70), (512, 30), (1024, 30)]
    assert pareto_front(points) == [(64, 90), (128, 60), (512, 30)]


@pytest.fixture(scope="module")
def swept(tmp_path_factory):
    out = tmp_path_factory.mktemp("sweep") / "sweep.parquet"
    grid = {"rows": [4, 8], "cols": [4, 8]}
    return out, sweep("systolic", ["tc_resnet8"], grid, out, workers=1)


def test_parameter_lines_follow_the_parameter_per_value_of_the_others(swept):
    _, frame = swept
    assert swept_parameters(frame) == ["param.cols", "param.rows"]
    lines = parameter_lines(frame, "rows")
    assert [line.label for line in lines] == ["tc_resnet8, cols=4", "tc_resnet8, cols=8"]
    for line, cols in zip(lines, (4, 8), strict=True):
        assert line.x == [4, 8]
        for rows, cycles, utilization in zip(line.x, line.cycles, line.utilization, strict=True):
            direct = accperf.lower("tc_resnet8", "systolic", {"rows": rows, "cols": cols})
            result = accperf.analyze(direct)
            assert cycles == result.total_cycles
            # The network's: all useful MACs over the array's MACs in all its cycles.
            macs = sum(r.macs for r in result.results)
            assert utilization == pytest.approx(macs / (cycles * rows * cols))


def test_plot_writes_pictures_of_a_report_and_of_a_sweep(swept, tmp_path, capsys):
    sweep_file, _ = swept
    report = tmp_path / "r.json"
    accperf.analyze(accperf.lower("tc_resnet8", "systolic", {"rows": 4})).to_json(report)
    for source, picture, magic in (
        (report, tmp_path / "r.png", b"\x89PNG"),
        (sweep_file, tmp_path / "s.svg", b"<?xml"),
    ):
        code, out, _ = run(["plot", str(source), "-o", str(picture)], capsys)
        assert code == 0 and str(picture) in out
        assert picture.read_bytes().startswith(magic)
    # Valid images: the PNG decodes to pixels, the SVG parses as XML with an <svg> root.
    import xml.etree.ElementTree as ElementTree

    import matplotlib.image

    height, width, _ = matplotlib.image.imread(tmp_path / "r.png").shape
    assert height > 100 and width > 100
    assert ElementTree.parse(tmp_path / "s.svg").getroot().tag.endswith("svg")


@pytest.mark.parametrize(
    "source, extra, message",
    [
        ("r.json", ["-o", "r.jpg"], "give a .png or .svg file"),
        ("notes.txt", ["-o", "r.png"], "analyze --json file or a sweep"),
        ("bad.json", ["-o", "r.png"], "not JSON"),
        ("other.json", ["-o", "r.png"], "not an analyze report"),
        ("other.parquet", ["-o", "r.png"], "not a sweep results file"),
        ("text_cycles.parquet", ["-o", "r.png"], "not a sweep results file"),
        ("sweep", ["-o", "r.png", "--x", "dataflow"], "not a number"),
        ("sweep", ["-o", "r.png", "--x", "nope"], "no parameter 'nope'"),
        ("r.json", ["-o", "r.png", "--x", "rows"], "for sweeps only"),
    ],
)
def test_bad_plots_are_refused_in_one_line(swept, tmp_path, capsys, source, extra, message):
    (tmp_path / "r.json").write_text(json.dumps({"layers": []}))
    (tmp_path / "notes.txt").write_text("x")
    (tmp_path / "bad.json").write_text("{")
    (tmp_path / "other.json").write_text("[1]")
    pl.DataFrame({"a": [1]}).write_parquet(tmp_path / "other.parquet")
    # The columns a plot reads, but cycles as text: a TypeError out of polars before.
    text_cycles = swept[1].with_columns(pl.col("cycles").cast(pl.String))
    text_cycles.write_parquet(tmp_path / "text_cycles.parquet")
    path = swept[0] if source == "sweep" else tmp_path / source
    extra = [str(tmp_path / e) if e.startswith("r.") else e for e in extra]
    code, _, err = run(["plot", str(path), *extra], capsys)
    assert code == 2 and message in err and "Traceback" not in err
    assert not list(tmp_path.glob("r.png")) and not list(tmp_path.glob("r.jpg"))


def test_batch_sizes_and_accelerators_are_lines_of_their_own():
    # Two batch sizes and two accelerators in one file: a line per batch and accelerator,
    # each in order of the parameter, and no point without a value of it.
    frame = pl.DataFrame(
        {
            "row": ["total"] * 6,
            "error": [None] * 6,
            "model": ["m"] * 6,
            "accelerator": ["systolic"] * 4 + ["other"] * 2,
            "batch": [1, 2, 1, 2, 1, 1],
            "param.rows": [4, 4, 8, 8, 4, None],
            "cycles": [40, 55, 22, 30, 7, 9],
            "utilization": [0.5, 0.6, 0.4, 0.5, 0.9, 0.8],
        }
    )
    lines = parameter_lines(frame, "rows")
    assert [(line.label, line.x, line.cycles) for line in lines] == [
        ("m, accelerator=other, batch=1", [4], [7]),
        ("m, accelerator=systolic, batch=1", [4, 8], [40, 22]),
        ("m, accelerator=systolic, batch=2", [4, 8], [55, 30]),
    ]


@pytest.mark.parametrize(
    "layers",
    [["a"], [{"placement": "accelerator", "cycles": 3}], [{"name": "a", "cycles": "x"}]],
)
def test_a_report_whose_layers_are_malformed_is_one_clear_error(tmp_path, capsys, layers):
    result = tmp_path / "report.json"
    result.write_text(json.dumps({"layers": layers}))
    code, _, err = run(["plot", str(result), "-o", str(tmp_path / "p.png")], capsys)
    assert code == 2 and "layer 0 is not an analyze report's layer" in err
    assert "Traceback" not in err and not (tmp_path / "p.png").exists()


def test_a_priced_sweep_adds_the_pareto_front_of_cycles_against_energy(swept):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from tracer.plots import _sweep_figure

    _, frame = swept
    totals = frame.filter(frame["row"] == "total")
    # The rows carry the energy the API reports for the same configuration.
    direct = accperf.analyze(accperf.lower("tc_resnet8", "systolic", {"rows": 4, "cols": 8}))
    chosen = totals.filter((totals["param.rows"] == 4) & (totals["param.cols"] == 8))
    assert chosen["energy_pj"].to_list() == [pytest.approx(direct.total_energy_pj)]
    figure = _sweep_figure(plt, frame, "rows")
    labels = [axes.get_xlabel() for axes in figure.axes]
    plt.close(figure)
    assert labels == ["rows", "rows", "MAC units (peak MACs per cycle)", "energy (pJ)"]
