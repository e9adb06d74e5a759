"""``magical-prune explain``: where on a placement, and in which sub-circuit, the model sees
the evidence for pruning it (class activation maps over the six feature images)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from magical_prune.cli._common import (
    SCORING_MODEL_FILE,
    check_output,
    check_placement_file,
    companion_options,
    echo_json,
)


@click.command("explain")
@click.argument("placement", type=click.Path(exists=True, path_type=Path))
@click.option(
    "-o", "--output", type=click.Path(dir_okay=False, path_type=Path), default=None,
    help="PNG to write: six panels (north up), evidence overlaid on each feature image.",
)  # fmt: skip
@click.option(
    "-m", "--model", type=SCORING_MODEL_FILE, default=None,
    help="Model file, CNN or geometry learner (default: the bundled model: the design's "
    "own geometry model for a reference design, ota1-ota4, else the CNN).",
)  # fmt: skip
@click.option("-t", "--threshold", type=click.FloatRange(0.0, 1.0), default=None,
              help="Decision threshold (default: the model's).")  # fmt: skip
@click.option("--json", "as_json", is_flag=True,
              help="Print score, decision, per-sub-circuit shares and hotspot as one JSON line.")  # fmt: skip
@click.option("--force", is_flag=True, help="Overwrite the output file.")
@companion_options
def explain(
    placement: Path,
    output: Path | None,
    model: Path | None,
    threshold: float | None,
    as_json: bool,
    force: bool,
    companions: dict[str, Any],
) -> None:
    """Explain the score of PLACEMENT (a placement result file or a layout folder).

    The evidence for "prune" is the model's class activation map (prune minus keep) over
    each of the six feature images -- routing demand, first stage, other stages, feedback,
    CMFB, bias. Printed: the score and decision, each image's share of the positive
    evidence, and the hotspot (the pixel of strongest evidence, in µm, with the devices
    there: the devices of that sub-circuit under it, or the nearest ones and why the
    evidence sits on empty space).

    A geometry model (`train --learner geometry`) explains per device and per net instead:
    how much the score drops when that device's (net's) numbers are replaced by those of an
    ordinary layout of the design.
    """
    from magical_prune.adapters.magical import load_placement
    from magical_prune.explain import explain as explain_placement
    from magical_prune.explain import plot_explanation
    from magical_prune.geomodel import GeometryScorer
    from magical_prune.predict import load_scorer, torch_threads
    from magical_prune.priormodel import PriorScorer

    out = check_output(output, force) if output is not None else None
    check_placement_file(placement)
    loaded = load_placement(placement, **companions)
    predictor = load_scorer(model, like=loaded)  # default: the design's own, if bundled
    if threshold is not None:
        predictor.threshold = threshold
    if isinstance(predictor, GeometryScorer):
        _explain_geometry(predictor, loaded, placement, as_json, out)
        return
    if isinstance(predictor, PriorScorer):
        _explain_prior(predictor, loaded, placement, as_json, out)
        return
    with torch_threads(1):  # one placement: one thread is fastest
        result = explain_placement(predictor, loaded)
    if out is not None:
        plot_explanation(result, out, title=str(placement))
    summary = {**result.to_dict(), "placement": str(placement),
               "output": None if out is None else str(out)}  # fmt: skip
    if as_json:
        echo_json(summary)
        return
    click.echo(
        f"{placement}: score {result.score:.4f} -> {'prune' if result.prune else 'keep'} "
        f"(threshold {min(result.threshold, 1.0):.4f}; {result.method})"
    )
    for name, share in sorted(result.shares.items(), key=lambda kv: -kv[1]):
        click.echo(f"  {name:<13} {100 * share:6.2f}% of the evidence for prune")
    click.echo(f"  {hotspot_line(result.hotspot)}")
    if out is not None:
        click.echo(f"wrote {out}")


def hotspot_line(spot: dict[str, Any]) -> str:
    """``hotspot in IMAGE at (x, y) µm: DEVICES`` -- or, with no device of that image
    there, the nearest one, the one with the strongest evidence, and why."""
    where = f"({spot['x_um']:.3f}, {spot['y_um']:.3f}) µm" if "x_um" in spot else "?"
    image = spot["image"]
    line = f"hotspot in {image} at {where}: "
    if spot.get("devices"):
        return line + ", ".join(spot["devices"])
    if "x_um" not in spot:
        return line + "no placement to locate it on"
    facts = []
    if spot.get("nearest"):
        near = spot["nearest"]
        facts.append(f"nearest {near['device']}, {near['distance_um']:.3f} µm away")
    if spot.get("nearby"):
        facts.append(f"in the hot area: {', '.join(spot['nearby'])}")
    if spot.get("strongest"):
        facts.append(f"strongest on a {image} device: {spot['strongest']}")
    if spot.get("others"):
        facts.append(f"under it, of other sub-circuits: {', '.join(spot['others'])}")
    head = f"no {image} device there" + (f" ({'; '.join(facts)})" if facts else "")
    return line + head + (f"; {spot['note']}" if spot.get("note") else "")


def _explain_geometry(
    scorer: Any, loaded: Any, placement: Path, as_json: bool, out: Path | None
) -> None:
    """Per-device and per-net evidence of a geometry model (no images to draw)."""
    from magical_prune.geoexplain import explain_geometry

    if out is not None:
        raise click.UsageError(
            f"{scorer.source}: a geometry model has no images to draw: drop -o/--output, or "
            "give a CNN with --model (the bundled one: --model default-cnn)"
        )
    result = explain_geometry(scorer, loaded)
    if as_json:
        echo_json({**result.to_dict(), "placement": str(placement)})
        return
    click.echo(
        f"{placement}: score {result.score:.4f} -> {'prune' if result.prune else 'keep'} "
        f"(threshold {min(result.threshold, 1.0):.4f}; {result.method})"
    )
    for kind, values in (("device", result.devices), ("net", result.nets)):
        top = [(k, v) for k, v in values.items() if v > 0][:5]
        listed = ", ".join(f"{k} {v:+.4f}" for k, v in top) or "none raises the score"
        click.echo(f"  {kind}s pushing towards prune: {listed}")


def _explain_prior(
    scorer: Any, loaded: Any, placement: Path, as_json: bool, out: Path | None
) -> None:
    """What raises a design-agnostic prior's score: its inputs, weight x distance from the
    design's typical layout."""
    if out is not None:
        raise click.UsageError(
            f"{scorer.source}: the prior has no images to draw: drop -o/--output"
        )
    score = float(scorer.score(loaded)[0])
    shares = sorted(scorer.contributions(loaded).items(), key=lambda kv: -kv[1])
    prune = bool(scorer.decide(score))
    if as_json:
        echo_json({"placement": str(placement), "score": score, "prune": prune,
                   "threshold": scorer.threshold, "inputs": dict(shares)})  # fmt: skip
        return
    click.echo(f"{placement}: score {score:.4f} -> {'prune' if prune else 'keep'} "
               f"(threshold {scorer.threshold:.4f}; design-agnostic prior)")  # fmt: skip
    listed = ", ".join(f"{k} {v:+.3f}" for k, v in shares[:5] if v > 0) or "none"
    click.echo(f"  inputs raising the score (weight x distance from typical): {listed}")
