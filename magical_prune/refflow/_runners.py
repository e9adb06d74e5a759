"""Where the tasks of ``refflow generate`` run: this process, a local pool, or Dask.

All three give the same files: a chunk is always placed whole (one batched solve) and a
layout's bits depend only on its index, the seed and the batch size.
"""

from __future__ import annotations

import concurrent.futures as cf
import hashlib
import math
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from magical_prune._workers import die_with_parent
from magical_prune.cluster import dask_pool
from magical_prune.refflow._tasks import (
    DesignRef,
    Shipped,
    _finish,
    _place_chunk,
    finish_shipped,
    place_shipped,
)
from magical_prune.refflow.genoptions import GenerateOptions
from magical_prune.refflow.layoutdir import commit_files
from magical_prune.refflow.problem import LegalLayout
from magical_prune.refflow.provenance import worker_environment

#: ``(start, stop, indices still to do)`` of one placement chunk
Chunk = tuple[int, int, list[int]]
Placed = Callable[[list[tuple[int, LegalLayout | str]]], list[tuple[int, LegalLayout]]]
Record = Callable[[list[tuple[int, bool, str | None]]], None]
#: layouts written per task when one process does everything
SERIAL_GROUP = 8


@dataclass(frozen=True)
class Run:
    """What the runners need of a generate run.

    Attributes:
        design_ref: the design as the worker processes load it.
        out_dir: the design's output folder.
        options: the run's settings.
        force: replace unfinished folders holding other files.
        placed: takes a chunk's placements, reports failures, returns the good ones.
        record: takes ``(k, simulated, failure)`` of committed layouts.
    """

    design_ref: DesignRef
    out_dir: Path
    options: GenerateOptions
    force: bool
    placed: Placed
    record: Record


def run_serial(run: Run, chunks: list[Chunk]) -> None:
    """Everything in this process (``--jobs 1``)."""
    args = (run.design_ref, str(run.out_dir), run.options)
    for start, stop, todo in chunks:
        items = run.placed(_place_chunk(*args, start, stop, todo))
        for group in _groups(items, SERIAL_GROUP):
            run.record(_finish(*args, group, run.force))


def run_pool(run: Run, chunks: list[Chunk]) -> None:
    """A local process pool of ``--jobs`` workers that die with this process."""
    args = (run.design_ref, str(run.out_dir), run.options)
    # Workers die with this process, also when it is killed with SIGKILL (no cleanup).
    pool_args = {"initializer": die_with_parent, "initargs": (os.getpid(),)}
    with cf.ProcessPoolExecutor(max_workers=run.options.jobs, **pool_args) as pool:
        _drive(
            lambda start, stop, todo: pool.submit(_place_chunk, *args, start, stop, todo),
            lambda group: pool.submit(_finish, *args, group, run.force),
            run.record,
            chunks,
            run.options.jobs,
            run.options.jobs,
            run.placed,
        )


def design_token(design: Any) -> str:
    """Name and digest of a design's files: which design a worker already compiled."""
    digest = hashlib.sha256(design.name.encode())
    for role, path in sorted(design.files.items()):
        digest.update(role.encode() + b"\0" + Path(path).read_bytes() + b"\0")
    return f"{design.name}-{digest.hexdigest()[:20]}"


def run_cluster(run: Run, chunks: list[Chunk], scheduler: str, design: Any) -> None:
    """On a Dask cluster: the design goes with the tasks, the layout files come back and
    only this process writes them (no shared storage; see :mod:`magical_prune.cluster`)."""
    shipped = Shipped(design_token(design), design)
    options = run.options

    def commit(result: list[tuple[int, bool, str | None, dict[str, bytes]]]) -> None:
        done = []
        for k, simulated, failure, files in result:
            kept = commit_files(run.out_dir, f"{design.name}_{k}", files, run.force)
            done.append((k, False, kept) if kept else (k, simulated, failure))
        run.record(done)

    with dask_pool(scheduler, options.jobs, worker_environment) as dask:
        submit = dask.executor.submit
        _drive(
            lambda start, stop, todo: submit(place_shipped, shipped, options, start, stop, todo),
            lambda group: submit(finish_shipped, shipped, options, group),
            commit,
            chunks,
            dask.workers,
            # at least a group of 8 layouts per task on large clusters: the client commits
            # ~1 ms/layout and Dask adds a few ms per task, so one-layout tasks would make
            # this process the bottleneck past ~30 workers (many chunks are in flight then)
            min(dask.workers, SERIAL_GROUP),
            run.placed,
        )


def _drive(
    submit_place: Callable[[int, int, list[int]], cf.Future[Any]],
    submit_finish: Callable[[Sequence[tuple[int, LegalLayout]]], cf.Future[Any]],
    finished: Callable[[Any], None],
    chunks: list[Chunk],
    jobs: int,
    spread: int,
    placed: Placed,
) -> None:
    """Placement chunks (at most ``jobs`` at a time) and write/simulate groups on ``jobs``
    workers. A placed chunk is cut into ``spread`` groups (of at most 8) so that its
    ngspice work spreads over the workers."""
    pending_chunks = list(chunks)
    running: dict[cf.Future[Any], str] = {}

    def feed() -> None:
        # Keep at most one placement ahead per worker; the rest of the pool simulates.
        placing = sum(1 for kind in running.values() if kind == "place")
        while pending_chunks and placing < jobs:
            running[submit_place(*pending_chunks.pop(0))] = "place"
            placing += 1

    feed()
    try:
        while running:
            done, _ = cf.wait(running, return_when=cf.FIRST_COMPLETED)
            for future in done:
                kind = running.pop(future)
                result = future.result()
                if kind == "place":
                    items = placed(result)
                    size = max(1, min(SERIAL_GROUP, math.ceil(len(items) / spread)))
                    for group in _groups(items, size):
                        running[submit_finish(group)] = "finish"
                else:
                    finished(result)
            feed()
    except BaseException:
        for future in running:
            future.cancel()
        raise


def _groups(items: Sequence[Any], size: int) -> list[Sequence[Any]]:
    return [items[i : i + size] for i in range(0, len(items), size)]
