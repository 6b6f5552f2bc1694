"""`accperf-trace validate`'s report: accperf against SCALE-Sim, layer by layer."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from analyzer.crosscheck.validate import Validation
from analyzer.report import print_titled


def print_validation(console: Console, validation: Validation) -> None:
    """The validate table: per layer accperf's cycles beside SCALE-Sim's, then the MAPE."""
    params = ", ".join(f"{k}={v}" for k, v in validation.parameters.items())
    # Like with like: cycles with stalls against cycles with stalls, and, where either
    # side stalls, the stall cycles of each and the compute cycles' error as well.
    stalled = any(c.accperf_stall_cycles or c.scalesim_stall_cycles for c in validation.layers)
    table = Table()
    columns = ["layer", "accperf", "SCALE-Sim", "error"]
    if stalled:
        columns += ["accperf stalls", "SCALE-Sim stalls", "compute error"]
    for column in (*columns, "accperf time", "SCALE-Sim time"):
        table.add_column(column, justify="left" if column == "layer" else "right")
    for c in validation.layers:
        table.add_row(
            c.name,
            f"{c.accperf_cycles:,}",
            f"{c.scalesim_total_cycles:,}",
            f"{100 * c.error:+.2f}%",
            *(
                [
                    f"{c.accperf_stall_cycles:,}",
                    f"{c.scalesim_stall_cycles:,}",
                    f"{100 * c.compute_error:+.2f}%",
                ]
                if stalled
                else []
            ),
            f"{1e3 * c.accperf_seconds:.1f} ms",
            f"{c.scalesim_seconds:.2f} s",
        )
    table.add_section()
    accperf_s, scalesim_s = (
        validation.total("accperf_seconds"),
        validation.total("scalesim_seconds"),
    )
    table.add_row(
        "total",
        f"{validation.total('accperf_cycles'):,.0f}",
        f"{validation.total('scalesim_total_cycles'):,.0f}",
        "",
        *(
            [
                f"{validation.total('accperf_stall_cycles'):,.0f}",
                f"{validation.total('scalesim_stall_cycles'):,.0f}",
                "",
            ]
            if stalled
            else []
        ),
        f"{1e3 * accperf_s:.1f} ms",
        f"{scalesim_s:.2f} s",
    )
    print_titled(
        console,
        f"{validation.model} on {validation.accelerator} ({params}) against SCALE-Sim "
        f"{validation.scalesim_version}: cycles with DRAM stalls (SCALE-Sim's Total Cycles + 1)",
        table,
    )
    if validation.not_compared:
        console.print(
            f"not compared (SCALE-Sim does not run them either): "
            f"{len(validation.not_compared)} pooling/element-wise layers"
        )
    compute = (
        f"; of the compute cycles (stalls left out on both sides): "
        f"{validation.mape(compute=True):.2f}%"
        if stalled
        else ""
    )
    console.print(
        f"MAPE against SCALE-Sim's cycles with stalls: {validation.mape():.2f}%{compute}; "
        f"{len(validation.layers)} {'layer' if len(validation.layers) == 1 else 'layers'}; "
        "SCALE-Sim took "
        f"{scalesim_s / max(accperf_s, 1e-9):,.0f}x as long"
    )
