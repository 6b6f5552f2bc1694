#!/usr/bin/env python3
"""Seed bugs into a copy of the tree and check that the test suite catches each one.

Mutation testing as a habit, shaped by this project's costs: the hot code is Numba
(`@njit(cache=True)`), so every mutant of a kernel recompiles it (tens of seconds), and the
default suite takes minutes. A generic tool that mutates every operator and runs the whole
suite per mutant would take days here. Instead, scripts/bug_catalogue/ lists named,
hand-written bugs (file, exact source text, replacement, the rule it breaks, the tests
that should notice), each a plausible mistake in a timing rule, the state signature, the
skip arithmetic, the memo, packing, the bounds, the validation, trace reading, Gemmini's
queues or the systolic memory side.

For each selected bug this script copies the tree (never touching the working tree), with
the Numba caches warmed once by a baseline run, so only the mutated file recompiles; it
applies the bug, runs pytest -x on the bug's mapped tests (or, with --full, the whole
default suite), and prints caught / survived with the first failing test. A bug that
survives its mapped tests is run again on the whole default suite before it is called a
survivor (--no-escalate skips that). Exit status: 0 when every bug not marked equivalent
is caught, 1 when one survives (or a bug marked equivalent is caught: the mark is wrong),
2 when the catalogue is stale (a source text no longer occurs exactly once) or the
unmutated tree fails its tests.

    python scripts/seed_bugs.py --check          # the catalogue still matches the code
    python scripts/seed_bugs.py --list
    python scripts/seed_bugs.py                  # every bug, mapped tests, 2 workers
    python scripts/seed_bugs.py -k kernel.war -k bounds.
    python scripts/seed_bugs.py --full --workers 1

docs/testing.md explains the catalogue, the survivors and the equivalent mutants.
"""

from __future__ import annotations

import argparse
import ast
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from scripts.bug_catalogue import BUGS, Bug  # noqa: E402

# pytest exit codes (pytest.ExitCode): 1 tests failed, 2 interrupted (a collection error
# under -x), 5 no tests collected.
CAUGHT_CODES = (1, 2)
# tests/test_seed_bugs.py checks the catalogue against the tree: on a mutated copy it fails
# by construction, so it would "catch" every bug.
PYTEST_FLAGS = [
    "-x",
    "-q",
    "-p",
    "no:cacheprovider",
    "-rfE",
    "--no-header",
    "--ignore=tests/test_seed_bugs.py",
]
# A short-summary line: "FAILED <node id, which may hold spaces> - <message>".
FIRST_FAILURE = re.compile(r"^(?:FAILED|ERROR) (.+?)(?: - .*)?$", re.MULTILINE)


# ----------------------------------------------------------------------- the catalogue


def check_catalogue(root: Path = ROOT, bugs: tuple[Bug, ...] = BUGS) -> list[str]:
    """Every problem that makes a catalogue entry unusable, one line each, naming the
    entry: its file gone, its source text absent or ambiguous (the code moved on and the
    entry is stale), a replacement that is no change or not Python, a mapped test that no
    longer exists, a duplicate name."""
    problems: list[str] = []
    names: set[str] = set()
    for bug in bugs:
        where = f"{bug.name} ({bug.path})"
        if bug.name in names:
            problems.append(f"{where}: the name is used twice")
        names.add(bug.name)
        if bug.equivalent and bug.awaiting:
            problems.append(f"{where}: marked both equivalent and awaiting a test")
        if not bug.tests:
            problems.append(f"{where}: maps no tests")
        path = root / bug.path
        if not path.is_file():
            problems.append(f"{where}: the file does not exist")
            continue
        source = path.read_text()
        found = source.count(bug.find)
        if found != 1:
            problems.append(
                f"{where}: stale, its source text occurs {found} times (need exactly once): "
                f"{_first_line(bug.find)!r}"
            )
            continue
        if bug.find == bug.replace:
            problems.append(f"{where}: the replacement changes nothing")
            continue
        try:
            ast.parse(source.replace(bug.find, bug.replace))
        except SyntaxError as exc:
            problems.append(f"{where}: the mutated file is not Python ({exc.msg}, {exc.lineno})")
        for test in bug.tests:
            problem = _missing_test(root, test)
            if problem:
                problems.append(f"{where}: mapped test {test!r} {problem}")
    return problems


def _first_line(text: str) -> str:
    return next((line.strip() for line in text.splitlines() if line.strip()), text)


def _missing_test(root: Path, test: str) -> str:
    """Why a mapped test id does not name an existing test file (and function), or ''."""
    file, _, function = test.partition("::")
    path = root / file
    if not path.is_file():
        return "names no file"
    if function and not re.search(rf"^def {re.escape(function)}\(", path.read_text(), re.M):
        return "names no test function"
    return ""


def mutate(root: Path, bug: Bug) -> None:
    """Apply `bug` to the tree at `root` (a copy: never the working tree)."""
    path = root / bug.path
    source = path.read_text()
    if source.count(bug.find) != 1:
        raise ValueError(f"{bug.name}: stale entry, run with --check")
    path.write_text(source.replace(bug.find, bug.replace))


def select(patterns: list[str]) -> tuple[Bug, ...]:
    """Bugs whose name contains any of `patterns` (all of them without patterns)."""
    if not patterns:
        return BUGS
    chosen = tuple(bug for bug in BUGS if any(p in bug.name for p in patterns))
    if not chosen:
        raise SystemExit(f"no bug name contains any of {patterns}; --list shows the names")
    return chosen


# ----------------------------------------------------------------------------- running


@dataclass(frozen=True)
class Outcome:
    bug: Bug
    caught: bool
    detail: str  # the first failing test, or why nothing failed
    seconds: float
    escalated: bool = False  # decided by the whole default suite
    error: str = ""  # the run itself went wrong (not a verdict)


def tracked_files(root: Path) -> list[str]:
    """The tree as git sees it, uncommitted and new files included, ignored ones not."""
    listing = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=root,
        capture_output=True,
        check=True,
    ).stdout.decode()
    return [name for name in listing.split("\0") if name and (root / name).is_file()]


def copy_tree(source: Path, files: list[str] | None, target: Path) -> None:
    """Copy `files` of `source` (every file when None) to `target`, times preserved:
    Numba's cache index is keyed by each source file's modification time and size, so a
    copy of a warmed tree stays warm for every file the bug leaves alone."""
    if files is None:
        shutil.copytree(source, target, symlinks=True)
        return
    for name in files:
        destination = target / name
        destination.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source / name, destination)


def child_environment() -> dict[str, str]:
    env = dict(os.environ)
    # A user cache directory is keyed by the source's full path: copies would never share it.
    env.pop("NUMBA_CACHE_DIR", None)
    scalesim = ROOT / ".venv-scalesim" / "bin" / "python"
    if "ACCPERF_SCALESIM_PYTHON" not in env and scalesim.exists():
        env["ACCPERF_SCALESIM_PYTHON"] = str(scalesim)
    return env


def run_pytest(
    python: str, tree: Path, tests: list[str], timeout: float, extra: list[str]
) -> tuple[int | None, str]:
    """(pytest's exit code or None on timeout, its output)."""
    command = [python, "-m", "pytest", *PYTEST_FLAGS, *extra, *tests]
    env = child_environment()
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    try:
        done = subprocess.run(
            command, cwd=tree, env=env, capture_output=True, text=True, timeout=timeout
        )
    except subprocess.TimeoutExpired as exc:
        output = exc.stdout or ""
        return None, output if isinstance(output, str) else output.decode(errors="replace")
    return done.returncode, done.stdout + done.stderr


def first_failure(output: str) -> str:
    match = FIRST_FAILURE.search(output)
    return match.group(1) if match else "(no FAILED line; see the output)"


def tail(output: str, lines: int = 15) -> str:
    return "\n".join(output.rstrip().splitlines()[-lines:])


def run_bug(bug: Bug, base: Path, scratch: Path, options: argparse.Namespace) -> Outcome:
    began = time.monotonic()
    tree = Path(tempfile.mkdtemp(prefix=f"{bug.name}-", dir=scratch)) / "tree"
    try:
        copy_tree(base, None, tree)
        mutate(tree, bug)
        tests = [] if options.full else list(bug.tests)
        code, output = run_pytest(options.python, tree, tests, options.timeout, options.pytest)
        escalated = options.full
        if code == 0 and not options.full and options.escalate:
            # The rest of the default suite: the mapped tests just passed.
            rest = [f"--deselect={test}" for test in bug.tests]
            code, output = run_pytest(
                options.python, tree, [], options.timeout, [*options.pytest, *rest]
            )
            escalated = True
        seconds = time.monotonic() - began
        if code is None:
            detail = f"timed out after {options.timeout:.0f} s"
            return Outcome(bug, True, detail, seconds, escalated)
        if code in CAUGHT_CODES:
            return Outcome(bug, True, first_failure(output), seconds, escalated)
        if code == 0:
            return Outcome(bug, False, "every test passed", seconds, escalated)
        return Outcome(bug, False, "", seconds, escalated, f"pytest exit {code}:\n{tail(output)}")
    finally:
        if not options.keep:
            shutil.rmtree(tree.parent, ignore_errors=True)


def baseline(base: Path, bugs: tuple[Bug, ...], options: argparse.Namespace) -> None:
    """Run the selected tests on the unmutated copy: they must pass (or every bug would
    look caught), and the run compiles the Numba kernels once into the copy's caches."""
    tests = [] if options.full else sorted({test for bug in bugs for test in bug.tests})
    print(f"baseline: {len(tests) or 'all'} test selections on the unmutated tree ...", flush=True)
    began = time.monotonic()
    code, output = run_pytest(options.python, base, tests, options.timeout * 2, options.pytest)
    if code != 0:
        print(tail(output, 40))
        raise SystemExit(f"the unmutated tree fails its tests (exit {code}); fix that first")
    print(f"baseline passed in {time.monotonic() - began:.0f} s", flush=True)


def verdict(outcome: Outcome) -> str:
    bug = outcome.bug
    if outcome.error:
        return "ERROR"
    if outcome.caught:
        return "CAUGHT?" if bug.equivalent else "caught"
    if bug.equivalent:
        return "equivalent"
    return "AWAITING" if bug.awaiting else "SURVIVED"


def report(outcome: Outcome) -> str:
    how = " (full suite)" if outcome.escalated and outcome.caught else ""
    line = f"{verdict(outcome):<10} {outcome.bug.name:<44} {outcome.seconds:6.0f} s  "
    if outcome.error:
        return line + outcome.error
    return line + outcome.detail + how


def summarize(outcomes: list[Outcome]) -> int:
    outcomes = sorted(outcomes, key=lambda o: o.bug.name)
    counts: dict[str, int] = {}
    for outcome in outcomes:
        counts[verdict(outcome)] = counts.get(verdict(outcome), 0) + 1
    print("\n" + ", ".join(f"{n} {what}" for what, n in sorted(counts.items())))
    failing = False
    for outcome in outcomes:
        bug, kind = outcome.bug, verdict(outcome)
        if kind in ("SURVIVED", "AWAITING"):
            failing = True
            print(f"\n{kind}: {bug.name} ({bug.path})\n  breaks: {bug.breaks}")
            if bug.awaiting:
                print(f"  awaiting: {bug.awaiting}")
        elif kind == "CAUGHT?":
            failing = True
            print(f"\n{bug.name} is marked equivalent, but {outcome.detail} fails: drop the mark")
        elif kind == "ERROR":
            failing = True
        elif kind == "caught" and bug.awaiting:
            print(f"\n{bug.name} is caught now: drop its `awaiting` mark")
    return 1 if failing else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="only check the catalogue")
    parser.add_argument("--list", action="store_true", help="list the bugs and exit")
    parser.add_argument(
        "-k", dest="patterns", action="append", default=[], help="bugs whose name contains this"
    )
    parser.add_argument("--full", action="store_true", help="the whole default suite per bug")
    parser.add_argument(
        "--no-escalate",
        dest="escalate",
        action="store_false",
        help="report a bug that survives its mapped tests without running the whole suite",
    )
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--timeout", type=float, default=1800, help="seconds per pytest run")
    parser.add_argument("--python", default=sys.executable, help="the interpreter with pytest")
    parser.add_argument("--keep", action="store_true", help="keep each mutated copy")
    parser.add_argument(
        "--pytest", action="append", default=[], help="one more pytest argument (repeatable)"
    )
    options = parser.parse_args(argv)

    problems = check_catalogue()
    for problem in problems:
        print(f"catalogue: {problem}")
    if problems:
        return 2
    bugs = select(options.patterns)
    if options.list:
        for bug in bugs:
            mark = " [equivalent]" if bug.equivalent else " [awaiting]" if bug.awaiting else ""
            print(f"{bug.name:<44} {bug.path}{mark}\n    {bug.breaks}")
        return 0
    if options.check:
        print(f"catalogue: {len(BUGS)} bugs, each source text found exactly once")
        return 0

    scratch = Path(tempfile.mkdtemp(prefix="accperf-seed-bugs-"))
    try:
        base = scratch / "base"
        copy_tree(ROOT, tracked_files(ROOT), base)
        baseline(base, bugs, options)
        outcomes = []
        print(f"{len(bugs)} bugs, {options.workers} workers", flush=True)
        with ThreadPoolExecutor(max_workers=options.workers) as pool:
            futures = [pool.submit(run_bug, bug, base, scratch, options) for bug in bugs]
            for future in as_completed(futures):
                outcomes.append(future.result())
                print(report(outcomes[-1]), flush=True)
        return summarize(outcomes)
    finally:
        if not options.keep:
            shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
