"""``magical-prune refflow evaluate``: (re-)simulate layout folders with ngspice."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import click

from magical_prune.cli._cluster import scheduler_option
from magical_prune.cli._common import companion_options, echo_json
from magical_prune.errors import MagicalPruneError


def _expand(paths: tuple[Path, ...]) -> list[Path]:
    """Layout folders/files as given; a design folder (one holding layout folders) expands
    to its layouts in natural order."""
    from magical_prune.adapters.discovery import find_layouts, has_layout

    out: list[Path] = []
    for path in paths:
        if path.is_dir() and not has_layout(path):
            out.extend(find_layouts(path))
        else:
            out.append(path)
    return out


def _refuse_existing_labels(paths: list[Path]) -> None:
    """Stop before any simulation when a layout already has a label and --force is not given:
    a performance.txt may be the only copy of a real simulation's result."""
    existing = [
        target
        for path in paths
        if (target := (path if path.is_dir() else path.parent) / "performance.txt").exists()
    ]
    if existing:
        more = f" (and {len(existing) - 1} more)" if len(existing) > 1 else ""
        raise MagicalPruneError(
            f"{existing[0]} exists{more}; use --force to replace it, or --no-write to only "
            "print the metrics"
        )


def _warn_about_changed_evaluator(paths: list[Path]) -> None:
    """Say when a design folder's labels were made with other evaluator settings: its
    recorded mismatch scale is reused, but the new labels will differ from the stored ones."""
    from magical_prune.refflow.evaluator import label_settings
    from magical_prune.refflow.provenance import (
        PROVENANCE_FILE,
        evaluator_differences,
        read_provenance,
    )

    current = label_settings()
    seen: set[Path] = set()
    for path in paths:
        design_dir = (path if path.is_dir() else path.parent).resolve().parent
        if design_dir in seen:
            continue
        seen.add(design_dir)
        record = read_provenance(design_dir)
        diffs = evaluator_differences(record, current) if record else []
        if diffs:
            click.echo(
                f"warning: {design_dir / PROVENANCE_FILE}: its labels were made with other "
                f"evaluator settings ({'; '.join(diffs[:3])}{'; ...' if len(diffs) > 3 else ''}), "
                "so new labels will differ from the stored ones",
                err=True,
            )


@contextlib.contextmanager
def _executor(scheduler: str | None, jobs: int) -> Iterator[Any]:
    """The Dask cluster's executor for --scheduler, else None (local ngspice processes)."""
    if scheduler is None:
        yield None
        return
    from magical_prune.cluster import dask_pool
    from magical_prune.refflow.provenance import worker_environment

    with dask_pool(scheduler, jobs, worker_environment) as pool:
        yield pool.executor


@click.command("evaluate")
@click.argument("layouts", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@click.option(
    "--mismatch",
    type=click.FloatRange(min=0),
    default=None,
    help="Scale of random Pelgrom mismatch (0: off, nominal; 1: A_VT = 3 mV·µm). Default: "
    "the scale recorded in the design folder's refflow.json by refflow generate (so "
    "re-evaluating reproduces the stored label), else 0. Nominal is the default because at "
    "A_VT the random offset (~1 mV) swamps the placement-dependent one (tens of µV).",
)
@click.option(
    "--jobs",
    "-j",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="ngspice processes run in parallel.",
)
@click.option(
    "--bench",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    default=None,
    help="Testbench description (<design>.bench.json); default: found beside the layouts, "
    "else the bundled design of the same name.",
)
@companion_options
@click.option(
    "--force",
    is_flag=True,
    help="Replace existing performance.txt files (and remove those of layouts that fail).",
)
@click.option("--no-write", "no_write", is_flag=True, help="Only print the metrics; write no file.")
@scheduler_option
@click.option("--json", "as_json", is_flag=True, help="One JSON object per layout and line.")
@click.option("--quiet", "-q", is_flag=True, help="No progress bar.")
def evaluate(
    layouts: tuple[Path, ...],
    mismatch: float | None,
    jobs: int,
    bench: Path | None,
    companions: dict[str, Any],
    force: bool,
    no_write: bool,
    scheduler: str | None,
    as_json: bool,
    quiet: bool,
) -> None:
    """Re-simulate LAYOUT folders (or place.result files, or a design folder of layouts)
    with ngspice and write each one's performance.txt.

    An existing performance.txt is replaced only with --force (without it the command
    stops before simulating; --no-write prints the metrics and writes nothing). A layout
    whose simulation fails is reported and the others go on; the exit status is then 1.
    With --force its old performance.txt is removed (no stale label is kept).

    Metrics: Offset_Voltage (V, signed, input-referred), CMRR (dB at the testbench's
    cmrr_frequency, 1 MHz for the bundled designs), Gain (dB, DC), UGF (Hz). The mismatch
    draw of a layout is seeded by its folder's name, so re-running (also after editing the
    placement by hand) keeps the same draw, and matches what refflow generate wrote.
    """
    from magical_prune.refflow.evaluator import METRICS, evaluate_layouts

    paths = _expand(layouts)
    if not no_write and not force:
        _refuse_existing_labels(paths)
    if mismatch is None:
        _warn_about_changed_evaluator(paths)
    bar = None
    if not quiet and not as_json:
        from tqdm import tqdm

        bar = tqdm(total=len(paths), unit="layout", file=sys.stderr, leave=False)
    try:
        with _executor(scheduler, jobs) as executor:
            results = evaluate_layouts(
                paths,
                mismatch,
                jobs=jobs,
                companions=companions,
                bench=bench,
                progress=bar.update if bar is not None else None,
                write=not no_write,
                executor=executor,
            )
    finally:
        if bar is not None:
            bar.close()
    failed = 0
    for result in results:
        if result.metrics is None:
            failed += 1
        if as_json:
            echo_json(
                {
                    "layout": str(result.layout),
                    "metrics": result.metrics,
                    "error": result.error,
                    "mismatch": result.mismatch,
                }
            )
        elif result.metrics is None:
            click.echo(f"{result.layout}: FAILED: {result.error or 'simulation failed'}")
        else:
            text = " ".join(f"{m}={result.metrics[m]:.6g}" for m in METRICS if m in result.metrics)
            click.echo(f"{result.layout}: {text}")
    if failed:
        if not as_json:
            click.echo(f"{failed} of {len(results)} layouts failed (no label written)", err=True)
        sys.exit(1)
