"""Learners by name, like the architectures: what ``train --learner NAME`` fits.

A learner turns a labelled data set into a model file whose card names its ``family``; every
command that takes a model opens any family (:func:`magical_prune.predict.load_scorer`).

* ``cnn`` -- a network on the feature images (the paper's, or ``efficient``; ``--arch``),
  trained from scratch or fine-tuned from another design's model (transfer).
* ``geometry`` -- the geometry learner (:mod:`magical_prune.geolearn`): ridge (with weights
  shared per pair role, :mod:`magical_prune.pairroles`) and gradient-boosted trees on the
  layout geometry, weighed by cross-validation on the labels (ties averaged);
  one design per model, seconds to fit, and the better choice with a few hundred labels or
  fewer on the reference designs (docs/results/learning_curve.md).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from magical_prune.dataset import LabelledDataset
from magical_prune.geotrain import train_geometry
from magical_prune.registry import Registry
from magical_prune.training import TrainConfig, train

__all__ = ["LEARNERS", "Learner", "get_learner"]


@dataclass(frozen=True)
class Learner:
    """A registered learner: the card family it writes, a one-line summary, and how it fits
    a data set (``fit(data, **options) -> result`` with ``.card``, ``.test_metrics`` and
    ``.save(path)``)."""

    name: str
    family: str
    summary: str
    fit: Callable[..., Any]


LEARNERS: Registry[Learner] = Registry("learner")


def _fit_cnn(data: LabelledDataset, *, config: TrainConfig | None = None, **options: Any) -> Any:
    return train(data, config, **options)


LEARNERS.add("cnn", Learner(
    "cnn", "cnn", "a network on the six feature images (--arch); transfers by fine-tuning",
    _fit_cnn,
))  # fmt: skip
LEARNERS.add("geometry", Learner(
    "geometry", "geometry",
    "ridge / gradient-boosted trees on the layout geometry, weighed by cross-validation; "
    "one design, seconds to fit", train_geometry,
))  # fmt: skip


def get_learner(name: str) -> Learner:
    """The learner registered as ``name`` (an unknown name lists the known ones)."""
    return LEARNERS.get(name)
