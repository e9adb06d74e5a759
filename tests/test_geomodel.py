"""The geometry learner as a model file: fit, save, load, score, refuse other designs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from pruning_fixtures import write_layouts
from scipy.stats import spearmanr

from magical_prune.adapters.discovery import find_layouts, load_placement
from magical_prune.checkpoint import read_model
from magical_prune.dataset import open_dataset
from magical_prune.errors import CheckpointError
from magical_prune.geoexplain import explain_geometry
from magical_prune.geolearn import GeometryLearner, LearnerConfig, stack_vectors
from magical_prune.geometry import column_digest, flat_vector, geometry_vectors
from magical_prune.geomodel import (
    DesignColumns,
    GeometryScorer,
    fit_geometry,
    fit_rows,
    scorer_of,
)
from magical_prune.predict import calibrate_checkpoint, load_scorer
from magical_prune.scorer import Scorer

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "ota3"


@pytest.fixture(scope="module")
def tiny_set(tmp_path_factory):  # noqa: ANN001
    folders = write_layouts(tmp_path_factory.mktemp("geo") / "tiny", 160, seed=3)
    placements = [load_placement(f) for f in folders]
    offsets = np.array([p.performance["Offset_Voltage"] for p in placements])
    return placements, offsets


@pytest.fixture(scope="module")
def fitted(tiny_set):  # noqa: ANN001
    placements, offsets = tiny_set
    return fit_geometry(placements[:120], offsets[:120], design="tiny", seed=0)


def test_fit_scores_and_ranks_held_out_layouts(tiny_set, fitted):  # noqa: ANN001
    placements, offsets = tiny_set
    assert isinstance(fitted, Scorer)
    scores = fitted.score(placements[120:])
    assert scores.shape == (40,) and np.all((scores >= 0) & (scores <= 1))
    assert spearmanr(scores, np.abs(offsets[120:])).statistic > 0.3
    card = fitted.card
    assert card.family == "geometry" and card.arch.startswith("geometry:")
    assert card.label.metric == "Offset_Voltage" and card.calibration is not None
    assert card.calibration.split == "out-of-fold"


def test_save_load_gives_the_same_scores(tmp_path, tiny_set, fitted):  # noqa: ANN001
    placements, _ = tiny_set
    path = fitted.save(tmp_path / "geo.pt")
    _, card = read_model(path)
    assert card == fitted.card
    loaded = GeometryScorer.load(path)
    held = placements[120:]
    assert np.array_equal(loaded.score(held), fitted.score(held))
    assert np.array_equal(loaded.decide(loaded.score(held)), fitted.decide(fitted.score(held)))
    one = [loaded.score(p)[0] for p in held[:5]]  # alone or in a batch: the same score
    assert np.array_equal(one, loaded.score(held[:5]))


def test_a_blend_of_candidates_saves_and_loads_with_the_same_scores(tmp_path, tiny_set):  # noqa: ANN001
    placements, offsets = tiny_set
    train = placements[:120]
    config = LearnerConfig(candidates=("ridge-physics", "ridge-pairs"))
    learner = GeometryLearner(config).fit(stack_vectors([geometry_vectors(p) for p in train]),
                                          offsets[:120])  # fmt: skip
    assert learner.chosen == "ridge-physics+ridge-pairs"  # tied: averaged
    rows = np.stack([flat_vector(p) for p in train])
    labels = (np.abs(offsets[:120]) > np.quantile(np.abs(offsets[:120]), 0.75)).astype(int)
    scorer = scorer_of(learner, rows, labels, DesignColumns.of(train[0]))
    loaded = GeometryScorer.load(scorer.save(tmp_path / "blend.pt"))
    assert loaded.card.extra["geometry"]["candidate"] == learner.chosen
    assert np.array_equal(loaded.score(placements[120:]), scorer.score(placements[120:]))


def test_another_design_is_refused_not_scored(fitted):  # noqa: ANN001
    other = load_placement(find_layouts(EXAMPLE)[0])
    with pytest.raises(CheckpointError, match="own design only"):
        fitted.score([other])


def test_a_cnn_model_file_is_not_a_geometry_model(tmp_path, tiny):  # noqa: ANN001
    with pytest.raises(CheckpointError, match="not a geometry model"):
        GeometryScorer.load(tiny.model)


def test_a_built_data_set_stores_the_geometry_the_learner_reads(tiny):  # noqa: ANN001
    data = open_dataset(tiny.data)
    info = data.geometry_info
    placements = [load_placement(p) for p in tiny.layouts]
    by_id = {p.name: pl for p, pl in zip(tiny.layouts, placements)}
    ordered = [by_id[i] for i in data.ids]
    assert info is not None and info["columns_sha256"] == column_digest(ordered[0])
    rows = data.read_geometry()
    assert np.array_equal(rows, np.stack([flat_vector(p) for p in ordered]))
    values = data.metric("Offset_Voltage")
    from_rows = fit_rows(rows[:100], values[:100], DesignColumns.from_info(info))
    from_placements = fit_geometry(ordered[:100], values[:100])
    assert from_rows.card.extra == from_placements.card.extra
    assert np.array_equal(from_rows.score(ordered[100:]), from_placements.score(ordered[100:]))


def test_calibrate_and_load_a_geometry_model_like_any_model(tmp_path, tiny):  # noqa: ANN001
    data = open_dataset(tiny.data)
    info = data.geometry_info
    values = data.metric("Offset_Voltage")
    model = fit_rows(data.read_geometry(), values, DesignColumns.from_info(info), design="tiny")
    path = model.save(tmp_path / "geo.pt")
    scorer = load_scorer(path)
    assert isinstance(scorer, GeometryScorer) and scorer.card == model.card
    result = calibrate_checkpoint(path, tiny.data, 0.15, split="all")
    assert result.calibration.target_for == 0.15
    assert np.array_equal(result.scores, scorer.score_prepared(data.read_geometry()))
    saved = result.save(tmp_path / "calibrated.pt")
    assert load_scorer(saved).card.calibration.target_for == 0.15
    assert load_scorer(saved).threshold == result.calibration.threshold


def test_explanation_names_the_devices_that_decide(tiny_set, fitted):  # noqa: ANN001
    # the tiny design's offset is the separation of M0 and M1: they carry the evidence
    placements, offsets = tiny_set
    worst = placements[120 + int(np.argmax(fitted.score(placements[120:])))]
    result = explain_geometry(fitted, worst)
    assert result.score == fitted.score(worst)[0]
    top_two = list(result.devices)[:2]
    assert set(top_two) & {"M0", "M1"}
    assert result.devices[top_two[0]] > 0
    assert set(result.devices) == set(worst.names)


def test_a_damaged_geometry_table_is_one_error_naming_the_file(tiny, tmp_path):  # noqa: ANN001
    import shutil

    import h5py

    from magical_prune.errors import MagicalPruneError

    bad = tmp_path / "bad.h5"
    shutil.copy(tiny.data, bad)
    with h5py.File(bad, "r+") as f:
        rows = f["geometry"][()]
        del f["geometry"]
        f.create_dataset("geometry", data=rows[:, :-1])  # one column short of its description
    with pytest.raises(MagicalPruneError, match="damaged data set: geometry has shape") as err:
        open_dataset(bad)
    assert "bad.h5" in str(err.value)


def test_rows_and_models_of_before_the_role_vector_are_refused_saying_rebuild(tiny_set, fitted):  # noqa: ANN001
    from magical_prune.errors import MagicalPruneError

    placements, _ = tiny_set
    info = {"columns_sha256": "x", "widths": [10, 4, 2], "devices": ["A"]}
    with pytest.raises(MagicalPruneError, match="rebuild it with `dataset build`"):
        DesignColumns.from_info(info, "old.h5")
    import dataclasses

    geo = dict(fitted.card.extra["geometry"])
    geo["widths"] = list(geo["widths"])[:3]
    card = dataclasses.replace(fitted.card, extra={**fitted.card.extra, "geometry": geo})
    old = GeometryScorer(fitted.learner, card, "old.pt")
    with pytest.raises(CheckpointError, match="the model was made by an older magical-prune"):
        old.score(placements[0])


def test_out_of_fold_scores_ranking_backwards_do_not_turn_the_model_upside_down(tiny_set):  # noqa: ANN001
    # with a handful of labels the out-of-fold scores can rank them backwards (ota3 at 20
    # labels); a probability map fitted on those would invert every score of the model
    placements, offsets = tiny_set
    rows = np.stack([flat_vector(p) for p in placements[:100]])
    columns = DesignColumns.of(placements[0])
    learner = GeometryLearner(LearnerConfig(candidates=("ridge-physics",)))
    learner.fit(stack_vectors([geometry_vectors(p) for p in placements[:100]]), offsets[:100])
    labels = (np.abs(offsets[:100]) > np.quantile(np.abs(offsets[:100]), 0.75)).astype(int)
    own_train = learner.scores(stack_vectors([geometry_vectors(p) for p in placements[:100]]))
    assert spearmanr(own_train, labels).statistic > 0  # the model ranks its labels its way
    learner.oof_scores = 2 * own_train.mean() - own_train  # and the folds backwards
    scorer = scorer_of(learner, rows, labels, columns)
    slope = scorer.card.extra["geometry"]["probability"][0]
    assert slope > 0
    held = np.stack([flat_vector(p) for p in placements[100:]])
    own = learner.scores(stack_vectors([geometry_vectors(p) for p in placements[100:]]))
    probability = scorer.score_prepared(held)[np.argsort(own)]
    assert np.all(np.diff(probability) >= 0) and np.ptp(probability) > 0.05
