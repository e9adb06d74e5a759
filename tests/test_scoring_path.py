"""One scoring path: every part of the package that scores placements gives the same numbers.

The bundled model on the committed ota3 layouts, scored by ``Predictor.score``, by
``Predictor.score_prepared`` on prepared features, by the ``score --json`` command, by the
pruning hook, by ``explain``, and by ``calibrate_checkpoint`` on a data set of the same
layouts. The data set stores feature images as float16, so calibration sees slightly
different inputs than scoring a placement directly (scores within ~1e-3); on the same
inputs -- the data set's features given to ``score`` as feature stacks -- the numbers are
identical.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from magical_prune.adapters import magical
from magical_prune.adapters.magical import find_layouts, load_placement
from magical_prune.cli import main
from magical_prune.dataset import LabelledDataset, build_dataset
from magical_prune.explain import explain
from magical_prune.features import FeatureStack
from magical_prune.hook import HookConfig, PruneHook
from magical_prune.predict import Predictor, calibrate_checkpoint
from magical_prune.scorer import Scorer

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "ota3"


@pytest.fixture(scope="module")
def example() -> tuple[Predictor, list[Path], list, np.ndarray]:
    """The bundled predictor, the layouts, their placements and their scores."""
    if not EXAMPLE.is_dir():
        pytest.skip("no committed example set")
    predictor = Predictor.load()
    layouts = find_layouts(EXAMPLE)
    placements = [load_placement(p) for p in layouts]
    return predictor, layouts, placements, predictor.score(placements)


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:  # noqa: ANN001
    if not EXAMPLE.is_dir():
        pytest.skip("no committed example set")
    path = tmp_path_factory.mktemp("ota3") / "ota3.h5"
    build_dataset(
        find_layouts(EXAMPLE), path, load=load_placement,
        read_performance=lambda p: magical.read_performance(p / "performance.txt"),
        size=64, attrs={"design": "ota3"}, progress=False,
    )  # fmt: skip
    return path


def test_the_predictor_is_a_scorer(example) -> None:  # noqa: ANN001
    predictor, *_ = example
    assert isinstance(predictor, Scorer)
    assert predictor.card.threshold == predictor.threshold
    assert predictor.card.arch == predictor.arch == "efficient"


def test_score_and_score_prepared_agree(example) -> None:  # noqa: ANN001
    predictor, _, placements, scores = example
    prepared = predictor.prepare(placements)
    assert np.array_equal(predictor.score_prepared(prepared), scores)
    assert np.array_equal(predictor.score_prepared(prepared, batch_size=3), scores)
    assert np.array_equal(predictor.raw_scores(prepared), scores)  # the old name
    assert np.array_equal(predictor.score_features(prepared), scores)
    one = predictor.score(placements[4])
    assert one.shape == (1,) and one[0] == scores[4]


def test_score_command_prints_the_same_numbers(example) -> None:  # noqa: ANN001
    predictor, layouts, _, scores = example
    # the bundled CNN by name (`default` scores ota3 layouts with ota3's geometry model)
    result = CliRunner().invoke(main, ["score", *map(str, layouts), "--json", "-m",
                                       "default-cnn"])  # fmt: skip
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in result.stdout.splitlines() if line.strip()]
    assert [r["path"] for r in rows] == [str(p) for p in layouts]
    assert np.array_equal([r["score"] for r in rows], scores)
    assert all(r["threshold"] == predictor.threshold for r in rows)
    assert [r["prune"] for r in rows] == predictor.decide(scores).tolist()


def test_hook_and_explain_give_the_same_numbers(example) -> None:  # noqa: ANN001
    predictor, _, placements, scores = example
    hook = PruneHook(config=HookConfig(explore=0.0))
    assert np.array_equal([hook(p).score for p in placements], scores)
    for i in (0, 7):
        assert explain(predictor, placements[i]).score == scores[i]


def test_calibration_scores_on_the_production_path(example, data) -> None:  # noqa: ANN001
    predictor, layouts, _, scores = example
    result = calibrate_checkpoint(None, data, 0.2, split="all", batch_size=7)
    dataset = LabelledDataset.open(data, metric="Offset_Voltage")
    order = [[p.name for p in layouts].index(i) for i in dataset.ids]
    stored = dataset.features(np.arange(len(dataset))).numpy()
    # the very numbers `score` gives on the same (float16-stored) features ...
    assert np.array_equal(result.scores, predictor.score_prepared(stored))
    stacks = [FeatureStack(x, 64, "exact") for x in stored]
    assert np.array_equal(result.scores, predictor.score(stacks))
    # ... and close to the placements' own scores (float16 storage of the images)
    np.testing.assert_allclose(result.scores, scores[order], rtol=0, atol=2e-3)
    # the threshold is recorded in the card of the calibrated predictor
    card = result.predictor.card
    assert card.threshold == result.calibration.threshold == result.predictor.threshold
    assert card.calibration is not None and card.calibration.target_for == 0.2
    assert card.calibration.on.n_calibration == len(layouts)
    assert card.calibration.previous_threshold == predictor.threshold
