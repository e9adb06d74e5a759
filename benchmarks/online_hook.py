"""The online hook on a new design: replay a generated design's candidates through it.

    python benchmarks/online_hook.py --runs runs ota2 ota3 ota4 --orders 3

Each candidate of ``runs/<design>/`` (what ``refflow generate`` wrote, in a seeded random
order standing for the placer's enumeration) goes to a :class:`magical_prune.geohook.
GeometryHook` that never saw the design; a kept candidate is "simulated" by reading its
``performance.txt`` and fed back with ``hook.update``. Every candidate is labelled, so the
figures use the truth of all of them: bad = the design's worst 25% over all its layouts.

Prints and writes (``--out``, default docs/results) per design: simulations saved (pruned
candidates), good candidates lost (pruned ones outside the worst 25%), the prune rate and
FOR of the candidates after the first ``min_results`` results, and a PNG of both counts
over the run. This is a replay of labelled layouts, not the placer and ngspice in the loop
(``examples/flow_with_pruning.py`` runs those); the hook sees the same inputs either way.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
from tqdm import tqdm

from magical_prune.adapters.discovery import find_layouts, load_placement
from magical_prune.geohook import GeometryHook, GeometryHookConfig
from magical_prune.labels import get_metric

METRIC = {"ota1": "Offset_Voltage", "ota2": "Offset_Voltage", "ota3": "Offset_Voltage",
          "ota4": "CMRR"}  # fmt: skip


def replay(placements: list, metric: str, order: np.ndarray, config: GeometryHookConfig) -> dict:
    values = np.array([p.performance[metric] for p in placements])
    badness = get_metric(metric).badness(values)
    bad = badness > np.quantile(badness, 0.75)
    hook = GeometryHook(config)
    pruned = np.zeros(len(placements), dtype=bool)
    decide_s = []
    for i in order:
        start = time.perf_counter()
        decision = hook(placements[i])
        decide_s.append(time.perf_counter() - start)
        pruned[i] = decision.prune
        if not decision.prune:
            hook.update(placements[i], placements[i].performance)
    # after the first min_results candidates (all kept while learning)
    later = order[config.min_results :]
    kept_later = later[~pruned[later]]
    return {
        "candidates": len(order),
        "simulations_saved": int(pruned.sum()),
        "good_lost": int((pruned & ~bad).sum()),
        "bad_pruned": int((pruned & bad).sum()),
        "prune_rate_after_warmup": float(pruned[later].mean()),
        "for_after_warmup": float(bad[kept_later].mean()) if len(kept_later) else None,
        "for_random": float(bad.mean()),
        "fits": hook.fits,
        "decide_ms_median": 1000 * float(np.median(decide_s)),
        "saved_curve": np.cumsum(pruned[order]).tolist(),
        "lost_curve": np.cumsum((pruned & ~bad)[order]).tolist(),
    }


def plot(results: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(results), figsize=(4.2 * len(results), 3.6), squeeze=False)
    for ax, (design, runs) in zip(axes[0], results.items()):
        for k, run in enumerate(runs):
            x = np.arange(1, run["candidates"] + 1)
            ax.plot(x, run["saved_curve"], color="tab:green", alpha=0.8,
                    label="simulations saved" if k == 0 else None)  # fmt: skip
            ax.plot(x, run["lost_curve"], color="tab:red", alpha=0.8,
                    label="good candidates lost" if k == 0 else None)  # fmt: skip
        ax.set_title(design)
        ax.set_xlabel("candidates placed")
        ax.set_ylabel("count")
        ax.grid(alpha=0.3)
    axes[0][0].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("designs", nargs="+")
    parser.add_argument("--runs", type=Path, default=Path("runs"))
    parser.add_argument("--orders", type=int, default=3, help="seeded candidate orders")
    parser.add_argument("--target-for", type=float, default=0.10)
    parser.add_argument("--min-results", type=int, default=64)
    parser.add_argument("--out", type=Path, default=Path("docs/results"))
    args = parser.parse_args()
    results: dict[str, list[dict]] = {}
    for design in args.designs:
        metric = METRIC.get(design, "Offset_Voltage")
        layouts = find_layouts(args.runs / design)
        placements = [load_placement(p) for p in tqdm(layouts, desc=f"read {design}")]
        placements = [p for p in placements if metric in p.performance]
        for seed in range(args.orders):
            order = np.random.default_rng(seed).permutation(len(placements))
            config = GeometryHookConfig(metric=metric, target_for=args.target_for,
                                        min_results=args.min_results, seed=seed)  # fmt: skip
            run = replay(placements, metric, order, config)
            results.setdefault(design, []).append(run)
            print(
                f"{design} order {seed}: {run['simulations_saved']} of {run['candidates']} "
                f"simulations saved, {run['good_lost']} good lost; after {args.min_results} "
                f"results: prune rate {100 * run['prune_rate_after_warmup']:.1f}%, FOR "
                f"{100 * (run['for_after_warmup'] or 0):.1f}% (random {100 * run['for_random']:.1f}%)"
                f", {run['fits']} fits, decision {run['decide_ms_median']:.1f} ms median",
                flush=True,
            )
    args.out.mkdir(parents=True, exist_ok=True)
    summary = {d: [{k: v for k, v in r.items() if not k.endswith("_curve")} for r in runs]
               for d, runs in results.items()}  # fmt: skip
    (args.out / "online_hook.json").write_text(json.dumps(summary, indent=1) + "\n")
    plot(results, args.out / "online_hook.png")
    write_markdown(summary, args, args.out / "online_hook.md")


def write_markdown(summary: dict, args: argparse.Namespace, path: Path) -> None:
    lines = [
        "# The online hook on designs it never saw",
        "",
        f"Written by `python benchmarks/online_hook.py {' '.join(args.designs)} --orders "
        f"{args.orders}`: each design's generated layouts replayed in {args.orders} seeded "
        f"orders through a fresh `GeometryHook` (target FOR {100 * args.target_for:.0f}%, "
        f"first fit after {args.min_results} results). Bad = the design's worst 25%; FOR and "
        "prune rate count the candidates after the first fit's warm-up.",
        "",
        "| design | order | candidates | simulations saved | good candidates lost | "
        "prune rate after warm-up % | FOR of kept after warm-up % | random FOR % | fits | "
        "decision ms (median) |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for design, runs in summary.items():
        for k, r in enumerate(runs):
            lines.append(
                f"| {design} | {k} | {r['candidates']} | {r['simulations_saved']} | "
                f"{r['good_lost']} | {100 * r['prune_rate_after_warmup']:.1f} | "
                f"{100 * (r['for_after_warmup'] or 0):.1f} | {100 * r['for_random']:.1f} | "
                f"{r['fits']} | {r['decide_ms_median']:.1f} |"
            )
    lines += ["", "![simulations saved and good candidates lost](online_hook.png)", ""]
    path.write_text("\n".join(lines))


if __name__ == "__main__":
    main()
