"""A large systolic array (issue 14: ResNet-50 at 512x512 within 5 s and 1 GB per step):
lower and analyze one network in one process, with the process's peak memory.

    .venv/bin/python benchmarks/bench_large.py [--size 512] [--model resnet50]

Analysis is fast mode as `analyze` runs it (the Numba kernels are loaded from the disk
cache; a first run compiles them and takes longer).
"""

from __future__ import annotations

import argparse
import resource
import time

import accperf


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--model", default="resnet50")
    args = parser.parse_args()
    params = {"rows": args.size, "cols": args.size}
    started = time.perf_counter()
    trace = accperf.lower(args.model, "systolic", params=params)
    lowered = time.perf_counter()
    print(f"{args.model} on systolic {args.size}x{args.size}: lower {lowered - started:.1f} s")
    result = accperf.analyze(trace)
    analysed = time.perf_counter()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6  # KiB on Linux
    print(
        f"analyze {analysed - lowered:.1f} s, {result.total_cycles:,} cycles; "
        f"peak memory of the process {peak:.2f} GB"
    )


if __name__ == "__main__":
    main()
