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

This module is the public face of loading: the search is in :mod:`._locate`, building the
circuit in :mod:`._layout_circuit`, the caches in :mod:`._caches`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from magical_prune.adapters import flow_config, spectre
from magical_prune.adapters._caches import clear_caches
from magical_prune.adapters._layout_circuit import (
    circuit_for,
    mirrored_devices,
    netlist_circuit,
    pinned_text,
)
from magical_prune.adapters._locate import (
    LayoutFiles,
    design_netlist,
    find_layout_files,
    find_layouts,
    has_layout,
    pick,
)
from magical_prune.adapters.place_pin import parse_place_pin
from magical_prune.adapters.place_result import read_place_result
from magical_prune.adapters.values import read_performance, read_weights
from magical_prune.circuit import Circuit, DeviceType
from magical_prune.errors import MagicalPruneError, ParseError
from magical_prune.placement import Placement

__all__ = [
    "LayoutFiles", "find_layout_files", "load_placement", "load_circuit", "find_layouts",
    "has_layout", "clear_caches",
]  # fmt: skip

PathLike = str | os.PathLike[str]


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
    names, rects = read_place_result(files.result)
    placed = set(names)
    circuit = circuit_for(files, netlist, types, channels, top, placed=placed)
    if files.connection is None:
        missing = [d for d in circuit.devices.values() if d.name not in placed and any(d.nets)]
        if missing:
            raise MagicalPruneError(
                f"device {missing[0].name!r} of the netlist {circuit.source} is not placed",
                files.result,
            )
    local_pins = pinned_text(files.pins, parse_place_pin)
    try:
        return Placement.build(
            circuit, names, rects, local_pins,
            mirrored=mirrored_devices(circuit, names, rects),
            weights=read_weights(files.weights) if files.weights else None,
            performance=read_performance(files.performance) if files.performance else None,
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
        net_path = Path(netlist) if netlist is not None else design_netlist(p)
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
            found = pick(net_path.parent, [n + suffix for n in names], (suffix,), single=False)
            return None if found is not None and flow_config.is_flow_config(found) else found

        return netlist_circuit(
            net_path, beside(types, ".json"), beside(channels, ".channel"),
            _opt_path(beside(sym, ".sym")), _opt_path(beside(symnet, ".symnet")), top,
        )  # fmt: skip
    files = find_layout_files(
        p, connection=connection, netlist=netlist,
        types=types if isinstance(types, (str, os.PathLike)) else None,
        channels=channels if isinstance(channels, (str, os.PathLike)) else None,
        sym=sym, symnet=symnet, require_pins=False,
    )  # fmt: skip
    return circuit_for(files, None, types, channels, top)


def _opt_path(value: Any) -> Path | None:
    return None if value is None else Path(value)
