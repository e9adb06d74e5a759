"""Files of the MAGICAL flow: readers and writers, plus (re-exported) layout loading.

One layout is a folder with ``place.result``, ``place.pin``, ``place.connection`` and
optionally ``weight.txt`` / ``performance.txt``; a design adds ``<design>.sp``, ``.json``
(device types), ``.channel`` (sub-circuits), ``.sym`` and ``.symnet`` (see
``docs/formats.md``). Lengths are µm in the files and integer nm in memory; writers print
µm with three decimals, so nm values survive a write/read round trip exactly.

Every reader has a ``parse_*(text, path)`` twin that works on a string (the ``read_*``
function only adds the file reading). Every malformed line raises
:class:`~magical_prune.errors.ParseError` with the file and 1-based line number.

This module gathers the flow's file kinds in one namespace, the one users import. Each
kind lives in its own module: :mod:`~magical_prune.adapters.place_result`,
:mod:`~magical_prune.adapters.place_pin`, :mod:`~magical_prune.adapters.connection`,
:mod:`~magical_prune.adapters.values` (weights, performance),
:mod:`~magical_prune.adapters.symmetry` (``.sym``, ``.symnet``) and
:mod:`~magical_prune.adapters.design_json` (types, channels). :func:`load_placement`,
:func:`load_circuit` and :func:`find_layouts` live in
:mod:`magical_prune.adapters.discovery` and are importable from here too.
"""

from __future__ import annotations

from magical_prune.adapters.connection import parse_connection, read_connection, write_connection
from magical_prune.adapters.design_json import (
    parse_channels,
    parse_types,
    read_channels,
    read_types,
    write_channels,
    write_types,
)
from magical_prune.adapters.discovery import find_layouts, load_circuit, load_placement
from magical_prune.adapters.place_pin import (
    PinShape,
    parse_pin_shapes,
    parse_place_pin,
    pin_boxes,
    pin_union,
    read_pin_shapes,
    read_place_pin,
    write_place_pin,
)
from magical_prune.adapters.place_result import (
    PlaceResult,
    parse_place_result,
    read_place_result,
    write_place_result,
)
from magical_prune.adapters.symmetry import (
    parse_sym,
    parse_symnet,
    read_sym,
    read_symnet,
    write_sym,
    write_symnet,
)
from magical_prune.adapters.values import (
    parse_performance,
    parse_weights,
    read_performance,
    read_weights,
    write_performance,
    write_weights,
)

__all__ = [
    "PlaceResult", "PinShape",
    "parse_place_result", "read_place_result", "write_place_result",
    "parse_pin_shapes", "read_pin_shapes", "parse_place_pin", "read_place_pin",
    "pin_boxes", "pin_union", "write_place_pin",
    "parse_connection", "read_connection", "write_connection",
    "parse_weights", "read_weights", "write_weights",
    "parse_performance", "read_performance", "write_performance",
    "parse_sym", "read_sym", "write_sym", "parse_symnet", "read_symnet", "write_symnet",
    "parse_types", "read_types", "write_types", "parse_channels", "read_channels",
    "write_channels", "load_placement", "load_circuit", "find_layouts",
]  # fmt: skip
