"""Reading a trace folder (tracer/trace_io.py writes it and holds its schema): every file
checked against its schema and the program against isa/validation.py, so a missing,
truncated, foreign, other-version or damaged trace is one TraceError naming the file and
the fix (docs/design.md §7.6)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.ipc as ipc

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
    SubtreeCounts,
    Template,
)
from isa.registry import FAMILIES
from isa.sharing import SubtreeSharing
from isa.validation import ProgramError, check_program
from tracer.errors import TraceError
from tracer.trace_io import (
    FORMAT,
    LOOP_SCHEMA,
    LOOPS,
    MANIFEST,
    SCHEMA_VERSION,
    TEMPLATE_SCHEMA,
    TEMPLATES,
)


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
    except RecursionError:
        raise TraceError(f"{manifest_path}: nested too deeply for a manifest; {again}") from None
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


def _operand_lists(column: pa.ChunkedArray, interned: dict[tuple, Operand]) -> list[tuple]:
    """A template column of operand lists, each distinct operand one object (keyed by its
    fields, across columns), as the lowering shares one per register: at 512x512 the
    2.1 M operands of a systolic trace are 0.8 M distinct ones, and the checks and the
    packing take each object once."""
    lists = column.combine_chunks()
    offsets = lists.offsets.to_numpy()
    # The struct's fields by slicing, not ListArray.flatten or StructArray.flatten: those
    # import pyarrow.compute, 30-50 ms of a 0.3 s `analyze`.
    first, end = lists.values.offset + offsets[0], lists.values.offset + offsets[-1]
    offsets = (offsets - offsets[0]).tolist()
    fields = [
        lists.values.field(name)[first:end].to_pylist()
        for name in ("space", "base", "count", "coefs")
    ]
    coefs = map(tuple, fields.pop())
    flat = []
    for key in zip(*fields, coefs, strict=True):
        operand = interned.get(key)
        if operand is None:
            operand = interned[key] = Operand(*key)
        flat.append(operand)
    return [tuple(flat[a:b]) for a, b in zip(offsets, offsets[1:], strict=False)]


def _action_lists(rows: list[list[dict[str, Any]]]) -> list[tuple]:
    """Each row's (action, amount) pairs, equal lists one object (checked once)."""
    interned: dict[tuple, tuple] = {}
    lists = []
    for row in rows:
        pairs = tuple((pair["action"], pair["amount"]) for pair in row)
        lists.append(interned.setdefault(pairs, pairs))
    return lists


def _program_from(folder: Path, manifest: dict[str, Any]) -> Program:
    table = _read_arrow(folder / TEMPLATES, TEMPLATE_SCHEMA)
    interned: dict[tuple, Operand] = {}
    templates = {
        name: _operand_lists(table.column(name), interned)
        if name in OPERAND_LISTS
        else table.column(name).to_pylist()
        for name in table.column_names
    }
    loops = _read_arrow(folder / LOOPS, LOOP_SCHEMA).to_pydict()
    units = dict(manifest["units"])
    spaces = dict(manifest["spaces"])
    problem = _Problems(folder / TEMPLATES)

    blocks_rows: dict[int, list[Template]] = {}
    names: dict[int, str] = {}
    # Column by column, then a Template per row from its values in field order (the order
    # of TEMPLATE_FIELDS, Template's own): a trace holds thousands of templates.
    values = [
        templates[spec.name]
        if spec.kind is FieldKind.OPERANDS
        else [tuple(coefs) for coefs in templates[spec.name]]
        if spec.kind is FieldKind.INSTANCE_COEFS
        else _action_lists(templates[spec.name])
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
        root = _loop_tree(loops, by_layer[index], len(blocks), loop_problem, sharing)
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
    counts = SubtreeCounts(program.blocks)
    for layer, entry in zip(program.layers, entries, strict=True):
        if counts.instructions(layer.root) != entry["instructions"]:
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


def _loop_tree(
    loops: dict[str, list[Any]],
    rows: list[int],
    n_blocks: int,
    problem: _Problems,
    sharing: SubtreeSharing,
) -> Loop:
    """A layer's tree from its rows, built bottom-up through `sharing`: a subtree equal to
    one built before (in this layer or an earlier one) is that object, never a copy."""
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
            return sharing.block(block)
        if loops["kind"][row] != "loop" or loops["trips"][row] < 0:
            problem(f"row {row}: kind must be loop or block, trips >= 0")
        body = tuple([build(child, depth + 1) for child in children.get(loops["node"][row], ())])
        return sharing.loop(loops["name"][row], loops["trips"][row], body)

    root = build(children[-1][0], 0)
    if not isinstance(root, Loop):
        problem("a layer's root must be a loop")
    return root  # type: ignore[return-value]
