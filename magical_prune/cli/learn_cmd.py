"""``magical-prune train | finetune | evaluate | fewshot``: learning on data sets."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import click

from magical_prune.cli._common import EXISTING_MODEL_FILE, check_output, echo_json, report_tradeoff
from magical_prune.cli._learn import (
    _DATA,
    _OUT,
    _check_device,
    _check_transferable,
    _epoch_printer,
    _open,
    _report,
    _report_geometry,
    device_options,
    label_options,
    model_label_options,
    prior_option,
    role_prior,
    schedule_options,
)

if TYPE_CHECKING:
    pass


@click.command()
@click.argument("data", type=_DATA)
@click.option("-o", "--output", required=True, type=_OUT, help="Model file to write (.pt).")
@click.option(
    "--learner", type=click.Choice(["cnn", "geometry"]), default="cnn", show_default=True,
    help="cnn: a network on the feature images (--arch); geometry: the geometry learner on "
    "the layout geometry the data set stores (one design; best with few labels).",
)  # fmt: skip
@click.option(
    "--arch",
    default="efficient",
    show_default=True,
    help="Architecture of the cnn learner (see `magical-prune models`).",
)
@click.option("--target-for", type=click.FloatRange(0, 1), default=0.10, show_default=True,
              help="geometry learner: calibrate the threshold for this FOR (out of fold).")  # fmt: skip
@click.option("--alpha", type=click.FloatRange(0, 1, min_open=True), default=0.8, show_default=True,
              help="Share of the whole set used for training (the last 20% is the test set).")  # fmt: skip
@prior_option
@schedule_options
@label_options
@click.option("--plot", type=_OUT, default=None, help="Write training curves to this PNG.")
@click.option("--force", is_flag=True, help="Overwrite an existing model file.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as one JSON object.")
def train(data: Path, output: Path, learner: str, arch: str, target_for: float, alpha: float,
          use_prior: bool, epochs: int | None,
          steps_per_epoch: int | None, batch_size: int | None, lr: float | None, seed: int,
          split_seed: int, device: str, threads: int | None, quiet: bool, metric: str | None,
          worst_percent: float | None, balanced: bool | None, plot: Path | None, force: bool,
          as_json: bool) -> None:  # fmt: skip
    """Train a network from scratch on DATA (a data set from `dataset build`).

    The layouts are shuffled with --split-seed; the last 20% is the test set, never seen in
    training; --alpha of the whole set (from the front) is the training set. Unset training
    options come from the architecture's defaults. Deterministic on the CPU for a --seed.

    --learner geometry fits the geometry learner instead (seconds, no network; it reads the
    geometry rows `dataset build` stores, so DATA must hold layouts of one design).

    Example: magical-prune train ota1.h5 -o ota1.pt --balanced --plot curves.png
    """
    from magical_prune.training import TrainConfig

    _check_device(device, threads)
    out = check_output(output, force)
    if plot is not None:
        check_output(plot, force)
    ds = _open(data, metric, worst_percent, balanced, quiet or as_json)
    from magical_prune.learners import get_learner

    if learner == "geometry":
        result = get_learner(learner).fit(ds, alpha=alpha, split_seed=split_seed, seed=seed,
                                          target_for=target_for,
                                          prior=role_prior(use_prior))  # fmt: skip
        _report_geometry(result, out, as_json)
        return
    config = TrainConfig(arch=arch, alpha=alpha, epochs=epochs, steps_per_epoch=steps_per_epoch,
                         batch_size=batch_size, lr=lr, seed=seed, split_seed=split_seed,
                         device=device)  # fmt: skip
    result = get_learner(learner).fit(ds, config=config, progress=not (quiet or as_json),
                                      on_epoch=None if quiet else _epoch_printer(as_json))  # fmt: skip
    _report(result, out, as_json, plot)


@click.command()
@click.argument("model", type=EXISTING_MODEL_FILE)
@click.argument("data", type=_DATA)
@click.option(
    "-o", "--output", required=True, type=_OUT, help="Fine-tuned model file to write (.pt)."
)
@click.option("--alpha", type=click.FloatRange(0, 1), default=0.1, show_default=True,
              help="Share of the whole new set used for training; 0 keeps the model as it is.")  # fmt: skip
@click.option("--lr-scale", type=click.FloatRange(0, min_open=True), default=None,
              help="Learning rate relative to the parent's [default: the architecture's, 0.1].")  # fmt: skip
@click.option("--freeze", default=None,
              help="Freeze the first N weight layers, or 'features' (train only the classifier head).")  # fmt: skip
@schedule_options
@label_options
@click.option("--plot", type=_OUT, default=None, help="Write training curves to this PNG.")
@click.option("--force", is_flag=True, help="Overwrite an existing model file.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as one JSON object.")
def finetune(model: Path, data: Path, output: Path, alpha: float, lr_scale: float | None,
             freeze: str | None, epochs: int | None, steps_per_epoch: int | None,
             batch_size: int | None, lr: float | None, seed: int, split_seed: int, device: str,
             threads: int | None, quiet: bool, metric: str | None, worst_percent: float | None,
             balanced: bool | None, plot: Path | None, force: bool, as_json: bool) -> None:  # fmt: skip
    """Transfer learning: fine-tune MODEL on --alpha of DATA (another design).

    Starts from MODEL's weights at a reduced learning rate (parent's x --lr-scale), optionally
    with early layers frozen (--freeze), and evaluates on DATA's test split (its last 20%).
    The new model's metadata records its parent.

    Example: magical-prune finetune ota1.pt ota4.h5 -o ota4.pt --alpha 0.1
    """
    from magical_prune.training import TrainConfig
    from magical_prune.training import finetune as run

    _check_device(device, threads)
    _check_transferable(model, "finetune")
    out = check_output(output, force)
    if plot is not None:
        check_output(plot, force)
    ds = _open(data, metric, worst_percent, balanced, quiet or as_json)
    config = TrainConfig(alpha=alpha, epochs=epochs, steps_per_epoch=steps_per_epoch,
                         batch_size=batch_size, lr=lr, lr_scale=lr_scale, freeze=freeze,
                         seed=seed, split_seed=split_seed, device=device)  # fmt: skip
    result = run(model, ds, config, progress=not (quiet or as_json),
                 on_epoch=None if quiet else _epoch_printer(as_json))  # fmt: skip
    _report(result, out, as_json, plot)


@click.command()
@click.argument("model", type=EXISTING_MODEL_FILE)
@click.argument("data", type=_DATA)
@click.option("--split", type=click.Choice(["test", "all"]), default="test", show_default=True,
              help="Evaluate on the test split (last 20%, as in training) or on every layout.")  # fmt: skip
@click.option("--threshold", type=click.FloatRange(0, 1), default=None,
              help="Decision threshold on P(prune) [default: the model's, 0.5].")  # fmt: skip
@model_label_options
@click.option("--split-seed", type=int, default=None, help="Split seed [default: the model's].")
@device_options
@click.option("--plot", type=_OUT, default=None,
              help="PNG of the trade-off: FOR and share of good layouts pruned against the share "
                   "pruned, beside random pruning, with the model's threshold marked.")  # fmt: skip
@click.option("--force", is_flag=True, help="Overwrite an existing --plot file.")
@click.option("--json", "as_json", is_flag=True,
              help="Print the metrics, with the trade-off curve, as one JSON object.")  # fmt: skip
def evaluate(model: Path, data: Path, split: str, threshold: float | None, metric: str | None,
             worst_percent: float | None, balanced: bool | None, split_seed: int | None,
             device: str, threads: int | None, plot: Path | None, force: bool,
             as_json: bool) -> None:  # fmt: skip
    """Accuracy, precision, recall, F1, FOR and prune rate of MODEL on DATA.

    Labels follow the model's own definition (metric, worst percent, balanced) unless given.
    FOR = FN / (TN + FN) is the share of bad layouts among those kept; it is printed beside
    the FOR of pruning at random at the same prune rate (the share of bad layouts). The
    trade-off of every other threshold goes to --plot and, as "curve", to --json.

    Example: magical-prune evaluate ota4.pt ota4.h5 --plot tradeoff.png
    """
    from magical_prune.checkpoint import load_model
    from magical_prune.metrics import format_metrics
    from magical_prune.training import evaluate as run

    _check_device(device, threads)
    if plot is not None:
        check_output(plot, force)
    from magical_prune.errors import CheckpointError
    from magical_prune.geomodel import GeometryScorer
    from magical_prune.predict import load_scorer, refuse_prior, resolve_model_path

    model = resolve_model_path(model)
    scorer = load_scorer(model, device=device)
    refuse_prior(scorer)
    ds = _open(data, metric, worst_percent, balanced, True, scorer.card)
    try:
        if isinstance(scorer, GeometryScorer):
            from magical_prune.geotrain import evaluate_geometry

            m = evaluate_geometry(scorer, ds, split=split, threshold=threshold,
                                  split_seed=split_seed)  # fmt: skip
        else:
            net, card = load_model(model, device=device)
            m = run(net, card, ds, split=split, threshold=threshold, split_seed=split_seed,
                    device=device, keep_scores=True)  # fmt: skip
    except CheckpointError as err:
        raise err.at(model) from None
    m["label"] = ds.label_meta()
    title = f"{model.name} on {m['n']} layouts ({split} split of {data.name})"
    m["curve"] = report_tradeoff(m.pop("scores"), m.pop("labels"), m["threshold"], plot, title)
    if as_json:
        echo_json(m)
        return
    click.echo(f"{split} split, {m['n']} layouts of {ds.data.design} labelled by "
               f"{ds.metric or 'stored labels'}:")  # fmt: skip
    click.echo(format_metrics(m))
    if plot is not None:
        click.echo(f"wrote {plot}")


@click.command()
@click.argument("model", type=EXISTING_MODEL_FILE)
@click.argument("data", type=_DATA)
@click.option(
    "--shots",
    type=click.IntRange(2),
    default=16,
    show_default=True,
    help="Labelled layouts per repeat.",
)
@click.option(
    "--repeats",
    type=click.IntRange(1),
    default=100,
    show_default=True,
    help="Repeats of the experiment.",
)
@click.option("--lr-scale", type=click.FloatRange(0, min_open=True), default=None,
              help="Learning rate relative to the parent's [default: the architecture's, 0.1].")  # fmt: skip
@click.option("--freeze", default=None, help="Freeze the first N weight layers, or 'features'.")
@click.option("--epochs", type=click.IntRange(0), default=None,
              help="Fine-tuning epochs per repeat [default: the architecture's fine-tuning epochs].")  # fmt: skip
@click.option("--steps-per-epoch", type=click.IntRange(1), default=8, show_default=True,
              help="Updates per epoch (the shots are one batch).")  # fmt: skip
@click.option("--lr", type=float, default=None, help="Learning rate (overrides --lr-scale).")
@click.option(
    "--seed", type=int, default=0, show_default=True, help="Seed of the draws of the shots."
)
@click.option(
    "--split-seed", type=int, default=0, show_default=True, help="Seed of the train/test split."
)
@click.option(
    "--metric", default=None, help="Metric to rank by [default: Offset_Voltage if present]."
)
@click.option("--worst-percent", type=click.FloatRange(0, 100, min_open=True, max_open=True),
              default=25.0, show_default=True, help="Share of the shots labelled 1.")  # fmt: skip
@prior_option
@device_options
@click.option("--json", "as_json", is_flag=True, help="Print the result as one JSON object.")
@click.option("--details", type=_OUT, default=None, help="Write every repeat as JSON to this file.")
@click.option("--force", is_flag=True, help="Overwrite an existing --details file.")
@click.option("--quiet", "-q", is_flag=True, help="No progress bar.")
def fewshot(model: Path, data: Path, shots: int, repeats: int, lr_scale: float | None,
            freeze: str | None, epochs: int | None, steps_per_epoch: int, lr: float | None,
            seed: int, split_seed: int, metric: str | None, worst_percent: float,
            use_prior: bool, device: str, threads: int | None, as_json: bool,
            details: Path | None, force: bool, quiet: bool) -> None:  # fmt: skip
    """The paper's few-shot transfer protocol (Sec. IV-D) of MODEL on DATA.

    Per repeat: draw --shots layouts outside the test set, label them by rank among
    themselves (worst --worst-percent), relabel the test set at their critical value,
    fine-tune MODEL on the shots and measure FOR on the test set, beside random pruning
    at the same prune rate and the model without fine-tuning. Prints mean and spread.

    A geometry MODEL has no weights to fine-tune: each repeat fits a fresh geometry learner
    on the shots (seconds for 100 repeats); the CNN options (--freeze, --epochs, ...) are
    then not used.
    """
    from magical_prune.fewshot import fewshot as run
    from magical_prune.fewshot import format_summary
    from magical_prune.predict import load_scorer, refuse_prior, resolve_model_path
    from magical_prune.training import TrainConfig

    _check_device(device, threads)
    model = resolve_model_path(model)
    if details is not None:
        check_output(details, force)
    ds = _open(data, metric, worst_percent, False, True)
    scorer = load_scorer(model)
    refuse_prior(scorer)
    if scorer.card.family == "geometry":
        from magical_prune.geofewshot import geometry_fewshot

        result = geometry_fewshot(scorer, ds, shots=shots, repeats=repeats, seed=seed,
                                  split_seed=split_seed, progress=not (quiet or as_json),
                                  prior=role_prior(use_prior))  # fmt: skip
    else:
        config = TrainConfig(epochs=epochs, steps_per_epoch=steps_per_epoch, lr=lr,
                             lr_scale=lr_scale, freeze=freeze, split_seed=split_seed,
                             device=device)  # fmt: skip
        result = run(model, ds, shots=shots, repeats=repeats, seed=seed, config=config,
                     progress=not (quiet or as_json))  # fmt: skip
    if details is not None:
        Path(details).write_text(json.dumps(result, indent=1) + "\n")
    if as_json:
        echo_json({"settings": result["settings"], "summary": result["summary"]})
        return
    click.echo(format_summary(result))
