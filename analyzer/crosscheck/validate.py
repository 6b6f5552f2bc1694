"""Validate accperf against SCALE-Sim layer by layer: same topology, same configuration.

Each accperf layer becomes the SCALE-Sim topology rows whose cycles add up to it
(isa.systolic.mapping.scalesim_rows: one per conv group or matmul product, since SCALE-Sim has
neither) and runs in the installed scalesim (analyzer.crosscheck.scalesim_bridge, its own venv, a
temporary folder deleted afterwards). Cycle counts are compared as counts: SCALE-Sim's
"Total Cycles" is the index of the last cycle, so a row's cycle count with stalls is that
plus one, and its stall-free compute cycles are its demand-matrix rows
(analyzer/crosscheck/scalesim_runner.py says where each comes from).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from analyzer.crosscheck.scalesim_bridge import run_scalesim
from analyzer.engine.evaluate import Evaluation
from isa.program import Program
from isa.systolic.mapping import scalesim_rows
from tracer.errors import MappingError
from tracer.workloads.layers import Model


@dataclass(frozen=True)
class LayerComparison:
    name: str
    accperf_cycles: int  # DRAM stalls included
    accperf_stall_cycles: int  # of those, waiting on DRAM (the memory side)
    scalesim_compute_cycles: int
    scalesim_total_cycles: int
    scalesim_stall_cycles: int
    scalesim_rows: int
    accperf_seconds: float
    scalesim_seconds: float

    @property
    def error(self) -> float:
        """Signed relative error of accperf's cycles against SCALE-Sim's, both with stalls."""
        return (self.accperf_cycles - self.scalesim_total_cycles) / self.scalesim_total_cycles

    @property
    def accperf_compute_cycles(self) -> int:
        return self.accperf_cycles - self.accperf_stall_cycles

    @property
    def compute_error(self) -> float:
        """The same without stalls on either side: accperf's compute cycles against
        SCALE-Sim's (its cycles with stalls against SCALE-Sim's without would compare a
        memory-bound layer's total with its compute part)."""
        return (
            self.accperf_compute_cycles - self.scalesim_compute_cycles
        ) / self.scalesim_compute_cycles


@dataclass
class Validation:
    model: str
    accelerator: str
    parameters: dict[str, int | str]
    scalesim_version: str = ""
    layers: list[LayerComparison] = field(default_factory=list)
    not_compared: list[str] = field(default_factory=list)  # layers SCALE-Sim does not run

    def total(self, attribute: str) -> float:
        return sum(getattr(layer, attribute) for layer in self.layers)

    def mape(self, compute: bool = False) -> float:
        """Mean absolute percentage error over layers, of the cycles with stalls or (with
        `compute`) of the compute cycles, stalls left out on both sides."""
        errors = [abs(c.compute_error if compute else c.error) for c in self.layers]
        return 100 * sum(errors) / len(errors) if errors else 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "accelerator": self.accelerator,
            "parameters": self.parameters,
            "reference": f"scalesim {self.scalesim_version}",
            "layers": [
                {
                    "name": c.name,
                    "accperf_cycles": c.accperf_cycles,
                    "accperf_stall_cycles": c.accperf_stall_cycles,
                    "scalesim_compute_cycles": c.scalesim_compute_cycles,
                    "scalesim_total_cycles": c.scalesim_total_cycles,
                    "scalesim_stall_cycles": c.scalesim_stall_cycles,
                    "scalesim_rows": c.scalesim_rows,
                    "error": c.error,
                    "accperf_seconds": c.accperf_seconds,
                    "scalesim_seconds": c.scalesim_seconds,
                }
                for c in self.layers
            ],
            "not_compared": self.not_compared,
            "totals": {
                "accperf_cycles": self.total("accperf_cycles"),
                "accperf_stall_cycles": self.total("accperf_stall_cycles"),
                "scalesim_compute_cycles": self.total("scalesim_compute_cycles"),
                "scalesim_total_cycles": self.total("scalesim_total_cycles"),
                "scalesim_stall_cycles": self.total("scalesim_stall_cycles"),
                "accperf_seconds": self.total("accperf_seconds"),
                "scalesim_seconds": self.total("scalesim_seconds"),
            },
            "mape_percent": self.mape(),
            "mape_compute_percent": self.mape(compute=True),
        }


SCALESIM_ISAS = ("systolic",)


_SCALESIM_PARAMETERS = (
    "rows",
    "cols",
    "dataflow",
    "ifmap_sram_kib",
    "filter_sram_kib",
    "ofmap_sram_kib",
    "bandwidth",
)


def base_request(p: Mapping[str, int | str], accelerator: str = "systolic") -> dict[str, Any]:
    """A SCALE-Sim request for an accelerator's resolved parameters, without layers."""
    missing = [name for name in _SCALESIM_PARAMETERS if name not in p]
    if missing:
        raise MappingError(
            f"accelerator {accelerator!r} lacks the parameter(s) {', '.join(missing)} "
            "that a SCALE-Sim configuration needs; declare them in its description"
        )
    return {
        "rows": int(p["rows"]),
        "cols": int(p["cols"]),
        "dataflow": str(p["dataflow"]),
        "ifmap_sram_kib": int(p["ifmap_sram_kib"]),
        "filter_sram_kib": int(p["filter_sram_kib"]),
        "ofmap_sram_kib": int(p["ofmap_sram_kib"]),
        "bandwidth": int(p["bandwidth"]),
    }


def compare_with_scalesim(
    program: Program,
    model: Model,
    on_layer: Callable[[LayerComparison], None] | None = None,
    timeout_s: float = 3600,
) -> Validation:
    """Evaluate each layer (fast mode, after a JIT warm-up) and run SCALE-Sim on it."""
    base = base_request(program.parameters, program.accelerator)
    by_name = {layer.name: layer for layer in model.layers}
    rows = {layer.name: scalesim_rows(by_name[layer.name]) for layer in program.layers}
    validation = Validation(model.name, program.accelerator, dict(program.parameters))
    validation.not_compared = [host.name for host in program.host_layers]
    # No reuse of identical layers nor remembered loops of earlier layers: each layer's
    # time is what evaluating it takes, as SCALE-Sim's is what simulating it takes.
    evaluation = Evaluation(program, "fast", reuse_layers=False, remember_loops=False)
    if program.layers:
        evaluation.layer(program.layers[0])  # JIT warm-up, not timed
    for layer in program.layers:
        started = time.perf_counter()
        ours = evaluation.layer(layer)
        ours_seconds = time.perf_counter() - started
        result = run_scalesim({**base, "layers": rows[layer.name]}, timeout_s=timeout_s)
        validation.scalesim_version = str(result["scalesim_version"])
        theirs = result["layers"]
        comparison = LayerComparison(
            name=layer.name,
            accperf_cycles=ours.cycles,
            accperf_stall_cycles=ours.stall_cycles,
            scalesim_compute_cycles=sum(int(r["demand_rows"]) for r in theirs),
            scalesim_total_cycles=sum(int(r["total_cycles"]) + 1 for r in theirs),
            scalesim_stall_cycles=sum(int(r["stall_cycles"]) for r in theirs),
            scalesim_rows=len(theirs),
            accperf_seconds=ours_seconds,
            scalesim_seconds=sum(float(r["wall_seconds"] or 0.0) for r in theirs),
        )
        validation.layers.append(comparison)
        if on_layer is not None:
            on_layer(comparison)
    return validation


def check_comparable(program: Program, isa: str, model: Model) -> None:
    """Refuse what SCALE-Sim cannot run (another accelerator family, a layer its topology
    cannot express) before anyone looks for SCALE-Sim, so the error does not depend on
    whether it is installed."""
    if isa not in SCALESIM_ISAS:
        raise MappingError(
            f"accelerator {program.accelerator!r} (isa {isa}) has no SCALE-Sim counterpart; "
            f"SCALE-Sim models the systolic array (isa {', '.join(SCALESIM_ISAS)})"
        )
    by_name = {layer.name: layer for layer in model.layers}
    for layer in program.layers:
        scalesim_rows(by_name[layer.name])
