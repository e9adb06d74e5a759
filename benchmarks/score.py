"""Scoring speed: hook latency, batch throughput, and `magical-prune score` cold start.

Uses the synthetic 45-device OTA-like placement of ``benchmarks/features.py`` (rows of MOS
pairs, caps, resistors; ~25 routed nets) and an ``efficient`` model at 64x64 with random
weights (timing does not depend on the weights), saved as a normal model file.

* hook latency: ``PruneHook(placement)`` on in-memory placements (features + inference +
  decision), warm, ``torch.set_num_threads(1)``; median and 95th percentile.
  Target: median <= 5 ms.
* batch scoring: ``Predictor.score`` on many placements (features + batched inference),
  ``torch.set_num_threads(2)``; placements per second. Target: >= 500/s on 2 cores.
* cold start: wall time of ``magical-prune score <layout folder> --model M`` in a fresh
  process (subprocess), median of several runs. Target: <= 3 s.

Run on an otherwise idle machine (``taskset -c 0,1 python benchmarks/score.py`` to pin to
two cores). On a shared, loaded machine wall times are slower and noisier; the CPU times
printed beside them (process time of the work) estimate what an idle core would take.
"""

from __future__ import annotations

import argparse
import importlib.util
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from magical_prune.card import InputSpec, LabelSpec, ModelCard
from magical_prune.checkpoint import save_model
from magical_prune.features import IMAGE_NAMES, extract
from magical_prune.hook import HookConfig, PruneHook
from magical_prune.models import create_model
from magical_prune.predict import Predictor


def _features_benchmark():
    """The synthetic placement helpers of benchmarks/features.py (not a package)."""
    path = Path(__file__).with_name("features.py")
    spec = importlib.util.spec_from_file_location("bench_features", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    return module


def write_model(path: Path, size: int = 64) -> Path:
    torch.manual_seed(0)
    model = create_model("efficient", image_size=size)
    inputs = InputSpec(image_size=size, channel_order=IMAGE_NAMES,
                       feature_config={"size": size, "rasterizer": "exact"})  # fmt: skip
    card = ModelCard(arch="efficient", inputs=inputs,
                     label=LabelSpec(metric="Offset_Voltage", worst_percent=25.0))  # fmt: skip
    return save_model(path, model, card)


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(values), q))


def hook_latency(model: Path, placements: list, repeats: int) -> dict[str, float]:
    torch.set_num_threads(1)
    hook = PruneHook(model, config=HookConfig(explore=0.0))
    predictor = hook.predictor
    for p in placements[:20]:
        hook(p)  # warm-up
    total, cpu, feats, infer = [], [], [], []
    for k in range(repeats):
        p = placements[k % len(placements)]
        c0, t0 = time.process_time(), time.perf_counter()
        hook(p)
        total.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
        t0 = time.perf_counter()
        x = predictor.features(p)
        t1 = time.perf_counter()
        predictor.score_features(x[None])
        t2 = time.perf_counter()
        feats.append(t1 - t0)
        infer.append(t2 - t1)
    ms = 1e3
    return {
        "median_ms": ms * statistics.median(total),
        "p95_ms": ms * percentile(total, 95),
        "cpu_median_ms": ms * statistics.median(cpu),
        "features_median_ms": ms * statistics.median(feats),
        "inference_median_ms": ms * statistics.median(infer),
    }


def batch_rate(
    model: Path, placements: list, count: int, repeats: int, threads: int
) -> dict[str, float]:
    torch.set_num_threads(threads)
    predictor = Predictor.load(model)
    items = [placements[k % len(placements)] for k in range(count)]
    predictor.score(items[:64])  # warm-up
    rates, cpu_rates, infer_rates = [], [], []
    x = predictor.prepare(items)
    for _ in range(repeats):
        c0, t0 = time.process_time(), time.perf_counter()
        predictor.score(items)
        rates.append(count / (time.perf_counter() - t0))
        cpu_rates.append(count / (time.process_time() - c0))
        t0 = time.perf_counter()
        predictor.score_features(x)
        infer_rates.append(count / (time.perf_counter() - t0))
    return {"placements_per_s": statistics.median(rates),
            "placements_per_cpu_s": statistics.median(cpu_rates),
            "inference_only_per_s": statistics.median(infer_rates)}  # fmt: skip


def cold_start(model: Path, layout: Path, repeats: int) -> dict[str, float]:
    exe = shutil.which("magical-prune")
    command = [exe] if exe else [sys.executable, "-m", "magical_prune.cli"]
    walls, cpus = [], []
    for _ in range(repeats):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        t0 = time.perf_counter()
        subprocess.run([*command, "score", str(layout), "--model", str(model)], check=True,
                       capture_output=True, timeout=120)  # fmt: skip
        walls.append(time.perf_counter() - t0)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpus.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-c", "import torch"], check=True, timeout=120)
    torch_import = time.perf_counter() - t0
    return {"median_s": statistics.median(walls), "best_s": min(walls),
            "cpu_median_s": statistics.median(cpus),
            "python_import_torch_s": torch_import}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--latency-repeats", type=int, default=300)
    parser.add_argument("--batch", type=int, default=512, help="placements per batch run")
    parser.add_argument("--batch-repeats", type=int, default=3)
    parser.add_argument("--cold-repeats", type=int, default=5)
    args = parser.parse_args()

    bench = _features_benchmark()
    circuit, _, sizes = bench.synthetic_design()
    placements = []
    for seed in range(32):
        names, rects, pins = bench.synthetic_layout(circuit, sizes, seed)
        placements.append(bench.Placement.build(circuit, names, rects, pins))
    p0 = placements[0]
    print(f"placement: {len(p0)} devices, {len(p0.net_names)} routed nets; "
          f"features {extract(p0).shape}")  # fmt: skip
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        model = write_model(root / "efficient64.pt")
        lat = hook_latency(model, placements, args.latency_repeats)
        print(
            f"hook latency (1 thread): median {lat['median_ms']:.2f} ms, "
            f"p95 {lat['p95_ms']:.2f} ms, CPU time median {lat['cpu_median_ms']:.2f} ms "
            f"(features {lat['features_median_ms']:.2f} ms + inference "
            f"{lat['inference_median_ms']:.2f} ms)  [target: median <= 5 ms]"
        )
        for threads in (2, 1):
            rate = batch_rate(model, placements, args.batch, args.batch_repeats, threads)
            print(
                f"batch scoring ({threads} thread(s)): {rate['placements_per_s']:.0f} "
                f"placements/s, {rate['placements_per_cpu_s']:.0f} per CPU-second "
                f"(inference alone {rate['inference_only_per_s']:.0f}/s)  "
                "[target: >= 500/s on 2 cores]"
            )
        design = root / "bench45"
        design.mkdir()
        layout = bench.write_layouts(design, 1)[0]
        cold = cold_start(model, layout, args.cold_repeats)
        print(
            f"cold start `magical-prune score` on one layout: median {cold['median_s']:.2f} s, "
            f"best {cold['best_s']:.2f} s, CPU time {cold['cpu_median_s']:.2f} s "
            f"(python -c 'import torch' alone {cold['python_import_torch_s']:.2f} s)  "
            "[target: <= 3 s]"
        )


if __name__ == "__main__":
    main()
