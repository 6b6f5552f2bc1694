"""The kernels Python calls, from Numba's JIT or from an extension module compiled ahead
of time: the one door from Python into compiled code (docs/design.md §1.4).

By default each call goes to the @njit(cache=True) function (analyzer/engine/kernels.py
and the modules it names), which Numba loads from its disk cache. A one-shot command
(`accperf-trace analyze`) runs them compiled ahead of time instead, inside
`ahead_of_time()`: importing Numba and loading its cached kernels were about 0.3 s of a
0.5 s `analyze` (docs/benchmarks.md §1.4), where an extension module built from the same
source by numba.pycc loads in a millisecond and needs neither. Its code ran 3-31% slower
than the JIT's (benchmarks/bench_compiled.py, docs/benchmarks.md §1.5), so processes that
analyze many times (the API, sweeps, benchmarks) keep the JIT. Both run the same source,
so results are identical (tests/test_compiled.py compares them).

The module is built once per version of the source compiled into it (`SOURCES`) and of
the machine (Python, NumPy, CPU): on first use, in a child process (numba.pycc prints
and needs Numba's compiler; the parent imports neither), under a lock so that concurrent
commands build it once, and renamed into place only when complete. Where it cannot be
built (no C compiler, say), the reason is kept beside it and the JIT runs: the results
are the same, only the start-up is slower, and `ahead_of_time()` says why.

pycc's functions do not check their arguments' types (numba/pycc/cc.py, "exported
functions do not check the types"), so every call is checked here against the
signature it was built with (`SIGNATURES`), and a mismatch raises TypeError naming the
argument.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.machinery
import importlib.util
import os
import platform
import re
import subprocess
import sys
import sysconfig
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any, NamedTuple

import numpy as np

from analyzer.engine.arrays import LayerArrays, MemoArrays, ProgramArrays, WorkspaceArrays

# A type, as numba.types spells it: "i8" (int64), "b1" (bool), an array "i8[::1]" (1-D,
# C order) or "i4[:, ::1]"; "none"; a tuple of types; or one of arrays.py's NamedTuples
# holding a type per field.
_DTYPES = {"i8": np.dtype(np.int64), "i4": np.dtype(np.int32), "u8": np.dtype(np.uint64)}
_DTYPES["b1"] = np.dtype(np.bool_)
A1, A2, B1 = "i8[::1]", "i8[:, ::1]", "b1[::1]"
LAYER = LayerArrays(A1, A1, A1, A1, A1, B1, A1, A1, B1, B1, A1)
PROGRAM = ProgramArrays(
    A2, A1, A1, A1, B1, A1, "i8", "i8", "i8", "i8", "b1", A2, A1, A1, A1, A2
)  # fmt: skip
MEMO = MemoArrays("i4[:, ::1]", "i4[:, ::1]", A2, "u8[::1]", A1)
WORKSPACE = WorkspaceArrays(A1, "i8[:, :, ::1]", A2, A1)


class Signature(NamedTuple):
    module: str  # where the @njit function is
    function: str
    returns: Any
    arguments: tuple


# Every kernel Python calls, by the name this module gives it.
SIGNATURES = {
    "evaluate_layer": Signature(
        "analyzer.engine.kernels",
        "evaluate_layer",
        "UniTuple(i8, 4)",
        (LAYER, PROGRAM, MEMO, WORKSPACE, "b1", "i8", "b1", "i8", A2),
    ),
    "layer_ops": Signature(
        "analyzer.engine.packing_kernels",
        "layer_ops",
        ("i8", tuple(LAYER)),
        ("i8", "i8", A2, A2, A2, A1, A1),
    ),
    "skip_levels": Signature(
        "analyzer.engine.loop_skips", "_skip_levels", (A1, "i8"), (LAYER, "b1")
    ),
    "block_edges": Signature(
        "analyzer.engine.recurrence_kernels",
        "block_edges",
        (A1, A1, A1, A1),
        (A2, A1, A1, A1, "i8", "i8"),
    ),
    "block_critical_cycles": Signature(
        "analyzer.engine.recurrence_kernels",
        "block_critical_cycles",
        "none",
        (A2, A1, A1, A1, A1, A1, A1, A1),
    ),
    "maximum_cycle_ratio": Signature(
        "analyzer.engine.recurrence_kernels",
        "maximum_cycle_ratio",
        ("i8", "i8"),
        ("i8", A1, A1, A1, A1),
    ),
}

ROOT = Path(__file__).resolve().parents[2]
# Every file whose source or constants Numba compiles into the kernels: a change to any
# of them builds the module again (tests/test_compiled.py checks that the kernels'
# modules import from no other file of ours).
SOURCES = tuple(
    f"analyzer/engine/{name}.py"
    for name in (
        "ahead", "arrays", "compiled", "jit_cache", "kernels", "layout", "loop_kernels",
        "loop_skips", "packing_kernels", "recurrence_kernels", "runs", "signatures",
        "template_row", "translated", "wavefront",
    )
) + ("isa/program.py",)  # fmt: skip
# Where built modules go: beside the source, as Numba's own cache, unless overridden or
# not writable.
DIRECTORY_VARIABLE = "ACCPERF_KERNEL_DIR"
# "jit" keeps Numba's JIT even inside ahead_of_time() (to compare the two, or to profile).
MODE_VARIABLE = "ACCPERF_KERNELS"
_PREFIX = "accperf_kernels_"


def _cpu() -> str:
    """What the built code depends on of this CPU: it is compiled for the host's model."""
    try:
        with open("/proc/cpuinfo", "rb") as cpuinfo:
            head = cpuinfo.read(1 << 13).split(b"\n\n")[0]
        return hashlib.sha256(
            b"".join(line for line in head.splitlines() if line.startswith((b"model", b"flags")))
        ).hexdigest()
    except OSError:
        return platform.processor()


def module_name(root: Path = ROOT) -> str:
    """The extension module's name for this source and machine."""
    digest = hashlib.sha256()
    for source in SOURCES:
        digest.update(source.encode() + b"\0" + (root / source).read_bytes())
    for item in (sys.version, np.__version__, platform.machine(), _cpu()):
        digest.update(item.encode() + b"\0")
    return _PREFIX + digest.hexdigest()[:20]


def kernel_directory() -> Path:
    chosen = os.environ.get(DIRECTORY_VARIABLE)
    if chosen:
        return Path(chosen)
    beside = Path(__file__).resolve().parent / "__pycache__"
    with contextlib.suppress(OSError):
        beside.mkdir(exist_ok=True)
    if os.access(beside, os.W_OK):
        return beside
    cache = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(cache) / "accperf" / "kernels"


def _extension(directory: Path, name: str) -> Path:
    return directory / (name + sysconfig.get_config_var("EXT_SUFFIX"))


# --- the JIT ----------------------------------------------------------------------------


class _Jit:
    """Numba's @njit functions, imported on first use (importing them imports Numba)."""

    def __getattr__(self, name: str) -> Callable:
        signature = SIGNATURES[name]
        # kernels.py gives every engine kernel its disk cache (analyzer/engine/jit_cache.py)
        importlib.import_module("analyzer.engine.kernels")
        function = getattr(importlib.import_module(signature.module), signature.function)
        setattr(self, name, function)
        return function


_JIT = _Jit()
_active: Any = _JIT


def evaluate_layer(*arguments: Any) -> tuple[int, int, int, int]:
    return _active.evaluate_layer(*arguments)


def layer_ops(*arguments: Any) -> tuple[int, tuple]:
    return _active.layer_ops(*arguments)


def skip_levels(*arguments: Any) -> tuple[np.ndarray, int]:
    return _active.skip_levels(*arguments)


def block_edges(*arguments: Any) -> tuple[np.ndarray, ...]:
    return _active.block_edges(*arguments)


def block_critical_cycles(*arguments: Any) -> None:
    return _active.block_critical_cycles(*arguments)


def maximum_cycle_ratio(*arguments: Any) -> tuple[int, int]:
    return _active.maximum_cycle_ratio(*arguments)


def mode() -> str:
    """ "ahead-of-time" or "jit": how kernel calls run now."""
    return "jit" if _active is _JIT else "ahead-of-time"


# --- the module compiled ahead of time --------------------------------------------------


def _check(value: Any, spec: Any, where: str) -> None:
    """Raise TypeError unless `value` is what `spec` types (see above)."""
    if isinstance(spec, tuple):
        if not isinstance(value, tuple) or len(value) != len(spec):
            raise TypeError(f"{where}: expected a tuple of {len(spec)}, got {type(value).__name__}")
        names = getattr(spec, "_fields", None) or [str(i) for i in range(len(spec))]
        if hasattr(spec, "_fields") and type(value) is not type(spec):
            raise TypeError(f"{where}: expected {type(spec).__name__}, got {type(value).__name__}")
        for item, item_spec, name in zip(value, spec, names, strict=True):
            _check(item, item_spec, f"{where}.{name}")
        return
    if "[" not in spec:
        kinds = (bool, np.bool_) if spec == "b1" else (int, np.integer)
        if not isinstance(value, kinds) or (spec != "b1" and isinstance(value, (bool, np.bool_))):
            raise TypeError(f"{where}: expected {spec}, got {type(value).__name__}")
        return
    dtype, ndim = _DTYPES[spec.split("[")[0]], spec.count(",") + 1
    if not (
        isinstance(value, np.ndarray)
        and value.dtype == dtype
        and value.ndim == ndim
        and value.flags.c_contiguous
        and value.flags.writeable
    ):
        got = f"{value.dtype}[{value.ndim}d]" if isinstance(value, np.ndarray) else type(value)
        raise TypeError(f"{where}: expected a writable C-ordered {spec}, got {got}")


class _AheadOfTime:
    """A built module's functions, each call's arguments checked first."""

    def __init__(self, module: ModuleType) -> None:
        for name, signature in SIGNATURES.items():
            setattr(self, name, self._checked(name, signature, getattr(module, name)))

    @staticmethod
    def _checked(name: str, signature: Signature, function: Callable) -> Callable:
        def call(*arguments: Any) -> Any:
            if len(arguments) != len(signature.arguments):
                raise TypeError(
                    f"{name}: {len(arguments)} arguments, expected {len(signature.arguments)}"
                )
            for index, (value, spec) in enumerate(zip(arguments, signature.arguments, strict=True)):
                _check(value, spec, f"{name} argument {index}")
            return function(*arguments)

        return call


_loaded: dict[Path, _AheadOfTime] = {}


def _load(path: Path) -> _AheadOfTime:
    if path not in _loaded:
        name = path.name.split(".")[0]
        loader = importlib.machinery.ExtensionFileLoader(name, str(path))
        spec = importlib.util.spec_from_file_location(name, path, loader=loader)
        assert spec is not None
        module = importlib.util.module_from_spec(spec)
        loader.exec_module(module)
        _loaded[path] = _AheadOfTime(module)
    return _loaded[path]


@contextlib.contextmanager
def _locked(directory: Path) -> Iterator[None]:
    """Hold the directory's build lock (no lock where fcntl is missing: the rename into
    place still keeps a half-built module from being loaded)."""
    try:
        import fcntl
    except ImportError:
        yield
        return
    with open(directory / (_PREFIX + "build.lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def build(directory: Path, name: str) -> Path | str:
    """Build module `name` into `directory` (in a child process) unless it is there or
    failed before: its path, or why it cannot be built."""
    directory.mkdir(parents=True, exist_ok=True)
    path, failed = _extension(directory, name), directory / (name + ".failed")
    with _locked(directory):
        if path.exists():
            return path
        if failed.exists():
            return failed.read_text().split("\n", 1)[0]
        with tempfile.TemporaryDirectory(dir=directory, prefix=name + ".") as scratch:
            child = subprocess.run(
                [sys.executable, "-m", "analyzer.engine.compiled", scratch, name],
                cwd=ROOT,
                env={
                    **os.environ,
                    "PYTHONPATH": os.pathsep.join(
                        filter(None, (str(ROOT), os.environ.get("PYTHONPATH")))
                    ),
                },
                capture_output=True,
                text=True,
            )
            built = _extension(Path(scratch), name)
            if child.returncode != 0 or not built.exists():
                reason = f"building {path.name} failed ({_error_line(child)}); the JIT runs instead"
                failed.write_text(reason + "\n\n" + child.stdout + child.stderr)
                return reason
            os.replace(built, path)
        _remove_other_builds(directory, keep=path)
    return path


def _error_line(child: subprocess.CompletedProcess) -> str:
    """The exception the build stopped on (its first sentence), else its last line."""
    lines = (child.stderr + child.stdout).strip().splitlines() or ["no output"]
    errors = [line for line in lines if re.match(r"[\w.]*(Error|Exception): ", line)]
    line = errors[-1] if errors else lines[-1]
    return line.split(". ")[0][:300]


def _remove_other_builds(directory: Path, keep: Path) -> None:
    """Modules of other sources are stale for this tree: keep the newest few (another
    checkout may share a user cache directory), remove the rest."""
    others = sorted(
        (p for p in directory.glob(_PREFIX + "*") if p != keep and not p.name.endswith(".lock")),
        key=lambda p: p.stat().st_mtime,
        reverse=True,
    )
    for stale in others[3:]:
        with contextlib.suppress(OSError):
            stale.unlink()


@contextlib.contextmanager
def ahead_of_time(notify: Callable[[str], None] | None = None) -> Iterator[str]:
    """Within this block, kernel calls run the module compiled ahead of time, built first
    if needed (`notify` is told before a build starts). Yields "ahead-of-time", or why
    the JIT runs instead."""
    global _active
    previous = _active
    if os.environ.get(MODE_VARIABLE) == "jit":
        status = f"jit ({MODE_VARIABLE}=jit)"
    elif os.environ.get("NUMBA_DISABLE_JIT", "0") not in ("", "0"):
        status = "jit (NUMBA_DISABLE_JIT runs the kernels as Python)"
    else:
        directory, name = kernel_directory(), module_name()
        path = _extension(directory, name)
        if not path.exists() and not (directory / (name + ".failed")).exists() and notify:
            notify(f"compiling the analysis kernels for this machine, once ({directory})")
        built = build(directory, name)
        if isinstance(built, Path):
            _active = _load(built)
            status = "ahead-of-time"
        else:
            status = built
    try:
        yield status
    finally:
        _active = previous


def _build_here(directory: str, name: str) -> None:
    """The child process of build(): compile every kernel of SIGNATURES into one module."""
    from numba import types
    from numba.pycc import CC

    def numba_type(spec: Any) -> Any:
        if isinstance(spec, tuple):
            items = [numba_type(item) for item in spec]
            if not hasattr(spec, "_fields"):
                return types.Tuple(items)
            if all(item == items[0] for item in items):
                return types.NamedUniTuple(items[0], len(items), type(spec))
            return types.NamedTuple(items, type(spec))
        return eval(spec, {}, vars(types))  # the spellings above, numba.types' own

    compiler = CC(name)
    compiler.output_dir = directory
    compiler.target_cpu = "host"  # as the JIT compiles; the module name keys the CPU
    for exported, signature in SIGNATURES.items():
        function = getattr(importlib.import_module(signature.module), signature.function)
        arguments = [numba_type(spec) for spec in signature.arguments]
        compiler.export(exported, numba_type(signature.returns)(*arguments))(function.py_func)
    compiler.compile()


if __name__ == "__main__":
    _build_here(*sys.argv[1:3])
