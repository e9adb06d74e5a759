"""Train, fine-tune (transfer learning) and evaluate placement-quality networks.

The loop follows the paper's reference: Adam, a staircase learning-rate decay
(``lr * lr_decay ** (step // lr_decay_steps)``), an L2 penalty on the convolution and dense
weights added to the loss, and "epochs" of a fixed number of updates (mini-batches drawn
from reshuffled passes over the training layouts), so a training run costs the same number
of updates whatever the size of the training set. Every hyper-parameter left unset in
:class:`TrainConfig` comes from the architecture's ``default_cfg``.

Transfer learning (:func:`finetune`): start from a trained model, train on a (small) share of
a new design's layouts at a reduced learning rate, optionally with early layers frozen --
the lecture's scenarios: a small, similar target set -> freeze everything but the head
("features"); a small, different one -> freeze only the first layers (``N``); a large one ->
fine-tune everything (the default, and what the paper does).

Everything is seeded: the same data, config and seed give the same weights on the CPU.
The public functions return plain results (:class:`TrainResult`, metric dicts) so scripts
such as ``benchmarks/paper.py`` stay thin.
"""

from __future__ import annotations

import copy
import math
import os
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from magical_prune._version import __version__
from magical_prune.checkpoint import (
    DEFAULT_THRESHOLD,
    check_fits,
    file_sha256,
    load_checkpoint,
    save_checkpoint,
)
from magical_prune.dataset import LabelledDataset, Split
from magical_prune.errors import CheckpointError, MagicalPruneError
from magical_prune.metrics import classification_metrics

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


#: per-epoch figures that depend on the machine's load, not on the run
_TIMING_KEYS = frozenset({"seconds", "samples_per_s"})


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
            ``1 - test_fraction``); 0 with :func:`finetune` evaluates the parent as it is.
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
        return cls(**{k: v for k, v in data.items() if k in known})


@dataclass
class TrainResult:
    """What a training or fine-tuning run produced.

    Attributes:
        model: the trained network (eval mode, on the config's device).
        meta: the metadata :func:`save` writes with it.
        history: one dict per epoch (``epoch, epochs, step, loss`` (cross-entropy),
            ``l2_penalty`` (``l2 * sum(w**2)``, averaged over the epoch), ``train_acc, lr,
            seconds, samples_per_s`` and ``test_acc, test_for, test_n`` when evaluated).
        test_metrics: final metrics on the whole test split (see
            :func:`magical_prune.metrics.summarize`).
        split: the train/test positions used.
        config: the resolved config.
    """

    model: nn.Module
    meta: dict[str, Any]
    history: list[dict[str, Any]]
    test_metrics: dict[str, Any]
    split: Split
    config: TrainConfig

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write the model file (under torchrun: rank 0 writes, the others wait for it)."""
        from magical_prune import ddp

        return ddp.main_only(lambda: save_checkpoint(path, self.model, self.meta), Path(path))


# -- building blocks ----------------------------------------------------------------------
def create(arch: str, image_size: int, model_kwargs: Mapping[str, Any] | None = None) -> nn.Module:
    """Build a registered architecture."""
    from magical_prune.models import create_model

    return create_model(arch, image_size=image_size, **dict(model_kwargs or {}))


def arch_defaults(model: nn.Module) -> dict[str, Any]:
    """The architecture's training defaults merged over :data:`FALLBACK_CFG`."""
    return {**FALLBACK_CFG, **dict(getattr(model, "default_cfg", None) or {})}


def resolve_config(config: TrainConfig, model: nn.Module, finetune: bool = False) -> TrainConfig:
    """Fill the unset fields of ``config`` from the model's ``default_cfg``."""
    d = arch_defaults(model)
    filled = {}
    for name in ("steps_per_epoch", "batch_size", "lr", "optimizer", "lr_schedule", "warmup_steps",
                 "lr_decay", "lr_decay_steps", "l2", "weight_decay"):  # fmt: skip
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


def weight_layers(model: nn.Module) -> list[list[nn.Module]]:
    """Groups of modules in registration order: each convolution or dense layer with the
    parameterised non-weight modules (normalisation) that follow it. Used by ``freeze``."""
    groups: list[list[nn.Module]] = []
    for module in model.modules():
        if any(True for _ in module.children()):
            continue  # containers: only leaves own the parameters we count
        if not any(True for _ in module.parameters(recurse=False)):
            continue
        if isinstance(module, (nn.Linear, nn.modules.conv._ConvNd)):
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


def l2_penalty(model: nn.Module) -> torch.Tensor | None:
    """``sum(w**2)`` over trainable convolution and dense weights (not biases or norms)."""
    terms = [
        m.weight.pow(2).sum()
        for m in model.modules()
        if isinstance(m, (nn.Linear, nn.modules.conv._ConvNd)) and m.weight.requires_grad
    ]
    return torch.stack(terms).sum() if terms else None


@torch.inference_mode()
def predict_scores(
    model: nn.Module,
    data: LabelledDataset,
    positions: np.ndarray,
    batch_size: int = 128,
    device: str | torch.device = "cpu",
) -> np.ndarray:
    """P(prune) of the layouts at ``positions`` (softmax of the logits, class 1)."""
    was_training = model.training
    model.eval()
    out = []
    for start in range(0, len(positions), batch_size):
        x = data.features(positions[start : start + batch_size], device)
        out.append(torch.softmax(model(x).float(), dim=1)[:, 1].cpu().numpy())
    model.train(was_training)
    return np.concatenate(out) if out else np.zeros(0)


def evaluate_positions(
    model: nn.Module,
    data: LabelledDataset,
    positions: np.ndarray,
    labels: np.ndarray | None = None,
    threshold: float = DEFAULT_THRESHOLD,
    batch_size: int = 128,
    device: str | torch.device = "cpu",
) -> dict[str, Any]:
    """Metrics (:func:`magical_prune.metrics.summarize`) of the model on some layouts.

    ``labels`` defaults to the data set's labels at ``positions``; the few-shot protocol
    passes its relabelled ones.
    """
    labels = data.labels[positions] if labels is None else labels
    scores = predict_scores(model, data, positions, batch_size, device)
    return classification_metrics(labels, scores, threshold)


def make_optimizer(
    params: Sequence[nn.Parameter], config: TrainConfig, total_steps: int
) -> tuple[torch.optim.Optimizer, torch.optim.lr_scheduler.LRScheduler]:
    """Adam/AdamW and the learning-rate schedule of a resolved config, stepped per update."""
    kind = torch.optim.AdamW if config.optimizer == "adamw" else torch.optim.Adam
    optimizer = kind(params, lr=config.lr, weight_decay=config.weight_decay)
    if config.lr_schedule == "step":
        decay, every = config.lr_decay, config.lr_decay_steps

        def factor(step: int) -> float:
            return decay ** (step // every)

    elif config.lr_schedule == "cosine":
        # a warm-up longer than a fifth of the run (short fine-tuning) would leave no
        # time at the full rate: cap it
        warm = min(config.warmup_steps, total_steps // 5)
        span = max(total_steps - warm, 1)

        def factor(step: int) -> float:
            if step < warm:
                return (step + 1) / warm
            return 0.5 * (1.0 + math.cos(math.pi * min(step - warm, span) / span))

    else:

        def factor(step: int) -> float:
            return 1.0

    return optimizer, torch.optim.lr_scheduler.LambdaLR(optimizer, factor)


class _Batches:
    """Endless mini-batches: reshuffled passes over the training positions (seeded)."""

    def __init__(self, positions: np.ndarray, batch_size: int, seed: int) -> None:
        self.positions = np.asarray(positions)
        self.batch_size = min(batch_size, len(self.positions))
        self.rng = np.random.default_rng(seed)
        self.order = self.rng.permutation(self.positions)
        self.cursor = 0

    def next(self) -> np.ndarray:
        if self.cursor + self.batch_size > len(self.order):
            self.order = np.concatenate(
                [self.order[self.cursor :], self.rng.permutation(self.positions)]
            )
            self.cursor = 0
        batch = self.order[self.cursor : self.cursor + self.batch_size]
        self.cursor += self.batch_size
        return batch


def fit(
    model: nn.Module,
    data: LabelledDataset,
    train_positions: np.ndarray,
    config: TrainConfig,
    *,
    train_labels: np.ndarray | None = None,
    test_positions: np.ndarray | None = None,
    test_labels: np.ndarray | None = None,
    frozen: Sequence[nn.Module] = (),
    progress: bool = True,
    on_epoch: Callable[[dict[str, Any]], None] | None = None,
) -> list[dict[str, Any]]:
    """The training loop; returns the per-epoch history. ``config`` must be resolved.

    Args:
        model: the network (moved to ``config.device``).
        data: where the features come from.
        train_positions: positions of the training layouts in ``data``.
        train_labels: their labels (default: the data set's).
        test_positions, test_labels: layouts evaluated every ``eval_every`` epochs.
        frozen: modules kept in eval mode (frozen normalisation statistics).
        progress: tqdm bar over the updates.
        on_epoch: called with each epoch's record (the CLI prints it).

    Under ``torchrun`` (:mod:`magical_prune.ddp`) each process computes its share of every
    mini-batch and DDP averages the gradients: the steps of one process, up to float
    noise; only rank 0 shows progress and gets ``on_epoch``.
    """
    from tqdm import tqdm

    from magical_prune import ddp

    device = torch.device(config.device)
    rank, size = ddp.world(config.device)
    if rank != 0:
        progress, on_epoch = False, None
    train_positions = np.asarray(train_positions, dtype=np.int64)
    if len(train_positions) == 0:
        raise MagicalPruneError("no training layouts (alpha too small for this data set)")
    labels_of = dict(
        zip(
            train_positions.tolist(),
            (data.labels[train_positions] if train_labels is None else train_labels).tolist(),
        )
    )
    torch.manual_seed(config.seed)
    model.to(device)
    params = [p for p in model.parameters() if p.requires_grad]
    if not params:
        raise MagicalPruneError("every parameter is frozen: nothing to train")
    net = ddp.wrap(model, device)
    batches = _Batches(train_positions, config.batch_size, config.seed)
    steps_per_epoch = config.steps_per_epoch or math.ceil(len(train_positions) / batches.batch_size)
    total = config.epochs * steps_per_epoch
    optimizer, scheduler = make_optimizer(params, config, total)
    loss_fn = nn.CrossEntropyLoss()
    eval_pos = None if test_positions is None else np.asarray(test_positions)[: config.eval_max]
    eval_lab = None
    if eval_pos is not None:
        eval_lab = (
            data.labels[eval_pos]
            if test_labels is None
            else np.asarray(test_labels)[: config.eval_max]
        )

    history: list[dict[str, Any]] = []
    step = 0
    bar = tqdm(total=total, desc="training", unit="step", disable=not progress, leave=False)
    for epoch in range(1, config.epochs + 1):
        model.train()
        for m in frozen:
            m.eval()
        start = time.perf_counter()
        loss_sum, penalty_sum, correct, seen = 0.0, 0.0, 0, 0
        for _ in range(steps_per_epoch):
            pos = batches.next()
            if size > 1:
                whole, pos = len(pos), ddp.shard(pos, rank, size)
            x = data.features(pos, device)
            y = torch.as_tensor([labels_of[int(p)] for p in pos], dtype=torch.long, device=device)
            logits = net(x)
            data_loss = loss_fn(logits, y)
            loss = data_loss
            if size > 1:
                loss = loss * ddp.share_weight(len(pos), whole, size)
            if config.l2 > 0:
                penalty = l2_penalty(model)
                if penalty is not None:
                    loss = loss + config.l2 * penalty
                    penalty_sum += float(penalty.detach()) * config.l2 * len(pos)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            scheduler.step()
            step += 1
            loss_sum += float(data_loss.detach()) * len(pos)
            correct += int((logits.detach().argmax(1) == y).sum())
            seen += len(pos)
            bar.update()
        loss_sum, penalty_sum, correct, seen = ddp.reduce_sums(
            [loss_sum, penalty_sum, correct, seen], device
        )
        record: dict[str, Any] = {
            "epoch": epoch,
            "epochs": config.epochs,
            "step": step,
            "loss": loss_sum / seen,  # cross-entropy only, comparable across l2 settings
            "l2_penalty": penalty_sum / seen,
            "train_acc": correct / seen,
            "lr": optimizer.param_groups[0]["lr"],
            "seconds": time.perf_counter() - start,
            "samples_per_s": seen / max(time.perf_counter() - start, 1e-9),
        }
        last = epoch == config.epochs
        if (
            eval_pos is not None
            and len(eval_pos)
            and config.eval_every
            and (epoch % config.eval_every == 0 or last)
        ):
            m = evaluate_positions(model, data, eval_pos, eval_lab, config.threshold,
                                   config.eval_batch_size, device)  # fmt: skip
            record.update({"test_acc": m["accuracy"], "test_for": m["for"], "test_n": m["n"]})
        history.append(record)
        if on_epoch is not None:
            on_epoch(record)
    bar.close()
    model.eval()
    return history


# -- jobs ---------------------------------------------------------------------------------
def _data_meta(data: LabelledDataset, split: Split, config: TrainConfig) -> dict[str, Any]:
    return {
        "path": str(data.data.path),
        "design": data.data.design,
        "content_hash": data.data.content_hash,
        "n_layouts": len(data),
        "n_train": len(split.train),
        "n_test": len(split.test),
        "alpha": config.alpha,
        "test_fraction": config.test_fraction,
        "split_seed": config.split_seed,
        "train_ids_sha256": data.ids_hash(split.train),
        "test_ids_sha256": data.ids_hash(split.test),
    }


def _meta(
    model: nn.Module,
    data: LabelledDataset,
    split: Split,
    config: TrainConfig,
    history: list[dict[str, Any]],
    test_metrics: dict[str, Any],
    parent: dict[str, Any] | None,
) -> dict[str, Any]:
    return {
        "arch": config.arch,
        "model_kwargs": dict(config.model_kwargs),
        "image_size": data.image_size,
        "channel_order": list(data.channel_order),
        "feature_config": data.data.attrs.get("feature_config"),
        "label": data.label_meta(),
        "threshold": config.threshold,
        "data": _data_meta(data, split, config),
        "package_version": __version__,
        "train_config": asdict(config),
        "parent": parent,
        "test_metrics": test_metrics,
        # wall-clock figures stay out of the file, so the same run gives the same bytes
        "history": [{k: v for k, v in h.items() if k not in _TIMING_KEYS} for h in history],
    }


def train(
    data: LabelledDataset,
    config: TrainConfig | None = None,
    *,
    model: nn.Module | None = None,
    progress: bool = True,
    on_epoch: Callable[[dict[str, Any]], None] | None = None,
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
    test_metrics = evaluate_positions(model, data, split.test, None, config.threshold,
                                      config.eval_batch_size, config.device)  # fmt: skip
    meta = _meta(model, data, split, config, history, test_metrics, None)
    return TrainResult(model, meta, history, test_metrics, split, config)


def load_parent(
    parent: str | os.PathLike[str] | tuple[nn.Module, Mapping[str, Any]],
    device: str = "cpu",
) -> tuple[nn.Module, dict[str, Any], dict[str, Any]]:
    """A parent model for fine-tuning: ``(model, meta, parent record for the child's meta)``."""
    if isinstance(parent, tuple):
        model, meta = parent
        model = copy.deepcopy(model)
        record = {"path": None, "sha256": None}
    else:
        model, meta = load_checkpoint(parent, device=device)
        record = {"path": str(parent), "sha256": file_sha256(parent)}
    meta = dict(meta)
    record.update(
        {
            "arch": meta.get("arch"),
            "design": (meta.get("data") or {}).get("design"),
            "data_content_hash": (meta.get("data") or {}).get("content_hash"),
            "label": meta.get("label"),
            "parent": meta.get("parent"),
        }
    )
    return model, meta, record


def finetune_config(
    config: TrainConfig, model: nn.Module, parent_meta: Mapping[str, Any]
) -> TrainConfig:
    """The resolved settings of fine-tuning ``model`` (a parent with metadata
    ``parent_meta``): architecture from the parent, fine-tuning defaults, and unless ``lr``
    is given, the parent's learning rate times ``lr_scale``."""
    ptrain = TrainConfig.from_dict(parent_meta.get("train_config") or {})
    config = replace(config, arch=parent_meta["arch"],
                     model_kwargs=dict(parent_meta.get("model_kwargs") or {}))  # fmt: skip
    lr_given = config.lr is not None
    config = resolve_config(config, model, finetune=True)
    if not lr_given:
        base = ptrain.lr if ptrain.lr is not None else config.lr
        config = replace(config, lr=base * config.lr_scale)
    return config


def finetune(
    parent: str | os.PathLike[str] | tuple[nn.Module, Mapping[str, Any]],
    data: LabelledDataset,
    config: TrainConfig | None = None,
    *,
    train_positions: np.ndarray | None = None,
    train_labels: np.ndarray | None = None,
    test_positions: np.ndarray | None = None,
    test_labels: np.ndarray | None = None,
    progress: bool = True,
    on_epoch: Callable[[dict[str, Any]], None] | None = None,
) -> TrainResult:
    """Transfer learning: continue training a parent model on ``alpha`` of a new data set.

    The learning rate is the parent's (or the config's ``lr``) times ``lr_scale``; layers
    are frozen as ``config.freeze`` says. ``alpha = 0`` evaluates the parent unchanged
    (the paper's "0.00" rows). The child's metadata records the parent.

    Args:
        parent: a model file, or ``(model, meta)`` in memory (copied, never modified).
        data: the new design's labelled data set (same image size and channel order).
        config: settings; ``arch`` is taken from the parent.
        train_positions/train_labels/test_positions/test_labels: override the split and
            labels (the few-shot protocol).

    Raises:
        CheckpointError: the parent does not fit the data.
    """
    config = config or TrainConfig()
    model, pmeta, record = load_parent(parent, config.device)
    where = None if isinstance(parent, tuple) else parent
    check_fits(pmeta, image_size=data.image_size, channel_order=data.channel_order, path=where,
               data=data.data.path)  # fmt: skip
    config = finetune_config(config, model, pmeta)
    split = data.split(config.alpha, config.split_seed, config.test_fraction)
    train_pos = split.train if train_positions is None else np.asarray(train_positions)
    test_pos = split.test if test_positions is None else np.asarray(test_positions)
    if train_positions is not None:
        split = Split(train_pos, test_pos, split.pool, split.seed, len(train_pos) / max(len(data), 1),
                      split.test_fraction)  # fmt: skip
    frozen = freeze(model, config.freeze)
    history: list[dict[str, Any]] = []
    if len(train_pos) and config.epochs > 0:
        history = fit(model, data, train_pos, config, train_labels=train_labels,
                      test_positions=test_pos, test_labels=test_labels, frozen=frozen,
                      progress=progress, on_epoch=on_epoch)  # fmt: skip
    for p in model.parameters():
        p.requires_grad_(True)
    model.eval()
    test_metrics = evaluate_positions(model, data, test_pos, test_labels, config.threshold,
                                      config.eval_batch_size, config.device)  # fmt: skip
    meta = _meta(model, data, split, config, history, test_metrics, record)
    return TrainResult(model, meta, history, test_metrics, split, config)


def evaluate(
    model: nn.Module,
    meta: Mapping[str, Any],
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
    and fraction from its metadata) or on all of it (``split="all"``).

    The test split of a data set the model was not trained on is the same rule (its own
    last 20%), so fine-tuned and from-scratch models of a design are compared on the same
    layouts. ``keep_scores`` adds the ``scores`` and ``labels`` arrays the metrics come
    from (to draw the trade-off of other thresholds without scoring again).
    """
    check_fits(meta, image_size=data.image_size, channel_order=data.channel_order,
               data=data.data.path)  # fmt: skip
    cfg = TrainConfig.from_dict(meta.get("train_config") or {})
    seed = cfg.split_seed if split_seed is None else split_seed
    fraction = cfg.test_fraction if test_fraction is None else test_fraction
    if split == "all":
        positions = np.arange(len(data))
    elif split == "test":
        positions = data.split(0.0, seed, fraction).test
    else:
        raise MagicalPruneError(f"split must be 'test' or 'all', got {split!r}")
    thr = float(meta.get("threshold", DEFAULT_THRESHOLD)) if threshold is None else threshold
    labels = data.labels[positions]
    scores = predict_scores(model, data, positions, batch_size, device)
    out = classification_metrics(labels, scores, thr)
    if keep_scores:
        out.update(scores=np.asarray(scores), labels=np.asarray(labels))
    out["split"] = split
    out["trained_on_same_data"] = (meta.get("data") or {}).get(
        "content_hash"
    ) == data.data.content_hash
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
    model, meta = load_checkpoint(model_path, device=device)
    label = meta.get("label") or {}
    data = LabelledDataset.open(
        data_path,
        metric=metric if metric is not None else label.get("metric"),
        worst_percent=worst_percent
        if worst_percent is not None
        else label.get("worst_percent", 25.0),
        balanced=balanced if balanced is not None else bool(label.get("balanced", False)),
    )
    try:
        return evaluate(model, meta, data, split=split, threshold=threshold, device=device)
    except CheckpointError as err:
        raise err.at(model_path) from None


def plot_history(
    history: Sequence[Mapping[str, Any]], path: str | os.PathLike[str], title: str = ""
) -> Path:
    """Training curves (loss; train and test accuracy; test FOR) as a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    epochs = [h["epoch"] for h in history]
    fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(10, 4))
    ax_loss.plot(epochs, [h["loss"] for h in history], label="training loss")
    ax_loss.set_xlabel("epoch")
    ax_loss.set_ylabel("loss")
    ax_loss.legend()
    ax_acc.plot(epochs, [100 * h["train_acc"] for h in history], label="train accuracy")
    tested = [h for h in history if h.get("test_acc") is not None]
    if tested:
        ax_acc.plot([h["epoch"] for h in tested], [100 * h["test_acc"] for h in tested],
                    label="test accuracy")  # fmt: skip
        fors = [h for h in tested if h.get("test_for") is not None]
        ax_acc.plot([h["epoch"] for h in fors], [100 * h["test_for"] for h in fors],
                    label="test FOR")  # fmt: skip
    ax_acc.set_xlabel("epoch")
    ax_acc.set_ylabel("%")
    ax_acc.legend()
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path, dpi=100, metadata={"Software": None})
    plt.close(fig)
    return path
