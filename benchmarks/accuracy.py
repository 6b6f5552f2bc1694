"""The accuracy table of docs/accuracy.md: accperf, roofline and regression against SCALE-Sim.

    .venv/bin/python benchmarks/accuracy.py --run [--cache DIR] [CONFIG ...]

CONFIG is model:size:dataflow:bandwidth (default: resnet50 and mobilenet_v2 at 32x32 and
128x128, ws and os, unlimited bandwidth and 10 words/cycle). For each, SCALE-Sim's per-layer
results are read from DIR/<model>_<size>_<dataflow>_bw<bandwidth>.json, the JSON that
`accperf-trace validate --against scalesim --json` writes; with --run, configurations
without one are simulated first (SCALE-Sim takes minutes to an hour per configuration).
Failing that, DIR/<same name>.jsonl, the per-shape results of benchmarks/scalesim_shapes.py
(bandwidth-limited SCALE-Sim runs take hours per network), covers the layers whose shape
it has; the layers column says how many of the model's array layers that is.
Every number in the table is computed here from those results:
  accperf     MAPE of accperf's cycles (evaluated now, by the code as it is) against
              SCALE-Sim's total cycles (stalls included);
  roofline    MAPE of analyzer.baselines.roofline on the same layers and configuration;
  regression  MAPE of the log-linear regression, each layer predicted from a fit to
              SCALE-Sim's cycles of the model's other layers (leave one out).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
from scalesim_shapes import read_shapes, shape_key

from accelerators.catalog import find_accelerator
from analyzer.crosscheck.baselines import feature_row, leave_one_out, roofline
from analyzer.crosscheck.validate import compare_with_scalesim
from analyzer.engine.evaluate import evaluate_program
from isa.systolic.mapping import is_gemm, scalesim_rows
from tracer.errors import UserInputError
from tracer.lowering import lower_workload
from tracer.workloads.layers import Model
from tracer.workloads.loading import load_model

DEFAULT_CONFIGS = [
    f"{model}:{size}:{dataflow}:{bandwidth}"
    for model in ("resnet50", "mobilenet_v2")
    for size in (32, 128)
    for dataflow in ("ws", "os")
    for bandwidth in (0, 10)
]


def _mape(predicted: np.ndarray, reference: np.ndarray) -> float:
    return float(100 * np.mean(np.abs(predicted - reference) / reference))


def _from_shapes(shapes: dict[str, dict], model: Model) -> dict:
    """The parts of a validate JSON that the table needs, from per-shape results: one entry
    per layer whose shape has been simulated (a layer of g groups is g SCALE-Sim layers)."""
    layers = []
    for layer in model.layers:
        if not is_gemm(layer):
            continue
        rows = scalesim_rows(layer)
        entry = shapes.get(shape_key(rows[0]))
        if entry is None:
            continue
        total = (int(entry["result"]["total_cycles"]) + 1) * len(rows)
        seconds = float(entry["result"]["wall_seconds"] or 0.0) * len(rows)
        layers.append({"name": layer.name, "scalesim_total_cycles": total, "seconds": seconds})
    return {
        "layers": layers,
        "totals": {"scalesim_seconds": sum(e["seconds"] for e in layers)},
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("configs", nargs="*", default=DEFAULT_CONFIGS)
    parser.add_argument("--cache", type=Path, default=Path("benchmarks/results"))
    parser.add_argument("--run", action="store_true", help="simulate missing configurations")
    args = parser.parse_args()
    args.cache.mkdir(parents=True, exist_ok=True)
    print(
        "| model | array | dataflow | bandwidth | layers | accperf MAPE | roofline MAPE "
        "| regression MAPE | SCALE-Sim time |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for config in args.configs:
        model_name, size, dataflow, bandwidth = config.split(":")
        params = {"rows": size, "cols": size, "dataflow": dataflow, "bandwidth": bandwidth}
        label = "unlimited" if bandwidth == "0" else f"{bandwidth} words/cycle"
        try:
            accelerator = find_accelerator("systolic").resolve(params)
            model = load_model(model_name)
            program = lower_workload(accelerator, model)
        except UserInputError as exc:
            print(f"| {model_name} | {size}x{size} | {dataflow} | {label} | {exc} | | | | |")
            continue
        cache = args.cache / f"{model_name}_{size}_{dataflow}_bw{bandwidth}.json"
        shapes = cache.with_suffix(".jsonl")
        if not cache.exists() and shapes.exists():
            # Per-shape results (benchmarks/scalesim_shapes.py), possibly not every shape yet.
            result = _from_shapes(read_shapes(shapes), model)
            if not result["layers"]:
                print(f"| {model_name} | {size}x{size} | {dataflow} | {label} | no shape yet |")
                continue
        elif not cache.exists():
            if not args.run:
                print(
                    f"| {model_name} | {size}x{size} | {dataflow} | {label} | "
                    "not simulated: run with --run | | | | |"
                )
                continue
            print(f"simulating {config} with SCALE-Sim ...", file=sys.stderr, flush=True)
            cache.write_text(json.dumps(compare_with_scalesim(program, model).as_dict()))
        if cache.exists():
            result = json.loads(cache.read_text())
        layers = {layer.name: layer for layer in program.layers}
        reference = np.array([e["scalesim_total_cycles"] for e in result["layers"]], float)
        # accperf's cycles come from the code as it is now, not from the cached run.
        cycles = {result.name: result.cycles for result in evaluate_program(program, "fast")}
        ours = np.array([cycles[e["name"]] for e in result["layers"]], float)
        mappings = [layers[e["name"]].mapping for e in result["layers"]]
        macs = [layers[e["name"]].macs for e in result["layers"]]
        assert program.roofline is not None
        roof = np.array(
            [
                roofline(
                    mac,
                    int(m["dram_words"]),
                    program.roofline["peak_macs_per_cycle"],
                    program.roofline["dram_words_per_cycle"],
                ).cycles
                for m, mac in zip(mappings, macs, strict=True)
            ]
        )
        features = np.array(
            [feature_row({**m, "macs": mac}) for m, mac in zip(mappings, macs, strict=True)]
        )
        regression = leave_one_out(features, reference)
        totals = result["totals"]
        covered = f"{len(reference)} of {len(program.layers)}"
        print(
            f"| {model_name} | {size}x{size} | {dataflow} | {label} | {covered} | "
            f"{_mape(ours, reference):.2f}% | {_mape(roof, reference):.1f}% | "
            f"{_mape(regression, reference):.1f}% | {totals['scalesim_seconds']:,.0f} s |",
            flush=True,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
