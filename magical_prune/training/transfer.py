"""Fine-tuning a trained model: the one routine behind ``finetune``, the few-shot protocol
and the pruning hook's online learning.

:func:`finetune_model` continues training a copy of a parent on some labelled layouts at a
reduced learning rate (the parent's times ``lr_scale`` unless ``lr`` is given), with layers
frozen as the config says, and returns the child with its card: the parent's, with this run's
settings, history and lineage. Callers that know more (the data set it learnt from, a
recalibrated threshold) replace those fields.
"""

from __future__ import annotations

import copy
import os
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, replace
from typing import Any

import numpy as np
import torch
from torch import nn

from magical_prune._version import __version__
from magical_prune.card import ModelCard, ParentRecord
from magical_prune.checkpoint import file_sha256, load_model
from magical_prune.training.config import TrainConfig, resolve_config
from magical_prune.training.layers import freeze, unfreeze
from magical_prune.training.loop import LabelledSource, fit
from magical_prune.training.records import as_card, stored_history

__all__ = ["FineTuned", "ParentSpec", "finetune_config", "finetune_model", "load_parent"]

#: a parent model: a model file, or a model in memory with its card (or plain metadata)
ParentSpec = str | os.PathLike[str] | tuple[nn.Module, ModelCard | Mapping[str, Any]]


def load_parent(
    parent: ParentSpec, device: str = "cpu"
) -> tuple[nn.Module, ModelCard, ParentRecord]:
    """A parent model for fine-tuning: ``(model, card, the child's parent record)``.

    A model in memory is copied, never modified; a file is read afresh (and hashed).
    """
    if isinstance(parent, tuple):
        model, card = copy.deepcopy(parent[0]), as_card(parent[1])
        return model, card, card.parent_record()
    model, card = load_model(parent, device=device)
    return model, card, card.parent_record(path=str(parent), sha256=file_sha256(parent))


def finetune_config(config: TrainConfig, model: nn.Module, parent_card: ModelCard) -> TrainConfig:
    """The resolved settings of fine-tuning ``model`` (a parent described by
    ``parent_card``): architecture from the parent, fine-tuning defaults, and unless ``lr``
    is given, the parent's learning rate times ``lr_scale``. Idempotent."""
    ptrain = TrainConfig.from_dict(parent_card.train_config)
    config = replace(config, arch=parent_card.arch, model_kwargs=dict(parent_card.model_kwargs))
    lr_given = config.lr is not None
    config = resolve_config(config, model, finetune=True)
    if not lr_given:
        base = ptrain.lr if ptrain.lr is not None else config.lr
        config = replace(config, lr=base * config.lr_scale)
    return config


@dataclass(frozen=True)
class FineTuned:
    """A fine-tuned model (eval mode, every parameter trainable again), its card, the
    per-epoch history and the resolved settings."""

    model: nn.Module
    card: ModelCard
    history: list[dict[str, Any]]
    config: TrainConfig


def finetune_model(
    parent_model: nn.Module,
    parent_card: ModelCard,
    data: LabelledSource,
    positions: np.ndarray,
    config: TrainConfig,
    *,
    labels: np.ndarray | None = None,
    test_positions: np.ndarray | None = None,
    test_labels: np.ndarray | None = None,
    record: ParentRecord | None = None,
    copy_parent: bool = True,
    progress: bool = False,
    on_epoch: Callable[[dict[str, Any]], None] | None = None,
) -> FineTuned:
    """Fine-tune (a copy of) ``parent_model`` on the layouts at ``positions`` of ``data``.

    Args:
        parent_model, parent_card: the model to start from and its card.
        data: the labelled inputs (a data set, the hook's results, cached head inputs).
        positions, labels: the training layouts and their labels (default: the data's).
        config: settings, resolved here with :func:`finetune_config`; no updates when
            ``positions`` is empty or ``epochs`` is 0 (the parent as it is).
        test_positions, test_labels: monitored between epochs (``config.eval_every``).
        record: the child's parent record (default: the parent's card, no file).
        copy_parent: train a copy (``False``: train ``parent_model`` itself).

    The caller's torch random state is left as it was (the loop seeds its own).
    """
    model = copy.deepcopy(parent_model) if copy_parent else parent_model
    config = finetune_config(config, model, parent_card)
    frozen = freeze(model, config.freeze)
    history: list[dict[str, Any]] = []
    if len(positions) and config.epochs > 0:
        with torch.random.fork_rng(devices=[]):
            history = fit(model, data, positions, config, train_labels=labels,
                          test_positions=test_positions, test_labels=test_labels,
                          frozen=frozen, progress=progress, on_epoch=on_epoch)  # fmt: skip
    unfreeze(model)
    model.eval()
    card = replace(parent_card, train_config=asdict(config), history=tuple(stored_history(history)),
                   parent=record or parent_card.parent_record(), test_metrics=None,
                   package_version=__version__)  # fmt: skip
    return FineTuned(model, card, history, config)
