#!/usr/bin/env python3
"""How far above its fast-path bar each property test sits, over several hypothesis seeds.

Each fast == full property counts the examples whose fast evaluation skipped a period and
asserts at least FAST_PATH_SHARE of them did (tests/builders.py, FastPathTally). CI runs
derandomized, one fixed draw; a local run draws afresh, and a property whose share sits
near the bar then fails now and then without any bug. This runs the test files that hold
such properties once per seed (`--hypothesis-seed`), collects every property's count
(FastPathTally appends it where ACCPERF_SHARE_LOG names) and prints, per property, the
lowest, median and highest share and how many seeds fell below the bar.

    .venv/bin/python scripts/fast_path_shares.py                  # seeds 1-6
    .venv/bin/python scripts/fast_path_shares.py --seeds 20 --first 100 -k memory_side

Exit status: 0 when every property met its bar on every seed, 1 otherwise. A failing
test does not stop the run: its count is what it reports (docs/testing.md §4).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
from collections import defaultdict
from fractions import Fraction
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.builders import FAST_PATH_SHARE, SHARE_LOG  # noqa: E402


def test_files(patterns: list[str]) -> list[str]:
    """The test files whose properties count their fast path (they build a FastPathTally
    or call check_reaches_fast_path), narrowed to names containing one of `patterns`."""
    files = []
    for path in sorted((ROOT / "tests").glob("test_*.py")):
        text = path.read_text()
        if "FastPathTally(" in text or "check_reaches_fast_path(" in text:
            if not patterns or any(p in path.name for p in patterns):
                files.append(str(path.relative_to(ROOT)))
    return files


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=6, help="how many seeds (default 6)")
    parser.add_argument("--first", type=int, default=1, help="the first seed (default 1)")
    parser.add_argument(
        "-k", dest="patterns", action="append", default=[], help="test files containing this"
    )
    parser.add_argument("--python", default=sys.executable, help="the interpreter with pytest")
    args = parser.parse_args()
    files = test_files(args.patterns)
    if not files:
        print("no test file with a fast-path count matches", file=sys.stderr)
        return 2
    shares: dict[str, list[Fraction]] = defaultdict(list)
    with tempfile.TemporaryDirectory() as scratch:
        for seed in range(args.first, args.first + args.seeds):
            log = Path(scratch) / f"seed{seed}.tsv"
            environment = {**os.environ, SHARE_LOG: str(log)}
            environment.pop("CI", None)  # CI's profile is derandomized: no seed would count
            command = [args.python, "-m", "pytest", "-q", "-p", "no:cacheprovider"]
            command += [f"--hypothesis-seed={seed}", *files]
            done = subprocess.run(
                command, cwd=ROOT, env=environment, capture_output=True, text=True
            )
            summary = (done.stdout.strip().splitlines() or ["(no output)"])[-1]
            print(f"seed {seed}: {summary}", flush=True)
            for line in log.read_text().splitlines() if log.exists() else []:
                test, skipped, examples = line.split("\t")
                shares[test].append(Fraction(int(skipped), int(examples)))
    if not shares:
        print("no property reported a count", file=sys.stderr)
        return 2
    print(f"\nshare of examples that reached the fast path; bar {float(FAST_PATH_SHARE):.3f}")
    print(f"{'lowest':>7} {'median':>7} {'highest':>7}  below  property")
    below_any = False
    for test, values in sorted(shares.items(), key=lambda item: min(item[1])):
        below = sum(value < FAST_PATH_SHARE for value in values)
        below_any |= below > 0
        print(
            f"{float(min(values)):7.3f} {float(statistics.median(values)):7.3f} "
            f"{float(max(values)):7.3f}  {below:2d}/{len(values):<2d}  {test}"
        )
    return 1 if below_any else 0


if __name__ == "__main__":
    sys.exit(main())
