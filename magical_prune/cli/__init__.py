"""The ``magical-prune`` command line: a thin shell over the Python API.

Sub-commands live in their own modules and are imported only when used, so ``--help`` and
``score`` start fast. Errors of the package are printed as one line (``error: file:line:
message``) with exit status 2, never as a traceback.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
import warnings
from typing import Any

import click

from magical_prune._version import __version__
from magical_prune.errors import MagicalPruneError, MagicalPruneWarning

#: command name -> (module under magical_prune.cli, attribute, one-line help)
COMMANDS: dict[str, tuple[str, str, str]] = {
    "inspect": ("inspect_cmd", "inspect", "Show devices, nets, sub-circuits and placement facts."),
    "constraints": ("constraints_cmd", "constraints", "Derive .sym/.symnet from a netlist."),
    "features": ("features_cmd", "features", "Extract the feature images of a placement."),
    "refflow": ("groups", "refflow", "Reference flow: place and simulate example OTAs."),
    "models": ("models_cmd", "models", "List the network architectures with their cost."),
    "dataset": ("groups", "dataset", "Build or import labelled data sets (HDF5)."),
    "train": ("learn_cmd", "train", "Train a model from scratch on a data set."),
    "finetune": ("learn_cmd", "finetune", "Transfer learning: fine-tune a model on a new design."),
    "evaluate": ("learn_cmd", "evaluate", "Accuracy, precision, recall, F1 and FOR of a model."),
    "fewshot": ("learn_cmd", "fewshot", "The paper's few-shot transfer protocol."),
    "score": ("score_cmd", "score", "Score placements: prune or keep."),
    "model-info": ("model_info_cmd", "model_info", "Print a model's metadata."),
    "calibrate": ("calibrate_cmd", "calibrate", "Pick the threshold that meets a target FOR."),
    "explain": ("explain_cmd", "explain", "Class activation maps: where the evidence lies."),
}


def _available(module: str) -> bool:
    return importlib.util.find_spec(f"magical_prune.cli.{module}") is not None


class LazyGroup(click.Group):
    """A click group that imports each sub-command's module on first use.

    ``table`` maps command name -> (module under ``magical_prune.cli``, attribute, short
    help); sub-groups (``refflow``, ``dataset``) use the same class with their own table.
    """

    def __init__(
        self, *args: Any, table: dict[str, tuple[str, str, str]] | None = None, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self.table = COMMANDS if table is None else table

    def list_commands(self, ctx: click.Context) -> list[str]:
        return [name for name, (module, _, _) in self.table.items() if _available(module)]

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        entry = self.table.get(cmd_name)
        if entry is None or not _available(entry[0]):
            return None
        module = importlib.import_module(f"magical_prune.cli.{entry[0]}")
        return getattr(module, entry[1])

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        # Short help from the table, so `--help` does not import torch-heavy modules.
        rows = [(name, self.table[name][2]) for name in self.list_commands(ctx)]
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        try:
            return super().parse_args(ctx, args)
        except click.UsageError as err:
            raise _one_line(err) from None

    def invoke(self, ctx: click.Context) -> Any:
        try:
            with warnings.catch_warnings():
                warnings.showwarning = _show_warning
                return super().invoke(ctx)
        except MagicalPruneError as err:
            click.echo(f"error: {err}", err=True)
            ctx.exit(2)
        except click.UsageError as err:
            raise _one_line(err) from None
        except BrokenPipeError:  # the reader of our output went away: nothing to say
            raise
        except OSError as err:  # disk full, permissions, a file vanished: the environment
            click.echo(f"error: {_os_error_line(err)}", err=True)
            ctx.exit(2)
        except MemoryError:
            click.echo("error: out of memory (is an input far larger than expected?)", err=True)
            ctx.exit(2)


class _UsageLine(click.UsageError):
    """A usage error shown as one ``error: ...`` line, like every other error."""

    def show(self, file: Any = None) -> None:
        click.echo(f"error: {self.message}", file=file, err=file is None)


def _one_line(err: click.UsageError) -> click.UsageError:
    """``err`` as a :class:`_UsageLine` (``--help`` for a bare group passes unchanged)."""
    if isinstance(err, (_UsageLine, click.exceptions.NoArgsIsHelpError)):
        return err
    from magical_prune.cli._common import usage_line

    return _UsageLine(usage_line(err), err.ctx)


def _os_error_line(err: OSError) -> str:
    """``file: reason`` on one line (h5py and torch put several lines into theirs)."""
    where = f"{err.filename}: " if getattr(err, "filename", None) else ""
    text = " ".join(str(err.strerror or err or type(err).__name__).split())
    return where + (text if len(text) <= 300 else text[:297] + "...")


_python_showwarning = warnings.showwarning


def _show_warning(
    message: Warning | str, category: type[Warning], *args: Any, **kwargs: Any
) -> None:
    """The package's warnings as one ``warning: ...`` line on stderr (no source line);
    other warnings as Python shows them."""
    if issubclass(category, MagicalPruneWarning):
        click.echo(f"warning: {message}", err=True)
    else:
        _python_showwarning(message, category, *args, **kwargs)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="magical-prune")
def main() -> None:
    """Predict placement quality in a MAGICAL-style analog layout flow and prune bad
    placements before routing, extraction and simulation.

    Run `magical-prune COMMAND --help` for each command's options.
    """


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
