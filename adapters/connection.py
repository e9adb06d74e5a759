"""MAGICAL's ``place.connection``: the device pins on each net.

``NetName Dev0 Pin0 Dev1 Pin1 ...`` lines; the nets the placer and router saw, which
discovery checks against the netlist.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence

from magical_prune.adapters._text import check_name, field_lines, read_text, write_lines
from magical_prune.errors import ParseError

__all__ = ["parse_connection", "read_connection", "write_connection", "parse_connection_lines"]

PathLike = str | os.PathLike[str]


def parse_connection_lines(
    text: str, path: PathLike
) -> tuple[dict[str, list[tuple[str, str]]], dict[str, int]]:
    nets: dict[str, list[tuple[str, str]]] = {}
    where: dict[str, int] = {}
    for lineno, fields in field_lines(text):
        if len(fields) < 3 or len(fields) % 2 == 0:
            raise ParseError(
                "expected 'NetName Device Pin [Device Pin ...]' "
                f"(an odd number >= 3 of fields), got {len(fields)}",
                path, lineno,
            )  # fmt: skip
        net = fields[0]
        if net in nets:
            raise ParseError(f"net {net!r} is listed twice (also line {where[net]})", path, lineno)
        nets[net] = [(fields[k], fields[k + 1].upper()) for k in range(1, len(fields), 2)]
        where[net] = lineno
    if not nets:  # read as "no nets", it would give an all-zero routing image
        raise ParseError("empty connection file: no net line (see docs/formats.md)", path)
    return nets, where


def parse_connection(text: str, path: PathLike = "<string>") -> dict[str, list[tuple[str, str]]]:
    """``NetName Dev0 Pin0 Dev1 Pin1 ...`` lines -> ``net -> [(device, PIN), ...]``.

    Bulk pins (``B``, ``BULK``) are kept; the core skips them for routing.
    """
    return parse_connection_lines(text, path)[0]


def read_connection(path: PathLike) -> dict[str, list[tuple[str, str]]]:
    """Read a ``place.connection`` file (see :func:`parse_connection`)."""
    return parse_connection(read_text(path), path)


def write_connection(path: PathLike, nets: Mapping[str, Sequence[tuple[str, str]]]) -> None:
    """Write ``net -> [(device, pin), ...]`` as a ``place.connection`` file (nets with no
    pins cannot be written in this format and are left out)."""
    lines = []
    for net, pins in nets.items():
        check_name(net)
        if not pins:
            continue
        for device, pin in pins:
            check_name(device)
            check_name(pin)
        lines.append(" ".join([net, *(f"{d} {p}" for d, p in pins)]))
    write_lines(path, lines)
