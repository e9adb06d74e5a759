"""Fixtures shared by the pruning tests (score, predict, explain, hook, flow example)."""

from __future__ import annotations

import pytest
from hypothesis import settings
from pruning_fixtures import Assets, assets

from magical_prune.predict import Predictor

# Property tests draw the same examples on every run, so a test run's result depends on the
# code only (a failure in CI can be rerun and seen). `pytest --hypothesis-profile=explore`
# draws new examples each run, which is how the legaliser's tie bug was found.
settings.register_profile("repeatable", derandomize=True)
settings.register_profile("explore", derandomize=False)
settings.load_profile("repeatable")


@pytest.fixture(scope="session")
def tiny(tmp_path_factory) -> Assets:  # noqa: ANN001 - pytest's factory
    """A tiny labelled design, its data set and a model trained on it (built once)."""
    return assets(tmp_path_factory)


@pytest.fixture(scope="module")
def predictor(tiny: Assets) -> Predictor:
    return Predictor.load(tiny.model)
