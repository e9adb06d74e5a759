"""Generate a labelled design space: place a design over many net weightings, simulate each.

``generate("ota3", "out", n=200)`` writes ``out/ota3/ota3_<k>/{place.result, place.pin,
place.connection, weight.txt, performance.txt}`` for candidates ``k = 0..n-1`` plus the
design-level files (netlist, ``.json``, ``.sym``, ``.symnet``, ``.channel``, bench) in
``out/ota3/``: the files the adapters read, so generated and real MAGICAL data take the same
path downstream. ``out/ota3/refflow.json`` records the settings the placements and labels
came from (:mod:`.provenance`, written by :mod:`.designfolder`), among them the random-mismatch scale (default 0: nominal
labels, decided by the placement, as the paper's).

Determinism and resuming:

- the candidates and their placement are the design space's (:mod:`.designspace`):
  candidate ``k`` gets the subset ``netweights.subsets([k], ...)`` of the critical nets, and
  candidates are placed in fixed chunks (``batch_size`` consecutive indices, one batched
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

import os
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

from tqdm import tqdm

from magical_prune.adapters import magical
from magical_prune.cluster import require_dask
from magical_prune.errors import MagicalPruneError
from magical_prune.refflow import _runners, netweights, spice
from magical_prune.refflow._tasks import _context
from magical_prune.refflow.benchcheck import bench_help
from magical_prune.refflow.designfolder import prepare_folder
from magical_prune.refflow.designs import Design, list_designs, load_design
from magical_prune.refflow.designspace import DesignSpace
from magical_prune.refflow.genoptions import GenerateOptions
from magical_prune.refflow.layoutdir import LAYOUT_FILES, STAGING, check_unfinished
from magical_prune.refflow.problem import LegalLayout
from magical_prune.refflow.simulate import Evaluator

__all__ = [
    "GenerateOptions",
    "GenerateSummary",
    "generate",
    "read_mask",
    "LAYOUT_FILES",
]


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
def _finished(out_dir: Path, name: str, simulate: bool, listing: set[str]) -> bool:
    if name not in listing:
        return False
    return not simulate or (out_dir / name / "performance.txt").is_file()


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
    options = options or GenerateOptions()
    started = time.perf_counter()
    if scheduler is not None:
        require_dask()  # before any work
    loaded = load_design(design)
    design_ref = _design_ref(design)
    out_dir = Path(out) / loaded.name
    space = _context(design_ref, str(out_dir), options).space
    summary = GenerateSummary(loaded.name, out_dir, space.total, space.critical)
    if options.simulate:
        _check_simulator()
        _check_bench(loaded)
    listing = prepare_folder(loaded, out_dir, options)
    chunks = _plan(space, out_dir, listing, summary)
    if not force:
        redo = (space.layout_name(k) for _, _, todo in chunks for k in todo)
        check_unfinished(out_dir, (n for n in redo if n in listing))
    with _Progress(summary, space, progress, report) as tracker:
        run = _runners.Run(design_ref, out_dir, options, force, tracker.placed, tracker.record)
        _dispatch(run, chunks, scheduler, loaded)
    staging = out_dir / STAGING
    if staging.is_dir() and not any(staging.iterdir()):
        staging.rmdir()
    summary.seconds = time.perf_counter() - started
    return summary


def _design_ref(design: str | os.PathLike[str]) -> str:
    """How worker processes load the design: a bundled name as is, else a resolved path."""
    ref = os.fspath(design)
    if not isinstance(design, str) or ref not in list_designs():
        ref = str(Path(ref).resolve())
    return ref


def _plan(
    space: DesignSpace, out_dir: Path, listing: set[str], summary: GenerateSummary
) -> list[_runners.Chunk]:
    """The chunks with layouts still to do (whole chunks are placed, only these kept);
    counts the finished ones in ``summary.already_done``."""
    simulate = space.options.simulate
    todo_by_chunk: list[_runners.Chunk] = []
    for start, stop in space.chunks():
        todo = [
            k
            for k in range(start, stop)
            if not _finished(out_dir, space.layout_name(k), simulate, listing)
        ]
        summary.already_done += (stop - start) - len(todo)
        if todo:
            todo_by_chunk.append((start, stop, todo))
    return todo_by_chunk


def _dispatch(
    run: _runners.Run, chunks: list[_runners.Chunk], scheduler: str | None, design: Design
) -> None:
    """Run the tasks on a Dask cluster, in this process, or on a local pool."""
    if scheduler is not None:
        _runners.run_cluster(run, chunks, scheduler, design)
    elif run.options.jobs == 1:
        _runners.run_serial(run, chunks)
    else:
        _runners.run_pool(run, chunks)


class _Progress:
    """The progress bar and the summary's counts, updated as results come back; failures
    are reported one line each (``report``, else above the bar)."""

    def __init__(
        self,
        summary: GenerateSummary,
        space: DesignSpace,
        show: bool,
        report: Callable[[str], None] | None,
    ) -> None:
        self.summary = summary
        self.name = space.layout_name
        self.bar = tqdm(
            total=summary.candidates,
            initial=summary.already_done,
            desc=f"{summary.design}",
            unit="layout",
            disable=not show,
            dynamic_ncols=True,
        )
        if report is None:
            report = self.bar.write if show else (lambda message: None)
        self.say = report

    def __enter__(self) -> _Progress:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.bar.close()

    def record(self, done: list[tuple[int, bool, str | None]]) -> None:
        """Count committed layouts ``(k, simulated, failure)``."""
        for k, simulated, failure in done:
            self.summary.placed += 1
            self.summary.simulated += int(simulated)
            if failure:
                self.summary.failed[self.name(k)] = failure
                self.say(f"{self.name(k)}: {failure}")
        self.bar.update(len(done))

    def placed(self, results: list[tuple[int, LegalLayout | str]]) -> list[tuple[int, LegalLayout]]:
        """Report the failed placements of a chunk; return the good ones."""
        good = []
        for k, value in results:
            if isinstance(value, str):
                self.summary.failed[self.name(k)] = value
                self.say(f"{self.name(k)}: {value}")
                self.bar.update(1)
            else:
                good.append((k, value))
        return good


def _check_simulator() -> None:
    """Fail before any work when the evaluator cannot run (ngspice missing)."""
    spice.find_ngspice()


def _check_bench(design: Design) -> None:
    """Fail before any placement when the design's bench cannot label it: a port left
    floating, or no sound operating point without layout effects (e.g. wrong bias)."""
    try:
        Evaluator(design.circuit, design.bench).check_design()
    except MagicalPruneError as err:
        fix = bench_help(design.name, design.bench, derived=design.bench_path is None)
        raise MagicalPruneError(
            f"{err.message}; {fix}", design.bench_path or design.netlist
        ) from None


def read_mask(folder: str | os.PathLike[str], critical: Sequence[str], high: float = 10.0) -> int:
    """The critical-net subset a generated layout was placed with (from its ``weight.txt``)."""
    return netweights.mask_of(magical.read_weights(Path(folder) / "weight.txt"), critical, high)
