"""Predictor (loading, features, scores, bad model files) and threshold calibration."""

from __future__ import annotations

import os
import pickle

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from pruning_fixtures import SIZE

from magical_prune import predict
from magical_prune.adapters.magical import load_placement
from magical_prune.calibrate import wilson_upper
from magical_prune.checkpoint import read_checkpoint, save_checkpoint
from magical_prune.errors import CheckpointError, MagicalPruneError
from magical_prune.features import IMAGE_NAMES, FeatureStack, extract
from magical_prune.metrics import classification_metrics
from magical_prune.models import create_model
from magical_prune.predict import (
    NO_PRUNE,
    Predictor,
    calibrate_checkpoint,
    calibrate_threshold,
    for_curve,
)


def save_variant(path, tiny, **meta_changes):
    """The fixture model re-saved with changed metadata (or weights via a callback)."""
    state, meta = read_checkpoint(tiny.model)
    touch = meta_changes.pop("touch", None)
    model = create_model("efficient", image_size=SIZE, **meta["model_kwargs"])
    model.load_state_dict(state)
    if touch is not None:
        touch(model)
    save_checkpoint(path, model, {**meta, **meta_changes})
    return path


# -- calibration against hand-worked answers ------------------------------------------------
SCORES = [0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2]
LABELS = [1, 1, 0, 1, 0, 0, 0, 0]


def test_for_curve_by_hand():
    c = for_curve(SCORES, LABELS)
    # prune 0..8 from the top: bad left among kept 3,2,1,1,0,0,0,0 of 8,7,...,1 kept
    np.testing.assert_allclose(c["for"][:8], [3 / 8, 2 / 7, 1 / 6, 1 / 5, 0, 0, 0, 0])
    assert np.isnan(c["for"][8])
    assert c["threshold"][0] == NO_PRUNE and c["threshold"][-1] == 0.2
    np.testing.assert_allclose(c["threshold"][1:3], [0.85, 0.75])  # halfway between scores
    np.testing.assert_allclose(c["good_pruned"][:5], [0, 0, 0, 1 / 5, 1 / 5])


def test_calibrate_picks_least_pruning_that_meets_target():
    cal = calibrate_threshold(SCORES, LABELS, 0.2)
    # first reached after pruning 0.9 and 0.8: FOR 1/6
    assert cal.feasible and cal.threshold == pytest.approx(0.75)
    assert cal.achieved_for == pytest.approx(1 / 6) and cal.prune_rate == pytest.approx(0.25)
    assert cal.good_pruned == 0 and cal.bad_pruned == pytest.approx(2 / 3)
    assert cal.base_rate == pytest.approx(3 / 8)
    zero = calibrate_threshold(SCORES, LABELS, 0.0)
    assert zero.threshold == pytest.approx(0.55) and zero.prune_rate == pytest.approx(0.5)
    assert zero.good_pruned == pytest.approx(1 / 5)
    # a target above the base rate needs no pruning at all
    lax = calibrate_threshold(SCORES, LABELS, 0.4)
    assert lax.feasible and lax.threshold == NO_PRUNE and lax.prune_rate == 0


def test_ties_are_decided_together_and_infeasible_prunes_nothing():
    cal = calibrate_threshold([0.9, 0.9, 0.1, 0.1], [1, 0, 0, 1], 0.4)
    assert not cal.feasible and cal.threshold == NO_PRUNE and cal.prune_rate == 0
    assert cal.best_for == pytest.approx(0.5)
    assert "no threshold keeps FOR <= 40.00%" in cal.describe()
    assert not (np.array([1.0, 0.0]) >= cal.threshold).any()  # prunes nothing, even 1.0


def test_weighted_calibration_by_hand():
    # sorted: .9 bad w1, .2 bad w3, .1 good w1; total 5, bad 4
    cal = calibrate_threshold([0.9, 0.1, 0.2], [1, 0, 1], 0.5, weights=[1, 1, 3])
    assert cal.threshold == pytest.approx(0.15) and cal.prune_rate == pytest.approx(0.8)
    assert cal.base_rate == pytest.approx(0.8) and cal.achieved_for == 0
    same = calibrate_threshold(SCORES, LABELS, 0.2, weights=np.full(8, 2.5))
    assert same.threshold == pytest.approx(0.75) and same.n == pytest.approx(20)


def test_explored_candidates_count_in_the_for():
    # a hook keeps half of what it would prune: pruning 0.9 and 0.8 (both bad) keeps one of
    # them, so 1 + 1 bad among 6 + 1 kept, not 1 of 6
    c = for_curve(SCORES, LABELS, explored=0.5)
    np.testing.assert_allclose(c["for"][:3], [3 / 8, 2.5 / 7.5, 2 / 7])
    np.testing.assert_allclose(c["prune_rate"][:3], [0, 0.5 / 8, 1 / 8])
    # a quarter explored: pruning 0.9 and 0.8 keeps 1 + 0.5 bad of 6.5 (23%, not 1/6), so
    # the target 20% is first met with 0.6 pruned too: 0.75 bad of 4 + 1 kept (15%)
    cal = calibrate_threshold(SCORES, LABELS, 0.2, explored=0.25)
    plain = calibrate_threshold(SCORES, LABELS, 0.2)
    assert plain.threshold == pytest.approx(0.75) and cal.threshold == pytest.approx(0.55)
    assert cal.achieved_for == pytest.approx(0.15) and cal.prune_rate == pytest.approx(3 / 8)
    assert cal.n == pytest.approx(8) and cal.base_rate == pytest.approx(3 / 8)
    # everything explored prunes nothing: no target under the base rate is reachable
    assert not calibrate_threshold(SCORES, LABELS, 0.2, explored=1.0).feasible
    with pytest.raises(MagicalPruneError, match="explored"):
        for_curve(SCORES, LABELS, explored=1.5)


def test_margin_keeps_the_for_estimate_a_few_standard_errors_under_the_target():
    c = for_curve(SCORES, LABELS)
    # pruning 0.9 and 0.8: FOR 1/6 on 6 kept, standard error sqrt(1/6 * 5/6 / 6)
    assert c["for_se"][2] == pytest.approx(np.sqrt(1 / 6 * 5 / 6 / 6))
    # equal weights are not more layouts; one heavy layout makes fewer effective ones
    same = for_curve(SCORES, LABELS, weights=np.full(8, 2.5))
    np.testing.assert_allclose(same["for_se"][:8], c["for_se"][:8])
    heavy = for_curve(SCORES, LABELS, weights=[1, 1, 1, 8, 1, 1, 1, 1])
    assert heavy["for_se"][2] > c["for_se"][2]
    # 1/6 + 0.152 and 1/5 + 0.179 are over 20%; pruning 0.6 too reaches FOR 0
    cal = calibrate_threshold(SCORES, LABELS, 0.2, margin=1.0)
    assert cal.threshold == pytest.approx(0.55) and cal.achieved_for == 0
    assert calibrate_threshold(SCORES, LABELS, 0.2, margin=0.0).threshold == pytest.approx(0.75)
    with pytest.raises(MagicalPruneError, match="margin"):
        calibrate_threshold(SCORES, LABELS, 0.2, margin=-1.0)


def test_the_margin_is_a_wilson_bound_so_no_bad_result_kept_is_not_a_certain_for_of_0():
    # 10 bad of 100: Wilson's 95% interval ends at 17.44%; z = 0 is the estimate itself
    assert wilson_upper(np.array([0.1]), np.array([100.0]), 1.96)[0] == pytest.approx(
        0.1744, abs=1e-4
    )
    np.testing.assert_allclose(
        wilson_upper(np.array([0.3, 0.0]), np.array([5.0, 5.0]), 0.0), [0.3, 0]
    )
    # none bad of 4 kept: 1 / (4 + 1) at one standard error (the normal error says 0)
    assert wilson_upper(np.array([0.0]), np.array([4.0]), 1.0)[0] == pytest.approx(0.2)
    c = for_curve(SCORES, LABELS)
    assert c["kept_effective"][4] == pytest.approx(4) and c["for"][4] == 0
    # so a 15% target is out of reach with 8 results: pruning to FOR 0 leaves 4 kept
    assert calibrate_threshold(SCORES, LABELS, 0.15, margin=0.0).threshold == pytest.approx(0.55)
    assert not calibrate_threshold(SCORES, LABELS, 0.15, margin=1.0).feasible
    # weights: the effective count of the kept results, not their weight
    heavy = for_curve(SCORES, LABELS, weights=[1, 1, 1, 1, 1, 1, 1, 4])
    assert heavy["kept_effective"][4] == pytest.approx(49 / 19)


@pytest.mark.parametrize(
    "scores, labels, target",
    [([0.5], [1, 0], 0.1), ([], [], 0.1), ([np.nan, 0.2], [1, 0], 0.1), ([0.1], [2], 0.1),
     ([0.1], [1], 1.5)],
)  # fmt: skip
def test_calibration_refuses_bad_input(scores, labels, target):
    with pytest.raises(MagicalPruneError):
        calibrate_threshold(scores, labels, target)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.tuples(st.integers(0, 20), st.integers(0, 1)), min_size=1, max_size=40),
    st.floats(0.0, 0.5),
)
def test_calibration_matches_brute_force(pairs, target):
    scores = np.array([s / 20 for s, _ in pairs])
    labels = np.array([y for _, y in pairs])
    cal = calibrate_threshold(scores, labels, target)
    # brute force over every distinct cut, using the metrics module's FOR
    candidates = [NO_PRUNE, *sorted(set(scores.tolist()), reverse=True)]
    feasible = []
    for t in candidates:
        m = classification_metrics(labels, scores, t)
        if m["for"] is not None and m["for"] <= target + 1e-12:
            feasible.append((t, m))
    assert cal.feasible == bool(feasible)
    if feasible:
        t, m = feasible[0]  # the highest threshold meeting the target
        mine = classification_metrics(labels, scores, cal.threshold)
        assert (mine["tp"], mine["fp"]) == (m["tp"], m["fp"])
        assert cal.achieved_for == pytest.approx(m["for"])
        assert cal.prune_rate == pytest.approx(m["prune_rate"])


# -- the predictor ------------------------------------------------------------------------
def test_scores_match_the_model_by_hand(tiny, predictor):
    placements = [load_placement(p) for p in tiny.layouts[:3]]
    scores = predictor.score(placements)
    x = torch.from_numpy(np.stack([extract(p, SIZE) for p in placements]))
    with torch.no_grad():
        expected = torch.softmax(predictor.model(x), dim=1)[:, 1].numpy()
    np.testing.assert_allclose(scores, expected, rtol=0, atol=1e-6)  # rounded to 6 decimals
    assert np.array_equal(scores, np.round(scores, 6))
    assert scores.shape == (3,) and scores.dtype == np.float64
    assert predictor.score(placements[1]) == pytest.approx(scores[1:2])
    assert predictor.score(FeatureStack(extract(placements[2], SIZE), SIZE, "exact")) == (
        pytest.approx(scores[2:3])
    )
    assert predictor.decide(scores).tolist() == (scores >= predictor.threshold).tolist()


def test_features_follow_the_model_file(tiny, predictor):
    assert predictor.image_size == SIZE and predictor.arch == "efficient"
    assert predictor.feature_config.rasterizer == "exact"
    assert predictor.features(load_placement(tiny.layouts[0])).shape == (6, 3, SIZE, SIZE)
    assert predictor.meta["label"]["metric"] == "Offset_Voltage"
    assert predictor.threshold == 0.5


def test_threshold_override_and_checks(tiny):
    p = Predictor.load(tiny.model, threshold=0.3)
    assert p.threshold == 0.3
    for bad in (-0.1, float("nan"), "high"):
        with pytest.raises(MagicalPruneError, match="threshold"):
            p.threshold = bad


def test_no_bundled_model_is_a_clear_error(monkeypatch):
    monkeypatch.setattr(predict.predictor, "BUNDLED_MODEL", "assets/not-there.pt")
    with pytest.raises(CheckpointError, match="no bundled model"):
        Predictor.load()


class _Exploit:
    """Unpickling this would create a file: a model file must never run it."""

    def __init__(self, target: str) -> None:
        self.target = target

    def __reduce__(self):
        return (open, (self.target, "w"))


@pytest.mark.filterwarnings("ignore:Detected pickle protocol")
def test_foreign_and_malicious_model_files(tmp_path):
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"\x00not a model at all")
    empty = tmp_path / "empty.pt"
    empty.write_bytes(b"")
    foreign = tmp_path / "foreign.pt"
    torch.save({"weights": torch.zeros(3)}, foreign)
    evil = tmp_path / "evil.pt"
    marker = tmp_path / "pwned"
    torch.save({"format": "magical-prune-checkpoint", "meta": _Exploit(str(marker))}, evil)
    plain_pickle = tmp_path / "pickle.pt"
    plain_pickle.write_bytes(pickle.dumps(_Exploit(str(marker))))
    for path in (junk, empty, foreign, evil, plain_pickle, tmp_path / "missing.pt"):
        with pytest.raises(CheckpointError) as info:
            Predictor.load(path)
        assert str(path) in str(info.value) and "\n" not in str(info.value)
    assert not marker.exists()


def test_model_of_other_channel_order_is_refused(tmp_path, tiny):
    path = save_variant(tmp_path / "order.pt", tiny, channel_order=list(reversed(IMAGE_NAMES)))
    with pytest.raises(CheckpointError, match="order"):
        Predictor.load(path)


def test_features_of_other_size_order_or_rasterizer_are_refused(tiny, predictor):
    placement = load_placement(tiny.layouts[0])
    with pytest.raises(CheckpointError, match="32x32"):
        predictor.score(FeatureStack(extract(placement, 32), 32, "exact"))
    with pytest.raises(CheckpointError, match="rasterizer"):
        predictor.score(FeatureStack(extract(placement, SIZE, "paper"), SIZE, "paper"))
    names = tuple(reversed(IMAGE_NAMES))
    with pytest.raises(CheckpointError, match="order"):
        predictor.score(FeatureStack(extract(placement, SIZE), SIZE, "exact", names=names))
    with pytest.raises(CheckpointError):
        predictor.score_features(np.zeros((2, 6, 3, 32, 32), np.float32))
    with pytest.raises(CheckpointError):
        predictor.score_features(np.zeros((2, 5, 3, SIZE, SIZE), np.float32))


def test_nan_scores_are_an_error(tmp_path, tiny, predictor):
    x = np.zeros((2, 6, 3, SIZE, SIZE), np.float32)
    x[1, 0, 0, 3, 3] = np.nan
    assert np.isnan(predictor.raw_scores(x)[1]) and not np.isnan(predictor.raw_scores(x)[0])
    with pytest.raises(MagicalPruneError, match="NaN"):
        predictor.score_features(x)

    def poison(model):
        with torch.no_grad():
            model.fc.bias.fill_(float("nan"))

    broken = Predictor.load(save_variant(tmp_path / "nan.pt", tiny, touch=poison))
    with pytest.raises(MagicalPruneError, match="1 of 1"):
        broken.score(load_placement(tiny.layouts[0]))


def test_calibrate_checkpoint_stores_threshold_and_provenance(tmp_path, tiny):
    result = calibrate_checkpoint(tiny.model, tiny.data, 0.15)
    cal, rec = result.calibration, result.record
    assert cal.feasible and cal.achieved_for <= 0.15
    assert rec["split"] == "test" and rec["data"]["n_calibration"] == 32
    assert rec["data"]["design"] == "tiny" and rec["data"]["trained_on_same_data"]
    assert rec["previous_threshold"] == 0.5 and not rec["label"]["balanced"]
    out = result.save(tmp_path / "calibrated.pt")
    again = Predictor.load(out)
    assert again.threshold == pytest.approx(cal.threshold)
    assert again.meta["calibration"]["target_for"] == 0.15
    # the decisions on the calibration layouts give the FOR reported
    from magical_prune.dataset import LabelledDataset

    data = LabelledDataset.open(tiny.data, metric="Offset_Voltage")
    test = data.split(0.0, 0, 0.2).test
    scores = again.score_features(data.features(test).numpy())
    m = classification_metrics(data.labels[test], scores, again.threshold)
    assert m["for"] == pytest.approx(cal.achieved_for)
    assert m["prune_rate"] == pytest.approx(cal.prune_rate)
    with pytest.raises(MagicalPruneError, match="split"):
        calibrate_checkpoint(tiny.model, tiny.data, 0.1, split="train")


def test_model_file_is_not_modified_by_calibration(tiny):
    before = os.stat(tiny.model).st_mtime_ns, tiny.model.read_bytes()
    calibrate_checkpoint(tiny.model, tiny.data, 0.1, split="all")
    assert (os.stat(tiny.model).st_mtime_ns, tiny.model.read_bytes()) == before


@pytest.mark.parametrize("arch, size", [("efficient", 64), ("efficient", SIZE), ("feat3d", 32)])
def test_fast_inference_gives_the_same_numbers(arch, size):
    torch.manual_seed(0)
    model = create_model(arch, image_size=size).eval()
    twin = predict.fast_inference(model)
    x = torch.rand(3, 6, 3, size, size)
    with torch.no_grad():
        torch.testing.assert_close(twin(x), model(x), rtol=1e-5, atol=1e-5)
        model.fc.weight.mul_(3.0) if hasattr(model, "fc") else None  # shared, not copied
        torch.testing.assert_close(twin(x), model(x), rtol=1e-5, atol=1e-5)
    converted = sum(type(m).__name__ == "_Conv3dAs2d" for m in twin.modules())
    # efficient: 4 spatial + 3 depth convolutions (its per-set stem is a 2D convolution
    # already); feat3d's kernels span all axes
    assert converted == (7 if arch == "efficient" else 0)
    assert not any(type(m).__name__ == "_Conv3dAs2d" for m in model.modules())


def test_torch_threads_restores_the_setting():
    before = torch.get_num_threads()
    with predict.torch_threads(None):
        assert torch.get_num_threads() == before
    with predict.torch_threads(1):
        assert torch.get_num_threads() == 1
        with predict.torch_threads(1):
            assert torch.get_num_threads() == 1
        assert torch.get_num_threads() == 1
    assert torch.get_num_threads() == before
