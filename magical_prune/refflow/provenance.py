"""Provenance of a generated design folder: the settings its placements and labels came from.

``refflow generate`` writes ``OUT/<design>/refflow.json`` beside the layouts::

    {"format": 1, "generator": "magical-prune refflow generate", "version": "0.1.0",
     "design": "ota3",
     "placement": {"seed": 0, "weight": 10.0, "batch_size": 64, "placer": {...}},
     "labels": {"mismatch": 0.0, "simulator": "ngspice-39", "evaluator": {...}}}

``labels`` is null while no layout has been simulated (``--no-simulate``). The file is what
makes a folder's labels traceable: the random-mismatch scale changes what a label means
(0 = nominal post-layout simulation, where the placement decides the label; 1 = a
realistic die, where random mismatch dominates the offset), so ``refflow evaluate``
re-simulates a generated layout with the recorded scale, and a resumed ``refflow
generate`` refuses settings that differ from the recorded ones instead of mixing labels of
two kinds in one folder. ``version`` and ``simulator`` are informational (kept from the
first run, not compared).
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict
from pathlib import Path
from typing import Any

from magical_prune._version import __version__
from magical_prune.adapters._text import read_text
from magical_prune.errors import MagicalPruneError, ParseError

__all__ = [
    "PROVENANCE_FILE",
    "evaluator_differences",
    "generation_record",
    "merge_records",
    "numeric_environment",
    "read_provenance",
    "recorded_mismatch",
    "worker_environment",
    "write_provenance",
]

#: Name of the provenance file in a generated design folder.
PROVENANCE_FILE = "refflow.json"
_FORMAT = 1
_INFORMATIONAL = {"version", "generator", "labels.simulator"}
#: Informational sections: recorded from the first run, never compared.
_INFORMATIONAL_PREFIXES = ("environment.",)


def numeric_environment() -> dict[str, str]:
    """The libraries and CPU the placer's floating-point results depend on.

    The placements are bit-identical only within one such environment: another numpy, scipy
    or torch release, or a CPU with other vector kernels, may move a device by a grid step
    (10 nm). Informational, so a folder can be resumed elsewhere; the reproducibility test
    compares byte for byte only when it matches.
    """
    import platform

    import numpy
    import scipy
    import torch

    return {
        "python": platform.python_version(),
        "numpy": numpy.__version__,
        "scipy": scipy.__version__,
        "torch": torch.__version__,
        "cpu": f"{platform.machine()} {torch.backends.cpu.get_cpu_capability()}",
    }


def worker_environment() -> dict[str, str]:
    """:func:`numeric_environment` and the package version: what the workers of a Dask
    run are compared with (:mod:`magical_prune.cluster`)."""
    return {"magical-prune": __version__, **numeric_environment()}


def generation_record(
    design: str,
    options: Any,
    evaluator: dict[str, Any] | None,
    simulator: str | None,
) -> dict[str, Any]:
    """The record of one ``refflow generate`` run.

    Args:
        design: design name.
        options: the run's :class:`~magical_prune.refflow.generate.GenerateOptions`.
        evaluator: :func:`~magical_prune.refflow.evaluator.label_settings` when the run
            labels layouts, else None (``labels`` is then null).
        simulator: the simulator's version string (informational).
    """
    labels = None
    if evaluator is not None:
        labels = {
            "mismatch": float(options.mismatch),
            "simulator": simulator,
            "evaluator": evaluator,
        }
    return {
        "format": _FORMAT,
        "generator": "magical-prune refflow generate",
        "version": __version__,
        "design": design,
        "environment": numeric_environment(),
        "placement": {
            "seed": options.seed,
            "weight": float(options.weight),
            "batch_size": options.batch_size,
            "placer": asdict(options.placer),
        },
        "labels": labels,
    }


def _flat(value: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for k, v in value.items():
            out.update(_flat(v, f"{prefix}.{k}" if prefix else str(k)))
        return out
    if isinstance(value, tuple):
        value = list(value)
    return {prefix: value}


def _differences(recorded: dict[str, Any], current: dict[str, Any]) -> list[str]:
    a, b = _flat(recorded), _flat(current)
    keys = sorted(
        k
        for k in set(a) | set(b)
        if k not in _INFORMATIONAL and not k.startswith(_INFORMATIONAL_PREFIXES)
    )
    return [
        f"{k}: {json.dumps(b.get(k))} now, {json.dumps(a.get(k))} recorded"
        for k in keys
        if json.loads(json.dumps(a.get(k))) != json.loads(json.dumps(b.get(k)))
    ]


def merge_records(recorded: dict[str, Any] | None, current: dict[str, Any], path: Path) -> dict:
    """The record to keep after a run with ``current`` settings in a folder that holds
    ``recorded`` (None: no file yet).

    Placement settings must match; label settings must match once both runs labelled
    layouts. A run without labels keeps the recorded label settings; the first labelled run
    fills them in.

    Raises:
        MagicalPruneError: the settings differ (the message lists them).
    """
    if recorded is None:
        return current
    merged = dict(recorded)
    compare_current = {k: v for k, v in current.items() if k != "labels"}
    compare_recorded = {k: v for k, v in recorded.items() if k != "labels"}
    if current.get("labels") is not None and recorded.get("labels") is not None:
        compare_current["labels"] = current["labels"]
        compare_recorded["labels"] = recorded["labels"]
    elif current.get("labels") is not None:
        merged["labels"] = current["labels"]
    diffs = _differences(compare_recorded, compare_current)
    if diffs:
        raise MagicalPruneError(
            f"{path}: this folder was generated with other settings ({'; '.join(diffs)}); "
            "use the recorded settings to continue it, or a new output folder"
        )
    return merged


def evaluator_differences(record: dict[str, Any], current: dict[str, Any]) -> list[str]:
    """How the evaluator settings of a record's labels differ from ``current`` (from
    :func:`~magical_prune.refflow.evaluator.label_settings`); empty when they agree or the
    record has no labels."""
    labels = record.get("labels")
    if not labels:
        return []
    return _differences({"evaluator": labels.get("evaluator")}, {"evaluator": current})


def read_provenance(design_dir: str | os.PathLike[str]) -> dict[str, Any] | None:
    """The record of a generated design folder, or None when it has none.

    Raises:
        ParseError: the file is not a provenance record.
    """
    path = Path(design_dir) / PROVENANCE_FILE
    if not path.is_file():
        return None
    try:
        record = json.loads(read_text(path))
    except json.JSONDecodeError as err:
        raise ParseError(f"not valid JSON: {err.msg}", path, err.lineno) from None
    if not isinstance(record, dict) or record.get("format") != _FORMAT:
        raise ParseError(f"not a refflow provenance record (format {_FORMAT})", path, 1)
    labels = record.get("labels")
    if labels is not None and not isinstance(labels, dict):
        raise ParseError("'labels' must be an object or null", path, 1)
    if labels is not None:
        mismatch = labels.get("mismatch")
        if not isinstance(mismatch, (int, float)) or isinstance(mismatch, bool) or mismatch < 0:
            raise ParseError(f"'labels.mismatch' must be a number >= 0, got {mismatch!r}", path, 1)
    return record


def write_provenance(design_dir: Path, record: dict[str, Any], staging: Path) -> None:
    """Write (atomically, through ``staging``) ``design_dir/refflow.json``."""
    staging.mkdir(exist_ok=True)
    tmp = staging / f"{PROVENANCE_FILE}.{os.getpid()}"
    tmp.write_text(json.dumps(record, indent=2) + "\n")
    os.replace(tmp, design_dir / PROVENANCE_FILE)


def recorded_mismatch(layout: str | os.PathLike[str]) -> float | None:
    """The mismatch scale that ``refflow generate`` labelled a layout with: from the
    ``refflow.json`` of its design folder (the layout folder's parent), None when there is
    no record or the record has no labels."""
    path = Path(layout)
    folder = path if path.is_dir() else path.parent
    record = read_provenance(folder.parent)
    if record is None or record.get("labels") is None:
        return None
    return float(record["labels"]["mismatch"])
