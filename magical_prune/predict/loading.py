"""Open any model file as a :class:`~magical_prune.scorer.Scorer`, whatever learnt it.

The card's ``family`` says which class reads the file: ``cnn`` (the paper's networks and
``efficient``) -> :class:`~magical_prune.predict.Predictor`, ``geometry`` ->
:class:`~magical_prune.geomodel.GeometryScorer`. ``None`` or ``"default"`` is the bundled
model. Commands and flow scripts call :func:`load_scorer` and never need to know which.

The bundled model is two kinds of file: the CNN (``assets/default.pt``, for any design) and
one geometry model per reference design (``assets/geometry/<design>.pt``, listed with each
design's :func:`design_digest` in ``assets/geometry/index.json``; made by
``benchmarks/bundle_geometry.py``). A geometry model learnt on a design ranks its layouts far
better than the CNN (docs/model.md), but reads that design only; so ``default`` given the
placements to score (``like``) is the design's own geometry model when all of them are of one
reference design; for layouts of one other design, at least
:data:`~magical_prune.roleprior.MIN_LAYOUTS` of them, the design-agnostic prior
(``assets/role_prior.pt``, :mod:`magical_prune.priormodel`) adapted to them; and the CNN
otherwise (a single layout of a new design, mixed designs).
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Sequence
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

from magical_prune.checkpoint import build_model, read_model
from magical_prune.errors import CheckpointError, MagicalPruneError
from magical_prune.geometry import column_digest
from magical_prune.geomodel import FAMILY as GEOMETRY
from magical_prune.geomodel import GeometryScorer
from magical_prune.placement import Placement
from magical_prune.predict.predictor import Predictor, bundled_model_path
from magical_prune.priormodel import BUNDLED_PRIOR, PriorScorer, bundled_prior_path
from magical_prune.priormodel import FAMILY as PRIOR
from magical_prune.roleprior import MIN_LAYOUTS
from magical_prune.scorer import Scorer

__all__ = [
    "BUNDLED_GEOMETRY",
    "BUNDLED_PRIOR",
    "DEFAULT_CNN_NAME",
    "DEFAULT_NAME",
    "bundled_design_models",
    "bundled_prior_path",
    "design_digest",
    "is_default",
    "load_scorer",
    "refuse_prior",
    "resolve_model_path",
]

#: the name that means the bundled model wherever a model file is asked for
DEFAULT_NAME = "default"
#: the name of the bundled CNN itself, on every design (``default`` picks per design)
DEFAULT_CNN_NAME = "default-cnn"
#: the bundled per-design geometry models, relative to the package folder
BUNDLED_GEOMETRY = "assets/geometry"


def resolve_model_path(model: str | os.PathLike[str] | None) -> Path:
    """The file a model argument names (``None``, ``"default"`` or ``"default-cnn"``: the
    bundled CNN, unless a file of that name is there)."""
    if is_default(model) or _names(model, DEFAULT_CNN_NAME):
        return bundled_model_path()
    return Path(model)  # type: ignore[arg-type]


def is_default(model: str | os.PathLike[str] | None) -> bool:
    """Whether a model argument means the bundled model: ``None`` or ``"default"`` (when no
    file has that name). The bundled CNN's own path, or ``"default-cnn"``, is not: it gives
    the CNN everywhere."""
    return model is None or _names(model, DEFAULT_NAME)


def _names(model: str | os.PathLike[str], name: str) -> bool:
    """``model`` is the bundled model's ``name``, not a file that happens to be called so."""
    return os.fspath(model) == name and not Path(model).exists()


@lru_cache(maxsize=1)
def bundled_design_models() -> dict[str, tuple[str, Path]]:
    """Design digest (:func:`design_digest`) -> (design, model file) of the bundled geometry
    models (none when the installation has no index)."""
    folder = resources.files("magical_prune").joinpath(BUNDLED_GEOMETRY)
    index = folder.joinpath("index.json")
    if not index.is_file():
        return {}
    where = Path(os.fspath(folder))  # type: ignore[arg-type]
    try:
        entries = json.loads(index.read_text(encoding="utf-8"))["designs"]
        return {str(e["design_sha256"]): (str(e["design"]), where / str(e["file"]))
                for e in entries}  # fmt: skip
    except (KeyError, TypeError, ValueError) as err:
        raise CheckpointError(f"damaged index of the bundled models: {err}", index) from None


def design_digest(placement: Placement) -> str:
    """SHA-256 of a layout's design: its geometry columns (devices and nets, in order) and
    every device's model and sizes. Two reference designs can share a netlist and differ in
    sizing only (ota1 and ota2 do), and a geometry model learnt on one ranks the other's
    layouts worse; the bundled model picks a design's own model by this digest."""
    sizes = "\n".join(
        f"{d.name}:{d.model}:" + ",".join(f"{k}={v:.6g}" for k, v in sorted(d.params.items()))
        for d in (placement.circuit.devices[name] for name in placement.names)
    )
    text = f"{column_digest(placement)}\n{sizes}"
    return hashlib.sha256(text.encode()).hexdigest()


def _design_model(like: Any) -> Path | None:
    """The bundled geometry model of the one reference design all of ``like`` are of."""
    items = [like] if isinstance(like, Placement) else list(like)
    if not items or not all(isinstance(p, Placement) for p in items):
        return None
    try:
        digests = {design_digest(p) for p in items}
    except (MagicalPruneError, KeyError):
        return None  # a design the geometry vectors cannot describe: the CNN scores it
    found = bundled_design_models().get(digests.pop()) if len(digests) == 1 else None
    return None if found is None else found[1]


def _adapted_prior(like: Any) -> PriorScorer | None:
    """The bundled prior adapted to ``like`` when they are enough layouts of one design."""
    items = [like] if isinstance(like, Placement) else list(like)
    if len(items) < MIN_LAYOUTS or not all(isinstance(p, Placement) for p in items):
        return None
    path = bundled_prior_path()
    if not path.is_file():
        return None
    try:
        return PriorScorer.load(path).adapt(items)
    except (MagicalPruneError, KeyError):
        return None  # mixed designs, or geometry the prior cannot read: the CNN scores them


def refuse_prior(scorer: Scorer) -> None:
    """Commands that score a data set refuse the prior: it reads placements of the design it
    was adapted to, and its card promises no FOR to evaluate or calibrate against."""
    if scorer.card.family == PRIOR:
        raise CheckpointError(
            "the design-agnostic prior scores placements (`score`, `load_scorer(like=...)`), "
            "not data sets: train a model on the design's labels (`train --learner geometry`)",
            scorer.source,
        )


def load_scorer(
    model: str | os.PathLike[str] | None = None,
    device: str = "cpu",
    like: Placement | Sequence[Any] | None = None,
) -> Scorer:
    """The scorer a model file describes; for the bundled model given the placements it will
    score (``like``), the geometry model of their design when it is a reference design.

    Raises:
        CheckpointError: unreadable file, or a learner family this version does not know.
    """
    own = _design_model(like) if like is not None and is_default(model) else None
    if own is None and like is not None and is_default(model):
        prior = _adapted_prior(like)
        if prior is not None:
            return prior
    path = resolve_model_path(model) if own is None else own
    state, card = read_model(path)  # read once, whatever learnt it
    if card.family == GEOMETRY:
        return GeometryScorer.from_state(state, card, os.fspath(path))
    if card.family == PRIOR:
        return PriorScorer.from_state(state, card, os.fspath(path))
    if card.family == "cnn":
        net = build_model(state, card, path, device)
        return Predictor(net, card, source=path, device=device)
    raise CheckpointError(
        f"model learnt by {card.family!r}; this magical-prune reads cnn, {GEOMETRY} and {PRIOR} "
        "models",
        path,
    )
