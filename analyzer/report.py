"""Per-layer reports: a rich table for people, JSON for machines."""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.table import Table

from accelerators.description import CLOCK_PARAMETER
from analyzer.actions import LayerActions
from analyzer.energy import EnergyTable, layer_energy
from analyzer.traffic_report import (
    actions_entry,
    energy_table_entry,
    energy_text,
    total_actions,
)
from isa.program import HostLayer, Program, placement_counts
from tracer.errors import UserInputError

if TYPE_CHECKING:  # not at run time: `lower` reports layer counts without the engine
    from analyzer.crosscheck.baselines import LayerBaselines
    from analyzer.engine.evaluate import LayerResult


def utilization(result: LayerResult, program: Program) -> float | None:
    """Useful MACs per cycle over the peak (the roofline's MACs per cycle, e.g. DIM^2 on
    Gemmini; else one per PE), where the description says what the peak is."""
    if program.roofline is not None:
        peak = program.roofline.get("peak_macs_per_cycle", 0)
    else:
        peak = program.units.get("pe", 0)
    if not peak or not result.cycles:
        return None
    return result.macs / (result.cycles * peak)


def idle_instances(result: LayerResult, program: Program) -> int:
    """Instances of the busiest unit's kind that do no useful work in the layer.

    A mapping that spreads the GEMM's `spatial_rows` over the array's `rows` and its
    `spatial_cols` over its `cols` (the systolic family's, docs/report-json.md) says more
    than the instructions: every PE steps in every fold (padded, as SCALE-Sim pads edge
    folds), but only the min(Sr, rows) x min(Sc, cols) corner ever holds data; a depthwise
    3x3 conv (Sr 9, Sc 1) keeps 9 PEs of a 32x32 array working. Elsewhere: the instances
    that run no instruction."""
    bound = result.bound
    sizes = (
        result.mapping.get("spatial_rows"),
        result.mapping.get("spatial_cols"),
        program.parameters.get("rows"),
        program.parameters.get("cols"),
    )
    if bound.unit != "pe" or not all(isinstance(size, int) for size in sizes):
        return bound.unused
    spatial_rows, spatial_cols, rows, cols = (int(size) for size in sizes)  # type: ignore[arg-type]
    return bound.instances - min(spatial_rows, rows) * min(spatial_cols, cols)


def bound_text(result: LayerResult, program: Program) -> str:
    """What bounds a layer; waiting on DRAM for most of its cycles outranks the array."""
    if result.cycles and 2 * result.stall_cycles >= result.cycles:
        return f"DRAM-bound (stalls {100 * result.stall_cycles / result.cycles:.0f}%)"
    return result.bound.describe(idle_instances(result, program))


def clock_khz(program: Program) -> int | None:
    """The clock a description declares (accelerators/description.py CLOCK_PARAMETER), for
    latencies in milliseconds; None when it declares none."""
    value = program.parameters.get(CLOCK_PARAMETER)
    return value if isinstance(value, int) and value > 0 else None


def milliseconds(cycles: int, clock: int) -> float:
    return cycles / clock  # kHz: cycles per millisecond


def layer_counts(program: Program) -> str:
    """How many layers a model has and where they run, as `lower` and `analyze` say it."""
    on_host, fused = placement_counts(program.host_layers)
    total = len(program.layers) + len(program.host_layers)
    where = [f"{len(program.layers):,} on the accelerator"]
    if on_host:
        where.append(f"{on_host:,} on the host (not timed)")
    if fused:
        where.append(f"{fused:,} fused into another layer")
    return f"{total:,} {'layer' if total == 1 else 'layers'}: {', '.join(where)}"


def print_titled(console: Console, title: str, table: Table) -> None:
    """A table under its title, printed as a line of its own: a rich Table's title wraps
    at the table's width, mid-phrase."""
    console.print(title, markup=False, highlight=False, soft_wrap=True)
    console.print(table)


def in_model_order(
    program: Program, results: list[LayerResult]
) -> Iterator[LayerResult | HostLayer]:
    """The evaluated layers and the host layers, merged back into the model's order."""
    hosts = {host.position: host for host in program.host_layers}
    evaluated = iter(results)
    for position in range(len(results) + len(hosts)):
        yield hosts[position] if position in hosts else next(evaluated)


def _host_entry(host: HostLayer) -> dict[str, Any]:
    return {
        "name": host.name,
        "kind": host.kind,
        "placement": host.placement,
        "cycles": None,
        "operations": host.operations,
        "reason": host.reason,
    }


def _baseline_entry(baseline: LayerBaselines, cycles: int) -> dict[str, Any]:
    def error(predicted: float | None) -> float | None:
        return None if predicted is None else (predicted - cycles) / cycles

    return {
        "roofline_cycles": baseline.roofline_cycles,
        "roofline_bound": baseline.roofline_bound,
        "roofline_error": error(baseline.roofline_cycles),
        "regression_cycles": baseline.regression_cycles,
        "regression_error": error(baseline.regression_cycles),
        "analytical_cycles": baseline.analytical_cycles,
        "analytical_error": error(baseline.analytical_cycles),
    }


def report_dict(
    program: Program,
    results: list[LayerResult],
    mode: str,
    seconds: float,
    baselines: list[LayerBaselines] | None = None,
    energy: EnergyTable | None = None,
) -> dict[str, Any]:
    """The report as JSON-ready data; `baselines` (one per result) adds their predictions
    and their errors relative to accperf's cycles, `energy` prices the actions."""
    by_name = (
        {} if baselines is None else dict(zip([r.name for r in results], baselines, strict=True))
    )
    clock = clock_khz(program)
    total = sum(r.cycles for r in results)
    per_action = None if energy is None else energy.per_action(program)
    totals = total_actions(results)
    return {
        "model": program.model,
        "accelerator": program.accelerator,
        "parameters": program.parameters,
        "mode": mode,
        "total_cycles": total,
        **({} if clock is None else {"total_milliseconds": milliseconds(total, clock)}),
        "total_macs": sum(r.macs for r in results),
        "total_instructions": sum(r.instructions for r in results),
        "evaluated_instructions": sum(r.evaluated_instructions for r in results),
        "analysis_seconds": seconds,
        **({} if totals is None else {"total": actions_entry(totals, total, per_action)}),
        **({} if energy is None else {"energy_table": energy_table_entry(energy, program)}),
        "host_layers": len(program.host_layers),
        "layers": [
            _host_entry(r)
            if isinstance(r, HostLayer)
            else {
                "name": r.name,
                "kind": r.kind,
                "placement": "accelerator",
                "cycles": r.cycles,
                **({} if clock is None else {"milliseconds": milliseconds(r.cycles, clock)}),
                "dram_stall_cycles": r.stall_cycles,
                "instructions": r.instructions,
                "evaluated_instructions": r.evaluated_instructions,
                "evaluated_iterations": r.evaluated_iterations,
                "reused_from": r.reused_from,
                "iterations": r.iterations,
                "macs": r.macs,
                "utilization": utilization(r, program),
                "bound": bound_text(r, program),
                "busiest_unit": r.bound.unit,
                "busiest_unit_instance": r.bound.instance,
                "busiest_unit_cycles": r.bound.busy_cycles,
                "idle_instances": idle_instances(r, program),
                "recurrence_cycles": r.bound.recurrence_cycles,
                "recurrence_loop": r.bound.recurrence_loop or None,
                "recurrence_cycles_per_iteration": (
                    None if r.bound.recurrence_ratio is None else str(r.bound.recurrence_ratio)
                ),
                "mapping": r.mapping,
                **({} if r.actions is None else actions_entry(r.actions, r.cycles, per_action)),
                **(
                    {"baselines": _baseline_entry(by_name[r.name], r.cycles)}
                    if r.name in by_name
                    else {}
                ),
            }
            for r in in_model_order(program, results)
        ],
    }


def check_json_destination(path: Path, reads: Iterable[Path] = ()) -> None:
    """`reads`: the files the command reads, which its report must not replace."""
    if path.resolve() in {read.resolve() for read in reads}:
        raise UserInputError(
            f"--json {path}: is a file this command reads; give another file for the report"
        )
    if not path.parent.is_dir():
        raise UserInputError(
            f"--json {path}: folder {path.parent} does not exist (or is a file); create it first"
        )
    if path.is_dir():
        raise UserInputError(f"--json {path}: is a folder; give a file name such as out.json")


def write_json(path: Path, payload: dict[str, Any]) -> None:
    """Write atomically; a bad destination is the user's to fix, not a traceback."""
    check_json_destination(path)
    try:
        text = json.dumps(payload, indent=2, allow_nan=False) + "\n"
    except ValueError:
        raise UserInputError(
            f"--json {path}: the report holds an infinite or undefined number, which JSON "
            "cannot (prices given with --energy, for one, can overflow)"
        ) from None
    staging = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        staging.write_text(text)
        os.replace(staging, path)
    except OSError as exc:
        staging.unlink(missing_ok=True)
        raise UserInputError(f"--json {path}: cannot write ({exc.strerror or exc})") from None


def _count(n: int) -> str:
    for unit, size in (("G", 10**9), ("M", 10**6), ("k", 10**3)):
        if n >= size:
            return f"{n / size:.2f}{unit}"
    return str(n)


def _predicted(cycles: float | None, actual: int) -> str:
    if cycles is None:
        return "-"
    return f"{cycles:,.0f} ({100 * (cycles - actual) / actual:+.0f}%)"


def _cycles_apart(cycles: float | None, actual: int) -> str:
    """A prediction near accperf's, with the difference in cycles (the analytical model's
    differences are a few cycles of fill and drain, docs/accuracy.md)."""
    if cycles is None:
        return "-"
    return f"{cycles:,.0f} ({cycles - actual:+,.0f})"


def print_table(
    console: Console,
    program: Program,
    results: list[LayerResult],
    mode: str,
    seconds: float,
    baselines: list[LayerBaselines] | None = None,
    energy: EnergyTable | None = None,
) -> None:
    """The per-layer table; with `baselines`, also their predictions and, where `energy`
    prices the actions, each layer's energy and energy-delay product beside them."""
    total = sum(r.cycles for r in results)
    clock = clock_khz(program)
    per_action = energy.per_action(program) if energy is not None and baselines else None
    analytical = bool(baselines) and any(b.analytical_cycles is not None for b in baselines or [])
    # A memory side (isa/systolic/memory_side.py) shows how much of each layer is waiting on DRAM.
    stalled = any(r.stall_cycles for r in results)
    params = ", ".join(f"{k}={v}" for k, v in program.parameters.items())
    title = f"{program.model} on {program.accelerator} ({params}) - {mode} evaluation"
    table = Table()
    for name, justify in [
        ("layer", "left"),
        ("cycles", "right"),
        *([("ms", "right")] if clock else []),
        ("share", "right"),
        *([("DRAM stalls", "right")] if stalled else []),
        ("MACs", "right"),
        ("instr", "right"),
        ("evaluated iter", "right"),
        ("util", "right"),
        ("bound", "left"),
        *([("roofline", "right"), ("regression", "right")] if baselines else []),
        *([("analytical", "right")] if analytical else []),
        *([("energy", "right"), ("EDP (pJ x cycles)", "right")] if per_action else []),
    ]:
        table.add_column(name, justify=justify)  # type: ignore[arg-type]
    by_name = (
        {} if baselines is None else dict(zip([r.name for r in results], baselines, strict=True))
    )
    extra = (2 if baselines else 0) + analytical + (2 if per_action else 0)

    def energy_cells(actions: LayerActions | None, cycles: int) -> list[str]:
        if per_action is None:
            return []
        if actions is None:
            return ["-", "-"]
        pj = sum(layer_energy(actions, per_action).values())
        return [energy_text(pj), f"{pj * cycles:.3g}"]

    for r in in_model_order(program, results):
        if isinstance(r, HostLayer):
            table.add_row(
                r.name,
                r.placement,
                *[""] * (5 + stalled + bool(clock)),
                f"[dim]{r.reason}[/dim]",
                *[""] * extra,
            )
            continue
        util = utilization(r, program)
        table.add_row(
            r.name,
            f"{r.cycles:,}",
            *([f"{milliseconds(r.cycles, clock):.3f}"] if clock else []),
            f"{100 * r.cycles / max(total, 1):.1f}%",
            *([f"{r.stall_cycles:,}"] if stalled else []),
            _count(r.macs),
            _count(r.instructions),
            f"= {r.reused_from}"
            if r.reused_from
            else f"{r.evaluated_iterations:,} / {_count(r.iterations)}",
            "-" if util is None else f"{100 * util:.0f}%",
            bound_text(r, program),
            *(
                [
                    _predicted(by_name[r.name].roofline_cycles, r.cycles),
                    _predicted(by_name[r.name].regression_cycles, r.cycles),
                ]
                if baselines
                else []
            ),
            *([_cycles_apart(by_name[r.name].analytical_cycles, r.cycles)] if analytical else []),
            *energy_cells(r.actions, r.cycles),
        )
    macs = sum(r.macs for r in results)
    instructions = sum(r.instructions for r in results)
    evaluated = sum(r.evaluated_instructions for r in results)
    table.add_section()
    table.add_row(
        "total",
        f"{total:,}",
        *([f"{milliseconds(total, clock):.3f}"] if clock else []),
        "100%",
        *([f"{sum(r.stall_cycles for r in results):,}"] if stalled else []),
        _count(macs),
        _count(instructions),
        f"{sum(r.evaluated_iterations for r in results):,} / "
        f"{_count(sum(r.iterations for r in results))}",
        "",
        "",
        *[""] * (extra - (2 if per_action else 0)),
        *energy_cells(total_actions(results), total),
    )
    print_titled(console, title, table)
    at_clock = f" ({milliseconds(total, clock):,.3f} ms at {clock:,} kHz)" if clock else ""
    console.print(
        f"{layer_counts(program)}; {total:,} cycles{at_clock}; evaluated {evaluated:,} of "
        f"{instructions:,} instructions ({100 * evaluated / max(instructions, 1):.4f}%) "
        f"in {seconds:.3f} s"
    )
