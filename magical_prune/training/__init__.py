"""Train, fine-tune (transfer learning) and evaluate placement-quality networks.

The loop (:mod:`.loop`) follows the paper's reference: Adam, a staircase learning-rate decay
(``lr * lr_decay ** (step // lr_decay_steps)``), an L2 penalty on the convolution and dense
weights added to the loss, and "epochs" of a fixed number of updates, so a training run costs
the same number of updates whatever the size of the training set. Every hyper-parameter left
unset in :class:`TrainConfig` comes from the architecture's ``default_cfg`` (:mod:`.config`).

Transfer learning (:func:`finetune`, and :func:`finetune_model` which the few-shot protocol
and the pruning hook share with it, :mod:`.transfer`): start from a trained model, train on a
(small) share of a new design's layouts at a reduced learning rate, optionally with early
layers frozen (:mod:`.layers`).

Final figures score through the model's Predictor (:mod:`.evaluation`), the numbers ``score``
gives. Everything is seeded: the same data, config and seed give the same weights on the CPU.
The jobs (:mod:`.jobs`) return plain results (:class:`TrainResult`, metric dicts) with a
:class:`~magical_prune.card.ModelCard`, so scripts such as ``benchmarks/paper.py`` stay thin.
Training curves are drawn by :func:`magical_prune.plots.plot_history`.
"""

from __future__ import annotations

from magical_prune.training.config import (
    FALLBACK_CFG,
    TrainConfig,
    arch_defaults,
    create,
    resolve_config,
)
from magical_prune.training.evaluation import (
    evaluate,
    evaluate_checkpoint,
    evaluate_positions,
    predict_scores,
    score_positions,
    scorer_for,
)
from magical_prune.training.jobs import TrainResult, finetune, train
from magical_prune.training.layers import (
    classifier_modules,
    freeze,
    l2_penalty,
    make_optimizer,
    unfreeze,
    weight_layers,
)
from magical_prune.training.loop import LabelledSource, fit
from magical_prune.training.records import dataset_card
from magical_prune.training.transfer import (
    FineTuned,
    ParentSpec,
    finetune_config,
    finetune_model,
    load_parent,
)

__all__ = [
    "FALLBACK_CFG",
    "FineTuned",
    "LabelledSource",
    "ParentSpec",
    "TrainConfig",
    "TrainResult",
    "arch_defaults",
    "classifier_modules",
    "create",
    "dataset_card",
    "evaluate",
    "evaluate_checkpoint",
    "evaluate_positions",
    "finetune",
    "finetune_config",
    "finetune_model",
    "fit",
    "freeze",
    "l2_penalty",
    "load_parent",
    "make_optimizer",
    "predict_scores",
    "resolve_config",
    "score_positions",
    "scorer_for",
    "train",
    "unfreeze",
    "weight_layers",
]
