"""The four networks of the paper (Table III): ``nofeat2d``, ``nofeat3d``, ``feat2d``, ``feat3d``.

Structure (facts of the paper's public reference implementation):

* a separate 2D convolution per input image ("feature set"): 128 filters of 5x5 for the
  3D networks, 24 for the 2D ones;
* then three convolutions of 64, 32 and 32 filters with 5x5 spatial extent; in the 3D
  networks they are 3D convolutions over the stack of per-set outputs (depth extents 3, 3,
  2, the depth axis being the feature sets);
* every convolution is followed by a 3x3 max-pool of stride 2 (spatial only) and a ReLU;
* a dense head 128 -> 16 -> 2.

Our reading where the paper leaves room:

* Convolutions pad to keep their input size ("same"); pools do not pad. A 64x64 image
  goes 64 -> 31 -> 15 -> 7 -> 3 through the four pools; the depth axis keeps all six sets
  (so feat3d flattens 32 x 6 x 3 x 3 features into the dense head).
* *2D* ("replacing all the convolution filters with 2D"): the per-set convolutions stay
  as they are, their outputs are concatenated along channels (set-major), and each 3D
  convolution becomes a 2D convolution with the same number of filters over that
  channel stack. The depth axis is thus folded into channels from the second
  convolution on, so every later filter sees all sets at once.
* *nofeat*: the network compacts the common input itself
  (:func:`~magical_prune.models._base.compact_layout`): one layout image holding every
  device (pixel-wise maximum of the five sub-circuit intensity images) and the routing
  demand image, without coordinate channels. Each of the two is one "set" with its own
  first convolution, so nofeat3d's depth axis has two entries.
* Weights start Glorot-uniform with zero biases, as the Keras layers of the reference.
"""

from __future__ import annotations

from collections import OrderedDict

import torch
from torch import nn

from magical_prune.errors import MagicalPruneError
from magical_prune.models._base import (
    CHANNELS,
    FEATURE_SETS,
    NUM_CLASSES,
    PlacementNet,
    compact_layout,
    mark_set_mixing,
)

#: training defaults of the paper / reference implementation (read by the training code)
PAPER_CFG: dict[str, object] = {
    "optimizer": "adam",
    "lr": 3e-4,
    # staircase exponential decay: lr * lr_decay ** (step // lr_decay_steps)
    "lr_decay": 0.9,
    "lr_decay_steps": 430,
    # coefficient of sum(w**2) over conv/dense weights added to the loss (Keras-style L2);
    # the equivalent coupled Adam ``weight_decay`` is 2 * l2
    "l2": 0.1,
    "weight_decay": 0.0,
    "batch_size": 16,
    # the reference's "epoch" is a fixed number of updates, not a pass over the data
    "epochs": 500,
    "steps_per_epoch": 64,
    "finetune_epochs": 100,
    # the paper says "reduced learning rate" for fine-tuning without a value: our choice
    "finetune_lr_scale": 0.1,
    # the module that stays trainable when fine-tuning freezes the features
    "classifier": "head",
}


def _glorot_init(module: nn.Module) -> None:
    if isinstance(module, (nn.Conv2d, nn.Conv3d, nn.Linear)):
        nn.init.xavier_uniform_(module.weight)
        if module.bias is not None:
            nn.init.zeros_(module.bias)


def _pooled_side(side: int, n_pools: int, pool: int, stride: int) -> int:
    for _ in range(n_pools):
        side = (side - pool) // stride + 1
    return side


class PaperNet(PlacementNet):
    """One of the paper's four networks (see the module docstring for the structure).

    Args:
        image_size: side of the square input images.
        compact: True for *nofeat* (one compacted layout image + routing demand).
        three_d: True for the 3D networks, False for their 2D counterparts.
        first_filters: filters of the per-set first convolution.
        filters: filters of the following convolutions.
        depth_kernels: depth extent of those convolutions (3D networks only).
        kernel: spatial kernel side of every convolution.
        pool: max-pool window side; ``pool_stride`` its stride.
        dense: widths of the hidden dense layers.
    """

    def __init__(
        self,
        image_size: int = 64,
        *,
        compact: bool,
        three_d: bool,
        first_filters: int,
        filters: tuple[int, ...] = (64, 32, 32),
        depth_kernels: tuple[int, ...] = (3, 3, 2),
        kernel: int = 5,
        pool: int = 3,
        pool_stride: int = 2,
        dense: tuple[int, ...] = (128, 16),
    ) -> None:
        super().__init__(image_size)
        if len(depth_kernels) != len(filters):
            raise MagicalPruneError("one depth kernel per convolution is needed")
        side = _pooled_side(self.image_size, len(filters) + 1, pool, pool_stride)
        if side < 1:
            raise MagicalPruneError(
                f"image size {image_size} is too small for {len(filters) + 1} pools of "
                f"{pool}x{pool} with stride {pool_stride}"
            )
        self.compact = compact
        self.three_d = three_d
        self.n_sets = 2 if compact else len(FEATURE_SETS)
        self.depth_sets = (1, len(FEATURE_SETS) - 1) if compact else (1,) * len(FEATURE_SETS)
        self.first_filters = first_filters
        in_channels = 1 if compact else len(CHANNELS)

        # One grouped convolution = a separate convolution per set, run in one call.
        self.per_set = nn.Sequential(
            OrderedDict(
                conv0=nn.Conv2d(
                    self.n_sets * in_channels,
                    self.n_sets * first_filters,
                    kernel,
                    padding=kernel // 2,
                    groups=self.n_sets,
                ),
                pool0=nn.MaxPool2d(pool, pool_stride),
                relu0=nn.ReLU(),
            )
        )
        body: OrderedDict[str, nn.Module] = OrderedDict()
        channels = first_filters if three_d else self.n_sets * first_filters
        for i, (width, depth) in enumerate(zip(filters, depth_kernels), start=1):
            if three_d:
                # "same" padding; an even depth extent pads one more at the end (as Keras),
                # done explicitly because torch's padding="same" warns on even kernels
                before, after = (depth - 1) // 2, depth // 2
                pad = (kernel // 2, kernel // 2)
                if before != after:
                    body[f"pad{i}"] = nn.ConstantPad3d((0, 0, 0, 0, before, after), 0.0)
                    before = 0
                body[f"conv{i}"] = nn.Conv3d(
                    channels, width, (depth, kernel, kernel), padding=(before, *pad)
                )
                body[f"pool{i}"] = nn.MaxPool3d((1, pool, pool), (1, pool_stride, pool_stride))
            else:
                conv = nn.Conv2d(channels, width, kernel, padding=kernel // 2)
                body[f"conv{i}"] = mark_set_mixing(conv)
                body[f"pool{i}"] = nn.MaxPool2d(pool, pool_stride)
            body[f"relu{i}"] = nn.ReLU()
            channels = width
        self.body = nn.Sequential(body)

        flat = channels * side * side * (self.n_sets if three_d else 1)
        head: OrderedDict[str, nn.Module] = OrderedDict(flatten=nn.Flatten())
        for i, width in enumerate(dense):
            head[f"fc{i}"] = nn.Linear(flat, width)
            head[f"relu_fc{i}"] = nn.ReLU()
            flat = width
        head["logits"] = nn.Linear(flat, NUM_CLASSES)
        self.head = nn.Sequential(head)
        self.apply(_glorot_init)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.check_input(x)
        if self.compact:
            x = compact_layout(x)
        h = self.per_set(x.flatten(1, 2))  # (B, sets * filters, h, w), set-major
        if self.three_d:
            # stack the per-set outputs along a depth axis: (B, filters, sets, h, w)
            h = h.unflatten(1, (self.n_sets, self.first_filters)).transpose(1, 2)
        return self.head(self.body(h))


def nofeat2d(image_size: int = 64, **kwargs: object) -> PaperNet:
    """Compacted layout + routing demand, 2D convolutions."""
    return PaperNet(image_size, compact=True, three_d=False, first_filters=24, **kwargs)


def nofeat3d(image_size: int = 64, **kwargs: object) -> PaperNet:
    """Compacted layout + routing demand stacked in depth, 3D convolutions."""
    return PaperNet(image_size, compact=True, three_d=True, first_filters=128, **kwargs)


def feat2d(image_size: int = 64, **kwargs: object) -> PaperNet:
    """Six feature sets with coordinate channels, 2D convolutions."""
    return PaperNet(image_size, compact=False, three_d=False, first_filters=24, **kwargs)


def feat3d(image_size: int = 64, **kwargs: object) -> PaperNet:
    """Six feature sets with coordinate channels stacked in depth, 3D convolutions."""
    return PaperNet(image_size, compact=False, three_d=True, first_filters=128, **kwargs)
