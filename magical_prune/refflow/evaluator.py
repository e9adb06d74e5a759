"""Post-placement evaluator: placement -> offset, CMRR, gain and UGF with ngspice.

The paper labelled placements with Calibre PEX and Spectre on a 40 nm PDK. This is the open
stand-in: for each placement, the design's netlist is rebuilt with layout-dependent
effects estimated from the placement and simulated with ngspice.

Layout-dependent effects (constants fixed before any model was trained, never tuned to
make a model look good; sources in the modules named):

* wires (:mod:`.parasitics`): every routed net becomes an RC tree along a single-trunk
  Steiner estimate over its placed pins; 0.25 Ω/sq metal, 0.2 µm signal wires, 1.0 µm
  supply rails, 0.2 fF/µm. Each device pin connects to its own tree node, so unequal source
  wiring of a pair, IR drops on the rails and wire capacitance (e.g. on the tail node) all
  come from where the devices sit. Supplies enter at the middle of the top (VDD) and bottom
  (ground) edge of the placement's bounding box.
* process gradient (:mod:`.lde`): 4 mV/mm linear threshold gradient along x, evaluated over
  each device's area (its centre, for a linear field).
* thermal gradient (:mod:`.lde`): each device's nominal operating-point power heats the
  substrate as a surface point source, ``dT = P / (2 pi k r)`` with k = 148 W/(m K);
  -1.5 mV/K threshold and (T/T0)^-1.5 mobility shifts per device.
* random mismatch (:mod:`.lde`): Pelgrom, A_VT = 3.0 mV·µm for the pair difference, drawn
  per layout from a seed derived from the design name and the layout id (the layout
  folder's name, e.g. ``ota1_17``; see :func:`layout_id`), scaled by ``mismatch``
  (0 = off, the default: at A_VT the random offset, ~1 mV, is 30-100x the offset the
  placement decides, tens of µV, so labels meant to rank placements are nominal, like
  the paper's PEX + Spectre labels).

Testbench (per layout, the design's ``<name>.bench.json``): ideal supplies, bias voltages
and currents, load capacitors; the inputs at the input common mode plus the differential
feedback ``v(INP) - v(INM) = -(v(OUTP) - v(OUTM))`` through a DC-only path (1 GΩ, 1 F:
a pole at 0.16 nHz), so the DC operating point is the OTA in unity-gain differential
feedback while every AC analysis sees it open loop. Results:

* ``Offset_Voltage`` (V, signed): the differential input ``v(INP) - v(INM)`` the feedback
  settles at, i.e. the input-referred offset (times A/(1+A), A the DC gain).
* ``Gain`` (dB): differential gain at 1 Hz (the DC gain).
* ``UGF`` (Hz): where the differential gain falls through 0 dB (log-interpolated on a
  10-points-per-decade sweep from 1 Hz to 10 GHz); left out when it does not cross.
* ``CMRR`` (dB): ``|A_dm / A_cm->dm|`` at the bench's ``cmrr_frequency`` (1 MHz for the
  bundled designs): A_cm->dm is the differential output per volt of common-mode input.
  At 1 MHz the tail node's capacitance (devices plus wire) is comparable to the tail's
  output resistance, so it shows in the CMRR; at 1-10 kHz it would not.

Every layout is its own ngspice circuit (see :mod:`.spice`), started from ``.nodeset``
values of the design's nominal operating point, so results do not depend on batching.
A layout whose simulation fails (no convergence, a crash) or whose operating point is
broken (DC gain below 0 dB, outputs' common mode far from VCM: :mod:`.benchcheck`) gets
None and a reason in :attr:`Evaluator.failures`; the others go on. No value is ever
invented for it. A bench that leaves a port floating is refused when the evaluator is made,
and :meth:`Evaluator.check_design` tries the bench on the design without layout effects. Failing is
cheap: ngspice's transient fallback for the operating point is off and every run is limited
in CPU time (``timeout`` per layout), so a layout without an operating point costs seconds.

This module is the evaluator's public face: :func:`evaluate` and the names below. The work
is done in :mod:`.simulate` (the :class:`Evaluator`), :mod:`.deck` (netlist text),
:mod:`.readout` (metrics from ngspice's output), :mod:`.effects` (constants and ids) and
:mod:`.relabel` (re-simulating layout folders).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

from magical_prune.placement import Placement
from magical_prune.refflow.designs import load_design
from magical_prune.refflow.effects import NO_GRADIENTS, LayoutEffects, label_settings, layout_id
from magical_prune.refflow.readout import METRICS
from magical_prune.refflow.relabel import LayoutResult, evaluate_layouts
from magical_prune.refflow.simulate import BATCH_OVERHEAD_S, NOMINAL_TIMEOUT_S, Evaluator

__all__ = [
    "BATCH_OVERHEAD_S",
    "LayoutEffects",
    "NO_GRADIENTS",
    "NOMINAL_TIMEOUT_S",
    "Evaluator",
    "LayoutResult",
    "evaluate",
    "evaluate_layouts",
    "layout_id",
    "label_settings",
    "METRICS",
]


# -- convenience API --------------------------------------------------------------------------
_EVALUATORS: dict[tuple[Any, ...], Evaluator] = {}


def evaluate(
    placements: Sequence[Placement],
    design: Any,
    mismatch: float = 0.0,
    *,
    layout_ids: Sequence[str] | None = None,
    jobs: int = 1,
    effects: LayoutEffects | None = None,
    failures: dict[int, str] | None = None,
) -> list[dict[str, float] | None]:
    """Simulate placements of ``design`` (a :class:`Design` or bundled name).

    Returns one metrics dict per placement (``Offset_Voltage``, ``CMRR``, ``Gain``,
    ``UGF``), None where the simulation failed; pass ``failures`` (a dict) to receive
    the reasons by index. The design's nominal operating point is computed once per
    process and reused.

    Raises:
        SimulationError: ngspice is missing (the message says how to install it).
        UnknownNameError: an unknown design name.
    """
    if isinstance(design, (str, os.PathLike)):
        design = load_design(design)
    key = (id(design.circuit), effects, jobs)
    evaluator = _EVALUATORS.get(key)
    if evaluator is None or evaluator.circuit is not design.circuit:
        evaluator = Evaluator(design.circuit, design.bench, effects=effects, jobs=jobs)
        _EVALUATORS[key] = evaluator
    results = evaluator.evaluate(placements, mismatch, layout_ids)
    if failures is not None:
        failures.update(evaluator.failures)
    return results
