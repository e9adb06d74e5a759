"""Where on the placement an explanation's hotspot lies, and which devices it concerns.

The hotspot is a pixel of one feature image. A sub-circuit image holds only that
sub-circuit's devices, so the devices to name are *that sub-circuit's* devices under the
pixel -- not whatever else happens to lie there (a compensation capacitor under a
first-stage hotspot is not what the first-stage image shows). The routing image holds the
nets' demand over all devices, so there every device under the pixel counts.

A class activation map is coarse: each value of the network's last feature maps sums what
the network sees in a neighbourhood, and the map is upsampled to the image, so the peak
can sit on empty space between devices -- the spacing itself may be the evidence. Then
the sub-circuit's devices in the *hot area* (the connected pixels holding at least half
the peak's evidence) and the nearest one are named, with that reason.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from magical_prune.placement import NM_PER_UM, Placement
from magical_prune.subcircuits import subcircuits_of

__all__ = ["HOT_SHARE", "hot_area", "locate"]

#: share of the peak evidence a pixel needs to belong to the hot area
HOT_SHARE = 0.5


def hot_area(plane: np.ndarray, row: int, col: int, share: float = HOT_SHARE) -> np.ndarray:
    """Pixels connected (4-neighbourhood) to ``(row, col)`` with evidence >= ``share`` x
    its evidence; just that pixel when the evidence there is not positive."""
    peak = float(plane[row, col])
    hot = plane >= share * peak if peak > 0 else np.zeros(plane.shape, dtype=bool)
    hot[row, col] = True
    area = np.zeros(plane.shape, dtype=bool)
    area[row, col] = True
    while True:
        grown = area.copy()
        grown[1:] |= area[:-1]
        grown[:-1] |= area[1:]
        grown[:, 1:] |= area[:, :-1]
        grown[:, :-1] |= area[:, 1:]
        grown &= hot
        if np.array_equal(grown, area):
            return area
        area = grown


def _members(placement: Placement, image: int) -> np.ndarray:
    """Rows of the devices the feature image ``image`` shows (0 = routing: all)."""
    if image == 0:
        return np.arange(len(placement.names))
    table = subcircuits_of(placement.circuit)
    return np.array([i for i, n in enumerate(placement.names) if image in table.get(n, ())], int)


def _pixel_windows(rects: np.ndarray, bbox: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """``(n, 4)`` pixel index ranges ``row0, row1, col0, col1`` (end exclusive) each
    rectangle touches with positive area."""
    h, w = shape
    xlo, ylo, xhi, yhi = bbox.astype(np.float64)
    px, py = (xhi - xlo) / w, (yhi - ylo) / h
    eps = 1e-9  # an edge on a pixel border touches the next pixel with zero area only
    c0 = np.floor((rects[:, 0] - xlo) / px + eps)
    c1 = np.ceil((rects[:, 2] - xlo) / px - eps)
    r0 = np.floor((rects[:, 1] - ylo) / py + eps)
    r1 = np.ceil((rects[:, 3] - ylo) / py - eps)
    out = np.stack([r0, r1, c0, c1], axis=1)
    return np.clip(out, 0, [h, h, w, w]).astype(np.int64)


def _distance_nm(rects: np.ndarray, x: float, y: float) -> np.ndarray:
    """Distance from ``(x, y)`` to each rectangle (0 inside)."""
    dx = np.maximum(np.maximum(rects[:, 0] - x, x - rects[:, 2]), 0.0)
    dy = np.maximum(np.maximum(rects[:, 1] - y, y - rects[:, 3]), 0.0)
    return np.hypot(dx, dy)


def locate(
    plane: np.ndarray, image: int, row: int, col: int, placement: Placement, name: str
) -> dict[str, Any]:
    """The hotspot ``(row, col)`` of feature image ``image`` (called ``name``) on the
    placement: its centre in µm and the image's devices under it (``devices``). When
    there are none: the image's devices in the hot area (``nearby``), the ``nearest``
    one, the one whose pixels hold the ``strongest`` evidence, and a ``note`` saying why
    the evidence sits where no such device is. ``others`` lists devices of other
    sub-circuits under the pixel (not what this image shows)."""
    bbox = placement.bbox
    windows = _pixel_windows(placement.rects, bbox, plane.shape)
    under = (
        (windows[:, 0] <= row) & (row < windows[:, 1])
        & (windows[:, 2] <= col) & (col < windows[:, 3])
    )  # fmt: skip
    members = _members(placement, image)
    is_member = np.zeros(len(placement.names), dtype=bool)
    is_member[members] = True
    h, w = plane.shape
    xlo, ylo, xhi, yhi = bbox.astype(np.float64)
    x = xlo + (col + 0.5) * (xhi - xlo) / w
    y = ylo + (row + 0.5) * (yhi - ylo) / h
    names = placement.names
    spot: dict[str, Any] = {
        "x_um": round(x / NM_PER_UM, 4),
        "y_um": round(y / NM_PER_UM, 4),
        "devices": [names[i] for i in np.nonzero(under & is_member)[0]],
        "others": [names[i] for i in np.nonzero(under & ~is_member)[0]],
    }
    if spot["devices"]:
        return spot
    if len(members) == 0:
        spot["note"] = (
            f"the placement has no {name} device: the evidence is the network's response "
            f"to an empty {name} image"
        )
        return spot
    area = hot_area(plane, row, col)
    nearby, strongest = [], []
    for i in members:
        r0, r1, c0, c1 = windows[i]
        if r1 > r0 and c1 > c0:
            strongest.append((float(plane[r0:r1, c0:c1].max()), names[i]))
        if area[r0:r1, c0:c1].any():
            nearby.append((float(np.where(area, plane, 0.0)[r0:r1, c0:c1].sum()), names[i]))
    spot["nearby"] = [n for _, n in sorted(nearby, key=lambda t: -t[0])]
    if strongest:
        spot["strongest"] = max(strongest)[1]
    dist = _distance_nm(placement.rects[members].astype(np.float64), x, y)
    k = int(np.argmin(dist))
    spot["nearest"] = {"device": names[members[k]], "distance_um": round(dist[k] / NM_PER_UM, 4)}
    spot["note"] = (
        "the map can peak on empty space, as each of its points sees a wide neighbourhood: "
        f"where the {name} devices lie around it (or do not) is the evidence"
    )
    return spot
