"""What a recorder writes down: the placer problem, by the placer's own indices."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from magical_prune.circuit import Symmetry

__all__ = ["RecordedNet", "RecordedPin", "RecordedProblem"]


@dataclass
class RecordedPin:
    """One placer pin.

    Attributes:
        cell: the cell it belongs to (``allocatePin(cell)``).
        name: the name ``setPinName`` gave it (MAGICAL: the device's net name).
        shapes: ``addPinShape`` rectangles, cell-local, as fed.
        terminal: the terminal index the driver looked it up by (``pinIdx``), if it did.
    """

    cell: int
    name: str | None = None
    shapes: list[tuple[Any, ...]] = field(default_factory=list)
    terminal: int | None = None


@dataclass
class RecordedNet:
    """One placer net: name, pins in ``addPinToNet`` order, and the last weight set."""

    name: str | None = None
    pins: list[int] = field(default_factory=list)
    weight: float | None = None  # None: never set, the placer's default of 1


@dataclass
class RecordedProblem:
    """Everything fed to one placer object that defines its problem, by placer index.

    Attributes:
        cells: cell index -> name (None until ``setCellName``).
        cell_shapes: cell index -> ``addCellShape`` rectangles (cell-local outline).
        flips: cells given to ``setCellFlip``, in call order.
        pins, nets: pins and nets by index.
        sym_groups: ``allocateSymGrp`` index -> members (cell pairs and single cells).
        sym_net_pairs, self_sym_nets: ``addSymNetPair`` / ``markSelfSym`` net indices.
        io_nets, vdd_nets, vss_nets: ``markIoNet`` / ``markAsVddNet`` / ``markAsVssNet``.
        files: constraint and tech files the placer read (``sym``, ``symnet``,
            ``sigpath``, ``tech``) -> path.
        file_symmetry: the ``.sym``/``.symnet`` content as read at that moment.
        file_error: why a symmetry file could not be read (the placer's own problem too).
        grid_step, axis: the ``solve`` argument and its answer (the symmetry axis x).
        solved: whether ``solve`` returned.
    """

    cells: dict[int, str | None] = field(default_factory=dict)
    cell_shapes: dict[int, list[tuple[Any, ...]]] = field(default_factory=dict)
    flips: list[int] = field(default_factory=list)
    pins: dict[int, RecordedPin] = field(default_factory=dict)
    nets: dict[int, RecordedNet] = field(default_factory=dict)
    sym_groups: dict[int, list[tuple[int, ...]]] = field(default_factory=dict)
    sym_net_pairs: list[tuple[int, int]] = field(default_factory=list)
    self_sym_nets: list[int] = field(default_factory=list)
    io_nets: list[int] = field(default_factory=list)
    vdd_nets: list[int] = field(default_factory=list)
    vss_nets: list[int] = field(default_factory=list)
    files: dict[str, str] = field(default_factory=dict)
    file_symmetry: Symmetry = field(default_factory=Symmetry)
    file_error: str | None = None
    grid_step: Any = None
    axis: Any = None
    solved: bool = False

    def net_named(self, name: str) -> int | None:
        """Index of the net called ``name`` (``setNetName``), or None."""
        return next((i for i, n in self.nets.items() if n.name == name), None)

    def signal_nets(self) -> tuple[str, ...]:
        """Named nets with two or more pins that are not power: not weighted 0 by the
        driver nor marked VDD/VSS (MAGICAL zeroes the weight of its power nets)."""
        power = {*self.vdd_nets, *self.vss_nets}
        return tuple(
            n.name
            for i, n in sorted(self.nets.items())
            if n.name and len(n.pins) >= 2 and i not in power and n.weight != 0
        )
