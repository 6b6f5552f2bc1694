"""Golden numbers: the figures README.md and docs/ state are computed here and must equal
the text, so a change that moves one fails until the docs say the new figure (a decision
made on purpose). Cycles, MACs, instruction and layer counts and error percentages are
golden; run times in seconds and how much of a layer fast mode evaluated are not.

The whole-network figures take seconds each; the slow ones run reduced by default and in
full with ACCPERF_FULL=1, as tests/test_exactness_resnet50.py does."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections import Counter

import pytest
from rich.console import Console

from analyzer.crosscheck.baselines import ultratrail_analytical
from analyzer.engine.evaluate import LayerResult, evaluate_program
from analyzer.report import print_table
from isa.program import Program
from tests.doc_tables import ROOT, markdown_tables, printed_rows, read_doc, table_under, unquote
from tracer.lowering import lower_model
from tracer.workloads.zoo import MODELS, build_model

FULL = os.environ.get("ACCPERF_FULL") == "1"
EVALUATED_ITER = 5  # the report table's "evaluated iter" column: how fast mode got there


def figure(text: str, pattern: str) -> tuple[str, ...]:
    """The groups of `pattern`'s one match in `text`, its line breaks and runs of spaces
    read as single spaces (a figure that vanished fails)."""
    matches = re.findall(pattern, " ".join(text.split()))
    assert len(matches) == 1, (pattern, matches)
    return matches[0] if isinstance(matches[0], tuple) else (matches[0],)


def number(text: str) -> int:
    return int(text.replace(",", ""))


def analyze(program: Program) -> list[LayerResult]:
    """Fast evaluation as `accperf-trace analyze` runs it (equal loop programs reused, the
    recurrence bound on)."""
    return evaluate_program(program, "fast", recurrence=True)


def rendered(program: Program, results: list[LayerResult]) -> str:
    console = Console(record=True, width=300)
    print_table(console, program, results, "fast", 0.0)
    return console.export_text()


def check_printed_rows(readme_block: str, printed: str) -> int:
    """Every row of a table printed in the README equals the row analyze prints now, but
    for the evaluated-iterations column; a reason the README cut short ("...") is a
    prefix. Returns how many rows were compared."""
    now = {row[0]: row for row in printed_rows(printed)}
    compared = 0
    for row in printed_rows(readme_block):
        if row[0] == "...":
            continue
        current = now[row[0]]
        assert len(row) == len(current), row[0]
        for column, (then, today) in enumerate(zip(row, current, strict=True)):
            if column == EVALUATED_ITER:
                continue
            if then.endswith("..."):
                assert today.startswith(then.removesuffix("...")), (row[0], then, today)
            else:
                assert then == today, (row[0], column, then, today)
        compared += 1
    return compared


def summary(text: str) -> tuple[str, ...]:
    """The last line of a report without its fast-mode and timing parts: the layer counts,
    the cycles (and milliseconds, at a declared clock) and the instruction count."""
    return figure(
        text,
        r"(\d+ layers.*?[\d,]+ cycles(?: \([\d.,]+ ms at [\d,]+ kHz\))?); evaluated "
        r"[\d,]+ of ([\d,]+) instr",
    )


@pytest.fixture(scope="module")
def resnet50_systolic() -> tuple[Program, list[LayerResult]]:
    program = lower_model("systolic", {}, "resnet50")
    return program, analyze(program)


@pytest.fixture(scope="module")
def resnet50_gemmini() -> tuple[Program, list[LayerResult]]:
    program = lower_model("gemmini", {}, "resnet50")
    return program, analyze(program)


def _readme_block(marker: str) -> str:
    """The README's code block (or indented block) holding `marker`."""
    readme = read_doc("README.md")
    start = readme.index(marker)
    end = readme.index("\n\n", readme.index("│ total", start))
    return readme[start:end]


def test_readme_resnet50_on_the_default_array(resnet50_systolic):
    # README "What you will see": ./scripts/example.sh's table, rows cut in the middle.
    program, results = resnet50_systolic
    block = _readme_block("resnet50 on systolic (")
    printed = rendered(program, results)
    title = " ".join(block.split("┏")[0].split())
    assert title == " ".join(printed.split("┏")[0].split())
    assert check_printed_rows(block, printed) == 14
    assert summary(block) == summary(printed)


def test_readme_resnet50_on_gemmini(resnet50_gemmini):
    # README "Gemmini": rows of `analyze traces/resnet50__gemmini`, batch 1.
    program, results = resnet50_gemmini
    block = _readme_block("analyze traces/resnet50__gemmini` (batch 1) prints")
    printed = rendered(program, results)
    assert check_printed_rows(block, printed) == 9
    assert summary(block) == summary(printed)


def test_readme_bert_base_on_gemmini_os_and_ws():
    os_cycles, ws_cycles = figure(
        read_doc("README.md"), r"encoder layer takes ([\d,]+) cycles OS against ([\d,]+) WS"
    )
    for dataflow, stated in (("os", os_cycles), ("ws", ws_cycles)):
        program = lower_model("gemmini", {"dataflow": dataflow}, "bert_base")
        assert sum(r.cycles for r in analyze(program)) == number(stated), dataflow


def test_readme_tc_resnet8_on_ultratrail():
    # README "UltraTrail": `analyze traces/tc_resnet8_ut__ultratrail`, every row, and the
    # analytical model's totals it states.
    program = lower_model("ultratrail", {}, "tc_resnet8_ut")
    block = _readme_block("tc_resnet8_ut on ultratrail (")
    printed = rendered(program, analyze(program))
    assert " ".join(block.split("┏")[0].split()) == " ".join(printed.split("┏")[0].split())
    assert check_printed_rows(block, printed) == 16
    assert summary(block) == summary(printed)
    stated = figure(
        read_doc("README.md"),
        r"([\d,]+) cycles at 8x8 \(([\d,]+) here\), ([\d,]+) at 4x4 \(([\d,]+)\) and ([\d,]+) at "
        r"16x16 \(([\d,]+)\)",
    )
    pairs = zip(stated[::2], stated[1::2], strict=True)
    for dim, (formula, cycles) in zip((8, 4, 16), pairs, strict=True):
        program = lower_model("ultratrail", {"rows": str(dim), "cols": str(dim)}, "tc_resnet8_ut")
        results = analyze(program)
        assert sum(r.cycles for r in results) == number(cycles), dim
        analytical = [ultratrail_analytical(layer.mapping, dim, dim) for layer in program.layers]
        assert sum(analytical) == number(formula), dim


def test_readme_bert_base_on_plasticine():
    # README "Plasticine": `analyze traces/bert_base__plasticine`, every row.
    program = lower_model("plasticine", {}, "bert_base")
    block = _readme_block("bert_base on plasticine (")
    printed = rendered(program, analyze(program))
    assert " ".join(block.split("┏")[0].split()) == " ".join(printed.split("┏")[0].split())
    assert check_printed_rows(block, printed) == 9
    assert summary(block) == summary(printed)


def test_accuracy_doc_ultratrail_table():
    # docs/accuracy.md "UltraTrail": accperf / formula (difference) per layer and size.
    rows = table_under(read_doc("docs/accuracy.md"), "UltraTrail")
    for dim in (4, 8, 16):
        program = lower_model("ultratrail", {"rows": str(dim), "cols": str(dim)}, "tc_resnet8_ut")
        results = analyze(program)
        computed = {
            layer.name: (result.cycles, ultratrail_analytical(layer.mapping, dim, dim))
            for layer, result in zip(program.layers, results, strict=True)
        }
        computed["**total**"] = tuple(sum(pair) for pair in zip(*computed.values(), strict=True))
        assert [row["layer"] for row in rows] == list(computed)
        for row in rows:
            cycles, formula = computed[row["layer"]]
            cell = row[f"{dim}x{dim}"].replace("*", "")
            expected = f"{cycles:,} / {formula:,}"
            assert cell.startswith(expected), (row["layer"], dim, cell, expected)
            if row["layer"] != "**total**":
                assert cell == f"{expected} ({cycles - formula:+d})"


def test_models_doc_zoo_table():
    # docs/models.md "The zoo": layer count by kind (in order of first appearance) and MACs
    # at batch 1 (bert_base at its default seq_len 128).
    text = read_doc("docs/models.md")
    rows = table_under(text, "The zoo")
    assert [unquote(row["model"]) for row in rows] == list(MODELS)
    for row in rows:
        model = build_model(unquote(row["model"]))
        kinds = Counter(layer.kind for layer in model.layers)
        by_kind = ", ".join(f"{count} {kind}" for kind, count in kinds.items())
        assert row["layers"] == f"{len(model.layers)} ({by_kind})"
        assert number(row["MACs (batch 1)"].split()[0]) == model.macs, row["model"]
    (seq_len,) = figure(text, r"\| [\d,]+ at seq_len (\d+) \|")
    assert MODELS["bert_base"].options == {"seq_len": int(seq_len)}


# ------------------------------------------------------------------ docs/benchmarks.md

BENCHMARKS = "docs/benchmarks.md"


def test_benchmarks_resnet50_figures(resnet50_systolic):
    # The first section's instructions and cycles, and the shared layer's cycles (SCALE-Sim
    # reports the index of its last cycle, one less).
    _, results = resnet50_systolic
    text = read_doc(BENCHMARKS)
    (instructions,) = figure(text, r"\| [\d.]+ s; ([\d,]+) instructions; compact trace")
    assert number(instructions) == sum(r.instructions for r in results)
    (cycles,) = figure(text, r"every layer evaluated \| [\d.]+ s; ([\d,]+) cycles")
    assert number(cycles) == sum(r.cycles for r in results)
    shared = next(r for r in results if r.name == "layer4.0.conv1")
    assert figure(text, r"([\d,]+) both \(SCALE-Sim") == (f"{shared.cycles:,}",)
    assert figure(text, r"reported Total Cycles: ([\d,]+)\)") == (f"{shared.cycles - 1:,}",)


def test_benchmarks_zoo_table_at_32x32(resnet50_systolic):
    # §2.1 "32x32, ws": instructions, timed/host layers, cycles.
    rows = table_under(read_doc(BENCHMARKS), "2.1 32x32, ws")
    assert [row["model"] for row in rows] == list(MODELS)
    for row in rows:
        if row["model"] == "resnet50":
            program, results = resnet50_systolic
        else:
            program = lower_model("systolic", {}, row["model"])
            results = analyze(program)
        assert number(row["instructions"]) == sum(r.instructions for r in results)
        assert row["timed/host"] == f"{len(program.layers)}/{len(program.host_layers)}"
        assert number(row["cycles"]) == sum(r.cycles for r in results), row["model"]


@pytest.mark.slow
def test_benchmarks_stall_cycles_at_10_words_per_cycle():
    # "With a DRAM bandwidth (memory side)": each model's stall cycles at 32x32 ws, 10
    # words/cycle. Reduced: the models whose memory side takes under a second.
    rows = table_under(read_doc(BENCHMARKS), "2.4 With a DRAM bandwidth (memory side)")
    assert [row["model"] for row in rows] == list(MODELS)
    for row in rows:
        if not FULL and row["model"] in ("resnet18", "mobilenet_v2", "vgg16"):
            continue
        results = analyze(lower_model("systolic", {"bandwidth": "10"}, row["model"]))
        assert number(row["stall cycles"]) == sum(r.stall_cycles for r in results), row["model"]


@pytest.mark.slow
def test_benchmarks_gemmini_table(resnet50_gemmini):
    # "Gemmini (default config) ...": instructions, layers on Gemmini / on the host (or
    # fused), cycles. Reduced: batch 1.
    section = [
        row
        for title, rows in markdown_tables(read_doc(BENCHMARKS))
        if title == "4. Gemmini (default config)"
        for row in rows
        if "dataflow" in row
    ]
    rows = [row for row in section if "instructions" in row]
    assert len(rows) == 8
    # The before/after table's "after" shares are the main table's, to the tenth.
    shares = [row for row in section if "evaluated after" in row]
    assert len(shares) == 8
    for row, share in zip(rows, shares, strict=True):
        assert (row["model"], row["dataflow"], row["batch"]) == (
            share["model"],
            share["dataflow"],
            share["batch"],
        )
        evaluated = number(row["evaluated instr"]) / number(row["instructions"])
        assert share["evaluated after"] == f"{100 * evaluated:.1f}%"
    for row in rows:
        batch = int(row["batch"])
        if batch != 1 and not FULL:
            continue
        if (row["model"], row["dataflow"], batch) == ("resnet50", "ws", 1):
            program, results = resnet50_gemmini
        else:
            params = {"dataflow": row["dataflow"]}
            program = lower_model("gemmini", params, row["model"], batch=batch)
            results = analyze(program)
        case = (row["model"], row["dataflow"], batch)
        assert number(row["instructions"]) == sum(r.instructions for r in results), case
        assert row["gemmini/host"] == f"{len(program.layers)}/{len(program.host_layers)}"
        assert number(row["cycles"]) == sum(r.cycles for r in results), case


# -------------------------------------------------------------------- docs/accuracy.md

ACCURACY = "docs/accuracy.md"
ACCURACY_TABLES = (
    "Unlimited bandwidth (SCALE-Sim's default, CALC mode)",
    "Bandwidth-limited (10 words/cycle)",
)
ERRORS = ("layers", "accperf MAPE", "roofline MAPE", "regression MAPE")


def _config(row: dict[str, str]) -> str:
    """benchmarks/accuracy.py's CONFIG for a table row, e.g. resnet50:32:ws:0."""
    size = row["array"].split("x")[0]
    bandwidth = "0" if row["bandwidth"] == "unlimited" else row["bandwidth"].split()[0]
    return f"{row['model']}:{size}:{row['dataflow']}:{bandwidth}"


@pytest.mark.slow
def test_accuracy_tables():
    # Each row is what benchmarks/accuracy.py computes now from the cached SCALE-Sim
    # results (benchmarks/results/): accperf's cycles, the roofline and the regression
    # against SCALE-Sim's, as MAPEs. Reduced: one row per table at 32x32 (each 128x128 row
    # takes the script over ten seconds).
    text = read_doc(ACCURACY)
    stated = {
        _config(row): row for heading in ACCURACY_TABLES for row in table_under(text, heading)
    }
    assert len(stated) == 16
    # The prose's count of layers equal to SCALE-Sim's: the bandwidth-limited table's.
    limited = table_under(text, ACCURACY_TABLES[1])
    (equal,) = figure(text, r"SCALE-Sim's on every one of these ([\d,]+) layers")
    assert number(equal) == sum(int(row["layers"].split(" of ")[0]) for row in limited)
    configs = list(stated) if FULL else ["resnet50:32:ws:0", "mobilenet_v2:32:os:10"]
    script = subprocess.run(
        [sys.executable, "benchmarks/accuracy.py", *configs],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        check=True,
    )
    [(_, computed)] = markdown_tables(script.stdout)
    assert [_config(row) for row in computed] == configs
    for row in computed:
        expected = stated[_config(row)]
        assert [row[name] for name in ERRORS] == [expected[name] for name in ERRORS], _config(row)


def _percent(cell: str) -> float:
    return float(cell.rstrip("%"))


def test_accuracy_prose_follows_its_tables():
    # The ranges the text quotes are those of the tables (which test_accuracy_tables holds
    # to the code): the regression off "by 20% to 74%" at unlimited bandwidth, both
    # baselines "by 68% to 334%" at 10 words/cycle.
    text = read_doc(ACCURACY)
    unlimited, limited = (table_under(text, heading) for heading in ACCURACY_TABLES)
    regression = [_percent(row["regression MAPE"]) for row in unlimited]
    low, high = figure(text, r"off in both directions, by (\d+)% to (\d+)%")
    assert (round(min(regression)), round(max(regression))) == (int(low), int(high))
    baselines = [_percent(row[name]) for row in limited for name in ERRORS[2:]]
    low, high = figure(text, r"both are off by (\d+)% to (\d+)%")
    assert (round(min(baselines)), round(max(baselines))) == (int(low), int(high))
    assert {row["accperf MAPE"] for row in unlimited + limited} == {"0.00%"}


def test_accuracy_layer4_conv_stall_share():
    # "a ResNet-50 layer4 3x3 conv at 32x32 ws is 96% stalls" (10 words/cycle): all three
    # have the same shape after the first, stride-2 one; the second stands for them.
    (share,) = figure(read_doc(ACCURACY), r"layer4 3x3 conv at 32x32 ws is (\d+)% stalls")
    program = lower_model("systolic", {"bandwidth": "10"}, "resnet50", layers=["layer4.1.conv2"])
    [result] = analyze(program)
    assert round(100 * result.stall_cycles / result.cycles) == int(share)


def test_readme_traffic_table():
    # README "Using it", `analyze --traffic`: three ResNet-50 layers on the default array.
    from analyzer.report import in_model_order
    from analyzer.traffic_report import print_traffic_table
    from tracer.api import analyze as analyze_trace
    from tracer.api import lower

    trace = lower("resnet50", "systolic", layers=["conv1", "layer1.0.conv2", "fc"])
    result = analyze_trace(trace)
    console = Console(record=True, width=300)
    results = list(result.results)
    rows = list(in_model_order(trace.program, results))
    print_traffic_table(console, trace.program, rows, results, result.energy)
    block = _readme_block("resnet50 on systolic: MACs, memory traffic and energy")
    traffic, prices = console.export_text().split("Energy prices")
    assert printed_rows(block) == printed_rows(traffic)
    assert len(printed_rows(block)) == 4
    assert "Energy prices (defaults; docs/energy.md):" in block and "│ mac " in prices


def test_accuracy_memory_traffic_is_what_accperf_counts_now():
    # docs/accuracy.md "Memory traffic": the accperf column is the code's count now (the
    # SCALE-Sim column is benchmarks/traffic_scalesim.py's measurement).
    from analyzer.actions import ActionCounter

    rows = table_under(read_doc("docs/accuracy.md"), "Memory traffic (issue 18)")
    assert len(rows) >= 36
    counts = {}
    for dataflow in {row["dataflow"] for row in rows}:
        names = sorted({row["layer"] for row in rows if row["dataflow"] == dataflow})
        program = lower_model(
            "systolic", {"rows": "8", "cols": "8", "dataflow": dataflow}, "resnet50", layers=names
        )
        counter = ActionCounter(program)
        for layer in program.layers:
            traffic = {m.memory: m for m in counter.layer(layer).traffic}
            counts[layer.name, dataflow] = {
                "ifmap SRAM reads": traffic["ifmap_sram"].read_words,
                "filter SRAM reads": traffic["filter_sram"].read_words,
                "ofmap SRAM writes": traffic["ofmap_sram"].write_words,
                "ifmap DRAM reads": traffic["ifmap_sram"].write_words,
                "filter DRAM reads": traffic["filter_sram"].write_words,
                "ofmap DRAM writes": traffic["dram"].write_words,
            }
    for row in rows:
        assert number(row["accperf"]) == counts[row["layer"], row["dataflow"]][row["count"]], row
        assert (row["difference"] == "equal") == (row["accperf"] == row["SCALE-Sim"]), row
