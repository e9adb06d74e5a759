"""The geometry learner as a model file and a :class:`~magical_prune.scorer.Scorer`.

:class:`GeometryScorer` wraps a fitted :class:`~magical_prune.geolearn.GeometryLearner` so
that everything that takes a model (``score``, ``calibrate``, ``evaluate``, the hook) can use
it like the CNN: placements in, P(worst quarter) out, a threshold, a card.

The learner predicts *badness* (|offset|, -CMRR, ...), not a probability. A one-variable
logistic fit of the labels on the learner's out-of-fold scores turns badness into
P(prune); it is monotone, so rankings, FOR curves and Spearman correlations are those of the
learner itself, and a threshold on the probability is a threshold on predicted badness.

A geometry model knows one design: its vectors follow that design's device and net order.
The card records the design's column names (a hash and the device names), and placements of
another design are refused with a message saying so, never scored.

On disk it is an ordinary model file (:mod:`magical_prune.checkpoint`): the learner's
arrays as tensors, read with ``weights_only=True``, and a card with family ``geometry``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch

from magical_prune.calibrate import NO_PRUNE, calibrate_threshold
from magical_prune.card import CalibrationRecord, DataRecord, InputSpec, LabelSpec, ModelCard
from magical_prune.checkpoint import ArrayModule, read_model, save_model
from magical_prune.errors import CheckpointError, MagicalPruneError
from magical_prune.geolearn import GeometryLearner, LearnerConfig, Tables
from magical_prune.geometry import VECTOR_PARTS, column_digest, flat_vector, vector_widths
from magical_prune.labels import get_metric, label_by_rank
from magical_prune.placement import Placement
from magical_prune.roleprior import MIN_LAYOUTS, AdaptedPrior, RolePrior
from magical_prune.scorer import CardThreshold

__all__ = [
    "FAMILY",
    "DesignColumns",
    "GeometryScorer",
    "adapted_prior",
    "fit_geometry",
    "fit_rows",
    "probability_map",
    "scorer_of",
    "sigmoid",
    "split_rows",
]

FAMILY = "geometry"
#: decimals a score is rounded to, as for the CNN (a score does not depend on the batch)
SCORE_DECIMALS = 6


@dataclass
class GeometryScorer(CardThreshold):
    """A fitted geometry learner with a threshold and a card (implements Scorer)."""

    learner: GeometryLearner
    card: ModelCard
    source: str | None = None
    #: the median training row: what "an ordinary layout of this design" looks like, the
    #: baseline explanations replace a device's numbers with
    reference: np.ndarray | None = None

    @property
    def _geometry(self) -> Mapping[str, Any]:
        return self.card.extra.get(FAMILY) or {}

    # -- Scorer -----------------------------------------------------------------------
    def prepare(self, placements: Sequence[Placement]) -> np.ndarray:
        """``(N, D)`` float64: each placement's layout, pair and heat vectors side by side."""
        items = [placements] if isinstance(placements, Placement) else list(placements)
        for p in items:
            self._check_design(p)
        return np.stack([flat_vector(p) for p in items])

    def score_prepared(self, x: np.ndarray, batch_size: int | None = None) -> np.ndarray:
        """P(prune) of prepared rows (``batch_size`` is accepted for the Scorer's callers;
        rows are small, so all are scored at once)."""
        widths = [int(w) for w in self._geometry["widths"]]
        x = np.atleast_2d(np.asarray(x, dtype=np.float64))
        if x.shape[1] != sum(widths):
            raise CheckpointError(
                f"geometry inputs have {x.shape[1]} columns; the model reads {sum(widths)}",
                self.source,
            )
        raw = self.learner.scores(split_rows(x, widths))
        slope, intercept = (float(v) for v in self._geometry["probability"])
        p = sigmoid(slope * raw + intercept)
        return np.round(p, SCORE_DECIMALS)

    def score(self, placements: Placement | Sequence[Placement]) -> np.ndarray:
        scores = self.score_prepared(self.prepare(placements))
        if np.isnan(scores).any():
            raise MagicalPruneError("the geometry model gave NaN scores", self.source)
        return scores

    def _check_design(self, placement: Placement) -> None:
        if not isinstance(placement, Placement):
            raise MagicalPruneError(
                f"a geometry model scores placements, not {type(placement).__name__}"
            )
        names = placement.names
        self._check_parts(VECTOR_PARTS, placement.source)
        if column_digest(placement) != self._geometry.get("columns_sha256"):
            design = self.card.design or "another design"
            raise CheckpointError(
                f"this geometry model learnt {design} ({len(self._geometry.get('devices', []))} "
                f"devices); the placement has {len(names)} devices that do not line up with "
                "it: a geometry model scores layouts of its own design only",
                self.source,
            )

    def _check_parts(self, parts: int, where: Any) -> None:
        """Geometry rows gained a fourth part (the role vector); rows and models from before
        and after it do not line up even for one design: say so, not "another design"."""
        mine = len(self._geometry.get("widths") or ())
        if parts != mine:
            older = "the model" if mine < parts else "the data set"
            raise CheckpointError(
                f"the geometry rows have {parts} parts and the model reads {mine}: {older} was "
                "made by an older magical-prune (no role vector); rebuild the data set with "
                "`dataset build` and retrain with `train --learner geometry`",
                self.source if mine < parts else where,
            )

    def check_data(self, data: Any) -> None:
        """Refuse a data set (a :class:`~magical_prune.dataset.DataFile`) whose stored
        geometry is not of this model's design, or that stores none."""
        info = data.geometry_info
        if info is None:
            data.read_geometry()  # raises the data set's own "no geometry" error
        self._check_parts(len(info.get("widths") or ()), data.path)
        if info.get("columns_sha256") != self._geometry.get("columns_sha256"):
            raise CheckpointError(
                f"this geometry model learnt {self.card.design or 'another design'}; the "
                f"layouts of {data.path} ({data.design or 'unknown design'}) do not line up "
                "with it: a geometry model scores layouts of its own design only",
                self.source,
            )

    # -- files --------------------------------------------------------------------------
    def save(
        self, path: str | os.PathLike[str], calibration: Mapping[str, Any] | None = None
    ) -> Path:
        """Write the model; ``calibration`` (a calibration record) is put in its card."""
        card = self.card
        if calibration is not None:
            card = card.with_calibration(calibration, self.threshold)
        state = self.learner.state()
        if self.reference is not None:
            state["reference"] = self.reference
        return save_model(path, ArrayModule(state), card)

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> GeometryScorer:
        state, card = read_model(path)
        return cls.from_state(state, card, os.fspath(path))

    @classmethod
    def from_state(
        cls, state: Mapping[str, torch.Tensor], card: ModelCard, source: str | None = None
    ) -> GeometryScorer:
        if card.family != FAMILY:
            raise CheckpointError(f"not a geometry model (family {card.family!r})", source)
        geo = card.extra.get(FAMILY) or {}
        try:
            config = LearnerConfig(metric=str(geo["metric"]), seed=int(geo["seed"]))
            arrays = {k.replace("__", "."): v.double().numpy() if v.is_floating_point()
                      else v.numpy() for k, v in state.items()}  # fmt: skip
            learner = GeometryLearner.restore(config, str(geo["candidate"]), arrays)
        except (KeyError, TypeError, ValueError, MagicalPruneError) as err:
            raise CheckpointError(f"damaged geometry model: {err}", source) from None
        reference = arrays.get("reference")
        return cls(learner, card, source, None if reference is None else reference)


@dataclass(frozen=True)
class DesignColumns:
    """Which design a geometry table belongs to: column digest, part widths, device names."""

    digest: str
    widths: tuple[int, ...]
    devices: tuple[str, ...]

    @classmethod
    def of(cls, placement: Placement) -> DesignColumns:
        return cls(column_digest(placement), tuple(vector_widths(placement)),
                   tuple(placement.names))  # fmt: skip

    @classmethod
    def from_info(cls, info: Mapping[str, Any], where: Any = None) -> DesignColumns:
        """From a data set's ``geometry`` attribute (``where``: the data set, for the error
        when its rows are of an older version, which no new model should learn)."""
        if len(info["widths"]) != VECTOR_PARTS:
            raise MagicalPruneError(
                f"the data set's geometry rows have {len(info['widths'])} parts, this version "
                f"makes {VECTOR_PARTS} (the role vector is new): rebuild it with `dataset build`",
                where,
            )
        return cls(str(info["columns_sha256"]), tuple(int(w) for w in info["widths"]),
                   tuple(str(d) for d in info["devices"]))  # fmt: skip


def fit_geometry(
    placements: Sequence[Placement], values: np.ndarray, **options: Any
) -> GeometryScorer:
    """Fit a geometry model on labelled placements of one design (see :func:`fit_rows`)."""
    rows = np.stack([flat_vector(p) for p in placements])
    return fit_rows(rows, values, DesignColumns.of(placements[0]), **options)


def fit_rows(
    rows: np.ndarray,
    values: np.ndarray,
    columns: DesignColumns,
    *,
    metric: str = "Offset_Voltage",
    worst_percent: float = 25.0,
    target_for: float | None = 0.10,
    seed: int = 0,
    design: str | None = None,
    data: Mapping[str, Any] | None = None,
    prior: RolePrior | None = None,
    unlabelled: np.ndarray | None = None,
) -> GeometryScorer:
    """Fit a geometry model on geometry rows (a data set's, or placements') and metrics.

    The threshold is calibrated for ``target_for`` on the learner's out-of-fold scores (the
    training labels are never scored by a model that saw them); ``None`` keeps 0.5.
    ``prior`` (the design-agnostic one, :mod:`magical_prune.roleprior`) joins the model
    under :data:`~magical_prune.geolearn.CV_MIN_LABELS` labels, adapted to the design's
    typical layout read off ``unlabelled`` rows (default: ``rows``; needs at least
    :data:`~magical_prune.roleprior.MIN_LAYOUTS`, else the prior is left out).
    """
    values = np.asarray(values, dtype=np.float64)
    labelled = label_by_rank(values, metric, worst_percent)
    learner = GeometryLearner(LearnerConfig(metric=metric, seed=seed))
    pool = split_rows(rows if unlabelled is None else unlabelled, columns.widths)
    tables = split_rows(rows, columns.widths)
    learner.fit(tables, values, adapted_prior(prior, pool, columns), pool)
    scorer = scorer_of(learner, rows, labelled.labels, columns, worst_percent=worst_percent,
                       critical_value=labelled.critical_value)  # fmt: skip
    if data is not None:
        scorer.card = replace(
            scorer.card, data=DataRecord.from_dict({"design": design, **dict(data)})
        )
    if target_for is not None:
        geo = scorer.card.extra[FAMILY]
        slope, intercept = (float(v) for v in geo["probability"])
        oof = np.round(sigmoid(slope * learner.oof_scores + intercept), SCORE_DECIMALS)
        cal = calibrate_threshold(oof, labelled.labels, target_for)
        record = {**cal.to_dict(), "split": "out-of-fold"}
        scorer.card = replace(scorer.card, threshold=cal.threshold,
                              calibration=CalibrationRecord.from_dict(record))  # fmt: skip
    return scorer


def adapted_prior(
    prior: RolePrior | None, tables: Tables, columns: DesignColumns
) -> AdaptedPrior | None:
    """``prior`` adapted to the design of unlabelled ``tables``, or None (no prior, too few)."""
    if prior is None or tables.roles is None or len(tables) < MIN_LAYOUTS:
        return None
    return AdaptedPrior.of(prior, tables.layout, tables.roles, len(columns.devices))


def scorer_of(
    learner: GeometryLearner,
    rows: np.ndarray,
    labels: np.ndarray,
    columns: DesignColumns,
    *,
    worst_percent: float = 25.0,
    critical_value: float | None = None,
    raw_threshold: float | None = None,
) -> GeometryScorer:
    """The scorer (and card) of a learner fitted on ``rows`` with 0/1 ``labels`` (the
    probability map is fitted on its out-of-fold scores); ``raw_threshold``, a threshold on
    the learner's own scores (as :class:`~magical_prune.geohook.GeometryHook` keeps), becomes
    the card's threshold on the probability."""
    config = learner.config
    tables = split_rows(rows, columns.widths)
    slope, intercept = increasing_map(learner, tables, np.asarray(labels))
    threshold = 0.5
    if raw_threshold is not None:
        ok = slope > 0 and np.isfinite(raw_threshold)
        threshold = float(np.round(sigmoid(slope * raw_threshold + intercept), SCORE_DECIMALS))
        threshold = threshold if ok else NO_PRUNE
    card = ModelCard(
        arch=f"geometry:{learner.chosen}", family=FAMILY, threshold=threshold,
        inputs=InputSpec(kind="geometry", image_size=0),
        label=LabelSpec(metric=config.metric, better=get_metric(config.metric).better,
                        worst_percent=float(worst_percent), balanced=False,
                        critical_value=critical_value),
        extra={FAMILY: {
            "metric": config.metric, "seed": config.seed, "candidate": learner.chosen,
            "cv_spearman": dict(learner.cv), "probability": [slope, intercept],
            "widths": list(columns.widths), "columns_sha256": columns.digest,
            "devices": list(columns.devices), "n_labels": int(len(labels)),
        }},
    )  # fmt: skip
    return GeometryScorer(learner, card, reference=np.median(tables_rows(rows), axis=0))


def increasing_map(
    learner: GeometryLearner, tables: Tables, labels: np.ndarray
) -> tuple[float, float]:
    """The probability map of a fitted learner, never decreasing in its score.

    Fitted on the out-of-fold scores; when those rank the training labels backwards (a
    handful of labels in two folds: ota3 with 20 labels, Spearman -0.29), a map fitted on
    them would turn the learner's whole ranking upside down (test FOR 56% where random gives
    26%). It is then fitted on the model's scores of its own training layouts, which rank
    them its way (optimistic, so penalised: a model that separates its training labels
    would get a slope that rounds every score to 0 or 1); if even those do not, it is flat."""
    slope, intercept = probability_map(learner.oof_scores, labels)
    if slope < 0:
        slope, intercept = probability_map(learner.scores(tables), labels, strength=1.0)
    if slope < 0:
        slope, intercept = probability_map(np.zeros(len(labels)), labels)
    return slope, intercept


def tables_rows(rows: np.ndarray) -> np.ndarray:
    return np.atleast_2d(np.asarray(rows, dtype=np.float64))


def split_rows(rows: np.ndarray, widths: Sequence[int]) -> Tables:
    """Geometry rows (a data set's flat rows: layout, pairs, heat, roles side by side) as
    the learner's :class:`~magical_prune.geocandidates.Tables`, cut at ``widths``."""
    rows = np.atleast_2d(np.asarray(rows, dtype=np.float64))
    return Tables(*np.split(rows, np.cumsum(widths)[:-1], axis=1))


def sigmoid(z: np.ndarray) -> np.ndarray:
    with np.errstate(over="ignore"):
        return 1.0 / (1.0 + np.exp(-z))


def probability_map(
    scores: np.ndarray | None, labels: np.ndarray, strength: float = 1e4
) -> tuple[float, float]:
    """Slope and intercept of P(label 1 | score), fitted on scores the model did not learn
    (a learner's out-of-fold ones; the prior's on its source designs); ``strength`` is the
    inverse of the logistic fit's penalty (small: a gentler slope)."""
    s = np.asarray(scores, dtype=np.float64)
    if len(np.unique(labels)) < 2 or np.ptp(s) == 0:
        return 0.0, float(np.log(max(labels.mean(), 1e-6) / max(1 - labels.mean(), 1e-6)))
    centre, scale = float(np.mean(s)), float(np.std(s)) or 1.0
    from sklearn.linear_model import LogisticRegression  # fitting only: scoring needs numpy

    # centred: scores far from 0 against their spread (|offsets| of 8.1 +- 0.01 mV) leave the
    # intercept to cancel a huge term, which the solver does not get to
    fit = LogisticRegression(C=strength).fit(((s - centre) / scale)[:, None], labels)
    slope = float(fit.coef_[0, 0] / scale)
    return slope, float(fit.intercept_[0]) - slope * centre
