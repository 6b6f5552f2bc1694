"""The roofline and regression baselines on layers whose answers can be worked by hand."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

import tracer.api as accperf
from analyzer.crosscheck.baselines import (
    FEATURES,
    feature_row,
    leave_one_out,
    program_baselines,
    roofline,
)
from isa.systolic.mapping import dram_words, gemm_shape
from tracer.cli import main
from tracer.workloads.layers import Conv2d, Dense


def test_roofline_takes_the_higher_roof() -> None:
    # 1,000 MACs on 100 MACs/cycle: 10 cycles; 5,000 words at 10 words/cycle: 500 cycles.
    prediction = roofline(1_000, 5_000, 100, 10)
    assert (prediction.cycles, prediction.bound) == (500.0, "memory")
    prediction = roofline(1_000, 50, 100, 10)
    assert (prediction.cycles, prediction.bound) == (10.0, "compute")
    # Unlimited bandwidth: no memory roof at all.
    assert roofline(1_000, 10**9, 100, 0).cycles == 10.0


def test_dram_words_worked_by_hand() -> None:
    # fc 10 -> 6 over 5 rows on a 4x4 array. ws: Sr = 10 (window), Sc = 6, T = 5;
    # 3 row folds, 2 column folds. Weights once (60), inputs once per column fold
    # (5 * 10 * 2 = 100), outputs once per row fold (5 * 6 * 3 = 90).
    fc = Dense("fc", 10, 6, rows=5)
    assert dram_words(gemm_shape(fc, "ws"), 4, 4, "ws") == 60 + 100 + 90
    # os: Sr = 5 (pixels), Sc = 6, T = 10; 2 row folds, 2 column folds. Inputs 5 * 10 per
    # column fold (100), weights 6 * 10 per row fold (120), outputs once (30).
    assert dram_words(gemm_shape(fc, "os"), 4, 4, "os") == 100 + 120 + 30
    # Groups repeat the whole per-group traffic.
    grouped = Conv2d("g", 4, 4, 3, 3, 1, 1, groups=4)
    single = Conv2d("s", 1, 1, 3, 3, 1, 1)
    assert dram_words(gemm_shape(grouped, "ws"), 4, 4, "ws") == 4 * dram_words(
        gemm_shape(single, "ws"), 4, 4, "ws"
    )


def test_regression_recovers_a_log_linear_law_on_held_out_layers() -> None:
    rng = np.random.default_rng(0)
    sizes = rng.integers(10, 10**6, size=(12, len(FEATURES)))
    features = np.array([feature_row(dict(zip(FEATURES, row, strict=True))) for row in sizes])
    # cycles = 3 * MACs^0.5 * output^0.25 exactly: a fit to the others predicts each one.
    cycles = 3 * np.sqrt(sizes[:, 0]) * sizes[:, 3] ** 0.25
    predictions = leave_one_out(features, cycles)
    assert np.allclose(predictions, cycles, rtol=1e-9)


def test_regression_never_sees_the_layer_it_predicts() -> None:
    features = np.array([feature_row(dict.fromkeys(FEATURES, 100 * (i + 1))) for i in range(8)])
    cycles = np.array([100.0, 200, 300, 400, 500, 600, 700, 10**7])
    predictions = leave_one_out(features, cycles)
    # The outlier is predicted from the others only, so nowhere near its own value.
    assert predictions[-1] < 10**5
    # Two layers: one training point determines no slope, so each is predicted as the
    # other's cycles (the intercept-only fit).
    pair = leave_one_out(features[:2], cycles[:2])
    assert np.allclose(pair, [200, 100])
    assert math.isnan(leave_one_out(features[:1], cycles[:1])[0])


def test_program_baselines_without_roofline_data() -> None:
    mapping = {name: 10 for name in FEATURES[1:]}
    (only,) = program_baselines(None, [mapping], [100], [50])
    assert only.roofline_cycles is None and only.regression_cycles is None


def test_analyze_baselines_columns_and_json(tmp_path: Path, capsys) -> None:
    argv = ["lower", "--accelerator", "systolic", "--param", "rows=8", "--param", "cols=8"]
    assert main([*argv, "--model", "tc_resnet8", "-o", str(tmp_path)]) == 0
    trace = capsys.readouterr().out.strip()
    report = tmp_path / "r.json"
    assert main(["analyze", trace, "--baselines", "--json", str(report)]) == 0
    out = capsys.readouterr().out
    assert "roofline" in out and "regression" in out
    layers = [e for e in json.loads(report.read_text())["layers"] if e["placement"] != "host"]
    for entry in layers:
        baselines = entry["baselines"]
        # Unlimited bandwidth: compute roof = useful MACs / 64 PEs, below the real cycles.
        assert baselines["roofline_bound"] == "compute"
        assert baselines["roofline_cycles"] == entry["macs"] / 64
        assert baselines["roofline_cycles"] < entry["cycles"]
        assert baselines["roofline_error"] == pytest.approx(
            (entry["macs"] / 64 - entry["cycles"]) / entry["cycles"]
        )
        assert baselines["regression_cycles"] > 0


def test_every_accelerators_layers_get_both_baselines() -> None:
    # `analyze --baselines` once printed "-" for every Gemmini layer: its lowering gave the
    # baselines neither the tensors' sizes nor the DRAM bytes. Every family's lowering now
    # does, for every layer it runs.
    import accperf

    for accelerator, model in (("systolic", "resnet18"), ("gemmini", "resnet18"),
                               ("plasticine", "resnet18")):  # fmt: skip
        result = accperf.analyze(accperf.lower(model, accelerator), baselines=True)
        assert result.baselines, accelerator
        for baseline in result.baselines:
            assert baseline.roofline_cycles is not None, accelerator
            assert baseline.regression_cycles is not None, accelerator


def test_gemminis_roofline_moves_the_compulsory_bytes_over_the_bus() -> None:
    # A 3x3 conv, 8 -> 16 channels on 10x10 pixels (padding 1) on the default Gemmini
    # (DIM 16, 16-byte bus): 800 input, 1,152 weight and 1,600 output bytes (int8) and 64
    # of int32 bias, 3,616 bytes or 226 cycles; 115,200 MACs over 256 a cycle, 450 cycles.
    # The same conv with a 2x2 max pool fused: 400 output bytes, 2,416 in all.
    import accperf
    from isa.gemmini.library import compulsory_bytes
    from tracer.workloads.layers import Pool

    conv = Conv2d("c", 8, 16, 10, 10, 3, 3, padding=1)
    assert compulsory_bytes(conv, None, bias=True) == 800 + 1_152 + 1_600 + 64
    assert compulsory_bytes(conv, None, bias=False) == 800 + 1_152 + 1_600
    pool = Pool("p", "maxpool", 16, 10, 10, 2, 2, stride=(2, 2))
    assert compulsory_bytes(conv, pool, bias=True) == 800 + 1_152 + 400 + 64
    (baseline,) = accperf.analyze(accperf.lower(_one(conv), "gemmini"), baselines=True).baselines
    assert (baseline.roofline_cycles, baseline.roofline_bound) == (450.0, "compute")
    dense = Dense("fc", 4_096, 64)  # 4,096 + 262,144 + 64 + 256 bytes: 16,660 cycles
    (baseline,) = accperf.analyze(accperf.lower(_one(dense), "gemmini"), baselines=True).baselines
    assert (baseline.roofline_cycles, baseline.roofline_bound) == (16_660.0, "memory")


def _one(layer):
    from tracer.workloads.layers import Model

    return Model("net", (layer,))


@pytest.mark.parametrize(
    ("accelerator", "model", "layers"),
    [
        ("plasticine", "resnet18", ["conv1", "maxpool", "layer1.0.add", "fc"]),
        ("plasticine", "bert_base", ["attention.query", "attention.scores"]),
        ("gemmini", "resnet18", ["conv1", "maxpool", "layer1.0.conv1", "fc"]),
        ("ultratrail", "tc_resnet8_ut", None),
    ],
)
def test_the_roofline_never_predicts_more_cycles_than_a_layer_takes(accelerator, model, layers):
    # Where the roofline's traffic is what the layer must move (Plasticine's tiles,
    # Gemmini's compulsory bytes, UltraTrail's none), it is a bound: the peak rates at
    # best. Plasticine's 51 bytes a cycle once rounded down to 12 words put it above the
    # simulated cycles. (The systolic array's traffic assumes no reuse across folds, so
    # its roof is an estimate, not a bound.)
    result = accperf.analyze(accperf.lower(model, accelerator, layers=layers), baselines=True)
    for layer, baseline in zip(result.results, result.baselines, strict=True):
        if baseline.roofline_cycles is not None:
            assert baseline.roofline_cycles <= layer.cycles, layer.name
