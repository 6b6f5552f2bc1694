"""Which family serves which `isa` named in a description: one line per family."""

from __future__ import annotations

import importlib
from collections.abc import Iterator, MutableMapping
from typing import TYPE_CHECKING

from accelerators.catalog import find_accelerator
from accelerators.description import Accelerator, AcceleratorSpec
from isa.family import Family
from tracer.errors import DescriptionError

if TYPE_CHECKING:
    # Never run, but lint-imports reads it: the families sit under the registry in the
    # import layers (pyproject.toml), so one importing anything above it is refused.
    from isa import gemmini, plasticine, systolic, ultratrail  # noqa: F401


class FamilyTable(MutableMapping[str, Family]):
    """Family name -> Family, each family's subpackage imported on first use: `analyze`
    of one family's trace then loads none of the others' lowering code (about 25 ms of
    a 0.3 s `analyze`). Entries are a subpackage to import or a Family (a test adds one)."""

    def __init__(self, subpackages: dict[str, str]) -> None:
        self._entries: dict[str, str | Family] = dict(subpackages)

    def __getitem__(self, name: str) -> Family:
        entry = self._entries[name]
        if isinstance(entry, str):
            entry = self._entries[name] = importlib.import_module(entry).FAMILY
        return entry

    def __contains__(self, name: object) -> bool:
        return name in self._entries  # without importing it, as Mapping's would

    def __setitem__(self, name: str, family: Family) -> None:
        self._entries[name] = family

    def __delitem__(self, name: str) -> None:
        del self._entries[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._entries)

    def __len__(self) -> int:
        return len(self._entries)


FAMILIES = FamilyTable(
    {
        "gemmini": "isa.gemmini",
        "plasticine": "isa.plasticine",
        "systolic": "isa.systolic",
        "ultratrail": "isa.ultratrail",
    }
)


def family_named(isa: str, where: str) -> Family:
    """`where` names what gave the isa, e.g. "acc.toml: field 'isa'"."""
    try:
        return FAMILIES[isa]
    except KeyError:
        raise DescriptionError(
            f"{where} names isa {isa!r}; known ISAs: {', '.join(sorted(FAMILIES))}"
        ) from None


def family_of(accelerator: Accelerator) -> Family:
    return family_named(accelerator.isa, f"accelerator {accelerator.name!r}")


def load_accelerator(name_or_path: str) -> AcceleratorSpec:
    """A built-in name or a .toml path, loaded (accelerators.catalog) and checked against
    the family it names: what the CLI and the API look an accelerator up with."""
    spec = find_accelerator(name_or_path)
    family_named(spec.isa, f"{spec.source}: field 'isa'").check(spec)
    return spec
