"""A placement gets the same score and decision alone, in any batch and with any thread count.

float32 convolutions moved the 6th decimal with the batch size and the thread count (20
committed ota3 layouts, bundled model: 1 score of 20 differed at 6 decimals between batch
sizes, 7 between one and two threads). Scores are now computed in float64 and rounded to
``SCORE_DECIMALS``; these tests compare exactly.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner

from magical_prune.adapters.magical import find_layouts, load_placement
from magical_prune.cli import main
from magical_prune.predict import SCORE_DECIMALS, Predictor, torch_threads

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "ota3"


@pytest.fixture(scope="module")
def bundled() -> tuple[Predictor, np.ndarray, list[Path]]:
    if not EXAMPLE.is_dir():
        pytest.skip("no committed example set")
    predictor = Predictor.load()
    layouts = find_layouts(EXAMPLE)
    x = np.stack([predictor.features(load_placement(p)) for p in layouts])
    return predictor, x, layouts


def _in_batches(predictor: Predictor, x: np.ndarray, size: int, threads: int) -> np.ndarray:
    with torch_threads(threads):
        return predictor.raw_scores(x, batch_size=size)


def test_same_score_alone_in_batches_and_threads(bundled) -> None:  # noqa: ANN001
    predictor, x, _ = bundled
    with torch_threads(1):
        alone = np.array([predictor.score_features(x[i]) for i in range(len(x))]).ravel()
    assert np.array_equal(alone, np.round(alone, SCORE_DECIMALS))
    for threads, size in ((1, 3), (1, len(x)), (2, 1), (2, 7)):
        scores = _in_batches(predictor, x, size, threads)
        assert np.array_equal(scores, alone), (threads, size)
        assert np.array_equal(predictor.decide(scores), predictor.decide(alone))
    # the shuffled set, and one placement in the middle of a batch of others
    order = np.random.default_rng(0).permutation(len(x))
    assert np.array_equal(_in_batches(predictor, x[order], 7, 2), alone[order])


def test_decision_at_the_threshold_follows_the_printed_score(bundled) -> None:  # noqa: ANN001
    predictor, x, _ = bundled
    scores = predictor.raw_scores(x)
    predictor_at = Predictor(predictor.model, predictor.meta, threshold=float(scores[3]))
    again = predictor_at.raw_scores(x[3:4], batch_size=1)
    assert again[0] == scores[3] and predictor_at.decide(again)[0]


def test_score_command_prints_the_same_for_any_batch_and_threads(bundled) -> None:  # noqa: ANN001
    _, _, layouts = bundled
    runner = CliRunner()
    outputs = set()
    for size, threads in ((1, 1), (7, 2)):
        args = ["score", *map(str, layouts), "--json", "--batch-size", str(size)]
        result = runner.invoke(main, [*args, "--threads", str(threads)])
        assert result.exit_code == 0, result.output
        outputs.add(result.stdout)  # the JSON; the summary line goes to stderr
    assert len(outputs) == 1
    rows = [json.loads(line) for line in outputs.pop().splitlines()]
    assert len(rows) == len(layouts)
    one = runner.invoke(main, ["score", str(layouts[5]), "--json"])
    assert json.loads(one.stdout) == rows[5]


def test_scores_follow_changes_to_the_model(tiny) -> None:  # noqa: ANN001
    predictor = Predictor.load(tiny.model)
    x = predictor.features(load_placement(tiny.layouts[0]))
    before = predictor.raw_scores(x)[0]
    with torch.no_grad():
        head = [p for p in predictor.model.parameters() if p.ndim == 1][-1]
        head[1] += 3.0  # the bias of class 1: a higher P(prune)
    assert predictor.raw_scores(x)[0] > before
