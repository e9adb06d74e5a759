"""Helpers that run MAGICAL's driver as stand-in modules (``tests/magical_standin``).

MAGICAL cannot be built here; the stand-ins offer the same module and method names and
behave as ``shared/docs/magical-flow.md`` describes. Their bare module names (``Placer``,
``PnR``, ``IdeaPlaceExPy`` ...) are importable only inside :func:`standin`, as in a MAGICAL
checkout's ``flow/python`` folder.
"""

from __future__ import annotations

import importlib
import json
import shutil
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import SimpleNamespace

STANDIN = Path(__file__).parent / "magical_standin"
MODULES = ("IdeaPlaceExPy", "Placer", "PnR", "Flow", "Params", "MagicalDB")
REPO = Path(__file__).resolve().parent.parent
DESIGNS = REPO / "examples" / "designs"
NETLISTS = Path(__file__).parent / "data" / "netlists"


@contextmanager
def standin() -> Iterator[SimpleNamespace]:
    """The stand-in modules, freshly imported; removed from ``sys.modules`` afterwards."""
    sys.path.insert(0, str(STANDIN))
    for name in MODULES:
        sys.modules.pop(name, None)
    try:
        yield SimpleNamespace(**{name: importlib.import_module(name) for name in MODULES})
    finally:
        for name in MODULES:
            sys.modules.pop(name, None)
        sys.path.remove(str(STANDIN))


def design(tmp: Path, netlist: Path, sym: str | None = None) -> Path:
    """A MAGICAL flow configuration for ``netlist`` (copied with its ``.sym``/``.symnet``,
    or the ``sym`` text given) in ``tmp``; returns the configuration's path."""
    tmp.mkdir(parents=True, exist_ok=True)
    target = tmp / netlist.name
    shutil.copy(netlist, target)
    for suffix in (".sym", ".symnet"):
        source = netlist.with_suffix(suffix)
        if source.is_file():
            shutil.copy(source, target.with_suffix(suffix))
    if sym is not None:
        target.with_suffix(".sym").write_text(sym)
    config = tmp / f"{netlist.stem}.json"
    config.write_text(
        json.dumps({"spectre_netlist": str(target), "resultDir": str(tmp / "result") + "/"})
    )
    return config


def run_flow(mods: SimpleNamespace, config: Path) -> SimpleNamespace:
    """Magical.py's steps: parameters, database, ``Flow.run()``."""
    params = mods.Params.Params()
    params.load(str(config))
    db = mods.MagicalDB.MagicalDB(params)
    db.parse()
    flow = mods.Flow.Flow(db)
    flow.run()
    return SimpleNamespace(params=params, db=db, flow=flow)
