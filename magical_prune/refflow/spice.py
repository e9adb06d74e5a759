"""Running ngspice: device cards, batch runs, and its ASCII raw output.

The evaluator writes one flat ngspice netlist per layout and runs many layouts in one
ngspice process by ``source``-ing them one after the other from a control script
(``remcirc`` drops each circuit afterwards). Every layout is then solved as its own circuit,
so its numbers do not depend on which other layouts shared the process, and the process
start-up is paid once per batch.
"""

from __future__ import annotations

import math
import os
import re
import shutil
import signal
import subprocess
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np

from magical_prune.adapters._text import read_text
from magical_prune.circuit import Device, DeviceType
from magical_prune.errors import SimulationError

__all__ = [
    "MODEL_CARDS",
    "RawPlot",
    "capacitance",
    "find_ngspice",
    "model_card",
    "models_library",
    "ngspice_version",
    "read_raw",
    "resistance",
    "run_ngspice",
    "RunResult",
]

#: MOS model cards of ``models.lib``.
MODEL_CARDS: tuple[str, ...] = ("nch", "nch_lvt", "pch", "pch_lvt")
#: MOM capacitance per finger, per µm of finger length and per metal layer (F).
MOM_CAP_PER_FINGER_UM = 0.05e-15
#: Poly resistor sheet resistance (Ω/sq), unsilicided p+ poly.
POLY_SHEET_RESISTANCE = 600.0

_INSTALL_HINT = (
    "ngspice was not found on PATH: install it (Debian/Ubuntu: apt-get install -y ngspice; "
    "macOS: brew install ngspice; conda: conda install -c conda-forge ngspice) or put it "
    "on PATH"
)


def find_ngspice() -> str:
    """Path of the ngspice executable.

    Raises:
        SimulationError: ngspice is not installed (the message says how to install it).
    """
    found = shutil.which(os.environ.get("MAGICAL_PRUNE_NGSPICE", "ngspice"))
    if found is None:
        raise SimulationError(_INSTALL_HINT)
    return found


def ngspice_version() -> str:
    """The simulator's version, e.g. ``ngspice-39`` (``unknown`` when it does not say).

    Raises:
        SimulationError: ngspice is not installed.
    """
    exe = find_ngspice()
    try:
        proc = subprocess.run([exe, "-v"], capture_output=True, text=True, timeout=30, check=False)
    except subprocess.TimeoutExpired:
        return "unknown"
    found = re.search(r"ngspice-[\w.+-]+", proc.stdout + proc.stderr)
    return found.group(0) if found else "unknown"


def models_library() -> str:
    """Text of the bundled ``models.lib``."""
    return resources.files("magical_prune.refflow").joinpath("models.lib").read_text()


def model_card(device: Device) -> str:
    """The ``models.lib`` card for a MOS device's model name.

    Bundled names map to themselves; another foundry-style name maps by type and
    threshold flavour (``nch_lvt_mac`` -> ``nch_lvt``, ``nfet`` -> ``nch``).
    """
    name = device.model.lower()
    if name in MODEL_CARDS:
        return name
    base = "nch" if device.type is DeviceType.NMOS else "pch"
    return f"{base}_lvt" if "lvt" in name else base


def capacitance(device: Device) -> float:
    """Capacitance (F) of a capacitor from its parameters.

    ``c`` if given; else a MOM capacitor of ``nr`` fingers of length ``lr`` over layers
    ``stm``..``spm`` (default 4 layers), times ``multi``/``m``.
    """
    p = device.params
    copies = p.get("multi", p.get("m", 1.0))
    if "c" in p:
        return float(p["c"]) * copies
    layers = p.get("spm", 6.0) - p.get("stm", 3.0) + 1.0
    return p.get("nr", 20.0) * p.get("lr", 5e-6) * 1e6 * MOM_CAP_PER_FINGER_UM * layers * copies


def resistance(device: Device) -> float:
    """Resistance (Ω) of a resistor: ``r`` if given, else poly ``l/w`` squares x segments,
    divided by ``m`` parallel copies."""
    p = device.params
    copies = p.get("m", p.get("multi", 1.0))
    if "r" in p:
        return float(p["r"]) / copies
    squares = p.get("l", 5e-6) / p.get("w", 1e-6)
    segments = p.get("segments", p.get("nseg", p.get("series", 1.0)))
    return POLY_SHEET_RESISTANCE * squares * segments / copies


@dataclass(frozen=True)
class RunResult:
    """What an ngspice run left: exit status (None when it was stopped) and its output."""

    returncode: int | None
    log: str

    @property
    def timed_out(self) -> bool:
        return self.returncode is None


#: The wall-clock backstop of a run, per CPU second allowed (plus :data:`WALL_SLACK_S`).
WALL_PER_CPU_S = 10.0
WALL_SLACK_S = 60.0


def run_ngspice(script: Path, workdir: Path, cpu_seconds: float) -> RunResult:
    """Run ``ngspice -b script`` in ``workdir`` with its output captured.

    The limit is CPU time (``ulimit -t``, whole seconds, rounded up), not wall time: on a
    shared machine the same run can take 1 s or 40 s of wall time, and a wall-clock limit
    tight enough to stop a stuck run in seconds would also stop healthy runs (and make
    labels depend on the load). A generous wall-clock backstop (``WALL_PER_CPU_S *
    cpu_seconds + WALL_SLACK_S``) covers a run that hangs without using the CPU. A run that
    is stopped is reported (``timed_out``), not raised: what it wrote before is still there
    to read.

    Raises:
        SimulationError: ngspice is missing.
    """
    exe = find_ngspice()
    # ngspice parallelises device evaluation with OpenMP; the evaluator already runs one
    # process per job, so more threads per process only oversubscribe the cores, and
    # spinning idle threads burn CPU time (the drivers also say `set num_threads=1`).
    env = dict(os.environ)
    env.setdefault("OMP_NUM_THREADS", "1")
    env.setdefault("OMP_WAIT_POLICY", "passive")
    cpu = max(1, math.ceil(cpu_seconds))
    command = [exe, "-b", script.name]
    if os.name == "posix":
        command = ["/bin/sh", "-c", f'ulimit -t {cpu} && exec "$0" "$@"', *command]
    wall = WALL_PER_CPU_S * cpu + WALL_SLACK_S
    stopped = f"ngspice used more than {cpu} s of CPU time and was stopped"
    try:
        proc = subprocess.run(
            command,
            cwd=workdir,
            env=env,
            capture_output=True,
            text=True,
            timeout=wall,
            check=False,
        )
    except subprocess.TimeoutExpired as err:
        out = err.stdout or ""
        if isinstance(out, bytes):
            out = out.decode(errors="replace")
        return RunResult(None, f"{out}\nngspice ran longer than {wall:.0f} s and was stopped")
    log = proc.stdout + proc.stderr
    if proc.returncode in (-signal.SIGXCPU, -signal.SIGKILL, 128 + signal.SIGXCPU):
        return RunResult(None, f"{log}\n{stopped}")
    return RunResult(proc.returncode, log)


@dataclass(frozen=True)
class RawPlot:
    """One plot of an ngspice ASCII raw file.

    Attributes:
        title: the circuit title line.
        name: plot name (``Operating Point``, ``AC Analysis``).
        vectors: vector name (lower case) -> values (float or complex array).
    """

    title: str
    name: str
    vectors: dict[str, np.ndarray]


_HEADER = re.compile(r"^(Title|Date|Plotname|Flags|No\. Variables|No\. Points|Command):\s*(.*)$")


def read_raw(path: Path) -> list[RawPlot]:
    """All plots of an ngspice ASCII raw file (several when ``appendwrite`` was set)."""
    if not path.is_file():
        return []
    plots: list[RawPlot] = []
    lines = read_text(path).splitlines()
    i = 0
    while i < len(lines):
        header: dict[str, str] = {}
        while i < len(lines) and not lines[i].startswith("Variables:"):
            m = _HEADER.match(lines[i])
            if m:
                header[m.group(1)] = m.group(2).strip()
            i += 1
        if i >= len(lines):
            break
        nvars = int(header.get("No. Variables", "0"))
        npoints = int(header.get("No. Points", "0"))
        is_complex = "complex" in header.get("Flags", "")
        names = [lines[i + 1 + k].split()[1].lower() for k in range(nvars)]
        i += 1 + nvars
        if i >= len(lines) or not lines[i].startswith("Values:"):
            break
        i += 1
        tokens: list[str] = []
        needed = npoints * (nvars + 1)
        while i < len(lines) and len(tokens) < needed:
            tokens.extend(lines[i].split())
            i += 1
        values = np.zeros((npoints, nvars), dtype=np.complex128 if is_complex else np.float64)
        for p in range(npoints):
            row = tokens[p * (nvars + 1) + 1 : (p + 1) * (nvars + 1)]
            for k, tok in enumerate(row):
                if is_complex:
                    re_, im_ = tok.split(",")
                    values[p, k] = complex(float(re_), float(im_))
                else:
                    values[p, k] = float(tok)
        plots.append(
            RawPlot(
                header.get("Title", ""),
                header.get("Plotname", ""),
                {n: values[:, k] for k, n in enumerate(names)},
            )
        )
    return plots


def number(value: float) -> str:
    """A netlist number: shortest exact text, ``0`` for zero."""
    if value == 0:
        return "0"
    if not math.isfinite(value):
        raise SimulationError(f"non-finite netlist value {value!r}")
    return repr(float(value))
