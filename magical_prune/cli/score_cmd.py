"""``magical-prune score`` and ``model-info``: the pruning decision from the command line
(``calibrate`` lives in :mod:`magical_prune.cli.calibrate_cmd`).

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
    SCORING_MODEL_FILE,
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


def _expand_one(pattern: str) -> list[Path]:
    """The placement inputs one command-line argument names (see :func:`expand_inputs`)."""
    from magical_prune.adapters.discovery import find_layouts, has_layout

    path = Path(pattern)
    if path.is_file():
        return [path]
    if path.is_dir():
        return [path] if has_layout(path) else find_layouts(path)
    if not _GLOB_CHARS & set(pattern):
        raise MagicalPruneError("no such file or folder", pattern)
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
    return sorted(picked, key=_natural_key)


def expand_inputs(patterns: Sequence[str], failed: dict[str, str] | None = None) -> list[Path]:
    """Placement inputs from the command line, in order, each once.

    * an existing file is a placement result (any name);
    * an existing folder is a layout folder, or a design folder whose layout sub-folders
      are all taken (natural order);
    * anything else containing ``* ? [`` is a glob (for patterns the shell did not expand,
      e.g. quoted): its matches that are layout folders or look like result files
      (``place.result``, ``placement.txt``, ``*.result*``) or feature files (``*.npz``) are
      taken, in natural order.

    Args:
        patterns: the arguments.
        failed: when given (``--keep-going``), an argument that names nothing usable is
            recorded here (argument -> error line) and skipped instead of raised.

    Raises:
        MagicalPruneError: no inputs at all; without ``failed``, a path that does not exist
            or a glob without placements.
    """
    out: list[Path] = []
    for pattern in patterns:
        try:
            out.extend(_expand_one(pattern))
        except MagicalPruneError as err:
            if failed is None:
                raise
            failed[pattern] = str(err)
    unique = list(dict.fromkeys(out))
    if not unique and not failed:
        raise MagicalPruneError("no placement to score: give placement files or layout folders")
    return unique


def _progress(total: int) -> bool:
    return total >= 64 and sys.stderr.isatty()


@click.command("score")
@click.argument("placements", nargs=-1, metavar="PLACEMENT...")
@click.option(
    "-m", "--model", type=SCORING_MODEL_FILE, default=None,
    help="Model file, CNN or geometry learner ('default' or none: the bundled model, which "
    "is the design's own geometry model for layouts of a reference design, ota1-ota4, and "
    "the CNN for any other design).",
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
    help="Report inputs that are missing or fail to load or score, score the others, and "
    "exit 1 at the end if any failed.",
)  # fmt: skip
@click.option(
    "--plot", type=click.Path(dir_okay=False, path_type=Path), default=None,
    help="PNG: histogram of the scores, kept and pruned in two colours, threshold marked.",
)  # fmt: skip
@click.option("--force", is_flag=True, help="Overwrite an existing --plot file.")
@companion_options
def score(
    placements: tuple[str, ...],
    model: Path | None,
    threshold: float | None,
    as_json: bool,
    batch_size: int,
    threads: int | None,
    keep_going: bool,
    plot: Path | None,
    force: bool,
    companions: dict[str, Any],
) -> None:
    """Score placements: the probability that each lands in the worst quarter of
    post-layout performance, and the decision (prune when score >= threshold).

    Each PLACEMENT is a placement result file (place.result, placement.txt, ...), a layout
    folder, a design folder (all its layouts), a feature file (.npz from `magical-prune
    features`, made at the model's image size and rasterizer) or a glob, expanded here when
    quoted ('runs/ota4/*'). All inputs are scored together in batches.

    Output: one line per input, tab-separated: path, score, prune/keep, threshold; then
    one summary line (counts pruned and kept, score range) -- on stderr with --json, whose
    stdout holds one object per input: {"path", "score", "decision", "prune",
    "threshold"} (and {"path", "error"} for failed inputs with --keep-going).

    Exit status: 0 when every input was scored; 2 on an error (nothing printed for the
    inputs; the first failing input is named with file and line); with --keep-going, 1
    when some inputs failed and the others were scored.

    Example: magical-prune score runs/ota4 --plot scores.png
    """
    if plot is not None:
        check_output(plot, force)
    failed_args: dict[str, str] = {}
    paths = expand_inputs(placements, failed_args if keep_going else None)
    from magical_prune.predict import is_default, load_scorer

    # a named model is opened first (a bad file fails before thousands of layouts are read);
    # the bundled one waits for them: a reference design's layouts get its geometry model
    bundled = is_default(model)
    predictor = None if bundled else load_scorer(model)
    items, errors = _load_all(paths, companions, keep_going)
    if predictor is None:
        predictor = load_scorer(model, like=[item for _, item in items])
    if threshold is not None:
        predictor.threshold = threshold
    if bundled and items:
        _say_which_bundled_model(predictor.card)
    scores = _score_all(predictor, paths, items, errors, keep_going, batch_size, threads)
    t = predictor.threshold
    for arg, message in failed_args.items():
        _echo_failure(arg, message, as_json)
    for i, path in enumerate(paths):
        if i in errors:
            _echo_failure(str(path), errors[i], as_json)
            continue
        s = scores[i]
        decision = "prune" if s >= t else "keep"
        if as_json:
            echo_json({"path": str(path), "score": round(s, 6), "decision": decision,
                       "prune": decision == "prune", "threshold": t})  # fmt: skip
        else:
            click.echo(f"{path}\t{s:.4f}\t{decision}\t{t:.4f}")
    n_failed = len(errors) + len(failed_args)
    values = list(scores.values())
    click.echo(summary_line(values, t, n_failed), err=as_json)
    if plot is not None and values:
        from magical_prune.plots import save_figure, score_histogram_figure

        name = f"the bundled model ({predictor.card.arch})" if model is None else model.name
        save_figure(score_histogram_figure(values, t, f"{len(values)} placements, {name}"), plot)
        click.echo(f"wrote {plot}", err=as_json)
    if n_failed:
        total = len(paths) + len(failed_args)
        click.echo(f"error: {n_failed} of {total} input(s) could not be scored", err=True)
        sys.exit(1)


def _echo_failure(path: str, message: str, as_json: bool) -> None:
    if as_json:
        echo_json({"path": path, "error": message})
    else:
        click.echo(f"error: {message}", err=True)


def _each(
    items: Any, convert: Any, paths: list[Path], keep_going: bool, errors: dict[int, str]
) -> list[tuple[int, Any]]:
    """``(i, convert(x))`` for each ``(i, x)``; an input ``convert`` refuses is raised naming
    ``paths[i]``, or, with ``keep_going``, becomes its error line in ``errors``."""
    out: list[tuple[int, Any]] = []
    for i, x in items:
        try:
            out.append((i, convert(x)))
        except MagicalPruneError as err:
            if not keep_going:
                raise err.at(paths[i]) from None
            errors[i] = str(err.at(paths[i]))
    return out


def _say_which_bundled_model(card: Any) -> None:
    """One stderr line: which bundled model ``default`` chose for these inputs."""
    if card.family == "role-prior":
        info = card.extra.get("role-prior") or {}
        click.echo(f"model: the bundled design-agnostic prior (learnt on "
                   f"{', '.join(info.get('sources') or ())}, not on this design; its typical "
                   f"layout read off the {info.get('adapted_on')} layouts given): it ranks "
                   "without labels, with no FOR promise (docs/model.md, Zero-shot); for one, "
                   "learn this design's results (GeometryHook)", err=True)  # fmt: skip
    elif card.family != "cnn":
        click.echo(f"model: the bundled {card.design} model ({card.arch}; for another design, "
                   "the design-agnostic prior or the CNN)", err=True)  # fmt: skip
    else:
        click.echo(f"model: the bundled CNN, which learnt {card.design} only (on other designs "
                   "it ranks near random, docs/model.md); for a new design, train one on its "
                   "results or use the GeometryHook in the flow", err=True)  # fmt: skip


def _load_all(
    paths: list[Path], companions: dict[str, Any], keep_going: bool
) -> tuple[list[tuple[int, Any]], dict[int, str]]:
    """The inputs read (by index), and error lines of those that could not be (only with
    ``keep_going``; otherwise the first failure is raised)."""
    from tqdm import tqdm

    errors: dict[int, str] = {}
    shown = tqdm(paths, desc="loading", unit="placement", disable=not _progress(len(paths)))
    items = _each(enumerate(shown), lambda path: _load(path, companions), paths, keep_going,
                  errors)  # fmt: skip
    return items, errors


def _score_all(
    predictor: Any,
    paths: list[Path],
    items: list[tuple[int, Any]],
    errors: dict[int, str],
    keep_going: bool,
    batch_size: int,
    threads: int | None,
) -> dict[int, float]:
    """Scores by input index of the inputs read; inputs the model cannot take join
    ``errors`` (only with ``keep_going``; otherwise the first failure is raised)."""
    import numpy as np

    from magical_prune.models.fast import torch_threads

    loaded = _each(items, lambda item: predictor.prepare(item)[0], paths, keep_going, errors)
    scores: dict[int, float] = {}
    if not loaded:
        return scores
    with torch_threads(threads or None):
        raw = predictor.score_prepared(np.stack([f for _, f in loaded]), batch_size)
    bad = [i for (i, _), s in zip(loaded, raw) if np.isnan(s)]
    if bad and not keep_going:
        raise MagicalPruneError(
            f"the model gave no valid score (NaN) for {len(bad)} input(s), first {paths[bad[0]]}",
            predictor.source,
        )
    for (i, _), s in zip(loaded, raw):
        if np.isnan(s):
            errors[i] = f"{paths[i]}: the model gave no valid score (NaN)"
        else:
            scores[i] = float(s)
    return scores


def summary_line(scores: Sequence[float], threshold: float, failed: int = 0) -> str:
    """``scored N: P prune (x%), K keep at threshold T; scores min .., median .., max ..``."""
    n = len(scores)
    pruned = sum(1 for s in scores if s >= threshold)
    at = "none (prunes nothing)" if threshold > 1.0 else f"{threshold:.4f}"
    line = f"scored {n} placement(s): {pruned} prune"
    if n:
        import numpy as np

        lo, mid, hi = np.percentile(np.asarray(scores, dtype=np.float64), [0, 50, 100])
        line += (
            f" ({100 * pruned / n:.1f}%), {n - pruned} keep at threshold {at}; scores "
            f"min {lo:.4f}, median {mid:.4f}, max {hi:.4f}"
        )
    else:
        line += f", 0 keep at threshold {at}"
    return line + (f"; {failed} failed" if failed else "")
