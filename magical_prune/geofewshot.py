"""The few-shot protocol (:mod:`magical_prune.fewshot`) for the geometry learner.

A geometry model learns one design and has no weights that carry to another, so a repeat
does not fine-tune it: it fits a fresh learner (the model's metric and seed) on the repeat's
shots, exactly as ``train --learner geometry`` would on that many labels, and decides at
the learner's own threshold (0.5 on its out-of-fold probability: with 16 shots there are too
few labels to calibrate a FOR target on). Everything else is the CNN protocol: the same
draws of shots from the pool outside the test set, the same relabelling of the test set at
the shots' critical value, the same FOR against random pruning at the same prune rate, the
same summary. ``pretrained_for`` is the given model's own FOR on the test set when it learnt
this design, else None. Each repeat also records ``for_at_share``: the FOR when the
``worst_percent`` share of the test set with the highest scores is pruned, the ranking's
quality apart from the decision threshold (which 16 shots calibrate poorly).

A repeat costs one fit on the shots (cross-validated model choice included): ~0.05-0.3 s
at 16 shots, so 100 repeats take seconds, not a fine-tuning run each.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from tqdm import tqdm

from magical_prune.dataset import LabelledDataset
from magical_prune.errors import MagicalPruneError
from magical_prune.fewshot import REPEAT_FIGURES, check_protocol, summarise
from magical_prune.geomodel import DesignColumns, GeometryScorer, fit_rows
from magical_prune.labels import label_at, label_by_rank
from magical_prune.metrics import classification_metrics, mean_and_spread
from magical_prune.roleprior import RolePrior

__all__ = ["geometry_fewshot"]


def geometry_fewshot(
    model: GeometryScorer | None,
    data: LabelledDataset,
    *,
    shots: int = 16,
    repeats: int = 100,
    seed: int = 0,
    split_seed: int = 0,
    test_fraction: float = 0.2,
    progress: bool = True,
    on_repeat: Callable[[dict[str, Any]], None] | None = None,
    prior: RolePrior | None = None,
) -> dict[str, Any]:
    """Run the protocol; returns ``{"repeats": [...], "summary": {...}, "settings": {...}}``
    (the shape :func:`magical_prune.fewshot.fewshot` returns). ``model`` None: the learner
    with its defaults and no model to compare with. ``prior``: the design-agnostic prior,
    averaged in under :data:`~magical_prune.geolearn.CV_MIN_LABELS` shots (adapted on the
    layouts outside the test split: unlabelled, they cost no simulation).

    Raises:
        MagicalPruneError: stored labels only, no geometry rows, too few layouts or shots.
    """
    split = data.split(0.0, split_seed, test_fraction)
    check_protocol(data, shots, repeats, split)
    rows = data.data.read_geometry(data.rows)  # the data set's own error when it has none
    columns = DesignColumns.from_info(data.data.geometry_info, data.data.path)
    values = np.asarray(data.metric_values, dtype=np.float64)
    metric, worst = str(data.metric), float(data.label_spec.worst_percent)
    extra = {} if model is None else model.card.extra.get("geometry", {})
    learner_seed = int(extra.get("seed", 0))
    own = None if model is None else _own_scores(model, data, rows[split.test])
    out: list[dict[str, Any]] = []
    for r in tqdm(range(repeats), desc="few-shot", unit="repeat", disable=not progress):
        rng = np.random.default_rng([seed, r])
        picked = np.sort(rng.choice(split.pool, size=shots, replace=False))
        shot_labels = label_by_rank(values[picked], metric, worst)
        test_labels = label_at(values[split.test], metric, shot_labels.critical_value)
        fitted = fit_rows(rows[picked], values[picked], columns, metric=metric,
                          worst_percent=worst, target_for=None, seed=learner_seed,
                          prior=prior, unlabelled=rows[split.pool])  # fmt: skip
        scores = fitted.score_prepared(rows[split.test])
        m = classification_metrics(test_labels, scores, fitted.threshold)
        pre = None
        if own is not None and model is not None:
            pre = classification_metrics(test_labels, own, model.threshold)
        out.append({
            "repeat": r, "critical_value": shot_labels.critical_value,
            "shot_ids": [str(i) for i in data.ids[picked]], **{k: m[k] for k in REPEAT_FIGURES},
            "candidate": fitted.card.extra["geometry"]["candidate"],
            "for_at_share": _for_at_share(scores, test_labels, worst / 100.0),
            "pretrained_for": None if pre is None else pre["for"],
            "pretrained_prune_rate": None if pre is None else pre["prune_rate"],
        })  # fmt: skip
        if on_repeat is not None:
            on_repeat(out[-1])
    settings = {
        "shots": shots, "repeats": repeats, "seed": seed, "metric": metric,
        "worst_percent": worst, "n_test": int(len(split.test)), "n_pool": int(len(split.pool)),
        "parent": None if model is None else model.source, "learner": "geometry",
        "split_seed": split_seed, "test_fraction": test_fraction, "prior": prior is not None,
    }  # fmt: skip
    summary = summarise(out)
    summary["for_at_share"] = mean_and_spread(r["for_at_share"] for r in out)
    return {"settings": settings, "summary": summary, "repeats": out}


def _for_at_share(scores: np.ndarray, labels: np.ndarray, share: float) -> float:
    """FOR of the kept layouts when the ``share`` with the highest scores is pruned (the
    ranking alone, whatever the threshold: with 16 shots the 0.5 decision is the weak part)."""
    order = np.argsort(-scores, kind="stable")
    kept = order[int(round(share * len(scores))) :]
    return float(np.mean(labels[kept])) if len(kept) else float("nan")


def _own_scores(
    model: GeometryScorer, data: LabelledDataset, rows: np.ndarray
) -> np.ndarray | None:
    """The model's scores of the test rows when it learnt this design, else None."""
    try:
        model.check_data(data.data)
    except MagicalPruneError:
        return None
    return model.score_prepared(rows)
