"""How good a pruning decision is: confusion counts, FOR, and the random-pruning baseline.

Positive = label 1 = "prune" (a bad layout). For a pruning flow the key figure is the false
omission rate, FOR = FN / (TN + FN): among the layouts the model lets through to routing and
simulation, the share that are bad anyway.

Random pruning: a pruner that drops a random share ``r < 1`` of the layouts keeps a uniform
random sample of them, so the expected share of bad layouts among those kept equals the
share of bad layouts in the whole set, whatever ``r`` is (exactly, for sampling without
replacement: the expected count of bad layouts among ``m`` kept is ``m * P / N``). So
:func:`random_for` is the base rate ``(TP + FN) / N``; on a set labelled at the worst 25%
it is 0.25, the paper's "FOR without pruning".

Undefined ratios: a ratio whose denominator is zero (precision when nothing is pruned, FOR
when everything is pruned, recall when there is no bad layout) is reported as ``None``,
never as 0, so a model that prunes everything is not mistaken for one with FOR 0. F1 is
``2 TP / (2 TP + FP + FN)``, ``None`` only when all three are zero.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from magical_prune.errors import MagicalPruneError


@dataclass(frozen=True)
class Confusion:
    """Confusion counts of a binary prune/keep decision (positive = prune)."""

    tp: int
    fp: int
    tn: int
    fn: int

    @property
    def n(self) -> int:
        return self.tp + self.fp + self.tn + self.fn


def confusion(y_true: Iterable[int] | np.ndarray, y_pred: Iterable[int] | np.ndarray) -> Confusion:
    """Count true/false positives/negatives of 0/1 labels and 0/1 predictions."""
    t = np.asarray(y_true).reshape(-1)
    p = np.asarray(y_pred).reshape(-1)
    if t.shape != p.shape:
        raise MagicalPruneError(f"{len(t)} labels but {len(p)} predictions")
    for name, a in (("labels", t), ("predictions", p)):
        if a.size and not np.isin(a, (0, 1)).all():
            raise MagicalPruneError(f"{name} must be 0 or 1")
    t = t.astype(bool)
    p = p.astype(bool)
    return Confusion(
        tp=int(np.sum(t & p)),
        fp=int(np.sum(~t & p)),
        tn=int(np.sum(~t & ~p)),
        fn=int(np.sum(t & ~p)),
    )


def _ratio(num: int, den: int) -> float | None:
    return None if den == 0 else num / den


def false_omission_rate(c: Confusion) -> float | None:
    """FN / (TN + FN): bad layouts among those kept; ``None`` when nothing is kept."""
    return _ratio(c.fn, c.tn + c.fn)


def random_for(c: Confusion) -> float | None:
    """Expected FOR of pruning at random at any prune rate below 1: the base rate."""
    return _ratio(c.tp + c.fn, c.n)


def summarize(c: Confusion) -> dict[str, Any]:
    """All figures of one decision as a flat, JSON-ready dict (ratios in 0..1 or None).

    Keys: ``n, tp, fp, tn, fn, accuracy, precision, recall, f1, for, prune_rate,
    positive_rate, random_for, for_reduction`` (``1 - for / random_for``: how much of the
    bad-layout leakage of random pruning the model removes).
    """
    f1_den = 2 * c.tp + c.fp + c.fn
    for_ = false_omission_rate(c)
    rand = random_for(c)
    return {
        **asdict(c),
        "n": c.n,
        "accuracy": _ratio(c.tp + c.tn, c.n),
        "precision": _ratio(c.tp, c.tp + c.fp),
        "recall": _ratio(c.tp, c.tp + c.fn),
        "f1": _ratio(2 * c.tp, f1_den),
        "for": for_,
        "prune_rate": _ratio(c.tp + c.fp, c.n),
        "positive_rate": rand,
        "random_for": rand,
        "for_reduction": None if for_ is None or not rand else 1.0 - for_ / rand,
    }


def classification_metrics(
    y_true: Iterable[int] | np.ndarray,
    scores: Iterable[float] | np.ndarray,
    threshold: float = 0.5,
) -> dict[str, Any]:
    """:func:`summarize` of the decision ``score >= threshold`` (score = P(prune))."""
    s = np.asarray(scores, dtype=np.float64).reshape(-1)
    summary = summarize(confusion(y_true, (s >= threshold).astype(np.int64)))
    summary["threshold"] = float(threshold)
    return summary


def mean_and_spread(values: Iterable[float | None]) -> dict[str, Any]:
    """Mean, standard deviation, min, max and quartiles of defined values (None skipped).

    Used to aggregate repeated experiments (few-shot); ``n_undefined`` counts the skipped
    ones so a repeat where the model pruned everything is not silently lost.
    """
    vals = list(values)
    defined = np.array([v for v in vals if v is not None], dtype=np.float64)
    out: dict[str, Any] = {"n": len(defined), "n_undefined": len(vals) - len(defined)}
    if len(defined) == 0:
        return {**out, "mean": None, "std": None, "min": None, "max": None, "q25": None,
                "median": None, "q75": None}  # fmt: skip
    q25, median, q75 = np.percentile(defined, [25, 50, 75])
    return {
        **out,
        "mean": float(defined.mean()),
        "std": float(defined.std(ddof=1)) if len(defined) > 1 else 0.0,
        "min": float(defined.min()),
        "max": float(defined.max()),
        "q25": float(q25),
        "median": float(median),
        "q75": float(q75),
    }


def format_metrics(m: Mapping[str, Any]) -> str:
    """One human line: accuracy, precision, recall, F1, FOR vs random, prune rate, counts."""

    def pct(key: str) -> str:
        v = m.get(key)
        return "n/a" if v is None else f"{100 * v:.2f}%"

    f1 = m.get("f1")
    return (
        f"accuracy {pct('accuracy')}  precision {pct('precision')}  recall {pct('recall')}  "
        f"F1 {'n/a' if f1 is None else f'{f1:.4f}'}  FOR {pct('for')} "
        f"(random {pct('random_for')})  prune rate {pct('prune_rate')}  "
        f"TP {m['tp']} FP {m['fp']} TN {m['tn']} FN {m['fn']}"
    )
