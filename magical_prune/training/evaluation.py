"""How good a trained model is on a data set, scored exactly as in production.

Every figure here comes from the model's :class:`~magical_prune.predict.Predictor` (the
:class:`~magical_prune.scorer.Scorer` that ``score``, calibration and the hook use): float64,
rounded scores, so a model's test metrics, its ``evaluate`` figures and its decisions in a
flow agree to the last digit. Only the between-epoch monitoring of the training loop uses the
faster float32 path, and never for a decision.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

import numpy as np
import torch
from torch import nn

from magical_prune.card import DEFAULT_THRESHOLD, ModelCard
from magical_prune.checkpoint import check_fits, load_model
from magical_prune.dataset import LabelledDataset
from magical_prune.errors import CheckpointError, MagicalPruneError
from magical_prune.metrics import classification_metrics
from magical_prune.predict import Predictor
from magical_prune.scorer import Scorer
from magical_prune.training.records import as_card, input_spec

__all__ = [
    "evaluate",
    "evaluate_checkpoint",
    "evaluate_positions",
    "predict_scores",
    "score_positions",
    "scorer_for",
]

#: layouts whose features are held at once while scoring a data set
_CHUNK = 256


def scorer_for(
    model: nn.Module, card: ModelCard, device: str | torch.device = "cpu",
    threshold: float | None = None,
) -> Predictor:  # fmt: skip
    """The production scorer of a model in memory (puts the model in eval mode)."""
    return Predictor(model, card, device=device, threshold=threshold)


def score_positions(
    scorer: Scorer, data: LabelledDataset, positions: np.ndarray, batch_size: int = _CHUNK
) -> np.ndarray:
    """P(prune) of the layouts at ``positions``, as ``score`` gives them (NaN where the
    model gives no valid score)."""
    positions = np.asarray(positions, dtype=np.int64)
    step = max(1, batch_size)
    out = [
        scorer.score_prepared(data.features(positions[i : i + step], "cpu").numpy())
        for i in range(0, len(positions), step)
    ]
    return np.concatenate(out) if out else np.zeros(0)


def predict_scores(
    model: nn.Module,
    data: LabelledDataset,
    positions: np.ndarray,
    batch_size: int = 128,
    device: str | torch.device = "cpu",
    card: ModelCard | None = None,
) -> np.ndarray:
    """P(prune) of the layouts at ``positions`` through the model's Predictor (``card``
    defaults to one describing ``data``'s inputs); the model's train/eval mode is kept."""
    was_training = model.training
    card = card or ModelCard(arch=type(model).__name__, inputs=input_spec(data))
    try:
        return score_positions(scorer_for(model, card, device), data, positions, batch_size)
    finally:
        model.train(was_training)


def evaluate_positions(
    model: nn.Module,
    data: LabelledDataset,
    positions: np.ndarray,
    labels: np.ndarray | None = None,
    threshold: float = DEFAULT_THRESHOLD,
    batch_size: int = 128,
    device: str | torch.device = "cpu",
    card: ModelCard | None = None,
) -> dict[str, Any]:
    """Metrics (:func:`magical_prune.metrics.summarize`) of the model on some layouts.

    ``labels`` defaults to the data set's labels at ``positions``; the few-shot protocol
    passes its relabelled ones.
    """
    labels = data.labels[positions] if labels is None else labels
    scores = predict_scores(model, data, positions, batch_size, device, card)
    return classification_metrics(labels, scores, threshold)


def _positions(data: LabelledDataset, split: str, seed: int, fraction: float) -> np.ndarray:
    if split == "all":
        return np.arange(len(data))
    if split == "test":
        return data.split(0.0, seed, fraction).test
    raise MagicalPruneError(f"split must be 'test' or 'all', got {split!r}")


def evaluate(
    model: nn.Module,
    card: ModelCard | Mapping[str, Any],
    data: LabelledDataset,
    *,
    split: str = "test",
    threshold: float | None = None,
    split_seed: int | None = None,
    test_fraction: float | None = None,
    device: str = "cpu",
    batch_size: int = 128,
    keep_scores: bool = False,
) -> dict[str, Any]:
    """Metrics of a model on a data set's test split (as the model was trained: same seed
    and fraction from its card) or on all of it (``split="all"``).

    The test split of a data set the model was not trained on is the same rule (its own
    last 20%), so fine-tuned and from-scratch models of a design are compared on the same
    layouts. ``keep_scores`` adds the ``scores`` and ``labels`` arrays the metrics come
    from (to draw the trade-off of other thresholds without scoring again).
    """
    card = as_card(card)
    check_fits(card, image_size=data.image_size, channel_order=data.channel_order,
               data=data.data.path)  # fmt: skip
    trained_seed, trained_fraction = card.test_split
    seed = trained_seed if split_seed is None else split_seed
    fraction = trained_fraction if test_fraction is None else test_fraction
    positions = _positions(data, split, seed, fraction)
    scorer = scorer_for(model, card, device)
    thr = scorer.threshold if threshold is None else threshold
    labels = data.labels[positions]
    scores = score_positions(scorer, data, positions, batch_size)
    out = classification_metrics(labels, scores, thr)
    if keep_scores:
        out.update(scores=np.asarray(scores), labels=np.asarray(labels))
    out["split"] = split
    out["trained_on_same_data"] = card.data_content_hash == data.data.content_hash
    return out


def evaluate_checkpoint(
    model_path: str | os.PathLike[str],
    data_path: str | os.PathLike[str],
    *,
    metric: str | None = None,
    worst_percent: float | None = None,
    balanced: bool | None = None,
    split: str = "test",
    threshold: float | None = None,
    device: str = "cpu",
) -> dict[str, Any]:
    """:func:`evaluate` from files. Label options default to the model's own definition
    (same metric, cut and balancing as it was trained with)."""
    model, card = load_model(model_path, device=device)
    data = LabelledDataset.open(
        data_path,
        metric=metric if metric is not None else card.metric,
        worst_percent=worst_percent if worst_percent is not None else card.worst_percent,
        balanced=balanced if balanced is not None else bool(card.label.balanced),
    )
    try:
        return evaluate(model, card, data, split=split, threshold=threshold, device=device)
    except CheckpointError as err:
        raise err.at(model_path) from None
