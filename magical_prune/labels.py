"""Labels from raw post-layout metrics: 1 = prune = among the worst of the design space.

A data set stores each layout's raw metrics, never labels, so one data set serves any
metric and any cut. Labelling ranks the layouts by *badness* (``|offset|`` for the offset,
``-value`` for metrics where larger is better) and calls the worst ``worst_percent`` of them
"prune" (label 1). The cut is also returned as a *critical value* in the metric's own units,
so another set (the test set of a few-shot experiment) can be labelled with the same cut.

Ties: the number of positives is ``k = round(n * worst_percent / 100)`` (halves round up),
at least 1. The critical badness is the badness of the ``k``-th worst layout, and every
layout at least that bad is labelled 1, so layouts with equal metric values always get the
same label; on a tie at the cut there are more than ``k`` positives. The same rule applies
to the kept best share of a balanced set (every layout at most as bad as the ``k``-th best
is kept). Nothing depends on the order of the layouts.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import numpy as np

from magical_prune.errors import MagicalPruneError
from magical_prune.registry import Registry

Direction = Literal["smaller_abs", "smaller", "larger"]


@dataclass(frozen=True)
class MetricSpec:
    """A post-layout metric and which way is better.

    Attributes:
        name: the key in ``performance.txt`` (``Offset_Voltage``).
        better: ``"smaller_abs"`` (the magnitude should be small: offset, signed in the file),
            ``"smaller"`` (power, noise) or ``"larger"`` (CMRR, gain, UGF).
        unit: for messages and reports.
    """

    name: str
    better: Direction
    unit: str = ""

    def badness(self, values: np.ndarray) -> np.ndarray:
        """Map metric values to a score where larger is always worse."""
        values = np.asarray(values, dtype=np.float64)
        if self.better == "smaller_abs":
            return np.abs(values)
        if self.better == "smaller":
            return values.copy()
        return -values

    def value_of_badness(self, badness: float) -> float:
        """The metric value (in its units) at a given badness (``|value|`` for offsets)."""
        return float(-badness if self.better == "larger" else badness)


#: Metrics a data set can be labelled by; unknown names answer "did you mean".
METRICS: Registry[MetricSpec] = Registry("metric")
for _spec in (
    MetricSpec("Offset_Voltage", "smaller_abs", "V"),
    MetricSpec("CMRR", "larger", "dB"),
    MetricSpec("Gain", "larger", "dB"),
    MetricSpec("UGF", "larger", "Hz"),
    MetricSpec("PSRR", "larger", "dB"),
    MetricSpec("Phase_Margin", "larger", "deg"),
    MetricSpec("Power", "smaller", "W"),
    MetricSpec("Noise", "smaller", "V/sqrt(Hz)"),
):
    METRICS.add(_spec.name, _spec)


def get_metric(name: str) -> MetricSpec:
    """Look a metric up by its ``performance.txt`` name."""
    return METRICS.get(name)


@dataclass(frozen=True)
class LabelSpec:
    """How labels are made from raw metrics (saved with every model).

    Attributes:
        metric: the ``performance.txt`` key to rank by; ``None`` for a data set that only
            carries stored labels (the imported UT-AnLay set).
        worst_percent: share of the set, in percent, labelled 1 (prune).
        balanced: keep only the worst ``worst_percent`` (label 1) and the best
            ``worst_percent`` (label 0), as for the paper's baseline model.
    """

    metric: str | None = "Offset_Voltage"
    worst_percent: float = 25.0
    balanced: bool = False

    def __post_init__(self) -> None:
        check_worst_percent(self.worst_percent, self.balanced)


@dataclass(frozen=True)
class Labels:
    """The outcome of labelling a set of layouts.

    Attributes:
        labels: ``(n,)`` int64, 1 = prune, for every layout (also those a balanced set
            leaves out, which get the label of their side of the cut).
        kept: ``(n,)`` bool, the layouts the labelled set keeps (all, unless balanced).
        critical_value: the cut in the metric's units: for ``smaller_abs`` metrics layouts
            with ``|value| >= critical_value`` are labelled 1; for ``larger`` ones layouts
            with ``value <= critical_value``; for ``smaller`` ones ``value >=``.
        best_value: for balanced sets, the cut of the kept best share (same units), else
            ``None``.
        metric: the metric labelled by.
    """

    labels: np.ndarray
    kept: np.ndarray
    critical_value: float
    best_value: float | None
    metric: MetricSpec

    @property
    def positive_rate(self) -> float:
        """Share of label 1 among the kept layouts."""
        kept = self.labels[self.kept]
        return float(kept.mean()) if len(kept) else 0.0


def check_worst_percent(worst_percent: float, balanced: bool) -> None:
    """Refuse a cut that leaves nothing to learn."""
    if not (0.0 < worst_percent < 100.0) or math.isnan(worst_percent):
        raise MagicalPruneError(f"worst percent must be in (0, 100), got {worst_percent}")
    if balanced and worst_percent > 50.0:
        raise MagicalPruneError(
            f"a balanced set keeps the worst and the best {worst_percent}%: "
            "that needs worst percent <= 50"
        )


def count_of(n: int, percent: float) -> int:
    """How many of ``n`` layouts are ``percent`` of them: round half up, at least 1."""
    if n <= 0:
        return 0
    return min(n, max(1, int(math.floor(n * percent / 100.0 + 0.5))))


def label_by_rank(
    values: np.ndarray,
    metric: str | MetricSpec,
    worst_percent: float = 25.0,
    balanced: bool = False,
) -> Labels:
    """Label layouts by their rank on ``metric`` among themselves.

    Args:
        values: ``(n,)`` raw metric values of the layouts (offset signed, as simulated).
        metric: metric name or spec (gives the direction).
        worst_percent: share labelled 1 (prune).
        balanced: keep only the worst and the best ``worst_percent``.

    Raises:
        MagicalPruneError: empty input, a non-finite value, or a bad percentage.
    """
    spec = metric if isinstance(metric, MetricSpec) else get_metric(metric)
    check_worst_percent(worst_percent, balanced)
    values = np.asarray(values, dtype=np.float64).reshape(-1)
    if len(values) == 0:
        raise MagicalPruneError(f"no layouts to label by {spec.name}")
    bad = ~np.isfinite(values)
    if bad.any():
        raise MagicalPruneError(
            f"{int(bad.sum())} of {len(values)} values of {spec.name} are not finite"
        )
    badness = spec.badness(values)
    k = count_of(len(values), worst_percent)
    ordered = np.sort(badness, kind="stable")
    critical = ordered[-k]
    labels = (badness >= critical).astype(np.int64)
    kept = np.ones(len(values), dtype=bool)
    best_value = None
    if balanced:
        best_cut = ordered[k - 1]
        kept = (labels == 1) | (badness <= best_cut)
        best_value = spec.value_of_badness(best_cut)
    return Labels(labels, kept, spec.value_of_badness(critical), best_value, spec)


def label_at(values: np.ndarray, metric: str | MetricSpec, critical_value: float) -> np.ndarray:
    """Label layouts against a given critical value (the cut of :func:`label_by_rank`).

    The few-shot protocol labels the shots by rank among themselves, then labels the test
    set with the shots' critical value; the test set's share of positives then varies.
    """
    spec = metric if isinstance(metric, MetricSpec) else get_metric(metric)
    values = np.asarray(values, dtype=np.float64).reshape(-1)
    if not np.all(np.isfinite(values)):
        raise MagicalPruneError(f"values of {spec.name} are not all finite")
    # for smaller_abs metrics the critical value is already a magnitude
    critical_badness = spec.badness(np.array([critical_value]))[0]
    return (spec.badness(values) >= critical_badness).astype(np.int64)
