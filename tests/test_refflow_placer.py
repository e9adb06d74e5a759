"""Footprints, the analytical placer, the legaliser and net-weight enumeration.

The placer tests run on a small symmetric amplifier built in code (no files needed).
"""

from __future__ import annotations

import dataclasses
import itertools

import numpy as np
import pytest
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st

from magical_prune.circuit import Circuit, Device, DeviceType, Symmetry
from magical_prune.errors import MagicalPruneError
from magical_prune.refflow import netweights
from magical_prune.refflow.footprints import GRID, footprint
from magical_prune.refflow.legalize import check_legal, legalize, relations
from magical_prune.refflow.placer import (
    LegalLayout,
    PlacementProblem,
    PlacerConfig,
    global_place,
    place,
)

N, P, C, R = DeviceType.NMOS, DeviceType.PMOS, DeviceType.CAP, DeviceType.RES


def mos(name, kind, d, g, s, w=4e-6, length=2e-7, nf=2, m=1):
    params = {"w": w, "l": length, "nf": nf, "m": m}
    return Device(name, kind, (d, g, s, "VSS" if kind is N else "VDD"), "nch", params)


def amplifier() -> Circuit:
    """A two-stage differential amplifier: 11 devices, 5 pairs, 1 self-symmetric, 1 free."""
    devices = [
        mos("M1", N, "x1", "inp", "tail", w=8e-6, nf=4),
        mos("M2", N, "x2", "inm", "tail", w=8e-6, nf=4),
        mos("M3", P, "x1", "cmfb", "VDD"),
        mos("M4", P, "x2", "cmfb", "VDD"),
        mos("M5", N, "tail", "vb", "VSS", w=8e-6, nf=2, m=2),
        mos("M6", P, "outm", "x1", "VDD", w=12e-6, nf=6),
        mos("M7", P, "outp", "x2", "VDD", w=12e-6, nf=6),
        mos("M8", N, "vb", "vb", "VSS"),
        Device("C1", C, ("x1", "outm"), "cfmom", {"nr": 30, "lr": 4e-6}),
        Device("C2", C, ("x2", "outp"), "cfmom", {"nr": 30, "lr": 4e-6}),
        Device("R1", R, ("outm", "cmfb", "VSS"), "rppoly", {"l": 6e-6, "w": 1e-6}),
        Device("R2", R, ("outp", "cmfb", "VSS"), "rppoly", {"l": 6e-6, "w": 1e-6}),
    ]
    sym = Symmetry(
        pairs=(("M1", "M2"), ("M3", "M4"), ("M6", "M7"), ("C1", "C2"), ("R1", "R2")),
        self_symmetric=("M5",),
    )
    return Circuit.from_devices("amp", devices, ports=("inp", "inm", "outp", "outm"), symmetry=sym)


CONFIG = PlacerConfig(iterations=120)


@pytest.fixture(scope="module")
def problem() -> PlacementProblem:
    return PlacementProblem.from_circuit(amplifier(), config=CONFIG)


@pytest.fixture(scope="module")
def weight_sets(problem) -> np.ndarray:
    critical = netweights.critical_nets(problem.circuit, placed=problem.nets)
    masks = netweights.subsets(range(6), len(critical), seed=3)
    tables = [netweights.weights_for(m, critical, problem.circuit.nets) for m in masks]
    return problem.weight_matrix(tables)


@pytest.fixture(scope="module")
def layouts(problem, weight_sets) -> list[LegalLayout]:
    return place(problem, weight_sets, CONFIG)


# -- footprints -----------------------------------------------------------------------------
def test_mos_footprint_by_hand():
    # l = 100 nm -> gate pitch 260; 2 fingers: 520 + 2 * 100 diffusion + 2 * 100 margin = 920.
    # Height: 120 gate extension + 1000 finger + 120 strap + 2 * 100 margin = 1440.
    fp = footprint(mos("M0", N, "d", "g", "s", w=2e-6, length=1e-7, nf=2))
    assert (fp.width, fp.height) == (920, 1440)
    # Stripes at x0 + k * pitch, x0 = (920 - 520) / 2 = 200; S, D, S alternate.
    assert fp.shapes["S"] == ((170, 220, 230, 1220), (690, 220, 750, 1220))
    assert fp.shapes["D"] == ((430, 220, 490, 1220),)
    assert fp.shapes["G"] == ((200, 1220, 720, 1340),)
    assert fp.pin_box("S") == (170, 220, 750, 1220)  # union of its two stripes


def test_mos_size_follows_parameters():
    base = footprint(mos("M0", N, "d", "g", "s", w=4e-6, nf=2))
    more_fingers = footprint(mos("M0", N, "d", "g", "s", w=4e-6, nf=4))
    wider = footprint(mos("M0", N, "d", "g", "s", w=8e-6, nf=2))
    longer = footprint(mos("M0", N, "d", "g", "s", w=4e-6, length=1e-6, nf=2))
    assert more_fingers.width > base.width and more_fingers.height < base.height
    assert wider.height > base.height and wider.width == base.width
    assert longer.width > base.width
    assert len(more_fingers.shapes["S"]) + len(more_fingers.shapes["D"]) == 5
    stacked = footprint(mos("M0", N, "d", "g", "s", w=4e-6, nf=8, m=4))
    assert len(stacked.shapes["G"]) > 1  # m copies folded into rows
    assert len(stacked.shapes["S"]) + len(stacked.shapes["D"]) == len(stacked.shapes["G"]) * (
        32 // len(stacked.shapes["G"]) + 1
    )


def test_passive_footprints():
    cap = footprint(Device("C0", C, ("a", "b"), "cfmom", {"nr": 100, "lr": 10e-6}))
    small = footprint(Device("C0", C, ("a", "b"), "cfmom", {"nr": 50, "lr": 10e-6}))
    assert cap.width > small.width and cap.height == small.height
    assert cap.pin_box("PLUS")[3] < cap.pin_box("MINUS")[1]  # PLUS at the bottom, MINUS on top
    one = footprint(Device("R0", R, ("a", "b"), "rppoly", {"l": 10e-6, "w": 1e-6}))
    two = footprint(Device("R0", R, ("a", "b"), "rppoly", {"l": 10e-6, "w": 1e-6, "segments": 2}))
    assert one.pin_box("MINUS")[1] > one.pin_box("PLUS")[3]  # odd: far end at the top
    assert two.pin_box("MINUS")[1] == two.pin_box("PLUS")[1]  # even: both ends at the bottom
    assert two.width > one.width


def test_bad_parameter_is_a_user_error():
    with pytest.raises(MagicalPruneError, match="M0.*nf"):
        footprint(mos("M0", N, "d", "g", "s", nf=2.5))
    with pytest.raises(MagicalPruneError, match="must be positive"):
        footprint(mos("M0", N, "d", "g", "s", w=-1e-6))


@settings(max_examples=60, deadline=None)
@given(
    w=st.floats(0.2e-6, 80e-6),
    length=st.floats(40e-9, 4e-6),
    nf=st.integers(1, 24),
    m=st.integers(1, 6),
)
def test_mos_footprint_on_grid_and_inside(w, length, nf, m):
    fp = footprint(mos("M0", N, "d", "g", "s", w=w, length=length, nf=nf, m=m))
    assert fp.width % (2 * GRID) == 0 and fp.height % (2 * GRID) == 0
    assert len(fp.shapes["S"]) + len(fp.shapes["D"]) == nf * m + len(fp.shapes["G"])
    for shapes in fp.shapes.values():
        for xlo, ylo, xhi, yhi in shapes:
            assert all(v % GRID == 0 for v in (xlo, ylo, xhi, yhi))
            assert 0 <= xlo < xhi <= fp.width and 0 <= ylo < yhi <= fp.height


# -- placement ------------------------------------------------------------------------------
def test_problem_compiles_symmetry_and_nets(problem):
    names = problem.names
    assert [(names[a], names[b]) for a, b in problem.pairs][0] == ("M1", "M2")
    assert problem.mirrored == ("M2", "M4", "M7", "C2", "R2")
    assert "inp" not in problem.nets  # one routed pin: wirelength cannot see it
    assert set(problem.nets) >= {"x1", "x2", "tail", "outp", "outm", "cmfb", "VDD"}


def test_global_placement_is_symmetric(problem, weight_sets):
    centres = global_place(problem, weight_sets[:2], CONFIG)
    index = {n: i for i, n in enumerate(problem.names)}
    for b in range(2):
        x, y = centres[b, :, 0], centres[b, :, 1]
        axis = x[index["M5"]]
        for a, c in problem.pairs:
            assert y[a] == y[c]
            assert x[a] + x[c] == pytest.approx(2 * axis, abs=0.5)  # nm, float32 um
            assert x[a] < axis < x[c]


def _independent_legality(problem, layout, spacing):
    r = layout.rects
    boxes = shapely.box(r[:, 0], r[:, 1], r[:, 2], r[:, 3])
    grown = shapely.buffer(boxes, spacing / 2 - 0.5, join_style="mitre")
    for i, j in itertools.combinations(range(len(r)), 2):
        assert not shapely.intersects(grown[i], grown[j]), (problem.names[i], problem.names[j])
    b = layout.boundary
    assert (r[:, 0] >= b[0]).all() and (r[:, 1] >= b[1]).all()
    assert (r[:, 2] <= b[2]).all() and (r[:, 3] <= b[3]).all()
    assert b[2] - b[0] >= problem.target[0] and b[3] - b[1] >= problem.target[1]
    for a, c in problem.pairs:
        assert r[a, 1] == r[c, 1]
        assert r[a, 0] + r[c, 2] == 2 * layout.axis == r[a, 2] + r[c, 0]
    for s in problem.self_symmetric:
        assert r[s, 0] + r[s, 2] == 2 * layout.axis
    assert r.dtype == np.int64 and (r % GRID == 0).all()


def test_legal_placements(problem, layouts):
    for layout in layouts:
        assert check_legal(problem, layout, CONFIG.spacing) == []
        _independent_legality(problem, layout, CONFIG.spacing)


def test_check_legal_finds_violations(problem, layouts):
    rects = layouts[0].rects.copy()
    a, b = problem.pairs[0]
    rects[b] += np.array([GRID, 0, GRID, 0])  # break the mirror
    s = problem.self_symmetric[0]
    rects[s] = rects[a]  # overlap
    bad = LegalLayout(rects, layouts[0].boundary, layouts[0].axis)
    messages = " ".join(check_legal(problem, bad, CONFIG.spacing))
    assert "not mirrored" in messages and "closer than" in messages


def test_same_seed_same_bits_and_weights_matter(problem, weight_sets, layouts):
    again = place(problem, weight_sets, CONFIG)
    assert all(np.array_equal(a.rects, b.rects) for a, b in zip(layouts, again))
    distinct = {a.rects.tobytes() for a in layouts}
    assert len(distinct) >= len(layouts) - 1  # different weightings, different placements
    other_seed = place(problem, weight_sets[:1], dataclasses.replace(CONFIG, seed=9))
    assert not np.array_equal(other_seed[0].rects, layouts[0].rects)


def test_raised_weight_shortens_its_net(problem):
    k = problem.nets.index("tail")
    weights = np.ones((2, len(problem.nets)))
    weights[1, k] = 30.0
    low, high = place(problem, weights, CONFIG)
    hpwl = [problem.to_placement(lay).hpwl()["tail"] for lay in (low, high)]
    assert hpwl[1] < hpwl[0]


def test_relations_are_mirror_consistent(problem, weight_sets):
    centres = global_place(problem, weight_sets[:1], CONFIG)[0]
    left, below = relations(problem, centres)
    n = len(problem.names)
    assert not (left & left.T).any() and not (below & below.T).any()
    related = left | left.T | below | below.T
    assert related[~np.eye(n, dtype=bool)].all()
    mirror = {int(a): int(b) for a, b in problem.pairs} | {int(b): int(a) for a, b in problem.pairs}
    mirror |= {int(s): int(s) for s in problem.self_symmetric}
    for i, j in itertools.permutations(mirror, 2):
        assert left[i, j] == left[mirror[j], mirror[i]]
        assert below[i, j] == below[mirror[i], mirror[j]]


def test_placement_object(problem, layouts):
    placement = problem.to_placement(layouts[0], weights={"x1": 10.0})
    assert placement.names == problem.names
    assert placement.weights == {"x1": 10.0}
    i = problem.names.index("M2")  # mirrored: its pins are flipped about its centre
    fp = problem.footprints["M2"]
    d = next(k for k, (dev, pin) in enumerate(zip(placement.pin_device, placement.pin_names))
             if dev == i and pin == "D")  # fmt: skip
    local = fp.pin_box("D")
    x0 = layouts[0].rects[i, 0]
    assert placement.pin_boxes[d, 0] == x0 + fp.width - local[2]


def test_legalize_rejects_wrong_weights(problem):
    with pytest.raises(MagicalPruneError, match="weights must be"):
        global_place(problem, np.ones((1, 2)), CONFIG)


def test_symmetry_naming_unknown_device():
    circuit = dataclasses.replace(amplifier(), symmetry=Symmetry(pairs=(("M1", "MX"),)))
    with pytest.raises(MagicalPruneError, match="MX"):
        PlacementProblem.from_circuit(circuit)


def test_legalize_single_layout_matches_batch(problem, weight_sets, layouts):
    centres = global_place(problem, weight_sets, CONFIG)
    again = legalize(problem, centres[2], weight_sets[2], CONFIG)
    assert np.array_equal(again.rects, layouts[2].rects)


@settings(max_examples=25, deadline=None)
@given(data=st.data())
def test_legaliser_on_arbitrary_symmetric_starts(problem, data):
    """Any mirror-symmetric start, with overlaps and ties, legalises to a legal layout."""
    n = len(problem.names)
    coarse = st.integers(0, 12).map(lambda v: v * 1000.0)  # a coarse grid: many ties
    axis = data.draw(coarse)
    centres = np.zeros((n, 2))
    for a, b in problem.pairs:
        dx = data.draw(st.integers(1, 6)) * 1000.0
        y = data.draw(coarse)
        centres[a], centres[b] = (axis - dx, y), (axis + dx, y)
    for s in problem.self_symmetric:
        centres[s] = (axis, data.draw(coarse))
    for f in problem.free:
        centres[f] = (data.draw(coarse), data.draw(coarse))
    weights = np.array(
        data.draw(
            st.lists(
                st.sampled_from([1.0, 10.0]), min_size=len(problem.nets), max_size=len(problem.nets)
            )
        )
    )
    layout = legalize(problem, centres, weights, CONFIG)
    assert check_legal(problem, layout, CONFIG.spacing) == []
    _independent_legality(problem, layout, CONFIG.spacing)


def test_free_device_tied_with_right_hand_pair_members_legalises(problem):
    """A free device at the same x as the right-hand members of every pair (whose order is
    the mirror of the left-hand one's) once made a cycle of left-of relations: infeasible."""
    n = len(problem.names)
    centres = np.zeros((n, 2))
    for a, b in problem.pairs:
        centres[a], centres[b] = (-1000.0, 0.0), (1000.0, 0.0)
    centres[problem.free] = (1000.0, 0.0)  # the self-symmetric ones stay on the axis at 0
    left, _ = relations(problem, centres)
    reach = left.astype(int)
    for _ in range(n):
        reach = ((reach + reach @ reach) > 0).astype(int)
    assert not np.diag(reach).any()  # no device is (transitively) left of itself
    layout = legalize(problem, centres, np.ones(len(problem.nets)), CONFIG)
    assert check_legal(problem, layout, CONFIG.spacing) == []


# -- net-weight enumeration -----------------------------------------------------------------
def test_critical_nets_skip_supplies_and_one_pin_nets(problem):
    critical = netweights.critical_nets(problem.circuit)
    assert "VDD" not in critical and "VSS" not in critical and "inp" not in critical
    assert critical == tuple(n for n in problem.nets if n not in ("VDD", "VSS"))
    assert netweights.critical_nets(problem.circuit, given=["inp", "x1"]) == ("inp", "x1")
    with pytest.raises(MagicalPruneError, match="nope"):
        netweights.critical_nets(problem.circuit, given=["nope"])


@pytest.mark.parametrize("bits", [0, 1, 3, 6])
def test_full_enumeration_is_every_subset_once(bits):
    total = netweights.count_for(None, bits)
    masks = netweights.subsets(range(total), bits, seed=5)
    assert total == 2**bits
    assert sorted(masks.tolist()) == list(range(2**bits))


def test_partial_runs_are_prefixes_and_seeded():
    full = netweights.subsets(range(64), 6, seed=1)
    assert np.array_equal(netweights.subsets(range(10), 6, seed=1), full[:10])
    assert np.array_equal(netweights.subsets([7, 3], 6, seed=1), full[[7, 3]])
    assert not np.array_equal(netweights.subsets(range(10), 6, seed=2), full[:10])
    with pytest.raises(MagicalPruneError, match="only 64"):
        netweights.count_for(65, 6)
    with pytest.raises(MagicalPruneError, match="out of range"):
        netweights.subsets([64], 6, seed=1)


@pytest.mark.parametrize("bits", [5, 6])
def test_large_space_bijection(bits):
    values = [netweights._feistel(i, bits, seed=11) for i in range(2**bits)]
    assert sorted(values) == list(range(2**bits))
    assert values != list(range(2**bits))


def test_large_space_through_subsets():
    masks = netweights.subsets(range(2000), 24, seed=4)
    assert len(set(masks.tolist())) == 2000 and masks.max() < 2**24


def test_weights_for_and_back():
    critical = ("a", "b", "c")
    table = netweights.weights_for(0b101, critical, ["VDD", "a", "b", "c"], high=10)
    assert table == {"VDD": 1.0, "a": 10.0, "b": 1.0, "c": 10.0}
    assert netweights.mask_of(table, critical) == 0b101
    assert netweights.subset_nets(0b101, critical) == ("a", "c")
