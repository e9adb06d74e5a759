"""Generate a labelled design space: place a design over many net weightings, simulate each.

``generate("ota3", "out", n=200)`` writes ``out/ota3/ota3_<k>/{place.result, place.pin,
place.connection, weight.txt, performance.txt}`` for candidates ``k = 0..n-1`` plus the
design-level files (netlist, ``.json``, ``.sym``, ``.symnet``, ``.channel``, bench) in
``out/ota3/``: the files the adapters read, so generated and real MAGICAL data take the same
path downstream. ``out/ota3/refflow.json`` records the settings the placements and labels
came from (:mod:`.provenance`), among them the random-mismatch scale (default 0: nominal
labels, decided by the placement, as the paper's).

Determinism and resuming:

- candidate ``k`` gets the subset ``netweights.subsets([k], ...)`` of the critical nets;
- candidates are placed in fixed chunks (``batch_size`` consecutive indices, one batched
  solve each), so a layout's bits do not depend on ``jobs``, on ``n`` or on what an earlier
  run already finished;
- each layout folder is written under ``out/<design>/.partial/`` and renamed into place
  when complete, so a folder that exists is whole. A layout is finished when its folder
  holds ``performance.txt`` (or, with ``simulate=False``, when the folder exists); a rerun
  skips finished layouts and redoes the rest, including layouts whose simulation failed.
- on a Dask cluster (``scheduler``) the workers send the layout files back and this
  process commits them the same way, so the same seed gives the same bytes;
- redoing an unfinished layout replaces only what generate wrote itself: a folder holding
  any other file (``notes.txt``) is refused before any work, and one whose layout files
  differ from the new ones (edited by hand) is kept and reported, unless ``force``.
"""

from __future__ import annotations

import filecmp
import os
import shutil
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from magical_prune.errors import MagicalPruneError
from magical_prune.refflow import _runners, netweights
from magical_prune.refflow._tasks import _context
from magical_prune.refflow.genoptions import GenerateOptions
from magical_prune.refflow.layoutdir import LAYOUT_FILES, STAGING, check_unfinished
from magical_prune.refflow.placer import LegalLayout


@dataclass
class GenerateSummary:
    """What a run did.

    Attributes:
        design: design name; ``folder`` the design folder under the output.
        candidates: candidates of the run (``n`` or ``2**k``); ``critical_nets`` their nets.
        already_done: layouts finished by an earlier run (skipped).
        placed: layouts placed and written by this run.
        simulated: layouts labelled by this run.
        failed: ``layout name -> reason`` for placements or simulations that failed (a
            failed simulation leaves its folder without ``performance.txt``).
        seconds: wall time.
    """

    design: str
    folder: Path
    candidates: int
    critical_nets: tuple[str, ...]
    already_done: int = 0
    placed: int = 0
    simulated: int = 0
    failed: dict[str, str] = field(default_factory=dict)
    seconds: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["folder"] = str(self.folder)
        out["critical_nets"] = list(self.critical_nets)
        return out


# -- orchestration --------------------------------------------------------------------------
def _copy_design_files(design: Any, out_dir: Path) -> None:
    """Copy the design-level files beside the layouts; refuse to mix designs."""
    for path in design.files.values():
        target = out_dir / Path(path).name
        if target.exists():
            if not filecmp.cmp(path, target, shallow=False):
                raise MagicalPruneError(
                    f"{target} differs from the design's {Path(path).name}: this output folder "
                    "holds another version of the design (use a new output folder)"
                )
            continue
        tmp = out_dir / STAGING / (target.name + f".{os.getpid()}")
        tmp.parent.mkdir(exist_ok=True)
        shutil.copyfile(path, tmp)
        os.replace(tmp, target)


def _write_derived_symmetry(design: Any, out_dir: Path) -> None:
    """``<stem>.sym``/``.symnet`` of a design whose symmetry was derived, beside its layouts
    (an existing different file means another design version: refused as above)."""
    from magical_prune.adapters import magical

    sym = design.circuit.symmetry
    stem = Path(design.netlist).stem
    staging = out_dir / STAGING
    staging.mkdir(exist_ok=True)
    for suffix, write in ((".sym", magical.write_sym), (".symnet", magical.write_symnet)):
        tmp = staging / f"{stem}{suffix}.{os.getpid()}"
        write(tmp, sym)
        target = out_dir / f"{stem}{suffix}"
        if target.exists() and not filecmp.cmp(tmp, target, shallow=False):
            tmp.unlink()
            raise MagicalPruneError(
                f"{target} differs from the symmetry derived for {stem}: this output folder "
                "holds another version of the design (use a new output folder)"
            )
        os.replace(tmp, target)


def _record_provenance(
    out_dir: Path, name: str, options: GenerateOptions, listing: set[str]
) -> None:
    """Write (or check against) ``refflow.json``: the settings this folder's layouts and
    labels come from. Refuses settings that differ from the recorded ones, and a folder
    with labels but no record (made by an older version: its labels' settings are unknown)."""
    from magical_prune.refflow import provenance

    recorded = provenance.read_provenance(out_dir)
    evaluator = simulator = None
    if options.simulate:
        from magical_prune.refflow.evaluator import label_settings
        from magical_prune.refflow.spice import ngspice_version

        evaluator, simulator = label_settings(), ngspice_version()
    current = provenance.generation_record(name, options, evaluator, simulator)
    path = out_dir / provenance.PROVENANCE_FILE
    if recorded is None:
        prefix = f"{name}_"
        if any(
            n.startswith(prefix) and (out_dir / n / "performance.txt").is_file() for n in listing
        ):
            raise MagicalPruneError(
                f"{out_dir} holds labelled layouts but no {provenance.PROVENANCE_FILE}: "
                "their settings (mismatch scale, evaluator) are unknown, so new labels "
                "cannot be added to them; use a new output folder"
            )
    merged = provenance.merge_records(recorded, current, path)
    if merged != recorded:
        provenance.write_provenance(out_dir, merged, out_dir / STAGING)


def _finished(out_dir: Path, name: str, simulate: bool, listing: set[str]) -> bool:
    if name not in listing:
        return False
    return not simulate or (out_dir / name / "performance.txt").is_file()


def _clear_staging(out_dir: Path) -> None:
    """Remove what an interrupted run left half-written (nothing in it is finished)."""
    staging = out_dir / STAGING
    if staging.is_dir():
        shutil.rmtree(staging)


def generate(
    design: str | os.PathLike[str],
    out: str | os.PathLike[str],
    options: GenerateOptions | None = None,
    *,
    progress: bool = True,
    report: Callable[[str], None] | None = None,
    force: bool = False,
    scheduler: str | None = None,
) -> GenerateSummary:
    """Place (and label) candidates of a design's net-weight space into ``out/<design>/``.

    Args:
        design: a bundled design name (``ota1``..``ota4``), a folder with a netlist or a
            netlist (``.sym`` and ``.bench.json`` optional: derived when absent).
        out: output root; the design's folder is created under it.
        options: run settings (:class:`GenerateOptions`).
        progress: show a tqdm progress bar.
        report: called with a one-line message for each failed layout (default: printed
            above the progress bar).
        force: replace unfinished layout folders even when they hold files generate did
            not write, or layout files that differ from the new ones.
        scheduler: run the tasks on this Dask scheduler (``local``: a LocalCluster of
            ``options.jobs`` workers) instead of a local process pool; same files. Only
            this process writes ``out`` (:mod:`magical_prune.cluster`).

    Returns:
        A :class:`GenerateSummary`. Failed layouts are reported and counted; the run goes on.

    Raises:
        MagicalPruneError: unknown design, bad options, ngspice missing, a bench that
            cannot label the design (a floating port; a broken operating point without
            layout effects), an unfinished layout folder holding a user's file (without
            ``force``).
    """
    from tqdm import tqdm

    from magical_prune.refflow.designs import load_design

    options = options or GenerateOptions()
    started = time.perf_counter()
    if scheduler is not None:
        from magical_prune.cluster import require_dask

        require_dask()  # before any work
    design_ref = os.fspath(design)
    loaded = load_design(design)
    out_dir = Path(out) / loaded.name
    if not isinstance(design, str) or design_ref not in _bundled():
        design_ref = str(Path(design_ref).resolve())
    ctx = _context(design_ref, str(out_dir), options)
    total = netweights.count_for(options.n, len(ctx.critical))
    summary = GenerateSummary(loaded.name, out_dir, total, ctx.critical)
    if options.simulate:
        _check_simulator()
        _check_bench(loaded)

    out_dir.mkdir(parents=True, exist_ok=True)
    _clear_staging(out_dir)
    _copy_design_files(loaded, out_dir)
    if loaded.derived_symmetry:  # the layouts are mirrored by it: readers need it beside them
        _write_derived_symmetry(loaded, out_dir)
    listing = {entry.name for entry in os.scandir(out_dir) if entry.is_dir()}
    _record_provenance(out_dir, loaded.name, options, listing)
    todo_by_chunk: list[tuple[int, int, list[int]]] = []
    for start in range(0, total, options.batch_size):
        stop = min(start + options.batch_size, total)
        todo = [
            k
            for k in range(start, stop)
            if not _finished(out_dir, ctx.layout_name(k), options.simulate, listing)
        ]
        summary.already_done += (stop - start) - len(todo)
        if todo:
            todo_by_chunk.append((start, stop, todo))
    if not force:
        redo = (ctx.layout_name(k) for _, _, todo in todo_by_chunk for k in todo)
        check_unfinished(out_dir, (n for n in redo if n in listing))

    say = report
    bar = tqdm(
        total=total,
        initial=summary.already_done,
        desc=f"{loaded.name}",
        unit="layout",
        disable=not progress,
        dynamic_ncols=True,
    )
    if say is None:
        say = bar.write if progress else (lambda message: None)

    def record(done: list[tuple[int, bool, str | None]]) -> None:
        for k, simulated, failure in done:
            summary.placed += 1
            summary.simulated += int(simulated)
            if failure:
                summary.failed[ctx.layout_name(k)] = failure
                say(f"{ctx.layout_name(k)}: {failure}")
        bar.update(len(done))

    def placed(results: list[tuple[int, LegalLayout | str]]) -> list[tuple[int, LegalLayout]]:
        good = []
        for k, value in results:
            if isinstance(value, str):
                summary.failed[ctx.layout_name(k)] = value
                say(f"{ctx.layout_name(k)}: {value}")
                bar.update(1)
            else:
                good.append((k, value))
        return good

    run = _runners.Run(design_ref, out_dir, options, force, placed, record)
    try:
        if scheduler is not None:
            _runners.run_cluster(run, todo_by_chunk, scheduler, ctx.design)
        elif options.jobs == 1:
            _runners.run_serial(run, todo_by_chunk)
        else:
            _runners.run_pool(run, todo_by_chunk)
    finally:
        bar.close()
    staging = out_dir / STAGING
    if staging.is_dir() and not any(staging.iterdir()):
        staging.rmdir()
    summary.seconds = time.perf_counter() - started
    return summary


def _bundled() -> list[str]:
    from magical_prune.refflow.designs import list_designs

    return list_designs()


def _check_simulator() -> None:
    """Fail before any work when the evaluator cannot run (ngspice missing)."""
    from magical_prune.refflow.spice import find_ngspice

    find_ngspice()


def _check_bench(design: Any) -> None:
    """Fail before any placement when the design's bench cannot label it: a port left
    floating, or no sound operating point without layout effects (e.g. wrong bias)."""
    from magical_prune.refflow.benchcheck import bench_help
    from magical_prune.refflow.evaluator import Evaluator

    try:
        Evaluator(design.circuit, design.bench).check_design()
    except MagicalPruneError as err:
        fix = bench_help(design.name, design.bench, derived=design.bench_path is None)
        raise MagicalPruneError(
            f"{err.message}; {fix}", design.bench_path or design.netlist
        ) from None


def read_mask(folder: str | os.PathLike[str], critical: Sequence[str], high: float = 10.0) -> int:
    """The critical-net subset a generated layout was placed with (from its ``weight.txt``)."""
    from magical_prune.adapters import magical

    return netweights.mask_of(magical.read_weights(Path(folder) / "weight.txt"), critical, high)


__all__ = [
    "GenerateOptions",
    "GenerateSummary",
    "generate",
    "read_mask",
    "LAYOUT_FILES",
]
