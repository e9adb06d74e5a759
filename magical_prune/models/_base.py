"""What every placement-quality network shares: the input contract and its checks.

Every architecture reads the same float32 batch ``(B, 6, 3, H, W)``: six feature images
(:data:`FEATURE_SETS`, the order of ``magical_prune.features.IMAGE_NAMES``), each with an
intensity channel and two coordinate channels (:data:`CHANNELS`), and returns two logits
``(B, 2)`` where class 1 means "prune" (worst quarter). Keeping one input for all networks
lets data sets, training and the pruning hook stay unaware of the architecture; the
networks that ignore part of it (``nofeat*``) reduce it themselves.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from magical_prune.errors import MagicalPruneError

#: the six feature images along axis 1 of the input (same order as the features module)
FEATURE_SETS: tuple[str, ...] = (
    "routing",
    "first_stage",
    "other_stages",
    "feedback",
    "cmfb",
    "bias",
)
#: the three channels of every feature image along axis 2 of the input
CHANNELS: tuple[str, ...] = ("intensity", "coord_x", "coord_y")
NUM_CLASSES = 2
#: index of the class "prune" among the logits
PRUNE_CLASS = 1


@dataclass(frozen=True)
class Architecture:
    """A registered network: how to build it and how it is meant to be trained.

    Attributes:
        name: registry name (``feat3d``, ``efficient``, ...).
        factory: ``factory(image_size=..., **kwargs) -> PlacementNet``.
        description: one line for listings.
        default_cfg: training defaults the training code reads (optimizer, lr and its
            schedule, regularisation, batch size, epochs), like timm's per-model config.
    """

    name: str
    factory: Callable[..., PlacementNet]
    description: str
    default_cfg: Mapping[str, Any] = field(default_factory=dict)


class PlacementNet(nn.Module):
    """Base class: holds the image size and checks the input contract.

    Subclasses set :attr:`depth_sets`: how many of the six feature sets are folded into
    each entry of the network's depth axis (``(1,) * 6`` when every set keeps its own
    entry, ``(1, 5)`` when routing stays apart and the five sub-circuit images are
    compacted into one). The receptive-field analysis uses it to count the sets a neuron
    sees.

    Args:
        image_size: side of the square feature images the network is built for.
    """

    depth_sets: tuple[int, ...] = (1,) * len(FEATURE_SETS)
    #: set by :func:`magical_prune.models.create_model`: registered name and training defaults
    arch_name: str = ""
    default_cfg: dict[str, Any] = {}

    def __init__(self, image_size: int = 64) -> None:
        super().__init__()
        if image_size < 8:
            raise MagicalPruneError(f"image size {image_size} is too small (at least 8 pixels)")
        self.image_size = int(image_size)

    @property
    def input_shape(self) -> tuple[int, int, int, int]:
        """Shape of one sample: (sets, channels, H, W)."""
        return (len(FEATURE_SETS), len(CHANNELS), self.image_size, self.image_size)

    def check_input(self, x: torch.Tensor) -> None:
        """Refuse a batch that does not follow the contract (a data set of another size)."""
        if x.dim() != 5 or tuple(x.shape[1:]) != self.input_shape:
            raise MagicalPruneError(
                f"{self.arch_name or type(self).__name__} expects a batch of shape "
                f"(B, {', '.join(map(str, self.input_shape))}), got {tuple(x.shape)}"
            )
        if not x.is_floating_point():
            raise MagicalPruneError(f"expected floating-point features, got {x.dtype}")


def compact_layout(x: torch.Tensor) -> torch.Tensor:
    """The paper's *nofeat* input: all devices in one image, plus the routing demand.

    The five sub-circuit intensity images are merged by a pixel-wise maximum (a device
    shows with its type's intensity wherever it lies, whatever its sub-circuit); the
    coordinate channels are dropped.

    Args:
        x: feature batch ``(B, 6, 3, H, W)``.

    Returns:
        ``(B, 2, 1, H, W)``: routing demand, then the compacted layout.
    """
    intensity = x[:, :, 0]
    layout = intensity[:, 1:].amax(dim=1)
    return torch.stack((intensity[:, 0], layout), dim=1).unsqueeze(2)


def mark_set_mixing(module: nn.Module) -> nn.Module:
    """Tag a 2D convolution whose input channels hold every depth entry (sets folded into
    channels), so the receptive-field analysis knows it sees all sets at once."""
    module.mixes_sets = True
    return module
