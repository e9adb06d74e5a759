"""A recording proxy of MAGICAL's IdeaPlaceEx placer.

IdeaPlaceEx's Python binding (``IdeaPlaceExPy.IdeaPlaceEx``) has setters for cells, pins,
nets and constraints but no getters: once MAGICAL's driver has filled it, the netlist, the
pin shapes and the device outlines are out of Python's reach. :class:`RecordingPlacer`
stands between the driver and the placer. Every call goes through unchanged (same
arguments, same return value, same exceptions), and the calls that define the placement
problem are written down on the way. After ``solve`` the recording plus the placer's cell
locations give a :class:`~magical_prune.placement.Placement` (:meth:`~RecordingPlacer.placement`)
or a layout folder in the project's formats (:meth:`~RecordingPlacer.write_layout`)::

    placer = RecordingPlacer(IdeaPlaceExPy.IdeaPlaceEx())
    ...                                    # MAGICAL's Placer.run fills and solves it
    decision = hook(placer.placement(netlist="ota.sp"))

Recording never raises: problems in what was fed (a cell without outline, a pin on a net
never allocated) surface when a placement is asked for, as the package's error.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from magical_prune.adapters import magical
from magical_prune.circuit import Circuit, DeviceType
from magical_prune.errors import MagicalPruneError
from magical_prune.integrations._layout import BuiltLayout, build_layout, write_layout_files
from magical_prune.integrations._problem import RecordedNet, RecordedPin, RecordedProblem
from magical_prune.placement import Placement

__all__ = ["RecordedNet", "RecordedPin", "RecordedProblem", "RecordingPlacer"]

#: what ``pinIdx`` answers for a terminal without a pin (unsigned 32-bit maximum)
NO_PIN = 2**32 - 1


class RecordingPlacer:
    """``IdeaPlaceEx`` with a memory: pass-through calls, recorded problem.

    Args:
        placer: an ``IdeaPlaceExPy.IdeaPlaceEx()`` object (or anything with its methods).
        before_solve: called with this recorder right before ``solve`` is passed on, when
            the whole problem is known: the place to set net weights
            (:func:`magical_prune.integrations.magical.record_placers` does).

    Attributes:
        problem: the :class:`RecordedProblem`.
    """

    def __init__(
        self, placer: Any, *, before_solve: Callable[[RecordingPlacer], None] | None = None
    ) -> None:
        self._placer = placer
        self._before_solve = before_solve
        self.problem = RecordedProblem()

    def __getattr__(self, name: str) -> Any:
        # Only reached for what is not defined here: straight to the placer, unrecorded.
        if name.startswith("_"):
            raise AttributeError(name)
        return getattr(self._placer, name)

    @property
    def placer(self) -> Any:
        """The wrapped placer object."""
        return self._placer

    # -- cells ------------------------------------------------------------------------------
    def allocateCell(self, *args: Any) -> Any:
        index = self._placer.allocateCell(*args)
        self.problem.cells.setdefault(int(index), None)
        self.problem.cell_shapes.setdefault(int(index), [])
        return index

    def setCellName(self, cell: Any, name: Any, *rest: Any) -> Any:
        result = self._placer.setCellName(cell, name, *rest)
        self.problem.cells[int(cell)] = str(name)
        return result

    def setCellFlip(self, cell: Any, *rest: Any) -> Any:
        result = self._placer.setCellFlip(cell, *rest)
        if int(cell) not in self.problem.flips:
            self.problem.flips.append(int(cell))
        return result

    def addCellShape(self, cell: Any, shape: Any, *box: Any) -> Any:
        result = self._placer.addCellShape(cell, shape, *box)
        self.problem.cell_shapes.setdefault(int(cell), []).append(tuple(box))
        return result

    # -- pins -------------------------------------------------------------------------------
    def allocatePin(self, cell: Any, *rest: Any) -> Any:
        index = self._placer.allocatePin(cell, *rest)
        self.problem.pins[int(index)] = RecordedPin(int(cell))
        return index

    def setPinName(self, pin: Any, name: Any, *rest: Any) -> Any:
        result = self._placer.setPinName(pin, name, *rest)
        self.problem.pins.setdefault(int(pin), RecordedPin(-1)).name = str(name)
        return result

    def addPinShape(self, pin: Any, *box: Any) -> Any:
        result = self._placer.addPinShape(pin, *box)
        self.problem.pins.setdefault(int(pin), RecordedPin(-1)).shapes.append(tuple(box))
        return result

    def pinIdx(self, cell: Any, terminal: Any, *rest: Any) -> Any:
        index = self._placer.pinIdx(cell, terminal, *rest)
        pin = self.problem.pins.get(int(index)) if int(index) != NO_PIN else None
        if pin is not None and pin.cell == int(cell):
            pin.terminal = int(terminal)
        return index

    # -- nets -------------------------------------------------------------------------------
    def allocateNet(self, *args: Any) -> Any:
        index = self._placer.allocateNet(*args)
        self.problem.nets.setdefault(int(index), RecordedNet())
        return index

    def setNetName(self, net: Any, name: Any, *rest: Any) -> Any:
        result = self._placer.setNetName(net, name, *rest)
        self.problem.nets.setdefault(int(net), RecordedNet()).name = str(name)
        return result

    def setNetWgt(self, net: Any, weight: Any, *rest: Any) -> Any:
        result = self._placer.setNetWgt(net, weight, *rest)
        self.problem.nets.setdefault(int(net), RecordedNet()).weight = float(weight)
        return result

    def addPinToNet(self, pin: Any, net: Any, *rest: Any) -> Any:
        result = self._placer.addPinToNet(pin, net, *rest)
        self.problem.nets.setdefault(int(net), RecordedNet(name=None)).pins.append(int(pin))
        return result

    def markIoNet(self, net: Any, *rest: Any) -> Any:
        result = self._placer.markIoNet(net, *rest)
        self.problem.io_nets.append(int(net))
        return result

    def markAsVddNet(self, net: Any, *rest: Any) -> Any:
        result = self._placer.markAsVddNet(net, *rest)
        self.problem.vdd_nets.append(int(net))
        return result

    def markAsVssNet(self, net: Any, *rest: Any) -> Any:
        result = self._placer.markAsVssNet(net, *rest)
        self.problem.vss_nets.append(int(net))
        return result

    # -- constraints ------------------------------------------------------------------------
    def allocateSymGrp(self, *args: Any) -> Any:
        index = self._placer.allocateSymGrp(*args)
        self.problem.sym_groups.setdefault(int(index), [])
        return index

    def addSymPair(self, group: Any, a: Any, b: Any, *rest: Any) -> Any:
        result = self._placer.addSymPair(group, a, b, *rest)
        self.problem.sym_groups.setdefault(int(group), []).append((int(a), int(b)))
        return result

    def addSelfSym(self, group: Any, cell: Any, *rest: Any) -> Any:
        result = self._placer.addSelfSym(group, cell, *rest)
        self.problem.sym_groups.setdefault(int(group), []).append((int(cell),))
        return result

    def addSymNetPair(self, *args: Any) -> Any:
        result = self._placer.addSymNetPair(*args)
        self.problem.sym_net_pairs.append((int(args[-2]), int(args[-1])))
        return result

    def markSelfSym(self, *args: Any) -> Any:
        result = self._placer.markSelfSym(*args)
        self.problem.self_sym_nets.append(int(args[-1]))
        return result

    def readSymFile(self, path: Any, *rest: Any) -> Any:
        result = self._placer.readSymFile(path, *rest)
        self._read_constraint("sym", path)
        return result

    def readSymNetFile(self, path: Any, *rest: Any) -> Any:
        result = self._placer.readSymNetFile(path, *rest)
        self._read_constraint("symnet", path)
        return result

    def readSigpathFile(self, path: Any, *rest: Any) -> Any:
        result = self._placer.readSigpathFile(path, *rest)
        self.problem.files["sigpath"] = os.fspath(path)
        return result

    def readTechSimpleFile(self, path: Any, *rest: Any) -> Any:
        result = self._placer.readTechSimpleFile(path, *rest)
        self.problem.files["tech"] = os.fspath(path)
        return result

    def _read_constraint(self, kind: str, path: Any) -> None:
        """Read the file the placer just read, now (the driver may rewrite it later)."""
        self.problem.files[kind] = os.fspath(path)
        try:
            if kind == "sym":
                sym = magical.read_sym(path)
                self.problem.file_symmetry = replace(
                    sym,
                    net_pairs=self.problem.file_symmetry.net_pairs,
                    self_symmetric_nets=self.problem.file_symmetry.self_symmetric_nets,
                )
            else:
                nets = magical.read_symnet(path)
                self.problem.file_symmetry = replace(
                    self.problem.file_symmetry,
                    net_pairs=nets.net_pairs,
                    self_symmetric_nets=nets.self_symmetric_nets,
                )
        except (MagicalPruneError, OSError) as err:  # recording never breaks the run
            self.problem.file_error = str(err)

    # -- solving ----------------------------------------------------------------------------
    def solve(self, *args: Any) -> Any:
        if self._before_solve is not None:
            self._before_solve(self)
        axis = self._placer.solve(*args)
        self.problem.grid_step = args[0] if args else None
        self.problem.axis = axis
        self.problem.solved = True
        return axis

    def locations(self) -> dict[str, tuple[int, int]]:
        """Cell name -> ``(xCellLoc, yCellLoc)`` from the placer (nm, before the origin
        shift), for the cells of the recording."""
        self._check_solved()
        return {
            name or str(i): (
                int(round(self._placer.xCellLoc(i))),
                int(round(self._placer.yCellLoc(i))),
            )
            for i, name in sorted(self.problem.cells.items())
        }

    def _check_solved(self) -> None:
        if not self.problem.solved:
            raise MagicalPruneError(
                "the placer was never solved: ask for the placement after solve(...) "
                f"({len(self.problem.cells)} cells recorded)"
            )

    # -- results ----------------------------------------------------------------------------
    def build(
        self,
        netlist: str | os.PathLike[str] | Circuit | None = None,
        types: Mapping[str, DeviceType | str] | None = None,
        channels: str | os.PathLike[str] | Mapping[str, Any] | None = None,
        *,
        name: str | None = None,
    ) -> BuiltLayout:
        """The solved placement plus the cell-local pin shapes behind it (see
        :meth:`placement` for the arguments)."""
        self._check_solved()
        locations = {}
        for i in sorted(self.problem.cells):
            x, y = self._placer.xCellLoc(i), self._placer.yCellLoc(i)
            if not (np.isfinite(x) and np.isfinite(y)):
                raise MagicalPruneError(f"the placer gives cell {i} a non-finite location")
            locations[i] = (int(round(x)), int(round(y)))
        return build_layout(self.problem, locations, netlist, types, channels, name)

    def placement(
        self,
        netlist: str | os.PathLike[str] | Circuit | None = None,
        types: Mapping[str, DeviceType | str] | None = None,
        channels: str | os.PathLike[str] | Mapping[str, Any] | None = None,
        *,
        name: str | None = None,
    ) -> Placement:
        """The solved placement.

        Device rectangles are the cell outlines (``addCellShape``) at the placer's
        locations, shifted so the lowest ``xCellLoc``/``yCellLoc`` is the origin, as
        MAGICAL's driver does; pins are the fed shapes at the same offsets (cells given
        to ``setCellFlip`` mirrored about their centre line; MAGICAL's own flipped
        devices arrive with mirrored shapes already). Net weights are the recorded ones.

        Args:
            netlist: the design's netlist (path or :class:`Circuit`): device types,
                terminals and the topology sub-circuits are classified on.
            types: device (cell) -> type, overriding the netlist; without either, types
                come from cell names (``MN1``, ``nch_m0``, ``C3``, ``R1``) and, for other
                ``M*`` cells, from the supply net they touch.
            channels: sub-circuit ids per device (a ``.channel`` path or mapping).
            name: the design's name (default: the netlist's, else ``design``).

        Raises:
            MagicalPruneError: never solved, a cell without outline or name, a pin on an
                unknown net, a device no hint types.
        """
        return self.build(netlist, types, channels, name=name).placement

    def write_layout(
        self,
        folder: str | os.PathLike[str],
        netlist: str | os.PathLike[str] | Circuit | None = None,
        types: Mapping[str, DeviceType | str] | None = None,
        channels: str | os.PathLike[str] | Mapping[str, Any] | None = None,
        *,
        name: str | None = None,
        built: BuiltLayout | None = None,
    ) -> Placement:
        """Write the solved placement as a layout folder every offline command reads:
        ``place.result``, ``place.pin``, ``place.connection``, ``weight.txt`` and the
        design files ``<design>.json`` (types), ``.channel`` (the sub-circuits used) and
        ``.sym``/``.symnet`` (when there is symmetry). Loading the folder back gives the
        features of :meth:`placement`.

        Returns:
            The placement written.
        """
        built = built or self.build(netlist, types, channels, name=name)
        write_layout_files(Path(folder), built)
        return built.placement
