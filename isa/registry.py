"""Which lowering serves which `isa` named in a description."""

from __future__ import annotations

from collections.abc import Callable

from accelerators.description import Accelerator
from isa.gemmini import lowering as gemmini
from isa.program import Program
from isa.systolic import lowering as systolic
from tracer.errors import DescriptionError
from tracer.workloads.layers import Model

LOWERINGS: dict[str, Callable[[Accelerator, Model], Program]] = {
    "gemmini": gemmini.lower,
    "systolic": systolic.lower,
}


def lowering_for(accelerator: Accelerator) -> Callable[[Accelerator, Model], Program]:
    try:
        return LOWERINGS[accelerator.isa]
    except KeyError:
        raise DescriptionError(
            f"accelerator {accelerator.name!r} names isa {accelerator.isa!r}; "
            f"known ISAs: {', '.join(sorted(LOWERINGS))}"
        ) from None
