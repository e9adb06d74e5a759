"""A design-agnostic prior: ranks the layouts of a design no model has learnt, with no labels.

A geometry model learns one design's columns; on a new design it needs that design's own
results. Before any, what carries from other designs is the *structure*: which pairs match
(the role vector, :mod:`magical_prune.pairroles`), and that a layout whose matching or wiring
is unusual *for its design* tends to be bad. So the prior reads, per layout:

* per role group, the oriented sum of pair separations and of heat asymmetries (the role
  vector, 8 numbers) -- as their distance from the design's typical value, |z|: the sign and
  the nominal offset that decide which way is bad differ between designs, their size does not;
* total wire length, outline area, aspect ratio (and its distance from typical) and the sum
  of the devices' distances from the symmetry axis, as z-scores -- longer wires and looser
  outlines carry more parasitics on every design.

"Typical" is the mean and spread over unlabelled layouts of the design (:class:`DesignStats`:
placements cost no simulation, so a flow has them as soon as its placer ran), fixed once
read (:meth:`PriorScorer.adapt`), so a layout's score then does not depend on what else is
scored. The weights are non-negative least squares of each source design's rank of badness
(offsets and CMRR alike: a rank has no units) on these numbers, pooled over the reference
designs (``benchmarks/bundle_prior.py``; ``benchmarks/zero_shot.py`` measures it leaving the
target design out). Measured: docs/model.md, "Zero-shot".
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from magical_prune.errors import MagicalPruneError
from magical_prune.geometry import GeometryVectors
from magical_prune.pairroles import ROLE_GROUPS

__all__ = [
    "AdaptedPrior",
    "FEATURE_NAMES",
    "MIN_LAYOUTS",
    "RAW_INPUTS",
    "DesignStats",
    "RolePrior",
    "raw_inputs",
    "raw_inputs_of",
]

#: fewest unlabelled layouts a design's typical geometry is read off
MIN_LAYOUTS = 16
#: entries of the role vector (the first raw inputs)
ROLES = len(ROLE_GROUPS) * 2
#: raw inputs per layout (:func:`raw_inputs`): the role vector, wire length, area, aspect,
#: axis distance
RAW_INPUTS = ROLES + 4
#: what each standardised input is (``|z|`` = distance from the design's typical value)
FEATURE_NAMES: tuple[str, ...] = (
    *(f"|{kind}:{group}|" for kind in ("sep", "heat") for group in ROLE_GROUPS),
    "wirelength", "area", "aspect", "|aspect|", "axis-distance",
)  # fmt: skip


def raw_inputs(layout: np.ndarray, roles: np.ndarray, devices: int) -> np.ndarray:
    """``(N, RAW_INPUTS)``: role vector, total HPWL, outline area, aspect ratio, sum of |x| from the
    layouts' layout vectors (:func:`~magical_prune.geometry.layout_vector`, ``devices`` of
    them per row) and role vectors (µm)."""
    layout, roles = np.atleast_2d(layout), np.atleast_2d(roles)
    width, height = layout[:, -2], layout[:, -1]
    wires = layout[:, 3 * devices : -2].sum(axis=1)
    axis = layout[:, 2 * devices : 3 * devices].sum(axis=1)
    aspect = width / np.where(height > 0, height, 1.0)
    return np.column_stack([roles, wires, width * height, aspect, axis])


def raw_inputs_of(vectors: Sequence[GeometryVectors], devices: int) -> np.ndarray:
    """:func:`raw_inputs` of several layouts' vectors."""
    return raw_inputs(np.stack([v.layout for v in vectors]), np.stack([v.roles for v in vectors]),
                      devices)  # fmt: skip


@dataclass(frozen=True)
class DesignStats:
    """A design's typical raw inputs: mean and spread over its unlabelled layouts."""

    mean: np.ndarray
    spread: np.ndarray
    layouts: int

    @classmethod
    def of(cls, raw: np.ndarray) -> DesignStats:
        raw = np.atleast_2d(np.asarray(raw, dtype=np.float64))
        if len(raw) < MIN_LAYOUTS:
            raise MagicalPruneError(
                f"the prior reads a design's typical layout off at least {MIN_LAYOUTS} of its "
                f"layouts; got {len(raw)}"
            )
        return cls(raw.mean(axis=0), raw.std(axis=0), len(raw))

    def standardise(self, raw: np.ndarray) -> np.ndarray:
        """``(N, len(FEATURE_NAMES))``: |z| of the roles, z of the rest (and |z| of aspect).
        An input constant over the design's layouts gives 0."""
        raw = np.atleast_2d(np.asarray(raw, dtype=np.float64))
        z = (raw - self.mean) / np.where(self.spread > 0, self.spread, np.inf)
        return np.column_stack([np.abs(z[:, :ROLES]), z[:, ROLES:ROLES + 3],
                                np.abs(z[:, ROLES + 2]), z[:, ROLES + 3]])  # fmt: skip


@dataclass(frozen=True)
class RolePrior:
    """Non-negative weights of the standardised inputs for a layout's badness rank."""

    weights: np.ndarray
    intercept: float

    @classmethod
    def fit(cls, designs: Sequence[tuple[np.ndarray, np.ndarray]]) -> RolePrior:
        """Pooled fit over ``(raw inputs, badness)`` of each source design; each design is
        standardised by its own layouts and contributes its rank of badness in [0, 1]."""
        from scipy.stats import rankdata
        from sklearn.linear_model import LinearRegression

        if not designs:
            raise MagicalPruneError("the prior needs at least one labelled design to learn from")
        x = np.vstack([DesignStats.of(raw).standardise(raw) for raw, _ in designs])
        y = np.concatenate([rankdata(b) / len(b) for _, b in designs])
        fit = LinearRegression(positive=True).fit(x, y)
        return cls(np.asarray(fit.coef_, dtype=np.float64), float(fit.intercept_))

    @classmethod
    def from_arrays(cls, weights: np.ndarray, intercept: float) -> RolePrior:
        """The prior a model file holds; ValueError unless there is one weight per input."""
        weights = np.asarray(weights, dtype=np.float64).reshape(-1)
        if len(weights) != len(FEATURE_NAMES):
            raise ValueError(f"{len(weights)} weights for {len(FEATURE_NAMES)} inputs")
        return cls(weights, float(intercept))

    def predict(self, features: np.ndarray) -> np.ndarray:
        """Predicted badness rank (higher = worse) of standardised inputs."""
        return np.atleast_2d(features) @ self.weights + self.intercept


@dataclass(frozen=True)
class AdaptedPrior:
    """A prior with one design's typical layout: scores that design's layouts from their
    layout and role vectors (what :class:`~magical_prune.geocandidates.Tables` hold), so a
    geometry learner can average it with what it learns from few labels."""

    prior: RolePrior
    stats: DesignStats
    devices: int

    @classmethod
    def of(cls, prior: RolePrior, layout: np.ndarray, roles: np.ndarray,
           devices: int) -> AdaptedPrior:  # fmt: skip
        """Adapted to the design whose unlabelled layouts' vectors are given."""
        return cls(prior, DesignStats.of(raw_inputs(layout, roles, devices)), devices)

    def scores(self, layout: np.ndarray, roles: np.ndarray) -> np.ndarray:
        """Predicted badness rank of each layout (higher = worse)."""
        return self.prior.predict(self.stats.standardise(raw_inputs(layout, roles, self.devices)))

    def state(self) -> dict[str, np.ndarray]:
        """As named arrays (a geometry model file's weights)."""
        return {"weights": self.prior.weights, "intercept": np.array([self.prior.intercept]),
                "mean": self.stats.mean, "spread": self.stats.spread,
                "counts": np.array([self.stats.layouts, self.devices])}  # fmt: skip

    @classmethod
    def from_state(cls, state: dict[str, np.ndarray]) -> AdaptedPrior:
        try:
            prior = RolePrior.from_arrays(
                state["weights"], np.asarray(state["intercept"]).reshape(-1)[0]
            )
            mean, spread = (np.asarray(state[k], dtype=np.float64) for k in ("mean", "spread"))
            layouts, devices = (int(v) for v in state["counts"])
        except (KeyError, TypeError, ValueError, IndexError) as err:
            raise MagicalPruneError(f"the prior's arrays are damaged: {err}") from None
        if {mean.shape, spread.shape} != {(RAW_INPUTS,)}:
            raise MagicalPruneError(
                f"the prior's typical layout has {mean.shape} inputs; this version reads "
                f"({RAW_INPUTS},)"
            )
        return cls(prior, DesignStats(mean, spread, layouts), devices)
