"""The geometry learner's candidate models, and the blend of those it cannot tell apart.

Each candidate is a ridge or gradient-boosted trees on some of a layout's geometric vectors
(:mod:`magical_prune.geolearn` says which and why). Fitted ones keep their weights as plain
arrays (:mod:`magical_prune.geoarrays`), so a saved model scores with numpy alone.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from magical_prune.errors import MagicalPruneError
from magical_prune.geoarrays import LinearModel, TreeTable
from magical_prune.geometry import GeometryVectors
from magical_prune.roleprior import AdaptedPrior

if TYPE_CHECKING:
    from sklearn.ensemble import HistGradientBoostingRegressor

# sklearn is imported where a model is fitted: scoring a saved model needs numpy only.

__all__ = [
    "BLEND_SEPARATOR",
    "CANDIDATES",
    "Blend",
    "Candidate",
    "PRIOR",
    "PriorMember",
    "ROLE_WEIGHT",
    "TREE_MIN_LABELS",
    "Tables",
    "fold_count",
    "kfold",
    "scaled_ridge",
    "stack_vectors",
    "trees_model",
    "unscaled_ridge",
]

#: Fewest labels for the tree candidates (sklearn's trees need ~20 per leaf to split).
TREE_MIN_LABELS = 64

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
    def mismatch(self) -> np.ndarray:
        """The layout vector beside the pairs' |separation| and |heat asymmetry|: the size of
        each mismatch, which a metric without a sign (CMRR) falls with."""
        return np.column_stack([self.layout, np.abs(self.physics)])

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


def scaled_ridge() -> object:
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


def trees_model(n: int, seed: int) -> HistGradientBoostingRegressor:
    from sklearn.ensemble import HistGradientBoostingRegressor

    # No early stopping: sklearn turns it on above 10,000 rows and measures progress against
    # an absolute tolerance (1e-7) on the squared loss, which offsets in volts (~1e-5, losses
    # ~1e-10) never beat: it stopped after 10 of 200 trees and doubled the FOR at 12,800 labels.
    return HistGradientBoostingRegressor(
        max_iter=200, learning_rate=0.05, min_samples_leaf=max(5, min(20, n // 20)),
        early_stopping=False, random_state=seed,
    )  # fmt: skip


def kfold(folds: int, seed: int) -> Any:
    from sklearn.model_selection import KFold

    return KFold(folds, shuffle=True, random_state=seed)


def fold_count(n: int, wanted: int) -> int:
    """Fewer folds with many labels: each fold then still has hundreds, and trees cost."""
    return max(2, min(wanted, n // 8, 3 if n >= 400 else wanted))


class Candidate:
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
            self.model = LinearModel.of(scaled_ridge().fit(t.physics, target))
        elif name == "ridge-pairs":
            self.model = LinearModel.of(
                scaled_ridge().fit(np.column_stack([t.pairs, t.heat]), target)
            )
        elif name == "ridge-layout":
            self.model = LinearModel.of(scaled_ridge().fit(t.layout, badness))
        elif name == "ridge-mismatch":
            self.model = LinearModel.of(scaled_ridge().fit(t.mismatch, badness))
        elif name == "trees":
            self.model = TreeTable(trees_model(len(t), seed).fit(t.layout, badness))
        elif name == "trees-physics":
            self.ridge = LinearModel.of(scaled_ridge().fit(t.physics, target))
            oof = np.zeros(len(t))
            for train, held in kfold(fold_count(len(t), folds), seed).split(t.layout):
                oof[held] = (
                    scaled_ridge().fit(t.physics[train], target[train]).predict(t.physics[held])
                )
            self.model = TreeTable(trees_model(len(t), seed).fit(self._inputs(t, oof), target))
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
    def restore(cls, name: str, signed: bool, state: dict[str, np.ndarray]) -> Candidate:
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
        elif self.name == "ridge-mismatch":
            return self.model.predict(t.mismatch)
        else:
            raw = self.model.predict(self._inputs(t, self.ridge.predict(t.physics)))
        return np.abs(raw) if self.signed else raw


#: the name of :class:`PriorMember` in a blend (``ridge-roles+prior``)
PRIOR = "prior"


class PriorMember:
    """The design-agnostic prior adapted to the design, as a blend member: it learns nothing
    from the labels (:class:`~magical_prune.roleprior.AdaptedPrior`)."""

    name = PRIOR

    def __init__(self, adapted: AdaptedPrior) -> None:
        self.adapted = adapted

    def scores(self, t: Tables) -> np.ndarray:
        if t.roles is None:
            raise MagicalPruneError("the prior needs the role vector (rebuild the data set)")
        return self.adapted.scores(t.layout, t.roles)

    def state(self) -> dict[str, np.ndarray]:
        return self.adapted.state()


class Blend:
    """The mean of several fitted candidates' scores, each standardised by the mean and
    spread of its own out-of-fold scores (so members on different scales, |volts| and
    badness, count alike). Averaging the candidates that cross-validation cannot tell
    apart removes the noise of picking one: on the reference designs it lowered FOR at 200
    labels on every design, by 0.3-1.4 points (docs/model.md)."""

    def __init__(self, members: Sequence[Candidate | PriorMember], scale: np.ndarray) -> None:
        self.members = list(members)
        self.scale = np.asarray(scale, dtype=np.float64).reshape(len(self.members), 2)

    @staticmethod
    def scale_of(oof: np.ndarray) -> tuple[float, float]:
        spread = float(np.std(oof))
        return float(np.mean(oof)), spread if spread > 0 else 1.0

    @staticmethod
    def average(parts: Sequence[np.ndarray], scale: np.ndarray) -> np.ndarray:
        """The mean of the members' scores, each standardised by its row of ``scale``."""
        return np.mean([(x - mu) / sd for x, (mu, sd) in zip(parts, scale)], axis=0)

    def scores(self, t: Tables) -> np.ndarray:
        return self.average([m.scores(t) for m in self.members], self.scale)

    def state(self) -> dict[str, np.ndarray]:
        out: dict[str, np.ndarray] = {}
        for member, scale in zip(self.members, self.scale):
            out.update({f"{member.name}/{k}": v for k, v in member.state().items()})
            out[f"{member.name}/scale"] = scale
        return out

    @classmethod
    def restore(cls, names: Sequence[str], signed: bool, state: dict[str, np.ndarray]) -> Blend:
        members: list[Candidate | PriorMember] = []
        scale = []
        for name in names:
            own = {k[len(name) + 1 :]: v for k, v in state.items() if k.startswith(name + "/")}
            if "scale" not in own:
                raise MagicalPruneError(f"no arrays for the blend's member {name!r}")
            scale.append(own.pop("scale"))
            if name == PRIOR:
                members.append(PriorMember(AdaptedPrior.from_state(own)))
            else:
                members.append(Candidate.restore(name, signed, own))
        return cls(members, np.stack(scale))


#: how a blend's candidates are joined in :attr:`GeometryLearner.chosen` and model cards
BLEND_SEPARATOR = "+"

CANDIDATES: dict[str, int] = {
    "ridge-roles": 2,
    "ridge-physics": 2,
    "ridge-pairs": 2,
    "ridge-layout": 2,
    "ridge-mismatch": 2,
    "trees-physics": TREE_MIN_LABELS,
    "trees": TREE_MIN_LABELS,
}  # name -> fewest labels
