"""A placed circuit: one rectangle per device and the placed boxes of its pins.

Lengths are integer nanometres (files in micrometres are converted on input). Arrays are
kept flat so features and wirelength are computed with numpy over all devices, pins and
nets at once.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import shapely

from magical_prune.circuit import BULK_PINS, Circuit, DeviceType
from magical_prune.errors import MagicalPruneError

NM_PER_UM = 1000


def um_to_nm(values: np.ndarray | Sequence[float] | float) -> np.ndarray:
    """Micrometres -> integer nanometres (rounded to nearest)."""
    return np.rint(np.asarray(values, dtype=np.float64) * NM_PER_UM).astype(np.int64)


@dataclass(eq=False)
class Placement:
    """Where every device of a circuit sits, and where its pins are.

    Attributes:
        circuit: the circuit placed.
        names: device names; row ``i`` of every per-device array is ``names[i]``.
        rects: ``(N, 4)`` int64 device rectangles ``xlo, ylo, xhi, yhi`` in nm.
        pin_device: ``(P,)`` index into ``names`` of each placed pin.
        pin_names: ``(P,)`` pin names (``D``, ``G``, ``PLUS`` ...).
        pin_boxes: ``(P, 4)`` int64 placed pin boxes (device origin added, mirroring
            applied): the bounding box of the union of the pin's shapes.
        net_names: routed nets (bulk pins dropped) that have at least one placed pin.
        net_ptr: ``(K + 1,)`` CSR offsets into ``net_pins`` for each of ``net_names``.
        net_pins: indices into the pin arrays, net by net.
        weights: net weights the placer ran with (``weight.txt``), if known.
        performance: post-layout results (``performance.txt``), if known.
        source: file or folder the placement was read from, for messages.
    """

    circuit: Circuit
    names: tuple[str, ...]
    rects: np.ndarray
    pin_device: np.ndarray
    pin_names: tuple[str, ...]
    pin_boxes: np.ndarray
    net_names: tuple[str, ...]
    net_ptr: np.ndarray
    net_pins: np.ndarray
    weights: dict[str, float] = field(default_factory=dict)
    performance: dict[str, float] = field(default_factory=dict)
    source: str | None = None

    # -- construction ---------------------------------------------------------------------
    @classmethod
    def build(
        cls,
        circuit: Circuit,
        names: Sequence[str],
        rects: np.ndarray,
        local_pins: Mapping[tuple[str, str], Sequence[int] | np.ndarray],
        mirrored: Iterable[str] = (),
        weights: Mapping[str, float] | None = None,
        performance: Mapping[str, float] | None = None,
        source: str | None = None,
    ) -> Placement:
        """Assemble a placement from device rectangles and device-local pin boxes.

        Args:
            circuit: the circuit; every device on a net must be placed.
            names: placed devices, one per row of ``rects``.
            rects: ``(N, 4)`` integer nm ``xlo, ylo, xhi, yhi``.
            local_pins: ``(device, pin) -> (xlo, ylo, xhi, yhi)`` in nm relative to the
                device origin, before mirroring. Pins a net names but this map lacks are
                skipped (as MAGICAL's own reader does).
            mirrored: devices whose pins are flipped about the device's vertical centre
                line (MAGICAL mirrors the right-hand device of each symmetric pair).
        """
        names = tuple(names)
        rects, index = _checked_rects(circuit, names, rects)
        owner, pin_names, placed, pin_index = _placed_pins(local_pins, index, rects, mirrored)
        net_names, ptr, members = _routed_nets(circuit, index, pin_index)
        return cls(
            circuit=circuit,
            names=names,
            rects=rects,
            pin_device=owner,
            pin_names=pin_names,
            pin_boxes=placed,
            net_names=net_names,
            net_ptr=ptr,
            net_pins=members,
            weights=dict(weights or {}),
            performance=dict(performance or {}),
            source=source,
        )

    @classmethod
    def from_arrays(
        cls,
        names: Sequence[str],
        x: Sequence[float],
        y: Sequence[float],
        w: Sequence[float],
        h: Sequence[float],
        pins: Mapping[tuple[str, str], Sequence[float]],
        nets: Mapping[str, Sequence[tuple[str, str]]],
        types: Mapping[str, str | DeviceType],
        channels: Mapping[str, Sequence[int]] | None = None,
        circuit: Circuit | None = None,
        mirrored: Iterable[str] = (),
        unit: str = "um",
        name: str = "design",
    ) -> Placement:
        """A placement straight from a placer's arrays, for flows that never write files.

        Args:
            names, x, y, w, h: device names, lower-left origins and sizes.
            pins: ``(device, pin) -> (xlo, ylo, xhi, yhi)`` relative to the device origin.
            nets: ``net -> [(device, pin), ...]`` (bulk pins are ignored for routing).
            types: device type per device (``"NMOS"``, ``"PMOS"``, ``"CAP"``, ``"RES"``).
            channels: sub-circuit ids per device; automatic classification otherwise.
            circuit: an already-built circuit to reuse (``nets``/``types`` then unused).
            unit: ``"um"`` (converted to nm) or ``"nm"``.
        """
        if unit not in ("um", "nm"):
            raise MagicalPruneError(f"unit must be 'um' or 'nm', got {unit!r}")
        scale = NM_PER_UM if unit == "um" else 1
        arrays = [np.asarray(v, dtype=np.float64) for v in (x, y, w, h)]
        if any(a.shape != (len(names),) for a in arrays):
            raise MagicalPruneError("names, x, y, w and h must have the same length")
        xs, ys, ws, hs = (np.rint(a * scale) if np.all(np.isfinite(a)) else a for a in arrays)
        rects = np.stack([xs, ys, xs + ws, ys + hs], axis=1)
        if circuit is None:
            parsed = {
                d: t if isinstance(t, DeviceType) else DeviceType.parse(t) for d, t in types.items()
            }
            circuit = Circuit.from_connections(
                name, nets, parsed,
                channel_overrides={d: tuple(c) for d, c in channels.items()} if channels else None,
            )  # fmt: skip
        local = {k: np.rint(np.asarray(v, dtype=np.float64) * scale) for k, v in pins.items()}
        return cls.build(circuit, names, rects, local, mirrored=mirrored)

    # -- derived geometry -----------------------------------------------------------------
    def __len__(self) -> int:
        return len(self.names)

    @property
    def bbox(self) -> np.ndarray:
        """``(4,)`` bounding box of all devices (nm)."""
        return np.concatenate([self.rects[:, :2].min(axis=0), self.rects[:, 2:].max(axis=0)])

    def net_boxes(self) -> np.ndarray:
        """``(K, 4)`` bounding box of each routed net's placed pin boxes (nm)."""
        if len(self.net_names) == 0:
            return np.zeros((0, 4), dtype=np.int64)
        boxes = self.pin_boxes[self.net_pins]
        starts = self.net_ptr[:-1]
        lo = np.minimum.reduceat(boxes[:, :2], starts, axis=0)
        hi = np.maximum.reduceat(boxes[:, 2:], starts, axis=0)
        return np.concatenate([lo, hi], axis=1)

    def hpwl(self) -> dict[str, float]:
        """Half-perimeter wirelength (nm) of each routed net over its pins' centres."""
        if len(self.net_names) == 0:
            return {}
        centres = (self.pin_boxes[self.net_pins, :2] + self.pin_boxes[self.net_pins, 2:]) / 2.0
        starts = self.net_ptr[:-1]
        span = np.maximum.reduceat(centres, starts, axis=0) - np.minimum.reduceat(
            centres, starts, axis=0
        )
        return dict(zip(self.net_names, span.sum(axis=1).tolist()))

    def device_types(self) -> list[DeviceType]:
        return [self.circuit.devices[n].type for n in self.names]

    def device_shapes(self) -> np.ndarray:
        """Device rectangles as a shapely geometry array (for overlap checks, plots)."""
        r = self.rects
        return shapely.box(r[:, 0], r[:, 1], r[:, 2], r[:, 3])

    def translated(self, dx: int, dy: int) -> Placement:
        """The same placement moved by ``(dx, dy)`` nm (features must not change)."""
        shift = np.array([dx, dy, dx, dy], dtype=np.int64)
        return Placement(
            self.circuit, self.names, self.rects + shift, self.pin_device, self.pin_names,
            self.pin_boxes + shift, self.net_names, self.net_ptr, self.net_pins,
            dict(self.weights), dict(self.performance), self.source,
        )  # fmt: skip


# -- steps of Placement.build ---------------------------------------------------------------
def _checked_rects(
    circuit: Circuit, names: tuple[str, ...], rects: np.ndarray
) -> tuple[np.ndarray, dict[str, int]]:
    """Device rectangles as int64 nm and the row of each device name, after checking that
    every row is a finite, non-empty rectangle of a distinct device of the circuit."""
    rects = np.asarray(rects)
    if rects.ndim != 2 or rects.shape[1] != 4 or rects.shape[0] != len(names):
        raise MagicalPruneError(f"rects must be ({len(names)}, 4), got {rects.shape}")
    if len(names) == 0:
        raise MagicalPruneError("empty placement: no device is placed")
    if not np.all(np.isfinite(rects)):
        bad = names[int(np.nonzero(~np.isfinite(rects).all(axis=1))[0][0])]
        raise MagicalPruneError(f"device {bad!r} has a non-finite coordinate")
    rects = rects.astype(np.int64)
    index = {n: i for i, n in enumerate(names)}
    if len(index) != len(names):
        dup = next(n for n in names if names.count(n) > 1)
        raise MagicalPruneError(f"device {dup!r} is placed twice")
    size_bad = (rects[:, 2] <= rects[:, 0]) | (rects[:, 3] <= rects[:, 1])
    if size_bad.any():
        bad = names[int(np.nonzero(size_bad)[0][0])]
        raise MagicalPruneError(f"device {bad!r} has zero or negative size")
    unknown = [n for n in names if n not in circuit.devices]
    if unknown:
        raise MagicalPruneError(f"placed device {unknown[0]!r} is not in the circuit")
    return rects, index


def _placed_pins(
    local_pins: Mapping[tuple[str, str], Sequence[int] | np.ndarray],
    index: dict[str, int],
    rects: np.ndarray,
    mirrored: Iterable[str],
) -> tuple[np.ndarray, tuple[str, ...], np.ndarray, dict[tuple[str, str], int]]:
    """The pins of placed devices: owner rows, names, placed int64 boxes (mirrored devices'
    pins flipped about the device's vertical centre line, device origin added), and the
    position of each ``(device, pin)`` in those arrays."""
    mirrored = set(mirrored)
    pin_device: list[int] = []
    pin_names: list[str] = []
    boxes: list[Sequence[int] | np.ndarray] = []
    pin_index: dict[tuple[str, str], int] = {}
    for (device, pin), box in local_pins.items():
        i = index.get(device)
        if i is None:
            continue  # pins of devices that are not placed (dummies) carry no information
        pin_index[(device, pin)] = len(pin_device)
        pin_device.append(i)
        pin_names.append(pin)
        boxes.append(box)
    local = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    if not np.all(np.isfinite(local)):
        raise MagicalPruneError("a pin shape has a non-finite coordinate")
    local = local.astype(np.int64)
    owner = np.asarray(pin_device, dtype=np.int64)
    if mirrored:
        flip = np.isin(owner, [index[d] for d in mirrored if d in index])
        width = rects[owner, 2] - rects[owner, 0]
        xlo = np.where(flip, width - local[:, 2], local[:, 0])
        xhi = np.where(flip, width - local[:, 0], local[:, 2])
        local = np.stack([xlo, local[:, 1], xhi, local[:, 3]], axis=1)
    placed = local + np.tile(rects[owner, :2], 2) if len(owner) else local
    return owner, tuple(pin_names), placed.astype(np.int64), pin_index


def _routed_nets(
    circuit: Circuit, index: dict[str, int], pin_index: dict[tuple[str, str], int]
) -> tuple[tuple[str, ...], np.ndarray, np.ndarray]:
    """Nets with at least one placed routed pin (bulk pins dropped), as names and CSR
    ``(ptr, pins)`` arrays; a device on a net must be placed."""
    net_names: list[str] = []
    ptr = [0]
    members: list[int] = []
    for net in circuit.nets.values():
        idx = []
        for device, pin in net.pins:
            if pin in BULK_PINS:
                continue
            if device not in index:
                raise MagicalPruneError(f"device {device!r} on net {net.name!r} is not placed")
            k = pin_index.get((device, pin))
            if k is not None:
                idx.append(k)
        if idx:
            net_names.append(net.name)
            members.extend(idx)
            ptr.append(len(members))
    return (
        tuple(net_names),
        np.asarray(ptr, dtype=np.int64),
        np.asarray(members, dtype=np.int64),
    )
