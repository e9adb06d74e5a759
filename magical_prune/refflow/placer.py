"""Analytical placement of a circuit for a batch of net-weight vectors at once.

The objective is the one the paper's data came from (Sec. III-A):
``sum_k w_k * WL_k + lambda_ov * overlap + lambda_bnd * f_BND``, with

- ``WL_k`` the log-sum-exp smoothed half-perimeter wirelength of net ``k`` over its pin centres,
- ``overlap`` the smoothed pairwise overlap area of the device outlines (plus spacing),
- ``f_BND`` the squared excursion of every device outside the target outline, whose area
  is the device area over ``1 - whitespace`` and whose width/height is ``aspect_ratio``.

Symmetry is built into the variables rather than penalised: one vertical axis ``a`` is shared
by all groups; a pair ``(A, B)`` is placed at ``x = a -/+ dx`` with one shared ``y``, and
``dx`` never lets the two overlap (``dx = dx_min + softplus(u)``); a self-symmetric device has
``x = a``. So every global placement is exactly symmetric, and its left/right and above/below
relations are consistent with the mirror, which the legaliser (:mod:`.legalize`) relies on.

All ``B`` weight vectors are solved together as one batched torch problem (float32, one
thread, fixed iteration count): the same batch gives the same bits. (A candidate's last bits
can depend on the batch it is solved in, through the kernels torch picks for the shape, so
:mod:`.generate` always solves the same fixed chunks of candidates.) The initial placement
depends on the seed only, so differences between the ``B`` results come from the weights.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import torch

from magical_prune.circuit import Circuit
from magical_prune.errors import MagicalPruneError
from magical_prune.placement import Placement
from magical_prune.refflow.footprints import DEFAULT_RULES, GRID, Footprint, ProcessRules
from magical_prune.refflow.footprints import footprints as make_footprints

_UM = 1000.0  # nm per um: the global placer works in micrometres


@dataclass(frozen=True)
class PlacerConfig:
    """Settings of the global placer and the legaliser.

    Attributes:
        whitespace: white space ratio of the target outline (f_BND).
        aspect_ratio: target outline width / height (f_BND).
        spacing: minimum gap between device outlines after legalisation (nm).
        iterations: gradient steps of the global placement.
        learning_rate: Adam step at the start (um); decays to 5% of it.
        gamma: log-sum-exp smoothing of the wirelength at the start and end (um).
        overlap_weight: overlap penalty weight at the start and end (geometric ramp).
        boundary_weight: weight of f_BND.
        seed: seed of the initial placement.
        legal_wirelength: weight of the weighted HPWL in the legaliser's objective
            (relative to the displacement from the global placement).
        legal_boundary: cost per nm of outline growth beyond the target in the legaliser.
        rules: footprint pitches.
    """

    whitespace: float = 0.35
    aspect_ratio: float = 1.0
    spacing: int = 100
    iterations: int = 250
    learning_rate: float = 0.5
    gamma: tuple[float, float] = (2.0, 0.2)
    overlap_weight: tuple[float, float] = (0.05, 500.0)
    boundary_weight: float = 100.0
    seed: int = 0
    legal_wirelength: float = 0.5
    legal_boundary: float = 50.0
    rules: ProcessRules = field(default_factory=lambda: DEFAULT_RULES)

    def __post_init__(self) -> None:
        if not 0 <= self.whitespace < 1:
            raise MagicalPruneError(f"whitespace must be in [0, 1), got {self.whitespace}")
        if self.aspect_ratio <= 0:
            raise MagicalPruneError(f"aspect ratio must be positive, got {self.aspect_ratio}")
        if self.spacing < 0 or self.spacing % GRID:
            raise MagicalPruneError(f"spacing must be a non-negative multiple of {GRID} nm")
        if self.iterations < 1:
            raise MagicalPruneError("iterations must be at least 1")


@dataclass(frozen=True)
class LegalLayout:
    """One legal placement (integer nm).

    Attributes:
        rects: ``(N, 4)`` device outlines ``xlo, ylo, xhi, yhi`` in problem device order.
        boundary: ``(4,)`` the outline every device lies in: the target outline, grown only
            where the relative order of the global placement needs more room.
        axis: x of the symmetry axis; pairs mirror about it, self-symmetric devices centre on it.
    """

    rects: np.ndarray
    boundary: np.ndarray
    axis: int


@dataclass
class PlacementProblem:
    """A circuit compiled into the arrays the placer and legaliser work on.

    Build it with :meth:`from_circuit`. Device order is the circuit's; ``pairs`` are
    ``(left, right)`` device indices in ``.sym`` order (the right one is mirrored, as
    MAGICAL does); ``nets`` are the nets with at least two routed pins, the only ones
    wirelength sees.
    """

    circuit: Circuit
    names: tuple[str, ...]
    footprints: dict[str, Footprint]
    size: np.ndarray  # (N, 2) int64 width, height (nm)
    pairs: np.ndarray  # (Q, 2) int64
    self_symmetric: np.ndarray  # (S,) int64
    free: np.ndarray  # (F,) int64
    nets: tuple[str, ...]
    pin_device: np.ndarray  # (P,) device index of each wirelength pin
    pin_offset: np.ndarray  # (P, 2) pin centre minus device centre (nm), mirror applied
    net_ptr: np.ndarray  # (K + 1,) CSR into the pin arrays
    target: np.ndarray  # (2,) target outline width, height (nm)

    @classmethod
    def from_circuit(
        cls,
        circuit: Circuit,
        rules: ProcessRules = DEFAULT_RULES,
        *,
        config: PlacerConfig | None = None,
    ) -> PlacementProblem:
        config = config or PlacerConfig(rules=rules)
        names = tuple(circuit.devices)
        if not names:
            raise MagicalPruneError(f"circuit {circuit.name!r} has no devices to place")
        index = {n: i for i, n in enumerate(names)}
        fps = make_footprints(circuit.devices, config.rules)
        size = np.array([[fps[n].width, fps[n].height] for n in names], dtype=np.int64)

        pairs: list[tuple[int, int]] = []
        selfs: list[int] = []
        seen: set[str] = set()
        for group in _symmetry_groups(circuit):
            for member in group:
                for name in member:
                    if name not in index:
                        raise MagicalPruneError(
                            f"symmetry names device {name!r}, which is not in {circuit.name!r}"
                        )
                    if name in seen:
                        raise MagicalPruneError(f"device {name!r} is in two symmetry entries")
                    seen.add(name)
                if len(member) == 2:
                    a, b = (index[m] for m in member)
                    pairs.append((a, b))
                elif len(member) == 1:
                    selfs.append(index[member[0]])
        mirrored = {b for _, b in pairs}
        free = [i for i in range(len(names)) if names[i] not in seen]

        net_names: list[str] = []
        pin_device: list[int] = []
        pin_offset: list[tuple[float, float]] = []
        ptr = [0]
        for net in circuit.nets.values():
            members = []
            for device, pin in net.routed_pins:
                if device not in index:
                    raise MagicalPruneError(f"net {net.name!r} names unknown device {device!r}")
                fp = fps[device]
                if pin not in fp.shapes:
                    continue
                i = index[device]
                box = fp.pin_box(pin)
                ox = (box[0] + box[2]) / 2 - fp.width / 2
                oy = (box[1] + box[3]) / 2 - fp.height / 2
                members.append((i, -ox if i in mirrored else ox, oy))
            if len(members) >= 2:
                net_names.append(net.name)
                for i, ox, oy in members:
                    pin_device.append(i)
                    pin_offset.append((ox, oy))
                ptr.append(len(pin_device))

        area = float((size[:, 0] * size[:, 1]).sum()) / (1.0 - config.whitespace)
        width = math.sqrt(area * config.aspect_ratio)
        height = area / width
        width = max(width, float(size[:, 0].max()))
        height = max(height, float(size[:, 1].max()))
        step = 2 * GRID
        target = np.array([math.ceil(width / step) * step, math.ceil(height / step) * step])
        return cls(
            circuit=circuit,
            names=names,
            footprints=fps,
            size=size,
            pairs=np.array(pairs, dtype=np.int64).reshape(-1, 2),
            self_symmetric=np.array(selfs, dtype=np.int64),
            free=np.array(free, dtype=np.int64),
            nets=tuple(net_names),
            pin_device=np.array(pin_device, dtype=np.int64),
            pin_offset=np.array(pin_offset, dtype=np.float64).reshape(-1, 2),
            net_ptr=np.array(ptr, dtype=np.int64),
            target=target.astype(np.int64),
        )

    # -- helpers ----------------------------------------------------------------------------
    @property
    def mirrored(self) -> tuple[str, ...]:
        """Devices whose pins are flipped: the right-hand member of each pair."""
        return tuple(self.names[b] for _, b in self.pairs)

    def weight_matrix(self, weights: Sequence[Mapping[str, float]]) -> np.ndarray:
        """``(B, K)`` weights of :attr:`nets` from per-candidate ``net -> weight`` maps
        (nets a map leaves out weigh 1)."""
        out = np.ones((len(weights), len(self.nets)), dtype=np.float64)
        for b, table in enumerate(weights):
            for k, net in enumerate(self.nets):
                out[b, k] = float(table.get(net, 1.0))
        return out

    def local_pins(self) -> dict[tuple[str, str], tuple[int, int, int, int]]:
        """``(device, pin) -> box`` device-local, unmirrored (what ``place.pin`` holds)."""
        return {
            (name, pin): self.footprints[name].pin_box(pin)
            for name in self.names
            for pin in self.footprints[name].shapes
        }

    def to_placement(
        self, layout: LegalLayout, weights: Mapping[str, float] | None = None
    ) -> Placement:
        """The legal layout as a core :class:`Placement`."""
        return Placement.build(
            self.circuit,
            self.names,
            layout.rects,
            self.local_pins(),
            mirrored=self.mirrored,
            weights=weights,
        )


def _symmetry_groups(circuit: Circuit) -> tuple[tuple[tuple[str, ...], ...], ...]:
    sym = circuit.symmetry
    if sym.groups:
        return sym.groups
    return (tuple(sym.pairs) + tuple((s,) for s in sym.self_symmetric),)


@contextlib.contextmanager
def single_thread() -> Iterator[None]:
    """Run torch on one thread: faster for these small tensors, and bit-reproducible."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def initial_state(problem: PlacementProblem, seed: int) -> dict[str, np.ndarray]:
    """Seeded random start inside the target outline (um), the same for every weight set."""
    rng = np.random.default_rng(seed)
    width, height = problem.target / _UM
    q, s, f = len(problem.pairs), len(problem.self_symmetric), len(problem.free)
    return {
        "axis": np.array([width / 2]),
        "pair_u": rng.uniform(-1.0, 1.0, q) * width / 8,
        "pair_y": rng.uniform(0.2, 0.8, q) * height,
        "self_y": rng.uniform(0.2, 0.8, s) * height,
        "free_x": rng.uniform(0.2, 0.8, f) * width,
        "free_y": rng.uniform(0.2, 0.8, f) * height,
    }


class _Objective:
    """The smoothed placement cost of a batch, as torch tensors (um).

    Gathers (pins of nets, device pairs) are written as products with constant 0/+-1
    matrices: their backward passes are dense products instead of scatter-adds, which is
    faster for these small problems.
    """

    def __init__(self, problem: PlacementProblem, config: PlacerConfig) -> None:
        n = len(problem.names)
        dtype = torch.float32  # plenty for um coordinates, and faster than float64
        size = torch.tensor(problem.size / _UM, dtype=dtype)
        self.half = size / 2
        pairs, selfs, free = problem.pairs, problem.self_symmetric, problem.free
        q, s = len(pairs), len(selfs)
        self.dx_min = (
            torch.tensor((problem.size[pairs[:, 0], 0] + problem.size[pairs[:, 1], 0]) / 4.0) / _UM
            + config.spacing / 2 / _UM
        ).to(dtype)
        # x = [axis, dx, free_x] @ to_x ;  y = [pair_y, self_y, free_y] @ to_y
        to_x = np.zeros((1 + q + len(free), n))
        to_x[0, pairs.reshape(-1)] = 1.0
        to_x[0, selfs] = 1.0
        to_x[1 + np.arange(q), pairs[:, 0]] = -1.0
        to_x[1 + np.arange(q), pairs[:, 1]] = 1.0
        to_x[1 + q + np.arange(len(free)), free] = 1.0
        to_y = np.zeros((q + s + len(free), n))
        to_y[np.arange(q), pairs[:, 0]] = 1.0
        to_y[np.arange(q), pairs[:, 1]] = 1.0
        to_y[q + np.arange(s), selfs] = 1.0
        to_y[q + s + np.arange(len(free)), free] = 1.0
        self.to_x = torch.tensor(to_x, dtype=dtype)
        self.to_y = torch.tensor(to_y, dtype=dtype)
        self.target = torch.tensor(problem.target / _UM, dtype=dtype)

        # Overlap: every device pair once, except symmetric partners (kept apart by dx_min);
        # pair differences come from one product with a (N, O) +1/-1 matrix.
        iu, ju = np.triu_indices(n, k=1)
        partner = np.full(n, -1)
        partner[pairs[:, 0]], partner[pairs[:, 1]] = pairs[:, 1], pairs[:, 0]
        keep = partner[iu] != ju
        iu, ju = iu[keep], ju[keep]
        diff = np.zeros((n, len(iu)))
        diff[iu, np.arange(len(iu))] = 1.0
        diff[ju, np.arange(len(iu))] = -1.0
        self.pair_diff = torch.tensor(diff, dtype=dtype)
        gap = config.spacing / _UM
        self.reach = self.half[iu] + self.half[ju] + gap  # (O, 2)

        # Nets as a padded (K, D) table of pins: device -> table slot matrix, pin offsets,
        # and an additive mask (-inf on padding) for the log-sum-exp.
        ptr = problem.net_ptr
        k = len(ptr) - 1
        degree = np.diff(ptr)
        depth = int(degree.max()) if k else 1
        to_pins = np.zeros((n, k * depth))
        offset = np.zeros((2, k * depth))
        pad = np.full(k * depth, -math.inf)
        for net in range(k):
            for slot, pin in enumerate(range(ptr[net], ptr[net + 1])):
                column = net * depth + slot
                to_pins[problem.pin_device[pin], column] = 1.0
                offset[:, column] = problem.pin_offset[pin] / _UM
                pad[column] = 0.0
        self.shape = (k, depth)
        self.to_pins = torch.tensor(to_pins, dtype=dtype)
        self.pin_offset = torch.tensor(offset, dtype=dtype)
        self.pad = torch.tensor(pad.reshape(k, depth), dtype=dtype)

    def centres(self, v: dict[str, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        """Device centres ``(B, N)`` x and y from the variables (symmetry exact)."""
        dx = self.dx_min + torch.nn.functional.softplus(v["pair_u"])
        x = torch.cat([v["axis"], dx, v["free_x"]], dim=1) @ self.to_x
        y = torch.cat([v["pair_y"], v["self_y"], v["free_y"]], dim=1) @ self.to_y
        return x, y

    def wirelength(self, x: torch.Tensor, y: torch.Tensor, gamma: float) -> torch.Tensor:
        """``(B, K)`` log-sum-exp HPWL of every net."""
        total = 0.0
        for coord, axis in ((x, 0), (y, 1)):
            table = (coord @ self.to_pins + self.pin_offset[axis]).view(-1, *self.shape) / gamma
            hi = torch.logsumexp(table + self.pad, dim=2)
            lo = torch.logsumexp(self.pad - table, dim=2)
            total = total + gamma * (hi + lo)
        return total

    def overlap(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """``(B,)`` smoothed overlap area of all device pairs (um^2)."""
        dx = torch.sqrt((x @ self.pair_diff) ** 2 + 1e-4)
        dy = torch.sqrt((y @ self.pair_diff) ** 2 + 1e-4)
        ox = _smooth_relu(self.reach[:, 0] - dx)
        oy = _smooth_relu(self.reach[:, 1] - dy)
        return (ox * oy).sum(dim=1)

    def boundary(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """``(B,)`` f_BND: squared excursion outside the target outline."""
        out = 0.0
        for coord, axis in ((x, 0), (y, 1)):
            lo = torch.relu(self.half[:, axis] - coord)
            hi = torch.relu(coord + self.half[:, axis] - self.target[axis])
            out = out + (lo**2 + hi**2).sum(dim=1)
        return out


def _smooth_relu(z: torch.Tensor, width: float = 0.1) -> torch.Tensor:
    """max(z, 0) rounded over about ``width`` um (cheaper than softplus: no exp/log)."""
    return 0.5 * (z + torch.sqrt(z * z + width * width))


def global_place(
    problem: PlacementProblem, weights: np.ndarray, config: PlacerConfig | None = None
) -> np.ndarray:
    """Global placement of ``B`` weight vectors in one batched solve.

    Args:
        problem: the compiled circuit.
        weights: ``(B, K)`` weight of each of ``problem.nets`` per candidate.
        config: placer settings (the seed fixes the start).

    Returns:
        ``(B, N, 2)`` device centres (nm, float), exactly mirror-symmetric.
    """
    config = config or PlacerConfig()
    weights = np.asarray(weights, dtype=np.float64)
    if weights.ndim != 2 or weights.shape[1] != len(problem.nets):
        raise MagicalPruneError(
            f"weights must be (B, {len(problem.nets)}), got {tuple(weights.shape)}"
        )
    batch = weights.shape[0]
    with single_thread():
        objective = _Objective(problem, config)
        start = initial_state(problem, config.seed)
        variables = {
            k: torch.tensor(np.tile(v, (batch, 1)), dtype=torch.float32, requires_grad=True)
            for k, v in start.items()
        }
        w = torch.tensor(weights, dtype=torch.float32)
        optimiser = torch.optim.Adam(list(variables.values()), lr=config.learning_rate)
        steps = config.iterations
        g0, g1 = config.gamma
        l0, l1 = config.overlap_weight
        for t in range(steps):
            frac = t / max(steps - 1, 1)
            gamma = g0 * (g1 / g0) ** frac
            lam = l0 * (l1 / l0) ** frac
            for group in optimiser.param_groups:
                group["lr"] = config.learning_rate * (
                    0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * frac))
                )
            optimiser.zero_grad(set_to_none=True)
            x, y = objective.centres(variables)
            cost = (
                (w * objective.wirelength(x, y, gamma)).sum(dim=1)
                + lam * objective.overlap(x, y)
                + config.boundary_weight * objective.boundary(x, y)
            )
            cost.sum().backward()
            optimiser.step()
        with torch.no_grad():
            x, y = objective.centres(variables)
    return np.stack([x.numpy(), y.numpy()], axis=2).astype(np.float64) * _UM


def place(
    problem: PlacementProblem,
    weights: np.ndarray,
    config: PlacerConfig | None = None,
) -> list[LegalLayout]:
    """Global placement of a batch of weight vectors, then legalisation of each result."""
    from magical_prune.refflow.legalize import legalize

    config = config or PlacerConfig()
    weights = np.asarray(weights, dtype=np.float64)
    centres = global_place(problem, weights, config)
    return [legalize(problem, centres[b], weights[b], config) for b in range(len(weights))]
