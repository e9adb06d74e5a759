"""``magical-prune dataset build`` and ``dataset import-utanlay``: labelled data sets in HDF5."""

from __future__ import annotations

import contextlib
import functools
import os
import shlex
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from magical_prune.cli._cluster import scheduler_option
from magical_prune.cli._common import check_output, companion_options, echo_json

if TYPE_CHECKING:  # the CLI imports the library lazily, when a command runs
    from magical_prune.dataset import BuildReport


def read_layout_performance(folder: Path) -> Mapping[str, float] | None:
    """A layout folder's ``performance.txt`` (None when the simulation left none)."""
    from magical_prune.adapters.magical import read_performance

    path = Path(folder) / "performance.txt"
    return read_performance(path) if path.is_file() else None


@click.command()
@click.argument("design_dir", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("-o", "--output", "output", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="Data-set file to write (.h5).")  # fmt: skip
@click.option("--jobs", "-j", default=1, show_default=True, type=click.IntRange(1),
              help="Worker processes for reading and rasterizing.")  # fmt: skip
@click.option("--size", default=64, show_default=True, type=click.IntRange(8),
              help="Image size in pixels (H = W).")  # fmt: skip
@click.option("--rasterizer", default="exact", show_default=True,
              help="Feature rasterizer: exact (area fractions) or paper (whole pixels).")  # fmt: skip
@click.option(
    "--design", default=None, help="Design name recorded in the file (default: the folder name)."
)
@click.option("--force", is_flag=True, help="Overwrite an existing output file.")
@scheduler_option
@click.option("--json", "as_json", is_flag=True, help="Print the report as one JSON object.")
@click.option("--quiet", "-q", is_flag=True, help="No progress bar.")
@companion_options
def build(
    design_dir: Path,
    output: Path,
    jobs: int,
    size: int,
    rasterizer: str,
    design: str | None,
    force: bool,
    scheduler: str | None,
    as_json: bool,
    quiet: bool,
    companions: dict[str, Any],
) -> None:
    """Extract the feature images and raw metrics of every layout folder of DESIGN_DIR.

    Each sub-folder holding a placement (place.result, place.pin, place.connection) is one
    layout; its performance.txt gives the raw metrics. Labels are not stored: `train`,
    `evaluate` and `fewshot` compute them from the metric you choose (--metric,
    --worst-percent, --balanced). Layouts whose simulation failed (no performance.txt)
    or whose placement cannot be read are reported and left out; a metric a layout lacks
    is stored as missing and that layout is left out when that metric labels the data.

    With --scheduler the placements are read here and rasterized on a Dask cluster; the
    file is written here and is the same as without it.

    Example: magical-prune dataset build runs/ota1 -o ota1.h5 --jobs 2
    """
    from magical_prune.adapters.magical import find_layouts, load_placement
    from magical_prune.dataset import build_dataset

    out = check_output(output, force)
    layouts = find_layouts(design_dir)
    command = ["magical-prune", "dataset", "build", str(design_dir), "-o", str(output),
               "--size", str(size), "--rasterizer", rasterizer]  # fmt: skip
    for key, value in sorted(companions.items()):
        command += [f"--{key}", str(value)]
    with contextlib.ExitStack() as stack:
        executor, jobs = _cluster_executor(stack, scheduler, jobs)
        report = build_dataset(
            layouts,
            out,
            load=functools.partial(load_placement, **companions),
            read_performance=read_layout_performance,
            size=size,
            rasterizer=rasterizer,
            jobs=jobs,
            attrs={
                "design": design or design_dir.resolve().name,
                "source": os.fspath(design_dir.resolve()),
                "created_by": shlex.join(command),
                "companions": {k: os.fspath(v) for k, v in sorted(companions.items())},
            },
            progress=not quiet and not as_json,
            executor=executor,
        )
    _print_build_report(report, as_json)


def _cluster_executor(
    stack: contextlib.ExitStack, scheduler: str | None, jobs: int
) -> tuple[Any, int]:
    """The Dask executor of ``--scheduler`` (closed with ``stack``) and the jobs to keep
    its workers busy; ``(None, jobs)`` without a scheduler."""
    if scheduler is None:
        return None, jobs
    from magical_prune.cluster import dask_pool
    from magical_prune.refflow.provenance import worker_environment

    pool = stack.enter_context(dask_pool(scheduler, jobs, worker_environment))
    return pool.executor, max(jobs, pool.workers)


def _print_build_report(report: BuildReport, as_json: bool) -> None:
    """The build's report: one JSON object, or a line plus the layouts left out (stderr)."""
    if as_json:
        echo_json(
            {
                "output": str(report.path),
                "layouts": report.n_layouts,
                "written": report.n_written,
                "metrics": report.metric_names,
                "content_hash": report.content_hash,
                "failed": [{"id": f.layout_id, "reason": f.reason} for f in report.failed],
            }
        )
        return
    click.echo(
        f"{report.path}: {report.n_written} of {report.n_layouts} layouts, "
        f"metrics {', '.join(report.metric_names)}"
    )
    if report.failed:
        click.echo(f"left out {len(report.failed)} layout(s), never labelled:", err=True)
        for f in report.failed[:20]:
            click.echo(f"  {f.layout_id}: {f.reason}", err=True)
        if len(report.failed) > 20:
            click.echo(
                f"  ... and {len(report.failed) - 20} more (see the file's failed_ids)", err=True
            )


@click.command("import-utanlay")
@click.argument("source", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("-o", "--output", "output", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="Data-set file to write (.h5).")  # fmt: skip
@click.option("--group", default=None,
              help="Group to import (e.g. OTA1_Offset_Voltage_False); needed when the file has several.")  # fmt: skip
@click.option("--scale", default=1 / 255, show_default="1/255", type=float,
              help="Stored intensity = uint8 value x scale.")  # fmt: skip
@click.option("--force", is_flag=True, help="Overwrite an existing output file.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as one JSON object.")
def import_utanlay(
    source: Path, output: Path, group: str | None, scale: float, force: bool, as_json: bool
) -> None:
    """Convert one group of the paper's public UT-AnLay data.hdf5 into a data set.

    The public set has images (N,64,64,6) uint8 and a fixed label per layout but no raw
    metrics, so the labels are stored as they are; training and evaluation use them
    directly (--metric, --worst-percent, --balanced and `fewshot` need raw metrics and are
    refused for such a set).
    """
    from magical_prune.adapters.utanlay import read_utanlay
    from magical_prune.dataset import import_groups

    out = check_output(output, force)
    groups = read_utanlay(source, None if group is None else [group])
    if len(groups) > 1:
        from magical_prune.errors import MagicalPruneError

        raise MagicalPruneError(
            f"the file holds {len(groups)} groups; pick one with --group "
            f"({', '.join(g.name for g in groups)})",
            source,
        )
    g = groups[0]
    command = ["magical-prune", "dataset", "import-utanlay", str(source), "-o", str(output),
               "--group", g.name, "--scale", repr(scale)]  # fmt: skip
    report = import_groups(
        out,
        ids=[f"{g.name}_{i}" for i in range(len(g))],
        images_nhwc=g.images,
        labels=g.labels,
        scale=scale,
        attrs={
            "design": g.design,
            "source": os.fspath(source.resolve()),
            "source_group": g.name,
            "source_metric": g.metric,
            "source_balanced": g.balanced,
            "created_by": shlex.join(command),
        },
    )
    if as_json:
        echo_json({"output": str(report.path), "written": report.n_written,
                   "content_hash": report.content_hash, "group": g.name})  # fmt: skip
        return
    click.echo(
        f"{report.path}: {report.n_written} layouts of {g.design} "
        f"({g.metric}, {'balanced' if g.balanced else 'whole set'}), stored labels"
    )
