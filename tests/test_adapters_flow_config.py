"""MAGICAL's flow configuration ``<design>.json`` beside the netlist: recognised, never read
as a device-type file, and used to find the netlist."""

from __future__ import annotations

import contextlib
import json
import shutil
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from magical_prune.adapters import discovery, flow_config, magical
from magical_prune.errors import MagicalPruneError

TINY = Path(__file__).parent / "data" / "adapters" / "tiny"


@pytest.fixture()
def design(tmp_path: Path) -> Path:
    dest = tmp_path / "tiny"
    shutil.copytree(TINY, dest)
    discovery.clear_caches()
    return dest


@pytest.mark.parametrize(
    ("content", "is_config"),
    [
        ({"spectre_netlist": "a.sp", "resultDir": "./"}, True),
        ({"hspice_netlist": "a.sp"}, True),
        ({"techfile": "x", "lef": "y"}, True),
        ({"M0": "NMOS", "C0": "CAP"}, False),
        ({"M0": [1], "C0": [3]}, False),
        ([1, 2], False),
    ],
)
def test_is_flow_config(tmp_path, content, is_config):
    path = tmp_path / "d.json"
    path.write_text(json.dumps(content))
    assert flow_config.is_flow_config(path) is is_config


def test_not_json_is_not_a_config(tmp_path):
    (tmp_path / "d.json").write_text("{not json")
    assert not flow_config.is_flow_config(tmp_path / "d.json")
    (tmp_path / "d.txt").write_text('{"spectre_netlist": "a.sp"}')
    assert not flow_config.is_flow_config(tmp_path / "d.txt")  # only .json files


def test_netlist_is_resolved_against_the_configuration(tmp_path):
    (tmp_path / "net").mkdir()
    (tmp_path / "net" / "Core.sp").write_text("x")
    cfg = tmp_path / "cfg" / "d.json"
    cfg.parent.mkdir()
    cfg.write_text('{"hspice_netlist": "../net/Core.sp"}')
    assert flow_config.flow_config_netlist(cfg) == cfg.parent / "../net/Core.sp"
    cfg.write_text('{"spectre_netlist": 3}')
    with pytest.raises(MagicalPruneError, match="must be a file name"):
        flow_config.flow_config_netlist(cfg)
    cfg.write_text('{"techfile": "t"}')
    assert flow_config.flow_config_netlist(cfg) is None


def test_layout_with_a_flow_configuration_beside_the_netlist(design):
    (design / "tiny.json").write_text('{"spectre_netlist": "tiny.sp", "resultDir": "./"}')
    files = discovery.find_layout_files(design / "tiny_1")
    assert files.netlist == design / "tiny.sp" and files.types is None
    p = magical.load_placement(design / "tiny_1")
    assert p.circuit.devices["C0"].type.value == "CAP"  # from the model name, not the config
    assert magical.load_circuit(design / "tiny.sp").name == "tiny"


def test_configuration_picks_the_netlist_among_several(design):
    # MAGICAL's larger examples keep several netlists in one folder
    shutil.copy(design / "tiny.sp", design / "work.sp")
    (design / "tiny.sp").rename(design / "CORE.sp")
    (design / "tiny.json").write_text('{"spectre_netlist": "CORE.sp"}')
    assert discovery.find_layout_files(design / "tiny_1").netlist == design / "CORE.sp"
    assert magical.load_circuit(design).source == str(design / "CORE.sp")
    assert magical.load_circuit(design / "tiny.json").source == str(design / "CORE.sp")
    (design / "tiny.json").unlink()
    with pytest.raises(MagicalPruneError, match="several"):
        discovery.find_layout_files(design / "tiny_1")


VALUES = st.one_of(
    st.text(max_size=30), st.integers(), st.none(), st.lists(st.integers(), max_size=2),
    st.sampled_from(["tiny.sp", "../tiny/tiny.sp", "/", "", "x" * 5000, "a\x00b", "tiny_1"]),
)  # fmt: skip


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(config=st.dictionaries(st.sampled_from([*flow_config.NETLIST_KEYS, "lef", "M0"]), VALUES))
def test_any_configuration_gives_a_circuit_or_our_error(config):
    with tempfile.TemporaryDirectory() as tmp:
        design = Path(tmp) / "tiny"
        shutil.copytree(TINY, design)
        (design / "tiny.json").write_text(json.dumps(config))
        discovery.clear_caches()
        for target in (design / "tiny.json", design, design / "tiny_1"):
            with contextlib.suppress(MagicalPruneError):
                magical.load_circuit(target)
