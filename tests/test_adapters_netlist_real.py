"""Netlists as real flows write them: expressions, PDK device sub-circuits, elements the
tool does not model, broken library cells. Every netlist here was written for this file."""

from __future__ import annotations

import warnings

import pytest

from magical_prune.adapters._expr import evaluate
from magical_prune.adapters.spectre import parse_netlist
from magical_prune.circuit import DeviceType
from magical_prune.errors import MagicalPruneError, MagicalPruneWarning, ParseError

N, P, C, R = DeviceType.NMOS, DeviceType.PMOS, DeviceType.CAP, DeviceType.RES


def quiet(text: str, top: str | None = None, **kwargs):
    """Parse, failing on any warning (these netlists have only modelled elements)."""
    with warnings.catch_warnings():
        warnings.simplefilter("error", MagicalPruneWarning)
        return parse_netlist(text, "real.sp", top, **kwargs)


def one_mos(params: str, spice: bool = False) -> dict[str, float]:
    if spice:
        text = f".subckt a d g s\nm0 d g s s nch {params}\n.ends a\n"
        return quiet(text).devices["m0"].params
    return quiet(f"subckt a d g s\nM0 (d g s s) nch {params}\nends a\n").devices["M0"].params


# -- values and expressions ------------------------------------------------------------------
@pytest.mark.parametrize(
    ("params", "spice", "key", "value"),
    [
        ("multi=(1)", False, "multi", 1.0),
        ("w=(2*1u)", False, "w", 2e-6),
        ("m=(2)", False, "m", 2.0),
        ("w = ( 3 * 2u - 1u )", False, "w", 5e-6),
        ("nf=(-(-4)/2)", False, "nf", 2.0),
        ("w=(2* \\\n   1u) l=100n", False, "w", 2e-6),  # `\` continuation inside the value
        ("m=(1 \\\n+1)", False, "m", 2.0),
        ("l=((120n))", False, "l", 120e-9),
        ("w='2*1u'", True, "w", 2e-6),
        ("w={3*1u}", True, "w", 3e-6),
        ("w=(2*1u)", True, "w", 2e-6),
        ("w='2 * 1U'", True, "w", 2e-6),  # SPICE suffixes ignore case
        ("w=(1M*2)", False, "w", 2e6),  # Spectre: M is mega
        ("w='1M*2'", True, "w", 2e-3),  # SPICE: M is milli
    ],
)  # fmt: skip
def test_parameter_expressions(params, spice, key, value):
    assert one_mos(params, spice)[key] == pytest.approx(value, rel=1e-12)


def test_expressions_that_are_not_numbers_are_left_out():
    params = one_mos("w=(wq*2) l=(1u/0) m=(2**3) nf=(2+)")
    assert params == {}  # unknown name, division by zero, power: no value, no error


def test_unclosed_parenthesis_names_the_line():
    with pytest.raises(ParseError) as info:
        parse_netlist("subckt a d g s\nM0 (d g s s) nch w=(2*1u\nends a\n", "x.sp")
    assert (info.value.path, info.value.line) == ("x.sp", 2) and "unclosed '('" in str(info.value)


def test_parameters_statements_and_subcircuit_overrides():
    text = """parameters wp=2u k=3
subckt cell a b
parameters wl=(wp/2)
M0 (a b a 0) nch w=(k*wp) l=wl
ends cell
subckt top a b
X1 (a b) cell
X2 (a b) cell wp=(4u)
M9 (a b a 0) pch w=k*wp
ends top
"""
    d = quiet(text).devices
    assert d["X1/M0"].params == pytest.approx({"w": 6e-6, "l": 1e-6})
    assert d["X2/M0"].params == pytest.approx({"w": 12e-6, "l": 2e-6})  # the override wins
    assert d["M9"].params == pytest.approx({"w": 6e-6})


def test_spice_params_header_defaults_and_case():
    text = """.param WN=1u
.subckt inv in out vss w=2u
m0 out in vss vss nch w='w*2' l='wn/10'
.ends inv
.subckt top a b vss
x1 a b vss inv w=3u
x2 a b vss inv
.ends top
"""
    d = quiet(text).devices
    assert d["x1/m0"].params == pytest.approx({"w": 6e-6, "l": 1e-7})
    assert d["x2/m0"].params == pytest.approx({"w": 4e-6, "l": 1e-7})


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("(2*1u)", 2e-6), ("'wp*k'", 6e-6), ("{wp/2}", 1e-6), ("-wp", -2e-6), ("1e-6*2", 2e-6),
        ("__import__('os')", None), ("2**3", None), ("1/0", None), ("wp+", None),
        ("(" * 200 + "1" + ")" * 200, None), ("1e300*1e300", None), ("", None), ("()", None),
    ],
)  # fmt: skip
def test_evaluate(text, value):
    got = evaluate(text, False, {"wp": 2e-6, "k": 3.0}.get)
    assert got == (pytest.approx(value) if value is not None else None)


# -- PDK devices wrapped in sub-circuits --------------------------------------------------------
@pytest.mark.parametrize(
    ("line", "device_type", "nets"),
    [
        ("xm8 d g s b nch_hvt_mac w=1u l=100n", N, ("d", "g", "s", "b")),
        ("xm9 d g s b pch_lvt_mac w=1u", P, ("d", "g", "s", "b")),
        ("x1 d g s b nmos4 w=1u", N, ("d", "g", "s", "b")),
        ("x2 d g s b sky130_fd_pr__pfet_01v8_lvt w=1 l=0.15", P, ("d", "g", "s", "b")),
        ("xn d g s b nfet_ud", N, ("d", "g", "s", "b")),
        ("xr47 d g b rppolywo_m lr=10e-6 wr=600e-9 m=1", R, ("d", "g", "b")),
        ("xr1 d g rnpoly_wo l=1u", R, ("d", "g")),
        ("xr2 d g sky130_fd_pr__res_high_po_0p35 l=1", R, ("d", "g")),
        ("xc1 d s cfmom_2t nr=26 lr=1.9e-6", C, ("d", "s")),
        ("xc2 d s mimcap w=10u l=10u", C, ("d", "s")),
        ("xc3 d s b cap_mim_2f", C, ("d", "s", "b")),
    ],
)
def test_pdk_device_subcircuits_are_typed_by_model_name(line, device_type, nets):
    circuit = quiet(f".subckt a d g s b\n{line}\n.ends a\n")
    (device,) = circuit.devices.values()
    assert device.type is device_type and device.nets == nets
    assert device.model == line.split()[len(nets) + 1]


def test_spectre_x_instance_of_a_pdk_device():
    c = quiet("subckt a d g s b\nxm8 (d g s b) nch_hvt_mac w=1u l=100n\nends a\n")
    assert c.devices["xm8"].type is N and c.devices["xm8"].params == pytest.approx(
        {"w": 1e-6, "l": 1e-7}
    )


def test_unknown_model_is_one_error_naming_model_and_option():
    text = ".subckt a d g s b\nxq d g s b foo_bar w=1u\n.ends a\n"
    with pytest.raises(ParseError) as info:
        parse_netlist(text, "pdk.sp")
    err = info.value
    assert (err.path, err.line) == ("pdk.sp", 2)
    assert "'foo_bar'" in err.message and "--types" in err.message


def test_types_override_by_device_or_by_model():
    text = ".subckt a d g s b\nxq d g s b foo_bar\nxp d g s b foo_bar\nxm d g s b nch\n.ends a\n"
    c = quiet(text, types={"foo_bar": P, "xp": N, "xm": P})
    assert {n: d.type for n, d in c.devices.items()} == {"xq": P, "xp": N, "xm": P}


def test_types_can_adopt_an_element_the_tool_would_leave_out():
    text = ".subckt a d g s\nm0 d g s s nch\nd1 d s esd_cap_d\n.ends a\n"
    c = quiet(text, types={"esd_cap_d": C})
    assert c.devices["d1"].type is C and c.devices["d1"].nets == ("d", "s") and not c.unmodelled


# -- elements the tool does not model ---------------------------------------------------------
SPICE_ZOO = """.subckt a d g s b
m0 d g s b nch
q1 d g s npn
d1 d s dio
l1 d s 1n
v1 d 0 1
i1 d 0 1u
e1 d 0 g 0 2
f1 d 0 v1 2
g1 d 0 g 0 1m
h1 d 0 v1 1k
.ends a
"""


def test_spice_elements_not_modelled_are_counted_and_named():
    with pytest.warns(MagicalPruneWarning) as record:
        c = parse_netlist(SPICE_ZOO, "zoo.sp")
    assert list(c.devices) == ["m0"]
    assert c.unmodelled == {
        "q1": "bipolar transistor", "d1": "diode", "l1": "inductor", "v1": "voltage source",
        "i1": "current source", "e1": "controlled source", "f1": "controlled source",
        "g1": "controlled source", "h1": "controlled source",
    }  # fmt: skip
    (warning,) = record
    message = str(warning.message)
    assert message.startswith("zoo.sp: 9 element(s)") and "q1 (bipolar transistor)" in message
    assert "h1 (controlled source)" in message


def test_spectre_elements_not_modelled_by_primitive_card_or_name():
    text = """subckt a d g s b
M0 (d g s b) nch
Q1 (d g s) npn_model
Q2 (d g s) vpnp_5x5
D1 (d s) diode
D2 (d s) esd_diode_m
L1 (d s) inductor l=1n
L2 (d s) spiral_std
V1 (d 0) vsource dc=1
E1 (d 0 g 0) vcvs gain=2
ends a
model npn_model bjt type=npn
"""
    with pytest.warns(MagicalPruneWarning, match=r"8 element\(s\)"):
        c = parse_netlist(text)
    assert list(c.devices) == ["M0"]
    assert c.unmodelled["Q1"] == "bipolar transistor npn_model"
    assert c.unmodelled["Q2"] == "bipolar transistor vpnp_5x5"
    assert c.unmodelled["D2"] == "diode esd_diode_m"
    assert c.unmodelled["L1"] == "inductor" and c.unmodelled["V1"] == "voltage source"


def test_long_lists_are_counted_beyond_the_named_ones():
    sources = "".join(f"v{k} d 0 1\n" for k in range(20))
    with pytest.warns(MagicalPruneWarning, match=r"20 element\(s\).* and 8 more"):
        parse_netlist(f".subckt a d g\nm0 d g d d nch\n{sources}.ends a\n")


def test_only_unmodelled_elements_is_an_error_that_says_so():
    with pytest.raises(ParseError, match=r"no devices \(2 element\(s\) not modelled\)"):
        parse_netlist(".subckt a d\nv1 d 0 1\nd1 d 0 dio\n.ends a\n")


def test_subcircuit_instances_are_typed_by_what_they_instantiate():
    text = """.subckt unit p n
c0 p n 1p
m0 p n p n nch
.ends unit
.subckt top a b
cap1 a b unit
res1 a b unit
xcap2 a b unit
.ends top
"""
    c = quiet(text)
    assert set(c.devices) == {f"{i}/{d}" for i in ("cap1", "res1", "xcap2") for d in ("c0", "m0")}
    assert c.devices["cap1/m0"].type is N and c.devices["res1/c0"].type is C


def test_instances_without_x_as_magical_writes_them():
    # MAGICAL's HSPICE examples instantiate cells with I-named elements
    text = """.subckt inv i zn vss vdd
mn zn i vss vss nch l=40n w=600n
mp zn i vdd vdd pch l=40n w=800n
.ends inv
.subckt buf a1 a2 z vss vdd
I0 a1 z vss vdd inv
I1 a2 z vss vdd inv
I2 z 0 1u
.ends buf
"""
    with pytest.warns(MagicalPruneWarning, match=r"I2 \(current source\)"):
        c = parse_netlist(text)
    assert c.name == "buf" and sorted(c.devices) == ["I0/mn", "I0/mp", "I1/mn", "I1/mp"]


# -- broken cells that are not used ---------------------------------------------------------
BROKEN_LIBRARY = """subckt junk a
M0 (a a a a nch
ends junk
subckt other a
M0 (a a a a) weird_model
ends other
.subckt spicejunk a
m0 a
.ends spicejunk
subckt good a b
M0 (a b a b) nch
ends good
"""


def test_bad_lines_in_unused_cells_do_not_block_the_top():
    c = quiet(BROKEN_LIBRARY.replace(".subckt", "subckt").replace(".ends", "ends"), top="good")
    assert c.name == "good" and list(c.devices) == ["M0"]
    spice = ".subckt junk a\nm0 a\n.ends junk\n.subckt good a b\nm0 a b a b nch\n.ends good\n"
    assert quiet(spice, top="good").name == "good"


def test_bad_line_in_a_used_cell_is_reported_with_its_line():
    text = "subckt junk a\nM0 (a a a a nch\nends junk\nsubckt good a b\nX0 (a) junk\nends good\n"
    with pytest.raises(ParseError) as info:
        parse_netlist(text, "lib.sp", top="good")
    assert info.value.line == 2 and "unclosed" in info.value.message
    with pytest.raises(ParseError, match="unclosed"):
        parse_netlist(text, "lib.sp", top="junk")


def test_broken_cell_that_may_hide_the_top_is_reported_not_guessed():
    # without --top, a malformed line could be the instance that makes one cell the top
    text = "subckt a p\nM0 (p p p p) nch\nends a\nsubckt b p\nX0 (p a\nends b\n"
    with pytest.raises(ParseError) as info:
        parse_netlist(text, "two.sp")
    assert info.value.line == 5


def test_several_tops_hint_names_the_cli_option():
    text = "subckt a p\nM0 (p p p p) nch\nends a\nsubckt b p\nM0 (p p p p) pch\nends b\n"
    with pytest.raises(MagicalPruneError, match=r"\(a, b\); choose one with --top NAME"):
        parse_netlist(text, "two.sp")
