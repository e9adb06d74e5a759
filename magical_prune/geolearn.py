"""A learner on geometric vectors that weighs its models by cross-validation on the user's labels.

Why not the image CNN on a new design: measured on the reference designs
(``benchmarks/learning_curve.py``, docs/results/learning_curve.md), gradient-boosted trees
on a hundred plain geometric numbers prune twice as well as the CNN at 200 labels. This
learner goes further with two facts about matching:

* the metric's *sign* carries information. A design's nominal offset has a systematic part,
  and a placement is bad when its layout-dependent part pushes the same way; learning the
  signed offset and scoring its predicted magnitude keeps that direction, which a model of
  |offset| has to rediscover from few labels;
* the layout-dependent part is close to linear in the separations of mirrored pairs (a
  linear process gradient) and in their heat asymmetry (:func:`~magical_prune.geometry.
  heat_asymmetry`), so a ridge fit on those few dozen numbers works from 16 labels.

Candidates (signed target for metrics whose magnitude matters, else the badness):
``ridge-roles`` (unscaled ridge on the role vector, weighted up, beside the pair separations
and heat asymmetry: per-pair weights shrink towards shared per-role ones; see
:mod:`magical_prune.pairroles`), ``ridge-physics`` (pair separations + heat asymmetry),
``ridge-pairs`` (the whole pair vector + heat), ``ridge-layout`` (ridge on the layout vector
fitted to the badness: the magnitudes |x| carry what a metric like CMRR depends on),
``ridge-mismatch`` (the layout vector beside each pair's |separation| and |heat asymmetry|,
fitted to the badness: the size of a mismatch, whatever its sign),
``trees-physics`` (gradient-boosted trees on every vector plus the out-of-fold
``ridge-physics`` prediction; from 64 labels) and ``trees`` (trees on the layout vector
fitted to the badness, the baseline's recipe; from 64 labels). :meth:`GeometryLearner.fit`
scores each by K-fold cross-validation (Spearman correlation of out-of-fold score and
badness), refits on all labels every candidate whose correlation is within
:func:`preference_margin` of the best, and averages their standardised scores (one
candidate when the best leads by more; see :class:`Blend`); under :data:`CV_MIN_LABELS`
labels it takes :data:`FEW_LABELS` (the role ridge for signed metrics, the layout ridge
otherwise) without cross-validating, averaged with the design-agnostic prior when one is
given (:class:`~magical_prune.roleprior.AdaptedPrior`: learnt on other designs, it knows
what a bad layout looks like before the labels do; see :data:`CV_MIN_LABELS`).
Its out-of-fold scores are kept for threshold calibration. Deterministic for a given seed.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from magical_prune.errors import MagicalPruneError
from magical_prune.geocandidates import (
    BLEND_SEPARATOR,
    CANDIDATES,
    PRIOR,
    Blend,
    Candidate,
    PriorMember,
    Tables,
    fold_count,
    kfold,
    stack_vectors,
    unscaled_ridge,
)
from magical_prune.geometry import geometry_vectors
from magical_prune.labels import get_metric
from magical_prune.placement import Placement
from magical_prune.roleprior import AdaptedPrior

# scipy and sklearn are imported where a model is fitted: scoring a saved model needs numpy
# only, and `magical-prune score` starts ~2 s faster without them.

__all__ = [
    "BLEND_SEPARATOR",
    "CANDIDATES",
    "Blend",
    "GeometryLearner",
    "LearnerConfig",
    "Tables",
    "preference_margin",
    "stack_vectors",
    "unscaled_ridge",
]

#: Fewest labels for choosing by cross-validation; below, :data:`FEW_LABELS` is taken: with
#: 3 labels per fold the choice is noise, and on the reference designs at 16 labels it cost
#: up to 2 points of FOR against the role ridge alone. Below it, a prior given to
#: :meth:`GeometryLearner.fit` is averaged in (:func:`prior_weight`): pretrained on the other
#: reference designs, that lowered FOR in all 12 cells of ota1-4 at 16, 24 and 28 labels
#: (16,000-layout sets, 10 seeds: by 0.1-2.7 points); from 32 labels, where the choice is
#: cross-validated, it raised ota3's at every weight tried (by 2.6-3.6 points), so it is not
#: used there (docs/model.md, "The prior under few labels").
CV_MIN_LABELS = 32
#: The candidate under :data:`CV_MIN_LABELS` labels, by whether the metric is signed. The
#: role ridge pays through the sign (oriented sums of separations); a metric without one,
#: such as CMRR, falls with the *size* of a mismatch, which is not linear in those sums, and
#: depends on the wire lengths the layout vector carries and the size of each pair's
#: mismatch: there the mismatch ridge (ota4 at 16 labels, no prior: FOR 13.9% against the
#: layout ridge's 15.5%, the role ridge's 16.6%). When not among the candidates: the first.
FEW_LABELS = {True: "ridge-roles", False: "ridge-mismatch"}
#: Candidates used only as the few-label model, not under cross-validation. The mismatch
#: ridge as a cross-validated candidate helped the learning curves on ota4 at 64-800 labels
#: a little (2,000 layouts: 12.6 -> 12.3 at 64, 10.3 -> 10.5 at 200) but made the online hook
#: prune less there (replays, 3 orders: 38.5 / 33.3 / 41.2% -> 29.2 / 28.5 / 37.9% pruned,
#: FOR 8.5 / 9.7 / 9.0 -> 9.9 / 10.3 / 8.9%).
FEW_LABELS_ONLY = ("ridge-mismatch",)
#: labels the prior counts as (:func:`prior_weight`)
PRIOR_LABELS = 16


def prior_weight(labels: int) -> float:
    """The prior's weight beside the learnt model (1 each at :data:`PRIOR_LABELS` labels):
    it counts as :data:`PRIOR_LABELS` labels would, so its share falls as labels come in."""
    return min(1.0, PRIOR_LABELS / max(labels, 1))


def preference_margin(labels: int) -> float:
    """How far below the best cross-validated Spearman a candidate may be and still count as
    tied with it: about one standard error of a rank correlation from ``labels`` layouts
    (1 / sqrt(n)). Tied candidates are averaged (:class:`Blend`) rather than one picked on a
    lead that is noise (docs/model.md, "Averaging the tied candidates")."""
    return 1.0 / float(np.sqrt(max(labels, 1)))


@dataclass(frozen=True)
class LearnerConfig:
    """Settings of :class:`GeometryLearner`.

    Attributes:
        metric: the performance metric learnt (``Offset_Voltage``, ``CMRR``, ...).
        folds: cross-validation folds for the model choice (fewer with few labels).
        candidates: the models to choose from (names of :data:`CANDIDATES`).
        seed: seed of the folds and the trees.
    """

    metric: str = "Offset_Voltage"
    folds: int = 5
    candidates: tuple[str, ...] = (
        "ridge-roles", "ridge-physics", "ridge-pairs", "ridge-layout", "ridge-mismatch",
        "trees-physics", "trees",
    )  # fmt: skip
    seed: int = 0


@dataclass
class GeometryLearner:
    """Fit on labelled layouts of one design; score new layouts of it (higher = worse).

    Attributes (after :meth:`fit`):
        chosen: the candidate kept, or the candidates averaged joined by ``+``.
        cv: mean out-of-fold Spearman correlation per candidate tried.
        oof_scores: the out-of-fold scores of the training layouts (of the blend if one).
        fit_seconds: wall time of the fit, cross-validation included.
    """

    config: LearnerConfig = field(default_factory=LearnerConfig)
    chosen: str | None = None
    cv: dict[str, float] = field(default_factory=dict)
    oof_scores: np.ndarray | None = None
    fit_seconds: float = 0.0
    _model: Candidate | Blend | None = field(default=None, repr=False)

    @property
    def signed(self) -> bool:
        return get_metric(self.config.metric).better == "smaller_abs"

    def badness(self, values: np.ndarray) -> np.ndarray:
        return get_metric(self.config.metric).badness(np.asarray(values, dtype=np.float64))

    def fit(
        self,
        tables: Tables,
        values: np.ndarray,
        prior: AdaptedPrior | None = None,
        unlabelled: Tables | None = None,
    ) -> GeometryLearner:
        """Choose a candidate by cross-validation and refit it on every label; ``prior``
        (adapted to this design) is averaged in under :data:`CV_MIN_LABELS` labels, each
        member standardised by its scores of the ``unlabelled`` layouts (default: ``tables``)."""
        # One OpenMP thread: on a few thousand rows the trees gain nothing from threads, and
        # on a busy machine (a placer beside us) OpenMP's barriers made each fit 10x slower.
        from threadpoolctl import threadpool_limits

        with threadpool_limits(1, user_api="openmp"):
            return self._fit(tables, values, prior, unlabelled)

    def _fit(
        self,
        tables: Tables,
        values: np.ndarray,
        prior: AdaptedPrior | None,
        unlabelled: Tables | None,
    ) -> GeometryLearner:
        start = time.perf_counter()
        values = np.asarray(values, dtype=np.float64)
        if len(values) != len(tables):
            raise MagicalPruneError(f"{len(tables)} layouts but {len(values)} metric values")
        if len(values) < 4 or not np.all(np.isfinite(values)):
            raise MagicalPruneError("need at least 4 finite metric values to learn from")
        badness = self.badness(values)
        target = values if self.signed else badness
        usable = [
            c for c in self.config.candidates
            if len(values) >= CANDIDATES.get(c, 0) and (c != "ridge-roles" or tables.roles is not None)
        ]  # fmt: skip
        preferred = FEW_LABELS[self.signed]
        if len(values) < CV_MIN_LABELS:
            usable = [preferred] if preferred in usable else usable[:1]
        else:
            usable = [c for c in usable if c not in FEW_LABELS_ONLY]
        folds = kfold(fold_count(len(values), self.config.folds), self.config.seed)
        splits = list(folds.split(values))
        oof: dict[str, np.ndarray] = {}
        for name in usable:
            oof[name] = np.zeros(len(values))
            for train, held in splits:
                model = self._candidate(name, tables.take(train), target[train], badness[train])
                oof[name][held] = model.scores(tables.take(held))
            self.cv[name] = _rank_correlation(oof[name], badness)
        best = max(self.cv.values())
        tied = [c for c in usable if self.cv[c] >= best - preference_margin(len(values))]
        fitted: list[Candidate | PriorMember] = [
            self._candidate(name, tables, target, badness) for name in tied
        ]
        scale_on = None
        if prior is not None and len(values) < CV_MIN_LABELS and tables.roles is not None:
            member = PriorMember(prior)
            oof[PRIOR] = member.scores(tables)  # learnt no label: its scores are out of fold
            self.cv[PRIOR] = _rank_correlation(oof[PRIOR], badness)
            tied, fitted = [*tied, PRIOR], [*fitted, member]
            # each member's spread over many layouts: out-of-fold scores from a handful of
            # labels are too few to scale by (ota4 at 16 labels: FOR 16.4% that way, 14.8%
            # this way, 15.5% without the prior)
            scale_on = tables if unlabelled is None else unlabelled
        self.chosen = BLEND_SEPARATOR.join(tied)
        if len(tied) == 1:
            self.oof_scores, self._model = oof[tied[0]], fitted[0]
        else:
            parts = [oof[c] for c in tied] if scale_on is None else [
                m.scores(scale_on) for m in fitted]  # fmt: skip
            scale = np.array([Blend.scale_of(x) for x in parts])
            if PRIOR in tied:  # a wider spread weighs the prior down as labels grow
                scale[tied.index(PRIOR), 1] /= prior_weight(len(values))
            self.oof_scores = Blend.average([oof[c] for c in tied], scale)
            self._model = Blend(fitted, scale)
        self.fit_seconds = time.perf_counter() - start
        return self

    def _candidate(
        self, name: str, t: Tables, target: np.ndarray, badness: np.ndarray
    ) -> Candidate:
        return Candidate(name, t, target, self.signed, self.config.seed, badness, self.config.folds)

    def scores(self, tables: Tables) -> np.ndarray:
        """Predicted badness of each layout (|predicted offset| for signed metrics)."""
        if self._model is None:
            raise MagicalPruneError("the learner has not been fitted")
        return self._model.scores(tables)  # numpy trees and ridge: no OpenMP to limit

    def state(self) -> dict[str, np.ndarray]:
        """The fitted model as named arrays (see :meth:`restore`)."""
        if self._model is None:
            raise MagicalPruneError("the learner has not been fitted")
        return self._model.state()

    @classmethod
    def restore(
        cls, config: LearnerConfig, chosen: str, state: dict[str, np.ndarray]
    ) -> GeometryLearner:
        """A fitted learner from :meth:`state` (what a model file holds)."""
        learner = cls(config=config, chosen=chosen)
        names = chosen.split(BLEND_SEPARATOR)
        if len(names) == 1:
            learner._model = Candidate.restore(chosen, learner.signed, state)
        else:
            learner._model = Blend.restore(names, learner.signed, state)
        return learner

    # -- placements ---------------------------------------------------------------------
    def fit_placements(
        self, placements: Sequence[Placement], values: np.ndarray
    ) -> GeometryLearner:
        return self.fit(stack_vectors([geometry_vectors(p) for p in placements]), values)

    def score_placements(self, placements: Sequence[Placement]) -> np.ndarray:
        return self.scores(stack_vectors([geometry_vectors(p) for p in placements]))


def _rank_correlation(scores: np.ndarray, badness: np.ndarray) -> float:
    if np.ptp(scores) == 0 or np.ptp(badness) == 0:
        return 0.0  # a constant score ranks nothing
    from scipy.stats import spearmanr

    return float(spearmanr(scores, badness).statistic)
