"""accperf's public Python API, imported as `accperf` (accperf.py); the CLI is built on it.

    import accperf
    trace = accperf.lower("resnet50", accelerator="systolic",
                          params={"rows": 32, "cols": 32}, batch=1)
    trace.save("traces/")                      # the folder `accperf-trace lower -o` writes
    result = accperf.analyze(trace)            # mode="fast" (default) or "full"
    result.total_cycles                        # int, the CLI's total
    result.layers                              # polars.DataFrame, `analyze --json`'s layers
    result.to_json("out.json")                 # the file `analyze --json` writes
    accperf.load_trace("traces/resnet50__systolic")

Every failure caused by what a caller gave raises `AccperfError` (tracer/errors.py's
UserInputError) with the message the CLI prints. The flow behind these calls is in
docs/design.md §1.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from numbers import Integral
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from accelerators.catalog import builtin_names
from accelerators.description import AcceleratorSpec
from analyzer.energy import (
    EnergyTable,
    default_energy_table,
    layer_energy,
    read_energy_table,
)
from analyzer.report import check_json_destination, report_dict, write_json
from analyzer.traffic_report import flat_actions, total_actions
from isa.program import LayerProgram, Program, SubtreeCounts
from isa.registry import load_accelerator
from tracer.collector import fewer_collections
from tracer.errors import TraceError, UserInputError
from tracer.lowering import lower_workload, read_layer_mapping, select_layers
from tracer.trace_io import (
    MANIFEST,
    default_materialize,
    iterate_blocks,
    render_operand,
    write_trace,
)
from tracer.trace_read import read_trace
from tracer.workloads.layers import Model
from tracer.workloads.loading import load_model as _load_workload
from tracer.workloads.zoo import MODELS

# Imported where they are used: the engine brings in Numba and loads compiled kernels,
# polars is only for Result.layers, and the cross-checks only for validate; `lower`,
# `list` and `layers` need none of them (docs/benchmarks.md §1.4).
if TYPE_CHECKING:
    import polars as pl

    from analyzer.crosscheck.baselines import LayerBaselines
    from analyzer.crosscheck.validate import LayerComparison, Validation
    from analyzer.engine.evaluate import LayerResult

AccperfError = UserInputError
DEFAULT_MATERIALIZE = 4  # iterations per layer expanded into instructions.arrow


@dataclass(frozen=True)
class Trace:
    """A lowered model: the loop program the analyzer evaluates and a trace folder holds.
    `folder` is where it was read from (None for a trace not read from disk)."""

    program: Program
    folder: Path | None = None

    @property
    def model(self) -> str:
        return self.program.model

    @property
    def accelerator(self) -> str:
        return self.program.accelerator

    @property
    def parameters(self) -> dict[str, int | str]:
        return dict(self.program.parameters)

    @property
    def instructions(self) -> int:
        """Instructions of every layer the accelerator runs."""
        counts = SubtreeCounts(self.program.blocks)
        return sum(counts.instructions(layer.root) for layer in self.program.layers)

    def save(
        self,
        out_dir: str | Path = "traces",
        materialize: int | None | Literal["auto"] = "auto",
        force: bool = False,
        timing: bool = False,
    ) -> Path:
        """Write the trace folder into `out_dir` (atomically) and return its path.

        `materialize`: iterations per layer expanded into instructions.arrow; None: all;
        "auto": DEFAULT_MATERIALIZE, or fewer (down to none) where that many would pass
        DEFAULT_MATERIALIZE_ROWS (tracer/trace_io.py); a number goes up to the row limit.
        A trace of another configuration already there, or anything that is not a trace,
        is replaced only with `force`.
        `timing`: fill the materialized rows' issue, start and end cycles by a full
        evaluation of those rows (it loads the analyzer; without it the columns are
        null and saving stays free of Numba)."""
        _require_path(out_dir, "out_dir", "the folder to write the trace folder into")
        if materialize == "auto":
            materialize = default_materialize(self.program, DEFAULT_MATERIALIZE)
        elif materialize is not None and (not isinstance(materialize, int) or materialize < 0):
            raise AccperfError(
                f"materialize={materialize!r}: give a number of iterations (>= 0), None for "
                "all, or 'auto'"
            )
        try:
            return write_trace(
                self.program,
                Path(out_dir),
                materialize,
                force,
                _timing(self.program) if timing else None,
            )
        except OSError as exc:
            raise AccperfError(
                f"-o {out_dir}: cannot write a trace there ({exc.strerror or exc}); "
                "give a folder you can write to"
            ) from None


@dataclass(frozen=True)
class Result:
    """Per-layer cycles of a trace, as `accperf-trace analyze` reports them."""

    trace: Trace
    results: tuple[LayerResult, ...]
    mode: str
    # Packing, evaluation and bounds, as the CLI's last line says; with the JIT (the API's
    # default, analyzer/engine/compiled.py) also Numba's loading of the kernels in a
    # process's first analysis, about 0.1 s.
    seconds: float
    baselines: tuple[LayerBaselines, ...] | None = None
    # The prices of the layers' actions; None where the program names no widths.
    energy: EnergyTable | None = None

    @property
    def total_cycles(self) -> int:
        return sum(result.cycles for result in self.results)

    @property
    def total_energy_pj(self) -> float | None:
        """The network's energy in picojoules (None where the program is not priced)."""
        totals = total_actions(list(self.results))
        if totals is None or self.energy is None:
            return None
        return sum(layer_energy(totals, self.energy.per_action(self.trace.program)).values())

    def to_dict(self) -> dict[str, Any]:
        """The report as `analyze --json` writes it (docs/report-json.md)."""
        baselines = None if self.baselines is None else list(self.baselines)
        return report_dict(
            self.trace.program, list(self.results), self.mode, self.seconds, baselines, self.energy
        )

    @property
    def layers(self) -> pl.DataFrame:
        """One row per layer in model order (host layers included), the JSON's columns,
        with its traffic and energy flattened (`dram.read_bytes`, `energy.mac_pj`, ...)."""
        import polars as pl

        rows = [flat_actions(layer) for layer in self.to_dict()["layers"]]
        return pl.DataFrame(rows, infer_schema_length=None, strict=False)

    def to_json(self, path: str | Path) -> Path:
        path = Path(path)
        check_json_destination(path)
        write_json(path, self.to_dict())
        return path


def lower(
    model: str | Path | Model,
    accelerator: str | Path = "systolic",
    params: Mapping[str, int | str] | None = None,
    batch: int | None = None,
    *,
    layers: Sequence[str] | None = None,
    model_params: Mapping[str, int] | None = None,
    dims: Mapping[str, int] | None = None,
    skip_unsupported: bool = False,
    mapping: str | Path | Mapping[str, Any] | None = None,
) -> Trace:
    """Lower a model onto an accelerator.

    `model`: a zoo name (`accperf-trace list`), an .onnx or SCALE-Sim topology .csv path, or
    a Model already loaded (load_model). `accelerator`: a built-in name or a .toml
    description path; `params` override its parameters. `layers` keeps only those layers.
    `mapping`: per layer, tile sizes, dataflow and loop order in place of the accelerator's
    own tiling, a .json / .toml path or the same as a dict (Gemmini only;
    docs/gemmini/tiling.md).
    """
    if not isinstance(model, Model):
        _require_path(model, "model", "a zoo name, an .onnx or .csv path, or load_model()'s")
    _require_path(accelerator, "accelerator", "a built-in name or a .toml description path")
    if params is not None and not isinstance(params, Mapping):
        raise AccperfError(f"params={params!r}: give a dict of parameter name to value")
    if layers is not None and (isinstance(layers, str) or not isinstance(layers, Iterable)):
        raise AccperfError(f"layers={layers!r}: give a list of layer names, e.g. ['fc']")
    if mapping is not None and not isinstance(mapping, Mapping):
        _require_path(mapping, "mapping", "a .json or .toml path, or a dict")
    resolved = accelerator_spec(accelerator).resolve(
        {name: str(value) for name, value in (params or {}).items()}
    )
    if isinstance(model, Model):
        if batch is not None or model_params or dims or skip_unsupported:
            raise AccperfError(
                "batch, model_params, dims and skip_unsupported apply when lower() loads the "
                "model; give them to load_model() instead"
            )
        workload = model
    else:
        workload = load_model(
            model,
            batch,
            model_params=model_params,
            dims=dims,
            skip_unsupported=skip_unsupported,
        )
    parsed = read_layer_mapping(resolved, mapping, workload) if mapping is not None else None
    chosen = select_layers(workload, list(layers) if layers else None)
    with fewer_collections():  # millions of templates and operands at 512x512
        program = lower_workload(resolved, chosen, parsed)
    if not program.layers:
        hosted = ", ".join(host.name for host in program.host_layers)
        raise AccperfError(
            f"--model {program.model}: none of the chosen layers runs on {program.accelerator} "
            f"({hosted} {'runs' if len(program.host_layers) == 1 else 'run'} elsewhere), so "
            "there is nothing to time; choose layers the accelerator runs"
        )
    return Trace(program)


def load_trace(folder: str | Path) -> Trace:
    """A trace folder written by `lower` (validated; a bad folder raises AccperfError)."""
    _require_path(folder, "trace", "a Trace, or the path of a folder `lower` wrote")
    folder = Path(folder)
    _refuse_a_folder_of_traces(folder)
    return Trace(read_trace(folder), folder)


def _require_path(value: object, name: str, what: str) -> None:
    """An argument that must be a path (str or os.PathLike): else one error saying what."""
    if not isinstance(value, (str, os.PathLike)):
        raise AccperfError(f"{name}={value!r}: give {what}")


def _refuse_a_folder_of_traces(folder: Path) -> None:
    """`analyze traces/` (the folder `lower -o` wrote into) gets the traces in it listed."""
    try:
        if not folder.is_dir() or (folder / MANIFEST).exists():
            return
        inside = sorted(
            child
            for child in folder.iterdir()
            if not child.name.startswith(".") and (child / MANIFEST).is_file()
        )
    except OSError:
        return  # read_trace names what is wrong with the folder
    if inside:
        shown = ", ".join(str(child) for child in inside[:8])
        more = f" and {len(inside) - 8} more" if len(inside) > 8 else ""
        raise AccperfError(
            f"{folder}: a folder of trace folders, not a trace; give one of them: {shown}{more}"
        )


def analyze(
    trace: Trace | str | Path,
    mode: str = "fast",
    *,
    recurrence: bool = True,
    baselines: bool = False,
    energy: str | Path | None = None,
    on_layer: Callable[[LayerResult], None] | None = None,
) -> Result:
    """Cycles of every layer. `mode`: "fast" (skips repetitions exactly) or "full" (every
    instruction). `recurrence` adds the critical-cycle bound (on by default; False leaves
    it out), `baselines` the roofline and regression predictions (and on UltraTrail its
    authors' analytical model); `energy` a TOML file of prices in place of the defaults
    (docs/energy.md); `on_layer` is called after each layer (progress)."""
    from analyzer.engine.evaluate import Evaluation

    if not isinstance(trace, Trace):
        trace = load_trace(trace)
    if mode not in ("fast", "full"):
        raise AccperfError(f"mode={mode!r}: choose 'fast' or 'full'")
    prices = energy_table(trace.program, energy)
    started = time.perf_counter()
    # Lowering and read_trace both validate the program; packing need not again.
    with fewer_collections():
        evaluation = Evaluation(trace.program, mode, recurrence=recurrence, checked=True)
        results = tuple(evaluation.run(on_layer))
    seconds = time.perf_counter() - started
    predictions = _baselines(trace, results) if baselines else None
    return Result(trace, results, mode, seconds, predictions, prices)


def _baselines(trace: Trace, results: tuple[LayerResult, ...]) -> tuple[LayerBaselines, ...]:
    from analyzer.crosscheck.baselines import program_baselines
    from isa.family import mapping_problem

    program = trace.program

    def of(chosen: tuple[LayerResult, ...]) -> tuple[LayerBaselines, ...]:
        return tuple(
            program_baselines(
                program.roofline,
                [r.mapping for r in chosen],
                [r.macs for r in chosen],
                [r.cycles for r in chosen],
                program.isa,
                program.parameters,
            )
        )

    try:
        return of(results)
    except (KeyError, ValueError, TypeError):
        # A trace's mapping is its lowering's: one the baselines cannot read was edited or
        # damaged. Name the layer: each alone reads the fields the whole set does.
        for result in results:
            try:
                of((result,))
            except (KeyError, ValueError, TypeError) as exc:
                where = trace.folder or f"{program.model} on {program.accelerator}"
                raise TraceError(
                    f"{where}: layer {result.name!r}: its mapping {mapping_problem(exc)}, "
                    "which the baselines read; re-create the trace with `accperf-trace lower`"
                ) from None
        raise


def energy_table(program: Program, path: str | Path | None = None) -> EnergyTable | None:
    """The prices of `program`'s actions: the user's file over the defaults; None for a
    program that names no datapath widths (a hand-built one), whose energy is unknown."""
    if path is not None:
        _require_path(path, "energy", "the path of a TOML file of prices (docs/energy.md)")
        if program.datapath is None:
            raise AccperfError(
                f"--energy {path}: the {program.accelerator!r} program names no datapath "
                "widths, so it has no actions to price"
            )
        return read_energy_table(path, program)
    return None if program.datapath is None else default_energy_table(program)


def load_model(
    model: str | Path,
    batch: int | None = None,
    *,
    model_params: Mapping[str, int] | None = None,
    dims: Mapping[str, int] | None = None,
    skip_unsupported: bool = False,
) -> Model:
    """A zoo model, an ONNX file or a SCALE-Sim topology CSV as accperf's layer graph.
    `batch` None keeps a file's own batch (1 for the zoo)."""
    return _load_workload(
        str(model),
        batch,
        dict(model_params) if model_params else None,
        skip_unsupported,
        dict(dims) if dims else None,
    )


def accelerator_spec(name_or_path: str | Path) -> AcceleratorSpec:
    """A built-in accelerator by name, or a .toml description, validated against its
    family (isa/registry.py)."""
    return load_accelerator(str(name_or_path))


def accelerator_specs() -> list[AcceleratorSpec]:
    """The built-in accelerators, by name."""
    return [load_accelerator(name) for name in builtin_names()]


def zoo_models() -> Iterator[tuple[str, str, dict[str, int], Model]]:
    """(name, description, options with defaults, the model at batch 1) of each zoo model."""
    for name, entry in MODELS.items():
        yield name, entry.description, dict(entry.options), entry.builder()


@dataclass(frozen=True)
class TimedInstruction:
    iteration: int
    block: str
    position: int
    opcode: str
    unit: str
    reads: str
    writes: str
    issue: int
    start: int
    end: int


SHOW_ITERATION_LIMIT = 1_000_000


def _timing(program: Program) -> Callable[[LayerProgram, int], tuple[Any, Any, Any]]:
    """The timing columns of instructions.arrow (tracer/trace_io.py): issue, start and
    end cycles of a layer's first instructions, by the full evaluation `show` runs (its
    blocks packed once, on the first layer that asks)."""
    evaluation = None

    def first_instructions(layer: LayerProgram, count: int) -> tuple[Any, Any, Any]:
        nonlocal evaluation
        from analyzer.engine.evaluate import Evaluation

        if evaluation is None:
            evaluation = Evaluation(program, "full", checked=True)
        timeline = evaluation.timeline(layer, 0, count)
        return timeline.issue, timeline.start, timeline.end

    return first_instructions


def instruction_timeline(
    trace: Trace, layer_name: str, first: int, last: int, max_rows: int
) -> tuple[list[TimedInstruction], int]:
    """Instructions of iterations first..last-1 of a layer with their issue, start and end
    cycles (full evaluation), at most `max_rows`; also how many more there were."""
    from analyzer.engine.evaluate import Evaluation

    if not isinstance(trace, Trace):
        raise AccperfError(f"trace={trace!r}: give a Trace (lower() or load_trace())")
    for name, value in (("first", first), ("last", last), ("max_rows", max_rows)):
        if not isinstance(value, Integral) or isinstance(value, bool):
            raise AccperfError(f"{name}={value!r}: give an integer")
    first, last, max_rows = int(first), int(last), int(max_rows)
    program = trace.program
    where = trace.folder if trace.folder is not None else "the trace"
    names = [layer.name for layer in program.layers]
    hosted = {host.name: host for host in program.host_layers}
    if layer_name in hosted:
        raise AccperfError(
            f"--layer {layer_name!r}: {hosted[layer_name].reason}, so it has no instructions"
        )
    if layer_name not in names:
        shown = ", ".join(names[:8]) + (", ..." if len(names) > 8 else "")
        raise AccperfError(f"--layer {layer_name!r}: no such layer in {where}; layers: {shown}")
    if first < 0 or last <= first:
        raise AccperfError(f"--iterations {first}:{last}: need 0 <= A < B")
    if max_rows < 1:
        raise AccperfError(f"--max-rows {max_rows}: give at least 1")
    if last > SHOW_ITERATION_LIMIT:
        raise AccperfError(
            f"--iterations {first}:{last}: show walks iterations one by one; stay below "
            f"{SHOW_ITERATION_LIMIT:,}"
        )
    layer = program.layers[names.index(layer_name)]
    offset = 0
    selected = []
    for iteration, (block_id, index) in enumerate(iterate_blocks(layer.root)):
        if iteration >= last:
            break
        if iteration >= first:
            selected.append((iteration, block_id, index, offset))
        offset += len(program.blocks[block_id].templates)
    if not selected:
        raise AccperfError(
            f"--iterations {first}:{last}: layer {layer.name!r} has fewer than "
            f"{first + 1} iterations"
        )
    record_first = selected[0][3]
    # Evaluate no further than the last row returned.
    count = min(offset - record_first, max_rows)
    timeline = Evaluation(program, "full", checked=True).timeline(layer, record_first, count)
    rows: list[TimedInstruction] = []
    for iteration, block_id, index, start_offset in selected:
        block = program.blocks[block_id]
        for position, t in enumerate(block.templates):
            if len(rows) >= max_rows:
                break
            k = start_offset + position - record_first
            rows.append(
                TimedInstruction(
                    iteration,
                    block.name,
                    position,
                    t.opcode,
                    f"{t.unit}[{t.instance_at(index)}]",
                    ", ".join(render_operand(o, index) for o in t.reads),
                    ", ".join(render_operand(o, index) for o in t.writes),
                    int(timeline.issue[k]),
                    int(timeline.start[k]),
                    int(timeline.end[k]),
                )
            )
    return rows, offset - record_first - len(rows)


def validate_against_scalesim(
    model: str | Path,
    accelerator: str | Path = "systolic",
    params: Mapping[str, int | str] | None = None,
    batch: int | None = None,
    *,
    layers: Sequence[str] | None = None,
    model_params: Mapping[str, int] | None = None,
    dims: Mapping[str, int] | None = None,
    skip_unsupported: bool = False,
    on_layer: Callable[[LayerComparison], None] | None = None,
) -> Validation:
    """Each layer's cycles next to SCALE-Sim 3.0.0's, run in its own environment
    (analyzer/crosscheck/scalesim_bridge.py); the systolic family only."""
    from analyzer.crosscheck.scalesim_bridge import INSTALL_HINT, ScaleSimUnavailable
    from analyzer.crosscheck.scalesim_env import scalesim_python
    from analyzer.crosscheck.validate import check_comparable, compare_with_scalesim

    resolved = accelerator_spec(accelerator).resolve(
        {name: str(value) for name, value in (params or {}).items()}
    )
    workload = select_layers(
        load_model(
            model, batch, model_params=model_params, dims=dims, skip_unsupported=skip_unsupported
        ),
        list(layers) if layers else None,
    )
    program = lower_workload(resolved, workload)
    check_comparable(program, resolved.isa, workload)
    if not program.layers:
        raise AccperfError(
            f"--model {model}: none of the chosen layers runs on the array "
            f"({', '.join(h.name for h in program.host_layers)} run on the host), so there "
            "is nothing to compare with SCALE-Sim"
        )
    if scalesim_python() is None:
        raise ScaleSimUnavailable(f"validate --against scalesim needs SCALE-Sim.\n{INSTALL_HINT}")
    return compare_with_scalesim(program, workload, on_layer=on_layer)
