"""``efficient``: a small 3D network sized by its receptive field, with a CAM-ready head.

Design, and the reason for each choice:

* **Depth axis = the six feature sets, kept to the end.** The input is read as a 3D
  tensor (channels = intensity, coord-x, coord-y; depth = the six sets). Nothing pools
  over depth before the head, so the class activation map resolves sub-circuits.
* **Sized with the 3DRF rule.** Strides and kernels are chosen so the last convolution
  sees the whole 64x64 image (spatial receptive field >= 64) and all six sets (depth
  receptive field >= 6), with no layer whose receptive-field gain has saturated
  (:func:`~magical_prune.models.analysis.receptive_field` checks it).
* **Factorised kernels (rule of kernel replacement).** Each standard ``(kd, k, k)``
  convolution is replaced by a spatial ``(1, k, k)`` convolution followed by a depth
  ``(kd, 1, 1)`` convolution. Both see all input channels, so the pair has the same 3D
  receptive field as the standard kernel (spatial k x k, depth kd, all channels), and it is
  compact: without the first the spatial extent is lost, without the second the depth
  extent. It costs ``k*k + kd`` instead of ``k*k*kd`` weights per channel pair. Full (not
  depthwise) channel mixing is kept on purpose: on CPUs depthwise 3D convolutions run far
  below the throughput of dense ones, and training time on two cores is a target.
* **Patchify stem, own weights per set.** A non-overlapping 4x4 convolution (stride 4)
  brings 64x64 to 16x16 at once; with 48 inputs per patch (4x4 pixels x 3 channels) and
  32 outputs little is lost, and every later layer runs on 16x16 or 8x8 maps. Each of the
  six sets has its own stem weights and its own normalisation, as the paper's networks
  have a separate first convolution per set. Measured on reference-flow ota1 (balanced,
  1,600 training layouts, default schedule): a stem shared by all sets reached 73% test
  accuracy, the per-set stem 94%. With shared weights the later (translation-equivariant)
  depth convolutions can tell the routing image from a sub-circuit image only by its
  distance from the depth padding, and the routing image (a sum over nets, values up to
  ~10) sets the normalisation scale of the sparse device images (values <= 1).
* **GroupNorm**, not BatchNorm: statistics per sample, so batch 16 (the paper's) or even
  batch 1 fine-tuning behaves the same in training and inference.
* **Global average pooling -> linear -> 2 logits.** The class-1 logit is the spatial and
  depth mean of the class-1 activation map plus a bias, so :meth:`EfficientNet3D.cam`
  gives an explanation that adds up to the decision. (A ``linear`` head over every cell
  of the last maps is available, ``head="linear"``; its CAM adds up the same way. On ota1
  it was no better than GAP once the stem was per set: 93.5% against 93.8%.)
"""

from __future__ import annotations

import math
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from magical_prune.errors import MagicalPruneError
from magical_prune.models._base import (
    CHANNELS,
    FEATURE_SETS,
    NUM_CLASSES,
    PRUNE_CLASS,
    PlacementNet,
)

#: training defaults for the efficient network (our choice; read by the training code)
EFFICIENT_CFG: dict[str, object] = {
    "optimizer": "adamw",
    "lr": 2e-3,
    "lr_schedule": "cosine",
    "warmup_steps": 100,
    "weight_decay": 0.05,
    "l2": 0.0,
    "batch_size": 16,
    # full passes over the training data (steps_per_epoch None = one pass); 15 passes over
    # 6,400 training layouts take about 6 minutes at ~260 samples/s on two idle cores
    "epochs": 15,
    "steps_per_epoch": None,
    "finetune_epochs": 20,
    "finetune_lr_scale": 0.1,
    # the module that stays trainable when fine-tuning freezes the features
    "classifier": "fc",
}


#: classifier heads: ``gap`` (global average pooling, then linear) or ``linear`` (a linear
#: layer over every cell of the last maps: it keeps where on the placement and in which set
#: a feature lies, which GAP averages away)
HEADS = ("gap", "linear")
#: stems: ``shared`` (one 3D patch convolution for all six sets) or ``per_set`` (own
#: weights and normalisation per set, see :class:`PerSetStem`)
STEMS = ("shared", "per_set")


@dataclass(frozen=True)
class Stage:
    """One factorised block: output channels, spatial kernel/stride/dilation, depth kernel.

    The spatial kernel is odd (padded to keep the size) or equal to the stride (a
    non-overlapping patch merge, unpadded, which keeps every map cell aligned with the
    input pixels it summarises, so upsampled CAMs do not shift).
    """

    channels: int
    kernel: int = 3
    stride: int = 1
    dilation: int = 1
    depth_kernel: int = 3


#: the default layout, on 64x64 images: stem 4x4/4 (16x16 maps), then receptive field
#: 4 -> 12 -> 16 -> 48 -> 80 pixels (>= 64) and 1 -> 3 -> 5 -> 7 sets (>= 6) at the last
#: convolution; maps of 16x16, 16x16, 8x8, 8x8, 8x8
DEFAULT_STAGES: tuple[Stage, ...] = (
    Stage(32, kernel=3, stride=1, depth_kernel=3),
    Stage(64, kernel=2, stride=2, depth_kernel=3),
    Stage(64, kernel=3, stride=1, dilation=2, depth_kernel=3),
    Stage(64, kernel=3, stride=1, dilation=2, depth_kernel=1),
)


def _as_stage(stage: Stage | Mapping[str, int] | Sequence[int]) -> Stage:
    if isinstance(stage, Stage):
        return stage
    if isinstance(stage, Mapping):
        return Stage(**stage)
    return Stage(*stage)


def _norm(channels: int) -> nn.GroupNorm:
    groups = 8 if channels % 8 == 0 else 1
    return nn.GroupNorm(groups, channels)


class FactorisedBlock(nn.Module):
    """``(kd, k, k)`` convolution as ``(1, k, k)`` then ``(kd, 1, 1)``, GroupNorm, ReLU,
    with an identity shortcut when the shape is kept."""

    def __init__(self, in_channels: int, stage: Stage) -> None:
        super().__init__()
        pad = 0 if stage.kernel == stage.stride else stage.dilation * (stage.kernel // 2)
        self.spatial = nn.Conv3d(
            in_channels,
            stage.channels,
            (1, stage.kernel, stage.kernel),
            stride=(1, stage.stride, stage.stride),
            padding=(0, pad, pad),
            dilation=(1, stage.dilation, stage.dilation),
            bias=False,
        )
        self.norm1 = _norm(stage.channels)
        self.depth = (
            nn.Conv3d(
                stage.channels,
                stage.channels,
                (stage.depth_kernel, 1, 1),
                padding=(stage.depth_kernel // 2, 0, 0),
                bias=False,
            )
            if stage.depth_kernel > 1
            else None
        )
        self.norm2 = _norm(stage.channels) if self.depth is not None else None
        self.residual = in_channels == stage.channels and stage.stride == 1

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.norm1(self.spatial(x))
        if self.depth is not None:
            h = self.norm2(self.depth(F.relu(h)))
        if self.residual:
            h = h + x
        return F.relu(h)


class PerSetStem(nn.Module):
    """Patchify stem with its own weights and normalisation per feature set.

    One grouped 2D convolution (a group per set) reads each set's three channels; the
    result is stacked along the depth axis ``(B, C, sets, h, w)``. Own weights tell the
    sets apart from the first layer on (a shared stem sees the routing image and the
    sub-circuit images through the same filters, and later layers can tell the sets apart
    only by their distance from the depth padding); per-set GroupNorm keeps the routing
    image, whose pixels sum many nets, from setting the scale of the sparse device images.
    """

    def __init__(self, sets: int, in_channels: int, channels: int, patch: int) -> None:
        super().__init__()
        self.sets, self.channels = sets, channels
        self.conv = nn.Conv2d(sets * in_channels, sets * channels, patch, stride=patch,
                              groups=sets, bias=False)  # fmt: skip
        groups = 8 if channels % 8 == 0 else 1
        self.norm = nn.GroupNorm(sets * groups, sets * channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # (B, sets, channels, H, W) -> (B, sets * channels, H, W), set-major
        h = F.relu(self.norm(self.conv(x.flatten(1, 2))))
        b, _, hh, ww = h.shape
        h = h.view(b, self.sets, self.channels, hh, ww).transpose(1, 2)
        # channels-last storage makes the following 3D convolutions faster on CPU
        return h.contiguous(memory_format=torch.channels_last_3d)


class EfficientNet3D(PlacementNet):
    """Factorised 3D network with global-average-pooling head (see the module docstring).

    Args:
        image_size: side of the square input images.
        stem_channels: channels of the patchify stem (per set).
        stem_patch: side (and stride) of the stem's patches.
        stages: the factorised blocks after the stem, as :class:`Stage` objects or as
            plain dicts / tuples of its fields (so a checkpoint's JSON metadata can carry
            them).
        head: ``gap`` (default) or ``linear`` (see :data:`HEADS`).
        stem: ``per_set`` (default) or ``shared`` (see :data:`STEMS`).
    """

    def __init__(
        self,
        image_size: int = 64,
        *,
        stem_channels: int = 32,
        stem_patch: int = 4,
        stages: Sequence[Stage | Mapping[str, int] | Sequence[int]] = DEFAULT_STAGES,
        head: str = "gap",
        stem: str = "per_set",
    ) -> None:
        super().__init__(image_size)
        if stem not in STEMS:
            raise MagicalPruneError(f"stem must be one of {', '.join(STEMS)}, got {stem!r}")
        if head not in HEADS:
            raise MagicalPruneError(f"head must be one of {', '.join(HEADS)}, got {head!r}")
        stages = tuple(_as_stage(stage) for stage in stages)
        for stage in stages:
            if stage.depth_kernel % 2 == 0 or (
                stage.kernel % 2 == 0 and stage.kernel != stage.stride
            ):
                raise MagicalPruneError(
                    "spatial kernels must be odd or equal to the stride, depth kernels odd"
                )
        self.stem_kind = stem
        if stem == "shared":
            self.stem = nn.Sequential(
                OrderedDict(
                    conv=nn.Conv3d(
                        len(CHANNELS),
                        stem_channels,
                        (1, stem_patch, stem_patch),
                        stride=(1, stem_patch, stem_patch),
                        bias=False,
                    ),
                    norm=_norm(stem_channels),
                    relu=nn.ReLU(),
                )
            )
        else:
            self.stem = PerSetStem(len(FEATURE_SETS), len(CHANNELS), stem_channels, stem_patch)
        blocks: OrderedDict[str, nn.Module] = OrderedDict()
        channels = stem_channels
        for i, stage in enumerate(stages, start=1):
            blocks[f"block{i}"] = FactorisedBlock(channels, stage)
            channels = stage.channels
        self.blocks = nn.Sequential(blocks)
        self.head = head
        self.num_features = channels
        if head == "gap":
            self.fc = nn.Linear(channels, NUM_CLASSES)
        else:
            with torch.no_grad():
                shape = self.features(torch.zeros(1, *self.input_shape)).shape[1:]
            self.map_shape = tuple(int(v) for v in shape)  # (C, sets, h, w)
            self.fc = nn.Linear(math.prod(self.map_shape), NUM_CLASSES)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """Last feature maps ``(B, C, 6, h, w)`` (depth = the six feature sets)."""
        self.check_input(x)
        if self.stem_kind == "per_set":
            return self.blocks(self.stem(x))
        # (B, sets, channels, H, W) -> (B, channels, sets, H, W); channels-last storage
        # makes the spatial convolutions markedly faster on CPU.
        h = x.transpose(1, 2).contiguous(memory_format=torch.channels_last_3d)
        return self.blocks(self.stem(h))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        feats = self.features(x)
        if self.head == "gap":
            return self.fc(feats.mean(dim=(2, 3, 4)))
        return self.fc(feats.flatten(1))

    def cam(
        self, x: torch.Tensor, target: int = PRUNE_CLASS, upsample: bool = True
    ) -> torch.Tensor:
        """Class activation map of class ``target`` over each of the six feature sets.

        ``CAM = sum_k w[target, k] * f_k`` over the last feature maps ``f``; its mean over
        sets and pixels equals the target logit minus the bias (exactly before
        upsampling; bilinear upsampling by an integer factor keeps the mean as well). When
        the image side is a multiple of 8 every map cell covers exactly the pixels it is
        upsampled onto.

        Args:
            x: feature batch ``(B, 6, 3, H, W)``.
            target: class whose evidence is mapped (1 = prune).
            upsample: resize to the input's H x W (bilinear), else keep the map size.

        Returns:
            ``(B, 6, H, W)`` (or ``(B, 6, h, w)`` without upsampling), unnormalised.
        """
        feats = self.features(x)
        if self.head == "gap":
            cam = torch.einsum("bcdhw,c->bdhw", feats, self.fc.weight[target])
        else:
            # each map cell's own share of the logit, scaled by the number of cells so
            # that, as for the GAP head, the map's mean is the logit minus the bias
            w = self.fc.weight[target].view(self.map_shape)
            cells = math.prod(self.map_shape[1:])
            cam = torch.einsum("bcdhw,cdhw->bdhw", feats, w) * cells
        if upsample:
            cam = F.interpolate(cam, size=x.shape[-2:], mode="bilinear", align_corners=False)
        return cam


def efficient(image_size: int = 64, **kwargs: object) -> EfficientNet3D:
    """The default architecture (see the module docstring)."""
    return EfficientNet3D(image_size, **kwargs)
