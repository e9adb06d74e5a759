"""Fixtures shared by the pruning tests (score, predict, explain, hook, flow example)."""

from __future__ import annotations

import pytest
from pruning_fixtures import Assets, assets

from magical_prune.predict import Predictor


@pytest.fixture(scope="session")
def tiny(tmp_path_factory) -> Assets:  # noqa: ANN001 - pytest's factory
    """A tiny labelled design, its data set and a model trained on it (built once)."""
    return assets(tmp_path_factory)


@pytest.fixture(scope="module")
def predictor(tiny: Assets) -> Predictor:
    return Predictor.load(tiny.model)
