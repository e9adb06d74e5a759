"""Automatic sub-circuit (channel) assignment for OTA-like circuits, from structure alone.

The feature images split the devices of an operational transconductance amplifier into
five sub-circuits (:data:`magical_prune.circuit.SUBCIRCUITS`): 1 first stage (input pair,
its loads and cascodes, its tail), 2 the other gain stages, 3 compensation/feedback
passives, 4 common-mode feedback (CMFB) and 5 bias. The paper labelled them by hand; here
they follow from the netlist topology, with no labels, by rules that hold for OTAs because
of how an amplifier has to be built:

* **Supplies are barriers.** Nets named like VDD/VSS/GND/AVDD/VCC/VEE (or, when no such
  name is used, the net most NMOS resp. PMOS bulks tie to) carry no signal; every graph walk
  stops there.
* **Stages are channel-connected components.** The signal current of a stage flows through
  the drain-source channels of its transistors between the supplies: input pair, cascodes,
  loads and tail of a telescopic or folded-cascode stage are all joined drain/source to
  drain/source, while the next stage only touches them at a *gate*. So the components of
  the graph "transistor -- its D and S nets", cut at the supplies, are the building blocks
  (stages, the CMFB amplifier, bias branches).
* **The input pair names the first stage.** The first stage is the block holding the
  differential input pair: two same-type transistors with their sources on one (non-supply)
  net and their gates on two different nets, the gates being the input ports (INP/INM,
  VIN+/VIN-, VIP/VIM, IN, ...) -- or, when the ports say nothing, nets that only drive
  gates, as an external input does.
* **A feed-forward path is not the first stage.** A second input pair driving the outputs
  directly (a feed-forward amplifier) shares the output nets with the second stage, so both
  fall into one block with input devices. A transistor of such a block whose gate is
  another first-stage block's output and whose drain is an output makes the block a later
  stage; only its input pair, with the pair's tail, stays in the first stage.
* **Signal flows drain -> gate.** A block whose transistor is gated by a net of stage k is
  stage k + 1 (breadth-first, the shortest path counts). Everything reached that way from
  the first stage is a gain stage (channel 2), unless it is common-mode feedback, or an
  auxiliary amplifier whose output only goes back into gates of an earlier stage (a
  gain-boosting amplifier of a cascode): that one belongs to the stage it serves, since a
  real gain stage drives a later stage, an output or nothing.
* **CMFB senses the outputs' average and compares it with a reference.** A common-mode
  sense network is two (or more) equal-kind passives from two signal nets of the same depth
  (the differential outputs) to one node that is not itself an amplifier node (the
  resistive/capacitive averaging node); a block gated by such a node is the CMFB amplifier,
  unless the signal also enters it as a common-source input (a gain stage whose loads are
  set by its own resistive CM loop stays a gain stage). A differential pair with exactly
  one gate on a signal net and the other on a reference (VCM) is a CMFB pair when its block
  sees the common mode -- the sense node, or both complementary outputs as in a
  difference-difference amplifier; a gain stage's pair sees the signal on both gates, and a
  pair that sees one side only is a local loop of that side. Blocks driven from the CMFB
  amplifier up to the amplifier device it controls carry the CMFB control voltage
  (channel 4); so do level shifters/followers whose only load is the sense network or the
  CMFB pair. A transistor of a stage whose gate sits on a *later* stage's output, or that
  runs in parallel (same drain and source) with a device gated by the complementary output,
  is a CMFB sensing device (triode CM sensing: parallel channels sum, so they sense the
  outputs' average).
* **Passives between stages are compensation.** A capacitor or resistor (or a series RC
  through a node only passives touch, including a MOS used as a capacitor or a triode
  nulling resistor) that joins nets of two different stage depths (an input and an output
  of a stage, or across stages as in nested Miller) is a feedback passive (channel 3), and
  so is a capacitor from an inner stage node to a rail (pole placement: nobody puts a load
  there). Resistors from one stage's nets to a rail, and capacitors on an output port, are
  that stage's loads; passives on CMFB nets are CMFB; the rest are bias.
* **What remains biases the amplifier.** Diode-connected references, mirrors and bias
  generators are not driven by the signal; every block never reached from the input pair
  or the CMFB loop is bias (channel 5). Dummy transistors (all terminals on supplies) take
  the channel of the nearest same-type device in netlist order, as designers place them
  next to the devices they flank.

The result is one channel per device (a device may in principle carry several, but one
honest answer is preferred). The rules only use sets and breadth-first depths, so the
result does not depend on device or net names (except ports and supply names) and is the
same on every run.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from itertools import combinations

import networkx as nx

from magical_prune.circuit import Circuit, Device, DeviceType

FIRST_STAGE, OTHER_STAGES, FEEDBACK, CMFB, BIAS = 1, 2, 3, 4, 5

_SUPPLY_RE = re.compile(
    r"^(?:[ad]?(?:vdd|vss|vcc|vee|gnd|ground|vpwr|vgnd|vdda|vssa)[a-z0-9_!]*|0|gnd!|vdd!)$",
    re.IGNORECASE,
)
_HIGH_SUPPLY_RE = re.compile(r"vdd|vcc|vpwr", re.IGNORECASE)
#: input ports after lower-casing and dropping ``_`` and brackets: in, inp, inm, inn, vin,
#: vinp, vinn, vin+, vip, vim, vi1, input_p, ...
_INPUT_RE = re.compile(r"^(?:v?in(?:put)?|vi)(?:p|n|m|pos|neg|plus|minus|\+|-|1|2)?$")
_OUTPUT_RE = re.compile(r"^(?:v?out(?:put)?|vo)(?:p|n|m|pos|neg|plus|minus|\+|-|1|2)?$")


def _normalise(name: str) -> str:
    return re.sub(r"[_\s<>\[\]().]", "", name.lower())


def is_input_name(name: str) -> bool:
    """Whether a port name reads as an amplifier input (INP, VIN-, vip, IN, ...)."""
    return bool(_INPUT_RE.match(_normalise(name)))


def is_supply_name(name: str) -> bool:
    """Whether a net name reads as a supply rail (VDD, AVSS, gnd!, 0, ...)."""
    return bool(_SUPPLY_RE.match(name.strip()))


# -- the circuit seen electrically ----------------------------------------------------------
@dataclass
class _Topology:
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
        s for s in supplies if score[s] > 0 or (score[s] == 0 and _HIGH_SUPPLY_RE.search(s))
    )


def _topology(circuit: Circuit) -> _Topology:
    supplies = find_supplies(circuit) | {""}  # "" = unconnected terminal: a dead end too
    high = _high_supplies(circuit, supplies)
    ports = frozenset(p for p in circuit.ports if p not in supplies)
    topo = _Topology(
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


# -- blocks: channel-connected components ---------------------------------------------------
@dataclass(frozen=True)
class _Block:
    devices: tuple[str, ...]
    nets: frozenset[str]  # the non-supply nets its transistors' D/S sit on


def _blocks(topo: _Topology) -> tuple[list[_Block], dict[str, int], dict[str, int]]:
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
        blocks.append(_Block(tuple(devices), nets))
    blocks.sort(key=lambda b: topo.order[b.devices[0]])
    block_of = {d: i for i, b in enumerate(blocks) for d in b.devices}
    block_of_net = {n: i for i, b in enumerate(blocks) for n in b.nets}
    return blocks, block_of, block_of_net


@dataclass(frozen=True)
class _Pair:
    """Source-coupled transistors: same type, sources on one non-supply net, two gates."""

    source: str
    gates: tuple[str, str]
    devices: tuple[tuple[str, ...], tuple[str, ...]]

    @property
    def members(self) -> tuple[str, ...]:
        return self.devices[0] + self.devices[1]


def _pairs(topo: _Topology) -> list[_Pair]:
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
            pairs.append(_Pair(source, (ga, gb), (tuple(da), tuple(db))))
    return pairs


def _input_devices(topo: _Topology, circuit: Circuit, pairs: list[_Pair]) -> set[str]:
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
class _Network:
    """Passives joined through nets only passives (and gates) touch: a series RC, a sense star."""

    passives: tuple[str, ...]
    internal: frozenset[str]
    terminals: frozenset[str]
    shunt_capacitor: bool  # a capacitor of it sits on a supply: filters/compensates a node


def _networks(topo: _Topology, inputs: set[str]) -> list[_Network]:
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
        networks.append(_Network(tuple(members), inner, terminals, shunt))
    networks.sort(key=lambda w: topo.order[w.passives[0]])
    return networks


# -- the classifier -------------------------------------------------------------------------
def _bfs_depths(graph: nx.DiGraph, sources: Iterable[int]) -> dict[int, int]:
    """Stage depth of each reachable block: 1 for the sources, +1 per drain->gate hop."""
    sources = [s for s in sources if s in graph]
    if not sources:
        return {}
    return {
        node: depth + 1
        for depth, layer in enumerate(nx.bfs_layers(graph, sources))
        for node in layer
    }


def _net_depths(blocks: list[_Block], depth: dict[int, int], inputs: set[str]) -> dict[str, int]:
    """Depth of the nets of the given blocks (inputs are depth 0)."""
    nets = dict.fromkeys(inputs, 0)
    for i, d in depth.items():
        for net in blocks[i].nets:
            nets[net] = min(nets.get(net, d), d)
    return nets


class _Classifier:
    """The phases of :func:`classify` over one circuit's blocks, pairs and passive networks."""

    def __init__(self, circuit: Circuit) -> None:
        self.circuit = circuit
        self.topo = _topology(circuit)
        self.blocks, self.block_of, self.block_of_net = _blocks(self.topo)
        self.pairs = _pairs(self.topo)
        self.input_devices = _input_devices(self.topo, self.circuit, self.pairs)
        self.inputs = {self.topo.transistors[d][1] for d in self.input_devices}
        self.networks = _networks(self.topo, self.inputs)
        self.network_of = {p: k for k, w in enumerate(self.networks) for p in w.passives}
        # block -> blocks its D/S nets gate: the direction signal flows in
        self.drives = nx.DiGraph()
        self.drives.add_nodes_from(range(len(self.blocks)))
        for i, block in enumerate(self.blocks):
            for net in block.nets:
                for d in self.topo.gated.get(net, ()):
                    if self.block_of[d] != i:
                        self.drives.add_edge(i, self.block_of[d])

    def first_stage(self) -> set[int]:
        if self.input_devices:
            return {self.block_of[d] for d in self.input_devices}
        if self.blocks:  # no input found: the largest block is the best guess of the amplifier
            return {max(range(len(self.blocks)), key=lambda i: (len(self.blocks[i].devices), -i))}
        return set()

    def feed_forward(self, stage1: set[int]) -> tuple[set[int], set[str]]:
        """First-stage blocks that are a later stage fed forward from the inputs, and the
        devices of those blocks that stay first stage (the input pair and its tail).

        Such a block holds a transistor, not an input device, whose gate is a net of
        another first-stage block and whose drain is an output: a second-stage device
        that merely shares the output nets with the feed-forward input pair.
        """
        topo = self.topo
        found: set[int] = set()
        for i in stage1:
            block = self.blocks[i]
            for d in block.devices:
                drain, gate, _ = topo.transistors[d]
                driver = self.block_of_net.get(gate)
                if (
                    d not in self.input_devices
                    and driver is not None
                    and driver != i
                    and driver in stage1
                    and _is_output_net(drain, topo.ports)
                ):
                    found.add(i)
                    break
        if found == stage1:  # every input block looks fed forward: no first stage is left
            return set(), set()
        keep: set[str] = set()
        for i in found:
            inputs = {d for d in self.blocks[i].devices if d in self.input_devices}
            keep |= inputs
            for pair in self.pairs:
                if set(pair.members) <= inputs:
                    keep |= _pair_with_tail(topo, self.blocks[i], pair)
        return found, keep

    def common_mode_sense(self, signal: dict[str, int]) -> tuple[set[str], set[int]]:
        """Averaging nodes and the passive networks that sense the outputs' common mode.

        Two forms: a passive network reaching two signal nets of one depth whose inner node
        drives a gate (R or C from OUTP and OUTM to the CMFB amplifier's input), and a
        star -- two same-kind passives from two same-depth signal nets to one node that is
        not itself an amplifier node. A series RC compensation network also touches two
        signal nets, but of different depths, and drives no gate from its inner node.
        """
        topo = self.topo
        sense_nets: set[str] = set()
        sense_networks: set[int] = set()
        for k, w in enumerate(self.networks):
            depths = Counter(signal[t] for t in w.terminals if signal.get(t, 0) >= 1)
            if any(c >= 2 for c in depths.values()) and any(n in topo.gated for n in w.internal):
                sense_networks.add(k)
                sense_nets |= w.internal
        for center, on_center in topo.passive_on.items():
            if center in signal or center in self.inputs:
                continue
            arms: dict[tuple[DeviceType, int], set[str]] = {}
            for p in on_center:
                for far in topo.passives[p]:
                    if far != center and signal.get(far, 0) >= 1:
                        arms.setdefault((topo.types[p], signal[far]), set()).add(far)
            if any(len(fars) >= 2 for fars in arms.values()):
                sense_nets.add(center)
                sense_networks |= {
                    self.network_of[p]
                    for p in on_center
                    if any(signal.get(f, 0) >= 1 for f in topo.passives[p] if f != center)
                }
        return sense_nets, sense_networks

    def cmfb_amplifiers(
        self, stage1: set[int], signal: dict[str, int], sense_nets: set[str]
    ) -> tuple[set[int], set[str]]:
        """Blocks that are CMFB amplifiers, and CMFB devices merged into amplifier blocks.

        A block gated by (or joined to) a sense node is the CMFB amplifier unless the
        signal also enters it as a gain stage. A pair with one gate on the signal (or a
        sense node) and the other off it compares the common mode with a reference; inside
        an amplifier block only that pair and its tail are carved out.
        """
        topo, blocks = self.topo, self.blocks
        cmfb_blocks: set[int] = set()
        for i, block in enumerate(blocks):
            sensed = bool(block.nets & sense_nets) or any(
                d in block.devices for n in sense_nets for d in topo.gated.get(n, ())
            )
            if sensed and i not in stage1 and not _is_gain_stage(topo, block, signal):
                cmfb_blocks.add(i)
        signalish = set(signal) | sense_nets
        one_sided: dict[int, list[_Pair]] = {}
        for pair in self.pairs:
            if set(pair.members) & self.input_devices:
                continue
            if (pair.gates[0] in signalish) != (pair.gates[1] in signalish):
                one_sided.setdefault(self.block_of[pair.members[0]], []).append(pair)
        carved: set[str] = set()
        for i, block_pairs in one_sided.items():
            if i in cmfb_blocks or not self.senses_common_mode(block_pairs, signal, sense_nets):
                continue
            members = {d for p in block_pairs for d in p.members}
            others_signal = any(
                topo.transistors[d][1] in signal and topo.transistors[d][1] not in blocks[i].nets
                for d in blocks[i].devices
                if d not in members
            )
            if i in stage1 or others_signal:  # CMFB pair merged into an amplifier stage
                for pair in block_pairs:
                    carved |= _pair_with_tail(topo, blocks[i], pair)
            else:
                cmfb_blocks.add(i)
        return cmfb_blocks, carved

    @staticmethod
    def senses_common_mode(
        pairs: list[_Pair], signal: dict[str, int], sense_nets: set[str]
    ) -> bool:
        """Whether one-sided pairs see the common mode: a sense node, or both outputs.

        A CMFB comparator needs the average of the outputs: either a sense node, or the
        two complementary outputs (same depth) on its pairs, as a difference-difference
        amplifier has. A one-sided pair that sees one signal net only is a local loop of
        one side (a gain-boosting amplifier of a cascode), not CMFB.
        """
        seen = {g for p in pairs for g in p.gates if g in signal or g in sense_nets}
        if seen & sense_nets:
            return True
        depths = Counter(signal[g] for g in seen if signal.get(g, 0) >= 1)
        return any(c >= 2 for c in depths.values())

    def auxiliaries(self, depth: dict[int, int]) -> dict[int, int]:
        """Blocks that drive only gates of earlier stages join the stage they serve.

        An amplifier whose output goes back into its own stage (a gain-boosting amplifier
        driving a cascode gate) is part of that stage's loop, not a further gain stage; a
        real stage drives a later stage, an output, or nothing but passives.
        """
        depth = dict(depth)
        changed = True
        while changed:
            changed = False
            for i in sorted(depth, key=lambda i: (-depth[i], i)):
                block = self.blocks[i]
                if depth[i] <= 1 or _has_output(block, self.topo.ports):
                    continue
                consumers = {
                    self.block_of[d]
                    for n in block.nets
                    for d in self.topo.gated.get(n, ())
                    if d not in block.devices
                }
                if consumers and all(depth.get(b, depth[i]) < depth[i] for b in consumers):
                    depth[i] = min(depth[b] for b in consumers)
                    changed = True
        return depth

    def cmfb_drivers(
        self, cmfb_blocks: set[int], carved: set[str], sense_nets: set[str], main: set[int]
    ) -> set[int]:
        """Blocks the CMFB amplifier drives on its way to the amplifier (control-net mirrors)."""
        topo = self.topo
        frontier = set(sense_nets)
        for i in cmfb_blocks:
            frontier |= self.blocks[i].nets
        for d in carved:
            frontier |= {topo.transistors[d][0], topo.transistors[d][2]} - topo.supplies
        found: set[int] = set()
        while frontier:
            reached = {self.block_of[d] for n in frontier for d in topo.gated.get(n, ())}
            reached -= cmfb_blocks | found | main
            found |= reached
            frontier = set().union(*(self.blocks[i].nets for i in reached))
        return found

    def cmfb_feeders(
        self,
        stage1: set[int],
        depth: dict[int, int],
        cmfb_blocks: set[int],
        carved: set[str],
        sense_networks: set[int],
    ) -> set[int]:
        """Followers and reference shifters whose every load is CMFB (to a fixed point).

        Only blocks that do not amplify qualify: a stage block the signal enters at a
        follower's gate (drain on a rail) and that drives no output port, or a block never
        reached by the signal that holds no diode-connected reference (those are bias).
        """
        topo = self.topo
        found: set[int] = set()
        changed = True
        while changed:
            changed = False
            cmfb = cmfb_blocks | found
            for i, block in enumerate(self.blocks):
                if i in cmfb or i in stage1:
                    continue
                if i in depth:
                    if not _is_follower(
                        topo, block, depth[i], depth, self.block_of_net, self.inputs
                    ) or _has_output(block, topo.ports):
                        continue
                elif any(d in topo.diode for d in block.devices):
                    continue  # a diode-connected reference: bias
                consumers = [
                    d for n in block.nets for d in topo.gated.get(n, ()) if d not in block.devices
                ]
                loads = {self.network_of[p] for n in block.nets for p in topo.passive_on.get(n, ())}
                if (
                    (consumers or loads)
                    and all(d in carved or self.block_of[d] in cmfb for d in consumers)
                    and loads <= sense_networks
                ):
                    found.add(i)
                    changed = True
        return found

    def run(self) -> dict[str, tuple[int, ...]]:
        topo, blocks = self.topo, self.blocks
        stage1 = self.first_stage()
        fed_forward, ff_first = self.feed_forward(stage1)
        stage1 -= fed_forward
        # phase 1: every net the signal can reach from the input pair, with its depth
        signal = _net_depths(blocks, _bfs_depths(self.drives, stage1), self.inputs)
        sense_nets, sense_networks = self.common_mode_sense(signal)
        cmfb_blocks, carved = self.cmfb_amplifiers(stage1, signal, sense_nets)
        # phase 2: the amplifier's stages, with the CMFB amplifiers as barriers
        keep = [n for n in self.drives if n not in cmfb_blocks]
        depth = _bfs_depths(self.drives.subgraph(keep), stage1)
        cmfb_blocks |= self.cmfb_drivers(cmfb_blocks, carved, sense_nets, set(depth))
        feeders = self.cmfb_feeders(stage1, depth, cmfb_blocks, carved, sense_networks)
        cmfb_blocks |= feeders
        depth = self.auxiliaries({i: d for i, d in depth.items() if i not in feeders})

        result: dict[str, tuple[int, ...]] = {}
        net_depth = _net_depths(blocks, depth, self.inputs)
        sensing = _parallel_sensing(topo, net_depth)
        for i, block in enumerate(blocks):
            if i in depth:
                channel = FIRST_STAGE if depth[i] <= 1 else OTHER_STAGES
            else:
                channel = CMFB if i in cmfb_blocks else BIAS
            for d in block.devices:
                later = net_depth.get(topo.transistors[d][1], 0) > depth.get(i, 99)
                if d in ff_first:
                    result[d] = (FIRST_STAGE,)  # the feed-forward input pair and its tail
                elif d in carved or d in sensing or (later and d not in topo.diode):
                    result[d] = (CMFB,)  # CM sensing inside a stage
                else:
                    result[d] = (channel,)
        self.label_networks(result, net_depth, sense_nets, sense_networks)
        _label_dummies(self.circuit, topo, result)
        return {name: result.get(name, (BIAS,)) for name in self.circuit.devices}

    def label_networks(
        self,
        result: dict[str, tuple[int, ...]],
        net_depth: dict[str, int],
        sense_nets: set[str],
        sense_networks: set[int],
    ) -> None:
        """Passives: sense -> CMFB; across stage depths -> feedback; else their block's."""
        topo = self.topo
        cmfb_nets = set(sense_nets)
        for d, channels in result.items():
            if channels == (CMFB,):
                cmfb_nets |= {topo.transistors[d][0], topo.transistors[d][2]}
        cmfb_nets -= topo.supplies
        for k, w in enumerate(self.networks):
            depths = {net_depth[t] for t in w.terminals if t in net_depth}
            drives_cmfb = any(
                result.get(d) == (CMFB,) for n in w.internal for d in topo.gated.get(n, ())
            )
            if k in sense_networks:
                channel = CMFB
            elif len(depths) >= 2:
                channel = FEEDBACK
            elif w.terminals & cmfb_nets or drives_cmfb:
                channel = CMFB
            elif depths and w.shunt_capacitor and not w.terminals & topo.ports:
                channel = FEEDBACK  # a capacitor from an inner stage node to a rail
            elif depths:
                channel = FIRST_STAGE if min(depths) <= 1 else OTHER_STAGES
            else:
                channel = BIAS
            for p in w.passives:
                result[p] = (channel,)


def classify(circuit: Circuit) -> dict[str, tuple[int, ...]]:
    """Sub-circuit channel(s) of every device of an OTA-like circuit (see the module doc).

    Steps, each a rule an OTA obeys: find the supplies; cut the transistors into
    channel-connected blocks; the block with the input pair is the first stage; walk
    drain->gate from it to find the later stages (depth = stage number); find common-mode
    sense networks (passives from two same-depth signal nets to an averaging node) and CMFB
    pairs (one gate on the signal, one on a reference) and keep those blocks, with the
    blocks they drive up to the amplifier, as CMFB; followers feeding only the CMFB are
    CMFB too; all other blocks are bias; passives across stage depths are compensation.

    Args:
        circuit: the design; device types and terminal nets are used, plus port names
            (input ports, outputs) and supply names when present.

    Returns:
        ``{device: (channel,)}`` for every device, in the circuit's device order, channels
        1..5 as in :data:`magical_prune.circuit.SUBCIRCUITS`.
    """
    return _Classifier(circuit).run()


def _pair_with_tail(topo: _Topology, block: _Block, pair: _Pair) -> set[str]:
    """A CMFB pair inside an amplifier block and the transistors feeding its source."""
    drains = {topo.transistors[d][0] for d in pair.members}
    g = nx.Graph()
    for d in block.devices:
        if d in pair.members:
            continue
        drain, _, source = topo.transistors[d]
        for net in (drain, source):
            if net not in topo.supplies and net not in drains:
                g.add_edge(("d", d), ("n", net))
    tail: set[str] = set()
    if ("n", pair.source) in g:
        tail = {n for k, n in nx.node_connected_component(g, ("n", pair.source)) if k == "d"}
    return set(pair.members) | tail


def _is_gain_stage(topo: _Topology, block: _Block, signal: dict[str, int]) -> bool:
    """Whether another block's signal net gates a transistor of the block with its drain in it.

    Such a block amplifies the signal (common-source input) even when a sense node sets its
    loads, as in a stage with its own resistive common-mode loop; a CMFB amplifier sees
    only the sense node and the reference.
    """
    return any(
        (gate := topo.transistors[d][1]) in signal
        and gate not in block.nets
        and topo.transistors[d][0] not in topo.supplies
        for d in block.devices
    )


def _parallel_sensing(topo: _Topology, main_net_depth: dict[str, int]) -> set[str]:
    """Transistors in parallel (same drain and source) gated by different amplifier nets.

    Parallel channels add their currents, so two triode devices gated by the two outputs
    conduct a current set by the outputs' average: common-mode sensing (as in a tail split
    into two devices gated by OUTP and OUTN). A gain stage never puts two different signals
    on parallel channels.
    """
    groups: dict[tuple[DeviceType, frozenset[str]], list[str]] = {}
    for name, (drain, gate, source) in topo.transistors.items():
        if main_net_depth.get(gate, 0) >= 1 and name not in topo.diode:
            groups.setdefault((topo.types[name], frozenset((drain, source))), []).append(name)
    return {
        d
        for names in groups.values()
        if len({topo.transistors[d][1] for d in names}) >= 2
        for d in names
    }


def _is_follower(
    topo: _Topology,
    block: _Block,
    own_depth: int,
    depth: dict[int, int],
    block_of_net: dict[str, int],
    inputs: set[str],
) -> bool:
    """Whether the signal enters the block only at gates of transistors with drain on a rail.

    That is a source follower (level shifter), not a gain stage: it feeds the signal on at
    its source, which a CMFB sense network does and an amplifier's gain stage does not.
    """
    entered = [
        d
        for d in block.devices
        if (gate := topo.transistors[d][1]) in inputs
        or (gate in block_of_net and depth.get(block_of_net[gate], own_depth) < own_depth)
    ]
    return bool(entered) and all(topo.transistors[d][0] in topo.supplies for d in entered)


def _is_output_net(net: str, ports: frozenset[str]) -> bool:
    """Whether ``net`` is an amplifier output: a port that is not an input (or, with no
    ports known, a net named like an output)."""
    if ports:
        return net in ports and not is_input_name(net)
    return bool(_OUTPUT_RE.match(_normalise(net)))


def _has_output(block: _Block, ports: frozenset[str]) -> bool:
    if ports:
        return bool(block.nets & ports)
    return any(_OUTPUT_RE.match(_normalise(n)) for n in block.nets)


def _label_dummies(circuit: Circuit, topo: _Topology, result: dict[str, tuple[int, ...]]) -> None:
    """Dummies take the channel of the nearest same-type (else any) device in netlist order."""
    names = list(circuit.devices)
    labelled = [n for n in names if n in result]
    for dummy in topo.dummies:
        i = topo.order[dummy]
        same = [n for n in labelled if topo.types[n] is topo.types[dummy]] or labelled
        if not same:
            result[dummy] = (BIAS,)
            continue
        nearest = min(same, key=lambda n: (abs(topo.order[n] - i), topo.order[n]))
        result[dummy] = result[nearest]
