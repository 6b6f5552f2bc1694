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
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.ipc as ipc

from analyzer.actions import ActionCounter
from isa.program import (
    MAX_DEPTH,
    OPERAND_LISTS,
    TEMPLATE_FIELDS,
    Block,
    BlockRef,
    Datapath,
    FieldKind,
    Frontend,
    HostLayer,
    LayerProgram,
    Loop,
    Memory,
    Operand,
    Program,
    Template,
    count_block_executions,
    count_instructions,
)
from isa.registry import FAMILIES
from isa.sharing import SubtreeSharing
from isa.validation import ProgramError, check_program
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
    folder is replaced only with `force`; writers of one folder take turns (a lock), so
    concurrent runs neither fail nor silently overwrite each other. `timing` gives the
    materialized rows' issue, start and end cycles (tracer/api.py evaluates them); without
    it those columns are null.
    """
    target = out_dir / trace_folder_name(program.model, program.accelerator)
    _check_materialize(program, materialize_iterations)
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
            staging / INSTRUCTIONS, program, materialize_iterations, timing
        )
        manifest = build_manifest(program, materialized)
        (staging / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")
        with _folder_lock(out_dir):
            if not force:
                _refuse_other_configuration(target, manifest)
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


def _refuse_other_configuration(target: Path, manifest: dict[str, Any]) -> None:
    try:
        existing = json.loads((target / MANIFEST).read_text())
    except (OSError, ValueError):
        return  # no trace there, or a damaged one: nothing a user would want kept
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
        shutil.rmtree(path, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _swap_into_place(staging: Path, target: Path) -> None:
    if target.exists():
        retired = target.with_name(f".{target.name}.old-{os.getpid()}")
        os.replace(target, retired)
        os.replace(staging, target)
        shutil.rmtree(retired, ignore_errors=True)
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


def _operand_dict(operand: Operand) -> dict[str, Any]:
    return {
        "space": operand.space,
        "base": operand.base,
        "count": operand.count,
        "coefs": list(operand.coefs),
    }


def _templates_table(program: Program) -> pa.Table:
    columns: dict[str, list[Any]] = {name: [] for name in TEMPLATE_SCHEMA.names}
    for block_id, block in enumerate(program.blocks):
        for position, t in enumerate(block.templates):
            columns["block"].append(block_id)
            columns["block_name"].append(block.name)
            columns["position"].append(position)
            for spec in TEMPLATE_FIELDS:
                value = getattr(t, spec.name)
                if spec.kind is FieldKind.OPERANDS:
                    value = [_operand_dict(o) for o in value]
                elif spec.kind is FieldKind.INSTANCE_COEFS:
                    value = list(value)
                elif spec.kind is FieldKind.ACTIONS:
                    value = [{"action": action, "amount": amount} for action, amount in value]
                columns[spec.name].append(value)
    return pa.table(columns, schema=TEMPLATE_SCHEMA)


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


def _static_columns(block: Block) -> dict[str, list[Any]]:
    """Columns that are the same at every execution of `block` (addresses and instances
    too, unless they depend on loop indices)."""
    columns: dict[str, list[Any]] = {
        "block": [block.name] * len(block.templates),
        "position": list(range(len(block.templates))),
    }
    for spec in TEMPLATE_FIELDS:
        if spec.materialized and spec.kind is not FieldKind.OPERANDS:
            columns[spec.name] = [getattr(t, spec.name) for t in block.templates]
    if _moves_instances(block):
        del columns["instance"]
    if not _is_affine(block):
        for name in OPERAND_LISTS:
            columns[name] = [
                [render_operand(o, ()) for o in getattr(t, name)] for t in block.templates
            ]
    return columns


MATERIALIZE_LIMIT = 20_000_000  # rows; beyond this a trace stops being a convenience
ROWS_PER_BATCH = 1 << 18  # instruction rows held in memory before they are written


def materialized_rows(program: Program, iterations: int | None) -> int:
    """Instruction rows `iterations` block executions per layer (None: all) expand to."""
    total = 0
    for layer in program.layers:
        if iterations is None:
            total += count_instructions(layer.root, program.blocks)
        else:
            total += _first_instructions(layer.root, program.blocks, iterations)[0]
    return total


def _first_instructions(
    node: Loop | BlockRef, blocks: tuple[Block, ...], budget: int
) -> tuple[int, int]:
    """(instructions, block executions) of the first `budget` block executions of `node`,
    counted without walking the trips one by one."""
    if budget <= 0:
        return 0, 0
    if isinstance(node, BlockRef):
        return len(blocks[node.block].templates), 1
    per_trip = count_block_executions(Loop(node.name, 1, node.body))
    whole = min(node.trips, budget // per_trip) if per_trip else node.trips
    instructions = whole * count_instructions(Loop(node.name, 1, node.body), blocks)
    executions = whole * per_trip
    if whole < node.trips:
        for child in node.body:
            more, done = _first_instructions(child, blocks, budget - executions)
            instructions, executions = instructions + more, executions + done
            if executions >= budget:
                break
    return instructions, executions


def default_materialize(program: Program, wanted: int) -> int:
    """`wanted` iterations per layer, or fewer if that many rows would pass the limit (a
    large array's first iterations alone can be tens of millions of instructions)."""
    iterations = wanted
    while iterations > 0 and materialized_rows(program, iterations) > MATERIALIZE_LIMIT:
        iterations -= 1
    return iterations


def _check_materialize(program: Program, iterations: int | None) -> None:
    rows = materialized_rows(program, iterations)
    if rows > MATERIALIZE_LIMIT:
        asked = "all" if iterations is None else str(iterations)
        raise TraceError(
            f"--materialize {asked} would write {rows:,} instruction rows (limit "
            f"{MATERIALIZE_LIMIT:,}, about {MATERIALIZE_LIMIT // 1_000_000} M rows or "
            "1 GB on disk); give fewer iterations per layer, e.g. --materialize 4 (the "
            "analyzer never needs them: the compact program is the trace)"
        )


def _write_instructions(
    path: Path, program: Program, iterations: int | None, timing: Timing | None
) -> dict[str, Any]:
    static = [_static_columns(block) for block in program.blocks]
    with (
        pa.OSFile(str(path), "wb") as sink,
        ipc.new_file(sink, INSTRUCTION_SCHEMA, options=WRITE_OPTIONS) as writer,
    ):
        rows = 0
        for layer_index, layer in enumerate(program.layers):
            columns: dict[str, list[Any]] = {name: [] for name in INSTRUCTION_SCHEMA.names}
            times = None
            if timing is not None:
                if iterations is None:
                    count = count_instructions(layer.root, program.blocks)
                else:
                    count = _first_instructions(layer.root, program.blocks, iterations)[0]
                times = timing(layer, count) if count else None
            written = 0  # rows of this layer so far
            for iteration, (block_id, index) in enumerate(iterate_blocks(layer.root)):
                if len(columns["layer"]) >= ROWS_PER_BATCH:  # bounded memory
                    rows += len(columns["layer"])
                    writer.write_table(pa.table(columns, schema=INSTRUCTION_SCHEMA))
                    columns = {name: [] for name in INSTRUCTION_SCHEMA.names}
                if iterations is not None and iteration >= iterations:
                    break
                block = program.blocks[block_id]
                n = len(block.templates)
                columns["layer"].extend([layer.name] * n)
                columns["layer_index"].extend([layer_index] * n)
                columns["iteration"].extend([iteration] * n)
                for name, values in zip(TIMING_COLUMNS, times or (None,) * 3, strict=True):
                    columns[name].extend(
                        [None] * n if values is None else values[written : written + n].tolist()
                    )
                written += n
                for name, values in static[block_id].items():
                    columns[name].extend(values)
                if _moves_instances(block):
                    columns["instance"].extend(t.instance_at(index) for t in block.templates)
                if _is_affine(block):
                    for name in OPERAND_LISTS:
                        columns[name].extend(
                            [render_operand(o, index) for o in getattr(t, name)]
                            for t in block.templates
                        )
            rows += len(columns["layer"])
            writer.write_table(pa.table(columns, schema=INSTRUCTION_SCHEMA))
    return {"iterations_per_layer": iterations, "rows": rows}


def build_manifest(program: Program, materialized: dict[str, Any]) -> dict[str, Any]:
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
                "instructions": count_instructions(layer.root, program.blocks),
                "iterations": count_block_executions(layer.root),
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


# ---------------------------------------------------------------------------- reading


def _reject_constant(name: str) -> None:
    raise ValueError(f"{name} is not a number a trace can hold")


def read_trace(folder: Path) -> Program:
    """Load and validate a trace folder; every defect is a TraceError naming it."""
    where = str(folder)
    again = "re-create it with `accperf-trace lower`"
    if not folder.exists():
        raise TraceError(f"{where}: no such trace folder; {again}")
    if not folder.is_dir():
        raise TraceError(f"{where}: is a file, not a trace folder; give the folder `lower` printed")
    manifest_path = folder / MANIFEST
    if not manifest_path.exists():
        raise TraceError(
            f"{where}: no {MANIFEST}, so this is not a complete accperf trace; {again}"
        )
    try:
        manifest = json.loads(manifest_path.read_text(), parse_constant=_reject_constant)
    except (ValueError, UnicodeDecodeError) as exc:
        raise TraceError(f"{manifest_path}: not valid JSON ({exc}); {again}") from None
    except OSError as exc:
        raise TraceError(f"{manifest_path}: cannot be read ({exc.strerror})") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise TraceError(f"{manifest_path}: not an accperf trace manifest; {again}")
    version = manifest.get("schema_version")
    if version != SCHEMA_VERSION:
        raise TraceError(
            f"{where}: trace schema version {version!r}, but this accperf reads version "
            f"{SCHEMA_VERSION}; {again} (or use the accperf version that wrote it)"
        )
    try:
        program = _program_from(folder, manifest)  # validates as it goes
    except TraceError:
        raise
    except ProgramError as exc:
        raise TraceError(f"{where}: {exc}; {again}") from None
    except (
        KeyError,
        TypeError,
        ValueError,
        IndexError,
        AttributeError,
        OverflowError,
        pa.ArrowException,
        OSError,
    ) as exc:
        raise TraceError(f"{where}: damaged trace ({type(exc).__name__}: {exc}); {again}") from None
    return program


def _known_isa(isa: object) -> str:
    # The family decides the memory side the engine adds; an unknown one would silently
    # drop it.
    if isa != "" and isa not in FAMILIES:  # "": a hand-built program, no family
        raise ValueError(f"isa {isa!r} is none of this accperf's ({', '.join(sorted(FAMILIES))})")
    return str(isa)


def _read_arrow(path: Path, schema: pa.Schema) -> pa.Table:
    if not path.exists():
        raise TraceError(
            f"{path}: missing; the trace is incomplete; re-create it with `accperf-trace lower`"
        )
    try:
        with pa.memory_map(str(path), "r") as source:
            table = ipc.open_file(source).read_all()
            # A damaged file can decode into arrays whose offsets run backwards or past
            # their data, which converting to Python turns into a SystemError.
            table.validate(full=True)
    except (pa.ArrowException, OSError) as exc:
        raise TraceError(
            f"{path}: truncated or not an Arrow IPC file ({exc}); "
            "re-create the trace with `accperf-trace lower`"
        ) from None
    # Columns are matched by name and type; their order is free (files written before
    # the template table ordered them had the flag before the operands).
    found = {field.name: field for field in table.schema}
    if len(found) != len(table.schema) or found != {field.name: field for field in schema}:
        raise TraceError(
            f"{path}: columns do not match schema version {SCHEMA_VERSION}; "
            "re-create the trace with `accperf-trace lower`"
        )
    return table.select(schema.names)


def _program_from(folder: Path, manifest: dict[str, Any]) -> Program:
    templates = _read_arrow(folder / TEMPLATES, TEMPLATE_SCHEMA).to_pydict()
    loops = _read_arrow(folder / LOOPS, LOOP_SCHEMA).to_pydict()
    units = dict(manifest["units"])
    spaces = dict(manifest["spaces"])
    problem = _Problems(folder / TEMPLATES)

    blocks_rows: dict[int, list[Template]] = {}
    names: dict[int, str] = {}
    # Column by column, then a Template per row from its values in field order (the order
    # of TEMPLATE_FIELDS, Template's own): a trace holds thousands of templates.
    values = [
        [tuple(map(_operand, operands)) for operands in templates[spec.name]]
        if spec.kind is FieldKind.OPERANDS
        else [tuple(coefs) for coefs in templates[spec.name]]
        if spec.kind is FieldKind.INSTANCE_COEFS
        else [
            tuple((pair["action"], pair["amount"]) for pair in actions)
            for actions in templates[spec.name]
        ]
        if spec.kind is FieldKind.ACTIONS
        else templates[spec.name]
        for spec in TEMPLATE_FIELDS
    ]
    for row, template in enumerate(map(Template, *values)):
        block = templates["block"][row]
        if templates["position"][row] != len(blocks_rows.get(block, [])):
            problem(f"row {row}: block {block} positions are out of order")
        blocks_rows.setdefault(block, []).append(template)
        names[block] = templates["block_name"][row]
    if sorted(blocks_rows) != list(range(len(blocks_rows))):
        problem("block ids are not 0..n-1")
    blocks = tuple(Block(names[b], tuple(blocks_rows[b])) for b in range(len(blocks_rows)))

    layers = []
    entries = manifest["layers"]
    by_layer: dict[int, list[int]] = {}
    for row, layer_index in enumerate(loops["layer"]):
        by_layer.setdefault(layer_index, []).append(row)
    loop_problem = _Problems(folder / LOOPS)
    if sorted(by_layer) != list(range(len(entries))):
        loop_problem(f"has layers {sorted(by_layer)[:5]}..., the manifest lists {len(entries)}")
    sharing = SubtreeSharing()
    for index, entry in enumerate(entries):
        # Equal subtrees as one object, as a lowering leaves them: packing and bounds then
        # cost the distinct subtrees, not the nodes (isa/sharing.py).
        root = sharing.share(_loop_tree(loops, by_layer[index], len(blocks), loop_problem))
        layer = LayerProgram(
            name=str(entry["name"]),
            kind=str(entry["kind"]),
            macs=int(entry["macs"]),
            mapping=dict(entry["mapping"]),
            root=root,
        )
        layers.append(layer)
    frontend = manifest["frontend"]
    program = Program(
        accelerator=str(manifest["accelerator"]),
        isa=_known_isa(manifest["isa"]),
        parameters=dict(manifest["parameters"]),
        bundles_per_cycle=frontend["bundles_per_cycle"],
        window_bundles=frontend["window_bundles"],
        frontend_delay=frontend["delay"],
        units=units,
        spaces=spaces,
        queues=dict(manifest["queues"]),
        frontends={
            str(name): Frontend(spec["bundles_per_cycle"], spec["window_bundles"], spec["delay"])
            for name, spec in manifest["frontends"].items()
        },
        blocks=blocks,
        layers=tuple(layers),
        model=str(manifest["model"]),
        notes=_notes(manifest.get("notes", [])),
        roofline=_roofline(manifest.get("roofline")),
        memories={
            str(name): Memory(spec["kind"], spec["word_bytes"], spec["capacity_bytes"])
            for name, spec in manifest["memories"].items()
        },
        datapath=_datapath(manifest["datapath"]),
        host_layers=tuple(
            HostLayer(
                name=str(entry["name"]),
                kind=str(entry["kind"]),
                operations=entry["operations"],
                position=entry["position"],
                reason=str(entry["reason"]),
                placement=str(entry["placement"]),
            )
            for entry in manifest["host_layers"]
        ),
    )
    # Counts are checked after the structure, so a count never walks a malformed tree.
    check_program(program)
    for layer, entry in zip(program.layers, entries, strict=True):
        if count_instructions(layer.root, program.blocks) != entry["instructions"]:
            loop_problem(f"layer {layer.name!r}: instruction count differs from the manifest")
    return program


def _datapath(raw: Any) -> Datapath | None:
    return None if raw is None else Datapath(raw["operand_bits"], raw["accumulator_bits"])


def _notes(raw: Any) -> tuple[str, ...]:
    if not isinstance(raw, list) or not all(isinstance(note, str) for note in raw):
        raise ValueError("notes must be a list of strings")
    return tuple(raw)


def _roofline(raw: Any) -> dict[str, int] | None:
    if raw is None:
        return None
    keys = ("peak_macs_per_cycle", "dram_words_per_cycle")
    if not isinstance(raw, dict) or set(raw) != set(keys):
        raise ValueError(f"roofline must be null or have exactly {', '.join(keys)}")
    for key in keys:
        value = raw[key]
        if not isinstance(value, int) or isinstance(value, bool) or value < (key == keys[0]):
            raise ValueError(f"roofline {key} is {value!r}")
    return {key: raw[key] for key in keys}


class _Problems:
    def __init__(self, path: Path) -> None:
        self.path = path

    def __call__(self, message: str) -> None:
        raise TraceError(f"{self.path}: {message}; re-create the trace with `accperf-trace lower`")


def _operand(raw: dict[str, Any]) -> Operand:
    return Operand(raw["space"], raw["base"], raw["count"], tuple(raw["coefs"]))


def _loop_tree(
    loops: dict[str, list[Any]], rows: list[int], n_blocks: int, problem: _Problems
) -> Loop:
    children: dict[int, list[int]] = {}
    for row in rows:
        children.setdefault(loops["parent"][row], []).append(row)
    by_node = {loops["node"][row]: row for row in rows}
    if len(by_node) != len(rows) or len(children.get(-1, [])) != 1:
        problem("a layer's loop tree must have unique node ids and exactly one root")

    def build(row: int, depth: int) -> Loop | BlockRef:
        if depth > MAX_DEPTH:  # check_program gives the precise limit; this stops recursion
            problem(f"loops nest deeper than {MAX_DEPTH}")
        if loops["kind"][row] == "block":
            block = loops["block"][row]
            if not 0 <= block < n_blocks:
                problem(f"row {row}: block {block} does not exist")
            return BlockRef(block)
        if loops["kind"][row] != "loop" or loops["trips"][row] < 0:
            problem(f"row {row}: kind must be loop or block, trips >= 0")
        body = tuple(build(child, depth + 1) for child in children.get(loops["node"][row], []))
        return Loop(loops["name"][row], loops["trips"][row], body)

    root = build(children[-1][0], 0)
    if not isinstance(root, Loop):
        problem("a layer's root must be a loop")
    return root  # type: ignore[return-value]
