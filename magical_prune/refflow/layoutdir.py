"""Committing generated layout folders: staged, then renamed into place whole.

A layout folder is assembled under ``out/<design>/.partial/`` and renamed to its final
name when complete, so a folder that exists is whole. Redoing an unfinished layout replaces
only what ``refflow generate`` wrote itself.
"""

from __future__ import annotations

import filecmp
import os
import shutil
from collections.abc import Iterable, Mapping
from pathlib import Path

from magical_prune.errors import MagicalPruneError

__all__ = ["LAYOUT_FILES", "STAGING", "check_unfinished", "commit_files", "move_into_place"]

#: Staging folder (inside ``out/<design>/``) where layout folders are assembled.
STAGING = ".partial"
#: Layout files in the order they are written.
LAYOUT_FILES = ("place.result", "place.pin", "place.connection", "weight.txt", "performance.txt")


def foreign_entries(folder: Path) -> list[str]:
    """Entries of a layout folder that generate does not write (a user's files)."""
    return sorted(
        e.name
        for e in os.scandir(folder)
        if e.name not in LAYOUT_FILES or not e.is_file(follow_symlinks=False)
    )


def replace_unfinished(final: Path, staged: Path, force: bool) -> str | None:
    """Clear an unfinished layout folder for its new version, removing only files generate
    wrote itself (byte-identical to the new ones); returns why it was kept instead."""
    if force:
        shutil.rmtree(final)
        return None
    foreign = foreign_entries(final)
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


def check_unfinished(out_dir: Path, names: Iterable[str]) -> None:
    """Refuse, before any work, to redo unfinished layout folders holding a user's files."""
    held = [(n, f) for n in names for f in foreign_entries(out_dir / n)[:1]]
    if held:
        name, entry = held[0]
        more = f" (and {len(held) - 1} more folders)" if len(held) > 1 else ""
        raise MagicalPruneError(
            f"{out_dir / name} holds {entry}, which refflow generate did not write; that "
            f"unfinished layout would be redone and replaced{more}: move the file away, or "
            "use --force to replace such folders"
        )


def move_into_place(staged: Path, final: Path, force: bool) -> str | None:
    """Rename a complete staged folder to its final name; returns why an unfinished
    folder already there was kept instead (the staged one is then removed)."""
    if final.exists():  # an unfinished folder of an earlier run
        kept = replace_unfinished(final, staged, force)
        if kept is not None:
            shutil.rmtree(staged)
            return kept
    os.rename(staged, final)
    return None


def commit_files(out_dir: Path, name: str, files: Mapping[str, bytes], force: bool) -> str | None:
    """Write a layout's files (sent back by a cluster worker) to ``out_dir/name`` through
    the staging folder, as a local run does; returns why the old folder was kept, if so."""
    staged = out_dir / STAGING / f"{name}.{os.getpid()}"
    if staged.exists():
        shutil.rmtree(staged)
    staged.mkdir(parents=True)
    for file in LAYOUT_FILES:
        if file in files:
            (staged / file).write_bytes(files[file])
    return move_into_place(staged, out_dir / name, force)
