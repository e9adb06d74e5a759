"""Writing a data-set file: layouts streamed in, the file moved into place only when whole.

The file is written under ``<name>.tmp`` and renamed at :meth:`DataSetWriter.close`, so
an interrupted build never leaves a file that looks finished.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from magical_prune._version import __version__
from magical_prune.dataset.codec import (
    FORMAT,
    FORMAT_VERSION,
    _ContentHash,
    encode_attr,
    to_float16,
)
from magical_prune.errors import MagicalPruneError

__all__ = ["CHUNK_LAYOUTS", "DataSetWriter"]

#: layouts per HDF5 chunk of ``images``: small enough that reading a few rows is cheap
CHUNK_LAYOUTS = 16


@dataclass
class DataSetWriter:
    """Streams layouts into a new data-set file (rows in the order they are added).

    Use as a context manager; :meth:`close` writes metrics, labels and the content hash.

    Args:
        path: the ``.h5`` file to create (overwritten).
        image_size: H = W of the images.
        channel_order: names of the six images.
        attrs: provenance attributes (plain values; dicts/lists are stored as JSON).
        stored_labels: whether rows carry a fixed label instead of raw metrics.
    """

    path: Path
    image_size: int
    channel_order: Sequence[str]
    attrs: Mapping[str, Any] = field(default_factory=dict)
    stored_labels: bool = False

    def __post_init__(self) -> None:
        self.path = Path(self.path)
        self._tmp = self.path.with_name(self.path.name + ".tmp")
        self.content_hash: str | None = None  # set by close()
        self._file = h5py.File(self._tmp, "w", libver="v108", track_order=False)
        c, s = len(self.channel_order), self.image_size
        self._images = self._file.create_dataset(
            "images",
            shape=(0, c, s, s),
            maxshape=(None, c, s, s),
            dtype=np.float16,
            chunks=(CHUNK_LAYOUTS, c, s, s),
            compression="gzip",
            compression_opts=4,
            shuffle=False,  # measured: smaller and faster to read without it here
            track_times=False,
        )
        self._ids: list[str] = []
        self._metrics: list[Mapping[str, float]] = []
        self._labels: list[int] = []
        self._geometry: list[Any] = []
        self._hash = _ContentHash()
        self._pending: list[np.ndarray] = []
        self._pending_ids: list[str] = []

    @property
    def n_rows(self) -> int:
        """Layouts added so far."""
        return len(self._ids)

    def add(
        self,
        layout_id: str,
        images: np.ndarray,
        metrics: Mapping[str, float] | None = None,
        label: int | None = None,
        geometry: Any = None,
    ) -> None:
        """Append one layout: its ``(6, H, W)`` images and raw metrics (or a fixed label),
        and its geometry row (:class:`~magical_prune.dataset.build.GeometryRow`) if made."""
        if images.shape != self._images.shape[1:]:
            raise MagicalPruneError(
                f"layout {layout_id}: images of shape {images.shape}, "
                f"expected {self._images.shape[1:]}"
            )
        if self.stored_labels:
            if label not in (0, 1):
                raise MagicalPruneError(f"layout {layout_id}: label must be 0 or 1, got {label!r}")
            self._labels.append(int(label))
        self._metrics.append(dict(metrics or {}))
        self._geometry.append(geometry)
        self._ids.append(str(layout_id))
        self._pending.append(to_float16(images))
        self._pending_ids.append(str(layout_id))
        if len(self._pending) >= 8 * CHUNK_LAYOUTS:
            self._flush()

    def add_many(self, ids: Sequence[str], images: np.ndarray, labels: np.ndarray) -> None:
        """Append a block of layouts with fixed labels (the import path)."""
        for start in range(0, len(ids), 8 * CHUNK_LAYOUTS):
            stop = start + 8 * CHUNK_LAYOUTS
            for i, img, lab in zip(ids[start:stop], images[start:stop], labels[start:stop]):
                self.add(i, np.asarray(img), label=int(lab))

    def _flush(self) -> None:
        if not self._pending:
            return
        block = np.stack(self._pending)
        n = self._images.shape[0]
        self._images.resize(n + len(block), axis=0)
        self._images[n:] = block
        self._hash.update_rows(self._pending_ids, block)
        self._pending, self._pending_ids = [], []

    def close(self) -> Path:
        """Finish the file (metrics, ids, labels, attributes) and move it into place."""
        self._flush()
        names = _metric_columns(self._metrics)
        metrics = np.array(
            [[m.get(k, np.nan) for k in names] for m in self._metrics], dtype=np.float64
        ).reshape(len(self._metrics), len(names))
        f = self._file
        f.create_dataset("metrics", data=metrics, track_times=False)
        f.create_dataset(
            "ids",
            data=np.array(self._ids, dtype=object),
            dtype=h5py.string_dtype(),
            track_times=False,
        )
        geometry = self._write_geometry(f)
        labels = None
        if self.stored_labels:
            labels = np.array(self._labels, dtype=np.int8)
            f.create_dataset("labels", data=labels, track_times=False)
        attrs = {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "image_size": self.image_size,
            "channel_order": list(self.channel_order),
            "metric_names": names,
            "package_version": __version__,
            "label_source": "stored" if self.stored_labels else "metrics",
            **({"geometry": geometry} if geometry else {}),
            **self.attrs,
            "content_hash": self._hash.hexdigest(names, metrics, labels),
        }
        self.content_hash = str(attrs["content_hash"])
        for key in sorted(attrs):
            f.attrs[key] = encode_attr(attrs[key])
        f.close()
        os.replace(self._tmp, self.path)
        return self.path

    def _write_geometry(self, f: h5py.File) -> dict[str, Any] | None:
        """The ``geometry`` rows (N, D) float64, when every layout has one and all of them
        line up (one design); their description for the attributes, else None."""
        rows = self._geometry
        if not rows or any(r is None for r in rows) or len({r.digest for r in rows}) != 1:
            return None
        f.create_dataset("geometry", data=np.stack([r.vector for r in rows]).astype(np.float64),
                         track_times=False)  # fmt: skip
        first = rows[0]
        return {"columns_sha256": first.digest, "widths": list(first.widths),
                "devices": list(first.devices)}  # fmt: skip

    def abort(self) -> None:
        """Drop the unfinished file."""
        try:
            self._file.close()
        finally:
            self._tmp.unlink(missing_ok=True)

    def __enter__(self) -> DataSetWriter:
        return self

    def __exit__(self, exc_type: Any, *_: Any) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()


def _metric_columns(rows: Sequence[Mapping[str, float]]) -> list[str]:
    """Metric names in first-seen order."""
    names: dict[str, None] = {}
    for m in rows:
        for k in m:
            names.setdefault(k, None)
    return list(names)
