"""What a decision threshold trades: FOR against the good layouts it throws away.

A target FOR is chosen blind unless one sees what every threshold costs. Pruning more
lowers the FOR (bad layouts among those kept) and raises the share of good layouts pruned
with the bad ones; pruning at random leaves the FOR at the share of bad layouts and prunes
good layouts at the prune rate itself. :func:`tradeoff` condenses the whole curve of
:func:`magical_prune.calibrate.for_curve` to at most a few hundred points (for JSON and plots)
and marks the operating point of one threshold on it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from magical_prune.calibrate import for_curve

__all__ = ["Tradeoff", "operating_point", "tradeoff"]

#: most curve points kept: enough to draw and read it, few enough for one JSON line
MAX_POINTS = 201


@dataclass(frozen=True)
class Tradeoff:
    """The FOR / good-pruned curve over the prune rate, and one threshold on it.

    Attributes:
        prune_rate, for_, good_pruned, bad_pruned, threshold: the curve, from pruning
            nothing to pruning all (``for_`` is NaN where nothing is kept, ``threshold``
            above 1 where nothing is pruned).
        base_rate: share of bad layouts: the FOR of keeping all or of pruning at random.
        n: layouts the curve was measured on.
        chosen: the operating point of the threshold in use (``threshold``,
            ``prune_rate``, ``for``, ``good_pruned``, ``bad_pruned``; None = undefined).
        target_for: the FOR asked for, when a calibration chose the threshold.
    """

    prune_rate: np.ndarray
    for_: np.ndarray
    good_pruned: np.ndarray
    bad_pruned: np.ndarray
    threshold: np.ndarray
    base_rate: float
    n: int
    chosen: dict[str, float | None]
    target_for: float | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: numbers to 6 decimals, undefined values and "prune nothing"
        thresholds (above 1) as null."""
        return {
            "n": self.n,
            "base_rate": _num(self.base_rate),
            "target_for": _num(self.target_for),
            "chosen": {k: _num(v) for k, v in self.chosen.items()},
            "prune_rate": [_num(v) for v in self.prune_rate],
            "for": [_num(v) for v in self.for_],
            "good_pruned": [_num(v) for v in self.good_pruned],
            "bad_pruned": [_num(v) for v in self.bad_pruned],
            "threshold": [None if v > 1.0 else _num(v) for v in self.threshold],
        }


def _num(value: float | None) -> float | None:
    if value is None or math.isnan(float(value)):
        return None
    return round(float(value), 6)


def _ratio(part: float, whole: float) -> float | None:
    return None if whole <= 0 else part / whole


def operating_point(
    scores: np.ndarray | Sequence[float], labels: np.ndarray | Sequence[int], threshold: float
) -> dict[str, float | None]:
    """Prune rate, FOR, and shares of good and bad layouts pruned at ``threshold``
    (prune when ``score >= threshold``); None where a share has nothing to divide by."""
    s = np.asarray(scores, dtype=np.float64).reshape(-1)
    y = np.asarray(labels).reshape(-1).astype(bool)
    pruned = s >= threshold
    kept_bad = float((~pruned & y).sum())
    return {
        "threshold": float(threshold),
        "prune_rate": _ratio(float(pruned.sum()), float(len(s))),
        "for": _ratio(kept_bad, float((~pruned).sum())),
        "good_pruned": _ratio(float((pruned & ~y).sum()), float((~y).sum())),
        "bad_pruned": _ratio(float((pruned & y).sum()), float(y.sum())),
    }


def _thin(prune_rate: np.ndarray, max_points: int) -> np.ndarray:
    """Indices of at most ``max_points`` entries spread evenly over the prune rate (the
    first and last always among them)."""
    if len(prune_rate) <= max_points:
        return np.arange(len(prune_rate))
    grid = np.linspace(0.0, 1.0, max_points)
    picked = np.searchsorted(prune_rate, grid).clip(0, len(prune_rate) - 1)
    return np.unique(np.concatenate([[0], picked, [len(prune_rate) - 1]]))


def tradeoff(
    scores: np.ndarray | Sequence[float],
    labels: np.ndarray | Sequence[int],
    threshold: float,
    target_for: float | None = None,
    max_points: int = MAX_POINTS,
) -> Tradeoff:
    """The trade-off curve of these scores and labels, with ``threshold`` marked on it.

    Raises:
        MagicalPruneError: scores and labels that do not match, or no layouts.
    """
    s = np.asarray(scores, dtype=np.float64).reshape(-1)
    y = np.asarray(labels).reshape(-1)
    c = for_curve(s, y)
    keep = _thin(c["prune_rate"], max_points)
    return Tradeoff(
        prune_rate=c["prune_rate"][keep],
        for_=c["for"][keep],
        good_pruned=c["good_pruned"][keep],
        bad_pruned=c["bad_pruned"][keep],
        threshold=c["threshold"][keep],
        base_rate=float(c["for"][0]),
        n=int(len(s)),
        chosen=operating_point(s, y, threshold),
        target_for=target_for,
    )
