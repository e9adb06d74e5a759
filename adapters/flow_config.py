"""MAGICAL's flow configuration ``<design>.json``, told apart from a device-type file.

MAGICAL runs a design from a JSON file beside its netlist, e.g.
``{"spectre_netlist": "ota1.sp", "resultDir": "./", "techfile": "...", "lef": "..."}``
(``hspice_netlist`` for HSPICE decks). It has the same name a device-type file
(``{"M0": "NMOS"}``) would have, so discovery must not read one as the other: a
configuration names the netlist (relative paths are relative to the configuration's own
folder) and gives no device types.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

from magical_prune.adapters._text import read_text
from magical_prune.errors import MagicalPruneError

__all__ = ["NETLIST_KEYS", "is_flow_config", "flow_config_netlist"]

#: Keys of a flow configuration that name the design's netlist, in order of preference.
NETLIST_KEYS: tuple[str, ...] = ("spectre_netlist", "hspice_netlist")
#: Other keys only a flow configuration has (a device named ``lef`` is not plausible).
_FLOW_KEYS = frozenset({*NETLIST_KEYS, "resultDir", "techfile", "simple_tech_file", "lef"})
_CACHE: dict[tuple[str, int, int], dict[str, Any] | None] = {}
_RACY_NS = 2_000_000_000


def _config(path: str | os.PathLike[str]) -> dict[str, Any] | None:
    """The configuration's JSON object, or None when the file is not a flow configuration
    (not JSON, not an object, or a device-type/channel mapping)."""
    name = os.path.abspath(path)
    try:
        st = os.stat(name)
    except OSError:
        return None
    key = (name, st.st_mtime_ns, st.st_size)
    if key in _CACHE:
        return _CACHE[key]
    try:
        data = json.loads(read_text(name))
    except (MagicalPruneError, ValueError, RecursionError):
        data = None
    config = data if isinstance(data, dict) and _FLOW_KEYS & data.keys() else None
    # a file written within the last seconds may change without a new mtime: not cached
    if time.time_ns() - st.st_mtime_ns > _RACY_NS:
        if len(_CACHE) > 256:
            _CACHE.clear()
        _CACHE[key] = config
    return config


def is_flow_config(path: str | os.PathLike[str]) -> bool:
    """Whether ``path`` is a MAGICAL flow configuration rather than a device-type file."""
    return Path(path).suffix.lower() == ".json" and _config(path) is not None


def flow_config_netlist(path: str | os.PathLike[str]) -> Path | None:
    """The netlist a flow configuration names, resolved against its folder; None when
    ``path`` is no configuration or names no netlist.

    Raises:
        MagicalPruneError: the configuration names a netlist that is not a file.
    """
    config = _config(path) if Path(path).suffix.lower() == ".json" else None
    if config is None:
        return None
    for key in NETLIST_KEYS:
        value = config.get(key)
        if value is None:
            continue
        if not isinstance(value, str) or not value.strip():
            raise MagicalPruneError(f"{key} must be a file name, got {json.dumps(value)}", path)
        netlist = Path(path).parent / value.strip()
        try:
            found = netlist.is_file()
        except (OSError, ValueError):  # a name too long or otherwise impossible
            found = False
        if not found:
            shown = value if len(value) <= 80 else value[:77] + "..."
            raise MagicalPruneError(f"{key} names {shown!r}, which is not a file", path)
        return netlist
    return None
