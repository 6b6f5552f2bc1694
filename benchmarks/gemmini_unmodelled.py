"""What Gemmini's RTL does that accperf leaves out, sized on ResNet-50 (issue 22 item 4).

    .venv/bin/python benchmarks/gemmini_unmodelled.py [--model resnet50] [--param k=v ...]

Prints, per distinct layer of the model on the Gemmini description (defaults unless
--param), the quantities docs/research/gemmini-unmodelled.md turns into cycle estimates:

  bank      scratchpad cycles in which the DMA writes a row into the bank the execute
            controller reads in the same cycle, for the same tile, on accperf's own
            full-mode schedule (Evaluation.timeline): an mvin's rows land one a cycle at
            the end of its data window (its last `rows` cycles), a compute reads its A rows
            one a cycle from its start, a preload its weight rows. The single-ported
            scratchpad bank lets the write win and the execute read waits a cycle
            (G Scratchpad.scala:119-126, ExecuteController.scala:428-432), so this is an
            upper bound on the execute cycles lost (they cost the layer only where the
            execute stream is on the critical path).
  later     the same, for DMA writes of a later tile into the same scratchpad half (tile
            t + 2): accperf lets them start early (isa/gemmini/lowering.py), the RTL's two
            resident loops do not (G LoopConv.scala:1253,1517-1519), so these are not
            conflicts the RTL has; they measure how far accperf's schedule overlaps them.
  a/d       cycles in which a compute's A rows and its preload's weight rows are read from
            the same bank: the execute controller then fires them one after the other
            (G ExecuteController.scala:316-357), about a cycle per such row.
  acc w/r   accumulator cycles in which a DMA bias write (mvin3), or an mvout's read, meets
            an execute write to the same bank: the execute controller wins, the DMA side
            waits (G Scratchpad.scala:721,776-781, AccumulatorMem.scala:380-383).
  cands     candidate tiles tiled_conv_auto's search evaluates (each one
            tiled_conv_total_spad_rows twice, T gemmini.h L2683-2771), counted by wrapping
            accperf's re-implementation of that search (isa/gemmini/tiling.py conv_tiles).
  pages     4 KiB pages the layer's tensors occupy (the compulsory TLB misses after a
            flush), and the pages its tiles walk, tile by tile (each tile's input window,
            weight slice, output window and bias row, as byte ranges in DRAM).

G = ucb-bar/gemmini @8c3f992, T = ucb-bar/gemmini-rocc-tests @180c468.
"""

from __future__ import annotations

import argparse
import math
import re
from collections import defaultdict
from unittest import mock

import numpy as np

import isa.gemmini.library as gemmini_library
import isa.gemmini.tiling as gemmini_tiling
from analyzer.engine.evaluate import Evaluation
from tracer import api as accperf
from tracer.trace_io import iterate_blocks, resolve_address
from tracer.workloads.layers import Conv2d, Elementwise

PAGE = 4096
LOADS = ("config_ld", "mvin", "mvin2", "mvin3")


def _pages(nbytes: int) -> int:
    return -(-nbytes // PAGE)


def bank_exposure(program, layer, evaluation, sp_rows: int, acc_rows: int) -> dict[str, int]:
    """The bank quantities of one layer (the module docstring), from the full-mode times of
    every instruction and the rows its operands name."""
    sp_bank, acc_bank = sp_rows // 4, acc_rows // 2  # G Configs.scala:44-45
    order = list(iterate_blocks(layer.root))
    count = sum(len(program.blocks[b].templates) for b, _ in order)
    first_loads = sum(
        len(program.blocks[b].templates) for b, _ in iterate_blocks(layer.root.body[0])
    )
    times = evaluation.timeline(layer, 0, count)
    horizon = int(times.end.max()) + 2
    reader_tile = np.full((4, horizon + 1), -1, dtype=np.int32)
    a_read = np.zeros((4, horizon + 1), dtype=bool)
    d_read = np.zeros((4, horizon + 1), dtype=bool)
    acc_ex_write = np.zeros((2, horizon + 1), dtype=bool)
    spad_writes, acc_writes, acc_reads = [], [], []
    k, load_tile, exec_tile, previous_was_load = 0, 0, -1, True
    for block_id, index in order:
        for t in program.blocks[block_id].templates:
            start, end = int(times.start[k]), int(times.end[k])
            # Program order: loads of tile 0, then per tile t the loads of t + 1, the
            # execute of t (opened by config_ex) and the stores of t (streams.py).
            if t.opcode in LOADS:
                if k == first_loads:
                    load_tile = 1
                elif k > first_loads and not previous_was_load:
                    load_tile += 1
                previous_was_load = True
            else:
                previous_was_load = False
            k += 1
            if t.opcode == "config_ex":
                exec_tile += 1
            if t.opcode.startswith("mvin"):
                for o in t.marks:
                    row = resolve_address(o, index)
                    window = (max(end - o.count, 0), end)
                    if o.space == "spad_loaded":
                        spad_writes.append((row // sp_bank, *window, load_tile))
                    elif o.space == "acc_loaded":
                        acc_writes.append((row // acc_bank, *window))
            elif t.opcode == "preload" or t.opcode.startswith("compute"):
                for o in t.read_marks:
                    if o.space == "spad_read":
                        rows = o.count if t.opcode == "preload" else min(o.count, t.occupancy)
                        bank = resolve_address(o, index) // sp_bank
                        reader_tile[bank, start : start + rows] = exec_tile
                        (d_read if t.opcode == "preload" else a_read)[
                            bank, start : start + rows
                        ] = True
                for o in t.marks:
                    if o.space == "acc_computed":
                        bank = resolve_address(o, index) // acc_bank
                        acc_ex_write[bank, max(end - t.occupancy, 0) : end] = True
            elif t.opcode == "mvout":
                for o in t.reads:
                    if o.space == "acc_computed":
                        acc_reads.append(
                            (resolve_address(o, index) // acc_bank, start, end, o.count)
                        )
                        break
    same = np.zeros_like(a_read)
    later = np.zeros_like(a_read)
    for bank, lo, hi, tile in spad_writes:
        readers = reader_tile[bank, lo:hi]
        same[bank, lo:hi] |= readers == tile
        later[bank, lo:hi] |= (readers >= 0) & (readers != tile)
    acc_dma = np.zeros_like(acc_ex_write)
    for bank, lo, hi in acc_writes:
        acc_dma[bank, lo:hi] = True
    written = np.concatenate(
        [np.zeros((2, 1), dtype=np.int64), np.cumsum(acc_ex_write, axis=1)], axis=1
    )
    mvout_waits = sum(
        min(reads, int(written[bank, min(hi, horizon)] - written[bank, lo]))
        for bank, lo, hi, reads in acc_reads
    )
    return {
        "bank": int(same.sum()),
        "later": int((later & ~same).sum()),
        "a/d": int((a_read & d_read).sum()),
        "acc w": int((acc_dma & acc_ex_write).sum()),
        "acc r": mvout_waits,
    }


def search_candidates(model: str, params: dict) -> tuple[object, dict[str, int]]:
    """The trace, and per conv tile (as the mapping prints it) the candidates
    tiled_conv_auto's search evaluated to find it."""
    counted = {"rows": 0}
    rows = gemmini_tiling.conv_tile_rows

    def counting_rows(*args, **kwargs):
        counted["rows"] += 1
        return rows(*args, **kwargs)

    found: dict[str, int] = {}
    search = gemmini_tiling.conv_tiles

    def counting_search(problem, memory):
        before = counted["rows"]
        tiles = search(problem, memory)
        found["x".join(str(v) for v in tiles.as_tuple())] = counted["rows"] - before
        return tiles

    with (
        mock.patch.object(gemmini_tiling, "conv_tile_rows", counting_rows),
        mock.patch.object(gemmini_library, "conv_tiles", counting_search),
    ):
        trace = accperf.lower(model, "gemmini", params=params)
    return trace, found


def tile_pages(layer, mapping) -> tuple[int, int]:
    """(pages the layer's tensors occupy, pages its tiles walk one tile after another)."""
    tiles = int(mapping.get("tiles", 1))
    if isinstance(layer, Elementwise):
        footprint = 3 * _pages(math.prod(layer.shape[1:]))
        return footprint, footprint
    if not isinstance(layer, Conv2d):
        return 0, 0
    c, k, h, w = layer.in_channels, layer.out_channels, layer.in_height, layer.in_width
    kh, kw, s = layer.kernel_height, layer.kernel_width, layer.stride[0]
    ho = (h + layer.padding[0] + layer.padding[1] - kh) // s + 1
    wo = (w + layer.padding[2] + layer.padding[3] - kw) // s + 1
    weights = kh * kw * c * k
    footprint = _pages(c * h * w) + _pages(weights) + _pages(k * ho * wo) + _pages(4 * k)
    sizes = [int(v) for v in str(mapping["tile"]).split("x")]
    if str(mapping.get("library", "")).startswith("tiled_conv_auto"):
        _, porows, pocols, _, krows, kcols, kchs = sizes
        pool = 2 if mapping.get("fused_pool") else 1
        window = 3 if pool == 2 else 1
        irows = (porows * pool + window - 1) * s + krows - 1
        icols = (pocols * pool + window - 1) * s + kcols - 1
        inputs = min(irows * (_pages(icols * c) + 1), _pages(irows * w * c) + 1)
        weight_slice = min(krows * kcols * (_pages(kchs * k) + 1), _pages(weights) + 1)
        outputs = _pages(porows * pool * wo * k) + 1
    else:  # a matmul tile of tile_I x tile_J x tile_K DIM-blocks over (pixels, K, C)
        ti, tj, tk = sizes
        inputs = _pages(16 * ti * c) + 1
        weight_slice = _pages(16 * tk * k) + 1  # tk*16 rows of k bytes: strided columns
        outputs = _pages(16 * ti * k) + 1
    return footprint, max(footprint, tiles * (inputs + weight_slice + outputs + 1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default="resnet50")
    parser.add_argument("--param", action="append", default=[], help="k=v, as accperf-trace")
    args = parser.parse_args()
    params = dict(p.split("=", 1) for p in args.param)
    trace, candidates = search_candidates(args.model, params)
    program = trace.program
    sp_rows = int(params.get("scratchpad_kib", 256)) * 1024 // 16
    acc_rows = int(params.get("accumulator_kib", 64)) * 1024 // 64
    evaluation = Evaluation(program, "full", checked=True)
    layers = {layer.name: layer for layer in accperf.load_model(args.model).layers}
    groups: dict[tuple, list] = defaultdict(list)
    for layer in program.layers:
        result = evaluation.layer(layer)
        key = (repr(layer.mapping), result.cycles)
        groups[key].append((layer, result.cycles))
    print(
        "| layer (x repeats) | accperf cycles | bank | later | a/d | acc w | acc r | cands "
        "| pages (footprint / walked) |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    totals: dict[str, int] = defaultdict(int)
    for members in groups.values():
        layer, cycles = members[0]
        found = bank_exposure(program, layer, evaluation, sp_rows, acc_rows)
        tile = str(layer.mapping.get("tile", ""))
        conv = str(layer.mapping.get("library", "")).startswith("tiled_conv_auto")
        cands = candidates.get(tile, 0) if conv else 0
        footprint, walked = tile_pages(layers.get(layer.name), layer.mapping)
        n = len(members)
        for name, value in (
            ("cycles", cycles),
            *found.items(),
            ("cands", cands),
            ("footprint", footprint),
            ("walked", walked),
        ):
            totals[name] += n * value
        cells = " | ".join(f"{found[c]:,} ({100 * found[c] / cycles:.2f}%)" for c in found)
        label = re.sub(r"\s+", " ", layer.name) + (f" (x{n})" if n > 1 else "")
        print(f"| {label} | {cycles:,} | {cells} | {cands} | {footprint:,} / {walked:,} |")
    print()
    print("totals over the model:", {k: f"{v:,}" for k, v in totals.items()})


if __name__ == "__main__":
    main()
