"""The circuit a placement belongs to: devices, nets, symmetry, and its device/net graph.

A :class:`Circuit` is what the adapters build from a netlist (or, lacking one, from
``place.connection`` plus a device-type file). It knows nothing about geometry; a
:class:`~magical_prune.placement.Placement` adds that. Nor does it classify itself:
sub-circuit membership (the channels of the feature images) is
:func:`magical_prune.subcircuits.subcircuits_of`, the automatic classification with the
``.channel`` file's :attr:`Circuit.channel_overrides` applied.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import networkx as nx

from magical_prune.errors import MagicalPruneError

#: Pin names of a MOS transistor, in netlist terminal order.
MOS_PINS: tuple[str, ...] = ("D", "G", "S", "B")
#: Pin names of a capacitor or resistor (PLUS and MINUS are interchangeable), terminal order.
PASSIVE_PINS: tuple[str, ...] = ("PLUS", "MINUS", "B")
#: Bulk pins are not routed: they never count for routing demand or wirelength.
BULK_PINS: frozenset[str] = frozenset({"B", "BULK"})

#: Sub-circuit ids as used by ``.channel`` files, and their names.
SUBCIRCUITS: dict[int, str] = {
    1: "first_stage",
    2: "other_stages",
    3: "feedback",
    4: "cmfb",
    5: "bias",
}


class DeviceType(str, enum.Enum):
    """Device kinds the feature images distinguish, with their image intensity (Table II)."""

    NMOS = "NMOS"
    PMOS = "PMOS"
    CAP = "CAP"
    RES = "RES"

    @property
    def intensity(self) -> float:
        return _INTENSITY[self]

    @property
    def is_mos(self) -> bool:
        return self in (DeviceType.NMOS, DeviceType.PMOS)

    @property
    def pins(self) -> tuple[str, ...]:
        """Pin names in netlist terminal order."""
        return MOS_PINS if self.is_mos else PASSIVE_PINS

    @classmethod
    def parse(cls, text: str) -> DeviceType:
        """Read a type name as written in ``<design>.json`` (case-insensitive, a few aliases)."""
        key = text.strip().upper()
        key = _TYPE_ALIASES.get(key, key)
        try:
            return cls(key)
        except ValueError:
            known = ", ".join(t.value for t in cls)
            raise MagicalPruneError(f"unknown device type {text!r} (known: {known})") from None

    @classmethod
    def from_model(cls, model: str) -> DeviceType | None:
        """The type a model name implies, or None when the name says nothing.

        Foundry model names carry the type with decorations around it: ``nch_lvt``,
        ``pch``, ``nfet_ud``, ``nch_25ud18_mac``, ``cfmom_2t``, ``mom_cap``, ``poly_res``,
        ``rppolywo``. Capacitors and resistors are tried first because names such as
        ``nmoscap`` are capacitors.
        """
        name = model.strip().lower()
        for device_type, pattern in _MODEL_PATTERNS:
            if pattern.search(name):
                return device_type
        return None


_INTENSITY = {
    DeviceType.NMOS: 0.25,
    DeviceType.PMOS: 0.50,
    DeviceType.CAP: 0.75,
    DeviceType.RES: 1.00,
}
_TYPE_ALIASES = {
    "N": "NMOS", "NCH": "NMOS", "NFET": "NMOS",
    "P": "PMOS", "PCH": "PMOS", "PFET": "PMOS",
    "C": "CAP", "CAPACITOR": "CAP",
    "R": "RES", "RESISTOR": "RES",
}  # fmt: skip
_MODEL_PATTERNS: tuple[tuple[DeviceType, re.Pattern[str]], ...] = (
    (DeviceType.CAP, re.compile(r"mom|mim|cap|vncap|mos?var")),
    (DeviceType.RES, re.compile(r"res|rppoly|rnpoly|rpoly|rnod|rpod|rnw|^r[a-z]*poly")),
    (DeviceType.NMOS, re.compile(r"(^|[^a-z])(nch|nfet|nmos)|^n(ch|fet|mos)|^nlvt|^nhvt")),
    (DeviceType.PMOS, re.compile(r"(^|[^a-z])(pch|pfet|pmos)|^p(ch|fet|mos)|^plvt|^phvt")),
)


@dataclass(frozen=True)
class Device:
    """One device instance.

    Args:
        name: instance name (``M0``, ``C1``).
        type: NMOS, PMOS, CAP or RES.
        nets: the net on each terminal, in terminal order (see :attr:`pins`).
        model: the model name from the netlist (empty when unknown).
        params: numeric instance parameters in SI units (``w=60u`` -> ``6e-05``).
    """

    name: str
    type: DeviceType
    nets: tuple[str, ...] = ()
    model: str = ""
    params: Mapping[str, float] = field(default_factory=dict, compare=False)

    @property
    def pins(self) -> tuple[str, ...]:
        """Pin names of the connected terminals (a 2-terminal capacitor has no ``B``)."""
        return self.type.pins[: len(self.nets)]

    def net(self, pin: str) -> str | None:
        """The net on ``pin``, or None if the device has no such terminal."""
        try:
            return self.nets[self.pins.index(pin)]
        except ValueError:
            return None


@dataclass(frozen=True)
class Net:
    """A net and the device pins it joins."""

    name: str
    pins: tuple[tuple[str, str], ...]

    @property
    def routed_pins(self) -> tuple[tuple[str, str], ...]:
        """Pins that are wired (bulk pins are not)."""
        return tuple(p for p in self.pins if p[1] not in BULK_PINS)

    @property
    def devices(self) -> tuple[str, ...]:
        """Devices on the net, each once, in pin order."""
        return tuple(dict.fromkeys(d for d, _ in self.pins))


@dataclass(frozen=True)
class Symmetry:
    """Symmetry constraints (``.sym`` and ``.symnet``).

    Attributes:
        pairs: mirrored device pairs ``(left, right)`` as written in the file.
        self_symmetric: devices centred on the symmetry axis.
        net_pairs: mirrored net pairs.
        self_symmetric_nets: nets symmetric in themselves.
        groups: the device groups of the ``.sym`` file (pairs and singles), in file order.
    """

    pairs: tuple[tuple[str, str], ...] = ()
    self_symmetric: tuple[str, ...] = ()
    net_pairs: tuple[tuple[str, str], ...] = ()
    self_symmetric_nets: tuple[str, ...] = ()
    groups: tuple[tuple[tuple[str, ...], ...], ...] = ()

    def partner(self, device: str) -> str | None:
        for a, b in self.pairs:
            if device == a:
                return b
            if device == b:
                return a
        return None

    def as_json(self) -> list[dict[str, object]]:
        groups = self.groups or (
            (*((a, b) for a, b in self.pairs), *((s,) for s in self.self_symmetric)),
        )
        return [
            {
                "pairs": [list(m) for m in group if len(m) == 2],
                "self_symmetric": [m[0] for m in group if len(m) == 1],
            }
            for group in groups
            if group
        ]


@dataclass
class Circuit:
    """Devices, nets, ports and symmetry of one design.

    Build it with :meth:`from_devices` (netlist) or :meth:`from_connections`
    (``place.connection`` plus device types); the constructor takes both tables as given.

    Args:
        name: design (top cell) name.
        devices: devices by name, in netlist order.
        nets: nets by name.
        ports: the top cell's ports, in order (empty when unknown).
        symmetry: symmetry constraints.
        channel_overrides: sub-circuit ids per device from a ``.channel`` file; devices it
            names take these instead of the automatic classification.
        source: file the circuit was read from, for messages.
        unmodelled: elements of the netlist left out because the images have no type for
            them (sources, diodes, bipolars, ...): flattened name -> what it is.
        topology: when ``nets`` are a layout's ``place.connection`` nets rather than the
            netlist's, the netlist circuit: sub-circuits are classified on its structure.
    """

    name: str
    devices: dict[str, Device]
    nets: dict[str, Net]
    ports: tuple[str, ...] = ()
    symmetry: Symmetry = field(default_factory=Symmetry)
    channel_overrides: dict[str, tuple[int, ...]] | None = None
    source: str | None = None
    unmodelled: dict[str, str] = field(default_factory=dict)
    topology: Circuit | None = field(default=None, repr=False, compare=False)
    #: cache of :func:`magical_prune.subcircuits.subcircuits_of` (computed once per circuit)
    _subcircuits: dict[str, tuple[int, ...]] | None = field(
        default=None, init=False, repr=False, compare=False
    )

    # -- construction ---------------------------------------------------------------------
    @classmethod
    def from_devices(
        cls,
        name: str,
        devices: Iterable[Device],
        ports: Sequence[str] = (),
        **kwargs: object,
    ) -> Circuit:
        """Build the nets from each device's terminal nets."""
        table: dict[str, Device] = {}
        for device in devices:
            if device.name in table:
                raise MagicalPruneError(f"device {device.name!r} is defined twice")
            table[device.name] = device
        pins: dict[str, list[tuple[str, str]]] = {}
        for device in table.values():
            for pin, net in zip(device.pins, device.nets):
                pins.setdefault(net, []).append((device.name, pin))
        nets = {n: Net(n, tuple(p)) for n, p in pins.items()}
        return cls(name=name, devices=table, nets=nets, ports=tuple(ports), **kwargs)  # type: ignore[arg-type]

    @classmethod
    def from_connections(
        cls,
        name: str,
        connections: Mapping[str, Sequence[tuple[str, str]]],
        types: Mapping[str, DeviceType],
        ports: Sequence[str] = (),
        **kwargs: object,
    ) -> Circuit:
        """Build devices from net -> (device, pin) lists, e.g. a ``place.connection`` file.

        Every device needs a type in ``types``; a device's terminal nets follow from the
        pins the connections name (terminals no net names are left out).
        """
        per_device: dict[str, dict[str, str]] = {}
        for net, pins in connections.items():
            for device, pin in pins:
                per_device.setdefault(device, {})[pin.upper()] = net
        devices = []
        for device_name, pin_nets in per_device.items():
            if device_name not in types:
                raise MagicalPruneError(
                    f"device {device_name!r} has no type (give a netlist or a .json type file)"
                )
            device_type = types[device_name]
            order = device_type.pins
            unknown = [p for p in pin_nets if p not in order and p != "BULK"]
            if unknown:
                raise MagicalPruneError(
                    f"device {device_name!r} ({device_type.value}) has no pin {unknown[0]!r}"
                )
            if "BULK" in pin_nets:
                pin_nets.setdefault("B", pin_nets.pop("BULK"))
            last = max(order.index(p) for p in pin_nets)
            nets = tuple(pin_nets.get(p, "") for p in order[: last + 1])
            devices.append(Device(device_name, device_type, nets))
        for device_name, device_type in types.items():
            if device_name not in per_device:
                devices.append(Device(device_name, device_type))  # typed but unconnected
        nets_table = {
            n: Net(n, tuple((d, p.upper()) for d, p in pins)) for n, pins in connections.items()
        }
        return cls(
            name=name,
            devices={d.name: d for d in devices},
            nets=nets_table,
            ports=tuple(ports),
            **kwargs,
        )  # type: ignore[arg-type]

    # -- views ------------------------------------------------------------------------------
    def graph(self) -> nx.Graph:
        """Bipartite device/net graph.

        Nodes are ``("device", name)`` and ``("net", name)`` (tuples, so a net may share a
        name with a device); node attributes ``kind``, ``name``, ``bipartite`` (0 devices,
        1 nets) and, for devices, ``type``. An edge joins a device to each net it touches;
        its ``pins`` attribute lists the device's pins on that net (``("D", "B")``).
        """
        g = nx.Graph(name=self.name)
        for device in self.devices.values():
            g.add_node(("device", device.name), kind="device", name=device.name,
                       type=device.type.value, bipartite=0)  # fmt: skip
        for net in self.nets.values():
            g.add_node(("net", net.name), kind="net", name=net.name, bipartite=1,
                       port=net.name in self.ports)  # fmt: skip
            for device, pin in net.pins:
                edge = (("device", device), ("net", net.name))
                if g.has_edge(*edge):
                    g.edges[edge]["pins"] += (pin,)
                else:
                    g.add_edge(*edge, pins=(pin,))
        return g

    def net_of(self, device: str, pin: str) -> str | None:
        d = self.devices.get(device)
        return None if d is None else d.net(pin)
