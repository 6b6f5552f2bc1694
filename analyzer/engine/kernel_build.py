"""What the module compiled ahead of time holds (analyzer/engine/compiled.py, docs/design.md
§1.4): every kernel Python calls, with the types it is compiled for, and the child
process that compiles them (`python -m analyzer.engine.kernel_build DIR NAME`).

Kept apart from compiled.py, which calls the kernels, because this file's source goes into
the module's name (compiled.SOURCES) and compiled.py's does not: an edit to how calls are
checked or where modules are kept builds nothing again; an edit to a signature does.
"""

from __future__ import annotations

import importlib
import sys
from typing import Any, NamedTuple

from analyzer.engine.arrays import LayerArrays, MemoArrays, ProgramArrays, WorkspaceArrays

# A type, as numba.types spells it (and NumPy its dtype): "i8" (int64), "b1" (bool), an
# array "i8[::1]" (1-D, C order) or "i4[:, ::1]"; "none"; a tuple of types; or one of
# arrays.py's NamedTuples holding a type per field.
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
    "step_critical_cycle": Signature(
        "analyzer.engine.recurrence_kernels",
        "step_critical_cycle",
        ("i8", "i8"),
        (A2, A2, A1, A1, A1, A1, A1, A2, "i8"),
    ),
    # isa/'s one kernel, handed down to it through isa/kernel_door.py.
    "gemm_stalls": Signature(
        "isa.systolic.memory_kernels",
        "gemm_stalls",
        "UniTuple(i8, 2)",
        ("b1", "i8", "i8", "i8", "i8", "i8", "i8", "i8", "i8", "i8", A1),
    ),
}


# The child's exit status when the source changed under it (it is not a failure).
SOURCE_CHANGED = 3


def _build_here(directory: str, name: str) -> None:
    """The child process of compiled.build(): compile every kernel of SIGNATURES into one
    module named `name`, in `directory`."""
    from numba import types
    from numba.pycc import CC

    from analyzer.engine.compiled import _cpu, module_name

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
    # As the JIT compiles, for this CPU, where the module's name keys it; else generic.
    compiler.target_cpu = "host" if _cpu() else ""
    for exported, signature in SIGNATURES.items():
        function = getattr(importlib.import_module(signature.module), signature.function)
        arguments = [numba_type(spec) for spec in signature.arguments]
        compiler.export(exported, numba_type(signature.returns)(*arguments))(function.py_func)
    # What compiles is the source imported above: it must be the source the name hashes
    # (a checkout between the parent's hash and those imports would store B's code as A's).
    if module_name() != name:
        raise SystemExit(SOURCE_CHANGED)
    compiler.compile()


if __name__ == "__main__":
    _build_here(*sys.argv[1:3])
