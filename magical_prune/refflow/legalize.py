"""Legalisation: from a symmetric global placement to integer, overlap-free, symmetric rectangles.

Constraint-graph compaction solved as two linear programs (x and y; HiGHS via
:func:`scipy.optimize.linprog`). Every device pair keeps the relation it has in the global
placement: left/right when the two are further apart horizontally than vertically, else
above/below. Symmetric pairs are always side by side (they share ``y``); two self-symmetric
devices are always stacked (they share ``x``). The relation of a mirrored device pair is
copied from its mirror image, so the constraints agree with the mirror. Each program
minimises the displacement from the global placement plus a weighted HPWL term (so the
weights still shape the compaction) plus the growth of the outline beyond the target.

The programs run in units of the placement grid with a small extra gap, and the result is
rounded so that symmetry is exact in integers: the axis is rounded first, the left member of
each pair next, and the right member is its mirror image. Rounding moves a device by at most
1.5 grid units, which the extra gap absorbs; the result is checked in integers before it
is returned.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp
from scipy.optimize import linprog

from magical_prune.errors import MagicalPruneError
from magical_prune.refflow.footprints import GRID
from magical_prune.refflow.problem import LegalLayout, PlacementProblem, PlacerConfig

#: Extra gap (grid units) that absorbs rounding: x moves <= 1.5 units per device, y <= 0.5.
_ROUND_SLACK = (3.0, 1.0)
#: Distance (grid units) kept from the outline's lower/left edge before rounding.
_EDGE_SLACK = 2.0


def relations(problem: PlacementProblem, centres: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Which device pairs are separated horizontally, and in which order.

    Args:
        problem: the compiled circuit.
        centres: ``(N, 2)`` global placement centres (nm), mirror-symmetric.

    Returns:
        ``(left, below)``: boolean ``(N, N)`` matrices; ``left[i, j]`` means device ``i`` must
        end left of device ``j`` begins, ``below[i, j]`` that ``i`` ends below ``j``. Every
        unordered pair gets exactly one of the four relations.
    """
    n = len(problem.names)
    half = problem.size / 2.0
    x, y = centres[:, 0], centres[:, 1]
    gap_x = np.abs(x[:, None] - x[None, :]) - (half[:, None, 0] + half[None, :, 0])
    gap_y = np.abs(y[:, None] - y[None, :]) - (half[:, None, 1] + half[None, :, 1])
    horizontal = gap_x >= gap_y

    # Mirror image of each device (itself for self-symmetric ones), -1 for free devices.
    mirror = np.full(n, -1)
    pairs = problem.pairs
    mirror[pairs[:, 0]], mirror[pairs[:, 1]] = pairs[:, 1], pairs[:, 0]
    mirror[problem.self_symmetric] = problem.self_symmetric
    # Symmetry group of each device: pair members share one, for a tie-break in y.
    group = np.arange(n)
    group[pairs[:, 1]] = pairs[:, 0]

    # Copy each relation between symmetry members from its mirror image when that image
    # comes first, so both halves of the layout get the same (mirrored) constraint.
    ii, jj = np.triu_indices(n, k=1)
    both = (mirror[ii] >= 0) & (mirror[jj] >= 0)
    mi, mj = np.minimum(mirror[ii], mirror[jj]), np.maximum(mirror[ii], mirror[jj])
    copy = both & ((mi < ii) | ((mi == ii) & (mj < jj)))
    horizontal[ii[copy], jj[copy]] = horizontal[mi[copy], mj[copy]]

    # Forced relations: partners side by side, self-symmetric devices stacked.
    horizontal[pairs[:, 0], pairs[:, 1]] = horizontal[pairs[:, 1], pairs[:, 0]] = True
    selfs = problem.self_symmetric
    if len(selfs):
        horizontal[np.ix_(selfs, selfs)] = False
    upper = np.triu(horizontal, k=1)
    horizontal = upper | upper.T

    # Order: by centre, ties broken in x by a key that mirroring negates (so a tie on the
    # right mirrors the same tie on the left, as the copied relations below expect) and then
    # by index, in y by symmetry group. A tie-break by index alone made cycles when a free
    # device tied with right-hand pair members, whose order is the mirror of the left's.
    idx = np.arange(n)
    mirror_key = np.zeros(n)
    rank = np.arange(len(pairs)) - len(pairs)  # negative, ascending in pair order
    mirror_key[pairs[:, 0]], mirror_key[pairs[:, 1]] = rank, -rank
    tie = mirror_key[:, None] < mirror_key[None, :]
    tie |= (mirror_key[:, None] == mirror_key[None, :]) & (idx[:, None] < idx[None, :])
    before_x = (x[:, None] < x[None, :]) | ((x[:, None] == x[None, :]) & tie)
    before_y = (y[:, None] < y[None, :]) | (
        (y[:, None] == y[None, :]) & (group[:, None] < group[None, :])
    )
    # Mirrored x relations: i left of j  <=>  mirror(j) left of mirror(i).
    src_i, src_j = mirror[ii[copy]], mirror[jj[copy]]
    before_x[ii[copy], jj[copy]] = before_x[src_j, src_i]
    before_x[jj[copy], ii[copy]] = ~before_x[ii[copy], jj[copy]]
    before_x[pairs[:, 0], pairs[:, 1]] = True
    before_x[pairs[:, 1], pairs[:, 0]] = False

    off_diagonal = ~np.eye(n, dtype=bool)
    left = horizontal & before_x & off_diagonal
    below = ~horizontal & before_y & off_diagonal
    return left, below


@dataclass(frozen=True)
class _Columns:
    """Where each variable of one axis's LP starts: centres ``c`` (N), the symmetry axis
    ``a``, the outline size, net upper and lower bounds ``U``, ``L`` (K each), and the
    displacements ``d`` (N); ``count`` variables in all."""

    n: int
    k: int
    centre: int
    axis: int
    size: int
    upper: int
    lower: int
    displacement: int
    count: int

    @classmethod
    def of(cls, n: int, k: int) -> _Columns:
        return cls(n, k, 0, n, n + 1, n + 2, n + 2 + k, n + 2 + 2 * k, n + 2 + 2 * k + n)


@dataclass
class _Rows:
    """Inequality rows ``A x <= b``, added block by block (each block: one row per bound,
    the same coefficients on every row)."""

    rows: list[np.ndarray] = field(default_factory=list)
    cols: list[np.ndarray] = field(default_factory=list)
    vals: list[np.ndarray] = field(default_factory=list)
    rhs: list[np.ndarray] = field(default_factory=list)
    count: int = 0

    def add(self, row_cols: list[np.ndarray], row_vals: list[float], bound: np.ndarray) -> None:
        m = len(bound)
        r = np.arange(self.count, self.count + m)
        for c, v in zip(row_cols, row_vals):
            self.rows.append(r)
            self.cols.append(c)
            self.vals.append(np.full(m, v, dtype=np.float64))
        self.rhs.append(bound.astype(np.float64))
        self.count += m

    def matrix(self, nvar: int) -> tuple[sp.csr_matrix, np.ndarray]:
        a_ub = sp.csr_matrix(
            (np.concatenate(self.vals), (np.concatenate(self.rows), np.concatenate(self.cols))),
            shape=(self.count, nvar),
        )
        return a_ub, np.concatenate(self.rhs)


def _inequalities(
    problem: PlacementProblem,
    goal: np.ndarray,
    order: np.ndarray,
    axis_index: int,
    gap: float,
    v: _Columns,
) -> tuple[sp.csr_matrix, np.ndarray]:
    """Order, outline, net-bound and displacement rows of one axis (grid units)."""
    n, k = v.n, v.k
    half = problem.size[:, axis_index] / (2.0 * GRID)
    ic = v.centre
    rows = _Rows()
    # Order: c_i + h_i + gap <= c_j - h_j. A relation implied by a chain through a third
    # device (i before k before j) is dropped: it cannot bind, and the LP gets much smaller.
    as_int = order.astype(np.int32)
    i, j = np.nonzero(order & ((as_int @ as_int) == 0))
    rows.add([ic + i, ic + j], [1.0, -1.0], -(half[i] + half[j] + gap))
    # Inside the outline [0, size].
    all_dev = np.arange(n)
    rows.add([ic + all_dev], [-1.0], -(half + _EDGE_SLACK))
    rows.add([ic + all_dev, np.full(n, v.size)], [1.0, -1.0], -(half + _EDGE_SLACK))
    # Net bounds: L_k <= c_dev + off <= U_k.
    if k:
        net_of_pin = np.repeat(np.arange(k), np.diff(problem.net_ptr))
        dev = problem.pin_device
        off = problem.pin_offset[:, axis_index] / GRID
        rows.add([ic + dev, v.upper + net_of_pin], [1.0, -1.0], -off)
        rows.add([ic + dev, v.lower + net_of_pin], [-1.0, 1.0], off)
    # Displacement: d_i >= |c_i - goal_i|.
    rows.add([ic + all_dev, v.displacement + all_dev], [1.0, -1.0], goal)
    rows.add([ic + all_dev, v.displacement + all_dev], [-1.0, -1.0], -goal)
    return rows.matrix(v.count)


def _symmetry(
    problem: PlacementProblem, horizontal: bool, v: _Columns
) -> tuple[sp.csr_matrix | None, np.ndarray | None]:
    """Equalities: pairs mirror about the axis (x) or share y; self-symmetric devices
    centre on the axis (x)."""
    ic, ia = v.centre, v.axis
    eq_rows: list[int] = []
    eq_cols: list[int] = []
    eq_vals: list[float] = []
    neq = 0
    for a, b in problem.pairs:
        if horizontal:
            eq_rows += [neq, neq, neq]
            eq_cols += [ic + a, ic + b, ia]
            eq_vals += [1.0, 1.0, -2.0]
        else:
            eq_rows += [neq, neq]
            eq_cols += [ic + a, ic + b]
            eq_vals += [1.0, -1.0]
        neq += 1
    if horizontal:
        for s in problem.self_symmetric:
            eq_rows += [neq, neq]
            eq_cols += [ic + s, ia]
            eq_vals += [1.0, -1.0]
            neq += 1
    if not neq:
        return None, None
    return sp.csr_matrix((eq_vals, (eq_rows, eq_cols)), shape=(neq, v.count)), np.zeros(neq)


def _cost_and_bounds(
    weights: np.ndarray, config: PlacerConfig, target: float, horizontal: bool, v: _Columns
) -> tuple[np.ndarray, list[tuple[float | None, float | None]]]:
    """Displacement + weighted HPWL + outline growth; the outline is at least the target."""
    cost = np.zeros(v.count)
    cost[v.displacement : v.displacement + v.n] = 1.0
    cost[v.upper : v.upper + v.k] = config.legal_wirelength * weights
    cost[v.lower : v.lower + v.k] = -config.legal_wirelength * weights
    cost[v.size] = config.legal_boundary
    bounds: list[tuple[float | None, float | None]] = [(None, None)] * v.count
    bounds[v.size] = (target, None)
    if not horizontal:
        bounds[v.axis] = (0.0, 0.0)
    return cost, bounds


def _solve_axis(
    problem: PlacementProblem,
    centre: np.ndarray,
    order: np.ndarray,
    weights: np.ndarray,
    axis_index: int,
    config: PlacerConfig,
) -> tuple[np.ndarray, float, float]:
    """One compaction LP along x (``axis_index`` 0) or y (1), in grid units.

    Returns the device centres, the symmetry axis (x only, else nan) and the outline size.
    """
    v = _Columns.of(len(problem.names), len(problem.nets))
    horizontal = axis_index == 0
    gap = config.spacing / GRID + _ROUND_SLACK[axis_index]
    a_ub, b_ub = _inequalities(problem, centre / GRID, order, axis_index, gap, v)
    a_eq, b_eq = _symmetry(problem, horizontal, v)
    target = problem.target[axis_index] / GRID
    cost, bounds = _cost_and_bounds(weights, config, target, horizontal, v)
    result = linprog(
        cost, A_ub=a_ub, b_ub=b_ub, A_eq=a_eq, b_eq=b_eq, bounds=bounds, method="highs"
    )
    if result.status != 0:
        raise MagicalPruneError(
            f"legalisation of {problem.circuit.name!r} failed along {'xy'[axis_index]}: "
            f"{result.message}"
        )
    sol = result.x
    return sol[: v.n], float(sol[v.axis]), float(sol[v.size])


def legalize(
    problem: PlacementProblem,
    centres: np.ndarray,
    weights: np.ndarray,
    config: PlacerConfig | None = None,
) -> LegalLayout:
    """Legal integer layout closest to a global placement (see the module docstring).

    Args:
        problem: the compiled circuit.
        centres: ``(N, 2)`` global placement centres (nm).
        weights: ``(K,)`` weights of ``problem.nets`` (the compaction's wirelength term).
        config: spacing and the legaliser's cost weights.
    """
    config = config or PlacerConfig()
    centres = np.asarray(centres, dtype=np.float64)
    weights = np.asarray(weights, dtype=np.float64)
    left, below = relations(problem, centres)
    cx, axis, _ = _solve_axis(problem, centres[:, 0], left, weights, 0, config)
    cy, _, _ = _solve_axis(problem, centres[:, 1], below, weights, 1, config)

    # Round to the grid with exact symmetry: axis, then left members, then mirrors.
    pairs, selfs = problem.pairs, problem.self_symmetric
    ax = int(np.rint(axis))
    gx = np.rint(cx).astype(np.int64)
    gx[pairs[:, 1]] = 2 * ax - gx[pairs[:, 0]]
    gx[selfs] = ax
    ymean = cy.copy()
    ymean[pairs[:, 0]] = ymean[pairs[:, 1]] = (cy[pairs[:, 0]] + cy[pairs[:, 1]]) / 2
    gy = np.rint(ymean).astype(np.int64)

    half = problem.size // 2
    lo = np.stack([gx * GRID, gy * GRID], axis=1) - half
    rects = np.concatenate([lo, lo + problem.size], axis=1).astype(np.int64)
    boundary = np.array(
        [
            0,
            0,
            max(problem.target[0], rects[:, 2].max()),
            max(problem.target[1], rects[:, 3].max()),
        ],
        dtype=np.int64,
    )
    layout = LegalLayout(rects=rects, boundary=boundary, axis=ax * GRID)
    problems = check_legal(problem, layout, config.spacing)
    if problems:  # a bug, not a user error: the LP and the rounding guarantee legality
        raise RuntimeError(f"legaliser produced an illegal layout: {problems[0]}")
    return layout


def check_legal(problem: PlacementProblem, layout: LegalLayout, spacing: int = 0) -> list[str]:
    """Every violation of legality (overlap closer than ``spacing``, broken symmetry,
    device outside the boundary), as messages; empty when the layout is legal."""
    r = layout.rects
    names = problem.names
    out: list[str] = []
    n = len(r)
    ii, jj = np.triu_indices(n, k=1)
    sep_x = np.maximum(r[jj, 0] - r[ii, 2], r[ii, 0] - r[jj, 2])
    sep_y = np.maximum(r[jj, 1] - r[ii, 3], r[ii, 1] - r[jj, 3])
    bad = (sep_x < spacing) & (sep_y < spacing)
    for a, b in zip(ii[bad], jj[bad]):
        out.append(f"{names[a]} and {names[b]} are closer than {spacing} nm")
    twice_axis = 2 * layout.axis
    for a, b in problem.pairs:
        if r[a, 1] != r[b, 1] or r[a, 3] != r[b, 3]:
            out.append(f"pair {names[a]}/{names[b]} is not at the same y")
        if r[a, 0] + r[b, 2] != twice_axis or r[a, 2] + r[b, 0] != twice_axis:
            out.append(f"pair {names[a]}/{names[b]} is not mirrored about x={layout.axis}")
    for s in problem.self_symmetric:
        if r[s, 0] + r[s, 2] != twice_axis:
            out.append(f"{names[s]} is not centred on x={layout.axis}")
    bx = layout.boundary
    outside = (r[:, 0] < bx[0]) | (r[:, 1] < bx[1]) | (r[:, 2] > bx[2]) | (r[:, 3] > bx[3])
    for s in np.nonzero(outside)[0]:
        out.append(f"{names[s]} lies outside the boundary")
    return out
