"""The description loader: valid files resolve to integers; each defect is one clear
DescriptionError naming the file and the field."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from accelerators.catalog import builtin_names, find_accelerator
from accelerators.description import BUILTIN_DIR, load_description
from accelerators.expressions import ExpressionError, evaluate
from isa.registry import FAMILIES, load_accelerator
from tracer.cli import main
from tracer.errors import DescriptionError
from tracer.lowering import lower_workload, select_layers
from tracer.workloads.loading import load_model

SYSTOLIC = (BUILTIN_DIR / "systolic.toml").read_text()
GEMMINI = (BUILTIN_DIR / "gemmini.toml").read_text()


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "acc.toml"
    path.write_text(text)
    return path


def test_builtin_systolic_resolves_defaults_and_overrides():
    assert "systolic" in builtin_names()
    acc = find_accelerator("systolic").resolve({"rows": "8", "cols": "4", "dataflow": "os"})
    assert acc.units["pe"].instances == 32
    assert acc.frontend.window_bundles == 8 + 4 + 2
    assert acc.parameters["dataflow"] == "os"
    assert acc.units["pe"].latency == 1


def test_pe_latency_override_reaches_the_unit():
    acc = find_accelerator("systolic").resolve({"pe_latency": "3"})
    assert acc.units["pe"].latency == 3


@pytest.mark.parametrize(
    ("override", "fragment"),
    [
        ({"rowz": "8"}, "has no parameter 'rowz'"),
        ({"rows": "eight"}, "must be an integer"),
        ({"rows": "0"}, "out of range"),
        ({"rows": "100000"}, "out of range"),
        ({"dataflow": "xs"}, "choose one of ws, os, is"),
    ],
)
def test_bad_overrides_are_named(override, fragment):
    with pytest.raises(DescriptionError, match=fragment):
        find_accelerator("systolic").resolve(override)


def test_unknown_accelerator_lists_the_builtins():
    with pytest.raises(DescriptionError, match="unknown accelerator 'systolik'.*systolic"):
        find_accelerator("systolik")


@pytest.mark.parametrize(
    ("old", "new", "fragment"),
    [
        ("schema = 1", "schema = 9", "field 'schema' must be 1"),
        ('name = "systolic"', "", "field 'name' is missing"),
        (
            'instances = "rows * cols"\nlatency = "pe_latency"',
            'instances = "rows * colz"\nlatency = "pe_latency"',
            "field 'units.pe.instances' uses unknown parameter",
        ),
        ('latency = "pe_latency"', 'latency = "pe_latency +"', "units.pe.latency"),
        ('latency = "pe_latency"', "latency = 1.5", "units.pe.latency' must be an integer"),
        (
            'window_bundles = "rows + cols + 2"',
            'window_bundles = "rows - rows"',
            "frontend.window_bundles.*must be at least 1",
        ),
        ('default = "ws"', 'default = "xs"', "parameters.dataflow.default"),
        ("default = 32\nmin = 1", "default = 0\nmin = 1", "parameters.rows.*out of range"),
        ('opcodes = ["mac", "preload"]', "opcodes = []", "units.pe.opcodes"),
        ('type = "int"\ndefault = 32', 'type = "float"\ndefault = 32', "parameters.rows.type"),
        (
            'instances = "rows * cols"\nlatency = "pe_latency"',
            'instances = "dataflow"\nlatency = "pe_latency"',
            "non-integer parameter",
        ),
        (
            'instances = "rows * cols"\nlatency = "pe_latency"',
            'instances = "__import__(\'os\')"\nlatency = "pe_latency"',
            "only integers",
        ),
    ],
)
def test_defects_name_file_and_field(tmp_path, old, new, fragment):
    assert old in SYSTOLIC, old
    path = write(tmp_path, SYSTOLIC.replace(old, new, 1))
    with pytest.raises(DescriptionError, match=fragment) as info:
        load_description(path)
    assert str(path) in str(info.value)


def test_invalid_toml_and_missing_file(tmp_path):
    with pytest.raises(DescriptionError, match="not valid TOML"):
        load_description(write(tmp_path, "schema = [1"))
    with pytest.raises(DescriptionError, match="no such accelerator description"):
        load_description(tmp_path / "absent.toml")


def test_user_description_by_path(tmp_path):
    path = write(tmp_path, SYSTOLIC.replace('name = "systolic"', 'name = "mine"'))
    assert find_accelerator(str(path)).resolve().name == "mine"


def test_expressions_are_integer_arithmetic_only():
    assert evaluate("rows * (cols + 2) // 3 - 1", {"rows": 4, "cols": 4}) == 7
    assert evaluate(5, {}) == 5
    for bad in ("rows ** 2", "rows / 2", "open('x')", "rows if 1 else 2", "1 // 0"):
        with pytest.raises(ExpressionError):
            evaluate(bad, {"rows": 4})


def refused(path: Path, *fragments: str) -> str:
    """The one-line message loading `path` gives; it names the file and every fragment."""
    with pytest.raises(DescriptionError) as info:
        load_accelerator(str(path))
    message = str(info.value)
    assert "\n" not in message
    assert str(path) in message
    for fragment in fragments:
        assert fragment in message, (fragment, message)
    return message


def edited(tmp_path: Path, text: str, old: str, new: str) -> Path:
    assert old in text, old
    return write(tmp_path, text.replace(old, new, 1))


@pytest.mark.parametrize(
    ("old", "new", "key", "accepted", "near"),
    [
        (
            "[roofline]",
            "[rooflin]",
            "'rooflin'",
            "the top level accepts schema, name, isa",
            "roofline",
        ),
        ('summary = "', 'sumary = "', "'sumary'", "the top level accepts", "summary"),
        (
            "default = 32\nmin = 1",
            "defualt = 32\nmin = 1",
            "'parameters.rows.defualt'",
            "[parameters.rows] accepts type, default, min, max, doc",
            "default",
        ),
        (
            'choices = ["ws", "os", "is"]',
            'choices = ["ws", "os", "is"]\nmin = 1',
            "'parameters.dataflow.min'",
            "[parameters.dataflow] accepts type, default, choices, doc",
            None,
        ),
        (
            "delay = 0 ",
            "dealy = 0 ",
            "'frontend.dealy'",
            "[frontend] accepts bundles_per_cycle, window_bundles, delay",
            "delay",
        ),
        (
            'latency = "pe_latency"',
            'latency = "pe_latency"\nlatncy = 2',
            "'units.pe.latncy'",
            "[units.pe] accepts instances, latency, occupancy, opcodes, doc",
            "latency",
        ),
        (
            'peak_macs_per_cycle = "rows * cols"',
            'peak_mac_per_cycle = "rows * cols"',
            "'roofline.peak_mac_per_cycle'",
            "[roofline] accepts peak_macs_per_cycle, dram_words_per_cycle",
            "peak_macs_per_cycle",
        ),
    ],
)
def test_an_unknown_key_at_any_level_is_refused(tmp_path, old, new, key, accepted, near):
    message = refused(edited(tmp_path, SYSTOLIC, old, new), key, "is not accepted", accepted)
    assert (f"did you mean '{near}'?" in message) == (near is not None)


def test_a_memories_table_is_refused_with_where_sizes_go(tmp_path):
    text = SYSTOLIC + '\n[memories.ifmap_sram]\nkib = "ifmap_sram_kib"\n'
    refused(write(tmp_path, text), "table 'memories' is not accepted", "[parameters.")


@pytest.mark.parametrize(
    ("text", "family", "table", "missing"),
    [
        (SYSTOLIC, "systolic", "[parameters.ofmap_sram_kib]", "ofmap_sram_kib"),
        (GEMMINI, "gemmini", "[parameters.mesh_tags]", "mesh_tags"),
        (GEMMINI, "gemmini", "[parameters.rs_st_entries]", "rs_st_entries"),
    ],
)
def test_a_parameter_the_family_reads_must_be_declared(tmp_path, text, family, table, missing):
    path = edited(tmp_path, text, table, "[parameters.unrelated]")
    # The file itself is well formed: it is the family that cannot run without the parameter.
    load_description(path)
    refused(path, f"the {family} family reads parameter(s) {missing}", f"[parameters.{missing}]")


def test_a_unit_kind_the_family_runs_on_must_be_declared(tmp_path):
    text = (
        SYSTOLIC[: SYSTOLIC.index("[units.sequencer]")] + SYSTOLIC[SYSTOLIC.index("[roofline]") :]
    )
    refused(
        write(tmp_path, text), "the systolic family", "unit kind(s) sequencer", "[units.sequencer]"
    )
    text = GEMMINI.replace("[units.rocc]", "[units.roc]")
    refused(write(tmp_path, text), "key 'units.roc'", "gemmini family", "did you mean 'rocc'?")


@pytest.mark.parametrize(
    ("old", "new", "fragments"),
    [
        (
            'choices = ["ws", "os", "is"]',
            'choices = ["ws", "os", "is", "rs"]',
            ("field 'parameters.dataflow'", "choices among ws, os, is", "does not handle rs"),
        ),
        (
            '[parameters.ifmap_sram_kib]\ntype = "int"\ndefault = 256\nmin = 1\nmax = 1048576',
            '[parameters.ifmap_sram_kib]\ntype = "choice"\ndefault = "256"\nchoices = ["256"]',
            ("field 'parameters.ifmap_sram_kib'", 'reads it as type = "int"'),
        ),
    ],
)
def test_a_parameter_of_the_wrong_kind_is_refused(tmp_path, old, new, fragments):
    refused(edited(tmp_path, SYSTOLIC, old, new), "the systolic family", *fragments)


def test_a_gemmini_description_may_offer_fewer_dataflows_but_no_others(tmp_path):
    ws_only = edited(tmp_path, GEMMINI, 'choices = ["ws", "os"]', 'choices = ["ws"]')
    assert load_accelerator(str(ws_only)).parameter("dataflow").choices == ("ws",)
    path = edited(tmp_path, GEMMINI, 'choices = ["ws", "os"]', 'choices = ["ws", "os", "is"]')
    refused(path, "parameters.dataflow", "gemmini family", "does not handle is")


def test_an_unknown_isa_and_an_unused_parameter_are_refused(tmp_path):
    refused(edited(tmp_path, SYSTOLIC, 'isa = "systolic"', 'isa = "tpu"'), "field 'isa'", "'tpu'")
    extra = SYSTOLIC + '\n[parameters.depth]\ntype = "int"\ndefault = 1\nmin = 1\nmax = 2\n'
    refused(write(tmp_path, extra), "depth", "read by neither the systolic family")


def test_every_builtin_satisfies_its_family():
    for name in builtin_names():
        spec = load_accelerator(name)
        assert spec.isa in FAMILIES
        assert {p.name for p in spec.parameters} >= {
            read.name for read in FAMILIES[spec.isa].parameters
        }


@pytest.mark.parametrize(
    ("name", "params"),
    [
        ("systolic", {"rows": "8", "cols": "8", "bandwidth": "4"}),
        ("systolic", {"rows": "8", "cols": "8", "bandwidth": "4", "dataflow": "os"}),
        ("systolic", {"rows": "8", "cols": "8", "dataflow": "is"}),
        ("gemmini", {"dim": "8"}),
        ("gemmini", {"dim": "8", "dataflow": "os"}),
    ],
)
def test_the_family_reads_no_parameter_it_does_not_declare(name, params):
    """Lowering (and the memory side) see only the declared parameters; a read of any other
    would raise a KeyError here, so the declaration is what the code reads."""
    accelerator = load_accelerator(name).resolve(params)
    family = FAMILIES[accelerator.isa]
    declared = {read.name for read in family.parameters}
    only_declared = replace(
        accelerator,
        parameters={k: v for k, v in accelerator.parameters.items() if k in declared},
    )
    model = select_layers(load_model("resnet50"), ["layer4.0.conv1", "fc"])
    program = lower_workload(only_declared, model)
    assert [layer.name for layer in program.layers] == ["layer4.0.conv1", "fc"]
    if family.memory_stalls is not None:
        for layer in program.layers:
            assert family.memory_stalls(layer.mapping, program.parameters) >= 0


def test_the_command_line_refuses_a_bad_description_with_exit_2(tmp_path, capsys):
    path = edited(tmp_path, SYSTOLIC, "[roofline]", "[rooflin]")
    out_dir = tmp_path / "traces"
    out_dir.mkdir()
    argv = ["lower", "--accelerator", str(path), "--model", "resnet50", "-o", str(out_dir)]
    assert main(argv) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err.count("\n") == 1 and err.startswith("error: ")
    assert str(path) in err and "'rooflin'" in err and "did you mean 'roofline'?" in err
    assert not list(out_dir.iterdir())
    missing = edited(tmp_path, SYSTOLIC, "[parameters.bandwidth]", "[parameters.unrelated]")
    assert main([*argv[:2], str(missing), *argv[3:]]) == 2
    _, err = capsys.readouterr()
    assert err.startswith("error: ") and str(missing) in err
    assert not list(out_dir.iterdir())


CLOCK = """
[parameters.clock_khz]
type = "int"
default = 500000
min = 1
max = 10000000
doc = "The clock, for latencies in milliseconds."
"""


def test_any_description_may_declare_a_clock_and_gets_milliseconds(tmp_path, capsys):
    # No family reads clock_khz (accelerators/description.py CLOCK_PARAMETER); the report
    # does: 500 MHz here, so milliseconds are cycles / 500,000.
    path = edited(tmp_path, SYSTOLIC, "[parameters.cols]", CLOCK + "\n[parameters.cols]")
    argv = ["lower", "--accelerator", str(path), "--model", "tc_resnet8", "-o", str(tmp_path)]
    assert main([*argv, "--param", "rows=8", "--param", "cols=8"]) == 0
    trace = capsys.readouterr().out.strip().splitlines()[-1]
    assert main(["analyze", trace]) == 0
    out = capsys.readouterr().out
    cycles = int(out.split(" cycles (")[0].split("; ")[-1].replace(",", ""))
    assert f"cycles ({cycles / 500_000:,.3f} ms at 500,000 kHz)" in out
    as_choice = CLOCK.replace('type = "int"', 'type = "choice"\nchoices = ["1"]').replace(
        "default = 500000\nmin = 1\nmax = 10000000", 'default = "1"'
    )
    path = edited(tmp_path, SYSTOLIC, "[parameters.cols]", as_choice + "\n[parameters.cols]")
    refused(path, "parameters.clock_khz", 'must be type = "int"')
