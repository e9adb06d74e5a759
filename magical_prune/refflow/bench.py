"""The testbench of a design: what the evaluator connects to each port.

Read from a design's ``<name>.bench.json`` (:func:`read_bench`), or derived from
conventional port names for a folder without one (:func:`default_bench`), so a user's
netlist can be labelled without writing a bench first.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from magical_prune.adapters._text import read_text
from magical_prune.errors import MagicalPruneError, ParseError

__all__ = ["Bench", "default_bench", "design_metric", "read_bench"]


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


def design_metric(folder: str | os.PathLike[str]) -> str:
    """The label metric of a generated design folder (``refflow generate`` writes its
    ``<design>.bench.json`` there): ``Offset_Voltage`` when the folder has none."""
    folder = Path(folder)
    named = folder / f"{folder.name}.bench.json"
    found = [named] if named.is_file() else sorted(folder.glob("*.bench.json"))
    if len(found) > 1:
        raise ParseError(f"{len(found)} testbench descriptions; which design is this?", folder)
    return read_bench(found[0]).metric if found else "Offset_Voltage"


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
