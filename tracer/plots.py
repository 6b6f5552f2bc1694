"""Pictures of results (`accperf-trace plot RESULT -o FILE.png|.svg`), drawn with
matplotlib (imported here only):

- an analyze JSON (`analyze --json`, docs/report-json.md): per-layer cycles as bars,
  coloured by what bounds each layer;
- a sweep Parquet (tracer/sweep.py): total cycles and utilization against a swept
  parameter, a line per model (and per value of the other swept parameters, accelerator
  and batch size), and the Pareto front of cycles against the accelerator's MAC units
  (its roofline peak), one per model, accelerator and batch size; where the rows carry
  energy (analyzer/energy.py), also the Pareto front of cycles against energy.

The data each picture shows is computed by the functions without matplotlib
(`layer_bars`, `parameter_lines`, `pareto_front`), which the tests check."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tracer.errors import UserInputError

FORMATS = (".png", ".svg")
# The columns of a sweep's file (tracer/sweep.py) the pictures read, text and numbers (a
# column that is all null reads as the Null type).
SWEEP_TEXT_COLUMNS = ("row", "model", "accelerator", "error")
SWEEP_NUMBER_COLUMNS = ("batch", "cycles", "utilization", "peak_macs_per_cycle")


class PlotError(UserInputError):
    """A result file that cannot be drawn, or a destination that cannot be written."""


@dataclass(frozen=True)
class Bar:
    layer: str
    cycles: int
    bound: str  # what bounds it: "pe", "load queue", "latency", "recurrence", ...


def layer_bars(report: dict[str, Any]) -> list[Bar]:
    """The accelerator's layers of an analyze report, in model order, with the kind of
    their bound (host and fused layers have no cycles of their own and are left out)."""
    bars = []
    for layer in report["layers"]:
        if layer.get("cycles") is None or layer.get("placement") != "accelerator":
            continue
        bound = str(layer.get("bound") or "")
        bars.append(Bar(layer["name"], int(layer["cycles"]), bound.split("-bound")[0] or "?"))
    return bars


@dataclass(frozen=True)
class Line:
    label: str  # the model, and the other swept parameters' values
    x: list[float]
    cycles: list[int]
    utilization: list[float | None]


def swept_parameters(frame: Any) -> list[str]:
    """The parameters whose values differ between the sweep's configurations."""
    totals = frame.filter(frame["row"] == "total")
    return [
        c
        for c in totals.columns
        if c.startswith("param.") and totals[c].drop_nulls().n_unique() > 1
    ]


def series_columns(totals: Any) -> list[str]:
    """What tells the sweep's series apart besides the swept parameters: the model, and
    the accelerator and batch size when the file holds several (points of different
    batches on one line would zigzag between them)."""
    return ["model"] + [
        c for c in ("accelerator", "batch") if totals[c].drop_nulls().n_unique() > 1
    ]


def parameter_lines(frame: Any, parameter: str) -> list[Line]:
    """Total cycles and utilization of every configuration that ran, against
    `parameter` (a column param.<name>), a line per model (accelerator, batch) and values
    of the other swept parameters, points in order of the parameter."""
    import polars as pl

    column = f"param.{parameter}"
    if column not in frame.columns:
        raise PlotError(f"--x {parameter}: the sweep has no parameter {parameter!r}")
    if frame[column].dtype == pl.String:
        raise PlotError(f"--x {parameter}: not a number; pick a numeric parameter")
    others = [c for c in swept_parameters(frame) if c != column]
    totals = frame.filter(
        (pl.col("row") == "total") & pl.col("error").is_null() & pl.col(column).is_not_null()
    )
    series = series_columns(totals)
    lines = []
    ordered = totals.sort([*series, *others, column], nulls_last=True)
    for key, group in ordered.group_by([*series, *others], maintain_order=True):
        label = ", ".join(
            [str(key[0])]
            + [
                f"{name.removeprefix('param.')}={value}"
                for name, value in zip([*series[1:], *others], key[1:], strict=True)
            ]
        )
        lines.append(
            Line(
                label,
                group[column].to_list(),
                group["cycles"].to_list(),
                group["utilization"].to_list(),
            )
        )
    return lines


def pareto_front(points: list[tuple[float, int]]) -> list[tuple[float, int]]:
    """The points no other beats on both axes (fewer MAC units or less energy, fewer
    cycles), by x: each has fewer cycles than every point with as much x or less."""
    front: list[tuple[float, int]] = []
    for units, cycles in sorted(points):
        if not front or cycles < front[-1][1]:
            front.append((units, cycles))
    return front


def plot(result: Path, out: Path, x: str | None = None) -> Path:
    """Draw `result` (an analyze .json or a sweep .parquet) into `out` (.png or .svg),
    written to a temporary file and renamed, so a failed run leaves an older picture."""
    if out.suffix.lower() not in FORMATS:
        raise PlotError(f"-o {out}: give a .png or .svg file")
    if not out.parent.is_dir():
        raise PlotError(f"-o {out}: folder {out.parent} does not exist")
    if not result.exists():
        raise PlotError(f"{result}: no such file")
    import matplotlib

    matplotlib.use("Agg")  # files only, whatever display there is
    import matplotlib.pyplot as plt

    if result.suffix == ".json":
        figure = _report_figure(plt, _read_report(result))
    elif result.suffix == ".parquet":
        figure = _sweep_figure(plt, _read_sweep(result), x)
    else:
        raise PlotError(f"{result}: give an analyze --json file or a sweep .parquet file")
    partial = out.with_name(f".{out.name}.partial{out.suffix}")
    try:
        figure.savefig(partial, dpi=120, bbox_inches="tight")
        partial.replace(out)
    except OSError as exc:
        partial.unlink(missing_ok=True)
        raise PlotError(f"-o {out}: cannot write it ({exc.strerror or exc})") from None
    finally:
        plt.close(figure)
    return out


def _read_report(path: Path) -> dict[str, Any]:
    try:
        report = json.loads(path.read_text())
    except OSError as exc:
        raise PlotError(f"{path}: cannot read it ({exc.strerror or exc})") from None
    except (ValueError, RecursionError):  # JSONDecodeError, UnicodeDecodeError among them
        raise PlotError(f"{path}: not JSON; give a file `analyze --json` wrote") from None
    if not isinstance(report, dict) or not isinstance(report.get("layers"), list):
        raise PlotError(f"{path}: not an analyze report (no layers); see docs/report-json.md")
    for number, layer in enumerate(report["layers"]):
        # What layer_bars reads; anything else in a hand-edited file is one clear error.
        if not (
            isinstance(layer, dict)
            and isinstance(layer.get("name"), str)
            and (layer.get("cycles") is None or _is_cycle_count(layer["cycles"]))
        ):
            raise PlotError(
                f"{path}: layer {number} is not an analyze report's layer (a name, and "
                "integer cycles from 0 to 2**63 - 1, or null); see docs/report-json.md"
            )
    return report


def _is_cycle_count(value: object) -> bool:
    # The engine's counts are int64: a larger one is a hand-edited file, and matplotlib
    # would fail converting it to a float.
    return type(value) is int and 0 <= value < 2**63


def _read_sweep(path: Path) -> Any:
    import polars as pl

    try:
        frame = pl.read_parquet(path)
    except Exception as exc:  # polars raises several kinds for a damaged file
        raise PlotError(f"{path}: not a readable Parquet file ({type(exc).__name__})") from None

    def holds(column: str, numbers: bool) -> bool:
        kind = frame.schema.get(column)
        if kind is None or kind == pl.Null:
            return kind is not None
        return kind.is_numeric() if numbers else kind == pl.String

    if not (
        all(holds(c, numbers=False) for c in SWEEP_TEXT_COLUMNS)
        and all(holds(c, numbers=True) for c in SWEEP_NUMBER_COLUMNS)
    ):
        raise PlotError(f"{path}: not a sweep results file; `accperf-trace sweep` writes one")
    return frame


def _report_figure(plt: Any, report: dict[str, Any]) -> Any:
    bars = layer_bars(report)
    if not bars:
        raise PlotError("the report has no layer timed on the accelerator; nothing to draw")
    kinds = sorted({bar.bound for bar in bars})
    colours = {kind: plt.get_cmap("tab10")(k % 10) for k, kind in enumerate(kinds)}
    figure, axes = plt.subplots(figsize=(max(6, 0.18 * len(bars) + 2), 4))
    axes.bar(
        range(len(bars)),
        [bar.cycles for bar in bars],
        color=[colours[bar.bound] for bar in bars],
    )
    axes.set_xticks(range(len(bars)), [bar.layer for bar in bars], rotation=90, fontsize=6)
    axes.set_ylabel("cycles")
    axes.set_title(
        f"{report.get('model')} on {report.get('accelerator')}: "
        f"{sum(bar.cycles for bar in bars):,} cycles"
    )
    for kind in kinds:
        axes.bar([0], [0], color=colours[kind], label=f"{kind}-bound")
    axes.legend(fontsize=7)
    figure.tight_layout()
    return figure


def _sweep_figure(plt: Any, frame: Any, x: str | None) -> Any:
    swept = swept_parameters(frame)
    numeric = [c for c in swept if frame[c].dtype.is_integer()]
    if x is None:
        if not numeric:
            raise PlotError("the sweep varies no numeric parameter; nothing to plot against")
        x = numeric[0].removeprefix("param.")
    lines = parameter_lines(frame, x)
    if not lines:
        raise PlotError("no configuration of the sweep ran; nothing to draw")
    # Sweeps of a priced accelerator also trade cycles against energy (issue 18).
    priced = "energy_pj" in frame.columns and frame["energy_pj"].drop_nulls().len() > 0
    figure, panels = plt.subplots(1, 3 + priced, figsize=(15 + 5 * priced, 4.5))
    cycles_axes, util_axes, pareto_axes = panels[:3]
    for line in lines:
        cycles_axes.plot(line.x, line.cycles, marker="o", label=line.label)
        util_axes.plot(
            line.x, [u if u is not None else float("nan") for u in line.utilization], marker="o"
        )
    for axes, label in ((cycles_axes, "total cycles"), (util_axes, "utilization")):
        axes.set_xlabel(x)
        axes.set_ylabel(label)
    cycles_axes.set_yscale("log")
    cycles_axes.legend(fontsize=7)
    _pareto(pareto_axes, frame, "peak_macs_per_cycle", "MAC units (peak MACs per cycle)")
    if priced:
        _pareto(panels[3], frame, "energy_pj", "energy (pJ)")
    figure.tight_layout()
    return figure


def _pareto(axes: Any, frame: Any, column: str, axis_label: str) -> None:
    """Total cycles against `column` of the totals, with each series' Pareto front."""
    import polars as pl

    totals = frame.filter(
        (pl.col("row") == "total") & pl.col("error").is_null() & pl.col(column).is_not_null()
    )
    series = series_columns(totals)
    for key, group in totals.group_by(series, maintain_order=True):
        points = list(zip(group[column], group["cycles"], strict=True))
        axes.scatter(*zip(*points, strict=True), s=12, alpha=0.5)
        front = pareto_front(points)
        label = ", ".join(
            [str(key[0])] + [f"{n}={v}" for n, v in zip(series[1:], key[1:], strict=True)]
        )
        axes.plot(*zip(*front, strict=True), marker="o", label=f"{label} (Pareto front)")
    axes.set_xlabel(axis_label)
    axes.set_ylabel("total cycles")
    axes.set_xscale("log")
    axes.set_yscale("log")
    axes.legend(fontsize=7)
