"""The online hook on a new design: replay a generated design's candidates through it.

    python benchmarks/online_hook.py --runs runs ota2 ota3 ota4 --orders 3 --target-for 0.1 0.08
    python benchmarks/online_hook.py --runs runs ota2 ota3 ota4 --min-prune-share 0 0.25

Each candidate of ``runs/<design>/`` (what ``refflow generate`` wrote, in a seeded random
order standing for the placer's enumeration) goes to a :class:`magical_prune.geohook.
GeometryHook` that never saw the design; a kept candidate is "simulated" by reading its
``performance.txt`` and fed back with ``hook.update``. Every candidate is labelled, so the
figures use the truth of all of them: bad = the design's worst 25% over all its layouts.

Prints and writes (``--out``, default docs/results) per design: simulations saved (pruned
candidates), good candidates lost (pruned ones outside the worst 25%), the prune rate and
FOR of the candidates after the first ``min_results`` results, and a PNG of both counts
over the run; one row per design, order and target FOR (``--target-for`` takes several: the
hook keeps the least pruning that meets its target, so a lower target is how a user buys
more pruning; ``--min-prune-share`` likewise takes several, each run with every target).
``--jobs`` replays in worker processes (forked: the layouts are read once).
This is a replay of labelled layouts, not the placer and ngspice in the loop
(``examples/flow_with_pruning.py`` runs those); the hook sees the same inputs either way.
"""

from __future__ import annotations

import argparse
import itertools
import json
import multiprocessing
import time
from pathlib import Path

import numpy as np
from tqdm import tqdm

from magical_prune.adapters.discovery import find_layouts, load_placement
from magical_prune.geohook import GeometryHook, GeometryHookConfig
from magical_prune.labels import get_metric
from magical_prune.refflow.bench import design_metric


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


def _setting(run: dict) -> str:
    share = run["min_prune_share"]
    return f"target FOR {100 * run['target_for']:.0f}%" + (
        f", min. prune {100 * share:.0f}%" if share else ""
    )


def plot(results: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(results), figsize=(4.2 * len(results), 3.6), squeeze=False)
    for ax, (design, runs) in zip(axes[0], results.items()):
        settings = list(dict.fromkeys(_setting(run) for run in runs))
        for k, run in enumerate(runs):
            x = np.arange(1, run["candidates"] + 1)
            style = ("-", "--", ":", "-.")[settings.index(_setting(run)) % 4]
            first = k == 0 or _setting(run) != _setting(runs[k - 1])
            tag = f" ({_setting(run)})"
            ax.plot(x, run["saved_curve"], style, color="tab:green", alpha=0.8,
                    label="simulations saved" + tag if first else None)  # fmt: skip
            ax.plot(x, run["lost_curve"], style, color="tab:red", alpha=0.8,
                    label="good candidates lost" + tag if first else None)  # fmt: skip
        ax.set_title(design)
        ax.set_xlabel("candidates placed")
        ax.set_ylabel("count")
        ax.grid(alpha=0.3)
    axes[0][0].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


_PLACEMENTS: dict[str, list] = {}  # read once in the parent, shared with forked workers


def _replay_task(task: tuple[str, str, int, float, float, int, float]) -> dict:
    design, metric, seed, target, share, min_results, margin = task
    placements = _PLACEMENTS[design]
    order = np.random.default_rng(seed).permutation(len(placements))
    config = GeometryHookConfig(metric=metric, target_for=target, min_results=min_results,
                                min_prune_share=share, for_margin=margin, seed=seed)  # fmt: skip
    return {"design": design, "order": seed, "target_for": target, "min_prune_share": share,
            **replay(placements, metric, order, config)}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("designs", nargs="+", help="design folders under --runs")
    parser.add_argument(
        "--runs",
        type=Path,
        default=Path("runs"),
        help="folder of refflow runs, one sub-folder per design (default: runs)",
    )
    parser.add_argument("--orders", type=int, default=3, help="seeded candidate orders")
    parser.add_argument(
        "--target-for",
        type=float,
        nargs="+",
        default=[0.10],
        help="the hook's target FOR; several values: one replay set each",
    )
    parser.add_argument("--min-prune-share", type=float, nargs="+", default=[0.0],
                        help="the hook's min_prune_share (default 0: the target alone); "
                        "several values: one replay set each")  # fmt: skip
    parser.add_argument(
        "--min-results",
        type=int,
        default=64,
        help="results before the hook's first fit (default 64)",
    )
    parser.add_argument("--for-margin", type=float, default=0.0,
                        help="the hook's for_margin: standard errors of its FOR estimate kept "
                        "under the target (default 0)")  # fmt: skip
    parser.add_argument("--jobs", type=int, default=1, help="replays in parallel (processes)")
    parser.add_argument(
        "--out",
        type=Path,
        default=Path("docs/results"),
        help="where online_hook.{md,json,png} go (default: docs/results)",
    )
    args = parser.parse_args()
    metrics: dict[str, str] = {}  # each design's label metric, from its bench.json
    for design in args.designs:
        metric = metrics[design] = design_metric(args.runs / design)
        layouts = find_layouts(args.runs / design)
        placements = [load_placement(p) for p in tqdm(layouts, desc=f"read {design}")]
        _PLACEMENTS[design] = [p for p in placements if metric in p.performance]
    tasks = [(d, metrics[d], seed, t, share, args.min_results, args.for_margin)
             for share in args.min_prune_share for t in args.target_for for d in args.designs
             for seed in range(args.orders)]  # fmt: skip
    if args.jobs > 1:
        with multiprocessing.get_context("fork").Pool(args.jobs) as pool:
            runs = list(pool.imap(_replay_task, tasks))
    else:
        runs = [_replay_task(t) for t in tasks]
    results: dict[str, list[dict]] = {}
    for run in runs:
        results.setdefault(run["design"], []).append(run)
        print(
            f"{run['design']} order {run['order']} {_setting(run)}: "
            f"{run['simulations_saved']} of {run['candidates']} simulations saved, "
            f"{run['good_lost']} good lost; after {args.min_results} results: prune rate "
            f"{100 * run['prune_rate_after_warmup']:.1f}%, FOR "
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
    targets = " ".join(f"{t:g}" for t in args.target_for)
    shares = " ".join(f"{s:g}" for s in args.min_prune_share)
    share_arg = "" if shares == "0" else f" --min-prune-share {shares}"
    if args.for_margin:
        share_arg += f" --for-margin {args.for_margin:g}"
    lines = [
        "# The online hook on designs it never saw",
        "",
        f"Written by `python benchmarks/online_hook.py {' '.join(args.designs)} --orders "
        f"{args.orders} --target-for {targets}{share_arg}`: each design's generated layouts "
        f"replayed in {args.orders} seeded orders through a fresh `GeometryHook` per setting "
        "(target FOR, and the least share pruned once fitted, `min_prune_share`; first fit "
        f"after {args.min_results} results). Bad = the design's worst 25%; FOR and prune rate "
        "count the candidates after the first fit's warm-up (the explored candidates are kept, "
        "so they count in the FOR).",
        "",
        "| design | order | target FOR % | min. prune share % | candidates | simulations saved "
        "| good candidates lost | prune rate after warm-up % | FOR of kept after warm-up % | "
        "random FOR % | fits | decision ms (median) |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for design, runs in summary.items():
        for r in runs:
            lines.append(
                f"| {design} | {r['order']} | {100 * r['target_for']:.0f} | "
                f"{100 * r['min_prune_share']:.0f} | {r['candidates']} | "
                f"{r['simulations_saved']} | {r['good_lost']} | "
                f"{100 * r['prune_rate_after_warmup']:.1f} | "
                f"{100 * (r['for_after_warmup'] or 0):.1f} | {100 * r['for_random']:.1f} | "
                f"{r['fits']} | {r['decide_ms_median']:.1f} |"
            )
    lines += ["", "Mean over designs and orders:", "",
              "| target FOR % | min. prune share % | prune rate after warm-up % | FOR after "
              "warm-up % | runs with >= 25% pruned at FOR <= 10% |", "|---|---|---|---|---|"]  # fmt: skip
    every = [r for runs in summary.values() for r in runs]
    for share, t in itertools.product(args.min_prune_share, args.target_for):
        rs = [r for r in every if r["target_for"] == t and r["min_prune_share"] == share]
        if not rs:
            continue
        met = sum(r["prune_rate_after_warmup"] >= 0.25 and (r["for_after_warmup"] or 1) <= 0.10
                  for r in rs)  # fmt: skip
        lines.append(
            f"| {100 * t:.0f} | {100 * share:.0f} | "
            f"{100 * np.mean([r['prune_rate_after_warmup'] for r in rs]):.1f} | "
            f"{100 * np.mean([r['for_after_warmup'] or 0 for r in rs]):.1f} | {met} of {len(rs)} |"
        )
    lines += ["", "![simulations saved and good candidates lost](online_hook.png)", ""]
    path.write_text("\n".join(lines))


if __name__ == "__main__":
    main()
