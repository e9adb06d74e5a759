"""Reference and bad-input tests of the Spectre/SPICE netlist reader."""

from __future__ import annotations

from pathlib import Path

import pytest

from magical_prune.adapters.spectre import parse_netlist, parse_number, read_netlist
from magical_prune.circuit import DeviceType
from magical_prune.errors import MagicalPruneError, MagicalPruneWarning, ParseError

TINY = Path(__file__).parent / "data" / "adapters" / "tiny"


def test_tiny_fixture_reference():
    c = read_netlist(TINY / "tiny.sp")
    assert c.name == "tiny"
    assert c.ports == ("INP", "INM", "OUT", "VBIAS", "VDD", "VSS")
    assert list(c.devices) == ["M0", "M1", "M2", "M3", "M4", "C0"]
    m0 = c.devices["M0"]
    assert m0.type is DeviceType.NMOS and m0.model == "nch_lvt"
    assert m0.nets == ("x", "INP", "tail", "VSS")  # D G S B
    assert m0.params == {"l": 120e-9, "w": 6e-6, "m": 1.0, "nf": 2.0}
    # continuation line: m=1 on the next line belongs to M3
    assert c.devices["M3"].params == {"l": 200e-9, "w": 4e-6, "m": 1.0}
    assert c.devices["M4"].type is DeviceType.NMOS  # nch_25ud18_mac
    c0 = c.devices["C0"]
    assert c0.type is DeviceType.CAP and c0.pins == ("PLUS", "MINUS")
    assert c0.params["w"] == 70e-9
    assert c.nets["tail"].pins == (("M0", "S"), ("M1", "S"), ("M4", "D"))
    assert c.source == str(TINY / "tiny.sp")


@pytest.mark.parametrize(
    ("text", "spice", "value"),
    [
        ("120.0n", False, 120e-9), ("60u", False, 60e-6), ("10meg", False, 10e6),
        ("1e-6", False, 1e-6), ("2k", False, 2e3), ("3M", False, 3e6), ("3m", False, 3e-3),
        ("4f", False, 4e-15), ("5p", False, 5e-12), ("1G", False, 1e9), ("2T", False, 2e12),
        ("3M", True, 3e-3), ("1MEG", True, 1e6), ("1pF", True, 1e-12), ("-.5u", True, -0.5e-6),
        ("2*w", False, None), ("wpar", False, None), ("1e999", False, None), ("1x", False, None),
    ],
)  # fmt: skip
def test_si_suffixes(text, spice, value):
    got = parse_number(text, spice)
    assert got == (pytest.approx(value, rel=1e-15) if value is not None else None)


def test_models_two_and_three_terminal_passives():
    c = parse_netlist(
        """subckt t a b c VSS
R2 (a b VSS) poly_res
R3 (a c) rppolywo l=2u
C1 (b c) mom_cap
C2 (a b VSS) cfmom_2t
M1 (a b c VSS) nfet_ud
M2 (a b c VSS) pch_lvt
ends t
"""
    )
    t = {n: d.type for n, d in c.devices.items()}
    assert t == {"R2": DeviceType.RES, "R3": DeviceType.RES, "C1": DeviceType.CAP,
                 "C2": DeviceType.CAP, "M1": DeviceType.NMOS, "M2": DeviceType.PMOS}  # fmt: skip
    assert c.devices["R2"].pins == ("PLUS", "MINUS", "B")
    assert c.devices["C1"].nets == ("b", "c")


def test_hierarchy_is_flattened_with_path_names():
    text = """// a pair cell used twice by the top cell
subckt pair d1 d2 g1 g2 s
M0 (d1 g1 s 0) nch
M1 (d2 g2 s 0) nch
C0 (d1 mid) mom_cap
ends pair
topckt top INP INM OUT
X1 (OUT n1 INP INM tail) pair
X2 (n2 n3 INP INM tail) pair
M9 (tail OUT 0 0) nch
ends top
"""
    c = parse_netlist(text)
    assert c.name == "top" and c.ports == ("INP", "INM", "OUT")
    assert list(c.devices) == ["X1/M0", "X1/M1", "X1/C0", "X2/M0", "X2/M1", "X2/C0", "M9"]
    assert c.devices["X1/M0"].nets == ("OUT", "INP", "tail", "0")  # ports map, 0 is global
    assert c.devices["X1/C0"].nets == ("OUT", "X1/mid")  # internal net gets the prefix
    assert c.devices["X2/C0"].nets == ("n2", "X2/mid")


def test_top_cell_is_the_one_not_instantiated():
    text = "subckt leaf a b\nM0 (a b a 0) nch\nends leaf\nsubckt top x y\nX0 (x y) leaf\nends top\n"
    c = parse_netlist(text)
    assert c.name == "top" and list(c.devices) == ["X0/M0"]
    assert parse_netlist(text, top="leaf").name == "leaf"


def test_ambiguous_top_names_candidates():
    text = "subckt a p\nM0 (p p p p) nch\nends a\nsubckt b p\nM0 (p p p p) pch\nends b\n"
    with pytest.raises(MagicalPruneError, match=r"several top-level sub-circuits \(a, b\)"):
        parse_netlist(text, "two.sp")
    # a testbench instance at file level breaks the tie
    assert parse_netlist(text + "I0 (n) b\n").name == "b"


def test_spice_dialect():
    text = """* title line of a SPICE deck
.subckt inv in out vdd vss
M1 out in vss vss nmos_lvt w=1u l=0.1u
M2 out in vdd vdd mypmos W=2U L=100N
+ m=2
R1 out x 10k
C1 x vss cmodel 1p
V1 vdd 0 1.8
.model mypmos pmos level=54
.model cmodel c
.ends inv
.subckt top a b vdd vss
XI a b vdd vss inv
.ends
.end
"""
    with pytest.warns(MagicalPruneWarning, match=r"1 element\(s\).*XI/V1 \(voltage source\)"):
        c = parse_netlist(text, "inv.cir")
    assert c.name == "top" and c.unmodelled == {"XI/V1": "voltage source"}
    d = c.devices
    assert set(d) == {"XI/M1", "XI/M2", "XI/R1", "XI/C1"}
    assert d["XI/M2"].type is DeviceType.PMOS  # from the .model card
    assert d["XI/M2"].params == {"W": pytest.approx(2e-6), "L": pytest.approx(100e-9), "m": 2.0}
    assert d["XI/R1"].type is DeviceType.RES and d["XI/R1"].params == {"r": 10e3}
    assert d["XI/C1"].type is DeviceType.CAP and d["XI/C1"].model == "cmodel"
    assert d["XI/M1"].nets == ("b", "a", "vss", "vss")
    # without a model card the third word is a terminal
    c = parse_netlist(".subckt t a b\nC1 a b sub 1p\n.ends\n")
    assert c.devices["C1"].nets == ("a", "b", "sub") and c.devices["C1"].model == ""


def test_spectre_model_cards_and_ignored_statements():
    text = """simulator lang=spectre
global 0 vdd!
parameters wp=2u
model mynmos bsim4 type=n
statistics {
  process { vary x dist=gauss std=1 }
}
subckt amp a b
M0 (a b vdd! 0) mynmos w=wp l=1u
ends amp
I0 (n1 n2) amp
V0 (n1 0) vsource dc=1
dcOp dc write="spectre.dc"
"""
    c = parse_netlist(text)
    assert c.name == "amp"
    m0 = c.devices["M0"]
    assert m0.type is DeviceType.NMOS and m0.params == {"w": 2e-6, "l": 1e-6}  # wp from parameters


def test_flat_netlist_without_subckt_is_named_after_the_file():
    with pytest.warns(MagicalPruneWarning, match="V0"):
        c = parse_netlist("M0 (d g s b) nch\nC0 (d s) mom\nV0 (d 0) vsource dc=1\n", "flat.scs")
    assert c.name == "flat" and list(c.devices) == ["M0", "C0"] and c.ports == ()


def test_types_mapping_overrides_and_allows_unknown_models():
    text = "subckt t a b\nM0 (a b a b) weird_model\nM1 (a b a b) nch\nends t\n"
    with pytest.raises(ParseError) as info:
        parse_netlist(text, "t.sp")
    assert info.value.line == 2 and "weird_model" in info.value.message
    c = parse_netlist(text, types={"M0": DeviceType.PMOS, "M1": DeviceType.PMOS})
    assert c.devices["M0"].type is DeviceType.PMOS and c.devices["M1"].type is DeviceType.PMOS


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        ("subckt t a\nM0 (a a a) nch\n", 1, "never closed"),
        ("ends t\n", 1, "without an open"),
        ("subckt t a\nM0 (a a a a a) nch\nends t\n", 2, "needs terminals"),
        ("subckt t a\nC0 (a) mom\nends t\n", 2, "2 or 3 terminals"),
        ("subckt t a\nM0 (a a a a nch\nends t\n", 2, "unclosed"),
        ("subckt t a\nM0 (a a a a)\nends t\n", 2, "no model"),
        ("subckt t a\nM0 (a a a a) nch\nM0 (a a a a) nch\nends t\n", 3, "defined twice"),
        (
            "subckt s a b\nM0 (a b a b) nch\nends s\nsubckt t a\nX0 (a) s\nends t\n",
            5,
            "1 terminals",
        ),
        ("subckt s a\nX0 (a) t\nends s\nsubckt t a\nX0 (a) s\nends t\n", None, "no top cell"),
        ("subckt t a\nX0 (a) t\nends t\n", 2, "instantiates itself"),
        ("subckt t a\nends t\n", 1, "no devices"),
        ("subckt t a\nM0 (a a a a) nch\nends u\n", 3, "closes sub-circuit"),
        (".subckt t a\nX1 a missing\n.ends\n", 2, "unknown model 'missing' of 'X1'"),
        ("subckt t a\nsubckt u b\n", 2, "nested"),
    ],
)
def test_bad_netlists(text, line, message):
    with pytest.raises(ParseError) as info:
        parse_netlist(text, "bad.sp")
    assert info.value.path == "bad.sp" and info.value.line == line
    assert message in info.value.message


def test_unknown_top_is_named(tmp_path):
    (tmp_path / "a.sp").write_text("subckt a p\nM0 (p p p p) nch\nends a\n")
    with pytest.raises(MagicalPruneError, match=r"no sub-circuit named 'b' \(defined: a\)"):
        read_netlist(tmp_path / "a.sp", top="b")


def test_simulator_lang_switches_dialect_mid_file():
    text = """// spectre first
subckt top a b
X1 (a b) leaf
M1 (a b a 0) nch
ends top
simulator lang=spice
.subckt leaf x y
M5 x y x 0 pch_lvt
.ends leaf
simulator lang=spectre
"""
    c = parse_netlist(text)
    assert c.name == "top" and set(c.devices) == {"X1/M5", "M1"}
    assert c.devices["X1/M5"].type is DeviceType.PMOS
