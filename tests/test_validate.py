"""`accperf-trace validate --against scalesim`: small layers against the real scalesim
package, and the clear error when SCALE-Sim is not installed."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from analyzer.crosscheck import scalesim_env
from tracer.cli import main

# A depthwise row (SCALE-Sim's 'DP' convention: one single-channel layer per channel, which
# we import as a grouped conv and send back as one row per group) and a strided conv whose
# ofmap SCALE-Sim rounds up.
TOPOLOGY = (
    "Layer name, IFMAP Height, IFMAP Width, Filter Height, Filter Width, Channels, "
    "Num Filter, Strides,\n"
    "DP_small, 6, 6, 3, 3, 3, 1, 1,\n"
    "strided, 9, 9, 3, 3, 4, 5, 2,\n"
)


@pytest.mark.scalesim
@pytest.mark.parametrize("dataflow", ["ws", "os"])
def test_validate_two_small_layers_against_scalesim(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], dataflow: str
) -> None:
    if scalesim_env.scalesim_python() is None:
        pytest.skip("no SCALE-Sim interpreter (scripts/test.sh creates .venv-scalesim)")
    topology = tmp_path / "small.csv"
    topology.write_text(TOPOLOGY)
    report = tmp_path / "validate.json"
    argv = ["validate", "--against", "scalesim", "--param", "rows=4", "--param", "cols=4"]
    argv += ["--param", f"dataflow={dataflow}", "--model", str(topology), "--json", str(report)]
    assert main(argv) == 0
    out = capsys.readouterr().out
    # No stalls on either side: one MAPE, and no stall or compute-error columns.
    assert "MAPE against SCALE-Sim's cycles with stalls: 0.00%; 2 layers" in out
    assert "stalls" not in out.split("MAPE")[0].replace("with DRAM stalls", "")
    result = json.loads(report.read_text())
    assert result["reference"] == "scalesim 3.0.0"
    depthwise, strided = result["layers"]
    assert depthwise["scalesim_rows"] == 3 and strided["scalesim_rows"] == 1
    for layer in result["layers"]:
        # Unlimited bandwidth: no stalls, and accperf equals SCALE-Sim's cycle count.
        assert layer["scalesim_stall_cycles"] == layer["accperf_stall_cycles"] == 0
        assert layer["accperf_cycles"] == layer["scalesim_compute_cycles"]
        assert layer["accperf_cycles"] == layer["scalesim_total_cycles"]
        assert layer["scalesim_seconds"] > 0 and layer["accperf_seconds"] > 0
    # Worked by hand (ws): 3 groups of 1 fold, 2R + C + T - 2 with R = 4, C = 4, T = 16
    # outputs of the 6x6 input under a 3x3 window; window 9 > 4 rows: 3 row folds.
    if dataflow == "ws":
        assert depthwise["accperf_cycles"] == 3 * 3 * (2 * 4 + 4 + 16 - 2)
    assert result["mape_percent"] == 0.0
    assert result["totals"]["accperf_cycles"] == sum(
        layer["accperf_cycles"] for layer in result["layers"]
    )


@pytest.fixture
def without_scalesim(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No SCALE-Sim interpreter anywhere accperf looks, whatever this machine has."""
    monkeypatch.setenv(scalesim_env.ENV_VAR, str(tmp_path / "no-python"))
    monkeypatch.setattr(scalesim_env, "_REPO_VENV_PYTHON", tmp_path / "absent")
    assert scalesim_env.scalesim_python() is None


def test_validate_without_scalesim_says_how_to_install(
    without_scalesim: None, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["validate", "--against", "scalesim", "--model", "tc_resnet8"])
    err = capsys.readouterr().err
    assert code == 2 and "Traceback" not in err
    assert "needs SCALE-Sim" in err and "pip install" in err


@pytest.mark.parametrize(
    ("argv", "refusal"),
    [
        (["--model", "resnet50", "--batch", "2"], "batch=2, but SCALE-Sim's topology"),
        (["--model", "tc_resnet8", "--accelerator", "gemmini"], "no SCALE-Sim counterpart"),
    ],
)
def test_validate_refuses_what_scalesim_cannot_express(
    without_scalesim: None, capsys: pytest.CaptureFixture[str], argv: list[str], refusal: str
) -> None:
    # Refused before SCALE-Sim is looked for: the same answer whether it is installed or not.
    code = main(["validate", "--against", "scalesim", *argv])
    err = capsys.readouterr().err
    assert code == 2 and refusal in err and "Traceback" not in err
    assert "needs SCALE-Sim" not in err


def test_validate_with_nothing_on_the_array_is_an_error(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["validate", "--against", "scalesim", "--model", "resnet18", "--layers", "maxpool"])
    err = capsys.readouterr().err
    assert code == 2 and "nothing to compare" in err and "maxpool" in err
