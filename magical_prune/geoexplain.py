"""Why a geometry model scores a placement as it does: evidence per device and per net.

The geometry learner reads numbers named after devices and nets (a device's position, a
mirrored pair's separation, a net's wire length: :func:`~magical_prune.geometry.column_names`).
A device's evidence is how much the score drops when its numbers are replaced by those of an
ordinary layout of the design (the median training row, kept in the model): positive means
the device's placement pushes the layout towards "prune". Numbers of a pair (its separation,
its heat asymmetry) count for both devices; the role vector, sums of those per pair role,
is recomputed from the occluded pairs, so a pair's share of it counts for its devices too.
Nets are treated alike through their wire length. One score per device or net: a few dozen scores, well under a second.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from magical_prune.errors import MagicalPruneError
from magical_prune.geometry import column_names, role_projection, vector_widths
from magical_prune.geomodel import GeometryScorer
from magical_prune.placement import Placement

__all__ = ["GeometryExplanation", "explain_geometry"]


@dataclass(frozen=True)
class GeometryExplanation:
    """A placement's score and the evidence of each device and net (score drop when that
    device's or net's numbers are made ordinary), largest first."""

    score: float
    prune: bool
    threshold: float
    devices: Mapping[str, float]
    nets: Mapping[str, float]
    method: str = "occlusion with the design's median layout"

    def to_dict(self) -> dict[str, Any]:
        return {"score": self.score, "prune": self.prune, "threshold": self.threshold,
                "method": self.method, "devices": dict(self.devices),
                "nets": dict(self.nets)}  # fmt: skip


def _owners(placement: Placement) -> tuple[list[list[str]], list[str | None]]:
    """For each column of the flat vector: the devices it describes, and its net (if any)."""
    names = column_names(placement)
    devices: list[list[str]] = []
    nets: list[str | None] = []
    for column in names["layout"] + names["pairs"] + names["heat"]:
        kind, _, subject = column.partition(":")
        if kind == "hpwl":
            devices.append([])
            nets.append(subject)
        elif kind in ("sep", "heat"):
            devices.append(subject.split("-", 1))
            nets.append(None)
        elif subject:
            devices.append([subject])
            nets.append(None)
        else:  # the outline: width and height
            devices.append([])
            nets.append(None)
    return devices, nets


def _recompute_roles(rows: np.ndarray, placement: Placement) -> None:
    """Set the role part of each row from its (occluded) separations and heat asymmetry."""
    n_layout, n_pairs, n_heat, _ = vector_widths(placement)
    projection = role_projection(placement)
    sep = rows[:, n_layout : n_layout + n_heat]  # separations lead the pair vector
    heat = rows[:, n_layout + n_pairs : n_layout + n_pairs + n_heat]
    rows[:, n_layout + n_pairs + n_heat :] = np.hstack([sep @ projection, heat @ projection])


def explain_geometry(scorer: GeometryScorer, placement: Placement) -> GeometryExplanation:
    """Evidence per device and net for ``scorer``'s score of ``placement``.

    Raises:
        MagicalPruneError: the model keeps no median layout (written by an older version),
            or the placement is of another design (the model's own error).
    """
    if scorer.reference is None:
        raise MagicalPruneError("this geometry model keeps no reference layout to explain with",
                                scorer.source)  # fmt: skip
    row = scorer.prepare([placement])[0]
    owners, nets = _owners(placement)
    groups: dict[tuple[str, str], list[int]] = {}
    for j, (devs, net) in enumerate(zip(owners, nets)):
        for d in devs:
            groups.setdefault(("device", d), []).append(j)
        if net is not None:
            groups.setdefault(("net", net), []).append(j)
    keys = list(groups)
    occluded = np.repeat(row[None], len(keys) + 1, axis=0)
    for i, key in enumerate(keys, start=1):
        cols = groups[key]
        occluded[i, cols] = scorer.reference[cols]
    _recompute_roles(occluded, placement)
    scores = scorer.score_prepared(occluded)
    drop = {key: float(scores[0] - scores[i]) for i, key in enumerate(keys, start=1)}
    ranked = sorted(drop.items(), key=lambda kv: -kv[1])
    return GeometryExplanation(
        score=float(scores[0]),
        prune=bool(scores[0] >= scorer.threshold),
        threshold=scorer.threshold,
        devices={name: v for (kind, name), v in ranked if kind == "device"},
        nets={name: v for (kind, name), v in ranked if kind == "net"},
    )
