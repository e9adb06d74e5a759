"""Train, calibrate and bundle the default model (``magical_prune/assets/default.pt``).

    python benchmarks/bundle_model.py            # about 15 minutes on two idle cores

Reproducible: the same command gives the same file (seeds everywhere, one torch thread).
Steps, all through the library's API (the CLI equivalents are in ``docs/model.md``):

1. ``refflow generate ota1 -n 8000 --mismatch 0`` into ``WORK/layouts`` (resumable; shared
   with ``benchmarks/paper.py``, whose ota1 layouts are the first 4,000 of these);
2. ``dataset build`` of those 8,000 layouts -> ``WORK/data/ota1_8000.h5``;
3. ``train`` the ``efficient`` network on the whole set, labelled worst 25% by
   ``Offset_Voltage`` (not balanced: the pruner has to find the 75th-percentile cut of the
   design space it explores), alpha 0.8 (6,400 layouts), default schedule;
4. ``calibrate`` its threshold on the held-out 20% for FOR <= 0.08;
5. save it with metadata saying how it was made, and measure, per reference design, the
   prune rate at FOR <= 8% of (a) the bundled model as it is and (b) the bundled model
   fine-tuned on 10% of the design (alpha 0.1), each calibrated on one half of the
   design's test split and measured on the other half (and the other way round; the mean
   of the two is reported), so the figures are out of sample. Needs the other designs'
   data sets of ``benchmarks/paper.py`` (``WORK/data/ota{2,3,4}_*.h5``); missing ones are
   generated at 2,000 layouts.

Writes ``magical_prune/assets/default.pt`` and ``docs/results/bundled_model.json``; prints
the per-design table that ``docs/model.md`` quotes.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

DESIGNS = ("ota1", "ota2", "ota3", "ota4")
METRIC = {"ota1": "Offset_Voltage", "ota2": "Offset_Voltage", "ota3": "Offset_Voltage",
          "ota4": "CMRR"}  # fmt: skip
TARGET_FOR = 0.08


def data_set(work: Path, design: str, n: int, jobs: int) -> Path:
    """``WORK/data/<design>_<n>.h5``, generated and built if missing (same as paper.py)."""
    from magical_prune.adapters.magical import find_layouts, load_placement
    from magical_prune.cli.dataset_cmd import read_layout_performance
    from magical_prune.dataset import build_dataset
    from magical_prune.refflow.generate import GenerateOptions, generate

    path = work / "data" / f"{design}_{n}.h5"
    if path.is_file():
        return path
    for existing in sorted((work / "data").glob(f"{design}_*.h5")) if design != "ota1" else []:
        return existing  # the other designs: whatever size paper.py built
    print(f"generating {design}: {n} layouts ...", flush=True)
    generate(design, work / "layouts", GenerateOptions(n=n, seed=0, jobs=jobs, mismatch=0.0),
             progress=False)  # fmt: skip
    folder = work / "layouts" / design
    layouts = [p for p in find_layouts(folder) if int(p.name.rsplit("_", 1)[1]) < n]
    path.parent.mkdir(parents=True, exist_ok=True)
    build_dataset(layouts, path, load=load_placement, read_performance=read_layout_performance,
                  jobs=jobs, attrs={"design": design, "source": str(folder.resolve()),
                                    "created_by": "benchmarks/bundle_model.py"},
                  progress=False)  # fmt: skip
    return path


def held_out_prune_rate(scores: np.ndarray, labels: np.ndarray) -> dict[str, float | None]:
    """Calibrate on one half of a test split, measure on the other, and back; the mean."""
    from magical_prune.metrics import classification_metrics
    from magical_prune.predict import calibrate_threshold

    halves = (np.arange(len(scores)) % 2 == 0, np.arange(len(scores)) % 2 == 1)
    out = []
    for cal, test in (halves, halves[::-1]):
        c = calibrate_threshold(scores[cal], labels[cal], TARGET_FOR)
        m = classification_metrics(labels[test], scores[test], c.threshold)
        out.append((c.feasible, m["prune_rate"], m["for"], m["recall"]))
    feasible = all(o[0] for o in out)
    fors = [o[2] for o in out if o[2] is not None]
    return {
        "feasible": feasible,
        "prune_rate": float(np.mean([o[1] for o in out])),
        "for": float(np.mean(fors)) if fors else None,
        "bad_pruned": float(np.mean([o[3] for o in out if o[3] is not None])),
        "base_rate": float(labels.mean()),
    }


def per_design(model_path: Path, paths: dict[str, Path], seed: int) -> dict[str, dict]:
    from magical_prune.dataset import LabelledDataset
    from magical_prune.predict import Predictor
    from magical_prune.predict.calibrate_data import score_layouts
    from magical_prune.training import TrainConfig, finetune

    rows = {}
    for design, path in paths.items():
        data = LabelledDataset.open(path, metric=METRIC[design])
        split = data.split(0.0)
        labels = data.labels[split.test]
        predictor = Predictor.load(model_path)  # scored as `score` and the hook score
        direct = held_out_prune_rate(score_layouts(predictor, data, split.test), labels)
        row = {"layouts": len(data), "test_layouts": int(len(split.test)), "as_is": direct}
        if design != "ota1":
            tuned = finetune(model_path, data, TrainConfig(alpha=0.1, seed=seed), progress=False)
            tuned_predictor = Predictor.from_model(tuned.model, tuned.card)
            row["finetuned_alpha_0.1"] = held_out_prune_rate(
                score_layouts(tuned_predictor, data, split.test), labels
            )
            row["finetuned_test_metrics"] = tuned.test_metrics
        rows[design] = row
        print(f"{design}: {json.dumps(row, default=str)[:300]}", flush=True)
    return rows


def main() -> None:
    from magical_prune.dataset import LabelledDataset
    from magical_prune.predict import calibrate_checkpoint
    from magical_prune.training import TrainConfig, train

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--work", type=Path, default=Path("out/paper"))
    parser.add_argument("--layouts", type=int, default=8000)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("-o", "--output", type=Path,
                        default=Path("magical_prune/assets/default.pt"))  # fmt: skip
    parser.add_argument("--report", type=Path, default=Path("docs/results/bundled_model.json"))
    args = parser.parse_args()
    torch.set_num_threads(1)

    start = time.perf_counter()
    ota1 = data_set(args.work, "ota1", args.layouts, args.jobs)
    others = {d: data_set(args.work, d, 2000, args.jobs) for d in DESIGNS[1:]}
    data = LabelledDataset.open(ota1, metric="Offset_Voltage")
    print(f"training efficient on {len(data)} ota1 layouts ...", flush=True)
    result = train(data, TrainConfig(arch="efficient", alpha=0.8, seed=args.seed),
                   progress=False, on_epoch=lambda r: print(
                       f"  epoch {r['epoch']}/{r['epochs']} train acc {100 * r['train_acc']:.1f}% "
                       f"test acc {100 * r.get('test_acc', 0):.1f}%", flush=True))  # fmt: skip
    trained = args.work / "models" / "bundle_ota1_trained.pt"
    trained.parent.mkdir(parents=True, exist_ok=True)
    result.save(trained)
    cal = calibrate_checkpoint(trained, ota1, TARGET_FOR, split="test")
    print(f"calibration on the ota1 test split: {cal.calibration.describe()}", flush=True)
    command = "python " + " ".join(["benchmarks/bundle_model.py", *sys.argv[1:]])
    reference = (
        f"magical-prune refflow generate ota1 -n {args.layouts} --seed 0 --mismatch 0 (reference "
        "flow: analytical placer over net-weight subsets, ngspice labels without random "
        "mismatch); dataset build at 64x64, exact rasterizer"
    )
    cal.predictor.card = replace(cal.predictor.card, created_by=command, reference_data=reference)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    cal.save(args.output)
    rows = per_design(args.output, {"ota1": ota1, **others}, args.seed)
    report = {
        "command": command,
        "model": str(args.output),
        "size_bytes": args.output.stat().st_size,
        "test_metrics": result.test_metrics,
        "calibration": cal.record,
        "per_design": rows,
        "seconds": time.perf_counter() - start,
    }
    args.report.parent.mkdir(parents=True, exist_ok=True)
    args.report.write_text(json.dumps(report, indent=1, default=str) + "\n")
    print("\n| design | bundled model as is: prune rate / FOR | fine-tuned on alpha 0.1: "
          "prune rate / FOR | bad share |")  # fmt: skip
    print("|---|---|---|---|")
    for d, r in rows.items():

        def fmt(x: dict | None) -> str:
            if x is None:
                return "—"
            f = "n/a" if x["for"] is None else f"{100 * x['for']:.1f}%"
            return f"{100 * x['prune_rate']:.1f}% / {f}" + (
                "" if x["feasible"] else " (infeasible)"
            )

        print(f"| {d} | {fmt(r['as_is'])} | {fmt(r.get('finetuned_alpha_0.1'))} | "
              f"{100 * r['as_is']['base_rate']:.1f}% |")  # fmt: skip
    print(
        f"\nwrote {args.output} ({report['size_bytes'] / 1e6:.2f} MB) and {args.report} "
        f"in {report['seconds'] / 60:.1f} min"
    )


if __name__ == "__main__":
    main()
