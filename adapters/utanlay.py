"""Reader of the paper's public UT-AnLay data set (``data.hdf5``).

The file holds one HDF5 group per (design, metric, balanced?) set, named like
``OTA1_Offset_Voltage_False``: dataset ``images`` ``(N, 64, 64, 6)`` uint8 (the six feature
images, channels last: routing demand, first stage, other stages, feedback, CMFB, bias) and
dataset ``meta`` ``(N, 1)`` with the label of each placement (1 = worst 25%, to prune).
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import h5py
import numpy as np

from magical_prune._h5safe import check_storage, open_h5
from magical_prune.errors import MagicalPruneError

__all__ = ["UtAnlayGroup", "read_utanlay", "parse_group_name", "KNOWN_METRICS"]

#: Metric names as they appear in group names; longer ones first so ``Offset_Voltage`` is
#: recognised as one metric even though it contains ``_``.
KNOWN_METRICS: tuple[str, ...] = (
    "Offset_Voltage", "Phase_Margin", "Unity_Gain_Frequency", "CMRR", "PSRR", "Gain", "UGF",
    "Bandwidth", "Power", "Noise", "Offset",
)  # fmt: skip


@dataclass(frozen=True, eq=False)
class UtAnlayGroup:
    """One group of the data set.

    Attributes:
        name: the HDF5 group name (``OTA1_Offset_Voltage_False``).
        design: design part of the name (``OTA1``).
        metric: metric part (``Offset_Voltage``).
        balanced: the trailing ``True``/``False``: True for the balanced set (worst and best
            quarter only).
        images: ``(N, H, W, 6)`` array as stored (uint8 in the public file).
        labels: ``(N,)`` int64 labels (1 = worst 25%, prune).
    """

    name: str
    design: str
    metric: str
    balanced: bool
    images: np.ndarray
    labels: np.ndarray

    def __len__(self) -> int:
        return len(self.labels)


def parse_group_name(name: str) -> tuple[str, str, bool]:
    """``OTA1_Offset_Voltage_False`` -> ``("OTA1", "Offset_Voltage", False)``.

    The metric is matched against :data:`KNOWN_METRICS` at the end of the name so design
    names may contain ``_``; an unknown metric is everything after the first ``_``.
    """
    head, sep, flag = name.rpartition("_")
    if not sep or flag.lower() not in ("true", "false") or "_" not in head:
        raise MagicalPruneError(
            f"group name {name!r} is not <design>_<metric>_<True|False> (e.g. OTA1_CMRR_False)"
        )
    for metric in KNOWN_METRICS:
        if head.lower().endswith("_" + metric.lower()) and len(head) > len(metric) + 1:
            return head[: -len(metric) - 1], head[-len(metric) :], flag.lower() == "true"
    design, _, metric = head.partition("_")
    return design, metric, flag.lower() == "true"


def read_utanlay(
    path: str | os.PathLike[str], groups: Iterable[str] | None = None
) -> list[UtAnlayGroup]:
    """Read the groups of a UT-AnLay ``data.hdf5`` file (all of them, or those named).

    Raises:
        MagicalPruneError: the file is missing, not HDF5, holds no such groups, or a group's
            datasets have the wrong shape, a label other than 0/1, or mismatched lengths.
    """
    wanted = None if groups is None else list(groups)
    out: list[UtAnlayGroup] = []
    path = Path(path)
    with open_h5(path, "UT-AnLay file") as handle:  # damaged files: one error, no hang
        names = [k for k in handle if isinstance(handle[k], h5py.Group)]
        if wanted is not None:
            missing = [g for g in wanted if g not in names]
            if missing:
                raise MagicalPruneError(
                    f"no group {missing[0]!r} (have: {', '.join(sorted(names)) or 'none'})", path
                )
            names = wanted
        for name in sorted(names):
            group = handle[name]
            if "images" not in group or "meta" not in group:
                if wanted is None:
                    continue  # unrelated group
                raise MagicalPruneError(f"group {name!r} lacks 'images' or 'meta'", path)
            out.append(_read_group(name, group, path))
    if not out:
        raise MagicalPruneError(
            "not a UT-AnLay data set: no group holds 'images' and 'meta' datasets", path
        )
    return out


def _read_group(name: str, group: h5py.Group, path: str | os.PathLike[str]) -> UtAnlayGroup:
    try:
        design, metric, balanced = parse_group_name(name)
    except MagicalPruneError as err:
        raise err.at(path) from None
    images_ds, meta_ds = group["images"], group["meta"]
    if not isinstance(images_ds, h5py.Dataset) or not isinstance(meta_ds, h5py.Dataset):
        raise MagicalPruneError(f"group {name!r}: 'images' and 'meta' must be datasets", path)
    for ds in (images_ds, meta_ds):  # sizes must fit the file before anything is allocated
        check_storage(ds, Path(path))
    if images_ds.ndim != 4 or images_ds.shape[-1] != 6:
        raise MagicalPruneError(
            f"group {name!r}: images must be (N, H, W, 6), got {images_ds.shape}", path
        )
    if meta_ds.ndim not in (1, 2) or meta_ds.shape[0] != images_ds.shape[0]:
        raise MagicalPruneError(
            f"group {name!r}: meta must be (N, 1) with N = {images_ds.shape[0]}, "
            f"got {meta_ds.shape}",
            path,
        )
    images = images_ds[()]
    meta = np.asarray(meta_ds[()]).reshape(len(images), -1)
    if meta.shape[1] != 1 or not np.issubdtype(meta.dtype, np.number):
        raise MagicalPruneError(f"group {name!r}: meta must hold one number per image", path)
    labels = meta[:, 0]
    if not np.all(np.isin(labels, (0, 1))):
        raise MagicalPruneError(f"group {name!r}: labels must be 0 or 1", path)
    return UtAnlayGroup(name, design, metric, balanced, images, labels.astype(np.int64))
