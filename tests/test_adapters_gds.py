"""MAGICAL's debug floorplan GDS: outlines on layer 0, names on layer 100, 1 nm units."""

from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner
from magical_run import DESIGNS, design, run_flow, standin

from magical_prune.cli import main
from magical_prune.errors import MagicalPruneError, ParseError
from magical_prune.integrations.floorplan import floorplan_mismatches
from magical_prune.integrations.magical import record_placers

gdstk = pytest.importorskip("gdstk")


@pytest.fixture(scope="module")
def drawn(tmp_path_factory):
    """ota3 placed by the stand-in MAGICAL driver, which writes the debug floorplan."""
    tmp = tmp_path_factory.mktemp("gds")
    with standin() as mods:
        config = design(tmp, DESIGNS / "ota3" / "ota3.sp")
        with record_placers(mods.IdeaPlaceExPy) as made:
            run = run_flow(mods, config)
    placement = made[0].placement(netlist=run.params.spectre_netlist)
    return tmp / "result" / "ota3.floorplan.gds", placement


def test_floorplan_is_the_recorded_placement(drawn):
    from magical_prune.adapters.gds import read_floorplan

    path, placement = drawn
    names, rects = read_floorplan(path)
    assert sorted(names) == sorted(placement.names)
    index = {n: i for i, n in enumerate(names)}
    assert np.array_equal(rects[[index[n] for n in placement.names]], placement.rects)
    assert floorplan_mismatches(placement, path) == []


def test_a_moved_device_is_reported(drawn):
    from magical_prune.adapters.gds import read_floorplan

    path, placement = drawn
    names, rects = read_floorplan(path)
    moved = rects.copy()
    moved[names.index("M1")] += 20
    found = floorplan_mismatches(placement, (names, moved))
    assert len(found) == 1 and found[0].startswith("M1: placed at")
    assert floorplan_mismatches(placement, (names, moved), tolerance=20) == []
    assert floorplan_mismatches(placement, (names[1:], rects[1:])) == [
        f"{names[0]}: in the placement, not in the floorplan"
    ]


def _write(path, labels: bool, glyphs: bool = False, outside: bool = False) -> None:
    lib = gdstk.Library(unit=1e-9, precision=1e-9)
    cell = lib.new_cell("FLOORPLAN")
    for k, name in enumerate(("M0", "M1")):
        x = 3000 * k
        cell.add(gdstk.rectangle((x, 0), (x + 2000, 1000), layer=0))
        if labels:
            where = (x + 1000, 5000 if outside and k else 500)
            cell.add(gdstk.Label(name, where, layer=100))
        if glyphs:
            cell.add(*gdstk.text(name, 50, (x + 1000, 500), layer=100))
    lib.write_gds(str(path))


def test_names_drawn_as_polygons_need_names(tmp_path):
    from magical_prune.adapters.gds import read_floorplan

    path = tmp_path / "glyphs.floorplan.gds"
    _write(path, labels=False, glyphs=True)
    with pytest.raises(MagicalPruneError, match="no name labels") as err:
        read_floorplan(path)
    assert str(path) in str(err.value)
    names, rects = read_floorplan(path, names=["A", "B"])
    assert names == ("A", "B") and rects.tolist() == [[0, 0, 2000, 1000], [3000, 0, 5000, 1000]]
    with pytest.raises(MagicalPruneError, match="2 outlines but 1 names"):
        read_floorplan(path, names=["A"])


def test_bad_floorplans_are_the_packages_error(tmp_path):
    from magical_prune.adapters.gds import read_floorplan

    outside = tmp_path / "outside.gds"
    _write(outside, labels=True, outside=True)
    with pytest.raises(MagicalPruneError, match="label 'M1' at \\(4000, 5000\\) nm lies in no"):
        read_floorplan(outside)
    junk = tmp_path / "junk.gds"
    junk.write_bytes(b"not a gds file at all")
    with pytest.raises(ParseError):
        read_floorplan(junk)
    empty = tmp_path / "empty.gds"
    gdstk.Library().write_gds(str(empty))
    with pytest.raises(MagicalPruneError, match="no device outline"):
        read_floorplan(empty)


def test_inspect_reads_a_floorplan(drawn, tmp_path):
    path, placement = drawn
    runner = CliRunner()
    facts = json.loads(runner.invoke(main, ["inspect", str(path), "--json"]).output)
    assert set(facts["devices"]) == set(placement.names)
    text = runner.invoke(main, ["inspect", str(path)]).output
    assert text.startswith(f"floorplan {path}: {len(placement.names)} devices")
    bad = tmp_path / "nolabels.gds"
    _write(bad, labels=False)
    done = runner.invoke(main, ["inspect", str(bad)])
    assert done.exit_code == 2 and done.output.count("\n") == 1 and str(bad) in done.output
