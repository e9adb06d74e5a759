"""The design-agnostic prior inside the geometry learner, under few labels."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from scipy.stats import spearmanr

from magical_prune.adapters.discovery import find_layouts, load_placement
from magical_prune.cli import main
from magical_prune.errors import MagicalPruneError
from magical_prune.geolearn import (
    CV_MIN_LABELS,
    PRIOR_LABELS,
    GeometryLearner,
    LearnerConfig,
    Tables,
    prior_weight,
)
from magical_prune.geomodel import GeometryScorer, fit_geometry
from magical_prune.priormodel import bundled_role_prior
from magical_prune.roleprior import FEATURE_NAMES, AdaptedPrior, RolePrior

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "ota3"


def sign_free(n: int, seed: int) -> tuple[Tables, np.ndarray, AdaptedPrior]:
    """Offsets that grow with the *size* of the input pair's separation from typical (which
    the prior knows and a signed ridge of 16 noisy labels cannot learn), and a prior that
    weighs that one input."""
    rng = np.random.default_rng(seed)
    devices = 4
    layout = rng.normal(0, 10, (n, 3 * devices + 5 + 2))
    layout[:, -2:] = np.abs(layout[:, -2:]) + 20  # width, height
    roles = rng.normal(0, 5, (n, 8))
    offset = (5.0 + np.abs(roles[:, 0]) + rng.normal(0, 2.0, n)) * 1e-6
    tables = Tables(layout, rng.normal(0, 5, (n, 6)), rng.normal(0, 0.1, (n, 3)), roles)
    weights = np.zeros(len(FEATURE_NAMES))
    weights[0] = 1.0
    prior = AdaptedPrior.of(RolePrior(weights, 0.0), layout, roles, devices)
    return tables, offset, prior


def test_adapted_prior_round_trips_and_refuses_damaged_arrays():
    tables, _, prior = sign_free(64, seed=0)
    again = AdaptedPrior.from_state(prior.state())
    np.testing.assert_array_equal(again.scores(tables.layout, tables.roles),
                                  prior.scores(tables.layout, tables.roles))  # fmt: skip
    state = prior.state()
    with pytest.raises(MagicalPruneError, match="damaged"):
        AdaptedPrior.from_state({k: v for k, v in state.items() if k != "mean"})
    with pytest.raises(MagicalPruneError, match="3 weights"):
        AdaptedPrior.from_state({**state, "weights": np.ones(3)})


def test_under_32_labels_the_prior_is_averaged_in_by_its_weight():
    tables, offset, prior = sign_free(400, seed=1)
    train = np.arange(20)
    learner = GeometryLearner().fit(tables.take(train), offset[train], prior, tables)
    assert learner.chosen == "ridge-roles+prior" and set(learner.cv) == {"ridge-roles", "prior"}
    # by hand: each member standardised by its scores of the unlabelled layouts, the prior's
    # spread widened by 1 / prior_weight(20)
    alone = GeometryLearner().fit(tables.take(train), offset[train])
    learnt, known = alone.scores(tables), prior.scores(tables.layout, tables.roles)
    w = prior_weight(20)
    assert w == pytest.approx(PRIOR_LABELS / 20)
    expected = (
        (learnt - learnt.mean()) / learnt.std() + w * (known - known.mean()) / known.std()
    ) / 2
    np.testing.assert_allclose(learner.scores(tables), expected, rtol=1e-9, atol=1e-12)
    # from its arrays, as a model file holds them
    again = GeometryLearner.restore(learner.config, learner.chosen, learner.state())
    np.testing.assert_array_equal(again.scores(tables), learner.scores(tables))
    # and with the labels it knows better than 16 noisy labels alone
    held = np.arange(100, 400)
    rho = {name: spearmanr(m.scores(tables.take(held)), offset[held]).statistic
           for name, m in (("alone", alone), ("with prior", learner))}  # fmt: skip
    assert rho["with prior"] > rho["alone"] + 0.1


def test_from_32_labels_cross_validation_decides_without_the_prior():
    tables, offset, prior = sign_free(200, seed=2)
    learner = GeometryLearner(LearnerConfig(candidates=("ridge-roles", "ridge-physics")))
    learner.fit(tables.take(np.arange(CV_MIN_LABELS)), offset[:CV_MIN_LABELS], prior, tables)
    assert "prior" not in learner.chosen.split("+") and "prior" not in learner.cv
    assert prior_weight(64) == pytest.approx(0.25) and prior_weight(4) == 1.0


def examples() -> tuple[list, np.ndarray]:
    placements = [load_placement(p) for p in find_layouts(EXAMPLE)]
    return placements, np.array([p.performance["Offset_Voltage"] for p in placements])


def test_a_fitted_model_with_the_bundled_prior_saves_and_scores_alike(tmp_path):  # noqa: ANN001
    placements, values = examples()
    prior = bundled_role_prior()
    assert prior is not None
    scorer = fit_geometry(placements, values, prior=prior, target_for=None)
    assert scorer.card.extra["geometry"]["candidate"] == "ridge-roles+prior"
    loaded = GeometryScorer.load(scorer.save(tmp_path / "m.pt"))
    np.testing.assert_array_equal(loaded.score(placements), scorer.score(placements))
    # fewer layouts than a typical layout is read off: the prior is left out
    few = fit_geometry(placements[:12], values[:12], prior=prior, target_for=None)
    assert few.card.extra["geometry"]["candidate"] == "ridge-roles"


def run(*args: object) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, [str(a) for a in args])
    return result.exit_code, result.stdout, result.stderr


def test_train_and_fewshot_use_the_prior_unless_told_not_to(tiny, tmp_path):  # noqa: ANN001
    chosen = {}
    for flag in ("--prior", "--no-prior"):
        code, stdout, stderr = run("train", tiny.data, "--learner", "geometry", "--alpha", 0.15,
                                   "-o", tmp_path / f"{flag}.pt", "--json", flag)  # fmt: skip
        assert code == 0, stderr
        chosen[flag] = json.loads(stdout)["candidate"]
    assert chosen["--prior"].endswith("+prior") and "prior" not in chosen["--no-prior"]
    code, stdout, stderr = run("train", tiny.data, "--learner", "geometry", "--alpha", 0.15,
                               "-o", tmp_path / "text.pt")  # fmt: skip
    assert code == 0 and "with the design-agnostic prior" in stdout
    settings = {}
    for flag in ("--prior", "--no-prior"):
        code, stdout, stderr = run("fewshot", tmp_path / "--prior.pt", tiny.data, "--shots", 16,
                                   "--repeats", 2, "--json", "-q", flag)  # fmt: skip
        assert code == 0, stderr
        settings[flag] = json.loads(stdout)["settings"]["prior"]
    assert settings == {"--prior": True, "--no-prior": False}


def test_a_model_file_with_a_damaged_prior_member_is_one_checkpoint_error(tmp_path):  # noqa: ANN001
    from magical_prune.checkpoint import read_model
    from magical_prune.errors import CheckpointError

    placements, values = examples()
    scorer = fit_geometry(placements, values, prior=bundled_role_prior(), target_for=None)
    state, card = read_model(scorer.save(tmp_path / "m.pt"))
    assert any(k.startswith("prior/") for k in state)
    broken = {k: v for k, v in state.items() if k != "prior/mean"}
    with pytest.raises(CheckpointError, match="damaged geometry model"):
        GeometryScorer.from_state(broken, card, "m.pt")
