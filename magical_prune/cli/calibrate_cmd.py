"""``magical-prune calibrate``: the decision threshold for a target FOR, stored in a copy of
the model -- or refused, with the reason, when no useful threshold exists."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from magical_prune.cli._common import MODEL_FILE, check_output, echo_json, report_tradeoff
from magical_prune.errors import MagicalPruneError

_FILE = click.Path(dir_okay=False, path_type=Path)
#: above this share of good layouts pruned a threshold is warned about even when allowed
WARN_GOOD_PRUNED = 0.5


def refusal(cal: Any, max_good_pruned: float) -> str | None:
    """Why a calibration must not be written, or None.

    Three cases: no threshold meets the target; keeping everything already meets it (a
    threshold would be above every score and only look like a pruner); or meeting it
    prunes more good layouts than the user allows (the model cannot tell them apart).
    """
    if not cal.feasible:
        return cal.describe()
    if cal.threshold > 1.0:
        return (
            f"keeping every layout already gives FOR {100 * cal.base_rate:.2f}% <= target "
            f"{100 * cal.target_for:.2f}%: there is nothing to prune for (ask for a lower "
            "--target-for)"
        )
    good = cal.good_pruned or 0.0
    if good > max_good_pruned:
        return (
            f"FOR <= {100 * cal.target_for:.2f}% needs pruning {100 * good:.1f}% of the good "
            f"layouts ({100 * cal.prune_rate:.1f}% of all), more than --max-good-pruned "
            f"{100 * max_good_pruned:.0f}%: the model does not tell good from bad layouts "
            "here well enough (fine-tune it, or accept a higher --target-for)"
        )
    return None


@click.command("calibrate")
@click.argument("model", type=MODEL_FILE)
@click.argument("data", type=_FILE)
@click.option(
    "--target-for", type=click.FloatRange(0.0, 1.0), default=0.08, show_default=True,
    help="Highest acceptable false omission rate (bad layouts among those kept), 0..1.",
)  # fmt: skip
@click.option("-o", "--output", required=True, type=_FILE, help="Calibrated model file to write.")
@click.option(
    "--split", type=click.Choice(["test", "all"]), default="test", show_default=True,
    help="Calibrate on the held-out test split (as the model's split seed defines it) or "
    "on every layout of DATA (use 'all' only for data the model never saw).",
)  # fmt: skip
@click.option("--metric", default=None, help="Label by this metric (default: the model's).")
@click.option("--worst-percent", type=float, default=None,
              help="Share labelled bad, in % (default: the model's, usually 25).")  # fmt: skip
@click.option(
    "--max-good-pruned", type=click.FloatRange(0.0, 1.0), default=0.5, show_default=True,
    help="Refuse a threshold that prunes more than this share of the good layouts (1 "
    "accepts any).",
)  # fmt: skip
@click.option(
    "--plot", type=_FILE, default=None,
    help="PNG of the trade-off: FOR and share of good layouts pruned against the share "
    "pruned, beside random pruning, with the target and the chosen threshold marked.",
)  # fmt: skip
@click.option("--force", is_flag=True, help="Overwrite the output (and --plot) file.")
@click.option("--json", "as_json", is_flag=True,
              help="Print the result, with the trade-off curve, as one JSON line.")  # fmt: skip
def calibrate(
    model: Path,
    data: Path,
    target_for: float,
    output: Path,
    split: str,
    metric: str | None,
    worst_percent: float | None,
    max_good_pruned: float,
    plot: Path | None,
    force: bool,
    as_json: bool,
) -> None:
    """Pick the decision threshold of MODEL for a target FOR on labelled data, and store
    it in a copy of the model (-o).

    FOR (false omission rate) is the share of bad layouts among those kept. It falls as
    more is pruned, so the threshold chosen is the highest one that brings it to the target:
    it prunes just enough, losing as few good placements as possible. The prune rate it
    needs and the share of good layouts it prunes are printed with it; --plot draws the
    whole trade-off, to choose the target with open eyes.

    DATA is a data set (HDF5, from `dataset build`). Labels are made over the whole data
    set (never balanced) with the model's metric and cut. The threshold, what it achieves,
    and the data it was calibrated on go into the model's metadata; `score` and the hook
    use them unless given a threshold.

    Nothing is written, and the command fails (exit 2), when no threshold meets the target
    (the lowest FOR reachable is named), when keeping every layout already meets it, or
    when meeting it prunes more than --max-good-pruned of the good layouts. The --plot
    file is written in every case.

    \b
    Example:
      magical-prune calibrate ota4.pt ota4.h5 --target-for 0.08 -o ota4_cal.pt --plot tradeoff.png
    """
    from magical_prune.predict import calibrate_checkpoint

    out = check_output(output, force)
    if plot is not None:
        check_output(plot, force)
    result = calibrate_checkpoint(model, data, target_for, split=split, metric=metric,
                                  worst_percent=worst_percent, progress=sys.stderr.isatty())  # fmt: skip
    cal = result.calibration
    rec = result.record
    title = f"{model.name} on {rec['data']['n_calibration']} layouts ({split} split of {data.name})"
    curve = report_tradeoff(result.scores, result.labels, cal.threshold, plot, title, target_for)
    why = refusal(cal, max_good_pruned)
    if why is not None:
        raise MagicalPruneError(f"{why}; no model written", data)
    result.save(out)
    if (cal.good_pruned or 0.0) > WARN_GOOD_PRUNED:
        click.echo(f"warning: this threshold prunes {100 * cal.good_pruned:.1f}% of the good "
                   "layouts", err=True)  # fmt: skip
    if as_json:
        echo_json({"output": str(out), **rec, "plot": None if plot is None else str(plot),
                   "curve": curve})  # fmt: skip
        return
    click.echo(f"calibrated on {rec['data']['n_calibration']} layouts ({split} split of {data})")
    click.echo(cal.describe())
    if rec["data"]["trained_on_same_data"] and split == "all":
        click.echo("warning: the model was trained on this data; FOR on 'all' is optimistic",
                   err=True)  # fmt: skip
    if plot is not None:
        click.echo(f"wrote {plot}")
    click.echo(f"wrote {out}")
