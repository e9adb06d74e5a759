"""magical-prune: placement quality prediction for MAGICAL-style analog layout flows.

The public API is re-exported here and imported lazily, so ``import magical_prune`` is
cheap and does not pull in torch until a model is used::

    from magical_prune import Predictor, PruneHook, load_placement
"""

from __future__ import annotations

import importlib
from typing import Any

from magical_prune._version import __version__
from magical_prune.errors import MagicalPruneError

#: public name -> module that defines it
_EXPORTS: dict[str, str] = {
    "Circuit": "magical_prune.circuit",
    "Device": "magical_prune.circuit",
    "DeviceType": "magical_prune.circuit",
    "Net": "magical_prune.circuit",
    "Symmetry": "magical_prune.circuit",
    "Placement": "magical_prune.placement",
    "FeatureStack": "magical_prune.features",
    "extract": "magical_prune.features",
    "load_placement": "magical_prune.adapters.magical",
    "load_circuit": "magical_prune.adapters.magical",
    "Predictor": "magical_prune.predict",
    "load_scorer": "magical_prune.predict",
    "ModelCard": "magical_prune.card",
    "Scorer": "magical_prune.scorer",
    "GeometryScorer": "magical_prune.geomodel",
    "GeometryHook": "magical_prune.geohook",
    "PruneHook": "magical_prune.hook",
    "Decision": "magical_prune.hook",
}

__all__ = ["MagicalPruneError", "__version__", *_EXPORTS]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'magical_prune' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
