"""Gemmini: a user's mapping (`lower --mapping FILE`, isa/gemmini/mapping.py): the tiles,
dataflow and tile-loop order a program passes to tiled_conv / tiled_matmul (T =
gemmini-rocc-tests include/gemmini.h @180c468; D = its dosa branch, whose calls take the
loop order as a permutation of NQPKSRC, earlier is inner, D L2354-2400, L811-845).
"""

from __future__ import annotations

import json
from collections import Counter

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from accelerators.catalog import find_accelerator
from analyzer.engine.evaluate import evaluate_program
from isa.gemmini.commands import GemminiCommands
from isa.gemmini.library import MAX_MAPPED_TILES, plan_layer
from isa.gemmini.lowering import lower
from isa.gemmini.mapping import CONV_LETTERS, read_mapping
from tests.builders import check_fast_equals_full, examples
from tests.reference import reference_cycles
from tracer.errors import MappingError
from tracer.lowering import lower_model
from tracer.trace_io import iterate_blocks
from tracer.workloads.layers import Conv2d, Dense, Model

SMALL = {"dim": "8", "dram_latency": "20"}


def _program(layers, mapping=None, **params):
    accelerator = find_accelerator("gemmini").resolve({**SMALL, **params})
    parsed = read_mapping(mapping, "mapping") if mapping is not None else None
    return lower(accelerator, Model("m", tuple(layers)), parsed)


def _plan(layer, fields, **params):
    """The (tiles, shown mapping) plan_layer gives `layer` under `fields`."""
    accelerator = find_accelerator("gemmini").resolve({**SMALL, **params})
    entry = read_mapping({"layers": {layer.name: fields}}, "m.toml").layers[layer.name]
    memory = GemminiCommands(accelerator).memory
    return plan_layer(layer, None, memory, params.get("dataflow") == "os", entry=entry)


def _cycles(program, mode="full") -> list[int]:
    return [result.cycles for result in evaluate_program(program, mode)]


def _opcodes(program, index=0) -> Counter:
    counts: Counter = Counter()
    for block_id, _ in iterate_blocks(program.layers[index].root):
        counts.update(t.opcode for t in program.blocks[block_id].templates)
    return counts


def _as_fields(mapping: dict) -> dict:
    """A layer's shown mapping (its `tile`) as the mapping file's fields."""
    sizes = [int(v) for v in str(mapping["tile"]).split("x")]
    if "tile_I" in str(mapping["tile_fields"]):
        return dict(zip(("tile_I", "tile_J", "tile_K"), sizes, strict=True))
    names = ("batches", "porows", "pocols", "pochs", "krows", "kcols", "kchs")
    return dict(zip(names, sizes, strict=True))


LAYERS = (
    Conv2d("conv", 12, 20, 10, 10, 3, 3, padding=1, batch=2),
    Conv2d("first", 3, 16, 17, 17, 7, 7, stride=2, padding=3),
    Dense("fc", 72, 40, rows=30),
    Conv2d("pointwise", 24, 40, 6, 6, 1, 1),  # tiled_matmul_nn_auto: tile_I/J/K
)


# ---------------------------------------------------------------- equal to the auto tiler


def test_a_mapping_equal_to_the_auto_tilers_gives_the_same_tiles_and_cycles():
    params = {"scratchpad_kib": "16", "accumulator_kib": "4"}  # so that tiles split
    auto = _program(LAYERS, **params)
    assert all(layer.mapping["tiles"] > 1 for layer in auto.layers)
    same = {layer.name: _as_fields(layer.mapping) for layer in auto.layers}
    # gemmini.h's own loop order, given explicitly on two of them (D L2898, L1399).
    same["conv"]["loop_order"] = "CRSKPQN"
    same["fc"]["loop_order"] = "CKP"
    mapped = _program(LAYERS, {"layers": same}, **params)
    for a, m in zip(auto.layers, mapped.layers, strict=True):
        assert m.mapping["tiles_from"] == "mapping"
        assert a.mapping["tile"] == m.mapping["tile"] and a.mapping["tiles"] == m.mapping["tiles"]
    assert _cycles(mapped) == _cycles(auto)
    assert _cycles(mapped, "fast") == _cycles(auto)


def test_a_network_mapping_of_the_auto_tiles_gives_resnet18s_cycles():
    layers = ["conv1", "layer1.0.conv1", "layer2.0.downsample", "fc"]
    auto = lower_model("gemmini", {}, "resnet18", layers=layers)
    same = {"layers": {layer.name: _as_fields(layer.mapping) for layer in auto.layers}}
    mapped = lower_model("gemmini", {}, "resnet18", layers=layers, mapping=same)
    assert _cycles(mapped, "fast") == _cycles(auto, "fast")


# ---------------------------------------------------------------- other tiles, by hand


def test_a_small_conv_mapping_worked_by_hand():
    # 16 -> 32 channels, 6x6, 3x3 kernel, DIM 8. Tiles of 3 output rows, all 6 columns, 16
    # output and 8 input channels, the whole kernel: 2 row tiles x 2 och tiles x 2 kch
    # tiles. Loop order "KCRSPQN": K (och) innermost, then C (kch), R, S, P, Q, N outermost.
    layer = Conv2d("conv", 16, 32, 6, 6, 3, 3, padding=1)
    fields = dict(batches=1, porows=3, pocols=6, pochs=16, krows=3, kcols=3, kchs=8)
    tiles, shown = _plan(layer, {**fields, "loop_order": "KCRSPQN"})
    assert shown["library"] == "tiled_conv" and shown["tile"] == "1x3x6x16x3x3x8"
    # (orows, ochs, kchs, first, last) in the order they run: och fastest, then kch, then
    # rows; bias with the first input-channel tile, the store with the last (T L2338-2351).
    got = [(t.orows, t.ocols, t.ochs, t.kchs, t.first, t.last) for t in tiles]
    per_row = [
        (3, 6, 16, 8, True, False),
        (3, 6, 16, 8, True, False),
        (3, 6, 16, 8, False, True),
        (3, 6, 16, 8, False, True),
    ]
    assert got == per_row * 2
    # gemmini.h's own order (kch innermost) runs the same tiles, kch alternating.
    default_tiles, _ = _plan(layer, fields)
    assert [(t.first, t.last) for t in default_tiles] == [(True, False), (False, True)] * 4
    assert Counter(default_tiles) == Counter(tiles)
    # Commands, counted from LOOP_CONV_WS's loops (isa/gemmini/streams.py): per tile
    # 3 x 3 x 1 weight mvins (krow, kcol, one kch block; both och blocks in one mvin of
    # up to 8 blocks), 5 input rows ((3-1)+3) of 8 columns ((6-1)+3) in one block; 3 rows x
    # 2 och blocks of bias mvin3s in a first tile and of mvouts in a last one.
    program = _program([layer], {"layers": {"conv": {**fields, "loop_order": "KCRSPQN"}}})
    counts = _opcodes(program)
    assert counts["mvin2"] == 8 * 9 and counts["mvin"] == 8 * 5
    assert counts["mvin3"] == 4 * 6 and counts["mvout"] == 4 * 6
    # The cycles are those of these tiles: full == the independent reference == fast,
    # and the auto tiler's (one tile) are others.
    [full] = _cycles(program)
    assert full == reference_cycles(program, program.layers[0]) == _cycles(program, "fast")[0]
    assert _program([layer]).layers[0].mapping["tiles"] == 1
    assert _cycles(_program([layer])) != [full]


def test_a_small_matmul_mapping_worked_by_hand():
    # I = 20 rows (3 blocks of DIM 8), J = 24 (3), K = 40 (5); tiles of 2 x 3 x 2 blocks,
    # order "PKC": P (i) innermost, K (j), C (k) outermost (D L843-845).
    layer = Dense("fc", 40, 24, rows=20)
    fields = {"tile_I": 2, "tile_J": 3, "tile_K": 2, "loop_order": "PKC"}
    tiles, shown = _plan(layer, fields)
    assert shown["library"] == "tiled_matmul" and shown["tile"] == "2x3x2"
    got = [(t.ocols, t.ochs, t.kchs, t.first, t.last, t.call_start) for t in tiles]
    assert got == [
        (16, 24, 16, True, False, True),
        (4, 24, 16, True, False, False),
        (16, 24, 16, False, False, False),
        (4, 24, 16, False, False, False),
        (16, 24, 8, False, True, False),
        (4, 24, 8, False, True, False),
    ]
    program = _program([layer], {"layers": {"fc": fields}})
    [full] = _cycles(program)
    assert full == reference_cycles(program, program.layers[0]) == _cycles(program, "fast")[0]
    assert _cycles(_program([layer], {"layers": {"fc": {**fields, "loop_order": "CKP"}}})) != [full]


def test_a_layers_dataflow_overrides_the_descriptions():
    # An OS matmul in a WS program, and a WS conv in an OS program (tiled_conv is WS only).
    fc, conv = Dense("fc", 40, 24, rows=20), Conv2d("conv", 8, 8, 6, 6, 3, 3, padding=1)
    tile = {"tile_I": 3, "tile_J": 3, "tile_K": 5}
    program = _program([conv, fc], {"layers": {"fc": {**tile, "dataflow": "os"}}})
    assert "OS" in program.layers[1].mapping["library"]
    assert {"rs_load", "rs_execute", "rs_store"} <= set(program.queues)
    cycles = _cycles(program)
    assert cycles == [reference_cycles(program, layer) for layer in program.layers]
    assert cycles[1] != _cycles(_program([conv, fc], {"layers": {"fc": tile}}))[1]
    conv_fields = dict(batches=1, porows=6, pocols=6, pochs=8, krows=3, kcols=3, kchs=8)
    with pytest.raises(MappingError, match="convs do not currently support OS"):
        _program([conv], dataflow="os")
    ws_conv = {"layers": {"conv": {**conv_fields, "dataflow": "ws"}}}
    assert _cycles(_program([conv], ws_conv, dataflow="os")) == _cycles(_program([conv]))


# ---------------------------------------------------------------- fast == full


@st.composite
def _mapped_layers(draw):
    """A small conv and a matmul with random tiles within the layer and a random loop order."""
    channels, out_channels = draw(st.integers(1, 24)), draw(st.integers(1, 24))
    size, kernel = draw(st.integers(3, 9)), draw(st.sampled_from([1, 3]))
    batch = draw(st.integers(1, 2))
    conv = Conv2d("conv", channels, out_channels, size, size, kernel, kernel, padding=kernel // 2)
    conv = Conv2d(
        "conv", channels, out_channels, size, size, kernel, kernel, padding=kernel // 2, batch=batch
    )
    limits = (batch, size, size, out_channels, kernel, kernel, channels)
    names = ("batches", "porows", "pocols", "pochs", "krows", "kcols", "kchs")
    conv_fields = {n: draw(st.integers(1, limit)) for n, limit in zip(names, limits, strict=True)}
    conv_fields["loop_order"] = "".join(draw(st.permutations(CONV_LETTERS)))
    rows, k, j = draw(st.integers(1, 40)), draw(st.integers(1, 40)), draw(st.integers(1, 40))
    fc = Dense("fc", k, j, rows=rows)
    fc_fields = {
        f"tile_{name}": draw(st.integers(1, -(-size // 8)))
        for name, size in (("I", rows), ("J", j), ("K", k))
    }
    fc_fields["loop_order"] = "".join(draw(st.permutations("PKC")))
    fc_fields["dataflow"] = draw(st.sampled_from(["ws", "os"]))
    return [conv, fc], {"layers": {"conv": conv_fields, "fc": fc_fields}}


@settings(max_examples=examples(30))
@given(_mapped_layers(), st.sampled_from(["true", "false"]))
def test_random_valid_mappings_fast_equals_full(layers_and_mapping, bias):
    layers, mapping = layers_and_mapping
    program = _program(layers, mapping, conv_1x1="conv", bias=bias)
    assert [layer.mapping["tiles_from"] for layer in program.layers] == ["mapping"] * 2
    check_fast_equals_full(program)


# ---------------------------------------------------------------- refusals, through the CLI


def _lower_cli(tmp_path, capsys, mapping_text: str, suffix=".toml", extra=()):
    from tracer.cli import main

    path = tmp_path / f"m{suffix}"
    path.write_text(mapping_text)
    out = tmp_path / "out"
    argv = ["lower", "--accelerator", "gemmini", "--model", "resnet18", "-o", str(out)]
    code = main([*argv, "--mapping", str(path), *extra])
    err = capsys.readouterr().err
    return code, err, out


CONV2 = "batches = 1\nporows = 56\npocols = 56\npochs = 64\nkrows = 3\nkcols = 3\nkchs = 64\n"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('[layers."layer9.conv1"]\n' + CONV2, "layer 'layer9.conv1' is not in the model"),
        ('[layers."layer1.0.conv1"]\n' + CONV2 + "porow = 4\n", "unknown field 'porow'"),
        # 56 x 56 outputs of 64 channels: 4 x 3136 accumulator rows, half is 512.
        (
            '[layers."layer1.0.conv1"]\n' + CONV2,
            "the tile batches=1 porows=56 pocols=56 pochs=64 krows=3 kcols=3 kchs=64 needs",
        ),
        # Within the whole accumulator (1024 rows), not within the half a tile gets.
        (
            '[layers."layer1.0.conv1"]\n'
            + CONV2.replace("= 56", "= 8").replace("pocols = 8", "pocols = 17"),
            "needs 3064 scratchpad and 544 accumulator rows, but a tile gets half",
        ),
        # Within the whole scratchpad (16384 rows), not within half (tiled_matmul, WS).
        (
            "[layers.fc]\ntile_I = 1\ntile_J = 16\ntile_K = 32\n",
            "needs 8704 scratchpad and 256 accumulator rows, but a tile gets half",
        ),
        (
            "[layers.fc]\ntile_I = 1\ntile_J = 32\ntile_K = 32\n",
            "needs 16896 scratchpad and 512 accumulator rows, but a tile gets half",
        ),
        (
            '[layers."layer1.0.conv1"]\n' + CONV2.replace("56", "8") + 'loop_order = "CRSKPQ"\n',
            "loop_order = 'CRSKPQ' is not a permutation of NQPKSRC",
        ),
        (
            '[layers."layer1.0.conv1"]\n' + CONV2.replace("56", "8") + 'loop_order = "CCSKPQN"\n',
            "is not a permutation",
        ),
        ('[layers.fc]\ntile_I = 1\ntile_J = 1\ntile_K = 1\nloop_order = "PKK"\n', "PKC"),
        ("[layers.fc]\ntile_I = 1\ntile_J = 1\ntile_K = 0\n", "tile_K = 0: give a positive"),
        ("[layers.fc]\ntile_I = 2\ntile_J = 1\ntile_K = 1\n", "tile_I = 2 blocks of DIM=16"),
        ("[layers.fc]\nbatches = 1\n", "the layer runs as tiled_matmul_auto: give tile_I"),
        ('[layers."layer1.0.conv1"]\ntile_I = 1\ntile_J = 1\ntile_K = 1\n', "runs through"),
        ('[layers."layer1.0.conv1"]\nporows = 4\n', "needs batches, pocols"),
        (
            '[layers."layer1.0.conv1"]\n' + CONV2.replace("56", "8") + 'dataflow = "os"\n',
            "weight-stationary only",
        ),
        ('[layers."layer1.0.add"]\ntile_I = 1\ntile_J = 1\ntile_K = 1\n', "tiled_resadd_auto"),
        ("[layers.maxpool]\ntile_I = 1\ntile_J = 1\ntile_K = 1\n", "fused into conv1"),
        (
            '[layers."layer1.0.conv1"]\n'
            + CONV2.replace("56", "8").replace("pochs = 64", "pochs = 65"),
            "pochs = 65 is more than the layer's 64",
        ),
        ('[layers."layer1.0.conv1"]\n' + CONV2.replace("= 56", "= 57"), "more than the"),
        ("[layout]\nx = 1\n", "unknown key 'layout'"),
        ("[layers\n", "not valid TOML"),
        (
            '[layers."layer1.0.conv1"]\n' + CONV2.replace("56", "1").replace("64", "1"),
            f"at most {MAX_MAPPED_TILES:,} tiles",
        ),
    ],
)
def test_every_refusal_is_one_line_naming_the_file_and_nothing_is_written(
    tmp_path, capsys, text, expected
):
    code, err, out = _lower_cli(tmp_path, capsys, text)
    assert code == 2
    assert expected in err and str(tmp_path / "m.toml") in err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert not out.exists()


def test_the_cli_reads_json_and_refuses_other_files_and_families(tmp_path, capsys):
    from tracer.cli import main

    mapping = {"layers": {"fc": {"tile_I": 1, "tile_J": 8, "tile_K": 8, "dataflow": "os"}}}
    code, err, out = _lower_cli(tmp_path, capsys, json.dumps(mapping), ".json", ["--layers", "fc"])
    assert code == 0, err
    manifest = json.loads(next(out.iterdir()).joinpath("manifest.json").read_text())
    [fc] = [layer for layer in manifest["layers"] if layer["name"] == "fc"]
    assert fc["mapping"]["tile"] == "1x8x8" and "OS" in fc["mapping"]["library"]
    code, err, _ = _lower_cli(tmp_path, capsys, "{", ".json")
    assert code == 2 and "not valid JSON" in err
    code, err, _ = _lower_cli(tmp_path, capsys, "x", ".yaml")
    assert code == 2 and "give a .json or .toml file" in err
    argv = ["lower", "--accelerator", "systolic", "--model", "resnet18", "-o", str(tmp_path)]
    assert main([*argv, "--mapping", str(tmp_path / "m.json")]) == 2
    assert "only gemmini takes --mapping" in capsys.readouterr().err
    missing = ["lower", "--accelerator", "gemmini", "--model", "resnet18", "-o", str(tmp_path)]
    assert main([*missing, "--mapping", str(tmp_path / "none.toml")]) == 2
    assert "cannot read it" in capsys.readouterr().err


def test_the_api_takes_a_mapping_as_a_dict():
    import accperf

    mapping = {"layers": {"fc": {"tile_I": 1, "tile_J": 4, "tile_K": 8, "loop_order": "PKC"}}}
    trace = accperf.lower("resnet18", "gemmini", layers=["fc"], mapping=mapping)
    [fc] = trace.program.layers
    assert fc.mapping["tile"] == "1x4x8" and fc.mapping["loop_order"] == "PKC"
    with pytest.raises(accperf.AccperfError, match="mapping: layer 'fc': unknown field"):
        accperf.lower("resnet18", "gemmini", layers=["fc"], mapping={"layers": {"fc": {"x": 1}}})
