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
- redoing an unfinished layout replaces only what generate wrote itself: a folder holding
  any other file (``notes.txt``) is refused before any work, and one whose layout files
  differ from the new ones (edited by hand) is kept and reported, unless ``force``.
"""

from __future__ import annotations

import concurrent.futures as cf
import filecmp
import math
import os
import shutil
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from magical_prune.errors import MagicalPruneError, SimulationError
from magical_prune.refflow import netweights
from magical_prune.refflow.legalize import legalize
from magical_prune.refflow.placer import LegalLayout, PlacementProblem, PlacerConfig, global_place

#: Staging folder (inside ``out/<design>/``) where layout folders are assembled.
STAGING = ".partial"
#: Layout files in the order they are written.
LAYOUT_FILES = ("place.result", "place.pin", "place.connection", "weight.txt", "performance.txt")


@dataclass(frozen=True)
class GenerateOptions:
    """Settings of one generation run (see :func:`generate`).

    Attributes:
        n: number of candidates; None for the full enumeration (``2**k``).
        seed: seed of the subset order and of the placer's initial placement.
        jobs: worker processes for placement and simulation.
        simulate: run the ngspice evaluator and write ``performance.txt``.
        mismatch: scale of random Pelgrom mismatch in the labels. 0 (default): nominal
            post-layout simulation, as the paper's labels (PEX + Spectre, no Monte Carlo),
            so the label is what the placement decides; 1: the published A_VT, a realistic
            die, whose random offset (~1 mV) is 30-100x the placement-dependent one (tens of
            µV), so labels then hardly depend on the placement. Recorded in
            ``refflow.json``.
        weight: the raised weight of a critical net (others weigh 1).
        batch_size: candidates per batched placement solve; part of the result's identity
            (same seed and batch size -> same bits), so keep the default to resume a run.
        placer: global placement and legalisation settings (its seed is replaced by ``seed``).
    """

    n: int | None = None
    seed: int = 0
    jobs: int = 1
    simulate: bool = True
    mismatch: float = 0.0
    weight: float = 10.0
    batch_size: int = 64
    placer: PlacerConfig = field(default_factory=PlacerConfig)

    def __post_init__(self) -> None:
        if self.jobs < 1:
            raise MagicalPruneError(f"--jobs must be at least 1, got {self.jobs}")
        if self.batch_size < 1:
            raise MagicalPruneError(f"batch size must be at least 1, got {self.batch_size}")
        if not math.isfinite(self.weight) or self.weight <= 0:
            raise MagicalPruneError(f"--weight must be positive, got {self.weight}")
        if not math.isfinite(self.mismatch) or self.mismatch < 0:
            raise MagicalPruneError(f"--mismatch must be >= 0, got {self.mismatch}")
        if self.placer.seed != self.seed:
            object.__setattr__(self, "placer", replace(self.placer, seed=self.seed))


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


# -- per-process context --------------------------------------------------------------------
@dataclass
class _Context:
    design: Any  # magical_prune.refflow.designs.Design
    problem: PlacementProblem
    critical: tuple[str, ...]
    options: GenerateOptions
    out_dir: Path

    def weights(self, indices: Iterable[int]) -> list[dict[str, float]]:
        masks = netweights.subsets(list(indices), len(self.critical), self.options.seed)
        nets = self.problem.circuit.nets
        return [
            netweights.weights_for(int(m), self.critical, nets, high=self.options.weight)
            for m in masks
        ]

    def layout_name(self, k: int) -> str:
        return f"{self.design.name}_{k}"


_CONTEXTS: dict[tuple[str, str, GenerateOptions], _Context] = {}


def _context(design_ref: str, out_dir: str, options: GenerateOptions) -> _Context:
    """Load the design and compile the placement problem once per process."""
    key = (design_ref, out_dir, options)
    ctx = _CONTEXTS.get(key)
    if ctx is None:
        from magical_prune.refflow.designs import load_design

        design = load_design(design_ref)
        problem = PlacementProblem.from_circuit(design.circuit, config=options.placer)
        critical = netweights.critical_nets(
            design.circuit, given=design.critical_nets or None, placed=problem.nets
        )
        ctx = _Context(design, problem, critical, options, Path(out_dir))
        _CONTEXTS.clear()
        _CONTEXTS[key] = ctx
    return ctx


# -- the two kinds of work ------------------------------------------------------------------
def _place_chunk(
    design_ref: str,
    out_dir: str,
    options: GenerateOptions,
    start: int,
    stop: int,
    todo: Sequence[int],
) -> list[tuple[int, LegalLayout | str]]:
    """Globally place candidates ``start..stop-1`` in one batch (always the whole chunk, so
    the bits do not depend on what is left to do) and legalise those in ``todo``.
    A candidate whose legalisation fails comes back with the reason instead of a layout."""
    ctx = _context(design_ref, out_dir, options)
    weights = ctx.problem.weight_matrix(ctx.weights(range(start, stop)))
    centres = global_place(ctx.problem, weights, options.placer)
    out: list[tuple[int, LegalLayout | str]] = []
    for k in todo:
        b = k - start
        try:
            out.append((k, legalize(ctx.problem, centres[b], weights[b], options.placer)))
        except MagicalPruneError as err:
            out.append((k, f"placement failed: {err.message}"))
    return out


def _finish(
    design_ref: str,
    out_dir: str,
    options: GenerateOptions,
    items: Sequence[tuple[int, LegalLayout]],
    force: bool = False,
) -> list[tuple[int, bool, str | None]]:
    """Write, (simulate,) and commit layout folders. Returns ``(k, simulated, failure)``."""
    from magical_prune.adapters import magical

    ctx = _context(design_ref, out_dir, options)
    problem = ctx.problem
    circuit = problem.circuit
    tables = ctx.weights(k for k, _ in items)
    placements = [
        problem.to_placement(layout, weights=table) for (_, layout), table in zip(items, tables)
    ]
    staging_root = ctx.out_dir / STAGING
    staging_root.mkdir(exist_ok=True)
    pins = {
        (name, pin): list(shapes)
        for name in problem.names
        for pin, shapes in problem.footprints[name].shapes.items()
    }
    connections = {net.name: list(net.pins) for net in circuit.nets.values()}
    folders = []
    for (k, layout), table in zip(items, tables):
        folder = staging_root / f"{ctx.layout_name(k)}.{os.getpid()}"
        if folder.exists():
            shutil.rmtree(folder)
        folder.mkdir()
        magical.write_place_result(folder / "place.result", problem.names, layout.rects)
        magical.write_place_pin(folder / "place.pin", pins)
        magical.write_connection(folder / "place.connection", connections)
        magical.write_weights(folder / "weight.txt", table)
        folders.append(folder)

    results: list[dict[str, float] | None] = [None] * len(items)
    reasons: dict[int, str] = {}
    if options.simulate:
        from magical_prune.refflow.evaluator import METRICS, evaluate

        # The layout folder's name seeds the mismatch draw, as when `refflow evaluate`
        # re-simulates the folder later: both give the same label.
        ids = [ctx.layout_name(k) for k, _ in items]
        results = _simulate(evaluate, placements, ctx.design, options.mismatch, ids, reasons)
    out = []
    for i, ((k, _), folder, result) in enumerate(zip(items, folders, results)):
        failure = None
        if result is not None:
            ordered = {m: result[m] for m in METRICS if m in result}
            ordered.update({m: v for m, v in result.items() if m not in ordered})
            magical.write_performance(folder / "performance.txt", ordered)
        elif options.simulate:
            failure = f"simulation failed, no label written ({reasons.get(i, 'no reason given')})"
        final = ctx.out_dir / ctx.layout_name(k)
        if final.exists():  # an unfinished folder of an earlier run
            kept = _replace_unfinished(final, folder, force)
            if kept is not None:
                shutil.rmtree(folder)
                out.append((k, False, kept))
                continue
        os.rename(folder, final)
        out.append((k, result is not None, failure))
    return out


def _foreign_entries(folder: Path) -> list[str]:
    """Entries of a layout folder that generate does not write (a user's files)."""
    return sorted(
        e.name
        for e in os.scandir(folder)
        if e.name not in LAYOUT_FILES or not e.is_file(follow_symlinks=False)
    )


def _replace_unfinished(final: Path, staged: Path, force: bool) -> str | None:
    """Clear an unfinished layout folder for its new version, removing only files generate
    wrote itself (byte-identical to the new ones); returns why it was kept instead."""
    if force:
        shutil.rmtree(final)
        return None
    foreign = _foreign_entries(final)
    if foreign:
        return f"kept {final}: it holds {foreign[0]}, not written by refflow generate (--force)"
    for name in LAYOUT_FILES:
        old, new = final / name, staged / name
        if old.exists() and not (new.is_file() and filecmp.cmp(old, new, shallow=False)):
            return (
                f"kept {final}: its {name} differs from this run's (edited by hand, or made "
                "by another version); use --force to replace it"
            )
    for name in LAYOUT_FILES:
        (final / name).unlink(missing_ok=True)
    try:
        final.rmdir()
    except OSError as err:  # a file appeared meanwhile: keep it
        return f"kept {final}: {err.strerror} (--force)"
    return None


def _check_unfinished(out_dir: Path, names: Iterable[str]) -> None:
    """Refuse, before any work, to redo unfinished layout folders holding a user's files."""
    held = [(n, f) for n in names for f in _foreign_entries(out_dir / n)[:1]]
    if held:
        name, entry = held[0]
        more = f" (and {len(held) - 1} more folders)" if len(held) > 1 else ""
        raise MagicalPruneError(
            f"{out_dir / name} holds {entry}, which refflow generate did not write; that "
            f"unfinished layout would be redone and replaced{more}: move the file away, or "
            "use --force to replace such folders"
        )


def _simulate(
    evaluate: Callable[..., list[dict[str, float] | None]],
    placements: Sequence[Any],
    design: Any,
    mismatch: float,
    ids: list[str],
    reasons: dict[int, str],
) -> list[dict[str, float] | None]:
    """Evaluate a group; if the simulator gives up on the whole group (a hang past its
    timeout), evaluate each layout alone so one bad layout fails alone."""
    try:
        return list(evaluate(placements, design, mismatch, layout_ids=ids, failures=reasons))
    except SimulationError as err:
        if len(placements) == 1:
            reasons[0] = err.message
            return [None]
    results: list[dict[str, float] | None] = []
    for i, placement in enumerate(placements):
        alone: dict[int, str] = {}
        results += _simulate(evaluate, [placement], design, mismatch, [ids[i]], alone)
        if 0 in alone:
            reasons[i] = alone[0]
    return results


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
        _check_unfinished(out_dir, (n for n in redo if n in listing))

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

    args = (design_ref, str(out_dir), options)
    try:
        if options.jobs == 1:
            for start, stop, todo in todo_by_chunk:
                items = placed(_place_chunk(*args, start, stop, todo))
                for group in _groups(items, 8):
                    record(_finish(*args, group, force))
        else:
            _run_parallel(args, todo_by_chunk, options.jobs, placed, record, force)
    finally:
        bar.close()
    staging = out_dir / STAGING
    if staging.is_dir() and not any(staging.iterdir()):
        staging.rmdir()
    summary.seconds = time.perf_counter() - started
    return summary


def _run_parallel(
    args: tuple[str, str, GenerateOptions],
    chunks: list[tuple[int, int, list[int]]],
    jobs: int,
    placed: Callable[[list[tuple[int, LegalLayout | str]]], list[tuple[int, LegalLayout]]],
    record: Callable[[list[tuple[int, bool, str | None]]], None],
    force: bool = False,
) -> None:
    """Placement chunks and write/simulate groups on a process pool. Simulation groups are
    small so that the ngspice work of one chunk spreads over all workers."""
    pending_chunks = list(chunks)
    from magical_prune._workers import die_with_parent

    # Workers die with this process, also when it is killed with SIGKILL (no cleanup).
    pool_args = {"initializer": die_with_parent, "initargs": (os.getpid(),)}
    with cf.ProcessPoolExecutor(max_workers=jobs, **pool_args) as pool:
        running: dict[cf.Future[Any], str] = {}

        def feed() -> None:
            # Keep at most one placement ahead per worker; the rest of the pool simulates.
            placing = sum(1 for kind in running.values() if kind == "place")
            while pending_chunks and placing < jobs:
                start, stop, todo = pending_chunks.pop(0)
                running[pool.submit(_place_chunk, *args, start, stop, todo)] = "place"
                placing += 1

        feed()
        try:
            while running:
                done, _ = cf.wait(running, return_when=cf.FIRST_COMPLETED)
                for future in done:
                    kind = running.pop(future)
                    result = future.result()
                    if kind == "place":
                        items = placed(result)
                        size = max(1, min(8, math.ceil(len(items) / jobs)))
                        for group in _groups(items, size):
                            running[pool.submit(_finish, *args, group, force)] = "finish"
                    else:
                        record(result)
                feed()
        except BaseException:
            for future in running:
                future.cancel()
            raise


def _groups(items: Sequence[Any], size: int) -> list[Sequence[Any]]:
    return [items[i : i + size] for i in range(0, len(items), size)]


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
