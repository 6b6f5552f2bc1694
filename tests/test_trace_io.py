"""Trace folders: round trip, atomic replacement, and every kind of damage reported."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pyarrow as pa
import pyarrow.ipc as ipc
import pytest

from analyzer.engine.evaluate import evaluate_program
from isa.program import MAX_DEPTH
from tests.builders import instr, op
from tests.builders import program as program_of
from tracer import trace_io
from tracer.errors import TraceError
from tracer.lowering import lower_model
from tracer.trace_io import write_trace
from tracer.trace_read import read_trace

PARAMS = {"rows": "4", "cols": "4", "dataflow": "ws"}
LAYERS = ["layer4.0.conv1", "fc"]


@pytest.fixture(scope="module")
def program():
    return lower_model("systolic", PARAMS, "resnet50", layers=LAYERS)


def test_round_trip_gives_the_same_program_and_cycles(tmp_path, program):
    folder = write_trace(program, tmp_path, materialize_iterations=2)
    assert folder.name == "resnet50__systolic"
    loaded = read_trace(folder)
    assert loaded == program
    assert [r.cycles for r in evaluate_program(loaded)] == [
        r.cycles for r in evaluate_program(program)
    ]


@pytest.mark.parametrize(
    ("accelerator", "model", "params"),
    [
        ("gemmini", "resnet18", {}),
        ("gemmini", "bert_base", {"dataflow": "os"}),
        ("plasticine", "bert_base", {}),
        ("ultratrail", "tc_resnet8_ut", {}),
        ("systolic", "mobilenet_v2", {**PARAMS, "bandwidth": "10"}),
    ],
)
def test_every_family_reads_back_the_program_it_wrote(tmp_path, accelerator, model, params):
    # Equal operands come back as one object (trace_read._operand_lists): the program
    # must still equal the lowered one field by field, moving addresses included.
    lowered = lower_model(accelerator, params, model)
    loaded = read_trace(write_trace(lowered, tmp_path, materialize_iterations=1))
    assert loaded == lowered
    moving = {o for b in loaded.blocks for t in b.templates for o in t.operands() if any(o.coefs)}
    assert moving or accelerator == "systolic"


def test_manifest_and_materialized_rows_are_readable_without_accperf(tmp_path, program):
    folder = write_trace(program, tmp_path, materialize_iterations=2)
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["schema_version"] == trace_io.SCHEMA_VERSION
    assert manifest["parameters"]["rows"] == 4
    assert [entry["name"] for entry in manifest["layers"]] == LAYERS
    rows = pl.scan_ipc(folder / "instructions.arrow").collect()
    # Two iterations per layer: the fold_sync block (1 instruction) and the first block of
    # the first preload step (its bottom row's first PE: 1).
    assert rows.height == 2 * (1 + 1)
    assert set(rows["opcode"]) == {"fold_sync", "preload"}
    assert rows.filter(pl.col("opcode") == "fold_sync")["reads"][0].to_list() == ["out[0:4]"]


def test_materialized_rows_carry_the_timing_show_computes(tmp_path):
    # Trace.save(timing=True) fills the rows' issue, start and end cycles: per layer
    # they equal what `show` prints for the same instructions, including layers with
    # several front ends (Gemmini's streams), and a later layer's rows start at its own 0.
    import tracer.api as accperf

    trace = accperf.lower("resnet50", "gemmini", layers=["layer1.0.conv1", "fc"])
    folder = trace.save(tmp_path, materialize=3, timing=True)
    rows = pl.read_ipc(folder / "instructions.arrow")
    assert rows["issue"].null_count() == 0
    for name in ("layer1.0.conv1", "fc"):
        layer = rows.filter(pl.col("layer") == name)
        shown, _ = accperf.instruction_timeline(trace, name, 0, 3, max_rows=layer.height)
        assert [(r.issue, r.start, r.end) for r in shown] == list(
            zip(layer["issue"], layer["start"], layer["end"], strict=True)
        )
        assert all(
            i <= s <= e for i, s, e in zip(*layer.select(["issue", "start", "end"]), strict=True)
        )
    # Without timing (lower's default: it stays free of Numba), the columns are null.
    plain = trace.save(tmp_path / "plain", materialize=1)
    assert pl.read_ipc(plain / "instructions.arrow")["start"].null_count() > 0


def test_materialize_all_writes_every_instruction(tmp_path):
    # Affine operands are rendered per iteration: iteration k writes r[2k + 1].
    prog = program_of([instr(reads=(op("r", 0),), writes=(op("r", 1, coefs=(0, 2)),))], trips=5)
    folder = write_trace(prog, tmp_path, materialize_iterations=None)
    rows = pl.read_ipc(folder / "instructions.arrow")
    assert (
        rows.height == json.loads((folder / "manifest.json").read_text())["totals"]["instructions"]
    )
    assert rows["writes"].to_list() == [[f"r[{2 * k + 1}]"] for k in range(5)]
    assert rows["reads"].to_list() == [["r[0]"]] * 5


@pytest.mark.parametrize(
    ("accelerator", "model", "layers"),
    [
        ("systolic", "resnet50", LAYERS),
        ("gemmini", "resnet50", ["layer1.0.conv1", "layer1.0.conv2", "fc"]),
        ("plasticine", "bert_base", None),
        ("ultratrail", "tc_resnet8_ut", None),
    ],
)
def test_every_materialized_row_is_its_instruction(tmp_path, accelerator, model, layers):
    # Row by row, as the program gives it: each block execution's templates with the
    # instances and addresses of its loop indices, in order, layer after layer.
    params = PARAMS if accelerator == "systolic" else {}
    prog = lower_model(accelerator, params, model, layers=layers)
    folder = write_trace(prog, tmp_path, materialize_iterations=7)
    expected = []
    for layer_index, layer in enumerate(prog.layers):
        for iteration, (block_id, index) in enumerate(trace_io.iterate_blocks(layer.root)):
            if iteration == 7:
                break
            block = prog.blocks[block_id]
            for position, t in enumerate(block.templates):
                expected.append(
                    {
                        "layer": layer.name,
                        "layer_index": layer_index,
                        "iteration": iteration,
                        "block": block.name,
                        "position": position,
                        "opcode": t.opcode,
                        "unit": t.unit,
                        "instance": t.instance_at(index),
                        "latency": t.latency,
                        "reads": [trace_io.render_operand(o, index) for o in t.reads],
                        "marks": [trace_io.render_operand(o, index) for o in t.marks],
                    }
                )
    rows = pl.read_ipc(folder / "instructions.arrow").select(list(expected[0]))
    assert len({row["block"] for row in expected}) >= 2  # rows of several blocks
    assert rows.to_dicts() == expected


def test_materialize_all_refuses_billions_of_rows(tmp_path, program):
    whole = lower_model("systolic", PARAMS, "resnet50")
    with pytest.raises(TraceError, match="--materialize all would write"):
        write_trace(whole, tmp_path, materialize_iterations=None)
    assert list(tmp_path.iterdir()) == []


def test_failed_write_leaves_the_previous_trace_intact(tmp_path, program, monkeypatch):
    folder = write_trace(program, tmp_path, materialize_iterations=1)
    before = (folder / "manifest.json").read_text()

    def explode(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(trace_io, "build_manifest", explode)
    with pytest.raises(RuntimeError):
        write_trace(program, tmp_path, materialize_iterations=1)
    assert (folder / "manifest.json").read_text() == before
    assert read_trace(folder) == program
    assert [p.name for p in tmp_path.iterdir()] == [folder.name]  # no staging left over


def _damage(folder: Path, how: str) -> None:
    if how == "missing_folder":
        import shutil

        shutil.rmtree(folder)
    elif how == "no_manifest":
        (folder / "manifest.json").unlink()
    elif how == "bad_json":
        (folder / "manifest.json").write_text("{not json")
    elif how == "foreign":
        (folder / "manifest.json").write_text(json.dumps({"format": "something-else"}))
    elif how in ("schema_version", "older_schema_version"):
        # A newer version, or the previous one: version 8 had no actions in templates.arrow
        # and no memories in the manifest, so even a v8 folder whose manifest decodes is
        # refused.
        manifest = json.loads((folder / "manifest.json").read_text())
        manifest["schema_version"] = 99 if how == "schema_version" else 8
        (folder / "manifest.json").write_text(json.dumps(manifest))
    elif how == "truncated":
        data = (folder / "templates.arrow").read_bytes()
        (folder / "templates.arrow").write_bytes(data[: len(data) // 2])
    elif how == "missing_file":
        (folder / "loops.arrow").unlink()
    elif how == "count_mismatch":
        manifest = json.loads((folder / "manifest.json").read_text())
        manifest["layers"][0]["instructions"] += 1
        (folder / "manifest.json").write_text(json.dumps(manifest))
    elif how == "space_too_small":
        manifest = json.loads((folder / "manifest.json").read_text())
        manifest["spaces"]["h"] = 3  # a 4x4 array addresses h[0..15]
        (folder / "manifest.json").write_text(json.dumps(manifest))
    elif how in ("negative_space", "units_list", "infinity", "bool_width", "huge_window"):
        manifest = json.loads((folder / "manifest.json").read_text())
        if how == "negative_space":
            manifest["spaces"] = {"zz": -100, **manifest["spaces"]}
        elif how == "units_list":
            manifest["units"] = []
        elif how == "bool_width":
            manifest["frontend"]["bundles_per_cycle"] = True
        elif how == "huge_window":
            manifest["frontend"]["window_bundles"] = 10**13
        text = json.dumps(manifest)
        if how == "infinity":
            text = text.replace('"units": {"pe": 16', '"units": {"pe": Infinity')
        (folder / "manifest.json").write_text(text)
    elif how == "manifest_is_folder":
        (folder / "manifest.json").unlink()
        (folder / "manifest.json").mkdir()
    elif how == "unit_missing":
        manifest = json.loads((folder / "manifest.json").read_text())
        manifest["units"]["pe"] = 2
        (folder / "manifest.json").write_text(json.dumps(manifest))


@pytest.mark.parametrize(
    ("how", "fragment"),
    [
        ("missing_folder", "no such trace folder"),
        ("no_manifest", "not a complete accperf trace"),
        ("bad_json", "not valid JSON"),
        ("foreign", "not an accperf trace"),
        ("schema_version", "schema version 99.*reads version 9"),
        ("older_schema_version", "schema version 8.*reads version 9"),
        ("truncated", "truncated or not an Arrow IPC file"),
        ("missing_file", "loops.arrow: missing"),
        ("count_mismatch", "instruction count"),
        ("space_too_small", "leaves space 'h'"),
        ("unit_missing", r"unit pe\[\d+\] does not exist"),
        ("negative_space", "address space 'zz' has size -100"),
        ("units_list", "unit sizes must be a non-empty mapping"),
        ("infinity", "Infinity is not a number a trace can hold"),
        ("bool_width", "bundles_per_cycle is True"),
        ("huge_window", "window_bundles is 10000000000000"),
        ("manifest_is_folder", "cannot be read"),
    ],
)
def test_damaged_traces_raise_one_clear_error(tmp_path, program, how, fragment):
    folder = write_trace(program, tmp_path, materialize_iterations=1)
    _damage(folder, how)
    with pytest.raises(TraceError, match=fragment):
        read_trace(folder)


def test_a_file_is_not_a_trace_folder(tmp_path):
    path = tmp_path / "x.arrow"
    path.write_text("")
    with pytest.raises(TraceError, match="is a file"):
        read_trace(path)


# Damage inside the Arrow files: each structural check of tracer/trace_io.py's reader, on
# the fixture's trace (blocks 0 fold_sync; 1-6 the preload step's and 7-12 the stream
# step's, per row its first PE, then a block of the other three; 13 the four drains; per
# layer a loop tree, pre-order: layer, fold, fold_sync, preload loop, its bottom row's
# blocks, the loop over the middle rows, ...).
def _rewrite(path: Path, edit, schema: pa.Schema | None = None) -> None:
    """Apply `edit` to the columns of an Arrow file (a dict of lists) and write it back."""
    with pa.memory_map(str(path), "r") as source:
        table = ipc.open_file(source).read_all()
    columns = table.to_pydict()
    edit(columns)
    rewritten = pa.table(columns, schema=schema or table.schema)
    with pa.OSFile(str(path), "wb") as sink, ipc.new_file(sink, rewritten.schema) as writer:
        writer.write_table(rewritten)


def _set(row: int, **values):
    def edit(columns):
        for column, value in values.items():
            columns[column][row] = value

    return edit


def _add_loop_row(**fields):
    def edit(columns):
        row = {"layer": 0, "node": 99, "parent": 0, "kind": "loop", "name": "x", "trips": 1}
        row.update(block=-1, **fields)
        for name, values in columns.items():
            values.append(row[name])

    return edit


def _relabel_block(old: int, new: int):
    def edit(columns):
        columns["block"] = [new if b == old else b for b in columns["block"]]

    return edit


def _relabel_layer(old: int, new: int):
    def edit(columns):
        columns["layer"] = [new if layer == old else layer for layer in columns["layer"]]

    return edit


def _renamed(schema: pa.Schema, old: str, new: str) -> pa.Schema:
    return pa.schema([field.with_name(new) if field.name == old else field for field in schema])


def _retyped(schema: pa.Schema, name: str, kind: pa.DataType) -> pa.Schema:
    return pa.schema([field.with_type(kind) if field.name == name else field for field in schema])


def _rename_column(old: str, new: str):
    def edit(columns):
        columns[new] = columns.pop(old)

    return edit


@pytest.mark.parametrize(
    ("file", "edit", "schema", "fragment"),
    [
        # schema: a renamed column, a column of another type
        (
            "templates.arrow",
            _rename_column("latency", "delay"),
            _renamed(trace_io.TEMPLATE_SCHEMA, "latency", "delay"),
            "templates.arrow: columns do not match schema version 9",
        ),
        (
            "loops.arrow",
            lambda columns: None,
            _retyped(trace_io.LOOP_SCHEMA, "trips", pa.int32()),
            "loops.arrow: columns do not match schema version 9",
        ),
        # block ids and positions: row 3 is the second template of block 2 (the preload
        # step's bottom row after its first PE); block 13, the drains, is the last
        ("templates.arrow", _set(3, position=0), None, "row 3: block 2 positions are out"),
        ("templates.arrow", _relabel_block(13, 14), None, "block ids are not 0..n-1"),
        # loop tree: layers, one root, unique ids, kinds, trips, blocks
        ("loops.arrow", _relabel_layer(1, 2), None, r"has layers \[0, 2\]"),
        ("loops.arrow", _add_loop_row(parent=-1), None, "exactly one root"),
        ("loops.arrow", _set(1, node=0), None, "unique node ids"),
        ("loops.arrow", _set(0, kind="block", block=0), None, "a layer's root must be a loop"),
        ("loops.arrow", _set(3, kind="repeat"), None, "row 3: kind must be loop or block"),
        ("loops.arrow", _set(1, trips=-1), None, "row 1: kind must be loop or block, trips"),
        ("loops.arrow", _set(2, block=14), None, "row 2: block 14 does not exist"),
    ],
    ids=[
        "renamed_column",
        "retyped_column",
        "positions",
        "block_ids",
        "layers",
        "two_roots",
        "duplicate_node",
        "root_is_a_block",
        "kind",
        "negative_trips",
        "missing_block",
    ],
)
def test_damaged_arrow_files_raise_one_clear_error(tmp_path, program, file, edit, schema, fragment):
    folder = write_trace(program, tmp_path, materialize_iterations=1)
    _rewrite(folder / file, edit, schema)
    with pytest.raises(TraceError, match=fragment):
        read_trace(folder)


def _chain_of_loops(depth: int):
    """Layer 0's tree as `depth` nested one-trip loops around the fold_sync block."""

    def edit(columns):
        others = [row for row, layer in enumerate(columns["layer"]) if layer != 0]
        chain = {
            "layer": [0] * (depth + 1),
            "node": list(range(depth + 1)),
            "parent": list(range(-1, depth)),
            "kind": ["loop"] * depth + ["block"],
            "name": [f"l{d}" for d in range(depth)] + ["fold_sync"],
            "trips": [1] * depth + [1],
            "block": [-1] * depth + [0],
        }
        for name, values in columns.items():
            columns[name] = chain[name] + [values[row] for row in others]

    return edit


def test_loops_nest_up_to_the_limit_and_no_deeper(tmp_path, program):
    # MAX_DEPTH = 12 loops, root included: 12 one-trip loops around one fold_sync (one
    # instruction, which the manifest must then count) load and evaluate; 13 are refused.
    assert MAX_DEPTH == 12
    for depth, accepted in ((12, True), (13, False)):
        # Written over the edited trace of the last round: force, it is no longer ours.
        folder = write_trace(program, tmp_path, materialize_iterations=1, force=True)
        _rewrite(folder / "loops.arrow", _chain_of_loops(depth))
        manifest = json.loads((folder / "manifest.json").read_text())
        manifest["layers"][0]["instructions"] = 1
        (folder / "manifest.json").write_text(json.dumps(manifest))
        if accepted:
            loaded = read_trace(folder)
            assert evaluate_program(loaded)[0].instructions == 1
        else:
            with pytest.raises(TraceError, match="loops nest deeper than 12"):
                read_trace(folder)
