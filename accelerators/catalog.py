"""The built-in accelerators, and lookup by name or by path to a user's own file."""

from __future__ import annotations

from pathlib import Path

from accelerators.description import BUILTIN_DIR, AcceleratorSpec, load_description
from tracer.errors import DescriptionError


def builtin_names() -> list[str]:
    return sorted(path.stem for path in BUILTIN_DIR.glob("*.toml"))


def find_accelerator(name_or_path: str) -> AcceleratorSpec:
    """A built-in name (e.g. 'systolic') or a path to a .toml description, its structure
    checked; isa.registry.load_accelerator also checks it against its family."""
    if name_or_path.endswith(".toml"):
        return load_description(Path(name_or_path))
    if name_or_path not in builtin_names():
        raise DescriptionError(
            f"unknown accelerator {name_or_path!r}; built-in: {', '.join(builtin_names())} "
            f"(or give the path of a .toml description)"
        )
    return load_description(BUILTIN_DIR / f"{name_or_path}.toml")
