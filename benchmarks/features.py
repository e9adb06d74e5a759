"""Feature-extraction speed: placements per second, in memory and from files.

Builds a synthetic but OTA-like 45-device placement (rows of MOS pairs, Miller caps and
nulling resistors, D/G/S and PLUS/MINUS pins, ~25 routed nets plus bulk nets) and times

* ``extract`` on the in-memory placement (target >= 1,000/s on one core), and
* ``load_placement`` + ``extract`` over layout folders written with the MAGICAL adapters'
  writers (target >= 200/s on one core).

Run on one core, e.g. ``taskset -c 0 python benchmarks/features.py``; numpy/BLAS threads
are pinned to 1 below. Prints the median (and best) of several timed runs.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import statistics  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

from magical_prune.circuit import Circuit, Device, DeviceType  # noqa: E402
from magical_prune.features import extract  # noqa: E402
from magical_prune.placement import Placement  # noqa: E402

N_DEVICES = 45


def synthetic_design(seed: int = 0) -> tuple[Circuit, dict[str, tuple[int, ...]], dict]:
    """A 45-device OTA-like circuit: 40 MOS in 20 pairs, 3 caps, 2 resistors.

    Returns the circuit, sub-circuit ids per device and device sizes in nm.
    """
    rng = np.random.default_rng(seed)
    devices: list[Device] = []
    channels: dict[str, tuple[int, ...]] = {}
    sizes: dict[str, tuple[int, int]] = {}
    signal = [f"n{k}" for k in range(24)]
    for pair in range(20):
        kind = DeviceType.NMOS if pair % 2 == 0 else DeviceType.PMOS
        bulk = "VSS" if kind is DeviceType.NMOS else "VDD"
        channel = (1,) if pair < 4 else (2,) if pair < 10 else (4,) if pair < 14 else (5,)
        w, h = int(rng.integers(30, 90)) * 100, int(rng.integers(15, 40)) * 100
        source = signal[int(rng.integers(len(signal)))]
        for side in range(2):
            name = f"M{2 * pair + side}"
            d, g = (signal[int(k)] for k in rng.integers(len(signal), size=2))
            devices.append(
                Device(
                    name,
                    kind,
                    (d, g, source, bulk),
                    model="nch" if kind is DeviceType.NMOS else "pch",
                )
            )
            channels[name] = channel
            sizes[name] = (w, h)
    for k in range(3):
        name = f"C{k}"
        a, b = (signal[int(j)] for j in rng.integers(len(signal), size=2))
        devices.append(Device(name, DeviceType.CAP, (a, b), model="cfmom_2t"))
        channels[name] = (3,)
        sizes[name] = (int(rng.integers(80, 150)) * 100, int(rng.integers(60, 120)) * 100)
    for k in range(2):
        name = f"R{k}"
        a, b = (signal[int(j)] for j in rng.integers(len(signal), size=2))
        devices.append(Device(name, DeviceType.RES, (a, b), model="poly_res"))
        channels[name] = (3,) if k == 0 else (4,)
        sizes[name] = (int(rng.integers(20, 40)) * 100, int(rng.integers(60, 120)) * 100)
    circuit = Circuit.from_devices("bench45", devices, channel_overrides=dict(channels))
    return circuit, channels, sizes


def synthetic_layout(
    circuit: Circuit, sizes: dict, seed: int = 0
) -> tuple[list[str], np.ndarray, dict]:
    """Rows of devices, shuffled per seed, 1 um apart; pins device-local (nm)."""
    rng = np.random.default_rng(seed)
    names = list(circuit.devices)
    order = rng.permutation(len(names))
    rects = np.zeros((len(names), 4), dtype=np.int64)
    x = y = row_h = 0
    for i in order:
        w, h = sizes[names[i]]
        if x > 45_000:
            x, y, row_h = 0, y + row_h + 1000, 0
        rects[i] = (x, y, x + w, y + h)
        x += w + 1000
        row_h = max(row_h, h)
    pins: dict[tuple[str, str], tuple[int, int, int, int]] = {}
    for name in names:
        device = circuit.devices[name]
        w, h = sizes[name]
        for k, pin in enumerate(device.pins):
            if pin == "B":
                pins[(name, pin)] = (0, 0, w, 140)
                continue
            a = int((k + 0.5) * w / len(device.pins))
            pins[(name, pin)] = (a - 80, 200, a + 80, h - 200)
    return names, rects, pins


def synthetic_placement(seed: int = 0) -> Placement:
    circuit, _, sizes = synthetic_design()
    names, rects, pins = synthetic_layout(circuit, sizes, seed)
    return Placement.build(circuit, names, rects, pins)


def rate(work: Callable[[], int], repeats: int) -> tuple[float, float]:
    """(median, best) items per second over ``repeats`` timed calls of ``work``."""
    rates = []
    for _ in range(repeats):
        start = time.perf_counter()
        n = work()
        rates.append(n / (time.perf_counter() - start))
    return statistics.median(rates), max(rates)


def write_layouts(root: Path, count: int) -> list[Path]:
    """``count`` layout folders of one design (design files in ``root``)."""
    from magical_prune.adapters import magical

    circuit, channels, sizes = synthetic_design()
    magical.write_types(root / "bench45.json", {n: d.type for n, d in circuit.devices.items()})
    magical.write_channels(root / "bench45.channel", channels)
    folders = []
    for k in range(count):
        folder = root / f"bench45_{k}"
        folder.mkdir()
        names, rects, pins = synthetic_layout(circuit, sizes, seed=k)
        magical.write_place_result(folder / "place.result", names, rects)
        magical.write_place_pin(folder / "place.pin", pins)
        magical.write_connection(
            folder / "place.connection", {n: list(net.pins) for n, net in circuit.nets.items()}
        )
        folders.append(folder)
    return folders


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7, help="timed runs (median reported)")
    parser.add_argument("--count", type=int, default=500, help="placements per timed run")
    parser.add_argument("--layouts", type=int, default=50, help="layout folders on disk")
    args = parser.parse_args()

    placement = synthetic_placement()
    print(f"placement: {len(placement)} devices, {len(placement.net_names)} routed nets, "
          f"{len(placement.pin_names)} pins")  # fmt: skip
    for raster in ("exact", "paper"):
        extract(placement, rasterizer=raster)  # warm-up (caches, imports)

        def in_memory(raster: str = raster) -> int:
            for _ in range(args.count):
                extract(placement, rasterizer=raster)
            return args.count

        med, best = rate(in_memory, args.repeats)
        print(f"extract in memory ({raster}): {med:,.0f} placements/s median, {best:,.0f} best")

    try:
        from magical_prune.adapters.magical import load_placement, write_place_result  # noqa: F401
    except ImportError as err:
        print(f"read+extract from files: skipped (adapters unavailable: {err})")
        return
    with tempfile.TemporaryDirectory() as tmp:
        folders = write_layouts(Path(tmp), args.layouts)
        extract(load_placement(folders[0]))

        def from_files() -> int:
            n = 0
            while n < args.count:
                for folder in folders:
                    extract(load_placement(folder))
                    n += 1
            return n

        med, best = rate(from_files, args.repeats)
        print(f"read+extract from files (exact): {med:,.0f} placements/s median, {best:,.0f} best")


if __name__ == "__main__":
    main()
