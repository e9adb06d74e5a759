"""Dask overhead: ``refflow generate`` on a LocalCluster against the local process pool.

For each worker count W (default 1 and 2) it times the same run (same seed, same files)

* ``local``: ``--jobs W`` as today (W = 1: in this process; else a forked process pool);
* ``dask``: the LocalCluster that ``--scheduler local`` starts (W single-threaded workers),
  warmed up (imports) beforehand, as a long-lived cluster would be;

and prints layouts per second, the Dask overhead per layout ((dask - local) / n) and relative
to the local run (target: < 10% at 2 workers), in wall time and in CPU time (this process
and all its descendants: client, scheduler, workers, ngspice), the cluster's start-up time
(paid once per run with ``--scheduler local``) and the round trip of an empty task. Each
figure is the best of ``--repeat`` alternating runs. It checks that both wrote the same
bytes.

    python benchmarks/cluster.py                      # ota3, 128 labelled layouts, W = 1 2
    python benchmarks/cluster.py -n 64 --no-simulate --workers 2

On a shared machine the wall times move with the other load (printed); run it twice.
"""

from __future__ import annotations

import argparse
import concurrent.futures as cf
import contextlib
import filecmp
import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any, NamedTuple

os.environ.setdefault("OMP_NUM_THREADS", "1")  # as Dask's workers; fair to both

from magical_prune.cluster import LOCAL, dask_pool  # noqa: E402
from magical_prune.refflow.generate import GenerateOptions, generate  # noqa: E402

EMPTY_TASKS = 200


class Sample(NamedTuple):
    wall: float
    cpu: float


def same_tree(a: Path, b: Path) -> bool:
    """Whether two folders hold the same files with the same bytes."""
    cmp = filecmp.dircmp(a, b)
    if cmp.left_only or cmp.right_only or cmp.funny_files:
        return False
    if filecmp.cmpfiles(a, b, cmp.common_files, shallow=False)[1:] != ([], []):
        return False
    return all(same_tree(a / d, b / d) for d in cmp.common_dirs)


def cpu_seconds() -> float:
    """CPU time of this process and all its descendants, live (Dask workers) or reaped
    (pool workers, ngspice)."""
    import psutil

    me = psutil.Process()
    total = sum(me.cpu_times()[:4])  # user, system and those of reaped children
    for child in me.children(recursive=True):
        with contextlib.suppress(psutil.Error):  # ended meanwhile: counted in its parent
            total += sum(child.cpu_times()[:4])
    return total


def timed(design: str, out: Path, options: GenerateOptions, scheduler: str | None) -> Sample:
    """Wall and CPU seconds of one run into ``out`` (removed first)."""
    shutil.rmtree(out, ignore_errors=True)
    cpu, start = cpu_seconds(), time.perf_counter()
    summary = generate(design, out, options, progress=False, scheduler=scheduler)
    sample = Sample(time.perf_counter() - start, cpu_seconds() - cpu)
    if summary.failed or summary.placed != options.n:
        raise SystemExit(f"run failed: {summary.failed}")
    return sample


def _warm_up() -> None:
    """Worker start-up work done before timing: imports (torch, the placer)."""
    import magical_prune.refflow._tasks  # noqa: F401


def empty_task_seconds(executor: cf.Executor) -> float:
    """Round trip of a task that does nothing (submit, run, result back)."""
    start = time.perf_counter()
    futures = [executor.submit(abs, -i) for i in range(EMPTY_TASKS)]
    for future in futures:
        future.result()
    return (time.perf_counter() - start) / EMPTY_TASKS


def compare(args: argparse.Namespace, workers: int, root: Path) -> dict[str, Any]:
    """Best of ``--repeat`` local and Dask runs (alternating) with ``workers`` processes."""
    options = GenerateOptions(n=args.n, jobs=workers, simulate=not args.no_simulate)
    started = time.perf_counter()
    with dask_pool(LOCAL, workers) as pool:  # the cluster `--scheduler local` starts
        startup = time.perf_counter() - started
        pool.client.run(_warm_up)  # as a cluster that has been running a while
        task = empty_task_seconds(pool.executor)
        address = pool.client.scheduler.address
        runs: dict[str, list[Sample]] = {"local": [], "dask": []}
        for r in range(args.repeat):
            order = ("local", "dask") if r % 2 == 0 else ("dask", "local")
            for kind in order:
                where = address if kind == "dask" else None
                runs[kind].append(timed(args.design, root / kind, options, where))
            if r == 0 and not same_tree(root / "local", root / "dask"):
                raise SystemExit("the Dask run wrote other files than the local one")
    best = {k: Sample(min(s.wall for s in v), min(s.cpu for s in v)) for k, v in runs.items()}
    return {**best, "startup": startup, "task": task}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--design", default="ota3")
    parser.add_argument("-n", type=int, default=128, help="layouts per run")
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--repeat", type=int, default=2, help="runs of each kind (best kept)")
    parser.add_argument("--no-simulate", action="store_true", help="placement only")
    args = parser.parse_args()
    n = args.n
    # tasks per layout: one placement per batch of 64, one write/simulate per group of
    # at most 8 (smaller with more workers: the groups of a chunk spread over them)
    print(f"cores: {os.cpu_count()}, load average at start: {os.getloadavg()[0]:.1f}, "
          f"design {args.design}, n {n}, {'placed' if args.no_simulate else 'labelled'}, "
          f"best of {args.repeat}")  # fmt: skip
    print(f"{'W':>2}{'local/s':>9}{'dask/s':>8}{'wall overhead':>20}{'CPU ms/layout':>16}"
          f"{'CPU overhead':>18}{'start':>8}{'empty task':>12}{'load':>6}")  # fmt: skip
    for workers in args.workers:
        with tempfile.TemporaryDirectory() as tmp:
            r = compare(args, workers, Path(tmp))
        local, dask = r["local"], r["dask"]
        wall = (dask.wall - local.wall) / n
        cpu = (dask.cpu - local.cpu) / n
        print(f"{workers:>2}{n / local.wall:>9.2f}{n / dask.wall:>8.2f}"
              f"{1000 * wall:>8.1f} ms {100 * wall * n / local.wall:>6.1f}%"
              f"{1000 * local.cpu / n:>8.0f} {1000 * dask.cpu / n:>6.0f}"
              f"{1000 * cpu:>8.1f} ms {100 * cpu * n / local.cpu:>6.1f}%"
              f"{r['startup']:>6.1f} s{1000 * r['task']:>9.1f} ms"
              f"{os.getloadavg()[0]:>6.1f}", flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
