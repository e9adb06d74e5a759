"""``magical-prune score``, ``model-info`` and ``calibrate``: the pruning decision from the
command line.

Only click and the standard library are imported at module level; torch, the adapters and
the model are imported inside the commands, so ``--help`` stays instant and ``score`` on one
file starts in about the time torch takes to import.
"""

from __future__ import annotations

import glob
import re
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import click

from magical_prune.cli._common import (
    check_output,
    check_placement_file,
    companion_options,
    echo_json,
)
from magical_prune.errors import MagicalPruneError

_GLOB_CHARS = frozenset("*?[")
#: names a glob match must look like to be taken as a placement result file
_RESULT_NAMES = ("place.result", "placement.txt")


def _looks_like_result(path: Path) -> bool:
    name = path.name.lower()
    return name in _RESULT_NAMES or ".result" in name or name.endswith(".npz")


def _load(path: Path, companions: dict[str, Any]) -> Any:
    """A placement, or precomputed features (``.npz`` of `magical-prune features`)."""
    if path.suffix.lower() == ".npz":
        from magical_prune.features import FeatureStack

        return FeatureStack.load(path)
    check_placement_file(path)
    from magical_prune.adapters.magical import load_placement

    return load_placement(path, **companions)


def _natural_key(path: Path) -> list[Any]:
    """``ota_2`` before ``ota_10``."""
    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", str(path))]


def expand_inputs(patterns: Sequence[str]) -> list[Path]:
    """Placement inputs from the command line, in order, each once.

    * an existing file is a placement result (any name);
    * an existing folder is a layout folder, or a design folder whose layout sub-folders
      are all taken (natural order);
    * anything else containing ``* ? [`` is a glob (for patterns the shell did not expand,
      e.g. quoted): its matches that are layout folders or look like result files
      (``place.result``, ``placement.txt``, ``*.result*``) or feature files (``*.npz``) are
      taken, in natural order.

    Raises:
        MagicalPruneError: no inputs, a path that does not exist, a glob without placements.
    """
    from magical_prune.adapters.discovery import find_layouts, has_layout

    out: list[Path] = []
    for pattern in patterns:
        path = Path(pattern)
        if path.is_file():
            out.append(path)
        elif path.is_dir():
            out.extend([path] if has_layout(path) else find_layouts(path))
        elif _GLOB_CHARS & set(pattern):
            matches = [Path(m) for m in glob.glob(pattern)]
            if not matches:
                raise MagicalPruneError(f"no file or folder matches {pattern!r}")
            picked = [
                m
                for m in matches
                if (m.is_dir() and has_layout(m)) or (m.is_file() and _looks_like_result(m))
            ]
            if not picked:
                raise MagicalPruneError(
                    f"{pattern!r} matches {len(matches)} path(s) but no layout folder or "
                    "placement result (place.result, placement.txt, *.result*, *.npz)"
                )
            out.extend(sorted(picked, key=_natural_key))
        else:
            raise MagicalPruneError("no such file or folder", pattern)
    unique = list(dict.fromkeys(out))
    if not unique:
        raise MagicalPruneError("no placement to score: give placement files or layout folders")
    return unique


def _progress(total: int) -> bool:
    return total >= 64 and sys.stderr.isatty()


@click.command("score")
@click.argument("placements", nargs=-1, metavar="PLACEMENT...")
@click.option(
    "-m", "--model", type=click.Path(dir_okay=False, path_type=Path), default=None,
    help="Model file (default: the model bundled with magical-prune).",
)  # fmt: skip
@click.option(
    "-t", "--threshold", type=click.FloatRange(0.0, 1.0), default=None,
    help="Prune when score >= this (default: the model's calibrated threshold).",
)  # fmt: skip
@click.option("--json", "as_json", is_flag=True, help="One JSON object per input, per line.")
@click.option("--batch-size", default=32, show_default=True, type=click.IntRange(min=1),
              help="Placements per forward pass.")  # fmt: skip
@click.option(
    "--threads", type=click.IntRange(min=0), default=1, show_default=True,
    help="Torch threads for inference; 0 = torch's choice (one per core). One is fastest "
    "for few inputs and on a busy machine; more can pay off for large batches on idle cores.",
)  # fmt: skip
@click.option(
    "-k", "--keep-going", is_flag=True,
    help="Report inputs that fail to load or score and go on; exit 1 at the end if any did.",
)  # fmt: skip
@companion_options
def score(
    placements: tuple[str, ...],
    model: Path | None,
    threshold: float | None,
    as_json: bool,
    batch_size: int,
    threads: int | None,
    keep_going: bool,
    companions: dict[str, Any],
) -> None:
    """Score placements: the probability that each lands in the worst quarter of
    post-layout performance, and the decision (prune when score >= threshold).

    Each PLACEMENT is a placement result file (place.result, placement.txt, ...), a layout
    folder, a design folder (all its layouts), a feature file (.npz from `magical-prune
    features`, made at the model's image size and rasterizer) or a glob, expanded here when
    quoted ('out/ota4/*'). All inputs are scored together in batches.

    Output: one line per input, tab-separated: path, score, prune/keep, threshold. With
    --json, one object per line: {"path", "score", "decision", "prune", "threshold"} (and
    {"path", "error"} for failed inputs with --keep-going).

    Exit status: 0 when every input was scored; 2 on an error (nothing printed for the
    inputs; the first failing input is named with file and line); with --keep-going, 1
    when some inputs failed and the others were scored.
    """
    paths = expand_inputs(placements)
    from magical_prune.predict import Predictor, torch_threads

    predictor = Predictor.load(model, threshold=threshold)
    loaded: list[tuple[int, Any]] = []
    errors: dict[int, str] = {}
    from tqdm import tqdm

    for i, path in enumerate(
        tqdm(paths, desc="loading", unit="placement", disable=not _progress(len(paths)))
    ):
        try:
            loaded.append((i, predictor.features(_load(path, companions))))
        except MagicalPruneError as err:
            if not keep_going:
                raise err.at(path) from None
            errors[i] = str(err.at(path))
    scores: dict[int, float] = {}
    if loaded:
        import numpy as np

        with torch_threads(threads or None):
            raw = predictor.raw_scores(np.stack([f for _, f in loaded]), batch_size)
        bad = [i for (i, _), s in zip(loaded, raw) if np.isnan(s)]
        if bad and not keep_going:
            raise MagicalPruneError(
                f"the model gave no valid score (NaN) for {len(bad)} input(s), first "
                f"{paths[bad[0]]}",
                predictor.source,
            )
        for (i, _), s in zip(loaded, raw):
            if np.isnan(s):
                errors[i] = f"{paths[i]}: the model gave no valid score (NaN)"
            else:
                scores[i] = float(s)
    t = predictor.threshold
    for i, path in enumerate(paths):
        if i in errors:
            if as_json:
                echo_json({"path": str(path), "error": errors[i]})
            else:
                click.echo(f"error: {errors[i]}", err=True)
            continue
        s = scores[i]
        decision = "prune" if s >= t else "keep"
        if as_json:
            echo_json({"path": str(path), "score": round(s, 6), "decision": decision,
                       "prune": decision == "prune", "threshold": t})  # fmt: skip
        else:
            click.echo(f"{path}\t{s:.4f}\t{decision}\t{t:.4f}")
    if errors:
        click.echo(f"error: {len(errors)} of {len(paths)} input(s) could not be scored", err=True)
        sys.exit(1)


# -- model-info ---------------------------------------------------------------------------
def _pct(x: Any) -> str:
    return "n/a" if x is None else f"{100 * float(x):.2f}%"


def describe_meta(meta: dict[str, Any], path: str, bundled: bool) -> list[str]:
    """Human lines of a model's metadata."""
    from magical_prune.metrics import format_metrics

    lines = [f"model:          {path}{' (bundled)' if bundled else ''}"]
    lines.append(f"architecture:   {meta.get('arch')}"
                 + (f" {meta['model_kwargs']}" if meta.get("model_kwargs") else ""))  # fmt: skip
    fc = meta.get("feature_config") or {}
    lines.append(f"images:         {meta.get('image_size')}x{meta.get('image_size')}, "
                 f"rasterizer {fc.get('rasterizer', 'exact')}")  # fmt: skip
    if meta.get("channel_order"):
        lines.append(f"channel order:  {', '.join(meta['channel_order'])}")
    label = meta.get("label") or {}
    if label:
        what = label.get("metric") or "stored labels"
        lines.append(
            f"label:          1 = prune = worst {label.get('worst_percent', 25):g}% by {what}"
            + (" (balanced)" if label.get("balanced") else "")
            + (f", critical value {label['critical_value']:.6g}"
               if label.get("critical_value") is not None else "")
        )  # fmt: skip
    cal = meta.get("calibration")
    t = float(meta.get("threshold", 0.5))
    lines.append(f"threshold:      {'none (prunes nothing)' if t > 1 else f'{t:.4f}'}"
                 + ("" if cal else " (not calibrated)"))  # fmt: skip
    if cal:
        data = cal.get("data") or {}
        lines.append(
            f"calibration:    FOR {_pct(cal.get('achieved_for'))} <= target "
            f"{_pct(cal.get('target_for'))}, prune rate {_pct(cal.get('prune_rate'))} on "
            f"{data.get('n_calibration')} layouts ({cal.get('split')} split of "
            f"{data.get('design') or data.get('path')})"
        )
    data = meta.get("data") or {}
    if data:
        lines.append(
            f"training data:  {data.get('design') or '?'} ({data.get('path')}), "
            f"{data.get('n_train')} train / {data.get('n_test')} test layouts, "
            f"content {str(data.get('content_hash'))[:12]}"
        )
    tm = meta.get("test_metrics")
    if tm and "tp" in tm:
        lines.append(f"test metrics:   {format_metrics(tm)}")
    parent = meta.get("parent")
    if parent:
        lines.append(f"fine-tuned from: {parent.get('path') or parent.get('design') or '?'}")
    if meta.get("reference_data"):
        lines.append(f"reference data: {meta['reference_data']}")
    if meta.get("created_by"):
        lines.append(f"made by:        {meta['created_by']}")
    lines.append(f"package:        magical-prune {meta.get('package_version')}")
    return lines


@click.command("model-info")
@click.argument("model", required=False, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="The whole metadata as one JSON line.")
def model_info(model: Path | None, as_json: bool) -> None:
    """Print a model's metadata: architecture, image size, channel order, label definition,
    threshold and its calibration, training data and test metrics, package version.

    MODEL defaults to the model bundled with magical-prune.
    """
    from magical_prune.checkpoint import file_sha256, read_checkpoint
    from magical_prune.predict import bundled_model_path

    bundled = model is None
    path = bundled_model_path() if model is None else model
    _, meta = read_checkpoint(path)
    if as_json:
        echo_json({"path": str(path), "bundled": bundled, "sha256": file_sha256(path), **meta})
        return
    for line in describe_meta(meta, str(path), bundled):
        click.echo(line)


# -- calibrate ----------------------------------------------------------------------------
@click.command("calibrate")
@click.argument("model", type=click.Path(dir_okay=False, path_type=Path))
@click.argument("data", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--target-for", type=click.FloatRange(0.0, 1.0), default=0.08, show_default=True,
    help="Highest acceptable false omission rate (bad layouts among those kept), 0..1.",
)  # fmt: skip
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="Calibrated model file to write.")  # fmt: skip
@click.option(
    "--split", type=click.Choice(["test", "all"]), default="test", show_default=True,
    help="Calibrate on the held-out test split (as the model's split seed defines it) or "
    "on every layout of DATA (use 'all' only for data the model never saw).",
)  # fmt: skip
@click.option("--metric", default=None, help="Label by this metric (default: the model's).")
@click.option("--worst-percent", type=float, default=None,
              help="Share labelled bad, in % (default: the model's, usually 25).")  # fmt: skip
@click.option("--force", is_flag=True, help="Overwrite the output file.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as one JSON line.")
def calibrate(
    model: Path,
    data: Path,
    target_for: float,
    output: Path,
    split: str,
    metric: str | None,
    worst_percent: float | None,
    force: bool,
    as_json: bool,
) -> None:
    """Pick the decision threshold of MODEL for a target FOR on labelled data, and store
    it in a copy of the model (-o).

    FOR (false omission rate) is the share of bad layouts among those kept. It falls as
    more is pruned, so the threshold chosen is the highest one that brings it to the target:
    it prunes just enough, losing as few good placements as possible. The prune rate it
    needs and the share of good layouts it prunes are printed with it.

    DATA is a data set (HDF5, from `dataset build`). Labels are made over the whole data
    set (never balanced) with the model's metric and cut. The threshold, what it achieves,
    and the data it was calibrated on go into the model's metadata; `score` and the hook
    use them unless given a threshold.

    If no threshold meets the target, nothing is written and the command fails (exit 2),
    naming the lowest FOR that can be reached.
    """
    from magical_prune.predict import calibrate_checkpoint

    out = check_output(output, force)
    result = calibrate_checkpoint(model, data, target_for, split=split, metric=metric,
                                  worst_percent=worst_percent, progress=sys.stderr.isatty())  # fmt: skip
    cal = result.calibration
    if not cal.feasible:
        raise MagicalPruneError(f"{cal.describe()}; nothing written", data)
    result.save(out)
    if as_json:
        echo_json({"output": str(out), **result.record})
        return
    rec = result.record
    click.echo(f"calibrated on {rec['data']['n_calibration']} layouts ({split} split of {data})")
    click.echo(cal.describe())
    if rec["data"]["trained_on_same_data"] and split == "all":
        click.echo("warning: the model was trained on this data; FOR on 'all' is optimistic",
                   err=True)  # fmt: skip
    click.echo(f"wrote {out}")
