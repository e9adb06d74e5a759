"""One refit of the pruning hook's model: relabel the collected results, fine-tune a copy of
the current model on them with the package's one fine-tuning routine
(:func:`magical_prune.training.finetune_model`), and recalibrate the threshold on the
results' out-of-sample scores."""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass, replace
from typing import Any

import numpy as np

from magical_prune.calibrate import NO_PRUNE, calibrate_threshold
from magical_prune.card import ModelCard
from magical_prune.errors import MagicalPruneError
from magical_prune.online.config import HookConfig
from magical_prune.online.feedback import InMemorySource, Results, weighted_rank_labels
from magical_prune.predict import Predictor
from magical_prune.training import FineTuned, TrainConfig, finetune_model

__all__ = ["Goal", "Refit", "refit", "result_weights"]

logger = logging.getLogger("magical_prune.hook")


@dataclass(frozen=True)
class Goal:
    """What a refit aims at: the label definition and the threshold rule."""

    metric: str
    worst_percent: float
    target_for: float
    threshold: float  # the current one, kept when not recalibrating
    recalibrate: bool
    version: int  # of the parent model
    #: what an explored result stands for: the candidates decided at or above the threshold
    #: over those explored, as counted (None: the weight drawn with it, 1 / explore). The
    #: count's binomial noise, not the nominal rate, is what the labels' cut should follow.
    explored_weight: float | None = None


@dataclass(frozen=True)
class Refit:
    """A model fine-tuned on collected results, ready to score (its card and threshold set)."""

    predictor: Predictor
    threshold: float
    n_results: int
    critical_value: float
    calibration: dict[str, Any] | None


def refit(parent: Predictor, results: Results, config: HookConfig, goal: Goal) -> Refit:
    """Label ``results``, fine-tune a copy of ``parent`` on them and recalibrate.

    Raises:
        MagicalPruneError: every result got the same label (nothing to learn yet).
    """
    weights = result_weights(np.asarray(results.weights, dtype=np.float64), goal)
    labels, critical = weighted_rank_labels(np.asarray(results.values), goal.metric,
                                            goal.worst_percent, weights)  # fmt: skip
    if labels.min() == labels.max():
        raise MagicalPruneError("all collected results got the same label")
    settings = TrainConfig(epochs=config.epochs, steps_per_epoch=0, lr=config.lr,
                           freeze=config.freeze, seed=config.seed + goal.version,
                           device=str(parent.device), eval_every=0)  # fmt: skip
    data = InMemorySource(np.stack(results.images), labels)
    tuned = finetune_model(parent.model, parent.card, data, np.arange(len(labels)), settings,
                           record=parent.card.parent_record(path=parent.source))  # fmt: skip
    threshold, calibration = goal.threshold, None
    if goal.recalibrate:
        threshold, calibration = _recalibrate(results.scores, labels, weights, goal, config)
    card = _child_card(tuned, labels, critical, goal, threshold, calibration)
    predictor = Predictor(tuned.model, card, source=parent.source, device=parent.device)
    return Refit(predictor, threshold, len(labels), critical, calibration)


def result_weights(drawn: np.ndarray, goal: Goal) -> np.ndarray:
    """The results' weights: explored ones (drawn weight > 1) as ``goal.explored_weight``."""
    if goal.explored_weight is None:
        return drawn
    return np.where(drawn > 1.0, goal.explored_weight, drawn)


def _recalibrate(
    scores: list[float], labels: np.ndarray, weights: np.ndarray, goal: Goal,
    config: HookConfig,
) -> tuple[float, dict[str, Any]]:  # fmt: skip
    """The threshold for the target FOR on out-of-sample scores (NO_PRUNE when infeasible
    or when it would prune more than ``config.max_good_pruned`` of the good results). The
    hook keeps the share ``config.explore`` of the candidates above it, so they count in the
    FOR; ``config.for_margin`` standard errors of it are kept under the target."""
    limit = config.max_good_pruned
    cal = calibrate_threshold(scores, labels, goal.target_for, weights, config.explore,
                              config.for_margin)  # fmt: skip
    calibration = cal.to_dict()
    if not cal.feasible:
        logger.warning("recalibration: %s; nothing will be pruned", cal.describe())
    elif limit is not None and (cal.good_pruned or 0.0) > limit:
        calibration["uninformative"] = True
        logger.warning(
            "recalibration: FOR <= %.1f%% needs pruning %.0f%% of the good results "
            "(limit %.0f%%): the model does not separate this design's placements yet; "
            "nothing will be pruned until a later fine-tuning does",
            100 * goal.target_for, 100 * (cal.good_pruned or 0.0), 100 * limit,
        )  # fmt: skip
        return NO_PRUNE, calibration
    return cal.threshold, calibration


def _child_card(
    tuned: FineTuned, labels: np.ndarray, critical: float, goal: Goal, threshold: float,
    calibration: dict[str, Any] | None,
) -> ModelCard:  # fmt: skip
    """The fine-tuned model's card: threshold (and how it was set), and an ``online``
    record of the results it learnt from."""
    online = {
        "version": goal.version + 1,
        "n_results": len(labels),
        "n_bad": int(labels.sum()),
        "critical_value": critical,
        "metric": goal.metric,
        "worst_percent": goal.worst_percent,
        "target_for": goal.target_for,
        "calibration": calibration,
        "train_config": asdict(tuned.config),
        "final_loss": tuned.history[-1]["loss"] if tuned.history else None,
    }
    card = tuned.card.with_threshold(threshold)
    if calibration is not None:
        card = card.with_calibration(calibration, threshold)
    return replace(card, extra={**card.extra, "online": online})
