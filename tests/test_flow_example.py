"""examples/flow_with_pruning.py: the enumeration loop with the hook, on a tiny scale.

The flow runs on ota4 (24 candidates, half of them held out) with the small model of the
pruning fixtures (16x16, trained on the hand-written ``tiny`` design). Its start threshold
is 0 so that every candidate is pruned except the ones the hook explores: the held-out
measurement path (pruned candidates simulated for measurement only) is then always taken,
and the explored ones give the feedback that triggers fine-tuning.
"""

from __future__ import annotations

import importlib.util
import json
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

pytestmark = [
    pytest.mark.ngspice,
    pytest.mark.skipif(shutil.which("ngspice") is None, reason="ngspice not on PATH"),
]

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "flow_with_pruning.py"


def _load_example():
    spec = importlib.util.spec_from_file_location("flow_with_pruning", EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while defining
    spec.loader.exec_module(module)
    return module


flow = _load_example()


@pytest.fixture(scope="module")
def runs(tiny, tmp_path_factory):
    """The same small flow run twice through the command line, with --out and --log."""
    root = tmp_path_factory.mktemp("flow")
    args = ["--design", "ota4", "-n", "24", "--model", str(tiny.model), "--holdout", "0.5",
            "--threshold", "0", "--explore", "0.3", "--min-results", "4", "--refit-every", "4",
            "--jobs", "1", "--sim-group", "4", "--no-progress", "--json"]  # fmt: skip
    out = []
    for i in range(2):
        result = CliRunner().invoke(
            flow.main, [*args, "--out", str(root / f"run{i}"), "--log", str(root / f"log{i}")]
        )
        assert result.exit_code == 0, result.output
        summary = json.loads(result.stdout.strip().splitlines()[-1])
        folder = root / f"run{i}" / "ota4"
        records = [json.loads(line) for line in (folder / "flow.jsonl").read_text().splitlines()]
        out.append((summary, records, folder, root / f"log{i}"))
    return out


def test_counts_add_up(runs):
    s, records, folder, log = runs[0]
    assert s["candidates"] == len(records) == 24
    assert s["placed"] + s["placement_failures"] == 24
    assert s["pruned"] + s["kept"] == s["placed"]
    assert s["simulated"] == s["kept"] == sum(r["simulated_by_flow"] for r in records)
    assert s["simulations_saved"] == s["pruned"] > 0
    assert s["explored"] == s["kept"]  # threshold 0: only explored candidates are kept
    # every decision was logged, once
    assert len(log.read_text().splitlines()) == s["placed"]


def test_measurement_only_results_never_reach_the_hook(runs):
    s, records, folder, _ = runs[0]
    measured = [r for r in records if r["measured_only"]]
    assert measured, "threshold 0 prunes held-out candidates: they must be measured"
    assert all(r["held_out"] and r["prune"] and not r["fed_back"] for r in measured)
    assert s["held_out"]["measured_only"] == len(measured)
    fed = [r for r in records if r["fed_back"]]
    assert all(r["simulated_by_flow"] and not r["prune"] for r in fed)
    assert s["hook"]["results_fed_back"] == len(fed)
    assert s["hook"]["finetunes"] >= 1
    # the hook's saved results are exactly the flow's fed-back ones
    with np.load(folder / "hook_state" / "results.npz") as saved:
        assert sorted(saved["sources"]) == sorted(r["name"] for r in fed)


def test_for_is_measured_on_the_held_out_sample(runs):
    from magical_prune.labels import label_by_rank

    s, records, _, _ = runs[0]
    held = [r for r in records if r["held_out"] and r["performance"]]
    assert s["held_out"]["with_result"] == len(held) == 12
    values = np.array([r["performance"]["CMRR"] for r in held])
    bad = label_by_rank(values, "CMRR", 25.0).labels.astype(bool)
    kept = np.array([not r["prune"] for r in held])
    ho = s["held_out"]
    assert ho["kept"] == kept.sum()
    assert ho["kept_bad"] == (bad & kept).sum()
    assert ho["for"] == pytest.approx((bad & kept).sum() / kept.sum())
    assert ho["base_rate"] == pytest.approx(bad.mean())


def test_layouts_written_are_the_evaluated_ones(runs):
    from magical_prune.adapters.magical import load_placement, read_performance

    _, records, folder, _ = runs[0]
    evaluated = {r["name"] for r in records if r["simulated_by_flow"] or r["measured_only"]}
    written = {p.name for p in folder.iterdir() if p.is_dir() and p.name.startswith("ota4_")}
    assert written == evaluated
    r = next(r for r in records if r["name"] in written and r["performance"])
    layout = folder / r["name"]
    assert read_performance(layout / "performance.txt")["CMRR"] == pytest.approx(
        r["performance"]["CMRR"]
    )
    assert len(load_placement(layout / "place.result").names) > 0


def test_same_seed_same_figures(runs):
    (a, ra, _, _), (b, rb, _, _) = runs
    a, b = dict(a), dict(b)
    a.pop("seconds"), b.pop("seconds")
    assert a == b
    assert ra == rb


def test_measure_for_by_hand():
    """Eight held-out candidates, CMRR 1..8 dB: worst 25% = the two lowest (1, 2); the
    kept one of CMRR 2 was kept only to explore, plus one kept outside the sample."""
    decided = [(1, True), (2, False), (3, False), (4, True), (5, False), (6, False),
               (7, False), (8, True)]  # fmt: skip
    cands = [
        flow.Candidate(
            k,
            f"d_{k}",
            [],
            held_out=True,
            placed=True,
            prune=prune,
            explored=cmrr == 2,
            simulated_by_flow=not prune,
            measured_only=prune,
            performance={"CMRR": float(cmrr)},
        )  # fmt: skip
        for k, (cmrr, prune) in enumerate(decided)
    ]
    cands.append(flow.Candidate(8, "d_8", [], held_out=False, placed=True, prune=False,
                                simulated_by_flow=True, performance={"CMRR": 1.5}))  # fmt: skip
    ho = flow.measure_for(cands, "CMRR")
    assert ho["critical_value"] == 2.0
    assert (ho["kept"], ho["kept_bad"]) == (5, 1)  # kept: 2, 3, 5, 6, 7; bad kept: 2
    assert ho["for"] == pytest.approx(1 / 5)
    assert ho["base_rate"] == pytest.approx(2 / 8)
    assert ho["bad_pruned"] == pytest.approx(1 / 2)
    assert ho["good_pruned"] == pytest.approx(2 / 6)
    # all kept by the flow: 2, 3, 5, 6, 7 and 1.5; bad (<= 2 dB): 2 and 1.5
    assert ho["all_kept"] == 6
    assert ho["for_all_kept"] == pytest.approx(2 / 6)
    assert ho["for_all_kept_not_explored"] == pytest.approx(1 / 5)


def test_bad_inputs_are_one_line_errors(tmp_path, tiny):
    runner = CliRunner()
    result = runner.invoke(flow.main, ["--design", "ota9", "--model", str(tiny.model)])
    assert result.exit_code == 2 and result.stderr.startswith("error:")
    assert "ota4" in result.stderr  # did you mean / known names
    result = runner.invoke(flow.main, ["--model", str(tmp_path / "missing.pt")])
    assert result.exit_code == 2 and "model file not found" in result.stderr
    (tmp_path / "ota4").mkdir()
    (tmp_path / "ota4" / "keep.txt").write_text("mine")
    result = runner.invoke(flow.main, ["--model", str(tiny.model), "--out", str(tmp_path)])
    assert result.exit_code == 2 and "--force" in result.stderr
    assert (tmp_path / "ota4" / "keep.txt").read_text() == "mine"
    result = runner.invoke(flow.main, ["--model", str(tiny.model), "--max-good-pruned", "1.5"])
    assert result.exit_code == 2 and "--max-good-pruned" in result.stderr
    result = runner.invoke(flow.main, ["--model", str(tiny.model), "--min-prune-share", "0.25"])
    assert result.exit_code == 2 and "--learner geometry" in result.stderr
    result = runner.invoke(flow.main, ["--learner", "geometry", "--for-margin", "-1"])
    assert result.exit_code == 2 and "--for-margin" in result.stderr


def test_help_names_the_options():
    result = CliRunner().invoke(flow.main, ["--help"])
    assert result.exit_code == 0
    for option in ("--design", "--model", "--target-for", "--holdout", "--json", "--out"):
        assert option in result.output


def test_no_feedback_leaves_the_model_as_is(tiny):
    result = CliRunner().invoke(
        flow.main,
        [
            "-n",
            "8",
            "--model",
            str(tiny.model),
            "--min-results",
            "2",
            "--no-feedback",
            "--jobs",
            "1",
            "--no-progress",
            "--json",
        ],  # fmt: skip
    )
    assert result.exit_code == 0, result.output
    s = json.loads(result.stdout.strip().splitlines()[-1])
    assert s["simulated"] == s["kept"] > 0
    assert s["hook"]["results_fed_back"] == s["hook"]["finetunes"] == 0


def test_geometry_learner_learns_from_the_flow_alone(tmp_path):
    """--learner geometry: no model file; every candidate kept until --min-results results,
    then the hook fits on them (a fit counts as a fine-tuning in the summary)."""
    args = ["--learner", "geometry", "-n", "20", "--min-results", "8", "--holdout", "0.2",
            "--jobs", "1", "--sim-group", "4", "--no-progress", "--json", "--for-margin", "0.5",
            "--out", str(tmp_path / "run")]  # fmt: skip
    result = CliRunner().invoke(flow.main, args)
    assert result.exit_code == 0, result.output
    s = json.loads(result.stdout.strip().splitlines()[-1])
    assert s["model"]["arch"] == "geometry"
    assert s["hook"]["results_fed_back"] >= 8
    assert s["hook"]["finetunes"] >= 1
    assert s["hook"]["pruned_before_first_finetune"] == 0
    state = json.loads((tmp_path / "run" / "ota4" / "hook_state" / "state.json").read_text())
    assert state["chosen"].startswith("ridge-")  # too few labels for trees
    assert state["config"]["min_prune_share"] == 0.0
    assert state["config"]["for_margin"] == 0.5
