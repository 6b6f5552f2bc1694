"""The systolic array's memory traffic against SCALE-Sim 3.0.0's counts, per layer: the
table of docs/accuracy.md's "Memory traffic" section.

    ACCPERF_SCALESIM_PYTHON=.venv-scalesim/bin/python .venv/bin/python \
        benchmarks/traffic_scalesim.py [--rows 8 --cols 8] [--layers a,b]

For each ResNet-50 layer chosen (default: four that SCALE-Sim runs in seconds to a minute
at 8x8, covering both DRAM regimes and a partial fold) and each of ws and os, it prints
accperf's counts (analyzer/actions.py, the code as it is) beside SCALE-Sim's and names the
reason for every difference (docs/research/scalesim-counts.md derives each):
  partial fold     accperf counts the edge reads of idle rows/columns (issued words);
                   SCALE-Sim counts the valid ones
  os +Fr*Fc*(R+C)  SCALE-Sim adds the sum of the fold's sides to its os ofmap writes once
                   per fold (compute/systolic_compute_os.py:403)
  partial reuse    an operand larger than its SRAM's active half: SCALE-Sim's replay reuses
                   the words used again within a half's worth of new words (neighbouring
                   windows, the next row fold's filters); accperf reads every use again
                   (an upper bound)
  restarts         accperf reads each word once where the operand, or one column fold's
                   filters under os, fit the active half; SCALE-Sim's buffer restarts empty
                   every half and re-reads the words whose reuse a restart splits
  line +bw-1       SCALE-Sim's first ofmap drain counts bw - 1 empty slots of a line
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from analyzer.actions import ActionCounter  # noqa: E402
from analyzer.crosscheck.scalesim_bridge import run_scalesim  # noqa: E402
from analyzer.crosscheck.validate import base_request  # noqa: E402
from isa.systolic.mapping import scalesim_rows  # noqa: E402
from tracer.api import lower  # noqa: E402
from tracer.workloads.zoo import build_model  # noqa: E402

DEFAULT_LAYERS = ("conv1", "layer1.0.conv1", "layer4.2.conv1", "fc")


def compare(rows: int, cols: int, dataflow: str, name: str) -> list[tuple[str, int, int, str]]:
    model = build_model("resnet50")
    layer = next(layer for layer in model.layers if layer.name == name)
    program = lower(
        "resnet50", "systolic", {"rows": rows, "cols": cols, "dataflow": dataflow}, layers=[name]
    ).program
    counted = {m.memory: m for m in ActionCounter(program).layer(program.layers[0]).traffic}
    request = {**base_request(program.parameters, "systolic"), "layers": scalesim_rows(layer)}
    expected = run_scalesim(request, timeout_s=3600)["layers"][0]["traffic"]
    mapping = program.layers[0].mapping
    sr, sc = int(mapping["spatial_rows"]), int(mapping["spatial_cols"])
    partial = sr % rows != 0 or sc % cols != 0
    pairs = [
        ("ifmap SRAM reads", counted["ifmap_sram"].read_words, expected["ifmap_sram_reads"]),
        ("filter SRAM reads", counted["filter_sram"].read_words, expected["filter_sram_reads"]),
        ("ofmap SRAM writes", counted["ofmap_sram"].write_words, expected["ofmap_sram_writes"]),
        ("ifmap DRAM reads", counted["ifmap_sram"].write_words, expected["ifmap_dram_reads"]),
        ("filter DRAM reads", counted["filter_sram"].write_words, expected["filter_dram_reads"]),
        ("ofmap DRAM writes", counted["dram"].write_words, expected["ofmap_dram_writes"]),
    ]
    out = []
    for label, ours, theirs in pairs:
        if ours == theirs:
            reason = "equal"
        elif "SRAM" in label and "ofmap" in label and dataflow == "os":
            reason = "os +Fr*Fc*(R+C)" + (", partial fold" if partial else "")
        elif "SRAM" in label:
            reason = "partial fold" if partial else "UNEXPLAINED"
        elif "ofmap" in label:
            reason = "line +bw-1" if theirs - ours == cols - 1 else "UNEXPLAINED"
        else:
            reason = "partial reuse" if ours > theirs else "restarts"
        out.append((label, ours, theirs, reason))
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=8)
    parser.add_argument("--cols", type=int, default=8)
    parser.add_argument("--layers", default=",".join(DEFAULT_LAYERS))
    parser.add_argument("--dataflows", default="ws,os")
    args = parser.parse_args()
    print(f"ResNet-50 on {args.rows}x{args.cols}, SRAMs 256/256/128 KiB, bandwidth 0 (CALC)")
    print("| layer | dataflow | count | accperf | SCALE-Sim | difference |")
    print("|---|---|---|---|---|---|")
    unexplained = 0
    for dataflow in args.dataflows.split(","):
        for name in args.layers.split(","):
            for label, ours, theirs, reason in compare(args.rows, args.cols, dataflow, name):
                unexplained += reason == "UNEXPLAINED"
                print(
                    f"| {name} | {dataflow} | {label} | {ours:,} | {theirs:,} | {reason} |",
                    flush=True,
                )
    print(f"unexplained differences: {unexplained}")
    return 1 if unexplained else 0


if __name__ == "__main__":
    sys.exit(main())
