"""The seeded-bug catalogue (scripts/bug_catalogue/) still matches the code.

No mutant runs here (scripts/seed_bugs.py does that, docs/testing.md says how): these tests
only make a refactor that moves a catalogued source text fail the default suite, naming
the stale entry, so the catalogue cannot rot silently. docs/testing.md, which describes the
suite and the catalogue, is held to both here too."""

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


def test_docs_testing_lists_every_area_and_every_equivalent_mutant():
    # docs/testing.md §5 names the catalogue's areas and tabulates each mutant marked
    # equivalent with why it cannot change a result.
    text = (ROOT / "docs" / "testing.md").read_text()
    areas = {bug.name.split(".")[0] for bug in BUGS}
    assert [area for area in sorted(areas) if f"`{area}.`" not in text] == []
    table = text.split("### Equivalent mutants")[1].split("\n### ")[0]
    rows = {line.split("|")[1].strip() for line in table.splitlines() if line.startswith("| ")}
    assert rows - {"bug"} == {bug.name for bug in BUGS if bug.equivalent}


def test_docs_testing_has_a_row_for_every_test_file():
    text = (ROOT / "docs" / "testing.md").read_text()
    table = text.split("## 2. What each test file pins")[1].split("\n## ")[0]
    rows = {line.split("|")[1].strip() for line in table.splitlines() if line.startswith("| ")}
    files = {path.name for path in (ROOT / "tests").glob("test_*.py")}
    assert sorted(files - rows) == []
    assert sorted(name for name in rows - files if name.startswith("test_")) == []
