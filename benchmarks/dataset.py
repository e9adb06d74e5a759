"""Data-set storage: size on disk, load time and float16 precision for N layouts.

Builds a synthetic design of ``--devices`` devices (random types, sub-circuits and nets, rows
of abutting devices like a legalised analog placement), draws ``--layouts`` random
placements of it, rasterizes them with the real feature code and writes them through the
data-set writer. Then prints the file size, the time to open and preload the whole set
(as training does) and the error float16 storage causes against the float32 features.

    python benchmarks/dataset.py --layouts 16000      # the issue's target: <= 500 MB, < 10 s
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

from magical_prune.circuit import Circuit, Device, DeviceType
from magical_prune.dataset import DataSetWriter, LabelledDataset, to_float16
from magical_prune.features import IMAGE_NAMES, add_coordinate_channels, rasterize
from magical_prune.placement import Placement


def synthetic_circuit(n_devices: int, rng: np.random.Generator) -> tuple[Circuit, dict]:
    kinds = [DeviceType.NMOS, DeviceType.PMOS, DeviceType.CAP, DeviceType.RES]
    types = [kinds[k] for k in rng.choice(4, size=n_devices, p=[0.4, 0.4, 0.1, 0.1])]
    n_nets = max(4, n_devices // 2)
    devices = []
    for i, t in enumerate(types):
        nets = tuple(f"n{rng.integers(n_nets)}" for _ in t.pins)
        devices.append(Device(f"D{i}", t, nets))
    circuit = Circuit.from_devices("synthetic", devices)
    channels = {f"D{i}": (int(rng.integers(1, 6)),) for i in range(n_devices)}
    return circuit, channels


def random_placement(circuit: Circuit, rng: np.random.Generator) -> Placement:
    names = list(circuit.devices)
    rng.shuffle(names)
    widths = rng.integers(1000, 8000, size=len(names))
    heights = rng.integers(1000, 4000, size=len(names))
    row_width = int(widths.sum() / np.sqrt(len(names)) * 1.2)
    rects, x, y, row_h = [], 0, 0, 0
    for w, h in zip(widths, heights):
        if x + w > row_width:
            x, y, row_h = 0, y + row_h + int(rng.integers(0, 800)), 0
        rects.append((x, y, x + w, y + h))
        x += w + int(rng.integers(0, 600))
        row_h = max(row_h, h)
    pins = {}
    for name, (xlo, ylo, xhi, yhi) in zip(names, rects):
        w, h = xhi - xlo, yhi - ylo
        for k, pin in enumerate(circuit.devices[name].pins):
            px = int(w * (k + 1) / (len(circuit.devices[name].pins) + 1))
            pins[(name, pin)] = (px - 50, 0, px + 50, h)
    return Placement.build(circuit, names, np.array(rects), pins)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--layouts", type=int, default=16000)
    parser.add_argument("--devices", type=int, default=40)
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--unique", type=int, default=2000,
                        help="distinct placements rasterized (repeated to --layouts; gzip "
                             "compresses each 16-layout chunk alone, so repeats do not help it)")  # fmt: skip
    parser.add_argument("--out", type=Path, default=None, help="keep the file here")
    parser.add_argument("--images-from", type=Path, default=None,
                        help="take the images of this data set (e.g. a reference-flow design) "
                             "instead of synthetic placements")  # fmt: skip
    args = parser.parse_args()

    rng = np.random.default_rng(0)
    if args.images_from is not None:
        from magical_prune.dataset import open_dataset

        source = open_dataset(args.images_from)
        unique = source.read_images()[: args.unique].astype(np.float32)
        args.size = source.image_size
        print(f"images of {len(unique)} layouts of {source.design} ({args.images_from}), repeated")
    else:
        circuit, channels = synthetic_circuit(args.devices, rng)
        t0 = time.perf_counter()
        unique = np.stack([
            rasterize(random_placement(circuit, rng), args.size, channels=channels)
            for _ in range(min(args.unique, args.layouts))
        ])  # fmt: skip
        t_raster = time.perf_counter() - t0
        print(f"rasterized {len(unique)} placements of {args.devices} devices: "
              f"{len(unique) / t_raster:.0f} placements/s")  # fmt: skip

    half = to_float16(unique).astype(np.float32)
    err = np.abs(half - unique)
    nz = unique > 0
    normal = unique >= np.finfo(np.float16).tiny  # below it float16 is subnormal
    rel = err[normal] / unique[normal]
    print(f"float16 storage: max abs error {err.max():.2e}, max rel error {rel.max():.2e} "
          f"(values >= 6.1e-5), mean {rel.mean():.2e}; intensity range 0..{unique.max():.2f}; "
          f"non-zero mask kept: {bool(((half > 0) == nz).all())}")  # fmt: skip
    coords_same = np.array_equal(
        add_coordinate_channels(half)[:, :, 1:], add_coordinate_channels(unique)[:, :, 1:]
    )
    print(f"coordinate channels identical after float16: {coords_same}")

    with tempfile.TemporaryDirectory() as tmp:
        path = args.out or Path(tmp) / "bench.h5"
        t0 = time.perf_counter()
        with DataSetWriter(path, args.size, IMAGE_NAMES, {"design": "synthetic"}) as w:
            for i in range(args.layouts):
                w.add(f"synthetic_{i}", unique[i % len(unique)],
                      {"Offset_Voltage": float(rng.normal()), "CMRR": float(rng.normal(60, 5))})  # fmt: skip
        t_write = time.perf_counter() - t0
        size_mb = path.stat().st_size / 1e6
        raw_mb = args.layouts * len(IMAGE_NAMES) * 3 * args.size**2 * 4 / 1e6
        print(f"{args.layouts} layouts: {size_mb:.1f} MB on disk "
              f"({size_mb / args.layouts * 1000:.1f} kB/layout; float32 with coordinate "
              f"channels would be {raw_mb:.0f} MB); written in {t_write:.1f} s")  # fmt: skip
        t0 = time.perf_counter()
        data = LabelledDataset.open(path, metric="Offset_Voltage")
        t_load = time.perf_counter() - t0
        mem = data._images.nbytes / 1e6 if data._images is not None else 0.0
        print(f"open + label + preload all {len(data)} layouts: {t_load:.2f} s "
              f"({mem:.0f} MB float16 in memory)")  # fmt: skip
        t0 = time.perf_counter()
        n_batches = 200
        for b in range(n_batches):
            data.features(np.arange(b * 16, b * 16 + 16) % len(data))
        t_batch = (time.perf_counter() - t0) / n_batches
        print(f"batch of 16 -> float32 (16, 6, 3, {args.size}, {args.size}) tensor: "
              f"{t_batch * 1000:.2f} ms")  # fmt: skip


if __name__ == "__main__":
    main()
