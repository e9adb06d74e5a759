"""How values are stored in a data-set file: format marker, float16 images, attributes, hash.

Kept in one place so the writer and the reader cannot disagree about an encoding, and so
the content hash that models record as their training data's identity has one definition.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import asdict, is_dataclass
from pathlib import Path
from typing import Any

import numpy as np

from magical_prune.errors import MagicalPruneError

__all__ = ["FORMAT", "FORMAT_VERSION", "to_float16", "encode_attr", "decode_attr"]

FORMAT = "magical-prune-dataset"
FORMAT_VERSION = 1
_FLOAT16_TINY = np.float16(np.finfo(np.float16).smallest_subnormal)


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


class _ContentHash:
    """SHA-256 over ids, metric names, metrics, labels and images, in row order."""

    def __init__(self) -> None:
        self._ids = hashlib.sha256()
        self._images = hashlib.sha256()

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


def encode_attr(value: Any) -> Any:
    """An HDF5 attribute value: dataclasses, dicts and lists as JSON, None as ``"null"``."""
    if is_dataclass(value) and not isinstance(value, type):
        value = asdict(value)
    if isinstance(value, (dict, list, tuple)):
        return json.dumps(value, sort_keys=isinstance(value, dict), default=str)
    if value is None:
        return "null"
    if isinstance(value, Path):
        return str(value)
    return value


def decode_attr(value: Any) -> Any:
    """The inverse of :func:`encode_attr` (JSON decoded, numpy scalars as Python ones)."""
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
