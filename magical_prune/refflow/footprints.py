"""Device footprints and device-local pin shapes from netlist parameters.

The reference flow has no PDK layout generator, so each device's outline and pin shapes are
derived here from its instance parameters (SI units in :attr:`Device.params`) with plausible
pitches of a 40 nm-class process. What matters downstream is that sizes and pin positions
follow the parameters: a wider transistor is taller, more fingers make it wider and give it
more source/drain stripes, a longer resistor is taller. All lengths are integer nanometres on
a :data:`GRID` raster; outline widths and heights are multiples of ``2 * GRID`` so a device
centre is on the grid (the legaliser needs that for exact mirror symmetry).

Layout conventions (device-local, origin at the lower-left corner):

- MOS: ``nf * m`` gate fingers; the ``m`` copies are stacked in rows when that makes the outline
  closer to square. Each row has ``fingers + 1`` source/drain stripes alternating S, D, S, ...
  and a gate strap across its top. A pin with several stripes has several shapes.
- MOM capacitor: ``nr`` interdigitated fingers of length ``lr``; PLUS is the bar along the
  bottom, MINUS the bar along the top (``multi``/``m`` copies stacked).
- Poly resistor: ``segments`` vertical strips of length ``l`` and width ``w`` in series;
  PLUS is the contact bar at the foot of the first strip, MINUS the bar at the free end of
  the last one (``m`` parallel copies side by side).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

from magical_prune.circuit import Device, DeviceType
from magical_prune.errors import MagicalPruneError

#: Placement raster (nm): every size and pin coordinate is a multiple of it.
GRID = 10
#: Metal layer name written for every pin shape.
PIN_LAYER = "M1"

Rect = tuple[int, int, int, int]


@dataclass(frozen=True)
class ProcessRules:
    """Pitches and margins (nm) of a 40 nm-class process; plausible, not a real PDK.

    Attributes:
        gate_overhead: contacted gate pitch minus the gate length (contact + 2 spacings).
        diffusion_end: diffusion beyond the outermost contact of a row.
        contact: width of a source/drain contact stripe (M1).
        gate_extension: poly end cap below the channel.
        strap: height of the gate strap (M1 over poly contacts) above the channel.
        row_gap: gap between stacked rows of one device.
        margin: keep-out ring around every device (well/implant enclosure).
        mom_bar: height of a MOM capacitor terminal bar.
        mom_density: MOM capacitance per area (F/m^2), for caps given only by value.
        res_head: contact head at each end of a poly resistor strip.
        res_space: spacing between resistor strips.
        res_sheet: poly sheet resistance (ohm/sq), for resistors given only by value.
    """

    gate_overhead: int = 160
    diffusion_end: int = 100
    contact: int = 60
    gate_extension: int = 120
    strap: int = 120
    row_gap: int = 300
    margin: int = 100
    mom_bar: int = 200
    mom_density: float = 2.0e-3  # 2 fF/um^2
    res_head: int = 300
    res_space: int = 400
    res_sheet: float = 600.0


DEFAULT_RULES = ProcessRules()

#: Defaults when a netlist leaves a parameter out (SI units).
_MOS_DEFAULTS = {"w": 1e-6, "l": 1e-7, "nf": 1.0, "m": 1.0}
_RES_DEFAULTS = {"w": 1e-6, "l": 5e-6}
_MOM_DEFAULTS = {"w": 7e-8, "s": 7e-8, "lr": 5e-6, "nr": 20.0}


@dataclass(frozen=True)
class Footprint:
    """Outline and device-local pin shapes of one device (integer nm).

    Attributes:
        width, height: outline size; the device occupies ``[0, width] x [0, height]``.
        shapes: pin name -> its rectangles ``(xlo, ylo, xhi, yhi)``.
    """

    width: int
    height: int
    shapes: Mapping[str, tuple[Rect, ...]]

    def pin_box(self, pin: str) -> Rect:
        """Bounding box of the union of a pin's shapes."""
        rects = self.shapes[pin]
        return (
            min(r[0] for r in rects),
            min(r[1] for r in rects),
            max(r[2] for r in rects),
            max(r[3] for r in rects),
        )

    def pin_boxes(self) -> dict[str, Rect]:
        return {pin: self.pin_box(pin) for pin in self.shapes}


def snap(value_nm: float, grid: int = GRID) -> int:
    """Round to the nearest grid point (nm)."""
    return int(round(value_nm / grid)) * grid


def snap_up(value_nm: float, grid: int = GRID) -> int:
    """Round up to the grid (sizes never shrink below what the parameters ask for)."""
    return int(math.ceil(value_nm / grid - 1e-9)) * grid


def footprint(device: Device, rules: ProcessRules = DEFAULT_RULES) -> Footprint:
    """The footprint of a device, from its type and parameters."""
    if device.type.is_mos:
        return _mos(device, rules)
    if device.type is DeviceType.CAP:
        return _capacitor(device, rules)
    return _resistor(device, rules)


def footprints(
    devices: Mapping[str, Device] | list[Device], rules: ProcessRules = DEFAULT_RULES
) -> dict[str, Footprint]:
    """Footprints of many devices, by name."""
    values = devices.values() if isinstance(devices, Mapping) else devices
    return {d.name: footprint(d, rules) for d in values}


# -- per device kind ------------------------------------------------------------------------
def _param(device: Device, names: tuple[str, ...], default: float | None) -> float:
    """First of ``names`` present in the parameters (positive), else ``default``."""
    for name in names:
        value = device.params.get(name)
        if value is not None:
            if not math.isfinite(value) or value <= 0:
                raise MagicalPruneError(
                    f"device {device.name!r}: parameter {name}={value!r} must be positive"
                )
            return float(value)
    if default is None:
        raise MagicalPruneError(f"device {device.name!r} has no {'/'.join(names)} parameter")
    return default


def _count(device: Device, names: tuple[str, ...], default: float) -> int:
    value = _param(device, names, default)
    count = int(round(value))
    if count < 1 or abs(value - count) > 1e-6:
        raise MagicalPruneError(
            f"device {device.name!r}: {names[0]}={value!r} must be a positive integer"
        )
    return count


def _even(length: float) -> int:
    """Outline size rounded up to a multiple of 2 * GRID (so the centre is on the grid)."""
    return snap_up(length, 2 * GRID)


def _mos(device: Device, r: ProcessRules) -> Footprint:
    w_nm = _param(device, ("w",), _MOS_DEFAULTS["w"]) * 1e9
    l_nm = _param(device, ("l",), _MOS_DEFAULTS["l"]) * 1e9
    nf = _count(device, ("nf", "fingers"), _MOS_DEFAULTS["nf"])
    m = _count(device, ("m", "multi"), _MOS_DEFAULTS["m"])
    finger_w = snap_up(w_nm / nf)  # w is the total width of one copy, split over nf fingers
    pitch = snap_up(l_nm + r.gate_overhead)
    channel_h = finger_w
    row_h = r.gate_extension + channel_h + r.strap

    # Stack the m copies in rows when that brings the outline closer to square.
    def outline(rows: int) -> tuple[float, float]:
        fingers = nf * (m // rows)
        width = fingers * pitch + 2 * r.diffusion_end + 2 * r.margin
        height = rows * row_h + (rows - 1) * r.row_gap + 2 * r.margin
        return width, height

    rows = min(
        (d for d in range(1, m + 1) if m % d == 0),
        key=lambda d: (abs(math.log(outline(d)[0] / outline(d)[1])), d),
    )
    fingers = nf * (m // rows)
    width, height = outline(rows)
    width = _even(width)
    height = _even(height)
    # Centre the finger array in the (rounded) outline.
    x0 = snap((width - fingers * pitch) / 2)
    shapes: dict[str, list[Rect]] = {"D": [], "G": [], "S": []}
    half = r.contact // 2
    for row in range(rows):
        y0 = r.margin + row * (row_h + r.row_gap)
        ylo, yhi = y0 + r.gate_extension, y0 + r.gate_extension + channel_h
        for k in range(fingers + 1):  # stripe k sits between fingers k-1 and k
            xc = x0 + k * pitch
            shapes["S" if k % 2 == 0 else "D"].append((xc - half, ylo, xc + half, yhi))
        strap_lo = yhi
        shapes["G"].append((x0, strap_lo, x0 + fingers * pitch, strap_lo + r.strap))
    return Footprint(width, height, {p: tuple(v) for p, v in shapes.items()})


def _capacitor(device: Device, r: ProcessRules) -> Footprint:
    copies = _count(device, ("multi", "m"), 1.0)
    has_geometry = any(k in device.params for k in ("nr", "lr"))
    if not has_geometry and "c" in device.params:
        # Given by value only: a square plate of the MOM density.
        side = math.sqrt(_param(device, ("c",), None) / r.mom_density) * 1e9
        plate_w, plate_h = side, side
    else:
        nr = _count(device, ("nr",), _MOM_DEFAULTS["nr"])
        lr = _param(device, ("lr",), _MOM_DEFAULTS["lr"]) * 1e9
        fw = _param(device, ("w",), _MOM_DEFAULTS["w"]) * 1e9
        fs = _param(device, ("s",), _MOM_DEFAULTS["s"]) * 1e9
        plate_w, plate_h = nr * (fw + fs) + fs, lr
    unit_h = snap_up(plate_h + 2 * r.mom_bar)
    width = _even(plate_w + 2 * r.margin)
    height = _even(copies * unit_h + (copies - 1) * r.row_gap + 2 * r.margin)
    xlo, xhi = r.margin, width - r.margin
    plus: list[Rect] = []
    minus: list[Rect] = []
    for c in range(copies):
        y0 = r.margin + c * (unit_h + r.row_gap)
        plus.append((xlo, y0, xhi, y0 + r.mom_bar))
        minus.append((xlo, y0 + unit_h - r.mom_bar, xhi, y0 + unit_h))
    return Footprint(width, height, {"PLUS": tuple(plus), "MINUS": tuple(minus)})


def _resistor(device: Device, r: ProcessRules) -> Footprint:
    w = _param(device, ("w",), _RES_DEFAULTS["w"]) * 1e9
    segments = _count(device, ("segments", "nseg", "series"), 1.0)
    if "l" not in device.params and "r" in device.params:
        # Given by value only: the total length at the poly sheet resistance.
        total = _param(device, ("r",), None) / r.res_sheet * w
        length = total / segments
    else:
        length = _param(device, ("l",), _RES_DEFAULTS["l"]) * 1e9
    copies = _count(device, ("m", "multi"), 1.0)
    strip_w = snap_up(w)
    strip_l = snap_up(length)
    strips = segments * copies
    width = _even(strips * strip_w + (strips - 1) * r.res_space + 2 * r.margin)
    height = _even(strip_l + 2 * r.res_head + 2 * r.margin)
    x0 = snap((width - (strips * strip_w + (strips - 1) * r.res_space)) / 2)
    bottom = (r.margin, r.margin + r.res_head)
    top = (height - r.margin - r.res_head, height - r.margin)
    plus: list[Rect] = []
    minus: list[Rect] = []
    for c in range(copies):
        first = c * segments
        last = first + segments - 1
        xf = x0 + first * (strip_w + r.res_space)
        xl = x0 + last * (strip_w + r.res_space)
        plus.append((xf, bottom[0], xf + strip_w, bottom[1]))
        end = top if segments % 2 == 1 else bottom  # series strips alternate ends
        minus.append((xl, end[0], xl + strip_w, end[1]))
    return Footprint(width, height, {"PLUS": tuple(plus), "MINUS": tuple(minus)})
