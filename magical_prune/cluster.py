"""Dask (``dask.distributed``) as the optional engine past one machine.

``refflow generate``, ``refflow evaluate`` and ``dataset build`` take ``--scheduler
ADDRESS``: the address of a running Dask scheduler, or ``local`` for a LocalCluster of
``--jobs`` single-threaded worker processes on this machine. The jobs are embarrassingly
parallel, so a concurrent.futures executor backed by the Dask client is all they need;
Dask brings the rest (remote workers, rescheduling the tasks of a worker that died).

Storage: **no shared file system is assumed.** The client reads the inputs (the design, the
layout folders) and sends them with the tasks; workers compute in memory or in their own
temporary folder and send the results back; only the client writes the output folder, with
the same staging-and-rename commits as a local run. Why: resuming, "a folder that exists
is whole" and never overwriting a user's files stay the job of one process; a task that
Dask runs twice (its worker was lost after finishing it) or that keeps running after the
client died cannot write anything twice or half; and clusters without a shared POSIX file
system (Kubernetes) work as they are. The cost is a few kilobytes per layout on the network.

Workers must have the same magical-prune (and ngspice, for labels) installed; start them
with one thread each (``dask worker ADDRESS --nworkers N --nthreads 1``).
"""

from __future__ import annotations

import collections
import concurrent.futures as cf
import logging
import warnings
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

from magical_prune.errors import MagicalPruneError, MagicalPruneWarning

__all__ = ["LOCAL", "DaskPool", "chunked_map", "dask_pool", "have_dask", "require_dask"]

#: ``--scheduler`` value that starts a LocalCluster of ``--jobs`` workers.
LOCAL = "local"
#: Seconds to wait for a remote scheduler before giving up.
CONNECT_TIMEOUT_S = 30
_INSTALL = "pip install 'magical-prune[cluster]'"

T = TypeVar("T")
R = TypeVar("R")


@dataclass
class DaskPool:
    """A Dask client seen as a concurrent.futures executor.

    Attributes:
        client: the ``distributed.Client``.
        executor: submits to the cluster; its futures are concurrent.futures futures.
        workers: worker threads when it was opened (at least 1): how many tasks to keep
            in flight.
    """

    client: Any
    executor: cf.Executor
    workers: int


def have_dask() -> bool:
    """Whether the ``cluster`` extra is installed."""
    try:
        import distributed  # noqa: F401
    except ImportError:
        return False
    return True


def require_dask() -> Any:
    """The ``distributed`` module; a one-line error saying how to install it if missing."""
    try:
        import distributed
    except ImportError:
        raise MagicalPruneError(f"--scheduler needs Dask ({_INSTALL})") from None
    return distributed


def _threads(client: Any) -> int:
    info = client.scheduler_info().get("workers", {})
    return max(1, sum(int(w.get("nthreads", 1)) for w in info.values()))


def _connect(distributed: Any, scheduler: str, jobs: int) -> tuple[Any, Any]:
    """``(client, cluster)``; the cluster is None for a scheduler someone else runs."""
    if scheduler == LOCAL:
        import dask

        # the workers' sampling profiler (every 10 ms) costs CPU the tasks need
        with dask.config.set({"distributed.worker.profile.enabled": False}):
            cluster = distributed.LocalCluster(
                n_workers=jobs,
                threads_per_worker=1,
                processes=True,
                dashboard_address=None,
                silence_logs=logging.ERROR,
            )
        return distributed.Client(cluster), cluster
    try:
        return distributed.Client(scheduler, timeout=CONNECT_TIMEOUT_S), None
    except (OSError, TimeoutError, ValueError) as err:
        raise MagicalPruneError(
            f"--scheduler {scheduler}: cannot reach the Dask scheduler ({err}); give its "
            f"address (tcp://host:8786) or 'local'"
        ) from None


def _warn_if_workers_differ(client: Any, environment: Callable[[], dict[str, str]]) -> None:
    """Say which workers run other library versions (or CPU kernels) than this process:
    their results may differ from a local run's in the last bits."""
    mine = environment()
    for worker, theirs in sorted(client.run(environment).items()):
        diff = [f"{k} {theirs.get(k)} (here {v})" for k, v in mine.items() if theirs.get(k) != v]
        if diff:
            warnings.warn(
                f"Dask worker {worker} has {', '.join(diff)}: its results may differ from "
                "a local run's",
                MagicalPruneWarning,
                stacklevel=3,
            )


@contextmanager
def dask_pool(
    scheduler: str, jobs: int = 1, environment: Callable[[], dict[str, str]] | None = None
) -> Iterator[DaskPool]:
    """Connect to ``scheduler`` (or start a LocalCluster of ``jobs`` workers for ``local``)
    for the duration of a run; a LocalCluster is shut down with it. ``environment``
    (library versions) is compared between this process and the workers present now.

    Raises:
        MagicalPruneError: Dask is not installed, or the scheduler cannot be reached.
    """
    distributed = require_dask()
    client, cluster = _connect(distributed, scheduler, jobs)
    try:
        if environment is not None:
            _warn_if_workers_differ(client, environment)
        # pure=False: no hashing of the (large) arguments, every submission runs once
        yield DaskPool(client, client.get_executor(pure=False), _threads(client))
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


def _apply_all(fn: Callable[[T], R], chunk: Sequence[T]) -> list[R]:
    """Cluster task: ``fn`` over a chunk of items (one task per chunk keeps the per-task
    overhead of a few milliseconds small next to the work)."""
    return [fn(item) for item in chunk]


def chunked_map(
    executor: cf.Executor,
    fn: Callable[[T], R],
    items: Iterable[T],
    chunk: int,
    window: int,
) -> Iterator[R]:
    """``map(fn, items)`` in order on ``executor``, ``chunk`` items per task and at most
    ``window`` tasks in flight, so ``items`` (read lazily) need not fit in memory."""
    if chunk < 1 or window < 1:
        raise MagicalPruneError(f"chunk and window must be positive, got {chunk}, {window}")
    source = iter(items)
    pending: collections.deque[cf.Future[list[R]]] = collections.deque()

    def submit() -> bool:
        part = [item for _, item in zip(range(chunk), source)]
        if part:
            pending.append(executor.submit(_apply_all, fn, part))
        return bool(part)

    try:
        while len(pending) < window and submit():
            pass
        while pending:
            results = pending.popleft().result()
            submit()
            yield from results
    finally:
        for future in pending:
            future.cancel()
