"""How code below the engine calls its Numba kernels: Numba's JIT, or the module compiled
ahead of time while a one-shot command runs (docs/design.md §1.4).

The engine builds and loads that module (analyzer/engine/compiled.py, which also compiles
the kernels of isa/ into it), but isa/ lies below the engine and may not import it. So the
engine hands the built module's functions down here for the length of its
`ahead_of_time()` block (`use`), and isa/ asks for a kernel by its module and name (`kernel`): the
built one while it is handed down, else the @njit function, whose import brings in Numba.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping

_handed_down: dict[str, Callable] = {}


def kernel(module: str, name: str) -> Callable:
    """The function to call for the @njit kernel `name` of `module`."""
    function = _handed_down.get(f"{module}.{name}")
    if function is None:
        function = getattr(importlib.import_module(module), name)
    return function


def use(functions: Mapping[str, Callable]) -> dict[str, Callable]:
    """Call these instead of the JIT's kernels from now on, each under its @njit function's
    "module.name" (`{}`: the JIT's again); returns what was used before."""
    before = dict(_handed_down)
    _handed_down.clear()
    _handed_down.update(functions)
    return before
