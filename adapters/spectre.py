"""Spectre (and SPICE) netlist reader: the design's devices, their nets, models and sizes.

Reads what analog flows write for a design: ``subckt``/``topckt`` ... ``ends`` cells,
``\\`` continuation lines, ``//`` and ``*`` comments, ``simulator lang=`` switches, and
instances ``name (terminals) master key=value ...`` whose numbers carry SI suffixes
(``120.0n``, ``60u``, ``10meg``). SPICE decks (``.subckt``/``.ends``, ``+`` continuations,
element letters) are read by the same code: the dialect is taken from the content and from
``simulator lang=`` lines. Parameter values may be expressions (``multi=(1)``,
``w=(2*wp)``, ``w='2*wn'``) over ``parameters``/``.param`` names and sub-circuit
parameters; they are evaluated by :mod:`magical_prune.adapters._expr`, never by ``eval``.

A top cell that instantiates other cells of the file is flattened: devices are named by
their instance path (``X1/M0``) and nets inside a sub-cell get the same prefix (``X1/net3``)
unless they are ports (mapped to the parent's nets) or global (``0``, ``gnd!``, ``global``
declarations). What each instance is (sub-circuit, device, or an element the tool does not
model) is decided by :mod:`magical_prune.adapters._elements` once the whole file is read;
the elements left out are listed in :attr:`Circuit.unmodelled` and in one warning.

A malformed statement inside a sub-circuit is reported only when that sub-circuit is used
(the top cell or one it instantiates), so one broken library cell does not block the rest.

The reading happens in three steps, one module each: text into statements
(:mod:`._netlist_text`), statements into cells (:mod:`._netlist_cells`), cells into flat
devices (:mod:`._netlist_flatten`).
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Mapping
from pathlib import Path

from magical_prune.adapters._expr import Scope, parse_number
from magical_prune.adapters._netlist_cells import parse_cells
from magical_prune.adapters._netlist_flatten import Flat, choose_top, flatten
from magical_prune.adapters._text import read_text
from magical_prune.circuit import Circuit, DeviceType
from magical_prune.errors import MagicalPruneError, MagicalPruneWarning, ParseError

__all__ = ["read_netlist", "parse_netlist", "parse_number", "NETLIST_SUFFIXES"]

PathLike = str | os.PathLike[str]

#: File suffixes recognised as netlists by discovery and the CLI.
NETLIST_SUFFIXES: tuple[str, ...] = (".sp", ".scs", ".spice", ".cir", ".spi")

#: Most unmodelled elements named in the warning (the rest are counted).
_NAMED_IN_WARNING = 12


def _warn_unmodelled(unmodelled: Mapping[str, str], path: PathLike) -> None:
    names = [f"{name} ({what})" for name, what in unmodelled.items()]
    shown = ", ".join(names[:_NAMED_IN_WARNING])
    more = f" and {len(names) - _NAMED_IN_WARNING} more" if len(names) > _NAMED_IN_WARNING else ""
    warnings.warn(
        MagicalPruneWarning(
            f"{os.fspath(path)}: {len(names)} element(s) the tool does not model are left out "
            f"of the circuit: {shown}{more}"
        ),
        stacklevel=3,
    )


def parse_netlist(
    text: str,
    path: PathLike = "<string>",
    top: str | None = None,
    *,
    types: Mapping[str, DeviceType] | None = None,
) -> Circuit:
    """Build the :class:`~magical_prune.circuit.Circuit` of a netlist text.

    Elements the tool does not model (sources, diodes, bipolars, inductors, ...) are left
    out, listed in ``Circuit.unmodelled`` and named in a :class:`MagicalPruneWarning`.

    Args:
        text: Spectre or SPICE netlist.
        path: file name for messages (and the circuit name of a netlist with no sub-circuit).
        top: the top cell; by default the ``topckt``, else the one sub-circuit no other
            instantiates (a testbench instance at file level breaks a tie).
        types: device name (flattened, ``X1/M0``) or model name -> type; wins over the
            model name's pattern and makes an unknown model name acceptable.

    Raises:
        ParseError: malformed statement in a used cell, unknown model, wrong terminal
            count, recursion.
    """
    netlist = parse_cells(text, path)
    cell = choose_top(netlist, top, path)
    globals_scope = Scope()
    globals_scope.define(netlist.toplevel.params)
    flat = Flat(netlist, types, path, globals_scope)
    if cell is None:
        flatten(flat, netlist.toplevel, "", {}, (), globals_scope)
        name, ports = Path(str(path)).stem or "netlist", ()
    else:
        scope = Scope(globals_scope)
        scope.define(cell.params)
        flatten(flat, cell, "", {}, (cell.name,), scope)
        name, ports = cell.name, tuple(cell.ports)
    if not flat.devices:
        where = f"sub-circuit {name!r}" if cell is not None else "the netlist"
        left = f" ({len(flat.unmodelled)} element(s) not modelled)" if flat.unmodelled else ""
        raise ParseError(f"{where} has no devices{left}", path, cell.line if cell else None)
    if flat.unmodelled:
        _warn_unmodelled(flat.unmodelled, path)
    try:
        return Circuit.from_devices(
            name, flat.devices, ports, source=os.fspath(path), unmodelled=dict(flat.unmodelled)
        )
    except MagicalPruneError as err:
        raise err.at(path) from None


def read_netlist(
    path: PathLike, top: str | None = None, *, types: Mapping[str, DeviceType] | None = None
) -> Circuit:
    """Read a Spectre/SPICE netlist file (see :func:`parse_netlist`)."""
    return parse_netlist(read_text(path), path, top, types=types)
