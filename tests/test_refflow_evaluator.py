"""The ngspice evaluator: wire trees, device shifts, and the physics checks of the reference
flow on hand-built placements (no placer involved).

Every placement here is built in memory: each device is a fixed-size rectangle, symmetric
pairs are mirrored about x = 0 and every other device sits centred on the axis, so the base
layouts are exactly symmetric. The physics checks run with mismatch off and change one
thing at a time.
"""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from magical_prune.circuit import Circuit, DeviceType
from magical_prune.errors import SimulationError, UnknownNameError
from magical_prune.placement import Placement
from magical_prune.refflow.designs import load_design
from magical_prune.refflow.evaluator import (
    NO_GRADIENTS,
    Evaluator,
    LayoutEffects,
    evaluate,
    evaluate_layouts,
    layout_id,
)
from magical_prune.refflow.lde import GradientModel, device_shifts, layout_seed
from magical_prune.refflow.parasitics import MIN_PIECE_UM, net_trees, single_trunk_tree

pytestmark = pytest.mark.skipif(shutil.which("ngspice") is None, reason="ngspice not installed")

SIZE_UM = {DeviceType.NMOS: (8.0, 4.0), DeviceType.PMOS: (8.0, 4.0),
           DeviceType.CAP: (10.0, 10.0), DeviceType.RES: (4.0, 10.0)}  # fmt: skip
ROW_UM = 12.0  # row pitch
GAP_UM = 2.0  # half gap between the two devices of a pair


def local_pins(circuit: Circuit) -> dict[tuple[str, str], tuple[int, int, int, int]]:
    """Device-local pin boxes (nm) of a two-finger device: S the outer stripes (their union
    spans the device), D the middle stripe, G the top strap; passives PLUS bottom bar, MINUS
    top bar. Every pin is centred, so a device on the axis is symmetric in itself."""
    pins = {}
    for d in circuit.devices.values():
        w, h = (int(v * 1000) for v in SIZE_UM[d.type])
        if d.type.is_mos:
            pins[(d.name, "S")] = (500, 500, w - 500, h - 1000)
            pins[(d.name, "D")] = (w // 2 - 500, 500, w // 2 + 500, h - 1000)
            pins[(d.name, "G")] = (1000, h - 800, w - 1000, h - 300)
        else:
            pins[(d.name, "PLUS")] = (500, 300, w - 500, 800)
            pins[(d.name, "MINUS")] = (500, h - 800, w - 500, h - 300)
    return pins


def base_centres(circuit: Circuit) -> dict[str, tuple[float, float]]:
    """Centres (µm) of an exactly symmetric layout: one pair per row, the rest on the axis."""
    centres: dict[str, tuple[float, float]] = {}
    row = 0
    for a, b in circuit.symmetry.pairs:
        w = SIZE_UM[circuit.devices[a].type][0]
        centres[a] = (-(GAP_UM + w / 2), row * ROW_UM)
        centres[b] = (GAP_UM + w / 2, row * ROW_UM)
        row += 1
    for name in circuit.devices:
        if name not in centres:
            centres[name] = (0.0, row * ROW_UM)
            row += 1
    return centres


def build(circuit: Circuit, centres: dict[str, tuple[float, float]]) -> Placement:
    names = list(circuit.devices)
    rects = []
    for n in names:
        w, h = SIZE_UM[circuit.devices[n].type]
        x, y = centres[n]
        rects.append([x - w / 2, y - h / 2, x + w / 2, y + h / 2])
    nm = np.rint(np.asarray(rects) * 1000).astype(np.int64)
    right = [b for _, b in circuit.symmetry.pairs]
    return Placement.build(circuit, names, nm, local_pins(circuit), mirrored=right)


def moved(centres: dict[str, tuple[float, float]], **delta: tuple[float, float]):
    out = dict(centres)
    for name, (dx, dy) in delta.items():
        x, y = out[name]
        out[name] = (x + dx, y + dy)
    return out


THERMAL_ONLY = GradientModel(vth_gradient_mv_per_mm=(0.0, 0.0))
PROCESS_ONLY = GradientModel(vth_tempco_mv_per_k=0.0, mobility_temp_exponent=0.0)


@pytest.fixture(scope="module")
def ota1():
    design = load_design("ota1")
    evaluator = Evaluator.for_design(design)
    evaluator.nominal()
    return design, evaluator


@pytest.fixture(scope="module")
def ota4():
    design = load_design("ota4")
    evaluator = Evaluator.for_design(design)
    evaluator.nominal()
    return design, evaluator


def run(evaluator: Evaluator, placements, effects: LayoutEffects, mismatch: float = 0.0):
    ev = Evaluator(evaluator.circuit, evaluator.bench, effects=effects)
    ev._nominal = evaluator.nominal()  # reuse the design's operating point
    results = ev.evaluate(placements, mismatch)
    assert all(r is not None for r in results), ev.failures
    return results


# -- wire trees -----------------------------------------------------------------------------
def test_single_trunk_tree_hand_example() -> None:
    # three pins: trunk at the median y = 0 from x = 0 to x = 4, one branch of length 3
    xy, node, edges, lengths = single_trunk_tree(np.array([[0, 0], [4, 0], [2, 3]]))
    assert sorted(lengths.tolist()) == [2.0, 2.0, 3.0]
    assert len(edges) == len(xy) - 1
    assert node[0] != node[1] != node[2]


def test_single_trunk_tree_coincident_points_share_a_node() -> None:
    xy, node, edges, lengths = single_trunk_tree(np.array([[1, 1], [1, 1]]))
    assert len(xy) == 1 and node.tolist() == [0, 0] and len(edges) == 0


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(-50, 50), st.integers(-50, 50)), min_size=1, max_size=8))
def test_tree_is_a_spanning_tree_no_shorter_than_hpwl(points) -> None:
    pts = np.asarray(points, dtype=float)
    xy, node, edges, lengths = single_trunk_tree(pts)
    assert len(edges) == len(xy) - 1 and np.all(lengths > 0)
    np.testing.assert_array_equal(xy[node], pts)  # each point sits on its node
    hpwl = np.ptp(pts[:, 0]) + np.ptp(pts[:, 1])
    assert lengths.sum() >= hpwl - 1e-9
    # connected: union-find over the edges
    parent = list(range(len(xy)))

    def find(i: int) -> int:
        while parent[i] != i:
            i = parent[i]
        return i

    for a, b in edges:
        parent[find(a)] = find(b)
    assert len({find(i) for i in range(len(xy))}) == 1


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.integers(1, 40), st.integers(-30, 30)), min_size=1, max_size=5))
def test_mirrored_pins_give_mirrored_trees(half) -> None:
    pts = np.asarray(half + [(-x, y) for x, y in half], dtype=float)
    _, _, _, lengths = single_trunk_tree(pts)
    _, _, _, mirrored = single_trunk_tree(pts * [-1, 1])
    assert sorted(lengths.tolist()) == pytest.approx(sorted(mirrored.tolist()))


def test_points_that_differ_only_by_float_rounding_are_one_node() -> None:
    # A pin centre on the axis (from integer nm) and the supply entry at the middle of the
    # bounding box (from µm) are the same place, but their floats differ: the tree used to
    # join them with a 4e-15 µm piece (a 1e-15 Ω resistor that broke ngspice's solve).
    on_axis = (15070 + 661570) / 2000
    entry = (15.07 + 661.57) / 2
    assert on_axis != entry
    pts = np.array([[on_axis, 0.0], [entry, 0.0], [on_axis - 5.0, 3.0], [on_axis + 5.0, 0.0]])
    _, node, _, lengths = single_trunk_tree(pts)
    assert node[0] == node[1]
    assert sorted(lengths.tolist()) == pytest.approx([3.0, 5.0, 5.0])


def test_pieces_shorter_than_the_minimum_are_contracted() -> None:
    pts = np.array([[0.0, 0.0], [0.004, 0.0], [5.0, 0.0], [5.0, 0.006]])
    xy, node, edges, lengths = single_trunk_tree(pts)
    assert node[0] == node[1] and node[2] == node[3]
    assert lengths.tolist() == pytest.approx([4.996]) and len(xy) == 2
    assert len(edges) == len(xy) - 1


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.integers(1, 12), st.integers(-6, 6)), min_size=1, max_size=6))
def test_mirrored_trees_after_contraction(half) -> None:
    # points 4 nm apart: many pieces fall below the minimum and are contracted
    pts = np.asarray(half + [(-x, y) for x, y in half], dtype=float) * 0.004
    xy, _, edges, lengths = single_trunk_tree(pts)
    _, _, _, mirrored = single_trunk_tree(pts * [-1, 1])
    assert np.all(lengths >= MIN_PIECE_UM) and len(edges) == len(xy) - 1
    assert sorted(lengths.tolist()) == pytest.approx(sorted(mirrored.tolist()))


def test_supply_tree_enters_at_the_top_edge(ota1) -> None:
    design, _ = ota1
    placement = build(design.circuit, base_centres(design.circuit))
    trees = net_trees(placement, {"VDD": "top", "VSS": "bottom"})
    top = placement.bbox[3] / 1000
    assert trees["VDD"].xy[trees["VDD"].root].tolist() == [0.0, top]
    assert trees["VDD"].supply and not trees["tail"].supply


# -- device shifts --------------------------------------------------------------------------
def test_gradient_thermal_and_mismatch_by_hand(ota1) -> None:
    design, _ = ota1
    c = design.circuit
    centres = base_centres(c)
    placement = build(c, centres)
    i1, i2 = placement.names.index("M1"), placement.names.index("M2")
    model = GradientModel()
    # process: 4 mV/mm over the 12 µm between the pair's centres = 0.048 mV
    s = device_shifts(placement, {}, model, mismatch=0.0, seed=1)
    assert s.process_v[i2] - s.process_v[i1] == pytest.approx(4e-3 * 12e-3)
    assert not s.thermal_v.any() and not s.mismatch_v.any()
    # thermal: 1 mW in M13; rise at M1 = P / (2 pi k r_eff), r_eff = sqrt(d^2 + a^2)
    s = device_shifts(placement, {"M13": 1e-3}, model, mismatch=0.0, seed=1)
    d = math.dist(centres["M1"], centres["M13"])
    a = math.sqrt(8 * 4 / math.pi)
    rise = 1e-3 / (2 * math.pi * 148.0 * math.sqrt(d * d + a * a) * 1e-6)
    assert s.temperature_rise[i1] == pytest.approx(rise)
    assert s.thermal_v[i1] == pytest.approx(-1.5e-3 * rise)
    assert s.mobility_factor[i1] == pytest.approx(((300.15 + rise) / 300.15) ** -1.5)
    # mismatch: sigma = A_VT / sqrt(2 W L) per device, reproducible per seed
    sigma = 3.0e-3 / math.sqrt(2 * 32 * 0.5)
    draws = [device_shifts(placement, {}, model, 1.0, seed).mismatch_v[i1] for seed in range(400)]
    assert np.std(draws) == pytest.approx(sigma, rel=0.15)
    again = device_shifts(placement, {}, model, 1.0, 7).mismatch_v
    np.testing.assert_array_equal(again, device_shifts(placement, {}, model, 1.0, 7).mismatch_v)
    assert layout_seed("ota1", "ota1_3") != layout_seed("ota1", "ota1_4")


def test_shifts_do_not_depend_on_where_the_layout_sits(ota1) -> None:
    design, _ = ota1
    placement = build(design.circuit, base_centres(design.circuit))
    a = device_shifts(placement, {"M13": 1e-3}, GradientModel(), 1.0, 5)
    b = device_shifts(
        placement.translated(123_000, -45_000), {"M13": 1e-3}, GradientModel(), 1.0, 5
    )
    np.testing.assert_allclose(a.vth_shift, b.vth_shift, atol=1e-15)


# -- physics checks (mismatch off) ------------------------------------------------------------
def test_symmetric_layout_without_gradients_has_no_offset(ota1) -> None:
    design, ev = ota1
    placement = build(design.circuit, base_centres(design.circuit))
    (result,) = run(ev, [placement], LayoutEffects(gradients=NO_GRADIENTS))
    assert abs(result["Offset_Voltage"]) < 0.1e-3
    assert result["Gain"] > 80 and 1e7 < result["UGF"] < 1e10


def test_spreading_the_input_pair_along_the_gradient_raises_offset(ota1) -> None:
    design, ev = ota1
    centres = base_centres(design.circuit)
    spread = moved(centres, M1=(-30.0, 0.0), M2=(30.0, 0.0))
    close, far = run(
        ev, [build(design.circuit, centres), build(design.circuit, spread)],
        LayoutEffects(gradients=PROCESS_ONLY, wire_parasitics=False),
    )  # fmt: skip
    assert abs(far["Offset_Voltage"]) > abs(close["Offset_Voltage"]) + 0.1e-3


def test_input_pair_next_to_the_hot_output_stage_raises_offset(ota1) -> None:
    design, ev = ota1
    c = design.circuit
    centres = base_centres(c)
    # both input devices move (keeping their spacing) beside the left output devices
    # M13 and M15, so the left one sits much closer to the heat than the right one
    x13, y13 = centres["M13"]
    x15, y15 = centres["M15"]
    ymid = (y13 + y15) / 2
    hot = dict(centres)
    hot["M1"] = (x13 - 10.0, ymid)
    hot["M2"] = (x13 - 30.0, ymid)  # same row, 20 µm further from the heat
    far = dict(centres)
    far["M1"] = (-200.0, -200.0)
    far["M2"] = (-220.0, -200.0)
    cool, heated = run(
        ev, [build(c, far), build(c, hot)],
        LayoutEffects(gradients=THERMAL_ONLY, wire_parasitics=False),
    )  # fmt: skip
    assert abs(heated["Offset_Voltage"]) > 2 * abs(cool["Offset_Voltage"])
    assert abs(heated["Offset_Voltage"]) > 1e-6


def test_longer_source_wire_on_one_side_raises_offset(ota1) -> None:
    design, ev = ota1
    centres = base_centres(design.circuit)
    longer = moved(centres, M1=(-25.0, 0.0))
    even, uneven = run(
        ev, [build(design.circuit, centres), build(design.circuit, longer)],
        LayoutEffects(gradients=NO_GRADIENTS),
    )  # fmt: skip
    assert abs(uneven["Offset_Voltage"]) > abs(even["Offset_Voltage"]) + 0.1e-3


def test_more_tail_capacitance_lowers_cmrr(ota4) -> None:
    design, ev = ota4
    c = design.circuit
    centres = base_centres(c)
    # the tail cascode M19 (drain = tail node) moves down the axis, below everything:
    # a longer tail wire
    far = dict(centres)
    far["M19"] = (0.0, -300.0)
    near_p, far_p = build(c, centres), build(c, far)
    assert net_trees(far_p)["tail"].length > net_trees(near_p)["tail"].length + 100
    near_r, far_r = run(ev, [near_p, far_p], LayoutEffects(gradients=PROCESS_ONLY))
    assert far_r["CMRR"] < near_r["CMRR"] - 1.0


# -- determinism, mismatch, failures --------------------------------------------------------
def test_results_do_not_depend_on_batching(ota1) -> None:
    design, ev = ota1
    centres = base_centres(design.circuit)
    a = build(design.circuit, centres)
    b = build(design.circuit, moved(centres, M1=(-5.0, 0.0), M2=(5.0, 0.0)))
    together = ev.evaluate([a, b], 1.0)
    alone = ev.evaluate([b], 1.0)
    assert together[1] == alone[0]
    assert together[0] != together[1]


def test_mismatch_seed_follows_the_layout_id(ota1) -> None:
    design, ev = ota1
    placement = build(design.circuit, base_centres(design.circuit))
    r = ev.evaluate([placement] * 3, 1.0, layout_ids=["ota1_0", "ota1_0", "ota1_1"])
    assert r[0] == r[1] and r[0] != r[2]
    assert layout_id(placement).startswith("geometry-")


def test_failed_layout_gets_no_label_and_the_batch_goes_on(ota1) -> None:
    design, ev = ota1
    placement = build(design.circuit, base_centres(design.circuit))

    class Broken(Evaluator):
        def layout_netlist(self, placement, mismatch, seed, title="* mp_layout 0"):
            text = super().layout_netlist(placement, mismatch, seed, title)
            if seed == layout_seed("ota1", "bad"):  # a device ngspice cannot simulate
                text = text.replace(".end\n", "mbad cmi cmi 0 0 no_such_model\n.end\n")
            return text

    broken = Broken(ev.circuit, ev.bench)
    broken._nominal = ev.nominal()
    results = broken.evaluate([placement] * 3, 0.0, layout_ids=["ok0", "bad", "ok2"])
    assert results[1] is None and results[0] is not None and results[2] is not None
    assert set(broken.failures) == {1} and broken.failures[1].startswith("ngspice:")


def test_layout_without_an_operating_point_fails_fast(ota1) -> None:
    """A circuit with no DC solution fails after gmin and source stepping; ngspice's
    transient fallback (minutes per layout, and no true DC point) stays off."""
    design, ev = ota1
    placement = build(design.circuit, base_centres(design.circuit))

    class Unsolvable(Evaluator):
        def layout_netlist(self, placement, mismatch, seed, title="* mp_layout 0"):
            text = super().layout_netlist(placement, mismatch, seed, title)
            # v/1k + 1 mA (1 + v^2) = 0 has no real root
            extra = "bx xb 0 i=1e-3*(1+v(xb)*v(xb))\nrx xb 0 1k\ncx xb 0 1p\n"
            return text.replace(".end\n", extra + ".end\n")

    broken = Unsolvable(ev.circuit, ev.bench, timeout=60.0)
    broken._nominal = ev.nominal()
    (result,) = broken.evaluate([placement], 0.0, layout_ids=["bad"])
    assert result is None
    assert "operating point failed" in broken.failures[0], broken.failures[0]


def test_a_run_past_its_cpu_limit_is_stopped(tmp_path: Path) -> None:
    from magical_prune.refflow.spice import run_ngspice

    # a 1 s transient at 1 ps steps: hours of work
    (tmp_path / "run.cir").write_text(
        "* endless\nv1 a 0 sin(0 1 1meg)\nr1 a b 1k\nc1 b 0 1n\n"
        ".control\ntran 1p 1 0 1p\nquit\n.endc\n.end\n"
    )
    run = run_ngspice(tmp_path / "run.cir", tmp_path, 1.0)
    assert run.timed_out and "CPU time" in run.log


def test_missing_ngspice_says_how_to_install(ota1, monkeypatch) -> None:
    design, _ = ota1
    monkeypatch.setenv("MAGICAL_PRUNE_NGSPICE", "ngspice-not-installed-here")
    ev = Evaluator.for_design(design)
    with pytest.raises(SimulationError, match="apt-get install -y ngspice"):
        ev.nominal()


def test_unknown_design_suggests_a_name() -> None:
    with pytest.raises(UnknownNameError, match="did you mean"):
        evaluate([], "ota9")


def test_layout_folders_get_byte_identical_performance(ota1, tmp_path: Path) -> None:
    from magical_prune.adapters import magical

    design, _ = ota1
    c = design.circuit
    placement = build(c, base_centres(c))
    out = tmp_path / "ota1"
    out.mkdir()
    for f in design.files.values():
        shutil.copy(f, out / f.name)
    folder = out / "ota1_0"
    folder.mkdir()
    magical.write_place_result(folder / "place.result", placement.names, placement.rects)
    pins = {k: [v] for k, v in local_pins(c).items()}
    magical.write_place_pin(folder / "place.pin", pins)
    magical.write_connection(folder / "place.connection", {n.name: n.pins for n in c.nets.values()})
    (first,) = evaluate_layouts([folder], mismatch=1.0)
    text = (folder / "performance.txt").read_text()
    (second,) = evaluate_layouts([folder], mismatch=1.0)
    assert (folder / "performance.txt").read_text() == text
    assert first.metrics == second.metrics and first.error is None
    assert magical.read_performance(folder / "performance.txt") == first.metrics
    # the folder's name seeds the draw: in memory with that id gives the same numbers
    assert layout_id(magical.load_placement(folder)) == "ota1_0"
    assert evaluate([placement], design, 1.0, layout_ids=["ota1_0"])[0] == first.metrics


def test_evaluate_command(ota1, tmp_path: Path) -> None:
    from click.testing import CliRunner

    from magical_prune.adapters import magical
    from magical_prune.cli import main

    design, _ = ota1
    c = design.circuit
    out = tmp_path / "ota1"
    out.mkdir()
    for f in design.files.values():
        shutil.copy(f, out / f.name)
    centres = base_centres(c)
    for k, layout in enumerate([centres, moved(centres, M1=(-20.0, 0.0))]):
        placement = build(c, layout)
        folder = out / f"ota1_{k}"
        folder.mkdir()
        magical.write_place_result(folder / "place.result", placement.names, placement.rects)
        magical.write_place_pin(folder / "place.pin", {p: [b] for p, b in local_pins(c).items()})
        magical.write_connection(
            folder / "place.connection", {n.name: n.pins for n in c.nets.values()}
        )
    (out / "ota1_1" / "performance.txt").write_text("Offset_Voltage=1\n")  # a label: kept
    runner = CliRunner()
    args = ["refflow", "evaluate", str(out), "--json", "--mismatch", "0"]
    refused = runner.invoke(main, args)
    assert refused.exit_code == 2 and "use --force" in refused.output
    assert "ota1_1" in refused.output and not (out / "ota1_0" / "performance.txt").exists()
    assert (out / "ota1_1" / "performance.txt").read_text() == "Offset_Voltage=1\n"
    result = runner.invoke(main, [*args, "--force"])  # stale: replaced
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in result.output.splitlines()]
    assert [Path(d["layout"]).name for d in lines] == ["ota1_0", "ota1_1"]
    assert all(d["error"] is None for d in lines)
    stored = magical.read_performance(out / "ota1_1" / "performance.txt")
    assert stored == lines[1]["metrics"] and stored["Offset_Voltage"] != 1
    before = (out / "ota1_0" / "performance.txt").stat().st_mtime_ns
    text = runner.invoke(main, ["refflow", "evaluate", str(out / "ota1_0"), "-q", "--no-write"])
    assert text.exit_code == 0 and "Offset_Voltage=" in text.output
    assert (out / "ota1_0" / "performance.txt").stat().st_mtime_ns == before
    missing = runner.invoke(main, ["refflow", "evaluate", str(tmp_path / "nope")])
    assert missing.exit_code == 2
