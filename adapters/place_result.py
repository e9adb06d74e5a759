"""MAGICAL's ``place.result``: one rectangle per placed device.

``Name OriginX OriginY Width Height`` lines in µm, read into integer nm (``xlo ylo xhi
yhi``) and written back with three decimals, so a write/read round trip is exact.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import NamedTuple

import numpy as np

from magical_prune.adapters._text import (
    check_name,
    nm_to_um_text,
    quads_to_nm,
    read_text,
    um_to_nm,
    write_lines,
)
from magical_prune.errors import MagicalPruneError, ParseError

__all__ = ["PlaceResult", "parse_place_result", "read_place_result", "write_place_result"]

PathLike = str | os.PathLike[str]


class PlaceResult(NamedTuple):
    """Device names and their ``(N, 4)`` int64 rectangles ``xlo ylo xhi yhi`` in nm."""

    names: tuple[str, ...]
    rects: np.ndarray


def parse_place_result(text: str, path: PathLike = "<string>") -> PlaceResult:
    """Parse ``Name OriginX OriginY Width Height`` lines (µm, origin = lower-left corner).

    Unlike MAGICAL's own reader, which warns and drops a line with the wrong number of
    fields (silently losing a device), any malformed line is an error here.
    """
    names: list[str] = []
    values: list[str] = []
    lines: list[int] = []
    for lineno, line in enumerate(text.splitlines(), 1):
        fields = line.split()
        if not fields:
            continue
        if len(fields) != 5:
            raise ParseError(
                f"expected 5 fields (name x y width height), got {len(fields)}", path, lineno
            )
        names.append(fields[0])
        values += fields[1:]
        lines.append(lineno)
    if not names:
        raise ParseError("empty placement: no device line", path)
    # Fast path: convert all numbers at once; on any problem, find the line and say why.
    nm = quads_to_nm(values)
    ok = nm is not None and bool(np.all(nm[:, 2:] > 0)) and len(set(names)) == len(names)
    if not ok:
        _place_result_error(names, values, lines, path)
    rects = np.empty_like(nm)
    rects[:, :2] = nm[:, :2]
    rects[:, 2:] = nm[:, :2] + nm[:, 2:]
    return PlaceResult(tuple(names), rects)


def _place_result_error(
    names: list[str], values: list[str], lines: list[int], path: PathLike
) -> None:
    """Raise the ParseError for the first bad line of a place.result."""
    seen: dict[str, int] = {}
    for k, (name, lineno) in enumerate(zip(names, lines)):
        if name in seen:
            raise ParseError(
                f"device {name!r} is placed twice (also line {seen[name]})", path, lineno
            )
        seen[name] = lineno
        fields = values[4 * k : 4 * k + 4]
        for token, what in zip(fields, ("x", "y", "width", "height")):
            um_to_nm(token, path, lineno, what)
        if um_to_nm(fields[2], path, lineno) <= 0 or um_to_nm(fields[3], path, lineno) <= 0:
            raise ParseError(
                f"device {name!r} has zero or negative size ({fields[2]} x {fields[3]} um)",
                path, lineno,
            )  # fmt: skip
    raise ParseError("malformed placement", path)  # pragma: no cover - a line above fails


def read_place_result(path: PathLike) -> PlaceResult:
    """Read a ``place.result`` (MAGICAL ``.result.final``) file."""
    return parse_place_result(read_text(path), path)


def write_place_result(path: PathLike, names: Sequence[str], rects_nm: np.ndarray) -> None:
    """Write device rectangles (nm, ``xlo ylo xhi yhi``) as ``name x y w h`` in µm."""
    rects = np.asarray(rects_nm)
    if rects.shape != (len(names), 4):
        raise MagicalPruneError(f"rects must be ({len(names)}, 4), got {rects.shape}")
    rects = rects.astype(np.int64)
    lines = []
    for name, (xlo, ylo, xhi, yhi) in zip(names, rects.tolist()):
        check_name(name)
        fields = (xlo, ylo, xhi - xlo, yhi - ylo)
        lines.append(" ".join([name, *(nm_to_um_text(v) for v in fields)]))
    write_lines(path, lines)
