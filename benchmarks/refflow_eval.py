"""Evaluator speed and how much of each label the placement decides.

For each design: ``-n`` placements from the reference placer (the generate subsets of the
critical nets), then the ngspice evaluator on ``--jobs`` processes

* with mismatch off: the part of every metric the placement decides;
* with mismatch at ``--mismatch`` (default 1, A_VT = 3 mV·µm): the labels of a realistic
  die (``refflow generate`` writes nominal labels, mismatch 0, by default).

Prints labelled layouts per second (wall, and per CPU-second of ngspice plus this process
times jobs, which is what the jobs reach on idle cores), the spread of |offset| and CMRR
with and without mismatch, and the rank correlation between the two: near 1 means the
placement decides the label, near 0 that the random mismatch does.

    python benchmarks/refflow_eval.py                 # ota1..ota4, 32 placements, 2 jobs
    python benchmarks/refflow_eval.py --designs ota1 -n 64 --jobs 2
"""

from __future__ import annotations

import argparse
import os
import resource
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402
from scipy.stats import spearmanr  # noqa: E402

from magical_prune.refflow import netweights  # noqa: E402
from magical_prune.refflow.designs import load_design  # noqa: E402
from magical_prune.refflow.evaluator import Evaluator  # noqa: E402
from magical_prune.refflow.legalize import legalize  # noqa: E402
from magical_prune.refflow.placer import PlacementProblem, PlacerConfig, global_place  # noqa: E402


def placements(name: str, n: int, seed: int) -> list:
    design = load_design(name)
    config = PlacerConfig(seed=seed)
    problem = PlacementProblem.from_circuit(design.circuit, config=config)
    critical = netweights.critical_nets(
        design.circuit, given=design.critical_nets or None, placed=problem.nets
    )
    masks = netweights.subsets(range(n), len(critical), seed)
    tables = [netweights.weights_for(int(m), critical, design.circuit.nets) for m in masks]
    weights = problem.weight_matrix(tables)
    centres = global_place(problem, weights, config)
    return [
        problem.to_placement(legalize(problem, centres[b], weights[b], config)) for b in range(n)
    ]


def timed(evaluator: Evaluator, pls: list, mismatch: float) -> tuple[list, float, float]:
    c0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    s0 = resource.getrusage(resource.RUSAGE_SELF)
    t0 = time.perf_counter()
    results = evaluator.evaluate(pls, mismatch)
    wall = time.perf_counter() - t0
    c1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    s1 = resource.getrusage(resource.RUSAGE_SELF)
    cpu = (c1.ru_utime + c1.ru_stime - c0.ru_utime - c0.ru_stime) + (
        s1.ru_utime + s1.ru_stime - s0.ru_utime - s0.ru_stime
    )
    return results, wall, cpu


def column(results: list, key: str) -> np.ndarray:
    return np.array([r[key] if r and key in r else np.nan for r in results])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--designs", nargs="+", default=["ota1", "ota2", "ota3", "ota4"])
    parser.add_argument("-n", type=int, default=32, help="placements per design")
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--mismatch", type=float, default=1.0)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    print(f"{args.n} placements per design, {args.jobs} ngspice jobs, load {os.getloadavg()}")
    header = (
        f"{'design':7s} {'lay/s':>6s} {'cpu-lay/s':>9s} {'ms/lay':>7s} | "
        f"{'|off| det p10/p90 mV':>21s} {'|off| mm p10/p90 mV':>20s} {'ratio':>5s} "
        f"{'rho|off|':>8s} | {'CMRR det':>13s} {'CMRR mm':>13s} {'rho':>5s} | fail"
    )
    print(header)
    for name in args.designs:
        pls = placements(name, args.n, args.seed)
        evaluator = Evaluator.for_design(name, jobs=args.jobs)
        evaluator.nominal()
        det, _, _ = timed(evaluator, pls, 0.0)
        labels, wall, cpu = timed(evaluator, pls, args.mismatch)
        fails = len(evaluator.failures)
        off0 = np.abs(column(det, "Offset_Voltage")) * 1e3
        off1 = np.abs(column(labels, "Offset_Voltage")) * 1e3
        cm0, cm1 = column(det, "CMRR"), column(labels, "CMRR")
        p = np.nanpercentile
        rho_off = spearmanr(off0, off1, nan_policy="omit").statistic
        rho_cm = spearmanr(cm0, cm1, nan_policy="omit").statistic
        print(
            f"{name:7s} {len(pls) / wall:6.1f} {len(pls) / cpu * args.jobs:9.1f} "
            f"{cpu / len(pls) * 1e3:7.0f} | "
            f"{p(off0, 10):9.4f}/{p(off0, 90):<9.4f}   {p(off1, 10):8.4f}/{p(off1, 90):<8.4f}  "
            f"{p(off1, 90) / p(off1, 10):5.1f} {rho_off:8.2f} | "
            f"{np.nanmean(cm0):6.1f}±{np.nanstd(cm0):<5.1f} {np.nanmean(cm1):6.1f}±{np.nanstd(cm1):<5.1f} "
            f"{rho_cm:5.2f} | {fails}"
        )


if __name__ == "__main__":
    main()
