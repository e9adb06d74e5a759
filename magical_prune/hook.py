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

**Learning in the loop (paper Sec. IV-D).** The flow feeds back the simulated results of the
candidates it kept. Once ``min_results`` (16, the paper's few-shot size) are collected, and
again after every ``refit_every`` more, a background thread labels the collected results by
rank among themselves (the worst quarter is "prune", as the few-shot protocol does),
fine-tunes a copy of the current model on them, recalibrates the threshold for the target
FOR, and swaps the new model in with one reference assignment. Decisions never wait for
fine-tuning: they use whichever model is current.

**The feedback is biased.** Only kept candidates are simulated, so the collected results
miss exactly the placements the model thinks are bad; ranking among them sets the "bad" cut
too strict and the model would drift towards pruning good placements. Two things counter it:

* *exploration*: a share ``explore`` (default 5%) of the candidates the model would prune
  is kept anyway (``reason`` starts with ``explore``), so the flow simulates a sample of
  the pruned region too;
* *inverse-probability weights*: every collected result carries the inverse of the
  probability it had to be kept (1 below the threshold, ``1 / explore`` when explored), and
  both the rank cut and the FOR used to recalibrate are computed with these weights, which
  estimates them for all candidates rather than for the kept ones only.

**Calibration data.** The threshold is calibrated on the scores each result got when its
candidate was decided (from the model current then, which had not been trained on it):
out-of-sample scores, as a test-then-train evaluation. A model is never calibrated on scores
of its own training layouts.
"""

from __future__ import annotations

import copy
import hashlib
import json
import logging
import math
import os
import struct
import threading
import time
import zipfile
import zlib
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field, fields
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

from magical_prune._files import check_regular, read_bytes
from magical_prune.errors import MagicalPruneError
from magical_prune.features import FeatureStack, add_coordinate_channels
from magical_prune.placement import Placement
from magical_prune.predict import NO_PRUNE, Predictor, calibrate_threshold, torch_threads

__all__ = ["Decision", "HookConfig", "PruneHook", "weighted_rank_labels"]

logger = logging.getLogger("magical_prune.hook")

STATE_FORMAT = "magical-prune-hook"
STATE_VERSION = 1
#: default FOR target when neither the caller nor the model's calibration gives one
DEFAULT_TARGET_FOR = 0.08


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


@dataclass
class HookConfig:
    """How the hook learns from feedback (saved with its state).

    Attributes:
        metric: the ``performance`` key results are ranked by (default: the model's).
        worst_percent: share of the collected results labelled "prune" (default: the
            model's cut, else 25).
        min_results: results needed before the first fine-tuning (the paper: 16 shots).
        refit_every: fine-tune again after this many new results.
        max_results: keep at most this many results (the oldest are dropped); each costs
            ``6 * size * size * 4`` bytes of features (98 KB at 64x64).
        explore: share of would-be-pruned candidates kept anyway (see the module docs).
        recalibrate: recalibrate the threshold after fine-tuning (needs a target FOR).
        max_good_pruned: the most the recalibrated threshold may prune of the good results
            (weighted). A model that reaches the target FOR only by pruning more than that
            does not yet tell this design's good placements from its bad ones (it meets the
            target by pruning nearly everything: measured on reference ota2 and ota4 after
            16-32 results, 90% pruned at a FOR no better than random), so the hook then
            prunes nothing until a later fine-tuning does better. ``None``: no limit.
        epochs: fine-tuning passes over the collected results (``None``: the
            architecture's fine-tuning default).
        lr: fine-tuning learning rate (``None``: the parent's times its fine-tuning scale).
        freeze: layers frozen while fine-tuning (``None``, ``"features"``, or a count).
        background: fine-tune in a background thread (``False``: inside :meth:`update`,
            deterministic, for tests and scripts).
        threads: torch threads for decisions and fine-tuning (``None``: torch's setting).
            One is fastest for one candidate at a time and leaves the other cores to the
            flow; see :func:`magical_prune.predict.torch_threads`.
        seed: seed of exploration draws and fine-tuning.
        remember: decisions remembered to match later feedback with its score.
    """

    metric: str | None = None
    worst_percent: float | None = None
    min_results: int = 16
    refit_every: int = 16
    max_results: int | None = 4096
    explore: float = 0.05
    recalibrate: bool = True
    max_good_pruned: float | None = 0.5
    epochs: int | None = None
    lr: float | None = None
    freeze: str | None = None
    background: bool = True
    seed: int = 0
    remember: int = 100_000
    threads: int | None = 1

    def __post_init__(self) -> None:
        if self.min_results < 2:
            raise MagicalPruneError(f"min_results must be >= 2, got {self.min_results}")
        if self.refit_every < 1:
            raise MagicalPruneError(f"refit_every must be >= 1, got {self.refit_every}")
        if self.max_results is not None and self.max_results < self.min_results:
            raise MagicalPruneError("max_results must be at least min_results")
        if not 0.0 <= self.explore < 1.0:
            raise MagicalPruneError(f"explore must be in [0, 1), got {self.explore}")
        if self.max_good_pruned is not None and not 0.0 <= self.max_good_pruned <= 1.0:
            raise MagicalPruneError(
                f"max_good_pruned must be in [0, 1], got {self.max_good_pruned}"
            )

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> HookConfig:
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})


@dataclass
class _Pending:
    """A decided candidate awaiting feedback: its score then, and its keep weight."""

    score: float
    weight: float
    version: int


@dataclass
class _Results:
    """Collected feedback, in arrival order."""

    images: list[np.ndarray] = field(default_factory=list)  # (6, H, W) float32 intensity
    values: list[float] = field(default_factory=list)
    scores: list[float] = field(default_factory=list)  # out-of-sample score at decision time
    weights: list[float] = field(default_factory=list)
    sources: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.values)

    def drop_oldest(self, keep: int) -> None:
        for name in ("images", "values", "scores", "weights", "sources"):
            setattr(self, name, getattr(self, name)[-keep:])


class _MemoryData:
    """The two things :func:`magical_prune.training.fit` reads from a data set, in memory."""

    def __init__(self, images: np.ndarray, labels: np.ndarray) -> None:
        self.images = images
        self.labels = labels

    def features(self, positions: np.ndarray, device: Any = "cpu") -> Any:
        import torch

        x = add_coordinate_channels(self.images[np.asarray(positions, dtype=np.int64)])
        return torch.from_numpy(x).to(device)


def weighted_rank_labels(
    values: np.ndarray, metric: str, worst_percent: float, weights: np.ndarray | None = None
) -> tuple[np.ndarray, float]:
    """Label results by rank among themselves: 1 for the worst ``worst_percent``.

    With equal weights this is :func:`magical_prune.labels.label_by_rank` (the paper's
    rule). With unequal weights the cut is the weighted quantile: the badness at which the
    weight of results at least that bad first reaches ``worst_percent`` of the total weight.

    Returns:
        ``(labels, critical_value)``; the critical value is in the metric's units.
    """
    from magical_prune.labels import get_metric, label_by_rank

    values = np.asarray(values, dtype=np.float64)
    if weights is None or np.allclose(weights, weights[0]):
        result = label_by_rank(values, metric, worst_percent)
        return result.labels, result.critical_value
    spec = get_metric(metric)
    badness = spec.badness(values)
    order = np.argsort(-badness, kind="stable")
    mass = np.cumsum(np.asarray(weights, dtype=np.float64)[order])
    k = int(np.searchsorted(mass, mass[-1] * worst_percent / 100.0 - 1e-9))
    critical = badness[order[min(k, len(order) - 1)]]
    return (badness >= critical).astype(np.int64), spec.value_of_badness(critical)


def fingerprint(item: Placement | FeatureStack) -> str:
    """Identity of a candidate (same geometry -> same id), to match feedback to decisions."""
    h = hashlib.blake2b(digest_size=12)
    if isinstance(item, FeatureStack):
        h.update(np.ascontiguousarray(item.array).tobytes())
    else:
        h.update("\0".join(item.names).encode())
        h.update(np.ascontiguousarray(item.rects, dtype=np.int64).tobytes())
        h.update(np.ascontiguousarray(item.pin_boxes, dtype=np.int64).tobytes())
    return h.hexdigest()


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
        self._pending: OrderedDict[str, _Pending] = OrderedDict()
        self._results = _Results()
        self._worker: threading.Thread | None = None
        self._since_fit = 0
        self.version = 0
        self.counters = {"decisions": 0, "pruned": 0, "kept": 0, "explored": 0, "failed": 0,
                         "results": 0, "finetunes": 0, "finetune_failures": 0}  # fmt: skip
        self.history: list[dict[str, Any]] = []
        self.load_error: str | None = None
        self.predictor = None
        self._threshold = math.nan
        self._fixed_threshold = threshold is not None and target_for is None
        try:
            self.predictor = self._as_predictor(predictor)
            if threshold is not None:
                self.predictor.threshold = threshold
            self._threshold = self.predictor.threshold
        except Exception as err:  # fail open: the flow runs, nothing is pruned
            self.load_error = _one_line(err)
            logger.warning("pruning disabled, every candidate is kept: %s", self.load_error)
        self.target_for = self._target_for(target_for)

    # -- set-up helpers -------------------------------------------------------------------
    @staticmethod
    def _as_predictor(predictor: Any) -> Predictor:
        if isinstance(predictor, Predictor):
            return predictor
        return Predictor.load(predictor)

    def _target_for(self, target_for: float | None) -> float:
        if target_for is not None:
            value = float(target_for)
        else:
            cal = (self.predictor.meta.get("calibration") or {}) if self.predictor else {}
            value = float(cal.get("target_for") or DEFAULT_TARGET_FOR)
        if not 0.0 <= value <= 1.0:
            raise MagicalPruneError(f"target FOR must be in [0, 1], got {value}")
        return value

    @property
    def threshold(self) -> float:
        """The threshold decisions use now."""
        return self._threshold

    @property
    def metric(self) -> str:
        if self.config.metric:
            return self.config.metric
        label = (self.predictor.meta.get("label") or {}) if self.predictor else {}
        if not label.get("metric"):
            raise MagicalPruneError(
                "the model does not say which metric it was trained on; set HookConfig(metric=...)"
            )
        return str(label["metric"])

    @property
    def worst_percent(self) -> float:
        if self.config.worst_percent is not None:
            return float(self.config.worst_percent)
        label = (self.predictor.meta.get("label") or {}) if self.predictor else {}
        return float(label.get("worst_percent") or 25.0)

    def _load(self, item: Any) -> Placement | FeatureStack:
        if isinstance(item, (Placement, FeatureStack)):
            return item
        if isinstance(item, (str, os.PathLike)):
            if self._loader is not None:
                return self._loader(Path(item))
            # the hook sits at the top layer, beside the CLI: it may use the adapters,
            # lazily, only for candidates given as files
            from magical_prune.adapters.magical import load_placement

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
                score = float(predictor.score_features(predictor.features(item)[None])[0])
            prune = score >= threshold
            weight = 1.0
            if prune:
                reason = f"score {score:.4f} >= threshold {threshold:.4f}"
                if self.config.explore > 0 and self._draw() < self.config.explore:
                    prune = False
                    weight = 1.0 / self.config.explore
                    reason = f"explore: kept to sample the pruned region ({reason})"
            else:
                reason = f"score {score:.4f} < threshold {threshold:.4f}"
            decision = Decision(prune, score, reason, threshold)
            if not prune:
                self._remember(key, _Pending(score, weight, version))
        except Exception as err:  # fail open: keep the candidate
            reason = f"kept: scoring failed: {_one_line(err)}"
            logger.warning("%s: %s", source or "candidate", reason)
            decision = Decision(False, math.nan, reason, threshold)
        self._count(decision)
        self._write_log(decision, source, key, version)
        return decision

    def _draw(self) -> float:
        with self._lock:
            return float(self._rng.random())

    def _remember(self, key: str, pending: _Pending) -> None:
        with self._lock:
            self._pending[key] = pending
            self._pending.move_to_end(key)
            while len(self._pending) > self.config.remember:
                self._pending.popitem(last=False)

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
            metric = self.metric
            if metric not in performance:
                raise MagicalPruneError(
                    f"performance has no {metric!r} (has: {', '.join(map(str, performance))})"
                )
            value = float(performance[metric])
            if not math.isfinite(value):
                raise MagicalPruneError(f"{metric} = {value} is not finite")
            item = self._load(placement)
            key = fingerprint(item)
            with self._lock:
                pending = self._pending.pop(key, None)
                predictor = self.predictor
            features = predictor.features(item)
            if pending is None:  # not decided by this hook: score it now, out of sample
                with torch_threads(self.config.threads):
                    score = float(predictor.score_features(features[None])[0])
                pending = _Pending(score, 1.0, self.version)
            with self._lock:
                r = self._results
                r.images.append(np.array(features[:, 0], dtype=np.float32))
                r.values.append(value)
                r.scores.append(pending.score)
                r.weights.append(pending.weight)
                r.sources.append(_source_of(item) or key)
                if self.config.max_results and len(r) > self.config.max_results:
                    r.drop_oldest(self.config.max_results)
                self.counters["results"] += 1
                self._since_fit += 1
        except Exception as err:
            logger.warning("feedback ignored: %s", _one_line(err))
            return False
        self._maybe_refit()
        return True

    def _maybe_refit(self) -> None:
        with self._lock:
            busy = self._worker is not None and self._worker.is_alive()
            due = len(self._results) >= self.config.min_results and (
                self.counters["finetunes"] + self.counters["finetune_failures"] == 0
                or self._since_fit >= self.config.refit_every
            )
            if busy or not due:
                return
            self._since_fit = 0
            snapshot = _Results(list(self._results.images), list(self._results.values),
                                list(self._results.scores), list(self._results.weights),
                                list(self._results.sources))  # fmt: skip
            predictor = self.predictor
        if self.config.background:
            self._worker = threading.Thread(
                target=self._refit, args=(predictor, snapshot), name="prune-hook-finetune",
                daemon=True,
            )  # fmt: skip
            self._worker.start()
        else:
            self._refit(predictor, snapshot)

    def _refit(self, parent: Any, results: _Results) -> None:
        """Fine-tune a copy of ``parent`` on ``results`` and swap it in (runs in a thread)."""
        start = time.perf_counter()
        try:
            with torch_threads(self.config.threads):
                record = self._finetune(parent, results)
        except Exception as err:
            with self._lock:
                self.counters["finetune_failures"] += 1
            logger.warning("fine-tuning failed, keeping the current model: %s", _one_line(err))
            return
        record["seconds"] = round(time.perf_counter() - start, 3)
        logger.info("model %d swapped in: %s", record["version"], record)

    def _finetune(self, parent: Predictor, results: _Results) -> dict[str, Any]:
        import torch

        from magical_prune.training import TrainConfig, fit, freeze, resolve_config

        values = np.asarray(results.values)
        weights = np.asarray(results.weights)
        labels, critical = weighted_rank_labels(values, self.metric, self.worst_percent, weights)
        if labels.min() == labels.max():
            raise MagicalPruneError("all collected results got the same label")
        meta = parent.meta
        ptrain = TrainConfig.from_dict(meta.get("train_config") or {})
        model = copy.deepcopy(parent.model)
        config = TrainConfig(
            arch=str(meta.get("arch")), model_kwargs=dict(meta.get("model_kwargs") or {}),
            epochs=self.config.epochs, steps_per_epoch=0, lr=self.config.lr,
            freeze=self.config.freeze, seed=self.config.seed + self.version,
            device=str(parent.device), eval_every=0,
        )  # fmt: skip
        config = resolve_config(config, model, finetune=True)
        if self.config.lr is None:
            base = ptrain.lr if ptrain.lr is not None else config.lr
            config.lr = base * config.lr_scale
        frozen = freeze(model, config.freeze)
        data = _MemoryData(np.stack(results.images), labels)
        with torch.random.fork_rng(devices=[]):  # fit seeds torch: keep the flow's RNG as is
            history = fit(model, data, np.arange(len(labels)), config, frozen=frozen,
                          progress=False)  # fmt: skip
        for p in model.parameters():
            p.requires_grad_(True)
        model.eval()

        calibration = None
        threshold = self._threshold
        if self.config.recalibrate and not self._fixed_threshold:
            cal = calibrate_threshold(results.scores, labels, self.target_for, weights)
            calibration = cal.to_dict()
            threshold = cal.threshold
            limit = self.config.max_good_pruned
            if not cal.feasible:
                logger.warning("recalibration: %s; nothing will be pruned", cal.describe())
            elif limit is not None and (cal.good_pruned or 0.0) > limit:
                threshold = NO_PRUNE
                calibration["uninformative"] = True
                logger.warning(
                    "recalibration: FOR <= %.1f%% needs pruning %.0f%% of the good results "
                    "(limit %.0f%%): the model does not separate this design's placements yet; "
                    "nothing will be pruned until a later fine-tuning does",
                    100 * self.target_for, 100 * (cal.good_pruned or 0.0), 100 * limit,
                )  # fmt: skip
        new_meta = {
            **meta,
            "threshold": threshold,
            "parent": {
                "path": parent.source,
                "arch": meta.get("arch"),
                "design": (meta.get("data") or {}).get("design"),
            },  # fmt: skip
            "online": {
                "version": self.version + 1,
                "n_results": len(labels),
                "n_bad": int(labels.sum()),
                "critical_value": critical,
                "metric": self.metric,
                "worst_percent": self.worst_percent,
                "target_for": self.target_for,
                "calibration": calibration,
                "train_config": asdict(config),
                "final_loss": history[-1]["loss"] if history else None,
            },
        }
        new = Predictor(model, new_meta, source=parent.source, device=parent.device,
                        threshold=threshold)  # fmt: skip
        with self._lock:
            self.predictor = new
            self._threshold = threshold
            self.version += 1
            self.counters["finetunes"] += 1
            record = {"version": self.version, "n_results": len(labels),
                      "threshold": threshold, "critical_value": critical,
                      "calibration": calibration}  # fmt: skip
            self.history.append(record)
        return record

    def wait(self, timeout: float | None = None) -> bool:
        """Wait for a running fine-tuning to finish; ``False`` if it is still running."""
        worker = self._worker
        if worker is not None:
            worker.join(timeout)
            return not worker.is_alive()
        return True

    # -- state ----------------------------------------------------------------------------
    def save(self, path: str | os.PathLike[str]) -> Path:
        """Save the hook's state into folder ``path`` (waits for a running fine-tuning).

        The folder holds ``model.pt`` (the current model, a normal checkpoint usable with
        ``magical-prune score --model``), ``results.npz`` (collected feedback and the
        remembered decisions) and ``state.json`` (settings, threshold, counters).
        """
        if self.predictor is None:
            raise MagicalPruneError(f"nothing to save: no model ({self.load_error})")
        self.wait()
        out = Path(path)
        out.mkdir(parents=True, exist_ok=True)
        with self._lock:
            predictor, r = self.predictor, self._results
            size = predictor.image_size
            arrays = {
                "images": np.stack(r.images) if len(r) else np.zeros((0, 6, size, size),
                                                                      np.float32),
                "values": np.asarray(r.values, dtype=np.float64),
                "scores": np.asarray(r.scores, dtype=np.float64),
                "weights": np.asarray(r.weights, dtype=np.float64),
                "sources": np.asarray(r.sources, dtype=str),
                "pending_keys": np.asarray(list(self._pending), dtype=str),
                "pending": np.asarray([[p.score, p.weight, p.version]
                                       for p in self._pending.values()],
                                      dtype=np.float64).reshape(-1, 3),
            }  # fmt: skip
            state = {
                "format": STATE_FORMAT,
                "format_version": STATE_VERSION,
                "config": asdict(self.config),
                "threshold": self._threshold,
                "fixed_threshold": self._fixed_threshold,
                "target_for": self.target_for,
                "version": self.version,
                "since_fit": self._since_fit,
                "counters": dict(self.counters),
                "history": list(self.history),
                "rng": self._rng.bit_generator.state,
                "log": None if self.log_path is None else str(self.log_path),
            }
        predictor.save(out / "model.pt")
        tmp = out / "results.npz.tmp"
        with open(tmp, "wb") as f:
            np.savez(f, **arrays)
        os.replace(tmp, out / "results.npz")
        tmp = out / "state.json.tmp"
        tmp.write_text(json.dumps(state, indent=1, sort_keys=True) + "\n", encoding="utf-8")
        os.replace(tmp, out / "state.json")
        return out

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
        state_file = folder / "state.json"
        state = _read_state(state_file)
        predictor = Predictor.load(folder / "model.pt")  # CheckpointError names the file
        try:
            config = HookConfig.from_dict({**state["config"], **config_changes})
            hook = cls(predictor, threshold=float(state["threshold"]),
                       target_for=float(state["target_for"]),
                       log=log if log is not None else state.get("log"), config=config,
                       loader=loader, companions=companions)  # fmt: skip
            hook._fixed_threshold = bool(state.get("fixed_threshold"))
            hook.version = int(state["version"])
            hook._since_fit = int(state["since_fit"])
            hook.counters.update({str(k): int(v) for k, v in state["counters"].items()})
            hook.history = list(state.get("history") or [])
            hook._rng.bit_generator.state = state["rng"]
        except (KeyError, TypeError, ValueError, AttributeError, OverflowError) as err:
            raise MagicalPruneError(
                f"damaged hook state ({type(err).__name__}: {_one_line(err)})", state_file
            ) from None
        _read_results(hook, folder / "results.npz")
        return hook


def _read_state(state_file: Path) -> dict[str, Any]:
    """The JSON of a saved hook's ``state.json``, checked for the format marker."""
    try:
        state = json.loads(read_bytes(state_file, "hook state").decode("utf-8"))
    except MagicalPruneError as err:
        raise MagicalPruneError(f"not a saved hook state: {err.message}", state_file) from None
    except (ValueError, RecursionError) as err:  # JSON and UTF-8 errors are ValueErrors
        raise MagicalPruneError(f"not a saved hook state: {_one_line(err)}", state_file) from None
    if not isinstance(state, dict) or state.get("format") != STATE_FORMAT:
        raise MagicalPruneError("not a saved hook state (no format marker)", state_file)
    version = state.get("format_version", 0)
    if not isinstance(version, int) or version > STATE_VERSION:
        raise MagicalPruneError("hook state written by a newer magical-prune", state_file)
    return state


#: what numpy's npz reader raises for a truncated or damaged zip (it parses the zip and
#: each member's header itself)
_NPZ_ERRORS = (OSError, EOFError, KeyError, ValueError, TypeError, IndexError,
               zipfile.BadZipFile, zlib.error, struct.error)  # fmt: skip


def _read_results(hook: PruneHook, path: Path) -> None:
    """Collected feedback and remembered decisions from ``results.npz``, checked for
    consistent lengths and image size before the hook takes them."""
    size = hook.predictor.image_size if hook.predictor is not None else None
    try:
        check_regular(path, "collected results")
        with np.load(path, allow_pickle=False) as data:
            images = np.asarray(data["images"], dtype=np.float32)
            columns = [np.asarray(data[k]) for k in ("values", "scores", "weights", "sources")]
            keys, pending = np.asarray(data["pending_keys"]), np.asarray(data["pending"])
    except MagicalPruneError as err:
        raise MagicalPruneError(f"cannot read collected results: {err.message}", path) from None
    except _NPZ_ERRORS as err:
        raise MagicalPruneError(f"cannot read collected results: {_one_line(err)}", path) from None
    n = len(images)
    if (
        images.ndim != 4
        or (n and images.shape[1:] != (6, size, size))
        or any(c.shape != (n,) for c in columns)
        or any(c.dtype.kind not in "fiu" for c in (*columns[:3], pending))
        or pending.shape != (len(keys), 3)
        or not np.isfinite(pending).all()
    ):
        raise MagicalPruneError("damaged collected results: lengths or shapes disagree", path)
    r = hook._results
    r.images = list(images)
    r.values, r.scores, r.weights = (c.astype(np.float64).tolist() for c in columns[:3])
    r.sources = [str(s) for s in columns[3]]
    for key, (score, weight, version) in zip(keys, pending):
        hook._pending[str(key)] = _Pending(float(score), float(weight), int(version))


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


def _one_line(err: BaseException) -> str:
    try:
        text = " ".join(str(err).split())
    except Exception:  # an exception whose __str__ fails still gets a reason
        text = ""
    return text or type(err).__name__
