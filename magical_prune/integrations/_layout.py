"""From a recorded IdeaPlaceEx problem and its solution to a Placement and a layout folder."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from magical_prune.adapters import magical
from magical_prune.circuit import Circuit, DeviceType, Symmetry
from magical_prune.errors import MagicalPruneError
from magical_prune.integrations._devices import device_types, pin_terminals
from magical_prune.placement import Placement
from magical_prune.subcircuits import subcircuits_of

if TYPE_CHECKING:  # pragma: no cover
    from magical_prune.integrations._problem import RecordedProblem

Box = tuple[int, int, int, int]


@dataclass(frozen=True)
class BuiltLayout:
    """A solved placement and what writing it needs beyond the :class:`Placement`.

    Attributes:
        placement: the placement (pins mirrored as placed).
        shapes: ``(device, terminal) ->`` pin rectangles relative to the device's
            lower-left corner, as placed (mirroring applied): ``place.pin`` keeps every
            shape, the placement only their bounding box.
    """

    placement: Placement
    shapes: dict[tuple[str, str], list[Box]]


def _named(problem: RecordedProblem) -> tuple[dict[int, str], dict[int, str]]:
    cells: dict[int, str] = {}
    for index, name in sorted(problem.cells.items()):
        if not name:
            raise MagicalPruneError(f"cell {index} has no name (setCellName was never called)")
        cells[index] = name
    if not cells:
        raise MagicalPruneError("no cell was fed to the placer")
    if len(set(cells.values())) != len(cells):
        dup = next(n for n in cells.values() if list(cells.values()).count(n) > 1)
        raise MagicalPruneError(f"two cells are named {dup!r}")
    nets: dict[int, str] = {}
    for index, net in sorted(problem.nets.items()):
        if net.name:
            nets[index] = net.name
    if len(set(nets.values())) != len(nets):
        dup = next(n for n in nets.values() if list(nets.values()).count(n) > 1)
        raise MagicalPruneError(f"two nets are named {dup!r}")
    return cells, nets


def _pin_nets(
    problem: RecordedProblem, cells: dict[int, str], nets: dict[int, str]
) -> dict[int, str]:
    """Pin index -> the name of the net it was added to (checked on the way)."""
    for index, pin in problem.pins.items():
        if pin.cell not in cells:
            raise MagicalPruneError(
                f"pin {index} ({pin.name!r}) belongs to cell {pin.cell}, which was never allocated"
            )
    out: dict[int, str] = {}
    for net_index, net in sorted(problem.nets.items()):
        for pin_index in net.pins:
            pin = problem.pins.get(pin_index)
            if pin is None:
                raise MagicalPruneError(
                    f"net {net.name or net_index!r} names pin {pin_index}, which was never "
                    "allocated"
                )
            where = f"pin {pin.name!r} of cell {cells[pin.cell]!r}"
            if net_index not in nets:
                raise MagicalPruneError(
                    f"{where} is on net {net_index}, an unknown net (never allocated or "
                    "named with setNetName)"
                )
            if pin_index in out and out[pin_index] != nets[net_index]:
                raise MagicalPruneError(
                    f"{where} is on two nets, {out[pin_index]!r} and {nets[net_index]!r}"
                )
            out[pin_index] = nets[net_index]
    return out


def _netlist_circuit(netlist: str | os.PathLike[str] | Circuit | None) -> Circuit | None:
    if netlist is None or isinstance(netlist, Circuit):
        return netlist
    return magical.load_circuit(netlist)


def _channels(
    channels: str | os.PathLike[str] | Mapping[str, Any] | None,
) -> dict[str, tuple[int, ...]]:
    if channels is None:
        return {}
    if isinstance(channels, (str, os.PathLike)):
        return magical.read_channels(channels)
    return {
        d: tuple(int(c) for c in ([v] if isinstance(v, int) else v)) for d, v in channels.items()
    }


def _symmetry(problem: RecordedProblem, cells: dict[int, str], nets: dict[int, str]) -> Symmetry:
    """In-memory groups (``addSymPair``/``addSelfSym``) followed by the ``.sym`` file's."""
    groups: list[tuple[tuple[str, ...], ...]] = []
    for group_index, members in sorted(problem.sym_groups.items()):
        named = []
        for member in members:
            unknown = [c for c in member if c not in cells]
            if unknown:
                raise MagicalPruneError(
                    f"symmetry group {group_index} names cell {unknown[0]}, which was never "
                    "allocated"
                )
            named.append(tuple(cells[c] for c in member))
        if named:
            groups.append(tuple(named))
    file = problem.file_symmetry
    seen = {n for g in groups for m in g for n in m}
    file_groups = list(file.groups) or [(*file.pairs, *((s,) for s in file.self_symmetric))]
    for group in file_groups:  # a driver feeding both ways must not name a device twice
        kept = tuple(m for m in group if not seen.intersection(m))
        if kept:
            groups.append(kept)
    members = [m for g in groups for m in g]
    net_pairs = [
        (nets[a], nets[b]) for a, b in problem.sym_net_pairs if a in nets and b in nets
    ] + list(file.net_pairs)
    self_nets = [nets[n] for n in problem.self_sym_nets if n in nets] + list(
        file.self_symmetric_nets
    )
    return Symmetry(
        pairs=tuple((m[0], m[1]) for m in members if len(m) == 2),
        self_symmetric=tuple(m[0] for m in members if len(m) == 1),
        net_pairs=tuple(net_pairs),
        self_symmetric_nets=tuple(self_nets),
        groups=tuple(groups),
    )


def _outline(problem: RecordedProblem, index: int, name: str) -> Box:
    shapes = problem.cell_shapes.get(index) or []
    if not shapes:
        raise MagicalPruneError(f"cell {name!r} has no outline (addCellShape was never called)")
    boxes = np.array([[int(round(v)) for v in s[-4:]] for s in shapes], dtype=np.int64)
    box = (int(boxes[:, 0].min()), int(boxes[:, 1].min()), int(boxes[:, 2].max()),
           int(boxes[:, 3].max()))  # fmt: skip
    if box[2] <= box[0] or box[3] <= box[1]:
        raise MagicalPruneError(f"cell {name!r} has an empty outline {box}")
    return box


def build_layout(
    problem: RecordedProblem,
    locations: Mapping[int, tuple[int, int]],
    netlist: str | os.PathLike[str] | Circuit | None,
    types: Mapping[str, DeviceType | str] | None,
    channels: str | os.PathLike[str] | Mapping[str, Any] | None,
    name: str | None,
) -> BuiltLayout:
    """The :class:`BuiltLayout` of a solved problem (see ``RecordingPlacer.placement``)."""
    cells, nets = _named(problem)
    pin_nets = _pin_nets(problem, cells, nets)
    topology = _netlist_circuit(netlist)
    if topology is not None:
        strangers = [n for n in cells.values() if n not in topology.devices]
        if strangers:
            raise MagicalPruneError(
                f"cell {strangers[0]!r} is not a device of the netlist "
                f"{topology.source or topology.name}"
            )
    dev_types = device_types(problem, cells, nets, types, topology)
    terminals = pin_terminals(problem, cells, pin_nets, dev_types, topology)

    order = sorted(cells)
    names = tuple(cells[i] for i in order)
    outlines, rects = _placed_rects(problem, cells, order, locations)
    shapes = _pin_shapes(problem, cells, terminals, outlines)
    local = {key: _bounds(boxes) for key, boxes in shapes.items()}
    connections = _connections(problem, cells, nets, terminals)
    overrides: dict[str, tuple[int, ...]] = {}
    if topology is not None:
        classified = subcircuits_of(topology)
        overrides = {d: classified[d] for d in names if d in classified}
    overrides.update(_channels(channels))
    design = name or (topology.name if topology is not None else "design")
    circuit = Circuit.from_connections(
        design, connections, dev_types, ports=topology.ports if topology is not None else (),
        symmetry=_symmetry(problem, cells, nets), channel_overrides=overrides or None,
        source=f"IdeaPlaceEx:{design}",
    )  # fmt: skip
    weights = {
        nets[i]: 1.0 if n.weight is None else n.weight
        for i, n in sorted(problem.nets.items())
        if i in nets
    }
    placement = Placement.build(circuit, names, rects, local, weights=weights,
                                source=f"IdeaPlaceEx:{design}")  # fmt: skip
    return BuiltLayout(placement, shapes)


def _placed_rects(
    problem: RecordedProblem,
    cells: dict[int, str],
    order: list[int],
    locations: Mapping[int, tuple[int, int]],
) -> tuple[dict[int, Box], np.ndarray]:
    """Each cell's outline, and the ``(N, 4)`` outlines at their locations (in ``order``),
    the lowest location moved to 0, 0."""
    ox = min(locations[i][0] for i in order)
    oy = min(locations[i][1] for i in order)
    outlines = {i: _outline(problem, i, cells[i]) for i in order}
    rects = np.array(
        [
            [b[0] + x - ox, b[1] + y - oy, b[2] + x - ox, b[3] + y - oy]
            for i in order
            for b, (x, y) in [(outlines[i], locations[i])]
        ],
        dtype=np.int64,
    )
    return outlines, rects


def _pin_shapes(
    problem: RecordedProblem,
    cells: dict[int, str],
    terminals: Mapping[int, str],
    outlines: dict[int, Box],
) -> dict[tuple[str, str], list[Box]]:
    """``(device, terminal) ->`` pin rectangles relative to the cell's lower-left corner,
    flipped cells mirrored about their vertical centre line."""
    flips = set(problem.flips)
    shapes: dict[tuple[str, str], list[Box]] = {}
    for pin_index in sorted(problem.pins):
        pin = problem.pins[pin_index]
        if not pin.shapes:
            continue
        b = outlines[pin.cell]
        width = b[2] - b[0]
        key = (cells[pin.cell], terminals[pin_index])
        for shape in pin.shapes:
            x0, y0, x1, y1 = (int(round(v)) - o for v, o in zip(shape[-4:], (b[0], b[1]) * 2))
            if pin.cell in flips:
                x0, x1 = width - x1, width - x0
            shapes.setdefault(key, []).append((x0, y0, x1, y1))
    return shapes


def _bounds(boxes: list[Box]) -> Box:
    return (
        min(s[0] for s in boxes),
        min(s[1] for s in boxes),
        max(s[2] for s in boxes),
        max(s[3] for s in boxes),
    )


def _connections(
    problem: RecordedProblem,
    cells: dict[int, str],
    nets: dict[int, str],
    terminals: Mapping[int, str],
) -> dict[str, list[tuple[str, str]]]:
    """Named net -> its ``(device, terminal)`` pins, each once, in the order fed."""
    connections: dict[str, list[tuple[str, str]]] = {}
    for net_index, net in sorted(problem.nets.items()):
        if net.pins and net_index in nets:
            members = [(cells[problem.pins[p].cell], terminals[p]) for p in net.pins]
            connections[nets[net_index]] = list(dict.fromkeys(members))
    return connections


def loader_mirrored(symmetry: Symmetry, names: tuple[str, ...], rects: np.ndarray) -> set[str]:
    """Devices a reader of the written folder mirrors: the right-hand device (larger x
    centre) of each placed symmetric pair, as ``load_placement`` decides it."""
    index = {n: i for i, n in enumerate(names)}
    out = set()
    for a, b in symmetry.pairs:
        ia, ib = index.get(a), index.get(b)
        if ia is None or ib is None:
            continue
        ca, cb = rects[ia, 0] + rects[ia, 2], rects[ib, 0] + rects[ib, 2]
        if cb > ca:
            out.add(b)
        elif ca > cb:
            out.add(a)
    return out


def write_layout_files(folder: Path, built: BuiltLayout) -> None:
    """Write ``built`` as a layout folder with its design files (see
    ``RecordingPlacer.write_layout``)."""
    p = built.placement
    circuit = p.circuit
    folder.mkdir(parents=True, exist_ok=True)
    mirrored = loader_mirrored(circuit.symmetry, p.names, p.rects)
    width = {n: int(r[2] - r[0]) for n, r in zip(p.names, p.rects.tolist())}
    pins: dict[tuple[str, str], list[Box]] = {}
    for (device, terminal), boxes in built.shapes.items():
        if device in mirrored:  # the reader mirrors it again: store it unmirrored
            w = width[device]
            boxes = [(w - b[2], b[1], w - b[0], b[3]) for b in boxes]
        pins[(device, terminal)] = boxes
    magical.write_place_result(folder / "place.result", p.names, p.rects)
    magical.write_place_pin(folder / "place.pin", pins)  # type: ignore[arg-type]
    magical.write_connection(
        folder / "place.connection", {n.name: n.pins for n in circuit.nets.values()}
    )
    magical.write_weights(folder / "weight.txt", p.weights)
    design = circuit.name
    magical.write_types(
        folder / f"{design}.json", {d.name: d.type for d in circuit.devices.values()}
    )
    magical.write_channels(folder / f"{design}.channel", subcircuits_of(circuit))
    sym = circuit.symmetry
    if sym.pairs or sym.self_symmetric:
        magical.write_sym(folder / f"{design}.sym", sym)
    if sym.net_pairs or sym.self_symmetric_nets:
        magical.write_symnet(folder / f"{design}.symnet", sym)
