"""The design-level part of a ``refflow generate`` output folder ``OUT/<design>/``.

Before any layout is written: the design's files (netlist, ``.json``, ``.sym``,
``.symnet``, ``.channel``, bench) are copied beside the layouts, a derived symmetry is
written as ``.sym``/``.symnet``, and ``refflow.json`` records the settings (:mod:`.provenance`),
so the folder reads like MAGICAL's output and a resumed run cannot mix designs or settings.
"""

from __future__ import annotations

import filecmp
import os
import shutil
from pathlib import Path

from magical_prune.adapters import magical
from magical_prune.errors import MagicalPruneError
from magical_prune.refflow import provenance, spice
from magical_prune.refflow.designs import Design
from magical_prune.refflow.effects import label_settings
from magical_prune.refflow.genoptions import GenerateOptions
from magical_prune.refflow.layoutdir import STAGING

__all__ = ["prepare_folder"]


def prepare_folder(design: Design, out_dir: Path, options: GenerateOptions) -> set[str]:
    """Create the design folder (design files, provenance) and list its sub-folders."""
    out_dir.mkdir(parents=True, exist_ok=True)
    _clear_staging(out_dir)
    _copy_design_files(design, out_dir)
    if design.derived_symmetry:  # the layouts are mirrored by it: readers need it beside them
        _write_derived_symmetry(design, out_dir)
    listing = {entry.name for entry in os.scandir(out_dir) if entry.is_dir()}
    _record_provenance(out_dir, design.name, options, listing)
    return listing


def _copy_design_files(design: Design, out_dir: Path) -> None:
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


def _write_derived_symmetry(design: Design, out_dir: Path) -> None:
    """``<stem>.sym``/``.symnet`` of a design whose symmetry was derived, beside its layouts
    (an existing different file means another design version: refused as above)."""
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
    recorded = provenance.read_provenance(out_dir)
    evaluator = simulator = None
    if options.simulate:
        evaluator, simulator = label_settings(), spice.ngspice_version()
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


def _clear_staging(out_dir: Path) -> None:
    """Remove what an interrupted run left half-written (nothing in it is finished)."""
    staging = out_dir / STAGING
    if staging.is_dir():
        shutil.rmtree(staging)
