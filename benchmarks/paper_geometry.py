"""The geometry learner in the paper's Table IV and Fig. 6 protocols, beside its networks.

    python benchmarks/paper_geometry.py --quick            # the data of paper.py --quick

Same data as ``benchmarks/paper.py`` (its step 1, cached in the same ``--work`` folder:
reference-flow layouts with nominal labels, mismatch 0; the first ``n`` layouts of each
design), same labels (every layout at its design's worst 25%) and the same test split
(split seed 0, the last 20%):

* **Table IV rows.** The geometry learner trained on ``alpha`` = 0.8, 0.1, 0.01 of each
  target (:func:`magical_prune.geotrain.train_geometry`, from scratch: it has nothing to
  transfer) and measured on the test split at the model's own decision (probability 0.5,
  as the networks' rows): accuracy, precision, recall, F1, FOR. Alpha 0 has no row: a
  geometry model learns one design.
* **Fig. 6 rows.** :func:`magical_prune.geofewshot.geometry_fewshot`: the same 16 shots per
  repeat as the networks' protocol (same seeds), fitted afresh, the test split relabelled at
  the shots' cut.

Writes ``docs/results/paper_geometry.{md,json}``; the networks' figures it is read beside are
in ``docs/results/paper.json`` (from ``paper.py``, same data and protocol).
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path
from typing import Any

from paper import DESIGNS, METRIC, PAPER, QUICK, TARGETS, make_data

from magical_prune.dataset import LabelledDataset
from magical_prune.geofewshot import geometry_fewshot
from magical_prune.geotrain import train_geometry

ALPHAS = (0.8, 0.1, 0.01)
_KEYS = ("accuracy", "precision", "recall", "f1", "for", "prune_rate", "random_for")


def table4(data: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    rows = []
    for design in DESIGNS:
        ds = LabelledDataset.open(data[design]["path"], metric=METRIC[design], worst_percent=25.0)
        for alpha in ALPHAS if design in TARGETS else (0.8,):
            start = time.perf_counter()
            result = train_geometry(ds, alpha=alpha, split_seed=0, target_for=None)
            m = result.test_metrics
            rows.append({"design": design, "alpha": alpha, "n_train": result.n_train,
                         "n_test": result.n_test, "seconds": time.perf_counter() - start,
                         "candidate": result.card.extra["geometry"]["candidate"],
                         **{k: m.get(k) for k in _KEYS}})  # fmt: skip
            print(f"{design} alpha {alpha}: FOR {m['for']}", flush=True)
    return rows


def fig6(data: dict[str, dict[str, Any]], repeats: int) -> list[dict[str, Any]]:
    rows = []
    for design in TARGETS:
        ds = LabelledDataset.open(data[design]["path"], metric=METRIC[design], worst_percent=25.0)
        start = time.perf_counter()
        result = geometry_fewshot(None, ds, shots=16, repeats=repeats, progress=False)
        s = result["summary"]
        rows.append({"design": design, "repeats": repeats, "seconds": time.perf_counter() - start,
                     **{k: s[k] for k in ("for", "random_for", "prune_rate",
                                          "share_beating_random", "for_at_share")}})  # fmt: skip
        print(f"{design} few-shot: FOR {s['for']}", flush=True)
    return rows


def _pct(v: Any) -> str:
    if isinstance(v, dict):
        return "—" if v["mean"] is None else f"{100 * v['mean']:.2f} ± {100 * v['std']:.2f}"
    return "—" if v is None else f"{100 * v:.2f}"


def _networks(out: Path) -> dict[str, Any]:
    """paper.py's figures (``paper.json`` beside the report), or empty when absent."""
    path = out / "paper.json"
    return json.loads(path.read_text()) if path.is_file() else {}


def _cnn_for(paper: dict[str, Any], design: str, alpha: float, mode: str) -> str:
    row = paper.get("table4", {}).get(f"{design}_{alpha}_{mode}")
    return "—" if row is None else _pct(row["test"]["for"])


def write(out: Path, scale: str, t4: list[dict], f6: list[dict], repeats: int) -> None:
    out.mkdir(parents=True, exist_ok=True)
    (out / "paper_geometry.json").write_text(
        json.dumps({"scale": scale, "table4": t4, "fig6": f6}, indent=1, default=str) + "\n"
    )
    lines = [
        "# The geometry learner in the paper's protocols",
        "",
        f"Written by `python benchmarks/paper_geometry.py{' --quick' if scale == 'quick' else ''}`"
        f" ({platform.machine()}, {platform.python_version()}): the data, labels and test "
        "split of `benchmarks/paper.py` at the same scale (docs/results/paper.md has the "
        "networks' figures on them). The geometry learner is trained from scratch on the "
        "target's labels: it has no weights to transfer.",
        "",
        "## Table IV protocol",
        "",
        "All figures in %. `FOR efficient w / w/o`: the paper's efficient network on the same "
        "split, fine-tuned from ota1 / trained from scratch (docs/results/paper.md).",
        "",
        "| design | alpha | training layouts | candidate | accuracy | precision | recall | F1 "
        "| FOR | FOR efficient w / w/o | prune rate | random FOR |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    paper = _networks(out)
    for r in t4:
        lines.append(
            f"| {r['design']} | {r['alpha']} | {r['n_train']} | {r['candidate']} | "
            + " | ".join(_pct(r[k]) for k in ("accuracy", "precision", "recall"))
            + f" | {r['f1']:.3f} | {_pct(r['for'])} | "
            + f"{_cnn_for(paper, r['design'], r['alpha'], 'w')} / "
            + f"{_cnn_for(paper, r['design'], r['alpha'], 'wo')} | "
            + " | ".join(_pct(r[k]) for k in ("prune_rate", "random_for"))
            + " |"
        )
    lines += [
        "",
        f"## Fig. 6 protocol ({repeats} repeats of 16 shots)",
        "",
        "| design | FOR % | efficient fine-tuned FOR % | random FOR % | prune rate % "
        "| beats random in | FOR % at 25% pruned (by rank) | seconds |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in f6:
        share = r["share_beating_random"]
        lines.append(
            f"| {r['design']} | {_pct(r['for'])} | "
            f"{_pct(paper.get('fewshot', {}).get(r['design'], {}).get('summary', {}).get('for'))} | "
            f"{_pct(r['random_for'])} | "
            f"{_pct(r['prune_rate'])} | {'—' if share is None else f'{100 * share:.0f}%'} | "
            f"{_pct(r['for_at_share'])} | {r['seconds']:.1f} |"
        )
    (out / "paper_geometry.md").write_text("\n".join(lines) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="paper.py's 2-CPU scale")
    parser.add_argument("--work", type=Path, default=Path("out/paper"))
    parser.add_argument("--out", type=Path, default=Path("docs/results"))
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=None, help="few-shot repeats")
    args = parser.parse_args()
    scale = QUICK if args.quick else PAPER
    repeats = args.repeats or scale.fewshot_repeats
    data = make_data(args.work, scale, args.jobs)
    write(args.out, scale.name, table4(data), fig6(data, repeats), repeats)
    print(f"wrote {args.out / 'paper_geometry.md'}")


if __name__ == "__main__":
    main()
