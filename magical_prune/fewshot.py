"""The paper's few-shot transfer protocol (Sec. IV-D): a handful of labelled layouts of a
new design, labelled among themselves, and how much better than random the model prunes.

Per repeat:

1. draw ``shots`` layouts (16 in the paper) from the training pool of the target design
   (the first 80% of the shuffled set; the test set is never drawn);
2. label them by rank among themselves: the worst ``worst_percent`` of the shots are 1;
   their cut is the *critical value* (in the metric's units);
3. relabel the test set at that critical value -- a layout is bad if it is at least as bad
   as the shots' cut, so the share of positives in the test set varies from repeat to
   repeat (the design space's distribution is unknown until it has been explored);
4. fine-tune a fresh copy of the pretrained model on the shots;
5. measure FOR on the relabelled test set, beside the FOR of random pruning at the same
   prune rate (the test set's share of positives, see :mod:`magical_prune.metrics`) and the
   FOR of the pretrained model without fine-tuning.

The result gives every repeat and the mean and spread over repeats.

Head-only fine-tuning (``config.freeze == "features"``, the lecture's choice for a small
target set) takes a fast path with the same result: the frozen layers compute the same
inputs of the classifier head in every repeat, so they are computed once for the training
pool and the test set, and each repeat trains and evaluates only the head on them (the
same updates, batches and seed as :func:`magical_prune.training.finetune` with
``freeze="features"``; the figures agree to float rounding). A hundred repeats then cost
about one pass of the network over the data instead of a hundred.
"""

from __future__ import annotations

import copy
import os
from collections.abc import Callable, Mapping
from dataclasses import asdict, replace
from typing import Any

import numpy as np
import torch
from torch import nn

from magical_prune.dataset import LabelledDataset
from magical_prune.errors import MagicalPruneError
from magical_prune.labels import label_at, label_by_rank
from magical_prune.metrics import classification_metrics, mean_and_spread
from magical_prune.training import (
    TrainConfig,
    finetune,
    finetune_config,
    fit,
    load_parent,
    predict_scores,
)

#: figures of each repeat that are aggregated
_AGGREGATED = ("for", "random_for", "pretrained_for", "for_reduction", "prune_rate", "accuracy",
               "precision", "recall", "f1", "positive_rate")  # fmt: skip


def fewshot(
    parent: str | os.PathLike[str] | tuple[nn.Module, Mapping[str, Any]],
    data: LabelledDataset,
    *,
    shots: int = 16,
    repeats: int = 100,
    seed: int = 0,
    config: TrainConfig | None = None,
    progress: bool = True,
    on_repeat: Callable[[dict[str, Any]], None] | None = None,
    fast: bool = True,
) -> dict[str, Any]:
    """Run the protocol; returns ``{"repeats": [...], "summary": {...}, "settings": {...}}``.

    Args:
        parent: the pretrained model (file or ``(model, meta)``).
        data: the target design, labelled by a raw metric (stored labels cannot be
            relabelled); its label cut (``worst_percent``) is applied to the shots.
        shots: layouts per repeat.
        repeats: number of repeats.
        seed: seed of the draws (repeat ``r`` uses ``(seed, r)``); fine-tuning uses
            ``config.seed``.
        config: fine-tuning settings (``alpha`` is ignored: the shots are the training set).
        fast: with ``config.freeze == "features"``, compute the head's inputs once (see
            the module docstring); ``False`` fine-tunes a copy of the whole model per
            repeat (same figures, far slower; kept for checking).

    Raises:
        MagicalPruneError: stored labels, too few layouts, or a bad number of shots.
    """
    from tqdm import tqdm

    if data.metric_values is None:
        raise MagicalPruneError(
            "the few-shot protocol relabels layouts by rank, which needs raw metrics; "
            "this data set only has stored labels",
            data.data.path,
        )
    if data.label_spec.balanced:
        raise MagicalPruneError(
            "the few-shot protocol needs the whole design space: drop --balanced"
        )
    if shots < 2:
        raise MagicalPruneError(f"need at least 2 shots, got {shots}")
    if repeats < 1:
        raise MagicalPruneError(f"need at least 1 repeat, got {repeats}")
    config = replace(config or TrainConfig(), eval_every=0)
    split = data.split(0.0, config.split_seed, config.test_fraction)
    if shots > len(split.pool):
        raise MagicalPruneError(
            f"{shots} shots but only {len(split.pool)} layouts outside the test set"
        )
    metric = data.metric
    worst = data.label_spec.worst_percent

    model, meta, record = load_parent(parent, config.device)
    base = (model, meta)  # loaded once; finetune works on a copy per repeat
    threshold = float(meta.get("threshold", config.threshold))
    pretrained_scores = predict_scores(
        model, data, split.test, config.eval_batch_size, config.device
    )
    test_values = data.metric_values[split.test]

    head = _HeadOnly.make(model, meta, data, split, config) if fast else None

    rows: list[dict[str, Any]] = []
    for r in tqdm(range(repeats), desc="few-shot", unit="repeat", disable=not progress):
        rng = np.random.default_rng([seed, r])
        picked = np.sort(rng.choice(split.pool, size=shots, replace=False))
        shot_labels = label_by_rank(data.metric_values[picked], metric, worst)
        test_labels = label_at(test_values, metric, shot_labels.critical_value)
        if head is not None:
            m = head.run(picked, shot_labels.labels, test_labels)
        else:
            result = finetune(
                base,
                data,
                config,
                train_positions=picked,
                train_labels=shot_labels.labels,
                test_positions=split.test,
                test_labels=test_labels,
                progress=progress,  # a repeat can take minutes: show its updates too
            )
            m = dict(result.test_metrics)
        pre = classification_metrics(test_labels, pretrained_scores, threshold)
        row = {
            "repeat": r,
            "critical_value": shot_labels.critical_value,
            "shot_ids": [str(i) for i in data.ids[picked]],
            **{
                k: m[k]
                for k in (
                    "for",
                    "random_for",
                    "for_reduction",
                    "prune_rate",
                    "accuracy",
                    "precision",
                    "recall",
                    "f1",
                    "positive_rate",
                    "tp",
                    "fp",
                    "tn",
                    "fn",
                )
            },  # fmt: skip
            "pretrained_for": pre["for"],
            "pretrained_prune_rate": pre["prune_rate"],
        }
        rows.append(row)
        if on_repeat is not None:
            on_repeat(row)

    summary = {k: mean_and_spread(r[k] for r in rows) for k in _AGGREGATED}
    paired = [
        r["random_for"] - r["for"]
        for r in rows
        if r["for"] is not None and r["random_for"] is not None
    ]
    summary["for_below_random"] = mean_and_spread(paired)
    summary["share_beating_random"] = float(np.mean([d > 0 for d in paired])) if paired else None
    return {
        "settings": {
            "shots": shots,
            "repeats": repeats,
            "seed": seed,
            "metric": metric,
            "worst_percent": worst,
            "n_test": int(len(split.test)),
            "n_pool": int(len(split.pool)),
            "parent": None if isinstance(parent, tuple) else str(parent),
            "train_config": asdict(config),
            "head_only_fast_path": head is not None,
        },
        "summary": summary,
        "repeats": rows,
    }


class _Inputs:
    """Stands in for a data set in :func:`magical_prune.training.fit`: precomputed inputs
    of the classifier head, indexed by data-set position."""

    def __init__(self, positions: np.ndarray, inputs: torch.Tensor) -> None:
        self.row = {int(p): i for i, p in enumerate(positions)}
        self.inputs = inputs

    def features(self, positions: np.ndarray, device: Any = "cpu") -> torch.Tensor:
        rows = torch.as_tensor([self.row[int(p)] for p in positions], dtype=torch.long)
        return self.inputs[rows].to(device)


@torch.inference_mode()
def head_inputs(
    model: nn.Module,
    head: nn.Module,
    data: LabelledDataset,
    positions: np.ndarray,
    batch_size: int = 128,
    device: str | torch.device = "cpu",
) -> torch.Tensor:
    """The inputs ``head`` (a submodule of ``model``) receives for the layouts at
    ``positions``, captured with a forward pre-hook (``(N, ...)`` float32)."""
    captured: list[torch.Tensor] = []

    def grab(_module: nn.Module, args: tuple[Any, ...]) -> None:
        captured.append(args[0].detach().float().cpu())

    model.eval()
    handle = head.register_forward_pre_hook(grab)
    try:
        for start in range(0, len(positions), batch_size):
            model(data.features(positions[start : start + batch_size], device))
    finally:
        handle.remove()
    return torch.cat(captured) if captured else torch.zeros(0)


class _HeadOnly:
    """Few-shot repeats that fine-tune only the classifier head, on cached inputs."""

    def __init__(self, head: nn.Module, config: TrainConfig, pool: _Inputs, test: torch.Tensor):
        self.head, self.config, self.pool, self.test = head, config, pool, test

    @classmethod
    def make(
        cls,
        model: nn.Module,
        meta: Mapping[str, Any],
        data: LabelledDataset,
        split: Any,
        config: TrainConfig,
    ) -> _HeadOnly | None:
        """The fast path, or ``None`` when it does not apply (not head-only, or the
        architecture names no single classifier module)."""
        if str(config.freeze).lower() != "features":
            return None
        name = (getattr(model, "default_cfg", None) or {}).get("classifier")
        if not name:
            return None
        head = model.get_submodule(str(name))
        resolved = finetune_config(config, model, meta)
        device = resolved.device
        pool = head_inputs(model, head, data, split.pool, resolved.eval_batch_size, device)
        test = head_inputs(model, head, data, split.test, resolved.eval_batch_size, device)
        return cls(head, resolved, _Inputs(split.pool, pool), test)

    def run(
        self, picked: np.ndarray, shot_labels: np.ndarray, test_labels: np.ndarray
    ) -> dict[str, Any]:
        c = self.config
        head = copy.deepcopy(self.head)
        for p in head.parameters():
            p.requires_grad_(True)
        if c.epochs > 0:
            fit(head, self.pool, picked, c, train_labels=shot_labels, progress=False)  # type: ignore[arg-type]
        head.eval()
        with torch.inference_mode():
            logits = head(self.test.to(c.device)).float()
            scores = torch.softmax(logits, dim=1)[:, 1].cpu().numpy()
        return classification_metrics(test_labels, scores, c.threshold)


def format_summary(result: Mapping[str, Any]) -> str:
    """Human lines: FOR mean +- std against random pruning and the pretrained model."""
    s = result["summary"]
    st = result["settings"]

    def pct(key: str) -> str:
        d = s[key]
        if d["mean"] is None:
            return "n/a"
        return f"{100 * d['mean']:.2f}% +- {100 * d['std']:.2f}"

    share = s["share_beating_random"]
    return "\n".join(
        [
            f"few-shot: {st['shots']} shots x {st['repeats']} repeats on {st['metric']} "
            f"(worst {st['worst_percent']:g}%), test set {st['n_test']} layouts",
            f"  FOR fine-tuned   {pct('for')}",
            f"  FOR pretrained   {pct('pretrained_for')}",
            f"  FOR random       {pct('random_for')}",
            f"  prune rate       {pct('prune_rate')}",
            f"  beats random in  {'n/a' if share is None else f'{100 * share:.0f}%'} of repeats",
        ]
    )
