"""Fit and bundle the design-agnostic prior (``magical_prune/assets/role_prior.pt``).

    python benchmarks/bundle_prior.py runs16k --cache geocache     # a minute once cached

``runs16k`` holds the reference designs' generated folders (``refflow generate DESIGN -n
16000 --seed 0``); ``--cache`` is the geometry cache of ``benchmarks/learning_curve.py``. The
prior (:func:`magical_prune.priormodel.pretrained_scorer`) learns from the first 80% of each
design's layouts (generation order), less the 20 bundled under ``examples/``; the card keeps,
per design, the FOR at 25% pruned on its last 20% of a prior fitted on the *other* designs
(the zero-shot figure a new design can expect; ``benchmarks/zero_shot.py`` has the spreads),
and that of the bundled prior itself (which learnt the design's training layouts).
Same input, same file.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import replace
from pathlib import Path

import numpy as np
from learning_curve import PRUNE_SHARE, REFERENCE_DESIGNS, devices_of, for_at_share, load_design

from magical_prune.priormodel import pretrained_scorer
from magical_prune.refflow.bench import design_metric
from magical_prune.roleprior import DesignStats, raw_inputs

EXAMPLES = 20  # examples/<design> holds layouts <design>_0 .. _19 of the same seed-0 order
OUT = Path(__file__).resolve().parents[1] / "magical_prune" / "assets" / "role_prior.pt"


def held_out_for(scorer, raw: np.ndarray, badness: np.ndarray, test: np.ndarray) -> float:
    """FOR at 25% pruned on ``test``, the design's typical layout read off its other rows."""
    stats = DesignStats.of(np.delete(raw, test, axis=0))
    rank = scorer.prior.predict(stats.standardise(raw[test]))
    bad = badness > np.quantile(badness, 1 - PRUNE_SHARE)
    return for_at_share(rank, bad[test])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("runs", type=Path)
    parser.add_argument("--cache", type=Path, default=Path(".geometry_cache"))
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    raw, badness, train, test = {}, {}, {}, {}
    for name in REFERENCE_DESIGNS:
        folder = args.runs / name
        d = load_design(folder, design_metric(folder), args.cache)
        n = len(d.value)
        raw[name] = raw_inputs(d.layout, d.roles, devices_of(folder))
        badness[name] = d.badness
        examples = {f"{name}_{k}" for k in range(EXAMPLES)}
        train[name] = np.array([i for i in range(int(0.8 * n)) if d.ids[i] not in examples])
        test[name] = np.arange(int(0.8 * n), n)
    fit_on = {n: (raw[n][train[n]], badness[n][train[n]]) for n in raw}
    scorer = pretrained_scorer(fit_on)
    report = {}
    for name in raw:
        others = pretrained_scorer({o: v for o, v in fit_on.items() if o != name})
        report[name] = {
            "layouts": len(raw[name]),
            "for_zero_shot": held_out_for(others, raw[name], badness[name], test[name]),
            "for_bundled": held_out_for(scorer, raw[name], badness[name], test[name]),
            "random_for": float(
                (badness[name] > np.quantile(badness[name], 1 - PRUNE_SHARE))[test[name]].mean()
            ),
        }
        print(f"{name}: FOR at 25% pruned, prior without {name} "
              f"{100 * report[name]['for_zero_shot']:.1f}%, bundled prior "
              f"{100 * report[name]['for_bundled']:.1f}%")  # fmt: skip
    scorer.card = replace(scorer.card, test_metrics={"per_design": report, "split": "last 20%"},
                          created_by="benchmarks/bundle_prior.py")  # fmt: skip
    scorer.save(args.out)
    weights = dict(zip(scorer.card.extra["role-prior"]["features"], scorer.prior.weights.tolist()))
    print(json.dumps({"weights": weights, "threshold": scorer.threshold}, indent=1))
    print(f"wrote {args.out} ({args.out.stat().st_size} bytes)")


if __name__ == "__main__":
    main()
