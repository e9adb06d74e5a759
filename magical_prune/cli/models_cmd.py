"""``magical-prune models``: the registered networks with their size, cost and reach."""

from __future__ import annotations

from typing import Any

import click

from magical_prune.cli._common import echo_json


def _si(value: float) -> str:
    for unit, scale in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if value >= scale:
            return f"{value / scale:.2f}{unit}"
    return f"{value:.0f}"


def summarise(name: str, size: int) -> dict[str, Any]:
    """Parameters, MACs per sample and last-conv receptive-field coverage of one network."""
    import torch

    from magical_prune.errors import MagicalPruneError
    from magical_prune.models import DEFAULT_ARCH, create_model, get_architecture
    from magical_prune.models.analysis import count_macs, count_params, receptive_field

    arch = get_architecture(name)
    row: dict[str, Any] = {
        "name": name,
        "default": name == DEFAULT_ARCH,
        "image_size": size,
        "description": arch.description,
    }
    try:
        with torch.random.fork_rng():  # building a model must not disturb the caller's seed
            torch.manual_seed(0)
            model = create_model(name, image_size=size)
    except MagicalPruneError as err:
        row["error"] = err.message
        return row
    cover = receptive_field(model)
    row.update(
        params=count_params(model),
        macs=count_macs(model),
        last_conv=cover.layer,
        rf=list(cover.rf),
        rf_spatial=cover.spatial,
        rf_sets=cover.sets_seen,
        sets_total=cover.sets_total,
    )
    return row


@click.command("models")
@click.argument("pattern", default="*")
@click.option(
    "--size",
    type=click.IntRange(min=8),
    default=64,
    show_default=True,
    help="Side of the square feature images the networks are built for.",
)
@click.option(
    "--json",
    "as_json",
    is_flag=True,
    help="One JSON object per architecture per line instead of a table.",
)
def models(pattern: str, size: int, as_json: bool) -> None:
    """List the network architectures (names matching PATTERN, default all).

    PATTERN is a name, a glob ('*feat3d') or the start of names ('feat' lists feat2d and
    feat3d).

    For each: parameters, multiply-accumulates per sample (convolution and dense layers;
    pooling and activations are not counted), and what the last convolution layer sees:
    the share of the image's pixels and how many of the six feature sets reach it. The
    default architecture is marked with '*'.
    """
    from magical_prune.models import MODELS, get_architecture, list_models

    names = list_models(pattern)
    plain = not any(c in pattern for c in "*?[")
    if not names and plain:
        names = list_models(pattern + "*")  # a bare prefix: `models feat`
    if not names and plain:
        get_architecture(pattern)  # a plain name: unknown -> "did you mean ..."
    if not names:
        raise click.UsageError(f"no architecture matches {pattern!r} (known: {', '.join(MODELS)})")
    rows = [summarise(name, size) for name in names]
    if as_json:
        for row in rows:
            echo_json(row)
        return
    header = ("arch", "params", "MACs", "RF pixels", "RF sets", "description")
    table = [header]
    for row in rows:
        name = row["name"] + (" *" if row["default"] else "")
        if "error" in row:
            table.append((name, "-", "-", "-", "-", f"not buildable: {row['error']}"))
            continue
        table.append(
            (
                name,
                _si(row["params"]),
                _si(row["macs"]),
                f"{100 * row['rf_spatial']:.0f}%",
                f"{row['rf_sets']}/{row['sets_total']}",
                row["description"],
            )
        )
    widths = [max(len(r[i]) for r in table) for i in range(len(header) - 1)]
    for r in table:
        cells = [r[0].ljust(widths[0])] + [r[i].rjust(widths[i]) for i in range(1, len(widths))]
        click.echo("  ".join([*cells, r[-1]]))
    click.echo(f"image size {size}x{size}; MACs per sample; RF of the last convolution layer")
