"""Reference-flow speed: placements per second and labelled layouts per second.

Times, for each design asked for,

* the placer alone on one core: one batched global placement of ``--batch`` weight vectors
  plus the legalisation of each (``placements/s, 1 core``);
* ``generate`` without simulation on ``--jobs`` processes, writing layout folders
  (``placements/s, N jobs``);
* ``generate`` with the ngspice evaluator on ``--jobs`` processes (``labelled/s, N jobs``).

Targets (issue 3, 2 cores): >= 20 placements/s and >= 8 labelled layouts/s, so a
16,000-layout design takes under 40 minutes.

    python benchmarks/refflow.py                       # ota1..ota4, 2 jobs
    python benchmarks/refflow.py --designs ota3 -n 128 --no-simulate
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402

from magical_prune.refflow import netweights  # noqa: E402
from magical_prune.refflow.designs import load_design  # noqa: E402
from magical_prune.refflow.generate import GenerateOptions, generate  # noqa: E402
from magical_prune.refflow.legalize import legalize  # noqa: E402
from magical_prune.refflow.placer import PlacementProblem, PlacerConfig, global_place  # noqa: E402


def placer_alone(name: str, batch: int, config: PlacerConfig) -> tuple[float, float, float]:
    """Seconds for one batched global placement and for legalising its results."""
    design = load_design(name)
    problem = PlacementProblem.from_circuit(design.circuit, config=config)
    critical = netweights.critical_nets(
        design.circuit, given=design.critical_nets or None, placed=problem.nets
    )
    masks = netweights.subsets(range(batch), len(critical), config.seed)
    tables = [netweights.weights_for(int(m), critical, design.circuit.nets) for m in masks]
    weights = problem.weight_matrix(tables)
    global_place(problem, weights[:2], config)  # warm-up (torch kernels, imports)
    t0 = time.perf_counter()
    centres = global_place(problem, weights, config)
    t1 = time.perf_counter()
    for b in range(batch):
        legalize(problem, centres[b], weights[b], config)
    t2 = time.perf_counter()
    return t1 - t0, t2 - t1, len(problem.names)


def timed_generate(name: str, n: int, jobs: int, simulate: bool) -> tuple[float, int, int]:
    with tempfile.TemporaryDirectory() as out:
        options = GenerateOptions(n=n, jobs=jobs, simulate=simulate)
        t0 = time.perf_counter()
        summary = generate(name, out, options, progress=False)
        seconds = time.perf_counter() - t0
    return seconds, summary.placed, summary.simulated


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--designs", nargs="+", default=["ota1", "ota2", "ota3", "ota4"])
    parser.add_argument("-n", type=int, default=128, help="layouts per generate run")
    parser.add_argument("--batch", type=int, default=64, help="batch of the placer-alone run")
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--no-simulate", action="store_true", help="skip the ngspice run")
    args = parser.parse_args()

    print(f"cores available: {os.cpu_count()}, jobs: {args.jobs}, n: {args.n}")
    header = (
        f"{'design':<7}{'devices':>8}{'GP/s 1c':>10}{'legal/s 1c':>12}"
        f"{'placed/s 1c':>13}{'placed/s':>10}{'labelled/s':>12}{'16k layouts':>13}"
    )
    print(header)
    for name in args.designs:
        gp, legal, devices = placer_alone(name, args.batch, PlacerConfig())
        one_core = args.batch / (gp + legal)
        seconds, placed, _ = timed_generate(name, args.n, args.jobs, simulate=False)
        placed_rate = placed / seconds
        labelled_rate = float("nan")
        if not args.no_simulate:
            seconds, _, simulated = timed_generate(name, args.n, args.jobs, simulate=True)
            labelled_rate = simulated / seconds
        rate = labelled_rate if np.isfinite(labelled_rate) else placed_rate
        minutes = 16000 / rate / 60
        print(
            f"{name:<7}{devices:>8}{args.batch / gp:>10.1f}{args.batch / legal:>12.1f}"
            f"{one_core:>13.1f}{placed_rate:>10.1f}{labelled_rate:>12.1f}{minutes:>11.1f} min",
            flush=True,
        )


if __name__ == "__main__":
    main()
