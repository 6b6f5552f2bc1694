"""The kernels compiled ahead of time equal Numba's JIT (analyzer/engine/compiled.py).

The module is built once for the session, where `accperf-trace analyze` builds it (the
CLI's tests then find it there). Each property runs the same programs through both and
compares everything the kernels return: packed op lists, every layer's cycles and counts
in fast and full mode, the recurrence bound's cycles.
"""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings

import accperf
from analyzer.engine import compiled, kernel_build
from analyzer.engine.evaluate import Evaluation
from analyzer.engine.packing import pack_blocks, pack_layer
from analyzer.engine.recurrence import CriticalCycles, block_dependency_edges, critical_cycle
from isa import kernel_door
from isa.systolic.memory_kernels import gemm_stalls as gemm_stalls_jit
from tests.builders import examples
from tests.test_exactness import random_programs

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def built() -> Path:
    path = compiled.build(compiled.kernel_directory(), compiled.module_name())
    assert isinstance(path, Path), path  # a C compiler is part of the set-up (README)
    return path


def _everything(program) -> tuple:
    """What the kernels compute for `program`, as plain values."""
    blocks = pack_blocks(program)
    packed = [pack_layer(layer, program, blocks) for layer in program.layers]
    ops = [tuple(np.asarray(field).tolist() for field in p.arrays) for p in packed]
    results = []
    for mode in ("fast", "full"):
        for r in Evaluation(program, mode, reuse_layers=False).run():
            results.append((mode, r.cycles, r.evaluated_instructions, r.evaluated_iterations))
    cycles = CriticalCycles(blocks)
    n_blocks = len(blocks.block_first) - 1
    cycles.find(list(range(n_blocks)))
    critical = [cycles.of(b) for b in range(n_blocks)]
    one_by_one = [critical_cycle(block_dependency_edges(blocks, b)) for b in range(n_blocks)]
    return ops, results, critical, one_by_one


@settings(max_examples=examples(40), deadline=None)
@given(program=random_programs(wide=None, frontends=("f1",)))
def test_random_programs_give_the_same_results_either_way(built, program):
    assert compiled.mode() == "jit"
    by_jit = _everything(program)
    with compiled.ahead_of_time() as status:
        assert status == "ahead-of-time" and compiled.mode() == "ahead-of-time"
        ahead = _everything(program)
    assert compiled.mode() == "jit"  # the block's end restores the JIT
    assert ahead == by_jit


@pytest.mark.parametrize(
    ("model", "accelerator", "params", "batch"),
    [
        ("resnet18", "systolic", {"rows": 8, "cols": 8}, 1),
        # With a memory side: isa/'s kernel, handed down through isa/kernel_door.py.
        ("resnet18", "systolic", {"rows": 8, "cols": 8, "bandwidth": 10}, 1),
        ("mobilenet_v2", "gemmini", {}, 2),
        ("tc_resnet8_ut", "ultratrail", {}, 1),
    ],
)
def test_networks_give_the_same_report_either_way(built, model, accelerator, params, batch):
    trace = accperf.lower(model, accelerator=accelerator, params=params, batch=batch)
    by_jit = accperf.analyze(trace, recurrence=True)
    with compiled.ahead_of_time():
        ahead = accperf.analyze(trace, recurrence=True)
    columns = ["name", "cycles", "dram_stall_cycles", "evaluated_instructions"]
    columns += ["evaluated_iterations", "bound"]
    columns += ["busiest_unit_cycles", "recurrence_cycles", "recurrence_cycles_per_iteration"]
    assert ahead.layers.select(columns).to_dicts() == by_jit.layers.select(columns).to_dicts()
    if "bandwidth" in params:
        assert ahead.layers["dram_stall_cycles"].sum() > 0


def test_isa_kernels_run_the_built_module_inside_the_block_and_the_jit_after(built):
    gemm_stalls = ("isa.systolic.memory_kernels", "gemm_stalls")
    assert kernel_door.handed_down(*gemm_stalls) is None
    with compiled.ahead_of_time() as status:
        assert status == "ahead-of-time"
        ahead = kernel_door.handed_down(*gemm_stalls)
        assert ahead is not None and not hasattr(ahead, "py_func")  # not Numba's dispatcher
        # A 64 x 27 x 32 GEMM on 8x8, one word a cycle into SRAMs of 1 KiB: it stalls.
        arguments = (False, 64, 27, 32, 8, 8, 1, 1024, 1024, 1024)
        rows, stalls = ahead(*arguments, np.zeros(0, np.int64))
        assert stalls > 0 and (rows, stalls) == gemm_stalls_jit(*arguments, np.zeros(0, np.int64))
        # Its arguments are checked as the engine kernels' are.
        with pytest.raises(TypeError, match=r"gemm_stalls argument 10"):
            ahead(*arguments, np.zeros(0, np.int32))
    assert kernel_door.handed_down(*gemm_stalls) is None


def test_an_argument_of_the_wrong_type_is_refused_by_name(built):
    program = accperf.lower("resnet18", accelerator="systolic", params={"rows": 8}).program
    blocks = pack_blocks(program)
    packed = pack_layer(program.layers[0], program, blocks)
    wrong = packed.arrays._replace(kind=packed.arrays.kind.astype(np.int32))
    with compiled.ahead_of_time(), pytest.raises(TypeError, match=r"skip_levels argument 0\.kind"):
        compiled.skip_levels(wrong, True)
    strided = packed.arrays._replace(depth=np.repeat(packed.arrays.depth, 2)[::2])
    with compiled.ahead_of_time(), pytest.raises(TypeError, match=r"argument 0\.depth.*C-ordered"):
        compiled.skip_levels(strided, True)
    with compiled.ahead_of_time(), pytest.raises(TypeError, match=r"argument 1: expected b1"):
        compiled.skip_levels(packed.arrays, 1)
    unaligned = np.frombuffer(bytearray(packed.arrays.depth.nbytes + 1), np.int64, offset=1)
    unaligned = packed.arrays._replace(depth=unaligned)  # read-only too: refused either way
    with compiled.ahead_of_time(), pytest.raises(TypeError, match=r"argument 0\.depth"):
        compiled.skip_levels(unaligned, True)


def test_a_build_that_fails_leaves_the_jit_running_and_is_not_retried(tmp_path, monkeypatch):
    monkeypatch.setenv(compiled.DIRECTORY_VARIABLE, str(tmp_path))
    monkeypatch.setenv("CC", str(tmp_path / "no-such-compiler"))
    first: list[str] = []
    with compiled.ahead_of_time(notify=first.append) as status:
        assert compiled.mode() == "jit"
    second: list[str] = []
    with compiled.ahead_of_time(notify=second.append) as again:
        assert compiled.mode() == "jit"
    assert "failed" in status and "the JIT runs instead" in status
    assert len(first) == 1 and "compiling" in first[0]
    assert again == status and second == []  # the kept reason, no second build
    (failed,) = tmp_path.glob("*.failed")
    assert "compiler" in status and "Traceback" in failed.read_text()  # the whole output kept
    assert not list(tmp_path.glob("*.so"))


def test_a_failure_under_another_toolchain_is_tried_again(tmp_path, monkeypatch):
    monkeypatch.setenv(compiled.DIRECTORY_VARIABLE, str(tmp_path))
    monkeypatch.setenv("CC", str(tmp_path / "no-such-compiler"))
    with compiled.ahead_of_time():
        pass
    (failed,) = tmp_path.glob("*.failed")
    reason, toolchain = failed.read_text().split("\n")[:2]
    failed.write_text(f"{reason}\nCC=an older compiler\n")  # as if a compiler came since
    notes: list[str] = []
    with compiled.ahead_of_time(notify=notes.append):
        pass
    assert len(notes) == 1 and "compiling" in notes[0]
    assert failed.read_text().split("\n")[1] == toolchain  # tried, and failed again here


def test_an_unusable_folder_leaves_the_jit_running(monkeypatch):
    monkeypatch.setenv(compiled.DIRECTORY_VARIABLE, "/proc/accperf-kernels")
    with compiled.ahead_of_time() as status:
        assert compiled.mode() == "jit" and "unusable" in status


@pytest.mark.filterwarnings("ignore::PendingDeprecationWarning")  # numba.pycc's (design §1.4)
def test_a_build_refuses_a_source_other_than_its_name_hashes(tmp_path):
    # A checkout between the parent's hash and the child's imports: nothing is compiled.
    with pytest.raises(SystemExit) as stopped:
        kernel_build._build_here(str(tmp_path), compiled._PREFIX + "0" * 20)
    assert stopped.value.code == kernel_build.SOURCE_CHANGED
    assert not list(tmp_path.iterdir())


def test_a_finished_build_removes_all_but_the_newest_three_others(tmp_path):
    suffix = ".cpython-311-x86_64-linux-gnu.so"
    for age, key in enumerate("abcde"):
        for ending in (suffix, ".lock", ".failed"):
            (tmp_path / f"{compiled._PREFIX}{key}{ending}").write_text(key)
        os.utime(tmp_path / f"{compiled._PREFIX}{key}{suffix}", (1e9 - age, 1e9 - age))
    (tmp_path / f"{compiled._PREFIX}e.killed").mkdir()  # a killed build's scratch folder
    keep = tmp_path / f"{compiled._PREFIX}new{suffix}"
    keep.write_text("new")
    (tmp_path / f"{compiled._PREFIX}new.lock").write_text("")
    compiled._remove_other_builds(tmp_path, keep)
    left = sorted(p.name.removeprefix(compiled._PREFIX) for p in tmp_path.iterdir())
    kept = [f"{key}{ending}" for key in "abc" for ending in (suffix, ".failed", ".lock")]
    assert left == sorted([*kept, f"new{suffix}", "new.lock"])


def test_the_jit_can_be_kept(monkeypatch):
    monkeypatch.setenv(compiled.MODE_VARIABLE, "jit")
    with compiled.ahead_of_time() as status:
        assert compiled.mode() == "jit" and "ACCPERF_KERNELS" in status


def test_a_block_inside_another_runs_what_it_says(built, monkeypatch):
    with compiled.ahead_of_time():
        monkeypatch.setenv(compiled.MODE_VARIABLE, "jit")
        with compiled.ahead_of_time() as status:
            assert status.startswith("jit") and compiled.mode() == "jit"
            assert kernel_door.handed_down("isa.systolic.memory_kernels", "gemm_stalls") is None
        monkeypatch.delenv(compiled.MODE_VARIABLE)
        assert compiled.mode() == "ahead-of-time"  # the outer block's again
        assert kernel_door.handed_down("isa.systolic.memory_kernels", "gemm_stalls") is not None
    assert compiled.mode() == "jit"


def test_the_module_name_covers_every_file_compiled_into_the_kernels():
    """Every module of ours that the kernels' modules import from, transitively, is in
    SOURCES: an edit to any of them must build the module again."""
    sources, seen = set(compiled.SOURCES), set()
    pending = [signature.module for signature in kernel_build.SIGNATURES.values()]
    while pending:
        module = pending.pop()
        if module in seen:
            continue
        seen.add(module)
        path = module.replace(".", "/") + ".py"
        assert path in sources, f"{path} is compiled into the kernels but not in SOURCES"
        for node in ast.walk(ast.parse((ROOT / path).read_text())):
            if isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
                pending += [n for n in names if (ROOT / (n.replace(".", "/") + ".py")).exists()]
    assert len(seen) >= 10


def _copy_of_the_sources(root: Path) -> Path:
    """A tree holding only the files the module's name hashes, as this one has them."""
    for source in compiled.SOURCES:
        (root / source).parent.mkdir(parents=True, exist_ok=True)
        (root / source).write_bytes((ROOT / source).read_bytes())
    return root


def test_an_edit_to_a_kernel_source_changes_the_module_name(tmp_path):
    before = compiled.module_name(_copy_of_the_sources(tmp_path))
    assert before == compiled.module_name(ROOT)
    layout = tmp_path / "analyzer/engine/layout.py"
    layout.write_text(layout.read_text().replace("HISTORY = 4", "HISTORY = 5"))
    assert compiled.module_name(tmp_path) != before


@pytest.mark.parametrize(
    ("command", "bandwidth"),
    [
        (["analyze"], 0),
        (["analyze"], 10),  # a memory side too (isa/systolic/memory_kernels.py)
        (["show", "--layer", "fc", "--iterations", "0:2"], 0),
    ],
)
def test_a_one_shot_command_in_a_fresh_process_never_imports_numba(
    built, tmp_path, command, bandwidth
):
    params = {"rows": 8, "cols": 8, "bandwidth": bandwidth}
    trace = accperf.lower("resnet18", accelerator="systolic", params=params)
    folder = trace.save(tmp_path)
    probe = (
        "import sys; from tracer.cli import main; code = main(sys.argv[1:]); "
        "print('numba' in sys.modules, code)"
    )
    env = {k: v for k, v in os.environ.items() if k != compiled.MODE_VARIABLE}
    done = subprocess.run(
        [sys.executable, "-c", probe, command[0], str(folder), *command[1:]],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    assert done.stdout.strip().splitlines()[-1] == "False 0"
    assert "note:" not in done.stderr


def test_the_signatures_build_again_and_the_calling_code_does_not(tmp_path):
    # kernel_build.py (what is compiled, and how) goes into the name; compiled.py (how
    # calls are checked, where modules are kept) does not, so editing it rebuilds nothing.
    assert "analyzer/engine/kernel_build.py" in compiled.SOURCES
    assert "analyzer/engine/compiled.py" not in compiled.SOURCES
    before = compiled.module_name(_copy_of_the_sources(tmp_path))
    signatures = tmp_path / "analyzer/engine/kernel_build.py"
    edited = signatures.read_text().replace("SOURCE_CHANGED = 3", "SOURCE_CHANGED = 4")
    signatures.write_text(edited)
    assert compiled.module_name(tmp_path) != before
