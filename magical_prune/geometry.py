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
* :func:`role_vector` -- eight numbers that mean the same on every design: per role group of
  :mod:`magical_prune.pairroles` (input pair, rest of the first stage, later stages, CMFB),
  the sum of the pairs' separations and of their heat asymmetries, each pair oriented like
  the input pair. Fewer weights to learn than per pair, which is what pays at 16 labels.

The first three follow the device and net order of the placement, so layouts of one design
give columns that line up; layouts of different designs do not (see :func:`column_names`).
"""

from __future__ import annotations

import hashlib
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from magical_prune.errors import MagicalPruneError
from magical_prune.pairroles import ROLE_GROUPS, pair_roles
from magical_prune.placement import Placement

__all__ = [
    "VECTOR_PARTS",
    "GeometryVectors",
    "column_digest",
    "column_names",
    "flat_vector",
    "geometry_vectors",
    "heat_asymmetry",
    "layout_vector",
    "pair_vector",
    "role_projection",
    "role_vector",
    "vector_widths",
]

NM_PER_UM = 1000.0
#: parts of a geometry row (layout, pairs, heat, roles); rows of older versions had 3
VECTOR_PARTS = 4


@dataclass(frozen=True)
class GeometryVectors:
    """The vectors of one layout (float64, µm)."""

    layout: np.ndarray
    pairs: np.ndarray
    heat: np.ndarray
    roles: np.ndarray

    def flat(self) -> np.ndarray:
        """The four side by side (the row a data set stores, a geometry model reads)."""
        return np.concatenate([self.layout, self.pairs, self.heat, self.roles])

    @property
    def widths(self) -> tuple[int, int, int, int]:
        """Lengths of the layout, pair, heat and role parts of :meth:`flat`."""
        return len(self.layout), len(self.pairs), len(self.heat), len(self.roles)


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


@dataclass(frozen=True)
class _Plan:
    """Index arrays of one design's vectors: mirrored pairs (first, second), unpaired
    devices, and the role projection (see :mod:`magical_prune.pairroles`)."""

    names: tuple[str, ...]
    first: np.ndarray
    second: np.ndarray
    single: np.ndarray
    projection: np.ndarray

    @property
    def pairs(self) -> list[tuple[int, int]]:
        return list(zip(self.first.tolist(), self.second.tolist()))


# Every layout of a design shares its circuit object and device order, so what depends on
# them alone is made once per circuit: the batch scorer and the hook spend ~0.3 ms per
# layout, and the plan and column digest took more than that when made per layout.
_PLANS: dict[int, tuple[weakref.ref, Any, Any]] = {}
_DIGESTS: dict[int, tuple[weakref.ref, Any, Any]] = {}


def _per_circuit(store: dict, circuit: object, key: Any, make: Callable[[], Any]) -> Any:
    """``make()`` kept per circuit object (while it lives) and ``key``."""
    slot = id(circuit)
    hit = store.get(slot)
    if hit is not None and hit[0]() is circuit and hit[1] == key:
        return hit[2]
    value = make()
    store[slot] = (weakref.ref(circuit, lambda _r, k=slot: store.pop(k, None)), key, value)
    return value


def _make_plan(placement: Placement) -> _Plan:
    names = tuple(placement.names)
    index = {name: i for i, name in enumerate(names)}
    pairs = [(a, b) for a, b in placement.circuit.symmetry.pairs if a in index and b in index]
    first = np.array([index[a] for a, _ in pairs], dtype=np.int64)
    second = np.array([index[b] for _, b in pairs], dtype=np.int64)
    paired = set(first.tolist()) | set(second.tolist())
    single = np.array([i for i in range(len(names)) if i not in paired], dtype=np.int64)
    projection = pair_roles(placement.circuit, tuple(pairs)).projection()
    return _Plan(names, first, second, single, projection)


def _plan(placement: Placement) -> _Plan:
    return _per_circuit(_PLANS, placement.circuit, placement.names, lambda: _make_plan(placement))


def _pair_indices(placement: Placement) -> tuple[list[tuple[int, int]], list[int]]:
    plan = _plan(placement)
    return plan.pairs, plan.single.tolist()


def _pairs_from(plan: _Plan, centres: np.ndarray, box: np.ndarray) -> np.ndarray:
    if len(plan.first):
        axis = float(np.mean((centres[plan.first, 0] + centres[plan.second, 0]) / 2.0))
        separation = centres[plan.second, 0] - centres[plan.first, 0]
    else:
        axis = float((box[0] + box[2]) / 2.0)
        separation = np.zeros(0)
    u = centres[plan.single, 0] - axis
    v = centres[plan.single, 1] - box[1]
    return np.concatenate([separation, u, v, np.abs(u)])


def pair_vector(placement: Placement) -> np.ndarray:
    """Signed pair separations, then per unpaired device: distance from the axis, height,
    |distance|. Without symmetry pairs the axis is the bounding box's vertical centre line."""
    if len(placement) == 0:
        raise MagicalPruneError("an empty placement has no geometry", placement.source)
    box = np.asarray(placement.bbox, dtype=np.float64) / NM_PER_UM
    return _pairs_from(_plan(placement), _centres_um(placement), box)


def _heat_from(plan: _Plan, rects: np.ndarray, centres: np.ndarray) -> np.ndarray:
    n = len(plan.first)
    if not n or not len(plan.single):
        return np.zeros(n)
    size = rects[plan.single, 2:] - rects[plan.single, :2]
    area = size[:, 0] * size[:, 1]
    radius = np.sqrt(area / np.pi)
    victims = centres[np.concatenate([plan.first, plan.second])]
    d = np.linalg.norm(victims[:, None, :] - centres[plan.single][None, :, :], axis=2)
    inverse = (1.0 / np.hypot(d, radius[None, :])) @ area
    return inverse[:n] - inverse[n:]


def heat_asymmetry(placement: Placement) -> np.ndarray:
    """Per mirrored pair (file order): sum over unpaired devices of
    ``area * (1/r_first - 1/r_second)`` in 1/µm·µm², r softened by sqrt(area/pi)."""
    rects = np.asarray(placement.rects, dtype=np.float64) / NM_PER_UM
    return _heat_from(_plan(placement), rects, (rects[:, :2] + rects[:, 2:]) / 2.0)


def role_projection(placement: Placement) -> np.ndarray:
    """``(n_pairs, n_groups)``: the role vector is ``[separations @ P, heat @ P]``."""
    return _plan(placement).projection


def role_vector(placement: Placement) -> np.ndarray:
    """Per role group: the oriented sum of pair separations, then of heat asymmetries (µm)."""
    return geometry_vectors(placement).roles


def geometry_vectors(placement: Placement) -> GeometryVectors:
    """The four vectors of one layout."""
    if len(placement) == 0:
        raise MagicalPruneError("an empty placement has no geometry", placement.source)
    plan = _plan(placement)
    rects = np.asarray(placement.rects, dtype=np.float64) / NM_PER_UM
    centres = (rects[:, :2] + rects[:, 2:]) / 2.0
    box = np.asarray(placement.bbox, dtype=np.float64) / NM_PER_UM
    pairs = _pairs_from(plan, centres, box)
    heat = _heat_from(plan, rects, centres)
    n = len(plan.first)
    roles = np.concatenate([pairs[:n] @ plan.projection, heat @ plan.projection])
    return GeometryVectors(layout_vector(placement), pairs, heat, roles)


def column_names(placement: Placement) -> dict[str, list[str]]:
    """What each entry of the vectors is, for reports and explanations."""
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
    roles = [f"{kind}:{group}" for kind in ("sep", "heat") for group in ROLE_GROUPS]
    return {"layout": layout, "pairs": pair, "heat": heat, "roles": roles}


def column_digest(placement: Placement) -> str:
    """SHA-256 of the vectors' column names: equal exactly when two layouts' vectors line
    up (same design, same device and net order), so a learner can refuse another design.
    Kept per circuit (a model checks every layout it scores against it)."""

    def make() -> str:
        names = column_names(placement)
        text = "\n".join(f"{k}:{','.join(v)}" for k, v in sorted(names.items()))
        return hashlib.sha256(text.encode()).hexdigest()

    order = (placement.names, placement.net_names)
    return _per_circuit(_DIGESTS, placement.circuit, order, make)


def flat_vector(placement: Placement) -> np.ndarray:
    """The layout, pair and heat vectors side by side (the row a data set stores)."""
    return geometry_vectors(placement).flat()


def vector_widths(placement: Placement) -> tuple[int, int, int, int]:
    """Lengths of the layout, pair, heat and role parts of :func:`flat_vector`, from the
    design's plan (no vectors computed): x, y, |x| per device, HPWL per net, the outline;
    a separation per pair and three numbers per unpaired device; a heat asymmetry per pair;
    a sum of each per role group."""
    plan = _plan(placement)
    n_pairs = len(plan.first)
    return (
        3 * len(plan.names) + len(placement.net_names) + 2,
        n_pairs + 3 * len(plan.single),
        n_pairs,
        2 * len(ROLE_GROUPS),
    )
