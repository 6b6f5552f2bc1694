"""Seeded bugs in several front ends (Program.frontends, docs/design.md §3.2 and §4.3):
the kernel's switch between front ends, the signature's issue floor and the front ends
it leaves out, the packing of which front ends may still issue, the bounds, the checks
and the trace."""

from __future__ import annotations

from scripts.bug_catalogue.common import (
    BOUNDS,
    KERNELS,
    PACKING,
    PACKING_KERNELS,
    SIGNATURES,
    TRACE_IO,
    VALIDATION,
    Bug,
)

FRONTENDS = "tests/test_frontends.py"
# Hand-worked first, then the random programs with two front ends besides the default.
FRONTEND_RULES = (FRONTENDS,)

FRONTEND_BUGS = (
    Bug(
        "frontends.one-order-for-all",
        KERNELS,
        "                    if f != active:\n",
        "                    if f != active and False:\n",
        "each front end issues its own bundles, in its own order",
        FRONTEND_RULES,
    ),
    Bug(
        "frontends.delay-of-the-default",
        SIGNATURES,
        "        frontend[f, FE_DELAY],\n",
        "        frontend[0, FE_DELAY],\n",
        "an instruction starts its own front end's delay after its bundle issues",
        FRONTEND_RULES,
    ),
    Bug(
        "frontends.rings-shared",
        SIGNATURES,
        "        ring += frontends[f, 0]\n",
        "        ring += 0\n",
        "each front end keeps its own ring of issue times",
        FRONTEND_RULES,
    ),
    Bug(
        "frontends.floor-ignores-the-open-bundle",
        SIGNATURES,
        "    floor = frontend[active, FE_ISSUE]\n",
        "    floor = 1 << 62\n",
        "the issue floor includes the front end whose open bundle may take more instructions",
        FRONTEND_RULES,
    ),
    Bug(
        "frontends.open-bundle-zeroed",
        SIGNATURES,
        "        if f != active and not (live >> f) & 1:\n            size",
        "        if not (live >> f) & 1:\n            size",
        "the signature keeps the front end whose open bundle may take more instructions",
        FRONTEND_RULES,
    ),
    Bug(
        "frontends.live-after-the-loop-only",
        PACKING_KERNELS,
        "live[at] = outer if outer >= 0 else at",
        "live[at] = at",
        "a front end may issue again when an enclosing loop repeats",
        FRONTEND_RULES,
    ),
    Bug(
        "frontends.live-ignores-the-outer-loops-own",
        PACKING_KERNELS,
        "if outer < 0 and trips > 1:",
        "if trips > 1:",
        "the outermost enclosing loop of several trips decides, not the innermost",
        FRONTEND_RULES,
    ),
    Bug(
        "frontends.live-mask-not-keyed",
        SIGNATURES,
        "    sig[pos + 1] = live\n",
        "    sig[pos + 1] = 0\n",
        "a restore writes back every front end that may still issue (the mask it reads)",
        (
            "tests/test_gemmini.py::test_a_skipped_tile_loop_keys_which_front_ends_may_still_issue",
            *FRONTEND_RULES,
        ),
    ),
    Bug(
        "frontends.bound-counts-all-bundles-on-one",
        BOUNDS,
        "np.add.at(self.bundles, (block, rows[:, _FRONTEND]), rows[:, _BUNDLE_START])",
        "np.add.at(self.bundles, (block, 0 * rows[:, _FRONTEND]), rows[:, _BUNDLE_START])",
        "each front end's bound counts its own bundles",
        (FRONTENDS, "tests/test_exactness.py"),
    ),
    Bug(
        "frontends.unknown-name-accepted",
        VALIDATION,
        "        if frontend is not None and frontend not in program.frontends:",
        "        if False:",
        "a template names a front end the program has",
        FRONTEND_RULES,
    ),
    Bug(
        "frontends.trace-drops-them",
        TRACE_IO,
        "            for name, spec in program.frontends.items()\n        },",
        "            for name, spec in {}.items()\n        },",
        "a trace keeps the program's front ends",
        FRONTEND_RULES,
    ),
    Bug(
        "frontends.one-issuing-does-not-translate",
        PACKING,
        "        if issuing & (issuing - 1) != 0:\n",
        "        if True:\n",
        "a layer whose bundles all come from one of several front ends skips translated periods",
        (
            "tests/test_translated_periods.py::"
            "test_a_layer_issued_by_one_of_several_front_ends_translates",
        ),
    ),
)
