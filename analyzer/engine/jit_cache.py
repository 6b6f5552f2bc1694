"""Numba's disk cache, loaded without setting up Numba's compiler.

Before Numba loads a function from its disk cache it refreshes its target context
(numba/core/caching.py, FunctionCache.load_overload): it imports and registers the typing
and the lowering of everything Numba can compile, about 0.1 s (more on a busy machine),
the largest part of loading the kernels in a fresh `accperf-trace analyze`. Only
compiling needs that. Machine code read from the cache needs the symbols it links
against: the NRT (numba/core/runtime/nrt.py), initialized here, and Numba's C helpers and
exception objects, registered when the target context is created. A cache miss compiles,
and the compiler refreshes the context itself (numba/core/compiler.py, compile_extra), so
a cold or stale cache costs what it always did.

Cached code linking against a symbol that only one of the modules the refresh imports
registers (Numba's string hashing registers its hash secret that way) would fail to link,
and LLVM would stop the process; the kernels use none (tests/test_startup.py loads them
in a fresh process).

A cache index that cannot be read back is treated as no index. Numba pickles each
index's signatures, and a signature names the NamedTuple types a kernel takes by module
and name: after an upgrade or a checkout that renames or removes such a type, the old
index raises from pickle (AttributeError) before Numba compares its source stamp, in
loading and again in saving (numba/core/caching.py, IndexDataCacheFile._load_index).
Read as empty, the kernel compiles and the save writes a fresh index over it.
"""

from __future__ import annotations

from typing import Any

from numba.core.caching import FunctionCache, IndexDataCacheFile
from numba.core.runtime import rtsys


class _IndexReadOrEmpty(IndexDataCacheFile):
    """An index whose contents cannot be unpickled is no index (see above)."""

    def _load_index(self) -> dict:
        try:
            return super()._load_index()
        except Exception:  # whatever pickle raises on a stale index: a miss, never a failure
            return {}


class CompiledCodeCache(FunctionCache):
    """A FunctionCache whose loads skip the target context's refresh and that reads a
    stale index as empty (see above)."""

    def __init__(self, py_func: Any) -> None:
        super().__init__(py_func)
        self._cache_file = _IndexReadOrEmpty(
            cache_path=self._cache_path,
            filename_base=self._impl.filename_base,
            source_stamp=self._impl.locator.get_source_stamp(),
        )

    def load_overload(self, sig: Any, target_context: Any) -> Any:
        rtsys.initialize(target_context)  # what the refresh did that loaded code needs
        with self._guard_against_spurious_io_errors():
            return self._load_overload(sig, target_context)


def load_compiled_code_directly(
    dispatcher: Any, cache_class: type[CompiledCodeCache] = CompiledCodeCache
) -> None:
    """Give an @njit(cache=True) function called from Python a CompiledCodeCache (or a
    subclass, for a cache keyed by more than Numba knows). Functions only called from
    other compiled functions need none: their code is linked into their callers'. Under
    NUMBA_DISABLE_JIT (profiling the kernels as Python) there is no dispatcher to give it."""
    if hasattr(dispatcher, "py_func"):
        dispatcher._cache = cache_class(dispatcher.py_func)
