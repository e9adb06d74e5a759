"""The threshold trade-off (hand-computed on six layouts) and the decision pictures: the
figure objects carry labelled axes, a legend and the threshold; the PNG reads back."""

from __future__ import annotations

import json

import numpy as np
import pytest
from matplotlib.image import imread

from magical_prune.errors import MagicalPruneError
from magical_prune.plots import save_figure, score_histogram_figure, tradeoff_figure
from magical_prune.predict import NO_PRUNE
from magical_prune.tradeoff import operating_point, tradeoff

# six layouts, best-scored first: bad, good, bad, good, good, good
SCORES = np.array([0.9, 0.8, 0.6, 0.3, 0.2, 0.1])
LABELS = np.array([1, 0, 1, 0, 0, 0])


def test_curve_and_operating_point_by_hand():
    t = tradeoff(SCORES, LABELS, threshold=0.7, target_for=0.2)
    np.testing.assert_allclose(t.prune_rate, np.arange(7) / 6)
    np.testing.assert_allclose(t.for_[:-1], [2 / 6, 1 / 5, 1 / 4, 0, 0, 0])
    assert np.isnan(t.for_[-1])  # nothing kept: no FOR
    np.testing.assert_allclose(t.good_pruned, [0, 0, 1 / 4, 1 / 4, 2 / 4, 3 / 4, 1])
    np.testing.assert_allclose(t.bad_pruned, [0, 1 / 2, 1 / 2, 1, 1, 1, 1])
    assert t.base_rate == pytest.approx(2 / 6) and t.n == 6
    assert t.chosen == pytest.approx({"threshold": 0.7, "prune_rate": 2 / 6, "for": 1 / 4,
                                      "good_pruned": 1 / 4, "bad_pruned": 1 / 2})  # fmt: skip


def test_operating_point_when_nothing_is_kept_or_no_good_layouts():
    everything = operating_point(SCORES, LABELS, 0.0)
    assert everything["for"] is None and everything["prune_rate"] == 1.0
    all_bad = operating_point([0.2, 0.9], [1, 1], 0.5)
    assert all_bad["good_pruned"] is None and all_bad["for"] == 1.0


def test_json_has_no_nan_and_no_threshold_above_one():
    d = tradeoff(SCORES, LABELS, threshold=NO_PRUNE).to_dict()
    text = json.dumps(d, allow_nan=False)  # NaN would raise here
    assert d["threshold"][0] is None  # "prune nothing" is null, never 1.0000000000000002
    assert all(v is None or 0 <= v <= 1 for v in d["threshold"])
    assert d["for"][-1] is None and d["chosen"]["prune_rate"] == 0.0
    assert "1.0000000000000002" not in text


def test_long_curves_are_thinned_evenly_keeping_both_ends():
    rng = np.random.default_rng(0)
    scores = rng.random(5000)
    labels = (rng.random(5000) < scores).astype(int)
    t = tradeoff(scores, labels, 0.5, max_points=101)
    assert len(t.prune_rate) <= 103 and t.prune_rate[0] == 0 and t.prune_rate[-1] == 1
    assert np.all(np.diff(t.prune_rate) > 0)
    assert np.max(np.diff(t.prune_rate)) < 0.02  # no gaps: spread over the prune rate


def test_mismatched_scores_and_labels_are_refused():
    with pytest.raises(MagicalPruneError):
        tradeoff([0.1, 0.2], [1], 0.5)


def _labels_of(ax):
    handles, labels = ax.get_legend_handles_labels()
    return labels


def test_tradeoff_figure_has_labelled_axes_legend_and_threshold(tmp_path):
    t = tradeoff(SCORES, LABELS, threshold=0.7, target_for=0.2)
    fig = tradeoff_figure(t, title="six layouts")
    top, bottom = fig.axes
    assert top.get_ylabel().startswith("FOR") and "good" in bottom.get_ylabel()
    assert "pruned" in top.get_xlabel() and "pruned" in bottom.get_xlabel()
    for ax in (top, bottom):
        assert ax.get_legend() is not None
        labels = _labels_of(ax)
        assert any(label.startswith("random pruning") for label in labels)
        mark = [line for line in ax.get_lines() if line.get_label().startswith("threshold 0.7")]
        assert len(mark) == 1 and mark[0].get_xdata()[0] == pytest.approx(100 * 2 / 6)
        assert "FOR 25.0%" in mark[0].get_label() and "good pruned 25.0%" in mark[0].get_label()
    assert "target FOR 20.0%" in _labels_of(top)
    random_for = [line for line in top.get_lines() if "random" in line.get_label()][0]
    assert random_for.get_ydata()[0] == pytest.approx(100 * 2 / 6)
    png = save_figure(fig, tmp_path / "tradeoff.png")
    pixels = imread(png)
    assert pixels.shape[0] > 300 and pixels.shape[1] > 400
    assert pixels[..., :3].std() > 0.05  # something is drawn, not a blank canvas


def test_score_histogram_splits_kept_and_pruned_at_the_threshold(tmp_path):
    scores = [0.05, 0.1, 0.15, 0.5, 0.95, 0.99]
    fig = score_histogram_figure(scores, 0.9, title="six")
    (ax,) = fig.axes
    assert ax.get_xlabel().startswith("score") and ax.get_ylabel() == "placements"
    labels = _labels_of(ax)
    assert "keep (4)" in labels and "prune (2)" in labels
    mark = [line for line in ax.get_lines() if line.get_label() == "threshold 0.9000"]
    assert len(mark) == 1 and mark[0].get_xdata()[0] == pytest.approx(0.9)
    kept, pruned = ([p for p in c if p.get_height() > 0] for c in ax.containers)
    assert sum(p.get_height() for p in kept) == 4 and sum(p.get_height() for p in pruned) == 2
    assert all(p.get_x() < 0.9 for p in kept) and all(p.get_x() >= 0.875 for p in pruned)
    nothing = score_histogram_figure(scores, NO_PRUNE)
    assert "threshold: none (prunes nothing)" in _labels_of(nothing.axes[0])
    pixels = imread(save_figure(fig, tmp_path / "hist.png"))
    assert pixels.shape[:2] == (380, 640)
