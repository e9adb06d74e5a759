"""Property tests: the readers, fed random or mutated files, raise nothing but the package's
error (a malformed file must never surface as a ValueError, IndexError or traceback)."""

from __future__ import annotations

import contextlib
import math
import shutil
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from magical_prune.adapters import _expr, discovery, magical, spectre
from magical_prune.adapters._text import decode
from magical_prune.errors import MagicalPruneError

TINY = Path(__file__).parent / "data" / "adapters" / "tiny"
LAYOUT = TINY / "tiny_1"

HIERARCHICAL = """subckt pair d1 d2 g1 g2 s
M0 (d1 g1 s 0) nch l=1u w=2u
M1 (d2 g2 s 0) nch
ends pair
.subckt spc a b
+ c
R1 a b 10k
C1 a c cm 1p
.ends
topckt top INP INM OUT
X1 (OUT n1 INP INM tail) pair
M9 (tail OUT 0 0) nch_lvt m=2 \\
  nf=4
ends top
"""

#: the syntax of real netlists: expressions, PDK device sub-circuits, unmodelled elements
REAL = """parameters wp=2u k=(3)
subckt cell a b
parameters wl=(wp/2)
M0 (a b a 0) nch w=(k*wp) l=wl multi=(1) \\
  m=(2)
ends cell
topckt top INP OUT
X1 (INP OUT) cell wp=4u
Q1 (OUT INP 0) npn
V0 (INP 0) vsource dc=1
ends top
simulator lang=spice
.param wn='1u*2'
.subckt pdk d g s
xm8 d g s s nch_hvt_mac w='wn' l={100n}
xr47 d g s rppolywo_m lr=1u
xc1 d s cfmom_2t
I0 d s 1u
.ends pdk
"""

PARSERS = {
    "place.result": (magical.parse_place_result, (LAYOUT / "place.result").read_text()),
    "place.pin": (magical.parse_pin_shapes, (LAYOUT / "place.pin").read_text()),
    "place.connection": (magical.parse_connection, (LAYOUT / "place.connection").read_text()),
    "weight.txt": (magical.parse_weights, (LAYOUT / "weight.txt").read_text()),
    "performance.txt": (magical.parse_performance, (LAYOUT / "performance.txt").read_text()),
    "tiny.sym": (magical.parse_sym, (TINY / "tiny.sym").read_text()),
    "tiny.symnet": (magical.parse_symnet, (TINY / "tiny.symnet").read_text()),
    "tiny.json": (magical.parse_types, (TINY / "tiny.json").read_text()),
    "tiny.channel": (magical.parse_channels, (TINY / "tiny.channel").read_text()),
    "tiny.sp": (spectre.parse_netlist, (TINY / "tiny.sp").read_text()),
    "hier.sp": (spectre.parse_netlist, HIERARCHICAL),
    "real.sp": (spectre.parse_netlist, REAL),
}

#: Tokens that break files in interesting ways.
NASTY = ["nan", "-inf", "1e999", "0", "-1", "(", ")", "((", "\\", "//", "*", "+", "=", "{",
         "(1)", "=(", "'", "(2*1u)", "w=(", "xm1", "nch_mac", "I0", "Q1", "npn", "parameters",
         ".param", "}", '"', "subckt", "ends", ".subckt", ".ends", "topckt", "X1", "M0", "1e-400",
         "\n", "\n\n", "", "null", "[]", "{}", "[1]", "99999999999999999999999", "\x00"]  # fmt: skip

_SPLIT = st.sampled_from([" ", "\n"])


@st.composite
def mutated(draw: st.DrawFn, text: str) -> str:
    """Delete, duplicate, swap or replace tokens of a valid file, or splice junk in."""
    tokens = text.replace("\n", " \n ").split(" ")
    for _ in range(draw(st.integers(1, 6))):
        if not tokens:
            tokens = [""]
        i = draw(st.integers(0, len(tokens) - 1))
        op = draw(st.sampled_from(["delete", "duplicate", "swap", "replace", "insert", "cut"]))
        if op == "delete":
            del tokens[i]
        elif op == "duplicate":
            tokens.insert(i, tokens[i])
        elif op == "swap":
            j = draw(st.integers(0, len(tokens) - 1))
            tokens[i], tokens[j] = tokens[j], tokens[i]
        elif op == "replace":
            tokens[i] = draw(st.sampled_from(NASTY) | st.text(max_size=5))
        elif op == "insert":
            tokens.insert(i, draw(st.sampled_from(NASTY)))
        else:
            tokens = tokens[:i]
    return " ".join(tokens).replace(" \n ", "\n")


def _must_be_ours(call) -> None:
    with contextlib.suppress(MagicalPruneError):  # anything else fails the test
        call()


@pytest.mark.filterwarnings("ignore::magical_prune.errors.MagicalPruneWarning")
@pytest.mark.parametrize("name", sorted(PARSERS))
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_parsers_raise_only_our_error(name, data):
    parse, text = PARSERS[name]
    choice = data.draw(st.sampled_from(["mutate", "text", "bytes"]))
    if choice == "mutate":
        sample = data.draw(mutated(text))
        _must_be_ours(lambda: parse(sample, name))
    elif choice == "text":
        sample = data.draw(st.text(max_size=200))
        _must_be_ours(lambda: parse(sample, name))
    else:
        raw = data.draw(st.binary(max_size=200))
        _must_be_ours(lambda: parse(decode(raw, name), name))


LAYOUT_FILES = ["place.result", "place.pin", "place.connection", "weight.txt",
                "performance.txt", "../tiny.sp", "../tiny.json", "../tiny.sym", "../tiny.channel"]  # fmt: skip


@pytest.mark.filterwarnings("ignore::magical_prune.errors.MagicalPruneWarning")
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_load_placement_on_mutated_layouts_raises_only_our_error(data):
    victims = data.draw(
        st.lists(st.sampled_from(LAYOUT_FILES), min_size=1, max_size=3, unique=True)
    )
    with tempfile.TemporaryDirectory() as tmp:
        design = Path(tmp) / "tiny"
        shutil.copytree(TINY, design)
        for victim in victims:
            path = (design / "tiny_1" / victim).resolve()
            if data.draw(st.booleans()):
                path.write_text(data.draw(mutated(path.read_text())))
            else:
                path.unlink()
        discovery.clear_caches()
        _must_be_ours(lambda: magical.load_placement(design / "tiny_1"))
        _must_be_ours(lambda: magical.load_circuit(design))


EXPRESSION_PARTS = ["1", "2.5", "1u", "3meg", "1e-6", "1e999", "wp", "k", "zz", "+", "-", "*",
                    "/", "(", ")", "'", "{", "}", " ", "0", "**", "^", "__import__", "1x"]  # fmt: skip


@settings(max_examples=300, deadline=None)
@given(
    parts=st.lists(st.sampled_from(EXPRESSION_PARTS) | st.text(max_size=3), max_size=12),
    spice=st.booleans(),
)
def test_expressions_are_a_number_or_none(parts, spice):
    """Any value text evaluates to a finite float or None: never an exception, never code."""
    text = "".join(parts)
    value = _expr.evaluate(text, spice, {"wp": 2e-6, "k": 3.0}.get)
    assert value is None or (isinstance(value, float) and math.isfinite(value))
