"""Shared fixtures of the pruning tests: tiny layouts, a data set and a model trained on it.

Built once per test session (a few seconds on the CPU) from the hand-written ``tiny``
fixture design: ``N_LAYOUTS`` copies of its layout with the devices moved around, each with
a synthetic ``Offset_Voltage`` that grows with the distance between the input pair M0/M1
(the kind of fact the paper's features carry), a data set of them at 16x16 pixels, and a
small ``efficient`` model trained on it for a few passes. Nothing here is committed: the
files live in pytest's temporary folder.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np

TINY = Path(__file__).parent / "data" / "adapters" / "tiny"
SIZE = 16
N_LAYOUTS = 160
MODEL_KWARGS = {"stem_channels": 8}


@dataclass(frozen=True)
class Assets:
    root: Path
    design: Path  # folder of layout folders tiny_0 .. tiny_{N-1}
    layouts: list[Path]
    data: Path  # HDF5 data set
    model: Path  # trained checkpoint


_CACHE: dict[str, Assets] = {}


def _layout_rects(rng: np.random.Generator, sizes: np.ndarray) -> np.ndarray:
    """Devices dropped at random 0.5 um grid points of a 16 x 8 um area (nm)."""
    x = rng.integers(0, 33, size=len(sizes)) * 500
    y = rng.integers(0, 17, size=len(sizes)) * 500
    return np.stack([x, y, x + sizes[:, 0], y + sizes[:, 1]], axis=1)


def offset_of(names: tuple[str, ...], rects: np.ndarray) -> float:
    """Synthetic offset (V): 1 mV per um of input-pair separation."""
    centre = (rects[:, :2] + rects[:, 2:]) / 2.0
    a, b = centre[names.index("M0")], centre[names.index("M1")]
    return float(1e-6 * np.abs(a - b).sum())


def write_layouts(design: Path, count: int, seed: int = 0) -> list[Path]:
    """``count`` layout folders of the tiny design in ``design`` (design files copied)."""
    from magical_prune.adapters import magical

    design.mkdir(parents=True, exist_ok=True)
    for f in TINY.iterdir():
        if f.is_file():
            shutil.copy(f, design / f.name.replace("tiny", design.name))
    names, rects = magical.read_place_result(TINY / "tiny_1" / "place.result")
    sizes = rects[:, 2:] - rects[:, :2]
    rng = np.random.default_rng(seed)
    folders = []
    for k in range(count):
        folder = design / f"{design.name}_{k}"
        folder.mkdir()
        r = _layout_rects(rng, sizes)
        magical.write_place_result(folder / "place.result", names, r)
        for name in ("place.pin", "place.connection"):
            shutil.copy(TINY / "tiny_1" / name, folder / name)
        magical.write_performance(
            folder / "performance.txt",
            {"Offset_Voltage": offset_of(tuple(names), r) + 2e-5 * rng.standard_normal()},
        )
        folders.append(folder)
    return folders


def build(root: Path) -> Assets:
    """Layouts, data set and trained model under ``root``."""
    import torch

    from magical_prune.adapters import magical
    from magical_prune.adapters.magical import load_placement
    from magical_prune.dataset import LabelledDataset, build_dataset
    from magical_prune.training import TrainConfig, train

    design = root / "tiny"
    layouts = write_layouts(design, N_LAYOUTS)
    data = root / "tiny.h5"
    build_dataset(
        layouts, data, load=load_placement,
        read_performance=lambda p: magical.read_performance(p / "performance.txt"),
        size=SIZE, attrs={"design": "tiny"}, progress=False,
    )  # fmt: skip
    labelled = LabelledDataset.open(data, metric="Offset_Voltage")
    config = TrainConfig(arch="efficient", model_kwargs=dict(MODEL_KWARGS), epochs=20,
                         steps_per_epoch=0, warmup_steps=5, lr=3e-3, eval_every=0,
                         seed=0)  # fmt: skip
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # two threads on two shared cores are many times slower
    try:
        torch.manual_seed(0)
        result = train(labelled, config, progress=False)
    finally:
        torch.set_num_threads(threads)
    model = result.save(root / "model.pt")
    return Assets(root, design, layouts, data, model)


def assets(tmp_path_factory) -> Assets:  # noqa: ANN001 - pytest's factory
    """The session's assets (built on first use)."""
    if "assets" not in _CACHE:
        _CACHE["assets"] = build(tmp_path_factory.mktemp("pruning"))
    return _CACHE["assets"]
