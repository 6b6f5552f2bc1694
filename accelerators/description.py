"""Accelerator descriptions: validate a TOML file, then resolve it with user parameters.

Two steps, kept apart: `load_description` checks the file's structure and every
expression once (a bad or unknown field is reported with file and field);
`AcceleratorSpec.resolve` applies the user's --param overrides and produces plain integers
for the ISA lowering. Whether the family named by `isa` can run the description (the
parameters and units its code reads) is checked one layer up, by isa.registry.load_accelerator.
"""

from __future__ import annotations

import difflib
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from accelerators.expressions import ExpressionError, evaluate, referenced_names
from tracer.errors import DescriptionError

SCHEMA_VERSION = 1
BUILTIN_DIR = Path(__file__).resolve().parent

# The keys each table accepts; anything else is refused, so a misspelt key cannot be
# silently ignored (and its table's default used instead).
TOP_LEVEL_KEYS = ("schema", "name", "isa", "summary", "parameters", "frontend", "units", "roofline")
PARAMETER_KEYS = {
    "int": ("type", "default", "min", "max", "doc"),
    "choice": ("type", "default", "choices", "doc"),
}
FRONTEND_KEYS = ("bundles_per_cycle", "window_bundles", "delay")
UNIT_KEYS = ("instances", "latency", "occupancy", "opcodes", "doc")
ROOFLINE_KEYS = ("peak_macs_per_cycle", "dram_words_per_cycle")
# A parameter any description may declare (type "int", in kHz) without its family reading
# it: reports then give each latency in milliseconds at that clock (analyzer/report.py).
CLOCK_PARAMETER = "clock_khz"
# Tables earlier descriptions held that nothing reads; refused with where their content goes.
RETIRED_TABLES = {
    "memories": "a memory's size is a parameter its family's code reads (e.g. "
    "[parameters.ifmap_sram_kib], [parameters.scratchpad_kib]); describe the memory in that "
    "parameter's doc",
}


@dataclass(frozen=True)
class ParameterSpec:
    name: str
    kind: str  # "int" or "choice"
    default: int | str
    doc: str
    minimum: int | None = None
    maximum: int | None = None
    choices: tuple[str, ...] = ()

    def parse(self, text: str, source: str) -> int | str:
        """Convert a --param value given as text, or raise naming the allowed values."""
        if self.kind == "choice":
            if text not in self.choices:
                raise DescriptionError(
                    f"{source}: parameter {self.name}={text!r} is not allowed; "
                    f"choose one of {', '.join(self.choices)}"
                )
            return text
        try:
            value = int(text)
        except ValueError:
            raise DescriptionError(
                f"{source}: parameter {self.name}={text!r} must be an integer "
                f"in [{self.minimum}, {self.maximum}]"
            ) from None
        self.check_range(value, source)
        return value

    def check_range(self, value: int, source: str) -> None:
        if (self.minimum is not None and value < self.minimum) or (
            self.maximum is not None and value > self.maximum
        ):
            raise DescriptionError(
                f"{source}: parameter {self.name}={value} is out of range; "
                f"allowed: {self.minimum}..{self.maximum}"
            )

    def describe_allowed(self) -> str:
        if self.kind == "choice":
            return "|".join(self.choices)
        return f"{self.minimum}..{self.maximum}"


@dataclass(frozen=True)
class UnitSpec:
    name: str
    instances: str | int
    latency: str | int
    occupancy: str | int
    opcodes: tuple[str, ...]
    doc: str


@dataclass(frozen=True)
class FrontEndSpec:
    bundles_per_cycle: str | int
    window_bundles: str | int
    delay: str | int


@dataclass(frozen=True)
class RooflineSpec:
    peak_macs_per_cycle: str | int
    dram_words_per_cycle: str | int


@dataclass(frozen=True)
class Roofline:
    """What a roofline model of this accelerator uses: useful MACs it can do per cycle at
    best, and DRAM words per cycle (0: unlimited, so no memory roof)."""

    peak_macs_per_cycle: int
    dram_words_per_cycle: int


@dataclass(frozen=True)
class Unit:
    """A functional unit kind after parameters are applied."""

    name: str
    instances: int
    latency: int
    occupancy: int
    opcodes: tuple[str, ...]


@dataclass(frozen=True)
class FrontEnd:
    bundles_per_cycle: int
    window_bundles: int
    delay: int


@dataclass(frozen=True)
class Accelerator:
    """A resolved accelerator: every size is an integer, ready for lowering."""

    name: str
    isa: str
    parameters: dict[str, int | str]
    frontend: FrontEnd
    units: dict[str, Unit]
    roofline: Roofline | None = None

    def roofline_table(self) -> dict[str, int] | None:
        """The roofline as a Program stores it (analyzer/crosscheck/baselines.py reads it)."""
        if self.roofline is None:
            return None
        return {
            "peak_macs_per_cycle": self.roofline.peak_macs_per_cycle,
            "dram_words_per_cycle": self.roofline.dram_words_per_cycle,
        }


@dataclass(frozen=True)
class AcceleratorSpec:
    name: str
    isa: str
    summary: str
    source: str
    parameters: tuple[ParameterSpec, ...]
    frontend: FrontEndSpec
    units: tuple[UnitSpec, ...]
    roofline: RooflineSpec | None = None

    def parameter(self, name: str) -> ParameterSpec:
        for spec in self.parameters:
            if spec.name == name:
                return spec
        allowed = ", ".join(p.name for p in self.parameters)
        raise DescriptionError(
            f"accelerator {self.name!r} has no parameter {name!r}; its parameters: {allowed}"
        )

    def resolve(self, overrides: dict[str, str] | None = None) -> Accelerator:
        """Apply textual overrides (from --param NAME=VALUE) and evaluate every size."""
        values: dict[str, int | str] = {p.name: p.default for p in self.parameters}
        for name, text in (overrides or {}).items():
            values[name] = self.parameter(name).parse(text, f"--param {name}")
        return _build(self, values, source=f"accelerator {self.name!r}")

    def parameters_in_expressions(self) -> frozenset[str]:
        """The parameters some size of the description is computed from."""
        return frozenset(name for _, text in _expressions(self) for name in referenced_names(text))


def load_description(path: Path) -> AcceleratorSpec:
    """Read and validate one description file; errors name the file and the field."""
    source = str(path)
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise DescriptionError(f"{source}: no such accelerator description") from None
    except OSError as exc:
        raise DescriptionError(
            f"{source}: cannot read it ({exc.strerror or exc}); give a .toml description file"
        ) from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise DescriptionError(f"{source}: not valid TOML ({exc})") from None
    except RecursionError:
        raise DescriptionError(f"{source}: nested too deeply to be a description") from None
    for table, where_instead in RETIRED_TABLES.items():
        if table in raw:
            raise DescriptionError(f"{source}: table '{table}' is not accepted: {where_instead}")
    reader = _Fields(raw, source)
    reader.accept_only(TOP_LEVEL_KEYS)
    if reader.integer("schema") != SCHEMA_VERSION:
        raise DescriptionError(
            f"{source}: field 'schema' must be {SCHEMA_VERSION} (this accperf's format)"
        )
    parameters = tuple(
        _parameter(name, reader.sub("parameters", name)) for name in reader.table("parameters")
    )
    frontend_fields = reader.sub_table("frontend")
    frontend_fields.accept_only(FRONTEND_KEYS)
    frontend = FrontEndSpec(
        bundles_per_cycle=frontend_fields.expression("bundles_per_cycle"),
        window_bundles=frontend_fields.expression("window_bundles"),
        delay=frontend_fields.expression("delay"),
    )
    units = tuple(_unit(name, reader.sub("units", name)) for name in reader.table("units"))
    if not units:
        raise DescriptionError(f"{source}: field 'units' must describe at least one unit")
    roofline = None
    if "roofline" in raw:
        roofline_fields = reader.sub_table("roofline")
        roofline_fields.accept_only(ROOFLINE_KEYS)
        roofline = RooflineSpec(
            peak_macs_per_cycle=roofline_fields.expression("peak_macs_per_cycle"),
            dram_words_per_cycle=roofline_fields.expression("dram_words_per_cycle"),
        )
    name = reader.text("name")
    if not name or name in (".", "..") or not name.isprintable() or "/" in name or "\\" in name:
        # The name is part of every trace folder's name.
        raise DescriptionError(
            f"{reader.where('name')} is {name!r}; give a name without / or \\ or control "
            "characters (it names trace folders)"
        )
    spec = AcceleratorSpec(
        name=name,
        isa=reader.text("isa"),
        summary=reader.text("summary", ""),
        source=source,
        parameters=parameters,
        frontend=frontend,
        units=units,
        roofline=roofline,
    )
    _check_expressions(spec)
    # Resolving with the defaults proves the description is usable before anyone asks.
    _build(spec, {p.name: p.default for p in parameters}, source=f"{source} (defaults)")
    return spec


def _parameter(name: str, fields: _Fields) -> ParameterSpec:
    kind = fields.text("type")
    if kind not in PARAMETER_KEYS:
        raise DescriptionError(f"{fields.where('type')}: must be 'int' or 'choice', got {kind!r}")
    fields.accept_only(PARAMETER_KEYS[kind])
    doc = fields.text("doc", "")
    if kind == "int":
        minimum = fields.integer("min")
        maximum = fields.integer("max")
        default = fields.integer("default")
        spec = ParameterSpec(name, kind, default, doc, minimum=minimum, maximum=maximum)
        spec.check_range(default, fields.where("default"))
        return spec
    choices = fields.strings("choices")
    default = fields.text("default")
    if default not in choices:
        raise DescriptionError(
            f"{fields.where('default')}: {default!r} is not one of {', '.join(choices)}"
        )
    return ParameterSpec(name, kind, default, doc, choices=choices)


def _unit(name: str, fields: _Fields) -> UnitSpec:
    fields.accept_only(UNIT_KEYS)
    return UnitSpec(
        name=name,
        instances=fields.expression("instances"),
        latency=fields.expression("latency"),
        occupancy=fields.expression("occupancy"),
        opcodes=fields.strings("opcodes"),
        doc=fields.text("doc", ""),
    )


def _expressions(spec: AcceleratorSpec) -> list[tuple[str, str | int]]:
    """Every size of the description that may be an expression, with its dotted field."""
    places: list[tuple[str, str | int]] = [
        ("frontend.bundles_per_cycle", spec.frontend.bundles_per_cycle),
        ("frontend.window_bundles", spec.frontend.window_bundles),
        ("frontend.delay", spec.frontend.delay),
    ]
    for unit in spec.units:
        for attr in ("instances", "latency", "occupancy"):
            places.append((f"units.{unit.name}.{attr}", getattr(unit, attr)))
    if spec.roofline is not None:
        places.append(("roofline.peak_macs_per_cycle", spec.roofline.peak_macs_per_cycle))
        places.append(("roofline.dram_words_per_cycle", spec.roofline.dram_words_per_cycle))
    return places


def _check_expressions(spec: AcceleratorSpec) -> None:
    known = {p.name for p in spec.parameters}
    int_names = {p.name for p in spec.parameters if p.kind == "int"}
    for where, text in _expressions(spec):
        try:
            names = referenced_names(text)
        except ExpressionError as exc:
            raise DescriptionError(f"{spec.source}: field '{where}': {exc}") from None
        unknown = names - known
        if unknown:
            raise DescriptionError(
                f"{spec.source}: field '{where}' uses unknown parameter(s) "
                f"{', '.join(sorted(unknown))}; declared: {', '.join(sorted(known))}"
            )
        if names - int_names:
            raise DescriptionError(
                f"{spec.source}: field '{where}' uses non-integer parameter(s) "
                f"{', '.join(sorted(names - int_names))}"
            )


def _build(spec: AcceleratorSpec, values: dict[str, int | str], source: str) -> Accelerator:
    ints = {k: v for k, v in values.items() if isinstance(v, int)}

    def value(where: str, text: str | int, minimum: int) -> int:
        try:
            result = evaluate(text, ints)
        except ExpressionError as exc:
            raise DescriptionError(f"{source}: field '{where}': {exc}") from None
        if result < minimum:
            # The parameters the size is computed from, with their values: what the user
            # can change (the others, and the field's name, would only distract).
            names = [n for n in sorted(referenced_names(text)) if n in ints]
            at = " at " + ", ".join(f"{n}={ints[n]}" for n in names) if names else ""
            raise DescriptionError(
                f"{source}: {where} ({text}) is {result}{at}; it must be at least {minimum}"
                + (f": choose other values of {', '.join(names)}" if names else "")
            )
        return result

    frontend = FrontEnd(
        bundles_per_cycle=value("frontend.bundles_per_cycle", spec.frontend.bundles_per_cycle, 1),
        window_bundles=value("frontend.window_bundles", spec.frontend.window_bundles, 1),
        delay=value("frontend.delay", spec.frontend.delay, 0),
    )
    units = {
        unit.name: Unit(
            name=unit.name,
            instances=value(f"units.{unit.name}.instances", unit.instances, 1),
            latency=value(f"units.{unit.name}.latency", unit.latency, 0),
            occupancy=value(f"units.{unit.name}.occupancy", unit.occupancy, 1),
            opcodes=unit.opcodes,
        )
        for unit in spec.units
    }
    roofline = None
    if spec.roofline is not None:
        roofline = Roofline(
            peak_macs_per_cycle=value(
                "roofline.peak_macs_per_cycle", spec.roofline.peak_macs_per_cycle, 1
            ),
            dram_words_per_cycle=value(
                "roofline.dram_words_per_cycle", spec.roofline.dram_words_per_cycle, 0
            ),
        )
    return Accelerator(
        name=spec.name,
        isa=spec.isa,
        parameters=dict(values),
        frontend=frontend,
        units=units,
        roofline=roofline,
    )


class _Fields:
    """Typed access to one TOML table, naming file and dotted field on every error."""

    def __init__(self, raw: dict[str, Any], source: str, prefix: str = "") -> None:
        self.raw = raw
        self.source = source
        self.prefix = prefix

    def where(self, key: str) -> str:
        return f"{self.source}: field '{self.prefix}{key}'"

    def accept_only(self, keys: Sequence[str]) -> None:
        """Refuse any key of this table not in `keys`, naming the nearest accepted one."""
        for key in self.raw:
            if key not in keys:
                table = f"[{self.prefix[:-1]}]" if self.prefix else "the top level"
                raise DescriptionError(
                    f"{self.source}: key '{self.prefix}{key}' is not accepted"
                    f"{did_you_mean(key, keys)}; {table} accepts {', '.join(keys)}"
                )

    def _get(self, key: str, default: Any = ...) -> Any:
        if key in self.raw:
            return self.raw[key]
        if default is ...:
            raise DescriptionError(f"{self.where(key)} is missing")
        return default

    def text(self, key: str, default: Any = ...) -> str:
        value = self._get(key, default)
        if not isinstance(value, str):
            raise DescriptionError(f"{self.where(key)} must be a string, got {value!r}")
        return value

    def integer(self, key: str) -> int:
        value = self._get(key)
        if not isinstance(value, int) or isinstance(value, bool):
            raise DescriptionError(f"{self.where(key)} must be an integer, got {value!r}")
        return value

    def expression(self, key: str) -> str | int:
        value = self._get(key)
        if isinstance(value, bool) or not isinstance(value, (int, str)):
            raise DescriptionError(
                f"{self.where(key)} must be an integer or an expression such as "
                f"'rows * cols', got {value!r}"
            )
        return value

    def strings(self, key: str) -> tuple[str, ...]:
        value = self._get(key)
        if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
            raise DescriptionError(
                f"{self.where(key)} must be a non-empty list of strings, got {value!r}"
            )
        return tuple(value)

    def table(self, key: str, required: bool = True) -> dict[str, Any]:
        value = self._get(key, ... if required else {})
        if not isinstance(value, dict):
            raise DescriptionError(f"{self.where(key)} must be a table, got {value!r}")
        return value

    def sub_table(self, key: str) -> _Fields:
        return _Fields(self.table(key), self.source, f"{self.prefix}{key}.")

    def sub(self, key: str, name: str) -> _Fields:
        value = self.table(key)[name]
        if not isinstance(value, dict):
            raise DescriptionError(
                f"{self.source}: field '{self.prefix}{key}.{name}' must be a table"
            )
        return _Fields(value, self.source, f"{self.prefix}{key}.{name}.")


def did_you_mean(name: str, known: Sequence[str]) -> str:
    """' (did you mean 'x'?)' for a near miss among `known`, else ''."""
    close = difflib.get_close_matches(name, known, n=1)
    return f" (did you mean '{close[0]}'?)" if close else ""
