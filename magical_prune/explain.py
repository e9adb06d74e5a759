"""Why the model wants to prune a placement: class activation maps over the six images.

A network that ends in global average pooling and one linear layer (the ``efficient``
architecture) has a class activation map (CAM): the last feature maps weighted by the
linear layer's weights of a class. For two classes the softmax depends only on the logit
difference, so the map explained here is the *evidence for prune*: CAM of class "prune"
minus CAM of class "keep". Its mean over the six feature sets and all pixels, plus the
difference of the biases, is exactly that logit difference, so positive values are where
the placement pushes the score up. Because ``efficient`` keeps the six feature sets apart
on its depth axis up to the head, the map has one plane per feature image: it says in which
sub-circuit (or in the routing demand) the evidence lies.

Architectures without ``cam`` get a gradient-weighted CAM (Grad-CAM): the activations of
the last convolution weighted by the mean gradient of the logit difference per channel. This
needs a last convolution whose depth axis still holds the six sets (``feat3d``); networks
that fold the sets into channels earlier (``feat2d``, ``nofeat*``) cannot say which
sub-circuit the evidence belongs to, and are refused with a clear error.

Shares: the positive evidence of each image over the total positive evidence (they sum to
1; all 0 when there is no positive evidence). The hotspot is the pixel of largest evidence,
reported in µm on the placement (pixel centre; the image spans the devices' bounding box,
each axis scaled on its own, row 0 at the lowest y) with the devices of that image's
sub-circuit under it, or why there are none (:mod:`magical_prune.hotspot`).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from magical_prune.errors import MagicalPruneError
from magical_prune.features import IMAGE_NAMES, FeatureStack
from magical_prune.hotspot import locate
from magical_prune.models._base import PRUNE_CLASS
from magical_prune.placement import NM_PER_UM, Placement
from magical_prune.predict import Predictor

__all__ = ["Explanation", "activation_map", "explain", "plot_explanation"]

KEEP_CLASS = 1 - PRUNE_CLASS


@dataclass(frozen=True)
class Explanation:
    """The evidence for pruning one placement.

    Attributes:
        score: P(prune).
        threshold: the predictor's threshold.
        features: ``(6, 3, H, W)`` the model's input.
        evidence: ``(6, H, W)`` evidence for prune (logit units, signed), per feature image.
        method: ``cam`` or ``gradcam``.
        shares: image name -> share of the positive evidence (sums to 1, or all 0).
        hotspot: where the evidence peaks: ``image``, ``row``, ``col``, ``evidence`` and,
            when the placement is known, ``x_um``, ``y_um`` and ``devices`` there.
        bbox_um: ``(xlo, ylo, xhi, yhi)`` the images span, when the placement is known.
        source: the placement's file.
    """

    score: float
    threshold: float
    features: np.ndarray
    evidence: np.ndarray
    method: str
    shares: dict[str, float]
    hotspot: dict[str, Any]
    bbox_um: tuple[float, float, float, float] | None = None
    source: str | None = None

    @property
    def prune(self) -> bool:
        return self.score >= self.threshold

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready summary (no arrays)."""
        return {
            "placement": self.source,
            "score": self.score,
            "threshold": self.threshold,
            "decision": "prune" if self.prune else "keep",
            "method": self.method,
            "shares": self.shares,
            "hotspot": self.hotspot,
            "bbox_um": None if self.bbox_um is None else list(self.bbox_um),
        }


def _last_conv(model: nn.Module) -> nn.Module:
    convs = [m for m in model.modules() if isinstance(m, (nn.Conv2d, nn.Conv3d))]
    if not convs:
        raise MagicalPruneError(f"{type(model).__name__} has no convolution to explain")
    return convs[-1]


def _grad_cam(model: nn.Module, x: torch.Tensor, arch: str) -> torch.Tensor:
    """Grad-CAM of (prune - keep) on the last convolution, ``(B, 6, h, w)``."""
    layer = _last_conv(model)
    seen: dict[str, torch.Tensor] = {}

    def keep(_module: nn.Module, _inputs: Any, output: torch.Tensor) -> None:
        output.retain_grad()
        seen["a"] = output

    handle = layer.register_forward_hook(keep)
    try:
        with torch.enable_grad():
            logits = model(x)
            (logits[:, PRUNE_CLASS] - logits[:, KEEP_CLASS]).sum().backward()
    finally:
        handle.remove()
    act = seen["a"]
    if act.dim() != 5 or act.shape[2] != len(IMAGE_NAMES):
        raise MagicalPruneError(
            f"architecture {arch!r} folds the six feature images together before its last "
            "convolution, so its evidence cannot be split by sub-circuit; explanations need "
            "an architecture that keeps them apart (efficient, feat3d)"
        )
    weights = act.grad.mean(dim=(2, 3, 4), keepdim=True)
    return (weights * act).sum(dim=1).detach()


def activation_map(predictor: Predictor, features: np.ndarray) -> tuple[np.ndarray, str]:
    """Evidence for prune over each feature image, ``(N, 6, H, W)``, and the method used.

    Args:
        predictor: the model.
        features: ``(N, 6, 3, H, W)`` or one ``(6, 3, H, W)`` feature tensor.
    """
    x = torch.from_numpy(np.ascontiguousarray(predictor.check_array(features)))
    x = x.to(predictor.device)
    model = predictor.model
    if hasattr(model, "cam"):
        with torch.inference_mode():
            cam = model.cam(x, PRUNE_CLASS, upsample=True) - model.cam(x, KEEP_CLASS, upsample=True)
        method = "cam"
    else:
        cam = _grad_cam(model, x, predictor.arch)
        cam = F.interpolate(cam, size=x.shape[-2:], mode="bilinear", align_corners=False)
        method = "gradcam"
    return cam.float().cpu().numpy(), method


def _shares(evidence: np.ndarray) -> dict[str, float]:
    positive = np.clip(evidence, 0.0, None).sum(axis=(1, 2)).astype(np.float64)
    total = positive.sum()
    values = positive / total if total > 0 else np.zeros_like(positive)
    return {name: float(v) for name, v in zip(IMAGE_NAMES, values)}


def _hotspot(evidence: np.ndarray, placement: Placement | None) -> dict[str, Any]:
    image, row, col = np.unravel_index(int(np.argmax(evidence)), evidence.shape)
    spot: dict[str, Any] = {
        "image": IMAGE_NAMES[image],
        "row": int(row),
        "col": int(col),
        "evidence": float(evidence[image, row, col]),
    }
    if placement is not None:
        where = locate(evidence[image], int(image), int(row), int(col), placement,
                       IMAGE_NAMES[image])  # fmt: skip
        spot.update(where)
    return spot


def explain(predictor: Predictor, placement: Placement | FeatureStack) -> Explanation:
    """Score one placement and locate the evidence for pruning it.

    Raises:
        CheckpointError: features that do not fit the model.
        MagicalPruneError: a NaN score, or an architecture whose evidence cannot be split
            by feature image.
    """
    batch = predictor.prepare(placement)  # scored as `score` and the hook score it
    score = float(predictor.score_features(batch)[0])
    evidence, method = activation_map(predictor, batch)
    features, evidence = batch[0], evidence[0]
    geometry = placement if isinstance(placement, Placement) else None
    bbox = None
    if geometry is not None:
        b = geometry.bbox / NM_PER_UM
        bbox = (float(b[0]), float(b[1]), float(b[2]), float(b[3]))
    return Explanation(
        score=score,
        threshold=predictor.threshold,
        features=features,
        evidence=evidence,
        method=method,
        shares=_shares(evidence),
        hotspot=_hotspot(evidence, geometry),
        bbox_um=bbox,
        source=getattr(placement, "source", None),
    )


def plot_explanation(
    explanation: Explanation, path: str | os.PathLike[str], title: str | None = None, dpi: int = 100
) -> Path:
    """Six panels, north up: each feature image in grey with its evidence overlaid.

    One diverging colour scale for all panels (red = evidence for prune, blue = for keep),
    symmetric about 0, with a colour bar; axes in µm when the placement is known; the
    hotspot is marked. Uses matplotlib's object API only (safe in threads; identical input
    gives identical files).
    """
    from matplotlib.figure import Figure

    e = explanation
    images = e.features[:, 0]
    limit = float(np.abs(e.evidence).max()) or 1.0
    extent = None
    if e.bbox_um is not None:
        xlo, ylo, xhi, yhi = e.bbox_um
        extent = (xlo, xhi, ylo, yhi)
    fig = Figure(figsize=(12.5, 7.4), dpi=dpi, layout="constrained")
    aspect = "equal" if extent is not None else "auto"
    axes = fig.subplots(2, 3, squeeze=False)
    shown = None
    for k, (ax, name) in enumerate(zip(axes.ravel(), IMAGE_NAMES)):
        image = images[k]
        vmax = max(1.0, float(image.max())) if name == "routing" else 1.0
        ax.imshow(image, cmap="gray_r", vmin=0.0, vmax=vmax, origin="lower", extent=extent,
                  interpolation="nearest", aspect=aspect)  # fmt: skip
        shown = ax.imshow(e.evidence[k], cmap="RdBu_r", vmin=-limit, vmax=limit, alpha=0.55,
                          origin="lower", extent=extent, interpolation="bilinear",
                          aspect=aspect)  # fmt: skip
        ax.set_title(f"{name}: {100 * e.shares[name]:.1f}% of evidence", fontsize="medium")
        if extent is None:
            ax.set_xticks([])
            ax.set_yticks([])
        else:
            ax.set_xlabel("x (µm)", fontsize="small")
            ax.set_ylabel("y (µm)", fontsize="small")
            ax.tick_params(labelsize="x-small")
        if name == e.hotspot["image"]:
            if extent is not None and "x_um" in e.hotspot:
                hx, hy = e.hotspot["x_um"], e.hotspot["y_um"]
            else:
                hx, hy = e.hotspot["col"], e.hotspot["row"]
            ax.plot([hx], [hy], marker="x", color="black", markersize=11, mew=2.5)
            ax.plot([hx], [hy], marker="x", color="yellow", markersize=9, mew=1.2)
    fig.colorbar(shown, ax=axes.ravel().tolist(), fraction=0.025, pad=0.01,
                 label="evidence for prune (logit units)")  # fmt: skip
    head = title or (e.source or "placement")
    fig.suptitle(
        f"{head}\nscore {e.score:.3f} -> {'prune' if e.prune else 'keep'} "
        f"(threshold {min(e.threshold, 1.0):.3f}), {e.method}",
        fontsize="medium",
    )
    out = Path(path)
    fig.savefig(out, format="png", metadata={"Software": None})
    return out
