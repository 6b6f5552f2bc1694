"""A large systolic array (issue 14: ResNet-50 at 512x512 within 5 s and 1 GB per step):
lower and analyze one network in one process, with the process's peak memory after each.

    .venv/bin/python benchmarks/bench_large.py [--size 512] [--model resnet50]
                                               [--dataflow ws] [--cli]

Analysis is fast mode as `analyze` runs it, after a warm-up (a small array's analysis,
timed apart) has loaded the Numba kernels from their disk cache, as issue 14 measures; a
first run on a fresh checkout also compiles them there. Peak memory is the process's
resident peak (ru_maxrss), in GB of 10^9 bytes, warm-up included.

--cli first runs the two commands a user runs, `accperf-trace lower` (default
--materialize) and `accperf-trace analyze` of the trace it wrote, each as a fresh process
of this interpreter, and prints each one's wall-clock time and peak memory: they also
write and read the trace folder, which the in-process steps never do. They run before
the in-process steps because a child's peak counts the memory of its parent when forked.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import accperf


def peak_gb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / 1e9  # KiB on Linux


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--model", default="resnet50")
    parser.add_argument("--dataflow", default="ws", choices=("ws", "os", "is"))
    parser.add_argument("--cli", action="store_true", help="also time the two commands")
    args = parser.parse_args()
    cli_cycles = command_line(args.model, args.size, args.dataflow) if args.cli else None
    started = time.perf_counter()
    small = {"rows": 16, "cols": 16, "dataflow": args.dataflow}
    accperf.analyze(accperf.lower(args.model, "systolic", params=small))
    print(f"warm-up (16x16, loads the kernels): {time.perf_counter() - started:.1f} s")
    params = {"rows": args.size, "cols": args.size, "dataflow": args.dataflow}
    started = time.perf_counter()
    trace = accperf.lower(args.model, "systolic", params=params)
    lowered = time.perf_counter()
    print(
        f"{args.model} on systolic {args.size}x{args.size} {args.dataflow}: "
        f"lower {lowered - started:.1f} s; peak memory so far {peak_gb():.2f} GB"
    )
    result = accperf.analyze(trace)
    analysed = time.perf_counter()
    evaluated = int(result.layers["evaluated_instructions"].sum())
    print(
        f"analyze {analysed - lowered:.1f} s, {result.total_cycles:,} cycles, "
        f"{evaluated:,} instructions evaluated; peak memory of the process {peak_gb():.2f} GB"
    )
    if cli_cycles is not None and cli_cycles != result.total_cycles:
        raise SystemExit(f"accperf-trace analyze gave {cli_cycles:,} cycles, the API another")


def command_line(model: str, size: int, dataflow: str) -> int:
    """`accperf-trace lower` then `analyze`, each a fresh process: time and peak memory;
    the analyzed cycles."""
    params = [
        "--param",
        f"rows={size}",
        "--param",
        f"cols={size}",
        "--param",
        f"dataflow={dataflow}",
    ]
    with tempfile.TemporaryDirectory() as out:
        report = Path(out) / "report.json"
        lower = ["lower", "--accelerator", "systolic", *params, "--model", model, "-o", out]
        analyze = ["analyze", str(Path(out) / f"{model}__systolic"), "--json", str(report)]
        for argv in (lower, analyze):
            with tempfile.TemporaryFile("w+") as errors:
                started = time.perf_counter()
                process = subprocess.Popen(
                    [sys.executable, "-m", "tracer.cli", *argv],
                    stdout=subprocess.DEVNULL,
                    stderr=errors,
                )
                _, status, usage = os.wait4(process.pid, 0)
                seconds = time.perf_counter() - started
                if status != 0:
                    errors.seek(0)
                    raise SystemExit(f"accperf-trace {argv[0]} failed: {errors.read()}")
            print(
                f"accperf-trace {argv[0]}: {seconds:.1f} s, peak memory "
                f"{usage.ru_maxrss * 1024 / 1e9:.2f} GB"
            )
        return int(json.loads(report.read_text())["total_cycles"])


if __name__ == "__main__":
    main()
