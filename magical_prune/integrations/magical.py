"""The pieces a MAGICAL flow script adds to prune placements before routing.

MAGICAL places a circuit with ``PnR.placeOnly(cktIdx, resultDir)`` (a fresh
``Placer``, which fills and solves a fresh ``IdeaPlaceExPy.IdeaPlaceEx()``) and routes it
with ``PnR.routeOnly()``. Routing, extraction and simulation are the expensive part, so the
decision goes in between:

* :func:`record_placers` makes every placer MAGICAL creates while it is active a
  :class:`~magical_prune.integrations.ideaplace.RecordingPlacer` (it swaps the module's
  ``IdeaPlaceEx`` factory and puts it back afterwards);
* :func:`prune_after_place` builds the placement of a ``PnR`` object after ``placeOnly``
  and asks the hook;
* :class:`NetWeightEnumeration` runs the paper's design space in MAGICAL's style: one
  placement per weight set (each on a fresh placer, the critical nets' weights set with
  ``setNetWgt`` right before ``solve``), the hook after each, ``routeOnly`` only for kept
  candidates, and ``hook.update`` with the results of the user's simulation callback.

``docs/magical.md`` shows the lines to add to MAGICAL's ``Flow.py``;
``examples/magical_flow_with_pruning.py`` is a complete script.
"""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

from magical_prune.adapters.magical import write_performance
from magical_prune.circuit import Circuit
from magical_prune.errors import MagicalPruneError
from magical_prune.hook import Decision
from magical_prune.integrations.ideaplace import RecordingPlacer
from magical_prune.placement import Placement
from magical_prune.refflow import netweights

__all__ = [
    "Candidate", "EnumerationConfig", "EnumerationSummary", "NetWeightEnumeration",
    "prune_after_place", "record_placers", "recorder_of",
]  # fmt: skip

logger = logging.getLogger("magical_prune.integrations")

Netlist = str | os.PathLike[str] | Circuit | None


@contextmanager
def record_placers(
    ideaplace: ModuleType, before_solve: Callable[[RecordingPlacer], None] | None = None
) -> Iterator[list[RecordingPlacer]]:
    """Record every ``ideaplace.IdeaPlaceEx()`` made inside the ``with`` block.

    MAGICAL's ``Placer`` looks ``IdeaPlaceExPy.IdeaPlaceEx`` up when it is constructed, so
    swapping the module attribute is enough; the original is restored on exit, also after
    an error.

    Args:
        ideaplace: the ``IdeaPlaceExPy`` module.
        before_solve: passed to each recorder (set net weights there).

    Yields:
        The recorders made so far, oldest first.
    """
    original = getattr(ideaplace, "IdeaPlaceEx", None)
    if original is None:
        raise MagicalPruneError(f"{getattr(ideaplace, '__name__', ideaplace)} has no IdeaPlaceEx")
    made: list[RecordingPlacer] = []

    def make(*args: Any, **kwargs: Any) -> RecordingPlacer:
        recorder = RecordingPlacer(original(*args, **kwargs), before_solve=before_solve)
        made.append(recorder)
        return recorder

    ideaplace.IdeaPlaceEx = make
    try:
        yield made
    finally:
        ideaplace.IdeaPlaceEx = original


def recorder_of(placed: Any) -> RecordingPlacer | None:
    """The recorder behind a ``PnR`` (``pnr.p.placer``), a ``Placer`` (``.placer``) or a
    recorder itself; None when its placer was not recorded."""
    for candidate in (placed, getattr(placed, "placer", None),
                      getattr(getattr(placed, "p", None), "placer", None)):  # fmt: skip
        if isinstance(candidate, RecordingPlacer):
            return candidate
    return None


@dataclass
class Candidate:
    """One placement of an enumeration and what became of it.

    Attributes:
        index: candidate number (0-based).
        weights: the weights the critical nets got.
        placement: the placement, None when it could not be built (then kept).
        decision: the hook's decision.
        folder: its layout folder, when layouts are written.
        routed: whether ``routeOnly`` ran.
        performance: the simulation results fed back, if any.
        placed: what ``place`` returned (MAGICAL's ``PnR`` object).
    """

    index: int
    weights: dict[str, float]
    placement: Placement | None
    decision: Decision
    folder: Path | None = None
    routed: bool = False
    performance: dict[str, float] | None = None
    placed: Any = field(default=None, repr=False)


def _build(
    recorder: RecordingPlacer,
    hook: Any,
    netlist: Netlist,
    types: Mapping[str, Any] | None,
    channels: Any,
    index: int,
    weights: dict[str, float],
    folder: Path | None,
) -> Candidate:
    """Placement (and layout folder) of a solved recorder, then the hook's decision.
    Fails open like the hook: a placement that cannot be built is kept, with a warning."""
    try:
        built = recorder.build(netlist, types, channels)
        if folder is not None:
            recorder.write_layout(folder, built=built)
    except MagicalPruneError as err:
        reason = f"kept: no placement: {err}"
        logger.warning("candidate %d %s", index, reason)
        return Candidate(index, weights, None, Decision(False, math.nan, reason), folder)
    return Candidate(index, weights, built.placement, hook(built.placement), folder)


def prune_after_place(
    pnr: Any,
    hook: Any,
    *,
    netlist: Netlist = None,
    types: Mapping[str, Any] | None = None,
    channels: Any = None,
    folder: str | os.PathLike[str] | None = None,
) -> Candidate:
    """Ask ``hook`` about the placement MAGICAL's ``PnR`` object just made.

    Call it after ``pnr.placeOnly(...)`` ran inside :func:`record_placers`; route only when
    ``not candidate.decision.prune``.

    Args:
        pnr: MAGICAL's ``PnR`` object (or its ``Placer``, or a recorder).
        hook: a :class:`~magical_prune.hook.PruneHook` (any callable on a placement).
        netlist, types, channels: see ``RecordingPlacer.placement``.
        folder: also write the layout folder there.

    Raises:
        MagicalPruneError: the placer was not recorded (the set-up is wrong; everything
            later fails open).
    """
    recorder = recorder_of(pnr)
    if recorder is None:
        raise MagicalPruneError(
            "this PnR's placer was not recorded: run placeOnly inside record_placers(IdeaPlaceExPy)"
        )
    weights = {n.name: n.weight for n in recorder.problem.nets.values()
               if n.name and n.weight is not None}  # fmt: skip
    return _build(recorder, hook, netlist, types, channels, 0, weights,
                  None if folder is None else Path(folder))  # fmt: skip


@dataclass(frozen=True)
class EnumerationConfig:
    """The design space of a :class:`NetWeightEnumeration`.

    Attributes:
        critical_nets: nets whose weights are enumerated; default: every named net with
            two or more pins that the driver did not mark or weigh as power.
        count: candidates to run (drawn without repetition); default all ``2**k`` subsets.
        seed: order of the subsets (candidate ``k`` gets the same subset as layout ``k``
            of ``magical-prune refflow generate`` with this seed).
        high, low: weight of a critical net in / not in the candidate's subset.
        layouts: write every candidate's layout folder as ``<layouts>/<design>_<k>/``
            (with ``performance.txt`` for the simulated ones), so a run becomes data.
    """

    critical_nets: tuple[str, ...] | None = None
    count: int | None = None
    seed: int = 0
    high: float = 10.0
    low: float = 1.0
    layouts: str | os.PathLike[str] | None = None


@dataclass
class EnumerationSummary:
    """What an enumeration did, candidate by candidate."""

    critical_nets: tuple[str, ...]
    candidates: list[Candidate] = field(default_factory=list)

    @property
    def pruned(self) -> int:
        return sum(c.decision.prune for c in self.candidates)

    @property
    def routed(self) -> int:
        return sum(c.routed for c in self.candidates)

    @property
    def simulated(self) -> int:
        return sum(c.performance is not None for c in self.candidates)

    def as_dict(self) -> dict[str, Any]:
        return {
            "critical_nets": list(self.critical_nets),
            "candidates": len(self.candidates),
            "pruned": self.pruned,
            "routed": self.routed,
            "simulated": self.simulated,
            "decisions": [
                {
                    "index": c.index,
                    "prune": c.decision.prune,
                    "score": c.decision.score,
                    "reason": c.decision.reason,
                    "performance": c.performance,
                    "folder": None if c.folder is None else str(c.folder),
                }
                for c in self.candidates
            ],  # fmt: skip
        }


class NetWeightEnumeration:
    """Place, decide, route and simulate once per net-weight set, MAGICAL's way.

    Args:
        hook: a :class:`~magical_prune.hook.PruneHook`.
        ideaplace: the ``IdeaPlaceExPy`` module MAGICAL's ``Placer`` uses.
        config: the design space (:class:`EnumerationConfig`).
        simulate: ``candidate -> {"Offset_Voltage": ...}`` (or None) after routing:
            the user's extraction and simulation. Its results go to ``hook.update``.
        netlist, types, channels: see ``RecordingPlacer.placement``.
    """

    def __init__(
        self,
        hook: Any,
        ideaplace: ModuleType,
        config: EnumerationConfig | None = None,
        *,
        simulate: Callable[[Candidate], Mapping[str, float] | None] | None = None,
        netlist: Netlist = None,
        types: Mapping[str, Any] | None = None,
        channels: Any = None,
    ) -> None:
        self.hook = hook
        self.ideaplace = ideaplace
        self.config = config or EnumerationConfig()
        self.simulate = simulate
        self.netlist = netlist
        self.types = types
        self.channels = channels
        self.critical_nets: tuple[str, ...] | None = self.config.critical_nets
        self.total: int | None = None

    def _weights(self, recorder: RecordingPlacer, index: int) -> dict[str, float]:
        """Set candidate ``index``'s weights on the critical nets (called before solve)."""
        problem = recorder.problem
        if self.critical_nets is None:
            self.critical_nets = problem.signal_nets()
        if self.total is None:
            self.total = netweights.count_for(self.config.count, len(self.critical_nets))
        indices = {}
        for net in self.critical_nets:
            indices[net] = problem.net_named(net)
            if indices[net] is None:
                raise MagicalPruneError(f"critical net {net!r} is not a net the placer was fed")
        mask = int(netweights.subsets([index], len(self.critical_nets), self.config.seed)[0])
        weights = netweights.weights_for(mask, self.critical_nets, self.critical_nets,
                                         high=self.config.high, low=self.config.low)  # fmt: skip
        for net, weight in weights.items():
            recorder.setNetWgt(indices[net], weight)
        return weights

    def run(
        self, place: Callable[[], Any], route: Callable[[Any], Any] | None = None
    ) -> EnumerationSummary:
        """Run every candidate.

        Args:
            place: places once on a fresh placer (``pnr.placeOnly(cktIdx, resultDir)``)
                and returns what ``route`` needs.
            route: routes a kept placement (``pnr.routeOnly()``); None: no routing.
        """
        summary: EnumerationSummary | None = None
        index = 0
        while self.total is None or index < self.total:
            weights: dict[str, float] = {}

            def before_solve(
                recorder: RecordingPlacer, k: int = index, out: dict[str, float] = weights
            ) -> None:
                out.update(self._weights(recorder, k))

            with record_placers(self.ideaplace, before_solve) as made:
                placed = place()
            recorder = recorder_of(placed) or (made[-1] if made else None)
            if recorder is None or not recorder.problem.solved or self.total is None:
                raise MagicalPruneError("place() solved no IdeaPlaceEx placer")
            if summary is None:
                summary = EnumerationSummary(tuple(self.critical_nets or ()))
            candidate = self._candidate(index, recorder, weights, placed)
            summary.candidates.append(candidate)
            if not candidate.decision.prune:
                self._route_and_simulate(candidate, route)
            index += 1
        assert summary is not None  # the loop ran at least once (total >= 1)
        return summary

    def _candidate(
        self, index: int, recorder: RecordingPlacer, weights: dict[str, float], placed: Any
    ) -> Candidate:
        folder = None
        if self.config.layouts is not None:
            design = self._design_name()
            folder = Path(self.config.layouts) / f"{design}_{index}"
        candidate = _build(recorder, self.hook, self.netlist, self.types, self.channels,
                           index, weights, folder)  # fmt: skip
        candidate.placed = placed
        return candidate

    def _design_name(self) -> str:
        if isinstance(self.netlist, Circuit):
            return self.netlist.name
        if self.netlist is not None:
            return Path(self.netlist).stem
        return "design"

    def _route_and_simulate(self, candidate: Candidate, route: Callable[[Any], Any] | None) -> None:
        if route is not None:
            route(candidate.placed)
            candidate.routed = True
        if self.simulate is None:
            return
        results = self.simulate(candidate)
        if results is None:
            return
        candidate.performance = {str(k): float(v) for k, v in results.items()}
        if candidate.folder is not None:
            write_performance(candidate.folder / "performance.txt", candidate.performance)
        if candidate.placement is not None:
            self.hook.update(candidate.placement, candidate.performance)

    def run_pnr(self, pnr: Any, ckt_idx: int, dirname: str) -> EnumerationSummary:
        """:meth:`run` with MAGICAL's ``PnR`` object: ``placeOnly(ckt_idx, dirname)`` per
        candidate, ``routeOnly()`` for the kept ones."""

        def place() -> Any:
            pnr.placeOnly(ckt_idx, dirname)
            return pnr

        return self.run(place, lambda placed: placed.routeOnly())
