"""Label statistics of generated reference-flow data: spread, and whether it depends on placement.

For each design folder written by ``magical-prune refflow generate`` (``OUT/<design>/``):

* the distribution of the design's metric (|offset| in mV, or CMRR in dB) with its 10th/90th
  percentiles and their ratio (issue 3 asks for a 90th/10th ratio of |offset| >= 3), saved
  as a histogram like the paper's Fig. 1 (``--plots DIR``);
* whether the metric depends on the placement: Spearman rank correlation with the input
  pair's spread (distance between the centres of the two devices gated by the inputs),
  and the FOR of pruning the worst 25% by that one geometric number, against the 25% of
  random pruning (FOR = bad ones among those kept; lower is better);
* with ``--resimulate SCALE``: the same layouts simulated again with another mismatch scale
  (nothing is written), its statistics, and the rank correlation between the written labels
  and the re-simulated ones; with ``SCALE = 0`` this separates the placement-dependent
  (systematic) part of the metric from the random mismatch draw.

    python benchmarks/refflow_labels.py out/refflow/ota1 out/refflow/ota3 --plots docs/results
    python benchmarks/refflow_labels.py out/refflow/ota3 --resimulate 0
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from scipy.stats import spearmanr

from magical_prune.adapters import magical
from magical_prune.refflow.designs import load_design


def input_pair(circuit, bench) -> tuple[str, str]:
    """The devices whose gates sit on the two inputs."""
    found = []
    for net in bench.inputs:
        gates = [d for d, pin in circuit.nets[net].pins if pin == "G"]
        if not gates:
            raise SystemExit(f"no device is gated by {net}")
        found.append(gates[0])
    return found[0], found[1]


def collect(folder: Path) -> tuple[str, np.ndarray, np.ndarray, str, list[Path]]:
    """(design name, metric values, input-pair spreads in um, metric name, the labelled
    layout folders)."""
    layouts = magical.find_layouts(folder)
    first = magical.load_placement(layouts[0])
    design = load_design(folder)
    metric = design.bench.metric
    a, b = input_pair(first.circuit, design.bench)
    values, spreads, labelled = [], [], []
    for layout in layouts:
        perf_path = layout / "performance.txt"
        if not perf_path.is_file():
            continue
        labelled.append(layout)
        perf = magical.read_performance(perf_path)
        names, rects = magical.read_place_result(layout / "place.result")
        index = {n: i for i, n in enumerate(names)}
        ca = (rects[index[a], :2] + rects[index[a], 2:]) / 2
        cb = (rects[index[b], :2] + rects[index[b], 2:]) / 2
        values.append(perf[metric])
        spreads.append(float(np.abs(ca - cb).sum()) / 1000)
    return design.name, np.array(values), np.array(spreads), metric, labelled


def worst_mask(values: np.ndarray, metric: str, share: float = 0.25) -> np.ndarray:
    """The worst ``share``: largest |offset|, smallest CMRR/gain."""
    score = np.abs(values) if metric == "Offset_Voltage" else -values
    cut = np.quantile(score, 1 - share)
    return score >= cut


def describe(
    name: str, values: np.ndarray, spreads: np.ndarray, metric: str, what: str
) -> tuple[np.ndarray, str, str]:
    """Print the spread and placement dependence of one set of metric values."""
    if metric == "Offset_Voltage":
        shown, unit, label = np.abs(values) * 1e3, "mV", "|input-referred offset| (mV)"
    else:
        shown, unit, label = values, "dB", f"{metric} (dB)"
    p10, p50, p90 = np.percentile(shown, [10, 50, 90])
    bad = worst_mask(values, metric)
    rho, pval = spearmanr(shown, spreads)
    # Prune the 25% with the widest input pair; FOR = bad share among the kept ones.
    pruned = spreads >= np.quantile(spreads, 0.75)
    kept_bad = bad[~pruned].mean() if (~pruned).any() else float("nan")
    print(
        f"{name} ({what}): n={len(values)} {metric} p10={p10:.3g} {unit} median={p50:.3g} "
        f"p90={p90:.3g} p90/p10={p90 / p10:.2f}; Spearman(metric, pair spread)={rho:+.2f} "
        f"(p={pval:.1e}); FOR pruning by pair spread={kept_bad:.3f} (random 0.25)"
    )
    return shown, unit, label


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("folders", nargs="+", type=Path)
    parser.add_argument("--plots", type=Path, default=None, help="write <design>_hist.png here")
    parser.add_argument(
        "--resimulate",
        type=float,
        default=None,
        metavar="SCALE",
        help="also simulate the layouts again with this mismatch scale (nothing written)",
    )
    parser.add_argument("--jobs", type=int, default=2, help="ngspice processes (--resimulate)")
    args = parser.parse_args()
    for folder in args.folders:
        name, values, spreads, metric, layouts = collect(folder)
        shown, unit, label = describe(name, values, spreads, metric, "written labels")
        if args.resimulate is not None:
            from magical_prune.refflow.evaluator import evaluate_layouts

            results = evaluate_layouts(layouts, args.resimulate, jobs=args.jobs, write=False)
            again = np.array([r.metrics[metric] if r.metrics else np.nan for r in results])
            ok = np.isfinite(again)
            describe(name, again[ok], spreads[ok], metric, f"mismatch {args.resimulate:g}")
            a = np.abs(values[ok]) if metric == "Offset_Voltage" else values[ok]
            b = np.abs(again[ok]) if metric == "Offset_Voltage" else again[ok]
            print(f"{name}: Spearman(written labels, mismatch {args.resimulate:g}) = "
                  f"{spearmanr(a, b)[0]:+.2f}")  # fmt: skip
        if args.plots is not None:
            import matplotlib

            matplotlib.use("Agg")
            import matplotlib.pyplot as plt

            args.plots.mkdir(parents=True, exist_ok=True)
            fig, ax = plt.subplots(figsize=(4.2, 3.0), dpi=110)
            ax.hist(shown, bins=30, color="#4477aa", edgecolor="white", linewidth=0.5)
            cut = np.quantile(shown, 0.75 if metric == "Offset_Voltage" else 0.25)
            ax.axvline(cut, color="#cc3311", linestyle="--", linewidth=1, label="worst 25% cut")
            ax.set_xlabel(label)
            ax.set_ylabel("layouts")
            ax.set_title(f"{name}: {len(values)} placements (reference flow)", fontsize=9)
            ax.legend(fontsize=7, frameon=False)
            fig.tight_layout()
            fig.savefig(args.plots / f"{name}_hist.png")
            plt.close(fig)


if __name__ == "__main__":
    main()
