"""Each of the geometry learner's candidates alone, beside the learner and the baselines.

    python benchmarks/candidates_alone.py --runs runs ota1 ota2 ota4 --budgets 64 200

Why: where the learner misses issue 11's target (2 points of FOR below the best baseline),
is the shortfall in how it chooses among its candidates, or in the candidates themselves?
If no candidate alone reaches the target, no way of choosing or weighing them would: the
labels do not carry the information. Same data, training subsets (seeds), test split and
measure as ``learning_curve.py`` (FOR when pruning the 25% of the test set with the highest
scores); each candidate fitted as the learner fits it (:class:`~magical_prune.geocandidates.
Candidate`, on the signed metric where it has a sign), the learner with the prior fitted on
the other designs given (it only acts under 32 labels).

Writes ``docs/results/candidates_alone.{md,json}`` (``--out``; ``--name`` for another stem).
"""

from __future__ import annotations

import argparse
import json
import platform
from pathlib import Path

import numpy as np
from learning_curve import (
    LEARNERS,
    PRUNE_SHARE,
    REFERENCE_DESIGNS,
    for_at_share,
    load_design,
    with_priors,
)
from tqdm import tqdm

from magical_prune.geocandidates import CANDIDATES, Candidate
from magical_prune.geolearn import LearnerConfig, Tables
from magical_prune.refflow.bench import design_metric

BASELINES = ("ridge (baseline)", "trees (baseline)")
LEARNER = "geometry (default)"
#: how far below the best baseline issue 11 asks the learner to be at 16-200 labels
MARGIN = 0.02


def candidate_scores(d, name: str, train: np.ndarray, test: np.ndarray, seed: int) -> np.ndarray:
    """One candidate fitted on ``train`` alone, as :class:`GeometryLearner` fits it."""
    tables = Tables(d.layout, d.pairs, d.heat, d.roles)
    signed = d.metric == "Offset_Voltage"
    target = d.value if signed else d.badness
    config = LearnerConfig(metric=d.metric, seed=seed)
    fitted = Candidate(name, tables.take(train), target[train], signed, seed,
                       d.badness[train], config.folds)  # fmt: skip
    return fitted.scores(tables.take(test))


def measure(d, budget: int, seeds: int) -> dict:
    """FOR per row (baselines, learner, each candidate) over ``seeds`` training subsets."""
    test, pool = d.test, d.pool
    bad = (d.badness > np.quantile(d.badness, 1 - PRUNE_SHARE))[test]
    names = [c for c in LearnerConfig().candidates if budget >= CANDIDATES.get(c, 0)]
    rows: dict[str, list[float]] = {}
    for seed in range(seeds):
        train = np.sort(np.random.default_rng(seed).choice(pool, budget, replace=False))
        for label in (*BASELINES, LEARNER):
            rows.setdefault(label, []).append(
                for_at_share(LEARNERS[label](d, train, test, seed), bad)
            )
        for name in names:
            scores = candidate_scores(d, name, train, test, seed)
            rows.setdefault(name, []).append(for_at_share(scores, bad))
    return {"design": d.name, "budget": budget, "seeds": seeds,
            "for": {k: [float(v) for v in vs] for k, vs in rows.items()}}  # fmt: skip


def report(results: list[dict], header: str) -> str:
    lines = [header, "",
             "| design | labels | best baseline | target (-2 points) | learner | best candidate alone "
             "| every candidate alone |", "|---|---|---|---|---|---|---|"]  # fmt: skip
    for r in results:
        mean = {k: 100 * float(np.mean(v)) for k, v in r["for"].items()}
        spread = {k: 100 * float(np.std(v)) for k, v in r["for"].items()}
        base = min(BASELINES, key=mean.get)
        alone = {k: v for k, v in mean.items() if k not in (*BASELINES, LEARNER)}
        best = min(alone, key=alone.get)
        target = mean[base] - 100 * MARGIN
        every = ", ".join(f"{k} {v:.1f}" for k, v in alone.items())
        lines.append(
            f"| {r['design']} | {r['budget']} | {mean[base]:.1f} ± {spread[base]:.1f} "
            f"({base.split()[0]}) | {target:.1f} | {mean[LEARNER]:.1f} ± {spread[LEARNER]:.1f} "
            f"| {alone[best]:.1f} ± {spread[best]:.1f} ({best}) | {every} |"
        )
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("designs", nargs="*", default=list(REFERENCE_DESIGNS))
    parser.add_argument("--runs", type=Path, default=Path("runs"))
    parser.add_argument("--budgets", type=int, nargs="+", default=[64, 200])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--cache", type=Path, default=Path("out/learning_curve_cache"))
    parser.add_argument("--out", type=Path, default=Path("docs/results"))
    parser.add_argument("--name", default="candidates_alone")
    args = parser.parse_args()
    # the prior of each design is fitted on the others: load every reference design there is
    names = list(dict.fromkeys([*args.designs, *(
        n for n in REFERENCE_DESIGNS if (args.runs / n).is_dir())]))  # fmt: skip
    designs = [load_design(args.runs / n, design_metric(args.runs / n), args.cache) for n in names]
    with_priors(designs)
    wanted = [d for d in designs if d.name in args.designs]
    results = [measure(d, b, args.seeds)
               for d in tqdm(wanted, desc="designs") for b in args.budgets]  # fmt: skip
    header = (
        "# Each candidate of the geometry learner alone\n\n"
        f"Written by `python benchmarks/candidates_alone.py {' '.join(args.designs)} --budgets "
        f"{' '.join(map(str, args.budgets))} --seeds {args.seeds}` on `{args.runs.name}` "
        f"({len(designs[0].value)} layouts of {designs[0].name}; {platform.machine()}). FOR % "
        "when pruning the 25% of the test set (the last 20% of the layouts) with the highest "
        "scores, mean ± spread over the seeds' training subsets (those of learning_curve.py). "
        "Target: issue 11's 2 points below the best baseline. A miss where no candidate "
        "alone reaches the target is not one of choosing among them."
    )
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / f"{args.name}.json").write_text(json.dumps(results, indent=1) + "\n")
    (args.out / f"{args.name}.md").write_text(report(results, header))
    print(report(results, header))


if __name__ == "__main__":
    main()
