"""Reference-flow speed: placements per second and labelled layouts per second.

Times, for each design asked for,

* the placer alone on one core (CPU time): one batched global placement of ``--batch``
  weight vectors (``GP/s 1c``) and the legalisation of each (``legal/s 1c``);
* ``generate`` without simulation on ``--jobs`` processes, writing layout folders
  (``placed/s``);
* ``generate`` with the ngspice evaluator on ``--jobs`` processes (``labelled/s``).

Each generate rate is given as measured (wall) and as layouts per CPU-second times jobs
(CPU time of this process, its workers and ngspice), which is what the jobs reach on idle
cores: on a shared machine the two differ.

Targets (issue 3, 2 cores): >= 20 placements/s and >= 8 labelled layouts/s, so a
16,000-layout design takes under 40 minutes.

    python benchmarks/refflow.py                       # ota1..ota4, 2 jobs
    python benchmarks/refflow.py --designs ota3 -n 128 --no-simulate
"""

from __future__ import annotations

import argparse
import os
import resource
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
    """CPU seconds (this process, one thread) for one batched global placement and for
    legalising its results."""
    design = load_design(name)
    problem = PlacementProblem.from_circuit(design.circuit, config=config)
    critical = netweights.critical_nets(
        design.circuit, given=design.critical_nets or None, placed=problem.nets
    )
    masks = netweights.subsets(range(batch), len(critical), config.seed)
    tables = [netweights.weights_for(int(m), critical, design.circuit.nets) for m in masks]
    weights = problem.weight_matrix(tables)
    global_place(problem, weights[:2], config)  # warm-up (torch kernels, imports)
    t0 = time.process_time()
    centres = global_place(problem, weights, config)
    t1 = time.process_time()
    for b in range(batch):
        legalize(problem, centres[b], weights[b], config)
    t2 = time.process_time()
    return t1 - t0, t2 - t1, len(problem.names)


def _cpu_seconds() -> float:
    """CPU time of this process and of every finished child (pool workers, ngspice)."""
    total = 0.0
    for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN):
        usage = resource.getrusage(who)
        total += usage.ru_utime + usage.ru_stime
    return total


def timed_generate(name: str, n: int, jobs: int, simulate: bool) -> tuple[float, float, int, int]:
    """Wall seconds, CPU seconds, layouts placed, layouts labelled."""
    with tempfile.TemporaryDirectory() as out:
        options = GenerateOptions(n=n, jobs=jobs, simulate=simulate)
        c0, t0 = _cpu_seconds(), time.perf_counter()
        summary = generate(name, out, options, progress=False)
        seconds, cpu = time.perf_counter() - t0, _cpu_seconds() - c0
    return seconds, cpu, summary.placed, summary.simulated


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--designs", nargs="+", default=["ota1", "ota2", "ota3", "ota4"])
    parser.add_argument("-n", type=int, default=128, help="layouts per generate run")
    parser.add_argument("--batch", type=int, default=64, help="batch of the placer-alone run")
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--no-simulate", action="store_true", help="skip the ngspice run")
    args = parser.parse_args()

    load = os.getloadavg()[0]
    print(
        f"cores: {os.cpu_count()}, load average at start: {load:.1f}, jobs: {args.jobs}, n: {args.n}"
    )
    print(
        "wall = measured rate; cpu = layouts per CPU-second x jobs (the rate the jobs would "
        "reach on idle cores; differs from wall when the machine is shared)"
    )
    header = (
        f"{'design':<7}{'devices':>8}{'GP/s 1c':>9}{'legal/s 1c':>11}"
        f"{'placed/s wall':>14}{'cpu':>7}{'labelled/s wall':>16}{'cpu':>7}{'16k (wall)':>12}"
    )
    print(header)
    for name in args.designs:
        gp, legal, devices = placer_alone(name, args.batch, PlacerConfig())
        seconds, cpu, placed, _ = timed_generate(name, args.n, args.jobs, simulate=False)
        placed_wall, placed_cpu = placed / seconds, placed / cpu * args.jobs
        labelled_wall = labelled_cpu = float("nan")
        if not args.no_simulate:
            seconds, cpu, _, simulated = timed_generate(name, args.n, args.jobs, simulate=True)
            labelled_wall, labelled_cpu = simulated / seconds, simulated / cpu * args.jobs
        rate = labelled_wall if np.isfinite(labelled_wall) else placed_wall
        minutes = 16000 / rate / 60
        print(
            f"{name:<7}{devices:>8}{args.batch / gp:>9.1f}{args.batch / legal:>11.1f}"
            f"{placed_wall:>14.1f}{placed_cpu:>7.1f}{labelled_wall:>16.1f}{labelled_cpu:>7.1f}"
            f"{minutes:>8.1f} min",
            flush=True,
        )


if __name__ == "__main__":
    main()
