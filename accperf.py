"""accperf's public Python API: lower a model onto an accelerator, analyze the trace.

    import accperf
    trace = accperf.lower("resnet50", accelerator="systolic", params={"rows": 32})
    result = accperf.analyze(trace)
    result.total_cycles, result.layers   # int; polars.DataFrame, one row per layer
    accperf.sweep("gemmini", ["resnet50"], {"dim": [8, 16]}, "sweep.parquet")

The implementation is tracer/api.py; this module only gives it the name users import.
"""

from tracer.api import (
    AccperfError,
    Result,
    Trace,
    accelerator_spec,
    accelerator_specs,
    analyze,
    instruction_timeline,
    load_model,
    load_trace,
    lower,
    validate_against_scalesim,
    zoo_models,
)
from tracer.sweep import sweep

__all__ = [
    "AccperfError",
    "Result",
    "Trace",
    "accelerator_spec",
    "accelerator_specs",
    "analyze",
    "instruction_timeline",
    "load_model",
    "load_trace",
    "lower",
    "sweep",
    "validate_against_scalesim",
    "zoo_models",
]
