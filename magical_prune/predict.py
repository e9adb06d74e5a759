"""Scoring placements with a trained model, and choosing the decision threshold.

:class:`Predictor` is a loaded model plus its metadata. It turns placements into the feature
tensor the model was trained on (same image size and rasterizer, read from the model file)
and returns the *score* of each one: the probability of being in the worst quarter, i.e.
the softmax of class 1 ("prune"). A placement is pruned when ``score >= threshold``; the
threshold comes from the model file (0.5 unless the model was calibrated) or the caller.

Threshold calibration (:func:`calibrate_threshold`) picks the threshold for a target false
omission rate (FOR = bad layouts among those kept) on held-out, labelled data. Which one:
FOR *falls* as more is pruned, because what is kept is what the model is surest is good --
keeping only the single best-scored layout usually gives FOR 0. So "prune as much as
possible while FOR <= target" would prune nearly everything and lose almost every good
placement with the bad ones. The useful end is the other one: the *highest* threshold at
which the FOR reaches the target, i.e. prune just enough to bring the share of bad layouts
among those kept down to the target, losing as few good placements as possible on the way.
The calibration reports what that costs (prune rate, share of good layouts pruned) next to
what it achieves. All thresholds are swept at once over the sorted scores; the chosen
threshold is the score of the last pruned layout itself (the highest threshold making the
same decisions on the calibration data), so on new data it errs towards keeping.

When no threshold meets the target (the lowest FOR reachable while keeping anything is
above it), the result says so (``feasible=False``) and its threshold is :data:`NO_PRUNE`,
which keeps everything: a pruner that cannot deliver the promised FOR should not prune.
The command line refuses to write such a model.

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
import math
import os
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

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
#: a threshold above every probability: nothing is pruned
NO_PRUNE = math.nextafter(1.0, math.inf)
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


def check_threshold(value: float, where: str | None = None) -> float:
    """A usable threshold: finite and >= 0 (above 1 nothing is pruned)."""
    try:
        t = float(value)
    except (TypeError, ValueError):
        raise MagicalPruneError(f"threshold must be a number, got {value!r}", where) from None
    if not math.isfinite(t) or t < 0:
        raise MagicalPruneError(f"threshold must be a finite number >= 0, got {value!r}", where)
    return t


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


# -- threshold calibration ------------------------------------------------------------------
@dataclass(frozen=True)
class Calibration:
    """The outcome of choosing a threshold for a target FOR.

    Attributes:
        threshold: prune when ``score >= threshold`` (:data:`NO_PRUNE` when infeasible, or
            when the FOR of keeping everything already meets the target).
        target_for: the FOR asked for.
        feasible: some threshold brings the FOR to the target or under.
        achieved_for: FOR on the calibration data at ``threshold``.
        prune_rate: share of the calibration data pruned at ``threshold`` (the saving).
        good_pruned: share of the good layouts pruned (the cost: good placements lost).
        bad_pruned: share of the bad layouts pruned (recall).
        n: calibration layouts (weighted count when weights are given).
        n_bad: bad layouts among them (label 1, weighted).
        base_rate: ``n_bad / n``: the FOR of keeping everything or pruning at random.
        best_for: the lowest FOR any threshold reaches while keeping something.
        best_for_threshold, best_for_prune_rate: where it is first reached.
    """

    threshold: float
    target_for: float
    feasible: bool
    achieved_for: float
    prune_rate: float
    good_pruned: float | None
    bad_pruned: float | None
    n: float
    n_bad: float
    base_rate: float
    best_for: float
    best_for_threshold: float
    best_for_prune_rate: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def describe(self) -> str:
        """One human line."""
        if not self.feasible:
            return (
                f"no threshold keeps FOR <= {100 * self.target_for:.2f}%: the lowest FOR is "
                f"{_pct(self.best_for)} (prune rate {_pct(self.best_for_prune_rate)}, threshold "
                f"{_num(self.best_for_threshold)}); keeping all gives {_pct(self.base_rate)}"
            )
        return (
            f"threshold {_num(self.threshold)}: FOR {_pct(self.achieved_for)} (target <= "
            f"{100 * self.target_for:.2f}%, keeping all {_pct(self.base_rate)}), prune rate "
            f"{_pct(self.prune_rate)}, bad pruned {_pct(self.bad_pruned)}, good pruned "
            f"{_pct(self.good_pruned)}"
        )


def _pct(x: float | None) -> str:
    return "n/a" if x is None else f"{100 * x:.2f}%"


def _num(x: float | None) -> str:
    if x is None:
        return "n/a"
    return "none (prunes nothing)" if x > 1.0 else f"{x:.4f}"


def _check_scores_labels(
    scores: Iterable[float], labels: Iterable[int], weights: Iterable[float] | None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    s = np.asarray(scores, dtype=np.float64).reshape(-1)
    y = np.asarray(labels).reshape(-1)
    if s.shape != y.shape:
        raise MagicalPruneError(f"{len(s)} scores but {len(y)} labels")
    if len(s) == 0:
        raise MagicalPruneError("no layouts to calibrate on")
    if not np.all(np.isfinite(s)):
        raise MagicalPruneError("scores must be finite (the model gave NaN)")
    if not np.isin(y, (0, 1)).all():
        raise MagicalPruneError("labels must be 0 or 1")
    w = np.ones(len(s)) if weights is None else np.asarray(weights, dtype=np.float64).reshape(-1)
    if w.shape != s.shape or not np.all(np.isfinite(w)) or np.any(w <= 0):
        raise MagicalPruneError("weights must be positive and one per layout")
    return s, y.astype(np.int64), w


def for_curve(
    scores: Iterable[float], labels: Iterable[int], weights: Iterable[float] | None = None
) -> dict[str, np.ndarray]:
    """Every distinct decision the scores allow, from pruning nothing to pruning all.

    Entry ``j`` prunes the layouts with ``score >= threshold[j]``; entry 0 prunes nothing
    (threshold :data:`NO_PRUNE`), the last prunes all. Layouts with equal scores are always
    decided together. A threshold lies halfway between the last pruned and the first kept
    score (the same decisions on these layouts, and no bias either way on new ones).

    Args:
        scores: P(prune) of each layout.
        labels: 1 = bad (prune), 0 = good.
        weights: optional positive weight per layout (inverse sampling probabilities, as the
            hook uses for explored candidates); counts and rates are then weighted.

    Returns:
        ``threshold``, ``pruned`` (weighted count), ``prune_rate``, ``for`` (NaN where
        nothing is kept), ``good_pruned`` and ``bad_pruned`` (NaN without good / bad
        layouts), one entry per distinct decision.
    """
    s, y, w = _check_scores_labels(scores, labels, weights)
    order = np.argsort(-s, kind="stable")
    s, y, w = s[order], y[order], w[order]
    total, bad = float(w.sum()), float((w * y).sum())
    good = total - bad
    # cut after position k-1 (k pruned) only where the score drops: ties stay together
    drops = np.nonzero(s[:-1] > s[1:])[0] + 1
    cuts = np.concatenate([[0], drops, [len(s)]])
    pruned_w = np.concatenate([[0.0], np.cumsum(w)])[cuts]
    pruned_bad = np.concatenate([[0.0], np.cumsum(w * y)])[cuts]
    kept = total - pruned_w
    tiny = 1e-12 * total
    with np.errstate(invalid="ignore", divide="ignore"):
        for_ = np.where(kept > tiny, (bad - pruned_bad) / kept, np.nan)
        good_pruned = np.full(len(cuts), np.nan) if good <= tiny else (pruned_w - pruned_bad) / good
        bad_pruned = np.full(len(cuts), np.nan) if bad <= tiny else pruned_bad / bad
    threshold = np.concatenate([[NO_PRUNE], (s[drops - 1] + s[drops]) / 2.0, [s[-1]]])
    return {"threshold": threshold, "pruned": pruned_w, "prune_rate": pruned_w / total,
            "for": for_, "good_pruned": good_pruned, "bad_pruned": bad_pruned}  # fmt: skip


def calibrate_threshold(
    scores: Iterable[float],
    labels: Iterable[int],
    target_for: float,
    weights: Iterable[float] | None = None,
) -> Calibration:
    """The highest threshold (least pruning) at which FOR <= ``target_for``.

    See the module docstring for why the least pruning, not the most.

    Args:
        scores: P(prune) of held-out layouts.
        labels: their true labels (1 = bad).
        target_for: the highest acceptable share of bad layouts among those kept.
        weights: optional positive weights per layout (see :func:`for_curve`).

    Returns:
        The chosen threshold and what it achieves and costs on these layouts;
        ``feasible=False`` (threshold :data:`NO_PRUNE`) when no threshold meets the target.
    """
    if not (0.0 <= float(target_for) <= 1.0) or math.isnan(float(target_for)):
        raise MagicalPruneError(f"target FOR must be in [0, 1], got {target_for}")
    c = for_curve(scores, labels, weights)
    for_ = c["for"]
    defined = ~np.isnan(for_)  # everything but pruning all
    best = int(np.argmin(np.where(defined, for_, np.inf)))

    def rate(key: str, j: int) -> float | None:
        v = float(c[key][j])
        return None if math.isnan(v) else v

    ok = np.nonzero(defined & (for_ <= float(target_for) + 1e-12))[0]
    j = int(ok[0]) if len(ok) else 0
    return Calibration(
        threshold=float(c["threshold"][j]) if len(ok) else NO_PRUNE,
        target_for=float(target_for),
        feasible=bool(len(ok)),
        achieved_for=float(for_[j]),
        prune_rate=float(c["prune_rate"][j]),
        good_pruned=rate("good_pruned", j),
        bad_pruned=rate("bad_pruned", j),
        n=float(c["pruned"][-1]),
        n_bad=float(for_[0] * c["pruned"][-1]),
        base_rate=float(for_[0]),
        best_for=float(for_[best]),
        best_for_threshold=float(c["threshold"][best]),
        best_for_prune_rate=float(c["prune_rate"][best]),
    )


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
