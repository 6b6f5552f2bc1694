"""Seeded bugs in translated periods: loops whose addresses move with their index skip
whole periods moved along their regions (docs/design.md §4.6;
analyzer/engine/signatures.py, the kernel's LOOP_END branch, packing's regions)."""

from __future__ import annotations

from scripts.bug_catalogue.common import KERNELS, LOOP_SKIPS, SIGNATURES, TRANSLATED, Bug

TRANSLATION_BUGS = (
    Bug(
        "translation.ahead-write-times-unchecked",
        SIGNATURES,
        "if (w if w > later else later) - later != (v if v > now else now) - now:",
        "if False:",
        "a period repeats only if the locations it meets first held, at its start, what "
        "those one period back held at the previous period's start (write times)",
        TRANSLATED,
    ),
    Bug(
        "translation.ahead-read-times-unchecked",
        SIGNATURES,
        "                if (w if w > floor_later else floor_later) - later != (",
        "                if False and (w if w > floor_later else floor_later) - later != (",
        "the same for pending reads ahead (read-until times)",
        TRANSLATED,
    ),
    Bug(
        "translation.trail-one-period-early",
        SIGNATURES,
        "add = (q + 1) * shift",
        "add = q * shift",
        "a location period q wrote last holds the time (q + 1) periods back plus (q + 1) shifts",
        TRANSLATED,
    ),
    Bug(
        "translation.trail-from-one-period-closer",
        SIGNATURES,
        "back = (q + 1) * step",
        "back = q * step",
        "... taken from the location (q + 1) periods back",
        TRANSLATED,
    ),
    Bug(
        "translation.trail-misses-a-location",
        SIGNATURES,
        "end = min(end, next_start)",
        "end = min(end, next_start - 1)",
        "every location a skipped period covers last is restored",
        TRANSLATED,
    ),
    Bug(
        "translation.restore-ignores-chunk-floors",
        SIGNATURES,
        "                if floor[c] > NEVER:",
        "                if False:",
        "the chunks' floors are folded into their locations before a trail is copied",
        TRANSLATED,
    ),
    Bug(
        "translation.regions-may-meet",
        SIGNATURES,
        "            if start < other_end and other_start < end:\n                return -1",
        "            if start < other_end and other_start < end:\n                pass",
        "no loop translates whose regions of one space, moving by different steps, can meet",
        TRANSLATED,
    ),
    Bug(
        "translation.match-unmoved",
        SIGNATURES,
        "v = _write_time(write_end, chunk_floor, chunk_shift, y + step)",
        "v = _write_time(write_end, chunk_floor, chunk_shift, y)",
        "a boundary matches the one before moved by one step: each location against the "
        "one a step further on",
        TRANSLATED,
    ),
    Bug(
        "translation.match-ignores-the-machine",
        SIGNATURES,
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
        SIGNATURES,
        "                    elif d == depth:\n                        step = c",
        "                    elif d == depth:\n                        step = 0",
        "a region's locations move by the loop's step for its operands",
        TRANSLATED,
    ),
    Bug(
        "translation.regions-ignore-inner-loops",
        SIGNATURES,
        "span = c * (inner_trips[d] - 1)",
        "span = 0",
        "a region covers every location its inner loops' indices reach",
        TRANSLATED,
    ),
    Bug(
        "translation.skip-leaves-offsets",
        KERNELS,
        "moved = periods - (index[d] if index[d] >= trips else 0)",
        "moved = 0",
        "a translated skip moves the affine offsets with the index",
        TRANSLATED,
    ),
)
