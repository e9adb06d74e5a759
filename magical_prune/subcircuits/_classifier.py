"""The phases of :func:`magical_prune.subcircuits.classify` over one circuit.

First stage from the input pair, later stages by drain -> gate depth, then common-mode
feedback (sense networks, CMFB pairs, what they drive and what feeds them), then passives
and dummies; each phase is one method so the order of the rules stays visible in ``run``.
"""

from __future__ import annotations

from collections import Counter

import networkx as nx

from magical_prune.circuit import Circuit, DeviceType
from magical_prune.subcircuits._rules import (
    BIAS,
    CMFB,
    FEEDBACK,
    FIRST_STAGE,
    OTHER_STAGES,
    bfs_depths,
    has_output,
    is_follower,
    is_gain_stage,
    is_output_net,
    label_dummies,
    net_depths,
    pair_with_tail,
    parallel_sensing,
    senses_common_mode,
)
from magical_prune.subcircuits._structure import (
    Pair,
    channel_blocks,
    find_input_devices,
    passive_networks,
    source_coupled_pairs,
)
from magical_prune.subcircuits._topology import read_topology


class Classifier:
    """The phases of :func:`classify` over one circuit's blocks, pairs and passive networks."""

    def __init__(self, circuit: Circuit) -> None:
        self.circuit = circuit
        self.topo = read_topology(circuit)
        self.blocks, self.block_of, self.block_of_net = channel_blocks(self.topo)
        self.pairs = source_coupled_pairs(self.topo)
        self.input_devices = find_input_devices(self.topo, self.circuit, self.pairs)
        self.inputs = {self.topo.transistors[d][1] for d in self.input_devices}
        self.networks = passive_networks(self.topo, self.inputs)
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
                    and is_output_net(drain, topo.ports)
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
                    keep |= pair_with_tail(topo, self.blocks[i], pair)
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
            if sensed and i not in stage1 and not is_gain_stage(topo, block, signal):
                cmfb_blocks.add(i)
        signalish = set(signal) | sense_nets
        one_sided: dict[int, list[Pair]] = {}
        for pair in self.pairs:
            if set(pair.members) & self.input_devices:
                continue
            if (pair.gates[0] in signalish) != (pair.gates[1] in signalish):
                one_sided.setdefault(self.block_of[pair.members[0]], []).append(pair)
        carved: set[str] = set()
        for i, block_pairs in one_sided.items():
            if i in cmfb_blocks or not senses_common_mode(block_pairs, signal, sense_nets):
                continue
            members = {d for p in block_pairs for d in p.members}
            others_signal = any(
                topo.transistors[d][1] in signal and topo.transistors[d][1] not in blocks[i].nets
                for d in blocks[i].devices
                if d not in members
            )
            if i in stage1 or others_signal:  # CMFB pair merged into an amplifier stage
                for pair in block_pairs:
                    carved |= pair_with_tail(topo, blocks[i], pair)
            else:
                cmfb_blocks.add(i)
        return cmfb_blocks, carved

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
                if depth[i] <= 1 or has_output(block, self.topo.ports):
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
                    if not is_follower(
                        topo, block, depth[i], depth, self.block_of_net, self.inputs
                    ) or has_output(block, topo.ports):
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
        signal = net_depths(blocks, bfs_depths(self.drives, stage1), self.inputs)
        sense_nets, sense_networks = self.common_mode_sense(signal)
        cmfb_blocks, carved = self.cmfb_amplifiers(stage1, signal, sense_nets)
        # phase 2: the amplifier's stages, with the CMFB amplifiers as barriers
        keep = [n for n in self.drives if n not in cmfb_blocks]
        depth = bfs_depths(self.drives.subgraph(keep), stage1)
        cmfb_blocks |= self.cmfb_drivers(cmfb_blocks, carved, sense_nets, set(depth))
        feeders = self.cmfb_feeders(stage1, depth, cmfb_blocks, carved, sense_networks)
        cmfb_blocks |= feeders
        depth = self.auxiliaries({i: d for i, d in depth.items() if i not in feeders})

        result: dict[str, tuple[int, ...]] = {}
        net_depth = net_depths(blocks, depth, self.inputs)
        sensing = parallel_sensing(topo, net_depth)
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
        label_dummies(self.circuit, topo, result)
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
