"""The trace folder: an Arrow dataset per (model, accelerator), written atomically.

Layout (schema version 9):
    manifest.json        format, schema version, accelerator, resolved parameters, model,
                         memories and datapath widths (what actions name and price),
                         layers (name, kind, MACs, actions, mapping, instruction counts), host
                         layers (not run on the accelerator, or fused into another layer:
                         name, kind, position, reason, placement),
                         totals
    templates.arrow      one row per instruction template of every shared block
    loops.arrow          one row per loop-tree node of every layer (pre-order)
    instructions.arrow   materialized instructions: one row each, for the first
                         iterations of each layer (or all of them on request), with
                         their issue, start and end cycles
Every file is an Arrow IPC file: `polars.scan_ipc(path)` reads it without accperf.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from operator import attrgetter
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.ipc as ipc

from analyzer.actions import ActionCounter
from isa.program import (
    OPERAND_LISTS,
    TEMPLATE_FIELDS,
    Block,
    BlockRef,
    FieldKind,
    LayerProgram,
    Loop,
    Operand,
    Program,
    SubtreeCounts,
)
from tracer.errors import TraceError

FORMAT = "accperf-trace"
SCHEMA_VERSION = 9
MANIFEST = "manifest.json"
TEMPLATES = "templates.arrow"
LOOPS = "loops.arrow"
INSTRUCTIONS = "instructions.arrow"

OPERAND_TYPE = pa.struct(
    [
        ("space", pa.string()),
        ("base", pa.int64()),
        ("count", pa.int64()),
        ("coefs", pa.list_(pa.int64())),
    ]
)
ACTION_TYPE = pa.struct([("action", pa.string()), ("amount", pa.int64())])
# How a trace stores a template field of each kind (isa.program.FieldKind); a QUEUE is
# null for none, a FRONTEND null for the default one.
FIELD_TYPE = {
    FieldKind.TEXT: pa.string(),
    FieldKind.UNIT: pa.string(),
    FieldKind.INSTANCE: pa.int64(),
    FieldKind.INSTANCE_COEFS: pa.list_(pa.int64()),
    FieldKind.CYCLES: pa.int64(),
    FieldKind.FLAG: pa.bool_(),
    FieldKind.OPERANDS: pa.list_(OPERAND_TYPE),
    FieldKind.QUEUE: pa.string(),
    FieldKind.FRONTEND: pa.string(),
    FieldKind.ACTIONS: pa.list_(ACTION_TYPE),
}
# One row per template: its block and place in it, then every field of the template table.
TEMPLATE_SCHEMA = pa.schema(
    [("block", pa.int32()), ("block_name", pa.string()), ("position", pa.int32())]
    + [(spec.name, FIELD_TYPE[spec.kind]) for spec in TEMPLATE_FIELDS]
)
LOOP_SCHEMA = pa.schema(
    [
        ("layer", pa.int32()),
        ("node", pa.int32()),
        ("parent", pa.int32()),
        ("kind", pa.string()),  # "loop" or "block"
        ("name", pa.string()),
        ("trips", pa.int64()),
        ("block", pa.int32()),
    ]
)
INSTRUCTION_SCHEMA = pa.schema(
    [
        ("layer", pa.string()),
        ("layer_index", pa.int32()),
        ("iteration", pa.int64()),  # block execution within the layer
        ("block", pa.string()),
        ("position", pa.int32()),
    ]
    # The template fields marked materialized; operands rendered with their addresses.
    + [
        (
            spec.name,
            pa.list_(pa.string()) if spec.kind is FieldKind.OPERANDS else FIELD_TYPE[spec.kind],
        )
        for spec in TEMPLATE_FIELDS
        if spec.materialized
    ]
    # When each instruction issued, started and ended, from the full evaluation of the rows
    # written (null where the writer was given no timing: write_trace's `timing`).
    + [("issue", pa.int64()), ("start", pa.int64()), ("end", pa.int64())]
)
TIMING_COLUMNS = ("issue", "start", "end")
# (layer, how many of its first instructions) -> their issue, start and end cycles.
Timing = Callable[[LayerProgram, int], tuple[Any, Any, Any]]


def trace_folder_name(model: str, accelerator: str) -> str:
    return f"{model}__{accelerator}"


# ---------------------------------------------------------------------------- writing


def write_trace(
    program: Program,
    out_dir: Path,
    materialize_iterations: int | None,
    force: bool = False,
    timing: Timing | None = None,
) -> Path:
    """Write `program` to out_dir/<model>__<accelerator>; returns that folder.

    `materialize_iterations` = how many block executions per layer to expand into
    instructions.arrow (None = all); refused before anything is written when that would
    exceed MATERIALIZE_LIMIT rows. The folder appears whole or not at all: we write a
    temporary sibling and rename it into place, so an interrupted run never leaves a
    trace that looks complete, and an older trace survives a failed run. A trace of
    another configuration (model, accelerator, parameters, layers) already in the
    folder is replaced only with `force`, and so is a file of its name or a folder holding
    anything besides a trace's files; writers of one folder take turns (a lock), so
    concurrent runs neither fail nor silently overwrite each other. `timing` gives the
    materialized rows' issue, start and end cycles (tracer/api.py evaluates them); without
    it those columns are null.
    """
    target = out_dir / trace_folder_name(program.model, program.accelerator)
    counts = SubtreeCounts(program.blocks)  # one walk of each distinct subtree for all below
    _check_materialize(program, materialize_iterations, counts)
    out_dir.mkdir(parents=True, exist_ok=True)
    _remove_stale_siblings(out_dir, target.name)
    staging = out_dir / f".{target.name}.tmp-{os.getpid()}"
    if staging.exists():
        shutil.rmtree(staging)
    staging.mkdir()
    try:
        _write_arrow(staging / TEMPLATES, _templates_table(program))
        _write_arrow(staging / LOOPS, _loops_table(program))
        materialized = _write_instructions(
            staging / INSTRUCTIONS, program, materialize_iterations, timing, counts
        )
        manifest = build_manifest(program, materialized, counts)
        (staging / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")
        with _folder_lock(out_dir):
            if not force:
                _refuse_to_replace(target, manifest)
            _swap_into_place(staging, target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return target


# What tells two traces' configurations apart: everything in the manifest but how many
# instruction rows were materialized and what the files are called.
_NOT_CONFIGURATION = ("materialized", "files")


def _configuration(manifest: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in manifest.items() if k not in _NOT_CONFIGURATION}


# What a trace folder holds; anything else in one was put there by someone.
TRACE_FILES = frozenset({MANIFEST, TEMPLATES, LOOPS, INSTRUCTIONS})


def _refuse_to_replace(target: Path, manifest: dict[str, Any]) -> None:
    """Without --force, a trace replaces only a trace of its own configuration, or a
    folder of trace files too damaged to read (nothing a user would want kept)."""
    if not target.exists() and not target.is_symlink():
        return
    again = "move it, or give another -o folder (or --force to replace it)"
    if not target.is_dir():
        raise TraceError(f"{target} is a file, not a trace folder; {again}")
    # Hidden files are the system's (Finder's .DS_Store), not work a user would lose.
    others = sorted(
        path.name
        for path in target.iterdir()
        if path.name not in TRACE_FILES and not path.name.startswith(".")
    )
    if others:
        shown = ", ".join(others[:3]) + (f" and {len(others) - 3} more" if len(others) > 3 else "")
        raise TraceError(
            f"{target} holds files that are not part of a trace ({shown}); move them, or "
            "give another -o folder (or --force to replace the folder with them)"
        )
    try:
        existing = json.loads((target / MANIFEST).read_text())
    except (OSError, ValueError, RecursionError):
        return  # a damaged trace: nothing a user would want kept
    if not isinstance(existing, dict) or existing.get("format") != FORMAT:
        return
    ours, theirs = _configuration(json.loads(json.dumps(manifest))), _configuration(existing)
    if ours == theirs:
        return
    differences = [
        key for key in sorted(set(ours) | set(theirs)) if ours.get(key) != theirs.get(key)
    ]
    if "parameters" in differences:
        old, new = theirs.get("parameters") or {}, ours.get("parameters") or {}
        changed = [f"{k}={old.get(k)} -> {new.get(k)}" for k in new if old.get(k) != new.get(k)]
        what = "parameters " + ", ".join(changed)
    else:
        what = ", ".join(differences)
    raise TraceError(
        f"{target} holds a trace of another configuration ({what}); give --force "
        "(API: save(force=True)) to replace it, or another -o folder to keep both"
    )


@contextmanager
def _folder_lock(out_dir: Path) -> Iterator[None]:
    """One writer at a time swaps a trace into `out_dir`: an exclusive lock on the folder
    itself, so nothing is left behind."""
    descriptor = os.open(out_dir, os.O_RDONLY)
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX)
        yield
    finally:
        os.close(descriptor)  # releases the lock


def _remove_stale_siblings(out_dir: Path, name: str) -> None:
    """Temporary folders of runs that were killed: their process is gone."""
    for path in out_dir.glob(f".{name}.*-*"):
        kind, _, pid = path.name.rpartition("-")
        if not kind.endswith((".tmp", ".old")) or not pid.isdigit() or _alive(int(pid)):
            continue
        _remove(path)


def _remove(path: Path) -> None:
    """A folder with what it holds, or a file (--force replaces either)."""
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _swap_into_place(staging: Path, target: Path) -> None:
    if target.exists() or target.is_symlink():
        retired = target.with_name(f".{target.name}.old-{os.getpid()}")
        os.replace(target, retired)
        os.replace(staging, target)
        _remove(retired)
    else:
        os.replace(staging, target)


# Instruction rows repeat the same strings endlessly; zstd takes them to a few bytes each,
# and polars/pyarrow read compressed IPC files transparently.
WRITE_OPTIONS = ipc.IpcWriteOptions(compression="zstd")


def _write_arrow(path: Path, table: pa.Table) -> None:
    with (
        pa.OSFile(str(path), "wb") as sink,
        ipc.new_file(sink, table.schema, options=WRITE_OPTIONS) as writer,
    ):
        writer.write_table(table)


def _interned_lists(
    lists: list[tuple[Any, ...]], key: Callable[[Any], Any], items: Callable[[list[Any]], pa.Array]
) -> pa.Array:
    """A list column from per-row tuples whose items repeat (an operand object a lowering
    shares between templates; the same actions): `items` converts each distinct item (by
    `key`) once, and the rows take them by index."""
    index: dict[Any, int] = {}
    distinct: list[Any] = []
    taken: list[int] = []
    offsets = [0]
    for row in lists:
        for item in row:
            k = key(item)
            at = index.get(k)
            if at is None:
                at = index[k] = len(distinct)
                distinct.append(item)
            taken.append(at)
        offsets.append(len(taken))
    child = items(distinct).take(pa.array(taken, pa.int64()))
    return pa.ListArray.from_arrays(pa.array(offsets, pa.int32()), child)


def _operand_items(operands: list[Operand]) -> pa.Array:
    return pa.StructArray.from_arrays(
        [
            pa.array([o.space for o in operands], pa.string()),
            pa.array([o.base for o in operands], pa.int64()),
            pa.array([o.count for o in operands], pa.int64()),
            pa.array([list(o.coefs) for o in operands], pa.list_(pa.int64())),
        ],
        fields=list(OPERAND_TYPE),
    )


def _action_items(actions: list[tuple[str, int]]) -> pa.Array:
    return pa.StructArray.from_arrays(
        [
            pa.array([action for action, _ in actions], pa.string()),
            pa.array([amount for _, amount in actions], pa.int64()),
        ],
        fields=list(ACTION_TYPE),
    )


def _templates_table(program: Program) -> pa.Table:
    """Column by column: at 512x512 a program has 524,801 templates, and a row's Python
    values converted one by one took about 10 s of `lower` there."""
    templates = [t for block in program.blocks for t in block.templates]
    sizes = np.array([len(block.templates) for block in program.blocks], dtype=np.int64)
    block_ids = np.repeat(np.arange(len(sizes), dtype=np.int32), sizes)
    names = pa.array([block.name for block in program.blocks], pa.string())
    columns: dict[str, pa.Array] = {
        "block": pa.array(block_ids, pa.int32()),
        "block_name": names.take(block_ids),
        "position": pa.array(
            np.arange(len(templates), dtype=np.int64) - np.repeat(np.cumsum(sizes) - sizes, sizes),
            pa.int32(),
        ),
    }
    for spec in TEMPLATE_FIELDS:
        values = list(map(attrgetter(spec.name), templates))
        if spec.kind is FieldKind.OPERANDS:
            columns[spec.name] = _interned_lists(values, id, _operand_items)
        elif spec.kind is FieldKind.ACTIONS:
            columns[spec.name] = _interned_lists(values, lambda pair: pair, _action_items)
        elif spec.kind is FieldKind.INSTANCE_COEFS:
            columns[spec.name] = pa.array([list(c) for c in values], FIELD_TYPE[spec.kind])
        else:
            columns[spec.name] = pa.array(values, FIELD_TYPE[spec.kind])
    return pa.Table.from_arrays(
        [columns[field.name] for field in TEMPLATE_SCHEMA], schema=TEMPLATE_SCHEMA
    )


def _loops_table(program: Program) -> pa.Table:
    columns: dict[str, list[Any]] = {name: [] for name in LOOP_SCHEMA.names}
    next_node = [0]

    def emit(layer_index: int, node: Loop | BlockRef, parent: int) -> None:
        node_id = next_node[0]
        next_node[0] += 1
        columns["layer"].append(layer_index)
        columns["node"].append(node_id)
        columns["parent"].append(parent)
        if isinstance(node, BlockRef):
            columns["kind"].append("block")
            columns["name"].append(program.blocks[node.block].name)
            columns["trips"].append(1)
            columns["block"].append(node.block)
            return
        columns["kind"].append("loop")
        columns["name"].append(node.name)
        columns["trips"].append(node.trips)
        columns["block"].append(-1)
        for child in node.body:
            emit(layer_index, child, node_id)

    for index, layer in enumerate(program.layers):
        next_node[0] = 0
        emit(index, layer.root, -1)
    return pa.table(columns, schema=LOOP_SCHEMA)


def iterate_blocks(node: Loop | BlockRef, index: tuple[int, ...] = ()):
    """Yield (block id, loop indices outermost first) in execution order."""
    if isinstance(node, BlockRef):
        yield node.block, index
        return
    for trip in range(node.trips):
        for child in node.body:
            yield from iterate_blocks(child, index + (trip,))


def resolve_address(operand: Operand, index: tuple[int, ...]) -> int:
    return operand.base + sum(c * i for c, i in zip(operand.coefs, index, strict=False))


def render_operand(operand: Operand, index: tuple[int, ...]) -> str:
    first = resolve_address(operand, index)
    if operand.count == 1:
        return f"{operand.space}[{first}]"
    return f"{operand.space}[{first}:{first + operand.count}]"


def _is_affine(block: Block) -> bool:
    return any(any(o.coefs) for t in block.templates for o in t.operands())


def _moves_instances(block: Block) -> bool:
    return any(any(t.instance_coefs) for t in block.templates)


def _static_columns(block: Block, moves_instances: bool, affine: bool) -> dict[str, pa.Array]:
    """Columns that are the same at every execution of `block` (instances unless they
    move with the loop indices, addresses unless `affine`), as Arrow arrays: converted
    once, then shared by every execution materialized."""
    n = len(block.templates)
    columns: dict[str, pa.Array] = {
        "block": pa.repeat(pa.scalar(block.name, pa.string()), n),
        "position": pa.array(range(n), pa.int32()),
    }
    for spec in TEMPLATE_FIELDS:
        if spec.materialized and spec.kind is not FieldKind.OPERANDS:
            columns[spec.name] = pa.array(
                [getattr(t, spec.name) for t in block.templates],
                INSTRUCTION_SCHEMA.field(spec.name).type,
            )
    if moves_instances:
        del columns["instance"]
    if not affine:
        for name in OPERAND_LISTS:
            columns[name] = pa.array(
                [[render_operand(o, ()) for o in getattr(t, name)] for t in block.templates],
                INSTRUCTION_SCHEMA.field(name).type,
            )
    return columns


MATERIALIZE_LIMIT = 20_000_000  # rows; beyond this a trace stops being a convenience
# Rows the default materialization writes at most: enough to read, and cheap to write.
# Without it, 4 iterations a layer were 10.6 M rows at 256x256 and 14 M (437 MB, most of
# `lower`) at 512x512, which nobody asked for; `--materialize N` still goes to the limit.
DEFAULT_MATERIALIZE_ROWS = 1_000_000
ROWS_PER_BATCH = 1 << 18  # instruction rows held in memory before they are written


def materialized_rows(
    program: Program, iterations: int | None, counts: SubtreeCounts | None = None
) -> int:
    """Instruction rows `iterations` block executions per layer (None: all) expand to.
    `counts`: the program's, kept by a caller that asks several times."""
    counts = SubtreeCounts(program.blocks) if counts is None else counts
    total = 0
    for layer in program.layers:
        if iterations is None:
            total += counts.instructions(layer.root)
        else:
            total += _first_instructions(layer.root, program.blocks, iterations, counts)[0]
    return total


def _first_instructions(
    node: Loop | BlockRef, blocks: tuple[Block, ...], budget: int, counts: SubtreeCounts
) -> tuple[int, int]:
    """(instructions, block executions) of the first `budget` block executions of `node`,
    counted without walking the trips one by one."""
    if budget <= 0:
        return 0, 0
    if isinstance(node, BlockRef):
        return len(blocks[node.block].templates), 1
    per_trip = sum(map(counts.executions, node.body))
    whole = min(node.trips, budget // per_trip) if per_trip else node.trips
    instructions = whole * sum(map(counts.instructions, node.body))
    executions = whole * per_trip
    if whole < node.trips:
        for child in node.body:
            more, done = _first_instructions(child, blocks, budget - executions, counts)
            instructions, executions = instructions + more, executions + done
            if executions >= budget:
                break
    return instructions, executions


def default_materialize(program: Program, wanted: int) -> int:
    """`wanted` iterations per layer, or fewer if that many rows would pass
    DEFAULT_MATERIALIZE_ROWS (a large array's first iterations alone can be tens of
    millions of instructions); 0 where one iteration a layer would."""
    counts = SubtreeCounts(program.blocks)
    iterations = wanted
    while (
        iterations > 0 and materialized_rows(program, iterations, counts) > DEFAULT_MATERIALIZE_ROWS
    ):
        iterations -= 1
    return iterations


def _check_materialize(program: Program, iterations: int | None, counts: SubtreeCounts) -> None:
    rows = materialized_rows(program, iterations, counts)
    if rows > MATERIALIZE_LIMIT:
        asked = "all" if iterations is None else str(iterations)
        raise TraceError(
            f"--materialize {asked} would write {rows:,} instruction rows (limit "
            f"{MATERIALIZE_LIMIT:,}, about {MATERIALIZE_LIMIT // 1_000_000} M rows or "
            "1 GB on disk); give fewer iterations per layer, e.g. --materialize 4 (the "
            "analyzer never needs them: the compact program is the trace)"
        )


# Columns a block may fill differently at each execution: instances that move with the
# loop indices, addresses that are affine in them.
_MOVING_COLUMNS = ("instance", *OPERAND_LISTS)


class _Batch:
    """The instruction rows of one record batch, gathered per block execution and turned
    into Arrow columns at once: a block's static columns are converted once and taken by
    index (converting every row's Python values was most of `lower` on large arrays:
    2.65 M rows at 128x128), the rest built with NumPy."""

    def __init__(self, layer_names: pa.Array) -> None:
        self.layer_names = layer_names
        self.executions: list[tuple[int, int, int, int]] = []  # block, layer, iteration, n
        self.times: list[tuple[Any, Any, Any] | None] = []  # per execution, or None
        self.moving: dict[str, list[Any]] = {name: [] for name in _MOVING_COLUMNS}
        self.rows = 0

    def add(
        self,
        block_id: int,
        layer_index: int,
        iteration: int,
        n: int,
        times: tuple[Any, Any, Any] | None,
        moving: dict[str, list[Any]],
    ) -> None:
        self.executions.append((block_id, layer_index, iteration, n))
        self.times.append(times)
        for name, values in moving.items():
            self.moving[name].extend(values)
        self.rows += n

    def table(self, static: dict[int, dict[str, pa.Array]]) -> pa.Table:
        executions = np.array(self.executions, dtype=np.int64).reshape(-1, 4)
        blocks, layers, iterations, sizes = executions.T
        starts = np.cumsum(sizes) - sizes
        within = np.arange(self.rows, dtype=np.int64) - np.repeat(starts, sizes)
        columns: dict[str, pa.Array] = {
            "layer": self.layer_names.take(np.repeat(layers, sizes)),
            "layer_index": pa.array(np.repeat(layers, sizes).astype(np.int32)),
            "iteration": pa.array(np.repeat(iterations, sizes)),
        }
        known = [times is not None for times in self.times]
        for index, name in enumerate(TIMING_COLUMNS):
            if not any(known):
                columns[name] = pa.nulls(self.rows, pa.int64())
                continue
            parts = [
                np.asarray(times[index], dtype=np.int64) if times is not None else np.zeros(n)
                for times, (*_, n) in zip(self.times, self.executions, strict=True)
            ]
            columns[name] = pa.array(
                np.concatenate(parts).astype(np.int64), mask=~np.repeat(known, sizes)
            )
        for field in INSTRUCTION_SCHEMA:
            if field.name in columns:
                continue
            # The distinct blocks' static arrays, then the rows filled per execution, in
            # the order of the executions that fill them.
            pool = []
            base = np.full(int(blocks.max(initial=0)) + 1, -1, dtype=np.int64)
            offset = 0
            for block in dict.fromkeys(blocks.tolist()):
                values = static[block].get(field.name)
                if values is not None:
                    pool.append(values)
                    base[block] = offset
                    offset += len(values)
            if self.moving.get(field.name):
                pool.append(pa.array(self.moving[field.name], field.type))
            firsts = base[blocks]
            moving = firsts < 0
            filled = np.where(moving, sizes, 0)
            firsts[moving] = (offset + np.cumsum(filled) - filled)[moving]
            indices = np.repeat(firsts, sizes) + within
            columns[field.name] = (
                pa.concat_arrays(pool).take(indices) if pool else pa.array([], field.type)
            )
        return pa.Table.from_arrays(
            [columns[field.name] for field in INSTRUCTION_SCHEMA], schema=INSTRUCTION_SCHEMA
        )


def _write_instructions(
    path: Path,
    program: Program,
    iterations: int | None,
    timing: Timing | None,
    counts: SubtreeCounts,
) -> dict[str, Any]:
    # Per block, on its first materialized execution (a layer writes its first few, so
    # most blocks never are): its static columns, whether instances and addresses move.
    static: dict[int, dict[str, pa.Array]] = {}
    moves: dict[int, tuple[bool, bool]] = {}
    layer_names = pa.array([layer.name for layer in program.layers], pa.string())
    batch = _Batch(layer_names)
    rows = 0
    with (
        pa.OSFile(str(path), "wb") as sink,
        ipc.new_file(sink, INSTRUCTION_SCHEMA, options=WRITE_OPTIONS) as writer,
    ):
        for layer_index, layer in enumerate(program.layers):
            times = None
            if timing is not None:
                if iterations is None:
                    count = counts.instructions(layer.root)
                else:
                    count = _first_instructions(layer.root, program.blocks, iterations, counts)[0]
                times = timing(layer, count) if count else None
            written = 0  # rows of this layer so far
            for iteration, (block_id, index) in enumerate(iterate_blocks(layer.root)):
                # Layers share record batches: a batch per layer cost about 0.6 ms in
                # pyarrow, most of the writing of a trace whose layers write a few rows.
                if batch.rows >= ROWS_PER_BATCH:  # bounded memory
                    rows += batch.rows
                    writer.write_table(batch.table(static))
                    batch = _Batch(layer_names)
                if iterations is not None and iteration >= iterations:
                    break
                block = program.blocks[block_id]
                if block_id not in static:
                    moves[block_id] = (_moves_instances(block), _is_affine(block))
                    static[block_id] = _static_columns(block, *moves[block_id])
                moves_instances, affine = moves[block_id]
                n = len(block.templates)
                moving: dict[str, list[Any]] = {}
                if moves_instances:
                    moving["instance"] = [t.instance_at(index) for t in block.templates]
                if affine:
                    for name in OPERAND_LISTS:
                        moving[name] = [
                            [render_operand(o, index) for o in getattr(t, name)]
                            for t in block.templates
                        ]
                rows_times = (
                    None if times is None else tuple(t[written : written + n] for t in times)
                )
                batch.add(block_id, layer_index, iteration, n, rows_times, moving)
                written += n
        rows += batch.rows
        writer.write_table(batch.table(static))
    return {"iterations_per_layer": iterations, "rows": rows}


def build_manifest(
    program: Program, materialized: dict[str, Any], counts: SubtreeCounts
) -> dict[str, Any]:
    layers = []
    counter = ActionCounter(program)
    for index, layer in enumerate(program.layers):
        layers.append(
            {
                "index": index,
                "name": layer.name,
                "kind": layer.kind,
                "macs": layer.macs,
                # What it does besides taking time, for readers without accperf: MACs
                # issued, words read and written per memory (analyzer/actions.py).
                "actions": counter.layer(layer).counts(),
                "instructions": counts.instructions(layer.root),
                "iterations": counts.executions(layer.root),
                "mapping": layer.mapping,
            }
        )
    return {
        "format": FORMAT,
        "schema_version": SCHEMA_VERSION,
        "model": program.model,
        "accelerator": program.accelerator,
        "isa": program.isa,
        "parameters": program.parameters,
        "frontend": {
            "bundles_per_cycle": program.bundles_per_cycle,
            "window_bundles": program.window_bundles,
            "delay": program.frontend_delay,
        },
        "frontends": {
            name: {
                "bundles_per_cycle": spec.bundles_per_cycle,
                "window_bundles": spec.window_bundles,
                "delay": spec.delay,
            }
            for name, spec in program.frontends.items()
        },
        "units": program.units,
        "spaces": program.spaces,
        "queues": program.queues,
        "notes": list(program.notes),
        "layers": layers,
        "roofline": program.roofline,
        "memories": {
            name: {
                "kind": memory.kind,
                "word_bytes": memory.word_bytes,
                "capacity_bytes": memory.capacity_bytes,
            }
            for name, memory in program.memories.items()
        },
        "datapath": None
        if program.datapath is None
        else {
            "operand_bits": program.datapath.operand_bits,
            "accumulator_bits": program.datapath.accumulator_bits,
        },
        "host_layers": [
            {
                "name": host.name,
                "kind": host.kind,
                "operations": host.operations,
                "position": host.position,
                "reason": host.reason,
                "placement": host.placement,
            }
            for host in program.host_layers
        ],
        "totals": {
            "layers": len(layers),
            "host_layers": len(program.host_layers),
            "macs": sum(entry["macs"] for entry in layers),
            "instructions": sum(entry["instructions"] for entry in layers),
        },
        "files": {"templates": TEMPLATES, "loops": LOOPS, "instructions": INSTRUCTIONS},
        "materialized": materialized,
    }
