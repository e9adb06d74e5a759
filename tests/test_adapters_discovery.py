"""Loading layouts: companion discovery, mirroring, netlist/connection agreement, caching
and the errors a user sees for a missing or inconsistent file."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
import pytest

from magical_prune.adapters import discovery, magical
from magical_prune.circuit import DeviceType
from magical_prune.errors import MagicalPruneError, ParseError

TINY = Path(__file__).parent / "data" / "adapters" / "tiny"


@pytest.fixture()
def design(tmp_path: Path) -> Path:
    """A writable copy of the tiny design: design/tiny.sp ... design/tiny_1/place.result."""
    dest = tmp_path / "tiny"
    shutil.copytree(TINY, dest)
    return dest


def test_load_layout_folder_reference():
    p = magical.load_placement(TINY / "tiny_1")
    assert p.names == ("M0", "M1", "M2", "M3", "M4", "C0")
    assert p.circuit.name == "tiny" and p.circuit.devices["M0"].model == "nch_lvt"
    assert p.weights["tail"] == 4.0 and p.performance["CMRR"] == 61.2
    # M1 and M3 are the right-hand devices of the pairs M0/M1, M2/M3: mirrored.
    # M1 D local (200,100,400,900) in a 2000-wide device -> (1600..1800) + origin (3000, 2000)
    k = next(i for i, (d, n) in enumerate(zip(p.pin_device, p.pin_names)) if d == 1 and n == "D")
    assert p.pin_boxes[k].tolist() == [4600, 2100, 4800, 2900]
    hpwl = p.hpwl()
    # tail: M0.S centre (1700, 2500), M1.S mirrored (3300, 2500), M4.D (800, 1000)
    assert hpwl["tail"] == pytest.approx(2500 + 1500)
    # OUT: M1.D (4700, 2500), M3.D mirrored (4700, 4500), C0.PLUS (6100, 1000)
    assert hpwl["OUT"] == pytest.approx(1400 + 3500)
    # x: M0.D (300, 2500), M2.D (300, 4500), M2.G union (1000, 4500), M3.G (4000, 4050)
    assert hpwl["x"] == pytest.approx(3700 + 2000)
    assert p.circuit.symmetry.net_pairs == (("INP", "INM"),)
    assert p.circuit.channel_overrides["M4"] == (1, 5)


def test_result_file_of_any_name_and_explicit_companions(design, tmp_path):
    layout = design / "tiny_1"
    other = tmp_path / "elsewhere"
    other.mkdir()
    shutil.move(layout / "place.result", other / "run7.result.final")
    shutil.move(layout / "place.pin", other / "run7.pin")  # <stem>.pin beside the result
    p = magical.load_placement(
        other / "run7.result.final",
        connection=layout / "place.connection", netlist=design / "tiny.sp",
        sym=design / "tiny.sym",
    )  # fmt: skip
    assert len(p) == 6 and p.hpwl()["tail"] == pytest.approx(4000)
    # a single *.result* file in a folder is found too
    p2 = magical.load_placement(
        other, connection=layout / "place.connection", netlist=design / "tiny.sp"
    )
    assert p2.names == p.names


def test_placement_txt_with_stem_companions(design):
    layout = design / "tiny_1"
    (layout / "place.result").rename(layout / "placement.txt")
    (layout / "place.pin").rename(layout / "placement.pin")
    (layout / "place.connection").rename(layout / "placement.connection")
    p = magical.load_placement(layout / "placement.txt")
    assert len(p) == 6 and "tail" in p.net_names


def test_without_netlist_uses_connection_and_json_types(design):
    (design / "tiny.sp").unlink()
    p = magical.load_placement(design / "tiny_1")
    assert p.circuit.name == "tiny"
    assert p.circuit.devices["C0"].type is DeviceType.CAP
    assert p.circuit.devices["M0"].nets == ("x", "INP", "tail", "VSS")
    assert p.hpwl() == magical.load_placement(TINY / "tiny_1").hpwl()


def test_types_given_as_mapping(design):
    (design / "tiny.sp").unlink()
    (design / "tiny.json").unlink()
    types = {"M0": "NMOS", "M1": "NMOS", "M2": "PMOS", "M3": "PMOS", "M4": "NMOS", "C0": "CAP"}
    p = magical.load_placement(design / "tiny_1", types=types)
    assert p.circuit.devices["M2"].type is DeviceType.PMOS


def test_connection_nets_win_when_they_differ_from_the_netlist(design):
    conn = design / "tiny_1" / "place.connection"
    conn.write_text(
        "".join(line for line in conn.read_text().splitlines(True) if not line.startswith("VDD"))
    )
    p = magical.load_placement(design / "tiny_1")
    assert "VDD" not in p.net_names and "tail" in p.net_names
    assert "VDD" in p.circuit.devices["M2"].nets  # the topology is still the netlist's


def test_connection_device_not_in_netlist(design):
    conn = design / "tiny_1" / "place.connection"
    conn.write_text(conn.read_text() + "extra M0 D M7 S\n")
    with pytest.raises(ParseError) as info:
        magical.load_placement(design / "tiny_1")
    assert info.value.path == str(conn) and info.value.line == 9
    assert "M7" in info.value.message


def test_connection_pin_the_device_type_lacks(design):
    conn = design / "tiny_1" / "place.connection"
    conn.write_text(conn.read_text().replace("C0 PLUS", "C0 G"))
    with pytest.raises(ParseError, match="has no pin 'G'") as info:
        magical.load_placement(design / "tiny_1")
    assert info.value.line == 2


def test_device_in_net_but_not_placed(design):
    result = design / "tiny_1" / "place.result"
    result.write_text(
        "".join(line for line in result.read_text().splitlines(True) if not line.startswith("M4"))
    )
    with pytest.raises(ParseError) as info:
        magical.load_placement(design / "tiny_1")
    assert info.value.path == str(design / "tiny_1" / "place.connection")
    assert (
        info.value.line == 3 and "'M4'" in info.value.message and "not placed" in info.value.message
    )
    (design / "tiny_1" / "place.connection").unlink()  # netlist-only: still reported
    with pytest.raises(MagicalPruneError, match="'M4'.*not placed"):
        magical.load_placement(design / "tiny_1")


def test_pin_named_in_net_but_absent_is_skipped(design):
    pin = design / "tiny_1" / "place.pin"
    pin.write_text(pin.read_text().replace("M4\nD 1\nM1 (0.20 0.10 0.40 0.90)\n", "M4\n"))
    p = magical.load_placement(design / "tiny_1")
    # tail keeps M0.S and M1.S only: centres (1700, 2500), (3300, 2500)
    assert p.hpwl()["tail"] == pytest.approx(1600)


@pytest.mark.parametrize(
    ("remove", "message"),
    [
        (["tiny_1/place.pin"], "looked for place.pin"),
        (["tiny_1/place.result"], "looked for place.result"),
        (["tiny.sp", "tiny.json"], "--types"),
        (["tiny.sp", "tiny_1/place.connection"], "--connection"),
    ],
)
def test_missing_companions_say_what_was_looked_for(design, remove, message):
    for name in remove:
        (design / name).unlink()
    with pytest.raises(MagicalPruneError, match=message.replace(".", r"\.")):
        magical.load_placement(design / "tiny_1")


def test_missing_explicit_companion(design):
    with pytest.raises(MagicalPruneError, match="companion file not found") as info:
        magical.load_placement(design / "tiny_1", pins=design / "nope.pin")
    assert info.value.path == str(design / "nope.pin")


def test_empty_placement_and_bad_result_line(design):
    result = design / "tiny_1" / "place.result"
    result.write_text("\n")
    with pytest.raises(ParseError, match="empty placement"):
        magical.load_placement(design / "tiny_1")
    result.write_text("M0 0 0 1 1\nM1 0 0 -2 1\n")
    with pytest.raises(ParseError) as info:
        magical.load_placement(design / "tiny_1")
    assert (info.value.path, info.value.line) == (str(result), 2)


def test_netlist_file_given_as_placement_is_explained():
    with pytest.raises(MagicalPruneError, match="netlist, not a placement"):
        magical.load_placement(TINY / "tiny.sp")


def test_design_circuit_is_parsed_once_and_reparsed_when_changed(design):
    a = magical.load_placement(design / "tiny_1")
    b = magical.load_placement(design / "tiny_1")
    assert a.circuit is b.circuit
    net = design / "tiny.sp"
    net.write_text(net.read_text().replace("w=10u", "w=12u"))
    st = net.stat()
    os.utime(net, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
    c = magical.load_placement(design / "tiny_1")
    assert c.circuit is not a.circuit and c.circuit.devices["M4"].params["w"] == pytest.approx(
        12e-6
    )


def test_find_layouts_natural_order(tmp_path):
    for k in (10, 2, 1):
        d = tmp_path / f"ota_{k}"
        d.mkdir()
        (d / "place.result").write_text("M0 0 0 1 1\n")
    (tmp_path / "ota_3").mkdir()  # no result: not a layout
    (tmp_path / "notes.txt").write_text("x")
    assert [p.name for p in magical.find_layouts(tmp_path)] == ["ota_1", "ota_2", "ota_10"]


def test_find_layouts_and_load_on_a_folder_without_layout(tmp_path):
    with pytest.raises(MagicalPruneError, match="no layout"):
        magical.find_layouts(tmp_path)
    with pytest.raises(MagicalPruneError, match="no layout here"):
        magical.load_placement(tmp_path)
    with pytest.raises(MagicalPruneError, match="not a folder"):
        magical.find_layouts(tmp_path / "missing")


def test_load_circuit_from_netlist_layout_and_design_folder(design):
    by_netlist = magical.load_circuit(design / "tiny.sp")
    assert by_netlist.channel_overrides["C0"] == (3,)  # tiny.channel beside the netlist
    assert by_netlist.symmetry.pairs == (("M0", "M1"), ("M2", "M3"))
    assert magical.load_circuit(design) is by_netlist  # design folder: same cached circuit
    assert magical.load_circuit(design / "tiny_1").devices.keys() == by_netlist.devices.keys()
    (design / "tiny.sp").unlink()
    from_json = magical.load_circuit(design)  # json types + first layout's connection
    assert from_json.devices["M3"].type is DeviceType.PMOS


def test_layout_files_report(design):
    files = discovery.find_layout_files(design / "tiny_1")
    assert files.result.name == "place.result" and files.netlist.name == "tiny.sp"
    assert files.channels.name == "tiny.channel" and files.symnet.name == "tiny.symnet"
    assert files.weights.name == "weight.txt" and files.performance.name == "performance.txt"


def test_several_netlists_is_an_error_naming_them(design):
    (design / "other.sp").write_text((design / "tiny.sp").read_text())
    (design / "tiny.sp").rename(design / "first.sp")
    with pytest.raises(MagicalPruneError, match=r"first\.sp, other\.sp"):
        magical.load_placement(design / "tiny_1")


def test_mirroring_follows_x_centres(design):
    # swap the pair so M0 is on the right: now M0 is mirrored and M1 is not
    result = design / "tiny_1" / "place.result"
    text = (
        result.read_text()
        .replace("M0 0.000 2.000", "MX")
        .replace("M1 3.000 2.000", "M0 3.000 2.000")
    )
    result.write_text(text.replace("MX", "M1 0.000 2.000"))
    p = magical.load_placement(design / "tiny_1")
    m0 = p.names.index("M0")
    k = next(i for i, (d, n) in enumerate(zip(p.pin_device, p.pin_names)) if d == m0 and n == "D")
    assert p.pin_boxes[k].tolist() == [3000 + 1600, 2100, 3000 + 1800, 2900]
    assert np.array_equal(p.rects[m0], [3000, 2000, 5000, 3000])
