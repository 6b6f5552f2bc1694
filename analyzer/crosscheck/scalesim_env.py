"""Where to find a Python interpreter that can import SCALE-Sim.

SCALE-Sim is not an accperf dependency and brings its own stack (pandas, matplotlib, numba,
its own numpy), so cross-checks run it in its own environment through a subprocess instead of
importing it into ours.
"""

from __future__ import annotations

import os
from pathlib import Path

ENV_VAR = "ACCPERF_SCALESIM_PYTHON"

_REPO_ROOT = Path(__file__).resolve().parents[2]
_REPO_VENV_PYTHON = _REPO_ROOT / ".venv-scalesim" / "bin" / "python"


def _is_executable(path: Path) -> bool:
    return path.is_file() and os.access(path, os.X_OK)


def scalesim_python() -> str | None:
    """$ACCPERF_SCALESIM_PYTHON, else <repo>/.venv-scalesim/bin/python, else None.

    Only existence is checked; whether the interpreter can import scalesim is for the caller
    to find out (and report), not a reason to pretend none was found.
    """
    configured = os.environ.get(ENV_VAR)
    if configured and _is_executable(Path(configured)):
        return configured
    if _is_executable(_REPO_VENV_PYTHON):
        return str(_REPO_VENV_PYTHON)
    return None
