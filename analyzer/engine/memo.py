"""Fast mode's memo of loop evolutions, and who owns it.

The kernel (analyzer/engine/kernels.py, evaluate_layer) remembers how a loop whose body
no index of it or around it moves evolved from an entry state, so a later loop instance
entering in the same state, in the same layer or a later one, takes the stored result
instead of evaluating it again. Entries name a loop by its body's number in
PackedBlocks.body_ids (and its depth where nested loops move its addresses), so they mean
something only for the program they were filled with: a LoopMemo belongs to one
PackedBlocks, and run_kernel refuses it for another.

Whoever evaluates creates one and decides its lifetime by holding it: `accperf-trace
analyze` keeps one for all the layers of a trace (a later layer meets the loops an earlier
one did), a SCALE-Sim validation gives each layer its own (each layer's time is what
evaluating it alone takes). A new evaluation never sees an earlier one's entries unless it
is handed that memo.
"""

from __future__ import annotations

import numpy as np

from analyzer.engine.arrays import MEMO_ITEM, MEMO_META_COLUMNS, MemoArrays
from analyzer.engine.packing import PackedBlocks

# The memo keeps a few loop evolutions (entry and exit states of a whole machine); cap it
# by entries and by memory, which grows with the array (two signatures per entry). At
# 512x512 a signature has 2.1 M items, and ResNet-50's preload and stream loops need 7
# entries not to evict one another (with one, analysis evaluated 72 M instructions, with
# seven 34 M; docs/benchmarks.md §2.5).
MEMO_ENTRIES = 8
MEMO_BYTES = 128 * 1024 * 1024
# Stored signatures are MEMO_ITEM, int32: their items are times relative to the issue
# floor (a loop's lookahead, thousands of cycles, not the layer's billions), so an entry
# takes half the memory; an evolution with an item out of range is not stored
# (analyzer/engine/loop_kernels.py, _remember).


class LoopMemo:
    """The remembered loop evolutions of evaluations of one packed program."""

    def __init__(self, blocks: PackedBlocks) -> None:
        self.blocks = blocks
        length = blocks.signature_width
        item_bytes = np.dtype(MEMO_ITEM).itemsize
        capacity = max(1, min(MEMO_ENTRIES, MEMO_BYTES // (2 * item_bytes * length)))
        self.arrays = MemoArrays(
            keys=np.zeros((capacity, length), dtype=MEMO_ITEM),
            vals=np.zeros((capacity, length), dtype=MEMO_ITEM),
            meta=np.zeros((capacity, MEMO_META_COLUMNS), dtype=np.int64),
            hashes=np.zeros(capacity, dtype=np.uint64),
            count=np.zeros(1, dtype=np.int64),
        )

    @property
    def entries(self) -> int:
        """Loop evolutions it holds now (at most its capacity; the oldest go first)."""
        return min(int(self.arrays.count[0]), self.arrays.keys.shape[0])


# What full mode passes: it never reads or fills a memo (the kernel finds no signature
# of this length), so no program's memo needs allocating for it.
NO_MEMO = MemoArrays(
    keys=np.zeros((0, 0), dtype=MEMO_ITEM),
    vals=np.zeros((0, 0), dtype=MEMO_ITEM),
    meta=np.zeros((0, MEMO_META_COLUMNS), dtype=np.int64),
    hashes=np.zeros(0, dtype=np.uint64),
    count=np.zeros(1, dtype=np.int64),
)
