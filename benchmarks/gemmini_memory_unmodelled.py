"""Sizes of what Gemmini's memory model leaves out (docs/gemmini/memory.md, "What is left
out"): the L2's 8 ways and DRAM's row misses and refresh, on zoo models lowered onto the
default Gemmini.

    .venv/bin/python benchmarks/gemmini_memory_unmodelled.py [--models resnet50 ...] [--batch N]

The model takes the L2 as fully associative: a re-read hits while its reuse distance (the
bytes touched since, its own included) fits the L2 (isa/gemmini/hierarchy.py `reaches`).
With 8 ways of 1,024 sets (IC Configs.scala:50, 512 KiB of 64-byte lines) a line survives
a reuse distance of d lines only while fewer than 8 of the others fall in its set; with
the lines placed at random over the sets that count is Poisson(d / 1024), so the line
hits with probability P(Poisson(d / 1024) <= 7) (LRU within a set; the L2 replaces at
random, IC Directory.scala:115, which keeps a line a little longer or shorter). The
script sums the bytes the model serves from the L2 and those the 8 ways would, expected,
over every touch of every layer (the lowering's own walk, captured), and the bytes where
the two differ, either way (a touch the model hits and the ways may miss, or the reverse),
priced at the memory bus's 8 bytes a cycle: an upper bound on the cycles they could move
(LLC hits and overlap with execution only lower it).

DRAM (FASED's DDR3 FR-FCFS, FS sim/custom-runtime-configs/ddr3-FRFCFS-16G-4R-2133-OP.conf):
the model charges every access a row hit. Rows are 8 KiB (bank bits from 13, :27), so a
stream opens a row every 8 KiB; the first of a command's rows costs at most tRP + tRCD =
14 + 14 cycles (:18,15), the later ones are opened while the earlier row streams (8 KiB
takes 1,024 cycles on the memory bus, FR-FCFS looks 8 requests ahead). Upper bound: 28
cycles for every touch served by DRAM. Refresh: a rank is busy tRFC = 260 of every tREFI =
7,800 cycles (:16,13), at most 3.3% of the cycles DRAM's bytes take on the memory bus.
"""

from __future__ import annotations

import argparse
from math import exp
from unittest import mock

import accperf
from isa.gemmini import library, lowering
from isa.gemmini.hierarchy import Touch, reaches

L2_SETS, L2_WAYS, LINE = 1024, 8, 64  # IC Configs.scala:50-51, RC BankedCoherenceParams.scala:23
MEMORY_BUS_BYTES = 8
ROW_MISS = 14 + 14  # tRP + tRCD
REFRESH = 260 / 7800  # tRFC / tREFI


def survives(reuse_bytes: int) -> float:
    """P(Poisson(lines / sets) <= ways - 1): a line's chance to hit in an 8-way L2 after
    `reuse_bytes` of lines were touched since its last touch."""
    mean = reuse_bytes / LINE / L2_SETS
    term = total = exp(-mean)
    for k in range(1, L2_WAYS):
        term *= mean / k
        total += term
    return total


def layer_touches(model: str, batch: int, params: dict[str, str]) -> tuple[list, int]:
    """Every layer's touches with their reach, as the lowering walked them, and the
    network's cycles on that description."""
    walked: list[Touch] = []
    calls = 0
    real = library.cache_levels

    def capture(touches, l2_bytes, cache_at_start, warm=None, llc_bytes=0):
        nonlocal calls
        calls += 1
        walked.extend(reaches(touches, cache_at_start, warm))
        return real(touches, l2_bytes, cache_at_start, warm, llc_bytes)

    # The lowering tags each class of equal layers once (lowering._tree_key); every
    # layer's touches are wanted here, so each layer is its own class.
    with (
        mock.patch.object(library, "cache_levels", capture),
        mock.patch.object(lowering, "_tree_key", lambda tiles, warm: object()),
    ):
        trace = accperf.lower(model, "gemmini", params=params, batch=batch)
    if calls != len(trace.program.layers):
        raise SystemExit(
            f"{model}: the lowering tagged {calls} of {len(trace.program.layers)} layers' "
            "touches; this script no longer sees every layer (isa/gemmini/lowering.py)"
        )
    return walked, accperf.analyze(trace).total_cycles


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", nargs="+", default=["resnet50", "mobilenet_v2", "bert_base"])
    parser.add_argument("--batch", type=int, default=1)
    args = parser.parse_args()
    spec = accperf.accelerator_spec("gemmini")
    defaults = {p.name: p.default for p in spec.parameters}
    l2, llc = int(defaults["l2_kib"]) * 1024, int(defaults["llc_kib"]) * 1024
    print(f"default Gemmini: L2 {l2 // 1024} KiB, {L2_WAYS} ways of {L2_SETS} sets")
    print(f"batch {args.batch}")
    print(
        "model | cycles | touched MB | L2 MB (model) | L2 MB (8 ways, expected) | "
        "L2 MB either way, gross | bound: those / 8 B, % of cycles | DRAM touches | "
        "row misses bound, % | refresh bound, %"
    )
    for model in args.models:
        walked, cycles = layer_touches(model, args.batch, {})
        touches = [touch for tile in walked for touch in tile]
        touched = sum(t.size for t in touches)
        fully = sum(t.size for t in touches if t.reach is not None and t.reach <= l2)
        ways = sum(t.size * survives(t.reach) for t in touches if t.reach is not None)
        # Bytes one model serves from the L2 and the other not, summed both ways.
        gross = sum(
            t.size * abs(survives(t.reach) - (t.reach <= l2))
            for t in touches
            if t.reach is not None
        )
        moved = gross / MEMORY_BUS_BYTES
        dram = [t for t in touches if t.reach is None or t.reach > llc]
        dram_bytes = sum(t.size for t in dram)
        rows = ROW_MISS * len(dram)
        refresh = REFRESH * dram_bytes / MEMORY_BUS_BYTES
        print(
            f"{model} | {cycles:,} | {touched / 1e6:.1f} | {fully / 1e6:.2f} | {ways / 1e6:.2f} "
            f"| {gross / 1e6:.2f} | {moved:,.0f}, {100 * moved / cycles:.2f}% | {len(dram):,} | "
            f"{rows:,}, {100 * rows / cycles:.2f}% | {refresh:,.0f}, {100 * refresh / cycles:.2f}%"
        )


if __name__ == "__main__":
    main()
