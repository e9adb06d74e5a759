"""GeometryHook: learns a design from fed-back results, prunes after warm-up, fails open."""

from __future__ import annotations

import math

import numpy as np
import pytest

from magical_prune.adapters.discovery import load_placement
from magical_prune.calibrate import calibrate_threshold
from magical_prune.errors import MagicalPruneError
from magical_prune.geohook import GeometryHook, GeometryHookConfig, _counted_weights


@pytest.fixture(scope="module")
def tiny_placements(tiny):
    return [load_placement(p) for p in tiny.layouts]


def test_keeps_while_learning_then_prunes_the_bad(tiny_placements):
    hook = GeometryHook(GeometryHookConfig(min_results=32, target_for=0.15, seed=1))
    offsets = np.array([p.performance["Offset_Voltage"] for p in tiny_placements])
    bad = offsets > np.quantile(offsets, 0.75)
    decisions = []
    for i, placement in enumerate(tiny_placements):
        decision = hook(placement)
        decisions.append(decision)
        if i < 32:
            assert not decision.prune and "learning" in decision.reason
        if not decision.prune:
            assert hook.update(placement, placement.performance)
    assert hook.fits >= 2 and hook.learner is not None
    pruned = np.array([d.prune for d in decisions])
    later = np.arange(32, len(tiny_placements))
    assert pruned[later].mean() > 0.1  # it does prune
    kept = later[~pruned[later]]
    assert bad[kept].mean() < bad.mean()  # and what it keeps is better than random
    assert all(math.isfinite(d.score) for d in decisions[32:])
    # explored candidates say so as the CNN hook's do (the flow counts them by the reason)
    explored = sum(d.reason.startswith("explore:") for d in decisions)
    assert explored == hook.counters["explored"] > 0
    # every candidate was fed back or pruned: the weighted results stand for all of them
    drawn = np.array([r.weight for r in hook._results])
    assert (drawn > 1).any() and hook.pruned > 0
    assert _counted_weights(drawn, hook.pruned).sum() == pytest.approx(hook.decisions)


def test_explored_results_stand_for_the_candidates_counted():
    drawn = np.array([1.0, 1.0, 10.0, 10.0])
    np.testing.assert_allclose(_counted_weights(drawn, 18), [1, 1, 10, 10])
    np.testing.assert_allclose(_counted_weights(drawn, 8), [1, 1, 5, 5])  # drew more than 1/10
    np.testing.assert_allclose(_counted_weights(np.ones(3), 0), np.ones(3))


def test_fails_open(tiny_placements):
    hook = GeometryHook(GeometryHookConfig(min_results=8))
    for p in tiny_placements[:8]:
        hook.update(p, p.performance)
    assert hook.learner is not None
    decision = hook("not a placement")  # type: ignore[arg-type]
    assert not decision.prune and decision.reason.startswith("kept:")
    assert not hook.update(tiny_placements[9], {"CMRR": 80.0})  # no such metric: not collected
    assert not hook.update(tiny_placements[9], {"Offset_Voltage": float("nan")})


def test_config_is_checked():
    with pytest.raises(MagicalPruneError):
        GeometryHookConfig(explore=0.0)
    with pytest.raises(MagicalPruneError):
        GeometryHookConfig(min_results=2)
    for share in (-0.1, 1.0):
        with pytest.raises(MagicalPruneError, match="min_prune_share"):
            GeometryHookConfig(min_prune_share=share)
    for margin in (-1.0, math.nan):
        with pytest.raises(MagicalPruneError, match="for_margin"):
            GeometryHookConfig(for_margin=margin)


def test_calibration_counts_the_explored_candidates_and_takes_the_margin(
    tiny_placements, monkeypatch
):
    import magical_prune.geohook as geohook

    seen = []

    def spy(*args, **kwargs):
        seen.append(args[4:])
        return calibrate_threshold(*args, **kwargs)

    monkeypatch.setattr(geohook, "calibrate_threshold", spy)
    config = GeometryHookConfig(min_results=16, explore=0.2, for_margin=1.5)
    hook = GeometryHook(config)
    for p in tiny_placements[:16]:
        hook.update(p, p.performance)
    assert hook.fits == 1 and seen == [(0.2, 1.5)]


def _run(hook, placements):
    pruned = []
    for placement in placements:
        decision = hook(placement)
        pruned.append(decision.prune)
        if not decision.prune:
            hook.update(placement, placement.performance)
    return np.array(pruned)


def test_min_prune_share_prunes_at_least_that_share(tiny_placements):
    # a FOR target every candidate already meets: the calibration alone prunes nothing
    alone = GeometryHook(GeometryHookConfig(min_results=32, target_for=0.9, seed=1))
    assert not _run(alone, tiny_placements).any()
    shared = GeometryHook(GeometryHookConfig(min_results=32, target_for=0.9, seed=1,
                                             min_prune_share=0.3))  # fmt: skip
    pruned = _run(shared, tiny_placements)
    assert not pruned[:32].any()  # still keeps everything while learning
    # the worst-scored 30% / 0.95 of the recent candidates under each fit, less the
    # explored 5% of those: 30% (binomial noise on ~170 candidates: +-3.5%)
    assert 0.25 < pruned[32:].mean() < 0.4
    offsets = np.array([p.performance["Offset_Voltage"] for p in tiny_placements])
    bad = offsets > np.quantile(offsets, 0.75)
    assert bad[32:][pruned[32:]].mean() > bad.mean()  # the pruned ones are the worse ones


def test_save_resume_and_the_model_file(tiny_placements, tmp_path):
    from magical_prune.predict import load_scorer

    hook = GeometryHook(GeometryHookConfig(min_results=32, target_for=0.15, seed=1))
    _run(hook, tiny_placements[:100])
    hook.refit()  # the last fit on every result, as resume fits
    hook.save(tmp_path / "state")
    assert {p.name for p in (tmp_path / "state").iterdir()} == {
        "state.json",
        "results.npz",
        "model.pt",
    }
    again = GeometryHook.resume(tmp_path / "state")
    assert again.results == hook.results and again.threshold == hook.threshold
    counted = ("decisions", "pruned", "kept", "explored", "results")
    assert [again.counters[k] for k in counted] == [hook.counters[k] for k in counted]
    later = tiny_placements[100:]
    assert np.array_equal(
        again.learner.score_placements(later), hook.learner.score_placements(later)
    )
    model = load_scorer(tmp_path / "state" / "model.pt")
    raw = hook.learner.score_placements(later)
    # the file's probability threshold makes the hook's decisions on its raw scores
    assert np.array_equal(model.decide(model.score(later)), raw >= hook.threshold)


def test_save_resume_keeps_the_recent_candidates(tiny_placements, tmp_path):
    config = GeometryHookConfig(min_results=32, seed=1, min_prune_share=0.25)
    hook = GeometryHook(config)
    _run(hook, tiny_placements[:100])
    hook.save(tmp_path / "state")
    assert (tmp_path / "state" / "candidates.npz").exists()
    again = GeometryHook.resume(tmp_path / "state")
    assert len(again._recent) == len(hook._recent) == 100
    assert list(again._recent_pruned) == list(hook._recent_pruned) and any(hook._recent_pruned)
    hook.refit()  # the last fit on every result, as resume fits
    assert again.threshold == hook.threshold


def test_resume_of_a_damaged_state_is_one_error(tmp_path):
    (tmp_path / "state.json").write_text("{not json")
    with pytest.raises(MagicalPruneError, match="damaged geometry hook state"):
        GeometryHook.resume(tmp_path)


def test_min_prune_share_quantile_stands_kept_candidates_in_by_out_of_fold_scores(
    tiny_placements,
):
    """The kept candidates are the fit's training rows: their out-of-fold scores, not the
    fit's own (more extreme) ones, enter the quantile; pruned ones are scored by the fit."""
    hook = GeometryHook(GeometryHookConfig(min_results=32, seed=1, min_prune_share=0.25))
    pruned = _run(hook, tiny_placements[:120])
    assert pruned.any()
    hook.refit()
    scores = hook._recent_scores(hook.learner)
    kept = int((~pruned).sum())
    assert len(scores) == min(kept, len(hook.learner.oof_scores)) + int(pruned.sum())
    oof = hook.learner.oof_scores
    assert np.array_equal(scores[: min(kept, len(oof))], oof[len(oof) - min(kept, len(oof)) :])
    pruned_rows = [p for p, gone in zip(tiny_placements[:120], pruned) if gone]
    assert np.allclose(scores[min(kept, len(oof)) :],
                       hook.learner.score_placements(pruned_rows))  # fmt: skip
