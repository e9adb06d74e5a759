"""``magical-prune model-info``: what a model file says about itself (its card).

Only click and the standard library at module level, as in :mod:`.score_cmd`.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from magical_prune.cli._common import MODEL_FILE, echo_json

if TYPE_CHECKING:
    from magical_prune.card import ModelCard


@click.command("model-info")
@click.argument("model", required=False, type=MODEL_FILE)
@click.option("--json", "as_json", is_flag=True, help="The whole metadata as one JSON line.")
def model_info(model: Path | None, as_json: bool) -> None:
    """Print a model's metadata: architecture, image size, channel order, label definition,
    threshold and its calibration, training data and test metrics, package version.

    MODEL defaults to the model bundled with magical-prune: its CNN, with the per-design
    geometry models that `default` scores reference designs' layouts with, and the
    design-agnostic prior it adapts to other designs, listed after it.
    """
    from magical_prune.card import ModelCard
    from magical_prune.checkpoint import file_sha256, read_checkpoint
    from magical_prune.errors import CheckpointError
    from magical_prune.predict import (
        bundled_design_models,
        bundled_model_path,
        bundled_prior_path,
        resolve_model_path,
    )

    path = resolve_model_path(model)
    try:
        bundled = path.resolve() == bundled_model_path().resolve()
    except CheckpointError:  # an installation without a bundled model: a user's file
        bundled = False
    _, meta = read_checkpoint(path)  # the JSON shows the metadata as the file holds it
    # the per-design geometry models that `default` uses on layouts of a reference design
    designs = {d: str(p) for d, p in sorted(bundled_design_models().values())} if bundled else {}
    if as_json:
        echo_json({"path": str(path), "bundled": bundled, "sha256": file_sha256(path), **meta,
                   **({"design_models": designs} if designs else {})})  # fmt: skip
        return
    for line in describe_card(ModelCard.from_meta(meta, path), str(path), bundled):
        click.echo(line)
    if designs:
        folder = Path(next(iter(designs.values()))).parent
        click.echo(f"also bundled:   geometry models of {', '.join(designs)} ({folder}): "
                   "`default` scores those designs' layouts with them")  # fmt: skip
    prior = bundled_prior_path()
    if bundled and prior.is_file():
        click.echo(f"also bundled:   the design-agnostic prior ({prior}): `default` adapts it "
                   "to 16 or more layouts of another design")  # fmt: skip


def _pct(x: Any) -> str:
    return "n/a" if x is None else f"{100 * float(x):.2f}%"


def describe_card(card: ModelCard, path: str, bundled: bool) -> list[str]:
    """Human lines of a model's card (:class:`~magical_prune.card.ModelCard`)."""
    from magical_prune.card import DataRecord, LabelSpec, thaw
    from magical_prune.metrics import format_metrics

    inputs = card.inputs
    lines = [f"model:          {path}{' (bundled)' if bundled else ''}"]
    lines.append(f"architecture:   {card.arch}"
                 + (f" {thaw(card.model_kwargs)}" if card.model_kwargs else ""))  # fmt: skip
    if card.family == "geometry":
        widths = (card.extra.get("geometry") or {}).get("widths") or ()
        lines.append(f"inputs:         geometry rows, {sum(widths)} numbers (layout, pairs, "
                     "heat, roles) of one design")  # fmt: skip
    elif card.family == "role-prior":
        info = card.extra.get("role-prior") or {}
        lines.append(
            f"inputs:         {len(info.get('features') or ())} design-agnostic "
            f"numbers per layout; learnt on {', '.join(info.get('sources') or ())}"
        )
        zero = ((card.test_metrics or {}).get("per_design") or {}).items()
        lines.extend(f"zero-shot:      {d}: FOR {_pct(r.get('for_zero_shot'))} at 25% pruned "
                     f"(random {_pct(r.get('random_for'))}), learnt without {d}"
                     for d, r in zero)  # fmt: skip
    else:
        lines.append(f"images:         {inputs.image_size}x{inputs.image_size}, "
                     f"rasterizer {inputs.rasterizer}")  # fmt: skip
    if card.channel_order:
        lines.append(f"channel order:  {', '.join(card.channel_order)}")
    if card.label != LabelSpec():  # a card without a label definition has the defaults
        lines.append(_label_line(card))
    lines.extend(_threshold_lines(card))
    data = card.data
    if data is not None and data != DataRecord():
        lines.append(
            f"training data:  {data.design or '?'} ({data.path}), "
            f"{data.n_train} train / {data.n_test} test layouts"
            + (f", content {str(data.content_hash)[:12]}" if data.content_hash else "")
        )
    tm = card.test_metrics
    if tm and "tp" in tm:
        lines.append(f"test metrics:   {format_metrics(tm)}")
    if card.parent is not None:
        lines.append(f"fine-tuned from: {card.parent.path or card.parent.design or '?'}")
    if card.reference_data:
        lines.append(f"reference data: {card.reference_data}")
    if card.created_by:
        lines.append(f"made by:        {card.created_by}")
    lines.append(f"package:        magical-prune {card.package_version}")
    return lines


def _label_line(card: ModelCard) -> str:
    label = card.label
    return (
        f"label:          1 = prune = worst {card.worst_percent:g}% by "
        f"{label.metric or 'stored labels'}"
        + (" (balanced)" if label.balanced else "")
        + (f", critical value {label.critical_value:.6g}"
           if label.critical_value is not None else "")
    )  # fmt: skip


def _count(n: float | None) -> str:
    return "?" if n is None else f"{int(n)}"


def _threshold_lines(card: ModelCard) -> list[str]:
    """The threshold, and how it was calibrated (if it was)."""
    cal, t = card.calibration, card.threshold
    lines = [f"threshold:      {'none (prunes nothing)' if t > 1 else f'{t:.4f}'}"
             + ("" if cal else " (not calibrated)")]  # fmt: skip
    if cal:
        on = cal.on
        lines.append(
            f"calibration:    FOR {_pct(cal.achieved_for)} <= target "
            f"{_pct(cal.target_for)}, prune rate {_pct(cal.prune_rate)} on "
            f"{on.n_calibration or _count(cal.n)} layouts ({cal.split} split of "
            f"{on.design or on.path or card.design or 'the training labels'})"
        )
    return lines
