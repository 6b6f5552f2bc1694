"""The seeded-bug catalogue (scripts/bug_catalogue/) still matches the code.

No mutant runs here (scripts/seed_bugs.py does that, docs/testing.md says how): these tests
only make a refactor that moves a catalogued source text fail the default suite, naming
the stale entry, so the catalogue cannot rot silently."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from scripts.bug_catalogue import BUGS, KERNELS
from scripts.seed_bugs import check_catalogue, copy_tree, mutate, tracked_files

ROOT = Path(__file__).resolve().parents[1]


def test_every_entry_matches_the_code_exactly_once():
    assert check_catalogue(ROOT) == []


def test_the_catalogue_covers_every_area_the_suite_must_guard():
    areas = {bug.name.split(".")[0] for bug in BUGS}
    assert areas >= {
        "kernel",
        "signature",
        "skip",
        "memo",
        "reuse",
        "packing",
        "bounds",
        "validation",
        "trace_io",
        "gemmini",
        "memory",
    }


def test_a_stale_or_broken_entry_is_named():
    entry = next(bug for bug in BUGS if bug.path == KERNELS)
    moved = replace(entry, name="moved", find="this text is in no file")
    twice = replace(entry, name="twice", find="import")
    not_python = replace(entry, name="not-python", replace=entry.find + " +")
    lost_test = replace(entry, name="lost-test", tests=("tests/test_timing_rules.py::gone",))
    problems = check_catalogue(ROOT, (moved, twice, not_python, lost_test))
    assert [p.split(" ")[0] for p in problems] == ["moved", "twice", "not-python", "lost-test"]
    assert "occurs 0 times" in problems[0] and "occurs" in problems[1]


def test_a_bug_is_applied_to_a_copy_and_never_to_the_tree(tmp_path):
    entry = BUGS[0]
    before = (ROOT / entry.path).read_text()
    copy_tree(ROOT, [entry.path], tmp_path)
    mutate(tmp_path, entry)
    mutated = (tmp_path / entry.path).read_text()
    assert mutated == before.replace(entry.find, entry.replace) != before
    assert (ROOT / entry.path).read_text() == before
    assert entry.path in tracked_files(ROOT)
