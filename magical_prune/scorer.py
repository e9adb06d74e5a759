"""What every learner offers the rest of the package: placements in, P(worst quarter) out.

A :class:`Scorer` is anything that maps placements, or the inputs it prepares from them, to
the probability of being among the worst ``worst_percent`` of its label (the *score*), with a
decision threshold and the :class:`~magical_prune.card.ModelCard` that describes it. The
paper's CNNs (:class:`magical_prune.predict.Predictor`) are one kind; learners on layout
geometry are another. Calibration, evaluation, few-shot runs, explanations, the ``score``
command and the pruning hook all score through this one interface, so a threshold is always
set on the very numbers that decisions compare with it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol, runtime_checkable

import numpy as np

from magical_prune.calibrate import check_threshold
from magical_prune.card import ModelCard

__all__ = ["CardThreshold", "Scorer"]


@runtime_checkable
class Scorer(Protocol):
    """Placements -> P(prune).

    ``prepare`` turns placements (or precomputed inputs such as feature stacks) into the
    array the learner reads; ``score_prepared`` scores such an array (NaN where the learner
    gives no valid score, rounded so that a placement's score does not depend on the batch);
    ``score`` does both and refuses NaN; ``decide`` compares scores with the threshold.
    """

    card: ModelCard
    source: str | None

    @property
    def threshold(self) -> float: ...

    def prepare(self, placements: Sequence[Any]) -> np.ndarray: ...

    def score_prepared(self, x: np.ndarray) -> np.ndarray: ...

    def score(self, placements: Any) -> np.ndarray: ...

    def decide(self, scores: np.ndarray | float, threshold: float | None = None) -> np.ndarray: ...


class CardThreshold:
    """The threshold and decisions of a scorer whose card holds its threshold (the CNNs'
    Predictor, the geometry model, the design-agnostic prior): subclasses have ``card`` (an
    attribute, or a property with a setter) and ``source``."""

    card: ModelCard
    source: str | None

    @property
    def threshold(self) -> float:
        """Decision threshold: prune when ``score >= threshold``."""
        return self.card.threshold

    @threshold.setter
    def threshold(self, value: float) -> None:
        self.card = self.card.with_threshold(check_threshold(value, self.source))

    def decide(self, scores: np.ndarray | float, threshold: float | None = None) -> np.ndarray:
        """Prune decisions (``score >= threshold``; the card's threshold when none given)."""
        t = self.threshold if threshold is None else check_threshold(threshold)
        return np.asarray(scores) >= t
