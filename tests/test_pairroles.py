"""Role groups and sides of mirrored pairs, and the role vector built from them."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np

from magical_prune.adapters.discovery import find_layouts, load_placement
from magical_prune.geometry import (
    column_names,
    geometry_vectors,
    heat_asymmetry,
    pair_vector,
    role_vector,
    vector_widths,
)  # fmt: skip
from magical_prune.pairroles import ROLE_GROUPS, pair_roles
from magical_prune.placement import Placement

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "ota3"


def _first() -> Placement:
    return load_placement(find_layouts(EXAMPLE)[0])


def test_roles_of_the_ota3_pairs():
    placement = _first()
    pairs = placement.circuit.symmetry.pairs
    roles = pair_roles(placement.circuit, tuple(pairs))
    group = {pair: int(g) for pair, g in zip(pairs, roles.group)}
    # ota3.sp: M1/M2 input pair; M3/M4 its loads; M5-M8 second stage; M9-M12 CMFB amplifier
    assert group[("M1", "M2")] == 0
    assert group[("M3", "M4")] == 1
    assert group[("M5", "M6")] == group[("M7", "M8")] == 2
    assert group[("M9", "M10")] == group[("M11", "M12")] == 3
    assert all(g == -1 for (a, _), g in group.items() if not a.startswith("M"))  # passives
    # M1 drives o1m, like M3 (load of o1m): the listed order is already oriented
    assert roles.side[list(pairs).index(("M3", "M4"))] == 1.0
    # listing a pair the other way round flips its side, not its group
    flipped = tuple((b, a) if (a, b) == ("M3", "M4") else (a, b) for a, b in pairs)
    again = pair_roles(placement.circuit, flipped)
    i = list(pairs).index(("M3", "M4"))
    assert again.side[i] == -1.0 and again.group[i] == 1


def test_role_vector_is_the_oriented_sum_per_group():
    placement = _first()
    n = len(heat_asymmetry(placement))
    sep, heat = pair_vector(placement)[:n], heat_asymmetry(placement)
    names = placement.names
    index = {name: i for i, name in enumerate(names)}
    pairs = tuple(p for p in placement.circuit.symmetry.pairs if p[0] in index and p[1] in index)
    roles = pair_roles(placement.circuit, pairs)
    expected = np.zeros(2 * len(ROLE_GROUPS))
    for k, (g, s) in enumerate(zip(roles.group, roles.side)):
        if g >= 0:
            expected[g] += s * sep[k]
            expected[len(ROLE_GROUPS) + g] += s * heat[k]
    np.testing.assert_allclose(role_vector(placement), expected)
    vectors = geometry_vectors(placement)
    np.testing.assert_allclose(vectors.roles, expected)
    assert vectors.widths[3] == len(column_names(placement)["roles"]) == 8
    assert vector_widths(placement) == vectors.widths  # read off the plan, no vectors made
    assert len(vectors.flat()) == sum(vectors.widths)


def test_mirroring_the_layout_negates_separations_and_keeps_heat():
    placement = _first()
    rects = placement.rects.copy()
    mirrored_rects = rects.copy()
    mirrored_rects[:, 0], mirrored_rects[:, 2] = -rects[:, 2], -rects[:, 0]
    mirrored = dataclasses.replace(placement, rects=mirrored_rects)  # pins unused here
    a, b = role_vector(placement), role_vector(mirrored)
    np.testing.assert_allclose(b[:4], -a[:4], atol=1e-9)
    np.testing.assert_allclose(b[4:], a[4:], atol=1e-9)


def test_explanations_recompute_the_role_vector_of_an_occluded_row():
    from magical_prune.geoexplain import _recompute_roles

    placements = [load_placement(p) for p in find_layouts(EXAMPLE)[:2]]
    rows = np.stack([geometry_vectors(p).flat() for p in placements])
    again = rows.copy()
    again[:, -8:] = 0.0
    _recompute_roles(again, placements[0])
    np.testing.assert_allclose(again, rows)  # a row's own pairs give its own roles
    # the pairs of the second layout in the first layout's row: the second's roles
    n_layout, n_pairs, n_heat, _ = geometry_vectors(placements[0]).widths
    mixed = rows[:1].copy()
    mixed[0, n_layout : n_layout + n_pairs + n_heat] = rows[
        1, n_layout : n_layout + n_pairs + n_heat
    ]
    _recompute_roles(mixed, placements[0])
    np.testing.assert_allclose(mixed[0, -8:], rows[1, -8:])
