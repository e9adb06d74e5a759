"""GeometryLearner: model choice by cross-validation, signed targets, determinism, errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from scipy.stats import spearmanr

from magical_prune.adapters.discovery import find_layouts, load_placement
from magical_prune.errors import MagicalPruneError
from magical_prune.geolearn import GeometryLearner, LearnerConfig, Tables, preference_margin

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "ota3"


def synthetic(n: int, seed: int = 0, nonlinear: bool = False) -> tuple[Tables, np.ndarray]:
    """Six pairs, four unpaired devices; the offset is -20 + a linear mix of separations."""
    rng = np.random.default_rng(seed)
    sep = rng.normal(0, 5, (n, 6))
    single = rng.normal(0, 5, (n, 12))
    heat = rng.normal(0, 0.1, (n, 6))
    layout = rng.normal(0, 10, (n, 30))
    offset = -20 + sep @ np.array([3.0, -2.0, 1.0, 0.5, 0.0, 0.0]) + 40 * heat[:, 0]
    if nonlinear:  # a cliff no linear model sees: the bad quarter is set by one coordinate
        offset = np.where(layout[:, 3] > 6.7, -100.0, -1.0) + 0.01 * offset
    offset = offset + rng.normal(0, 1, n)
    return Tables(layout, np.column_stack([sep, single]), heat), offset * 1e-6


def test_linear_mechanism_is_learnt_from_few_labels():
    tables, offset = synthetic(400)
    learner = GeometryLearner(LearnerConfig(metric="Offset_Voltage")).fit(
        tables.take(np.arange(32)), offset[:32]
    )
    ridges = {"ridge-physics", "ridge-pairs", "ridge-layout"}  # the mismatch ridge: few labels only
    assert set(learner.chosen.split("+")) <= ridges
    assert set(learner.cv) == ridges  # no trees under 64 labels
    held = np.arange(32, 400)
    rho = spearmanr(learner.scores(tables.take(held)), np.abs(offset[held])).statistic
    assert rho > 0.8


def test_signed_target_beats_magnitude_when_the_offset_is_systematic():
    # the same ridge on |offset| cannot learn a sign; the learner's signed fit can
    tables, offset = synthetic(400, seed=1)
    train, held = np.arange(48), np.arange(48, 400)
    signed = GeometryLearner(LearnerConfig(candidates=("ridge-physics",))).fit(
        tables.take(train), offset[train]
    )
    rho_signed = spearmanr(signed.scores(tables.take(held)), np.abs(offset[held])).statistic
    magnitude = GeometryLearner(LearnerConfig(metric="CMRR", candidates=("ridge-physics",)))
    magnitude.fit(tables.take(train), -np.abs(offset[train]))  # CMRR: larger is better
    rho_magnitude = spearmanr(magnitude.scores(tables.take(held)), np.abs(offset[held])).statistic
    assert rho_signed > rho_magnitude + 0.1


def test_trees_are_chosen_where_the_mechanism_is_not_linear():
    tables, offset = synthetic(400, seed=2, nonlinear=True)
    config = LearnerConfig(candidates=("ridge-physics", "trees"), folds=3)
    learner = GeometryLearner(config).fit(tables.take(np.arange(160)), offset[:160])
    assert learner.chosen == "trees"
    assert learner.cv["trees"] > learner.cv["ridge-physics"]
    assert learner.oof_scores is not None and learner.oof_scores.shape == (160,)


def test_same_seed_same_scores():
    tables, offset = synthetic(96, seed=3)
    config = LearnerConfig(candidates=("ridge-pairs", "trees-physics"), folds=2)
    a = GeometryLearner(config).fit(tables, offset).scores(tables)
    b = GeometryLearner(config).fit(tables, offset).scores(tables)
    np.testing.assert_array_equal(a, b)


def test_errors():
    tables, offset = synthetic(20)
    with pytest.raises(MagicalPruneError, match="metric values"):
        GeometryLearner().fit(tables, offset[:10])
    with pytest.raises(MagicalPruneError, match="at least 4"):
        GeometryLearner().fit(tables.take(np.arange(3)), offset[:3])
    with pytest.raises(MagicalPruneError, match="not been fitted"):
        GeometryLearner().scores(tables)
    with pytest.raises(MagicalPruneError, match="unknown candidate"):
        GeometryLearner(LearnerConfig(candidates=("forest",))).fit(tables, offset)


def test_placements_of_the_committed_example():
    placements = [load_placement(p) for p in find_layouts(EXAMPLE)]
    offsets = np.array([p.performance["Offset_Voltage"] for p in placements])
    learner = GeometryLearner().fit_placements(placements, offsets)
    scores = learner.score_placements(placements)
    assert scores.shape == (20,) and np.all(np.isfinite(scores)) and np.all(scores >= 0)


def test_tree_table_predicts_what_sklearn_predicts():
    from sklearn.ensemble import HistGradientBoostingRegressor

    from magical_prune.geoarrays import TreeTable

    rng = np.random.default_rng(5)
    x = rng.normal(size=(300, 7))
    y = np.sin(x[:, 0]) + x[:, 1] * x[:, 2] + rng.normal(0, 0.1, 300)
    model = HistGradientBoostingRegressor(max_iter=60, random_state=0).fit(x, y)
    table = TreeTable(model)
    assert table.ready
    probe = rng.normal(size=(50, 7))
    probe[3, 1] = np.nan  # a missing value takes the side sklearn learnt for it
    np.testing.assert_allclose(table.predict(probe), model.predict(probe), rtol=1e-10, atol=1e-12)


def test_trees_use_every_iteration_on_tiny_metric_values_and_many_rows():
    # sklearn's automatic early stopping (over 10,000 rows) compares an absolute tolerance
    # with the loss; on offsets in volts it stopped after 10 trees
    from magical_prune.geocandidates import trees_model

    rng = np.random.default_rng(0)
    x = rng.normal(size=(10_500, 3))
    y = 1e-5 * (x[:, 0] > 0.5) + 1e-7 * rng.normal(size=len(x))
    assert trees_model(len(x), 0).set_params(max_iter=30).fit(x, y).n_iter_ == 30


def test_shared_role_weights_are_learnt_from_16_labels():
    # twelve pairs in two role groups; the offset weights every pair of a group alike, which
    # the role vector (oriented group sums) carries in two columns instead of twelve
    rng = np.random.default_rng(7)
    n = 600
    sep = rng.normal(0, 5, (n, 12))
    heat = rng.normal(0, 0.1, (n, 12))
    side = np.where(np.arange(12) % 3 == 0, -1.0, 1.0)
    group = np.arange(12) >= 6
    roles = np.column_stack([
        (sep * side)[:, ~group].sum(1), (sep * side)[:, group].sum(1), np.zeros((n, 2)),
        (heat * side)[:, ~group].sum(1), (heat * side)[:, group].sum(1), np.zeros((n, 2)),
    ])  # fmt: skip
    offset = (-10 + 2.0 * roles[:, 0] - 1.0 * roles[:, 1] + rng.normal(0, 2, n)) * 1e-6
    tables = Tables(rng.normal(0, 10, (n, 30)), sep, heat, roles)
    train, held = np.arange(16), np.arange(100, n)
    rho = {}
    for name in ("ridge-roles", "ridge-physics"):
        learner = GeometryLearner(LearnerConfig(candidates=(name,))).fit(
            tables.take(train), offset[train]
        )
        rho[name] = spearmanr(learner.scores(tables.take(held)), np.abs(offset[held])).statistic
    assert rho["ridge-roles"] > rho["ridge-physics"] + 0.1
    # saved and restored, the candidate scores alike; without a role vector it is skipped
    learner = GeometryLearner(LearnerConfig(candidates=("ridge-roles",))).fit(tables, offset)
    restored = GeometryLearner.restore(learner.config, "ridge-roles", learner.state())
    np.testing.assert_allclose(restored.scores(tables), learner.scores(tables))
    plain = Tables(tables.layout, tables.pairs, tables.heat)
    assert "ridge-roles" not in GeometryLearner().fit(plain, offset).cv


def test_under_32_labels_the_choice_follows_the_metric_not_cross_validation():
    tables, offset = synthetic(40, seed=4)
    rng = np.random.default_rng(4)
    tables = Tables(tables.layout, tables.pairs, tables.heat, rng.normal(0, 5, (40, 8)))
    signed = GeometryLearner().fit(tables.take(np.arange(20)), offset[:20])
    assert signed.chosen == "ridge-roles" and set(signed.cv) == {"ridge-roles"}
    cmrr = GeometryLearner(LearnerConfig(metric="CMRR")).fit(
        tables.take(np.arange(20)), offset[:20]
    )
    assert cmrr.chosen == "ridge-mismatch" and set(cmrr.cv) == {"ridge-mismatch"}
    assert len(GeometryLearner().fit(tables, offset).cv) > 1  # 40 labels: cross-validated
    only = GeometryLearner(LearnerConfig(metric="CMRR", candidates=("ridge-pairs", "trees")))
    assert only.fit(tables.take(np.arange(20)), offset[:20]).chosen == "ridge-pairs"


def test_candidates_within_the_margin_of_the_best_are_averaged():
    tables, offset = synthetic(120, seed=0)
    roles = np.random.default_rng(0).normal(0, 5, (120, 8))
    tables = Tables(tables.layout, tables.pairs, tables.heat, roles)
    config = LearnerConfig(candidates=("ridge-roles", "ridge-physics", "ridge-pairs"))
    learner = GeometryLearner(config).fit(tables, offset)
    assert preference_margin(120) == pytest.approx(120**-0.5)
    best = max(learner.cv.values())
    tied = [c for c in config.candidates if learner.cv[c] >= best - preference_margin(120)]
    assert len(tied) > 1 and learner.chosen == "+".join(tied)
    # the blend's scores: each member refitted alone, standardised by its out-of-fold scores
    parts = []
    for name in tied:
        alone = GeometryLearner(LearnerConfig(candidates=(name,))).fit(tables, offset)
        oof = alone.oof_scores
        parts.append((alone.scores(tables) - oof.mean()) / oof.std())
    np.testing.assert_allclose(learner.scores(tables), np.mean(parts, axis=0), rtol=1e-9)
    assert learner.oof_scores is not None and learner.oof_scores.shape == (120,)
    # the same blend again from its arrays, as a model file holds them
    again = GeometryLearner.restore(config, learner.chosen, learner.state())
    np.testing.assert_array_equal(again.scores(tables), learner.scores(tables))
    with pytest.raises(MagicalPruneError, match="no arrays for the blend's member 'trees'"):
        GeometryLearner.restore(config, learner.chosen + "+trees", learner.state())
    # a lead far beyond the margin is taken alone: trees on a cliff no ridge sees
    cliff, values = synthetic(160, seed=2, nonlinear=True)
    cliff = Tables(
        cliff.layout, cliff.pairs, cliff.heat, roles[:1].repeat(160, 0) + 1e-3 * cliff.pairs[:, :8]
    )
    trees = GeometryLearner(LearnerConfig(candidates=("ridge-roles", "trees"), folds=3))
    trees.fit(cliff, values)
    assert trees.cv["trees"] - trees.cv["ridge-roles"] > preference_margin(160)
    assert trees.chosen == "trees"


def test_a_metric_without_a_sign_is_learnt_from_the_size_of_the_mismatches():
    # a CMRR-like badness that grows with the *size* of one pair's separation and heat
    # asymmetry: linear in |x|, which the layout vector does not carry
    tables, _ = synthetic(600, seed=5)
    rng = np.random.default_rng(5)
    badness = np.abs(tables.pairs[:, 1]) + 20 * np.abs(tables.heat[:, 2]) + rng.normal(0, 1, 600)
    cmrr = 80.0 - badness  # higher is better: badness = -CMRR
    train, held = np.arange(16), np.arange(100, 600)
    rho = {}
    for name in ("ridge-layout", "ridge-mismatch"):
        learner = GeometryLearner(LearnerConfig(metric="CMRR", candidates=(name,)))
        learner.fit(tables.take(train), cmrr[train])
        rho[name] = spearmanr(learner.scores(tables.take(held)), badness[held]).statistic
    assert rho["ridge-mismatch"] > rho["ridge-layout"] + 0.2
