"""The kernels Python calls, from Numba's JIT or from an extension module compiled ahead
of time: the one door from Python into compiled code (docs/design.md §1.4); isa/'s
kernel, below the engine, is handed its build through isa/kernel_door.py.

By default each call goes to the @njit(cache=True) function (analyzer/engine/kernels.py
and the modules it names), which Numba loads from its disk cache. A one-shot command
(`accperf-trace analyze`) runs them compiled ahead of time instead, inside
`ahead_of_time()`: importing Numba and loading its cached kernels were about 0.3 s of a
0.5 s `analyze` (docs/benchmarks.md §1.4), where an extension module built from the same
source by numba.pycc loads in a millisecond and needs neither. Its code ran 4-46% slower
than the JIT's (benchmarks/bench_compiled.py, docs/benchmarks.md §1.5), so processes that
analyze many times (the API, sweeps, benchmarks) keep the JIT. Both run the same source,
so results are identical (tests/test_compiled.py compares them).

The module is built once per version of the source compiled into it (`SOURCES`) and of
the machine (Python, NumPy, CPU): on first use, in a child process that runs
analyzer/engine/kernel_build.py (numba.pycc prints and needs Numba's compiler; the parent
imports neither; that file also lists what is compiled), under a lock so that concurrent
commands build it once, and renamed into place only when complete. Where it cannot be
built (no C compiler, say), the reason is kept beside it and the JIT runs: the results
are the same, only the start-up is slower, and `ahead_of_time()` says why.

pycc's functions do not check their arguments' types (numba/pycc/cc.py, "exported
functions do not check the types"), so every call is checked here against the
signature it was built with (kernel_build.SIGNATURES), and a mismatch raises TypeError
naming the argument.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.machinery
import importlib.util
import os
import platform
import re
import shutil
import subprocess
import sys
import sysconfig
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np

from analyzer.engine.kernel_build import SIGNATURES, SOURCE_CHANGED, Signature
from isa import kernel_door

ROOT = Path(__file__).resolve().parents[2]
# Every file whose source or constants Numba compiles into the kernels: a change to any
# of them builds the module again (tests/test_compiled.py checks that the kernels'
# modules import from no other file of ours).
SOURCES = tuple(
    f"analyzer/engine/{name}.py"
    for name in (
        "ahead", "arrays", "jit_cache", "kernel_build", "kernels", "layout", "loop_kernels",
        "loop_skips", "packing_kernels", "recurrence_kernels", "runs", "signatures",
        "template_row", "translated", "wavefront",
    )
) + ("isa/program.py", "isa/systolic/memory_kernels.py")  # fmt: skip
# Where built modules go: beside the source, as Numba's own cache, unless overridden or
# not writable.
DIRECTORY_VARIABLE = "ACCPERF_KERNEL_DIR"
# "jit" keeps Numba's JIT even inside ahead_of_time() (to compare the two, or to profile).
MODE_VARIABLE = "ACCPERF_KERNELS"
_PREFIX = "accperf_kernels_"


# /proc/cpuinfo's lines that change while the CPU does not (per core, or over time).
_VOLATILE = (b"processor", b"cpu mhz", b"bogomips", b"core id", b"apicid", b"initial apicid")
_VOLATILE += (b"physical id", b"siblings", b"cpu cores", b"power management")


def _cpu() -> str:
    """What the built code depends on of this CPU, where /proc/cpuinfo tells it (the
    first processor's block, volatile lines left out): the module is then built for the
    host's model, as the JIT builds; elsewhere "", and it is built for the generic one."""
    try:
        with open("/proc/cpuinfo", "rb") as cpuinfo:
            head = cpuinfo.read(1 << 14).split(b"\n\n")[0]
    except OSError:
        return ""
    kept = [line for line in head.splitlines() if not line.lower().startswith(_VOLATILE)]
    return hashlib.sha256(b"\n".join(kept)).hexdigest() if kept else ""


def _version_file(package: str) -> str:
    """The compiler's version, read without importing it (importlib.metadata alone takes
    about 50 ms to import): its _version.py, which versioneer writes."""
    spec = importlib.util.find_spec(package)
    if spec is None or spec.origin is None:
        return f"{package} missing"
    with contextlib.suppress(OSError):
        return (Path(spec.origin).parent / "_version.py").read_text()
    return spec.origin


def module_name(root: Path = ROOT) -> str:
    """The extension module's name for this source and machine."""
    digest = hashlib.sha256()
    for source in SOURCES:
        digest.update(source.encode() + b"\0" + (root / source).read_bytes())
    versions = [_version_file(package) for package in ("numba", "llvmlite")]
    for item in (sys.version, np.__version__, *versions, platform.machine(), _cpu()):
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


def step_critical_cycle(*arguments: Any) -> tuple[int, int]:
    return _active.step_critical_cycle(*arguments)


def mode() -> str:
    """ "ahead-of-time" or "jit": how kernel calls run now."""
    return "jit" if _active is _JIT else "ahead-of-time"


# --- the module compiled ahead of time --------------------------------------------------


def _check(value: Any, spec: Any, where: str) -> None:
    """Raise TypeError unless `value` is what `spec` types (spelled as kernel_build.py
    says)."""
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
    dtype, ndim = np.dtype(spec.split("[")[0]), spec.count(",") + 1
    if not (
        isinstance(value, np.ndarray)
        and value.dtype == dtype
        and value.ndim == ndim
        and value.flags.c_contiguous
        and value.flags.aligned
        and value.flags.writeable
    ):
        got = f"{value.dtype}[{value.ndim}d]" if isinstance(value, np.ndarray) else type(value)
        raise TypeError(f"{where}: expected a writable, aligned C-ordered {spec}, got {got}")


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
def _locked(directory: Path, name: str) -> Iterator[None]:
    """Hold the build lock of module `name` (no lock where fcntl is missing: the rename
    into place still keeps a half-built module from being loaded)."""
    try:
        import fcntl
    except ImportError:
        yield
        return
    with open(directory / (name + ".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _toolchain() -> str:
    """What a build needs besides the source: a failure recorded under another toolchain
    (a compiler or setuptools installed since) is tried again."""
    compiler = os.environ.get("CC") or "cc"
    found = shutil.which(compiler.split()[0]) if compiler.strip() else None
    return (
        f"CC={compiler} at {found}; setuptools {importlib.util.find_spec('setuptools') is not None}"
    )


def _recorded_failure(failed: Path) -> str | None:
    """The reason a build failed, when it was under this toolchain."""
    with contextlib.suppress(OSError):
        reason, toolchain = failed.read_text().split("\n")[:2]
        if toolchain == _toolchain():
            return f"{reason}; delete {failed} to try again"
    return None


# A build takes 15-80 s here; one past this is stuck and not worth waiting for.
BUILD_TIMEOUT = 900


def build(directory: Path, name: str, notify: Callable[[str], None] | None = None) -> Path | str:
    """Build module `name` into `directory` (in a child process, `notify` told when it
    starts) unless it is there or failed before under this toolchain: its path, or why the
    JIT runs instead."""
    path, failed = _extension(directory, name), directory / (name + ".failed")
    if path.exists():
        return path
    directory.mkdir(parents=True, exist_ok=True)
    with _locked(directory, name):
        if path.exists():
            return path
        reason = _recorded_failure(failed)
        if reason is not None:
            return reason
        with tempfile.TemporaryDirectory(dir=directory, prefix=name + ".") as scratch:
            # Numba's own cache is keyed by each function's file alone: the functions the
            # kernels call must compile from the source hashed into `name`, not from it.
            # Settings such as NUMBA_OPT would go into the module without into its name.
            env = {k: v for k, v in os.environ.items() if not k.startswith("NUMBA_")}
            env["NUMBA_CACHE_DIR"] = os.path.join(scratch, "numba")
            env["PYTHONPATH"] = os.pathsep.join(filter(None, (str(ROOT), env.get("PYTHONPATH"))))
            command = [sys.executable, "-m", "analyzer.engine.kernel_build", scratch, name]
            if notify is not None:
                notify(f"compiling the analysis kernels for this machine, once ({directory})")
            try:
                child = subprocess.run(
                    command, cwd=ROOT, env=env, capture_output=True, text=True,
                    timeout=BUILD_TIMEOUT,
                )  # fmt: skip
            except subprocess.TimeoutExpired:
                return f"building {path.name} took over {BUILD_TIMEOUT} s; the JIT runs instead"
            if child.returncode == SOURCE_CHANGED:
                return "the kernels' source changed during the build; the JIT runs instead"
            built = _extension(Path(scratch), name)
            if child.returncode != 0 or not built.exists():
                reason = f"building {path.name} failed ({_error_line(child)}); the JIT runs instead"
                if child.returncode > 0:  # not killed: the same toolchain fails again
                    failed.write_text(f"{reason}\n{_toolchain()}\n\n{child.stdout}{child.stderr}")
                    reason += f"; delete {failed} to try again"
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
    checkout may share a user cache directory), remove the rest, and the scratch folders
    of builds that were killed (none is running: the caller holds the lock)."""
    name = keep.name.split(".")[0]
    entries = [p for p in directory.glob(_PREFIX + "*") if not p.name.startswith(name)]
    for scratch in [p for p in entries if p.is_dir()]:
        shutil.rmtree(scratch, ignore_errors=True)
    modules = sorted(
        (p for p in entries if p.is_file() and not p.name.endswith((".lock", ".failed"))),
        key=lambda p: p.stat().st_mtime,
        reverse=True,
    )
    for stale in modules[3:]:
        for leftover in directory.glob(stale.name.split(".")[0] + ".*"):
            with contextlib.suppress(OSError):
                leftover.unlink()


@contextlib.contextmanager
def ahead_of_time(notify: Callable[[str], None] | None = None) -> Iterator[str]:
    """Within this block, kernel calls run the module compiled ahead of time, built first
    if needed (`notify` is told before a build starts). Yields "ahead-of-time", or why
    the JIT runs instead. For one evaluation per process, as the CLI's commands: the
    choice is the process's, so blocks in several threads at once must not interleave."""
    global _active
    previous = _active
    _active = _JIT  # unless the module loads below (a block inside another says what it runs)
    if os.environ.get(MODE_VARIABLE) == "jit":
        status = f"jit ({MODE_VARIABLE}=jit)"
    elif os.environ.get("NUMBA_DISABLE_JIT", "0") not in ("", "0"):
        status = "jit (NUMBA_DISABLE_JIT runs the kernels as Python)"
    else:
        try:
            built = build(kernel_directory(), module_name(), notify)
            if isinstance(built, Path):
                _active = _load(built)
                status = "ahead-of-time"
            else:
                status = built
        except (OSError, ImportError) as error:  # an unusable folder or module: same results
            status = f"the kernels compiled ahead of time are unusable ({error}); the JIT runs"
    # isa/'s kernels follow, through isa/kernel_door.py: isa/ may not import this module.
    built_for_isa = {}
    if _active is not _JIT:  # (the JIT's attributes would import Numba)
        built_for_isa = {
            (s.module, s.function): getattr(_active, name)
            for name, s in SIGNATURES.items()
            if s.module.startswith("isa.")
        }
    handed_down_before = kernel_door.hand_down(built_for_isa)
    try:
        yield status
    finally:
        _active = previous
        kernel_door.hand_down(handed_down_before)
