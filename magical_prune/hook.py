"""The pruning hook a placement flow calls after every placement, before routing.

::

    hook = PruneHook("model.pt", log="decisions.jsonl")
    for weights in enumerate_net_weights():
        placement = place(weights)
        decision = hook(placement)          # Decision(prune, score, reason, threshold)
        if decision.prune:
            continue                        # skip routing, extraction, simulation
        performance = route_extract_simulate(placement)
        hook.update(placement, performance)  # feedback: few-shot fine-tuning in the background

**Fails open.** A decision never raises: any error (unreadable model, a placement that
does not load, features the model cannot take, a NaN score) keeps the candidate, logs a
warning and says why in ``Decision.reason``. A flow loses at most the saving, never a
candidate. Errors in :meth:`PruneHook.update` are logged and the result is ignored.

This module decides and logs; learning from the feedback (relabelling, fine-tuning,
recalibrating, and why the feedback is weighted) is :mod:`magical_prune.online`, run here in
a background thread that swaps the new model in with one reference assignment, so decisions
never wait for it. Saving and resuming a hook is :mod:`magical_prune.hookstate`.
"""

from __future__ import annotations

import json
import logging
import math
import os
import threading
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

from magical_prune.adapters.magical import load_placement
from magical_prune.calibrate import explored_weight
from magical_prune.card import ModelCard
from magical_prune.errors import MagicalPruneError
from magical_prune.features import FeatureStack
from magical_prune.hookstate import HookState, read_results, read_state, write_state
from magical_prune.online import (
    Goal,
    HookConfig,
    OnlineLearner,
    Pending,
    Results,
    fingerprint,
    one_line,
    refit,
    result_value,
    weighted_rank_labels,
)
from magical_prune.placement import Placement
from magical_prune.predict import Predictor, torch_threads

__all__ = ["Decision", "HookConfig", "PruneHook", "weighted_rank_labels"]

logger = logging.getLogger("magical_prune.hook")


@dataclass(frozen=True)
class Decision:
    """What the hook decided for one candidate.

    Attributes:
        prune: skip routing, extraction and simulation of this candidate.
        score: P(worst quarter) from the model; NaN when scoring failed.
        reason: why, in words (``score 0.81 >= threshold 0.62``, ``kept: ...`` on errors).
        threshold: the threshold the decision used (NaN when no model was available).
    """

    prune: bool
    score: float
    reason: str
    threshold: float = math.nan


class PruneHook:
    """Decide prune/keep for each placement of a flow, and learn from its feedback.

    Args:
        predictor: a :class:`~magical_prune.predict.Predictor`, a model file, or ``None``
            for the bundled model. A model that cannot be loaded does not raise: every
            decision then keeps the candidate and says why.
        threshold: decision threshold; default the model's (calibrated) one. Given alone
            (without ``target_for``), it stays fixed: no recalibration.
        target_for: FOR the threshold is recalibrated to after each fine-tuning; default
            the target the model was calibrated for, else 8%.
        log: append every decision as one JSON object per line to this file.
        config: learning settings (:class:`HookConfig`).
        loader: ``path -> Placement`` for candidates given as paths (default: the MAGICAL
            adapter's ``load_placement`` with ``companions``).
        companions: keyword arguments for the default loader (``netlist=...``).
    """

    def __init__(
        self,
        predictor: Any = None,
        threshold: float | None = None,
        target_for: float | None = None,
        log: str | os.PathLike[str] | None = None,
        *,
        config: HookConfig | None = None,
        loader: Callable[[Path], Placement] | None = None,
        companions: Mapping[str, Any] | None = None,
    ) -> None:
        self.config = config or HookConfig()
        self.log_path = None if log is None else Path(log)
        self._loader = loader
        self._companions = dict(companions or {})
        self._lock = threading.Lock()  # guards model/threshold swaps and the collections
        self._log_lock = threading.Lock()
        self._rng = np.random.default_rng(self.config.seed)
        self.version = 0
        self.counters = {"decisions": 0, "pruned": 0, "kept": 0, "explored": 0, "failed": 0,
                         "results": 0, "finetunes": 0, "finetune_failures": 0}  # fmt: skip
        # the refit is looked up on every call, so that tests can stand in for it
        self._learner = OnlineLearner(
            self.config,
            self._lock,
            self.counters,
            lambda parent, results: self._finetune(parent, results),
        )
        self.history: list[dict[str, Any]] = []
        self.load_error: str | None = None
        self.predictor: Predictor | None = None
        self._threshold = math.nan
        self._fixed_threshold = threshold is not None and target_for is None
        try:
            self.predictor = self._as_predictor(predictor)
            if threshold is not None:
                self.predictor.threshold = threshold
            self._threshold = self.predictor.threshold
        except Exception as err:  # fail open: the flow runs, nothing is pruned
            self.load_error = one_line(err)
            logger.warning("pruning disabled, every candidate is kept: %s", self.load_error)
        self.target_for = self.config.target_for_of(target_for, self._card())

    # -- set-up helpers -------------------------------------------------------------------
    @staticmethod
    def _as_predictor(predictor: Any) -> Predictor:
        if isinstance(predictor, Predictor):
            return predictor
        return Predictor.load(predictor)

    def _card(self) -> ModelCard | None:
        predictor = self.predictor
        return None if predictor is None else predictor.card

    @property
    def threshold(self) -> float:
        """The threshold decisions use now."""
        return self._threshold

    @property
    def _results(self) -> Results:
        """The collected results (held by the learner)."""
        return self._learner.results

    @property
    def _pending(self) -> OrderedDict[str, Pending]:
        """The decisions awaiting feedback (held by the learner)."""
        return self._learner.pending

    @property
    def metric(self) -> str:
        """The performance key results are ranked by."""
        return self.config.metric_of(self._card())

    @property
    def worst_percent(self) -> float:
        """The share of the collected results labelled "prune", in percent."""
        return self.config.cut_of(self._card())

    def _load(self, item: Any) -> Placement | FeatureStack:
        if isinstance(item, (Placement, FeatureStack)):
            return item
        if isinstance(item, (str, os.PathLike)):
            if self._loader is not None:
                return self._loader(Path(item))
            return load_placement(item, **self._companions)
        raise MagicalPruneError(
            f"expected a Placement, FeatureStack or path, got {type(item).__name__}"
        )

    # -- decisions ------------------------------------------------------------------------
    def __call__(self, placement: Any) -> Decision:
        """Decide one candidate. Never raises (except KeyboardInterrupt and the like)."""
        source = _source_of(placement)  # never raises either
        key = None
        with self._lock:
            predictor, threshold, version = self.predictor, self._threshold, self.version
        try:
            if predictor is None:
                raise MagicalPruneError(f"no model: {self.load_error}")
            item = self._load(placement)
            source = _source_of(item) or source
            key = fingerprint(item)
            with torch_threads(self.config.threads):
                score = float(predictor.score(item)[0])
            decision, weight = self._decide(score, threshold)
            if not decision.prune:
                self._learner.remember(key, Pending(score, weight, version))
        except Exception as err:  # fail open: keep the candidate
            reason = f"kept: scoring failed: {one_line(err)}"
            logger.warning("%s: %s", source or "candidate", reason)
            decision = Decision(False, math.nan, reason, threshold)
        self._count(decision)
        self._write_log(decision, source, key, version)
        return decision

    def _decide(self, score: float, threshold: float) -> tuple[Decision, float]:
        """The decision on a score, and the keep weight of its result (1 / explore when a
        would-be-pruned candidate is kept to explore)."""
        if not score >= threshold:  # (NaN never prunes; the Predictor refuses NaN anyway)
            return Decision(False, score, f"score {score:.4f} < threshold {threshold:.4f}",
                            threshold), 1.0  # fmt: skip
        reason = f"score {score:.4f} >= threshold {threshold:.4f}"
        if self.config.explore > 0 and self._draw() < self.config.explore:
            reason = f"explore: kept to sample the pruned region ({reason})"
            return Decision(False, score, reason, threshold), 1.0 / self.config.explore
        return Decision(True, score, reason, threshold), 1.0

    def _draw(self) -> float:
        with self._lock:
            return float(self._rng.random())

    def _count(self, d: Decision) -> None:
        with self._lock:
            c = self.counters
            c["decisions"] += 1
            c["pruned" if d.prune else "kept"] += 1
            c["explored"] += d.reason.startswith("explore")
            c["failed"] += math.isnan(d.score)

    def _write_log(self, d: Decision, source: str | None, key: str | None, version: int) -> None:
        if self.log_path is None:
            return
        record = {
            "time": datetime.now(timezone.utc).isoformat(timespec="milliseconds"),
            "source": source,
            "id": key,
            "score": None if math.isnan(d.score) else round(d.score, 6),
            "threshold": None if math.isnan(d.threshold) else d.threshold,
            "prune": d.prune,
            "reason": d.reason,
            "model_version": version,
        }
        try:
            line = json.dumps(record, separators=(",", ":")) + "\n"
            with self._log_lock, open(self.log_path, "a", encoding="utf-8") as f:
                f.write(line)
        except (OSError, TypeError, ValueError) as err:  # disk full, unencodable: decide on
            logger.warning("cannot write the decision log %s: %s", self.log_path, err)

    # -- feedback and learning ------------------------------------------------------------
    def update(self, placement: Any, performance: Mapping[str, float]) -> bool:
        """Feed back the simulated result of a kept candidate.

        Returns:
            whether the result was collected (errors are logged, never raised).
        """
        try:
            if self.predictor is None:
                raise MagicalPruneError(f"no model: {self.load_error}")
            value = result_value(performance, self.metric)
            item = self._load(placement)
            key = fingerprint(item)
            with self._lock:
                predictor = self.predictor
            self._learner.collect(predictor, item, key, value, _source_of(item) or key,
                                  self.version)  # fmt: skip
        except Exception as err:
            logger.warning("feedback ignored: %s", one_line(err))
            return False
        with self._lock:
            predictor = self.predictor
        self._learner.maybe_refit(predictor)
        return True

    def _finetune(self, parent: Predictor, results: Results) -> dict[str, Any]:
        """Learn from ``results`` (:func:`magical_prune.online.refit`) and swap the new
        model and threshold in; returns the history record of the swap."""
        with self._lock:
            pruned, explored = self.counters["pruned"], self.counters["explored"]
        goal = Goal(self.metric, self.worst_percent, self.target_for, self._threshold,
                    self.config.recalibrate and not self._fixed_threshold, self.version,
                    explored_weight(pruned, explored) if explored else None)  # fmt: skip
        out = refit(parent, results, self.config, goal)
        with self._lock:
            self.predictor = out.predictor
            self._threshold = out.threshold
            self.version += 1
            self.counters["finetunes"] += 1
            record = {"version": self.version, "n_results": out.n_results,
                      "threshold": out.threshold, "critical_value": out.critical_value,
                      "calibration": out.calibration}  # fmt: skip
            self.history.append(record)
        return record

    def wait(self, timeout: float | None = None) -> bool:
        """Wait for a running fine-tuning to finish; ``False`` if it is still running."""
        return self._learner.wait(timeout)

    # -- state ----------------------------------------------------------------------------
    def save(self, path: str | os.PathLike[str]) -> Path:
        """Save the hook's state into folder ``path`` (waits for a running fine-tuning);
        see :mod:`magical_prune.hookstate` for what the folder holds."""
        if self.predictor is None:
            raise MagicalPruneError(f"nothing to save: no model ({self.load_error})")
        self.wait()
        with self._lock:
            log = None if self.log_path is None else str(self.log_path)
            state = HookState(asdict(self.config), self._threshold, self._fixed_threshold,
                              self.target_for, self.version, self._learner.since_fit,
                              dict(self.counters), list(self.history),
                              self._rng.bit_generator.state, log)  # fmt: skip
            results, pending = self._results.snapshot(), OrderedDict(self._pending)
            predictor = self.predictor
        return write_state(path, predictor, results, pending, state)

    @classmethod
    def resume(
        cls,
        path: str | os.PathLike[str],
        *,
        log: str | os.PathLike[str] | None = None,
        loader: Callable[[Path], Placement] | None = None,
        companions: Mapping[str, Any] | None = None,
        **config_changes: Any,
    ) -> PruneHook:
        """Continue from a folder written by :meth:`save`.

        Args:
            log: decision log (default: the one the saved hook used).
            config_changes: settings to change (``background=False``, ``explore=0.1``).

        Raises:
            MagicalPruneError: the folder is not a saved hook state.
        """
        folder = Path(path)
        state = read_state(folder / "state.json")
        predictor = Predictor.load(folder / "model.pt")  # CheckpointError names the file
        config = HookConfig.from_dict({**state.config, **config_changes})
        hook = cls(predictor, threshold=state.threshold, target_for=state.target_for,
                   log=log if log is not None else state.log, config=config, loader=loader,
                   companions=companions)  # fmt: skip
        hook._fixed_threshold = state.fixed_threshold
        hook.version = state.version
        hook.counters.update(state.counters)
        hook.history = list(state.history)
        hook._rng.bit_generator.state = state.rng
        learner = hook._learner
        learner.since_fit = state.since_fit
        learner.results, learner.pending = read_results(folder / "results.npz",
                                                        predictor.image_size)  # fmt: skip
        return hook


def _source_of(item: Any) -> str | None:
    """Where a candidate came from, as text for the log; never raises, since it runs
    before a decision can fail open (a path whose ``__fspath__`` fails, bytes, a
    ``source`` property that raises or is not text: None or its decoded form)."""
    try:
        value = item if isinstance(item, (str, os.PathLike)) else item.source
        if isinstance(value, os.PathLike):
            value = os.fspath(value)
    except Exception:
        return None
    if isinstance(value, bytes):
        return os.fsdecode(value)
    return value if isinstance(value, str) else None
