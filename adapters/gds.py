"""MAGICAL's debug floorplan (``<circuit>.floorplan.gds``): device outlines and names.

In debug mode MAGICAL's placer driver draws one rectangle per device outline (layer 0) and
the device's name at the outline's centre (layer 100), in a library whose database unit is
1 nm. Reading it back gives the placement MAGICAL drew, to inspect it or to check a
recorded placement against it. Names are read from text labels; a file whose names are
drawn as polygons (glyphs) has none, and its rectangles can only be named from outside
(``names=``: the cells in the driver's order, which is the order it drew them in).

Needs ``gdstk`` (``pip install magical-prune[gds]``).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import NamedTuple

import numpy as np

from magical_prune.errors import MagicalPruneError, ParseError

__all__ = ["Floorplan", "OUTLINE_LAYER", "NAME_LAYER", "read_floorplan"]

OUTLINE_LAYER = 0
NAME_LAYER = 100


class Floorplan(NamedTuple):
    """Device names and their ``(N, 4)`` int64 outlines ``xlo ylo xhi yhi`` (nm)."""

    names: tuple[str, ...]
    rects: np.ndarray


def _library(path: Path):  # noqa: ANN202 - gdstk's type
    try:
        import gdstk
    except ImportError:
        raise MagicalPruneError(
            "reading GDS needs gdstk: pip install 'magical-prune[gds]'", path
        ) from None
    if not path.is_file():
        raise MagicalPruneError("no such GDS file", path)
    try:
        return gdstk.read_gds(str(path))
    except (RuntimeError, OSError, ValueError) as err:
        raise ParseError(f"not a readable GDS file ({err})", path) from None


def read_floorplan(
    path: str | os.PathLike[str],
    names: list[str] | tuple[str, ...] | None = None,
    outline_layer: int = OUTLINE_LAYER,
    name_layer: int = NAME_LAYER,
) -> Floorplan:
    """Read a floorplan GDS into device names and outlines (nm).

    Every polygon on ``outline_layer`` of the top cell(s) is one device (its bounding
    box); every text label on ``name_layer`` names the outline it lies in (the one whose
    centre is nearest when outlines overlap).

    Args:
        path: the ``.floorplan.gds`` file.
        names: names of the outlines in drawing order, for files without labels.

    Raises:
        MagicalPruneError: no outline; no labels and no ``names``; a label outside every
            outline; an outline with no label or two; counts that differ from ``names``.
    """
    path = Path(path)
    lib = _library(path)
    scale = lib.unit / 1e-9  # user units -> nm
    cells = lib.top_level() or lib.cells
    boxes: list[list[float]] = []
    labels: list[tuple[str, float, float]] = []
    for cell in cells:
        for polygon in cell.polygons:
            if polygon.layer == outline_layer:
                (xlo, ylo), (xhi, yhi) = polygon.bounding_box()
                boxes.append([xlo, ylo, xhi, yhi])
        for label in cell.labels:
            if label.layer == name_layer:
                labels.append((label.text, label.origin[0], label.origin[1]))
    if not boxes:
        raise MagicalPruneError(f"no device outline on layer {outline_layer}", path)
    rects = np.rint(np.asarray(boxes, dtype=np.float64) * scale).astype(np.int64)
    if not labels:
        if names is None:
            raise MagicalPruneError(
                f"no name labels on layer {name_layer} (names drawn as polygons cannot be "
                "read); give names= in the order the driver drew the devices",
                path,
            )
        if len(names) != len(rects):
            raise MagicalPruneError(
                f"{len(rects)} outlines but {len(names)} names were given", path
            )
        return Floorplan(tuple(names), rects)
    return Floorplan(*_named(rects, labels, scale, path))


def _named(
    rects: np.ndarray, labels: list[tuple[str, float, float]], scale: float, path: Path
) -> tuple[tuple[str, ...], np.ndarray]:
    centres = (rects[:, :2] + rects[:, 2:]) / 2.0
    owner: dict[int, str] = {}
    for text, x, y in labels:
        px, py = x * scale, y * scale
        inside = np.nonzero(
            (rects[:, 0] <= px) & (px <= rects[:, 2]) & (rects[:, 1] <= py) & (py <= rects[:, 3])
        )[0]
        if len(inside) == 0:
            raise MagicalPruneError(
                f"label {text!r} at ({px:.0f}, {py:.0f}) nm lies in no device outline", path
            )
        best = int(inside[np.argmin(np.abs(centres[inside] - (px, py)).sum(axis=1))])
        if best in owner:
            raise MagicalPruneError(
                f"labels {owner[best]!r} and {text!r} name the same outline", path
            )
        owner[best] = text
    unnamed = [i for i in range(len(rects)) if i not in owner]
    if unnamed:
        r = rects[unnamed[0]].tolist()
        raise MagicalPruneError(f"the outline {r} (nm) has no name label", path)
    order = sorted(owner)
    found = tuple(owner[i] for i in order)
    if len(set(found)) != len(found):
        dup = next(n for n in found if found.count(n) > 1)
        raise MagicalPruneError(f"device {dup!r} is drawn twice", path)
    return found, rects[order]
