"""benchmarks/gemmini_skip_bounds.py, whose figures docs/research/gemmini-streams.md §6
cites: its memo replay (and the iterations skipped inside the nests it evaluates) must
agree with the engine and with itself on a real Gemmini layer, and its static bounds must
hold against what fast mode evaluates."""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
from types import ModuleType

import isa.program as isa_program
from tests.builders import tile_loop_shapes
from tests.doc_tables import ROOT
from tracer.lowering import lower_model


def _run_script(*options: str) -> subprocess.CompletedProcess[str]:
    """gemmini_skip_bounds.py on ResNet-50 at batch 1 with `options`; it must succeed (it
    exits 1 when its own checks fail)."""
    done = subprocess.run(
        [sys.executable, "benchmarks/gemmini_skip_bounds.py", "--batches", "1", *options],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    return done


def test_the_memo_replay_agrees_with_the_engine_on_a_gemmini_layer() -> None:
    # The script stops (exit 1) if the replay's cycles differ from the engine's, or if a
    # nest it counts as skipped ends otherwise than the first one with its key.
    done = _run_script("--memo", "layer1.0.add", "--periods")
    shares = {
        name: float(share)
        for name, share in re.findall(r"^  (\S.*?)\s+[\d,]+\s+([\d.]+)%$", done.stdout, re.M)
    }
    # Fast mode evaluates each distinct nest at least once, and at least two iterations of
    # a loop instance before it skips the rest: never less than the "both" share.
    assert shares["both"] <= shares["each nest once"] <= 100
    assert shares["both"] <= shares["fast mode evaluates"]
    memo = re.search(
        r"layer1\.0\.add: evaluates ([\d,]+) of ([\d,]+) .* skips ([\d,]+) of", done.stdout
    )
    assert memo, done.stdout
    evaluated, instructions, skipped = (int(g.replace(",", "")) for g in memo.groups())
    assert 0 < evaluated < instructions and skipped > 0
    # Skipping iterations inside the nests the memo evaluates leaves fewer, and every
    # iteration skipped ended as its predecessor did (the key decides the evolution).
    inside = re.search(r"skipped too: evaluates ([\d,]+) .* predecessor: ([\d,]+)", done.stdout)
    assert inside, done.stdout
    with_periods, misses = (int(g.replace(",", "")) for g in inside.groups())
    assert 0 < with_periods < evaluated and misses == 0
    # What the keys read: every location counts twice among the footprint times (its
    # write and read-until times); adjacent rows one instruction left hold equal times (a
    # Gemmini instruction names 16 rows or more at a time), so there are many times fewer
    # runs than locations, and a run above the issue time holds a location above it.
    keys = re.search(
        r"keys read ([\d,]+) footprint times, ([\d,]+) locations above the issue time; "
        r"as runs .*?: ([\d,]+) runs, ([\d,]+) above",
        done.stdout,
    )
    assert keys, done.stdout
    items, live, runs, live_runs = (int(g.replace(",", "")) for g in keys.groups())
    assert 0 < live_runs <= min(runs, live) and live <= items // 2
    assert 10 * runs < items // 2


def test_periods_alone_evaluate_more_than_with_the_memo_and_less_than_fast_mode() -> None:
    # Without the memo every nest is replayed with its iterations compared: more is
    # evaluated than with the memo as well, fewer instructions than the layer holds, and
    # every iteration skipped still ended as its predecessor did.
    both = _run_script("--memo", "layer1.0.add", "--periods")
    alone = _run_script("--memo", "layer1.0.add", "--periods", "--periods-alone")
    pattern = r"skipped %s: evaluates ([\d,]+) .* predecessor: ([\d,]+)"
    with_memo = re.search(pattern % "too", both.stdout)
    without = re.search(pattern % "alone, no nest skipped whole", alone.stdout)
    assert with_memo and without, alone.stdout
    memo_evaluated, alone_evaluated, misses = (
        int(g.replace(",", "")) for g in (with_memo[1], without[1], without[2])
    )
    instructions = int(
        re.search(r"layer1\.0\.add: evaluates [\d,]+ of ([\d,]+)", alone.stdout)[1].replace(",", "")
    )
    assert memo_evaluated <= alone_evaluated < instructions and misses == 0


def test_periods_alone_need_periods() -> None:
    done = subprocess.run(
        [sys.executable, "benchmarks/gemmini_skip_bounds.py", "--periods-alone"],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
    )
    assert done.returncode == 2 and "--periods-alone needs --periods" in done.stderr


def test_the_runs_an_operand_would_visit_are_fewer_than_its_locations() -> None:
    # What a state kept as runs of equal times would visit per operand, against the
    # locations it names: at least one run each, and far fewer runs than rows, since an
    # instruction leaves the rows it names holding one time.
    done = _run_script("--runs-touched", "layer1.0.add")
    line = re.search(
        r"layer1\.0\.add: ([\d,]+) operands name ([\d,]+) locations .* overlap ([\d,]+) runs "
        r".* held, ([\d,]+) runs at the end, at most ([\d,]+)",
        done.stdout,
    )
    assert line, done.stdout
    operands, locations, runs, at_end, most = (int(g.replace(",", "")) for g in line.groups())
    assert 0 < operands <= runs and 5 * runs < locations
    assert 0 < at_end <= most


def _skip_bounds_module(monkeypatch) -> ModuleType:
    """benchmarks/gemmini_skip_bounds.py imported in-process, as when run as a script (it
    imports bench_core and tests/reference.py by their folders); sys.path and
    sys.modules are restored after the test."""
    folders = [str(ROOT / "benchmarks"), str(ROOT / "tests")]
    monkeypatch.setattr(sys, "path", [*sys.path, *folders])
    spec = importlib.util.spec_from_file_location(
        "gemmini_skip_bounds", ROOT / "benchmarks" / "gemmini_skip_bounds.py"
    )
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, spec.name, module)  # its dataclasses look it up
    spec.loader.exec_module(module)
    return module


def test_the_static_bounds_count_a_nest_once_however_the_tile_loops_nest(monkeypatch) -> None:
    # Nested tile loops (isa/program.py, layer_of_steps) move no instruction, so
    # the nests the script finds, and their distinct shapes (a nest built at another depth
    # has the same shape relative to its own loops), are those of the one-level program.
    bounds = _skip_bounds_module(monkeypatch).static_bounds
    nested = lower_model("gemmini", {}, "resnet50", batch=4)
    assert any("(" in s for layer in nested.layers for s in tile_loop_shapes(layer.root))
    monkeypatch.setattr(isa_program, "periodic_tree", isa_program.periodic_level)
    flat = lower_model("gemmini", {}, "resnet50", batch=4)
    nested_bounds, flat_bounds = bounds(nested), bounds(flat)
    for share in ("instructions", "each nest once", "both"):
        assert nested_bounds[share] == flat_bounds[share], share
    # Loops of tiles capped at two iterations: nesting only lowers that bound.
    assert nested_bounds["periods <= 2 iterations"] <= flat_bounds["periods <= 2 iterations"]
