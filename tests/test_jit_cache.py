"""A stale Numba cache index is a cache miss, not a crash (analyzer/engine/jit_cache.py).

Numba pickles a kernel's argument types into its cache index; a NamedTuple type is pickled
by module and name. After an upgrade or a checkout that renames such a type, unpickling the
old index raises. Each step runs in a fresh interpreter, as a user's next command would, on
a one-line kernel in a temporary folder (its cache lands in that folder's __pycache__).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

KERNEL = """
from numba import njit

from analyzer.engine.jit_cache import load_compiled_code_directly


@njit(cache=True)
def total(pair):
    return pair[0] + pair[1]


load_compiled_code_directly(total)
"""

TYPES = """
from typing import NamedTuple


class {name}(NamedTuple):
    a: int
    b: int
"""

# Calls the kernel on the type named in argv[1]; prints the sum and the cache's hits.
CALL = """
import json, sys
import kernel, types_module
value = kernel.total(getattr(types_module, sys.argv[1])(2, 3))
stats = kernel.total.stats
print(json.dumps([value, sum(stats.cache_hits.values()), sum(stats.cache_misses.values())]))
"""


def _call(folder: Path, type_name: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join((str(folder), str(ROOT)))}
    env.pop("NUMBA_CACHE_DIR", None)
    env.pop("NUMBA_DISABLE_JIT", None)
    return subprocess.run(
        [sys.executable, "-c", CALL, type_name],
        capture_output=True,
        text=True,
        env=env,
        cwd=folder,
        timeout=300,
    )


def test_an_index_naming_a_renamed_type_recompiles_and_is_replaced(tmp_path: Path) -> None:
    (tmp_path / "kernel.py").write_text(KERNEL)
    (tmp_path / "types_module.py").write_text(TYPES.format(name="Pair"))
    first = _call(tmp_path, "Pair")
    assert first.returncode == 0, first.stderr
    assert json.loads(first.stdout) == [5, 0, 1]  # compiled, and the index written
    assert list((tmp_path / "__pycache__").glob("kernel.total-*.nbi"))

    (tmp_path / "types_module.py").write_text(TYPES.format(name="Couple"))
    renamed = _call(tmp_path, "Couple")
    assert renamed.returncode == 0, renamed.stderr  # Numba alone: AttributeError from pickle
    assert json.loads(renamed.stdout) == [5, 0, 1]

    again = _call(tmp_path, "Couple")
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout) == [5, 1, 0]  # the index the recompile wrote is read
