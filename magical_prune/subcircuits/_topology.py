"""The circuit seen electrically: supplies, and each device's role (transistor, passive, dummy).

A MOS transistor is not always an amplifying device: one with drain and source shorted is a
capacitor, one fully on between passives is a resistor, one with every terminal on a rail
is a dummy. The rules of :mod:`magical_prune.subcircuits` reason on these roles, so they
are settled once here, together with the per-net indexes (what a net gates, whose channel
sits on it, which passives touch it) every later step looks up.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from magical_prune.circuit import Circuit, Device, DeviceType
from magical_prune.subcircuits._names import HIGH_SUPPLY_RE, is_supply_name


@dataclass
class Topology:
    """Terminal roles of the circuit: active transistors, two-terminal passives, dummies."""

    order: dict[str, int]
    supplies: frozenset[str]
    ports: frozenset[str]
    transistors: dict[str, tuple[str, str, str]] = field(default_factory=dict)  # D, G, S
    diode: set[str] = field(default_factory=set)
    passives: dict[str, tuple[str, ...]] = field(default_factory=dict)  # terminal nets
    dummies: list[str] = field(default_factory=list)
    gated: dict[str, list[str]] = field(default_factory=dict)  # net -> transistors gated
    channel: dict[str, list[str]] = field(default_factory=dict)  # net -> transistors' D/S
    passive_on: dict[str, list[str]] = field(default_factory=dict)  # net -> passives
    types: dict[str, DeviceType] = field(default_factory=dict)
    capacitors: set[str] = field(default_factory=set)  # CAPs and MOS capacitors


def find_supplies(circuit: Circuit) -> frozenset[str]:
    """Supply rails: nets named like supplies, else the most common bulk net per MOS type.

    Bulks are tied to the rails in all but a few devices (an input pair with its bulk on its
    source is the usual exception, hence the majority vote), so the most common NMOS bulk is
    the negative rail and the most common PMOS bulk the positive one when names say nothing.
    """
    supplies = {n for n in circuit.nets if n and is_supply_name(n)}
    for mos_type in (DeviceType.NMOS, DeviceType.PMOS):
        bulks = Counter(
            b for d in circuit.devices.values() if d.type is mos_type and (b := d.net("B"))
        )
        if bulks and not (supplies & bulks.keys()):
            supplies.add(max(bulks.items(), key=lambda kv: kv[1])[0])  # first max: netlist order
    return frozenset(supplies)


def _high_supplies(circuit: Circuit, supplies: frozenset[str]) -> frozenset[str]:
    """Positive rails: where PMOS sources/bulks sit (names break ties)."""
    score: Counter[str] = Counter()
    for d in circuit.devices.values():
        if d.type.is_mos:
            sign = 1 if d.type is DeviceType.PMOS else -1
            for pin in ("S", "B"):
                net = d.net(pin)
                if net in supplies:
                    score[net] += sign
    return frozenset(
        s for s in supplies if score[s] > 0 or (score[s] == 0 and HIGH_SUPPLY_RE.search(s))
    )


def read_topology(circuit: Circuit) -> Topology:
    supplies = find_supplies(circuit) | {""}  # "" = unconnected terminal: a dead end too
    high = _high_supplies(circuit, supplies)
    ports = frozenset(p for p in circuit.ports if p not in supplies)
    topo = Topology(
        order={n: i for i, n in enumerate(circuit.devices)}, supplies=supplies, ports=ports
    )
    topo.types = {n: d.type for n, d in circuit.devices.items()}

    def only_passives_besides(net: str, device: Device) -> bool:
        """Whether only passives (and fingers in parallel with ``device``) share ``net``."""
        terminals = device.nets[:3]
        others = [
            circuit.devices[d]
            for d, _ in (circuit.nets[net].pins if net in circuit.nets else ())
            if d != device.name
        ]
        return any(not o.type.is_mos for o in others) and all(
            not o.type.is_mos or (o.type is device.type and o.nets[:3] == terminals) for o in others
        )

    for d in circuit.devices.values():
        if d.type.is_mos:
            drain, gate, source = (d.net(p) or "" for p in ("D", "G", "S"))
            if {drain, gate, source} <= supplies or drain == gate == source:
                topo.dummies.append(d.name)
            elif drain == source:  # MOS capacitor: gate plate against the channel
                topo.passives[d.name] = (gate, drain)
                topo.capacitors.add(d.name)
            elif (
                drain not in supplies
                and source not in supplies
                and gate in supplies - {""}
                and ((gate in high) == (d.type is DeviceType.NMOS))  # fully on: a resistor
                and (only_passives_besides(drain, d) or only_passives_besides(source, d))
            ):
                topo.passives[d.name] = (drain, source)
            else:
                topo.transistors[d.name] = (drain, gate, source)
                if drain == gate:
                    topo.diode.add(d.name)
        else:
            nets = tuple(n for n in d.nets[:2] if n)
            if nets and not set(nets) <= supplies:
                topo.passives[d.name] = nets
                if d.type is DeviceType.CAP:
                    topo.capacitors.add(d.name)
            else:
                topo.dummies.append(d.name)
    for name, (drain, gate, source) in topo.transistors.items():
        topo.gated.setdefault(gate, []).append(name)
        for net in dict.fromkeys((drain, source)):
            if net not in supplies:
                topo.channel.setdefault(net, []).append(name)
    for name, nets in topo.passives.items():
        for net in dict.fromkeys(nets):
            if net not in supplies:
                topo.passive_on.setdefault(net, []).append(name)
    return topo
