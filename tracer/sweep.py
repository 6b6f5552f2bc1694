"""Design-space sweeps: every combination of parameter values, models and batch sizes,
lowered and analysed (fast mode) in worker processes, one Parquet file of results.

One row per (configuration, layer) plus one per configuration with `row` = "total"; a
configuration that cannot run (a parameter out of range, a tile that fits no buffer) is
one row with its `error` and the sweep goes on. The file is rewritten (atomically) as
configurations finish and when the sweep is interrupted, so a second run of the same
sweep reads it and evaluates only the configurations it does not hold yet for that
accelerator. polars reads it alone:
`pl.read_parquet("sweep.parquet")`.
"""

from __future__ import annotations

import itertools
import json
import multiprocessing
import os
import socket
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from numbers import Integral
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tracer.api import AccperfError, accelerator_spec, analyze, load_model, lower
from tracer.errors import UserInputError
from tracer.workloads.zoo import MODELS

if TYPE_CHECKING:
    import polars as pl

# Columns every row has, before the accelerator's parameters.
KEY_COLUMNS = ("model", "accelerator", "batch", "configuration")
LAYER_COLUMNS = (
    "row",  # "layer" or "total"
    "layer",
    "kind",
    "placement",
    "cycles",
    "macs",
    "instructions",
    "utilization",
    "bound",
    "peak_macs_per_cycle",  # total rows: the description's MAC units (its roofline peak)
    "error",
)
# Columns a row has where the program prices its actions (analyzer/traffic_report.py),
# after LAYER_COLUMNS: MACs issued and energy, then each memory's bytes read and written
# (`<memory>.read_bytes`, ...; their names depend on the accelerator).
ACTION_COLUMNS = ("macs_issued", "energy_pj", "energy_delay_pj_cycles")
SAVE_EVERY_SECONDS = 5.0  # how often finished configurations reach the file


class SweepError(UserInputError):
    """A sweep that cannot start (a bad grid, an unreadable results file)."""


@dataclass(frozen=True)
class Configuration:
    model: str
    batch: int | None
    params: dict[str, str]  # the grid's values for this configuration

    @property
    def key(self) -> str:
        """What identifies it among one accelerator's rows of the results file (resume
        compares these, with the accelerator column)."""
        return json.dumps(
            {"model": self.model, "batch": self.batch, "params": self.params}, sort_keys=True
        )


@dataclass(frozen=True)
class Progress:
    done: int
    failed: int
    total: int
    skipped: int  # already in the file


def configurations(
    models: Sequence[str], grid: Mapping[str, Sequence[str]], batches: Sequence[int | None]
) -> list[Configuration]:
    """The product of the grids, times the models, times the batch sizes, in that order;
    a value given twice is run once (twice would write its rows twice)."""
    names = list(grid)
    return [
        Configuration(model, batch, dict(zip(names, values, strict=True)))
        for model in dict.fromkeys(models)
        for batch in dict.fromkeys(batches)
        for values in itertools.product(*(dict.fromkeys(grid[name]) for name in names))
    ]


def sweep(
    accelerator: str,
    models: Sequence[str],
    grid: Mapping[str, Sequence[int | str]],
    out: str | Path,
    batches: Sequence[int | None] = (None,),
    workers: int | None = None,
    on_progress: Callable[[Progress], None] | None = None,
    ray: str | None = None,
) -> pl.DataFrame:
    """Run every configuration not already in `out` (a Parquet file), `workers` at a time
    in worker processes (default: one per core; 1: in this process), or as tasks on a Ray
    cluster (`ray`: "local" starts one for the run with `workers` CPUs, else the address
    of a running one), and return the whole file's rows. `grid`: parameter -> values;
    `batches`: None for the model's own."""
    out = Path(out)
    if out.suffix != ".parquet":
        raise SweepError(f"-o {out}: the results are a Parquet file; name a .parquet file")
    if not out.parent.is_dir():
        raise SweepError(f"-o {out}: folder {out.parent} does not exist")
    if not models or isinstance(models, str):
        raise SweepError("--model: give a list of at least one model to sweep")
    if not batches:
        raise SweepError("--batch: give at least one batch size (None for the model's own)")
    for batch in batches:
        if batch is not None and (
            not isinstance(batch, Integral) or isinstance(batch, bool) or batch < 1
        ):
            raise SweepError(f"--batch must be a positive integer, got {batch!r}")
    batches = [None if batch is None else int(batch) for batch in batches]  # numpy's too
    for model in models:
        if model not in MODELS:
            # A misspelt model, or a file that is no model, would fail every one of its
            # configurations alike: one error before any work, as for a misspelt parameter.
            try:
                load_model(model, batches[0])
            except UserInputError as exc:
                raise SweepError(f"--model {model}: {exc}") from None
    spec = accelerator_spec(accelerator)
    listed: dict[str, list[int | str]] = {}
    for name, values in grid.items():
        parameter = spec.parameter(name)  # an unknown one: one clear error before any work
        if isinstance(values, (str, bytes)) or not isinstance(values, Iterable):
            raise SweepError(f"--grid {name}: give a list of values, not {values!r}")
        values = listed[name] = list(values)
        if not values:
            raise SweepError(f"--grid {name}=: give at least one value")
        for value in values if parameter.kind == "int" else ():
            # A value of the wrong kind is a typo, not a configuration to record: its text
            # in an integer column would turn every row's value into text.
            try:
                int(str(value))
            except ValueError:
                raise SweepError(
                    f"--grid {name}={value}: {name} takes integers ({parameter.describe_allowed()})"
                ) from None
    _check_writable(out)
    grid_text = {
        name: [_canonical(spec, name, str(v)) for v in values] for name, values in listed.items()
    }
    todo = configurations(models, grid_text, batches)
    earlier = _read_results(out)
    # A configuration's key names no accelerator: one file may hold several accelerators'
    # sweeps, and another accelerator's row must not count as done.
    done_keys = (
        set(earlier.filter(earlier["accelerator"] == accelerator)["configuration"].unique())
        if earlier.height
        else set()
    )
    pending = [c for c in todo if c.key not in done_keys]
    order = {c.key: position for position, c in enumerate(todo)}
    rows: list[dict[str, Any]] = []
    counts = {"done": 0, "failed": 0}

    def report(result: list[dict[str, Any]]) -> None:
        rows.extend(result)
        counts["done"] += 1
        counts["failed"] += result[0]["error"] is not None
        if on_progress is not None:
            on_progress(
                Progress(counts["done"], counts["failed"], len(pending), len(todo) - len(pending))
            )

    last_save = time.monotonic()
    workers = workers or os.cpu_count() or 1
    if ray is not None:
        finished = _on_ray(ray, accelerator, pending, workers) if pending else iter(())
    elif workers == 1 or len(pending) <= 1:
        finished = (run_configuration(accelerator, c) for c in pending)
    else:
        finished = _in_processes(accelerator, pending, workers)
    try:
        for result in finished:
            report(result)
            if time.monotonic() - last_save > SAVE_EVERY_SECONDS:
                _write_results(out, earlier, rows, accelerator, order)
                last_save = time.monotonic()
    except BaseException:
        # Interrupted (Ctrl-C, or a bug): keep what finished, so the next run resumes
        # after it, and leave no configuration queued in the workers.
        getattr(finished, "close", lambda: None)()
        if rows:
            _write_results(out, earlier, rows, accelerator, order)
        raise
    return _write_results(out, earlier, rows, accelerator, order)


def _in_processes(
    accelerator: str, pending: list[Configuration], workers: int
) -> Iterator[list[dict[str, Any]]]:
    """Each configuration's rows as a worker process finishes it. The workers are forked
    from a server process that imported the analyzer and loaded its kernels once (from
    the shared JIT cache), not from this one: a fork of a process whose polars threads
    run can deadlock, and a spawned worker would load everything again."""
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["analyzer.engine.evaluate", "tracer.api"])
    with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
        futures = [pool.submit(run_configuration, accelerator, c) for c in pending]
        try:
            for future in as_completed(futures):
                yield future.result()
        finally:
            for future in futures:
                future.cancel()  # closed early: the pool's exit would run them all


def _on_ray(
    address: str, accelerator: str, pending: list[Configuration], workers: int
) -> Iterator[list[dict[str, Any]]]:
    """Each configuration's rows as a Ray task finishes it, on a local cluster started
    for the run ("local", `workers` CPUs) or the running one at `address` (whose nodes
    must have accperf installed)."""
    if address != "local":
        _check_reachable(address)
    try:
        import ray
    except ImportError:
        raise SweepError(
            "--ray: Ray is not installed; install it with pip install 'accperf[ray]'"
        ) from None
    options = {"include_dashboard": False, "log_to_driver": False, "logging_level": "ERROR"}
    try:
        if address == "local":
            ray.init(num_cpus=workers, **options)
        else:
            ray.init(address=address, **options)
    except (ConnectionError, RuntimeError, ValueError) as exc:
        raise SweepError(
            f"--ray {address}: cannot reach a Ray cluster there ({exc}); give the address "
            "`ray start --head` printed, or --ray alone for a local one"
        ) from None
    try:
        task = ray.remote(run_configuration)
        waiting = [task.remote(accelerator, c) for c in pending]
        while waiting:
            done, waiting = ray.wait(waiting, num_returns=1)
            yield ray.get(done[0])
    finally:
        ray.shutdown()


def run_configuration(accelerator: str, configuration: Configuration) -> list[dict[str, Any]]:
    """The rows of one configuration: its layers and its total, or one row with the error
    that kept it from running (bad input only: a bug in accperf still raises)."""
    base = {
        "model": configuration.model,
        "accelerator": accelerator,
        "batch": configuration.batch,
        "configuration": configuration.key,
    }
    try:
        resolved = accelerator_spec(accelerator).resolve(configuration.params)
        parameters = resolved.parameters
        result = analyze(
            lower(configuration.model, accelerator, configuration.params, configuration.batch)
        )
    except (AccperfError, UserInputError) as exc:
        return [{**base, **_parameter_columns(configuration.params), **_failed(str(exc))}]
    report = result.to_dict()
    rows = []
    for layer in report["layers"]:
        rows.append(
            {
                **base,
                **_parameter_columns(parameters),
                "row": "layer",
                "layer": layer["name"],
                "kind": layer["kind"],
                "placement": layer["placement"],
                "cycles": layer["cycles"],
                "macs": layer.get("macs"),
                "instructions": layer.get("instructions"),
                "utilization": layer.get("utilization"),
                "bound": layer.get("bound") or layer.get("reason"),
                "peak_macs_per_cycle": None,
                "error": None,
                **_action_columns(layer),
            }
        )
    totals = {
        **base,
        **_parameter_columns(parameters),
        "row": "total",
        "layer": None,
        "kind": None,
        "placement": None,
        "cycles": result.total_cycles,
        "macs": sum(r.macs for r in result.results),
        "instructions": sum(r.instructions for r in result.results),
        "utilization": _utilization(report["layers"]),
        "bound": None,
        "peak_macs_per_cycle": (resolved.roofline_table() or {}).get("peak_macs_per_cycle"),
        "error": None,
        **_action_columns(report.get("total", {})),
    }
    return [totals, *rows]


def _action_columns(entry: Mapping[str, Any]) -> dict[str, Any]:
    """A layer's (or the total's) MACs issued, energy and bytes per memory, where known."""
    columns = {name: entry[name] for name in ACTION_COLUMNS if name in entry}
    for memory, traffic in (entry.get("traffic") or {}).items():
        columns[f"{memory}.read_bytes"] = traffic["read_bytes"]
        columns[f"{memory}.write_bytes"] = traffic["write_bytes"]
    return columns


def _utilization(layers: list[dict[str, Any]]) -> float | None:
    """The network's utilization: its layers' (useful MACs over peak x cycles), weighted
    by their cycles, which is all useful MACs over peak x all accelerator cycles."""
    timed = [layer for layer in layers if layer.get("utilization") is not None]
    cycles = sum(layer["cycles"] for layer in timed)
    if not cycles:
        return None
    return sum(layer["utilization"] * layer["cycles"] for layer in timed) / cycles


def _parameter_columns(parameters: Mapping[str, int | str]) -> dict[str, str]:
    """Parameters as `param.<name>` columns, as text until the file is written
    (`_write_results` makes integer ones integers)."""
    return {f"param.{name}": str(value) for name, value in parameters.items()}


def _failed(message: str) -> dict[str, Any]:
    return {name: None for name in LAYER_COLUMNS} | {"row": "total", "error": message}


def _read_results(path: Path) -> pl.DataFrame:
    import polars as pl

    if not path.exists():
        return pl.DataFrame()
    try:
        frame = pl.read_parquet(path)
    except Exception as exc:  # polars raises several kinds for a damaged file
        raise SweepError(
            f"{path}: not a readable sweep results file ({type(exc).__name__}); move it away "
            "or give another -o"
        ) from None
    missing = [c for c in (*KEY_COLUMNS, *LAYER_COLUMNS) if c not in frame.columns]
    if missing:
        raise SweepError(
            f"{path}: not a sweep results file (no column {missing[0]!r}); move it away or "
            "give another -o"
        )
    return frame


def _write_results(
    path: Path,
    earlier: pl.DataFrame,
    rows: list[dict[str, Any]],
    accelerator: str,
    order: Mapping[str, int],
) -> pl.DataFrame:
    """The earlier rows and the new ones, written to a temporary file and renamed over
    `path`, so an interrupted sweep leaves the last complete file. `accelerator`'s
    configurations come in `order` (key -> position in the grid), whichever worker
    finished first; rows of other sweeps the file holds come first, as they were."""
    import polars as pl

    new = pl.DataFrame(rows, infer_schema_length=None) if rows else pl.DataFrame()
    frame = pl.concat([earlier, new], how="diagonal_relaxed") if earlier.height else new
    if frame.height:
        position = pl.col("configuration").replace_strict(
            dict(order), default=-1, return_dtype=pl.Int64
        )
        rank = pl.when(pl.col("accelerator") == accelerator).then(position).otherwise(-1)
        frame = frame.sort(rank, maintain_order=True)
    ordered = [c for c in (*KEY_COLUMNS, *LAYER_COLUMNS, *ACTION_COLUMNS) if c in frame.columns]
    params = sorted(c for c in frame.columns if c.startswith("param."))
    traffic = sorted(c for c in frame.columns if c.endswith(("read_bytes", "write_bytes")))
    frame = frame.select([*ordered[:4], *params, *ordered[4:], *traffic])
    # Integer parameters as integers (they are kept as text until every row is in, since
    # a configuration that failed keeps the text it was given).
    integral = [
        c for c in params if frame[c].cast(pl.String).drop_nulls().str.contains(r"^-?\d+$").all()
    ]
    frame = frame.with_columns(pl.col(c).cast(pl.String).cast(pl.Int64) for c in integral)
    partial = path.with_name(f".{path.name}.partial")
    try:
        frame.write_parquet(partial)
        partial.replace(path)
    except OSError as exc:
        partial.unlink(missing_ok=True)
        raise SweepError(f"-o {path}: cannot write the results ({exc.strerror or exc})") from None
    return frame


def _check_reachable(address: str) -> None:
    """Refuse an address no cluster answers at, at once: Ray itself retries for minutes."""
    host, sep, port = address.removeprefix("ray://").rpartition(":")
    if not sep or not host or not port.isdigit():
        raise SweepError(f"--ray {address}: expected HOST:PORT (or ray://HOST:PORT)")
    try:
        socket.create_connection((host, int(port)), timeout=5).close()
    except OSError as exc:
        raise SweepError(
            f"--ray {address}: no Ray cluster answers there ({exc.strerror or exc}); give the "
            "address `ray start --head` printed, or --ray alone for a local one"
        ) from None


def _check_writable(out: Path) -> None:
    """Before any work: a folder the results cannot be written to."""
    partial = out.with_name(f".{out.name}.partial")
    try:
        partial.touch()
        partial.unlink()
    except OSError as exc:
        raise SweepError(f"-o {out}: cannot write there ({exc.strerror or exc})") from None


def _canonical(spec: Any, name: str, text: str) -> str:
    """A grid value as the description reads it (`rows=04` is `rows=4`), so a configuration
    has one key whatever its spelling; a value the description refuses stays as given, to
    be recorded with its error."""
    try:
        return str(spec.parameter(name).parse(text, f"--grid {name}"))
    except UserInputError:
        return text
