"""Corrupt variants of a small HDF5 file and a deadline-guarded reader (not a test module).

A corrupt file can make the HDF5 library loop for minutes or crash the process, which no
in-process timeout can stop, so every read runs in a forked child that is killed at the
deadline. The outcome of a case is one of ``ok`` (loaded), ``error`` (the package's error),
``traceback`` (any other exception), ``hang`` (deadline passed) or ``crash`` (the child died).
"""

from __future__ import annotations

import multiprocessing as mp
import traceback
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np

from magical_prune.errors import MagicalPruneError

OUTCOMES = ("ok", "error", "traceback", "hang", "crash")


def variants(
    data: bytes, seed: int = 0, flips: int = 80, zeroed: int = 30
) -> Iterator[tuple[str, bytes]]:
    """Truncations at many offsets, random byte flips and zeroed blocks of ``data``."""
    n = len(data)
    cuts = {0, 1, 4, 7, 8, 9, 16, 48, 96, 100, 200, 512, 1024, 2048, n // 2, n - 1}
    cuts.update(int(c) for c in np.linspace(0, n - 1, 40))
    for cut in sorted(c for c in cuts if 0 <= c < n):
        yield f"truncated@{cut}", data[:cut]
    rng = np.random.default_rng(seed)
    for k in range(flips):
        buf = bytearray(data)
        for pos in rng.integers(0, n, size=1 + k % 4):
            buf[pos] ^= int(rng.integers(1, 256))
        yield f"flip#{k}", bytes(buf)
    for k in range(zeroed):
        size = int(rng.choice([16, 64, 256, 1024]))
        start = int(rng.integers(0, max(1, n - size)))
        yield f"zeroed#{k}@{start}+{size}", data[:start] + bytes(size) + data[start + size :]


def _child(read: Callable[[Path], object], path: Path, conn: mp.connection.Connection) -> None:
    try:
        read(path)
        conn.send(("ok", ""))
    except MagicalPruneError as err:
        text = str(err)
        conn.send(("error" if "\n" not in text else "traceback", text))
    except BaseException:  # noqa: BLE001 - the point is to see anything else
        conn.send(("traceback", traceback.format_exc(limit=3)))


def run_with_deadline(
    read: Callable[[Path], object], path: Path, timeout: float
) -> tuple[str, str]:
    """Run ``read(path)`` in a forked child; (outcome, detail) as described above."""
    ctx = mp.get_context("fork")
    parent, child = ctx.Pipe(duplex=False)
    proc = ctx.Process(target=_child, args=(read, path, child), daemon=True)
    proc.start()
    child.close()
    try:
        if not parent.poll(timeout):
            return ("hang" if proc.is_alive() else "crash"), f"exit {proc.exitcode}"
        try:
            return parent.recv()
        except EOFError:
            proc.join(timeout)
            return "crash", f"exit {proc.exitcode}"
    finally:
        if proc.is_alive():
            proc.kill()
        proc.join(timeout)
        parent.close()
