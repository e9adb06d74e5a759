"""Simulations saved and good candidates lost over real flow runs (``flow.jsonl`` files).

    python benchmarks/flow_runs_plot.py out_ota2_s0/ota2 out_ota3_s0/ota3 ... -o flow_runs.png

Each argument is the design folder of one ``examples/flow_with_pruning.py --out OUT`` run
(``OUT/<design>/flow.jsonl``: one line per candidate, in the order the placer made them;
the design's metric is read from the run's copy of ``<design>.bench.json``).
Saved = candidates pruned so far (exact). Good lost = the good candidates pruned so far,
which the flow never simulates; it is estimated from the held-out sample, which the flow
evaluates whatever the hook decided: good pruned held-out candidates so far / the sample's
share of all candidates ("good" = not in the sample's worst 25% of the design's metric).
One panel per design, one line pair per run. Prints each run's final figures.
"""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from magical_prune.labels import get_metric  # noqa: E402
from magical_prune.refflow.bench import read_bench  # noqa: E402


def curves(folder: Path) -> dict:
    """Cumulative saved and estimated good lost of one run, by candidate."""
    rows = [json.loads(line) for line in (folder / "flow.jsonl").read_text().splitlines()]
    design = folder.name
    metric = get_metric(read_bench(folder / f"{design}.bench.json").metric)  # the flow's copy
    pruned = np.array([bool(r["prune"]) for r in rows])
    held = np.array([bool(r["held_out"]) for r in rows])
    value = np.array([np.nan if not r.get("performance") else
                      r["performance"].get(metric.name, np.nan) for r in rows], dtype=float)  # fmt: skip
    measured = held & np.isfinite(value)
    badness = np.full(len(rows), np.nan)
    badness[measured] = metric.badness(value[measured])
    cut = np.quantile(badness[measured], 0.75)
    good_pruned_held = held & pruned & measured & (badness <= cut)
    share = held.mean()
    seed = re.search(r"_s(\d+)$", folder.parent.name)  # OUT named like out_ota2_s0: "seed 0"
    run = f"seed {seed.group(1)}" if seed else folder.parent.name
    return {"design": design, "run": run, "saved": np.cumsum(pruned),
            "good_lost": np.cumsum(good_pruned_held) / share}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("runs", nargs="+", type=Path, help="OUT/<design> folders of flow runs")
    parser.add_argument("-o", "--output", type=Path, required=True, help="PNG to write")
    args = parser.parse_args()
    runs = [curves(folder) for folder in args.runs]
    designs = sorted({r["design"] for r in runs})
    fig, axes = plt.subplots(1, len(designs), figsize=(4.2 * len(designs), 3.6), squeeze=False)
    for ax, design in zip(axes[0], designs):
        for i, r in enumerate(x for x in runs if x["design"] == design):
            colour = f"C{i}"
            k = np.arange(1, len(r["saved"]) + 1)
            ax.plot(k, r["saved"], color=colour, label=f"{r['run']}: saved")
            ax.plot(k, r["good_lost"], color=colour, linestyle="--", label=f"{r['run']}: good lost")
            print(
                f"{design} {r['run']}: saved {r['saved'][-1]}, good lost ~{r['good_lost'][-1]:.0f}"
            )
        ax.set_title(f"{design}: real flow, placer + ngspice")
        ax.set_xlabel("candidates placed")
        ax.set_ylabel("simulations saved / good lost (est.)")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=6)
    fig.tight_layout()
    fig.savefig(args.output, dpi=110)
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
