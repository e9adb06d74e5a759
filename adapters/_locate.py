"""Find a layout's files: the placement result, its companions, and the design's files.

The search rules are those of :mod:`magical_prune.adapters.discovery` (its module doc):
companions beside the result, design-level files in the layout folder else its parent, a
file named after the netlist or the folder winning over the folder's only file of a kind.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from magical_prune._files import check_regular
from magical_prune.adapters import _caches, flow_config, spectre
from magical_prune.errors import MagicalPruneError

PathLike = str | os.PathLike[str]


@dataclass(frozen=True)
class LayoutFiles:
    """The files of one layout (None: not found / not given)."""

    result: Path
    pins: Path | None
    connection: Path | None
    weights: Path | None
    performance: Path | None
    netlist: Path | None
    types: Path | None
    channels: Path | None
    sym: Path | None
    symnet: Path | None


def _stem(name: str) -> str:
    """``place.result`` -> ``place``; ``ota.result.final`` -> ``ota``; ``a.txt`` -> ``a``."""
    if ".result" in name:
        return name.split(".result", 1)[0]
    return Path(name).stem


def _result_in(folder: Path) -> Path:
    names = _caches.listing(folder)
    if "place.result" in names:
        return folder / "place.result"
    found = sorted(n for n in names if ".result" in n and (folder / n).is_file())
    if len(found) > 1:
        final = [n for n in found if n.endswith(".result.final")]
        found = final if len(final) == 1 else found
    if len(found) == 1:
        return folder / found[0]
    if not found:
        raise MagicalPruneError(
            "no layout here: looked for place.result or a *.result* file", folder
        )
    raise MagicalPruneError(
        f"several placement results ({', '.join(found)}); give the file itself", folder
    )


def pick(
    folder: Path, names: list[str], suffixes: tuple[str, ...], single: bool = True
) -> Path | None:
    """The first of ``names`` present in ``folder``, else its only file with one of
    ``suffixes`` (when ``single``); several unnamed candidates are an error."""
    listing = _caches.listing(folder)
    for name in names:
        if name in listing:
            return folder / name
    if not single:
        return None
    found = _caches.PICKS.get(
        (listing, str(folder), suffixes),
        lambda: sorted(n for n in listing if n.endswith(suffixes) and (folder / n).is_file()),
    )
    if len(found) == 1:
        return folder / found[0]
    if len(found) > 1:
        raise MagicalPruneError(
            f"several {'/'.join(suffixes)} files ({', '.join(found)}); give the one to use", folder
        )
    return None


def find_layout_files(
    path: PathLike,
    *,
    pins: PathLike | None = None,
    connection: PathLike | None = None,
    netlist: PathLike | None = None,
    types: PathLike | None = None,
    channels: PathLike | None = None,
    sym: PathLike | None = None,
    symnet: PathLike | None = None,
    weights: PathLike | None = None,
    performance: PathLike | None = None,
    require_pins: bool = True,
) -> LayoutFiles:
    """Locate a layout's files (see the module docstring for the search rules)."""
    result = _result_path(Path(path))
    folder = result.parent
    stem = _stem(result.name)
    pin_path = _given(pins) or pick(folder, [f"{stem}.pin", "place.pin"], (".pin",))
    if pin_path is None and require_pins:
        raise MagicalPruneError(
            f"no pin file: looked for {stem}.pin, place.pin or one *.pin (give --pins)", folder
        )
    conn_path = _given(connection) or pick(
        folder, [f"{stem}.connection", "place.connection"], (".connection",)
    )
    weight_path = _given(weights) or pick(folder, ["weight.txt", f"{stem}.netwgt"], (".netwgt",))
    perf_path = _given(performance) or pick(folder, ["performance.txt"], (), single=False)
    design = _DesignFolders.of(folder, stem, _given(netlist))
    # any lone .json is a device-type file only when nothing else can give the types
    types_path = design.file(types, ".json", single=design.netlist is None)
    if types is None and types_path is not None and flow_config.is_flow_config(types_path):
        types_path = None
    return LayoutFiles(
        result=result,
        pins=pin_path,
        connection=conn_path,
        weights=weight_path,
        performance=perf_path,
        netlist=design.netlist,
        types=types_path,
        channels=design.file(channels, ".channel"),
        sym=design.file(sym, ".sym"),
        symnet=design.file(symnet, ".symnet"),
    )


def _result_path(path: Path) -> Path:
    """The placement result ``path`` names: the file itself, or the one in a folder."""
    if path.is_dir():
        return _result_in(path)
    if path.is_file():
        if path.suffix.lower() in spectre.NETLIST_SUFFIXES:
            raise MagicalPruneError(
                "this is a netlist, not a placement result (load_circuit reads netlists)", path
            )
        return path
    if os.path.lexists(path):
        check_regular(path, "placement")  # a FIFO, device or symlink loop: say which
    raise MagicalPruneError("no such file or folder", path)


def _given(value: PathLike | None) -> Path | None:
    """An explicitly given companion file, which must exist."""
    if value is None:
        return None
    p = Path(value)
    if not p.is_file():
        check_regular(p, "companion file")  # a FIFO, device or symlink loop: say which
        raise MagicalPruneError("companion file not found", p)
    return p


@dataclass(frozen=True)
class _DesignFolders:
    """Where a layout's design-level files are looked for, and the names they may carry.

    The layout folder, then its parent (``design/design_k/place.result`` with
    ``design/design.sp``); a file named after the netlist, a folder or the result's stem.
    """

    dirs: tuple[Path, ...]
    names: tuple[str, ...]
    netlist: Path | None

    @classmethod
    def of(cls, folder: Path, stem: str, netlist: Path | None) -> _DesignFolders:
        dirs = (folder,) if folder.parent == folder else (folder, folder.parent)
        if netlist is None:
            for d in dirs:
                netlist = design_netlist(d)
                if netlist is not None:
                    break
        names = tuple(dict.fromkeys(
            ([netlist.stem] if netlist is not None else []) + [d.name for d in dirs] + [stem]
        ))  # fmt: skip
        return cls(dirs, names, netlist)

    def file(self, value: PathLike | None, suffix: str, single: bool = True) -> Path | None:
        """The given file, else the first design folder's file named ``<name><suffix>``
        (or its only ``*<suffix>`` when ``single``)."""
        if value is not None:
            return _given(value)
        for d in self.dirs:
            found = pick(d, [n + suffix for n in self.names], (suffix,), single)
            if found is not None:
                return found
        return None


def design_netlist(folder: Path) -> Path | None:
    """The design's netlist in ``folder``: the one MAGICAL's flow configuration names
    (``<folder>.json``, else the folder's only ``.json``), else ``<folder>.sp`` (or another
    netlist suffix), else the folder's only netlist."""
    listing = _caches.listing(folder)
    named = f"{folder.name}.json"
    configs = [named] if named in listing else sorted(n for n in listing if n.endswith(".json"))
    if len(configs) == 1:
        configured = flow_config.flow_config_netlist(folder / configs[0])
        if configured is not None:
            return configured
    names = [folder.name + s for s in spectre.NETLIST_SUFFIXES]
    return pick(folder, names, spectre.NETLIST_SUFFIXES)


def has_layout(folder: Path) -> bool:
    """Whether ``folder`` holds a placement result (``place.result`` or ``*.result*``)."""
    names = _caches.listing(folder)
    return "place.result" in names or any(".result" in n and (folder / n).is_file() for n in names)


def _natural_key(path: Path) -> list[Any]:
    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", path.name)]


def find_layouts(design_dir: PathLike) -> list[Path]:
    """The layout folders of a design (sub-folders holding a placement result), in natural
    order (``ota_2`` before ``ota_10``).

    Raises:
        MagicalPruneError: ``design_dir`` is not a folder or holds no layout.
    """
    folder = Path(design_dir)
    if not folder.is_dir():
        raise MagicalPruneError("not a folder (expected a design folder of layout folders)", folder)
    layouts = []
    with os.scandir(folder) as entries:
        for entry in entries:
            if not entry.is_dir():
                continue
            sub = Path(entry.path)
            if (sub / "place.result").is_file() or has_layout(sub):
                layouts.append(sub)
    if not layouts:
        raise MagicalPruneError(
            "no layout in this folder: no sub-folder holds place.result or a *.result* file", folder
        )
    return sorted(layouts, key=_natural_key)
