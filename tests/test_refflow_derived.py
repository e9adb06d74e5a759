"""The reference flow on a user's netlist alone: derived symmetry, critical nets and bench."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from magical_prune.adapters import spectre
from magical_prune.adapters.magical import load_placement, read_performance, read_sym
from magical_prune.cli import main
from magical_prune.constraints import derive_symmetry
from magical_prune.refflow import netweights
from magical_prune.refflow.designs import load_design

FDOTA = Path(__file__).parent / "data" / "user_ota" / "fdota.sp"

pytestmark = pytest.mark.ngspice


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    if shutil.which("ngspice") is None:
        pytest.skip("ngspice is not installed")
    root = tmp_path_factory.mktemp("user")
    netlist = root / "my_ota.sp"
    shutil.copy(FDOTA, netlist)  # a netlist alone: no .sym, .json, .channel or bench
    args = ["refflow", "generate", str(netlist), "-o", str(root / "runs"), "-n", "6", "--json"]
    done = CliRunner().invoke(main, args)
    return root, netlist, done, args


def test_generate_works_from_the_netlist_alone(run):
    root, netlist, done, _ = run
    assert done.exit_code == 0, done.output
    summary = json.loads(done.stdout)
    assert summary["simulated"] == 6 and not summary["failed"]
    assert "note: no my_ota.sym; using the symmetry derived from the circuit" in done.stderr
    assert "note: no my_ota.bench.json" in done.stderr
    circuit = spectre.read_netlist(netlist)
    derived = derive_symmetry(circuit)
    out = root / "runs" / "my_ota"
    assert read_sym(out / "my_ota.sym").pairs == derived.pairs  # written beside the layouts
    # critical nets: the multi-pin signal nets, as for ota1-4
    design = load_design(netlist)
    assert summary["critical_nets"] == list(netweights.critical_nets(design.circuit))
    assert "VDD" not in summary["critical_nets"] and "INP" not in summary["critical_nets"]
    for k in range(6):
        layout = load_placement(out / f"my_ota_{k}")
        assert layout.circuit.symmetry.pairs == derived.pairs
        centre = (layout.rects[:, 0] + layout.rects[:, 2]) / 2
        index = {n: i for i, n in enumerate(layout.names)}
        axis = {centre[index[a]] + centre[index[b]] for a, b in derived.pairs}
        assert len(axis) == 1  # every derived pair is mirrored about one axis
        assert np.isfinite(read_performance(out / f"my_ota_{k}" / "performance.txt")["Gain"])


def test_rerun_resumes_with_the_same_derived_files(run):
    root, _, _, args = run
    again = CliRunner().invoke(main, args)
    assert again.exit_code == 0, again.output
    assert json.loads(again.stdout)["already_done"] == 6


def test_unconventional_ports_name_what_to_provide(tmp_path):
    netlist = tmp_path / "odd.sp"
    netlist.write_text(
        FDOTA.read_text().replace("INP", "A1").replace("INM", "A2").replace("OUTM", "Z2")
    )
    done = CliRunner().invoke(main, ["refflow", "generate", str(netlist), "-o",
                                     str(tmp_path / "runs"), "-n", "2"])  # fmt: skip
    assert done.exit_code == 2
    line = done.output.strip()
    assert line.count("\n") == 0 and line.startswith("error: ")
    assert "INP, INM, OUTM" in line and "odd.bench.json" in line and '"supplies"' in line
