"""``refflow evaluate`` on a Dask cluster: ngspice batches as cluster tasks.

The client loads the placements and builds nothing else; each task carries the evaluator
(with its nominal operating point already computed) and one batch of placements, and sends
back the metrics. Only the client writes ``performance.txt`` (:mod:`magical_prune.cluster`).
A batch holds ``evaluator.batch_size`` layouts, as a ``--jobs 1`` run's batches do.
"""

from __future__ import annotations

import concurrent.futures as cf
import copy
from collections.abc import Callable, Sequence
from typing import Any

__all__ = ["evaluate_on"]

Metrics = dict[str, float] | None


def _evaluate_batch(
    evaluator: Any, placements: Sequence[Any], mismatch: float
) -> tuple[list[Metrics], dict[int, str]]:
    """Cluster task: metrics of one batch and the reasons of its failures."""
    results = evaluator.evaluate(placements, mismatch)
    return results, dict(evaluator.failures)


def evaluate_on(
    executor: cf.Executor,
    evaluator: Any,
    placements: Sequence[Any],
    mismatch: float,
    progress: Callable[[int], None] | None = None,
) -> list[Metrics]:
    """What ``evaluator.evaluate(placements, mismatch)`` returns, computed on ``executor``;
    the failures end up in ``evaluator.failures`` as there."""
    evaluator.failures = {}
    if not placements:
        return []
    evaluator.nominal()  # once here, not once per task
    shipped = copy.copy(evaluator)
    shipped.jobs = 1  # one ngspice process per task: the cluster is the parallelism
    size = evaluator.batch_size
    futures = {
        executor.submit(_evaluate_batch, shipped, placements[start : start + size], mismatch): start
        for start in range(0, len(placements), size)
    }
    results: list[Metrics] = [None] * len(placements)
    try:
        for future in cf.as_completed(futures):
            start = futures[future]
            batch, failures = future.result()
            results[start : start + len(batch)] = batch
            evaluator.failures.update({start + i: why for i, why in failures.items()})
            if progress:
                progress(len(batch))
    except BaseException:
        for future in futures:
            future.cancel()
        raise
    return results
