"""MAGICAL's ``place.pin``: the device-local shapes of every device pin.

A pin may have several rectangles; the placement keeps the bounding box of their union
(:func:`pin_boxes`), :func:`pin_union` gives the union itself. Coordinates are µm in the
file and integer nm in memory.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

import numpy as np
import shapely

from magical_prune.adapters._text import (
    check_name,
    nm_to_um_text,
    quads_to_nm,
    read_text,
    um_to_nm,
    write_lines,
)
from magical_prune.errors import MagicalPruneError, ParseError

__all__ = [
    "PinShape", "parse_pin_shapes", "read_pin_shapes", "parse_place_pin", "read_place_pin",
    "pin_boxes", "pin_union", "write_place_pin",
]  # fmt: skip

PathLike = str | os.PathLike[str]
Box = tuple[int, int, int, int]


class PinShape(NamedTuple):
    """One rectangle of a pin, device-local, in nm."""

    layer: str
    box: Box


def _shape_fields(
    line: str, count: int, path: PathLike, lineno: int
) -> list[tuple[str, list[str]]]:
    """``count`` rectangles ``Layer xLo yLo xHi yHi``, each optionally in parentheses
    (``M1 (0.1 0 0.3 2.16)``), as (layer, four number texts); numbers are converted later,
    all at once."""
    tokens = line.replace("(", " ( ").replace(")", " ) ").split()
    shapes: list[tuple[str, list[str]]] = []
    i, n = 0, len(tokens)
    while i < n:
        layer = tokens[i]
        if layer in "()":
            raise ParseError(f"unexpected {layer!r} where a layer name was expected", path, lineno)
        i += 1
        wrapped = i < n and tokens[i] == "("
        i += wrapped
        coords = tokens[i : i + 4]
        if len(coords) < 4 or "(" in coords or ")" in coords:
            raise ParseError(
                "pin shape must be 'Layer xLo yLo xHi yHi' (optionally in parentheses)",
                path, lineno,
            )  # fmt: skip
        i += 4
        if wrapped:
            if i >= n or tokens[i] != ")":
                raise ParseError("unclosed '(' in pin shape", path, lineno)
            i += 1
        shapes.append((layer, coords))
    if len(shapes) != count:
        raise ParseError(f"pin announces {count} shape(s), line has {len(shapes)}", path, lineno)
    return shapes


def parse_pin_shapes(
    text: str, path: PathLike = "<string>"
) -> dict[tuple[str, str], list[PinShape]]:
    """Parse a ``place.pin`` file into ``(device, PIN) -> shapes`` (device-local nm).

    Format: a one-word line starts a device block; ``PinName NumShapes`` follows for each
    pin, and the next non-blank line lists its NumShapes rectangles. Pin names are upper-
    cased (connection files use ``D``/``G``/``S``/``B``/``PLUS``/``MINUS``). A pin listed
    twice for one device collects the shapes of both entries (its box is their union).
    """
    pins: dict[tuple[str, str], list[PinShape]] = {}
    found: list[tuple[tuple[str, str], str, int]] = []  # (pin key, layer, line) per shape
    numbers: list[str] = []
    devices: dict[str, int] = {}
    device: str | None = None
    lines = text.splitlines()
    i, n = 0, len(lines)
    while i < n:
        lineno = i + 1
        fields = lines[i].split()
        i += 1
        if not fields:
            continue
        if len(fields) == 1:
            device = fields[0]
            if device in devices:
                raise ParseError(
                    f"device {device!r} has two pin blocks (also line {devices[device]})",
                    path, lineno,
                )  # fmt: skip
            devices[device] = lineno
            continue
        if len(fields) != 2:
            raise ParseError(
                f"expected a device name or 'PinName NumShapes', got {len(fields)} fields",
                path, lineno,
            )  # fmt: skip
        if device is None:
            raise ParseError("pin line before the first device name", path, lineno)
        pin, count_text = fields
        try:
            count = int(count_text)
        except ValueError:
            raise ParseError(
                f"shape count {count_text!r} is not an integer", path, lineno
            ) from None
        if count < 0:
            raise ParseError(f"negative shape count {count}", path, lineno)
        key = (device, pin.upper())
        pins.setdefault(key, [])
        if count:
            while i < n and not lines[i].strip():
                i += 1
            if i >= n:
                raise ParseError(f"pin {pin!r} announces {count} shape(s), file ends", path, lineno)
            for layer, coords in _shape_fields(lines[i], count, path, i + 1):
                found.append((key, layer, i + 1))
                numbers += coords
            i += 1
    if not devices:  # read as "no pins", it would give an all-zero routing image
        raise ParseError("empty pin file: no device block (see docs/formats.md)", path)
    # All coordinates at once; on any problem, walk them again to name the line.
    nm = quads_to_nm(numbers)
    ok = nm is not None and bool(np.all(nm[:, 2] >= nm[:, 0]) and np.all(nm[:, 3] >= nm[:, 1]))
    if not ok:
        _pin_number_error(found, numbers, path)
    for (key, layer, _), box in zip(found, nm.tolist()):
        pins[key].append(PinShape(layer, tuple(box)))  # type: ignore[arg-type]
    return pins


def _pin_number_error(
    found: list[tuple[tuple[str, str], str, int]], numbers: list[str], path: PathLike
) -> None:
    for k, (_, _, lineno) in enumerate(found):
        xlo, ylo, xhi, yhi = (um_to_nm(t, path, lineno) for t in numbers[4 * k : 4 * k + 4])
        if xhi < xlo or yhi < ylo:
            raise ParseError("pin shape has xHi < xLo or yHi < yLo", path, lineno)
    raise ParseError("malformed pin shapes", path)  # pragma: no cover - a line above fails


def read_pin_shapes(path: PathLike) -> dict[tuple[str, str], list[PinShape]]:
    """Read every pin shape of a ``place.pin`` file (see :func:`parse_pin_shapes`)."""
    return parse_pin_shapes(read_text(path), path)


def pin_boxes(shapes: Mapping[tuple[str, str], Sequence[PinShape]]) -> dict[tuple[str, str], Box]:
    """Each pin's box: the bounds of the union of its shapes (pins without shapes dropped).

    The bounds of a union of rectangles are the min/max of their bounds, which plain Python
    computes ~50x faster than building shapely geometries per pin; :func:`pin_union` gives
    the union itself for anyone who needs the shape.
    """
    boxes: dict[tuple[str, str], Box] = {}
    for key, pin_shapes in shapes.items():
        if not pin_shapes:
            continue
        if len(pin_shapes) == 1:
            boxes[key] = pin_shapes[0].box
            continue
        b = [s.box for s in pin_shapes]
        boxes[key] = (
            min(r[0] for r in b),
            min(r[1] for r in b),
            max(r[2] for r in b),
            max(r[3] for r in b),
        )
    return boxes


def pin_union(shapes: Sequence[PinShape]) -> shapely.Geometry:
    """The union of a pin's rectangles as a shapely geometry (nm, device-local).

    Zero-width or zero-height shapes add no area and vanish from the union (they still
    count for the pin's box in :func:`pin_boxes`, which marks where the pin is)."""
    if not shapes:
        return shapely.Polygon()
    arr = np.array([s.box for s in shapes], dtype=np.float64)
    return shapely.union_all(shapely.box(arr[:, 0], arr[:, 1], arr[:, 2], arr[:, 3]))


def parse_place_pin(text: str, path: PathLike = "<string>") -> dict[tuple[str, str], Box]:
    """``(device, PIN) -> (xlo, ylo, xhi, yhi)`` nm, device-local: the pin boxes
    :meth:`~magical_prune.placement.Placement.build` takes."""
    return pin_boxes(parse_pin_shapes(text, path))


def read_place_pin(path: PathLike) -> dict[tuple[str, str], Box]:
    """Read a ``place.pin`` file into device-local pin boxes (nm)."""
    return parse_place_pin(read_text(path), path)


def write_place_pin(
    path: PathLike,
    pins: Mapping[tuple[str, str], Sequence[int] | Sequence[Sequence[int]] | Sequence[PinShape]],
    layer: str = "M1",
) -> None:
    """Write device-local pin shapes (nm) as a ``place.pin`` file.

    Args:
        pins: ``(device, pin) ->`` one box ``(xlo, ylo, xhi, yhi)``, a list of boxes, or a
            list of :class:`PinShape`; devices are written in first-appearance order.
        layer: layer name for shapes given as bare boxes.
    """
    by_device: dict[str, list[tuple[str, list[PinShape]]]] = {}
    for (device, pin), value in pins.items():
        check_name(device)
        check_name(pin)
        by_device.setdefault(device, []).append((pin, _as_shapes(value, layer)))
    lines: list[str] = []
    for device, device_pins in by_device.items():
        lines.append(device)
        for pin, shapes in device_pins:
            lines.append(f"{pin} {len(shapes)}")
            if shapes:
                lines.append(
                    " ".join(
                        f"{s.layer} ({' '.join(nm_to_um_text(v) for v in s.box)})" for s in shapes
                    )
                )
    write_lines(path, lines)


def _as_shapes(value: Any, layer: str) -> list[PinShape]:
    if isinstance(value, PinShape):
        return [value]
    items = list(value)
    if len(items) == 4 and all(np.isscalar(v) for v in items):
        items = [items]
    shapes = []
    for item in items:
        if isinstance(item, PinShape):
            shapes.append(PinShape(item.layer, tuple(int(v) for v in item.box)))  # type: ignore[arg-type]
        else:
            box = tuple(int(v) for v in item)
            if len(box) != 4:
                raise MagicalPruneError(f"a pin box needs 4 numbers, got {len(box)}")
            shapes.append(PinShape(layer, box))  # type: ignore[arg-type]
    return shapes
