"""Pictures for people: feature images as PNGs and a contact sheet like the paper's Fig. 4,
the FOR trade-off of a threshold, the distribution of scores, and training curves.

Feature arrays keep row 0 at the lowest y; every picture here is drawn with north up.
Sub-circuit images share one colour scale, 0 to 1 (the type intensities .25/.5/.75/1.0 then
have the same colour in every panel); the routing image is scaled to its own maximum (a
count of nets, at least 1). Only matplotlib's object API is used (no pyplot state), so
plotting is safe from library code and threads, and identical input gives identical files.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from matplotlib import colormaps
from matplotlib.figure import Figure
from matplotlib.image import imsave

from magical_prune.features import IMAGE_NAMES

if TYPE_CHECKING:
    from magical_prune.tradeoff import Tradeoff

#: Colour map of every feature picture.
FEATURE_CMAP = "viridis"
#: File name of the contact sheet written next to the single images.
CONTACT_SHEET = "contact_sheet.png"


def _intensities(features: np.ndarray) -> np.ndarray:
    """``(6, H, W)`` intensity images from ``(6, 3, H, W)`` features or ``(6, H, W)`` images."""
    features = np.asarray(features)
    return features[:, 0] if features.ndim == 4 else features


def _vmax(name: str, image: np.ndarray) -> float:
    return max(1.0, float(image.max())) if name == "routing" else 1.0


def feature_png_paths(
    out_dir: str | os.PathLike[str], names: Sequence[str] = IMAGE_NAMES
) -> list[Path]:
    """The files :func:`save_feature_pngs` writes: one per image, then the contact sheet."""
    out = Path(out_dir)
    return [out / f"{name}.png" for name in names] + [out / CONTACT_SHEET]


def save_feature_pngs(
    features: np.ndarray,
    out_dir: str | os.PathLike[str],
    names: Sequence[str] = IMAGE_NAMES,
    scale: int = 4,
    title: str | None = None,
) -> list[Path]:
    """Write each image as ``<name>.png`` (pixels enlarged ``scale`` x) plus a contact sheet.

    Args:
        features: ``(6, 3, H, W)`` features or ``(6, H, W)`` intensity images.
        out_dir: folder to write into (created if missing). Existing files are replaced:
            callers decide about overwriting (the CLI asks for ``--force``).
        names: image names, for file names and panel titles.
        scale: each feature pixel becomes ``scale`` x ``scale`` PNG pixels.
        title: contact-sheet title (e.g. the placement's path).

    Returns:
        The paths written, as :func:`feature_png_paths`.
    """
    images = _intensities(features)
    paths = feature_png_paths(out_dir, names)
    paths[0].parent.mkdir(parents=True, exist_ok=True)
    for name, image, path in zip(names, images, paths):
        big = np.repeat(np.repeat(image, scale, axis=0), scale, axis=1)
        imsave(path, big, cmap=FEATURE_CMAP, vmin=0.0, vmax=_vmax(name, image), origin="lower")
    contact_sheet(images, paths[-1], names=names, title=title)
    return paths


def contact_sheet(
    features: np.ndarray,
    path: str | os.PathLike[str],
    names: Sequence[str] = IMAGE_NAMES,
    title: str | None = None,
    dpi: int = 100,
) -> Path:
    """All images side by side (2 x 3 panels titled with the image names), north up."""
    images = _intensities(features)
    cols = 3
    rows = -(-len(images) // cols)
    fig = Figure(figsize=(3.2 * cols, 3.0 * rows + (0.4 if title else 0.0)), dpi=dpi)
    cmap = colormaps[FEATURE_CMAP]
    axes = fig.subplots(rows, cols, squeeze=False)
    for ax, name, image in zip(axes.ravel(), names, images):
        shown = ax.imshow(image, cmap=cmap, vmin=0.0, vmax=_vmax(name, image), origin="lower",
                          interpolation="nearest")  # fmt: skip
        ax.set_title(name)
        ax.set_xticks([])
        ax.set_yticks([])
        fig.colorbar(shown, ax=ax, fraction=0.046, pad=0.04)
    for ax in axes.ravel()[len(images) :]:
        ax.set_axis_off()
    if title:
        fig.suptitle(title, fontsize="small")
    fig.tight_layout()
    out = Path(path)
    fig.savefig(out, format="png", metadata={"Software": None})
    return out


# -- decision pictures ----------------------------------------------------------------------
#: colours of bad-layout (FOR, pruned) and good-layout (kept, good pruned) quantities
_BAD, _GOOD = "tab:red", "tab:blue"


def save_figure(fig: Figure, path: str | os.PathLike[str]) -> Path:
    """Write ``fig`` as PNG without the software tag (identical input, identical bytes)."""
    out = Path(path)
    fig.savefig(out, format="png", metadata={"Software": None})
    return out


def _threshold_label(threshold: float, point: dict[str, float | None]) -> str:
    if threshold > 1.0:
        return "threshold: none (prunes nothing)"
    parts = [f"threshold {threshold:.4f}"]
    for key, name in (("prune_rate", "prunes"), ("for", "FOR"), ("good_pruned", "good pruned")):
        if point.get(key) is not None:
            parts.append(f"{name} {100 * float(point[key]):.1f}%")  # type: ignore[arg-type]
    return ", ".join(parts)


def tradeoff_figure(t: Tradeoff, title: str | None = None, dpi: int = 100) -> Figure:
    """Two panels over the share of layouts pruned: the FOR (top) and the share of good
    layouts pruned (bottom), each beside random pruning, with the threshold in use marked.

    Why two panels: the FOR lives between 0 and the share of bad layouts, the good-pruned
    share between 0 and 100%; on one axis the FOR curve would be a flat line.
    """
    fig = Figure(figsize=(6.4, 6.2), dpi=dpi, layout="constrained")
    top, bottom = fig.subplots(2, 1, sharex=True)
    x = 100 * t.prune_rate
    point = t.chosen
    at = 100 * float(point["prune_rate"] or 0.0)
    mark = _threshold_label(float(point["threshold"] or 0.0), point)
    top.plot(x, 100 * t.for_, color=_BAD, label="model: FOR (bad among kept)")
    top.axhline(100 * t.base_rate, color=_BAD, ls="--", lw=1,
                label=f"random pruning: FOR {100 * t.base_rate:.1f}%")  # fmt: skip
    if t.target_for is not None:
        top.axhline(100 * t.target_for, color="grey", ls=":", lw=1.2,
                    label=f"target FOR {100 * t.target_for:.1f}%")  # fmt: skip
    bottom.plot(x, 100 * t.good_pruned, color=_GOOD, label="model: good layouts pruned")
    bottom.plot([0, 100], [0, 100], color=_GOOD, ls="--", lw=1,
                label="random pruning: good layouts pruned")  # fmt: skip
    for ax, key in ((top, "for"), (bottom, "good_pruned")):
        ax.axvline(at, color="black", lw=1.2, label=mark)
        if point.get(key) is not None:
            ax.plot([at], [100 * float(point[key])], "o", color="black")  # type: ignore[arg-type]
        ax.set_xlim(0, 100)
        ax.grid(alpha=0.3)
        ax.legend(fontsize="small", loc="upper right" if ax is top else "upper left")
    # head room above the FOR curve for the legend
    top.set_ylim(0, max(1.0, 100 * float(np.nanmax(t.for_, initial=t.base_rate)) * 1.6))
    bottom.set_ylim(0, 100)
    top.set_ylabel("FOR: bad among kept (%)")
    bottom.set_ylabel("good layouts pruned (%)")
    bottom.set_xlabel("layouts pruned (%)")
    top.tick_params(labelbottom=True)
    top.set_xlabel("layouts pruned (%)")
    fig.suptitle(title or f"trade-off on {t.n} layouts", fontsize="medium")
    return fig


def score_histogram_figure(
    scores: Sequence[float] | np.ndarray,
    threshold: float,
    title: str | None = None,
    dpi: int = 100,
) -> Figure:
    """Histogram of scores (0..1), kept and pruned stacked in two colours, threshold marked."""
    s = np.asarray(scores, dtype=np.float64).reshape(-1)
    pruned = s >= threshold
    fig = Figure(figsize=(6.4, 3.8), dpi=dpi, layout="constrained")
    ax = fig.subplots()
    bins = np.linspace(0.0, 1.0, 41)
    ax.hist([s[~pruned], s[pruned]], bins=bins, stacked=True, color=[_GOOD, _BAD],
            label=[f"keep ({int((~pruned).sum())})", f"prune ({int(pruned.sum())})"])  # fmt: skip
    at = min(float(threshold), 1.0)
    label = _threshold_label(float(threshold), {})
    ax.axvline(at, color="black", lw=1.2, ls="--", label=label)
    ax.set_xlim(0, 1)
    ax.set_xlabel("score: P(prune)")
    ax.set_ylabel("placements")
    ax.legend(fontsize="small")
    ax.set_title(title or f"{len(s)} placements", fontsize="medium")
    return fig


# -- learning pictures ----------------------------------------------------------------------
def history_figure(history: Sequence[Mapping[str, Any]], title: str = "", dpi: int = 100) -> Figure:
    """Training curves: the loss (left); train and test accuracy and the test FOR (right)."""
    fig = Figure(figsize=(10, 4), dpi=dpi, layout="tight")
    ax_loss, ax_acc = fig.subplots(1, 2)
    epochs = [h["epoch"] for h in history]
    ax_loss.plot(epochs, [h["loss"] for h in history], label="training loss")
    ax_loss.set_xlabel("epoch")
    ax_loss.set_ylabel("loss")
    ax_loss.legend()
    ax_acc.plot(epochs, [100 * h["train_acc"] for h in history], label="train accuracy")
    tested = [h for h in history if h.get("test_acc") is not None]
    if tested:
        ax_acc.plot([h["epoch"] for h in tested], [100 * h["test_acc"] for h in tested],
                    label="test accuracy")  # fmt: skip
        fors = [h for h in tested if h.get("test_for") is not None]
        ax_acc.plot([h["epoch"] for h in fors], [100 * h["test_for"] for h in fors],
                    label="test FOR")  # fmt: skip
    ax_acc.set_xlabel("epoch")
    ax_acc.set_ylabel("%")
    ax_acc.legend()
    if title:
        fig.suptitle(title)
    return fig


def plot_history(
    history: Sequence[Mapping[str, Any]], path: str | os.PathLike[str], title: str = ""
) -> Path:
    """Training curves (:func:`history_figure`) as a PNG."""
    return save_figure(history_figure(history, title), path)
