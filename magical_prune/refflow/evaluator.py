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
"""

from __future__ import annotations

import concurrent.futures as cf
import hashlib
import math
import os
import re
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from magical_prune.circuit import Circuit, Device, DeviceType
from magical_prune.errors import MagicalPruneError, SimulationError
from magical_prune.placement import Placement
from magical_prune.refflow.benchcheck import operating_problem, undriven_ports
from magical_prune.refflow.lde import GradientModel, delvto, device_shifts, layout_seed
from magical_prune.refflow.parasitics import MIN_PIECE_UM, NetTree, WireModel, net_trees
from magical_prune.refflow.spice import (
    capacitance,
    model_card,
    models_library,
    number,
    read_raw,
    resistance,
    run_ngspice,
)

__all__ = [
    "LayoutEffects",
    "NO_GRADIENTS",
    "Evaluator",
    "LayoutResult",
    "evaluate",
    "evaluate_layouts",
    "layout_id",
    "label_settings",
    "METRICS",
]

#: Metric names in the order they are written to ``performance.txt``.
METRICS: tuple[str, ...] = ("Offset_Voltage", "CMRR", "Gain", "UGF")
#: Gradient constants with the process and thermal gradients switched off.
NO_GRADIENTS = GradientModel(
    vth_gradient_mv_per_mm=(0.0, 0.0), vth_tempco_mv_per_k=0.0, mobility_temp_exponent=0.0
)


@dataclass(frozen=True)
class LayoutEffects:
    """Which layout-dependent effects to model, with their constants.

    Attributes:
        wires: wire constants; ``wire_parasitics=False`` uses ideal nets instead.
        gradients: process/thermal/mismatch constants (:data:`NO_GRADIENTS` turns the
            gradients off; mismatch is scaled per call).
        wire_parasitics: whether nets become RC trees.
    """

    wires: WireModel = field(default_factory=WireModel)
    gradients: GradientModel = field(default_factory=GradientModel)
    wire_parasitics: bool = True


@dataclass(frozen=True)
class _Nominal:
    voltages: dict[str, float]  # net -> V at the nominal operating point (no layout effects)
    power: dict[str, float]  # device -> W


_DECADES, _PER_DECADE = 10, 10  # AC sweep: 10 decades from ~1 Hz, 10 points per decade
_OPTIONS = ".options reltol=1e-5 vntol=1e-9 abstol=1e-15 keepopinfo"
_TITLE = re.compile(r"mp_layout\s+(\d+)")
#: No transient fallback for the operating point. When Newton, gmin and source stepping
#: all fail, ngspice (>= 36) integrates the circuit in time for 1/(10 f_start) = 0.1 s of
#: the AC sweep's 1 Hz start at 100 ns steps: minutes for one layout, and it could not
#: give the right answer anyway (the 1 GOhm / 1 F DC feedback has a 1e9 s time constant),
#: so a layout that fails the three DC methods is reported as failed instead. A zero step
#: switches the fallback off; the three flags keep the DC methods on.
_NO_OPTRAN = "optran 1 1 1 0 0 0"
#: One OpenMP thread per ngspice process: the evaluator runs one process per job already,
#: and ngspice's own default of several threads made idle threads spin-wait at every
#: device evaluation, which cost up to 40x the CPU time of the solve itself on a loaded
#: machine (3-37 s instead of 0.8 s for one failing layout, measured).
_ONE_THREAD = "set num_threads=1"
#: CPU seconds a batch may take on top of ``timeout`` per layout (start, model parsing).
BATCH_OVERHEAD_S = 4.0
#: CPU seconds allowed for the nominal operating point (one solve, once per design).
NOMINAL_TIMEOUT_S = 30.0


def label_settings(effects: LayoutEffects | None = None) -> dict[str, Any]:
    """What a label depends on besides the placement, the design and the mismatch scale:
    the evaluator's constants and simulator settings (recorded by ``refflow generate`` in
    ``refflow.json``, so a folder's labels can be traced and re-evaluated alike)."""
    effects = effects or LayoutEffects()
    return {
        "wires": asdict(effects.wires),
        "gradients": asdict(effects.gradients),
        "wire_parasitics": effects.wire_parasitics,
        "min_wire_piece_um": MIN_PIECE_UM,
        "ngspice_options": _OPTIONS,
        "ac_sweep": {"decades": _DECADES, "points_per_decade": _PER_DECADE},
        "models_sha256": hashlib.sha256(models_library().encode()).hexdigest(),
    }


def layout_id(placement: Placement) -> str:
    """The id a layout's mismatch seed is derived from.

    The layout folder's name when the placement was read from files (``.../ota1_17/
    place.result`` -> ``ota1_17``), so re-simulating a folder (also after editing its
    placement by hand) keeps its draw; ``refflow generate`` passes the same folder names
    for the placements it simulates in memory, so both give the same label. A placement
    without a source gets ``geometry-<hash>`` of its device names and rectangles.
    """
    if placement.source:
        path = Path(placement.source)
        return path.name if path.is_dir() else path.parent.name
    order = np.argsort(np.asarray(placement.names, dtype=object), kind="stable")
    digest = hashlib.sha256()
    digest.update("\n".join(placement.names[i] for i in order).encode())
    digest.update(np.ascontiguousarray(placement.rects[order], dtype=np.int64).tobytes())
    return "geometry-" + digest.hexdigest()[:16]


class Evaluator:
    """Simulates placements of one design.

    Args:
        circuit: the design's circuit (device parameters, nets, ports).
        bench: its testbench (:class:`magical_prune.refflow.designs.Bench`).
        effects: layout-dependent effects and constants.
        jobs: ngspice processes run in parallel.
        batch_size: layouts per ngspice process.
        timeout: CPU seconds allowed per layout (a batch gets ``BATCH_OVERHEAD_S + timeout *
            size``; see :func:`~magical_prune.refflow.spice.run_ngspice`). A layout takes
            ~0.05 s; one whose operating point cannot be found fails within a few seconds
            (gmin and source stepping, no transient fallback), so a stuck batch costs
            seconds, not minutes, and the machine's load does not matter.
    """

    def __init__(
        self,
        circuit: Circuit,
        bench: Any,
        *,
        effects: LayoutEffects | None = None,
        jobs: int = 1,
        batch_size: int = 16,
        timeout: float = 1.0,
    ) -> None:
        if jobs < 1:
            raise MagicalPruneError(f"jobs must be at least 1, got {jobs}")
        if batch_size < 1:
            raise MagicalPruneError(f"batch size must be at least 1, got {batch_size}")
        if not timeout > 0:
            raise MagicalPruneError(f"timeout must be positive, got {timeout}")
        self.circuit = circuit
        self.bench = bench
        self.effects = effects or LayoutEffects()
        self.jobs = jobs
        self.batch_size = batch_size
        self.timeout = timeout
        self.failures: dict[int, str] = {}
        self._nominal: _Nominal | None = None
        self._check_bench()
        self._net_index = {n: j for j, n in enumerate(circuit.nets)}
        self._ground = bench.ground
        self._positive = max(bench.supplies, key=lambda k: bench.supplies[k])

    @classmethod
    def for_design(cls, design: Any, **kwargs: Any) -> Evaluator:
        """An evaluator for a :class:`~magical_prune.refflow.designs.Design` (or its name)."""
        if isinstance(design, (str, os.PathLike)):
            from magical_prune.refflow.designs import load_design

            design = load_design(design)
        return cls(design.circuit, design.bench, **kwargs)

    def _check_bench(self) -> None:
        missing = sorted(p for p in self.bench.ports() if p not in self.circuit.nets)
        if missing:
            raise MagicalPruneError(
                f"the testbench drives {', '.join(missing)}, which the circuit "
                f"{self.circuit.name!r} has no net of (ports: {' '.join(self.circuit.ports)})"
            )
        floating = undriven_ports(self.circuit, self.bench)
        if floating:
            raise MagicalPruneError(
                f"the testbench leaves port {', '.join(floating)} of {self.circuit.name!r} "
                "floating: give each a bias current (bias_currents, A into the port) or "
                "voltage (bias_voltages, V) in the bench"
            )

    def check_design(self) -> None:
        """Simulate the design without layout effects and refuse a bench that cannot label
        it (no operating point, or a broken one: DC gain below 0 dB, outputs' common mode
        far from VCM), before any layout is placed or simulated.

        Raises:
            SimulationError: the nominal operating point fails or is broken.
        """
        self.nominal()
        text = self.nominal_netlist().replace("* mp_nominal", "* mp_layout 0", 1)
        (result,), log, problems = self._run_batch([text], [self._output_nodes(text)])
        if result is None:
            reason = problems.get(0) or f"ngspice: {_reason(log)}"
            raise SimulationError(
                f"the testbench cannot label {self.circuit.name!r}: without any layout "
                f"effects, {reason}"
            )

    # -- netlists ---------------------------------------------------------------------------
    def _base(self, net: str) -> str:
        return "0" if net == self._ground else f"n{self._net_index[net]}"

    def _device_lines(
        self,
        devices: Sequence[Device],
        node: Callable[[Device, int], str],
        vth_shift: dict[str, float],
        mulu0: dict[str, float],
    ) -> list[str]:
        lines = []
        for i, device in enumerate(devices):
            terms = [node(device, t) for t in range(len(device.nets))]
            if device.type.is_mos:
                p = device.params
                if len(terms) < 4:
                    terms += [terms[2]] * (4 - len(terms))
                extra = ""
                if device.name in vth_shift:
                    extra = f" delvto={number(vth_shift[device.name])} mulu0={number(mulu0[device.name])}"
                lines.append(
                    f"m{i} {' '.join(terms[:4])} {model_card(device)}"
                    f" w={number(p.get('w', 1e-6))} l={number(p.get('l', 1e-7))}"
                    f" nf={int(round(p.get('nf', 1.0)))} m={int(round(p.get('m', 1.0)))}{extra}"
                )
            elif len(terms) >= 2 and terms[0] != terms[1]:
                if device.type is DeviceType.CAP:
                    lines.append(f"c{i} {terms[0]} {terms[1]} {number(capacitance(device))}")
                else:
                    lines.append(f"r{i} {terms[0]} {terms[1]} {number(resistance(device))}")
        return lines

    def _bench_lines(self, root: Callable[[str], str]) -> list[str]:
        b = self.bench
        vg = b.supplies[self._ground]
        lines = ["* testbench"]
        for k, (net, volts) in enumerate(sorted(b.supplies.items())):
            if net != self._ground:
                lines.append(f"vsup{k} {root(net)} 0 {number(volts - vg)}")
        for k, (net, volts) in enumerate(sorted(b.bias_voltages.items())):
            lines.append(f"vbias{k} {root(net)} 0 {number(volts - vg)}")
        for k, (net, amps) in enumerate(sorted(b.bias_currents.items())):
            lines.append(f"ibias{k} {root(self._positive)} {root(net)} {number(amps)}")
        inp, inm = (root(n) for n in b.inputs)
        outp, outm = (root(n) for n in b.outputs)
        lines += [
            f"vcmi cmi 0 {number(b.input_common_mode - vg)}",
            "vad ad 0 dc 0 ac 1",
            "vacm acm 0 dc 0 ac 0",
            f"bip {inp} 0 v=v(cmi)+v(acm)+0.5*v(ad)-0.5*v(fbl)",
            f"bim {inm} 0 v=v(cmi)+v(acm)-0.5*v(ad)+0.5*v(fbl)",
            f"efb fbd 0 {outp} {outm} 1",
            "rfb fbd fbl 1e9",
            "cfb fbl 0 1",
        ]
        for k, (net, farads) in enumerate(sorted(b.loads.items())):
            lines.append(f"cload{k} {root(net)} 0 {number(farads)}")
        return lines

    def nominal_netlist(self) -> str:
        """Flat netlist of the design with ideal nets and no layout effects."""
        devices = list(self.circuit.devices.values())
        lines = ["* mp_nominal", ".include models.lib", _OPTIONS]
        lines += self._device_lines(
            devices, lambda d, t: self._base(d.nets[t]) if d.nets[t] else "0", {}, {}
        )
        lines += self._bench_lines(self._base)
        saves = [f"@m{i}[id] @m{i}[vds]" for i, d in enumerate(devices) if d.type.is_mos]
        lines.append(".save all " + " ".join(saves))
        lines.append(".end")
        return "\n".join(lines) + "\n"

    def nominal(self) -> _Nominal:
        """Operating point without layout effects: net voltages and device powers (cached)."""
        if self._nominal is None:
            with tempfile.TemporaryDirectory(prefix="mp-ngspice-") as tmp:
                work = Path(tmp)
                (work / "models.lib").write_text(models_library())
                (work / "nominal.cir").write_text(self.nominal_netlist())
                (work / "run.cir").write_text(
                    f"* mp driver\n.control\nset filetype=ascii\n{_ONE_THREAD}\n{_NO_OPTRAN}\n"
                    "source nominal.cir\nop\n"
                    "write nominal.raw\nquit\n.endc\n.end\n"
                )
                run = run_ngspice(work / "run.cir", work, NOMINAL_TIMEOUT_S)
                plots = read_raw(work / "nominal.raw")
                if not plots:
                    raise SimulationError(
                        f"the nominal operating point of {self.circuit.name!r} did not "
                        f"converge: {_reason(run.log)}"
                    )
                vectors = {k: float(v[0].real) for k, v in plots[0].vectors.items()}
            voltages = {
                net: (0.0 if net == self._ground else vectors.get(f"v({self._base(net)})", 0.0))
                for net in self.circuit.nets
            }
            power: dict[str, float] = {}
            for i, device in enumerate(self.circuit.devices.values()):
                if device.type.is_mos:
                    current = vectors.get(f"i(@m{i}[id])", vectors.get(f"@m{i}[id]", 0.0))
                    vds = vectors.get(f"v(@m{i}[vds])", vectors.get(f"@m{i}[vds]", 0.0))
                    power[device.name] = abs(current * vds)
                elif device.type is DeviceType.RES and len(device.nets) >= 2:
                    drop = voltages.get(device.nets[0], 0.0) - voltages.get(device.nets[1], 0.0)
                    power[device.name] = drop * drop / resistance(device)
            self._nominal = _Nominal(voltages, power)
        return self._nominal

    def layout_netlist(
        self, placement: Placement, mismatch: float, seed: int, title: str = "* mp_layout 0"
    ) -> str:
        """Flat ngspice netlist of one placement with its layout-dependent effects."""
        nominal = self.nominal()
        effects = self.effects
        supplies = {self._positive: "top", self._ground: "bottom"}
        trees: dict[str, NetTree] = (
            net_trees(placement, supplies) if effects.wire_parasitics else {}
        )
        # nets of a place.connection that the netlist does not have stay ideal
        trees = {net: tree for net, tree in trees.items() if net in self._net_index}

        def tree_node(net: str, k: int) -> str:
            if net == self._ground and k == trees[net].root:
                return "0"
            return f"n{self._net_index[net]}_{k}"

        def root(net: str) -> str:
            if net in trees:
                return tree_node(net, trees[net].root)
            return self._base(net)

        pin_node: dict[tuple[str, str], str] = {}
        for k, net in enumerate(placement.net_names):
            if net not in trees:
                continue
            members = placement.net_pins[placement.net_ptr[k] : placement.net_ptr[k + 1]]
            for p, node in zip(members, trees[net].pin_node):
                device = placement.names[placement.pin_device[p]]
                pin_node[(device, placement.pin_names[p])] = tree_node(net, int(node))

        def device_node(device: Device, t: int) -> str:
            net = device.nets[t]
            if not net:
                return "0"
            found = pin_node.get((device.name, device.pins[t]))
            return found if found is not None else root(net)

        shifts = device_shifts(placement, nominal.power, effects.gradients, mismatch, seed)
        vth: dict[str, float] = {}
        mulu0: dict[str, float] = {}
        devices = placement.circuit.devices
        for i, name in enumerate(shifts.names):
            d = devices[name]
            if d.type.is_mos:
                vth[name] = delvto(d.type, float(shifts.vth_shift[i]))
                mulu0[name] = float(shifts.mobility_factor[i])

        lines = [title, ".include models.lib", _OPTIONS]
        lines += self._device_lines(list(self.circuit.devices.values()), device_node, vth, mulu0)
        wires = effects.wires
        nodeset: dict[str, float] = {}
        lines.append("* wires")
        for net, tree in trees.items():
            j = self._net_index[net]
            r_per_um = wires.resistance_per_um(tree.supply)
            cap = np.zeros(len(tree.xy))
            for e, ((a, b), length) in enumerate(zip(tree.edges, tree.lengths)):
                na, nb = tree_node(net, int(a)), tree_node(net, int(b))
                lines.append(f"rw{j}_{e} {na} {nb} {number(r_per_um * float(length))}")
                half = wires.cap_per_um * float(length) / 2.0
                cap[a] += half
                cap[b] += half
            for k, c in enumerate(cap):
                node = tree_node(net, k)
                if node != "0":
                    nodeset[node] = nominal.voltages.get(net, 0.0)
                    if c > 0:
                        lines.append(f"cw{j}_{k} {node} 0 {number(float(c))}")
        lines += self._bench_lines(root)
        for net, volts in nominal.voltages.items():
            node = root(net)
            if node != "0" and net not in trees:
                nodeset[node] = volts
        nodeset.update({"fbl": 0.0, "fbd": 0.0})
        items = [f"v({n})={number(v)}" for n, v in nodeset.items()]
        for start in range(0, len(items), 8):
            lines.append(".nodeset " + " ".join(items[start : start + 8]))
        lines.append(".end")
        return "\n".join(lines) + "\n"

    # -- running ----------------------------------------------------------------------------
    def _run_batch(
        self, netlists: Sequence[str], outs: Sequence[tuple[str, str]]
    ) -> tuple[list[dict[str, float] | None], str, dict[int, str]]:
        """Simulate netlists in one ngspice process: results (None = failed), the log, and
        the reason of each layout whose operating point was found but is broken."""
        with tempfile.TemporaryDirectory(prefix="mp-ngspice-") as tmp:
            work = Path(tmp)
            (work / "models.lib").write_text(models_library())
            for k, text in enumerate(netlists):
                (work / f"l{k}.cir").write_text(
                    text.replace("* mp_layout 0", f"* mp_layout {k}", 1)
                )
            script = self._driver_for(outs)
            (work / "run.cir").write_text(script)
            limit = BATCH_OVERHEAD_S + self.timeout * len(netlists)
            run = run_ngspice(work / "run.cir", work, limit)
            plots = read_raw(work / "out.raw")
        per_layout: dict[int, list[Any]] = {}
        for plot in plots:
            m = _TITLE.search(plot.title)
            if m:
                per_layout.setdefault(int(m.group(1)), []).append(plot)
        results: list[dict[str, float] | None] = []
        problems: dict[int, str] = {}
        ground_volts = self.bench.supplies[self._ground]
        for k in range(len(netlists)):
            plots = per_layout.get(k, [])
            res = _metrics(plots, outs[k], self.bench.cmrr_frequency)
            if res is not None:
                cm = _output_cm(plots, outs[k], ground_volts)
                problem = operating_problem(res["Gain"], cm, self.bench)
                if problem is not None:
                    problems[k], res = f"operating point broken: {problem}", None
            results.append(res)
        return results, run.log, problems

    def _driver_for(self, outs: Sequence[tuple[str, str]]) -> str:
        fc = number(self.bench.cmrr_frequency)
        start = _sweep_start(self.bench.cmrr_frequency)
        stop, per_decade = start * 10**_DECADES, _PER_DECADE
        lines = [
            "* mp driver",
            ".control",
            "set filetype=ascii",
            "set appendwrite",
            _ONE_THREAD,
            _NO_OPTRAN,
        ]
        for k, (a, b) in enumerate(outs):
            probe = f"v({a}) v({b})"
            lines += [
                f"source l{k}.cir",
                f"ac dec {per_decade} {number(start)} {number(stop)}",
                f"write out.raw {probe}",
                "setplot op1",  # the sweep's operating point (keepopinfo)
                f"write out.raw v(fbl) {probe}",
                "alter @vad[acmag]=0",
                "alter @vacm[acmag]=1",
                f"ac lin 1 {fc} {fc}",
                f"write out.raw {probe}",
                "destroy all",
                "remcirc",
            ]
        lines += ["quit", ".endc", ".end"]
        return "\n".join(lines) + "\n"

    def evaluate(
        self,
        placements: Sequence[Placement],
        mismatch: float = 0.0,
        layout_ids: Sequence[str] | None = None,
        progress: Callable[[int], None] | None = None,
    ) -> list[dict[str, float] | None]:
        """Metrics of every placement, None where the simulation failed.

        Args:
            placements: placements of this evaluator's design.
            mismatch: scale of the random mismatch (0 = off, the default: nominal labels;
                1 = A_VT as documented).
            layout_ids: per placement, the id its mismatch seed derives from (default
                :func:`layout_id`).
            progress: called with the number of layouts finished after each batch.

        The reason of each failure is in :attr:`failures` (index -> message).
        """
        if mismatch < 0 or not math.isfinite(mismatch):
            raise MagicalPruneError(f"mismatch must be a finite scale >= 0, got {mismatch}")
        if layout_ids is not None and len(layout_ids) != len(placements):
            raise MagicalPruneError(
                f"{len(layout_ids)} layout ids for {len(placements)} placements"
            )
        self.failures = {}
        if not placements:
            return []
        self.nominal()  # once, before the workers start
        ids = list(layout_ids) if layout_ids is not None else [layout_id(p) for p in placements]
        design = self.circuit.name
        jobs: list[tuple[list[int], list[str], list[tuple[str, str]]]] = []
        size = max(1, min(self.batch_size, math.ceil(len(placements) / self.jobs)))
        for start in range(0, len(placements), size):
            idx = list(range(start, min(start + size, len(placements))))
            texts, outs = [], []
            for i in idx:
                text = self.layout_netlist(placements[i], mismatch, layout_seed(design, ids[i]))
                texts.append(text)
                outs.append(self._output_nodes(text))
            jobs.append((idx, texts, outs))
        results: list[dict[str, float] | None] = [None] * len(placements)

        def work(job: tuple[list[int], list[str], list[tuple[str, str]]]) -> list[int]:
            idx, texts, outs = job
            batch, log, problems = self._run_batch(texts, outs)
            for i, res in zip(idx, batch):
                results[i] = res
            retry = [k for k, res in enumerate(batch) if res is None and k not in problems]
            for k in retry:
                if len(texts) > 1:  # a failure may be collateral: rerun it alone
                    (res,), log, alone = self._run_batch([texts[k]], [outs[k]])
                    results[idx[k]] = res
                    if 0 in alone:
                        problems[k] = alone[0]
                if results[idx[k]] is None and k not in problems:
                    self.failures[idx[k]] = f"ngspice: {_reason(log)}"
            for k, problem in problems.items():
                self.failures[idx[k]] = problem
            return idx

        if self.jobs == 1 or len(jobs) == 1:
            for job in jobs:
                done = work(job)
                if progress:
                    progress(len(done))
        else:
            with cf.ThreadPoolExecutor(max_workers=self.jobs) as pool:
                for done in pool.map(work, jobs):
                    if progress:
                        progress(len(done))
        return results

    def _output_nodes(self, netlist: str) -> tuple[str, str]:
        """The output port nodes, read back from the netlist's feedback source line."""
        m = re.search(r"^efb fbd 0 (\S+) (\S+) 1$", netlist, re.M)
        if m is None:  # pragma: no cover - the netlist writer always emits it
            raise SimulationError("internal: no feedback source in the netlist")
        return m.group(1), m.group(2)


def _sweep_start(fc: float) -> float:
    """Start of the AC sweep: in (0.1, 1] Hz, a whole number of decades below ``fc`` so the
    sweep has a point at ``fc``."""
    return fc / 10 ** math.ceil(math.log10(fc) - 1e-9)


def _reason(log: str) -> str:
    """The most telling line of an ngspice log."""
    keys = (
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
    lines = [ln.strip() for ln in log.splitlines() if ln.strip()]
    for key in keys:
        for line in lines:
            if key in line.lower():
                return line
    return lines[-1] if lines else "no output (simulation did not finish)"


def _metrics(plots: Sequence[Any], outs: tuple[str, str], fc: float) -> dict[str, float] | None:
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
    ugf = _unity_crossing(freq, mag)
    if ugf is not None:
        result["UGF"] = ugf
    return result


def _output_cm(plots: Sequence[Any], outs: tuple[str, str], ground_volts: float) -> float | None:
    """The outputs' common mode (V, bench reference) at a layout's operating point."""
    if len(plots) != 3:
        return None
    try:
        a, b = (float(np.real(plots[1].vectors[f"v({n})"][0])) for n in outs)
    except KeyError:
        return None
    return 0.5 * (a + b) + ground_volts


def _unity_crossing(freq: np.ndarray, mag: np.ndarray) -> float | None:
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
        from magical_prune.refflow.designs import load_design

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


@dataclass(frozen=True)
class LayoutResult:
    """Outcome of re-simulating one layout folder.

    Attributes:
        layout: the folder.
        metrics: the metrics written to ``performance.txt``, or None on failure.
        error: why it failed (None when it did not).
        mismatch: the random-mismatch scale it was simulated with.
    """

    layout: Path
    metrics: dict[str, float] | None
    error: str | None = None
    mismatch: float = 0.0


def _bench_for(circuit: Circuit, layout: Path, bench: Path | None) -> Any:
    """The testbench of a layout: given file, ``<circuit>.bench.json`` beside the layout or
    in its parent, the bundled design's, or defaults from the port names."""
    from magical_prune.refflow import designs

    if bench is not None:
        return designs.read_bench(bench)
    folder = layout if layout.is_dir() else layout.parent
    for where in (folder, folder.parent):
        candidate = where / f"{circuit.name}.bench.json"
        if candidate.is_file():
            return designs.read_bench(candidate)
        found = sorted(where.glob("*.bench.json"))
        if len(found) == 1:
            return designs.read_bench(found[0])
    if circuit.name in designs.DESIGNS:
        return designs.load_design(circuit.name).bench
    return designs.default_bench(circuit.ports, Path(circuit.source or folder))


def evaluate_layouts(
    layouts: Sequence[str | os.PathLike[str]],
    mismatch: float | None = None,
    *,
    jobs: int = 1,
    companions: dict[str, Any] | None = None,
    bench: str | os.PathLike[str] | None = None,
    effects: LayoutEffects | None = None,
    progress: Callable[[int], None] | None = None,
    write: bool = True,
    executor: cf.Executor | None = None,
) -> list[LayoutResult]:
    """Re-simulate layout folders and (re)write their ``performance.txt``.

    ``performance.txt`` is the evaluator's own output file, so it is overwritten (atomically)
    for every layout that simulated; a layout that failed keeps no stale label: its
    ``performance.txt`` is removed, and the reason is in the result. Layouts are grouped
    by design and each group is simulated in batches.

    ``mismatch`` None (the default) takes, per layout, the scale recorded in its design
    folder's ``refflow.json`` by ``refflow generate`` (so re-simulating a generated layout
    reproduces its stored label), else 0 (nominal).

    ``executor`` (a Dask cluster's, :mod:`magical_prune.cluster`) runs the ngspice batches
    instead of ``jobs`` local processes; the files are still written here, with the same
    contents.
    """
    from magical_prune.adapters import magical
    from magical_prune.refflow.provenance import recorded_mismatch

    results: dict[int, LayoutResult] = {}
    groups: dict[tuple[int, str], tuple[Evaluator, dict[float, list[tuple[int, Placement]]]]] = {}
    recorded: dict[Path, float] = {}
    for i, path in enumerate(layouts):
        layout = Path(path)
        placement = magical.load_placement(layout, **(companions or {}))
        circuit = placement.circuit
        topology = getattr(circuit, "topology", circuit)
        key = (id(topology), str(bench))
        if key not in groups:
            the_bench = _bench_for(topology, layout, Path(bench) if bench else None)
            groups[key] = (Evaluator(topology, the_bench, effects=effects, jobs=jobs), {})
        scale = mismatch
        if scale is None:
            folder = (layout if layout.is_dir() else layout.parent).resolve()
            if folder.parent not in recorded:
                found = recorded_mismatch(folder)
                recorded[folder.parent] = 0.0 if found is None else found
            scale = recorded[folder.parent]
        groups[key][1].setdefault(float(scale), []).append((i, placement))
    for evaluator, by_scale in groups.values():
        for scale, members in by_scale.items():
            idx = [i for i, _ in members]
            placements = [p for _, p in members]
            if executor is None:
                metrics = evaluator.evaluate(placements, scale, progress=progress)
            else:
                from magical_prune.refflow.remote_eval import evaluate_on

                metrics = evaluate_on(executor, evaluator, placements, scale, progress)
            for k, (i, res) in enumerate(zip(idx, metrics)):
                layout = Path(layouts[i])
                folder = layout if layout.is_dir() else layout.parent
                target = folder / "performance.txt"
                if write:
                    if res is not None:
                        tmp = folder / f".performance.txt.{os.getpid()}"
                        magical.write_performance(tmp, {m: res[m] for m in METRICS if m in res})
                        os.replace(tmp, target)
                    elif target.exists():
                        target.unlink()
                results[i] = LayoutResult(layout, res, evaluator.failures.get(k), scale)
    return [results[i] for i in range(len(layouts))]
