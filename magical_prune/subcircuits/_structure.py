"""The building blocks the classifier labels: stages, input pairs, passive networks.

Channel-connected blocks (transistors joined drain/source to drain/source, cut at the
supplies) are the stages, bias branches and CMFB amplifiers; source-coupled pairs are the
candidate differential inputs; passives joined through nets only passives touch form one
network (a series RC, a sense star) labelled as a whole.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import combinations

import networkx as nx

from magical_prune.circuit import Circuit, DeviceType
from magical_prune.subcircuits._names import is_input_name
from magical_prune.subcircuits._topology import Topology


@dataclass(frozen=True)
class Block:
    devices: tuple[str, ...]
    nets: frozenset[str]  # the non-supply nets its transistors' D/S sit on


def channel_blocks(topo: Topology) -> tuple[list[Block], dict[str, int], dict[str, int]]:
    """Channel-connected components of the active transistors, cut at the supplies."""
    g = nx.Graph()
    for name, (drain, _, source) in topo.transistors.items():
        g.add_node(("d", name))
        for net in (drain, source):
            if net not in topo.supplies:
                g.add_edge(("d", name), ("n", net))
    blocks = []
    for component in nx.connected_components(g):
        devices = sorted((n for k, n in component if k == "d"), key=topo.order.__getitem__)
        nets = frozenset(n for k, n in component if k == "n")
        blocks.append(Block(tuple(devices), nets))
    blocks.sort(key=lambda b: topo.order[b.devices[0]])
    block_of = {d: i for i, b in enumerate(blocks) for d in b.devices}
    block_of_net = {n: i for i, b in enumerate(blocks) for n in b.nets}
    return blocks, block_of, block_of_net


@dataclass(frozen=True)
class Pair:
    """Source-coupled transistors: same type, sources on one non-supply net, two gates."""

    source: str
    gates: tuple[str, str]
    devices: tuple[tuple[str, ...], tuple[str, ...]]

    @property
    def members(self) -> tuple[str, ...]:
        return self.devices[0] + self.devices[1]


def source_coupled_pairs(topo: Topology) -> list[Pair]:
    groups: dict[tuple[str, DeviceType, str], list[str]] = {}
    for name, (_, gate, source) in topo.transistors.items():
        if source not in topo.supplies and name not in topo.diode and gate != source:
            groups.setdefault((source, topo.types[name], gate), []).append(name)
    by_source: dict[tuple[str, DeviceType], list[tuple[str, list[str]]]] = {}
    for (source, mos_type, gate), names in groups.items():
        by_source.setdefault((source, mos_type), []).append((gate, names))
    pairs = []
    for (source, _), sides in by_source.items():
        for (ga, da), (gb, db) in combinations(sides, 2):
            pairs.append(Pair(source, (ga, gb), (tuple(da), tuple(db))))
    return pairs


def find_input_devices(topo: Topology, circuit: Circuit, pairs: list[Pair]) -> set[str]:
    """The first stage's input transistors: the input pair(s), plus anything the inputs gate."""
    candidates = topo.ports or frozenset(circuit.nets)
    named = {
        n for n in candidates if n not in topo.supplies and is_input_name(n) and n in topo.gated
    }
    if named:
        chosen = [p for p in pairs if set(p.gates) <= named] or [
            p for p in pairs if set(p.gates) & named
        ]
        found = {d for p in chosen for d in p.members}
        return found | {d for n in named for d in topo.gated[n]}

    def undriven(net: str) -> bool:  # only gates on it, as on an external input
        return net not in topo.channel and net not in topo.passive_on

    levels = [
        [p for p in pairs if all(undriven(g) and g in topo.ports for g in p.gates)],
        [p for p in pairs if all(undriven(g) for g in p.gates)],
        [p for p in pairs if all(g not in topo.channel for g in p.gates)],
    ]
    for chosen in levels:
        if chosen:
            return {d for p in chosen for d in p.members}
    if pairs:  # least-driven gates
        load = {p: sum(len(topo.channel.get(g, ())) for g in p.gates) for p in pairs}
        best = min(load.values())
        return {d for p in pairs if load[p] == best for d in p.members}
    return set()


# -- passive networks -----------------------------------------------------------------------
@dataclass(frozen=True)
class Network:
    """Passives joined through nets only passives (and gates) touch: a series RC, a sense star."""

    passives: tuple[str, ...]
    internal: frozenset[str]
    terminals: frozenset[str]
    shunt_capacitor: bool  # a capacitor of it sits on a supply: filters/compensates a node


def passive_networks(topo: Topology, inputs: set[str]) -> list[Network]:
    def internal(net: str) -> bool:
        return (
            net not in topo.supplies
            and net not in topo.ports
            and net not in inputs
            and net not in topo.channel
        )

    g = nx.Graph()
    for name, nets in topo.passives.items():
        g.add_node(("p", name))
        for net in nets:
            if internal(net):
                g.add_edge(("p", name), ("n", net))
    networks = []
    for component in nx.connected_components(g):
        members = sorted((n for k, n in component if k == "p"), key=topo.order.__getitem__)
        inner = frozenset(n for k, n in component if k == "n")
        terminals = frozenset(
            n
            for m in members
            for n in topo.passives[m]
            if n not in inner and n not in topo.supplies
        )
        shunt = any(m in topo.capacitors and set(topo.passives[m]) & topo.supplies for m in members)
        networks.append(Network(tuple(members), inner, terminals, shunt))
    networks.sort(key=lambda w: topo.order[w.passives[0]])
    return networks
