"""The production scorer of the paper's CNNs: placements in, P(worst quarter) out.

:class:`Predictor` is a network plus its :class:`~magical_prune.card.ModelCard`, and
implements the :class:`~magical_prune.scorer.Scorer` protocol. It turns placements into the
feature tensor the model was trained on (same image size and rasterizer, read from the card)
and returns the *score* of each one: the softmax of class 1 ("prune"). A placement is pruned
when ``score >= threshold``; the threshold comes from the card (0.5 unless the model was
calibrated) or the caller. Calibration, evaluation, explanations, the ``score`` command and
the hook all score through it, so a threshold is set on the numbers decisions compare with it.

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

import copy
import os
from collections.abc import Iterable, Mapping, Sequence
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from magical_prune.calibrate import check_threshold
from magical_prune.card import ModelCard
from magical_prune.checkpoint import check_fits, load_model, save_model
from magical_prune.errors import CheckpointError, MagicalPruneError
from magical_prune.features import IMAGE_NAMES, FeatureConfig, FeatureStack, extract
from magical_prune.models.fast import fast_inference
from magical_prune.placement import Placement
from magical_prune.scorer import CardThreshold

__all__ = [
    "BUNDLED_MODEL",
    "DEFAULT_BATCH",
    "SCORE_DECIMALS",
    "Predictor",
    "bundled_model_path",
]

#: the model shipped with the package, relative to the package folder
BUNDLED_MODEL = "assets/default.pt"
#: placements per forward pass when scoring many (small batches stay in the CPU caches)
DEFAULT_BATCH = 32
#: decimals a score is rounded to (what ``score --json`` prints; see the module docstring)
SCORE_DECIMALS = 6

ScoreInput = Placement | FeatureStack
_Source = str | os.PathLike[str] | None


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


def _feature_config(card: ModelCard, source: str | None) -> FeatureConfig:
    """How to make the model's input images, refusing what this package cannot make."""
    if card.inputs.kind != "images":
        raise CheckpointError(
            f"model takes {card.inputs.kind} inputs; a Predictor scores feature images", source
        )
    order = card.channel_order
    if order is not None and list(order) != list(IMAGE_NAMES):
        raise CheckpointError(
            f"model expects feature images in the order {', '.join(map(str, order))} but "
            f"magical-prune extracts {', '.join(IMAGE_NAMES)}",
            source,
        )
    try:
        config = FeatureConfig.from_dict(card.inputs.feature_config or {})
        if config.size != card.image_size:
            config = FeatureConfig(card.image_size, config.rasterizer)
    except MagicalPruneError as err:
        raise CheckpointError(f"bad feature settings: {err.message}", source) from None
    return config


class Predictor(CardThreshold):
    """A CNN ready to score placements (a :class:`~magical_prune.scorer.Scorer`).

    Args:
        model: the network (any registered architecture; put in eval mode here).
        card: its card, or the plain metadata of a model file (read as a card).
        source: the model file, for messages.
        device: where inference runs.
        threshold: decision threshold; default the card's.
        fast: score through :func:`~magical_prune.models.fast.fast_inference` (same
            numbers, faster on the CPU).

    Raises:
        CheckpointError: a malformed card, a model of other inputs than feature images, or
            images in another order or made another way than this package makes them.
    """

    def __init__(
        self,
        model: torch.nn.Module,
        card: ModelCard | Mapping[str, Any],
        *,
        source: _Source = None,
        device: str | torch.device = "cpu",
        threshold: float | None = None,
        fast: bool = True,
    ) -> None:
        self.source = None if source is None else os.fspath(source)
        if not isinstance(card, ModelCard):
            card = ModelCard.from_meta(card, self.source)
        self.feature_config = _feature_config(card, self.source)
        given = card.threshold if threshold is None else threshold
        self._card = card.with_threshold(check_threshold(given, self.source))
        self.device = torch.device(device)
        self.model = model.to(self.device).eval()
        self._fast = fast
        self._exact: tuple[nn.Module, nn.Module] | None = None  # float64 twin, its runner

    # -- construction ---------------------------------------------------------------------
    @classmethod
    def load(
        cls,
        path: _Source = None,
        device: str | torch.device = "cpu",
        threshold: float | None = None,
    ) -> Predictor:
        """Load a model file (``None``: the bundled model).

        Nothing in the file is executed: weights and plain metadata only
        (:func:`magical_prune.checkpoint.load_model`).

        Raises:
            CheckpointError: missing, unreadable or foreign file; weights that do not fit
                the architecture; features the model expects that this package cannot make.
        """
        path = bundled_model_path() if path is None else Path(path)
        model, card = load_model(path, device=device)
        return cls(model, card, source=path, device=device, threshold=threshold)

    @classmethod
    def from_model(
        cls,
        model: torch.nn.Module,
        card: ModelCard | Mapping[str, Any],
        *,
        threshold: float | None = None,
        source: _Source = None,
        fast: bool = True,
    ) -> Predictor:
        """Score an in-memory model (just trained or fine-tuned) on the production path,
        on the device it is on. The model is put in eval mode (``model.train()`` to go on
        training); it is scored through a float64 twin that reads its weights at every
        call, so later changes to the model are always seen."""
        first = next(iter(model.parameters()), None)
        device = torch.device("cpu") if first is None else first.device
        return cls(model, card, source=source, device=device, threshold=threshold, fast=fast)

    # -- the card -------------------------------------------------------------------------
    @property
    def card(self) -> ModelCard:
        """The model's card, with the threshold in use (what :meth:`save` writes)."""
        return self._card

    @card.setter
    def card(self, card: ModelCard) -> None:
        """A new card for the same model (threshold, calibration or provenance changed)."""
        if card.arch != self._card.arch or card.inputs != self._card.inputs:
            raise MagicalPruneError(
                "a predictor's card may change its threshold and records, not the "
                "architecture or inputs of the model it describes",
                self.source,
            )
        self._card = card.with_threshold(check_threshold(card.threshold, self.source))

    @property
    def meta(self) -> dict[str, Any]:
        """The card as plain metadata (a fresh copy; for callers not on the card yet)."""
        return self._card.to_meta()

    @property
    def image_size(self) -> int:
        return self.feature_config.size

    @property
    def arch(self) -> str:
        return self._card.arch

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

    def prepare(self, placements: ScoreInput | Iterable[ScoreInput]) -> np.ndarray:
        """float32 ``(N, 6, 3, H, W)`` features of one placement or several."""
        items = [placements] if isinstance(placements, (Placement, FeatureStack)) else placements
        items = list(items)
        size = self.image_size
        out = np.empty((len(items), len(IMAGE_NAMES), 3, size, size), dtype=np.float32)
        for i, p in enumerate(items):
            out[i] = self.features(p)
        return out

    features_many = prepare

    def check_stack(self, stack: FeatureStack) -> None:
        """Refuse precomputed features the model was not trained on."""
        where = stack.source
        check_fits(self._card, image_size=stack.size, channel_order=list(stack.names),
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
        check_fits(self._card, image_size=x.shape[-1], channel_order=None, path=self.source)
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
    def score_prepared(self, x: np.ndarray, batch_size: int = DEFAULT_BATCH) -> np.ndarray:
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

    raw_scores = score_prepared

    def score_features(self, x: np.ndarray, batch_size: int = DEFAULT_BATCH) -> np.ndarray:
        """P(prune) of ``(N, 6, 3, H, W)`` features (or one ``(6, 3, H, W)``).

        Raises:
            CheckpointError: features of another shape or image size than the model's.
            MagicalPruneError: the model gave a NaN score (non-finite features or weights).
        """
        scores = self.score_prepared(x, batch_size)
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
        return self.score_features(self.prepare(placements), batch_size)

    # -- saving ---------------------------------------------------------------------------
    def save(self, path: str | os.PathLike[str], **changes: Any) -> Path:
        """Write the model with its card (current threshold; ``changes``: metadata keys
        set on the way, e.g. ``calibration=record`` or ``created_by=...``)."""
        card = self._card
        if changes:
            card = ModelCard.from_meta({**card.to_meta(), **changes}, path)
        return save_model(path, self.model, card)
