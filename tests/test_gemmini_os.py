"""Gemmini output stationary: tiled_matmul_auto's sp_tiled_matmul_os, issued by the CPU.

Each timing rule pinned to the RTL or library code it follows (G = ucb-bar/gemmini
src/main/scala/gemmini/, T = gemmini-rocc-tests include/gemmini.h), the address layout
checked command by command, and fast == full over random matmuls and parameters."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import isa.program as isa_program
from accelerators.catalog import find_accelerator
from analyzer.engine.evaluate import evaluate_program
from isa.gemmini.commands import Affine, issued_by_cpu
from isa.gemmini.lowering import lower
from isa.gemmini.output_stationary import Piece, block_groups, block_rows
from isa.program import loop_depth
from tests.builders import (
    GEMMINI_MEMORY_PARAMS,
    check_fast_equals_full,
    concrete_instructions,
    gemmini_machine,
    run_block,
    tile_loop_shapes,
    timeline,
)
from tests.reference import reference_cycles
from tracer.errors import MappingError
from tracer.lowering import lower_model
from tracer.trace_io import iterate_blocks, resolve_address
from tracer.workloads.layers import Conv2d, Dense, Elementwise, Model

DIM = 16
FIXED: dict[str, tuple[int, int, int]] = {}
A_ROWS, B_ROWS, C_ROWS = Affine(0), Affine(4096), Affine(0)


def test_os_groups_are_dim_rows_and_results_leave_with_the_next_group():
    # G ExecuteController.scala:285-302: OS groups are always DIM rows. A tile's first
    # preload fires alone (:585-597), DIM rows; each compute then fires DIM rows with the
    # next preload (mul_pre, :600-610). T gemmini.h L472: C is named at k == K-1 only.
    lowering, program = gemmini_machine(dataflow="os", dram_latency="1")
    k0 = [
        lowering.os_preload(None, DIM, A_ROWS, DIM, B_ROWS, DIM, FIXED, first=True),
        lowering.os_compute("compute_preloaded", A_ROWS, DIM, B_ROWS, DIM, FIXED),
    ]
    a1, b1 = Affine(DIM), Affine(4096 + DIM)
    k1 = [
        lowering.os_preload(C_ROWS, DIM, a1, DIM, b1, DIM, FIXED, first=False),
        lowering.os_compute("compute_accumulated", a1, DIM, b1, DIM, FIXED),
    ]
    (p0, e0), (c0, c0_end), (p1, p1_end), (c1, c1_end) = run_block(program, k0 + k1)
    assert (p0, c0, p1, c1) == (0, DIM, 2 * DIM, 2 * DIM)
    # A GARBAGE preload's RS entry is freed when it fires (:643); a compute's when its last
    # row fires (:661,678).
    assert (e0, c0_end, c1_end) == (DIM, 2 * DIM, 3 * DIM)
    # k == K-1: the results leave during the next group's DIM rows (PE.scala:102-117,
    # docs/gemmini/timing.md 4.4): the compute's last row at 3*DIM - 1, then DIM rows,
    # then the execute latency (SRAM 2, buffer 1, mesh 2*DIM - 1, output delay 1, acc 2).
    assert p1_end == 3 * DIM - 1 + DIM + (3 + 2 * DIM - 1 + 1 + 2)


def _mvins(lowering, count: int) -> list:
    return [
        issued_by_cpu(lowering.mvin("mvin", DIM, DIM, False, Affine(k * DIM), DIM, FIXED, None))
        for k in range(count)
    ]


@pytest.mark.parametrize("entries", [8, 16])
def test_the_cpu_stalls_on_a_full_reservation_station_queue(entries):
    # G ReservationStation.scala: a command is accepted only with a free entry of its
    # kind (ld 8 by default, Configs.scala:56-58), and the CPU issues in order, so a full
    # ld queue also holds back the ex command behind it. 9 mvins, then a compute that
    # depends on none of them.
    lowering, program = gemmini_machine(dataflow="os", rs_ld_entries=str(entries))
    far = Affine(8192)
    compute = issued_by_cpu(lowering.os_compute("compute_preloaded", far, DIM, far, DIM, FIXED))
    times = run_block(program, [*_mvins(lowering, 9), compute])
    first_mvin_end = times[0][1]
    if entries == 8:
        # The 9th mvin issues when the 1st completes, the compute the cycle after.
        assert times[8][0] >= first_mvin_end
        assert times[9][0] == first_mvin_end + 1
    else:
        assert times[9][0] == 9  # one command per cycle, nothing full


def test_the_cpu_stalls_on_a_full_store_queue():
    # G Configs.scala:56-58: 4 st entries by default. An mvout of 16 rows from the
    # accumulator, each row a first touch on a line of its own (no LLC model), takes 137
    # cycles: 16 lines over the 8-byte memory bus, 16 x 8 = 128 (tests/test_gemmini.py, the
    # one-mvin case),
    # above the scale pipeline's 16 rows x 2, plus the store latency 9. The store
    # controller runs one at a time, so mvout k holds its entry from 137k to 137(k + 1). The
    # CPU issues mvouts 0-3 in cycles 0-3; the 5th needs mvout 0's entry, free at 137, and
    # the compute behind it (rows no mvout touches) issues and starts the cycle after: 138.
    # A queue sized by the 16 ex entries would let it start at 5.
    # fast == full and the reference evaluator both read the queue sizes from the program.
    lowering, program = gemmini_machine(dataflow="os", llc_kib="0")
    mvouts = [issued_by_cpu(lowering.mvout(Affine(k * DIM), DIM, FIXED, DIM)) for k in range(5)]
    far = Affine(8192)
    compute = issued_by_cpu(lowering.os_compute("compute_preloaded", far, DIM, far, DIM, FIXED))
    times = run_block(program, [*mvouts, compute])
    assert times == [(137 * k, 137 * (k + 1)) for k in range(5)] + [(138, 138 + DIM)]


def test_the_cpu_stalls_on_a_full_execute_queue():
    # 16 ex entries by default; an OS compute holds one until its last row fires, DIM = 16
    # cycles after its start (latency 16). Twenty computes on distinct rows run back to back
    # on the mesh, compute k from 16k to 16k + 16. The CPU issues computes 0-15 in cycles
    # 0-15; compute 16 needs compute 0's entry (free at 16), ..., compute 19 compute 3's
    # (free at 64). The mvin behind them, to rows no compute reads, issues at 65 and starts
    # there (load queue and rs_load empty); without the LLC model its latency is
    # 128 + 37 + 4 + 1 (see tests/test_gemmini.py, the one-mvin case).
    lowering, program = gemmini_machine(dataflow="os", llc_kib="0")
    computes = [
        issued_by_cpu(
            lowering.os_compute(
                "compute_preloaded", Affine(k * DIM), DIM, Affine(4096 + k * DIM), DIM, FIXED
            )
        )
        for k in range(20)
    ]
    far = lowering.mvin("mvin", DIM, DIM, False, Affine(8192), DIM, FIXED, None)
    times = run_block(program, [*computes, issued_by_cpu(far)])
    assert times == [(16 * k, 16 * k + 16) for k in range(20)] + [(65, 65 + 128 + 37 + 4 + 1)]


def test_a_tiles_loads_wait_for_the_previous_tiles_computes():
    # sp_tiled_matmul_os has no double buffering (T gemmini.h L390-393: A from row 0, B
    # ending at the scratchpad's end, in every tile): the next tile's mvins overwrite rows
    # this tile's computes read, and the RS orders them (WAR across controllers,
    # ReservationStation.scala:327-379). A 64 x 64 x 2048 matmul in a 64 KiB scratchpad
    # takes 4 k0 tiles (no bias load or mvout between them); 1-cycle DRAM makes the tiles
    # compute-bound, and RS queues large enough that the CPU never stalls leave only the
    # hazard to order them.
    large = {f"rs_{kind}_entries": "256" for kind in ("ld", "ex", "st")}
    params = {"dataflow": "os", "scratchpad_kib": "64", "dram_latency": "1", **large}
    accelerator = find_accelerator("gemmini").resolve(params)
    program = lower(accelerator, Model("m", (Dense("fc", 2048, 64, rows=64),)))
    assert program.layers[0].mapping["tiles"] == 4
    commands = [
        (t, index)
        for block, index in iterate_blocks(program.layers[0].root)
        for t in program.blocks[block].templates
    ]
    times = timeline(program)
    opcodes = [t.opcode for t, _ in commands]
    first_compute = opcodes.index("compute_preloaded")
    next_tile = opcodes.index("mvin", first_compute)
    next_compute = opcodes.index("compute_preloaded", next_tile)

    def rows(n: int, operands) -> set[int]:
        return set().union(*(_rows(o, commands[n][1]) for o in operands))

    computes = [n for n in range(first_compute, next_tile) if opcodes[n].startswith("compute")]
    overwrites = [
        (m, n)
        for m in range(next_tile, next_compute)
        if opcodes[m] == "mvin"
        for n in computes
        if rows(m, commands[m][0].marks) & rows(n, commands[n][0].reads)
    ]
    assert len(overwrites) > 100
    # A compute reads its rows while its DIM rows fire.
    assert all(times[m][0] >= times[n][0] + DIM for m, n in overwrites)


def test_block_pieces_cover_every_block_once():
    # 107 elements = 7 blocks of 16, the last short by 5; columns in mvins of up to 4 blocks.
    assert block_rows(107, 16) == [Piece(6, 0, 1, rows=16), Piece(1, 6, 1, rows=11)]
    assert block_groups(107, 4, 16) == [
        Piece(1, 0, 4, blocks=4, cols=64),
        Piece(1, 4, 4, blocks=3, cols=43),
    ]
    assert block_groups(128, 4, 16) == [Piece(2, 0, 4, blocks=4, cols=64)]
    assert block_groups(126, 4, 16) == [
        Piece(1, 0, 4, blocks=4, cols=64),
        Piece(1, 4, 4, blocks=4, cols=62),
    ]


def _rows(operand, index) -> set[int]:
    first = resolve_address(operand, index)
    return set(range(first, first + operand.count))


@pytest.mark.parametrize(
    "layer",
    [
        Dense("fc", 70, 90, rows=40),  # pads on I, J and K
        Dense("deep", 1000, 24, rows=20),  # several k0 tiles
        Dense("wide", 200, 700, rows=300),  # several i0, j0 tiles
    ],
)
def test_every_operand_reads_rows_its_tile_loaded(layer):
    # Address check against sp_tiled_matmul_os (T gemmini.h L390-503): every scratchpad row
    # a compute reads was moved in by its tile, every row a preload sends results to was
    # given its bias (k0 == 0) or earlier results, and every row an mvout stores was
    # written by a preload's results in this tile.
    accelerator = find_accelerator("gemmini").resolve({"dataflow": "os", "dim": "8"})
    program = lower(accelerator, Model("m", (layer,)))
    loaded: set[int] = set()
    computed: set[int] = set()
    biased: set[int] = set()
    previous = ""
    checked = 0
    for block_id, index in iterate_blocks(program.layers[0].root):
        for t in program.blocks[block_id].templates:
            if t.opcode == "mvin" and not previous.startswith(("mvin", "config_ld")):
                loaded, computed = set(), set()  # a new tile's loads begin
            previous = t.opcode
            for operand in t.marks:
                rows = _rows(operand, index)
                if operand.space == "spad_loaded":
                    loaded |= rows
                elif operand.space == "acc_loaded":
                    biased |= rows
                elif operand.space == "acc_computed":
                    computed |= rows
            for operand in t.reads:
                rows = _rows(operand, index)
                if operand.space == "spad_loaded":
                    assert rows <= loaded, (t.opcode, index)
                    checked += 1
                if t.opcode == "preload" and operand.space == "acc_loaded":
                    assert rows <= biased, index
                if t.opcode == "mvout" and operand.space == "acc_computed":
                    assert rows <= computed, index
                    checked += 1
    assert checked > 0


def test_convolutions_are_refused_and_other_layers_keep_their_library_call():
    # T gemmini.h L2216-2218: tiled_conv exits for OS. 1x1 convs run as matmuls
    # (resnet50.c tiled_matmul_nn_auto), residual additions stay WS (resnet50.c L277).
    memory_model = Model(
        "m",
        (
            Conv2d("pointwise", 32, 64, 8, 8, 1, 1),
            Elementwise("add", "add", (1, 64, 8, 8), inputs=("pointwise", "pointwise")),
        ),
    )
    accelerator = find_accelerator("gemmini").resolve({"dataflow": "os"})
    program = lower(accelerator, memory_model)
    assert "sp_tiled_matmul_os" in str(program.layers[0].mapping["library"])
    assert program.layers[1].mapping["library"] == "tiled_resadd_auto"
    conv = Model("m", (Conv2d("conv", 32, 64, 8, 8, 3, 3, padding=1),))
    with pytest.raises(MappingError, match="layer 'conv' on gemmini: gemmini.h runs conv"):
        lower(accelerator, conv)


def test_resnet50_with_os_is_one_clear_error_and_writes_nothing(tmp_path, capsys):
    from tracer.cli import main

    argv = ["lower", "--accelerator", "gemmini", "--model", "resnet50", "-o", str(tmp_path)]
    assert main([*argv, "--param", "dataflow=os"]) == 2
    err = capsys.readouterr().err
    assert "do not currently support OS" in err and "dataflow=ws" in err
    assert "Traceback" not in err
    assert not any(tmp_path.iterdir())


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    rows=st.integers(1, 300),
    in_features=st.integers(1, 300),
    out_features=st.integers(1, 300),
    pointwise=st.booleans(),
    params=st.fixed_dictionaries(
        {
            **GEMMINI_MEMORY_PARAMS,
            "bias": st.sampled_from(["true", "false"]),
            "rs_ld_entries": st.sampled_from(["1", "8"]),
            "rs_ex_entries": st.sampled_from(["2", "16"]),
            "rs_st_entries": st.sampled_from(["1", "4"]),
            "load_inflight": st.sampled_from(["1", "2"]),
        }
    ),
)
def test_random_os_matmuls_fast_equals_full(rows, in_features, out_features, pointwise, params):
    if pointwise:
        size = max(1, int(rows**0.5))
        layer = Conv2d("pointwise", in_features, out_features, size, size, 1, 1)
    else:
        layer = Dense("fc", in_features, out_features, rows=rows)
    accelerator = find_accelerator("gemmini").resolve({**params, "dataflow": "os"})
    check_fast_equals_full(lower(accelerator, Model("m", (layer,))))


@pytest.mark.parametrize("layer", [Dense("fc", 40, 40, rows=24), Dense("deep", 300, 20, rows=9)])
def test_small_os_layers_agree_with_the_reference_evaluator(layer):
    # tests/reference.py: the timing rules in plain Python, issue queues included.
    params = {"dataflow": "os", "dim": "8", "dram_latency": "20", "scratchpad_kib": "16"}
    program = lower(find_accelerator("gemmini").resolve(params), Model("m", (layer,)))
    full = evaluate_program(program, "full")[0]
    assert full.cycles == reference_cycles(program, program.layers[0])


def test_os_tile_runs_repeating_inside_a_repeated_group_are_nested_loops(monkeypatch):
    # BERT-base's attention.query at batch 4, output-stationary: 24 tiles, the 5-tile run
    # of k0 tiles repeating within a group that repeats 3 times. Nesting moves no
    # instruction: the cycles equal the one-level program's, and a layer whose nesting
    # would pass MAX_DEPTH keeps one level.
    def query(**patches) -> object:
        monkeypatch.undo()
        for name, value in patches.items():
            monkeypatch.setattr(isa_program, name, value)
        params = {"dataflow": "os"}
        return lower_model("gemmini", params, "bert_base", batch=4, layers=["attention.query"])

    nested = query()
    assert "3(5)" in tile_loop_shapes(nested.layers[0].root)
    flat = query(periodic_tree=isa_program.periodic_level)
    assert all("(" not in shape for shape in tile_loop_shapes(flat.layers[0].root))
    shallow = query(MAX_DEPTH=loop_depth(nested.layers[0].root) - 1)
    assert tile_loop_shapes(shallow.layers[0].root) == tile_loop_shapes(flat.layers[0].root)
    # The same instructions at the same addresses, in the same cycles.
    programs = (nested, flat, shallow)
    assert len({concrete_instructions(p, p.layers[0]) for p in programs}) == 1
    cycles = {evaluate_program(p, mode)[0].cycles for p in programs for mode in ("fast", "full")}
    assert len(cycles) == 1
