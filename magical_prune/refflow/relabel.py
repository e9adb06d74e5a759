"""Re-simulating layout folders (``refflow evaluate``): labels from the files alone.

A layout folder is read back with the MAGICAL adapter, simulated with the bench found
beside it (or the bundled design's, or one derived from the port names) and the mismatch
scale its design folder's ``refflow.json`` recorded, so re-evaluating a generated layout
reproduces its stored label; its ``performance.txt`` is then rewritten (or removed when
the simulation failed: no stale label is left).
"""

from __future__ import annotations

import concurrent.futures as cf
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from magical_prune.adapters import magical
from magical_prune.circuit import Circuit
from magical_prune.placement import Placement
from magical_prune.refflow.bench import default_bench, read_bench
from magical_prune.refflow.designs import DESIGNS, load_design
from magical_prune.refflow.effects import LayoutEffects
from magical_prune.refflow.provenance import recorded_mismatch
from magical_prune.refflow.readout import METRICS
from magical_prune.refflow.remote_eval import evaluate_on
from magical_prune.refflow.simulate import Evaluator

__all__ = ["LayoutResult", "evaluate_layouts"]


@dataclass(frozen=True)
class LayoutResult:
    """Outcome of re-simulating one layout folder.

    Attributes:
        layout: the folder.
        metrics: the metrics written to ``performance.txt``, or None on failure.
        error: why it failed (None when it did not).
        mismatch: the random-mismatch scale it was simulated with.
    """

    layout: Path
    metrics: dict[str, float] | None
    error: str | None = None
    mismatch: float = 0.0


def _bench_for(circuit: Circuit, layout: Path, bench: Path | None) -> Any:
    """The testbench of a layout: given file, ``<circuit>.bench.json`` beside the layout or
    in its parent, the bundled design's, or defaults from the port names."""
    if bench is not None:
        return read_bench(bench)
    folder = layout if layout.is_dir() else layout.parent
    for where in (folder, folder.parent):
        candidate = where / f"{circuit.name}.bench.json"
        if candidate.is_file():
            return read_bench(candidate)
        found = sorted(where.glob("*.bench.json"))
        if len(found) == 1:
            return read_bench(found[0])
    if circuit.name in DESIGNS:
        return load_design(circuit.name).bench
    return default_bench(circuit.ports, Path(circuit.source or folder))


def evaluate_layouts(
    layouts: Sequence[str | os.PathLike[str]],
    mismatch: float | None = None,
    *,
    jobs: int = 1,
    companions: dict[str, Any] | None = None,
    bench: str | os.PathLike[str] | None = None,
    effects: LayoutEffects | None = None,
    progress: Callable[[int], None] | None = None,
    write: bool = True,
    executor: cf.Executor | None = None,
) -> list[LayoutResult]:
    """Re-simulate layout folders and (re)write their ``performance.txt``.

    ``performance.txt`` is the evaluator's own output file, so it is overwritten (atomically)
    for every layout that simulated; a layout that failed keeps no stale label: its
    ``performance.txt`` is removed, and the reason is in the result. Layouts are grouped
    by design and each group is simulated in batches.

    ``mismatch`` None (the default) takes, per layout, the scale recorded in its design
    folder's ``refflow.json`` by ``refflow generate`` (so re-simulating a generated layout
    reproduces its stored label), else 0 (nominal).

    ``executor`` (a Dask cluster's, :mod:`magical_prune.cluster`) runs the ngspice batches
    instead of ``jobs`` local processes; the files are still written here, with the same
    contents.
    """
    groups = _group(layouts, mismatch, jobs, companions, bench, effects)
    results: dict[int, LayoutResult] = {}
    for evaluator, by_scale in groups.values():
        for scale, members in by_scale.items():
            idx = [i for i, _ in members]
            placements = [p for _, p in members]
            if executor is None:
                metrics = evaluator.evaluate(placements, scale, progress=progress)
            else:
                metrics = evaluate_on(executor, evaluator, placements, scale, progress)
            for k, (i, res) in enumerate(zip(idx, metrics)):
                layout = Path(layouts[i])
                if write:
                    _write_label(layout if layout.is_dir() else layout.parent, res)
                results[i] = LayoutResult(layout, res, evaluator.failures.get(k), scale)
    return [results[i] for i in range(len(layouts))]


#: per circuit (and bench file): its evaluator and, per mismatch scale, the placements
_Groups = dict[tuple[int, str], tuple[Evaluator, dict[float, list[tuple[int, Placement]]]]]


def _group(
    layouts: Sequence[str | os.PathLike[str]],
    mismatch: float | None,
    jobs: int,
    companions: dict[str, Any] | None,
    bench: str | os.PathLike[str] | None,
    effects: LayoutEffects | None,
) -> _Groups:
    """Load the layouts and group them by circuit (one evaluator each) and mismatch scale
    (given, else recorded per design folder)."""
    groups: _Groups = {}
    recorded: dict[Path, float] = {}
    for i, path in enumerate(layouts):
        layout = Path(path)
        placement = magical.load_placement(layout, **(companions or {}))
        circuit = placement.circuit
        # a layout circuit (place.connection nets) keeps its netlist's as ``topology``
        topology = getattr(circuit, "topology", None) or circuit
        key = (id(topology), str(bench))
        if key not in groups:
            the_bench = _bench_for(topology, layout, Path(bench) if bench else None)
            groups[key] = (Evaluator(topology, the_bench, effects=effects, jobs=jobs), {})
        scale = mismatch
        if scale is None:
            folder = (layout if layout.is_dir() else layout.parent).resolve()
            if folder.parent not in recorded:
                found = recorded_mismatch(folder)
                recorded[folder.parent] = 0.0 if found is None else found
            scale = recorded[folder.parent]
        groups[key][1].setdefault(float(scale), []).append((i, placement))
    return groups


def _write_label(folder: Path, result: dict[str, float] | None) -> None:
    """Replace ``performance.txt`` atomically, or remove it when the simulation failed."""
    target = folder / "performance.txt"
    if result is not None:
        tmp = folder / f".performance.txt.{os.getpid()}"
        magical.write_performance(tmp, {m: result[m] for m in METRICS if m in result})
        os.replace(tmp, target)
    elif target.exists():
        target.unlink()
