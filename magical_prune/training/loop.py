"""The training loop every run goes through: training from scratch, fine-tuning, few-shot
repeats and the pruning hook's online learning.

The loop follows the paper's reference: Adam, a staircase learning-rate decay, an L2 penalty
on the convolution and dense weights added to the loss, and "epochs" of a fixed number of
updates (mini-batches drawn from reshuffled passes over the training layouts), so a run costs
the same number of updates whatever the size of the training set. It reads its data through
:class:`LabelledSource`, which a data set on disk, the hook's collected results and cached
head inputs all satisfy. Seeded: the same data, config and seed give the same weights on the
CPU.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

import numpy as np
import torch
from torch import nn
from tqdm import tqdm

from magical_prune import ddp
from magical_prune.errors import MagicalPruneError
from magical_prune.metrics import classification_metrics
from magical_prune.training.config import TrainConfig
from magical_prune.training.layers import l2_penalty, make_optimizer

__all__ = ["LabelledSource", "fit"]

Record = dict[str, Any]


@runtime_checkable
class LabelledSource(Protocol):
    """What the loop reads: inputs and 0/1 labels by position.

    :class:`~magical_prune.dataset.LabelledDataset` is one; the pruning hook's collected
    results and the few-shot protocol's cached head inputs are others.
    """

    labels: np.ndarray

    def __len__(self) -> int: ...

    def features(self, positions: np.ndarray, device: Any = "cpu") -> torch.Tensor: ...


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


@torch.inference_mode()
def _monitor(
    model: nn.Module, data: LabelledSource, positions: np.ndarray, labels: np.ndarray,
    config: TrainConfig, device: torch.device,
) -> dict[str, Any]:  # fmt: skip
    """Test figures between epochs, for the progress lines and the history only: the fast
    float32 path, never a decision (final figures score through the Predictor)."""
    model.eval()
    out = []
    for start in range(0, len(positions), config.eval_batch_size):
        x = data.features(positions[start : start + config.eval_batch_size], device)
        out.append(torch.softmax(model(x).float(), dim=1)[:, 1].cpu().numpy())
    return classification_metrics(labels, np.concatenate(out), config.threshold)


@dataclass
class _Run:
    """The state of one run of the loop (model, optimizer, batches, where the data is)."""

    model: nn.Module
    net: nn.Module
    data: LabelledSource
    labels_of: dict[int, int]
    config: TrainConfig
    device: torch.device
    rank: int
    size: int
    batches: _Batches
    steps_per_epoch: int
    optimizer: torch.optim.Optimizer
    scheduler: Any
    frozen: Sequence[nn.Module]
    step: int = 0


def _start(
    model: nn.Module, data: LabelledSource, positions: np.ndarray, labels: np.ndarray | None,
    config: TrainConfig, frozen: Sequence[nn.Module],
) -> _Run:  # fmt: skip
    """Seed, place the model, and build the optimizer and batches of a run."""
    device = torch.device(config.device)
    rank, size = ddp.world(config.device)
    positions = np.asarray(positions, dtype=np.int64)
    if len(positions) == 0:
        raise MagicalPruneError("no training layouts (alpha too small for this data set)")
    chosen = data.labels[positions] if labels is None else labels
    labels_of = dict(zip(positions.tolist(), np.asarray(chosen).tolist()))
    torch.manual_seed(config.seed)
    model.to(device)
    params = [p for p in model.parameters() if p.requires_grad]
    if not params:
        raise MagicalPruneError("every parameter is frozen: nothing to train")
    net = ddp.wrap(model, device)
    batches = _Batches(positions, config.batch_size, config.seed)
    steps = config.steps_per_epoch or math.ceil(len(positions) / batches.batch_size)
    optimizer, scheduler = make_optimizer(params, config, config.epochs * steps)
    return _Run(model, net, data, labels_of, config, device, rank, size, batches, steps,
                optimizer, scheduler, frozen)  # fmt: skip


def _epoch(run: _Run, bar: Any) -> Record:
    """One epoch of updates; returns its loss, penalty and accuracy sums over all ranks."""
    c, loss_fn = run.config, nn.CrossEntropyLoss()
    run.model.train()
    for m in run.frozen:
        m.eval()
    start = time.perf_counter()
    loss_sum, penalty_sum, correct, seen = 0.0, 0.0, 0, 0
    for _ in range(run.steps_per_epoch):
        pos = run.batches.next()
        if run.size > 1:
            whole, pos = len(pos), ddp.shard(pos, run.rank, run.size)
        x = run.data.features(pos, run.device)
        y = torch.as_tensor([run.labels_of[int(p)] for p in pos], dtype=torch.long,
                            device=run.device)  # fmt: skip
        logits = run.net(x)
        data_loss = loss_fn(logits, y)
        loss = data_loss
        if run.size > 1:
            loss = loss * ddp.share_weight(len(pos), whole, run.size)
        if c.l2 > 0:
            penalty = l2_penalty(run.model)
            if penalty is not None:
                loss = loss + c.l2 * penalty
                penalty_sum += float(penalty.detach()) * c.l2 * len(pos)
        run.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        run.optimizer.step()
        run.scheduler.step()
        run.step += 1
        loss_sum += float(data_loss.detach()) * len(pos)
        correct += int((logits.detach().argmax(1) == y).sum())
        seen += len(pos)
        bar.update()
    loss_sum, penalty_sum, correct, seen = ddp.reduce_sums(
        [loss_sum, penalty_sum, correct, seen], run.device
    )
    elapsed = time.perf_counter() - start
    return {
        "step": run.step,
        "loss": loss_sum / seen,  # cross-entropy only, comparable across l2 settings
        "l2_penalty": penalty_sum / seen,
        "train_acc": correct / seen,
        "lr": run.optimizer.param_groups[0]["lr"],
        "seconds": elapsed,
        "samples_per_s": seen / max(elapsed, 1e-9),
    }


def fit(
    model: nn.Module,
    data: LabelledSource,
    train_positions: np.ndarray,
    config: TrainConfig,
    *,
    train_labels: np.ndarray | None = None,
    test_positions: np.ndarray | None = None,
    test_labels: np.ndarray | None = None,
    frozen: Sequence[nn.Module] = (),
    progress: bool = True,
    on_epoch: Callable[[Record], None] | None = None,
) -> list[Record]:
    """The training loop; returns the per-epoch history. ``config`` must be resolved.

    Args:
        model: the network (moved to ``config.device``).
        data: where the inputs (and default labels) come from.
        train_positions: positions of the training layouts in ``data``.
        train_labels: their labels (default: the data's).
        test_positions, test_labels: layouts evaluated every ``eval_every`` epochs (the
            first ``eval_max``; monitoring only, see :func:`_monitor`).
        frozen: modules kept in eval mode (frozen normalisation statistics).
        progress: tqdm bar over the updates.
        on_epoch: called with each epoch's record (the CLI prints it).

    Under ``torchrun`` (:mod:`magical_prune.ddp`) each process computes its share of every
    mini-batch and DDP averages the gradients: the steps of one process, up to float
    noise; only rank 0 shows progress and gets ``on_epoch``.
    """
    run = _start(model, data, train_positions, train_labels, config, frozen)
    if run.rank != 0:
        progress, on_epoch = False, None
    eval_pos = None if test_positions is None else np.asarray(test_positions)[: config.eval_max]
    if eval_pos is not None:
        eval_lab = data.labels[eval_pos] if test_labels is None else np.asarray(test_labels)
        eval_lab = eval_lab[: config.eval_max]
    history: list[Record] = []
    total = config.epochs * run.steps_per_epoch
    bar = tqdm(total=total, desc="training", unit="step", disable=not progress, leave=False)
    for epoch in range(1, config.epochs + 1):
        record = {"epoch": epoch, "epochs": config.epochs, **_epoch(run, bar)}
        due = config.eval_every and (epoch % config.eval_every == 0 or epoch == config.epochs)
        if eval_pos is not None and len(eval_pos) and due:
            m = _monitor(model, data, eval_pos, eval_lab, config, run.device)
            record.update({"test_acc": m["accuracy"], "test_for": m["for"], "test_n": m["n"]})
        history.append(record)
        if on_epoch is not None:
            on_epoch(record)
    bar.close()
    model.eval()
    return history
