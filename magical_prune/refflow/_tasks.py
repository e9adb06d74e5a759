"""The work of ``refflow generate`` that runs in worker processes (a local pool or Dask).

Two kinds of task: place a chunk of candidates (one batched solve), and write (and
simulate) a group of placed layouts. A process keeps the loaded design and compiled
placement problem between tasks (:func:`_context`). On a Dask cluster the design travels
with the task (:class:`Shipped`) and the layout files come back to the client, which alone
writes the output folder (see :mod:`magical_prune.cluster`).
"""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from magical_prune.adapters import magical
from magical_prune.errors import SimulationError
from magical_prune.refflow import evaluator
from magical_prune.refflow.designs import load_design
from magical_prune.refflow.designspace import DesignSpace
from magical_prune.refflow.genoptions import GenerateOptions
from magical_prune.refflow.layoutdir import LAYOUT_FILES, STAGING, move_into_place
from magical_prune.refflow.problem import LegalLayout
from magical_prune.refflow.readout import METRICS


# -- per-process context --------------------------------------------------------------------
@dataclass
class _Context:
    """A process's design space and the folder it writes layouts to."""

    space: DesignSpace
    out_dir: Path


@dataclass(frozen=True)
class Shipped:
    """A design sent with each cluster task (workers need not see the client's files).

    Compared and hashed by ``token`` (name and a digest of the design's files), so a
    worker compiles the placement problem once per design, not once per task.
    """

    token: str
    design: Any = field(compare=False, hash=False, repr=False)


#: a bundled design's name, a design folder's path, or a shipped design
DesignRef = str | Shipped

_CONTEXTS: dict[tuple[DesignRef, str, GenerateOptions], _Context] = {}


def _context(design_ref: DesignRef, out_dir: str, options: GenerateOptions) -> _Context:
    """Load the design and compile the placement problem once per process."""
    key = (design_ref, out_dir, options)
    ctx = _CONTEXTS.get(key)
    if ctx is None:
        if isinstance(design_ref, Shipped):
            design = design_ref.design
        else:
            design = load_design(design_ref)
        ctx = _Context(DesignSpace.of(design, options), Path(out_dir))
        _CONTEXTS.clear()
        _CONTEXTS[key] = ctx
    return ctx


# -- the two kinds of work ------------------------------------------------------------------
def _place_chunk(
    design_ref: DesignRef,
    out_dir: str,
    options: GenerateOptions,
    start: int,
    stop: int,
    todo: Sequence[int],
) -> list[tuple[int, LegalLayout | str]]:
    """:meth:`DesignSpace.place_chunk` in this process's context."""
    return _context(design_ref, out_dir, options).space.place_chunk(start, stop, todo)


def _finish(
    design_ref: DesignRef,
    out_dir: str,
    options: GenerateOptions,
    items: Sequence[tuple[int, LegalLayout]],
    force: bool = False,
) -> list[tuple[int, bool, str | None]]:
    """Write, (simulate,) and commit layout folders. Returns ``(k, simulated, failure)``."""
    ctx = _context(design_ref, out_dir, options)
    space = ctx.space
    problem = space.problem
    circuit = problem.circuit
    tables = space.weights(k for k, _ in items)
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
        folder = staging_root / f"{space.layout_name(k)}.{os.getpid()}"
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
        # The layout folder's name seeds the mismatch draw, as when `refflow evaluate`
        # re-simulates the folder later: both give the same label. (`evaluator.evaluate`
        # is looked up per call: tests replace it.)
        ids = [space.layout_name(k) for k, _ in items]
        results = _simulate(
            evaluator.evaluate, placements, space.design, options.mismatch, ids, reasons
        )
    out = []
    for i, ((k, _), folder, result) in enumerate(zip(items, folders, results)):
        failure = None
        if result is not None:
            ordered = {m: result[m] for m in METRICS if m in result}
            ordered.update({m: v for m, v in result.items() if m not in ordered})
            magical.write_performance(folder / "performance.txt", ordered)
        elif options.simulate:
            failure = f"simulation failed, no label written ({reasons.get(i, 'no reason given')})"
        kept = move_into_place(folder, ctx.out_dir / space.layout_name(k), force)
        out.append((k, False, kept) if kept else (k, result is not None, failure))
    return out


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


# -- on a Dask cluster ----------------------------------------------------------------------
#: One task at a time per process in the scratch folder (workers may run several threads).
_SCRATCH_LOCK = threading.Lock()


def _scratch() -> str:
    """This process's private output folder for cluster tasks: inside the Dask worker's
    own directory, which Dask removes (also after the worker was killed); elsewhere a
    temporary folder removed at exit."""
    try:
        from distributed import get_worker

        path = Path(get_worker().local_directory) / "magical-prune"
    except (ImportError, ValueError):  # not in a Dask worker
        path = Path(tempfile.gettempdir()) / f"magical-prune-worker-{os.getpid()}"
        if not path.is_dir():
            atexit.register(shutil.rmtree, path, True)
    path.mkdir(parents=True, exist_ok=True)
    return str(path)


def place_shipped(
    design: Shipped, options: GenerateOptions, start: int, stop: int, todo: Sequence[int]
) -> list[tuple[int, LegalLayout | str]]:
    """Cluster task: :func:`_place_chunk` of a shipped design."""
    with _SCRATCH_LOCK:
        return _place_chunk(design, _scratch(), options, start, stop, todo)


def finish_shipped(
    design: Shipped, options: GenerateOptions, items: Sequence[tuple[int, LegalLayout]]
) -> list[tuple[int, bool, str | None, dict[str, bytes]]]:
    """Cluster task: write and simulate layouts in the worker's scratch folder and send the
    files back (byte for byte what a local run writes); the client commits them."""
    with _SCRATCH_LOCK:
        scratch = _scratch()
        done = _finish(design, scratch, options, items, force=True)
        ctx = _context(design, scratch, options)
        out = []
        for k, simulated, failure in done:
            folder = ctx.out_dir / ctx.space.layout_name(k)
            files = {n: (folder / n).read_bytes() for n in LAYOUT_FILES if (folder / n).is_file()}
            shutil.rmtree(folder)
            out.append((k, simulated, failure, files))
        return out
