"""Fast CPU inference for the registered networks: 3D convolutions run as 2D ones, and
control of torch's thread count.

PyTorch's CPU kernels for 3D convolutions fall back to slow reference code for small batches
(dilated ones especially), while the networks' 3D kernels span only the spatial axes or only
the depth axis. :func:`fast_inference` makes an inference twin that runs those as 2D
convolutions (same numbers to float rounding); :func:`torch_threads` sets the intra-op
thread count for a block, since small models on a busy machine are fastest on one thread.
"""

from __future__ import annotations

import contextlib
import copy
from collections.abc import Iterator
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["fast_inference", "torch_threads"]


class _Conv3dAs2d(nn.Module):
    """A 3D convolution whose kernel spans one axis group only, run as a 2D convolution.

    ``(1, k, k)`` kernels (spatial only) fold the depth axis into the batch; ``(k, 1, 1)``
    kernels (depth only) fold height and width into one axis. The result is the same
    convolution; PyTorch's CPU kernels for 2D are much faster than its 3D ones for small
    batches (3D falls back to slow reference kernels, dilated ones especially). The weights
    are read from the wrapped module at every call, so the two never disagree.
    """

    def __init__(self, conv: nn.Conv3d) -> None:
        super().__init__()
        self.conv = conv
        self.spatial = _spatial_only(conv)

    @staticmethod
    def eligible(conv: nn.Module) -> bool:
        if not isinstance(conv, nn.Conv3d) or conv.padding_mode != "zeros":
            return False
        if isinstance(conv.padding, str):
            return False
        kh, kw = conv.kernel_size[1:]
        depth = (kh, kw) == (1, 1) and conv.stride[1:] == (1, 1) and conv.padding[1:] == (0, 0)
        return _spatial_only(conv) or depth

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        c = self.conv
        b, ch, d, h, w = x.shape
        if self.spatial:
            y = x.transpose(1, 2).reshape(b * d, ch, h, w)
            y = F.conv2d(y, c.weight[:, :, 0], c.bias, c.stride[1:], c.padding[1:],
                         c.dilation[1:], c.groups)  # fmt: skip
            return y.reshape(b, d, *y.shape[1:]).transpose(1, 2)
        y = F.conv2d(x.reshape(b, ch, d, h * w), c.weight[:, :, :, 0], c.bias,
                     (c.stride[0], 1), (c.padding[0], 0), (c.dilation[0], 1), c.groups)  # fmt: skip
        return y.reshape(b, y.shape[1], y.shape[2], h, w)


def _spatial_only(conv: nn.Conv3d) -> bool:
    """A ``(1, k, k)`` kernel that neither strides nor pads the depth axis."""
    return conv.kernel_size[0] == 1 and conv.stride[0] == 1 and conv.padding[0] == 0


def fast_inference(model: nn.Module) -> nn.Module:
    """An inference twin of ``model`` sharing its parameters, with every 3D convolution
    whose kernel is spatial-only or depth-only run as a 2D convolution (same numbers to
    float rounding; about 15-20% faster for the ``efficient`` network on one CPU core).

    The twin is a new module tree, so ``model`` itself stays a normal module for training
    and explanations; parameters and buffers are shared, not copied.
    """
    memo: dict[int, Any] = {id(t): t for t in (*model.parameters(), *model.buffers())}
    twin = copy.deepcopy(model, memo)
    originals = dict(model.named_modules())
    for name, module in list(twin.named_modules()):
        for child_name, child in list(module.named_children()):
            if _Conv3dAs2d.eligible(child):
                full = f"{name}.{child_name}" if name else child_name
                setattr(module, child_name, _Conv3dAs2d(originals[full]))
    return twin.eval()


@contextlib.contextmanager
def torch_threads(n: int | None) -> Iterator[None]:
    """Run torch with ``n`` intra-op threads inside the block (``None``: leave it).

    Small models on one sample are fastest on one thread, and on a busy machine a second
    thread can make them many times slower (threads spin waiting for a core). The previous
    value is restored on leaving. With torch's OpenMP backend (the usual CPU build) the
    setting belongs to the calling thread, so the hook's decisions and its background
    fine-tuning each set their own.
    """
    if n is None:
        yield
        return
    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)
