"""Cells into one flat list of devices: the top cell chosen, sub-circuits expanded.

Devices inside a sub-cell are named by instance path (``X1/M0``) and its inner nets get
the same prefix unless they are ports or global; parameters are evaluated in the scope of
each instance, and elements the images do not model are collected for one warning.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field

from magical_prune.adapters._elements import resolve
from magical_prune.adapters._expr import Scope, evaluate
from magical_prune.adapters._netlist_cells import Cell, Netlist
from magical_prune.circuit import Device, DeviceType
from magical_prune.errors import MagicalPruneError, ParseError

PathLike = str | os.PathLike[str]


@dataclass
class Flat:
    """What flattening collects: devices and the elements left out."""

    netlist: Netlist
    types: Mapping[str, DeviceType] | None
    path: PathLike
    globals_scope: Scope
    devices: list[Device] = field(default_factory=list)
    unmodelled: dict[str, str] = field(default_factory=dict)


def _values(raw: Mapping[str, str], spice: bool, scope: Scope) -> dict[str, float]:
    """The parameters that are numbers or arithmetic over known names."""
    out = {}
    for key, text in raw.items():
        value = evaluate(text, spice, scope.get)
        if value is not None:
            out[key] = value
    return out


def flatten(
    flat: Flat,
    cell: Cell,
    prefix: str,
    netmap: Mapping[str, str],
    stack: tuple[str, ...],
    scope: Scope,
) -> None:
    if cell.error is not None:
        raise cell.error
    netlist, path = flat.netlist, flat.path

    def net(name: str) -> str:
        if name in netmap:
            return netmap[name]
        if not prefix or name in netlist.globals or name.endswith("!"):
            return name
        return prefix + name

    for inst in cell.instances:
        flat_name = prefix + inst.name
        element = resolve(inst, flat_name, netlist.tables, flat.types, path)
        if element.kind == "skip":
            continue
        if element.kind == "unmodelled":
            flat.unmodelled[flat_name] = element.what
            continue
        params = _values({**element.values, **inst.raw}, inst.spice, scope)
        if element.kind == "cell":
            sub = netlist.cells[element.master]
            if sub.name in stack:
                chain = " -> ".join((*stack, sub.name))
                raise ParseError(f"sub-circuit instantiates itself ({chain})", path, inst.line)
            if len(element.terminals) != len(sub.ports):
                raise ParseError(
                    f"instance {inst.name!r} of {sub.name!r} has {len(element.terminals)} "
                    f"terminals, the sub-circuit has {len(sub.ports)} ports",
                    path, inst.line,
                )  # fmt: skip
            child = Scope(flat.globals_scope)
            for key, value in params.items():
                child.set(key, value, inst.spice)
            child.define(sub.params, skip=frozenset(params))
            nets = dict(zip(sub.ports, (net(t) for t in element.terminals)))
            flatten(flat, sub, flat_name + "/", nets, (*stack, sub.name), child)
            continue
        device_type = element.device_type
        assert device_type is not None  # resolve() types every "device"
        n = len(element.terminals)
        if device_type.is_mos and n not in (3, 4):
            raise ParseError(
                f"MOS {inst.name!r} needs terminals (D G S B), got {n}", path, inst.line
            )
        if not device_type.is_mos and n not in (2, 3):
            raise ParseError(
                f"{device_type.value} {inst.name!r} needs 2 or 3 terminals, got {n}",
                path,
                inst.line,
            )
        nets_of = tuple(net(t) for t in element.terminals)
        flat.devices.append(Device(flat_name, device_type, nets_of, element.master, params))


def choose_top(netlist: Netlist, top: str | None, path: PathLike) -> Cell | None:
    cells = netlist.cells
    if top is not None:
        if top not in cells:
            have = ", ".join(cells) or "none"
            raise MagicalPruneError(f"no sub-circuit named {top!r} (defined: {have})", path)
        return cells[top]
    if not cells:
        return None
    explicit = [c for c in cells.values() if c.explicit_top]
    if len(explicit) == 1:
        return explicit[0]
    used = {i.callee for c in cells.values() for i in c.instances if i.callee != c.name}
    candidates = [c for c in cells.values() if c.name not in used]
    if len(candidates) > 1:
        in_bench = {i.callee for i in netlist.toplevel.instances}
        tested = [c for c in candidates if c.name in in_bench]
        candidates = tested if len(tested) == 1 else candidates
    if len(candidates) != 1:
        # a malformed line may hide the instance that decides the top cell: report it
        for broken in (*cells.values(), netlist.toplevel):
            if broken.error is not None:
                raise broken.error
    if not candidates:
        raise ParseError("every sub-circuit is instantiated by another: no top cell", path)
    if len(candidates) > 1:
        names = ", ".join(c.name for c in candidates)
        raise MagicalPruneError(
            f"several top-level sub-circuits ({names}); choose one with --top NAME", path
        )
    return candidates[0]
