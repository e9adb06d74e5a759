"""What each mirrored pair does in the amplifier, and which of its devices is on which side.

A placement's offset is, to first order, a weighted sum of the threshold differences of its
mirrored pairs, and the weight of a pair follows from its role: the input pair counts fully,
the first stage's loads by their transconductance ratio, later stages divided by the gain in
front of them. The per-pair separations of :func:`magical_prune.geometry.pair_vector` leave
every weight to be learnt from the user's labels, which 16 labels cannot pin down for 15
pairs. Grouping the pairs by role, with every pair oriented the same way as the input pair,
leaves four weights per effect (:func:`role_vector` in :mod:`magical_prune.geometry`); on the
reference designs a ridge fit on those beats the per-pair fit by 2-5 points of FOR at 16
labels (docs/model.md).

Roles come from the sub-circuit classification (:func:`magical_prune.subcircuits.
subcircuits_of`): group 0 the input pair (gates on input ports; else the first mirrored pair
of the first stage), 1 the rest of the first stage, 2 the other gain stages, 3 the
common-mode feedback. Passives and bias pairs are left out. The *side* of a pair is +1 when
its first device (as the ``.sym`` file lists it) lies closer, in the device-net graph cut at
the supplies, to the input pair's first device than to its second, else -1.
"""

from __future__ import annotations

from dataclasses import dataclass

import networkx as nx
import numpy as np

from magical_prune.circuit import Circuit
from magical_prune.subcircuits import (
    CMFB,
    FIRST_STAGE,
    OTHER_STAGES,
    find_supplies,
    is_input_name,
    subcircuits_of,
)  # fmt: skip

__all__ = ["ROLE_GROUPS", "PairRoles", "pair_roles"]

#: the role groups, in the order of the role vector
ROLE_GROUPS: tuple[str, ...] = ("input", "first-stage", "later-stages", "cmfb")
_GROUP_OF_CHANNEL = {FIRST_STAGE: 1, OTHER_STAGES: 2, CMFB: 3}


@dataclass(frozen=True)
class PairRoles:
    """Role group (index into :data:`ROLE_GROUPS`, -1 = not used) and side of every pair."""

    pairs: tuple[tuple[str, str], ...]
    group: np.ndarray  # (n_pairs,) int
    side: np.ndarray  # (n_pairs,) +1 / -1

    def projection(self) -> np.ndarray:
        """``(n_pairs, n_groups)``: oriented per-pair values -> per-group sums."""
        out = np.zeros((len(self.pairs), len(ROLE_GROUPS)))
        used = self.group >= 0
        out[np.flatnonzero(used), self.group[used]] = self.side[used]
        return out


def _input_pair(circuit: Circuit, pairs: list[tuple[str, str]], channel: dict) -> int | None:
    mos = [i for i, (a, _) in enumerate(pairs) if circuit.devices[a].type.is_mos]
    for i in mos:
        gates = {circuit.devices[d].net("G") or "" for d in pairs[i]}
        if len(gates) == 2 and all(is_input_name(g) for g in gates):
            return i
    first = [i for i in mos if FIRST_STAGE in channel.get(pairs[i][0], ())]
    return (first or mos or [None])[0]


def _distances(circuit: Circuit, source: str) -> dict[str, int]:
    supplies = find_supplies(circuit)
    graph = nx.Graph()
    for device in circuit.devices.values():
        graph.add_node(device.name)
        for net in device.nets:
            if net and net not in supplies:
                graph.add_edge(device.name, "net:" + net)
    return nx.single_source_shortest_path_length(graph, source)


def _compute(circuit: Circuit, pairs: tuple[tuple[str, str], ...]) -> PairRoles:
    channel = subcircuits_of(circuit)
    group = np.full(len(pairs), -1, dtype=np.int64)
    side = np.ones(len(pairs))
    inp = _input_pair(circuit, list(pairs), channel)
    if inp is None:
        return PairRoles(pairs, group, side)
    from_a = _distances(circuit, pairs[inp][0])
    from_b = _distances(circuit, pairs[inp][1])
    far = len(circuit.devices) * 4
    for i, (a, b) in enumerate(pairs):
        if not circuit.devices[a].type.is_mos:
            continue
        if i == inp:
            group[i] = 0
        else:
            group[i] = next(
                (g for c, g in _GROUP_OF_CHANNEL.items() if c in channel.get(a, ())), -1
            )
        straight = from_a.get(a, far) + from_b.get(b, far)
        crossed = from_a.get(b, far) + from_b.get(a, far)
        side[i] = 1.0 if straight <= crossed else -1.0
    return PairRoles(pairs, group, side)


def pair_roles(circuit: Circuit, pairs: tuple[tuple[str, str], ...]) -> PairRoles:
    """Roles of ``pairs`` (mirrored device pairs of ``circuit``, in the order given). Walks
    the circuit graph: callers that score many layouts keep the result per design (as
    :mod:`magical_prune.geometry` does)."""
    return _compute(circuit, pairs)
