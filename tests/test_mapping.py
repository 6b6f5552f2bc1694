"""Conv/dense-to-GEMM mapping per dataflow, SCALE-Sim topology rows, and a live SCALE-Sim check."""

from __future__ import annotations

import json
import math
import os
import stat
import subprocess
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from analyzer.crosscheck import scalesim_env
from isa.systolic.mapping import (
    DATAFLOWS,
    GemmShape,
    ScaleSimTopologyRow,
    gemm_shape,
    is_gemm,
    scalesim_topology_row,
)
from tracer.errors import MappingError
from tracer.workloads.layers import Conv2d, Dense, Layer
from tracer.workloads.zoo import resnet50, tc_resnet8


def _scalesim_ofmap(ifmap: int, filt: int, stride: int) -> int:
    # Mirrors SCALE-Sim 3.0.0 topologies.topo_calc_hyperparams, float division and all.
    return math.ceil((ifmap - filt + stride) / stride)


# --- gemm_shape on hand-worked layers -------------------------------------------------------

# 3x3 conv, 4 -> 8 channels, 6x6 input, pad 1, stride 1: out (6 + 2 - 3) // 1 + 1 = 6,
# window 3*3*4 = 36, filters 8, ofmap_px 6*6 = 36.
BRIEF_CONV = Conv2d("c", 4, 8, 6, 6, 3, 3, stride=1, padding=1)

# Same conv at stride 2, batch 2: out (6 + 2 - 3) // 2 + 1 = 3, so ofmap_px = 2*3*3 = 18.
# window (36), filters (8) and ofmap_px (18) all differ, so a swapped role cannot go unseen.
DISTINCT_CONV = Conv2d("d", 4, 8, 6, 6, 3, 3, stride=2, padding=1, batch=2)


@pytest.mark.parametrize(
    ("layer", "dataflow", "expected"),
    [
        (BRIEF_CONV, "ws", (36, 8, 36)),
        (BRIEF_CONV, "os", (36, 8, 36)),
        (BRIEF_CONV, "is", (36, 36, 8)),
        # ws: Sr = window, Sc = filters, T = ofmap_px
        (DISTINCT_CONV, "ws", (36, 8, 18)),
        # os: Sr = ofmap_px, Sc = filters, T = window
        (DISTINCT_CONV, "os", (18, 8, 36)),
        # is: Sr = window, Sc = ofmap_px, T = filters
        (DISTINCT_CONV, "is", (36, 18, 8)),
    ],
)
def test_conv_gemm_shape(layer: Conv2d, dataflow: str, expected: tuple[int, int, int]) -> None:
    assert (layer.out_height, layer.out_width) == (
        (6 + 2 - 3) // layer.stride[0] + 1,
        (6 + 2 - 3) // layer.stride[1] + 1,
    )
    shape = gemm_shape(layer, dataflow)
    assert (shape.spatial_rows, shape.spatial_cols, shape.temporal) == expected
    assert shape.repeats == 1


def test_grouped_conv_is_repeated_gemm() -> None:
    # 3x3, 8 -> 16 channels in 4 groups, 5x5 input, no pad: out 3x3 = 9 px,
    # per group window 3*3*(8/4) = 18 and filters 16/4 = 4.
    layer = Conv2d("g", 8, 16, 5, 5, 3, 3, groups=4)
    expected = {"ws": (18, 4, 9), "os": (9, 4, 18), "is": (18, 9, 4)}
    for dataflow, dims in expected.items():
        shape = gemm_shape(layer, dataflow)
        assert (shape.spatial_rows, shape.spatial_cols, shape.temporal) == dims
        assert shape.repeats == 4
        assert shape.repeats * 18 * 4 * 9 == layer.macs


def test_depthwise_conv() -> None:
    # Depthwise 3x3 over 32 channels, 10x10, pad 1: 32 GEMMs of window 9, 1 filter, 100 px.
    layer = Conv2d("dw", 32, 32, 10, 10, 3, 3, padding=1, groups=32)
    shape = gemm_shape(layer, "ws")
    assert shape == GemmShape(spatial_rows=9, spatial_cols=1, temporal=100, repeats=32)


@pytest.mark.parametrize(
    ("dataflow", "expected"),
    [("ws", (2048, 1000, 3)), ("os", (3, 1000, 2048)), ("is", (2048, 3, 1000))],
)
def test_dense_gemm_shape(dataflow: str, expected: tuple[int, int, int]) -> None:
    shape = gemm_shape(Dense("fc", 2048, 1000, rows=3), dataflow)
    assert (shape.spatial_rows, shape.spatial_cols, shape.temporal, shape.repeats) == (
        *expected,
        1,
    )


def test_dense_equals_1x1_conv() -> None:
    dense = Dense("fc", 24, 10, rows=5)
    # 5 "pixels" as a 5x1 image with 24 channels, 10 filters of 1x1.
    conv = Conv2d("fc", 24, 10, 5, 1, 1, 1)
    for dataflow in DATAFLOWS:
        assert gemm_shape(dense, dataflow) == gemm_shape(conv, dataflow)


def test_unknown_dataflow() -> None:
    with pytest.raises(MappingError) as excinfo:
        gemm_shape(BRIEF_CONV, "rs")
    message = str(excinfo.value)
    assert "'rs'" in message
    for dataflow in DATAFLOWS:
        assert dataflow in message
    with pytest.raises(MappingError):
        gemm_shape(BRIEF_CONV, "WS")


# --- folds ------------------------------------------------------------------------------------


def test_folds() -> None:
    shape = GemmShape(spatial_rows=100, spatial_cols=30, temporal=5, repeats=2)
    # 2 repeats * ceil(100/32)=4 * ceil(30/16)=2
    assert shape.folds(32, 16) == 16
    # Exact fit: one fold per repeat.
    assert shape.folds(100, 30) == 2
    # One more row than fits doubles the row folds.
    assert GemmShape(101, 30, 5, 1).folds(100, 30) == 2
    # A 1x1 array does every MAC position in its own fold.
    assert shape.folds(1, 1) == 2 * 100 * 30
    # An array bigger than the GEMM still needs one fold.
    assert GemmShape(3, 3, 3, 1).folds(128, 128) == 1


@pytest.mark.parametrize(("rows", "cols"), [(0, 8), (8, 0), (-1, 8), (True, 8)])
def test_folds_rejects_bad_array(rows: int, cols: int) -> None:
    with pytest.raises(MappingError, match="positive integer"):
        GemmShape(4, 4, 4, 1).folds(rows, cols)


# --- properties over random convolutions -----------------------------------------------------


@st.composite
def convs(draw: st.DrawFn) -> Conv2d:
    kernel_h = draw(st.integers(1, 7))
    kernel_w = draw(st.integers(1, 7))
    padding = draw(st.integers(0, 3))
    groups = draw(st.integers(1, 4))
    return Conv2d(
        "p",
        in_channels=groups * draw(st.integers(1, 8)),
        out_channels=groups * draw(st.integers(1, 8)),
        in_height=draw(st.integers(max(1, kernel_h - 2 * padding), 40)),
        in_width=draw(st.integers(max(1, kernel_w - 2 * padding), 40)),
        kernel_height=kernel_h,
        kernel_width=kernel_w,
        stride=draw(st.integers(1, 4)),
        padding=padding,
        groups=groups,
        batch=draw(st.integers(1, 3)),
    )


@given(convs())
def test_gemm_covers_every_mac(layer: Conv2d) -> None:
    window = layer.kernel_height * layer.kernel_width * layer.in_channels // layer.groups
    filters = layer.out_channels // layer.groups
    pixels = layer.batch * layer.out_height * layer.out_width
    for dataflow in DATAFLOWS:
        shape = gemm_shape(layer, dataflow)
        dims = (shape.spatial_rows, shape.spatial_cols, shape.temporal)
        assert sorted(dims) == sorted((window, filters, pixels))
        assert shape.repeats * math.prod(dims) == layer.macs
        # Every dataflow keeps the filters or the pixels spatial on the columns.
        assert shape.spatial_cols == (pixels if dataflow == "is" else filters)


@given(convs())
def test_topology_row_reproduces_out_dims(layer: Conv2d) -> None:
    layer = Conv2d(
        layer.name,
        layer.in_channels // layer.groups,
        layer.out_channels // layer.groups,
        layer.in_height,
        layer.in_width,
        layer.kernel_height,
        layer.kernel_width,
        stride=layer.stride,
        padding=layer.padding,
    )
    row = scalesim_topology_row(layer)
    assert _scalesim_ofmap(row["ifmap_h"], row["filter_h"], row["stride"]) == layer.out_height
    assert _scalesim_ofmap(row["ifmap_w"], row["filter_w"], row["stride"]) == layer.out_width
    # The row never reaches beyond the padded input, and drops less than one stride of it.
    top, left, bottom, right = layer.padding
    padded_h = layer.in_height + top + bottom
    padded_w = layer.in_width + left + right
    assert 0 <= padded_h - row["ifmap_h"] < layer.stride[0]
    assert 0 <= padded_w - row["ifmap_w"] < layer.stride[1]


# --- SCALE-Sim topology rows -----------------------------------------------------------------


def test_topology_row_conv() -> None:
    row = scalesim_topology_row(BRIEF_CONV)
    # (6 + 2*1 - 3) is a multiple of stride 1, so the row is the whole padded 8x8 input.
    assert row == {
        "name": "c",
        "ifmap_h": 8,
        "ifmap_w": 8,
        "filter_h": 3,
        "filter_w": 3,
        "channels": 4,
        "num_filters": 8,
        "stride": 1,
    }
    assert _scalesim_ofmap(8, 3, 1) == BRIEF_CONV.out_height == 6


def test_topology_row_crops_unreached_padding() -> None:
    stem = resnet50().layers[0]
    assert isinstance(stem, Conv2d) and stem.name == "conv1"
    padded = 224 + 2 * 3
    # SCALE-Sim rounds up: the full padded 230 would give 113 outputs, one more than PyTorch.
    assert _scalesim_ofmap(padded, 7, 2) == 113
    row = scalesim_topology_row(stem)
    # (112 - 1) * 2 + 7 = 229: the last padded row/col is never under a window.
    assert (row["ifmap_h"], row["ifmap_w"]) == (229, 229)
    assert _scalesim_ofmap(229, 7, 2) == stem.out_height == 112


def test_topology_row_rectangular() -> None:
    # 17x11 input, 3x5 kernel, stride 3, pad 2: out h (21-3)//3+1 = 7, w (15-5)//3+1 = 4.
    layer = Conv2d("r", 5, 7, 17, 11, 3, 5, stride=3, padding=2)
    row = scalesim_topology_row(layer)
    assert (layer.out_height, layer.out_width) == (7, 4)
    assert (row["ifmap_h"], row["ifmap_w"]) == (6 * 3 + 3, 3 * 3 + 5)
    assert (row["filter_h"], row["filter_w"]) == (3, 5)


def test_topology_row_dense() -> None:
    row = scalesim_topology_row(Dense("fc", 2048, 1000, rows=4))
    # SCALE-Sim's own GEMM row for M=4, N=1000, K=2048 (topologies.load_arrays_gemm).
    assert row == {
        "name": "fc",
        "ifmap_h": 4,
        "ifmap_w": 2048,
        "filter_h": 1,
        "filter_w": 2048,
        "channels": 1,
        "num_filters": 1000,
        "stride": 1,
    }
    ofmap_px = _scalesim_ofmap(4, 1, 1) * _scalesim_ofmap(2048, 2048, 1)
    window = row["filter_h"] * row["filter_w"] * row["channels"]
    assert (ofmap_px, window, row["num_filters"]) == (4, 2048, 1000)


def test_topology_row_rejects_batch_and_groups() -> None:
    with pytest.raises(MappingError, match=r"batch=2.*SCALE-Sim's topology cannot"):
        scalesim_topology_row(DISTINCT_CONV)
    with pytest.raises(MappingError, match=r"groups=4.*SCALE-Sim's topology cannot"):
        scalesim_topology_row(Conv2d("g", 8, 16, 5, 5, 3, 3, groups=4))


@pytest.mark.parametrize("name", ["a,b", "conv\n1", "convDP1"])
def test_topology_row_rejects_names_scalesim_misreads(name: str) -> None:
    with pytest.raises(MappingError, match="rename"):
        scalesim_topology_row(Conv2d(name, 4, 8, 6, 6, 3, 3))


# --- scalesim_env ------------------------------------------------------------------------------


def _fake_python(path: Path) -> Path:
    path.write_text("#!/bin/sh\n")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return path


def test_scalesim_python_lookup(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    configured = _fake_python(tmp_path / "configured")
    repo_venv = _fake_python(tmp_path / "repo-venv-python")
    monkeypatch.setattr(scalesim_env, "_REPO_VENV_PYTHON", repo_venv)

    monkeypatch.setenv(scalesim_env.ENV_VAR, str(configured))
    assert scalesim_env.scalesim_python() == str(configured)

    monkeypatch.setenv(scalesim_env.ENV_VAR, str(tmp_path / "missing"))
    assert scalesim_env.scalesim_python() == str(repo_venv)

    monkeypatch.delenv(scalesim_env.ENV_VAR)
    assert scalesim_env.scalesim_python() == str(repo_venv)

    monkeypatch.setattr(scalesim_env, "_REPO_VENV_PYTHON", tmp_path / "absent")
    assert scalesim_env.scalesim_python() is None


def test_scalesim_repo_venv_path() -> None:
    repo_root = Path(__file__).resolve().parents[1]
    expected = repo_root / ".venv-scalesim" / "bin" / "python"
    assert expected == scalesim_env._REPO_VENV_PYTHON


# --- live cross-check against SCALE-Sim's own topologies class ------------------------------

_SCALESIM_SCRIPT = """
import json
import sys

from scalesim.topology_utils import topologies

conv_path, gemm_path, out_path = sys.argv[1:4]
result = {"conv": [], "gemm": []}
for key, path, mnk in (("conv", conv_path, False), ("gemm", gemm_path, True)):
    topo = topologies()
    topo.load_arrays(topofile=path, mnk_inputs=mnk)
    for i in range(topo.get_num_layers()):
        result[key].append({
            "name": topo.get_layer_name(i),
            "params": [int(x) for x in topo.get_layer_params(i)[1:9]],
            "ofmap": [int(x) for x in topo.get_layer_ofmap_dims(i)],
            "macs": int(topo.get_layer_mac_ops(i)),
            "dims": {df: [int(x) for x in topo.get_spatiotemporal_dims(layer_id=i, df=df)]
                     for df in ("ws", "os", "is")},
        })
with open(out_path, "w") as f:
    json.dump(result, f)
"""


def _topology_values(row: ScaleSimTopologyRow) -> list[int]:
    """The row's numbers in SCALE-Sim's CSV column order (after the name)."""
    return [
        row["ifmap_h"],
        row["ifmap_w"],
        row["filter_h"],
        row["filter_w"],
        row["channels"],
        row["num_filters"],
        row["stride"],
    ]


def _scalesim_interpreter() -> str:
    python = scalesim_env.scalesim_python()
    if python is None:
        configured = os.environ.get(scalesim_env.ENV_VAR)
        if configured:
            pytest.fail(f"{scalesim_env.ENV_VAR}={configured} is not an executable file")
        pytest.skip(
            f"no SCALE-Sim interpreter: set {scalesim_env.ENV_VAR} or create .venv-scalesim"
        )
    return python


def _write_conv_topology(path: Path, layers: list[Layer]) -> None:
    # SCALE-Sim drops the header line and the field after each row's last comma.
    lines = [
        "Layer name,IFMAP height,IFMAP width,Filter height,Filter width,Channels,"
        "Num filter,Strides,"
    ]
    for layer in layers:
        row = scalesim_topology_row(layer)
        lines.append(",".join([row["name"], *map(str, _topology_values(row))]) + ",")
    path.write_text("\n".join(lines) + "\n")


@pytest.mark.scalesim
def test_matches_scalesim_topologies(tmp_path: Path) -> None:
    python = _scalesim_interpreter()
    fc = Dense("fc_rows3", 2048, 1000, rows=3)
    layers: list[Layer] = [
        *(layer for layer in resnet50().layers if is_gemm(layer)),
        # Temporal convs: stride (2, 1) on a width-1 input, which one Strides column expresses.
        *(layer for layer in tc_resnet8().layers if is_gemm(layer)),
        BRIEF_CONV,
        Conv2d("rect", 5, 7, 17, 11, 3, 5, stride=3, padding=2),
        fc,
    ]
    conv_path = tmp_path / "topology.csv"
    _write_conv_topology(conv_path, layers)
    gemm_path = tmp_path / "gemm.csv"
    gemm_path.write_text(f"Layer,M,N,K,\n{fc.name},{fc.rows},{fc.out_features},{fc.in_features},\n")
    out_path = tmp_path / "scalesim.json"
    completed = subprocess.run(
        [python, "-c", _SCALESIM_SCRIPT, str(conv_path), str(gemm_path), str(out_path)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    result = json.loads(out_path.read_text())

    assert [entry["name"] for entry in result["conv"]] == [layer.name for layer in layers]
    for layer, entry in zip(layers, result["conv"], strict=True):
        assert entry["macs"] == layer.macs, layer.name
        if isinstance(layer, Conv2d):
            assert entry["ofmap"] == [layer.out_height, layer.out_width], layer.name
        for dataflow in DATAFLOWS:
            ours = gemm_shape(layer, dataflow)
            assert ours.repeats == 1
            expected = [ours.spatial_rows, ours.spatial_cols, ours.temporal]
            assert entry["dims"][dataflow] == expected, (layer.name, dataflow)

    # SCALE-Sim's GEMM mode builds exactly the conv row we emit for a Dense layer; its
    # parsed params carry the stride twice (row, then column).
    (gemm_entry,) = result["gemm"]
    values = _topology_values(scalesim_topology_row(fc))
    assert gemm_entry["params"] == [*values, values[-1]]
    assert gemm_entry["dims"] == result["conv"][-1]["dims"]
