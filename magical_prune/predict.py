"""Scoring placements with a trained model, and choosing the decision threshold.

:class:`Predictor` is a loaded model plus its metadata. It turns placements into the feature
tensor the model was trained on (same image size and rasterizer, read from the model file)
and returns the *score* of each one: the probability of being in the worst quarter, i.e.
the softmax of class 1 ("prune"). A placement is pruned when ``score >= threshold``; the
threshold comes from the model file (0.5 unless the model was calibrated) or the caller.

Thresholds are chosen by :mod:`magical_prune.calibrate` (re-exported here).

Scores do not depend on how placements are batched or on the thread count: float32
convolutions give a placement's probability to about 1e-6 only, and which rounding errors
occur depends on the batch and the threads (the 6th decimal moved). The model therefore runs
in float64 (differences ~1e-14) and every score is rounded to :data:`SCORE_DECIMALS`, the
precision ``score --json`` prints; the decision is taken on that rounded number, so the
printed score and the decision always agree. Alone or in any batch, with any thread count,
a placement gets the same score and decision, except in the rare case (about one score in
10^8) whose float64 value lies within ~1e-14 of a rounding boundary.
"""

from __future__ import annotations

import contextlib
import copy
import os
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from magical_prune.calibrate import (
    NO_PRUNE,
    Calibration,
    calibrate_threshold,
    check_threshold,
    for_curve,
)
from magical_prune.checkpoint import (
    DEFAULT_THRESHOLD,
    check_fits,
    load_checkpoint,
    read_checkpoint,
    save_checkpoint,
)
from magical_prune.errors import CheckpointError, MagicalPruneError
from magical_prune.features import IMAGE_NAMES, FeatureConfig, FeatureStack, extract
from magical_prune.placement import Placement

__all__ = [
    "BUNDLED_MODEL",
    "NO_PRUNE",
    "SCORE_DECIMALS",
    "Calibration",
    "Predictor",
    "bundled_model_path",
    "calibrate_checkpoint",
    "calibrate_threshold",
    "fast_inference",
    "for_curve",
    "torch_threads",
]

#: the model shipped with the package, relative to the package folder
BUNDLED_MODEL = "assets/default.pt"
#: placements per forward pass when scoring many (small batches stay in the CPU caches)
DEFAULT_BATCH = 32
#: decimals a score is rounded to (what ``score --json`` prints; see the module docstring)
SCORE_DECIMALS = 6

ScoreInput = Placement | FeatureStack


def bundled_model_path() -> Path:
    """Path of the bundled model (``magical_prune/assets/default.pt``).

    Raises:
        CheckpointError: the installation has no bundled model (yet).
    """
    ref = resources.files("magical_prune").joinpath(BUNDLED_MODEL)
    if not ref.is_file():
        raise CheckpointError(
            "this installation has no bundled model (magical_prune/assets/default.pt); "
            "give a model file with --model / Predictor.load(path)"
        )
    # an installed wheel is a plain folder; a zip import would need as_file (not supported)
    return Path(os.fspath(ref))  # type: ignore[arg-type]


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
        kd, kh, kw = conv.kernel_size
        self.spatial = kd == 1 and conv.stride[0] == 1 and conv.padding[0] == 0

    @staticmethod
    def eligible(conv: nn.Module) -> bool:
        if not isinstance(conv, nn.Conv3d) or conv.padding_mode != "zeros":
            return False
        if isinstance(conv.padding, str):
            return False
        kd, kh, kw = conv.kernel_size
        spatial = kd == 1 and conv.stride[0] == 1 and conv.padding[0] == 0
        depth = (kh, kw) == (1, 1) and conv.stride[1:] == (1, 1) and conv.padding[1:] == (0, 0)
        return spatial or depth

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


class Predictor:
    """A model ready to score placements.

    Args:
        model: the network (any registered architecture; put in eval mode here).
        meta: its metadata (see :mod:`magical_prune.checkpoint`).
        source: the model file, for messages.
        device: where inference runs.
        threshold: decision threshold; default the model's own.
        fast: score through :func:`fast_inference` (same numbers, faster on the CPU).

    Raises:
        CheckpointError: the model expects feature images in another order than this
            package extracts, or its feature settings are unknown.
    """

    def __init__(
        self,
        model: torch.nn.Module,
        meta: Mapping[str, Any],
        *,
        source: str | os.PathLike[str] | None = None,
        device: str | torch.device = "cpu",
        threshold: float | None = None,
        fast: bool = True,
    ) -> None:
        self.meta: dict[str, Any] = dict(meta)
        self.source = None if source is None else os.fspath(source)
        self.device = torch.device(device)
        self.model = model.to(self.device).eval()
        self._fast = fast
        self._exact: tuple[nn.Module, nn.Module] | None = None  # float64 twin, its runner
        order = self.meta.get("channel_order")
        if order is not None and list(order) != list(IMAGE_NAMES):
            raise CheckpointError(
                f"model expects feature images in the order {', '.join(map(str, order))} but "
                f"magical-prune extracts {', '.join(IMAGE_NAMES)}",
                self.source,
            )
        stored = self.meta.get("feature_config") or {}
        try:
            config = FeatureConfig.from_dict(stored) if isinstance(stored, Mapping) else None
        except MagicalPruneError as err:
            raise CheckpointError(f"bad feature settings: {err.message}", self.source) from None
        size = int(self.meta["image_size"])
        if config is None or config.size != size:
            config = FeatureConfig(size, config.rasterizer if config else "exact")
        self.feature_config = config
        given = self.meta.get("threshold", DEFAULT_THRESHOLD) if threshold is None else threshold
        self._threshold = check_threshold(given, self.source)

    # -- construction ---------------------------------------------------------------------
    @classmethod
    def load(
        cls,
        path: str | os.PathLike[str] | None = None,
        device: str | torch.device = "cpu",
        threshold: float | None = None,
    ) -> Predictor:
        """Load a model file (``None``: the bundled model).

        Nothing in the file is executed: weights and plain metadata only
        (:func:`magical_prune.checkpoint.read_checkpoint`).

        Raises:
            CheckpointError: missing, unreadable or foreign file; weights that do not fit
                the architecture; features the model expects that this package cannot make.
        """
        path = bundled_model_path() if path is None else Path(path)
        _, meta = read_checkpoint(path)
        kwargs = meta.get("model_kwargs") or {}
        if not isinstance(kwargs, Mapping):
            raise CheckpointError("model_kwargs in the metadata is not a mapping", path)

        def factory(arch: str, size: int) -> torch.nn.Module:
            from magical_prune.models import create_model

            try:
                return create_model(arch, image_size=size, **kwargs)
            except TypeError as err:  # options this version's architecture does not take
                raise MagicalPruneError(str(err)) from None

        model, meta = load_checkpoint(path, device=device, factory=factory)
        return cls(model, meta, source=path, device=device, threshold=threshold)

    # -- properties -----------------------------------------------------------------------
    @property
    def threshold(self) -> float:
        """Decision threshold: prune when ``score >= threshold``."""
        return self._threshold

    @threshold.setter
    def threshold(self, value: float) -> None:
        self._threshold = check_threshold(value, self.source)

    @property
    def image_size(self) -> int:
        return self.feature_config.size

    @property
    def arch(self) -> str:
        return str(self.meta.get("arch"))

    # -- features -------------------------------------------------------------------------
    def features(self, placement: ScoreInput) -> np.ndarray:
        """float32 ``(6, 3, H, W)`` features of one placement, made as the model expects.

        Raises:
            CheckpointError: a :class:`FeatureStack` of another size, image order or
                rasterizer than the model's.
        """
        if isinstance(placement, FeatureStack):
            self.check_stack(placement)
            return placement.array
        if not isinstance(placement, Placement):
            raise MagicalPruneError(
                f"expected a Placement or FeatureStack, got {type(placement).__name__}"
            )
        cfg = self.feature_config
        return extract(placement, cfg.size, cfg.rasterizer)

    def features_many(self, placements: Iterable[ScoreInput]) -> np.ndarray:
        """float32 ``(N, 6, 3, H, W)`` features of several placements."""
        items = list(placements)
        size = self.image_size
        out = np.empty((len(items), len(IMAGE_NAMES), 3, size, size), dtype=np.float32)
        for i, p in enumerate(items):
            out[i] = self.features(p)
        return out

    def check_stack(self, stack: FeatureStack) -> None:
        """Refuse precomputed features the model was not trained on."""
        where = stack.source
        check_fits(self.meta, image_size=stack.size, channel_order=list(stack.names),
                   path=self.source, data=where)  # fmt: skip
        if stack.rasterizer != self.feature_config.rasterizer:
            raise CheckpointError(
                f"model expects features made with the {self.feature_config.rasterizer!r} "
                f"rasterizer but {where or 'the features'} were made with {stack.rasterizer!r}",
                self.source,
            )

    def check_array(self, x: np.ndarray) -> np.ndarray:
        """A ``(N, 6, 3, H, W)`` float32 view of ``x`` (one ``(6, 3, H, W)`` sample allowed)."""
        x = np.asarray(x, dtype=np.float32)
        if x.ndim == 4:
            x = x[None]
        if x.ndim != 5 or x.shape[1:3] != (len(IMAGE_NAMES), 3) or x.shape[3] != x.shape[4]:
            raise CheckpointError(f"features must be (N, 6, 3, H, W), got {x.shape}", self.source)
        check_fits(self.meta, image_size=x.shape[-1], channel_order=None, path=self.source)
        return x

    # -- scoring --------------------------------------------------------------------------
    def _exact_runner(self) -> nn.Module:
        """The scoring network: a float64 twin of :attr:`model` (float32 on MPS, which has
        no float64), weights copied from the model at every call so that changes to the
        model (fine-tuning, loading a state) are always seen. Not for concurrent use."""
        dtype = torch.float32 if self.device.type == "mps" else torch.float64
        with torch.inference_mode(False), torch.no_grad():
            if self._exact is None:
                twin = copy.deepcopy(self.model).to(dtype).eval()
                self._exact = (twin, fast_inference(twin) if self._fast else twin)
            twin, runner = self._exact
            source = self.model.state_dict()
            for name, tensor in twin.state_dict().items():
                tensor.copy_(source[name])
        return runner

    @torch.inference_mode()
    def raw_scores(self, x: np.ndarray, batch_size: int = DEFAULT_BATCH) -> np.ndarray:
        """P(prune) of a feature batch, rounded to :data:`SCORE_DECIMALS` (the same for a
        placement in any batch and thread count); NaN where the model's output is not finite.
        """
        x = self.check_array(x)
        runner = self._exact_runner()
        dtype = next(iter(runner.parameters())).dtype
        out = np.empty(len(x), dtype=np.float64)
        for start in range(0, len(x), max(1, batch_size)):
            batch = torch.from_numpy(np.ascontiguousarray(x[start : start + batch_size]))
            logits = runner(batch.to(self.device, dtype))
            probs = torch.softmax(logits, dim=1)[:, 1]
            probs = torch.where(torch.isfinite(logits).all(dim=1), probs, float("nan"))
            out[start : start + len(batch)] = probs.cpu().double().numpy()
        return np.round(out, SCORE_DECIMALS)

    def score_features(self, x: np.ndarray, batch_size: int = DEFAULT_BATCH) -> np.ndarray:
        """P(prune) of ``(N, 6, 3, H, W)`` features (or one ``(6, 3, H, W)``).

        Raises:
            CheckpointError: features of another shape or image size than the model's.
            MagicalPruneError: the model gave a NaN score (non-finite features or weights).
        """
        scores = self.raw_scores(x, batch_size)
        bad = np.isnan(scores)
        if bad.any():
            raise MagicalPruneError(
                f"the model gave no valid score for {int(bad.sum())} of {len(scores)} "
                "placement(s) (NaN: non-finite features or model weights)",
                self.source,
            )
        return scores

    def score(
        self, placements: ScoreInput | Sequence[ScoreInput], batch_size: int = DEFAULT_BATCH
    ) -> np.ndarray:
        """P(prune) of one placement or a sequence of them, ``(N,)`` float64."""
        items = [placements] if isinstance(placements, (Placement, FeatureStack)) else placements
        return self.score_features(self.features_many(items), batch_size)

    def decide(self, scores: np.ndarray | float, threshold: float | None = None) -> np.ndarray:
        """Prune decisions (``score >= threshold``) for scores."""
        t = self._threshold if threshold is None else check_threshold(threshold)
        return np.asarray(scores) >= t

    # -- saving ---------------------------------------------------------------------------
    def save(self, path: str | os.PathLike[str], **meta: Any) -> Path:
        """Write the model with its metadata (current threshold; ``meta`` keys added)."""
        out = {**self.meta, "threshold": self._threshold, **meta}
        return save_checkpoint(path, self.model, out)


@dataclass
class CalibrationResult:
    """A model calibrated on a data set: the predictor (threshold set) and the figures,
    with the scores and labels they came from (to draw the trade-off)."""

    predictor: Predictor
    calibration: Calibration
    record: dict[str, Any]
    scores: np.ndarray | None = None
    labels: np.ndarray | None = None

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write the calibrated model (threshold and ``calibration`` record in its metadata)."""
        return self.predictor.save(path, calibration=self.record)


def calibrate_checkpoint(
    model: str | os.PathLike[str] | Predictor | None,
    data: str | os.PathLike[str],
    target_for: float,
    *,
    split: str = "test",
    metric: str | None = None,
    worst_percent: float | None = None,
    batch_size: int = DEFAULT_BATCH,
    progress: bool = False,
) -> CalibrationResult:
    """Calibrate a model's threshold on a labelled data set (HDF5, ``dataset build``).

    Labels follow the model's own definition (metric and worst-percent cut) unless given,
    and are always made over the *whole* data set, never balanced: the threshold has to
    hold on the design space the flow explores, where a quarter of the layouts is bad.

    Args:
        model: a model file, a loaded predictor, or ``None`` for the bundled model.
        data: the data set.
        target_for: the FOR to stay at or under.
        split: ``test`` (the held-out 20% as the model's split seed defines it) or ``all``.
        metric, worst_percent: override the model's label definition.

    Returns:
        The predictor with its threshold set, the calibration figures, and the record
        stored in the model's metadata (``calibration``).
    """
    from magical_prune.dataset import LabelledDataset
    from magical_prune.training import TrainConfig

    predictor = model if isinstance(model, Predictor) else Predictor.load(model)
    label = predictor.meta.get("label") or {}
    if metric is None:
        metric = label.get("metric")
    if worst_percent is None:
        worst_percent = float(label.get("worst_percent") or 25.0)
    dataset = LabelledDataset.open(data, metric=metric, worst_percent=worst_percent,
                                   balanced=False, progress=progress)  # fmt: skip
    check_fits(predictor.meta, image_size=dataset.image_size,
               channel_order=dataset.channel_order, path=predictor.source,
               data=data)  # fmt: skip
    cfg = TrainConfig.from_dict(predictor.meta.get("train_config") or {})
    if split == "test":
        positions = dataset.split(0.0, cfg.split_seed, cfg.test_fraction).test
    elif split == "all":
        positions = np.arange(len(dataset))
    else:
        raise MagicalPruneError(f"split must be 'test' or 'all', got {split!r}")
    if len(positions) == 0:
        raise MagicalPruneError("no layouts to calibrate on in this split", data)
    # scored as `score` and the hook score (float64, rounded), so the threshold is set on
    # the very numbers the decisions compare with it
    scores = np.concatenate(
        [
            predictor.raw_scores(dataset.features(positions[i : i + batch_size]).numpy())
            for i in range(0, len(positions), batch_size)
        ]
    )
    if not np.all(np.isfinite(scores)):
        raise MagicalPruneError(
            "the model gave NaN scores on the calibration data", predictor.source
        )
    labels = dataset.labels[positions]
    cal = calibrate_threshold(scores, labels, target_for)
    trained = (predictor.meta.get("data") or {}).get("content_hash")
    record = {
        **cal.to_dict(),
        "split": split,
        "previous_threshold": predictor.threshold,
        "label": dataset.label_meta(),
        "data": {
            "path": str(data),
            "design": dataset.data.design,
            "content_hash": dataset.data.content_hash,
            "n_layouts": len(dataset),
            "n_calibration": int(len(positions)),
            "ids_sha256": dataset.ids_hash(positions),
            "trained_on_same_data": bool(trained) and trained == dataset.data.content_hash,
        },
    }
    predictor.threshold = cal.threshold
    return CalibrationResult(predictor, cal, record, scores, np.asarray(labels))
