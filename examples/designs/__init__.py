"""Reference designs ota1..ota4 of the reference flow, and how to load them.

This folder is installed as the package ``magical_prune.refflow.designs`` (package data:
one sub-folder per design), so ``load_design("ota1")`` works from a wheel as well as from a
checkout. Each design folder holds:

* ``<name>.sp`` Spectre netlist (``subckt``/``ends``; MOS ``(D G S B)``; models ``nch``,
  ``nch_lvt``, ``pch``, ``pch_lvt`` of ``magical_prune/refflow/models.lib``; ``cfmom_2t``
  MOM capacitors; ``poly_res`` resistors);
* ``<name>.sym`` / ``<name>.symnet`` symmetry, ``<name>.json`` device types,
  ``<name>.channel`` hand-labelled sub-circuits;
* ``<name>.bench.json`` the testbench: supplies, inputs/outputs, input common mode, bias
  voltages and currents, load capacitors, the design's metric, the CMRR frequency, and the
  critical nets of the net-weight enumeration.

Any other folder with a netlist works too (:func:`load_design` with a path); without a
``.sym`` its symmetry is derived from the circuit's structure
(:func:`magical_prune.constraints.derive_symmetry`), without a bench file it gets defaults
derived from its port names (:func:`default_bench`).
See ``README.md`` in this folder for what each design is.

(The registry lives in this ``__init__`` rather than in ``refflow/designs.py`` because this
folder *is* the ``magical_prune.refflow.designs`` package; a module of the same name would
be shadowed by it.)
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

from magical_prune.adapters._text import read_text
from magical_prune.circuit import Circuit
from magical_prune.errors import MagicalPruneError, ParseError
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

#: Folder of the bundled designs (this package).
DESIGNS_DIR = Path(__file__).resolve().parent
#: Netlist suffixes a design folder may use.
_NETLIST_SUFFIXES = (".sp", ".scs", ".spice", ".cir", ".spi")


@dataclass(frozen=True)
class Bench:
    """How a design is simulated: what the evaluator connects to each port.

    Attributes:
        supplies: supply port -> voltage (V); the first is the positive supply.
        inputs: differential input ports ``(positive, negative)``.
        outputs: differential output ports ``(positive, negative)``; the gain from
            ``inputs[0] - inputs[1]`` to ``outputs[0] - outputs[1]`` is positive.
        input_common_mode: input common-mode voltage (V).
        bias_voltages: port -> fixed voltage (V), e.g. the CMFB reference ``VCM``.
        bias_currents: port -> current (A) flowing from the positive supply into the port.
        loads: port -> load capacitance to ground (F).
        metric: the design's label metric (``Offset_Voltage`` or ``CMRR``).
        cmrr_frequency: frequency (Hz) at which CMRR is reported.
        critical_nets: signal nets whose weights the net-weight enumeration raises.
        description: one line about the design.
        output_common_mode: where the outputs' common mode must settle (V); None: the
            bias voltage of a port named ``VCM`` (the CMFB reference), if any. A layout
            whose outputs sit far from it has a broken operating point and gets no label.
    """

    supplies: Mapping[str, float]
    inputs: tuple[str, str]
    outputs: tuple[str, str]
    input_common_mode: float
    bias_voltages: Mapping[str, float] = field(default_factory=dict)
    bias_currents: Mapping[str, float] = field(default_factory=dict)
    loads: Mapping[str, float] = field(default_factory=dict)
    metric: str = "Offset_Voltage"
    cmrr_frequency: float = 1e6
    critical_nets: tuple[str, ...] = ()
    description: str = ""
    output_common_mode: float | None = None

    def to_dict(self) -> dict[str, Any]:
        """The ``<name>.bench.json`` content of this bench (for printing or saving)."""
        out: dict[str, Any] = {
            "supplies": dict(self.supplies),
            "inputs": list(self.inputs),
            "outputs": list(self.outputs),
            "input_common_mode": self.input_common_mode,
            "bias_voltages": dict(self.bias_voltages),
            "bias_currents": dict(self.bias_currents),
            "loads": dict(self.loads),
            "metric": self.metric,
            "cmrr_frequency": self.cmrr_frequency,
        }
        if self.critical_nets:
            out["critical_nets"] = list(self.critical_nets)
        if self.output_common_mode is not None:
            out["output_common_mode"] = self.output_common_mode
        return out

    @property
    def vdd(self) -> float:
        """The highest supply voltage."""
        return max(self.supplies.values())

    @property
    def ground(self) -> str:
        """The supply port at the lowest voltage (tied to the simulator's ground)."""
        return min(self.supplies, key=lambda k: self.supplies[k])

    def ports(self) -> set[str]:
        """Every port the bench drives or loads."""
        return {
            *self.supplies,
            *self.inputs,
            *self.outputs,
            *self.bias_voltages,
            *self.bias_currents,
            *self.loads,
        }


def read_bench(path: str | os.PathLike[str]) -> Bench:
    """Read a ``<name>.bench.json`` testbench description.

    Raises:
        ParseError: not JSON, a missing key, or a value of the wrong kind.
    """
    path = Path(path)
    try:
        data = json.loads(read_text(path))
    except json.JSONDecodeError as err:
        raise ParseError(f"not valid JSON: {err.msg}", path, err.lineno) from None
    if not isinstance(data, dict):
        raise ParseError("expected a JSON object", path)
    try:
        return _bench_from(data)
    except (KeyError, TypeError, ValueError) as err:
        raise ParseError(f"bad testbench description: {err!r}", path) from None


def _pair(value: Any, what: str) -> tuple[str, str]:
    items = tuple(str(v) for v in value)
    if len(items) != 2:
        raise ValueError(f"{what} must list two ports (positive, negative)")
    return items  # type: ignore[return-value]


def _floats(value: Any) -> dict[str, float]:
    return {str(k): float(v) for k, v in dict(value or {}).items()}


def _bench_from(data: Mapping[str, Any]) -> Bench:
    supplies = _floats(data["supplies"])
    if len(supplies) < 2:
        raise ValueError("supplies must name at least two ports")
    return Bench(
        supplies=supplies,
        inputs=_pair(data["inputs"], "inputs"),
        outputs=_pair(data["outputs"], "outputs"),
        input_common_mode=float(data["input_common_mode"]),
        bias_voltages=_floats(data.get("bias_voltages")),
        bias_currents=_floats(data.get("bias_currents")),
        loads=_floats(data.get("loads")),
        metric=str(data.get("metric", "Offset_Voltage")),
        cmrr_frequency=float(data.get("cmrr_frequency", 1e6)),
        critical_nets=tuple(str(n) for n in data.get("critical_nets", ())),
        description=str(data.get("description", "")),
        output_common_mode=(
            None if data.get("output_common_mode") is None else float(data["output_common_mode"])
        ),
    )


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
        from dataclasses import replace

        from magical_prune.adapters import magical

        circuit = magical.load_circuit(
            self.netlist,
            types=self.types,
            channels=self.channels,
            sym=self.sym,
            symnet=self.symnet,
        )
        if self.sym is None:
            from magical_prune.constraints import derive_symmetry

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


def default_bench(circuit_ports: tuple[str, ...], path: Path) -> Bench:
    """A bench from conventional port names, for a user folder without ``.bench.json``."""
    upper = {p.upper(): p for p in circuit_ports}

    def pick(*names: str) -> str | None:
        return next((upper[n] for n in names if n in upper), None)

    vdd = pick("VDD", "AVDD", "VDDA")
    vss = pick("VSS", "GND", "AVSS", "VSSA", "0")
    inp = pick("INP", "VINP", "VIP", "INPUT_P")
    inm = pick("INM", "INN", "VINN", "VINM", "VIN", "INPUT_N")
    outp = pick("OUTP", "VOUTP", "VOP", "OUTPUT_P")
    outm = pick("OUTM", "OUTN", "VOUTN", "VOUTM", "VON", "OUTPUT_N")
    missing = [
        n
        for n, v in (("VDD", vdd), ("VSS", vss), ("INP", inp), ("INM", inm), ("OUTP", outp),
                     ("OUTM", outm))
        if v is None
    ]  # fmt: skip
    if missing:
        raise MagicalPruneError(
            f"no {path.stem}.bench.json, and no testbench can be derived: the ports "
            f"({' '.join(circuit_ports)}) lack {', '.join(missing)} of the convention INP INM "
            f"OUTP OUTM VDD VSS (IBIAS, VCM); write {path.stem}.bench.json beside the netlist "
            '(keys "supplies", "inputs", "outputs", "input_common_mode", "bias_voltages", '
            '"bias_currents", "loads"; see examples/designs/README.md)',
            path,
        )
    bias_v = {p: 0.6 for p in circuit_ports if p.upper() in ("VCM", "VCMREF", "VREF")}
    bias_i = {p: 20e-6 for p in circuit_ports if p.upper().startswith(("IBIAS", "IB"))}
    return Bench(
        supplies={vdd: 1.2, vss: 0.0},  # type: ignore[dict-item]
        inputs=(inp, inm),  # type: ignore[arg-type]
        outputs=(outp, outm),  # type: ignore[arg-type]
        input_common_mode=0.6,
        bias_voltages=bias_v,
        bias_currents=bias_i,
        loads={outp: 1e-12, outm: 1e-12},  # type: ignore[dict-item]
    )


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
