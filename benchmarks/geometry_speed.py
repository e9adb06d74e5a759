"""Speed of the geometry learner (issue 11's targets): fit, batch scoring, hook latency.

    python benchmarks/geometry_speed.py                      # generates 2,000 ota3 layouts
    python benchmarks/geometry_speed.py --runs runs          # reuses runs/ota3 if there

* fit: :func:`magical_prune.geomodel.fit_rows` on 1,600 labelled ota3 layouts (cross-validated
  choice among all candidates, then the refit; trees under one OpenMP thread). Target <= 2 min.
* batch scoring: :meth:`GeometryScorer.score` on placements in memory (geometry vectors +
  model), one process. Target >= 2,000 placements/s on 2 cores.
* hook latency: one placement at a time, as the hook decides (``GeometryHook`` after its
  warm-up uses the same learner); median and 95th percentile. Target median <= 2 ms.
* the design-agnostic prior (what ``default`` gives a new design): adapting the bundled
  prior to the 2,000 placements (their typical layout), then scoring them.

The layouts come from the reference flow (``refflow generate ota3``), so the figures include
a real placement's geometry (45 devices of ota3, its nets and mirrored pairs).
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from magical_prune.adapters.discovery import find_layouts, load_placement
from magical_prune.geometry import flat_vector
from magical_prune.geomodel import DesignColumns, fit_rows
from magical_prune.predict import bundled_prior_path
from magical_prune.priormodel import PriorScorer


def layouts(runs: Path, n: int) -> list[Path]:
    folder = runs / "ota3"
    have = len(find_layouts(folder)) if folder.exists() else 0
    if have < n:
        subprocess.run([sys.executable, "-m", "magical_prune.cli", "refflow", "generate", "ota3",
                        "-o", str(runs), "-n", str(n), "--seed", "0", "--jobs", "2"],
                       check=True)  # fmt: skip
    return find_layouts(folder)[:n]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=Path, default=Path("runs"))
    parser.add_argument("--labels", type=int, default=1600)
    parser.add_argument("--repeats", type=int, default=5, help="timed batch runs")
    args = parser.parse_args()
    paths = layouts(args.runs, 2000)
    placements = [load_placement(p) for p in paths]
    placements = [p for p in placements if "Offset_Voltage" in p.performance]
    rows = np.stack([flat_vector(p) for p in placements])
    values = np.array([p.performance["Offset_Voltage"] for p in placements])
    n = min(args.labels, len(rows))
    start = time.perf_counter()
    model = fit_rows(rows[:n], values[:n], DesignColumns.of(placements[0]))
    fit_s = time.perf_counter() - start
    geo = model.card.extra["geometry"]
    print(f"fit on {n} labels: {fit_s:.1f} s, chose {geo['candidate']} "
          f"(CV Spearman {dict(geo['cv_spearman'])})  [target: <= 120 s]")  # fmt: skip
    held = placements[n:] or placements
    rates = []
    for _ in range(args.repeats):
        start = time.perf_counter()
        model.score(held)
        rates.append(len(held) / (time.perf_counter() - start))
    print(f"batch scoring ({len(held)} placements, 1 process): median "
          f"{statistics.median(rates):,.0f} placements/s, best {max(rates):,.0f}  "
          "[target: >= 2,000/s on 2 cores]")  # fmt: skip
    lat = []
    for p in held[:300]:
        start = time.perf_counter()
        model.decide(model.score(p))
        lat.append(1e3 * (time.perf_counter() - start))
    lat.sort()
    print(
        f"hook latency (one placement): median {statistics.median(lat):.2f} ms, "
        f"p95 {lat[int(0.95 * (len(lat) - 1))]:.2f} ms  [target: median <= 2 ms]"
    )
    prior_speed(placements)


def prior_speed(placements: list) -> None:
    """Adapt the bundled prior to ``placements`` and score them (best of 3)."""
    path = bundled_prior_path()
    adapt_s, score_s = [], []
    for _ in range(3):
        start = time.perf_counter()
        prior = PriorScorer.load(path).adapt(placements)
        adapt_s.append(time.perf_counter() - start)
        start = time.perf_counter()
        prior.score(placements)
        score_s.append(time.perf_counter() - start)
    print(f"prior: adapt to {len(placements)} placements {min(adapt_s):.2f} s, score them "
          f"{len(placements) / min(score_s):,.0f} placements/s")  # fmt: skip


if __name__ == "__main__":
    main()
