"""The two costs behind loop_skips.INSTRUCTION_ITEMS (docs/design.md §4.6, "Cost"),
measured in one run on a lowered program's own state.

    .venv/bin/python benchmarks/calibrate_translated_cost.py [--model bert_base]
        [--param dataflow=os ...] [--window 64 256] [--reps 2000]

A translated period keeps a boundary and compares the next one over the machine's items
and one iteration's windows; a loop should compare only where that costs less than the
evaluation it may spare, so the kernel weighs an instruction against items. This prints,
for the program's own machine (every unit, front end and queue of its state, idle) and a
window of each given number of locations:

- the nanoseconds of one keep (`_machine_signature` + `_translated_record`) plus one
  comparison (`_machine_signature` + `_translated_hash` + `_translated_match`, which
  matches, so every item is read), per item kept and compared, in a compiled loop;
- the nanoseconds per instruction of full evaluation of the whole program (the kernel
  alone, packing apart, after JIT warm-up);

and their ratio: how many items one evaluated instruction costs on this machine, which
the kernel's weight (INSTRUCTION_ITEMS) rounds. Timings on a shared machine vary; the
ratio is taken within one run. The weight of a location (LOCATIONS_PER_ITEM) is not
measured here.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from bench_core import machine
from numba import njit

from analyzer.engine.evaluate import Evaluation, run_kernel
from analyzer.engine.loop_skips import INSTRUCTION_ITEMS
from analyzer.engine.signatures import (
    _frontend_table,
    _idle_state,
    _machine_signature,
    _signature_width,
)
from analyzer.engine.translated import _translated_hash, _translated_match, _translated_record
from tracer.lowering import lower_model


@njit(cache=True)
def _keep_and_compare(reps, state, frontend, queue_first, queue_head, window, min_latency):
    """`reps` keeps and comparisons of one region of `window` locations that moves by
    `window` per iteration, at an idle state (every comparison matches in full). Returns
    the items kept and compared per repetition, and a checksum of the matches."""
    n_locations = state[1].shape[0]
    sig = np.zeros(_signature_width(state, frontend), dtype=np.int64)
    live = (1 << frontend.shape[0]) - 1
    n_machine = _machine_signature(sig, 0, state, frontend, 0, live, 0, queue_first, queue_head)
    regions = np.zeros((1, 5), dtype=np.int64)
    regions[0, 1] = window  # [lo, hi) of iteration 0, the step, the space's bounds
    regions[0, 2] = window
    regions[0, 4] = n_locations
    record = np.zeros(n_machine + 2 * window, dtype=np.int64)
    offsets = np.zeros(1, dtype=np.int64)
    matches = 0
    for _ in range(reps):
        _machine_signature(sig, 0, state, frontend, 0, live, 0, queue_first, queue_head)
        _translated_record(record, offsets, sig, n_machine, state, 0, min_latency, 0, regions, 1, 0)
        _machine_signature(sig, 0, state, frontend, 0, live, 0, queue_first, queue_head)
        _translated_hash(sig, n_machine, state, 0, min_latency, 0, regions, 1, 1)
        matches += _translated_match(
            record, offsets, sig, n_machine, state, 0, min_latency, 0, regions, 1, 1
        )
    return 2 * (n_machine + 2 * window), matches


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="bert_base")
    parser.add_argument("--batch", type=int, default=1)
    parser.add_argument("--param", action="append", default=["dataflow=os"], metavar="N=V")
    parser.add_argument("--window", type=int, nargs="+", default=[2, 64, 256])
    parser.add_argument("--reps", type=int, default=2000)
    args = parser.parse_args()
    params = dict(p.split("=", 1) for p in args.param)
    program = lower_model("gemmini", params, args.model, batch=args.batch)
    evaluation = Evaluation(program, "full", checked=True)
    arrays = evaluation.blocks.arrays
    frontend = _frontend_table(arrays.frontends)
    # Without runs: the gate counts a window's locations (two items each), so the items
    # timed are locations, not the runs an idle state would make of a whole window.
    state, queue_head = _idle_state(arrays, frontend, False)
    for window in args.window:
        if window < 1 or 2 * window > arrays.n_locations:
            parser.error(f"--window {window}: the state has {arrays.n_locations} locations")
    packed = [evaluation.pack(layer) for layer in program.layers]

    print(f"machine: {machine()}")
    print(f"program: gemmini {params} {args.model} batch {args.batch}")
    # JIT warm-up of both kernels before any timing.
    _keep_and_compare(1, state, frontend, arrays.queue_first, queue_head, 2, arrays.min_latency)
    run_kernel(packed[0], evaluation.blocks, fast=False)

    started = time.perf_counter()
    instructions = sum(run_kernel(p, evaluation.blocks, fast=False)[1] for p in packed)
    per_instruction = (time.perf_counter() - started) / instructions * 1e9
    print(f"full evaluation: {per_instruction:.1f} ns per instruction ({instructions:,})")
    for window in args.window:
        started = time.perf_counter()
        items, matches = _keep_and_compare(
            args.reps, state, frontend, arrays.queue_first, queue_head, window,
            arrays.min_latency,
        )  # fmt: skip
        seconds = time.perf_counter() - started
        if matches != args.reps:
            raise SystemExit("an idle state failed to match itself: the passes changed")
        per_item = seconds / args.reps / items * 1e9
        print(
            f"window {window}: keep + compare {items:,} items in {seconds / args.reps * 1e6:.2f}"
            f" us, {per_item:.2f} ns per item; an instruction costs"
            f" {per_instruction / per_item:.1f} items (INSTRUCTION_ITEMS = {INSTRUCTION_ITEMS})"
        )


if __name__ == "__main__":
    main()
