"""A user's mapping file (`lower --mapping FILE`), read as JSON or TOML; what its fields
mean is the accelerator family's (isa/gemmini/mapping.py for Gemmini)."""

from __future__ import annotations

import json
import tomllib
from collections.abc import Mapping
from pathlib import Path

from tracer.errors import MappingError

SUFFIXES = (".json", ".toml")


def read_mapping_document(source: str | Path | Mapping) -> tuple[object, str]:
    """(the parsed document, the name errors give it): a path to a .json or .toml file, or
    a dict (the API's `mapping=`), named "mapping"."""
    if isinstance(source, Mapping):
        return source, "mapping"
    path = Path(source)
    if path.suffix.lower() not in SUFFIXES:
        raise MappingError(f"--mapping {path}: give a .json or .toml file")
    kind = path.suffix.lower()[1:].upper()
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise MappingError(f"--mapping {path}: cannot read it ({exc.strerror})") from None
    except UnicodeDecodeError:
        raise MappingError(f"--mapping {path}: not UTF-8 text; save it as UTF-8 {kind}") from None
    try:
        if path.suffix.lower() == ".json":
            return json.loads(text), str(path)
        return tomllib.loads(text), str(path)
    except (ValueError, tomllib.TOMLDecodeError) as exc:
        raise MappingError(f"--mapping {path}: not valid {kind}: {exc}") from None
    except RecursionError:
        raise MappingError(f"--mapping {path}: nested too deeply to be a mapping") from None
