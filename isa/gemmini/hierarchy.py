"""The memory behind Gemmini's DMA: the SoC's L2, FASED's LLC and DRAM, and where each
tile's data is.

The usual FireSim Gemmini SoC (Chipyard's GemminiRocketConfig under FireSim's config
tweaks and its DDR3FRFCFSLLC4MB memory model; accelerators/gemmini.toml gives every
figure's source): the DMA's requests cross the system bus to an inclusive L2 (SiFive's
InclusiveCache), which serves a hit from its banked store and sends a miss over the
memory bus to FASED, whose last-level-cache model serves its hits and sends its misses to
the DDR3 model. Two things decide a request's cost: where its data is (`L2`, `LLC` or
`DRAM`), and which requests it queues with: the L2 takes one request per set at a time
(C = chipsalliance/rocket-chip-inclusive-cache @85420cf, Scheduler.scala:172-185: a
request whose set has a live MSHR queues behind it), a queued request for the same line
then served back to back, one a cycle (Scheduler.scala:204-236,
MSHR.scala:183-191,521-541); and the LLC model takes its requests in order, one at a
time, a request to a block whose refill is in flight stalling all behind it (F =
firesim/firesim @be558e3f, sim/midas/src/main/scala/midas/models/dram/
LastLevelCache.scala:201-204, MSHR.setCollision :27).

`MemoryPath` turns one DMA command's requests into cycles per level; `cache_levels` tags
each tile's operands with the level holding them when the tile loads (or stores) them,
from the tiles' loop order and the reuse distance (the bytes of other data touched since
the previous touch of the same data) against the L2's capacity. The model is an LRU stack
over regions (one region per operand per tile position, data identified by the tile's
start in the layer): simplifications, said in docs/gemmini/memory.md.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

L2 = "l2"
LLC = "llc"
DRAM = "dram"
CACHE_AT_START = ("empty", "previous_layer", "same_layer")


@dataclass(frozen=True)
class Where:
    """Where an operand's rows are: the level holding them (`L2`, `LLC` or `DRAM`) and
    the DRAM bytes from one row to the next (0: a row repeated or on lines of its own)."""

    level: str = DRAM
    stride: int = 0
    # Bytes of each DRAM row the tile reads, over all its commands (0: just this one's):
    # when a command moves a narrower piece, its neighbours (the next column blocks) read
    # the rest of each line it brings into the L2.
    row_width: int = 0


FIRST_TOUCH = Where()  # in DRAM, each row on lines of its own


@dataclass(frozen=True)
class TileMemory:
    """Where a tile's four operands are when it moves them: inputs (A), weights (B; a
    residual addition's second input), bias (D) and outputs (C)."""

    input: Where = Where()
    weight: Where = Where()
    bias: Where = Where()
    output: Where = Where()


@dataclass(frozen=True)
class Lines:
    """What one command's rows bring into the L2: `count` lines, `per_line` requests to
    a line, and `blocks` LLC blocks those lines fall in (each line its own without an
    LLC)."""

    count: int
    per_line: int
    blocks: int


@dataclass(frozen=True)
class MemoryPath:
    """The L2, the LLC and DRAM as one DMA command sees them (accelerators/gemmini.toml)."""

    system_bus_bytes: int
    system_bus_latency: int
    l2_hit_latency: int
    l2_line_bytes: int
    l2_mshrs: int
    memory_bus_bytes: int
    memory_bus_latency: int
    dram_latency: int
    llc_block_bytes: int = 0  # 0: no LLC model
    llc_mshrs: int = 1
    llc_lookup_latency: int = 0

    @property
    def line_beats(self) -> int:
        """Cycles a line takes on the memory bus."""
        return -(-self.l2_line_bytes // self.memory_bus_bytes)

    @property
    def block_beats(self) -> int:
        """Cycles the LLC model's refill of a block takes (its data array one beat a
        cycle, F LastLevelCache.scala:353-359,448-451)."""
        return -(-self.llc_block_bytes // self.memory_bus_bytes)

    def reach(self, level: str) -> int:
        """Cycles from a DMA request to its first data beat (or its write's ack): the
        system bus both ways and the L2's pipeline; past the L2 also the memory bus both
        ways, the LLC model's lookup (when there is one), on a miss there DRAM's read
        latency, and the line's return over the memory bus (C MSHR.scala:619-620: a miss
        acquires the block, for writes too)."""
        hit = self.system_bus_latency + self.l2_hit_latency
        if level == L2:
            return hit
        beyond = hit + self.memory_bus_latency + self.llc_lookup_latency + self.line_beats
        return beyond if level == LLC else beyond + self.dram_latency

    def lines(self, rows: int, row_bytes: int, where: Where) -> Lines:
        """The lines `rows` rows of `row_bytes` bytes, `where.stride` bytes apart in DRAM,
        one request per row, bring into the L2: rows narrower than a line share one when
        their stride is shorter than it (lines taken as aligned to the first row); a row
        piece whose neighbours in the same DRAM row are read by the tile's next commands
        (`where.row_width`) brings in its share of a line, and its lines' blocks are
        their own (the neighbours come later, behind the refill)."""
        line, stride = self.l2_line_bytes, where.stride
        block = max(self.llc_block_bytes, line)
        if 0 < stride < line and rows > 1:
            span = (rows - 1) * stride + row_bytes
            count = -(-span // line)
            return Lines(count, min(rows, -(-line // stride)), -(-span // block))
        if row_bytes < line and where.row_width > row_bytes:
            count = -(-rows * row_bytes // min(line, where.row_width))
            return Lines(count, 1, count)
        if 0 < stride < block and rows > 1 and stride >= row_bytes:
            span = (rows - 1) * stride + row_bytes
            return Lines(rows * -(-row_bytes // line), 1, -(-span // block))
        return Lines(rows * -(-row_bytes // line), 1, rows * -(-row_bytes // block))

    def occupancy(
        self, level: str, requests: int, lines: Lines, line_cycles: int | None = None
    ) -> int:
        """Cycles the L2 (and what is behind it) needs for `requests` requests on
        `lines`: at most `l2_mshrs` served at once (C Parameters.scala:294-301,
        Scheduler.scala:72: the MSHRs for inner requests), the requests to one set one
        after another (C Scheduler.scala:172-185), past the L2 every line over the memory
        bus, and for DRAM behind the LLC model the model's own pace (`_llc_misses`).
        A line's first request takes the hit pipeline (or the miss); the others, queued
        behind its MSHR, follow one a cycle: the MSHR's last schedule of a request (its D
        response, `reload` = no_wait) reloads the next queued request for the set into the
        same MSHR (C Scheduler.scala:204-236, "SCHEDULER_RELOAD: Back-to-back service of
        two requests"), which, of the same tag (`repeat`), keeps the directory entry and
        schedules its response the next cycle (C MSHR.scala:183-191,506,521-541); the
        scheduler picks one MSHR a cycle (Scheduler.scala:117-123). `line_cycles`: the
        cycles a line's requests hold its set, the first one's cycle included (default
        `lines.per_line`, one each)."""
        busy = lines.per_line if line_cycles is None else line_cycles
        hit = self.l2_hit_latency
        if level == L2:
            serving = -(-requests * hit // self.l2_mshrs)
            return max(serving, hit + busy - 1)
        miss = self.reach(level) - self.system_bus_latency
        serving = -(-lines.count * miss // self.l2_mshrs)
        cycles = max(lines.count * self.line_beats, serving, miss + busy - 1)
        if level == DRAM and self.llc_block_bytes:
            cycles = max(cycles, self._llc_misses(lines))
        return cycles

    def _llc_misses(self, lines: Lines) -> int:
        """Cycles FASED's LLC model takes for `lines` missing in it, falling in
        `lines.blocks` blocks (F LastLevelCache.scala): it takes one request at a time
        from one queue (:201-204); a miss holds it for its lookup, two cycles (idle, then
        the metadata read, :392-398,404-415), and its refill for the block's beats
        (:353-359,448-451), and at most `llc_mshrs` misses are out (:183-184,199); a
        request to a block whose refill is in flight (the block's other line) waits at
        the queue's head, everything behind it too (:203-204, MSHR.setCollision :27), for
        DRAM's latency and the refill, then reads the line as a hit in a line's beats
        (:360-362,443-446)."""
        lookup, refill = self.llc_lookup_latency, self.block_beats
        paired = min(max(lines.count - lines.blocks, 0), lines.blocks)
        in_order = (lines.blocks - paired) * (lookup + refill) + paired * (
            lookup + self.dram_latency + refill + self.line_beats
        )
        outstanding = -(-lines.blocks * (lookup + self.dram_latency + refill) // self.llc_mshrs)
        return max(in_order, outstanding)


Region = tuple[str, Hashable, int]  # (operand, what data, bytes)


def _bytes_since(keys: np.ndarray, sizes: np.ndarray) -> np.ndarray:
    """For each touch of a sequence (`keys[i]` touched with `sizes[i]` bytes), the bytes of
    the other regions touched since its key's previous touch, each region counted once at
    its latest size: what an LRU stack of regions gives as the touch's reuse distance; -1
    for a first touch.

    Touch i with previous touch p counts the touches j in (p, i) whose key is not touched
    again before i (their next touch comes after i). That is every size in (p, i) less the
    sizes of the touches j > p whose next touch comes before i, a dominance sum over the
    points (j, next touch of j), taken for all touches at once over a merge-sort tree on j
    (one sorted level per power of two; the suffix j > p splits into at most one block a
    level), so that layers of tens of thousands of touches take numpy calls, not Python
    steps."""
    n = len(keys)
    since = np.full(n, -1, dtype=np.int64)
    if n == 0:
        return since
    order = np.argsort(keys, kind="stable")
    same = keys[order[1:]] == keys[order[:-1]]
    previous = np.full(n, -1, dtype=np.int64)
    previous[order[1:][same]] = order[:-1][same]
    following = np.full(n, n, dtype=np.int64)  # n: never touched again
    following[order[:-1][same]] = order[1:][same]
    prefix = np.concatenate(([0], np.cumsum(sizes)))

    queries = np.flatnonzero(previous >= 0)
    if len(queries) == 0:
        return since
    after = previous[queries]
    before = queries  # a touch j in (p, i) whose next touch is below i is nested in it
    between = prefix[before] - prefix[after + 1]
    nested = np.zeros(len(queries), dtype=np.int64)
    levels = (n - 1).bit_length()  # n >= 2: some touch has a previous one
    stride = n + 1  # above every next-touch index: a block's keys never reach the next's
    low = after + 1  # the suffix [low, 2^levels) of touches, split into aligned blocks
    sort = np.arange(n, dtype=np.int64)  # touches by (block, next touch) at each level
    for level in range(levels):
        # Each block is two blocks of the level below, each sorted already: a stable sort
        # (a merge of runs) of the order below takes about one pass.
        block_keys = (sort >> level) * stride + following[sort]
        order = np.argsort(block_keys, kind="stable")
        sort = sort[order]
        sorted_keys = block_keys[order]
        cumulative = np.concatenate(([0], np.cumsum(sizes[sort])))
        take = ((low >> level) & 1).astype(bool) & (low < n)
        block = low[take] >> level
        first = np.searchsorted(sorted_keys, block * stride, side="left")
        last = np.searchsorted(sorted_keys, block * stride + before[take], side="left")
        nested[take] += cumulative[last] - cumulative[first]
        low[take] += 1 << level
    since[queries] = between - nested
    return since


class Touch(NamedTuple):
    """One operand's touch of its region in a tile: `reach`, the bytes that must still fit
    in a cache for the touch to hit it (the bytes touched since the region's last touch,
    its own included; or, for a first touch of what the layer before left, that tensor
    and what this layer brought in since); None for a first touch, from DRAM."""

    operand: str
    size: int
    reach: int | None


def reaches(
    touches: Sequence[Sequence[Region]],
    cache_at_start: str,
    warm: dict[str, int] | None = None,
) -> list[list[Touch]]:
    """Each tile's touches (`touches[t]`: the regions tile t reads or writes, in its
    order) with their reach: the tiles walked in order over an LRU stack of regions
    (`_bytes_since` takes every touch's distance at once).

    `cache_at_start`: `empty`, nothing cached; `previous_layer`, the operands in `warm`
    (operand -> bytes of the tensor the layer before left in the caches) find it at their
    first touch; `same_layer`, the layer ran just before on the same addresses (its
    touches replayed once first)."""
    warm = warm or {}
    passes = 2 if cache_at_start == "same_layer" else 1
    ids: dict[tuple[str, Hashable], int] = {}
    keys = [ids.setdefault((op, key), len(ids)) for tile in touches for op, key, _ in tile]
    operands = [op for tile in touches for op, _, _ in tile]
    sizes = np.array([size for tile in touches for _, _, size in tile], dtype=np.int64)
    n = len(keys)
    # `same_layer` replays the touches once first: only the second pass is reported.
    since = _bytes_since(np.array(keys * passes, dtype=np.int64), np.tile(sizes, passes))
    since = since[(passes - 1) * n :]
    first = since < 0
    reach = since + sizes
    if cache_at_start == "previous_layer" and warm:
        in_warm = np.array([op in warm for op in operands], dtype=bool)
        tensor = np.array([warm.get(op, 0) for op in operands], dtype=np.int64)
        # Bytes this layer brought into the caches from DRAM before each touch.
        fetched = np.where(first & ~in_warm, sizes, 0)
        brought_in = np.cumsum(fetched) - fetched
        finds_tensor = first & in_warm  # the region is in the tensor left warm
        reach[finds_tensor] = tensor[finds_tensor] + brought_in[finds_tensor]
        first &= ~finds_tensor
    found = [None if f else r for f, r in zip(first.tolist(), reach.tolist(), strict=True)]
    walked: list[list[Touch]] = []
    i = 0
    for tile in touches:
        walked.append([Touch(op, size, found[i + k]) for k, (op, _, size) in enumerate(tile)])
        i += len(tile)
    return walked


def cache_levels(
    touches: Sequence[Sequence[Region]],
    l2_bytes: int,
    cache_at_start: str,
    warm: dict[str, int] | None = None,
    llc_bytes: int = 0,
) -> list[dict[str, str]]:
    """The level holding each operand of each tile (`reaches`): `L2` when its reach fits
    `l2_bytes`, else `LLC` when it fits `llc_bytes` (every line the L2 fetched passed
    through the LLC model, which fills a block on every miss, F
    LastLevelCache.scala:280-306), else `DRAM`."""

    def level(reach: int | None) -> str:
        if reach is None:
            return DRAM
        if reach <= l2_bytes:
            return L2
        return LLC if reach <= llc_bytes else DRAM

    return [
        {touch.operand: level(touch.reach) for touch in tile}
        for tile in reaches(touches, cache_at_start, warm)
    ]
