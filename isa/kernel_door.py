"""Which build of isa/'s Numba kernels to call: the module compiled ahead of time while a
one-shot command runs, else the JIT's (docs/design.md §1.4).

The engine builds and loads that module (analyzer/engine/compiled.py, which compiles
isa/'s kernels into it too), but isa/ lies below the engine and may not import it. So the
engine hands the built functions down here for the length of its `ahead_of_time()` block
(`hand_down`), and isa/ asks for one by the module and name of its @njit function
(`handed_down`), falling back to that function, whose import brings in Numba.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

# The built functions handed down now, by the (module, name) of their @njit function.
_handed_down: dict[tuple[str, str], Callable] = {}


def handed_down(module: str, name: str) -> Callable | None:
    """The built function for @njit kernel `name` of `module`, or None: call the JIT's."""
    return _handed_down.get((module, name))


def hand_down(functions: Mapping[tuple[str, str], Callable]) -> dict[tuple[str, str], Callable]:
    """Call these instead of the JIT's kernels from now on (`{}`: the JIT's again); returns
    what was handed down before, to hand back when a block ends."""
    before = dict(_handed_down)
    _handed_down.clear()
    _handed_down.update(functions)
    return before
