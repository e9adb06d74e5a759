"""Online learning for the pruning hook: collected results, relabelling, fine-tuning and
recalibration (paper Sec. IV-D, in the loop).

The flow feeds back the simulated results of the candidates it kept. Once ``min_results``
(16, the paper's few-shot size) are collected, and again after every ``refit_every`` more,
:func:`refit` labels the collected results by rank among themselves (the worst quarter is
"prune", as the few-shot protocol does), fine-tunes a copy of the current model on them with
the package's one fine-tuning routine (:func:`magical_prune.training.finetune_model`), and
recalibrates the threshold for the target FOR (:mod:`.retrain`). :class:`OnlineLearner`
(:mod:`.learner`) collects the results (:mod:`.feedback`) and runs the refit in a background
thread for :class:`~magical_prune.hook.PruneHook`, which swaps the new model in; decisions
never wait for it. The settings are :class:`HookConfig` (:mod:`.config`).

**The feedback is biased.** Only kept candidates are simulated, so the collected results
miss exactly the placements the model thinks are bad; ranking among them sets the "bad" cut
too strict and the model would drift towards pruning good placements. Two things counter it:

* *exploration*: a share ``explore`` (default 5%) of the candidates the model would prune
  is kept anyway, so the flow simulates a sample of the pruned region too;
* *inverse-probability weights*: every collected result carries the inverse of the
  probability it had to be kept (1 below the threshold; when explored, the candidates
  decided at or above the threshold over those explored, as counted by the hook, rather
  than the nominal ``1 / explore``, whose draws' binomial noise would move the cut), and
  both the rank cut and the FOR used to recalibrate are computed with these weights, which
  estimates them for all candidates rather than for the kept ones only.

**Calibration data.** The threshold is calibrated on the scores each result got when its
candidate was decided (by the Predictor current then, which had not been trained on it):
out-of-sample scores, as a test-then-train evaluation. A model is never calibrated on scores
of its own training layouts.
"""

from __future__ import annotations

from magical_prune.online.config import DEFAULT_TARGET_FOR, HookConfig
from magical_prune.online.feedback import (
    InMemorySource,
    Pending,
    Results,
    fingerprint,
    weighted_rank_labels,
)
from magical_prune.online.learner import OnlineLearner, one_line, result_value
from magical_prune.online.retrain import Goal, Refit, refit

__all__ = [
    "DEFAULT_TARGET_FOR",
    "Goal",
    "HookConfig",
    "InMemorySource",
    "OnlineLearner",
    "Pending",
    "Refit",
    "Results",
    "fingerprint",
    "one_line",
    "refit",
    "result_value",
    "weighted_rank_labels",
]
