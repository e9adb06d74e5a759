"""CNN transfer rows of the learning curve (imported by ``learning_curve.py``).

The bundled CNN was pretrained on one reference design (its card names it); on every other
design it is a model that never saw the target. Rows: zero labels (the bundled model as it
is) and the bundled model fine-tuned on each budget's training layouts with the one
fine-tuning routine the product uses (:func:`magical_prune.training.finetune_model`, the
efficient network's fine-tuning defaults), scored on the same test layouts as the other
learners through the production scorer. The images come from a data set built from the same
layout folders (``dataset build``), lined up with the benchmark's layouts by id.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from magical_prune.checkpoint import load_model
from magical_prune.dataset import LabelledDataset
from magical_prune.predict import Predictor, bundled_model_path
from magical_prune.training import TrainConfig, finetune_model

NAME = "cnn (bundled, fine-tuned)"


def source_design() -> str | None:
    """The design the bundled model learnt (never a transfer target)."""
    return load_model(bundled_model_path())[1].design


def cnn_rows(
    d: Any, data: Path, budgets: list[int], seeds: int, measures: Any, prune_share: float
) -> list[dict]:
    """One row per budget (0 = zero-shot) of the bundled CNN fine-tuned on design ``d``."""
    torch.set_num_threads(1)  # two threads on two busy cores are slower than one
    parent, card = load_model(bundled_model_path())
    ds = LabelledDataset.open(data, metric=d.metric, worst_percent=25.0)
    where = {str(i): k for k, i in enumerate(ds.ids)}
    missing = [i for i in d.ids if str(i) not in where]
    if missing:
        raise SystemExit(f"{data}: {len(missing)} layouts of {d.name} are not in the data set")
    pos = np.array([where[str(i)] for i in d.ids])
    test, pool = d.test, d.pool
    bad = d.badness > np.quantile(d.badness, 1 - prune_share)
    test_images = ds.features(pos[test]).numpy()
    rows = []
    for budget in budgets:
        row = {"design": d.name, "budget": budget, "learner": NAME, "seeds": []}
        for seed in range(1 if budget == 0 else seeds):
            start = time.perf_counter()
            model, child = parent, card
            if budget > 0:
                train = np.sort(np.random.default_rng(seed).choice(pool, budget, replace=False))
                tuned = finetune_model(parent, card, ds, pos[train], TrainConfig(seed=seed),
                                       labels=bad[train].astype(np.int64))  # fmt: skip
                model, child = tuned.model, tuned.card
            scorer = Predictor.from_model(model, child)
            scores = np.concatenate([scorer.score_prepared(test_images[i : i + 64])
                                     for i in range(0, len(test), 64)])  # fmt: skip
            fit_s = time.perf_counter() - start
            row["seeds"].append({**measures(scores, d.badness[test], bad[test]), "fit_s": fit_s})
        rows.append(row)
        print(f"  {budget:>5} {NAME} FOR {100 * row['seeds'][0]['for']:.1f}", flush=True)
    return rows
