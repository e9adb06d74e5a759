"""The feedback a flow gives the pruning hook: decisions awaiting results, collected results,
their labels by (weighted) rank, and the collected results as training data. A candidate is
known by its :func:`fingerprint`, so a result finds the decision it answers."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from magical_prune.features import FeatureStack, add_coordinate_channels
from magical_prune.labels import get_metric, label_by_rank
from magical_prune.placement import Placement

__all__ = ["InMemorySource", "Pending", "Results", "fingerprint", "weighted_rank_labels"]


@dataclass
class Pending:
    """A decided candidate awaiting feedback: its score then, and its keep weight."""

    score: float
    weight: float
    version: int


_COLUMNS = ("images", "values", "scores", "weights", "sources")


@dataclass
class Results:
    """Collected feedback, in arrival order."""

    images: list[np.ndarray] = field(default_factory=list)  # (6, H, W) float32 intensity
    values: list[float] = field(default_factory=list)
    scores: list[float] = field(default_factory=list)  # out-of-sample score at decision time
    weights: list[float] = field(default_factory=list)
    sources: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.values)

    def add(self, image: np.ndarray, value: float, pending: Pending, source: str) -> None:
        self.images.append(np.array(image, dtype=np.float32))
        self.values.append(value)
        self.scores.append(pending.score)
        self.weights.append(pending.weight)
        self.sources.append(source)

    def drop_oldest(self, keep: int) -> None:
        for name in _COLUMNS:
            setattr(self, name, getattr(self, name)[-keep:])

    def snapshot(self) -> Results:
        """A copy a background fine-tuning can read while new results arrive."""
        return Results(*(list(getattr(self, name)) for name in _COLUMNS))


class InMemorySource:
    """Collected results as the training loop reads them (a
    :class:`~magical_prune.training.LabelledSource`): stored images, coordinate channels
    added per batch."""

    def __init__(self, images: np.ndarray, labels: np.ndarray) -> None:
        self.images = images
        self.labels = labels

    def __len__(self) -> int:
        return len(self.labels)

    def features(self, positions: np.ndarray, device: Any = "cpu") -> torch.Tensor:
        x = add_coordinate_channels(self.images[np.asarray(positions, dtype=np.int64)])
        return torch.from_numpy(x).to(device)


def weighted_rank_labels(
    values: np.ndarray, metric: str, worst_percent: float, weights: np.ndarray | None = None
) -> tuple[np.ndarray, float]:
    """Label results by rank among themselves: 1 for the worst ``worst_percent``.

    With equal weights this is :func:`magical_prune.labels.label_by_rank` (the paper's
    rule). With unequal weights the cut is the weighted quantile: the badness at which the
    weight of results at least that bad first reaches ``worst_percent`` of the total weight.

    Returns:
        ``(labels, critical_value)``; the critical value is in the metric's units.
    """
    values = np.asarray(values, dtype=np.float64)
    if weights is None or np.allclose(weights, weights[0]):
        result = label_by_rank(values, metric, worst_percent)
        return result.labels, result.critical_value
    spec = get_metric(metric)
    badness = spec.badness(values)
    order = np.argsort(-badness, kind="stable")
    mass = np.cumsum(np.asarray(weights, dtype=np.float64)[order])
    k = int(np.searchsorted(mass, mass[-1] * worst_percent / 100.0 - 1e-9))
    critical = badness[order[min(k, len(order) - 1)]]
    return (badness >= critical).astype(np.int64), spec.value_of_badness(critical)


def fingerprint(item: Placement | FeatureStack) -> str:
    """Identity of a candidate (same geometry -> same id), to match feedback to decisions."""
    h = hashlib.blake2b(digest_size=12)
    if isinstance(item, FeatureStack):
        h.update(np.ascontiguousarray(item.array).tobytes())
    else:
        h.update("\0".join(item.names).encode())
        h.update(np.ascontiguousarray(item.rects, dtype=np.int64).tobytes())
        h.update(np.ascontiguousarray(item.pin_boxes, dtype=np.int64).tobytes())
    return h.hexdigest()
