#!/usr/bin/env bash
# Installs everything the tests need into ./.venv (and SCALE-Sim into ./.venv-scalesim,
# because scalesim 3.0.0 breaks with numpy >= 2.4, its issue #160), then runs the suite.
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m venv .venv
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet -e '.[test,ray]'
python3 -m venv .venv-scalesim
.venv-scalesim/bin/python -m pip install --quiet 'numpy<2.4' 'scalesim==3.0.0'
# The layers contract in pyproject.toml: imports go one way (docs/design.md §1.3).
.venv/bin/lint-imports --no-cache
# Two workers (pytest-xdist): the suite must finish within 10 minutes on two cores, and a
# single process leaves one of them idle.
ACCPERF_REQUIRE_SCALESIM=1 .venv/bin/python -m pytest -n 2 --durations=15 "$@"
