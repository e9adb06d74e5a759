"""Which parameters a run trains, and how they are updated.

Transfer learning freezes early layers (:func:`freeze`): the lecture's scenarios are a small,
similar target set -> freeze everything but the head (``"features"``); a small, different one
-> freeze only the first layers (``N``); a large one -> fine-tune everything (the default, and
what the paper does). The optimizer and learning-rate schedule (:func:`make_optimizer`) and
the L2 penalty (:func:`l2_penalty`) follow the paper's reference implementation.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import torch
from torch import nn

from magical_prune.errors import MagicalPruneError
from magical_prune.training.config import TrainConfig

__all__ = [
    "classifier_modules",
    "freeze",
    "l2_penalty",
    "make_optimizer",
    "unfreeze",
    "weight_layers",
]

_WEIGHTED = (nn.Linear, nn.modules.conv._ConvNd)


def weight_layers(model: nn.Module) -> list[list[nn.Module]]:
    """Groups of modules in registration order: each convolution or dense layer with the
    parameterised non-weight modules (normalisation) that follow it. Used by ``freeze``."""
    groups: list[list[nn.Module]] = []
    for module in model.modules():
        if any(True for _ in module.children()):
            continue  # containers: only leaves own the parameters we count
        if not any(True for _ in module.parameters(recurse=False)):
            continue
        if isinstance(module, _WEIGHTED):
            groups.append([module])
        elif groups:
            groups[-1].append(module)
        else:
            groups.append([module])
    return groups


def classifier_modules(model: nn.Module) -> list[nn.Module]:
    """The head that ``freeze="features"`` leaves trainable: the module the architecture's
    ``default_cfg["classifier"]`` names, else the trailing run of dense layers."""
    name = (getattr(model, "default_cfg", None) or {}).get("classifier")
    if name:
        try:
            return [model.get_submodule(str(name))]
        except AttributeError:
            raise MagicalPruneError(
                f"default_cfg names a classifier {name!r} the model lacks"
            ) from None
    groups = weight_layers(model)
    head: list[nn.Module] = []
    for group in reversed(groups):
        if not isinstance(group[0], nn.Linear):
            break
        head = group + head
    if not head and groups:
        head = groups[-1]
    return head


def freeze(model: nn.Module, spec: str | int | None) -> list[nn.Module]:
    """Freeze parameters for fine-tuning; returns the frozen leaf modules.

    Args:
        spec: ``None``/``"none"`` (nothing), ``"features"`` (all but the classifier head),
            or ``N`` (the first N weight layers of :func:`weight_layers`).
    """
    if spec is None or str(spec).lower() in ("", "none", "0"):
        return []
    groups = weight_layers(model)
    if str(spec).lower() == "features":
        keep = {id(p) for m in classifier_modules(model) for p in m.parameters()}
        frozen = [m for g in groups for m in g if not any(id(p) in keep for p in m.parameters())]
    else:
        try:
            n = int(spec)
        except ValueError:
            raise MagicalPruneError(
                f"--freeze takes a number of layers or 'features', got {spec!r}"
            ) from None
        if not 0 <= n < len(groups):
            raise MagicalPruneError(
                f"cannot freeze {n} layers: the model has {len(groups)} weight layers and at "
                "least one must stay trainable"
            )
        frozen = [m for g in groups[:n] for m in g]
    for m in frozen:
        for p in m.parameters():
            p.requires_grad_(False)
    return frozen


def unfreeze(model: nn.Module) -> None:
    """Every parameter trainable again (a fine-tuned model is saved as a normal one)."""
    for p in model.parameters():
        p.requires_grad_(True)


def l2_penalty(model: nn.Module) -> torch.Tensor | None:
    """``sum(w**2)`` over trainable convolution and dense weights (not biases or norms)."""
    terms = [
        m.weight.pow(2).sum()
        for m in model.modules()
        if isinstance(m, _WEIGHTED) and m.weight.requires_grad
    ]
    return torch.stack(terms).sum() if terms else None


def lr_factor(config: TrainConfig, total_steps: int) -> Callable[[int], float]:
    """The learning-rate multiplier of update ``step`` under the config's schedule."""
    if config.lr_schedule == "step":
        decay, every = config.lr_decay, config.lr_decay_steps
        return lambda step: decay ** (step // every)
    if config.lr_schedule == "cosine":
        # a warm-up longer than a fifth of the run (short fine-tuning) would leave no
        # time at the full rate: cap it
        warm = min(config.warmup_steps, total_steps // 5)
        span = max(total_steps - warm, 1)

        def cosine(step: int) -> float:
            if step < warm:
                return (step + 1) / warm
            return 0.5 * (1.0 + math.cos(math.pi * min(step - warm, span) / span))

        return cosine
    return lambda step: 1.0


def make_optimizer(
    params: Sequence[nn.Parameter], config: TrainConfig, total_steps: int
) -> tuple[torch.optim.Optimizer, torch.optim.lr_scheduler.LRScheduler]:
    """Adam/AdamW and the learning-rate schedule of a resolved config, stepped per update."""
    kind = torch.optim.AdamW if config.optimizer == "adamw" else torch.optim.Adam
    optimizer = kind(params, lr=config.lr, weight_decay=config.weight_decay)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lr_factor(config, total_steps))
    return optimizer, scheduler
