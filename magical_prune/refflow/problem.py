"""A circuit compiled for placement: the settings, the arrays, and the legal result.

Shared by the global placer (:mod:`.placer`) and the legaliser (:mod:`.legalize`), so
neither imports the other for its types.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from magical_prune.circuit import Circuit
from magical_prune.errors import MagicalPruneError
from magical_prune.placement import Placement
from magical_prune.refflow.footprints import DEFAULT_RULES, GRID, Footprint, ProcessRules
from magical_prune.refflow.footprints import footprints as make_footprints

__all__ = ["LegalLayout", "PlacementProblem", "PlacerConfig"]


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
        pairs, selfs, seen = _symmetry_indices(circuit, index)
        free = [i for i in range(len(names)) if names[i] not in seen]
        pins = _wirelength_pins(circuit, index, fps, {b for _, b in pairs})
        return cls(
            circuit=circuit,
            names=names,
            footprints=fps,
            size=size,
            pairs=np.array(pairs, dtype=np.int64).reshape(-1, 2),
            self_symmetric=np.array(selfs, dtype=np.int64),
            free=np.array(free, dtype=np.int64),
            nets=pins.nets,
            pin_device=np.array(pins.device, dtype=np.int64),
            pin_offset=np.array(pins.offset, dtype=np.float64).reshape(-1, 2),
            net_ptr=np.array(pins.ptr, dtype=np.int64),
            target=_target_outline(size, config),
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


def _symmetry_indices(
    circuit: Circuit, index: Mapping[str, int]
) -> tuple[list[tuple[int, int]], list[int], set[str]]:
    """Pairs and self-symmetric devices as indices, and every device that is in one.

    Raises:
        MagicalPruneError: the symmetry names an unknown device, or one device twice.
    """
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
    return pairs, selfs, seen


@dataclass
class _Pins:
    """The wirelength pins in CSR form: net names, device and offset of each pin."""

    nets: tuple[str, ...]
    device: list[int]
    offset: list[tuple[float, float]]
    ptr: list[int]


def _wirelength_pins(
    circuit: Circuit, index: Mapping[str, int], fps: Mapping[str, Footprint], mirrored: set[int]
) -> _Pins:
    """Pins of the nets with two or more placed pins (the only ones wirelength sees), as
    offsets from their device's centre with the mirror of a pair's right member applied."""
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
    return _Pins(tuple(net_names), pin_device, pin_offset, ptr)


def _target_outline(size: np.ndarray, config: PlacerConfig) -> np.ndarray:
    """``(2,)`` target outline width, height (nm): the device area over ``1 - whitespace``
    at the configured aspect ratio, at least the largest device, on a two-grid pitch."""
    area = float((size[:, 0] * size[:, 1]).sum()) / (1.0 - config.whitespace)
    width = math.sqrt(area * config.aspect_ratio)
    height = area / width
    width = max(width, float(size[:, 0].max()))
    height = max(height, float(size[:, 1].max()))
    step = 2 * GRID
    target = np.array([math.ceil(width / step) * step, math.ceil(height / step) * step])
    return target.astype(np.int64)
