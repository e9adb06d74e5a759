"""Fitted geometry models as flat numpy arrays: evaluated without sklearn, stored as tensors.

:class:`TreeTable` holds every tree of a fitted gradient-boosted ensemble and walks them all
at once; :class:`LinearModel` a scaler + ridge pipeline. Both are what a geometry model file
keeps (:mod:`magical_prune.geomodel`), so scoring needs numpy only.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from magical_prune.errors import MagicalPruneError

if TYPE_CHECKING:
    from sklearn.ensemble import HistGradientBoostingRegressor

__all__ = ["LinearModel", "TreeTable"]


class TreeTable:
    """All trees of a fitted HistGradientBoostingRegressor as flat arrays, evaluated at once.

    Why hand-written: sklearn's predict walks its trees in a Python loop (~50 µs per tree),
    i.e. 10 ms for one layout with 200 trees, where the hook's budget is 2 ms; numpy walks
    all trees together in one step per tree level. It reads sklearn's fitted tree nodes
    (``_predictors``, ``nodes``, ``_baseline_prediction``); where those are not there (another
    sklearn release) or a feature is categorical, :meth:`predict` is sklearn's own.
    """

    def __init__(self, model: HistGradientBoostingRegressor) -> None:
        self.model = model
        self.ready = False
        try:
            trees = [group[0].nodes for group in model._predictors]
            if model.is_categorical_ is not None or not trees:
                return
            offsets = np.cumsum([0] + [len(t) for t in trees[:-1]])
            nodes = np.concatenate(trees)
            shift = np.repeat(offsets, [len(t) for t in trees])
            self.feature = nodes["feature_idx"].astype(np.int64)
            self.threshold = nodes["num_threshold"].astype(np.float64)
            self.missing_left = nodes["missing_go_to_left"].astype(bool)
            self.left = nodes["left"].astype(np.int64) + shift
            self.right = nodes["right"].astype(np.int64) + shift
            self.leaf = nodes["is_leaf"].astype(bool)
            self.value = nodes["value"].astype(np.float64)
            self.roots = offsets.astype(np.int64)
            self.baseline = float(np.ravel(model._baseline_prediction)[0])
            self.depth = int(nodes["depth"].max()) + 1
            self._link_leaves()
            self.ready = True
        except (AttributeError, KeyError, ValueError, IndexError):
            self.ready = False

    def _link_leaves(self) -> None:
        """Children arrays in which a leaf is its own child, so a walk that has reached its
        leaf stays there without a test per level (the walk runs to the deepest tree)."""
        own = np.arange(len(self.leaf))
        self._next_left = np.where(self.leaf, own, self.left)
        self._next_right = np.where(self.leaf, own, self.right)

    def state(self) -> dict[str, np.ndarray]:
        """The flat arrays (what a model file stores); only for a ready table."""
        if not self.ready:
            raise MagicalPruneError("these trees cannot be stored (another sklearn release)")
        keys = ("feature", "threshold", "missing_left", "left", "right", "leaf", "value", "roots")
        out = {k: getattr(self, k) for k in keys}
        out["baseline_depth"] = np.array([self.baseline, self.depth], dtype=np.float64)
        return out

    @classmethod
    def from_state(cls, state: dict[str, np.ndarray]) -> TreeTable:
        table = cls.__new__(cls)
        table.model = None  # type: ignore[assignment]
        for key in ("feature", "left", "right", "roots"):
            setattr(table, key, np.asarray(state[key], dtype=np.int64))
        for key in ("threshold", "value"):
            setattr(table, key, np.asarray(state[key], dtype=np.float64))
        table.missing_left = np.asarray(state["missing_left"], dtype=bool)
        table.leaf = np.asarray(state["leaf"], dtype=bool)
        baseline, depth = np.asarray(state["baseline_depth"], dtype=np.float64)
        table.baseline, table.depth, table.ready = float(baseline), int(depth), True
        table._link_leaves()
        return table

    def predict(self, x: np.ndarray) -> np.ndarray:
        if not self.ready:
            return self.model.predict(x)
        x = np.asarray(x, dtype=np.float64)
        at = np.broadcast_to(self.roots, (len(x), len(self.roots))).copy()
        rows = np.arange(len(x))[:, None]
        missing = bool(np.isnan(x).any())
        for _ in range(self.depth):
            value = x[rows, self.feature[at]]
            go_left = value <= self.threshold[at]
            if missing:
                go_left = np.where(np.isnan(value), self.missing_left[at], go_left)
            at = np.where(go_left, self._next_left[at], self._next_right[at])
        return self.baseline + self.value[at].sum(axis=1)


class LinearModel:
    """A fitted scaler + ridge pipeline as four arrays (how a model file keeps it)."""

    def __init__(self, mean: np.ndarray, scale: np.ndarray, coef: np.ndarray, icpt: float):
        self.mean, self.scale, self.coef, self.intercept = mean, scale, coef, float(icpt)

    @classmethod
    def of(cls, pipeline: Any) -> LinearModel:
        if isinstance(pipeline, LinearModel):
            return pipeline
        scaler, ridge = pipeline[0], pipeline[-1]
        coef = np.ravel(ridge.coef_)
        scale = np.ones_like(coef) if scaler.scale_ is None else scaler.scale_  # centred only
        return cls(scaler.mean_, scale, coef, float(ridge.intercept_))

    def state(self, prefix: str) -> dict[str, np.ndarray]:
        return {f"{prefix}.mean": self.mean, f"{prefix}.scale": self.scale,
                f"{prefix}.coef": self.coef, f"{prefix}.intercept": np.array([self.intercept])}  # fmt: skip

    @classmethod
    def from_state(cls, state: dict[str, np.ndarray], prefix: str) -> LinearModel:
        get = [np.asarray(state[f"{prefix}.{k}"], dtype=np.float64)
               for k in ("mean", "scale", "coef", "intercept")]  # fmt: skip
        return cls(get[0], get[1], get[2], float(get[3][0]))

    def predict(self, x: np.ndarray) -> np.ndarray:
        return (
            (np.asarray(x, dtype=np.float64) - self.mean) / self.scale
        ) @ self.coef + self.intercept
