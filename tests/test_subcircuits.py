"""Automatic sub-circuit classification against hand labels, plus facts that must always hold.

The netlists in tests/data/netlists were written and labelled (``<name>.channel``) by
analog judgement before the classifier existed; the reference designs ota1..ota4 were
labelled by another engineer. Agreement is the share of devices whose automatic channels
share a channel with the hand label.
"""

from __future__ import annotations

import json
import random
from dataclasses import replace
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from magical_prune.adapters.spectre import read_netlist
from magical_prune.circuit import Circuit, Device, DeviceType
from magical_prune.subcircuits import classify, find_supplies, is_input_name, subcircuits_of

DATA = Path(__file__).parent / "data" / "netlists"
DESIGNS = Path(__file__).parents[1] / "examples" / "designs"
OWN = sorted(DATA.glob("*.sp"))
REFERENCE = sorted(DESIGNS.glob("ota*/ota*.sp"))
N, P, C, R = DeviceType.NMOS, DeviceType.PMOS, DeviceType.CAP, DeviceType.RES


def labels(netlist: Path) -> dict[str, list[int]]:
    return json.loads(netlist.with_suffix(".channel").read_text())


def agreement(circuit: Circuit, hand: dict[str, list[int]]) -> tuple[float, dict]:
    auto = classify(circuit)
    wrong = {d: (hand[d], auto[d]) for d in hand if not set(hand[d]) & set(auto[d])}
    return 1 - len(wrong) / len(hand), wrong


def renamed(circuit: Circuit, seed: int) -> tuple[Circuit, dict[str, str]]:
    """The same circuit with devices and non-port nets given unrelated names (order kept)."""
    rng = random.Random(seed)
    dev_ids = rng.sample(range(10_000), len(circuit.devices))
    dev_names = {d: f"X{k}" for d, k in zip(circuit.devices, dev_ids)}
    inner = [n for n in circuit.nets if n not in circuit.ports and n]
    net_names = {n: f"w{k}" for n, k in zip(inner, rng.sample(range(10_000), len(inner)))}
    devices = [
        replace(d, name=dev_names[d.name], nets=tuple(net_names.get(n, n) for n in d.nets))
        for d in circuit.devices.values()
    ]
    return Circuit.from_devices(circuit.name, devices, ports=circuit.ports), dev_names


# -- agreement with hand labels --------------------------------------------------------------
@pytest.mark.parametrize("netlist", OWN, ids=lambda p: p.stem)
def test_own_netlists_agree_with_hand_labels(netlist: Path):
    score, wrong = agreement(read_netlist(netlist), labels(netlist))
    print(f"{netlist.stem}: agreement {score:.1%}, disagreements {wrong}")
    assert score >= 0.9, wrong


@pytest.mark.skipif(not REFERENCE, reason="reference designs not present")
@pytest.mark.parametrize("netlist", REFERENCE, ids=lambda p: p.stem)
def test_reference_designs_agree_with_their_labels(netlist: Path):
    score, wrong = agreement(read_netlist(netlist), labels(netlist))
    print(f"{netlist.stem}: agreement {score:.1%}, disagreements {wrong}")
    assert score >= 0.9, wrong


def test_own_netlists_cover_the_brief():
    assert len(OWN) >= 5
    names = {p.stem for p in OWN}
    assert {"ota5t", "miller2_fd", "nmc3_tele", "fcas_pin", "ff2_core"} <= names


# -- facts that must hold ------------------------------------------------------------------
@pytest.mark.parametrize("netlist", OWN + REFERENCE, ids=lambda p: p.stem)
def test_every_device_gets_a_channel_and_inputs_are_first_stage(netlist: Path):
    circuit = read_netlist(netlist)
    auto = classify(circuit)
    assert set(auto) == set(circuit.devices)
    assert all(ch and set(ch) <= {1, 2, 3, 4, 5} for ch in auto.values())
    inputs = [p for p in circuit.ports if is_input_name(p)]
    assert len(inputs) == 2
    gated = [d.name for d in circuit.devices.values() if d.type.is_mos and d.net("G") in inputs]
    assert len(gated) >= 2
    assert all(auto[d] == (1,) for d in gated)


@pytest.mark.parametrize(
    ("netlist", "device", "channel"),
    [
        ("miller2_pin", "CC", 3),  # Miller cap
        ("miller2_pin", "RZ", 3),  # its series nulling resistor
        ("miller2_fd", "CC1", 3),
        ("nmc3_tele", "CM1A", 3),  # nested Miller, outer (cross-coupled) and inner
        ("nmc3_tele", "CM2B", 3),
        ("fd2_dual", "MR1", 3),  # triode MOS nulling resistor
        ("fc2_ahuja", "CC2", 3),  # indirect compensation into the cascode node
        ("miller2_fd", "RS1", 4),  # CMFB sense resistor
        ("miller2_fd", "CS2", 4),  # CMFB sense capacitor
        ("nmc3_tele", "RS2", 4),
        ("tele_sf", "M20", 4),  # sense source follower
        ("tele_triode", "M9", 4),  # triode CM-sense tail device
        ("fcas_pin", "M28", 4),  # mirrors the CMFB output onto the control net
        ("twostage_nocomp", "M3X", 1),  # cross-coupled load stays in the first stage
        ("fcas_pin", "M3", 1),  # folding sink driven by the CMFB is still first stage
        ("nmc3_tele", "M16", 2),  # output-stage current source
        ("nmc3_se", "R1", 5),  # beta-multiplier resistor
        ("tele_triode", "MC1", 5),  # MOS decoupling cap on a bias line
        ("tele_triode", "MD1", 1),  # dummy next to the input pair
        ("ota5t", "M6", 5),  # bias diode
        ("tele_gb", "MA1", 1),  # gain-boosting amplifier serves the first stage
        ("tele_gb", "MB4", 1),
        ("tele_gb", "M11", 4),
        ("ff2_core", "M7", 2),  # second stage sharing the outputs with a feed-forward pair
        ("ff2_core", "M9", 2),
        ("ff2_core", "M5", 1),  # the feed-forward input pair stays first stage
        ("ff2_core", "M11", 1),  # with its tail
        ("ff2_core", "CC1", 3),  # Miller capacitor across the second stage
    ],
)
def test_must_hold(netlist: str, device: str, channel: int):
    assert classify(read_netlist(DATA / f"{netlist}.sp"))[device] == (channel,)


def test_reference_design_facts():
    if not (DESIGNS / "ota1" / "ota1.sp").exists():
        pytest.skip("reference designs not present")
    ota1 = classify(read_netlist(DESIGNS / "ota1" / "ota1.sp"))
    assert ota1["M1"] == ota1["M2"] == (1,)
    assert ota1["C1"] == ota1["C3"] == (3,)
    assert ota1["R5"] == ota1["R3"] == (4,)  # output CM sense; stage-2 local CM resistor


# -- hand-computed small cases -------------------------------------------------------------
def five_transistor(ports=("INP", "INM", "OUT", "VB", "VDD", "VSS")) -> Circuit:
    inp, inm, out, vb, vdd, vss = ports
    devices = [
        Device("M1", N, ("x", inm, "t", vss)),
        Device("M2", N, (out, inp, "t", vss)),
        Device("M3", P, ("x", "x", vdd, vdd)),
        Device("M4", P, (out, "x", vdd, vdd)),
        Device("M5", N, ("t", vb, vss, vss)),
        Device("M6", N, (vb, vb, vss, vss)),
    ]
    return Circuit.from_devices("ota5", devices, ports=ports)


def test_five_transistor_by_hand():
    assert classify(five_transistor()) == {
        "M1": (1,), "M2": (1,), "M3": (1,), "M4": (1,), "M5": (1,), "M6": (5,),
    }  # fmt: skip


def test_odd_names_fall_back_to_structure():
    # inputs named A/B and rails named TOP/BOT: pair found as the undriven port gates,
    # rails found as the majority bulk nets
    circuit = five_transistor(("A", "B", "Y", "BIAS", "TOP", "BOT"))
    assert find_supplies(circuit) == {"TOP", "BOT"}
    assert classify(circuit) == classify(five_transistor())


def test_no_ports_uses_names():
    c = five_transistor()
    connections = {n: net.pins for n, net in c.nets.items()}
    types = {d.name: d.type for d in c.devices.values()}
    bare = Circuit.from_connections("ota5", connections, types)
    assert classify(bare) == classify(c)


def test_two_stage_miller_by_hand():
    devices = [
        *five_transistor().devices.values(),
        Device("M7", P, ("VO", "OUT", "VDD", "VDD")),
        Device("M8", N, ("VO", "VB", "VSS", "VSS")),
        Device("CC", C, ("OUT", "z")),
        Device("RZ", R, ("z", "VO")),
        Device("CL", C, ("VO", "VSS")),  # load on the output port: output stage
        Device("CP", C, ("OUT", "VSS")),  # shunt cap on an inner stage node: compensation
    ]
    c = Circuit.from_devices("miller", devices, ports=("INP", "INM", "VO", "VB", "VDD", "VSS"))
    auto = classify(c)
    got = [auto[d] for d in ("M7", "M8", "CC", "RZ", "CL", "CP")]
    assert got == [(2,), (2,), (3,), (3,), (2,), (3,)]


def test_empty_and_passive_only_circuits():
    assert classify(Circuit.from_devices("empty", [])) == {}
    only = Circuit.from_devices("rc", [Device("R0", R, ("a", "b")), Device("C0", C, ("b", "VSS"))])
    assert classify(only) == {"R0": (5,), "C0": (5,)}


# -- determinism ---------------------------------------------------------------------------
@pytest.mark.parametrize("netlist", OWN + REFERENCE, ids=lambda p: p.stem)
def test_deterministic_and_name_independent(netlist: Path):
    circuit = read_netlist(netlist)
    first = classify(circuit)
    assert classify(read_netlist(netlist)) == first
    other, names = renamed(circuit, seed=7)
    again = classify(other)
    assert {d: again[names[d]] for d in first} == first


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), which=st.sampled_from(OWN + REFERENCE))
def test_renaming_never_changes_channels(seed: int, which: Path):
    circuit = read_netlist(which)
    other, names = renamed(circuit, seed)
    first, again = classify(circuit), classify(other)
    assert {d: again[names[d]] for d in first} == first


def test_circuit_subcircuits_applies_overrides():
    c = five_transistor()
    c.channel_overrides = {"M6": (4,)}
    assert subcircuits_of(c)["M6"] == (4,)
    assert subcircuits_of(c)["M1"] == (1,)


@pytest.mark.parametrize("netlist", OWN + REFERENCE, ids=lambda p: p.stem)
def test_parallel_fingers_take_their_device_channel(netlist: Path):
    # netlists may list the fingers of one transistor as separate parallel instances
    circuit = read_netlist(netlist)
    devices = []
    for d in circuit.devices.values():
        devices += [replace(d, name=f"{d.name}_f{k}") for k in range(2)] if d.type.is_mos else [d]
    split = classify(Circuit.from_devices(circuit.name, devices, ports=circuit.ports))
    for name, channels in classify(circuit).items():
        if circuit.devices[name].type.is_mos:
            assert split[f"{name}_f0"] == split[f"{name}_f1"] == channels, name
        else:
            assert split[name] == channels, name


@pytest.mark.parametrize("netlist", OWN + REFERENCE, ids=lambda p: p.stem)
def test_without_ports_as_from_a_connection_file(netlist: Path):
    # place.connection + device types only: no ports, device order from the nets
    circuit = read_netlist(netlist)
    bare = Circuit.from_connections(
        circuit.name,
        {n: net.pins for n, net in circuit.nets.items()},
        {d.name: d.type for d in circuit.devices.values()},
    )
    score, wrong = agreement(bare, labels(netlist))
    assert score >= 0.9, wrong
