"""Labelled views of a data set: labels for one metric and cut, train/test splits, tensors.

Labels are computed on use from the raw metrics (:mod:`magical_prune.labels`), so one file
serves any metric and cut; splits depend on the file's rows and a seed only, so growing
the training share only adds layouts and the test set never moves.
"""

from __future__ import annotations

import hashlib
import math
import os
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np

from magical_prune.dataset.reader import DataFile, open_dataset
from magical_prune.errors import MagicalPruneError
from magical_prune.features import add_coordinate_channels
from magical_prune.labels import LabelSpec, get_metric, label_by_rank

__all__ = ["LabelledDataset", "Split", "split_positions"]


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
        import torch  # heavy: only when tensors are asked for

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
