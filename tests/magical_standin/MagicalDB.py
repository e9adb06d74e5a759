"""Test stand-in for MAGICAL's ``MagicalDB``: the design database after parsing.

MAGICAL parses the netlist into circuit graphs whose leaf nodes are devices with a
generated layout (outline and one shape set per terminal). Here the netlist is read with
magical-prune's own reader and every device gets the reference flow's footprint, shifted so
its local outline does not start at (0, 0) (as generated device layouts often do not).
Bulk terminals get no shape, as in MAGICAL.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from magical_prune.adapters import spectre
from magical_prune.refflow.footprints import footprint

#: where every device's local outline starts (nm)
LOCAL_ORIGIN = (-40, -30)


@dataclass
class Terminal:
    name: str  # the device's own net name (MAGICAL names device nets D, G, S, B, ...)
    net: str  # the circuit net it is on
    shapes: list[tuple[int, int, int, int]] = field(default_factory=list)


@dataclass
class Node:
    name: str
    type: str
    terminals: list[Terminal]
    boundary: tuple[int, int, int, int]
    flipped: bool = False

    def flip(self) -> None:
        """Device generation of a flipped device: every shape mirrored in the outline."""
        xlo, _, xhi, _ = self.boundary
        for t in self.terminals:
            t.shapes = [(xlo + xhi - s[2], s[1], xlo + xhi - s[0], s[3]) for s in t.shapes]
        self.flipped = True


@dataclass
class Net:
    name: str
    pins: list[tuple[int, int]]  # (node index, terminal index)
    is_io: bool = False
    is_vdd: bool = False
    is_vss: bool = False

    def isPower(self) -> bool:
        return self.is_vdd or self.is_vss


@dataclass
class CktGraph:
    name: str
    nodes: list[Node]
    nets: list[Net]


class MagicalDB:
    def __init__(self, params) -> None:  # noqa: ANN001 - the stand-in Params
        self.params = params
        self.ckts: list[CktGraph] = []

    def parse(self) -> None:
        circuit = spectre.read_netlist(self.params.spectre_netlist)
        dx, dy = LOCAL_ORIGIN
        nodes = []
        for device in circuit.devices.values():
            fp = footprint(device)
            terminals = []
            for pin, net in zip(device.pins, device.nets):
                shapes = [(a + dx, b + dy, c + dx, d + dy) for a, b, c, d in fp.shapes.get(pin, ())]
                terminals.append(Terminal(pin, net, shapes))
            boundary = (dx, dy, fp.width + dx, fp.height + dy)
            nodes.append(Node(device.name, device.type.value, terminals, boundary))
        nets: dict[str, Net] = {}
        for i, node in enumerate(nodes):
            for k, t in enumerate(node.terminals):
                nets.setdefault(t.net, Net(t.net, [])).pins.append((i, k))
        for net in nets.values():
            net.is_io = net.name in circuit.ports
            net.is_vdd = net.name in self.params.vddNetNames
            net.is_vss = net.name in self.params.vssNetNames
        self.ckts = [CktGraph(circuit.name, nodes, list(nets.values()))]

    def topCktIdx(self) -> int:
        return 0
