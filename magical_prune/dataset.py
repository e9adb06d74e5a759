"""Data sets of one design in HDF5: feature images, raw metrics and ids; labels on use.

File layout (``format = "magical-prune-dataset"``, version 1):

``images``
    ``(N, 6, H, W)`` float16, the six intensity images of each layout in the order of the
    ``channel_order`` attribute. Coordinate channels are not stored: they are a function of
    the intensity image (:func:`magical_prune.features.add_coordinate_channels`) and are
    recomputed per batch, which keeps 16,000 layouts at a few hundred MB on disk and in
    memory. float16 keeps 11 significant bits (relative error <= 2**-11 ~ 0.05%); a positive
    value too small for float16 is stored as the smallest positive float16 rather than 0, so
    the non-zero mask (which decides the coordinate channels) is kept exactly. Chunks of 16
    layouts, gzip level 4 (the images are mostly empty: about 2.4 kB per 64x64 layout).
``metrics``
    ``(N, M)`` float64 raw post-layout results, column names in the ``metric_names``
    attribute (every key of ``performance.txt``). Labels are computed from these when the
    data is used (:mod:`magical_prune.labels`), so one file serves any metric and cut.
``ids``
    ``(N,)`` layout ids (the layout folder names), for traceability.
``labels`` (only for data that come with fixed labels, e.g. the imported UT-AnLay set)
    ``(N,)`` int8, 1 = prune; such a file has no raw metrics (``M = 0``) and is used with
    its stored labels as they are: ranking options (``--metric``, ``--worst-percent``,
    ``--balanced``) are refused for it, and so is the few-shot protocol, which needs to
    relabel by rank.

Attributes record the provenance: design, image size, rasterizer, feature configuration,
channel order, package version, the command that made the file, the ids left out (failed
simulations) and a SHA-256 of the content (``content_hash``) that models record as the
identity of their training data.

Splits (:meth:`LabelledDataset.split`): the layouts are shuffled with a fixed seed; the last
``test_fraction`` (20%) of them is the test set, never used for training; ``alpha`` is the
share of the *whole* labelled set used for training, taken from the front of the shuffled
order, so it is at most ``1 - test_fraction`` and growing ``alpha`` only adds layouts.
"""

from __future__ import annotations

import concurrent.futures as cf
import hashlib
import json
import math
import os
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field, is_dataclass
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from magical_prune._h5safe import (
    as_int,
    check_storage,
    check_string_lengths,
    get_dataset,
    open_h5,
    read_attr,
)
from magical_prune._version import __version__
from magical_prune.errors import MagicalPruneError
from magical_prune.labels import METRICS, LabelSpec, get_metric, label_by_rank

FORMAT = "magical-prune-dataset"
FORMAT_VERSION = 1
#: layouts per HDF5 chunk of ``images``: small enough that reading a few rows is cheap
CHUNK_LAYOUTS = 16
#: rows read per block when loading (bounds the memory of selecting kept rows)
LOAD_BLOCK = 1024
_FLOAT16_TINY = np.float16(np.finfo(np.float16).smallest_subnormal)
#: recorded in every built data set, so a reader knows what the images mean
FEATURE_CONVENTIONS = (
    "images span the bounding box of all devices, each axis scaled on its own; row 0 is "
    "the lowest y, column 0 the lowest x; sub-circuit images hold the device type intensity "
    "(NMOS 0.25, PMOS 0.5, CAP 0.75, RES 1.0) times the covered pixel fraction; the routing "
    "image sums, over nets (bulk pins excluded), the pixel fraction covered by the net's "
    "pin bounding box; coordinate channels (Algorithm 1) are not stored and are recomputed "
    "on load with magical_prune.features.add_coordinate_channels"
)


# -- compact storage of images ------------------------------------------------------------
def to_float16(images: np.ndarray) -> np.ndarray:
    """float32 intensity images -> float16, keeping every non-zero pixel non-zero.

    Raises:
        MagicalPruneError: a value that is negative, NaN, or beyond float16's range.
    """
    images = np.asarray(images)
    if images.size and not np.all(np.isfinite(images)):
        raise MagicalPruneError("feature images contain NaN or infinite values")
    if images.size and (images.min() < 0 or images.max() > float(np.finfo(np.float16).max)):
        raise MagicalPruneError("feature images are negative or too large for float16")
    half = images.astype(np.float16)
    lost = (images > 0) & (half == 0)
    if lost.any():
        half[lost] = _FLOAT16_TINY
    return half


# -- content hash -------------------------------------------------------------------------
class _ContentHash:
    """SHA-256 over ids, metric names, metrics, labels and images, in row order."""

    def __init__(self) -> None:
        self._ids = hashlib.sha256()
        self._images = hashlib.sha256()
        self.tail: list[bytes] = []

    def update_rows(self, ids: Sequence[str], images: np.ndarray) -> None:
        for i in ids:
            self._ids.update(i.encode() + b"\0")
        self._images.update(np.ascontiguousarray(images, dtype="<f2").tobytes())

    def hexdigest(
        self, metric_names: Sequence[str], metrics: np.ndarray, labels: np.ndarray | None
    ) -> str:
        h = hashlib.sha256()
        h.update(self._ids.digest())
        h.update(self._images.digest())
        h.update(json.dumps(list(metric_names)).encode())
        h.update(np.ascontiguousarray(metrics, dtype="<f8").tobytes())
        if labels is not None:
            h.update(np.ascontiguousarray(labels, dtype="i1").tobytes())
        return h.hexdigest()


# -- writing ------------------------------------------------------------------------------
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
        self._hash = _ContentHash()
        self._pending: list[np.ndarray] = []
        self._pending_ids: list[str] = []

    def add(
        self,
        layout_id: str,
        images: np.ndarray,
        metrics: Mapping[str, float] | None = None,
        label: int | None = None,
    ) -> None:
        """Append one layout: its ``(6, H, W)`` images and raw metrics (or a fixed label)."""
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
            **self.attrs,
            "content_hash": self._hash.hexdigest(names, metrics, labels),
        }
        self.content_hash = str(attrs["content_hash"])
        for key in sorted(attrs):
            f.attrs[key] = _attr_value(attrs[key])
        f.close()
        os.replace(self._tmp, self.path)
        return self.path

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


def _attr_value(value: Any) -> Any:
    if is_dataclass(value) and not isinstance(value, type):
        value = asdict(value)
    if isinstance(value, (dict, list, tuple)):
        return json.dumps(value, sort_keys=isinstance(value, dict), default=str)
    if value is None:
        return "null"
    if isinstance(value, Path):
        return str(value)
    return value


# -- building from layout folders ---------------------------------------------------------
@dataclass(frozen=True)
class Failed:
    """A layout left out of a data set, and why."""

    layout_id: str
    reason: str


@dataclass
class BuildReport:
    """What :func:`build_dataset` did."""

    path: Path
    n_layouts: int
    n_written: int
    failed: list[Failed]
    metric_names: list[str]
    content_hash: str


def check_performance(
    performances: Mapping[str, Mapping[str, float] | None],
) -> tuple[list[str], dict[str, str]]:
    """Decide which layouts have a simulation result, and which metrics are columns.

    A layout fails when it has no result at all (``performance.txt`` missing or empty, or
    no finite value in it). A result that lacks one metric, or has a non-finite value for
    it, is kept: that metric is stored as NaN and the layout is left out only when that
    metric is used for labels (a missing UGF must not drop a layout labelled by CMRR).
    Metrics that fewer than half of the layouts report are not columns of the data set
    (so one stray extra key does not add a column of NaNs).

    Returns:
        the metric columns (first-seen order) and ``{layout_id: reason}`` of the failures.
    """
    n = len(performances)
    counts: dict[str, int] = {}
    for perf in performances.values():
        for k in perf or {}:
            counts[k] = counts.get(k, 0) + 1
    columns = [k for k, c in counts.items() if 2 * c >= n]
    failed: dict[str, str] = {}
    for lid, perf in performances.items():
        if not perf:
            failed[lid] = "no simulation result (performance.txt missing or empty)"
        elif not any(math.isfinite(float(perf[k])) for k in columns if k in perf):
            failed[lid] = "simulation result has no finite metric"
    return columns, failed


@dataclass(frozen=True)
class _Rasterize:
    """Picklable worker: layout folder -> (images, error)."""

    load: Callable[[Path], Any]
    size: int
    rasterizer: str

    def __call__(self, layout: Path) -> tuple[np.ndarray | None, str | None]:
        return self.images(self.read(layout))

    def read(self, layout: Path) -> Any:
        """The layout's placement, or why it cannot be read (a cluster run reads on the
        client, so workers need not see the layout folders)."""
        try:
            return self.load(layout)
        except MagicalPruneError as err:
            return str(err)

    def images(self, placement: Any) -> tuple[np.ndarray | None, str | None]:
        """Feature images of a placement from :meth:`read` (or the reason passed on)."""
        from magical_prune.features import rasterize

        if isinstance(placement, str):
            return None, placement
        try:
            return to_float16(rasterize(placement, self.size, self.rasterizer)), None
        except MagicalPruneError as err:
            return None, str(err)


def build_dataset(
    layouts: Sequence[Path],
    out: str | os.PathLike[str],
    *,
    load: Callable[[Path], Any],
    read_performance: Callable[[Path], Mapping[str, float] | None],
    size: int = 64,
    rasterizer: str = "exact",
    jobs: int = 1,
    attrs: Mapping[str, Any] | None = None,
    progress: bool = True,
    executor: cf.Executor | None = None,
) -> BuildReport:
    """Features and raw metrics of every layout folder into one HDF5 data set.

    The core does not read flow files itself: ``load(folder) -> Placement`` and
    ``read_performance(folder) -> {metric: value} | None`` come from an adapter (the CLI
    passes the MAGICAL ones). Layouts without a complete simulation result, and layouts
    whose placement cannot be read, are left out and listed in the report (and in the
    file's ``failed_ids``/``failed_reasons`` attributes); they are never labelled.

    Args:
        layouts: layout folders; their names are the ids (must be unique).
        out: the ``.h5`` file to write (replaced).
        size: image size H = W.
        rasterizer: name in :data:`magical_prune.features` rasterizers (``exact``/``paper``).
        jobs: worker processes for reading and rasterizing (1 = in this process).
        attrs: extra provenance attributes (design, command, ...).
        progress: show a tqdm bar on stderr.
        executor: rasterize on a Dask cluster's executor (:mod:`magical_prune.cluster`)
            instead of ``jobs`` local processes: placements are read here and sent, images
            come back and are written here; the same file.
    """
    from tqdm import tqdm

    from magical_prune.features import IMAGE_NAMES, FeatureConfig

    layouts = [Path(p) for p in layouts]
    if not layouts:
        raise MagicalPruneError("no layout folders to build a data set from")
    ids = [p.name for p in layouts]
    if len(set(ids)) != len(ids):
        dup = next(i for i in ids if ids.count(i) > 1)
        raise MagicalPruneError(f"two layout folders are named {dup!r}; ids must be unique")
    perf: dict[str, Mapping[str, float] | None] = {}
    unreadable: dict[str, str] = {}
    for lid, p in zip(ids, layouts):
        try:
            perf[lid] = read_performance(p)
        except MagicalPruneError as err:
            perf[lid] = None
            unreadable[lid] = f"unreadable simulation result: {err}"
    columns, failed = check_performance(perf)
    failed.update(unreadable)
    todo = [(lid, p) for lid, p in zip(ids, layouts) if lid not in failed]

    config = FeatureConfig(size=size, rasterizer=rasterizer)  # unknown rasterizer: fail now
    meta = {
        "image_size": size,
        "rasterizer": rasterizer,
        "feature_config": config.to_dict(),
        "feature_conventions": FEATURE_CONVENTIONS,
        **(attrs or {}),
    }
    worker = _Rasterize(load, size, rasterizer)
    with DataSetWriter(Path(out), size, IMAGE_NAMES, meta) as writer:
        bar = tqdm(total=len(todo), desc="layouts", unit="layout", disable=not progress)
        paths = [p for _, p in todo]
        if executor is None:
            mapped = _map(worker, paths, jobs)
        else:
            from magical_prune.cluster import chunked_map

            placements = (worker.read(p) for p in paths)
            mapped = chunked_map(executor, worker.images, placements, _REMOTE_CHUNK, 4 * jobs)
        for (lid, _), (images, err) in zip(todo, mapped):
            bar.update()
            if err is not None:
                failed[lid] = err
                continue
            writer.add(lid, images, {k: float(perf[lid].get(k, math.nan)) for k in columns})
        bar.close()
        if len(writer._ids) == 0:
            raise MagicalPruneError(
                f"none of the {len(layouts)} layouts has a complete simulation result "
                "and a readable placement"
            )
        failed_sorted = [Failed(lid, failed[lid]) for lid in ids if lid in failed]
        writer.attrs = {
            **writer.attrs,
            "failed_ids": [f.layout_id for f in failed_sorted],
            "failed_reasons": [f.reason for f in failed_sorted],
        }
    return BuildReport(writer.path, len(layouts), len(writer._ids), failed_sorted, columns,
                       writer.content_hash)  # fmt: skip


#: layouts per cluster task of a data-set build (a few ms each: amortise Dask's ~10 ms)
_REMOTE_CHUNK = 64


def _map(worker: Callable[[Path], Any], items: Sequence[Path], jobs: int) -> Iterator[Any]:
    """Ordered map, in this process or a pool of ``jobs`` workers."""
    if jobs <= 1 or len(items) < 2:
        yield from map(worker, items)
        return
    import multiprocessing as mp

    ctx = mp.get_context("fork" if "fork" in mp.get_all_start_methods() else "spawn")
    with ctx.Pool(jobs) as pool:
        yield from pool.imap(worker, items, chunksize=max(1, min(32, len(items) // (4 * jobs))))


def import_groups(
    out: str | os.PathLike[str],
    *,
    ids: Sequence[str],
    images_nhwc: np.ndarray,
    labels: np.ndarray,
    scale: float,
    attrs: Mapping[str, Any] | None = None,
) -> BuildReport:
    """Write a data set from images with fixed labels (the public UT-AnLay set).

    Args:
        ids: one id per layout.
        images_nhwc: ``(N, H, W, 6)`` images as stored there (channels last, uint8).
        labels: ``(N,)`` 0/1 labels (1 = prune).
        scale: stored intensity = value x scale (recorded as ``intensity_scale``).
    """
    from magical_prune.features import IMAGE_NAMES

    images_nhwc = np.asarray(images_nhwc)
    if images_nhwc.ndim != 4 or images_nhwc.shape[-1] != len(IMAGE_NAMES):
        raise MagicalPruneError(f"images must be (N, H, W, 6), got {images_nhwc.shape}")
    n, h, w, _ = images_nhwc.shape
    if h != w:
        raise MagicalPruneError(f"images must be square, got {h}x{w}")
    if not (len(ids) == n == len(labels)):
        raise MagicalPruneError(f"{n} images, {len(ids)} ids and {len(labels)} labels")
    if not (scale > 0 and math.isfinite(scale)):
        raise MagicalPruneError(f"scale must be positive, got {scale}")
    meta = {"image_size": h, "intensity_scale": scale, "feature_config": None,
            "stored_from": "UT-AnLay", **(attrs or {})}  # fmt: skip
    with DataSetWriter(Path(out), h, IMAGE_NAMES, meta, stored_labels=True) as writer:
        for start in range(0, n, LOAD_BLOCK):
            block = images_nhwc[start : start + LOAD_BLOCK].astype(np.float32) * np.float32(scale)
            block = np.ascontiguousarray(block.transpose(0, 3, 1, 2))
            writer.add_many(
                ids[start : start + LOAD_BLOCK], block, labels[start : start + LOAD_BLOCK]
            )
    return BuildReport(writer.path, n, n, [], [], writer.content_hash)


# -- reading ------------------------------------------------------------------------------
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
        from tqdm import tqdm

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
    """Open a data-set file written by :func:`build_dataset` or :func:`import_utanlay`.

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
    return DataFile(path, attrs, ids, list(attrs["metric_names"]), metrics, labels)


def _read_attrs(f: h5py.File, path: Path) -> dict[str, Any]:
    """The provenance attributes, after the format marker and version are checked; the
    ones the reader relies on are checked for type and range."""
    names = list(f.attrs)
    if "format" not in names or _decode_attr(read_attr(f, "format", path)) != FORMAT:
        hint = ""
        if any(isinstance(f.get(k), h5py.Group) and "images" in f[k] for k in f):
            hint = "; it looks like the UT-AnLay set: convert it with `dataset import-utanlay`"
        elif path.name.endswith(".tmp"):
            hint = "; it is the unfinished file of an interrupted build: build the data set again"
        raise MagicalPruneError(f"not a magical-prune data set{hint}", path)
    attrs = {k: _decode_attr(read_attr(f, k, path)) for k in names}
    version = as_int(attrs.get("format_version", 0), "format_version", path, 0, 1 << 30)
    if version > FORMAT_VERSION:
        raise MagicalPruneError(
            f"data set format {version} is newer than this magical-prune reads", path
        )
    from magical_prune.features import MAX_IMAGE_SIZE

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


def _decode_attr(value: Any) -> Any:
    if isinstance(value, bytes):
        value = value.decode()
    if isinstance(value, str) and value[:1] in "[{" or value == "null":
        try:
            return json.loads(value)
        except json.JSONDecodeError:
            return value
    if isinstance(value, np.generic):
        return value.item()
    return value


# -- labelled view ------------------------------------------------------------------------
@dataclass(frozen=True)
class Split:
    """Positions (into a :class:`LabelledDataset`) of the training and test layouts."""

    train: np.ndarray
    test: np.ndarray
    pool: np.ndarray
    seed: int
    alpha: float
    test_fraction: float


def split_positions(
    n: int,
    alpha: float,
    seed: int = 0,
    test_fraction: float = 0.2,
    order_key: np.ndarray | None = None,
) -> Split:
    """Shuffle ``n`` positions with ``seed``; the last ``test_fraction`` is the test set and
    the first ``round(alpha * n)`` the training set (``alpha <= 1 - test_fraction``).

    Args:
        order_key: optional ``(n,)`` precomputed shuffle keys (ranks) to use instead of a
            fresh permutation; positions are ordered by it.
    """
    if not (0.0 < test_fraction < 1.0):
        raise MagicalPruneError(f"test fraction must be in (0, 1), got {test_fraction}")
    limit = 1.0 - test_fraction
    if not (0.0 <= alpha <= limit + 1e-9):
        raise MagicalPruneError(
            f"alpha (share of the whole set used for training) must be in [0, {limit:g}]: the "
            f"last {test_fraction:g} is the test set; got {alpha}"
        )
    if order_key is None:
        order = np.random.default_rng(seed).permutation(n)
    else:
        order = np.argsort(order_key, kind="stable")
    n_test = int(math.floor(n * test_fraction + 0.5))
    pool = order[: n - n_test]
    n_train = min(len(pool), int(math.floor(n * alpha + 0.5)))
    return Split(pool[:n_train], order[n - n_test :], pool, seed, alpha, test_fraction)


class LabelledDataset:
    """A data set with labels for one metric and cut, and its features as torch tensors.

    Positions ``0 .. len-1`` index the *kept* layouts (all of them unless balanced);
    ``rows`` maps them to rows of the file. Images are held as float16 (preloaded, or read
    per batch with ``preload=False``); :meth:`features` expands a batch to float32 with
    coordinate channels.

    Args:
        data: an opened file (:func:`open_dataset`).
        label: metric, worst percent, balanced. ``metric=None`` means the file's default
            (:meth:`DataFile.default_metric`): its stored labels, if it has them.
        preload: read all kept images into memory now (fast training) or per batch.
        progress: show a bar while preloading.
    """

    def __init__(
        self,
        data: DataFile,
        label: LabelSpec | None = None,
        preload: bool = True,
        progress: bool = False,
    ) -> None:
        label = label or LabelSpec(metric=None)
        self.data = data
        metric = label.metric if label.metric is not None else data.default_metric()
        if metric is None:  # stored labels
            if label.balanced or label.worst_percent != 25.0:
                raise MagicalPruneError(
                    "the data set has fixed stored labels and no raw metrics: --metric, "
                    "--worst-percent and --balanced cannot be applied to it",
                    data.path,
                )
            self.rows = np.arange(data.n)
            self.n_unmeasured = 0
            self.labels = np.asarray(data.stored_labels, dtype=np.int64)
            self.metric_values = None
            self.critical_value = None
            self.best_value = None
            self.label_spec = LabelSpec(None, label.worst_percent, False)
        else:
            values = data.metric(metric)
            # Layouts whose simulation did not produce this metric are left out, never labelled.
            measured = np.nonzero(np.isfinite(values))[0]
            self.n_unmeasured = len(values) - len(measured)
            if len(measured) == 0:
                raise MagicalPruneError(f"no layout has a value of {metric}", data.path)
            result = label_by_rank(values[measured], metric, label.worst_percent, label.balanced)
            self.rows = measured[result.kept]
            self.labels = result.labels[result.kept]
            self.metric_values = values[self.rows]
            self.critical_value = result.critical_value
            self.best_value = result.best_value
            self.label_spec = LabelSpec(metric, label.worst_percent, label.balanced)
        self._images = data.read_images(self.rows, progress=progress) if preload else None

    @classmethod
    def open(
        cls,
        path: str | os.PathLike[str],
        metric: str | None = None,
        worst_percent: float = 25.0,
        balanced: bool = False,
        preload: bool = True,
        progress: bool = False,
    ) -> LabelledDataset:
        """Open a file and label it (see the class)."""
        return cls(
            open_dataset(path), LabelSpec(metric, worst_percent, balanced), preload, progress
        )

    def __len__(self) -> int:
        return len(self.rows)

    @property
    def ids(self) -> np.ndarray:
        return self.data.ids[self.rows]

    @property
    def image_size(self) -> int:
        return self.data.image_size

    @property
    def channel_order(self) -> list[str]:
        return self.data.channel_order

    @property
    def metric(self) -> str | None:
        return self.label_spec.metric

    def label_meta(self) -> dict[str, Any]:
        """The label definition as saved in a model's metadata."""
        spec = get_metric(self.metric) if self.metric else None
        return {
            "source": "stored" if self.metric is None else "metric",
            "metric": self.metric,
            "better": spec.better if spec else None,
            "worst_percent": self.label_spec.worst_percent,
            "balanced": self.label_spec.balanced,
            "critical_value": self.critical_value,
            "best_value": self.best_value,
        }

    def images(self, positions: np.ndarray) -> np.ndarray:
        """float16 ``(B, 6, H, W)`` images of the given positions."""
        positions = np.asarray(positions, dtype=np.int64)
        if self._images is not None:
            return self._images[positions]
        return self.data.read_images(self.rows[positions])

    def features(self, positions: np.ndarray, device: Any = "cpu") -> Any:
        """float32 torch ``(B, 6, 3, H, W)``: images plus coordinate channels."""
        import torch

        from magical_prune.features import add_coordinate_channels

        # torch converts float16 -> float32 several times faster than numpy does
        images = torch.from_numpy(np.ascontiguousarray(self.images(positions))).float().numpy()
        return torch.from_numpy(add_coordinate_channels(images)).to(device)

    def split(self, alpha: float = 0.8, seed: int = 0, test_fraction: float = 0.2) -> Split:
        """Train/test positions: shuffled with ``seed`` over the file's rows, so the order
        of a layout does not depend on the metric or cut; see :func:`split_positions`."""
        keys = np.empty(self.data.n, dtype=np.int64)
        keys[np.random.default_rng(seed).permutation(self.data.n)] = np.arange(self.data.n)
        split = split_positions(len(self), alpha, seed, test_fraction, order_key=keys[self.rows])
        return split

    def ids_hash(self, positions: Iterable[int]) -> str:
        """SHA-256 of the ids at ``positions`` (sorted), recorded for traceability."""
        h = hashlib.sha256()
        for i in sorted(str(x) for x in self.ids[np.asarray(list(positions), dtype=np.int64)]):
            h.update(i.encode() + b"\0")
        return h.hexdigest()
