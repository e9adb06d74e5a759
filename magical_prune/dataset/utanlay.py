"""Data sets with fixed stored labels, from images as the public UT-AnLay set ships them.

That set has no raw metrics, only a 0/1 label per layout, so the labels are stored and
used as they are (:mod:`magical_prune.adapters.utanlay` reads the source file).
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from magical_prune.dataset.build import BuildReport
from magical_prune.dataset.reader import LOAD_BLOCK
from magical_prune.dataset.writer import DataSetWriter
from magical_prune.errors import MagicalPruneError
from magical_prune.features import IMAGE_NAMES

__all__ = ["import_groups"]


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
