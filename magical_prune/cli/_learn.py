"""Options, data opening and reports shared by the learning commands (``learn_cmd``)."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from magical_prune.cli._common import echo_json

if TYPE_CHECKING:
    from magical_prune.card import ModelCard

_DATA = click.Path(exists=True, dir_okay=False, path_type=Path)
_OUT = click.Path(dir_okay=False, path_type=Path)


def _label_options(defaults: tuple[str, str, str]) -> Callable[..., Any]:
    """--metric, --worst-percent, --balanced, with the defaults of the command's help."""

    def add(func: Callable[..., Any]) -> Callable[..., Any]:
        metric, worst, balanced = defaults
        func = click.option("--balanced/--whole-set", default=None,
                            help="Keep only the worst and the best WORST-PERCENT (the paper's "
                                 f"baseline set), or every layout [default: {balanced}].")(func)  # fmt: skip
        func = click.option("--worst-percent", type=click.FloatRange(0, 100, min_open=True, max_open=True),
                            default=None, help=f"Share labelled 1 = prune, in percent [default: {worst}].")(func)  # fmt: skip
        func = click.option("--metric", default=None,
                            help="performance.txt key to label by (Offset_Voltage, CMRR, Gain, UGF) "
                                 f"[default: {metric}].")(func)  # fmt: skip
        return func

    return add


#: --metric, --worst-percent, --balanced of train and finetune (labels made afresh)
label_options = _label_options(("Offset_Voltage if present, or the set's stored labels", "25",
                                "whole set"))  # fmt: skip
#: the same for evaluate, where labels follow the model's own definition
model_label_options = _label_options(("the model's", "the model's", "as the model was trained"))


_DEVICE_OPTIONS = [
    click.option("--device", type=click.Choice(["cpu", "cuda"]), default="cpu", show_default=True),
    click.option("--threads", type=click.IntRange(1), default=None,
                 help="CPU threads for torch [default: torch's choice]."),
]  # fmt: skip


def device_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """--device, --threads (where torch runs)."""
    for opt in reversed(_DEVICE_OPTIONS):
        func = opt(func)
    return func


#: --prior/--no-prior of train and fewshot (the geometry learner's few-label prior)
prior_option = click.option(
    "--prior/--no-prior", "use_prior", default=True, show_default=True,
    help="geometry learner: under 32 labels, average the bundled design-agnostic prior "
    "(learnt on the reference designs) with what the labels teach; it counts as 16 labels.",
)  # fmt: skip


def role_prior(use: bool) -> Any:
    """The bundled prior's weights when ``use`` (None when off or not installed)."""
    from magical_prune.priormodel import bundled_role_prior

    return bundled_role_prior() if use else None


def schedule_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """Options of the training loop shared by train, finetune and fewshot."""
    opts = [
        click.option("--epochs", type=click.IntRange(0), default=None,
                     help="Epochs [default: the architecture's].") ,
        click.option("--steps-per-epoch", type=click.IntRange(0), default=None,
                     help="Updates per epoch; 0 = one pass over the training layouts "
                          "[default: the architecture's].") ,
        click.option("--batch-size", type=click.IntRange(1), default=None,
                     help="Layouts per update [default: the architecture's, 16].") ,
        click.option("--lr", type=float, default=None, help="Learning rate [default: the architecture's]."),
        click.option("--seed", type=int, default=0, show_default=True,
                     help="Seed of initialisation and batch order."),
        click.option("--split-seed", type=int, default=0, show_default=True,
                     help="Seed of the shuffle that defines the train/test split."),
        *_DEVICE_OPTIONS,
        click.option("--quiet", "-q", is_flag=True, help="No progress bar or per-epoch lines."),
    ]  # fmt: skip
    for opt in reversed(opts):
        func = opt(func)
    return func


def _check_device(device: str, threads: int | None = None) -> None:
    import torch

    from magical_prune.errors import MagicalPruneError

    if threads is not None:
        torch.set_num_threads(threads)
    if device == "cuda" and not torch.cuda.is_available():
        raise MagicalPruneError("--device cuda: no CUDA device is available (torch sees none)")


def _open(data: Path, metric: str | None, worst_percent: float | None, balanced: bool | None,
          quiet: bool, defaults: ModelCard | None = None):  # fmt: skip
    """The labelled data set; unset label options follow ``defaults`` (a model's card)."""
    from magical_prune.dataset import LabelledDataset

    if defaults is not None:
        metric = metric if metric is not None else defaults.metric
        worst_percent = worst_percent if worst_percent is not None else defaults.worst_percent
        balanced = balanced if balanced is not None else bool(defaults.label.balanced)
    return LabelledDataset.open(
        data,
        metric=metric,
        worst_percent=25.0 if worst_percent is None else worst_percent,
        balanced=bool(balanced),
        progress=not quiet,
    )


def _epoch_printer(to_err: bool) -> Callable[[dict[str, Any]], None]:
    from tqdm import tqdm

    def show(r: dict[str, Any]) -> None:
        line = (
            f"epoch {r['epoch']}/{r['epochs']}  loss {r['loss']:.4f}  "
            f"train acc {100 * r['train_acc']:.1f}%"
        )
        if r.get("test_acc") is not None:
            line += f"  test acc {100 * r['test_acc']:.1f}%"
            line += (
                "  FOR n/a" if r.get("test_for") is None else f"  FOR {100 * r['test_for']:.1f}%"
            )
        line += f"  ({r['seconds']:.1f} s, {r['samples_per_s']:.0f} layouts/s)"
        tqdm.write(line, file=sys.stderr if to_err else sys.stdout)

    return show


def _report(result: Any, out: Path, as_json: bool, plot: Path | None) -> None:
    from magical_prune.ddp import is_main
    from magical_prune.metrics import format_metrics
    from magical_prune.plots import plot_history

    result.save(out)
    if not is_main():  # under torchrun, rank 0 reports (and plots) for all
        return
    d = result.card.data
    if plot is not None and result.history:
        plot_history(result.history, plot, title=f"{result.config.arch} on {d.design}")
    if as_json:
        echo_json({"model": str(out), "test_metrics": result.test_metrics, "data": d.to_dict(),
                   "label": result.card.label.to_dict(), "epochs": len(result.history)})  # fmt: skip
        return
    click.echo(f"test ({d.n_test} layouts): {format_metrics(result.test_metrics)}")
    click.echo(f"saved {out} (trained on {d.n_train} layouts of {d.design})")


def _report_geometry(result: Any, out: Path, as_json: bool) -> None:
    from magical_prune.metrics import format_metrics

    result.save(out)
    card = result.card
    geo = card.extra.get("geometry") or {}
    if as_json:
        echo_json({"model": str(out), "learner": "geometry", "candidate": geo.get("candidate"),
                   "threshold": card.threshold, "test_metrics": result.test_metrics,
                   "data": card.data.to_dict(), "label": card.label.to_dict()})  # fmt: skip
        return
    names = str(geo.get("candidate")).split("+")
    if "prior" in names:
        how = "with the design-agnostic prior (few labels: no cross-validated choice)"
        names.remove("prior")
    else:
        how = "chosen by cross-validation" if len(names) == 1 else (
            "averaged, tied under cross-validation")  # fmt: skip
    click.echo(f"geometry learner: {' + '.join(names)} {how}; "
               f"threshold {card.threshold:.4f} (out of fold)")  # fmt: skip
    click.echo(f"test ({result.n_test} layouts): {format_metrics(result.test_metrics)}")
    click.echo(f"saved {out} (trained on {result.n_train} layouts of {card.design})")


def _check_transferable(model: Path, command: str) -> None:
    """finetune/fewshot start from a network's weights; a geometry model has none to
    transfer (it learns one design), so it is refused with what to do instead."""
    from magical_prune.checkpoint import read_model

    _, card = read_model(model)
    if card.family != "cnn":
        raise click.UsageError(
            f"{command} transfers a CNN's weights to a new design; {model} is a "
            f"{card.family} model, which has none to transfer: train one on the new design's "
            "labels with `magical-prune train DATA --learner geometry`"
        )
