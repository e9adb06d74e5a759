"""PruneHook: decisions, the JSONL log, failing open, feedback, fine-tuning, save/resume."""

from __future__ import annotations

import json
import logging
import shutil
import threading

import numpy as np
import pytest
import torch
from pruning_fixtures import SIZE

from magical_prune import Decision, Predictor, PruneHook
from magical_prune.adapters.magical import load_placement, read_performance
from magical_prune.calibrate import calibrate_threshold
from magical_prune.features import FeatureStack, extract
from magical_prune.hook import HookConfig, weighted_rank_labels
from magical_prune.labels import label_by_rank


@pytest.fixture(scope="module")
def placements(tiny):
    return [load_placement(p) for p in tiny.layouts[:40]]


def perf(tiny, k):
    return read_performance(tiny.layouts[k] / "performance.txt")


def broken_layout(tmp_path, tiny):
    """A copy of a layout whose place.result has a 4-field line 2."""
    design = tmp_path / "tiny"
    design.mkdir()
    for f in tiny.design.iterdir():
        if f.is_file():
            shutil.copy(f, design / f.name)
    folder = design / "tiny_x"
    shutil.copytree(tiny.layouts[0], folder)
    lines = (folder / "place.result").read_text().splitlines()
    lines[1] = " ".join(lines[1].split()[:4])
    (folder / "place.result").write_text("\n".join(lines) + "\n")
    return folder


def quiet(**kw):
    """Deterministic settings: no exploration, fine-tuning inside update()."""
    return HookConfig(**{"explore": 0.0, "background": False, "epochs": 2, **kw})


def test_decisions_follow_score_and_threshold(tiny, placements):
    p = Predictor.load(tiny.model)
    scores = p.score(placements[:6])
    t = float(np.median(scores))
    hook = PruneHook(p, threshold=t, config=quiet())
    decisions = [hook(x) for x in placements[:6]]
    assert all(isinstance(d, Decision) for d in decisions)
    assert [d.prune for d in decisions] == (scores >= t).tolist()
    assert [d.score for d in decisions] == pytest.approx(scores.tolist())
    assert all(d.threshold == t for d in decisions)
    assert ">=" in next(d.reason for d in decisions if d.prune)
    # a path gives the same answer as the loaded placement
    assert hook(str(tiny.layouts[0])).score == pytest.approx(scores[0])
    assert hook.counters["decisions"] == 7 and hook.counters["failed"] == 0


def test_every_decision_is_logged_as_one_json_line(tmp_path, tiny, placements):
    log = tmp_path / "decisions.jsonl"
    hook = PruneHook(tiny.model, log=log, config=quiet())
    d1 = hook(placements[0])
    d2 = hook(tmp_path / "missing")
    records = [json.loads(line) for line in log.read_text().splitlines()]
    assert len(records) == 2
    assert set(records[0]) == {"time", "source", "id", "score", "threshold", "prune", "reason",
                               "model_version"}  # fmt: skip
    assert records[0]["score"] == pytest.approx(d1.score, abs=1e-6)
    assert records[0]["prune"] == d1.prune and records[0]["source"].endswith("place.result")
    assert records[1]["score"] is None and records[1]["prune"] is False
    assert records[1]["reason"] == d2.reason and "missing" in d2.reason


def test_fails_open_on_unreadable_model(tmp_path, tiny, placements, caplog):
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"garbage")
    with caplog.at_level(logging.WARNING, logger="magical_prune.hook"):
        hook = PruneHook(bad, log=tmp_path / "log.jsonl")
        d = hook(placements[0])
    assert not d.prune and np.isnan(d.score) and "not a readable model file" in d.reason
    assert "pruning disabled" in caplog.text and hook.load_error
    assert not hook.update(placements[0], perf(tiny, 0))  # no model: feedback ignored
    assert json.loads((tmp_path / "log.jsonl").read_text())["prune"] is False


def test_fails_open_on_bad_candidates(tmp_path, tiny, placements, caplog):
    hook = PruneHook(tiny.model, threshold=0.0, config=quiet())  # would prune everything
    wrong_size = FeatureStack(extract(placements[0], 32), 32, "exact")
    nan = FeatureStack(np.full((6, 3, SIZE, SIZE), np.nan, np.float32), SIZE, "exact")
    broken = broken_layout(tmp_path, tiny)
    with caplog.at_level(logging.WARNING, logger="magical_prune.hook"):
        for item, why in [(wrong_size, "32x32"), (nan, "NaN"), (broken, "place.result:2"),
                          (42, "expected a Placement")]:  # fmt: skip
            d = hook(item)
            assert not d.prune and np.isnan(d.score) and why in d.reason, d.reason
    assert caplog.text.count("kept: scoring failed") == 4
    assert hook(placements[0]).prune  # the hook still works afterwards


def test_exploration_keeps_a_seeded_share_of_would_be_pruned(tiny, placements):
    def run():
        hook = PruneHook(tiny.model, threshold=0.0, config=quiet(explore=0.5, seed=3))
        return hook, [hook(p) for p in placements[:20]]

    hook, decisions = run()
    explored = [d for d in decisions if d.reason.startswith("explore")]
    assert 0 < len(explored) < 20 and all(not d.prune for d in explored)
    assert hook.counters["explored"] == len(explored)
    assert [d.prune for d in run()[1]] == [d.prune for d in decisions]  # same seed, same draws
    k = next(i for i, d in enumerate(decisions) if not d.prune)
    assert hook.update(placements[k], perf(tiny, k))
    assert hook._results.weights == [2.0]  # kept with probability 1/2


def test_explored_results_stand_for_the_candidates_counted(tiny, placements, monkeypatch):
    import magical_prune.hook as hook_module
    from magical_prune.errors import MagicalPruneError
    from magical_prune.online.retrain import Goal, result_weights

    goals = []

    def capture(parent, results, config, goal):
        goals.append((goal, hook.counters["pruned"], hook.counters["explored"]))
        raise MagicalPruneError("captured")  # a failed refit keeps the current model

    monkeypatch.setattr(hook_module, "refit", capture)
    hook = PruneHook(tiny.model, threshold=0.0,
                     config=quiet(explore=0.5, seed=3, min_results=2, refit_every=2))  # fmt: skip
    for k, p in enumerate(placements[:20]):
        if not hook(p).prune:
            hook.update(p, perf(tiny, k))
    assert len(goals) >= 2
    for goal, pruned, explored in goals:
        assert goal.explored_weight == pytest.approx((pruned + explored) / explored)
    assert any(pruned != explored for _, pruned, explored in goals)  # not the nominal 1 / 0.5
    goal = Goal("Offset_Voltage", 25.0, 0.1, 0.5, True, 0, explored_weight=3.0)
    np.testing.assert_allclose(result_weights(np.array([1.0, 2.0, 1.0]), goal), [1, 3, 1])
    nominal = Goal("Offset_Voltage", 25.0, 0.1, 0.5, True, 0)
    np.testing.assert_allclose(result_weights(np.array([1.0, 2.0]), nominal), [1, 2])


def test_weighted_rank_labels():
    values = np.array([1e-3, -5e-3, 2e-3, 4e-3, 0.5e-3, -3e-3, 1.5e-3, 0.2e-3])
    labels, critical = weighted_rank_labels(values, "Offset_Voltage", 25.0, np.ones(8))
    ref = label_by_rank(values, "Offset_Voltage", 25.0)
    assert labels.tolist() == ref.labels.tolist() and critical == ref.critical_value
    # badness 5, 4, 3, 2, ... mV; weights put 30% of the mass on the worst alone
    w = np.array([1, 3, 1, 1, 1, 1, 1, 1], dtype=float)
    labels, critical = weighted_rank_labels(values, "Offset_Voltage", 25.0, w)
    assert labels.tolist() == [0, 1, 0, 0, 0, 0, 0, 0] and critical == pytest.approx(5e-3)


def test_feedback_triggers_fewshot_finetuning_and_recalibration(tiny, placements):
    parent = Predictor.load(tiny.model)
    before = {k: v.clone() for k, v in parent.model.state_dict().items()}
    hook = PruneHook(parent, target_for=0.2, config=quiet(min_results=8, refit_every=4))
    for k in range(7):
        hook(placements[k])
        assert hook.update(placements[k], perf(tiny, k))
    assert hook.version == 0 and hook.predictor is parent
    hook(placements[7])
    assert hook.update(placements[7], perf(tiny, 7))
    assert hook.version == 1 and hook.counters["finetunes"] == 1
    new = hook.predictor
    assert new is not parent and new.meta["online"]["n_results"] == 8
    assert new.meta["online"]["n_bad"] == 2  # worst 25% of 8, by rank among themselves
    changed = any(not torch.equal(before[k], v) for k, v in new.model.state_dict().items())
    assert changed
    assert all(torch.equal(before[k], v) for k, v in parent.model.state_dict().items())
    assert hook.history[0]["calibration"]["target_for"] == 0.2
    assert hook.threshold == new.threshold == hook.history[0]["threshold"]
    d = hook(placements[8])
    assert d.threshold == hook.threshold and d.score == pytest.approx(new.score(placements[8])[0])
    for k in range(8, 11):
        hook.update(placements[k], perf(tiny, k))
    assert hook.version == 1  # 3 new results < refit_every
    hook.update(placements[11], perf(tiny, 11))
    assert hook.version == 2


def test_recalibration_that_would_prune_most_good_results_prunes_nothing(tiny, placements):
    """Same feedback, same fine-tuning: with no limit the threshold is the calibrated one;
    with a limit below the good results that threshold prunes, the hook prunes nothing."""
    runs = {}
    for limit in (None, 0.0):
        hook = PruneHook(
            tiny.model, target_for=0.2, config=quiet(min_results=8, max_good_pruned=limit)
        )
        for k in range(8):
            hook(placements[k])
            hook.update(placements[k], perf(tiny, k))
        runs[limit] = hook
    cal = runs[None].history[0]["calibration"]
    assert cal["feasible"] and cal["good_pruned"] > 0.0  # keep-all FOR is 25%
    assert runs[None].threshold == pytest.approx(cal["threshold"]) and runs[None].threshold <= 1
    assert runs[0.0].history[0]["calibration"]["uninformative"] is True
    assert runs[0.0].threshold > 1.0  # NO_PRUNE
    assert not any(runs[0.0](p).prune for p in placements[8:20])


def test_recalibration_counts_the_explored_candidates(tiny, placements, monkeypatch):
    """The explored share of the candidates above the threshold is kept, so the
    recalibration's FOR counts it (magical_prune.calibrate.for_curve's ``explored``); the
    margin goes with it."""
    import magical_prune.online.retrain as retrain

    seen = []

    def spy(*args, **kwargs):
        seen.append(args[4:])
        return calibrate_threshold(*args, **kwargs)

    monkeypatch.setattr(retrain, "calibrate_threshold", spy)
    config = quiet(min_results=8, explore=0.3, for_margin=1.5)
    hook = PruneHook(tiny.model, target_for=0.2, config=config)
    for k in range(8):
        hook(placements[k])
        hook.update(placements[k], perf(tiny, k))
    assert hook.version == 1 and seen == [(0.3, 1.5)]
    with pytest.raises(Exception, match="for_margin"):
        HookConfig(for_margin=-1.0)


def test_max_good_pruned_is_checked():
    with pytest.raises(Exception, match="max_good_pruned"):
        HookConfig(max_good_pruned=1.5)


def test_fixed_threshold_is_not_recalibrated(tiny, placements):
    hook = PruneHook(tiny.model, threshold=0.42, config=quiet(min_results=8))
    for k in range(8):
        hook.update(placements[k], perf(tiny, k))
    assert hook.version == 1 and hook.threshold == 0.42


def test_decisions_do_not_wait_for_background_finetuning(tiny, placements, monkeypatch):
    hook = PruneHook(tiny.model, config=HookConfig(min_results=4, explore=0.0, epochs=1))
    started, release = threading.Event(), threading.Event()
    real = hook._finetune

    def slow(parent, results):
        started.set()
        release.wait(30)
        return real(parent, results)

    monkeypatch.setattr(hook, "_finetune", slow)
    for k in range(4):
        hook.update(placements[k], perf(tiny, k))
    assert started.wait(30)
    d = hook(placements[5])  # answered while fine-tuning is blocked
    assert not np.isnan(d.score) and hook.version == 0
    release.set()
    assert hook.wait(60)
    assert hook.version == 1


def test_bad_feedback_is_ignored(tiny, placements, caplog):
    hook = PruneHook(tiny.model, config=quiet())
    with caplog.at_level(logging.WARNING, logger="magical_prune.hook"):
        assert not hook.update(placements[0], {"CMRR": 60.0})
        assert not hook.update(placements[0], {"Offset_Voltage": float("nan")})
    assert "no 'Offset_Voltage'" in caplog.text and "not finite" in caplog.text
    assert len(hook._results) == 0
    # a result for a candidate the hook never decided is scored now
    assert hook.update(placements[1], perf(tiny, 1))
    assert hook._results.scores == pytest.approx(hook.predictor.score(placements[1]).tolist())


def test_save_and_resume(tmp_path, tiny, placements):
    hook = PruneHook(tiny.model, target_for=0.2,
                     config=quiet(min_results=8, explore=0.3, seed=1))  # fmt: skip
    for k in range(10):
        if not hook(placements[k]).prune:
            hook.update(placements[k], perf(tiny, k))
    hook(placements[20])  # decided, feedback still pending at save time
    state = hook.save(tmp_path / "state")
    assert {p.name for p in state.iterdir()} == {"model.pt", "results.npz", "state.json"}
    resumed = PruneHook.resume(state)
    assert resumed.version == hook.version and resumed.threshold == hook.threshold
    assert resumed.counters == hook.counters and resumed.target_for == 0.2
    assert len(resumed._results) == len(hook._results)
    np.testing.assert_allclose(np.stack(resumed._results.images), np.stack(hook._results.images))
    assert list(resumed._pending) == list(hook._pending)
    # the saved model is a normal checkpoint giving the same scores
    assert Predictor.load(state / "model.pt").score(placements[30]) == pytest.approx(
        hook.predictor.score(placements[30])
    )
    # both continue identically (same model, threshold and exploration draws)
    a = [hook(p) for p in placements[21:35]]
    b = [resumed(p) for p in placements[21:35]]
    assert [(d.prune, d.reason) for d in a] == [(d.prune, d.reason) for d in b]


def test_resume_refuses_other_folders(tmp_path):
    from magical_prune.errors import MagicalPruneError

    with pytest.raises(MagicalPruneError, match="not a saved hook state"):
        PruneHook.resume(tmp_path)
    (tmp_path / "state.json").write_text('{"format": "something else"}')
    with pytest.raises(MagicalPruneError, match="no format marker"):
        PruneHook.resume(tmp_path)


def test_in_memory_arrays_decide_like_files(tiny):
    """The docs' from_arrays recipe gives the same score as loading the files."""
    from pruning_fixtures import TINY

    from magical_prune import Placement
    from magical_prune.adapters import magical

    layout = TINY / "tiny_1"
    names, rects = magical.read_place_result(layout / "place.result")
    um = rects / 1000.0
    pins = {k: tuple(v / 1000.0 for v in box)
            for k, box in magical.read_place_pin(layout / "place.pin").items()}  # fmt: skip
    right_hand = []  # MAGICAL mirrors the right-hand device of each symmetric pair
    for a, b in (("M0", "M1"), ("M2", "M3")):
        ia, ib = names.index(a), names.index(b)
        right_hand.append(b if um[ib, 0] + um[ib, 2] > um[ia, 0] + um[ia, 2] else a)
    p = Placement.from_arrays(
        names, um[:, 0], um[:, 1], um[:, 2] - um[:, 0], um[:, 3] - um[:, 1], pins=pins,
        nets=magical.read_connection(layout / "place.connection"),
        types=magical.read_types(TINY / "tiny.json"),
        channels=magical.read_channels(TINY / "tiny.channel"), mirrored=right_hand,
    )  # fmt: skip
    hook = PruneHook(tiny.model, config=quiet())
    assert hook(p).score == pytest.approx(hook(layout).score, abs=1e-7)
    again = Placement.from_arrays(names, um[:, 0] + 1.0, um[:, 1], um[:, 2] - um[:, 0],
                                  um[:, 3] - um[:, 1], pins=pins, nets={}, types={},
                                  circuit=p.circuit, mirrored=right_hand)  # fmt: skip
    assert hook(again).score == pytest.approx(hook(p).score, abs=1e-6)  # translation only


def test_fails_open_on_models_that_do_not_fit(tmp_path, tiny, placements, caplog):
    from magical_prune.checkpoint import read_checkpoint, save_checkpoint
    from magical_prune.features import IMAGE_NAMES
    from magical_prune.models import create_model

    state, meta = read_checkpoint(tiny.model)
    model = create_model("efficient", image_size=SIZE, **meta["model_kwargs"])
    model.load_state_dict(state)
    order = save_checkpoint(tmp_path / "order.pt", model,
                            {**meta, "channel_order": list(reversed(IMAGE_NAMES))})  # fmt: skip
    with torch.no_grad():
        model.fc.bias.fill_(float("nan"))
    nan = save_checkpoint(tmp_path / "nan.pt", model, meta)
    foreign = tmp_path / "foreign.pt"
    torch.save({"weights": torch.zeros(2)}, foreign)
    with caplog.at_level(logging.WARNING, logger="magical_prune.hook"):
        for path, why in [(order, "order"), (nan, "NaN"), (foreign, "not a magical-prune")]:
            d = PruneHook(path, threshold=0.0, config=quiet())(placements[0])
            assert not d.prune and np.isnan(d.score) and why in d.reason, d.reason
            assert why in caplog.text
