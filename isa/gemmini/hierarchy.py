"""The memory behind Gemmini's DMA: the SoC's L2 and DRAM, and where each tile's data is.

The usual FireSim Gemmini SoC (Chipyard's GemminiRocketConfig under FireSim's config
tweaks; accelerators/gemmini.toml gives every figure's source): the DMA's requests cross
the system bus to an inclusive L2 (SiFive's InclusiveCache), which serves a hit from its
banked store and sends a miss over the memory bus to FASED's DDR3 model. Two things decide
a request's cost: where its data is (`L2` or `DRAM`), and which requests it shares an L2
set with, since the L2 takes one request per set at a time (C =
chipsalliance/rocket-chip-inclusive-cache @85420cf, Scheduler.scala:172-185: a request
whose set has a live MSHR queues behind it); a queued request for the same line is then
served back to back, one a cycle (Scheduler.scala:204-236, MSHR.scala:183-191,521-541).

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

L2 = "l2"
DRAM = "dram"
CACHE_AT_START = ("empty", "previous_layer", "same_layer")


@dataclass(frozen=True)
class Where:
    """Where an operand's rows are: the level holding them (`L2` or `DRAM`) and the DRAM
    bytes from one row to the next (0: a row repeated or on lines of its own)."""

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
class MemoryPath:
    """The L2 and DRAM as one DMA command sees them (accelerators/gemmini.toml)."""

    system_bus_bytes: int
    system_bus_latency: int
    l2_hit_latency: int
    l2_line_bytes: int
    l2_mshrs: int
    memory_bus_bytes: int
    dram_latency: int

    @property
    def line_beats(self) -> int:
        """Cycles a line takes on the memory bus."""
        return -(-self.l2_line_bytes // self.memory_bus_bytes)

    def reach(self, level: str) -> int:
        """Cycles from a DMA request to its first data beat (or its write's ack): the
        system bus both ways and the L2's pipeline; on a miss also the L2's request to
        DRAM and the line's return over the memory bus (C MSHR.scala:619-620: a miss
        acquires the block, for writes too)."""
        hit = self.system_bus_latency + self.l2_hit_latency
        return hit if level == L2 else hit + self.dram_latency + self.line_beats

    def lines(self, rows: int, row_bytes: int, where: Where) -> tuple[int, int]:
        """(L2 lines it brings in, requests per line) of `rows` rows of `row_bytes` bytes,
        `where.stride` bytes apart in DRAM, one request per row: rows narrower than a line
        share one when their stride is shorter than it (lines taken as aligned to the first
        row); a row piece whose neighbours in the same DRAM row are read by the tile's next
        commands (`where.row_width`) brings in its share of a line."""
        line, stride = self.l2_line_bytes, where.stride
        if 0 < stride < line and rows > 1:
            span = (rows - 1) * stride + row_bytes
            return -(-span // line), min(rows, -(-line // stride))
        if row_bytes < line and where.row_width > row_bytes:
            return -(-rows * row_bytes // min(line, where.row_width)), 1
        return rows * -(-row_bytes // line), 1

    def occupancy(self, level: str, requests: int, lines: int, per_line: int) -> int:
        """Cycles the L2 (and DRAM behind it) needs for `requests` requests on `lines`
        lines, `per_line` to a line: at most `l2_mshrs` served at once (C
        Parameters.scala:294-301, Scheduler.scala:72: the MSHRs for inner requests), the
        requests to one set one after another (C Scheduler.scala:172-185), and on a miss
        every line over the memory bus. A line's first request takes the hit pipeline (or
        the miss); the others, queued behind its MSHR, follow one a cycle: the MSHR's last
        schedule of a request (its D response, `reload` = no_wait) reloads the next queued
        request for the set into the same MSHR (C Scheduler.scala:204-236, "SCHEDULER_RELOAD:
        Back-to-back service of two requests"), which, of the same tag (`repeat`), keeps
        the directory entry and schedules its response the next cycle (C
        MSHR.scala:183-191,506,521-541); the scheduler picks one MSHR a cycle
        (Scheduler.scala:117-123)."""
        hit = self.l2_hit_latency
        if level == L2:
            serving = -(-requests * hit // self.l2_mshrs)
            return max(serving, hit + per_line - 1)
        miss = hit + self.dram_latency + self.line_beats
        serving = -(-lines * miss // self.l2_mshrs)
        return max(lines * self.line_beats, serving, miss + per_line - 1)


Region = tuple[str, Hashable, int]  # (operand, what data, bytes)


class _RecencyStack:
    """An LRU stack of regions with their bytes: how many bytes of other regions were
    touched since a region's last touch (a Fenwick tree over touch times)."""

    def __init__(self, touches: int) -> None:
        self.tree = [0] * (touches + 1)
        self.last: dict[Hashable, tuple[int, int]] = {}  # region -> (time, bytes)
        self.clock = 0
        self.total = 0  # bytes of every region, each at its last touch

    def _add(self, time: int, amount: int) -> None:
        index = time + 1
        while index < len(self.tree):
            self.tree[index] += amount
            index += index & -index

    def _before(self, time: int) -> int:
        """Bytes of regions last touched before `time`."""
        total, index = 0, time
        while index > 0:
            total += self.tree[index]
            index -= index & -index
        return total

    def touch(self, key: Hashable, size: int) -> int | None:
        """Bytes of other regions touched since `key`'s last touch (None: never)."""
        now = self.clock
        self.clock += 1
        previous = self.last.get(key)
        since = None
        if previous is not None:
            time, old_size = previous
            since = self.total - self._before(time + 1)
            self._add(time, -old_size)
            self.total -= old_size
        self._add(now, size)
        self.total += size
        self.last[key] = (now, size)
        return since


def cache_levels(
    touches: Sequence[Sequence[Region]],
    l2_bytes: int,
    cache_at_start: str,
    warm: dict[str, int] | None = None,
) -> list[dict[str, str]]:
    """The level holding each operand of each tile (`touches[t]`: the regions tile t
    reads or writes, in its order): `L2` when the region was touched before and at most
    `l2_bytes` of data (its own included) were touched since, else `DRAM`.

    `cache_at_start`: `empty`, nothing cached; `previous_layer`, the operands in `warm`
    (operand -> bytes of the tensor the layer before left in the L2) hit at their first
    touch while that tensor and what this layer brought in since still fit; `same_layer`,
    the layer ran just before on the same addresses (its touches replayed once first)."""
    warm = warm or {}
    passes = 2 if cache_at_start == "same_layer" else 1
    stack = _RecencyStack(passes * sum(len(regions) for regions in touches))
    brought_in = 0  # bytes this layer brought into the L2 from DRAM so far
    levels: list[dict[str, str]] = []
    for pass_index in range(passes):
        for regions in touches:
            tile_levels = {}
            for operand, key, size in regions:
                since = stack.touch((operand, key), size)
                if since is not None:
                    hit = since + size <= l2_bytes
                elif cache_at_start == "previous_layer" and operand in warm:
                    hit = warm[operand] + brought_in <= l2_bytes  # the region is in it
                else:
                    hit = False
                if since is None and operand not in warm:
                    brought_in += size
                tile_levels[operand] = L2 if hit else DRAM
            if pass_index == passes - 1:
                levels.append(tile_levels)
    return levels
