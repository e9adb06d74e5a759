"""Geometric feature vectors of a placement: a few hundred numbers instead of images.

Two fixed-length vectors per layout, in µm (physical units, not per-axis squeezed
pixels), for learners that are not image CNNs:

* :func:`layout_vector` -- device centres relative to the bounding-box centre (x, y), the
  magnitude of each x, the half-perimeter wire length of every net and the outline. This is
  the "geometry" a user would write first; the learning-curve benchmark's baselines use it.
* :func:`pair_vector` -- what matching depends on: the signed separation of every mirrored
  pair of the ``.sym`` constraints (left-to-right as the file lists them), and for every
  device outside the pairs its signed distance from the symmetry axis, its height above the
  outline's bottom and the magnitude of that distance. A linear process gradient shifts a
  pair's threshold difference in proportion to the pair's separation; heat sources off the
  axis break the symmetry of the thermal field.
* :func:`heat_asymmetry` -- per mirrored pair, how much closer its first device sits to the
  heat sources off the symmetry axis than its second: the sum over unpaired devices of
  ``area * (1/r_first - 1/r_second)`` (a point source's steady-state temperature falls as
  1/r; the device area stands in for its unknown power; r is softened by the source's
  equivalent radius). Mirrored sources heat both devices of a pair alike and cancel.

Both follow the device and net order of the placement, so layouts of one design give
columns that line up; layouts of different designs do not (see :func:`column_names`).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np

from magical_prune.errors import MagicalPruneError
from magical_prune.placement import Placement

__all__ = [
    "GeometryVectors",
    "column_digest",
    "column_names",
    "flat_vector",
    "geometry_vectors",
    "heat_asymmetry",
    "layout_vector",
    "pair_vector",
    "vector_widths",
]

NM_PER_UM = 1000.0


@dataclass(frozen=True)
class GeometryVectors:
    """The two vectors of one layout (float64, µm)."""

    layout: np.ndarray
    pairs: np.ndarray
    heat: np.ndarray

    def flat(self) -> np.ndarray:
        """The three side by side (the row a data set stores, a geometry model reads)."""
        return np.concatenate([self.layout, self.pairs, self.heat])

    @property
    def widths(self) -> tuple[int, int, int]:
        """Lengths of the layout, pair and heat parts of :meth:`flat`."""
        return len(self.layout), len(self.pairs), len(self.heat)


def _centres_um(placement: Placement) -> np.ndarray:
    rects = np.asarray(placement.rects, dtype=np.float64) / NM_PER_UM
    return (rects[:, :2] + rects[:, 2:]) / 2.0


def layout_vector(placement: Placement) -> np.ndarray:
    """Centres (x, y) relative to the bounding-box centre, |x|, HPWL per net, outline."""
    if len(placement) == 0:
        raise MagicalPruneError("an empty placement has no geometry", placement.source)
    centres = _centres_um(placement)
    box = np.asarray(placement.bbox, dtype=np.float64) / NM_PER_UM
    middle = (box[:2] + box[2:]) / 2.0
    rel = centres - middle
    hpwl = np.fromiter(placement.hpwl().values(), dtype=np.float64) / NM_PER_UM
    return np.concatenate([rel[:, 0], rel[:, 1], np.abs(rel[:, 0]), hpwl, box[2:] - box[:2]])


def _pair_indices(placement: Placement) -> tuple[list[tuple[int, int]], list[int]]:
    index = {name: i for i, name in enumerate(placement.names)}
    pairs = [
        (index[a], index[b])
        for a, b in placement.circuit.symmetry.pairs
        if a in index and b in index
    ]
    paired = {i for pair in pairs for i in pair}
    return pairs, [i for i in range(len(placement.names)) if i not in paired]


def pair_vector(placement: Placement) -> np.ndarray:
    """Signed pair separations, then per unpaired device: distance from the axis, height,
    |distance|. Without symmetry pairs the axis is the bounding box's vertical centre line."""
    if len(placement) == 0:
        raise MagicalPruneError("an empty placement has no geometry", placement.source)
    centres = _centres_um(placement)
    box = np.asarray(placement.bbox, dtype=np.float64) / NM_PER_UM
    pairs, single = _pair_indices(placement)
    if pairs:
        a, b = np.array(pairs).T
        axis = float(np.mean((centres[a, 0] + centres[b, 0]) / 2.0))
        separation = centres[b, 0] - centres[a, 0]
    else:
        axis = float((box[0] + box[2]) / 2.0)
        separation = np.zeros(0)
    u = centres[single, 0] - axis
    v = centres[single, 1] - box[1]
    return np.concatenate([separation, u, v, np.abs(u)])


def heat_asymmetry(placement: Placement) -> np.ndarray:
    """Per mirrored pair (file order): sum over unpaired devices of
    ``area * (1/r_first - 1/r_second)`` in 1/µm·µm², r softened by sqrt(area/pi)."""
    pairs, single = _pair_indices(placement)
    if not pairs or not single:
        return np.zeros(len(pairs))
    rects = np.asarray(placement.rects, dtype=np.float64) / NM_PER_UM
    centres = (rects[:, :2] + rects[:, 2:]) / 2.0
    size = rects[single, 2:] - rects[single, :2]
    area = size[:, 0] * size[:, 1]
    radius = np.sqrt(area / np.pi)
    a, b = np.array(pairs).T
    sources = centres[single]

    def inverse_distance(victims: np.ndarray) -> np.ndarray:
        d = np.linalg.norm(centres[victims][:, None, :] - sources[None, :, :], axis=2)
        return 1.0 / np.hypot(d, radius[None, :])

    return (inverse_distance(a) - inverse_distance(b)) @ area


def geometry_vectors(placement: Placement) -> GeometryVectors:
    """The three vectors of one layout."""
    return GeometryVectors(
        layout_vector(placement), pair_vector(placement), heat_asymmetry(placement)
    )


def column_names(placement: Placement) -> dict[str, list[str]]:
    """What each entry of the two vectors is, for reports and explanations."""
    names = list(placement.names)
    nets = list(placement.hpwl())
    pairs, single = _pair_indices(placement)
    layout = (
        [f"x:{n}" for n in names]
        + [f"y:{n}" for n in names]
        + [f"|x|:{n}" for n in names]
        + [f"hpwl:{n}" for n in nets]
        + ["width", "height"]
    )
    pair = (
        [f"sep:{names[a]}-{names[b]}" for a, b in pairs]
        + [f"axis:{names[i]}" for i in single]
        + [f"height:{names[i]}" for i in single]
        + [f"|axis|:{names[i]}" for i in single]
    )
    heat = [f"heat:{names[a]}-{names[b]}" for a, b in pairs]
    return {"layout": layout, "pairs": pair, "heat": heat}


def column_digest(placement: Placement) -> str:
    """SHA-256 of the vectors' column names: equal exactly when two layouts' vectors line
    up (same design, same device and net order), so a learner can refuse another design."""
    names = column_names(placement)
    text = "\n".join(f"{k}:{','.join(v)}" for k, v in sorted(names.items()))
    return hashlib.sha256(text.encode()).hexdigest()


def flat_vector(placement: Placement) -> np.ndarray:
    """The layout, pair and heat vectors side by side (the row a data set stores)."""
    return geometry_vectors(placement).flat()


def vector_widths(placement: Placement) -> tuple[int, int, int]:
    """Lengths of the layout, pair and heat parts of :func:`flat_vector`."""
    return geometry_vectors(placement).widths
