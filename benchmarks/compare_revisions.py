"""Two revisions of the code on the same benchmarks, alternated in one run.

    .venv/bin/python benchmarks/compare_revisions.py OLD [NEW] [--rounds 5]
        [--benchmarks core gemmini] [--core-args "--size 32"] [--gemmini-args "--batches 1"]

OLD and NEW are git revisions; NEW defaults to the working tree (its uncommitted changes
to tracked files included, untracked files not). Each is checked out into a temporary
`git worktree`, removed afterwards. Every round runs each benchmark once per revision, as
a fresh process importing that revision's code (PYTHONPATH, checked before the first
round), and the two revisions swap order from round to round, so a drift in the machine's
speed reaches both alike. SCALE-Sim is not run: this compares accperf's code.

Printed per metric: each revision's median and range over the rounds, the ratio of the
medians new/old, and the median of the rounds' own new/old ratios (less sensitive to a
slow phase of the machine). For a time (s) below 1 means NEW is faster; for a rate (/s)
above 1 does. The exact figures (cycles, instructions, evaluated iterations) must be the
same in every run of both revisions; the script says so or stops.

Benchmarks: core = benchmarks/bench_core.py (ResNet-50 on a 32x32 systolic array: fast on
the whole network, full on six layers), gemmini = benchmarks/bench_gemmini.py. A
revision whose benchmark has no --json (before this script) is read from the lines it
prints, to the digits it prints.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shlex
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

Figures = dict[str, dict[str, float]]  # {"metrics": {...}, "exact": {...}}


def _number(text: str) -> float:
    return float(text.replace(",", ""))


def _core_from_text(out: str) -> Figures:
    """bench_core.py's printed figures (the lines every revision prints)."""
    lower = re.search(r"^lower: ([\d.]+) s, ([\d,]+) instructions", out, re.M)
    # Older revisions print "fast, whole network:", later ones name the missing layer reuse.
    fast = re.search(
        r"^fast, whole network(?:, every layer evaluated)?: ([\d.]+) s, ([\d,]+) cycles, "
        r"([\d,]+) iterations evaluated \(([\d,]+) of",
        out,
        re.M,
    )
    full = re.search(
        r"^full, (whole network|[^:]+): ([\d.]+) s for ([\d,]+) instructions = [\d.]+ M "
        r"instructions/s; fast on the same layers ([\d.]+) s",
        out,
        re.M,
    )
    if not (lower and fast and full):
        raise ValueError("bench_core.py printed none of the lines expected")
    scope = "network" if full[1] == "whole network" else "set"
    full_s, n = _number(full[2]), _number(full[3])
    return {
        "metrics": {
            "lower s": _number(lower[1]),
            "fast network s": _number(fast[1]),
            f"full {scope} s": full_s,
            f"full {scope} M instr/s": n / full_s / 1e6,
            f"fast {scope} s": _number(full[4]),
        },
        "exact": {
            "instructions": _number(lower[2]),
            "cycles": _number(fast[2]),
            "fast network evaluated iterations": _number(fast[3]),
            "fast network evaluated instructions": _number(fast[4]),
            f"full {scope} instructions": n,
        },
    }


def _gemmini_from_text(out: str) -> Figures:
    """bench_gemmini.py's printed table: model | batch | lower s | instructions | ..."""
    metrics: dict[str, float] = {}
    exact: dict[str, float] = {}
    for line in out.splitlines():
        cells = line.split(" | ")
        if len(cells) != 12 or cells[0] == "model":
            continue
        name, batch, lower_s, instructions = cells[0], cells[1], cells[2], cells[3]
        fast_s, evaluated_iterations, full_s, cycles = cells[5], cells[7], cells[8], cells[11]
        case = f"{name} batch {batch}"
        metrics[f"{case} lower s"] = _number(lower_s)
        metrics[f"{case} fast s"] = _number(fast_s)
        metrics[f"{case} full s"] = _number(full_s)
        metrics[f"{case} full M instr/s"] = _number(instructions) / _number(full_s) / 1e6
        exact[f"{case} cycles"] = _number(cycles)
        exact[f"{case} evaluated iterations"] = _number(evaluated_iterations)
    if not metrics:
        raise ValueError("bench_gemmini.py printed no table rows")
    return {"metrics": metrics, "exact": exact}


@dataclass(frozen=True)
class Benchmark:
    script: str
    from_text: Callable[[str], Figures]
    quiet: tuple[str, ...] = ()  # arguments that keep it to accperf's own figures


BENCHMARKS = {
    "core": Benchmark("benchmarks/bench_core.py", _core_from_text, ("--no-scalesim",)),
    "gemmini": Benchmark("benchmarks/bench_gemmini.py", _gemmini_from_text),
}


@dataclass
class Revision:
    label: str
    commit: str
    tree: Path
    runs: dict[str, list[Figures]] = field(default_factory=dict)
    machine: str = ""  # as the benchmarks print it


def _git(repo: Path, *args: str) -> str:
    done = subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"git {' '.join(args)}: {done.stderr.strip()}")
    return done.stdout.strip()


def _resolve(repo: Path, revision: str | None) -> tuple[str, str]:
    """(commit, label); None is the working tree, as a commit `git stash create` makes
    without touching the tree or the stash list."""
    if revision is not None:
        commit = _git(repo, "rev-parse", "--verify", f"{revision}^{{commit}}")
        return commit, f"{revision} ({commit[:9]})"
    head = _git(repo, "rev-parse", "HEAD")
    untracked = _git(repo, "ls-files", "--others", "--exclude-standard")
    if untracked:
        print(f"note: untracked files are not part of the working tree's run: {untracked!r}")
    changes = _git(repo, "stash", "create")
    if not changes:
        return head, f"working tree = HEAD ({head[:9]})"
    return changes, f"working tree (HEAD {head[:9]} + uncommitted changes)"


def _environment(tree: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(tree)
    env.pop("ACCPERF_SCALESIM_PYTHON", None)  # and a fresh worktree has no .venv-scalesim
    return env


def _check_imports(python: str, revision: Revision) -> None:
    probe = "import analyzer, isa, tracer; print(analyzer.__file__)"
    done = subprocess.run(
        [python, "-c", probe],
        cwd=revision.tree,
        env=_environment(revision.tree),
        capture_output=True,
        text=True,
    )
    where = Path(done.stdout.strip() or "?").resolve()
    if done.returncode != 0 or revision.tree.resolve() not in where.parents:
        raise SystemExit(
            f"{revision.label}: its code is not what {python} imports ({where}); "
            f"{done.stderr.strip()}"
        )


def _run(python: str, revision: Revision, name: str, extra: list[str]) -> Figures:
    bench = BENCHMARKS[name]
    source = (revision.tree / bench.script).read_text()
    with tempfile.TemporaryDirectory() as scratch:
        args = [*extra]
        if "--no-scalesim" in source:
            args += list(bench.quiet)
        as_json = '"--json"' in source
        out_file = Path(scratch) / "figures.json"
        if as_json:
            args += ["--json", str(out_file)]
        done = subprocess.run(
            [python, bench.script, *args],
            cwd=revision.tree,
            env=_environment(revision.tree),
            capture_output=True,
            text=True,
        )
        if done.returncode != 0:
            raise SystemExit(f"{revision.label}: {bench.script} failed:\n{done.stderr[-3000:]}")
        machine = re.search(r"^machine: (.*)$", done.stdout, re.M)
        revision.machine = machine[1] if machine else "unknown"
        if as_json:
            figures = json.loads(out_file.read_text())
            return {"metrics": figures["metrics"], "exact": figures["exact"]}
        return bench.from_text(done.stdout)


def _report(name: str, old: Revision, new: Revision) -> bool:
    """Print the comparison of one benchmark; False if an exact figure differs."""
    old_runs, new_runs = old.runs[name], new.runs[name]
    print(f"\n{name} ({BENCHMARKS[name].script}), {len(old_runs)} rounds")
    header = f"{'metric':<36} {'old median':>11} {'new median':>11} {'new/old':>8} {'paired':>8}"
    print(header + f"  {'old range':>17}  {'new range':>17}")
    for metric in old_runs[0]["metrics"]:
        olds = [run["metrics"][metric] for run in old_runs]
        news = [run["metrics"][metric] for run in new_runs]
        paired = statistics.median(n / o for n, o in zip(news, olds, strict=True))
        old_median, new_median = statistics.median(olds), statistics.median(news)
        print(
            f"{metric:<36} {old_median:>11.4g} {new_median:>11.4g} "
            f"{new_median / old_median:>8.3f} {paired:>8.3f}  "
            f"{min(olds):>8.4g}-{max(olds):<8.4g}  {min(news):>8.4g}-{max(news):<8.4g}"
        )
    exact = [run["exact"] for run in old_runs + new_runs]
    if any(figures != exact[0] for figures in exact):
        print("exact figures DIFFER between runs:")
        for revision, runs in ((old, old_runs), (new, new_runs)):
            for run in runs:
                print(f"  {revision.label}: {run['exact']}")
        return False
    listed = ", ".join(f"{key} {value:,.0f}" for key, value in exact[0].items())
    print(f"exact figures identical in all {len(exact)} runs: {listed}")
    return True


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("old", help="the base revision")
    parser.add_argument("new", nargs="?", help="the revision to compare (default: working tree)")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--benchmarks", nargs="+", choices=sorted(BENCHMARKS), default=["core"])
    parser.add_argument("--core-args", default="", help="extra arguments for bench_core.py")
    parser.add_argument("--gemmini-args", default="", help="extra arguments for bench_gemmini.py")
    parser.add_argument("--python", default=sys.executable)
    args = parser.parse_args()
    if args.rounds < 1:
        parser.error("--rounds must be at least 1")
    extra = {"core": shlex.split(args.core_args), "gemmini": shlex.split(args.gemmini_args)}
    repo = Path(_git(Path(__file__).resolve().parent, "rev-parse", "--show-toplevel"))

    with tempfile.TemporaryDirectory(prefix="accperf-compare-") as scratch:
        revisions = []
        try:
            for role, revision in (("old", args.old), ("new", args.new)):
                commit, label = _resolve(repo, revision)
                tree = Path(scratch) / role
                _git(repo, "worktree", "add", "--detach", "--quiet", str(tree), commit)
                revisions.append(Revision(f"{role}: {label}", commit, tree))
            old, new = revisions
            for revision in revisions:
                _check_imports(args.python, revision)
                print(revision.label)
            for round_index in range(args.rounds):
                order = revisions if round_index % 2 == 0 else revisions[::-1]
                for name in args.benchmarks:
                    for revision in order:
                        figures = _run(args.python, revision, name, extra[name])
                        revision.runs.setdefault(name, []).append(figures)
                print(f"round {round_index + 1}/{args.rounds} done", flush=True)
        finally:
            for revision in revisions:
                _git(repo, "worktree", "remove", "--force", str(revision.tree))
    print(f"\nmachine: {new.machine}")
    same = [_report(name, old, new) for name in args.benchmarks]
    return 0 if all(same) else 1


if __name__ == "__main__":
    raise SystemExit(main())
