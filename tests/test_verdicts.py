"""The report's verdicts checked exactly: each bound label on a program worked by hand,
utilisation, and the JSON report's fields and types against docs/report-json.md."""

from __future__ import annotations

import json
import re
from dataclasses import replace
from pathlib import Path

import pytest
from rich.console import Console

from accelerators.catalog import find_accelerator
from analyzer.engine.evaluate import evaluate_program
from analyzer.report import bound_text, idle_instances, print_table, utilization
from isa.program import Block, BlockRef, Loop, Program
from tests.builders import instr, machine_program, op, program
from tests.doc_tables import markdown_tables, printed_rows, read_doc, unquote
from tracer.cli import main
from tracer.lowering import lower_workload
from tracer.workloads.layers import Conv2d, Dense, Model


def _verdict(prog: Program, recurrence: bool = False) -> tuple[str, str, int, int]:
    """(bound label, busiest unit, its bound in cycles, the layer's cycles)."""
    [result] = evaluate_program(prog, "full", recurrence=recurrence)
    return bound_text(result, prog), result.bound.unit, result.bound.busy_cycles, result.cycles


def _queued(field: str, entries: int, count: int, latency: int) -> Program:
    """`count` one-instruction bundles on alu[0..], each holding queue q for `latency`."""
    templates = [replace(instr(instance=i, latency=latency), **{field: "q"}) for i in range(count)]
    return replace(program(templates), queues={"q": entries})


# Each case: the program, its bound label, the busiest resource and its bound in cycles,
# and the layer's cycles, all worked by hand. program() issues up to 64 bundles per cycle
# into a window of 1,024, on 4 alu instances, so only what each case sets binds.
LABELS = {
    # Ten independent instructions on alu[0] (occupancy 1, latency 1) start at 0..9 and
    # end at 10: alu[0] is busy for all 10 cycles; alu[1..3] run nothing.
    "unit": (
        program([instr()], trips=10),
        "alu-bound (busiest alu[0] 100%; 3 of 4 alu idle)",
        "alu",
        10,
        10,
    ),
    # Nine on alu[0], the last with latency 2: it starts at 8 and ends at 10; alu[0] is busy
    # 9 of 10 cycles, just the 90% that makes a unit the bound ...
    "unit at 90%": (
        program([instr(latency=2 if i == 8 else 1) for i in range(9)]),
        "alu-bound (busiest alu[0] 90%; 3 of 4 alu idle)",
        "alu",
        9,
        10,
    ),
    # ... and with latency 3 the layer takes 11 cycles: 9 / 11 = 82%, latency bound.
    "unit below 90%": (
        program([instr(latency=3 if i == 8 else 1) for i in range(9)]),
        "latency-bound (busiest alu[0] 82%; 3 of 4 alu idle)",
        "alu",
        9,
        11,
    ),
    # One bundle per cycle, 12 one-instruction bundles spread over alu[0..3]: they issue
    # and start at 0..11, the last ends at 12. The front end needs ceil(12 / 1) - 1 cycles
    # to issue the last one, which then takes its latency 1: 12, while no alu is busy for
    # more than 3.
    "frontend": (
        program([instr(instance=i) for i in range(4)], trips=3, width=1),
        "frontend-bound (busiest frontend 100%)",
        "frontend",
        12,
        12,
    ),
    # Two bundles per cycle, 9 one-instruction bundles over alu[0..2]: bundles 2c and 2c + 1
    # issue and start at cycle c, the 9th alone at 4 and ends at 5; each alu runs 3 of
    # them (busy 3). The front end's bound counts the part-filled last cycle:
    # ceil(9 / 2) - 1 + latency 1 = 5, all of the layer's cycles (9 // 2 would say 4 = 80%).
    "frontend, last cycle part-filled": (
        program([instr(instance=i) for i in range(3)], trips=3, width=2),
        "frontend-bound (busiest frontend 100%)",
        "frontend",
        5,
        5,
    ),
    # The same with a front-end delay of 2: the bundles issue at 0..11 and start 2 later,
    # the last ends at 14 = ceil(12 / 1) - 1 + delay 2 + latency 1.
    "frontend with a delay": (
        program([instr(instance=i) for i in range(4)], trips=3, width=1, delay=2),
        "frontend-bound (busiest frontend 100%)",
        "frontend",
        14,
        14,
    ),
    # With latency 0 the last bundle ends as it starts, at 11 = ceil(12 / 1) - 1 + 0.
    "frontend with latency 0": (
        program([instr(instance=i, latency=0) for i in range(4)], trips=3, width=1),
        "frontend-bound (busiest frontend 100%)",
        "frontend",
        11,
        11,
    ),
    # Five instructions on mul[1], the second kind's second instance: they start at 0..4
    # and end at 5. Its index counts within its kind (after alu's 4 instances).
    "second unit kind": (
        program([instr(unit="mul", instance=1)], trips=5, units={"alu": 4, "mul": 2}),
        "mul-bound (busiest mul[1] 100%; 1 of 2 mul idle)",
        "mul",
        5,
        5,
    ),
    # Four instructions of latency 5 on alu[0..3] share queue q of one entry: they run
    # one after another, 0-5, 5-10, 10-15, 15-20. The queue's bound: 4 x 5 / 1 entry = 20.
    "queue": (
        _queued("queue", 1, 4, 5),
        "q queue-bound (busiest q queue 100%)",
        "q queue",
        20,
        20,
    ),
    # The same with an issue queue: the front end waits to issue each instruction until the
    # previous one ends; the same times, the same bound.
    "issue queue": (
        _queued("issue_queue", 1, 4, 5),
        "q queue-bound (busiest q queue 100%)",
        "q queue",
        20,
        20,
    ),
    # A chain: A (alu[0], latency 10) writes r0, B (alu[1]) reads it: 0-10, then 10-11.
    # Each alu is busy 1 cycle of 11 (9%; the first of equals is named), the front end's
    # bound is 0 + latency 1.
    "latency": (
        program(
            [
                instr(latency=10, writes=(op("r", 0),)),
                instr(instance=1, reads=(op("r", 0),), bundle_start=False),
            ]
        ),
        "latency-bound (busiest alu[0] 9%; 2 of 4 alu idle)",
        "alu",
        1,
        11,
    ),
    # A kind of one instance is named without an index: "alu", not "alu[0]".
    "one instance": (
        program([instr()], trips=10, units={"alu": 1}),
        "alu-bound (busiest alu 100%)",
        "alu",
        10,
        10,
    ),
    # Ties go to the unit. Twelve instructions on alu[0], one bundle per cycle: they issue
    # and start at 0..11 and end at 12; alu[0] is busy 12 cycles and the front end's bound
    # is ceil(12 / 1) - 1 + latency 1 = 12 too.
    "unit ties the front end": (
        program([instr()], trips=12, width=1),
        "alu-bound (busiest alu[0] 100%; 3 of 4 alu idle)",
        "alu",
        12,
        12,
    ),
    # Four instructions on alu[0] of latency and occupancy 5 holding queue q of one entry:
    # 0-5, 5-10, 10-15, 15-20. alu[0] is busy 20 cycles, the queue's bound 4 x 5 / 1 = 20.
    "unit ties a queue": (
        replace(
            program([replace(instr(latency=5, occupancy=5), queue="q")], trips=4),
            queues={"q": 1},
        ),
        "alu-bound (busiest alu[0] 100%; 3 of 4 alu idle)",
        "alu",
        20,
        20,
    ),
    # A loop of no trips runs nothing: no unit is busiest, and none is idle.
    "nothing runs": (
        program([instr()], trips=0),
        "latency-bound (busiest - 0%)",
        "-",
        0,
        0,
    ),
}


@pytest.mark.parametrize("case", LABELS, ids=list(LABELS))
def test_bound_labels_worked_by_hand(case):
    prog, label, unit, busy, cycles = LABELS[case]
    assert _verdict(prog) == (label, unit, busy, cycles)


def test_recurrence_labels_worked_by_hand():
    # r0 += ... with latency 3: each iteration waits for the previous one's write, so
    # iteration k runs 3k..3k+3. The loop-carried cycle is 3 cycles per iteration; over n
    # iterations it forces (n - 1) x 3 cycles (analyzer/engine/bounds.py: a visit of n
    # iterations holds n - 1 turns of a one-iteration cycle), against alu[0]'s n.
    block = [instr(latency=3, reads=(op("r", 0),), writes=(op("r", 0),))]
    # 20 iterations: 60 cycles, recurrence 57 = 95%.
    assert _verdict(program(block, trips=20), recurrence=True) == (
        "recurrence-bound (loop recurrence 3 cycles/iteration 95%)",
        "alu",
        20,
        60,
    )
    # 3 iterations: 9 cycles, recurrence 6 = 67%: latency bound, the recurrence named.
    assert _verdict(program(block, trips=3), recurrence=True)[0] == (
        "latency-bound (loop recurrence 3 cycles/iteration 67%)"
    )
    # 10 iterations: 30 cycles, recurrence 27 = exactly 90%, the share that names it.
    assert _verdict(program(block, trips=10), recurrence=True)[0] == (
        "recurrence-bound (loop recurrence 3 cycles/iteration 90%)"
    )
    # Without --recurrence the resource bound speaks: alu[0] is busy 20 of 60 cycles.
    assert _verdict(program(block, trips=20))[0] == (
        "latency-bound (busiest alu[0] 33%; 3 of 4 alu idle)"
    )


def test_recurrence_ties_and_loops_without_a_turn_leave_the_resource_bound():
    # r0 += ... with latency 2 over 2 iterations: 0-2, 2-4. The recurrence bound,
    # (2 - 1) x 2 = 2 cycles, ties alu[0]'s 2 busy cycles: the resource bound is named.
    block = [instr(latency=2, reads=(op("r", 0),), writes=(op("r", 0),))]
    assert _verdict(program(block, trips=2), recurrence=True) == (
        "latency-bound (busiest alu[0] 50%; 3 of 4 alu idle)",
        "alu",
        2,
        4,
    )
    # One iteration holds no turn of the cycle: its bound is 0 and no loop is named (the
    # JSON report's recurrence_loop and recurrence_cycles_per_iteration stay null).
    [result] = evaluate_program(program(block, trips=1), "full", recurrence=True)
    bound = result.bound
    assert (bound.recurrence_cycles, bound.recurrence_loop, bound.recurrence_ratio) == (0, "", None)


def test_the_recurrence_names_the_largest_bound_and_the_first_of_equals():
    # r0 += ... (latency 2) and r1 += ... (latency 3) on alu 0 and 1: one-iteration cycles
    # of 2 and 3 cycles. In "outer" (4 trips), "a" repeats the first 3 times: 4 visits of
    # (3 - 1) x 2 = 16 cycles; "b" and "c" the second: 4 x (3 - 1) x 3 = 24 each. "b" is
    # named, the first of the two largest. A root that repeats a block once holds no turn
    # of its cycle and names no loop.
    blocks = (
        Block("two", (instr(latency=2, reads=(op("r", 0),), writes=(op("r", 0),)),)),
        Block("three", (instr(instance=1, latency=3, reads=(op("r", 1),), writes=(op("r", 1),)),)),
    )
    inner = (
        Loop("a", 3, (BlockRef(0),)),
        Loop("b", 3, (BlockRef(1),)),
        Loop("c", 3, (BlockRef(1),)),
    )
    for root, expected in (
        (Loop("layer", 1, (Loop("outer", 4, inner),)), (24, "b", 3)),
        (Loop("layer", 1, (BlockRef(0),)), (0, "", None)),
    ):
        prog = machine_program(blocks, root, units={"alu": 2}, spaces={"r": 4})
        [result] = evaluate_program(prog, "full", recurrence=True)
        bound = result.bound
        assert (bound.recurrence_cycles, bound.recurrence_loop, bound.recurrence_ratio) == expected


def test_the_front_end_bound_ends_with_the_shortest_latency_of_the_layer():
    # Block 1 (one instruction of latency 5 on alu[0]) runs once, then block 0 (four
    # one-instruction bundles on alu[0..3], latency 1 but 2 on alu[1]) three times, one
    # bundle per cycle: the 13 bundles issue at 0..12, the last ends at 13 (alu[1]'s last
    # at 12). The front end's bound is ceil(13 / 1) - 1 + the shortest latency of any
    # instruction, 1 (not of each block's longest, 2): 13 = the cycles.
    base = program([instr(instance=i, latency=2 if i == 1 else 1) for i in range(4)], width=1)
    root = Loop("layer", 1, (Loop("once", 1, (BlockRef(1),)), Loop("loop", 3, (BlockRef(0),))))
    prog = replace(
        base,
        blocks=(*base.blocks, Block("slow", (instr(latency=5),))),
        layers=(replace(base.layers[0], root=root),),
    )
    assert _verdict(prog) == ("frontend-bound (busiest frontend 100%)", "frontend", 13, 13)


def _systolic(layer: Dense, **params: str) -> Program:
    accelerator = find_accelerator("systolic").resolve(params)
    return lower_workload(accelerator, Model("m", (layer,)))


def test_pes_outside_the_mapped_tile_are_named_idle():
    # A depthwise 3x3 conv of 8 channels on a 6x6 input, on a 4 x 4 array, ws: each group
    # is a GEMM of Sr = 9 (the window) over the rows, Sc = 1 (one filter) over the columns
    # and T = 16 outputs. Every PE steps in every fold, but only the 4 x 1 corner ever
    # holds data: 12 of 16 PEs are idle. 8 groups x ceil(9 / 4) = 24 folds of
    # 2R + C + T - 2 = 26 cycles: 624; each PE is busy R + T = 20 cycles a fold: 480 = 77%.
    # pe[0] (row 0, column 0) is the first of the equally busy PEs.
    layer = Conv2d("dw", 8, 8, 6, 6, 3, 3, groups=8)
    prog = _systolic(layer, rows="4", cols="4")
    assert _verdict(prog) == ("latency-bound (busiest pe[0] 77%; 12 of 16 pe idle)", "pe", 480, 624)
    # A dense layer of 2 inputs and 1 output (Sr 2, Sc 1) on a 2 x 3 array: 2 of 6 PEs
    # hold data. On a 2 x 1 array none is idle, and the label says nothing of idle PEs: one
    # fold of 2R + C + T - 2 = 5 cycles, each PE busy R + T = 4 of them.
    dense = Dense("fc", 2, 1, rows=2)
    wide = _systolic(dense, rows="2", cols="3")
    [result] = evaluate_program(wide, "full")
    assert idle_instances(result, wide) == 4
    assert _verdict(_systolic(dense, rows="2", cols="1"))[0] == "latency-bound (busiest pe[0] 80%)"


def test_a_layer_waiting_on_dram_for_half_its_cycles_is_dram_bound():
    # tests/test_memory_side.py works this layer by hand: 121 compute cycles and 164 stall
    # cycles, 164 / 285 = 58%.
    srams = {f"{name}_sram_kib": "1" for name in ("ifmap", "filter", "ofmap")}
    prog = _systolic(Dense("fc", 11, 1, rows=100), rows="11", cols="1", bandwidth="4", **srams)
    assert _verdict(prog)[0] == "DRAM-bound (stalls 58%)"


def _rendered(prog: Program, mode: str = "full") -> dict[str, list[str]]:
    """The report's table as printed, one list of cells per row, by layer name."""
    results = evaluate_program(prog, mode)
    console = Console(record=True, width=300)
    print_table(console, prog, results, mode, 0.0)
    return {row[0]: row for row in printed_rows(console.export_text())}


def test_utilization_is_macs_over_cycles_times_the_peak():
    # A 2 x 1 array (2 PEs) running a dense layer of 2 inputs, 1 output and 2 rows, ws:
    # 2 x 1 x 2 = 4 MACs in 2*2 + 1 + 2 - 2 = 5 cycles (one fold): 4 / (5 x 2) = 40%.
    prog = _systolic(Dense("fc", 2, 1, rows=2), rows="2", cols="1")
    [result] = evaluate_program(prog, "full")
    assert (result.macs, result.cycles) == (4, 5)
    assert utilization(result, prog) == 0.4
    assert _rendered(prog)["fc"][6] == "40%"
    # Gemmini's peak is DIM x DIM MACs per cycle (its roofline), not a unit count.
    gemmini = lower_workload(
        find_accelerator("gemmini").resolve(), Model("m", (Dense("fc", 64, 64),))
    )
    [result] = evaluate_program(gemmini, "full")
    assert utilization(result, gemmini) == 64 * 64 / (result.cycles * 16 * 16)
    # A program whose description names no peak (no roofline, no pe unit): no utilisation.
    hand = program([instr()], trips=4)
    [result] = evaluate_program(hand, "full")
    assert utilization(result, hand) is None
    assert _rendered(hand)["layer"][6] == "-"


# --------------------------------------------------------------------- the JSON schema

JSON_TYPES = {
    bool: "boolean",
    int: "integer",
    float: "number",
    str: "string",
    dict: "object",
    list: "array",
    type(None): "null",
}
REPORT = "The report"
TIMED = 'A layer the accelerator runs (`"placement": "accelerator"`)'
HOST = 'A host or fused layer (`"placement": "host"` or `"fused"`)'
BASELINES = "`baselines` of a layer"
TOTAL = "`total`, the network's actions"
TRAFFIC = "`traffic` of a memory"
ENERGY_TABLE = "`energy_table`"
SYSTOLIC_MAPPING = "`mapping` on the systolic array"
GEMMINI_MAPPING = "`mapping` on Gemmini"
ULTRATRAIL_MAPPING = "`mapping` on UltraTrail"
PLASTICINE_MAPPING = "`mapping` on Plasticine"


def _schema() -> dict[str, dict[str, tuple[set[str], str]]]:
    """docs/report-json.md: per object, field -> (allowed JSON types, when present)."""
    return {
        heading: {
            unquote(row["field"]): (set(row["type"].split(" or ")), row["present"]) for row in rows
        }
        for heading, rows in markdown_tables(read_doc("docs/report-json.md"))
        if rows and "field" in rows[0]
    }


def _check(entry: dict, heading: str, present: set[str]) -> None:
    """`entry` has exactly the documented fields present under `present`, of their types."""
    fields = _schema()[heading]
    expected = {name for name, (_, when) in fields.items() if when in present}
    assert set(entry) == expected, heading
    for name, value in entry.items():
        assert JSON_TYPES[type(value)] in fields[name][0], (heading, name, value)


def test_the_schema_doc_has_a_table_per_object():
    assert set(_schema()) == {
        REPORT,
        TIMED,
        HOST,
        BASELINES,
        TOTAL,
        TRAFFIC,
        ENERGY_TABLE,
        SYSTOLIC_MAPPING,
        GEMMINI_MAPPING,
        ULTRATRAIL_MAPPING,
        PLASTICINE_MAPPING,
    }


def _report(tmp_path: Path, capsys, lower: list[str], analyze: list[str]) -> dict:
    assert main(["lower", *lower, "-o", str(tmp_path)]) == 0
    trace = capsys.readouterr().out.strip().splitlines()[-1]
    out = tmp_path / "report.json"
    assert main(["analyze", trace, *analyze, "--json", str(out)]) == 0
    capsys.readouterr()
    return json.loads(out.read_text())


def _check_report(
    report: dict,
    accelerator: str,
    baselines: bool,
    mapping_heading: str,
    mapped: dict[str, set[str]] | None = None,
) -> None:
    """`mapped`: per layer, the conditions its `lower --mapping` entry adds."""
    always = {"always", "baselines"} if baselines else {"always"}
    if "clock_khz" in report["parameters"]:
        always.add("clock")
    if "energy_table" in report:
        always.add("priced")
    assert "priced" in always  # every built-in family names its datapath widths
    _check(report, REPORT, always)
    _check(report["total"], TOTAL, always)
    for traffic in report["total"]["traffic"].values():
        _check(traffic, TRAFFIC, {"always"})
    if "priced" in always:
        _check(report["energy_table"], ENERGY_TABLE, {"always"})
    parameters = {p.name for p in find_accelerator(accelerator).parameters}
    assert set(report["parameters"]) == parameters
    assert {JSON_TYPES[type(v)] for v in report["parameters"].values()} <= {"integer", "string"}
    # A fused layer's reason names the layer it is fused into ("... fused into conv1's ...").
    fused_into = {
        re.search(r"fused into (\S+)'s", entry["reason"]).group(1)  # type: ignore[union-attr]
        for entry in report["layers"]
        if entry["placement"] == "fused"
    }
    fused_kinds: dict[str, set[str]] = {}
    for entry in report["layers"]:
        if entry["placement"] == "fused":
            into = re.search(r"fused into (\S+)'s", entry["reason"]).group(1)  # type: ignore[union-attr]
            fused_kinds.setdefault(into, set()).add(entry["kind"])
    for entry in report["layers"]:
        if entry["placement"] != "accelerator":
            _check(entry, HOST, {"always"})
            continue
        _check(entry, TIMED, always)
        for traffic in entry["traffic"].values():
            _check(traffic, TRAFFIC, {"always"})
        if baselines:
            _check(entry["baselines"], BASELINES, {"always"})
        conditions = {"always"}
        if accelerator == "systolic" and report["parameters"]["bandwidth"] > 0:
            conditions |= (
                {"bandwidth", "conv+bandwidth"} if entry["kind"] == "conv2d" else {"bandwidth"}
            )
        if accelerator == "gemmini":
            if not entry["mapping"]["library"].startswith(("tiled_resadd", "tiled_global")):
                conditions.add("tiled")
            if entry["name"] in fused_into:
                conditions.add("fused")
        if accelerator == "ultratrail":
            kinds = fused_kinds.get(entry["name"], set())
            conditions |= {"fused"} if kinds else set()
            conditions |= {"residual"} if "add" in kinds else set()
            conditions |= {"pooled"} if "avgpool" in kinds else set()
        conditions |= (mapped or {}).get(entry["name"], set())
        _check(entry["mapping"], mapping_heading, conditions)


def test_systolic_reports_have_exactly_the_documented_fields(tmp_path, capsys):
    # tc_resnet8 at 8 x 8 with a DRAM bandwidth: convolutions (with their im2col geometry),
    # a dense layer, host layers (additions, the pool), recurrence and baselines.
    lower = ["--accelerator", "systolic", "--model", "tc_resnet8"]
    lower += ["--param", "rows=8", "--param", "cols=8", "--param", "bandwidth=10"]
    report = _report(tmp_path, capsys, lower, ["--baselines"])
    _check_report(report, "systolic", True, SYSTOLIC_MAPPING)
    kinds = {(entry["placement"], entry["kind"]) for entry in report["layers"]}
    assert {("accelerator", "conv2d"), ("accelerator", "dense"), ("host", "add")} <= kinds
    assert all(e["recurrence_cycles"] > 0 for e in report["layers"] if e["cycles"])
    # Without baselines and with --no-recurrence: the recurrence fields are null.
    plain = _report(tmp_path / "plain", capsys, lower, ["--no-recurrence"])
    _check_report(plain, "systolic", False, SYSTOLIC_MAPPING)
    timed = [e for e in plain["layers"] if e["placement"] == "accelerator"]
    assert all(e["recurrence_cycles"] is None for e in timed)


def test_gemmini_reports_have_exactly_the_documented_fields(tmp_path, capsys):
    # ResNet-18's conv1 with its max pool fused, the residual addition (tiled_resadd_auto,
    # no tile_fields) of the first block and fc (a tiled matmul).
    layers = "conv1,maxpool,layer1.0.conv1,layer1.0.conv2,layer1.0.add,fc"
    lower = ["--accelerator", "gemmini", "--model", "resnet18", "--layers", layers]
    report = _report(tmp_path, capsys, lower, ["--baselines"])
    _check_report(report, "gemmini", True, GEMMINI_MAPPING)
    placements = {entry["name"]: entry["placement"] for entry in report["layers"]}
    assert placements["maxpool"] == "fused" and placements["layer1.0.add"] == "accelerator"
    assert report["layers"][0]["mapping"]["fused_pool"] == "maxpool"


def test_gemmini_mapped_layers_report_where_their_tiles_came_from(tmp_path, capsys):
    # A mapping file sets a conv's tiles and loop order and fc's tiles (its own order).
    mapping = tmp_path / "mapping.toml"
    mapping.write_text(
        '[layers."layer1.0.conv1"]\n'
        "batches = 1\nporows = 4\npocols = 56\npochs = 32\nkrows = 3\nkcols = 3\nkchs = 32\n"
        'loop_order = "KCRSPQN"\n'
        "[layers.fc]\ntile_I = 1\ntile_J = 8\ntile_K = 16\n"
    )
    lower = ["--accelerator", "gemmini", "--model", "resnet18"]
    lower += ["--layers", "layer1.0.conv1,layer1.0.conv2,fc", "--mapping", str(mapping)]
    report = _report(tmp_path, capsys, lower, [])
    mapped = {"layer1.0.conv1": {"mapped", "ordered"}, "fc": {"mapped"}}
    _check_report(report, "gemmini", False, GEMMINI_MAPPING, mapped)
    by_name = {entry["name"]: entry["mapping"] for entry in report["layers"]}
    assert by_name["layer1.0.conv1"]["tiles_from"] == str(mapping)
    assert by_name["layer1.0.conv1"]["loop_order"] == "KCRSPQN"


def test_plasticine_reports_have_exactly_the_documented_fields(tmp_path, capsys):
    # Each pattern: convolutions and fc as GEMMs (dot; conv1 parallel over M, fc over N),
    # the max pool (fold) and the residual addition (map).
    layers = "conv1,maxpool,layer1.0.conv1,layer1.0.add,fc"
    lower = ["--accelerator", "plasticine", "--model", "resnet18", "--layers", layers]
    report = _report(tmp_path, capsys, lower, ["--baselines"])
    _check_report(report, "plasticine", True, PLASTICINE_MAPPING)
    by_name = {entry["name"]: entry["mapping"] for entry in report["layers"]}
    patterns = {name: (m["pattern"], m["parallel"]) for name, m in by_name.items()}
    assert patterns == {
        "conv1": ("dot", "M"),
        "maxpool": ("fold", "vectors"),
        "layer1.0.conv1": ("dot", "M"),
        "layer1.0.add": ("map", "vectors"),
        "fc": ("dot", "N"),
    }
    for m in by_name.values():
        assert m["steps"] == m["groups"] * m["rounds"] * m["y_steps"]


def test_ultratrail_reports_have_exactly_the_documented_fields(tmp_path, capsys):
    # The last block of tc_resnet8_ut: a conv, the shortcut, conv2 with the residual add
    # and the average pool fused into its output path, and the fully connected layer;
    # UltraTrail declares a clock, so every latency is also given in milliseconds.
    layers = "block3.conv1,block3.shortcut,block3.conv2,block3.add,avgpool,fc"
    lower = ["--accelerator", "ultratrail", "--model", "tc_resnet8_ut", "--layers", layers]
    report = _report(tmp_path, capsys, lower, ["--baselines"])
    _check_report(report, "ultratrail", True, ULTRATRAIL_MAPPING)
    by_name = {entry["name"]: entry for entry in report["layers"]}
    assert by_name["block3.conv2"]["mapping"]["fused"] == "block3.add, avgpool"
    assert report["total_milliseconds"] == report["total_cycles"] / 250
    assert all(
        e["baselines"]["analytical_cycles"] is not None
        for e in report["layers"]
        if e["placement"] == "accelerator"
    )
