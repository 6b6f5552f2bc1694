"""SCALE-Sim reference results per distinct layer shape, appended as JSON lines.

    .venv/bin/python benchmarks/scalesim_shapes.py MODEL SIZE DATAFLOW BANDWIDTH [--out FILE]

Runs the installed SCALE-Sim (analyzer/crosscheck/scalesim_bridge.py) on each distinct SCALE-Sim
topology row of MODEL on a SIZE x SIZE array with the systolic description's default
SRAM sizes. SCALE-Sim starts every layer with empty SRAMs, so layers of one shape have
one result, and a conv with g groups is g identical rows: one simulation stands for all.
At a finite bandwidth SCALE-Sim takes minutes per ResNet-50 layer, so results are
appended one line per shape (FILE defaults to
benchmarks/results/<model>_<size>_<dataflow>_bw<bandwidth>.jsonl) and a rerun skips
shapes already in the file: an interrupted run loses at most one shape.
benchmarks/accuracy.py reads the file.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from accelerators.catalog import find_accelerator
from analyzer.crosscheck.scalesim_bridge import run_scalesim
from analyzer.crosscheck.validate import base_request
from isa.systolic.mapping import ScaleSimTopologyRow, is_gemm, scalesim_rows
from tracer.workloads.loading import load_model


def shape_key(row: ScaleSimTopologyRow) -> str:
    """A topology row without its name: what SCALE-Sim's result depends on."""
    return json.dumps({k: v for k, v in row.items() if k != "name"}, sort_keys=True)


def read_shapes(path: Path) -> dict[str, dict]:
    """shape key -> that shape's line of a results file (empty if there is no file)."""
    if not path.exists():
        return {}
    return {entry["key"]: entry for entry in map(json.loads, path.read_text().splitlines())}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model")
    parser.add_argument("size", type=int)
    parser.add_argument("dataflow", choices=["ws", "os", "is"])
    parser.add_argument("bandwidth", type=int)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    out = args.out or Path(
        f"benchmarks/results/{args.model}_{args.size}_{args.dataflow}_bw{args.bandwidth}.jsonl"
    )
    params = {"rows": args.size, "cols": args.size, "dataflow": args.dataflow}
    params["bandwidth"] = args.bandwidth
    accelerator = find_accelerator("systolic").resolve({k: str(v) for k, v in params.items()})
    base = base_request(accelerator.parameters)
    done = read_shapes(out)
    for layer in load_model(args.model).layers:
        if not is_gemm(layer):
            continue
        rows = scalesim_rows(layer)
        key = shape_key(rows[0])
        if key in done:
            continue
        started = time.perf_counter()
        result = run_scalesim({**base, "layers": [rows[0]]}, timeout_s=6 * 3600)
        entry = {
            "key": key,
            "layer": layer.name,
            "row": rows[0],
            "parameters": base,
            "scalesim_version": result["scalesim_version"],
            "result": result["layers"][0],
            "wall_seconds": time.perf_counter() - started,
        }
        done[key] = entry
        with out.open("a") as handle:
            handle.write(json.dumps(entry) + "\n")
        print(f"{layer.name}: {entry['result']['total_cycles']:,} cycles", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
