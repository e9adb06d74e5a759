"""The design-agnostic prior: its inputs, its fit, its model file, and ``default`` using it."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from pruning_fixtures import Assets, write_layouts
from scipy.stats import spearmanr

from magical_prune import load_placement
from magical_prune.cli import main
from magical_prune.errors import CheckpointError, MagicalPruneError
from magical_prune.predict import (
    Predictor,
    bundled_design_models,
    bundled_prior_path,
    design_digest,
    load_scorer,
)
from magical_prune.priormodel import PriorScorer, pretrained_scorer
from magical_prune.roleprior import (
    FEATURE_NAMES,
    MIN_LAYOUTS,
    DesignStats,
    RolePrior,
    raw_inputs,
)

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "ota3"
BUNDLED = bundled_prior_path()


def synthetic_design(rng: np.random.Generator, n: int, scale: float, shift: float):
    """Raw inputs of a made-up design whose badness grows with the input pair's distance
    from its typical separation and with wire length; its own units and typical values."""
    raw = shift + scale * rng.standard_normal((n, 12))
    typical = raw.mean(axis=0)
    badness = (np.abs(raw[:, 0] - typical[0]) + 0.5 * (raw[:, 8] - typical[8])) / scale
    return raw, badness + 0.1 * rng.standard_normal(n)


def test_raw_inputs_read_wires_area_aspect_and_axis_distance_off_the_layout_vector() -> None:
    # 2 devices: x (2), y (2), |x| (2), hpwl of 3 nets, width, height
    layout = np.array([[-1.0, 2.0, 0.0, 0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 2.0]])
    roles = np.arange(8.0)[None, :]
    raw = raw_inputs(layout, roles, devices=2)
    np.testing.assert_allclose(raw[0], [*range(8), 12.0, 12.0, 3.0, 3.0])


def test_stats_need_enough_layouts_and_constant_inputs_standardise_to_zero() -> None:
    with pytest.raises(MagicalPruneError, match=f"at least {MIN_LAYOUTS}"):
        DesignStats.of(np.zeros((MIN_LAYOUTS - 1, 12)))
    raw = np.random.default_rng(0).standard_normal((40, 12))
    raw[:, 9] = 7.0  # constant area
    x = DesignStats.of(raw).standardise(raw)
    assert x.shape == (40, len(FEATURE_NAMES))
    assert np.all(x[:, :8] >= 0) and np.all(x[:, 9] == 0)  # roles are distances
    assert (x[:, 8] < 0).any()  # wire length keeps its sign: shorter than typical is good
    np.testing.assert_allclose(x[:, 11], np.abs(x[:, 10]))  # |aspect|


def test_prior_fit_on_some_designs_ranks_another_in_other_units() -> None:
    rng = np.random.default_rng(1)
    sources = [synthetic_design(rng, 300, s, m) for s, m in ((1.0, 0.0), (5.0, 40.0))]
    prior = RolePrior.fit(sources)
    assert np.all(prior.weights >= 0)
    assert np.argsort(prior.weights)[-2:].tolist() in ([0, 8], [8, 0])
    raw, badness = synthetic_design(rng, 300, 0.01, -3.0)  # µm -> "mm", shifted
    rank = prior.predict(DesignStats.of(raw).standardise(raw))
    assert spearmanr(rank, badness).statistic > 0.7


@pytest.fixture(scope="module")
def pretrained() -> PriorScorer:
    rng = np.random.default_rng(2)
    return pretrained_scorer({"a": synthetic_design(rng, 400, 1.0, 0.0),
                              "b": synthetic_design(rng, 400, 3.0, 10.0)})  # fmt: skip


@pytest.fixture(scope="module")
def examples() -> list:
    folders = sorted((p for p in EXAMPLE.iterdir() if p.is_dir()), key=lambda p: int(p.name[5:]))
    return [load_placement(p) for p in folders]


def test_pretrained_card_and_file_round_trip(pretrained: PriorScorer, tmp_path: Path) -> None:
    card = pretrained.card
    assert card.family == "role-prior" and 0.0 < card.threshold < 1.0
    assert list(card.extra["role-prior"]["sources"]) == ["a", "b"]
    saved = PriorScorer.load(pretrained.save(tmp_path / "p.pt"))
    np.testing.assert_array_equal(saved.prior.weights, pretrained.prior.weights)
    assert saved.threshold == pretrained.threshold and saved.stats is None


def test_unadapted_prior_refuses_to_score(pretrained: PriorScorer, examples: list) -> None:
    with pytest.raises(MagicalPruneError, match="at least 16 of its layouts"):
        pretrained.score(examples[:2])
    with pytest.raises(MagicalPruneError, match="at least 16"):
        pretrained.adapt(examples[:5])


def test_adapted_prior_scores_each_layout_alone_and_only_its_design(
    pretrained: PriorScorer, examples: list, tiny: Assets, tmp_path: Path
) -> None:
    adapted = pretrained.adapt(examples)
    assert adapted.stats is not None and adapted.stats.layouts == len(examples)
    whole = adapted.score(examples)
    assert np.all((whole >= 0) & (whole <= 1)) and len(np.unique(whole)) > 5
    np.testing.assert_array_equal(adapted.score(examples[3:5]), whole[3:5])  # batch-free
    again = PriorScorer.load(adapted.save(tmp_path / "ota3_prior.pt"))
    np.testing.assert_array_equal(again.score(examples), whole)
    other = load_placement(tiny.layouts[0])
    with pytest.raises(CheckpointError, match="do not line up"):
        adapted.score([other])
    with pytest.raises(MagicalPruneError, match="one design"):
        pretrained.adapt(examples + [other])
    shares = adapted.contributions(examples[0])
    assert set(shares) == set(FEATURE_NAMES) and all(v >= 0 for v in list(shares.values())[:8])


def test_bundled_prior_beats_random_on_every_design_it_did_not_learn() -> None:
    scorer = load_scorer(BUNDLED)
    assert isinstance(scorer, PriorScorer) and BUNDLED.stat().st_size < 100_000
    per_design = scorer.card.test_metrics["per_design"]
    assert sorted(per_design) == ["ota1", "ota2", "ota3", "ota4"]
    for row in per_design.values():  # prior fitted without the design, its last 20%
        assert row["for_zero_shot"] < row["random_for"] - 0.03


@pytest.fixture(scope="module")
def new_design(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """20 layouts of a design no bundled geometry model knows."""
    return write_layouts(tmp_path_factory.mktemp("new") / "newamp", 20, seed=3)


def test_default_adapts_the_prior_to_enough_layouts_of_a_new_design(new_design: list) -> None:
    placements = [load_placement(p) for p in new_design]
    assert design_digest(placements[0]) not in bundled_design_models()
    chosen = load_scorer("default", like=placements)
    assert isinstance(chosen, PriorScorer) and chosen.stats.layouts == 20
    assert isinstance(load_scorer(like=placements[: MIN_LAYOUTS - 1]), Predictor)
    # a reference design keeps its own geometry model
    ota3 = load_scorer(like=[load_placement(p) for p in sorted(EXAMPLE.glob("ota3_*"))])
    assert ota3.card.family == "geometry"


def test_score_cli_names_the_prior_and_data_commands_refuse_it(
    new_design: list, tiny: Assets
) -> None:
    result = CliRunner().invoke(main, ["score", str(new_design[0].parent), "--json"])
    assert result.exit_code == 0, result.output
    line = [x for x in result.stderr.splitlines() if x.startswith("model:")]
    assert len(line) == 1 and "design-agnostic prior" in line[0] and "20 layouts" in line[0]
    rows = [json.loads(x) for x in result.stdout.splitlines() if x.strip()]
    assert len(rows) == 20 and len({r["score"] for r in rows}) > 1
    refused = CliRunner().invoke(main, ["evaluate", str(BUNDLED), str(tiny.data)])
    assert refused.exit_code == 2 and "scores placements" in refused.output
    assert "Traceback" not in refused.output
    info = CliRunner().invoke(main, ["model-info", str(BUNDLED)])
    assert info.exit_code == 0 and "design-agnostic" in info.output
    assert "zero-shot:      ota1: FOR" in info.output  # each design's figure, learnt without it
    listed = CliRunner().invoke(main, ["model-info"])  # the bundled CNN, and what comes with it
    assert listed.exit_code == 0 and "the design-agnostic prior (" in listed.output


def test_explain_with_a_saved_adapted_prior_lists_its_inputs(
    pretrained: PriorScorer, examples: list, tmp_path: Path
) -> None:
    path = pretrained.adapt(examples, design="ota3").save(tmp_path / "ota3_prior.pt")
    layout = str(EXAMPLE / "ota3_4")
    result = CliRunner().invoke(main, ["explain", layout, "-m", str(path), "--json"])
    assert result.exit_code == 0, result.output
    shown = json.loads(result.stdout)
    assert set(shown["inputs"]) == set(FEATURE_NAMES) and 0.0 <= shown["score"] <= 1.0
    text = CliRunner().invoke(main, ["explain", layout, "-m", str(path)])
    assert text.exit_code == 0 and "design-agnostic prior" in text.output
    drawn = CliRunner().invoke(main, ["explain", layout, "-m", str(path), "-o",
                                      str(tmp_path / "x.png")])  # fmt: skip
    assert drawn.exit_code == 2 and "no images" in drawn.output
    with pytest.raises(MagicalPruneError, match="placements, not"):
        pretrained.adapt(["not a placement"] * MIN_LAYOUTS)


def test_raw_inputs_of_a_real_layout_match_its_placement(examples: list) -> None:
    """The column positions raw_inputs reads follow geometry.layout_vector's order."""
    from magical_prune.geometry import geometry_vectors
    from magical_prune.roleprior import raw_inputs_of

    p = examples[0]
    raw = raw_inputs_of([geometry_vectors(p)], len(p.names))[0]
    box = np.asarray(p.bbox, dtype=float) / 1000.0
    width, height = box[2] - box[0], box[3] - box[1]
    assert raw[8] == pytest.approx(sum(p.hpwl().values()) / 1000.0)
    assert raw[9] == pytest.approx(width * height) and raw[10] == pytest.approx(width / height)
    rects = np.asarray(p.rects, dtype=float) / 1000.0
    centre_x = (rects[:, 0] + rects[:, 2]) / 2.0
    assert raw[11] == pytest.approx(np.abs(centre_x - (box[0] + box[2]) / 2.0).sum())


def test_a_damaged_or_unadapted_prior_file_is_one_line_error(
    pretrained: PriorScorer, new_design: list, tmp_path: Path
) -> None:
    from magical_prune.checkpoint import ArrayModule, save_model

    short = save_model(tmp_path / "short.pt", ArrayModule({"weights": np.ones(3),
                       "intercept": np.zeros(1)}), pretrained.card)  # fmt: skip
    with pytest.raises(CheckpointError, match="damaged prior model: 3 weights for 13 inputs"):
        load_scorer(short)
    result = CliRunner().invoke(main, ["score", str(new_design[0]), "-m", str(short)])
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert result.output.startswith("error:") and "short.pt" in result.output
    assert len(result.output.strip().splitlines()) == 1
    # the bundled prior as a file knows no design: one layout cannot be scored by it
    alone = CliRunner().invoke(main, ["explain", str(new_design[0]), "-m", str(BUNDLED)])
    assert alone.exit_code == 2 and "Traceback" not in alone.output
    assert "at least 16 of its layouts" in alone.output
