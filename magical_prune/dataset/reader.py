"""Reading a data-set file: provenance and columns checked and held, images read on demand.

Images stay on disk until asked for (a few hundred MB for a large set), read block by
block so selecting rows never holds the file twice; everything else is small and read at
open, after being checked, so a damaged file fails once, at open, with the file's name.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import h5py
import numpy as np
from tqdm import tqdm

from magical_prune._h5safe import (
    as_int,
    check_storage,
    check_string_lengths,
    get_dataset,
    open_h5,
    read_attr,
)
from magical_prune.dataset.codec import FORMAT, FORMAT_VERSION, decode_attr
from magical_prune.errors import MagicalPruneError
from magical_prune.features import MAX_IMAGE_SIZE
from magical_prune.labels import METRICS

__all__ = ["LOAD_BLOCK", "DataFile", "open_dataset"]

#: rows read per block when loading (bounds the memory of selecting kept rows)
LOAD_BLOCK = 1024


@dataclass
class DataFile:
    """An opened data-set file: ids, raw metrics, stored labels, provenance, images on demand.

    Attributes:
        path: the file.
        attrs: provenance attributes (JSON strings decoded).
        ids: ``(N,)`` layout ids.
        metric_names: columns of ``metrics``.
        metrics: ``(N, M)`` float64 raw metrics.
        stored_labels: ``(N,)`` int64 fixed labels, or ``None``.
    """

    path: Path
    attrs: dict[str, Any]
    ids: np.ndarray
    metric_names: list[str]
    metrics: np.ndarray
    stored_labels: np.ndarray | None

    @property
    def n(self) -> int:
        return len(self.ids)

    @property
    def image_size(self) -> int:
        return int(self.attrs["image_size"])

    @property
    def channel_order(self) -> list[str]:
        return list(self.attrs["channel_order"])

    @property
    def content_hash(self) -> str:
        return str(self.attrs.get("content_hash", ""))

    @property
    def design(self) -> str | None:
        return self.attrs.get("design")

    def metric(self, name: str) -> np.ndarray:
        """Raw values of one metric column."""
        if name not in self.metric_names:
            have = ", ".join(self.metric_names) or "none (the file has stored labels only)"
            raise MagicalPruneError(
                f"the data set has no metric {name!r}; it has: {have}", self.path
            )
        return self.metrics[:, self.metric_names.index(name)]

    def read_images(self, rows: np.ndarray | None = None, progress: bool = False) -> np.ndarray:
        """float16 ``(len(rows), 6, H, W)`` images of the given rows (all rows if None).

        Reads block by block, so selecting half of a large file never holds all of it twice.
        """
        with open_h5(self.path, "data set", heaps=False) as f:  # checked by open_dataset
            ds = f["images"]
            if rows is None:
                rows = np.arange(ds.shape[0])
            rows = np.asarray(rows, dtype=np.int64)
            out = np.empty((len(rows), *ds.shape[1:]), dtype=np.float16)
            if len(rows) == 0:
                return out
            order = np.argsort(rows, kind="stable")
            sorted_rows = rows[order]
            starts = range(
                int(sorted_rows[0]) // LOAD_BLOCK * LOAD_BLOCK, int(sorted_rows[-1]) + 1, LOAD_BLOCK
            )
            for start in tqdm(starts, desc="loading", unit="block", disable=not progress):
                lo, hi = np.searchsorted(sorted_rows, [start, start + LOAD_BLOCK])
                if lo == hi:
                    continue
                block = ds[start : min(start + LOAD_BLOCK, ds.shape[0])]
                out[order[lo:hi]] = block[sorted_rows[lo:hi] - start]
            return out

    @property
    def geometry_info(self) -> dict[str, Any] | None:
        """What the stored geometry rows are (column digest, part widths, device names), or
        None when the file has none (older files, or layouts of several designs)."""
        info = self.attrs.get("geometry")
        return info if isinstance(info, dict) else None

    def read_geometry(self, rows: np.ndarray | None = None) -> np.ndarray:
        """float64 ``(len(rows), D)`` geometry rows (the geometry learner's inputs)."""
        if self.geometry_info is None:
            raise MagicalPruneError(
                "the data set stores no layout geometry: build it again with this version "
                "of `magical-prune dataset build` (from layouts of one design)",
                self.path,
            )
        with open_h5(self.path, "data set", heaps=False) as f:
            data = np.asarray(f["geometry"][()], dtype=np.float64)
        return data if rows is None else data[np.asarray(rows, dtype=np.int64)]

    def default_metric(self) -> str | None:
        """The metric used when none is asked for: stored labels if any, else
        ``Offset_Voltage`` if present, else the first registered metric the file has."""
        if self.stored_labels is not None:
            return None
        for name in METRICS:
            if name in self.metric_names:
                return name
        raise MagicalPruneError(
            f"none of the data set's metrics ({', '.join(self.metric_names)}) is a known "
            f"metric; pick one with --metric (known: {', '.join(METRICS)})",
            self.path,
        )


def open_dataset(path: str | os.PathLike[str]) -> DataFile:
    """Open a data-set file written by :func:`build_dataset` or :func:`import_groups`.

    The file is read defensively (:mod:`magical_prune._h5safe`): every attribute and
    dataset is checked for existence, type, shape and a size that fits in the file before
    it is read, so a truncated or damaged file is one error, not a traceback or a hang.

    Raises:
        MagicalPruneError: missing or not a regular file, not HDF5, not a magical-prune
            data set, or damaged.
    """
    path = Path(path)
    with open_h5(path, "data set") as f:
        attrs = _read_attrs(f, path)
        ids, metrics, labels = _read_columns(f, attrs, path)
        _check_geometry(f, attrs, len(ids), path)
    return DataFile(path, attrs, ids, list(attrs["metric_names"]), metrics, labels)


def _read_attrs(f: h5py.File, path: Path) -> dict[str, Any]:
    """The provenance attributes, after the format marker and version are checked; the
    ones the reader relies on are checked for type and range."""
    names = list(f.attrs)
    if "format" not in names or decode_attr(read_attr(f, "format", path)) != FORMAT:
        hint = ""
        if any(isinstance(f.get(k), h5py.Group) and "images" in f[k] for k in f):
            hint = "; it looks like the UT-AnLay set: convert it with `dataset import-utanlay`"
        elif path.name.endswith(".tmp"):
            hint = "; it is the unfinished file of an interrupted build: build the data set again"
        raise MagicalPruneError(f"not a magical-prune data set{hint}", path)
    attrs = {k: decode_attr(read_attr(f, k, path)) for k in names}
    version = as_int(attrs.get("format_version", 0), "format_version", path, 0, 1 << 30)
    if version > FORMAT_VERSION:
        raise MagicalPruneError(
            f"data set format {version} is newer than this magical-prune reads", path
        )
    as_int(attrs.get("image_size"), "image_size", path, 1, MAX_IMAGE_SIZE)
    for key in ("channel_order", "metric_names"):
        value = attrs.get(key) or []
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise MagicalPruneError(f"damaged data set: {key} is not a list of names", path)
        attrs[key] = value
    return attrs


def _read_columns(
    f: h5py.File, attrs: Mapping[str, Any], path: Path
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """ids, metrics and stored labels, after every shape is checked against the others
    (one row count, the recorded image size and channels, one column per metric name)."""
    ids_ds = get_dataset(f, "ids", path, 1, "OSU")
    metrics_ds = get_dataset(f, "metrics", path, 2, "f")
    images = get_dataset(f, "images", path, 4, "f")
    n, size = ids_ds.shape[0], attrs["image_size"]
    want = {"metrics": (n, len(attrs["metric_names"])),
            "images": (n, len(attrs["channel_order"]), size, size)}  # fmt: skip
    for name, shape in (("metrics", metrics_ds.shape), ("images", images.shape)):
        if tuple(shape) != want[name]:
            raise MagicalPruneError(
                f"damaged data set: {name} has shape {tuple(shape)}, the file's ids and "
                f"attributes say {want[name]}",
                path,
            )
    check_storage(images, path, all_chunks=True)
    labels = None
    if "labels" in f:
        labels_ds = get_dataset(f, "labels", path, 1, "iu")
        labels = np.asarray(labels_ds[()], dtype=np.int64)
        if labels.shape != (n,) or not np.isin(labels, (0, 1)).all():
            raise MagicalPruneError("damaged data set: stored labels are not 0/1 per row", path)
    check_string_lengths(ids_ds, path)
    ids = np.array([s.decode() if isinstance(s, bytes) else s for s in ids_ds[()]], dtype=object)
    return ids, np.asarray(metrics_ds[()], dtype=np.float64), labels


def _check_geometry(f: h5py.File, attrs: dict[str, Any], n: int, path: Path) -> None:
    """A stored geometry table must match its description; an undescribed one is ignored."""
    info = attrs.get("geometry")
    if info is None:
        return
    widths = info.get("widths") if isinstance(info, dict) else None
    if not (isinstance(widths, list) and all(isinstance(w, int) and w >= 0 for w in widths)):
        raise MagicalPruneError("damaged data set: the geometry description is not valid", path)
    ds = get_dataset(f, "geometry", path, 2, "f")
    if tuple(ds.shape) != (n, sum(widths)):
        raise MagicalPruneError(
            f"damaged data set: geometry has shape {tuple(ds.shape)}, expected {(n, sum(widths))}",
            path,
        )
