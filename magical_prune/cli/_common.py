"""Pieces shared by the sub-commands: companion-file options, output checks, JSON output."""

from __future__ import annotations

import functools
import json
import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from magical_prune.errors import MagicalPruneError, tidy_message

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


#: suffixes of the flow's other files: given where a placement belongs, they are named as
#: what they are instead of being parsed as one
_OTHER_FILES: dict[str, str] = {
    **dict.fromkeys((".sp", ".scs", ".spice", ".cir", ".net"), "a netlist"),
    ".pin": "a pin file", ".connection": "a connection file", ".json": "a JSON file",
    ".sym": "a symmetry file", ".symnet": "a symmetry file", ".channel": "a sub-circuit file",
    ".pt": "a model file", ".h5": "a data set", ".hdf5": "a data set", ".gds": "a GDS layout",
    ".svg": "an SVG image",
}  # fmt: skip


class ModelFile(click.ParamType):
    """A model file argument, ``default`` for the bundled model or ``default-cnn`` for the
    bundled CNN on every design; ``exists``: the file is checked here (else the loader
    reports a missing file in its own words)."""

    name = "model"

    def __init__(self, exists: bool = False, default_is_none: bool = False) -> None:
        self.exists = exists
        #: ``default`` becomes None ("the bundled model", which scoring commands resolve per
        #: design) instead of the bundled CNN's path
        self.default_is_none = default_is_none

    def convert(
        self, value: Any, param: click.Parameter | None, ctx: click.Context | None
    ) -> Path | None:
        name = os.fspath(value)
        if name in ("default", "default-cnn") and not Path(value).exists():
            from magical_prune.predict import resolve_model_path

            try:
                path = resolve_model_path(name)
            except MagicalPruneError as err:
                self.fail(err.message, param, ctx)
            return None if self.default_is_none and name == "default" else path
        path = click.Path(exists=self.exists, dir_okay=False, path_type=Path)
        return path.convert(value, param, ctx)  # type: ignore[no-any-return]


#: a model file, or "default" (the bundled model)
MODEL_FILE = ModelFile()
#: a model to score with: ``default`` (or no option) is the bundled model, whose choice of
#: file waits for the placements (:func:`magical_prune.predict.load_scorer`)
SCORING_MODEL_FILE = ModelFile(default_is_none=True)
#: the same, checked to exist when the command line is read
EXISTING_MODEL_FILE = ModelFile(exists=True)


def check_placement_file(path: Path) -> None:
    """Refuse a file that is plainly not a placement result (an image, a model, a
    netlist) before the reader looks for companion files beside it, which would blame a
    missing place.pin instead."""
    from magical_prune._files import content_kind, read_bytes

    if path.is_dir():
        return
    kind = _OTHER_FILES.get(path.suffix.lower()) or content_kind(read_bytes(path, limit=4096))
    if kind is not None:
        raise MagicalPruneError(
            f"not a placement: {kind}; give a placement result file (place.result), a "
            "layout folder or a .npz feature file",
            path,
        )


def check_output(path: str | os.PathLike[str], force: bool) -> Path:
    """Refuse to overwrite an existing file the user did not ask us to replace."""
    out = Path(path)
    if out.exists() and not force:
        raise MagicalPruneError(f"{out} exists; use --force to overwrite it")
    if out.parent and not out.parent.exists():
        out.parent.mkdir(parents=True, exist_ok=True)
    return out


def report_tradeoff(
    scores: Any,
    labels: Any,
    threshold: float,
    plot: Path | None,
    title: str,
    target_for: float | None = None,
) -> dict[str, Any]:
    """The trade-off curve of a threshold as JSON, drawn to ``plot`` when given (the
    caller has checked that it may be written)."""
    from magical_prune.tradeoff import tradeoff

    curve = tradeoff(scores, labels, threshold, target_for=target_for)
    if plot is not None:
        from magical_prune.plots import save_figure, tradeoff_figure

        save_figure(tradeoff_figure(curve, title=title), plot)
    return curve.to_dict()


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


_PATH_PROBLEM = re.compile(r"^(?:Path|File|Directory) (['\"])(?P<path>.*)\1 (?P<why>.*?)\.?$", re.S)


def _param_name(err: click.BadParameter) -> str | None:
    if isinstance(err.param_hint, str):
        return err.param_hint
    param = err.param
    if isinstance(param, click.Option):
        return max(param.opts, key=len)
    return None if param is None else param.human_readable_name


def usage_line(err: click.UsageError) -> str:
    """click's usage error as our one line (``what: why (see 'COMMAND --help')``): click's
    own text spans three lines and begins differently from every other error."""
    text, notes = err.format_message(), []
    if isinstance(err, click.BadParameter) and not isinstance(err, click.MissingParameter):
        name = _param_name(err)
        found = _PATH_PROBLEM.match(err.message)
        if found:
            why = found["why"].replace("does not exist", "no such file or folder")
            text, notes = f"{found['path']}: {why}", [name] if name else []
        elif name:
            text = f"{name}: {err.message}"
    text = tidy_message(text).rstrip(".")
    if text[:2] != text[:2].upper():  # "Missing ..." but not "PATH ..." or "'x' ..."
        text = text[:1].lower() + text[1:]
    if err.ctx is not None:
        notes.append(f"see '{err.ctx.command_path} --help'")
    return text + (f" ({'; '.join(notes)})" if notes else "")
