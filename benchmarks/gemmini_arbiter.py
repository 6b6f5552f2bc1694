"""How often two of Gemmini's unroller streams issue in the same cycle: a measured bound on
what the RTL's arbiter, which passes one command a cycle from the five stream machines (G
LoopConv.scala:1220-1226, LoopMatmul.scala:960), would add. accperf issues each stream from
its own front end (docs/accuracy.md, "What the model leaves out").

    .venv/bin/python benchmarks/gemmini_arbiter.py [LAYER,LAYER,...]

Per ResNet-50 layer on the default Gemmini, from a full evaluation: the commands, and how
many were issued in a cycle in which another stream also issued one (each would wait a
cycle behind the arbiter; the sum bounds the delay, as some waits overlap others).
"""

from __future__ import annotations

import sys
from collections import Counter

import numpy as np

import accperf
from analyzer.engine.evaluate import Evaluation
from isa.program import count_instructions
from tracer.trace_io import iterate_blocks

DEFAULT = "conv1,layer1.0.conv2,layer3.0.downsample,layer4.0.conv2"
trace = accperf.lower("resnet50", "gemmini", layers=(sys.argv[1:] or [DEFAULT])[0].split(","))
program = trace.program
ev = Evaluation(program, "full")
for layer in program.layers:
    n = count_instructions(layer.root, program.blocks)
    tl = ev.timeline(layer, 0, n)
    frontends = []
    for block, _ in iterate_blocks(layer.root):
        current = None
        for t in program.blocks[block].templates:
            if t.bundle_start:
                current = t.frontend
                frontends.append((current, True))
            else:
                frontends.append((current, False))
    issue = np.asarray(tl.issue)
    starts = [i for i, (_, b) in enumerate(frontends) if b]
    per_cycle = Counter(int(issue[i]) for i in starts if frontends[i][0] is not None)
    extra = sum(c - 1 for c in per_cycle.values() if c > 1)
    cycles = int(np.max(tl.end))
    print(
        f"{layer.name}: {len(starts):,} commands, {extra:,} issued in a cycle another stream "
        f"also issued in ({100 * extra / cycles:.2f}% of the layer's {cycles:,} cycles)"
    )
