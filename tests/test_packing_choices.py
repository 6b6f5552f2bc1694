"""What packing chooses per program (analyzer/engine/packing.py, docs/design.md §3.7):
chunked locations, kept runs and the hot paths. The choices change no cycle (the
exactness properties force each either way); they decide the speed, so these tests pin
them on the programs they were made for, weighing each operand by how often the layers
run it."""

from __future__ import annotations

from dataclasses import replace

import pytest

from analyzer.engine.layout import SIMPLE_FIXED, SIMPLE_MOVING, SIMPLE_SHARED
from analyzer.engine.packing import pack_blocks
from analyzer.engine.template_row import T_SIMPLE
from isa.program import Block, BlockRef, LayerProgram, Loop, Operand, Program, Template
from tracer.lowering import lower_model

WIDE = 300  # locations: over CHUNKED_SPAN


def _program(trips: int, width: int = WIDE) -> Program:
    """A read of `width` locations once, then `trips` one-location instructions."""
    wide = Template("wide", "u", 0, 1, 1, 0, (Operand("m", 0, width),), (), True)
    narrow = Template("narrow", "u", 0, 1, 1, 0, (Operand("m", 0),), (Operand("m", 1),), True)
    root = Loop("layer", 1, (BlockRef(0), Loop("l", trips, (BlockRef(1),))))
    blocks = (Block("wide", (wide,)), Block("narrow", (narrow,)))
    layer = LayerProgram("L", "t", 0, {}, root)
    return Program("t", {}, 1, 1, 0, {"u": 1}, {"m": WIDE}, blocks, (layer,))


@pytest.mark.parametrize(("trips", "chunked"), [(1, True), (100, True), (200, False)])
def test_chunks_weigh_each_operand_by_its_runs(trips, chunked):
    # Per template, the wide read names 300 locations against the loop's 2: always chunked.
    # Weighed by runs, the loop names 2 x trips: ranges name at least half up to 150 trips.
    arrays = pack_blocks(_program(trips)).arrays
    assert (arrays.chunk_shift > 0) == chunked
    assert arrays.keeps_runs == chunked


def test_ranges_none_of_them_wide_keep_runs_without_chunks():
    # Chunks pay for ranges of hundreds of locations (Gemmini's multi-block mvins); a
    # range of 64 costs 64 steps either way.
    arrays = pack_blocks(_program(1, width=64)).arrays
    assert arrays.chunk_shift == 0
    assert arrays.keeps_runs


def test_a_block_no_layer_runs_weighs_nothing_and_without_layers_templates_count_once():
    program = _program(200)
    narrow_only = LayerProgram("U", "t", 0, {}, Loop("layer", 1, (BlockRef(1),)))
    assert pack_blocks(replace(program, layers=(narrow_only,))).arrays.chunk_shift == 0
    assert pack_blocks(replace(program, layers=())).arrays.chunk_shift > 0


def test_a_systolic_os_array_runs_its_pes_on_the_hot_paths():
    # A fold's sync reads the array's R x C outputs once; every PE instruction of its
    # steps names one location. Weighed per template, the sync's read chunked every
    # array of 32x32 and more in os (found at ad54f1c), and full evaluation ran at a third
    # of its speed.
    program = lower_model("systolic", {"rows": "32", "cols": "32", "dataflow": "os"}, "tc_resnet8")
    packed = pack_blocks(program)
    assert packed.arrays.chunk_shift == 0
    assert not packed.arrays.keeps_runs
    pe_rows = [
        k
        for k, template in enumerate(t for block in program.blocks for t in block.templates)
        if template.unit == "pe"
    ]
    simple = packed.arrays.templates[pe_rows, T_SIMPLE]
    assert set(simple.tolist()) <= {SIMPLE_FIXED, SIMPLE_MOVING, SIMPLE_SHARED}
    # Most MACs' registers move as their PE does: one offset for all, the shifted hot path
    # (a row's first PE reads its row's port, which moves otherwise).
    templates = [t for block in program.blocks for t in block.templates]
    macs = [k for k in pe_rows if templates[k].opcode == "mac"]
    assert 2 * int((packed.arrays.templates[macs, T_SIMPLE] == SIMPLE_SHARED).sum()) > len(macs)


def test_a_template_shifts_only_if_every_operand_moves_as_its_instance():
    # A systolic preload reads the fold token, which stays put: the moving path.
    program = lower_model("systolic", {"rows": "8", "cols": "8", "dataflow": "ws"}, "tc_resnet8")
    packed = pack_blocks(program)
    templates = [t for block in program.blocks for t in block.templates]
    kinds: dict[tuple[str, bool], set[int]] = {}
    for t, kind in zip(templates, packed.arrays.templates[:, T_SIMPLE].tolist(), strict=True):
        if t.unit == "pe":
            token = any(op.space == "fold_token" for op in t.operands())
            kinds.setdefault((t.opcode, token), set()).add(kind)
    assert SIMPLE_MOVING in kinds[("preload", True)]
    assert SIMPLE_SHARED not in kinds[("preload", True)]
    assert SIMPLE_SHARED in kinds[("mac", False)]


def test_gemmini_keeps_chunks_and_runs():
    program = lower_model("gemmini", {}, "resnet18")
    arrays = pack_blocks(program).arrays
    assert arrays.chunk_shift > 0
    assert arrays.keeps_runs
