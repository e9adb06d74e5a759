"""Device types and pin terminals of a recorded placer problem.

The placer only knows cells, pins and nets. A :class:`~magical_prune.circuit.Circuit` also
needs each device's type and which terminal (``D``, ``G``, ``S``, ``PLUS`` ...) each pin
is. Both come from the netlist when one is given; without it from what the names and the
supply nets say, and a device nothing types is an error that says how to fix it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import TYPE_CHECKING

from magical_prune.circuit import MOS_PINS, PASSIVE_PINS, Circuit, DeviceType
from magical_prune.errors import MagicalPruneError

if TYPE_CHECKING:  # pragma: no cover
    from magical_prune.integrations._problem import RecordedProblem

#: Terminal names a pin may carry itself (MAGICAL names device pins by the device's nets).
_TERMINALS = frozenset(MOS_PINS) | frozenset(PASSIVE_PINS) | {"BULK"}
#: Cell-name prefixes that tell a device's type (``MN3``, ``MP0``, ``C1``, ``R2``).
_NAME_HINTS: tuple[tuple[re.Pattern[str], DeviceType | None], ...] = (
    (re.compile(r"^x?(mn|nm)\d", re.IGNORECASE), DeviceType.NMOS),
    (re.compile(r"^x?(mp|pm)\d", re.IGNORECASE), DeviceType.PMOS),
    (re.compile(r"^x?c", re.IGNORECASE), DeviceType.CAP),
    (re.compile(r"^x?r", re.IGNORECASE), DeviceType.RES),
    (re.compile(r"^x?m", re.IGNORECASE), None),  # a transistor: polarity from supply nets
)
_VDD_NAME = re.compile(r"^(vdd|avdd|dvdd|vcc|vdda|vddd)[!_0-9a-z]*$", re.IGNORECASE)
_VSS_NAME = re.compile(r"^(vss|gnd|avss|dvss|agnd|dgnd|vee|vssa|vssd|0)[!_0-9a-z]*$", re.IGNORECASE)


def device_types(
    problem: RecordedProblem,
    cell_names: Mapping[int, str],
    net_names: Mapping[int, str],
    types: Mapping[str, DeviceType | str] | None,
    netlist: Circuit | None,
) -> dict[str, DeviceType]:
    """Type of every placed cell: ``types``, else the netlist, else the name and supplies.

    Raises:
        MagicalPruneError: cells nothing types (all of them named, with the fix).
    """
    given = {
        k: t if isinstance(t, DeviceType) else DeviceType.parse(t) for k, t in (types or {}).items()
    }
    supplies = _supply_sides(problem, net_names)
    out: dict[str, DeviceType] = {}
    unknown: list[str] = []
    for index, name in cell_names.items():
        found = given.get(name)
        if found is None and netlist is not None and name in netlist.devices:
            found = netlist.devices[name].type
        if found is None:
            found = DeviceType.from_model(name) or _from_name(name, supplies.get(index, set()))
        if found is None:
            unknown.append(name)
        else:
            out[name] = found
    if unknown:
        shown = ", ".join(unknown[:6]) + (" ..." if len(unknown) > 6 else "")
        raise MagicalPruneError(
            f"unknown device type of {len(unknown)} cell(s): {shown}; give the netlist "
            "(netlist=...) or types={'M0': 'NMOS', ...}"
        )
    return out


def _from_name(name: str, sides: set[str]) -> DeviceType | None:
    for pattern, device_type in _NAME_HINTS:
        if pattern.match(name):
            if device_type is not None:
                return device_type
            if sides == {"vss"}:
                return DeviceType.NMOS
            if sides == {"vdd"}:
                return DeviceType.PMOS
            return None
    return None


def _supply_sides(problem: RecordedProblem, net_names: Mapping[int, str]) -> dict[int, set[str]]:
    """Cell index -> which supplies (``vdd``/``vss``) its pins touch: marked nets first
    (``markAsVddNet``/``markAsVssNet``), else nets named like a supply."""
    vdd, vss = set(problem.vdd_nets), set(problem.vss_nets)
    if not vdd and not vss:
        vdd = {i for i, n in net_names.items() if _VDD_NAME.match(n)}
        vss = {i for i, n in net_names.items() if _VSS_NAME.match(n)}
    sides: dict[int, set[str]] = {}
    for net_index, net in problem.nets.items():
        side = "vdd" if net_index in vdd else "vss" if net_index in vss else None
        if side is None:
            continue
        for pin in net.pins:
            recorded = problem.pins.get(pin)
            if recorded is not None:
                sides.setdefault(recorded.cell, set()).add(side)
    return sides


def pin_terminals(
    problem: RecordedProblem,
    cell_names: Mapping[int, str],
    pin_nets: Mapping[int, str],
    types: Mapping[str, DeviceType],
    netlist: Circuit | None,
) -> dict[int, str]:
    """Terminal name of every pin of a placed cell.

    In order: the pin's own name when it is a terminal name; with a netlist, the device's
    terminal on the pin's net; the terminal the driver asked ``pinIdx(cell, terminal)``
    for; else the pin's rank among its cell's pins (MAGICAL allocates them in terminal
    order and skips only unshaped ones, which are last: the bulk).

    Raises:
        MagicalPruneError: a pin on a net the netlist does not connect to its device.
    """
    by_cell: dict[int, list[int]] = {}
    for pin_index in sorted(problem.pins):
        by_cell.setdefault(problem.pins[pin_index].cell, []).append(pin_index)
    out: dict[int, str] = {}
    for cell, pins in by_cell.items():
        device = cell_names.get(cell)
        if device is None:
            continue
        order = types[device].pins
        used: set[str] = set()
        for rank, pin_index in enumerate(pins):
            pin = problem.pins[pin_index]
            label = (pin.name or "").upper()
            net = pin_nets.get(pin_index)
            if label in _TERMINALS:
                terminal = "B" if label == "BULK" else label
            elif netlist is not None and device in netlist.devices:
                terminal = _terminal_on(netlist, device, net, used, pin.name)
            elif pin.terminal is not None and pin.terminal < len(order):
                terminal = order[pin.terminal]
            elif rank < len(order):
                terminal = order[rank]
            else:
                raise MagicalPruneError(
                    f"cell {device!r} has {len(pins)} pins, more than the {len(order)} "
                    f"terminals of a {types[device].value}; give the netlist (netlist=...)"
                )
            used.add(terminal)
            out[pin_index] = terminal
    return out


def _terminal_on(
    netlist: Circuit, device: str, net: str | None, used: set[str], label: str | None
) -> str:
    d = netlist.devices[device]
    if net is None:
        raise MagicalPruneError(
            f"pin {label!r} of cell {device!r} is on no net and its name is no terminal"
        )
    found = [p for p, n in zip(d.pins, d.nets) if n == net]
    free = [p for p in found if p not in used]
    if not found:
        raise MagicalPruneError(
            f"pin {label!r} of cell {device!r} is on net {net!r}, which the netlist "
            f"{netlist.source or netlist.name} does not connect to {device!r} "
            f"(its nets: {' '.join(d.nets)})"
        )
    return (free or found)[0]
