"""The bundled per-design geometry models, and ``default`` choosing them.

The files are the real ``magical_prune/assets/geometry/*`` (made by
``benchmarks/bundle_geometry.py``, which keeps the 20 bundled example layouts out of
training), so the example scores here are out of sample.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from pruning_fixtures import Assets
from scipy.stats import spearmanr

from magical_prune import load_placement
from magical_prune.cli import main
from magical_prune.geometry import column_digest
from magical_prune.geomodel import GeometryScorer
from magical_prune.predict import (
    Predictor,
    bundled_design_models,
    bundled_model_path,
    design_digest,
    is_default,
    load_scorer,
)

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "ota3"
LAYOUTS = sorted((p for p in EXAMPLE.iterdir() if p.is_dir()), key=lambda p: int(p.name[5:]))


@pytest.fixture(scope="module")
def placements() -> list:
    return [load_placement(p) for p in LAYOUTS]


def test_every_reference_design_has_a_bundled_model_under_the_size_limit() -> None:
    found = bundled_design_models()
    assert sorted(design for design, _ in found.values()) == ["ota1", "ota2", "ota3", "ota4"]
    total = bundled_model_path().stat().st_size
    for digest, (design, path) in found.items():
        scorer = load_scorer(path)
        assert isinstance(scorer, GeometryScorer)
        assert scorer.card.design == design
        assert len(digest) == 64
        assert 0.0 < scorer.threshold < 1.0  # calibrated, not the 0.5 of an uncalibrated fit
        held_out = scorer.card.test_metrics  # 3,200 layouts the model did not learn
        assert held_out["for"] < held_out["random_for"] / 2
        total += path.stat().st_size
    assert total < 5 * 1024 * 1024  # the limit for everything bundled
    # ota1 and ota2 share a netlist (same columns); their sizes tell them apart
    columns = {load_scorer(p).card.extra["geometry"]["columns_sha256"]: d
               for d, p in found.values()}  # fmt: skip
    assert len(columns) == 3 and len(found) == 4


def test_default_is_the_designs_own_model_for_a_reference_design(placements: list) -> None:
    assert bundled_design_models()[design_digest(placements[0])][0] == "ota3"
    chosen = load_scorer("default", like=placements)
    assert isinstance(chosen, GeometryScorer) and chosen.card.design == "ota3"
    assert load_scorer(None, like=placements[0]).card.design == "ota3"
    assert isinstance(load_scorer(), Predictor)  # nothing to look at: the CNN
    # the CNN's own file is a choice of the CNN, whatever the design
    assert isinstance(load_scorer(bundled_model_path(), like=placements), Predictor)
    assert is_default("default") and is_default(None) and not is_default(bundled_model_path())
    assert isinstance(load_scorer("default-cnn", like=placements), Predictor)


def test_default_is_the_cnn_for_other_or_mixed_designs(placements: list, tiny: Assets) -> None:
    other = load_placement(tiny.layouts[0])
    assert column_digest(other) not in bundled_design_models()
    assert isinstance(load_scorer(like=[other]), Predictor)
    assert isinstance(load_scorer(like=[placements[0], other]), Predictor)
    assert isinstance(load_scorer(like=[]), Predictor)


def test_bundled_ota3_model_ranks_the_held_out_examples(placements: list) -> None:
    """The examples were kept out of its training: its ranking of them is out of sample."""
    scores = load_scorer(like=placements).score(placements)
    offsets = np.abs([p.performance["Offset_Voltage"] for p in placements])
    assert spearmanr(scores, offsets).statistic > 0.6


def test_score_cli_says_which_bundled_model_it_used() -> None:
    result = CliRunner().invoke(main, ["score", str(EXAMPLE), "--json"])
    assert result.exit_code == 0, result.output
    assert "the bundled ota3 model (geometry:" in result.stderr
    rows = [json.loads(line) for line in result.stdout.splitlines() if line.strip()]
    ota3 = load_scorer(like=load_placement(LAYOUTS[0]))
    assert {row["threshold"] for row in rows} == {ota3.threshold}
    cnn = CliRunner().invoke(main, ["score", str(EXAMPLE), "--json", "-m",
                                    str(bundled_model_path())])  # fmt: skip
    assert cnn.exit_code == 0, cnn.output
    assert "bundled ota3" not in cnn.stderr
    thresholds = {json.loads(line)["threshold"] for line in cnn.stdout.splitlines()}
    assert thresholds == {Predictor.load().threshold}
    assert "near random" not in cnn.stderr  # the CNN asked for by name: no warning


def test_score_cli_warns_that_the_cnn_does_not_know_another_design(tiny: Assets) -> None:
    result = CliRunner().invoke(main, ["score", str(tiny.layouts[0]), "--json"])
    assert result.exit_code == 0, result.output
    line = [x for x in result.stderr.splitlines() if x.startswith("model:")]
    assert len(line) == 1 and "learnt ota1 only" in line[0] and "GeometryHook" in line[0]


def test_explain_default_on_a_reference_design_explains_per_device(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["explain", str(LAYOUTS[0]), "--json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    devices = load_placement(LAYOUTS[0]).names
    assert set(summary["devices"]) <= set(devices) and summary["devices"]
    pictured = CliRunner().invoke(main, ["explain", str(LAYOUTS[0]), "-o",
                                         str(tmp_path / "x.png")])  # fmt: skip
    assert pictured.exit_code == 2 and "--model default-cnn" in pictured.output  # says how
    cnn = CliRunner().invoke(main, ["explain", str(LAYOUTS[0]), "-m", "default-cnn", "-o",
                                    str(tmp_path / "x.png"), "--json"])  # fmt: skip
    assert cnn.exit_code == 0, cnn.output
    assert (tmp_path / "x.png").is_file() and "devices" not in json.loads(cnn.stdout)


def test_a_damaged_bundle_index_is_one_error_naming_it(tmp_path, monkeypatch, placements):
    import types

    from magical_prune.errors import CheckpointError
    from magical_prune.predict import loading

    (tmp_path / "assets" / "geometry").mkdir(parents=True)
    index = tmp_path / "assets" / "geometry" / "index.json"
    index.write_text('{"designs": [{"design": "ota3"}]}')  # no digest, no file
    monkeypatch.setattr(loading, "resources", types.SimpleNamespace(files=lambda _: tmp_path))
    loading.bundled_design_models.cache_clear()
    try:
        with pytest.raises(CheckpointError, match="damaged index of the bundled models") as err:
            load_scorer(like=placements)
        assert str(index) in str(err.value)
        result = CliRunner().invoke(main, ["score", str(LAYOUTS[0])])
        assert result.exit_code == 2 and "Traceback" not in result.output
        assert "damaged index" in result.output and len(result.output.strip().splitlines()) == 1
    finally:
        loading.bundled_design_models.cache_clear()
