"""Gemmini: each timing rule pinned to the RTL behaviour it models, and fast == full over
random shapes and parameters (and on ResNet-50, slow). The lowering's program (tiles,
calls, rows read, tile loops): tests/test_gemmini_lowering.py."""

from __future__ import annotations

import json
import os

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from accelerators.catalog import find_accelerator
from analyzer.engine.evaluate import Evaluation, evaluate_program
from isa.gemmini.commands import Affine, row_requests
from isa.gemmini.hierarchy import DRAM, L2, Where
from isa.gemmini.lowering import lower
from tests.builders import (
    GEMMINI_CALL_PARAMS,
    GEMMINI_MEMORY_PARAMS,
    SAMPLINGS,
    check_fast_equals_full,
    check_reaches_fast_path,
    examples,
    gemmini_machine,
    run_block,
)
from tests.reference import reference_cycles
from tracer.errors import DescriptionError
from tracer.lowering import lower_model
from tracer.trace_io import iterate_blocks
from tracer.workloads.layers import Conv2d, Dense, Model

DIM = 16


FIXED: dict[str, tuple[int, int, int]] = {}
A_ROWS = Affine(0)  # scratchpad rows 0..
B_ROWS = Affine(1024)
C_ROWS = Affine(0)  # accumulator rows 0..
IN_L2 = Where(L2)


def test_one_mvin_of_dim_rows_is_split_into_requests_with_the_in_flight_limit():
    # DMA.scala:180-289: a 16-byte row is one 16-byte request (one beat), one request per
    # cycle, at most 16 outstanding. A first touch goes through the L2 to DRAM (here without
    # FASED's LLC model; tests/test_gemmini_memory.py has it): 4 cycles of system bus + 5 of
    # L2 + 4 of memory bus + 16 of DRAM + 8 for the line on the 8-byte memory bus = 37 to
    # the first beat. Rows on lines of their own (no stride given): 16 lines over the
    # memory bus, 16 x 8 = 128 cycles, bound the issue (above the tracker's
    # ceil(16 x (37 + 1) / 16) = 38 and the 10 MSHRs' ceil(16 x 37 / 10) = 60); the last
    # beat lands 37 + 4 (TLB, merger, bank write) + 1 later.
    lowering, program = gemmini_machine(llc_kib="0")
    mvin = lowering.mvin("mvin", DIM, DIM, False, A_ROWS, DIM, FIXED, 0)
    [(start, end)] = run_block(program, [mvin])
    assert (start, end) == (0, 128 + 37 + 4 + 1)
    # 64-column rows are one 64-byte request of 4 beats each (dram_latency 6: reach 27):
    # from DRAM the memory bus still bounds, 16 lines x 8; from the L2 (reach 4 + 5 = 9)
    # the DMA bus does, 16 x 4 beats.
    lowering, program = gemmini_machine(dram_latency="6", llc_kib="0")
    wide = lowering.mvin("mvin", DIM, 4 * DIM, False, A_ROWS, DIM, FIXED, 0)
    assert run_block(program, [wide]) == [(0, 128 + 27 + 4 + 4)]
    cached = lowering.mvin("mvin", DIM, 4 * DIM, False, A_ROWS, DIM, FIXED, 0, where=IN_L2)
    assert run_block(program, [cached]) == [(0, 16 * 4 + 9 + 4 + 4)]


def test_a_first_touch_costs_the_dram_path_and_a_re_read_the_l2_path():
    # 16 contiguous 16-byte rows (stride 16): 4 lines of 4 rows each. From DRAM (no LLC
    # model): the first request of a line misses, holding its set for the L2's 5 + the
    # memory bus' 4 + DRAM's 16 + the line's 8 on the memory bus = 33, and the 3 behind it
    # on the same set follow one a cycle (inclusive cache Scheduler.scala:204-236, the MSHR
    # reloaded back to back): 33 + 3 = 36; the tracker's ceil(16 x (37 + 1) / 16) = 38
    # bounds the issue (memory bus 4 x 8 = 32, MSHRs ceil(4 x 33 / 10) = 14); the last beat
    # 37 (with the system bus' 4) + 4 + 1 later. From the L2: 4 + 5 = 9 to the first beat;
    # the DMA's one request a cycle, 16, bounds the issue (each line's 4 requests on their
    # set 5 + 3 = 8, the tracker's ceil(16 x 10 / 16) = 10): 16 + 9 + 4 + 1.
    lowering, program = gemmini_machine(llc_kib="0")
    dram = lowering.mvin("mvin", DIM, DIM, False, A_ROWS, DIM, FIXED, 0, where=Where(DRAM, DIM))
    l2 = lowering.mvin("mvin", DIM, DIM, False, A_ROWS, DIM, FIXED, 0, where=Where(L2, DIM))
    assert run_block(program, [dram]) == [(0, 38 + 37 + 4 + 1)]
    assert run_block(program, [l2]) == [(0, 16 + 9 + 4 + 1)]


def test_rows_narrower_than_a_line_serialise_on_its_l2_set():
    # A 3-channel input: 16 pixels of 3 bytes, 3 bytes apart, all on one 64-byte line, so
    # on one L2 set. The reader's Gets (G DMA.scala:180-203), over the 64 start offsets a
    # command's first pixel can have: 16-byte Gets of one beat, but a pixel straddling 16
    # or 32 bytes takes a 32- or 64-byte Get (2 or 4 beats), one straddling 64 two Gets:
    # 1,088 Gets and 1,216 beats in all, 17 and 19 a command (rounded up). The line's
    # requests: the first takes the hit pipeline's 5, the rest follow at a beat a cycle
    # (Scheduler.scala:204-236, SourceD.scala:128-140): ceil(16 x 19 / 17) = 18 beats on
    # the line, 5 + 17 = 22 to issue (the bus's 19 beats, the tracker's ceil((17 x 9 +
    # 19) / 16) = 11); the last request's ceil(19 / 17) = 2 beats. The same rows a line
    # apart start aligned: one 16-byte Get each, the DMA's 16.
    lowering, program = gemmini_machine()
    narrow = lowering.mvin("mvin", DIM, 3, False, A_ROWS, DIM, FIXED, 0, where=Where(L2, 3))
    apart = lowering.mvin("mvin", DIM, 3, False, A_ROWS, DIM, FIXED, 0, where=Where(L2, 64))
    assert row_requests(DIM, 3, 3, 64, 16) == (17, 19)
    assert run_block(program, [narrow]) == [(0, 5 + 17 + 9 + 4 + 2)]
    assert run_block(program, [apart]) == [(0, 16 + 9 + 4 + 1)]


def test_the_reader_splits_a_row_as_the_dma_does():
    # G DMA.scala:180-203: the 16-, 32- or 64-byte Get, aligned to its size, covering the
    # most of what is left of the row. Aligned rows: what their bytes say (48 bytes: one
    # 64-byte Get of 4 beats, the one covering all 48). Rows of 64 bytes 16 apart start at
    # offsets 0, 16, 32 and 48 of a 64-byte block: at 0 one 64-byte Get; at 16 a 64-byte
    # Get covers 48, a 16-byte one the rest; at 32 two 32-byte Gets (32 ties 64: the
    # smaller); at 48 a 16-byte Get, then a 64-byte one for 48. 16 rows, 4 at each:
    # 4 x (1 + 2 + 2 + 2) = 28 Gets, 4 x (4 + 5 + 4 + 5) = 72 beats.
    assert row_requests(DIM, 16, 16, 64, 16) == (16, 16)
    assert row_requests(DIM, 48, 64, 64, 16) == (16, 64)
    assert row_requests(1, 64, 0, 64, 16) == (1, 4)
    assert row_requests(DIM, 64, 16, 64, 16) == (28, 72)


def test_load_controller_runs_two_mvins_at_once():
    # LoadController.scala:84: nCmds = 2; the third mvin waits for the first to complete.
    # 4 rows in the L2 behind a slow system bus (100 cycles: reach 105): the reader issues
    # them in ceil(4 x 106 / 16) = 27 cycles, and the first completes at 27 + 105 + 4 + 1.
    lowering, program = gemmini_machine(system_bus_latency="100")
    loads = [
        lowering.mvin("mvin", 4, DIM, False, Affine(k * DIM), 4, FIXED, 0, where=IN_L2)
        for k in range(3)
    ]
    (s0, e0), (s1, _), (s2, _) = run_block(program, loads)
    assert s1 == s0 + 27  # the reader issues the second mvin's requests after the first's
    assert e0 == 27 + 105 + 4 + 1
    assert s2 == e0


def test_preload_and_compute_fire_one_row_per_cycle():
    # ExecuteController.scala:285-302: a preload with weights costs DIM rows; a compute
    # without new weights max(rows_A, 4) rows; the next group fires the cycle after. The
    # first group fires at cycle 1: its compute enters the RS one cycle after its preload
    # (one allocation per cycle, ReservationStation.scala:36).
    lowering, program = gemmini_machine(dram_latency="1")
    first = [
        lowering.preload(B_ROWS, DIM, C_ROWS, DIM, DIM, FIXED, 0),
        lowering.compute("compute_preloaded", A_ROWS, DIM, C_ROWS, DIM, DIM, FIXED),
    ]
    small = [
        lowering.preload(None, DIM, Affine(DIM), 2, 4, FIXED, 0),
        lowering.compute("compute_accumulated", Affine(DIM), 2, Affine(DIM), 2, 4, FIXED),
    ]
    after = [
        lowering.preload(None, DIM, Affine(2 * DIM), DIM, DIM, FIXED, 0),
        lowering.compute(
            "compute_accumulated", Affine(2 * DIM), DIM, Affine(2 * DIM), DIM, DIM, FIXED
        ),
    ]
    times = run_block(program, first + small + after)
    starts = [start for start, _ in times]
    assert starts == [0, 1, 1 + DIM, 1 + DIM, 1 + DIM + 4, 1 + DIM + 4]
    # The last row of a group lands in the accumulator the execute unit's latency later:
    # SRAM read 2 + input buffer 1 + skew and mesh 2*DIM - 1 + output delay 1 + acc write 2.
    assert times[1][1] == 1 + DIM - 1 + 3 + 2 * DIM - 1 + 1 + 2


def test_compute_waits_for_the_mvin_of_its_rows_across_controllers():
    # ReservationStation.scala:340-342: an ex command overlapping an older mvin's
    # destination waits for that mvin to complete (RAW across queues).
    lowering, program = gemmini_machine()
    mvin = lowering.mvin("mvin", DIM, DIM, False, A_ROWS, DIM, FIXED, 0)
    pre = lowering.preload(None, DIM, C_ROWS, DIM, DIM, FIXED, 0)
    com = lowering.compute("compute_preloaded", A_ROWS, DIM, C_ROWS, DIM, DIM, FIXED)
    (_, mvin_end), (pre_start, _), (com_start, _) = run_block(program, [mvin, pre, com])
    # The execute stream issues its first command at 0, beside the load stream's mvin
    # (each unroller stream has its own front end), and the preload touches no loaded row.
    assert pre_start == 0
    assert com_start == mvin_end
    # Rows the mvin did not write do not wait: the compute starts at its issue, the
    # execute stream's second cycle.
    other = lowering.compute("compute_preloaded", Affine(4 * DIM), DIM, C_ROWS, DIM, DIM, FIXED)
    assert run_block(program, [mvin, pre, other])[2][0] == 1


def test_mvin_waits_for_computes_still_reading_its_rows():
    # ReservationStation.scala:331-333: an mvin over rows an older compute reads waits
    # until that compute completes, i.e. has fed its rows (WAR across queues).
    lowering, program = gemmini_machine()
    pre = lowering.preload(None, DIM, C_ROWS, DIM, DIM, FIXED, 0)
    com = lowering.compute("compute_preloaded", A_ROWS, DIM, C_ROWS, DIM, DIM, FIXED)
    # The next tile's load (the other scratchpad half: no loop to wait for).
    mvin = lowering.mvin("mvin", DIM, DIM, False, A_ROWS, DIM, FIXED, 1)
    (_, _), (com_start, _), (mvin_start, _) = run_block(program, [pre, com, mvin])
    assert mvin_start == com_start + DIM


def test_mvout_waits_for_outputs_and_mvouts_are_serialized():
    # ReservationStation.scala:364-378: an mvout waits for the preload (and so the compute
    # outputs) writing its accumulator rows, and for every older mvout to complete.
    lowering, program = gemmini_machine()
    pre = lowering.preload(None, DIM, C_ROWS, DIM, DIM, FIXED, 0)
    com = lowering.compute("compute_preloaded", A_ROWS, DIM, C_ROWS, DIM, DIM, FIXED)
    out1 = lowering.mvout(C_ROWS, DIM, FIXED, DIM)
    out2 = lowering.mvout(Affine(4 * DIM), DIM, FIXED, DIM)
    _, (_, com_end), (o1_start, o1_end), (o2_start, _) = run_block(program, [pre, com, out1, out2])
    assert o1_start == com_end
    assert o2_start == o1_end


def test_a_full_execute_queue_holds_back_the_next_pair():
    # ReservationStation entries (Configs.scala:56-58): with 2 ex entries, one preload +
    # compute pair fits; the next preload starts only when the first one completes.
    lowering, program = gemmini_machine(rs_ex_entries="2", mesh_tags="8")
    pairs = []
    for k in range(2):
        pairs += [
            lowering.preload(None, DIM, Affine(k * DIM), DIM, DIM, FIXED, 0),
            lowering.compute(
                "compute_preloaded", Affine(k * DIM), DIM, Affine(k * DIM), DIM, DIM, FIXED
            ),
        ]
    times = run_block(program, pairs)
    assert times[2][0] == times[0][1]
    # With the default 16 entries the second pair follows the first at once.
    lowering, program = gemmini_machine()
    assert run_block(program, pairs)[2][0] == 1 + DIM


def _small_pairs(count: int) -> list:
    """`count` pairs of a preload without weights and a 4-row compute, each pair on rows of
    its own (no hazard between pairs), on the default Gemmini."""
    lowering, _ = gemmini_machine()
    pairs = []
    for k in range(count):
        rows = Affine(k * DIM)
        pairs += [
            lowering.preload(None, DIM, rows, 4, 4, FIXED, 0),
            lowering.compute("compute_accumulated", rows, 4, rows, 4, 4, FIXED),
        ]
    return pairs


def test_the_mesh_holds_six_matmuls_at_once():
    # MeshWithDelays.scala:48-56: mesh_tags = 6 by default; a compute holds a tag from its
    # first row to its last output row, i.e. for its latency: 4 rows - 1 + the execute
    # latency 3 + 2*16 - 1 + 1 + 2 = 37, so 40 cycles. The front end issues one command
    # per cycle; a preload without weights has occupancy 0 (it fires with its compute),
    # so unhindered the execute unit starts pair 0's compute at 1 (its issue cycle) and
    # pair k's preload and compute at 1 + 4k, one 4-row group after the other. Compute 6
    # would start at 25 but needs compute 0's tag, free at 1 + 40 = 41; its preload holds
    # an execute entry (8 of them), not a tag, and starts at 25. Pair 7 then waits for
    # the unit, busy with compute 6's rows until 45, when compute 1's tag (5 + 40) is free.
    # fast == full and the reference evaluator both read the queue sizes the lowering
    # writes into the program, so only a worked case like this one sees a wrong size.
    _, program = gemmini_machine()
    pairs = _small_pairs(8)
    starts = [0, 1] + [1 + 4 * k for k in range(1, 6) for _ in range(2)] + [25, 41, 45, 45]
    assert run_block(program, pairs) == [(start, start + 40) for start in starts]


def test_the_execute_queue_holds_half_the_rs_execute_entries():
    # Configs.scala:56-58: 16 ex entries, and a preload and its compute take one each, so 8
    # pairs are in flight; a preload holds its entry until its compute's outputs leave the
    # mesh (latency 40 for a 4-row group, as above). With tags enough for the mesh not to
    # bind, preload k starts at 1 + 4k (k >= 1) until preload 8, which would start at 33
    # but needs preload 0's entry, free at 0 + 40; its compute fires with it.
    _, program = gemmini_machine(mesh_tags="64")
    pairs = _small_pairs(9)
    starts = [0, 1] + [1 + 4 * k for k in range(1, 8) for _ in range(2)] + [40, 40]
    assert run_block(program, pairs) == [(start, start + 40) for start in starts]


def test_execute_has_no_address_check_within_its_own_queue():
    # Two computes accumulating into the same rows are pipelined: the RS orders ex
    # commands among themselves without comparing addresses (ReservationStation.scala:344).
    lowering, program = gemmini_machine()
    pair = [
        lowering.preload(None, DIM, C_ROWS, DIM, DIM, FIXED, 0),
        lowering.compute("compute_preloaded", A_ROWS, DIM, C_ROWS, DIM, DIM, FIXED),
    ]
    times = run_block(program, pair + pair)
    assert times[3][0] == times[1][0] + DIM


def test_a_pooled_mvout_reads_every_window_element():
    # StoreController.scala:59-82: with pooling, the store walks porows x pocols x
    # pool_size^2 accumulator rows (one per cycle at best) and writes porows x pocols.
    # Rows in the L2, so the scale pipeline, not the memory, sets the rate.
    lowering, program = gemmini_machine(dram_latency="1")
    plain = lowering.mvout(C_ROWS, DIM, FIXED, DIM, where=IN_L2)
    pooled = lowering.mvout(C_ROWS, DIM, FIXED, DIM, reads=9 * DIM, where=IN_L2)
    [(_, plain_end)] = run_block(program, [plain])
    [(_, pooled_end)] = run_block(program, [pooled])
    assert pooled_end - plain_end == 8 * DIM * 2  # 2 cycles per accumulator row read


@settings(max_examples=examples(60))
@given(
    size=st.integers(3, 20),
    channels=st.integers(1, 70),
    out_channels=st.integers(1, 70),
    kernel=st.sampled_from([1, 3]),
    stride=st.integers(1, 2),
    batch=st.integers(1, 3),
    depthwise=st.booleans(),
    # Fast mode skips whole groups of tiles that repeat (isa/gemmini/streams.py, layer_root),
    # once the pipeline has settled, some tens of groups in: layers of many equal tiles, a
    # depthwise conv of many channels and a matmul of many rows, reach it.
    long_channels=st.integers(64, 256),
    long_size=st.integers(6, 32),
    long_rows=st.integers(1024, 4096),
    params=st.fixed_dictionaries(
        {
            **GEMMINI_MEMORY_PARAMS,
            **GEMMINI_CALL_PARAMS,
            "rs_ex_entries": st.sampled_from(["2", "16"]),
            "load_inflight": st.sampled_from(["1", "2", "4"]),
            "mesh_tags": st.sampled_from(["1", "6"]),
        }
    ),
)
def _random_layers_fast_equals_full(
    tally,
    size,
    channels,
    out_channels,
    kernel,
    stride,
    batch,
    depthwise,
    long_channels,
    long_size,
    long_rows,
    params,
):
    groups = channels if depthwise else 1
    layers = (
        Conv2d(
            "conv",
            channels,
            channels if depthwise else out_channels,
            size,
            size,
            kernel,
            kernel,
            stride=stride,
            padding=kernel // 2,
            groups=groups,
            batch=batch,
        ),
        Conv2d(
            "depthwise",
            long_channels,
            long_channels,
            long_size,
            long_size,
            kernel,
            kernel,
            stride=stride,
            padding=kernel // 2,
            groups=long_channels,
        ),
        Dense("fc", channels, out_channels, rows=size * batch),
        Dense("long fc", channels, out_channels, rows=long_rows),
    )
    program = lower(find_accelerator("gemmini").resolve(params), Model("m", layers))
    tally.record(check_fast_equals_full(program))


@pytest.mark.parametrize("sampling", SAMPLINGS)
def test_random_convs_and_matmuls_fast_equals_full(sampling, monkeypatch):
    check_reaches_fast_path(_random_layers_fast_equals_full, sampling, monkeypatch)


def test_a_skipped_tile_loop_keys_which_front_ends_may_still_issue():
    # Shrunk from the random property above, which found frontends.live-mask-not-keyed
    # (the signature without its mask of front ends that may still issue) in some draws:
    # this depthwise conv's tile loop (32 trips) repeats from its second boundary, and
    # without the mask its restore leaves the other live front ends behind: one cycle short.
    params = {
        "dim": "4", "scratchpad_kib": "16", "accumulator_kib": "16", "dram_latency": "1",
        "l2_kib": "0", "llc_kib": "0", "cache_at_start": "empty", "conv_1x1": "matmul",
        "first_layer_optimizations": "true", "bias": "true", "rs_ex_entries": "2",
        "load_inflight": "1", "mesh_tags": "1",
    }  # fmt: skip
    depthwise = Conv2d("depthwise", 65, 65, 8, 8, 1, 1, groups=65)
    program = lower(find_accelerator("gemmini").resolve(params), Model("m", (depthwise,)))
    [fast] = Evaluation(program, "fast", reuse_layers=False).run()
    [full] = evaluate_program(program, "full")
    assert fast.cycles == full.cycles == reference_cycles(program, program.layers[0])
    assert fast.evaluated_instructions * 5 < fast.instructions * 3  # the tile loop skipped


@pytest.mark.slow
def test_every_resnet50_layer_fast_equals_full():
    # Reduced form (default, CI): batch 1; ACCPERF_FULL=1 adds batch 4.
    batches = (1, 4) if os.environ.get("ACCPERF_FULL") == "1" else (1,)
    for batch in batches:
        program = lower_model("gemmini", {}, "resnet50", batch=batch)
        fast_mode = Evaluation(program, "fast", reuse_layers=False)
        full_mode = Evaluation(program, "full")
        for layer in program.layers:
            fast, full = fast_mode.layer(layer), full_mode.layer(layer)
            assert fast.cycles == full.cycles, layer.name


def test_lower_and_analyze_gemmini_from_the_command_line(tmp_path, capsys):
    from tracer.cli import main

    argv = ["lower", "--accelerator", "gemmini", "--model", "resnet18", "--batch", "2"]
    assert main([*argv, "--param", "dim=32", "-o", str(tmp_path)]) == 0
    trace = capsys.readouterr().out.strip().splitlines()[-1]
    assert main(["analyze", trace, "--json", str(tmp_path / "r.json")]) == 0
    report = json.loads((tmp_path / "r.json").read_text())
    placements = {entry["name"]: entry["placement"] for entry in report["layers"]}
    assert placements["maxpool"] == "fused" and placements["conv1"] == "accelerator"
    assert all("busiest_unit" in e for e in report["layers"] if e["placement"] == "accelerator")


def test_a_memory_too_small_for_the_librarys_tile_is_one_clear_error(tmp_path, capsys):
    from tracer.cli import main

    argv = ["lower", "--accelerator", "gemmini", "--model", "resnet18", "-o", str(tmp_path)]
    small = ["--param", "dim=128", "--param", "scratchpad_kib=16", "--param", "accumulator_kib=4"]
    assert main([*argv, *small]) == 2
    err = capsys.readouterr().err
    assert "layer 'conv1' on gemmini" in err and "scratchpad_kib" in err
    assert "Traceback" not in err
    assert not any(tmp_path.iterdir())  # nothing written


def test_config_ex_waits_for_the_mesh_to_drain():
    # ExecuteController.scala:541,579: config_ex is taken only with no matmul in flight,
    # so it starts when the last row of the previous compute has left the mesh.
    lowering, program = gemmini_machine()
    pre = lowering.preload(None, DIM, C_ROWS, DIM, DIM, FIXED, 0)
    com = lowering.compute("compute_preloaded", A_ROWS, DIM, C_ROWS, DIM, DIM, FIXED)
    _, (_, com_end), (config_start, _) = run_block(program, [pre, com, lowering.config("execute")])
    assert config_start == com_end
    # config_ld, the load stream's first command, neither waits for the mesh nor for the
    # execute stream's commands before it in program order: it starts at 0.
    _, _, (ld_start, _) = run_block(program, [pre, com, lowering.config("load")])
    assert ld_start == 0


def test_an_instruction_longer_than_the_analyzer_takes_is_one_clear_error():
    accelerator = find_accelerator("gemmini").resolve(
        {"dram_latency": "70000", "max_in_flight_reqs": "1"}
    )
    with pytest.raises(DescriptionError, match="lower --param dram_latency"):
        lower(accelerator, Model("m", (Dense("fc", 64, 64),)))


def test_a_weight_step_costs_the_rtls_mesh_rows():
    # ExecuteController.scala:285-302,600 (mul_pre): in a weight step the last compute
    # fires with the next step's weights (DIM rows) and every other compute with the next
    # preload, max(rows, 4) each. A 20x20 output in blocks of 16 and 4 columns: per step
    # DIM + 20 rows x (16 + 4) - the last block's 4 = 412 rows; 9 steps (3x3 kernel), plus
    # one cycle of config_ex.
    accelerator = find_accelerator("gemmini").resolve()
    program = lower(accelerator, Model("m", (Conv2d("c", 16, 16, 20, 20, 3, 3, padding=1),)))
    assert program.layers[0].mapping["tiles"] == 1
    busy = sum(
        t.occupancy
        for block_id, _ in iterate_blocks(program.layers[0].root)
        for t in program.blocks[block_id].templates
        if t.unit == "execute"
    )
    assert busy == 9 * (DIM + 20 * (16 + 4) - 4) + 1


@pytest.mark.parametrize(("dim", "blocks"), [("8", 8), ("16", 4), ("32", 2)])
def test_an_mvin_spans_dma_maxbytes_of_columns(dim, blocks):
    # LoopMatmul.scala:898 / LoopConv.scala:266: max_block_len = dma_maxbytes / DIM int8
    # columns blocks (64 bytes: 4 blocks of 16). A 1x1 conv with 256 input channels as a
    # matmul over 8 pixels: each input mvin loads `blocks` channel blocks of DIM columns.
    accelerator = find_accelerator("gemmini").resolve({"dim": dim})
    program = lower(accelerator, Model("m", (Dense("fc", 256, 16, rows=8),)))
    widths = {
        t.marks[0].count
        for block in program.blocks
        for t in block.templates
        if t.opcode == "mvin" and t.marks[0].space == "spad_loaded"
    }
    # An mvin of b blocks of 8 pixel rows covers (b - 1) * (rows between blocks) + 8 rows;
    # the inputs' blocks are 8 rows apart (one row per pixel), so b * 8 rows.
    assert widths == {blocks * 8}


@pytest.mark.parametrize(
    ("layer", "params"),
    [
        (Conv2d("conv", 12, 20, 6, 6, 3, 3, padding=1), {}),
        (Conv2d("conv", 12, 20, 6, 6, 3, 3, padding=1), {"bias": "false"}),
        (Conv2d("first", 3, 8, 9, 9, 3, 3, stride=2, padding=1), {}),
        (
            Conv2d("first", 3, 8, 9, 9, 3, 3, stride=2, padding=1),
            {"first_layer_optimizations": "false"},
        ),
        (Dense("fc", 40, 40, rows=24), {}),
        (Dense("fc", 40, 40, rows=24), {"bias": "false"}),
        (Conv2d("downsample", 12, 20, 8, 8, 1, 1, stride=2), {"conv_1x1": "conv"}),
    ],
)
def test_small_layers_agree_with_the_reference_evaluator(layer, params):
    # tests/reference.py applies the timing rules one instruction at a time in plain
    # Python; the kernel must give the same cycles on real Gemmini programs too.
    params = {"dim": "8", "dram_latency": "20", **params}
    accelerator = find_accelerator("gemmini").resolve(params)
    program = lower(accelerator, Model("m", (layer,)))
    full = evaluate_program(program, "full")[0]
    assert full.cycles == reference_cycles(program, program.layers[0])


def test_the_program_flushes_the_tlb_before_its_first_layer():
    # imagenet/resnet50.c L22 issues gemmini_flush(0) first; the RoCC front end takes it
    # in one cycle without an RS entry (Controller.scala:488-494). Two equal layers: the
    # first carries the flush, so it takes exactly one cycle more (every later command
    # issues a cycle later, and the rules are invariant under a shift in time).
    program = lower(
        find_accelerator("gemmini").resolve(),
        Model("m", (Dense("a", 64, 64, rows=32), Dense("b", 64, 64, rows=32))),
    )
    first, second = program.layers
    opcodes = [program.blocks[block].templates[0].opcode for block, _ in iterate_blocks(first.root)]
    assert opcodes[0] == "flush" and "flush" not in opcodes[1:]
    cycles = [r.cycles for r in evaluate_program(program, "full")]
    assert cycles[0] == cycles[1] + 1


def test_a_third_loop_waits_for_the_first_to_retire():
    # The unrollers hold two loops; the loads of tile t + 2 (the same scratchpad half as
    # tile t) start only when tile t retired: each of its streams has issued its last
    # command (G LoopConv.scala:1253,1501-1519). Its store stream of 5 mvouts (serialized,
    # 4 RS entries) issues the last when the first completes, i.e. when the second starts.
    lowering, program = gemmini_machine()
    stores = [lowering.mvout(Affine(k * DIM), DIM, FIXED, DIM) for k in range(5)]
    done = lowering.stream_done("store", 0)
    later = lowering.mvin("mvin", DIM, DIM, False, Affine(16 * DIM), DIM, FIXED, 0)
    beside = lowering.mvin("mvin", DIM, DIM, False, Affine(16 * DIM), DIM, FIXED, 1)
    times = run_block(program, [*stores, done, later])
    assert times[1][0] == times[0][1] > 0  # mvouts one after another
    assert times[6][0] == times[1][0]  # the loads wait for the last mvout's issue
    assert run_block(program, [*stores, done, beside])[6][0] == 0  # the other half: at once


def test_a_tiles_computes_wait_for_its_loads_to_be_issued_not_done():
    # The execute machine starts a loop's computes once the loop's load machines are idle,
    # i.e. have issued every load (G LoopConv.scala:723,1266-1268), not once the loads
    # started or completed: the tile's weights preload waits for the load stream's
    # ld_stream_done, here its 4th bundle (the three mvins issue at 0, 1, 2).
    lowering, program = gemmini_machine()
    loads = [
        lowering.mvin("mvin", DIM, DIM, False, Affine(k * DIM), DIM, FIXED, 0) for k in range(3)
    ]
    done = lowering.stream_done("load", 0)
    weights = Affine(8 * DIM)  # rows no mvin here writes: only the token holds it
    pre = lowering.preload(weights, DIM, C_ROWS, DIM, DIM, FIXED, 0)
    times = run_block(program, [*loads, done, pre])
    assert times[3] == (3, 3)  # the marker: issued after the last mvin, no time
    assert times[4][0] == 3
    assert times[2][0] > 3  # the last mvin itself starts later (the load unit is busy)
