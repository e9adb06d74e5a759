"""The MAGICAL pieces: recording during placeOnly, a decision before routeOnly, the
net-weight enumeration driver and the example script, on stand-in MAGICAL modules."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from magical_run import DESIGNS, NETLISTS, REPO, STANDIN, design, run_flow, standin

from magical_prune.adapters.magical import load_placement, read_weights
from magical_prune.errors import MagicalPruneError
from magical_prune.features import extract
from magical_prune.hook import Decision
from magical_prune.integrations.ideaplace import RecordingPlacer
from magical_prune.integrations.magical import (
    EnumerationConfig,
    NetWeightEnumeration,
    prune_after_place,
    record_placers,
)
from magical_prune.refflow import netweights

OTA5T_SYM = "M1 M2\nM3 M4\nM5\n"


class OddHook:
    """Prunes odd candidates; remembers what it was asked and told."""

    def __init__(self) -> None:
        self.asked: list = []
        self.updates: list = []

    def __call__(self, placement):
        self.asked.append(placement)
        prune = len(self.asked) % 2 == 0
        return Decision(prune, 0.9 if prune else 0.1, "odd" if prune else "even")

    def update(self, placement, performance) -> bool:
        self.updates.append((placement, dict(performance)))
        return True


def _pair_distance(candidate) -> dict[str, float]:
    p = candidate.placement
    c = (p.rects[:, :2] + p.rects[:, 2:]) / 2
    i, j = p.names.index("M1"), p.names.index("M2")
    return {"Offset_Voltage": float(np.abs(c[i] - c[j]).sum()) * 1e-9}


@pytest.fixture
def ota5t(tmp_path):
    with standin() as mods:
        run = run_flow(mods, design(tmp_path, NETLISTS / "ota5t.sp", OTA5T_SYM))
        yield mods, run


def test_enumeration_places_decides_routes_and_feeds_back(ota5t, tmp_path):
    mods, run = ota5t
    pnr = run.flow.pnrs[-1]
    routed_before = pnr.routed
    first = len(mods.IdeaPlaceExPy.INSTANCES)
    hook = OddHook()
    simulated = []

    def simulate(candidate):
        simulated.append(candidate.index)
        assert candidate.routed  # results come after routing
        return _pair_distance(candidate)

    enumeration = NetWeightEnumeration(
        hook, mods.IdeaPlaceExPy, EnumerationConfig(count=6, seed=3, layouts=tmp_path / "lay"),
        simulate=simulate, netlist=run.params.spectre_netlist,
    )  # fmt: skip
    summary = enumeration.run_pnr(pnr, 0, run.params.resultDir)

    # the critical nets: named multi-pin nets that are not power
    assert set(summary.critical_nets) == {"n1", "tail", "OUT", "IBN"}
    assert len(summary.candidates) == 6
    kept = [c.index for c in summary.candidates if not c.decision.prune]
    assert kept == [0, 2, 4] and summary.pruned == 3
    assert pnr.routed - routed_before == 3 == summary.routed  # routing only for kept ones
    assert simulated == kept
    assert [u[1] for u in hook.updates] == [summary.candidates[k].performance for k in kept]
    assert [u[0] for u in hook.updates] == [summary.candidates[k].placement for k in kept]

    placers = mods.IdeaPlaceExPy.INSTANCES[first:]
    assert len(placers) == 6 and len({id(p) for p in placers}) == 6  # a fresh placer each
    names = list(summary.critical_nets)
    for k, (candidate, placer) in enumerate(zip(summary.candidates, placers)):
        mask = int(netweights.subsets([k], len(names), 3)[0])
        expected = netweights.weights_for(mask, names, names)
        assert candidate.weights == expected
        fed = {placer.net_names[i]: w for i, w in enumerate(placer.net_weights)}
        assert {n: fed[n] for n in names} == expected  # set before solve, on the placer
        assert fed["VDD"] == fed["VSS"] == 0  # power nets keep the driver's weight
        # setNetWgt came after the net was built and before solve
        calls = [c[0] for c in placer.calls]
        assert calls.index("solve") > max(i for i, c in enumerate(calls) if c == "setNetWgt")
        assert read_weights(candidate.folder / "weight.txt") == candidate.placement.weights
    rects = {c.placement.rects.tobytes() for c in summary.candidates}
    assert len(rects) > 1  # other weights, other placements

    for candidate in summary.candidates:  # every candidate is a layout folder
        back = load_placement(candidate.folder)
        assert np.array_equal(extract(back, 16), extract(candidate.placement, 16))
        assert (candidate.folder / "performance.txt").exists() == (candidate.index in kept)


def test_a_decision_after_place_only(ota5t):
    mods, run = ota5t
    pnr = mods.PnR.PnR(run.db)
    with pytest.raises(MagicalPruneError, match="record_placers"):
        pnr.placeOnly(0, run.params.resultDir)
        prune_after_place(pnr, OddHook())
    with record_placers(mods.IdeaPlaceExPy) as made:
        pnr.placeOnly(0, run.params.resultDir)
    assert mods.IdeaPlaceExPy.IdeaPlaceEx.__name__ == "IdeaPlaceEx"  # restored
    assert isinstance(pnr.p.placer, RecordingPlacer) and made == [pnr.p.placer]
    hook = OddHook()
    candidate = prune_after_place(pnr, hook, netlist=run.params.spectre_netlist)
    assert candidate.decision.reason == "even" and hook.asked == [candidate.placement]
    assert candidate.weights == {"VDD": 0.0, "VSS": 0.0}


def test_factory_restored_after_an_error(ota5t):
    mods, _ = ota5t
    original = mods.IdeaPlaceExPy.IdeaPlaceEx
    with pytest.raises(RuntimeError), record_placers(mods.IdeaPlaceExPy):
        raise RuntimeError("placement failed")
    assert mods.IdeaPlaceExPy.IdeaPlaceEx is original


def test_a_placement_that_cannot_be_built_is_kept(ota5t, caplog):
    """No netlist and no types: M1/M2 cannot be typed, so the candidate is kept (fail open)."""
    mods, run = ota5t
    hook = OddHook()
    enumeration = NetWeightEnumeration(hook, mods.IdeaPlaceExPy, EnumerationConfig(count=2))
    summary = enumeration.run_pnr(run.flow.pnrs[-1], 0, run.params.resultDir)
    assert [c.decision.prune for c in summary.candidates] == [False, False]
    assert all(c.placement is None and math.isnan(c.decision.score) for c in summary.candidates)
    assert "unknown device type" in summary.candidates[0].decision.reason
    assert hook.asked == [] and summary.routed == 2


def test_unknown_critical_net_is_an_error(ota5t):
    mods, run = ota5t
    enumeration = NetWeightEnumeration(
        OddHook(), mods.IdeaPlaceExPy, EnumerationConfig(critical_nets=("nope",))
    )
    with pytest.raises(MagicalPruneError, match="'nope'"):
        enumeration.run_pnr(run.flow.pnrs[-1], 0, run.params.resultDir)


def _example(args: list[str], cwd: Path) -> subprocess.CompletedProcess:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(STANDIN), str(cwd)])
    return subprocess.run(
        [sys.executable, str(REPO / "examples" / "magical_flow_with_pruning.py"), *args],
        cwd=cwd, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip


def test_example_script_runs_with_the_standin_magical(tmp_path):
    config = design(tmp_path, DESIGNS / "ota3" / "ota3.sp")
    (tmp_path / "mysim.py").write_text(
        "def evaluate(candidate):\n"
        "    assert candidate.placed.routed >= 1\n"
        "    return {'Offset_Voltage': 1e-4 * (1 + candidate.index)}\n"
    )
    done = _example(
        [str(config), "-n", "5", "--simulate", "mysim:evaluate", "--layouts", "lay",
         "--log", "decisions.jsonl", "--json"],
        tmp_path,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    assert summary["candidates"] == 5
    assert summary["routed"] == summary["simulated"] == 5 - summary["pruned"]
    assert len((tmp_path / "decisions.jsonl").read_text().splitlines()) == 5
    assert len(list((tmp_path / "lay").iterdir())) == 5
    assert (tmp_path / "result" / "ota3.route.txt").exists()
    again = _example([str(config), "-n", "1", "--layouts", "lay"], tmp_path)
    assert again.returncode == 2 and "--force" in again.stderr  # never overwritten silently


def test_example_script_errors_are_one_line(tmp_path):
    config = design(tmp_path, DESIGNS / "ota3" / "ota3.sp")
    done = _example([str(config), "-n", "2", "--simulate", "nosuchmodule:f"], tmp_path)
    assert done.returncode == 2
    assert done.stderr.strip().count("\n") == 0 and "error:" in done.stderr
    env_less = subprocess.run(
        [sys.executable, str(REPO / "examples" / "magical_flow_with_pruning.py"), str(config)],
        cwd=tmp_path, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert env_less.returncode == 2 and "PYTHONPATH" in env_less.stderr


def test_example_script_with_the_geometry_learner(tmp_path):
    """--learner geometry: no model; it keeps every candidate until --min-results results
    came back, fits on them, then decides (and logs each decision)."""
    config = design(tmp_path, DESIGNS / "ota3" / "ota3.sp")
    (tmp_path / "mysim.py").write_text(
        "def evaluate(candidate):\n"
        "    return {'Offset_Voltage': 1e-4 * (1 + candidate.index % 7)}\n"
    )
    done = _example(
        [str(config), "-n", "12", "--learner", "geometry", "--min-results", "8",
         "--min-prune-share", "0.25", "--for-margin", "1", "--simulate", "mysim:evaluate",
         "--log", "decisions.jsonl", "--state", "state", "--json"],
        tmp_path,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    assert summary["learner"] == "geometry" and summary["candidates"] == 12
    assert summary["finetunes"] >= 1  # fitted once 8 results were back
    lines = [json.loads(line) for line in (tmp_path / "decisions.jsonl").read_text().splitlines()]
    assert len(lines) == 12 and not any(d["prune"] for d in lines[:8])
    assert lines[0]["threshold"] is None  # nothing pruned while learning: no infinity in JSON
    assert all("learning" in d["reason"] for d in lines[:8])
    saved = json.loads((tmp_path / "state" / "state.json").read_text())
    assert saved["config"]["for_margin"] == 1.0 and saved["config"]["min_prune_share"] == 0.25
    wrong = _example([str(config), "--learner", "geometry", "--model", "x.pt"], tmp_path)
    assert wrong.returncode == 2 and "--learner cnn" in wrong.stderr
