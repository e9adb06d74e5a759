"""Check a recorded placement against the floorplan MAGICAL drew (``.floorplan.gds``)."""

from __future__ import annotations

import os

import numpy as np

from magical_prune.adapters.gds import read_floorplan
from magical_prune.placement import Placement

__all__ = ["floorplan_mismatches"]


def floorplan_mismatches(
    placement: Placement,
    floorplan: str | os.PathLike[str] | tuple[tuple[str, ...], np.ndarray],
    tolerance: int = 0,
) -> list[str]:
    """What differs between ``placement`` and a floorplan, one line per problem.

    Both are compared as drawn: the floorplan's outlines are MAGICAL's cell outlines at
    its offsets, which is what ``RecordingPlacer.placement`` gives.

    Args:
        floorplan: a ``.floorplan.gds`` path or ``(names, rects)`` as
            :func:`magical_prune.adapters.gds.read_floorplan` returns.
        tolerance: nm a coordinate may differ by.

    Returns:
        Empty when every device is where the floorplan has it.
    """
    if isinstance(floorplan, (str, os.PathLike)):
        floorplan = read_floorplan(floorplan)
    names, rects = floorplan
    drawn = dict(zip(names, np.asarray(rects).tolist()))
    ours = dict(zip(placement.names, placement.rects.tolist()))
    problems = [f"{n}: in the placement, not in the floorplan" for n in ours if n not in drawn]
    problems += [f"{n}: in the floorplan, not in the placement" for n in drawn if n not in ours]
    for name, rect in ours.items():
        other = drawn.get(name)
        if other is not None and max(abs(a - b) for a, b in zip(rect, other)) > tolerance:
            problems.append(f"{name}: placed at {rect} nm, drawn at {other} nm")
    return problems
