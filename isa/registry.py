"""Which family serves which `isa` named in a description: one line per family."""

from __future__ import annotations

from accelerators.catalog import find_accelerator
from accelerators.description import Accelerator, AcceleratorSpec
from isa import gemmini, plasticine, systolic, ultratrail
from isa.family import Family
from tracer.errors import DescriptionError

FAMILIES: dict[str, Family] = {
    family.name: family
    for family in (
        gemmini.FAMILY,
        plasticine.FAMILY,
        systolic.FAMILY,
        ultratrail.FAMILY,
    )
}


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
