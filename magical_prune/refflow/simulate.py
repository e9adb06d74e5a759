"""The evaluator of one design: placements -> ngspice batches -> metrics (or reasons).

:class:`Evaluator` owns what is per design (the circuit, the bench, the nominal operating
point, computed once) and runs layouts in batches of one ngspice process each, ``jobs``
at a time. The netlist text is :mod:`.deck`'s, the reading back :mod:`.readout`'s; what
the effects and the labels mean is documented in :mod:`.evaluator`.
"""

from __future__ import annotations

import concurrent.futures as cf
import math
import os
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from magical_prune.circuit import Circuit, DeviceType
from magical_prune.errors import MagicalPruneError, SimulationError
from magical_prune.placement import Placement
from magical_prune.refflow import deck
from magical_prune.refflow.benchcheck import operating_problem, undriven_ports
from magical_prune.refflow.designs import load_design
from magical_prune.refflow.effects import LayoutEffects, layout_id
from magical_prune.refflow.lde import delvto, device_shifts, layout_seed
from magical_prune.refflow.parasitics import NetTree, net_trees
from magical_prune.refflow.readout import failure_reason, metrics, output_cm, plots_by_layout
from magical_prune.refflow.spice import models_library, read_raw, resistance, run_ngspice

__all__ = ["BATCH_OVERHEAD_S", "NOMINAL_TIMEOUT_S", "Evaluator"]

#: CPU seconds a batch may take on top of ``timeout`` per layout (start, model parsing).
BATCH_OVERHEAD_S = 4.0
#: CPU seconds allowed for the nominal operating point (one solve, once per design).
NOMINAL_TIMEOUT_S = 30.0

#: One ngspice batch: placement indices, their netlists, their output nodes.
_Batch = tuple[list[int], list[str], list[tuple[str, str]]]
_Results = list[dict[str, float] | None]


@dataclass(frozen=True)
class _Nominal:
    voltages: dict[str, float]  # net -> V at the nominal operating point (no layout effects)
    power: dict[str, float]  # device -> W


class Evaluator:
    """Simulates placements of one design.

    Args:
        circuit: the design's circuit (device parameters, nets, ports).
        bench: its testbench (:class:`magical_prune.refflow.bench.Bench`).
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
        text = self.nominal_netlist().replace("* mp_nominal", deck.LAYOUT_TITLE, 1)
        (result,), log, problems = self._run_batch([text], [deck.output_nodes(text)])
        if result is None:
            reason = problems.get(0) or f"ngspice: {failure_reason(log)}"
            raise SimulationError(
                f"the testbench cannot label {self.circuit.name!r}: without any layout "
                f"effects, {reason}"
            )

    # -- netlists ---------------------------------------------------------------------------
    def _nodes(self, trees: dict[str, NetTree], placement: Placement | None) -> deck.LayoutNodes:
        if placement is None:
            return deck.LayoutNodes(trees, self._net_index, self._ground, {})
        return deck.LayoutNodes.of(placement, trees, self._net_index, self._ground)

    def nominal_netlist(self) -> str:
        """Flat netlist of the design with ideal nets and no layout effects."""
        devices = list(self.circuit.devices.values())
        base = self._nodes({}, None).base
        lines = ["* mp_nominal", ".include models.lib", deck.OPTIONS]
        lines += deck.device_lines(
            devices, lambda d, t: base(d.nets[t]) if d.nets[t] else "0", {}, {}
        )
        lines += deck.bench_lines(self.bench, base, self._ground, self._positive)
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
                (work / "run.cir").write_text(deck.nominal_driver())
                run = run_ngspice(work / "run.cir", work, NOMINAL_TIMEOUT_S)
                plots = read_raw(work / "nominal.raw")
                if not plots:
                    raise SimulationError(
                        f"the nominal operating point of {self.circuit.name!r} did not "
                        f"converge: {failure_reason(run.log)}"
                    )
                vectors = {k: float(v[0].real) for k, v in plots[0].vectors.items()}
            self._nominal = self._nominal_from(vectors)
        return self._nominal

    def _nominal_from(self, vectors: dict[str, float]) -> _Nominal:
        base = self._nodes({}, None).base
        voltages = {
            net: (0.0 if net == self._ground else vectors.get(f"v({base(net)})", 0.0))
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
        return _Nominal(voltages, power)

    def layout_netlist(
        self, placement: Placement, mismatch: float, seed: int, title: str = deck.LAYOUT_TITLE
    ) -> str:
        """Flat ngspice netlist of one placement with its layout-dependent effects."""
        nominal = self.nominal()
        effects = self.effects
        supplies = {self._positive: "top", self._ground: "bottom"}
        trees = net_trees(placement, supplies) if effects.wire_parasitics else {}
        # nets of a place.connection that the netlist does not have stay ideal
        trees = {net: tree for net, tree in trees.items() if net in self._net_index}
        nodes = self._nodes(trees, placement)
        vth, mulu0 = self._shifts(placement, nominal, mismatch, seed)
        lines = [title, ".include models.lib", deck.OPTIONS]
        devices = list(self.circuit.devices.values())
        lines += deck.device_lines(devices, nodes.device_node, vth, mulu0)
        wires, nodeset = deck.wire_lines(nodes, effects.wires, nominal.voltages)
        lines += wires
        lines += deck.bench_lines(self.bench, nodes.root, self._ground, self._positive)
        for net, volts in nominal.voltages.items():
            node = nodes.root(net)
            if node != "0" and net not in trees:
                nodeset[node] = volts
        nodeset.update({"fbl": 0.0, "fbd": 0.0})
        lines += deck.nodeset_lines(nodeset)
        lines.append(".end")
        return "\n".join(lines) + "\n"

    def _shifts(
        self, placement: Placement, nominal: _Nominal, mismatch: float, seed: int
    ) -> tuple[dict[str, float], dict[str, float]]:
        """``delvto`` and ``mulu0`` of every MOS device from gradients and mismatch."""
        shifts = device_shifts(placement, nominal.power, self.effects.gradients, mismatch, seed)
        vth: dict[str, float] = {}
        mulu0: dict[str, float] = {}
        devices = placement.circuit.devices
        for i, name in enumerate(shifts.names):
            d = devices[name]
            if d.type.is_mos:
                vth[name] = delvto(d.type, float(shifts.vth_shift[i]))
                mulu0[name] = float(shifts.mobility_factor[i])
        return vth, mulu0

    # -- running ----------------------------------------------------------------------------
    def _run_batch(
        self, netlists: Sequence[str], outs: Sequence[tuple[str, str]]
    ) -> tuple[_Results, str, dict[int, str]]:
        """Simulate netlists in one ngspice process: results (None = failed), the log, and
        the reason of each layout whose operating point was found but is broken."""
        with tempfile.TemporaryDirectory(prefix="mp-ngspice-") as tmp:
            work = Path(tmp)
            (work / "models.lib").write_text(models_library())
            for k, text in enumerate(netlists):
                (work / f"l{k}.cir").write_text(
                    text.replace(deck.LAYOUT_TITLE, f"* mp_layout {k}", 1)
                )
            (work / "run.cir").write_text(deck.layout_driver(outs, self.bench.cmrr_frequency))
            limit = BATCH_OVERHEAD_S + self.timeout * len(netlists)
            run = run_ngspice(work / "run.cir", work, limit)
            per_layout = plots_by_layout(read_raw(work / "out.raw"))
        results: _Results = []
        problems: dict[int, str] = {}
        ground_volts = self.bench.supplies[self._ground]
        for k in range(len(netlists)):
            plots = per_layout.get(k, [])
            res = metrics(plots, outs[k], self.bench.cmrr_frequency)
            if res is not None:
                cm = output_cm(plots, outs[k], ground_volts)
                problem = operating_problem(res["Gain"], cm, self.bench)
                if problem is not None:
                    problems[k], res = f"operating point broken: {problem}", None
            results.append(res)
        return results, run.log, problems

    def evaluate(
        self,
        placements: Sequence[Placement],
        mismatch: float = 0.0,
        layout_ids: Sequence[str] | None = None,
        progress: Callable[[int], None] | None = None,
    ) -> _Results:
        """Metrics of every placement, None where the simulation failed.

        Args:
            placements: placements of this evaluator's design.
            mismatch: scale of the random mismatch (0 = off, the default: nominal labels;
                1 = A_VT as documented).
            layout_ids: per placement, the id its mismatch seed derives from (default
                :func:`~magical_prune.refflow.effects.layout_id`).
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
        batches = self._batches(placements, mismatch, ids)
        results: _Results = [None] * len(placements)

        def work(batch: _Batch) -> list[int]:
            return self._run_and_retry(batch, results)

        if self.jobs == 1 or len(batches) == 1:
            for batch in batches:
                done = work(batch)
                if progress:
                    progress(len(done))
        else:
            with cf.ThreadPoolExecutor(max_workers=self.jobs) as pool:
                for done in pool.map(work, batches):
                    if progress:
                        progress(len(done))
        return results

    def _batches(
        self, placements: Sequence[Placement], mismatch: float, ids: Sequence[str]
    ) -> list[_Batch]:
        """Netlists in batches of at most ``batch_size``, spread over ``jobs``."""
        design = self.circuit.name
        batches: list[_Batch] = []
        size = max(1, min(self.batch_size, math.ceil(len(placements) / self.jobs)))
        for start in range(0, len(placements), size):
            idx = list(range(start, min(start + size, len(placements))))
            texts, outs = [], []
            for i in idx:
                text = self.layout_netlist(placements[i], mismatch, layout_seed(design, ids[i]))
                texts.append(text)
                outs.append(deck.output_nodes(text))
            batches.append((idx, texts, outs))
        return batches

    def _run_and_retry(self, batch: _Batch, results: _Results) -> list[int]:
        """Run one batch into ``results``; rerun each layout that failed without a reason
        alone (its failure may be collateral), and record the reasons in ``failures``."""
        idx, texts, outs = batch
        first, log, problems = self._run_batch(texts, outs)
        for i, res in zip(idx, first):
            results[i] = res
        retry = [k for k, res in enumerate(first) if res is None and k not in problems]
        for k in retry:
            if len(texts) > 1:  # a failure may be collateral: rerun it alone
                (res,), log, alone = self._run_batch([texts[k]], [outs[k]])
                results[idx[k]] = res
                if 0 in alone:
                    problems[k] = alone[0]
            if results[idx[k]] is None and k not in problems:
                self.failures[idx[k]] = f"ngspice: {failure_reason(log)}"
        for k, problem in problems.items():
            self.failures[idx[k]] = problem
        return idx
