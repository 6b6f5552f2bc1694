"""How often Python's cyclic garbage collector runs while accperf works.

Lowering and analyzing make many objects that live to the end of the call (a trace's
templates and operands: 5 million at 512x512; the modules of Numba, rich and pyarrow in a
command). At Python's default first-generation threshold, 700, the collector walks them
again and again: 60-120 ms of a ResNet-50 `analyze` command, a fifth of a Gemmini batch-4
one, a third of lowering ResNet-50 onto a 512x512 array (9.2 s, 6.1 s with this). At the
threshold below it still frees cycles, after every 200,000 new objects (mypy tunes its
collector the same way, mypy/build.py). Imports nothing heavy: the CLI uses it before it
knows whether it will need more than `--help`.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

GC_THRESHOLD = 200_000


@contextmanager
def fewer_collections() -> Iterator[None]:
    """Raise the first generation's threshold to GC_THRESHOLD inside the block; restore
    the caller's on the way out (nested uses restore the outer one's)."""
    thresholds = gc.get_threshold()
    gc.set_threshold(max(GC_THRESHOLD, thresholds[0]), *thresholds[1:])
    try:
        yield
    finally:
        gc.set_threshold(*thresholds)
