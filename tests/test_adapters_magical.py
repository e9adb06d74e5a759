"""Reference, round-trip and bad-input tests of the MAGICAL file readers and writers."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st

from magical_prune.adapters import magical
from magical_prune.circuit import DeviceType, Symmetry
from magical_prune.errors import MagicalPruneError, ParseError

TINY = Path(__file__).parent / "data" / "adapters" / "tiny"
LAYOUT = TINY / "tiny_1"


def test_package_mapping():
    from magical_prune.adapters import magical as m
    from magical_prune.adapters import spectre, utanlay

    assert Path(m.__file__).parent.name == "adapters"
    assert callable(m.load_placement) and callable(spectre.read_netlist)
    assert callable(utanlay.read_utanlay)


# -- readers against hand-read values -------------------------------------------------------
def test_place_result_reference():
    names, rects = magical.read_place_result(LAYOUT / "place.result")
    assert names == ("M0", "M1", "M2", "M3", "M4", "C0")
    assert rects.dtype == np.int64
    # M4 0.500 0.500 4.000 1.000 -> [500, 500, 4500, 1500] nm
    assert rects[4].tolist() == [500, 500, 4500, 1500]
    assert rects[5].tolist() == [6000, 0, 9000, 2000]


def test_place_pin_reference_union_and_syntax():
    pins = magical.read_place_pin(LAYOUT / "place.pin")
    assert pins[("M0", "D")] == (200, 100, 400, 900)
    # G has two shapes: the box is their union's bounds
    assert pins[("M0", "G")] == (500, 0, 1500, 1000)
    # S of M0 is written without parentheses
    assert pins[("M0", "S")] == (1600, 100, 1800, 900)
    assert pins[("C0", "MINUS")] == (2800, 0, 3000, 2000)
    assert ("M2", "B") not in pins
    shapes = magical.read_pin_shapes(LAYOUT / "place.pin")
    assert [s.layer for s in shapes[("C0", "PLUS")]] == ["M2"]
    union = magical.pin_union(shapes[("M0", "G")])
    assert union.area == pytest.approx(2 * 1000 * 100)
    assert shapely.bounds(union).tolist() == [500, 0, 1500, 1000]


def test_connection_weights_performance_reference():
    nets = magical.read_connection(LAYOUT / "place.connection")
    assert nets["tail"] == [("M0", "S"), ("M1", "S"), ("M4", "D")]
    assert nets["OUT"][-1] == ("C0", "PLUS")
    assert len(nets) == 8
    weights = magical.read_weights(LAYOUT / "weight.txt")
    assert weights["tail"] == 4 and weights["OUT"] == 2
    perf = magical.read_performance(LAYOUT / "performance.txt")
    assert perf == {"Offset_Voltage": -1.37e-3, "CMRR": 61.2, "Gain": 48.1}


def test_sym_symnet_types_channels_reference():
    sym = magical.read_sym(TINY / "tiny.sym")
    assert sym.pairs == (("M0", "M1"), ("M2", "M3"))
    assert sym.self_symmetric == ("M4", "C0")
    assert sym.groups == ((("M0", "M1"), ("M2", "M3"), ("M4",)), (("C0",),))
    symnet = magical.read_symnet(TINY / "tiny.symnet")
    assert symnet.net_pairs == (("INP", "INM"),) and symnet.self_symmetric_nets == ("tail",)
    types = magical.read_types(TINY / "tiny.json")
    assert types["M2"] is DeviceType.PMOS and types["C0"] is DeviceType.CAP
    channels = magical.read_channels(TINY / "tiny.channel")
    assert channels["M4"] == (1, 5) and channels["C0"] == (3,)


def test_performance_accepts_spaces_and_channels_accept_int():
    assert magical.parse_performance(" CMRR = 61.2 \n\nGain=4e1") == {"CMRR": 61.2, "Gain": 40.0}
    assert magical.parse_channels('{"M0": 2}') == {"M0": (2,)}


# -- round trips --------------------------------------------------------------------------
def test_round_trip_of_every_fixture_file(tmp_path):
    result = magical.read_place_result(LAYOUT / "place.result")
    magical.write_place_result(tmp_path / "a.result", *result)
    again = magical.read_place_result(tmp_path / "a.result")
    assert again.names == result.names and np.array_equal(again.rects, result.rects)

    shapes = magical.read_pin_shapes(LAYOUT / "place.pin")
    magical.write_place_pin(tmp_path / "a.pin", shapes)
    assert magical.read_pin_shapes(tmp_path / "a.pin") == shapes

    boxes = magical.read_place_pin(LAYOUT / "place.pin")
    magical.write_place_pin(tmp_path / "b.pin", boxes)
    assert magical.read_place_pin(tmp_path / "b.pin") == boxes

    for name, read, write in [
        ("place.connection", magical.read_connection, magical.write_connection),
        ("weight.txt", magical.read_weights, magical.write_weights),
        ("performance.txt", magical.read_performance, magical.write_performance),
    ]:
        value = read(LAYOUT / name)
        write(tmp_path / name, value)
        assert read(tmp_path / name) == value
        if name != "performance.txt":  # the fixture writes -1.37e-03, Python -0.00137
            # the fixture is written in the writers' own format: byte-identical
            assert (tmp_path / name).read_text() == (LAYOUT / name).read_text()

    sym = magical.read_sym(TINY / "tiny.sym")
    magical.write_sym(tmp_path / "a.sym", sym)
    assert magical.read_sym(tmp_path / "a.sym") == sym
    assert (tmp_path / "a.sym").read_text() == (TINY / "tiny.sym").read_text()
    symnet = magical.read_symnet(TINY / "tiny.symnet")
    magical.write_symnet(tmp_path / "a.symnet", symnet)
    assert magical.read_symnet(tmp_path / "a.symnet") == symnet

    for name, read, write in [
        ("tiny.json", magical.read_types, magical.write_types),
        ("tiny.channel", magical.read_channels, magical.write_channels),
    ]:
        value = read(TINY / name)
        write(tmp_path / name, value)
        assert read(tmp_path / name) == value
        assert (tmp_path / name).read_text() == (TINY / name).read_text()


def test_place_result_written_with_three_decimals(tmp_path):
    magical.write_place_result(
        tmp_path / "p", ["A", "B"], np.array([[-1, 0, 2, 1001], [7, 8, 1007, 2008]])
    )
    assert (tmp_path / "p").read_text() == "A -0.001 0.000 0.003 1.001\nB 0.007 0.008 1.000 2.000\n"


def test_write_sym_from_groups(tmp_path):
    magical.write_sym(tmp_path / "s", [[("A", "B"), "C"], [("D", "E")]])
    assert (tmp_path / "s").read_text() == "A B\nC\n\nD E\n"
    assert magical.read_sym(tmp_path / "s") == Symmetry(
        pairs=(("A", "B"), ("D", "E")), self_symmetric=("C",),
        groups=((("A", "B"), ("C",)), (("D", "E"),)),
    )  # fmt: skip


def test_writers_refuse_names_that_would_not_read_back(tmp_path):
    with pytest.raises(MagicalPruneError):
        magical.write_connection(tmp_path / "c", {"a net": [("M0", "D")]})
    with pytest.raises(MagicalPruneError):
        magical.write_weights(tmp_path / "w", {"n": float("nan")})


names_st = st.text("abcXYZ_0123456789", min_size=1, max_size=6)


@settings(max_examples=40, deadline=None)
@given(
    rows=st.dictionaries(
        names_st,
        st.tuples(
            st.integers(-(10**9), 10**9),
            st.integers(-(10**9), 10**9),
            st.integers(1, 10**9),
            st.integers(1, 10**9),
        ),  # fmt: skip
        min_size=1,
        max_size=8,
    )  # fmt: skip
)
def test_place_result_round_trip_is_exact(tmp_path_factory, rows):
    path = tmp_path_factory.mktemp("rt") / "place.result"
    names = list(rows)
    rects = np.array([[x, y, x + w, y + h] for x, y, w, h in rows.values()], dtype=np.int64)
    magical.write_place_result(path, names, rects)
    first = path.read_bytes()
    back = magical.read_place_result(path)
    assert list(back.names) == names and np.array_equal(back.rects, rects)
    magical.write_place_result(path, back.names, back.rects)
    assert path.read_bytes() == first  # deterministic


# -- bad input: every case names the file and the line -----------------------------------
BAD_CASES = [
    (magical.parse_place_result, "M0 0 0 1 1\nM1 0 0 1\n", 2, "expected 5 fields"),
    (magical.parse_place_result, "M0 0 0 1 1\nM1 0 zero 1 1\n", 2, "not a number"),
    (magical.parse_place_result, "M0 nan 0 1 1\n", 1, "not finite"),
    (magical.parse_place_result, "M0 0 0 inf 1\n", 1, "not finite"),
    (magical.parse_place_result, "\nM0 0 0 -1 1\n", 2, "zero or negative size"),
    (magical.parse_place_result, "M0 0 0 1 0\n", 1, "zero or negative size"),
    (magical.parse_place_result, "M0 0 0 1 1\n\nM0 2 0 1 1\n", 3, "placed twice"),
    (magical.parse_place_result, "M0 1e30 0 1 1\n", 1, "out of range"),
    (magical.parse_place_result, "\n\n", None, "empty placement"),
    (magical.parse_place_pin, "M0\nD 2\nM1 (0 0 1 1)\n", 3, "announces 2"),
    (magical.parse_place_pin, "M0\nD 1\nM1 (0 0 1 1\n", 3, "unclosed"),
    (magical.parse_place_pin, "M0\nD 1\nM1 [0 0 1 1]\n", 3, "not a number"),
    (magical.parse_place_pin, "M0\nD 1\n(0 0 1 1)\n", 3, "layer name"),
    (magical.parse_place_pin, "M0\nD 1\nM1 (0 0 1)\n", 3, "pin shape must be"),
    (magical.parse_place_pin, "M0\nD x\n", 2, "not an integer"),
    (magical.parse_place_pin, "M0\nD -1\n", 2, "negative"),
    (magical.parse_place_pin, "D 1\nM1 0 0 1 1\n", 1, "before the first device"),
    (magical.parse_place_pin, "M0\nD 1\nM1 0 0 nan 1\n", 3, "not finite"),
    (magical.parse_place_pin, "M0\nD 1\nM1 1 0 0 1\n", 3, "xHi < xLo"),
    (magical.parse_place_pin, "M0\nD 1\n", 2, "file ends"),
    (magical.parse_place_pin, "M0\nM1\nM0\n", 3, "two pin blocks"),
    (magical.parse_place_pin, "M0\nD 1 2\n", 2, "3 fields"),
    (magical.parse_connection, "n1 M0 D M1\n", 1, "odd number"),
    (magical.parse_connection, "n1\n", 1, "odd number"),
    (magical.parse_connection, "n1 M0 D\nn1 M1 D\n", 2, "listed twice"),
    (magical.parse_weights, "n1 1\nn2\n", 2, "NetName Weight"),
    (magical.parse_weights, "n1 heavy\n", 1, "not a number"),
    (magical.parse_weights, "n1 1\nn1 2\n", 2, "two weights"),
    (magical.parse_performance, "CMRR 61\n", 1, "Name=value"),
    (magical.parse_performance, "CMRR=nan\n", 1, "not finite"),
    (magical.parse_performance, "CMRR=1\nCMRR=2\n", 2, "twice"),
    (magical.parse_sym, "A B C\n", 1, "3 fields"),
    (magical.parse_sym, "A B\n\nB C\n", 3, "appears twice"),
    (magical.parse_sym, "A A\n", 1, "paired with itself"),
    (magical.parse_symnet, "n1 n2 n3\n", 1, "3 fields"),
    (magical.parse_types, '{"M0": "NMOS",\n "M1": "JFET"}', 2, "unknown device type"),
    (magical.parse_types, '{"M0": 3}', 1, "must be a string"),
    (magical.parse_types, '{"M0": "NMOS",\n', 2, "not valid JSON"),
    (magical.parse_types, "[1, 2]", 1, "JSON object"),
    (magical.parse_channels, '{"M0": [1],\n "M1": [6]}', 2, "ids 1..5"),
    (magical.parse_channels, '{"M0": "first"}', 1, "ids 1..5"),
    (magical.parse_channels, '{"M0": [true]}', 1, "ids 1..5"),
]


@pytest.mark.parametrize(("parse", "text", "line", "message"), BAD_CASES)
def test_bad_input_names_file_and_line(parse, text, line, message):
    with pytest.raises(ParseError) as info:
        parse(text, "bad.file")
    err = info.value
    assert err.path == "bad.file" and err.line == line
    assert message in err.message
    assert str(err).startswith("bad.file:" if line is None else f"bad.file:{line}: ")


def test_unreadable_files(tmp_path):
    with pytest.raises(MagicalPruneError, match="file not found"):
        magical.read_place_result(tmp_path / "missing.result")
    (tmp_path / "bin.result").write_bytes(b"M0 0 0 1 1\n\xff\xfe\n")
    with pytest.raises(ParseError) as info:
        magical.read_place_result(tmp_path / "bin.result")
    assert info.value.line == 2 and "UTF-8" in info.value.message
    with pytest.raises(MagicalPruneError, match="directory"):
        magical.read_weights(tmp_path)


box_st = st.tuples(st.integers(-10**6, 10**6), st.integers(-10**6, 10**6),
                   st.integers(1, 10**6), st.integers(1, 10**6)).map(
    lambda t: (t[0], t[1], t[0] + t[2], t[1] + t[3]))  # fmt: skip


@settings(max_examples=40, deadline=None)
@given(
    pins=st.dictionaries(
        st.tuples(names_st, st.sampled_from(["D", "G", "S", "B", "PLUS", "MINUS"])),
        st.lists(box_st, min_size=0, max_size=3),
        min_size=1,
        max_size=10,
    )  # fmt: skip
)
def test_place_pin_round_trip_and_union_bounds(tmp_path_factory, pins):
    path = tmp_path_factory.mktemp("pins") / "place.pin"
    magical.write_place_pin(path, pins)
    shapes = magical.read_pin_shapes(path)
    assert {k: [s.box for s in v] for k, v in shapes.items()} == {
        k: [tuple(b) for b in v] for k, v in pins.items()
    }
    boxes = magical.read_place_pin(path)
    for key, rects in pins.items():
        if not rects:
            assert key not in boxes
            continue
        # the box equals the bounds of shapely's union of the shapes
        assert boxes[key] == tuple(int(v) for v in shapely.bounds(magical.pin_union(shapes[key])))
