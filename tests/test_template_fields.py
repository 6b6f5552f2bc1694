"""The template table (isa.program.TEMPLATE_FIELDS) drives the trace's columns and the
kernel's template row; these pin what each derives from it."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.ipc as ipc

from analyzer.engine.packing import pack_blocks
from analyzer.engine.template_row import COLUMN, COLUMN_NAMES, TEMPLATE_COLUMNS
from isa.program import TEMPLATE_FIELDS, Block, BlockRef, LayerProgram, Loop, Program, Template
from tests.builders import op
from tracer.trace_io import TEMPLATES, write_trace
from tracer.trace_read import read_trace


def _queued_program() -> Program:
    """Two templates exercising every field kind: units, cycles, flag, all four operand
    lists and both queues."""
    first = Template(
        opcode="load",
        unit="dma",
        instance=1,
        latency=7,
        occupancy=3,
        read_time=2,
        reads=(op("r", 0), op("r", 1)),
        writes=(op("r", 2),),
        bundle_start=True,
        read_marks=(op("m", 0),),
        marks=(op("m", 1), op("m", 2)),
        queue="ld",
        issue_queue="ex",
    )
    second = Template("exec", "alu", 0, 1, 1, 0, (op("r", 2),), (), False, queue="ex")
    layer = LayerProgram("l", "test", 0, {}, Loop("layer", 3, (BlockRef(0),)))
    return Program(
        accelerator="test",
        parameters={},
        bundles_per_cycle=1,
        window_bundles=4,
        frontend_delay=0,
        units={"alu": 1, "dma": 2},
        spaces={"r": 4, "m": 3},
        blocks=(Block("b", (first, second)),),
        layers=(layer,),
        queues={"ld": 2, "ex": 3},
        model="queued",
        isa="gemmini",  # a trace names a known family; this one only needs to round-trip
    )


def test_a_template_row_holds_each_field_by_its_kind():
    rows = pack_blocks(_queued_program()).arrays.templates
    assert rows.shape == (2, TEMPLATE_COLUMNS) and len(COLUMN_NAMES) <= TEMPLATE_COLUMNS
    first, second = rows[0], rows[1]
    assert first[COLUMN["unit"]] == 1 + 1  # dma's instances follow alu's one
    assert second[COLUMN["unit"]] == 0
    assert [first[COLUMN[name]] for name in ("latency", "occupancy", "read_time")] == [7, 3, 2]
    assert (first[COLUMN["bundle_start"]], second[COLUMN["bundle_start"]]) == (1, 0)
    assert (first[COLUMN["queue"]], first[COLUMN["issue_queue"]]) == (0, 1)
    assert (second[COLUMN["queue"]], second[COLUMN["issue_queue"]]) == (1, -1)
    # Operand lists back to back in field order: 2 reads, 1 write, 1 read mark, 2 marks.
    ends = [first[COLUMN[f"{name}_end"]] for name in ("reads", "writes", "read_marks", "marks")]
    assert first[COLUMN["operands_first"]] == 0 and ends == [2, 3, 4, 6]
    assert second[COLUMN["operands_first"]] == 6
    assert first[COLUMN["simple"]] == 1  # one fixed location each, no chunks


def test_the_trace_stores_every_template_field_and_reads_them_in_any_order(tmp_path):
    program = _queued_program()
    folder = write_trace(program, tmp_path, materialize_iterations=1)
    path = folder / TEMPLATES
    with pa.memory_map(str(path), "r") as source:
        table = ipc.open_file(source).read_all()
    names = [spec.name for spec in TEMPLATE_FIELDS]
    assert table.column_names == ["block", "block_name", "position", *names]
    # A file with the same columns in another order (as written before the table ordered
    # them) is the same trace.
    shuffled = table.select(list(reversed(table.column_names)))
    with pa.OSFile(str(path), "wb") as sink, ipc.new_file(sink, shuffled.schema) as writer:
        writer.write_table(shuffled)
    assert read_trace(folder) == program


def test_the_compiled_kernel_is_cached_per_template_row(monkeypatch):
    # Numba keys its disk cache by the contents of kernels.py, while the row's columns
    # come from the template table in another file: the key must carry them, or a new
    # field would run machine code compiled for the old columns.
    from analyzer.engine import kernels

    cache = kernels.evaluate_layer._cache
    codegen = kernels.evaluate_layer.targetctx.codegen()
    before = cache._index_key((), codegen)
    monkeypatch.setattr(kernels, "COLUMN_NAMES", (*COLUMN_NAMES, "new_field"))
    assert cache._index_key((), codegen) != before
