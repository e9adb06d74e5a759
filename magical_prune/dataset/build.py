"""Building a data set from layout folders: read results, rasterize, write one file.

The core reads no flow files itself: the caller passes ``load`` and ``read_performance``
from an adapter. Rasterizing runs here, in a local process pool (workers that die with
this process) or on a Dask cluster; the file is written here and is the same every way.
"""

from __future__ import annotations

import concurrent.futures as cf
import math
import multiprocessing as mp
import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from magical_prune._workers import die_with_parent
from magical_prune.cluster import chunked_map
from magical_prune.dataset.codec import to_float16
from magical_prune.dataset.writer import DataSetWriter
from magical_prune.errors import MagicalPruneError
from magical_prune.features import IMAGE_NAMES, FeatureConfig, rasterize
from magical_prune.geometry import column_digest, geometry_vectors

__all__ = [
    "FEATURE_CONVENTIONS",
    "BuildReport",
    "Failed",
    "GeometryRow",
    "build_dataset",
    "check_performance",
    "geometry_row",
]

#: recorded in every built data set, so a reader knows what the images mean
FEATURE_CONVENTIONS = (
    "images span the bounding box of all devices, each axis scaled on its own; row 0 is "
    "the lowest y, column 0 the lowest x; sub-circuit images hold the device type intensity "
    "(NMOS 0.25, PMOS 0.5, CAP 0.75, RES 1.0) times the covered pixel fraction; the routing "
    "image sums, over nets (bulk pins excluded), the pixel fraction covered by the net's "
    "pin bounding box; coordinate channels (Algorithm 1) are not stored and are recomputed "
    "on load with magical_prune.features.add_coordinate_channels"
)
#: layouts per cluster task of a data-set build (a few ms each: amortise Dask's ~10 ms)
_REMOTE_CHUNK = 64

Performance = Mapping[str, float] | None


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
    performances: Mapping[str, Performance],
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
class GeometryRow:
    """A layout's geometric vector (what the geometry learner reads) and its design identity."""

    vector: np.ndarray
    digest: str
    widths: tuple[int, ...]
    devices: tuple[str, ...]


def geometry_row(placement: Any) -> GeometryRow | None:
    """The row of a placement; None where the vectors cannot be made (the images still can)."""
    try:
        vectors = geometry_vectors(placement)  # once: it is most of a row's cost
        return GeometryRow(vectors.flat(), column_digest(placement), vectors.widths,
                           tuple(placement.names))  # fmt: skip
    except (MagicalPruneError, ValueError, IndexError):
        return None


Rasterized = tuple[np.ndarray | None, GeometryRow | None, str | None]


@dataclass(frozen=True)
class _Rasterize:
    """Picklable worker: layout folder -> (images, geometry row, error)."""

    load: Callable[[Path], Any]
    size: int
    rasterizer: str

    def __call__(self, layout: Path) -> Rasterized:
        return self.images(self.read(layout))

    def read(self, layout: Path) -> Any:
        """The layout's placement, or why it cannot be read (a cluster run reads on the
        client, so workers need not see the layout folders)."""
        try:
            return self.load(layout)
        except MagicalPruneError as err:
            return str(err)

    def images(self, placement: Any) -> Rasterized:
        """Feature images and geometry row of a placement from :meth:`read` (or the reason
        passed on)."""
        if isinstance(placement, str):
            return None, None, placement
        try:
            images = to_float16(rasterize(placement, self.size, self.rasterizer))
        except MagicalPruneError as err:
            return None, None, str(err)
        return images, geometry_row(placement), None


def build_dataset(
    layouts: Sequence[Path],
    out: str | os.PathLike[str],
    *,
    load: Callable[[Path], Any],
    read_performance: Callable[[Path], Performance],
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
    layouts = [Path(p) for p in layouts]
    ids = _layout_ids(layouts)
    perf, columns, failed = _read_results(ids, layouts, read_performance)
    todo = [(lid, p) for lid, p in zip(ids, layouts) if lid not in failed]
    meta = _provenance(size, rasterizer, attrs)
    worker = _Rasterize(load, size, rasterizer)
    with DataSetWriter(Path(out), size, IMAGE_NAMES, meta) as writer:
        bar = tqdm(total=len(todo), desc="layouts", unit="layout", disable=not progress)
        mapped = _rasterized(worker, [p for _, p in todo], jobs, executor)
        for (lid, _), (images, geometry, err) in zip(todo, mapped):
            bar.update()
            if err is not None:
                failed[lid] = err
                continue
            writer.add(lid, images, {k: float(perf[lid].get(k, math.nan)) for k in columns},
                       geometry=geometry)  # fmt: skip
        bar.close()
        if writer.n_rows == 0:
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
    return BuildReport(writer.path, len(layouts), writer.n_rows, failed_sorted, columns,
                       writer.content_hash)  # fmt: skip


def _layout_ids(layouts: Sequence[Path]) -> list[str]:
    """The layout folders' names, which are the ids: at least one, and unique."""
    if not layouts:
        raise MagicalPruneError("no layout folders to build a data set from")
    ids = [p.name for p in layouts]
    if len(set(ids)) != len(ids):
        dup = next(i for i in ids if ids.count(i) > 1)
        raise MagicalPruneError(f"two layout folders are named {dup!r}; ids must be unique")
    return ids


def _read_results(
    ids: Sequence[str], layouts: Sequence[Path], read_performance: Callable[[Path], Performance]
) -> tuple[dict[str, Performance], list[str], dict[str, str]]:
    """Every layout's simulation result, the metric columns, and the layouts that failed
    (no usable result, or one that cannot be read)."""
    perf: dict[str, Performance] = {}
    unreadable: dict[str, str] = {}
    for lid, p in zip(ids, layouts):
        try:
            perf[lid] = read_performance(p)
        except MagicalPruneError as err:
            perf[lid] = None
            unreadable[lid] = f"unreadable simulation result: {err}"
    columns, failed = check_performance(perf)
    failed.update(unreadable)
    return perf, columns, failed


def _provenance(size: int, rasterizer: str, attrs: Mapping[str, Any] | None) -> dict[str, Any]:
    """The feature attributes of a built file, then the caller's; an unknown rasterizer
    fails here, before any file is written."""
    config = FeatureConfig(size=size, rasterizer=rasterizer)
    return {
        "image_size": size,
        "rasterizer": rasterizer,
        "feature_config": config.to_dict(),
        "feature_conventions": FEATURE_CONVENTIONS,
        **(attrs or {}),
    }


def _rasterized(
    worker: _Rasterize, paths: Sequence[Path], jobs: int, executor: cf.Executor | None
) -> Iterator[Rasterized]:
    """``worker`` over ``paths`` in order: locally, or placements read here and rasterized
    on ``executor``."""
    if executor is None:
        return _map(worker, paths, jobs)
    placements = (worker.read(p) for p in paths)
    return chunked_map(executor, worker.images, placements, _REMOTE_CHUNK, 4 * jobs)


def _map(worker: Callable[[Path], Any], items: Sequence[Path], jobs: int) -> Iterator[Any]:
    """Ordered map, in this process or a pool of ``jobs`` workers that die with it (also
    when it is killed with SIGKILL and no cleanup runs)."""
    if jobs <= 1 or len(items) < 2:
        yield from map(worker, items)
        return
    ctx = mp.get_context("fork" if "fork" in mp.get_all_start_methods() else "spawn")
    with ctx.Pool(jobs, initializer=die_with_parent, initargs=(os.getpid(),)) as pool:
        yield from pool.imap(worker, items, chunksize=max(1, min(32, len(items) // (4 * jobs))))
