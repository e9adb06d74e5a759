"""Layout-dependent device shifts: process gradient, thermal gradient, random mismatch.

Each MOS device of a placement gets a threshold shift (applied as the BSIM4 instance
parameter ``delvto``) and a mobility factor (``mulu0``) from three sources:

* **Process gradient.** A linear threshold gradient over the die; a device sees the mean
  of the field over its area, which for a linear field is its value at the rectangle's
  centre (so a multi-finger device averages over its fingers). Positions are taken
  relative to the placement's bounding-box centre, so moving the whole placement changes
  nothing. 4 mV/mm along +x: the distance parameter S_VT ≈ 4 µV/µm of M. Pelgrom,
  A. Duinmaijer, A. Welbers, "Matching properties of MOS transistors", IEEE JSSC 24(5),
  1989 (Table I), taken as a deterministic gradient along the die's x axis (a die off the
  wafer centre sees the radial wafer gradient along one direction; x is the direction that
  mirrored pairs are spread along).
* **Thermal gradient.** Every device dissipates its nominal operating-point power
  ``|I_D * V_DS|`` (``I^2 R`` for resistors). The temperature rise at a device is the sum
  over sources of the steady-state rise of a point source on the surface of a
  semi-infinite silicon substrate, ``P / (2 pi k r)`` (H. Carslaw, J. Jaeger, "Conduction
  of Heat in Solids", 1959), with ``r`` softened by the source's equivalent radius
  ``sqrt(area / pi)`` (no singularity, self-heating included) and k = 148 W/(m K) for
  silicon at 300 K (C. Glassbrenner, G. Slack, Phys. Rev. 134, 1964). The threshold moves
  by -1.5 mV/K (|V_T| falls with temperature; the middle of the -1 to -2 mV/K range of
  I. Filanovsky, A. Allam, "Mutual compensation of mobility and threshold voltage
  temperature effects ...", IEEE TCAS-I 48(7), 2001) and mobility by (T/T0)^-1.5 (same
  source; BSIM's default UTE = -1.5).
* **Random mismatch.** Pelgrom's law sigma(delta V_T) = A_VT / sqrt(W L) for the
  difference of a pair, i.e. A_VT / sqrt(2 W L) per device, with A_VT = 3.0 mV·µm for both
  device types (M. Pelgrom, H. Tuinhout, M. Vertregt, "Transistor matching in analog CMOS
  applications", IEDM 1998: A_VT ≈ 1 mV·µm per nm of oxide; our cards have 2.3 nm, and
  published 40-65 nm figures are 2.5-4 mV·µm). W is the total gate width (w * m), L the
  gate length. The draws come from a seed derived from the design and layout names
  (:func:`layout_seed`), so a layout keeps its draw across runs, and are scaled by the
  caller's ``mismatch`` factor (0 turns them off).

Threshold shifts are *magnitudes* (positive = larger |V_T|): ``delvto`` is the shift for
NMOS and minus the shift for PMOS.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass

import numpy as np

from magical_prune.circuit import DeviceType
from magical_prune.placement import Placement

__all__ = ["GradientModel", "DeviceShifts", "layout_seed", "device_shifts"]

NM_PER_UM = 1000.0


@dataclass(frozen=True)
class GradientModel:
    """Process, thermal and mismatch constants (see the module docstring for sources).

    Attributes:
        vth_gradient_mv_per_mm: ``(gx, gy)`` threshold gradient over the die (mV/mm).
        thermal_conductivity: of the substrate, W/(m K).
        vth_tempco_mv_per_k: threshold change per kelvin (mV/K, negative: |V_T| falls).
        mobility_temp_exponent: mobility ~ (T/T0)^exponent.
        ambient_k: nominal temperature T0 (K), the models' TNOM (27 C).
        avt_mv_um: Pelgrom A_VT (mV·µm) of the pair difference.
    """

    vth_gradient_mv_per_mm: tuple[float, float] = (4.0, 0.0)
    thermal_conductivity: float = 148.0
    vth_tempco_mv_per_k: float = -1.5
    mobility_temp_exponent: float = -1.5
    ambient_k: float = 300.15
    avt_mv_um: float = 3.0


@dataclass(frozen=True)
class DeviceShifts:
    """Per-device shifts of one layout, rows in the placement's device order.

    Attributes:
        names: device names.
        process_v, thermal_v, mismatch_v: threshold-magnitude shifts (V) by cause.
        temperature_rise: local temperature rise (K).
        mobility_factor: ``mulu0`` multiplier from the temperature rise.
    """

    names: tuple[str, ...]
    process_v: np.ndarray
    thermal_v: np.ndarray
    mismatch_v: np.ndarray
    temperature_rise: np.ndarray
    mobility_factor: np.ndarray

    @property
    def vth_shift(self) -> np.ndarray:
        """Total threshold-magnitude shift (V)."""
        return self.process_v + self.thermal_v + self.mismatch_v


def layout_seed(design: str, layout_id: str) -> int:
    """The mismatch seed of a layout: the first 8 bytes of SHA-256 of ``design/layout_id``
    (e.g. ``ota1/ota1_17``), as an unsigned integer."""
    digest = hashlib.sha256(f"{design}/{layout_id}".encode()).digest()
    return int.from_bytes(digest[:8], "little")


def _gate_area_um2(params: dict[str, float]) -> float:
    w = params.get("w", 1e-6) * params.get("m", 1.0) * 1e6
    length = params.get("l", 1e-7) * 1e6
    return w * length


def device_shifts(
    placement: Placement,
    power: dict[str, float],
    model: GradientModel,
    mismatch: float,
    seed: int,
) -> DeviceShifts:
    """Threshold and mobility shifts of every placed device.

    Args:
        placement: the placement.
        power: nominal dissipated power per device (W); devices not named dissipate 0.
        model: the constants.
        mismatch: scale of the random mismatch (0 = off, 1 = A_VT as documented).
        seed: random seed of this layout (see :func:`layout_seed`).
    """
    rects = placement.rects.astype(np.float64) / NM_PER_UM  # µm
    centre = (rects[:, :2] + rects[:, 2:]) / 2.0
    bbox = placement.bbox.astype(np.float64) / NM_PER_UM
    origin = (bbox[:2] + bbox[2:]) / 2.0
    gradient = np.asarray(model.vth_gradient_mv_per_mm, dtype=np.float64) * 1e-3 / 1e3  # V/µm
    process = (centre - origin) @ gradient

    watts = np.array([power.get(n, 0.0) for n in placement.names], dtype=np.float64)
    if np.isfinite(model.thermal_conductivity) and watts.any():
        area = (rects[:, 2] - rects[:, 0]) * (rects[:, 3] - rects[:, 1])
        radius = np.sqrt(area / math.pi)  # µm
        dist = np.linalg.norm(centre[:, None, :] - centre[None, :, :], axis=2)
        r_eff = np.sqrt(dist**2 + radius[None, :] ** 2) * 1e-6  # m
        rise = (watts[None, :] / (2 * math.pi * model.thermal_conductivity * r_eff)).sum(axis=1)
    else:
        rise = np.zeros(len(placement.names))
    thermal = model.vth_tempco_mv_per_k * 1e-3 * rise
    mobility = ((model.ambient_k + rise) / model.ambient_k) ** model.mobility_temp_exponent

    devices = placement.circuit.devices
    is_mos = np.array([devices[n].type.is_mos for n in placement.names])
    rng = np.random.default_rng(seed)
    z = rng.standard_normal(len(placement.names))  # one draw per placed device, in order
    sigma = np.array(
        [
            model.avt_mv_um * 1e-3 / math.sqrt(2.0 * _gate_area_um2(dict(devices[n].params)))
            if devices[n].type.is_mos
            else 0.0
            for n in placement.names
        ]
    )
    random = mismatch * sigma * z
    zero = ~is_mos
    for arr in (process, thermal, random):
        arr[zero] = 0.0
    mobility[zero] = 1.0
    return DeviceShifts(placement.names, process, thermal, random, rise, mobility)


def delvto(device_type: DeviceType, vth_shift: float) -> float:
    """The BSIM ``delvto`` that raises |V_T| by ``vth_shift``."""
    return vth_shift if device_type is DeviceType.NMOS else -vth_shift
