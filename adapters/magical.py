"""Files of the MAGICAL flow: readers and writers, plus (re-exported) layout loading.

One layout is a folder with ``place.result``, ``place.pin``, ``place.connection`` and
optionally ``weight.txt`` / ``performance.txt``; a design adds ``<design>.sp``, ``.json``
(device types), ``.channel`` (sub-circuits), ``.sym`` and ``.symnet`` (see
``docs/formats.md``). Lengths are µm in the files and integer nm in memory; writers print
µm with three decimals, so nm values survive a write/read round trip exactly.

Every reader has a ``parse_*(text, path)`` twin that works on a string (the ``read_*``
function only adds the file reading). Every malformed line raises
:class:`~magical_prune.errors.ParseError` with the file and 1-based line number.

:func:`load_placement`, :func:`load_circuit` and :func:`find_layouts` live in
:mod:`magical_prune.adapters.discovery` and are importable from here too.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np
import shapely

from magical_prune.adapters._text import (
    MAX_UM,
    nm_to_um_text,
    number,
    read_text,
    um_to_nm,
    write_lines,
)
from magical_prune.circuit import SUBCIRCUITS, DeviceType, Symmetry
from magical_prune.errors import MagicalPruneError, ParseError

if TYPE_CHECKING:  # pragma: no cover
    from magical_prune.adapters.discovery import find_layouts, load_circuit, load_placement

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

PathLike = str | os.PathLike[str]
Box = tuple[int, int, int, int]


def __getattr__(name: str) -> Any:
    # Loading needs these readers; importing it lazily keeps the two modules acyclic.
    if name in ("load_placement", "load_circuit", "find_layouts"):
        from magical_prune.adapters import discovery

        return getattr(discovery, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _lines(text: str) -> Iterable[tuple[int, list[str]]]:
    """(line number, whitespace-separated fields) of every non-blank line."""
    for lineno, line in enumerate(text.splitlines(), 1):
        fields = line.split()
        if fields:
            yield lineno, fields


# -- place.result ---------------------------------------------------------------------------
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
    try:
        um = np.array(values, dtype=np.float64).reshape(-1, 4)
        ok = bool(np.all(np.abs(um) <= MAX_UM))  # False for NaN too
    except ValueError:
        ok = False
    if ok:
        nm = np.rint(um * 1000.0).astype(np.int64)
        ok = bool(np.all(nm[:, 2:] > 0)) and len(set(names)) == len(names)
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
        _check_name(name)
        fields = (xlo, ylo, xhi - xlo, yhi - ylo)
        lines.append(" ".join([name, *(nm_to_um_text(v) for v in fields)]))
    write_lines(path, lines)


# -- place.pin ------------------------------------------------------------------------------
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
    try:
        um = np.array(numbers, dtype=np.float64).reshape(-1, 4)
        ok = bool(np.all(np.abs(um) <= MAX_UM))  # False for NaN too
    except ValueError:
        ok = False
    if ok:
        nm = np.rint(um * 1000.0).astype(np.int64)
        ok = bool(np.all(nm[:, 2] >= nm[:, 0]) and np.all(nm[:, 3] >= nm[:, 1]))
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
        _check_name(device)
        _check_name(pin)
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


# -- place.connection -----------------------------------------------------------------------
def _parse_connection_lines(
    text: str, path: PathLike
) -> tuple[dict[str, list[tuple[str, str]]], dict[str, int]]:
    nets: dict[str, list[tuple[str, str]]] = {}
    where: dict[str, int] = {}
    for lineno, fields in _lines(text):
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
    return _parse_connection_lines(text, path)[0]


def read_connection(path: PathLike) -> dict[str, list[tuple[str, str]]]:
    """Read a ``place.connection`` file (see :func:`parse_connection`)."""
    return parse_connection(read_text(path), path)


def write_connection(path: PathLike, nets: Mapping[str, Sequence[tuple[str, str]]]) -> None:
    """Write ``net -> [(device, pin), ...]`` as a ``place.connection`` file (nets with no
    pins cannot be written in this format and are left out)."""
    lines = []
    for net, pins in nets.items():
        _check_name(net)
        if not pins:
            continue
        for device, pin in pins:
            _check_name(device)
            _check_name(pin)
        lines.append(" ".join([net, *(f"{d} {p}" for d, p in pins)]))
    write_lines(path, lines)


# -- weight.txt / performance.txt -----------------------------------------------------------
def parse_weights(text: str, path: PathLike = "<string>") -> dict[str, float]:
    """``NetName Weight`` lines (MAGICAL ``.netwgt``) -> ``net -> weight``."""
    weights: dict[str, float] = {}
    for lineno, fields in _lines(text):
        if len(fields) != 2:
            raise ParseError(f"expected 'NetName Weight', got {len(fields)} fields", path, lineno)
        net, value = fields
        if net in weights:
            raise ParseError(f"net {net!r} has two weights", path, lineno)
        weights[net] = number(value, path, lineno, "weight")
    return weights


def read_weights(path: PathLike) -> dict[str, float]:
    """Read a ``weight.txt`` / ``.netwgt`` file."""
    return parse_weights(read_text(path), path)


def write_weights(path: PathLike, weights: Mapping[str, float]) -> None:
    """Write net weights; integral weights are printed as integers, as the placer expects."""
    lines = []
    for net, w in weights.items():
        _check_name(net)
        lines.append(f"{net} {_number_text(w)}")
    write_lines(path, lines)


def parse_performance(text: str, path: PathLike = "<string>") -> dict[str, float]:
    """``Name=value`` lines (``Offset_Voltage=-1.37e-03``) -> ``name -> value``."""
    results: dict[str, float] = {}
    for lineno, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        name, eq, value = line.partition("=")
        name = name.strip()
        if not eq or not name or len(name.split()) != 1:
            raise ParseError("expected 'Name=value'", path, lineno)
        if name in results:
            raise ParseError(f"{name!r} is given twice", path, lineno)
        results[name] = number(value.strip(), path, lineno, name)
    return results


def read_performance(path: PathLike) -> dict[str, float]:
    """Read a ``performance.txt`` file of post-layout results."""
    return parse_performance(read_text(path), path)


def write_performance(path: PathLike, results: Mapping[str, float]) -> None:
    """Write ``Name=value`` lines; values use Python's shortest exact float text."""
    lines = []
    for name, value in results.items():
        _check_name(name)
        if "=" in name:
            raise MagicalPruneError(f"performance name {name!r} contains '='")
        lines.append(f"{name}={_number_text(value)}")
    write_lines(path, lines)


# -- .sym / .symnet -------------------------------------------------------------------------
def _parse_groups(text: str, path: PathLike, what: str) -> list[list[tuple[str, ...]]]:
    """Blank-line separated groups of ``A B`` pairs and single self-symmetric names."""
    groups: list[list[tuple[str, ...]]] = [[]]
    seen: dict[str, int] = {}
    for lineno, line in enumerate(text.splitlines(), 1):
        fields = line.split()
        if not fields:
            if groups[-1]:
                groups.append([])
            continue
        if len(fields) > 2:
            raise ParseError(
                f"expected a {what} pair 'A B' or one self-symmetric {what}, "
                f"got {len(fields)} fields",
                path, lineno,
            )  # fmt: skip
        if len(fields) == 2 and fields[0] == fields[1]:
            raise ParseError(f"{what} {fields[0]!r} is paired with itself", path, lineno)
        for name in fields:
            if name in seen:
                raise ParseError(
                    f"{what} {name!r} appears twice (also line {seen[name]})", path, lineno
                )
            seen[name] = lineno
        groups[-1].append(tuple(fields))
    return [g for g in groups if g]


def parse_sym(text: str, path: PathLike = "<string>") -> Symmetry:
    """A ``.sym`` file -> :class:`Symmetry` with device ``pairs``, ``self_symmetric`` and
    ``groups`` (the file's blank-line separated groups)."""
    groups = _parse_groups(text, path, "device")
    members = [m for g in groups for m in g]
    return Symmetry(
        pairs=tuple((m[0], m[1]) for m in members if len(m) == 2),
        self_symmetric=tuple(m[0] for m in members if len(m) == 1),
        groups=tuple(tuple(g) for g in groups),
    )


def read_sym(path: PathLike) -> Symmetry:
    """Read a ``.sym`` file of symmetric device groups."""
    return parse_sym(read_text(path), path)


def parse_symnet(text: str, path: PathLike = "<string>") -> Symmetry:
    """A ``.symnet`` file -> :class:`Symmetry` with only ``net_pairs`` and
    ``self_symmetric_nets`` set (merge it into a device symmetry with ``dataclasses.replace``)."""
    members = [m for g in _parse_groups(text, path, "net") for m in g]
    return Symmetry(
        net_pairs=tuple((m[0], m[1]) for m in members if len(m) == 2),
        self_symmetric_nets=tuple(m[0] for m in members if len(m) == 1),
    )


def read_symnet(path: PathLike) -> Symmetry:
    """Read a ``.symnet`` file of symmetric nets."""
    return parse_symnet(read_text(path), path)


def write_sym(path: PathLike, symmetry: Symmetry | Sequence[Sequence[Sequence[str] | str]]) -> None:
    """Write device symmetry groups as a ``.sym`` file.

    Args:
        symmetry: a :class:`Symmetry` (its ``groups``, or one group of its pairs and
            self-symmetric devices) or a list of groups, each a list of pairs / names.
    """
    if isinstance(symmetry, Symmetry):
        groups: Sequence[Sequence[Sequence[str] | str]] = symmetry.groups or (
            [*symmetry.pairs, *((s,) for s in symmetry.self_symmetric)],
        )
    else:
        groups = symmetry
    write_lines(path, _group_lines(groups))


def write_symnet(path: PathLike, symmetry: Symmetry) -> None:
    """Write a :class:`Symmetry`'s net pairs and self-symmetric nets as a ``.symnet`` file."""
    members = [*symmetry.net_pairs, *((s,) for s in symmetry.self_symmetric_nets)]
    write_lines(path, _group_lines([members] if members else []))


def _group_lines(groups: Sequence[Sequence[Sequence[str] | str]]) -> list[str]:
    lines: list[str] = []
    for group in groups:
        if not group:
            continue
        if lines:
            lines.append("")
        for member in group:
            names = (member,) if isinstance(member, str) else tuple(member)
            if len(names) not in (1, 2):
                raise MagicalPruneError(f"a symmetry member is one name or a pair, got {names}")
            for name in names:
                _check_name(name)
            lines.append(" ".join(names))
    return lines


# -- <design>.json / <design>.channel -------------------------------------------------------
def _load_json_object(text: str, path: PathLike) -> dict[str, Any]:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as err:
        raise ParseError(f"not valid JSON: {err.msg}", path, err.lineno) from None
    except (ValueError, RecursionError) as err:
        raise ParseError(f"not valid JSON: {err}", path) from None
    if not isinstance(data, dict):
        raise ParseError(
            f"expected a JSON object (device -> ...), got {type(data).__name__}", path, 1
        )
    return data


def _line_of(text: str, key: str) -> int | None:
    """Line where ``"key"`` first appears in a JSON text (for messages)."""
    pos = text.find(json.dumps(key))
    return None if pos < 0 else text.count("\n", 0, pos) + 1


def parse_types(text: str, path: PathLike = "<string>") -> dict[str, DeviceType]:
    """``{"M0": "NMOS", "C0": "CAP", ...}`` -> ``device -> DeviceType``."""
    types: dict[str, DeviceType] = {}
    for device, value in _load_json_object(text, path).items():
        if not isinstance(value, str):
            raise ParseError(
                f'type of {device!r} must be a string such as "NMOS"', path, _line_of(text, device)
            )
        try:
            types[device] = DeviceType.parse(value)
        except MagicalPruneError as err:
            raise ParseError(
                f"device {device!r}: {err.message}", path, _line_of(text, device)
            ) from None
    return types


def read_types(path: PathLike) -> dict[str, DeviceType]:
    """Read a ``<design>.json`` device-type file."""
    return parse_types(read_text(path), path)


def write_types(path: PathLike, types: Mapping[str, DeviceType | str]) -> None:
    """Write ``device -> type`` as one JSON object (keys in the given order)."""
    data = {
        d: DeviceType.parse(t.value if isinstance(t, DeviceType) else t).value
        for d, t in types.items()
    }
    write_lines(path, [json.dumps(data)])


def parse_channels(text: str, path: PathLike = "<string>") -> dict[str, tuple[int, ...]]:
    """``{"M0": [1], "C0": [3], "M4": [2, 5]}`` -> ``device -> channel ids`` (1..5, see
    :data:`~magical_prune.circuit.SUBCIRCUITS`). A bare integer is read as a one-item list."""
    channels: dict[str, tuple[int, ...]] = {}
    for device, value in _load_json_object(text, path).items():
        items = [value] if isinstance(value, int) and not isinstance(value, bool) else value
        if (
            not isinstance(items, list)
            or not all(isinstance(c, int) and not isinstance(c, bool) for c in items)
            or not all(c in SUBCIRCUITS for c in items)
        ):
            raise ParseError(
                f"channels of {device!r} must be a list of ids 1..5, got {json.dumps(value)[:40]}",
                path, _line_of(text, device),
            )  # fmt: skip
        channels[device] = tuple(dict.fromkeys(items))
    return channels


def read_channels(path: PathLike) -> dict[str, tuple[int, ...]]:
    """Read a ``<design>.channel`` file of sub-circuit ids per device."""
    return parse_channels(read_text(path), path)


def write_channels(path: PathLike, channels: Mapping[str, Sequence[int]]) -> None:
    """Write ``device -> channel ids`` as one JSON object."""
    data = {}
    for device, ids in channels.items():
        ids = [int(c) for c in ([ids] if isinstance(ids, int) else ids)]
        bad = [c for c in ids if c not in SUBCIRCUITS]
        if bad:
            raise MagicalPruneError(f"channel id {bad[0]} of {device!r} is not in 1..5")
        data[device] = ids
    write_lines(path, [json.dumps(data)])


# -- helpers --------------------------------------------------------------------------------
def _check_name(name: str) -> None:
    """Names are whitespace-separated tokens in these files: refuse ones that would not
    read back as written."""
    if not isinstance(name, str) or not name or len(name.split()) != 1 or name != name.strip():
        raise MagicalPruneError(f"name {name!r} cannot be written (empty or contains whitespace)")
    if "(" in name or ")" in name:
        raise MagicalPruneError(f"name {name!r} cannot be written (contains parentheses)")


def _number_text(value: float) -> str:
    v = float(value)
    if not math.isfinite(v):
        raise MagicalPruneError(f"cannot write non-finite value {value!r}")
    return str(int(v)) if v.is_integer() and abs(v) < 1e15 else repr(v)
