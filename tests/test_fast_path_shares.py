"""scripts/fast_path_shares.py's two ends: what FastPathTally logs, and the test files the
script runs (docs/testing.md §4)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from tests.builders import SHARE_LOG, FastPathTally

ROOT = Path(__file__).resolve().parent.parent


def _script():
    spec = importlib.util.spec_from_file_location(
        "fast_path_shares", ROOT / "scripts" / "fast_path_shares.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_a_tally_logs_its_count_under_the_running_test(tmp_path, monkeypatch):
    log = tmp_path / "shares.tsv"
    monkeypatch.setenv(SHARE_LOG, str(log))
    FastPathTally(examples=3, skipped=2).check_share()
    test = "tests/test_fast_path_shares.py::test_a_tally_logs_its_count_under_the_running_test"
    assert log.read_text() == f"{test}\t2\t3\n"


def test_the_script_runs_every_file_that_counts_its_fast_path():
    files = _script().test_files([])
    assert "tests/test_exactness.py" in files and "tests/test_memory_side.py" in files
    assert "tests/test_timing_rules.py" not in files
    assert _script().test_files(["memory_side"]) == ["tests/test_memory_side.py"]
