"""Symmetry constraints derived from circuit structure, and the `constraints` command."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from magical_prune.adapters import spectre
from magical_prune.adapters.magical import read_sym, read_symnet
from magical_prune.circuit import Circuit, Device, DeviceType
from magical_prune.cli import main
from magical_prune.constraints import derive_symmetry, port_pairs

DATA = Path(__file__).parent / "data"
DESIGNS = Path(__file__).resolve().parent.parent / "examples" / "designs"
BUNDLED = ["ota1", "ota2", "ota3", "ota4"]
OWN = {  # test designs with hand-written .sym in data/constraints
    "fdota": DATA / "user_ota" / "fdota.sp",
    "tele_sf": DATA / "netlists" / "tele_sf.sp",
    "r2r_fc": DATA / "netlists" / "r2r_fc.sp",
    "fd2_dual": DATA / "netlists" / "fd2_dual.sp",
    "ota5t": DATA / "netlists" / "ota5t.sp",
}
ALL_NETLISTS = [DESIGNS / d / f"{d}.sp" for d in BUNDLED] + sorted(
    (DATA / "netlists").glob("*.sp")
) + [OWN["fdota"]]  # fmt: skip


def _pairs(sym) -> set[frozenset[str]]:
    return {frozenset(p) for p in sym.pairs}


@pytest.mark.parametrize("name", BUNDLED)
def test_bundled_designs_hand_written_pairs_are_found(name):
    netlist = DESIGNS / name / f"{name}.sp"
    derived = derive_symmetry(spectre.read_netlist(netlist))
    hand = read_sym(netlist.with_suffix(".sym"))
    found = _pairs(derived) & _pairs(hand)
    assert len(found) >= 0.95 * len(hand.pairs)
    assert _pairs(derived) <= _pairs(hand)  # nothing the designer did not pair
    assert set(derived.self_symmetric) == set(hand.self_symmetric)
    nets = read_symnet(netlist.with_suffix(".symnet"))
    assert {frozenset(p) for p in derived.net_pairs} == {frozenset(p) for p in nets.net_pairs}
    assert set(derived.self_symmetric_nets) == set(nets.self_symmetric_nets)


@pytest.mark.parametrize("name", sorted(OWN))
def test_own_designs_hand_written_pairs_are_found(name):
    derived = derive_symmetry(spectre.read_netlist(OWN[name]))
    hand = read_sym(DATA / "constraints" / f"{name}.sym")
    assert len(_pairs(derived) & _pairs(hand)) >= 0.95 * len(hand.pairs)
    assert _pairs(derived) <= _pairs(hand)
    assert set(derived.self_symmetric) == set(hand.self_symmetric)


def _swaps(device: Device) -> list[dict[str, str]]:
    return [{}] if device.type.is_mos else [{}, {"PLUS": "MINUS", "MINUS": "PLUS"}]


@pytest.mark.parametrize("netlist", ALL_NETLISTS, ids=lambda p: p.stem)
def test_every_pair_is_electrically_matched(netlist):
    """Same type, model and sizes, and connections that mirror under one net involution."""
    circuit = spectre.read_netlist(netlist)
    derived = derive_symmetry(circuit)
    mirror: dict[str, str] = {}
    for a_name, b_name in derived.pairs:
        a, b = circuit.devices[a_name], circuit.devices[b_name]
        assert (a.type, a.model, dict(a.params)) == (b.type, b.model, dict(b.params))
        ok = False
        for swap in _swaps(a):
            trial = dict(mirror)
            good = True
            for pin, na in zip(a.pins, a.nets):
                nb = b.net(swap.get(pin, pin))
                if na == nb:
                    continue
                if trial.get(na, nb) != nb or trial.get(nb, na) != na:
                    good = False
                    break
                trial[na], trial[nb] = nb, na
            if good:
                mirror, ok = trial, True
                break
        assert ok, f"{a_name}/{b_name} do not mirror consistently"
    for name in derived.self_symmetric:  # tails: on a pair's shared source or a tail's
        assert circuit.devices[name].type.is_mos


def test_a_mismatched_or_unmirrored_pair_is_not_paired():
    nmos = DeviceType.NMOS
    devices = [
        Device("M1", nmos, ("om", "INP", "tail", "VSS"), "nch", {"w": 1e-6}),
        Device("M2", nmos, ("op", "INM", "tail", "VSS"), "nch", {"w": 2e-6}),  # other size
        Device("M3", nmos, ("om", "b1", "VSS", "VSS"), "nch", {"w": 1e-6}),
        Device("M4", nmos, ("x", "b2", "VSS", "VSS"), "nch", {"w": 1e-6}),  # no mirror net
        Device("M5", nmos, ("tail", "b1", "VSS", "VSS"), "nch", {"w": 1e-6}),
    ]
    circuit = Circuit.from_devices("t", devices, ports=("INP", "INM", "VSS"))
    assert derive_symmetry(circuit).pairs == ()
    matched = [*devices[:1], Device("M2", nmos, ("op", "INM", "tail", "VSS"), "nch",
                                    {"w": 1e-6}), *devices[2:]]  # fmt: skip
    sym = derive_symmetry(Circuit.from_devices("t", matched, ports=("INP", "INM", "VSS")))
    assert sym.pairs == (("M1", "M2"),) and sym.self_symmetric == ("M5",)


def test_port_pairs_by_name():
    ports = ("INP", "INM", "VOUTP", "VOUTN", "VDD", "VSS", "VCM", "outp", "outn", "P")
    assert port_pairs(ports) == [("INP", "INM"), ("VOUTP", "VOUTN"), ("outp", "outn")]


def test_cli_prints_and_writes(tmp_path):
    runner = CliRunner()
    netlist = OWN["fdota"]
    shown = runner.invoke(main, ["constraints", str(netlist)])
    assert shown.exit_code == 0, shown.output
    assert (
        "# fdota.sym\nMI1 MI2\n" in shown.output and "\nMT\nMET\n# fdota.symnet\n" in shown.output
    )
    out = tmp_path / "c"
    done = runner.invoke(main, ["constraints", str(netlist), "-o", str(out), "--json"])
    assert done.exit_code == 0, done.output
    facts = json.loads(done.output)
    derived = derive_symmetry(spectre.read_netlist(netlist))
    assert read_sym(out / "fdota.sym").pairs == derived.pairs
    assert read_symnet(out / "fdota.symnet").net_pairs == derived.net_pairs
    assert facts["pairs"] == [list(p) for p in derived.pairs]
    assert facts["written"] == [str(out / "fdota.sym"), str(out / "fdota.symnet")]
    again = runner.invoke(main, ["constraints", str(netlist), "-o", str(out)])
    assert again.exit_code == 2 and "--force" in again.output
    assert (
        runner.invoke(main, ["constraints", str(netlist), "-o", str(out), "--force"]).exit_code == 0
    )


def test_cli_bad_netlist_is_one_line(tmp_path):
    bad = tmp_path / "bad.sp"
    bad.write_text("subckt bad A B\nM1 (A B) nch w=1u\nends bad\n")
    done = CliRunner().invoke(main, ["constraints", str(bad)])
    assert done.exit_code == 2
    assert done.output.startswith("error: ") and done.output.count("\n") == 1


def test_inspect_shows_derived_symmetry_only_without_a_sym(tmp_path):
    runner = CliRunner()
    plain = tmp_path / "my.sp"
    plain.write_text(OWN["fdota"].read_text())
    facts = json.loads(runner.invoke(main, ["inspect", str(plain), "--json"]).output)
    assert facts["symmetry_derived"] is True
    assert facts["symmetry"][0]["pairs"][0] == ["MI1", "MI2"]
    text = runner.invoke(main, ["inspect", str(plain)]).output
    assert "symmetry (derived from the circuit: no .sym): pairs MI1 / MI2" in text
    bundled = json.loads(
        runner.invoke(main, ["inspect", str(DESIGNS / "ota1" / "ota1.sp"), "--json"]).output
    )
    assert bundled["symmetry_derived"] is False
