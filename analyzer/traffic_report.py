"""What layers do besides taking time, reported: MACs issued, memory traffic and energy
(`analyze --traffic`, and the `traffic` and energy fields of the JSON; docs/energy.md)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.table import Table

from analyzer.actions import LayerActions, MemoryTraffic
from analyzer.energy import EnergyTable, layer_energy
from isa.program import HostLayer, Program

if TYPE_CHECKING:
    from analyzer.engine.evaluate import LayerResult


def actions_entry(
    actions: LayerActions, cycles: int, per_action: dict[str, float] | None
) -> dict[str, Any]:
    """A layer's actions as JSON fields; energy only where the program is priced."""
    entry: dict[str, Any] = {
        "macs_issued": actions.macs_issued,
        "macs_idle": actions.macs_idle,
        "traffic": {
            memory.memory: {
                "kind": memory.kind,
                "word_bytes": memory.word_bytes,
                "read_words": memory.read_words,
                "write_words": memory.write_words,
                "read_bytes": memory.read_bytes,
                "write_bytes": memory.write_bytes,
            }
            for memory in actions.traffic
        },
    }
    if per_action is not None:
        breakdown = layer_energy(actions, per_action)
        energy = sum(breakdown.values())
        entry["energy_pj"] = energy
        entry["energy_delay_pj_cycles"] = energy * cycles
        entry["energy_breakdown_pj"] = breakdown
    return entry


def flat_actions(entry: dict[str, Any]) -> dict[str, Any]:
    """A layer entry's action fields as flat columns (the API's DataFrame, the sweep's
    Parquet): `<memory>.read_bytes` and so on, `energy.<action>_pj`."""
    flat = {key: value for key, value in entry.items() if key not in _NESTED}
    for memory, fields in (entry.get("traffic") or {}).items():
        for field in _TRAFFIC_FIELDS:
            flat[f"{memory}.{field}"] = fields[field]
    for action, pj in (entry.get("energy_breakdown_pj") or {}).items():
        flat[f"energy.{action}_pj"] = pj
    return flat


_NESTED = ("traffic", "energy_breakdown_pj")
_TRAFFIC_FIELDS = ("read_words", "write_words", "read_bytes", "write_bytes")


def energy_table_entry(table: EnergyTable, program: Program) -> dict[str, Any]:
    """The prices a report used, each with its source."""
    return {
        "source": table.source,
        "mac_pj": {"pj": table.mac.pj, "source": table.mac.source},
        "memories": {
            name: {
                "read_pj_per_byte": read.pj,
                "write_pj_per_byte": write.pj,
                "source": read.source
                if read.source == write.source
                else f"read: {read.source}; write: {write.source}",
            }
            for name, (read, write) in table.memories.items()
            if name in program.memories
        },
    }


def total_actions(results: list[LayerResult]) -> LayerActions | None:
    """The network's actions: every layer's summed (None if any layer has none)."""
    if not results or any(r.actions is None for r in results):
        return None
    per_layer = [r.actions for r in results if r.actions is not None]
    traffic = tuple(
        MemoryTraffic(
            memory.memory,
            memory.kind,
            sum(a.traffic[i].read_words for a in per_layer),
            sum(a.traffic[i].write_words for a in per_layer),
            memory.word_bytes,
        )
        for i, memory in enumerate(per_layer[0].traffic)
    )
    return LayerActions(
        sum(a.macs_issued for a in per_layer),
        sum(a.macs_useful for a in per_layer),
        traffic,
    )


def count_text(n: int) -> str:
    for unit, size in (("G", 10**9), ("M", 10**6), ("k", 10**3)):
        if n >= size:
            return f"{n / size:.2f}{unit}"
    return str(n)


def _bytes(n: int) -> str:
    for unit, size in (("GB", 10**9), ("MB", 10**6), ("kB", 10**3)):
        if n >= size:
            return f"{n / size:.2f} {unit}"
    return f"{n} B"


def energy_text(pj: float) -> str:
    for unit, size in (("J", 1e12), ("mJ", 1e9), ("uJ", 1e6), ("nJ", 1e3)):
        if pj >= size:
            return f"{pj / size:.2f} {unit}"
    return f"{pj:.1f} pJ"


def print_traffic_table(
    console: Console,
    program: Program,
    rows: list[LayerResult | HostLayer],
    results: list[LayerResult],
    table_prices: EnergyTable | None,
) -> None:
    """Per layer: MACs issued and how many idle, each memory's bytes read and written,
    the energy and its largest part; then the network's total and the prices' source."""
    per_action = None if table_prices is None else table_prices.per_action(program)
    memories = list(program.memories)
    table = Table()
    columns = [("layer", "left"), ("MACs issued", "right"), ("idle", "right")]
    columns += [(f"{memory} read / write", "right") for memory in memories]
    if per_action is not None:
        columns += [("energy", "right"), ("largest part", "left")]
    for name, justify in columns:
        table.add_column(name, justify=justify)  # type: ignore[arg-type]

    def cells(actions: LayerActions) -> list[str]:
        idle = actions.macs_idle / actions.macs_issued if actions.macs_issued else 0.0
        out = [count_text(actions.macs_issued), f"{100 * idle:.0f}%"]
        for memory in actions.traffic:
            out.append(f"{_bytes(memory.read_bytes)} / {_bytes(memory.write_bytes)}")
        if per_action is not None:
            breakdown = layer_energy(actions, per_action)
            energy = sum(breakdown.values())
            largest = max(breakdown, key=breakdown.__getitem__)
            share = breakdown[largest] / energy if energy else 0.0
            out += [energy_text(energy), f"{largest} ({100 * share:.0f}%)"]
        return out

    for row in rows:
        if isinstance(row, HostLayer):
            table.add_row(row.name, f"[dim]{row.placement}[/dim]", *[""] * (len(columns) - 2))
        elif row.actions is not None:
            table.add_row(row.name, *cells(row.actions))
    total = total_actions(results)
    if total is not None:
        table.add_section()
        table.add_row("total", *cells(total))
    console.print(
        f"{program.model} on {program.accelerator}: MACs, memory traffic and energy",
        markup=False,
        highlight=False,
        soft_wrap=True,
    )
    console.print(table)
    if table_prices is None:
        console.print("No energy: the program names no datapath widths to price MACs at.")
        return
    prices = Table()
    for name, justify in (("price", "left"), ("pJ", "right"), ("per", "left"), ("source", "left")):
        prices.add_column(name, justify=justify)  # type: ignore[arg-type]
    prices.add_row("mac", f"{table_prices.mac.pj:.4g}", "MAC", table_prices.mac.source)
    for name, (read, write) in table_prices.memories.items():
        for access, cost in (("read", read), ("write", write)):
            prices.add_row(f"{name}.{access}", f"{cost.pj:.4g}", "byte", cost.source)
    console.print(
        f"Energy prices ({table_prices.source}; docs/energy.md):",
        markup=False,
        highlight=False,
        soft_wrap=True,
    )
    console.print(prices)
