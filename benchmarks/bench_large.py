"""A large systolic array (issue 14: ResNet-50 at 512x512 within 5 s and 1 GB per step):
lower and analyze one network in one process, with the process's peak memory after each.

    .venv/bin/python benchmarks/bench_large.py [--size 512] [--model resnet50]

Analysis is fast mode as `analyze` runs it, after a warm-up (a small array's analysis,
timed apart) has loaded the Numba kernels from their disk cache, as issue 14 measures; a
first run on a fresh checkout also compiles them there. Peak memory is the process's
resident peak (ru_maxrss), in GB of 10^9 bytes, warm-up included.
"""

from __future__ import annotations

import argparse
import resource
import time

import accperf


def peak_gb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / 1e9  # KiB on Linux


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--model", default="resnet50")
    args = parser.parse_args()
    started = time.perf_counter()
    accperf.analyze(accperf.lower(args.model, "systolic", params={"rows": 16, "cols": 16}))
    print(f"warm-up (16x16, loads the kernels): {time.perf_counter() - started:.1f} s")
    params = {"rows": args.size, "cols": args.size}
    started = time.perf_counter()
    trace = accperf.lower(args.model, "systolic", params=params)
    lowered = time.perf_counter()
    print(
        f"{args.model} on systolic {args.size}x{args.size}: lower {lowered - started:.1f} s; "
        f"peak memory so far {peak_gb():.2f} GB"
    )
    result = accperf.analyze(trace)
    analysed = time.perf_counter()
    evaluated = int(result.layers["evaluated_instructions"].sum())
    print(
        f"analyze {analysed - lowered:.1f} s, {result.total_cycles:,} cycles, "
        f"{evaluated:,} instructions evaluated; peak memory of the process {peak_gb():.2f} GB"
    )


if __name__ == "__main__":
    main()
