"""Network architectures, registered by name (timm-style).

    >>> from magical_prune.models import create_model, list_models
    >>> list_models()
    ['nofeat2d', 'nofeat3d', 'feat2d', 'feat3d', 'efficient']
    >>> model = create_model("efficient", image_size=64)

Every model reads a float32 batch ``(B, 6, 3, H, W)`` (six feature images in the order
routing, first_stage, other_stages, feedback, cmfb, bias; channels intensity, coord-x,
coord-y) and returns logits ``(B, 2)``, class 1 = prune. Each model carries its registry
name (``model.arch_name``) and training defaults (``model.default_cfg``).
"""

from __future__ import annotations

from typing import Any

from magical_prune.models import efficient as _efficient
from magical_prune.models import paper as _paper
from magical_prune.models._base import (
    CHANNELS,
    FEATURE_SETS,
    PRUNE_CLASS,
    Architecture,
    PlacementNet,
)
from magical_prune.registry import Registry

__all__ = [
    "CHANNELS",
    "DEFAULT_ARCH",
    "FEATURE_SETS",
    "MODELS",
    "PRUNE_CLASS",
    "Architecture",
    "PlacementNet",
    "create_model",
    "get_architecture",
    "list_models",
]

#: name -> :class:`Architecture`
MODELS: Registry[Architecture] = Registry("architecture")
DEFAULT_ARCH = "efficient"

for _arch in (
    Architecture(
        "nofeat2d",
        _paper.nofeat2d,
        "paper: compacted layout + routing images, per-image conv then 2D convs",
        _paper.PAPER_CFG,
    ),
    Architecture(
        "nofeat3d",
        _paper.nofeat3d,
        "paper: compacted layout + routing stacked in depth, 3D convs",
        _paper.PAPER_CFG,
    ),
    Architecture(
        "feat2d",
        _paper.feat2d,
        "paper: six feature sets + coord channels, per-set conv, sets folded into 2D convs",
        _paper.PAPER_CFG,
    ),
    Architecture(
        "feat3d",
        _paper.feat3d,
        "paper (proposed): six feature sets + coord channels, per-set conv, 3D convs",
        _paper.PAPER_CFG,
    ),
    Architecture(
        "efficient",
        _efficient.efficient,
        "default: factorised (1,k,k)+(k,1,1) 3D net, full receptive field, GroupNorm, GAP+CAM",
        _efficient.EFFICIENT_CFG,
    ),
):
    MODELS.add(_arch.name, _arch)


def get_architecture(name: str) -> Architecture:
    """The registered architecture ``name`` (unknown -> error with "did you mean")."""
    return MODELS.get(name)


def list_models(pattern: str = "*") -> list[str]:
    """Registered architecture names matching the shell-style ``pattern``."""
    return MODELS.names(pattern)


def create_model(name: str, image_size: int = 64, **kwargs: Any) -> PlacementNet:
    """Build architecture ``name`` for ``image_size`` x ``image_size`` feature images.

    Initialisation draws from torch's global generator, so ``torch.manual_seed(s)`` before
    the call gives the same weights every time.

    Args:
        name: a registered architecture (see :func:`list_models`).
        image_size: side of the square feature images.
        **kwargs: architecture-specific options passed to its factory.
    """
    arch = MODELS.get(name)
    model = arch.factory(image_size=image_size, **kwargs)
    model.arch_name = arch.name
    model.default_cfg = dict(arch.default_cfg)
    return model
