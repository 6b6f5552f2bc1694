"""Fuzzing the parsers: every input a user hands accperf, mutated and truncated, gives a
result or one clear error, never a crash.

Each test takes a valid input (an ONNX file, a SCALE-Sim topology, an accelerator
description, a trace folder's manifest and Arrow files), lets hypothesis break it (cut it
short, flip, drop or insert bytes, change characters, lines, JSON values, table cells or
protobuf fields) and runs it through the command line, in process. The promise checked
(README "Bad input"): exit code 0, or exit code 2 with exactly one `error: ` line on
stderr, nothing on stdout and nothing written; any other exception escapes `main` (it
catches only UserInputError, which accperf.AccperfError is) and fails the test with its
traceback.

The default run is short and the same every time (derandomized, a few seconds a test);
ACCPERF_FUZZ=N runs N times as many examples (still derandomized), e.g. before a release.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import onnx
import pyarrow as pa
import pyarrow.ipc as ipc
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import accperf
from accelerators.description import BUILTIN_DIR
from tracer.cli import main
from tracer.workloads.layers import Conv2d, Dense, Model
from tracer.workloads.onnx_export import write_onnx
from tracer.workloads.zoo import build_model

SCALE = int(os.environ.get("ACCPERF_FUZZ", "1"))


def fuzz_settings(examples: int) -> settings:
    return settings(
        max_examples=examples * SCALE,
        derandomize=True,
        database=None,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )


# ----------------------------------------------------------------------- the promise


@contextlib.contextmanager
def scratch() -> Iterator[Path]:
    # hypothesis runs the body many times per test, so no function-scoped tmp_path.
    folder = Path(tempfile.mkdtemp(prefix="accperf-fuzz-"))
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def run_cli(argv: list[str], written: Path) -> int:
    """`main(argv)`, checking the promise; `written`: the folder it may write into, which
    must stay empty when the input is refused."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(argv)
    if code == 0:
        return code
    assert code == 2, (code, err.getvalue())
    assert err.getvalue().startswith("error: ") and err.getvalue().count("\n") == 1, err.getvalue()
    assert out.getvalue() == ""
    assert not any(written.iterdir()), sorted(written.iterdir())  # hidden staging included
    return code


# ----------------------------------------------------------------------- mutations


@dataclass(frozen=True)
class Sample:
    """A mutated input, shown in a failure report by what was done to it (the bytes
    themselves run to kilobytes; the derandomized run reproduces them)."""

    content: Any
    what: str

    def __repr__(self) -> str:
        return self.what

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:  # hypothesis's reports
        printer.text(self.what)


NASTY_TOKENS = (
    "0", "-1", "1e9", "99999999999999999999", "", "x", ",", "=", "[", "]", "{", "}", '"',
    "'", "\\", "#", "\x00", "é", "1.5", "nan", "inf", "true", "0x10", "\n", "\r", "\t",
)  # fmt: skip


@st.composite
def mutated_bytes(draw: st.DrawFn, data: bytes) -> Sample:
    """`data` cut short, or with a few bytes replaced, dropped or inserted."""
    kind = draw(st.sampled_from(["truncate", "replace", "delete", "insert"]))
    if kind == "truncate":
        end = draw(st.integers(0, len(data) - 1))
        return Sample(data[:end], f"the first {end} of {len(data)} bytes")
    result = bytearray(data)
    places = []
    for _ in range(draw(st.integers(1, 8))):
        at = draw(st.integers(0, len(result) - 1))
        places.append(at)
        if kind == "replace":
            result[at] = draw(st.integers(0, 255))
        elif kind == "delete":
            del result[at]
        else:
            result.insert(at, draw(st.integers(0, 255)))
    return Sample(bytes(result), f"{kind} bytes at {places}")


@st.composite
def mutated_text(draw: st.DrawFn, text: str) -> Sample:
    """`text` cut short, a line dropped, repeated or cut, or spans replaced by tokens a
    careless edit leaves behind."""
    lines = text.splitlines()
    kind = draw(st.sampled_from(["truncate", "drop", "repeat", "cut", "tokens", "characters"]))
    if kind == "truncate":
        end = draw(st.integers(0, len(text) - 1))
        return Sample(text[:end], f"the first {end} characters: {text[:end][-40:]!r}")
    line = draw(st.integers(0, len(lines) - 1))
    if kind == "drop":
        del lines[line]
    elif kind == "repeat":
        lines.insert(draw(st.integers(0, len(lines))), lines[line])
    elif kind == "cut":
        lines[line] = lines[line][: draw(st.integers(0, len(lines[line])))]
    else:
        chars = list(text)
        edits = []
        for _ in range(draw(st.integers(1, 4))):
            at = draw(st.integers(0, len(chars)))
            width = draw(st.integers(0, 3))
            if kind == "tokens":
                new = draw(st.sampled_from(NASTY_TOKENS))
            else:
                new = draw(st.text(min_size=0, max_size=3))
            chars[at : at + width] = new
            edits.append((at, width, new))
        return Sample("".join(chars), f"(position, width, replacement): {edits}")
    return Sample(
        "\n".join(lines) + "\n", f"{kind} line {line + 1}: {lines[min(line, len(lines) - 1)]!r}"
    )


JSON_VALUES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False),
    st.text(max_size=5),
    st.lists(st.integers(-3, 3), max_size=3),
    st.dictionaries(st.text(max_size=3), st.integers(-3, 3), max_size=2),
)


def paths(value: Any, prefix: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    """Every place inside a JSON-like value: dict keys and list indices, depth first."""
    if prefix:
        yield prefix
    if isinstance(value, dict):
        for key, item in value.items():
            yield from paths(item, (*prefix, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from paths(item, (*prefix, index))


@st.composite
def mutated_tree(draw: st.DrawFn, tree: Any, values: st.SearchStrategy[Any]) -> Sample:
    """A deep copy of a JSON-like tree with one to three places deleted, nudged (integers
    by one or a thousand) or replaced by `values`."""
    tree = json.loads(json.dumps(tree))
    edits = []
    for _ in range(draw(st.integers(1, 3))):
        places = list(paths(tree))
        if not places:
            break
        place = draw(st.sampled_from(places))
        parent = tree
        for key in place[:-1]:
            parent = parent[key]
        old = parent[place[-1]]
        kind = draw(st.sampled_from(["delete", "nudge", "replace", "replace"]))
        if kind == "delete" and isinstance(parent, dict):
            del parent[place[-1]]
            edits.append(f"{'/'.join(map(str, place))} deleted")
            continue
        if kind == "nudge" and type(old) is int:
            parent[place[-1]] = old + draw(st.sampled_from([-1000, -1, 1, 1000]))
        else:
            parent[place[-1]] = draw(values)
        edits.append(f"{'/'.join(map(str, place))} = {parent[place[-1]]!r}"[:200])
    return Sample(tree, "; ".join(edits))


# ----------------------------------------------------------------------- ONNX files


@cache
def onnx_model() -> bytes:
    """tc_resnet8 (convs, residual additions, a pool and a dense layer) as ONNX."""
    with scratch() as folder:
        path = folder / "tc_resnet8.onnx"
        write_onnx(build_model("tc_resnet8"), path)
        return path.read_bytes()


def lower_file(folder: Path, name: str, content: bytes, *extra: str) -> int:
    model = folder / name
    model.write_bytes(content)
    out = folder / "traces"
    out.mkdir()
    argv = ["lower", "--accelerator", "systolic", "--model", str(model), "-o", str(out)]
    return run_cli([*argv, "--param", "rows=4", "--param", "cols=4", *extra], out)


@fuzz_settings(40)
@given(st.data())
def test_damaged_onnx_files(data: st.DataObject) -> None:
    sample = data.draw(mutated_bytes(onnx_model()))
    with scratch() as folder:
        lower_file(folder, "model.onnx", sample.content)


ONNX_OPS = (
    "Conv", "Gemm", "MatMul", "Add", "Mul", "Relu", "Clip", "MaxPool", "AveragePool",
    "GlobalAveragePool", "Flatten", "Reshape", "Identity", "Softmax", "Concat", "Sub",
)  # fmt: skip
ATTRIBUTE_INTS = st.sampled_from([0, -1, 1, 2, 3, 7, 2**31, -(2**40)])


@st.composite
def mutated_graph(draw: st.DrawFn) -> Sample:
    """tc_resnet8's graph with nodes retyped, rewired, dropped or given odd attributes,
    and input dimensions changed: files that decode, and that shape inference may pass."""
    proto = onnx.load_from_string(onnx_model())
    graph = proto.graph
    edits = []
    for _ in range(draw(st.integers(1, 3))):
        node = graph.node[draw(st.integers(0, len(graph.node) - 1))]
        kind = draw(
            st.sampled_from(
                ["attribute", "op", "rewire", "unwire", "dimension", "rename", "drop", "add"]
            )
        )
        edits.append(f"{kind} at node {node.name}")
        if kind == "attribute" and node.attribute:
            attribute = draw(st.sampled_from(list(node.attribute)))
            if attribute.ints:
                attribute.ints[draw(st.integers(0, len(attribute.ints) - 1))] = draw(ATTRIBUTE_INTS)
            elif attribute.type == onnx.AttributeProto.INT:
                attribute.i = draw(ATTRIBUTE_INTS)
        elif kind == "op":
            node.op_type = draw(st.sampled_from(ONNX_OPS))
        elif kind == "rewire" and node.input:
            choices = ["nowhere", "", node.output[0], graph.input[0].name]
            node.input[draw(st.integers(0, len(node.input) - 1))] = draw(st.sampled_from(choices))
        elif kind == "unwire" and node.input:
            del node.input[draw(st.integers(0, len(node.input) - 1))]
        elif kind == "dimension":
            value = graph.input[draw(st.integers(0, len(graph.input) - 1))]
            dims = value.type.tensor_type.shape.dim
            if dims:
                dim = dims[draw(st.integers(0, len(dims) - 1))]
                if draw(st.booleans()):
                    dim.dim_value = draw(st.sampled_from([0, 1, 2, 5, 10**9]))
                else:
                    dim.dim_param = draw(st.sampled_from(["batch", "N", "seq"]))
        elif kind == "rename":
            node.name = graph.node[0].name
        elif kind == "drop":
            del graph.node[draw(st.integers(0, len(graph.node) - 1))]
        else:
            attribute = node.attribute.add()
            attribute.name = draw(
                st.sampled_from(["group", "pads", "strides", "auto_pad", "ceil_mode", "axis"])
            )
            attribute.type = onnx.AttributeProto.INT
            attribute.i = draw(ATTRIBUTE_INTS)
    return Sample(proto.SerializeToString(), "; ".join(edits))


@fuzz_settings(60)
@given(mutated_graph(), st.sampled_from([[], ["--batch", "2"], ["--skip-unsupported"]]))
def test_mutated_onnx_graphs(sample: Sample, options: list[str]) -> None:
    with scratch() as folder:
        lower_file(folder, "model.onnx", sample.content, *options)


def test_a_node_missing_a_required_input_is_one_error(tmp_path: Path) -> None:
    # Found by test_mutated_onnx_graphs: shape inference lets a Conv without its weight
    # through, and the importer read input[1] (IndexError).
    proto = onnx.load_from_string(onnx_model())
    conv = next(node for node in proto.graph.node if node.op_type == "Conv")
    del conv.input[1:]
    path = tmp_path / "m.onnx"
    path.write_bytes(proto.SerializeToString())
    with pytest.raises(accperf.AccperfError, match=r"has 1 of the 2 inputs Conv requires"):
        accperf.load_model(path)


def test_text_that_is_not_utf8_is_one_error(tmp_path: Path) -> None:
    # Found by test_damaged_onnx_files: a flipped byte in a name left protobuf handing the
    # name over as bytes, and writing the trace's manifest failed (TypeError).
    data = onnx_model()
    path = tmp_path / "m.onnx"
    path.write_bytes(data.replace(b"block1.conv1", b"block1.c\xffnv1", 1))
    with pytest.raises(
        accperf.AccperfError, match=r"graph\.node\[\d+\]\.\w+(\[\d+\])? is not valid UTF-8"
    ):
        accperf.load_model(path)


@pytest.mark.parametrize("graph_name", ["a\x00b", "../../elsewhere", "..", ""])
def test_a_graph_name_that_cannot_name_a_folder_gives_way_to_the_file_name(
    tmp_path: Path, graph_name: str
) -> None:
    # Found by test_damaged_onnx_files: a NUL in the graph name reached os.mkdir
    # (ValueError); a slash would have put the trace outside -o.
    proto = onnx.load_from_string(onnx_model())
    proto.graph.name = graph_name
    path = tmp_path / "kws.onnx"
    path.write_bytes(proto.SerializeToString())
    assert accperf.load_model(path).name == "kws"


def test_an_operator_missing_inputs_or_outputs_is_one_error(tmp_path: Path) -> None:
    # Found by test_mutated_onnx_graphs: a Gemm with no inputs failed where the importer
    # tells weights from data (IndexError); a Conv with no output would fail emitting it.
    for op_type, strip in (("Gemm", "input"), ("Conv", "output")):
        proto = onnx.load_from_string(onnx_model())
        node = next(node for node in proto.graph.node if node.op_type == op_type)
        del getattr(node, strip)[:]
        path = tmp_path / f"{op_type}.onnx"
        path.write_bytes(proto.SerializeToString())
        with pytest.raises(accperf.AccperfError, match=f"{op_type}.onnx: "):
            accperf.load_model(path)


# ----------------------------------------------------------------------- topology CSV

CONV_TOPOLOGY = (
    "Layer name, IFMAP Height, IFMAP Width, Filter Height, Filter Width, Channels, Num Filter, "
    "Strides,\nConv1, 12, 12, 3, 3, 3, 8, 2,\nDP_a, 6, 6, 3, 3, 8, 2, 1,\n"
    "pw, 4, 4, 1, 1, 16, 5, 1,\n"
)
GEMM_TOPOLOGY = "Layer, M, N, K,\nQK, 16, 16, 8,\nFFN, 8, 12, 4,\n"


@fuzz_settings(80)
@given(st.sampled_from([CONV_TOPOLOGY, GEMM_TOPOLOGY]).flatmap(mutated_text))
def test_mutated_topology_csv(sample: Sample) -> None:
    with scratch() as folder:
        lower_file(folder, "topology.csv", sample.content.encode("utf-8", "surrogatepass"))


# ----------------------------------------------------------------------- descriptions


def toml_text(tree: dict[str, Any]) -> str:
    """A TOML document for a tree of tables and values (JSON's quoting is TOML's for the
    strings and keys used here)."""
    lines: list[str] = []

    def value(item: Any) -> str:
        if isinstance(item, bool):
            return "true" if item else "false"
        if isinstance(item, int | float):
            return repr(item)
        if isinstance(item, str):
            return json.dumps(item)
        if isinstance(item, list):
            return "[" + ", ".join(value(x) for x in item) + "]"
        if item is None:
            return '""'  # TOML has no null
        return "{" + ", ".join(f"{json.dumps(k)} = {value(x)}" for k, x in item.items()) + "}"

    def table(header: str, entries: dict[str, Any]) -> None:
        tables = {k: v for k, v in entries.items() if isinstance(v, dict) and v}
        if header:
            lines.append(f"[{header}]")
        lines.extend(f"{json.dumps(k)} = {value(v)}" for k, v in entries.items() if k not in tables)
        for key, sub in tables.items():
            table(f"{header}.{json.dumps(key)}" if header else json.dumps(key), sub)

    table("", tree)
    return "\n".join(lines) + "\n"


@cache
def description_tree(name: str) -> dict[str, Any]:
    import tomllib

    return tomllib.loads((BUILTIN_DIR / f"{name}.toml").read_text())


DESCRIPTION_VALUES = st.one_of(
    JSON_VALUES.filter(lambda v: v is not None),
    st.sampled_from(
        [
            "rows * cols",
            "rows // 0",
            "0 - 1",
            "rows ** 2",
            "__import__('os')",
            "1" * 5000,  # longer than any expression may be
            "+".join(["1"] * 3000),  # parsed, it recursed past Python's limit
            "(" * 300 + "1" + ")" * 300,
            "-" * 999 + "1",
            ["ws", "ws"],
            "../elsewhere",  # a name: it becomes part of a folder's name
            "a\x00b",
        ]
    ),
)
TINY_GEMM = "Layer, M, N, K,\nfc, 2, 3, 4,\n"


@fuzz_settings(80)
@given(st.data())
def test_mutated_descriptions(data: st.DataObject) -> None:
    name = data.draw(st.sampled_from(["systolic", "gemmini"]))
    if data.draw(st.booleans()):
        text = data.draw(mutated_text((BUILTIN_DIR / f"{name}.toml").read_text())).content
    else:
        text = toml_text(
            data.draw(mutated_tree(description_tree(name), DESCRIPTION_VALUES)).content
        )
    with scratch() as folder:
        description = folder / "mine.toml"
        description.write_text(text, encoding="utf-8", errors="surrogatepass")
        model = folder / "tiny.csv"
        model.write_text(TINY_GEMM)
        out = folder / "traces"
        out.mkdir()
        argv = ["lower", "--accelerator", str(description), "--model", str(model)]
        run_cli([*argv, "-o", str(out)], out)


def test_an_expression_too_long_to_parse_is_one_error(tmp_path: Path) -> None:
    # Found by test_mutated_descriptions: ast.parse of 1+1+...+1 raised RecursionError.
    text = (BUILTIN_DIR / "systolic.toml").read_text()
    path = tmp_path / "long.toml"
    path.write_text(
        text.replace('instances = "rows * cols"', f'instances = "{"+".join(["1"] * 3000)}"', 1)
    )
    with pytest.raises(
        accperf.AccperfError, match="characters long; a size expression has at most"
    ):
        accperf.accelerator_spec(path)


@pytest.mark.parametrize("name", ["../elsewhere", "a/b", "a\\b", "a\x00b", "", ".."])
def test_a_description_name_that_cannot_name_a_folder_is_one_error(
    tmp_path: Path, name: str
) -> None:
    # Found by test_mutated_descriptions: the name becomes part of the trace folder's name.
    text = (BUILTIN_DIR / "systolic.toml").read_text()
    path = tmp_path / "mine.toml"
    path.write_text(text.replace('name = "systolic"', f"name = {json.dumps(name)}", 1))
    with pytest.raises(accperf.AccperfError, match="field 'name' is .*; give a name without /"):
        accperf.accelerator_spec(path)


# ----------------------------------------------------------------------- trace folders

TRACE_FILES = ("manifest.json", "templates.arrow", "loops.arrow", "instructions.arrow")


@cache
def traces() -> dict[str, dict[str, bytes]]:
    """The files of two small traces: a dense layer and a conv on a 2 x 2 systolic array,
    and the same on Gemmini."""
    model = Model("tiny", (Dense("fc", 3, 2, rows=3), Conv2d("c", 2, 3, 4, 4, 3, 3)))
    files = {}
    with scratch() as folder:
        for accelerator, params in (("systolic", {"rows": 2, "cols": 2}), ("gemmini", {})):
            trace = accperf.lower(model, accelerator, params).save(folder)
            files[accelerator] = {name: (trace / name).read_bytes() for name in TRACE_FILES}
    return files


def cell_value(column: pa.DataType, old: Any) -> st.SearchStrategy[Any]:
    """Values a damaged or hand-edited Arrow column might hold in place of `old`."""
    if pa.types.is_integer(column):
        near = [] if old is None else [old - 1, old + 1]
        limit = 2 ** (column.bit_width - 1) - 1
        return st.sampled_from([None, 0, -1, 1, limit, -limit, *near])
    if pa.types.is_string(column):
        return st.sampled_from([None, "", "x", "pe", "loop", "block", "north", "h"])
    if pa.types.is_boolean(column):
        return st.sampled_from([None, True, False])
    item = column.value_type if pa.types.is_list(column) else None
    if item is not None and pa.types.is_integer(item):  # instance_coefs
        return st.one_of(st.none(), st.lists(st.sampled_from([0, -1, 1, 10**12]), max_size=13))
    if item is not None and pa.types.is_struct(item) and item.get_field_index("action") >= 0:
        action = st.fixed_dictionaries(
            {
                "action": st.sampled_from(["mac", "dram.read", "", "nowhere.write", "mac.x"]),
                "amount": st.sampled_from([0, 1, -1, 10**12]),
            }
        )
        return st.one_of(st.none(), st.lists(action, max_size=3))
    operand = st.fixed_dictionaries(
        {
            "space": st.sampled_from(["h", "out", "", "nowhere"]),
            "base": st.sampled_from([0, -1, 1, 10**12]),
            "count": st.sampled_from([0, 1, -1, 10**12]),
            "coefs": st.sampled_from([[], [1], [10**12], list(range(9))]),
        }
    )
    return st.one_of(st.none(), st.lists(operand, max_size=2))


@st.composite
def damaged_trace(draw: st.DrawFn) -> Sample:
    accelerator = draw(st.sampled_from(["systolic", "gemmini"]))
    files = dict(traces()[accelerator])
    kind = draw(st.sampled_from(["manifest values", "manifest bytes", "arrow bytes", "cells"]))
    if kind == "manifest values":
        name = "manifest.json"
        tree = draw(mutated_tree(json.loads(files[name]), JSON_VALUES))
        files[name] = json.dumps(tree.content).encode()
        what = tree.what
    elif kind in ("manifest bytes", "arrow bytes"):
        name = (
            "manifest.json" if kind == "manifest bytes" else draw(st.sampled_from(TRACE_FILES[1:]))
        )
        damaged = draw(mutated_bytes(files[name]))
        files[name], what = damaged.content, damaged.what
    else:
        name = draw(st.sampled_from(["templates.arrow", "loops.arrow"]))
        table = ipc.open_file(pa.BufferReader(files[name])).read_all()
        columns = table.to_pydict()
        column = draw(st.sampled_from(table.schema.names))
        row = draw(st.integers(0, table.num_rows - 1))
        field = table.schema.field(column)
        columns[column][row] = draw(cell_value(field.type, columns[column][row]))
        sink = pa.BufferOutputStream()
        with ipc.new_file(sink, table.schema) as writer:
            writer.write_table(pa.table(columns, schema=table.schema))
        files[name] = sink.getvalue().to_pybytes()
        what = f"row {row} {column} = {columns[column][row]!r}"
    return Sample(files, f"{accelerator} trace, {name}: {what}")


@fuzz_settings(80)
@given(damaged_trace())
def test_damaged_trace_folders(sample: Sample) -> None:
    with scratch() as folder:
        trace = folder / "tiny__systolic"
        trace.mkdir()
        for name, content in sample.content.items():
            (trace / name).write_bytes(content)
        out = folder / "report"
        out.mkdir()
        for mode in ("fast", "full"):
            argv = ["analyze", str(trace), "--mode", mode, "--json", str(out / f"{mode}.json")]
            run_cli(argv, out)


def test_notes_that_are_not_text_are_one_error(tmp_path: Path) -> None:
    # Found by test_damaged_trace_folders: a manifest whose notes held a null loaded, and
    # `analyze` failed printing its warnings (AttributeError).
    trace = tmp_path / "tiny__systolic"
    trace.mkdir()
    for name, content in traces()["systolic"].items():
        (trace / name).write_bytes(content)
    manifest = json.loads(traces()["systolic"]["manifest.json"])
    for notes in ([None], "a note", [1]):
        (trace / "manifest.json").write_text(json.dumps({**manifest, "notes": notes}))
        with pytest.raises(accperf.AccperfError, match="notes must be a list of strings"):
            accperf.load_trace(trace)


def test_arrow_offsets_out_of_order_are_one_error(tmp_path: Path) -> None:
    # Found by test_damaged_trace_folders: a damaged string column's offsets decoded
    # without complaint, and converting the column raised a SystemError ("Negative size
    # passed to PyUnicode_New"). Here: an uncompressed templates.arrow whose opcode
    # offsets go backwards.
    trace = tmp_path / "tiny__systolic"
    trace.mkdir()
    for name, content in traces()["systolic"].items():
        (trace / name).write_bytes(content)
    table = ipc.open_file(pa.BufferReader(traces()["systolic"]["templates.arrow"])).read_all()
    sink = pa.BufferOutputStream()
    with ipc.new_file(sink, table.schema) as writer:
        writer.write_table(table)
    data = sink.getvalue().to_pybytes()
    offsets = table.column("opcode").combine_chunks().buffers()[1].to_pybytes()
    assert data.count(offsets) == 1
    values = list(memoryview(offsets).cast("i"))
    values[1] = values[2] + 5  # the first opcode runs past the second's start
    damaged = data.replace(offsets, b"".join(v.to_bytes(4, "little", signed=True) for v in values))
    (trace / "templates.arrow").write_bytes(damaged)
    with pytest.raises(accperf.AccperfError, match="truncated or not an Arrow IPC file"):
        accperf.load_trace(trace)
