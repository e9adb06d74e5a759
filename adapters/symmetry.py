"""MAGICAL's ``.sym`` and ``.symnet``: symmetric device groups and symmetric nets.

Blank-line separated groups of ``A B`` pairs and single self-symmetric names, read into a
:class:`~magical_prune.circuit.Symmetry` (the ``.symnet`` part merges into the device part
with ``dataclasses.replace``).
"""

from __future__ import annotations

import os
from collections.abc import Sequence

from magical_prune.adapters._text import check_name, read_text, write_lines
from magical_prune.circuit import Symmetry
from magical_prune.errors import MagicalPruneError, ParseError

__all__ = ["parse_sym", "read_sym", "write_sym", "parse_symnet", "read_symnet", "write_symnet"]

PathLike = str | os.PathLike[str]


def _parse_groups(text: str, path: PathLike, what: str) -> list[list[tuple[str, ...]]]:
    """Blank-line separated groups of ``A B`` pairs and single self-symmetric names."""
    groups: list[list[tuple[str, ...]]] = [[]]
    seen: dict[str, int] = {}
    for lineno, line in enumerate(text.splitlines(), 1):
        fields = line.split()
        if not fields:
            if groups[-1]:
                groups.append([])
            continue
        if len(fields) > 2:
            raise ParseError(
                f"expected a {what} pair 'A B' or one self-symmetric {what}, "
                f"got {len(fields)} fields",
                path, lineno,
            )  # fmt: skip
        if len(fields) == 2 and fields[0] == fields[1]:
            raise ParseError(f"{what} {fields[0]!r} is paired with itself", path, lineno)
        for name in fields:
            if name in seen:
                raise ParseError(
                    f"{what} {name!r} appears twice (also line {seen[name]})", path, lineno
                )
            seen[name] = lineno
        groups[-1].append(tuple(fields))
    return [g for g in groups if g]


def parse_sym(text: str, path: PathLike = "<string>") -> Symmetry:
    """A ``.sym`` file -> :class:`Symmetry` with device ``pairs``, ``self_symmetric`` and
    ``groups`` (the file's blank-line separated groups)."""
    groups = _parse_groups(text, path, "device")
    members = [m for g in groups for m in g]
    return Symmetry(
        pairs=tuple((m[0], m[1]) for m in members if len(m) == 2),
        self_symmetric=tuple(m[0] for m in members if len(m) == 1),
        groups=tuple(tuple(g) for g in groups),
    )


def read_sym(path: PathLike) -> Symmetry:
    """Read a ``.sym`` file of symmetric device groups."""
    return parse_sym(read_text(path), path)


def parse_symnet(text: str, path: PathLike = "<string>") -> Symmetry:
    """A ``.symnet`` file -> :class:`Symmetry` with only ``net_pairs`` and
    ``self_symmetric_nets`` set (merge it into a device symmetry with ``dataclasses.replace``)."""
    members = [m for g in _parse_groups(text, path, "net") for m in g]
    return Symmetry(
        net_pairs=tuple((m[0], m[1]) for m in members if len(m) == 2),
        self_symmetric_nets=tuple(m[0] for m in members if len(m) == 1),
    )


def read_symnet(path: PathLike) -> Symmetry:
    """Read a ``.symnet`` file of symmetric nets."""
    return parse_symnet(read_text(path), path)


def write_sym(path: PathLike, symmetry: Symmetry | Sequence[Sequence[Sequence[str] | str]]) -> None:
    """Write device symmetry groups as a ``.sym`` file.

    Args:
        symmetry: a :class:`Symmetry` (its ``groups``, or one group of its pairs and
            self-symmetric devices) or a list of groups, each a list of pairs / names.
    """
    if isinstance(symmetry, Symmetry):
        groups: Sequence[Sequence[Sequence[str] | str]] = symmetry.groups or (
            [*symmetry.pairs, *((s,) for s in symmetry.self_symmetric)],
        )
    else:
        groups = symmetry
    write_lines(path, _group_lines(groups))


def write_symnet(path: PathLike, symmetry: Symmetry) -> None:
    """Write a :class:`Symmetry`'s net pairs and self-symmetric nets as a ``.symnet`` file."""
    members = [*symmetry.net_pairs, *((s,) for s in symmetry.self_symmetric_nets)]
    write_lines(path, _group_lines([members] if members else []))


def _group_lines(groups: Sequence[Sequence[Sequence[str] | str]]) -> list[str]:
    lines: list[str] = []
    for group in groups:
        if not group:
            continue
        if lines:
            lines.append("")
        for member in group:
            names = (member,) if isinstance(member, str) else tuple(member)
            if len(names) not in (1, 2):
                raise MagicalPruneError(f"a symmetry member is one name or a pair, got {names}")
            for name in names:
                check_name(name)
            lines.append(" ".join(names))
    return lines
