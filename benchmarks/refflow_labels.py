"""Label statistics of generated reference-flow data: spread, and whether it depends on placement.

For each design folder written by ``magical-prune refflow generate`` (``OUT/<design>/``):

* the distribution of the design's metric (|offset| in µV, or CMRR in dB) with its
  10th/50th/90th percentiles and the 90th/10th ratio (issue 3 asks for a ratio of |offset|
  >= 3; for CMRR the ratio is given for |A_cm->dm|, i.e. 10^(dB spread / 20)), saved as a
  histogram like the paper's Fig. 1 (``--plots DIR``), titled with the mismatch scale the
  folder's ``refflow.json`` records;
* whether the metric depends on the placement, through two single geometric numbers:
  the input pair's spread (distance between the centres of the two devices gated by the
  inputs) and the half-perimeter wire length of the tail net (the net on the input pair's
  sources). For each: the Spearman rank correlation of the metric (|offset|, or CMRR:
  negative = larger value, worse CMRR) with it, and the FOR of pruning the 25% of layouts
  with the largest value, against the 25% of random pruning (FOR = bad ones among those
  kept, bad = worst 25% of the metric; lower is better);
* and a small learned baseline: 5-fold cross-validated ridge regression of the metric on
  hand-made geometric features (device centres and |x| from the axis, every net's HPWL,
  the outline), pruning the 25% with the worst held-out predictions: if it beats 0.25,
  the labels carry placement information a model can learn;
* with ``--resimulate SCALE``: the same layouts simulated again with another mismatch scale
  (nothing is written), its statistics, and the rank correlation between the written labels
  and the re-simulated ones; this separates the placement-dependent (systematic) part of
  the metric from the random mismatch draw.

    python benchmarks/refflow_labels.py out/refflow/ota1 out/refflow/ota3 --plots docs/results
    python benchmarks/refflow_labels.py out/refflow/ota3 --resimulate 1
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from scipy.stats import spearmanr

from magical_prune.adapters import magical
from magical_prune.refflow.designs import load_design
from magical_prune.refflow.provenance import read_provenance


def input_pair(circuit, bench) -> tuple[str, str]:
    """The devices whose gates sit on the two inputs."""
    found = []
    for net in bench.inputs:
        gates = [d for d, pin in circuit.nets[net].pins if pin == "G"]
        if not gates:
            raise SystemExit(f"no device is gated by {net}")
        found.append(gates[0])
    return found[0], found[1]


def collect(
    folder: Path,
) -> tuple[str, np.ndarray, dict[str, np.ndarray], np.ndarray, str, list[Path]]:
    """(design name, metric values, single geometric predictors per layout, the feature
    matrix of the ridge baseline, metric name, the labelled layout folders)."""
    layouts = magical.find_layouts(folder)
    first = magical.load_placement(layouts[0])
    design = load_design(folder)
    metric = design.bench.metric
    a, b = input_pair(first.circuit, design.bench)
    tail = dict(zip(first.circuit.devices[a].type.pins, first.circuit.devices[a].nets))["S"]
    values, spreads, tails, features, labelled = [], [], [], [], []
    for layout in layouts:
        perf_path = layout / "performance.txt"
        if not perf_path.is_file():
            continue
        perf = magical.read_performance(perf_path)
        if metric not in perf:
            continue
        labelled.append(layout)
        placement = magical.load_placement(layout)
        index = {n: i for i, n in enumerate(placement.names)}
        rects = placement.rects
        ca = (rects[index[a], :2] + rects[index[a], 2:]) / 2
        cb = (rects[index[b], :2] + rects[index[b], 2:]) / 2
        values.append(perf[metric])
        spreads.append(float(np.abs(ca - cb).sum()) / 1000)
        hpwl = placement.hpwl()
        tails.append(hpwl[tail] / 1000)
        centre = (rects[:, :2] + rects[:, 2:]) / 2 - (placement.bbox[:2] + placement.bbox[2:]) / 2
        outline = placement.bbox[2:] - placement.bbox[:2]
        nets = [hpwl[n] for n in sorted(hpwl)]
        features.append(np.concatenate([centre.ravel(), np.abs(centre[:, 0]), nets, outline]))
    predictors = {"pair spread": np.array(spreads), f"tail net ({tail}) HPWL": np.array(tails)}
    return (
        design.name,
        np.array(values),
        predictors,
        np.array(features, dtype=np.float64),
        metric,
        labelled,
    )


def cross_validated_ridge(
    features: np.ndarray, values: np.ndarray, metric: str, folds: int = 5, alpha: float = 10.0
) -> np.ndarray:
    """Held-out predictions of "badness" (|offset|, or -CMRR) by ridge regression on
    standardised features, ``folds``-fold with a fixed shuffle (larger = predicted worse)."""
    target = np.abs(values) if metric == "Offset_Voltage" else -values
    x = (features - features.mean(0)) / (features.std(0) + 1e-12)
    x = np.c_[x, np.ones(len(x))]
    order = np.random.default_rng(0).permutation(len(x))
    predicted = np.zeros(len(x))
    for held in np.array_split(order, folds):
        train = np.setdiff1d(order, held)
        a = x[train]
        w = np.linalg.solve(a.T @ a + alpha * np.eye(a.shape[1]), a.T @ target[train])
        predicted[held] = x[held] @ w
    return predicted


def worst_mask(values: np.ndarray, metric: str, share: float = 0.25) -> np.ndarray:
    """The worst ``share``: largest |offset|, smallest CMRR/gain."""
    score = np.abs(values) if metric == "Offset_Voltage" else -values
    cut = np.quantile(score, 1 - share)
    return score >= cut


def describe(
    name: str,
    values: np.ndarray,
    predictors: dict[str, np.ndarray],
    features: np.ndarray,
    metric: str,
    what: str,
) -> tuple[np.ndarray, str]:
    """Print the spread and placement dependence of one set of metric values."""
    if metric == "Offset_Voltage":
        shown, label = np.abs(values) * 1e6, "|input-referred offset| (µV)"
        p10, p50, p90 = np.percentile(shown, [10, 50, 90])
        spread = f"p10={p10:.3g} µV median={p50:.3g} p90={p90:.3g} p90/p10={p90 / p10:.1f}"
    else:
        shown, label = values, f"{metric} (dB)"
        p10, p50, p90 = np.percentile(shown, [10, 50, 90])
        ratio = 10 ** ((p90 - p10) / 20)
        spread = (
            f"p10={p10:.1f} dB median={p50:.1f} p90={p90:.1f} "
            f"(p90-p10 = {p90 - p10:.1f} dB: |A_cm| ratio {ratio:.1f})"
        )
    bad = worst_mask(values, metric)
    predictors = dict(predictors)
    predictors["ridge on geometry, 5-fold CV"] = cross_validated_ridge(features, values, metric)
    print(f"{name} ({what}): n={len(values)} {metric} {spread}")
    for predictor, x in predictors.items():
        rho, pval = spearmanr(np.abs(values) if metric == "Offset_Voltage" else values, x)
        pruned = x >= np.quantile(x, 0.75)  # prune the 25% with the largest value
        kept_bad = bad[~pruned].mean() if (~pruned).any() else float("nan")
        print(
            f"  {predictor}: Spearman={rho:+.2f} (p={pval:.1e}); FOR pruning the largest 25%="
            f"{kept_bad:.3f} (random 0.25)"
        )
    return shown, label


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
        name, values, predictors, features, metric, layouts = collect(folder)
        record = read_provenance(folder)
        scale = record["labels"]["mismatch"] if record and record.get("labels") else None
        what = "written labels" if scale is None else f"written labels, mismatch {scale:g}"
        shown, label = describe(name, values, predictors, features, metric, what)
        if args.resimulate is not None:
            from magical_prune.refflow.evaluator import evaluate_layouts

            results = evaluate_layouts(layouts, args.resimulate, jobs=args.jobs, write=False)
            again = np.array(
                [r.metrics.get(metric, np.nan) if r.metrics else np.nan for r in results]
            )
            ok = np.isfinite(again)
            kept = {k: v[ok] for k, v in predictors.items()}
            label_ = f"mismatch {args.resimulate:g}"
            describe(name, again[ok], kept, features[ok], metric, label_)
            a = np.abs(values[ok]) if metric == "Offset_Voltage" else values[ok]
            b = np.abs(again[ok]) if metric == "Offset_Voltage" else again[ok]
            print(f"{name}: Spearman(written labels, mismatch {args.resimulate:g}) = "
                  f"{spearmanr(a, b)[0]:+.2f}; {int((~ok).sum())} failed")  # fmt: skip
        if args.plots is not None:
            import matplotlib

            matplotlib.use("Agg")
            import matplotlib.pyplot as plt

            args.plots.mkdir(parents=True, exist_ok=True)
            fig, ax = plt.subplots(figsize=(4.2, 3.0), dpi=100)
            ax.hist(shown, bins=30, color="#4477aa", edgecolor="white", linewidth=0.5)
            cut = np.quantile(shown, 0.75 if metric == "Offset_Voltage" else 0.25)
            ax.axvline(cut, color="#cc3311", linestyle="--", linewidth=1, label="worst 25% cut")
            ax.set_xlabel(label)
            ax.set_ylabel("layouts")
            kind = "" if scale is None else (", nominal" if scale == 0 else f", mismatch {scale:g}")
            ax.set_title(f"{name}: {len(values)} placements (reference flow{kind})", fontsize=9)
            ax.legend(fontsize=7, frameon=False)
            fig.tight_layout()
            fig.savefig(args.plots / f"{name}_hist.png", metadata={"Software": None})
            plt.close(fig)


if __name__ == "__main__":
    main()
