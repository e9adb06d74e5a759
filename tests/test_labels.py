"""Labels from raw metrics, checked against hand-worked answers."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from magical_prune.errors import MagicalPruneError, UnknownNameError
from magical_prune.labels import LabelSpec, count_of, get_metric, label_at, label_by_rank


def test_offset_by_magnitude_worst_quarter():
    # |offset| = 1, 5, 2, 8, 3, 7, 4, 6 -> worst 2 of 8 are 8 (index 3) and 7 (index 5)
    offset = np.array([1, -5, 2, -8, 3, 7, -4, 6]) * 1e-3
    res = label_by_rank(offset, "Offset_Voltage", 25)
    assert res.labels.tolist() == [0, 0, 0, 1, 0, 1, 0, 0]
    assert res.kept.all()
    assert res.critical_value == pytest.approx(7e-3)
    assert res.positive_rate == 0.25


def test_cmrr_larger_is_better():
    cmrr = np.array([60.0, 40.0, 80.0, 55.0])
    res = label_by_rank(cmrr, "CMRR", 25)
    assert res.labels.tolist() == [0, 1, 0, 0]  # the smallest CMRR is the bad one
    assert res.critical_value == 40.0
    assert label_at([39.0, 40.0, 41.0], "CMRR", 40.0).tolist() == [1, 1, 0]


def test_balanced_keeps_worst_and_best_quarter():
    offset = np.arange(1, 9) * 1e-3  # 1..8 mV: worst 7, 8; best 1, 2
    res = label_by_rank(offset, "Offset_Voltage", 25, balanced=True)
    assert res.kept.tolist() == [True, True, False, False, False, False, True, True]
    assert res.labels[res.kept].tolist() == [0, 0, 1, 1]
    assert res.best_value == pytest.approx(2e-3)
    assert res.positive_rate == 0.5


def test_ties_at_the_cut_share_one_label():
    # worst 25% of 8 = 2, but three layouts tie at the 2nd-worst value: all three are 1
    values = np.array([1.0, 2.0, 3.0, 5.0, 5.0, 5.0, 4.0, 0.5])
    res = label_by_rank(values, "Offset_Voltage", 25)
    assert res.labels.tolist() == [0, 0, 0, 1, 1, 1, 0, 0]
    assert res.critical_value == 5.0


def test_count_rounds_half_up_and_keeps_one():
    assert count_of(16, 25) == 4
    assert count_of(10, 25) == 3  # 2.5 -> 3
    assert count_of(3, 25) == 1
    assert count_of(1, 25) == 1
    assert count_of(16376, 25) == 4094


def test_label_at_uses_magnitude_for_offset():
    labels = label_at(np.array([-3e-3, 2e-3, 3e-3, -1e-3]), "Offset_Voltage", 2.5e-3)
    assert labels.tolist() == [1, 0, 1, 0]


def test_errors():
    with pytest.raises(UnknownNameError, match="did you mean"):
        get_metric("Offset_Voltag")
    with pytest.raises(MagicalPruneError, match="not finite"):
        label_by_rank([1.0, np.nan], "CMRR")
    with pytest.raises(MagicalPruneError, match="no layouts"):
        label_by_rank([], "CMRR")
    with pytest.raises(MagicalPruneError, match="worst percent"):
        label_by_rank([1.0, 2.0], "CMRR", 0)
    with pytest.raises(MagicalPruneError, match="<= 50"):
        LabelSpec("CMRR", 60, balanced=True)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.floats(-1e3, 1e3, allow_nan=False), min_size=1, max_size=60),
    st.sampled_from([10.0, 25.0, 50.0]),
    st.integers(0, 2**31),
)
def test_labels_do_not_depend_on_order(values, percent, seed):
    values = np.array(values)
    perm = np.random.default_rng(seed).permutation(len(values))
    a = label_by_rank(values, "Offset_Voltage", percent)
    b = label_by_rank(values[perm], "Offset_Voltage", percent)
    assert (a.labels[perm] == b.labels).all()
    assert a.critical_value == b.critical_value
    # the positives are at least k, and exactly k without ties at the cut
    k = count_of(len(values), percent)
    assert a.labels.sum() >= k
    if len(np.unique(np.abs(values))) == len(values):
        assert a.labels.sum() == k
    # relabelling the same set at its own cut reproduces the labels
    assert (label_at(values, "Offset_Voltage", a.critical_value) == a.labels).all()
