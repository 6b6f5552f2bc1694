"""Fast mode's scratch arrays, kept from layer to layer.

Fast mode keeps signatures of the whole state (HISTORY per loop level, one per level for
the memo, the one being taken), each as wide as the program's signature, and a restore
copies windows of the state into a scratch array. Allocated anew for every layer, these
are megabytes the allocator maps afresh from the system, and the first write to each page
then faults: on Gemmini's ResNet-50 at batch 1, 10-15 K page faults per fast analysis and
about a quarter of its time, depending on what the allocator had kept from earlier calls
(docs/benchmarks.md §5). An Evaluation holds one Workspace for all its layers, grown to
the most loop levels a layer needs. The kernel writes every item before reading it, so
what a layer leaves there never reaches the next one's results.
"""

from __future__ import annotations

import numpy as np

from analyzer.engine import compiled
from analyzer.engine.arrays import WorkspaceArrays
from analyzer.engine.layout import HISTORY
from analyzer.engine.packing import PackedBlocks, PackedLayer


def _allocate(levels: int, width: int, scratch: int) -> WorkspaceArrays:
    return WorkspaceArrays(
        signature=np.empty(width, dtype=np.int64),
        history=np.empty((levels, HISTORY, width), dtype=np.int64),
        entries=np.empty((levels, width), dtype=np.int64),
        scratch=np.empty(scratch, dtype=np.int64),
    )


# What full mode passes: it keeps no signatures.
NO_WORKSPACE = _allocate(0, 0, 0)


class Workspace:
    """The scratch arrays of fast evaluations of one packed program."""

    def __init__(self, blocks: PackedBlocks) -> None:
        self.blocks = blocks
        self.levels = 0
        self.arrays = NO_WORKSPACE

    def for_layer(self, packed: PackedLayer) -> WorkspaceArrays:
        """Arrays wide enough for `packed`'s fast evaluation: as many levels as its loops
        take signatures at (the kernel's own count, loop_skips._skip_levels; a layer of
        none reads nothing here)."""
        _, levels = compiled.skip_levels(packed.arrays, True)
        if levels > self.levels:
            self.levels = levels
            program = self.blocks.arrays
            self.arrays = _allocate(
                self.levels,
                self.blocks.signature_width,
                3 * (program.n_locations + program.n_units),
            )
        return self.arrays
