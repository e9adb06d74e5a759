"""Training speed: samples/s of every architecture, and the efficient network end to end.

1. Throughput (``--archs``, default all registered): training steps (forward, backward,
   optimizer) and inference passes on random ``(16, 6, 3, 64, 64)`` batches, with 2 torch
   threads and with 1 (:func:`magical_prune.models.analysis.measure_throughput`; best and
   median of ``--steps`` timed steps after a warm-up). MACs per sample beside them.
2. End to end (``--data``): ``magical_prune.training.train`` of the ``efficient`` network
   with its default schedule on a labelled data set (meant: 8,000 reference-flow ota1
   layouts, ``magical-prune refflow generate ota1 -o out/ref -n 8000 --mismatch 0`` then
   ``magical-prune dataset build out/ref/ota1 -o out/ota1_8k.h5``), whole set labelled at
   the worst 25%, alpha 0.8 (80% train, 20% test). Prints wall time, process CPU time, the
   per-epoch test accuracy and the time at which the test accuracy first came within
   ``--within`` points of its final value ("trained to its final accuracy").
   Target: <= 10 minutes on 2 cores.

Run on an otherwise idle machine (``taskset -c 0,1 python benchmarks/train.py ...``). On
a shared, loaded machine wall times are slower and noisy; the CPU time printed beside them
says what the work itself cost.

    python benchmarks/train.py                       # throughput table only
    python benchmarks/train.py --data out/ota1_8k.h5 --skip-throughput
"""

from __future__ import annotations

import argparse
import json
import resource
import time

import torch

from magical_prune.models import create_model, list_models
from magical_prune.models.analysis import count_macs, measure_throughput


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def throughput_table(archs: list[str], steps: int, batch: int) -> list[dict[str, float | str]]:
    rows = []
    print("| arch | MACs/sample | threads | train samples/s (best / median) | "
          "inference samples/s (best / median) |")  # fmt: skip
    print("|---|---|---|---|---|")
    for arch in archs:
        torch.manual_seed(0)
        model = create_model(arch)
        macs = count_macs(model)
        for threads in (2, 1):
            # the heavy paper networks take seconds per step: fewer timed steps for them
            n = steps if macs < 5e8 else max(2, steps // 3)
            t = measure_throughput(model, batch_size=batch, steps=n, threads=threads)
            row = {"arch": arch, "macs": macs, "threads": threads, "train": t.train,
                   "train_median": t.train_median, "infer": t.infer,
                   "infer_median": t.infer_median}  # fmt: skip
            rows.append(row)
            print(f"| {arch} | {macs / 1e6:,.0f}M | {threads} | {t.train:,.1f} / "
                  f"{t.train_median:,.1f} | {t.infer:,.1f} / {t.infer_median:,.1f} |",
                  flush=True)  # fmt: skip
    return rows


def end_to_end(path: str, threads: int, within: float, epochs: int | None) -> dict:
    from magical_prune.dataset import LabelledDataset
    from magical_prune.training import TrainConfig, train

    torch.set_num_threads(threads)
    wall0, cpu0 = time.perf_counter(), _cpu_seconds()
    data = LabelledDataset.open(path)
    load_s = time.perf_counter() - wall0
    marks: list[tuple[int, float, float, float | None]] = []

    def on_epoch(r: dict) -> None:
        elapsed = time.perf_counter() - wall0
        marks.append((r["epoch"], elapsed, _cpu_seconds() - cpu0, r.get("test_acc")))
        acc = r.get("test_acc")
        print(f"  epoch {r['epoch']}/{r['epochs']}: {elapsed:6.1f} s wall, "
              f"{_cpu_seconds() - cpu0:6.1f} s CPU, train acc {100 * r['train_acc']:.2f}%, "
              f"test acc {'n/a' if acc is None else f'{100 * acc:.2f}%'}", flush=True)  # fmt: skip

    config = TrainConfig(arch="efficient", alpha=0.8, epochs=epochs)
    result = train(data, config, progress=False, on_epoch=on_epoch)
    wall, cpu = time.perf_counter() - wall0, _cpu_seconds() - cpu0
    final = result.test_metrics["accuracy"]
    # per-epoch figures use the first eval_max test layouts; the final one all of them
    last_epoch_acc = marks[-1][3]
    reached = next(
        (m for m in marks if m[3] is not None and m[3] >= last_epoch_acc - within / 100), marks[-1]
    )
    out = {
        "data": path,
        "layouts": len(data),
        "train_layouts": int(len(result.split.train)),
        "test_layouts": int(len(result.split.test)),
        "epochs": result.config.epochs,
        "threads": threads,
        "load_s": load_s,
        "wall_s": wall,
        "cpu_s": cpu,
        "final_test_accuracy": final,
        "final_test_for": result.test_metrics["for"],
        "reached_epoch": reached[0],
        "reached_wall_s": reached[1],
        "reached_cpu_s": reached[2],
    }
    print(
        f"efficient on {len(data)} layouts ({out['train_layouts']} train, alpha 0.8, "
        f"{out['epochs']} epochs, {threads} threads): {wall / 60:.1f} min wall "
        f"({cpu / 60:.1f} min CPU), final test accuracy {100 * final:.2f}% "
        f"(FOR {100 * (out['final_test_for'] or 0):.2f}%); within {within:g} points of the "
        f"last epoch's accuracy at epoch {reached[0]}, {reached[1] / 60:.1f} min wall. "
        f"Target <= 10 min: {'met' if wall <= 600 else 'NOT met'} (wall)."
    )
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--archs", nargs="*", default=None, help="Architectures [all].")
    parser.add_argument("--steps", type=int, default=6, help="Timed steps per measurement.")
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--data", default=None, help="Data set for the end-to-end run.")
    parser.add_argument("--threads", type=int, default=2, help="Threads of the end-to-end run.")
    parser.add_argument("--epochs", type=int, default=None, help="End-to-end epochs [default].")
    parser.add_argument("--within", type=float, default=0.5,
                        help="Points of accuracy that count as 'at its final accuracy'.")  # fmt: skip
    parser.add_argument("--skip-throughput", action="store_true")
    parser.add_argument("--json", default=None, help="Also write the figures to this file.")
    args = parser.parse_args()

    report: dict = {"torch": torch.__version__}
    if not args.skip_throughput:
        report["throughput"] = throughput_table(args.archs or list_models(), args.steps, args.batch)
    if args.data:
        report["end_to_end"] = end_to_end(args.data, args.threads, args.within, args.epochs)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(report, f, indent=1)


if __name__ == "__main__":
    main()
