"""Zero-shot ranking of a design no model has seen: what carries across designs with no labels.

    python benchmarks/zero_shot.py --runs runs                  # ota1-4 in runs/
    python benchmarks/zero_shot.py --runs runs ota2 ota4 --seeds 5

The issue asks for FOR below 20% at 25% pruned on every reference design from a model
pretrained on the *other* designs (leave one design out). Every row here sees no metric
value of the target design; rows marked "unlabelled" read the geometry of some of its
layouts (placements cost no simulation), which a flow has as soon as the placer has run.

Rows (FOR at 25% pruned on the target's fixed test split, the last 20% of its layouts):

* ``random``: FOR of random pruning on the test split (the bar to clear, ~25%);
* ``|input-pair separation|``: the first entry of the role vector
  (:func:`magical_prune.geometry.role_vector`), untrained: a process gradient's mismatch of
  the input pair grows with its separation;
* ``roles prior (signed)``: ridge of the centred signed offset on the role vector of the
  other offset designs, ranked by |prediction| (the learning curve's transfer row);
* ``prior, N unlabelled``: the product's design-agnostic prior
  (:mod:`magical_prune.roleprior`, what ``default`` uses on a new design) fitted on the other
  designs, the target's typical layout read off N unlabelled layouts drawn from its training
  pool (once per seed): |z| of the role vector, z of wire length, area, aspect ratio and
  distance from the axis, weighted by non-negative least squares of each source design's
  rank of badness (offsets and CMRR alike: a rank has no units);
* ``prior, roles only, all unlabelled``: the same with the role vector alone (what the wire
  length, area and axis-distance inputs add).

Spreads: over seeds (which unlabelled layouts give the mean and spread) and a bootstrap
standard error of the test split's FOR (400 test layouts of a 2,000-layout set: ~2 points).
Writes ``docs/results/zero_shot.{md,json}`` (``--out``).
"""

from __future__ import annotations

import argparse
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from learning_curve import (
    PRUNE_SHARE,
    REFERENCE_DESIGNS,
    DesignData,
    devices_of,
    for_at_share,
    load_design,
)
from transfer_rows import pretrain_prior

from magical_prune.refflow.bench import design_metric
from magical_prune.roleprior import ROLES, DesignStats, RolePrior, raw_inputs

BOOTSTRAP = 200


@dataclass(frozen=True)
class Design:
    """A design's labelled layouts and the prior's raw inputs of each."""

    data: DesignData
    raw: np.ndarray  # :func:`magical_prune.roleprior.raw_inputs`


def roles_only(raw: np.ndarray) -> np.ndarray:
    """Raw prior inputs with everything but the role vector constant (so standardised to 0)."""
    out = raw.copy()
    out[:, ROLES:] = 0.0
    return out


def bootstrap_se(scores: np.ndarray, bad: np.ndarray, seed: int = 0) -> float:
    rng = np.random.default_rng(seed)
    draws = [for_at_share(scores[i], bad[i])
             for i in (rng.integers(0, len(bad), len(bad)) for _ in range(BOOTSTRAP))]  # fmt: skip
    return float(np.std(draws))


def design_rows(goal: Design, sources: list[Design], seeds: int, samples: list[int]) -> list[dict]:
    """Every row of one target design (``sources``: the other designs)."""
    target = goal.data
    n = len(target.value)
    test, pool = np.arange(int(0.8 * n), n), np.arange(int(0.8 * n))
    bad = (target.badness > np.quantile(target.badness, 1 - PRUNE_SHARE))[test]

    def row(name: str, per_seed: list[np.ndarray]) -> dict:
        fors = [for_at_share(s, bad) for s in per_seed]
        return {"design": target.name, "row": name, "for": fors,
                "bootstrap_se": bootstrap_se(per_seed[0], bad)}  # fmt: skip

    rng_rows = [np.random.default_rng(s).random(len(test)) for s in range(seeds)]
    rows = [
        row("random", rng_rows),
        row("|input-pair separation|", [np.abs(target.roles[test, 0])]),
    ]
    signed = pretrain_prior([d.data for d in sources])
    if signed is not None:
        rows.append(row("roles prior (signed)", [np.abs(signed.predict(target.roles[test]))]))
    for label, keep in (("", lambda r: r), (", roles only", roles_only)):
        prior = RolePrior.fit([(keep(d.raw), d.data.badness) for d in sources])
        raw = keep(goal.raw)
        for count in samples if not label else [10**9]:
            per_seed = []
            for seed in range(seeds if count < len(pool) else 1):
                seen = np.random.default_rng(seed).choice(
                    pool, min(count, len(pool)), replace=False
                )
                per_seed.append(prior.predict(DesignStats.of(raw[seen]).standardise(raw[test])))
            size = "all" if count >= len(pool) else str(count)
            rows.append(row(f"prior{label}, {size} unlabelled", per_seed))
    return rows


def render(rows: list[dict], designs: list[str]) -> str:
    names = list(dict.fromkeys(r["row"] for r in rows))
    lines = ["# Zero-shot: pretrained on the other designs, no label of the target", "",
             "FOR % at 25% pruned on the target's test split (mean ± sd over seeds; "
             "[bootstrap se of the test split]). Made by `benchmarks/zero_shot.py`.", "",
             "| row | " + " | ".join(designs) + " | worst |",
             "|---|" + "---|" * (len(designs) + 1)]  # fmt: skip
    for name in names:
        cells, means = [], []
        for d in designs:
            hit = next((r for r in rows if r["row"] == name and r["design"] == d), None)
            if hit is None:
                cells.append("-")
                continue
            mean, sd = 100 * np.mean(hit["for"]), 100 * np.std(hit["for"])
            means.append(mean)
            spread = f" ± {sd:.1f}" if len(hit["for"]) > 1 else ""
            cells.append(f"{mean:.1f}{spread} [{100 * hit['bootstrap_se']:.1f}]")
        shown = name.replace("|", "\\|")  # a bar inside a cell ends it
        lines.append(f"| {shown} | " + " | ".join(cells) + f" | {max(means):.1f} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("designs", nargs="*", default=list(REFERENCE_DESIGNS))
    parser.add_argument("--runs", type=Path, default=Path("runs"))
    parser.add_argument("--cache", type=Path, default=Path(".geometry_cache"))
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--samples", type=int, nargs="+", default=[16, 64, 256, 10**9])
    parser.add_argument("--out", type=Path, default=Path("docs/results/zero_shot"))
    args = parser.parse_args()
    data = {}
    for name in args.designs:
        d = load_design(args.runs / name, design_metric(args.runs / name), args.cache)
        data[name] = Design(d, raw_inputs(d.layout, d.roles, devices_of(args.runs / name)))
    rows = []
    for name, target in data.items():
        rows += design_rows(target, [d for n, d in data.items() if n != name], args.seeds,
                            args.samples)  # fmt: skip
    text = render(rows, list(data))
    print(text)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.with_suffix(".md").write_text(text, encoding="utf-8")
    sizes = {n: len(d.data.value) for n, d in data.items()}
    args.out.with_suffix(".json").write_text(json.dumps({"layouts": sizes, "rows": rows}, indent=1))


if __name__ == "__main__":
    main()
