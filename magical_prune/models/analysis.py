"""Cost and reach of a network: parameters, multiply-accumulates, receptive-field coverage.

* :func:`count_macs` runs one sample through the model with forward hooks on the
  convolution and dense layers and adds their multiply-accumulates (exact per layer, see
  :func:`layer_macs`). Pooling, activations, normalisation, padding, bias additions and
  the ``nofeat`` compaction are not counted: they are a few operations per output
  element, negligible next to the weighted sums, and leaving them out keeps the number
  comparable to the figures papers report.
* :func:`receptive_field` follows the 3DRF recursion (Wang et al., CIKM 2021) over the
  convolution and pooling layers up to the last convolution: per axis,
  ``rf_k = rf_{k-1} + dilation * (kernel - 1) * jump_{k-1}`` and ``jump_k = jump_{k-1} *
  stride``, clipped to the input size. The axes are the depth axis of the six feature
  sets and the two image axes. A 2D convolution sees one depth entry, unless the network
  folded the sets into its channels (tagged with ``mark_set_mixing``), in which case it
  sees all of them. The figures are those of the most central neuron (padding makes edge
  neurons see less).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import torch
from torch import nn

from magical_prune.models._base import FEATURE_SETS

_CONV = (nn.Conv1d, nn.Conv2d, nn.Conv3d)
_POOL = (nn.MaxPool2d, nn.MaxPool3d, nn.AvgPool2d, nn.AvgPool3d)


@dataclass(frozen=True)
class LayerSpec:
    """Geometry of one convolution or pooling layer as (depth, height, width) triples.

    Attributes:
        name: module name inside the network (for reports).
        kernel: kernel extent per axis.
        stride: stride per axis.
        dilation: dilation per axis.
        is_conv: True for a convolution (the recursion ends at the last one).
        mixes_sets: True for a 2D convolution over channels holding every depth entry.
    """

    name: str
    kernel: tuple[int, int, int]
    stride: tuple[int, int, int] = (1, 1, 1)
    dilation: tuple[int, int, int] = (1, 1, 1)
    is_conv: bool = True
    mixes_sets: bool = False


@dataclass(frozen=True)
class Coverage:
    """What the last convolution layer of a network sees of its input.

    Attributes:
        layer: name of the last convolution layer.
        rf: receptive field (depth, height, width) of its most central neuron, unclipped.
        image_size: (height, width) of the input images.
        depth: entries of the input depth axis (6 sets, or 2 for compacted inputs).
        spatial: fraction of the H x W pixels the neuron sees (1.0 = the whole image).
        sets_seen: how many of the six feature sets reach the neuron.
        sets_total: number of feature sets in the input (6).
    """

    layer: str
    rf: tuple[int, int, int]
    image_size: tuple[int, int]
    depth: int
    spatial: float
    sets_seen: int
    sets_total: int = len(FEATURE_SETS)

    @property
    def sets_fraction(self) -> float:
        return self.sets_seen / self.sets_total

    @property
    def full(self) -> bool:
        """True when the neuron sees every pixel of every feature set."""
        return self.spatial >= 1.0 and self.sets_seen == self.sets_total


def _as_triple(value: int | Sequence[int], is_3d: bool) -> tuple[int, int, int]:
    """A module's kernel/stride/dilation as (depth, height, width); 2D modules: depth 1."""
    vals = (value,) * (3 if is_3d else 2) if isinstance(value, int) else tuple(value)
    if not is_3d:
        vals = (1, *vals)
    depth, height, width = (int(v) for v in vals)
    return depth, height, width


def spec_of(name: str, module: nn.Module) -> LayerSpec | None:
    """The :class:`LayerSpec` of a convolution or pooling module (None for other modules).

    A 3D module's first axis is the depth axis of the feature sets; a 2D module has depth
    extent 1 (``mixes_sets`` is read from the tag set by ``mark_set_mixing``).
    """
    if isinstance(module, (nn.Conv3d, nn.MaxPool3d, nn.AvgPool3d)):
        is_3d = True
    elif isinstance(module, (nn.Conv2d, nn.MaxPool2d, nn.AvgPool2d)):
        is_3d = False
    else:
        return None
    kernel = module.kernel_size
    stride = module.stride if module.stride is not None else kernel
    return LayerSpec(
        name=name,
        kernel=_as_triple(kernel, is_3d),
        stride=_as_triple(stride, is_3d),
        dilation=_as_triple(getattr(module, "dilation", 1), is_3d),
        is_conv=isinstance(module, _CONV),
        mixes_sets=bool(getattr(module, "mixes_sets", False)),
    )


def _sample_input(model: nn.Module, input_shape: Sequence[int] | None) -> torch.Tensor:
    shape = tuple(input_shape) if input_shape is not None else tuple(model.input_shape)
    param = next(model.parameters(), None)
    device = param.device if param is not None else torch.device("cpu")
    return torch.zeros((1, *shape), device=device)


def _trace(
    model: nn.Module, input_shape: Sequence[int] | None
) -> list[tuple[str, nn.Module, torch.Tensor]]:
    """Run one zero sample through ``model``; return (name, module, output) per conv,
    dense and pooling call, in call order."""
    calls: list[tuple[str, nn.Module, torch.Tensor]] = []
    handles = []
    for name, module in model.named_modules():
        if isinstance(module, (*_CONV, nn.Linear, *_POOL)):

            def hook(mod: nn.Module, _inp: object, out: torch.Tensor, name: str = name) -> None:
                calls.append((name, mod, out))

            handles.append(module.register_forward_hook(hook))
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            model(_sample_input(model, input_shape))
    finally:
        model.train(was_training)
        for handle in handles:
            handle.remove()
    return calls


def layer_macs(module: nn.Module, output: torch.Tensor) -> int:
    """Multiply-accumulates of one call of a convolution or dense layer.

    Convolution: every output element is a weighted sum over ``in_channels / groups``
    channels times the kernel volume. Dense: every output element sums ``in_features``
    products. Biases are not counted.
    """
    if isinstance(module, _CONV):
        per_output = (module.in_channels // module.groups) * math.prod(module.kernel_size)
        return output.numel() * per_output
    if isinstance(module, nn.Linear):
        return output.numel() * module.in_features
    return 0


def count_macs(model: nn.Module, input_shape: Sequence[int] | None = None) -> int:
    """Multiply-accumulates of one sample through ``model`` (conv and dense layers only).

    Args:
        model: the network.
        input_shape: shape of one sample without the batch axis; defaults to the
            network's ``input_shape`` (6, 3, H, W).
    """
    return sum(layer_macs(module, out) for _, module, out in _trace(model, input_shape))


def count_params(model: nn.Module, trainable_only: bool = False) -> int:
    """Number of parameters (all, or only those that require gradients)."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only)


def layer_specs(model: nn.Module, input_shape: Sequence[int] | None = None) -> list[LayerSpec]:
    """Convolution and pooling layers of ``model`` in the order a sample meets them."""
    specs = [spec_of(name, module) for name, module, _ in _trace(model, input_shape)]
    return [spec for spec in specs if spec is not None]


def _sets_in_window(depth_sets: Sequence[int], window: int) -> int:
    window = max(1, min(window, len(depth_sets)))
    return max(sum(depth_sets[i : i + window]) for i in range(len(depth_sets) - window + 1))


def receptive_field(
    model_or_specs: nn.Module | Iterable[LayerSpec],
    image_size: int | tuple[int, int] | None = None,
    depth_sets: Sequence[int] | None = None,
) -> Coverage:
    """Receptive-field coverage of the last convolution layer.

    Args:
        model_or_specs: a network (traced once on a zero sample) or its layer specs.
        image_size: input image side (or (H, W)); defaults to the network's, else 64.
        depth_sets: feature sets held by each entry of the input depth axis; defaults to
            the network's ``depth_sets``, else one set per entry for six sets.
    """
    if isinstance(model_or_specs, nn.Module):
        specs = layer_specs(model_or_specs)
        image_size = image_size if image_size is not None else model_or_specs.image_size
        depth_sets = depth_sets if depth_sets is not None else model_or_specs.depth_sets
    else:
        specs = list(model_or_specs)
    if image_size is None:
        image_size = 64
    if depth_sets is None:
        depth_sets = (1,) * len(FEATURE_SETS)
    height, width = (image_size, image_size) if isinstance(image_size, int) else image_size

    rf, jump, mixed = [1, 1, 1], [1, 1, 1], False
    last: tuple[str, tuple[int, int, int], bool] | None = None
    for spec in specs:
        for axis in range(3):
            rf[axis] += spec.dilation[axis] * (spec.kernel[axis] - 1) * jump[axis]
            jump[axis] *= spec.stride[axis]
        mixed = mixed or spec.mixes_sets
        if spec.is_conv:
            last = (spec.name, (rf[0], rf[1], rf[2]), mixed)
    if last is None:
        raise ValueError("the network has no convolution layer")
    name, (rf_d, rf_h, rf_w), mixed = last
    depth = len(depth_sets)
    sets_seen = sum(depth_sets) if mixed else _sets_in_window(depth_sets, rf_d)
    spatial = (min(rf_h, height) * min(rf_w, width)) / (height * width)
    return Coverage(
        layer=name,
        rf=(rf_d, rf_h, rf_w),
        image_size=(height, width),
        depth=depth,
        spatial=spatial,
        sets_seen=sets_seen,
        sets_total=sum(depth_sets),
    )


@dataclass(frozen=True)
class Throughput:
    """Samples per second of one network on this machine (best and median of the runs).

    Attributes:
        train: forward + backward + optimizer step, best run.
        train_median: the same, median run.
        infer: forward only (eval mode, no gradients), best run.
        infer_median: the same, median run.
        batch_size: samples per step.
        threads: torch intra-op threads used.
    """

    train: float
    train_median: float
    infer: float
    infer_median: float
    batch_size: int
    threads: int


def measure_throughput(
    model: nn.Module, batch_size: int = 16, steps: int = 5, threads: int | None = 2
) -> Throughput:
    """Time training and inference steps of a copy of ``model`` on random inputs (CPU).

    Meant for benchmark scripts, not tests: the figures depend on the machine and its
    load (the best run is the least disturbed one). The model itself is left untouched.

    Args:
        model: the network (its ``input_shape`` gives the sample shape).
        batch_size: samples per step.
        steps: timed steps of each kind (after one untimed warm-up step).
        threads: torch intra-op threads during the measurement (None: leave as is).
    """
    import copy
    import statistics
    import time

    net = copy.deepcopy(model).cpu().train()
    previous = torch.get_num_threads()
    if threads is not None:
        torch.set_num_threads(threads)
    gen = torch.Generator().manual_seed(0)
    x = torch.rand((batch_size, *net.input_shape), generator=gen)
    y = torch.randint(0, 2, (batch_size,), generator=gen)
    optimizer = torch.optim.AdamW(net.parameters(), lr=1e-4)

    def train_step() -> None:
        optimizer.zero_grad(set_to_none=True)
        nn.functional.cross_entropy(net(x), y).backward()
        optimizer.step()

    def infer_step() -> None:
        with torch.no_grad():
            net(x)

    def timed(step: object) -> list[float]:
        step()  # type: ignore[operator]
        times = []
        for _ in range(steps):
            start = time.perf_counter()
            step()  # type: ignore[operator]
            times.append(time.perf_counter() - start)
        return times

    try:
        train_times = timed(train_step)
        net.eval()
        infer_times = timed(infer_step)
    finally:
        torch.set_num_threads(previous)
    return Throughput(
        train=batch_size / min(train_times),
        train_median=batch_size / statistics.median(train_times),
        infer=batch_size / min(infer_times),
        infer_median=batch_size / statistics.median(infer_times),
        batch_size=batch_size,
        threads=threads if threads is not None else previous,
    )
