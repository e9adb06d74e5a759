"""Find a layout's files and load them into a :class:`~magical_prune.placement.Placement`.

Given a placement result (any name: ``place.result``, ``placement.txt``,
``ota.result.final``) or a layout folder, the companions are looked for beside it:

* pins: ``<stem>.pin``, ``place.pin``, or the folder's only ``*.pin`` (required);
* nets: ``<stem>.connection``, ``place.connection``, or the only ``*.connection``;
* ``weight.txt`` / ``<stem>.netwgt`` and ``performance.txt`` (optional);
* design-level files in the layout folder, else its parent (the data-set layout
  ``design/design_k/place.result`` with ``design/design.sp``): the netlist (``*.sp``,
  ``.scs``, ``.spice``, ``.cir``, ``.spi``), ``<design>.json`` device types,
  ``<design>.channel``, ``<design>.sym``, ``<design>.symnet``. A file named after the
  netlist or the folder wins; otherwise the folder's only file of that kind is used. A
  ``<design>.json`` that is MAGICAL's flow configuration (``{"spectre_netlist": ...}``,
  see :mod:`~magical_prune.adapters.flow_config`) names the netlist and is no type file.

Every companion can be given explicitly instead. Which circuit results:

* netlist given or found: the netlist is the topology (device types, sizes, ports, the
  graph sub-circuits are classified on). If a ``place.connection`` is present too, every
  device and pin it names must exist in the netlist; when its nets differ from the
  netlist's (other names, pins left out) the placement uses the connection's nets for
  wirelength and routing demand, because they are what the placer and router saw, while
  sub-circuits are still classified on the netlist.
* no netlist: the circuit is built from ``place.connection`` and the ``.json`` types.

Reading thousands of layouts of one design is the normal case, so everything that is the
same for all of them is parsed once: the design circuit is cached per (file, mtime, size)
and pin/connection files per content; folder listings per (folder, mtime).
"""

from __future__ import annotations

import os
import re
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from magical_prune._files import check_regular, read_bytes
from magical_prune.adapters import flow_config, magical, spectre
from magical_prune.adapters._text import read_text
from magical_prune.circuit import BULK_PINS, Circuit, DeviceType, Net, Symmetry
from magical_prune.errors import MagicalPruneError, ParseError
from magical_prune.placement import Placement

__all__ = [
    "LayoutFiles", "find_layout_files", "load_placement", "load_circuit", "find_layouts",
    "has_layout", "clear_caches",
]  # fmt: skip

PathLike = str | os.PathLike[str]
T = TypeVar("T")


# -- small caches -----------------------------------------------------------------------
class _LRU:
    """A tiny bounded cache (most recent ``size`` entries)."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.data: OrderedDict[Hashable, Any] = OrderedDict()

    def get(self, key: Hashable, make: Callable[[], T]) -> T:
        try:
            self.data.move_to_end(key)
            return self.data[key]  # type: ignore[no-any-return]
        except KeyError:
            value = make()
            self.data[key] = value
            if len(self.data) > self.size:
                self.data.popitem(last=False)
            return value

    def clear(self) -> None:
        self.data.clear()


_CIRCUITS = _LRU(16)  # design circuits by file signatures
_TEXTS = _LRU(64)  # parsed pin / connection files by content
_LISTINGS = _LRU(256)  # folder listings by (folder, mtime)
_PICKS = _LRU(1024)  # companion look-ups by (folder, mtime, names)


def clear_caches() -> None:
    """Forget every cached circuit, parsed file and folder listing."""
    for cache in (_CIRCUITS, _TEXTS, _LISTINGS, _PICKS):
        cache.clear()


#: A timestamp younger than this may not yet tell two versions of a file or folder apart
#: (file systems stamp with a clock tick of a few ms), so such entries are not trusted alone.
_RACY_NS = 2_000_000_000


def _racy(mtime_ns: int) -> bool:
    return time.time_ns() - mtime_ns < _RACY_NS


def _signature(path: Path | None) -> Hashable:
    """Cache key of a design file: (path, mtime, size), plus its bytes while the mtime is
    too recent to be trusted."""
    if path is None:
        return None
    name = os.path.abspath(path)
    try:
        st = os.stat(name)
    except OSError:
        check_regular(path)  # says why: missing, a symlink loop, no permission
        raise MagicalPruneError("file not found", path) from None
    if _racy(st.st_mtime_ns):  # read safely: a FIFO here would block a plain read forever
        return (name, st.st_mtime_ns, st.st_size, read_bytes(path))
    return (name, st.st_mtime_ns, st.st_size)


def _listing(folder: Path) -> frozenset[str]:
    """Names in ``folder`` (cached per modification time: a design folder holding 16,000
    layout folders is listed once, not once per layout)."""
    try:
        mtime = os.stat(folder).st_mtime_ns
        if _racy(mtime):
            return frozenset(os.listdir(folder))
        return _LISTINGS.get((str(folder), mtime), lambda: frozenset(os.listdir(folder)))
    except OSError:
        return frozenset()


# -- discovery ------------------------------------------------------------------------------
@dataclass(frozen=True)
class LayoutFiles:
    """The files of one layout (None: not found / not given)."""

    result: Path
    pins: Path | None
    connection: Path | None
    weights: Path | None
    performance: Path | None
    netlist: Path | None
    types: Path | None
    channels: Path | None
    sym: Path | None
    symnet: Path | None


def _stem(name: str) -> str:
    """``place.result`` -> ``place``; ``ota.result.final`` -> ``ota``; ``a.txt`` -> ``a``."""
    if ".result" in name:
        return name.split(".result", 1)[0]
    return Path(name).stem


def _result_in(folder: Path) -> Path:
    names = _listing(folder)
    if "place.result" in names:
        return folder / "place.result"
    found = sorted(n for n in names if ".result" in n and (folder / n).is_file())
    if len(found) > 1:
        final = [n for n in found if n.endswith(".result.final")]
        found = final if len(final) == 1 else found
    if len(found) == 1:
        return folder / found[0]
    if not found:
        raise MagicalPruneError(
            "no layout here: looked for place.result or a *.result* file", folder
        )
    raise MagicalPruneError(
        f"several placement results ({', '.join(found)}); give the file itself", folder
    )


def _pick(
    folder: Path, names: list[str], suffixes: tuple[str, ...], single: bool = True
) -> Path | None:
    """The first of ``names`` present in ``folder``, else its only file with one of
    ``suffixes`` (when ``single``); several unnamed candidates are an error."""
    listing = _listing(folder)
    for name in names:
        if name in listing:
            return folder / name
    if not single:
        return None
    found = _PICKS.get(
        (listing, str(folder), suffixes),
        lambda: sorted(n for n in listing if n.endswith(suffixes) and (folder / n).is_file()),
    )
    if len(found) == 1:
        return folder / found[0]
    if len(found) > 1:
        raise MagicalPruneError(
            f"several {'/'.join(suffixes)} files ({', '.join(found)}); give the one to use", folder
        )
    return None


def find_layout_files(
    path: PathLike,
    *,
    pins: PathLike | None = None,
    connection: PathLike | None = None,
    netlist: PathLike | None = None,
    types: PathLike | None = None,
    channels: PathLike | None = None,
    sym: PathLike | None = None,
    symnet: PathLike | None = None,
    weights: PathLike | None = None,
    performance: PathLike | None = None,
    require_pins: bool = True,
) -> LayoutFiles:
    """Locate a layout's files (see the module docstring for the search rules)."""
    path = Path(path)
    if path.is_dir():
        result = _result_in(path)
    elif path.is_file():
        if path.suffix.lower() in spectre.NETLIST_SUFFIXES:
            raise MagicalPruneError(
                "this is a netlist, not a placement result (load_circuit reads netlists)", path
            )
        result = path
    else:
        if os.path.lexists(path):
            check_regular(path, "placement")  # a FIFO, device or symlink loop: say which
        raise MagicalPruneError("no such file or folder", path)
    folder = result.parent
    stem = _stem(result.name)

    def given(value: PathLike | None) -> Path | None:
        if value is None:
            return None
        p = Path(value)
        if not p.is_file():
            check_regular(p, "companion file")  # a FIFO, device or symlink loop: say which
            raise MagicalPruneError("companion file not found", p)
        return p

    pin_path = given(pins) or _pick(folder, [f"{stem}.pin", "place.pin"], (".pin",))
    if pin_path is None and require_pins:
        raise MagicalPruneError(
            f"no pin file: looked for {stem}.pin, place.pin or one *.pin (give --pins)", folder
        )
    conn_path = given(connection) or _pick(
        folder, [f"{stem}.connection", "place.connection"], (".connection",)
    )
    weight_path = given(weights) or _pick(folder, ["weight.txt", f"{stem}.netwgt"], (".netwgt",))
    perf_path = given(performance) or _pick(folder, ["performance.txt"], (), single=False)

    design_dirs = [folder] if folder.parent == folder else [folder, folder.parent]
    net_path = given(netlist)
    if net_path is None:
        for d in design_dirs:
            net_path = _design_netlist(d)
            if net_path is not None:
                break
    design_names = list(dict.fromkeys(
        ([net_path.stem] if net_path is not None else []) + [d.name for d in design_dirs] + [stem]
    ))  # fmt: skip

    def design_file(value: PathLike | None, suffix: str, single: bool = True) -> Path | None:
        if value is not None:
            return given(value)
        for d in design_dirs:
            found = _pick(d, [n + suffix for n in design_names], (suffix,), single)
            if found is not None:
                return found
        return None

    # any lone .json is a device-type file only when nothing else can give the types
    types_path = design_file(types, ".json", single=net_path is None)
    if types is None and types_path is not None and flow_config.is_flow_config(types_path):
        types_path = None
    return LayoutFiles(
        result=result,
        pins=pin_path,
        connection=conn_path,
        weights=weight_path,
        performance=perf_path,
        netlist=net_path,
        types=types_path,
        channels=design_file(channels, ".channel"),
        sym=design_file(sym, ".sym"),
        symnet=design_file(symnet, ".symnet"),
    )


def _design_netlist(folder: Path) -> Path | None:
    """The design's netlist in ``folder``: the one MAGICAL's flow configuration names
    (``<folder>.json``, else the folder's only ``.json``), else ``<folder>.sp`` (or another
    netlist suffix), else the folder's only netlist."""
    listing = _listing(folder)
    named = f"{folder.name}.json"
    configs = [named] if named in listing else sorted(n for n in listing if n.endswith(".json"))
    if len(configs) == 1:
        configured = flow_config.flow_config_netlist(folder / configs[0])
        if configured is not None:
            return configured
    names = [folder.name + s for s in spectre.NETLIST_SUFFIXES]
    return _pick(folder, names, spectre.NETLIST_SUFFIXES)


# -- circuits -------------------------------------------------------------------------------
class _RoutedCircuit(Circuit):
    """A netlist circuit whose nets are replaced by a layout's ``place.connection`` nets;
    sub-circuits are still those of the netlist topology."""

    topology: Circuit

    def subcircuits(self) -> dict[str, tuple[int, ...]]:
        return self.topology.subcircuits()


def _pinned_text(path: Path, parse: Callable[[str, Path], T]) -> T:
    """Parse a per-layout file that is usually identical across layouts, once per content."""
    text = read_text(path)
    return _TEXTS.get((parse, text), lambda: parse(text, path))  # type: ignore[no-any-return]


def _types_arg(types: PathLike | Mapping[str, Any] | None) -> dict[str, DeviceType] | None:
    if types is not None and isinstance(types, (str, os.PathLike)):
        if flow_config.is_flow_config(types):
            raise MagicalPruneError(
                "this is MAGICAL's flow configuration (it names the netlist), not a "
                'device-type file; give a file like {"M0": "NMOS", "C0": "CAP"} to --types',
                types,
            )
        return magical.read_types(types)
    if types is None:
        return None
    return {d: t if isinstance(t, DeviceType) else DeviceType.parse(t) for d, t in types.items()}


def _symmetry(sym: Path | None, symnet: Path | None) -> Symmetry:
    symmetry = magical.read_sym(sym) if sym is not None else Symmetry()
    if symnet is not None:
        nets = magical.read_symnet(symnet)
        symmetry = replace(
            symmetry, net_pairs=nets.net_pairs, self_symmetric_nets=nets.self_symmetric_nets
        )
    return symmetry


def _netlist_circuit(
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

    key = ("netlist", _signature(netlist), _arg_key(types), _arg_key(channels),
           _signature(sym), _signature(symnet), top)  # fmt: skip
    return _CIRCUITS.get(key, make)


def _channels_arg(
    channels: PathLike | Mapping[str, Any] | None,
) -> dict[str, tuple[int, ...]] | None:
    if channels is None:
        return None
    if isinstance(channels, (str, os.PathLike)):
        return magical.read_channels(channels)
    return {
        d: tuple(int(c) for c in ([v] if isinstance(v, int) else v)) for d, v in channels.items()
    }


def _arg_key(value: PathLike | Mapping[str, Any] | None) -> Hashable:
    if value is None:
        return None
    if isinstance(value, (str, os.PathLike)):
        return _signature(Path(value))
    return tuple((k, str(v)) for k, v in value.items())


def _parse_connection(
    text: str, path: Path
) -> tuple[dict[str, list[tuple[str, str]]], dict[str, int]]:
    return magical._parse_connection_lines(text, path)


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
           _signature(sym), _signature(symnet), name)  # fmt: skip
    return _CIRCUITS.get(key, make)


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
        routed = _RoutedCircuit(
            name=circuit.name, devices=circuit.devices,
            nets={n: Net(n, tuple((d, "B" if p == "BULK" else p) for d, p in pins))
                  for n, pins in nets.items()},
            ports=circuit.ports, symmetry=circuit.symmetry,
            channel_overrides=circuit.channel_overrides, source=str(conn_path),
            unmodelled=circuit.unmodelled,
        )  # fmt: skip
        routed.topology = circuit
        return routed

    # Cached on the circuit itself: one view per distinct connection file of the design.
    views: dict[Hashable, Circuit] = circuit.__dict__.setdefault("_routed_views", {})
    key = tuple((n, tuple(p)) for n, p in nets.items())
    if key not in views:
        if len(views) >= 64:  # a design has one connection file in practice; stay bounded
            views.clear()
        views[key] = make()
    return views[key]


def _circuit_for(
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
        conn = _pinned_text(files.connection, _parse_connection)
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
        circuit = _netlist_circuit(
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


def _mirrored(circuit: Circuit, names: tuple[str, ...], rects: np.ndarray) -> list[str]:
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


# -- public API -----------------------------------------------------------------------------
def load_placement(
    path: PathLike,
    *,
    pins: PathLike | None = None,
    connection: PathLike | None = None,
    netlist: PathLike | Circuit | None = None,
    types: PathLike | Mapping[str, DeviceType | str] | None = None,
    channels: PathLike | Mapping[str, Any] | None = None,
    sym: PathLike | None = None,
    symnet: PathLike | None = None,
    weights: PathLike | None = None,
    performance: PathLike | None = None,
    top: str | None = None,
) -> Placement:
    """Read one layout (a placement result file or a layout folder) with its companions.

    Args:
        path: ``place.result`` (any name) or a folder holding one.
        pins, connection, netlist, types, channels, sym, symnet, weights, performance:
            explicit companion files (found beside the layout when not given). ``netlist``
            may also be an already-built :class:`Circuit`, ``types``/``channels`` mappings.
        top: the netlist's top cell, when it has several candidates.

    Raises:
        MagicalPruneError: a missing companion (naming what was looked for), or a malformed
            file (:class:`ParseError` with file and line).
    """
    files = find_layout_files(
        path, pins=pins, connection=connection,
        netlist=None if isinstance(netlist, Circuit) else netlist,
        types=types if isinstance(types, (str, os.PathLike)) else None,
        channels=channels if isinstance(channels, (str, os.PathLike)) else None,
        sym=sym, symnet=symnet, weights=weights, performance=performance,
    )  # fmt: skip
    if files.pins is None:  # pragma: no cover - find_layout_files requires it
        raise MagicalPruneError("no pin file", files.result.parent)
    names, rects = magical.read_place_result(files.result)
    placed = set(names)
    circuit = _circuit_for(files, netlist, types, channels, top, placed=placed)
    if files.connection is None:
        missing = [d for d in circuit.devices.values() if d.name not in placed and any(d.nets)]
        if missing:
            raise MagicalPruneError(
                f"device {missing[0].name!r} of the netlist {circuit.source} is not placed",
                files.result,
            )
    local_pins = _pinned_text(files.pins, magical.parse_place_pin)
    try:
        return Placement.build(
            circuit, names, rects, local_pins,
            mirrored=_mirrored(circuit, names, rects),
            weights=magical.read_weights(files.weights) if files.weights else None,
            performance=magical.read_performance(files.performance) if files.performance else None,
            source=str(files.result),
        )  # fmt: skip
    except ParseError:
        raise
    except MagicalPruneError as err:
        raise err.at(files.result) from None


def load_circuit(
    path: PathLike,
    *,
    connection: PathLike | None = None,
    netlist: PathLike | None = None,
    types: PathLike | Mapping[str, DeviceType | str] | None = None,
    channels: PathLike | Mapping[str, Any] | None = None,
    sym: PathLike | None = None,
    symnet: PathLike | None = None,
    top: str | None = None,
    pins: PathLike | None = None,
) -> Circuit:
    """The circuit of a netlist file, a layout (file or folder) or a design folder.

    A netlist file picks up ``<stem>.json``/``.channel``/``.sym``/``.symnet`` beside it.
    A design folder uses its netlist (or its ``.json`` types with the connection file of
    its first layout). MAGICAL's flow configuration (``<design>.json`` naming
    ``spectre_netlist``) may be given instead of the netlist. ``pins`` is accepted (and
    unused) so the CLI's companion options can be passed through unchanged.
    """
    del pins
    p = Path(path)
    design = [p.stem] if p.is_file() else [p.name]  # companions may be named after it too
    if p.is_file() and flow_config.is_flow_config(p):
        net_path = Path(netlist) if netlist is not None else flow_config.flow_config_netlist(p)
        if net_path is None:
            keys = " or ".join(flow_config.NETLIST_KEYS)
            raise MagicalPruneError(f"flow configuration names no netlist ({keys})", p)
    elif p.is_dir() and not has_layout(p):  # a design folder
        net_path = Path(netlist) if netlist is not None else _design_netlist(p)
        if net_path is None:
            p = find_layouts(p)[0]
    elif p.is_file() and p.suffix.lower() in spectre.NETLIST_SUFFIXES:
        net_path = p
    else:
        net_path = None
    if net_path is not None:
        names = list(dict.fromkeys([net_path.stem, *design]))

        def beside(value: Any, suffix: str) -> Any:
            if value is not None:
                return value
            found = _pick(net_path.parent, [n + suffix for n in names], (suffix,), single=False)
            return None if found is not None and flow_config.is_flow_config(found) else found

        return _netlist_circuit(
            net_path, beside(types, ".json"), beside(channels, ".channel"),
            _opt_path(beside(sym, ".sym")), _opt_path(beside(symnet, ".symnet")), top,
        )  # fmt: skip
    files = find_layout_files(
        p, connection=connection, netlist=netlist,
        types=types if isinstance(types, (str, os.PathLike)) else None,
        channels=channels if isinstance(channels, (str, os.PathLike)) else None,
        sym=sym, symnet=symnet, require_pins=False,
    )  # fmt: skip
    return _circuit_for(files, None, types, channels, top)


def _opt_path(value: Any) -> Path | None:
    return None if value is None else Path(value)


def has_layout(folder: Path) -> bool:
    """Whether ``folder`` holds a placement result (``place.result`` or ``*.result*``)."""
    names = _listing(folder)
    return "place.result" in names or any(".result" in n and (folder / n).is_file() for n in names)


def _natural_key(path: Path) -> list[Any]:
    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", path.name)]


def find_layouts(design_dir: PathLike) -> list[Path]:
    """The layout folders of a design (sub-folders holding a placement result), in natural
    order (``ota_2`` before ``ota_10``).

    Raises:
        MagicalPruneError: ``design_dir`` is not a folder or holds no layout.
    """
    folder = Path(design_dir)
    if not folder.is_dir():
        raise MagicalPruneError("not a folder (expected a design folder of layout folders)", folder)
    layouts = []
    with os.scandir(folder) as entries:
        for entry in entries:
            if not entry.is_dir():
                continue
            sub = Path(entry.path)
            if (sub / "place.result").is_file() or has_layout(sub):
                layouts.append(sub)
    if not layouts:
        raise MagicalPruneError(
            "no layout in this folder: no sub-folder holds place.result or a *.result* file", folder
        )
    return sorted(layouts, key=_natural_key)
