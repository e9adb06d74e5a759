"""Choosing the decision threshold for a target false omission rate (FOR).

Torch-free: every learner's scores are calibrated here, CNN or not.

FOR (bad layouts among those kept) *falls* as more is pruned, because what is kept is what
the model is surest is good -- keeping only the single best-scored layout usually gives FOR 0.
So "prune as much as possible while FOR <= target" would prune nearly everything and lose
almost every good placement with the bad ones. The useful end is the other one: the *highest*
threshold at which the FOR reaches the target, i.e. prune just enough to bring the share of bad
layouts among those kept down to the target, losing as few good placements as possible on the
way. The calibration reports what that costs (prune rate, share of good layouts pruned) next
to what it achieves. All thresholds are swept at once over the sorted scores.

When no threshold meets the target (the lowest FOR reachable while keeping anything is above
it), the result says so (``feasible=False``) and its threshold is :data:`NO_PRUNE`, which keeps
everything: a pruner that cannot deliver the promised FOR should not prune.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from magical_prune.errors import MagicalPruneError

__all__ = [
    "NO_PRUNE",
    "Calibration",
    "calibrate_threshold",
    "check_margin",
    "check_threshold",
    "explored_weight",
    "for_curve",
    "wilson_upper",
]

#: a threshold above every probability: nothing is pruned
NO_PRUNE = math.nextafter(1.0, math.inf)


def check_threshold(value: float, where: str | None = None) -> float:
    """A usable threshold: finite and >= 0 (above 1 nothing is pruned)."""
    try:
        t = float(value)
    except (TypeError, ValueError):
        raise MagicalPruneError(f"threshold must be a number, got {value!r}", where) from None
    if not math.isfinite(t) or t < 0:
        raise MagicalPruneError(f"threshold must be a finite number >= 0, got {value!r}", where)
    return t


def check_margin(value: float, name: str = "margin") -> float:
    """A usable FOR margin (standard errors kept under the target): finite and >= 0."""
    if not (math.isfinite(float(value)) and float(value) >= 0.0):
        raise MagicalPruneError(f"{name} must be a number >= 0, got {value}")
    return float(value)


def wilson_upper(rate: np.ndarray, count: np.ndarray, z: float) -> np.ndarray:
    """Upper end of Wilson's score interval of a proportion ``rate`` seen on ``count``
    (effective) results, ``z`` standard errors wide; ``rate`` itself at ``z = 0``, and NaN
    where ``rate`` is. Unlike ``rate + z * se`` it stays above 0 when no bad result is kept
    (about ``z**2 / count``), where the normal error is 0 and promises a FOR of 0."""
    p = np.asarray(rate, dtype=np.float64)
    if z == 0:
        return p
    n = np.maximum(np.asarray(count, dtype=np.float64), 1e-12)
    z2 = z * z
    with np.errstate(invalid="ignore"):
        spread = z * np.sqrt(p * (1.0 - p) / n + z2 / (4.0 * n * n))
    return (p + z2 / (2.0 * n) + spread) / (1.0 + z2 / n)


def explored_weight(pruned: int, explored: int) -> float:
    """What one explored result stands for in the weights of :func:`for_curve`: the
    candidates decided at or above the threshold (``pruned + explored``) over those explored,
    as counted. Both hooks weight their explored results so, not by the nominal
    ``1 / explore``, whose draws' binomial noise would move the worst-quarter cut."""
    return (pruned + explored) / explored


# -- threshold calibration ------------------------------------------------------------------
@dataclass(frozen=True)
class Calibration:
    """The outcome of choosing a threshold for a target FOR.

    Attributes:
        threshold: prune when ``score >= threshold`` (:data:`NO_PRUNE` when infeasible, or
            when the FOR of keeping everything already meets the target).
        target_for: the FOR asked for.
        feasible: some threshold brings the FOR to the target or under.
        achieved_for: FOR on the calibration data at ``threshold``.
        prune_rate: share of the calibration data pruned at ``threshold`` (the saving).
        good_pruned: share of the good layouts pruned (the cost: good placements lost).
        bad_pruned: share of the bad layouts pruned (recall).
        n: calibration layouts (weighted count when weights are given).
        n_bad: bad layouts among them (label 1, weighted).
        base_rate: ``n_bad / n``: the FOR of keeping everything or pruning at random.
        best_for: the lowest FOR any threshold reaches while keeping something.
        best_for_threshold, best_for_prune_rate: where it is first reached.
    """

    threshold: float
    target_for: float
    feasible: bool
    achieved_for: float
    prune_rate: float
    good_pruned: float | None
    bad_pruned: float | None
    n: float
    n_bad: float
    base_rate: float
    best_for: float
    best_for_threshold: float
    best_for_prune_rate: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def describe(self) -> str:
        """One human line."""
        if not self.feasible:
            return (
                f"no threshold keeps FOR <= {100 * self.target_for:.2f}%: the lowest FOR is "
                f"{_pct(self.best_for)} (prune rate {_pct(self.best_for_prune_rate)}, threshold "
                f"{_num(self.best_for_threshold)}); keeping all gives {_pct(self.base_rate)}"
            )
        return (
            f"threshold {_num(self.threshold)}: FOR {_pct(self.achieved_for)} (target <= "
            f"{100 * self.target_for:.2f}%, keeping all {_pct(self.base_rate)}), prune rate "
            f"{_pct(self.prune_rate)}, bad pruned {_pct(self.bad_pruned)}, good pruned "
            f"{_pct(self.good_pruned)}"
        )


def _pct(x: float | None) -> str:
    return "n/a" if x is None else f"{100 * x:.2f}%"


def _num(x: float | None) -> str:
    if x is None:
        return "n/a"
    return "none (prunes nothing)" if x > 1.0 else f"{x:.4f}"


def _check_scores_labels(
    scores: Iterable[float], labels: Iterable[int], weights: Iterable[float] | None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    s = np.asarray(scores, dtype=np.float64).reshape(-1)
    y = np.asarray(labels).reshape(-1)
    if s.shape != y.shape:
        raise MagicalPruneError(f"{len(s)} scores but {len(y)} labels")
    if len(s) == 0:
        raise MagicalPruneError("no layouts to calibrate on")
    if not np.all(np.isfinite(s)):
        raise MagicalPruneError("scores must be finite (the model gave NaN)")
    if not np.isin(y, (0, 1)).all():
        raise MagicalPruneError("labels must be 0 or 1")
    w = np.ones(len(s)) if weights is None else np.asarray(weights, dtype=np.float64).reshape(-1)
    if w.shape != s.shape or not np.all(np.isfinite(w)) or np.any(w <= 0):
        raise MagicalPruneError("weights must be positive and one per layout")
    return s, y.astype(np.int64), w


def for_curve(
    scores: Iterable[float],
    labels: Iterable[int],
    weights: Iterable[float] | None = None,
    explored: float = 0.0,
) -> dict[str, np.ndarray]:
    """Every distinct decision the scores allow, from pruning nothing to pruning all.

    Entry ``j`` prunes the layouts with ``score >= threshold[j]``; entry 0 prunes nothing
    (threshold :data:`NO_PRUNE`), the last prunes all. Layouts with equal scores are always
    decided together. A threshold lies halfway between the last pruned and the first kept
    score (the same decisions on these layouts, and no bias either way on new ones).

    Args:
        scores: P(prune) of each layout.
        labels: 1 = bad (prune), 0 = good.
        weights: optional positive weight per layout (inverse sampling probabilities, as the
            hook uses for explored candidates); counts and rates are then weighted.
        explored: share of the layouts at or above a threshold that are kept anyway (a
            hook's exploration). They are kept, so they count in the FOR a user sees: a hook
            exploring 5% that prunes 27% of candidates, ~70% of them bad, keeps ~1 point
            more bad candidates than a curve without them promises.

    Returns:
        ``threshold``, ``pruned`` (weighted count), ``prune_rate``, ``for`` (NaN where
        nothing is kept), ``good_pruned`` and ``bad_pruned`` (NaN without good / bad
        layouts), ``for_se`` (the FOR's standard error, from the kept layouts' effective
        count ``kept_effective``), one entry per distinct decision; ``total``: the
        (weighted) layouts.
    """
    s, y, w = _check_scores_labels(scores, labels, weights)
    if not 0.0 <= float(explored) <= 1.0:
        raise MagicalPruneError(f"explored share must be in [0, 1], got {explored}")
    order = np.argsort(-s, kind="stable")
    s, y, w = s[order], y[order], w[order]
    total, bad = float(w.sum()), float((w * y).sum())
    good = total - bad
    # cut after position k-1 (k pruned) only where the score drops: ties stay together
    drops = np.nonzero(s[:-1] > s[1:])[0] + 1
    cuts = np.concatenate([[0], drops, [len(s)]])
    pruned_w = (1.0 - explored) * np.concatenate([[0.0], np.cumsum(w)])[cuts]
    pruned_bad = (1.0 - explored) * np.concatenate([[0.0], np.cumsum(w * y)])[cuts]
    kept = total - pruned_w
    # the kept layouts' effective count (Kish): weighted results are fewer than they weigh
    pruned_sq = np.concatenate([[0.0], np.cumsum(w * w)])[cuts]
    kept_sq = float((w * w).sum()) - (1.0 - explored**2) * pruned_sq
    tiny = 1e-12 * total
    with np.errstate(invalid="ignore", divide="ignore"):
        for_ = np.where(kept > tiny, (bad - pruned_bad) / kept, np.nan)
        for_se = np.sqrt(for_ * (1.0 - for_) * np.maximum(kept_sq, 0.0)) / kept
        kept_effective = np.where(kept_sq > 0, kept**2 / np.maximum(kept_sq, tiny**2), 0.0)
        good_pruned = np.full(len(cuts), np.nan) if good <= tiny else (pruned_w - pruned_bad) / good
        bad_pruned = np.full(len(cuts), np.nan) if bad <= tiny else pruned_bad / bad
    threshold = np.concatenate([[NO_PRUNE], (s[drops - 1] + s[drops]) / 2.0, [s[-1]]])
    return {"threshold": threshold, "pruned": pruned_w, "prune_rate": pruned_w / total,
            "for": for_, "for_se": for_se, "kept_effective": kept_effective,
            "good_pruned": good_pruned,
            "bad_pruned": bad_pruned, "total": np.float64(total)}  # fmt: skip


def calibrate_threshold(
    scores: Iterable[float],
    labels: Iterable[int],
    target_for: float,
    weights: Iterable[float] | None = None,
    explored: float = 0.0,
    margin: float = 0.0,
) -> Calibration:
    """The highest threshold (least pruning) at which FOR <= ``target_for``.

    See the module docstring for why the least pruning, not the most.

    Args:
        scores: P(prune) of held-out layouts.
        labels: their true labels (1 = bad).
        target_for: the highest acceptable share of bad layouts among those kept.
        weights: optional positive weights per layout (see :func:`for_curve`).
        explored: share of the would-be-pruned layouts kept anyway (see :func:`for_curve`).
        margin: standard errors of the FOR estimate to keep under the target (0: the
            estimate itself); a guard against the estimate's noise on few results. The
            bound is Wilson's (:func:`wilson_upper`), not estimate + margin * error, so a
            FOR of 0 on a few kept results does not count as certain.

    Returns:
        The chosen threshold and what it achieves and costs on these layouts;
        ``feasible=False`` (threshold :data:`NO_PRUNE`) when no threshold meets the target.
    """
    if not (0.0 <= float(target_for) <= 1.0) or math.isnan(float(target_for)):
        raise MagicalPruneError(f"target FOR must be in [0, 1], got {target_for}")
    c = for_curve(scores, labels, weights, explored)
    for_ = c["for"]
    defined = ~np.isnan(for_)  # everything but pruning all (when nothing is explored)
    best = int(np.argmin(np.where(defined, for_, np.inf)))

    def rate(key: str, j: int) -> float | None:
        v = float(c[key][j])
        return None if math.isnan(v) else v

    upper = wilson_upper(for_, c["kept_effective"], check_margin(margin))
    ok = np.nonzero(defined & (upper <= float(target_for) + 1e-12))[0]
    j = int(ok[0]) if len(ok) else 0
    n = float(c["total"])
    return Calibration(
        threshold=float(c["threshold"][j]) if len(ok) else NO_PRUNE,
        target_for=float(target_for),
        feasible=bool(len(ok)),
        achieved_for=float(for_[j]),
        prune_rate=float(c["prune_rate"][j]),
        good_pruned=rate("good_pruned", j),
        bad_pruned=rate("bad_pruned", j),
        n=n,
        n_bad=float(for_[0] * n),
        base_rate=float(for_[0]),
        best_for=float(for_[best]),
        best_for_threshold=float(c["threshold"][best]),
        best_for_prune_rate=float(c["prune_rate"][best]),
    )
