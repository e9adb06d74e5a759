"""Pieces shared by the sub-commands: companion-file options, output checks, JSON output."""

from __future__ import annotations

import functools
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from magical_prune.errors import MagicalPruneError

#: option name -> keyword of ``load_placement``/``load_circuit`` and its help
COMPANION_OPTIONS: tuple[tuple[str, str, str], ...] = (
    ("--pins", "pins", "place.pin file (default: <stem>.pin or place.pin beside the placement)."),
    ("--connection", "connection", "place.connection file (default: found beside the placement)."),
    (
        "--netlist",
        "netlist",
        "Spectre/SPICE netlist of the design (default: *.sp in the folder or its parent).",
    ),
    ("--types", "types", "Device-type JSON file, overrides types from the netlist."),
    ("--channels", "channels", "Sub-circuit .channel file, overrides automatic classification."),
    ("--sym", "sym", "Symmetry .sym file (default: found beside the netlist)."),
)


def companion_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """Add --pins/--connection/--netlist/--types/--channels/--sym; the command receives
    them as one ``companions`` dict of the paths given (unset ones left out)."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        given = {key: kwargs.pop(key) for _, key, _ in COMPANION_OPTIONS}
        return func(*args, companions={k: v for k, v in given.items() if v is not None}, **kwargs)

    for flag, key, help_text in reversed(COMPANION_OPTIONS):
        path = click.Path(dir_okay=False, path_type=Path)
        wrapper = click.option(flag, key, type=path, default=None, help=help_text)(wrapper)
    return wrapper


def check_output(path: str | os.PathLike[str], force: bool) -> Path:
    """Refuse to overwrite an existing file the user did not ask us to replace."""
    out = Path(path)
    if out.exists() and not force:
        raise MagicalPruneError(f"{out} exists; use --force to overwrite it")
    if out.parent and not out.parent.exists():
        out.parent.mkdir(parents=True, exist_ok=True)
    return out


def echo_json(obj: Any) -> None:
    """One JSON document on one line (flow scripts read it line by line)."""
    click.echo(json.dumps(obj, separators=(",", ":"), default=_jsonable))


def _jsonable(obj: Any) -> Any:
    import numpy as np

    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")
