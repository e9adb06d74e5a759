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
4. fine-tune a fresh copy of the pretrained model on the shots
   (:func:`magical_prune.training.finetune_model`, as ``finetune`` and the hook do);
5. measure FOR on the relabelled test set, scored as ``score`` scores (the model's
   Predictor), beside the FOR of random pruning at the same prune rate (the test set's share
   of positives, see :mod:`magical_prune.metrics`) and the FOR of the pretrained model.

The result gives every repeat and the mean and spread over repeats.

Head-only fine-tuning (``config.freeze == "features"``, the lecture's choice for a small
target set) takes a fast path with the same result: the frozen layers compute the same
inputs of the classifier head in every repeat, so they are computed once for the training
pool and the test set, and each repeat fine-tunes only the
head on them with the same routine, updates, batches and seed. A hundred repeats then cost
about one pass of the network over the data instead of a hundred.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping
from dataclasses import asdict, replace
from typing import Any

import numpy as np
import torch
from torch import nn
from tqdm import tqdm

from magical_prune.card import ModelCard
from magical_prune.dataset import LabelledDataset, Split
from magical_prune.errors import MagicalPruneError
from magical_prune.labels import label_at, label_by_rank
from magical_prune.metrics import classification_metrics, mean_and_spread
from magical_prune.predict import SCORE_DECIMALS
from magical_prune.training import (
    ParentSpec,
    TrainConfig,
    finetune,
    finetune_config,
    finetune_model,
    load_parent,
    score_positions,
    scorer_for,
)

__all__ = ["REPEAT_FIGURES", "check_protocol", "fewshot", "format_summary", "summarise"]

#: figures of each repeat that are aggregated
_AGGREGATED = ("for", "random_for", "pretrained_for", "for_reduction", "prune_rate", "accuracy",
               "precision", "recall", "f1", "positive_rate")  # fmt: skip
#: figures of a repeat's fine-tuned model copied into its row
REPEAT_FIGURES = ("for", "random_for", "for_reduction", "prune_rate", "accuracy", "precision", "recall",
        "f1", "positive_rate", "tp", "fp", "tn", "fn")  # fmt: skip


def check_protocol(data: LabelledDataset, shots: int, repeats: int, split: Split) -> None:
    """Refuse what the protocol cannot run on (one line): stored labels, a balanced set,
    fewer than 2 shots or 1 repeat, more shots than layouts outside the test set."""
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
    if shots > len(split.pool):
        raise MagicalPruneError(
            f"{shots} shots but only {len(split.pool)} layouts outside the test set"
        )


def fewshot(
    parent: ParentSpec,
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
        parent: the pretrained model (file, or ``(model, card or metadata)``).
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
    config = replace(config or TrainConfig(), eval_every=0)
    split = data.split(0.0, config.split_seed, config.test_fraction)
    check_protocol(data, shots, repeats, split)
    model, card, _ = load_parent(parent, config.device)
    pretrained = scorer_for(model, card, config.device)
    pretrained_scores = score_positions(pretrained, data, split.test, config.eval_batch_size)
    head = _HeadOnly.make(model, card, data, split, config) if fast else None
    run = _Repeats(data, split, config, (model, card), head, pretrained.threshold,
                   pretrained_scores, progress)  # fmt: skip
    rows: list[dict[str, Any]] = []
    for r in tqdm(range(repeats), desc="few-shot", unit="repeat", disable=not progress):
        rows.append(run.repeat(r, shots, np.random.default_rng([seed, r])))
        if on_repeat is not None:
            on_repeat(rows[-1])
    settings = {
        "shots": shots, "repeats": repeats, "seed": seed, "metric": data.metric,
        "worst_percent": data.label_spec.worst_percent, "n_test": int(len(split.test)),
        "n_pool": int(len(split.pool)),
        "parent": None if isinstance(parent, tuple) else str(parent),
        "train_config": asdict(config), "head_only_fast_path": head is not None,
    }  # fmt: skip
    return {"settings": settings, "summary": summarise(rows), "repeats": rows}


class _Repeats:
    """One repeat of the protocol at a time, on a loaded parent."""

    def __init__(
        self, data: LabelledDataset, split: Split, config: TrainConfig,
        base: tuple[nn.Module, ModelCard], head: _HeadOnly | None, threshold: float,
        pretrained_scores: np.ndarray, progress: bool,
    ) -> None:  # fmt: skip
        self.data, self.split, self.config, self.base, self.head = data, split, config, base, head
        self.threshold, self.pretrained_scores, self.progress = (
            threshold,
            pretrained_scores,
            progress,
        )
        self.test_values = data.metric_values[split.test]

    def repeat(self, r: int, shots: int, rng: np.random.Generator) -> dict[str, Any]:
        data, split = self.data, self.split
        picked = np.sort(rng.choice(split.pool, size=shots, replace=False))
        shot_labels = label_by_rank(data.metric_values[picked], data.metric,
                                    data.label_spec.worst_percent)  # fmt: skip
        test_labels = label_at(self.test_values, data.metric, shot_labels.critical_value)
        if self.head is not None:
            m = self.head.run(picked, shot_labels.labels, test_labels)
        else:
            result = finetune(self.base, data, self.config, train_positions=picked,
                              train_labels=shot_labels.labels, test_positions=split.test,
                              test_labels=test_labels,
                              progress=self.progress)  # a repeat can take minutes  # fmt: skip
            m = dict(result.test_metrics)
        pre = classification_metrics(test_labels, self.pretrained_scores, self.threshold)
        return {
            "repeat": r,
            "critical_value": shot_labels.critical_value,
            "shot_ids": [str(i) for i in data.ids[picked]],
            **{k: m[k] for k in REPEAT_FIGURES},
            "pretrained_for": pre["for"],
            "pretrained_prune_rate": pre["prune_rate"],
        }


def summarise(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Mean and spread of every aggregated figure over the repeats, and how often (and by
    how much) the fine-tuned model's FOR beat random pruning's."""
    summary = {k: mean_and_spread(r[k] for r in rows) for k in _AGGREGATED}
    paired = [
        r["random_for"] - r["for"]
        for r in rows
        if r["for"] is not None and r["random_for"] is not None
    ]
    summary["for_below_random"] = mean_and_spread(paired)
    summary["share_beating_random"] = float(np.mean([d > 0 for d in paired])) if paired else None
    return summary


class _Inputs:
    """Precomputed inputs of the classifier head by data-set position: what the training
    loop reads (a :class:`~magical_prune.training.LabelledSource`) in the fast path."""

    def __init__(self, positions: np.ndarray, inputs: torch.Tensor, labels: np.ndarray) -> None:
        self.row = {int(p): i for i, p in enumerate(positions)}
        self.inputs = inputs
        self.labels = labels

    def __len__(self) -> int:
        return len(self.labels)

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
    ``positions``, captured with a forward pre-hook (``(N, ...)``, in the model's dtype)."""
    captured: list[torch.Tensor] = []
    dtype = next(iter(model.parameters())).dtype

    def grab(_module: nn.Module, args: tuple[Any, ...]) -> None:
        captured.append(args[0].detach().cpu())

    model.eval()
    handle = head.register_forward_pre_hook(grab)
    try:
        for start in range(0, len(positions), batch_size):
            model(data.features(positions[start : start + batch_size], device).to(dtype))
    finally:
        handle.remove()
    return torch.cat(captured) if captured else torch.zeros(0)


@torch.inference_mode()
def _head_scores(head: nn.Module, inputs: torch.Tensor) -> np.ndarray:
    """P(prune) from float64 head inputs as the Predictor computes it: float64, NaN where
    the logits are not finite, rounded to :data:`~magical_prune.predict.SCORE_DECIMALS`."""
    twin = copy.deepcopy(head).double().eval()
    logits = twin(inputs.to(next(iter(twin.parameters())).device))
    probs = torch.softmax(logits, dim=1)[:, 1]
    probs = torch.where(torch.isfinite(logits).all(dim=1), probs, float("nan"))
    return np.round(probs.cpu().numpy(), SCORE_DECIMALS)


class _HeadOnly:
    """Few-shot repeats that fine-tune only the classifier head, on cached inputs: float32
    pool inputs to train on (as the whole model computes them), float64 test inputs to score
    on (as the Predictor computes them)."""

    def __init__(self, head: nn.Module, card: ModelCard, config: TrainConfig, pool: _Inputs,
                 test: torch.Tensor) -> None:  # fmt: skip
        self.head, self.card, self.config, self.pool, self.test = head, card, config, pool, test

    @classmethod
    def make(
        cls, model: nn.Module, card: ModelCard, data: LabelledDataset, split: Split,
        config: TrainConfig,
    ) -> _HeadOnly | None:  # fmt: skip
        """The fast path, or ``None`` when it does not apply (not head-only, or the
        architecture names no single classifier module)."""
        if str(config.freeze).lower() != "features":
            return None
        name = (getattr(model, "default_cfg", None) or {}).get("classifier")
        if not name:
            return None
        resolved = finetune_config(config, model, card)
        size, device = resolved.eval_batch_size, resolved.device
        head = model.get_submodule(str(name))
        pool = head_inputs(model, head, data, split.pool, size, device)
        twin = copy.deepcopy(model).double()
        test = head_inputs(twin, twin.get_submodule(str(name)), data, split.test, size, device)
        # the head alone is trained: nothing in it is frozen
        return cls(head, card, replace(resolved, freeze=None),
                   _Inputs(split.pool, pool, data.labels), test)  # fmt: skip

    def run(
        self, picked: np.ndarray, shot_labels: np.ndarray, test_labels: np.ndarray
    ) -> dict[str, Any]:
        tuned = finetune_model(self.head, self.card, self.pool, picked, self.config,
                               labels=shot_labels)  # fmt: skip
        scores = _head_scores(tuned.model, self.test)
        return classification_metrics(test_labels, scores, self.config.threshold)


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
    geometry = st.get("learner") == "geometry"  # fitted afresh per repeat, not fine-tuned
    tuned, given = ("fit on shots", "given model") if geometry else ("fine-tuned", "pretrained")
    return "\n".join(
        [
            f"few-shot: {st['shots']} shots x {st['repeats']} repeats on {st['metric']} "
            f"(worst {st['worst_percent']:g}%), test set {st['n_test']} layouts",
            f"  FOR {tuned:<13}{pct('for')}",
            f"  FOR {given:<13}{pct('pretrained_for')}",
            f"  FOR random       {pct('random_for')}",
            f"  prune rate       {pct('prune_rate')}",
            *(
                [f"  FOR at {st['worst_percent']:g}% pruned {pct('for_at_share')} (by rank)"]
                if "for_at_share" in s
                else []
            ),
            f"  beats random in  {'n/a' if share is None else f'{100 * share:.0f}%'} of repeats",
        ]
    )
