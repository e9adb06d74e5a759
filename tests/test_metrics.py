"""Confusion counts, FOR and the random-pruning baseline on hand-worked examples."""

import numpy as np
import pytest

from magical_prune.errors import MagicalPruneError
from magical_prune.metrics import (
    classification_metrics,
    confusion,
    format_metrics,
    mean_and_spread,
    summarize,
)


def test_hand_worked_example():
    # 10 layouts, 3 bad. The model prunes 4: 2 bad (TP), 2 good (FP); keeps 6: 1 bad (FN).
    y = [1, 1, 1, 0, 0, 0, 0, 0, 0, 0]
    p = [1, 1, 0, 1, 1, 0, 0, 0, 0, 0]
    c = confusion(y, p)
    assert (c.tp, c.fp, c.tn, c.fn) == (2, 2, 5, 1)
    m = summarize(c)
    assert m["accuracy"] == pytest.approx(7 / 10)
    assert m["precision"] == pytest.approx(2 / 4)
    assert m["recall"] == pytest.approx(2 / 3)
    assert m["f1"] == pytest.approx(2 * 0.5 * (2 / 3) / (0.5 + 2 / 3))
    assert m["for"] == pytest.approx(1 / 6)  # FN / (TN + FN)
    assert m["prune_rate"] == pytest.approx(4 / 10)
    assert m["random_for"] == pytest.approx(3 / 10)  # the base rate
    assert m["for_reduction"] == pytest.approx(1 - (1 / 6) / (3 / 10))


def test_random_pruning_for_is_the_base_rate():
    # Empirically: pruning a random 40% of a set with 25% positives keeps ~25% positives.
    rng = np.random.default_rng(0)
    y = (np.arange(4000) % 4 == 0).astype(int)
    fors = []
    for _ in range(50):
        pred = (rng.random(len(y)) < 0.4).astype(int)
        fors.append(summarize(confusion(y, pred))["for"])
    assert np.mean(fors) == pytest.approx(0.25, abs=0.005)
    assert summarize(confusion(y, pred))["random_for"] == 0.25


def test_undefined_ratios_are_none():
    everything_pruned = summarize(confusion([1, 0, 0], [1, 1, 1]))
    assert everything_pruned["for"] is None
    assert everything_pruned["for_reduction"] is None
    nothing_pruned = summarize(confusion([1, 0, 0], [0, 0, 0]))
    assert nothing_pruned["precision"] is None
    assert nothing_pruned["for"] == pytest.approx(1 / 3)
    all_good_all_kept = summarize(confusion([0, 0], [0, 0]))
    assert all_good_all_kept["recall"] is None
    assert all_good_all_kept["f1"] is None
    assert all_good_all_kept["for"] == 0.0
    assert "n/a" in format_metrics(everything_pruned)


def test_threshold_on_scores():
    m = classification_metrics([1, 0, 1, 0], [0.9, 0.6, 0.4, 0.1], threshold=0.5)
    assert (m["tp"], m["fp"], m["tn"], m["fn"]) == (1, 1, 1, 1)
    m = classification_metrics([1, 0, 1, 0], [0.9, 0.6, 0.4, 0.1], threshold=0.3)
    assert (m["tp"], m["fp"], m["tn"], m["fn"]) == (2, 1, 1, 0)
    assert m["for"] == 0.0


def test_bad_input():
    with pytest.raises(MagicalPruneError, match="2 labels but 3"):
        confusion([0, 1], [0, 1, 1])
    with pytest.raises(MagicalPruneError, match="0 or 1"):
        confusion([0, 2], [0, 1])


def test_mean_and_spread_skips_undefined():
    s = mean_and_spread([0.1, None, 0.3])
    assert s["n"] == 2 and s["n_undefined"] == 1
    assert s["mean"] == pytest.approx(0.2)
    assert s["std"] == pytest.approx(np.std([0.1, 0.3], ddof=1))
    assert mean_and_spread([None])["mean"] is None
