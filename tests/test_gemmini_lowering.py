"""Gemmini's lowering as a program: the library's tiles and calls on ResNet-50, the rows each
operand reads, the loops over repeating tile groups, and one tree per class of equal
layers (isa/gemmini/lowering.py, library.py; isa/program.py periodic_runs)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import isa.program as isa_program
from accelerators.catalog import find_accelerator
from analyzer.engine.evaluate import Evaluation
from isa.gemmini.commands import GemminiCommands
from isa.gemmini.library import (
    conv_tile_grid,
    matmul_tile_grid,
    pixels_per_row,
    resadd_tile_grid,
)
from isa.gemmini.lowering import lower
from isa.gemmini.mapping import read_mapping
from isa.gemmini.tiling import GemminiMemory
from isa.program import Loop, loop_depth, periodic_runs, periodic_tree
from tests.builders import (
    concrete_instructions,
    tile_loop_shapes,
)
from tracer.errors import MappingError
from tracer.lowering import lower_model, lower_workload
from tracer.trace_io import iterate_blocks, resolve_address
from tracer.workloads.layers import Conv2d, Dense, Elementwise, Model

DIM = 16  # the default mesh


def test_resnet50_conv_tiles_are_the_librarys():
    # The tile tiled_conv_auto picks for layer1.0.conv2 (worked by hand in
    # tests/test_gemmini_tiling.py) is the one the lowering runs, over 3 x 3 x 4 tiles.
    program = lower_model("gemmini", {}, "resnet50")
    layer = next(layer for layer in program.layers if layer.name == "layer1.0.conv2")
    assert layer.mapping["tile"] == "1x22x23x16x3x3x64"
    assert layer.mapping["tiles"] == 3 * 3 * 4


def _layer_by_layer(monkeypatch) -> None:
    """Make the Gemmini lowering build every layer's tree, none shared by _tree_key."""
    import isa.gemmini.lowering as gemmini_lowering

    monkeypatch.setattr(gemmini_lowering, "_tree_key", lambda tiles, warm: object())


def test_layers_of_one_key_take_one_tree_equal_to_their_own(monkeypatch):
    # The lowering builds one tree per _tree_key (isa/gemmini/lowering.py). ResNet-50 at
    # batch 2 has keys of several layers, and layers of equal tiles under different keys
    # (entered after different layers): the program equals the one built layer by layer.
    from isa.gemmini.streams import TileStreams

    built = []
    layer_root = TileStreams.layer_root
    monkeypatch.setattr(
        TileStreams, "layer_root", lambda self, tiles: built.append(1) or layer_root(self, tiles)
    )
    program = lower_model("gemmini", {}, "resnet50", batch=2)
    assert len(built) < len(program.layers) / 1.5
    _layer_by_layer(monkeypatch)
    built.clear()
    assert lower_model("gemmini", {}, "resnet50", batch=2) == program
    assert len(built) == len(program.layers)


def test_equal_layers_mapped_in_other_loop_orders_keep_their_own_trees(monkeypatch):
    # Two equal convs with the same tiles in different loop orders: their tiles compare
    # equal (Tile.at, where each starts, is left out of tile equality), while the L2 holds
    # different data when each tile runs, so their trees differ and neither takes the
    # other's.
    accelerator = find_accelerator("gemmini").resolve({"dim": "8"})
    model = Model("m", tuple(Conv2d(f"c{i}", 32, 32, 16, 16, 3, 3, padding=1) for i in range(3)))
    tiles = {"batches": 1, "porows": 4, "pocols": 16, "pochs": 16, "krows": 3, "kcols": 3}
    mapping = read_mapping(
        {
            "layers": {
                "c1": {**tiles, "kchs": 32, "loop_order": "CRSKPQN"},
                "c2": {**tiles, "kchs": 32, "loop_order": "CRSPQKN"},
            }
        },
        "m.toml",
    )
    program = lower(accelerator, model, mapping)
    assert program.layers[1].root != program.layers[2].root
    _layer_by_layer(monkeypatch)
    assert lower(accelerator, model, mapping) == program


def test_resnet50_runs_as_imagenet_resnet50_c_calls_the_library():
    # imagenet/resnet50.c: conv1 with the max pool fused (L108-120), 1x1 convs as matmuls
    # (L152), stride-2 1x1 convs by tiled_conv_downsample (L619), residual additions by
    # tiled_resadd_auto and the final pool by tiled_global_average_auto (L2058).
    program = lower_model("gemmini", {}, "resnet50")
    mapping = {layer.name: layer.mapping for layer in program.layers}
    assert mapping["conv1"]["tile"] == "1x6x17x16x7x7x3"  # worked in test_gemmini_tiling
    assert mapping["conv1"]["fused_pool"] == "maxpool"
    [fused] = program.host_layers
    assert (fused.name, fused.placement) == ("maxpool", "fused")
    assert mapping["layer1.0.conv1"]["library"].startswith("tiled_matmul_nn_auto")
    assert mapping["layer2.0.downsample"]["library"].startswith("tiled_conv_downsample")
    memory = GemminiCommands(find_accelerator("gemmini").resolve()).memory
    per_row, _ = matmul_tile_grid(1, 28, 512, 256, memory)  # I = 28 pixels of a 28x28 row
    assert mapping["layer2.0.downsample"]["tiles"] == 28 * len(per_row)
    # tiled_resadd_stride_auto on 56*56 x 256: I halves to 49 (3136 -> ... -> 49) while J
    # loses DIM at a time down to 96 (docs/gemmini/tiling.md section 3).
    assert mapping["layer1.0.add"]["tile"] == "49x96"
    assert mapping["avgpool"]["library"] == "tiled_global_average_auto"


def test_first_layer_packing_puts_several_kernel_columns_in_a_row():
    # gemmini.h L1405-1411 (HAS_FIRST_LAYER_OPTIMIZATIONS): max_pixels_per_row =
    # DIM / ichs, at most kcols, 1 above DIM channels. ResNet-50's conv1 (3 channels, 7x7)
    # packs 5 columns, so a kernel row takes 2 weight steps instead of 7.
    assert pixels_per_row(3, 7, DIM) == 5
    assert pixels_per_row(1, 3, DIM) == 3  # depthwise
    assert pixels_per_row(64, 3, DIM) == 1
    accelerator = find_accelerator("gemmini").resolve()
    conv = Conv2d("c", 3, 16, 16, 16, 7, 7, padding=3)
    program = lower(accelerator, Model("m", (conv,)))
    [tile] = conv_tile_grid(conv, GemminiCommands(accelerator).memory)[0]
    assert tile.pixels_per_row == 5
    # One compute with new weights per weight step: 7 kernel rows x 2 column groups.
    with_weights = sum(
        t.opcode == "compute_preloaded"
        for block_id, _ in iterate_blocks(program.layers[0].root)
        for t in program.blocks[block_id].templates
    )
    assert with_weights == 7 * 2


def test_a_residual_add_runs_on_gemmini_without_its_producers():
    # `--layers` left out the convs whose outputs it adds: it still adds two tensors
    # (from DRAM now), where it used to be taken for a host layer.
    alone = lower_model("gemmini", {"dim": "8"}, "resnet18", layers=["layer1.0.add"])
    (layer,) = alone.layers
    assert layer.name == "layer1.0.add" and layer.mapping["library"] == "tiled_resadd_auto"
    assert not alone.host_layers
    # So does a free-standing add, naming no inputs at all (as a hand-built model may).
    accelerator = find_accelerator("gemmini").resolve({"dim": "8"})
    model = Model("m", (Elementwise("add", "add", (1, 64, 8, 8)),))
    free = lower_workload(accelerator, model)
    assert [layer.mapping["library"] for layer in free.layers] == ["tiled_resadd_auto"]


def test_layers_the_library_cannot_run_are_host_layers():
    accelerator = find_accelerator("gemmini").resolve()
    model = Model(
        "m",
        (
            Conv2d("wide", 8, 8, 10, 12, 3, 3, padding=1),  # not square: tiled_conv refuses
            Conv2d("square", 8, 8, 12, 12, 3, 3, padding=1),
        ),
    )
    program = lower(accelerator, model)
    assert [layer.name for layer in program.layers] == ["square"]
    [host] = program.host_layers
    assert host.name == "wide" and "square" in host.reason and host.position == 0
    assert conv_tile_grid(model.layers[0], GemminiCommands(accelerator).memory) is None


def _rows(operand, index) -> set[int]:
    first = resolve_address(operand, index)
    return set(range(first, first + operand.count))


@pytest.mark.parametrize(
    ("layer", "params"),
    [
        (Conv2d("conv", 40, 80, 9, 9, 3, 3, padding=1), {}),  # 3 + 5 channel blocks
        (Conv2d("strided", 20, 36, 12, 12, 3, 3, stride=2, padding=1), {}),
        (Conv2d("first", 3, 16, 20, 20, 7, 7, stride=2, padding=3), {}),  # first-layer packing
        (Conv2d("first", 3, 16, 20, 20, 7, 7, stride=2, padding=3), {"bias": "false"}),
        (Dense("fc", 70, 90, rows=40), {}),
        (Dense("fc", 70, 90, rows=40), {"bias": "false"}),
        # tiled_conv_auto on 1x1 convs: stride 1, and stride 2 downsampled (every other
        # input pixel loaded, G LoopConv.scala:289-296,662-663)
        (Conv2d("pointwise", 40, 24, 9, 9, 1, 1), {"conv_1x1": "conv"}),
        (Conv2d("downsample", 20, 36, 12, 12, 1, 1, stride=2), {"conv_1x1": "conv"}),
    ],
)
def test_every_operand_reads_rows_its_tile_loaded(layer, params):
    # Address check of the lowering (G LoopConv.scala:640-700 a_addr/b_addr/c_addr): every
    # scratchpad row a preload or compute reads was loaded by its tile's mvins (a tile's
    # loads all go to one scratchpad half, the next tile's to the other), and every
    # accumulator row an mvout stores was written by computes; a wrong address would
    # leave a read-after-write hazard unchecked.
    accelerator = find_accelerator("gemmini").resolve({"dim": "8", **params})
    halves = GemminiCommands(accelerator)
    program = lower(accelerator, Model("m", (layer,)))
    loaded: dict[int, set[int]] = {0: set(), 1: set()}
    computed: dict[int, set[int]] = {0: set(), 1: set()}
    last_load_half = last_compute_half = -1
    checked = 0
    for block_id, index in iterate_blocks(program.layers[0].root):
        for t in program.blocks[block_id].templates:
            for operand in t.marks:
                rows = _rows(operand, index)
                if operand.space == "spad_loaded":
                    half = min(rows) // halves.spad_half
                    if half != last_load_half:  # the next tile's loads begin
                        loaded[half], last_load_half = set(), half
                    loaded[half] |= rows
                if operand.space == "acc_computed":
                    half = min(rows) // halves.acc_half
                    if half != last_compute_half:
                        computed[half], last_compute_half = set(), half
                    computed[half] |= rows
            for operand in t.reads:
                rows = _rows(operand, index)
                if operand.space == "spad_loaded":
                    assert rows <= loaded[min(rows) // halves.spad_half], (t.opcode, index)
                    checked += 1
                if t.opcode == "mvout" and operand.space == "acc_computed":
                    assert rows <= computed[min(rows) // halves.acc_half], index
                    checked += 1
    assert checked > 0


def test_periodic_runs_take_the_run_that_covers_most():
    # 0 1 0 1 | 2 3 4 2 3 4 2 3 4 | 5: at 0, period 2 covers 4 keys; at 4, period 3
    # covers 9 (period 1 covers nothing: 2 does not repeat at once); 5 stands alone.
    keys = [0, 1, 0, 1, 2, 3, 4, 2, 3, 4, 2, 3, 4, 5]
    assert periodic_runs(keys, 8) == [(0, 2, 2), (4, 3, 3), (13, 1, 1)]
    # A period above the limit is not looked for; equal neighbours are a period-1 run.
    assert periodic_runs(keys, 2) == [(0, 2, 2), *[(t, 1, 1) for t in range(4, 14)]]
    assert periodic_runs(["a", "a", "a", "b", "a"], 4) == [(0, 1, 3), (3, 1, 1), (4, 1, 1)]


def test_periodic_tree_nests_the_runs_inside_a_repeated_group():
    # a (b b b) a (b b b) c: period 4 twice covers 8 keys (b alone covers 3); inside the
    # group, b repeats 3 times. Positions name the first period's keys.
    keys = ["a", "b", "b", "b", "a", "b", "b", "b", "c"]
    assert periodic_runs(keys, 8) == [(0, 4, 2), (8, 1, 1)]
    assert periodic_tree(keys, 8) == [(2, [0, (3, [1])]), 8]
    # Nested twice: ((x y) (x y) z) three times; a group without repetition stays flat.
    group = ["x", "y", "x", "y", "z"]
    assert periodic_tree(group * 3, 8) == [(3, [(2, [0, 1]), 4])]
    assert periodic_tree(["p", "q", "r", "p", "q", "r"], 8) == [(2, [0, 1, 2])]
    assert periodic_tree([], 8) == []


def test_tile_groups_repeating_inside_a_longer_group_are_nested_loops(monkeypatch):
    # ResNet-50 at batch 4: layer2.0.conv2's 192 tiles hold a group of two rows of 6-tile
    # runs (3 input-channel blocks, the halves alternating) that repeats, so the runs
    # become loops inside the group's; layer3.0.conv3 (conv streams) and layer4.0.add
    # (a residual addition's streams) nest too. Nesting moves no instruction: each layer
    # runs exactly the instructions, at the addresses, of the one-level program (every
    # stream built at the depth of the loop around it), in the same cycles.
    nested = lower_model("gemmini", {}, "resnet50", batch=4)
    monkeypatch.setattr(isa_program, "periodic_tree", isa_program.periodic_level)
    flat = lower_model("gemmini", {}, "resnet50", batch=4)
    monkeypatch.undo()
    shapes = {layer.name: tile_loop_shapes(layer.root) for layer in nested.layers}
    assert "2(3,3)" in shapes["layer2.0.conv2"]
    for name in ("layer3.0.conv3", "layer4.0.add"):
        assert any("(" in shape for shape in shapes[name]), name
        a, b = (next(x for x in p.layers if x.name == name) for p in (nested, flat))
        assert all("(" not in shape for shape in tile_loop_shapes(b.root))
        assert concrete_instructions(nested, a) == concrete_instructions(flat, b), name
    programs = (nested, flat)
    layers = ["layer3.0.conv3", "layer4.0.add"]
    cycles = {
        mode: [[r.cycles for r in Evaluation(p, mode).run() if r.name in layers] for p in programs]
        for mode in ("fast", "full")
    }
    assert cycles["fast"][0] == cycles["fast"][1] == cycles["full"][0] == cycles["full"][1]


def test_nested_tile_loops_deeper_than_a_program_may_be_keep_one_level(monkeypatch):
    layer = ["layer3.0.conv3"]  # loops 3(4,4) at batch 4
    nested = lower_model("gemmini", {}, "resnet50", batch=4, layers=layer)
    monkeypatch.setattr(isa_program, "MAX_DEPTH", loop_depth(nested.layers[0].root) - 1)
    shallow = lower_model("gemmini", {}, "resnet50", batch=4, layers=layer)
    monkeypatch.undo()
    monkeypatch.setattr(isa_program, "periodic_tree", isa_program.periodic_level)
    flat = lower_model("gemmini", {}, "resnet50", batch=4, layers=layer)
    assert tile_loop_shapes(shallow.layers[0].root) == tile_loop_shapes(flat.layers[0].root)
    assert loop_depth(shallow.layers[0].root) == loop_depth(flat.layers[0].root)
    assert concrete_instructions(shallow, shallow.layers[0]) == concrete_instructions(
        nested, nested.layers[0]
    )


def test_a_conv_layer_of_repeating_tile_groups_is_a_loop_over_the_groups():
    # layer2.0.conv2 of ResNet-50: 96 tiles in 4 rows of 24, each 6 tiles (3 input-channel
    # blocks, the halves alternating) repeated 4 times, the 4th differing in its last tile
    # (the tile after it starts the next row): 3 repeats of a 6-tile group, then 6 tiles.
    # Without an L2 every operand is in DRAM, so tiles differ only in shape and half (with
    # one, where each operand is also tells tiles apart: the next test).
    program = lower_model("gemmini", {"l2_kib": "0"}, "resnet50", layers=["layer2.0.conv2"])
    [layer] = program.layers
    loops = [node for node in layer.root.body if isinstance(node, Loop)]
    assert [(node.name, node.trips) for node in loops if node.trips > 1] == [("tiles", 3)] * 4
    assert sum(node.trips for node in loops if node.trips == 1) == 1 + 4 * 6  # + first loads


def resadd_tile_one_step_at_a_time(rows, cols, dim, accumulator_rows):
    """tiled_resadd_stride_auto's search as gemmini.h writes it (T gemmini.h L3240-3283):
    halve I, or take DIM off J, one step at a time; None where no row fits."""
    tile_i, tile_j = rows, cols

    def acc_rows(i, j):
        return -(-i // dim) * dim * -(-j // dim)

    while acc_rows(tile_i, tile_j) > accumulator_rows // 2:
        if tile_i >= tile_j or tile_j <= dim:
            tile_i //= 2
        else:
            tile_j -= dim
        if tile_i == 0:
            return None
    return tile_i, tile_j


@settings(max_examples=300, deadline=None)
@given(
    rows=st.integers(1, 400),
    cols=st.integers(1, 400),
    dim=st.sampled_from([1, 2, 4, 8, 16]),
    accumulator_rows=st.integers(1, 600),
)
def test_residual_add_tiles_are_the_librarys_step_by_step_search(rows, cols, dim, accumulator_rows):
    expected = resadd_tile_one_step_at_a_time(rows, cols, dim, accumulator_rows)
    memory = GemminiMemory(dim, 1024, accumulator_rows)
    if expected is None:
        with pytest.raises(MappingError, match="not even one row"):
            resadd_tile_grid(rows, cols, memory)
        return
    tiles = resadd_tile_grid(rows, cols, memory)
    tile_i, tile_j = expected
    assert (tiles[0].ocols, tiles[0].ochs) == (tile_i, tile_j)
    assert len(tiles) == -(-rows // tile_i) * -(-cols // tile_j)


def test_a_very_wide_residual_add_is_sized_at_once():
    # 10^12 channels: the step-by-step search would take 6 * 10^10 steps before the tile
    # limit could refuse the layer; the bulk step reaches it at once.
    memory = GemminiMemory(16, 1024, 1024)
    tiles = resadd_tile_grid(1, 10**7, memory)
    assert (tiles[0].ochs, len(tiles)) == (512, -(-(10**7) // 512))
    with pytest.raises(MappingError, match="tiles a layer"):
        resadd_tile_grid(1, 10**12, memory)
