"""Run SCALE-Sim from accperf's environment through a subprocess.

scalesim 3.0.0 cannot run on accperf's numpy (>= 2.4, SCALE-Sim issue #160), so it lives in
its own venv and we talk to it only through `scalesim_runner.py` (stdlib + scalesim) over
JSON on stdin/stdout. See that script for the request/result format and for what each cycle
field means in SCALE-Sim terms.
"""

from __future__ import annotations

import json
import signal
import subprocess
from pathlib import Path
from typing import Any

from analyzer.crosscheck.scalesim_env import ENV_VAR, scalesim_python
from tracer.errors import UserInputError

RUNNER = Path(__file__).resolve().with_name("scalesim_runner.py")

# Exit codes of scalesim_runner.py (kept in sync with its EXIT_* constants; the runner is
# standalone, so it cannot import them from here or vice versa).
_EXIT_BAD_REQUEST = 2
_EXIT_UNUSABLE = 3

_STDERR_TAIL_LINES = 20


INSTALL_HINT = (
    "SCALE-Sim runs in its own virtual environment because scalesim 3.0.0 breaks on "
    "numpy >= 2.4 (SCALE-Sim issue #160: int() of a non-0-d array is a TypeError there), "
    "which accperf's own environment uses. Create it from the repository root with\n"
    "    python -m venv .venv-scalesim && "
    ".venv-scalesim/bin/pip install 'numpy<2.4' scalesim==3.0.0\n"
    f"or point {ENV_VAR} at a Python interpreter that has scalesim 3.0.0 with numpy < 2.4."
)


class ScaleSimUnavailable(UserInputError):
    """No usable SCALE-Sim interpreter; the message says how to install one."""


class ScaleSimError(RuntimeError):
    """SCALE-Sim (or the runner) failed on a request; the message carries its stderr tail."""


class ScaleSimOutgrown(UserInputError):
    """SCALE-Sim was killed (out of memory, as a rule) or ran out of time on a request: the
    model is too large for it here, which is the input's to change, not a failure."""


def _tail(text: str, lines: int = _STDERR_TAIL_LINES) -> str:
    kept = text.strip().splitlines()[-lines:]
    return "\n".join("    " + line for line in kept) if kept else "    (no stderr output)"


def run_scalesim(request: dict[str, Any], timeout_s: float = 600) -> dict[str, Any]:
    """Simulate `request` with SCALE-Sim and return the runner's result dict.

    Raises ScaleSimUnavailable (a UserInputError) when no interpreter is found or it cannot
    import/run scalesim, ScaleSimOutgrown (one too) when the run is killed or times out,
    and ScaleSimError when it fails otherwise.
    """
    python = scalesim_python()
    if python is None:
        raise ScaleSimUnavailable(f"No SCALE-Sim interpreter found.\n{INSTALL_HINT}")

    try:
        proc = subprocess.run(
            [python, str(RUNNER)],
            input=json.dumps(request),
            capture_output=True,
            text=True,
            timeout=timeout_s,
            check=False,
        )
    except OSError as exc:  # the located path vanished or is not executable after all
        raise ScaleSimUnavailable(
            f"Cannot start the SCALE-Sim interpreter {python}: {exc}\n{INSTALL_HINT}"
        ) from exc
    except subprocess.TimeoutExpired as exc:
        raise ScaleSimOutgrown(
            f"SCALE-Sim did not finish within {timeout_s:g} s on this model; validate a "
            "smaller model (or its smaller layers, --layers)"
        ) from exc

    if proc.returncode == _EXIT_UNUSABLE:
        raise ScaleSimUnavailable(
            f"The SCALE-Sim interpreter {python} cannot run scalesim:\n{_tail(proc.stderr)}\n"
            f"{INSTALL_HINT}"
        )
    if proc.returncode == -signal.SIGKILL:  # what the kernel's OOM killer sends
        raise ScaleSimOutgrown(
            "SCALE-Sim was killed (SIGKILL; out of memory, as a rule) on this model; "
            "validate a smaller model (or its smaller layers, --layers)"
        )
    if proc.returncode != 0:
        what = (
            "rejected the request"
            if proc.returncode == _EXIT_BAD_REQUEST
            else f"failed with exit code {proc.returncode}"
        )
        raise ScaleSimError(
            f"SCALE-Sim runner {RUNNER.name} ({python}) {what}. "
            f"Last lines of its stderr:\n{_tail(proc.stderr)}"
        )
    try:
        result: dict[str, Any] = json.loads(proc.stdout)
    except json.JSONDecodeError as exc:
        raise ScaleSimError(
            f"SCALE-Sim runner {RUNNER.name} ({python}) printed no valid JSON ({exc}). "
            f"Last lines of its stderr:\n{_tail(proc.stderr)}"
        ) from exc
    return result
