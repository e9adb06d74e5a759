"""The two training jobs on a data set: train from scratch, and fine-tune a parent.

Both return a :class:`TrainResult` whose card (:func:`~.records.dataset_card`) says what the
model reads and learnt from, and whose final test metrics are scored by the model's
Predictor, as ``evaluate`` and ``score`` would score it.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from magical_prune import ddp
from magical_prune.card import ModelCard
from magical_prune.checkpoint import check_fits, save_model
from magical_prune.dataset import LabelledDataset, Split
from magical_prune.training.config import TrainConfig, create, resolve_config
from magical_prune.training.evaluation import evaluate_positions
from magical_prune.training.loop import fit
from magical_prune.training.records import dataset_card
from magical_prune.training.transfer import ParentSpec, finetune_model, load_parent

__all__ = ["TrainResult", "finetune", "train"]

OnEpoch = Callable[[dict[str, Any]], None]


@dataclass
class TrainResult:
    """What a training or fine-tuning run produced.

    Attributes:
        model: the trained network (eval mode, on the config's device).
        card: its model card, written with it by :meth:`save`.
        history: one dict per epoch (``epoch, epochs, step, loss`` (cross-entropy),
            ``l2_penalty`` (``l2 * sum(w**2)``, averaged over the epoch), ``train_acc, lr,
            seconds, samples_per_s`` and ``test_acc, test_for, test_n`` when evaluated).
        test_metrics: final metrics on the whole test split (see
            :func:`magical_prune.metrics.summarize`), scored by the model's Predictor.
        split: the train/test positions used.
        config: the resolved config.
    """

    model: nn.Module
    card: ModelCard
    history: list[dict[str, Any]]
    test_metrics: dict[str, Any]
    split: Split
    config: TrainConfig

    @property
    def meta(self) -> dict[str, Any]:
        """The card as the plain metadata a model file holds."""
        return self.card.to_meta()

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write the model file (under torchrun: rank 0 writes, the others wait for it)."""
        return ddp.main_only(lambda: save_model(path, self.model, self.card), Path(path))


def _final_metrics(
    model: nn.Module, card: ModelCard, data: LabelledDataset, positions: np.ndarray,
    labels: np.ndarray | None, config: TrainConfig,
) -> dict[str, Any]:  # fmt: skip
    """The test figures saved with a model, through its Predictor."""
    return evaluate_positions(model, data, positions, labels, config.threshold,
                              config.eval_batch_size, config.device, card)  # fmt: skip


def train(
    data: LabelledDataset,
    config: TrainConfig | None = None,
    *,
    model: nn.Module | None = None,
    progress: bool = True,
    on_epoch: OnEpoch | None = None,
) -> TrainResult:
    """Train a network from random initialisation on ``alpha`` of ``data``.

    Args:
        data: the labelled data set.
        config: the run's settings (unset ones from the architecture's defaults).
        model: an already built network (tests use tiny ones); by default
            ``create_model(config.arch, data.image_size, **config.model_kwargs)``.
    """
    config = config or TrainConfig()
    torch.manual_seed(config.seed)
    if model is None:
        model = create(config.arch, data.image_size, config.model_kwargs)
    config = resolve_config(config, model)
    split = data.split(config.alpha, config.split_seed, config.test_fraction)
    history = fit(model, data, split.train, config, test_positions=split.test, progress=progress,
                  on_epoch=on_epoch)  # fmt: skip
    card = dataset_card(data, split, config, history, None)
    test_metrics = _final_metrics(model, card, data, split.test, None, config)
    card = replace(card, test_metrics=test_metrics)
    return TrainResult(model, card, history, test_metrics, split, config)


def _split(
    data: LabelledDataset, config: TrainConfig, train_positions: np.ndarray | None,
    test_positions: np.ndarray | None,
) -> Split:  # fmt: skip
    """The data's split, or the caller's positions (the few-shot protocol)."""
    split = data.split(config.alpha, config.split_seed, config.test_fraction)
    if train_positions is None and test_positions is None:
        return split
    train_pos = split.train if train_positions is None else np.asarray(train_positions)
    test_pos = split.test if test_positions is None else np.asarray(test_positions)
    alpha = split.alpha if train_positions is None else len(train_pos) / max(len(data), 1)
    return Split(train_pos, test_pos, split.pool, split.seed, alpha, split.test_fraction)


def finetune(
    parent: ParentSpec,
    data: LabelledDataset,
    config: TrainConfig | None = None,
    *,
    train_positions: np.ndarray | None = None,
    train_labels: np.ndarray | None = None,
    test_positions: np.ndarray | None = None,
    test_labels: np.ndarray | None = None,
    progress: bool = True,
    on_epoch: OnEpoch | None = None,
) -> TrainResult:
    """Transfer learning: continue training a parent model on ``alpha`` of a new data set.

    The learning rate is the parent's (or the config's ``lr``) times ``lr_scale``; layers
    are frozen as ``config.freeze`` says. ``alpha = 0`` evaluates the parent unchanged
    (the paper's "0.00" rows). The child's card records the parent.

    Args:
        parent: a model file, or ``(model, card or metadata)`` in memory (copied, never
            modified).
        data: the new design's labelled data set (same image size and channel order).
        config: settings; ``arch`` is taken from the parent.
        train_positions/train_labels/test_positions/test_labels: override the split and
            labels (the few-shot protocol).

    Raises:
        CheckpointError: the parent does not fit the data.
    """
    config = config or TrainConfig()
    model, pcard, record = load_parent(parent, config.device)
    where = None if isinstance(parent, tuple) else parent
    check_fits(pcard, image_size=data.image_size, channel_order=data.channel_order, path=where,
               data=data.data.path)  # fmt: skip
    split = _split(data, config, train_positions, test_positions)
    tuned = finetune_model(model, pcard, data, split.train, config, labels=train_labels,
                           test_positions=split.test, test_labels=test_labels, record=record,
                           copy_parent=False, progress=progress, on_epoch=on_epoch)  # fmt: skip
    config = tuned.config
    card = dataset_card(data, split, config, tuned.history, None, record)
    test_metrics = _final_metrics(tuned.model, card, data, split.test, test_labels, config)
    card = replace(card, test_metrics=test_metrics)
    return TrainResult(tuned.model, card, tuned.history, test_metrics, split, config)
