"""From ngspice's output to labels: the metrics of each layout, or why it has none.

The plots of a batch are matched to their layout by the circuit title (``mp_layout <k>``);
a layout needs its three plots (differential sweep, operating point, common-mode response
at the CMRR frequency) to get metrics, otherwise it fails and :func:`failure_reason` picks
the most telling line of the log.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

__all__ = [
    "METRICS",
    "failure_reason",
    "metrics",
    "output_cm",
    "plots_by_layout",
    "unity_crossing",
]

#: Metric names in the order they are written to ``performance.txt``.
METRICS: tuple[str, ...] = ("Offset_Voltage", "CMRR", "Gain", "UGF")
_TITLE = re.compile(r"mp_layout\s+(\d+)")
#: Log phrases that say why a simulation failed, most telling first.
_REASONS = (
    "was stopped",
    "operating point failed",
    "stepping failed",
    "solution failed",
    "no convergence",
    "singular",
    "error",
    "aborted",
    "fatal",
    "timestep",
)


def plots_by_layout(plots: Iterable[Any]) -> dict[int, list[Any]]:
    """The plots of a batch grouped by layout number (from the circuit titles)."""
    per_layout: dict[int, list[Any]] = {}
    for plot in plots:
        m = _TITLE.search(plot.title)
        if m:
            per_layout.setdefault(int(m.group(1)), []).append(plot)
    return per_layout


def failure_reason(log: str) -> str:
    """The most telling line of an ngspice log."""
    lines = [ln.strip() for ln in log.splitlines() if ln.strip()]
    for key in _REASONS:
        for line in lines:
            if key in line.lower():
                return line
    return lines[-1] if lines else "no output (simulation did not finish)"


def metrics(plots: Sequence[Any], outs: tuple[str, str], fc: float) -> dict[str, float] | None:
    """Metrics from the three plots of one layout: the differential sweep, its operating
    point, the common-mode response at ``fc`` (the sweep has a point at ``fc``: it starts
    a whole number of decades below it)."""
    if len(plots) != 3:
        return None
    sweep, op, cm_fc = plots
    if "operating" not in op.name.lower() or "v(fbl)" not in op.vectors:
        return None
    a, b = (f"v({n})" for n in outs)
    try:
        ad = sweep.vectors[a] - sweep.vectors[b]
        freq = sweep.vectors["frequency"].real
        acd_fc = complex(cm_fc.vectors[a][0] - cm_fc.vectors[b][0])
    except KeyError:
        return None
    mag = np.abs(ad)
    if not np.all(np.isfinite(mag)) or mag[0] <= 0:
        return None
    at_fc = int(np.argmin(np.abs(np.log(freq / fc))))
    if abs(math.log(freq[at_fc] / fc)) > 1e-6:
        return None
    ad_fc = complex(ad[at_fc])
    offset = -float(op.vectors["v(fbl)"][0])
    result = {"Offset_Voltage": offset}
    if abs(acd_fc) > 0:  # an exactly symmetric circuit has no CM->DM gain: CMRR undefined
        result["CMRR"] = 20.0 * math.log10(abs(ad_fc) / abs(acd_fc))
    result["Gain"] = 20.0 * math.log10(float(mag[0]))
    ugf = unity_crossing(freq, mag)
    if ugf is not None:
        result["UGF"] = ugf
    return result


def output_cm(plots: Sequence[Any], outs: tuple[str, str], ground_volts: float) -> float | None:
    """The outputs' common mode (V, bench reference) at a layout's operating point."""
    if len(plots) != 3:
        return None
    try:
        a, b = (float(np.real(plots[1].vectors[f"v({n})"][0])) for n in outs)
    except KeyError:
        return None
    return 0.5 * (a + b) + ground_volts


def unity_crossing(freq: np.ndarray, mag: np.ndarray) -> float | None:
    """First frequency where ``mag`` falls through 1, log-log interpolated."""
    above = mag >= 1.0
    if not above[0]:
        return None
    idx = np.nonzero(above[:-1] & ~above[1:])[0]
    if len(idx) == 0:
        return None
    i = int(idx[0])
    la, lb = math.log(mag[i]), math.log(mag[i + 1])
    t = la / (la - lb)
    return float(math.exp(math.log(freq[i]) + t * (math.log(freq[i + 1]) - math.log(freq[i]))))
