"""A learner on geometric vectors that picks its model by cross-validation on the user's labels.

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
``trees-physics`` (gradient-boosted trees on every vector plus the out-of-fold
``ridge-physics`` prediction; from 64 labels) and ``trees`` (trees on the layout vector
fitted to the badness, the baseline's recipe; from 64 labels). :meth:`GeometryLearner.fit`
scores each by K-fold cross-validation (Spearman correlation of out-of-fold score and
badness) and refits the best on all labels, keeping :data:`FEW_LABELS` (the role ridge for
signed metrics, the layout ridge otherwise) unless the best leads it by more than
:func:`preference_margin`; under :data:`CV_MIN_LABELS` labels it takes :data:`FEW_LABELS`
without cross-validating.
Its out-of-fold scores are kept for threshold calibration. Deterministic for a given seed.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from magical_prune.errors import MagicalPruneError
from magical_prune.geoarrays import LinearModel, TreeTable
from magical_prune.geometry import GeometryVectors, geometry_vectors
from magical_prune.labels import get_metric
from magical_prune.placement import Placement

if TYPE_CHECKING:
    from sklearn.ensemble import HistGradientBoostingRegressor

# scipy and sklearn are imported where a model is fitted: scoring a saved model needs numpy
# only, and `magical-prune score` starts ~2 s faster without them.

__all__ = [
    "CANDIDATES",
    "GeometryLearner",
    "LearnerConfig",
    "preference_margin",
    "stack_vectors",
    "unscaled_ridge",
]

#: Fewest labels for the tree candidates (sklearn's trees need ~20 per leaf to split).
TREE_MIN_LABELS = 64
#: Fewest labels for choosing by cross-validation; below, :data:`FEW_LABELS` is taken: with
#: 3 labels per fold the choice is noise, and on the reference designs at 16 labels it cost
#: up to 2 points of FOR against the role ridge alone.
CV_MIN_LABELS = 32
#: The candidate under :data:`CV_MIN_LABELS` labels, by whether the metric is signed. The
#: role ridge pays through the sign (oriented sums of separations); a metric without one,
#: such as CMRR, falls with the *size* of a mismatch, which is not linear in those sums, and
#: depends on the wire lengths the layout vector carries: there the layout ridge (ota4 at 16
#: labels: FOR 15.3% against the role ridge's 16.6%). When not among the candidates: the first.
FEW_LABELS = {True: "ridge-roles", False: "ridge-layout"}


def preference_margin(labels: int) -> float:
    """How much higher another candidate's cross-validated Spearman must be for it to be
    taken over :data:`FEW_LABELS`: about one standard error of a rank correlation from
    ``labels`` layouts (1 / sqrt(n)), so a lead that is noise does not swap the simple model
    for a flexible one. On the reference designs (5 seeds each) this took ota3 at 64 labels
    from FOR 13.4% to 10.7% and ota4 from 12.5% to 11.7%, and cost ota2 at 64 labels 0.5
    points and ota4 at 200-800 0.1 (docs/model.md)."""
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
        "ridge-roles", "ridge-physics", "ridge-pairs", "ridge-layout", "trees-physics", "trees",
    )  # fmt: skip
    seed: int = 0


#: How much more the ridge-roles candidate weights the role vector than the per-pair columns
#: (unscaled ridge: a column's weight is what its coefficient costs). 10 for signed metrics,
#: 1 for the others: measured on the reference designs (offsets at 16 labels: 10 beats 1 by
#: 1.5-2.9 points of FOR; CMRR: 1 beats 10 by 2.2).
ROLE_WEIGHT = {True: 10.0, False: 1.0}


@dataclass(frozen=True)
class Tables:
    """Stacked vectors of many layouts of one design (``roles`` None in data sets built
    before the role vector existed: the ridge-roles candidate is then skipped)."""

    layout: np.ndarray
    pairs: np.ndarray
    heat: np.ndarray
    roles: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.layout)

    def take(self, rows: np.ndarray) -> Tables:
        roles = None if self.roles is None else self.roles[rows]
        return Tables(self.layout[rows], self.pairs[rows], self.heat[rows], roles)

    def role_inputs(self, signed: bool) -> np.ndarray:
        """The role vector (weighted) beside the physics columns; with their magnitudes too
        for unsigned metrics (a CMRR falls with the size of a mismatch, not its sign)."""
        if self.roles is None:
            raise MagicalPruneError(
                "these geometry rows have no role vector (rebuild the data set)"
            )
        x = np.column_stack([ROLE_WEIGHT[signed] * self.roles, self.physics])
        return x if signed else np.column_stack([x, np.abs(x)])

    @property
    def physics(self) -> np.ndarray:
        """Pair separations (the first entries of the pair vector) and heat asymmetry."""
        return np.column_stack([self.pairs[:, : self.heat.shape[1]], self.heat])


def stack_vectors(vectors: Sequence[GeometryVectors]) -> Tables:
    """Stack the vectors of layouts of one design; they must line up."""
    if not vectors:
        raise MagicalPruneError("no layouts to learn from")
    try:
        return Tables(
            *(
                np.stack([getattr(v, k) for v in vectors])
                for k in ("layout", "pairs", "heat", "roles")
            )  # fmt: skip
        )
    except ValueError:
        raise MagicalPruneError(
            "the layouts' geometric vectors differ in length: they are not of one design"
        ) from None


def _ridge() -> object:
    from sklearn.linear_model import RidgeCV
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    return make_pipeline(StandardScaler(), RidgeCV(alphas=np.logspace(-3, 4, 15)))


def unscaled_ridge() -> object:
    """The ridge-roles candidate's model (also what benchmarks fit on its inputs)."""
    from sklearn.linear_model import RidgeCV
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    # centred, not scaled: every column is in µm, and the penalty should treat a µm alike
    return make_pipeline(StandardScaler(with_std=False), RidgeCV(alphas=np.logspace(-4, 4, 17)))


def _trees(n: int, seed: int) -> HistGradientBoostingRegressor:
    from sklearn.ensemble import HistGradientBoostingRegressor

    # No early stopping: sklearn turns it on above 10,000 rows and measures progress against
    # an absolute tolerance (1e-7) on the squared loss, which offsets in volts (~1e-5, losses
    # ~1e-10) never beat: it stopped after 10 of 200 trees and doubled the FOR at 12,800 labels.
    return HistGradientBoostingRegressor(
        max_iter=200, learning_rate=0.05, min_samples_leaf=max(5, min(20, n // 20)),
        early_stopping=False, random_state=seed,
    )  # fmt: skip


def _kfold(folds: int, seed: int) -> Any:
    from sklearn.model_selection import KFold

    return KFold(folds, shuffle=True, random_state=seed)


def _folds(n: int, wanted: int) -> int:
    """Fewer folds with many labels: each fold then still has hundreds, and trees cost."""
    return max(2, min(wanted, n // 8, 3 if n >= 400 else wanted))


class _Fitted:
    """One candidate fitted on one training set: ``scores(tables)``, higher = worse.

    Ridge fits are kept as :class:`~magical_prune.geoarrays.LinearModel` (four arrays): the
    same numbers as sklearn's pipeline, without its ~3 ms of input checks per call, which
    the hook pays on every candidate."""

    def __init__(self, name: str, t: Tables, target: np.ndarray, signed: bool, seed: int,
                 badness: np.ndarray, folds: int) -> None:  # fmt: skip
        self.name, self.signed = name, signed
        if name == "ridge-roles":
            self.model = LinearModel.of(unscaled_ridge().fit(t.role_inputs(signed), target))
        elif name == "ridge-physics":
            self.model = LinearModel.of(_ridge().fit(t.physics, target))
        elif name == "ridge-pairs":
            self.model = LinearModel.of(_ridge().fit(np.column_stack([t.pairs, t.heat]), target))
        elif name == "ridge-layout":
            self.model = LinearModel.of(_ridge().fit(t.layout, badness))
        elif name == "trees":
            self.model = TreeTable(_trees(len(t), seed).fit(t.layout, badness))
        elif name == "trees-physics":
            self.ridge = LinearModel.of(_ridge().fit(t.physics, target))
            oof = np.zeros(len(t))
            kfold = _kfold(_folds(len(t), folds), seed)
            for train, held in kfold.split(t.layout):
                oof[held] = _ridge().fit(t.physics[train], target[train]).predict(t.physics[held])
            self.model = TreeTable(_trees(len(t), seed).fit(self._inputs(t, oof), target))
        else:
            raise MagicalPruneError(f"unknown candidate {name!r}; known: {', '.join(CANDIDATES)}")

    def state(self) -> dict[str, np.ndarray]:
        """The fitted candidate as named arrays (a model file's weights)."""
        if isinstance(self.model, TreeTable):
            out = {f"trees.{k}": v for k, v in self.model.state().items()}
        else:
            out = LinearModel.of(self.model).state("ridge")
        if hasattr(self, "ridge"):
            out.update(LinearModel.of(self.ridge).state("physics"))
        return out

    @classmethod
    def restore(cls, name: str, signed: bool, state: dict[str, np.ndarray]) -> _Fitted:
        """A candidate rebuilt from :meth:`state` (no sklearn objects needed)."""
        if name not in CANDIDATES:
            raise MagicalPruneError(f"unknown candidate {name!r}; known: {', '.join(CANDIDATES)}")
        fitted = cls.__new__(cls)
        fitted.name, fitted.signed = name, signed
        if name.startswith("trees"):
            trees = {k[len("trees.") :]: v for k, v in state.items() if k.startswith("trees.")}
            fitted.model = TreeTable.from_state(trees)
        else:
            fitted.model = LinearModel.from_state(state, "ridge")
        if name == "trees-physics":
            fitted.ridge = LinearModel.from_state(state, "physics")
        return fitted

    @staticmethod
    def _inputs(t: Tables, ridge: np.ndarray) -> np.ndarray:
        return np.column_stack([t.layout, t.pairs, t.heat, ridge])

    def scores(self, t: Tables) -> np.ndarray:
        if self.name == "ridge-roles":
            raw = self.model.predict(t.role_inputs(self.signed))
        elif self.name == "ridge-physics":
            raw = self.model.predict(t.physics)
        elif self.name == "ridge-pairs":
            raw = self.model.predict(np.column_stack([t.pairs, t.heat]))
        elif self.name in ("trees", "ridge-layout"):
            return self.model.predict(t.layout)
        else:
            raw = self.model.predict(self._inputs(t, self.ridge.predict(t.physics)))
        return np.abs(raw) if self.signed else raw


CANDIDATES: dict[str, int] = {
    "ridge-roles": 2,
    "ridge-physics": 2,
    "ridge-pairs": 2,
    "ridge-layout": 2,
    "trees-physics": TREE_MIN_LABELS,
    "trees": TREE_MIN_LABELS,
}  # name -> fewest labels


@dataclass
class GeometryLearner:
    """Fit on labelled layouts of one design; score new layouts of it (higher = worse).

    Attributes (after :meth:`fit`):
        chosen: the candidate picked by cross-validation.
        cv: mean out-of-fold Spearman correlation per candidate tried.
        oof_scores: the chosen candidate's out-of-fold scores of the training layouts.
        fit_seconds: wall time of the fit, cross-validation included.
    """

    config: LearnerConfig = field(default_factory=LearnerConfig)
    chosen: str | None = None
    cv: dict[str, float] = field(default_factory=dict)
    oof_scores: np.ndarray | None = None
    fit_seconds: float = 0.0
    _model: _Fitted | None = field(default=None, repr=False)

    @property
    def signed(self) -> bool:
        return get_metric(self.config.metric).better == "smaller_abs"

    def badness(self, values: np.ndarray) -> np.ndarray:
        return get_metric(self.config.metric).badness(np.asarray(values, dtype=np.float64))

    def fit(self, tables: Tables, values: np.ndarray) -> GeometryLearner:
        """Choose a candidate by cross-validation and refit it on every label."""
        # One OpenMP thread: on a few thousand rows the trees gain nothing from threads, and
        # on a busy machine (a placer beside us) OpenMP's barriers made each fit 10x slower.
        from threadpoolctl import threadpool_limits

        with threadpool_limits(1, user_api="openmp"):
            return self._fit(tables, values)

    def _fit(self, tables: Tables, values: np.ndarray) -> GeometryLearner:
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
        kfold = _kfold(_folds(len(values), self.config.folds), self.config.seed)
        splits = list(kfold.split(values))
        oof: dict[str, np.ndarray] = {}
        for name in usable:
            oof[name] = np.zeros(len(values))
            for train, held in splits:
                model = self._candidate(name, tables.take(train), target[train], badness[train])
                oof[name][held] = model.scores(tables.take(held))
            self.cv[name] = _rank_correlation(oof[name], badness)
        best = max(usable, key=lambda c: (self.cv[c], -usable.index(c)))
        margin = preference_margin(len(values))
        keep = preferred in usable and self.cv[best] - self.cv[preferred] <= margin
        self.chosen = preferred if keep else best
        self.oof_scores = oof[self.chosen]
        self._model = self._candidate(self.chosen, tables, target, badness)
        self.fit_seconds = time.perf_counter() - start
        return self

    def _candidate(self, name: str, t: Tables, target: np.ndarray, badness: np.ndarray) -> _Fitted:
        return _Fitted(name, t, target, self.signed, self.config.seed, badness, self.config.folds)

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
        learner._model = _Fitted.restore(chosen, learner.signed, state)
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
