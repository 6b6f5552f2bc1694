"""Numbers the kernels and the Python that packs their inputs both use: the op list's
kinds and the sizes of what fast mode keeps.

They live here, apart from the kernels, so that packing and the workspace can be
imported without Numba: a process that runs the kernels compiled ahead of time
(analyzer/engine/compiled.py) never imports it. The kernels read them as plain int
globals, which Numba compiles in as constants.
"""

from __future__ import annotations

# The op list's kinds (analyzer/engine/packing.py, pack_layer; the kernels' interpreter).
LOOP_BEGIN, BLOCK, LOOP_END = 0, 1, 2

# The bundles a block or subtree opens in one execution (packing: a block's; the op
# list's kernel: a subtree's). Ahead periods repeat a loop whose body opens exactly one,
# at its first instruction, and takes no queue (docs/design.md §4.11).
BUNDLES_NONE = 0  # opens none and takes no queue
BUNDLES_ONE_AT_FIRST = 1  # one, opened by its first instruction; no queue
BUNDLES_OTHER = 2  # several, or one opened later, or some instruction takes a queue

# A template's `simple` column (template_row.py): which hot path of the kernel runs it.
SIMPLE_FIXED = 1  # every operand one fixed location (the unit instance may move)
SIMPLE_MOVING = 2  # every operand one location, some moving, not all as the instance does
# Every operand one location moving with the loops as the unit instance does (one offset
# for all: a systolic PE's registers and the PE itself).
SIMPLE_SHARED = 3

NEVER = -(1 << 60)  # "no reader since the last write": smaller than any real time

# Runs (docs/design.md §3.7): a word of run-start bits per chunk, so the state's chunks
# are 64 locations wide.
RUN_SHIFT = 6
# A whole-state signature keeps locations in chunks of this many (a power of two), only
# the chunks with an item above its clamp (signatures._signature). It equals the state's
# chunks (packing.CHUNK_SHIFT) so a chunk's maximum write time can pass over a chunk.
SIG_CHUNK_SHIFT = RUN_SHIFT

# A signature's items per front end besides its rings: issue time, open flag, latest start.
FRONTEND_ITEMS = 3

HISTORY = 4  # signatures kept per loop level: periods up to this many iterations are found
