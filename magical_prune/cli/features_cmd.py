"""``magical-prune features``: a placement's feature tensor as .npz (and PNGs)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from magical_prune.cli._common import check_output, companion_options, echo_json


@click.command("features")
@click.argument("placement", type=click.Path(exists=True, path_type=Path))
@click.option(
    "-o", "--output", required=True, type=click.Path(dir_okay=False, path_type=Path),
    help="Output .npz: 'features' (6, 3, H, W) float32, 'names' (the six image names).",
)  # fmt: skip
@click.option(
    "--png", "png_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
    help="Also write the six images and a contact sheet as PNGs into this folder (north up).",
)  # fmt: skip
@click.option("--size", default=64, show_default=True, type=click.IntRange(min=1),
              help="Pixels per image side.")  # fmt: skip
@click.option(
    "--rasterizer", default="exact", show_default=True, metavar="NAME",
    help="exact (area fractions) or paper (whole pixels, as the UT-AnLay features).",
)  # fmt: skip
@click.option("--force", is_flag=True, help="Overwrite existing output files.")
@click.option("--json", "as_json", is_flag=True, help="Print a one-line JSON summary.")
@companion_options
def features(
    placement: Path,
    output: Path,
    png_dir: Path | None,
    size: int,
    rasterizer: str,
    force: bool,
    as_json: bool,
    companions: dict[str, Any],
) -> None:
    """Extract the feature images of PLACEMENT (a place.result file or a layout folder).

    Six images -- routing demand, first stage, other stages, feedback, CMFB, bias -- each
    with its two coordinate channels, spanning the devices' bounding box; row 0 of the
    arrays is the lowest y.
    """
    from magical_prune.adapters.magical import load_placement
    from magical_prune.features import FeatureConfig, FeatureStack

    config = FeatureConfig(size=size, rasterizer=rasterizer)  # bad name -> did you mean
    out = check_output(output, force)
    png_paths: list[Path] = []
    if png_dir is not None:
        from magical_prune.plots import feature_png_paths

        png_paths = [check_output(p, force) for p in feature_png_paths(png_dir)]

    loaded = load_placement(placement, **companions)
    stack = FeatureStack.from_placement(loaded, config)
    stack.save(out)
    if png_dir is not None:
        from magical_prune.plots import save_feature_pngs

        save_feature_pngs(stack.array, png_dir, title=str(placement))

    if as_json:
        echo_json(
            {
                "placement": str(placement),
                "output": str(out),
                "shape": list(stack.array.shape),
                "names": list(stack.names),
                "size": stack.size,
                "rasterizer": stack.rasterizer,
                "devices": len(loaded),
                "nets": len(loaded.net_names),
                "png": [str(p) for p in png_paths],
            }
        )
    else:
        click.echo(f"wrote {out} {tuple(stack.array.shape)}")
        for p in png_paths:
            click.echo(f"wrote {p}")
