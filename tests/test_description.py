"""The description loader: valid files resolve to integers; each defect is one clear
DescriptionError naming the file and the field."""

from __future__ import annotations

from pathlib import Path

import pytest

from accelerators.catalog import builtin_names, find_accelerator
from accelerators.description import BUILTIN_DIR, load_description
from accelerators.expressions import ExpressionError, evaluate
from tracer.errors import DescriptionError

SYSTOLIC = (BUILTIN_DIR / "systolic.toml").read_text()


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
