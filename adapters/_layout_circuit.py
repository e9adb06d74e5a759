"""The circuit of a layout: from its netlist, its ``place.connection``, or both.

A netlist gives the topology (types, sizes, ports, the structure sub-circuits are
classified on); a connection file present too must agree with it device by device, and
when its nets differ the layout is placed with the connection's nets (what the placer and
router saw) while sub-circuits stay those of the netlist (:attr:`Circuit.topology`).
Without a netlist the circuit is built from the connection file and device types. Every
circuit is cached per design (see :mod:`magical_prune.adapters._caches`).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Hashable, Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from magical_prune.adapters import _caches, flow_config, spectre
from magical_prune.adapters._locate import LayoutFiles
from magical_prune.adapters._text import read_text
from magical_prune.adapters.connection import parse_connection_lines
from magical_prune.adapters.design_json import read_channels, read_types
from magical_prune.adapters.symmetry import read_sym, read_symnet
from magical_prune.circuit import BULK_PINS, Circuit, DeviceType, Net, Symmetry
from magical_prune.errors import MagicalPruneError, ParseError

PathLike = str | os.PathLike[str]
T = TypeVar("T")


def pinned_text(path: Path, parse: Callable[[str, Path], T]) -> T:
    """Parse a per-layout file that is usually identical across layouts, once per content."""
    text = read_text(path)
    return _caches.TEXTS.get((parse, text), lambda: parse(text, path))  # type: ignore[no-any-return]


def _types_arg(types: PathLike | Mapping[str, Any] | None) -> dict[str, DeviceType] | None:
    if types is not None and isinstance(types, (str, os.PathLike)):
        if flow_config.is_flow_config(types):
            raise MagicalPruneError(
                "this is MAGICAL's flow configuration (it names the netlist), not a "
                'device-type file; give a file like {"M0": "NMOS", "C0": "CAP"} to --types',
                types,
            )
        return read_types(types)
    if types is None:
        return None
    return {d: t if isinstance(t, DeviceType) else DeviceType.parse(t) for d, t in types.items()}


def _symmetry(sym: Path | None, symnet: Path | None) -> Symmetry:
    symmetry = read_sym(sym) if sym is not None else Symmetry()
    if symnet is not None:
        nets = read_symnet(symnet)
        symmetry = replace(
            symmetry, net_pairs=nets.net_pairs, self_symmetric_nets=nets.self_symmetric_nets
        )
    return symmetry


def netlist_circuit(
    netlist: Path,
    types: PathLike | Mapping[str, Any] | None,
    channels: PathLike | Mapping[str, Any] | None,
    sym: Path | None,
    symnet: Path | None,
    top: str | None,
) -> Circuit:
    def make() -> Circuit:
        circuit = spectre.read_netlist(netlist, top, types=_types_arg(types))
        circuit.symmetry = _symmetry(sym, symnet)
        circuit.channel_overrides = _channels_arg(channels)
        return circuit

    key = ("netlist", _caches.signature(netlist), _arg_key(types), _arg_key(channels),
           _caches.signature(sym), _caches.signature(symnet), top)  # fmt: skip
    return _caches.CIRCUITS.get(key, make)


def _channels_arg(
    channels: PathLike | Mapping[str, Any] | None,
) -> dict[str, tuple[int, ...]] | None:
    if channels is None:
        return None
    if isinstance(channels, (str, os.PathLike)):
        return read_channels(channels)
    return {
        d: tuple(int(c) for c in ([v] if isinstance(v, int) else v)) for d, v in channels.items()
    }


def _arg_key(value: PathLike | Mapping[str, Any] | None) -> Hashable:
    if value is None:
        return None
    if isinstance(value, (str, os.PathLike)):
        return _caches.signature(Path(value))
    return tuple((k, str(v)) for k, v in value.items())


def _parse_connection(
    text: str, path: Path
) -> tuple[dict[str, list[tuple[str, str]]], dict[str, int]]:
    return parse_connection_lines(text, path)


def _connection_circuit(
    conn_path: Path,
    nets: dict[str, list[tuple[str, str]]],
    lines: dict[str, int],
    types: PathLike | Mapping[str, Any] | None,
    types_path: Path | None,
    channels: PathLike | Mapping[str, Any] | None,
    sym: Path | None,
    symnet: Path | None,
    name: str,
) -> Circuit:
    def make() -> Circuit:
        type_map = _types_arg(types) or {}
        for net, pins in nets.items():
            for device, pin in pins:
                device_type = type_map.get(device)
                where = f" in {types_path}" if types_path is not None else ""
                if device_type is None:
                    raise ParseError(f"device {device!r} has no type{where}", conn_path, lines[net])
                _check_pin(device, device_type, pin, conn_path, lines[net])
        return Circuit.from_connections(
            name, nets, type_map, symmetry=_symmetry(sym, symnet),
            channel_overrides=_channels_arg(channels), source=str(conn_path),
        )  # fmt: skip

    text_key = tuple((n, tuple(p)) for n, p in nets.items())
    key = ("connection", text_key, _arg_key(types), _arg_key(channels),
           _caches.signature(sym), _caches.signature(symnet), name)  # fmt: skip
    return _caches.CIRCUITS.get(key, make)


def _check_pin(device: str, device_type: DeviceType, pin: str, path: Path, line: int) -> None:
    if pin not in device_type.pins and pin != "BULK":
        raise ParseError(
            f"device {device!r} is {device_type.value}: it has no pin {pin!r} "
            f"(pins: {' '.join(device_type.pins)})",
            path, line,
        )  # fmt: skip


def _routed(
    circuit: Circuit,
    conn_path: Path,
    nets: dict[str, list[tuple[str, str]]],
    lines: dict[str, int],
) -> Circuit:
    """Check a connection file against the netlist; the circuit to place with."""

    def make() -> Circuit:
        for net, pins in nets.items():
            for device, pin in pins:
                d = circuit.devices.get(device)
                if d is None:
                    raise ParseError(
                        f"device {device!r} of net {net!r} is not in the netlist {circuit.source}",
                        conn_path, lines[net],
                    )  # fmt: skip
                _check_pin(device, d.type, pin, conn_path, lines[net])

        def norm(pins: Any) -> frozenset[tuple[str, str]]:
            return frozenset((d, p) for d, p in pins if p not in BULK_PINS)

        ours = {n: norm(p) for n, p in nets.items() if norm(p)}
        theirs = {n.name: norm(n.pins) for n in circuit.nets.values() if norm(n.pins)}
        if ours == theirs:
            return circuit
        return Circuit(
            name=circuit.name, devices=circuit.devices,
            nets={n: Net(n, tuple((d, "B" if p == "BULK" else p) for d, p in pins))
                  for n, pins in nets.items()},
            ports=circuit.ports, symmetry=circuit.symmetry,
            channel_overrides=circuit.channel_overrides, source=str(conn_path),
            unmodelled=circuit.unmodelled, topology=circuit,
        )  # fmt: skip

    # Cached on the circuit itself: one view per distinct connection file of the design.
    views: dict[Hashable, Circuit] = circuit.__dict__.setdefault("_routed_views", {})
    key = tuple((n, tuple(p)) for n, p in nets.items())
    if key not in views:
        if len(views) >= 64:  # a design has one connection file in practice; stay bounded
            views.clear()
        views[key] = make()
    return views[key]


def circuit_for(
    files: LayoutFiles,
    netlist: PathLike | Circuit | None,
    types: PathLike | Mapping[str, Any] | None,
    channels: PathLike | Mapping[str, Any] | None,
    top: str | None,
    placed: set[str] | None = None,
) -> Circuit:
    types_arg: PathLike | Mapping[str, Any] | None = (
        types if types is not None and not isinstance(types, (str, os.PathLike)) else files.types
    )
    channels_arg = (
        channels
        if channels is not None and not isinstance(channels, (str, os.PathLike))
        else files.channels
    )
    conn = None
    if files.connection is not None:
        conn = pinned_text(files.connection, _parse_connection)
        if placed is not None:
            nets, lines = conn
            for net, pins in nets.items():
                for device, _ in pins:
                    if device not in placed:
                        raise ParseError(
                            f"device {device!r} on net {net!r} is not placed "
                            f"(not in {files.result.name})",
                            files.connection, lines[net],
                        )  # fmt: skip
    if isinstance(netlist, Circuit):
        circuit = netlist
    elif files.netlist is not None:
        circuit = netlist_circuit(
            files.netlist, types_arg, channels_arg, files.sym, files.symnet, top
        )
    else:
        if conn is None:
            raise MagicalPruneError(
                "no netlist and no place.connection: looked for a *.sp/.scs/.spice/.cir netlist "
                "here and in the parent folder and for place.connection (give --netlist or "
                "--connection with --types)",
                files.result.parent,
            )
        if types_arg is None:
            raise MagicalPruneError(
                "no netlist and no device-type file: looked for *.sp/.scs/.spice/.cir and "
                "<design>.json here and in the parent folder (give --netlist or --types)",
                files.result.parent,
            )
        name = (
            files.types.stem if files.types is not None else files.result.parent.parent.name
        ) or "design"
        return _connection_circuit(
            files.connection, conn[0], conn[1], types_arg, files.types, channels_arg,
            files.sym, files.symnet, name,
        )  # fmt: skip
    if conn is not None:
        return _routed(circuit, files.connection, *conn)  # type: ignore[arg-type]
    return circuit


def mirrored_devices(circuit: Circuit, names: tuple[str, ...], rects: np.ndarray) -> list[str]:
    """The right-hand device of each placed symmetric pair (larger x centre), which MAGICAL
    mirrors; a pair with equal centres (stacked on the axis) is left as is."""
    if not circuit.symmetry.pairs:
        return []
    index = {n: i for i, n in enumerate(names)}
    out = []
    for a, b in circuit.symmetry.pairs:
        ia, ib = index.get(a), index.get(b)
        if ia is None or ib is None:
            continue
        ca = rects[ia, 0] + rects[ia, 2]
        cb = rects[ib, 0] + rects[ib, 2]
        if cb > ca:
            out.append(b)
        elif ca > cb:
            out.append(a)
    return out
