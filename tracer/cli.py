"""accperf-trace: lower a DNN onto an accelerator, analyze the trace, inspect it.

The commands parse their arguments, call the Python API (tracer/api.py, `import accperf`)
and print. Bad input raises a UserInputError somewhere below; this module turns it into
one line on stderr and exit code 2. Anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import os
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

from tracer.collector import fewer_collections
from tracer.errors import UserInputError

# rich, like the API (and through it Numba and pyarrow), is imported where it is used:
# `--help` and a usage error need none of it (docs/benchmarks.md §1.4).
if TYPE_CHECKING:
    from rich.console import Console

    from tracer.workloads.layers import Model

# The API's default, without importing the API (and numba) for `--help`.
DEFAULT_MATERIALIZE = 4
# Piped or captured output is read by programs and pagers, not a terminal: rich's 80-column
# default would wrap table cells and lines mid-phrase. Wide enough for any report line.
PIPED_WIDTH = 1000


def _console(stderr: bool = False) -> Console:
    from rich.console import Console

    stream = sys.stderr if stderr else sys.stdout
    return Console(stderr=stderr, width=None if stream.isatty() else PIPED_WIDTH)


def _stderr() -> Console:
    return _console(stderr=True)


def console_main() -> NoReturn:
    """The `accperf-trace` process (also `python -m tracer.cli`): main(), then the exit.

    Every object dies with the process, but Python's finalization would first walk them
    all in several full collections (0.1-0.2 s after a ResNet-50 `analyze`, whose modules
    and compiled kernels are most of them) to free memory the system takes back anyway. Frozen
    (gc.freeze), they are left out of those collections; objects outside reference cycles
    are still freed, and stdout and stderr still flushed, as at any exit. Only the process
    does this: main() is also called by code that goes on running.

    NumPy's OpenBLAS would start a thread per core on import, which spin while they wait
    for work no command gives them (no command multiplies matrices): about 0.1 s of CPU
    and 10 ms of wall clock per `analyze` (docs/benchmarks.md §1.5). One thread, unless
    the user's environment says otherwise; NumPy is not imported before this line."""
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    code = main()
    gc.disable()
    gc.freeze()
    sys.exit(code)


def main(argv: Sequence[str] | None = None) -> int:
    # Fewer collections while a command runs (tracer/collector.py); main() is also called
    # in-process (tests, scripts), so the caller's threshold comes back after.
    with fewer_collections():
        return _run(argv)


def _run(argv: Sequence[str] | None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    console = _console()
    try:
        return int(args.handler(args, console) or 0)
    except UserInputError as exc:
        # Plain write: one line, never wrapped, easy to grep.
        sys.stderr.write(f"error: {exc}\n")
        return exc.exit_code
    except KeyboardInterrupt:
        _stderr().print("interrupted")
        return 130


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="accperf-trace",
        description="Fast, exact instruction-level performance models of DNN accelerators.",
    )
    sub = parser.add_subparsers(dest="command", required=True)

    listing = sub.add_parser("list", help="accelerators with their parameters, and models")
    listing.set_defaults(handler=_list)

    lower = sub.add_parser("lower", help="lower a model onto an accelerator into a trace folder")
    _accelerator_options(lower, default=None)
    lower.add_argument("--model", required=True, help=MODEL_HELP)
    _model_options(lower)
    lower.add_argument(
        "--layers",
        metavar="NAME,NAME",
        help="lower only these layers of the model (comma-separated)",
    )
    lower.add_argument(
        "--mapping",
        type=Path,
        metavar="FILE",
        help="per layer, the tile sizes, dataflow and tile-loop order (a .json or .toml "
        "file; Gemmini: docs/gemmini/tiling.md) in place of the auto tiler",
    )
    lower.add_argument("-o", "--out", type=Path, default=Path("traces"), help="output folder")
    lower.add_argument(
        "--materialize",
        default="auto",
        metavar="N|all",
        help=f"iterations per layer expanded into instructions.arrow "
        f"(default {DEFAULT_MATERIALIZE}, fewer, down to none, where those would pass "
        "1,000,000 rows; 'all' for every instruction, up to 20,000,000 rows)",
    )
    lower.add_argument(
        "--timing",
        action="store_true",
        help="fill the materialized rows' issue, start and end cycles (a full evaluation "
        "of those rows; it loads the analyzer, which lower otherwise does not)",
    )
    lower.add_argument(
        "--force",
        action="store_true",
        help="replace a trace of another configuration (or anything not a trace) in the "
        "output folder",
    )
    lower.set_defaults(handler=_lower)

    analyze = sub.add_parser("analyze", help="per-layer cycles of a trace")
    analyze.add_argument("trace", type=Path, help="trace folder written by `lower`")
    analyze.add_argument("--mode", choices=("fast", "full"), default="fast")
    analyze.add_argument("--json", type=Path, metavar="FILE", help="also write the report as JSON")
    analyze.add_argument(
        "--baselines",
        action="store_true",
        help="add the roofline and regression baselines' predictions, and on UltraTrail its "
        "authors' analytical model (see docs/accuracy.md), with each layer's energy and "
        "energy-delay product beside them",
    )
    analyze.add_argument(
        "--recurrence",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="the recurrence bound (critical loop-carried dependency cycle; on by default, "
        "a few percent of the analysis time)",
    )
    analyze.add_argument(
        "--traffic",
        action="store_true",
        help="also show each layer's MACs issued, memory reads and writes, and energy",
    )
    analyze.add_argument(
        "--energy",
        type=Path,
        metavar="FILE",
        help="prices of the actions (TOML, pJ) in place of the defaults (docs/energy.md)",
    )
    analyze.set_defaults(handler=_analyze)

    layers = sub.add_parser("layers", help="a model's layer table (name, op, shapes, MACs)")
    layers.add_argument("model", help=MODEL_HELP)
    _model_options(layers)
    layers.add_argument("--json", type=Path, metavar="FILE", help="also write the table as JSON")
    layers.set_defaults(handler=_layers)

    export = sub.add_parser("export-onnx", help="write a model as an ONNX graph (shapes only)")
    export.add_argument("model", help=MODEL_HELP)
    _model_options(export)
    export.add_argument("-o", "--out", type=Path, required=True, help="the .onnx file to write")
    export.set_defaults(handler=_export_onnx)

    validate = sub.add_parser(
        "validate", help="per-layer cycles against a reference simulator (SCALE-Sim)"
    )
    validate.add_argument("--against", required=True, choices=("scalesim",))
    _accelerator_options(validate, default="systolic")
    validate.add_argument("--model", required=True, help=MODEL_HELP)
    _model_options(validate)
    validate.add_argument("--layers", metavar="NAME,NAME", help="compare only these layers")
    validate.add_argument("--json", type=Path, metavar="FILE", help="also write the comparison")
    validate.set_defaults(handler=_validate)

    sweep = sub.add_parser(
        "sweep", help="every combination of parameter values and models, into one Parquet file"
    )
    sweep.add_argument("--accelerator", required=True, help="built-in name or a .toml path")
    sweep.add_argument("--model", action="append", required=True, help=f"{MODEL_HELP} (repeatable)")
    sweep.add_argument(
        "--grid",
        action="append",
        default=[],
        metavar="NAME=V1,V2,...",
        help="values of a parameter to sweep (repeatable; the product of all grids is run)",
    )
    sweep.add_argument(
        "--batch", action="append", type=int, metavar="N", help="batch sizes (repeatable)"
    )
    sweep.add_argument("-o", "--out", type=Path, required=True, metavar="FILE.parquet")
    sweep.add_argument(
        "--workers", type=int, default=None, help="worker processes (default: one per core)"
    )
    sweep.add_argument(
        "--ray",
        nargs="?",
        const="local",
        metavar="ADDRESS",
        help="run on Ray (pip install 'accperf[ray]'): alone, a local cluster started for "
        "the run with --workers CPUs; with an address, a running cluster",
    )
    sweep.set_defaults(handler=_sweep)

    plot = sub.add_parser(
        "plot", help="draw an analyze --json report or a sweep's Parquet file (PNG or SVG)"
    )
    plot.add_argument("result", type=Path, help="an analyze --json file or a sweep .parquet")
    plot.add_argument("-o", "--out", type=Path, required=True, metavar="FILE.png|FILE.svg")
    plot.add_argument(
        "--x",
        metavar="PARAM",
        help="sweeps: the parameter on the x axis (default: the first numeric one swept)",
    )
    plot.set_defaults(handler=_plot)

    show = sub.add_parser("show", help="instructions of a few iterations, with their timing")
    show.add_argument("trace", type=Path)
    show.add_argument("--layer", required=True, help="layer name (see `analyze`)")
    show.add_argument("--iterations", default="0:1", metavar="A:B", help="iterations A..B-1")
    show.add_argument("--max-rows", type=int, default=200, help="print at most this many rows")
    show.add_argument(
        "--timeline",
        action="store_true",
        help="draw when each unit ran and what waited for it, cycle by cycle, instead of the table",
    )
    show.add_argument(
        "-o",
        "--out",
        type=Path,
        metavar="FILE.svg",
        help="with --timeline: also write the drawing as an SVG picture",
    )
    show.set_defaults(handler=_show)
    return parser


MODEL_HELP = "zoo model name (see `accperf-trace list`), an .onnx file or a SCALE-Sim .csv"


def _accelerator_options(parser: argparse.ArgumentParser, default: str | None) -> None:
    parser.add_argument(
        "--accelerator",
        required=default is None,
        default=default,
        help="built-in name or a .toml path"
        + ("" if default is None else f" (default {default}; its isa must be systolic)"),
    )
    parser.add_argument(
        "--param",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="override an accelerator parameter (repeatable); see `accperf-trace list`",
    )


def _model_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--batch",
        type=int,
        default=None,
        help="batch size (default 1; for ONNX, sets a symbolic batch dimension)",
    )
    parser.add_argument(
        "--model-param",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a zoo model option, e.g. --model-param seq_len=384 for bert_base (repeatable)",
    )
    parser.add_argument(
        "--dim",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="ONNX: the size of a named symbolic input dimension, e.g. --dim seq_len=128",
    )
    parser.add_argument(
        "--skip-unsupported",
        action="store_true",
        help="ONNX: leave out operators we do not model (they then take no time) "
        "instead of stopping with their list",
    )


def _int_params(items: list[str], flag: str) -> dict[str, int]:
    options: dict[str, int] = {}
    for name, value in _parse_params(items, flag, "seq_len=384").items():
        try:
            options[name] = int(value)
        except ValueError:
            raise UserInputError(f"{flag} {name}={value}: expected an integer") from None
    return options


def _model_params(items: list[str]) -> dict[str, int]:
    return _int_params(items, "--model-param")


def _layer_names(text: str | None) -> list[str] | None:
    return [name.strip() for name in text.split(",")] if text else None


def _load(args: argparse.Namespace) -> Model:
    from tracer.api import load_model

    return load_model(
        args.model,
        args.batch,
        model_params=_model_params(args.model_param),
        dims=_int_params(args.dim, "--dim"),
        skip_unsupported=args.skip_unsupported,
    )


def _progress(console: Console) -> Any:
    """A progress bar on stderr when stdout and stderr are both a terminal; elsewhere (a
    report piped or redirected) one that shows nothing, without importing rich.progress
    for it."""
    if not (sys.stdout.isatty() and sys.stderr.isatty()):
        return _NoProgress()
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=_stderr(),
        transient=True,
    )


class _NoProgress:
    """The part of rich.progress.Progress the commands use, showing nothing."""

    def __enter__(self) -> _NoProgress:
        return self

    def __exit__(self, *exc_info: object) -> None:
        return None

    def add_task(self, description: str, total: float | None = None) -> int:
        return 0

    def advance(self, task: int, advance: float = 1) -> None:
        return None

    def update(self, task: int, **fields: object) -> None:
        return None


def _grid(items: list[str]) -> dict[str, list[str]]:
    grid: dict[str, list[str]] = {}
    for item in items:
        name, sep, values = item.partition("=")
        if not sep or not name or not values:
            raise UserInputError(f"--grid {item!r}: expected NAME=V1,V2,..., e.g. dim=8,16,32")
        if name in grid:
            raise UserInputError(f"--grid {name}: given twice; list all its values in one")
        grid[name] = [value.strip() for value in values.split(",") if value.strip()]
    return grid


def _sweep(args: argparse.Namespace, console: Console) -> int:
    from tracer.sweep import sweep

    if args.workers is not None and args.workers < 1:
        raise UserInputError(f"--workers {args.workers}: give at least 1")
    if any(batch < 1 for batch in args.batch or ()):
        raise UserInputError("--batch: give batch sizes of at least 1")
    with _progress(console) as progress:
        task = progress.add_task("sweep", total=None)

        def on_progress(state: Any) -> None:
            progress.update(
                task,
                total=state.total,
                completed=state.done,
                description=f"sweep: {state.failed} failed, {state.skipped} already done",
            )

        frame = sweep(
            args.accelerator,
            args.model,
            _grid(args.grid),
            args.out,
            batches=args.batch or (None,),
            workers=args.workers,
            on_progress=on_progress,
            ray=args.ray,
        )
    totals = frame.filter(frame["row"] == "total")
    failed = totals.filter(totals["error"].is_not_null()).height
    console.print(
        f"{args.out}: {totals.height} configurations ({failed} failed), "
        f"{frame.height - totals.height} layer rows",
        markup=False,
        highlight=False,
    )
    return 0


def _plot(args: argparse.Namespace, console: Console) -> int:
    from tracer.plots import plot

    if args.x is not None and args.result.suffix != ".parquet":
        raise UserInputError(f"--x {args.x}: the x axis is chosen for sweeps only")
    console.print(f"wrote {plot(args.result, args.out, args.x)}", markup=False, highlight=False)
    return 0


def _list(args: argparse.Namespace, console: Console) -> int:
    from rich.table import Table

    from analyzer.report import print_titled
    from tracer.api import accelerator_specs, zoo_models

    for spec in accelerator_specs():
        table = Table()
        for column in ("parameter", "default", "allowed", "meaning"):
            table.add_column(column)
        for p in spec.parameters:
            table.add_row(p.name, str(p.default), p.describe_allowed(), p.doc)
        print_titled(console, f"accelerator {spec.name}: {spec.summary}", table)
    models = Table()
    for column in ("model", "layers", "MACs (batch 1)", "options (default)", "description"):
        models.add_column(column)
    for name, description, options, model in zoo_models():
        shown = ", ".join(f"{key}={value}" for key, value in options.items())
        models.add_row(name, str(len(model.layers)), f"{model.macs:,}", shown, description)
    print_titled(
        console, "models (--model also takes an .onnx file or a SCALE-Sim topology .csv)", models
    )
    return 0


def _parse_params(
    items: list[str], flag: str = "--param", example: str = "rows=32"
) -> dict[str, str]:
    params: dict[str, str] = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not name or not value:
            raise UserInputError(f"{flag} {item!r}: expected NAME=VALUE, e.g. {flag} {example}")
        name, value = name.strip(), value.strip()
        if name in params:
            # Keeping the last value silently would run a configuration the user may not mean.
            raise UserInputError(
                f"{flag} {name} given twice ({name}={params[name]} and {name}={value}); "
                "give it once"
            )
        params[name] = value
    return params


def _lower(args: argparse.Namespace, console: Console) -> int:
    from analyzer.report import layer_counts
    from tracer.api import lower

    materialize: int | None | str
    if args.materialize == "all":
        materialize = None
    elif args.materialize == "auto":
        materialize = "auto"
    else:
        try:
            materialize = int(args.materialize)
            if materialize < 0:
                raise ValueError
        except ValueError:
            raise UserInputError(
                f"--materialize {args.materialize!r}: give a number of iterations (>= 0) or 'all'"
            ) from None
    started = time.perf_counter()
    trace = lower(
        args.model,
        args.accelerator,
        _parse_params(args.param),
        args.batch,
        layers=_layer_names(args.layers),
        model_params=_model_params(args.model_param),
        dims=_int_params(args.dim, "--dim"),
        skip_unsupported=args.skip_unsupported,
        mapping=args.mapping,
    )
    folder = trace.save(args.out, materialize, force=args.force, timing=args.timing)
    _stderr().print(
        f"lowered {trace.model} onto {trace.accelerator} in "
        f"{time.perf_counter() - started:.2f} s; {layer_counts(trace.program)}; "
        f"{trace.instructions:,} instructions",
        markup=False,
    )
    _warn(trace.program.notes)
    print(folder)
    return 0


def _warn(notes: tuple[str, ...]) -> None:
    """The model's notes a user must not miss (what an import skipped or read unusually),
    on stderr, wherever the model's trace is used."""
    from tracer.workloads.layers import warnings_in

    for note in warnings_in(notes):
        sys.stderr.write(f"warning: {note}\n")  # plain, as errors: one line each, never wrapped


def _note(text: str) -> None:
    sys.stderr.write(f"note: {text}\n")


@contextlib.contextmanager
def _kernels_ahead_of_time() -> Iterator[None]:
    """For a command that evaluates once per process (analyze, show): the kernels compiled
    ahead of time spare it importing Numba (analyzer/engine/compiled.py)."""
    from analyzer.engine import compiled

    with compiled.ahead_of_time(notify=_note) as kernels:
        if kernels != "ahead-of-time" and not kernels.startswith("jit ("):
            _note(kernels)  # the build failed: same results, a slower start
        yield


def _analyze(args: argparse.Namespace, console: Console) -> int:
    from analyzer.report import check_json_destination, print_table
    from tracer.api import analyze, load_trace
    from tracer.trace_io import TRACE_FILES

    trace = load_trace(args.trace)
    if args.json is not None:  # fail before the work, not after
        check_json_destination(args.json, [Path(args.trace) / name for name in TRACE_FILES])
    with _kernels_ahead_of_time(), _progress(console) as progress:
        task = progress.add_task(f"{args.mode} evaluation", total=len(trace.program.layers))
        result = analyze(
            trace,
            args.mode,
            recurrence=args.recurrence,
            baselines=args.baselines,
            energy=args.energy,
            on_layer=lambda _: progress.advance(task),
        )
    baselines = None if result.baselines is None else list(result.baselines)
    print_table(
        console,
        trace.program,
        list(result.results),
        args.mode,
        result.seconds,
        baselines,
        result.energy,
    )
    if args.traffic:
        from analyzer.report import in_model_order
        from analyzer.traffic_report import print_traffic_table

        results = list(result.results)
        rows = list(in_model_order(trace.program, results))
        print_traffic_table(console, trace.program, rows, results, result.energy)
    _warn(trace.program.notes)
    if args.json is not None:
        result.to_json(args.json)
    return 0


def _layers(args: argparse.Namespace, console: Console) -> int:
    from analyzer.report import check_json_destination, write_json
    from tracer.workloads.layer_table import model_record, print_layers

    if args.json is not None:
        check_json_destination(args.json, [Path(args.model)])
    model = _load(args)
    print_layers(console, model)
    if args.json is not None:
        write_json(args.json, model_record(model))
    return 0


def _export_onnx(args: argparse.Namespace, console: Console) -> int:
    from tracer.workloads.onnx_export import write_onnx

    if args.out.suffix.lower() != ".onnx":
        raise UserInputError(f"-o {args.out}: give a file name ending in .onnx")
    if not args.out.parent.is_dir():
        raise UserInputError(f"-o {args.out}: folder {args.out.parent} does not exist")
    model = _load(args)
    write_onnx(model, args.out)
    _stderr().print(f"wrote {model.name} ({len(model.layers)} layers) as ONNX")
    print(args.out)
    return 0


def _validate(args: argparse.Namespace, console: Console) -> int:
    from analyzer.report import check_json_destination, write_json
    from analyzer.validation_report import print_validation
    from tracer.api import validate_against_scalesim

    if args.json is not None:
        check_json_destination(args.json, [Path(args.model)])
    with _progress(console) as progress:
        task = progress.add_task("SCALE-Sim, layer by layer", total=None)
        validation = validate_against_scalesim(
            args.model,
            args.accelerator,
            _parse_params(args.param),
            args.batch,
            layers=_layer_names(args.layers),
            model_params=_model_params(args.model_param),
            dims=_int_params(args.dim, "--dim"),
            skip_unsupported=args.skip_unsupported,
            on_layer=lambda _: progress.advance(task),
        )
    print_validation(console, validation)
    if args.json is not None:
        write_json(args.json, validation.as_dict())
    return 0


def _parse_range(text: str) -> tuple[int, int]:
    try:
        if ":" in text:
            a, b = text.split(":", 1)
            first, last = int(a), int(b)
        else:
            first = int(text)
            last = first + 1
    except ValueError:
        raise UserInputError(f"--iterations {text!r}: expected A:B, e.g. 0:4") from None
    if first < 0 or last <= first:
        raise UserInputError(f"--iterations {text!r}: need 0 <= A < B")
    return first, last


def _print_timeline(
    console: Console, args: argparse.Namespace, rows: list, more: int, first: int, last: int
) -> None:
    """show --timeline: the chart of analyzer/timeline_chart.py, on the terminal and, with
    -o, as an SVG that rich records (written to a temporary file, then renamed, so a
    failed write leaves an older picture whole)."""
    import io

    from rich.console import Console

    from analyzer.timeline_chart import chart

    drawing = chart(rows)
    title = f"{args.layer}: iterations {first}..{last - 1}, timeline (full evaluation)"
    lines = drawing.rendered()
    width = max(len(title), len(drawing.legend()), *(len(line) for line in lines))
    out = Console(record=True, width=width, file=io.StringIO())
    for target in (console, out) if args.out else (console,):
        target.print(title, markup=False, highlight=False, soft_wrap=True)
        for line in lines:
            target.print(line, soft_wrap=True, overflow="ignore", crop=False)
        target.print(drawing.legend(), markup=False, highlight=False, soft_wrap=True)
    if more:
        console.print(f"{more} more instructions not drawn; raise --max-rows to see them")
    if args.out is not None:
        partial = args.out.with_name(f".{args.out.name}.partial")
        try:
            out.save_svg(str(partial), title=title)
            partial.replace(args.out)
        except OSError as exc:
            partial.unlink(missing_ok=True)
            raise UserInputError(
                f"-o {args.out}: cannot write the picture ({exc.strerror or exc}); "
                "give a file in a folder you can write to"
            ) from None
        console.print(f"wrote {args.out}", markup=False, highlight=False)


def _show(args: argparse.Namespace, console: Console) -> int:
    from rich.table import Table

    from analyzer.report import print_titled
    from tracer.api import instruction_timeline, load_trace

    first, last = _parse_range(args.iterations)
    if args.out is not None and not args.timeline:
        raise UserInputError(f"-o {args.out}: the picture is of --timeline; add it")
    if args.out is not None and args.out.suffix.lower() != ".svg":
        raise UserInputError(f"-o {args.out}: the timeline is written as SVG; name a .svg file")
    trace = load_trace(args.trace)
    with _kernels_ahead_of_time():
        rows, more = instruction_timeline(trace, args.layer, first, last, args.max_rows)
    if args.timeline:
        _print_timeline(console, args, rows, more, first, last)
        return 0
    table = Table()
    columns = ("iter", "block", "pos", "opcode", "unit", "reads", "writes", "issue", "start", "end")
    for column in columns:
        table.add_column(column)
    for row in rows:
        table.add_row(
            str(row.iteration),
            row.block,
            str(row.position),
            row.opcode,
            row.unit,
            row.reads,
            row.writes,
            str(row.issue),
            str(row.start),
            str(row.end),
        )
    print_titled(
        console, f"{args.layer}: iterations {first}..{last - 1} (full evaluation timing)", table
    )
    if more:
        console.print(f"{more} more instructions; raise --max-rows to see them")
    return 0


if __name__ == "__main__":
    console_main()
