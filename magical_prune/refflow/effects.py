"""Which layout-dependent effects a label includes, and what else a label depends on.

The evaluator's constants (wires, gradients, mismatch) and simulator settings are what
:func:`label_settings` records in a generated folder's ``refflow.json``, and
:func:`layout_id` names the random-mismatch draw of a layout, so a folder's labels can be
traced and re-simulated alike.
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from magical_prune.placement import Placement
from magical_prune.refflow.deck import DECADES, OPTIONS, PER_DECADE
from magical_prune.refflow.lde import GradientModel
from magical_prune.refflow.parasitics import MIN_PIECE_UM, WireModel
from magical_prune.refflow.spice import models_library

__all__ = ["NO_GRADIENTS", "LayoutEffects", "label_settings", "layout_id"]

#: Gradient constants with the process and thermal gradients switched off.
NO_GRADIENTS = GradientModel(
    vth_gradient_mv_per_mm=(0.0, 0.0), vth_tempco_mv_per_k=0.0, mobility_temp_exponent=0.0
)


@dataclass(frozen=True)
class LayoutEffects:
    """Which layout-dependent effects to model, with their constants.

    Attributes:
        wires: wire constants; ``wire_parasitics=False`` uses ideal nets instead.
        gradients: process/thermal/mismatch constants (:data:`NO_GRADIENTS` turns the
            gradients off; mismatch is scaled per call).
        wire_parasitics: whether nets become RC trees.
    """

    wires: WireModel = field(default_factory=WireModel)
    gradients: GradientModel = field(default_factory=GradientModel)
    wire_parasitics: bool = True


def label_settings(effects: LayoutEffects | None = None) -> dict[str, Any]:
    """What a label depends on besides the placement, the design and the mismatch scale:
    the evaluator's constants and simulator settings (recorded by ``refflow generate`` in
    ``refflow.json``, so a folder's labels can be traced and re-evaluated alike)."""
    effects = effects or LayoutEffects()
    return {
        "wires": asdict(effects.wires),
        "gradients": asdict(effects.gradients),
        "wire_parasitics": effects.wire_parasitics,
        "min_wire_piece_um": MIN_PIECE_UM,
        "ngspice_options": OPTIONS,
        "ac_sweep": {"decades": DECADES, "points_per_decade": PER_DECADE},
        "models_sha256": hashlib.sha256(models_library().encode()).hexdigest(),
    }


def layout_id(placement: Placement) -> str:
    """The id a layout's mismatch seed is derived from.

    The layout folder's name when the placement was read from files (``.../ota1_17/
    place.result`` -> ``ota1_17``), so re-simulating a folder (also after editing its
    placement by hand) keeps its draw; ``refflow generate`` passes the same folder names
    for the placements it simulates in memory, so both give the same label. A placement
    without a source gets ``geometry-<hash>`` of its device names and rectangles.
    """
    if placement.source:
        path = Path(placement.source)
        return path.name if path.is_dir() else path.parent.name
    order = np.argsort(np.asarray(placement.names, dtype=object), kind="stable")
    digest = hashlib.sha256()
    digest.update("\n".join(placement.names[i] for i in order).encode())
    digest.update(np.ascontiguousarray(placement.rects[order], dtype=np.int64).tobytes())
    return "geometry-" + digest.hexdigest()[:16]
