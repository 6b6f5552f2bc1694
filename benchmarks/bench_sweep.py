"""One sweep three ways in one run: in this process, in worker processes, on a local Ray
cluster; the results checked equal, the times and the speed-ups printed.

    .venv/bin/python benchmarks/bench_sweep.py [--workers N] [--no-ray]

The sweep: the default systolic array's rows and cols over 8, 16, 32 and 64, on ResNet-50
and MobileNetV2 (32 configurations), as README's picture was drawn. Each way writes its
own results file in a temporary folder, so none resumes from another. Process and Ray
times include starting the workers (spawned processes load the kernels from the JIT
cache; Ray starts its cluster).
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

from tracer.sweep import sweep

MODELS = ["resnet50", "mobilenet_v2"]
GRID = {"rows": [8, 16, 32, 64], "cols": [8, 16, 32, 64]}
ORDER = ["configuration", "row", "layer"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--no-ray", action="store_true", help="skip the Ray run")
    args = parser.parse_args()
    sweep("systolic", ["tc_resnet8"], {"rows": [4]}, _scratch("warm"), workers=1)  # JIT
    ways = [("one process", {"workers": 1}), ("processes", {"workers": args.workers})]
    if not args.no_ray:
        ways.append(("ray (local)", {"workers": args.workers, "ray": "local"}))
    times, frames = {}, {}
    for name, options in ways:
        start = time.perf_counter()
        frames[name] = sweep("systolic", MODELS, GRID, _scratch(name), **options)
        times[name] = time.perf_counter() - start
    first = frames["one process"].sort(ORDER, nulls_last=True)
    for name, frame in frames.items():
        assert frame.sort(ORDER, nulls_last=True).equals(first), f"{name} differs"
    configurations = frames["one process"].filter(frames["one process"]["row"] == "total")
    print(f"{configurations.height} configurations, {args.workers} workers, results equal")
    print("| way | seconds | configurations/s | speed-up over one process |")
    print("|---|---|---|---|")
    for name, seconds in times.items():
        print(
            f"| {name} | {seconds:.1f} | {configurations.height / seconds:.1f} | "
            f"{times['one process'] / seconds:.2f}x |"
        )


def _scratch(name: str) -> Path:
    return Path(tempfile.mkdtemp(prefix="accperf-sweep-")) / f"{name.replace(' ', '_')}.parquet"


if __name__ == "__main__":
    main()
