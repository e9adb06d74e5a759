"""Reference designs of the reference flow (ota1..ota4) and how to load any design.

The bundled designs' files are package data (``examples/designs/`` in a checkout, installed
as ``magical_prune.refflow.design_files``), so ``load_design("ota1")`` works from a wheel as
well as from a checkout. Each design folder holds:

* ``<name>.sp`` Spectre netlist (``subckt``/``ends``; MOS ``(D G S B)``; models ``nch``,
  ``nch_lvt``, ``pch``, ``pch_lvt`` of ``magical_prune/refflow/models.lib``; ``cfmom_2t``
  MOM capacitors; ``poly_res`` resistors);
* ``<name>.sym`` / ``<name>.symnet`` symmetry, ``<name>.json`` device types,
  ``<name>.channel`` hand-labelled sub-circuits;
* ``<name>.bench.json`` the testbench (:mod:`.bench`): supplies, inputs/outputs, input
  common mode, bias voltages and currents, load capacitors, the design's metric, the CMRR
  frequency, and the critical nets of the net-weight enumeration.

Any other folder with a netlist works too (:func:`load_design` with a path); without a
``.sym`` its symmetry is derived from the circuit's structure
(:func:`magical_prune.constraints.derive_symmetry`), without a bench file it gets defaults
derived from its port names (:func:`default_bench`).
See ``examples/designs/README.md`` for what each design is.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from functools import cached_property
from pathlib import Path

import magical_prune.refflow.design_files as _design_files
from magical_prune.adapters import magical
from magical_prune.circuit import Circuit
from magical_prune.constraints import derive_symmetry
from magical_prune.errors import MagicalPruneError
from magical_prune.refflow.bench import Bench, default_bench, read_bench
from magical_prune.registry import Registry

__all__ = [
    "Bench",
    "Design",
    "DESIGNS",
    "DESIGNS_DIR",
    "list_designs",
    "default_bench",
    "load_design",
    "read_bench",
]

#: Folder of the bundled designs (the package data ``magical_prune.refflow.design_files``).
DESIGNS_DIR = Path(_design_files.__file__).resolve().parent
#: Netlist suffixes a design folder may use.
_NETLIST_SUFFIXES = (".sp", ".scs", ".spice", ".cir", ".spi")


@dataclass
class Design:
    """A reference design: its files, its testbench and (loaded on first use) its circuit.

    Attributes:
        name: design name (``ota1``; a folder's name for user designs).
        folder: the folder holding the files.
        netlist: the Spectre netlist.
        sym, symnet, types, channels: companion files, None when absent.
        bench_path: the testbench description, None when absent (then ``bench`` holds
            defaults derived from the port names).
        bench: the testbench.
    """

    name: str
    folder: Path
    netlist: Path
    bench: Bench
    sym: Path | None = None
    symnet: Path | None = None
    types: Path | None = None
    channels: Path | None = None
    bench_path: Path | None = None

    @cached_property
    def circuit(self) -> Circuit:
        """The circuit (netlist + symmetry + channel overrides), parsed once. Without a
        ``.sym`` file the symmetry is derived from the circuit's structure
        (:func:`magical_prune.constraints.derive_symmetry`)."""
        circuit = magical.load_circuit(
            self.netlist,
            types=self.types,
            channels=self.channels,
            sym=self.sym,
            symnet=self.symnet,
        )
        if self.sym is None:
            circuit = replace(circuit, symmetry=derive_symmetry(circuit))  # not the cached one
        return circuit

    @property
    def derived_symmetry(self) -> bool:
        """Whether the symmetry is derived (the folder has no ``.sym``)."""
        return self.sym is None

    @property
    def files(self) -> dict[str, Path]:
        """Design-level files by role (those present), for copying beside generated layouts."""
        roles = {
            "netlist": self.netlist,
            "types": self.types,
            "channels": self.channels,
            "sym": self.sym,
            "symnet": self.symnet,
            "bench": self.bench_path,
        }
        return {k: v for k, v in roles.items() if v is not None}

    @property
    def critical_nets(self) -> tuple[str, ...]:
        """The bench's critical nets (empty: every signal net the placer sees)."""
        return self.bench.critical_nets


def _find(folder: Path, name: str, suffixes: tuple[str, ...]) -> Path | None:
    """``<name><suffix>`` in ``folder``, else the folder's only file with that suffix."""
    for suffix in suffixes:
        named = folder / f"{name}{suffix}"
        if named.is_file():
            return named
    for suffix in suffixes:
        found = sorted(
            p
            for p in folder.glob(f"*{suffix}")
            if p.is_file() and not p.name.endswith(".bench.json")
        )
        if len(found) == 1:
            return found[0]
    return None


def _design_from_folder(folder: Path, name: str | None = None) -> Design:
    folder = Path(folder)
    if not folder.is_dir():
        raise MagicalPruneError("not a design folder", folder)
    netlist = _find(folder, name or folder.name, _NETLIST_SUFFIXES)
    if netlist is None:
        raise MagicalPruneError(
            f"no netlist: looked for {name or folder.name}.sp (or the folder's only "
            "*.sp/.scs/.spice/.cir)",
            folder,
        )
    stem = netlist.stem
    sym = _find(folder, stem, (".sym",))  # None: derived from the circuit (Design.circuit)
    bench_path = folder / f"{stem}.bench.json"
    design = Design(
        name=name or stem,
        folder=folder,
        netlist=netlist,
        bench=None,  # type: ignore[arg-type]
        sym=sym,
        symnet=_find(folder, stem, (".symnet",)) if sym is not None else None,
        types=(folder / f"{stem}.json") if (folder / f"{stem}.json").is_file() else None,
        channels=_find(folder, stem, (".channel",)),
        bench_path=bench_path if bench_path.is_file() else None,
    )
    if design.bench_path is not None:
        design.bench = read_bench(design.bench_path)
    else:
        design.bench = default_bench(design.circuit.ports, netlist)
    return design


#: The bundled designs: name -> design folder.
DESIGNS: Registry[Path] = Registry("reference design")
for _name in ("ota1", "ota2", "ota3", "ota4"):
    DESIGNS.add(_name, DESIGNS_DIR / _name)


def list_designs() -> list[str]:
    """Names of the bundled designs."""
    return DESIGNS.names()


_CACHE: dict[str, Design] = {}


def load_design(name_or_folder: str | os.PathLike[str]) -> Design:
    """A bundled design by name (``ota1``..``ota4``), a folder with a netlist, or a netlist.

    Bundled designs are loaded once per process (the circuit is parsed on first use).

    Raises:
        UnknownNameError: a name that is neither bundled nor a folder ("did you mean").
        MagicalPruneError: a folder without a netlist or ``.sym``.
    """
    text = os.fspath(name_or_folder)
    if isinstance(name_or_folder, str) and text in DESIGNS:
        if text not in _CACHE:
            _CACHE[text] = _design_from_folder(DESIGNS.get(text), text)
        return _CACHE[text]
    path = Path(text)
    if path.is_dir():
        return _design_from_folder(path)
    if path.is_file() and path.suffix.lower() in _NETLIST_SUFFIXES:
        return _design_from_folder(path.parent, path.stem)
    DESIGNS.get(text)  # raises UnknownNameError with "did you mean"
    raise AssertionError("unreachable")  # pragma: no cover
