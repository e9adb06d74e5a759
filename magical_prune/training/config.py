"""The settings of a training or fine-tuning run, and how unset ones are filled.

A :class:`TrainConfig` is saved in every model file (the card's ``train_config``), so a run
can be repeated. Fields left ``None`` come from the architecture's ``default_cfg`` (the
paper's values for its four networks), else from :data:`FALLBACK_CFG`;
:func:`resolve_config` fills and checks them in one place.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from typing import Any

from torch import nn

from magical_prune.card import DEFAULT_THRESHOLD
from magical_prune.errors import MagicalPruneError
from magical_prune.models import create_model

__all__ = ["FALLBACK_CFG", "TrainConfig", "arch_defaults", "create", "resolve_config"]

#: CPU-friendly fallbacks where an architecture's ``default_cfg`` says nothing
FALLBACK_CFG: dict[str, Any] = {
    "optimizer": "adam",
    "lr_schedule": "step",
    "warmup_steps": 0,
    "lr": 3e-4,
    "lr_decay": 0.9,
    "lr_decay_steps": 430,
    "l2": 0.0,
    "weight_decay": 0.0,
    "batch_size": 16,
    "epochs": 20,
    "steps_per_epoch": 64,
    "finetune_epochs": 10,
    "finetune_lr_scale": 0.1,
}

#: fields :func:`resolve_config` takes from the architecture when unset
_FROM_ARCH = ("steps_per_epoch", "batch_size", "lr", "optimizer", "lr_schedule", "warmup_steps",
              "lr_decay", "lr_decay_steps", "l2", "weight_decay")  # fmt: skip


@dataclass
class TrainConfig:
    """Everything a training or fine-tuning run depends on (saved in the model file).

    Fields left ``None`` are filled from the architecture's ``default_cfg`` by
    :func:`resolve_config` (the paper's values for its four networks).

    Attributes:
        arch: registered architecture name (``magical-prune models`` lists them).
        model_kwargs: extra keyword arguments of the architecture (widths ...), recorded so
            the model file rebuilds the same network.
        alpha: share of the *whole* labelled set used for training (at most
            ``1 - test_fraction``); 0 with :func:`~magical_prune.training.finetune`
            evaluates the parent as it is.
        test_fraction: the last share of the shuffled set held out as the test set.
        split_seed: seed of the shuffle that defines the split (keep it fixed to compare
            runs on the same test set).
        seed: seed of weight initialisation and batch order.
        epochs: number of "epochs" of ``steps_per_epoch`` updates each.
        steps_per_epoch: updates per epoch (the paper: 64); 0 = one pass over the training
            layouts (``ceil(n_train / batch_size)`` updates).
        batch_size: layouts per update (the paper: 16); capped by the training-set size.
        lr: Adam learning rate at step 0 (for fine-tuning: the parent's rate times
            ``lr_scale`` unless set).
        optimizer: ``adam`` (the paper; ``weight_decay`` coupled, i.e. added to the
            gradient) or ``adamw`` (decoupled weight decay).
        lr_schedule: ``step`` (staircase: ``lr * lr_decay ** (step // lr_decay_steps)``,
            the paper), ``cosine`` (linear warm-up over ``warmup_steps``, then cosine to 0
            over the run) or ``constant``.
        warmup_steps: updates of linear warm-up (``cosine`` only; at most a fifth of the
            run's updates).
        lr_decay: factor applied every ``lr_decay_steps`` updates (``step`` schedule).
        lr_decay_steps: updates between decays.
        l2: coefficient of ``sum(w**2)`` over convolution and dense weights added to the
            loss (Keras-style L2; the paper: 0.1).
        weight_decay: Adam's own (coupled) weight decay, applied to all parameters.
        lr_scale: fine-tuning: learning rate relative to the parent's.
        freeze: fine-tuning: ``None`` (train all), ``"features"`` (train only the classifier
            head) or ``"N"`` (freeze the first N weight layers, counted in forward order;
            their normalisation layers stay frozen too).
        threshold: decision threshold on P(prune) saved with the model.
        device: ``cpu`` or ``cuda``.
        eval_every: evaluate on the test set every this many epochs (0: only at the end).
        eval_max: layouts of the test set used by the per-epoch evaluation (the first ones
            of the test split, so epochs are comparable); the final one uses all.
        eval_batch_size: layouts per forward pass when evaluating.
    """

    arch: str = "efficient"
    model_kwargs: dict[str, Any] = field(default_factory=dict)
    alpha: float = 0.8
    test_fraction: float = 0.2
    split_seed: int = 0
    seed: int = 0
    epochs: int | None = None
    steps_per_epoch: int | None = None
    batch_size: int | None = None
    lr: float | None = None
    optimizer: str | None = None
    lr_schedule: str | None = None
    warmup_steps: int | None = None
    lr_decay: float | None = None
    lr_decay_steps: int | None = None
    l2: float | None = None
    weight_decay: float | None = None
    lr_scale: float | None = None
    freeze: str | None = None
    threshold: float = DEFAULT_THRESHOLD
    device: str = "cpu"
    eval_every: int = 1
    eval_max: int = 1024
    eval_batch_size: int = 128

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TrainConfig:
        """Rebuild a saved config (unknown keys from newer versions are ignored)."""
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in dict(data).items() if k in known})


def create(arch: str, image_size: int, model_kwargs: Mapping[str, Any] | None = None) -> nn.Module:
    """Build a registered architecture."""
    return create_model(arch, image_size=image_size, **dict(model_kwargs or {}))


def arch_defaults(model: nn.Module) -> dict[str, Any]:
    """The architecture's training defaults merged over :data:`FALLBACK_CFG`."""
    return {**FALLBACK_CFG, **dict(getattr(model, "default_cfg", None) or {})}


def resolve_config(config: TrainConfig, model: nn.Module, finetune: bool = False) -> TrainConfig:
    """Fill the unset fields of ``config`` from the model's ``default_cfg`` (idempotent: a
    resolved config comes back unchanged)."""
    d = arch_defaults(model)
    filled = {}
    for name in _FROM_ARCH:
        if getattr(config, name) is None:
            value = d.get(name, FALLBACK_CFG[name])
            filled[name] = (
                FALLBACK_CFG[name] if value is None and name != "steps_per_epoch" else value
            )
    if filled.get("steps_per_epoch", 1) is None:
        filled["steps_per_epoch"] = 0  # the architecture trains in full passes
    if config.epochs is None:
        filled["epochs"] = d["finetune_epochs"] if finetune else d["epochs"]
    if config.lr_scale is None:
        filled["lr_scale"] = d["finetune_lr_scale"] if finetune else 1.0
    out = replace(config, **filled)
    _check_config(out)
    return out


def _check_config(c: TrainConfig) -> None:
    checks = [
        (c.epochs >= 0, f"epochs must be >= 0, got {c.epochs}"),
        (c.steps_per_epoch >= 0, f"steps per epoch must be >= 0, got {c.steps_per_epoch}"),
        (c.optimizer in ("adam", "adamw"), f"optimizer must be adam or adamw, got {c.optimizer!r}"),
        (
            c.lr_schedule in ("step", "cosine", "constant"),
            f"lr schedule must be step, cosine or constant, got {c.lr_schedule!r}",
        ),
        (c.warmup_steps >= 0, f"warm-up steps must be >= 0, got {c.warmup_steps}"),
        (c.batch_size >= 1, f"batch size must be >= 1, got {c.batch_size}"),
        (c.lr > 0 and math.isfinite(c.lr), f"learning rate must be > 0, got {c.lr}"),
        (0 < c.lr_decay <= 1, f"lr decay must be in (0, 1], got {c.lr_decay}"),
        (c.lr_decay_steps >= 1, f"lr decay steps must be >= 1, got {c.lr_decay_steps}"),
        (c.l2 >= 0 and c.weight_decay >= 0, "l2 and weight decay must be >= 0"),
        (c.lr_scale > 0, f"lr scale must be > 0, got {c.lr_scale}"),
        (0 <= c.threshold <= 1, f"threshold must be in [0, 1], got {c.threshold}"),
    ]
    for ok, message in checks:
        if not ok:
            raise MagicalPruneError(message)
