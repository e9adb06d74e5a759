"""Can a testbench label a design? Checks on the bench and on each operating point.

A bench that leaves a port floating (a bias current the derived defaults did not know of)
or biases a design wrongly still "simulates": ngspice finds *an* operating point, and the
evaluator used to write it as a label (Gain = -196 dB, CMRR = -14 dB). These checks turn
that into an error before any placement (the bench) or a failed layout with its reason
(one layout's operating point), never a label. Pure functions of the circuit, the bench
and simulated numbers: the evaluator and ``refflow generate`` call them.
"""

from __future__ import annotations

import json
from typing import Any

from magical_prune.circuit import Circuit

__all__ = [
    "MIN_GAIN_DB",
    "OUTPUT_CM_TOLERANCE",
    "bench_help",
    "operating_problem",
    "output_target",
    "undriven_ports",
]

#: Lowest DC differential gain (dB) of a working amplifier: below it, the operating point
#: is broken (a stage in the triode region or cut off), whatever the layout.
MIN_GAIN_DB = 0.0
#: Largest distance of the outputs' common mode from its target, as a share of the supply
#: span: a CMFB loop holds it within millivolts, a broken operating point sits near a rail.
OUTPUT_CM_TOLERANCE = 0.1


def undriven_ports(circuit: Circuit, bench: Any) -> list[str]:
    """Ports that reach a device but that the bench neither drives, biases nor loads: they
    would float in the simulation (an unbiased current mirror gives a meaningless label)."""
    driven = bench.ports()
    return [
        port
        for port in circuit.ports
        if port not in driven and port in circuit.nets and circuit.nets[port].pins
    ]


def output_target(bench: Any) -> float | None:
    """Where the outputs' common mode should settle: the bench's own value, else the bias
    voltage of a port named VCM (the CMFB reference); None when the bench sets none."""
    if bench.output_common_mode is not None:
        return float(bench.output_common_mode)
    named = [v for p, v in bench.bias_voltages.items() if p.upper() in ("VCM", "VCMREF")]
    return float(named[0]) if len(named) == 1 else None


def operating_problem(gain_db: float, output_cm: float | None, bench: Any) -> str | None:
    """Why an operating point cannot give a label (None when it can)."""
    if not gain_db >= MIN_GAIN_DB:
        return f"DC gain {gain_db:.1f} dB is below {MIN_GAIN_DB:g} dB"
    target = output_target(bench)
    if target is None or output_cm is None:
        return None
    span = bench.vdd - min(bench.supplies.values())
    if abs(output_cm - target) > OUTPUT_CM_TOLERANCE * span:
        return (
            f"output common mode {output_cm:.3f} V is {abs(output_cm - target):.3f} V from "
            f"its target {target:g} V (more than {OUTPUT_CM_TOLERANCE * span:.3g} V)"
        )
    return None


def bench_help(name: str, bench: Any, derived: bool) -> str:
    """How to fix a bench that cannot label the design: the file to write and its content."""
    text = json.dumps(bench.to_dict(), separators=(", ", ": "))
    if derived:
        return (
            f"write {name}.bench.json beside the netlist (the bench derived from the port "
            f"names was {text}); see examples/designs/README.md"
        )
    return f"fix {name}.bench.json (it reads {text}); see examples/designs/README.md"
