"""Boxes and polygons -> per-pixel coverage on a fixed grid, for the feature images.

Axis-aligned rectangles have *separable* coverage: the fraction of pixel ``(r, c)`` a box
covers is (fraction of row ``r`` its y-extent covers) x (fraction of column ``c`` its
x-extent covers). A rasterizer therefore only computes 1D *profiles* -- ``(N, dim)`` arrays
over the pixel columns (or rows) -- and the 2D coverage of N boxes is their outer product,
which numpy evaluates for all boxes at once. General (non-rectangular) shapes go through
shapely: :func:`rasterize_polygons` intersects each polygon with the pixels under its bounds.

All coordinates here are in *pixel units*: the image spans ``[0, dim]`` on each axis and
pixel ``k`` is ``[k, k + 1)``. :func:`to_pixels` converts nanometres to pixel units.

Two rasterizers are registered in :data:`RASTERIZERS`:

``exact``
    Each pixel gets the exact fraction of its area the box covers. Boxes that are to stand
    for wires (net bounding boxes, ``thin_min=1``) are widened to at least one pixel on each
    axis, centred on the box and kept inside the image: a net whose pins are aligned (a box of
    zero width or height) still needs a routing track, and a pixel-relative minimum keeps the
    features invariant to scaling the layout and continuous as a box shrinks to a line.
``paper``
    Whole pixels, as the public UT-AnLay feature code rasterized: on each axis the box fills
    pixels ``floor(lo)`` to ``ceil(hi) - 1`` (every pixel it overlaps with positive length),
    and at least pixel ``floor(lo)`` (a zero-width box on the image's upper edge fills the
    last pixel). Polygons fill every pixel they overlap with positive area.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import shapely

from magical_prune.errors import MagicalPruneError
from magical_prune.registry import Registry


def to_pixels(boxes: np.ndarray, bounds: Sequence[int], size: int) -> np.ndarray:
    """Integer nm boxes ``(N, 4)`` -> float pixel units on a ``size`` x ``size`` grid.

    Computed as ``(x - origin) * size / span`` with the product formed first: integer inputs
    below 2**53 make the product exact, so translating the layout or scaling it by an
    integer factor gives bit-identical pixel coordinates (and features).
    """
    xlo, ylo, xhi, yhi = (int(v) for v in bounds)
    if not (xhi > xlo and yhi > ylo):
        raise MagicalPruneError(f"image bounds must have positive extents, got {tuple(bounds)}")
    origin = np.array([xlo, ylo, xlo, ylo], dtype=np.int64)
    span = np.array([xhi - xlo, yhi - ylo, xhi - xlo, yhi - ylo], dtype=np.float64)
    return (
        (np.asarray(boxes, dtype=np.int64).reshape(-1, 4) - origin).astype(np.float64) * size / span
    )


def exact_profile(lo: np.ndarray, hi: np.ndarray, dim: int) -> np.ndarray:
    """``(N, dim)`` fraction of each pixel's extent that ``[lo, hi]`` covers (pixel units)."""
    k = np.arange(dim, dtype=np.float64)
    out = np.minimum(hi[:, None], k + 1.0)
    out -= np.maximum(lo[:, None], k)
    return np.maximum(out, 0.0, out=out)  # <= 1 by construction


def widen(lo: np.ndarray, hi: np.ndarray, dim: int, minimum: float) -> tuple[np.ndarray, ...]:
    """Widen extents shorter than ``minimum`` pixels to ``minimum``, centred, kept in the image.

    Extents whose centre lies outside ``[0, dim]`` are left alone (they do not show).
    """
    thin = (hi - lo) < minimum
    if not thin.any():
        return lo, hi
    centre = (lo + hi) / 2.0
    inside = thin & (centre >= 0.0) & (centre <= dim)
    new_lo = np.clip(centre - minimum / 2.0, 0.0, max(dim - minimum, 0.0))
    return np.where(inside, new_lo, lo), np.where(inside, new_lo + minimum, hi)


def whole_pixel_profile(lo: np.ndarray, hi: np.ndarray, dim: int) -> np.ndarray:
    """``(N, dim)`` 1.0 on pixels ``floor(lo) .. max(ceil(hi), floor(lo) + 1) - 1``, else 0."""
    first = np.floor(lo)
    first = np.where(lo == dim, dim - 1.0, first)  # a line on the upper edge: last pixel
    stop = np.maximum(np.ceil(hi), first + 1.0)
    k = np.arange(dim, dtype=np.float64)
    return ((k >= first[:, None]) & (k < stop[:, None])).astype(np.float64)


#: Area fractions below this count as "touching only along an edge" for whole pixels.
AREA_EPS = 1e-9


@dataclass(frozen=True)
class Rasterizer:
    """How boxes and polygons become pixel values (see the module docstring).

    Attributes:
        name: registry name.
        line_min: minimum extent (pixels) of boxes drawn with ``thin=True`` (net boxes);
            0 disables widening.
        whole_pixels: fill whole pixels (paper) instead of exact fractions.
    """

    name: str
    line_min: float
    whole_pixels: bool

    def profiles(self, lo: np.ndarray, hi: np.ndarray, dim: int, thin: bool = False) -> np.ndarray:
        """1D coverage profiles ``(N, dim)`` of extents ``[lo, hi]`` in pixel units."""
        lo = np.asarray(lo, dtype=np.float64)
        hi = np.asarray(hi, dtype=np.float64)
        if self.whole_pixels:
            return whole_pixel_profile(lo, hi, dim)
        if thin and self.line_min > 0:
            lo, hi = widen(lo, hi, dim, self.line_min)
        return exact_profile(lo, hi, dim)

    def from_area(self, fraction: np.ndarray) -> np.ndarray:
        """Turn exact area fractions (of polygons) into this rasterizer's pixel values."""
        if self.whole_pixels:  # ignore slivers from floating-point pixel edges
            return (fraction > AREA_EPS).astype(np.float64)
        return fraction


#: Rasterizers by name: ``exact`` (default) and ``paper``.
RASTERIZERS: Registry[Rasterizer] = Registry("rasterizer")
RASTERIZERS.add("exact", Rasterizer("exact", line_min=1.0, whole_pixels=False))
RASTERIZERS.add("paper", Rasterizer("paper", line_min=0.0, whole_pixels=True))


def box_profiles(
    boxes: np.ndarray,
    bounds: Sequence[float],
    size: int,
    rasterizer: str | Rasterizer = "exact",
    thin: bool = False,
) -> tuple[np.ndarray, np.ndarray]:
    """Row and column profiles ``(N, size)``, ``(N, size)`` of ``(N, 4)`` boxes.

    The coverage of box ``n`` is ``rows[n][:, None] * cols[n][None, :]``; the sum over boxes
    is ``rows.T @ cols``.

    Args:
        boxes: integer nm boxes ``xlo ylo xhi yhi``.
        bounds: ``xlo ylo xhi yhi`` of the image (integer nm, positive extents).
        size: pixels per side.
        rasterizer: name or :class:`Rasterizer`.
        thin: boxes stand for wires (apply the rasterizer's minimum line width).
    """
    r = RASTERIZERS.get(rasterizer) if isinstance(rasterizer, str) else rasterizer
    px = to_pixels(boxes, bounds, size)
    n = len(px)
    # x and y extents in one call: the grid is square
    both = r.profiles(np.concatenate([px[:, 1], px[:, 0]]), np.concatenate([px[:, 3], px[:, 2]]),
                      size, thin)  # fmt: skip
    return both[:n], both[n:]


def box_coverage(
    boxes: np.ndarray,
    bounds: Sequence[float],
    size: int,
    rasterizer: str | Rasterizer = "exact",
    thin: bool = False,
) -> np.ndarray:
    """``(N, size, size)`` coverage of ``(N, 4)`` boxes on the image grid (outer products of
    :func:`box_profiles`); row 0 is the lowest y, column 0 the lowest x."""
    rows, cols = box_profiles(boxes, bounds, size, rasterizer, thin)
    return rows[:, :, None] * cols[:, None, :]


def rasterize_polygons(
    geoms: Sequence[shapely.Geometry] | np.ndarray, bounds: Sequence[float], size: int
) -> np.ndarray:
    """``(N, size, size)`` exact fraction of each pixel's area each polygon covers.

    Each polygon is intersected (by shapely) only with the pixels under its own bounds, so
    the cost grows with the polygon's footprint, not the image. Row 0 is the lowest y,
    column 0 the lowest x; parts outside ``bounds`` are cut off.

    Args:
        geoms: shapely polygons (or multipolygons) in the same units as ``bounds``.
        bounds: ``xlo ylo xhi yhi`` the image spans.
        size: pixels per side.
    """
    xlo, ylo, xhi, yhi = (float(v) for v in bounds)
    if not (xhi > xlo and yhi > ylo):
        raise MagicalPruneError(f"image bounds must have positive extents, got {tuple(bounds)}")
    pw, ph = (xhi - xlo) / size, (yhi - ylo) / size
    geoms = list(geoms)
    out = np.zeros((len(geoms), size, size), dtype=np.float64)
    edges_x = xlo + pw * np.arange(size + 1)
    edges_y = ylo + ph * np.arange(size + 1)
    for n, geom in enumerate(geoms):
        if geom is None or geom.is_empty:
            continue
        gx0, gy0, gx1, gy1 = geom.bounds
        c0 = min(max(math.floor((gx0 - xlo) / pw), 0), size)
        c1 = min(max(math.ceil((gx1 - xlo) / pw), 0), size)
        r0 = min(max(math.floor((gy0 - ylo) / ph), 0), size)
        r1 = min(max(math.ceil((gy1 - ylo) / ph), 0), size)
        if c1 <= c0 or r1 <= r0:
            continue
        cols, rows = np.meshgrid(np.arange(c0, c1), np.arange(r0, r1))
        cells = shapely.box(
            edges_x[cols], edges_y[rows], edges_x[cols + 1], edges_y[rows + 1]
        )  # one shapely box per pixel under the polygon's bounds (vectorised in GEOS)
        area = shapely.area(shapely.intersection(geom, cells))
        out[n, r0:r1, c0:c1] = area / (pw * ph)
    return np.clip(out, 0.0, 1.0)


def is_rectangle(geom: shapely.Geometry) -> bool:
    """True when ``geom`` is (numerically) its own axis-aligned bounding box."""
    envelope = shapely.envelope(geom)
    area = shapely.area(envelope)
    return area > 0 and math.isclose(shapely.area(geom), area, rel_tol=1e-12, abs_tol=0.0)
