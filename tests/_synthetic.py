"""Small synthetic data sets for the learning tests (not a test module).

A separable problem: a 3x3 blob in the first-stage image at a random position; the
"offset" grows with the blob's column, so the worst quarter (label 1) is the layouts whose
blob sits furthest right. Coordinate channels make this easy for any network that sees
them, so a tiny network learns it in a few dozen updates.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from magical_prune.dataset import DataSetWriter
from magical_prune.features import IMAGE_NAMES

SIZE = 16
#: a small network for fast tests (the default architecture, narrow stem)
TINY = {"arch": "efficient", "model_kwargs": {"stem_channels": 8}}


def blob_images(
    rng: np.random.Generator, n: int, size: int = SIZE
) -> tuple[np.ndarray, np.ndarray]:
    """``(n, 6, size, size)`` images and the blob column of each."""
    images = np.zeros((n, len(IMAGE_NAMES), size, size), dtype=np.float32)
    cols = rng.integers(0, size - 3, size=n)
    rows = rng.integers(0, size - 3, size=n)
    for i, (r, c) in enumerate(zip(rows, cols)):
        images[i, 1, r : r + 3, c : c + 3] = 0.25
        images[i, 5, 1:4, 1:4] = 0.5  # a fixed bias block
        images[i, 0, r : r + 3, :] = 0.3  # routing along the blob's rows
    return images, cols


def write_blob_set(
    path: Path, n: int = 160, seed: int = 0, design: str = "blob", flip: bool = False
) -> Path:
    """A data set whose |offset| grows with the blob column (or shrinks, ``flip``)."""
    rng = np.random.default_rng(seed)
    images, cols = blob_images(rng, n)
    key = (SIZE - cols) if flip else cols
    with DataSetWriter(path, SIZE, IMAGE_NAMES, {"design": design}) as w:
        for i in range(n):
            sign = 1.0 if i % 2 else -1.0
            offset = sign * (key[i] + 0.01 * rng.random()) * 1e-3
            cmrr = 80.0 - key[i] + 0.01 * rng.random()
            w.add(
                f"{design}_{i}", images[i], {"Offset_Voltage": offset, "CMRR": cmrr, "Gain": 40.0}
            )
    return path
