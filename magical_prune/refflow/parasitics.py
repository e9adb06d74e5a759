"""Wire parasitics of a placement: an RC tree per net from its placed pins.

Before routing, a net's wire is estimated by a *single-trunk Steiner tree* over its pin
centres: one trunk (horizontal at the median pin y, or vertical at the median pin x,
whichever gives the shorter tree) and one straight branch from every pin to the trunk.
It is a standard pre-route Steiner estimate (never shorter than the rectilinear Steiner
minimum tree, at most ~1.5x it for the few-pin nets of an OTA) and, unlike a minimum
spanning tree, it has no ties to break: mirror-symmetric pin sets give mirror-symmetric
trees, so an exactly symmetric placement gets exactly symmetric wiring and unequal wiring
comes only from unequal placement.

Every trunk piece and branch becomes a resistor ``R = R_sheet * length / width`` with its
capacitance ``C = c_wire * length`` split half to each end (a pi section per piece), so the
resistance between two pins is the wire length between them along the tree. Device pins
connect to their own tree node, which is what makes a longer source wire on one side of a
differential pair show up as source degeneration and an IR drop.

Supply nets are wider rails and get one extra tree point where the supply enters the cell:
the middle of the top edge of the placement's bounding box for the positive supply, the
middle of the bottom edge for the ground (both on the symmetry axis of a symmetric
placement).

Constants (fixed before any model was trained; see :class:`WireModel`):

* wire capacitance 0.2 fF/µm: total capacitance per length of an on-chip wire, roughly
  constant across technology generations (R. Ho, K. Mai, M. Horowitz, "The future of
  wires", Proc. IEEE 89(4), 2001, Fig. 3: ~0.2 fF/µm for semi-global/local wires).
* sheet resistance 0.25 Ω/sq: copper intermediate metal at the 65 nm node, effective
  resistivity ~3.3 µΩ·cm (with barrier and scattering) over a ~130 nm thick wire (ITRS 2007
  Interconnect tables, intermediate wiring, 65 nm half-pitch node).
* signal wires 0.2 µm wide (twice the minimum width, usual for analog routing), supply
  rails 1.0 µm wide.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from magical_prune.placement import Placement

__all__ = ["WireModel", "NetTree", "single_trunk_tree", "net_trees", "MIN_PIECE_UM"]

NM_PER_UM = 1000.0
#: Grid of the tree arithmetic, points per µm (1/8 nm; see :func:`single_trunk_tree`).
GRID_PER_UM = 8000.0
#: Wire pieces shorter than this (µm) are not modelled: their ends are one node (a 10 nm
#: piece is 0.01 Ω, far below anything the labels resolve).
MIN_PIECE_UM = 0.01


@dataclass(frozen=True)
class WireModel:
    """Wire constants (SI units except lengths in µm); see the module docstring for sources.

    Attributes:
        sheet_resistance: metal sheet resistance (Ω/sq).
        signal_width_um: width of signal wires (µm).
        supply_width_um: width of supply rails (µm).
        cap_per_um: wire capacitance to substrate per length (F/µm).
    """

    sheet_resistance: float = 0.25
    signal_width_um: float = 0.2
    supply_width_um: float = 1.0
    cap_per_um: float = 0.2e-15

    def resistance_per_um(self, supply: bool) -> float:
        width = self.supply_width_um if supply else self.signal_width_um
        return self.sheet_resistance / width


@dataclass(frozen=True)
class NetTree:
    """The RC tree of one net.

    Attributes:
        net: net name.
        xy: ``(V, 2)`` node coordinates (µm).
        pin_node: ``(P,)`` tree node of each of the net's placed pins (placement pin order).
        edges: ``(E, 2)`` node index pairs of the wire pieces.
        lengths: ``(E,)`` piece lengths (µm), all > 0.
        root: the node where the net's port (supply source, bench connection) attaches.
        supply: whether the net is a supply rail.
    """

    net: str
    xy: np.ndarray
    pin_node: np.ndarray
    edges: np.ndarray
    lengths: np.ndarray
    root: int
    supply: bool = False

    @property
    def length(self) -> float:
        """Total wire length (µm)."""
        return float(self.lengths.sum())


def single_trunk_tree(
    points: np.ndarray, min_length: float = MIN_PIECE_UM
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Single-trunk rectilinear Steiner tree over ``points`` (``(n, 2)``, µm).

    Exact arithmetic: points are snapped to a 1/8 nm grid (:data:`GRID_PER_UM`), where
    placed pin centres (0.5 nm), supply entry points and trunk medians (0.25 nm) are exact,
    so two points at the same place are one node however their floats were rounded. Wire
    pieces shorter than ``min_length`` are then contracted (their two ends become one
    node). Both keep the circuit matrix well-conditioned: a pin centre and a supply entry
    point that differed only by float rounding (43.84 vs 43.839999999999996 µm) used to give
    a 4e-15 µm rail piece, a 1e-15 Ω resistor that made ngspice miss the operating point or
    land on a wrong one.

    Args:
        points: ``(n, 2)`` coordinates (µm).
        min_length: shortest wire piece kept (µm); exact mirror images of a point set get
            mirror-image trees, also after contraction.

    Returns:
        ``(xy, point_node, edges, lengths)``: tree node coordinates, the node of each input
        point, the wire pieces as node pairs, and their lengths (all >= ``min_length``).
        Coincident points share a node; a net of one point (or of coincident points) has
        no pieces.
    """
    # Plain Python on purpose: nets have a handful of pins, and numpy's per-call overhead
    # (unique, median) would dominate the evaluator's netlist building. Values are whole
    # grid units (or halves, for a median of arbitrary input): exact in float64.
    pts = [
        (float(round(x * GRID_PER_UM)), float(round(y * GRID_PER_UM)))
        for x, y in np.asarray(points, dtype=np.float64).reshape(-1, 2)
    ]
    if not pts:
        raise ValueError("a net tree needs at least one point")
    unique = sorted(set(pts))
    index = {p: i for i, p in enumerate(unique)}
    point_unique = [index[p] for p in pts]
    if len(unique) == 1:
        return (
            np.asarray(unique) / GRID_PER_UM,
            np.zeros(len(pts), np.int64),
            np.zeros((0, 2), np.int64),
            np.zeros(0),
        )
    xy, node_of_unique, edges, lengths = _trunk_and_branches(unique)
    return _contract(
        np.asarray(xy, dtype=np.float64) / GRID_PER_UM,
        np.asarray([node_of_unique[u] for u in point_unique], dtype=np.int64),
        np.asarray(edges, dtype=np.int64).reshape(-1, 2),
        np.asarray(lengths, dtype=np.float64) / GRID_PER_UM,
        min_length,
    )


def _median(values: list[float]) -> float:
    v = sorted(values)
    mid = len(v) // 2
    return v[mid] if len(v) % 2 else (v[mid - 1] + v[mid]) / 2.0


def _trunk_and_branches(
    unique: list[tuple[float, float]],
) -> tuple[list[tuple[float, float]], list[int], list[tuple[int, int]], list[float]]:
    """The single-trunk tree over distinct points (grid units): node coordinates (trunk
    stops first), the node of each point, the pieces as node pairs, and their lengths."""
    xs = [p[0] for p in unique]
    ys = [p[1] for p in unique]
    my, mx = _median(ys), _median(xs)
    horizontal = sum(abs(y - my) for y in ys) + (max(xs) - min(xs))
    vertical = sum(abs(x - mx) for x in xs) + (max(ys) - min(ys))
    # Trunk along x at the median y (horizontal), or along y at the median x.
    if horizontal <= vertical:
        along, across, trunk_at = xs, ys, my
    else:
        along, across, trunk_at = ys, xs, mx
    stops = sorted(set(along))
    stop_index = {v: i for i, v in enumerate(stops)}
    xy: list[tuple[float, float]] = [
        (v, trunk_at) if horizontal <= vertical else (trunk_at, v) for v in stops
    ]
    edges = [(i, i + 1) for i in range(len(stops) - 1)]
    lengths = [stops[i + 1] - stops[i] for i in range(len(stops) - 1)]
    node_of_unique = []
    for u, point in enumerate(unique):
        stop = stop_index[along[u]]
        offset = abs(across[u] - trunk_at)
        if offset > 0:  # a branch from the trunk node below it to the point
            xy.append(point)
            edges.append((stop, len(xy) - 1))
            lengths.append(offset)
            node_of_unique.append(len(xy) - 1)
        else:
            node_of_unique.append(stop)
    return xy, node_of_unique, edges, lengths


def _contract(
    xy: np.ndarray,
    point_node: np.ndarray,
    edges: np.ndarray,
    lengths: np.ndarray,
    min_length: float,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Merge the two ends of every piece shorter than ``min_length`` (the lower-numbered node
    stands for the merged ones; the other pieces keep their lengths)."""
    short = lengths < min_length
    if not short.any():
        return xy, point_node, edges, lengths
    parent = list(range(len(xy)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for a, b in edges[short]:
        ra, rb = find(int(a)), find(int(b))
        parent[max(ra, rb)] = min(ra, rb)
    roots = sorted({find(i) for i in range(len(xy))})
    renumber = {r: k for k, r in enumerate(roots)}
    node = np.array([renumber[find(i)] for i in range(len(xy))], dtype=np.int64)
    return xy[roots], node[point_node], node[edges[~short]].reshape(-1, 2), lengths[~short]


def net_trees(
    placement: Placement,
    supplies: dict[str, str] | None = None,
) -> dict[str, NetTree]:
    """RC-tree geometry of every routed net of a placement.

    Args:
        placement: the placement (pin boxes in nm).
        supplies: supply net -> ``"top"`` or ``"bottom"``: where the supply enters the cell
            (middle of that edge of the bounding box); these nets are rails.

    Returns:
        net name -> :class:`NetTree`, in the placement's net order.
    """
    supplies = supplies or {}
    centres = (placement.pin_boxes[:, :2] + placement.pin_boxes[:, 2:]) / (2.0 * NM_PER_UM)
    bbox = placement.bbox / NM_PER_UM
    # same formula as the pin centres, so an on-axis pin and the entry round alike
    mid_x = (placement.bbox[0] + placement.bbox[2]) / (2.0 * NM_PER_UM)
    trees: dict[str, NetTree] = {}
    for k, net in enumerate(placement.net_names):
        members = placement.net_pins[placement.net_ptr[k] : placement.net_ptr[k + 1]]
        points = centres[members]
        side = supplies.get(net)
        if side is not None:
            entry = np.array([[mid_x, bbox[3] if side == "top" else bbox[1]]])
            points = np.concatenate([points, entry])
        xy, point_node, edges, lengths = single_trunk_tree(points)
        if side is not None:
            root = int(point_node[-1])
            point_node = point_node[:-1]
        else:
            # The node nearest the pins' mean (first on ties): where a port attaches.
            mean = points.mean(axis=0)
            root = int(np.argmin(np.abs(xy - mean).sum(axis=1)))
        trees[net] = NetTree(net, xy, point_node, edges, lengths, root, side is not None)
    return trees
