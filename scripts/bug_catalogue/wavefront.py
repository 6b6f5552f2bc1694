"""Seeded bugs in wavefront periods: translated periods of loops that open no bundle,
compared at floors that follow the earliest starts (docs/design.md §4.7;
analyzer/engine/wavefront.py and the kernel's LOOP_END branch)."""

from __future__ import annotations

from scripts.bug_catalogue.common import EXACT, KERNELS, LOOP_SKIPS, Bug

WAVEFRONT = "analyzer/engine/wavefront.py"
# Worked by hand, then random programs of such loops against full mode and the reference.
WAVE = (
    "tests/test_wavefront.py",
    "tests/test_moving_instances.py",
    EXACT + "test_random_programs_fast_equals_full",
)

WAVEFRONT_BUGS = (
    Bug(
        "wavefront.gate-takes-what-does-not-pay",
        LOOP_SKIPS,
        ">= compare_budget * cost:",
        ">= 4 * compare_budget * cost:",
        "as shipped, wavefront periods are taken only where a period costs less than an "
        "iteration (speed only: a skip is exact either way)",
        ("tests/test_wavefront.py::test_wavefront_periods_are_taken_where_they_pay",),
    ),
    Bug(
        "wavefront.gate-refuses-what-pays",
        LOOP_SKIPS,
        "if n >= 0 and 2 * _wavefront_period_items(",
        "if n >= 0 and 8 * _wavefront_period_items(",
        "a row whose period costs less than its iteration takes wavefront periods as shipped",
        ("tests/test_wavefront.py::test_wavefront_periods_are_taken_where_they_pay",),
    ),
    Bug(
        "wavefront.period-items-count-no-window",
        WAVEFRONT,
        "items += (regions[r, HI] - regions[r, LO] + abs(regions[r, STEP])) * times",
        "items += abs(regions[r, STEP]) * times",
        "a period restores its whole window, not only the locations it reaches first",
        ("tests/test_wavefront.py::test_wavefront_periods_are_taken_where_they_pay",),
    ),
    Bug(
        "wavefront.rejected-loop-keeps-a-sibling-s-periods",
        KERNELS,
        "                    _no_periods_yet(level_of[d], history, translation, wavefronts)\n"
        "                else:",
        "                    pass\n                else:",
        "a loop whose periods do not pay takes none, whatever a loop before it at its level took",
        (
            "tests/test_wavefront.py::"
            "test_a_loop_whose_periods_do_not_pay_takes_none_after_one_that_does",
            *WAVE,
        ),
    ),
    Bug(
        "wavefront.no-periods-keeps-the-wave-flag",
        LOOP_SKIPS,
        "    wavefronts[0][lv] = False\n",
        "    pass\n",
        "a loop entering its level has not taken wavefront periods yet",
        WAVE,
    ),
    Bug(
        "wavefront.issue-bound-iterations-shifted",
        LOOP_SKIPS,
        "and min_before[lv] > issue + frontend_delay",
        "and True",
        "a shifted match needs an iteration none of whose instructions waited only for issue",
        WAVE,
        equivalent="every start is at least T + frontend_delay, so when the earliest start of "
        "iteration i - 1 equals it, the guard m >= m' leaves only a shift of 0, for which "
        "the floor m - 1 is below every start and the issue bound repeats unshifted",
    ),
    Bug(
        "wavefront.floor-at-the-earliest-start",
        LOOP_SKIPS,
        "then = min_before[lv] - 1",
        "then = min_before[lv]",
        "every instruction of the compared iteration starts strictly above its floor",
        WAVE,
    ),
    Bug(
        "wavefront.last-period-skipped-too",
        LOOP_SKIPS,
        "skipped = periods - 1",
        "skipped = periods",
        "the last period is evaluated: it leaves the latest start and end",
        WAVE,
    ),
    Bug(
        "wavefront.read-only-location-restored",
        WAVEFRONT,
        "if flag & WRITTEN:",
        "if True:",
        "a location the loop only reads keeps its own write time after a skip",
        WAVE,
    ),
    Bug(
        "wavefront.trail-one-period-early",
        WAVEFRONT,
        "add = (q + 1) * shift",
        "add = q * shift",
        "period q's locations and instances hold iteration i - 1's plus (q + 1) shifts",
        WAVE,
    ),
    Bug(
        "wavefront.units-ahead-unchecked",
        WAVEFRONT,
        "if _clamped(unit_free[y], floor) != _clamped(unit_free[y + step], later):",
        "if False:",
        "a period repeats only if the instances it meets first repeat the ones before",
        WAVE,
    ),
    Bug(
        "wavefront.match-ignores-instances",
        WAVEFRONT,
        "if _clamped(record[pos], then) != _clamped(unit_free[y + step], now):",
        "if False:",
        "a match compares the instances an iteration runs on, moved by a step",
        WAVE,
    ),
    Bug(
        "wavefront.write-times-unmatched",
        WAVEFRONT,
        "if _clamped(record[pos], then) != _clamped(write_end[y + step], now):",
        "if False:",
        "a match compares the write times of every location of the window, also those the "
        "iteration leaves alone (another iteration meets them)",
        WAVE,
    ),
    Bug(
        "wavefront.read-times-unmatched",
        WAVEFRONT,
        "if read_then != _clamped(read_until[y + step], now + min_latency):",
        "if False:",
        "a match compares the pending reads too (WAR)",
        WAVE,
    ),
    Bug(
        "wavefront.marks-not-written",
        WAVEFRONT,
        "written = a >= templates[i, T_READS_END]  # writes and marks",
        "written = a < 0",
        "writes and marks set write times, which a skip restores",
        WAVE,
    ),
    Bug(
        "wavefront.bundles-below-allowed",
        WAVEFRONT,
        "                    templates[i, T_BUNDLE_START]\n                    or",
        "                    False\n                    or",
        "a loop that opens bundles moves its issue time: not a wavefront",
        WAVE,
    ),
    Bug(
        "wavefront.tracker-not-updated",
        KERNELS,
        "                    if start < track_min[tracked[t]]:",
        "                    if False:",
        "the earliest start of each iteration decides the floors (else no shifted match)",
        WAVE,
    ),
    Bug(
        "wavefront.memo-keeps-the-earliest-start",
        LOOP_SKIPS,
        "            track_min[tracked[t]] = NEVER",
        "            pass",
        "instructions the memo restores were not run: their iteration's earliest start is "
        "unknown, so only the unshifted floors are tried",
        WAVE,
    ),
)
