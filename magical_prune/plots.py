"""Pictures for people: feature images as PNGs and a contact sheet like the paper's Fig. 4.

Feature arrays keep row 0 at the lowest y; every picture here is drawn with north up.
Sub-circuit images share one colour scale, 0 to 1 (the type intensities .25/.5/.75/1.0 then
have the same colour in every panel); the routing image is scaled to its own maximum (a
count of nets, at least 1). Only matplotlib's object API is used (no pyplot state), so
plotting is safe from library code and threads, and identical input gives identical files.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from matplotlib import colormaps
from matplotlib.figure import Figure
from matplotlib.image import imsave

from magical_prune.features import IMAGE_NAMES

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
