"""The design-agnostic prior (:mod:`magical_prune.roleprior`) as a model file and a Scorer.

The bundled file (``assets/role_prior.pt``, made by ``benchmarks/bundle_prior.py``) holds
the pooled weights and, fitted on the same source designs, the map from predicted badness
rank to P(worst quarter) and the threshold that prunes a quarter of a design's layouts. It
knows no design until :meth:`PriorScorer.adapt` reads one's typical geometry off unlabelled
layouts of it; from then on it scores layouts of that design only (its column digest), each
on its own, like any other model. ``default`` on a design with no bundled geometry model
adapts it on the layouts given (:func:`magical_prune.predict.load_scorer`).
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import torch

from magical_prune.card import DataRecord, InputSpec, LabelSpec, ModelCard
from magical_prune.checkpoint import ArrayModule, read_model, save_model
from magical_prune.errors import CheckpointError, MagicalPruneError
from magical_prune.geometry import column_digest, geometry_vectors
from magical_prune.geomodel import SCORE_DECIMALS, probability_map, sigmoid
from magical_prune.placement import Placement
from magical_prune.roleprior import (
    FEATURE_NAMES,
    MIN_LAYOUTS,
    RAW_INPUTS,
    DesignStats,
    RolePrior,
    raw_inputs_of,
)
from magical_prune.scorer import CardThreshold

__all__ = [
    "BUNDLED_PRIOR", "FAMILY", "PriorScorer", "bundled_prior_path", "bundled_role_prior",
    "pretrained_scorer",
]  # fmt: skip

FAMILY = "role-prior"
#: the bundled prior, relative to the package
BUNDLED_PRIOR = "assets/role_prior.pt"
#: share of a design's layouts the card's threshold prunes (fitted on the source designs)
PRUNE_SHARE = 0.25


@dataclass
class PriorScorer(CardThreshold):
    """The pooled prior, with a design's typical geometry once adapted (implements Scorer)."""

    prior: RolePrior
    card: ModelCard
    stats: DesignStats | None = None
    source: str | None = None

    @property
    def _info(self) -> Mapping[str, Any]:
        return self.card.extra.get(FAMILY) or {}

    # -- a design ---------------------------------------------------------------------
    def adapt(self, placements: Sequence[Placement], design: str | None = None) -> PriorScorer:
        """This prior with the typical geometry of ``placements`` (unlabelled layouts of one
        design, at least :data:`~magical_prune.roleprior.MIN_LAYOUTS`)."""
        items = list(placements)
        if len(items) < MIN_LAYOUTS:
            raise MagicalPruneError(f"the prior reads a design's typical layout off at least "
                                    f"{MIN_LAYOUTS} of its layouts; got {len(items)}")  # fmt: skip
        for p in items:
            _check_placement(p)
        digests = {column_digest(p) for p in items}
        if len(digests) > 1:
            raise MagicalPruneError("the prior adapts to layouts of one design; these are of "
                                    f"{len(digests)} designs")  # fmt: skip
        stats = DesignStats.of(self._raw(items))
        info = {**self._info, "columns_sha256": digests.pop(), "devices": len(items[0].names),
                "mean": stats.mean.tolist(), "spread": stats.spread.tolist(),
                "adapted_on": stats.layouts}  # fmt: skip
        name = design or items[0].circuit.name or None
        card = replace(self.card, extra={**self.card.extra, FAMILY: info},
                       data=DataRecord(design=name, n_layouts=stats.layouts))  # fmt: skip
        return PriorScorer(self.prior, card, stats, self.source)

    @staticmethod
    def _raw(items: Sequence[Placement]) -> np.ndarray:
        return raw_inputs_of([geometry_vectors(p) for p in items], len(items[0].names))

    # -- Scorer -----------------------------------------------------------------------
    def prepare(self, placements: Sequence[Placement] | Placement) -> np.ndarray:
        """``(N, RAW_INPUTS)`` raw inputs (:func:`~magical_prune.roleprior.raw_inputs`)."""
        items = [placements] if isinstance(placements, Placement) else list(placements)
        if self.stats is None:
            raise MagicalPruneError(
                "the design-agnostic prior has not read this design's typical layout: score "
                f"at least {MIN_LAYOUTS} of its layouts together",
                self.source,
            )
        for p in items:
            _check_placement(p)
            if column_digest(p) != self._info.get("columns_sha256"):
                raise CheckpointError(
                    f"the prior was adapted to {self.card.design or 'another design'}; this "
                    "placement's devices and nets do not line up with it", self.source
                )  # fmt: skip
        return self._raw(items) if items else np.zeros((0, RAW_INPUTS))

    def score_prepared(self, x: np.ndarray, batch_size: int | None = None) -> np.ndarray:
        """P(prune) of prepared rows (all at once: they are small)."""
        if self.stats is None:
            raise MagicalPruneError("the prior has not been adapted to a design", self.source)
        rank = self.prior.predict(self.stats.standardise(x))
        slope, intercept = (float(v) for v in self._info["probability"])
        return np.round(sigmoid(slope * rank + intercept), SCORE_DECIMALS)

    def score(self, placements: Placement | Sequence[Placement]) -> np.ndarray:
        scores = self.score_prepared(self.prepare(placements))
        if np.isnan(scores).any():
            raise MagicalPruneError("the prior gave NaN scores", self.source)
        return scores

    def contributions(self, placement: Placement) -> dict[str, float]:
        """Each input's share of the predicted badness rank (weight x standardised value)."""
        x = self.prepare(placement)
        assert self.stats is not None  # prepare refuses an unadapted prior
        x = self.stats.standardise(x)[0]
        return {n: float(w * v) for n, w, v in zip(FEATURE_NAMES, self.prior.weights, x)}

    # -- files --------------------------------------------------------------------------
    def save(self, path: str | os.PathLike[str]) -> Path:
        arrays = {"weights": self.prior.weights, "intercept": np.array([self.prior.intercept])}
        return save_model(path, ArrayModule(arrays), self.card)

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> PriorScorer:
        state, card = read_model(path)
        return cls.from_state(state, card, os.fspath(path))

    @classmethod
    def from_state(cls, state: Mapping[str, torch.Tensor], card: ModelCard,
                   source: str | None = None) -> PriorScorer:  # fmt: skip
        if card.family != FAMILY:
            raise CheckpointError(f"not a prior model (family {card.family!r})", source)
        info = card.extra.get(FAMILY) or {}
        try:
            prior = RolePrior.from_arrays(
                state["weights"].double().numpy(), state["intercept"].double().numpy()[0]
            )
            if len(info["probability"]) != 2:
                raise ValueError(f"{len(info['probability'])} numbers in the probability map")
            stats = None
            if "mean" in info:
                stats = DesignStats(np.asarray(info["mean"], dtype=np.float64),
                                    np.asarray(info["spread"], dtype=np.float64),
                                    int(info["adapted_on"]))  # fmt: skip
        except (KeyError, TypeError, ValueError, IndexError) as err:
            raise CheckpointError(f"damaged prior model: {err}", source) from None
        return cls(prior, card, stats, source)


def bundled_prior_path() -> Path:
    """Where the bundled design-agnostic prior lies (it may be missing in an installation)."""
    return Path(os.fspath(resources.files("magical_prune").joinpath(BUNDLED_PRIOR)))  # type: ignore[arg-type]


def bundled_role_prior() -> RolePrior | None:
    """The bundled prior's weights (what a geometry learner averages in under few labels),
    or None when the file is not installed."""
    path = bundled_prior_path()
    return PriorScorer.load(path).prior if path.is_file() else None


def _check_placement(item: Any) -> None:
    if not isinstance(item, Placement):
        raise MagicalPruneError(f"the prior scores placements, not {type(item).__name__}")


def pretrained_scorer(designs: Mapping[str, tuple[np.ndarray, np.ndarray]]) -> PriorScorer:
    """Fit the prior on ``design -> (raw inputs, badness)`` and, on the same layouts, the map
    from its output to P(worst quarter) and the threshold that prunes :data:`PRUNE_SHARE`
    of each design (the card's test metrics: the pooled FOR and prune rate there)."""
    prior = RolePrior.fit(list(designs.values()))
    ranks, bad, per_design = [], [], []
    for raw, badness in designs.values():
        rank = prior.predict(DesignStats.of(raw).standardise(raw))
        ranks.append(rank)
        bad.append(badness > np.quantile(badness, 1 - PRUNE_SHARE))
        per_design.append(np.quantile(rank, 1 - PRUNE_SHARE))
    slope, intercept = probability_map(np.concatenate(ranks), np.concatenate(bad).astype(int))
    cut = float(np.median(per_design))
    threshold = float(np.round(sigmoid(slope * cut + intercept), SCORE_DECIMALS))
    card = ModelCard(
        arch="role-prior", family=FAMILY, threshold=threshold,
        inputs=InputSpec(kind="geometry", image_size=0),
        label=LabelSpec(metric=None, worst_percent=100 * PRUNE_SHARE),
        extra={FAMILY: {"probability": [slope, intercept], "features": list(FEATURE_NAMES),
                        "sources": sorted(designs)}},
    )  # fmt: skip
    return PriorScorer(prior, card)
