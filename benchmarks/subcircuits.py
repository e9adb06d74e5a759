"""Sub-circuit classification speed: milliseconds per ``classify`` call.

Times :func:`magical_prune.subcircuits.classify` on the bundled reference designs, the
test netlists, and each design with every transistor split into two parallel instances
(as netlists that list fingers separately do; ota1 becomes ~70 devices). The target is
< 50 ms for a 60-device circuit; it runs once per circuit.

    python benchmarks/subcircuits.py
"""

from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path

from magical_prune.adapters.spectre import read_netlist
from magical_prune.circuit import Circuit
from magical_prune.subcircuits import classify

ROOT = Path(__file__).resolve().parents[1]


def split_fingers(circuit: Circuit) -> Circuit:
    """Every transistor as two parallel instances ``<name>_f0`` and ``<name>_f1``."""
    devices = []
    for d in circuit.devices.values():
        copies = 2 if d.type.is_mos else 1
        devices += [replace(d, name=f"{d.name}_f{k}") if copies > 1 else d for k in range(copies)]
    return Circuit.from_devices(circuit.name, devices, ports=circuit.ports)


def best_ms(circuit: Circuit, repeat: int = 20) -> float:
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        classify(circuit)
        best = min(best, time.perf_counter() - start)
    return best * 1e3


def main() -> None:
    paths = sorted(ROOT.glob("examples/designs/ota*/ota*.sp"))
    paths += sorted(ROOT.glob("tests/data/netlists/*.sp"))
    print(f"{'netlist':<20} {'devices':>7} {'ms':>7} {'split devices':>13} {'ms':>7}")
    for path in paths:
        circuit = read_netlist(path)
        split = split_fingers(circuit)
        print(
            f"{path.stem:<20} {len(circuit.devices):>7} {best_ms(circuit):>7.2f} "
            f"{len(split.devices):>13} {best_ms(split):>7.2f}"
        )


if __name__ == "__main__":
    main()
