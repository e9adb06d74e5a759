"""The bundled reference designs parse, are consistent with their companions, and load by
name or folder."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from magical_prune.circuit import BULK_PINS, DeviceType
from magical_prune.errors import MagicalPruneError, UnknownNameError
from magical_prune.refflow.designs import DESIGNS_DIR, list_designs, load_design, read_bench

NAMES = ["ota1", "ota2", "ota3", "ota4"]


def test_bundled_names() -> None:
    assert list_designs() == NAMES


@pytest.mark.parametrize("name", NAMES)
def test_design_is_consistent(name: str) -> None:
    design = load_design(name)
    circuit = design.circuit
    assert circuit.name == name
    assert set(circuit.ports) == design.bench.ports() - {"0"}
    # every device is typed from its model, and the .json file agrees
    for device in circuit.devices.values():
        assert DeviceType.from_model(device.model) is device.type
    # every symmetric device exists; pairs have the same model and sizes
    sym = circuit.symmetry
    for a, b in sym.pairs:
        da, db = circuit.devices[a], circuit.devices[b]
        assert (da.model, dict(da.params)) == (db.model, dict(db.params)), (a, b)
    assert all(s in circuit.devices for s in sym.self_symmetric)
    # every device has a hand label, one of 1..5
    overrides = circuit.channel_overrides or {}
    assert set(overrides) == set(circuit.devices)
    assert all(set(c) <= {1, 2, 3, 4, 5} for c in overrides.values())
    # the input pair is first stage
    assert overrides[sym.pairs[0][0]] == (1,)


@pytest.mark.parametrize("name", NAMES)
def test_critical_nets_are_multi_pin_signal_nets(name: str) -> None:
    design = load_design(name)
    circuit = design.circuit
    crit = design.critical_nets
    assert len(crit) == 14 and len(set(crit)) == 14
    supplies = set(design.bench.supplies)
    for net in crit:
        assert net not in supplies
        routed = {d for d, p in circuit.nets[net].pins if p not in BULK_PINS}
        assert len(routed) >= 2, net


@pytest.mark.parametrize("name", NAMES)
def test_mirrored_pairs_mirror_nets(name: str) -> None:
    """Each symmetric device pair sits on mirrored nets (symnet pairs, or the same net)."""
    circuit = load_design(name).circuit
    mirror = {}
    for a, b in circuit.symmetry.net_pairs:
        mirror[a], mirror[b] = b, a
    # pairs named in .symnet must be a consistent mapping over the devices it covers
    for a, b in circuit.symmetry.pairs:
        for na, nb in zip(circuit.devices[a].nets, circuit.devices[b].nets):
            if na in mirror or nb in mirror:
                assert mirror.get(na, na) == nb, (a, b, na, nb)


def test_load_by_folder_and_netlist(tmp_path: Path) -> None:
    folder = tmp_path / "myota"
    shutil.copytree(DESIGNS_DIR / "ota3", folder)
    by_folder = load_design(folder)
    assert by_folder.name == "ota3"
    assert by_folder.bench == load_design("ota3").bench
    by_file = load_design(folder / "ota3.sp")
    assert len(by_file.circuit.devices) == 27


def test_folder_without_bench_gets_defaults(tmp_path: Path) -> None:
    folder = tmp_path / "d"
    folder.mkdir()
    for suffix in (".sp", ".sym"):
        shutil.copy(DESIGNS_DIR / "ota4" / f"ota4{suffix}", folder / f"ota4{suffix}")
    design = load_design(folder)
    assert design.bench_path is None
    assert design.bench.inputs == ("INP", "INM")
    assert design.bench.bias_voltages == {"VCM": 0.6}
    assert design.bench.bias_currents == {"IBIAS": 20e-6}


def test_folder_without_sym_gets_derived_symmetry(tmp_path: Path) -> None:
    shutil.copy(DESIGNS_DIR / "ota4" / "ota4.sp", tmp_path / "ota4.sp")
    design = load_design(tmp_path)
    assert design.derived_symmetry and design.sym is None
    hand = load_design("ota4").circuit.symmetry
    assert set(design.circuit.symmetry.pairs) == set(hand.pairs)
    assert set(design.circuit.symmetry.self_symmetric) == set(hand.self_symmetric)


def test_unknown_name_suggests() -> None:
    with pytest.raises(UnknownNameError, match="did you mean ota1"):
        load_design("ota11")


def test_bad_bench_reports_file(tmp_path: Path) -> None:
    bad = tmp_path / "x.bench.json"
    bad.write_text('{"supplies": {"VDD": 1.2}}')
    with pytest.raises(MagicalPruneError, match="x.bench.json"):
        read_bench(bad)
    bad.write_text("{not json")
    with pytest.raises(MagicalPruneError, match="x.bench.json:1"):
        read_bench(bad)


def test_design_metric_of_a_generated_folder(tmp_path: Path) -> None:
    from magical_prune.refflow.bench import design_metric

    folder = tmp_path / "myota"
    folder.mkdir()
    assert design_metric(folder) == "Offset_Voltage"  # no testbench: the default
    shutil.copy(DESIGNS_DIR / "ota4" / "ota4.bench.json", folder / "ota4.bench.json")
    assert design_metric(folder) == "CMRR"  # the one there, whatever the folder's name
    shutil.copy(DESIGNS_DIR / "ota3" / "ota3.bench.json", folder / "ota3.bench.json")
    with pytest.raises(MagicalPruneError, match="2 testbench descriptions"):
        design_metric(folder)
    shutil.copy(DESIGNS_DIR / "ota3" / "ota3.bench.json", folder / "myota.bench.json")
    assert design_metric(folder) == "Offset_Voltage"  # the folder's own name first
