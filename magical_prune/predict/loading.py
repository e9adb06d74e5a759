"""Open any model file as a :class:`~magical_prune.scorer.Scorer`, whatever learnt it.

The card's ``family`` says which class reads the file: ``cnn`` (the paper's networks and
``efficient``) -> :class:`~magical_prune.predict.Predictor`, ``geometry`` ->
:class:`~magical_prune.geomodel.GeometryScorer`. ``None`` or ``"default"`` is the bundled
model. Commands and flow scripts call :func:`load_scorer` and never need to know which.
"""

from __future__ import annotations

import os
from pathlib import Path

from magical_prune.checkpoint import build_model, read_model
from magical_prune.errors import CheckpointError
from magical_prune.geomodel import FAMILY as GEOMETRY
from magical_prune.geomodel import GeometryScorer
from magical_prune.predict.predictor import Predictor, bundled_model_path
from magical_prune.scorer import Scorer

__all__ = ["DEFAULT_NAME", "load_scorer", "resolve_model_path"]

#: the name that means the bundled model wherever a model file is asked for
DEFAULT_NAME = "default"


def resolve_model_path(model: str | os.PathLike[str] | None) -> Path:
    """The file a model argument names (``None`` / ``"default"``: the bundled model, unless
    a file of that name is there)."""
    if model is None or (os.fspath(model) == DEFAULT_NAME and not Path(model).exists()):
        return bundled_model_path()
    return Path(model)


def load_scorer(model: str | os.PathLike[str] | None = None, device: str = "cpu") -> Scorer:
    """The scorer a model file describes.

    Raises:
        CheckpointError: unreadable file, or a learner family this version does not know.
    """
    path = resolve_model_path(model)
    state, card = read_model(path)  # read once, whatever learnt it
    if card.family == GEOMETRY:
        return GeometryScorer.from_state(state, card, os.fspath(path))
    if card.family == "cnn":
        net = build_model(state, card, path, device)
        return Predictor(net, card, source=path, device=device)
    raise CheckpointError(
        f"model learnt by {card.family!r}; this magical-prune reads cnn and {GEOMETRY} models",
        path,
    )
