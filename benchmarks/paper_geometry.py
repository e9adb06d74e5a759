"""The geometry learner in the paper's Table IV and Fig. 6 protocols, beside its networks.

    python benchmarks/paper_geometry.py --quick            # the data of paper.py --quick

Same data as ``benchmarks/paper.py`` (its step 1, cached in the same ``--work`` folder:
reference-flow layouts with nominal labels, mismatch 0; the first ``n`` layouts of each
design), same labels (every layout at its design's worst 25%) and the same test split
(split seed 0, the last 20%):

* **Table IV rows.** The geometry learner trained on ``alpha`` = 0.8, 0.1, 0.01 of each
  target (:func:`magical_prune.geotrain.train_geometry`, from scratch: it has nothing to
  transfer) and measured on the test split at the model's own decision (probability 0.5,
  as the networks' rows): accuracy, precision, recall, F1, FOR. Under 32 labels the learner
  averages in the design-agnostic prior fitted on the *other* designs (leave one design
  out, as the product does with the bundled prior on a new design). Alpha 0: that prior
  alone, its typical layout read off the target's unlabelled layouts outside the test
  split, deciding at its card's threshold (fitted on the source designs).
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
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
from paper import DESIGNS, METRIC, PAPER, PAPER_T4, QUICK, TARGETS, make_data

from magical_prune.dataset import LabelledDataset
from magical_prune.geofewshot import geometry_fewshot
from magical_prune.geomodel import split_rows
from magical_prune.geotrain import train_geometry
from magical_prune.labels import get_metric
from magical_prune.metrics import classification_metrics
from magical_prune.priormodel import PriorScorer, pretrained_scorer
from magical_prune.roleprior import DesignStats, raw_inputs

ALPHAS = (0.8, 0.1, 0.01)
_KEYS = ("accuracy", "precision", "recall", "f1", "for", "prune_rate", "random_for")


def _open(data: dict[str, dict[str, Any]], design: str) -> LabelledDataset:
    return LabelledDataset.open(data[design]["path"], metric=METRIC[design], worst_percent=25.0)


def design_inputs(data: dict[str, dict[str, Any]]) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Per design, the prior's raw inputs and the badness of every layout (data set order)."""
    out = {}
    for design in DESIGNS:
        ds = _open(data, design)
        info = ds.data.geometry_info or {}
        tables = split_rows(ds.data.read_geometry(ds.rows), info["widths"])
        out[design] = (raw_inputs(tables.layout, tables.roles, len(info["devices"])),
                       get_metric(METRIC[design]).badness(np.asarray(ds.metric_values)))  # fmt: skip
    return out


def lodo_priors(inputs: dict[str, tuple[np.ndarray, np.ndarray]]) -> dict[str, PriorScorer]:
    """Per design, the design-agnostic prior fitted on the *other* designs (what the learner
    averages in under 32 labels, and the alpha-0 row: never one that learnt the target)."""
    return {d: pretrained_scorer({o: v for o, v in inputs.items() if o != d}) for d in inputs}


def zero_shot(ds: LabelledDataset, raw: np.ndarray, prior: PriorScorer) -> dict[str, Any]:
    """The alpha-0 row: the prior adapted on the unlabelled layouts outside the test split,
    deciding at its card's threshold (fitted on the source designs to prune a quarter)."""
    split = ds.split(0.0, 0, 0.2)
    adapted = replace(prior, stats=DesignStats.of(raw[split.pool]))
    scores = adapted.score_prepared(raw[split.test])
    m = classification_metrics(ds.labels[split.test], scores, adapted.threshold)
    return {"n_train": 0, "n_test": len(split.test), "candidate": "prior (zero-shot)",
            **{k: m.get(k) for k in _KEYS}}  # fmt: skip


def table4(
    data: dict[str, dict[str, Any]],
    inputs: dict[str, tuple[np.ndarray, np.ndarray]],
    priors: dict[str, PriorScorer],
) -> list[dict[str, Any]]:
    rows = []
    for design in DESIGNS:
        ds = _open(data, design)
        for alpha in ALPHAS if design in TARGETS else (0.8,):
            start = time.perf_counter()
            result = train_geometry(ds, alpha=alpha, split_seed=0, target_for=None,
                                    prior=priors[design].prior)  # fmt: skip
            m = result.test_metrics
            rows.append({"design": design, "alpha": alpha, "n_train": result.n_train,
                         "n_test": result.n_test, "seconds": time.perf_counter() - start,
                         "candidate": result.card.extra["geometry"]["candidate"],
                         **{k: m.get(k) for k in _KEYS}})  # fmt: skip
            print(f"{design} alpha {alpha}: FOR {m['for']}", flush=True)
        if design in TARGETS:
            start = time.perf_counter()
            row = zero_shot(ds, inputs[design][0], priors[design])
            rows.append({"design": design, "alpha": 0.0, **row,
                         "seconds": time.perf_counter() - start})  # fmt: skip
            print(f"{design} alpha 0: FOR {row['for']}", flush=True)
    return rows


def fig6(
    data: dict[str, dict[str, Any]], repeats: int, priors: dict[str, PriorScorer]
) -> list[dict[str, Any]]:
    rows = []
    for design in TARGETS:
        ds = _open(data, design)
        start = time.perf_counter()
        result = geometry_fewshot(None, ds, shots=16, repeats=repeats, progress=False,
                                  prior=priors[design].prior)  # fmt: skip
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


def _paper_for(design: str, alpha: float) -> str:
    """The paper's own Table IV FOR, with / without transfer."""
    row = PAPER_T4.get((design, alpha), {})
    return " / ".join(f"{row[m][4]:.2f}" if m in row else "—" for m in ("w", "wo"))


def _same_data(paper: dict[str, Any], data: dict[str, dict[str, Any]]) -> str:
    """A sentence when ``paper.json``'s data sets are not these (content hashes differ)."""
    differ = [d for d in data if paper.get("data", {}).get(d, {}).get("content_hash")
              != data[d].get("content_hash")]  # fmt: skip
    if not paper or not differ:
        return ""
    return (
        f" The networks' figures were measured on data sets of {', '.join(differ)} whose "
        "content hash differs from these (built from another generation of the layouts), "
        "so compare them loosely."
    )


def write(out: Path, scale: str, t4: list[dict], f6: list[dict], repeats: int,
          data: dict[str, dict[str, Any]]) -> Path:  # fmt: skip
    """``paper_geometry.{md,json}`` (``paper_geometry_paper.*`` at the paper's scale)."""
    out.mkdir(parents=True, exist_ok=True)
    stem = out / ("paper_geometry" if scale == "quick" else f"paper_geometry_{scale}")
    stem.with_suffix(".json").write_text(
        json.dumps({"scale": scale, "table4": t4, "fig6": f6}, indent=1, default=str) + "\n"
    )
    paper = _networks(out)
    if paper.get("scale", {}).get("name") != scale:
        paper = {}  # the networks' figures are comparable on the same data only
    lines = [
        "# The geometry learner in the paper's protocols",
        "",
        f"Written by `python benchmarks/paper_geometry.py{' --quick' if scale == 'quick' else ''}`"
        f" ({platform.machine()}, {platform.python_version()}): the data, labels and test "
        f"split of `benchmarks/paper.py` at its **{scale}** scale. The geometry learner is "
        "trained from scratch on the target's labels (it has no weights to transfer); under "
        "32 labels it averages in the design-agnostic prior fitted on the other designs, and "
        "alpha 0 is that prior alone.",
        "",
        "## Table IV protocol",
        "",
        "All figures in %. `FOR efficient w / w/o`: the paper's efficient network on the same "
        "data, fine-tuned from ota1 / trained from scratch (docs/results/paper.md; — where "
        "`paper.py` has not run at this scale). `FOR paper w / w/o`: the paper's Table IV "
        "(TSMC 40 nm post-layout simulation: other data, same protocol)." + _same_data(paper, data),
        "",
        "| design | alpha | training layouts | candidate | accuracy | precision | recall | F1 "
        "| FOR | FOR efficient w / w/o | FOR paper w / w/o | prune rate | random FOR |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in t4:
        lines.append(
            f"| {r['design']} | {r['alpha']} | {r['n_train']} | {r['candidate']} | "
            + " | ".join(_pct(r[k]) for k in ("accuracy", "precision", "recall"))
            + f" | {r['f1']:.3f} | {_pct(r['for'])} | "
            + f"{_cnn_for(paper, r['design'], r['alpha'], 'w')} / "
            + f"{_cnn_for(paper, r['design'], r['alpha'], 'wo')} | "
            + f"{_paper_for(r['design'], r['alpha'])} | "
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
    stem.with_suffix(".md").write_text("\n".join(lines) + "\n")
    return stem.with_suffix(".md")


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
    inputs = design_inputs(data)
    priors = lodo_priors(inputs)  # fitted once for both tables
    report = write(args.out, scale.name, table4(data, inputs, priors),
                   fig6(data, repeats, priors), repeats, data)  # fmt: skip
    print(f"wrote {report}")


if __name__ == "__main__":
    main()
