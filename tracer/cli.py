"""accperf-trace: lower a DNN onto an accelerator, analyze the trace, inspect it.

Bad input raises a UserInputError somewhere below; this module turns it into one line on
stderr and exit code 2. Anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from tracer.errors import UserInputError

if TYPE_CHECKING:
    from analyzer.crosscheck.validate import Validation
    from tracer.workloads.layers import Model

DEFAULT_MATERIALIZE = 4


def _stderr() -> Console:
    # Piped or captured stderr gets long lines rather than rich's 80-column wrapping.
    return Console(stderr=True) if sys.stderr.isatty() else Console(stderr=True, width=160)


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    # Piped output gets a wide table rather than rich's 80-column default.
    console = Console() if sys.stdout.isatty() else Console(width=160)
    try:
        return int(args.handler(args, console) or 0)
    except UserInputError as exc:
        # Plain write: one line, never wrapped, easy to grep.
        sys.stderr.write(f"error: {exc}\n")
        return exc.exit_code
    except KeyboardInterrupt:
        Console(stderr=True).print("interrupted")
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
    lower.add_argument("-o", "--out", type=Path, default=Path("traces"), help="output folder")
    lower.add_argument(
        "--materialize",
        default=str(DEFAULT_MATERIALIZE),
        metavar="N|all",
        help=f"iterations per layer expanded into instructions.arrow "
        f"(default {DEFAULT_MATERIALIZE}; 'all' for every instruction)",
    )
    lower.set_defaults(handler=_lower)

    analyze = sub.add_parser("analyze", help="per-layer cycles of a trace")
    analyze.add_argument("trace", type=Path, help="trace folder written by `lower`")
    analyze.add_argument("--mode", choices=("fast", "full"), default="fast")
    analyze.add_argument("--json", type=Path, metavar="FILE", help="also write the report as JSON")
    analyze.add_argument(
        "--baselines",
        action="store_true",
        help="add the roofline and regression baselines' predictions (see docs/accuracy.md)",
    )
    analyze.add_argument(
        "--recurrence",
        action="store_true",
        help="also compute the recurrence bound (critical dependency cycle; seconds on big arrays)",
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

    show = sub.add_parser("show", help="instructions of a few iterations, with their timing")
    show.add_argument("trace", type=Path)
    show.add_argument("--layer", required=True, help="layer name (see `analyze`)")
    show.add_argument("--iterations", default="0:1", metavar="A:B", help="iterations A..B-1")
    show.add_argument("--max-rows", type=int, default=200, help="print at most this many rows")
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
    from tracer.workloads.loading import load_model

    return load_model(
        args.model,
        args.batch,
        _model_params(args.model_param),
        args.skip_unsupported,
        _int_params(args.dim, "--dim"),
    )


def _progress(console: Console) -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=_stderr(),
        transient=True,
        disable=not sys.stderr.isatty(),
    )


def _list(args: argparse.Namespace, console: Console) -> int:
    from accelerators.catalog import builtin_names, find_accelerator
    from tracer.workloads.zoo import MODELS

    for name in builtin_names():
        spec = find_accelerator(name)
        table = Table(title=f"accelerator {name}: {spec.summary}", title_justify="left")
        for column in ("parameter", "default", "allowed", "meaning"):
            table.add_column(column)
        for p in spec.parameters:
            table.add_row(p.name, str(p.default), p.describe_allowed(), p.doc)
        console.print(table)
    models = Table(
        title="models (--model also takes an .onnx file or a SCALE-Sim topology .csv)",
        title_justify="left",
    )
    for column in ("model", "layers", "MACs (batch 1)", "options (default)", "description"):
        models.add_column(column)
    for name, entry in MODELS.items():
        model = entry.builder()
        options = ", ".join(f"{key}={value}" for key, value in entry.options.items())
        models.add_row(name, str(len(model.layers)), f"{model.macs:,}", options, entry.description)
    console.print(models)
    return 0


def _parse_params(
    items: list[str], flag: str = "--param", example: str = "rows=32"
) -> dict[str, str]:
    params: dict[str, str] = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not name or not value:
            raise UserInputError(f"{flag} {item!r}: expected NAME=VALUE, e.g. {flag} {example}")
        params[name.strip()] = value.strip()
    return params


def _lower(args: argparse.Namespace, console: Console) -> int:
    from isa.program import count_instructions, placement_counts
    from tracer.lowering import lower_model
    from tracer.trace_io import write_trace
    from tracer.workloads.onnx_import import SKIPPED_NOTE

    if args.materialize == "all":
        materialize = None
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
    layers = _layer_names(args.layers)
    program = lower_model(
        args.accelerator,
        _parse_params(args.param),
        args.model,
        args.batch,
        layers,
        _model_params(args.model_param),
        args.skip_unsupported,
        _int_params(args.dim, "--dim"),
    )
    try:
        folder = write_trace(program, args.out, materialize)
    except OSError as exc:
        raise UserInputError(
            f"-o {args.out}: cannot write a trace there ({exc.strerror or exc}); "
            "give a folder you can write to"
        ) from None
    instructions = sum(count_instructions(layer.root, program.blocks) for layer in program.layers)
    on_host, fused = placement_counts(program.host_layers)
    hosted = (f", {on_host} on the host" if on_host else "") + (
        f", {fused} fused into another layer" if fused else ""
    )
    stderr = _stderr()
    stderr.print(
        f"lowered {program.model} ({len(program.layers)} layers{hosted}, {instructions:,} "
        f"instructions) onto {program.accelerator} in {time.perf_counter() - started:.2f} s"
    )
    for note in program.notes:
        if note.startswith(SKIPPED_NOTE):
            stderr.print(f"warning: {note}")
    print(folder)
    return 0


def _analyze(args: argparse.Namespace, console: Console) -> int:
    from analyzer.engine.bounds import BlockUsage
    from analyzer.engine.evaluate import evaluate_one
    from analyzer.engine.packing import pack_blocks
    from analyzer.engine.recurrence import CriticalCycle
    from analyzer.report import check_json_destination, print_table, report_dict, write_json
    from tracer.trace_io import read_trace

    program = read_trace(args.trace)
    if args.json is not None:
        check_json_destination(args.json)  # fail before the work, not after
    started = time.perf_counter()
    blocks = pack_blocks(program, checked=True)  # read_trace validated it
    critical: dict[int, CriticalCycle | None] | None = {} if args.recurrence else None
    usage: dict[int, BlockUsage] = {}
    # Full mode is the reference that walks every instruction, so only fast mode reuses.
    reuse: dict | None = {} if args.mode == "fast" else None
    results = []
    with _progress(console) as progress:
        task = progress.add_task(f"{args.mode} evaluation", total=len(program.layers))
        for layer in program.layers:
            results.append(evaluate_one(layer, program, blocks, args.mode, usage, critical, reuse))
            progress.advance(task)
    seconds = time.perf_counter() - started
    baselines = None
    if args.baselines:
        from analyzer.crosscheck.baselines import program_baselines

        baselines = program_baselines(
            program.roofline,
            [r.mapping for r in results],
            [r.macs for r in results],
            [r.cycles for r in results],
        )
    print_table(console, program, results, args.mode, seconds, baselines)
    if args.json is not None:
        write_json(args.json, report_dict(program, results, args.mode, seconds, baselines))
    return 0


def _layers(args: argparse.Namespace, console: Console) -> int:
    from analyzer.report import check_json_destination, write_json
    from tracer.workloads.layer_table import model_record, print_layers

    if args.json is not None:
        check_json_destination(args.json)
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
    from accelerators.catalog import find_accelerator
    from analyzer.crosscheck.scalesim_bridge import INSTALL_HINT, ScaleSimUnavailable
    from analyzer.crosscheck.scalesim_env import scalesim_python
    from analyzer.crosscheck.validate import check_comparable, compare_with_scalesim
    from analyzer.report import check_json_destination, write_json
    from tracer.lowering import lower_workload, select_layers

    if args.json is not None:
        check_json_destination(args.json)
    accelerator = find_accelerator(args.accelerator).resolve(_parse_params(args.param))
    workload = select_layers(_load(args), _layer_names(args.layers))
    program = lower_workload(accelerator, workload)
    check_comparable(program, accelerator.isa, workload)
    if not program.layers:
        raise UserInputError(
            f"--model {args.model}: none of the chosen layers runs on the array "
            f"({', '.join(h.name for h in program.host_layers)} run on the host), so there "
            "is nothing to compare with SCALE-Sim"
        )
    if scalesim_python() is None:
        raise ScaleSimUnavailable(f"validate --against scalesim needs SCALE-Sim.\n{INSTALL_HINT}")
    with _progress(console) as progress:
        task = progress.add_task("SCALE-Sim, layer by layer", total=len(program.layers))
        validation = compare_with_scalesim(
            program, workload, on_layer=lambda _: progress.advance(task)
        )
    _print_validation(console, validation)
    if args.json is not None:
        write_json(args.json, validation.as_dict())
    return 0


def _print_validation(console: Console, validation: Validation) -> None:
    params = ", ".join(f"{k}={v}" for k, v in validation.parameters.items())
    table = Table(
        title=f"{validation.model} on {validation.accelerator} ({params}) against "
        f"SCALE-Sim {validation.scalesim_version}",
        title_justify="left",
    )
    for column in (
        "layer",
        "accperf",
        "SCALE-Sim compute",
        "SCALE-Sim total",
        "stalls",
        "error",
        "accperf time",
        "SCALE-Sim time",
    ):
        table.add_column(column, justify="left" if column == "layer" else "right")
    for c in validation.layers:
        table.add_row(
            c.name,
            f"{c.accperf_cycles:,}",
            f"{c.scalesim_compute_cycles:,}",
            f"{c.scalesim_total_cycles:,}",
            f"{c.scalesim_stall_cycles:,}",
            f"{100 * c.error:+.2f}%",
            f"{1e3 * c.accperf_seconds:.1f} ms",
            f"{c.scalesim_seconds:.2f} s",
        )
    table.add_section()
    accperf_s, scalesim_s = (
        validation.total("accperf_seconds"),
        validation.total("scalesim_seconds"),
    )
    table.add_row(
        "total",
        f"{validation.total('accperf_cycles'):,.0f}",
        f"{validation.total('scalesim_compute_cycles'):,.0f}",
        f"{validation.total('scalesim_total_cycles'):,.0f}",
        f"{validation.total('scalesim_stall_cycles'):,.0f}",
        "",
        f"{1e3 * accperf_s:.1f} ms",
        f"{scalesim_s:.2f} s",
    )
    console.print(table)
    if validation.not_compared:
        console.print(
            f"not compared (SCALE-Sim does not run them either): "
            f"{len(validation.not_compared)} pooling/element-wise layers"
        )
    console.print(
        f"MAPE against SCALE-Sim total cycles (with stalls): {validation.mape():.2f}%; "
        f"against its compute cycles: {validation.mape(compute=True):.2f}%; "
        f"{len(validation.layers)} layers; SCALE-Sim took "
        f"{scalesim_s / max(accperf_s, 1e-9):,.0f}x as long"
    )


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


SHOW_ITERATION_LIMIT = 1_000_000


def _show(args: argparse.Namespace, console: Console) -> int:
    from analyzer.engine.evaluate import run_kernel
    from analyzer.engine.packing import pack_blocks, pack_layer
    from tracer.trace_io import iterate_blocks, read_trace, render_operand

    program = read_trace(args.trace)
    names = [layer.name for layer in program.layers]
    hosted = {host.name: host for host in program.host_layers}
    if args.layer in hosted:
        raise UserInputError(
            f"--layer {args.layer!r}: {hosted[args.layer].reason}, so it has no instructions"
        )
    if args.layer not in names:
        shown = ", ".join(names[:8]) + (", ..." if len(names) > 8 else "")
        raise UserInputError(
            f"--layer {args.layer!r}: no such layer in {args.trace}; layers: {shown}"
        )
    layer = program.layers[names.index(args.layer)]
    first, last = _parse_range(args.iterations)
    if args.max_rows < 1:
        raise UserInputError(f"--max-rows {args.max_rows}: give at least 1")
    if last > SHOW_ITERATION_LIMIT:
        raise UserInputError(
            f"--iterations {args.iterations}: show walks iterations one by one; stay below "
            f"{SHOW_ITERATION_LIMIT:,}"
        )
    offset = 0
    selected = []
    for iteration, (block_id, index) in enumerate(iterate_blocks(layer.root)):
        if iteration >= last:
            break
        size = len(program.blocks[block_id].templates)
        if iteration >= first:
            selected.append((iteration, block_id, index, offset))
        offset += size
    if not selected:
        raise UserInputError(
            f"--iterations {args.iterations}: layer {layer.name!r} has fewer than "
            f"{first + 1} iterations"
        )
    record_first = selected[0][3]
    # Record (and evaluate) no further than the last row printed.
    record_count = min(offset - record_first, args.max_rows)
    blocks = pack_blocks(program, checked=True)  # read_trace validated it
    packed = pack_layer(layer, program, blocks)
    _, _, _, _, timeline = run_kernel(
        packed, blocks, program, fast=False, record_first=record_first, record_count=record_count
    )
    table = Table(
        title=f"{layer.name}: iterations {first}..{last - 1} (full evaluation timing)",
        title_justify="left",
    )
    for column in ("iter", "block", "pos", "opcode", "unit", "reads", "writes", "start", "end"):
        table.add_column(column)
    rows = 0
    for iteration, block_id, index, start_offset in selected:
        block = program.blocks[block_id]
        for position, t in enumerate(block.templates):
            if rows >= args.max_rows:
                break
            k = start_offset + position - record_first
            table.add_row(
                str(iteration),
                block.name,
                str(position),
                t.opcode,
                f"{t.unit}[{t.instance}]",
                ", ".join(render_operand(o, index) for o in t.reads),
                ", ".join(render_operand(o, index) for o in t.writes),
                str(int(timeline.start[k])),
                str(int(timeline.end[k])),
            )
            rows += 1
    console.print(table)
    if offset - record_first > rows:
        console.print(
            f"{offset - record_first - rows} more instructions; raise --max-rows to see them"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
