"""Small structural tests the classifier applies to blocks, pairs and nets.

Each answers one question about an OTA (is this block a gain stage, a follower, does it
drive an output, which transistors sense the common mode in parallel) so the phases of
:class:`~magical_prune.subcircuits._classifier.Classifier` read as the rules they implement.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable

import networkx as nx

from magical_prune.circuit import Circuit, DeviceType
from magical_prune.subcircuits._names import OUTPUT_RE, is_input_name, normalise
from magical_prune.subcircuits._structure import Block, Pair
from magical_prune.subcircuits._topology import Topology

#: Sub-circuit (channel) ids, as in :data:`magical_prune.circuit.SUBCIRCUITS`.
FIRST_STAGE, OTHER_STAGES, FEEDBACK, CMFB, BIAS = 1, 2, 3, 4, 5


def bfs_depths(graph: nx.DiGraph, sources: Iterable[int]) -> dict[int, int]:
    """Stage depth of each reachable block: 1 for the sources, +1 per drain->gate hop."""
    sources = [s for s in sources if s in graph]
    if not sources:
        return {}
    return {
        node: depth + 1
        for depth, layer in enumerate(nx.bfs_layers(graph, sources))
        for node in layer
    }


def net_depths(blocks: list[Block], depth: dict[int, int], inputs: set[str]) -> dict[str, int]:
    """Depth of the nets of the given blocks (inputs are depth 0)."""
    nets = dict.fromkeys(inputs, 0)
    for i, d in depth.items():
        for net in blocks[i].nets:
            nets[net] = min(nets.get(net, d), d)
    return nets


def pair_with_tail(topo: Topology, block: Block, pair: Pair) -> set[str]:
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


def is_gain_stage(topo: Topology, block: Block, signal: dict[str, int]) -> bool:
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


def senses_common_mode(pairs: list[Pair], signal: dict[str, int], sense_nets: set[str]) -> bool:
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


def parallel_sensing(topo: Topology, main_net_depth: dict[str, int]) -> set[str]:
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


def is_follower(
    topo: Topology,
    block: Block,
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


def is_output_net(net: str, ports: frozenset[str]) -> bool:
    """Whether ``net`` is an amplifier output: a port that is not an input (or, with no
    ports known, a net named like an output)."""
    if ports:
        return net in ports and not is_input_name(net)
    return bool(OUTPUT_RE.match(normalise(net)))


def has_output(block: Block, ports: frozenset[str]) -> bool:
    if ports:
        return bool(block.nets & ports)
    return any(OUTPUT_RE.match(normalise(n)) for n in block.nets)


def label_dummies(circuit: Circuit, topo: Topology, result: dict[str, tuple[int, ...]]) -> None:
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
