"""Plasticine (isa/plasticine/): a GEMM tile worked by hand, the pipeline fill at unlimited
DRAM bandwidth and the DRAM time at a tiny one, the bounds, the mapping's choices, fast ==
full over random layers and parameters and on every bert_base layer, the reference
evaluator, the refusals through the command line, and where every parameter comes from."""

from __future__ import annotations

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

import isa.program as isa_program
from accelerators.catalog import find_accelerator
from analyzer.engine.evaluate import evaluate_program
from analyzer.report import bound_text
from isa.plasticine.lowering import lower
from isa.plasticine.plan import WORD_BYTES, Machine, PlasticineTileError, plan_layer
from isa.program import Loop, Program
from tests.builders import (
    SAMPLINGS,
    check_fast_equals_full,
    check_reaches_fast_path,
    concrete_instructions,
    examples,
)
from tests.reference import reference_cycles
from tracer.cli import main
from tracer.lowering import lower_model
from tracer.workloads.layers import Conv2d, Dense, Elementwise, MatMul, Model, Pool
from tracer.workloads.loading import load_model

# A machine small enough to follow every instruction: one pair (a 2x2 grid has two PMUs,
# one of them holding the shared operand), 4 lanes, 2 stages, 16-byte bursts.
TINY = {
    "grid_rows": 2,
    "grid_cols": 2,
    "lanes": 4,
    "pcu_stages": 2,
    "pmu_latency": 1,
    "dram_latency": 10,
    "dram_bytes_per_cycle": 16,
    "burst_bytes": 16,
    "hop_latency": 1,
    "pmu_kib": 1,
}
UNLIMITED_DRAM = {"dram_bytes_per_cycle": 1 << 20, "dram_latency": 0}


def _plasticine(**params: int):
    return find_accelerator("plasticine").resolve({k: str(v) for k, v in params.items()})


def _lower(layers, **params: int) -> Program:
    return lower(_plasticine(**params), Model("m", tuple(layers)))


def _cycles(program: Program, mode: str = "full") -> list[int]:
    return [r.cycles for r in evaluate_program(program, mode)]


def test_a_small_gemm_tile_worked_by_hand():
    """Dense 8 -> 2 over 3 rows on TINY: M = 3 >= N = 2, so the 3 rows are the pair's
    private tile (24 words) and the 2 weight columns the shared one (16 words); 6 dot
    products of K = 8, 2 vectors each.

    DRAM: load_shared 64 bytes, 4 bursts, busy 0-4, done 14; load_private 96 bytes,
    issued at 1, busy 4-10, done 20. Element e (issued 2 + e): shared_rd waits for the
    shared tile, 14 + 2e (its PMU busy 2 cycles a dot product), its first vector out a
    cycle later; the broadcast crosses 2 + 2 - 2 = 2 hops: bvec at 17 + 2e. private_rd
    waits for the private tile: 20 + 2e, one cycle of PMU and one hop: pvec at 22 + 2e.
    The dot starts on both, at 22 + 2e, and ends 2 - 1 (its last vector) + 2 stages +
    log2(4) = 5 cycles later: 27 + 2e; the last (e = 5) at 37. The store (6 words, 2
    bursts, 2 cycles) reads the output slot's mark at 37 and is done 10 + 2 later: 49."""
    program = _lower([Dense("d", 8, 2, rows=3)], **TINY)
    mapping = program.layers[0].mapping
    assert (mapping["pairs"], mapping["x_tile"], mapping["y_tile"]) == (1, 3, 2)
    assert (mapping["private_tile_words"], mapping["shared_tile_words"]) == (24, 16)
    assert _cycles(program) == [49]
    assert reference_cycles(program, program.layers[0]) == 49


def test_unlimited_bandwidth_approaches_macs_over_the_lanes_plus_the_fill():
    """6,300 rows of a 64 x 64 Dense on the default 16 x 8 grid: 63 pairs (64 PMUs, one
    holding the weights) of 100 rows each, 6,400 dot products of 4 vectors per pair: MACs /
    (pairs x lanes) = 25,600 cycles of PCU work. With DRAM transfers taking one cycle and no
    latency, the fill worked by hand is: 1 + 63 loads before the first element (one bundle
    a cycle), the last element's route (pmu_latency 7 + 22 hops) and its dot's drain
    (4 - 1 + 6 stages + log2(16)) less the 4 cycles its stream was counted in the MACs,
    and 63 stores after it, one a cycle."""
    layer = Dense("d", 64, 64, rows=6300)
    program = _lower([layer], **UNLIMITED_DRAM)
    mapping = program.layers[0].mapping
    assert (mapping["pairs"], mapping["x_tile"], mapping["vectors_per_element"]) == (63, 100, 4)
    work = layer.macs // (63 * 16)
    fill = (1 + 63) + (7 + 22) + (4 - 1 + 6 + 4) - 4 + 63
    (cycles,) = _cycles(program, "fast")
    assert cycles == work + fill == 25_600 + 165
    # Against the whole grid's peak (64 PCUs): within 3%, the PCU and PMU given to the
    # broadcast operand and the fill.
    assert layer.macs / (64 * 16) <= cycles <= 1.03 * layer.macs / (64 * 16)
    result = evaluate_program(program, "fast")[0]
    assert bound_text(result, program).startswith("pcu-bound")


def test_a_tiny_bandwidth_approaches_the_dram_bytes_over_it():
    layer = Dense("d", 256, 64, rows=512)
    program = _lower([layer], dram_bytes_per_cycle=1)
    dram_bytes = program.layers[0].mapping["dram_words"] * WORD_BYTES
    (cycles,) = _cycles(program, "fast")
    assert dram_bytes <= cycles <= 1.02 * dram_bytes
    result = evaluate_program(program, "fast")[0]
    assert bound_text(result, program).startswith("dram-bound")


def test_fewer_pmu_banks_than_lanes_make_the_pmu_the_bound():
    """4 banks for 16 lanes: a vector takes 4 cycles of a PMU, a dot product 4 x 4, while
    the PCU is busy 4: the PMUs bound the layer at four times the PCU work."""
    layer = Dense("d", 64, 64, rows=6300)
    program = _lower([layer], pmu_banks=4, **UNLIMITED_DRAM)
    result = evaluate_program(program, "fast")[0]
    assert bound_text(result, program).startswith("pmu-bound")
    assert 4 * 25_600 <= result.cycles <= 4 * 25_600 + 200


def test_the_parallelisation_factor_can_be_set():
    layer = Dense("d", 64, 64, rows=640)
    program = _lower([layer], par=8)
    mapping = program.layers[0].mapping
    assert (mapping["pairs"], mapping["x_tile"]) == (8, 80)
    # Auto: 640 rows over at most 63 pairs are tiles of ceil(640 / 63) = 11 rows, which
    # 59 pairs cover (the last tile has 2 rows of padding).
    auto = _lower([layer]).layers[0].mapping
    assert (auto["pairs"], auto["x_tile"]) == (59, 11)


def test_a_convolution_loads_the_fewer_of_its_input_rows_and_its_im2col_rows():
    """3x3 over 16 channels of 20 x 20, stride 1, no padding: 18 x 18 outputs. A tile of 1
    position loads its im2col row (144 words), fewer than the 3 input rows (960); a tile of
    two output rows' 36 positions, which may span three, loads 5 input rows (1,600), fewer
    than 36 x 144."""
    conv = Conv2d("c", 16, 8, 20, 20, 3, 3)
    machine = Machine.of(_plasticine(par=18))
    plan = plan_layer(machine, conv)
    assert (plan.parallel, plan.x, plan.y, plan.k, plan.x_tile) == ("M", 324, 8, 144, 18)
    # 18 positions may span two output rows: 4 input rows of 20 x 16 words.
    assert plan.private_words == 4 * 20 * 16
    one = plan_layer(Machine.of(_plasticine(par=63, pmu_kib=2)), conv)
    assert one.private_words == min(3 * 20 * 16, one.x_tile * 144)


def test_a_tile_that_may_straddle_two_images_loads_each_parts_rows_not_whole_images():
    """The same conv over a batch of 2: 18 positions may be the last output row of one
    image and the first of the next, 3 input rows each (6 x 20 x 16 = 1,920 words), fewer
    than their im2col rows (2,592); not the two whole images (12,800, which made every
    tile of a batched conv load its im2col rows)."""
    conv = Conv2d("c", 16, 8, 20, 20, 3, 3, batch=2)
    plan = plan_layer(Machine.of(_plasticine(par=36)), conv)
    assert (plan.x, plan.x_tile) == (648, 18)
    assert plan.private_words == 6 * 20 * 16
    # Longer than an image (324 positions): it may touch both images, whole.
    whole = plan_layer(Machine.of(_plasticine(par=1)), conv)
    assert whole.x_tile > 324 and whole.private_words == 2 * 20 * 20 * 16


def test_grouped_convolutions_run_one_gemm_per_group():
    depthwise = Conv2d("dw", 32, 32, 14, 14, 3, 3, padding=1, groups=32)
    mapping = _lower([depthwise]).layers[0].mapping
    assert (mapping["groups"], mapping["k"], mapping["y"], mapping["x"]) == (32, 9, 1, 196)


def _random_layer(draw_kind, sizes):
    """Layers large enough that a step's elements repeat (the fast path's periods)."""
    a, b, c, d = sizes
    if draw_kind == "dense":
        return Dense("l", a * 7, b * 5, rows=c * 9)
    if draw_kind == "conv":
        # A batch of 2 for odd d: tiles that may straddle two images.
        return Conv2d(
            "l", a * 2, b * 2, c + 8, d + 8, 3, 3, stride=1 + a % 2, padding=1, batch=1 + d % 2
        )
    if draw_kind == "depthwise":
        return Conv2d("l", a * 2, a * 2, c + 8, d + 8, 3, 3, padding=1, groups=a * 2)
    if draw_kind == "matmul":
        return MatMul("l", a, b * 4, c * 8, d * 8)
    if draw_kind == "pool":
        return Pool("l", "maxpool", a * 5, c + 8, d + 8, 3, 3, stride=2)
    return Elementwise("l", "add", (1, a * 3, c + 8, d + 8))


@settings(max_examples=examples(40), deadline=None)
@given(
    kind=st.sampled_from(["dense", "conv", "depthwise", "matmul", "pool", "add"]),
    sizes=st.tuples(*(st.integers(1, 12) for _ in range(4))),
    params=st.fixed_dictionaries(
        {
            "grid_rows": st.sampled_from(["2", "3", "4", "16"]),
            "grid_cols": st.sampled_from(["2", "4", "8"]),
            "lanes": st.sampled_from(["4", "8", "16"]),
            "pmu_banks": st.sampled_from(["2", "16"]),
            "pcu_stages": st.sampled_from(["2", "6"]),
            "burst_bytes": st.sampled_from(["4", "64"]),
            "pmu_kib": st.sampled_from(["4", "16", "256"]),
            "dram_bytes_per_cycle": st.sampled_from(["4", "51", "1048576"]),
            "dram_latency": st.sampled_from(["0", "100"]),
            "hop_latency": st.sampled_from(["0", "1", "3"]),
            "par": st.sampled_from(["0", "1", "2"]),
        }
    ),
)
def _random_layers_fast_equals_full(tally, kind, sizes, params):
    model = Model("m", (_random_layer(kind, sizes),))
    try:
        program = lower(find_accelerator("plasticine").resolve(params), model)
    except PlasticineTileError as refusal:
        # Only par 2 on a 2x2 grid, whose one GEMM pair the refusal names.
        assert "par 2 asks for more PCU/PMU pairs than the 2x2 grid" in str(refusal)
        assume(False)
    tally.record(check_fast_equals_full(program))


@pytest.mark.parametrize("sampling", SAMPLINGS)
def test_random_layers_fast_equals_full(sampling, monkeypatch):
    check_reaches_fast_path(_random_layers_fast_equals_full, sampling, monkeypatch)


def test_every_bert_base_layer_fast_equals_full():
    program = lower(_plasticine(), load_model("bert_base"))
    assert len(program.layers) == 8
    assert check_fast_equals_full(program)


@pytest.mark.parametrize(
    "layer",
    [
        Conv2d("conv", 6, 5, 7, 6, 3, 3, stride=2, padding=1),
        Pool("pool", "avgpool", 9, 6, 6, 2, 2, stride=2),
        Elementwise("relu", "relu", (1, 5, 4, 4)),
        MatMul("mm", 2, 5, 9, 3),
    ],
    ids=lambda layer: layer.kind,
)
def test_small_layers_agree_with_the_reference_evaluator(layer):
    program = _lower([layer], **{**TINY, "grid_rows": 3, "grid_cols": 3})
    assert _cycles(program) == [reference_cycles(program, program.layers[0])]


def _refusal(tmp_path, capsys, model, *params):
    argv = ["lower", "--accelerator", "plasticine", "--model", model, "-o", str(tmp_path / "t")]
    assert main([*argv, *(arg for p in params for arg in ("--param", p))]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "Traceback" not in err
    return err


def test_a_tile_that_fits_no_pmu_is_one_clear_error(tmp_path, capsys):
    err = _refusal(tmp_path, capsys, "bert_base", "pmu_kib=8")
    assert "layer 'output' on plasticine: even a tile of one row and one column (K = 3072)" in err
    assert "needs 24.0 KiB double buffered, more than a PMU's 8 KiB (pmu_kib)" in err
    assert err.endswith("raise --param pmu_kib")


def test_a_parallelisation_factor_beyond_the_grid_is_one_clear_error(tmp_path, capsys):
    err = _refusal(tmp_path, capsys, "bert_base", "par=64")
    assert "par 64 asks for more PCU/PMU pairs than the 16x8 grid gives this layer (63" in err


@pytest.mark.parametrize("model", ["resnet50", "bert_base", "mobilenet_v2"])
def test_lower_and_analyze_each_model_from_the_command_line(tmp_path, capsys, model):
    argv = ["lower", "--accelerator", "plasticine", "--model", model, "-o", str(tmp_path)]
    assert main(argv) == 0
    trace = capsys.readouterr().out.strip().splitlines()[-1]
    assert main(["analyze", trace]) == 0
    out = capsys.readouterr().out
    assert "ms at 1,000,000 kHz" in out
    assert "pcu" in out and "dram" in out and "-bound" in out


def test_the_python_api_gives_cycles_utilisation_and_bounds():
    import accperf

    result = accperf.analyze(accperf.lower("resnet50", "plasticine"))
    frame = result.layers
    assert frame.height == 72 and (frame["cycles"] > 0).all()
    assert frame["bound"].str.contains("dram").any() and frame["bound"].str.contains("pcu").any()
    conv = frame.filter(frame["name"] == "layer1.0.conv2").row(0, named=True)
    assert 0 < conv["utilization"] < 1
    assert conv["utilization"] == pytest.approx(conv["macs"] / (conv["cycles"] * 64 * 16))


def test_list_shows_the_parameters(capsys):
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    for name in ("grid_rows", "pmu_banks", "dram_bytes_per_cycle", "burst_bytes", "par"):
        assert name in out


def test_every_parameter_names_its_source_or_says_assumed():
    sources = ("Ps:", "Pc:", "Pg:")
    for parameter in find_accelerator("plasticine").parameters:
        assert "Assumed" in parameter.doc or any(s in parameter.doc for s in sources), (
            parameter.name
        )


def _instructions(program: Program):
    """(template, loop indices, start, end) of every instruction of the first layer."""
    from tests.builders import timeline
    from tracer.trace_io import iterate_blocks

    times = iter(timeline(program))
    for block, index in iterate_blocks(program.layers[0].root):
        for template in program.blocks[block].templates:
            start, end = next(times)
            yield template, index, start, end


# What refills a slot, and what reads or fills it: each slot's writer must wait until the
# slot's previous readers are through (the credit), not only end after them.
_REFILLS = {"load_private": "private", "load_shared": "shared", "dot": "out", "map": "out"}


def test_no_slot_is_refilled_before_its_previous_tile_is_read():
    """Private, shared and output tiles over several rounds and steps (N = 40 > M = 12, so
    the weights are private; a 1 KiB PMU holds one weight column and two rows of K = 64,
    so with a parallelisation factor of 2 each pair runs 20 rounds of 6 steps): a load into a
    slot starts after every read of the tile it replaces has read its last vector, and a
    dot product writing an output slot after the store of its previous tile has read it.
    Without the credits the loads would start while the old tile is still streaming."""
    from tracer.trace_io import resolve_address

    layer = Dense("d", 64, 40, rows=12)
    program = _lower([layer], pmu_kib=1, par=2)
    mapping = program.layers[0].mapping
    assert (mapping["rounds"], mapping["y_steps"], mapping["x_tile"]) == (20, 6, 1)
    read_until: dict[tuple[str, int], int] = {}
    checked = 0
    for template, index, start, _ in _instructions(program):
        space = _REFILLS.get(template.opcode)
        if space is not None:
            operand = next(o for o in (*template.writes, *template.marks) if o.space == space)
            slot = (space, resolve_address(operand, index))
            assert start >= read_until.get(slot, 0), (template.opcode, slot)
            checked += 1
        for operand in template.reads:
            if operand.space in ("private", "shared", "out"):
                slot = (operand.space, resolve_address(operand, index))
                read_until[slot] = max(read_until.get(slot, 0), start + template.read_time)
        if template.opcode in ("load_private", "load_shared"):
            read_until.pop(slot, None)  # a fresh tile: its readers are new
    assert checked > 500


@pytest.mark.parametrize("model", ["resnet50", "bert_base", "mobilenet_v2"])
def test_every_tile_fits_its_pmu_and_every_pair_has_work(model):
    machine = Machine.of(_plasticine())
    program = lower(_plasticine(), load_model(model))
    for layer in program.layers:
        m = layer.mapping
        assert 2 * (m["private_tile_words"] + m["output_tile_words"]) <= machine.pmu_words
        assert 2 * m["shared_tile_words"] <= machine.pmu_words
        covered = m["pairs"] * m["rounds"] * m["x_tile"]
        assert covered >= m["x"] > covered - m["rounds"] * m["x_tile"], layer.name
        assert m["y_steps"] * m["y_tile"] >= m["y"]
        # The larger GEMM dimension is the one spread over the pairs.
        if m["pattern"] == "dot":
            assert m["x"] >= m["y"], layer.name
    if model == "resnet50":
        fc = program.layers[-1].mapping
        assert (fc["parallel"], fc["x"], fc["pairs"]) == ("N", 1000, 63)


def test_dram_transfers_move_whole_bursts():
    """5 words are 20 bytes, one 64-byte burst: 2 cycles at 51 bytes a cycle, not 1."""
    machine = Machine.of(_plasticine())
    assert machine.dram_cycles(5) == 2
    assert machine.dram_cycles(16) == 2  # 64 bytes, one burst
    assert machine.dram_cycles(17) == 3  # two bursts, 128 bytes


def _steps_alone(keys: list, max_period: int) -> list:
    """Every step standing alone, in order: the program with no loop over steps."""
    return list(range(len(keys)))


def test_repeating_runs_of_steps_are_loops_that_run_the_steps_in_order(monkeypatch):
    # BERT-base's output layer at batch 1: 26 steps (2 tiles of 13) whose slots alternate,
    # within each tile, every step; its runs of repeating steps (equal step keys,
    # step_key) become loops. Each step in order, none in a loop, runs the same
    # instructions at the same addresses (a key that missed something a step depends on
    # would repeat a first period's step where another one belongs), in the same cycles,
    # fast or full.
    def runs(program: Program) -> list[int]:
        root = program.layers[0].root
        return [n.trips for n in root.body if isinstance(n, Loop) and n.name == "steps"]

    looped = lower_model("plasticine", {}, "bert_base", batch=1, layers=["output"])
    assert runs(looped) and min(runs(looped)) > 1
    monkeypatch.setattr(isa_program, "periodic_tree", _steps_alone)
    alone = lower_model("plasticine", {}, "bert_base", batch=1, layers=["output"])
    assert runs(alone) == []
    assert concrete_instructions(looped, looped.layers[0]) == concrete_instructions(
        alone, alone.layers[0]
    )
    results = {
        (name, mode): evaluate_program(p, mode)[0]
        for name, p in (("looped", looped), ("alone", alone))
        for mode in ("fast", "full")
    }
    assert len({result.cycles for result in results.values()}) == 1
    evaluated = {key: result.evaluated_instructions for key, result in results.items()}
    assert evaluated["looped", "fast"] < evaluated["alone", "fast"]
