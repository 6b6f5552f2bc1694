"""The bugs scripts/seed_bugs.py seeds, one plausible mistake each, by area:
timing (the kernel's rules), fast_mode (signatures, skips, memo, packing), translation,
instances (moving unit instances), wavefront (loops that open no bundle), ahead (loops
the front end runs ahead of), frontends
(several front ends), bounds, checks (validation, trace files), machines (Gemmini's
queues, the systolic memory side), gemmini_mapping (a user's Gemmini mapping),
gemmini_actions (what Gemmini's commands count), ultratrail (its lowering and analytical
baseline), plasticine (its lowering and mapping) and actions (counting and pricing
actions).

Every entry names a file, a source text that must occur in it exactly once (so a refactor
that moves the code makes the entry stale, and `seed_bugs.py --check` and
tests/test_seed_bugs.py say which), its replacement, the rule the replacement breaks, and
the tests expected to notice, fastest and most targeted first (pytest runs them with -x;
a bug that survives them is run on the whole default suite before it counts as a
survivor). `equivalent` says why a mutant cannot change any result (docs/testing.md);
`awaiting` names the test work that is to catch a bug the suite misses today.
"""

from __future__ import annotations

from scripts.bug_catalogue.actions import ACTION_BUGS
from scripts.bug_catalogue.ahead import AHEAD_BUGS
from scripts.bug_catalogue.bounds import BOUND_BUGS
from scripts.bug_catalogue.checks import TRACE_BUGS, VALIDATION_BUGS
from scripts.bug_catalogue.common import KERNELS, Bug
from scripts.bug_catalogue.fast_mode import (
    MEMO_BUGS,
    PACKING_BUGS,
    SIGNATURE_BUGS,
    SKIP_BUGS,
    WORKSPACE_BUGS,
)
from scripts.bug_catalogue.frontends import FRONTEND_BUGS
from scripts.bug_catalogue.gemmini_actions import GEMMINI_ACTION_BUGS
from scripts.bug_catalogue.gemmini_mapping import MAPPING_BUGS
from scripts.bug_catalogue.instances import INSTANCE_BUGS
from scripts.bug_catalogue.machines import (
    GEMMINI_BUGS,
    GEMMINI_LLC_BUGS,
    GEMMINI_REACH_BUGS,
    MEMORY_BUGS,
)
from scripts.bug_catalogue.plasticine import PLASTICINE_BUGS
from scripts.bug_catalogue.timing import KERNEL_BUGS
from scripts.bug_catalogue.translation import TRANSLATION_BUGS
from scripts.bug_catalogue.ultratrail import ULTRATRAIL_BUGS
from scripts.bug_catalogue.wavefront import WAVEFRONT_BUGS

__all__ = ["BUGS", "KERNELS", "Bug"]

BUGS: tuple[Bug, ...] = (
    *KERNEL_BUGS,
    *SIGNATURE_BUGS,
    *SKIP_BUGS,
    *MEMO_BUGS,
    *WORKSPACE_BUGS,
    *PACKING_BUGS,
    *TRANSLATION_BUGS,
    *INSTANCE_BUGS,
    *WAVEFRONT_BUGS,
    *AHEAD_BUGS,
    *FRONTEND_BUGS,
    *BOUND_BUGS,
    *VALIDATION_BUGS,
    *TRACE_BUGS,
    *GEMMINI_BUGS,
    *GEMMINI_LLC_BUGS,
    *GEMMINI_REACH_BUGS,
    *MAPPING_BUGS,
    *GEMMINI_ACTION_BUGS,
    *MEMORY_BUGS,
    *ULTRATRAIL_BUGS,
    *PLASTICINE_BUGS,
    *ACTION_BUGS,
)
