"""Run SCALE-Sim 3.0.0 on a list of conv layers and print per-layer cycle counts as JSON.

STANDALONE on purpose: it runs under SCALE-Sim's own interpreter (a separate venv, because
scalesim 3.0.0 breaks on numpy >= 2.4 while accperf's venv has numpy 2.4), so it may import
only the standard library and `scalesim`, never anything from the accperf repository.

    python scalesim_runner.py < request.json > result.json

Request (JSON on stdin):
    {"rows": int, "cols": int, "dataflow": "ws" | "os" | "is",
     "ifmap_sram_kib": int, "filter_sram_kib": int, "ofmap_sram_kib": int,
     "bandwidth": int,   # DRAM words/cycle; 0 = SCALE-Sim's CALC (estimate-bandwidth) mode
     "layers": [{"name": str, "ifmap_h": int, "ifmap_w": int, "filter_h": int,
                 "filter_w": int, "channels": int, "num_filters": int, "stride": int}, ...]}

Result (JSON on stdout):
    {"scalesim_version": str, "numpy_version": str, "bandwidth_mode": "CALC" | "USER",
     "wall_seconds": float, "layers": [{"name", "total_cycles", "stall_cycles",
     "compute_cycles", "demand_rows", "total_cycles_incl_prefetch", "wall_seconds"}, ...]}

Field meanings, in SCALE-Sim terms (all per layer, read from the in-memory
`simulator.single_layer_sim_object_list[i].get_compute_report_items()`,
scalesim/single_layer_sim.py, i.e. the same numbers COMPUTE_REPORT.csv gets):
  total_cycles   SCALE-Sim's "Total Cycles" = memory_system.get_total_compute_cycles()
                 (scalesim/memory/double_buffered_scratchpad_mem.py,
                 service_memory_requests: `int(max(ofmap_serviced_cycles))`). It is the cycle
                 *index* (0-based) at which the last row of the OFMAP demand matrix is
                 serviced, stalls included: row i is issued at cycle i + stalls so far
                 (service_memory_requests) and write_buffer.service_writes returns that
                 cycle (+ drain offset). Stall-free it therefore equals demand_rows - 1, not
                 the row count. (The v2-era service_memory_requests_old in the same file
                 added the + 1: `ofmap_cycles_out[-1][0] + 1`.)
  stall_cycles   SCALE-Sim's "Stall Cycles" = memory_system.get_stall_cycles(): sum over
                 demand rows of max(ifmap, filter, ofmap) extra service latency. Always 0
                 for the read side in CALC mode (read_buffer_estimate_bw.service_reads
                 returns cycle + hit_latency); the OFMAP write buffer can still stall.
  compute_cycles total_cycles - stall_cycles (SCALE-Sim has no separate field for this), so
                 stall-free it is demand_rows - 1.
  demand_rows    number of rows (= cycles) of the layer's OFMAP demand matrix built by the
                 compute model (systolic_compute_{ws,os,is}.create_ofmap_demand_mat; the IFMAP
                 and filter demand matrices have the same row count, and
                 service_memory_requests walks them one row per cycle). This is SCALE-Sim's
                 stall-free compute time counted as a number of cycles, pipeline fill/drain
                 included: folds * (2R + C + T - 2) for ws/is, folds * (T + R + C - 2) for os,
                 Sr/Sc/T per topology_utils.calc_spatio_temporal_params with SCALE-Sim's
                 ofmap size ceil((H - R + S) / S) (topology_utils.topo_calc_hyperparams),
                 which exceeds (H - R) // S + 1 whenever (H - R) % S != 0.
  total_cycles_incl_prefetch
                 SCALE-Sim's "Total Cycles (incl. prefetch)" = single_layer_sim.overall_cycles
                 = ofmap DRAM stop cycle - min(ifmap, filter DRAM start cycle).
  wall_seconds   time.perf_counter() around single_layer_sim.run() for that layer (the
                 compute + memory simulation; excludes report generation). The top-level
                 wall_seconds times the whole scalesim.run_scale() call.

Exit codes: 0 ok; 2 malformed request (one line on stderr); 3 scalesim cannot be used in
this interpreter (not importable, or numpy too new); 1 SCALE-Sim itself failed.
Everything SCALE-Sim prints goes to stderr; stdout carries only the result JSON.
"""

from __future__ import annotations

import contextlib
import importlib.metadata
import json
import os
import shutil
import sys
import tempfile
import time
import traceback
from collections.abc import Iterator
from typing import Any

EXIT_BAD_REQUEST = 2
EXIT_UNUSABLE = 3
EXIT_SIM_FAILED = 1

_DATAFLOWS = ("ws", "os", "is")
_TOP_INT_KEYS = ("rows", "cols", "ifmap_sram_kib", "filter_sram_kib", "ofmap_sram_kib")
_LAYER_INT_KEYS = (
    "ifmap_h",
    "ifmap_w",
    "filter_h",
    "filter_w",
    "channels",
    "num_filters",
    "stride",
)
_INSTALL_HINT = (
    "install it with: python -m venv .venv-scalesim && "
    ".venv-scalesim/bin/pip install 'numpy<2.4' scalesim==3.0.0"
)


class BadRequest(ValueError):
    """The request JSON does not have the documented shape."""


def _is_int(value: object) -> bool:
    # bool is an int subclass; `true` is never a valid size.
    return isinstance(value, int) and not isinstance(value, bool)


def validate(request: object) -> dict[str, Any]:
    """Check the request shape; raise BadRequest naming the first bad field."""
    if not isinstance(request, dict):
        raise BadRequest("request must be a JSON object")
    for key in _TOP_INT_KEYS:
        if not _is_int(request.get(key)) or request[key] < 1:
            raise BadRequest(f"'{key}' must be an integer >= 1, got {request.get(key)!r}")
    bandwidth = request.get("bandwidth", 0)
    if not _is_int(bandwidth) or bandwidth < 0:
        raise BadRequest(f"'bandwidth' must be an integer >= 0, got {bandwidth!r}")
    if request.get("dataflow") not in _DATAFLOWS:
        raise BadRequest(f"'dataflow' must be one of {_DATAFLOWS}, got {request.get('dataflow')!r}")
    layers = request.get("layers")
    if not isinstance(layers, list) or not layers:
        raise BadRequest("'layers' must be a non-empty list")
    for idx, layer in enumerate(layers):
        if not isinstance(layer, dict):
            raise BadRequest(f"layers[{idx}] must be an object")
        if not isinstance(layer.get("name"), str):
            raise BadRequest(f"layers[{idx}].name must be a string")
        for key in _LAYER_INT_KEYS:
            if not _is_int(layer.get(key)) or layer[key] < 1:
                raise BadRequest(
                    f"layers[{idx}].{key} must be an integer >= 1, got {layer.get(key)!r}"
                )
        # SCALE-Sim asserts this itself (topology_utils.append_topo_arrays, "ISSUE #9 Fix");
        # checking here turns its AssertionError into a one-line request error.
        if layer["filter_h"] > layer["ifmap_h"] or layer["filter_w"] > layer["ifmap_w"]:
            raise BadRequest(f"layers[{idx}]: filter is larger than the ifmap")
    return request


def config_text(request: dict[str, Any]) -> str:
    """SCALE-Sim .cfg text for the request.

    Every section/key below is one that scale_config.read_conf_file (scalesim/scale_config.py)
    reads unconditionally with configparser.get, so leaving any out raises NoSectionError /
    NoOptionError. configparser lower-cases option names, so spelling case does not matter.
    """
    bandwidth = int(request.get("bandwidth", 0))
    # read_conf_file: 'InterfaceBandwidth' == 'CALC' -> use_user_bandwidth False, i.e.
    # estimate-bandwidth mode (single_layer_sim.run uses read_buffer_estimate_bw, stall-free
    # reads). 'USER' -> it also reads 'Bandwidth' (comma list) from [architecture_presets].
    mode = "USER" if bandwidth > 0 else "CALC"
    # In USER mode single_layer_sim.run takes the OFMAP DRAM bandwidth from Bandwidth[0] but
    # the IFMAP/Filter DRAM bandwidths from [layout] IfmapSRAMBankBandwidth /
    # FilterSRAMBankBandwidth, so all three are set to the requested value. read_buffer.set_params
    # asserts bandwidth % bank_num == 0, hence 1 bank. Bank ports only matter with a custom
    # layout (read_buffer.service_reads, enable_layout_evaluation), which we keep off.
    bank_bw = bandwidth if bandwidth > 0 else 10  # 10 = scale_config default; unused in CALC
    lines = [
        "[general]",
        "run_name = accperf",
        "",
        "[run_presets]",
        f"InterfaceBandwidth = {mode}",
        # Anything but the exact string 'True' disables the ramulator DRAM-trace path.
        "UseRamulatorTrace = False",
        "",
        "[architecture_presets]",
        f"ArrayHeight = {request['rows']}",
        f"ArrayWidth = {request['cols']}",
        f"IfmapSramSzkB = {request['ifmap_sram_kib']}",
        f"FilterSramSzkB = {request['filter_sram_kib']}",
        f"OfmapSramSzkB = {request['ofmap_sram_kib']}",
        # Address offsets only keep the three operands' addresses apart (upstream defaults).
        "IfmapOffset = 0",
        "FilterOffset = 10000000",
        "OfmapOffset = 20000000",
        f"Dataflow = {request['dataflow']}",
        f"Bandwidth = {bank_bw}",
        # Request-queue sizes are only used by read_port/write_port in ramulator mode;
        # upstream configs/scale.cfg value.
        "ReadRequestBuffer = 512",
        "WriteRequestBuffer = 512",
        "",
        "[layout]",
        "IfmapCustomLayout = False",
        "FilterCustomLayout = False",
        f"IfmapSRAMBankBandwidth = {bank_bw}",
        "IfmapSRAMBankNum = 1",
        "IfmapSRAMBankPort = 2",
        f"FilterSRAMBankBandwidth = {bank_bw}",
        "FilterSRAMBankNum = 1",
        "FilterSRAMBankPort = 2",
        "",
        "[sparsity]",
        "SparsitySupport = False",
        "",
    ]
    # No [network_presets] section: read_conf_file would look 'TopologyCsvLoc' up in the wrong
    # section (its `section` variable still says architecture_presets) and fail; the topology
    # path is passed to the scalesim constructor instead.
    return "\n".join(lines)


def topology_text(layers: list[dict[str, Any]]) -> str:
    """Conv topology CSV as parsed by topology_utils.load_arrays_conv.

    That parser skips the first line, splits on ',' and drops the last field (so every row
    needs a trailing comma), duplicates the single stride column into stride_h/stride_w and
    treats any name containing 'DP' as a depthwise layer. We therefore write neutral names
    ("layer<i>") and map results back to the caller's names by position.
    """
    rows = [
        (
            "Layer name,IFMAP height,IFMAP width,Filter height,Filter width,"
            "Channels,Num filter,Stride,"
        )
    ]
    for idx, layer in enumerate(layers):
        fields = [f"layer{idx}"] + [str(layer[key]) for key in _LAYER_INT_KEYS]
        rows.append(",".join(fields) + ",")
    return "\n".join(rows) + "\n"


@contextlib.contextmanager
def stdout_to_stderr() -> Iterator[None]:
    """Send everything written to stdout (Python-level and fd 1) to stderr meanwhile.

    SCALE-Sim prints with print() and, on some paths, os.system(); redirecting only
    sys.stdout would miss the latter, so fd 1 itself is pointed at fd 2.
    """
    sys.stdout.flush()
    saved_fd = os.dup(1)
    try:
        os.dup2(2, 1)
        with contextlib.redirect_stdout(sys.stderr):
            yield
    finally:
        sys.stdout.flush()
        os.dup2(saved_fd, 1)
        os.close(saved_fd)


def _version(dist: str) -> str:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


def _check_usable() -> str | None:
    """Return why scalesim cannot run in this interpreter, or None if it can."""
    try:
        import numpy  # noqa: F401  (scalesim's only heavy dependency)
        import scalesim.scale_sim  # noqa: F401
    except Exception as exc:  # noqa: BLE001  any import failure means "unusable here"
        return f"cannot import scalesim in {sys.executable}: {exc!r}; {_INSTALL_HINT}"
    numpy_version = _version("numpy")
    parts = numpy_version.split(".")
    # scalesim 3.0.0 calls int(max(list_of_1x1_arrays)) (double_buffered_scratchpad_mem.py
    # service_memory_requests; read_buffer.py); numpy 2.4 made int() of ndim>0 arrays a
    # TypeError (SCALE-Sim issue #160).
    if (
        _version("scalesim") == "3.0.0"
        and len(parts) >= 2
        and parts[0].isdigit()
        and parts[1].isdigit()
        and (int(parts[0]), int(parts[1])) >= (2, 4)
    ):
        return (
            f"scalesim 3.0.0 fails with numpy {numpy_version} >= 2.4 (SCALE-Sim issue "
            f"#160) in {sys.executable}; {_INSTALL_HINT}"
        )
    return None


def simulate(request: dict[str, Any]) -> dict[str, Any]:
    """Run SCALE-Sim on the request in a throw-away directory and collect per-layer results."""
    from scalesim.scale_sim import scalesim
    from scalesim.single_layer_sim import single_layer_sim

    layers: list[dict[str, Any]] = request["layers"]
    per_layer_wall: dict[int, float] = {}

    # simulator.run (scalesim/simulator.py) calls single_layer_obj.run() once per layer in a
    # plain loop; wrapping the class method times each layer without re-implementing the loop.
    original_run = single_layer_sim.run

    def timed_run(self: Any) -> None:
        start = time.perf_counter()
        original_run(self)
        per_layer_wall[int(self.layer_id)] = time.perf_counter() - start

    tmpdir = tempfile.mkdtemp(prefix="accperf-scalesim-")
    try:
        config_path = os.path.join(tmpdir, "accperf.cfg")
        topology_path = os.path.join(tmpdir, "topology.csv")
        layout_path = os.path.join(tmpdir, "layout.csv")
        with open(config_path, "w", encoding="utf-8") as fh:
            fh.write(config_text(request))
        with open(topology_path, "w", encoding="utf-8") as fh:
            fh.write(topology_text(layers))
        # scalesim.set_params always calls layouts.load_arrays(layout path) and
        # layout_utils.load_layout_conv open()s it unconditionally (the config never sets a
        # layout path, so '' would raise). Its rows are only read with a custom layout, which
        # is off, so a header-only file is enough.
        with open(layout_path, "w", encoding="utf-8") as fh:
            fh.write("Layer name,\n")

        single_layer_sim.run = timed_run  # restored in `finally` below
        try:
            with stdout_to_stderr():
                # scale_sim.scalesim.__init__(save_disk_space, verbose, config, topology,
                # layout, input_type_gemm); save_disk_space=True -> simulator save_trace=False,
                # so no per-layer SRAM/DRAM trace CSVs, but simulator.generate_reports still
                # writes COMPUTE/BANDWIDTH/DETAILED_ACCESS_REPORT.csv under top_path/run_name.
                sim = scalesim(
                    save_disk_space=True,
                    verbose=False,
                    config=config_path,
                    topology=topology_path,
                    layout=layout_path,
                )
                start = time.perf_counter()
                sim.run_scale(top_path=tmpdir)  # scale_sim.scalesim.run_scale(top_path='.')
                wall = time.perf_counter() - start
        finally:
            single_layer_sim.run = original_run

        layer_objs = sim.runner.single_layer_sim_object_list
        if len(layer_objs) != len(layers):
            raise RuntimeError(
                f"SCALE-Sim simulated {len(layer_objs)} layers for {len(layers)} requested"
            )
        results: list[dict[str, Any]] = []
        for idx, (layer, obj) in enumerate(zip(layers, layer_objs, strict=True)):
            # [overall_cycles, total_cycles, stall_cycles, overall_util, mapping_eff,
            #  compute_util] -- single_layer_sim.get_compute_report_items.
            items = obj.get_compute_report_items()
            total = int(items[1])
            stall = int(items[2])
            results.append(
                {
                    "name": layer["name"],
                    "total_cycles": total,
                    "stall_cycles": stall,
                    "compute_cycles": total - stall,
                    "demand_rows": int(obj.compute_system.ofmap_demand_matrix.shape[0]),
                    "total_cycles_incl_prefetch": int(items[0]),
                    "wall_seconds": per_layer_wall.get(idx),
                    # Words each SRAM and DRAM side moved (single_layer_sim.calc_report_data:
                    # the valid entries of its demand matrices; DRAM from its buffers).
                    "traffic": {
                        "ifmap_sram_reads": int(obj.ifmap_sram_reads),
                        "filter_sram_reads": int(obj.filter_sram_reads),
                        "ofmap_sram_writes": int(obj.ofmap_sram_writes),
                        "ifmap_dram_reads": int(obj.ifmap_dram_reads),
                        "filter_dram_reads": int(obj.filter_dram_reads),
                        "ofmap_dram_writes": int(obj.ofmap_dram_writes),
                    },
                }
            )
        return {
            "scalesim_version": _version("scalesim"),
            "numpy_version": _version("numpy"),
            "bandwidth_mode": "USER" if int(request.get("bandwidth", 0)) > 0 else "CALC",
            "wall_seconds": wall,
            "layers": results,
        }
    finally:
        shutil.rmtree(tmpdir, ignore_errors=True)


def main() -> int:
    try:
        request = validate(json.load(sys.stdin))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        print(f"scalesim_runner: malformed request: not valid JSON ({exc})", file=sys.stderr)
        return EXIT_BAD_REQUEST
    except BadRequest as exc:
        print(f"scalesim_runner: malformed request: {exc}", file=sys.stderr)
        return EXIT_BAD_REQUEST

    problem = _check_usable()
    if problem is not None:
        print(f"scalesim_runner: {problem}", file=sys.stderr)
        return EXIT_UNUSABLE

    try:
        result = simulate(request)
    except (Exception, SystemExit) as exc:  # noqa: BLE001
        # SCALE-Sim reports some input errors with print() + exit() (scale_sim.set_params);
        # catch SystemExit too so the caller always gets our exit code and a traceback.
        traceback.print_exc(file=sys.stderr)
        print(f"scalesim_runner: SCALE-Sim failed: {exc!r}", file=sys.stderr)
        return EXIT_SIM_FAILED

    json.dump(result, sys.stdout)
    sys.stdout.write("\n")
    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
