"""``magical-prune inspect`` on the tiny fixture: JSON facts, tables, and one-line errors."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from magical_prune.cli import main

TINY = Path(__file__).parent / "data" / "adapters" / "tiny"


def run(*args: object):
    return CliRunner().invoke(main, ["inspect", *map(str, args)])


@pytest.fixture()
def design(tmp_path: Path) -> Path:
    dest = tmp_path / "tiny"
    shutil.copytree(TINY, dest)
    return dest


def test_json_of_a_layout():
    result = run(TINY / "tiny_1", "--json")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert len(lines) == 1
    facts = json.loads(lines[0])
    devices = {d["name"]: d for d in facts["devices"]}
    assert list(devices) == ["M0", "M1", "M2", "M3", "M4", "C0"]
    assert devices["M0"]["type"] == "NMOS" and devices["C0"]["type"] == "CAP"
    # tiny.channel names every device, so its channels win over the classification
    assert devices["M4"]["channels"] == [1, 5] and devices["C0"]["channels"] == [3]
    assert devices["M0"]["params"]["w"] == pytest.approx(6e-6)
    assert devices["M0"]["pins"] == {"D": "x", "G": "INP", "S": "tail", "B": "VSS"}
    nets = {n["name"]: n["pins"] for n in facts["nets"]}
    assert nets["tail"] == [["M0", "S"], ["M1", "S"], ["M4", "D"]]
    assert facts["symmetry"][0]["pairs"] == [["M0", "M1"], ["M2", "M3"]]
    placed = facts["placement"]
    assert placed["bbox"] == [0.0, 0.0, 9.0, 5.0]
    assert placed["hpwl"]["tail"] == pytest.approx(
        4.0
    )  # hand-computed, see test_adapters_discovery
    assert placed["hpwl"]["OUT"] == pytest.approx(4.9)
    assert placed["devices"]["M4"] == [0.5, 0.5, 4.5, 1.5]
    assert placed["performance"]["CMRR"] == 61.2


def test_json_of_a_netlist_has_no_placement():
    result = run(TINY / "tiny.sp", "--json")
    assert result.exit_code == 0, result.output
    facts = json.loads(result.stdout)
    assert "placement" not in facts
    assert facts["ports"] == ["INP", "INM", "OUT", "VBIAS", "VDD", "VSS"]
    assert len(facts["devices"]) == 6


def test_human_tables():
    result = run(TINY / "tiny_1")
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "design tiny" in out and "6 devices, 8 nets" in out
    m4 = next(line for line in out.splitlines() if line.startswith("M4 "))
    assert "NMOS" in m4 and "nch_25ud18_mac" in m4 and "first_stage,bias" in m4
    assert "0.500 0.500 4.500 1.500" in m4
    tail = next(line for line in out.splitlines() if line.startswith("tail "))
    assert "4.000" in tail and "M4.D" in tail
    assert "total HPWL" in out and "bbox 0.000 0.000 9.000 5.000 um" in out


def test_design_folder_and_explicit_companions(design, tmp_path):
    assert run(design).exit_code == 0
    (design / "tiny.sp").rename(tmp_path / "netlist.scs")
    result = run(
        design / "tiny_1" / "place.result", "--netlist", tmp_path / "netlist.scs", "--json"
    )
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["devices"][0]["model"] == "nch_lvt"


def _one_line_error(result) -> str:
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: ")
    return lines[0]


def test_malformed_file_is_one_line_with_file_and_line(design):
    result_file = design / "tiny_1" / "place.result"
    result_file.write_text("M0 0 0 1 1\nM1 0 0 nan 1\n")
    line = _one_line_error(run(design / "tiny_1"))
    assert f"{result_file}:2:" in line and "not finite" in line


def test_missing_companion_is_one_line(design):
    (design / "tiny_1" / "place.pin").unlink()
    line = _one_line_error(run(design / "tiny_1", "--json"))
    assert "place.pin" in line


def test_unknown_model_is_one_line(design):
    net = design / "tiny.sp"
    net.write_text(net.read_text().replace("cfmom_2t", "strange_thing"))
    assert run(net).exit_code == 0  # tiny.json beside the netlist gives C0 its type
    (design / "tiny.json").unlink()
    line = _one_line_error(run(net))
    assert f"{net}:11:" in line and "strange_thing" in line


def test_folder_with_no_layout_is_one_line(tmp_path):
    line = _one_line_error(run(tmp_path))
    assert "no layout" in line


def test_channels_come_from_the_classifier_without_a_channel_file(design):
    (design / "tiny.channel").unlink()
    result = run(design / "tiny_1", "--json")
    assert result.exit_code == 0, result.output
    devices = {d["name"]: d for d in json.loads(result.stdout)["devices"]}
    for d in devices.values():
        assert d["channels"] and set(d["channels"]) <= {1, 2, 3, 4, 5}
    # the input pair of a five-transistor OTA is its first stage
    assert 1 in devices["M0"]["channels"] and 1 in devices["M1"]["channels"]


# -- real netlists: MAGICAL's flow configuration, unmodelled elements, PDK sub-circuits ----------
def test_magical_flow_configuration_is_not_a_type_file(design):
    config = {"spectre_netlist": "tiny.sp", "resultDir": "./", "lef": "../pdk/mock.lef"}
    (design / "tiny.json").write_text(json.dumps(config))
    for target in (design / "tiny.sp", design / "tiny.json", design, design / "tiny_1"):
        result = run(target, "--json")
        assert result.exit_code == 0, (target, result.output)
        devices = {d["name"]: d["type"] for d in json.loads(result.stdout)["devices"]}
        assert devices["C0"] == "CAP" and devices["M0"] == "NMOS"


def test_flow_configuration_names_the_netlist_relative_to_itself(tmp_path, design):
    work = tmp_path / "run"
    work.mkdir()
    (design / "tiny.sp").rename(work / "Core.sp")
    (design / "tiny.json").write_text('{"spectre_netlist": "../run/Core.sp", "techfile": "x"}')
    result = run(design / "tiny.json", "--json")
    assert result.exit_code == 0, result.output
    facts = json.loads(result.stdout)
    assert facts["design"] == "tiny" and facts["source"] == str(design / "../run/Core.sp")
    # the layout folder finds the netlist through the configuration, too
    assert run(design / "tiny_1").exit_code == 0


def test_flow_configuration_naming_a_missing_netlist_is_one_line(design):
    (design / "tiny.json").write_text('{"spectre_netlist": "gone.sp"}')
    line = _one_line_error(run(design / "tiny.json"))
    assert "tiny.json" in line and "'gone.sp'" in line


def test_flow_configuration_given_as_types_is_one_line(design):
    (design / "tiny.json").write_text('{"spectre_netlist": "tiny.sp"}')
    line = _one_line_error(run(design / "tiny.sp", "--types", design / "tiny.json"))
    assert "flow configuration" in line and "--types" in line


UNMODELLED = """.subckt amp inp inm out vdd vss
m1 out inp t vss nch_lvt w=1u
m2 x inm t vss nch_lvt w=1u
xm3 x x vdd vdd pch_mac w=(2*1u)
xm4 out x vdd vdd pch_mac w=2u
i0 t vss 10u
d1 out vss esd_dio
.model esd_dio d
.ends amp
"""


def test_unmodelled_elements_are_shown_and_warned(tmp_path):
    net = tmp_path / "amp.sp"
    net.write_text(UNMODELLED)
    result = run(net)
    assert result.exit_code == 0, result.output
    assert "warning: " in result.stderr and "2 element(s)" in result.stderr
    assert "Traceback" not in result.output and "MagicalPruneWarning" not in result.stderr
    assert "not modelled (left out): 2: i0 (current source), d1 (diode)" in result.stdout
    facts = json.loads(run(net, "--json").stdout)
    assert facts["unmodelled"] == [
        {"name": "i0", "element": "current source"},
        {"name": "d1", "element": "diode"},
    ]
    devices = {d["name"]: d for d in facts["devices"]}
    assert devices["xm3"]["type"] == "PMOS" and devices["xm3"]["params"]["w"] == pytest.approx(2e-6)


def test_unknown_pdk_model_and_several_tops_are_one_line(tmp_path):
    net = tmp_path / "amp.sp"
    net.write_text(UNMODELLED.replace("pch_mac", "zz_device"))
    line = _one_line_error(run(net))
    assert f"{net}:4:" in line and "'zz_device'" in line and "--types" in line
    net.write_text(UNMODELLED + ".subckt other a\nm0 a a a a nch\n.ends other\n")
    line = _one_line_error(run(net))
    assert "(amp, other)" in line and "--top NAME" in line
    assert run(net, "--top", "other").exit_code == 0
