"""Memory-side stalls of a lowered layer: the systolic array's double-buffered SRAMs.

SCALE-Sim times a layer in two parts: the array's demand schedule (one row of operand
addresses per cycle, stall-free) and a memory system that delays rows whose operands are
not in SRAM yet or whose outputs find the output SRAM full. accperf's compute side is the
instruction-level evaluation (its cycles equal SCALE-Sim's row count, tests/
test_fidelity_scalesim.py); this module is the memory side, the same rules replayed by
isa/systolic/memory_kernels.py over the same demand order. A layer's cycles are compute
cycles + stall cycles, as SCALE-Sim's "Total Cycles" are.

Only layers the lowering marks (mapping["memory_side"]) have a memory side: a bandwidth of
0 means unlimited, SCALE-Sim's CALC mode, in which it never stalls.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from isa.kernel_door import handed_down
from isa.systolic.lowering import MEMORY_SIDE
from isa.systolic.mapping import IM2COL_FIELDS

_WORDS_PER_KIB = 1024  # SCALE-Sim's word is one byte (single_layer_sim.py, word_size=1)
NO_IM2COL = np.zeros(0, dtype=np.int64)  # a GEMM's ifmap: every address occurs once


def memory_stalls(
    mapping: Mapping[str, int | str], parameters: Mapping[str, int | str]
) -> tuple[int, int]:
    """(demand rows, stall cycles) of a layer; (0, 0) when it has no memory side.

    A layer of `repeats` independent GEMMs (conv groups, batched products) is that many
    SCALE-Sim layers, each starting with empty SRAMs, so its stalls are repeats times one
    GEMM's."""
    if mapping.get("memory_side") != MEMORY_SIDE:
        return 0, 0
    # `analyze` hands down the kernel compiled ahead of time (isa/kernel_door.py). Else the
    # JIT's, imported here rather than at the top: it brings in Numba, which lowering (and
    # every layer without a memory side) does not need.
    gemm_stalls = handed_down("isa.systolic.memory_kernels", "gemm_stalls")
    if gemm_stalls is None:
        from isa.systolic.memory_kernels import gemm_stalls
    output_stationary = str(mapping["dataflow"]) == "os"
    sr, sc, t = (int(mapping[key]) for key in ("spatial_rows", "spatial_cols", "temporal"))
    if f"im2col_{IM2COL_FIELDS[0]}" in mapping:
        # int64 as the kernel's signature says (NumPy 1.x's default int is int32 on Windows).
        geometry = np.array(
            [int(mapping[f"im2col_{name}"]) for name in IM2COL_FIELDS], dtype=np.int64
        )
    else:
        geometry = NO_IM2COL
    rows, stalls = gemm_stalls(
        output_stationary,
        sr,
        sc,
        t,
        int(parameters["rows"]),
        int(parameters["cols"]),
        int(parameters["bandwidth"]),
        int(parameters["ifmap_sram_kib"]) * _WORDS_PER_KIB,
        int(parameters["filter_sram_kib"]) * _WORDS_PER_KIB,
        int(parameters["ofmap_sram_kib"]) * _WORDS_PER_KIB,
        geometry,
    )
    repeats = int(mapping["repeats"])
    return int(rows) * repeats, int(stalls) * repeats


def stall_cycles(mapping: Mapping[str, int | str], parameters: Mapping[str, int | str]) -> int:
    """The family's memory-side hook (isa/family.py): a layer's stall cycles."""
    return memory_stalls(mapping, parameters)[1]


# SCALE-Sim's read buffer keeps 100 sets of floor(words / 100) words and fills 50 of them
# before it moves on to 50 empty ones (memory/read_buffer_estimate_bw.py; active fraction
# 0.5 from single_layer_sim.py): what it reuses lies within 50 sets' worth of new words.
_SETS, _ACTIVE_SETS = 100, 50


def dram_actions(
    mapping: Mapping[str, int | str], parameters: Mapping[str, int | str]
) -> dict[str, int]:
    """The family's layer-actions hook (isa/family.py): DRAM traffic and the SRAM fills and
    drains it causes, which the instructions do not show (they start from filled SRAMs).

    Per GEMM (each of `repeats` starts with empty SRAMs, as SCALE-Sim runs each as a
    layer of its own): an operand whose distinct words fit in its SRAM's active half is
    read from DRAM once, and so are the filters under os when one column fold's fit (its
    row folds reuse them back to back); otherwise once per use, nothing reused (the
    useful SRAM reads, SCALE-Sim's counts of them: docs/research/scalesim-counts.md §1).
    Outputs, partial sums of every row fold included, are written once each. SCALE-Sim's
    replay of its buffers, which restart empty every active half, differs where reuse
    straddles a restart; docs/accuracy.md gives the differences."""
    dataflow = str(mapping["dataflow"])
    sr, sc, t = (int(mapping[key]) for key in ("spatial_rows", "spatial_cols", "temporal"))
    repeats = int(mapping["repeats"])
    row_folds = -(-sr // int(parameters["rows"]))
    col_folds = -(-sc // int(parameters["cols"]))
    if dataflow == "ws":
        ifmap_uses, filter_uses, outputs = col_folds * t * sr, sr * sc, row_folds * t * sc
    elif dataflow == "os":
        ifmap_uses, filter_uses, outputs = col_folds * sr * t, row_folds * t * sc, sr * sc
    else:  # is: the ifmap is stationary, the filters stream
        ifmap_uses, filter_uses, outputs = sr * sc, col_folds * sr * t, row_folds * sc * t

    def fetched(distinct: int, uses: int, kib_parameter: str, group: int = 0) -> int:
        """Each word once if the operand, or the group of words consecutive folds use
        again, fits the active half; else once per use."""
        active = _ACTIVE_SETS * (int(parameters[kib_parameter]) * _WORDS_PER_KIB // _SETS)
        return distinct if distinct <= active or 0 < group <= active else uses

    ifmap = fetched(int(mapping["distinct_input_words"]), ifmap_uses, "ifmap_sram_kib")
    # SCALE-Sim runs a column fold's row folds one after another (its fold loops), so
    # under os they share that column fold's T x cols filter words back to back.
    group = t * min(sc, int(parameters["cols"])) if dataflow == "os" else 0
    weights = int(mapping["weight_words"]) // repeats
    filters = fetched(weights, filter_uses, "filter_sram_kib", group)
    return {
        "dram.read": repeats * (ifmap + filters),
        "dram.write": repeats * outputs,
        "ifmap_sram.write": repeats * ifmap,
        "filter_sram.write": repeats * filters,
        "ofmap_sram.read": repeats * outputs,
    }
