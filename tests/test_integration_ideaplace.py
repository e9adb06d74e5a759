"""RecordingPlacer: a pass-through IdeaPlaceEx proxy that records the problem it is fed."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from magical_run import DESIGNS, NETLISTS, design, run_flow, standin

from magical_prune.adapters.magical import load_placement
from magical_prune.errors import MagicalPruneError
from magical_prune.features import extract
from magical_prune.integrations.ideaplace import NO_PIN, RecordingPlacer
from magical_prune.integrations.magical import record_placers
from magical_prune.subcircuits import subcircuits_of

OTA5T_SYM = "M1 M2\nM3 M4\nM5\n"


def _run(tmp: Path, netlist: Path, sym: str | None = None, pin_names: str = "terminal"):
    """Run the stand-in MAGICAL flow with every placer recorded."""
    with standin() as mods:
        mods.Placer.PIN_NAMES = pin_names
        config = design(tmp, netlist, sym)
        with record_placers(mods.IdeaPlaceExPy) as made:
            run = run_flow(mods, config)
        placers = list(mods.IdeaPlaceExPy.INSTANCES)
    assert len(made) == 1 and len(placers) == 1
    return made[0], placers[0], run


@pytest.fixture(scope="module")
def ota3(tmp_path_factory):
    return _run(tmp_path_factory.mktemp("ota3"), DESIGNS / "ota3" / "ota3.sp")


@pytest.fixture(scope="module")
def ota5t(tmp_path_factory):
    return _run(tmp_path_factory.mktemp("ota5t"), NETLISTS / "ota5t.sp", OTA5T_SYM)


def _drawn(run) -> dict[tuple[str, str], tuple[int, int, int, int]]:
    """Pin boxes where the stand-in driver put them: generated (flipped) shapes + offsets."""
    ckt = run.db.ckts[0]
    offsets = run.flow.pnrs[-1].p.offsets
    out = {}
    for node in ckt.nodes:
        x, y = offsets[node.name]
        for t in node.terminals:
            if t.shapes:
                s = np.array(t.shapes)
                out[(node.name, t.name)] = (s[:, 0].min() + x, s[:, 1].min() + y,
                                            s[:, 2].max() + x, s[:, 3].max() + y)  # fmt: skip
    return out


@pytest.mark.parametrize("case", ["ota5t", "ota3"])
def test_written_folder_loads_back_with_the_same_features(case, request, tmp_path):
    recorder, _, run = request.getfixturevalue(case)
    netlist = Path(run.params.spectre_netlist)
    placement = recorder.placement(netlist=netlist)
    written = recorder.write_layout(tmp_path / "layout", netlist=netlist)
    back = load_placement(tmp_path / "layout")
    assert back.names == placement.names
    assert np.array_equal(back.rects, placement.rects)
    assert np.array_equal(back.pin_boxes, placement.pin_boxes)
    assert subcircuits_of(back.circuit) == subcircuits_of(placement.circuit)
    assert np.array_equal(extract(back, 32), extract(placement, 32))
    assert np.array_equal(extract(written, 32), extract(placement, 32))
    assert back.weights == placement.weights


@pytest.mark.parametrize("case", ["ota5t", "ota3"])
def test_geometry_is_what_the_driver_drew(case, request):
    recorder, _, run = request.getfixturevalue(case)
    placement = recorder.placement(netlist=run.params.spectre_netlist)
    ckt = run.db.ckts[0]
    offsets = run.flow.pnrs[-1].p.offsets
    for name, rect in zip(placement.names, placement.rects.tolist()):
        node = next(n for n in ckt.nodes if n.name == name)
        x, y = offsets[name]
        b = node.boundary
        assert rect == [b[0] + x, b[1] + y, b[2] + x, b[3] + y]
    drawn = _drawn(run)
    got = {(placement.names[d], p): tuple(box)
           for d, p, box in zip(placement.pin_device, placement.pin_names,
                                placement.pin_boxes.tolist())}  # fmt: skip
    assert got == drawn
    flipped = {n.name for n in ckt.nodes if n.flipped}
    assert flipped == {b for a, b in placement.circuit.symmetry.pairs}  # mirrored pins checked


@pytest.mark.parametrize("case", ["ota5t", "ota3"])
def test_recorded_problem_is_what_was_fed(case, request):
    recorder, placer, _ = request.getfixturevalue(case)
    problem = recorder.problem
    assert [problem.cells[i] for i in sorted(problem.cells)] == placer.cell_names
    assert [problem.cell_shapes[i] for i in sorted(problem.cells)] == placer.cell_shapes
    pins = [problem.pins[i] for i in sorted(problem.pins)]
    assert [p.cell for p in pins] == placer.pin_cell
    assert [p.name for p in pins] == placer.pin_names
    assert [p.shapes for p in pins] == placer.pin_shapes
    nets = [problem.nets[i] for i in sorted(problem.nets)]
    assert [n.name for n in nets] == placer.net_names
    assert [n.pins for n in nets] == placer.net_pins
    assert [1.0 if n.weight is None else n.weight for n in nets] == placer.net_weights
    assert set(problem.vdd_nets) == placer.vdd and set(problem.vss_nets) == placer.vss
    assert set(problem.io_nets) == placer.io
    assert list(problem.file_symmetry.pairs) == placer.sym_pairs
    assert list(problem.file_symmetry.self_symmetric) == placer.sym_selfs
    assert problem.solved and problem.grid_step == 100
    assert set(problem.files) == {"tech", "sym", "symnet"}
    # every recorded pin knows its terminal: the driver looked each one up by pinIdx
    assert all(p.terminal is not None for p in pins)


def test_pin_names_may_be_circuit_nets(ota3, tmp_path):
    """Whether setPinName gets the device's terminal or the circuit net, the netlist
    resolves each pin to the same terminal."""
    recorder, _, run = ota3
    other, _, _ = _run(tmp_path, DESIGNS / "ota3" / "ota3.sp", pin_names="net")
    a = recorder.placement(netlist=run.params.spectre_netlist)
    b = other.placement(netlist=run.params.spectre_netlist)
    assert a.pin_names == b.pin_names
    assert np.array_equal(a.pin_boxes, b.pin_boxes)


def test_types_from_hints_and_a_clear_error_otherwise(ota5t):
    recorder, _, run = ota5t
    with pytest.raises(MagicalPruneError) as err:
        recorder.placement()  # M1, M2 touch no supply through a pin (their bulk is unshaped)
    assert "M1, M2" in str(err.value) and "types=" in str(err.value)
    placement = recorder.placement(types={"M1": "NMOS", "M2": "nmos"})
    with_netlist = recorder.placement(netlist=run.params.spectre_netlist)
    assert placement.device_types() == with_netlist.device_types()
    assert placement.pin_names == with_netlist.pin_names


class _Fake:
    """A placer whose every method returns a fresh object, to check pass-through."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, tuple]] = []
        self.counter = {"cell": 0, "pin": 0, "net": 0}

    def __getattr__(self, name: str):
        def method(*args):
            self.seen.append((name, args))
            if name.startswith("allocate"):
                kind = {"allocateCell": "cell", "allocatePin": "pin"}.get(name, "net")
                self.counter[kind] += 1
                return self.counter[kind] - 1
            if name == "pinIdx":
                return NO_PIN
            if name == "boom":
                raise RuntimeError("placer error")
            return ("result of", name, args)

        return method


def test_calls_pass_through_unchanged():
    fake = _Fake()
    recorder = RecordingPlacer(fake)
    calls = [
        ("readTechSimpleFile", ("tech",)), ("setCellName", (0, "M0")), ("setCellFlip", (0,)),
        ("addCellShape", (0, 0, 0, 0, 10, 10)), ("setPinName", (0, "D")),
        ("addPinShape", (0, 1, 2, 3, 4)), ("setNetName", (0, "n")), ("setNetWgt", (0, 3)),
        ("addPinToNet", (0, 0)), ("markIoNet", (0,)), ("markAsVddNet", (0,)),
        ("markAsVssNet", (0,)), ("addSymPair", (0, 0, 1)), ("addSelfSym", (0, 2)),
        ("addSymNetPair", (0, 1)), ("markSelfSym", (0,)), ("readSigpathFile", ("p",)),
        ("solve", (100,)), ("xCellLoc", (0,)), ("iopinX", (3,)), ("openVirtualPinAssignment", ()),
    ]  # fmt: skip
    for name, args in calls:
        assert getattr(recorder, name)(*args) == ("result of", name, args)
    assert recorder.allocateCell() == 0 and recorder.allocatePin(0) == 0
    assert recorder.pinIdx(0, 3) == NO_PIN
    assert [c for c in fake.seen if not c[0].startswith(("allocate", "pinIdx"))] == calls
    with pytest.raises(RuntimeError):
        recorder.boom()
    assert recorder.placer is fake


class _Loose(_Fake):
    """A placer that accepts anything and puts cell ``i`` at x = 2000 i."""

    def xCellLoc(self, cell: int) -> int:
        return 2000 * cell + 500

    def yCellLoc(self, cell: int) -> int:
        return 300


def _tiny_recorder(flip: bool = False, outline: bool = True, net_of_pin: int = 0):
    """A two-resistor problem fed by hand."""
    r = RecordingPlacer(_Loose())
    for name in ("R1", "R2"):
        cell = r.allocateCell()
        r.setCellName(cell, name)
        if outline or name == "R1":
            r.addCellShape(cell, 0, 0, 0, 1000, 2000)
        for term, box in (("PLUS", (100, 0, 300, 200)), ("MINUS", (100, 1800, 300, 2000))):
            pin = r.allocatePin(cell)
            r.setPinName(pin, term)
            r.addPinShape(pin, *box)
    if flip:
        r.setCellFlip(1)
    for name, pins in (("a", (0, 2)), ("b", (1, 3))):
        net = r.allocateNet()
        r.setNetName(net, name)
        for pin in pins:
            r.addPinToNet(pin, net if pin != 3 else net + net_of_pin)
    return r


def test_set_cell_flip_mirrors_the_cells_pins():
    plain = _tiny_recorder()
    plain.solve(100)
    flipped = _tiny_recorder(flip=True)
    flipped.solve(100)
    a, b = plain.placement(), flipped.placement()
    assert np.array_equal(a.rects, b.rects)
    k = b.pin_names.index("PLUS", 2)  # R2's PLUS
    xlo = b.rects[1, 0]
    assert b.pin_boxes[k].tolist() == [xlo + 700, a.pin_boxes[k][1], xlo + 900, a.pin_boxes[k][3]]
    assert a.pin_boxes[k].tolist()[0] == xlo + 100


def test_bad_recordings_are_the_packages_error():
    r = _tiny_recorder()
    with pytest.raises(MagicalPruneError, match="never solved"):
        r.placement()
    no_outline = _tiny_recorder(outline=False)
    no_outline.solve(100)
    with pytest.raises(MagicalPruneError, match="'R2' has no outline"):
        no_outline.placement()
    stray = _tiny_recorder(net_of_pin=5)
    stray.solve(100)
    with pytest.raises(MagicalPruneError, match="pin 'MINUS' of cell 'R2' is on net 6"):
        stray.placement()


def test_write_layout_refuses_an_unsolved_placer(tmp_path):
    with pytest.raises(MagicalPruneError, match="never solved"):
        _tiny_recorder().write_layout(tmp_path / "x")
    assert not (tmp_path / "x").exists()
