"""The baselines the paper compares instruction-level models against: roofline, regression.

Roofline: a layer's useful MACs over the description's peak MACs per cycle, or its DRAM
words over the DRAM words per cycle, whichever is larger (no memory roof when the
bandwidth is unlimited). The words are the mapping's with nothing reused across folds
(isa.systolic.mapping.dram_words), so the memory roof is a prediction, not a bound: where
the SRAMs keep an operand from fold to fold it can exceed the simulated cycles.

Regression: ordinary least squares of log(cycles) on the log sizes of a layer (MACs,
input, weight and output elements), the features a regression model sees without knowing
the mapping. It is fitted to reference cycles of training layers and scored only on
layers it was not fitted to: `leave_one_out` predicts each layer from a fit to all the
others. With no more training layers than features it keeps only log(MACs), and with
two or fewer only the intercept (the geometric mean of the training cycles).

Analytical (UltraTrail only): the cycle formula UltraTrail's authors published with their
training framework, "formula from the UltraTrail paper" (ekut-es/hannah @066ba2b7,
speech_recognition/callbacks/backends.py:266-310, get_analytical_clock_cycles; not
copied, re-derived): per layer one cycle, plus one per (input-channel block, output-
channel block, output position, kernel tap not on padding). It has no fill or drain and no
stall; docs/accuracy.md explains where accperf's instruction evaluation differs.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

FEATURES = ("macs", "input_words", "weight_words", "output_words")


@dataclass(frozen=True)
class RooflinePrediction:
    cycles: float
    bound: str  # "compute" or "memory"


def roofline(
    macs: int, dram_words: int, peak_macs_per_cycle: int, dram_words_per_cycle: int
) -> RooflinePrediction:
    compute = macs / peak_macs_per_cycle
    memory = dram_words / dram_words_per_cycle if dram_words_per_cycle else 0.0
    return RooflinePrediction(max(compute, memory), "memory" if memory > compute else "compute")


def feature_row(sizes: dict[str, int | str]) -> np.ndarray:
    """[1, log MACs, log input, log weight, log output] of one layer."""
    return np.array([1.0, *(math.log(max(int(sizes[name]), 1)) for name in FEATURES)])


def fit(features: np.ndarray, cycles: np.ndarray) -> np.ndarray:
    """Least-squares coefficients of log(cycles) on `features` (rows: layers)."""
    coefficients, *_ = np.linalg.lstsq(features, np.log(cycles), rcond=None)
    return coefficients


def predict(coefficients: np.ndarray, features: np.ndarray) -> np.ndarray:
    return np.exp(features @ coefficients)


def leave_one_out(features: np.ndarray, cycles: np.ndarray) -> np.ndarray:
    """Each layer's cycles predicted by a fit to every other layer (nan with one layer)."""
    count = len(cycles)
    predictions = np.full(count, np.nan)
    if count < 2:
        return predictions
    # A fit with as many coefficients as points would only echo the training set, so small
    # training sets keep the intercept and log(MACs), and a single layer the intercept.
    training = count - 1
    columns = features.shape[1] if training > features.shape[1] else (2 if training > 2 else 1)
    for held_out in range(count):
        keep = np.arange(count) != held_out
        coefficients = fit(features[keep, :columns], cycles[keep])
        predictions[held_out] = predict(coefficients, features[held_out, :columns])[()]
    return predictions


def ultratrail_analytical(mapping: dict[str, int | str], rows: int, cols: int) -> int:
    """The authors' cycles for one layer from its mapping (isa/ultratrail/lowering.py):
    Ha:276-283 takes a fully connected layer as one position of kernel 1, and a padded
    conv as padded by kernel // 2 on each side (`pad` is a flag, Ha:291)."""
    channels, filters = int(mapping["in_channels"]), int(mapping["out_channels"])
    if mapping["op"] == "fully_connected":
        kernel, length, stride, pad = 1, 1, 1, 0
    else:
        kernel, length = int(mapping["kernel"]), int(mapping["in_length"])
        stride, pad = int(mapping["stride"]), int(int(mapping["padding"]) > 0)
    half = kernel // 2
    positions = (length + 2 * pad * half - kernel) // stride + 1
    # Taps on the left padding: positions whose window starts before the input, each
    # missing half - stride*i taps (Ha:296-300).
    left = pad * math.floor((half - 1) / stride + 1)
    skipped = sum(half - stride * i for i in range(left))
    # On the right, the same with the window's overhang past the input (Ha:302-306).
    overhang = positions * stride + kernel - stride - length - half
    right = pad * math.floor((overhang - 1) / stride + 1)
    skipped += sum(half - stride * i - (half - overhang) for i in range(right))
    blocks = math.ceil(channels / rows) * math.ceil(filters / cols)
    return 1 + blocks * (positions * kernel - skipped)


@dataclass(frozen=True)
class LayerBaselines:
    roofline_cycles: float | None
    roofline_bound: str | None
    regression_cycles: float | None
    analytical_cycles: float | None = None


def program_baselines(
    roofline_spec: dict[str, int] | None,
    mappings: list[dict[str, int | str]],
    macs: list[int],
    reference_cycles: list[int],
    isa: str = "",
    parameters: dict[str, int | str] | None = None,
) -> list[LayerBaselines]:
    """The baselines for each layer of a program. The regression's reference is
    `reference_cycles` of the other layers (leave one out); the analytical model is
    UltraTrail's (`isa` "ultratrail", its `parameters` giving rows and cols)."""
    regression = np.full(len(mappings), np.nan)
    if mappings and all(all(name in m for name in FEATURES[1:]) for m in mappings):
        features = np.array(
            [feature_row({**m, "macs": mac}) for m, mac in zip(mappings, macs, strict=True)]
        )
        regression = leave_one_out(features, np.array(reference_cycles, dtype=float))
    results = []
    for index, mapping in enumerate(mappings):
        prediction = None
        if roofline_spec is not None and "dram_words" in mapping:
            prediction = roofline(
                macs[index],
                int(mapping["dram_words"]),
                roofline_spec["peak_macs_per_cycle"],
                roofline_spec["dram_words_per_cycle"],
            )
        value = regression[index]
        analytical = None
        if isa == "ultratrail" and parameters is not None:
            rows, cols = int(parameters["rows"]), int(parameters["cols"])
            analytical = float(ultratrail_analytical(mapping, rows, cols))
        results.append(
            LayerBaselines(
                roofline_cycles=None if prediction is None else prediction.cycles,
                roofline_bound=None if prediction is None else prediction.bound,
                regression_cycles=None if math.isnan(value) else float(value),
                analytical_cycles=analytical,
            )
        )
    return results
