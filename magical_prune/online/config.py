"""The settings of the pruning hook's online learning (saved with the hook's state), and what
it learns when a setting is left to the model: the model's metric, cut and calibration target.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

from magical_prune.calibrate import check_margin
from magical_prune.card import ModelCard
from magical_prune.errors import MagicalPruneError

__all__ = ["DEFAULT_TARGET_FOR", "HookConfig"]

#: default FOR target when neither the caller nor the model's calibration gives one
DEFAULT_TARGET_FOR = 0.08


@dataclass
class HookConfig:
    """How the hook learns from feedback (saved with its state).

    Attributes:
        metric: the ``performance`` key results are ranked by (default: the model's).
        worst_percent: share of the collected results labelled "prune" (default: the
            model's cut, else 25).
        min_results: results needed before the first fine-tuning (the paper: 16 shots).
        refit_every: fine-tune again after this many new results.
        max_results: keep at most this many results (the oldest are dropped); each costs
            ``6 * size * size * 4`` bytes of features (98 KB at 64x64).
        explore: share of would-be-pruned candidates kept anyway (see the module docs).
        for_margin: standard errors of the recalibration's FOR estimate kept under the
            target (0: the estimate itself; see :func:`magical_prune.calibrate.
            calibrate_threshold`).
        recalibrate: recalibrate the threshold after fine-tuning (needs a target FOR).
        max_good_pruned: the most the recalibrated threshold may prune of the good results
            (weighted). A model that reaches the target FOR only by pruning more than that
            does not yet tell this design's good placements from its bad ones (it meets the
            target by pruning nearly everything: measured on reference ota2 and ota4 after
            16-32 results, 90% pruned at a FOR no better than random), so the hook then
            prunes nothing until a later fine-tuning does better. ``None``: no limit.
        epochs: fine-tuning passes over the collected results (``None``: the
            architecture's fine-tuning default).
        lr: fine-tuning learning rate (``None``: the parent's times its fine-tuning scale).
        freeze: layers frozen while fine-tuning (``None``, ``"features"``, or a count).
        background: fine-tune in a background thread (``False``: inside ``update``,
            deterministic, for tests and scripts).
        threads: torch threads for decisions and fine-tuning (``None``: torch's setting).
            One is fastest for one candidate at a time and leaves the other cores to the
            flow; see :func:`magical_prune.predict.torch_threads`.
        seed: seed of exploration draws and fine-tuning.
        remember: decisions remembered to match later feedback with its score.
    """

    metric: str | None = None
    worst_percent: float | None = None
    min_results: int = 16
    refit_every: int = 16
    max_results: int | None = 4096
    explore: float = 0.05
    for_margin: float = 0.0
    recalibrate: bool = True
    max_good_pruned: float | None = 0.5
    epochs: int | None = None
    lr: float | None = None
    freeze: str | None = None
    background: bool = True
    seed: int = 0
    remember: int = 100_000
    threads: int | None = 1

    def __post_init__(self) -> None:
        if self.min_results < 2:
            raise MagicalPruneError(f"min_results must be >= 2, got {self.min_results}")
        if self.refit_every < 1:
            raise MagicalPruneError(f"refit_every must be >= 1, got {self.refit_every}")
        if self.max_results is not None and self.max_results < self.min_results:
            raise MagicalPruneError("max_results must be at least min_results")
        if not 0.0 <= self.explore < 1.0:
            raise MagicalPruneError(f"explore must be in [0, 1), got {self.explore}")
        check_margin(self.for_margin, "for_margin")
        if self.max_good_pruned is not None and not 0.0 <= self.max_good_pruned <= 1.0:
            raise MagicalPruneError(
                f"max_good_pruned must be in [0, 1], got {self.max_good_pruned}"
            )

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> HookConfig:
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})

    def metric_of(self, card: ModelCard | None) -> str:
        """The performance key results are ranked by: this config's, else the model's."""
        metric = self.metric or (card.metric if card is not None else None)
        if not metric:
            raise MagicalPruneError(
                "the model does not say which metric it was trained on; set HookConfig(metric=...)"
            )
        return str(metric)

    def cut_of(self, card: ModelCard | None) -> float:
        """The share labelled "prune": this config's, else the model's cut, else 25%."""
        if self.worst_percent is not None:
            return float(self.worst_percent)
        return float((card.label.worst_percent if card is not None else None) or 25.0)

    @staticmethod
    def target_for_of(given: float | None, card: ModelCard | None) -> float:
        """The FOR to recalibrate to: ``given``, else the model's calibration target, else
        :data:`DEFAULT_TARGET_FOR`."""
        calibrated = card.calibrated_for if card is not None else None
        value = float(given if given is not None else calibrated or DEFAULT_TARGET_FOR)
        if not 0.0 <= value <= 1.0:
            raise MagicalPruneError(f"target FOR must be in [0, 1], got {value}")
        return value
