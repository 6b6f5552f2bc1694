"""Seeded bugs in translated periods: loops whose addresses move with their index skip
whole periods moved along their regions (docs/design.md §4.6;
analyzer/engine/signatures.py, the kernel's LOOP_END branch, packing's regions)."""

from __future__ import annotations

from scripts.bug_catalogue.common import (
    KERNELS,
    LOOP_SKIPS,
    RUNS,
    RUNS_FILE,
    SIGNATURES,
    TRANSLATED,
    TRANSLATED_PERIODS,
    Bug,
)
from scripts.bug_catalogue.wavefront import WAVEFRONT

TRANSLATION_BUGS = (
    Bug(
        "translation.ahead-write-times-unchecked",
        TRANSLATED_PERIODS,
        "if ahead[0] != behind[0] or ahead[1] != behind[1]:",
        "if ahead[1] != behind[1]:",
        "a period repeats only if the locations it meets first held, at its start, what "
        "those one period back held at the previous period's start (write times)",
        TRANSLATED,
    ),
    Bug(
        "translation.ahead-read-times-unchecked",
        TRANSLATED_PERIODS,
        "if ahead[0] != behind[0] or ahead[1] != behind[1]:",
        "if ahead[0] != behind[0]:",
        "the same for pending reads ahead (read-until times)",
        TRANSLATED,
    ),
    Bug(
        "translation.trail-one-period-early",
        TRANSLATED_PERIODS,
        "add = (q + 1) * shift",
        "add = q * shift",
        "a location period q wrote last holds the time (q + 1) periods back plus (q + 1) shifts",
        TRANSLATED,
    ),
    Bug(
        "translation.trail-from-one-period-closer",
        TRANSLATED_PERIODS,
        "back = (q + 1) * step",
        "back = q * step",
        "... taken from the location (q + 1) periods back",
        TRANSLATED,
    ),
    Bug(
        "translation.trail-misses-a-location",
        TRANSLATED_PERIODS,
        "end = min(end, next_start)",
        "end = min(end, next_start - 1)",
        "every location a skipped period covers last is restored",
        TRANSLATED,
    ),
    Bug(
        "translation.restore-ignores-chunk-floors",
        TRANSLATED_PERIODS,
        "                if floor[c] > NEVER:",
        "                if False:",
        "the chunks' floors are folded into their locations before a trail is copied",
        TRANSLATED,
    ),
    Bug(
        "translation.regions-may-meet",
        TRANSLATED_PERIODS,
        "            if start < other_end and other_start < end:\n                return -1",
        "            if start < other_end and other_start < end:\n                pass",
        "no loop translates whose regions of one space, moving by different steps, can meet",
        TRANSLATED,
    ),
    Bug(
        "translation.match-unmoved",
        TRANSLATED_PERIODS,
        "        y = start + step\n        while y < end + step:",
        "        y = start\n        while y < end:",
        "a boundary matches the one before moved by one step: each location against the "
        "one a step further on",
        TRANSLATED,
    ),
    Bug(
        "translation.match-ignores-the-machine",
        TRANSLATED_PERIODS,
        "        if record[k] != sig[k]:\n            return False",
        "        if False:\n            return False",
        "... and over the machine's items (units, front end, queues)",
        TRANSLATED,
    ),
    Bug(
        "translation.issue-moves-one-shift",
        LOOP_SKIPS,
        "base += periods * shift",
        "base += shift",
        "skipping m periods moves issue by m shifts",
        TRANSLATED,
    ),
    Bug(
        "translation.regions-ignore-the-step",
        TRANSLATED_PERIODS,
        "                    elif d == depth:\n                        step = c",
        "                    elif d == depth:\n                        step = 0",
        "a region's locations move by the loop's step for its operands",
        TRANSLATED,
    ),
    Bug(
        "translation.regions-ignore-inner-loops",
        TRANSLATED_PERIODS,
        "span = c * (inner_trips[d] - 1)",
        "span = 0",
        "a region covers every location its inner loops' indices reach",
        (
            "tests/test_translated_periods.py::"
            "test_a_translated_skip_restores_what_an_inner_loop_wrote",
            *TRANSLATED,
        ),
    ),
    Bug(
        "translation.skip-leaves-offsets",
        KERNELS,
        "moved = periods - (index[d] if index[d] >= trips else 0)",
        "moved = 0",
        "a translated skip moves the affine offsets with the index",
        TRANSLATED,
    ),
    *(
        Bug(name, file, source, replacement, rule, (*RUNS, *TRANSLATED))
        for name, file, source, replacement, rule in (
            (
                "runs.range-end-unmarked",
                RUNS_FILE,
                "    if hi < n_locations:\n        run_start[hi >> RUN_SHIFT]",
                "    if False:\n        run_start[hi >> RUN_SHIFT]",
                "a range updated by one time may end a run where it ends",
            ),
            (
                "runs.read-makes-one-run",
                KERNELS,
                "uniform = a >= split and a < last",
                "uniform = a < last",
                "a read raises read-until times to at least one time: those above it stay apart",
            ),
            (
                "runs.mark-makes-one-run",
                KERNELS,
                "uniform = a >= split and a < last",
                "uniform = a >= split",
                "a mark raises write times and keeps reads: only a write leaves one run",
            ),
            (
                "runs.end-ignores-run-starts",
                RUNS_FILE,
                "later = run_start[x >> RUN_SHIFT] >> np.uint64(bit + 1)",
                "later = np.uint64(0)",
                "a run ends at the next run start",
            ),
            (
                "runs.end-crosses-the-word",
                RUNS_FILE,
                "limit = ((x >> RUN_SHIFT) + 1) << RUN_SHIFT",
                "limit = end",
                "every chunk starts a run of its own (its floor is its own)",
            ),
            (
                "runs.restore-leaves-run-starts",
                SIGNATURES,
                "            _remark_chunk(run_start, write_end, read_until, c)",
                "            pass",
                "a whole-state restore sets the run starts of the chunks it writes",
            ),
            (
                "runs.translated-restore-leaves-run-starts",
                TRANSLATED_PERIODS,
                "                    _mark_runs(run_start, lo, hi, n_locations, True)",
                "                    pass",
                "a translated restore sets the run starts of the runs it writes",
            ),
            (
                "runs.wavefront-restore-leaves-run-starts",
                WAVEFRONT,
                "                _remark_chunk(run_start, write_end, read_until, c)",
                "                pass",
                "a wavefront restore sets the run starts of the locations it writes",
            ),
            (
                "runs.record-joins-unequal-reads",
                TRANSLATED_PERIODS,
                "if length > 0 and (w != written or v != read):",
                "if length > 0 and w != written:",
                "a kept run holds locations of equal write and read-until times",
            ),
            (
                "runs.match-takes-a-whole-run",
                TRANSLATED_PERIODS,
                "taken = min(left, length)",
                "taken = length",
                "a kept run is compared with every run of the state it overlaps",
            ),
            (
                "runs.restore-joins-unequal-reads",
                TRANSLATED_PERIODS,
                "                and read_until[y] == scratch[3 * runs - 1]\n",
                "",
                "a restore copies runs of equal write and read-until times",
            ),
        )
    ),
)
