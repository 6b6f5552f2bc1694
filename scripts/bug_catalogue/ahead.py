"""Seeded bugs in ahead periods: whole-state periods of a loop its front end runs ahead
of, compared at its iterations' earliest starts (docs/design.md §4.11;
analyzer/engine/ahead.py, its packing flag and the kernel's LOOP_BEGIN and LOOP_END)."""

from __future__ import annotations

from scripts.bug_catalogue.common import EXACT, KERNELS, PACKING, PACKING_KERNELS, Bug

SYSTOLIC_LOWERING = "isa/systolic/lowering.py"

AHEAD = "analyzer/engine/ahead.py"
# Worked by hand, the systolic fill, then random programs against full mode and the
# reference, and the random programs of the other fast paths.
TESTS = (
    "tests/test_ahead_periods.py",
    EXACT + "test_random_programs_fast_equals_full",
    EXACT + "test_systolic_fast_equals_full",
)

AHEAD_BUGS = (
    Bug(
        "ahead.issue-bound-iteration-compared",
        AHEAD,
        "and earliest > issue + delay",
        "and True",
        "every instruction of the compared iteration started above its issue bound",
        TESTS,
    ),
    Bug(
        "ahead.floor-at-the-earliest-start",
        AHEAD,
        "floor = earliest - 1",
        "floor = earliest",
        "every instruction of the compared iteration starts strictly above its floor",
        TESTS,
    ),
    Bug(
        "ahead.no-stop-where-the-issue-binds",
        AHEAD,
        "if t + delay >= earliest + (periods + 1) * shift:",
        "if False:",
        "a period is skipped only while its bundle's issue bound stays below its starts",
        TESTS,
    ),
    Bug(
        "ahead.stop-checked-one-period-late",
        AHEAD,
        "if t + delay >= earliest + (periods + 1) * shift:",
        "if t + delay >= earliest + (periods + 2) * shift:",
        "period q's starts are q + 1 shifts after iteration i - 1's",
        TESTS,
    ),
    Bug(
        "ahead.window-without-the-closed-bundle",
        AHEAD,
        "window_ring[slot] = latest  # the bundle before closes",
        "pass",
        "each skipped bundle closes the one before into the window ring (§3.2)",
        TESTS,
    ),
    Bug(
        "ahead.latest-start-not-shifted",
        AHEAD,
        "latest += shift",
        "latest += 0",
        "each skipped bundle's latest start is a shift after the one before",
        TESTS,
    ),
    Bug(
        "ahead.untouched-times-moved",
        AHEAD,
        "if times[x] > floor:",
        "if True:",
        "what the loop never touches (at or below the floor) keeps its time after a skip",
        TESTS,
    ),
    Bug(
        "ahead.last-period-skipped-too",
        KERNELS,
        "index[d], trips, every, earliest, state, ahead_levels, lv,",
        "index[d], trips + 1, every, earliest, state, ahead_levels, lv,",
        "the last period is evaluated: it leaves the latest end",
        TESTS,
    ),
    Bug(
        "ahead.match-without-the-shift",
        AHEAD,
        "if (a if a > floor else floor) + shift != (b if b > later else later):",
        "if (a if a > floor else floor) != (b if b > later else later) - shift + shift:",
        "the kept machine, moved by the shift, equals the machine now",
        TESTS,
    ),
    Bug(
        "ahead.queue-taking-loop-admitted",
        PACKING,
        "        _per_block(np.logical_or, queued, first, end)[nonempty]\n",
        "        False\n",
        "a loop whose block takes a queue changes the queue's ring, which ahead periods "
        "neither compare nor restore",
        TESTS,
    ),
    Bug(
        "ahead.bundle-opened-later-in-the-block-admitted",
        PACKING,
        "        | ((opened[nonempty] == 1) & ~opens[first[nonempty]]),\n",
        "        ,\n",
        "an iteration whose one bundle opens after its first instruction is not a bundle "
        "from its first start",
        TESTS,
    ),
    Bug(
        "ahead.bundle-opened-by-a-nested-loop-admitted",
        PACKING_KERNELS,
        "                elif node_facts[child, 8] != BUNDLES_NONE:",
        "                elif False:",
        "a bundle a later block or nested loop of the iteration opens is one more bundle",
        TESTS,
    ),
    Bug(
        "ahead.nested-loop-of-several-bundles-admitted",
        PACKING_KERNELS,
        "        elif trips == 1 or bundles == BUNDLES_NONE:",
        "        elif True:",
        "a loop of several trips whose body opens a bundle opens one per trip",
        TESTS,
    ),
    Bug(
        "ahead.chunked-program-admitted",
        KERNELS,
        "levels_ahead = levels if ahead_periods and chunk_shift == 0 else 0",
        "levels_ahead = levels if ahead_periods else 0",
        "ahead periods compare and restore locations one by one, not chunk floors",
        TESTS,
    ),
    Bug(
        "ahead.preload-rows-shift-before-the-fold",
        SYSTOLIC_LOWERING,
        "                [above, token],",
        "                [above],",
        "every PE of a preload step waits for its fold's start, so a later fold's preload "
        "repeats from its first step (the cycles are the same either way)",
        ("tests/test_ahead_periods.py::test_a_later_folds_preload_takes_ahead_periods",),
    ),
    Bug(
        "ahead.rows-for-levels-not-asked",
        AHEAD,
        "if lv >= 0 and lv < levels and row[lv] < 0:",
        "if lv >= 0 and row[lv] < 0:",
        "only the levels asked for get a row: with none asked, `row` has one entry and a "
        "deeper level's index is past it (out of bounds in the compiled kernel)",
        ("tests/test_ahead_periods.py::test_no_level_takes_ahead_periods_when_none_may",),
    ),
)
