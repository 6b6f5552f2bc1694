"""docs/adding-an-accelerator.md, run as written: its description, family record and
lowering are written into a temporary `isa/scalar/`, registered as its section 4 says,
and must give the cycles its section 5 works out by hand, in fast and full mode."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import accperf
import isa
from isa import registry
from tracer.workloads.layers import Conv2d, Dense, Model

DOC = Path(__file__).resolve().parents[1] / "docs" / "adding-an-accelerator.md"


def _files() -> dict[str, str]:
    """The doc's code blocks that open with a `# <path>` line, by path."""
    blocks = re.findall(r"```(?:python|toml)\n# ([\w/.]+)\n(.*?)```", DOC.read_text(), re.S)
    return {path: text for path, text in blocks}


@pytest.fixture(scope="module")
def scalar(tmp_path_factory) -> Path:
    """The scalar family installed from the doc; the description's path."""
    root = tmp_path_factory.mktemp("doc")
    files = _files()
    assert set(files) == {
        "accelerators/scalar.toml",
        "isa/scalar/__init__.py",
        "isa/scalar/lowering.py",
    }
    for path, text in files.items():
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_text(text)
    isa.__path__.append(str(root / "isa"))
    from isa import scalar as family  # type: ignore[attr-defined]

    registry.FAMILIES["scalar"] = family.FAMILY
    yield root / "accelerators" / "scalar.toml"
    del registry.FAMILIES["scalar"]
    isa.__path__.remove(str(root / "isa"))


def test_the_registry_step_is_two_lines_per_family():
    section = DOC.read_text().split("## 4.")[1].split("## 5.")[0]
    source = Path(registry.__file__).read_text()
    names = sorted(name for name in registry.FAMILIES if name != "scalar")
    # The doc's table and import are the registry's with the new family: copied, they
    # drop none.
    for text, listed in ((source, names), (section, sorted([*names, "scalar"]))):
        assert f"    from isa import {', '.join(listed)}  # noqa: F401\n" in text
        for name in listed:
            assert f'        "{name}": "isa.{name}",\n' in text, f"{name} missing"


def test_each_family_is_filed_under_its_own_name():
    for name in registry.FAMILIES:
        assert registry.FAMILIES[name].name == name


@settings(max_examples=15, deadline=None)
@given(
    rows=st.integers(1, 4),
    in_features=st.integers(1, 40),
    out_features=st.integers(1, 12),
    latency=st.integers(1, 8),
)
def test_cycles_are_the_ones_worked_out_by_hand(scalar, rows, in_features, out_features, latency):
    model = Model("mlp", (Dense("fc", in_features, out_features, rows=rows),))
    trace = accperf.lower(model, scalar, {"mac_latency": latency})
    # docs/adding-an-accelerator.md §5: outputs x k x mac_latency + 1 (the last store).
    expected = rows * out_features * in_features * latency + 1
    for mode in ("fast", "full"):
        assert accperf.analyze(trace, mode).total_cycles == expected


def test_fast_evaluation_skips_and_other_layers_run_on_the_host(scalar):
    conv = Conv2d("conv", 3, 8, 8, 8, 3, 3)
    model = Model("net", (conv, Dense("fc", 64, 10, rows=4)))
    result = accperf.analyze(accperf.lower(model, scalar))
    (fc,) = result.results
    assert fc.evaluated_iterations < fc.iterations / 2
    layers = result.layers
    assert layers["placement"].to_list() == ["host", "accelerator"]
    assert "fully connected layers only" in layers["reason"][0]


def test_the_description_is_checked_against_the_family(scalar, tmp_path):
    broken = tmp_path / "broken.toml"
    broken.write_text(scalar.read_text().replace("[units.store]", "[units.stor]"))
    with pytest.raises(accperf.AccperfError, match="units.stor"):
        accperf.lower("bert_base", broken)


def test_the_python_example_of_section_5_runs(scalar, capsys):
    section = DOC.read_text().split("## 5.")[1].split("## 6.")[0]
    (code,) = re.findall(r"```python\n(.*?)```", section, re.S)
    exec(compile(code.replace("path/to/scalar.toml", str(scalar)), str(DOC), "exec"), {})
    printed = capsys.readouterr().out
    assert "attention.query" in printed and "host" in printed
