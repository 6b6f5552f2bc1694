"""Hypothesis profiles, chosen by the environment.

CI (the CI variable set, as CI services do) runs derandomized: the same examples on every
run, so a bug is caught on every run or on none, never as a flaky failure. ACCPERF_FULL=1
runs five times as many examples (tests.builders.examples scales the counts tests state).
Locally the examples are random and hypothesis's database replays earlier failures.
ACCPERF_HYPOTHESIS_PROFILE names a profile outright (e.g. ci, to reproduce a CI run).

No profile has a deadline or the too-slow health check: both depend on the machine's
speed, so they would make a derandomized run flaky after all.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

from tests.builders import DEFAULT_EXAMPLES

FULL_EXAMPLES = 5 * DEFAULT_EXAMPLES
_MACHINE_INDEPENDENT = {"deadline": None, "suppress_health_check": [HealthCheck.too_slow]}

settings.register_profile("dev", max_examples=DEFAULT_EXAMPLES, **_MACHINE_INDEPENDENT)
settings.register_profile(
    "ci", max_examples=DEFAULT_EXAMPLES, derandomize=True, print_blob=True, **_MACHINE_INDEPENDENT
)
settings.register_profile("full", max_examples=FULL_EXAMPLES, **_MACHINE_INDEPENDENT)
settings.register_profile(
    "ci-full", max_examples=FULL_EXAMPLES, derandomize=True, print_blob=True, **_MACHINE_INDEPENDENT
)


def _profile() -> str:
    chosen = os.environ.get("ACCPERF_HYPOTHESIS_PROFILE")
    if chosen:
        return chosen
    in_ci = os.environ.get("CI", "").lower() not in ("", "0", "false")
    full = os.environ.get("ACCPERF_FULL") == "1"
    if in_ci:
        return "ci-full" if full else "ci"
    return "full" if full else "dev"


settings.load_profile(_profile())
