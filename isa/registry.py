"""Which family serves which `isa` named in a description: one line per family."""

from __future__ import annotations

from accelerators.description import Accelerator
from isa import gemmini, systolic
from isa.family import Family
from tracer.errors import DescriptionError

FAMILIES: dict[str, Family] = {
    family.name: family
    for family in (
        gemmini.FAMILY,
        systolic.FAMILY,
    )
}


def family_named(isa: str, accelerator: str) -> Family:
    try:
        return FAMILIES[isa]
    except KeyError:
        raise DescriptionError(
            f"accelerator {accelerator!r} names isa {isa!r}; "
            f"known ISAs: {', '.join(sorted(FAMILIES))}"
        ) from None


def family_of(accelerator: Accelerator) -> Family:
    return family_named(accelerator.isa, accelerator.name)
