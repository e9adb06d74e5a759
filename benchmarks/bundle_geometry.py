"""Train and bundle the per-design geometry models (``magical_prune/assets/geometry/``).

    python benchmarks/bundle_geometry.py runs16k --cache geocache   # ~10 min on two cores

``runs16k`` holds the reference designs' generated folders (``refflow generate DESIGN -n
16000 --seed 0``, evaluated); ``--cache`` is the geometry cache of
``benchmarks/learning_curve.py`` (shared, so rows are read once). For each of ota1-ota4:

1. the first 80% of the layouts (generation order) are the training split, less the 20
   layouts bundled under ``examples/`` (``<design>_0`` .. ``<design>_19``: the README scores
   them, so the model must not have learnt them); the last 20% are held out;
2. the geometry learner (:func:`magical_prune.geomodel.fit_rows`, seed 0) is fitted on the
   training split, its threshold calibrated for FOR <= 10% on its out-of-fold scores;
3. it is measured on the held-out 20% (bad = worst 25% of the design's layouts): FOR when
   pruning the 25% scored worst, Spearman, and the prune rate / FOR of its calibrated
   threshold, which the card keeps as its test metrics;
4. it is saved as ``<design>.pt``, and ``index.json`` maps each design's digest
   (:func:`magical_prune.predict.design_digest`: devices, nets and sizes; ota1 and ota2
   share a netlist) to its file, so the bundled model (``default``) can pick the design's
   own model without opening every file.

Writes the models, ``index.json`` and ``docs/results/bundled_geometry.json``; prints the table
that ``docs/model.md`` quotes. Same input, same files (seeded, one thread per fit).
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
from learning_curve import PRUNE_SHARE, REFERENCE_DESIGNS, load_design, measures

from magical_prune.adapters.discovery import find_layouts, load_placement
from magical_prune.geomodel import DesignColumns, fit_rows
from magical_prune.labels import label_by_rank
from magical_prune.metrics import classification_metrics
from magical_prune.predict import design_digest
from magical_prune.refflow.bench import design_metric

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = 20  # examples/<design> holds layouts <design>_0 .. _19 of the same seed-0 order


def bundle_one(folder: Path, cache: Path, out: Path) -> dict:
    design = folder.name
    metric = design_metric(folder)
    d = load_design(folder, metric, cache)
    n = len(d.value)
    bundled_examples = {f"{design}_{k}" for k in range(EXAMPLES)}
    train = np.array([i for i in range(int(0.8 * n)) if d.ids[i] not in bundled_examples])
    test = np.arange(int(0.8 * n), n)
    rows = np.hstack([d.layout, d.pairs, d.heat, d.roles])
    first = load_placement(find_layouts(folder)[0])
    columns = DesignColumns.of(first)
    if sum(columns.widths) != rows.shape[1]:
        raise SystemExit(f"{design}: cached rows have {rows.shape[1]} columns, the design "
                         f"{sum(columns.widths)}: delete the cache")  # fmt: skip
    start = time.perf_counter()
    scorer = fit_rows(rows[train], d.value[train], columns, metric=metric, seed=0,
                      target_for=0.10, design=design,
                      data={"path": f"refflow generate {design} -n {n} --seed 0",
                            "n_layouts": n, "n_train": len(train), "n_test": len(test),
                            "test_fraction": 0.2})  # fmt: skip
    fit_s = time.perf_counter() - start
    p = scorer.score_prepared(rows[test])
    bad = label_by_rank(d.value, metric, 100 * PRUNE_SHARE).labels.astype(bool)[test]
    # the card's test metrics: the held-out layouts at the calibrated threshold
    scorer.card = replace(scorer.card, created_by="benchmarks/bundle_geometry.py",
                          test_metrics=classification_metrics(bad, p, scorer.threshold))  # fmt: skip
    path = scorer.save(out / f"{design}.pt")
    held_out = measures(p, d.badness[test], bad)
    pruned = p >= scorer.threshold
    return {
        "design": design, "metric": metric, "file": path.name,
        "columns_sha256": columns.digest, "design_sha256": design_digest(first),
        "n_train": int(len(train)),
        "n_test": int(len(test)), "candidate": scorer.learner.chosen,
        "fit_s": round(fit_s, 1), "size_bytes": path.stat().st_size,
        "threshold": scorer.threshold,
        "held_out": {**held_out,
                     "prune_rate_at_threshold": float(pruned.mean()),
                     "for_at_threshold": float(bad[~pruned].mean()) if (~pruned).any()
                     else 0.0},
    }  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("runs", type=Path, help="folder of the generated reference designs")
    parser.add_argument("--cache", type=Path, required=True)
    parser.add_argument("--out", type=Path, default=ROOT / "magical_prune/assets/geometry")
    parser.add_argument("--designs", nargs="+", default=list(REFERENCE_DESIGNS))
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    results = []
    for design in args.designs:
        results.append(bundle_one(args.runs / design, args.cache, args.out))
        r = results[-1]
        h = r["held_out"]
        print(f"{design}: {r['candidate']}, {r['n_train']} labels, fit {r['fit_s']} s, "
              f"{r['size_bytes'] / 1e6:.2f} MB; held out {r['n_test']}: FOR@25% "
              f"{100 * h['for']:.1f}%, Spearman {h['spearman']:.3f}, threshold prunes "
              f"{100 * h['prune_rate_at_threshold']:.1f}% at FOR "
              f"{100 * h['for_at_threshold']:.1f}%", flush=True)  # fmt: skip
    index = {"designs": [{k: r[k] for k in ("design", "metric", "file", "design_sha256")}
                         for r in results]}  # fmt: skip
    (args.out / "index.json").write_text(json.dumps(index, indent=1) + "\n")
    report = ROOT / "docs/results/bundled_geometry.json"
    report.write_text(json.dumps(results, indent=1) + "\n")
    print(f"wrote {args.out}/index.json and {report}")


if __name__ == "__main__":
    main()
