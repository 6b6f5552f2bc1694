"""SCALE-Sim topology CSV import: both formats, SCALE-Sim's own reading of them, bad files."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from analyzer.crosscheck import scalesim_env
from isa.systolic.mapping import DATAFLOWS, gemm_shape
from tracer.cli import main
from tracer.errors import WorkloadError
from tracer.workloads.layers import DEPTHWISE_NOTE, Conv2d, Dense
from tracer.workloads.scalesim_csv import import_topology

CONV_HEADER = (
    "Layer name, IFMAP Height, IFMAP Width, Filter Height, Filter Width, Channels, Num Filter, "
    "Strides,"
)
# Rows as SCALE-Sim's own topology files write them: each ends with a comma, because
# SCALE-Sim drops the last field of every row.
CONV_ROWS = [
    "Conv1, 224, 224, 7, 7, 3, 64, 2,",  # (224 - 7) % 2 != 0: SCALE-Sim rounds the ofmap up
    "CB2a_1, 56, 56, 1, 1, 64, 64, 1,",
    "rect, 17, 11, 3, 5, 5, 7, 3,",
    "DP_conv, 14, 14, 3, 3, 32, 1, 1,",  # 'DP': SCALE-Sim runs one 1-channel layer per channel
    "xDPx, 10, 10, 3, 3, 4, 3, 2,",  # ... each with Num Filter filters: 4 x 3 outputs
]
GEMM_TEXT = "Layer, M, N, K,\nQK, 128, 128, 64,\nFFN, 512, 3072, 768,\n"


def _write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def _conv_topology(tmp_path: Path) -> Path:
    return _write(tmp_path, "topo.csv", "\n".join([CONV_HEADER, *CONV_ROWS]) + "\n")


def test_conv_rows_become_convolutions(tmp_path: Path) -> None:
    model = import_topology(_conv_topology(tmp_path))
    assert model.name == "topo"
    conv1, pointwise, rect, depthwise, multiplied = model.layers
    # ceil((224 - 7 + 2) / 2) = 110 outputs; the last window reaches row 225, one past the
    # ifmap, which becomes one row of end padding.
    assert conv1 == Conv2d("Conv1", 3, 64, 224, 224, 7, 7, stride=2, padding=(0, 0, 1, 1))
    assert conv1.output_shape == (1, 64, 110, 110)
    assert pointwise == Conv2d("CB2a_1", 64, 64, 56, 56, 1, 1)
    # ceil((17 - 3 + 3) / 3) = 6 rows, ceil((11 - 5 + 3) / 3) = 3 cols; both reach exactly.
    assert rect.output_shape == (1, 7, 6, 3)
    assert rect.padding == (0, 0, 1, 0)
    assert depthwise == Conv2d("DP_conv", 32, 32, 14, 14, 3, 3, groups=32)
    # 'DP' anywhere in the name; Num Filter 3 is per channel: 4 groups of 1 input and 3
    # outputs. ceil((10 - 3 + 2) / 2) = 5 outputs per axis, the last window one past.
    assert multiplied == Conv2d(
        "xDPx", 4, 12, 10, 10, 3, 3, stride=2, padding=(0, 0, 1, 1), groups=4
    )
    assert multiplied.macs == 4 * 3 * 5 * 5 * 3 * 3
    # Only that row gets a note, since Num Filter 1 is what a depthwise conv usually has.
    [note] = model.notes
    assert note.startswith(DEPTHWISE_NOTE) and "xDPx 4 x 3 = 12" in note
    assert "DP_conv" not in note


def test_trailing_comma_is_optional(tmp_path: Path) -> None:
    bare = [row.rstrip(",") for row in CONV_ROWS]
    without = _write(tmp_path, "bare.csv", "\n".join([CONV_HEADER.rstrip(","), *bare]) + "\n")
    assert import_topology(without).layers == import_topology(_conv_topology(tmp_path)).layers


def test_gemm_rows_become_dense_layers(tmp_path: Path) -> None:
    model = import_topology(_write(tmp_path, "gemm.csv", GEMM_TEXT))
    assert model.layers == (
        Dense("QK", in_features=64, out_features=128, rows=128),
        Dense("FFN", in_features=768, out_features=3072, rows=512),
    )


def test_batch_applies_to_conv_topologies_only(tmp_path: Path) -> None:
    model = import_topology(_conv_topology(tmp_path), batch=4)
    assert all(layer.output_shape[0] == 4 for layer in model.layers)
    with pytest.raises(WorkloadError, match="no batch dimension"):
        import_topology(_write(tmp_path, "gemm.csv", GEMM_TEXT), batch=4)


@pytest.mark.parametrize(
    ("row", "fragment"),
    [
        ("c, 8, 8, 3, 3, 4", "missing Num Filter, Strides"),
        ("c, 8, -8, 3, 3, 4, 8, 1,", "IFMAP Width is -8"),
        ("c, 8, 8, 3, x, 4, 8, 1,", "Filter Width 'x' is not an integer"),
        ("c, 8, 8, 9, 3, 4, 8, 1,", "filter height 9 exceeds the IFMAP height 8"),
        ("c, 8, 8, 3, 3, 4, 8, 1, 2:4,", "sparsity '2:4'"),
        ("c, 8, 8, 3, 3, 4, 8, 1, 1:1, 7, 7,", "fields; expected"),
    ],
)
def test_bad_rows_name_file_line_and_column(tmp_path: Path, row: str, fragment: str) -> None:
    path = _write(tmp_path, "bad.csv", f"{CONV_HEADER}\nok, 8, 8, 3, 3, 4, 8, 1,\n{row}\n")
    with pytest.raises(WorkloadError) as excinfo:
        import_topology(path)
    assert f"{path}:3" in str(excinfo.value)
    assert fragment in str(excinfo.value)


def test_bad_files(tmp_path: Path) -> None:
    with pytest.raises(WorkloadError, match="empty"):
        import_topology(_write(tmp_path, "empty.csv", "\n\n"))
    with pytest.raises(WorkloadError, match="header but no layers"):
        import_topology(_write(tmp_path, "header.csv", CONV_HEADER + "\n"))
    with pytest.raises(WorkloadError, match="header has 3 columns"):
        import_topology(_write(tmp_path, "short.csv", "a,b,c\n1,2,3\n"))
    with pytest.raises(WorkloadError, match="used twice"):
        import_topology(
            _write(tmp_path, "dup.csv", f"{CONV_HEADER}\n{CONV_ROWS[1]}\n{CONV_ROWS[1]}\n")
        )
    binary = tmp_path / "binary.csv"
    binary.write_bytes(b"\xff\xfe\x00\x81" * 10)
    with pytest.raises(WorkloadError, match="not a text file"):
        import_topology(binary)


@pytest.mark.parametrize(
    ("text", "first"),
    [
        ("\n".join(CONV_ROWS[:2]) + "\n", "Conv1"),
        ("\n\nQK, 128, 128, 64,\nFFN, 512, 3072, 768,\n", "QK"),  # blank lines first
        ("QK, 128, 128, 64\n", "QK"),
    ],
)
def test_a_file_without_its_header_is_refused(tmp_path: Path, text: str, first: str) -> None:
    # SCALE-Sim skips the first line unread (test_scalesim_loses_a_headerless_first_layer),
    # so reading the row would disagree with it and skipping it would lose a layer.
    path = _write(tmp_path, "nohead.csv", text)
    with pytest.raises(WorkloadError) as excinfo:
        import_topology(path)
    message = str(excinfo.value)
    assert f"layer {first!r}, not the header" in message
    assert "Add the header line (Layer name, IFMAP Height" in message
    assert message.startswith(f"{path}:{text.count(chr(10), 0, text.index(first)) + 1}:")


def test_a_header_with_other_column_names_is_still_a_header(tmp_path: Path) -> None:
    # SCALE-Sim never reads the header's names; neither do we, beyond telling formats apart.
    text = "name,h,w,fh,fw,c,n,s,\n" + "\n".join(CONV_ROWS[:2]) + "\n"
    assert len(import_topology(_write(tmp_path, "named.csv", text)).layers) == 2


def test_cli_errors_are_one_line_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = _write(tmp_path, "neg.csv", f"{CONV_HEADER}\nc, 8, 8, 3, 3, -4, 8, 1,\n")
    short = _write(tmp_path, "short.csv", f"{CONV_HEADER}\nc, 8, 8, 3, 3, 4, 8\n")
    out = tmp_path / "traces"
    out.mkdir()
    for argv in (
        ["layers", str(bad)],
        ["lower", "--accelerator", "systolic", "--model", str(bad), "-o", str(out)],
        ["lower", "--accelerator", "systolic", "--model", str(short), "-o", str(out)],
        ["layers", str(tmp_path / "absent.csv")],
    ):
        assert main(argv) == 2
        err = capsys.readouterr().err
        assert err.startswith("error: ") and err.count("\n") == 1 and "Traceback" not in err
    assert not list(out.iterdir())


def test_cli_lowers_and_analyzes_a_topology(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    topology = _conv_topology(tmp_path)
    assert (
        main(
            [
                "lower",
                "--accelerator",
                "systolic",
                "--param",
                "rows=8",
                "--param",
                "cols=8",
                "--model",
                str(topology),
                "-o",
                str(tmp_path),
            ]
        )
        == 0
    )
    lowered = capsys.readouterr()
    trace = Path(lowered.out.strip())
    # Lowering warns how the DP row with 3 filters per channel was read.
    assert lowered.err.count(f"warning: {DEPTHWISE_NOTE}") == 1
    report = tmp_path / "report.json"
    assert main(["analyze", str(trace), "--json", str(report)]) == 0
    # Analysis warns as lowering did.
    assert capsys.readouterr().err.count(f"warning: {DEPTHWISE_NOTE}") == 1
    layers = json.loads(report.read_text())["layers"]
    assert [entry["name"] for entry in layers] == ["Conv1", "CB2a_1", "rect", "DP_conv", "xDPx"]
    assert all(entry["cycles"] > 0 for entry in layers)


# --- SCALE-Sim's own reading of the same files ------------------------------------------------

_SCALESIM_SCRIPT = """
import json, sys
from scalesim.topology_utils import topologies
path, mnk, out = sys.argv[1], sys.argv[2] == "gemm", sys.argv[3]
topo = topologies()
topo.load_arrays(topofile=path, mnk_inputs=mnk)
rows = []
for i in range(topo.get_num_layers()):
    rows.append({
        "name": topo.get_layer_name(i),
        "macs": int(topo.get_layer_mac_ops(i)),
        "dims": {df: [int(x) for x in topo.get_spatiotemporal_dims(layer_id=i, df=df)]
                 for df in ("ws", "os", "is")},
    })
json.dump(rows, open(out, "w"))
"""


@pytest.mark.scalesim
@pytest.mark.parametrize("kind", ["conv", "gemm"])
def test_scalesim_reads_the_same_layers(tmp_path: Path, kind: str) -> None:
    path = _conv_topology(tmp_path) if kind == "conv" else _write(tmp_path, "g.csv", GEMM_TEXT)
    theirs = _scalesim_layers(tmp_path, path, kind)
    ours = import_topology(path).layers
    # SCALE-Sim expands a DP layer into one layer per channel; group its rows back.
    for layer in ours:
        rows = [row for row in theirs if row["name"].startswith(layer.name)]
        repeats = layer.groups if isinstance(layer, Conv2d) else 1
        assert len(rows) == repeats, layer.name
        assert sum(row["macs"] for row in rows) == layer.macs, layer.name
        for dataflow in DATAFLOWS:
            shape = gemm_shape(layer, dataflow)
            assert shape.repeats == repeats
            for row in rows:
                assert row["dims"][dataflow] == [
                    shape.spatial_rows,
                    shape.spatial_cols,
                    shape.temporal,
                ], (layer.name, dataflow)


def _scalesim_layers(tmp_path: Path, path: Path, kind: str) -> list[dict]:
    python = scalesim_env.scalesim_python()
    if python is None:
        pytest.skip("no SCALE-Sim interpreter (scripts/test.sh creates .venv-scalesim)")
    out = tmp_path / "scalesim.json"
    subprocess.run(
        [python, "-c", _SCALESIM_SCRIPT, str(path), kind, str(out)], check=True, timeout=120
    )
    return json.loads(out.read_text())


@pytest.mark.scalesim
def test_scalesim_loses_a_headerless_first_layer(tmp_path: Path) -> None:
    # Why import_topology refuses a file without a header: SCALE-Sim reads it without
    # complaint and drops its first layer.
    conv = _write(tmp_path, "conv.csv", "\n".join(CONV_ROWS[:2]) + "\n")
    assert [row["name"] for row in _scalesim_layers(tmp_path, conv, "conv")] == ["CB2a_1"]
    gemm = _write(tmp_path, "gemm.csv", GEMM_TEXT.split("\n", 1)[1])
    assert [row["name"] for row in _scalesim_layers(tmp_path, gemm, "gemm")] == ["FFN"]


def test_a_field_too_long_for_csv_is_one_error(tmp_path: Path) -> None:
    path = _write(tmp_path, "long.csv", f'{CONV_HEADER}\n"{"x" * 200_000}", 8, 8, 3, 3, 4, 8, 1,\n')
    with pytest.raises(WorkloadError, match="not a readable CSV file"):
        import_topology(path)
