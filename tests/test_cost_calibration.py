"""benchmarks/calibrate_translated_cost.py, whose figures docs/design.md §4.6 ("Cost") and
docs/benchmarks.md §5 cite for loop_skips.INSTRUCTION_ITEMS: it must time the passes it
names over the items it says, and report a ratio that follows from its two timings."""

from __future__ import annotations

import os
import re
import subprocess
import sys

from tests.doc_tables import ROOT


def test_the_calibration_counts_the_machine_and_two_windows_per_repetition() -> None:
    done = subprocess.run(
        [sys.executable, "benchmarks/calibrate_translated_cost.py", "--window", "2", "64"]
        + ["--reps", "20"],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    per_instruction = float(re.search(r"full evaluation: ([\d.]+) ns", done.stdout)[1])
    rows = re.findall(
        r"window (\d+): keep \+ compare ([\d,]+) items .*?, ([\d.]+) ns per item; an "
        r"instruction costs ([\d.]+) items",
        done.stdout,
    )
    assert [int(window) for window, *_ in rows] == [2, 64]
    items = [int(count.replace(",", "")) for _, count, *_ in rows]
    # A keep and a comparison each read the machine and one window of two items a location.
    assert items[1] - items[0] == 2 * 2 * (64 - 2)
    machine = items[0] // 2 - 2 * 2
    assert machine > 0
    for _, _, per_item, ratio in rows:
        assert abs(float(ratio) - per_instruction / float(per_item)) < 0.1 * float(ratio)


def test_the_calibration_refuses_a_window_wider_than_the_state() -> None:
    done = subprocess.run(
        [sys.executable, "benchmarks/calibrate_translated_cost.py", "--window", "100000000"],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
    )
    assert done.returncode == 2
    assert "--window 100000000: the state has" in done.stderr
    assert "Traceback" not in done.stderr
