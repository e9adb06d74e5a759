"""A placement as the paper's feature tensor: six images, each with two coordinate channels.

The images (Sec. III-B of the paper), in the order of :data:`IMAGE_NAMES`:

0. ``routing``: routing demand -- for every routed net (bulk pins excluded), the fraction of
   each pixel its pin bounding box covers, summed over nets.
1.-5. ``first_stage`` .. ``bias``: the devices of that sub-circuit (``subcircuits_of(circuit)``;
   a device in several sub-circuits appears in each), each pixel holding the type intensity
   (NMOS .25, PMOS .5, CAP .75, RES 1.0) of the device covering the largest fraction of the
   pixel, times that fraction. Equal fractions go to the larger intensity, so the result does
   not depend on device order.

Each image then gets two coordinate channels (Algorithm 1): where the image is non-zero,
``coord_x = (column + 1) / W`` and ``coord_y = (row + 1) / H`` (so values lie in (0, 1] and
column 0 is not confused with "empty"); zero elsewhere.

Conventions: the image spans the bounding box of all devices, each axis scaled on its own
(a wide layout is squeezed horizontally); row 0 is the lowest y, column 0 the lowest x (plots
flip so that north is up). How boxes become pixels is the rasterizer's business
(:mod:`magical_prune.rasterize`): ``exact`` area fractions (default) or the paper's
``paper`` whole-pixel fill.
"""

from __future__ import annotations

import io
import os
import zipfile
import zlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, fields

import numpy as np
import shapely
from tqdm import tqdm

from magical_prune._files import check_regular
from magical_prune.circuit import SUBCIRCUITS
from magical_prune.errors import MagicalPruneError
from magical_prune.placement import Placement
from magical_prune.rasterize import (  # RASTERIZERS, rasterize_polygons: re-exported
    RASTERIZERS,
    Rasterizer,
    box_profiles,
    is_rectangle,
    rasterize_polygons,
)
from magical_prune.subcircuits import subcircuits_of

__all__ = [
    "IMAGE_NAMES", "CHANNEL_NAMES", "RASTERIZERS", "FeatureConfig", "FeatureStack",
    "rasterize", "add_coordinate_channels", "extract", "extract_many", "rasterize_polygons",
]  # fmt: skip

#: The six feature images, in tensor order (routing demand, then sub-circuits 1..5).
IMAGE_NAMES: tuple[str, ...] = (
    "routing", "first_stage", "other_stages", "feedback", "cmfb", "bias",
)  # fmt: skip
#: The three channels of every image.
CHANNEL_NAMES: tuple[str, ...] = ("intensity", "coord_x", "coord_y")
#: Largest image side accepted anywhere (features, data sets, model files): one layout's
#: 18 float32 channels at 1024x1024 are 75 MB already, so a larger size read from a file
#: is damage, and allocating for it would exhaust memory instead of failing clearly.
MAX_IMAGE_SIZE = 1024


@dataclass(frozen=True)
class FeatureConfig:
    """How feature images are made; data sets and checkpoints store it (``asdict``), so a
    model is only ever fed images made the way it was trained on.

    Attributes:
        size: pixels per image side (the paper uses 64).
        rasterizer: ``exact`` (area fractions; default) or ``paper`` (whole pixels, as the
            public UT-AnLay features); see :mod:`magical_prune.rasterize`.
    """

    size: int = 64
    rasterizer: str = "exact"

    def __post_init__(self) -> None:
        if isinstance(self.size, bool) or not isinstance(self.size, (int, np.integer)):
            raise MagicalPruneError(f"image size must be an integer, got {self.size!r}")
        if self.size < 1:
            raise MagicalPruneError(f"image size must be at least 1 pixel, got {self.size}")
        if self.size > MAX_IMAGE_SIZE:
            raise MagicalPruneError(
                f"image size must be at most {MAX_IMAGE_SIZE} pixels (the paper uses 64), "
                f"got {self.size}"
            )
        object.__setattr__(self, "size", int(self.size))
        RASTERIZERS.get(self.rasterizer)  # unknown name -> UnknownNameError with suggestions

    def to_dict(self) -> dict[str, object]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, object]) -> FeatureConfig:
        """Rebuild a stored config; missing fields take their defaults, unknown ones fail."""
        known = {f.name for f in fields(cls)}
        extra = sorted(set(data) - known)
        if extra:
            raise MagicalPruneError(f"unknown feature setting(s): {', '.join(extra)}")
        values = {
            k: v.decode() if isinstance(v, bytes) else v.item() if isinstance(v, np.generic) else v
            for k, v in data.items()
        }  # HDF5 attributes come back as bytes / numpy scalars
        return cls(**values)  # type: ignore[arg-type]


def _config(size: int, rasterizer: str) -> tuple[int, Rasterizer]:
    cfg = FeatureConfig(size, rasterizer)
    return cfg.size, RASTERIZERS.get(cfg.rasterizer)


def _members(
    placement: Placement, channels: Mapping[str, Sequence[int]] | None
) -> tuple[np.ndarray, np.ndarray]:
    """Sub-circuit memberships as parallel arrays ``(device row, image index 1..5)``."""
    table = subcircuits_of(placement.circuit) if channels is None else channels
    rows: list[int] = []
    images: list[int] = []
    for i, name in enumerate(placement.names):
        for c in table.get(name, ()):
            if c not in SUBCIRCUITS:
                raise MagicalPruneError(
                    f"device {name!r} is in sub-circuit {c!r}; known ids are 1..5"
                )
            rows.append(i)
            images.append(c)
    return np.asarray(rows, dtype=np.int64), np.asarray(images, dtype=np.int64)


def _window_cells(rows: np.ndarray, cols: np.ndarray) -> tuple[np.ndarray, ...]:
    """Every pixel under each box's footprint, as flat ``(box, pixel, coverage)`` arrays.

    ``rows`` ``(n, H)`` and ``cols`` ``(n, W)`` are the boxes' 1D profiles; a box's non-zero
    pixels form the window of its non-zero rows x columns (profiles are contiguous). Only
    these cells are generated -- about the image area in total for a legal placement --
    instead of ``n`` full images.
    """
    n, h = rows.shape
    w = cols.shape[1]
    on_r, on_c = rows > 0, cols > 0
    r0 = on_r.argmax(axis=1)
    c0 = on_c.argmax(axis=1)
    nr = np.where(on_r.any(axis=1), h - on_r[:, ::-1].argmax(axis=1) - r0, 0)
    nc = np.where(on_c.any(axis=1), w - on_c[:, ::-1].argmax(axis=1) - c0, 0)
    counts = nr * nc
    box = np.repeat(np.arange(n), counts)
    offset = np.arange(int(counts.sum())) - np.repeat(np.cumsum(counts) - counts, counts)
    width = nc[box]
    dr = offset // width
    r = r0[box] + dr
    c = c0[box] + offset - dr * width
    return box, r * w + c, rows[box, r] * cols[box, c]


def _device_cells(
    placement: Placement,
    devices: np.ndarray,
    size: int,
    r: Rasterizer,
    shapes: Mapping[str, shapely.Geometry] | None,
) -> tuple[np.ndarray, ...]:
    """``(k, pixel, coverage)`` cells of the device rows ``devices[k]`` (which may repeat).

    Rectangles go through the separable profiles; devices with a non-rectangular entry in
    ``shapes`` through shapely's exact polygon coverage.
    """
    bounds = placement.bbox
    polygons: dict[int, shapely.Geometry] = {}
    for i in set(devices.tolist()) if shapes else ():
        geom = shapes.get(placement.names[i])  # type: ignore[union-attr]
        if geom is None or is_rectangle(geom):
            continue
        if shapely.area(geom) <= 0:
            raise MagicalPruneError(f"device {placement.names[i]!r} has a shape of zero area")
        polygons[i] = geom
    if not polygons:
        py, px = box_profiles(placement.rects[devices], bounds, size, r)
        return _window_cells(py, px)
    is_poly = np.isin(devices, list(polygons))
    rect_k = np.nonzero(~is_poly)[0]
    py, px = box_profiles(placement.rects[devices[rect_k]], bounds, size, r)
    k, pix, cov = _window_cells(py, px)
    poly_k = np.nonzero(is_poly)[0]
    dense = r.from_area(
        rasterize_polygons([polygons[i] for i in devices[poly_k].tolist()], bounds, size)
    ).reshape(len(poly_k), -1)
    pk, ppix = np.nonzero(dense)
    return (
        np.concatenate([rect_k[k], poly_k[pk]]),
        np.concatenate([pix, ppix]),
        np.concatenate([cov, dense[pk, ppix]]),
    )


def rasterize(
    placement: Placement,
    size: int = 64,
    rasterizer: str = "exact",
    *,
    channels: Mapping[str, Sequence[int]] | None = None,
    shapes: Mapping[str, shapely.Geometry] | None = None,
) -> np.ndarray:
    """The six intensity images of a placement, float32 ``(6, size, size)``.

    Args:
        placement: the placed circuit.
        size: pixels per side.
        rasterizer: ``exact`` or ``paper`` (see :mod:`magical_prune.rasterize`).
        channels: sub-circuit ids per device; default ``subcircuits_of(placement.circuit)``.
        shapes: placed device outlines (nm) for devices that are not rectangles (L shapes,
            unions of fingers); rectangles among them take the fast separable path.
    """
    size, r = _config(size, rasterizer)
    area = size * size
    out = np.zeros(len(IMAGE_NAMES) * area, dtype=np.float64)
    bounds = placement.bbox

    nets = placement.net_boxes()
    if len(nets):
        py, px = box_profiles(nets, bounds, size, r, thin=True)
        out[:area] = (py.T @ px).ravel()

    devices, images = _members(placement, channels)
    if len(devices):
        intensity = np.array([t.intensity for t in placement.device_types()])
        k, pix, cov = _device_cells(placement, devices, size, r, shapes)
        key = images[k] * area + pix  # one flat index over all five sub-circuit images
        # per pixel, the device covering the larger fraction wins; among equal fractions the
        # larger intensity (the larger value), so device order never matters
        best = np.zeros_like(out)
        np.maximum.at(best, key, cov)
        win = cov == best[key]
        np.maximum.at(out, key[win], intensity[devices[k[win]]] * cov[win])
    return out.reshape(len(IMAGE_NAMES), size, size).astype(np.float32)


def add_coordinate_channels(images: np.ndarray) -> np.ndarray:
    """Algorithm 1 over any batch: ``(..., C, H, W)`` -> float32 ``(..., C, 3, H, W)``.

    Channel 0 is the image itself; channel 1 is ``(column + 1) / W`` and channel 2
    ``(row + 1) / H`` where the image is non-zero, 0 elsewhere.
    """
    images = np.asarray(images, dtype=np.float32)
    if images.ndim < 3:
        raise MagicalPruneError(f"images must be (..., C, H, W), got shape {images.shape}")
    h, w = images.shape[-2:]
    on = images != 0
    out = np.empty((*images.shape[:-2], 3, h, w), dtype=np.float32)
    out[..., 0, :, :] = images
    np.multiply(on, np.arange(1, w + 1, dtype=np.float32) / np.float32(w), out=out[..., 1, :, :])
    np.multiply(on, np.arange(1, h + 1, dtype=np.float32)[:, None] / np.float32(h),
                out=out[..., 2, :, :])  # fmt: skip
    return out


def extract(
    placement: Placement,
    size: int = 64,
    rasterizer: str = "exact",
    *,
    channels: Mapping[str, Sequence[int]] | None = None,
    shapes: Mapping[str, shapely.Geometry] | None = None,
) -> np.ndarray:
    """The feature tensor of a placement: float32 ``(6, 3, size, size)``.

    Axis 0 follows :data:`IMAGE_NAMES`, axis 1 :data:`CHANNEL_NAMES`. Arguments as for
    :func:`rasterize`.
    """
    images = rasterize(placement, size, rasterizer, channels=channels, shapes=shapes)
    return add_coordinate_channels(images)


def extract_many(
    placements: Iterable[Placement],
    size: int = 64,
    rasterizer: str = "exact",
    *,
    progress: bool = False,
) -> np.ndarray:
    """Feature tensors of many placements, float32 ``(N, 6, 3, size, size)``.

    Args:
        progress: show a tqdm progress bar.
    """
    placements = list(placements)
    out = np.empty((len(placements), len(IMAGE_NAMES), 3, size, size), dtype=np.float32)
    for n, p in enumerate(
        tqdm(placements, desc="features", unit="placement", disable=not progress)
    ):
        out[n] = extract(p, size, rasterizer)
    return out


@dataclass(frozen=True, eq=False)
class FeatureStack:
    """A feature tensor with the facts needed to read it back.

    Attributes:
        array: float32 ``(len(names), len(channels), size, size)``.
        size: pixels per side.
        rasterizer: rasterizer it was made with.
        names: image names, axis 0.
        channels: channel names, axis 1.
        source: placement it came from, if known.
    """

    array: np.ndarray
    size: int
    rasterizer: str
    names: tuple[str, ...] = IMAGE_NAMES
    channels: tuple[str, ...] = CHANNEL_NAMES
    source: str | None = field(default=None)

    def __post_init__(self) -> None:
        expected = (len(self.names), len(self.channels), self.size, self.size)
        if self.array.shape != expected:
            raise MagicalPruneError(f"feature array must be {expected}, got {self.array.shape}")

    @classmethod
    def from_placement(
        cls, placement: Placement, config: FeatureConfig | None = None, **kwargs: object
    ) -> FeatureStack:
        """Extract a placement's features (``kwargs`` go to :func:`extract`)."""
        config = config or FeatureConfig()
        array = extract(placement, config.size, config.rasterizer, **kwargs)  # type: ignore[arg-type]
        return cls(array, config.size, config.rasterizer, source=placement.source)

    @property
    def config(self) -> FeatureConfig:
        return FeatureConfig(self.size, self.rasterizer)

    def as_2d(self) -> np.ndarray:
        """The 18 channels flat, ``(18, H, W)``: image-major (routing's 3, first_stage's 3, ...)."""
        return self.array.reshape(-1, self.size, self.size)

    def image(self, name: str) -> np.ndarray:
        """``(3, H, W)`` of one image by name."""
        if name not in self.names:
            raise MagicalPruneError(f"no image {name!r}; images are {', '.join(self.names)}")
        return self.array[self.names.index(name)]

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write an ``.npz`` (keys ``features``, ``names``, ``channels``, ``size``,
        ``rasterizer``), byte-identical for identical features (fixed zip timestamps)."""
        arrays = {
            "features": self.array.astype(np.float32),
            "names": np.array(self.names),
            "channels": np.array(self.channels),
            "size": np.array(self.size, dtype=np.int64),
            "rasterizer": np.array(self.rasterizer),
        }
        with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
            for key, value in arrays.items():
                buf = io.BytesIO()
                np.lib.format.write_array(buf, value, allow_pickle=False)
                info = zipfile.ZipInfo(f"{key}.npy", date_time=(1980, 1, 1, 0, 0, 0))
                info.compress_type = zipfile.ZIP_DEFLATED
                zf.writestr(info, buf.getvalue())

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> FeatureStack:
        """Read a file written by :meth:`save` (or any npz with ``features`` and ``names``)."""
        check_regular(path, "feature file")  # np.load would block on a FIFO
        try:
            with np.load(path, allow_pickle=False) as data:
                if "features" not in data or "names" not in data:
                    raise MagicalPruneError(
                        "not a feature file (needs 'features' and 'names')", path
                    )
                array = np.asarray(data["features"], dtype=np.float32)
                names = tuple(str(n) for n in data["names"])
                channels = (
                    tuple(str(c) for c in data["channels"]) if "channels" in data else CHANNEL_NAMES
                )
                raster = str(data["rasterizer"]) if "rasterizer" in data else "exact"
        except (OSError, ValueError, EOFError, zipfile.BadZipFile, zlib.error) as err:
            raise MagicalPruneError(f"cannot read features: {err}", path) from None
        if array.ndim != 4:
            raise MagicalPruneError(f"features must be (6, 3, H, W), got {array.shape}", path)
        try:
            return cls(array, int(array.shape[-1]), raster, names, channels, os.fspath(path))
        except MagicalPruneError as err:
            raise err.at(path) from None
