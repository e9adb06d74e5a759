"""Calibrating a model's threshold on a labelled data set (``magical-prune calibrate``).

The layouts are scored through the model's :class:`~magical_prune.predict.predictor.Predictor`
-- the path ``score`` and the hook take -- so the threshold is set on the very numbers the
decisions compare with it; the threshold itself is chosen by
:func:`magical_prune.calibrate.calibrate_threshold`, and recorded in the model's card
(:meth:`~magical_prune.card.ModelCard.with_calibration`) with the data it was chosen on.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from magical_prune.calibrate import Calibration, calibrate_threshold
from magical_prune.card import ModelCard
from magical_prune.checkpoint import check_fits
from magical_prune.dataset import LabelledDataset
from magical_prune.errors import MagicalPruneError
from magical_prune.geomodel import GeometryScorer
from magical_prune.predict.loading import load_scorer, refuse_prior
from magical_prune.predict.predictor import DEFAULT_BATCH
from magical_prune.scorer import Scorer

__all__ = ["CalibrationResult", "calibrate_checkpoint"]

_Path = str | os.PathLike[str]


@dataclass
class CalibrationResult:
    """A model calibrated on a data set: the predictor (threshold set, calibration in its
    card) and the figures, with the scores and labels they came from (to draw the
    trade-off)."""

    predictor: Scorer
    calibration: Calibration
    record: dict[str, Any]
    scores: np.ndarray | None = None
    labels: np.ndarray | None = None

    def save(self, path: _Path) -> Path:
        """Write the calibrated model (threshold and ``calibration`` record in its card)."""
        return self.predictor.save(path, calibration=self.record)


def calibrate_checkpoint(
    model: _Path | Scorer | None,
    data: _Path,
    target_for: float,
    *,
    split: str = "test",
    metric: str | None = None,
    worst_percent: float | None = None,
    batch_size: int = DEFAULT_BATCH,
    progress: bool = False,
) -> CalibrationResult:
    """Calibrate a model's threshold on a labelled data set (HDF5, ``dataset build``).

    Labels follow the model's own definition (metric and worst-percent cut) unless given,
    and are always made over the *whole* data set, never balanced: the threshold has to
    hold on the design space the flow explores, where a quarter of the layouts is bad.

    Args:
        model: a model file, a loaded predictor, or ``None`` for the bundled model.
        data: the data set.
        target_for: the FOR to stay at or under.
        split: ``test`` (the held-out share as the model's split seed defines it) or ``all``.
        metric, worst_percent: override the model's label definition.

    Returns:
        The predictor with its threshold and calibration record set, the calibration
        figures, and the record (as stored in the model's card, ``calibration``).
    """
    if split not in ("test", "all"):
        raise MagicalPruneError(f"split must be 'test' or 'all', got {split!r}")
    predictor = model if isinstance(model, Scorer) else load_scorer(model)
    refuse_prior(predictor)
    dataset = _open(predictor, data, metric, worst_percent, progress)
    positions = _positions(dataset, predictor.card, split)
    if len(positions) == 0:
        raise MagicalPruneError("no layouts to calibrate on in this split", data)
    scores = score_layouts(predictor, dataset, positions, batch_size)
    labels = np.asarray(dataset.labels[positions])
    cal = calibrate_threshold(scores, labels, target_for)
    record = _record(cal, split, predictor, dataset, positions, data)
    predictor.card = predictor.card.with_calibration(record, cal.threshold)
    return CalibrationResult(predictor, cal, record, scores, labels)


def _open(
    predictor: Scorer,
    data: _Path,
    metric: str | None,
    worst_percent: float | None,
    progress: bool,
) -> LabelledDataset:
    """The data set labelled by the model's definition (or the one given), never balanced,
    refused when its images do not fit the model."""
    card = predictor.card
    dataset = LabelledDataset.open(
        data,
        metric=card.metric if metric is None else metric,
        worst_percent=card.worst_percent if worst_percent is None else worst_percent,
        balanced=False,
        progress=progress,
    )
    if isinstance(predictor, GeometryScorer):
        predictor.check_data(dataset.data)
    else:
        check_fits(card, image_size=dataset.image_size, channel_order=dataset.channel_order,
                   path=predictor.source, data=data)  # fmt: skip
    return dataset


def _positions(dataset: LabelledDataset, card: ModelCard, split: str) -> np.ndarray:
    """The layouts of ``split``: the model's held-out test share, or all."""
    if split == "all":
        return np.arange(len(dataset))
    seed, fraction = card.test_split
    return dataset.split(0.0, seed, fraction).test


def score_layouts(
    predictor: Scorer,
    dataset: LabelledDataset,
    positions: np.ndarray,
    batch_size: int = DEFAULT_BATCH,
) -> np.ndarray:
    """Scores of a data set's layouts, through the predictor as ``score`` and the hook
    score them (float64, rounded), read from the file ``batch_size`` at a time.

    Raises:
        MagicalPruneError: the model gave NaN scores.
    """
    step = max(1, batch_size)
    if isinstance(predictor, GeometryScorer):  # rows are small: all at once
        chunks = [predictor.score_prepared(dataset.data.read_geometry(dataset.rows[positions]))]
    else:
        chunks = [
            predictor.score_prepared(dataset.features(positions[i : i + step]).numpy(), step)
            for i in range(0, len(positions), step)
        ]
    scores = np.concatenate(chunks) if chunks else np.empty(0)
    if not np.all(np.isfinite(scores)):
        raise MagicalPruneError(
            "the model gave NaN scores on the calibration data", predictor.source
        )
    return scores


def _record(
    cal: Calibration,
    split: str,
    predictor: Scorer,
    dataset: LabelledDataset,
    positions: np.ndarray,
    data: _Path,
) -> dict[str, Any]:
    """What the model's card records of this calibration (see
    :class:`~magical_prune.card.CalibrationRecord`)."""
    trained = predictor.card.data_content_hash
    return {
        **cal.to_dict(),
        "split": split,
        "previous_threshold": predictor.threshold,
        "label": dataset.label_meta(),
        "data": {
            "path": str(data),
            "design": dataset.data.design,
            "content_hash": dataset.data.content_hash,
            "n_layouts": len(dataset),
            "n_calibration": int(len(positions)),
            "ids_sha256": dataset.ids_hash(positions),
            "trained_on_same_data": bool(trained) and trained == dataset.data.content_hash,
        },
    }
