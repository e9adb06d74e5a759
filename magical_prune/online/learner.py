"""The pruning hook's learning loop: collect results, and refit in a background thread.

:class:`OnlineLearner` keeps the decisions awaiting feedback and the collected results, and
once enough have come in, hands a snapshot of them to the hook's refit (which fine-tunes and
swaps the model in, :func:`magical_prune.online.refit`) in a daemon thread, so decisions never
wait. It shares the hook's lock and counters.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from typing import Any

from magical_prune.errors import MagicalPruneError
from magical_prune.online.config import HookConfig
from magical_prune.online.feedback import Pending, Results
from magical_prune.predict import Predictor, torch_threads

__all__ = ["OnlineLearner", "one_line", "result_value"]

logger = logging.getLogger("magical_prune.hook")

#: ``(parent, results) -> record``: fine-tune on results and swap the new model in
Finetune = Callable[[Predictor, Results], dict[str, Any]]


def one_line(err: BaseException) -> str:
    """An exception as one line of text for the log (never raises)."""
    try:
        text = " ".join(str(err).split())
    except Exception:  # an exception whose __str__ fails still gets a reason
        text = ""
    return text or type(err).__name__


def result_value(performance: Mapping[str, float], metric: str) -> float:
    """The learnt metric of a simulated result, refusing a missing or non-finite one."""
    if metric not in performance:
        raise MagicalPruneError(
            f"performance has no {metric!r} (has: {', '.join(map(str, performance))})"
        )
    value = float(performance[metric])
    if not math.isfinite(value):
        raise MagicalPruneError(f"{metric} = {value} is not finite")
    return value


class OnlineLearner:
    """Feedback collected from a flow, and when and where the hook refits on it.

    Args:
        config: the hook's learning settings.
        lock: the hook's lock (guards the collections, the counters and model swaps).
        counters: the hook's counters (``results``, ``finetunes``, ``finetune_failures``).
        finetune: the hook's refit-and-swap, run in the background thread.
    """

    def __init__(self, config: HookConfig, lock: threading.Lock, counters: dict[str, int],
                 finetune: Finetune) -> None:  # fmt: skip
        self.config, self.lock, self.counters, self.finetune = config, lock, counters, finetune
        self.results = Results()
        self.pending: OrderedDict[str, Pending] = OrderedDict()
        self.since_fit = 0
        self.worker: threading.Thread | None = None

    def remember(self, key: str, pending: Pending) -> None:
        """A kept candidate's score and weight, to match with its result later."""
        with self.lock:
            self.pending[key] = pending
            self.pending.move_to_end(key)
            while len(self.pending) > self.config.remember:
                self.pending.popitem(last=False)

    def collect(
        self, predictor: Predictor, item: Any, key: str, value: float, source: str, version: int
    ) -> None:
        """Add a result: the candidate's images, its metric value, and its score when it was
        decided (scored now, out of sample, when this hook did not decide it)."""
        with self.lock:
            pending = self.pending.pop(key, None)
        features = predictor.prepare([item])[0]
        if pending is None:
            with torch_threads(self.config.threads):
                pending = Pending(float(predictor.score(item)[0]), 1.0, version)
        with self.lock:
            self.results.add(features[:, 0], value, pending, source)
            if self.config.max_results and len(self.results) > self.config.max_results:
                self.results.drop_oldest(self.config.max_results)
            self.counters["results"] += 1
            self.since_fit += 1

    def maybe_refit(self, predictor: Predictor) -> None:
        """Refit ``predictor`` on the results when due: first at ``min_results``, then after
        every ``refit_every`` more, never two at once."""
        with self.lock:
            busy = self.worker is not None and self.worker.is_alive()
            tried = self.counters["finetunes"] + self.counters["finetune_failures"] > 0
            due = len(self.results) >= self.config.min_results and (
                not tried or self.since_fit >= self.config.refit_every
            )
            if busy or not due:
                return
            self.since_fit = 0
            snapshot = self.results.snapshot()
        if self.config.background:
            self.worker = threading.Thread(
                target=self._run, args=(predictor, snapshot), name="prune-hook-finetune",
                daemon=True,
            )  # fmt: skip
            self.worker.start()
        else:
            self._run(predictor, snapshot)

    def _run(self, parent: Predictor, results: Results) -> None:
        """Fine-tune a copy of ``parent`` on ``results`` and swap it in (runs in a thread);
        a failure keeps the current model."""
        start = time.perf_counter()
        try:
            with torch_threads(self.config.threads):
                record = self.finetune(parent, results)
        except Exception as err:
            with self.lock:
                self.counters["finetune_failures"] += 1
            logger.warning("fine-tuning failed, keeping the current model: %s", one_line(err))
            return
        record["seconds"] = round(time.perf_counter() - start, 3)
        logger.info("model %d swapped in: %s", record["version"], record)

    def wait(self, timeout: float | None = None) -> bool:
        """Wait for a running fine-tuning to finish; ``False`` if it is still running."""
        worker = self.worker
        if worker is not None:
            worker.join(timeout)
            return not worker.is_alive()
        return True
