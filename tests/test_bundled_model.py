"""The bundled default model: present, small, self-describing, and usable end to end.

These tests use the real ``magical_prune/assets/default.pt`` (made by
``benchmarks/bundle_model.py``) on the committed example layouts, as the README's main
job does.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from magical_prune import Predictor, PruneHook, load_placement
from magical_prune.cli import main
from magical_prune.predict import bundled_model_path

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "ota3"


@pytest.fixture(scope="module")
def predictor() -> Predictor:
    return Predictor.load()


def test_bundled_model_is_package_data_and_small() -> None:
    path = Path(bundled_model_path())
    assert path.is_file()
    assert path.stat().st_size < 5 * 1024 * 1024


def test_bundled_model_says_what_it_was_trained_on(predictor: Predictor) -> None:
    meta = predictor.meta
    assert meta["arch"] == "efficient"
    assert meta["image_size"] == 64
    assert meta["label"]["metric"] == "Offset_Voltage"
    assert meta["label"]["worst_percent"] == 25.0
    assert meta["data"]["design"] == "ota1"
    assert "bundle_model.py" in meta["created_by"]
    assert "refflow generate ota1" in meta["reference_data"]
    cal = meta["calibration"]
    assert cal["feasible"] and cal["achieved_for"] <= cal["target_for"] == 0.08
    assert 0.0 < predictor.threshold < 1.0
    assert predictor.threshold == pytest.approx(cal["threshold"])


def test_bundled_model_beats_random_on_its_own_test_split(predictor: Predictor) -> None:
    """The recorded test metrics (held-out ota1 layouts) are far better than chance."""
    m = predictor.meta["test_metrics"]
    assert m["accuracy"] > 0.85
    assert m["for"] < m["random_for"] / 2


def test_scores_of_the_example_are_probabilities_and_repeatable(predictor: Predictor) -> None:
    layouts = sorted(p for p in EXAMPLE.iterdir() if p.is_dir())
    placements = [load_placement(p) for p in layouts]
    first = predictor.score(placements)
    again = Predictor.load().score(placements[::-1])[::-1]
    assert first.shape == (len(layouts),)
    assert np.all((first >= 0) & (first <= 1))
    np.testing.assert_allclose(first, again, rtol=0, atol=1e-6)
    assert first.std() > 0.01  # the model tells the layouts apart


def test_readme_main_job_scores_the_example() -> None:
    result = CliRunner().invoke(main, ["score", str(EXAMPLE), "--json"])
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in result.stdout.splitlines() if line.strip()]
    assert len(rows) == sum(1 for p in EXAMPLE.iterdir() if p.is_dir())
    # stderr: which bundled model scored them (ota3's geometry model), then the summary
    model_line, summary = result.stderr.strip().splitlines()
    assert model_line.startswith("model: the bundled ota3 model")
    assert summary.startswith(f"scored {len(rows)} placement(s): ")
    for row in rows:
        assert row["prune"] == (row["score"] >= row["threshold"])
        assert row["decision"] == ("prune" if row["prune"] else "keep")


def test_hook_with_defaults_uses_the_bundled_threshold(predictor: Predictor) -> None:
    hook = PruneHook()
    decision = hook(load_placement(EXAMPLE / "ota3_0"))
    assert hook.threshold == pytest.approx(predictor.threshold)
    assert decision.prune == (decision.score >= predictor.threshold)
