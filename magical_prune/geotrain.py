"""Training and evaluating the geometry learner on a data set (``train --learner geometry``).

The same protocol as the CNN's (:mod:`magical_prune.training`): the layouts are shuffled
with the split seed, the last ``test_fraction`` is the test set, never seen in training, and
``alpha`` of the whole set (from the front) is the training set. The model reads the geometry
rows ``dataset build`` stores; its threshold is calibrated out of fold on the training labels
(:func:`~magical_prune.geomodel.fit_rows`), and its test metrics come from the same
``score_prepared`` path that ``score`` and ``calibrate`` use.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from magical_prune.card import ModelCard
from magical_prune.dataset import LabelledDataset
from magical_prune.errors import MagicalPruneError
from magical_prune.geomodel import DesignColumns, GeometryScorer, fit_rows
from magical_prune.metrics import classification_metrics
from magical_prune.predict.calibrate_data import score_layouts
from magical_prune.roleprior import RolePrior

__all__ = ["GeometryTrainResult", "evaluate_geometry", "train_geometry"]


@dataclass
class GeometryTrainResult:
    """A geometry model trained on a data set, and its figures on the held-out layouts."""

    scorer: GeometryScorer
    test_metrics: dict[str, Any]
    n_train: int
    n_test: int

    @property
    def card(self) -> ModelCard:
        return self.scorer.card

    def save(self, path: str | Path) -> Path:
        return self.scorer.save(path)


def train_geometry(
    data: LabelledDataset,
    *,
    alpha: float = 0.8,
    split_seed: int = 0,
    test_fraction: float = 0.2,
    seed: int = 0,
    target_for: float | None = 0.10,
    prior: RolePrior | None = None,
) -> GeometryTrainResult:
    """Fit the geometry learner on ``alpha`` of ``data`` and measure it on the test split.

    ``prior``: the design-agnostic prior to average in when the labels are few
    (:func:`~magical_prune.geomodel.fit_rows`), adapted on the layouts outside the test split.

    Raises:
        MagicalPruneError: the data set stores no geometry, or has stored labels only.
    """
    if data.metric is None or data.metric_values is None:
        raise MagicalPruneError(
            "the geometry learner learns from raw metrics; this data set has stored labels only",
            data.data.path,
        )
    split = data.split(alpha, split_seed, test_fraction)
    rows = data.data.read_geometry(data.rows)
    info = data.data.geometry_info or {}
    record = {"path": str(data.data.path), "content_hash": data.data.content_hash,
              "n_layouts": len(data), "n_train": len(split.train), "n_test": len(split.test),
              "alpha": alpha, "test_fraction": test_fraction, "split_seed": split_seed,
              "train_ids_sha256": data.ids_hash(split.train),
              "test_ids_sha256": data.ids_hash(split.test)}  # fmt: skip
    columns = DesignColumns.from_info(info, data.data.path)
    scorer = fit_rows(
        rows[split.train], data.metric_values[split.train], columns,
        metric=data.metric, worst_percent=float(data.label_spec.worst_percent),
        target_for=target_for, seed=seed, design=data.data.design, data=record,
        prior=prior, unlabelled=rows[split.pool],
    )  # fmt: skip
    test_scores = scorer.score_prepared(rows[split.test])
    metrics = classification_metrics(data.labels[split.test], test_scores, scorer.threshold)
    config = {"learner": "geometry", "alpha": alpha, "split_seed": split_seed,
              "test_fraction": test_fraction, "seed": seed, "target_for": target_for,
              "prior": prior is not None}  # fmt: skip
    scorer.card = replace(scorer.card, train_config=config, test_metrics=metrics)
    return GeometryTrainResult(scorer, metrics, len(split.train), len(split.test))


def evaluate_geometry(
    scorer: GeometryScorer,
    data: LabelledDataset,
    *,
    split: str = "test",
    threshold: float | None = None,
    split_seed: int | None = None,
) -> dict[str, Any]:
    """Metrics of a geometry model on a data set's test split (its own seed) or all of it;
    with ``scores`` and ``labels`` for the trade-off curve."""
    scorer.check_data(data.data)
    seed, fraction = scorer.card.test_split
    if split == "all":
        positions = np.arange(len(data))
    elif split == "test":
        positions = data.split(0.0, seed if split_seed is None else split_seed, fraction).test
    else:
        raise MagicalPruneError(f"split must be 'test' or 'all', got {split!r}")
    scores = score_layouts(scorer, data, positions)  # as calibrate scores them
    labels = data.labels[positions]
    out = classification_metrics(
        labels, scores, scorer.threshold if threshold is None else threshold
    )
    out.update(scores=scores, labels=np.asarray(labels), split=split,
               trained_on_same_data=scorer.card.data_content_hash == data.data.content_hash)  # fmt: skip
    return out
