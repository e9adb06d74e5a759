"""A pruning hook that learns a new design from its own simulated results.

:class:`GeometryHook` has the same interface as :class:`~magical_prune.hook.PruneHook`
(``hook(placement) -> Decision``, ``hook.update(placement, performance)``) but no
pretrained network: it keeps every candidate until ``min_results`` results came back, then
fits a :class:`~magical_prune.geolearn.GeometryLearner` on them and prunes the candidates it
scores above a threshold set for a target FOR. It refits as results arrive (each time the
number of results has grown by ``refit_growth``), which takes milliseconds to seconds.

The threshold comes from the learner's out-of-fold scores of the collected results. Once
pruning starts, the results that come back are biased towards good candidates (the pruned
ones are never simulated), so a seeded share ``explore`` of would-be-pruned candidates is
kept anyway; each explored result stands for the pruned candidates too (inverse propensity
weighting), which makes the weighted sample stand for every candidate again. Its weight is
the number of candidates at or above the threshold over the number explored, counted, not
the nominal ``1 / explore``: the explored count's own binomial noise (+-16% on 30 draws)
moved the estimated worst-quarter cut by up to 47% early in replayed runs, and with it every
"bad" label the threshold was calibrated on. Explored candidates are kept and mostly bad, so
they cost FOR; ``explore`` is 5%, which in replays gave a lower FOR and more pruning than 10%
(benchmarks/online_hook.py), and the calibration counts them among the kept candidates
(:func:`~magical_prune.calibrate.for_curve`'s ``explored``): without them it aimed about a
point under the FOR a flow sees. A threshold that reaches the target FOR only by pruning more
than ``max_good_pruned`` of the good candidates prunes nothing instead. Any error keeps the
candidate (fails open) and says why.

``min_prune_share`` (off by default) makes the hook prune at least that share of candidates
once it has fitted: the threshold is then the lower of the FOR-calibrated one and the score
the worst-scored share / (1 - explore) of the recent candidates (the last
:data:`RECENT_CANDIDATES` decided, pruned ones included) reaches under the latest fit (the
explored candidates among them are kept, so the share pruned is the one asked for; the kept
ones, being the fit's training rows, count with their out-of-fold scores). A FOR
calibration on a few hundred results often finds no threshold and prunes nothing for a
while, then prunes a lot; keeping a share pruned throughout spends the pruning evenly: in
replays of three designs (3 orders each, target 10%, share 25%) it pruned 31.0% at a FOR of
8.8%, against 27.4% at 10.7% for the target alone (docs/model.md). It is also the knob for a
simulation budget.
"""

from __future__ import annotations

import json
import math
import os
import zipfile
from collections import deque
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from magical_prune.calibrate import calibrate_threshold, check_margin, explored_weight
from magical_prune.errors import MagicalPruneError
from magical_prune.geolearn import GeometryLearner, LearnerConfig, stack_vectors
from magical_prune.geometry import GeometryVectors, geometry_vectors
from magical_prune.geomodel import DesignColumns, GeometryScorer, scorer_of
from magical_prune.hook import Decision
from magical_prune.placement import Placement

__all__ = ["RECENT_CANDIDATES", "GeometryHook", "GeometryHookConfig"]

#: candidates whose scores under each new fit set the ``min_prune_share`` threshold
RECENT_CANDIDATES = 4096


@dataclass(frozen=True)
class GeometryHookConfig:
    """Settings of :class:`GeometryHook`.

    Attributes:
        metric: the performance key learnt (``Offset_Voltage``, ``CMRR``, ...).
        target_for: highest acceptable share of bad candidates among those kept.
        worst_percent: a result is bad when its metric lies in the worst this-percent of the
            (weighted) results so far.
        min_results: results before the first fit; every candidate is kept until then.
        refit_growth: refit once the number of results has grown by this factor.
        explore: share of would-be-pruned candidates kept for an unbiased calibration.
        max_good_pruned: prune nothing when the target needs more good candidates pruned.
        min_prune_share: once fitted, prune at least this share of the candidates (the
            worst-scored), whatever the target asks; 0 = the target alone.
        for_margin: standard errors of the out-of-fold FOR estimate kept under the target.
        seed: seed of the exploration draws and the learner.
    """

    metric: str = "Offset_Voltage"
    target_for: float = 0.10
    worst_percent: float = 25.0
    min_results: int = 64
    refit_growth: float = 1.25
    explore: float = 0.05
    max_good_pruned: float = 0.5
    min_prune_share: float = 0.0
    for_margin: float = 0.0
    seed: int = 0

    def __post_init__(self) -> None:
        if not 0.0 < self.explore <= 1.0:
            raise MagicalPruneError(f"explore must be in (0, 1], got {self.explore}")
        if self.min_results < 8:
            raise MagicalPruneError(f"min_results must be at least 8, got {self.min_results}")
        check_margin(self.for_margin, "for_margin")
        if not 0.0 <= self.min_prune_share < 1.0:
            raise MagicalPruneError(
                f"min_prune_share must be in [0, 1), got {self.min_prune_share}"
            )


@dataclass
class _Result:
    vectors: GeometryVectors
    value: float
    weight: float


@dataclass
class GeometryHook:
    """Prune or keep each candidate of one design; learn from the results fed back."""

    config: GeometryHookConfig = field(default_factory=GeometryHookConfig)
    learner: GeometryLearner | None = None
    threshold: float = math.inf
    decisions: int = 0
    pruned: int = 0
    explored: int = 0
    fits: int = 0
    _results: list[_Result] = field(default_factory=list, repr=False)
    _pending: dict[int, float] = field(default_factory=dict, repr=False)
    _fitted_at: int = 0
    _columns: DesignColumns | None = field(default=None, repr=False)
    _fit_labels: np.ndarray | None = field(default=None, repr=False)  # of the last fit
    _recent: deque[GeometryVectors] = field(
        default_factory=lambda: deque(maxlen=RECENT_CANDIDATES), repr=False
    )
    #: whether each of ``_recent`` was pruned (pruned candidates never get a result)
    _recent_pruned: deque[bool] = field(
        default_factory=lambda: deque(maxlen=RECENT_CANDIDATES), repr=False
    )

    def __post_init__(self) -> None:
        self._rng = np.random.default_rng(self.config.seed)

    # -- decide -------------------------------------------------------------------------
    def __call__(self, placement: Placement) -> Decision:
        """Decide one candidate. Never raises: on any error the candidate is kept."""
        try:
            return self._decide(placement)
        except Exception as err:  # fail open: a broken hook must never cost a good layout
            return Decision(False, math.nan, f"kept: {type(err).__name__}: {err}")

    def _decide(self, placement: Placement) -> Decision:
        self.decisions += 1
        vectors = geometry_vectors(placement)
        if self.config.min_prune_share > 0.0:
            self._recent.append(vectors)
            self._recent_pruned.append(False)
        if self.learner is None:
            self._pending[id(placement)] = 1.0
            n = len(self._results)
            return Decision(
                False, math.nan, f"kept: learning ({n} of {self.config.min_results} results)"
            )
        score = float(self.learner.scores(stack_vectors([vectors]))[0])
        if score < self.threshold:
            self._pending[id(placement)] = 1.0
            return Decision(
                False, score, f"score {score:.4g} < threshold {self.threshold:.4g}", self.threshold
            )
        if self._rng.random() < self.config.explore:
            self._pending[id(placement)] = 1.0 / self.config.explore
            self.explored += 1
            return Decision(
                False,
                score,
                "explore: kept to sample the pruned region "
                f"(score {score:.4g} >= threshold {self.threshold:.4g})",
                self.threshold,
            )
        self.pruned += 1
        if self.config.min_prune_share > 0.0:
            self._recent_pruned[-1] = True
        return Decision(
            True, score, f"score {score:.4g} >= threshold {self.threshold:.4g}", self.threshold
        )

    # -- learn --------------------------------------------------------------------------
    def update(self, placement: Placement, performance: Mapping[str, float]) -> bool:
        """Feed back the simulated result of a kept candidate; refit when due.

        Returns whether the result was collected (a missing or non-finite metric is not).
        """
        value = performance.get(self.config.metric)
        if value is None or not math.isfinite(float(value)):
            return False
        weight = self._pending.pop(id(placement), 1.0)
        if self._columns is None:
            self._columns = DesignColumns.of(placement)
        self._results.append(_Result(geometry_vectors(placement), float(value), weight))
        n = len(self._results)
        due = self._fitted_at == 0 and n >= self.config.min_results
        if due or (self._fitted_at and n >= self.config.refit_growth * self._fitted_at):
            self.refit()
        return True

    def refit(self) -> None:
        """Fit the learner on every result so far and set the threshold."""
        values = np.array([r.value for r in self._results])
        weights = _counted_weights(np.array([r.weight for r in self._results]), self.pruned)
        learner = GeometryLearner(LearnerConfig(metric=self.config.metric, seed=self.config.seed))
        learner.fit(stack_vectors([r.vectors for r in self._results]), values)
        badness = learner.badness(values)
        cut = _weighted_quantile(badness, weights, 1.0 - self.config.worst_percent / 100.0)
        bad = (badness > cut).astype(int)
        self._fit_labels = bad
        config = self.config
        calibration = calibrate_threshold(
            learner.oof_scores, bad, config.target_for, weights, config.explore, config.for_margin
        )
        too_costly = (calibration.good_pruned or 0.0) > self.config.max_good_pruned
        # pruning nothing is an infinite threshold: the calibration's own (just above 1) is
        # for probabilities, and the learner's scores (a blend's are standardised) can pass 1
        prunes = calibration.feasible and calibration.prune_rate > 0 and not too_costly
        self.threshold = calibration.threshold if prunes else math.inf
        share = self.config.min_prune_share
        if share > 0.0 and self._recent:
            recent = self._recent_scores(learner)
            # the explored share of the candidates above the threshold is kept: aim above
            # the share so that what is pruned is at least the share asked for
            above = (
                min(1.0, share / (1.0 - self.config.explore)) if self.config.explore < 1 else 1.0
            )
            self.threshold = min(self.threshold, float(np.quantile(recent, 1.0 - above)))
        self.learner = learner
        self.fits += 1
        self._fitted_at = len(self._results)

    def _recent_scores(self, learner: GeometryLearner) -> np.ndarray:
        """Scores of the recent candidates as a new candidate's would be: the pruned ones
        scored by the fit, the kept ones (the fit's own training results) by their
        out-of-fold scores. A fit scores its training rows more extremely than new rows, so
        a quantile of its in-sample scores prunes too few new candidates (on 200-600 results
        of ota2 and ota4: 16-21% above the 75th percentile instead of 25%; 22-24% with
        out-of-fold scores)."""
        pruned = np.fromiter(self._recent_pruned, dtype=bool, count=len(self._recent_pruned))
        oof = np.asarray(learner.oof_scores, dtype=np.float64)
        kept = min(int((~pruned).sum()), len(oof))
        parts = [oof[len(oof) - kept :]]
        if pruned.any():
            vectors = [v for v, p in zip(self._recent, pruned) if p]
            parts.append(learner.scores(stack_vectors(vectors)))
        return np.concatenate(parts)

    @property
    def results(self) -> int:
        return len(self._results)

    # -- the surface flow scripts use on PruneHook ----------------------------------------
    @property
    def version(self) -> int:
        """How many fits the decisions so far rest on (0: still learning)."""
        return self.fits

    @property
    def target_for(self) -> float:
        return self.config.target_for

    @property
    def counters(self) -> dict[str, int]:
        return {"decisions": self.decisions, "pruned": self.pruned,
                "kept": self.decisions - self.pruned, "explored": self.explored,
                "results": self.results,
                "finetunes": self.fits, "finetune_failures": 0}  # fmt: skip

    def wait(self) -> None:
        """Fits run in the foreground: nothing to wait for."""

    def model(self) -> GeometryScorer | None:
        """The last fit as a model file's scorer (``score``, ``explain`` and ``calibrate``
        take it), its threshold the hook's; None before the first fit."""
        if self.learner is None or self._columns is None or self._fit_labels is None:
            return None
        rows = np.stack([r.vectors.flat() for r in self._results[: self._fitted_at]])
        return scorer_of(self.learner, rows, self._fit_labels, self._columns,
                         worst_percent=self.config.worst_percent,
                         raw_threshold=self.threshold)  # fmt: skip

    def save(self, folder: str | os.PathLike[str]) -> None:
        """Write ``state.json`` (settings, counters, the last fit's choice), ``results.npz``
        (every collected result, so :meth:`resume` can go on), ``candidates.npz`` (the recent
        candidates, with ``min_prune_share``) and, once fitted, ``model.pt`` (:meth:`model`)."""
        path = Path(folder)
        path.mkdir(parents=True, exist_ok=True)
        columns = None if self._columns is None else asdict(self._columns)
        state = {"config": asdict(self.config), "counters": self.counters,
                 "threshold": None if math.isinf(self.threshold) else self.threshold,
                 "chosen": None if self.learner is None else self.learner.chosen,
                 "cv": None if self.learner is None else self.learner.cv,
                 "columns": columns}  # fmt: skip
        if self._results:
            np.savez(path / "results.npz", **_vector_arrays([r.vectors for r in self._results]),
                     value=[r.value for r in self._results],
                     weight=[r.weight for r in self._results])  # fmt: skip
        if self._recent:
            np.savez(path / "candidates.npz", **_vector_arrays(list(self._recent)),
                     pruned=np.fromiter(self._recent_pruned, dtype=bool))  # fmt: skip
        model = self.model()
        if model is not None:
            model.save(path / "model.pt")
        (path / "state.json").write_text(json.dumps(state, indent=1) + "\n")

    @classmethod
    def resume(cls, folder: str | os.PathLike[str], **changes: object) -> GeometryHook:
        """A hook that goes on from a :meth:`save`: same settings (``changes`` override
        them), counters and results, refitted on every result when there are enough.

        Raises:
            MagicalPruneError: the folder holds no state or a damaged one (one line).
        """
        path = Path(folder)
        try:
            state = json.loads((path / "state.json").read_text())
            hook = cls(GeometryHookConfig(**{**state["config"], **changes}))
            counters = state["counters"]
            hook.decisions, hook.pruned = int(counters["decisions"]), int(counters["pruned"])
            hook.explored = int(counters.get("explored", 0))  # states saved before it was counted
            if state.get("columns"):
                c = state["columns"]
                hook._columns = DesignColumns(c["digest"], tuple(c["widths"]), tuple(c["devices"]))
            if (path / "results.npz").exists():
                hook._results = _read_results(path / "results.npz")
            if (path / "candidates.npz").exists() and hook.config.min_prune_share > 0.0:
                with np.load(path / "candidates.npz") as z:
                    hook._recent.extend(_read_vectors(z))
                    # saved before the flags: none counted as pruned
                    flags = z["pruned"] if "pruned" in z else np.zeros(len(hook._recent), bool)
                    hook._recent_pruned.extend(bool(f) for f in flags)
        except (OSError, ValueError, KeyError, TypeError, EOFError, zipfile.BadZipFile) as err:
            raise MagicalPruneError(f"damaged geometry hook state ({type(err).__name__}: {err})",
                                    path) from None  # fmt: skip
        if len(hook._results) >= hook.config.min_results:
            hook.refit()
        return hook


_PARTS = ("layout", "pairs", "heat", "roles")


def _vector_arrays(vectors: list[GeometryVectors]) -> dict[str, np.ndarray]:
    return {k: np.stack([getattr(v, k) for v in vectors]) for k in _PARTS}


def _read_vectors(z: Mapping[str, np.ndarray]) -> list[GeometryVectors]:
    if "roles" not in z:
        raise ValueError("saved before geometry rows had a role vector; start a new folder")
    parts = [z[k] for k in _PARTS]
    return [GeometryVectors(*(p[i] for p in parts)) for i in range(len(parts[0]))]


def _read_results(path: Path) -> list[_Result]:
    with np.load(path) as z:
        vectors = _read_vectors(z)
        return [_Result(v, float(z["value"][i]), float(z["weight"][i]))
                for i, v in enumerate(vectors)]  # fmt: skip


def _counted_weights(weights: np.ndarray, pruned: int) -> np.ndarray:
    """Explored results (drawn weight > 1) weighted by the candidates they stand for."""
    explored = weights > 1.0
    if not explored.any():
        return weights
    return np.where(explored, explored_weight(pruned, int(explored.sum())), weights)


def _weighted_quantile(values: np.ndarray, weights: np.ndarray, q: float) -> float:
    order = np.argsort(values, kind="stable")
    cumulative = np.cumsum(weights[order])
    return float(values[order][np.searchsorted(cumulative, q * cumulative[-1])])
