"""Energy per action (analyzer/energy.py) and the traffic report: the defaults are the
published figures at their own widths and sizes, a user's table replaces them, results
add up, and bad tables are one clear error."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import accperf
from analyzer.energy import default_energy_table, mac_cost, memory_cost
from analyzer.traffic_report import count_text, energy_text
from isa.program import Datapath
from tests.doc_tables import read_doc
from tests.test_cli import SMALL, run


@pytest.fixture()
def trace(tmp_path, capsys) -> Path:
    """Three ResNet-50 layers on an 8 x 8 systolic array, lowered by the CLI."""
    code, out, _ = run(["lower", *SMALL, "-o", str(tmp_path / "traces")], capsys)
    assert code == 0
    return Path(out.strip())


@pytest.mark.parametrize(
    "operand_bits, accumulator_bits, pj",
    [(8, 8, 0.2 + 0.03), (8, 32, 0.2 + 0.1), (32, 32, 3.1 + 0.1)],
)
def test_mac_energy_is_horowitz_at_his_widths(operand_bits, accumulator_bits, pj):
    # ISSCC 2014's 45 nm table: int multiply 0.2 pJ (8 b), 3.1 pJ (32 b); add 0.03, 0.1 pJ.
    assert mac_cost(Datapath(operand_bits, accumulator_bits)).pj == pytest.approx(pj)


def test_mac_energy_between_his_widths_grows_with_width():
    costs = [mac_cost(Datapath(bits, 32)).pj for bits in (4, 8, 12, 16, 24, 32)]
    assert costs == sorted(costs) and len(set(costs)) == len(costs)
    assert 0.3 < mac_cost(Datapath(16, 32)).pj < 3.2


@pytest.mark.parametrize(
    "capacity, pj_per_64_bits",
    [(8 * 1024, 10.0), (32 * 1024, 20.0), (1024 * 1024, 100.0)],
)
def test_sram_energy_is_horowitz_at_his_sizes(capacity, pj_per_64_bits):
    assert memory_cost("sram", capacity).pj == pytest.approx(pj_per_64_bits / 8)


def test_sram_energy_grows_with_size_and_dram_costs_most():
    sizes = [256, 4096, 8192, 65536, 1 << 20, 1 << 24]
    costs = [memory_cost("sram", size).pj for size in sizes]
    assert costs == sorted(costs) and len(set(costs)) == len(costs)
    dram = memory_cost("dram", 0).pj
    assert dram == pytest.approx(1300 / 8) and dram > costs[-2]


def test_layer_energy_is_its_counts_times_the_prices_and_layers_add_up():
    trace = accperf.lower("resnet18", "systolic", {"rows": 8, "cols": 8})
    result = accperf.analyze(trace)
    report = result.to_dict()
    per_action = default_energy_table(trace.program).per_action(trace.program)
    timed = [layer for layer in report["layers"] if layer["placement"] == "accelerator"]
    for entry, layer in zip(timed, result.results, strict=True):
        assert layer.actions is not None
        expected = {a: n * per_action[a] for a, n in layer.actions.counts().items()}
        assert entry["energy_breakdown_pj"] == pytest.approx(expected)
        assert entry["energy_pj"] == pytest.approx(sum(expected.values()))
        assert entry["energy_delay_pj_cycles"] == pytest.approx(entry["energy_pj"] * layer.cycles)
    total = report["total"]
    assert total["energy_pj"] == pytest.approx(sum(e["energy_pj"] for e in timed))
    assert result.total_energy_pj == total["energy_pj"]
    assert total["macs_issued"] == sum(e["macs_issued"] for e in timed)
    for memory, traffic in total["traffic"].items():
        assert traffic["read_bytes"] == sum(e["traffic"][memory]["read_bytes"] for e in timed)
    assert report["energy_table"]["source"] == "defaults"
    assert "Horowitz" in report["energy_table"]["mac_pj"]["source"]


def test_a_users_table_replaces_the_defaults_it_names(tmp_path: Path):
    prices = tmp_path / "prices.toml"
    prices.write_text("mac = 1.0\n[memories.ifmap_sram]\nread = 2.0\n")
    trace = accperf.lower("resnet18", "systolic", {"rows": 8, "cols": 8}, layers=["fc"])
    default = accperf.analyze(trace).to_dict()["layers"][0]
    mine = accperf.analyze(trace, energy=prices).to_dict()
    layer = mine["layers"][0]
    assert layer["energy_breakdown_pj"]["mac"] == layer["macs_issued"] * 1.0
    reads = layer["traffic"]["ifmap_sram"]["read_bytes"]
    assert layer["energy_breakdown_pj"]["ifmap_sram.read"] == pytest.approx(reads * 2.0)
    kept = "filter_sram.read"
    assert layer["energy_breakdown_pj"][kept] == default["energy_breakdown_pj"][kept]
    assert mine["energy_table"]["memories"]["ifmap_sram"]["read_pj_per_byte"] == 2.0
    assert "(user)" in mine["energy_table"]["mac_pj"]["source"]


@pytest.mark.parametrize(
    "text, message",
    [
        ("mac = -1\n", "key 'mac' is -1; give picojoules as a number >= 0"),
        ('mac = "cheap"\n', "key 'mac' is 'cheap'"),
        ("[memories.scratchpad]\nread = 1\n", "no memory 'scratchpad' (its memories: ifmap_sram"),
        ("[memories.dram]\nerase = 1\n", "takes 'read' and/or 'write'"),
        ("flops = 2\n", "key 'flops' is neither 'mac' nor a [memories.NAME] table"),
        ("mac = \n", "not valid TOML"),
    ],
)
def test_a_bad_table_is_one_error_and_writes_nothing(trace, tmp_path, capsys, text, message):
    prices = tmp_path / "prices.toml"
    prices.write_text(text)
    out_json = tmp_path / "report.json"
    code, _, err = run(
        ["analyze", str(trace), "--energy", str(prices), "--json", str(out_json)], capsys
    )
    assert code == 2
    assert message in err and f"--energy {prices}" in err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert not out_json.exists()


def test_traffic_table_shows_every_memory_and_the_total(trace, tmp_path, capsys):
    out_json = tmp_path / "report.json"
    code, out, _ = run(["analyze", str(trace), "--traffic", "--json", str(out_json)], capsys)
    assert code == 0
    report = json.loads(out_json.read_text())
    assert "MACs, memory traffic and energy" in out
    for memory in report["total"]["traffic"]:
        assert f"{memory} read / write" in out
    total_line = [line for line in out.splitlines() if line.strip("│ ").startswith("total")][-1]
    cells = [cell.strip() for cell in total_line.split("│")]
    assert cells[2] == count_text(report["total"]["macs_issued"])
    assert cells[-3] == energy_text(report["total"]["energy_pj"])
    assert "Energy prices (defaults; docs/energy.md):" in out
    assert "│ dram.read " in out and "Horowitz" in out


def test_without_traffic_the_report_is_unchanged(trace, capsys):
    code, out, _ = run(["analyze", str(trace)], capsys)
    assert code == 0 and "memory traffic" not in out


def test_baselines_show_energy_and_energy_delay_beside_them(trace, tmp_path, capsys):
    out_json = tmp_path / "report.json"
    code, out, _ = run(["analyze", str(trace), "--baselines", "--json", str(out_json)], capsys)
    assert code == 0
    report = json.loads(out_json.read_text())
    assert "EDP (pJ x cycles)" in out
    for entry in report["layers"]:
        line = next(row for row in out.splitlines() if row.startswith(f"│ {entry['name']} "))
        cells = [cell.strip() for cell in line.split("│")]
        assert cells[-3] == energy_text(entry["energy_pj"])
        assert cells[-2] == f"{entry['energy_delay_pj_cycles']:.3g}"
    total_line = [row for row in out.splitlines() if row.startswith("│ total ")][-1]
    assert f"{report['total']['energy_delay_pj_cycles']:.3g}" in total_line


def test_the_docs_worked_prices_are_the_codes():
    text = " ".join(read_doc("docs/energy.md").split())
    assert f"costs {mac_cost(Datapath(8, 32)).pj:.1f} pJ" in text
    assert f"a 256 KiB SRAM {8 * memory_cost('sram', 256 * 1024).pj:.1f} pJ per 64 bits" in text
    assert f"{memory_cost('dram', 0).pj} pJ" in text


def test_prices_per_word_are_per_byte_times_the_words_bytes():
    # Memories of 2- and 1-byte words (tests/test_actions.py's), priced per byte.
    from isa.program import Memory, Program

    memories = {"sram": Memory("sram", 2, 4096), "dram": Memory("dram", 1, 0)}
    program = Program("test", {}, 1, 1, 0, {"alu": 1}, {"r": 1}, (), (), memories=memories)
    per_action = default_energy_table(program).per_action(program)
    assert per_action["sram.read"] == pytest.approx(2 * memory_cost("sram", 4096).pj)
    assert per_action["sram.write"] == per_action["sram.read"]
    assert per_action["dram.write"] == pytest.approx(memory_cost("dram", 0).pj)
