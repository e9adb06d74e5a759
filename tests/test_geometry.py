"""Geometric feature vectors checked against hand-computed numbers on three devices."""

from __future__ import annotations

import numpy as np
import pytest

from magical_prune.circuit import Circuit, DeviceType, Symmetry
from magical_prune.errors import MagicalPruneError
from magical_prune.geometry import (
    column_names,
    geometry_vectors,
    heat_asymmetry,
    layout_vector,
    pair_vector,
)
from magical_prune.placement import Placement

NETS = {"a": [("A", "D"), ("C", "D")], "b": [("B", "D"), ("C", "G")]}
TYPES = {"A": DeviceType.NMOS, "B": DeviceType.NMOS, "C": DeviceType.PMOS}
PINS = {(d, p): (0.0, 0.0, 1.0, 1.0) for d in "ABC" for p in ("D", "G", "S")}


def three(x_c: float = 4.0, pairs=(("A", "B"),)) -> Placement:
    """A at x 0-2, B at 6-8 (a mirrored pair about x = 4), C 2 wide at x_c, y 4-6."""
    circuit = Circuit.from_connections("t", NETS, TYPES, symmetry=Symmetry(pairs=tuple(pairs)))
    return Placement.from_arrays(
        ["A", "B", "C"],
        [0, 6, x_c - 1],
        [0, 0, 4],
        [2, 2, 2],
        [2, 2, 2],
        PINS,
        NETS,
        TYPES,
        circuit=circuit,
    )


def test_layout_vector_by_hand():
    v = layout_vector(three())
    # bbox 0..8 x 0..6: centre (4, 3); device centres (1,1) (7,1) (4,5)
    np.testing.assert_allclose(v[:3], [-3, 3, 0])
    np.testing.assert_allclose(v[3:6], [-2, -2, 2])
    np.testing.assert_allclose(v[6:9], [3, 3, 0])
    # net a: pin centres (0.5,0.5) and (3.5,4.5): 3 + 4; net b: (6.5,0.5) and (3.5,4.5): 3 + 4
    np.testing.assert_allclose(v[9:11], [7, 7])
    np.testing.assert_allclose(v[11:], [8, 6])
    assert len(column_names(three())["layout"]) == len(v)


def test_pair_vector_by_hand():
    v = pair_vector(three(x_c=5.0))
    # separation of (A, B) = 7 - 1; C: 1 right of the axis x = 4, 5 above the bottom
    np.testing.assert_allclose(v, [6, 1, 5, 1])
    assert column_names(three())["pairs"] == ["sep:A-B", "axis:C", "height:C", "|axis|:C"]


def test_pair_order_gives_the_sign_and_translation_changes_nothing():
    assert pair_vector(three(pairs=(("B", "A"),)))[0] == -6
    base = geometry_vectors(three())
    moved = geometry_vectors(three().translated(5000, -3000))
    np.testing.assert_allclose(moved.layout, base.layout)
    np.testing.assert_allclose(moved.pairs, base.pairs)


def test_no_pairs_uses_the_box_centre():
    np.testing.assert_allclose(pair_vector(three(x_c=5.0, pairs=())), [-3, 3, 1, 1, 1, 5, 3, 3, 1])


def test_empty_placement_is_an_error():
    empty = three()
    object.__setattr__(empty, "names", ())
    with pytest.raises(MagicalPruneError):
        layout_vector(empty)


def test_heat_asymmetry_by_hand():
    # C (area 4, radius sqrt(4/pi)) at (5, 5); A at (1, 1), B at (7, 1)
    radius2 = 4 / np.pi
    to_a, to_b = 4**2 + 4**2, 2**2 + 4**2
    expected = 4 * (1 / np.sqrt(to_a + radius2) - 1 / np.sqrt(to_b + radius2))
    np.testing.assert_allclose(heat_asymmetry(three(x_c=5.0)), [expected])
    # a source on the axis heats both alike
    np.testing.assert_allclose(heat_asymmetry(three(x_c=4.0)), [0.0], atol=1e-12)
    assert heat_asymmetry(three(pairs=())).shape == (0,)
